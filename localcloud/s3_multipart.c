/*
 * S3 multipart uploads, the way every S3 client sends a large object:
 * CreateMultipartUpload (POST ?uploads), UploadPart and UploadPartCopy
 * (PUT ?partNumber=N&uploadId=), CompleteMultipartUpload (POST ?uploadId=),
 * AbortMultipartUpload (DELETE ?uploadId=), ListParts (GET ?uploadId=) and
 * ListMultipartUploads (GET /{bucket}?uploads). s3_objects.c hands the
 * object-level requests over without any lock held; s3_buckets.c calls the
 * listing with the world lock held, and drops a deleted bucket's uploads.
 *
 * An upload is one record of the store (s3.h): the attributes the object
 * will get, and its parts. Each part's bytes are a data file of their own,
 * written and fsynced before the record names it, as a PUT's are, so parts
 * survive a restart. Parts go up in parallel: a part takes the world lock
 * only to check that its upload exists and to commit itself into the
 * record; a part number sent again replaces the older part.
 *
 * Nothing shows in the bucket before Complete. Complete takes the object
 * key's lock (like a PUT, so conditional writes stay atomic), checks the
 * listed parts and opens their files under the world lock, concatenates
 * them into a new data file without it, then commits the object as a new
 * version through s3_objects.c and unlinks the parts. What it answered
 * is kept a while (KEEP_COMPLETED_MS) in an internal record: S3 answers a
 * Complete that is sent again with the same parts (a retry after a lost
 * answer) with the same result, and so does this.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3.h"
#include "sigv4.h"
#include "util.h"

#define UPLOADS "uploads"
/* internal (left out of the inventory): what a completed upload answered */
#define COMPLETED "_completed"
#define MAX_PART_NUMBER 10000
/* every part but the last of a completed upload is at least this large */
#define MIN_PART_SIZE ((long long)5 << 20)
#define MAX_LISTED 1000
#define KEEP_COMPLETED_MS (10LL * 60 * 1000)
#define COPY_BUF ((size_t)1 << 20)

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void no_such_upload(struct s3_call *c, const char *id)
{
    const char *extra[] = {"UploadId", id, NULL};
    s3_fail_extra(c, 404, "NoSuchUpload", extra,
                  "The specified upload does not exist. The upload ID may be invalid, or the "
                  "upload may have been aborted or completed.");
}

/* The record of kind (UPLOADS or COMPLETED) with id, when it is one of
 * the request's bucket and key (borrowed; world lock held). */
static json_t *get_record(struct s3_call *c, const char *kind, const char *id)
{
    json_t *u = *id ? lc_store_get(s3_store(c), S3_API, kind, id) : NULL;
    if (!u || strcmp(str(u, "bucket"), c->bucket) != 0 || strcmp(str(u, "key"), c->key) != 0)
        return NULL;
    return u;
}

/* The upload in progress the request names (borrowed; world lock held),
 * its bucket in *bucket when asked for; NULL after answering NoSuchBucket,
 * AccessDenied or NoSuchUpload (also for an upload of another key). */
static json_t *find_upload(struct s3_call *c, const char *id, json_t **bucket)
{
    json_t *b = s3_find_bucket(c, c->bucket);
    if (!b)
        return NULL;
    json_t *u = get_record(c, UPLOADS, id);
    if (!u) {
        no_such_upload(c, id);
        return NULL;
    }
    if (bucket)
        *bucket = b;
    return u;
}

/* Unlinks the files of an upload's parts. */
static void drop_parts(struct s3_ctx *ctx, json_t *u)
{
    const char *n;
    json_t *p;
    json_object_foreach(json_object_get(u, "parts"), n, p)
    {
        s3_blob_drop(ctx, str(p, "blob"));
    }
}

/* Removes the records of kind that gone() picks; world lock held (or
 * start-up). A failed removal is tried again another time. */
static void forget(struct lc_store *st, const char *kind, bool (*gone)(struct lc_store *, json_t *))
{
    json_t *ids = json_array();
    const char *id;
    json_t *u;
    json_object_foreach(lc_store_kind(st, S3_API, kind), id, u)
    {
        if (gone(st, u))
            json_array_append_new(ids, json_string(id));
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        lc_store_del(st, S3_API, kind, json_string_value(v));
    }
    json_decref(ids);
}

static bool expired(struct lc_store *st, json_t *done)
{
    return lc_now_ms() - num(done, "completed_ms") > KEEP_COMPLETED_MS;
}

static bool orphaned(struct lc_store *st, json_t *u)
{
    return !lc_store_get(st, S3_API, "buckets", str(u, "bucket"));
}

/* A non-negative whole number from the query (def when absent), at most
 * cap; 0, or -1 after answering 400 InvalidArgument. */
static int int_query(struct s3_call *c, const char *name, long def, long cap, long *out)
{
    const char *v = lc_req_query(c->req, name);
    *out = def;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *v < '0' || *v > '9' || *end) {
        const char *extra[] = {"ArgumentName", name, "ArgumentValue", v, NULL};
        s3_fail_extra(c, 400, "InvalidArgument", extra,
                      "Provided %s not an integer or within integer range", name);
        return -1;
    }
    *out = n > cap ? cap : n;
    return 0;
}

static void person(struct s3_xw *x, const char *element, const char *id)
{
    s3_xw_open(x, element);
    s3_xw_text(x, "ID", id);
    s3_xw_text(x, "DisplayName", id);
    s3_xw_close(x);
}

/* '"abc"', 'abc' and ' "abc" ' name the same part. Caller frees. */
static char *bare_etag(const char *etag)
{
    while (*etag == ' ' || *etag == '\t' || *etag == '\n' || *etag == '\r')
        etag++;
    size_t n = strlen(etag);
    while (n > 0 && (etag[n - 1] == ' ' || etag[n - 1] == '\t' || etag[n - 1] == '\n' ||
                     etag[n - 1] == '\r'))
        n--;
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    return sf_xstrndup(etag, n);
}

/* Copies len bytes of in, from off, to where out stands, adding them to md
 * when it is given (then through a buffer; else in the kernel when it
 * can). 0, or -1 with errno. */
static int copy_bytes(int in, off_t off, size_t len, int out, EVP_MD_CTX *md)
{
    while (!md && len > 0) {
        ssize_t n = copy_file_range(in, &off, out, NULL, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
            break; /* not between these files: copy through the buffer */
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* shorter than recorded */
            return -1;
        }
        len -= (size_t)n;
    }
    if (len == 0)
        return 0;
    char *buf = sf_xmalloc(COPY_BUF);
    int rc = 0;
    while (len > 0 && rc == 0) {
        ssize_t r = pread(in, buf, len < COPY_BUF ? len : COPY_BUF, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            rc = -1;
            break;
        }
        if (md)
            EVP_DigestUpdate(md, buf, (size_t)r);
        for (ssize_t done = 0; done < r && rc == 0;) {
            ssize_t w = write(out, buf + done, (size_t)(r - done));
            if (w < 0 && errno != EINTR)
                rc = -1;
            else if (w > 0)
                done += w;
        }
        off += r;
        len -= (size_t)r;
    }
    int e = errno;
    free(buf);
    errno = e;
    return rc;
}

/* ---------- CreateMultipartUpload ---------- */

static void create_upload(struct s3_call *c)
{
    struct lc_server *srv = c->req->srv;
    json_t *attrs = s3_version_attributes(c);
    if (!attrs)
        return;
    lc_server_lock(srv);
    if (!s3_find_bucket(c, c->bucket)) {
        lc_server_unlock(srv);
        json_decref(attrs);
        return;
    }
    forget(s3_store(c), COMPLETED, expired);
    char *id = sf_random_hex(32);
    json_t *u = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:{}}", "upload_id", id, "bucket",
                          c->bucket, "key", c->key, "initiator", c->user_id, "initiated_ms",
                          (json_int_t)lc_now_ms(), "attributes", attrs, "parts");
    if (s3_save(c, UPLOADS, id, u) == 0) {
        struct s3_xw x;
        s3_xw_begin(&x, "InitiateMultipartUploadResult");
        s3_xw_text(&x, "Bucket", c->bucket);
        s3_xw_text(&x, "Key", c->key);
        s3_xw_text(&x, "UploadId", id);
        s3_xw_send(&x, c, 200);
    }
    lc_server_unlock(srv);
    json_decref(u);
    free(id);
}

/* ---------- UploadPart, UploadPartCopy ---------- */

static int part_number(struct s3_call *c, long *n)
{
    const char *v = lc_req_query(c->req, "partNumber");
    char *end = NULL;
    errno = 0;
    *n = v ? strtol(v, &end, 10) : 0;
    if (v && *v >= '0' && *v <= '9' && !*end && !errno && *n >= 1 && *n <= MAX_PART_NUMBER)
        return 0;
    const char *extra[] = {"ArgumentName", "partNumber", "ArgumentValue", v ? v : "", NULL};
    s3_fail_extra(c, 400, "InvalidArgument", extra,
                  "Part number must be an integer between 1 and %d, inclusive", MAX_PART_NUMBER);
    return -1;
}

/* x-amz-copy-source-range: "bytes=first-last" inside the source's size
 * (the whole source without it). 0, or -1 after answering. */
static int copy_range(struct s3_call *c, size_t size, size_t *start, size_t *len)
{
    const char *h = lc_req_header(c->req, "x-amz-copy-source-range");
    *start = 0;
    *len = size;
    if (!h)
        return 0;
    unsigned long long a, b;
    int used = 0;
    if (sscanf(h, "bytes=%llu-%llu%n", &a, &b, &used) != 2 || h[used] || strchr(h, '+') ||
        strchr(h + 6, ' ')) {
        s3_fail(c, 400, "InvalidArgument",
                "The x-amz-copy-source-range value must be of the form bytes=first-last where "
                "first and last are the zero-based offsets of the first and last bytes to copy");
        return -1;
    }
    if (a > b || b >= size) {
        s3_fail(c, 400, "InvalidArgument",
                "Range specified is not valid for source object of size: %zu", size);
        return -1;
    }
    *start = (size_t)a;
    *len = (size_t)(b - a + 1);
    return 0;
}

/* Writes the copied range into a new part file: 0 with *blob and *etag
 * (caller frees both), or -1 after answering. */
static int write_copied_part(struct s3_call *c, struct s3_source *s, size_t start, size_t len,
                             char **blob, char **etag)
{
    int fd;
    if (s3_blob_create(c->ctx, blob, &fd) < 0) {
        s3_fail(c, 500, "InternalError",
                "We encountered an internal error: cannot store the part: %s", strerror(errno));
        return -1;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_md5(), NULL);
    int rc = copy_bytes(s->fd, (off_t)start, len, fd, md);
    if (rc < 0) {
        int e = errno;
        close(fd);
        errno = e;
    } else {
        rc = s3_blob_sync(c->ctx, fd);
    }
    if (rc < 0) {
        s3_fail(c, 500, "InternalError",
                "We encountered an internal error: cannot copy the part: %s", strerror(errno));
        s3_blob_drop(c->ctx, *blob);
        free(*blob);
        *blob = NULL;
    } else {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(md, d, &n);
        char *h = lc_hex(d, n);
        *etag = sf_asprintf("\"%s\"", h);
        free(h);
    }
    EVP_MD_CTX_free(md);
    return rc;
}

/* Records the part (its file already durable) in the upload, replacing a
 * part of the same number; world lock held. 0, or -1 after answering. */
static int commit_part(struct s3_call *c, const char *id, long n, const char *blob,
                       const char *etag, size_t size, long long *when)
{
    json_t *u = find_upload(c, id, NULL);
    if (!u)
        return -1;
    char key[16];
    snprintf(key, sizeof(key), "%ld", n);
    json_t *upd = json_deep_copy(u);
    json_t *parts = json_object_get(upd, "parts");
    char *old = sf_xstrdup(str(json_object_get(parts, key), "blob"));
    *when = lc_now_ms();
    json_object_set_new(parts, key,
                        json_pack("{s:s, s:s, s:I, s:I}", "blob", blob, "etag", etag, "size",
                                  (json_int_t)size, "last_modified_ms", (json_int_t)*when));
    int rc = s3_save(c, UPLOADS, id, upd);
    if (rc == 0)
        s3_blob_drop(c->ctx, old);
    free(old);
    json_decref(upd);
    return rc;
}

static void upload_part(struct s3_call *c, const char *id)
{
    struct lc_server *srv = c->req->srv;
    long n;
    if (part_number(c, &n) < 0)
        return;
    const char *header = lc_req_header(c->req, "x-amz-copy-source");
    struct s3_source s = {.fd = -1};
    char *blob = NULL, *etag = NULL;
    size_t size = 0;
    if (header && s3_source_parse(c, header, &s) < 0)
        goto out;
    /* refuse at once what would be refused after the data was written */
    lc_server_lock(srv);
    bool ok = find_upload(c, id, NULL) != NULL;
    lc_server_unlock(srv);
    if (!ok)
        goto out;
    if (header) {
        size_t start;
        if (s3_source_open(c, &s) < 0 ||
            copy_range(c, (size_t)num(s.version, "size"), &start, &size) < 0 ||
            write_copied_part(c, &s, start, size, &blob, &etag) < 0)
            goto out;
    } else {
        blob = sf_random_hex(16);
        char *path = s3_blob_path(c->ctx, blob);
        int rc = sf_write_file_atomic(path, c->req->body, c->req->body_len, 0600);
        free(path);
        if (rc < 0) {
            s3_fail(c, 500, "InternalError",
                    "We encountered an internal error: cannot store the part: %s",
                    strerror(errno));
            goto out;
        }
        etag = s3_etag(c->req->body, c->req->body_len);
        size = c->req->body_len;
    }
    long long when = 0;
    lc_server_lock(srv);
    /* the upload may have been completed or aborted meanwhile */
    ok = commit_part(c, id, n, blob, etag, size, &when) == 0;
    if (!ok)
        s3_blob_drop(c->ctx, blob);
    lc_server_unlock(srv);
    if (!ok)
        goto out;
    if (header) {
        struct s3_xw x;
        char t[32];
        s3_iso_time(when, t);
        s3_xw_begin(&x, "CopyPartResult");
        s3_xw_text(&x, "LastModified", t);
        s3_xw_text(&x, "ETag", etag);
        s3_xw_send(&x, c, 200);
        if (*s.mode)
            lc_resp_header(c->resp, "x-amz-copy-source-version-id", str(s.version, "version_id"));
    } else {
        lc_resp_empty(c->resp, 200);
        lc_resp_header(c->resp, "ETag", etag);
    }
out:
    s3_source_free(&s);
    free(blob);
    free(etag);
}

/* ---------- CompleteMultipartUpload ---------- */

/* A part the Complete lists, and once checked, its size and open file. */
struct listed {
    long number;
    char *etag; /* without quotes */
    size_t size;
    int fd;
};

static void listed_free(struct listed *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].etag);
        if (l[i].fd >= 0)
            close(l[i].fd);
    }
    free(l);
}

static void malformed(struct s3_call *c, const char *why)
{
    s3_fail(c, 400, "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published "
            "schema: %s",
            why);
}

/* The parts the body lists, in order: 0 with *out (free with listed_free)
 * and *n, or -1 after answering MalformedXML / InvalidPartOrder. */
static int parse_listed(struct s3_call *c, struct listed **out, size_t *n)
{
    static const char *const allowed[] = {"Part", NULL};
    static const char *const part_allowed[] = {"PartNumber",     "ETag",           "ChecksumCRC32",
                                               "ChecksumCRC32C", "ChecksumCRC64NVME",
                                               "ChecksumSHA1",   "ChecksumSHA256", NULL};
    xmlDocPtr doc = s3_xml_parse(c->req->body, c->req->body_len, "CompleteMultipartUpload");
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    size_t count = root ? s3_xml_count(root, "Part") : 0;
    if (!doc || !s3_xml_only(root, allowed) || count == 0 || count > MAX_PART_NUMBER) {
        malformed(c, "expected <CompleteMultipartUpload> with 1 to 10000 <Part> elements");
        xmlFreeDoc(doc);
        return -1;
    }
    struct listed *l = sf_xcalloc(count, sizeof(*l));
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < count; i++)
        l[i].fd = -1;
    for (xmlNodePtr p = s3_xml_child(root, "Part"); p; p = s3_xml_next(p, "Part"), k++) {
        if (!s3_xml_only(p, part_allowed) || s3_xml_count(p, "PartNumber") != 1 ||
            s3_xml_count(p, "ETag") != 1) {
            malformed(c, "a <Part> has one <PartNumber> and one <ETag>");
            rc = -1;
            break;
        }
        char *t = s3_xml_text(s3_xml_child(p, "PartNumber"));
        char *end;
        errno = 0;
        l[k].number = strtol(t, &end, 10);
        bool bad = !*t || *end || errno;
        free(t);
        char *e = s3_xml_text(s3_xml_child(p, "ETag"));
        l[k].etag = bare_etag(e);
        free(e);
        if (bad) {
            malformed(c, "<PartNumber> is a whole number");
            rc = -1;
            break;
        }
        if (k > 0 && l[k].number <= l[k - 1].number) {
            s3_fail(c, 400, "InvalidPartOrder",
                    "The list of parts was not in ascending order. The parts list must be "
                    "specified in order by part number.");
            rc = -1;
            break;
        }
    }
    xmlFreeDoc(doc);
    if (rc < 0) {
        listed_free(l, count);
        return -1;
    }
    *out = l;
    *n = count;
    return 0;
}

/* "1:etag,2:etag": what a completed upload remembers of its Complete. */
static char *listed_text(const struct listed *l, size_t n)
{
    struct sf_buf b = {0};
    for (size_t i = 0; i < n; i++)
        sf_buf_printf(&b, "%s%ld:%s", i ? "," : "", l[i].number, l[i].etag);
    return sf_buf_take(&b);
}

static void complete_answer(struct s3_call *c, json_t *done)
{
    char *key = sf_sigv4_uri_encode(c->key, strlen(c->key), true);
    char *loc = sf_asprintf("%s%s/%s/%s", lc_server_base_url(c->req->srv), S3_PREFIX, c->bucket,
                            key);
    struct s3_xw x;
    s3_xw_begin(&x, "CompleteMultipartUploadResult");
    s3_xw_text(&x, "Location", loc);
    s3_xw_text(&x, "Bucket", c->bucket);
    s3_xw_text(&x, "Key", c->key);
    s3_xw_text(&x, "ETag", str(done, "etag"));
    s3_xw_send(&x, c, 200);
    if (*str(done, "mode"))
        lc_resp_header(c->resp, "x-amz-version-id", str(done, "version_id"));
    free(loc);
    free(key);
}

/* The 16 bytes of an MD5 in hex; false when etag is not that (a part
 * copied from a multipart object has an ETag of its own making). */
static bool md5_bytes(const char *etag, unsigned char out[16])
{
    if (strlen(etag) != 32)
        return false;
    for (size_t i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(etag + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (unsigned char)v;
    }
    return true;
}

/* Checks the listed parts against the upload (world lock held) and opens
 * their files: 0 with the new version's attributes in *v, or -1 after
 * answering InvalidPart, EntityTooSmall or a failed precondition. */
static int check_listed(struct s3_call *c, json_t *u, struct listed *l, size_t n, json_t **v)
{
    json_t *parts = json_object_get(u, "parts");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_md5(), NULL);
    long long total = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char key[24], pn[24];
        snprintf(key, sizeof(key), "%ld", l[i].number);
        snprintf(pn, sizeof(pn), "%ld", l[i].number);
        json_t *p = json_object_get(parts, key);
        char *have = p ? bare_etag(str(p, "etag")) : NULL;
        if (!p || strcmp(have, l[i].etag) != 0) {
            const char *extra[] = {"UploadId", str(u, "upload_id"), "PartNumber", pn, "ETag",
                                   l[i].etag, NULL};
            s3_fail_extra(c, 400, "InvalidPart", extra,
                          "One or more of the specified parts could not be found. The part may "
                          "not have been uploaded, or the specified entity tag may not match "
                          "the part's entity tag.");
            rc = -1;
        } else if (i + 1 < n && num(p, "size") < MIN_PART_SIZE) {
            char size[24], min[24];
            snprintf(size, sizeof(size), "%lld", num(p, "size"));
            snprintf(min, sizeof(min), "%lld", MIN_PART_SIZE);
            const char *extra[] = {"ProposedSize", size, "MinSizeAllowed", min, "PartNumber", pn,
                                   "ETag", l[i].etag, NULL};
            s3_fail_extra(c, 400, "EntityTooSmall", extra,
                          "Your proposed upload is smaller than the minimum allowed size");
            rc = -1;
        } else {
            unsigned char d[16];
            if (md5_bytes(have, d))
                EVP_DigestUpdate(md, d, sizeof(d));
            l[i].size = (size_t)num(p, "size");
            total += num(p, "size");
        }
        free(have);
    }
    if (rc == 0)
        rc = s3_put_preconditions(c);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char key[24];
        snprintf(key, sizeof(key), "%ld", l[i].number);
        char *path = s3_blob_path(c->ctx, str(json_object_get(parts, key), "blob"));
        l[i].fd = open(path, O_RDONLY | O_CLOEXEC);
        free(path);
        if (l[i].fd < 0) {
            s3_fail(c, 500, "InternalError",
                    "We encountered an internal error: a part's data is missing: %s",
                    strerror(errno));
            rc = -1;
        }
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    if (rc < 0)
        return -1;
    char *h = lc_hex(d, dl);
    char *etag = sf_asprintf("\"%s-%zu\"", h, n);
    free(h);
    *v = json_deep_copy(json_object_get(u, "attributes"));
    json_object_set_new(*v, "etag", json_string(etag));
    json_object_set_new(*v, "size", json_integer((json_int_t)total));
    free(etag);
    return 0;
}

/* Concatenates the parts into a new data file: 0 with *blob (caller
 * frees), or -1 after answering. */
static int assemble(struct s3_call *c, const struct listed *l, size_t n, char **blob)
{
    int out;
    if (s3_blob_create(c->ctx, blob, &out) < 0) {
        s3_fail(c, 500, "InternalError",
                "We encountered an internal error: cannot store the object data: %s",
                strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = copy_bytes(l[i].fd, 0, l[i].size, out, NULL);
    if (rc < 0) {
        int e = errno;
        close(out);
        errno = e;
    } else {
        rc = s3_blob_sync(c->ctx, out);
    }
    if (rc < 0) {
        s3_fail(c, 500, "InternalError",
                "We encountered an internal error: cannot assemble the object: %s",
                strerror(errno));
        s3_blob_drop(c->ctx, *blob);
        free(*blob);
        *blob = NULL;
    }
    return rc;
}

static void complete_upload(struct s3_call *c, const char *id)
{
    struct lc_server *srv = c->req->srv;
    struct listed *l = NULL;
    size_t n = 0;
    if (parse_listed(c, &l, &n) < 0)
        return;
    char *text = listed_text(l, n);
    json_t *v = NULL;
    char *blob = NULL;
    s3_key_lock(c->ctx, c->bucket, c->key);
    lc_server_lock(srv);
    json_t *u = NULL;
    if (s3_find_bucket(c, c->bucket) && !(u = get_record(c, UPLOADS, id))) {
        /* a retry of a Complete that went through: the same parts get the
         * same answer */
        json_t *done = get_record(c, COMPLETED, id);
        if (done && strcmp(str(done, "parts"), text) == 0)
            complete_answer(c, done);
        else
            no_such_upload(c, id);
    }
    bool go = u && check_listed(c, u, l, n, &v) == 0;
    lc_server_unlock(srv);
    if (!go || assemble(c, l, n, &blob) < 0)
        goto out;
    lc_server_lock(srv);
    json_t *b = NULL;
    /* aborted, or its bucket deleted, while the parts were copied */
    u = find_upload(c, id, &b);
    char *vid = NULL, *mode = NULL;
    json_object_set_new(v, "blob", json_string(blob));
    if (!u || s3_commit_version(c, b, json_incref(v), &vid, &mode) < 0) {
        s3_blob_drop(c->ctx, blob);
    } else {
        json_t *done = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "bucket", c->bucket,
                                 "key", c->key, "parts", text, "etag", str(v, "etag"),
                                 "version_id", vid, "mode", mode, "completed_ms",
                                 (json_int_t)lc_now_ms());
        json_t *old = json_incref(u);
        /* the object is there: answer for it even when the records cannot
         * be written (the upload then stays, with its parts, until an
         * abort) */
        if (lc_store_put(s3_store(c), S3_API, COMPLETED, id, done) == 0 &&
            lc_store_del(s3_store(c), S3_API, UPLOADS, id) == 0)
            drop_parts(c->ctx, old);
        complete_answer(c, done);
        json_decref(old);
        json_decref(done);
    }
    lc_server_unlock(srv);
    free(vid);
    free(mode);
out:
    s3_key_unlock(c->ctx, c->bucket, c->key);
    free(blob);
    json_decref(v);
    free(text);
    listed_free(l, n);
}

/* ---------- AbortMultipartUpload ---------- */

static void abort_upload(struct s3_call *c, const char *id)
{
    struct lc_server *srv = c->req->srv;
    lc_server_lock(srv);
    json_t *u = find_upload(c, id, NULL);
    if (u) {
        json_incref(u);
        if (s3_remove(c, UPLOADS, id) == 0) {
            drop_parts(c->ctx, u);
            lc_resp_empty(c->resp, 204);
        }
        json_decref(u);
    }
    lc_server_unlock(srv);
}

/* ---------- ListParts ---------- */

static int by_number(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static void list_parts(struct s3_call *c, const char *id)
{
    struct lc_server *srv = c->req->srv;
    long max, marker;
    if (int_query(c, "max-parts", MAX_LISTED, MAX_LISTED, &max) < 0 ||
        int_query(c, "part-number-marker", 0, MAX_PART_NUMBER, &marker) < 0)
        return;
    lc_server_lock(srv);
    json_t *b = NULL;
    json_t *u = find_upload(c, id, &b);
    if (!u) {
        lc_server_unlock(srv);
        return;
    }
    json_t *parts = json_object_get(u, "parts");
    long *numbers = sf_xcalloc(json_object_size(parts) + 1, sizeof(long));
    size_t n = 0;
    const char *k;
    json_t *p;
    json_object_foreach(parts, k, p)
    {
        long pn = strtol(k, NULL, 10);
        if (pn > marker)
            numbers[n++] = pn;
    }
    qsort(numbers, n, sizeof(long), by_number);
    size_t shown = n < (size_t)max ? n : (size_t)max;
    bool truncated = max > 0 && n > shown;
    struct s3_xw x;
    s3_xw_begin(&x, "ListPartsResult");
    s3_xw_text(&x, "Bucket", c->bucket);
    s3_xw_text(&x, "Key", c->key);
    s3_xw_text(&x, "UploadId", id);
    s3_xw_int(&x, "PartNumberMarker", marker);
    s3_xw_int(&x, "NextPartNumberMarker", shown ? numbers[shown - 1] : 0);
    s3_xw_int(&x, "MaxParts", max);
    s3_xw_bool(&x, "IsTruncated", truncated);
    for (size_t i = 0; i < shown; i++) {
        char key[24], t[32];
        snprintf(key, sizeof(key), "%ld", numbers[i]);
        p = json_object_get(parts, key);
        s3_iso_time(num(p, "last_modified_ms"), t);
        s3_xw_open(&x, "Part");
        s3_xw_int(&x, "PartNumber", numbers[i]);
        s3_xw_text(&x, "LastModified", t);
        s3_xw_text(&x, "ETag", str(p, "etag"));
        s3_xw_int(&x, "Size", num(p, "size"));
        s3_xw_close(&x);
    }
    person(&x, "Initiator", str(u, "initiator"));
    person(&x, "Owner", str(b, "project_id"));
    s3_xw_text(&x, "StorageClass", "STANDARD");
    s3_xw_send(&x, c, 200);
    lc_server_unlock(srv);
    free(numbers);
}

/* ---------- ListMultipartUploads ---------- */

static int by_key_then_age(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int d = strcmp(str(x, "key"), str(y, "key"));
    if (d)
        return d;
    long long tx = num(x, "initiated_ms"), ty = num(y, "initiated_ms");
    if (tx != ty)
        return (tx > ty) - (tx < ty);
    return strcmp(str(x, "upload_id"), str(y, "upload_id"));
}

/* One entry of the listing: an upload or a common prefix. */
struct entry {
    json_t *upload;
    char *cprefix;
};

void s3_list_uploads(struct s3_call *c, json_t *bucket)
{
    long max;
    if (int_query(c, "max-uploads", MAX_LISTED, MAX_LISTED, &max) < 0)
        return;
    const char *enc = lc_req_query(c->req, "encoding-type");
    if (enc && strcmp(enc, "url") != 0) {
        s3_fail(c, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
        return;
    }
    bool url = enc != NULL;
    const char *prefix = lc_req_query(c->req, "prefix");
    const char *delim = lc_req_query(c->req, "delimiter");
    const char *km = lc_req_query(c->req, "key-marker");
    const char *uim = lc_req_query(c->req, "upload-id-marker");
    prefix = prefix ? prefix : "";
    if (delim && !*delim)
        delim = NULL;
    if (km && !*km)
        km = NULL;
    if (!km || (uim && !*uim))
        uim = NULL; /* S3 ignores an upload-id-marker without a key-marker */
    json_t *all = lc_store_kind(s3_store(c), S3_API, UPLOADS);
    json_t **us = sf_xcalloc(json_object_size(all) + 1, sizeof(json_t *));
    size_t n = 0;
    const char *id;
    json_t *u;
    json_object_foreach(all, id, u)
    {
        if (strcmp(str(u, "bucket"), c->bucket) == 0 &&
            strncmp(str(u, "key"), prefix, strlen(prefix)) == 0)
            us[n++] = u;
    }
    qsort(us, n, sizeof(json_t *), by_key_then_age);
    /* resuming inside the uploads of the marker's key: after the marker's
     * upload when it is still there, else after its id in byte order */
    ssize_t at = -1;
    for (size_t i = 0; uim && i < n && at < 0; i++)
        if (strcmp(str(us[i], "key"), km) == 0 && strcmp(str(us[i], "upload_id"), uim) == 0)
            at = (ssize_t)i;
    struct entry *es = sf_xcalloc((size_t)max + 1, sizeof(*es));
    size_t count = 0;
    bool truncated = false;
    const char *last_cp = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key = str(us[i], "key");
        int cmp = km ? strcmp(key, km) : 1;
        if (cmp < 0 || (cmp == 0 && !uim))
            continue;
        if (cmp == 0 && (at >= 0 ? (ssize_t)i <= at : strcmp(str(us[i], "upload_id"), uim) <= 0))
            continue;
        char *cp = NULL;
        const char *d = delim ? strstr(key + strlen(prefix), delim) : NULL;
        if (d)
            cp = sf_xstrndup(key, (size_t)(d - key) + strlen(delim));
        /* a prefix listed before (or named by the marker) is not listed again */
        if (cp && ((km && strcmp(cp, km) == 0) || (last_cp && strcmp(cp, last_cp) == 0))) {
            free(cp);
            continue;
        }
        if ((long)count == max) {
            truncated = max > 0;
            free(cp);
            break;
        }
        es[count].upload = us[i];
        es[count].cprefix = cp;
        if (cp)
            last_cp = cp;
        count++;
    }
    struct s3_xw x;
    s3_xw_begin(&x, "ListMultipartUploadsResult");
    s3_xw_text(&x, "Bucket", c->bucket);
    s3_xw_key(&x, url, "KeyMarker", km ? km : "");
    s3_xw_text(&x, "UploadIdMarker", uim ? uim : "");
    if (truncated) {
        struct entry *last = &es[count - 1];
        s3_xw_key(&x, url, "NextKeyMarker",
                  last->cprefix ? last->cprefix : str(last->upload, "key"));
        s3_xw_text(&x, "NextUploadIdMarker", last->cprefix ? "" : str(last->upload, "upload_id"));
    }
    s3_xw_key(&x, url, "Prefix", prefix);
    if (delim)
        s3_xw_key(&x, url, "Delimiter", delim);
    s3_xw_int(&x, "MaxUploads", max);
    if (url)
        s3_xw_text(&x, "EncodingType", "url");
    s3_xw_bool(&x, "IsTruncated", truncated);
    for (size_t i = 0; i < count; i++) {
        if (es[i].cprefix)
            continue;
        char t[32];
        s3_iso_time(num(es[i].upload, "initiated_ms"), t);
        s3_xw_open(&x, "Upload");
        s3_xw_key(&x, url, "Key", str(es[i].upload, "key"));
        s3_xw_text(&x, "UploadId", str(es[i].upload, "upload_id"));
        person(&x, "Initiator", str(es[i].upload, "initiator"));
        person(&x, "Owner", str(bucket, "project_id"));
        s3_xw_text(&x, "StorageClass", "STANDARD");
        s3_xw_text(&x, "Initiated", t);
        s3_xw_close(&x);
    }
    for (size_t i = 0; i < count; i++) {
        if (!es[i].cprefix)
            continue;
        s3_xw_open(&x, "CommonPrefixes");
        s3_xw_key(&x, url, "Prefix", es[i].cprefix);
        s3_xw_close(&x);
    }
    for (size_t i = 0; i < count; i++)
        free(es[i].cprefix);
    free(es);
    free(us);
    s3_xw_send(&x, c, 200);
}

/* ---------- buckets, start-up ---------- */

int s3_uploads_drop_bucket(struct s3_call *c, const char *bucket)
{
    struct lc_store *st = s3_store(c);
    json_t *ids = json_array();
    const char *id;
    json_t *u;
    json_object_foreach(lc_store_kind(st, S3_API, UPLOADS), id, u)
    {
        if (strcmp(str(u, "bucket"), bucket) == 0)
            json_array_append_new(ids, json_string(id));
    }
    int rc = 0;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        u = json_incref(lc_store_get(st, S3_API, UPLOADS, json_string_value(v)));
        rc = s3_remove(c, UPLOADS, json_string_value(v));
        if (rc == 0)
            drop_parts(c->ctx, u);
        json_decref(u);
        if (rc < 0)
            break;
    }
    json_decref(ids);
    /* a bucket made again under the name has no past Completes */
    forget(st, COMPLETED, orphaned);
    return rc;
}

void s3_uploads_recover(struct lc_store *st, json_t *used)
{
    forget(st, COMPLETED, expired);
    /* a crash between deleting a bucket and its uploads left these */
    forget(st, COMPLETED, orphaned);
    forget(st, UPLOADS, orphaned);
    const char *id;
    json_t *u;
    json_object_foreach(lc_store_kind(st, S3_API, UPLOADS), id, u)
    {
        const char *n;
        json_t *p;
        json_object_foreach(json_object_get(u, "parts"), n, p)
        {
            json_object_set_new(used, str(p, "blob"), json_true());
        }
    }
}

/* ---------- routing ---------- */

void s3_multipart_request(struct s3_call *c)
{
    const char *m = c->req->method;
    const char *id = lc_req_query(c->req, "uploadId");
    if (!id && strcmp(m, "POST") == 0)
        create_upload(c);
    else if (id && strcmp(m, "PUT") == 0)
        upload_part(c, id);
    else if (id && strcmp(m, "POST") == 0)
        complete_upload(c, id);
    else if (id && strcmp(m, "DELETE") == 0)
        abort_upload(c, id);
    else if (id && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0))
        list_parts(c, id);
    else
        s3_fail(c, 405, "MethodNotAllowed",
                "The specified method is not allowed against this resource.");
}

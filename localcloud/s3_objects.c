/*
 * S3 object operations: PutObject (with If-None-Match: * / If-Match),
 * CopyObject, GetObject / HeadObject (ranges, conditional headers),
 * DeleteObject and DeleteObjects, and the listings ListObjects (v1 and
 * v2) and ListObjectVersions. s3.c routes /s3/{bucket}/{key+} here without
 * any lock held, and the bucket listings with the world lock held; the
 * requests of a multipart upload go on to s3_multipart.c, which commits
 * the finished object through the same version logic (s3_commit_version).
 *
 * An object record holds every version of one key, newest first; an
 * unversioned bucket keeps one version, "null", that each PUT replaces,
 * a suspended bucket replaces its "null" version and keeps the others, an
 * enabled bucket adds a version per PUT and a delete marker per DELETE.
 * The bytes of each version are a file of its own (s3.h). A write goes:
 * key lock, world lock to check the bucket and the preconditions, file
 * written and fsynced without the world lock, world lock to commit the
 * record and unlink the files of the versions it replaced. Readers open
 * the file under the world lock, so an unlink after a commit never pulls
 * data from under a GET that already found it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base64.h"
#include "s3.h"
#include "util.h"

#define OBJECTS "objects"
#define MAX_METADATA 2048
#define MAX_DELETE 1000

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_t *versions_of(json_t *rec)
{
    return json_object_get(rec, "versions");
}

static bool is_marker(json_t *v)
{
    return json_is_true(json_object_get(v, "delete_marker"));
}

static ssize_t version_index(json_t *rec, const char *vid)
{
    json_t *vs = versions_of(rec);
    for (size_t i = 0; i < json_array_size(vs); i++)
        if (strcmp(str(json_array_get(vs, i), "version_id"), vid) == 0)
            return (ssize_t)i;
    return -1;
}

/* The bucket keeps versions (Enabled) / replaces "null" (unversioned,
 * Suspended); headers report version ids once versioning was configured. */
static const char *mode_of(json_t *bucket)
{
    return str(bucket, "versioning");
}

/* A copy of rec (or a new record) with v, which it takes, as the newest
 * version; the blobs of versions it replaces are appended to dropped. */
static json_t *with_new_version(json_t *bucket, json_t *rec, const char *bname, const char *key,
                                json_t *v, json_t *dropped)
{
    json_t *out = rec ? json_deep_copy(rec)
                      : json_pack("{s:s, s:s, s:[]}", "bucket", bname, "key", key, "versions");
    json_t *vs = versions_of(out);
    if (strcmp(mode_of(bucket), "Enabled") == 0) {
        char *vid = sf_random_hex(16);
        json_object_set_new(v, "version_id", json_string(vid));
        free(vid);
    } else {
        for (size_t i = json_array_size(vs); i-- > 0;) {
            json_t *old = json_array_get(vs, i);
            if (strcmp(str(old, "version_id"), "null") == 0) {
                if (*str(old, "blob"))
                    json_array_append_new(dropped, json_string(str(old, "blob")));
                json_array_remove(vs, i);
            }
        }
        json_object_set_new(v, "version_id", json_string("null"));
    }
    json_array_insert_new(vs, 0, v);
    return out;
}

static void drop_all(struct s3_ctx *ctx, json_t *blobs)
{
    for (size_t i = 0; i < json_array_size(blobs); i++)
        s3_blob_drop(ctx, json_string_value(json_array_get(blobs, i)));
}

/* '"abc"' and 'abc' name the same ETag. */
static bool etag_matches(const char *header, const char *etag)
{
    while (*header == ' ')
        header++;
    if (strcmp(header, "*") == 0)
        return true;
    size_t hl = strlen(header), el = strlen(etag);
    if (hl >= 2 && header[0] == '"' && header[hl - 1] == '"') {
        header++;
        hl -= 2;
    }
    if (el >= 2 && etag[0] == '"' && etag[el - 1] == '"') {
        etag++;
        el -= 2;
    }
    return hl == el && strncmp(header, etag, hl) == 0;
}

static void no_such_key(struct s3_call *c, const char *key)
{
    const char *extra[] = {"Key", key, NULL};
    s3_fail_extra(c, 404, "NoSuchKey", extra, "The specified key does not exist.");
}

static void precondition_failed(struct s3_call *c, const char *cond)
{
    const char *extra[] = {"Condition", cond, NULL};
    s3_fail_extra(c, 412, "PreconditionFailed", extra,
                  "At least one of the pre-conditions you specified did not hold");
}

/* ---------- request headers that become a version's attributes ---------- */

static const char *const kept_headers[] = {"Cache-Control", "Content-Disposition",
                                           "Content-Encoding", "Content-Language", "Expires",
                                           NULL};

static void collect_meta(void *cls, const char *name, const char *value)
{
    json_t *md = cls;
    if (strncasecmp(name, "x-amz-meta-", 11) != 0 || !name[11])
        return;
    char *k = sf_xstrdup(name + 11);
    for (char *p = k; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *old = json_string_value(json_object_get(md, k));
    char *joined = old ? sf_asprintf("%s,%s", old, value ? value : "") : sf_xstrdup(value ? value : "");
    /* null marks a value that is not text, refused below */
    json_t *v = json_string(joined);
    json_object_set_new(md, k, v ? v : json_null());
    free(joined);
    free(k);
}

json_t *s3_version_attributes(struct s3_call *c)
{
    json_t *md = json_object();
    lc_req_headers_each(c->req, collect_meta, md);
    size_t size = 0;
    const char *k;
    json_t *v;
    json_object_foreach(md, k, v)
    {
        if (!json_is_string(v)) {
            json_decref(md);
            s3_fail(c, 400, "InvalidArgument", "User metadata values must be text (UTF-8)");
            return NULL;
        }
        size += strlen(k) + json_string_length(v);
    }
    if (size > MAX_METADATA) {
        json_decref(md);
        s3_fail(c, 400, "MetadataTooLarge",
                "Your metadata headers exceed the maximum allowed metadata size (%d bytes)",
                MAX_METADATA);
        return NULL;
    }
    json_t *hdrs = json_object();
    for (size_t i = 0; kept_headers[i]; i++) {
        const char *h = lc_req_header(c->req, kept_headers[i]);
        if (h && lc_utf8_valid(h, strlen(h)))
            json_object_set_new(hdrs, kept_headers[i], json_string(h));
    }
    const char *ct = lc_req_header(c->req, "Content-Type");
    if (!ct || !*ct || !lc_utf8_valid(ct, strlen(ct)))
        ct = "binary/octet-stream";
    return json_pack("{s:b, s:s, s:o, s:o}", "delete_marker", 0, "content_type", ct, "metadata",
                     md, "headers", hdrs);
}

/* ---------- writing a version ---------- */

/* PUT's conditions against the current version: If-None-Match: * fails when
 * one exists, If-Match when none exists or its ETag differs. */
int s3_put_preconditions(struct s3_call *c)
{
    char *id = s3_object_id(c->bucket, c->key);
    json_t *rec = lc_store_get(s3_store(c), S3_API, OBJECTS, id);
    free(id);
    json_t *cur = json_array_get(versions_of(rec), 0);
    if (cur && is_marker(cur))
        cur = NULL;
    const char *inm = lc_req_header(c->req, "If-None-Match");
    const char *im = lc_req_header(c->req, "If-Match");
    if (inm) {
        while (*inm == ' ')
            inm++;
        if (strcmp(inm, "*") != 0) {
            s3_fail(c, 501, "NotImplemented",
                    "A header you provided implies functionality that is not implemented: "
                    "If-None-Match on a write takes only *");
            return -1;
        }
        if (cur) {
            precondition_failed(c, "If-None-Match");
            return -1;
        }
    }
    if (im) {
        if (!cur) {
            no_such_key(c, c->key);
            return -1;
        }
        if (!etag_matches(im, str(cur, "etag"))) {
            precondition_failed(c, "If-Match");
            return -1;
        }
    }
    return 0;
}

int s3_commit_version(struct s3_call *c, json_t *bucket, json_t *v, char **vid, char **mode)
{
    char *id = s3_object_id(c->bucket, c->key);
    json_t *dropped = json_array();
    json_object_set_new(v, "last_modified_ms", json_integer(lc_now_ms()));
    json_t *rec = with_new_version(bucket, lc_store_get(s3_store(c), S3_API, OBJECTS, id),
                                   c->bucket, c->key, json_incref(v), dropped);
    int rc = s3_save(c, OBJECTS, id, rec);
    if (rc == 0) {
        *vid = sf_xstrdup(str(v, "version_id"));
        *mode = sf_xstrdup(mode_of(bucket));
        drop_all(c->ctx, dropped);
    }
    json_decref(rec);
    json_decref(v);
    json_decref(dropped);
    free(id);
    return rc;
}

/* Stores data as the newest version of c->key with the attributes v (taken).
 * 0 with *vid set (caller frees) and *mode the bucket's versioning, or -1
 * after answering. */
static int write_version(struct s3_call *c, const char *data, size_t len, json_t *v, char **vid,
                         char **mode)
{
    struct lc_server *srv = c->req->srv;
    int rc = -1;
    char *blob = NULL, *path = NULL;
    s3_key_lock(c->ctx, c->bucket, c->key);
    lc_server_lock(srv);
    json_t *b = s3_find_bucket(c, c->bucket);
    bool ok = b && s3_put_preconditions(c) == 0;
    lc_server_unlock(srv);
    if (!ok)
        goto out;
    blob = sf_random_hex(16);
    path = s3_blob_path(c->ctx, blob);
    if (sf_write_file_atomic(path, data, len, 0600) < 0) {
        s3_fail(c, 500, "InternalError", "We encountered an internal error: cannot store the "
                                         "object data: %s",
                strerror(errno));
        goto out;
    }
    lc_server_lock(srv);
    /* the bucket may have gone while the data was written */
    if ((b = s3_find_bucket(c, c->bucket))) {
        json_object_set_new(v, "blob", json_string(blob));
        rc = s3_commit_version(c, b, json_incref(v), vid, mode);
    }
    lc_server_unlock(srv);
    if (rc < 0)
        s3_blob_drop(c->ctx, blob);
out:
    s3_key_unlock(c->ctx, c->bucket, c->key);
    json_decref(v);
    free(blob);
    free(path);
    return rc;
}

static void put_object(struct s3_call *c)
{
    json_t *v = s3_version_attributes(c);
    if (!v)
        return;
    char *etag = s3_etag(c->req->body, c->req->body_len);
    json_object_set_new(v, "etag", json_string(etag));
    json_object_set_new(v, "size", json_integer((json_int_t)c->req->body_len));
    char *vid = NULL, *mode = NULL;
    if (write_version(c, c->req->body, c->req->body_len, v, &vid, &mode) == 0) {
        lc_resp_empty(c->resp, 200);
        lc_resp_header(c->resp, "ETag", etag);
        if (*mode)
            lc_resp_header(c->resp, "x-amz-version-id", vid);
    }
    free(vid);
    free(mode);
    free(etag);
}

/* ---------- reading ---------- */

/* The version a GET / HEAD / copy names (borrowed), or NULL after
 * answering: NoSuchKey, NoSuchVersion, or a delete marker. */
static json_t *find_version(struct s3_call *c, const char *bname, const char *key, const char *vid,
                            bool for_copy)
{
    char *id = s3_object_id(bname, key);
    json_t *rec = lc_store_get(s3_store(c), S3_API, OBJECTS, id);
    free(id);
    json_t *v;
    if (vid) {
        ssize_t i = rec ? version_index(rec, vid) : -1;
        if (i < 0) {
            const char *extra[] = {"Key", key, "VersionId", vid, NULL};
            s3_fail_extra(c, 404, "NoSuchVersion", extra,
                          "The specified version does not exist.");
            return NULL;
        }
        v = json_array_get(versions_of(rec), (size_t)i);
        if (is_marker(v)) {
            if (for_copy)
                s3_fail(c, 400, "InvalidRequest",
                        "The source of a copy request may not specifically refer to a delete "
                        "marker by version id.");
            else
                s3_fail(c, 405, "MethodNotAllowed",
                        "The specified method is not allowed against this resource.");
            lc_resp_header(c->resp, "x-amz-delete-marker", "true");
            lc_resp_header(c->resp, "x-amz-version-id", vid);
            return NULL;
        }
        return v;
    }
    v = json_array_get(versions_of(rec), 0);
    if (!v || is_marker(v)) {
        no_such_key(c, key);
        if (v && !for_copy) {
            lc_resp_header(c->resp, "x-amz-delete-marker", "true");
            lc_resp_header(c->resp, "x-amz-version-id", str(v, "version_id"));
        }
        return NULL;
    }
    return v;
}

/* Reads len bytes at off; NULL with errno on failure. */
static char *read_range(int fd, size_t off, size_t len)
{
    char *buf = sf_xmalloc(len ? len : 1);
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* shorter than recorded */
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

/* "bytes=a-b", "bytes=a-", "bytes=-n": 1 with the range set, 0 to serve
 * the whole object (no header, several ranges, or syntax S3 ignores), -1
 * when it cannot be satisfied. */
static int parse_range(const char *h, size_t size, size_t *start, size_t *len)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    unsigned long long a = 0, b = 0;
    bool has_a = false, has_b = false;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        a = strtoull(p, &end, 10);
        if (errno)
            return 0;
        p = end;
        has_a = true;
    }
    if (*p++ != '-')
        return 0;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        b = strtoull(p, &end, 10);
        if (errno)
            return 0;
        p = end;
        has_b = true;
    }
    if (*p || (!has_a && !has_b) || (has_a && has_b && b < a))
        return 0;
    if (!has_a) { /* the last b bytes */
        if (b == 0 || size == 0)
            return -1;
        *len = b > size ? size : (size_t)b;
        *start = size - *len;
        return 1;
    }
    if (a >= size)
        return -1;
    if (!has_b || b >= size)
        b = size - 1;
    *start = (size_t)a;
    *len = (size_t)(b - a + 1);
    return 1;
}

/* If-Match / If-Unmodified-Since (412) and If-None-Match /
 * If-Modified-Since (304), in the order RFC 9110 gives. -1 after answering. */
static int get_preconditions(struct s3_call *c, json_t *v)
{
    const char *etag = str(v, "etag");
    long long mod = json_integer_value(json_object_get(v, "last_modified_ms")) / 1000 * 1000;
    const char *im = lc_req_header(c->req, "If-Match");
    const char *ius = lc_req_header(c->req, "If-Unmodified-Since");
    const char *inm = lc_req_header(c->req, "If-None-Match");
    const char *ims = lc_req_header(c->req, "If-Modified-Since");
    long long t;
    if (im && !etag_matches(im, etag)) {
        precondition_failed(c, "If-Match");
        return -1;
    }
    if (!im && ius && s3_parse_http_time(ius, &t) == 0 && mod > t) {
        precondition_failed(c, "If-Unmodified-Since");
        return -1;
    }
    bool not_modified = false;
    if (inm)
        not_modified = etag_matches(inm, etag);
    else if (ims && s3_parse_http_time(ims, &t) == 0)
        not_modified = mod <= t;
    if (not_modified) {
        lc_resp_empty(c->resp, 304);
        lc_resp_header(c->resp, "ETag", etag);
        return -1;
    }
    return 0;
}

static void version_headers(struct s3_call *c, json_t *v, const char *mode)
{
    char t[40];
    s3_http_time(json_integer_value(json_object_get(v, "last_modified_ms")), t);
    lc_resp_header(c->resp, "ETag", str(v, "etag"));
    lc_resp_header(c->resp, "Last-Modified", t);
    lc_resp_header(c->resp, "Accept-Ranges", "bytes");
    if (*mode)
        lc_resp_header(c->resp, "x-amz-version-id", str(v, "version_id"));
    const char *k;
    json_t *val;
    json_object_foreach(json_object_get(v, "metadata"), k, val)
    {
        char *name = sf_asprintf("x-amz-meta-%s", k);
        lc_resp_header(c->resp, name, json_string_value(val));
        free(name);
    }
    /* ?response-cache-control=... and the like override the stored headers */
    static const char *const overrides[][2] = {
        {"Cache-Control", "response-cache-control"},
        {"Content-Disposition", "response-content-disposition"},
        {"Content-Encoding", "response-content-encoding"},
        {"Content-Language", "response-content-language"},
        {"Expires", "response-expires"},
    };
    for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
        const char *o = lc_req_query(c->req, overrides[i][1]);
        const char *h = o ? o : json_string_value(
                                    json_object_get(json_object_get(v, "headers"), overrides[i][0]));
        if (h)
            lc_resp_header(c->resp, overrides[i][0], h);
    }
}

static void get_object(struct s3_call *c, bool head)
{
    struct lc_server *srv = c->req->srv;
    const char *vid = lc_req_query(c->req, "versionId");
    int fd = -1;
    json_t *v = NULL;
    char *mode = NULL;
    lc_server_lock(srv);
    json_t *b = s3_find_bucket(c, c->bucket);
    json_t *found = b ? find_version(c, c->bucket, c->key, vid, false) : NULL;
    if (found) {
        v = json_deep_copy(found);
        mode = sf_xstrdup(mode_of(b));
        if (!head) {
            char *path = s3_blob_path(c->ctx, str(v, "blob"));
            fd = open(path, O_RDONLY | O_CLOEXEC);
            free(path);
        }
    }
    lc_server_unlock(srv);
    if (!v)
        return;
    size_t size = (size_t)json_integer_value(json_object_get(v, "size"));
    size_t start = 0, len = size;
    int r = 0;
    if (!head && fd < 0) {
        s3_fail(c, 500, "InternalError", "We encountered an internal error: the object data is "
                                         "missing: %s",
                strerror(errno));
    } else if (get_preconditions(c, v) == 0 &&
               (r = parse_range(lc_req_header(c->req, "Range"), size, &start, &len)) < 0) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", size);
        const char *extra[] = {"ActualObjectSize", n, "RangeRequested",
                               lc_req_header(c->req, "Range"), NULL};
        s3_fail_extra(c, 416, "InvalidRange", extra, "The requested range is not satisfiable");
        char *cr = sf_asprintf("bytes */%zu", size);
        lc_resp_header(c->resp, "Content-Range", cr);
        free(cr);
    } else if (c->resp->status == 0) {
        /* HEAD: libmicrohttpd takes Content-Length from the body it never
         * sends, so the body is a buffer of the right length (calloc'ed,
         * untouched pages) */
        char *data = head ? sf_xcalloc(len ? len : 1, 1) : read_range(fd, start, len);
        if (!data) {
            s3_fail(c, 500, "InternalError",
                    "We encountered an internal error: cannot read the object data: %s",
                    strerror(errno));
        } else {
            const char *ct = lc_req_query(c->req, "response-content-type");
            s3_resp_take(c->resp, r == 1 ? 206 : 200, ct ? ct : str(v, "content_type"), data,
                         len);
            version_headers(c, v, mode);
            if (r == 1) {
                char *cr = sf_asprintf("bytes %zu-%zu/%zu", start, start + len - 1, size);
                lc_resp_header(c->resp, "Content-Range", cr);
                free(cr);
            }
        }
    }
    if (fd >= 0)
        close(fd);
    json_decref(v);
    free(mode);
}

/* ---------- CopyObject ---------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static char *pct_decode(const char *s, size_t n)
{
    char *out = sf_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (!lc_utf8_valid(out, o)) {
        free(out);
        return NULL;
    }
    return out;
}

int s3_source_parse(struct s3_call *c, const char *header, struct s3_source *s)
{
    /* "/bucket/key" or "bucket/key", URL-encoded, with an optional
     * "?versionId=..." */
    *s = (struct s3_source){.fd = -1};
    const char *p = header[0] == '/' ? header + 1 : header;
    const char *q = strstr(p, "?versionId=");
    char *path = pct_decode(p, q ? (size_t)(q - p) : strlen(p));
    char *svid = q ? pct_decode(q + 11, strlen(q + 11)) : NULL;
    char *slash = path ? strchr(path, '/') : NULL;
    if (!path || !slash || slash == path || !slash[1] || (q && !svid)) {
        s3_fail(c, 400, "InvalidArgument",
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        free(path);
        free(svid);
        return -1;
    }
    s->bucket = sf_xstrndup(path, (size_t)(slash - path));
    s->key = sf_xstrdup(slash + 1);
    s->version_id = svid;
    free(path);
    return 0;
}

int s3_source_open(struct s3_call *c, struct s3_source *s)
{
    struct lc_server *srv = c->req->srv;
    lc_server_lock(srv);
    json_t *sb = s3_find_bucket(c, s->bucket);
    json_t *found = sb ? find_version(c, s->bucket, s->key, s->version_id, true) : NULL;
    if (found) {
        s->version = json_deep_copy(found);
        s->mode = sf_xstrdup(mode_of(sb));
        char *bp = s3_blob_path(c->ctx, str(found, "blob"));
        s->fd = open(bp, O_RDONLY | O_CLOEXEC);
        free(bp);
        if (s->fd < 0)
            s3_fail(c, 500, "InternalError",
                    "We encountered an internal error: cannot read the source object data: %s",
                    strerror(errno));
    }
    lc_server_unlock(srv);
    return s->fd >= 0 ? 0 : -1;
}

void s3_source_free(struct s3_source *s)
{
    if (s->fd >= 0)
        close(s->fd);
    json_decref(s->version);
    free(s->bucket);
    free(s->key);
    free(s->version_id);
    free(s->mode);
    *s = (struct s3_source){.fd = -1};
}

static void copy_object(struct s3_call *c, const char *header)
{
    struct s3_source s;
    if (s3_source_parse(c, header, &s) < 0)
        return;
    const char *directive = lc_req_header(c->req, "x-amz-metadata-directive");
    if (directive && strcmp(directive, "COPY") != 0 && strcmp(directive, "REPLACE") != 0) {
        s3_fail(c, 400, "InvalidArgument", "Unknown metadata directive: expected COPY or REPLACE");
        s3_source_free(&s);
        return;
    }
    bool replace = directive && strcmp(directive, "REPLACE") == 0;
    if (!replace && !s.version_id && strcmp(s.bucket, c->bucket) == 0 &&
        strcmp(s.key, c->key) == 0) {
        s3_fail(c, 400, "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.");
        s3_source_free(&s);
        return;
    }
    if (s3_source_open(c, &s) < 0) {
        s3_source_free(&s);
        return;
    }
    json_t *src = s.version;
    size_t size = (size_t)json_integer_value(json_object_get(src, "size"));
    char *data = read_range(s.fd, 0, size);
    if (!data) {
        s3_fail(c, 500, "InternalError",
                "We encountered an internal error: cannot read the source object data");
    } else {
        json_t *v;
        if (replace) {
            v = s3_version_attributes(c);
        } else {
            v = json_pack("{s:b, s:O, s:O, s:O}", "delete_marker", 0, "content_type",
                          json_object_get(src, "content_type"), "metadata",
                          json_object_get(src, "metadata"), "headers",
                          json_object_get(src, "headers"));
        }
        if (v) {
            json_object_set(v, "etag", json_object_get(src, "etag"));
            json_object_set(v, "size", json_object_get(src, "size"));
            char *vid = NULL, *mode = NULL;
            if (write_version(c, data, size, json_incref(v), &vid, &mode) == 0) {
                struct s3_xw x;
                char t[32];
                s3_iso_time(lc_now_ms(), t);
                s3_xw_begin(&x, "CopyObjectResult");
                s3_xw_text(&x, "LastModified", t);
                s3_xw_text(&x, "ETag", str(v, "etag"));
                s3_xw_send(&x, c, 200);
                if (*mode)
                    lc_resp_header(c->resp, "x-amz-version-id", vid);
                if (*s.mode)
                    lc_resp_header(c->resp, "x-amz-copy-source-version-id",
                                   str(src, "version_id"));
            }
            free(vid);
            free(mode);
            json_decref(v);
        }
    }
    free(data);
    s3_source_free(&s);
}

/* ---------- deleting ---------- */

struct deleted {
    char *version_id;        /* the version removed, when one was named */
    bool marker;             /* a delete marker was removed or created */
    char *marker_version_id; /* ... with this id */
};

static void deleted_free(struct deleted *d)
{
    free(d->version_id);
    free(d->marker_version_id);
    memset(d, 0, sizeof(*d));
}

/* DeleteObject's semantics for one key, world lock held: 0, or -1 after
 * answering (only a failed write). */
static int delete_one(struct s3_call *c, json_t *bucket, const char *key, const char *vid,
                      struct deleted *d)
{
    char *id = s3_object_id(c->bucket, key);
    json_t *rec = lc_store_get(s3_store(c), S3_API, OBJECTS, id);
    json_t *dropped = json_array();
    int rc = 0;
    if (vid) {
        d->version_id = sf_xstrdup(vid);
        ssize_t i = rec ? version_index(rec, vid) : -1;
        if (i >= 0) {
            json_t *v = json_array_get(versions_of(rec), (size_t)i);
            if (is_marker(v)) {
                d->marker = true;
                d->marker_version_id = sf_xstrdup(vid);
            } else {
                json_array_append_new(dropped, json_string(str(v, "blob")));
            }
            json_t *upd = json_deep_copy(rec);
            json_array_remove(versions_of(upd), (size_t)i);
            rc = json_array_size(versions_of(upd)) == 0 ? s3_remove(c, OBJECTS, id)
                                                        : s3_save(c, OBJECTS, id, upd);
            json_decref(upd);
        }
    } else if (!*mode_of(bucket)) {
        if (rec) {
            for (size_t i = 0; i < json_array_size(versions_of(rec)); i++)
                json_array_append_new(dropped,
                                      json_string(str(json_array_get(versions_of(rec), i), "blob")));
            rc = s3_remove(c, OBJECTS, id);
        }
    } else {
        json_t *m = json_pack("{s:b, s:I}", "delete_marker", 1, "last_modified_ms",
                              (json_int_t)lc_now_ms());
        json_t *upd = with_new_version(bucket, rec, c->bucket, key, json_incref(m), dropped);
        rc = s3_save(c, OBJECTS, id, upd);
        if (rc == 0) {
            d->marker = true;
            d->marker_version_id = sf_xstrdup(str(m, "version_id"));
        }
        json_decref(upd);
        json_decref(m);
    }
    if (rc == 0)
        drop_all(c->ctx, dropped);
    json_decref(dropped);
    free(id);
    return rc;
}

static void delete_object(struct s3_call *c)
{
    lc_server_lock(c->req->srv);
    json_t *b = s3_find_bucket(c, c->bucket);
    struct deleted d = {0};
    if (b && delete_one(c, b, c->key, lc_req_query(c->req, "versionId"), &d) == 0) {
        lc_resp_empty(c->resp, 204);
        if (d.marker)
            lc_resp_header(c->resp, "x-amz-delete-marker", "true");
        if (d.version_id || d.marker_version_id)
            lc_resp_header(c->resp, "x-amz-version-id",
                           d.version_id ? d.version_id : d.marker_version_id);
    }
    deleted_free(&d);
    lc_server_unlock(c->req->srv);
}

void s3_delete_objects(struct s3_call *c, json_t *bucket)
{
    /* s3.c has checked Content-MD5 against the body when it is there */
    if (!lc_req_header(c->req, "Content-MD5")) {
        s3_fail(c, 400, "InvalidRequest", "Missing required header for this request: Content-MD5");
        return;
    }
    xmlDocPtr doc = s3_xml_parse(c->req->body, c->req->body_len, "Delete");
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    static const char *const allowed[] = {"Quiet", "Object", NULL};
    static const char *const obj_allowed[] = {"Key", "VersionId", "ETag", "LastModifiedTime",
                                              "Size", NULL};
    const char *why = NULL;
    size_t n = root ? s3_xml_count(root, "Object") : 0;
    if (!doc || !s3_xml_only(root, allowed) || s3_xml_count(root, "Quiet") > 1)
        why = "expected <Delete> with an optional <Quiet> and <Object> elements";
    else if (n == 0 || n > MAX_DELETE)
        why = "a <Delete> names 1 to 1000 <Object> elements";
    for (xmlNodePtr o = root ? s3_xml_child(root, "Object") : NULL; o && !why;
         o = s3_xml_next(o, "Object"))
        if (!s3_xml_only(o, obj_allowed) || s3_xml_count(o, "Key") != 1 ||
            s3_xml_count(o, "VersionId") > 1)
            why = "an <Object> has one <Key> and at most one <VersionId>";
    if (why) {
        s3_fail(c, 400, "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our "
                "published schema: %s",
                why);
        xmlFreeDoc(doc);
        return;
    }
    bool quiet = false;
    if (s3_xml_child(root, "Quiet")) {
        char *t = s3_xml_text(s3_xml_child(root, "Quiet"));
        quiet = strcmp(t, "true") == 0;
        free(t);
    }
    struct s3_xw x;
    s3_xw_begin(&x, "DeleteResult");
    for (xmlNodePtr o = s3_xml_child(root, "Object"); o; o = s3_xml_next(o, "Object")) {
        char *key = s3_xml_text(s3_xml_child(o, "Key"));
        char *vid = s3_xml_child(o, "VersionId") ? s3_xml_text(s3_xml_child(o, "VersionId"))
                                                 : NULL;
        struct deleted d = {0};
        const char *code = NULL, *msg = NULL;
        if (!*key || strlen(key) > S3_MAX_KEY) {
            code = "InvalidArgument";
            msg = "A key is 1 to 1024 bytes long";
        } else if (delete_one(c, bucket, key, vid, &d) < 0) {
            code = "InternalError";
            msg = "We encountered an internal error. Please try again.";
        }
        if (code) {
            s3_xw_open(&x, "Error");
            s3_xw_text(&x, "Key", key);
            if (vid)
                s3_xw_text(&x, "VersionId", vid);
            s3_xw_text(&x, "Code", code);
            s3_xw_text(&x, "Message", msg);
            s3_xw_close(&x);
        } else if (!quiet) {
            s3_xw_open(&x, "Deleted");
            s3_xw_text(&x, "Key", key);
            if (d.version_id)
                s3_xw_text(&x, "VersionId", d.version_id);
            if (d.marker) {
                s3_xw_bool(&x, "DeleteMarker", true);
                s3_xw_text(&x, "DeleteMarkerVersionId", d.marker_version_id);
            }
            s3_xw_close(&x);
        }
        deleted_free(&d);
        free(key);
        free(vid);
    }
    xmlFreeDoc(doc);
    s3_xw_send(&x, c, 200);
}

/* ---------- listings ---------- */

struct entry {
    const char *key;
    json_t *rec;
};

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

/* The bucket's records whose key starts with prefix, sorted by key (byte
 * order, as S3); borrowed under the world lock. Caller frees the array. */
static size_t collect(struct s3_call *c, const char *bucket, const char *prefix,
                      struct entry **out)
{
    json_t *all = lc_store_kind(s3_store(c), S3_API, OBJECTS);
    struct entry *es = sf_xcalloc(json_object_size(all) + 1, sizeof(*es));
    size_t n = 0, plen = strlen(prefix);
    const char *id;
    json_t *rec;
    json_object_foreach(all, id, rec)
    {
        if (strcmp(str(rec, "bucket"), bucket) == 0 && strncmp(str(rec, "key"), prefix, plen) == 0) {
            es[n].key = str(rec, "key");
            es[n].rec = rec;
            n++;
        }
    }
    qsort(es, n, sizeof(*es), by_key);
    *out = es;
    return n;
}

bool s3_bucket_has_objects(struct s3_call *c, const char *bucket)
{
    json_t *all = lc_store_kind(s3_store(c), S3_API, OBJECTS);
    const char *id;
    json_t *rec;
    json_object_foreach(all, id, rec)
    {
        if (strcmp(str(rec, "bucket"), bucket) == 0)
            return true;
    }
    return false;
}

/* The common prefix of key (prefix + up to the first delimiter after it,
 * inclusive), or NULL when the key has none. Caller frees. */
static char *common_prefix(const char *key, const char *prefix, const char *delim)
{
    if (!delim || !*delim)
        return NULL;
    const char *d = strstr(key + strlen(prefix), delim);
    return d ? sf_xstrndup(key, (size_t)(d - key) + strlen(delim)) : NULL;
}

/* The listing's parameters, checked. */
struct listing {
    const char *prefix, *delim, *marker, *vid_marker;
    long max;
    bool url; /* encoding-type=url */
};

static int listing_params(struct s3_call *c, struct listing *l, const char *marker_param)
{
    const char *p = lc_req_query(c->req, "prefix");
    l->prefix = p ? p : "";
    l->delim = lc_req_query(c->req, "delimiter");
    if (l->delim && !*l->delim)
        l->delim = NULL;
    l->marker = marker_param ? lc_req_query(c->req, marker_param) : NULL;
    l->vid_marker = NULL;
    l->max = 1000;
    const char *mk = lc_req_query(c->req, "max-keys");
    if (mk) {
        char *end;
        errno = 0;
        long v = strtol(mk, &end, 10);
        if (errno || !*mk || *end || v < 0) {
            s3_fail(c, 400, "InvalidArgument",
                    "max-keys: expected a whole number from 0 to 2147483647");
            return -1;
        }
        l->max = v > 1000 ? 1000 : v;
    }
    const char *enc = lc_req_query(c->req, "encoding-type");
    if (enc && strcmp(enc, "url") != 0) {
        s3_fail(c, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
        return -1;
    }
    l->url = enc != NULL;
    return 0;
}

static void owner(struct s3_xw *x, json_t *bucket)
{
    s3_xw_open(x, "Owner");
    s3_xw_text(x, "ID", str(bucket, "project_id"));
    s3_xw_text(x, "DisplayName", str(bucket, "project_id"));
    s3_xw_close(x);
}

/* One item of a listing: a key's current version or a common prefix. */
struct item {
    const char *key;
    json_t *version;
    char *cprefix;
};

void s3_list_objects(struct s3_call *c, json_t *bucket)
{
    bool v2 = lc_req_query(c->req, "list-type") && strcmp(lc_req_query(c->req, "list-type"), "2") == 0;
    struct listing l;
    if (listing_params(c, &l, v2 ? NULL : "marker") < 0)
        return;
    const char *token = v2 ? lc_req_query(c->req, "continuation-token") : NULL;
    const char *start_after = v2 ? lc_req_query(c->req, "start-after") : NULL;
    char *token_key = NULL;
    if (token) {
        /* the token is the URL-safe base64 of the last key or prefix
         * returned (no '+' that a careless client could send as a space) */
        char *std = sf_xstrdup(token);
        for (char *p = std; *p; p++)
            *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        size_t n = 0;
        unsigned char *raw = lc_unbase64(std, &n);
        free(std);
        if (!raw || n == 0 || !lc_utf8_valid((const char *)raw, n)) {
            free(raw);
            s3_fail(c, 400, "InvalidArgument", "The continuation token provided is incorrect");
            return;
        }
        token_key = sf_xstrndup((const char *)raw, n);
        free(raw);
        l.marker = token_key;
    } else if (start_after) {
        l.marker = start_after;
    }
    struct entry *es;
    size_t n = collect(c, c->bucket, l.prefix, &es);
    struct item *items = sf_xcalloc((size_t)l.max + 1, sizeof(*items));
    size_t count = 0;
    bool truncated = false;
    const char *last_cp = NULL;
    for (size_t i = 0; i < n; i++) {
        if (l.marker && strcmp(es[i].key, l.marker) <= 0)
            continue;
        json_t *v = json_array_get(versions_of(es[i].rec), 0);
        if (!v || is_marker(v))
            continue;
        char *cp = common_prefix(es[i].key, l.prefix, l.delim);
        /* resuming after a common prefix skips the keys under it */
        if (cp && ((l.marker && strcmp(cp, l.marker) == 0) || (last_cp && strcmp(cp, last_cp) == 0))) {
            free(cp);
            continue;
        }
        if ((long)count == l.max) {
            truncated = l.max > 0;
            free(cp);
            break;
        }
        items[count].key = es[i].key;
        items[count].version = v;
        items[count].cprefix = cp;
        if (cp)
            last_cp = cp;
        count++;
    }
    struct s3_xw x;
    s3_xw_begin(&x, "ListBucketResult");
    s3_xw_text(&x, "Name", c->bucket);
    s3_xw_key(&x, l.url, "Prefix", l.prefix);
    if (l.delim)
        s3_xw_key(&x, l.url, "Delimiter", l.delim);
    s3_xw_int(&x, "MaxKeys", l.max);
    if (l.url)
        s3_xw_text(&x, "EncodingType", "url");
    s3_xw_bool(&x, "IsTruncated", truncated);
    const char *last = count ? (items[count - 1].cprefix ? items[count - 1].cprefix
                                                         : items[count - 1].key)
                             : NULL;
    if (v2) {
        s3_xw_int(&x, "KeyCount", (long long)count);
        if (token)
            s3_xw_text(&x, "ContinuationToken", token);
        if (truncated && last) {
            char *t = sf_base64_encode((const unsigned char *)last, strlen(last));
            for (char *p = t; *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
            s3_xw_text(&x, "NextContinuationToken", t);
            free(t);
        }
        if (start_after)
            s3_xw_key(&x, l.url, "StartAfter", start_after);
    } else {
        s3_xw_key(&x, l.url, "Marker", l.marker ? l.marker : "");
        if (truncated && last)
            s3_xw_key(&x, l.url, "NextMarker", last);
    }
    bool fetch_owner = !v2 || (lc_req_query(c->req, "fetch-owner") &&
                               strcmp(lc_req_query(c->req, "fetch-owner"), "true") == 0);
    for (size_t i = 0; i < count; i++) {
        if (items[i].cprefix)
            continue;
        json_t *v = items[i].version;
        char t[32];
        s3_iso_time(json_integer_value(json_object_get(v, "last_modified_ms")), t);
        s3_xw_open(&x, "Contents");
        s3_xw_key(&x, l.url, "Key", items[i].key);
        s3_xw_text(&x, "LastModified", t);
        s3_xw_text(&x, "ETag", str(v, "etag"));
        s3_xw_int(&x, "Size", json_integer_value(json_object_get(v, "size")));
        s3_xw_text(&x, "StorageClass", "STANDARD");
        if (fetch_owner)
            owner(&x, bucket);
        s3_xw_close(&x);
    }
    for (size_t i = 0; i < count; i++) {
        if (!items[i].cprefix)
            continue;
        s3_xw_open(&x, "CommonPrefixes");
        s3_xw_key(&x, l.url, "Prefix", items[i].cprefix);
        s3_xw_close(&x);
    }
    for (size_t i = 0; i < count; i++)
        free(items[i].cprefix);
    free(items);
    free(es);
    free(token_key);
    s3_xw_send(&x, c, 200);
}

struct vitem {
    const char *key;
    json_t *version;
    bool latest;
    char *cprefix;
};

void s3_list_versions(struct s3_call *c, json_t *bucket)
{
    struct listing l;
    if (listing_params(c, &l, "key-marker") < 0)
        return;
    l.vid_marker = lc_req_query(c->req, "version-id-marker");
    if (l.vid_marker && !*l.vid_marker)
        l.vid_marker = NULL;
    if (l.vid_marker && !l.marker) {
        s3_fail(c, 400, "InvalidArgument",
                "A version-id marker cannot be specified without a key marker.");
        return;
    }
    struct entry *es;
    size_t n = collect(c, c->bucket, l.prefix, &es);
    struct vitem *items = sf_xcalloc((size_t)l.max + 1, sizeof(*items));
    size_t count = 0;
    bool truncated = false;
    const char *last_cp = NULL;
    for (size_t i = 0; i < n && !truncated; i++) {
        int cmp = l.marker ? strcmp(es[i].key, l.marker) : 1;
        if (cmp < 0 || (cmp == 0 && !l.vid_marker))
            continue;
        char *cp = common_prefix(es[i].key, l.prefix, l.delim);
        if (cp) {
            if ((l.marker && strcmp(cp, l.marker) == 0) || (last_cp && strcmp(cp, last_cp) == 0)) {
                free(cp);
                continue;
            }
            if ((long)count == l.max) {
                truncated = l.max > 0;
                free(cp);
                break;
            }
            items[count].cprefix = cp;
            items[count].key = cp;
            last_cp = cp;
            count++;
            continue;
        }
        json_t *vs = versions_of(es[i].rec);
        size_t j = 0;
        if (cmp == 0) { /* resume after the marker's version */
            ssize_t at = version_index(es[i].rec, l.vid_marker);
            j = at >= 0 ? (size_t)at + 1 : json_array_size(vs);
        }
        for (; j < json_array_size(vs); j++) {
            if ((long)count == l.max) {
                truncated = l.max > 0;
                break;
            }
            items[count].key = es[i].key;
            items[count].version = json_array_get(vs, j);
            items[count].latest = j == 0;
            count++;
        }
    }
    struct s3_xw x;
    s3_xw_begin(&x, "ListVersionsResult");
    s3_xw_text(&x, "Name", c->bucket);
    s3_xw_key(&x, l.url, "Prefix", l.prefix);
    s3_xw_key(&x, l.url, "KeyMarker", l.marker ? l.marker : "");
    s3_xw_text(&x, "VersionIdMarker", l.vid_marker ? l.vid_marker : "");
    s3_xw_int(&x, "MaxKeys", l.max);
    if (l.delim)
        s3_xw_key(&x, l.url, "Delimiter", l.delim);
    if (l.url)
        s3_xw_text(&x, "EncodingType", "url");
    s3_xw_bool(&x, "IsTruncated", truncated);
    if (truncated && count) {
        struct vitem *last = &items[count - 1];
        s3_xw_key(&x, l.url, "NextKeyMarker", last->key);
        if (!last->cprefix)
            s3_xw_text(&x, "NextVersionIdMarker", str(last->version, "version_id"));
    }
    for (size_t i = 0; i < count; i++) {
        if (items[i].cprefix)
            continue;
        json_t *v = items[i].version;
        char t[32];
        s3_iso_time(json_integer_value(json_object_get(v, "last_modified_ms")), t);
        s3_xw_open(&x, is_marker(v) ? "DeleteMarker" : "Version");
        s3_xw_key(&x, l.url, "Key", items[i].key);
        s3_xw_text(&x, "VersionId", str(v, "version_id"));
        s3_xw_bool(&x, "IsLatest", items[i].latest);
        s3_xw_text(&x, "LastModified", t);
        if (!is_marker(v)) {
            s3_xw_text(&x, "ETag", str(v, "etag"));
            s3_xw_int(&x, "Size", json_integer_value(json_object_get(v, "size")));
            s3_xw_text(&x, "StorageClass", "STANDARD");
        }
        owner(&x, bucket);
        s3_xw_close(&x);
    }
    for (size_t i = 0; i < count; i++) {
        if (!items[i].cprefix)
            continue;
        s3_xw_open(&x, "CommonPrefixes");
        s3_xw_key(&x, l.url, "Prefix", items[i].cprefix);
        s3_xw_close(&x);
    }
    for (size_t i = 0; i < count; i++)
        free(items[i].cprefix);
    free(items);
    free(es);
    s3_xw_send(&x, c, 200);
}

/* ---------- start-up ---------- */

void s3_blobs_collect(struct s3_ctx *ctx, struct lc_store *st)
{
    json_t *used = json_object();
    s3_uploads_recover(st, used);
    const char *id;
    json_t *rec;
    json_object_foreach(lc_store_kind(st, S3_API, OBJECTS), id, rec)
    {
        json_t *vs = versions_of(rec);
        for (size_t i = 0; i < json_array_size(vs); i++) {
            const char *blob = str(json_array_get(vs, i), "blob");
            if (*blob)
                json_object_set_new(used, blob, json_true());
        }
    }
    DIR *d = opendir(ctx->blob_dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || json_object_get(used, e->d_name))
            continue;
        s3_blob_drop(ctx, e->d_name);
    }
    if (d)
        closedir(d);
    json_decref(used);
}

/* ---------- routing of /s3/{bucket}/{key+} ---------- */

/* partNumber without uploadId is a GET of one part of a multipart object */
static const char *const not_emulated[] = {"tagging", "acl", "partNumber", "restore", "select",
                                           "retention", "legal-hold", "attributes", "torrent",
                                           NULL};

void s3_object_request(struct s3_call *c)
{
    const char *m = c->req->method;
    if (strlen(c->key) > S3_MAX_KEY) {
        s3_fail(c, 400, "KeyTooLongError", "Your key is too long: at most %d bytes", S3_MAX_KEY);
        return;
    }
    if (s3_has_query(c, "uploads") || s3_has_query(c, "uploadId")) {
        s3_multipart_request(c);
        return;
    }
    for (size_t i = 0; not_emulated[i]; i++) {
        if (s3_has_query(c, not_emulated[i])) {
            s3_fail(c, 501, "NotImplemented",
                    "localcloud does not emulate the object subresource ?%s", not_emulated[i]);
            return;
        }
    }
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        get_object(c, strcmp(m, "HEAD") == 0);
    } else if (strcmp(m, "PUT") == 0) {
        const char *src = lc_req_header(c->req, "x-amz-copy-source");
        if (src)
            copy_object(c, src);
        else
            put_object(c);
    } else if (strcmp(m, "DELETE") == 0) {
        delete_object(c);
    } else {
        s3_fail(c, 405, "MethodNotAllowed",
                "The specified method is not allowed against this resource.");
    }
}

/*
 * s3_object: a small artifact in a bucket (a job's code, a config file),
 * uploaded with one PUT from a string (content) or a file (source, relative
 * to the description).
 *
 * Its identity is the SHA-256 of its bytes: the plan step hashes content or
 * source into the desired sha256, so that a changed file plans an update
 * even though the description did not change. The upload stores that hash
 * as the object's x-amz-meta-sha256 (with the stack's lineage and the
 * address, which adopt checks), and read reports it while the object's
 * ETag is still the one the upload got; an object changed by someone else
 * (a new ETag, no hash) is downloaded and hashed, so that remote edits show
 * as drift.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3.h"

static const struct sf_attr attrs[] = {
    {"bucket", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the bucket it is in"},
    {"key", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "its key (name) in the bucket"},
    {"content", SF_STRING, SF_OPTIONAL, NULL, "its bytes as text (this or source)"},
    {"source", SF_STRING, SF_OPTIONAL, NULL,
     "a file whose bytes it gets, relative to the description (this or content)"},
    {"content_type", SF_STRING, SF_OPTIONAL | SF_COMPUTED, NULL,
     "its media type; default from the key's extension, else application/octet-stream"},
    {"sha256", SF_STRING, SF_OPTIONAL | SF_COMPUTED, NULL,
     "SHA-256 (hex) of its bytes: the plan computes it from content or source"},
    {"access_key", SF_STRING, SF_OPTIONAL, NULL,
     "access key id for this object; default the provider's"},
    {"secret_key", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL,
     "secret key for this object; default the provider's"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "BUCKET/KEY"},
    {"etag", SF_STRING, SF_COMPUTED, NULL, "the store's ETag of the bytes"},
    {"version_id", SF_STRING, SF_COMPUTED, NULL, "the version the upload made (versioned buckets)"},
    {"size", SF_NUMBER, SF_COMPUTED, NULL, "its length in bytes"},
    {NULL, 0, 0, NULL, NULL},
};

/* Recorded as described, never read back. */
static const char *const local_attrs[] = {"content", "source", "access_key", "secret_key", NULL};

#define META_SHA256 "x-amz-meta-sha256"
#define META_LINEAGE "x-amz-meta-sparkform-lineage"
#define META_ADDRESS "x-amz-meta-sparkform-address"

/* ---------- the plan step ---------- */

static const char *type_by_extension(const char *name)
{
    static const char *const map[][2] = {
        {".txt", "text/plain"},
        {".csv", "text/csv"},
        {".json", "application/json"},
        {".yaml", "application/yaml"},
        {".yml", "application/yaml"},
        {".xml", "application/xml"},
        {".html", "text/html"},
        {".htm", "text/html"},
        {".css", "text/css"},
        {".js", "text/javascript"},
        {".py", "text/x-python"},
        {".sh", "text/x-shellscript"},
        {".sql", "application/sql"},
        {".md", "text/markdown"},
        {".conf", "text/plain"},
        {".properties", "text/plain"},
        {".jar", "application/java-archive"},
        {".zip", "application/zip"},
        {".gz", "application/gzip"},
        {".tgz", "application/gzip"},
        {".tar", "application/x-tar"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".svg", "image/svg+xml"},
        {".pdf", "application/pdf"},
    };
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(dot, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

/* A key HTTP clients would change on the way (they resolve "." and ".."
 * path segments), or one S3 refuses. NULL when it is fine. */
static const char *key_problem(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 1024)
        return "a key is 1 to 1024 bytes long";
    for (const char *p = key; p;) {
        size_t len = strcspn(p, "/");
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return "a key has no \".\" or \"..\" path segment (HTTP clients would resolve it)";
        p = p[len] ? p + len + 1 : NULL;
    }
    return NULL;
}

/* The bytes of desired's content or source; *data is the caller's to
 * free. */
static int desired_bytes(struct sf_call *c, const json_t *desired, char **data, size_t *len)
{
    const json_t *content = json_object_get(desired, "content");
    if (json_is_string(content)) {
        *len = json_string_length(content);
        *data = sf_xstrndup(json_string_value(content), *len);
    } else {
        char *path = sf_s3_path(c, sf_s3_str(desired, "source"));
        *data = sf_read_file(path, len);
        if (!*data) {
            sf_s3_error(c, SF_CLASS_INVALID, "source: cannot read %s: %s", path, strerror(errno));
            free(path);
            return -1;
        }
        free(path);
    }
    if (*len > SF_S3_MAX_OBJECT) {
        sf_s3_error(c, SF_CLASS_INVALID,
                    "%s: %zu bytes; s3_object uploads at most %zu (one PUT): larger artifacts "
                    "are not its job",
                    json_is_string(content) ? "content" : "source", *len, SF_S3_MAX_OBJECT);
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

static bool set(const json_t *v)
{
    return v && !json_is_null(v);
}

static int object_plan(struct sf_call *c, json_t *desired)
{
    const json_t *content = json_object_get(desired, "content");
    const json_t *source = json_object_get(desired, "source");
    if (set(content) == set(source)) {
        sf_s3_error(c, SF_CLASS_INVALID,
                    "%s: set exactly one of content (the bytes as text) and source (a file)",
                    set(content) ? "content and source are both set"
                                 : "neither content nor source is set");
        return -1;
    }
    const json_t *key = json_object_get(desired, "key");
    const char *problem;
    if (json_is_string(key) && (problem = key_problem(json_string_value(key)))) {
        sf_s3_error(c, SF_CLASS_INVALID, "key: \"%s\": %s", json_string_value(key), problem);
        return -1;
    }
    if (!set(json_object_get(desired, "content_type")) && json_is_string(key) &&
        !sf_value_has_unknown(source)) {
        const char *ct = type_by_extension(json_string_value(key));
        if (!ct && json_is_string(source))
            ct = type_by_extension(json_string_value(source));
        json_object_set_new(desired, "content_type",
                            json_string(ct ? ct : "application/octet-stream"));
    }
    /* Inputs not known yet (a file named by another resource's output)
     * leave the hash to the apply. */
    if (sf_value_has_unknown(content) || sf_value_has_unknown(source))
        return 0;
    char *data = NULL;
    size_t len = 0;
    if (desired_bytes(c, desired, &data, &len) < 0)
        return -1;
    char hex[65];
    sf_s3_sha256_hex(data, len, hex);
    free(data);
    const json_t *given = json_object_get(desired, "sha256");
    if (json_is_string(given) && strcasecmp(json_string_value(given), hex) != 0) {
        sf_s3_error(c, SF_CLASS_INVALID,
                    "sha256: \"%s\" is not the SHA-256 of the %s (%s); leave sha256 out, the plan "
                    "computes it",
                    json_string_value(given), set(content) ? "content" : "source file", hex);
        return -1;
    }
    json_object_set_new(desired, "sha256", json_string(hex));
    return 0;
}

/* ---------- reading ---------- */

/* The attributes recorded for an object the store holds: what it answered,
 * and the attributes of how it was described and reached (content,
 * source, keys) carried over from described. */
static json_t *object_attrs(const char *bucket, const char *key, const char *ct, const char *sha,
                            const char *etag, long long size, const char *vid,
                            const json_t *described)
{
    char *id = sf_asprintf("%s/%s", bucket, key);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "bucket", bucket, "key", key, "id",
                          id, "content_type", ct, "sha256", sha, "etag", etag, "size",
                          (json_int_t)size);
    free(id);
    json_object_set_new(o, "version_id",
                        vid && strcmp(vid, "null") != 0 ? json_string(vid) : json_null());
    for (size_t i = 0; local_attrs[i]; i++) {
        json_t *v = json_object_get(described, local_attrs[i]);
        if (set(v))
            json_object_set_new(o, local_attrs[i], sf_value_copy(v));
    }
    return o;
}

/* bucket and key of recorded values, or of an id "BUCKET/KEY" (import). */
static int locate(struct sf_call *c, const json_t *v, char **bucket, char **key)
{
    const char *b = sf_s3_str(v, "bucket"), *k = sf_s3_str(v, "key");
    if (*b && *k) {
        *bucket = sf_xstrdup(b);
        *key = sf_xstrdup(k);
        return 0;
    }
    const char *id = sf_s3_str(v, "id");
    const char *slash = strchr(id, '/');
    if (!slash || slash == id || !slash[1]) {
        sf_s3_error(c, SF_CLASS_INVALID, "\"%s\" does not name an object: expected BUCKET/KEY", id);
        return -1;
    }
    *bucket = sf_xstrndup(id, (size_t)(slash - id));
    *key = sf_xstrdup(slash + 1);
    return 0;
}

/* An ETag without its quotes; caller frees. */
static char *etag_of(const struct sf_http_resp *rs)
{
    char *e = sf_http_header(rs, "ETag");
    if (!e)
        return sf_xstrdup("");
    size_t n = strlen(e);
    if (n >= 2 && e[0] == '"' && e[n - 1] == '"') {
        memmove(e, e + 1, n - 2);
        e[n - 2] = '\0';
    }
    return e;
}

/*
 * What the object at bucket/key is now: *out NULL when it is gone. base
 * (recorded or desired values) gives what is never read back and the ETag
 * the last upload got. *meta (when not NULL) receives the sparkform
 * metadata {lineage, address}.
 */
static int observe(struct sf_call *c, const struct sf_s3_keys *k, const char *bucket,
                   const char *key, const json_t *base, json_t **out, json_t **meta)
{
    *out = NULL;
    if (meta)
        *meta = NULL;
    struct sf_s3_req head = {.method = "HEAD", .bucket = bucket, .key = key};
    struct sf_s3_resp r;
    if (sf_s3_do(c, k, &head, "reading the object", SF_S3_OK404, &r) < 0) {
        sf_s3_resp_free(&r);
        return -1;
    }
    if (r.http.status == 404) {
        sf_s3_resp_free(&r);
        return 0;
    }
    char *etag = etag_of(&r.http);
    char *sha = sf_http_header(&r.http, META_SHA256);
    char *ct = sf_http_header(&r.http, "Content-Type");
    char *vid = sf_http_header(&r.http, "x-amz-version-id");
    char *length = sf_http_header(&r.http, "Content-Length");
    if (meta) {
        char *l = sf_http_header(&r.http, META_LINEAGE), *a = sf_http_header(&r.http, META_ADDRESS);
        *meta = json_pack("{s:s, s:s}", "lineage", l ? l : "", "address", a ? a : "");
        free(l);
        free(a);
    }
    sf_s3_resp_free(&r);
    long long size = length ? strtoll(length, NULL, 10) : 0;
    int rc = 0;
    /* The stored hash stands while the bytes are the ones uploaded with it
     * (the same ETag); otherwise the bytes are hashed here. An object too
     * large to download reads as a hash nobody asked for, so an update
     * uploads the described bytes again. */
    const char *had = sf_s3_str(base, "etag");
    if (!sha || !*had || strcmp(had, etag) != 0) {
        free(sha);
        sha = NULL;
        if (size >= 0 && (unsigned long long)size <= SF_S3_MAX_OBJECT) {
            struct sf_s3_req get = {.method = "GET", .bucket = bucket, .key = key};
            if (sf_s3_do(c, k, &get, "reading the object's bytes", SF_S3_OK404, &r) < 0) {
                rc = -1;
            } else if (r.http.status != 404) {
                char hex[65];
                sf_s3_sha256_hex(r.http.body, r.http.len, hex);
                sha = sf_xstrdup(hex);
                size = (long long)r.http.len;
                free(etag);
                etag = etag_of(&r.http);
            }
            sf_s3_resp_free(&r);
        }
        if (!sha)
            sha = sf_xstrdup("");
    }
    if (rc == 0) {
        *out = object_attrs(bucket, key, ct ? ct : "", sha, etag, size, vid, base);
    }
    free(etag);
    free(sha);
    free(ct);
    free(vid);
    free(length);
    return rc;
}

static int object_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    struct sf_s3_keys k;
    char *bucket, *key;
    if (sf_s3_keys(c, prior, &k) < 0 || locate(c, prior, &bucket, &key) < 0)
        return -1;
    int rc = observe(c, &k, bucket, key, prior, out, NULL);
    free(bucket);
    free(key);
    return rc;
}

static int object_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    struct sf_s3_keys k;
    char *bucket, *key;
    if (sf_s3_keys(c, desired, &k) < 0 || locate(c, desired, &bucket, &key) < 0)
        return -1;
    json_t *got = NULL, *meta = NULL;
    int rc = observe(c, &k, bucket, key, desired, &got, &meta);
    if (rc == 0 && got && c->lineage && strcmp(sf_s3_str(meta, "lineage"), c->lineage) == 0 &&
        strcmp(sf_s3_str(meta, "address"), c->address) == 0)
        *out = json_incref(got);
    json_decref(got);
    json_decref(meta);
    free(bucket);
    free(key);
    return rc;
}

/* ---------- writing ---------- */

static int upload(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    struct sf_s3_keys k;
    if (sf_s3_keys(c, desired, &k) < 0)
        return -1;
    const char *bucket = sf_s3_str(desired, "bucket"), *key = sf_s3_str(desired, "key");
    const char *problem = key_problem(key);
    if (problem) {
        sf_s3_error(c, SF_CLASS_INVALID, "key: \"%s\": %s", key, problem);
        return -1;
    }
    char *data = NULL;
    size_t len = 0;
    if (desired_bytes(c, desired, &data, &len) < 0)
        return -1;
    char hex[65];
    sf_s3_sha256_hex(data, len, hex);
    const char *planned = sf_s3_str(desired, "sha256");
    if (*planned && strcasecmp(planned, hex) != 0) {
        sf_s3_error(c, SF_CLASS_CONFLICT,
                    "the %s changed since the plan (its SHA-256 is %s, the plan had %s): make a "
                    "new plan",
                    set(json_object_get(desired, "content")) ? "content" : "source file", hex,
                    planned);
        free(data);
        return -1;
    }
    const char *ct = sf_s3_str(desired, "content_type");
    if (!*ct)
        ct = type_by_extension(key) ? type_by_extension(key) : "application/octet-stream";
    char *h_ct = sf_asprintf("Content-Type: %s", ct);
    char *h_sha = sf_asprintf(META_SHA256 ": %s", hex);
    char *h_lin = sf_asprintf(META_LINEAGE ": %s", c->lineage ? c->lineage : "");
    char *h_adr = sf_asprintf(META_ADDRESS ": %s", c->address);
    const char *headers[] = {h_ct, h_sha, h_lin, h_adr, NULL};
    struct sf_s3_req rq = {
        .method = "PUT",
        .bucket = bucket,
        .key = key,
        .headers = headers,
        .body = data,
        .body_len = len,
        .md5 = true,
    };
    struct sf_s3_resp r;
    int rc = sf_s3_do(c, &k, &rq, "uploading the object", 0, &r);
    if (rc == 0) {
        char *etag = etag_of(&r.http);
        char *vid = sf_http_header(&r.http, "x-amz-version-id");
        *out = object_attrs(bucket, key, ct, hex, etag, (long long)len, vid, desired);
        free(etag);
        free(vid);
    }
    sf_s3_resp_free(&r);
    free(h_ct);
    free(h_sha);
    free(h_lin);
    free(h_adr);
    free(data);
    return rc;
}

static int object_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    /* A PUT to a key is idempotent: a lost answer is settled by sending it
     * again (lib/http does), and a killed run's object is overwritten
     * with the same bytes. */
    return upload(c, desired, out);
}

static int object_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                         json_t **out)
{
    *out = NULL;
    bool same = true;
    for (const struct sf_attr *a = attrs; a->name && same; a++) {
        if (strcmp(a->name, "access_key") == 0 || strcmp(a->name, "secret_key") == 0 ||
            (a->flags & SF_COMPUTED && !(a->flags & SF_OPTIONAL)))
            continue;
        same = sf_value_equal(json_object_get(prior, a->name), json_object_get(desired, a->name));
    }
    if (!same)
        return upload(c, desired, out);
    /* Only the keys changed: recorded, nothing to send. */
    json_t *o = sf_value_copy(prior);
    static const char *const keys[] = {"access_key", "secret_key"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(desired, keys[i]);
        if (set(v))
            json_object_set_new(o, keys[i], sf_value_copy(v));
        else
            json_object_del(o, keys[i]);
    }
    *out = o;
    return 0;
}

static int object_delete(struct sf_call *c, const json_t *prior)
{
    struct sf_s3_keys k;
    char *bucket, *key;
    if (sf_s3_keys(c, prior, &k) < 0 || locate(c, prior, &bucket, &key) < 0)
        return -1;
    struct sf_s3_req rq = {.method = "DELETE", .bucket = bucket, .key = key};
    struct sf_s3_resp r;
    /* 404 covers a bucket that is gone too (NoSuchBucket). */
    int rc = sf_s3_do(c, &k, &rq, "deleting the object", SF_S3_OK404, &r);
    sf_s3_resp_free(&r);
    free(bucket);
    free(key);
    return rc;
}

const struct sf_resource_type sf_s3_object_type = {
    .name = "s3_object",
    .doc = "a small object (an artifact) in an S3 bucket, from a string or a file",
    .attrs = attrs,
    .read = object_read,
    .adopt = object_adopt,
    .create = object_create,
    .update = object_update,
    .delete = object_delete,
    .plan = object_plan,
    .timeouts = {.create = 600, .update = 600, .delete = 300, .read = 300},
};

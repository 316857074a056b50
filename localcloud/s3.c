/*
 * S3 under /s3, path-style (/s3/{bucket}/{key}): the entry of every S3
 * request. It verifies the AWS Signature Version 4 of the request with
 * lib/sigv4.c against the EC2 credentials identity issued (their
 * access key and secret are the S3 keys, their project owns the buckets),
 * checks Content-MD5, then hands the request to the bucket operations
 * (s3_buckets.c) or the object operations (s3_objects.c, which pass
 * multipart uploads on to s3_multipart.c).
 *
 * Every route is LC_ROUTE_UNLOCKED: the signature check and the object
 * data (bodies of up to 64 MiB, objects assembled from parts larger) must
 * not hold the world lock. Bucket
 * operations and listings run under it; object writes take a per-key lock
 * first, so that a conditional PUT (If-None-Match: *) checks and writes as
 * one step against other writers of the same key, and then take the world
 * lock only to check and to commit. The shared pieces (errors, bucket
 * lookup, key locks, data files, times) live here too; see s3.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "apis.h"
#include "identity.h"
#include "s3.h"
#include "sigv4.h"
#include "util.h"

/* ---------- errors ---------- */

static const char *default_code(unsigned status)
{
    switch (status) {
    case 400: return "InvalidRequest";
    case 403: return "AccessDenied";
    case 404: return "NoSuchKey";
    case 405: return "MethodNotAllowed";
    case 409: return "OperationAborted";
    case 411: return "MissingContentLength";
    case 412: return "PreconditionFailed";
    case 413: return "EntityTooLarge";
    case 416: return "InvalidRange";
    case 429: return "SlowDown";
    case 501: return "NotImplemented";
    case 503: return "ServiceUnavailable";
    default: return status >= 500 ? "InternalError" : "InvalidRequest";
    }
}

/* The core's errors (413, faults, malformed URIs) have no request at hand:
 * no Resource, a request id of their own. */
static void error_shape(struct lc_response *resp, unsigned status, const char *type,
                        const char *msg)
{
    char *rid = sf_random_hex(8);
    for (char *p = rid; *p; p++)
        *p = (char)(*p >= 'a' ? *p - 32 : *p);
    size_t n;
    char *doc = s3_xml_error(type ? type : default_code(status), msg, NULL, rid, NULL, &n);
    s3_resp_take(resp, status, "application/xml", doc, n);
    lc_resp_header(resp, "x-amz-request-id", rid);
    free(rid);
}

static void fail_v(struct s3_call *c, unsigned status, const char *code, const char *const *extra,
                   const char *fmt, va_list ap)
{
    char *msg = sf_vasprintf(fmt, ap);
    const char *res = c->req->path + strlen(S3_PREFIX);
    size_t n;
    char *doc = s3_xml_error(code, msg, *res ? res : "/", c->request_id, extra, &n);
    s3_resp_take(c->resp, status, "application/xml", doc, n);
    free(msg);
}

void s3_fail(struct s3_call *c, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(c, status, code, NULL, fmt, ap);
    va_end(ap);
}

void s3_fail_extra(struct s3_call *c, unsigned status, const char *code, const char *const *extra,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(c, status, code, extra, fmt, ap);
    va_end(ap);
}

/* ---------- shared helpers ---------- */

struct lc_store *s3_store(struct s3_call *c)
{
    return lc_server_store(c->req->srv);
}

json_t *s3_find_bucket(struct s3_call *c, const char *name)
{
    json_t *b = lc_store_get(s3_store(c), S3_API, "buckets", name);
    if (!b) {
        const char *extra[] = {"BucketName", name, NULL};
        s3_fail_extra(c, 404, "NoSuchBucket", extra, "The specified bucket does not exist");
        return NULL;
    }
    const char *owner = json_string_value(json_object_get(b, "project_id"));
    if (!owner || strcmp(owner, c->project_id) != 0) {
        s3_fail(c, 403, "AccessDenied", "Access Denied: the bucket belongs to another project");
        return NULL;
    }
    return b;
}

char *s3_object_id(const char *bucket, const char *key)
{
    return sf_asprintf("%s/%s", bucket, key);
}

int s3_save(struct s3_call *c, const char *kind, const char *id, json_t *obj)
{
    if (lc_store_put(s3_store(c), S3_API, kind, id, obj) == 0)
        return 0;
    s3_fail(c, 500, "InternalError", "We encountered an internal error: cannot save: %s",
            strerror(errno));
    return -1;
}

int s3_remove(struct s3_call *c, const char *kind, const char *id)
{
    if (lc_store_del(s3_store(c), S3_API, kind, id) == 0)
        return 0;
    s3_fail(c, 500, "InternalError", "We encountered an internal error: cannot delete: %s",
            strerror(errno));
    return -1;
}

static ssize_t busy_index(struct s3_ctx *ctx, const char *id)
{
    for (size_t i = 0; i < ctx->nbusy; i++)
        if (strcmp(ctx->busy[i], id) == 0)
            return (ssize_t)i;
    return -1;
}

void s3_key_lock(struct s3_ctx *ctx, const char *bucket, const char *key)
{
    char *id = s3_object_id(bucket, key);
    pthread_mutex_lock(&ctx->mu);
    while (busy_index(ctx, id) >= 0)
        pthread_cond_wait(&ctx->cv, &ctx->mu);
    if (ctx->nbusy == ctx->capbusy) {
        ctx->capbusy = ctx->capbusy ? 2 * ctx->capbusy : 8;
        ctx->busy = sf_xrealloc(ctx->busy, ctx->capbusy * sizeof(char *));
    }
    ctx->busy[ctx->nbusy++] = id;
    pthread_mutex_unlock(&ctx->mu);
}

void s3_key_unlock(struct s3_ctx *ctx, const char *bucket, const char *key)
{
    char *id = s3_object_id(bucket, key);
    pthread_mutex_lock(&ctx->mu);
    ssize_t i = busy_index(ctx, id);
    if (i >= 0) {
        free(ctx->busy[i]);
        ctx->busy[i] = ctx->busy[--ctx->nbusy];
    }
    pthread_cond_broadcast(&ctx->cv);
    pthread_mutex_unlock(&ctx->mu);
    free(id);
}

char *s3_blob_path(struct s3_ctx *ctx, const char *blob)
{
    return sf_asprintf("%s/%s", ctx->blob_dir, blob);
}

void s3_blob_drop(struct s3_ctx *ctx, const char *blob)
{
    if (!blob || !*blob)
        return;
    char *p = s3_blob_path(ctx, blob);
    unlink(p);
    free(p);
}

int s3_blob_create(struct s3_ctx *ctx, char **blob, int *fd)
{
    *blob = sf_random_hex(16);
    char *p = s3_blob_path(ctx, *blob);
    *fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    free(p);
    if (*fd >= 0)
        return 0;
    int e = errno;
    free(*blob);
    *blob = NULL;
    errno = e;
    return -1;
}

int s3_blob_sync(struct s3_ctx *ctx, int fd)
{
    int rc = fsync(fd);
    int e = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0) {
        /* the new name must survive a crash as well as the bytes */
        int dfd = open(ctx->blob_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0) {
            rc = -1;
            e = errno;
        }
        if (dfd >= 0)
            close(dfd);
    }
    errno = e;
    return rc;
}

char *s3_etag(const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, EVP_md5(), NULL);
    char *h = lc_hex(md, n);
    char *etag = sf_asprintf("\"%s\"", h);
    free(h);
    return etag;
}

void s3_iso_time(long long ms, char buf[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

void s3_http_time(long long ms, char buf[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(buf, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int s3_parse_http_time(const char *s, long long *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    *ms = (long long)timegm(&tm) * 1000;
    return 0;
}

void s3_resp_take(struct lc_response *resp, unsigned status, const char *content_type, char *data,
                  size_t len)
{
    lc_resp_empty(resp, status);
    resp->body = data;
    resp->len = len;
    resp->content_type = content_type ? sf_xstrdup(content_type) : NULL;
}

bool s3_has_query(struct s3_call *c, const char *name)
{
    for (size_t i = 0; i < c->req->nquery; i++)
        if (strcmp(c->req->query_keys[i], name) == 0)
            return true;
    return false;
}

/* ---------- authentication ---------- */

struct header_list {
    struct sf_sigv4_header *h;
    size_t n, cap;
};

static void add_header(void *cls, const char *name, const char *value)
{
    struct header_list *l = cls;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->h = sf_xrealloc(l->h, l->cap * sizeof(*l->h));
    }
    l->h[l->n].name = name;
    l->h[l->n].value = value ? value : "";
    l->n++;
}

/* 0 with c->access, user_id and project_id set, or -1 after answering. */
static int authenticate(struct s3_call *c)
{
    struct lc_request *req = c->req;
    struct header_list hl = {0};
    lc_req_headers_each(req, add_header, &hl);
    struct sf_sigv4_request rq = {
        .method = req->method,
        .path = req->raw_path,
        .query = req->raw_query,
        .headers = hl.h,
        .n_headers = hl.n,
    };
    struct sf_sigv4_verify_opts o = {
        .lookup = lc_identity_ec2_lookup,
        .lookup_ctx = req->srv,
        .region = NULL, /* any region: see README, "S3" */
        .service = "s3",
        .now = time(NULL),
        .body = req->body,
        .body_len = req->body_len,
    };
    struct sf_sigv4_result res;
    enum sf_sigv4_status st = sf_sigv4_verify(&rq, &o, &res);
    free(hl.h);
    int rc = 0;
    if (st != SF_SIGV4_OK) {
        /* S3 shows what it signed, so that clients can find their mistake */
        const char *extra[7] = {NULL};
        size_t k = 0;
        if (st == SF_SIGV4_SIGNATURE_DOES_NOT_MATCH && res.access_key) {
            extra[k++] = "AWSAccessKeyId";
            extra[k++] = res.access_key;
            if (res.string_to_sign) {
                extra[k++] = "StringToSign";
                extra[k++] = res.string_to_sign;
                extra[k++] = "CanonicalRequest";
                extra[k++] = res.canonical_request;
            }
        } else if (st == SF_SIGV4_INVALID_ACCESS_KEY_ID && res.access_key) {
            extra[k++] = "AWSAccessKeyId";
            extra[k++] = res.access_key;
        }
        s3_fail_extra(c, (unsigned)sf_sigv4_status_http(st), sf_sigv4_status_code(st), extra, "%s",
                      res.message ? res.message : "Access Denied");
        rc = -1;
    } else if (lc_identity_ec2_secret(req->srv, res.access_key, NULL, &c->user_id,
                                      &c->project_id) < 0) {
        /* deleted between the check and now */
        s3_fail(c, 403, "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.");
        rc = -1;
    } else {
        c->access = sf_xstrdup(res.access_key);
    }
    sf_sigv4_result_free(&res);
    return rc;
}

/* Content-MD5, when sent, must be the base64 MD5 of the body. */
static int check_md5(struct s3_call *c)
{
    const char *h = lc_req_header(c->req, "Content-MD5");
    if (!h)
        return 0;
    size_t n = 0;
    unsigned char *want = lc_unbase64(h, &n);
    if (!want || n != 16) {
        free(want);
        s3_fail(c, 400, "InvalidDigest", "The Content-MD5 you specified is not valid.");
        return -1;
    }
    unsigned char got[EVP_MAX_MD_SIZE];
    unsigned glen = 0;
    EVP_Digest(c->req->body, c->req->body_len, got, &glen, EVP_md5(), NULL);
    int rc = 0;
    if (glen != 16 || memcmp(got, want, 16) != 0) {
        s3_fail(c, 400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
        rc = -1;
    }
    free(want);
    return rc;
}

/* ---------- routing ---------- */

enum level { SERVICE, BUCKET, OBJECT };

static void serve(struct lc_request *req, struct lc_response *resp, enum level lv)
{
    struct s3_call c = {.req = req, .resp = resp, .ctx = req->ctx};
    char *rid = sf_random_hex(8);
    for (size_t i = 0; rid[i] && i < sizeof(c.request_id) - 1; i++)
        c.request_id[i] = (char)(rid[i] >= 'a' ? rid[i] - 32 : rid[i]);
    free(rid);
    c.bucket = lv >= BUCKET ? lc_req_param(req, "bucket") : NULL;
    c.key = lv == OBJECT ? lc_req_param(req, "key") : NULL;
    if (authenticate(&c) == 0 && check_md5(&c) == 0) {
        switch (lv) {
        case SERVICE:
            lc_server_lock(req->srv);
            s3_list_buckets(&c);
            lc_server_unlock(req->srv);
            break;
        case BUCKET:
            lc_server_lock(req->srv);
            s3_bucket_request(&c);
            lc_server_unlock(req->srv);
            break;
        case OBJECT:
            s3_object_request(&c);
            break;
        }
    }
    lc_resp_header(resp, "x-amz-request-id", c.request_id);
    lc_resp_header(resp, "x-amz-id-2", c.request_id);
    free(c.access);
    free(c.user_id);
    free(c.project_id);
}

static void on_service(struct lc_request *req, struct lc_response *resp)
{
    serve(req, resp, SERVICE);
}

static void on_bucket(struct lc_request *req, struct lc_response *resp)
{
    serve(req, resp, BUCKET);
}

static void on_object(struct lc_request *req, struct lc_response *resp)
{
    serve(req, resp, OBJECT);
}

static void free_ctx(void *p)
{
    struct s3_ctx *ctx = p;
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->nbusy; i++)
        free(ctx->busy[i]);
    free(ctx->busy);
    free(ctx->blob_dir);
    pthread_mutex_destroy(&ctx->mu);
    pthread_cond_destroy(&ctx->cv);
    free(ctx);
    xmlCleanupParser();
}

static const struct lc_route routes[] = {
    {"GET", "", on_service, LC_ROUTE_UNLOCKED},
    {"*", "/{bucket}", on_bucket, LC_ROUTE_UNLOCKED},
    {"*", "/{bucket}/{key+}", on_object, LC_ROUTE_UNLOCKED},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api api = {
    .name = S3_API,
    .prefix = S3_PREFIX,
    .routes = routes,
    .error = error_shape,
    .token_auth = false, /* SigV4 instead, checked by serve() */
    .max_body = S3_MAX_BODY,
    .free_ctx = free_ctx,
};

int lc_s3_register(struct lc_server *srv)
{
    xmlInitParser(); /* before the HTTP threads exist */
    struct s3_ctx *ctx = sf_xcalloc(1, sizeof(*ctx));
    ctx->srv = srv;
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_cond_init(&ctx->cv, NULL);
    struct lc_store *st = lc_server_store(srv);
    ctx->blob_dir = sf_asprintf("%s/s3-data", lc_store_dir(st));
    if (mkdir(ctx->blob_dir, 0700) < 0 && errno != EEXIST)
        fprintf(stderr, "localcloud: warning: cannot create %s: %s (object uploads will fail)\n",
                ctx->blob_dir, strerror(errno));
    s3_blobs_collect(ctx, st);
    if (lc_server_add_api(srv, &api, ctx) < 0) {
        free_ctx(ctx);
        return -1;
    }
    return 0;
}

/*
 * The "s3" provider's table, settings and request helper. configure reads
 * the providers.s3 block (else AWS_* from the environment), finds the
 * endpoint (the setting, else the object-store endpoint of the cloud
 * provider's catalog, asked through setup->peer) and keeps one HTTP client
 * for the run. Every request of both types goes through sf_s3_do, which
 * signs each attempt anew with lib/sigv4 (libcurl's own AWS signer
 * canonicalises queries differently from S3) and turns S3's XML errors
 * into diagnostics with a class, so that nothing above reads messages.
 *
 * Keys: a resource may carry its own access_key / secret_key (written from
 * a cloud_s3_credentials resource of the same stack, which the providers:
 * block cannot refer to); otherwise the provider's are used.
 */
#include "base64.h"
#include "s3.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloud/catalog.h"
#include "sigv4.h"

static const struct sf_provider_key keys[] = {
    {"endpoint", SF_STRING, 0, "AWS_ENDPOINT_URL_S3",
     "S3 endpoint URL; default: the object-store endpoint of the cloud provider's catalog"},
    {"region", SF_STRING, 0, "AWS_REGION",
     "region the signatures name; default \"" SF_S3_DEFAULT_REGION "\""},
    {"path_style", SF_BOOL, 0, NULL,
     "bucket in the URL's path (default true); false: in the host name"},
    {"access_key", SF_STRING, 0, "AWS_ACCESS_KEY_ID",
     "access key id, unless a resource gives its own"},
    {"secret_key", SF_STRING, SF_SENSITIVE, "AWS_SECRET_ACCESS_KEY",
     "secret key (a secret: environment or sensitive variable only)"},
    {"ca_file", SF_STRING, 0, "AWS_CA_BUNDLE",
     "extra CA bundle (PEM), relative to the description"},
    {NULL, 0, 0, NULL, NULL},
};

const char *sf_s3_str(const json_t *v, const char *name)
{
    const char *s = json_string_value(json_object_get(v, name));
    return s ? s : "";
}

void sf_s3_sha256_hex(const void *data, size_t len, char out[65])
{
    sf_sigv4_sha256_hex(data, len, out);
}

char *sf_s3_path(const struct sf_call *c, const char *path)
{
    if (path[0] == '/' || !c->config_dir || !c->config_dir[0])
        return sf_xstrdup(path);
    size_t n = strlen(c->config_dir);
    return sf_asprintf("%s%s%s", c->config_dir, c->config_dir[n - 1] == '/' ? "" : "/", path);
}

/* ---------- endpoint and targets ---------- */

int sf_s3_endpoint_parse(const char *url, bool path_style, struct sf_s3_endpoint *ep,
                         const char **why)
{
    memset(ep, 0, sizeof(*ep));
    const char *rest;
    const char *scheme;
    if (strncasecmp(url, "https://", 8) == 0) {
        scheme = "https";
        rest = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        scheme = "http";
        rest = url + 7;
    } else {
        *why = "expected a URL that starts with https:// or http://";
        return -1;
    }
    if (strpbrk(rest, "?#@ ")) {
        *why = "expected a URL without a query, fragment, user name or spaces";
        return -1;
    }
    size_t hlen = strcspn(rest, "/");
    if (hlen == 0) {
        *why = "the URL has no host name";
        return -1;
    }
    char *host = sf_xstrndup(rest, hlen);
    /* The Host header leaves the scheme's default port out; so must the
     * signature, or the two disagree. */
    const char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']')) {
        const char *port = colon + 1;
        if (!*port || strspn(port, "0123456789") != strlen(port)) {
            free(host);
            *why = "the URL's port is not a number";
            return -1;
        }
        if ((strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0) ||
            (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0))
            host[colon - host] = '\0';
    }
    char *base = sf_xstrdup(rest + hlen);
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        base[--blen] = '\0';
    ep->scheme = sf_xstrdup(scheme);
    ep->host = host;
    ep->base = base;
    ep->path_style = path_style;
    return 0;
}

void sf_s3_endpoint_free(struct sf_s3_endpoint *ep)
{
    free(ep->scheme);
    free(ep->host);
    free(ep->base);
    memset(ep, 0, sizeof(*ep));
}

void sf_s3_target(const struct sf_s3_endpoint *ep, const char *bucket, const char *key,
                  const char *query, struct sf_s3_target *t)
{
    struct sf_buf path = {0};
    sf_buf_puts(&path, ep->base);
    if (bucket && ep->path_style) {
        char *b = sf_sigv4_uri_encode(bucket, strlen(bucket), false);
        sf_buf_printf(&path, "/%s", b);
        free(b);
        t->host = sf_xstrdup(ep->host);
    } else {
        t->host = bucket ? sf_asprintf("%s.%s", bucket, ep->host) : sf_xstrdup(ep->host);
    }
    if (key) {
        char *k = sf_sigv4_uri_encode(key, strlen(key), true);
        sf_buf_printf(&path, "/%s", k);
        free(k);
    } else if (path.len == 0 || !bucket || !ep->path_style) {
        sf_buf_puts(&path, "/");
    }
    t->path = sf_buf_take(&path);
    t->query = query && *query ? query : NULL;
    t->url = sf_asprintf("%s://%s%s%s%s", ep->scheme, t->host, t->path, t->query ? "?" : "",
                         t->query ? t->query : "");
}

void sf_s3_target_free(struct sf_s3_target *t)
{
    free(t->url);
    free(t->host);
    free(t->path);
    memset(t, 0, sizeof(*t));
}

/* ---------- signing ---------- */

int sf_s3_sign(const struct sf_s3_target *t, const char *method, const char *const *headers,
               const char *payload_sha256, const struct sf_s3_keys *k, const char *region,
               time_t now, struct sf_buf *out)
{
    size_t n = 1;
    for (const char *const *h = headers; h && *h; h++)
        n++;
    struct sf_sigv4_header *hs = sf_xcalloc(n, sizeof(*hs));
    char **names = sf_xcalloc(n, sizeof(char *));
    hs[0] = (struct sf_sigv4_header){.name = "Host", .value = t->host};
    size_t i = 1;
    int rc = 0;
    for (const char *const *h = headers; h && *h; h++, i++) {
        const char *colon = strchr(*h, ':');
        if (!colon) {
            rc = -1;
            break;
        }
        names[i] = sf_xstrndup(*h, (size_t)(colon - *h));
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        hs[i] = (struct sf_sigv4_header){.name = names[i], .value = v};
    }
    char *auth = NULL, *date = NULL;
    if (rc == 0) {
        struct sf_sigv4_request rq = {
            .method = method,
            .path = t->path,
            .query = t->query,
            .headers = hs,
            .n_headers = n,
            .payload_sha256 = payload_sha256,
        };
        rc = sf_sigv4_sign(&rq, k->access, k->secret, region, "s3", now, &auth, &date);
    }
    if (rc == 0)
        sf_buf_printf(out,
                      "Host: %s\nX-Amz-Date: %s\nX-Amz-Content-SHA256: %s\nAuthorization: %s\n",
                      t->host, date, payload_sha256, auth);
    for (size_t j = 0; j < n; j++)
        free(names[j]);
    free(names);
    free(hs);
    free(auth);
    free(date);
    return rc;
}

/* ---------- keys ---------- */

int sf_s3_keys(struct sf_call *c, const json_t *v, struct sf_s3_keys *k)
{
    const struct sf_s3_ctx *x = c->ctx;
    const char *a = sf_s3_str(v, "access_key"), *s = sf_s3_str(v, "secret_key");
    if (*a && *s) {
        *k = (struct sf_s3_keys){.access = a, .secret = s};
        return 0;
    }
    if (*a || *s) {
        sf_diag_add_class(c->diags, SF_CLASS_INVALID, NULL, c->address,
                          "%s is set without %s: a resource gives both S3 keys or neither",
                          *a ? "access_key" : "secret_key", *a ? "secret_key" : "access_key");
        return -1;
    }
    if (x->access_key && x->secret_key) {
        *k = (struct sf_s3_keys){.access = x->access_key, .secret = x->secret_key};
        return 0;
    }
    sf_diag_add_class(c->diags, SF_CLASS_UNAUTHORIZED, NULL, c->address,
                      "no S3 keys: set access_key and secret_key on the resource (e.g. from a "
                      "cloud_s3_credentials resource), or providers.s3.access_key and "
                      "secret_key, or the environment variables AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY");
    return -1;
}

/* ---------- requests ---------- */

void sf_s3_resp_free(struct sf_s3_resp *r)
{
    sf_http_resp_free(&r->http);
    free(r->code);
    r->code = NULL;
}

bool sf_s3_not_implemented(const struct sf_s3_resp *r)
{
    return r->http.status == 501 || r->http.status == 405 ||
           (r->code && strcmp(r->code, "NotImplemented") == 0);
}

enum sf_diag_class sf_s3_error_class(long status, const char *code)
{
    static const struct {
        const char *code;
        enum sf_diag_class cls;
    } codes[] = {
        {"SlowDown", SF_CLASS_RETRYABLE},
        {"ServiceUnavailable", SF_CLASS_RETRYABLE},
        {"InternalError", SF_CLASS_RETRYABLE},
        {"RequestTimeout", SF_CLASS_RETRYABLE},
        {"OperationAborted", SF_CLASS_CONFLICT},
        {"BucketNotEmpty", SF_CLASS_CONFLICT},
        {"BucketAlreadyExists", SF_CLASS_CONFLICT},
        {"BucketAlreadyOwnedByYou", SF_CLASS_CONFLICT},
        {"NoSuchBucket", SF_CLASS_NOT_FOUND},
        {"NoSuchKey", SF_CLASS_NOT_FOUND},
        {"AccessDenied", SF_CLASS_UNAUTHORIZED},
        {"InvalidAccessKeyId", SF_CLASS_UNAUTHORIZED},
        {"SignatureDoesNotMatch", SF_CLASS_UNAUTHORIZED},
        {"RequestTimeTooSkewed", SF_CLASS_UNAUTHORIZED},
    };
    for (size_t i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i].code) == 0)
            return codes[i].cls;
    struct sf_http_resp rs = {.status = status};
    return sf_http_class(&rs);
}

/* What every attempt signs with (see before_attempt). */
struct signing {
    const struct sf_s3_target *t;
    const char *method;
    const char *const *headers;
    const char *payload;
    const struct sf_s3_keys *k;
    const char *region;
};

/* Each attempt is signed at its own time: a retry after a long backoff
 * would otherwise carry a stale X-Amz-Date. */
static void before_attempt(void *arg, const struct sf_http_req *rq, struct sf_buf *extra)
{
    const struct signing *s = arg;
    (void)rq;
    sf_s3_sign(s->t, s->method, s->headers, s->payload, s->k, s->region, time(NULL), extra);
}

static void base64_md5(const void *data, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data ? data : "", len, md, &n, EVP_md5(), NULL);
    char *b64 = sf_base64_encode(md, n);
    snprintf(out, 32, "%s", b64);
    free(b64);
}

/* The error for an answer that is not accepted. */
static void s3_error(const struct sf_s3_ctx *x, struct sf_diags *d, const char *address,
                     const char *what, const struct sf_http_req *hrq, struct sf_s3_resp *r)
{
    const struct sf_http_resp *rs = &r->http;
    if (rs->status == 0) {
        sf_http_error(d, address, what, hrq, rs);
        return;
    }
    char *code = NULL, *message = NULL, *rid = NULL;
    if (rs->len > 0)
        sf_s3_xml_error(rs->body, rs->len, &code, &message, &rid);
    struct sf_buf b = {0};
    sf_buf_printf(&b, "%s: %s %s: HTTP %ld", what, hrq->method, hrq->url, rs->status);
    if (code)
        sf_buf_printf(&b, ": %s", code);
    if (message && *message)
        sf_buf_printf(&b, ": %s", message);
    if (!code && !message && rs->len > 0 && rs->len < 200 && rs->body[0] != '<')
        sf_buf_printf(&b, ": %s", rs->body);
    const char *id = rs->request_id ? rs->request_id : rid;
    if (id)
        sf_buf_printf(&b, " (request id %s)", id);
    const char *cc = code ? code : r->code;
    sf_diag_add_class(d, sf_s3_error_class(rs->status, cc), NULL, address, "%s", b.s);
    /* A HEAD's 403 has no body to say why: the keys are as likely. */
    if ((cc && (strcmp(cc, "SignatureDoesNotMatch") == 0 || strcmp(cc, "InvalidAccessKeyId") == 0)) ||
        (rs->status == 403 && !cc))
        sf_diag_detail(d,
                       "check the S3 keys (the resource's access_key and secret_key, else "
                       "providers.s3 or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and the "
                       "region the signature names (\"%s\")%s",
                       x->region, cc ? "" : ", or whether they may reach this bucket");
    else if (rs->status == 301 || (cc && strcmp(cc, "AuthorizationHeaderMalformed") == 0)) {
        char *region = sf_http_header(rs, "x-amz-bucket-region");
        sf_diag_detail(d,
                       "the bucket is served elsewhere%s%s%s: set providers.s3.region (or "
                       "AWS_REGION) and the endpoint of that region",
                       region ? " (region " : "", region ? region : "", region ? ")" : "");
        free(region);
    }
    sf_buf_free(&b);
    free(code);
    free(message);
    free(rid);
}

int sf_s3_do(struct sf_call *c, const struct sf_s3_keys *k, const struct sf_s3_req *rq,
             const char *what, unsigned flags, struct sf_s3_resp *r)
{
    return sf_s3_request(c->ctx, c->diags, c->address, c->deadline, k, rq, what, flags, r);
}

int sf_s3_request(const struct sf_s3_ctx *x, struct sf_diags *d, const char *address,
                  double deadline, const struct sf_s3_keys *k, const struct sf_s3_req *rq,
                  const char *what, unsigned flags, struct sf_s3_resp *r)
{
    memset(r, 0, sizeof(*r));
    struct sf_s3_target t;
    sf_s3_target(&x->ep, rq->bucket, rq->key, rq->query, &t);
    char payload[65];
    sf_s3_sha256_hex(rq->body, rq->body ? rq->body_len : 0, payload);

    size_t n = 0;
    for (const char *const *h = rq->headers; h && *h; h++)
        n++;
    const char **headers = sf_xcalloc(n + 2, sizeof(char *));
    char *md5 = NULL;
    for (size_t i = 0; i < n; i++)
        headers[i] = rq->headers[i];
    if (rq->md5) {
        char b64[32];
        base64_md5(rq->body, rq->body ? rq->body_len : 0, b64);
        md5 = sf_asprintf("Content-MD5: %s", b64);
        headers[n++] = md5;
    }
    headers[n] = NULL;

    struct signing s = {
        .t = &t,
        .method = rq->method,
        .headers = headers,
        .payload = payload,
        .k = k,
        .region = x->region,
    };
    struct sf_http_req hrq = {
        .method = rq->method,
        .url = t.url,
        .headers = headers,
        .body = rq->body,
        .body_len = rq->body ? rq->body_len : 0,
        .deadline = deadline,
        /* Every S3 call made here may be repeated: PUTs and DELETEs by
         * nature, DeleteObjects (the one POST) because deleting twice is
         * deleting once, and a CreateBucket repeated after a lost answer
         * is recognised by its BucketAlreadyOwnedByYou (bucket.c). */
        .idempotent = 1,
        .before_attempt = before_attempt,
        .arg = &s,
    };
    int rc = -1;
    /* A request lib/sigv4 refuses to sign is a bug or a malformed header:
     * say so rather than send it unsigned. */
    struct sf_buf probe = {0};
    if (sf_s3_sign(&t, rq->method, headers, payload, k, x->region, time(NULL), &probe) < 0) {
        sf_diag_add_class(d, SF_CLASS_INVALID, NULL, address,
                          "%s: the request to %s cannot be signed (a malformed header)", what,
                          t.url);
    } else {
        int got = sf_http_do(x->http, &hrq, &r->http);
        if (got == 0 && r->http.status >= 300 && r->http.len > 0) {
            char *msg = NULL, *rid = NULL;
            sf_s3_xml_error(r->http.body, r->http.len, &r->code, &msg, &rid);
            free(msg);
            free(rid);
        }
        long st = got == 0 ? r->http.status : 0;
        if (got == 0 && ((st >= 200 && st < 300) || (st == 404 && (flags & SF_S3_OK404)) ||
                         (st == 409 && (flags & SF_S3_OK409)) ||
                         (st == 412 && (flags & SF_S3_OK412)) ||
                         ((flags & SF_S3_OK_NOTIMPL) && sf_s3_not_implemented(r))))
            rc = 0;
        else
            s3_error(x, d, address, what, &hrq, r);
    }
    sf_buf_free(&probe);
    free(md5);
    free(headers);
    sf_s3_target_free(&t);
    return rc;
}

/* ---------- configure ---------- */

static void s3_release(void *p)
{
    struct sf_s3_ctx *x = p;
    if (!x)
        return;
    sf_http_free(x->http);
    sf_s3_endpoint_free(&x->ep);
    if (x->secret_key)
        OPENSSL_cleanse(x->secret_key, strlen(x->secret_key));
    free(x->secret_key);
    free(x->access_key);
    free(x->endpoint);
    free(x->region);
    free(x);
}

/* The object-store endpoint of the cloud provider's catalog, or NULL after
 * an error that says what to set (with the cloud provider's own errors,
 * when it could not log in, as its detail). */
static char *catalog_endpoint(const struct sf_provider_setup *s)
{
    struct sf_diags tmp;
    sf_diags_init(&tmp);
    struct sf_provider_setup ps = *s;
    ps.diags = &tmp;
    void *cloud = NULL;
    char *url = NULL;
    bool asked = s->peer && s->peer(&ps, "cloud", &cloud) == 0;
    if (asked)
        url = sf_cloud_catalog_url(cloud, "object-store");
    if (!url) {
        sf_diag_add_class(s->diags, SF_CLASS_INVALID, s->pos, NULL,
                          "the s3 provider needs an endpoint: set providers.s3.endpoint or the "
                          "environment variable AWS_ENDPOINT_URL_S3 (without either, the "
                          "object-store endpoint of the cloud provider's catalog is used)");
        struct sf_buf b = {0};
        if (asked) {
            sf_buf_puts(&b, "the cloud provider's catalog has no object-store endpoint of "
                            "interface public in its region");
        } else {
            sf_buf_puts(&b, "the cloud provider, whose catalog was to be asked, could not be "
                            "set up");
            sf_buf_puts(&b, tmp.n ? ":" : " (see its errors)");
            for (size_t i = 0; i < tmp.n; i++)
                sf_buf_printf(&b, "\n  %s", tmp.items[i].summary);
        }
        sf_diag_detail(s->diags, "%s", b.s);
        sf_buf_free(&b);
    }
    sf_diags_free(&tmp);
    return url;
}

static int s3_configure(const struct sf_provider_setup *s, void **out)
{
    *out = NULL;
    struct sf_s3_ctx *x = sf_xcalloc(1, sizeof(*x));
    x->access_key = sf_setup_string(s, "access_key");
    x->secret_key = sf_setup_string(s, "secret_key");
    x->region = sf_setup_string(s, "region");
    if (!x->region)
        x->region = sf_xstrdup(SF_S3_DEFAULT_REGION);
    const json_t *ps = json_object_get(s->settings, "path_style");
    bool path_style = ps ? json_is_true(ps) : true;
    int rc = 0;
    if (!x->access_key != !x->secret_key) {
        sf_diag_add_class(s->diags, SF_CLASS_INVALID, s->pos, NULL,
                          "the s3 provider has %s without %s: set both (providers.s3.access_key "
                          "and secret_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) or "
                          "neither",
                          x->access_key ? "an access key" : "a secret key",
                          x->access_key ? "a secret key" : "an access key");
        rc = -1;
    }
    x->endpoint = sf_setup_string(s, "endpoint");
    if (rc == 0 && !x->endpoint && !(x->endpoint = catalog_endpoint(s)))
        rc = -1;
    const char *why = NULL;
    if (rc == 0 && sf_s3_endpoint_parse(x->endpoint, path_style, &x->ep, &why) < 0) {
        sf_diag_add_class(s->diags, SF_CLASS_INVALID, s->pos, NULL,
                          "the s3 provider's endpoint \"%s\": %s", x->endpoint, why);
        rc = -1;
    }
    if (rc == 0) {
        char *ca_path = sf_setup_path(s, "ca_file");
        struct sf_http_opts o = {.ca_file = ca_path, .stats = s->stats};
        x->http = sf_http_new(&o);
        free(ca_path);
    }
    if (rc < 0) {
        s3_release(x);
        return -1;
    }
    *out = x;
    return 0;
}

static const struct sf_resource_type *const types[] = {&sf_s3_bucket_type, &sf_s3_object_type,
                                                       NULL};

const struct sf_provider sf_provider_s3 = {
    .name = "s3",
    .types = types,
    .keys = keys,
    .configure = s3_configure,
    .release = s3_release,
};

/*
 * The HTTP core (see server.h): libmicrohttpd accepts and parses HTTP; this
 * file turns each request into a struct lc_request, applies the faults,
 * finds the API and route, checks the token and runs the handler under the
 * world lock, then turns the struct lc_response back into HTTP.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * with the headers, then with each piece of the body, then once more with
 * nothing, which is when the request is dispatched. The raw URI is taken
 * from the URI log callback, before libmicrohttpd unescapes it, so that
 * paths are decoded segment by segment and signature checks see the bytes
 * that were sent.
 */
#include "base64.h"
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"
#include "tls.h"
#include "store.h"
#include "util.h"

#define MAX_APIS 32

struct api_slot {
    const struct lc_api *api;
    void *ctx;
    char **segs; /* the prefix split into segments */
    size_t nsegs;
};

struct lc_server {
    struct lc_options opts;
    struct lc_store *store;
    struct lc_faults *faults;
    struct api_slot apis[MAX_APIS];
    size_t napis;
    lc_auth_fn auth;
    void *auth_ctx;
    pthread_mutex_t world;
    struct MHD_Daemon *daemon, *tls_daemon;
    char address[80];
    char base_url[96];
    char tls_base_url[96];
    char *tls_key, *tls_cert;
};

/* One request while libmicrohttpd feeds it to us. */
struct pending {
    char *raw_uri;
    bool started, answered;
    bool bad_uri;         /* undecodable path or query: answered with 400 */
    const char *bad_why;
    bool too_large;
    size_t limit;
    struct sf_buf body;
    char **segs; /* decoded path segments (a trailing slash dropped) */
    size_t nsegs;
    bool trailing_slash;
    struct api_slot *slot;
    double t0;
    struct lc_request req;
};

/* ---------- small helpers ---------- */

long long lc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lc_format_time(long long ms, bool micro, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (micro)
        snprintf(buf, n, "%s.%06dZ", base, (int)(ms % 1000) * 1000);
    else
        snprintf(buf, n, "%sZ", base);
}

char *lc_hex(const unsigned char *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = sf_xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[data[i] >> 4];
        s[2 * i + 1] = digits[data[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

unsigned char *lc_unbase64(const char *s, size_t *n)
{
    /* What the APIs take: one unbroken, non-empty run of base64. */
    size_t len = strlen(s);
    if (len == 0 || len > 1 << 20 || strcspn(s, " \t\r\n") != len)
        return NULL;
    return sf_base64_decode(s, n);
}

/* Length of the valid UTF-8 sequence at s (at most left bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return c ? 1 : 0;
    if ((c & 0xe0) == 0xc0)
        n = 2, min = 0x80, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, min = 0x800, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return n;
}

bool lc_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    while (len > 0) {
        size_t n = utf8_seq(p, len);
        if (!n)
            return false;
        p += n;
        len -= n;
    }
    return true;
}

/* A message safe to put in a JSON string and on one line. */
static char *clean_message(const char *msg)
{
    struct sf_buf b = {0};
    const unsigned char *p = (const unsigned char *)msg;
    size_t left = strlen(msg);
    while (left > 0) {
        size_t n = utf8_seq(p, left);
        if (n == 0) {
            sf_buf_puts(&b, "?");
            n = 1;
        } else if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
            sf_buf_puts(&b, " ");
        } else {
            sf_buf_add(&b, (const char *)p, n);
        }
        p += n;
        left -= n;
    }
    return sf_buf_take(&b);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes; NULL when an escape is malformed or the result is
 * not UTF-8 (or holds a NUL). */
static char *pct_decode(const char *s, size_t n, bool plus_is_space)
{
    char *out = sf_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
            continue;
        }
        out[o++] = (plus_is_space && s[i] == '+') ? ' ' : s[i];
    }
    out[o] = '\0';
    if (!lc_utf8_valid(out, o)) {
        free(out);
        return NULL;
    }
    return out;
}

static void split_segments(const char *path, char ***segs, size_t *n)
{
    *segs = NULL;
    *n = 0;
    const char *p = path;
    if (*p == '/')
        p++;
    if (!*p)
        return;
    for (;;) {
        const char *e = strchrnul(p, '/');
        *segs = sf_xrealloc(*segs, (*n + 1) * sizeof(char *));
        (*segs)[(*n)++] = sf_xstrndup(p, (size_t)(e - p));
        if (!*e)
            break;
        p = e + 1;
    }
}

static void free_segments(char **segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
}

/* ---------- server object ---------- */

struct lc_server *lc_server_new(const struct lc_options *opts, struct lc_store *store)
{
    struct lc_server *srv = sf_xcalloc(1, sizeof(*srv));
    srv->opts = *opts;
    srv->store = store;
    srv->faults = lc_faults_new();
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    /* recursive: helpers other APIs call (an EC2 secret lookup) lock too */
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&srv->world, &a);
    pthread_mutexattr_destroy(&a);
    return srv;
}

int lc_server_add_api(struct lc_server *srv, const struct lc_api *api, void *ctx)
{
    for (size_t i = 0; i < srv->napis; i++)
        if (strcmp(srv->apis[i].api->prefix, api->prefix) == 0)
            return -1;
    if (srv->napis == MAX_APIS)
        return -1;
    struct api_slot *s = &srv->apis[srv->napis++];
    s->api = api;
    s->ctx = ctx;
    split_segments(api->prefix, &s->segs, &s->nsegs);
    return 0;
}

void lc_server_set_authenticator(struct lc_server *srv, lc_auth_fn fn, void *ctx)
{
    srv->auth = fn;
    srv->auth_ctx = ctx;
}

const char *lc_server_address(const struct lc_server *srv)
{
    return srv->address;
}
const char *lc_server_base_url(const struct lc_server *srv)
{
    return srv->base_url;
}
const struct lc_options *lc_server_options(const struct lc_server *srv)
{
    return &srv->opts;
}
struct lc_store *lc_server_store(struct lc_server *srv)
{
    return srv->store;
}
struct lc_faults *lc_server_faults(struct lc_server *srv)
{
    return srv->faults;
}
void lc_server_lock(struct lc_server *srv)
{
    pthread_mutex_lock(&srv->world);
}
void lc_server_unlock(struct lc_server *srv)
{
    pthread_mutex_unlock(&srv->world);
}

/* ---------- request accessors and response builders ---------- */

const char *lc_req_header(const struct lc_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct each_cls {
    void (*fn)(void *cls, const char *name, const char *value);
    void *cls;
};

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct each_cls *e = cls;
    e->fn(e->cls, key, value ? value : "");
    return MHD_YES;
}

void lc_req_headers_each(const struct lc_request *req,
                         void (*fn)(void *cls, const char *name, const char *value), void *cls)
{
    struct each_cls e = {fn, cls};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, each_header, &e);
}

const char *lc_req_query(const struct lc_request *req, const char *name)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query_keys[i], name) == 0)
            return req->query_values[i];
    return NULL;
}

const char *lc_req_param(const struct lc_request *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

static void resp_reset_body(struct lc_response *resp)
{
    if (resp->stream) {
        if (resp->stream->free_cls)
            resp->stream->free_cls(resp->stream->cls);
        free(resp->stream);
        resp->stream = NULL;
    }
    free(resp->body);
    free(resp->content_type);
    resp->body = NULL;
    resp->content_type = NULL;
    resp->len = 0;
}

void lc_resp_json(struct lc_response *resp, unsigned status, json_t *body)
{
    resp_reset_body(resp);
    resp->status = status;
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) {
        /* only a handler bug gets here (a string that is not UTF-8) */
        resp->status = 500;
        s = sf_xstrdup("{\"error\":{\"code\":500,\"message\":\"response not encodable\"}}");
    }
    resp->body = s;
    resp->len = strlen(s);
    resp->content_type = sf_xstrdup("application/json");
}

void lc_resp_bytes(struct lc_response *resp, unsigned status, const char *content_type,
                   const void *data, size_t len)
{
    resp_reset_body(resp);
    resp->status = status;
    resp->body = sf_xmalloc(len ? len : 1);
    if (len)
        memcpy(resp->body, data, len);
    resp->len = len;
    resp->content_type = content_type ? sf_xstrdup(content_type) : NULL;
}

void lc_resp_empty(struct lc_response *resp, unsigned status)
{
    resp_reset_body(resp);
    resp->status = status;
}

void lc_resp_header(struct lc_response *resp, const char *name, const char *value)
{
    resp->headers = sf_xrealloc(resp->headers, (resp->nheaders + 1) * sizeof(*resp->headers));
    resp->headers[resp->nheaders].name = sf_xstrdup(name);
    resp->headers[resp->nheaders].value = sf_xstrdup(value);
    resp->nheaders++;
}

void lc_resp_stream(struct lc_response *resp, unsigned status, const char *content_type,
                    lc_stream_fn fn, void *cls, void (*free_cls)(void *cls))
{
    resp_reset_body(resp);
    resp->status = status;
    resp->content_type = sf_xstrdup(content_type);
    resp->stream = sf_xmalloc(sizeof(*resp->stream));
    *resp->stream = (struct lc_stream){fn, cls, free_cls};
}

/* Closes the connection without an answer (the drop faults). */
static void resp_drop(struct lc_response *resp)
{
    resp->drop = true;
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

void lc_error_generic(struct lc_response *resp, unsigned status, const char *type, const char *msg)
{
    lc_resp_json(resp, status,
                 json_pack("{s:{s:i, s:s, s:s}}", "error", "code", (int)status, "message", msg,
                           "title", type ? type : status_title(status)));
}

static void error_in(const struct lc_api *api, struct lc_response *resp, unsigned status,
                     const char *type, const char *msg)
{
    char *clean = clean_message(msg);
    if (api && api->error)
        api->error(resp, status, type, clean);
    else
        lc_error_generic(resp, status, type, clean);
    free(clean);
}

void lc_error(struct lc_request *req, struct lc_response *resp, unsigned status, const char *type,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    error_in(req ? req->api : NULL, resp, status, type, msg);
    free(msg);
}

json_t *lc_req_json(struct lc_request *req, struct lc_response *resp)
{
    if (req->body_len == 0) {
        lc_error(req, resp, 400, NULL,
                 "Malformed request body: the body is empty, expected a JSON object");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        lc_error(req, resp, 400, NULL, "Malformed request body: %s (line %d, column %d)", je.text,
                 je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        lc_error(req, resp, 400, NULL, "Malformed request body: expected a JSON object");
        return NULL;
    }
    return root;
}

/* ---------- routing ---------- */

static void clear_params(struct lc_request *req)
{
    for (size_t i = 0; i < req->nparams; i++) {
        free(req->param_names[i]);
        free(req->param_values[i]);
    }
    req->nparams = 0;
}

static void add_param(struct lc_request *req, const char *name, size_t nlen, char *value)
{
    if (req->nparams == LC_MAX_PARAMS) {
        free(value);
        return;
    }
    req->param_names[req->nparams] = sf_xstrndup(name, nlen);
    req->param_values[req->nparams] = value;
    req->nparams++;
}

/* Whether segs (the path below the API's prefix) match pattern; captures go
 * to req. */
static bool match_route(const char *pattern, char **segs, size_t n, bool trailing_slash,
                        struct lc_request *req)
{
    clear_params(req);
    const char *p = pattern;
    size_t i = 0;
    while (*p == '/') {
        p++;
        const char *e = strchrnul(p, '/');
        size_t len = (size_t)(e - p);
        if (len >= 3 && p[0] == '{' && p[len - 1] == '}') {
            bool greedy = p[len - 2] == '+';
            if (greedy) {
                struct sf_buf b = {0};
                for (size_t j = i; j < n; j++) {
                    if (j > i)
                        sf_buf_puts(&b, "/");
                    sf_buf_puts(&b, segs[j]);
                }
                if (trailing_slash)
                    sf_buf_puts(&b, "/");
                char *v = sf_buf_take(&b);
                if (!*v) {
                    free(v);
                    return false;
                }
                add_param(req, p + 1, len - 3, v);
                return *e == '\0';
            }
            if (i >= n || !*segs[i])
                return false;
            add_param(req, p + 1, len - 2, sf_xstrdup(segs[i]));
        } else if (i >= n || strlen(segs[i]) != len || memcmp(segs[i], p, len) != 0) {
            return false;
        }
        i++;
        p = e;
    }
    return i == n;
}

static struct api_slot *find_api(struct lc_server *srv, char **segs, size_t n)
{
    struct api_slot *best = NULL;
    for (size_t i = 0; i < srv->napis; i++) {
        struct api_slot *s = &srv->apis[i];
        if (s->nsegs > n || (best && s->nsegs <= best->nsegs))
            continue;
        size_t j = 0;
        while (j < s->nsegs && strcmp(s->segs[j], segs[j]) == 0)
            j++;
        if (j == s->nsegs)
            best = s;
    }
    return best;
}

static void parse_query(struct pending *p, const char *q)
{
    struct lc_request *req = &p->req;
    while (*q) {
        const char *amp = strchrnul(q, '&');
        const char *eq = memchr(q, '=', (size_t)(amp - q));
        if (amp > q) {
            const char *kend = eq ? eq : amp;
            char *k = pct_decode(q, (size_t)(kend - q), true);
            char *v = eq ? pct_decode(eq + 1, (size_t)(amp - eq - 1), true) : sf_xstrdup("");
            if (!k || !v) {
                free(k);
                free(v);
                p->bad_uri = true;
                p->bad_why = "the query string is not valid percent-encoded UTF-8";
                return;
            }
            req->query_keys = sf_xrealloc(req->query_keys, (req->nquery + 1) * sizeof(char *));
            req->query_values = sf_xrealloc(req->query_values, (req->nquery + 1) * sizeof(char *));
            req->query_keys[req->nquery] = k;
            req->query_values[req->nquery] = v;
            req->nquery++;
        }
        if (!*amp)
            break;
        q = amp + 1;
    }
}

/* Splits the raw URI into decoded segments, path and query, and finds the API. */
static void parse_uri(struct lc_server *srv, struct pending *p)
{
    struct lc_request *req = &p->req;
    const char *uri = p->raw_uri;
    const char *qm = strchr(uri, '?');
    size_t plen = qm ? (size_t)(qm - uri) : strlen(uri);
    char *raw_path = sf_xstrndup(uri, plen);
    req->raw_path = raw_path;
    req->raw_query = sf_xstrdup(qm ? qm + 1 : "");
    char **raw;
    size_t n;
    split_segments(raw_path, &raw, &n);
    if (n > 0 && raw[n - 1][0] == '\0') {
        free(raw[--n]);
        p->trailing_slash = true;
    }
    p->segs = sf_xcalloc(n ? n : 1, sizeof(char *));
    struct sf_buf path = {0};
    for (size_t i = 0; i < n; i++) {
        p->segs[i] = pct_decode(raw[i], strlen(raw[i]), false);
        if (!p->segs[i]) {
            p->bad_uri = true;
            p->bad_why = "the path is not valid percent-encoded UTF-8";
            p->segs[i] = sf_xstrdup("");
        }
        sf_buf_puts(&path, "/");
        sf_buf_puts(&path, p->segs[i]);
    }
    p->nsegs = n;
    if (n == 0 || p->trailing_slash)
        sf_buf_puts(&path, "/");
    req->path = sf_buf_take(&path);
    free_segments(raw, n);
    if (raw_path[0] != '/') {
        p->bad_uri = true;
        p->bad_why = "the request target must be a path starting with /";
    }
    parse_query(p, req->raw_query);
    p->slot = find_api(srv, p->segs, p->nsegs);
    if (p->slot) {
        req->api = p->slot->api;
        req->ctx = p->slot->ctx;
    }
}

/* ---------- dispatch ---------- */

static bool is_test_path(const char *path)
{
    return strncmp(path, "/_localcloud/", 13) == 0 || strcmp(path, "/_localcloud") == 0;
}

static void handle(struct lc_server *srv, struct pending *p, struct lc_response *resp);

static void free_response(struct lc_response *resp);

/* The faults first: latency, then a fault that stands in for the work
 * (drop, 5xx, 429) or one that comes after it (the work is done and
 * persisted, then the answer is lost or replaced by a 5xx). */
static void dispatch(struct lc_server *srv, struct pending *p, struct lc_response *resp)
{
    struct lc_request *req = &p->req;
    struct lc_fault_decision fd = {.kind = LC_FAULT_NONE};
    if (!is_test_path(req->path)) {
        lc_faults_decide(srv->faults, req->path, &fd);
        if (fd.latency_ms > 0)
            sf_sleep_ms(fd.latency_ms);
    }
    switch (fd.kind) {
    case LC_FAULT_DROP:
        resp_drop(resp);
        return;
    case LC_FAULT_ERROR:
        lc_error(req, resp, (unsigned)fd.status, NULL,
                 "Injected fault: the service is unavailable");
        break;
    case LC_FAULT_THROTTLE: {
        lc_error(req, resp, 429, NULL, "Injected fault: too many requests, retry after %ld s",
                 fd.retry_after);
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld", fd.retry_after);
        lc_resp_header(resp, "Retry-After", ra);
        break;
    }
    default:
        handle(srv, p, resp);
        break;
    }
    if (fd.kind == LC_FAULT_DROP_AFTER) {
        resp_drop(resp);
        return;
    }
    if (fd.kind == LC_FAULT_ERROR_AFTER) {
        free_response(resp);
        *resp = (struct lc_response){.status = 0};
        lc_error(req, resp, (unsigned)fd.status, NULL,
                 "Injected fault: the service failed while answering");
    }
    if (req->api && req->api->openstack) {
        bool has = false;
        for (size_t i = 0; i < resp->nheaders && !has; i++)
            has = strcasecmp(resp->headers[i].name, "X-Openstack-Request-Id") == 0;
        if (!has) {
            char *rid = sf_uuid();
            char *hdr = sf_asprintf("req-%s", rid);
            lc_resp_header(resp, "X-Openstack-Request-Id", hdr);
            free(hdr);
            free(rid);
        }
    }
}

/* Everything after the faults: the API, the body limit, the token, the
 * route and its handler, under the world lock. */
static void handle(struct lc_server *srv, struct pending *p, struct lc_response *resp)
{
    struct lc_request *req = &p->req;
    const struct lc_api *api = req->api;
    if (p->bad_uri) {
        lc_error(req, resp, 400, NULL, "Bad request: %s", p->bad_why);
        return;
    }
    if (!api) {
        lc_error(req, resp, 404, NULL, "Nothing is served at %s", req->path);
        return;
    }
    if (p->too_large) {
        lc_error(req, resp, 413, NULL, "The request body is larger than the limit of %zu bytes",
                 p->limit);
        return;
    }
    lc_server_lock(srv);
    for (size_t i = 0; i < srv->napis; i++)
        if (srv->apis[i].api->sweep)
            srv->apis[i].api->sweep(srv, srv->apis[i].ctx);
    char **rest = p->segs + p->slot->nsegs;
    size_t nrest = p->nsegs - p->slot->nsegs;
    const struct lc_route *route = NULL;
    bool path_known = false;
    for (const struct lc_route *r = api->routes; r && r->fn; r++) {
        if (!match_route(r->pattern, rest, nrest, p->trailing_slash, req))
            continue;
        path_known = true;
        if (strcmp(r->method, "*") == 0 || strcmp(r->method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            route = r;
            break;
        }
    }
    if (!route)
        clear_params(req);
    if (api->token_auth && !(route && (route->flags & LC_ROUTE_PUBLIC))) {
        const char *token = lc_req_header(req, "X-Auth-Token");
        if (!token || !*token || !srv->auth || srv->auth(srv, srv->auth_ctx, token, req) < 0) {
            lc_server_unlock(srv);
            lc_error_generic(resp, 401, NULL, "The request you have made requires authentication.");
            char *hdr = sf_asprintf("Keystone uri=\"%s/identity/v3\"", srv->base_url);
            lc_resp_header(resp, "WWW-Authenticate", hdr);
            free(hdr);
            return;
        }
    }
    if (!route) {
        lc_server_unlock(srv);
        if (path_known)
            lc_error(req, resp, 405, NULL, "The method %s is not allowed on %s", req->method,
                     req->path);
        else
            lc_error(req, resp, 404, NULL, "The resource could not be found: %s", req->path);
        return;
    }
    if (route->flags & LC_ROUTE_UNLOCKED) {
        lc_server_unlock(srv);
        route->fn(req, resp);
    } else {
        route->fn(req, resp);
        lc_server_unlock(srv);
    }
    if (resp->status == 0 && !resp->drop)
        lc_error(req, resp, 500, NULL, "The handler for %s %s gave no response", req->method,
                 req->path);
}

/* ---------- libmicrohttpd glue ---------- */


static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct pending *p = sf_xcalloc(1, sizeof(*p));
    p->raw_uri = sf_xstrdup(uri ? uri : "/");
    return p;
}

static void free_pending(struct pending *p)
{
    struct lc_request *req = &p->req;
    clear_params(req);
    for (size_t i = 0; i < req->nquery; i++) {
        free(req->query_keys[i]);
        free(req->query_values[i]);
    }
    free(req->query_keys);
    free(req->query_values);
    free(req->user_id);
    free(req->project_id);
    free((char *)req->path);
    free((char *)req->raw_path);
    free((char *)req->raw_query);
    free_segments(p->segs, p->nsegs);
    sf_buf_free(&p->body);
    free(p->raw_uri);
    free(p);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    if (*con_cls)
        free_pending(*con_cls);
    *con_cls = NULL;
}

static void free_response(struct lc_response *resp)
{
    resp_reset_body(resp);
    for (size_t i = 0; i < resp->nheaders; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->headers);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct lc_stream *s = cls;
    long n = s->fn(s->cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct lc_stream *s = cls;
    if (s->free_cls)
        s->free_cls(s->cls);
    free(s);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct lc_response *resp)
{
    struct MHD_Response *r;
    if (resp->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, resp->stream,
                                              stream_free);
        if (r)
            resp->stream = NULL; /* libmicrohttpd frees it through stream_free */
    } else if (resp->body) {
        r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
        resp->body = NULL;
    } else {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    if (resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    for (size_t i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct lc_server *srv = cls;
    struct pending *p = *con_cls;
    if (!p) /* no URI callback happened (cannot, but do not crash) */
        p = *con_cls = on_uri(srv, url, conn);
    if (!p->started) {
        p->started = true;
        p->t0 = sf_now();
        p->req.srv = srv;
        p->req.conn = conn;
        p->req.method = method;
        parse_uri(srv, p);
        p->limit = (p->slot && p->slot->api->max_body) ? p->slot->api->max_body : srv->opts.max_body;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long len = strtoull(cl, &end, 10);
            if (errno || *end || len > p->limit) {
                p->too_large = true;
                const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
                if (expect && strcasecmp(expect, "100-continue") == 0 && p->slot) {
                    /* the client waits for a go-ahead: answer now, before the body */
                    struct lc_response resp = {0};
                    lc_error(&p->req, &resp, 413, NULL,
                             "The request body is larger than the limit of %zu bytes", p->limit);
                    p->answered = true;
                    if (srv->opts.verbose)
                        fprintf(stderr, "localcloud: %s %s -> 413 (before the body)\n", method,
                                p->req.path);
                    enum MHD_Result ret = send_response(conn, &resp);
                    free_response(&resp);
                    return ret;
                }
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!p->too_large && !p->answered) {
            if (p->body.len + *upload_data_size > p->limit) {
                p->too_large = true;
                sf_buf_free(&p->body);
                p->body = (struct sf_buf){0};
            } else {
                sf_buf_add(&p->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (p->answered)
        return MHD_YES;
    p->answered = true;
    p->req.body = p->body.s ? p->body.s : "";
    p->req.body_len = p->body.len;
    struct lc_response resp = {0};
    dispatch(srv, p, &resp);
    enum MHD_Result ret;
    if (resp.drop) {
        if (srv->opts.verbose)
            fprintf(stderr, "localcloud: %s %s -> dropped\n", method, p->req.path);
        ret = MHD_NO;
    } else {
        if (srv->opts.verbose)
            fprintf(stderr, "localcloud: %s %s -> %u (%.0f ms)\n", method, p->req.path, resp.status,
                    (sf_now() - p->t0) * 1000);
        ret = send_response(conn, &resp);
    }
    free_response(&resp);
    return ret;
}

/* A listening socket on host:port (0: a free one); its "host:port" in
 * address. The fd, or -1 with the problem added to d. */
static int listen_on(const char *host, int port, bool *v6, char *address, size_t n,
                     struct sf_diags *d)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    *v6 = false;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sl = sizeof(*in4);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*in6);
        *v6 = true;
    } else {
        sf_error(d, NULL, "cannot listen on %s: not an IP address", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
        sf_error(d, NULL, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int got = ntohs(*v6 ? in6->sin6_port : in4->sin_port);
    if (*v6)
        snprintf(address, n, "[%s]:%d", host, got);
    else
        snprintf(address, n, "%s:%d", host, got);
    return fd;
}

static struct MHD_Daemon *start_daemon(struct lc_server *srv, int fd, bool v6, bool tls)
{
    /* A thread per connection: a streamed body (a watch) may wait for
     * events inside its callback without holding up other connections. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (srv->opts.verbose)
        flags |= MHD_USE_ERROR_LOG;
    if (tls)
        return MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, srv,
                                MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                MHD_OPTION_HTTPS_MEM_KEY, srv->tls_key,
                                MHD_OPTION_HTTPS_MEM_CERT, srv->tls_cert,
                                MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET,
                            (MHD_socket)fd, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
}

int lc_server_start(struct lc_server *srv, struct sf_diags *d)
{
    bool v6;
    int fd = listen_on(srv->opts.listen_host, srv->opts.listen_port, &v6, srv->address,
                       sizeof(srv->address), d);
    if (fd < 0)
        return -1;
    snprintf(srv->base_url, sizeof(srv->base_url), "http://%s", srv->address);
    srv->daemon = start_daemon(srv, fd, v6, false);
    if (!srv->daemon) {
        close(fd);
        sf_error(d, NULL, "cannot start the HTTP server on %s", srv->address);
        return -1;
    }
    if (srv->opts.tls_port < 0)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        sf_error(d, NULL, "this libmicrohttpd has no TLS support; run with --tls-port -1");
        return -1;
    }
    if (lc_tls_identity(lc_store_dir(srv->store), srv->opts.listen_host, &srv->tls_key,
                        &srv->tls_cert, d) < 0)
        return -1;
    char tls_address[80];
    fd = listen_on(srv->opts.listen_host, srv->opts.tls_port, &v6, tls_address,
                   sizeof(tls_address), d);
    if (fd < 0)
        return -1;
    srv->tls_daemon = start_daemon(srv, fd, v6, true);
    if (!srv->tls_daemon) {
        close(fd);
        sf_error(d, NULL, "cannot start the HTTPS server on %s", tls_address);
        return -1;
    }
    snprintf(srv->tls_base_url, sizeof(srv->tls_base_url), "https://%s", tls_address);
    return 0;
}

const char *lc_server_tls_base_url(const struct lc_server *srv)
{
    return srv->tls_daemon ? srv->tls_base_url : NULL;
}

const char *lc_server_tls_cert(const struct lc_server *srv)
{
    return srv->tls_daemon ? srv->tls_cert : NULL;
}

void lc_server_free(struct lc_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    if (srv->tls_daemon)
        MHD_stop_daemon(srv->tls_daemon);
    free(srv->tls_key);
    free(srv->tls_cert);
    for (size_t i = 0; i < srv->napis; i++) {
        if (srv->apis[i].api->free_ctx)
            srv->apis[i].api->free_ctx(srv->apis[i].ctx);
        free_segments(srv->apis[i].segs, srv->apis[i].nsegs);
    }
    lc_store_close(srv->store);
    lc_faults_free(srv->faults);
    pthread_mutex_destroy(&srv->world);
    free(srv);
}

bool lc_req_owns(const struct lc_request *req, const json_t *obj)
{
    const char *p = obj ? json_string_value(json_object_get(obj, "project_id")) : NULL;
    return p && req->project_id && strcmp(p, req->project_id) == 0;
}

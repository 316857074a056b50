/*
 * The HTTP client of every network provider (see http.h for the contract).
 * libcurl speaks HTTP and TLS; this file decides how often and how long.
 *
 * Connections: each client keeps a pool of curl easy handles. A worker
 * takes one for a request and gives it back afterwards, so a handle's own
 * connection cache (keep-alive) serves the next request of whichever
 * worker takes it; there are never more handles than requests in flight.
 * The DNS cache and TLS sessions are shared between the handles through a
 * curl share with lock callbacks. Connections themselves are not put in
 * the share: libcurl documents sharing them between concurrent threads as
 * unsafe, and a handle per worker reuses them just as well.
 *
 * Time: every attempt is bounded by what is left of the request's deadline
 * (and by the client's per-attempt caps); after the deadline no attempt
 * starts. Retries wait with exponential backoff and full jitter, or what
 * the server's Retry-After asks when it says so.
 */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/* The version the command prints (provisioner/cli.c, plans/plan.h). */
#ifndef SF_VERSION
#define SF_VERSION "0.1.0"
#endif

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_REQUEST_TIMEOUT_MS 300000L
#define DEFAULT_MAX_ATTEMPTS 8
#define DEFAULT_BACKOFF_BASE_MS 200L
#define BACKOFF_CAP_MS 10000L
#define ERROR_BODY_BYTES 200

struct sf_http {
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

    pthread_mutex_t pool_mu; /* guards idle / n_idle / cap_idle */
    CURL **idle;
    size_t n_idle, cap_idle;

    char *ca_file;
    char *ca_pem, *cert_pem, *key_pem;
    char *user_agent;
    struct sf_http_stats *stats;
    long connect_timeout_ms;
    long request_timeout_ms;
    int max_attempts;
    long backoff_base_ms;
};

/* --------------------------------------------------------------- globals */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static pthread_once_t debug_once = PTHREAD_ONCE_INIT;
static bool debug_on;

static void global_init(void)
{
    /* curl_global_init is not thread-safe on older libcurl and sets up
     * OpenSSL; it must run once before any handle exists. A failure here
     * means libcurl cannot work at all. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("sparkform: libcurl failed to initialise\n", stderr);
        abort();
    }
}

static void debug_init(void)
{
    const char *v = getenv("SF_LOG");
    debug_on = v && strcasecmp(v, "debug") == 0;
}

bool sf_http_debug(void)
{
    pthread_once(&debug_once, debug_init);
    return debug_on;
}

/* ---------------------------------------------------------- client life */

static void share_lock(CURL *e, curl_lock_data data, curl_lock_access access, void *userp)
{
    (void)e;
    (void)access;
    struct sf_http *h = userp;
    pthread_mutex_lock(&h->share_mu[data]);
}

static void share_unlock(CURL *e, curl_lock_data data, void *userp)
{
    (void)e;
    struct sf_http *h = userp;
    pthread_mutex_unlock(&h->share_mu[data]);
}

struct sf_http *sf_http_new(const struct sf_http_opts *o)
{
    pthread_once(&global_once, global_init);
    struct sf_http_opts def = {0};
    if (!o)
        o = &def;
    struct sf_http *h = sf_xcalloc(1, sizeof *h);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&h->share_mu[i], NULL);
    pthread_mutex_init(&h->pool_mu, NULL);
    h->ca_file = o->ca_file ? sf_xstrdup(o->ca_file) : NULL;
    h->ca_pem = o->ca_pem ? sf_xstrdup(o->ca_pem) : NULL;
    h->cert_pem = o->cert_pem ? sf_xstrdup(o->cert_pem) : NULL;
    h->key_pem = o->key_pem ? sf_xstrdup(o->key_pem) : NULL;
    h->user_agent = sf_xstrdup(o->user_agent ? o->user_agent : "sparkform/" SF_VERSION);
    h->stats = o->stats;
    h->connect_timeout_ms =
        o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    h->request_timeout_ms =
        o->request_timeout_ms > 0 ? o->request_timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
    h->max_attempts = o->max_attempts > 0 ? o->max_attempts : DEFAULT_MAX_ATTEMPTS;
    h->backoff_base_ms = o->backoff_base_ms > 0 ? o->backoff_base_ms : DEFAULT_BACKOFF_BASE_MS;

    h->share = curl_share_init();
    if (!h->share) {
        fputs("sparkform: out of memory\n", stderr);
        abort();
    }
    curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return h;
}

void sf_http_free(struct sf_http *h)
{
    if (!h)
        return;
    /* Handles go before the share they use. */
    for (size_t i = 0; i < h->n_idle; i++)
        curl_easy_cleanup(h->idle[i]);
    free(h->idle);
    curl_share_cleanup(h->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->share_mu[i]);
    pthread_mutex_destroy(&h->pool_mu);
    free(h->ca_file);
    free(h->ca_pem);
    free(h->cert_pem);
    if (h->key_pem)
        OPENSSL_cleanse(h->key_pem, strlen(h->key_pem));
    free(h->key_pem);
    free(h->user_agent);
    free(h);
}

static CURL *handle_take(struct sf_http *h)
{
    CURL *e = NULL;
    pthread_mutex_lock(&h->pool_mu);
    if (h->n_idle > 0)
        e = h->idle[--h->n_idle];
    pthread_mutex_unlock(&h->pool_mu);
    if (!e) {
        e = curl_easy_init();
        if (!e) {
            fputs("sparkform: out of memory\n", stderr);
            abort();
        }
    }
    return e;
}

static void handle_give_back(struct sf_http *h, CURL *e)
{
    pthread_mutex_lock(&h->pool_mu);
    if (h->n_idle == h->cap_idle) {
        h->cap_idle = h->cap_idle ? 2 * h->cap_idle : 8;
        h->idle = sf_xrealloc(h->idle, h->cap_idle * sizeof *h->idle);
    }
    h->idle[h->n_idle++] = e;
    pthread_mutex_unlock(&h->pool_mu);
}

/* ------------------------------------------------------------ redaction */

static bool contains_ci(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(s + i, word, w) == 0)
            return true;
    return false;
}

/* Whether a header (name of n bytes) carries a credential. */
static bool secret_header(const char *name, size_t n)
{
    static const char *const exact[] = {"X-Auth-Token", "X-Subject-Token", "Authorization",
                                        "Proxy-Authorization", "Cookie", "Set-Cookie",
                                        "X-Amz-Security-Token", NULL};
    for (int i = 0; exact[i]; i++)
        if (strlen(exact[i]) == n && strncasecmp(name, exact[i], n) == 0)
            return true;
    return contains_ci(name, n, "token") || contains_ci(name, n, "secret") ||
           contains_ci(name, n, "password") || contains_ci(name, n, "key");
}

/* Whether a query parameter (name of n bytes) carries a credential:
 * presigned URLs put their signature and credential there. */
static bool secret_param(const char *name, size_t n)
{
    return contains_ci(name, n, "signature") || contains_ci(name, n, "credential") ||
           contains_ci(name, n, "token") || contains_ci(name, n, "password") ||
           contains_ci(name, n, "secret") || contains_ci(name, n, "key");
}

/* url with the values of credential query parameters and any user:password
 * replaced by "(redacted)"; caller frees. Logs and error messages show this,
 * never the URL itself. */
static char *redact_url(const char *url)
{
    struct sf_buf b = {0};
    const char *q = strchr(url, '?');
    size_t head = q ? (size_t)(q - url) : strlen(url);
    const char *scheme = strstr(url, "://");
    const char *at = NULL;
    if (scheme && scheme < url + head) {
        const char *auth = scheme + 3;
        size_t auth_len = strcspn(auth, "/?#");
        const char *p = memchr(auth, '@', auth_len);
        if (p)
            at = p;
        if (at) {
            sf_buf_add(&b, url, (size_t)(auth - url));
            sf_buf_puts(&b, "(redacted)");
            sf_buf_add(&b, at, (size_t)(url + head - at));
        }
    }
    if (!at)
        sf_buf_add(&b, url, head);
    if (!q)
        return sf_buf_take(&b);
    const char *p = q + 1;
    size_t qlen = strcspn(p, "#");
    const char *end = p + qlen;
    sf_buf_puts(&b, "?");
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && secret_param(p, (size_t)(eq - p))) {
            sf_buf_add(&b, p, (size_t)(eq - p) + 1);
            sf_buf_puts(&b, "(redacted)");
        } else {
            sf_buf_add(&b, p, (size_t)(stop - p));
        }
        if (amp)
            sf_buf_puts(&b, "&");
        p = amp ? amp + 1 : end;
    }
    sf_buf_puts(&b, end); /* the fragment, if any */
    return sf_buf_take(&b);
}

/* Appends one request header line to a log, its value redacted when the
 * header carries a credential. */
static void log_header(struct sf_buf *log, const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon) {
        sf_buf_printf(log, "  > %s\n", line);
        return;
    }
    size_t n = (size_t)(colon - line);
    if (secret_header(line, n))
        sf_buf_printf(log, "  > %.*s: (redacted)\n", (int)n, line);
    else
        sf_buf_printf(log, "  > %s\n", line);
}

/* -------------------------------------------------------------- attempts */

/* What one attempt collects from libcurl. */
struct attempt {
    struct sf_buf body;
    struct sf_buf headers;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct attempt *a = userp;
    sf_buf_add(&a->body, data, size * nmemb);
    return size * nmemb;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct attempt *a = userp;
    size_t n = size * nmemb;
    /* A status line starts a new header block (after a 100 Continue, an
     * interim answer): keep only the final answer's block. */
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
        a->headers.len = 0;
    sf_buf_add(&a->headers, data, n);
    return n;
}

static bool method_idempotent(const char *m)
{
    static const char *const safe[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", NULL};
    for (int i = 0; safe[i]; i++)
        if (strcasecmp(m, safe[i]) == 0)
            return true;
    return false;
}

/* How a transport failure (no answer) bears on retrying. */
enum failure {
    FAIL_NOT_SENT,  /* no connection was made: nothing reached the server, try again */
    FAIL_MAYBE_SENT, /* the request may have been acted on (timeout, dropped, empty reply) */
    FAIL_PERMANENT, /* retrying cannot help (malformed URL, TLS verification failed) */
};

static enum failure classify_failure(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    /* A TLS handshake that broke off (a reset under load): the request is
     * sent only after it completes. A certificate that fails verification
     * is a different code, below. */
    case CURLE_SSL_CONNECT_ERROR:
        return FAIL_NOT_SENT;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
        return FAIL_PERMANENT;
    default:
        return FAIL_MAYBE_SENT;
    }
}

/* Milliseconds the answer's Retry-After asks for (delta-seconds or an HTTP
 * date), or -1 when it has none that makes sense. */
static long retry_after_ms(const struct sf_http_resp *rs)
{
    char *v = sf_http_header(rs, "Retry-After");
    if (!v)
        return -1;
    long ms = -1;
    if (*v && strspn(v, "0123456789") == strlen(v)) {
        long s = strtol(v, NULL, 10);
        ms = s > 86400 ? 86400000L : s * 1000;
    } else {
        time_t when = curl_getdate(v, NULL);
        if (when != (time_t)-1) {
            double d = difftime(when, time(NULL));
            ms = d <= 0 ? 0 : d > 86400 ? 86400000L : (long)(d * 1000);
        }
    }
    free(v);
    return ms;
}

/* Full jitter: uniformly random in [0, min(cap, base * 2^(retry-1))]. */
static long backoff_ms(const struct sf_http *h, int retry)
{
    long ceiling = h->backoff_base_ms;
    for (int i = 1; i < retry && ceiling < BACKOFF_CAP_MS; i++)
        ceiling *= 2;
    if (ceiling > BACKOFF_CAP_MS)
        ceiling = BACKOFF_CAP_MS;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint32_t)(sf_now() * 1e6);
    return (long)(r % (uint32_t)(ceiling + 1));
}

static void add_header_lines(struct curl_slist **list, const char *lines)
{
    const char *p = lines;
    while (p && *p) {
        size_t n = strcspn(p, "\r\n");
        if (n > 0) {
            char *line = sf_xstrndup(p, n);
            *list = curl_slist_append(*list, line);
            free(line);
        }
        p += n;
        p += strspn(p, "\r\n");
    }
}

/* One attempt: sets up e for rq, performs it and fills a. Returns curl's
 * code; *status is the answer's status (0 when none came). */
static CURLcode attempt_run(struct sf_http *h, CURL *e, const struct sf_http_req *rq,
                            bool idempotent, struct curl_slist *hdrs, long timeout_ms,
                            long connect_ms, struct attempt *a, char *errbuf, long *status)
{
    curl_easy_reset(e);
    /* libcurl sends a request again by itself when a kept-alive connection
     * turns out dead before any answer; for a create that may be a second
     * object. A request that is not idempotent therefore goes on a
     * connection of its own, where a lost answer is reported (ambiguous)
     * instead of repeated. */
    if (!idempotent)
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_SHARE, h->share);
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    /* Blobs are copied by libcurl at each setopt (CURL_BLOB_COPY), so the
     * handle never points into memory this client may wipe. */
    if (h->ca_pem) {
        struct curl_blob b = {.data = h->ca_pem, .len = strlen(h->ca_pem), .flags = CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
    }
    if (h->cert_pem && h->key_pem) {
        struct curl_blob cb = {.data = h->cert_pem, .len = strlen(h->cert_pem),
                               .flags = CURL_BLOB_COPY};
        struct curl_blob kb = {.data = h->key_pem, .len = strlen(h->key_pem),
                               .flags = CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
    }
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    /* Redirects are not followed: the APIs do not use them, and following
     * one would carry the credentials to wherever it points. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);

    if (strcasecmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (rq->body || strcasecmp(rq->method, "POST") == 0 ||
               strcasecmp(rq->method, "PUT") == 0 || strcasecmp(rq->method, "PATCH") == 0) {
        /* POSTFIELDS sends the body as is with its Content-Length for any
         * method; CUSTOMREQUEST then names the method. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
    } else if (strcasecmp(rq->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
    }

    errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(e);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    return rc;
}

static void log_attempt(const char *method, const char *url, const struct curl_slist *hdrs,
                        long status, const char *error, double ms, int attempt)
{
    struct sf_buf log = {0};
    char *shown = redact_url(url);
    if (status)
        sf_buf_printf(&log, "http: %s %s -> %ld (%.0f ms, attempt %d)\n", method, shown, status, ms,
                      attempt);
    else
        sf_buf_printf(&log, "http: %s %s -> %s (%.0f ms, attempt %d)\n", method, shown, error, ms,
                      attempt);
    for (const struct curl_slist *l = hdrs; l; l = l->next)
        if (strcmp(l->data, "Expect:") != 0)
            log_header(&log, l->data);
    /* One write, so that lines of parallel requests do not interleave. */
    fputs(log.s, stderr);
    free(shown);
    sf_buf_free(&log);
}

int sf_http_do(struct sf_http *h, const struct sf_http_req *rq, struct sf_http_resp *rs)
{
    *rs = (struct sf_http_resp){0};
    bool idempotent = rq->idempotent > 0 || (rq->idempotent == 0 && method_idempotent(rq->method));
    bool maybe_sent = false; /* some attempt may have reached the server unanswered */
    CURL *e = handle_take(h);
    char errbuf[CURL_ERROR_SIZE];
    int result = -1;

    for (int attempt = 1;; attempt++) {
        double start = sf_now();
        long timeout_ms = h->request_timeout_ms, connect_ms = h->connect_timeout_ms;
        if (rq->deadline > 0) {
            double left_ms = (rq->deadline - start) * 1000;
            if (left_ms < 1) {
                if (attempt == 1) {
                    rs->error = sf_xstrdup("the deadline passed before the request was sent");
                    rs->ambiguous = false;
                    result = -1;
                }
                break;
            }
            if (left_ms < timeout_ms)
                timeout_ms = (long)left_ms;
            if (left_ms < connect_ms)
                connect_ms = (long)left_ms;
            if (timeout_ms < 1)
                timeout_ms = 1; /* 0 would mean "no timeout" to libcurl */
            if (connect_ms < 1)
                connect_ms = 1;
        }

        struct curl_slist *hdrs = NULL;
        for (const char *const *p = rq->headers; p && *p; p++)
            hdrs = curl_slist_append(hdrs, *p);
        if (rq->before_attempt) {
            struct sf_buf extra = {0};
            rq->before_attempt(rq->arg, rq, &extra);
            add_header_lines(&hdrs, extra.s);
            sf_buf_free(&extra);
        }
        /* No "100 Continue" round trip before large bodies. */
        hdrs = curl_slist_append(hdrs, "Expect:");

        struct attempt a = {0};
        long status = 0;
        CURLcode rc =
            attempt_run(h, e, rq, idempotent, hdrs, timeout_ms, connect_ms, &a, errbuf, &status);
        double ms = (sf_now() - start) * 1000;
        if (h->stats) {
            atomic_fetch_add(&h->stats->requests, 1);
            if (attempt > 1)
                atomic_fetch_add(&h->stats->retries, 1);
        }
        const char *cerr = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        if (sf_http_debug())
            log_attempt(rq->method, rq->url, hdrs, status, cerr, ms, attempt);
        curl_slist_free_all(hdrs);

        /* This attempt's outcome replaces the previous one's. */
        free(rs->body);
        free(rs->headers);
        free(rs->error);
        rs->len = a.body.len;
        rs->body = sf_buf_take(&a.body);
        rs->headers = sf_buf_take(&a.headers);
        rs->error = NULL;
        rs->status = status;
        rs->attempts = attempt;

        bool retry;
        long wait_ms = -1;
        rs->permanent = false;
        if (rc == CURLE_OK) {
            result = 0;
            rs->ambiguous = false;
            /* 501 Not Implemented is an answer (the server lacks the
             * feature), not a failure that passes. */
            bool busy = status == 429 || (status >= 500 && status != 501);
            retry = busy && (idempotent || status == 429);
            if (retry)
                wait_ms = retry_after_ms(rs);
        } else {
            result = -1;
            rs->error = sf_xstrdup(cerr);
            enum failure f = classify_failure(rc);
            rs->permanent = f == FAIL_PERMANENT;
            if (f == FAIL_MAYBE_SENT)
                maybe_sent = true;
            rs->ambiguous = maybe_sent;
            retry = f == FAIL_NOT_SENT || (f == FAIL_MAYBE_SENT && idempotent);
        }
        if (!retry || attempt >= h->max_attempts)
            break;
        if (wait_ms < 0)
            wait_ms = backoff_ms(h, attempt);
        /* A wait that ends past the deadline would only lead to no attempt. */
        if (rq->deadline > 0 && sf_now() + (double)wait_ms / 1000 >= rq->deadline)
            break;
        sf_sleep_ms(wait_ms);
    }

    if (rs->status > 0) {
        static const char *const ids[] = {"X-Openstack-Request-Id", "X-Compute-Request-Id",
                                          "x-amz-request-id", NULL};
        for (int i = 0; ids[i] && !rs->request_id; i++)
            rs->request_id = sf_http_header(rs, ids[i]);
    }
    if (!rs->body)
        rs->body = sf_xstrdup("");
    if (!rs->headers)
        rs->headers = sf_xstrdup("");
    handle_give_back(h, e);
    return result;
}

void sf_http_resp_free(struct sf_http_resp *rs)
{
    if (!rs)
        return;
    free(rs->body);
    free(rs->headers);
    free(rs->error);
    free(rs->request_id);
    *rs = (struct sf_http_resp){0};
}

/* ------------------------------------------------------------- answers */

char *sf_http_header(const struct sf_http_resp *rs, const char *name)
{
    if (!rs->headers)
        return NULL;
    size_t n = strlen(name);
    for (const char *p = rs->headers; *p;) {
        size_t len = strcspn(p, "\r\n");
        if (len > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1, *end = p + len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            return sf_xstrndup(v, (size_t)(end - v));
        }
        p += len;
        p += strspn(p, "\r\n");
    }
    return NULL;
}

enum sf_diag_class sf_http_class(const struct sf_http_resp *rs)
{
    long s = rs->status;
    if (s == 0 && rs->permanent)
        return SF_CLASS_INVALID;
    if (s == 0 || s == 429 || (s >= 500 && s != 501))
        return SF_CLASS_RETRYABLE;
    if (s == 404 || s == 410)
        return SF_CLASS_NOT_FOUND;
    if (s == 409 || s == 412)
        return SF_CLASS_CONFLICT;
    if (s == 401 || s == 403)
        return SF_CLASS_UNAUTHORIZED;
    if (s >= 400)
        return SF_CLASS_INVALID;
    return SF_CLASS_NONE;
}

static const char *json_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* What a JSON error body says, in the shapes the cloud's APIs use; caller
 * frees; NULL when the body is not JSON or says nothing recognisable. */
static char *json_message(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!j)
        return NULL;
    char *msg = NULL;
    if (json_is_object(j)) {
        const json_t *err = json_object_get(j, "error");
        json_t *errors = json_object_get(j, "errors");
        const char *s;
        if (json_is_object(err) && (s = json_str(err, "message")))
            msg = sf_xstrdup(s); /* Keystone */
        else if (json_is_string(err))
            msg = sf_xstrdup(json_string_value(err));
        else if (json_is_array(errors) && json_is_object(json_array_get(errors, 0))) {
            /* container-infra: {"errors":[{"title","detail"}]} */
            const json_t *e0 = json_array_get(errors, 0);
            const char *t = json_str(e0, "title"), *d = json_str(e0, "detail");
            if (t && d && strcmp(t, d) != 0)
                msg = sf_asprintf("%s: %s", t, d);
            else if (t || d)
                msg = sf_xstrdup(t ? t : d);
        } else if ((s = json_str(j, "message")) || (s = json_str(j, "faultstring"))) {
            msg = sf_xstrdup(s); /* Kubernetes Status, plain shapes */
        } else {
            /* Nova / Neutron: {"itemNotFound": {"message": ...}},
             * {"NeutronError": {"message": ...}}: one key, any name. */
            const char *key;
            json_t *v;
            json_object_foreach(j, key, v) {
                if (json_is_object(v) &&
                    ((s = json_str(v, "message")) || (s = json_str(v, "faultstring")))) {
                    msg = sf_xstrdup(s);
                    break;
                }
            }
        }
    }
    json_decref(j);
    return msg;
}

/* The first ERROR_BODY_BYTES printable bytes of a body, whitespace runs
 * folded to one space; caller frees. */
static char *body_excerpt(const char *body, size_t len)
{
    struct sf_buf b = {0};
    bool space = false;
    for (size_t i = 0; i < len && b.len < ERROR_BODY_BYTES; i++) {
        unsigned char c = (unsigned char)body[i];
        if (isprint(c) && c != ' ') {
            if (space && b.len > 0)
                sf_buf_add(&b, " ", 1);
            space = false;
            sf_buf_add(&b, (const char *)&c, 1);
        } else {
            space = true;
        }
    }
    return sf_buf_take(&b);
}

/* The reason phrase of the answer's status line ("Conflict"), or "". */
static char *reason_phrase(const struct sf_http_resp *rs)
{
    const char *p = rs->headers;
    if (!p || strncmp(p, "HTTP/", 5) != 0)
        return sf_xstrdup("");
    p += strcspn(p, " ");           /* past the version */
    p += strspn(p, " ");
    p += strspn(p, "0123456789");   /* past the code */
    p += strspn(p, " ");
    return sf_xstrndup(p, strcspn(p, "\r\n"));
}

void sf_http_error(struct sf_diags *d, const char *address, const char *what,
                   const struct sf_http_req *rq, const struct sf_http_resp *rs)
{
    struct sf_buf b = {0};
    char *url = redact_url(rq->url);
    if (what)
        sf_buf_printf(&b, "%s: ", what);
    sf_buf_printf(&b, "%s %s: ", rq->method, url);
    enum sf_diag_class cls = sf_http_class(rs);
    if (rs->status == 0) {
        sf_buf_puts(&b, rs->error ? rs->error : "no answer");
        if (rs->ambiguous)
            sf_buf_puts(&b, " (the server may have acted on the request)");
    } else {
        char *reason = reason_phrase(rs);
        sf_buf_printf(&b, "HTTP %ld%s%s", rs->status, *reason ? " " : "", reason);
        free(reason);
        char *msg = rs->body && rs->len ? json_message(rs->body, rs->len) : NULL;
        if (!msg && rs->body && rs->len)
            msg = body_excerpt(rs->body, rs->len);
        if (msg && *msg)
            sf_buf_printf(&b, ": %s", msg);
        free(msg);
        if (rs->request_id)
            sf_buf_printf(&b, " (request id %s)", rs->request_id);
    }
    sf_diag_add_class(d, cls, NULL, address, "%s", b.s);
    sf_buf_free(&b);
    free(url);
}

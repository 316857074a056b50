/*
 * AWS Signature Version 4 (S3 flavour): one canonicalisation shared by the
 * S3 provider, which signs its requests here before libcurl sends them, and
 * localcloud's S3 emulator, which verifies every request it receives here.
 * Keeping both sides on the same code means a request our client signs is
 * exactly what our server checks; tests/e2e/sigv4_boto.sh keeps both honest
 * against an independent signer (botocore).
 */
#include "sigv4.h"

#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define DEFAULT_SKEW_S 900
#define MAX_EXPIRES_S 604800

/* ---------------------------------------------------------------- hashing */

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void sf_sigv4_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(data ? data : "", n, md, &len, EVP_sha256(), NULL) || len != 32) {
        /* Only a broken libcrypto gets here; a wrong hash would fail later
         * checks in confusing ways, so stop. */
        fputs("sparkform: SHA-256 unavailable in libcrypto\n", stderr);
        abort();
    }
    hex_encode(md, 32, out);
}

static void hmac_sha256(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len) ||
        len != 32) {
        fputs("sparkform: HMAC-SHA256 unavailable in libcrypto\n", stderr);
        abort();
    }
}

/* kSigning = HMAC chain of "AWS4"+secret over the date (the first 8
 * characters of date), region, service, "aws4_request"; the signature is
 * HMAC(kSigning, string to sign). */
static void signature_hex(const char *secret, const char *date, const char *region,
                          const char *service, const char *string_to_sign, char out[65])
{
    char *k0 = sf_asprintf("AWS4%s", secret);
    char date8[9];
    unsigned char k[32], sig[32];
    snprintf(date8, sizeof date8, "%.8s", date);
    hmac_sha256(k0, strlen(k0), date8, k);
    OPENSSL_cleanse(k0, strlen(k0));
    free(k0);
    hmac_sha256(k, 32, region, k);
    hmac_sha256(k, 32, service, k);
    hmac_sha256(k, 32, TERMINATOR, k);
    hmac_sha256(k, 32, string_to_sign, sig);
    OPENSSL_cleanse(k, sizeof k);
    hex_encode(sig, 32, out);
}

/* --------------------------------------------------------------- encoding */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static void encode_into(struct sf_buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            sf_buf_add(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', digits[c >> 4], digits[c & 15]};
            sf_buf_add(b, e, 3);
        }
    }
}

char *sf_sigv4_uri_encode(const char *s, size_t n, bool keep_slash)
{
    struct sf_buf b = {0};
    encode_into(&b, s ? s : "", s ? n : 0, keep_slash);
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

/* Decodes %XX; a '%' not followed by two hex digits stays literal, and
 * '+' is a literal plus: conforming SigV4 clients send a space as %20. */
static char *pct_decode(const char *s, size_t n, size_t *outlen)
{
    char *out = sf_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* ------------------------------------------------------------------ query */

struct qparam {
    char *name;  /* encoded */
    char *value; /* encoded */
    char *dname; /* decoded name, to find X-Amz-* parameters */
    char *dvalue;
    size_t dvalue_len;
};

struct qlist {
    struct qparam *v;
    size_t n;
};

static void qlist_free(struct qlist *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].name);
        free(q->v[i].value);
        free(q->v[i].dname);
        free(q->v[i].dvalue);
    }
    free(q->v);
    q->v = NULL;
    q->n = 0;
}

static void qlist_parse(const char *query, struct qlist *q)
{
    q->v = NULL;
    q->n = 0;
    if (!query)
        return;
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            const char *v = eq ? eq + 1 : p + len;
            size_t vlen = eq ? len - nlen - 1 : 0;
            struct qparam qp;
            size_t dn;
            qp.dname = pct_decode(p, nlen, &dn);
            qp.name = sf_sigv4_uri_encode(qp.dname, dn, false);
            qp.dvalue = pct_decode(v, vlen, &qp.dvalue_len);
            qp.value = sf_sigv4_uri_encode(qp.dvalue, qp.dvalue_len, false);
            q->v = sf_xrealloc(q->v, (q->n + 1) * sizeof *q->v);
            q->v[q->n++] = qp;
        }
        if (!end)
            break;
        p = end + 1;
    }
}

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *canonical_query_of(struct qlist *q, bool drop_signature)
{
    if (q->n > 1)
        qsort(q->v, q->n, sizeof *q->v, qparam_cmp);
    struct sf_buf b = {0};
    bool first = true;
    for (size_t i = 0; i < q->n; i++) {
        if (drop_signature && strcmp(q->v[i].dname, "X-Amz-Signature") == 0)
            continue;
        sf_buf_printf(&b, "%s%s=%s", first ? "" : "&", q->v[i].name, q->v[i].value);
        first = false;
    }
    return sf_buf_take(&b);
}

char *sf_sigv4_canonical_query(const char *query, bool drop_signature)
{
    struct qlist q;
    qlist_parse(query, &q);
    char *s = canonical_query_of(&q, drop_signature);
    qlist_free(&q);
    return s;
}

/* ---------------------------------------------------------------- headers */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trimall: strip both ends, collapse inner runs of white space to one space. */
static void trimall_into(struct sf_buf *b, const char *v)
{
    bool pending = false, any = false;
    for (const char *p = v ? v : ""; *p; p++) {
        if (is_space(*p)) {
            pending = any;
            continue;
        }
        if (pending)
            sf_buf_add(b, " ", 1);
        sf_buf_add(b, p, 1);
        pending = false;
        any = true;
    }
}

static char *lower(const char *s)
{
    char *l = sf_xstrdup(s);
    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

/* The value of the first header named name (case-insensitive), or NULL. */
static const char *header_get(const struct sf_sigv4_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->n_headers; i++)
        if (rq->headers[i].name && strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value ? rq->headers[i].value : "";
    return NULL;
}

/* The canonical headers block and signed-headers list of one request. */
struct canon {
    struct sf_buf block;  /* "name:value\n" per header */
    struct sf_buf signed_; /* "a;b;c" */
};

static void canon_free(struct canon *c)
{
    sf_buf_free(&c->block);
    sf_buf_free(&c->signed_);
}

/* Appends one signed header: every request header of that name, trimmed,
 * joined by ',' in the order they came. */
static void canon_add(struct canon *c, const char *lname, const struct sf_sigv4_header *h, size_t n)
{
    sf_buf_printf(&c->block, "%s:", lname);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].name || strcasecmp(h[i].name, lname) != 0)
            continue;
        if (!first)
            sf_buf_add(&c->block, ",", 1);
        trimall_into(&c->block, h[i].value);
        first = false;
    }
    sf_buf_add(&c->block, "\n", 1);
    if (c->signed_.len)
        sf_buf_add(&c->signed_, ";", 1);
    sf_buf_puts(&c->signed_, lname);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Client side: sign every header given, in sorted order of lower-cased names. */
static void canon_all(struct canon *c, const struct sf_sigv4_header *h, size_t n)
{
    char **names = sf_xcalloc(n ? n : 1, sizeof *names);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        names[k++] = lower(h[i].name);
    qsort(names, k, sizeof *names, str_cmp);
    for (size_t i = 0; i < k; i++)
        if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
            canon_add(c, names[i], h, n);
    for (size_t i = 0; i < k; i++)
        free(names[i]);
    free(names);
}

/* -------------------------------------------------------- the signature */

static char *canonical_request(const char *method, const char *path, const char *cquery,
                               const struct canon *c, const char *payload)
{
    return sf_asprintf("%s\n%s\n%s\n%s\n%s\n%s", method, path && *path ? path : "/", cquery,
                       c->block.s ? c->block.s : "", c->signed_.s ? c->signed_.s : "", payload);
}

static char *string_to_sign(const char *amz_date, const char *scope, const char *creq)
{
    char h[65];
    sf_sigv4_sha256_hex(creq, strlen(creq), h);
    return sf_asprintf(ALGORITHM "\n%s\n%s\n%s", amz_date, scope, h);
}

static void format_amz_date(time_t now, char out[17])
{
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Parses YYYYMMDDTHHMMSSZ strictly; -1 when malformed. */
static int parse_amz_date(const char *s, time_t *out)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return -1;
    struct tm tm = {0};
    if (!strptime(s, "%Y%m%dT%H%M%SZ", &tm))
        return -1;
    time_t t = timegm(&tm);
    char back[17];
    format_amz_date(t, back);
    /* strptime accepts 20130231; the round trip rejects impossible dates. */
    if (strcmp(back, s) != 0)
        return -1;
    *out = t;
    return 0;
}

/* An HTTP date, "Fri, 24 May 2013 00:00:00 GMT", or the RFC 2822 form
 * with a zero offset that Python's email.utils.formatdate (botocore)
 * sends, "... 00:00:00 -0000"; -1 when malformed. */
static int parse_http_date(const char *s, time_t *out)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
    if (!end || (strcmp(end, " GMT") != 0 && strcmp(end, " UTC") != 0 &&
                 strcmp(end, " +0000") != 0 && strcmp(end, " -0000") != 0))
        return -1;
    *out = timegm(&tm);
    return 0;
}

static bool header_named(const struct sf_sigv4_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name && strcasecmp(h[i].name, name) == 0)
            return true;
    return false;
}

static bool token_ok(const char *s)
{
    return s && *s && !strchr(s, '/');
}

int sf_sigv4_sign(const struct sf_sigv4_request *rq, const char *access_key, const char *secret,
                  const char *region, const char *service, time_t now, char **authorization,
                  char **amz_date)
{
    *authorization = NULL;
    *amz_date = NULL;
    if (!rq || !rq->method || !*rq->method || !rq->path || !rq->payload_sha256 ||
        !token_ok(access_key) || !secret || !token_ok(region) || !token_ok(service))
        return -1;
    for (size_t i = 0; i < rq->n_headers; i++)
        if (!rq->headers[i].name || !*rq->headers[i].name)
            return -1;
    if (header_named(rq->headers, rq->n_headers, "authorization") ||
        header_named(rq->headers, rq->n_headers, "x-amz-date") ||
        !header_named(rq->headers, rq->n_headers, "host"))
        return -1;
    const char *given = header_get(rq, "x-amz-content-sha256");
    if (given && strcmp(given, rq->payload_sha256) != 0)
        return -1;

    char date[17];
    format_amz_date(now, date);
    /* The two headers the signer owns join the caller's for signing. */
    size_t n = rq->n_headers;
    struct sf_sigv4_header *h = sf_xcalloc(n + 2, sizeof *h);
    if (n)
        memcpy(h, rq->headers, n * sizeof *h);
    h[n++] = (struct sf_sigv4_header){"x-amz-date", date};
    if (!given)
        h[n++] = (struct sf_sigv4_header){"x-amz-content-sha256", rq->payload_sha256};

    struct canon c = {{0}, {0}};
    canon_all(&c, h, n);
    char *cq = sf_sigv4_canonical_query(rq->query, false);
    char *creq = canonical_request(rq->method, rq->path, cq, &c, rq->payload_sha256);
    char *scope = sf_asprintf("%.8s/%s/%s/" TERMINATOR, date, region, service);
    char *sts = string_to_sign(date, scope, creq);
    char sig[65];
    signature_hex(secret, date, region, service, sts, sig);
    *authorization = sf_asprintf(ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                                 access_key, scope, c.signed_.s, sig);
    *amz_date = sf_xstrdup(date);
    free(sts);
    free(scope);
    free(creq);
    free(cq);
    canon_free(&c);
    free(h);
    return 0;
}

int sf_sigv4_presign(const struct sf_sigv4_request *rq, const char *access_key, const char *secret,
                     const char *region, const char *service, time_t now, long expires_s,
                     char **query)
{
    *query = NULL;
    if (!rq || !rq->method || !*rq->method || !rq->path || !token_ok(access_key) || !secret ||
        !token_ok(region) || !token_ok(service) || expires_s < 1 || expires_s > MAX_EXPIRES_S)
        return -1;
    for (size_t i = 0; i < rq->n_headers; i++)
        if (!rq->headers[i].name || !*rq->headers[i].name)
            return -1;
    if (header_named(rq->headers, rq->n_headers, "authorization") ||
        header_named(rq->headers, rq->n_headers, "x-amz-date") ||
        !header_named(rq->headers, rq->n_headers, "host"))
        return -1;
    const char *payload = header_get(rq, "x-amz-content-sha256");
    if (!payload)
        payload = SF_SIGV4_UNSIGNED_PAYLOAD;

    char date[17];
    format_amz_date(now, date);
    struct canon c = {{0}, {0}};
    canon_all(&c, rq->headers, rq->n_headers);
    char *scope = sf_asprintf("%.8s/%s/%s/" TERMINATOR, date, region, service);
    char *cred = sf_asprintf("%s/%s", access_key, scope);
    char *ecred = sf_sigv4_uri_encode(cred, strlen(cred), false);
    char *esigned = sf_sigv4_uri_encode(c.signed_.s, c.signed_.len, false);
    char *raw = sf_asprintf("%s%sX-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=%s&X-Amz-Date=%s"
                            "&X-Amz-Expires=%ld&X-Amz-SignedHeaders=%s",
                            rq->query ? rq->query : "", rq->query && *rq->query ? "&" : "", ecred,
                            date, expires_s, esigned);
    char *cq = sf_sigv4_canonical_query(raw, true);
    char *creq = canonical_request(rq->method, rq->path, cq, &c, payload);
    char *sts = string_to_sign(date, scope, creq);
    char sig[65];
    signature_hex(secret, date, region, service, sts, sig);
    *query = sf_asprintf("%s&X-Amz-Signature=%s", cq, sig);
    free(sts);
    free(creq);
    free(cq);
    free(raw);
    free(esigned);
    free(ecred);
    free(cred);
    free(scope);
    canon_free(&c);
    return 0;
}

/* ------------------------------------------------------------ verifying */

const char *sf_sigv4_status_code(enum sf_sigv4_status st)
{
    switch (st) {
    case SF_SIGV4_OK:
        return "OK";
    case SF_SIGV4_ACCESS_DENIED:
        return "AccessDenied";
    case SF_SIGV4_INVALID_ACCESS_KEY_ID:
        return "InvalidAccessKeyId";
    case SF_SIGV4_SIGNATURE_DOES_NOT_MATCH:
        return "SignatureDoesNotMatch";
    case SF_SIGV4_REQUEST_TIME_TOO_SKEWED:
        return "RequestTimeTooSkewed";
    case SF_SIGV4_CONTENT_SHA256_MISMATCH:
        return "XAmzContentSHA256Mismatch";
    case SF_SIGV4_AUTHORIZATION_HEADER_MALFORMED:
        return "AuthorizationHeaderMalformed";
    case SF_SIGV4_AUTHORIZATION_QUERY_PARAMETERS_ERROR:
        return "AuthorizationQueryParametersError";
    case SF_SIGV4_INVALID_REQUEST:
        return "InvalidRequest";
    }
    return "AccessDenied";
}

int sf_sigv4_status_http(enum sf_sigv4_status st)
{
    switch (st) {
    case SF_SIGV4_OK:
        return 200;
    case SF_SIGV4_CONTENT_SHA256_MISMATCH:
    case SF_SIGV4_AUTHORIZATION_HEADER_MALFORMED:
    case SF_SIGV4_AUTHORIZATION_QUERY_PARAMETERS_ERROR:
    case SF_SIGV4_INVALID_REQUEST:
        return 400;
    default:
        return 403;
    }
}

void sf_sigv4_result_free(struct sf_sigv4_result *res)
{
    if (!res)
        return;
    free(res->message);
    free(res->access_key);
    free(res->canonical_request);
    free(res->string_to_sign);
    memset(res, 0, sizeof *res);
}

static enum sf_sigv4_status fail(struct sf_sigv4_result *res, enum sf_sigv4_status st,
                                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static enum sf_sigv4_status fail(struct sf_sigv4_result *res, enum sf_sigv4_status st,
                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(res->message);
    res->message = sf_vasprintf(fmt, ap);
    va_end(ap);
    res->status = st;
    return st;
}

/* The parts of an Authorization header or of a presigned query. */
struct auth {
    char *credential, *signed_headers, *signature, *date, *expires;
    /* credential split up */
    char *key, *cdate, *region, *service, *terminator;
};

static void auth_free(struct auth *a)
{
    free(a->credential);
    free(a->signed_headers);
    free(a->signature);
    free(a->date);
    free(a->expires);
    free(a->key);
    free(a->cdate);
    free(a->region);
    free(a->service);
    free(a->terminator);
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
static const char *parse_auth_header(const char *h, struct auth *a)
{
    size_t alen = strlen(ALGORITHM);
    if (strncmp(h, "AWS ", 4) == 0)
        return "Signature Version 2 is not supported; sign with " ALGORITHM;
    if (strncmp(h, ALGORITHM, alen) != 0 || !is_space(h[alen]))
        return "the authorization type is not " ALGORITHM;
    const char *p = h + alen;
    while (*p) {
        while (is_space(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && is_space(p[len - 1]))
            len--;
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return "a component lacks '=' (expected Credential=, SignedHeaders=, Signature=)";
        size_t klen = (size_t)(eq - p);
        char **slot = NULL;
        if (klen == 10 && strncmp(p, "Credential", 10) == 0)
            slot = &a->credential;
        else if (klen == 13 && strncmp(p, "SignedHeaders", 13) == 0)
            slot = &a->signed_headers;
        else if (klen == 9 && strncmp(p, "Signature", 9) == 0)
            slot = &a->signature;
        else
            return "unknown component (expected Credential=, SignedHeaders=, Signature=)";
        if (*slot)
            return "a component appears twice";
        *slot = sf_xstrndup(eq + 1, len - klen - 1);
        p = end ? end + 1 : p + strlen(p);
    }
    if (!a->credential)
        return "the Credential component is missing";
    if (!a->signed_headers)
        return "the SignedHeaders component is missing";
    if (!a->signature)
        return "the Signature component is missing";
    return NULL;
}

/* Takes the X-Amz-* parameters of a presigned query. */
static const char *parse_auth_query(const struct qlist *q, struct auth *a)
{
    static const char *const names[] = {"X-Amz-Algorithm",     "X-Amz-Credential",
                                        "X-Amz-SignedHeaders", "X-Amz-Signature",
                                        "X-Amz-Date",          "X-Amz-Expires"};
    char *alg = NULL;
    char **slots[] = {&alg, &a->credential, &a->signed_headers, &a->signature, &a->date,
                      &a->expires};
    const char *err = NULL;
    for (size_t i = 0; i < q->n && !err; i++)
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            if (strcmp(q->v[i].dname, names[k]) == 0) {
                if (*slots[k]) {
                    err = "an X-Amz-* query parameter appears twice";
                    break;
                }
                if (strlen(q->v[i].dvalue) != q->v[i].dvalue_len) {
                    err = "an X-Amz-* query parameter holds a NUL byte";
                    break;
                }
                *slots[k] = sf_xstrdup(q->v[i].dvalue);
            }
    static const char *const missing[] = {
        "the X-Amz-Algorithm query parameter is missing",
        "the X-Amz-Credential query parameter is missing",
        "the X-Amz-SignedHeaders query parameter is missing",
        "the X-Amz-Signature query parameter is missing",
        "the X-Amz-Date query parameter is missing",
        "the X-Amz-Expires query parameter is missing"};
    for (size_t k = 0; k < sizeof names / sizeof *names && !err; k++)
        if (!*slots[k])
            err = missing[k];
    if (!err && strcmp(alg, ALGORITHM) != 0)
        err = "X-Amz-Algorithm is not " ALGORITHM;
    free(alg);
    return err;
}

/* AK/YYYYMMDD/region/service/aws4_request; the key is everything before
 * the last four slashes. */
static const char *split_credential(struct auth *a)
{
    const char *c = a->credential;
    const char *slash[4];
    const char *end = c + strlen(c);
    for (int i = 3; i >= 0; i--) {
        const char *p = end;
        while (p > c && p[-1] != '/')
            p--;
        if (p == c)
            return "the Credential is not ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request";
        slash[i] = p - 1;
        end = p - 1;
    }
    a->key = sf_xstrndup(c, (size_t)(slash[0] - c));
    a->cdate = sf_xstrndup(slash[0] + 1, (size_t)(slash[1] - slash[0] - 1));
    a->region = sf_xstrndup(slash[1] + 1, (size_t)(slash[2] - slash[1] - 1));
    a->service = sf_xstrndup(slash[2] + 1, (size_t)(slash[3] - slash[2] - 1));
    a->terminator = sf_xstrdup(slash[3] + 1);
    if (!*a->key)
        return "the Credential names no access key";
    if (strlen(a->cdate) != 8 || strspn(a->cdate, "0123456789") != 8)
        return "the Credential's date is not YYYYMMDD";
    if (!*a->region || !*a->service)
        return "the Credential's region or service is empty";
    if (strcmp(a->terminator, TERMINATOR) != 0)
        return "the Credential does not end in /aws4_request";
    return NULL;
}

static bool signed_list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* SignedHeaders: lower-case names separated by ';', host among them. */
static const char *check_signed_list(const char *list)
{
    if (!*list)
        return "SignedHeaders is empty";
    for (const char *p = list; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == ';') {
            if (p == list || p[1] == '\0' || p[1] == ';')
                return "SignedHeaders has an empty name";
        } else if (ch <= ' ' || ch >= 0x7f || ch == ':' || isupper(ch)) {
            return "SignedHeaders must be lower-case header names separated by ';'";
        }
    }
    if (!signed_list_has(list, "host"))
        return "SignedHeaders must include host";
    return NULL;
}

static bool is_sha256_hex(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (hexval(s[i]) < 0)
            return false;
    return true;
}

enum sf_sigv4_status sf_sigv4_verify(const struct sf_sigv4_request *rq,
                                     const struct sf_sigv4_verify_opts *o,
                                     struct sf_sigv4_result *res)
{
    memset(res, 0, sizeof *res);
    struct auth a;
    memset(&a, 0, sizeof a);
    struct qlist q;
    qlist_parse(rq->query, &q);
    struct canon c = {{0}, {0}};
    char *secret = NULL, *cq = NULL, *scope = NULL;
    const char *err;
    enum sf_sigv4_status malformed;

    const char *auth_header = header_get(rq, "authorization");
    bool in_query = false;
    for (size_t i = 0; i < q.n; i++)
        if (strcmp(q.v[i].dname, "X-Amz-Algorithm") == 0 ||
            strcmp(q.v[i].dname, "X-Amz-Signature") == 0 ||
            strcmp(q.v[i].dname, "X-Amz-Credential") == 0)
            in_query = true;
    res->presigned = in_query && !auth_header;

    if (auth_header && in_query) {
        fail(res, SF_SIGV4_AUTHORIZATION_HEADER_MALFORMED,
             "only one auth mechanism allowed: the request has both an Authorization header "
             "and X-Amz-* query parameters");
        goto out;
    }
    if (!auth_header && !in_query) {
        bool v2 = false;
        for (size_t i = 0; i < q.n; i++)
            v2 = v2 || strcmp(q.v[i].dname, "AWSAccessKeyId") == 0;
        if (v2)
            fail(res, SF_SIGV4_ACCESS_DENIED,
                 "Signature Version 2 presigned URLs are not supported; presign with " ALGORITHM);
        else
            fail(res, SF_SIGV4_ACCESS_DENIED,
                 "the request is not signed: expected an Authorization header (" ALGORITHM
                 ") or a presigned URL");
        goto out;
    }
    if (res->presigned) {
        malformed = SF_SIGV4_AUTHORIZATION_QUERY_PARAMETERS_ERROR;
        err = parse_auth_query(&q, &a);
    } else {
        malformed = SF_SIGV4_AUTHORIZATION_HEADER_MALFORMED;
        err = parse_auth_header(auth_header, &a);
        const char *d = header_get(rq, "x-amz-date");
        const char *http_date = header_get(rq, "date");
        time_t ht;
        if (!err && d) {
            a.date = sf_xstrdup(d);
        } else if (!err && http_date) {
            /* SigV4 allows the Date header instead; the string to sign
             * then carries its time in the x-amz-date form. */
            if (parse_http_date(http_date, &ht) < 0) {
                fail(res, SF_SIGV4_ACCESS_DENIED,
                     "the Date header '%.40s' is not a valid date (expected e.g. 'Fri, 24 May "
                     "2013 00:00:00 GMT')",
                     http_date);
                goto out;
            }
            a.date = sf_xmalloc(17);
            format_amz_date(ht, a.date);
        }
    }
    const char *what = res->presigned ? "the presigned URL" : "the Authorization header";
    if (err) {
        fail(res, malformed, "%s is malformed: %s", what, err);
        goto out;
    }
    if ((err = split_credential(&a))) {
        fail(res, malformed, "%s is malformed: %s", what, err);
        goto out;
    }
    res->access_key = sf_xstrdup(a.key);
    if (o->region && strcmp(a.region, o->region) != 0) {
        fail(res, malformed, "%s is malformed: the region '%.64s' is wrong; expecting '%s'", what,
             a.region, o->region);
        goto out;
    }
    if (o->service && strcmp(a.service, o->service) != 0) {
        fail(res, malformed, "%s is malformed: the service '%.64s' is wrong; expecting '%s'", what,
             a.service, o->service);
        goto out;
    }
    if ((err = check_signed_list(a.signed_headers))) {
        fail(res, malformed, "%s is malformed: %s", what, err);
        goto out;
    }

    time_t t;
    if (!a.date) {
        fail(res, SF_SIGV4_ACCESS_DENIED,
             "AWS authentication requires a valid Date or x-amz-date header");
        goto out;
    }
    if (parse_amz_date(a.date, &t) < 0) {
        fail(res, res->presigned ? malformed : SF_SIGV4_ACCESS_DENIED,
             "%s '%.32s' is not a valid date (expected YYYYMMDDTHHMMSSZ)",
             res->presigned ? "X-Amz-Date" : "x-amz-date", a.date);
        goto out;
    }
    if (strncmp(a.cdate, a.date, 8) != 0) {
        fail(res, malformed, "%s is malformed: the Credential's date %s is not the date of %s",
             what, a.cdate, res->presigned ? "X-Amz-Date" : "x-amz-date");
        goto out;
    }
    long skew = o->max_skew_s > 0 ? o->max_skew_s : DEFAULT_SKEW_S;
    if (res->presigned) {
        char *endp;
        errno = 0;
        long exp = strtol(a.expires, &endp, 10);
        if (!*a.expires || *endp || errno || !isdigit((unsigned char)a.expires[0]) || exp < 1 ||
            exp > MAX_EXPIRES_S) {
            fail(res, malformed,
                 "X-Amz-Expires must be a number of seconds from 1 to %d (one week)",
                 MAX_EXPIRES_S);
            goto out;
        }
        if (t > o->now + skew) {
            fail(res, SF_SIGV4_ACCESS_DENIED, "the presigned URL is not valid yet (X-Amz-Date %s)",
                 a.date);
            goto out;
        }
        if (o->now > t + exp) {
            fail(res, SF_SIGV4_ACCESS_DENIED, "the presigned URL has expired (X-Amz-Date %s + %ld s)",
                 a.date, exp);
            goto out;
        }
    } else {
        double diff = difftime(o->now, t);
        if (diff > skew || diff < -skew) {
            char now_s[17];
            format_amz_date(o->now, now_s);
            fail(res, SF_SIGV4_REQUEST_TIME_TOO_SKEWED,
                 "the difference between the request time %s and the server time %s is more "
                 "than %ld s",
                 a.date, now_s, skew);
            goto out;
        }
    }

    const char *payload = header_get(rq, "x-amz-content-sha256");
    if (!payload && !res->presigned) {
        fail(res, SF_SIGV4_INVALID_REQUEST,
             "missing required header x-amz-content-sha256 (the body's SHA-256 in hex or "
             "UNSIGNED-PAYLOAD)");
        goto out;
    }
    if (payload && strncmp(payload, "STREAMING-", 10) == 0) {
        fail(res, SF_SIGV4_INVALID_REQUEST,
             "x-amz-content-sha256 '%.64s' (chunked upload signing) is not supported; send "
             "UNSIGNED-PAYLOAD or the body's SHA-256",
             payload);
        goto out;
    }
    if (payload && strcmp(payload, SF_SIGV4_UNSIGNED_PAYLOAD) != 0 && !is_sha256_hex(payload)) {
        fail(res, SF_SIGV4_INVALID_REQUEST,
             "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 in hex (64 digits)");
        goto out;
    }
    if (!payload)
        payload = SF_SIGV4_UNSIGNED_PAYLOAD;

    /* An unsigned x-amz-* header (an ACL, a storage class...) could be
     * added by anyone on the way; S3 refuses such requests. */
    for (size_t i = 0; i < rq->n_headers; i++) {
        const char *n = rq->headers[i].name;
        if (n && strncasecmp(n, "x-amz-", 6) == 0) {
            char *l = lower(n);
            bool ok = signed_list_has(a.signed_headers, l);
            free(l);
            if (!ok) {
                fail(res, SF_SIGV4_ACCESS_DENIED,
                     "there were headers present in the request which were not signed: %.64s", n);
                goto out;
            }
        }
    }

    secret = o->lookup ? o->lookup(o->lookup_ctx, a.key) : NULL;
    if (!secret) {
        fail(res, SF_SIGV4_INVALID_ACCESS_KEY_ID,
             "the access key ID %.128s does not exist in our records", a.key);
        goto out;
    }

    for (const char *p = a.signed_headers; p;) {
        const char *end = strchr(p, ';');
        char *name = end ? sf_xstrndup(p, (size_t)(end - p)) : sf_xstrdup(p);
        canon_add(&c, name, rq->headers, rq->n_headers);
        free(name);
        p = end ? end + 1 : NULL;
    }
    cq = canonical_query_of(&q, res->presigned);
    res->canonical_request =
        canonical_request(rq->method ? rq->method : "", rq->path, cq, &c, payload);
    scope = sf_asprintf("%s/%s/%s/" TERMINATOR, a.cdate, a.region, a.service);
    res->string_to_sign = string_to_sign(a.date, scope, res->canonical_request);
    char want[65], got[65] = {0};
    signature_hex(secret, a.cdate, a.region, a.service, res->string_to_sign, want);
    size_t slen = strlen(a.signature);
    for (size_t i = 0; i < 64 && i < slen; i++)
        got[i] = (char)tolower((unsigned char)a.signature[i]);
    if (slen != 64 || CRYPTO_memcmp(want, got, 64) != 0) {
        fail(res, SF_SIGV4_SIGNATURE_DOES_NOT_MATCH,
             "the request signature we calculated does not match the signature you provided; "
             "check your key and signing method");
        goto out;
    }

    if (o->body && strcmp(payload, SF_SIGV4_UNSIGNED_PAYLOAD) != 0) {
        char h[65];
        sf_sigv4_sha256_hex(o->body, o->body_len, h);
        if (strcasecmp(h, payload) != 0) {
            fail(res, SF_SIGV4_CONTENT_SHA256_MISMATCH,
                 "the x-amz-content-sha256 header does not match the SHA-256 of the body "
                 "received");
            goto out;
        }
    }
    res->status = SF_SIGV4_OK;
    res->message = sf_xstrdup("OK");

out:
    if (secret) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
    free(scope);
    free(cq);
    canon_free(&c);
    qlist_free(&q);
    auth_free(&a);
    return res->status;
}

/*
 * AWS Signature Version 4, S3 flavour, for both sides of the wire: the S3
 * provider signs its own requests (libcurl's built-in signer canonicalises
 * query strings wrongly) and localcloud's S3 emulator verifies them, so the
 * two cannot drift apart.
 *
 * Canonical request (S3 rules):
 *   - the URI is the path exactly as sent (S3 does not double-encode);
 *   - the query is split on '&', each name and value percent-decoded and
 *     re-encoded (A-Z a-z 0-9 - _ . ~ kept, everything else %XX, space as
 *     %20, '+' is a literal plus), sorted by name then value; a parameter
 *     without '=' has an empty value;
 *   - header names are lower-cased, values trimmed with inner runs of
 *     white space collapsed to one space, repeated headers joined by ',';
 *   - the payload hash is the hex SHA-256 of the body or "UNSIGNED-PAYLOAD".
 */
#ifndef SF_SIGV4_H
#define SF_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SF_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* Hex SHA-256 of the empty string: the payload hash of a request without body. */
#define SF_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sf_sigv4_header {
    const char *name;
    const char *value;
};

struct sf_sigv4_request {
    const char *method;                    /* "GET", "PUT", ... */
    const char *path;                      /* raw, as sent: already URI-encoded; "" means "/" */
    const char *query;                     /* raw, without '?'; NULL or "" when none */
    const struct sf_sigv4_header *headers; /* sign: the headers to sign (must include Host);
                                              verify: every header of the request */
    size_t n_headers;
    const char *payload_sha256;            /* sign only: hex SHA-256 of the body or
                                              SF_SIGV4_UNSIGNED_PAYLOAD; verify reads
                                              the x-amz-content-sha256 header instead */
};

/* ---- client side ---- */

/*
 * Sign a request with an Authorization header. Every header in rq->headers
 * is signed (pass Host with the port when it is not the scheme's default,
 * and leave out headers a proxy may rewrite, like User-Agent); the signer
 * adds x-amz-date and x-amz-content-sha256 itself. The caller then sends
 *   Authorization: *authorization
 *   X-Amz-Date: *amz_date
 *   X-Amz-Content-SHA256: rq->payload_sha256
 * plus the headers it passed. Returns 0, or -1 when the request cannot be
 * signed (missing method, path, payload hash or key; no Host header; an
 * empty header name; an Authorization or X-Amz-Date header among
 * rq->headers; an
 * x-amz-content-sha256 header that disagrees with rq->payload_sha256).
 * The caller frees *authorization and *amz_date.
 */
int sf_sigv4_sign(const struct sf_sigv4_request *rq, const char *access_key, const char *secret,
                  const char *region, const char *service, time_t now, char **authorization,
                  char **amz_date);

/*
 * Presign a request: *query receives the whole query string to send after
 * '?': rq->query's parameters and X-Amz-Algorithm, -Credential, -Date,
 * -Expires, -SignedHeaders, all canonicalised, then X-Amz-Signature. Every
 * header in rq->headers is signed (Host at least) and must then be sent.
 * The payload hash is UNSIGNED-PAYLOAD unless rq->headers carries an
 * x-amz-content-sha256 header (rq->payload_sha256 is ignored). expires_s is
 * 1..604800 (7 days). Returns 0 or -1 as sf_sigv4_sign; caller frees *query.
 */
int sf_sigv4_presign(const struct sf_sigv4_request *rq, const char *access_key, const char *secret,
                     const char *region, const char *service, time_t now, long expires_s,
                     char **query);

/* ---- server side ---- */

/* The outcome of a verification, named after the AWS error code it maps to. */
enum sf_sigv4_status {
    SF_SIGV4_OK = 0,
    SF_SIGV4_ACCESS_DENIED,               /* AccessDenied: no auth, bad/missing date, expired
                                             presigned URL, unsigned x-amz-* header */
    SF_SIGV4_INVALID_ACCESS_KEY_ID,       /* InvalidAccessKeyId */
    SF_SIGV4_SIGNATURE_DOES_NOT_MATCH,    /* SignatureDoesNotMatch */
    SF_SIGV4_REQUEST_TIME_TOO_SKEWED,     /* RequestTimeTooSkewed */
    SF_SIGV4_CONTENT_SHA256_MISMATCH,     /* XAmzContentSHA256Mismatch */
    SF_SIGV4_AUTHORIZATION_HEADER_MALFORMED, /* AuthorizationHeaderMalformed */
    SF_SIGV4_AUTHORIZATION_QUERY_PARAMETERS_ERROR, /* AuthorizationQueryParametersError:
                                                      malformed presigned URL */
    SF_SIGV4_INVALID_REQUEST,             /* InvalidRequest: x-amz-content-sha256 missing,
                                             malformed or an unsupported streaming mode */
};

/* "SignatureDoesNotMatch" etc.; static strings. */
const char *sf_sigv4_status_code(enum sf_sigv4_status st);
/* The HTTP status S3 answers with: 200, 400 or 403. */
int sf_sigv4_status_http(enum sf_sigv4_status st);

/*
 * Looks up the secret of an access key. Returns a malloc'd copy (the
 * verifier wipes and frees it), or NULL when the key is unknown.
 */
typedef char *(*sf_sigv4_lookup_fn)(void *ctx, const char *access_key);

struct sf_sigv4_verify_opts {
    sf_sigv4_lookup_fn lookup; /* required */
    void *lookup_ctx;
    const char *region;  /* the region the scope must name; NULL accepts any */
    const char *service; /* the service the scope must name ("s3"); NULL accepts any */
    time_t now;          /* the server's clock */
    long max_skew_s;     /* allowed |now - x-amz-date|; 0 means 900 (15 minutes) */
    const void *body;    /* the whole body when it is at hand (an empty body is "" with
                            body_len 0), to check against x-amz-content-sha256; NULL when
                            the body is streamed and checked elsewhere */
    size_t body_len;
};

struct sf_sigv4_result {
    enum sf_sigv4_status status;
    char *message;           /* one line for the error's Message; never holds a secret */
    char *access_key;        /* the key the request named, once it could be parsed, else NULL */
    bool presigned;          /* the credentials came in the query string */
    char *canonical_request; /* what the server signed, once it got that far, else NULL: */
    char *string_to_sign;    /* S3 returns both with SignatureDoesNotMatch */
};

/*
 * Verify a signed request: an Authorization header, or a presigned query
 * (X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders,
 * -Signature). Checks the credential scope, the key (via the callback), the
 * date and its skew (or the presigned URL's expiry), that x-amz-content-sha256
 * is present and well-formed, that every x-amz-* header is signed, the
 * signature (compared in constant time) and, when the body is given, that
 * it hashes to x-amz-content-sha256. Returns res->status. res is always
 * filled; release it with sf_sigv4_result_free.
 */
enum sf_sigv4_status sf_sigv4_verify(const struct sf_sigv4_request *rq,
                                     const struct sf_sigv4_verify_opts *o,
                                     struct sf_sigv4_result *res);
void sf_sigv4_result_free(struct sf_sigv4_result *res);

/* ---- helpers both sides use ---- */

/* Hex SHA-256 of data into out (65 bytes with the NUL). */
void sf_sigv4_sha256_hex(const void *data, size_t n, char out[65]);

/*
 * Percent-encode n bytes with the AWS rules (unreserved kept, the rest %XX
 * upper-case). keep_slash keeps '/' as is: right for an S3 object key in a
 * path, wrong for a query value. Caller frees.
 */
char *sf_sigv4_uri_encode(const char *s, size_t n, bool keep_slash);

/*
 * The canonical form of a raw query string (see the top of this file);
 * X-Amz-Signature is left out when drop_signature. Caller frees.
 */
char *sf_sigv4_canonical_query(const char *query, bool drop_signature);

#endif

/*
 * The "s3" provider: buckets and small objects in an S3-compatible object
 * store (VK Cloud's, AWS, localcloud's /s3, s3rver). This header is private
 * to providers/s3/: s3.c holds the provider table, the configure step
 * (endpoint, region, keys) and the one signed request helper every type
 * uses; bucket.c holds s3_bucket (rules.c the shapes its configurations are
 * compared in), object.c s3_object, and xml.c builds and
 * reads S3's XML documents with libxml2. The few pure functions below are
 * exported so that tests/unit/test_s3.c can check them without a server.
 */
#ifndef SF_S3_H
#define SF_S3_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "http.h"
#include "provider.h"
#include "s3name.h"
#include "util.h"

/* The region signatures name when none is configured: VK Cloud's Moscow
 * region, which its object storage expects; localcloud takes any. */
#define SF_S3_DEFAULT_REGION "ru-msk"
/* The largest object content or source file this provider uploads (one
 * PUT) and the largest object a read downloads to hash. */
#define SF_S3_MAX_OBJECT ((size_t)64 << 20)
/* Tag keys (buckets) and metadata names (objects) that mark what this
 * stack made; read hides them. */
#define SF_S3_TAG_LINEAGE "sparkform_lineage"
#define SF_S3_TAG_ADDRESS "sparkform_address"

/* Where requests go, parsed from the endpoint URL. */
struct sf_s3_endpoint {
    char *scheme;    /* "http" or "https" */
    char *host;      /* "hb.ru-msk.vkcs.cloud"; with ":port" when not the scheme's default */
    char *base;      /* the URL's path without a trailing '/': "" or "/s3" */
    bool path_style; /* bucket in the path; else in the host name */
};

/* Parses url ("https://host[:port][/path]"); 0, or -1 with *why set to a
 * static reason. Free with sf_s3_endpoint_free. */
int sf_s3_endpoint_parse(const char *url, bool path_style, struct sf_s3_endpoint *ep,
                         const char **why);
void sf_s3_endpoint_free(struct sf_s3_endpoint *ep);

/* One request's address on the wire. */
struct sf_s3_target {
    char *url;         /* what libcurl is given */
    char *host;        /* the Host header's value */
    char *path;        /* the path exactly as in url, which is what is signed */
    const char *query; /* borrowed: the raw query, or NULL */
};

/* The target of a request to bucket (NULL: the service) and key (NULL:
 * the bucket) with a raw, already encoded query (NULL: none). The key is
 * percent-encoded with '/' kept, as S3 signs it. */
void sf_s3_target(const struct sf_s3_endpoint *ep, const char *bucket, const char *key,
                  const char *query, struct sf_s3_target *t);
void sf_s3_target_free(struct sf_s3_target *t);

/* The keys a call signs with (borrowed strings). */
struct sf_s3_keys {
    const char *access;
    const char *secret;
};

/*
 * Signs a request to t at now with lib/sigv4: appends to out the header
 * lines ("Name: value\n") Host, X-Amz-Date, X-Amz-Content-SHA256 and
 * Authorization. headers (NULL-terminated "Name: value" lines, may be NULL)
 * are the request's other headers, all of them signed. Returns 0, or -1
 * when lib/sigv4 refuses the request (a malformed header).
 */
int sf_s3_sign(const struct sf_s3_target *t, const char *method, const char *const *headers,
               const char *payload_sha256, const struct sf_s3_keys *k, const char *region,
               time_t now, struct sf_buf *out);

/* The provider's per-run context (c->ctx of every call). */
struct sf_s3_ctx {
    struct sf_http *http;
    struct sf_s3_endpoint ep;
    char *endpoint; /* the URL as configured, for messages */
    char *region;
    char *access_key, *secret_key; /* NULL when the provider has none */
};

/*
 * The keys of a call: the resource's own access_key and secret_key (v is
 * its desired or recorded values) when it sets them, else the provider's.
 * 0, or -1 after an error saying where keys may be given.
 */
int sf_s3_keys(struct sf_call *c, const json_t *v, struct sf_s3_keys *k);

/* Flags of sf_s3_do: answers that are not errors but the caller's to look
 * at (r->http.status, r->code). */
enum {
    SF_S3_OK404 = 1u << 0,      /* not found: reads, deletes, configurations not set */
    SF_S3_OK409 = 1u << 1,      /* a conflict: the bucket exists, is not empty */
    SF_S3_OK_NOTIMPL = 1u << 2, /* 501 NotImplemented / 405: the server lacks the feature */
    SF_S3_OK412 = 1u << 3,      /* a conditional write's precondition failed */
};

struct sf_s3_req {
    const char *method;
    const char *bucket; /* NULL: the service */
    const char *key;    /* NULL: the bucket */
    const char *query;  /* raw query, already encoded ("versioning", "list-type=2"), or NULL */
    const char *const *headers; /* more "Name: value" lines, signed and sent; NULL-terminated */
    const void *body;           /* may be NULL */
    size_t body_len;
    bool md5; /* send Content-MD5 (S3 requires it on configuration PUTs
                 and DeleteObjects) */
};

struct sf_s3_resp {
    struct sf_http_resp http; /* status, body, headers (sf_http_header), attempts */
    char *code;               /* the S3 error document's Code, or NULL */
};
void sf_s3_resp_free(struct sf_s3_resp *r);

/*
 * One signed request (through the provider's HTTP client: retries of 5xx,
 * 429 and SlowDown, deadlines, redacted debug logs). Returns 0 when a 2xx
 * came or an answer the flags accept; otherwise -1 after adding an error
 * of the answer's class, "WHAT: METHOD URL: HTTP 409: Code: Message
 * (request id ...)". r is filled either way and is the caller's to free.
 */
int sf_s3_do(struct sf_call *c, const struct sf_s3_keys *k, const struct sf_s3_req *rq,
             const char *what, unsigned flags, struct sf_s3_resp *r);

/* The same request without a call: for the state's S3 backend (state/),
 * which keeps its own context (x->http, x->ep, x->region; the keys come
 * in k) and reports into d with address (may be NULL). */
int sf_s3_request(const struct sf_s3_ctx *x, struct sf_diags *d, const char *address,
                  double deadline, const struct sf_s3_keys *k, const struct sf_s3_req *rq,
                  const char *what, unsigned flags, struct sf_s3_resp *r);

/* Whether an answer is a server's "not implemented" (501, or 405 from a
 * server that routes unknown subresources there). */
bool sf_s3_not_implemented(const struct sf_s3_resp *r);

/* The class of an S3 error answer: the status's, refined by the Code
 * (SlowDown retryable, SignatureDoesNotMatch unauthorized, ...). */
enum sf_diag_class sf_s3_error_class(long status, const char *code);

/* The SHA-256 (hex) a file or string hashes to. */
void sf_s3_sha256_hex(const void *data, size_t len, char out[65]);

/* path relative to the description's directory (c->config_dir) unless
 * absolute. Caller frees. */
char *sf_s3_path(const struct sf_call *c, const char *path);

/* A string attribute of v, "" when absent. */
const char *sf_s3_str(const json_t *v, const char *name);

/* An error about the object at c->address, of a class. */
#define sf_s3_error(c, cls, ...)                                                                   \
    sf_diag_add_class((c)->diags, (cls), NULL, (c)->address, __VA_ARGS__)

/* ---- rules.c: checks and shapes the plan step, read and the tests use ---- */

/* Whether two bucket policies (JSON texts) mean the same: objects compare
 * member by member in any order, and every list as a set, where a single
 * value equals the list of it ("Action": "s3:GetObject" is
 * ["s3:GetObject"]). False when either is not JSON. */
bool sf_s3_policy_equal(const char *a, const char *b);
/* The lifecycle rules and CORS rules of a description in the shape read
 * reports (defaults filled in, methods upper-cased), a new reference; NULL
 * with *why (caller frees) when they are malformed. */
json_t *sf_s3_lifecycle_normalize(const json_t *rules, char **why);
json_t *sf_s3_cors_normalize(const json_t *rules, char **why);
/* Tags (a map of strings) checked against S3's limits, the same way. */
json_t *sf_s3_tags_normalize(const json_t *tags, char **why);
/* A policy's JSON text in one canonical spelling (keys sorted, compact),
 * a new string; NULL when it is not JSON. */
char *sf_s3_policy_canonical(const char *text);

/* ---- xml.c: S3's documents ---- */

/* Building: each returns the document (caller frees) and its length. */
char *sf_s3_xml_versioning(bool enabled, size_t *len);
char *sf_s3_xml_lifecycle(const json_t *rules, size_t *len);
char *sf_s3_xml_cors(const json_t *rules, size_t *len);
char *sf_s3_xml_tagging(const json_t *tags, size_t *len);
/* DeleteObjects (quiet) of objects: [{"key", "version_id" (may be absent)}]. */
char *sf_s3_xml_delete(const json_t *objects, size_t *len);

/* Reading: NULL / -1 when the body is not the document expected. */

/* Whether body is a document whose root element is root. */
bool sf_s3_xml_is(const char *body, size_t len, const char *root);

/* An error document: *code, *message, *request_id (caller frees; NULL when
 * the element is absent). */
int sf_s3_xml_error(const char *body, size_t len, char **code, char **message, char **request_id);
/* VersioningConfiguration's Status: "Enabled", "Suspended" or "" (never
 * configured); caller frees. */
char *sf_s3_xml_versioning_status(const char *body, size_t len);
/* Lifecycle rules [{id, prefix, enabled, expiration_days?,
 * noncurrent_expiration_days?}] (the actions this provider manages). */
json_t *sf_s3_xml_read_lifecycle(const char *body, size_t len);
/* CORS rules [{allowed_origins, allowed_methods, allowed_headers,
 * expose_headers, max_age_seconds?}]. */
json_t *sf_s3_xml_read_cors(const char *body, size_t len);
/* Tags {key: value}. */
json_t *sf_s3_xml_read_tagging(const char *body, size_t len);

/* A page of a listing. */
struct sf_s3_page {
    json_t *entries; /* [{"key", "version_id" (absent when unversioned), "latest",
                        "delete_marker"}] */
    bool truncated;
    char *next_key, *next_version; /* ListObjectVersions' markers */
    char *next_token;              /* ListObjectsV2's continuation token */
};
void sf_s3_page_free(struct sf_s3_page *p);
/* ListVersionsResult (versions and delete markers) / ListBucketResult (V2). */
int sf_s3_xml_read_versions(const char *body, size_t len, struct sf_s3_page *p);
int sf_s3_xml_read_objects(const char *body, size_t len, struct sf_s3_page *p);
/* DeleteResult: the per-key errors [{"key", "code", "message"}]. */
json_t *sf_s3_xml_read_delete_errors(const char *body, size_t len);

extern const struct sf_resource_type sf_s3_bucket_type;
extern const struct sf_resource_type sf_s3_object_type;

/* The provider, listed in providers/registry.c. */
extern const struct sf_provider sf_provider_s3;

#endif

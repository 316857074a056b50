/*
 * The one HTTP client every network provider uses (cloud, S3, Kubernetes),
 * on libcurl. A client belongs to one provider's per-run context and is
 * used from the walk's worker threads at once: connections, DNS and TLS
 * sessions are reused across them. It bounds every request by the call's
 * deadline, verifies TLS (a CA file may be added, never switched off),
 * retries what is safe to retry with exponential backoff and jitter, and
 * logs each request under SF_LOG=debug with secrets redacted.
 *
 * Retries: connection failures, 5xx (but 501 Not Implemented) and 429
 * (honouring Retry-After) are retried for idempotent requests (GET, HEAD,
 * PUT, DELETE, OPTIONS by default) until
 * max_attempts or the deadline. A non-idempotent request (POST, PATCH) is
 * retried only when it provably never reached the server (the connection
 * could not be made) or got 429; any other failure is returned as it is,
 * marked ambiguous when the server may have acted on it, so that the
 * provider looks for the object (adopt) instead of creating it twice. Such
 * a request goes on a new connection of its own: on a kept-alive one that
 * died, libcurl would send it a second time by itself.
 */
#ifndef SF_HTTP_H
#define SF_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "util.h"

/* Counters of one run, shared by every client of the run (the engine owns
 * them and prints the retries at the end of a run when there were any). */
struct sf_http_stats {
    atomic_long requests; /* attempts sent, retries included */
    atomic_long retries;  /* attempts that were repeats */
};

struct sf_http_opts {
    const char *ca_file;          /* extra CA bundle (PEM), or NULL for the system's; it takes
                                   * the place of the system's bundle file, while the system's
                                   * CA directory (when libcurl has one) still applies */
    const char *ca_pem;           /* CA certificates (PEM text) to trust instead of the system's,
                                   * or NULL: a kubeconfig carries its cluster's CA inline */
    const char *cert_pem;         /* client certificate (PEM text) and its key, or NULL; */
    const char *key_pem;          /* the key is wiped from memory when the client is freed */
    struct sf_http_stats *stats;  /* may be NULL */
    long connect_timeout_ms;      /* 0: 10 s */
    long request_timeout_ms;      /* cap of one attempt, deadline or not; 0: 300 s */
    int max_attempts;             /* 0: 8 */
    long backoff_base_ms;         /* first backoff; 0: 200 ms (doubles, capped at 10 s,
                                   * full jitter) */
    const char *user_agent;       /* NULL: "sparkform/VERSION" */
};

struct sf_http;

/* A new client; free with sf_http_free. Never fails (allocation aborts). */
struct sf_http *sf_http_new(const struct sf_http_opts *o);
void sf_http_free(struct sf_http *h);

struct sf_http_req {
    const char *method;            /* "GET", "POST", ... */
    const char *url;
    const char *const *headers;    /* "Name: value" strings, NULL-terminated; may be NULL */
    const void *body;              /* may be NULL */
    size_t body_len;
    double deadline;               /* sf_now() value to give up at; 0 = none */
    int idempotent;                /* 0: from the method; 1: yes; -1: no */
    /* Called before every attempt (SigV4 signs each one anew): add headers
     * ("Name: value") to extra. May be NULL. */
    void (*before_attempt)(void *arg, const struct sf_http_req *rq, struct sf_buf *extra_lines);
    void *arg;
};

struct sf_http_resp {
    long status;          /* HTTP status; 0 when no answer came */
    char *body;           /* NUL-terminated (also when binary: len says how long) */
    size_t len;
    char *headers;        /* the response header block as received */
    bool ambiguous;       /* no answer, and the server may have acted on the request */
    bool permanent;       /* no answer, and trying again cannot help (malformed URL,
                           * TLS verification failed): classed invalid, not retryable */
    int attempts;
    char *error;          /* what went wrong when status is 0 (curl's words), or NULL */
    char *request_id;     /* X-Openstack-Request-Id / x-amz-request-id, or NULL */
};

/* Send rq (with retries as above). Returns 0 when an answer came (any
 * status: look at rs->status), -1 when none did (rs->error says why,
 * rs->ambiguous whether it may have been acted on). rs need not be
 * initialised; it is the caller's to free with sf_http_resp_free, whatever
 * the result. rs->body and rs->headers are never NULL afterwards. */
int sf_http_do(struct sf_http *h, const struct sf_http_req *rq, struct sf_http_resp *rs);
void sf_http_resp_free(struct sf_http_resp *rs);

/* A response header's value (case-insensitive name), trimmed; caller frees;
 * NULL when absent. */
char *sf_http_header(const struct sf_http_resp *rs, const char *name);

/* The diagnostic class of an answer: 0 status, 5xx or 429 retryable
 * (invalid when rs->permanent), 404 / 410 not found, 409 / 412 conflict,
 * 401 / 403 unauthorized, other 4xx and 501 (Not Implemented) invalid,
 * 2xx/3xx SF_CLASS_NONE. */
enum sf_diag_class sf_http_class(const struct sf_http_resp *rs);

/* Add an error for a failed request to d, of its class: "METHOD URL: HTTP
 * 409 Conflict: <message>" where the message is what the answer's body
 * says (a JSON "message"/"faultstring"/"title"/"detail" or an XML Message
 * when there is one, else its first 200 bytes), plus the request id. what
 * (e.g. "creating the cluster") starts the message when not NULL. */
void sf_http_error(struct sf_diags *d, const char *address, const char *what,
                   const struct sf_http_req *rq, const struct sf_http_resp *rs);

/* Whether SF_LOG=debug is set (read once). */
bool sf_http_debug(void);

#endif

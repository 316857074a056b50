/*
 * The HTTP core of localcloud: one libmicrohttpd daemon on a loopback
 * address, a routing table per emulated API, a parsed request, a response
 * builder and the per-API JSON error shape.
 *
 * An API plugs in by describing itself in a struct lc_api (a path prefix,
 * its routes, its error shape, whether it needs an X-Auth-Token) and calling
 * lc_server_add_api() before lc_server_start(). For every request the core:
 *   1. applies the test faults for the path (latency, 5xx, 429, drop; or
 *      a drop or 5xx that replaces the answer after the handler ran);
 *   2. finds the API by the longest matching prefix (404 otherwise);
 *   3. refuses bodies over the API's limit with 413;
 *   4. takes the world lock (unless the route says LC_ROUTE_UNLOCKED),
 *      runs every API's sweep, checks the token, matches the route and
 *      calls its handler, which fills a struct lc_response;
 *   5. sends the response (or closes the connection when it asks to drop).
 * Handlers persist every change (store.h) before they return, so what a
 * client has seen acknowledged survives a kill -9.
 */
#ifndef LC_SERVER_H
#define LC_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

struct lc_server;
struct lc_store;
struct lc_faults;
struct MHD_Connection;

/* What the command line configured; read-only once the server runs. */
struct lc_options {
    const char *listen_host; /* loopback address to bind */
    int listen_port;         /* 0 picks a free port */
    int tls_port;            /* the https listener (same host): 0 picks a free port, -1 none */
    long delay_ms;           /* state transitions (BUILD -> ACTIVE, ...) */
    long token_ttl_s;        /* identity tokens' lifetime */
    size_t max_body;         /* default request body limit, bytes */
    const char *ssh_host;    /* --ssh: every server's SSH endpoint, or NULL */
    int ssh_port;
    const char *ssh_host_keys; /* --ssh-host-key: that sshd's public host keys (OpenSSH
                                  lines, checked), which consoles show; or NULL */
    const char *ssh_authorized_keys; /* --ssh-authorized-keys: the file that holds the public
                                        keys of servers' key pairs (that sshd's
                                        AuthorizedKeysFile), or NULL */
    bool verbose;            /* log every request to stderr */
};

#define LC_MAX_PARAMS 8

/* One request as a handler sees it. Every string is owned by the core and
 * lives until the handler returns. */
struct lc_request {
    struct lc_server *srv;
    const struct lc_api *api;
    void *ctx;              /* the API's context given to lc_server_add_api */
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* percent-decoded path, without the query */
    const char *raw_path;   /* the path exactly as sent (for signatures) */
    const char *raw_query;  /* the query exactly as sent, without '?'; "" if none */
    const char *body;       /* NUL-terminated; "" when there is none */
    size_t body_len;
    /* {name} captures of the matched route pattern, decoded */
    size_t nparams;
    char *param_names[LC_MAX_PARAMS];
    char *param_values[LC_MAX_PARAMS];
    /* query parameters in order, decoded ('+' is a space); keys repeat */
    size_t nquery;
    char **query_keys, **query_values;
    /* set by the authenticator on token-checked routes, else NULL */
    char *user_id, *project_id;
    struct MHD_Connection *conn;
};

/* What a handler answers. Fill it with the lc_resp_* helpers. */
struct lc_header {
    char *name, *value;
};
struct lc_response {
    unsigned status;
    char *body; /* malloc'ed, may be NULL */
    size_t len;
    char *content_type;
    struct lc_header *headers;
    size_t nheaders;
    bool drop; /* close the connection without any response */
    /* a body produced over time (lc_resp_stream), or NULL */
    struct lc_stream *stream;
};

/* A streamed body (a Kubernetes watch): the core calls fn from the
 * connection's own thread, without the world lock, until it ends. fn writes
 * at most max bytes into buf and returns how many; 0 when it has nothing
 * yet (after waiting for at most a second, so that a stopping server is not
 * held up), or -1 to end the stream. free_cls is called once when the
 * response is over (also when the client went away). */
typedef long (*lc_stream_fn)(void *cls, char *buf, size_t max);
struct lc_stream {
    lc_stream_fn fn;
    void *cls;
    void (*free_cls)(void *cls);
};

typedef void (*lc_handler_fn)(struct lc_request *req, struct lc_response *resp);

enum {
    LC_ROUTE_PUBLIC = 1,   /* no X-Auth-Token needed even when the API wants one */
    LC_ROUTE_UNLOCKED = 2, /* the handler takes the world lock itself (long I/O) */
};

/* One route: method ("*" matches any) and a pattern relative to the API's
 * prefix: "" is the prefix itself, "/servers/{id}/metadata/{key}" captures
 * one segment per {name}, and a last "{name+}" captures the rest of the path
 * (slashes included, e.g. an S3 key). A trailing slash in the request is
 * ignored for patterns without "+". */
struct lc_route {
    const char *method;
    const char *pattern;
    lc_handler_fn fn;
    unsigned flags;
};

/* The API's error body for a status. type is the API's error kind when it
 * has one (Neutron's "NetworkNotFound"), NULL for the status' default. */
typedef void (*lc_error_fn)(struct lc_response *resp, unsigned status, const char *type,
                            const char *msg);

struct lc_api {
    const char *name;    /* "compute": groups the inventory, names logs */
    const char *prefix;  /* "/compute/v2.1" */
    const struct lc_route *routes; /* ends with a route whose fn is NULL */
    lc_error_fn error;
    bool token_auth;     /* routes need a valid X-Auth-Token unless LC_ROUTE_PUBLIC */
    bool openstack;      /* answers carry an X-Openstack-Request-Id header, as OpenStack's do */
    size_t max_body;     /* body limit in bytes; 0 means the server's --max-body */
    /* Called under the world lock before every request (of any API), to
     * finish what time has completed (e.g. purge servers whose deletion is
     * over). May be NULL. */
    void (*sweep)(struct lc_server *srv, void *ctx);
    void (*free_ctx)(void *ctx); /* frees ctx at shutdown; may be NULL */
};

/* Checks a token for the core: 0 and sets req->user_id / req->project_id
 * (malloc'ed, the core frees them) when valid, -1 otherwise. */
typedef int (*lc_auth_fn)(struct lc_server *srv, void *ctx, const char *token,
                          struct lc_request *req);

/* A server over an opened store (the server takes ownership of the store).
 * opts is copied (its strings must outlive the server). */
struct lc_server *lc_server_new(const struct lc_options *opts, struct lc_store *store);
/* Registers an API; ctx is handed to its handlers as req->ctx. api must
 * outlive the server (a static const). Returns 0, -1 if the prefix is taken. */
int lc_server_add_api(struct lc_server *srv, const struct lc_api *api, void *ctx);
void lc_server_set_authenticator(struct lc_server *srv, lc_auth_fn fn, void *ctx);
/* Binds and starts serving. 0, or -1 with the problem added to d. */
int lc_server_start(struct lc_server *srv, struct sf_diags *d);
/* "127.0.0.1:PORT" (or "[::1]:PORT") once started. */
const char *lc_server_address(const struct lc_server *srv);
/* "http://127.0.0.1:PORT": what the catalog points at. */
const char *lc_server_base_url(const struct lc_server *srv);
/* "https://127.0.0.1:PORT", the same APIs over TLS, and the PEM of the
 * certificate it presents (self-signed: clients trust it as their CA);
 * NULL when there is no https listener. */
const char *lc_server_tls_base_url(const struct lc_server *srv);
const char *lc_server_tls_cert(const struct lc_server *srv);
/* Stops the daemon (finishing requests in flight) and frees everything. */
void lc_server_free(struct lc_server *srv);

const struct lc_options *lc_server_options(const struct lc_server *srv);
struct lc_store *lc_server_store(struct lc_server *srv);
struct lc_faults *lc_server_faults(struct lc_server *srv);

/* The world lock: one recursive mutex around every object. Handlers run with
 * it held unless their route is LC_ROUTE_UNLOCKED. */
void lc_server_lock(struct lc_server *srv);
void lc_server_unlock(struct lc_server *srv);

/* Request accessors. Header names are case-insensitive. NULL when absent. */
const char *lc_req_header(const struct lc_request *req, const char *name);
/* Calls fn for every request header (in order); for signature checks. */
void lc_req_headers_each(const struct lc_request *req,
                         void (*fn)(void *cls, const char *name, const char *value), void *cls);
const char *lc_req_query(const struct lc_request *req, const char *name);
const char *lc_req_param(const struct lc_request *req, const char *name);
/* The body as a JSON object (new reference), or NULL after answering 400 in
 * the API's shape (empty, malformed, invalid UTF-8, not an object). */
json_t *lc_req_json(struct lc_request *req, struct lc_response *resp);

/* Response builders; each replaces what an earlier call set, except headers,
 * which accumulate. */
void lc_resp_json(struct lc_response *resp, unsigned status, json_t *body); /* steals body */
void lc_resp_bytes(struct lc_response *resp, unsigned status, const char *content_type,
                   const void *data, size_t len); /* copies data */
void lc_resp_empty(struct lc_response *resp, unsigned status);
void lc_resp_header(struct lc_response *resp, const char *name, const char *value);
/* A chunked body produced by fn (see struct lc_stream); replaces any body. */
void lc_resp_stream(struct lc_response *resp, unsigned status, const char *content_type,
                    lc_stream_fn fn, void *cls, void (*free_cls)(void *cls));
/* An error in the request's API shape (a generic one outside any API). The
 * message is one line; invalid UTF-8 and control characters are replaced. */
void lc_error(struct lc_request *req, struct lc_response *resp, unsigned status, const char *type,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The generic shape used outside any API: {"error":{"code","message"}}. */
void lc_error_generic(struct lc_response *resp, unsigned status, const char *type,
                      const char *msg);

/* Wall-clock milliseconds since the epoch (timestamps survive a restart). */
long long lc_now_ms(void);
/* ISO 8601 UTC: "2024-05-01T12:00:00Z", or with ".000000Z" when micro. */
void lc_format_time(long long ms, bool micro, char *buf, size_t n);
/* n bytes as 2n lowercase hex characters; caller frees. */
char *lc_hex(const unsigned char *data, size_t n);
/* The bytes of strict, non-empty base64 (whole quads), *n set; NULL when
 * s is not that. Caller frees. */
unsigned char *lc_unbase64(const char *s, size_t *n);
/* Whether s (len bytes) is valid UTF-8 without NUL bytes. */
bool lc_utf8_valid(const char *s, size_t len);

/* True when obj (a stored object with "project_id") belongs to the
 * request's project: other projects' objects are answered as not found. */
bool lc_req_owns(const struct lc_request *req, const json_t *obj);

#endif

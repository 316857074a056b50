/*
 * The "cloud" provider's table and session. configure reads the settings
 * (the providers.cloud block, else OS_* from the environment), logs in to
 * Keystone v3 with a password, and keeps for the run: the token, the
 * endpoints of the catalog (interface public, the configured region) and
 * one HTTP client. Every request of every type goes through sf_cloud_do,
 * which sends the token and, when the cloud answers 401 (the token
 * expired during a long wait), logs in again once, shared by every worker
 * thread, and repeats the request. The rest of this file are the helpers
 * the types share: creates that never make an object twice, waits bounded
 * by the call's deadline, the stack's tag, flavor and image lookups.
 */
#include "cloud.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "catalog.h"
#include "sigv4.h"
#include "util.h"

struct cloud_ctx {
    struct sf_http *http;
    char *auth_url; /* ends in /v3 */
    char *username, *password, *user_domain;
    char *project_id, *project_name, *project_domain;
    char *region;

    /* Set by the first login (in configure), read-only afterwards. */
    char *user_id, *token_project_id;
    char *endpoint[SF_CLOUD_NSVC];
    json_t *catalog; /* the whole catalog, for other providers (catalog.h) */

    pthread_mutex_t mu; /* guards what follows */
    char *token;
    unsigned long generation; /* bumped by every login, so one 401 renews once */

    /* Held while the flavor list is fetched, so that the checks and
     * creates of many resources at once ask for it once per run. */
    pthread_mutex_t flavors_mu;
    json_t *flavors; /* Nova's flavor list, fetched once */
};

static const char *const svc_type[SF_CLOUD_NSVC] = {
    [SF_CLOUD_IDENTITY] = "identity", [SF_CLOUD_COMPUTE] = "compute",
    [SF_CLOUD_NETWORK] = "network",   [SF_CLOUD_IMAGE] = "image",
    [SF_CLOUD_CI] = "container-infra",
};

static const struct sf_provider_key keys[] = {
    {"auth_url", SF_STRING, 0, "OS_AUTH_URL", "Keystone v3 endpoint, e.g. https://infra.mail.ru:35357/v3"},
    {"username", SF_STRING, 0, "OS_USERNAME", "user name"},
    {"password", SF_STRING, SF_SENSITIVE, "OS_PASSWORD", "password (a secret: environment or sensitive variable only)"},
    {"project_id", SF_STRING, 0, "OS_PROJECT_ID", "project to work in, by id"},
    {"project_name", SF_STRING, 0, "OS_PROJECT_NAME", "project to work in, by name (when no project_id)"},
    {"user_domain_name", SF_STRING, 0, "OS_USER_DOMAIN_NAME", "the user's domain; default \"users\""},
    {"project_domain_name", SF_STRING, 0, "OS_PROJECT_DOMAIN_NAME", "the project's domain when it is given by name; default: the user's"},
    {"region", SF_STRING, 0, "OS_REGION_NAME", "region of the endpoints; default \"RegionOne\""},
    {"ca_file", SF_STRING, 0, "OS_CACERT", "extra CA bundle (PEM), relative to the description"},
    {NULL, 0, 0, NULL, NULL},
};

const char *sf_cloud_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void sf_cloud_copy(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set_new(dst, key, sf_value_copy(v));
}

void sf_cloud_resp_free(struct sf_cloud_resp *r)
{
    json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

char *sf_cloud_escape(const char *s)
{
    struct sf_buf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            sf_buf_add(&b, (const char *)p, 1);
        else
            sf_buf_printf(&b, "%%%02X", *p);
    }
    return sf_buf_take(&b);
}

static void free_str(char **p)
{
    free(*p);
    *p = NULL;
}

/* ---------- login and catalog ---------- */

static char *endpoint_of(const json_t *catalog, const char *type, const char *region)
{
    size_t i, j;
    json_t *svc, *ep;
    json_array_foreach(catalog, i, svc)
    {
        if (strcmp(sf_cloud_str(svc, "type"), type) != 0)
            continue;
        json_array_foreach(json_object_get(svc, "endpoints"), j, ep)
        {
            if (strcmp(sf_cloud_str(ep, "interface"), "public") != 0)
                continue;
            if (strcmp(sf_cloud_str(ep, "region_id"), region) != 0 &&
                strcmp(sf_cloud_str(ep, "region"), region) != 0)
                continue;
            char *url = sf_xstrdup(sf_cloud_str(ep, "url"));
            size_t n = strlen(url);
            while (n > 0 && url[n - 1] == '/')
                url[--n] = '\0';
            return url;
        }
    }
    return NULL;
}

char *sf_cloud_catalog_url(const void *ctx, const char *type)
{
    const struct cloud_ctx *x = ctx;
    return x && x->catalog ? endpoint_of(x->catalog, type, x->region) : NULL;
}

/* The body of a password login; a new reference that holds the password. */
static json_t *auth_body(const struct cloud_ctx *x)
{
    json_t *project = x->project_id
                          ? json_pack("{s:s}", "id", x->project_id)
                          : json_pack("{s:s, s:{s:s}}", "name", x->project_name, "domain", "name",
                                      x->project_domain ? x->project_domain : x->user_domain);
    return json_pack("{s:{s:{s:[s], s:{s:{s:s, s:{s:s}, s:s}}}, s:{s:o}}}", "auth", "identity",
                     "methods", "password", "password", "user", "name", x->username, "domain",
                     "name", x->user_domain, "password", x->password, "scope", "project", project);
}

/* Logs in; call with x->mu held. */
static int login(struct cloud_ctx *x, struct sf_diags *d, const char *address, double deadline)
{
    json_t *body = auth_body(x);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *url = sf_asprintf("%s/auth/tokens", x->auth_url);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
    struct sf_http_req rq = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = text,
        .body_len = strlen(text),
        .deadline = deadline,
        .idempotent = 1, /* a second token does no harm */
    };
    struct sf_http_resp rs = {0};
    int rc = sf_http_do(x->http, &rq, &rs);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    json_t *doc = NULL;
    char *token = NULL;
    if (rc == 0 && rs.status == 401) {
        sf_diag_add_class(d, SF_CLASS_UNAUTHORIZED, NULL, address,
                          "the identity service at %s refused the login of user \"%s\" to project "
                          "\"%s\" (HTTP 401%s%s): check username, password, project and domain",
                          x->auth_url, x->username, x->project_id ? x->project_id : x->project_name,
                          rs.request_id ? ", request " : "", rs.request_id ? rs.request_id : "");
        rc = -1;
    } else if (rc < 0 || rs.status != 201) {
        sf_http_error(d, address, "logging in to the identity service", &rq, &rs);
        rc = -1;
    } else {
        token = sf_http_header(&rs, "X-Subject-Token");
        doc = json_loadb(rs.body, rs.len, 0, NULL);
        if (!token || !json_is_object(json_object_get(doc, "token"))) {
            sf_diag_add_class(d, SF_CLASS_INVALID, NULL, address,
                              "the identity service at %s answered the login without a token",
                              x->auth_url);
            rc = -1;
        }
    }
    sf_http_resp_free(&rs);
    free(url);
    if (rc == 0) {
        json_t *tok = json_object_get(doc, "token");
        if (x->token)
            OPENSSL_cleanse(x->token, strlen(x->token));
        free(x->token);
        x->token = token;
        token = NULL;
        /* The first login's user, project and catalog serve the whole run:
         * they never change under the calls that read them without the
         * lock. */
        if (x->generation++ == 0) {
            x->user_id = sf_xstrdup(sf_cloud_str(json_object_get(tok, "user"), "id"));
            x->token_project_id = sf_xstrdup(sf_cloud_str(json_object_get(tok, "project"), "id"));
            json_t *catalog = json_object_get(tok, "catalog");
            x->catalog = json_incref(catalog);
            for (int s = 0; s < SF_CLOUD_NSVC; s++)
                x->endpoint[s] = endpoint_of(catalog, svc_type[s], x->region);
            if (!x->endpoint[SF_CLOUD_IDENTITY])
                x->endpoint[SF_CLOUD_IDENTITY] = sf_xstrdup(x->auth_url);
        }
    }
    if (token) {
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    }
    json_decref(doc);
    return rc;
}

static void cloud_release(void *p)
{
    struct cloud_ctx *x = p;
    if (!x)
        return;
    sf_http_free(x->http);
    if (x->password)
        OPENSSL_cleanse(x->password, strlen(x->password));
    if (x->token)
        OPENSSL_cleanse(x->token, strlen(x->token));
    char **strs[] = {&x->auth_url, &x->username, &x->password, &x->user_domain, &x->project_id,
                     &x->project_name, &x->project_domain, &x->region, &x->token, &x->user_id,
                     &x->token_project_id};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free_str(strs[i]);
    for (int s = 0; s < SF_CLOUD_NSVC; s++)
        free(x->endpoint[s]);
    json_decref(x->flavors);
    json_decref(x->catalog);
    pthread_mutex_destroy(&x->mu);
    pthread_mutex_destroy(&x->flavors_mu);
    free(x);
}

static int cloud_configure(const struct sf_provider_setup *s, void **out)
{
    *out = NULL;
    struct cloud_ctx *x = sf_xcalloc(1, sizeof(*x));
    pthread_mutex_init(&x->mu, NULL);
    pthread_mutex_init(&x->flavors_mu, NULL);
    char *auth_url = sf_setup_string(s, "auth_url");
    x->username = sf_setup_string(s, "username");
    x->password = sf_setup_string(s, "password");
    x->project_id = sf_setup_string(s, "project_id");
    x->project_name = sf_setup_string(s, "project_name");
    x->user_domain = sf_setup_string(s, "user_domain_name");
    x->project_domain = sf_setup_string(s, "project_domain_name");
    x->region = sf_setup_string(s, "region");
    if (!x->user_domain)
        x->user_domain = sf_xstrdup("users");
    if (!x->region)
        x->region = sf_xstrdup("RegionOne");

    int rc = 0;
    struct {
        const char *name;
        bool missing;
    } need[] = {
        {"auth_url", !auth_url},
        {"username", !x->username},
        {"password", !x->password},
        {"project_id", !x->project_id && !x->project_name},
    };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (!need[i].missing)
            continue;
        const struct sf_provider_key *k = sf_provider_key(&sf_provider_cloud, need[i].name);
        if (strcmp(need[i].name, "project_id") == 0)
            sf_diag_add_class(s->diags, SF_CLASS_INVALID, s->pos, NULL,
                              "the cloud provider needs a project: set providers.cloud.project_id "
                              "(or project_name), or the environment variable OS_PROJECT_ID (or "
                              "OS_PROJECT_NAME)");
        else
            sf_diag_add_class(s->diags, SF_CLASS_INVALID, s->pos, NULL,
                              "the cloud provider needs %s: set providers.cloud.%s or the "
                              "environment variable %s",
                              need[i].name, need[i].name, k->env);
        rc = -1;
    }
    if (rc == 0) {
        /* OS_AUTH_URL is given both with and without the version. */
        size_t n = strlen(auth_url);
        while (n > 0 && auth_url[n - 1] == '/')
            auth_url[--n] = '\0';
        x->auth_url = n >= 3 && strcmp(auth_url + n - 3, "/v3") == 0
                          ? sf_xstrdup(auth_url)
                          : sf_asprintf("%s/v3", auth_url);
        char *ca_path = sf_setup_path(s, "ca_file");
        struct sf_http_opts o = {.ca_file = ca_path, .stats = s->stats};
        x->http = sf_http_new(&o);
        free(ca_path);
        pthread_mutex_lock(&x->mu);
        rc = login(x, s->diags, NULL, s->deadline);
        pthread_mutex_unlock(&x->mu);
    }
    free(auth_url);
    if (rc < 0) {
        cloud_release(x);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---------- requests ---------- */

int sf_cloud_do(struct sf_call *c, enum sf_cloud_svc svc, const char *method, const char *path,
                const json_t *body, unsigned flags, const char *what, struct sf_cloud_resp *r)
{
    struct cloud_ctx *x = c->ctx;
    memset(r, 0, sizeof(*r));
    const char *base = x->endpoint[svc];
    if (!base) {
        sf_cloud_error(c, SF_CLASS_INVALID,
                       "%s: the catalog has no \"%s\" endpoint of interface public in region "
                       "\"%s\"",
                       what, svc_type[svc], x->region);
        return -1;
    }
    char *url = sf_asprintf("%s%s", base, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = -1;
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&x->mu);
        char *auth = sf_asprintf("X-Auth-Token: %s", x->token);
        unsigned long gen = x->generation;
        pthread_mutex_unlock(&x->mu);
        const char *headers[5];
        size_t nh = 0;
        headers[nh++] = auth;
        headers[nh++] = "Accept: application/json";
        if (text)
            headers[nh++] = "Content-Type: application/json";
        if (svc == SF_CLOUD_CI)
            headers[nh++] = SF_CLOUD_CI_VERSION;
        headers[nh] = NULL;
        struct sf_http_req rq = {
            .method = method,
            .url = url,
            .headers = headers,
            .body = text,
            .body_len = text ? strlen(text) : 0,
            .deadline = c->deadline,
            .idempotent = (flags & SF_CLOUD_IDEMP) ? 1 : (flags & SF_CLOUD_NOIDEMP) ? -1 : 0,
        };
        struct sf_http_resp rs = {0};
        int got = sf_http_do(x->http, &rq, &rs);
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
        if (got == 0 && rs.status == 401 && pass == 0) {
            /* The token expired (or was revoked): one login for every
             * thread that saw it, then this request once more. */
            sf_http_resp_free(&rs);
            pthread_mutex_lock(&x->mu);
            int lrc = x->generation == gen ? login(x, c->diags, c->address, c->deadline) : 0;
            pthread_mutex_unlock(&x->mu);
            if (lrc < 0)
                break;
            continue;
        }
        r->status = got == 0 ? rs.status : 0;
        r->body = rs.body;
        r->len = rs.len;
        rs.body = NULL;
        if (r->body && r->len > 0 && (r->body[0] == '{' || r->body[0] == '['))
            r->json = json_loadb(r->body, r->len, 0, NULL);
        bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        r->ambiguous = rs.ambiguous || (!safe && (r->status >= 500 || r->status == 0));
        if (got == 0 && ((r->status >= 200 && r->status < 300) ||
                         (r->status == 404 && (flags & SF_CLOUD_OK404)) ||
                         (r->status == 409 && (flags & SF_CLOUD_OK409))))
            rc = 0;
        else
            sf_http_error(c->diags, c->address, what, &rq, &rs);
        sf_http_resp_free(&rs);
        break;
    }
    free(url);
    /* A body may carry a secret (S3 credentials are created with theirs). */
    if (text)
        OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

int sf_cloud_create(struct sf_call *c, enum sf_cloud_svc svc, const char *path,
                    const json_t *body, const char *what, sf_cloud_find_fn find,
                    const void *arg, json_t **answer, json_t **found)
{
    *answer = NULL;
    *found = NULL;
    long delay = 0;
    for (int attempt = 1;; attempt++) {
        /* Errors of an attempt that a later one makes good are dropped. */
        struct sf_diags tmp;
        sf_diags_init(&tmp);
        struct sf_call cc = *c;
        cc.diags = &tmp;
        struct sf_cloud_resp r;
        int rc = sf_cloud_do(&cc, svc, "POST", path, body, 0, what, &r);
        if (rc == 0) {
            *answer = r.json ? r.json : json_object();
            r.json = NULL;
            sf_cloud_resp_free(&r);
            sf_diags_free(&tmp);
            return 0;
        }
        /* A 409 may be the answer to our own earlier attempt. */
        bool maybe = r.ambiguous || r.status >= 500 || r.status == 0 || r.status == 409;
        sf_cloud_resp_free(&r);
        if (!maybe) {
            sf_diags_move(c->diags, &tmp);
            sf_diags_free(&tmp);
            return -1;
        }
        if (find(c, arg, found) < 0) {
            sf_diags_free(&tmp);
            return -1;
        }
        if (*found) {
            sf_diags_free(&tmp);
            return 0;
        }
        if (attempt >= 5 || (c->deadline > 0 && sf_now() >= c->deadline)) {
            sf_diags_move(c->diags, &tmp);
            sf_diags_free(&tmp);
            return -1;
        }
        sf_diags_free(&tmp);
        delay = delay ? (delay * 2 > 5000 ? 5000 : delay * 2) : 500;
        sf_sleep_ms(delay);
    }
}

int sf_cloud_pause(struct sf_call *c, long *delay_ms, const char *text)
{
    if (c->status)
        c->status(c, text);
    double now = sf_now();
    if (c->deadline > 0 && now >= c->deadline) {
        sf_cloud_error(c, SF_CLASS_RETRYABLE,
                       "timed out %s (raise the resource's timeouts: to wait longer)", text);
        return -1;
    }
    *delay_ms = *delay_ms ? (*delay_ms * 2 > 10000 ? 10000 : *delay_ms * 2) : 250;
    long ms = *delay_ms;
    if (c->deadline > 0 && (c->deadline - now) * 1000 < ms)
        ms = (long)((c->deadline - now) * 1000) + 1;
    sf_sleep_ms(ms);
    return 0;
}

/* The reason a 409 gives, in the shapes of the APIs used here, or "". */
static const char *conflict_reason(const json_t *body)
{
    const json_t *m = json_object_get(json_object_get(body, "NeutronError"), "message");
    if (!m)
        m = json_object_get(json_array_get(json_object_get(body, "errors"), 0), "detail");
    if (!m)
        m = json_object_get(json_object_get(body, "conflictingRequest"), "message");
    return json_is_string(m) ? json_string_value(m) : "";
}

int sf_cloud_delete(struct sf_call *c, enum sf_cloud_svc svc, const char *path, const char *noun,
                    bool wait_gone)
{
    char *what = sf_asprintf("deleting %s", noun);
    char *busy = sf_asprintf("waiting until %s is free to delete (409 from the cloud)", noun);
    char *reason = NULL;
    long delay = 0, status = 0;
    int rc;
    for (;;) {
        struct sf_cloud_resp r;
        rc = sf_cloud_do(c, svc, "DELETE", path, NULL, SF_CLOUD_OK404 | SF_CLOUD_OK409, what, &r);
        status = r.status;
        if (status == 409) {
            free(reason);
            reason = sf_xstrdup(conflict_reason(r.json));
        }
        sf_cloud_resp_free(&r);
        if (rc < 0 || status != 409)
            break;
        if ((rc = sf_cloud_pause(c, &delay, busy)) < 0) {
            if (reason && *reason)
                sf_diag_detail(c->diags, "the cloud still answers 409: %s", reason);
            break;
        }
    }
    char *gone = sf_asprintf("waiting for %s to go", noun);
    char *reading = sf_asprintf("reading %s", noun);
    delay = 0;
    while (rc == 0 && wait_gone && status != 404) {
        struct sf_cloud_resp g;
        rc = sf_cloud_do(c, svc, "GET", path, NULL, SF_CLOUD_OK404, reading, &g);
        status = g.status;
        sf_cloud_resp_free(&g);
        if (rc == 0 && status != 404)
            rc = sf_cloud_pause(c, &delay, gone);
    }
    free(reading);
    free(gone);
    free(reason);
    free(busy);
    free(what);
    return rc;
}

char *sf_cloud_tag(const struct sf_call *c)
{
    char *src = sf_asprintf("%s\n%s", c->lineage ? c->lineage : "", c->address);
    char hex[65];
    sf_sigv4_sha256_hex(src, strlen(src), hex);
    free(src);
    return sf_asprintf("sparkform-%.24s", hex);
}

const char *sf_cloud_user_id(struct sf_call *c)
{
    struct cloud_ctx *x = c->ctx;
    return x->user_id;
}

const char *sf_cloud_project_id(struct sf_call *c)
{
    struct cloud_ctx *x = c->ctx;
    return x->token_project_id;
}

/* ---------- flavors and images by name ---------- */

/* Nova's flavor list, borrowed from the context (fetched on first use). */
static json_t *flavors(struct sf_call *c)
{
    struct cloud_ctx *x = c->ctx;
    pthread_mutex_lock(&x->flavors_mu);
    if (!x->flavors) {
        struct sf_cloud_resp r;
        if (sf_cloud_do(c, SF_CLOUD_COMPUTE, "GET", "/flavors", NULL, 0, "listing the flavors",
                        &r) == 0) {
            json_t *got = json_object_get(r.json, "flavors");
            if (json_is_array(got))
                x->flavors = json_incref(got);
            else
                sf_cloud_error(c, SF_CLASS_INVALID, "listing the flavors: the answer has no list");
        }
        sf_cloud_resp_free(&r);
    }
    json_t *l = x->flavors;
    pthread_mutex_unlock(&x->flavors_mu);
    return l;
}

/* The flavor entry whose id, else whose name, is s; borrowed or NULL. */
static json_t *flavor_entry(json_t *list, const char *s)
{
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f) if (strcmp(sf_cloud_str(f, "id"), s) == 0) return f;
    json_array_foreach(list, i, f) if (strcmp(sf_cloud_str(f, "name"), s) == 0) return f;
    return NULL;
}

/* How many names a message lists when none is close to what was written. */
#define SUGGEST_LISTED 6

char *sf_cloud_suggest(const char *word, const json_t *names)
{
    size_t n = json_array_size(names), i;
    json_t *e;
    const char **list = sf_xcalloc(n + 1, sizeof(*list));
    size_t k = 0;
    json_array_foreach(names, i, e) if (json_string_length(e) > 0) list[k++] = json_string_value(e);
    const char *close = NULL;
    /* Case is the likeliest slip ("std3-4-8"), however far apart the
     * letters are in edit distance. */
    for (i = 0; i < k && !close; i++)
        if (strcasecmp(list[i], word) == 0)
            close = list[i];
    if (!close)
        close = sf_did_you_mean(word, list);
    char *out;
    if (close) {
        out = sf_asprintf(" (did you mean \"%s\"?)", close);
    } else if (k == 0) {
        out = sf_xstrdup("");
    } else {
        struct sf_buf b = {0};
        sf_buf_puts(&b, " (it has ");
        for (i = 0; i < k && i < SUGGEST_LISTED; i++)
            sf_buf_printf(&b, "%s%s", i ? ", " : "", list[i]);
        if (k > SUGGEST_LISTED)
            sf_buf_printf(&b, " and %zu more", k - SUGGEST_LISTED);
        sf_buf_puts(&b, ")");
        out = sf_buf_take(&b);
    }
    free(list);
    return out;
}

/* The names of the objects of a list (flavors, images), as a new array. */
static json_t *names_of(const json_t *list, const char *key)
{
    json_t *names = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) json_array_append_new(names, json_string(sf_cloud_str(o, key)));
    return names;
}

/* "flavor X: the cloud has none", about attr when it is given (a check at
 * plan time) or the resource (apply). */
static void no_flavor(struct sf_call *c, const char *attr, const char *name, json_t *list)
{
    json_t *names = names_of(list, "name");
    char *hint = sf_cloud_suggest(name, names);
    sf_diag_add_attr(c->diags, SF_CLASS_INVALID, c->address, attr,
                     "flavor \"%s\": the cloud has no flavor of that name or id%s", name, hint);
    free(hint);
    json_decref(names);
}

char *sf_cloud_flavor_id(struct sf_call *c, const char *name_or_id)
{
    json_t *l = flavors(c);
    if (!l)
        return NULL;
    json_t *f = flavor_entry(l, name_or_id);
    if (!f) {
        no_flavor(c, NULL, name_or_id, l);
        return NULL;
    }
    return sf_xstrdup(sf_cloud_str(f, "id"));
}

int sf_cloud_check_flavor(struct sf_call *c, const char *attr, const char *name_or_id)
{
    json_t *l = flavors(c);
    if (!l)
        return -1;
    if (flavor_entry(l, name_or_id))
        return 0;
    no_flavor(c, attr, name_or_id, l);
    return -1;
}

const char *sf_cloud_checked(const json_t *prior, const json_t *desired, const char *attr)
{
    const json_t *v = json_object_get(desired, attr);
    if (!json_is_string(v) || sf_value_has_unknown(v))
        return NULL;
    const json_t *was = prior ? json_object_get(prior, attr) : NULL;
    if (was && sf_value_equal(was, v))
        return NULL;
    return json_string_value(v);
}

/* The recorded spelling, when the recorded id says it still names id. */
static json_t *same_spelling(const json_t *recorded, const json_t *recorded_id, const char *id)
{
    const char *rec = json_string_value(recorded);
    const char *rid = json_string_value(recorded_id);
    if (rec && (strcmp(rec, id) == 0 || (rid && strcmp(rid, id) == 0)))
        return json_string(rec);
    return NULL;
}

json_t *sf_cloud_flavor_spelling(struct sf_call *c, const json_t *recorded,
                                 const json_t *recorded_id, const char *id)
{
    json_t *same = same_spelling(recorded, recorded_id, id);
    if (same)
        return same;
    json_t *l = flavors(c);
    if (!l)
        return NULL;
    const char *rec = json_string_value(recorded);
    json_t *f = rec ? flavor_entry(l, rec) : NULL;
    if (rec && (strcmp(rec, id) == 0 || (f && strcmp(sf_cloud_str(f, "id"), id) == 0)))
        return json_string(rec);
    f = flavor_entry(l, id);
    return json_string(f ? sf_cloud_str(f, "name") : id);
}

/* An image by id: {"id", "name"} (new reference), NULL when there is none
 * (r404 set) or after an error. Glance answers the image itself, Nova's
 * image proxy wraps it in "image". */
static json_t *image_by_id(struct sf_call *c, const char *id, bool *none)
{
    struct cloud_ctx *x = c->ctx;
    bool glance = x->endpoint[SF_CLOUD_IMAGE] != NULL;
    char *e = sf_cloud_escape(id);
    char *path = sf_asprintf(glance ? "/v2/images/%s" : "/images/%s", e);
    free(e);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, glance ? SF_CLOUD_IMAGE : SF_CLOUD_COMPUTE, "GET", path, NULL,
                         SF_CLOUD_OK404, "reading the image", &r);
    free(path);
    *none = rc == 0 && r.status == 404;
    json_t *img = NULL;
    if (rc == 0 && r.status != 404) {
        json_t *o = glance ? r.json : json_object_get(r.json, "image");
        img = json_pack("{s:s, s:s}", "id", sf_cloud_str(o, "id"), "name", sf_cloud_str(o, "name"));
    }
    sf_cloud_resp_free(&r);
    return img;
}

/* An image by name, else by id: 0 with *id set when exactly one matches;
 * 0 with *id NULL when none does (*named: how many have the name, so 2 or
 * more means it is ambiguous); -1 after the request's error. */
static int image_find(struct sf_call *c, const char *name_or_id, char **id, size_t *named)
{
    struct cloud_ctx *x = c->ctx;
    bool glance = x->endpoint[SF_CLOUD_IMAGE] != NULL;
    *id = NULL;
    *named = 0;
    char *e = sf_cloud_escape(name_or_id);
    /* Without an image service, Nova's image proxy (API 2.1) answers. */
    char *path = sf_asprintf(glance ? "/v2/images?name=%s" : "/images?name=%s", e);
    free(e);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, glance ? SF_CLOUD_IMAGE : SF_CLOUD_COMPUTE, "GET", path, NULL, 0,
                         "looking the image up", &r);
    free(path);
    if (rc == 0) {
        json_t *list = json_object_get(r.json, "images");
        size_t i;
        json_t *img;
        json_array_foreach(list, i, img) if (strcmp(sf_cloud_str(img, "name"), name_or_id) == 0)
        {
            if (!*id)
                *id = sf_xstrdup(sf_cloud_str(img, "id"));
            (*named)++;
        }
    }
    sf_cloud_resp_free(&r);
    if (rc < 0 || *named > 1) {
        free(*id);
        *id = NULL;
        return rc;
    }
    if (*id)
        return 0;
    bool none = false;
    json_t *img = image_by_id(c, name_or_id, &none);
    if (img)
        *id = sf_xstrdup(sf_cloud_str(img, "id"));
    json_decref(img);
    return img || none ? 0 : -1;
}

/* The names of the images the cloud lists first (one page: enough for a
 * suggestion), new array; empty when the list cannot be had. */
static json_t *image_names(struct sf_call *c)
{
    struct cloud_ctx *x = c->ctx;
    bool glance = x->endpoint[SF_CLOUD_IMAGE] != NULL;
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct sf_call q = *c;
    q.diags = &quiet;
    struct sf_cloud_resp r;
    json_t *names = NULL;
    if (sf_cloud_do(&q, glance ? SF_CLOUD_IMAGE : SF_CLOUD_COMPUTE, "GET",
                    glance ? "/v2/images" : "/images", NULL, 0, "listing the images", &r) == 0)
        names = names_of(json_object_get(r.json, "images"), "name");
    sf_cloud_resp_free(&r);
    sf_diags_free(&quiet);
    return names ? names : json_array();
}

/* The image's complaint: none has the name or id, or several the name. */
static void no_image(struct sf_call *c, const char *attr, const char *name, size_t named)
{
    if (named > 1) {
        sf_diag_add_attr(c->diags, SF_CLASS_INVALID, c->address, attr,
                         "image \"%s\": %zu images have that name; give the image by id", name,
                         named);
        return;
    }
    json_t *names = image_names(c);
    char *hint = sf_cloud_suggest(name, names);
    sf_diag_add_attr(c->diags, SF_CLASS_INVALID, c->address, attr,
                     "image \"%s\": the cloud has no image of that name or id%s", name, hint);
    free(hint);
    json_decref(names);
}

char *sf_cloud_image_id(struct sf_call *c, const char *name_or_id)
{
    char *id;
    size_t named;
    if (image_find(c, name_or_id, &id, &named) < 0)
        return NULL;
    if (!id)
        no_image(c, NULL, name_or_id, named);
    return id;
}

int sf_cloud_check_image(struct sf_call *c, const char *attr, const char *name_or_id)
{
    char *id;
    size_t named;
    if (image_find(c, name_or_id, &id, &named) < 0)
        return -1;
    if (!id)
        no_image(c, attr, name_or_id, named);
    int rc = id ? 0 : -1;
    free(id);
    return rc;
}

json_t *sf_cloud_image_spelling(struct sf_call *c, const json_t *recorded,
                                const json_t *recorded_id, const char *id)
{
    json_t *same = same_spelling(recorded, recorded_id, id);
    if (same)
        return same;
    const char *rec = json_string_value(recorded);
    bool none = false;
    json_t *img = image_by_id(c, id, &none);
    if (!img && !none)
        return NULL;
    json_t *out = NULL;
    if (img && rec && strcmp(sf_cloud_str(img, "name"), rec) == 0)
        out = json_string(rec);
    else if (img && *sf_cloud_str(img, "name"))
        out = json_string(sf_cloud_str(img, "name"));
    else
        out = json_string(id);
    json_decref(img);
    return out;
}

static const struct sf_resource_type *const types[] = {
    &sf_cloud_network_type, &sf_cloud_subnet_type,     &sf_cloud_keypair_type,
    &sf_cloud_server_type,  &sf_cloud_cluster_type,    &sf_cloud_node_group_type,
    &sf_cloud_s3_credentials_type, NULL,
};

const struct sf_provider sf_provider_cloud = {
    .name = "cloud",
    .types = types,
    .keys = keys,
    .configure = cloud_configure,
    .release = cloud_release,
};

/*
 * Requests to one cluster's API and its discovery. Every resource of a
 * cluster goes through the one lib/http client of its connection (kept
 * alive connections and TLS sessions shared across the walk's workers);
 * the token travels as an Authorization header, which lib/http redacts in
 * its debug log. Discovery answers "which path, which scope, does this
 * kind exist" from a per-group-version cache, asked again on a miss: a
 * CustomResourceDefinition applied earlier in the same run adds kinds the
 * cache has not seen.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "sigv4.h"
#include "util.h"

/* How long a kind that no CRD of the cluster defines is waited for (its
 * CRD may be applied by another resource of the same run). */
#define UNDEFINED_KIND_GRACE_S 10.0

void sf_kube_res_free(struct sf_kube_res *r)
{
    free(r->group_version);
    free(r->plural);
    free(r->kind);
    memset(r, 0, sizeof(*r));
}

struct sf_kube_cluster *sf_kube_cluster_new(struct sf_kube_config *cfg, const char *key,
                                            struct sf_http_stats *stats)
{
    struct sf_kube_cluster *k = sf_xcalloc(1, sizeof(*k));
    k->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    snprintf(k->key, sizeof(k->key), "%s", key);
    struct sf_http_opts o = {
        .ca_pem = k->cfg.ca_pem,
        .cert_pem = k->cfg.cert_pem,
        .key_pem = k->cfg.key_pem,
        .stats = stats,
    };
    k->http = sf_http_new(&o);
    if (k->cfg.token)
        k->auth = sf_asprintf("Authorization: Bearer %s", k->cfg.token);
    pthread_mutex_init(&k->mu, NULL);
    k->discovery = json_object();
    pthread_mutex_init(&k->lmu, NULL);
    pthread_cond_init(&k->lcv, NULL);
    k->lists = json_object();
    return k;
}

void sf_kube_cluster_free(struct sf_kube_cluster *k)
{
    if (!k)
        return;
    sf_http_free(k->http);
    if (k->auth)
        OPENSSL_cleanse(k->auth, strlen(k->auth));
    free(k->auth);
    sf_kube_config_free(&k->cfg);
    pthread_mutex_destroy(&k->mu);
    json_decref(k->discovery);
    pthread_mutex_destroy(&k->lmu);
    pthread_cond_destroy(&k->lcv);
    json_decref(k->lists);
    free(k);
}

int sf_kube_request(struct sf_call *c, struct sf_kube_cluster *k, const char *method,
                    const char *path, const char *content_type, const char *body,
                    struct sf_http_resp *rs)
{
    char *url = sf_asprintf("%s%s", k->cfg.server, path);
    char *ct = content_type ? sf_asprintf("Content-Type: %s", content_type) : NULL;
    const char *headers[4];
    size_t n = 0;
    headers[n++] = "Accept: application/json";
    if (k->auth)
        headers[n++] = k->auth;
    if (ct)
        headers[n++] = ct;
    headers[n] = NULL;
    struct sf_http_req rq = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .deadline = c->deadline,
        /* A server-side apply names the whole object: sending it twice
         * ends where sending it once does. */
        .idempotent = 1,
    };
    if (strcmp(method, "GET") != 0) {
        /* A write may change what a list holds: later reads ask again. */
        pthread_mutex_lock(&k->lmu);
        json_object_clear(k->lists);
        pthread_mutex_unlock(&k->lmu);
    }
    int rc = sf_http_do(k->http, &rq, rs);
    if (rc < 0)
        sf_http_error(c->diags, c->address, NULL, &rq, rs);
    free(ct);
    free(url);
    return rc;
}

void sf_kube_error(struct sf_call *c, const char *what, const char *method, const char *path,
                   const struct sf_http_resp *rs)
{
    json_t *st = json_loadb(rs->body, rs->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(st, "message"));
    struct sf_buf b = {0};
    sf_buf_printf(&b, "%s: %s %s: HTTP %ld", what, method, path, rs->status);
    if (msg)
        sf_buf_printf(&b, ": %s", msg);
    else if (rs->len > 0 && rs->len < 200)
        sf_buf_printf(&b, ": %s", rs->body);
    enum sf_diag_class cls = sf_http_class(rs);
    sf_diag_add_class(c->diags, cls, NULL, c->address, "%s", b.s);
    sf_buf_free(&b);
    const json_t *causes = json_object_get(json_object_get(st, "details"), "causes");
    if (json_array_size(causes) > 0) {
        struct sf_buf d = {0};
        for (size_t i = 0; i < json_array_size(causes); i++) {
            const json_t *x = json_array_get(causes, i);
            const char *f = json_string_value(json_object_get(x, "field"));
            const char *m = json_string_value(json_object_get(x, "message"));
            sf_buf_printf(&d, "%s%s%s%s", i ? "\n" : "", f ? f : "", f && m ? ": " : "",
                          m ? m : "");
        }
        sf_diag_detail(c->diags, "%s", d.s);
        sf_buf_free(&d);
    }
    json_decref(st);
}

/* ---------- reads, one by one or from a list ---------- */

/* GET of path: 1 with *live, 0 gone (404), -1 error. */
static int get_one(struct sf_call *c, struct sf_kube_cluster *k, const char *path, json_t **live)
{
    *live = NULL;
    struct sf_http_resp rs;
    int rc = -1;
    if (sf_kube_request(c, k, "GET", path, NULL, NULL, &rs) == 0) {
        if (rs.status == 404) {
            rc = 0;
        } else if (rs.status == 200 && (*live = json_loadb(rs.body, rs.len, 0, NULL))) {
            rc = 1;
        } else {
            sf_kube_error(c, "reading the object", "GET", path, &rs);
        }
    }
    sf_http_resp_free(&rs);
    return rc;
}

/* LIST of a collection: its items by name (new object; a list's items
 * carry no apiVersion and kind, which are set here), or NULL when the
 * list failed (the reads then go one by one; nothing is reported). */
static json_t *list_all(struct sf_call *c, struct sf_kube_cluster *k, const struct sf_kube_res *r,
                        const char *path)
{
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct sf_call qc = *c;
    qc.diags = &quiet;
    struct sf_http_resp rs;
    json_t *by_name = NULL;
    if (sf_kube_request(&qc, k, "GET", path, NULL, NULL, &rs) == 0 && rs.status == 200) {
        json_t *j = json_loadb(rs.body, rs.len, 0, NULL);
        const json_t *items = json_object_get(j, "items");
        /* A list cut into pages (continue) is not whole: not used. */
        const char *cont = json_string_value(json_object_get(json_object_get(j, "metadata"),
                                                             "continue"));
        if (json_is_array(items) && !(cont && *cont)) {
            by_name = json_object();
            for (size_t i = 0; i < json_array_size(items); i++) {
                json_t *it = json_array_get(items, i);
                const char *n =
                    json_string_value(json_object_get(json_object_get(it, "metadata"), "name"));
                if (!n)
                    continue;
                json_object_set_new(it, "apiVersion", json_string(r->group_version));
                json_object_set_new(it, "kind", json_string(r->kind));
                json_object_set(by_name, n, it);
            }
        }
        json_decref(j);
    }
    sf_http_resp_free(&rs);
    sf_diags_free(&quiet);
    return by_name;
}

int sf_kube_get(struct sf_call *c, struct sf_kube_cluster *k, const struct sf_kube_res *r,
                const char *ns, const char *name, bool from_list, json_t **live)
{
    char *path = sf_kube_path(r, ns, name);
    if (!from_list) {
        int rc = get_one(c, k, path, live);
        free(path);
        return rc;
    }
    char *coll = sf_kube_path(r, ns, NULL);
    pthread_mutex_lock(&k->lmu);
    json_t *e = json_object_get(k->lists, coll);
    if (!e) {
        /* The first read of a collection: it may be the only one. */
        json_object_set_new(k->lists, coll, json_pack("{s:i}", "reads", 1));
        pthread_mutex_unlock(&k->lmu);
        int rc = get_one(c, k, path, live);
        free(coll);
        free(path);
        return rc;
    }
    json_incref(e);
    if (!json_object_get(e, "items") && !json_object_get(e, "listing") &&
        !json_object_get(e, "failed")) {
        json_object_set_new(e, "listing", json_true());
        pthread_mutex_unlock(&k->lmu);
        json_t *items = list_all(c, k, r, coll);
        pthread_mutex_lock(&k->lmu);
        json_object_del(e, "listing");
        if (items)
            json_object_set_new(e, "items", items);
        else
            json_object_set_new(e, "failed", json_true());
        pthread_cond_broadcast(&k->lcv);
    }
    while (json_object_get(e, "listing"))
        pthread_cond_wait(&k->lcv, &k->lmu);
    const json_t *items = json_object_get(e, "items");
    int rc = -2;
    if (items) {
        const json_t *it = json_object_get(items, name);
        *live = it ? json_deep_copy(it) : NULL;
        rc = it ? 1 : 0;
    }
    pthread_mutex_unlock(&k->lmu);
    json_decref(e);
    if (rc == -2)
        rc = get_one(c, k, path, live);
    free(coll);
    free(path);
    return rc;
}

/* ---------- paths ---------- */

static void add_segment(struct sf_buf *b, const char *s)
{
    char *e = sf_sigv4_uri_encode(s, strlen(s), false);
    sf_buf_printf(b, "/%s", e);
    free(e);
}

char *sf_kube_path(const struct sf_kube_res *r, const char *ns, const char *name)
{
    struct sf_buf b = {0};
    sf_buf_printf(&b, "%s/%s", strchr(r->group_version, '/') ? "/apis" : "/api", r->group_version);
    if (r->namespaced && ns && *ns) {
        sf_buf_puts(&b, "/namespaces");
        add_segment(&b, ns);
    }
    add_segment(&b, r->plural);
    if (name)
        add_segment(&b, name);
    return sf_buf_take(&b);
}

/* ---------- discovery ---------- */

const json_t *sf_kube_discovery_find(const json_t *resources, const char *kind)
{
    for (size_t i = 0; i < json_array_size(resources); i++) {
        const json_t *r = json_array_get(resources, i);
        const char *name = json_string_value(json_object_get(r, "name"));
        const char *k = json_string_value(json_object_get(r, "kind"));
        if (name && k && !strchr(name, '/') && strcmp(k, kind) == 0)
            return r;
    }
    return NULL;
}

static char *gv_path(const char *gv)
{
    return sf_asprintf("%s/%s", strchr(gv, '/') ? "/apis" : "/api", gv);
}

/* Asks the server for one group version's resources and caches them (an
 * empty list when the server does not serve it). Called with k->mu held.
 * 0, or -1 after an error. */
static int fetch_gv(struct sf_call *c, struct sf_kube_cluster *k, const char *gv)
{
    char *path = gv_path(gv);
    struct sf_http_resp rs;
    int rc = -1;
    if (sf_kube_request(c, k, "GET", path, NULL, NULL, &rs) == 0) {
        if (rs.status == 404) {
            json_object_set_new(k->discovery, gv, json_array());
            rc = 0;
        } else if (rs.status == 200) {
            json_t *j = json_loadb(rs.body, rs.len, 0, NULL);
            json_t *res = json_object_get(j, "resources");
            json_object_set(k->discovery, gv, json_is_array(res) ? res : json_array());
            json_decref(j);
            rc = 0;
        } else {
            sf_kube_error(c, "discovery", "GET", path, &rs);
        }
    }
    sf_http_resp_free(&rs);
    free(path);
    return rc;
}

/* Looks kind up in gv: the cache, then (refresh or not cached) the server.
 * 1 found (out filled), 0 not served, -1 error. */
static int lookup(struct sf_call *c, struct sf_kube_cluster *k, const char *gv, const char *kind,
                  bool refresh, struct sf_kube_res *out)
{
    pthread_mutex_lock(&k->mu);
    int rc = 0;
    const json_t *list = json_object_get(k->discovery, gv);
    const json_t *r = sf_kube_discovery_find(list, kind);
    if (!r && (refresh || !list)) {
        if (fetch_gv(c, k, gv) < 0)
            rc = -1;
        else
            r = sf_kube_discovery_find(json_object_get(k->discovery, gv), kind);
    }
    if (r) {
        out->group_version = sf_xstrdup(gv);
        out->plural = sf_xstrdup(json_string_value(json_object_get(r, "name")));
        out->kind = sf_xstrdup(kind);
        out->namespaced = json_is_true(json_object_get(r, "namespaced"));
        rc = 1;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

/* Whether a CRD of the cluster defines kind in group (its discovery may
 * lag behind). 1 yes, 0 no, -1 error. */
static int crd_defines(struct sf_call *c, struct sf_kube_cluster *k, const char *group,
                       const char *kind)
{
    const char *path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    struct sf_http_resp rs;
    int rc = -1;
    if (sf_kube_request(c, k, "GET", path, NULL, NULL, &rs) == 0) {
        if (rs.status == 200) {
            rc = 0;
            json_t *j = json_loadb(rs.body, rs.len, 0, NULL);
            const json_t *items = json_object_get(j, "items");
            for (size_t i = 0; i < json_array_size(items) && rc == 0; i++) {
                const json_t *spec = json_object_get(json_array_get(items, i), "spec");
                const char *g = json_string_value(json_object_get(spec, "group"));
                const char *kd =
                    json_string_value(json_object_get(json_object_get(spec, "names"), "kind"));
                if (g && kd && strcmp(g, group) == 0 && strcmp(kd, kind) == 0)
                    rc = 1;
            }
            json_decref(j);
        } else if (rs.status == 404) {
            rc = 0;
        } else {
            sf_kube_error(c, "listing custom resource definitions", "GET", path, &rs);
        }
    }
    sf_http_resp_free(&rs);
    return rc;
}

/* "Kind (group/version)" of every kind the server serves, for suggestions:
 * asked only when a kind is not found. */
static json_t *all_kinds(struct sf_call *c, struct sf_kube_cluster *k)
{
    json_t *kinds = json_object(); /* kind -> group version */
    json_t *gvs = json_array();
    json_array_append_new(gvs, json_string("v1"));
    struct sf_http_resp rs;
    if (sf_kube_request(c, k, "GET", "/apis", NULL, NULL, &rs) == 0 && rs.status == 200) {
        json_t *j = json_loadb(rs.body, rs.len, 0, NULL);
        const json_t *groups = json_object_get(j, "groups");
        for (size_t i = 0; i < json_array_size(groups); i++) {
            const json_t *vs = json_object_get(json_array_get(groups, i), "versions");
            for (size_t v = 0; v < json_array_size(vs); v++)
                json_array_append(gvs, json_object_get(json_array_get(vs, v), "groupVersion"));
        }
        json_decref(j);
    }
    sf_http_resp_free(&rs);
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < json_array_size(gvs); i++) {
        const char *gv = json_string_value(json_array_get(gvs, i));
        if (!gv)
            continue;
        if (!json_object_get(k->discovery, gv)) {
            struct sf_diags quiet;
            sf_diags_init(&quiet);
            struct sf_call qc = *c;
            qc.diags = &quiet;
            fetch_gv(&qc, k, gv);
            sf_diags_free(&quiet);
        }
        const json_t *list = json_object_get(k->discovery, gv);
        for (size_t r = 0; r < json_array_size(list); r++) {
            const json_t *e = json_array_get(list, r);
            const char *name = json_string_value(json_object_get(e, "name"));
            const char *kd = json_string_value(json_object_get(e, "kind"));
            if (name && kd && !strchr(name, '/') && !json_object_get(kinds, kd))
                json_object_set_new(kinds, kd, json_string(gv));
        }
    }
    pthread_mutex_unlock(&k->mu);
    json_decref(gvs);
    return kinds;
}

static void not_found(struct sf_call *c, struct sf_kube_cluster *k, const char *api_version,
                      const char *kind)
{
    json_t *kinds = all_kinds(c, k);
    size_t n = json_object_size(kinds), i = 0;
    const char **names = sf_xcalloc(n + 1, sizeof(char *));
    const char *kd;
    json_t *gv;
    json_object_foreach (kinds, kd, gv)
        names[i++] = kd;
    const char *best = json_object_get(kinds, kind) ? kind : sf_did_you_mean(kind, names);
    sf_kube_fail(c, SF_CLASS_INVALID,
                 "manifest: the cluster serves no kind \"%s\" in apiVersion \"%s\"", kind,
                 api_version);
    if (best)
        sf_diag_detail(c->diags, "did you mean kind \"%s\" of apiVersion \"%s\"?", best,
                       json_string_value(json_object_get(kinds, best)));
    else
        sf_diag_detail(c->diags, "a custom resource needs its CustomResourceDefinition applied "
                                 "first (depends_on)");
    free(names);
    json_decref(kinds);
}

int sf_kube_resolve(struct sf_call *c, struct sf_kube_cluster *k, const char *api_version,
                    const char *kind, bool may_wait, struct sf_kube_res *out)
{
    memset(out, 0, sizeof(*out));
    int got = lookup(c, k, api_version, kind, false, out);
    if (got != 0)
        return got > 0 ? 0 : -1;
    if (!may_wait) {
        got = lookup(c, k, api_version, kind, true, out);
        return got > 0 ? 0 : got == 0 ? 1 : -1;
    }
    const char *slash = strchr(api_version, '/');
    char *group = slash ? sf_xstrndup(api_version, (size_t)(slash - api_version)) : NULL;
    double grace = sf_now() + UNDEFINED_KIND_GRACE_S;
    bool defined = false;
    int rc = -1;
    for (int round = 0;; round++) {
        got = lookup(c, k, api_version, kind, true, out);
        if (got != 0) {
            rc = got > 0 ? 0 : -1;
            break;
        }
        /* Built-in groups have no CRDs: a miss there is final. */
        if (!group || !strchr(group, '.') || strstr(group, ".k8s.io")) {
            not_found(c, k, api_version, kind);
            break;
        }
        if (!defined && (round % 5) == 0) {
            int d = crd_defines(c, k, group, kind);
            if (d < 0)
                break;
            defined = d > 0;
        }
        double now = sf_now();
        if ((!defined && now >= grace) || (c->deadline > 0 && now >= c->deadline)) {
            not_found(c, k, api_version, kind);
            break;
        }
        sf_kube_status(c, "waiting for kind %s of %s to be served", kind, api_version);
        sf_sleep_ms(200);
    }
    free(group);
    return rc;
}

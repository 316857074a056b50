/*
 * Container infra, the Magnum-style v1 API of VK Cloud under
 * /container-infra/v1: Kubernetes clusters (clusters.c) and their node
 * groups (nodegroups.c). This file registers the API with the HTTP core and
 * holds what both share (containerinfra.h): the routes, the error shape
 * (Magnum's {"errors": [...]}), the MCS-API-Version check, the fixed
 * cluster templates (found by uuid, name or version) and flavor names, the
 * timed transitions, JSON-patch parsing, and the sweep that purges what a
 * deletion has finished with.
 */
#include "containerinfra.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apis.h"
#include "store.h"
#include "util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define API_VERSION "container-infra 1.33"

static const struct lc_ci_template templates[] = {
    {"0b4d5e9a-6f1c-4a57-9e3d-000000000129", "Kubernetes-v1.29", "1.29"},
    {"0b4d5e9a-6f1c-4a57-9e3d-000000000130", "Kubernetes-v1.30", "1.30"},
    {"0b4d5e9a-6f1c-4a57-9e3d-000000000131", "Kubernetes-v1.31", "1.31"},
    {"0b4d5e9a-6f1c-4a57-9e3d-000000000132", "Kubernetes-v1.32", "1.32"},
};

const char *lc_ci_default_flavor(void)
{
    return lc_compute_flavor_id("STD3-4-8");
}

const struct lc_ci_template *lc_ci_template_find(const char *ref)
{
    const char *ver = ref[0] == 'v' ? ref + 1 : ref;
    for (size_t i = 0; i < NELEM(templates); i++)
        if (strcmp(templates[i].uuid, ref) == 0 || strcmp(templates[i].name, ref) == 0 ||
            strcmp(templates[i].version, ver) == 0)
            return &templates[i];
    return NULL;
}

bool lc_ci_flag(struct lc_check *c, json_t *v, const char *field)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0)
        return true;
    if (!(json_is_string(v) && strcmp(json_string_value(v), "false") == 0))
        lc_check_fail(c, field, "%s: expected true or false", field);
    return false;
}

struct lc_store *lc_ci_store(struct lc_request *req)
{
    return lc_server_store(req->srv);
}

const char *lc_ci_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* ---------- errors and the version header ---------- */

static const char *title_of(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 429: return "Too Many Requests";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* Magnum's shape: a list of errors, each with the numeric status, a title
 * and the detail a person reads. */
static void ci_error(struct lc_response *resp, unsigned status, const char *type, const char *msg)
{
    char *rid = sf_uuid();
    char *req_id = sf_asprintf("req-%s", rid);
    lc_resp_json(resp, status,
                 json_pack("{s:[{s:s, s:s, s:i, s:s, s:s, s:[]}]}", "errors", "request_id", req_id,
                           "code", status >= 500 ? "server" : "client", "status", (int)status,
                           "title", type ? type : title_of(status), "detail", msg, "links"));
    free(rid);
    free(req_id);
}

bool lc_ci_begin(struct lc_request *req, struct lc_response *resp)
{
    lc_resp_header(resp, "MCS-API-Version", API_VERSION);
    const char *v = lc_req_header(req, "MCS-API-Version");
    if (!v)
        return true;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == strlen(API_VERSION) && strncasecmp(v, API_VERSION, n) == 0)
        return true;
    lc_error(req, resp, 406, NULL,
             "Invalid header MCS-API-Version: \"%.*s\" is not supported; expected \"%s\"",
             (int)(n > 200 ? 200 : n), v, API_VERSION);
    return false;
}

/* ---------- timed transitions ---------- */

json_t *lc_ci_settled(json_t *o, long long now)
{
    json_t *c = json_deep_copy(o);
    json_t *p = json_object_get(c, "pending");
    if (json_is_object(p) && now >= json_integer_value(json_object_get(p, "at_ms"))) {
        json_object_set(c, "status", json_object_get(p, "status"));
        json_t *set = json_object_get(p, "set");
        if (json_is_object(set))
            json_object_update(c, set);
        json_object_del(c, "pending");
    }
    return c;
}

void lc_ci_transition(json_t *o, const char *during, const char *target, json_t *set,
                      long long now, long delay_ms)
{
    json_object_set_new(o, "status", json_string(during));
    json_t *p = json_pack("{s:s, s:I}", "status", target, "at_ms", (json_int_t)(now + delay_ms));
    if (set)
        json_object_set_new(p, "set", set);
    json_object_set_new(o, "pending", p);
}

void lc_ci_touch(json_t *o, long long now)
{
    char ts[48];
    lc_format_time(now, false, ts, sizeof(ts));
    json_object_set_new(o, "updated_at", json_string(ts));
}

int lc_ci_reconcile(struct lc_request *req, struct lc_response *resp, json_t *cl, long long now)
{
    lc_ci_transition(cl, "RECONCILING", "RUNNING", NULL, now,
                     lc_server_options(req->srv)->delay_ms);
    lc_ci_touch(cl, now);
    if (lc_store_put(lc_ci_store(req), LC_CI_API, "clusters", lc_ci_str(cl, "uuid"), cl) == 0)
        return 0;
    lc_error(req, resp, 500, NULL, "Could not save cluster %s", lc_ci_str(cl, "uuid"));
    return -1;
}

void lc_ci_view_common(struct lc_request *req, json_t *view, json_t *o, const char *kind)
{
    const char *base = lc_server_base_url(req->srv);
    const char *id = lc_ci_str(o, "uuid");
    char *self = sf_asprintf("%s%s/%s/%s", base, LC_CI_PREFIX, kind, id);
    char *bookmark = sf_asprintf("%s/container-infra/%s/%s", base, kind, id);
    json_object_set_new(view, "links", json_pack("[{s:s, s:s}, {s:s, s:s}]", "href", self, "rel",
                                                 "self", "href", bookmark, "rel", "bookmark"));
    json_object_set(view, "created_at", json_object_get(o, "created_at"));
    json_object_set(view, "updated_at", json_object_get(o, "updated_at"));
    free(self);
    free(bookmark);
}

/* ---------- JSON patch ---------- */

json_t *lc_ci_patch_list(struct lc_request *req, struct lc_response *resp)
{
    if (req->body_len == 0) {
        lc_error(req, resp, 400, NULL, "Malformed request body: the body is empty, expected a "
                                       "JSON-patch list [{\"op\", \"path\", \"value\"}]");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        lc_error(req, resp, 400, NULL, "Malformed request body: %s (line %d, column %d)", je.text,
                 je.line, je.column);
        return NULL;
    }
    if (!json_is_array(root)) {
        json_decref(root);
        lc_error(req, resp, 400, NULL, "Malformed request body: expected a JSON-patch list "
                                       "[{\"op\", \"path\", \"value\"}]");
        return NULL;
    }
    return root;
}

int lc_ci_patch_op(struct lc_check *c, json_t *list, size_t i, struct lc_ci_op *op)
{
    char field[32];
    snprintf(field, sizeof(field), "patch[%zu]", i);
    json_t *item = json_array_get(list, i);
    memset(op, 0, sizeof(*op));
    if (!json_is_object(item)) {
        lc_check_fail(c, field, "%s: expected an object {\"op\", \"path\", \"value\"}", field);
        return -1;
    }
    static const char *const keys[] = {"op", "path", "value", NULL};
    lc_check_known(c, item, field, keys, "unknown member; expected op, path and value");
    op->op = lc_get_string(c, item, field, "op", LC_REQUIRED);
    op->path = lc_get_string(c, item, field, "path", LC_REQUIRED | LC_LONG);
    if (c->failed)
        return -1;
    if (strcmp(op->op, "add") != 0 && strcmp(op->op, "replace") != 0 &&
        strcmp(op->op, "remove") != 0) {
        lc_check_fail(c, field, "%s.op: \"%s\" is not supported; expected add, replace or remove",
                      field, op->op);
        return -1;
    }
    if (op->path[0] != '/') {
        lc_check_fail(c, field, "%s.path: expected a JSON pointer such as /labels", field);
        return -1;
    }
    op->value = json_object_get(item, "value");
    if (strcmp(op->op, "remove") != 0 && !op->value) {
        lc_check_fail(c, field, "%s.value: a value is required for %s", field, op->op);
        return -1;
    }
    return 0;
}

/* ---------- version document, templates ---------- */

static void get_root(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    const char *base = lc_server_base_url(req->srv);
    char *self = sf_asprintf("%s%s/", base, LC_CI_PREFIX);
    char *clusters = sf_asprintf("%s%s/clusters", base, LC_CI_PREFIX);
    char *ngs = sf_asprintf("%s%s/nodegroups", base, LC_CI_PREFIX);
    lc_resp_json(resp, 200,
                 json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}], s:[{s:s, s:s}]}",
                           "id", "v1", "status", "CURRENT", "min_version", "container-infra 1.1",
                           "max_version", API_VERSION, "links", "href", self, "rel", "self",
                           "clusters", "href", clusters, "rel", "self", "nodegroups", "href", ngs,
                           "rel", "self"));
    free(self);
    free(clusters);
    free(ngs);
}

static json_t *template_view(struct lc_request *req, const struct lc_ci_template *t)
{
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{}}", "uuid", t->uuid, "name", t->name,
                          "version", t->version, "coe", "kubernetes", "master_flavor_id",
                          lc_ci_default_flavor(), "flavor_id", lc_ci_default_flavor(), "labels");
    char *self = sf_asprintf("%s%s/clustertemplates/%s", lc_server_base_url(req->srv),
                             LC_CI_PREFIX, t->uuid);
    json_object_set_new(v, "links", json_pack("[{s:s, s:s}]", "href", self, "rel", "self"));
    free(self);
    return v;
}

static void list_templates(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *out = json_array();
    for (size_t i = 0; i < NELEM(templates); i++)
        json_array_append_new(out, template_view(req, &templates[i]));
    lc_resp_json(resp, 200, json_pack("{s:o}", "clustertemplates", out));
}

static void get_template(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    const char *id = lc_req_param(req, "id");
    const struct lc_ci_template *t = lc_ci_template_find(id);
    if (!t)
        lc_error(req, resp, 404, NULL, "ClusterTemplate %s could not be found.", id);
    else
        lc_resp_json(resp, 200, template_view(req, t));
}

/* ---------- sweep ---------- */

/* Purges clusters and node groups whose deletion is over, and node groups
 * whose cluster is gone (a cluster's deletion takes its node groups). */
static void sweep(struct lc_server *srv, void *ctx)
{
    struct lc_store *st = lc_server_store(srv);
    long long now = lc_now_ms();
    const char *id;
    json_t *o, *tmp;
    json_object_foreach_safe(lc_store_kind(st, LC_CI_API, "clusters"), tmp, id, o)
    {
        json_t *at = json_object_get(o, "delete_at_ms");
        if (at && json_integer_value(at) <= now)
            lc_store_del(st, LC_CI_API, "clusters", id);
    }
    json_object_foreach_safe(lc_store_kind(st, LC_CI_API, "nodegroups"), tmp, id, o)
    {
        json_t *at = json_object_get(o, "delete_at_ms");
        if ((at && json_integer_value(at) <= now) ||
            !lc_store_get(st, LC_CI_API, "clusters", lc_ci_str(o, "cluster_id")))
            lc_store_del(st, LC_CI_API, "nodegroups", id);
    }
}

static const struct lc_route routes[] = {
    {"GET", "", get_root, LC_ROUTE_PUBLIC},
    {"GET", "/clustertemplates", list_templates, 0},
    {"GET", "/clustertemplates/{id}", get_template, 0},
    {"GET", "/clusters", lc_ci_list_clusters, 0},
    {"POST", "/clusters", lc_ci_create_cluster, 0},
    {"GET", "/clusters/{id}", lc_ci_get_cluster, 0},
    {"PATCH", "/clusters/{id}", lc_ci_patch_cluster, 0},
    {"DELETE", "/clusters/{id}", lc_ci_delete_cluster, 0},
    {"POST", "/clusters/{id}/actions", lc_ci_cluster_action, 0},
    {"PATCH", "/clusters/{id}/actions/upgrade", lc_ci_upgrade_cluster, 0},
    {"GET", "/clusters/{id}/kube_config", lc_ci_kube_config, 0},
    {"GET", "/clusters/{id}/nodegroups", lc_ci_list_cluster_nodegroups, 0},
    {"GET", "/nodegroups", lc_ci_list_nodegroups, 0},
    {"POST", "/nodegroups", lc_ci_create_nodegroup, 0},
    {"GET", "/nodegroups/{id}", lc_ci_get_nodegroup, 0},
    {"PATCH", "/nodegroups/{id}", lc_ci_patch_nodegroup, 0},
    {"DELETE", "/nodegroups/{id}", lc_ci_delete_nodegroup, 0},
    {"PATCH", "/nodegroups/{id}/actions/scale", lc_ci_scale_nodegroup, 0},
    {"PATCH", "/nodegroups/{id}/actions/resize", lc_ci_resize_nodegroup, 0},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api api = {
    .name = LC_CI_API,
    .prefix = LC_CI_PREFIX,
    .routes = routes,
    .error = ci_error,
    .token_auth = true,
    .openstack = true,
    .sweep = sweep,
};

int lc_containerinfra_register(struct lc_server *srv)
{
    return lc_server_add_api(srv, &api, NULL);
}

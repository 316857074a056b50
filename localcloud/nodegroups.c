/*
 * Container infra's node groups (see containerinfra.h): the workers of a
 * cluster, a fixed number of nodes or autoscaling between min_nodes and
 * max_nodes, on one compute flavor. Create, read, list (all, or a
 * cluster's), JSON-patch of the sizes, labels and taints, scale by a
 * delta, resize to another flavor, delete.
 *
 * As in VK Cloud, a node group's state is RUNNING throughout: the work
 * shows on its cluster, which is RECONCILING for --delay-ms while a node
 * group is created, patched, scaled, resized or deleted, then RUNNING. A
 * node group changes only while its cluster is RUNNING with nothing under
 * way (409 otherwise). A new one is there at once; a scale or resize takes
 * effect when the cluster's reconciling ends; a deleted one answers 404
 * from then on, and so do a deleted cluster's once the cluster is gone.
 * A node group named in the test endpoint's failures ends its creation
 * ("on create") or its patch, scale or resize ("on update") in state ERROR
 * with the failure's reason as status_reason, when the cluster's
 * reconciling ends (the cluster itself goes back to RUNNING); it can only
 * be deleted then. Names are unique in a cluster (409).
 */
#include <stdlib.h>
#include <string.h>

#include "apis.h"
#include "containerinfra.h"
#include "faults.h"
#include "sigv4.h"
#include "store.h"
#include "util.h"

#define MAX_PAIRS 64

static const char *const create_keys[] = {
    "cluster_id", "name", "node_count", "min_nodes", "max_nodes", "autoscaling_enabled",
    "flavor_id", "volume_size", "volume_type", "labels", "taints", "availability_zones",
    "max_node_unavailable", NULL};

static const char *const view_keys[] = {
    "uuid", "name", "cluster_id", "project_id", "node_count", "min_nodes", "max_nodes",
    "autoscaling_enabled", "flavor_id", "volume_size", "volume_type", "labels", "taints",
    "availability_zones", "max_node_unavailable", NULL};

static json_t *find_nodegroup(struct lc_request *req, struct lc_response *resp)
{
    const char *id = lc_req_param(req, "id");
    json_t *ng = lc_store_get(lc_ci_store(req), LC_CI_API, "nodegroups", id);
    if (!lc_req_owns(req, ng)) {
        lc_error(req, resp, 404, NULL, "Nodegroup %s could not be found.", id);
        return NULL;
    }
    return ng;
}

/* ---------- views ---------- */

/* A stable uuid for the i-th node of a node group: the first 128 bits of
 * a SHA-256, marked as a name-based (version 5) RFC 4122 uuid. */
static void node_uuid(const char *ng, long long i, char *out, size_t n)
{
    char h[65];
    char *in = sf_asprintf("%s/%lld", ng, i);
    sf_sigv4_sha256_hex(in, strlen(in), h);
    free(in);
    static const char digits[] = "0123456789abcdef";
    h[12] = '5';
    h[16] = "89ab"[(strchr(digits, h[16]) - digits) & 3];
    snprintf(out, n, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static json_t *ng_view(struct lc_request *req, json_t *stored, long long now)
{
    json_t *ng = lc_ci_settled(stored, now);
    json_t *v = json_object();
    for (size_t i = 0; view_keys[i]; i++) {
        json_t *m = json_object_get(ng, view_keys[i]);
        json_object_set(v, view_keys[i], m ? m : json_null());
    }
    const char *state = lc_ci_str(ng, "status");
    json_object_set_new(v, "state", json_string(state));
    json_object_set_new(v, "status_reason", strcmp(state, "ERROR") == 0
                                                ? json_string(lc_ci_str(ng, "status_reason"))
                                                : json_null());
    json_t *cl = lc_store_get(lc_ci_store(req), LC_CI_API, "clusters", lc_ci_str(ng, "cluster_id"));
    json_t *nodes = json_array();
    long long count = json_integer_value(json_object_get(ng, "node_count"));
    for (long long i = 0; i < count; i++) {
        char uuid[40];
        node_uuid(lc_ci_str(ng, "uuid"), i, uuid, sizeof(uuid));
        char *name = sf_asprintf("%s-%s-%lld", lc_ci_str(cl, "name"), lc_ci_str(ng, "name"), i);
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:O, s:O, s:O}", "name", name, "uuid",
                                               uuid, "node_group_id", json_object_get(ng, "uuid"),
                                               "created_at", json_object_get(ng, "created_at"),
                                               "updated_at", json_object_get(ng, "updated_at")));
        free(name);
    }
    json_object_set_new(v, "nodes", nodes);
    lc_ci_view_common(req, v, ng, "nodegroups");
    json_decref(ng);
    return v;
}

static void list_of(struct lc_request *req, struct lc_response *resp, const char *cluster_id)
{
    long long now = lc_now_ms();
    json_t *all = lc_store_sorted(lc_ci_store(req), LC_CI_API, "nodegroups");
    json_t *out = json_array();
    size_t i;
    json_t *ng;
    json_array_foreach(all, i, ng)
    {
        if (lc_req_owns(req, ng) && (!cluster_id || strcmp(lc_ci_str(ng, "cluster_id"), cluster_id) == 0))
            json_array_append_new(out, ng_view(req, ng, now));
    }
    json_decref(all);
    lc_resp_json(resp, 200, json_pack("{s:o}", "nodegroups", out));
}

void lc_ci_list_nodegroups(struct lc_request *req, struct lc_response *resp)
{
    if (lc_ci_begin(req, resp))
        list_of(req, resp, lc_req_query(req, "cluster_id"));
}

void lc_ci_list_cluster_nodegroups(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *cl = lc_ci_find_cluster(req, resp, lc_req_param(req, "id"));
    if (cl)
        list_of(req, resp, lc_ci_str(cl, "uuid"));
}

void lc_ci_get_nodegroup(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *ng = find_nodegroup(req, resp);
    if (ng)
        lc_resp_json(resp, 200, ng_view(req, ng, lc_now_ms()));
}

/* ---------- checks ---------- */

/* The node group's cluster, settled (new reference), when a change of the
 * node group (a settled copy) may start now: the node group is not being
 * deleted or changed, and the cluster is RUNNING with nothing under way.
 * NULL after answering 409. */
static json_t *ready_cluster(struct lc_request *req, struct lc_response *resp, json_t *ng,
                             long long now, const char *what)
{
    if (json_object_get(ng, "delete_at_ms")) {
        lc_error(req, resp, 409, NULL, "Cannot %s: nodegroup %s is being deleted", what,
                 lc_ci_str(ng, "uuid"));
        return NULL;
    }
    json_t *stored = lc_store_get(lc_ci_store(req), LC_CI_API, "clusters",
                                  lc_ci_str(ng, "cluster_id"));
    json_t *cl = lc_ci_settled(stored, now);
    if (lc_ci_cluster_ready(req, resp, cl, "RUNNING", what) < 0) {
        json_decref(cl);
        return NULL;
    }
    /* the cluster's reconciling ends with the node group's change; this
     * only matters if the two were ever saved apart */
    if (json_object_get(ng, "pending")) {
        lc_error(req, resp, 409, NULL, "Cannot %s: nodegroup %s is being changed", what,
                 lc_ci_str(ng, "uuid"));
        json_decref(cl);
        return NULL;
    }
    return cl;
}

static long long read_int(struct lc_check *c, json_t *v, const char *field, long long min,
                          long long max)
{
    json_t *tmp = json_pack("{s:O}", field, v);
    long long n = lc_get_int(c, tmp, NULL, field, min, min, max);
    json_decref(tmp);
    return n;
}

/* A list of {key, value} (labels) or {key, value, effect} (taints),
 * normalised (new reference); NULL after failing c. */
static json_t *read_pairs(struct lc_check *c, json_t *v, const char *field, bool taints)
{
    if (c->failed)
        return NULL;
    if (!json_is_array(v) || json_array_size(v) > MAX_PAIRS) {
        lc_check_fail(c, field, "%s: expected a list of at most %d {\"key\", \"value\"%s}", field,
                      MAX_PAIRS, taints ? ", \"effect\"" : "");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char f[64];
        snprintf(f, sizeof(f), "%s[%zu]", field, i);
        if (!json_is_object(item)) {
            lc_check_fail(c, f, "%s: expected an object {\"key\", \"value\"%s}", f,
                          taints ? ", \"effect\"" : "");
            break;
        }
        static const char *const label_keys[] = {"key", "value", NULL};
        static const char *const taint_keys[] = {"key", "value", "effect", NULL};
        lc_check_known(c, item, f, taints ? taint_keys : label_keys, "unknown member");
        const char *key = lc_get_string(c, item, f, "key", LC_REQUIRED);
        const char *val = lc_get_string(c, item, f, "value", 0);
        const char *effect = taints ? lc_get_string(c, item, f, "effect", LC_REQUIRED) : NULL;
        if (!c->failed && !*key)
            lc_check_fail(c, f, "%s.key: must not be empty", f);
        if (!c->failed && effect && strcmp(effect, "NoSchedule") != 0 &&
            strcmp(effect, "PreferNoSchedule") != 0 && strcmp(effect, "NoExecute") != 0)
            lc_check_fail(c, f, "%s.effect: expected NoSchedule, PreferNoSchedule or NoExecute", f);
        for (size_t j = 0; !c->failed && !taints && j < i; j++)
            if (strcmp(lc_ci_str(json_array_get(out, j), "key"), key) == 0)
                lc_check_fail(c, f, "%s.key: %s is given twice", f, key);
        if (c->failed)
            break;
        json_t *p = json_pack("{s:s, s:s}", "key", key, "value", val ? val : "");
        if (effect)
            json_object_set_new(p, "effect", json_string(effect));
        json_array_append_new(out, p);
    }
    if (c->failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static long long int_or(json_t *ng, const char *key, long long dflt)
{
    json_t *v = json_object_get(ng, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* min_nodes <= max_nodes, node_count <= max_nodes, and with autoscaling
 * both bounds set and min_nodes <= node_count. */
static void check_sizes(struct lc_check *c, json_t *ng)
{
    if (c->failed)
        return;
    long long count = int_or(ng, "node_count", 1);
    long long min = int_or(ng, "min_nodes", -1), max = int_or(ng, "max_nodes", -1);
    bool autoscaling = json_is_true(json_object_get(ng, "autoscaling_enabled"));
    if (min >= 0 && max >= 0 && min > max)
        lc_check_fail(c, "min_nodes", "min_nodes: %lld is more than max_nodes %lld", min, max);
    else if (max >= 0 && count > max)
        lc_check_fail(c, "max_nodes", "max_nodes: %lld is less than node_count %lld", max, count);
    else if (autoscaling && (min < 0 || max < 0))
        lc_check_fail(c, "autoscaling_enabled", "autoscaling_enabled: autoscaling needs min_nodes "
                      "and max_nodes");
    else if (autoscaling && count < min)
        lc_check_fail(c, "min_nodes", "min_nodes: %lld is more than node_count %lld (with "
                      "autoscaling, min_nodes <= node_count <= max_nodes)", min, count);
}

static bool name_taken(struct lc_request *req, const char *cluster_id, const char *name)
{
    const char *id;
    json_t *ng;
    json_object_foreach(lc_store_kind(lc_ci_store(req), LC_CI_API, "nodegroups"), id, ng)
    {
        if (strcmp(lc_ci_str(ng, "cluster_id"), cluster_id) == 0 &&
            strcmp(lc_ci_str(ng, "name"), name) == 0 && !json_object_get(ng, "delete_at_ms"))
            return true;
    }
    return false;
}

/* When a failure "on" names the node group (a settled copy), puts it into
 * a transition that ends in ERROR with the reason, and true. */
static bool fail_if_asked(struct lc_request *req, json_t *ng, const char *on, long long now)
{
    char *reason = lc_faults_failure(lc_server_faults(req->srv), "nodegroup",
                                     lc_ci_str(ng, "name"), on);
    if (!reason)
        return false;
    lc_ci_transition(ng, "RUNNING", "ERROR", json_pack("{s:s}", "status_reason", reason), now,
                     lc_server_options(req->srv)->delay_ms);
    free(reason);
    return true;
}

static void save(struct lc_request *req, struct lc_response *resp, json_t *ng, unsigned status,
                 long long now)
{
    if (lc_store_put(lc_ci_store(req), LC_CI_API, "nodegroups", lc_ci_str(ng, "uuid"), ng) < 0)
        lc_error(req, resp, 500, NULL, "Could not save nodegroup %s", lc_ci_str(ng, "uuid"));
    else
        lc_resp_json(resp, status, ng_view(req, ng, now));
}

/* ---------- create ---------- */

void lc_ci_create_nodegroup(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    lc_check_known(&c, body, NULL, create_keys, "unknown member of a node group");
    const char *cluster_id = lc_get_string(&c, body, NULL, "cluster_id", LC_REQUIRED);
    const char *name = lc_get_string(&c, body, NULL, "name", LC_REQUIRED);
    if (!c.failed && (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
                                    strlen(name) || name[0] == '-'))
        lc_check_fail(&c, "name", "name: expected lowercase letters, digits and -, not starting "
                      "with -");
    long long count = lc_get_int(&c, body, NULL, "node_count", 1, 1, LC_CI_MAX_NODES);
    json_t *min = json_object_get(body, "min_nodes"), *max = json_object_get(body, "max_nodes");
    long long nmin = min && !json_is_null(min) ? read_int(&c, min, "min_nodes", 0, LC_CI_MAX_NODES)
                                               : -1;
    long long nmax = max && !json_is_null(max) ? read_int(&c, max, "max_nodes", 1, LC_CI_MAX_NODES)
                                               : -1;
    json_t *as = json_object_get(body, "autoscaling_enabled");
    bool autoscaling = as && !json_is_null(as) && lc_ci_flag(&c, as, "autoscaling_enabled");
    const char *flavor = lc_get_string(&c, body, NULL, "flavor_id", 0);
    const char *fid = lc_ci_default_flavor();
    if (!c.failed && flavor && !(fid = lc_compute_flavor_id(flavor)))
        lc_check_fail(&c, "flavor_id", "flavor_id: no flavor %s (GET /compute/v2.1/flavors lists "
                      "them)", flavor);
    long long volume = lc_get_int(&c, body, NULL, "volume_size", 40, 10, 1000);
    const char *vtype = lc_get_string(&c, body, NULL, "volume_type", 0);
    json_t *azs = lc_get_string_list(&c, body, NULL, "availability_zones", 0);
    long long unavailable = lc_get_int(&c, body, NULL, "max_node_unavailable", 1, 1,
                                       LC_CI_MAX_NODES);
    json_t *lv = json_object_get(body, "labels"), *tv = json_object_get(body, "taints");
    json_t *labels = lv && !json_is_null(lv) ? read_pairs(&c, lv, "labels", false) : json_array();
    json_t *taints = tv && !json_is_null(tv) ? read_pairs(&c, tv, "taints", true) : json_array();
    json_t *cl = NULL;
    if (!c.failed && !(cl = lc_store_get(lc_ci_store(req), LC_CI_API, "clusters", cluster_id)))
        lc_check_fail(&c, "cluster_id", "cluster_id: cluster %s not found", cluster_id);
    if (!c.failed && !lc_req_owns(req, cl))
        lc_check_fail(&c, "cluster_id", "cluster_id: cluster %s not found", cluster_id);
    long long now = lc_now_ms();
    char ts[48];
    lc_format_time(now, false, ts, sizeof(ts));
    char *id = sf_uuid();
    json_t *ng = NULL;
    if (!c.failed) {
        ng = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:s, s:I, s:s, s:o, s:o, s:o, s:I, "
                       "s:s, s:s, s:I}",
                       "uuid", id, "status", "RUNNING", "name", name, "cluster_id", cluster_id,
                       "project_id", req->project_id, "node_count", (json_int_t)count,
                       "autoscaling_enabled", autoscaling, "flavor_id", fid, "volume_size",
                       (json_int_t)volume, "volume_type", vtype ? vtype : "ceph-ssd", "labels",
                       json_incref(labels), "taints", json_incref(taints), "availability_zones",
                       azs ? json_deep_copy(azs) : json_array(), "max_node_unavailable",
                       (json_int_t)unavailable, "created_at", ts, "updated_at", ts, "created_ms",
                       (json_int_t)now);
        json_object_set_new(ng, "min_nodes", nmin >= 0 ? json_integer(nmin) : json_null());
        json_object_set_new(ng, "max_nodes", nmax >= 0 ? json_integer(nmax) : json_null());
        check_sizes(&c, ng);
    }
    json_t *ready = c.failed ? NULL : ready_cluster(req, resp, ng, now, "create a node group");
    if (ready && name_taken(req, cluster_id, name)) {
        lc_error(req, resp, 409, NULL, "A node group named %s already exists in cluster %s", name,
                 cluster_id);
    } else if (ready && lc_ci_reconcile(req, resp, ready, now) == 0) {
        fail_if_asked(req, ng, "create", now);
        save(req, resp, ng, 202, now);
    }
    json_decref(ready);
    json_decref(ng);
    json_decref(labels);
    json_decref(taints);
    json_decref(body);
    free(id);
}

/* ---------- change ---------- */

/* Starts a change of ng (a settled copy) when it may start: its cluster
 * reconciles, and the members of set (stolen, may be NULL) apply to the
 * node group when that is over; what the members of ng already say applies
 * at once. Answers status with the node group, or the 409 / 500. */
static void change(struct lc_request *req, struct lc_response *resp, json_t *ng, long long now,
                   const char *what, json_t *set, unsigned status)
{
    if (strcmp(lc_ci_str(ng, "status"), "ERROR") == 0) {
        lc_error(req, resp, 409, NULL, "Cannot %s: nodegroup %s is in ERROR; it can only be "
                 "deleted", what, lc_ci_str(ng, "uuid"));
        json_decref(set);
        return;
    }
    json_t *cl = ready_cluster(req, resp, ng, now, what);
    if (cl && lc_ci_reconcile(req, resp, cl, now) == 0) {
        if (!fail_if_asked(req, ng, "update", now) && set)
            lc_ci_transition(ng, "RUNNING", "RUNNING", json_incref(set), now,
                             lc_server_options(req->srv)->delay_ms);
        lc_ci_touch(ng, now);
        save(req, resp, ng, status, now);
    }
    json_decref(set);
    json_decref(cl);
}

static const char *const patch_paths[] = {"/min_nodes", "/max_nodes", "/autoscaling_enabled",
                                          "/labels", "/taints", "/max_node_unavailable", NULL};

/* Applies one operation to ng (a settled copy). */
static void patch_one(struct lc_check *c, json_t *ng, const struct lc_ci_op *op, size_t i)
{
    const char *key = op->path + 1;
    bool remove = strcmp(op->op, "remove") == 0 || json_is_null(op->value);
    json_t *nv;
    /* min_nodes may be 0 (a group that autoscales from nothing) */
    long long lowest = strcmp(key, "min_nodes") == 0 ? 0 : 1;
    if (strcmp(key, "min_nodes") == 0 || strcmp(key, "max_nodes") == 0)
        nv = remove ? json_null() : json_integer(read_int(c, op->value, key, lowest,
                                                          LC_CI_MAX_NODES));
    else if (strcmp(key, "max_node_unavailable") == 0)
        nv = json_integer(remove ? 1 : read_int(c, op->value, key, 1, LC_CI_MAX_NODES));
    else if (strcmp(key, "autoscaling_enabled") == 0)
        nv = json_boolean(!remove && lc_ci_flag(c, op->value, key));
    else
        nv = remove ? json_array() : read_pairs(c, op->value, key, strcmp(key, "taints") == 0);
    if (!c->failed)
        json_object_set(ng, key, nv);
    json_decref(nv);
}

void lc_ci_patch_nodegroup(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *stored = find_nodegroup(req, resp);
    if (!stored)
        return;
    json_t *list = lc_ci_patch_list(req, resp);
    if (!list)
        return;
    long long now = lc_now_ms();
    json_t *ng = lc_ci_settled(stored, now);
    struct lc_check c;
    lc_check_init(&c, req, resp);
    for (size_t i = 0; i < json_array_size(list) && !c.failed; i++) {
        struct lc_ci_op op;
        if (lc_ci_patch_op(&c, list, i, &op) < 0)
            break;
        bool known = false;
        for (size_t j = 0; patch_paths[j] && !known; j++)
            known = strcmp(op.path, patch_paths[j]) == 0;
        if (!known)
            lc_check_fail(&c, "path", "patch[%zu].path: %s cannot be changed; expected /min_nodes, "
                          "/max_nodes, /autoscaling_enabled, /labels, /taints or "
                          "/max_node_unavailable", i, op.path);
        else
            patch_one(&c, ng, &op, i);
    }
    check_sizes(&c, ng);
    if (!c.failed)
        change(req, resp, ng, now, "change a node group", NULL, 200);
    json_decref(ng);
    json_decref(list);
}

/* Reads the action's body: only the members in keys are allowed. */
static json_t *action_body(struct lc_request *req, struct lc_response *resp, struct lc_check *c,
                           const char *const *keys)
{
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return NULL;
    lc_check_init(c, req, resp);
    char *why = sf_asprintf("unknown member; expected %s", keys[0]);
    lc_check_known(c, body, NULL, keys, why);
    free(why);
    return body;
}

void lc_ci_scale_nodegroup(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *stored = find_nodegroup(req, resp);
    if (!stored)
        return;
    static const char *const keys[] = {"delta", "rollback", NULL};
    struct lc_check c;
    json_t *body = action_body(req, resp, &c, keys);
    if (!body)
        return;
    if (!c.failed && !json_object_get(body, "delta"))
        lc_check_fail(&c, "delta", "delta: a value is required");
    long long delta = lc_get_int(&c, body, NULL, "delta", 0, -LC_CI_MAX_NODES, LC_CI_MAX_NODES);
    lc_get_string(&c, body, NULL, "rollback", 0);
    long long now = lc_now_ms();
    json_t *ng = lc_ci_settled(stored, now);
    long long count = int_or(ng, "node_count", 1) + delta;
    bool autoscaling = json_is_true(json_object_get(ng, "autoscaling_enabled"));
    long long lo = autoscaling ? int_or(ng, "min_nodes", 1) : 1;
    long long hi = int_or(ng, "max_nodes", LC_CI_MAX_NODES);
    if (!c.failed && (count < lo || count > hi))
        lc_check_fail(&c, "delta", "delta: node_count would become %lld; expected %lld to %lld%s",
                      count, lo, hi, autoscaling ? " (min_nodes to max_nodes)" : "");
    if (!c.failed)
        change(req, resp, ng, now, "scale a node group",
               json_pack("{s:I}", "node_count", (json_int_t)count), 202);
    json_decref(ng);
    json_decref(body);
}

void lc_ci_resize_nodegroup(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *stored = find_nodegroup(req, resp);
    if (!stored)
        return;
    static const char *const keys[] = {"flavor_id", NULL};
    struct lc_check c;
    json_t *body = action_body(req, resp, &c, keys);
    if (!body)
        return;
    const char *flavor = lc_get_string(&c, body, NULL, "flavor_id", LC_REQUIRED);
    const char *fid = NULL;
    if (!c.failed && !(fid = lc_compute_flavor_id(flavor)))
        lc_check_fail(&c, "flavor_id", "flavor_id: no flavor %s (GET /compute/v2.1/flavors lists "
                      "them)", flavor);
    long long now = lc_now_ms();
    json_t *ng = lc_ci_settled(stored, now);
    if (!c.failed)
        change(req, resp, ng, now, "resize a node group", json_pack("{s:s}", "flavor_id", fid),
               202);
    json_decref(ng);
    json_decref(body);
}

/* RUNNING until --delay-ms is over, then 404; its cluster reconciles
 * meanwhile. Deleting a node group whose deletion, or whose cluster's,
 * is under way is answered 204 again. */
void lc_ci_delete_nodegroup(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *stored = find_nodegroup(req, resp);
    if (!stored)
        return;
    json_t *owner = lc_store_get(lc_ci_store(req), LC_CI_API, "clusters",
                                 lc_ci_str(stored, "cluster_id"));
    if (json_object_get(stored, "delete_at_ms") || json_object_get(owner, "delete_at_ms")) {
        lc_resp_empty(resp, 204);
        return;
    }
    long long now = lc_now_ms();
    json_t *ng = lc_ci_settled(stored, now);
    json_object_del(ng, "pending");
    json_t *cl = ready_cluster(req, resp, ng, now, "delete a node group");
    if (cl && lc_ci_reconcile(req, resp, cl, now) == 0) {
        long delay = lc_server_options(req->srv)->delay_ms;
        const char *id = lc_ci_str(ng, "uuid");
        int rc;
        if (delay > 0) {
            json_object_set_new(ng, "delete_at_ms", json_integer(now + delay));
            lc_ci_touch(ng, now);
            rc = lc_store_put(lc_ci_store(req), LC_CI_API, "nodegroups", id, ng);
        } else {
            rc = lc_store_del(lc_ci_store(req), LC_CI_API, "nodegroups", id);
        }
        if (rc < 0)
            lc_error(req, resp, 500, NULL, "Could not delete the nodegroup");
        else
            lc_resp_empty(resp, 204);
    }
    json_decref(cl);
    json_decref(ng);
}

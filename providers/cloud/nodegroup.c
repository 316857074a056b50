/*
 * cloud_node_group: the workers of a cloud_k8s_cluster (container-infra v1
 * node groups). A fixed size (node_count) or autoscaling between min_nodes
 * and max_nodes; the flavor changes in place (resize), the size by scale,
 * bounds, labels and taints by JSON patch. With autoscaling on, the
 * autoscaler owns the number of nodes: read reports the recorded
 * node_count (the real one is current_node_count), so its drift is never
 * a change, and update does not scale.
 *
 * Every change waits until the cluster is RUNNING (a cluster reconciling
 * another node group refuses with 409) and then converges like the
 * cluster's: look, send only what is not there yet (a scale's delta is
 * computed from the nodes there are now), wait for it. Node groups carry
 * the stack's tag as a Kubernetes node label (sparkform.io/tag); adopt
 * finds the group of its name in its cluster with that label.
 */
#include <stdlib.h>
#include <string.h>

#include "cloud.h"
#include "util.h"

#define TAG_LABEL "sparkform.io/tag"

static const struct sf_attr attrs[] = {
    {"cluster_id", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the cluster"},
    {"name", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "name, unique in the cluster (lowercase letters, digits, -)"},
    {"flavor", SF_STRING, SF_REQUIRED, NULL, "flavor of the nodes by name or id; a change resizes them"},
    {"node_count", SF_NUMBER, SF_OPTIONAL, "1", "number of nodes (with autoscaling: the initial number)"},
    {"autoscaling_enabled", SF_BOOL, SF_OPTIONAL, "false", "scale between min_nodes and max_nodes by load"},
    {"min_nodes", SF_NUMBER, SF_OPTIONAL | SF_COMPUTED, NULL, "lower bound of autoscaling (0 allowed)"},
    {"max_nodes", SF_NUMBER, SF_OPTIONAL | SF_COMPUTED, NULL, "upper bound of autoscaling"},
    {"volume_size", SF_NUMBER, SF_OPTIONAL | SF_COMPUTED | SF_FORCE_NEW | SF_STABLE, NULL, "disk of each node in GB"},
    {"volume_type", SF_STRING, SF_OPTIONAL | SF_COMPUTED | SF_FORCE_NEW | SF_STABLE, NULL, "disk type, e.g. ceph-ssd"},
    {"availability_zones", SF_LIST, SF_OPTIONAL | SF_COMPUTED | SF_FORCE_NEW | SF_STABLE, NULL, "zones of the nodes"},
    {"labels", SF_MAP, SF_OPTIONAL, "{}", "Kubernetes labels of the nodes"},
    {"taints", SF_LIST, SF_OPTIONAL, "[]", "taints of the nodes: [{key, value, effect}]"},
    {"max_node_unavailable", SF_NUMBER, SF_OPTIONAL | SF_COMPUTED, NULL, "nodes updated at once"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the node group's uuid"},
    {"state", SF_STRING, SF_COMPUTED, NULL, "RUNNING, ERROR, ..."},
    {"current_node_count", SF_NUMBER, SF_COMPUTED, NULL, "nodes there are now (autoscaling moves it)"},
    {"flavor_id", SF_STRING, SF_COMPUTED, NULL, "the nodes' flavor id"},
    {NULL, 0, 0, NULL, NULL},
};

static char *ng_path(const char *id, const char *rest)
{
    char *e = sf_cloud_escape(id);
    char *p = sf_asprintf("/nodegroups/%s%s", e, rest);
    free(e);
    return p;
}

/* VK Cloud's client sends the flag as a string; answers may carry either. */
static bool flag(const json_t *v)
{
    return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

static int ng_get(struct sf_call *c, const char *id, json_t **ng)
{
    *ng = NULL;
    char *path = ng_path(id, "");
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_CI, "GET", path, NULL, SF_CLOUD_OK404, "reading the node group", &r);
    free(path);
    if (rc == 0 && r.status != 404 && json_is_object(r.json) &&
        strcmp(sf_cloud_str(r.json, "state"), "DELETING") != 0)
        *ng = json_incref(r.json);
    sf_cloud_resp_free(&r);
    return rc;
}

static json_t *labels_map(const json_t *list)
{
    json_t *m = json_object();
    size_t i;
    json_t *l;
    json_array_foreach(list, i, l) if (strcmp(sf_cloud_str(l, "key"), TAG_LABEL) != 0)
        json_object_set_new(m, sf_cloud_str(l, "key"), json_string(sf_cloud_str(l, "value")));
    return m;
}

static json_t *labels_list(const struct sf_call *c, const json_t *map)
{
    json_t *l = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v) if (json_is_string(v))
        json_array_append_new(l, json_pack("{s:s, s:O}", "key", k, "value", v));
    char *tag = sf_cloud_tag(c);
    json_array_append_new(l, json_pack("{s:s, s:s}", "key", TAG_LABEL, "value", tag));
    free(tag);
    return l;
}

static json_t *number_or_null(const json_t *v)
{
    return json_is_number(v) ? json_copy((json_t *)v) : json_null();
}

/* What read reports; prior gives the flavor's spelling and, under
 * autoscaling, the node_count. NULL after an error. */
static json_t *ng_view(struct sf_call *c, const json_t *ng, const json_t *prior)
{
    const char *fid = sf_cloud_str(ng, "flavor_id");
    json_t *flavor = sf_cloud_flavor_spelling(c, json_object_get(prior, "flavor"),
                                              json_object_get(prior, "flavor_id"), fid);
    if (!flavor)
        return NULL;
    bool autoscaling = flag(json_object_get(ng, "autoscaling_enabled"));
    json_t *v = json_pack("{s:s, s:s, s:s, s:o, s:s, s:b, s:s}", "id", sf_cloud_str(ng, "uuid"),
                          "cluster_id", sf_cloud_str(ng, "cluster_id"), "name",
                          sf_cloud_str(ng, "name"), "flavor", flavor, "flavor_id", fid,
                          "autoscaling_enabled", autoscaling, "state", sf_cloud_str(ng, "state"));
    json_t *count = json_object_get(ng, "node_count");
    json_object_set_new(v, "current_node_count", number_or_null(count));
    json_t *recorded = json_object_get(prior, "node_count");
    json_object_set_new(v, "node_count", number_or_null(autoscaling && json_is_number(recorded) ? recorded : count));
    const char *nums[] = {"min_nodes", "max_nodes", "volume_size", "max_node_unavailable"};
    for (size_t i = 0; i < 4; i++)
        json_object_set_new(v, nums[i], number_or_null(json_object_get(ng, nums[i])));
    json_t *vt = json_object_get(ng, "volume_type");
    json_object_set_new(v, "volume_type", json_is_string(vt) ? json_copy(vt) : json_null());
    json_t *zones = json_object_get(ng, "availability_zones");
    json_object_set_new(v, "availability_zones", json_is_array(zones) ? json_deep_copy(zones) : json_array());
    json_object_set_new(v, "labels", labels_map(json_object_get(ng, "labels")));
    json_t *taints = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(ng, "taints"), i, t)
        json_array_append_new(taints, json_pack("{s:s, s:s, s:s}", "key", sf_cloud_str(t, "key"), "value",
                                                sf_cloud_str(t, "value"), "effect", sf_cloud_str(t, "effect")));
    json_object_set_new(v, "taints", taints);
    return v;
}

static int ng_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    json_t *ng;
    if (ng_get(c, sf_cloud_str(prior, "id"), &ng) < 0)
        return -1;
    if (!ng)
        return 0;
    *out = ng_view(c, ng, prior);
    json_decref(ng);
    return *out ? 0 : -1;
}

/* `sparkform status`: how many nodes there are now, the bounds and the
 * group's state (healthy when RUNNING). The count is the cloud's, also
 * under autoscaling, where read keeps the recorded one. */
static int ng_status(struct sf_call *c, const json_t *recorded, json_t **out)
{
    *out = NULL;
    json_t *ng;
    if (ng_get(c, sf_cloud_str(recorded, "id"), &ng) < 0)
        return -1;
    if (!ng)
        return 0;
    const char *state = sf_cloud_str(ng, "state");
    bool autoscaling = flag(json_object_get(ng, "autoscaling_enabled"));
    json_t *count = json_object_get(ng, "node_count");
    json_t *lo = json_object_get(ng, "min_nodes"), *hi = json_object_get(ng, "max_nodes");
    long n = json_is_integer(count) ? (long)json_integer_value(count) : 0;
    char *size;
    if (autoscaling)
        size = sf_asprintf("%ld node%s, autoscaling %lld..%lld", n, n == 1 ? "" : "s",
                           (long long)json_integer_value(lo), (long long)json_integer_value(hi));
    else
        size = sf_asprintf("%ld node%s, fixed size", n, n == 1 ? "" : "s");
    /* The flavor as the description spells it while it is the same one. */
    const char *fid = sf_cloud_str(ng, "flavor_id");
    const char *flavor = strcmp(fid, sf_cloud_str(recorded, "flavor_id")) == 0 &&
                                 *sf_cloud_str(recorded, "flavor")
                             ? sf_cloud_str(recorded, "flavor")
                             : fid;
    const char *reason = sf_cloud_str(ng, "status_reason");
    bool ok = strcmp(state, "RUNNING") == 0;
    *out = ok ? sf_status_new(state, true, "%s, %s", size, flavor)
              : sf_status_new(*state ? state : "UNKNOWN", false, "%s, %s%s%s", size,
                              *state ? state : "no state", *reason ? ": " : "", reason);
    json_object_set_new(*out, "status", json_string(state));
    json_object_set_new(*out, "node_count", number_or_null(count));
    json_object_set_new(*out, "min_nodes", number_or_null(lo));
    json_object_set_new(*out, "max_nodes", number_or_null(hi));
    json_object_set_new(*out, "autoscaling", json_boolean(autoscaling));
    json_object_set_new(*out, "flavor", json_string(flavor));
    free(size);
    json_decref(ng);
    return 0;
}

/* Waits until the cluster is RUNNING and, when id is not NULL, the node
 * group too (absent is "not yet" while appear is set). *ng gets it. */
static int settle(struct sf_call *c, const char *cluster_id, const char *id, bool appear, json_t **ng)
{
    if (ng)
        *ng = NULL;
    long delay = 0;
    char *ce = sf_cloud_escape(cluster_id);
    char *cpath = sf_asprintf("/clusters/%s", ce);
    free(ce);
    int rc;
    for (;;) {
        struct sf_cloud_resp r;
        rc = sf_cloud_do(c, SF_CLOUD_CI, "GET", cpath, NULL, 0, "reading the node group's cluster", &r);
        const char *cs = "";
        if (rc == 0) {
            cs = sf_cloud_str(r.json, "new_status");
            if (!*cs)
                cs = sf_cloud_str(r.json, "status");
        }
        bool running = rc == 0 && strcmp(cs, "RUNNING") == 0;
        if (rc == 0 && (strcmp(cs, "SHUTOFF") == 0 || strcmp(cs, "ERROR") == 0 || strcmp(cs, "DELETING") == 0)) {
            sf_cloud_error(c, SF_CLASS_CONFLICT,
                           "the cluster %s is %s: node groups change only while it is RUNNING",
                           cluster_id, cs);
            rc = -1;
        }
        sf_cloud_resp_free(&r);
        if (rc < 0)
            break;
        json_t *g = NULL;
        bool ready = running;
        if (running && id) {
            if ((rc = ng_get(c, id, &g)) < 0)
                break;
            const char *st = sf_cloud_str(g, "state");
            if (g && strcmp(st, "ERROR") == 0) {
                sf_cloud_error(c, SF_CLASS_NONE, "the node group %s went into ERROR%s%s", id,
                               *sf_cloud_str(g, "status_reason") ? ": " : "",
                               sf_cloud_str(g, "status_reason"));
                if (ng)
                    *ng = g;
                else
                    json_decref(g);
                rc = -1;
                break;
            }
            if (!g && !appear) {
                sf_cloud_error(c, SF_CLASS_NOT_FOUND, "the node group %s disappeared", id);
                rc = -1;
                break;
            }
            ready = g && strcmp(st, "RUNNING") == 0;
        }
        if (ready) {
            if (ng)
                *ng = g;
            else
                json_decref(g);
            break;
        }
        json_decref(g);
        if ((rc = sf_cloud_pause(c, &delay, id ? "waiting for the node group to be RUNNING"
                                                : "waiting for the cluster to be RUNNING")) < 0)
            break;
    }
    free(cpath);
    return rc;
}

/* The node group of the desired name in its cluster, with the tag label. */
static int ng_find(struct sf_call *c, const void *arg, json_t **found)
{
    const json_t *desired = arg;
    *found = NULL;
    char *e = sf_cloud_escape(sf_cloud_str(desired, "cluster_id"));
    char *path = sf_asprintf("/clusters/%s/nodegroups", e);
    free(e);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_CI, "GET", path, NULL, SF_CLOUD_OK404, "looking for the node group", &r);
    free(path);
    char *tag = sf_cloud_tag(c);
    size_t i, j;
    json_t *ng, *l;
    json_array_foreach(rc == 0 ? json_object_get(r.json, "nodegroups") : NULL, i, ng)
    {
        if (strcmp(sf_cloud_str(ng, "name"), sf_cloud_str(desired, "name")) != 0 ||
            strcmp(sf_cloud_str(ng, "state"), "DELETING") == 0)
            continue;
        json_array_foreach(json_object_get(ng, "labels"), j, l) if (
            strcmp(sf_cloud_str(l, "key"), TAG_LABEL) == 0 && strcmp(sf_cloud_str(l, "value"), tag) == 0)
            *found = json_incref(ng);
    }
    free(tag);
    sf_cloud_resp_free(&r);
    return rc;
}

static int ng_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    json_t *ng;
    if (ng_find(c, desired, &ng) < 0)
        return -1;
    if (!ng)
        return 0;
    *out = ng_view(c, ng, desired);
    json_decref(ng);
    return *out ? 0 : -1;
}

static int ng_finish(struct sf_call *c, const char *id, const json_t *desired, json_t **out)
{
    json_t *ng;
    if (ng_get(c, id, &ng) < 0)
        return -1;
    if (!ng) {
        sf_cloud_error(c, SF_CLASS_NOT_FOUND, "the node group %s disappeared", id);
        return -1;
    }
    *out = ng_view(c, ng, desired);
    json_decref(ng);
    return *out ? 0 : -1;
}

static int ng_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    const char *cluster_id = sf_cloud_str(desired, "cluster_id");
    char *flavor = sf_cloud_flavor_id(c, sf_cloud_str(desired, "flavor"));
    if (!flavor)
        return -1;
    json_t *count = json_object_get(desired, "node_count");
    json_t *body = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o}", "cluster_id", cluster_id, "name",
                             sf_cloud_str(desired, "name"), "flavor_id", flavor, "node_count",
                             json_is_number(count) ? json_copy(count) : json_integer(1),
                             "autoscaling_enabled",
                             flag(json_object_get(desired, "autoscaling_enabled")) ? "true" : "false",
                             "labels", labels_list(c, json_object_get(desired, "labels")));
    free(flavor);
    const char *opt[] = {"min_nodes", "max_nodes", "volume_size", "volume_type",
                         "availability_zones", "max_node_unavailable"};
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
        json_t *v = json_object_get(desired, opt[i]);
        if (v && !json_is_null(v))
            json_object_set_new(body, opt[i], sf_value_copy(v));
    }
    json_t *taints = json_object_get(desired, "taints");
    if (json_array_size(taints) > 0)
        json_object_set_new(body, "taints", sf_value_copy(taints));

    json_t *answer = NULL, *found = NULL;
    int rc;
    long delay = 0;
    for (;;) {
        /* A cluster busy with another node group answers 409. */
        if ((rc = settle(c, cluster_id, NULL, false, NULL)) < 0)
            break;
        struct sf_diags tmp;
        sf_diags_init(&tmp);
        struct sf_call cc = *c;
        cc.diags = &tmp;
        rc = sf_cloud_create(&cc, SF_CLOUD_CI, "/nodegroups", body, "creating the node group",
                             ng_find, desired, &answer, &found);
        if (rc == 0 || sf_diags_last_class(&tmp) != SF_CLASS_CONFLICT) {
            sf_diags_move(c->diags, &tmp);
            sf_diags_free(&tmp);
            break;
        }
        sf_diags_free(&tmp);
        if ((rc = sf_cloud_pause(c, &delay, "waiting for the cluster to take a new node group")) < 0)
            break;
    }
    json_decref(body);
    if (rc < 0)
        return -1;
    char *id = sf_xstrdup(sf_cloud_str(found ? found : answer, "uuid"));
    json_decref(answer);
    json_decref(found);
    if (!*id) {
        sf_cloud_error(c, SF_CLASS_INVALID, "creating the node group: the answer has no uuid");
        free(id);
        return -1;
    }
    json_t *ng;
    rc = settle(c, cluster_id, id, true, &ng);
    if (rc < 0 && ng) /* ERROR: recorded tainted */
        *out = ng_view(c, ng, desired);
    json_decref(ng);
    if (rc == 0)
        rc = ng_finish(c, id, desired, out);
    free(id);
    return rc;
}

/* What a change sends given the node group as it is now; NULL when the
 * node group shows the change already. */
typedef json_t *(*make_fn)(const json_t *ng, const void *arg);

static int ng_change(struct sf_call *c, const char *cluster_id, const char *id, const char *path,
                     unsigned flags, const char *what, make_fn make, const void *arg)
{
    long delay = 0;
    bool sent = false;
    for (;;) {
        json_t *ng;
        int rc = settle(c, cluster_id, id, false, &ng);
        json_t *body = rc == 0 ? make(ng, arg) : NULL;
        json_decref(ng);
        if (rc < 0 || !body)
            return rc;
        if (sent) {
            /* Accepted: wait for it to show rather than send it twice. */
            json_decref(body);
            if (sf_cloud_pause(c, &delay, what) < 0)
                return -1;
            continue;
        }
        struct sf_diags tmp;
        sf_diags_init(&tmp);
        struct sf_call cc = *c;
        cc.diags = &tmp;
        struct sf_cloud_resp r;
        rc = sf_cloud_do(&cc, SF_CLOUD_CI, "PATCH", path, body, flags | SF_CLOUD_OK409, what, &r);
        json_decref(body);
        long st = r.status;
        bool ambiguous = r.ambiguous;
        sf_cloud_resp_free(&r);
        if (rc < 0 && !ambiguous) {
            sf_diags_move(c->diags, &tmp);
            sf_diags_free(&tmp);
            return -1;
        }
        sf_diags_free(&tmp);
        if (rc == 0 && st != 409)
            sent = true;
        else if (sf_cloud_pause(c, &delay, what) < 0)
            return -1;
    }
}

struct patch_arg {
    const struct sf_call *c;
    const json_t *desired;
};

/* The JSON patch of what differs from the description, or NULL. */
static json_t *make_patch(const json_t *ng, const void *p)
{
    const struct patch_arg *a = p;
    json_t *ops = json_array();
    bool as = flag(json_object_get(a->desired, "autoscaling_enabled"));
    if (as != flag(json_object_get(ng, "autoscaling_enabled")))
        json_array_append_new(ops, json_pack("{s:s, s:s, s:s}", "op", "replace", "path",
                                             "/autoscaling_enabled", "value", as ? "true" : "false"));
    const char *nums[] = {"min_nodes", "max_nodes", "max_node_unavailable"};
    for (size_t i = 0; i < 3; i++) {
        json_t *want = json_object_get(a->desired, nums[i]);
        if (json_is_number(want) && !sf_value_equal(want, json_object_get(ng, nums[i]))) {
            char *path = sf_asprintf("/%s", nums[i]);
            json_array_append_new(ops, json_pack("{s:s, s:s, s:O}", "op", "replace", "path", path, "value", want));
            free(path);
        }
    }
    json_t *have_labels = labels_map(json_object_get(ng, "labels"));
    json_t *want_labels = json_object_get(a->desired, "labels");
    if (!sf_value_equal(have_labels, json_is_object(want_labels) ? want_labels : NULL) &&
        !(json_object_size(have_labels) == 0 && !json_object_size(want_labels)))
        json_array_append_new(ops, json_pack("{s:s, s:s, s:o}", "op", "replace", "path", "/labels",
                                             "value", labels_list(a->c, want_labels)));
    json_decref(have_labels);
    json_t *want_taints = json_object_get(a->desired, "taints");
    json_t *have_taints = json_object_get(ng, "taints");
    if (json_array_size(want_taints) + json_array_size(have_taints) > 0 &&
        !sf_value_equal(want_taints, have_taints))
        json_array_append_new(ops, json_pack("{s:s, s:s, s:o}", "op", "replace", "path", "/taints",
                                             "value", json_is_array(want_taints) ? sf_value_copy(want_taints) : json_array()));
    if (json_array_size(ops) == 0) {
        json_decref(ops);
        return NULL;
    }
    return ops;
}

static json_t *make_scale(const json_t *ng, const void *p)
{
    const json_t *desired = p;
    json_int_t want = json_integer_value(json_object_get(desired, "node_count"));
    json_int_t have = json_integer_value(json_object_get(ng, "node_count"));
    return want == have ? NULL : json_pack("{s:I}", "delta", want - have);
}

static json_t *make_resize(const json_t *ng, const void *flavor_id)
{
    return strcmp(sf_cloud_str(ng, "flavor_id"), flavor_id) == 0
               ? NULL
               : json_pack("{s:s}", "flavor_id", (const char *)flavor_id);
}

static int ng_update(struct sf_call *c, const json_t *prior, const json_t *desired, json_t **out)
{
    *out = NULL;
    const char *id = sf_cloud_str(prior, "id");
    const char *cluster_id = sf_cloud_str(prior, "cluster_id");
    char *path = ng_path(id, "");
    struct patch_arg pa = {.c = c, .desired = desired};
    int rc = ng_change(c, cluster_id, id, path, SF_CLOUD_IDEMP, "changing the node group", make_patch, &pa);
    free(path);
    /* Under autoscaling the autoscaler owns the size. */
    if (rc == 0 && !flag(json_object_get(desired, "autoscaling_enabled"))) {
        path = ng_path(id, "/actions/scale");
        rc = ng_change(c, cluster_id, id, path, SF_CLOUD_NOIDEMP, "scaling the node group", make_scale, desired);
        free(path);
    }
    if (rc == 0 && strcmp(sf_cloud_str(prior, "flavor"), sf_cloud_str(desired, "flavor")) != 0) {
        char *flavor = sf_cloud_flavor_id(c, sf_cloud_str(desired, "flavor"));
        rc = flavor ? 0 : -1;
        if (flavor) {
            path = ng_path(id, "/actions/resize");
            rc = ng_change(c, cluster_id, id, path, SF_CLOUD_NOIDEMP, "resizing the node group", make_resize, flavor);
            free(path);
        }
        free(flavor);
    }
    if (rc < 0)
        return -1;
    return ng_finish(c, id, desired, out);
}

/* Plan time: a flavor the cloud has, when it is known and changes. */
static int ng_check(struct sf_call *c, const json_t *prior, const json_t *desired)
{
    const char *flavor = sf_cloud_checked(prior, desired, "flavor");
    return flavor ? sf_cloud_check_flavor(c, "flavor", flavor) : 0;
}

static int ng_delete(struct sf_call *c, const json_t *prior)
{
    const char *id = sf_cloud_str(prior, "id");
    if (!*id)
        return 0;
    /* The cluster refuses (409) while it reconciles another change. */
    char *path = ng_path(id, "");
    int rc = sf_cloud_delete(c, SF_CLOUD_CI, path, "the node group", true);
    free(path);
    return rc;
}

const struct sf_resource_type sf_cloud_node_group_type = {
    .name = "cloud_node_group",
    .doc = "a node group (the workers) of a cloud_k8s_cluster",
    .attrs = attrs,
    .read = ng_read,
    .adopt = ng_adopt,
    .create = ng_create,
    .update = ng_update,
    .delete = ng_delete,
    .status = ng_status,
    .check = ng_check,
    .timeouts = {.create = 1800, .update = 1800, .delete = 1800, .read = 300},
};

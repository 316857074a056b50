/*
 * Container infra's clusters (see containerinfra.h): create, read (by
 * uuid or name), list, JSON-patch of the labels and of
 * security_policy_sync_enabled, delete, the turn_off / turn_on /
 * resize_masters actions, the upgrade action, and the kubeconfig.
 *
 * A new cluster is PROVISIONING for --delay-ms, then RUNNING; turn_off /
 * turn_on keep it RUNNING / SHUTOFF for --delay-ms, then SHUTOFF / RUNNING;
 * resize_masters, an upgrade and any node group change make it RECONCILING
 * for --delay-ms, then RUNNING (with the new master flavor or template); a
 * deleted one is DELETING, then 404, and its node groups go with it. A
 * cluster named in the test endpoint's failures ends its creation ("on
 * create") or its action or upgrade ("on update") in ERROR instead, with
 * the failure's reason as status_reason; it can only be deleted then.
 * Names are unique in a project (409), as VK Cloud has them. Each
 * cluster keeps a random bearer token ("kube_token", never shown by the
 * API) that its kubeconfig carries and that the cluster's emulated
 * Kubernetes API, served under /k8s/<cluster uuid>, accepts.
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "apis.h"
#include "containerinfra.h"
#include "faults.h"
#include "ipaddr.h"
#include "store.h"
#include "util.h"

#define MAX_LABELS 128

/* What VK Cloud's client sends (cluster_type always, "standard" by
 * default) and what localcloud accepts besides (version, master_flavor). */
static const char *const create_keys[] = {
    "name", "cluster_template_id", "version", "master_count", "master_flavor_id", "master_flavor",
    "network_id", "subnet_id", "keypair", "labels", "floating_ip_enabled", "pods_network_cidr",
    "availability_zone", "availability_zones", "cluster_type", "security_policy_sync_enabled",
    "external_network_id", "dns_domain", "insecure_registries", "api_lb_vip", "api_lb_fip",
    "loadbalancer_subnet_id", "registry_auth_password", NULL};

/* The members copied as they are from the stored cluster into its view:
 * every create field, so that a client reading back sees no drift. */
static const char *const view_keys[] = {
    "uuid", "name", "project_id", "user_id", "cluster_template_id", "version", "master_count",
    "master_flavor_id", "keypair", "labels", "network_id", "subnet_id", "floating_ip_enabled",
    "pods_network_cidr", "availability_zone", "availability_zones", "cluster_type",
    "security_policy_sync_enabled", "external_network_id", "dns_domain", "insecure_registries",
    "api_lb_vip", "api_lb_fip", "loadbalancer_subnet_id", "registry_auth_password", "stack_id",
    NULL};

json_t *lc_ci_find_cluster(struct lc_request *req, struct lc_response *resp, const char *ref)
{
    struct lc_store *st = lc_ci_store(req);
    json_t *cl = lc_store_get(st, LC_CI_API, "clusters", ref);
    if (lc_req_owns(req, cl))
        return cl;
    /* VK Cloud looks a cluster up by uuid or by name */
    json_t *found = NULL;
    size_t n = 0;
    const char *id;
    json_t *o;
    json_object_foreach(lc_store_kind(st, LC_CI_API, "clusters"), id, o)
    {
        if (lc_req_owns(req, o) && strcmp(lc_ci_str(o, "name"), ref) == 0) {
            found = o;
            n++;
        }
    }
    if (n == 1)
        return found;
    if (n > 1)
        lc_error(req, resp, 409, NULL, "Multiple clusters exist with the name %s; give the uuid",
                 ref);
    else
        lc_error(req, resp, 404, NULL, "Cluster %s could not be found.", ref);
    return NULL;
}

const char *lc_ci_cluster_state(json_t *settled)
{
    return json_object_get(settled, "delete_at_ms") ? "DELETING" : lc_ci_str(settled, "status");
}

int lc_ci_cluster_ready(struct lc_request *req, struct lc_response *resp, json_t *settled,
                        const char *want, const char *what)
{
    const char *state = lc_ci_cluster_state(settled);
    const char *becomes = lc_ci_str(json_object_get(settled, "pending"), "status");
    if (strcmp(state, want) != 0)
        lc_error(req, resp, 409, NULL, "Cannot %s: cluster %s is %s; it must be %s", what,
                 lc_ci_str(settled, "uuid"), state, want);
    else if (*becomes)
        lc_error(req, resp, 409, NULL, "Cannot %s: cluster %s is %s and becoming %s; try again "
                 "once that is done", what, lc_ci_str(settled, "uuid"), state, becomes);
    else
        return 0;
    return -1;
}

static bool valid_name(const char *s)
{
    static const char rest[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    return ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) &&
           strspn(s, rest) == strlen(s);
}

/* ---------- views ---------- */

/* Illustrative addresses for the masters and the nodes: counted down from
 * the end of the subnet's last allocation pool (servers are given the
 * lowest free addresses, so the two rarely meet). Not reserved. */
static void addresses(struct lc_request *req, json_t *cl, long long now, json_t *masters,
                      json_t *nodes)
{
    struct lc_store *st = lc_ci_store(req);
    json_t *sub = lc_store_get(st, "network", "subnets", lc_ci_str(cl, "subnet_id"));
    json_t *pools = json_object_get(sub, "allocation_pools");
    json_t *pool = json_array_get(pools, json_array_size(pools) - 1);
    struct lc_ip first, ip;
    if (!pool || lc_ip_parse(lc_ci_str(pool, "start"), &first) < 0 ||
        lc_ip_parse(lc_ci_str(pool, "end"), &ip) < 0)
        return;
    long long count = json_integer_value(json_object_get(cl, "master_count"));
    json_t *ngs = lc_store_sorted(st, LC_CI_API, "nodegroups");
    long long workers = 0;
    size_t i;
    json_t *ng;
    json_array_foreach(ngs, i, ng)
    {
        if (strcmp(lc_ci_str(ng, "cluster_id"), lc_ci_str(cl, "uuid")) != 0)
            continue;
        json_t *s = lc_ci_settled(ng, now);
        workers += json_integer_value(json_object_get(s, "node_count"));
        json_decref(s);
    }
    json_decref(ngs);
    char buf[64];
    for (long long n = 0; n < count + workers && lc_ip_cmp(&ip, &first) >= 0; n++) {
        lc_ip_format(&ip, buf, sizeof(buf));
        json_array_append_new(n < count ? masters : nodes, json_string(buf));
        ip = lc_ip_prev(ip);
    }
}

/* The cluster's Kubernetes API: over https when localcloud has it, since
 * Kubernetes clients send their bearer token only over TLS. */
static char *api_url(struct lc_request *req, json_t *cl)
{
    const char *base = lc_server_tls_base_url(req->srv);
    return sf_asprintf("%s/k8s/%s", base ? base : lc_server_base_url(req->srv),
                       lc_ci_str(cl, "uuid"));
}

static json_t *cluster_view(struct lc_request *req, json_t *stored, long long now)
{
    json_t *cl = lc_ci_settled(stored, now);
    json_t *v = json_object();
    for (size_t i = 0; view_keys[i]; i++) {
        json_t *m = json_object_get(cl, view_keys[i]);
        json_object_set(v, view_keys[i], m ? m : json_null());
    }
    const char *state = lc_ci_cluster_state(cl);
    json_object_set_new(v, "status", json_string(state));
    json_object_set_new(v, "new_status", json_string(state));
    const char *reason = NULL;
    if (strcmp(state, "PROVISIONING") == 0)
        reason = "the cluster is being created";
    else if (strcmp(state, "RECONCILING") == 0)
        reason = "the cluster is being changed";
    else if (strcmp(state, "DELETING") == 0)
        reason = "the cluster is being deleted";
    else if (strcmp(state, "ERROR") == 0)
        reason = lc_ci_str(cl, "status_reason");
    json_object_set_new(v, "status_reason", reason ? json_string(reason) : json_null());
    json_t *masters = json_array(), *nodes = json_array();
    if (strcmp(state, "PROVISIONING") != 0) {
        char *url = api_url(req, cl);
        json_object_set_new(v, "api_address", json_string(url));
        free(url);
        addresses(req, cl, now, masters, nodes);
    } else {
        json_object_set_new(v, "api_address", json_null());
    }
    json_object_set_new(v, "master_addresses", masters);
    json_object_set_new(v, "node_addresses", nodes);
    json_object_set_new(v, "discovery_url", json_null());
    json_object_set_new(v, "ingress_floating_ip", json_null());
    lc_ci_view_common(req, v, cl, "clusters");
    json_decref(cl);
    return v;
}

void lc_ci_list_clusters(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    long long now = lc_now_ms();
    json_t *all = lc_store_sorted(lc_ci_store(req), LC_CI_API, "clusters");
    json_t *out = json_array();
    size_t i;
    json_t *cl;
    json_array_foreach(all, i, cl)
    {
        if (lc_req_owns(req, cl))
            json_array_append_new(out, cluster_view(req, cl, now));
    }
    json_decref(all);
    lc_resp_json(resp, 200, json_pack("{s:o}", "clusters", out));
}

void lc_ci_get_cluster(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *cl = lc_ci_find_cluster(req, resp, lc_req_param(req, "id"));
    if (cl)
        lc_resp_json(resp, 200, cluster_view(req, cl, lc_now_ms()));
}

/* ---------- create ---------- */

static bool keypair_exists(struct lc_request *req, const char *name)
{
    const char *id;
    json_t *kp;
    json_object_foreach(lc_store_kind(lc_ci_store(req), "compute", "keypairs"), id, kp)
    {
        if (strcmp(lc_ci_str(kp, "name"), name) == 0 &&
            strcmp(lc_ci_str(kp, "user_id"), req->user_id) == 0)
            return true;
    }
    return false;
}

/* The template from cluster_template_id and / or version; NULL after failing c. */
static const struct lc_ci_template *read_template(struct lc_check *c, json_t *body)
{
    const char *tid = lc_get_string(c, body, NULL, "cluster_template_id", 0);
    const char *ver = lc_get_string(c, body, NULL, "version", 0);
    if (c->failed)
        return NULL;
    const struct lc_ci_template *t = NULL, *tv = NULL;
    if (tid && !(t = lc_ci_template_find(tid))) {
        lc_check_fail(c, "cluster_template_id", "cluster_template_id: no cluster template %s "
                      "(GET /clustertemplates lists them)", tid);
        return NULL;
    }
    if (ver && !(tv = lc_ci_template_find(ver))) {
        lc_check_fail(c, "version", "version: Kubernetes %s is not offered; expected "
                      LC_CI_VERSIONS, ver);
        return NULL;
    }
    if (!t && !tv) {
        lc_check_fail(c, "cluster_template_id", "cluster_template_id: a value is required (or a "
                      "Kubernetes version in version)");
        return NULL;
    }
    if (t && tv && t != tv) {
        lc_check_fail(c, "version", "version: %s does not match cluster_template_id %s (Kubernetes "
                      "%s)", ver, tid, t->version);
        return NULL;
    }
    return t ? t : tv;
}

/* The network and subnet, which must be the project's, the subnet on the network. */
static void check_network(struct lc_check *c, struct lc_request *req, const char *net_id,
                          const char *sub_id)
{
    if (c->failed)
        return;
    struct lc_store *st = lc_ci_store(req);
    json_t *net = lc_store_get(st, "network", "networks", net_id);
    json_t *sub = lc_store_get(st, "network", "subnets", sub_id);
    if (!lc_req_owns(req, net))
        lc_check_fail(c, "network_id", "network_id: network %s not found", net_id);
    else if (!lc_req_owns(req, sub))
        lc_check_fail(c, "subnet_id", "subnet_id: subnet %s not found", sub_id);
    else if (strcmp(lc_ci_str(sub, "network_id"), net_id) != 0)
        lc_check_fail(c, "subnet_id", "subnet_id: subnet %s is not on network %s", sub_id, net_id);
}

/* Another cluster of the project, not being deleted, has the name. */
static bool name_taken(struct lc_request *req, const char *name)
{
    const char *id;
    json_t *o;
    json_object_foreach(lc_store_kind(lc_ci_store(req), LC_CI_API, "clusters"), id, o)
    {
        if (lc_req_owns(req, o) && strcmp(lc_ci_str(o, "name"), name) == 0 &&
            !json_object_get(o, "delete_at_ms"))
            return true;
    }
    return false;
}

/* The failure "on" for the cluster: the transition's target becomes ERROR
 * with the reason; *set (may be NULL) is dropped, since the change did not
 * happen. The target to use. */
static const char *failure_target(struct lc_request *req, json_t *cl, const char *on,
                                  const char *target, json_t **set)
{
    char *reason = lc_faults_failure(lc_server_faults(req->srv), "cluster", lc_ci_str(cl, "name"),
                                     on);
    if (!reason)
        return target;
    json_decref(*set);
    *set = json_pack("{s:s}", "status_reason", reason);
    free(reason);
    return "ERROR";
}

void lc_ci_create_cluster(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    lc_check_known(&c, body, NULL, create_keys, "unknown member of a cluster");
    const char *name = lc_get_string(&c, body, NULL, "name", LC_REQUIRED);
    if (!c.failed && !valid_name(name))
        lc_check_fail(&c, "name", "name: expected a letter then letters, digits, _ . or -");
    const struct lc_ci_template *t = c.failed ? NULL : read_template(&c, body);
    long long masters = lc_get_int(&c, body, NULL, "master_count", 1, 1, 5);
    if (!c.failed && masters % 2 == 0)
        lc_check_fail(&c, "master_count", "master_count: expected 1, 3 or 5");
    const char *mf = lc_get_string(&c, body, NULL, "master_flavor_id", 0);
    const char *mf2 = lc_get_string(&c, body, NULL, "master_flavor", 0);
    if (!c.failed && mf && mf2 && strcmp(mf, mf2) != 0)
        lc_check_fail(&c, "master_flavor", "master_flavor: give master_flavor_id or master_flavor, "
                      "not two different flavors");
    if (!mf)
        mf = mf2;
    const char *flavor = lc_ci_default_flavor();
    if (!c.failed && mf && !(flavor = lc_compute_flavor_id(mf)))
        lc_check_fail(&c, "master_flavor_id", "master_flavor_id: no flavor %s (GET "
                      "/compute/v2.1/flavors lists them)", mf);
    const char *net_id = lc_get_string(&c, body, NULL, "network_id", LC_REQUIRED);
    const char *sub_id = lc_get_string(&c, body, NULL, "subnet_id", LC_REQUIRED);
    const char *keypair = lc_get_string(&c, body, NULL, "keypair", 0);
    json_t *labels = lc_get_object(&c, body, NULL, "labels", 0);
    lc_check_string_map(&c, labels, "labels", MAX_LABELS);
    bool fip = lc_get_bool(&c, body, NULL, "floating_ip_enabled", false);
    const char *pods = lc_get_string(&c, body, NULL, "pods_network_cidr", 0);
    const char *az = lc_get_string(&c, body, NULL, "availability_zone", 0);
    json_t *azs = lc_get_string_list(&c, body, NULL, "availability_zones", 0);
    const char *type = lc_get_string(&c, body, NULL, "cluster_type", 0);
    if (!c.failed && type && strcmp(type, "standard") != 0 && strcmp(type, "regional") != 0)
        lc_check_fail(&c, "cluster_type", "cluster_type: expected standard or regional");
    json_t *sps = json_object_get(body, "security_policy_sync_enabled");
    bool sync = sps && !json_is_null(sps) && lc_ci_flag(&c, sps, "security_policy_sync_enabled");
    const char *ext_net = lc_get_string(&c, body, NULL, "external_network_id", 0);
    const char *dns = lc_get_string(&c, body, NULL, "dns_domain", 0);
    json_t *insecure = lc_get_string_list(&c, body, NULL, "insecure_registries", 0);
    const char *strs[] = {"api_lb_vip", "api_lb_fip", "loadbalancer_subnet_id",
                          "registry_auth_password"};
    const char *strv[4];
    for (size_t i = 0; i < 4; i++)
        strv[i] = lc_get_string(&c, body, NULL, strs[i], 0);
    struct lc_cidr cidr;
    const char *why;
    if (!c.failed && pods && lc_cidr_parse(pods, &cidr, &why) < 0)
        lc_check_fail(&c, "pods_network_cidr", "pods_network_cidr: %s", why);
    check_network(&c, req, net_id, sub_id);
    if (!c.failed && keypair && !keypair_exists(req, keypair))
        lc_check_fail(&c, "keypair", "keypair: no key pair %s (import it with POST "
                      "/compute/v2.1/os-keypairs)", keypair);
    if (!c.failed && name_taken(req, name)) {
        lc_error(req, resp, 409, NULL, "A cluster named %s already exists in project %s", name,
                 req->project_id);
        c.failed = true;
    }
    if (c.failed) {
        json_decref(body);
        return;
    }
    long long now = lc_now_ms();
    char ts[48];
    lc_format_time(now, false, ts, sizeof(ts));
    char *id = sf_uuid(), *stack = sf_uuid(), *token = sf_random_hex(32);
    json_t *cl = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:b, s:s, s:s, s:s, s:o, "
        "s:s, s:s, s:s, s:s, s:I}",
        "uuid", id, "name", name, "project_id", req->project_id, "user_id", req->user_id,
        "cluster_template_id", t->uuid, "version", t->version, "master_count", (json_int_t)masters,
        "master_flavor_id", flavor, "network_id", net_id, "subnet_id", sub_id, "keypair",
        keypair ? json_string(keypair) : json_null(), "labels",
        labels ? json_deep_copy(labels) : json_object(), "floating_ip_enabled", fip,
        "pods_network_cidr", pods ? pods : "10.100.0.0/16", "availability_zone", az ? az : "nova",
        "dns_domain", dns ? dns : "cluster.local", "insecure_registries",
        insecure ? json_deep_copy(insecure) : json_array(), "stack_id", stack, "kube_token", token,
        "created_at", ts, "updated_at", ts, "created_ms", (json_int_t)now);
    for (size_t i = 0; i < 4; i++)
        json_object_set_new(cl, strs[i], strv[i] ? json_string(strv[i]) : json_null());
    json_object_set_new(cl, "cluster_type", json_string(type ? type : "standard"));
    json_object_set_new(cl, "availability_zones",
                        azs ? json_deep_copy(azs) : json_pack("[s]", az ? az : "nova"));
    json_object_set_new(cl, "security_policy_sync_enabled", json_boolean(sync));
    json_object_set_new(cl, "external_network_id", ext_net ? json_string(ext_net) : json_null());
    json_t *set = NULL;
    const char *target = failure_target(req, cl, "create", "RUNNING", &set);
    lc_ci_transition(cl, "PROVISIONING", target, set, now, lc_server_options(req->srv)->delay_ms);
    if (lc_store_put(lc_ci_store(req), LC_CI_API, "clusters", id, cl) < 0)
        lc_error(req, resp, 500, NULL, "Could not save cluster %s", id);
    else
        lc_resp_json(resp, 202, json_pack("{s:s}", "uuid", id));
    json_decref(cl);
    json_decref(body);
    free(id);
    free(stack);
    free(token);
}

/* ---------- change ---------- */

/* "/labels/a~1b" -> "a/b" (RFC 6901); caller frees. */
static char *pointer_token(const char *s)
{
    struct sf_buf b = {0};
    for (; *s; s++) {
        if (s[0] == '~' && s[1] == '1')
            sf_buf_add(&b, "/", 1), s++;
        else if (s[0] == '~' && s[1] == '0')
            sf_buf_add(&b, "~", 1), s++;
        else
            sf_buf_add(&b, s, 1);
    }
    return sf_buf_take(&b);
}

/* Applies one patch operation to the labels (a map being built). */
static void patch_labels(struct lc_check *c, json_t *labels, const struct lc_ci_op *op, size_t i)
{
    char field[40];
    snprintf(field, sizeof(field), "patch[%zu]", i);
    bool remove = strcmp(op->op, "remove") == 0;
    if (strcmp(op->path, "/labels") == 0) {
        if (!remove && !json_is_object(op->value)) {
            lc_check_fail(c, field, "%s.value: /labels takes an object of strings", field);
            return;
        }
        lc_check_string_map(c, remove ? NULL : op->value, "labels", MAX_LABELS);
        if (!c->failed) {
            json_object_clear(labels);
            if (!remove)
                json_object_update(labels, op->value);
        }
        return;
    }
    char *key = pointer_token(op->path + strlen("/labels/"));
    if (!*key || strlen(key) > 255)
        lc_check_fail(c, field, "%s.path: label keys must be 1 to 255 characters", field);
    else if (remove && !json_object_get(labels, key))
        lc_check_fail(c, field, "%s.path: there is no label %s to remove", field, key);
    else if (remove)
        json_object_del(labels, key);
    else if (!json_is_string(op->value) || json_string_length(op->value) > 255)
        lc_check_fail(c, field, "%s.value: expected a string of at most 255 characters", field);
    else
        json_object_set(labels, key, op->value);
    free(key);
}

void lc_ci_patch_cluster(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *stored = lc_ci_find_cluster(req, resp, lc_req_param(req, "id"));
    if (!stored)
        return;
    json_t *list = lc_ci_patch_list(req, resp);
    if (!list)
        return;
    long long now = lc_now_ms();
    json_t *cl = lc_ci_settled(stored, now);
    if (strcmp(lc_ci_cluster_state(cl), "DELETING") == 0) {
        lc_error(req, resp, 409, NULL, "Cluster %s is being deleted; it cannot be changed",
                 lc_ci_str(cl, "uuid"));
        json_decref(cl);
        json_decref(list);
        return;
    }
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *labels = json_deep_copy(json_object_get(cl, "labels"));
    json_t *sync = json_object_get(cl, "security_policy_sync_enabled");
    bool sync_on = json_is_true(sync);
    for (size_t i = 0; i < json_array_size(list) && !c.failed; i++) {
        struct lc_ci_op op;
        if (lc_ci_patch_op(&c, list, i, &op) < 0)
            break;
        if (strcmp(op.path, "/labels") == 0 || strncmp(op.path, "/labels/", 8) == 0) {
            patch_labels(&c, labels, &op, i);
        } else if (strcmp(op.path, "/security_policy_sync_enabled") == 0) {
            char field[64];
            snprintf(field, sizeof(field), "patch[%zu].value", i);
            sync_on = strcmp(op.op, "remove") != 0 && lc_ci_flag(&c, op.value, field);
        } else {
            lc_check_fail(&c, "path", "patch[%zu].path: %s cannot be changed; expected /labels, "
                          "/labels/KEY or /security_policy_sync_enabled", i, op.path);
        }
    }
    lc_check_string_map(&c, labels, "labels", MAX_LABELS);
    if (!c.failed) {
        /* from the stored object: a transition under way goes on */
        json_t *upd = json_deep_copy(stored);
        json_object_set(upd, "labels", labels);
        json_object_set_new(upd, "security_policy_sync_enabled", json_boolean(sync_on));
        lc_ci_touch(upd, now);
        if (lc_store_put(lc_ci_store(req), LC_CI_API, "clusters", lc_ci_str(cl, "uuid"), upd) < 0)
            lc_error(req, resp, 500, NULL, "Could not save the cluster");
        else
            lc_resp_json(resp, 202, json_pack("{s:O}", "uuid", json_object_get(cl, "uuid")));
        json_decref(upd);
    }
    json_decref(labels);
    json_decref(cl);
    json_decref(list);
}

void lc_ci_delete_cluster(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *cl = lc_ci_find_cluster(req, resp, lc_req_param(req, "id"));
    if (!cl)
        return;
    if (json_object_get(cl, "delete_at_ms")) {
        lc_resp_empty(resp, 204);
        return;
    }
    long delay = lc_server_options(req->srv)->delay_ms;
    long long now = lc_now_ms();
    const char *id = lc_ci_str(cl, "uuid");
    int rc;
    /* the node groups follow: they show DELETING while the cluster does,
     * and the sweep purges them once it is gone */
    if (delay > 0) {
        json_t *upd = lc_ci_settled(cl, now);
        json_object_del(upd, "pending");
        json_object_set_new(upd, "delete_at_ms", json_integer(now + delay));
        lc_ci_touch(upd, now);
        rc = lc_store_put(lc_ci_store(req), LC_CI_API, "clusters", id, upd);
        json_decref(upd);
    } else {
        rc = lc_store_del(lc_ci_store(req), LC_CI_API, "clusters", id);
    }
    if (rc < 0)
        lc_error(req, resp, 500, NULL, "Could not delete the cluster");
    else
        lc_resp_empty(resp, 204);
}

/* ---------- actions ---------- */

/* turn_off_cluster and turn_on_cluster go straight from RUNNING to
 * SHUTOFF and back after --delay-ms, as in VK Cloud (the cluster keeps its
 * old state meanwhile); resize_masters is RECONCILING, then RUNNING with
 * the new flavor. */
void lc_ci_cluster_action(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *stored = lc_ci_find_cluster(req, resp, lc_req_param(req, "id"));
    if (!stored)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    static const char *const keys[] = {"action", "payload", NULL};
    struct lc_check c;
    lc_check_init(&c, req, resp);
    lc_check_known(&c, body, NULL, keys, "unknown member; expected action and payload");
    const char *action = lc_get_string(&c, body, NULL, "action", LC_REQUIRED);
    const char *need = "RUNNING", *during = "RECONCILING", *target = "RUNNING";
    json_t *set = NULL;
    if (c.failed) {
    } else if (strcmp(action, "turn_off_cluster") == 0) {
        during = "RUNNING";
        target = "SHUTOFF";
    } else if (strcmp(action, "turn_on_cluster") == 0) {
        need = during = "SHUTOFF";
    } else if (strcmp(action, "resize_masters") == 0) {
        static const char *const pkeys[] = {"flavor", NULL};
        json_t *payload = lc_get_object(&c, body, NULL, "payload", LC_REQUIRED);
        lc_check_known(&c, payload, "payload", pkeys, "unknown member; expected flavor");
        const char *f = lc_get_string(&c, payload, "payload", "flavor", LC_REQUIRED);
        const char *fid = NULL;
        if (!c.failed && !(fid = lc_compute_flavor_id(f)))
            lc_check_fail(&c, "payload.flavor", "payload.flavor: no flavor %s (GET "
                          "/compute/v2.1/flavors lists them)", f);
        if (fid)
            set = json_pack("{s:s}", "master_flavor_id", fid);
    } else {
        lc_check_fail(&c, "action", "action: unknown action \"%s\"; expected turn_off_cluster, "
                      "turn_on_cluster or resize_masters", action);
    }
    if (!c.failed && strcmp(action, "resize_masters") != 0 && json_object_get(body, "payload") &&
        !json_is_null(json_object_get(body, "payload")))
        lc_check_fail(&c, "payload", "payload: %s takes no payload", action);
    long long now = lc_now_ms();
    json_t *cl = c.failed ? NULL : lc_ci_settled(stored, now);
    if (c.failed || lc_ci_cluster_ready(req, resp, cl, need, action) < 0) {
        json_decref(set);
    } else {
        target = failure_target(req, cl, "update", target, &set);
        lc_ci_transition(cl, during, target, set, now, lc_server_options(req->srv)->delay_ms);
        lc_ci_touch(cl, now);
        if (lc_store_put(lc_ci_store(req), LC_CI_API, "clusters", lc_ci_str(cl, "uuid"), cl) < 0)
            lc_error(req, resp, 500, NULL, "Could not save the cluster");
        else
            lc_resp_json(resp, 202, json_pack("{s:O}", "uuid", json_object_get(cl, "uuid")));
    }
    json_decref(cl);
    json_decref(body);
}

/* "1.31" -> 1031, for ordering versions; -1 when it is not MAJOR.MINOR. */
static long version_rank(const char *v)
{
    int major, minor;
    if (sscanf(v, "%d.%d", &major, &minor) != 2)
        return -1;
    return major * 1000L + minor;
}

/* The upgrade action: RECONCILING, then RUNNING on the newer template. A
 * template that is not newer than the cluster's is refused with 409. */
void lc_ci_upgrade_cluster(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *stored = lc_ci_find_cluster(req, resp, lc_req_param(req, "id"));
    if (!stored)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    static const char *const keys[] = {"cluster_template_id", "rolling_enabled", NULL};
    struct lc_check c;
    lc_check_init(&c, req, resp);
    lc_check_known(&c, body, NULL, keys, "unknown member; expected cluster_template_id and "
                   "rolling_enabled");
    const char *tid = lc_get_string(&c, body, NULL, "cluster_template_id", LC_REQUIRED);
    json_t *rolling = json_object_get(body, "rolling_enabled");
    if (rolling && !json_is_null(rolling))
        lc_ci_flag(&c, rolling, "rolling_enabled");
    const struct lc_ci_template *t = NULL;
    if (!c.failed && !(t = lc_ci_template_find(tid)))
        lc_check_fail(&c, "cluster_template_id", "cluster_template_id: no cluster template %s "
                      "(GET /clustertemplates lists them)", tid);
    long long now = lc_now_ms();
    json_t *cl = c.failed ? NULL : lc_ci_settled(stored, now);
    if (c.failed || lc_ci_cluster_ready(req, resp, cl, "RUNNING", "upgrade") < 0) {
    } else if (version_rank(t->version) <= version_rank(lc_ci_str(cl, "version"))) {
        lc_error(req, resp, 409, NULL, "Cannot upgrade cluster %s from Kubernetes %s to %s: "
                 "only an upgrade to a newer version is possible", lc_ci_str(cl, "uuid"),
                 lc_ci_str(cl, "version"), t->version);
    } else {
        json_t *set = json_pack("{s:s, s:s}", "cluster_template_id", t->uuid, "version", t->version);
        const char *target = failure_target(req, cl, "update", "RUNNING", &set);
        lc_ci_transition(cl, "RECONCILING", target, set, now,
                         lc_server_options(req->srv)->delay_ms);
        lc_ci_touch(cl, now);
        if (lc_store_put(lc_ci_store(req), LC_CI_API, "clusters", lc_ci_str(cl, "uuid"), cl) < 0)
            lc_error(req, resp, 500, NULL, "Could not save the cluster");
        else
            lc_resp_json(resp, 202, json_pack("{s:O}", "uuid", json_object_get(cl, "uuid")));
    }
    json_decref(cl);
    json_decref(body);
}

/* ---------- kubeconfig ---------- */

/* The kubeconfig in YAML's flow style (JSON is YAML 1.2, and kubectl reads
 * it): the server is this localcloud's /k8s/<uuid>, the user the cluster's
 * bearer token. */
void lc_ci_kube_config(struct lc_request *req, struct lc_response *resp)
{
    if (!lc_ci_begin(req, resp))
        return;
    json_t *stored = lc_ci_find_cluster(req, resp, lc_req_param(req, "id"));
    if (!stored)
        return;
    json_t *cl = lc_ci_settled(stored, lc_now_ms());
    const char *state = lc_ci_cluster_state(cl);
    if (strcmp(state, "PROVISIONING") == 0 || strcmp(state, "DELETING") == 0) {
        lc_error(req, resp, 409, NULL, "Cluster %s is %s; its kubeconfig is not available",
                 lc_ci_str(cl, "uuid"), state);
        json_decref(cl);
        return;
    }
    const char *name = lc_ci_str(cl, "name");
    char *user = sf_asprintf("%s-admin", name);
    char *ctx = sf_asprintf("%s@%s", user, name);
    char *url = api_url(req, cl);
    json_t *kc = json_pack("{s:s, s:s, s:[{s:s, s:{s:s}}], s:[{s:s, s:{s:s}}], "
                           "s:[{s:s, s:{s:s, s:s}}], s:s, s:{}}",
                           "apiVersion", "v1", "kind", "Config", "clusters", "name", name,
                           "cluster", "server", url, "users", "name", user, "user", "token",
                           lc_ci_str(cl, "kube_token"), "contexts", "name", ctx, "context",
                           "cluster", name, "user", user, "current-context", ctx, "preferences");
    const char *cert = lc_server_tls_cert(req->srv);
    if (cert) {
        char *ca = sf_base64_encode((const unsigned char *)cert, strlen(cert));
        json_t *c0 = json_object_get(json_array_get(json_object_get(kc, "clusters"), 0), "cluster");
        json_object_set_new(c0, "certificate-authority-data", json_string(ca));
        free(ca);
    }
    char *text = json_dumps(kc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    lc_resp_bytes(resp, 200, "text/yaml", text, strlen(text));
    free(text);
    json_decref(kc);
    free(url);
    free(ctx);
    free(user);
    json_decref(cl);
}

/*
 * localcloud's Kubernetes API (see k8s.h): one per container-infra
 * cluster, under /k8s/<cluster uuid>. This file registers the API, checks
 * the cluster (gone: 404; not running: 503), authenticates the bearer
 * token (k8s_auth.c) and authorizes the request (k8s_rbac.c), routes
 * the path (discovery, /openapi/v3, resource paths), holds the type table
 * and hands out resourceVersions.
 *
 * Objects are stored as API "kubernetes", kind "<cluster>.<plural>[.<group>]",
 * id "<namespace>/<name>" or "<name>", so they appear in the inventory and
 * survive a restart like everything else.
 */
#include "k8s.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "containerinfra.h"
#include "store.h"
#include "util.h"

/* ---------- the built-in types ---------- */

static const struct lc_k8s_type builtins[] = {
    {.group = "", .version = "v1", .plural = "namespaces", .singular = "namespace", .kind = "Namespace",
     .list_kind = "NamespaceList", .short_names = {"ns"}, .categories = {NULL}, .namespaced = false,
     .has_status = true},
    {.group = "", .version = "v1", .plural = "configmaps", .singular = "configmap", .kind = "ConfigMap",
     .list_kind = "ConfigMapList", .short_names = {"cm"}, .categories = {NULL}, .namespaced = true,
     .has_status = false},
    {.group = "", .version = "v1", .plural = "secrets", .singular = "secret", .kind = "Secret",
     .list_kind = "SecretList", .short_names = {NULL}, .categories = {NULL}, .namespaced = true,
     .has_status = false},
    {.group = "", .version = "v1", .plural = "services", .singular = "service", .kind = "Service",
     .list_kind = "ServiceList", .short_names = {"svc"}, .categories = {"all"}, .namespaced = true,
     .has_status = true},
    {.group = "", .version = "v1", .plural = "serviceaccounts", .singular = "serviceaccount", .kind = "ServiceAccount",
     .list_kind = "ServiceAccountList", .short_names = {"sa"}, .categories = {NULL}, .namespaced = true,
     .has_status = false},
    {.group = "", .version = "v1", .plural = "pods", .singular = "pod", .kind = "Pod",
     .list_kind = "PodList", .short_names = {"po"}, .categories = {"all"}, .namespaced = true,
     .has_status = true},
    {.group = "", .version = "v1", .plural = "events", .singular = "event", .kind = "Event",
     .list_kind = "EventList", .short_names = {"ev"}, .categories = {NULL}, .namespaced = true,
     .has_status = false},
    {.group = "apps", .version = "v1", .plural = "deployments", .singular = "deployment", .kind = "Deployment",
     .list_kind = "DeploymentList", .short_names = {"deploy"}, .categories = {"all"}, .namespaced = true,
     .has_status = true, .has_scale = true},
    {.group = "apps", .version = "v1", .plural = "statefulsets", .singular = "statefulset", .kind = "StatefulSet",
     .list_kind = "StatefulSetList", .short_names = {"sts"}, .categories = {"all"}, .namespaced = true,
     .has_status = true, .has_scale = true},
    {.group = "apps", .version = "v1", .plural = "daemonsets", .singular = "daemonset", .kind = "DaemonSet",
     .list_kind = "DaemonSetList", .short_names = {"ds"}, .categories = {"all"}, .namespaced = true,
     .has_status = true},
    {.group = "batch", .version = "v1", .plural = "jobs", .singular = "job", .kind = "Job",
     .list_kind = "JobList", .short_names = {NULL}, .categories = {"all"}, .namespaced = true,
     .has_status = true},
    {.group = "batch", .version = "v1", .plural = "cronjobs", .singular = "cronjob", .kind = "CronJob",
     .list_kind = "CronJobList", .short_names = {"cj"}, .categories = {"all"}, .namespaced = true,
     .has_status = true},
    {.group = "rbac.authorization.k8s.io", .version = "v1", .plural = "roles", .singular = "role", .kind = "Role",
     .list_kind = "RoleList", .short_names = {NULL}, .categories = {NULL}, .namespaced = true,
     .has_status = false},
    {.group = "rbac.authorization.k8s.io", .version = "v1", .plural = "rolebindings", .singular = "rolebinding", .kind = "RoleBinding",
     .list_kind = "RoleBindingList", .short_names = {NULL}, .categories = {NULL}, .namespaced = true,
     .has_status = false},
    {.group = "rbac.authorization.k8s.io", .version = "v1", .plural = "clusterroles", .singular = "clusterrole", .kind = "ClusterRole",
     .list_kind = "ClusterRoleList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .has_status = false},
    {.group = "rbac.authorization.k8s.io", .version = "v1", .plural = "clusterrolebindings", .singular = "clusterrolebinding", .kind = "ClusterRoleBinding",
     .list_kind = "ClusterRoleBindingList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .has_status = false},
    {.group = "authentication.k8s.io", .version = "v1", .plural = "tokenreviews", .singular = "tokenreview", .kind = "TokenReview",
     .list_kind = "TokenReviewList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .review = true},
    {.group = "authorization.k8s.io", .version = "v1", .plural = "subjectaccessreviews", .singular = "subjectaccessreview", .kind = "SubjectAccessReview",
     .list_kind = "SubjectAccessReviewList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .review = true},
    {.group = "authorization.k8s.io", .version = "v1", .plural = "selfsubjectaccessreviews", .singular = "selfsubjectaccessreview", .kind = "SelfSubjectAccessReview",
     .list_kind = "SelfSubjectAccessReviewList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .review = true},
    {.group = "authorization.k8s.io", .version = "v1", .plural = "selfsubjectrulesreviews", .singular = "selfsubjectrulesreview", .kind = "SelfSubjectRulesReview",
     .list_kind = "SelfSubjectRulesReviewList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .review = true},
    {.group = "apiextensions.k8s.io", .version = "v1", .plural = "customresourcedefinitions", .singular = "customresourcedefinition", .kind = "CustomResourceDefinition",
     .list_kind = "CustomResourceDefinitionList", .short_names = {"crd", "crds"}, .categories = {NULL}, .namespaced = false,
     .has_status = true},
    {.group = "admissionregistration.k8s.io", .version = "v1", .plural = "mutatingwebhookconfigurations", .singular = "mutatingwebhookconfiguration", .kind = "MutatingWebhookConfiguration",
     .list_kind = "MutatingWebhookConfigurationList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .has_status = false},
    {.group = "admissionregistration.k8s.io", .version = "v1", .plural = "validatingwebhookconfigurations", .singular = "validatingwebhookconfiguration", .kind = "ValidatingWebhookConfiguration",
     .list_kind = "ValidatingWebhookConfigurationList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .has_status = false},
    {.group = "policy", .version = "v1", .plural = "poddisruptionbudgets", .singular = "poddisruptionbudget", .kind = "PodDisruptionBudget",
     .list_kind = "PodDisruptionBudgetList", .short_names = {"pdb"}, .categories = {NULL}, .namespaced = true,
     .has_status = true},
    {.group = "networking.k8s.io", .version = "v1", .plural = "ingresses", .singular = "ingress", .kind = "Ingress",
     .list_kind = "IngressList", .short_names = {"ing"}, .categories = {NULL}, .namespaced = true,
     .has_status = true},
    {.group = "networking.k8s.io", .version = "v1", .plural = "ingressclasses", .singular = "ingressclass", .kind = "IngressClass",
     .list_kind = "IngressClassList", .short_names = {NULL}, .categories = {NULL}, .namespaced = false,
     .has_status = false},
    {.group = "networking.k8s.io", .version = "v1", .plural = "networkpolicies", .singular = "networkpolicy", .kind = "NetworkPolicy",
     .list_kind = "NetworkPolicyList", .short_names = {"netpol"}, .categories = {NULL}, .namespaced = true,
     .has_status = false},
    {.group = "coordination.k8s.io", .version = "v1", .plural = "leases", .singular = "lease", .kind = "Lease",
     .list_kind = "LeaseList", .short_names = {NULL}, .categories = {NULL}, .namespaced = true,
     .has_status = false},
};
#define NBUILTIN (sizeof(builtins) / sizeof(builtins[0]))

const char *lc_k8s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool crd_established(const json_t *crd)
{
    size_t i;
    json_t *cond;
    json_array_foreach(json_object_get(json_object_get(crd, "status"), "conditions"), i, cond)
    {
        const char *type = lc_k8s_str(cond, "type"), *status = lc_k8s_str(cond, "status");
        if (type && status && strcmp(type, "Established") == 0 && strcmp(status, "True") == 0)
            return true;
    }
    return false;
}

static void add_crd_types(const json_t *crd, struct lc_k8s_types *out)
{
    json_t *spec = json_object_get(crd, "spec");
    json_t *names = json_object_get(spec, "names");
    json_t *meta = json_object_get(crd, "metadata");
    if (json_object_get(meta, "deletionTimestamp") || !crd_established(crd))
        return;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "versions"), i, v)
    {
        if (!json_is_true(json_object_get(v, "served")))
            continue;
        out->v = sf_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
        struct lc_k8s_type *t = &out->v[out->n++];
        memset(t, 0, sizeof(*t));
        t->group = lc_k8s_str(spec, "group");
        t->version = lc_k8s_str(v, "name");
        t->plural = lc_k8s_str(names, "plural");
        t->singular = lc_k8s_str(names, "singular");
        t->kind = lc_k8s_str(names, "kind");
        t->list_kind = lc_k8s_str(names, "listKind");
        size_t j;
        json_t *s;
        json_array_foreach(json_object_get(names, "shortNames"), j, s)
            if (j < 7)
                t->short_names[j] = json_string_value(s);
        json_array_foreach(json_object_get(names, "categories"), j, s)
            if (j < 3)
                t->categories[j] = json_string_value(s);
        const char *scope = lc_k8s_str(spec, "scope");
        t->namespaced = scope && strcmp(scope, "Namespaced") == 0;
        t->has_status = json_object_get(json_object_get(v, "subresources"), "status") != NULL;
        t->schema = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
        t->crd = lc_k8s_str(meta, "name");
        json_t *cols = json_object_get(v, "additionalPrinterColumns");
        t->columns = json_array_size(cols) ? cols : NULL;
    }
}

/* Fills out with every type the cluster serves (its Established CRDs read
 * from the store). Free with types_free. */
static void types_of(struct lc_store *st, const char *cluster, struct lc_k8s_types *out)
{
    out->n = NBUILTIN;
    out->v = sf_xmalloc(NBUILTIN * sizeof(*out->v));
    memcpy(out->v, builtins, sizeof(builtins));
    char *key = lc_k8s_kindkey(cluster, lc_k8s_builtin("customresourcedefinitions"));
    const char *id;
    json_t *crd;
    json_object_foreach(lc_store_kind(st, LC_K8S_API, key), id, crd)
        add_crd_types(crd, out);
    free(key);
}

const struct lc_k8s_type *lc_k8s_builtin(const char *plural)
{
    for (size_t i = 0; i < NBUILTIN; i++)
        if (strcmp(builtins[i].plural, plural) == 0)
            return &builtins[i];
    abort(); /* only called with the table's own names */
}

static void types_free(struct lc_k8s_types *t)
{
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* The type with that group, version and plural, or NULL. */
static const struct lc_k8s_type *type_find(const struct lc_k8s_types *t, const char *group,
                                           const char *version, const char *plural)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].group, group) == 0 && strcmp(t->v[i].version, version) == 0 &&
            strcmp(t->v[i].plural, plural) == 0)
            return &t->v[i];
    return NULL;
}

char *lc_k8s_api_version(const struct lc_k8s_type *t)
{
    return t->group[0] ? sf_asprintf("%s/%s", t->group, t->version) : sf_xstrdup(t->version);
}

char *lc_k8s_kindkey(const char *cluster, const struct lc_k8s_type *t)
{
    return t->group[0] ? sf_asprintf("%s.%s.%s", cluster, t->plural, t->group)
                       : sf_asprintf("%s.%s", cluster, t->plural);
}

char *lc_k8s_id(const char *ns, const char *name)
{
    return ns ? sf_asprintf("%s/%s", ns, name) : sf_xstrdup(name);
}

/* ---------- Status ---------- */

json_t *lc_k8s_status_body(unsigned code, const char *reason, json_t *details, const char *msg)
{
    json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion",
                           "v1", "metadata", "status", "Failure", "message", msg, "reason",
                           reason ? reason : "", "code", (int)code);
    if (details)
        json_object_set_new(st, "details", details);
    return st;
}

void lc_k8s_status(struct lc_response *resp, unsigned code, const char *reason, json_t *details,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    lc_resp_json(resp, code, lc_k8s_status_body(code, reason, details, msg));
    free(msg);
}

static const char *default_reason(unsigned code)
{
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 503: return "ServiceUnavailable";
    default: return code >= 500 ? "InternalError" : "";
    }
}

static void k8s_error(struct lc_response *resp, unsigned status, const char *type, const char *msg)
{
    lc_resp_json(resp, status, lc_k8s_status_body(status, type ? type : default_reason(status), NULL, msg));
}

/* ---------- resourceVersions and the write path ---------- */

int lc_k8s_commit(struct lc_k8s *k, const char *cluster, const char *kindkey,
                  const char *id_in, json_t *obj, const json_t *old)
{
    /* id may be the store's own key, gone once the object is deleted */
    char *id = sf_xstrdup(id_in);
    unsigned long long rv = k->rv + 1;
    char rvs[32];
    snprintf(rvs, sizeof(rvs), "%llu", rv);
    json_t *ev = obj ? obj : json_deep_copy(old);
    json_t *meta = json_object_get(ev, "metadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(ev, "metadata", meta);
    }
    json_object_set_new(meta, "resourceVersion", json_string(rvs));
    int rc = obj ? lc_store_put(lc_server_store(k->srv), LC_K8S_API, kindkey, id, obj)
                 : lc_store_del(lc_server_store(k->srv), LC_K8S_API, kindkey, id);
    if (rc == 0) {
        k->rv = rv;
        lc_k8s_log_event(k, cluster, kindkey, !obj ? "DELETED" : old ? "MODIFIED" : "ADDED", ev);
        lc_k8s_ctrl_note(k, kindkey, id, obj);
    }
    if (!obj)
        json_decref(ev);
    free(id);
    return rc;
}

/* Above every resourceVersion stored, and above every one given out before
 * a restart (deleted objects' included): the counter moves by one per
 * write, far slower than the microsecond clock it is seeded from. */
static void seed_rv(struct lc_k8s *k)
{
    unsigned long long max = (unsigned long long)lc_now_ms() * 1000;
    json_t *kinds = lc_store_api(lc_server_store(k->srv), LC_K8S_API);
    const char *kind, *id;
    json_t *objs, *o;
    json_object_foreach(kinds, kind, objs)
        json_object_foreach(objs, id, o)
        {
            const char *rv = lc_k8s_str(json_object_get(o, "metadata"), "resourceVersion");
            unsigned long long v = rv ? strtoull(rv, NULL, 10) : 0;
            if (v > max)
                max = v;
        }
    k->rv = max;
}

/* ---------- discovery ---------- */

static json_t *str_array(const char *const *v, size_t max)
{
    json_t *a = json_array();
    for (size_t i = 0; i < max && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void resource_list(struct lc_k8s_call *c, const char *group, const char *version)
{
    json_t *res = json_array();
    for (size_t i = 0; i < c->types.n; i++) {
        const struct lc_k8s_type *t = &c->types.v[i];
        if (strcmp(t->group, group) != 0 || strcmp(t->version, version) != 0)
            continue;
        json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:[ssssssss]}", "name", t->plural,
                              "singularName", t->singular, "namespaced", t->namespaced, "kind",
                              t->kind, "verbs", "create", "delete", "deletecollection", "get",
                              "list", "patch", "update", "watch");
        if (t->review)
            json_object_set_new(r, "verbs", json_pack("[s]", "create"));
        if (t->short_names[0])
            json_object_set_new(r, "shortNames", str_array(t->short_names, 8));
        if (t->categories[0])
            json_object_set_new(r, "categories", str_array(t->categories, 4));
        json_array_append_new(res, r);
        if (t->has_status) {
            char *name = sf_asprintf("%s/status", t->plural);
            json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, s:[sss]}", "name", name,
                                                 "singularName", "", "namespaced", t->namespaced,
                                                 "kind", t->kind, "verbs", "get", "patch",
                                                 "update"));
            free(name);
        }
        if (t->has_scale) {
            char *name = sf_asprintf("%s/scale", t->plural);
            json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:[sss]}", "name",
                                                 name, "singularName", "", "namespaced",
                                                 t->namespaced, "group", "autoscaling", "version",
                                                 "v1", "kind", "Scale", "verbs", "get", "patch",
                                                 "update"));
            free(name);
        }
    }
    if (json_array_size(res) == 0) {
        json_decref(res);
        lc_k8s_status(c->resp, 404, "NotFound", NULL, "the server could not find the requested resource");
        return;
    }
    char *gv = group[0] ? sf_asprintf("%s/%s", group, version) : sf_xstrdup(version);
    lc_resp_json(c->resp, 200, json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList",
                                         "apiVersion", "v1", "groupVersion", gv, "resources", res));
    free(gv);
}

/* The groups (other than core) in order of first appearance, with their
 * versions; the preferred version is the first one. */
static json_t *group_list(struct lc_k8s_call *c)
{
    json_t *groups = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; i < c->types.n; i++) {
        const struct lc_k8s_type *t = &c->types.v[i];
        if (!t->group[0])
            continue;
        json_t *g = json_object_get(seen, t->group);
        char *gv = lc_k8s_api_version(t);
        json_t *ver = json_pack("{s:s, s:s}", "groupVersion", gv, "version", t->version);
        free(gv);
        if (!g) {
            g = json_pack("{s:s, s:[], s:O}", "name", t->group, "versions", "preferredVersion", ver);
            json_object_set(seen, t->group, g);
            json_array_append_new(groups, g);
        }
        json_t *vs = json_object_get(g, "versions");
        bool have = false;
        size_t j;
        json_t *x;
        json_array_foreach(vs, j, x) have |= strcmp(lc_k8s_str(x, "version"), t->version) == 0;
        if (!have)
            json_array_append(vs, ver);
        json_decref(ver);
    }
    json_decref(seen);
    return groups;
}

static void discovery(struct lc_k8s_call *c, char **segs, size_t n)
{
    if (n == 1 && strcmp(segs[0], "api") == 0) {
        lc_resp_json(c->resp, 200,
                     json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions",
                               "v1", "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
                               "serverAddress", lc_server_address(c->req->srv)));
    } else if (n == 2 && strcmp(segs[0], "api") == 0) {
        resource_list(c, "", segs[1]);
    } else if (n == 1) {
        lc_resp_json(c->resp, 200, json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList",
                                             "apiVersion", "v1", "groups", group_list(c)));
    } else if (n == 2) {
        json_t *groups = group_list(c), *g, *found = NULL;
        size_t i;
        json_array_foreach(groups, i, g) if (strcmp(lc_k8s_str(g, "name"), segs[1]) == 0) found = g;
        if (found) {
            json_object_set_new(found, "kind", json_string("APIGroup"));
            json_object_set_new(found, "apiVersion", json_string("v1"));
            lc_resp_json(c->resp, 200, json_incref(found));
        } else {
            lc_k8s_status(c->resp, 404, "NotFound", NULL,
                          "the server could not find the requested resource");
        }
        json_decref(groups);
    } else {
        resource_list(c, segs[1], segs[2]);
    }
}

static void version_info(struct lc_k8s_call *c)
{
    const char *v = lc_k8s_str(c->cluster_obj, "version");
    int major = 1, minor = 31;
    if (v)
        sscanf(v, "%d.%d", &major, &minor);
    char git[32], mi[16], ma[16];
    snprintf(git, sizeof(git), "v%d.%d.0", major, minor);
    snprintf(ma, sizeof(ma), "%d", major);
    snprintf(mi, sizeof(mi), "%d", minor);
    lc_resp_json(c->resp, 200,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", ma, "minor",
                           mi, "gitVersion", git, "gitCommit", "localcloud", "gitTreeState",
                           "clean", "buildDate", "2024-01-01T00:00:00Z", "goVersion", "n/a",
                           "compiler", "n/a", "platform", "linux/amd64"));
}

/* ---------- routing ---------- */

static void split(const char *path, char ***segs, size_t *n)
{
    *segs = NULL;
    *n = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchrnul(p, '/');
        *segs = sf_xrealloc(*segs, (*n + 1) * sizeof(char *));
        (*segs)[(*n)++] = sf_xstrndup(p, (size_t)(e - p));
        p = e;
    }
}

/* Whether the cluster answers, else the answer: 404 once deleted, 503 when
 * not running (still provisioning, turned off, being deleted). */
static bool cluster_serves(struct lc_k8s_call *c)
{
    json_t *stored = lc_store_get(c->st, LC_CI_API, "clusters", c->cluster);
    if (!stored) {
        lc_k8s_status(c->resp, 404, "NotFound", NULL,
                      "the server could not find the requested resource (cluster %s is gone)",
                      c->cluster);
        return false;
    }
    c->cluster_obj = lc_ci_settled(stored, lc_now_ms());
    const char *state = lc_ci_cluster_state(c->cluster_obj);
    if (strcmp(state, "RUNNING") != 0 && strcmp(state, "RECONCILING") != 0) {
        lc_k8s_status(c->resp, 503, "ServiceUnavailable", NULL,
                      "the Kubernetes API of cluster %s is not available: the cluster is %s",
                      c->cluster, state);
        return false;
    }
    const char *auth = lc_req_header(c->req, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 ||
        lc_k8s_authenticate(c->st, c->cluster, c->cluster_obj, auth + 7, c->user) < 0) {
        lc_k8s_status(c->resp, 401, "Unauthorized", NULL, "Unauthorized");
        return false;
    }
    return true;
}

/* The RBAC verb of a request: by method, whether it names an object, and
 * ?watch. */
static const char *verb_of(const struct lc_request *req, bool named)
{
    const char *m = req->method;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        const char *w = lc_req_query(req, "watch");
        if (w && (strcmp(w, "true") == 0 || strcmp(w, "1") == 0))
            return "watch";
        return named ? "get" : "list";
    }
    if (strcmp(m, "POST") == 0)
        return "create";
    if (strcmp(m, "PUT") == 0)
        return "update";
    if (strcmp(m, "PATCH") == 0)
        return "patch";
    if (strcmp(m, "DELETE") == 0)
        return named ? "delete" : "deletecollection";
    return "unknown";
}

/* Whether the caller may make the request, else the 403 is written. */
static bool authorized(struct lc_k8s_call *c, const struct lc_k8s_attrs *a)
{
    if (lc_k8s_rbac_allowed(c->st, c->cluster, c->user, a))
        return true;
    lc_k8s_rbac_forbid(c->resp, c->user, a);
    return false;
}

/* segs after the group version: [namespaces/<ns>/]<plural>[/<name>[/<sub>]] */
static void resource(struct lc_k8s_call *c, const char *group, const char *version, char **s,
                     size_t n)
{
    if (n >= 3 && strcmp(s[0], "namespaces") == 0) {
        const struct lc_k8s_type *t = type_find(&c->types, group, version, s[2]);
        if (t && t->namespaced) {
            c->ns = s[1];
            s += 2;
            n -= 2;
        }
    }
    if (n == 0 || n > 3) {
        lc_k8s_status(c->resp, 404, "NotFound", NULL, "the server could not find the requested resource");
        return;
    }
    /* authorized before the type is looked up, as Kubernetes does: a
     * caller learns nothing of what it may not see */
    struct lc_k8s_attrs a = {.verb = verb_of(c->req, n >= 2), .group = group, .resource = s[0],
                             .sub = n >= 3 ? s[2] : NULL, .name = n >= 2 ? s[1] : NULL,
                             .ns = c->ns};
    if (!authorized(c, &a))
        return;
    c->t = type_find(&c->types, group, version, s[0]);
    if (!c->t) {
        lc_k8s_status(c->resp, 404, "NotFound", NULL,
                      "the server could not find the requested resource (%s %s)",
                      c->req->method, c->req->path);
        return;
    }
    c->name = n >= 2 ? s[1] : NULL;
    c->sub = n >= 3 ? s[2] : NULL;
    if (c->t->review) {
        lc_k8s_rbac_review(c, c->user);
        return;
    }
    if (c->sub && !(strcmp(c->sub, "status") == 0 && c->t->has_status) &&
        !(strcmp(c->sub, "scale") == 0 && c->t->has_scale)) {
        lc_k8s_status(c->resp, 404, "NotFound", NULL,
                      "the server could not find the requested resource");
        return;
    }
    c->kindkey = lc_k8s_kindkey(c->cluster, c->t);
    lc_k8s_serve_resource(c);
}

static void handle(struct lc_request *req, struct lc_response *resp)
{
    struct lc_k8s *k = req->ctx;
    struct lc_k8s_user user = {.name = NULL};
    struct lc_k8s_call c = {.req = req, .resp = resp, .k = k, .st = lc_server_store(req->srv),
                            .user = &user};
    c.cluster = lc_req_param(req, "cluster");
    if (!cluster_serves(&c)) {
        json_decref(c.cluster_obj);
        lc_k8s_user_free(&user);
        return;
    }
    lc_k8s_bootstrap(k, c.cluster);
    types_of(c.st, c.cluster, &c.types);
    char **s;
    size_t n;
    split(lc_req_param(req, "rest"), &s, &n);
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    bool resource_path = (n >= 3 && strcmp(s[0], "api") == 0) || (n >= 4 && strcmp(s[0], "apis") == 0);
    char *path = sf_xstrdup("");
    for (size_t i = 0; i < n; i++) {
        char *x = sf_asprintf("%s/%s", path, s[i]);
        free(path);
        path = x;
    }
    struct lc_k8s_attrs na = {.verb = verb_of(req, true), .path = n ? path : "/"};
    /* resource paths are authorized in resource(), once their parts are known */
    if (!resource_path && !authorized(&c, &na)) {
        /* answered: 403 */
    } else if (n == 1 && get && strcmp(s[0], "version") == 0) {
        version_info(&c);
    } else if (n == 1 && get &&
               (strcmp(s[0], "healthz") == 0 || strcmp(s[0], "livez") == 0 ||
                strcmp(s[0], "readyz") == 0)) {
        lc_resp_bytes(resp, 200, "text/plain", "ok", 2);
    } else if (n == 2 && get && strcmp(s[0], "openapi") == 0 && strcmp(s[1], "v2") == 0) {
        /* An empty OpenAPI v2 document: kubectl falls back to v2 for the
         * client-side validation of a kind not yet in the v3 index (a
         * custom resource applied together with its CRD, a v1 List) and
         * then finds nothing to check against, as it should. */
        lc_resp_bytes(resp, 200, "application/octet-stream", "", 0);
    } else if (n >= 2 && get && strcmp(s[0], "openapi") == 0 && strcmp(s[1], "v3") == 0) {
        char *gv = NULL;
        for (size_t i = 2; i < n; i++) {
            char *x = gv ? sf_asprintf("%s/%s", gv, s[i]) : sf_xstrdup(s[i]);
            free(gv);
            gv = x;
        }
        lc_k8s_openapi(req, resp, &c.types, gv);
        free(gv);
    } else if (get && ((n >= 1 && n <= 2 && strcmp(s[0], "api") == 0) ||
                       (n >= 1 && n <= 3 && strcmp(s[0], "apis") == 0))) {
        discovery(&c, s, n);
    } else if (n >= 3 && strcmp(s[0], "api") == 0) {
        resource(&c, "", s[1], s + 2, n - 2);
    } else if (n >= 4 && strcmp(s[0], "apis") == 0) {
        resource(&c, s[1], s[2], s + 3, n - 3);
    } else {
        lc_k8s_status(resp, 404, "NotFound", NULL, "the server could not find the requested resource");
    }
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
    free(path);
    free(c.kindkey);
    types_free(&c.types);
    json_decref(c.cluster_obj);
    lc_k8s_user_free(&user);
}

/* ---------- registration ---------- */

static void free_ctx(void *ctx)
{
    struct lc_k8s *k = ctx;
    lc_k8s_ctrl_stop(k);
    lc_k8s_events_free(k);
    json_decref(k->due);
    free(k);
}

static const struct lc_route routes[] = {
    {"*", "/{cluster}/{rest+}", handle, LC_ROUTE_PUBLIC},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api api = {
    .name = LC_K8S_API,
    .prefix = LC_K8S_PREFIX,
    .routes = routes,
    .error = k8s_error,
    .max_body = 3 * 1024 * 1024, /* what the API server accepts */
    .free_ctx = free_ctx,
};

int lc_k8s_register(struct lc_server *srv)
{
    struct lc_k8s *k = sf_xcalloc(1, sizeof(*k));
    k->srv = srv;
    k->delay_ms = lc_server_options(srv)->delay_ms;
    k->due = json_object();
    seed_rv(k);
    lc_k8s_events_init(k);
    if (lc_server_add_api(srv, &api, k) < 0) {
        free_ctx(k);
        return -1;
    }
    lc_k8s_ctrl_start(k);
    return 0;
}

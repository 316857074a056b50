/*
 * Authorization for localcloud's Kubernetes API (see k8s.h): RBAC as
 * Kubernetes evaluates it, and the review APIs answered from the same
 * rules.
 *
 * A user in group system:masters (the cluster's admin) may do everything.
 * Every authenticated user may read the discovery and health paths (what
 * Kubernetes' system:discovery and system:public-info-viewer allow) and
 * create SelfSubjectAccessReviews and SelfSubjectRulesReviews (as
 * system:basic-user). Anything else needs a rule of a Role bound by a
 * RoleBinding of the request's namespace, or of a ClusterRole bound by a
 * ClusterRoleBinding (everywhere) or by a RoleBinding (in its namespace).
 *
 * TokenReview (authentication.k8s.io/v1) and SubjectAccessReview,
 * SelfSubjectAccessReview, SelfSubjectRulesReview (authorization.k8s.io/v1)
 * are create-only types: k8s.c routes them here after checking that the
 * caller may create them, and nothing is stored.
 */
#include "k8s.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

/* ---------- rules ---------- */

/* Whether the string array arr holds s, or "*" when star. */
static bool has(const json_t *arr, const char *s, bool star)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        const char *v = json_string_value(x);
        if (v && (strcmp(v, s) == 0 || (star && strcmp(v, "*") == 0)))
            return true;
    }
    return false;
}

/* A rule's resources entry against "res" or "res/sub": the same name, "*"
 * (everything, subresources included, as in Kubernetes), "* /sub" (that
 * subresource of every resource, written without the space) or "res/ *". */
static bool resource_matches(const char *rule, const char *res, const char *sub)
{
    if (strcmp(rule, "*") == 0)
        return true;
    const char *slash = strchr(rule, '/');
    if (!sub)
        return !slash && strcmp(rule, res) == 0;
    if (!slash)
        return false;
    size_t rl = (size_t)(slash - rule);
    bool res_ok = (rl == 1 && rule[0] == '*') || (strlen(res) == rl && strncmp(rule, res, rl) == 0);
    return res_ok && (strcmp(slash + 1, "*") == 0 || strcmp(slash + 1, sub) == 0);
}

bool lc_k8s_rbac_rule_allows(const json_t *rule, const struct lc_k8s_attrs *a)
{
    if (!has(json_object_get(rule, "verbs"), a->verb, true))
        return false;
    if (!a->resource) {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(rule, "nonResourceURLs"), i, x)
        {
            const char *u = json_string_value(x);
            size_t n = u ? strlen(u) : 0;
            if (!u)
                continue;
            if (strcmp(u, a->path) == 0 || strcmp(u, "*") == 0 ||
                (n > 0 && u[n - 1] == '*' && strncmp(u, a->path, n - 1) == 0))
                return true;
        }
        return false;
    }
    if (!has(json_object_get(rule, "apiGroups"), a->group, true))
        return false;
    bool res = false;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(rule, "resources"), i, x)
    {
        const char *r = json_string_value(x);
        res |= r && resource_matches(r, a->resource, a->sub);
    }
    if (!res)
        return false;
    const json_t *names = json_object_get(rule, "resourceNames");
    if (json_array_size(names) == 0)
        return true;
    return a->name && has(names, a->name, false);
}

/* ---------- bindings ---------- */

static bool in_groups(const struct lc_k8s_user *u, const char *g)
{
    return has(u->groups, g, false);
}

static bool subject_is(const json_t *subj, const struct lc_k8s_user *u, const char *binding_ns)
{
    const char *kind = lc_k8s_str(subj, "kind"), *name = lc_k8s_str(subj, "name");
    if (!kind || !name)
        return false;
    if (strcmp(kind, "User") == 0)
        return strcmp(name, u->name) == 0;
    if (strcmp(kind, "Group") == 0)
        return in_groups(u, name);
    if (strcmp(kind, "ServiceAccount") == 0) {
        const char *ns = lc_k8s_str(subj, "namespace");
        if (!ns)
            ns = binding_ns;
        if (!ns)
            return false;
        char *want = sf_asprintf("system:serviceaccount:%s:%s", ns, name);
        bool is = strcmp(want, u->name) == 0;
        free(want);
        return is;
    }
    return false;
}

static bool binds(const json_t *binding, const struct lc_k8s_user *u, const char *ns)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(binding, "subjects"), i, s) if (subject_is(s, u, ns)) return true;
    return false;
}

static json_t *stored(struct lc_store *st, const char *cluster, const char *plural, const char *ns,
                      const char *name)
{
    char *kk = lc_k8s_kindkey(cluster, lc_k8s_builtin(plural));
    char *id = lc_k8s_id(ns, name);
    json_t *o = lc_store_get(st, LC_K8S_API, kk, id);
    free(kk);
    free(id);
    return o;
}

/* The role a binding refers to (a Role of ns, or a ClusterRole), or NULL. */
static json_t *role_of(struct lc_store *st, const char *cluster, const json_t *binding,
                       const char *ns)
{
    const json_t *ref = json_object_get(binding, "roleRef");
    const char *kind = lc_k8s_str(ref, "kind"), *name = lc_k8s_str(ref, "name");
    if (!kind || !name)
        return NULL;
    if (strcmp(kind, "ClusterRole") == 0)
        return stored(st, cluster, "clusterroles", NULL, name);
    if (strcmp(kind, "Role") == 0 && ns)
        return stored(st, cluster, "roles", ns, name);
    return NULL;
}

/* Calls fn on every rule bound to u that applies in ns (NULL: cluster
 * scope only); stops when fn returns true. */
typedef bool (*rule_fn)(const json_t *rule, void *cls);
static bool each_rule(struct lc_store *st, const char *cluster, const struct lc_k8s_user *u,
                      const char *ns, rule_fn fn, void *cls)
{
    const char *plurals[] = {"clusterrolebindings", "rolebindings"};
    for (size_t p = 0; p < 2; p++) {
        char *kk = lc_k8s_kindkey(cluster, lc_k8s_builtin(plurals[p]));
        const char *id;
        json_t *b;
        bool done = false;
        json_object_foreach(lc_store_kind(st, LC_K8S_API, kk), id, b)
        {
            const char *bns = lc_k8s_str(json_object_get(b, "metadata"), "namespace");
            if (p == 1 && (!ns || !bns || strcmp(bns, ns) != 0))
                continue;
            if (!binds(b, u, bns))
                continue;
            json_t *role = role_of(st, cluster, b, bns);
            size_t i;
            json_t *r;
            json_array_foreach(json_object_get(role, "rules"), i, r) if (!done && fn(r, cls)) done = true;
            if (done)
                break;
        }
        free(kk);
        if (done)
            return true;
    }
    return false;
}

static bool rule_allows_cb(const json_t *rule, void *cls)
{
    return lc_k8s_rbac_rule_allows(rule, cls);
}

/* What every authenticated user may do without a binding. */
static bool basic(const struct lc_k8s_attrs *a)
{
    if (!a->resource) {
        static const char *const exact[] = {"/api", "/apis", "/version", "/openapi", "/healthz",
                                            "/livez", "/readyz"};
        static const char *const prefix[] = {"/api/", "/apis/", "/openapi/", "/healthz/",
                                             "/livez/", "/readyz/"};
        if (strcmp(a->verb, "get") != 0)
            return false;
        for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
            if (strcmp(a->path, exact[i]) == 0)
                return true;
        for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
            if (strncmp(a->path, prefix[i], strlen(prefix[i])) == 0)
                return true;
        return false;
    }
    return strcmp(a->verb, "create") == 0 && strcmp(a->group, "authorization.k8s.io") == 0 &&
           !a->sub &&
           (strcmp(a->resource, "selfsubjectaccessreviews") == 0 ||
            strcmp(a->resource, "selfsubjectrulesreviews") == 0);
}

bool lc_k8s_rbac_allowed(struct lc_store *st, const char *cluster, const struct lc_k8s_user *u,
                         const struct lc_k8s_attrs *a)
{
    if (in_groups(u, "system:masters"))
        return true;
    if (in_groups(u, "system:authenticated") && basic(a))
        return true;
    return each_rule(st, cluster, u, a->resource ? a->ns : NULL, rule_allows_cb, (void *)a);
}

/* Kubernetes' wording of a refusal (without the leading "<what> is"). */
static char *refusal(const struct lc_k8s_user *u, const struct lc_k8s_attrs *a)
{
    if (!a->resource)
        return sf_asprintf("User \"%s\" cannot %s path \"%s\"", u->name, a->verb, a->path);
    char *res = a->sub ? sf_asprintf("%s/%s", a->resource, a->sub) : sf_xstrdup(a->resource);
    char *scope = a->ns ? sf_asprintf("in the namespace \"%s\"", a->ns) : sf_xstrdup("at the cluster scope");
    char *msg = sf_asprintf("User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s", u->name,
                            a->verb, res, a->group, scope);
    free(res);
    free(scope);
    return msg;
}

void lc_k8s_rbac_forbid(struct lc_response *resp, const struct lc_k8s_user *u,
                        const struct lc_k8s_attrs *a)
{
    char *why = refusal(u, a);
    if (!a->resource) {
        lc_k8s_status(resp, 403, "Forbidden", json_object(), "forbidden: %s", why);
    } else {
        /* the group-qualified resource: "pods", "sparkapplications.sparkoperator.k8s.io" */
        char *what = a->group[0] ? sf_asprintf("%s.%s", a->resource, a->group) : sf_xstrdup(a->resource);
        json_t *details = json_pack("{s:s, s:s}", "group", a->group, "kind", a->resource);
        if (a->name)
            json_object_set_new(details, "name", json_string(a->name));
        if (a->name)
            lc_k8s_status(resp, 403, "Forbidden", details, "%s \"%s\" is forbidden: %s", what,
                          a->name, why);
        else
            lc_k8s_status(resp, 403, "Forbidden", details, "%s is forbidden: %s", what, why);
        free(what);
    }
    free(why);
}

/* ---------- the reviews ---------- */

/* The attributes of a SubjectAccessReviewSpec (pointers into spec), or
 * false when it has neither kind of attributes. */
static bool spec_attrs(const json_t *spec, struct lc_k8s_attrs *a)
{
    const json_t *ra = json_object_get(spec, "resourceAttributes");
    const json_t *na = json_object_get(spec, "nonResourceAttributes");
    if (json_is_object(ra)) {
        const char *ns = lc_k8s_str(ra, "namespace"), *sub = lc_k8s_str(ra, "subresource");
        const char *name = lc_k8s_str(ra, "name"), *group = lc_k8s_str(ra, "group");
        const char *verb = lc_k8s_str(ra, "verb"), *res = lc_k8s_str(ra, "resource");
        *a = (struct lc_k8s_attrs){.verb = verb ? verb : "", .group = group ? group : "",
                                   .resource = res ? res : "", .sub = sub && *sub ? sub : NULL,
                                   .name = name && *name ? name : NULL,
                                   .ns = ns && *ns ? ns : NULL};
        return true;
    }
    if (json_is_object(na)) {
        const char *verb = lc_k8s_str(na, "verb"), *path = lc_k8s_str(na, "path");
        *a = (struct lc_k8s_attrs){.verb = verb ? verb : "", .path = path ? path : ""};
        return true;
    }
    return false;
}

static void bad_request(struct lc_k8s_call *c, const char *kind, const char *msg)
{
    lc_k8s_status(c->resp, 400, "BadRequest", NULL, "%s is invalid: %s", kind, msg);
}

/* The review's answer: the request's object with status set. */
static void answer(struct lc_k8s_call *c, json_t *body, json_t *status)
{
    json_t *m = json_object_get(body, "metadata");
    if (!json_is_object(m))
        json_object_set_new(body, "metadata", json_object());
    json_object_set_new(json_object_get(body, "metadata"), "creationTimestamp", json_null());
    json_object_set_new(body, "status", status);
    lc_resp_json(c->resp, 201, json_incref(body));
}

static json_t *access_status(struct lc_k8s_call *c, const struct lc_k8s_user *who,
                             const struct lc_k8s_attrs *a)
{
    bool ok = lc_k8s_rbac_allowed(c->st, c->cluster, who, a);
    json_t *st = json_pack("{s:b}", "allowed", ok);
    if (ok && !in_groups(who, "system:masters"))
        json_object_set_new(st, "reason", json_string("RBAC: allowed by a role binding"));
    return st;
}

static void token_review(struct lc_k8s_call *c, json_t *body)
{
    const char *token = lc_k8s_str(json_object_get(body, "spec"), "token");
    struct lc_k8s_user who;
    json_t *st;
    if (token && lc_k8s_authenticate(c->st, c->cluster, c->cluster_obj, token, &who) == 0) {
        st = json_pack("{s:b, s:{s:s, s:s, s:O}}", "authenticated", 1, "user", "username", who.name,
                       "uid", who.uid, "groups", who.groups);
        lc_k8s_user_free(&who);
    } else {
        st = json_pack("{s:b, s:{}, s:s}", "authenticated", 0, "user", "error",
                       "invalid bearer token");
    }
    json_t *aud = json_object_get(json_object_get(body, "spec"), "audiences");
    if (json_is_array(aud))
        json_object_set(st, "audiences", aud);
    answer(c, body, st);
}

static void subject_access_review(struct lc_k8s_call *c, json_t *body)
{
    const json_t *spec = json_object_get(body, "spec");
    struct lc_k8s_attrs a;
    const char *user = lc_k8s_str(spec, "user");
    const json_t *groups = json_object_get(spec, "groups");
    if (!spec_attrs(spec, &a)) {
        bad_request(c, "SubjectAccessReview", "spec: exactly one of nonResourceAttributes or resourceAttributes must be specified");
        return;
    }
    if ((!user || !*user) && json_array_size(groups) == 0) {
        bad_request(c, "SubjectAccessReview", "spec.user: at least one of user or group must be specified");
        return;
    }
    struct lc_k8s_user who = {.name = sf_xstrdup(user ? user : ""),
                              .uid = sf_xstrdup(lc_k8s_str(spec, "uid") ? lc_k8s_str(spec, "uid") : ""),
                              .groups = json_is_array(groups) ? json_deep_copy(groups) : json_array()};
    answer(c, body, access_status(c, &who, &a));
    lc_k8s_user_free(&who);
}

static void self_access_review(struct lc_k8s_call *c, json_t *body, const struct lc_k8s_user *u)
{
    struct lc_k8s_attrs a;
    if (!spec_attrs(json_object_get(body, "spec"), &a)) {
        bad_request(c, "SelfSubjectAccessReview", "spec: exactly one of nonResourceAttributes or resourceAttributes must be specified");
        return;
    }
    answer(c, body, access_status(c, u, &a));
}

struct rules_acc {
    json_t *resource, *nonresource;
};

static bool collect(const json_t *rule, void *cls)
{
    struct rules_acc *acc = cls;
    json_t *r = json_object();
    const char *keys[] = {"verbs", "apiGroups", "resources", "resourceNames"};
    bool nonres = json_array_size(json_object_get(rule, "nonResourceURLs")) > 0;
    if (nonres) {
        json_object_set(r, "verbs", json_object_get(rule, "verbs"));
        json_object_set(r, "nonResourceURLs", json_object_get(rule, "nonResourceURLs"));
    } else {
        for (size_t i = 0; i < 4; i++)
            if (json_object_get(rule, keys[i]))
                json_object_set(r, keys[i], json_object_get(rule, keys[i]));
    }
    json_array_append_new(nonres ? acc->nonresource : acc->resource, r);
    return false;
}

static void self_rules_review(struct lc_k8s_call *c, json_t *body, const struct lc_k8s_user *u)
{
    const char *ns = lc_k8s_str(json_object_get(body, "spec"), "namespace");
    struct rules_acc acc = {.resource = json_array(), .nonresource = json_array()};
    if (in_groups(u, "system:masters")) {
        json_array_append_new(acc.resource, json_pack("{s:[s], s:[s], s:[s]}", "verbs", "*",
                                                      "apiGroups", "*", "resources", "*"));
        json_array_append_new(acc.nonresource,
                              json_pack("{s:[s], s:[s]}", "verbs", "*", "nonResourceURLs", "*"));
    } else {
        json_array_append_new(acc.resource,
                              json_pack("{s:[s], s:[s], s:[ss]}", "verbs", "create", "apiGroups",
                                        "authorization.k8s.io", "resources",
                                        "selfsubjectaccessreviews", "selfsubjectrulesreviews"));
        json_array_append_new(acc.nonresource,
                              json_pack("{s:[s], s:[ssssssssssss]}", "verbs", "get",
                                        "nonResourceURLs", "/api", "/api/*", "/apis", "/apis/*",
                                        "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                                        "/version", "/version/", "/healthz/*"));
        each_rule(c->st, c->cluster, u, ns && *ns ? ns : NULL, collect, &acc);
    }
    answer(c, body, json_pack("{s:o, s:o, s:b}", "resourceRules", acc.resource,
                              "nonResourceRules", acc.nonresource, "incomplete", 0));
}

void lc_k8s_rbac_review(struct lc_k8s_call *c, const struct lc_k8s_user *u)
{
    if (strcmp(c->req->method, "POST") != 0 || c->name) {
        lc_k8s_status(c->resp, 405, "MethodNotAllowed", NULL,
                      "the server does not allow this method on the requested resource");
        return;
    }
    const char *ct = lc_req_header(c->req, "Content-Type");
    json_t *body;
    if (ct && strncmp(ct, "application/vnd.kubernetes.protobuf", 35) == 0) {
        char err[256];
        body = lc_k8s_proto_decode(c->req->body, c->req->body_len, err, sizeof(err));
        if (!body) {
            lc_k8s_status(c->resp, 415, "UnsupportedMediaType", NULL, "%s", err);
            return;
        }
    } else {
        body = json_loadb(c->req->body, c->req->body_len, 0, NULL);
    }
    const char *kind = lc_k8s_str(body, "kind");
    if (!json_is_object(body) || (kind && strcmp(kind, c->t->kind) != 0)) {
        lc_k8s_status(c->resp, 400, "BadRequest", NULL, "the body must be a %s (JSON)", c->t->kind);
        json_decref(body);
        return;
    }
    const char *p = c->t->plural;
    if (strcmp(p, "tokenreviews") == 0)
        token_review(c, body);
    else if (strcmp(p, "subjectaccessreviews") == 0)
        subject_access_review(c, body);
    else if (strcmp(p, "selfsubjectaccessreviews") == 0)
        self_access_review(c, body, u);
    else
        self_rules_review(c, body, u);
    json_decref(body);
}

/*
 * The order keys of Kubernetes objects (provider.h's order hook): what an
 * object makes exist for others and what it needs first, so that a
 * description orders namespaces before what lives in them, CRDs before
 * their custom resources, service accounts and roles before what names
 * them, without depends_on. Every kubernetes type builds the object it
 * applies and hands it to sf_kube_order_keys; the keys are
 *
 *   kubernetes:Namespace/NAME
 *   kubernetes:CRD/KIND.GROUP          (a CRD's spec.names.kind and spec.group,
 *                                        which a custom object's kind and
 *                                        apiVersion give)
 *   kubernetes:ServiceAccount/NS/NAME
 *   kubernetes:Role/NS/NAME
 *   kubernetes:ClusterRole/NAME
 *
 * The hook runs on values evaluated with every resource unknown: a part
 * that is unknown gives no key (a reference the user wrote orders that
 * resource anyway). The keys carry no cluster: two clusters in one
 * description with the same namespace names are ordered together, which
 * costs parallelism, never correctness.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "util.h"

static const char *sget(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void add(json_t *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(json_t *arr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vasprintf(fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (!strcmp(json_string_value(json_array_get(arr, i)), s)) {
            free(s);
            return;
        }
    json_array_append_new(arr, json_string(s));
    free(s);
}

/* Kinds that have no namespace (their metadata.namespace, if any, is an
 * error the apply reports; it must not order them). */
static bool cluster_scoped(const char *group, const char *kind)
{
    static const char *const core[] = {"Namespace", "Node", "PersistentVolume", NULL};
    static const char *const named[] = {
        "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "StorageClass",
        "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
        "APIService", "IngressClass", "RuntimeClass", "CSIDriver", NULL};
    for (size_t i = 0; !*group && core[i]; i++)
        if (!strcmp(kind, core[i]))
            return true;
    for (size_t i = 0; *group && named[i]; i++)
        if (!strcmp(kind, named[i]))
            return true;
    return false;
}

/* The API groups Kubernetes serves itself (the others with a dot are
 * custom resources' groups; sparkoperator.k8s.io is one). */
static bool builtin_group(const char *group)
{
    static const char *const groups[] = {
        "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io",
        "authentication.k8s.io", "authorization.k8s.io", "certificates.k8s.io",
        "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
        "flowcontrol.apiserver.k8s.io", "internal.apiserver.k8s.io", "networking.k8s.io",
        "node.k8s.io", "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io",
        "storage.k8s.io", "storagemigration.k8s.io", NULL};
    if (!strchr(group, '.'))
        return true;
    for (size_t i = 0; groups[i]; i++)
        if (!strcmp(group, groups[i]))
            return true;
    return false;
}

/* A pod spec's service account (serviceAccountName, else the older
 * serviceAccount). */
static void pod_needs(const json_t *pod_spec, const char *ns, json_t *needs)
{
    const char *sa = sget(pod_spec, "serviceAccountName");
    if (!sa)
        sa = sget(pod_spec, "serviceAccount");
    if (sa && *sa)
        add(needs, "kubernetes:ServiceAccount/%s/%s", ns, sa);
}

int sf_kube_order_keys(const json_t *obj, json_t *provides, json_t *needs)
{
    const char *av = sget(obj, "apiVersion"), *kind = sget(obj, "kind");
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = sget(meta, "name");
    if (!av || !kind)
        return 0;
    const char *slash = strchr(av, '/');
    char *group = slash ? sf_xstrndup(av, (size_t)(slash - av)) : sf_xstrdup("");
    const json_t *nsv = json_object_get(meta, "namespace");
    bool unknown_ns = nsv && !json_is_null(nsv) && !json_is_string(nsv);
    const char *ns = json_is_string(nsv) && *json_string_value(nsv) ? json_string_value(nsv)
                                                                    : "default";
    bool scoped = cluster_scoped(group, kind);
    const json_t *spec = json_object_get(obj, "spec");

    if (!scoped && !unknown_ns && json_is_string(nsv))
        add(needs, "kubernetes:Namespace/%s", ns);
    if (!builtin_group(group))
        add(needs, "kubernetes:CRD/%s.%s", kind, group);

    if (!*group && !strcmp(kind, "Namespace") && name) {
        add(provides, "kubernetes:Namespace/%s", name);
    } else if (!strcmp(group, "apiextensions.k8s.io") && !strcmp(kind, "CustomResourceDefinition")) {
        const char *g = sget(spec, "group");
        const char *k = sget(json_object_get(spec, "names"), "kind");
        if (g && k)
            add(provides, "kubernetes:CRD/%s.%s", k, g);
    } else if (!*group && !strcmp(kind, "ServiceAccount") && name && !unknown_ns) {
        add(provides, "kubernetes:ServiceAccount/%s/%s", ns, name);
    } else if (!strcmp(group, "rbac.authorization.k8s.io") && name && !unknown_ns &&
               (!strcmp(kind, "Role") || !strcmp(kind, "ClusterRole"))) {
        if (!strcmp(kind, "Role"))
            add(provides, "kubernetes:Role/%s/%s", ns, name);
        else
            add(provides, "kubernetes:ClusterRole/%s", name);
    } else if (!strcmp(group, "rbac.authorization.k8s.io") &&
               (!strcmp(kind, "RoleBinding") || !strcmp(kind, "ClusterRoleBinding"))) {
        const json_t *ref = json_object_get(obj, "roleRef");
        const char *rk = sget(ref, "kind"), *rn = sget(ref, "name");
        if (rk && rn && !strcmp(rk, "ClusterRole"))
            add(needs, "kubernetes:ClusterRole/%s", rn);
        else if (rk && rn && !strcmp(rk, "Role") && !strcmp(kind, "RoleBinding") && !unknown_ns)
            add(needs, "kubernetes:Role/%s/%s", ns, rn);
        const json_t *subjects = json_object_get(obj, "subjects");
        for (size_t i = 0; i < json_array_size(subjects); i++) {
            const json_t *s = json_array_get(subjects, i);
            const char *sk = sget(s, "kind"), *sn = sget(s, "name");
            const json_t *sns = json_object_get(s, "namespace");
            if (!sk || !sn || strcmp(sk, "ServiceAccount") != 0)
                continue;
            if (json_is_string(sns))
                add(needs, "kubernetes:ServiceAccount/%s/%s", json_string_value(sns), sn);
            else if (!sns && !unknown_ns && !strcmp(kind, "RoleBinding"))
                add(needs, "kubernetes:ServiceAccount/%s/%s", ns, sn);
        }
    }

    /* A pod, or a pod template of a workload or a CronJob's job. */
    if (!unknown_ns && !scoped) {
        if (!*group && !strcmp(kind, "Pod"))
            pod_needs(spec, ns, needs);
        const json_t *tpl = json_object_get(json_object_get(spec, "template"), "spec");
        if (json_is_object(tpl))
            pod_needs(tpl, ns, needs);
        const json_t *jt = json_object_get(json_object_get(spec, "jobTemplate"), "spec");
        const json_t *jtpl = json_object_get(json_object_get(jt, "template"), "spec");
        if (json_is_object(jtpl))
            pod_needs(jtpl, ns, needs);
    }
    free(group);
    return 0;
}

int sf_kube_order(struct sf_call *c, const json_t *desired, json_t *provides, json_t *needs)
{
    (void)c;
    const json_t *m = json_object_get(desired, "manifest");
    return json_is_object(m) ? sf_kube_order_keys(m, provides, needs) : 0;
}

int sf_kube_order_namespaced(struct sf_call *c, const json_t *desired, json_t *provides,
                             json_t *needs)
{
    (void)c;
    (void)provides;
    /* Secrets and config maps provide nothing others order by; they need
     * their namespace. Default: "default", which nothing creates. */
    json_t *m = json_pack("{s:s, s:s, s:{s:O, s:O}}", "apiVersion", "v1", "kind", "ConfigMap",
                          "metadata", "name", json_object_get(desired, "name"), "namespace",
                          json_object_get(desired, "namespace"));
    json_t *none = json_array();
    int rc = m ? sf_kube_order_keys(m, none, needs) : 0;
    json_decref(none);
    json_decref(m);
    return rc;
}

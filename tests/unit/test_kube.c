/*
 * Unit tests of the kubernetes provider's pure parts (providers/kubernetes):
 * kubeconfig parsing and its refusals, the projection of a live object onto
 * the fields sparkform manages, import ids, discovery lookups and API
 * paths, the message of an apply conflict, the order keys and the edges
 * the engine draws from them, and kubernetes_secret /
 * kubernetes_config_map: bodies (base64), what read makes of a live
 * object, the plan step's file loading and refusals. The provider against
 * a cluster: tests/e2e/k8s_manifest.sh and k8s_objects.sh (localcloud and
 * the real kubectl).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "config.h"
#include "graph.h"
#include "kubernetes/kube.h"
#include "run.h"
#include "util.h"
#include "value.h"

/* "-----BEGIN CERTIFICATE-----\nX\n" and "s3cret-key" in base64. */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClgK"
#define KEY_B64 "czNjcmV0LWtleQ=="

static int parse(const char *text, struct sf_kube_config *k, char **why)
{
    return sf_kube_config_parse(text, strlen(text), "/nonexistent", k, why);
}

START_TEST(kubeconfig_token_json)
{
    const char *t = "{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"current-context\":\"b\","
                    "\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"x\",\"user\":\"x\"}},"
                    "{\"name\":\"b\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
                    "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://h:6443/k8s/1/\","
                    "\"certificate-authority-data\":\"" CA_B64 "\"}}],"
                    "\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"tok-123\"}}]}";
    struct sf_kube_config k;
    char *why = NULL;
    ck_assert_int_eq(parse(t, &k, &why), 0);
    ck_assert_str_eq(k.context, "b");
    ck_assert_str_eq(k.server, "https://h:6443/k8s/1");
    ck_assert_str_eq(k.ca_pem, "-----BEGIN CERTIFICATE-----\nX\n");
    ck_assert_str_eq(k.token, "tok-123");
    ck_assert_ptr_null(k.cert_pem);
    sf_kube_config_free(&k);
}
END_TEST

START_TEST(kubeconfig_client_cert_yaml)
{
    const char *t = "apiVersion: v1\nkind: Config\ncontexts:\n- name: only\n  context: {cluster: c, user: u}\n"
                    "clusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1\n"
                    "users:\n- name: u\n  user:\n    client-certificate-data: " CA_B64 "\n"
                    "    client-key-data: " KEY_B64 "\n";
    struct sf_kube_config k;
    char *why = NULL;
    ck_assert_int_eq(parse(t, &k, &why), 0);
    ck_assert_str_eq(k.context, "only");
    ck_assert_ptr_null(k.ca_pem);
    ck_assert_ptr_null(k.token);
    ck_assert_str_eq(k.key_pem, "s3cret-key");
    sf_kube_config_free(&k);
}
END_TEST

/* Each refused kubeconfig, with a word its reason must have; no reason
 * may quote the token. */
START_TEST(kubeconfig_errors)
{
    static const char *const cases[][2] = {
        {"{", "not valid YAML"},
        {"{\"current-context\":\"z\",\"contexts\":[]}", "\"z\" is not among"},
        {"{\"contexts\":[]}", "no current-context"},
        {"{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\","
         "\"user\":\"u\"}}],\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"http://h\"}}],"
         "\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"SECRET\"}}]}",
         "not an https://"},
        {"{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\","
         "\"user\":\"u\"}}],\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://h\","
         "\"insecure-skip-tls-verify\":true}}],\"users\":[{\"name\":\"u\",\"user\":{\"token\":"
         "\"SECRET\"}}]}",
         "insecure-skip-tls-verify"},
        {"{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\","
         "\"user\":\"u\"}}],\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://h\","
         "\"certificate-authority-data\":\"%%%\"}}],\"users\":[]}",
         "not base64"},
        {"{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\","
         "\"user\":\"u\"}}],\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://h\"}}],"
         "\"users\":[{\"name\":\"u\",\"user\":{\"client-key-data\":\"" KEY_B64 "\"}}]}",
         "without its certificate"},
        {"{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\","
         "\"user\":\"u\"}}],\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://h\"}}],"
         "\"users\":[{\"name\":\"u\",\"user\":{\"exec\":{\"command\":\"x\"}}}]}",
         "exec"},
        {"{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\","
         "\"user\":\"u\"}}],\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://h\"}}],"
         "\"users\":[{\"name\":\"u\",\"user\":{}}]}",
         "no credentials"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sf_kube_config k;
        char *why = NULL;
        ck_assert_int_eq(parse(cases[i][0], &k, &why), -1);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, cases[i][1]), "case %zu: \"%s\" lacks \"%s\"", i, why,
                      cases[i][1]);
        ck_assert_ptr_null(strstr(why, "SECRET"));
        free(why);
    }
}
END_TEST

/* Defaults and fields of other managers are left out; a field sparkform
 * applied before but another manager took over shows its live value. */
START_TEST(projection)
{
    json_t *live = json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
        "\"metadata\":{\"name\":\"web\",\"namespace\":\"apps\",\"uid\":\"u1\","
        "\"labels\":{\"a\":\"1\",\"theirs\":\"x\"},\"resourceVersion\":\"9\"},"
        "\"spec\":{\"replicas\":3,\"strategy\":{\"type\":\"RollingUpdate\"},"
        "\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:2\","
        "\"imagePullPolicy\":\"Always\",\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]},"
        "{\"name\":\"sidecar\",\"image\":\"s\"}]}}},"
        "\"status\":{\"readyReplicas\":3}}",
        0, NULL);
    json_t *fields = json_loads(
        "{\"f:metadata\":{\"f:labels\":{\"f:a\":{}}},\"f:spec\":{\"f:template\":{\"f:spec\":"
        "{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},\"f:name\":{},"
        "\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},"
        "\"f:containerPort\":{}}}}}}}}}",
        0, NULL);
    /* The last apply had replicas 2 and the image: another manager took
     * them over (they are not in fields any more). */
    json_t *prior = json_loads(
        "{\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","
        "\"image\":\"nginx:1\"}]}}}}",
        0, NULL);
    ck_assert_ptr_nonnull(live);
    ck_assert_ptr_nonnull(fields);
    json_t *got = sf_kube_project(live, fields, prior, true);
    json_t *want = json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
        "\"metadata\":{\"name\":\"web\",\"namespace\":\"apps\",\"labels\":{\"a\":\"1\"}},"
        "\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","
        "\"image\":\"nginx:2\",\"ports\":[{\"containerPort\":80}]}]}}}}",
        0, NULL);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(got, want), "got %s", g);
    free(g);
    json_decref(got);
    /* Without the namespace (the description left it out), and with no
     * prior: only the managed fields. */
    got = sf_kube_project(live, fields, NULL, false);
    ck_assert_ptr_null(json_object_get(json_object_get(got, "metadata"), "namespace"));
    ck_assert_ptr_null(json_object_get(json_object_get(got, "spec"), "replicas"));
    json_decref(got);
    json_decref(want);
    json_decref(prior);
    json_decref(fields);
    json_decref(live);
}
END_TEST

START_TEST(managed_fields_entry)
{
    json_t *live = json_loads(
        "{\"metadata\":{\"managedFields\":[{\"manager\":\"sparkform\",\"operation\":\"Update\","
        "\"fieldsV1\":{\"f:a\":{}}},{\"manager\":\"sparkform\",\"operation\":\"Apply\","
        "\"subresource\":\"status\",\"fieldsV1\":{\"f:b\":{}}},{\"manager\":\"sparkform\","
        "\"operation\":\"Apply\",\"fieldsV1\":{\"f:c\":{}}}]}}",
        0, NULL);
    const json_t *f = sf_kube_managed_fields(live, "sparkform");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(json_object_get(f, "f:c"));
    ck_assert_ptr_null(sf_kube_managed_fields(live, "kubectl"));
    json_decref(live);
}
END_TEST

START_TEST(import_ids)
{
    static const char *const ok[][5] = {
        {"v1/ConfigMap/apps/cfg", "v1", "ConfigMap", "apps", "cfg"},
        {"apps/v1/Deployment/apps/web", "apps/v1", "Deployment", "apps", "web"},
        {"apiextensions.k8s.io/v1/CustomResourceDefinition//widgets.example.com",
         "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"},
        {"apiextensions.k8s.io/v1/CustomResourceDefinition/widgets.example.com",
         "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"},
        {"v1/Namespace/apps", "v1", "Namespace", "", "apps"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *av, *kind, *ns, *name;
        ck_assert_int_eq(sf_kube_id_parse(ok[i][0], &av, &kind, &ns, &name), 0);
        ck_assert_str_eq(av, ok[i][1]);
        ck_assert_str_eq(kind, ok[i][2]);
        ck_assert_str_eq(ns, ok[i][3]);
        ck_assert_str_eq(name, ok[i][4]);
        free(av);
        free(kind);
        free(ns);
        free(name);
    }
    static const char *const bad[] = {"", "v1", "v1/ConfigMap", "v1/configmap/a/b",
                                      "v1/ConfigMap/a/", "apps/v1/Deployment/a/b/c", "/v1/X/a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *av, *kind, *ns, *name;
        ck_assert_msg(sf_kube_id_parse(bad[i], &av, &kind, &ns, &name) == -1, "accepted %s",
                      bad[i]);
    }
}
END_TEST

START_TEST(discovery_and_paths)
{
    json_t *res = json_loads(
        "[{\"name\":\"deployments\",\"kind\":\"Deployment\",\"namespaced\":true},"
        "{\"name\":\"deployments/status\",\"kind\":\"Deployment\",\"namespaced\":true},"
        "{\"name\":\"deployments/scale\",\"kind\":\"Scale\",\"namespaced\":true}]",
        0, NULL);
    const json_t *d = sf_kube_discovery_find(res, "Deployment");
    ck_assert_str_eq(json_string_value(json_object_get(d, "name")), "deployments");
    ck_assert_ptr_null(sf_kube_discovery_find(res, "Scale"));
    ck_assert_ptr_null(sf_kube_discovery_find(res, "Deploymnet"));
    json_decref(res);

    struct sf_kube_res cm = {.group_version = "v1", .plural = "configmaps", .namespaced = true};
    char *p = sf_kube_path(&cm, "apps", "a b");
    ck_assert_str_eq(p, "/api/v1/namespaces/apps/configmaps/a%20b");
    free(p);
    p = sf_kube_path(&cm, "apps", NULL);
    ck_assert_str_eq(p, "/api/v1/namespaces/apps/configmaps");
    free(p);
    struct sf_kube_res crd = {.group_version = "apiextensions.k8s.io/v1",
                              .plural = "customresourcedefinitions"};
    p = sf_kube_path(&crd, "ignored", "widgets.example.com");
    ck_assert_str_eq(p, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com");
    free(p);
}
END_TEST

START_TEST(conflict_message)
{
    json_t *st = json_loads(
        "{\"kind\":\"Status\",\"code\":409,\"details\":{\"causes\":["
        "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl\\\" using v1\","
        "\"field\":\".data.a\"},"
        "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"ops\\\" using v1\","
        "\"field\":\".spec.x\"},"
        "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl\\\" using v1\","
        "\"field\":\".data.b\"}]}}",
        0, NULL);
    char *m = sf_kube_conflicts(st);
    ck_assert_str_eq(m, "conflicts with field managers \"kubectl\" (.data.a, .data.b), \"ops\" (.spec.x)");
    free(m);
    json_decref(st);
    st = json_loads("{\"kind\":\"Status\",\"code\":409,\"reason\":\"Conflict\"}", 0, NULL);
    ck_assert_ptr_null(sf_kube_conflicts(st));
    json_decref(st);
}
END_TEST

START_TEST(wait_shapes)
{
    json_t *w = json_loads("{\"rollout\":true}", 0, NULL);
    ck_assert_ptr_null(sf_kube_wait_problem(w, "Deployment"));
    ck_assert_ptr_nonnull(sf_kube_wait_problem(w, "ConfigMap"));
    json_decref(w);
    w = json_loads("{\"field\":\"status.phase\"}", 0, NULL);
    ck_assert_ptr_nonnull(sf_kube_wait_problem(w, "Pod"));
    json_decref(w);
    w = json_loads("{\"complete\":true,\"condition\":\"Ready\"}", 0, NULL);
    ck_assert_ptr_nonnull(sf_kube_wait_problem(w, "Job"));
    json_decref(w);
    w = json_loads("{\"condition\":\"Ready\"}", 0, NULL);
    ck_assert_ptr_null(sf_kube_wait_problem(w, "Widget"));
    json_decref(w);
    /* complete: a Job's, or a SparkApplication's run */
    w = json_loads("{\"complete\":true}", 0, NULL);
    ck_assert_ptr_null(sf_kube_wait_problem(w, "Job"));
    ck_assert_ptr_null(sf_kube_wait_problem(w, "SparkApplication"));
    ck_assert_str_eq(sf_kube_wait_problem(w, "ScheduledSparkApplication"),
                     "wait.complete is for Job and SparkApplication");
    ck_assert_ptr_nonnull(sf_kube_wait_problem(w, "Deployment"));
    json_decref(w);
}
END_TEST


/* The order keys of an object given as JSON text: "provides | needs",
 * each list joined with spaces. */
static char *keys_of(const char *text)
{
    json_t *o = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(o);
    json_t *p = json_array(), *n = json_array();
    ck_assert_int_eq(sf_kube_order_keys(o, p, n), 0);
    struct sf_buf b = {0};
    for (size_t i = 0; i < json_array_size(p); i++)
        sf_buf_printf(&b, "%s%s", i ? " " : "", json_string_value(json_array_get(p, i)));
    sf_buf_puts(&b, " |");
    for (size_t i = 0; i < json_array_size(n); i++)
        sf_buf_printf(&b, " %s", json_string_value(json_array_get(n, i)));
    json_decref(o);
    json_decref(p);
    json_decref(n);
    return sf_buf_take(&b);
}

#define KEYS_EQ(text, want)                                                                        \
    do {                                                                                           \
        char *got_ = keys_of(text);                                                                \
        ck_assert_str_eq(got_, want);                                                              \
        free(got_);                                                                                \
    } while (0)

START_TEST(order_keys)
{
    KEYS_EQ("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"spark\"}}",
            "kubernetes:Namespace/spark |");
    /* A namespaced object needs its namespace; one without a namespace
     * lives in "default", which nothing needs to create. */
    KEYS_EQ("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
            "\"namespace\":\"spark\"}}",
            " | kubernetes:Namespace/spark");
    KEYS_EQ("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}", " |");
    /* The CRD provides its kind in its group; the custom object needs it
     * and its namespace. */
    KEYS_EQ("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
            "\"metadata\":{\"name\":\"sparkapplications.sparkoperator.k8s.io\"},"
            "\"spec\":{\"group\":\"sparkoperator.k8s.io\",\"names\":{\"kind\":\"SparkApplication\","
            "\"plural\":\"sparkapplications\"},\"scope\":\"Namespaced\"}}",
            "kubernetes:CRD/SparkApplication.sparkoperator.k8s.io |");
    KEYS_EQ("{\"apiVersion\":\"sparkoperator.k8s.io/v1beta2\",\"kind\":\"SparkApplication\","
            "\"metadata\":{\"name\":\"pi\",\"namespace\":\"spark\"}}",
            " | kubernetes:Namespace/spark kubernetes:CRD/SparkApplication.sparkoperator.k8s.io");
    /* Cluster-scoped kinds need no namespace even when one is written. */
    KEYS_EQ("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
            "\"metadata\":{\"name\":\"viewer\",\"namespace\":\"x\"}}",
            "kubernetes:ClusterRole/viewer |");
    KEYS_EQ("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"driver\","
            "\"namespace\":\"spark\"}}",
            "kubernetes:ServiceAccount/spark/driver | kubernetes:Namespace/spark");
    KEYS_EQ("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
            "\"metadata\":{\"name\":\"r\",\"namespace\":\"spark\"}}",
            "kubernetes:Role/spark/r | kubernetes:Namespace/spark");
    /* A binding needs its role and its service accounts (a subject's own
     * namespace, else the binding's). */
    KEYS_EQ("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
            "\"metadata\":{\"name\":\"b\",\"namespace\":\"spark\"},"
            "\"roleRef\":{\"kind\":\"Role\",\"name\":\"r\"},"
            "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"driver\"},"
            "{\"kind\":\"ServiceAccount\",\"name\":\"ui\",\"namespace\":\"web\"},"
            "{\"kind\":\"User\",\"name\":\"alice\"}]}",
            " | kubernetes:Namespace/spark kubernetes:Role/spark/r "
            "kubernetes:ServiceAccount/spark/driver kubernetes:ServiceAccount/web/ui");
    KEYS_EQ("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
            "\"metadata\":{\"name\":\"b\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"v\"},"
            "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"d\",\"namespace\":\"spark\"},"
            "{\"kind\":\"ServiceAccount\",\"name\":\"nons\"}]}",
            " | kubernetes:ClusterRole/v kubernetes:ServiceAccount/spark/d");
    /* Pod templates name their service account. */
    KEYS_EQ("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
            "\"namespace\":\"spark\"},\"spec\":{\"template\":{\"spec\":{\"serviceAccountName\":"
            "\"driver\"}}}}",
            " | kubernetes:Namespace/spark kubernetes:ServiceAccount/spark/driver");
    KEYS_EQ("{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"c\"},"
            "\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"serviceAccount\":"
            "\"old\"}}}}}}",
            " | kubernetes:ServiceAccount/default/old");
    KEYS_EQ("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":"
            "\"a\"},\"spec\":{\"serviceAccountName\":\"s\"}}",
            " | kubernetes:Namespace/a kubernetes:ServiceAccount/a/s");
    /* What is unknown gives no key: an unknown namespace neither needs a
     * namespace nor names a service account in "default". */
    json_t *o = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
                           "\"metadata\":{\"name\":\"s\"}}",
                           0, NULL);
    json_object_set(json_object_get(o, "metadata"), "namespace", sf_unknown());
    json_t *p = json_array(), *n = json_array();
    ck_assert_int_eq(sf_kube_order_keys(o, p, n), 0);
    ck_assert_uint_eq(json_array_size(p), 0);
    ck_assert_uint_eq(json_array_size(n), 0);
    json_decref(o);
    o = json_pack("{s:o}", "kind", json_incref(sf_unknown()));
    ck_assert_int_eq(sf_kube_order_keys(o, p, n), 0);
    ck_assert_uint_eq(json_array_size(p) + json_array_size(n), 0);
    json_decref(o);
    json_decref(p);
    json_decref(n);
}
END_TEST

#define STACK_HEAD "apiVersion: sparkform/v1\nkind: Stack\nmetadata: {name: demo}\nresources:\n"
#define MANIFEST(name, extra, m)                                                                   \
    "  - type: kubernetes_manifest\n    name: " name "\n" extra "    with:\n"                      \
    "      kubeconfig_path: kc\n      manifest: " m "\n"

/* Whether the graph has the edge from -> to. */
static bool has_edge(const struct sf_graph *g, const char *from, const char *to)
{
    const int *preds;
    size_t n = sf_graph_preds(g, sf_graph_find(g, to), &preds);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sf_graph_name(g, preds[i]), from))
            return true;
    return false;
}

START_TEST(order_edges)
{
    const char *text =
        STACK_HEAD
        MANIFEST("sa", "", "{apiVersion: v1, kind: ServiceAccount, metadata: {name: driver, "
                           "namespace: spark}}")
        MANIFEST("app", "", "{apiVersion: sparkoperator.k8s.io/v1beta2, kind: SparkApplication, "
                            "metadata: {name: pi, namespace: spark}, spec: {driver: "
                            "{serviceAccount: driver}}}")
        MANIFEST("crd", "", "{apiVersion: apiextensions.k8s.io/v1, kind: "
                            "CustomResourceDefinition, metadata: {name: "
                            "sparkapplications.sparkoperator.k8s.io}, spec: {group: "
                            "sparkoperator.k8s.io, names: {kind: SparkApplication, plural: "
                            "sparkapplications}}}")
        MANIFEST("ns", "", "{apiVersion: v1, kind: Namespace, metadata: {name: spark}}")
        MANIFEST("other", "", "{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: "
                              "elsewhere, labels: {at: \"${kubernetes_manifest.sa.uid}\"}}}");
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_config *cfg = NULL;
    ck_assert_int_eq(sf_config_load_text("dir/demo.yaml", text, &cfg, &d), 0);
    struct sf_graph *g = sf_run_resource_graph(cfg, &d);
    ck_assert_ptr_nonnull(g);
    ck_assert(has_edge(g, "kubernetes_manifest.ns", "kubernetes_manifest.sa"));
    ck_assert(has_edge(g, "kubernetes_manifest.ns", "kubernetes_manifest.app"));
    ck_assert(has_edge(g, "kubernetes_manifest.crd", "kubernetes_manifest.app"));
    ck_assert(!has_edge(g, "kubernetes_manifest.ns", "kubernetes_manifest.crd"));
    ck_assert(!has_edge(g, "kubernetes_manifest.ns", "kubernetes_manifest.other"));
    /* A reference keeps its edge beside the order ones. */
    ck_assert(has_edge(g, "kubernetes_manifest.sa", "kubernetes_manifest.other"));
    const int *preds;
    ck_assert_uint_eq(sf_graph_preds(g, sf_graph_find(g, "kubernetes_manifest.ns"), &preds), 0);
    sf_graph_free(g);
    sf_config_free(cfg);

    /* The namespace made to wait for what lives in it: a cycle, named by
     * both resources. */
    text = STACK_HEAD
        MANIFEST("cm", "", "{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: "
                           "spark}}")
        MANIFEST("ns", "    depends_on: [kubernetes_manifest.cm]\n",
                 "{apiVersion: v1, kind: Namespace, metadata: {name: spark}}");
    ck_assert_int_eq(sf_config_load_text("dir/demo.yaml", text, &cfg, &d), 0);
    ck_assert_ptr_null(sf_run_resource_graph(cfg, &d));
    ck_assert_uint_gt(d.n, 0);
    const char *msg = d.items[d.n - 1].summary;
    ck_assert_msg(strstr(msg, "cycle") && strstr(msg, "kubernetes_manifest.cm") &&
                      strstr(msg, "kubernetes_manifest.ns") &&
                      strstr(msg, "kubernetes:Namespace/spark"),
                  "%s", msg);
    sf_config_free(cfg);
    sf_diags_free(&d);
}
END_TEST

/* ---- kubernetes_secret and kubernetes_config_map ---- */

static json_t *jl(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    ck_assert_msg(v != NULL, "bad JSON in the test: %s", text);
    return v;
}

static void assert_json(const json_t *got, const char *want_text)
{
    json_t *want = jl(want_text);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(got, want), "got %s, want %s", g, want_text);
    free(g);
    json_decref(want);
}

START_TEST(base64_round_trip)
{
    char *e = sf_base64_encode("hunter2", 7);
    ck_assert_str_eq(e, "aHVudGVyMg==");
    size_t n = 0;
    unsigned char *d = sf_base64_decode("aHVu\ndGVy Mg==", &n);
    ck_assert_uint_eq(n, 7);
    ck_assert_mem_eq(d, "hunter2", 7);
    free(d);
    free(e);
    static const unsigned char bin[] = {0xff, 0x00, 0xfe, 0x01};
    e = sf_base64_encode(bin, sizeof bin);
    d = sf_base64_decode(e, &n);
    ck_assert_uint_eq(n, sizeof bin);
    ck_assert_mem_eq(d, bin, sizeof bin);
    free(d);
    free(e);
    d = sf_base64_decode("", &n);
    ck_assert_uint_eq(n, 0);
    free(d);
    ck_assert_ptr_null(sf_base64_decode("abc", &n));
    ck_assert_ptr_null(sf_base64_decode("a*c=", &n));
}
END_TEST

/* A Secret's text is encoded, binary_data goes as given, into one data
 * map; empty maps and a false immutable are left out. */
START_TEST(secret_body)
{
    json_t *v = jl("{\"name\":\"db\",\"namespace\":\"apps\",\"type\":\"Opaque\","
                   "\"labels\":{\"app\":\"web\"},\"annotations\":{},"
                   "\"data\":{\"password\":\"hunter2\",\"empty\":\"\"},"
                   "\"binary_data\":{\"blob\":\"/wD+AQ==\"},\"immutable\":false}");
    json_t *b = sf_kube_dataobj_body(&sf_kube_secret_kind, v);
    assert_json(b, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"db\","
                   "\"namespace\":\"apps\",\"labels\":{\"app\":\"web\"}},\"type\":\"Opaque\","
                   "\"data\":{\"password\":\"aHVudGVyMg==\",\"empty\":\"\",\"blob\":\"/wD+AQ==\"}}");
    json_decref(b);
    json_decref(v);
    v = jl("{\"name\":\"pull\",\"type\":\"kubernetes.io/dockerconfigjson\","
           "\"data\":{\".dockerconfigjson\":\"{}\"},\"immutable\":true}");
    b = sf_kube_dataobj_body(&sf_kube_secret_kind, v);
    assert_json(b, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"pull\","
                   "\"namespace\":\"default\"},\"type\":\"kubernetes.io/dockerconfigjson\","
                   "\"data\":{\".dockerconfigjson\":\"e30=\"},\"immutable\":true}");
    json_decref(b);
    json_decref(v);
    /* A ConfigMap's data is text on the wire; binary_data is binaryData. */
    v = jl("{\"name\":\"code\",\"namespace\":\"jobs\",\"data\":{\"job.py\":\"print(1)\\n\"},"
           "\"binary_data\":{\"b\":\"AA==\"}}");
    b = sf_kube_dataobj_body(&sf_kube_config_map_kind, v);
    assert_json(b, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"code\","
                   "\"namespace\":\"jobs\"},\"data\":{\"job.py\":\"print(1)\\n\"},"
                   "\"binaryData\":{\"b\":\"AA==\"}}");
    json_decref(b);
    json_decref(v);
}
END_TEST

/* Read back: only the keys sparkform manages, decoded; a key the prior
 * had in binary_data stays there, bytes that are not text go there. */
START_TEST(secret_attrs_from_live)
{
    json_t *live = jl(
        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"Opaque\","
        "\"metadata\":{\"name\":\"db\",\"namespace\":\"apps\",\"uid\":\"u1\","
        "\"resourceVersion\":\"7\",\"labels\":{\"app\":\"web\",\"theirs\":\"x\"},"
        "\"managedFields\":[{\"manager\":\"sparkform\",\"operation\":\"Apply\",\"fieldsV1\":"
        "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:type\":{},\"f:data\":{"
        "\"f:password\":{},\"f:blob\":{},\"f:raw\":{},\"f:t\":{}}}}]},"
        "\"data\":{\"password\":\"Y2hhbmdlZA==\",\"blob\":\"aGk=\",\"raw\":\"/wD+AQ==\","
        "\"t\":\"aGk=\",\"added\":\"eA==\"}}");
    json_t *prior = jl("{\"kubeconfig_path\":\"kc\",\"name\":\"db\",\"namespace\":\"apps\","
                       "\"data\":{\"password\":\"hunter2\",\"t\":\"hi\"},"
                       "\"binary_data\":{\"blob\":\"aGk=\",\"raw\":\"/wD+AQ==\"}}");
    json_t *a = sf_kube_dataobj_attrs(&sf_kube_secret_kind, prior, live, prior);
    assert_json(a, "{\"kubeconfig_path\":\"kc\",\"namespace\":\"apps\",\"name\":\"db\","
                   "\"type\":\"Opaque\",\"labels\":{\"app\":\"web\"},\"annotations\":{},"
                   "\"data\":{\"password\":\"changed\",\"t\":\"hi\"},"
                   "\"binary_data\":{\"blob\":\"aGk=\",\"raw\":\"/wD+AQ==\"},"
                   "\"immutable\":false,\"id\":\"apps/db\",\"uid\":\"u1\","
                   "\"resource_version\":\"7\"}");
    json_decref(a);
    /* An import (no prior) of an object sparkform never applied: whole. */
    json_object_del(json_object_get(live, "metadata"), "managedFields");
    a = sf_kube_dataobj_attrs(&sf_kube_secret_kind, NULL, live, NULL);
    assert_json(json_object_get(a, "data"),
                "{\"password\":\"changed\",\"blob\":\"hi\",\"t\":\"hi\",\"added\":\"x\"}");
    assert_json(json_object_get(a, "binary_data"), "{\"raw\":\"/wD+AQ==\"}");
    assert_json(json_object_get(a, "labels"), "{\"app\":\"web\",\"theirs\":\"x\"}");
    json_decref(a);
    json_decref(prior);
    json_decref(live);
}
END_TEST

static char *plan_dir;

static void plan_dir_make(void)
{
    char tmpl[] = "/tmp/test_kube_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    plan_dir = sf_xstrdup(tmpl);
    char *p = sf_asprintf("%s/job.py", plan_dir);
    ck_assert_int_eq(sf_write_file_atomic(p, "print('hi')\n", 12, 0644), 0);
    free(p);
    p = sf_asprintf("%s/blob.bin", plan_dir);
    ck_assert_int_eq(sf_write_file_atomic(p, "\xff\x00\xfe\x01", 4, 0644), 0);
    free(p);
}

static void plan_dir_remove(void)
{
    char *cmd = sf_asprintf("rm -rf '%s'", plan_dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    free(plan_dir);
}

/* Runs a type's plan step on desired in plan_dir; returns its result and
 * the first message in *msg (caller frees, NULL when none). */
static int plan_step(const struct sf_resource_type *rt, json_t *desired, char **msg)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_call c = {.address = "kubernetes_config_map.x", .config_dir = plan_dir, .diags = &d};
    int rc = rt->plan(&c, desired);
    *msg = d.n ? sf_xstrdup(d.items[0].summary) : NULL;
    ck_assert_int_eq(rc < 0, d.n > 0);
    sf_diags_free(&d);
    return rc;
}

/* files are read into data (text) and binary_data (other bytes). */
START_TEST(config_map_files)
{
    plan_dir_make();
    json_t *v = jl("{\"name\":\"code\",\"data\":{\"mode\":\"fast\",\"level\":3,\"on\":true},"
                   "\"binary_data\":{},\"files\":{\"job.py\":\"job.py\",\"blob\":\"blob.bin\"}}");
    char *msg;
    ck_assert_int_eq(plan_step(&sf_kube_config_map_type, v, &msg), 0);
    assert_json(json_object_get(v, "data"), "{\"mode\":\"fast\",\"level\":\"3\",\"on\":\"true\","
                                            "\"job.py\":\"print('hi')\\n\"}");
    assert_json(json_object_get(v, "binary_data"), "{\"blob\":\"/wD+AQ==\"}");
    /* The files are their contents now: nothing else records them. */
    ck_assert_ptr_null(json_object_get(v, "files"));
    json_decref(v);
    /* A file changed: the plan step's data changes with it. */
    char *p = sf_asprintf("%s/job.py", plan_dir);
    ck_assert_int_eq(sf_write_file_atomic(p, "print('bye')\n", 13, 0644), 0);
    free(p);
    v = jl("{\"name\":\"code\",\"data\":{},\"binary_data\":{},\"files\":{\"job.py\":\"job.py\"}}");
    ck_assert_int_eq(plan_step(&sf_kube_config_map_type, v, &msg), 0);
    assert_json(json_object_get(v, "data"), "{\"job.py\":\"print('bye')\\n\"}");
    json_decref(v);
    /* Unknown maps are left for the apply. */
    v = json_pack("{s:s,s:o,s:o,s:{s:s}}", "name", "code", "data", json_incref(sf_unknown()),
                  "binary_data", json_object(), "files", "job.py", "job.py");
    ck_assert_int_eq(plan_step(&sf_kube_config_map_type, v, &msg), 0);
    ck_assert(sf_is_unknown(json_object_get(v, "data")));
    ck_assert(sf_is_unknown(json_object_get(v, "binary_data")));
    json_decref(v);
    /* A file whose name is not known yet: data is known after apply. */
    v = json_pack("{s:s,s:{},s:{},s:{s:O}}", "name", "code", "data", "binary_data", "files",
                  "job.py", sf_unknown());
    ck_assert_int_eq(plan_step(&sf_kube_config_map_type, v, &msg), 0);
    ck_assert(sf_is_unknown(json_object_get(v, "data")));
    json_decref(v);
    /* The unknown value itself was never written to. */
    ck_assert_uint_eq(json_object_size(sf_unknown()), 1);
    plan_dir_remove();
}
END_TEST

/* Each refused description, with words its message must have. */
START_TEST(data_errors)
{
    plan_dir_make();
    static const char *const cases[][3] = {
        {"{\"name\":\"c\",\"data\":{},\"binary_data\":{},\"files\":{\"k\":\"missing.txt\"}}",
         "files.k: cannot read", "missing.txt"},
        {"{\"name\":\"c\",\"data\":{\"job.py\":\"x\"},\"binary_data\":{},"
         "\"files\":{\"job.py\":\"job.py\"}}",
         "files.job.py", "also in data"},
        {"{\"name\":\"c\",\"data\":{},\"binary_data\":{\"job.py\":\"AA==\"},"
         "\"files\":{\"job.py\":\"job.py\"}}",
         "files.job.py", "also in binary_data"},
        {"{\"name\":\"c\",\"data\":{},\"binary_data\":{},\"files\":{\"a/b\":\"job.py\"}}",
         "\"a/b\"", "not a valid data key"},
        {"{\"name\":\"c\",\"data\":{\"k\":\"v\"},\"binary_data\":{\"k\":\"AA==\"}}",
         "\"k\"", "both data and binary_data"},
        {"{\"name\":\"c\",\"data\":{\"k\":1.5}}", "data.k", "expected a string"},
        {"{\"name\":\"c\",\"binary_data\":{\"k\":\"sekrit!\"}}", "binary_data.k", "not base64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = jl(cases[i][0]);
        char *msg = NULL;
        ck_assert_int_eq(plan_step(&sf_kube_config_map_type, v, &msg), -1);
        ck_assert_msg(strstr(msg, cases[i][1]) && strstr(msg, cases[i][2]),
                      "case %zu: \"%s\" lacks \"%s\" / \"%s\"", i, msg, cases[i][1], cases[i][2]);
        ck_assert_ptr_null(strstr(msg, "sekrit"));
        free(msg);
        json_decref(v);
    }
    /* A Secret's plan step: the same checks, never quoting a value. */
    json_t *v = jl("{\"name\":\"s\",\"data\":{\"k\":\"sekrit\"},\"binary_data\":{\"k\":\"AA==\"}}");
    char *msg = NULL;
    ck_assert_int_eq(plan_step(&sf_kube_secret_type, v, &msg), -1);
    ck_assert_ptr_nonnull(strstr(msg, "both data and binary_data"));
    ck_assert_ptr_null(strstr(msg, "sekrit"));
    free(msg);
    json_decref(v);
    /* binary_data is made canonical (whitespace of a wrapped value). */
    v = jl("{\"name\":\"s\",\"data\":{},\"binary_data\":{\"k\":\"/wD+\\nAQ==\"}}");
    ck_assert_int_eq(plan_step(&sf_kube_secret_type, v, &msg), 0);
    assert_json(json_object_get(v, "binary_data"), "{\"k\":\"/wD+AQ==\"}");
    json_decref(v);
    plan_dir_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kube");
    TCase *t = tcase_create("kube");
    tcase_add_test(t, kubeconfig_token_json);
    tcase_add_test(t, kubeconfig_client_cert_yaml);
    tcase_add_test(t, kubeconfig_errors);
    tcase_add_test(t, projection);
    tcase_add_test(t, managed_fields_entry);
    tcase_add_test(t, import_ids);
    tcase_add_test(t, discovery_and_paths);
    tcase_add_test(t, conflict_message);
    tcase_add_test(t, wait_shapes);
    tcase_add_test(t, order_keys);
    tcase_add_test(t, order_edges);
    tcase_add_test(t, base64_round_trip);
    tcase_add_test(t, secret_body);
    tcase_add_test(t, secret_attrs_from_live);
    tcase_add_test(t, config_map_files);
    tcase_add_test(t, data_errors);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}

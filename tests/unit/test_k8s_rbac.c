/*
 * Unit tests for the RBAC rule matching of localcloud's Kubernetes API
 * (lc_k8s_rbac_rule_allows in localcloud/k8s_rbac.c): verbs and "*",
 * API groups, resources with their subresources and wildcards, resource
 * names (which never match a request naming no object), non-resource URLs
 * with their prefix form; and the wording of the 403 Kubernetes clients
 * show (lc_k8s_rbac_forbid). The rest (bindings, reviews, tokens) is
 * covered against the real kubectl by tests/e2e/localcloud_rbac.sh.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"

static json_t *rule(const char *text)
{
    json_error_t e;
    json_t *r = json_loads(text, 0, &e);
    ck_assert_msg(r != NULL, "bad rule in the test: %s", e.text);
    return r;
}

static bool allows(const char *text, struct lc_k8s_attrs a)
{
    json_t *r = rule(text);
    bool ok = lc_k8s_rbac_rule_allows(r, &a);
    json_decref(r);
    return ok;
}

#define VIEWER "{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/log\",\"configmaps\"]," \
               "\"verbs\":[\"get\",\"list\",\"watch\"]}"

START_TEST(test_verbs)
{
    struct lc_k8s_attrs a = {.verb = "list", .group = "", .resource = "pods", .ns = "jobs"};
    ck_assert(allows(VIEWER, a));
    a.verb = "watch";
    ck_assert(allows(VIEWER, a));
    a.verb = "create";
    ck_assert(!allows(VIEWER, a));
    a.verb = "deletecollection";
    ck_assert(!allows(VIEWER, a));
    ck_assert(allows("{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"*\"]}", a));
    ck_assert(!allows("{\"apiGroups\":[\"\"],\"resources\":[\"pods\"]}", a)); /* no verbs */
}
END_TEST

START_TEST(test_groups)
{
    const char *spark = "{\"apiGroups\":[\"sparkoperator.k8s.io\"],\"resources\":"
                        "[\"sparkapplications\"],\"verbs\":[\"get\",\"list\",\"create\"]}";
    struct lc_k8s_attrs a = {.verb = "create", .group = "sparkoperator.k8s.io",
                             .resource = "sparkapplications", .ns = "jobs"};
    ck_assert(allows(spark, a));
    a.group = ""; /* the same plural in another group */
    ck_assert(!allows(spark, a));
    a.group = "example.com";
    ck_assert(allows("{\"apiGroups\":[\"*\"],\"resources\":[\"sparkapplications\"],"
                     "\"verbs\":[\"create\"]}", a));
    ck_assert(!allows("{\"resources\":[\"sparkapplications\"],\"verbs\":[\"create\"]}", a));
}
END_TEST

START_TEST(test_subresources)
{
    struct lc_k8s_attrs a = {.verb = "get", .group = "", .resource = "pods", .sub = "log",
                             .name = "driver", .ns = "jobs"};
    ck_assert(allows(VIEWER, a));
    a.sub = "exec";
    ck_assert(!allows(VIEWER, a));
    /* "pods" alone does not reach its subresources */
    ck_assert(!allows("{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\"]}", a));
    ck_assert(allows("{\"apiGroups\":[\"\"],\"resources\":[\"pods/*\"],\"verbs\":[\"get\"]}", a));
    ck_assert(allows("{\"apiGroups\":[\"\"],\"resources\":[\"*/exec\"],\"verbs\":[\"get\"]}", a));
    ck_assert(allows("{\"apiGroups\":[\"\"],\"resources\":[\"*\"],\"verbs\":[\"get\"]}", a));
    /* and a subresource rule does not reach the object */
    a.sub = NULL;
    ck_assert(!allows("{\"apiGroups\":[\"\"],\"resources\":[\"pods/log\"],\"verbs\":[\"get\"]}", a));
    ck_assert(!allows("{\"apiGroups\":[\"\"],\"resources\":[\"pods/*\"],\"verbs\":[\"get\"]}", a));
    ck_assert(!allows("{\"apiGroups\":[\"\"],\"resources\":[\"pod\"],\"verbs\":[\"get\"]}", a));
    ck_assert(!allows("{\"apiGroups\":[\"\"],\"resources\":[\"podsx\"],\"verbs\":[\"get\"]}", a));
}
END_TEST

START_TEST(test_resource_names)
{
    const char *one = "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
                      "\"resourceNames\":[\"job-code\"],\"verbs\":[\"get\",\"list\",\"delete\"]}";
    struct lc_k8s_attrs a = {.verb = "get", .group = "", .resource = "configmaps",
                             .name = "job-code", .ns = "jobs"};
    ck_assert(allows(one, a));
    a.name = "other";
    ck_assert(!allows(one, a));
    a.name = NULL; /* a list names no object */
    a.verb = "list";
    ck_assert(!allows(one, a));
    ck_assert(allows("{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
                     "\"resourceNames\":[],\"verbs\":[\"list\"]}", a));
}
END_TEST

START_TEST(test_non_resource)
{
    const char *metrics = "{\"nonResourceURLs\":[\"/metrics\",\"/logs/*\"],\"verbs\":[\"get\"]}";
    struct lc_k8s_attrs a = {.verb = "get", .path = "/metrics"};
    ck_assert(allows(metrics, a));
    a.path = "/metrics/extra";
    ck_assert(!allows(metrics, a));
    a.path = "/logs/kubelet";
    ck_assert(allows(metrics, a));
    a.path = "/logs/";
    ck_assert(allows(metrics, a));
    a.path = "/version";
    ck_assert(!allows(metrics, a));
    a.verb = "post";
    a.path = "/metrics";
    ck_assert(!allows(metrics, a));
    /* a resource rule never allows a path, a path rule never a resource */
    a.verb = "get";
    ck_assert(!allows(VIEWER, a));
    struct lc_k8s_attrs r = {.verb = "get", .group = "", .resource = "pods", .ns = "jobs"};
    ck_assert(!allows(metrics, r));
}
END_TEST

static json_t *forbidden(const struct lc_k8s_attrs *a)
{
    struct lc_k8s_user u = {.name = "system:serviceaccount:jobs:viewer"};
    struct lc_response resp = {.status = 0};
    lc_k8s_rbac_forbid(&resp, &u, a);
    ck_assert_uint_eq(resp.status, 403);
    json_t *body = json_loadb(resp.body, resp.len, 0, NULL);
    free(resp.body);
    free(resp.content_type);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(json_string_value(json_object_get(body, "reason")), "Forbidden");
    return body;
}

START_TEST(test_forbidden_messages)
{
    struct lc_k8s_attrs a = {.verb = "list", .group = "", .resource = "pods", .ns = "jobs"};
    json_t *b = forbidden(&a);
    ck_assert_str_eq(json_string_value(json_object_get(b, "message")),
                     "pods is forbidden: User \"system:serviceaccount:jobs:viewer\" cannot list "
                     "resource \"pods\" in API group \"\" in the namespace \"jobs\"");
    json_decref(b);
    a = (struct lc_k8s_attrs){.verb = "create", .group = "sparkoperator.k8s.io",
                              .resource = "sparkapplications", .ns = "jobs"};
    b = forbidden(&a);
    ck_assert_str_eq(json_string_value(json_object_get(b, "message")),
                     "sparkapplications.sparkoperator.k8s.io is forbidden: User "
                     "\"system:serviceaccount:jobs:viewer\" cannot create resource "
                     "\"sparkapplications\" in API group \"sparkoperator.k8s.io\" in the "
                     "namespace \"jobs\"");
    json_decref(b);
    a = (struct lc_k8s_attrs){.verb = "get", .group = "", .resource = "pods", .sub = "exec",
                              .name = "driver", .ns = "jobs"};
    b = forbidden(&a);
    ck_assert_str_eq(json_string_value(json_object_get(b, "message")),
                     "pods \"driver\" is forbidden: User \"system:serviceaccount:jobs:viewer\" "
                     "cannot get resource \"pods/exec\" in API group \"\" in the namespace \"jobs\"");
    json_decref(b);
    a = (struct lc_k8s_attrs){.verb = "list", .group = "", .resource = "namespaces"};
    b = forbidden(&a);
    ck_assert_str_eq(json_string_value(json_object_get(b, "message")),
                     "namespaces is forbidden: User \"system:serviceaccount:jobs:viewer\" cannot "
                     "list resource \"namespaces\" in API group \"\" at the cluster scope");
    json_decref(b);
    a = (struct lc_k8s_attrs){.verb = "get", .path = "/metrics"};
    b = forbidden(&a);
    ck_assert_str_eq(json_string_value(json_object_get(b, "message")),
                     "forbidden: User \"system:serviceaccount:jobs:viewer\" cannot get path "
                     "\"/metrics\"");
    json_decref(b);
}
END_TEST

static Suite *k8s_rbac_suite(void)
{
    Suite *s = suite_create("k8s_rbac");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_verbs);
    tcase_add_test(tc, test_groups);
    tcase_add_test(tc, test_subresources);
    tcase_add_test(tc, test_resource_names);
    tcase_add_test(tc, test_non_resource);
    tcase_add_test(tc, test_forbidden_messages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(k8s_rbac_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

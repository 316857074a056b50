/*
 * Unit tests of how `sparkform status` judges a live Kubernetes object
 * (sf_kube_health, providers/kubernetes/health.c): a Deployment by its
 * Available condition and replicas, a CRD by Established, a
 * SparkApplication by the operator's application state, a
 * ScheduledSparkApplication by its schedule state and last run, any other
 * kind by existing. The hook against a cluster: tests/e2e/status.sh.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kubernetes/kube.h"
#include "util.h"

static json_t *jl(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    ck_assert_msg(v != NULL, "bad JSON in the test: %s", e.text);
    return v;
}

/* The health of the object text; checks state and healthy, returns the
 * answer (the caller frees). */
static json_t *judge(const char *text, const char *state, bool healthy)
{
    json_t *live = jl(text);
    json_t *h = sf_kube_health(live);
    json_decref(live);
    ck_assert_str_eq(json_string_value(json_object_get(h, "state")), state);
    ck_assert_msg(json_is_true(json_object_get(h, "healthy")) == healthy, "%s: healthy is %s",
                  state, healthy ? "false" : "true");
    ck_assert(json_is_string(json_object_get(h, "summary")));
    return h;
}

static const char *summary(const json_t *h)
{
    return json_string_value(json_object_get(h, "summary"));
}

START_TEST(deployment)
{
    json_t *h = judge("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                      "\"metadata\":{\"name\":\"web\",\"namespace\":\"apps\"},\"spec\":{\"replicas\":3},"
                      "\"status\":{\"readyReplicas\":3,\"availableReplicas\":3,"
                      "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}",
                      "AVAILABLE", true);
    ck_assert_str_eq(summary(h), "3/3 replicas ready");
    ck_assert_int_eq(json_integer_value(json_object_get(h, "ready_replicas")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(h, "kind")), "Deployment");
    ck_assert_str_eq(json_string_value(json_object_get(h, "namespace")), "apps");
    ck_assert_str_eq(json_string_value(json_object_get(h, "name")), "web");
    json_decref(h);

    /* Fewer available than asked for: not healthy, whatever the condition. */
    h = judge("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
              "\"spec\":{\"replicas\":3},\"status\":{\"readyReplicas\":1,\"availableReplicas\":1,"
              "\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}",
              "UNAVAILABLE", false);
    ck_assert_str_eq(summary(h), "1/3 replicas ready, 1 available");
    json_decref(h);

    /* No status yet, the default of one replica; the condition's message said. */
    h = judge("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
              "\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"False\","
              "\"message\":\"Deployment does not have minimum availability.\"}]}}",
              "UNAVAILABLE", false);
    ck_assert_ptr_nonnull(strstr(summary(h), "0/1 replicas ready"));
    ck_assert_ptr_nonnull(strstr(summary(h), "minimum availability"));
    json_decref(h);

    /* Scaled to zero on purpose: nothing to wait for. */
    h = judge("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\"},"
              "\"spec\":{\"replicas\":0},\"status\":{\"conditions\":[{\"type\":\"Available\","
              "\"status\":\"True\"}]}}",
              "AVAILABLE", true);
    json_decref(h);
}
END_TEST

START_TEST(crd)
{
    json_t *h = judge("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
                      "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
                      "\"names\":{\"plural\":\"widgets\"}},\"status\":{\"conditions\":["
                      "{\"type\":\"NamesAccepted\",\"status\":\"True\"},"
                      "{\"type\":\"Established\",\"status\":\"True\"}]}}",
                      "ESTABLISHED", true);
    ck_assert_str_eq(summary(h), "serves widgets.example.com");
    ck_assert_ptr_null(json_object_get(h, "namespace"));
    json_decref(h);
    h = judge("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
              "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
              "\"names\":{\"plural\":\"widgets\"}},\"status\":{\"conditions\":["
              "{\"type\":\"NamesAccepted\",\"status\":\"False\",\"message\":\"\\\"widgets\\\" is "
              "already in use\"}]}}",
              "NOT_ESTABLISHED", false);
    ck_assert_ptr_nonnull(strstr(summary(h), "already in use"));
    json_decref(h);
}
END_TEST

static json_t *spark_app(const char *state, const char *extra)
{
    char *text;
    if (state)
        text = sf_asprintf("{\"apiVersion\":\"sparkoperator.k8s.io/v1beta2\",\"kind\":\"SparkApplication\","
                           "\"metadata\":{\"name\":\"etl\",\"namespace\":\"jobs\"},\"status\":{"
                           "\"applicationState\":{\"state\":\"%s\"%s},\"driverInfo\":{\"podName\":"
                           "\"etl-driver\"}}}",
                           state, extra);
    else
        text = sf_asprintf("{\"apiVersion\":\"sparkoperator.k8s.io/v1beta2\",\"kind\":\"SparkApplication\","
                           "\"metadata\":{\"name\":\"etl\",\"namespace\":\"jobs\"}}");
    json_t *live = jl(text);
    free(text);
    json_t *h = sf_kube_health(live);
    json_decref(live);
    return h;
}

START_TEST(spark_application)
{
    /* Every state but a failure is healthy: waiting and running are fine. */
    static const char *const fine[] = {"SUBMITTED", "RUNNING", "COMPLETED", "PENDING_RERUN"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        json_t *h = spark_app(fine[i], "");
        ck_assert_str_eq(json_string_value(json_object_get(h, "state")), fine[i]);
        ck_assert(json_is_true(json_object_get(h, "healthy")));
        ck_assert_str_eq(json_string_value(json_object_get(h, "application_state")), fine[i]);
        ck_assert_str_eq(json_string_value(json_object_get(h, "driver_pod")), "etl-driver");
        ck_assert_str_eq(json_string_value(json_object_get(h, "kind")), "SparkApplication");
        json_decref(h);
    }
    json_t *h = spark_app("FAILED", ",\"errorMessage\":\"driver pod failed\"");
    ck_assert(json_is_false(json_object_get(h, "healthy")));
    ck_assert_str_eq(summary(h), "the job failed: driver pod failed");
    json_decref(h);
    h = spark_app("SUBMISSION_FAILED", "");
    ck_assert(json_is_false(json_object_get(h, "healthy")));
    ck_assert_str_eq(summary(h), "the job could not be submitted");
    json_decref(h);
    /* Not picked up by the operator yet. */
    h = spark_app(NULL, "");
    ck_assert_str_eq(json_string_value(json_object_get(h, "state")), "NEW");
    ck_assert(json_is_true(json_object_get(h, "healthy")));
    json_decref(h);
}
END_TEST

START_TEST(scheduled_spark_application)
{
    const char *head = "{\"apiVersion\":\"sparkoperator.k8s.io/v1beta2\",\"kind\":"
                       "\"ScheduledSparkApplication\",\"metadata\":{\"name\":\"nightly\","
                       "\"namespace\":\"jobs\"},\"spec\":{\"schedule\":\"0 2 * * *\"}";
    char *text = sf_asprintf("%s,\"status\":{\"scheduleState\":\"Scheduled\",\"lastRun\":"
                             "\"2026-11-30T02:00:00Z\",\"lastRunName\":\"nightly-1\",\"nextRun\":"
                             "\"2026-12-01T02:00:00Z\"}}",
                             head);
    json_t *h = judge(text, "SCHEDULED", true);
    free(text);
    ck_assert_str_eq(summary(h), "schedule \"0 2 * * *\", last run 2026-11-30T02:00:00Z (nightly-1)");
    ck_assert_str_eq(json_string_value(json_object_get(h, "last_run")), "2026-11-30T02:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(h, "next_run")), "2026-12-01T02:00:00Z");
    json_decref(h);
    text = sf_asprintf("%s,\"status\":{\"scheduleState\":\"FailedValidation\",\"reason\":\"bad cron\"}}",
                       head);
    h = judge(text, "FAILED_VALIDATION", false);
    free(text);
    ck_assert_ptr_nonnull(strstr(summary(h), "bad cron"));
    ck_assert(json_is_null(json_object_get(h, "last_run")));
    json_decref(h);
    text = sf_asprintf("%s}", head);
    h = judge(text, "NEW", true);
    free(text);
    ck_assert_str_eq(summary(h), "schedule \"0 2 * * *\", no run yet");
    json_decref(h);
}
END_TEST

START_TEST(other_kinds)
{
    json_t *h = judge("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
                      "\"namespace\":\"default\"},\"data\":{\"k\":\"v\"}}",
                      "EXISTS", true);
    ck_assert_str_eq(json_string_value(json_object_get(h, "kind")), "ConfigMap");
    /* Nothing of the object's content is repeated. */
    ck_assert_ptr_null(json_object_get(h, "data"));
    json_decref(h);
    /* A Deployment of another API group is not judged as apps/v1's. */
    h = judge("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"}}",
              "EXISTS", true);
    json_decref(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kube_health");
    TCase *t = tcase_create("kube_health");
    tcase_add_test(t, deployment);
    tcase_add_test(t, crd);
    tcase_add_test(t, spark_application);
    tcase_add_test(t, scheduled_spark_application);
    tcase_add_test(t, other_kinds);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}

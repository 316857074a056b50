/*
 * kubernetes_manifest's status hook (`sparkform status`): the live object
 * read through its recorded connection, judged by its kind the way a user
 * of the service looks at it: a Deployment by its available replicas, a
 * CustomResourceDefinition by Established, a SparkApplication by the
 * operator's application state, a ScheduledSparkApplication by its
 * schedule state and last run; any other object by existing. The judging
 * is a pure function of the live object (sf_kube_health), so that
 * tests/unit/test_kube_health.c checks it without a cluster.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "util.h"

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    const char *s = json_string_value(v);
    return s ? s : "";
}

static long long int_at(const json_t *o, const char *a, const char *b, long long dflt)
{
    const json_t *v = json_object_get(json_object_get(o, a), b);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* The condition of that type in status.conditions, or NULL. */
static const json_t *condition(const json_t *live, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(live, "status"), "conditions"), i, c)
        if (strcmp(str_at(c, "type", NULL), type) == 0)
            return c;
    return NULL;
}

static bool condition_true(const json_t *live, const char *type)
{
    const json_t *c = condition(live, type);
    return c && strcmp(str_at(c, "status", NULL), "True") == 0;
}

/* "Scheduled" -> "SCHEDULED", "FailedValidation" -> "FAILED_VALIDATION". */
static char *upper_words(const char *s)
{
    struct sf_buf b = {0};
    for (size_t i = 0; s[i]; i++) {
        if (i && isupper((unsigned char)s[i]) && islower((unsigned char)s[i - 1]))
            sf_buf_puts(&b, "_");
        char ch[2] = {(char)toupper((unsigned char)s[i]), 0};
        sf_buf_puts(&b, ch);
    }
    return b.s ? b.s : sf_xstrdup("");
}

static json_t *deployment(const json_t *live)
{
    long long want = int_at(live, "spec", "replicas", 1);
    long long ready = int_at(live, "status", "readyReplicas", 0);
    long long avail = int_at(live, "status", "availableReplicas", 0);
    bool available = condition_true(live, "Available") && avail >= want;
    json_t *o;
    if (available)
        o = sf_status_new("AVAILABLE", true, "%lld/%lld replicas ready", ready, want);
    else {
        const json_t *c = condition(live, "Available");
        const char *msg = c ? str_at(c, "message", NULL) : "";
        o = sf_status_new("UNAVAILABLE", false, "%lld/%lld replicas ready, %lld available%s%s", ready,
                          want, avail, *msg ? ": " : "", msg);
    }
    json_object_set_new(o, "replicas", json_integer(want));
    json_object_set_new(o, "ready_replicas", json_integer(ready));
    json_object_set_new(o, "available_replicas", json_integer(avail));
    return o;
}

static json_t *crd(const json_t *live)
{
    const char *plural = str_at(json_object_get(live, "spec"), "names", "plural");
    const char *group = str_at(live, "spec", "group");
    if (condition_true(live, "Established"))
        return sf_status_new("ESTABLISHED", true, "serves %s.%s", plural, group);
    const json_t *names = condition(live, "NamesAccepted");
    const char *why = names && strcmp(str_at(names, "status", NULL), "False") == 0
                          ? str_at(names, "message", NULL)
                          : "";
    return sf_status_new("NOT_ESTABLISHED", false, "%s.%s is not served yet%s%s", plural, group,
                         *why ? ": " : "", why);
}

/* The Spark Operator's SparkApplication: status.applicationState.state.
 * Only a failure is unhealthy; a job waiting or running is doing well. */
static json_t *spark_application(const json_t *live)
{
    const json_t *st = json_object_get(live, "status");
    const char *state = str_at(json_object_get(st, "applicationState"), "state", NULL);
    const char *err = str_at(json_object_get(st, "applicationState"), "errorMessage", NULL);
    const char *driver = str_at(json_object_get(st, "driverInfo"), "podName", NULL);
    json_t *o;
    if (!*state)
        o = sf_status_new("NEW", true, "not submitted yet");
    else if (strcmp(state, "FAILED") == 0 || strcmp(state, "SUBMISSION_FAILED") == 0)
        o = sf_status_new(state, false, "%s%s%s",
                          strcmp(state, "FAILED") == 0 ? "the job failed"
                                                       : "the job could not be submitted",
                          *err ? ": " : "", err);
    else
        o = sf_status_new(state, true, "%s%s%s",
                          strcmp(state, "COMPLETED") == 0 ? "the job completed"
                                                          : "the job is in progress",
                          *driver ? ", driver pod " : "", driver);
    json_object_set_new(o, "application_state", json_string(state));
    if (*driver)
        json_object_set_new(o, "driver_pod", json_string(driver));
    return o;
}

static json_t *scheduled_spark_application(const json_t *live)
{
    const json_t *st = json_object_get(live, "status");
    const char *sched = str_at(st, "scheduleState", NULL);
    const char *last = str_at(st, "lastRun", NULL);
    const char *last_name = str_at(st, "lastRunName", NULL);
    const char *next = str_at(st, "nextRun", NULL);
    const char *reason = str_at(st, "reason", NULL);
    const char *cron = str_at(live, "spec", "schedule");
    char *state = *sched ? upper_words(sched) : sf_xstrdup("NEW");
    bool failed = strcmp(sched, "FailedValidation") == 0;
    json_t *o;
    if (failed)
        o = sf_status_new(state, false, "the schedule \"%s\" was refused%s%s", cron,
                          *reason ? ": " : "", reason);
    else if (*last)
        o = sf_status_new(state, true, "schedule \"%s\", last run %s%s%s%s", cron, last,
                          *last_name ? " (" : "", last_name, *last_name ? ")" : "");
    else
        o = sf_status_new(state, true, "schedule \"%s\", no run yet", cron);
    json_object_set_new(o, "schedule_state", json_string(sched));
    json_object_set_new(o, "last_run", *last ? json_string(last) : json_null());
    if (*last_name)
        json_object_set_new(o, "last_run_name", json_string(last_name));
    json_object_set_new(o, "next_run", *next ? json_string(next) : json_null());
    free(state);
    return o;
}

json_t *sf_kube_health(const json_t *live)
{
    const char *kind = str_at(live, "kind", NULL);
    const char *group = str_at(live, "apiVersion", NULL);
    json_t *o;
    if (strcmp(kind, "Deployment") == 0 && strncmp(group, "apps/", 5) == 0)
        o = deployment(live);
    else if (strcmp(kind, "CustomResourceDefinition") == 0)
        o = crd(live);
    else if (strcmp(kind, "SparkApplication") == 0)
        o = spark_application(live);
    else if (strcmp(kind, "ScheduledSparkApplication") == 0)
        o = scheduled_spark_application(live);
    else
        o = sf_status_new("EXISTS", true, "exists");
    json_object_set_new(o, "kind", json_string(kind));
    const char *ns = str_at(live, "metadata", "namespace");
    if (*ns)
        json_object_set_new(o, "namespace", json_string(ns));
    json_object_set_new(o, "name", json_string(str_at(live, "metadata", "name")));
    return o;
}

int sf_kube_manifest_status(struct sf_call *c, const json_t *recorded, json_t **out)
{
    *out = NULL;
    const char *id = json_string_value(json_object_get(recorded, "id"));
    if (!id || !*id)
        return 0;
    /* A cluster that does not answer (turned off, its kubeconfig no longer
     * valid) is what status is there to show: an unhealthy answer saying
     * why, not an error. Its messages never hold the token. */
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct sf_call cc = *c;
    cc.diags = &quiet;
    json_t *live = NULL;
    if (sf_kube_read(&cc, recorded, id, false, &live, NULL, NULL) < 0) {
        *out = sf_status_new("UNREACHABLE", false, "%s",
                             quiet.n ? quiet.items[0].summary : "the cluster does not answer");
        char *av, *kind, *ns, *name;
        if (sf_kube_id_parse(id, &av, &kind, &ns, &name) == 0) {
            json_object_set_new(*out, "kind", json_string(kind));
            if (*ns)
                json_object_set_new(*out, "namespace", json_string(ns));
            json_object_set_new(*out, "name", json_string(name));
            free(av);
            free(kind);
            free(ns);
            free(name);
        }
    } else if (live) {
        *out = sf_kube_health(live);
    }
    json_decref(live);
    sf_diags_free(&quiet);
    return 0;
}

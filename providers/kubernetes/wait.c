/*
 * The waits of kubernetes_* resources: after an apply, until the object is
 * what `wait:` asks for (a rollout complete, a CRD Established, a Job
 * Complete or a SparkApplication COMPLETED, a condition True, a field's
 * value); after a delete, until the object is gone (its finalizers done).
 * Both poll the object with GET, bounded by the call's deadline, and say
 * what they wait for on c->status. Polling keeps one request in flight per
 * object at a time; a watch would save requests, not time, at the sizes a
 * stack has.
 */
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "util.h"

#define POLL_FIRST_MS 100L
#define POLL_MAX_MS 1000L

static bool is_workload(const char *kind)
{
    return strcmp(kind, "Deployment") == 0 || strcmp(kind, "StatefulSet") == 0 ||
           strcmp(kind, "DaemonSet") == 0;
}

const char *sf_kube_wait_problem(const json_t *wait, const char *kind)
{
    if (!wait || json_is_null(wait))
        return NULL;
    if (!json_is_object(wait))
        return "wait is a mapping: {rollout: true}, {established: true}, {complete: true}, "
               "{condition: NAME} or {field: PATH, value: VALUE}";
    size_t kinds = 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)wait, k, v) {
        if (strcmp(k, "rollout") == 0 || strcmp(k, "established") == 0 ||
            strcmp(k, "complete") == 0) {
            if (!json_is_boolean(v))
                return "wait's rollout, established and complete are true or false";
            kinds += json_is_true(v);
        } else if (strcmp(k, "condition") == 0 || strcmp(k, "field") == 0) {
            if (!json_is_string(v) || !json_string_length(v))
                return "wait's condition and field are non-empty strings";
            kinds++;
        } else if (strcmp(k, "value") != 0) {
            return "wait has an unknown key (rollout, established, complete, condition, "
                   "field + value)";
        }
    }
    if (kinds > 1)
        return "wait asks for more than one thing: give one of rollout, established, complete, "
               "condition, field";
    if (json_object_get(wait, "field") && !json_object_get(wait, "value"))
        return "wait's field needs the value to wait for";
    if (json_object_get(wait, "value") && !json_object_get(wait, "field"))
        return "wait's value goes with a field";
    if (kind && json_is_true(json_object_get(wait, "rollout")) && !is_workload(kind))
        return "wait.rollout is for Deployment, StatefulSet and DaemonSet";
    if (kind && json_is_true(json_object_get(wait, "complete")) && strcmp(kind, "Job") != 0 &&
        strcmp(kind, "SparkApplication") != 0)
        return "wait.complete is for Job and SparkApplication";
    if (kind && json_is_true(json_object_get(wait, "established")) &&
        strcmp(kind, "CustomResourceDefinition") != 0)
        return "wait.established is for CustomResourceDefinition";
    return NULL;
}

static long long num(const json_t *o, const char *key, long long dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* The condition of that type, or NULL. */
static const json_t *condition(const json_t *obj, const char *type)
{
    const json_t *cs = json_object_get(json_object_get(obj, "status"), "conditions");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        const json_t *x = json_array_get(cs, i);
        const char *t = json_string_value(json_object_get(x, "type"));
        if (t && strcmp(t, type) == 0)
            return x;
    }
    return NULL;
}

static bool condition_true(const json_t *obj, const char *type)
{
    const char *s = json_string_value(json_object_get(condition(obj, type), "status"));
    return s && strcmp(s, "True") == 0;
}

/* Whether a workload's rollout is done; *why says what it waits for. */
static bool rollout_done(const json_t *obj, const char *kind, char **why)
{
    const json_t *spec = json_object_get(obj, "spec"), *st = json_object_get(obj, "status");
    long long gen = num(json_object_get(obj, "metadata"), "generation", 0);
    if (num(st, "observedGeneration", -1) < gen) {
        *why = sf_xstrdup("waiting for the controller to see the new generation");
        return false;
    }
    long long want, updated, ready;
    if (strcmp(kind, "DaemonSet") == 0) {
        want = num(st, "desiredNumberScheduled", 0);
        updated = num(st, "updatedNumberScheduled", 0);
        ready = num(st, "numberAvailable", 0);
    } else {
        want = num(spec, "replicas", 1);
        updated = num(st, "updatedReplicas", 0);
        ready = num(st, strcmp(kind, "Deployment") == 0 ? "availableReplicas" : "readyReplicas", 0);
    }
    if (updated < want || ready < want) {
        *why = sf_asprintf("rollout: %lld of %lld updated, %lld available", updated, want, ready);
        return false;
    }
    return true;
}

/* A dotted path's value ("status.phase"), or NULL. */
static const json_t *at_path(const json_t *obj, const char *path)
{
    const json_t *v = obj;
    const char *p = path;
    while (v && *p) {
        size_t n = strcspn(p, ".");
        char *seg = sf_xstrndup(p, n);
        v = json_object_get(v, seg);
        free(seg);
        p += n;
        if (*p == '.')
            p++;
    }
    return v;
}

static bool value_matches(const json_t *got, const json_t *want)
{
    if (!got)
        return false;
    if (json_is_string(want) && !json_is_string(got)) {
        char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
        bool eq = s && strcmp(s, json_string_value(want)) == 0;
        free(s);
        return eq;
    }
    return json_equal(got, want);
}

/* Whether a SparkApplication's run is over, as the Spark Operator reports
 * it in status.applicationState: 1 COMPLETED, -1 FAILED (the error names
 * the operator's errorMessage), 0 on its way (*why). A changed spec is
 * INVALIDATING and then submitted again, never the last run's COMPLETED. */
static int spark_app_done(struct sf_call *c, const json_t *obj, char **why)
{
    const json_t *as = json_object_get(json_object_get(obj, "status"), "applicationState");
    const char *state = json_string_value(json_object_get(as, "state"));
    const char *msg = json_string_value(json_object_get(as, "errorMessage"));
    if (state && strcmp(state, "COMPLETED") == 0)
        return 1;
    if (state && strcmp(state, "FAILED") == 0) {
        sf_kube_fail(c, SF_CLASS_INVALID, "the SparkApplication failed%s%s",
                     msg && *msg ? ": " : "", msg && *msg ? msg : "");
        return -1;
    }
    *why = sf_asprintf("waiting for the SparkApplication to complete (%s)",
                       state && *state ? state : "not submitted yet");
    return 0;
}

/* One look at the object: 1 done, 0 not yet (*why), -1 failed (error added). */
static int check(struct sf_call *c, const json_t *obj, const char *kind, const json_t *wait,
                 char **why)
{
    const char *cond = json_string_value(json_object_get(wait, "condition"));
    const char *field = json_string_value(json_object_get(wait, "field"));
    if (json_is_true(json_object_get(wait, "rollout")))
        return rollout_done(obj, kind, why) ? 1 : 0;
    if (json_is_true(json_object_get(wait, "complete")) && strcmp(kind, "SparkApplication") == 0)
        return spark_app_done(c, obj, why);
    if (json_is_true(json_object_get(wait, "complete"))) {
        if (condition_true(obj, "Failed")) {
            const json_t *f = condition(obj, "Failed");
            const char *reason = json_string_value(json_object_get(f, "reason"));
            const char *msg = json_string_value(json_object_get(f, "message"));
            sf_kube_fail(c, SF_CLASS_INVALID, "the Job failed%s%s%s%s", reason ? ": " : "",
                         reason ? reason : "", msg ? ": " : "", msg ? msg : "");
            return -1;
        }
        if (condition_true(obj, "Complete"))
            return 1;
        *why = sf_asprintf("waiting for the Job to complete (%lld active, %lld succeeded)",
                           num(json_object_get(obj, "status"), "active", 0),
                           num(json_object_get(obj, "status"), "succeeded", 0));
        return 0;
    }
    if (cond || json_is_true(json_object_get(wait, "established")) || !wait) {
        const char *t = cond ? cond : "Established";
        if (condition_true(obj, t))
            return 1;
        *why = sf_asprintf("waiting for condition %s", t);
        return 0;
    }
    if (field) {
        if (value_matches(at_path(obj, field), json_object_get(wait, "value")))
            return 1;
        *why = sf_asprintf("waiting for %s", field);
        return 0;
    }
    return 1;
}

static long next_delay(long d)
{
    d *= 2;
    return d > POLL_MAX_MS ? POLL_MAX_MS : d;
}

/* Whether wait asks for anything. */
static bool asks(const json_t *wait)
{
    return json_is_object(wait) && (json_is_true(json_object_get(wait, "rollout")) ||
                                    json_is_true(json_object_get(wait, "established")) ||
                                    json_is_true(json_object_get(wait, "complete")) ||
                                    json_object_get(wait, "condition") ||
                                    json_object_get(wait, "field"));
}

bool sf_kube_waits(const char *kind, const json_t *wait)
{
    return asks(wait) || strcmp(kind, "CustomResourceDefinition") == 0;
}

int sf_kube_wait(struct sf_call *c, struct sf_kube_cluster *k, const char *path,
                 const char *kind, const json_t *wait)
{
    if (!sf_kube_waits(kind, wait))
        return 0;
    if (!asks(wait))
        wait = NULL; /* a CRD: Established */
    long delay = POLL_FIRST_MS;
    char *last = NULL;
    for (;;) {
        struct sf_http_resp rs;
        if (sf_kube_request(c, k, "GET", path, NULL, NULL, &rs) < 0) {
            sf_http_resp_free(&rs);
            free(last);
            return -1;
        }
        if (rs.status != 200) {
            sf_kube_error(c, "waiting", "GET", path, &rs);
            sf_http_resp_free(&rs);
            free(last);
            return -1;
        }
        json_t *obj = json_loadb(rs.body, rs.len, 0, NULL);
        sf_http_resp_free(&rs);
        char *why = NULL;
        int got = check(c, obj, kind, wait, &why);
        json_decref(obj);
        if (got != 0) {
            free(why);
            free(last);
            return got > 0 ? 0 : -1;
        }
        if (!last || strcmp(last, why) != 0)
            sf_kube_status(c, "%s", why);
        free(last);
        last = why;
        if (c->deadline > 0 && sf_now() + delay / 1000.0 >= c->deadline) {
            sf_kube_fail(c, SF_CLASS_RETRYABLE, "timed out %s", last);
            free(last);
            return -1;
        }
        sf_sleep_ms(delay);
        delay = next_delay(delay);
    }
}

int sf_kube_wait_gone(struct sf_call *c, struct sf_kube_cluster *k, const char *path)
{
    long delay = POLL_FIRST_MS;
    bool said = false;
    for (;;) {
        struct sf_http_resp rs;
        if (sf_kube_request(c, k, "GET", path, NULL, NULL, &rs) < 0) {
            sf_http_resp_free(&rs);
            return -1;
        }
        long st = rs.status;
        if (st != 404 && st != 200)
            sf_kube_error(c, "waiting for the deletion", "GET", path, &rs);
        sf_http_resp_free(&rs);
        if (st == 404)
            return 0;
        if (st != 200)
            return -1;
        if (!said)
            sf_kube_status(c, "waiting until it is gone (finalizers, dependents)");
        said = true;
        if (c->deadline > 0 && sf_now() + delay / 1000.0 >= c->deadline) {
            sf_kube_fail(c, SF_CLASS_RETRYABLE, "timed out waiting for the object to be deleted");
            return -1;
        }
        sf_sleep_ms(delay);
        delay = next_delay(delay);
    }
}

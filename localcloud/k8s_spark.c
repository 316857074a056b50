/*
 * The Spark Operator's controllers, as localcloud plays them (see k8s.h):
 * localcloud does not know Spark, but once a cluster has the operator's
 * CRDs, the objects of group sparkoperator.k8s.io move along as the
 * Kubeflow Spark Operator would move them, so that a stack's jobs can be
 * waited for and watched:
 *   - a SparkApplication is submitted (state SUBMITTED, its driver pod
 *     NAME-driver created Pending, owned by the application), RUNNING once
 *     the pod runs (the pod controller's --delay-ms), and after --delay-ms
 *     more the driver exits: the pod Succeeded and the application
 *     COMPLETED, or, when the application's annotation
 *     localcloud.sparkform.dev/outcome is "failed", the pod Failed and the
 *     application FAILED with the operator's errorMessage. A changed spec
 *     is INVALIDATING at once (as the operator's update filter marks it),
 *     then the old driver goes and the application is submitted again;
 *   - a ScheduledSparkApplication is "Scheduled" (no run is ever made, and
 *     no nextRun is computed: that needs a cron parser);
 *   - a SparkConnect gets its server pod and Service NAME-server (port
 *     15002) and is Ready once the pod runs.
 * Status is written as a controller does (the /status subresource's
 * managedFields, manager spark-operator), so a server-side apply of the
 * spec by another manager never conflicts with it.
 *
 * k8s_ctrl.c calls lc_k8s_spark_note on every write of these kinds and
 * lc_k8s_spark_step for them on every tick. Their entries in k->due are
 * {"gen": the generation the current run is of, "idle": nothing to do
 * until the next write, "rerun": the spec changed, "ends": when the driver
 * exits (ms)}. A restart notes every stored object again, adopting its
 * current run.
 */
#include "k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_patch.h"
#include "store.h"
#include "util.h"

#define SPARK_GROUP "sparkoperator.k8s.io"
#define OPERATOR "spark-operator"
#define KUBELET "kubelet"
#define OUTCOME "localcloud.sparkform.dev/outcome"
#define CONNECT_PORT 15002
/* what the operator says of a driver whose container exited non-zero */
#define DRIVER_FAILED "driver container failed with ExitCode: 1, Reason: Error"

enum spark_kind { SPARK_NONE, SPARK_APP, SPARK_SCHEDULED, SPARK_CONNECT };

static enum spark_kind kind_of(const char *kindkey, const json_t *obj)
{
    const char *d1 = strchr(kindkey, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    const char *kind = lc_k8s_str(obj, "kind");
    if (!d2 || strcmp(d2 + 1, SPARK_GROUP) != 0 || !kind)
        return SPARK_NONE;
    if (strcmp(kind, "SparkApplication") == 0)
        return SPARK_APP;
    if (strcmp(kind, "ScheduledSparkApplication") == 0)
        return SPARK_SCHEDULED;
    if (strcmp(kind, "SparkConnect") == 0)
        return SPARK_CONNECT;
    return SPARK_NONE;
}

bool lc_k8s_spark_owns(const char *kindkey, const json_t *obj)
{
    return obj && kind_of(kindkey, obj) != SPARK_NONE;
}

static const char *meta_str(const json_t *o, const char *key)
{
    return lc_k8s_str(json_object_get(o, "metadata"), key);
}

static const char *app_state(const json_t *app)
{
    const char *s = lc_k8s_str(json_object_get(json_object_get(app, "status"), "applicationState"),
                               "state");
    return s ? s : "";
}

static bool is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

static char *due_key(const char *kindkey, const char *id)
{
    return sf_asprintf("%s %s", kindkey, id);
}

static char *cluster_of(const char *kindkey)
{
    const char *d = strchr(kindkey, '.');
    return sf_xstrndup(kindkey, d ? (size_t)(d - kindkey) : strlen(kindkey));
}

/* Makes status the object's status, written as a controller writes it
 * (the status subresource) by manager; nothing when it is the same. The
 * stored object old is replaced: do not use it after. */
static int write_status(struct lc_k8s *k, const char *cluster, const char *kindkey,
                        const char *id, const json_t *old, json_t *status, const char *manager,
                        const char *now)
{
    json_t *obj = json_deep_copy(old);
    json_object_set_new(obj, "status", status);
    int rc = 0;
    if (!json_equal(obj, old)) {
        lc_k8s_track_update(obj, old, manager, lc_k8s_str(old, "apiVersion"), "status", now);
        rc = lc_k8s_commit(k, cluster, kindkey, id, obj, old);
    }
    json_decref(obj);
    return rc;
}

/* A copy of the object's status (an empty one when it has none). */
static json_t *status_copy(const json_t *obj)
{
    json_t *st = json_object_get(obj, "status");
    return json_is_object(st) ? json_deep_copy(st) : json_object();
}

/* ---------- the objects the operator makes ---------- */

static json_t *child_get(struct lc_k8s *k, const char *cluster, const char *plural,
                         const char *ns, const char *name)
{
    char *kindkey = lc_k8s_kindkey(cluster, lc_k8s_builtin(plural));
    char *id = lc_k8s_id(ns, name);
    json_t *o = lc_store_get(lc_server_store(k->srv), LC_K8S_API, kindkey, id);
    free(id);
    free(kindkey);
    return o;
}

static bool owned_by(const json_t *obj, const json_t *owner)
{
    const char *uid = meta_str(owner, "uid");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, r)
        if (uid && is(lc_k8s_str(r, "uid"), uid))
            return true;
    return false;
}

/* Whether objects may be made in the namespace (it exists and is not
 * being deleted). */
static bool namespace_open(struct lc_k8s *k, const char *cluster, const char *ns)
{
    json_t *o = child_get(k, cluster, "namespaces", NULL, ns);
    return o && !json_object_get(json_object_get(o, "metadata"), "deletionTimestamp");
}

/* Creates obj (stolen: a Pod or a Service with its name, namespace,
 * labels and spec) as owner's dependent, the way the API server stores a
 * new object: uid, creationTimestamp, defaults, managedFields. 0 made, 1
 * not made (*why says why: a name taken, an invalid object), -1 the write
 * failed. */
static int create_child(struct lc_k8s *k, const char *cluster, const char *plural, json_t *obj,
                        const json_t *owner, const char *now, char **why)
{
    const struct lc_k8s_type *t = lc_k8s_builtin(plural);
    json_t *m = json_object_get(obj, "metadata");
    char *uid = sf_uuid();
    json_object_set_new(m, "uid", json_string(uid));
    free(uid);
    json_object_set_new(m, "creationTimestamp", json_string(now));
    json_object_set_new(m, "generation", json_integer(1));
    json_object_set_new(
        m, "ownerReferences",
        json_pack("[{s:s?, s:s?, s:s?, s:s?, s:b, s:b}]", "apiVersion",
                  lc_k8s_str(owner, "apiVersion"), "kind", lc_k8s_str(owner, "kind"), "name",
                  meta_str(owner, "name"), "uid", meta_str(owner, "uid"), "controller", 1,
                  "blockOwnerDeletion", 1));
    lc_k8s_default(t, obj);
    const char *ns = lc_k8s_str(m, "namespace"), *name = lc_k8s_str(m, "name");
    int rc = 1;
    json_t *causes = lc_k8s_validate(t, obj, false);
    if (causes) {
        json_t *c0 = json_array_get(causes, 0);
        *why = sf_asprintf("%s \"%s\" is invalid: %s: %s", t->kind, name,
                           lc_k8s_str(c0, "field"), lc_k8s_str(c0, "message"));
        json_decref(causes);
    } else if (child_get(k, cluster, plural, ns, name)) {
        *why = sf_asprintf("%s \"%s\" already exists", plural, name);
    } else {
        lc_k8s_track_update(obj, NULL, OPERATOR, "v1", NULL, now);
        char *kindkey = lc_k8s_kindkey(cluster, t);
        char *id = lc_k8s_id(ns, name);
        rc = lc_k8s_commit(k, cluster, kindkey, id, obj, NULL);
        free(id);
        free(kindkey);
    }
    json_decref(obj);
    return rc;
}

/* The image a pod of the application runs: the role's own, else the
 * application's. */
static const char *image_of(const json_t *spec, const char *role)
{
    const char *img = lc_k8s_str(json_object_get(spec, role), "image");
    img = img ? img : lc_k8s_str(spec, "image");
    return img ? img : "spark:3.5.5";
}

/* ---------- SparkApplication ---------- */

static json_t *due_entry(struct lc_k8s *k, const char *kindkey, const char *id)
{
    char *key = due_key(kindkey, id);
    json_t *d = json_object_get(k->due, key);
    free(key);
    return d;
}

/* The application's new run: its driver pod made, SUBMITTED; FAILED when
 * the pod cannot be made (the operator's spark-submit failing). */
static void submit(struct lc_k8s *k, const char *cluster, const char *kindkey, const char *id,
                   const json_t *app, bool rerun, const char *now)
{
    const char *name = meta_str(app, "name"), *ns = meta_str(app, "namespace");
    json_t *spec = json_object_get(app, "spec");
    char *pod_name = sf_asprintf("%s-driver", name);
    char *sub_id = sf_uuid();
    char *hex = sf_random_hex(16);
    char *app_id = sf_asprintf("spark-%s", hex);
    json_t *labels = json_pack("{s:s, s:s?, s:s, s:s, s:s}", "spark-role", "driver",
                               SPARK_GROUP "/app-name", name,
                               SPARK_GROUP "/launched-by-spark-operator", "true",
                               SPARK_GROUP "/submission-id", sub_id, "spark-app-selector", app_id);
    /* what spark-submit starts the driver with */
    json_t *args = json_pack("[s]", "driver");
    const char *main_class = lc_k8s_str(spec, "mainClass");
    const char *file = lc_k8s_str(spec, "mainApplicationFile");
    if (main_class) {
        json_array_append_new(args, json_string("--class"));
        json_array_append_new(args, json_string(main_class));
    }
    if (file)
        json_array_append_new(args, json_string(file));
    size_t i;
    json_t *arg;
    json_array_foreach(json_object_get(spec, "arguments"), i, arg)
        if (json_is_string(arg))
            json_array_append(args, arg);
    json_t *container = json_pack("{s:s, s:s, s:o}", "name", "spark-kubernetes-driver", "image",
                                  image_of(spec, "driver"), "args", args);
    json_t *pod_spec = json_pack("{s:[o], s:s}", "containers", container, "restartPolicy", "Never");
    const char *sa = lc_k8s_str(json_object_get(spec, "driver"), "serviceAccount");
    if (sa)
        json_object_set_new(pod_spec, "serviceAccountName", json_string(sa));
    json_t *pod = json_pack("{s:s, s:s, s:{s:s, s:s?, s:o}, s:o}", "apiVersion", "v1", "kind",
                            "Pod", "metadata", "name", pod_name, "namespace", ns, "labels",
                            labels, "spec", pod_spec);
    char *why = NULL;
    int made = create_child(k, cluster, "pods", pod, app, now, &why);
    if (made >= 0) {
        json_t *st = status_copy(app);
        json_int_t attempts =
            rerun ? 0 : json_integer_value(json_object_get(st, "submissionAttempts"));
        json_object_set_new(st, "submissionAttempts", json_integer(attempts + 1));
        json_object_set_new(st, "lastSubmissionAttemptTime", json_string(now));
        json_object_set_new(st, "executionAttempts", json_integer(0));
        json_object_del(st, "terminationTime");
        json_object_del(st, "executorState");
        if (made == 0) {
            json_object_set_new(st, "sparkApplicationId", json_string(app_id));
            json_object_set_new(st, "submissionID", json_string(sub_id));
            json_object_set_new(st, "driverInfo", json_pack("{s:s}", "podName", pod_name));
            json_object_set_new(st, "applicationState", json_pack("{s:s}", "state", "SUBMITTED"));
        } else {
            char *msg = sf_asprintf("failed to run spark-submit: %s", why);
            json_object_set_new(st, "driverInfo", json_object());
            json_object_set_new(st, "terminationTime", json_string(now));
            json_object_set_new(st, "applicationState",
                                json_pack("{s:s, s:s}", "state", "FAILED", "errorMessage", msg));
            free(msg);
        }
        write_status(k, cluster, kindkey, id, app, st, OPERATOR, now);
    }
    free(why);
    free(app_id);
    free(hex);
    free(sub_id);
    free(pod_name);
}

/* The driver exits: its pod Succeeded, or Failed with exit code 1 when the
 * application asks to fail. */
static void driver_exits(struct lc_k8s *k, const char *cluster, const json_t *app,
                         const json_t *pod, const char *now)
{
    json_t *annotations = json_object_get(json_object_get(app, "metadata"), "annotations");
    bool failed = is(lc_k8s_str(annotations, OUTCOME), "failed");
    json_t *st = status_copy(pod);
    json_object_set_new(st, "phase", json_string(failed ? "Failed" : "Succeeded"));
    json_t *conds = json_array();
    const char *types[] = {"Initialized", "Ready", "ContainersReady", "PodScheduled"};
    for (size_t i = 0; i < 4; i++) {
        bool up = i == 0 || i == 3;
        json_t *c = json_pack("{s:s, s:s, s:n, s:s}", "type", types[i], "status",
                              up ? "True" : "False", "lastProbeTime", "lastTransitionTime", now);
        if (!up)
            json_object_set_new(c, "reason", json_string("PodCompleted"));
        json_array_append_new(conds, c);
    }
    json_object_set_new(st, "conditions", conds);
    json_t *cs = json_array();
    size_t i;
    json_t *ctr;
    const char *started = lc_k8s_str(st, "startTime");
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, ctr)
        json_array_append_new(
            cs, json_pack("{s:s?, s:s?, s:b, s:b, s:i, s:{s:{s:i, s:s, s:s, s:s}}}", "name",
                          lc_k8s_str(ctr, "name"), "image", lc_k8s_str(ctr, "image"), "ready", 0,
                          "started", 0, "restartCount", 0, "state", "terminated", "exitCode",
                          failed ? 1 : 0, "reason", failed ? "Error" : "Completed", "startedAt",
                          started ? started : now, "finishedAt", now));
    json_object_set_new(st, "containerStatuses", cs);
    char *kindkey = lc_k8s_kindkey(cluster, lc_k8s_builtin("pods"));
    char *id = lc_k8s_id(meta_str(pod, "namespace"), meta_str(pod, "name"));
    write_status(k, cluster, kindkey, id, pod, st, KUBELET, now);
    free(id);
    free(kindkey);
}

/* The application's state changes to state (errorMessage msg when not
 * NULL); a terminal state records when the run ended. */
static void app_state_to(struct lc_k8s *k, const char *cluster, const char *kindkey,
                         const char *id, const json_t *app, const char *state, const char *msg,
                         const char *now)
{
    json_t *st = status_copy(app);
    json_t *as = json_pack("{s:s}", "state", state);
    if (msg)
        json_object_set_new(as, "errorMessage", json_string(msg));
    json_object_set_new(st, "applicationState", as);
    if (is(state, "RUNNING"))
        json_object_set_new(st, "executionAttempts", json_integer(1));
    if (is(state, "COMPLETED") || is(state, "FAILED"))
        json_object_set_new(st, "terminationTime", json_string(now));
    write_status(k, cluster, kindkey, id, app, st, OPERATOR, now);
}

static void app_step(struct lc_k8s *k, const char *cluster, const char *kindkey, const char *id,
                     const json_t *app, json_t *d, long long now_ms, const char *now)
{
    if (json_is_true(json_object_get(d, "idle")))
        return;
    const char *state = app_state(app);
    char *pod_name = sf_asprintf("%s-driver", meta_str(app, "name"));
    const char *ns = meta_str(app, "namespace");
    json_t *pod = child_get(k, cluster, "pods", ns, pod_name);
    bool ours = pod && owned_by(pod, app);
    free(pod_name);
    bool rerun = json_is_true(json_object_get(d, "rerun"));
    if (rerun || !*state || is(state, "INVALIDATING") || is(state, "PENDING_RERUN")) {
        /* a new run: the old driver goes first */
        if (ours) {
            char *pkind = lc_k8s_kindkey(cluster, lc_k8s_builtin("pods"));
            char *pid = lc_k8s_id(ns, meta_str(pod, "name"));
            if (!json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))
                lc_k8s_delete_object(k, cluster, pkind, pid, "Background");
            bool gone = !lc_store_get(lc_server_store(k->srv), LC_K8S_API, pkind, pid);
            free(pid);
            free(pkind);
            if (!gone)
                return; /* its finalizers first */
        }
        if (!namespace_open(k, cluster, ns))
            return;
        json_object_del(d, "rerun");
        json_object_del(d, "ends");
        submit(k, cluster, kindkey, id, app, rerun || *state, now);
        return;
    }
    if (!is(state, "SUBMITTED") && !is(state, "RUNNING")) {
        json_object_set_new(d, "idle", json_true()); /* COMPLETED, FAILED: done */
        return;
    }
    if (!ours) {
        app_state_to(k, cluster, kindkey, id, app, "FAILED", "driver pod not found", now);
        return;
    }
    const char *phase = lc_k8s_str(json_object_get(pod, "status"), "phase");
    if (is(phase, "Succeeded")) {
        app_state_to(k, cluster, kindkey, id, app, "COMPLETED", NULL, now);
    } else if (is(phase, "Failed")) {
        app_state_to(k, cluster, kindkey, id, app, "FAILED", DRIVER_FAILED, now);
    } else if (is(phase, "Running") && is(state, "SUBMITTED")) {
        /* the live entry: the write below notes the application again */
        json_object_set_new(d, "ends", json_integer(now_ms + k->delay_ms));
        app_state_to(k, cluster, kindkey, id, app, "RUNNING", NULL, now);
    } else if (is(phase, "Running") && json_integer_value(json_object_get(d, "ends")) <= now_ms) {
        driver_exits(k, cluster, app, pod, now);
    }
}

/* ---------- ScheduledSparkApplication ---------- */

static void scheduled_step(struct lc_k8s *k, const char *cluster, const char *kindkey,
                           const char *id, const json_t *obj, json_t *d, const char *now)
{
    json_object_set_new(d, "idle", json_true());
    json_t *st = status_copy(obj);
    json_object_set_new(st, "scheduleState", json_string("Scheduled"));
    write_status(k, cluster, kindkey, id, obj, st, OPERATOR, now);
}

/* ---------- SparkConnect ---------- */

static json_t *connect_labels(const char *name)
{
    return json_pack("{s:s, s:s, s:s}", "spark-role", "connect-server",
                     SPARK_GROUP "/connect-name", name, SPARK_GROUP "/launched-by-spark-operator",
                     "true");
}

static void connect_step(struct lc_k8s *k, const char *cluster, const char *kindkey,
                         const char *id, const json_t *conn, json_t *d, const char *now)
{
    const char *name = meta_str(conn, "name"), *ns = meta_str(conn, "namespace");
    if (!namespace_open(k, cluster, ns))
        return;
    char *server = sf_asprintf("%s-server", name);
    char *why = NULL;
    json_t *st = status_copy(conn);
    if (!lc_k8s_str(st, "startTime"))
        json_object_set_new(st, "startTime", json_string(now));
    int rc = 0;
    if (!child_get(k, cluster, "services", ns, server)) {
        json_t *svc = json_pack(
            "{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:o, s:[{s:s, s:i, s:i, s:s, s:s}]}}",
            "apiVersion", "v1", "kind", "Service", "metadata", "name", server, "namespace", ns,
            "labels", connect_labels(name), "spec", "selector", connect_labels(name), "ports",
            "name", "spark-connect-server", "port", CONNECT_PORT, "targetPort", CONNECT_PORT,
            "protocol", "TCP", "appProtocol", "grpc");
        rc = create_child(k, cluster, "services", svc, conn, now, &why);
    }
    json_t *pod = child_get(k, cluster, "pods", ns, server);
    if (rc == 0 && !pod) {
        json_t *ctr = json_pack("{s:s, s:s, s:[{s:s, s:i}]}", "name", "spark-connect-server",
                                "image", image_of(json_object_get(conn, "spec"), "server"),
                                "ports", "name", "spark-connect", "containerPort", CONNECT_PORT);
        json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:[o]}}", "apiVersion", "v1",
                              "kind", "Pod", "metadata", "name", server, "namespace", ns,
                              "labels", connect_labels(name), "spec", "containers", ctr);
        rc = create_child(k, cluster, "pods", p, conn, now, &why);
    }
    pod = child_get(k, cluster, "pods", ns, server);
    bool ready = pod && owned_by(pod, conn) &&
                 is(lc_k8s_str(json_object_get(pod, "status"), "phase"), "Running");
    const char *state = rc != 0 ? "Failed" : ready ? "Ready" : "NotReady";
    if (!is(lc_k8s_str(st, "state"), state)) {
        json_object_set_new(st, "state", json_string(state));
        json_object_set_new(st, "lastUpdateTime", json_string(now));
        char *msg = why ? sf_xstrdup(why)
                        : ready ? sf_xstrdup("Server pod is ready")
                                : sf_xstrdup("Server pod is not ready");
        json_object_set_new(st, "conditions",
                            json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "type", "ServerPodReady",
                                      "status", ready ? "True" : "False", "reason",
                                      ready ? "ServerPodReady" : "ServerPodNotReady", "message",
                                      msg, "lastTransitionTime", now));
        free(msg);
    }
    json_object_set_new(st, "server",
                        json_pack("{s:s, s:s?, s:s}", "podName", server, "podIp",
                                  lc_k8s_str(json_object_get(pod, "status"), "podIP"),
                                  "serviceName", server));
    /* Ready or Failed: nothing more until the next change */
    if (ready || rc != 0)
        json_object_set_new(d, "idle", json_true());
    write_status(k, cluster, kindkey, id, conn, st, OPERATOR, now);
    free(why);
    free(server);
}

/* ---------- the hooks ---------- */

void lc_k8s_spark_note(struct lc_k8s *k, const char *kindkey, const char *id, const json_t *obj)
{
    char *key = due_key(kindkey, id);
    json_t *d = json_object_get(k->due, key);
    json_int_t gen =
        json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
    const char *state = app_state(obj);
    if (!d || !json_object_get(d, "gen")) {
        /* new, or adopted as it stands after a restart */
        json_object_set_new(k->due, key, json_pack("{s:I}", "gen", gen));
    } else if (json_integer_value(json_object_get(d, "gen")) != gen) {
        json_object_set_new(k->due, key, json_pack("{s:I, s:b}", "gen", gen, "rerun", 1));
        /* The operator marks a changed application INVALIDATING as soon as
         * it sees the update, before anything else: whoever waits for it
         * to complete never sees the last run's COMPLETED as this one's.
         * (Not while the controller starts: the store is being walked.) */
        if (kind_of(kindkey, obj) == SPARK_APP && *state && k->ticker_started) {
            char now[32];
            lc_format_time(lc_now_ms(), false, now, sizeof(now));
            char *cluster = cluster_of(kindkey);
            json_t *st = status_copy(obj);
            json_object_set_new(st, "applicationState",
                                json_pack("{s:s}", "state", "INVALIDATING"));
            write_status(k, cluster, kindkey, id, obj, st, OPERATOR, now);
            free(cluster);
        }
    } else {
        json_object_set_new(d, "idle", json_false());
    }
    free(key);
}

void lc_k8s_spark_step(struct lc_k8s *k, const char *cluster, const char *kindkey, const char *id,
                       const json_t *obj, long long now_ms, const char *now)
{
    json_t *d = due_entry(k, kindkey, id);
    if (!d || json_is_true(json_object_get(d, "idle")))
        return;
    json_incref(d); /* a write below notes the object again and may replace it */
    switch (kind_of(kindkey, obj)) {
    case SPARK_APP: app_step(k, cluster, kindkey, id, obj, d, now_ms, now); break;
    case SPARK_SCHEDULED: scheduled_step(k, cluster, kindkey, id, obj, d, now); break;
    case SPARK_CONNECT: connect_step(k, cluster, kindkey, id, obj, d, now); break;
    case SPARK_NONE: break;
    }
    json_decref(d);
}

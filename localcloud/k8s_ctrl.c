/*
 * The controllers of localcloud's Kubernetes API: a thread that wakes ten
 * times a second, takes the world lock and moves objects along with time,
 * as a cluster's controllers and kubelets would:
 *   - Deployments, StatefulSets, DaemonSets and Pods report their spec seen
 *     at once and ready after --delay-ms; Jobs run for --delay-ms, then
 *     complete;
 *   - a terminating namespace deletes its contents, then goes;
 *   - an object deleted with propagationPolicy Foreground waits for its
 *     dependents to go, Orphan frees them; dependents whose owners are all
 *     gone are deleted (Background);
 *   - service-account token Secrets get their token (k8s_auth.c);
 *   - the Spark Operator's objects run their course (k8s_spark.c);
 *   - the objects of a cluster that no longer exists are purged.
 * Every write goes through lc_k8s_commit, so watches see it.
 *
 * What waits is noted by lc_k8s_ctrl_note on every write, in k->due:
 * {"<kind key> <id>": {"at": ms, "gen": generation}}; a restart notes
 * everything stored again.
 */
#include "k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "containerinfra.h"
#include "k8s_patch.h"
#include "store.h"
#include "util.h"

#define TICK_MS 100
#define CONTROLLER "kube-controller-manager"

/* "<cluster>.<plural>[.<group>]": the plural (into buf) and the cluster. */
static void split_kindkey(const char *kindkey, char *cluster, size_t cn, char *plural, size_t pn)
{
    const char *d1 = strchr(kindkey, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    snprintf(cluster, cn, "%.*s", d1 ? (int)(d1 - kindkey) : 0, kindkey);
    snprintf(plural, pn, "%.*s", d1 ? (int)((d2 ? d2 : d1 + strlen(d1)) - d1 - 1) : 0,
             d1 ? d1 + 1 : "");
}

static bool builtin_group(const char *kindkey, const char *plural, const char *group)
{
    const char *d1 = strchr(kindkey, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    return d1 && strncmp(d1 + 1, plural, strlen(plural)) == 0 &&
           (group[0] ? d2 && strcmp(d2 + 1, group) == 0 : !d2);
}

static bool is_workload(const char *kindkey, const char **which)
{
    static const char *const kinds[][2] = {{"deployments", "apps"}, {"statefulsets", "apps"},
                                           {"daemonsets", "apps"},  {"jobs", "batch"},
                                           {"pods", ""},            {NULL, NULL}};
    for (size_t i = 0; kinds[i][0]; i++)
        if (builtin_group(kindkey, kinds[i][0], kinds[i][1])) {
            *which = kinds[i][0];
            return true;
        }
    return false;
}

static bool has_condition(const json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
    {
        const char *t = lc_k8s_str(c, "type"), *s = lc_k8s_str(c, "status");
        if (t && s && strcmp(t, type) == 0 && strcmp(s, "True") == 0)
            return true;
    }
    return false;
}

/* Whether the workload has reached its final status for its generation. */
static bool settled(const char *which, const json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata"), *st = json_object_get(obj, "status");
    if (strcmp(which, "jobs") == 0)
        return has_condition(obj, "Complete") ||
               json_is_true(json_object_get(json_object_get(obj, "spec"), "suspend"));
    if (strcmp(which, "pods") == 0) {
        /* a pod that has run to its end (a Spark driver) stays ended */
        const char *phase = lc_k8s_str(st, "phase");
        return phase && (strcmp(phase, "Running") == 0 || strcmp(phase, "Succeeded") == 0 ||
                         strcmp(phase, "Failed") == 0);
    }
    if (json_integer_value(json_object_get(st, "observedGeneration")) !=
        json_integer_value(json_object_get(m, "generation")))
        return false;
    json_t *r = json_object_get(json_object_get(obj, "spec"), "replicas");
    json_int_t want = r ? json_integer_value(r) : 1;
    if (strcmp(which, "deployments") == 0)
        return has_condition(obj, "Available") &&
               json_integer_value(json_object_get(st, "availableReplicas")) == want;
    if (strcmp(which, "statefulsets") == 0)
        return json_integer_value(json_object_get(st, "readyReplicas")) == want &&
               lc_k8s_str(st, "currentRevision") && lc_k8s_str(st, "updateRevision") &&
               strcmp(lc_k8s_str(st, "currentRevision"), lc_k8s_str(st, "updateRevision")) == 0;
    return json_object_get(st, "desiredNumberScheduled") &&
           json_integer_value(json_object_get(st, "numberAvailable")) ==
               json_integer_value(json_object_get(st, "desiredNumberScheduled"));
}

void lc_k8s_ctrl_note(struct lc_k8s *k, const char *kindkey, const char *id, const json_t *obj)
{
    char *key = sf_asprintf("%s %s", kindkey, id);
    const char *which;
    json_t *m = json_object_get(obj, "metadata");
    if (!obj) {
        json_object_del(k->due, key);
    } else if (json_object_get(m, "deletionTimestamp")) {
        /* terminating namespaces and owners waiting on their dependents */
        json_object_set_new(k->due, key, json_pack("{s:I, s:I}", "at", (json_int_t)0, "gen", (json_int_t)-1));
    } else if (lc_k8s_spark_owns(kindkey, obj)) {
        lc_k8s_spark_note(k, kindkey, id, obj);
    } else if (is_workload(kindkey, &which)) {
        json_int_t gen = json_integer_value(json_object_get(m, "generation"));
        json_t *d = json_object_get(k->due, key);
        if (settled(which, obj))
            json_object_del(k->due, key);
        else if (!d || json_integer_value(json_object_get(d, "gen")) != gen)
            json_object_set_new(k->due, key,
                                json_pack("{s:I, s:I}", "at", (json_int_t)(lc_now_ms() + k->delay_ms),
                                          "gen", gen));
    } else if (lc_k8s_auth_token_pending(kindkey, obj)) {
        json_object_set_new(k->due, key, json_pack("{s:I}", "at", (json_int_t)0));
    }
    free(key);
}

/* ---------- workloads ---------- */

static json_t *condition(const char *type, const char *status, const char *reason,
                         const char *msg, const char *now)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status,
                     "lastUpdateTime", now, "lastTransitionTime", now, "reason", reason,
                     "message", msg);
}

/* Nodes of the cluster: what a DaemonSet runs on. */
static json_int_t node_count(struct lc_k8s *k, const char *cluster)
{
    json_int_t n = 0;
    const char *id;
    json_t *ng;
    json_object_foreach(lc_store_kind(lc_server_store(k->srv), LC_CI_API, "nodegroups"), id, ng)
        if (lc_k8s_str(ng, "cluster_id") && strcmp(lc_k8s_str(ng, "cluster_id"), cluster) == 0)
            n += json_integer_value(json_object_get(ng, "node_count"));
    return n;
}

/* The status a workload shows: ready (its delay is over) or on its way. */
static json_t *workload_status(struct lc_k8s *k, const char *cluster, const char *which,
                               const json_t *obj, bool ready, const char *now)
{
    json_t *spec = json_object_get(obj, "spec");
    json_t *old = json_object_get(obj, "status");
    json_int_t gen = json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
    json_t *r = json_object_get(spec, "replicas");
    json_int_t want = r ? json_integer_value(r) : 1;
    const char *name = lc_k8s_str(json_object_get(obj, "metadata"), "name");
    json_t *st = json_object();
    if (strcmp(which, "deployments") == 0) {
        json_object_set_new(st, "observedGeneration", json_integer(gen));
        json_object_set_new(st, "replicas", json_integer(want));
        json_object_set_new(st, "updatedReplicas", json_integer(want));
        char *rs = sf_asprintf("ReplicaSet \"%s\" %s", name,
                               ready ? "has successfully progressed." : "is progressing.");
        if (ready) {
            json_object_set_new(st, "readyReplicas", json_integer(want));
            json_object_set_new(st, "availableReplicas", json_integer(want));
        } else {
            json_object_set_new(st, "unavailableReplicas", json_integer(want));
        }
        json_object_set_new(
            st, "conditions",
            json_pack("[o, o]",
                      condition("Available", ready ? "True" : "False",
                                ready ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                                ready ? "Deployment has minimum availability."
                                      : "Deployment does not have minimum availability.",
                                now),
                      condition("Progressing", "True",
                                ready ? "NewReplicaSetAvailable" : "ReplicaSetUpdated", rs, now)));
        free(rs);
    } else if (strcmp(which, "statefulsets") == 0) {
        char *rev = sf_asprintf("%s-%lld", name, (long long)gen);
        json_object_set_new(st, "observedGeneration", json_integer(gen));
        json_object_set_new(st, "replicas", json_integer(want));
        json_object_set_new(st, "updatedReplicas", json_integer(want));
        json_object_set_new(st, "readyReplicas", json_integer(ready ? want : 0));
        json_object_set_new(st, "availableReplicas", json_integer(ready ? want : 0));
        json_object_set_new(st, "currentReplicas", json_integer(ready ? want : 0));
        json_object_set_new(st, "updateRevision", json_string(rev));
        json_object_set_new(st, "currentRevision",
                            json_string(ready ? rev : lc_k8s_str(old, "currentRevision") ? lc_k8s_str(old, "currentRevision") : ""));
        json_object_set_new(st, "collisionCount", json_integer(0));
        free(rev);
    } else if (strcmp(which, "daemonsets") == 0) {
        json_int_t nodes = node_count(k, cluster);
        json_object_set_new(st, "observedGeneration", json_integer(gen));
        json_object_set_new(st, "desiredNumberScheduled", json_integer(nodes));
        json_object_set_new(st, "currentNumberScheduled", json_integer(nodes));
        json_object_set_new(st, "updatedNumberScheduled", json_integer(nodes));
        json_object_set_new(st, "numberMisscheduled", json_integer(0));
        json_object_set_new(st, "numberReady", json_integer(ready ? nodes : 0));
        json_object_set_new(st, "numberAvailable", json_integer(ready ? nodes : 0));
        if (!ready && nodes)
            json_object_set_new(st, "numberUnavailable", json_integer(nodes));
    } else if (strcmp(which, "jobs") == 0) {
        json_object_set_new(st, "startTime",
                            json_string(lc_k8s_str(old, "startTime") ? lc_k8s_str(old, "startTime") : now));
        json_object_set_new(st, "ready", json_integer(0));
        json_object_set_new(st, "uncountedTerminatedPods", json_object());
        json_t *comp = json_object_get(spec, "completions");
        if (ready) {
            json_object_set_new(st, "completionTime", json_string(now));
            json_object_set_new(st, "succeeded", json_integer(comp ? json_integer_value(comp) : 1));
            json_t *c1 = condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                   "Reached expected number of succeeded pods", now);
            json_t *c2 = condition("Complete", "True", "CompletionsReached",
                                   "Reached expected number of succeeded pods", now);
            json_object_del(c1, "lastUpdateTime");
            json_object_del(c2, "lastUpdateTime");
            json_object_set_new(c1, "lastProbeTime", json_string(now));
            json_object_set_new(c2, "lastProbeTime", json_string(now));
            json_object_set_new(st, "conditions", json_pack("[o, o]", c1, c2));
        } else {
            json_t *par = json_object_get(spec, "parallelism");
            json_object_set_new(st, "active", json_integer(par ? json_integer_value(par) : 1));
        }
    } else { /* pods */
        json_object_set_new(st, "phase", json_string(ready ? "Running" : "Pending"));
        if (ready) {
            json_object_set_new(st, "podIP", json_string("10.244.0.10"));
            json_object_set_new(st, "startTime", json_string(now));
            json_t *conds = json_array();
            const char *types[] = {"Initialized", "Ready", "ContainersReady", "PodScheduled"};
            for (size_t i = 0; i < 4; i++) {
                json_t *c = condition(types[i], "True", "", "", now);
                json_object_del(c, "reason");
                json_object_del(c, "message");
                json_object_del(c, "lastUpdateTime");
                json_object_set_new(c, "lastProbeTime", json_null());
                json_array_append_new(conds, c);
            }
            json_object_set_new(st, "conditions", conds);
            json_t *cs = json_array();
            size_t i;
            json_t *ctr;
            json_array_foreach(json_object_get(spec, "containers"), i, ctr)
                json_array_append_new(cs, json_pack("{s:s?, s:s?, s:b, s:b, s:i, s:{s:{s:s}}}", "name",
                                                    lc_k8s_str(ctr, "name"), "image", lc_k8s_str(ctr, "image"),
                                                    "ready", 1, "started", 1, "restartCount", 0,
                                                    "state", "running", "startedAt", now));
            json_object_set_new(st, "containerStatuses", cs);
        }
    }
    return st;
}

/* Writes a status the way a controller does (status subresource). */
static void write_status(struct lc_k8s *k, const char *cluster, const char *kindkey,
                         const char *id, const json_t *old, json_t *status, const char *now)
{
    json_t *obj = json_deep_copy(old);
    json_object_set_new(obj, "status", status);
    if (json_equal(obj, old)) {
        json_decref(obj);
        return;
    }
    lc_k8s_track_update(obj, old, CONTROLLER, lc_k8s_str(old, "apiVersion"), "status", now);
    lc_k8s_commit(k, cluster, kindkey, id, obj, old);
    json_decref(obj);
}

/* ---------- deletion ---------- */

static bool remove_finalizer(json_t *obj, const char *f)
{
    json_t *fs = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    size_t i;
    json_t *x;
    json_array_foreach(fs, i, x) if (json_string_value(x) && strcmp(json_string_value(x), f) == 0)
    {
        json_array_remove(fs, i);
        return true;
    }
    return false;
}

/* Stores obj after a finalizer came off: gone once none is left. */
static void commit_finalized(struct lc_k8s *k, const char *cluster, const char *kindkey,
                             const char *id, json_t *obj, const json_t *old)
{
    bool gone = json_array_size(json_object_get(json_object_get(obj, "metadata"), "finalizers")) == 0;
    lc_k8s_commit(k, cluster, kindkey, id, gone ? NULL : obj, old);
    if (gone)
        k->gc_pending = true;
}

static bool owned_by(const json_t *obj, const char *uid)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, r)
        if (lc_k8s_str(r, "uid") && strcmp(lc_k8s_str(r, "uid"), uid) == 0)
            return true;
    return false;
}

/* Calls fn for every object of a cluster (store kinds starting with it). */
typedef void (*each_fn)(struct lc_k8s *k, const char *cluster, const char *kindkey,
                        const char *id, json_t *obj, void *cls);
static void each_object(struct lc_k8s *k, const char *cluster, each_fn fn, void *cls)
{
    json_t *kinds = lc_store_api(lc_server_store(k->srv), LC_K8S_API);
    size_t cl = strlen(cluster);
    const char *kind, *id;
    json_t *objs, *o, *tmp;
    json_object_foreach(kinds, kind, objs)
    {
        if (strncmp(kind, cluster, cl) != 0 || kind[cl] != '.')
            continue;
        char *kk = sf_xstrdup(kind);
        json_object_foreach_safe(objs, tmp, id, o) fn(k, cluster, kk, id, o, cls);
        free(kk);
    }
}

/* One more object on its way out: deleted unless it already is. */
static void delete_counted(struct lc_k8s *k, const char *cluster, const char *kindkey,
                           const char *id, const json_t *obj, size_t *left)
{
    (*left)++;
    if (!json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp"))
        lc_k8s_delete_object(k, cluster, kindkey, id, "Background");
}

struct dependents {
    const char *uid;
    bool orphan;
    size_t left;
};

static void one_dependent(struct lc_k8s *k, const char *cluster, const char *kindkey,
                          const char *id, json_t *obj, void *cls)
{
    struct dependents *d = cls;
    if (!owned_by(obj, d->uid))
        return;
    if (d->orphan) {
        json_t *copy = json_deep_copy(obj);
        json_t *refs = json_object_get(json_object_get(copy, "metadata"), "ownerReferences");
        for (size_t i = json_array_size(refs); i-- > 0;)
            if (strcmp(lc_k8s_str(json_array_get(refs, i), "uid"), d->uid) == 0)
                json_array_remove(refs, i);
        if (json_array_size(refs) == 0)
            json_object_del(json_object_get(copy, "metadata"), "ownerReferences");
        lc_k8s_commit(k, cluster, kindkey, id, copy, obj);
        json_decref(copy);
        return;
    }
    delete_counted(k, cluster, kindkey, id, obj, &d->left);
}

struct ns_contents {
    const char *ns;
    size_t nslen;
    size_t left;
};

static void one_in_namespace(struct lc_k8s *k, const char *cluster, const char *kindkey,
                             const char *id, json_t *obj, void *cls)
{
    struct ns_contents *n = cls;
    if (strncmp(id, n->ns, n->nslen) != 0 || id[n->nslen] != '/')
        return;
    delete_counted(k, cluster, kindkey, id, obj, &n->left);
}

/* An object being deleted: a namespace empties itself, an owner deals
 * with its dependents. */
static void finalize(struct lc_k8s *k, const char *cluster, const char *kindkey,
                     const char *plural, const char *id, const json_t *obj)
{
    json_t *copy = json_deep_copy(obj);
    if (strcmp(kindkey + strlen(cluster), ".namespaces") == 0) {
        struct ns_contents n = {id, strlen(id), 0};
        each_object(k, cluster, one_in_namespace, &n);
        if (n.left == 0)
            lc_k8s_commit(k, cluster, kindkey, id, NULL, obj);
    } else {
        const char *uid = lc_k8s_str(json_object_get(copy, "metadata"), "uid");
        bool fg = remove_finalizer(copy, "foregroundDeletion");
        bool orphan = !fg && remove_finalizer(copy, "orphan");
        if (fg || orphan) {
            struct dependents d = {uid, orphan, 0};
            each_object(k, cluster, one_dependent, &d);
            if (d.left == 0)
                commit_finalized(k, cluster, kindkey, id, copy, obj);
        }
    }
    json_decref(copy);
}

/* Background deletion: objects all of whose owners are gone. */
static void collect_uid(struct lc_k8s *k, const char *cluster, const char *kindkey,
                        const char *id, json_t *obj, void *cls)
{
    const char *uid = lc_k8s_str(json_object_get(obj, "metadata"), "uid");
    if (uid)
        json_object_set_new(cls, uid, json_true());
}

static void collect_orphan(struct lc_k8s *k, const char *cluster, const char *kindkey,
                           const char *id, json_t *obj, void *cls)
{
    json_t *m = json_object_get(obj, "metadata");
    json_t *refs = json_object_get(m, "ownerReferences");
    if (json_array_size(refs) == 0 || json_object_get(m, "deletionTimestamp"))
        return;
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r) if (json_object_get(cls, lc_k8s_str(r, "uid") ? lc_k8s_str(r, "uid") : "")) return;
    lc_k8s_delete_object(k, cluster, kindkey, id, "Background");
}

static void collect_garbage(struct lc_k8s *k)
{
    k->gc_pending = false;
    json_t *clusters = lc_store_kind(lc_server_store(k->srv), LC_CI_API, "clusters");
    const char *cluster;
    json_t *cl;
    json_object_foreach(clusters, cluster, cl)
    {
        json_t *uids = json_object();
        each_object(k, cluster, collect_uid, uids);
        each_object(k, cluster, collect_orphan, uids);
        json_decref(uids);
    }
}

/* ---------- the tick ---------- */

static void purge(struct lc_k8s *k);

static void tick(struct lc_k8s *k)
{
    long long now_ms = lc_now_ms();
    char now[32];
    lc_format_time(now_ms, false, now, sizeof(now));
    struct lc_store *st = lc_server_store(k->srv);
    /* the keys change while we work: take a copy */
    json_t *due = json_deep_copy(k->due);
    const char *key;
    json_t *d;
    json_object_foreach(due, key, d)
    {
        const char *sp = strchr(key, ' ');
        char *kindkey = sf_xstrndup(key, (size_t)(sp - key));
        const char *id = sp + 1;
        char cluster[64], plural[128];
        split_kindkey(kindkey, cluster, sizeof(cluster), plural, sizeof(plural));
        json_t *obj = lc_store_get(st, LC_K8S_API, kindkey, id);
        const char *which;
        if (!obj) {
            json_object_del(k->due, key);
        } else if (json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp")) {
            finalize(k, cluster, kindkey, plural, id, obj);
        } else if (lc_k8s_spark_owns(kindkey, obj)) {
            lc_k8s_spark_step(k, cluster, kindkey, id, obj, now_ms, now);
        } else if (is_workload(kindkey, &which)) {
            /* on its way once (the spec is seen), then ready when due */
            bool ready = json_integer_value(json_object_get(d, "at")) <= now_ms;
            if (ready || !json_is_true(json_object_get(d, "seen"))) {
                json_t *status = workload_status(k, cluster, which, obj, ready, now);
                write_status(k, cluster, kindkey, id, obj, status, now);
                json_t *live = json_object_get(k->due, key);
                if (live && !ready)
                    json_object_set_new(live, "seen", json_true());
            }
        } else if (lc_k8s_auth_token_pending(kindkey, obj)) {
            /* waits (is tried again) until its service account exists */
            if (lc_k8s_auth_fill_token(k, cluster, kindkey, id, obj))
                json_object_del(k->due, key);
        } else {
            json_object_del(k->due, key);
        }
        free(kindkey);
    }
    json_decref(due);
    if (k->gc_pending)
        collect_garbage(k);
    purge(k);
}

/* Deletes every Kubernetes object of clusters that no longer exist. */
static void purge(struct lc_k8s *k)
{
    struct lc_store *st = lc_server_store(k->srv);
    json_t *kinds = lc_store_api(st, LC_K8S_API);
    const char *kind, *id;
    json_t *objs, *o, *tmp, *ktmp;
    json_object_foreach_safe(kinds, ktmp, kind, objs)
    {
        char cluster[64], plural[128];
        split_kindkey(kind, cluster, sizeof(cluster), plural, sizeof(plural));
        if (lc_store_get(st, LC_CI_API, "clusters", cluster) || json_object_size(objs) == 0)
            continue;
        char *kk = sf_xstrdup(kind);
        json_object_foreach_safe(objs, tmp, id, o)
        {
            char *key = sf_asprintf("%s %s", kk, id);
            json_object_del(k->due, key);
            free(key);
            lc_store_del(st, LC_K8S_API, kk, id);
        }
        free(kk);
    }
}

static void *ticker(void *arg)
{
    struct lc_k8s *k = arg;
    for (;;) {
        struct timespec ts = {0, TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
        lc_server_lock(k->srv);
        bool stop = __atomic_load_n(&k->stopping, __ATOMIC_SEQ_CST);
        if (!stop)
            tick(k);
        lc_server_unlock(k->srv);
        if (stop)
            break;
    }
    return NULL;
}

void lc_k8s_ctrl_start(struct lc_k8s *k)
{
    /* what was waiting before a restart waits again */
    json_t *kinds = lc_store_api(lc_server_store(k->srv), LC_K8S_API);
    const char *kind, *id;
    json_t *objs, *o;
    json_object_foreach(kinds, kind, objs)
        json_object_foreach(objs, id, o) lc_k8s_ctrl_note(k, kind, id, o);
    k->gc_pending = true;
    k->ticker_started = pthread_create(&k->ticker, NULL, ticker, k) == 0;
}

void lc_k8s_ctrl_stop(struct lc_k8s *k)
{
    pthread_mutex_lock(&k->evmu);
    __atomic_store_n(&k->stopping, true, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&k->evcv);
    pthread_mutex_unlock(&k->evmu);
    if (k->ticker_started)
        pthread_join(k->ticker, NULL);
    k->ticker_started = false;
}

/*
 * What the files of localcloud's Kubernetes API share (private to them).
 *
 * Every container-infra cluster gets a Kubernetes API of its own under
 * /k8s/<cluster uuid>/ (the server of its kubeconfig), checked with the
 * cluster's bearer token. k8s.c routes and authorizes requests and serves
 * discovery; k8s_objects.c keeps the objects (create, get, list, update,
 * patch, delete, watch); k8s_ctrl.c moves them along with time (workloads
 * becoming ready, Jobs completing, namespaces and finalizers; k8s_spark.c
 * plays the Spark Operator); k8s_patch.c
 * holds the patch and server-side apply algebra; k8s_openapi.c answers
 * /openapi/v3.
 *
 * The types a cluster serves are the built-in ones (a fixed table) plus one
 * per served version of each of its CustomResourceDefinitions.
 */
#ifndef LC_K8S_H
#define LC_K8S_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "server.h"

#define LC_K8S_API "kubernetes"
#define LC_K8S_PREFIX "/k8s"

/* One resource type as discovery shows it. Strings are static for the
 * built-ins and borrowed from the stored CRD for custom resources (valid
 * while the world lock is held). */
struct lc_k8s_type {
    const char *group;    /* "" for the core group */
    const char *version;  /* "v1" */
    const char *plural;   /* "deployments" */
    const char *singular; /* "deployment" */
    const char *kind;     /* "Deployment" */
    const char *list_kind; /* "DeploymentList" */
    const char *short_names[8]; /* NULL-terminated */
    const char *categories[4];  /* NULL-terminated ("all") */
    bool namespaced;
    bool has_status; /* a /status subresource */
    bool has_scale;  /* a /scale subresource (autoscaling/v1 Scale) */
    bool review;     /* create-only, answered and never stored (k8s_rbac.c) */
    /* custom resources: the version's openAPIV3Schema (borrowed), and the
     * CRD's name; NULL for built-ins */
    const json_t *schema;
    const char *crd;
    /* custom resources: the version's additionalPrinterColumns (borrowed),
     * the columns of `kubectl get`; NULL when it has none */
    const json_t *columns;
};

/* The types of one cluster: built-ins first, then custom resources. */
struct lc_k8s_types {
    struct lc_k8s_type *v;
    size_t n;
};

/* The built-in type with that plural (one of the table's). */
const struct lc_k8s_type *lc_k8s_builtin(const char *plural);
/* "apps/v1", or "v1" for the core group; caller frees. */
char *lc_k8s_api_version(const struct lc_k8s_type *t);

/* /openapi/v3 (gv == NULL: the index of group versions) or
 * /openapi/v3/<gv> (gv "api/v1" or "apis/apps/v1"): answers resp, 404 as a
 * Kubernetes Status for an unknown group version (k8s_openapi.c). */
void lc_k8s_openapi(struct lc_request *req, struct lc_response *resp,
                    const struct lc_k8s_types *types, const char *gv);

/* ---------- the API's context and one call (k8s.c) ---------- */

struct lc_k8s_event;

struct lc_k8s {
    struct lc_server *srv;
    long delay_ms; /* workloads become ready, Jobs complete, after this */
    /* The last resourceVersion given out: one counter for every cluster,
     * seeded at start above anything stored before (see k8s.c). */
    unsigned long long rv;
    /* The event log that watches read, newest last. Guarded by evmu, which
     * writers take inside the world lock and watches take alone. */
    pthread_mutex_t evmu;
    pthread_cond_t evcv;
    struct lc_k8s_event *ring;
    size_t cap, start, count;
    unsigned long long log_floor; /* events after this rv are all in the log */
    bool stopping;
    /* {"<kind key> <id>": due ms}: workloads and Jobs waiting for their
     * delay (k8s_ctrl.c); objects whose owners may be gone */
    json_t *due;
    bool gc_pending;
    pthread_t ticker;
    bool ticker_started;
};

/* Who a request is: the cluster's admin or a service account. */
struct lc_k8s_user {
    char *name;     /* "kubernetes-admin", "system:serviceaccount:NS:NAME" */
    char *uid;      /* the service account's uid; "" for the admin */
    json_t *groups; /* array of strings, owned */
};

/* One request to a cluster's API, once routed. */
struct lc_k8s_call {
    struct lc_request *req;
    struct lc_response *resp;
    struct lc_k8s *k;
    struct lc_store *st;
    const char *cluster;
    json_t *cluster_obj; /* settled copy, owned */
    struct lc_k8s_types types;
    const struct lc_k8s_type *t; /* the resource's type, or NULL */
    char *kindkey;               /* store kind of t's objects */
    const char *ns, *name, *sub; /* from the path; NULL when absent */
    struct lc_k8s_user *user;    /* who is asking (k8s_auth.c) */
};

/* The store kind of a type's objects in a cluster:
 * "<cluster>.<plural>[.<group>]". Caller frees. */
char *lc_k8s_kindkey(const char *cluster, const struct lc_k8s_type *t);
/* The store id of an object: "<namespace>/<name>" or "<name>". Caller frees. */
char *lc_k8s_id(const char *ns, const char *name);

/* Makes obj the stored state of id (obj NULL deletes it; old is the object
 * it replaces, NULL when new), after giving obj (or, for a deletion, a copy
 * of old) the next resourceVersion, and logs the watch event. 0, or -1 when
 * the write failed (nothing changed). obj is changed in place. */
int lc_k8s_commit(struct lc_k8s *k, const char *cluster, const char *kindkey, const char *id,
                  json_t *obj, const json_t *old);

/* ---------- objects (k8s_objects.c) ---------- */

/* Creates the namespaces every cluster starts with (default, kube-system,
 * kube-public, kube-node-lease) when the cluster has none. */
void lc_k8s_bootstrap(struct lc_k8s *k, const char *cluster);
/* Serves a call on a resource path: collection or item, any verb. */
void lc_k8s_serve_resource(struct lc_k8s_call *c);
/* Deletes the object as a DELETE without options would: marks it when it
 * has finalizers, removes it otherwise. 0 or -1 (disk). */
int lc_k8s_delete_object(struct lc_k8s *k, const char *cluster, const char *kindkey,
                         const char *id, const char *propagation);
/* Adds an event for watches (under the world lock): type "ADDED",
 * "MODIFIED" or "DELETED", obj the object's new (or last) state. */
void lc_k8s_log_event(struct lc_k8s *k, const char *cluster, const char *kindkey,
                      const char *type, const json_t *obj);
/* Event log upkeep: init, free. */
void lc_k8s_events_init(struct lc_k8s *k);
void lc_k8s_events_free(struct lc_k8s *k);

/* ---------- validation and defaults (k8s_valid.c) ---------- */

/* Fills the defaults the API server sets (spec.replicas, a Service's
 * clusterIP, a CRD's names ...). */
void lc_k8s_default(const struct lc_k8s_type *t, json_t *obj);
/* Checks obj against its type: names, required fields, the CRD schema of a
 * custom resource. NULL when valid, else the causes (new reference): an
 * array of {"reason","message","field"}. Unknown fields of a custom
 * resource are causes only when strict, and are pruned otherwise. */
json_t *lc_k8s_validate(const struct lc_k8s_type *t, json_t *obj, bool strict);

/* ---------- YAML bodies (k8s_yaml.c) ---------- */

/* A YAML document as JSON (plain scalars resolved as YAML 1.2's core
 * schema: null, booleans, integers, floats, else strings). NULL with a
 * message ("line L column C: ...") in err. New reference. */
json_t *lc_k8s_yaml_parse(const char *text, size_t len, char *err, size_t errlen);

/* ---------- protobuf bodies (k8s_proto.c) ---------- */

/* A Kubernetes protobuf body (the "k8s\0" magic, then a runtime.Unknown
 * envelope holding TypeMeta and the raw object) as the JSON object it
 * stands for, e.g. {"apiVersion":"v1","kind":"Namespace","metadata":{...}}.
 * Understood: v1 Namespace, ConfigMap, Secret, ServiceAccount. NULL with a
 * one-line message in err for anything else or a malformed body. New
 * reference. */
json_t *lc_k8s_proto_decode(const void *body, size_t len, char *err, size_t errlen);

/* ---------- authentication (k8s_auth.c) ---------- */

void lc_k8s_user_free(struct lc_k8s_user *u);
/* The user a bearer token stands for in the cluster: 0 with *u filled, or
 * -1 when the token is no one's (the request gets 401). Under the world
 * lock. */
int lc_k8s_authenticate(struct lc_store *st, const char *cluster, const json_t *cluster_obj,
                        const char *token, struct lc_k8s_user *u);
/* Whether obj (a Secret) is a service-account token still to be filled. */
bool lc_k8s_auth_token_pending(const char *kindkey, const json_t *obj);
/* The token controller: fills a kubernetes.io/service-account-token Secret
 * (data.token, ca.crt, namespace) once its service account exists. true
 * when done (or nothing is left to do), false to be tried again. */
bool lc_k8s_auth_fill_token(struct lc_k8s *k, const char *cluster, const char *kindkey,
                            const char *id, const json_t *obj);

/* ---------- authorization and reviews (k8s_rbac.c) ---------- */

/* What a request asks: a resource request (resource set) or a
 * non-resource one (path set). */
struct lc_k8s_attrs {
    const char *verb;     /* get list watch create update patch delete deletecollection */
    const char *group;    /* "" for the core group */
    const char *resource; /* "pods"; NULL for a non-resource request */
    const char *sub;      /* "log", or NULL */
    const char *name;     /* NULL when the request names none */
    const char *ns;       /* NULL for cluster scope */
    const char *path;     /* non-resource requests: "/version" */
};
/* Whether one RBAC PolicyRule allows the request (pure). */
bool lc_k8s_rbac_rule_allows(const json_t *rule, const struct lc_k8s_attrs *a);
/* Whether the user may: system:masters may everything, every user the
 * discovery paths, else the Roles and ClusterRoles bound to it. */
bool lc_k8s_rbac_allowed(struct lc_store *st, const char *cluster, const struct lc_k8s_user *u,
                         const struct lc_k8s_attrs *a);
/* Answers 403 Forbidden with Kubernetes' message for a refused request. */
void lc_k8s_rbac_forbid(struct lc_response *resp, const struct lc_k8s_user *u,
                        const struct lc_k8s_attrs *a);
/* Serves a POST of a review type (TokenReview, SubjectAccessReview,
 * SelfSubjectAccessReview, SelfSubjectRulesReview) for user u. */
void lc_k8s_rbac_review(struct lc_k8s_call *c, const struct lc_k8s_user *u);

/* ---------- controllers (k8s_ctrl.c) ---------- */

/* Starts the thread that moves objects along with time; stops it. */
void lc_k8s_ctrl_start(struct lc_k8s *k);
void lc_k8s_ctrl_stop(struct lc_k8s *k);
/* Called by every write (under the world lock) so the controllers know
 * what to look at: obj is the new state (NULL for a deletion). */
void lc_k8s_ctrl_note(struct lc_k8s *k, const char *kindkey, const char *id, const json_t *obj);

/* ---------- the Spark Operator's objects (k8s_spark.c) ---------- */

/* Whether obj (stored under kindkey) is a SparkApplication,
 * ScheduledSparkApplication or SparkConnect of group sparkoperator.k8s.io,
 * which the Spark controllers move along. */
bool lc_k8s_spark_owns(const char *kindkey, const json_t *obj);
/* Notes a write of one of them (from lc_k8s_ctrl_note): a changed
 * SparkApplication spec is marked INVALIDATING at once. */
void lc_k8s_spark_note(struct lc_k8s *k, const char *kindkey, const char *id, const json_t *obj);
/* Moves one of them along (from the controllers' tick); now is now_ms as
 * a timestamp. obj is the stored object, replaced by what this writes. */
void lc_k8s_spark_step(struct lc_k8s *k, const char *cluster, const char *kindkey, const char *id,
                       const json_t *obj, long long now_ms, const char *now);

/* The string member key of o, or NULL (absent, not a string, o NULL). */
const char *lc_k8s_str(const json_t *o, const char *key);

/* A Status object (new reference): {"kind":"Status","status":"Failure",
 * "message","reason","code", "details"?}; details stolen, may be NULL. */
json_t *lc_k8s_status_body(unsigned code, const char *reason, json_t *details, const char *msg);
/* A Kubernetes Status error: {"kind":"Status","status":"Failure","reason",
 * "code","message", "details"?}. details (stolen, may be NULL). */
void lc_k8s_status(struct lc_response *resp, unsigned code, const char *reason, json_t *details,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif

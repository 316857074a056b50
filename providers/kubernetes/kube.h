/*
 * The "kubernetes" provider: objects inside a cluster, through the
 * cluster's own API. This header is private to providers/kubernetes/:
 * kube.c holds the provider table, its settings and the per-run context
 * (one connection per distinct kubeconfig, shared by every resource of
 * that cluster); kubeconfig.c reads a kubeconfig; client.c sends requests
 * to one cluster and keeps its discovery; manifest.c is kubernetes_manifest;
 * wait.c the waits after an apply and a delete; secret.c and configmap.c
 * are kubernetes_secret and kubernetes_config_map, built on dataobj.c. The pure functions below
 * are exported so that tests/unit/test_kube.c can check them without a
 * server.
 *
 * A resource's connection is an attribute value (usually a cluster's
 * kubeconfig output), so it may be unknown at plan time: nothing here
 * dials before the first operation that needs the cluster.
 */
#ifndef SF_KUBE_H
#define SF_KUBE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "http.h"
#include "provider.h"

/* The field manager every apply names. */
#define SF_KUBE_MANAGER "sparkform"

/* ---- kubeconfig.c ---- */

/* What a kubeconfig's current context says about reaching its cluster.
 * The secrets (token, key) are wiped by sf_kube_config_free. */
struct sf_kube_config {
    char *context;  /* the current context's name (for messages) */
    char *server;   /* "https://host:port[/path]", no trailing '/' */
    char *ca_pem;   /* the CA to verify the server with (PEM), or NULL: the system's */
    char *token;    /* bearer token, or NULL */
    char *cert_pem; /* client certificate and key (PEM), or NULL */
    char *key_pem;
};

/*
 * Parses a kubeconfig (YAML or JSON text) and picks its current context's
 * cluster and user. Files it names (certificate-authority, client-certificate,
 * client-key, tokenFile) are relative to base_dir. Returns 0, or -1 with
 * *why (caller frees) saying what is wrong; why never quotes a secret.
 * insecure-skip-tls-verify and plain http are refused: a token is not sent
 * to a server that is not verified.
 */
int sf_kube_config_parse(const char *text, size_t len, const char *base_dir,
                         struct sf_kube_config *out, char **why);
void sf_kube_config_free(struct sf_kube_config *k);

/* ---- client.c ---- */

/* A resource kind as discovery describes it. */
struct sf_kube_res {
    char *group_version; /* "v1", "apps/v1" */
    char *plural;        /* "deployments" */
    char *kind;          /* "Deployment" */
    bool namespaced;
};
void sf_kube_res_free(struct sf_kube_res *r);

/* One cluster's connection: its HTTP client (connections, TLS sessions
 * shared by every resource of the cluster) and its discovery cache. */
struct sf_kube_cluster {
    struct sf_kube_cluster *next;
    char key[65];          /* SHA-256 of the kubeconfig's text and base directory */
    struct sf_kube_config cfg;
    struct sf_http *http;
    char *auth;            /* "Authorization: Bearer ..." or NULL */
    pthread_mutex_t mu;    /* guards discovery */
    json_t *discovery;     /* group version -> its APIResourceList's "resources" */
    pthread_mutex_t lmu;   /* guards lists */
    pthread_cond_t lcv;    /* a list in flight is done */
    json_t *lists;         /* collection path -> {reads, listing, items}: sf_kube_get */
};

struct sf_kube_cluster *sf_kube_cluster_new(struct sf_kube_config *cfg, const char *key,
                                            struct sf_http_stats *stats);
void sf_kube_cluster_free(struct sf_kube_cluster *k);

/*
 * One request to the cluster (path starts with '/'); body may be NULL,
 * content_type names its type. Returns 0 when an answer came (any status:
 * rs->status), -1 after adding an error when none did. rs is the caller's
 * to free with sf_http_resp_free either way.
 */
int sf_kube_request(struct sf_call *c, struct sf_kube_cluster *k, const char *method,
                    const char *path, const char *content_type, const char *body,
                    struct sf_http_resp *rs);

/*
 * GET of one object: 1 with *live (new reference), 0 when it is gone, -1
 * after an error. With from_list (the refresh's reads), the second read
 * of a collection (one kind in one namespace) lists it once and later
 * reads take their object from that list: two requests for any number of
 * objects. A write through the cluster's connection drops the lists.
 */
int sf_kube_get(struct sf_call *c, struct sf_kube_cluster *k, const struct sf_kube_res *r,
                const char *ns, const char *name, bool from_list, json_t **live);

/* Adds the error of a failed answer: "WHAT: METHOD PATH: HTTP 422: the
 * Status's message", with the Status's causes as detail lines. */
void sf_kube_error(struct sf_call *c, const char *what, const char *method, const char *path,
                   const struct sf_http_resp *rs);

/*
 * The resource of kind in api_version, by discovery: a cached list, asked
 * again on a miss. With may_wait, a kind that a CustomResourceDefinition
 * of the cluster defines but discovery does not serve yet is waited for
 * (until the deadline); one that nothing defines is waited for a short
 * while (its CRD may be on its way in this run), then is an error naming
 * the kinds it may have meant. Without may_wait (reads, deletes) a kind
 * not served returns 1 at once, with no error: its objects are gone.
 * 0 found, 1 not served, -1 after an error.
 */
int sf_kube_resolve(struct sf_call *c, struct sf_kube_cluster *k, const char *api_version,
                    const char *kind, bool may_wait, struct sf_kube_res *out);

/* The resource of kind in an APIResourceList's "resources" (subresources
 * skipped), or NULL. Borrowed. */
const json_t *sf_kube_discovery_find(const json_t *resources, const char *kind);

/* The API path of a collection (name NULL) or an object: "/api/v1/namespaces/NS/configmaps/NAME",
 * "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/NAME". ns is
 * ignored for cluster-scoped kinds. Path segments are percent-encoded.
 * Caller frees. */
char *sf_kube_path(const struct sf_kube_res *r, const char *ns, const char *name);

/* ---- manifest.c: the pure parts ---- */

/*
 * The part of a live object that sparkform manages: apiVersion, kind,
 * metadata.name (and metadata.namespace when with_namespace), and every
 * field of fields (a managedFields entry's fieldsV1) or of prior (the
 * manifest last applied, so that a field another manager took over shows
 * its live value rather than vanishing). Lists keyed in fieldsV1 ("k:",
 * "v:", "i:") keep the elements named there; other lists and leaves are
 * taken whole. New reference.
 */
json_t *sf_kube_project(const json_t *live, const json_t *fields, const json_t *prior,
                        bool with_namespace);

/* The fieldsV1 of the managedFields entry of manager with operation Apply
 * (no subresource) in a live object, or NULL. Borrowed. */
const json_t *sf_kube_managed_fields(const json_t *live, const char *manager);

/*
 * An import id "apiVersion/kind/namespace/name" (the apiVersion may have
 * a group: "apps/v1/Deployment/web/api"); cluster-scoped objects are
 * "apiVersion/kind//name" or "apiVersion/kind/name". Fills the four parts
 * (caller frees; *ns is "" when none is given). 0, or -1 when malformed.
 */
int sf_kube_id_parse(const char *id, char **api_version, char **kind, char **ns, char **name);

/* The message of a server-side apply conflict (a 409 Status with
 * FieldManagerConflict causes): "conflicts with field manager(s) "a" (.x,
 * .y), "b" (.z)"; NULL when the Status names none. Caller frees. */
char *sf_kube_conflicts(const json_t *status);

/* ---- manifest.c: one object's apply, read and delete (also what
 * kubernetes_secret and kubernetes_config_map are made of) ---- */

/*
 * Server-side apply of body (a whole object; a namespaced kind without
 * metadata.namespace goes to "default") through conn's connection (its
 * kubeconfig / kubeconfig_path), force taking fields over, then the wait
 * (NULL: none). *live is the object read after it, also when the wait
 * failed (NULL when it could not be read), *id its
 * "apiVersion/kind/namespace/name"; both the caller's. 0, or -1.
 */
int sf_kube_apply(struct sf_call *c, const json_t *conn, const json_t *body, bool force,
                  const json_t *wait, json_t **live, char **id);
/* The object of id (as sf_kube_id_parse reads it): *live NULL when it or
 * its kind is gone; *canonical_id (the namespace filled in) and
 * *namespaced may be NULL. from_list: a refresh's read, which a list of
 * its collection may serve (sf_kube_get). 0, or -1 after an error. */
int sf_kube_read(struct sf_call *c, const json_t *conn, const char *id, bool from_list,
                 json_t **live, char **canonical_id, bool *namespaced);
/* Deletes the object of id with a propagation policy ("" = Foreground)
 * and waits until it is gone; 0 also when it was gone already. */
int sf_kube_delete(struct sf_call *c, const json_t *conn, const char *id, const char *prop);

/* ---- wait.c ---- */

/*
 * Waits, polling the object at path until c->deadline, for what wait asks
 * ({rollout, established, complete, condition, field + value}); a CRD
 * waits for Established even when wait is null. Progress goes to
 * c->status. 0, or -1 after an error (a Job that Failed says why).
 */
/* Whether sf_kube_wait would wait for an object of kind. */
bool sf_kube_waits(const char *kind, const json_t *wait);
int sf_kube_wait(struct sf_call *c, struct sf_kube_cluster *k, const char *path,
                 const char *kind, const json_t *wait);
/* Waits until a GET of path is 404 (finalizers honoured). */
int sf_kube_wait_gone(struct sf_call *c, struct sf_kube_cluster *k, const char *path);
/* Checks a wait object's shape; NULL when fine, else a static reason. */
const char *sf_kube_wait_problem(const json_t *wait, const char *kind);

/* ---- manifest.c ---- */

/* The instances hook of kubernetes_manifest: the keys ("Kind/ns/name",
 * "Kind/name") of the documents of a literal `source` path. */
int sf_kube_manifest_instances(const char *config_dir, const struct sf_node *with, json_t **keys,
                               struct sf_diags *d);

/* ---- health.c ---- */

/* How a live object is doing, as a status hook answers (provider.h):
 * Deployment (Available, ready replicas), CustomResourceDefinition
 * (Established), SparkApplication (status.applicationState.state; healthy
 * unless FAILED or SUBMISSION_FAILED), ScheduledSparkApplication
 * (scheduleState, lastRun); any other kind "EXISTS". With kind, namespace
 * and name. New reference. */
json_t *sf_kube_health(const json_t *live);
/* kubernetes_manifest's status hook. */
int sf_kube_manifest_status(struct sf_call *c, const json_t *recorded, json_t **out);

/* ---- order.c ---- */

/* Appends the order keys of an object (apiVersion, kind, metadata, ...;
 * unknown parts give none) to provides and needs: its namespace, CRD,
 * service account, role, cluster role identity, and the namespace, CRD,
 * service accounts and roles it needs (order.c lists the keys). 0. */
int sf_kube_order_keys(const json_t *obj, json_t *provides, json_t *needs);
/* The order hook of a type whose desired values hold the object under
 * "manifest". */
int sf_kube_order(struct sf_call *c, const json_t *desired, json_t *provides, json_t *needs);
/* The order hook of a type whose desired values name the object by
 * "namespace" and "name" (secrets, config maps): it needs its namespace. */
int sf_kube_order_namespaced(struct sf_call *c, const json_t *desired, json_t *provides,
                             json_t *needs);

/* ---- dataobj.c: what kubernetes_secret and kubernetes_config_map share ---- */

/* A kind of object holding data maps. */
struct sf_kube_dataobj {
    const char *kind; /* "Secret", "ConfigMap" */
    bool encoded;     /* data travels base64-encoded (a Secret's) */
    bool typed;       /* has a `type` */
};
extern const struct sf_kube_dataobj sf_kube_secret_kind, sf_kube_config_map_kind;


/* Whether v is a map whose members can be looked at (not unknown). */
bool sf_kube_known_map(const json_t *v);
/* The plan step's checks of the attributes: data keys, string values
 * (integers and booleans become text), binary_data's base64 (made
 * canonical), no key in both maps. Messages never quote a value. 0 / -1. */
int sf_kube_dataobj_check(struct sf_call *c, json_t *desired);
/* The object for attributes v (known values). New reference. */
json_t *sf_kube_dataobj_body(const struct sf_kube_dataobj *d, const json_t *v);
/* The attributes of a live object: conn's local ones (kubeconfig,
 * kubeconfig_path), and labels, annotations and data projected onto
 * what sparkform manages (plus what prior, the attributes last applied,
 * gave); without prior and with nothing managed (an import), the whole
 * object. A Secret's values are decoded: text to data, other bytes (and
 * keys prior had there) to binary_data. New reference. */
json_t *sf_kube_dataobj_attrs(const struct sf_kube_dataobj *d, const json_t *conn,
                              const json_t *live, const json_t *prior);

/* The operations of both types (the kind from the call's type); ids are
 * "namespace/name". */
int sf_kube_dataobj_create(struct sf_call *c, const json_t *desired, json_t **out);
int sf_kube_dataobj_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                           json_t **out);
int sf_kube_dataobj_delete(struct sf_call *c, const json_t *prior);
int sf_kube_dataobj_read(struct sf_call *c, const json_t *prior, json_t **out);
int sf_kube_dataobj_import(struct sf_call *c, const char *id, json_t **out);

/* ---- kube.c ---- */

/* The provider's per-run context (c->ctx). */
struct sf_kube_ctx {
    char *default_path;  /* providers.kubernetes.config_path, else KUBECONFIG's first file */
    struct sf_http_stats *stats;
    pthread_mutex_t mu;  /* guards clusters */
    struct sf_kube_cluster *clusters;
};

/* The connection of a resource (v: its desired or recorded values): its
 * kubeconfig, else kubeconfig_path, else the provider's file; the same
 * kubeconfig always gives the same connection. 0, or -1 after an error. */
int sf_kube_connect(struct sf_call *c, const json_t *v, struct sf_kube_cluster **out);

/* An error about the object at c->address, of a class. */
#define sf_kube_fail(c, cls, ...) sf_diag_add_class((c)->diags, (cls), NULL, (c)->address, __VA_ARGS__)

/* Shows a progress line when the engine takes them. */
void sf_kube_status(struct sf_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const struct sf_resource_type sf_kube_manifest_type, sf_kube_secret_type,
    sf_kube_config_map_type, sf_kube_token_type;
extern const struct sf_provider sf_provider_kubernetes;

#endif

/*
 * The "cloud" provider: an OpenStack-style cloud as VK Cloud serves it
 * (Keystone v3, Neutron v2.0, Nova v2.1, Glance v2, container-infra v1).
 * This header is private to providers/cloud/: cloud.c holds the provider
 * table, the configure step (Keystone password auth, the catalog) and the
 * helpers every type uses (requests with token renewal, waits, tags, name
 * lookups); network.c, compute.c, cluster.c, nodegroup.c and s3creds.c hold
 * one or two resource types each.
 */
#ifndef SF_CLOUD_H
#define SF_CLOUD_H

#include <jansson.h>
#include <stdbool.h>

#include "provider.h"

/* The services of the catalog the types talk to. */
enum sf_cloud_svc {
    SF_CLOUD_IDENTITY,
    SF_CLOUD_COMPUTE,
    SF_CLOUD_NETWORK,
    SF_CLOUD_IMAGE,
    SF_CLOUD_CI, /* container-infra */
    SF_CLOUD_NSVC,
};

/* The microversion header every container-infra request carries. */
#define SF_CLOUD_CI_VERSION "MCS-API-Version: container-infra 1.33"

/* Flags of sf_cloud_do. */
enum {
    SF_CLOUD_OK404 = 1u << 0,   /* a 404 is an answer, not an error (reads, deletes) */
    SF_CLOUD_OK409 = 1u << 1,   /* a 409 is an answer: the caller waits and tries again */
    SF_CLOUD_IDEMP = 1u << 2,   /* a PATCH or POST that may be repeated (a JSON patch) */
    SF_CLOUD_NOIDEMP = 1u << 3, /* a PUT or DELETE that must not be repeated blindly */
};

struct sf_cloud_resp {
    long status;  /* 0 when no answer came */
    json_t *json; /* the body parsed as JSON, or NULL */
    char *body;   /* the raw body (a kubeconfig is YAML), NUL-terminated, or NULL */
    size_t len;
    bool ambiguous; /* no usable answer, and the server may have acted on the request */
};
void sf_cloud_resp_free(struct sf_cloud_resp *r);

/*
 * One request to a service of the catalog: path is appended to the
 * service's endpoint (Neutron's "/v2.0" and Glance's "/v2" included in the
 * path by the caller). Sends the session's token, renewing it once on a
 * 401. body may be NULL. Returns 0 when a 2xx came (or a 404 / 409 the
 * flags accept: look at r->status); otherwise -1 after adding an error of
 * the answer's class (what names the step: "creating the network"); r is
 * filled either way and is the caller's to free.
 */
int sf_cloud_do(struct sf_call *c, enum sf_cloud_svc svc, const char *method, const char *path,
                const json_t *body, unsigned flags, const char *what, struct sf_cloud_resp *r);

/* A path segment or query value percent-encoded; caller frees. */
char *sf_cloud_escape(const char *s);

/*
 * Creating without making two: POST body to path. When the answer is lost
 * or a 5xx (the cloud may have made the object anyway), find is asked
 * whether the object exists; the POST is sent again only when it does not.
 * On success exactly one of *answer (the POST's answer body) and *found
 * (what find returned) is set. find returns 0 (with *found NULL when there
 * is nothing) or -1 after adding an error.
 */
typedef int (*sf_cloud_find_fn)(struct sf_call *c, const void *arg, json_t **found);
int sf_cloud_create(struct sf_call *c, enum sf_cloud_svc svc, const char *path,
                    const json_t *body, const char *what, sf_cloud_find_fn find,
                    const void *arg, json_t **answer, json_t **found);

/*
 * Waits: a poll loop calls sf_cloud_pause between polls. It reports text
 * through c->status, sleeps (starting at 250 ms, doubling up to 10 s) and
 * returns -1 after adding a timeout error when c->deadline has passed.
 * *delay_ms starts at 0.
 */
int sf_cloud_pause(struct sf_call *c, long *delay_ms, const char *text);

/*
 * Deleting: DELETE path (relative to svc's endpoint), sent again while the
 * cloud answers 409 (the object is busy, or something still uses it; when
 * the deadline comes, the error carries the cloud's last reason), then,
 * when wait_gone, GET path until it answers 404. noun names the object in
 * messages and progress ("the cluster"). A 404 at any point is success.
 */
int sf_cloud_delete(struct sf_call *c, enum sf_cloud_svc svc, const char *path, const char *noun,
                    bool wait_gone);

/* The tag that marks objects of this stack and address (see README.md):
 * "sparkform-" and 24 hex digits of SHA-256(lineage, address). Caller
 * frees. Kubernetes label values and Neutron tags both accept it. */
char *sf_cloud_tag(const struct sf_call *c);
/* Metadata and label keys that carry lineage and address in full. */
#define SF_CLOUD_KEY_LINEAGE "sparkform_lineage"
#define SF_CLOUD_KEY_ADDRESS "sparkform_address"

/* The id of a flavor given by name or id (from Nova's list), or NULL after
 * an error. Caller frees. */
char *sf_cloud_flavor_id(struct sf_call *c, const char *name_or_id);
/* What read reports for a flavor/image: the recorded spelling when it
 * names the object id, else the object's name (else the id). When the
 * recorded id (recorded_id, the attribute read recorded beside the
 * spelling; may be NULL) is id, the spelling stands without asking the
 * cloud, so a plan reads each object with one request. New ref, or NULL
 * after an error. */
json_t *sf_cloud_flavor_spelling(struct sf_call *c, const json_t *recorded,
                                 const json_t *recorded_id, const char *id);
char *sf_cloud_image_id(struct sf_call *c, const char *name_or_id);
json_t *sf_cloud_image_spelling(struct sf_call *c, const json_t *recorded,
                                const json_t *recorded_id, const char *id);

/*
 * For the types' check hooks (plan time, provider.h). sf_cloud_checked: the
 * value of a string attribute to check, NULL when there is nothing to ask
 * (unknown yet, not a string, or the same as prior's, the object as it
 * is: an update asks only about what it changes). The checks return 0
 * when the cloud has the flavor / image by that name or id, else -1 after
 * an error about attr with a suggestion, or the lookup's own error.
 */
const char *sf_cloud_checked(const json_t *prior, const json_t *desired, const char *attr);
int sf_cloud_check_flavor(struct sf_call *c, const char *attr, const char *name_or_id);
int sf_cloud_check_image(struct sf_call *c, const char *attr, const char *name_or_id);
/* What a message about an unknown name adds: " (did you mean \"X\"?)"
 * when one of names (an array of strings) is close to word (the same but
 * for case, or a likely typo), else " (it has A, B, ... and N more)", or
 * "" when names is empty. Caller frees. */
char *sf_cloud_suggest(const char *word, const json_t *names);

/* The session's user and project ids (from the token). Borrowed. */
const char *sf_cloud_user_id(struct sf_call *c);
const char *sf_cloud_project_id(struct sf_call *c);

/* Small JSON helpers: a member's string ("" when absent), and copying a
 * member of src into dst when present. */
const char *sf_cloud_str(const json_t *o, const char *key);
void sf_cloud_copy(json_t *dst, const json_t *src, const char *key);
/* An error about an object at c->address, of a class. */
#define sf_cloud_error(c, cls, ...) sf_diag_add_class((c)->diags, (cls), NULL, (c)->address, __VA_ARGS__)

extern const struct sf_resource_type sf_cloud_network_type;
extern const struct sf_resource_type sf_cloud_subnet_type;
extern const struct sf_resource_type sf_cloud_keypair_type;
extern const struct sf_resource_type sf_cloud_server_type;
extern const struct sf_resource_type sf_cloud_cluster_type;
extern const struct sf_resource_type sf_cloud_node_group_type;
extern const struct sf_resource_type sf_cloud_s3_credentials_type;

/* The provider, listed in providers/registry.c. */
extern const struct sf_provider sf_provider_cloud;

#endif

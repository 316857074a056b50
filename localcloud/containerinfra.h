/*
 * What the three files of the container-infra API share (private to them):
 * containerinfra.c registers the API (routes, error shape, version header,
 * sweep) and holds the fixed tables and the helpers below; clusters.c and
 * nodegroups.c hold the handlers.
 *
 * A cluster or node group is one stored object (store.h, API
 * "container-infra", kinds "clusters" and "nodegroups"). No thread moves
 * them along: an object in a transition stores the state it is in
 * ("status": "RECONCILING") and a "pending" {status, at_ms, set}; whoever
 * reads it after at_ms sees the target status with the members of "set"
 * applied (lc_ci_settled). A deletion stores "delete_at_ms"; the sweep
 * purges the object once it is due.
 */
#ifndef LC_CONTAINERINFRA_H
#define LC_CONTAINERINFRA_H

#include <jansson.h>
#include <stdbool.h>

#include "fields.h"
#include "server.h"

#define LC_CI_API "container-infra"
#define LC_CI_PREFIX "/container-infra/v1"
/* The most nodes one node group may have (also the default max_nodes bound). */
#define LC_CI_MAX_NODES 100

/* Every handler starts with this: checks the MCS-API-Version header (absent
 * or "container-infra 1.33"; anything else is answered 406) and adds it to
 * the response. false after answering. */
bool lc_ci_begin(struct lc_request *req, struct lc_response *resp);

struct lc_store *lc_ci_store(struct lc_request *req);
/* The string member, "" when absent or not a string (borrowed). */
const char *lc_ci_str(json_t *o, const char *key);


struct lc_ci_template {
    const char *uuid, *name, *version;
};
/* The fixed cluster templates, by uuid or Kubernetes version ("1.31"). */
const struct lc_ci_template *lc_ci_template_by_id(const char *uuid);
const struct lc_ci_template *lc_ci_template_by_version(const char *version);
/* The flavor masters and node groups get when none is given. */
const char *lc_ci_default_flavor(void);

/* A copy (new reference) of a stored object with its transition applied
 * when it is due at now: what views show and changes start from. */
json_t *lc_ci_settled(json_t *o, long long now);
/* Puts o (a settled copy) into the status `during` until now + delay_ms,
 * then `target` with the members of set (stolen, may be NULL) applied. */
void lc_ci_transition(json_t *o, const char *during, const char *target, json_t *set,
                      long long now, long delay_ms);
/* Sets updated_at. */
void lc_ci_touch(json_t *o, long long now);
/* created_at / updated_at / links members common to both views. */
void lc_ci_view_common(struct lc_request *req, json_t *view, json_t *o, const char *kind);

/* A JSON-patch body: the list (new reference), or NULL after answering 400. */
json_t *lc_ci_patch_list(struct lc_request *req, struct lc_response *resp);
/* The i-th operation of a JSON-patch list: op is "add", "replace" or
 * "remove" (the only ones supported), path a JSON pointer, value (borrowed)
 * set for add / replace. 0, or -1 after answering 400 through c. */
struct lc_ci_op {
    const char *op, *path;
    json_t *value;
};
int lc_ci_patch_op(struct lc_check *c, json_t *list, size_t i, struct lc_ci_op *op);

/* The cluster of the request's project with that uuid (borrowed, as
 * stored), or NULL after answering 404. */
json_t *lc_ci_find_cluster(struct lc_request *req, struct lc_response *resp, const char *id);
/* A settled cluster's state: its status, or DELETING once deleted. */
const char *lc_ci_cluster_state(json_t *settled);

/* Route handlers: clusters.c */
void lc_ci_list_clusters(struct lc_request *req, struct lc_response *resp);
void lc_ci_create_cluster(struct lc_request *req, struct lc_response *resp);
void lc_ci_get_cluster(struct lc_request *req, struct lc_response *resp);
void lc_ci_patch_cluster(struct lc_request *req, struct lc_response *resp);
void lc_ci_delete_cluster(struct lc_request *req, struct lc_response *resp);
void lc_ci_cluster_action(struct lc_request *req, struct lc_response *resp);
void lc_ci_kube_config(struct lc_request *req, struct lc_response *resp);
/* nodegroups.c */
void lc_ci_list_nodegroups(struct lc_request *req, struct lc_response *resp);
void lc_ci_list_cluster_nodegroups(struct lc_request *req, struct lc_response *resp);
void lc_ci_create_nodegroup(struct lc_request *req, struct lc_response *resp);
void lc_ci_get_nodegroup(struct lc_request *req, struct lc_response *resp);
void lc_ci_patch_nodegroup(struct lc_request *req, struct lc_response *resp);
void lc_ci_delete_nodegroup(struct lc_request *req, struct lc_response *resp);
void lc_ci_scale_nodegroup(struct lc_request *req, struct lc_response *resp);
void lc_ci_resize_nodegroup(struct lc_request *req, struct lc_response *resp);

#endif

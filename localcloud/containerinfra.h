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
 *
 * As in VK Cloud, a node group's own state stays RUNNING: while one is
 * created, changed or deleted, its cluster shows the work as RECONCILING
 * (lc_ci_reconcile), and the node group carries a pending change whose
 * "status" is RUNNING too. The exception is an injected failure (faults.h):
 * then the pending "status" of a cluster or node group is ERROR and its
 * "set" holds the reason as "status_reason".
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
/* The Kubernetes versions the fixed templates offer, for messages. */
#define LC_CI_VERSIONS "1.29, 1.30, 1.31 or 1.32"
/* One of the fixed cluster templates by uuid, name ("Kubernetes-v1.31") or
 * Kubernetes version ("1.31", "v1.31"), as GET /clustertemplates/{ref}
 * looks them up; NULL when there is none. */
const struct lc_ci_template *lc_ci_template_find(const char *ref);
/* true / false, or the strings "true" / "false" that VK Cloud's own client
 * sends for flags; anything else fails c naming field. */
bool lc_ci_flag(struct lc_check *c, json_t *v, const char *field);
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

/* The cluster of the request's project with that uuid or, failing that,
 * that name (borrowed, as stored); NULL after answering 404, or 409 when
 * several clusters have the name. */
json_t *lc_ci_find_cluster(struct lc_request *req, struct lc_response *resp, const char *ref);
/* A settled cluster's state: its status, or DELETING once deleted. */
const char *lc_ci_cluster_state(json_t *settled);
/* 0 when the settled cluster is in state `want` with no change under way
 * (a turn off / on keeps the old state until it is done); otherwise -1
 * after answering 409 saying why `what` ("turn_off_cluster", "change a
 * node group") cannot be done now. */
int lc_ci_cluster_ready(struct lc_request *req, struct lc_response *resp, json_t *settled,
                        const char *want, const char *what);
/* Puts a settled cluster (a copy) into RECONCILING for --delay-ms, then
 * RUNNING, and saves it: the work a node group change shows on its
 * cluster. 0, or -1 after answering 500. */
int lc_ci_reconcile(struct lc_request *req, struct lc_response *resp, json_t *cl, long long now);

/* Route handlers: clusters.c */
void lc_ci_list_clusters(struct lc_request *req, struct lc_response *resp);
void lc_ci_create_cluster(struct lc_request *req, struct lc_response *resp);
void lc_ci_get_cluster(struct lc_request *req, struct lc_response *resp);
void lc_ci_patch_cluster(struct lc_request *req, struct lc_response *resp);
void lc_ci_delete_cluster(struct lc_request *req, struct lc_response *resp);
void lc_ci_cluster_action(struct lc_request *req, struct lc_response *resp);
void lc_ci_upgrade_cluster(struct lc_request *req, struct lc_response *resp);
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

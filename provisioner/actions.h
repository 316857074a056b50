/*
 * The apply's action graph: what sf_run_apply (run.c) walks. A plan's
 * changes become actions - one per create or update, one per delete (a
 * replacement has both), one per address with deposed objects to delete -
 * with an edge A -> B when A must finish before B starts:
 *
 *   - a create/update runs after the creates/updates of what it depends on;
 *   - a delete runs before the deletes of what the state says the object was
 *     created after (dependents go first);
 *   - a replacement deletes the old object first, or, with
 *     create_before_destroy, creates the new one first and deletes the old
 *     one (by then deposed) after; create_before_destroy spreads to the
 *     replaced dependencies of a resource that has it, and a dependent's
 *     create comes before such a dependency's delete;
 *   - deposed objects of an address are deleted after its create/update.
 */
#ifndef SF_ACTIONS_H
#define SF_ACTIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"
#include "graph.h"
#include "plan.h"

enum sf_action_kind {
    SF_ACTION_APPLY,   /* create, update, or the create half of a replacement */
    SF_ACTION_DESTROY, /* delete, or the delete half of a replacement */
    SF_ACTION_DEPOSED, /* delete the deposed objects of change->address */
};

struct sf_action_node {
    enum sf_action_kind kind;
    const struct sf_change *change; /* borrowed from the plan */
    bool create_before_destroy;     /* the change's, or spread to it */
};

/* What the state records address as created after: an array of addresses,
 * or NULL. */
typedef const json_t *(*sf_actions_deps_fn)(void *ctx, const char *address);

struct sf_actions;

/* The actions of p. Returns NULL after an error in d (actions that cannot be
 * ordered: a cycle between replacements). p must outlive the result. */
struct sf_actions *sf_actions_build(const struct sf_plan *p, sf_actions_deps_fn state_deps,
                                    void *ctx, struct sf_diags *d);
void sf_actions_free(struct sf_actions *a);

/* The graph to walk; node ids index sf_actions_get. */
const struct sf_graph *sf_actions_graph(const struct sf_actions *a);
const struct sf_action_node *sf_actions_get(const struct sf_actions *a, int id);
/* The node id of address's action of that kind, or -1. */
int sf_actions_find(const struct sf_actions *a, enum sf_action_kind kind, const char *address);

#endif

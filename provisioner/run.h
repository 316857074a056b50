/*
 * A run: the engine that ties the pieces together. It loads the
 * description and the state, builds the resource graph, refreshes what
 * exists through the providers (in parallel), plans with the schema-driven
 * diff, and applies a plan as a parallel walk of an action graph, journaling
 * every step to the state. The commands in cli.c are thin layers on this.
 */
#ifndef SF_RUN_H
#define SF_RUN_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "graph.h"
#include "plan.h"
#include "state.h"

struct sf_run_opts {
    const char *config_path;
    const char *state_path;
    bool state_given; /* -state was given: it overrides the description's state: block */
    const char *const *vars; /* "NAME=VALUE" */
    size_t n_vars;
    const char *const *var_files;
    size_t n_var_files;
    const char *const *targets;
    size_t n_targets;
    const char *const *replace;
    size_t n_replace;
    int parallelism;
    bool refresh;      /* read what exists before planning (default) */
    bool refresh_only; /* plan only the recording of changes made outside */
    bool destroy;      /* plan the deletion of everything */
    bool lock;         /* take the state lock (default) */
    long lock_timeout_ms;
    const char *operation; /* for the lock: "plan", "apply", ... */
    volatile sig_atomic_t *stop; /* set on interrupt: no new operation starts */
};

struct sf_run;
struct sf_schedule;

/* Where a description keeps its state (state.h's sf_state_where), with
 * the strings it points into. */
struct sf_state_place {
    struct sf_state_where w;
    struct sf_state_s3 s3;
    json_t *settings;  /* the evaluated state: block, or NULL */
    char *journal_dir; /* DIR/.sparkform beside the description */
    struct sf_crypt_cfg crypt;
    json_t *encryption; /* the evaluated state.encryption, or NULL */
};

/* The place of cfg's state: its state: block when that says backend: s3,
 * else the local file state_path, with the block's encryption (on either). An explicit -state (state_given)
 * overrides an s3 block, with a warning naming what it overrides; cfg
 * may be NULL (no description: the local file). Returns 0 or -1 (errors
 * in d); free p with sf_state_place_free either way. */
int sf_state_place(const struct sf_config *cfg, const char *state_path, bool state_given,
                   struct sf_state_place *p, struct sf_diags *d);
void sf_state_place_free(struct sf_state_place *p);

/* Load the description (binding variables) and the state, build and check
 * the resource graph, take the lock. Returns 0 or -1 (errors in d); *out is
 * set either way when the state was loaded and must be closed. */
int sf_run_open(const struct sf_run_opts *o, struct sf_run **out, struct sf_diags *d);
/* The same for a saved plan: the description and variables come from the
 * plan, and the state must still be the one the plan was made against. */
int sf_run_open_plan(const struct sf_run_opts *o, const struct sf_plan *plan, struct sf_run **out,
                     struct sf_diags *d);
void sf_run_close(struct sf_run *r);

struct sf_config *sf_run_config(struct sf_run *r);
struct sf_state *sf_run_state(struct sf_run *r);

/* The description's schedule (schedule.h), NULL when it has none. */
const struct sf_schedule *sf_run_schedule(struct sf_run *r);
/* Make the next sf_run_plan plan the deletion of everything (an expired
 * schedule destroys the stack under the lock its run already holds). */
void sf_run_set_destroy(struct sf_run *r, bool destroy);
/* Turn the object at address on or off through its type's power
 * attribute (SF_POWER): read it, then, unless it is so already (*acted
 * false), update it with that attribute changed, as an apply would, with
 * its progress. The state records what the provider returned; the call
 * starts journaling and leaves the commit to the caller. Returns 0 or -1. */
int sf_run_power(struct sf_run *r, const char *address, bool on, bool *acted, struct sf_diags *d);

/* Refresh and plan. *out is the caller's. Returns 0 or -1. */
int sf_run_plan(struct sf_run *r, struct sf_plan **out, struct sf_diags *d);
/* Carry out a plan made by sf_run_plan (now or saved). Returns 0 when
 * every step succeeded, -1 otherwise; the state holds what succeeded. */
int sf_run_apply(struct sf_run *r, const struct sf_plan *p, struct sf_diags *d);

/* What an apply with nothing to change still does: record what the
 * refresh found (objects adopted after an interrupted run, objects changed
 * or deleted outside). *recorded is how many entries changed. Returns 0 or
 * -1. */
int sf_run_record_refresh(struct sf_run *r, const struct sf_plan *p, int *recorded,
                          struct sf_diags *d);

/* Bring the object of that id under management as address (which the
 * description must declare and the state must not hold yet): the type's
 * import (or read with {"id": id}) finds it, and the state records it.
 * Returns 0, or -1 with errors in d (the object not existing among them). */
int sf_run_import(struct sf_run *r, const char *address, const char *id, struct sf_diags *d);

/* The resource graph of a description: one node per resource (data: its
 * struct sf_resource_cfg), an edge from each dependency to its dependent:
 * references, depends_on, and what the types' order hooks match (a needer
 * after every provider of a key it needs, see provider.h).
 * Cycles are errors naming every member with its file:line. Returns NULL
 * after errors. */
struct sf_graph *sf_run_resource_graph(const struct sf_config *cfg, struct sf_diags *d);

/* Load a description and evaluate it with every resource attribute unknown:
 * what `validate` checks. Returns 0 or -1. */
int sf_run_validate(const struct sf_run_opts *o, struct sf_diags *d);

#endif

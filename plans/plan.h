/*
 * The plan: per resource, what apply will do and why, with attribute-level
 * diffs. The engine (provisioner/run.c) fills it from the refreshed state
 * and the evaluated description using sf_diff; this module renders it for
 * people and as JSON, and saves / loads plan files.
 */
#ifndef SF_PLAN_H
#define SF_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "diag.h"
#include "provider.h"

#ifndef SF_VERSION
#define SF_VERSION "0.1.0"
#endif

enum sf_action {
    SF_ACT_NOOP,
    SF_ACT_CREATE,
    SF_ACT_UPDATE,
    SF_ACT_REPLACE, /* delete then create, or create then delete (create_before_destroy) */
    SF_ACT_DELETE,
};

enum sf_reason {
    SF_REASON_NONE,
    SF_REASON_FORCE_NEW,      /* an attribute that cannot change in place changed */
    SF_REASON_TAINTED,        /* a create failed half-way */
    SF_REASON_REQUESTED,      /* -replace ADDR */
    SF_REASON_NOT_IN_CONFIG,  /* delete: no longer in the description */
    SF_REASON_DESTROY,        /* delete: sparkform destroy */
    SF_REASON_GONE,           /* create: was in the state, deleted outside sparkform */
    SF_REASON_RENEW,          /* replace: the type's renew says so (a certificate near
                                 expiry); sf_change.reason_detail says why */
};

struct sf_change {
    char *address, *type, *name;
    enum sf_action action;
    enum sf_reason reason;
    char *reason_detail; /* SF_REASON_RENEW: the type's words, shown on the plan line */
    json_t *before;     /* refreshed attributes, NULL for create */
    json_t *after;      /* planned attributes (may hold sf_unknown), NULL for delete */
    json_t *sensitive;  /* array of attribute names never to print */
    json_t *replace_paths; /* array: attributes whose change forces replacement */
    json_t *dependencies;  /* array of addresses this resource depends on */
    bool create_before_destroy;
    int deposed;        /* delete: > 0 when this deletes deposed objects only */
};

/* A change made outside sparkform, found by refresh. */
struct sf_drift {
    char *address, *type;
    json_t *before;    /* as recorded in the state */
    json_t *after;     /* as read now; NULL when the object is gone */
    json_t *sensitive; /* array of attribute names */
};

struct sf_output_change {
    char *name;
    enum sf_action action; /* NOOP, CREATE, UPDATE, DELETE */
    json_t *before, *after; /* after may be sf_unknown */
    bool sensitive;
};

struct sf_plan {
    int format_version;
    char *lineage;      /* of the state the plan was made against */
    long long serial;
    bool destroy;       /* made by destroy / plan -destroy */
    bool refresh_only;
    struct sf_change *changes;
    size_t n_changes, cap_changes;
    struct sf_drift *drift;
    size_t n_drift, cap_drift;
    struct sf_output_change *outputs;
    size_t n_outputs, cap_outputs;
    json_t *refreshed;  /* refresh-only: object address -> refreshed attributes (null = gone) */
    /* what a saved plan needs to be applied later exactly as planned */
    char *config_path;
    char *config_source;
    json_t *variables;  /* object name -> value (secrets included: plan files are 0600) */
    json_t *targets;    /* array of addresses, or NULL */
    /* a description read from git: {"url" (no credentials), "path", "ref",
       "commit"}, so that applying the plan reads that commit; else NULL */
    json_t *source;
    /* the description's schedule (provisioner/schedule.h): {"hibernate":
       {"cron", "timezone", "next", "next_local"}, "wake": {...},
       "expires_at": {"at", "local"} or "delete_after", "resources"}; NULL
       without one */
    json_t *schedule;
};

struct sf_plan *sf_plan_new(void);
void sf_plan_free(struct sf_plan *p);
/* Append an empty change / drift / output change owned by the plan. */
struct sf_change *sf_plan_add_change(struct sf_plan *p);
struct sf_drift *sf_plan_add_drift(struct sf_plan *p);
struct sf_output_change *sf_plan_add_output(struct sf_plan *p);
const struct sf_change *sf_plan_find(const struct sf_plan *p, const char *address);

/* Counts for "Plan: N to add, M to change, K to destroy." (a replace is one
 * add and one destroy). */
void sf_plan_counts(const struct sf_plan *p, int *add, int *change, int *destroy);
/* True when applying would change anything (resources, outputs, or for a
 * refresh-only plan, the recorded state). */
bool sf_plan_has_changes(const struct sf_plan *p);

/*
 * The schema-driven diff of one resource.
 *   recorded:  the attributes in the state before refresh (NULL when none)
 *   prior:     what refresh read (NULL when gone or never created)
 *   desired:   the evaluated description (may hold sf_unknown)
 *   ignore:    attribute names from lifecycle.ignore_changes
 * Fills c->action, c->reason, c->before (prior), c->after and
 * c->replace_paths. The planned `after` is desired plus, for computed
 * attributes, the prior value (update / no-op) or sf_unknown (create /
 * replace). Attributes with SF_IGNORE_DRIFT compare desired with recorded,
 * not with prior; ignore_changes attributes keep their prior value.
 * force_replace (tainted or -replace) turns any action into a replace and
 * sets c->reason from replace_reason.
 */
void sf_diff(const struct sf_resource_type *rt, const json_t *recorded, const json_t *prior,
             const json_t *desired, const char *const *ignore, size_t n_ignore,
             bool force_replace, enum sf_reason replace_reason, struct sf_change *c);

/* Human rendering, the Terraform-like text:
 *   changes outside sparkform (drift), then "sparkform will perform the
 *   following actions:", each resource with +, ~, -/+ (+/- for
 *   create_before_destroy), - and its attribute diffs ("(known after
 *   apply)", "(sensitive value)", "# forces replacement"), output changes,
 *   and "Plan: N to add, M to change, K to destroy." or "No changes. ..." */
void sf_plan_render(FILE *out, const struct sf_plan *p, bool color);
/* The -json form: {"format_version": "1.0", ...} as documented in
 * docs/json-format.md; secrets are never included. New reference. */
json_t *sf_plan_to_json(const struct sf_plan *p);

/* Plan files: everything, secrets and unknowns included (written 0600,
 * atomically). Reading checks the format and reports errors in d. */
int sf_plan_write(const char *path, const struct sf_plan *p, struct sf_diags *d);
/* The same sealed with crypt (state/state_crypt.h) when it is not NULL: a state
 * with encryption has its saved plans encrypted too. Reading opens a
 * sealed plan with the key its envelope names (an environment variable). */
struct sf_crypt;
int sf_plan_write_sealed(const char *path, const struct sf_plan *p, struct sf_crypt *crypt,
                         struct sf_diags *d);
int sf_plan_read(const char *path, struct sf_plan **out, struct sf_diags *d);

/* Human rendering of one value for show / output: strings quoted, lists
 * and maps expanded, indented by indent spaces. */
void sf_render_value(FILE *out, const json_t *v, int indent);
/* `sparkform show` of a state document (sf_state_to_json's shape): every
 * resource with its attributes, secrets as "(sensitive value)", then the
 * outputs. */
void sf_render_state(FILE *out, const json_t *state, const struct sf_resource_type *(*find)(const char *), bool color);

/* `sparkform show -json` of a state document (sf_state_to_json's shape),
 * as documented in docs/json-format.md: secrets (the schema's SF_SENSITIVE
 * attributes, found through find when it is not NULL, and the entry's
 * sensitive_attributes) are null in "values" and named in
 * "sensitive_values"; sensitive outputs have no "value". New reference. */
json_t *sf_state_render_json(const json_t *state, const struct sf_resource_type *(*find)(const char *));
/* `sparkform output -json` of a state document: {name: {"value" (left out
 * when sensitive), "sensitive", "type"}}. New reference. */
json_t *sf_outputs_render_json(const json_t *state);

/* Names shared by the text, JSON and file forms. */
const char *sf_plan_action_name(enum sf_action a);   /* "create", "no-op", ... */
const char *sf_plan_reason_name(enum sf_reason r);   /* "replace_because_tainted", ... */
int sf_plan_action_parse(const char *s, enum sf_action *out); /* 0 or -1 */
int sf_plan_reason_parse(const char *s, enum sf_reason *out); /* 0 or -1 */
/* The resource name inside an address ("module.m.local_file.x" -> "x");
 * caller frees. */
/* The same, pointing into address. */
const char *sf_plan_name_in(const char *address, const char *type);
char *sf_plan_address_name(const char *address, const char *type);
/* Whether path ("attr" or "attr.key...") is covered by an entry of the
 * sensitive array (an entry covers itself and everything below it). */
bool sf_plan_is_sensitive(const json_t *sensitive, const char *path);
/* listed plus the SF_SENSITIVE attributes of the registered type (when
 * there is one): the renderers use it so that a secret stays hidden even
 * when whoever filled a change or drift forgot to list it. New reference. */
json_t *sf_plan_sensitive_for(const char *type, const json_t *listed);

#endif

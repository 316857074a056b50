/*
 * The description model: a `kind: Stack` file loaded from YAML (node.h),
 * checked against the resource types' schemas, its ${...} references
 * resolved to variables and resources. The engine builds the graph from
 * this, and evaluates each resource's `with:` when it plans and applies.
 *
 *   apiVersion: sparkform/v1
 *   kind: Stack
 *   metadata: {name: demo}
 *   variables:
 *     greeting: {type: string, default: hello, description: ...}
 *     token:    {env: TOKEN, sensitive: true}
 *   resources:
 *     - type: local_file
 *       name: motd
 *       with: {path: motd.txt, content: "${var.greeting}"}
 *       depends_on: [local_ssh_key.deploy]
 *       lifecycle: {prevent_destroy: false, create_before_destroy: false,
 *                   ignore_changes: [content]}
 *       timeouts: {create: 30m, update: 30m, delete: 10m}
 *   providers:
 *     cloud: {auth_url: "${var.auth_url}", region: RegionOne}
 *   state:
 *     backend: s3                       (or local, the default: the -state file)
 *     bucket: tf-states
 *     key: envs/dev/sparkform.state.json
 *     region: ru-msk                    (default)
 *     endpoint: https://hb.ru-msk.vkcs.cloud  (else AWS_ENDPOINT_URL_S3)
 *     access_key: "${var.s3_access}"    (else AWS_ACCESS_KEY_ID)
 *     secret_key: "${var.s3_secret}"    (a sensitive variable; else AWS_SECRET_ACCESS_KEY)
 *   outputs:
 *     motd_path: "${local_file.motd.path}"
 *     token: {value: "${var.token}", sensitive: true, description: ...}
 */
#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"
#include "expr.h"
#include "node.h"
#include "provider.h"

struct sf_module; /* modules/source.h */

struct sf_variable {
    char *name;
    struct sf_pos pos;
    char *type; /* "string", "number", "bool", "list", "map" or "any" */
    const struct sf_node *default_node; /* NULL when there is no default */
    char *env;                          /* {env: NAME}, or NULL */
    bool sensitive;
    char *description;
    json_t *value; /* set by sf_config_bind_vars */
};

struct sf_dep {
    char *address;
    struct sf_pos pos;
};

struct sf_lifecycle {
    bool prevent_destroy;
    bool create_before_destroy;
    char **ignore_changes; /* attribute names */
    size_t n_ignore;
};

/* One instance of a module: where its resources' addresses start, and
 * where its inputs' values come from. The description itself is the root
 * frame (prefix ""). Owned by the config. */
struct sf_frame {
    char *prefix;                 /* "", "module.net.", "module.net[\"a\"].module.sub." */
    char *label;                  /* "module.net[\"a\"]" for messages, NULL for the root */
    const struct sf_frame *parent; /* NULL for the root */
    const struct sf_module *mod;  /* its module file; NULL: the description's own lists */
    const char *dir;              /* relative paths inside it start here */
    const struct sf_node *call;   /* the modules: entry that made it (NULL for the root) */
    const struct sf_node *inputs; /* the mapping of values given to its inputs, or NULL */
    json_t *given;                /* inputs given as values (a SparkService's name), or NULL */
    json_t *each;                 /* {"key": K, "value": V} of the call's for_each, or NULL */
    json_t *depends_on;           /* addresses every resource inside waits for (array) */
};

struct sf_resource_cfg {
    char *type, *name, *address; /* address = "TYPE.NAME", or "module.M.TYPE.NAME[KEY]" */
    struct sf_pos pos;           /* the resource's entry in resources: */
    const struct sf_resource_type *rt;
    const struct sf_node *with; /* NULL when absent */
    struct sf_dep *depends_on;  /* explicit depends_on entries */
    size_t n_depends_on;
    struct sf_ref *refs; /* every ${} reference in with: (variables and resources) */
    size_t n_refs;
    struct sf_lifecycle lifecycle;
    struct sf_timeouts timeouts; /* seconds; 0 = the type's own */
    const struct sf_frame *frame; /* the module instance it belongs to */
    json_t *each;                 /* {"key": K, "value": V} of its for_each, or NULL */
};

/* A provider's block under providers: (name: {key: value, ...}). */
struct sf_provider_cfg {
    char *name;
    struct sf_pos pos;
    const struct sf_provider *p;
    const struct sf_node *block; /* a mapping, or NULL when empty */
};

/* The description's state: block. */
struct sf_state_cfg {
    bool s3;                     /* backend: s3 (else the local file) */
    struct sf_pos pos;           /* the block's; file NULL when there is none */
    const struct sf_node *block; /* the mapping, or NULL */
};

struct sf_output_cfg {
    char *name;
    struct sf_pos pos;
    const struct sf_node *value;
    bool sensitive;
    char *description;
    struct sf_ref *refs;
    size_t n_refs;
    const struct sf_frame *frame; /* where its value is evaluated */
};

struct sf_config {
    char *path;   /* as given */
    char *dir;    /* its directory: relative paths in the description start here */
    char *name;   /* metadata.name */
    struct sf_doc *doc;
    struct sf_variable *vars;
    size_t n_vars;
    struct sf_resource_cfg *resources;
    size_t n_resources;
    struct sf_output_cfg *outputs;
    size_t n_outputs;
    struct sf_provider_cfg *providers;
    size_t n_providers;
    struct sf_state_cfg state;
    char *kind;                 /* "Stack" or "SparkService" */
    struct sf_frame **frames;   /* [0] is the root */
    size_t n_frames;
    struct sf_module **modules; /* every module file read, once each */
    size_t n_modules;
    bool expanded;              /* resources and outputs are instantiated */
    /* Private to config.c: hash indexes by address and variable name, so a
     * description with thousands of resources resolves references in
     * constant time. NULL in a config built by hand (lookups then scan). */
    struct sf_config_index *index;
};

/* Load and check a description: YAML syntax, known keys (with "did you
 * mean"), value types, resource types and their attribute names and types
 * where they are literal, required attributes, duplicate addresses,
 * references to undeclared variables / resources / attributes, and
 * depends_on targets. Every error names file:line:col and what was
 * expected. Returns 0 or -1 (errors in d); *out is the caller's to free. */
int sf_config_load(const char *path, struct sf_config **out, struct sf_diags *d);
/* The same from text already in memory (a saved plan carries its description). */
int sf_config_load_text(const char *path, const char *text, struct sf_config **out,
                        struct sf_diags *d);
void sf_config_free(struct sf_config *c);

/* Instantiate the description: its resources, the modules it calls
 * (with their for_each and when), their inputs checked, every reference
 * resolved to the addresses it names. A plain description is expanded
 * when it is loaded; one with modules, for_each or when needs its
 * variables' values first, so sf_config_bind_vars expands it (and a
 * caller that sets values itself calls this). Returns 0 or -1. */
int sf_config_expand(struct sf_config *c, struct sf_diags *d);

const struct sf_resource_cfg *sf_config_find(const struct sf_config *c, const char *address);
const struct sf_variable *sf_config_var(const struct sf_config *c, const char *name);

/* Give every variable its value, by precedence: -var NAME=VALUE (last one
 * wins; the text is converted to the declared type), -var-file files (YAML
 * maps, later files win), {env: NAME}, then the default. An unknown name in
 * -var or a var file, a value of the wrong type, or a variable left without
 * a value is an error naming where it came from. Returns 0 or -1. */
int sf_config_bind_vars(struct sf_config *c, const char *const *var_args, size_t n_var_args,
                        const char *const *var_files, size_t n_var_files, struct sf_diags *d);

/* Evaluate a resource's with: into its desired attribute object: every
 * ${...} evaluated through sc (var.* references are answered from the bound
 * variables; resource references go to sc->lookup), values converted to the
 * schema's types (a number where a string is expected becomes its text),
 * defaults applied for unset optional attributes, then completed by the
 * type's plan step (provider.h). Values may be the unknown
 * sentinel. *sensitive (when not NULL) receives a new array of the names of
 * attributes whose values came from sensitive variables. Returns a new
 * reference, or NULL after errors (with positions) in d. */
json_t *sf_config_eval_resource(const struct sf_config *c, const struct sf_resource_cfg *r,
                                const struct sf_scope *sc, json_t **sensitive, struct sf_diags *d);
/* Gives the diagnostics of d from index since on that have no place
 * (what a type's hook reported about r) one: a diagnostic naming an
 * attribute (sf_diag_add_attr) the place where the user wrote that
 * attribute's value, followed out of modules (modules/origin.h); with all,
 * the others r's with: (else its entry), without it they stay unplaced
 * (a cloud that did not answer is not about a line). For a resource
 * inside a module, every one gets notes saying which module instance and
 * where it is called. */
void sf_config_place(const struct sf_config *c, const struct sf_resource_cfg *r, struct sf_diags *d,
                     size_t since, bool all);
/* The settings of provider p for a run: every key of p->keys set in the
 * description's providers: block (only ${var.*} references there), else
 * from its environment variable when that is set and not empty. A secret
 * key (SF_SENSITIVE) may only come from the environment or a sensitive
 * variable. *sensitive receives a new array of the names of the secret
 * settings present. Returns a new object, or NULL after errors in d. */
json_t *sf_config_provider_settings(const struct sf_config *c, const struct sf_provider *p,
                                    json_t **sensitive, const struct sf_pos **pos,
                                    struct sf_diags *d);

/* The settings of an s3 state: block, every one evaluated (only
 * ${var.*} references there): bucket, key, region (default ru-msk),
 * endpoint (else AWS_ENDPOINT_URL_S3), access_key and secret_key (else
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; the secret only from a
 * sensitive variable or the environment). A new object of strings, or
 * NULL after errors in d (a missing endpoint or keys among them). */
json_t *sf_config_state_settings(const struct sf_config *c, struct sf_diags *d);
/* The state block's encryption: 0 with *out NULL when there is none, else
 * a new object {"key", "key_from", "old_key"?, "old_key_from"?, "kdf"}
 * with the secrets read from their environment variables or sensitive
 * variables; -1 after errors in d (an unset variable is named, its value
 * never is). */
int sf_config_state_encryption(const struct sf_config *c, json_t **out, struct sf_diags *d);

/* Evaluate an output's value the same way. *sensitive is set when the
 * output is declared sensitive or a secret flowed into it. */
json_t *sf_config_eval_output(const struct sf_config *c, const struct sf_output_cfg *o,
                              const struct sf_scope *sc, bool *sensitive, struct sf_diags *d);

#endif

/*
 * Private to the description loader: config.c reads a description's
 * file-level parts (variables, providers, outputs, one resource entry) and
 * modules/expand.c instantiates resources and modules in frames; both
 * share these helpers, so that a key, a name or a type is checked one way
 * wherever it is written.
 */
#ifndef SF_LOADER_H
#define SF_LOADER_H

#include "config.h"

struct loader {
    struct sf_config *c;
    struct sf_diags *d;
    const char *file;
    const char **addresses; /* for "did you mean", built on first need */
    size_t cap;             /* room in c->resources */
};

char *sf_ld_join_names(const char *const *names, const char *sep);
void sf_ld_unknown_key(struct loader *L, const struct sf_node *key, const char *where,
                       const char *const *allowed);
void sf_ld_check_keys(struct loader *L, const struct sf_node *map, const char *where,
                      const char *const *allowed);
bool sf_ld_is_null(const struct sf_node *n);
const char *sf_ld_want_string(struct loader *L, const struct sf_node *n, const char *what);
int sf_ld_want_bool(struct loader *L, const struct sf_node *n, const char *what, bool *out);
bool sf_ld_valid_name(const char *s, bool allow_upper);
const char *sf_ld_type_word(enum sf_type t);
void sf_ld_unknown_attr(struct sf_diags *d, const struct sf_pos *pos, const char *prefix,
                        const struct sf_resource_type *rt, const char *name, bool computed_ok);
/* The sf_type of a variable's or input's type name; *any for "any". */
enum sf_type sf_ld_var_type(const char *type, bool *any);
json_t *sf_ld_convert(json_t *v, enum sf_type t);
void sf_ld_collect_refs(struct loader *L, const struct sf_node *n, struct sf_ref **refs,
                        size_t *nrefs);
/* "reference to undeclared variable", with "did you mean". */
void sf_ld_undeclared_var(struct loader *L, const struct sf_ref *ref);
/* The type named by a resource entry's type: (errors with "did you mean"). */
const struct sf_resource_type *sf_ld_resource_type(struct loader *L, const struct sf_node *tn,
                                                   const char *type);
/* Adds one resource (an instance of an entry) at address PREFIX TYPE.NAME;
 * NULL after a duplicate. */
struct sf_resource_cfg *sf_ld_add_resource(struct loader *L, const struct sf_node *item,
                                           const char *address, const char *type,
                                           const char *name, const struct sf_resource_type *rt);
void sf_ld_load_outputs(struct loader *L, const struct sf_node *outs, const struct sf_frame *f);
/* Evaluate a YAML value with its ${...} through sc. */
json_t *sf_ld_eval_node(const struct sf_scope *sc, const struct sf_node *n, bool *sens,
                        struct sf_diags *d);

/* modules/expand.c: the frame-aware answer to a reference while
 * evaluating in frame f (each: the for_each instance, self: the value an
 * input rule checks); resource references go on to user, with their
 * address made whole. */
struct sf_at {
    const struct sf_config *c;
    const struct sf_frame *f;
    const json_t *each;
    const json_t *self;
    const struct sf_scope *user;
};
json_t *sf_at_lookup(void *ctx, const struct sf_ref *ref, bool *sensitive, struct sf_diags *d);
/* A scope answering through sf_at_lookup. */
void sf_at_scope(struct sf_at *at, struct sf_scope *sc);
/* Adds "in module.X (FILE), called at FILE:L:C" to every diagnostic
 * from index since on, when f is a module's frame. */
void sf_at_note(struct sf_diags *d, size_t since, const struct sf_frame *f);

#endif

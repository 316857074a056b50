/*
 * Private to modules/: what expand.c (instantiating and resolving) and
 * frame.c (evaluating inside a frame) share about frames. The lookup a
 * run evaluates with (sf_at_lookup) is declared in provisioner/loader.h,
 * where the description loader reaches it.
 */
#ifndef SF_FRAME_H
#define SF_FRAME_H

#include "config.h"
#include "loader.h"

/* A list of the frame's module (or of the description itself, for the
 * root of a Stack): "resources", "modules", "outputs", "inputs". */
const struct sf_node *sf_frame_body(const struct sf_config *c, const struct sf_frame *f, const char *key);
/* The schema of an input of f's module, or NULL. */
const struct sf_node *sf_frame_input_decl(const struct sf_frame *f, const char *name);
/* The keys of a mapping node, NULL-terminated (borrowed texts); caller frees the array. */
const char **sf_frame_node_keys(const struct sf_node *map);
/* A module's output node ("NAME: value" or "NAME: {value, sensitive}");
 * sets *sensitive (when not NULL) for a sensitive output. */
const struct sf_node *sf_frame_output(const struct sf_config *c, const struct sf_frame *f,
                                      const char *name, bool *sensitive);
/* "[KEY]", or "" without a key. Caller frees. */
char *sf_frame_key_suffix(const char *key);
/* The frames frame f's call of module name made: the one for key, or all.
 * *kids is a new array (caller frees) of the returned count. */
size_t sf_frame_children(const struct sf_config *c, const struct sf_frame *f, const char *name,
                         const char *key, const struct sf_frame ***kids);
/* Frame f's call (its modules: entry) of module name, or NULL. */
const struct sf_node *sf_frame_call(const struct sf_config *c, const struct sf_frame *f, const char *name);
/* A YAML value with its ${...} evaluated at at. New reference or NULL. */
json_t *sf_frame_eval(const struct sf_at *at, const struct sf_node *n, bool *sens, struct sf_diags *d);

#endif

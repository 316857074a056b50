/*
 * A module's typed inputs. A module declares each input with a schema
 * (YAML), and a caller's value is checked against it where the caller
 * wrote it, so that a SparkService with min greater than max, a bucket
 * name S3 refuses or an unknown role is an error at the line and column
 * of that field, not somewhere inside the module.
 *
 * A schema:
 *   type: string | number | bool | list | map | object | any
 *   default: VALUE            (absent: the input or field must be given)
 *   required: true            (object fields: must be given, no default)
 *   description: TEXT
 *   sensitive: true           (inputs: the value is secret wherever it goes)
 *   allowed: [a, b] | "${expr}"   (the value must be one of these)
 *   pattern: "^ERE$"          (strings)
 *   format: bucket_name | dns_label | duration | git_source
 *                             (git_source: a git::URL//PATH?ref=TAG that
 *                             `sparkform init` locks; inside the module the
 *                             value is the path of that directory in the
 *                             locked tree, relative to the module's frame)
 *   min: N, max: N            (numbers)
 *   items: SCHEMA             (list items, map values)
 *   fields: {NAME: SCHEMA}    (objects: other fields are errors)
 *   key: FIELD                (a list of objects: FIELD is each item's unique key)
 *   validate: [{condition: "${expr}", message: "text ${...}"}]
 *                             (self is the value checked here)
 */
#ifndef SF_INPUTS_H
#define SF_INPUTS_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"
#include "node.h"

/* What a value is checked and completed with, from where it is used.
 * eval evaluates a schema's expressions (allowed:, validate:) with self
 * bound to the value being checked (a new reference, or NULL after
 * errors); only a check calls it. root_dir is the description's
 * directory (its lock file and module cache) and dir the module frame's:
 * a git_source value becomes the path of its locked tree relative to dir,
 * so that it is the same in every checkout of the description. */
struct sf_input_eval {
    json_t *(*eval)(void *ctx, const struct sf_node *expr, const json_t *self, struct sf_diags *d);
    void *ctx;
    const char *root_dir;
    const char *dir;
};

/* Checks the declarations of a module's inputs: mapping (schema keys,
 * types, defaults of the declared type). Errors at their place. */
int sf_inputs_check_decls(const struct sf_node *decls, struct sf_diags *d);

/* The value of one input, checked and completed against its schema:
 * converted to the declared types, object fields' defaults filled in,
 * every rule applied. value is taken over. at is the caller's node for
 * the value (NULL when it is not written out, e.g. a default), fallback
 * the place to name then. Parts not yet known (sf_unknown) pass
 * unchecked. With check false only conversion and defaults are done.
 * ev may be NULL only when the schema declares no git_source.
 * Returns a new reference, or NULL after errors in d. */
json_t *sf_input_value(const char *name, const struct sf_node *schema, json_t *value,
                       const struct sf_node *at, const struct sf_pos *fallback, bool check,
                       const struct sf_input_eval *ev, struct sf_diags *d);

/* Whether an input's schema says it is required (no default). */
bool sf_input_required(const struct sf_node *schema);
/* Whether it is declared sensitive. */
bool sf_input_sensitive(const struct sf_node *schema);

#endif

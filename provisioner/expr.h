/*
 * Expressions: the ${...} parts of strings in a description. A string that
 * is exactly one ${...} takes the expression's value and type; any other
 * string with ${...} in it is a template whose parts are converted to text.
 *
 * Grammar inside ${ }:
 *   expr      := literal | reference | call | list | map
 *   literal   := "string" | number | true | false | null
 *   reference := ( var.NAME | input.NAME | each.key | each.value | self
 *                | TYPE.NAME [INSTANCE] .ATTR | module.NAME [INSTANCE] .OUTPUT )
 *                { .KEY | [INDEX] }
 *   INSTANCE  := [ "KEY" ] | [ each.key ]     (one instance of a for_each)
 *   list      := [ [expr {, expr}] ] | [for [K,] V in expr : expr [if expr]]
 *   map       := { [KEY : expr {, KEY : expr}] } | {for [K,] V in expr : expr => expr [if expr]}
 *                KEY: "string", NAME or (expr)
 *   call      := FUNC ( [expr {, expr}] )         (funcs.c lists them)
 * "$${" writes a literal "${". input.* is a module's input, each.* the
 * instance of a for_each, self the value an input rule checks. Without an
 * instance key, a resource or module with for_each is a mapping of key ->
 * its attribute or output. A for goes over a list (K: the index) or a
 * mapping (K: the key, in key order).
 *
 * A value not known until apply (sf_unknown) makes every expression that
 * uses it unknown (default() keeps an unknown first argument unknown).
 */
#ifndef SF_EXPR_H
#define SF_EXPR_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"

enum sf_ref_kind { SF_REF_VAR, SF_REF_RESOURCE, SF_REF_INPUT, SF_REF_EACH, SF_REF_SELF, SF_REF_MODULE };

struct sf_ref {
    enum sf_ref_kind kind;
    char *name;        /* the variable or input name, "key" or "value" of each, the
                          resource address "TYPE.NAME", or the module's name */
    char *attr;        /* resources: the attribute; modules: the output */
    char *key;         /* an instance's literal key (TYPE.NAME["a"].ATTR), or NULL */
    bool key_each;     /* the instance is [each.key] */
    struct sf_pos pos; /* where the reference starts in the file */
    const char *field; /* input.NAME.FIELD: the first step when it is a literal .FIELD,
                          else NULL (a lookup may judge that field's sensitivity
                          alone); borrowed, and NULL in sf_expr_refs's copies */
};

/* How an expression gets the values it refers to. */
struct sf_scope {
    /* Return a new reference to the referenced value (the variable's value, or
     * the resource attribute's value, possibly sf_unknown()), setting
     * *sensitive when the value is secret. On failure add an error at
     * ref->pos and return NULL. */
    json_t *(*lookup)(void *ctx, const struct sf_ref *ref, bool *sensitive, struct sf_diags *d);
    void *ctx;
    const char *base_dir; /* file() paths are relative to this */
};

/* Every reference in text (a scalar whose first character is at pos).
 * Syntax errors are reported at the offending column. Returns 0 or -1;
 * *refs is the caller's to sf_refs_free. */
int sf_expr_refs(const char *text, const struct sf_pos *pos, struct sf_ref **refs, size_t *n,
                 struct sf_diags *d);
void sf_refs_free(struct sf_ref *refs, size_t n);

/* Whether text is exactly one ${...} holding a reference followed only by
 * literal steps ("${input.cluster.node_groups}", "${each.value.flavor}",
 * "${input.list[0]}"), so that its value is found by following names
 * (where a value came from, for messages). Then *ref is that reference
 * (the caller's to sf_refs_free(*ref, 1)) and *steps a new array of the
 * steps after it: strings for .KEY and ["KEY"], integers for .N and [N].
 * false for anything else: a template, a call, an operator, a computed
 * index, a syntax error (reported where the value is evaluated). */
bool sf_expr_path(const char *text, struct sf_ref **ref, json_t **steps);

/* True when text contains a ${...} part. */
bool sf_expr_has_template(const char *text);

/* Evaluate text. Returns a new reference (the sentinel counts as one), or
 * NULL after adding errors to d. *sensitive is set (never cleared) when a
 * secret flowed into the result. */
json_t *sf_expr_eval(const char *text, const struct sf_pos *pos, const struct sf_scope *sc,
                     bool *sensitive, struct sf_diags *d);

/* A scalar value as template text: strings as they are, numbers in their
 * shortest exact form ("3", "0.5"), true/false, "" for null. NULL for lists,
 * maps and the unknown sentinel. Caller frees. */
char *sf_expr_text(const json_t *v);

/* For messages: "a string", "a number", "a boolean", "null", "a mapping",
 * "a list" (the words sf_node_describe uses), "an unknown value". */
const char *sf_expr_describe(const json_t *v);

#endif

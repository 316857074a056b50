/*
 * Following a value back to where the user wrote it (origin.h). A value
 * node is read in a place: the frame it is evaluated in, and the for_each
 * whose instance each.* is there. A node that is exactly one reference
 * with literal steps is followed: input.NAME to the caller's inputs:
 * (evaluated in the parent frame, with the call's own for_each), and
 * each.value to the item of the for_each's list or mapping that is this
 * instance, found where that list was itself written. Anything computed
 * stops the walk; nothing here evaluates an expression, so it costs no
 * more than reading the YAML.
 */
#include "origin.h"

#include <string.h>

#include "frame.h"
#include "expr.h"

struct place {
    const struct sf_config *c;
    const struct sf_frame *f;  /* where the node is evaluated; NULL: outside every
                                  module (a SparkService's spec:) */
    const struct sf_node *fe;  /* the for_each whose instance each is, or NULL */
    const json_t *each;        /* {"key": K, "value": V} of that instance, or NULL */
};

/* Links followed at most: references cannot loop through inputs, but a
 * malformed module should not make a message hang. */
#define MAX_HOPS 64

static const struct sf_node *trace(const struct place *at, const struct sf_node *n, const json_t *rest,
                                   int hops, struct place *where);

/* One literal step into a YAML value: a mapping's key or a list's index. */
static const struct sf_node *step_into(const struct sf_node *n, const json_t *step)
{
    if (n->kind == SF_NODE_MAP && json_is_string(step))
        return sf_node_get(n, json_string_value(step));
    if (n->kind == SF_NODE_SEQ && json_is_integer(step)) {
        json_int_t i = json_integer_value(step);
        return i >= 0 && (size_t)i < n->n ? n->items[i] : NULL;
    }
    return NULL;
}

static bool literal_is(const struct sf_node *n, const char *text)
{
    return n && n->kind == SF_NODE_SCALAR && !sf_expr_has_template(n->text) && !strcmp(n->text, text);
}

/* The item of at's for_each that is its instance each: the mapping's
 * entry of that key, the list's item whose key field is it ({list, key}),
 * or the string of a list of strings. *where is the place of the item. */
static const struct sf_node *instance(const struct place *at, int hops, struct place *where)
{
    const char *key = json_string_value(json_object_get(at->each, "key"));
    const struct sf_node *src = at->fe, *field = NULL;
    if (!key)
        return NULL;
    if (src->kind == SF_NODE_MAP) {
        field = sf_node_get(src, "key");
        src = sf_node_get(src, "list");
        if (!src || !field || field->kind != SF_NODE_SCALAR)
            return NULL;
    }
    /* The for_each itself is evaluated in the frame, with no instance. */
    struct place outer = {.c = at->c, .f = at->f};
    json_t *none = json_array();
    const struct sf_node *list = trace(&outer, src, none, hops + 1, where);
    json_decref(none);
    if (list->kind == SF_NODE_MAP && !field)
        return sf_node_get(list, key);
    for (size_t i = 0; list->kind == SF_NODE_SEQ && i < list->n; i++) {
        const struct sf_node *item = list->items[i];
        if (field ? item->kind == SF_NODE_MAP && literal_is(sf_node_get(item, field->text), key)
                  : literal_is(item, key))
            return item;
    }
    return NULL;
}

/* Follows rest (literal steps) from n, read at at, through what is
 * written there and on through the references it is made of. Returns the
 * last node reached (n at worst) with its place in *where. */
static const struct sf_node *trace(const struct place *at, const struct sf_node *n, const json_t *rest,
                                   int hops, struct place *where)
{
    *where = *at;
    size_t i = 0;
    for (; i < json_array_size(rest); i++) {
        const struct sf_node *next = step_into(n, json_array_get(rest, i));
        if (!next)
            break;
        n = next;
    }
    struct sf_ref *ref;
    json_t *steps;
    if (hops > MAX_HOPS || n->kind != SF_NODE_SCALAR || !sf_expr_has_template(n->text) ||
        !sf_expr_path(n->text, &ref, &steps))
        return n;
    /* A reference with steps still to go: they apply to its value. */
    for (size_t j = i; j < json_array_size(rest); j++)
        json_array_append(steps, json_array_get(rest, j));
    const struct sf_node *src = NULL;
    struct place next = {.c = at->c};
    if (ref->kind == SF_REF_INPUT && at->f && at->f->mod && at->f->inputs &&
        at->f->inputs->kind == SF_NODE_MAP) {
        /* What the caller wrote for the input, read where the caller is. */
        src = sf_node_get(at->f->inputs, ref->name);
        next.f = at->f->parent;
        next.fe = at->f->call ? sf_node_get(at->f->call, "for_each") : NULL;
        next.each = next.fe ? at->f->each : NULL;
    } else if (ref->kind == SF_REF_EACH && !strcmp(ref->name, "value") && at->fe && at->each) {
        src = instance(at, hops, &next);
    }
    const struct sf_node *out = n;
    if (src) {
        struct place found;
        out = trace(&next, src, steps, hops + 1, &found);
        *where = found;
    }
    sf_refs_free(ref, 1);
    json_decref(steps);
    return out;
}

/* The resources: entry r was made from (its with: is that entry's). */
static const struct sf_node *entry_of(const struct sf_config *c, const struct sf_resource_cfg *r)
{
    const struct sf_node *list = sf_frame_body(c, r->frame, "resources");
    for (size_t i = 0; list && list->kind == SF_NODE_SEQ && i < list->n; i++)
        if (list->items[i]->kind == SF_NODE_MAP && sf_node_get(list->items[i], "with") == r->with)
            return list->items[i];
    return NULL;
}

const struct sf_node *sf_origin_attr(const struct sf_config *c, const struct sf_resource_cfg *r,
                                     const char *attr)
{
    const struct sf_node *vn = r->with && r->with->kind == SF_NODE_MAP ? sf_node_get(r->with, attr) : NULL;
    if (!vn)
        return NULL;
    const struct sf_node *entry = entry_of(c, r);
    struct place at = {
        .c = c,
        .f = r->frame ? r->frame : c->frames[0],
        .fe = entry ? sf_node_get(entry, "for_each") : NULL,
        .each = r->each,
    };
    json_t *none = json_array();
    struct place where;
    const struct sf_node *n = trace(&at, vn, none, 0, &where);
    json_decref(none);
    return n;
}

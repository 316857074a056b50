/*
 * The machine-readable forms that `-json` prints: the plan (sf_plan_to_json),
 * the state for `show -json` (sf_state_render_json) and the outputs for
 * `output -json` (sf_outputs_render_json). The formats are documented in
 * docs/json-format.md, which is the contract with scripts that read them.
 *
 * Unlike a plan file these never hold a secret: a sensitive value is
 * replaced by null and flagged in the matching *_sensitive mask, and a
 * value not known until apply is null in "after" and true in
 * "after_unknown".
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A copy of v with unknowns and sensitive paths turned into null. */
static json_t *redact(const json_t *v, const json_t *sens, const char *path)
{
    if (!v || sf_is_unknown(v) || (path && sens && sf_plan_is_sensitive(sens, path)))
        return json_null();
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            char *cp = path ? sf_asprintf("%s.%s", path, k) : sf_xstrdup(k);
            json_object_set_new(out, k, redact(e, sens, cp));
            free(cp);
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(out, redact(e, sens, path));
        return out;
    }
    return json_copy((json_t *)v);
}

/* true where v is unknown; objects keep only keys with something unknown
 * below them, arrays keep one entry per element. */
static json_t *unknown_mask(const json_t *v)
{
    if (sf_is_unknown(v))
        return json_true();
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) if (sf_value_has_unknown(e))
            json_object_set_new(out, k, unknown_mask(e));
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(out, unknown_mask(e));
        return out;
    }
    return json_false();
}

/* {"attr": true, "map": {"key": true}} from the sensitive paths. */
static json_t *sensitive_mask(const json_t *sens)
{
    json_t *out = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(sens, i, e)
    {
        const char *s = json_string_value(e);
        if (!s)
            continue;
        char *copy = sf_xstrdup(s), *save = NULL;
        json_t *at = out;
        for (char *part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
            json_t *next = json_object_get(at, part);
            if (json_is_true(next))
                break; /* a parent is sensitive as a whole already */
            if (!save || !*save) {
                json_object_set_new(at, part, json_true());
                break;
            }
            if (!json_is_object(next)) {
                next = json_object();
                json_object_set_new(at, part, next);
            }
            at = next;
        }
        free(copy);
    }
    return out;
}

static json_t *actions(enum sf_action a, bool cbd)
{
    switch (a) {
    case SF_ACT_NOOP: return json_pack("[s]", "no-op");
    case SF_ACT_CREATE: return json_pack("[s]", "create");
    case SF_ACT_UPDATE: return json_pack("[s]", "update");
    case SF_ACT_REPLACE: return cbd ? json_pack("[ss]", "create", "delete") : json_pack("[ss]", "delete", "create");
    case SF_ACT_DELETE: return json_pack("[s]", "delete");
    }
    return json_array();
}

/* The before/after half of a change object, shared by changes and drift. */
static json_t *change_values(json_t *actions_arr, const json_t *before, const json_t *after,
                             const json_t *sens)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "actions", actions_arr,
                     "before", redact(before, sens, NULL),
                     "after", redact(after, sens, NULL),
                     "after_unknown", after ? unknown_mask(after) : json_object(),
                     "before_sensitive", before ? sensitive_mask(sens) : json_false(),
                     "after_sensitive", after ? sensitive_mask(sens) : json_false());
}

json_t *sf_plan_to_json(const struct sf_plan *p)
{
    json_t *root = json_pack("{s:s, s:s, s:s?, s:I, s:b, s:b}", "format_version", "1.0",
                             "sparkform_version", SF_VERSION, "lineage", p->lineage,
                             "serial", (json_int_t)p->serial, "destroy", p->destroy,
                             "refresh_only", p->refresh_only);
    if (p->source)
        json_object_set_new(root, "description_source", json_deep_copy(p->source));
    if (p->schedule)
        json_object_set_new(root, "schedule", json_deep_copy(p->schedule));

    json_t *drift = json_array();
    for (size_t i = 0; i < p->n_drift; i++) {
        const struct sf_drift *d = &p->drift[i];
        char *name = sf_plan_address_name(d->address, d->type);
        json_t *sens = sf_plan_sensitive_for(d->type, d->sensitive);
        json_t *ch = change_values(actions(d->after ? SF_ACT_UPDATE : SF_ACT_DELETE, false),
                                   d->before, d->after, sens);
        json_decref(sens);
        json_array_append_new(drift, json_pack("{s:s?, s:s?, s:s, s:o}", "address", d->address,
                                               "type", d->type, "name", name, "change", ch));
        free(name);
    }
    json_object_set_new(root, "resource_drift", drift);

    json_t *changes = json_array();
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct sf_change *c = &p->changes[i];
        char *name = c->name ? sf_xstrdup(c->name) : sf_plan_address_name(c->address, c->type);
        json_t *sens = sf_plan_sensitive_for(c->type, c->sensitive);
        json_t *ch = change_values(actions(c->action, c->create_before_destroy), c->before,
                                   c->after, sens);
        json_decref(sens);
        json_object_set_new(ch, "replace_paths",
                            c->replace_paths ? json_deep_copy(c->replace_paths) : json_array());
        json_t *rc = json_pack("{s:s?, s:s?, s:s, s:o}", "address", c->address, "type", c->type,
                               "name", name, "change", ch);
        if (c->reason != SF_REASON_NONE)
            json_object_set_new(rc, "action_reason", json_string(sf_plan_reason_name(c->reason)));
        if (c->reason_detail)
            json_object_set_new(rc, "action_reason_detail", json_string(c->reason_detail));
        if (c->deposed > 0)
            json_object_set_new(rc, "deposed", json_integer(c->deposed));
        json_array_append_new(changes, rc);
        free(name);
    }
    json_object_set_new(root, "resource_changes", changes);

    json_t *outputs = json_object();
    for (size_t i = 0; i < p->n_outputs; i++) {
        const struct sf_output_change *o = &p->outputs[i];
        const json_t *before = o->action == SF_ACT_CREATE ? NULL : o->before;
        const json_t *after = o->action == SF_ACT_DELETE ? NULL : o->after;
        json_t *sens = json_array();
        if (o->sensitive)
            json_array_append_new(sens, json_string(o->name));
        json_t *oc = json_pack("{s:o, s:o, s:o, s:o, s:b, s:b}", "actions", actions(o->action, false),
                               "before", redact(before, sens, o->name),
                               "after", redact(after, sens, o->name),
                               "after_unknown", after ? unknown_mask(after) : json_false(),
                               "before_sensitive", o->sensitive, "after_sensitive", o->sensitive);
        json_object_set_new(outputs, o->name, oc);
        json_decref(sens);
    }
    json_object_set_new(root, "output_changes", outputs);

    int add, change, destroy;
    sf_plan_counts(p, &add, &change, &destroy);
    json_object_set_new(root, "summary",
                        json_pack("{s:i, s:i, s:i}", "add", add, "change", change, "destroy", destroy));
    return root;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *value_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_ARRAY: return "list";
    case JSON_OBJECT: return "map";
    default: return "null";
    }
}

static json_t *outputs_json(const json_t *outputs, bool with_type)
{
    json_t *out = json_object();
    const char *k;
    json_t *o;
    json_object_foreach((json_t *)outputs, k, o)
    {
        bool sensitive = json_is_true(json_object_get(o, "sensitive"));
        const json_t *v = json_object_get(o, "value");
        json_t *e = json_pack("{s:b}", "sensitive", sensitive);
        if (!sensitive)
            json_object_set_new(e, "value", redact(v, NULL, NULL));
        if (with_type)
            json_object_set_new(e, "type", json_string(value_type(v)));
        json_object_set_new(out, k, e);
    }
    return out;
}

json_t *sf_outputs_render_json(const json_t *state)
{
    return outputs_json(json_object_get(state, "outputs"), true);
}

json_t *sf_state_render_json(const json_t *state, const struct sf_resource_type *(*find)(const char *))
{
    const json_t *resources = json_object_get(state, "resources");
    size_t n = 0;
    const char **addrs = sf_xcalloc(json_object_size(resources) + 1, sizeof(*addrs));
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)resources, k, e) addrs[n++] = k;
    qsort(addrs, n, sizeof(*addrs), cmp_str);

    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        e = json_object_get(resources, addrs[i]);
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!type)
            type = "";
        /* Which attributes are secret: what the state recorded plus what
         * the schema says, sorted and without repeats. */
        json_t *sens = json_array();
        size_t j;
        json_t *s;
        json_array_foreach(json_object_get(e, "sensitive_attributes"), j, s)
            if (json_is_string(s)) json_array_append(sens, s);
        const struct sf_resource_type *rt = find && *type ? find(type) : NULL;
        for (const struct sf_attr *a = rt ? rt->attrs : NULL; a && a->name; a++)
            if (a->flags & SF_SENSITIVE)
                json_array_append_new(sens, json_string(a->name));
        size_t ns = json_array_size(sens);
        const char **names = sf_xcalloc(ns + 1, sizeof(*names));
        json_array_foreach(sens, j, s) names[j] = json_string_value(s);
        qsort(names, ns, sizeof(*names), cmp_str);
        json_t *sorted = json_array();
        for (j = 0; j < ns; j++)
            if (j == 0 || strcmp(names[j], names[j - 1]) != 0)
                json_array_append_new(sorted, json_string(names[j]));
        free(names);

        char *name = sf_plan_address_name(addrs[i], type);
        const json_t *status = json_object_get(e, "status");
        const json_t *deps = json_object_get(e, "dependencies");
        json_t *r = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:o}", "address", addrs[i],
                              "type", type, "name", name,
                              "values", redact(json_object_get(e, "attributes"), sens, NULL),
                              "sensitive_values", sorted,
                              "status", json_is_string(status) ? json_string_value(status) : "ok",
                              "dependencies", json_is_array(deps) ? json_deep_copy(deps) : json_array());
        json_array_append_new(list, r);
        free(name);
        json_decref(sens);
    }
    free(addrs);

    json_t *values = json_pack("{s:o, s:o}", "outputs", outputs_json(json_object_get(state, "outputs"), false),
                               "resources", list);
    json_t *root = json_pack("{s:s, s:s, s:o}", "format_version", "1.0", "sparkform_version", SF_VERSION,
                             "values", values);
    const json_t *lineage = json_object_get(state, "lineage");
    if (json_is_string(lineage))
        json_object_set_new(root, "lineage", json_copy((json_t *)lineage));
    const json_t *source = json_object_get(state, "source");
    if (json_is_object(source))
        json_object_set_new(root, "source", json_deep_copy(source));
    const json_t *serial = json_object_get(state, "serial");
    if (json_is_integer(serial))
        json_object_set_new(root, "serial", json_copy((json_t *)serial));
    return root;
}

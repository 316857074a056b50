/*
 * The schema-driven diff of one resource (sf_diff in plan.h): the engine
 * calls it for every resource that is in the description, after refresh,
 * to decide between create, update, replace and no-op. What counts as a
 * change comes from the schema alone: computed attributes are the
 * provider's, force-new attributes replace, ignore-drift attributes are
 * compared with what sparkform last recorded rather than with what exists.
 */
#include "plan.h"

#include <string.h>

#include "util.h"

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], name) == 0)
            return true;
    return false;
}

static bool computed_only(const struct sf_attr *a)
{
    return (a->flags & SF_COMPUTED) && !(a->flags & (SF_REQUIRED | SF_OPTIONAL));
}

/* Set after[name] to a copy of v (nothing when v is absent). */
static void put_copy(json_t *after, const char *name, const json_t *v)
{
    if (v)
        json_object_set_new(after, name, sf_value_copy(v));
}

static void merge_sensitive(const struct sf_resource_type *rt, struct sf_change *c)
{
    if (!json_is_array(c->sensitive)) {
        json_decref(c->sensitive);
        c->sensitive = json_array();
    }
    for (const struct sf_attr *a = rt->attrs; a && a->name; a++) {
        if (!(a->flags & SF_SENSITIVE))
            continue;
        bool have = false;
        size_t i;
        json_t *e;
        json_array_foreach(c->sensitive, i, e) if (json_is_string(e) && strcmp(json_string_value(e), a->name) == 0)
            have = true;
        if (!have)
            json_array_append_new(c->sensitive, json_string(a->name));
    }
}

void sf_diff(const struct sf_resource_type *rt, const json_t *recorded, const json_t *prior,
             const json_t *desired, const char *const *ignore, size_t n_ignore,
             bool force_replace, enum sf_reason replace_reason, struct sf_change *c)
{
    json_decref(c->before);
    json_decref(c->after);
    json_decref(c->replace_paths);
    if (!c->type)
        c->type = sf_xstrdup(rt->name);
    c->before = sf_value_copy(prior);
    c->after = json_object();
    c->replace_paths = json_array();
    c->reason = SF_REASON_NONE;
    merge_sensitive(rt, c);

    if (!prior) {
        /* Nothing exists to compare with: everything the provider computes
         * is unknown until the create. */
        c->action = SF_ACT_CREATE;
        c->reason = recorded ? SF_REASON_GONE : SF_REASON_NONE;
        for (const struct sf_attr *a = rt->attrs; a && a->name; a++) {
            const json_t *dv = computed_only(a) ? NULL : json_object_get(desired, a->name);
            if ((a->flags & SF_COMPUTED) && (!dv || json_is_null(dv)))
                json_object_set(c->after, a->name, sf_unknown());
            else
                put_copy(c->after, a->name, dv);
        }
        return;
    }

    bool changed = false;
    for (const struct sf_attr *a = rt->attrs; a && a->name; a++) {
        if (computed_only(a))
            continue;
        const json_t *dv = json_object_get(desired, a->name);
        const json_t *pv = json_object_get(prior, a->name);
        if (in_list(a->name, ignore, n_ignore))
            continue;
        if ((a->flags & SF_COMPUTED) && (!dv || json_is_null(dv)))
            continue; /* optional + computed, left to the provider */
        /* The outside world owns an ignore-drift attribute (an autoscaler,
         * say): only a change of the description against what was last
         * recorded is ours to make. */
        const json_t *base = pv;
        if ((a->flags & SF_IGNORE_DRIFT) && recorded)
            base = json_object_get(recorded, a->name);
        if (sf_value_has_unknown(dv) || !sf_value_equal(dv, base)) {
            changed = true;
            if (a->flags & SF_FORCE_NEW)
                json_array_append_new(c->replace_paths, json_string(a->name));
        }
    }

    if (force_replace) {
        c->action = SF_ACT_REPLACE;
        c->reason = replace_reason;
    } else if (json_array_size(c->replace_paths) > 0) {
        c->action = SF_ACT_REPLACE;
        c->reason = SF_REASON_FORCE_NEW;
    } else {
        c->action = changed ? SF_ACT_UPDATE : SF_ACT_NOOP;
    }
    bool fresh = c->action == SF_ACT_REPLACE;

    for (const struct sf_attr *a = rt->attrs; a && a->name; a++) {
        const json_t *dv = computed_only(a) ? NULL : json_object_get(desired, a->name);
        const json_t *pv = json_object_get(prior, a->name);
        if (in_list(a->name, ignore, n_ignore)) {
            put_copy(c->after, a->name, pv);
        } else if ((a->flags & SF_COMPUTED) && (!dv || json_is_null(dv))) {
            /* A new object has no computed values yet; an update in place
             * keeps only those the provider calls stable (an id). */
            if (fresh || (c->action == SF_ACT_UPDATE && !(a->flags & SF_STABLE)))
                json_object_set(c->after, a->name, sf_unknown());
            else
                put_copy(c->after, a->name, pv);
        } else if ((a->flags & SF_IGNORE_DRIFT) && recorded &&
                   !sf_value_has_unknown(dv) &&
                   sf_value_equal(dv, json_object_get(recorded, a->name))) {
            /* Unchanged in the description: keep what is really there. */
            put_copy(c->after, a->name, pv);
        } else {
            put_copy(c->after, a->name, dv);
        }
    }
}

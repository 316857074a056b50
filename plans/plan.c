/*
 * The plan model: the list of resource changes, drift and output changes
 * that the engine fills (with sf_diff) and that render.c, planjson.c and
 * planfile.c turn into text, JSON and plan files. Also the counts behind
 * the "Plan: N to add, ..." line and the names of actions and reasons that
 * the text and file forms share.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct sf_plan *sf_plan_new(void)
{
    struct sf_plan *p = sf_xcalloc(1, sizeof(*p));
    p->format_version = 1;
    return p;
}

static void change_free(struct sf_change *c)
{
    free(c->address);
    free(c->type);
    free(c->name);
    free(c->reason_detail);
    json_decref(c->before);
    json_decref(c->after);
    json_decref(c->sensitive);
    json_decref(c->replace_paths);
    json_decref(c->dependencies);
}

void sf_plan_free(struct sf_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_changes; i++)
        change_free(&p->changes[i]);
    free(p->changes);
    for (size_t i = 0; i < p->n_drift; i++) {
        struct sf_drift *d = &p->drift[i];
        free(d->address);
        free(d->type);
        json_decref(d->before);
        json_decref(d->after);
        json_decref(d->sensitive);
    }
    free(p->drift);
    for (size_t i = 0; i < p->n_outputs; i++) {
        free(p->outputs[i].name);
        json_decref(p->outputs[i].before);
        json_decref(p->outputs[i].after);
    }
    free(p->outputs);
    json_decref(p->refreshed);
    free(p->lineage);
    free(p->config_path);
    free(p->config_source);
    json_decref(p->variables);
    json_decref(p->targets);
    json_decref(p->source);
    json_decref(p->schedule);
    free(p);
}

/* Grow an array of elem-sized items by one zeroed item. */
static void *grow(void **items, size_t *n, size_t *cap, size_t elem)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *items = sf_xrealloc(*items, *cap * elem);
    }
    char *it = (char *)*items + (*n)++ * elem;
    memset(it, 0, elem);
    return it;
}

struct sf_change *sf_plan_add_change(struct sf_plan *p)
{
    return grow((void **)&p->changes, &p->n_changes, &p->cap_changes, sizeof(*p->changes));
}

struct sf_drift *sf_plan_add_drift(struct sf_plan *p)
{
    return grow((void **)&p->drift, &p->n_drift, &p->cap_drift, sizeof(*p->drift));
}

struct sf_output_change *sf_plan_add_output(struct sf_plan *p)
{
    return grow((void **)&p->outputs, &p->n_outputs, &p->cap_outputs, sizeof(*p->outputs));
}

const struct sf_change *sf_plan_find(const struct sf_plan *p, const char *address)
{
    for (size_t i = 0; i < p->n_changes; i++)
        if (p->changes[i].address && strcmp(p->changes[i].address, address) == 0)
            return &p->changes[i];
    return NULL;
}

void sf_plan_counts(const struct sf_plan *p, int *add, int *change, int *destroy)
{
    int a = 0, c = 0, d = 0;
    for (size_t i = 0; i < p->n_changes; i++) {
        switch (p->changes[i].action) {
        case SF_ACT_NOOP: break;
        case SF_ACT_CREATE: a++; break;
        case SF_ACT_UPDATE: c++; break;
        case SF_ACT_REPLACE: a++; d++; break;
        case SF_ACT_DELETE:
            /* deposed counts the leftover objects this one change deletes */
            d += p->changes[i].deposed > 0 ? p->changes[i].deposed : 1;
            break;
        }
    }
    if (add)
        *add = a;
    if (change)
        *change = c;
    if (destroy)
        *destroy = d;
}

bool sf_plan_has_changes(const struct sf_plan *p)
{
    for (size_t i = 0; i < p->n_changes; i++)
        if (p->changes[i].action != SF_ACT_NOOP)
            return true;
    for (size_t i = 0; i < p->n_outputs; i++)
        if (p->outputs[i].action != SF_ACT_NOOP)
            return true;
    /* A refresh-only plan exists to record drift in the state. */
    return p->refresh_only && p->n_drift > 0;
}

static const char *const action_names[] = {
    [SF_ACT_NOOP] = "no-op",     [SF_ACT_CREATE] = "create", [SF_ACT_UPDATE] = "update",
    [SF_ACT_REPLACE] = "replace", [SF_ACT_DELETE] = "delete",
};

static const char *const reason_names[] = {
    [SF_REASON_NONE] = "none",
    [SF_REASON_FORCE_NEW] = "replace_because_cannot_update",
    [SF_REASON_TAINTED] = "replace_because_tainted",
    [SF_REASON_REQUESTED] = "replace_by_request",
    [SF_REASON_NOT_IN_CONFIG] = "delete_because_no_resource_config",
    [SF_REASON_DESTROY] = "delete_because_destroy",
    [SF_REASON_GONE] = "create_because_deleted_outside",
    [SF_REASON_RENEW] = "replace_because_renewal_due",
};

const char *sf_plan_action_name(enum sf_action a)
{
    if ((size_t)a < sizeof(action_names) / sizeof(*action_names))
        return action_names[a];
    return "?";
}

int sf_plan_action_parse(const char *s, enum sf_action *out)
{
    for (size_t i = 0; i < sizeof(action_names) / sizeof(*action_names); i++)
        if (s && strcmp(s, action_names[i]) == 0) {
            *out = (enum sf_action)i;
            return 0;
        }
    return -1;
}

const char *sf_plan_reason_name(enum sf_reason r)
{
    if ((size_t)r < sizeof(reason_names) / sizeof(*reason_names))
        return reason_names[r];
    return "?";
}

int sf_plan_reason_parse(const char *s, enum sf_reason *out)
{
    for (size_t i = 0; i < sizeof(reason_names) / sizeof(*reason_names); i++)
        if (s && strcmp(s, reason_names[i]) == 0) {
            *out = (enum sf_reason)i;
            return 0;
        }
    return -1;
}

const char *sf_plan_name_in(const char *address, const char *type)
{
    /* The name is what follows "<type>." where that starts a segment:
     * "module.spark.local_file.motd" -> "motd"; an index stays on it. */
    if (!address)
        return "";
    size_t tl = type ? strlen(type) : 0;
    const char *found = NULL;
    for (const char *s = address; tl && (s = strstr(s, type)) != NULL; s++)
        if ((s == address || s[-1] == '.') && s[tl] == '.')
            found = s + tl + 1;
    if (!found) {
        const char *dot = strrchr(address, '.');
        found = dot ? dot + 1 : address;
    }
    return found;
}

char *sf_plan_address_name(const char *address, const char *type)
{
    return sf_xstrdup(sf_plan_name_in(address, type));
}

/* A path is "attr" or "attr.key.key"; an entry marks itself and everything
 * below it. */
bool sf_plan_is_sensitive(const json_t *sensitive, const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(sensitive, i, e)
    {
        const char *s = json_string_value(e);
        if (!s)
            continue;
        size_t n = strlen(s);
        if (strncmp(path, s, n) == 0 && (path[n] == '\0' || path[n] == '.'))
            return true;
    }
    return false;
}

json_t *sf_plan_sensitive_for(const char *type, const json_t *listed)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(listed, i, e) if (json_is_string(e)) json_array_append(out, e);
    const struct sf_resource_type *rt = type ? sf_provider_find_type(type) : NULL;
    for (const struct sf_attr *a = rt ? rt->attrs : NULL; a && a->name; a++)
        if ((a->flags & SF_SENSITIVE) && !sf_plan_is_sensitive(out, a->name))
            json_array_append_new(out, json_string(a->name));
    return out;
}

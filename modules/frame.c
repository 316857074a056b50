/*
 * Frames: one instance of a module (frame.h). What the expansion and the
 * evaluation share about a frame (its module's lists, its inputs' schemas,
 * the frames its calls made) and the answer to a reference evaluated inside
 * one (sf_at_lookup): input.* is what the caller wrote, evaluated where
 * the caller is and completed by the schema; module.M.OUT is the output
 * evaluated in the child's frame; a local TYPE.NAME is the frame's own
 * resource, whose whole address goes on to the run.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "inputs.h"
#include "source.h"
#include "util.h"
#include "value.h"

static const struct sf_node *root_of(const struct sf_config *c, const struct sf_frame *f)
{
    return f && f->mod ? f->mod->doc->root : c->doc->root;
}

const struct sf_node *sf_frame_body(const struct sf_config *c, const struct sf_frame *f, const char *key)
{
    const struct sf_node *root = root_of(c, f);
    return root && root->kind == SF_NODE_MAP ? sf_node_get(root, key) : NULL;
}

const struct sf_node *sf_frame_input_decl(const struct sf_frame *f, const char *name)
{
    if (!f || !f->mod)
        return NULL;
    const struct sf_node *decls = sf_node_get(f->mod->doc->root, "inputs");
    return decls && decls->kind == SF_NODE_MAP ? sf_node_get(decls, name) : NULL;
}

/* The keys of a mapping node, NULL-terminated (borrowed texts). */
const char **sf_frame_node_keys(const struct sf_node *map)
{
    size_t n = map && map->kind == SF_NODE_MAP ? map->n : 0;
    const char **names = sf_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        names[i] = map->keys[i]->text;
    return names;
}

/* A module's output node: "NAME: value" or "NAME: {value: ..., sensitive: true}". */
const struct sf_node *sf_frame_output(const struct sf_config *c, const struct sf_frame *f,
                                         const char *name, bool *sensitive)
{
    const struct sf_node *outs = sf_frame_body(c, f, "outputs");
    const struct sf_node *o = outs && outs->kind == SF_NODE_MAP ? sf_node_get(outs, name) : NULL;
    if (o && o->kind == SF_NODE_MAP && sf_node_get(o, "value")) {
        const struct sf_node *s = sf_node_get(o, "sensitive");
        if (sensitive && s && s->kind == SF_NODE_SCALAR && !strcmp(s->text, "true"))
            *sensitive = true;
        return sf_node_get(o, "value");
    }
    return o;
}

char *sf_frame_key_suffix(const char *key)
{
    return key ? sf_asprintf("[%s]", key) : sf_xstrdup("");
}

/* The frames a module call made in frame f: the one for key, or all. */
size_t sf_frame_children(const struct sf_config *c, const struct sf_frame *f, const char *name,
                         const char *key, const struct sf_frame ***kids)
{
    const struct sf_frame **out = sf_xcalloc(c->n_frames + 1, sizeof(*out));
    char *exact = key ? sf_asprintf("%smodule.%s[%s].", f ? f->prefix : "", name, key)
                      : sf_asprintf("%smodule.%s.", f ? f->prefix : "", name);
    char *any = sf_asprintf("%smodule.%s[", f ? f->prefix : "", name);
    size_t n = 0;
    for (size_t i = 0; i < c->n_frames; i++) {
        const struct sf_frame *g = c->frames[i];
        if (g->parent != f)
            continue;
        if (!strcmp(g->prefix, exact) || (!key && !strncmp(g->prefix, any, strlen(any))))
            out[n++] = g;
    }
    free(exact);
    free(any);
    *kids = out;
    return n;
}

void sf_at_note(struct sf_diags *d, size_t since, const struct sf_frame *f)
{
    if (!f || !f->label || !f->call)
        return;
    char *where = NULL;
    for (const struct sf_frame *g = f; g && g->call; g = g->parent) {
        const struct sf_pos *p = &g->call->pos;
        char *line = sf_asprintf("%s%sin %s (%s), called at %s:%d:%d", where ? where : "", where ? "\n" : "",
                                 g->label, g->mod ? g->mod->file : "?", p->file ? p->file : "?", p->line,
                                 p->col);
        free(where);
        where = line;
    }
    pthread_mutex_lock(&d->mu);
    for (size_t i = since; i < d->n; i++) {
        struct sf_diag *g = &d->items[i];
        if (g->detail && strstr(g->detail, where))
            continue;
        char *detail = g->detail ? sf_asprintf("%s\n%s", g->detail, where) : sf_xstrdup(where);
        free(g->detail);
        g->detail = detail;
    }
    pthread_mutex_unlock(&d->mu);
    free(where);
}

/* ---- evaluation in a frame ---- */

void sf_at_scope(struct sf_at *at, struct sf_scope *sc)
{
    sc->lookup = sf_at_lookup;
    sc->ctx = at;
    sc->base_dir = at->f && at->f->dir ? at->f->dir : at->c->dir;
}

json_t *sf_frame_eval(const struct sf_at *at, const struct sf_node *n, bool *sens, struct sf_diags *d)
{
    struct sf_at copy = *at;
    struct sf_scope sc;
    sf_at_scope(&copy, &sc);
    return sf_ld_eval_node(&sc, n, sens, d);
}

/* Whether the schema declares the field of an object input sensitive. */
static bool field_sensitive(const struct sf_node *schema, const char *field)
{
    const struct sf_node *fields = schema && schema->kind == SF_NODE_MAP ? sf_node_get(schema, "fields") : NULL;
    const struct sf_node *one = fields && fields->kind == SF_NODE_MAP ? sf_node_get(fields, field) : NULL;
    return one && sf_input_sensitive(one);
}

/* An input's value inside frame f: what the caller wrote (evaluated where
 * the caller is), else a value given directly, else the default; then
 * completed against the schema. */
static json_t *input_value(const struct sf_at *at, const struct sf_ref *ref, bool *sens,
                           struct sf_diags *d)
{
    const struct sf_frame *f = at->f;
    const struct sf_node *schema = sf_frame_input_decl(f, ref->name);
    if (!schema && !(f && f->mod && f->given && json_object_get(f->given, ref->name))) {
        sf_error(d, &ref->pos, "input.%s: %s", ref->name,
                 f && f->mod ? "the module declares no such input" : "input.* is only known inside a module");
        return NULL;
    }
    const struct sf_node *node = f->inputs && f->inputs->kind == SF_NODE_MAP ? sf_node_get(f->inputs, ref->name)
                                                                             : NULL;
    json_t *v;
    if (node) {
        struct sf_at caller = {.c = at->c, .f = f->parent, .each = f->each, .user = at->user};
        /* input.NAME.FIELD where the caller wrote NAME as a mapping: the
         * field is as secret as what the caller wrote for it (a registry's
         * flavor is not secret because its password is). */
        const struct sf_node *part = ref->field && node->kind == SF_NODE_MAP ? sf_node_get(node, ref->field)
                                                                             : NULL;
        bool whole = false;
        v = sf_frame_eval(&caller, node, &whole, d);
        if (!v)
            return NULL;
        if (whole && part) {
            bool one = false;
            json_t *pv = sf_frame_eval(&caller, part, &one, d);
            json_decref(pv);
            whole = one || field_sensitive(schema, ref->field);
        }
        if (whole)
            *sens = true;
    } else if (f->given && json_object_get(f->given, ref->name)) {
        v = sf_value_copy(json_object_get(f->given, ref->name));
    } else {
        const struct sf_node *def = schema && schema->kind == SF_NODE_MAP ? sf_node_get(schema, "default") : NULL;
        v = def ? sf_node_to_json(def) : json_null();
    }
    if (sf_input_sensitive(schema))
        *sens = true;
    struct sf_input_eval ev = {.root_dir = at->c->dir, .dir = f->dir};
    return sf_input_value(ref->name, schema, v, node, &ref->pos, false, &ev, d);
}

/* Frame f's call (its modules: entry) of module name, or NULL. */
const struct sf_node *sf_frame_call(const struct sf_config *c, const struct sf_frame *f, const char *name)
{
    const struct sf_node *calls = sf_frame_body(c, f, "modules");
    for (size_t k = 0; calls && calls->kind == SF_NODE_SEQ && k < calls->n; k++) {
        const struct sf_node *nm = sf_node_get(calls->items[k], "name");
        if (nm && nm->kind == SF_NODE_SCALAR && !strcmp(nm->text, name))
            return calls->items[k];
    }
    return NULL;
}

static json_t *module_output(const struct sf_at *at, const struct sf_ref *ref, bool *sens,
                             struct sf_diags *d)
{
    const char *key = ref->key;
    if (ref->key_each) {
        if (!at->each) {
            sf_error(d, &ref->pos, "each.key is only known in a resource or module with for_each");
            return NULL;
        }
        key = json_string_value(json_object_get(at->each, "key"));
    }
    const struct sf_node *call = sf_frame_call(at->c, at->f, ref->name);
    if (!key && call && sf_node_get(call, "for_each")) {
        /* Every instance: a mapping of key -> its output. */
        const struct sf_frame **kids;
        size_t n = sf_frame_children(at->c, at->f, ref->name, NULL, &kids);
        json_t *out = json_object();
        size_t plen = strlen(at->f ? at->f->prefix : "") + strlen("module.") + strlen(ref->name) + 1;
        for (size_t i = 0; i < n; i++) {
            const struct sf_node *o = sf_frame_output(at->c, kids[i], ref->attr, sens);
            struct sf_at inner = {.c = at->c, .f = kids[i], .user = at->user};
            json_t *v = o ? sf_frame_eval(&inner, o, sens, d) : NULL;
            if (!v) {
                if (!o)
                    sf_error(d, &ref->pos, "module.%s has no output \"%s\"", ref->name, ref->attr);
                json_decref(out);
                free(kids);
                return NULL;
            }
            const char *k = kids[i]->prefix + plen;
            char *kk = sf_xstrndup(k, strlen(k) - 2); /* "KEY]." */
            json_object_set_new(out, kk, v);
            free(kk);
        }
        free(kids);
        return out;
    }
    const struct sf_frame **kids;
    size_t n = sf_frame_children(at->c, at->f, ref->name, key, &kids);
    const struct sf_frame *kid = n == 1 ? kids[0] : NULL;
    free(kids);
    if (!kid) {
        sf_error(d, &ref->pos,
                 n ? "module.%s has several instances (for_each); name one: module.%s[\"KEY\"].%s"
                   : "module.%s%s%s: no such module instance",
                 ref->name, n ? ref->name : "", n ? ref->attr : "");
        return NULL;
    }
    const struct sf_node *o = sf_frame_output(at->c, kid, ref->attr, sens);
    if (!o) {
        sf_error(d, &ref->pos, "module.%s has no output \"%s\"", ref->name, ref->attr);
        return NULL;
    }
    struct sf_at inner = {.c = at->c, .f = kid, .user = at->user};
    return sf_frame_eval(&inner, o, sens, d);
}

/* A resource referred to without an instance key, when it has several
 * (for_each): a mapping of key -> the attribute of each instance. */
static json_t *all_instances(const struct sf_at *at, const struct sf_ref *ref, const char *base,
                             bool *sens, struct sf_diags *d)
{
    json_t *out = json_object();
    size_t blen = strlen(base);
    for (size_t i = 0; i < at->c->n_resources; i++) {
        const char *a = at->c->resources[i].address;
        if (strncmp(a, base, blen) != 0 || a[blen] != '[')
            continue;
        struct sf_ref one = *ref;
        one.name = (char *)a;
        one.key = NULL;
        json_t *v = at->user && at->user->lookup ? at->user->lookup(at->user->ctx, &one, sens, d)
                                                 : json_incref(sf_unknown());
        if (!v) {
            json_decref(out);
            return NULL;
        }
        char *key = sf_xstrndup(a + blen + 1, strlen(a) - blen - 2);
        json_object_set_new(out, key, v);
        free(key);
    }
    return out;
}

json_t *sf_at_lookup(void *ctx, const struct sf_ref *ref, bool *sensitive, struct sf_diags *d)
{
    const struct sf_at *at = ctx;
    const struct sf_config *c = at->c;
    switch (ref->kind) {
    case SF_REF_VAR: {
        if (at->f && at->f->mod) {
            sf_error(d, &ref->pos, "var.%s cannot be used inside a module; the module takes values through its inputs",
                     ref->name);
            return NULL;
        }
        const struct sf_variable *v = sf_config_var(c, ref->name);
        if (!v) {
            sf_error(d, &ref->pos, "reference to undeclared variable \"%s\"", ref->name);
            return NULL;
        }
        if (!v->value) {
            sf_error(d, &ref->pos, "variable \"%s\" has no value", ref->name);
            return NULL;
        }
        if (v->sensitive)
            *sensitive = true;
        /* A copy: the result ends up inside desired objects that their
         * users may change, and variables are shared by every resource. */
        return sf_value_copy(v->value);
    }
    case SF_REF_INPUT: return input_value(at, ref, sensitive, d);
    case SF_REF_EACH:
        if (!at->each) {
            sf_error(d, &ref->pos, "each.%s is only known in a resource or module with for_each", ref->name);
            return NULL;
        }
        return sf_value_copy(json_object_get(at->each, ref->name));
    case SF_REF_SELF:
        if (!at->self) {
            sf_error(d, &ref->pos, "self is only known in an input's validate rules");
            return NULL;
        }
        return sf_value_copy(at->self);
    case SF_REF_MODULE: return module_output(at, ref, sensitive, d);
    case SF_REF_RESOURCE: break;
    }
    const char *key = ref->key;
    if (ref->key_each) {
        if (!at->each) {
            sf_error(d, &ref->pos, "each.key is only known in a resource or module with for_each");
            return NULL;
        }
        key = json_string_value(json_object_get(at->each, "key"));
    }
    char *suffix = sf_frame_key_suffix(key);
    char *base = sf_asprintf("%s%s", at->f ? at->f->prefix : "", ref->name);
    char *address = sf_asprintf("%s%s", base, suffix);
    free(suffix);
    json_t *v;
    if (!key && !sf_config_find(c, address)) {
        v = all_instances(at, ref, base, sensitive, d);
    } else {
        struct sf_ref global = *ref;
        global.name = address;
        global.key = NULL;
        global.key_each = false;
        v = at->user && at->user->lookup ? at->user->lookup(at->user->ctx, &global, sensitive, d)
                                         : json_incref(sf_unknown());
    }
    free(base);
    free(address);
    return v;
}


/*
 * Module expansion: a description's resources and the modules it calls
 * become the flat list of resources the engine plans, each with its whole
 * address (module.NAME[KEY].TYPE.NAME[KEY]) and the frame it is evaluated
 * in. for_each and when are decided here, once the variables have values;
 * a module's inputs are checked here against its schemas, at the caller's
 * lines; every reference is resolved to the addresses it really names, so
 * the graph orders a module's resources after what its inputs come from.
 * At plan and apply time frame.c answers input.*, each.*, module.*
 * and local resource names inside a frame.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "frame.h"
#include "expr.h"
#include "inputs.h"
#include "loader.h"
#include "source.h"
#include "util.h"
#include "value.h"

static const char *const resource_keys[] = {"type",     "name",     "with", "depends_on", "lifecycle",
                                            "timeouts", "for_each", "when", NULL};
static const char *const call_keys[] = {"name", "source", "inputs", "for_each", "when", "depends_on", NULL};
static const char *const module_keys[] = {"apiVersion", "kind",    "metadata", "inputs",
                                          "resources",  "modules", "outputs",  "schedules", NULL};

/* ---- expansion ---- */

struct instances {
    json_t *keys;   /* array of strings, or NULL: one plain instance */
    json_t *values; /* array, parallel to keys */
};

/* A value for_each / when / inputs need before anything is applied. */
static json_t *known_now(struct loader *L, const struct sf_at *at, const struct sf_node *n, const char *what)
{
    bool sens = false;
    json_t *v = sf_frame_eval(at, n, &sens, L->d);
    if (v && sf_value_has_unknown(v)) {
        sf_error(L->d, &n->pos,
                 "%s must be known before anything is applied, but it depends on a resource's "
                 "attribute; use variables and inputs here",
                 what);
        json_decref(v);
        return NULL;
    }
    return v;
}

static bool valid_key(const char *k)
{
    if (!*k)
        return false;
    for (const char *p = k; *p; p++)
        if (*p == '[' || *p == ']' || *p == '"' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

/* for_each: a mapping (key -> value), a list of strings (each its own
 * key), or {list: LIST, key: FIELD} (a list of objects keyed by a field). */
static int for_each(struct loader *L, const struct sf_at *at, const struct sf_node *fe, struct instances *out)
{
    const struct sf_node *src = fe, *keyn = NULL;
    if (fe->kind == SF_NODE_MAP) {
        src = sf_node_get(fe, "list");
        keyn = sf_node_get(fe, "key");
        if (!src || !keyn || keyn->kind != SF_NODE_SCALAR || fe->n != 2) {
            sf_error(L->d, &fe->pos,
                     "for_each: expected \"${...}\" (a mapping or a list of strings) or {list: \"${...}\", "
                     "key: FIELD}");
            return -1;
        }
    }
    json_t *v = known_now(L, at, src, "for_each");
    if (!v)
        return -1;
    out->keys = json_array();
    out->values = json_array();
    int rc = 0;
    if (json_is_object(v) && !keyn) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e)
        {
            json_array_append_new(out->keys, json_string(k));
            json_array_append(out->values, e);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            json_t *k = keyn ? (json_is_object(e) ? json_object_get(e, keyn->text) : NULL) : e;
            if (!json_is_string(k)) {
                sf_error(L->d, &src->pos,
                         keyn ? "for_each: item %zu has no string field \"%s\" to be its key"
                              : "for_each: item %zu of the list is not a string (a list of objects needs "
                                "{list: ..., key: FIELD})%s",
                         i + 1, keyn ? keyn->text : "");
                rc = -1;
                continue;
            }
            json_array_append(out->keys, k);
            json_array_append(out->values, e);
        }
    } else {
        sf_error(L->d, &src->pos, "for_each: expected a mapping or a list, got %s", sf_expr_describe(v));
        rc = -1;
    }
    json_t *seen = json_object();
    size_t i;
    json_t *k;
    json_array_foreach(out->keys, i, k)
    {
        const char *s = json_string_value(k);
        if (!valid_key(s)) {
            sf_error(L->d, &src->pos, "for_each: the key \"%s\" cannot be part of an address (empty, or has [ ] or \")", s);
            rc = -1;
        } else if (json_object_get(seen, s)) {
            sf_error(L->d, &src->pos, "for_each: the key \"%s\" appears twice; keys must be unique", s);
            rc = -1;
        }
        json_object_set_new(seen, s, json_true());
    }
    json_decref(seen);
    json_decref(v);
    return rc;
}

/* when: true or false, known now. */
static int when(struct loader *L, const struct sf_at *at, const struct sf_node *n, bool *on)
{
    *on = true;
    if (!n)
        return 0;
    json_t *v = known_now(L, at, n, "when");
    if (!v)
        return -1;
    if (!json_is_boolean(v)) {
        sf_error(L->d, &n->pos, "when: expected true or false, got %s", sf_expr_describe(v));
        json_decref(v);
        return -1;
    }
    *on = json_is_true(v);
    json_decref(v);
    return 0;
}

static json_t *each_of(const struct instances *in, size_t i)
{
    if (!in->keys)
        return NULL;
    json_t *e = json_object();
    json_object_set(e, "key", json_array_get(in->keys, i));
    json_object_set(e, "value", json_array_get(in->values, i));
    return e;
}

/* The type's instances hook (one resource per document of a manifest
 * source). It reads a literal source; one written as "${...}" (a module's
 * input) is evaluated here first, and must be known now, as for_each is. */
static int instances(struct loader *L, const struct sf_at *at, const struct sf_resource_type *rt,
                     const struct sf_node *with, json_t **keys)
{
    const struct sf_node *src = with && with->kind == SF_NODE_MAP ? sf_node_get(with, "source") : NULL;
    if (!src || src->kind != SF_NODE_SCALAR || !strstr(src->text, "${"))
        return rt->instances(at->f->dir, with, keys, L->d);
    *keys = NULL;
    json_t *v = known_now(L, at, src, "source");
    if (!v)
        return -1;
    int rc = 0;
    if (json_is_string(v)) {
        /* The hook sees the mapping {source: VALUE}, the value where the
         * expression was written. */
        struct sf_node key = {.kind = SF_NODE_SCALAR, .pos = src->pos, .text_pos = src->pos,
                              .text = (char *)"source"};
        struct sf_node text = {.kind = SF_NODE_SCALAR, .pos = src->pos, .text_pos = src->text_pos,
                               .text = (char *)json_string_value(v), .quoted = true};
        struct sf_node *keyp = &key, *textp = &text;
        struct sf_node one = {.kind = SF_NODE_MAP, .pos = with->pos, .text_pos = with->pos, .n = 1,
                              .keys = &keyp, .items = &textp};
        rc = rt->instances(at->f->dir, &one, keys, L->d);
    }
    /* Anything else (null, a number) is the plan step's to report. */
    json_decref(v);
    return rc;
}

static void expand_resources(struct loader *L, struct sf_frame *f)
{
    const struct sf_node *list = sf_frame_body(L->c, f, "resources");
    if (sf_ld_is_null(list))
        return;
    if (list->kind != SF_NODE_SEQ) {
        sf_error(L->d, &list->pos,
                 "resources: expected a list of resources (each item starting with \"- type: ...\"), got %s",
                 sf_node_describe(list));
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct sf_node *item = list->items[i];
        if (item->kind != SF_NODE_MAP) {
            sf_error(L->d, &item->pos, "resources: each item must be a mapping with type, name and with, got %s",
                     sf_node_describe(item));
            continue;
        }
        const struct sf_node *tn = sf_node_get(item, "type"), *nn = sf_node_get(item, "name");
        const char *type = NULL, *name = NULL;
        if (!tn)
            sf_error(L->d, &item->pos, "resource is missing \"type\" (e.g. type: local_file)");
        else
            type = sf_ld_want_string(L, tn, "resource type");
        if (!nn)
            sf_error(L->d, &item->pos, "resource is missing \"name\" (e.g. name: motd)");
        else
            name = sf_ld_want_string(L, nn, "resource name");
        const struct sf_resource_type *rt = type ? sf_ld_resource_type(L, tn, type) : NULL;
        if (name && !sf_ld_valid_name(name, false)) {
            sf_error(L->d, &nn->pos,
                     "resource name \"%s\" is not valid; use lowercase letters, digits, '_' and "
                     "'-', starting with a letter or '_'",
                     name);
            name = NULL;
        }
        if (!type || !name)
            continue;
        char *where = sf_asprintf("in resource %s.%s", type, name);
        sf_ld_check_keys(L, item, where, resource_keys);
        free(where);

        struct sf_at at = {.c = L->c, .f = f};
        bool on;
        if (when(L, &at, sf_node_get(item, "when"), &on) < 0 || !on)
            continue;
        struct instances in = {0};
        const struct sf_node *fe = sf_node_get(item, "for_each");
        if (fe) {
            if (for_each(L, &at, fe, &in) < 0) {
                json_decref(in.keys);
                json_decref(in.values);
                continue;
            }
        } else if (rt && rt->instances) {
            if (instances(L, &at, rt, sf_node_get(item, "with"), &in.keys) < 0)
                continue;
            if (json_array_size(in.keys) < 2) {
                json_decref(in.keys);
                in.keys = NULL;
            }
        }
        size_t n = in.keys ? json_array_size(in.keys) : 1;
        for (size_t k = 0; k < n; k++) {
            const char *key = in.keys ? json_string_value(json_array_get(in.keys, k)) : NULL;
            char *suffix = sf_frame_key_suffix(key);
            char *one = sf_asprintf("%s%s", name, suffix);
            char *address = sf_asprintf("%s%s.%s", f->prefix, type, one);
            struct sf_resource_cfg *r = sf_ld_add_resource(L, item, address, type, one, rt);
            if (r) {
                r->frame = f;
                r->each = in.values ? each_of(&in, k) : NULL;
            }
            free(suffix);
            free(one);
            free(address);
        }
        json_decref(in.keys);
        json_decref(in.values);
    }
}

static struct sf_module *open_module(struct loader *L, const struct sf_frame *f, const struct sf_node *src)
{
    struct sf_config *c = L->c;
    struct sf_module *m;
    const char *from = f->mod ? f->mod->dir : c->dir;
    if (sf_module_open(src->text, from, c->dir, &src->pos, &m, L->d) < 0)
        return NULL;
    for (size_t i = 0; i < c->n_modules; i++)
        if (!strcmp(c->modules[i]->key, m->key)) {
            sf_module_free(m);
            return c->modules[i];
        }
    c->modules = sf_xrealloc(c->modules, (c->n_modules + 1) * sizeof(*c->modules));
    c->modules[c->n_modules++] = m;
    const struct sf_node *root = m->doc->root;
    if (!root || root->kind != SF_NODE_MAP) {
        struct sf_pos p = {m->file, 1, 1};
        sf_error(L->d, root ? &root->pos : &p, "a module is a mapping with kind: Module, inputs, resources and outputs");
        return NULL;
    }
    sf_ld_check_keys(L, root, "in a module", module_keys);
    const struct sf_node *k = sf_node_get(root, "kind");
    if (!k || k->kind != SF_NODE_SCALAR || strcmp(k->text, "Module") != 0)
        sf_error(L->d, k ? &k->pos : &root->pos, "a module file must say kind: Module");
    sf_inputs_check_decls(sf_node_get(root, "inputs"), L->d);
    return m;
}

static void expand_frame(struct loader *L, struct sf_frame *f);

/* An input rule's expression (allowed:, validate:) evaluated inside the
 * module, where input.* are its other inputs and self the value checked. */
struct rule_ctx {
    const struct sf_config *c;
    const struct sf_frame *f;
};

static json_t *rule_eval(void *ctx, const struct sf_node *expr, const json_t *self, struct sf_diags *d)
{
    const struct rule_ctx *rc = ctx;
    struct sf_at at = {.c = rc->c, .f = rc->f, .self = self};
    bool sens = false;
    return sf_frame_eval(&at, expr, &sens, d);
}

/* Check the values a frame's caller gives against the module's inputs. */
static int check_inputs(struct loader *L, const struct sf_frame *f, const struct sf_pos *at)
{
    size_t errors = sf_diags_errors(L->d);
    const struct sf_node *decls = sf_node_get(f->mod->doc->root, "inputs");
    const struct sf_node *given = f->inputs;
    if (given && given->kind != SF_NODE_MAP) {
        sf_error(L->d, &given->pos, "inputs: expected a mapping of input names to values, got %s",
                 sf_node_describe(given));
        return -1;
    }
    const char **names = sf_frame_node_keys(decls);
    for (size_t i = 0; given && i < given->n; i++) {
        const char *k = given->keys[i]->text;
        if (decls && decls->kind == SF_NODE_MAP && sf_node_get(decls, k))
            continue;
        const char *dym = sf_did_you_mean(k, names);
        char *all = sf_ld_join_names(names, ", ");
        if (dym)
            sf_error(L->d, &given->keys[i]->pos, "%s has no input \"%s\"; did you mean \"%s\"? (inputs: %s)",
                     f->label ? f->label : "the module", k, dym, all);
        else
            sf_error(L->d, &given->keys[i]->pos, "%s has no input \"%s\" (inputs: %s)",
                     f->label ? f->label : "the module", k, all);
        free(all);
    }
    free(names);
    for (size_t i = 0; decls && decls->kind == SF_NODE_MAP && i < decls->n; i++) {
        const char *name = decls->keys[i]->text;
        const struct sf_node *schema = decls->items[i];
        const struct sf_node *node = given ? sf_node_get(given, name) : NULL;
        json_t *v;
        if (node) {
            /* Parts known only at apply time (a resource's id) pass
             * unchecked; the rest is checked now. */
            struct sf_at caller = {.c = L->c, .f = f->parent, .each = f->each};
            bool sens = false;
            v = sf_frame_eval(&caller, node, &sens, L->d);
            if (!v)
                continue;
        } else if (f->given && json_object_get(f->given, name)) {
            v = sf_value_copy(json_object_get(f->given, name));
        } else if (sf_input_required(schema)) {
            sf_error(L->d, given ? &given->pos : at, "%s: missing input \"%s\"%s",
                     f->label ? f->label : "the service", name,
                     f->label ? "" : " under spec:");
            continue;
        } else {
            const struct sf_node *def = schema && schema->kind == SF_NODE_MAP ? sf_node_get(schema, "default") : NULL;
            v = def ? sf_node_to_json(def) : json_null();
        }
        struct rule_ctx rc = {L->c, f};
        struct sf_input_eval ev = {.eval = rule_eval, .ctx = &rc, .root_dir = L->c->dir, .dir = f->dir};
        json_t *done = sf_input_value(name, schema, v, node, given ? &given->pos : at, true, &ev, L->d);
        json_decref(done);
    }
    return sf_diags_errors(L->d) > errors ? -1 : 0;
}

static void expand_calls(struct loader *L, struct sf_frame *f)
{
    struct sf_config *c = L->c;
    const struct sf_node *list = sf_frame_body(c, f, "modules");
    if (sf_ld_is_null(list))
        return;
    if (list->kind != SF_NODE_SEQ) {
        sf_error(L->d, &list->pos, "modules: expected a list of module calls ({name, source, inputs}), got %s",
                 sf_node_describe(list));
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct sf_node *item = list->items[i];
        if (item->kind != SF_NODE_MAP) {
            sf_error(L->d, &item->pos, "modules: each item must be a mapping with name, source and inputs, got %s",
                     sf_node_describe(item));
            continue;
        }
        sf_ld_check_keys(L, item, "in a module call", call_keys);
        const struct sf_node *nn = sf_node_get(item, "name"), *src = sf_node_get(item, "source");
        const char *name = nn ? sf_ld_want_string(L, nn, "module name") : NULL;
        if (!nn)
            sf_error(L->d, &item->pos, "a module call needs a name");
        if (!src)
            sf_error(L->d, &item->pos, "a module call needs a source (a path like ./network, or builtin:spark)");
        else if (!sf_ld_want_string(L, src, "module source"))
            src = NULL;
        if (name && !sf_ld_valid_name(name, false)) {
            sf_error(L->d, &nn->pos, "module name \"%s\" is not valid; use lowercase letters, digits, '_' and '-'", name);
            name = NULL;
        }
        if (!name || !src)
            continue;
        struct sf_at at = {.c = c, .f = f};
        bool on;
        if (when(L, &at, sf_node_get(item, "when"), &on) < 0 || !on)
            continue;
        struct instances in = {0};
        const struct sf_node *fe = sf_node_get(item, "for_each");
        if (fe && for_each(L, &at, fe, &in) < 0) {
            json_decref(in.keys);
            json_decref(in.values);
            continue;
        }
        struct sf_module *m = open_module(L, f, src);
        size_t n = m ? (in.keys ? json_array_size(in.keys) : 1) : 0;
        for (size_t k = 0; k < n; k++) {
            const char *key = in.keys ? json_string_value(json_array_get(in.keys, k)) : NULL;
            char *suffix = sf_frame_key_suffix(key);
            struct sf_frame *g = sf_xcalloc(1, sizeof(*g));
            g->label = sf_asprintf("%smodule.%s%s", f->prefix, name, suffix);
            g->prefix = sf_asprintf("%s.", g->label);
            free(suffix);
            bool dup = false;
            for (size_t j = 0; j < c->n_frames && !dup; j++)
                dup = !strcmp(c->frames[j]->prefix, g->prefix);
            if (dup) {
                sf_error(L->d, &nn->pos, "duplicate module %s", g->label);
                free(g->label);
                free(g->prefix);
                free(g);
                continue;
            }
            g->parent = f;
            g->mod = m;
            g->dir = strncmp(m->dir, "builtin:", 8) ? m->dir : c->dir;
            g->call = item;
            g->inputs = sf_node_get(item, "inputs");
            g->each = in.values ? each_of(&in, k) : NULL;
            c->frames = sf_xrealloc(c->frames, (c->n_frames + 1) * sizeof(*c->frames));
            c->frames[c->n_frames++] = g;
            size_t since = L->d->n;
            /* A module given wrong inputs is not expanded: its own errors
             * would only repeat them. */
            if (check_inputs(L, g, &item->pos) == 0)
                expand_frame(L, g);
            sf_at_note(L->d, since, g);
        }
        json_decref(in.keys);
        json_decref(in.values);
    }
}

static void expand_frame(struct loader *L, struct sf_frame *f)
{
    expand_resources(L, f);
    expand_calls(L, f);
}

/* ---- resolving references ---- */

/* Addresses in frame f that a local name (TYPE.NAME, or module.NAME for
 * depends_on) stands for: the resource, or all its instances. */
static json_t *addresses_of(const struct sf_config *c, const struct sf_frame *f, const char *local,
                            const char *key)
{
    json_t *out = json_array();
    char *base = sf_asprintf("%s%s", f ? f->prefix : "", local);
    size_t blen = strlen(base);
    bool module = !strncmp(local, "module.", 7);
    if (!module) {
        /* The usual case, through the index: one resource of that name. */
        char *exact = key ? sf_asprintf("%s[%s]", base, key) : sf_xstrdup(base);
        bool hit = sf_config_find(c, exact) != NULL;
        if (hit)
            json_array_append_new(out, json_string(exact));
        free(exact);
        if (hit || key) {
            free(base);
            return out;
        }
    }
    for (size_t i = 0; i < c->n_resources; i++) {
        const char *a = c->resources[i].address;
        if (strncmp(a, base, blen) != 0)
            continue;
        const char *rest = a + blen;
        bool match;
        if (key)
            match = rest[0] == '[' && !strncmp(rest + 1, key, strlen(key)) &&
                    rest[1 + strlen(key)] == ']' && (module ? rest[2 + strlen(key)] == '.' : !rest[2 + strlen(key)]);
        else if (module)
            match = rest[0] == '.' || rest[0] == '[';
        else
            /* An instance: "[KEY]" and nothing after (a key may hold dots:
             * a manifest source's Kind/name.group). */
            match = !rest[0] || (rest[0] == '[' && strchr(rest, ']') == rest + strlen(rest) - 1);
        if (match)
            json_array_append_new(out, json_string(a));
    }
    free(base);
    return out;
}

/* For "did you mean": the local names of frame f. */
static const char **local_names(const struct sf_config *c, const struct sf_frame *f)
{
    const char **names = sf_xcalloc(c->n_resources + 1, sizeof(char *));
    size_t n = 0, plen = strlen(f ? f->prefix : "");
    for (size_t i = 0; i < c->n_resources; i++)
        if (c->resources[i].frame == f)
            names[n++] = c->resources[i].address + plen;
    return names;
}

/* Whether frame f's resources: list has an entry TYPE.NAME. */
static bool declared_here(const struct sf_config *c, const struct sf_frame *f, const char *local)
{
    const struct sf_node *list = sf_frame_body(c, f, "resources");
    for (size_t i = 0; list && list->kind == SF_NODE_SEQ && i < list->n; i++) {
        const struct sf_node *t = sf_node_get(list->items[i], "type"), *n = sf_node_get(list->items[i], "name");
        if (!t || !n || t->kind != SF_NODE_SCALAR || n->kind != SF_NODE_SCALAR)
            continue;
        size_t tl = strlen(t->text);
        if (!strncmp(local, t->text, tl) && local[tl] == '.' && !strcmp(local + tl + 1, n->text))
            return true;
    }
    return false;
}

static void add_ref(struct sf_ref **out, size_t *n, const struct sf_ref *like, const char *address)
{
    *out = sf_xrealloc(*out, (*n + 1) * sizeof(**out));
    struct sf_ref *r = &(*out)[(*n)++];
    *r = (struct sf_ref){.kind = like->kind, .pos = like->pos};
    r->name = sf_xstrdup(address);
    r->attr = like->attr ? sf_xstrdup(like->attr) : NULL;
}

static void resolve(struct loader *L, const struct sf_at *at, const struct sf_ref *refs, size_t n,
                    struct sf_ref **out, size_t *nout, int depth);

static void resolve_node(struct loader *L, const struct sf_at *at, const struct sf_node *node,
                         struct sf_ref **out, size_t *nout, int depth)
{
    struct sf_ref *refs = NULL;
    size_t n = 0;
    sf_ld_collect_refs(L, node, &refs, &n);
    resolve(L, at, refs, n, out, nout, depth + 1);
    sf_refs_free(refs, n);
}

static void resolve(struct loader *L, const struct sf_at *at, const struct sf_ref *refs, size_t n,
                    struct sf_ref **out, size_t *nout, int depth)
{
    const struct sf_config *c = L->c;
    const struct sf_frame *f = at->f;
    if (depth > 64)
        return; /* a module calling itself; reported where it is expanded */
    for (size_t i = 0; i < n; i++) {
        const struct sf_ref *ref = &refs[i];
        switch (ref->kind) {
        case SF_REF_VAR:
            if (f && f->mod) {
                sf_error(L->d, &ref->pos,
                         "var.%s cannot be used inside a module; the module takes values through its inputs",
                         ref->name);
            } else if (!sf_config_var(c, ref->name)) {
                sf_ld_undeclared_var(L, ref);
            } else {
                add_ref(out, nout, ref, ref->name);
            }
            break;
        case SF_REF_EACH:
            if (!at->each)
                sf_error(L->d, &ref->pos, "each.%s is only known in a resource or module with for_each", ref->name);
            break;
        case SF_REF_SELF:
            if (!at->self)
                sf_error(L->d, &ref->pos, "self is only known in an input's validate rules");
            break;
        case SF_REF_INPUT: {
            bool given = f && f->given && json_object_get(f->given, ref->name);
            if (!f || !f->mod) {
                sf_error(L->d, &ref->pos, "input.%s: input.* is only known inside a module", ref->name);
                break;
            }
            if (!sf_frame_input_decl(f, ref->name) && !given) {
                const struct sf_node *decls = sf_node_get(f->mod->doc->root, "inputs");
                const char **names = sf_frame_node_keys(decls);
                const char *dym = sf_did_you_mean(ref->name, names);
                sf_error(L->d, &ref->pos, "input.%s: the module declares no such input%s%s%s", ref->name,
                         dym ? "; did you mean input." : "", dym ? dym : "", dym ? "?" : "");
                free(names);
                break;
            }
            const struct sf_node *node = f->inputs && f->inputs->kind == SF_NODE_MAP ? sf_node_get(f->inputs, ref->name)
                                                                                     : NULL;
            if (node) {
                struct sf_at caller = {.c = c, .f = f->parent, .each = f->each};
                resolve_node(L, &caller, node, out, nout, depth);
            }
            break;
        }
        case SF_REF_MODULE: {
            const struct sf_frame **kids;
            const char *key = ref->key;
            if (ref->key_each && at->each)
                key = json_string_value(json_object_get(at->each, "key"));
            size_t nk = sf_frame_children(c, f, ref->name, key, &kids);
            /* Called but off (when: false) has no instance: nothing to wait for. */
            if (!nk && !sf_frame_call(c, f, ref->name))
                sf_error(L->d, &ref->pos, "reference to module.%s: no module of that name is called here",
                         ref->name);
            for (size_t k = 0; k < nk; k++) {
                const struct sf_node *o = sf_frame_output(c, kids[k], ref->attr, NULL);
                if (!o) {
                    const char **names = sf_frame_node_keys(sf_frame_body(c, kids[k], "outputs"));
                    const char *dym = sf_did_you_mean(ref->attr, names);
                    sf_error(L->d, &ref->pos, "module.%s has no output \"%s\"%s%s%s", ref->name, ref->attr,
                             dym ? "; did you mean \"" : "", dym ? dym : "", dym ? "\"?" : "");
                    free(names);
                    break;
                }
                struct sf_at inner = {.c = c, .f = kids[k]};
                resolve_node(L, &inner, o, out, nout, depth);
            }
            free(kids);
            break;
        }
        case SF_REF_RESOURCE: {
            const char *key = ref->key;
            if (ref->key_each) {
                if (!at->each) {
                    sf_error(L->d, &ref->pos, "each.key is only known in a resource or module with for_each");
                    break;
                }
                key = json_string_value(json_object_get(at->each, "key"));
            }
            json_t *found = addresses_of(c, f, ref->name, key);
            if (!json_array_size(found) && declared_here(c, f, ref->name)) {
                /* Declared, but off here (when: false, or an empty
                 * for_each): nothing to wait for; an if() decides. */
                json_decref(found);
                break;
            }
            if (!json_array_size(found)) {
                const char **names = local_names(c, f);
                char *want = key ? sf_asprintf("%s[%s]", ref->name, key) : sf_xstrdup(ref->name);
                const char *dym = sf_did_you_mean(want, names);
                if (dym)
                    sf_error(L->d, &ref->pos, "reference to unknown resource %s; did you mean %s?", want, dym);
                else
                    sf_error(L->d, &ref->pos,
                             "reference to unknown resource %s; no resource with that type and name is "
                             "declared under resources:",
                             want);
                free(want);
                free(names);
            }
            size_t k;
            json_t *a;
            json_array_foreach(found, k, a)
            {
                const struct sf_resource_cfg *target = sf_config_find(c, json_string_value(a));
                if (k == 0 && target && target->rt && ref->attr && !sf_schema_attr(target->rt, ref->attr))
                    sf_ld_unknown_attr(L->d, &ref->pos, "", target->rt, ref->attr, true);
                add_ref(out, nout, ref, json_string_value(a));
            }
            json_decref(found);
            break;
        }
        }
    }
}

/* depends_on entries (TYPE.NAME, TYPE.NAME[KEY], module.NAME) written in
 * frame f, as the addresses they stand for. */
static json_t *resolve_depends(struct loader *L, const struct sf_frame *f, const struct sf_dep *deps, size_t n)
{
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *dep = deps[i].address;
        const char *open = strchr(dep, '[');
        char *local = open ? sf_xstrndup(dep, (size_t)(open - dep)) : sf_xstrdup(dep);
        char *key = open && dep[strlen(dep) - 1] == ']' ? sf_xstrndup(open + 1, strlen(open) - 2) : NULL;
        json_t *found = addresses_of(L->c, f, local, key);
        /* Declared but off here (when: false, an empty for_each): nothing
         * to wait for, as for a reference. A key of one that is on must
         * name an instance. */
        bool off = false;
        if (!json_array_size(found)) {
            json_t *any = key ? addresses_of(L->c, f, local, NULL) : json_incref(found);
            bool declared = !strncmp(local, "module.", 7) ? sf_frame_call(L->c, f, local + 7) != NULL
                                                          : declared_here(L->c, f, local);
            off = declared && !json_array_size(any);
            json_decref(any);
        }
        if (!json_array_size(found) && !off) {
            const char **names = local_names(L->c, f);
            const char *dym = sf_did_you_mean(dep, names);
            if (dym)
                sf_error(L->d, &deps[i].pos, "depends_on: unknown resource %s; did you mean %s?", dep, dym);
            else
                sf_error(L->d, &deps[i].pos,
                         "depends_on: unknown resource %s; no resource with that type and name is declared "
                         "under resources:",
                         dep);
            free(names);
        }
        json_array_extend(out, found);
        json_decref(found);
        free(local);
        free(key);
    }
    return out;
}

static void resolve_all(struct loader *L)
{
    struct sf_config *c = L->c;
    /* The calls' depends_on, parents first (frames are made in that order). */
    for (size_t i = 0; i < c->n_frames; i++) {
        struct sf_frame *f = c->frames[i];
        f->depends_on = f->parent && f->parent->depends_on ? json_copy(f->parent->depends_on) : json_array();
        const struct sf_node *dn = f->call ? sf_node_get(f->call, "depends_on") : NULL;
        if (!dn || sf_ld_is_null(dn))
            continue;
        if (dn->kind != SF_NODE_SEQ) {
            sf_error(L->d, &dn->pos, "depends_on: expected a list of addresses like [cloud_network.main]");
            continue;
        }
        struct sf_dep *deps = sf_xcalloc(dn->n, sizeof(*deps));
        for (size_t k = 0; k < dn->n; k++)
            deps[k] = (struct sf_dep){.address = dn->items[k]->text, .pos = dn->items[k]->pos};
        json_t *more = resolve_depends(L, f->parent, deps, dn->n);
        json_array_extend(f->depends_on, more);
        json_decref(more);
        free(deps);
    }
    for (size_t i = 0; i < c->n_resources; i++) {
        struct sf_resource_cfg *r = &c->resources[i];
        size_t since = L->d->n;
        struct sf_at at = {.c = c, .f = r->frame, .each = r->each};
        struct sf_ref *refs = NULL;
        size_t n = 0;
        resolve(L, &at, r->refs, r->n_refs, &refs, &n, 0);
        sf_refs_free(r->refs, r->n_refs);
        r->refs = refs;
        r->n_refs = n;
        json_t *deps = resolve_depends(L, r->frame, r->depends_on, r->n_depends_on);
        if (r->frame && r->frame->depends_on)
            json_array_extend(deps, r->frame->depends_on);
        for (size_t k = 0; k < r->n_depends_on; k++)
            free(r->depends_on[k].address);
        struct sf_pos pos = r->n_depends_on ? r->depends_on[0].pos : r->pos;
        free(r->depends_on);
        r->depends_on = sf_xcalloc(json_array_size(deps) + 1, sizeof(*r->depends_on));
        r->n_depends_on = 0;
        size_t k;
        json_t *a;
        json_array_foreach(deps, k, a)
        {
            r->depends_on[r->n_depends_on++] = (struct sf_dep){.address = sf_xstrdup(json_string_value(a)), .pos = pos};
        }
        json_decref(deps);
        sf_at_note(L->d, since, r->frame);
    }
    for (size_t i = 0; i < c->n_outputs; i++) {
        struct sf_output_cfg *o = &c->outputs[i];
        struct sf_at at = {.c = c, .f = o->frame};
        struct sf_ref *refs = NULL;
        size_t n = 0;
        resolve(L, &at, o->refs, o->n_refs, &refs, &n, 0);
        sf_refs_free(o->refs, o->n_refs);
        o->refs = refs;
        o->n_refs = n;
    }
}

int sf_config_expand(struct sf_config *c, struct sf_diags *d)
{
    if (c->expanded)
        return 0;
    if (!c->n_frames)
        return -1;
    size_t errors = sf_diags_errors(d);
    struct loader L = {.c = c, .d = d, .file = c->doc->file};
    struct sf_frame *root = c->frames[0];
    if (root->mod) {
        size_t since = d->n;
        int rc = check_inputs(&L, root, &c->doc->root->pos);
        sf_at_note(d, since, root);
        if (rc < 0) {
            c->expanded = true;
            return -1;
        }
    }
    expand_frame(&L, root);
    sf_ld_load_outputs(&L, sf_frame_body(c, root, "outputs"), root);
    if (sf_diags_errors(d) == errors)
        resolve_all(&L);
    free(L.addresses);
    c->expanded = true;
    return sf_diags_errors(d) > errors ? -1 : 0;
}

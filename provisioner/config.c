/*
 * The description loader (see config.h): turns the YAML tree of a
 * `kind: Stack` file into variables, resources and outputs, and checks all
 * it can before anything talks to a provider -- keys, literal types against
 * the resource schemas, references, depends_on targets -- so that a typo is
 * an error with file:line:col instead of a half-applied plan. Later, plan
 * and apply call sf_config_eval_resource to turn a resource's `with:` into
 * its desired attribute object.
 */
#include "config.h"
#include "loader.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"
#include "s3/s3.h"
#include "source.h"
#include "util.h"

struct sf_config_index {
    json_t *resources; /* address -> position in c->resources */
    json_t *vars;      /* name -> position in c->vars */
};

static const char *const top_keys[] = {"apiVersion", "kind",    "metadata", "variables", "providers",
                                       "resources",  "modules", "outputs",  "spec",      "state",
                                       "schedules", NULL};
static const char *const state_keys[] = {"backend",  "bucket",     "key",        "region",
                                         "endpoint", "access_key", "secret_key", "encryption",
                                         NULL};
static const char *const encryption_keys[] = {"key", "old_key", "kdf", NULL};
static const char *const key_source_keys[] = {"env", NULL};
static const char *const metadata_keys[] = {"name", "labels", NULL};
static const char *const variable_keys[] = {"type", "default", "env", "sensitive", "description", NULL};
static const char *const variable_types[] = {"string", "number", "bool", "list", "map", "any", NULL};
static const char *const timeout_keys[] = {"create", "update", "delete", "read", NULL};
static const char *const lifecycle_keys[] = {"prevent_destroy", "create_before_destroy",
                                             "ignore_changes", NULL};
static const char *const output_keys[] = {"value", "sensitive", "description", NULL};

/* ---- small helpers ---- */

char *sf_ld_join_names(const char *const *names, const char *sep)
{
    struct sf_buf b = {0};
    for (size_t i = 0; names[i]; i++) {
        if (i)
            sf_buf_puts(&b, sep);
        sf_buf_puts(&b, names[i]);
    }
    return sf_buf_take(&b);
}

void sf_ld_unknown_key(struct loader *L, const struct sf_node *key, const char *where,
                        const char *const *allowed)
{
    const char *dym = sf_did_you_mean(key->text, allowed);
    char *list = sf_ld_join_names(allowed, ", ");
    if (dym)
        sf_error(L->d, &key->pos, "unknown key \"%s\" %s; did you mean \"%s\"? (allowed: %s)",
                 key->text, where, dym, list);
    else
        sf_error(L->d, &key->pos, "unknown key \"%s\" %s (allowed: %s)", key->text, where, list);
    free(list);
}

void sf_ld_check_keys(struct loader *L, const struct sf_node *map, const char *where,
                       const char *const *allowed)
{
    for (size_t i = 0; i < map->n; i++) {
        bool ok = false;
        for (size_t j = 0; allowed[j] && !ok; j++)
            ok = strcmp(map->keys[i]->text, allowed[j]) == 0;
        if (!ok)
            sf_ld_unknown_key(L, map->keys[i], where, allowed);
    }
}

bool sf_ld_is_null(const struct sf_node *n)
{
    if (!n)
        return true;
    if (n->kind != SF_NODE_SCALAR || n->quoted)
        return false;
    const char *s = n->text;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* A scalar used as a name or setting: NULL (after an error) when it is not one. */
const char *sf_ld_want_string(struct loader *L, const struct sf_node *n, const char *what)
{
    if (n->kind != SF_NODE_SCALAR || sf_ld_is_null(n)) {
        sf_error(L->d, &n->pos, "%s: expected a string, got %s", what, sf_node_describe(n));
        return NULL;
    }
    return n->text;
}

int sf_ld_want_bool(struct loader *L, const struct sf_node *n, const char *what, bool *out)
{
    json_t *v = n->kind == SF_NODE_SCALAR ? sf_node_to_json(n) : NULL;
    int rc = -1;
    if (v && json_is_boolean(v)) {
        *out = json_is_true(v);
        rc = 0;
    } else {
        sf_error(L->d, &n->pos, "%s: expected true or false, got %s", what, sf_node_describe(n));
    }
    json_decref(v);
    return rc;
}

bool sf_ld_valid_name(const char *s, bool allow_upper)
{
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (allow_upper && *s >= 'A' && *s <= 'Z')))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              (allow_upper && *s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

static bool valid_stack_name(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return false;
    return true;
}

static bool computed_only(const struct sf_attr *a)
{
    return (a->flags & SF_COMPUTED) && !(a->flags & (SF_OPTIONAL | SF_REQUIRED));
}

const char *sf_ld_type_word(enum sf_type t)
{
    switch (t) {
    case SF_STRING: return "a string";
    case SF_NUMBER: return "a number";
    case SF_BOOL: return "a boolean";
    case SF_LIST: return "a list";
    case SF_MAP:
    case SF_OBJECT: return "a mapping";
    }
    return "a value";
}

/* for_ref: in a reference every attribute counts; in with: only those that
 * can be set are offered. */
void sf_ld_unknown_attr(struct sf_diags *d, const struct sf_pos *pos, const char *prefix,
                         const struct sf_resource_type *rt, const char *name, bool for_ref)
{
    size_t n = 0;
    for (const struct sf_attr *a = rt->attrs; a && a->name; a++)
        n++;
    const char **names = sf_xcalloc(n + 1, sizeof(*names));
    const char **settable = sf_xcalloc(n + 1, sizeof(*settable));
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        names[i] = rt->attrs[i].name;
        if (for_ref || !computed_only(&rt->attrs[i]))
            settable[ns++] = rt->attrs[i].name;
    }
    const char *dym = sf_did_you_mean(name, settable);
    if (dym) {
        sf_error(d, pos, "%s%s has no attribute \"%s\"; did you mean \"%s\"?", prefix, rt->name,
                 name, dym);
    } else {
        char *list = sf_ld_join_names(settable, ", ");
        sf_error(d, pos, "%s%s has no attribute \"%s\"; its attributes are %s", prefix, rt->name,
                 name, list);
        free(list);
    }
    free(names);
    free(settable);
}

enum sf_type sf_ld_var_type(const char *type, bool *any)
{
    *any = false;
    if (!type || !strcmp(type, "any")) {
        *any = true;
        return SF_STRING;
    }
    if (!strcmp(type, "number"))
        return SF_NUMBER;
    if (!strcmp(type, "bool"))
        return SF_BOOL;
    if (!strcmp(type, "list"))
        return SF_LIST;
    if (!strcmp(type, "map"))
        return SF_MAP;
    return SF_STRING;
}

/* Whether a whole string reads as a number; *out gets it. */
static bool parse_number(const char *s, json_t **out)
{
    if (!*s || *s == ' ' || *s == '\t' || *s == '\n')
        return false;
    char *end;
    errno = 0;
    long long iv = strtoll(s, &end, 10);
    if (!*end && errno == 0) {
        *out = json_integer(iv);
        return true;
    }
    errno = 0;
    double dv = strtod(s, &end);
    if (*end || errno || dv != dv || !strpbrk(s, "0123456789") ||
        strpbrk(s, "xXnN")) /* no hex floats, inf or nan */
        return false;
    *out = json_real(dv);
    return true;
}

/* Converts v (a reference taken over) to type t: numbers and booleans
 * become text where a string is wanted, and text reading as a number or
 * boolean becomes one. Unknown and null pass through. NULL on mismatch. */
json_t *sf_ld_convert(json_t *v, enum sf_type t)
{
    if (sf_is_unknown(v) || json_is_null(v))
        return v;
    json_t *r = NULL;
    switch (t) {
    case SF_STRING:
        if (json_is_string(v))
            return v;
        if (json_is_number(v) || json_is_boolean(v)) {
            char *s = sf_expr_text(v);
            r = json_string(s);
            free(s);
        }
        break;
    case SF_NUMBER:
        if (json_is_number(v))
            return v;
        if (json_is_string(v) && !parse_number(json_string_value(v), &r))
            r = NULL;
        break;
    case SF_BOOL:
        if (json_is_boolean(v))
            return v;
        if (json_is_string(v) && !strcmp(json_string_value(v), "true"))
            r = json_true();
        else if (json_is_string(v) && !strcmp(json_string_value(v), "false"))
            r = json_false();
        break;
    case SF_LIST:
        if (json_is_array(v))
            return v;
        break;
    case SF_MAP:
    case SF_OBJECT:
        if (json_is_object(v))
            return v;
        break;
    }
    json_decref(v);
    return r;
}

/* A literal node's value for an attribute or variable of type t: a plain
 * scalar where a string is wanted is its text as written ("0644" stays
 * "0644"). New reference. */
json_t *sf_ld_literal_value(const struct sf_node *n, enum sf_type t, bool any)
{
    if (sf_ld_is_null(n))
        return json_null();
    if (!any && t == SF_STRING && n->kind == SF_NODE_SCALAR) {
        json_t *s = json_string(n->text);
        return s ? s : json_string_nocheck(n->text);
    }
    return sf_node_to_json(n);
}

/* ---- indexes ---- */

static json_t *index_resources(const struct sf_config *c)
{
    return c->index ? c->index->resources : NULL;
}

const struct sf_resource_cfg *sf_config_find(const struct sf_config *c, const char *address)
{
    json_t *ix = index_resources(c);
    if (ix) {
        json_t *i = json_object_get(ix, address);
        if (!i)
            return NULL;
        size_t k = (size_t)json_integer_value(i);
        if (k < c->n_resources && !strcmp(c->resources[k].address, address))
            return &c->resources[k];
    }
    for (size_t k = 0; k < c->n_resources; k++)
        if (!strcmp(c->resources[k].address, address))
            return &c->resources[k];
    return NULL;
}

const struct sf_variable *sf_config_var(const struct sf_config *c, const char *name)
{
    if (c->index && c->index->vars) {
        json_t *i = json_object_get(c->index->vars, name);
        if (!i)
            return NULL;
        size_t k = (size_t)json_integer_value(i);
        if (k < c->n_vars && !strcmp(c->vars[k].name, name))
            return &c->vars[k];
    }
    for (size_t k = 0; k < c->n_vars; k++)
        if (!strcmp(c->vars[k].name, name))
            return &c->vars[k];
    return NULL;
}

/* ---- loading ---- */

static void load_metadata(struct loader *L, const struct sf_node *root)
{
    const struct sf_node *md = sf_node_get(root, "metadata");
    if (!md) {
        sf_error(L->d, &root->pos, "missing metadata; expected metadata: {name: ...}");
        return;
    }
    if (md->kind != SF_NODE_MAP) {
        sf_error(L->d, &md->pos, "metadata: expected a mapping with a name, got %s",
                 sf_node_describe(md));
        return;
    }
    sf_ld_check_keys(L, md, "in metadata", metadata_keys);
    const struct sf_node *name = sf_node_get(md, "name");
    if (!name) {
        sf_error(L->d, &md->pos,
                 "metadata.name is missing; expected a name of lowercase letters, digits and '-'");
    } else if (sf_ld_want_string(L, name, "metadata.name")) {
        if (!valid_stack_name(name->text))
            sf_error(L->d, &name->pos,
                     "metadata.name \"%s\" is not valid; use lowercase letters, digits and '-' "
                     "(not first or last), at most 63 characters",
                     name->text);
        else
            L->c->name = sf_xstrdup(name->text);
    }
    const struct sf_node *labels = sf_node_get(md, "labels");
    if (labels && !sf_ld_is_null(labels)) {
        if (labels->kind != SF_NODE_MAP)
            sf_error(L->d, &labels->pos, "metadata.labels: expected a mapping, got %s",
                     sf_node_describe(labels));
        else
            for (size_t i = 0; i < labels->n; i++)
                if (labels->items[i]->kind != SF_NODE_SCALAR)
                    sf_error(L->d, &labels->items[i]->pos,
                             "metadata.labels.%s: expected a string, got %s",
                             labels->keys[i]->text, sf_node_describe(labels->items[i]));
    }
}

static bool default_matches(const struct sf_node *n, const char *type)
{
    if (sf_ld_is_null(n) || !strcmp(type, "any"))
        return true;
    if (!strcmp(type, "list"))
        return n->kind == SF_NODE_SEQ;
    if (!strcmp(type, "map"))
        return n->kind == SF_NODE_MAP;
    if (n->kind != SF_NODE_SCALAR)
        return false;
    if (!strcmp(type, "string"))
        return true;
    json_t *v = sf_node_to_json(n);
    json_t *c = sf_ld_convert(v, !strcmp(type, "number") ? SF_NUMBER : SF_BOOL);
    bool ok = c != NULL;
    json_decref(c);
    return ok;
}

static void load_variables(struct loader *L, const struct sf_node *vars)
{
    struct sf_config *c = L->c;
    if (sf_ld_is_null(vars))
        return;
    if (vars->kind != SF_NODE_MAP) {
        sf_error(L->d, &vars->pos,
                 "variables: expected a mapping of variable names to {type, default, ...}, got %s",
                 sf_node_describe(vars));
        return;
    }
    c->vars = sf_xcalloc(vars->n, sizeof(*c->vars));
    for (size_t i = 0; i < vars->n; i++) {
        const struct sf_node *key = vars->keys[i], *spec = vars->items[i];
        if (!sf_ld_valid_name(key->text, true)) {
            sf_error(L->d, &key->pos,
                     "variable name \"%s\" is not valid; use letters, digits, '_' and '-', "
                     "starting with a letter or '_'",
                     key->text);
            continue;
        }
        struct sf_variable *v = &c->vars[c->n_vars++];
        v->name = sf_xstrdup(key->text);
        v->pos = key->pos;
        json_object_set_new(c->index->vars, v->name, json_integer((json_int_t)(c->n_vars - 1)));
        if (sf_ld_is_null(spec)) {
            v->type = sf_xstrdup("any");
            continue;
        }
        if (spec->kind != SF_NODE_MAP) {
            sf_error(L->d, &spec->pos,
                     "variable \"%s\": expected a mapping like {type: string, default: ...}, got %s",
                     v->name, sf_node_describe(spec));
            v->type = sf_xstrdup("any");
            continue;
        }
        char *where = sf_asprintf("in variable \"%s\"", v->name);
        sf_ld_check_keys(L, spec, where, variable_keys);
        free(where);
        const struct sf_node *t = sf_node_get(spec, "type");
        v->type = sf_xstrdup("any");
        if (t) {
            char *what = sf_asprintf("variable \"%s\": type", v->name);
            const char *ts = sf_ld_want_string(L, t, what);
            free(what);
            bool ok = false;
            for (size_t j = 0; ts && variable_types[j]; j++)
                ok = ok || !strcmp(ts, variable_types[j]);
            if (ts && !ok) {
                const char *dym = sf_did_you_mean(ts, variable_types);
                if (dym)
                    sf_error(L->d, &t->pos,
                             "variable \"%s\": type \"%s\" is not valid; did you mean \"%s\"? "
                             "(expected string, number, bool, list, map or any)",
                             v->name, ts, dym);
                else
                    sf_error(L->d, &t->pos,
                             "variable \"%s\": type \"%s\" is not valid; expected string, number, "
                             "bool, list, map or any",
                             v->name, ts);
            } else if (ts) {
                free(v->type);
                v->type = sf_xstrdup(ts);
            }
        }
        const struct sf_node *def = sf_node_get(spec, "default");
        if (def) {
            v->default_node = def;
            if (!default_matches(def, v->type)) {
                bool any;
                enum sf_type st = sf_ld_var_type(v->type, &any);
                sf_error(L->d, &def->pos, "variable \"%s\": the default must be %s, got %s",
                         v->name, sf_ld_type_word(st), sf_node_describe(def));
            }
        }
        const struct sf_node *env = sf_node_get(spec, "env");
        if (env) {
            char *what = sf_asprintf("variable \"%s\": env", v->name);
            const char *es = sf_ld_want_string(L, env, what);
            free(what);
            if (es)
                v->env = sf_xstrdup(es);
        }
        const struct sf_node *sens = sf_node_get(spec, "sensitive");
        if (sens) {
            char *what = sf_asprintf("variable \"%s\": sensitive", v->name);
            sf_ld_want_bool(L, sens, what, &v->sensitive);
            free(what);
        }
        const struct sf_node *desc = sf_node_get(spec, "description");
        if (desc) {
            char *what = sf_asprintf("variable \"%s\": description", v->name);
            const char *ds = sf_ld_want_string(L, desc, what);
            free(what);
            if (ds)
                v->description = sf_xstrdup(ds);
        }
    }
}

static void add_refs(struct sf_ref **refs, size_t *n, struct sf_ref *more, size_t nmore)
{
    if (!nmore) {
        free(more);
        return;
    }
    *refs = sf_xrealloc(*refs, (*n + nmore) * sizeof(**refs));
    memcpy(*refs + *n, more, nmore * sizeof(*more));
    *n += nmore;
    free(more);
}

/* Collects the references of every string under n. */
void sf_ld_collect_refs(struct loader *L, const struct sf_node *n, struct sf_ref **refs, size_t *nrefs)
{
    if (n->kind == SF_NODE_SCALAR) {
        if (!strstr(n->text, "${"))
            return;
        struct sf_ref *r;
        size_t nr;
        if (sf_expr_refs(n->text, &n->text_pos, &r, &nr, L->d) == 0)
            add_refs(refs, nrefs, r, nr);
        return;
    }
    for (size_t i = 0; i < n->n; i++)
        sf_ld_collect_refs(L, n->items[i], refs, nrefs);
}

static void check_literal(struct loader *L, const struct sf_resource_cfg *r, const struct sf_attr *a,
                          const struct sf_node *n)
{
    if (sf_ld_is_null(n) || (n->kind == SF_NODE_SCALAR && sf_expr_has_template(n->text)))
        return;
    bool ok;
    if (a->type == SF_STRING) {
        ok = n->kind == SF_NODE_SCALAR;
    } else if (a->type == SF_LIST) {
        ok = n->kind == SF_NODE_SEQ;
    } else if (a->type == SF_MAP || a->type == SF_OBJECT) {
        ok = n->kind == SF_NODE_MAP;
    } else {
        json_t *v = sf_ld_convert(sf_ld_literal_value(n, a->type, false), a->type);
        ok = v != NULL;
        json_decref(v);
    }
    if (!ok)
        sf_error(L->d, &n->pos, "%s: attribute \"%s\": expected %s, got %s", r->address, a->name,
                 sf_ld_type_word(a->type), sf_node_describe(n));
}

static void load_with(struct loader *L, struct sf_resource_cfg *r, const struct sf_node *with)
{
    if (with && sf_ld_is_null(with))
        with = NULL;
    if (with && with->kind != SF_NODE_MAP) {
        sf_error(L->d, &with->pos, "%s: with: expected a mapping of attributes, got %s", r->address,
                 sf_node_describe(with));
        return;
    }
    r->with = with;
    if (!r->rt)
        return;
    for (size_t i = 0; with && i < with->n; i++) {
        const struct sf_node *key = with->keys[i];
        const struct sf_attr *a = sf_schema_attr(r->rt, key->text);
        if (!a) {
            sf_ld_unknown_attr(L->d, &key->pos, "", r->rt, key->text, false);
            continue;
        }
        if (computed_only(a)) {
            sf_error(L->d, &key->pos,
                     "%s: attribute \"%s\" is computed by %s and cannot be set", r->address,
                     a->name, r->rt->name);
            continue;
        }
        check_literal(L, r, a, with->items[i]);
        sf_ld_collect_refs(L, with->items[i], &r->refs, &r->n_refs);
    }
    for (const struct sf_attr *a = r->rt->attrs; a && a->name; a++) {
        if (!(a->flags & SF_REQUIRED))
            continue;
        const struct sf_node *v = with ? sf_node_get(with, a->name) : NULL;
        if (sf_ld_is_null(v))
            sf_error(L->d, v ? &v->pos : with ? &with->pos : &r->pos,
                     "%s: missing required attribute \"%s\"", r->address, a->name);
    }
}

static void load_lifecycle(struct loader *L, struct sf_resource_cfg *r, const struct sf_node *lc)
{
    if (sf_ld_is_null(lc))
        return;
    if (lc->kind != SF_NODE_MAP) {
        sf_error(L->d, &lc->pos, "%s: lifecycle: expected a mapping, got %s", r->address,
                 sf_node_describe(lc));
        return;
    }
    char *where = sf_asprintf("in the lifecycle of %s", r->address);
    sf_ld_check_keys(L, lc, where, lifecycle_keys);
    free(where);
    const struct sf_node *n;
    if ((n = sf_node_get(lc, "prevent_destroy"))) {
        char *what = sf_asprintf("%s: lifecycle.prevent_destroy", r->address);
        sf_ld_want_bool(L, n, what, &r->lifecycle.prevent_destroy);
        free(what);
    }
    if ((n = sf_node_get(lc, "create_before_destroy"))) {
        char *what = sf_asprintf("%s: lifecycle.create_before_destroy", r->address);
        sf_ld_want_bool(L, n, what, &r->lifecycle.create_before_destroy);
        free(what);
    }
    if ((n = sf_node_get(lc, "ignore_changes")) && !sf_ld_is_null(n)) {
        if (n->kind != SF_NODE_SEQ) {
            sf_error(L->d, &n->pos, "%s: lifecycle.ignore_changes: expected a list of attribute names, got %s",
                     r->address, sf_node_describe(n));
            return;
        }
        r->lifecycle.ignore_changes = sf_xcalloc(n->n, sizeof(char *));
        char *prefix = sf_asprintf("%s: lifecycle.ignore_changes: ", r->address);
        for (size_t i = 0; i < n->n; i++) {
            const struct sf_node *it = n->items[i];
            if (it->kind != SF_NODE_SCALAR || sf_ld_is_null(it)) {
                sf_error(L->d, &it->pos, "%sexpected an attribute name, got %s", prefix,
                         sf_node_describe(it));
                continue;
            }
            if (r->rt && !sf_schema_attr(r->rt, it->text)) {
                sf_ld_unknown_attr(L->d, &it->pos, prefix, r->rt, it->text, true);
                continue;
            }
            r->lifecycle.ignore_changes[r->lifecycle.n_ignore++] = sf_xstrdup(it->text);
        }
        free(prefix);
    }
}

static void load_timeouts(struct loader *L, struct sf_resource_cfg *r, const struct sf_node *n)
{
    if (sf_ld_is_null(n))
        return;
    if (n->kind != SF_NODE_MAP) {
        sf_error(L->d, &n->pos, "%s: timeouts: expected a mapping like {create: 30m, delete: 10m}, got %s",
                 r->address, sf_node_describe(n));
        return;
    }
    char *where = sf_asprintf("in the timeouts of %s", r->address);
    sf_ld_check_keys(L, n, where, timeout_keys);
    free(where);
    int *slots[] = {&r->timeouts.create, &r->timeouts.update, &r->timeouts.delete, &r->timeouts.read};
    for (size_t i = 0; timeout_keys[i]; i++) {
        const struct sf_node *v = sf_node_get(n, timeout_keys[i]);
        if (!v)
            continue;
        long ms = v->kind == SF_NODE_SCALAR ? sf_parse_duration_ms(v->text) : -1;
        if (ms <= 0 || ms / 1000 > 7 * 24 * 3600) {
            if (v->kind == SF_NODE_SCALAR)
                sf_error(L->d, &v->pos,
                         "%s: timeouts.%s: expected a duration like 90s, 30m or 2h, got \"%s\"",
                         r->address, timeout_keys[i], v->text);
            else
                sf_error(L->d, &v->pos,
                         "%s: timeouts.%s: expected a duration like 90s, 30m or 2h, got %s",
                         r->address, timeout_keys[i], sf_node_describe(v));
            continue;
        }
        *slots[i] = (int)((ms + 999) / 1000);
    }
}

static void load_depends_on(struct loader *L, struct sf_resource_cfg *r, const struct sf_node *n)
{
    if (sf_ld_is_null(n))
        return;
    if (n->kind != SF_NODE_SEQ) {
        sf_error(L->d, &n->pos,
                 "%s: depends_on: expected a list of resource addresses like [local_file.motd], got %s",
                 r->address, sf_node_describe(n));
        return;
    }
    r->depends_on = sf_xcalloc(n->n, sizeof(*r->depends_on));
    for (size_t i = 0; i < n->n; i++) {
        const struct sf_node *it = n->items[i];
        if (it->kind != SF_NODE_SCALAR || sf_ld_is_null(it)) {
            sf_error(L->d, &it->pos, "%s: depends_on: expected a resource address, got %s",
                     r->address, sf_node_describe(it));
            continue;
        }
        struct sf_dep *dep = &r->depends_on[r->n_depends_on++];
        dep->address = sf_xstrdup(it->text);
        dep->pos = it->pos;
    }
}

/* One resource of the description (one instance of an entry that stands
 * for several: its address then ends in [KEY]). */
struct sf_resource_cfg *sf_ld_add_resource(struct loader *L, const struct sf_node *item,
                                           const char *address, const char *type,
                                           const char *name, const struct sf_resource_type *rt)
{
    struct sf_config *c = L->c;
    json_t *prev = json_object_get(c->index->resources, address);
    if (prev) {
        const struct sf_resource_cfg *first = &c->resources[json_integer_value(prev)];
        if (first->pos.file && item->pos.file && strcmp(first->pos.file, item->pos.file) != 0)
            sf_error(L->d, &item->pos, "duplicate resource %s; the first is at %s:%d", address,
                     first->pos.file, first->pos.line);
        else
            sf_error(L->d, &item->pos, "duplicate resource %s; the first is at line %d", address,
                     first->pos.line);
        return NULL;
    }
    if (c->n_resources == L->cap) {
        L->cap = L->cap ? L->cap * 2 : 16;
        c->resources = sf_xrealloc(c->resources, L->cap * sizeof(*c->resources));
        memset(c->resources + c->n_resources, 0, (L->cap - c->n_resources) * sizeof(*c->resources));
    }
    struct sf_resource_cfg *r = &c->resources[c->n_resources];
    json_object_set_new(c->index->resources, address, json_integer((json_int_t)c->n_resources));
    c->n_resources++;
    r->type = sf_xstrdup(type);
    r->name = sf_xstrdup(name);
    r->address = sf_xstrdup(address);
    r->pos = item->pos;
    r->rt = rt;
    load_with(L, r, sf_node_get(item, "with"));
    load_depends_on(L, r, sf_node_get(item, "depends_on"));
    load_lifecycle(L, r, sf_node_get(item, "lifecycle"));
    load_timeouts(L, r, sf_node_get(item, "timeouts"));
    return r;
}

const struct sf_resource_type *sf_ld_resource_type(struct loader *L, const struct sf_node *tn,
                                                   const char *type)
{
    const struct sf_resource_type *rt = sf_provider_find_type(type);
    if (rt)
        return rt;
    const char *const *names = sf_provider_type_names();
    const char *dym = sf_did_you_mean(type, names);
    if (dym) {
        sf_error(L->d, &tn->pos, "unknown resource type \"%s\"; did you mean \"%s\"?", type, dym);
    } else {
        char *all = sf_ld_join_names(names, ", ");
        sf_error(L->d, &tn->pos, "unknown resource type \"%s\"; the types are %s", type, all);
        free(all);
    }
    return NULL;
}

static void check_refs(struct loader *L, const struct sf_ref *refs, size_t n);

/* A value of a block set up before any resource exists (providers:,
 * state:): its references must be variables. what names the value
 * ("state.bucket"), why says why the rule holds. */
static void only_variables(struct loader *L, const struct sf_node *v, const char *what, const char *why)
{
    struct sf_ref *refs = NULL;
    size_t nrefs = 0;
    sf_ld_collect_refs(L, v, &refs, &nrefs);
    for (size_t j = 0; j < nrefs; j++) {
        if (refs[j].kind == SF_REF_VAR)
            check_refs(L, &refs[j], 1);
        else
            sf_error(L->d, &refs[j].pos,
                     "%s may refer only to variables (${var.NAME}), not to %s: %s", what,
                     refs[j].name, why);
    }
    sf_refs_free(refs, nrefs);
}

/* providers: {NAME: {key: value}}. Values may refer to variables only (a
 * provider is configured before any resource exists); a secret may not be
 * written down as a literal. */
static void load_provider_block(struct loader *L, struct sf_provider_cfg *pc)
{
    const struct sf_node *b = pc->block;
    size_t nkeys = 0;
    for (const struct sf_provider_key *k = pc->p->keys; k && k->name; k++)
        nkeys++;
    const char **names = sf_xcalloc(nkeys + 1, sizeof(*names));
    for (size_t i = 0; i < nkeys; i++)
        names[i] = pc->p->keys[i].name;
    char *where = sf_asprintf("in providers.%s", pc->name);
    if (nkeys == 0 && b->n > 0)
        sf_error(L->d, &b->keys[0]->pos, "the %s provider takes no settings, got \"%s\"", pc->name,
                 b->keys[0]->text);
    else
        sf_ld_check_keys(L, b, where, names);
    free(where);
    free(names);
    for (size_t i = 0; i < b->n; i++) {
        const struct sf_provider_key *k = sf_provider_key(pc->p, b->keys[i]->text);
        const struct sf_node *v = b->items[i];
        if (!k || sf_ld_is_null(v))
            continue;
        if (v->kind != SF_NODE_SCALAR) {
            sf_error(L->d, &v->pos, "providers.%s.%s: expected %s, got %s", pc->name, k->name,
                     sf_ld_type_word(k->type), sf_node_describe(v));
            continue;
        }
        if (!strstr(v->text, "${")) {
            if (k->flags & SF_SENSITIVE) {
                sf_error(L->d, &v->pos,
                         "providers.%s.%s is a secret and may not be written in the description; "
                         "set it in the environment%s%s or use a sensitive variable (${var.NAME})",
                         pc->name, k->name, k->env ? " variable " : "", k->env ? k->env : "");
                continue;
            }
            json_t *conv = sf_ld_convert(sf_ld_literal_value(v, k->type, false), k->type);
            if (!conv)
                sf_error(L->d, &v->pos, "providers.%s.%s: expected %s, got %s", pc->name, k->name,
                         sf_ld_type_word(k->type), sf_node_describe(v));
            json_decref(conv);
            continue;
        }
        char *what = sf_asprintf("providers.%s.%s", pc->name, k->name);
        only_variables(L, v, what, "providers are set up before any resource exists");
        free(what);
    }
}

static void load_providers(struct loader *L, const struct sf_node *n)
{
    struct sf_config *c = L->c;
    if (sf_ld_is_null(n))
        return;
    if (n->kind != SF_NODE_MAP) {
        sf_error(L->d, &n->pos, "providers: expected a mapping of provider names to settings, got %s",
                 sf_node_describe(n));
        return;
    }
    c->providers = sf_xcalloc(n->n, sizeof(*c->providers));
    for (size_t i = 0; i < n->n; i++) {
        const struct sf_node *key = n->keys[i], *val = n->items[i];
        const struct sf_provider *p = sf_provider_find(key->text);
        if (!p) {
            sf_ld_unknown_key(L, key, "under providers", sf_provider_names());
            continue;
        }
        if (!sf_ld_is_null(val) && val->kind != SF_NODE_MAP) {
            sf_error(L->d, &val->pos, "providers.%s: expected a mapping of settings, got %s",
                     key->text, sf_node_describe(val));
            continue;
        }
        struct sf_provider_cfg *pc = &c->providers[c->n_providers++];
        pc->name = sf_xstrdup(key->text);
        pc->pos = key->pos;
        pc->p = p;
        pc->block = sf_ld_is_null(val) ? NULL : val;
        if (pc->block)
            load_provider_block(L, pc);
    }
}

/* Whether s is a plausible environment variable name. */
static bool env_name_ok(const char *s)
{
    if (!*s || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* state.encryption.key / old_key: {env: NAME}, or "${var.NAME}" (checked
 * sensitive when evaluated); never the secret itself. */
static void load_key_source(struct loader *L, const char *k, const struct sf_node *v)
{
    if (v->kind == SF_NODE_MAP) {
        char *where = sf_asprintf("under state.encryption.%s", k);
        sf_ld_check_keys(L, v, where, key_source_keys);
        free(where);
        const struct sf_node *env = sf_node_get(v, "env");
        char *what = sf_asprintf("state.encryption.%s.env", k);
        const char *name = env ? sf_ld_want_string(L, env, what) : NULL;
        free(what);
        if (!env)
            sf_error(L->d, &v->pos, "state.encryption.%s: expected {env: NAME}, the environment "
                                    "variable that holds the key",
                     k);
        else if (name && !env_name_ok(name))
            sf_error(L->d, &env->pos, "state.encryption.%s.env: \"%s\" is not an environment "
                                      "variable name (letters, digits and _)",
                     k, name);
        return;
    }
    if (v->kind != SF_NODE_SCALAR || sf_ld_is_null(v)) {
        sf_error(L->d, &v->pos, "state.encryption.%s: expected {env: NAME} or \"${var.NAME}\", "
                                "got %s",
                 k, sf_node_describe(v));
        return;
    }
    if (!strstr(v->text, "${")) {
        sf_error(L->d, &v->pos,
                 "state.encryption.%s is a secret and may not be written in the description; use "
                 "{env: NAME} or a sensitive variable (\"${var.NAME}\")",
                 k);
        return;
    }
    char *what = sf_asprintf("state.encryption.%s", k);
    only_variables(L, v, what, "the state is opened before any resource is read");
    free(what);
}

/* state.encryption: {key, old_key, kdf}; for either backend. */
static void load_encryption(struct loader *L, const struct sf_node *n)
{
    if (n->kind != SF_NODE_MAP) {
        sf_error(L->d, &n->pos, "state.encryption: expected a mapping such as {key: {env: NAME}}, "
                                "got %s",
                 sf_node_describe(n));
        return;
    }
    sf_ld_check_keys(L, n, "under state.encryption", encryption_keys);
    if (!sf_node_get(n, "key"))
        sf_error(L->d, &n->pos, "state.encryption needs key: {env: NAME}, the environment variable "
                                "that holds the key");
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->text;
        const struct sf_node *v = n->items[i];
        if (strcmp(k, "key") == 0 || strcmp(k, "old_key") == 0) {
            load_key_source(L, k, v);
        } else if (strcmp(k, "kdf") == 0) {
            const char *kdf = sf_ld_want_string(L, v, "state.encryption.kdf");
            if (kdf && strcmp(kdf, "pbkdf2") != 0 && strcmp(kdf, "hkdf") != 0)
                sf_error(L->d, &v->pos, "state.encryption.kdf: expected pbkdf2 (a passphrase, the "
                                        "default) or hkdf (a random key of 32 bytes or more), got "
                                        "\"%s\"",
                         kdf);
        }
    }
}

/* state: {backend: local} or {backend: s3, bucket, key, ...}. As in
 * providers:, values may refer to variables only (the state is opened
 * before any resource is read) and the secret key is never a literal. */
static void load_state_block(struct loader *L, const struct sf_node *n)
{
    struct sf_state_cfg *sc = &L->c->state;
    if (sf_ld_is_null(n))
        return;
    if (n->kind != SF_NODE_MAP) {
        sf_error(L->d, &n->pos, "state: expected a mapping such as {backend: s3, bucket: ..., "
                                "key: ...}, got %s",
                 sf_node_describe(n));
        return;
    }
    sc->pos = n->pos;
    sc->block = n;
    sf_ld_check_keys(L, n, "under state", state_keys);
    const struct sf_node *b = sf_node_get(n, "backend");
    if (b) {
        const char *v = sf_ld_want_string(L, b, "state.backend");
        if (v && strcmp(v, "s3") == 0)
            sc->s3 = true;
        else if (v && strcmp(v, "local") != 0)
            sf_error(L->d, &b->pos, "state.backend: expected local or s3, got \"%s\"", v);
    }
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->text;
        const struct sf_node *v = n->items[i];
        if (strcmp(k, "backend") == 0)
            continue;
        if (strcmp(k, "encryption") == 0) {
            if (!sf_ld_is_null(v))
                load_encryption(L, v);
            continue;
        }
        bool known = false;
        for (size_t j = 0; state_keys[j] && !known; j++)
            known = strcmp(k, state_keys[j]) == 0;
        if (!known)
            continue;
        if (!sc->s3) {
            sf_error(L->d, &n->keys[i]->pos,
                     "state.%s applies to backend: s3 only (the local state is the -state file)",
                     k);
            continue;
        }
        if (v->kind != SF_NODE_SCALAR || sf_ld_is_null(v)) {
            sf_error(L->d, &v->pos, "state.%s: expected a string, got %s", k, sf_node_describe(v));
            continue;
        }
        if (strstr(v->text, "${")) {
            char *what = sf_asprintf("state.%s", k);
            only_variables(L, v, what, "the state is opened before any resource is read");
            free(what);
            continue;
        }
        const char *why = NULL;
        if (strcmp(k, "secret_key") == 0)
            sf_error(L->d, &v->pos,
                     "state.secret_key is a secret and may not be written in the description; "
                     "set it in the environment variable AWS_SECRET_ACCESS_KEY or use a sensitive "
                     "variable (${var.NAME})");
        else if (strcmp(k, "bucket") == 0 && (why = sf_s3_bucket_name_problem(v->text)))
            sf_error(L->d, &v->pos, "state.bucket \"%s\": %s", v->text, why);
        else if (strcmp(k, "key") == 0 && (!*v->text || v->text[0] == '/' ||
                                           v->text[strlen(v->text) - 1] == '/' ||
                                           strlen(v->text) > 1000))
            sf_error(L->d, &v->pos, "state.key \"%s\": expected an object key such as "
                                    "envs/dev/sparkform.state.json (not starting or ending with "
                                    "'/', at most 1000 bytes)",
                     v->text);
        else if (strcmp(k, "endpoint") == 0) {
            struct sf_s3_endpoint ep;
            if (sf_s3_endpoint_parse(v->text, true, &ep, &why) == 0)
                sf_s3_endpoint_free(&ep);
            else
                sf_error(L->d, &v->pos, "state.endpoint \"%s\": %s", v->text, why);
        }
    }
    if (sc->s3)
        for (size_t i = 0; i < 2; i++) {
            const char *req = i == 0 ? "bucket" : "key";
            if (!sf_node_get(n, req))
                sf_error(L->d, &n->pos, "state: backend s3 needs %s (%s)", req,
                         i == 0 ? "the bucket the state is kept in"
                                : "the state object's key, e.g. envs/dev/sparkform.state.json");
        }
}

void sf_ld_load_outputs(struct loader *L, const struct sf_node *outs, const struct sf_frame *f)
{
    struct sf_config *c = L->c;
    if (sf_ld_is_null(outs))
        return;
    if (outs->kind != SF_NODE_MAP) {
        sf_error(L->d, &outs->pos, "outputs: expected a mapping of output names to values, got %s",
                 sf_node_describe(outs));
        return;
    }
    c->outputs = sf_xcalloc(outs->n, sizeof(*c->outputs));
    for (size_t i = 0; i < outs->n; i++) {
        const struct sf_node *key = outs->keys[i], *val = outs->items[i];
        if (!sf_ld_valid_name(key->text, true)) {
            sf_error(L->d, &key->pos,
                     "output name \"%s\" is not valid; use letters, digits, '_' and '-', "
                     "starting with a letter or '_'",
                     key->text);
            continue;
        }
        struct sf_output_cfg *o = &c->outputs[c->n_outputs++];
        o->name = sf_xstrdup(key->text);
        o->pos = key->pos;
        o->value = val;
        o->frame = f;
        if (val->kind == SF_NODE_MAP) {
            /* The long form; a literal mapping is written {value: {...}}. */
            char *where = sf_asprintf("in output \"%s\"", o->name);
            sf_ld_check_keys(L, val, where, output_keys);
            free(where);
            o->value = sf_node_get(val, "value");
            if (!o->value)
                sf_error(L->d, &val->pos,
                         "output \"%s\": missing \"value\" (the long form is {value: ..., "
                         "sensitive: ..., description: ...})",
                         o->name);
            const struct sf_node *n;
            if ((n = sf_node_get(val, "sensitive"))) {
                char *what = sf_asprintf("output \"%s\": sensitive", o->name);
                sf_ld_want_bool(L, n, what, &o->sensitive);
                free(what);
            }
            if ((n = sf_node_get(val, "description"))) {
                char *what = sf_asprintf("output \"%s\": description", o->name);
                const char *ds = sf_ld_want_string(L, n, what);
                free(what);
                if (ds)
                    o->description = sf_xstrdup(ds);
            }
        }
        if (o->value)
            sf_ld_collect_refs(L, o->value, &o->refs, &o->n_refs);
    }
}

static const char *const *all_addresses(struct loader *L)
{
    if (!L->addresses) {
        L->addresses = sf_xcalloc(L->c->n_resources + 1, sizeof(char *));
        for (size_t i = 0; i < L->c->n_resources; i++)
            L->addresses[i] = L->c->resources[i].address;
    }
    return L->addresses;
}

static void unknown_address(struct loader *L, const struct sf_pos *pos, const char *prefix,
                            const char *address)
{
    const char *dym = sf_did_you_mean(address, all_addresses(L));
    if (dym)
        sf_error(L->d, pos, "%sunknown resource %s; did you mean %s?", prefix, address, dym);
    else
        sf_error(L->d, pos, "%sunknown resource %s; no resource with that type and name is declared under resources:",
                 prefix, address);
}

void sf_ld_undeclared_var(struct loader *L, const struct sf_ref *ref)
{
    const struct sf_config *c = L->c;
    const char **names = sf_xcalloc(c->n_vars + 1, sizeof(char *));
    for (size_t k = 0; k < c->n_vars; k++)
        names[k] = c->vars[k].name;
    const char *dym = sf_did_you_mean(ref->name, names);
    if (dym)
        sf_error(L->d, &ref->pos, "reference to undeclared variable \"%s\"; did you mean \"%s\"?", ref->name,
                 dym);
    else
        sf_error(L->d, &ref->pos, "reference to undeclared variable \"%s\"; declare it under variables:",
                 ref->name);
    free(names);
}

static void check_refs(struct loader *L, const struct sf_ref *refs, size_t n)
{
    struct sf_config *c = L->c;
    for (size_t i = 0; i < n; i++) {
        const struct sf_ref *ref = &refs[i];
        if (ref->kind == SF_REF_VAR) {
            if (!sf_config_var(c, ref->name))
                sf_ld_undeclared_var(L, ref);
            continue;
        }
        const struct sf_resource_cfg *target = sf_config_find(c, ref->name);
        if (!target) {
            unknown_address(L, &ref->pos, "reference to ", ref->name);
            continue;
        }
        if (target->rt && ref->attr && !sf_schema_attr(target->rt, ref->attr))
            sf_ld_unknown_attr(L->d, &ref->pos, "", target->rt, ref->attr, true);
    }
}

/* The root frame: the description's own resources: and modules: (a
 * Stack), or the built-in spark module with the spec: as its inputs (a
 * SparkService). */
static void load_root_frame(struct loader *L, const struct sf_node *root)
{
    struct sf_config *c = L->c;
    struct sf_frame *f = sf_xcalloc(1, sizeof(*f));
    f->prefix = sf_xstrdup("");
    f->dir = c->dir;
    c->frames = sf_xcalloc(1, sizeof(*c->frames));
    c->frames[c->n_frames++] = f;
    if (strcmp(c->kind, "SparkService") != 0)
        return;
    static const char *const own[] = {"resources", "modules", "outputs", "schedules", NULL};
    for (size_t i = 0; own[i]; i++) {
        const struct sf_node *n = sf_node_get(root, own[i]);
        if (n)
            sf_error(L->d, &n->pos,
                     "a SparkService has no %s: of its own; describe the service under spec: "
                     "(or write a kind: Stack that calls the module builtin:spark)",
                     own[i]);
    }
    const struct sf_node *spec = sf_node_get(root, "spec");
    if (!spec) {
        sf_error(L->d, &root->pos, "a SparkService needs a spec: (cluster, storage, operator, ...)");
        return;
    }
    if (spec->kind != SF_NODE_MAP) {
        sf_error(L->d, &spec->pos, "spec: expected a mapping (cluster, storage, operator, ...), got %s",
                 sf_node_describe(spec));
        return;
    }
    struct sf_module *m;
    struct sf_pos pos = root->pos;
    if (sf_module_open("builtin:spark", c->dir, c->dir, &pos, &m, L->d) < 0)
        return;
    c->modules = sf_xcalloc(1, sizeof(*c->modules));
    c->modules[c->n_modules++] = m;
    f->mod = m;
    f->inputs = spec; /* paths in it (files of config maps) are the description's */
    f->given = json_object();
    json_object_set_new(f->given, "name", json_string(c->name ? c->name : ""));
    const struct sf_node *md = sf_node_get(root, "metadata");
    const struct sf_node *labels = md && md->kind == SF_NODE_MAP ? sf_node_get(md, "labels") : NULL;
    json_object_set_new(f->given, "labels", labels && !sf_ld_is_null(labels) ? sf_node_to_json(labels)
                                                                          : json_object());
}

/* Whether expanding the description needs the variables' values: modules
 * (their inputs), for_each or when somewhere. */
static bool needs_values(const struct sf_config *c)
{
    if (c->frames[0]->mod)
        return true;
    const struct sf_node *root = c->doc->root;
    if (sf_node_get(root, "modules"))
        return true;
    const struct sf_node *list = sf_node_get(root, "resources");
    for (size_t i = 0; list && list->kind == SF_NODE_SEQ && i < list->n; i++)
        if (list->items[i]->kind == SF_NODE_MAP &&
            (sf_node_get(list->items[i], "for_each") || sf_node_get(list->items[i], "when")))
            return true;
    return false;
}

static int load(const char *path, const char *text, size_t len, struct sf_config **out,
                struct sf_diags *d)
{
    *out = NULL;
    size_t errors = sf_diags_errors(d);
    struct sf_config *c = sf_xcalloc(1, sizeof(*c));
    c->path = sf_xstrdup(path);
    char *dcopy = sf_xstrdup(path);
    c->dir = sf_xstrdup(dirname(dcopy));
    free(dcopy);
    c->index = sf_xcalloc(1, sizeof(*c->index));
    c->index->resources = json_object();
    c->index->vars = json_object();

    if (sf_yaml_parse(path, text, len, &c->doc, d) < 0) {
        sf_config_free(c);
        return -1;
    }
    struct loader L = {.c = c, .d = d, .file = c->doc->file};
    const struct sf_node *root = c->doc->root;
    if (!root) {
        struct sf_pos pos = {c->doc->file, 0, 0};
        sf_error(d, &pos,
                 "the description is empty; expected apiVersion: sparkform/v1, kind: Stack, "
                 "metadata and resources");
        sf_config_free(c);
        return -1;
    }
    if (root->kind != SF_NODE_MAP) {
        sf_error(d, &root->pos,
                 "a description must be a mapping with apiVersion, kind, metadata and resources, "
                 "got %s",
                 sf_node_describe(root));
        sf_config_free(c);
        return -1;
    }
    sf_ld_check_keys(&L, root, "at the top level", top_keys);

    const struct sf_node *n = sf_node_get(root, "apiVersion");
    if (!n)
        sf_error(d, &root->pos, "missing apiVersion; expected apiVersion: sparkform/v1");
    else if (sf_ld_want_string(&L, n, "apiVersion") && strcmp(n->text, "sparkform/v1") != 0)
        sf_error(d, &n->pos, "apiVersion \"%s\" is not supported; expected sparkform/v1", n->text);

    n = sf_node_get(root, "kind");
    if (!n)
        sf_error(d, &root->pos, "missing kind; expected kind: Stack or kind: SparkService");
    else if (sf_ld_want_string(&L, n, "kind") && strcmp(n->text, "Stack") != 0 &&
             strcmp(n->text, "SparkService") != 0)
        sf_error(d, &n->pos, "kind \"%s\" is not supported; expected Stack or SparkService", n->text);
    c->kind = sf_xstrdup(n && n->kind == SF_NODE_SCALAR && !strcmp(n->text, "SparkService") ? "SparkService"
                                                                                            : "Stack");

    load_metadata(&L, root);
    if ((n = sf_node_get(root, "variables")))
        load_variables(&L, n);
    if ((n = sf_node_get(root, "providers")))
        load_providers(&L, n);
    if (sf_diags_errors(d) == errors && (n = sf_node_get(root, "state")))
        load_state_block(&L, n);
    if (sf_diags_errors(d) == errors)
        load_root_frame(&L, root);
    free(L.addresses);
    L.addresses = NULL;
    /* What is known now is expanded now; modules, for_each and when wait
     * for the variables' values. */
    if (sf_diags_errors(d) == errors && !needs_values(c))
        sf_config_expand(c, d);

    if (sf_diags_errors(d) > errors) {
        sf_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int sf_config_load_text(const char *path, const char *text, struct sf_config **out,
                        struct sf_diags *d)
{
    return load(path, text, strlen(text), out, d);
}

int sf_config_load(const char *path, struct sf_config **out, struct sf_diags *d)
{
    *out = NULL;
    size_t len = 0;
    char *text = sf_read_file(path, &len);
    if (!text) {
        struct sf_pos pos = {path, 0, 0};
        sf_error(d, &pos, "cannot read the description: %s", strerror(errno));
        return -1;
    }
    int rc = load(path, text, len, out, d);
    free(text);
    return rc;
}

void sf_config_free(struct sf_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_vars; i++) {
        struct sf_variable *v = &c->vars[i];
        free(v->name);
        free(v->type);
        free(v->env);
        free(v->description);
        json_decref(v->value);
    }
    free(c->vars);
    for (size_t i = 0; i < c->n_resources; i++) {
        struct sf_resource_cfg *r = &c->resources[i];
        free(r->type);
        free(r->name);
        free(r->address);
        for (size_t k = 0; k < r->n_depends_on; k++)
            free(r->depends_on[k].address);
        free(r->depends_on);
        sf_refs_free(r->refs, r->n_refs);
        for (size_t k = 0; k < r->lifecycle.n_ignore; k++)
            free(r->lifecycle.ignore_changes[k]);
        free(r->lifecycle.ignore_changes);
        json_decref(r->each);
    }
    for (size_t i = 0; i < c->n_frames; i++) {
        struct sf_frame *f = c->frames[i];
        free(f->prefix);
        free(f->label);
        json_decref(f->given);
        json_decref(f->each);
        json_decref(f->depends_on);
        free(f);
    }
    free(c->frames);
    for (size_t i = 0; i < c->n_modules; i++)
        sf_module_free(c->modules[i]);
    free(c->modules);
    free(c->kind);
    free(c->resources);
    for (size_t i = 0; i < c->n_outputs; i++) {
        free(c->outputs[i].name);
        free(c->outputs[i].description);
        sf_refs_free(c->outputs[i].refs, c->outputs[i].n_refs);
    }
    free(c->outputs);
    for (size_t i = 0; i < c->n_providers; i++)
        free(c->providers[i].name);
    free(c->providers);
    if (c->index) {
        json_decref(c->index->resources);
        json_decref(c->index->vars);
        free(c->index);
    }
    sf_doc_free(c->doc);
    free(c->path);
    free(c->dir);
    free(c->name);
    free(c);
}

/* ---- variables ---- */

/* The value of a variable given as text (-var, the environment). NULL with
 * *what set to what was expected. */
static json_t *var_from_text(const struct sf_variable *v, const char *text, const char **what)
{
    bool any;
    enum sf_type t = sf_ld_var_type(v->type, &any);
    if (!any && t == SF_STRING) {
        json_t *s = json_string(text);
        *what = "UTF-8 text";
        return s;
    }
    if (!any && (t == SF_NUMBER || t == SF_BOOL)) {
        *what = sf_ld_type_word(t);
        return sf_ld_convert(json_string(text), t);
    }
    /* Lists, maps and any: YAML (so JSON too), e.g. "[a, b]" or "{k: v}". */
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct sf_doc *doc = NULL;
    json_t *r = NULL;
    if (sf_yaml_parse("-var", text, strlen(text), &doc, &quiet) == 0)
        r = doc->root ? sf_node_to_json(doc->root) : json_null();
    sf_doc_free(doc);
    sf_diags_free(&quiet);
    if (any) {
        if (!r || json_is_null(r)) {
            json_decref(r);
            r = json_string(text);
        }
        return r;
    }
    *what = t == SF_LIST ? "a list (e.g. [a, b])" : "a mapping (e.g. {key: value})";
    return r ? sf_ld_convert(r, t) : NULL;
}

/* A variable's value from a YAML node (a default, a var file): NULL on a
 * type mismatch. */
static json_t *var_from_node(const struct sf_variable *v, const struct sf_node *n)
{
    bool any;
    enum sf_type t = sf_ld_var_type(v->type, &any);
    json_t *val = sf_ld_literal_value(n, t, any);
    return any ? val : sf_ld_convert(val, t);
}

static const char **var_names(const struct sf_config *c)
{
    const char **names = sf_xcalloc(c->n_vars + 1, sizeof(char *));
    for (size_t k = 0; k < c->n_vars; k++)
        names[k] = c->vars[k].name;
    return names;
}

static void undeclared(const struct sf_config *c, struct sf_diags *d, const struct sf_pos *pos,
                       const char *from, const char *name)
{
    const char **names = var_names(c);
    const char *dym = sf_did_you_mean(name, names);
    if (dym)
        sf_error(d, pos, "%s: no variable \"%s\" is declared; did you mean \"%s\"?", from, name, dym);
    else
        sf_error(d, pos, "%s: no variable \"%s\" is declared in %s", from, name, c->path);
    free(names);
}

int sf_config_bind_vars(struct sf_config *c, const char *const *var_args, size_t n_var_args,
                        const char *const *var_files, size_t n_var_files, struct sf_diags *d)
{
    size_t errors = sf_diags_errors(d);
    json_t **values = sf_xcalloc(c->n_vars + 1, sizeof(*values));

    /* Lowest precedence first, so later sources simply replace. */
    for (size_t i = 0; i < c->n_vars; i++) {
        struct sf_variable *v = &c->vars[i];
        if (v->default_node)
            values[i] = var_from_node(v, v->default_node);
        const char *env = v->env ? getenv(v->env) : NULL;
        if (env) {
            const char *what = "a value";
            json_t *val = var_from_text(v, env, &what);
            if (!val) {
                sf_error(d, &v->pos, "variable \"%s\": the environment variable %s must hold %s",
                         v->name, v->env, what);
            } else {
                json_decref(values[i]);
                values[i] = val;
            }
        }
    }
    for (size_t f = 0; f < n_var_files; f++) {
        struct sf_doc *doc = NULL;
        if (sf_yaml_load(var_files[f], &doc, d) < 0)
            continue;
        const struct sf_node *root = doc->root;
        if (root && root->kind != SF_NODE_MAP) {
            sf_error(d, &root->pos, "a var file must be a mapping of variable names to values, got %s",
                     sf_node_describe(root));
            root = NULL;
        }
        for (size_t k = 0; root && k < root->n; k++) {
            const struct sf_node *key = root->keys[k], *val = root->items[k];
            const struct sf_variable *v = sf_config_var(c, key->text);
            if (!v) {
                undeclared(c, d, &key->pos, "var file", key->text);
                continue;
            }
            size_t i = (size_t)(v - c->vars);
            json_t *jv = var_from_node(v, val);
            if (!jv) {
                bool any;
                sf_error(d, &val->pos, "variable \"%s\": expected %s, got %s", v->name,
                         sf_ld_type_word(sf_ld_var_type(v->type, &any)), sf_node_describe(val));
                continue;
            }
            json_decref(values[i]);
            values[i] = jv;
        }
        sf_doc_free(doc);
    }
    for (size_t a = 0; a < n_var_args; a++) {
        const char *arg = var_args[a];
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg) {
            sf_error(d, NULL, "-var \"%s\": expected NAME=VALUE", arg);
            continue;
        }
        char *name = sf_xstrndup(arg, (size_t)(eq - arg));
        const struct sf_variable *v = sf_config_var(c, name);
        if (!v) {
            char *from = sf_asprintf("-var %s", name);
            undeclared(c, d, NULL, from, name);
            free(from);
            free(name);
            continue;
        }
        size_t i = (size_t)(v - c->vars);
        const char *what = "a value";
        json_t *jv = var_from_text(v, eq + 1, &what);
        if (!jv) {
            if (v->sensitive)
                sf_error(d, NULL, "-var %s: expected %s", name, what);
            else
                sf_error(d, NULL, "-var %s: expected %s, got \"%s\"", name, what, eq + 1);
        } else {
            json_decref(values[i]);
            values[i] = jv;
        }
        free(name);
    }
    for (size_t i = 0; i < c->n_vars; i++) {
        struct sf_variable *v = &c->vars[i];
        json_decref(v->value);
        v->value = values[i];
        if (v->value)
            continue;
        if (v->env)
            sf_error(d, &v->pos,
                     "variable \"%s\" has no value; set it with -var %s=..., a -var-file, or the "
                     "environment variable %s",
                     v->name, v->name, v->env);
        else
            sf_error(d, &v->pos,
                     "variable \"%s\" has no value; set it with -var %s=... or a -var-file, or "
                     "give it a default",
                     v->name, v->name);
    }
    free(values);
    if (sf_diags_errors(d) > errors)
        return -1;
    return sf_config_expand(c, d);
}

/* ---- evaluation ---- */

json_t *sf_ld_eval_node(const struct sf_scope *sc, const struct sf_node *n, bool *sens,
                         struct sf_diags *d)
{
    if (n->kind == SF_NODE_SCALAR) {
        if (strstr(n->text, "${"))
            return sf_expr_eval(n->text, &n->text_pos, sc, sens, d);
        return sf_node_to_json(n);
    }
    json_t *out = n->kind == SF_NODE_MAP ? json_object() : json_array();
    bool failed = false;
    for (size_t i = 0; i < n->n; i++) {
        json_t *v = sf_ld_eval_node(sc, n->items[i], sens, d);
        if (!v) {
            failed = true;
            continue;
        }
        if (n->kind == SF_NODE_MAP)
            json_object_set_new(out, n->keys[i]->text, v);
        else
            json_array_append_new(out, v);
    }
    if (failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

void sf_config_place(const struct sf_config *c, const struct sf_resource_cfg *r, struct sf_diags *d,
                     size_t since, bool all)
{
    if (d->n <= since)
        return;
    const struct sf_pos *own = r->with ? &r->with->pos : &r->pos;
    pthread_mutex_lock(&d->mu);
    for (size_t i = since; i < d->n; i++) {
        struct sf_diag *g = &d->items[i];
        if (g->file || (!g->attr && !all))
            continue;
        const struct sf_node *at = g->attr ? sf_origin_attr(c, r, g->attr) : NULL;
        const struct sf_pos *pos = at ? &at->pos : own;
        if (!pos->file)
            continue;
        g->file = sf_xstrdup(pos->file);
        g->line = pos->line;
        g->col = pos->col;
    }
    pthread_mutex_unlock(&d->mu);
    sf_at_note(d, since, r->frame);
}

/* The type's plan step (what this machine knows before apply, such as a
 * source file's hash) completes the values; its complaints are about the
 * resource's entry in the description (or the attribute they name), so
 * they are given that place. */
static int plan_step(const struct sf_config *c, const struct sf_resource_cfg *r, json_t *values,
                     struct sf_diags *d)
{
    if (!r->rt->plan)
        return 0;
    struct sf_diags mine;
    sf_diags_init(&mine);
    struct sf_call call = {
        .address = r->address,
        .type = r->type,
        .name = r->name,
        .stack = c->name,
        .config_dir = r->frame ? r->frame->dir : c->dir,
        .diags = &mine,
    };
    int rc = r->rt->plan(&call, values);
    sf_config_place(c, r, &mine, 0, true);
    sf_diags_move(d, &mine);
    sf_diags_free(&mine);
    return rc;
}

json_t *sf_config_eval_resource(const struct sf_config *c, const struct sf_resource_cfg *r,
                                const struct sf_scope *sc, json_t **sensitive, struct sf_diags *d)
{
    if (sensitive)
        *sensitive = NULL;
    if (!r->rt) {
        sf_error(d, &r->pos, "%s: unknown resource type \"%s\"", r->address, r->type);
        return NULL;
    }
    struct sf_at at = {.c = c, .f = r->frame ? r->frame : c->frames[0], .each = r->each, .user = sc};
    struct sf_scope wrap;
    sf_at_scope(&at, &wrap);
    size_t since = d->n;
    json_t *out = json_object(), *sens = json_array();
    bool failed = false;
    for (const struct sf_attr *a = r->rt->attrs; a && a->name; a++) {
        if (computed_only(a))
            continue;
        const struct sf_node *vn = r->with ? sf_node_get(r->with, a->name) : NULL;
        json_t *v = NULL;
        bool s = false;
        if (vn) {
            if (vn->kind == SF_NODE_SCALAR && !strstr(vn->text, "${"))
                v = sf_ld_literal_value(vn, a->type, false);
            else
                v = sf_ld_eval_node(&wrap, vn, &s, d);
            if (!v) {
                failed = true;
                continue;
            }
            json_t *conv = sf_ld_convert(json_incref(v), a->type);
            if (!conv) {
                sf_error(d, &vn->pos, "%s: attribute \"%s\": expected %s, got %s", r->address,
                         a->name, sf_ld_type_word(a->type), sf_expr_describe(v));
                json_decref(v);
                failed = true;
                continue;
            }
            json_decref(v);
            v = conv;
        }
        if (!v || json_is_null(v)) {
            json_decref(v);
            v = NULL;
            if (a->flags & SF_REQUIRED) {
                sf_error(d, vn ? &vn->pos : r->with ? &r->with->pos : &r->pos,
                         "%s: missing required attribute \"%s\"", r->address, a->name);
                failed = true;
                continue;
            }
            if (a->default_json)
                v = json_loads(a->default_json, JSON_DECODE_ANY, NULL);
        }
        if (v)
            json_object_set_new(out, a->name, v);
        if (s)
            json_array_append_new(sens, json_string(a->name));
    }
    if (failed || plan_step(c, r, out, d) < 0) {
        sf_at_note(d, since, at.f);
        json_decref(out);
        json_decref(sens);
        return NULL;
    }
    if (sensitive)
        *sensitive = sens;
    else
        json_decref(sens);
    return out;
}

json_t *sf_config_provider_settings(const struct sf_config *c, const struct sf_provider *p,
                                    json_t **sensitive, const struct sf_pos **pos,
                                    struct sf_diags *d)
{
    const struct sf_provider_cfg *pc = NULL;
    for (size_t i = 0; i < c->n_providers && !pc; i++)
        if (c->providers[i].p == p)
            pc = &c->providers[i];
    *pos = pc ? &pc->pos : NULL;
    struct sf_at at = {.c = c, .f = c->frames ? c->frames[0] : NULL};
    struct sf_scope wrap;
    sf_at_scope(&at, &wrap);
    json_t *out = json_object(), *sens = json_array();
    bool failed = false;
    for (const struct sf_provider_key *k = p->keys; k && k->name; k++) {
        const struct sf_node *vn = pc && pc->block ? sf_node_get(pc->block, k->name) : NULL;
        json_t *v = NULL;
        bool s = false;
        if (vn && !sf_ld_is_null(vn)) {
            json_t *raw = vn->kind == SF_NODE_SCALAR && !strstr(vn->text, "${")
                              ? sf_ld_literal_value(vn, k->type, false)
                              : sf_ld_eval_node(&wrap, vn, &s, d);
            v = raw ? sf_ld_convert(raw, k->type) : NULL;
            if (!v) {
                if (raw)
                    sf_error(d, &vn->pos, "providers.%s.%s: expected %s", p->name, k->name,
                             sf_ld_type_word(k->type));
                failed = true;
                continue;
            }
            if ((k->flags & SF_SENSITIVE) && !s) {
                sf_error(d, &vn->pos,
                         "providers.%s.%s is a secret: it must come from a sensitive variable or "
                         "the environment%s%s",
                         p->name, k->name, k->env ? " variable " : "", k->env ? k->env : "");
                json_decref(v);
                failed = true;
                continue;
            }
        } else if (k->env && getenv(k->env) && *getenv(k->env)) {
            v = sf_ld_convert(json_string(getenv(k->env)), k->type);
            if (!v) {
                sf_error(d, NULL, "the environment variable %s must hold %s (for providers.%s.%s)",
                         k->env, sf_ld_type_word(k->type), p->name, k->name);
                failed = true;
                continue;
            }
            s = (k->flags & SF_SENSITIVE) != 0;
        }
        if (!v)
            continue;
        json_object_set_new(out, k->name, v);
        if (s || (k->flags & SF_SENSITIVE))
            json_array_append_new(sens, json_string(k->name));
    }
    if (failed) {
        json_decref(out);
        json_decref(sens);
        return NULL;
    }
    *sensitive = sens;
    return out;
}

json_t *sf_config_state_settings(const struct sf_config *c, struct sf_diags *d)
{
    static const struct {
        const char *key, *env, *fallback;
        bool secret;
    } keys[] = {
        {"bucket", NULL, NULL, false},
        {"key", NULL, NULL, false},
        {"region", NULL, SF_S3_DEFAULT_REGION, false},
        {"endpoint", "AWS_ENDPOINT_URL_S3", NULL, false},
        {"access_key", "AWS_ACCESS_KEY_ID", NULL, false},
        {"secret_key", "AWS_SECRET_ACCESS_KEY", NULL, true},
    };
    const struct sf_state_cfg *sc = &c->state;
    struct sf_at at = {.c = c, .f = c->frames ? c->frames[0] : NULL};
    struct sf_scope wrap;
    sf_at_scope(&at, &wrap);
    json_t *out = json_object();
    bool failed = false;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct sf_node *vn = sc->block ? sf_node_get(sc->block, keys[i].key) : NULL;
        json_t *v = NULL;
        if (vn && !sf_ld_is_null(vn)) {
            bool sens = false;
            json_t *raw = strstr(vn->text, "${") ? sf_ld_eval_node(&wrap, vn, &sens, d)
                                                 : json_string(vn->text);
            v = raw ? sf_ld_convert(raw, SF_STRING) : NULL;
            if (!v || !*json_string_value(v)) {
                if (raw)
                    sf_error(d, &vn->pos, "state.%s: expected a non-empty string", keys[i].key);
                json_decref(v);
                failed = true;
                continue;
            }
            if (keys[i].secret && !sens) {
                sf_error(d, &vn->pos, "state.%s is a secret: it must come from a sensitive "
                                      "variable or the environment variable %s",
                         keys[i].key, keys[i].env);
                json_decref(v);
                failed = true;
                continue;
            }
        } else if (keys[i].env && getenv(keys[i].env) && *getenv(keys[i].env)) {
            v = json_string(getenv(keys[i].env));
        } else if (keys[i].fallback) {
            v = json_string(keys[i].fallback);
        }
        if (v)
            json_object_set_new(out, keys[i].key, v);
    }
    if (!failed && !json_object_get(out, "endpoint")) {
        sf_error(d, &sc->pos, "the s3 state needs an endpoint: set state.endpoint or the "
                              "environment variable AWS_ENDPOINT_URL_S3");
        failed = true;
    }
    if (!failed && (!json_object_get(out, "access_key") || !json_object_get(out, "secret_key"))) {
        sf_error(d, &sc->pos, "the s3 state needs S3 keys: set state.access_key and "
                              "state.secret_key (the secret from a sensitive variable), or the "
                              "environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        failed = true;
    }
    if (failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int sf_config_state_encryption(const struct sf_config *c, json_t **out, struct sf_diags *d)
{
    *out = NULL;
    const struct sf_node *en = c->state.block ? sf_node_get(c->state.block, "encryption") : NULL;
    if (sf_ld_is_null(en))
        return 0;
    struct sf_at at = {.c = c, .f = c->frames ? c->frames[0] : NULL};
    struct sf_scope wrap;
    sf_at_scope(&at, &wrap);
    json_t *o = json_object();
    bool failed = false;
    static const char *const which[] = {"key", "old_key"};
    for (size_t i = 0; i < 2; i++) {
        const struct sf_node *vn = sf_node_get(en, which[i]);
        if (!vn)
            continue;
        char *from = NULL;
        json_t *v = NULL;
        if (vn->kind == SF_NODE_MAP) {
            const char *name = sf_node_get(vn, "env")->text;
            const char *secret = getenv(name);
            if (!secret || !*secret) {
                sf_error(d, &vn->pos, "state.encryption.%s: the environment variable %s is not "
                                      "set (or is empty); it must hold the state's key",
                         which[i], name);
                failed = true;
                continue;
            }
            v = json_string(secret);
            from = sf_asprintf("env %s", name);
        } else {
            bool sens = false;
            json_t *raw = sf_ld_eval_node(&wrap, vn, &sens, d);
            v = raw ? sf_ld_convert(raw, SF_STRING) : NULL;
            if (!v || !*json_string_value(v) || !sens) {
                if (raw && !sens)
                    sf_error(d, &vn->pos, "state.encryption.%s is a secret: it must come from a "
                                          "sensitive variable (sensitive: true) or {env: NAME}",
                             which[i]);
                else if (raw)
                    sf_error(d, &vn->pos, "state.encryption.%s: the key is empty", which[i]);
                json_decref(v);
                failed = true;
                continue;
            }
            /* "${var.NAME}" names where the key is without being it. */
            from = sf_xstrndup(vn->text + 2, strlen(vn->text) > 3 ? strlen(vn->text) - 3 : 0);
        }
        json_object_set_new(o, which[i], v);
        char *fk = sf_asprintf("%s_from", which[i]);
        json_object_set_new(o, fk, json_string(from));
        free(fk);
        free(from);
    }
    const struct sf_node *kdf = sf_node_get(en, "kdf");
    json_object_set_new(o, "kdf", json_string(kdf && strcmp(kdf->text, "hkdf") == 0
                                                  ? "hkdf-sha256"
                                                  : "pbkdf2-sha256"));
    if (failed) {
        json_decref(o);
        return -1;
    }
    *out = o;
    return 0;
}

json_t *sf_config_eval_output(const struct sf_config *c, const struct sf_output_cfg *o,
                              const struct sf_scope *sc, bool *sensitive, struct sf_diags *d)
{
    bool s = o->sensitive;
    if (!o->value) {
        sf_error(d, &o->pos, "output \"%s\" has no value", o->name);
        return NULL;
    }
    struct sf_at at = {.c = c, .f = o->frame ? o->frame : c->frames[0], .user = sc};
    struct sf_scope wrap;
    sf_at_scope(&at, &wrap);
    json_t *v = sf_ld_eval_node(&wrap, o->value, &s, d);
    if (sensitive)
        *sensitive = s;
    return v;
}

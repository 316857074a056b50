/*
 * Module inputs (inputs.h): the schema language, and the check of a
 * caller's value against it. The check walks the value and the caller's
 * YAML side by side, so every complaint names the line and column of the
 * field it is about (or of the nearest enclosing one the caller wrote).
 */
#include "inputs.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "gitsrc.h"
#include "loader.h"
#include "s3name.h"
#include "util.h"
#include "value.h"

static const char *const schema_keys[] = {"type",    "default", "required", "description", "sensitive",
                                          "allowed", "pattern", "format",   "min",         "max",
                                          "items",   "fields",  "key",      "validate",    NULL};
static const char *const types[] = {"string", "number", "bool", "list", "map", "object", "any", NULL};
static const char *const formats[] = {"bucket_name", "dns_label", "duration", "git_source",
                                      "cron",        "timezone",  "time",     NULL};

static bool one_of(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

static const char *type_of(const struct sf_node *schema)
{
    const struct sf_node *t = schema && schema->kind == SF_NODE_MAP ? sf_node_get(schema, "type") : NULL;
    return t && t->kind == SF_NODE_SCALAR ? t->text : "any";
}

bool sf_input_required(const struct sf_node *schema)
{
    if (!schema || schema->kind != SF_NODE_MAP)
        return false;
    const struct sf_node *r = sf_node_get(schema, "required");
    if (r && r->kind == SF_NODE_SCALAR)
        return !strcmp(r->text, "true");
    return sf_node_get(schema, "default") == NULL;
}

bool sf_input_sensitive(const struct sf_node *schema)
{
    const struct sf_node *s = schema && schema->kind == SF_NODE_MAP ? sf_node_get(schema, "sensitive") : NULL;
    return s && s->kind == SF_NODE_SCALAR && !strcmp(s->text, "true");
}

static int check_decl(const char *what, const struct sf_node *schema, struct sf_diags *d)
{
    if (sf_ld_is_null(schema))
        return 0;
    if (schema->kind != SF_NODE_MAP) {
        sf_error(d, &schema->pos, "%s: expected a schema like {type: string, default: ...}, got %s",
                 what, sf_node_describe(schema));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < schema->n; i++) {
        const struct sf_node *k = schema->keys[i], *v = schema->items[i];
        if (!one_of(k->text, schema_keys)) {
            const char *dym = sf_did_you_mean(k->text, schema_keys);
            sf_error(d, &k->pos, "%s: unknown schema key \"%s\"%s%s%s", what, k->text,
                     dym ? "; did you mean \"" : "", dym ? dym : "", dym ? "\"?" : "");
            rc = -1;
        } else if (!strcmp(k->text, "type") && (v->kind != SF_NODE_SCALAR || !one_of(v->text, types))) {
            sf_error(d, &v->pos, "%s: type must be string, number, bool, list, map, object or any", what);
            rc = -1;
        } else if (!strcmp(k->text, "format") && (v->kind != SF_NODE_SCALAR || !one_of(v->text, formats))) {
            sf_error(d, &v->pos,
                     "%s: format must be bucket_name, dns_label, duration, git_source, cron, "
                     "timezone or time",
                     what);
            rc = -1;
        } else if (!strcmp(k->text, "format") && !strcmp(v->text, "git_source") && strcmp(type_of(schema), "string")) {
            sf_error(d, &v->pos, "%s: format git_source is for inputs of type string", what);
            rc = -1;
        } else if (!strcmp(k->text, "items")) {
            char *w = sf_asprintf("%s: items", what);
            rc |= check_decl(w, v, d);
            free(w);
        } else if (!strcmp(k->text, "fields")) {
            if (v->kind != SF_NODE_MAP) {
                sf_error(d, &v->pos, "%s: fields: expected a mapping of field names to schemas", what);
                rc = -1;
                continue;
            }
            for (size_t f = 0; f < v->n; f++) {
                char *w = sf_asprintf("%s.%s", what, v->keys[f]->text);
                rc |= check_decl(w, v->items[f], d);
                free(w);
            }
        } else if (!strcmp(k->text, "validate")) {
            for (size_t r = 0; v->kind == SF_NODE_SEQ && r < v->n; r++) {
                const struct sf_node *rule = v->items[r];
                if (rule->kind != SF_NODE_MAP || !sf_node_get(rule, "condition") ||
                    !sf_node_get(rule, "message")) {
                    sf_error(d, &rule->pos, "%s: a rule is {condition: \"${...}\", message: \"...\"}", what);
                    rc = -1;
                }
            }
            if (v->kind != SF_NODE_SEQ) {
                sf_error(d, &v->pos, "%s: validate: expected a list of rules", what);
                rc = -1;
            }
        }
    }
    return rc;
}

int sf_inputs_check_decls(const struct sf_node *decls, struct sf_diags *d)
{
    if (sf_ld_is_null(decls))
        return 0;
    if (decls->kind != SF_NODE_MAP) {
        sf_error(d, &decls->pos, "inputs: expected a mapping of input names to schemas, got %s",
                 sf_node_describe(decls));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < decls->n; i++) {
        char *w = sf_asprintf("input \"%s\"", decls->keys[i]->text);
        rc |= check_decl(w, decls->items[i], d);
        free(w);
    }
    return rc;
}

/* ---- checking a value ---- */

struct walk {
    bool check;
    const struct sf_input_eval *ev;
    struct sf_diags *d;
    bool failed;
};

static const struct sf_node *child(const struct sf_node *at, const char *key, size_t index)
{
    if (!at)
        return NULL;
    if (key && at->kind == SF_NODE_MAP)
        return sf_node_get(at, key);
    if (!key && at->kind == SF_NODE_SEQ && index < at->n)
        return at->items[index];
    return NULL;
}

static const struct sf_pos *place(const struct sf_node *at, const struct sf_pos *fallback)
{
    return at ? &at->pos : fallback;
}

static void problem(struct walk *W, const struct sf_node *at, const struct sf_pos *fallback,
                    const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem(struct walk *W, const struct sf_node *at, const struct sf_pos *fallback,
                    const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    sf_error(W->d, place(at, fallback), "%s: %s", path, msg);
    free(msg);
    W->failed = true;
}

static const char *describe(const json_t *v)
{
    if (json_is_string(v))
        return "a string";
    if (json_is_number(v))
        return "a number";
    if (json_is_boolean(v))
        return "a boolean";
    if (json_is_array(v))
        return "a list";
    if (json_is_object(v))
        return "a mapping";
    return "null";
}

/* Converts v (taken over) to the schema's type t as the resource
 * attributes are converted (loader.h): scalars to text where a string is
 * wanted, "3" to 3. NULL on a mismatch. */
static json_t *to_type(json_t *v, const char *t)
{
    bool any;
    enum sf_type st = !strcmp(t, "object") ? SF_OBJECT : sf_ld_var_type(t, &any);
    return !strcmp(t, "object") || !any ? sf_ld_convert(v, st) : v;
}

static char *value_text(const json_t *v)
{
    if (json_is_string(v))
        return sf_xstrdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static json_t *walk(struct walk *W, const char *path, const struct sf_node *schema, json_t *v,
                    const struct sf_node *at, const struct sf_pos *fallback);

/* A cron expression, a time zone or an RFC 3339 time, checked by lib/cron.
 * Its complaint points inside the caller's text (the bad field of a cron
 * expression) when the caller wrote the value literally, else at what
 * the caller wrote. */
static void check_time_format(struct walk *W, const char *path, const char *format, const char *s,
                              const struct sf_node *at, const struct sf_pos *fallback)
{
    struct sf_diags mine;
    sf_diags_init(&mine);
    bool literal = at && at->kind == SF_NODE_SCALAR && at->text && !strcmp(at->text, s);
    static const struct sf_pos nowhere = {0};
    const struct sf_pos *pos = literal ? &at->text_pos : place(at, fallback);
    if (!pos)
        pos = &nowhere;
    if (!strcmp(format, "cron")) {
        sf_cron_free(sf_cron_parse(s, pos, &mine));
    } else if (!strcmp(format, "timezone")) {
        sf_cron_zone_check(s, pos, &mine);
    } else {
        time_t t;
        sf_cron_parse_time(s, pos, &t, &mine);
    }
    for (size_t i = 0; i < mine.n; i++) {
        const struct sf_diag *g = &mine.items[i];
        struct sf_pos p = {g->file ? g->file : pos->file, g->file ? g->line : pos->line,
                           g->file ? g->col : pos->col};
        sf_error(W->d, &p, "%s: %s", path, g->summary);
        W->failed = true;
    }
    sf_diags_free(&mine);
}

static void check_allowed(struct walk *W, const char *path, const struct sf_node *allowed,
                          const json_t *v, const struct sf_node *at, const struct sf_pos *fallback)
{
    json_t *list = NULL;
    if (allowed->kind == SF_NODE_SEQ)
        list = sf_node_to_json(allowed);
    else if (W->ev && W->ev->eval)
        list = W->ev->eval(W->ev->ctx, allowed, v, W->d);
    if (!list || sf_value_has_unknown(list) || !json_is_array(list)) {
        json_decref(list);
        return;
    }
    size_t i;
    json_t *e;
    bool ok = false;
    json_array_foreach(list, i, e) ok = ok || json_equal(e, (json_t *)v) ||
                                       (json_is_number(e) && json_is_number(v) &&
                                        json_number_value(e) == json_number_value(v));
    if (!ok) {
        struct sf_buf b = {0};
        const char **names = sf_xcalloc(json_array_size(list) + 1, sizeof(char *));
        json_array_foreach(list, i, e)
        {
            char *t = value_text(e);
            sf_buf_printf(&b, "%s%s", i ? ", " : "", t);
            free(t);
            names[i] = json_is_string(e) ? json_string_value(e) : "";
        }
        char *all = sf_buf_take(&b);
        char *got = value_text(v);
        const char *dym = json_is_string(v) ? sf_did_you_mean(json_string_value(v), names) : NULL;
        if (!json_array_size(list))
            problem(W, at, fallback, path, "\"%s\" is not allowed here: nothing is (the list it must come from is empty)", got);
        else if (dym)
            problem(W, at, fallback, path, "\"%s\" is not one of %s; did you mean \"%s\"?", got, all, dym);
        else
            problem(W, at, fallback, path, "\"%s\" is not one of %s", got, all);
        free(got);
        free(all);
        free(names);
    }
    json_decref(list);
}

static void check_scalar(struct walk *W, const char *path, const struct sf_node *schema,
                         const json_t *v, const struct sf_node *at, const struct sf_pos *fallback)
{
    const struct sf_node *n;
    if (json_is_string(v) && (n = sf_node_get(schema, "pattern")) && n->kind == SF_NODE_SCALAR) {
        regex_t re;
        if (regcomp(&re, n->text, REG_EXTENDED | REG_NOSUB) == 0) {
            if (regexec(&re, json_string_value(v), 0, NULL, 0) != 0)
                problem(W, at, fallback, path, "\"%s\" does not match %s", json_string_value(v), n->text);
            regfree(&re);
        } else {
            problem(W, n, fallback, path, "the pattern %s is not a valid regular expression", n->text);
        }
    }
    if (json_is_string(v) && (n = sf_node_get(schema, "format")) && n->kind == SF_NODE_SCALAR) {
        const char *s = json_string_value(v);
        if (!strcmp(n->text, "bucket_name")) {
            const char *why = sf_s3_bucket_name_problem(s);
            if (why)
                problem(W, at, fallback, path, "\"%s\" is not a bucket name S3 accepts: %s", s, why);
        } else if (!strcmp(n->text, "duration")) {
            if (sf_parse_duration_ms(s) <= 0)
                problem(W, at, fallback, path, "\"%s\" is not a duration; expected e.g. 90s, 30m, 12h or 14d", s);
        } else if (!strcmp(n->text, "cron") || !strcmp(n->text, "timezone") ||
                   !strcmp(n->text, "time")) {
            check_time_format(W, path, n->text, s, at, fallback);
        } else if (!strcmp(n->text, "dns_label")) {
            size_t len = strlen(s);
            bool ok = len > 0 && len <= 63 && s[0] != '-' && s[len - 1] != '-';
            for (const char *p = s; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-';
            if (!ok)
                problem(W, at, fallback, path,
                        "\"%s\" is not a valid name: use at most 63 lowercase letters, digits and '-', "
                        "starting and ending with a letter or digit",
                        s);
        }
    }
    if (json_is_number(v)) {
        double x = json_number_value(v);
        if ((n = sf_node_get(schema, "min")) && n->kind == SF_NODE_SCALAR && x < strtod(n->text, NULL))
            problem(W, at, fallback, path, "%g is less than the minimum %s", x, n->text);
        if ((n = sf_node_get(schema, "max")) && n->kind == SF_NODE_SCALAR && x > strtod(n->text, NULL))
            problem(W, at, fallback, path, "%g is more than the maximum %s", x, n->text);
    }
}

static json_t *walk_object(struct walk *W, const char *path, const struct sf_node *schema,
                           json_t *v, const struct sf_node *at, const struct sf_pos *fallback)
{
    const struct sf_node *fields = sf_node_get(schema, "fields");
    if (!fields || fields->kind != SF_NODE_MAP)
        return v;
    const char *k;
    json_t *fv;
    if (W->check) {
        const char **names = sf_xcalloc(fields->n + 1, sizeof(char *));
        for (size_t i = 0; i < fields->n; i++)
            names[i] = fields->keys[i]->text;
        json_object_foreach(v, k, fv)
        {
            if (sf_node_get(fields, k))
                continue;
            const struct sf_node *kn = NULL;
            for (size_t i = 0; at && at->kind == SF_NODE_MAP && i < at->n; i++)
                if (!strcmp(at->keys[i]->text, k))
                    kn = at->keys[i];
            const char *dym = sf_did_you_mean(k, names);
            struct sf_buf b = {0};
            for (size_t i = 0; names[i]; i++)
                sf_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
            char *all = sf_buf_take(&b);
            if (dym)
                problem(W, kn ? kn : at, fallback, path, "unknown field \"%s\"; did you mean \"%s\"? (fields: %s)", k, dym, all);
            else
                problem(W, kn ? kn : at, fallback, path, "unknown field \"%s\" (fields: %s)", k, all);
            free(all);
        }
        free(names);
    }
    for (size_t i = 0; i < fields->n; i++) {
        const char *name = fields->keys[i]->text;
        const struct sf_node *fs = fields->items[i];
        char *sub = sf_asprintf("%s.%s", path, name);
        json_t *cur = json_object_get(v, name);
        if (!cur || json_is_null(cur)) {
            const struct sf_node *def = fs && fs->kind == SF_NODE_MAP ? sf_node_get(fs, "default") : NULL;
            if (def) {
                json_t *dv = walk(W, sub, fs, sf_node_to_json(def), NULL, place(at, fallback));
                if (dv)
                    json_object_set_new(v, name, dv);
            } else if (W->check && sf_input_required(fs)) {
                problem(W, at, fallback, path, "missing field \"%s\"", name);
            } else {
                json_object_set_new(v, name, json_null());
            }
        } else {
            json_t *nv = walk(W, sub, fs, json_incref(cur), child(at, name, 0), place(at, fallback));
            if (nv)
                json_object_set_new(v, name, nv);
        }
        free(sub);
    }
    return v;
}

static json_t *walk_items(struct walk *W, const char *path, const struct sf_node *schema,
                          json_t *v, const struct sf_node *at, const struct sf_pos *fallback)
{
    const struct sf_node *items = sf_node_get(schema, "items");
    const struct sf_node *keyn = sf_node_get(schema, "key");
    const char *key = keyn && keyn->kind == SF_NODE_SCALAR ? keyn->text : NULL;
    json_t *seen = json_object();
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            const struct sf_node *en = child(at, NULL, i);
            json_t *kv = key && json_is_object(e) ? json_object_get(e, key) : NULL;
            char *sub = kv && json_is_string(kv) ? sf_asprintf("%s[%s]", path, json_string_value(kv))
                                                 : sf_asprintf("%s[%zu]", path, i);
            if (items) {
                json_t *ne = walk(W, sub, items, json_incref(e), en, place(at, fallback));
                if (ne)
                    json_array_set_new(v, i, ne);
            }
            e = json_array_get(v, i);
            if (key && W->check && json_is_object(e)) {
                kv = json_object_get(e, key);
                if (!kv || !json_is_string(kv)) {
                    if (!sf_is_unknown(kv))
                        problem(W, en, place(at, fallback), sub, "each item needs a \"%s\" (its unique name)", key);
                } else if (json_object_get(seen, json_string_value(kv))) {
                    problem(W, en, place(at, fallback), sub, "\"%s\" is used by an earlier item; %s must be unique",
                            json_string_value(kv), key);
                } else {
                    json_object_set_new(seen, json_string_value(kv), json_true());
                }
            }
            free(sub);
        }
    } else if (items) {
        const char *k;
        json_t *e;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, e)
        {
            char *sub = sf_asprintf("%s.%s", path, k);
            json_t *ne = walk(W, sub, items, json_incref(e), child(at, k, 0), place(at, fallback));
            if (ne)
                json_object_set_new(v, k, ne);
            free(sub);
        }
    }
    json_decref(seen);
    return v;
}

static void run_rules(struct walk *W, const char *path, const struct sf_node *rules,
                      const json_t *v, const struct sf_node *at, const struct sf_pos *fallback)
{
    for (size_t r = 0; W->ev && W->ev->eval && rules->kind == SF_NODE_SEQ && r < rules->n; r++) {
        const struct sf_node *rule = rules->items[r];
        const struct sf_node *cond = sf_node_get(rule, "condition"), *msg = sf_node_get(rule, "message");
        if (!cond || !msg)
            continue;
        json_t *ok = W->ev->eval(W->ev->ctx, cond, v, W->d);
        if (!ok) {
            W->failed = true;
            continue;
        }
        if (json_is_false(ok)) {
            json_t *text = W->ev->eval(W->ev->ctx, msg, v, W->d);
            problem(W, at, fallback, path, "%s",
                    json_is_string(text) ? json_string_value(text) : "the value is not valid");
            json_decref(text);
        }
        json_decref(ok);
    }
}

/* target as a path relative to the directory from, both made absolute
 * and free of symbolic links first ("." when they are the same). NULL
 * when either does not exist. */
static char *relative_path(const char *from, const char *target)
{
    char *a = realpath(from, NULL), *b = realpath(target, NULL);
    char *out = NULL;
    if (a && b) {
        /* The longest common prefix that ends at a whole component. */
        size_t common = 0;
        for (size_t i = 0;; i++) {
            bool end_a = !a[i] || a[i] == '/', end_b = !b[i] || b[i] == '/';
            if (end_a && end_b)
                common = i;
            if (!a[i] || !b[i] || a[i] != b[i])
                break;
        }
        struct sf_buf buf = {0};
        /* One ".." per component of from below the common part. */
        for (const char *p = a + common; *p; p++)
            if (*p != '/' && (p == a + common || p[-1] == '/'))
                sf_buf_puts(&buf, buf.len ? "/.." : "..");
        const char *rest = b + common;
        while (*rest == '/')
            rest++;
        if (*rest)
            sf_buf_printf(&buf, "%s%s", buf.len ? "/" : "", rest);
        out = buf.len ? sf_buf_take(&buf) : sf_xstrdup(".");
        sf_buf_free(&buf);
    }
    free(a);
    free(b);
    return out;
}

/* A git_source's value inside the module: where the lock says the source
 * is, relative to the module frame's directory (see inputs.h). */
static json_t *git_source_path(struct walk *W, const char *path, const char *source,
                               const struct sf_node *at, const struct sf_pos *fallback)
{
    struct sf_gitsrc g;
    const char *why;
    if (sf_gitsrc_parse(source, &g, &why) < 0) {
        problem(W, at, fallback, path,
                "\"%s\" is not a git source (%s); expected git::URL//PATH?ref=TAG, e.g. "
                "git::https://github.com/org/repo//dir?ref=v1.0.0",
                source, why);
        return NULL;
    }
    sf_gitsrc_free(&g);
    if (!W->ev || !W->ev->root_dir)
        return json_string(source);
    char *what = sf_asprintf("%s: git source", path);
    char *abs = sf_gitsrc_locked(source, W->ev->root_dir, what, place(at, fallback), W->d);
    free(what);
    if (!abs) {
        W->failed = true;
        return NULL;
    }
    char *rel = relative_path(W->ev->dir ? W->ev->dir : W->ev->root_dir, abs);
    json_t *out = NULL;
    if (rel)
        out = json_string(rel);
    else
        problem(W, at, fallback, path, "git source \"%s\": the locked tree has no %s (%s)", source,
                strrchr(abs, '/') + 1, abs);
    free(rel);
    free(abs);
    return out;
}

static json_t *walk(struct walk *W, const char *path, const struct sf_node *schema, json_t *v,
                    const struct sf_node *at, const struct sf_pos *fallback)
{
    if (!schema || schema->kind != SF_NODE_MAP || sf_is_unknown(v))
        return v;
    const char *t = type_of(schema);
    json_t *orig = json_incref(v);
    v = to_type(v, t);
    if (!v) {
        if (W->check)
            problem(W, at, fallback, path, "expected %s %s, got %s", !strcmp(t, "object") ? "an" : "a",
                    !strcmp(t, "bool") ? "boolean (true or false)" : !strcmp(t, "map") ? "mapping" : t,
                    describe(orig));
        else
            W->failed = true;
        json_decref(orig);
        return NULL;
    }
    json_decref(orig);
    if (json_is_null(v))
        return v;
    if (json_is_object(v) || json_is_array(v)) {
        /* Filled in place: a copy, never the caller's value. */
        json_t *cp = sf_value_copy(v);
        json_decref(v);
        v = cp;
    }
    if (json_is_object(v) && !strcmp(t, "object"))
        v = walk_object(W, path, schema, v, at, fallback);
    else if (json_is_array(v) || json_is_object(v))
        v = walk_items(W, path, schema, v, at, fallback);
    if (W->check && !sf_value_has_unknown(v)) {
        const struct sf_node *n;
        if ((n = sf_node_get(schema, "allowed")))
            check_allowed(W, path, n, v, at, fallback);
        check_scalar(W, path, schema, v, at, fallback);
        if ((n = sf_node_get(schema, "validate")))
            run_rules(W, path, n, v, at, fallback);
    }
    const struct sf_node *f = sf_node_get(schema, "format");
    if (json_is_string(v) && !W->failed && f && f->kind == SF_NODE_SCALAR && !strcmp(f->text, "git_source")) {
        json_t *p = git_source_path(W, path, json_string_value(v), at, fallback);
        json_decref(v);
        v = p;
    }
    return v;
}

json_t *sf_input_value(const char *name, const struct sf_node *schema, json_t *value,
                       const struct sf_node *at, const struct sf_pos *fallback, bool check,
                       const struct sf_input_eval *ev, struct sf_diags *d)
{
    struct walk W = {.check = check, .ev = ev, .d = d};
    json_t *v = walk(&W, name, schema, value, at, fallback);
    if (W.failed) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/*
 * Human rendering: the Terraform-like text of `sparkform plan` / `apply`
 * (sf_plan_render), of `sparkform show` (sf_render_state) and of single
 * values for `sparkform output` (sf_render_value). Everything is built in
 * a buffer and written at once, so that the text is deterministic:
 * changes in the order the engine planned them, attributes and map keys
 * sorted by name, values aligned on '='. A value named in a sensitive list
 * is never printed, only "(sensitive value)".
 *
 * Layout: a value line is "<marker> <name> = <value>" with the marker two
 * columns left of the name; nested elements are four columns further in.
 */
#include "plan.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define C_GREEN "\033[32m"
#define C_RED "\033[31m"
#define C_YELLOW "\033[33m"
#define C_BOLD "\033[1m"
#define C_RESET "\033[0m"

struct r {
    struct sf_buf *b;
    bool color;
};

static void spaces(struct r *r, int n)
{
    for (int i = 0; i < n; i++)
        sf_buf_add(r->b, " ", 1);
}

/* Marker characters, each in its color. */
static void marker(struct r *r, const char *m)
{
    for (const char *p = m; *p; p++) {
        const char *c = *p == '+' ? C_GREEN : *p == '-' ? C_RED : *p == '~' ? C_YELLOW : NULL;
        if (r->color && c)
            sf_buf_printf(r->b, "%s%c%s", c, *p, C_RESET);
        else
            sf_buf_add(r->b, p, 1);
    }
}

static void bold(struct r *r, const char *s)
{
    if (r->color)
        sf_buf_printf(r->b, "%s%s%s", C_BOLD, s, C_RESET);
    else
        sf_buf_puts(r->b, s);
}

/* Start a line whose name column is col, with marker mk (' ' for none). */
static void line(struct r *r, int col, char mk)
{
    char m[2] = {mk, 0};
    spaces(r, col - 2);
    marker(r, m);
    sf_buf_add(r->b, " ", 1);
}

static void padded(struct r *r, const char *name, int width)
{
    sf_buf_puts(r->b, name);
    spaces(r, width - (int)strlen(name));
}

static bool absent(const json_t *v)
{
    return !v || json_is_null(v);
}

/* More than one line: a lone trailing newline ("hello\n") reads better
 * quoted on one line than as a one-line heredoc. */
static bool multiline(const json_t *v)
{
    const char *nl = json_is_string(v) ? strchr(json_string_value(v), '\n') : NULL;
    return nl && nl[1] != '\0';
}

static char *child_path(const char *path, const char *key)
{
    return path ? sf_asprintf("%s.%s", path, key) : sf_xstrdup(key);
}

static bool hidden(const json_t *sens, const char *path)
{
    return sens && path && sf_plan_is_sensitive(sens, path);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted keys of one or two objects (union), skipping those that are null
 * in both; caller frees the array (not the strings, borrowed). */
static const char **sorted_keys(const json_t *a, const json_t *b, size_t *n)
{
    size_t cap = json_object_size(a) + json_object_size(b) + 1, k = 0;
    const char **keys = sf_xcalloc(cap, sizeof(*keys));
    const json_t *objs[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        const char *key;
        json_t *v;
        if (!json_is_object(objs[i]))
            continue;
        json_object_foreach((json_t *)objs[i], key, v)
        {
            if (i == 1 && json_is_object(a) && json_object_get(a, key))
                continue;
            if (absent(json_object_get(a, key)) && absent(json_object_get(b, key)))
                continue;
            keys[k++] = key;
        }
    }
    qsort(keys, k, sizeof(*keys), cmp_str);
    *n = k;
    return keys;
}

static char *quote(const char *s)
{
    json_t *j = json_string(s);
    char *q = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return q;
}

static void scalar(struct r *r, const json_t *v)
{
    if (json_is_string(v)) {
        char *q = quote(json_string_value(v));
        sf_buf_puts(r->b, q);
        free(q);
    } else if (json_is_integer(v)) {
        sf_buf_printf(r->b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        sf_buf_printf(r->b, "%.15g", json_real_value(v));
    } else if (json_is_true(v)) {
        sf_buf_puts(r->b, "true");
    } else if (json_is_false(v)) {
        sf_buf_puts(r->b, "false");
    } else {
        sf_buf_puts(r->b, "null");
    }
}

/* Split a string into an array of lines (a final newline ends the last
 * line rather than starting an empty one). New reference. */
static json_t *split_lines(const char *s)
{
    json_t *a = json_array();
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        json_array_append_new(a, json_stringn(s, n));
        s += n + (nl ? 1 : 0);
    }
    return a;
}

/*
 * Write a value at the current position; continuation lines are indented
 * from col (the column the value's name starts in) and carry mk.
 */
static void value(struct r *r, const json_t *v, int col, char mk, const json_t *sens, const char *path)
{
    if (hidden(sens, path)) {
        sf_buf_puts(r->b, "(sensitive value)");
    } else if (!v || sf_is_unknown(v)) {
        sf_buf_puts(r->b, "(known after apply)");
    } else if (multiline(v)) {
        json_t *lines = split_lines(json_string_value(v));
        size_t i;
        json_t *l;
        sf_buf_puts(r->b, "<<-EOT\n");
        json_array_foreach(lines, i, l)
        {
            spaces(r, col + 4);
            sf_buf_puts(r->b, json_string_value(l));
            sf_buf_puts(r->b, "\n");
        }
        spaces(r, col);
        sf_buf_puts(r->b, "EOT");
        json_decref(lines);
    } else if (json_is_object(v)) {
        if (json_object_size(v) == 0) {
            sf_buf_puts(r->b, "{}");
            return;
        }
        /* Null map entries are still entries: show them. */
        size_t n = json_object_size(v);
        const char **keys = sf_xcalloc(n, sizeof(*keys));
        size_t k = 0;
        const char *key;
        json_t *e;
        json_object_foreach((json_t *)v, key, e) keys[k++] = key;
        qsort(keys, n, sizeof(*keys), cmp_str);
        int width = 0;
        char **q = sf_xcalloc(n, sizeof(*q));
        for (size_t i = 0; i < n; i++) {
            q[i] = quote(keys[i]);
            if ((int)strlen(q[i]) > width)
                width = (int)strlen(q[i]);
        }
        sf_buf_puts(r->b, "{\n");
        for (size_t i = 0; i < n; i++) {
            char *cp = path ? child_path(path, keys[i]) : NULL;
            line(r, col + 4, mk);
            padded(r, q[i], width);
            sf_buf_puts(r->b, " = ");
            value(r, json_object_get(v, keys[i]), col + 4, mk, sens, cp);
            sf_buf_puts(r->b, "\n");
            free(cp);
            free(q[i]);
        }
        spaces(r, col);
        sf_buf_puts(r->b, "}");
        free(q);
        free(keys);
    } else if (json_is_array(v)) {
        if (json_array_size(v) == 0) {
            sf_buf_puts(r->b, "[]");
            return;
        }
        size_t i;
        json_t *e;
        sf_buf_puts(r->b, "[\n");
        json_array_foreach(v, i, e)
        {
            line(r, col + 4, mk);
            value(r, e, col + 4, mk, sens, path);
            sf_buf_puts(r->b, ",\n");
        }
        spaces(r, col);
        sf_buf_puts(r->b, "]");
    } else {
        scalar(r, v);
    }
}

enum op { OP_KEEP, OP_DEL, OP_ADD };

/*
 * A longest-common-subsequence edit script from array a to array b:
 * ops[k] is (op, index into a or b). Deletions come before additions at
 * the same place. Caller frees.
 */
static size_t edit_script(const json_t *a, const json_t *b, int (**ops)[2])
{
    size_t na = json_array_size(a), nb = json_array_size(b), n = 0;
    *ops = sf_xcalloc(na + nb + 1, sizeof(**ops));
    size_t *L = NULL;
    /* Beyond a few million cells, show the whole old then the whole new. */
    if (na * nb <= 4u * 1024 * 1024) {
        L = sf_xcalloc((na + 1) * (nb + 1), sizeof(*L));
        for (size_t i = na; i-- > 0;)
            for (size_t j = nb; j-- > 0;)
                L[i * (nb + 1) + j] = sf_value_equal(json_array_get(a, i), json_array_get(b, j))
                                          ? L[(i + 1) * (nb + 1) + j + 1] + 1
                                          : (L[(i + 1) * (nb + 1) + j] >= L[i * (nb + 1) + j + 1]
                                                 ? L[(i + 1) * (nb + 1) + j]
                                                 : L[i * (nb + 1) + j + 1]);
    }
    size_t i = 0, j = 0;
    while (L && i < na && j < nb) {
        if (sf_value_equal(json_array_get(a, i), json_array_get(b, j))) {
            (*ops)[n][0] = OP_KEEP, (*ops)[n++][1] = (int)i;
            i++, j++;
        } else if (L[(i + 1) * (nb + 1) + j] >= L[i * (nb + 1) + j + 1]) {
            (*ops)[n][0] = OP_DEL, (*ops)[n++][1] = (int)i++;
        } else {
            (*ops)[n][0] = OP_ADD, (*ops)[n++][1] = (int)j++;
        }
    }
    while (i < na)
        (*ops)[n][0] = OP_DEL, (*ops)[n++][1] = (int)i++;
    while (j < nb)
        (*ops)[n][0] = OP_ADD, (*ops)[n++][1] = (int)j++;
    free(L);
    return n;
}

static int width_of(const char **names, size_t n, bool quoted)
{
    int w = 0;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(names[i]) + (quoted ? 2 : 0);
        if (l > w)
            w = l;
    }
    return w;
}

static void hidden_note(struct r *r, int col, int n, const char *what)
{
    if (n <= 0)
        return;
    spaces(r, col);
    sf_buf_printf(r->b, "# (%d unchanged %s%s hidden)\n", n, what, n == 1 ? "" : "s");
}

/*
 * One attribute (or map element) of an update: writes its line(s), ending
 * in a newline, and returns true; returns false (writing nothing) when it
 * did not change. note goes at the end of the first line.
 */
static bool attr_change(struct r *r, int col, const char *name, int width, const json_t *bv,
                        const json_t *av, const json_t *sens, const char *path, const char *note)
{
    if (absent(bv))
        bv = NULL;
    if (absent(av) && !sf_is_unknown(av))
        av = NULL;
    if (sf_value_equal(bv, av) && !sf_value_has_unknown(av))
        return false;

    struct sf_buf tmp = {0};
    struct r sub = {&tmp, r->color};
    char mk = !bv ? '+' : !av ? '-' : '~';
    line(&sub, col, mk);
    padded(&sub, name, width);
    sf_buf_puts(sub.b, " = ");

    if (hidden(sens, path)) {
        sf_buf_puts(sub.b, "(sensitive value)");
    } else if (!bv) {
        value(&sub, av, col, '+', sens, path);
    } else if (!av) {
        value(&sub, bv, col, '-', sens, path);
        sf_buf_puts(sub.b, " -> null");
    } else if (sf_is_unknown(av)) {
        value(&sub, bv, col, ' ', sens, path);
        sf_buf_puts(sub.b, " -> (known after apply)");
    } else if (json_is_object(bv) && json_is_object(av)) {
        size_t n;
        const char **keys = sorted_keys(bv, av, &n);
        int w = width_of(keys, n, true), same = 0;
        sf_buf_puts(sub.b, "{\n");
        for (size_t i = 0; i < n; i++) {
            char *q = quote(keys[i]);
            char *cp = child_path(path, keys[i]);
            if (!attr_change(&sub, col + 4, q, w, json_object_get(bv, keys[i]),
                             json_object_get(av, keys[i]), sens, cp, NULL))
                same++;
            free(cp);
            free(q);
        }
        hidden_note(&sub, col + 4, same, "element");
        spaces(&sub, col);
        sf_buf_puts(sub.b, "}");
        free(keys);
    } else if (json_is_array(bv) && json_is_array(av)) {
        int (*ops)[2];
        size_t n = edit_script(bv, av, &ops);
        sf_buf_puts(sub.b, "[\n");
        for (size_t i = 0; i < n; i++) {
            const json_t *e = ops[i][0] == OP_ADD ? json_array_get(av, ops[i][1])
                                                 : json_array_get(bv, ops[i][1]);
            char m = ops[i][0] == OP_ADD ? '+' : ops[i][0] == OP_DEL ? '-' : ' ';
            line(&sub, col + 4, m);
            value(&sub, e, col + 4, m, sens, path);
            sf_buf_puts(sub.b, ",\n");
        }
        spaces(&sub, col);
        sf_buf_puts(sub.b, "]");
        free(ops);
    } else if (json_is_string(bv) && json_is_string(av) && (multiline(bv) || multiline(av))) {
        json_t *la = split_lines(json_string_value(bv)), *lb = split_lines(json_string_value(av));
        int (*ops)[2];
        size_t n = edit_script(la, lb, &ops);
        sf_buf_puts(sub.b, "<<-EOT\n");
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(ops[i][0] == OP_ADD ? lb : la, ops[i][1]);
            line(&sub, col + 4, ops[i][0] == OP_ADD ? '+' : ops[i][0] == OP_DEL ? '-' : ' ');
            sf_buf_puts(sub.b, json_string_value(e));
            sf_buf_puts(sub.b, "\n");
        }
        spaces(&sub, col);
        sf_buf_puts(sub.b, "EOT");
        free(ops);
        json_decref(la);
        json_decref(lb);
    } else {
        value(&sub, bv, col, ' ', sens, path);
        sf_buf_puts(sub.b, " -> ");
        value(&sub, av, col, ' ', sens, path);
    }
    sf_buf_puts(sub.b, "\n");

    char *nl = strchr(tmp.s, '\n');
    sf_buf_add(r->b, tmp.s, (size_t)(nl - tmp.s));
    if (note)
        sf_buf_printf(r->b, " %s", note);
    sf_buf_puts(r->b, nl);
    sf_buf_free(&tmp);
    return true;
}

static bool in_array(const json_t *arr, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_is_string(e) && strcmp(json_string_value(e), s) == 0) return true;
    return false;
}

enum mode { M_CREATE, M_DELETE, M_UPDATE, M_SHOW };

/* The attribute lines of one resource block, names at column col. */
static void attributes(struct r *r, int col, enum mode m, const json_t *before, const json_t *after,
                       const json_t *sens, const json_t *replace_paths)
{
    const json_t *one = m == M_DELETE ? before : m == M_UPDATE ? NULL : after;
    size_t n;
    const char **keys = m == M_UPDATE ? sorted_keys(before, after, &n) : sorted_keys(one, NULL, &n);
    int width = width_of(keys, n, false), same = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == M_UPDATE) {
            if (!attr_change(r, col, keys[i], width, json_object_get(before, keys[i]),
                             json_object_get(after, keys[i]), sens, keys[i],
                             in_array(replace_paths, keys[i]) ? "# forces replacement" : NULL))
                same++;
            continue;
        }
        char mk = m == M_CREATE ? '+' : m == M_DELETE ? '-' : ' ';
        line(r, col, mk);
        padded(r, keys[i], width);
        sf_buf_puts(r->b, " = ");
        value(r, json_object_get(one, keys[i]), col, mk, sens, keys[i]);
        sf_buf_puts(r->b, "\n");
    }
    if (m == M_UPDATE)
        hidden_note(r, col, same, "attribute");
    free(keys);
}

/* "  # <text>" header line, bold. */
static void comment(struct r *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void comment(struct r *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vasprintf(fmt, ap);
    va_end(ap);
    sf_buf_puts(r->b, "  ");
    bold(r, s);
    sf_buf_puts(r->b, "\n");
    free(s);
}

static void block_open(struct r *r, const char *mk, const char *type, const char *name)
{
    if (strlen(mk) == 1)
        sf_buf_puts(r->b, "  ");
    marker(r, mk);
    char *bare = sf_xstrndup(name, strcspn(name, "["));
    sf_buf_printf(r->b, " resource \"%s\" \"%s\" {\n", type, bare);
    free(bare);
}

static void render_drift(struct r *r, const struct sf_drift *d)
{
    char *name = sf_plan_address_name(d->address, d->type);
    json_t *sens = sf_plan_sensitive_for(d->type, d->sensitive);
    if (d->after) {
        comment(r, "# %s has changed", d->address);
        block_open(r, "~", d->type, name);
        attributes(r, 8, M_UPDATE, d->before, d->after, sens, NULL);
    } else {
        comment(r, "# %s has been deleted", d->address);
        block_open(r, "-", d->type, name);
        attributes(r, 8, M_DELETE, d->before, NULL, sens, NULL);
    }
    sf_buf_puts(r->b, "    }\n\n");
    json_decref(sens);
    free(name);
}

static void render_change(struct r *r, const struct sf_change *c)
{
    const char *mk = "~";
    enum mode m = M_UPDATE;
    switch (c->action) {
    case SF_ACT_NOOP: return;
    case SF_ACT_CREATE:
        comment(r, "# %s will be created", c->address);
        if (c->reason == SF_REASON_GONE)
            comment(r, "# (because %s was deleted outside sparkform)", c->address);
        mk = "+", m = M_CREATE;
        break;
    case SF_ACT_UPDATE:
        comment(r, "# %s will be updated in place", c->address);
        break;
    case SF_ACT_REPLACE:
        comment(r, "# %s must be replaced", c->address);
        if (c->reason == SF_REASON_TAINTED)
            comment(r, "# (because %s is tainted, so it must be replaced)", c->address);
        else if (c->reason == SF_REASON_REQUESTED)
            comment(r, "# (because -replace asked for it)");
        else if (c->reason == SF_REASON_RENEW)
            comment(r, "# (because %s)", c->reason_detail ? c->reason_detail : "it is due for renewal");
        if (c->create_before_destroy)
            comment(r, "# (new resource is created before the old is destroyed)");
        mk = c->create_before_destroy ? "+/-" : "-/+";
        break;
    case SF_ACT_DELETE:
        comment(r, "# %s%s will be destroyed", c->address, c->deposed > 0 ? " (deposed object)" : "");
        if (c->reason == SF_REASON_NOT_IN_CONFIG)
            comment(r, "# (because %s is not in the description)", c->address);
        mk = "-", m = M_DELETE;
        break;
    }
    char *name = c->name ? sf_xstrdup(c->name) : sf_plan_address_name(c->address, c->type);
    json_t *sens = sf_plan_sensitive_for(c->type, c->sensitive);
    block_open(r, mk, c->type, name);
    attributes(r, 8, m, c->before, c->after, sens, c->replace_paths);
    sf_buf_puts(r->b, "    }\n\n");
    json_decref(sens);
    free(name);
}

static void render_outputs(struct r *r, const struct sf_plan *p)
{
    int width = 0;
    for (size_t i = 0; i < p->n_outputs; i++)
        if (p->outputs[i].action != SF_ACT_NOOP && (int)strlen(p->outputs[i].name) > width)
            width = (int)strlen(p->outputs[i].name);
    bold(r, "Changes to Outputs:");
    sf_buf_puts(r->b, "\n");
    for (size_t i = 0; i < p->n_outputs; i++) {
        const struct sf_output_change *o = &p->outputs[i];
        if (o->action == SF_ACT_NOOP)
            continue;
        json_t *sens = json_array();
        if (o->sensitive)
            json_array_append_new(sens, json_string(o->name));
        const json_t *bv = o->action == SF_ACT_CREATE ? NULL : o->before;
        const json_t *av = o->action == SF_ACT_DELETE ? NULL : o->after;
        if (o->action == SF_ACT_CREATE && !av)
            av = sf_unknown();
        if (!attr_change(r, 4, o->name, width, bv, av, sens, o->name, NULL)) {
            /* Planned as a change though equal (a sensitivity flip, say). */
            line(r, 4, '~');
            padded(r, o->name, width);
            sf_buf_puts(r->b, " = ");
            value(r, av, 4, ' ', sens, o->name);
            sf_buf_puts(r->b, "\n");
        }
        json_decref(sens);
    }
    sf_buf_puts(r->b, "\n");
}

static void no_changes(struct r *r)
{
    bold(r, "No changes.");
    sf_buf_puts(r->b, " Your infrastructure matches the description.\n");
}

/* "Schedule: next hibernate 2026-10-26 20:00 CET (19:00 UTC), next wake
 * ..., expires ..." under the plan, when the description has one. */
static void render_schedule(struct r *r, const json_t *s)
{
    struct sf_buf parts = {0};
    const char *h = json_string_value(json_object_get(json_object_get(s, "hibernate"), "next_local"));
    const char *w = json_string_value(json_object_get(json_object_get(s, "wake"), "next_local"));
    const char *e = json_string_value(json_object_get(json_object_get(s, "expires_at"), "local"));
    const char *da = json_string_value(json_object_get(s, "delete_after"));
    if (h)
        sf_buf_printf(&parts, "next hibernate %s", h);
    if (w)
        sf_buf_printf(&parts, "%snext wake %s", parts.len ? ", " : "", w);
    if (e)
        sf_buf_printf(&parts, "%sexpires %s", parts.len ? ", " : "", e);
    else if (da)
        sf_buf_printf(&parts, "%sexpires %s after the first apply", parts.len ? ", " : "", da);
    if (parts.len) {
        sf_buf_puts(r->b, "\n");
        bold(r, "Schedule:");
        sf_buf_printf(r->b, " %s.\n", parts.s);
    }
    sf_buf_free(&parts);
}

void sf_plan_render(FILE *out, const struct sf_plan *p, bool color)
{
    struct sf_buf b = {0};
    struct r r = {&b, color};
    bool any_res = false, any_out = false;
    for (size_t i = 0; i < p->n_changes; i++)
        any_res |= p->changes[i].action != SF_ACT_NOOP;
    for (size_t i = 0; i < p->n_outputs; i++)
        any_out |= p->outputs[i].action != SF_ACT_NOOP;

    if (p->n_drift > 0) {
        bold(&r, "Note: Objects have changed outside of sparkform");
        sf_buf_puts(&b, "\n\n");
        for (size_t i = 0; i < p->n_drift; i++)
            render_drift(&r, &p->drift[i]);
    }

    if (p->refresh_only) {
        /* Only the state changes: resource changes are not applied. */
        if (p->n_drift == 0 && !any_out) {
            no_changes(&r);
        } else {
            if (any_out)
                render_outputs(&r, p);
            sf_buf_puts(&b, "This is a refresh-only plan: applying it records the changes above in "
                            "the state; nothing else changes.\n\n");
            bold(&r, "Plan:");
            sf_buf_printf(&b, " refresh-only, %zu object%s changed outside sparkform.\n", p->n_drift,
                          p->n_drift == 1 ? "" : "s");
        }
    } else if (!any_res && !any_out) {
        no_changes(&r);
    } else {
        if (any_res) {
            bold(&r, "sparkform will perform the following actions:");
            sf_buf_puts(&b, "\n\n");
            for (size_t i = 0; i < p->n_changes; i++)
                render_change(&r, &p->changes[i]);
        }
        if (any_out)
            render_outputs(&r, p);
        int add, change, destroy;
        sf_plan_counts(p, &add, &change, &destroy);
        bold(&r, "Plan:");
        sf_buf_printf(&b, " %d to add, %d to change, %d to destroy.\n", add, change, destroy);
    }
    if (p->schedule && !p->destroy)
        render_schedule(&r, p->schedule);
    if (b.len)
        fwrite(b.s, 1, b.len, out);
    sf_buf_free(&b);
}

void sf_render_value(FILE *out, const json_t *v, int indent)
{
    struct sf_buf b = {0};
    struct r r = {&b, false};
    value(&r, v, indent, ' ', NULL, NULL);
    if (b.len)
        fwrite(b.s, 1, b.len, out);
    sf_buf_free(&b);
}

void sf_render_state(FILE *out, const json_t *state, const struct sf_resource_type *(*find)(const char *),
                     bool color)
{
    struct sf_buf b = {0};
    struct r r = {&b, color};
    const json_t *resources = json_object_get(state, "resources");
    const json_t *outputs = json_object_get(state, "outputs");
    /* Where the description applied last came from, when that was git. */
    const json_t *src = json_object_get(state, "source");
    const char *url = json_string_value(json_object_get(src, "url"));
    const char *path = json_string_value(json_object_get(src, "path"));
    const char *commit = json_string_value(json_object_get(src, "commit"));
    const char *ref = json_string_value(json_object_get(src, "ref"));
    if (url && path && commit) {
        char *line = ref && *ref ? sf_asprintf("Applied from %s//%s at commit %s (ref %s)", url, path, commit, ref)
                                 : sf_asprintf("Applied from %s//%s at commit %s (the default branch)", url, path,
                                               commit);
        bold(&r, line);
        sf_buf_puts(&b, "\n\n");
        free(line);
    }
    size_t n;
    const char **addrs = sorted_keys(resources, NULL, &n);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_object_get(resources, addrs[i]);
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!type)
            type = "";
        const json_t *attrs = json_object_get(e, "attributes");
        json_t *sens = json_array();
        size_t k;
        json_t *s;
        json_array_foreach(json_object_get(e, "sensitive_attributes"), k, s) json_array_append(sens, s);
        const struct sf_resource_type *rt = find && *type ? find(type) : NULL;
        for (const struct sf_attr *a = rt ? rt->attrs : NULL; a && a->name; a++)
            if (a->flags & SF_SENSITIVE)
                json_array_append_new(sens, json_string(a->name));

        char *head = sf_asprintf("# %s:%s", addrs[i],
                                 json_is_string(json_object_get(e, "status")) &&
                                         strcmp(json_string_value(json_object_get(e, "status")), "tainted") == 0
                                     ? " (tainted)"
                                     : "");
        bold(&r, head);
        free(head);
        char *name = sf_plan_address_name(addrs[i], type);
        name[strcspn(name, "[")] = '\0';
        sf_buf_printf(&b, "\nresource \"%s\" \"%s\" {\n", type, name);
        attributes(&r, 4, M_SHOW, NULL, attrs, sens, NULL);
        sf_buf_puts(&b, "}\n\n");
        free(name);
        json_decref(sens);
    }
    free(addrs);

    const char **names = sorted_keys(outputs, NULL, &n);
    if (n > 0) {
        bold(&r, "Outputs:");
        sf_buf_puts(&b, "\n\n");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_object_get(outputs, names[i]);
        sf_buf_printf(&b, "%s = ", names[i]);
        if (json_is_true(json_object_get(o, "sensitive")))
            sf_buf_puts(&b, "(sensitive value)");
        else
            value(&r, json_object_get(o, "value"), 0, ' ', NULL, NULL);
        sf_buf_puts(&b, "\n");
    }
    free(names);
    if (json_object_size(resources) == 0 && json_object_size(outputs) == 0)
        sf_buf_puts(&b, "The state is empty.\n");
    if (b.len)
        fwrite(b.s, 1, b.len, out);
    sf_buf_free(&b);
}

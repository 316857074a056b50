/*
 * The ${...} expression language (grammar in expr.h). The loader calls
 * sf_expr_refs to learn what each string refers to (for checking and for
 * the graph's edges); plan and apply call sf_expr_eval with a scope that
 * answers references. Both parse the string into a small tree first, so a
 * syntax error is found at load time, at the exact column of the problem.
 */
#include "expr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "funcs.h"
#include "util.h"
#include "value.h"

enum ast_kind { A_LIT, A_REF, A_CALL, A_LIST, A_MAP, A_FOR, A_LOCAL };

struct step {
    char *key;        /* .key, or NULL */
    long index;       /* .N when key is NULL and expr is NULL */
    struct ast *expr; /* [expr] */
    const char *at;   /* where the step starts in the text */
};

struct ast {
    enum ast_kind kind;
    const char *at; /* where it starts in the text */
    const char *end;
    json_t *lit;
    struct sf_ref ref;
    struct step *steps;
    size_t n_steps;
    int func;
    struct ast **args; /* a call's arguments; a list's or a map's items */
    size_t n_args;
    char **keys;         /* a map's keys; a for's variables ([0] key or index, [1] value) */
    struct ast **kexprs; /* a map's computed keys ({(expr): value}), or NULL */
};

struct part {
    char *lit;       /* literal text, or NULL */
    struct ast *e;   /* an expression, or NULL */
    const char *at;  /* the "${" */
};

struct parser {
    const char *text;
    const char *p;
    const char *tmpl; /* the "${" being parsed */
    const struct sf_pos *pos;
    struct sf_diags *d;
    bool failed;
    const char *locals[16]; /* the variables of the for expressions around */
    size_t n_locals;
};

static void ast_free(struct ast *a)
{
    if (!a)
        return;
    json_decref(a->lit);
    free(a->ref.name);
    free(a->ref.attr);
    free(a->ref.key);
    for (size_t i = 0; a->keys && i < a->n_args; i++)
        free(a->keys[i]);
    free(a->keys);
    for (size_t i = 0; a->kexprs && i < a->n_args; i++)
        ast_free(a->kexprs[i]);
    free(a->kexprs);
    for (size_t i = 0; i < a->n_steps; i++) {
        free(a->steps[i].key);
        ast_free(a->steps[i].expr);
    }
    free(a->steps);
    for (size_t i = 0; i < a->n_args; i++)
        ast_free(a->args[i]);
    free(a->args);
    free(a);
}

static void parts_free(struct part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(parts[i].lit);
        ast_free(parts[i].e);
    }
    free(parts);
}

/* The file position of a byte of text: columns count characters, as
 * libyaml's do. Only meaningful for single-line scalars. */
static struct sf_pos pos_at(const char *text, const struct sf_pos *pos, const char *at)
{
    struct sf_pos r = {NULL, 0, 0};
    if (!pos)
        return r;
    r = *pos;
    if (r.line <= 0)
        return r;
    int chars = 0;
    for (const char *s = text; s < at && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            chars++;
    r.col += chars;
    return r;
}

static void perr(struct parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perr(struct parser *ps, const char *at, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    struct sf_pos p = pos_at(ps->text, ps->pos, at);
    sf_error(ps->d, &p, "%s", msg);
    free(msg);
}

static void unterminated(struct parser *ps)
{
    perr(ps, ps->tmpl, "unterminated \"${\": expected \"}\" before the end of the string");
}

static void skip_ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static struct ast *new_ast(enum ast_kind k, const char *at)
{
    struct ast *a = sf_xcalloc(1, sizeof(*a));
    a->kind = k;
    a->at = at;
    return a;
}

static struct ast *parse_expr(struct parser *ps);

static struct ast *parse_string(struct parser *ps)
{
    const char *start = ps->p;
    struct sf_buf b = {0};
    ps->p++;
    for (;;) {
        char c = *ps->p;
        if (c == '\0') {
            sf_buf_free(&b);
            perr(ps, start, "unterminated string literal: expected a closing '\"'");
            return NULL;
        }
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c == '\\') {
            char e = ps->p[1];
            const char *rep = e == 'n' ? "\n" : e == 't' ? "\t" : e == 'r' ? "\r" : e == '"' ? "\"" : e == '\\' ? "\\" : NULL;
            if (!rep) {
                sf_buf_free(&b);
                perr(ps, ps->p, "unknown escape \"\\%c\" in a string literal; use \\\", \\\\, \\n, \\t or \\r",
                     e ? e : ' ');
                return NULL;
            }
            sf_buf_puts(&b, rep);
            ps->p += 2;
            continue;
        }
        sf_buf_add(&b, &c, 1);
        ps->p++;
    }
    struct ast *a = new_ast(A_LIT, start);
    char *s = sf_buf_take(&b);
    a->lit = json_string(s);
    if (!a->lit)
        a->lit = json_string_nocheck(s);
    free(s);
    return a;
}

static struct ast *parse_number(struct parser *ps)
{
    const char *start = ps->p;
    const char *p = ps->p;
    if (*p == '-')
        p++;
    while (is_digit(*p))
        p++;
    bool real = false;
    if (*p == '.' && is_digit(p[1])) {
        real = true;
        p++;
        while (is_digit(*p))
            p++;
    }
    if ((*p == 'e' || *p == 'E') && (is_digit(p[1]) || ((p[1] == '-' || p[1] == '+') && is_digit(p[2])))) {
        real = true;
        p += 2;
        while (is_digit(*p))
            p++;
    }
    char *txt = sf_xstrndup(start, (size_t)(p - start));
    struct ast *a = new_ast(A_LIT, start);
    errno = 0;
    long long iv = real ? 0 : strtoll(txt, NULL, 10);
    if (!real && errno == 0)
        a->lit = json_integer(iv);
    else
        a->lit = json_real(strtod(txt, NULL));
    free(txt);
    ps->p = p;
    return a;
}

static void append_step(struct ast *a, struct step st)
{
    a->steps = sf_xrealloc(a->steps, (a->n_steps + 1) * sizeof(*a->steps));
    a->steps[a->n_steps++] = st;
}

/* [ "KEY" ] or [ each.key ] right after TYPE.NAME or module.NAME: which
 * instance of a for_each is meant. */
static bool parse_instance(struct parser *ps, struct ast *a)
{
    const char *open = ps->p++;
    skip_ws(ps);
    if (*ps->p == '"') {
        struct ast *k = parse_string(ps);
        if (!k)
            return false;
        a->ref.key = sf_xstrdup(json_string_value(k->lit));
        ast_free(k);
    } else if (!strncmp(ps->p, "each.key", 8) && !ident_char(ps->p[8])) {
        a->ref.key_each = true;
        ps->p += 8;
    } else {
        perr(ps, ps->p, "an instance is chosen with a \"string\" key or each.key");
        return false;
    }
    skip_ws(ps);
    if (*ps->p != ']') {
        if (*ps->p == '\0')
            unterminated(ps);
        else
            perr(ps, ps->p, "expected \"]\" to close the \"[\" at column %d",
                 pos_at(ps->text, ps->pos, open).col);
        return false;
    }
    ps->p++;
    return true;
}

static char *parse_segment(struct parser *ps)
{
    if (*ps->p != '.' || !ident_start(ps->p[1]))
        return NULL;
    const char *s = ++ps->p;
    while (ident_char(*ps->p))
        ps->p++;
    return sf_xstrndup(s, (size_t)(ps->p - s));
}

static struct ast *parse_steps(struct parser *ps, struct ast *a);

/* After an identifier that is not a call: a reference with its steps. */
static struct ast *parse_reference(struct parser *ps, const char *start, char *first)
{
    struct ast *a = new_ast(A_REF, start);
    a->ref.pos = pos_at(ps->text, ps->pos, start);
    char *second = NULL, *third = NULL;
    const char *usage = NULL;
    if (!strcmp(first, "self")) {
        a->ref.kind = SF_REF_SELF;
        a->ref.name = sf_xstrdup("self");
    } else if (!strcmp(first, "var") || !strcmp(first, "input") || !strcmp(first, "each")) {
        bool each = first[0] == 'e';
        a->ref.kind = first[0] == 'v' ? SF_REF_VAR : each ? SF_REF_EACH : SF_REF_INPUT;
        second = parse_segment(ps);
        if (!second || (each && strcmp(second, "key") != 0 && strcmp(second, "value") != 0))
            usage = first[0] == 'v' ? "a variable is referred to as var.NAME"
                    : each          ? "a for_each instance is referred to as each.key or each.value"
                                    : "a module input is referred to as input.NAME";
        a->ref.name = second;
        second = NULL;
    } else {
        bool module = !strcmp(first, "module");
        a->ref.kind = module ? SF_REF_MODULE : SF_REF_RESOURCE;
        second = parse_segment(ps);
        if (second && *ps->p == '[' && !parse_instance(ps, a)) {
            free(second);
            free(first);
            ast_free(a);
            return NULL;
        }
        third = second ? parse_segment(ps) : NULL;
        if (!second || (module && !third))
            usage = module ? "a module's output is referred to as module.NAME.OUTPUT"
                           : "references look like var.NAME or TYPE.NAME.ATTR (e.g. local_file.motd.path)";
        else if (module) {
            a->ref.name = second;
            a->ref.attr = third;
        } else {
            a->ref.name = sf_asprintf("%s.%s", first, second);
            a->ref.attr = third;
            free(second);
        }
    }
    if (usage) {
        perr(ps, start, "\"%.*s\" is not a valid reference; %s", (int)(ps->p - start), start, usage);
        free(second);
        free(third);
        free(first);
        ast_free(a);
        return NULL;
    }
    free(first);
    a = parse_steps(ps, a);
    if (a && a->ref.kind == SF_REF_INPUT && a->n_steps && a->steps[0].key)
        a->ref.field = a->steps[0].key;
    return a;
}

/* The .KEY and [INDEX] steps after a reference. */
static struct ast *parse_steps(struct parser *ps, struct ast *a)
{
    for (;;) {
        if (*ps->p == '.') {
            const char *at = ps->p++;
            struct step st = {.at = at};
            if (ident_start(*ps->p)) {
                const char *s = ps->p;
                while (ident_char(*ps->p))
                    ps->p++;
                st.key = sf_xstrndup(s, (size_t)(ps->p - s));
            } else if (is_digit(*ps->p)) {
                char *end;
                st.index = strtol(ps->p, &end, 10);
                ps->p = end;
            } else {
                if (*ps->p == '\0')
                    unterminated(ps);
                else
                    perr(ps, ps->p, "expected a name or an index after \".\"");
                ast_free(a);
                return NULL;
            }
            append_step(a, st);
        } else if (*ps->p == '[') {
            const char *at = ps->p++;
            struct ast *ix = parse_expr(ps);
            if (!ix) {
                ast_free(a);
                return NULL;
            }
            skip_ws(ps);
            if (*ps->p != ']') {
                ast_free(ix);
                if (*ps->p == '\0')
                    unterminated(ps);
                else
                    perr(ps, ps->p, "expected \"]\" to close the \"[\" at column %d",
                         pos_at(ps->text, ps->pos, at).col);
                ast_free(a);
                return NULL;
            }
            ps->p++;
            append_step(a, (struct step){.expr = ix, .at = at});
        } else {
            break;
        }
    }
    a->end = ps->p;
    return a;
}

/* Comma-separated expressions up to close (a call's arguments, a list's
 * items, a map's entries when keys is given); the opening character has
 * been read. */
static bool parse_items(struct parser *ps, struct ast *a, char close, const char *what, bool keys)
{
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return true;
    }
    for (;;) {
        skip_ws(ps);
        char *key = NULL;
        struct ast *kexpr = NULL;
        if (keys) {
            const char *ks = ps->p;
            if (*ps->p == '"') {
                struct ast *k = parse_string(ps);
                if (!k)
                    return false;
                key = sf_xstrdup(json_string_value(k->lit));
                ast_free(k);
            } else if (ident_start(*ps->p)) {
                while (ident_char(*ps->p))
                    ps->p++;
                key = sf_xstrndup(ks, (size_t)(ps->p - ks));
            } else if (*ps->p == '(') {
                /* A key computed by an expression: {(input.user): "x"}. */
                ps->p++;
                kexpr = parse_expr(ps);
                skip_ws(ps);
                if (!kexpr || *ps->p != ')') {
                    if (kexpr)
                        perr(ps, ps->p, "expected \")\" after a computed key in %s", what);
                    ast_free(kexpr);
                    return false;
                }
                ps->p++;
                key = sf_xstrdup("");
            } else {
                perr(ps, ps->p, "expected a key (a name, a \"string\" or (an expression)) in %s", what);
                return false;
            }
            skip_ws(ps);
            if (*ps->p != ':') {
                perr(ps, ps->p, "expected \":\" after the key \"%s\" in %s", key, what);
                free(key);
                ast_free(kexpr);
                return false;
            }
            ps->p++;
        }
        struct ast *item = parse_expr(ps);
        if (!item) {
            free(key);
            ast_free(kexpr);
            return false;
        }
        a->args = sf_xrealloc(a->args, (a->n_args + 1) * sizeof(*a->args));
        if (keys) {
            a->keys = sf_xrealloc(a->keys, (a->n_args + 1) * sizeof(*a->keys));
            a->keys[a->n_args] = key;
            a->kexprs = sf_xrealloc(a->kexprs, (a->n_args + 1) * sizeof(*a->kexprs));
            a->kexprs[a->n_args] = kexpr;
        }
        a->args[a->n_args++] = item;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return true;
        }
        if (*ps->p == '\0')
            unterminated(ps);
        else
            perr(ps, ps->p, "expected \",\" or \"%c\" in %s", close, what);
        return false;
    }
}

static struct ast *parse_call(struct parser *ps, const char *start, char *name)
{
    int min, max;
    int f = sf_func_find(name, &min, &max);
    if (f < 0) {
        const char *dym = sf_did_you_mean(name, sf_func_names());
        if (dym)
            perr(ps, start, "unknown function \"%s\"; did you mean \"%s\"?", name, dym);
        else {
            struct sf_buf all = {0};
            for (const char *const *n = sf_func_names(); *n; n++)
                sf_buf_printf(&all, "%s%s", n == sf_func_names() ? "" : ", ", *n);
            char *list = sf_buf_take(&all);
            perr(ps, start, "unknown function \"%s\"; the functions are %s", name, list);
            free(list);
        }
        free(name);
        return NULL;
    }
    struct ast *a = new_ast(A_CALL, start);
    a->func = f;
    ps->p++; /* ( */
    char *what = sf_asprintf("the arguments of %s()", name);
    bool ok = parse_items(ps, a, ')', what, false);
    free(what);
    free(name);
    if (!ok) {
        ast_free(a);
        return NULL;
    }
    int n = (int)a->n_args;
    if (n < min || (max >= 0 && n > max)) {
        if (max < 0)
            perr(ps, start, "%s() takes at least %d argument%s, got %d", sf_func_name(f), min,
                 min == 1 ? "" : "s", n);
        else if (min != max)
            perr(ps, start, "%s() takes %d to %d arguments, got %d", sf_func_name(f), min, max, n);
        else
            perr(ps, start, "%s() takes %d argument%s, got %d", sf_func_name(f), min,
                 min == 1 ? "" : "s", n);
        ast_free(a);
        return NULL;
    }
    a->end = ps->p;
    return a;
}

static bool keyword(struct parser *ps, const char *word)
{
    skip_ws(ps);
    size_t n = strlen(word);
    if (strncmp(ps->p, word, n) != 0 || ident_char(ps->p[n]))
        return false;
    ps->p += n;
    return true;
}

static char *parse_ident(struct parser *ps, const char *what)
{
    skip_ws(ps);
    const char *s = ps->p;
    if (!ident_start(*s)) {
        perr(ps, s, "expected %s", what);
        return NULL;
    }
    while (ident_char(*ps->p))
        ps->p++;
    return sf_xstrndup(s, (size_t)(ps->p - s));
}

/* [for X in LIST : EXPR if COND], [for I, X in ...], {for K, V in MAP :
 * KEY => VALUE if COND}; "for" has been read. args: the collection, the
 * value, the key (maps), the condition; keys: the variables. */
static struct ast *parse_for(struct parser *ps, const char *start, bool map)
{
    struct ast *a = new_ast(A_FOR, start);
    a->args = sf_xcalloc(4, sizeof(*a->args));
    a->keys = sf_xcalloc(4, sizeof(*a->keys));
    a->n_args = 4;
    a->func = map;
    char close = map ? '}' : ']';
    char *v1 = parse_ident(ps, "a variable name after \"for\"");
    if (!v1)
        goto fail;
    skip_ws(ps);
    if (*ps->p == ',') {
        ps->p++;
        a->keys[0] = v1;
        if (!(a->keys[1] = parse_ident(ps, "a second variable name after \",\"")))
            goto fail;
    } else {
        a->keys[1] = v1;
    }
    if (!keyword(ps, "in")) {
        perr(ps, ps->p, "expected \"in\" after the variables of a for expression");
        goto fail;
    }
    if (!(a->args[0] = parse_expr(ps)))
        goto fail;
    skip_ws(ps);
    if (*ps->p != ':') {
        perr(ps, ps->p, "expected \":\" after the collection of a for expression");
        goto fail;
    }
    ps->p++;
    if (ps->n_locals + 2 > sizeof(ps->locals) / sizeof(ps->locals[0])) {
        perr(ps, start, "for expressions are nested too deeply");
        goto fail;
    }
    size_t saved = ps->n_locals;
    for (int i = 0; i < 2; i++)
        if (a->keys[i])
            ps->locals[ps->n_locals++] = a->keys[i];
    bool ok = true;
    if (map) {
        ok = (a->args[2] = parse_expr(ps)) != NULL;
        skip_ws(ps);
        if (ok && strncmp(ps->p, "=>", 2) != 0) {
            perr(ps, ps->p, "expected \"=>\" between the key and the value of a for expression");
            ok = false;
        }
        if (ok)
            ps->p += 2;
    }
    ok = ok && (a->args[1] = parse_expr(ps)) != NULL;
    if (ok && keyword(ps, "if"))
        ok = (a->args[3] = parse_expr(ps)) != NULL;
    ps->n_locals = saved;
    if (!ok)
        goto fail;
    skip_ws(ps);
    if (*ps->p != close) {
        if (*ps->p == '\0')
            unterminated(ps);
        else
            perr(ps, ps->p, "expected \"%c\" to end the for expression", close);
        goto fail;
    }
    ps->p++;
    a->end = ps->p;
    return a;
fail:
    ast_free(a);
    return NULL;
}

static struct ast *parse_collection(struct parser *ps)
{
    bool map = *ps->p == '{';
    const char *start = ps->p;
    ps->p++;
    if (keyword(ps, "for"))
        return parse_for(ps, start, map);
    ps->p = start;
    struct ast *a = new_ast(map ? A_MAP : A_LIST, ps->p);
    ps->p++;
    if (!parse_items(ps, a, map ? '}' : ']', map ? "a mapping" : "a list", map)) {
        ast_free(a);
        return NULL;
    }
    a->end = ps->p;
    return a;
}

static struct ast *parse_expr(struct parser *ps)
{
    skip_ws(ps);
    char c = *ps->p;
    const char *start = ps->p;
    if (c == '\0') {
        unterminated(ps);
        return NULL;
    }
    if (c == '"')
        return parse_string(ps);
    if (c == '[' || c == '{')
        return parse_collection(ps);
    if (is_digit(c) || (c == '-' && is_digit(ps->p[1])))
        return parse_number(ps);
    if (ident_start(c)) {
        while (ident_char(*ps->p))
            ps->p++;
        char *id = sf_xstrndup(start, (size_t)(ps->p - start));
        const char *after = ps->p;
        skip_ws(ps);
        if (*ps->p == '(')
            return parse_call(ps, start, id);
        ps->p = after;
        for (size_t i = ps->n_locals; i-- > 0;)
            if (!strcmp(ps->locals[i], id)) {
                struct ast *a = new_ast(A_LOCAL, start);
                a->ref.name = id;
                return parse_steps(ps, a);
            }
        if (*ps->p != '.' && *ps->p != '[') {
            json_t *lit = strcmp(id, "true") == 0    ? json_true()
                          : strcmp(id, "false") == 0 ? json_false()
                          : strcmp(id, "null") == 0  ? json_null()
                                                     : NULL;
            if (lit) {
                free(id);
                struct ast *a = new_ast(A_LIT, start);
                a->lit = lit;
                return a;
            }
        }
        return parse_reference(ps, start, id);
    }
    if (c == '}')
        perr(ps, start, "empty \"${}\"; expected a reference like var.NAME, a literal or a function call");
    else
        perr(ps, start,
             "unexpected \"%c\"; expected a reference like var.NAME, a \"string\", a number or a "
             "function call",
             c);
    return NULL;
}

/* Splits text into literal and ${} parts. */
static int parse_template(const char *text, const struct sf_pos *pos, struct sf_diags *d,
                          struct part **out, size_t *n_out)
{
    struct parser ps = {.text = text, .pos = pos, .d = d};
    struct part *parts = NULL;
    size_t n = 0;
    struct sf_buf lit = {0};
    const char *s = text;
    while (*s) {
        if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
            sf_buf_add(&lit, "${", 2);
            s += 3;
            continue;
        }
        if (s[0] == '$' && s[1] == '{') {
            if (lit.len) {
                parts = sf_xrealloc(parts, (n + 1) * sizeof(*parts));
                parts[n++] = (struct part){.lit = sf_buf_take(&lit)};
            }
            ps.tmpl = s;
            ps.p = s + 2;
            struct ast *e = parse_expr(&ps);
            if (e) {
                skip_ws(&ps);
                if (*ps.p != '}') {
                    if (*ps.p == '\0')
                        unterminated(&ps);
                    else
                        perr(&ps, ps.p, "unexpected \"%c\"; expected \"}\" to end the \"${\" at column %d",
                             *ps.p, pos_at(text, pos, s).col);
                    ast_free(e);
                    e = NULL;
                }
            }
            if (!e) {
                sf_buf_free(&lit);
                parts_free(parts, n);
                return -1;
            }
            ps.p++;
            parts = sf_xrealloc(parts, (n + 1) * sizeof(*parts));
            parts[n++] = (struct part){.e = e, .at = s};
            s = ps.p;
            continue;
        }
        sf_buf_add(&lit, s, 1);
        s++;
    }
    if (lit.len) {
        parts = sf_xrealloc(parts, (n + 1) * sizeof(*parts));
        parts[n++] = (struct part){.lit = sf_buf_take(&lit)};
    }
    sf_buf_free(&lit);
    *out = parts;
    *n_out = n;
    return 0;
}

static void collect_refs(const struct ast *a, struct sf_ref **refs, size_t *n, size_t *cap)
{
    if (!a)
        return;
    if (a->kind == A_REF) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 4;
            *refs = sf_xrealloc(*refs, *cap * sizeof(**refs));
        }
        (*refs)[(*n)++] = (struct sf_ref){
            .kind = a->ref.kind,
            .name = sf_xstrdup(a->ref.name),
            .attr = a->ref.attr ? sf_xstrdup(a->ref.attr) : NULL,
            .key = a->ref.key ? sf_xstrdup(a->ref.key) : NULL,
            .key_each = a->ref.key_each,
            .pos = a->ref.pos,
        };
    }
    for (size_t i = 0; i < a->n_steps; i++)
        collect_refs(a->steps[i].expr, refs, n, cap);
    for (size_t i = 0; i < a->n_args; i++) {
        collect_refs(a->args[i], refs, n, cap);
        if (a->kexprs)
            collect_refs(a->kexprs[i], refs, n, cap);
    }
}

int sf_expr_refs(const char *text, const struct sf_pos *pos, struct sf_ref **refs, size_t *n,
                 struct sf_diags *d)
{
    *refs = NULL;
    *n = 0;
    struct part *parts;
    size_t np;
    if (parse_template(text, pos, d, &parts, &np) < 0)
        return -1;
    size_t cap = 0;
    for (size_t i = 0; i < np; i++)
        collect_refs(parts[i].e, refs, n, &cap);
    parts_free(parts, np);
    return 0;
}

bool sf_expr_path(const char *text, struct sf_ref **ref, json_t **steps)
{
    *ref = NULL;
    *steps = NULL;
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct part *parts;
    size_t np;
    bool ok = parse_template(text, NULL, &quiet, &parts, &np) == 0;
    sf_diags_free(&quiet);
    if (!ok)
        return false;
    const struct ast *a = np == 1 ? parts[0].e : NULL;
    ok = a && a->kind == A_REF;
    json_t *out = json_array();
    for (size_t i = 0; ok && i < a->n_steps; i++) {
        const struct step *st = &a->steps[i];
        const json_t *lit = st->expr && st->expr->kind == A_LIT ? st->expr->lit : NULL;
        if (st->key)
            json_array_append_new(out, json_string(st->key));
        else if (!st->expr)
            json_array_append_new(out, json_integer(st->index));
        else if (json_is_string(lit) || json_is_integer(lit))
            json_array_append(out, (json_t *)lit);
        else
            ok = false; /* an index computed from something else */
    }
    if (ok) {
        size_t n = 0, cap = 0;
        collect_refs(a, ref, &n, &cap);
        *steps = out;
    } else {
        json_decref(out);
    }
    parts_free(parts, np);
    return ok;
}

void sf_refs_free(struct sf_ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(refs[i].name);
        free(refs[i].attr);
        free(refs[i].key);
    }
    free(refs);
}

bool sf_expr_has_template(const char *text)
{
    for (const char *s = text; s && *s; s++) {
        if (s[0] == '$' && s[1] == '$' && s[2] == '{')
            s += 2;
        else if (s[0] == '$' && s[1] == '{')
            return true;
    }
    return false;
}

/* ---- values ---- */

static char *number_text(double v)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return sf_xstrdup(buf);
}

char *sf_expr_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return sf_xstrdup("");
    if (sf_is_unknown(v))
        return NULL;
    switch (json_typeof(v)) {
    case JSON_STRING: return sf_xstrndup(json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return sf_asprintf("%lld", (long long)json_integer_value(v));
    case JSON_REAL: return number_text(json_real_value(v));
    case JSON_TRUE: return sf_xstrdup("true");
    case JSON_FALSE: return sf_xstrdup("false");
    default: return NULL;
    }
}

const char *sf_expr_describe(const json_t *v)
{
    if (!v || json_is_null(v))
        return "null";
    if (sf_is_unknown(v))
        return "an unknown value";
    switch (json_typeof(v)) {
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_ARRAY: return "a list";
    case JSON_OBJECT: return "a mapping";
    default: return "a value";
    }
}

struct evaluator {
    const char *text;
    const struct sf_pos *pos;
    const struct sf_scope *sc;
    struct sf_diags *d;
    const char *names[16]; /* the for expressions' variables in scope */
    const json_t *values[16];
    size_t n;
};

static void eerr(struct evaluator *E, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void eerr(struct evaluator *E, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    struct sf_pos p = pos_at(E->text, E->pos, at);
    sf_error(E->d, &p, "%s", msg);
    free(msg);
}

static json_t *eval(struct evaluator *E, const struct ast *a, bool *sens);

static json_t *apply_steps(struct evaluator *E, const struct ast *a, json_t *v, bool *sens)
{
    for (size_t i = 0; i < a->n_steps && !sf_is_unknown(v); i++) {
        const struct step *st = &a->steps[i];
        int plen = (int)(st->at - a->at);
        json_t *key = NULL;
        if (st->expr) {
            key = eval(E, st->expr, sens);
            if (!key) {
                json_decref(v);
                return NULL;
            }
            if (sf_is_unknown(key)) {
                json_decref(key);
                json_decref(v);
                return json_incref(sf_unknown());
            }
        } else if (st->key) {
            key = json_string(st->key);
        } else {
            key = json_integer(st->index);
        }
        json_t *next = NULL;
        if (json_is_array(v) && json_is_integer(key)) {
            json_int_t ix = json_integer_value(key);
            size_t size = json_array_size(v);
            if (ix < 0 || (size_t)ix >= size) {
                eerr(E, st->at, "index %lld is out of range for %.*s: it has %zu item%s",
                     (long long)ix, plen, a->at, size, size == 1 ? "" : "s");
            } else {
                next = json_incref(json_array_get(v, (size_t)ix));
            }
        } else if (json_is_object(v) && json_is_string(key)) {
            next = json_object_get(v, json_string_value(key));
            if (next)
                json_incref(next);
            else
                eerr(E, st->at, "%.*s has no key \"%s\"", plen, a->at, json_string_value(key));
        } else if (json_is_array(v) || json_is_object(v)) {
            eerr(E, st->at, "%.*s is %s; it cannot be indexed with %s", plen, a->at,
                 sf_expr_describe(v), sf_expr_describe(key));
        } else {
            eerr(E, st->at, "%.*s is %s, not a list or a mapping; it cannot be indexed", plen,
                 a->at, sf_expr_describe(v));
        }
        json_decref(key);
        json_decref(v);
        if (!next)
            return NULL;
        v = next;
    }
    return v;
}

static json_t *text_value(char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    if (!v)
        v = json_stringn_nocheck(s, len);
    free(s);
    return v;
}

struct call_errors {
    struct evaluator *E;
    const struct ast *call;
};

static void call_error(void *ctx, int argn, const char *msg)
{
    struct call_errors *ce = ctx;
    const char *at = argn >= 0 && (size_t)argn < ce->call->n_args ? ce->call->args[argn]->at : ce->call->at;
    eerr(ce->E, at, "%s", msg);
}

static json_t *eval_call(struct evaluator *E, const struct ast *a, bool *sens)
{
    if (sf_func_is_if(a->func)) {
        /* Only the branch taken is evaluated. */
        json_t *cond = eval(E, a->args[0], sens);
        if (!cond || sf_is_unknown(cond)) {
            if (cond)
                return cond;
            return NULL;
        }
        if (!json_is_boolean(cond)) {
            eerr(E, a->args[0]->at, "if() expects true or false as argument 1, got %s",
                 sf_expr_describe(cond));
            json_decref(cond);
            return NULL;
        }
        const struct ast *branch = json_is_true(cond) ? a->args[1] : a->args[2];
        json_decref(cond);
        return eval(E, branch, sens);
    }
    json_t **args = sf_xcalloc(a->n_args, sizeof(*args));
    json_t *r = NULL;
    bool ok = true;
    for (size_t i = 0; i < a->n_args; i++)
        if (!(args[i] = eval(E, a->args[i], sens)))
            ok = false;
    if (ok) {
        struct call_errors ce = {E, a};
        struct sf_fcall f = {.id = a->func,
                             .args = args,
                             .n = a->n_args,
                             .base_dir = E->sc ? E->sc->base_dir : NULL,
                             .error = call_error,
                             .ctx = &ce};
        r = sf_func_call(&f);
    }
    for (size_t i = 0; i < a->n_args; i++)
        json_decref(args[i]);
    free(args);
    return r;
}

/* A computed key's text; NULL after an error (*unknown when not known). */
static char *key_text(struct evaluator *E, const struct ast *at, json_t *k, bool *unknown)
{
    if (sf_is_unknown(k)) {
        *unknown = true;
        return NULL;
    }
    if (!json_is_string(k) && !json_is_number(k) && !json_is_boolean(k)) {
        eerr(E, at->at, "a mapping's key must be a string, got %s", sf_expr_describe(k));
        return NULL;
    }
    return sf_expr_text(k);
}

/* A [...] or {...} literal: unknown as a whole only where its items are
 * (the items keep the sentinel, as a resource's attributes do). */
static json_t *eval_collection(struct evaluator *E, const struct ast *a, bool *sens)
{
    json_t *out = a->kind == A_MAP ? json_object() : json_array();
    for (size_t i = 0; i < a->n_args; i++) {
        char *key = a->kind == A_MAP ? sf_xstrdup(a->keys[i]) : NULL;
        if (a->kexprs && a->kexprs[i]) {
            free(key);
            json_t *k = eval(E, a->kexprs[i], sens);
            bool unknown = false;
            key = k ? key_text(E, a->kexprs[i], k, &unknown) : NULL;
            json_decref(k);
            if (unknown) {
                json_decref(out);
                return json_incref(sf_unknown());
            }
            if (!key) {
                json_decref(out);
                return NULL;
            }
        }
        json_t *v = eval(E, a->args[i], sens);
        if (!v) {
            free(key);
            json_decref(out);
            return NULL;
        }
        if (a->kind == A_MAP)
            json_object_set_new(out, key, v);
        else
            json_array_append_new(out, v);
        free(key);
    }
    return out;
}

static int cmp_keys(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* One round of a for expression with its variables bound: adds to out. */
static int for_round(struct evaluator *E, const struct ast *a, json_t *k, json_t *v, json_t *out,
                     bool *sens, bool *unknown)
{
    size_t saved = E->n;
    if (a->keys[0]) {
        E->names[E->n] = a->keys[0];
        E->values[E->n++] = k;
    }
    E->names[E->n] = a->keys[1];
    E->values[E->n++] = v;
    int rc = -1;
    json_t *cond = a->args[3] ? eval(E, a->args[3], sens) : json_true();
    json_t *key = NULL, *val = NULL;
    if (!cond)
        goto out;
    if (sf_is_unknown(cond)) {
        *unknown = true;
        rc = 0;
        goto out;
    }
    if (!json_is_boolean(cond)) {
        eerr(E, a->args[3]->at, "the condition of a for expression must be true or false, got %s",
             sf_expr_describe(cond));
        goto out;
    }
    if (json_is_false(cond)) {
        rc = 0;
        goto out;
    }
    if (a->func && !(key = eval(E, a->args[2], sens)))
        goto out;
    if (!(val = eval(E, a->args[1], sens)))
        goto out;
    if (!a->func) {
        json_array_append(out, val);
        rc = 0;
        goto out;
    }
    char *kt = key_text(E, a->args[2], key, unknown);
    if (kt && json_object_get(out, kt))
        eerr(E, a->args[2]->at, "the for expression makes the key \"%s\" twice", kt);
    else if (kt)
        json_object_set(out, kt, val);
    rc = kt || *unknown ? 0 : -1;
    if (kt && json_object_get(out, kt) != val)
        rc = -1;
    free(kt);
out:
    json_decref(cond);
    json_decref(key);
    json_decref(val);
    E->n = saved;
    return rc;
}

static json_t *eval_for(struct evaluator *E, const struct ast *a, bool *sens)
{
    json_t *coll = eval(E, a->args[0], sens);
    if (!coll || sf_is_unknown(coll))
        return coll;
    if (E->n + 2 > sizeof(E->names) / sizeof(E->names[0])) {
        eerr(E, a->at, "for expressions are nested too deeply");
        json_decref(coll);
        return NULL;
    }
    json_t *out = a->func ? json_object() : json_array();
    bool unknown = false;
    int rc = 0;
    if (json_is_array(coll)) {
        for (size_t i = 0; i < json_array_size(coll) && rc == 0; i++) {
            json_t *ix = json_integer((json_int_t)i);
            rc = for_round(E, a, ix, json_array_get(coll, i), out, sens, &unknown);
            json_decref(ix);
        }
    } else if (json_is_object(coll)) {
        size_t n = json_object_size(coll), i = 0;
        const char **names = sf_xcalloc(n + 1, sizeof(char *));
        const char *k;
        json_t *v;
        json_object_foreach(coll, k, v) names[i++] = k;
        qsort(names, n, sizeof(char *), cmp_keys);
        for (i = 0; i < n && rc == 0; i++) {
            json_t *key = json_string(names[i]);
            rc = for_round(E, a, key, json_object_get(coll, names[i]), out, sens, &unknown);
            json_decref(key);
        }
        free(names);
    } else if (!json_is_null(coll)) {
        eerr(E, a->args[0]->at, "a for expression goes over a list or a mapping, got %s",
             sf_expr_describe(coll));
        rc = -1;
    }
    json_decref(coll);
    if (rc < 0) {
        json_decref(out);
        return NULL;
    }
    if (unknown) {
        json_decref(out);
        return json_incref(sf_unknown());
    }
    return out;
}

static json_t *eval(struct evaluator *E, const struct ast *a, bool *sens)
{
    switch (a->kind) {
    case A_LIT: return json_incref(a->lit);
    case A_REF: {
        if (!E->sc || !E->sc->lookup) {
            eerr(E, a->at, "references cannot be used here");
            return NULL;
        }
        bool s = false;
        json_t *v = E->sc->lookup(E->sc->ctx, &a->ref, &s, E->d);
        if (!v)
            return NULL;
        if (s)
            *sens = true;
        return apply_steps(E, a, v, sens);
    }
    case A_CALL: return eval_call(E, a, sens);
    case A_LIST:
    case A_MAP: return eval_collection(E, a, sens);
    case A_FOR: return eval_for(E, a, sens);
    case A_LOCAL:
        for (size_t i = E->n; i-- > 0;)
            if (!strcmp(E->names[i], a->ref.name))
                return apply_steps(E, a, sf_value_copy(E->values[i]), sens);
        eerr(E, a->at, "%s is not known here", a->ref.name);
        return NULL;
    }
    return NULL;
}

json_t *sf_expr_eval(const char *text, const struct sf_pos *pos, const struct sf_scope *sc,
                     bool *sensitive, struct sf_diags *d)
{
    bool dummy = false;
    if (!sensitive)
        sensitive = &dummy;
    struct part *parts;
    size_t np;
    if (parse_template(text, pos, d, &parts, &np) < 0)
        return NULL;
    struct evaluator E = {.text = text, .pos = pos, .sc = sc, .d = d};

    if (np == 1 && parts[0].e) {
        json_t *v = eval(&E, parts[0].e, sensitive);
        parts_free(parts, np);
        return v;
    }
    struct sf_buf b = {0};
    bool unknown = false, failed = false;
    for (size_t i = 0; i < np; i++) {
        if (parts[i].lit) {
            sf_buf_puts(&b, parts[i].lit);
            continue;
        }
        json_t *v = eval(&E, parts[i].e, sensitive);
        if (!v) {
            failed = true;
            continue;
        }
        if (sf_value_has_unknown(v)) {
            unknown = true;
        } else if (json_is_array(v) || json_is_object(v)) {
            eerr(&E, parts[i].at,
                 "%s cannot be put into a string; use join() or format(\"%%v\", ...)",
                 json_is_array(v) ? "a list" : "a mapping");
            failed = true;
        } else {
            char *t = sf_expr_text(v);
            sf_buf_puts(&b, t);
            free(t);
        }
        json_decref(v);
    }
    parts_free(parts, np);
    if (failed) {
        sf_buf_free(&b);
        return NULL;
    }
    if (unknown) {
        sf_buf_free(&b);
        return json_incref(sf_unknown());
    }
    size_t len = b.len;
    return text_value(sf_buf_take(&b), len);
}

/*
 * The function library of the ${...} language (funcs.h). Modules do their
 * arithmetic of choices here: comparisons and logic for `when:` and input
 * rules, lookups with defaults for optional parts of an input, merges and
 * concatenations to build Kubernetes objects from a service description.
 * Every function treats a value not known until apply (sf_unknown) as
 * making its result unknown, except default() and coalesce(), which
 * decide as soon as they can.
 */
#include "base64.h"
#include "funcs.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "sigv4.h"
#include "util.h"
#include "value.h"
#include "yamlout.h"

enum func_id {
    F_BASE64, F_SHA256, F_JOIN, F_FILE, F_DEFAULT, F_FORMAT, F_IF, F_EQ, F_NE, F_LT, F_LE, F_GT,
    F_GE, F_AND, F_OR, F_NOT, F_CONTAINS, F_LENGTH, F_LOOKUP, F_KEYS, F_VALUES, F_MERGE, F_CONCAT,
    F_COALESCE, F_LOWER, F_UPPER, F_REPLACE, F_SPLIT, F_TOSTRING, F_TONUMBER, F_MATCHES, F_FLATTEN,
    F_DISTINCT, F_OMIT, F_YAMLENCODE, F_JSONENCODE, F_MAX, F_MIN, F_DAYS, F_BASENAME, N_FUNCS
};

static const struct func {
    const char *name;
    int min, max; /* max -1: any number */
} funcs[N_FUNCS] = {
    [F_BASE64] = {"base64", 1, 1},     [F_SHA256] = {"sha256", 1, 1},
    [F_JOIN] = {"join", 2, 2},         [F_FILE] = {"file", 1, 1},
    [F_DEFAULT] = {"default", 2, 2},   [F_FORMAT] = {"format", 1, -1},
    [F_IF] = {"if", 3, 3},             [F_EQ] = {"eq", 2, 2},
    [F_NE] = {"ne", 2, 2},             [F_LT] = {"lt", 2, 2},
    [F_LE] = {"le", 2, 2},             [F_GT] = {"gt", 2, 2},
    [F_GE] = {"ge", 2, 2},             [F_AND] = {"and", 1, -1},
    [F_OR] = {"or", 1, -1},            [F_NOT] = {"not", 1, 1},
    [F_CONTAINS] = {"contains", 2, 2}, [F_LENGTH] = {"length", 1, 1},
    [F_LOOKUP] = {"lookup", 2, 3},     [F_KEYS] = {"keys", 1, 1},
    [F_VALUES] = {"values", 1, 1},     [F_MERGE] = {"merge", 1, -1},
    [F_CONCAT] = {"concat", 1, -1},    [F_COALESCE] = {"coalesce", 1, -1},
    [F_LOWER] = {"lower", 1, 1},       [F_UPPER] = {"upper", 1, 1},
    [F_REPLACE] = {"replace", 3, 3},   [F_SPLIT] = {"split", 2, 2},
    [F_TOSTRING] = {"tostring", 1, 1}, [F_TONUMBER] = {"tonumber", 1, 1},
    [F_MATCHES] = {"matches", 2, 2},   [F_FLATTEN] = {"flatten", 1, 1},
    [F_DISTINCT] = {"distinct", 1, 1}, [F_OMIT] = {"omit", 2, -1},
    [F_YAMLENCODE] = {"yamlencode", 1, 1}, [F_JSONENCODE] = {"jsonencode", 1, 1},
    [F_MAX] = {"max", 1, -1},          [F_MIN] = {"min", 1, -1},
    [F_DAYS] = {"days", 1, 1},         [F_BASENAME] = {"basename", 1, 1},
};

int sf_func_find(const char *name, int *min, int *max)
{
    for (int f = 0; f < N_FUNCS; f++)
        if (strcmp(funcs[f].name, name) == 0) {
            *min = funcs[f].min;
            *max = funcs[f].max;
            return f;
        }
    return -1;
}

const char *sf_func_name(int id)
{
    return id >= 0 && id < N_FUNCS ? funcs[id].name : "?";
}

const char *const *sf_func_names(void)
{
    static const char *names[N_FUNCS + 1];
    if (!names[0])
        for (int f = 0; f < N_FUNCS; f++)
            names[f] = funcs[f].name;
    return names;
}

int sf_func_is_if(int id)
{
    return id == F_IF;
}

static json_t *fail(const struct sf_fcall *f, int argn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *fail(const struct sf_fcall *f, int argn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    f->error(f->ctx, argn, msg);
    free(msg);
    return NULL;
}

static json_t *unknown(void)
{
    return json_incref(sf_unknown());
}

static json_t *text_value(char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    if (!v)
        v = json_stringn_nocheck(s, len);
    free(s);
    return v;
}

/* Text of an argument that must be a scalar; NULL after an error. */
static char *arg_text(const struct sf_fcall *f, int argn)
{
    const json_t *v = f->args[argn];
    if (json_is_null(v) || json_is_array(v) || json_is_object(v)) {
        fail(f, argn, "%s() expects a string as argument %d, got %s", funcs[f->id].name, argn + 1,
             sf_expr_describe(v));
        return NULL;
    }
    return sf_expr_text(v);
}

static bool want(const struct sf_fcall *f, int argn, bool ok, const char *what)
{
    if (!ok)
        fail(f, argn, "%s() expects %s as argument %d, got %s", funcs[f->id].name, what, argn + 1,
             sf_expr_describe(f->args[argn]));
    return ok;
}

/* Numbers compare by value whatever their JSON spelling (1 and 1.0). */
static bool same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b);
}

static json_t *fn_format(const struct sf_fcall *f)
{
    const json_t *fmt = f->args[0];
    if (!want(f, 0, json_is_string(fmt), "a format string"))
        return NULL;
    const char *s = json_string_value(fmt);
    size_t verbs = 0;
    for (const char *p = s; *p; p++) {
        if (*p != '%')
            continue;
        if (p[1] == '%') {
            p++;
            continue;
        }
        if (p[1] != 's' && p[1] != 'd' && p[1] != 'v') {
            if (p[1])
                return fail(f, 0, "format(): unknown verb \"%%%c\"; use %%s, %%d, %%v or %%%%", p[1]);
            return fail(f, 0, "format(): the format ends with a lone \"%%\"; write %%%% for a percent sign");
        }
        verbs++;
        p++;
    }
    size_t given = f->n - 1;
    if (verbs != given)
        return fail(f, -1, "format(): the format has %zu verb%s but %zu argument%s given", verbs,
                    verbs == 1 ? "" : "s", given, given == 1 ? " was" : "s were");
    for (size_t i = 1; i < f->n; i++)
        if (sf_value_has_unknown(f->args[i]))
            return unknown();
    struct sf_buf b = {0};
    size_t argi = 1;
    for (const char *p = s; *p; p++) {
        if (*p != '%') {
            sf_buf_add(&b, p, 1);
            continue;
        }
        p++;
        if (*p == '%') {
            sf_buf_add(&b, "%", 1);
            continue;
        }
        const json_t *v = f->args[argi];
        int at = (int)argi++;
        char *t = NULL;
        if (*p == 'd') {
            if (!json_is_integer(v) &&
                !(json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))) {
                sf_buf_free(&b);
                return fail(f, at, "format(): %%d needs a whole number, argument %zu is %s", argi,
                            sf_expr_describe(v));
            }
            t = sf_asprintf("%lld", (long long)json_number_value(v));
        } else if (*p == 's') {
            if (json_is_array(v) || json_is_object(v)) {
                sf_buf_free(&b);
                return fail(f, at, "format(): %%s needs a string, argument %zu is %s; use %%v",
                            argi, sf_expr_describe(v));
            }
            t = sf_expr_text(v);
        } else {
            t = (json_is_array(v) || json_is_object(v))
                    ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS)
                    : sf_expr_text(v);
        }
        sf_buf_puts(&b, t);
        free(t);
    }
    size_t len = b.len;
    return text_value(sf_buf_take(&b), len);
}

static json_t *fn_join(const struct sf_fcall *f)
{
    char *sep = arg_text(f, 0);
    if (!sep)
        return NULL;
    if (!want(f, 1, json_is_array(f->args[1]), "a list")) {
        free(sep);
        return NULL;
    }
    struct sf_buf b = {0};
    size_t i;
    json_t *e;
    json_array_foreach(f->args[1], i, e)
    {
        if (json_is_null(e) || json_is_array(e) || json_is_object(e)) {
            free(sep);
            sf_buf_free(&b);
            return fail(f, 1, "join(): item %zu of the list is %s; expected strings", i + 1,
                        sf_expr_describe(e));
        }
        char *t = sf_expr_text(e);
        if (i)
            sf_buf_puts(&b, sep);
        sf_buf_puts(&b, t);
        free(t);
    }
    free(sep);
    size_t len = b.len;
    return text_value(sf_buf_take(&b), len);
}

static json_t *fn_text1(const struct sf_fcall *f)
{
    char *s = arg_text(f, 0);
    if (!s)
        return NULL;
    size_t len = json_is_string(f->args[0]) ? json_string_length(f->args[0]) : strlen(s);
    if (f->id == F_BASE64) {
        char *out = sf_base64_encode(s, len);
        free(s);
        return text_value(out, strlen(out));
    }
    if (f->id == F_SHA256) {
        char hex[65];
        sf_sigv4_sha256_hex(s, len, hex);
        free(s);
        return json_string(hex);
    }
    if (f->id == F_LOWER || f->id == F_UPPER) {
        for (char *p = s; *p; p++)
            if (*p >= 'a' && *p <= 'z' && f->id == F_UPPER)
                *p = (char)(*p - 'a' + 'A');
            else if (*p >= 'A' && *p <= 'Z' && f->id == F_LOWER)
                *p = (char)(*p - 'A' + 'a');
        return text_value(s, len);
    }
    if (f->id == F_TOSTRING)
        return text_value(s, len);
    if (f->id == F_BASENAME) {
        /* The last part of a path: "jobs/etl.py" -> "etl.py". */
        while (len > 1 && s[len - 1] == '/')
            s[--len] = '\0';
        const char *slash = strrchr(s, '/');
        json_t *v = json_string(slash && slash[1] ? slash + 1 : s);
        free(s);
        return v;
    }
    if (f->id == F_TONUMBER) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        bool ok = *s && !*end && errno == 0 && isfinite(d);
        json_t *v = !ok ? NULL : d == floor(d) && fabs(d) < 9e15 ? json_integer((json_int_t)d) : json_real(d);
        if (!v)
            fail(f, 0, "tonumber(): \"%s\" is not a number", s);
        free(s);
        return v;
    }
    /* file() */
    char *path = (s[0] == '/' || !f->base_dir) ? sf_xstrdup(s) : sf_asprintf("%s/%s", f->base_dir, s);
    free(s);
    size_t flen = 0;
    char *data = sf_read_file(path, &flen);
    if (!data) {
        fail(f, -1, "file(): cannot read \"%s\": %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    json_t *v = json_stringn(data, flen);
    free(data);
    if (!v)
        fail(f, -1, "file(): \"%s\" is not UTF-8 text", path);
    free(path);
    return v;
}

static json_t *fn_compare(const struct sf_fcall *f)
{
    const json_t *a = f->args[0], *b = f->args[1];
    if (f->id == F_EQ || f->id == F_NE)
        return json_boolean(same(a, b) == (f->id == F_EQ));
    int c;
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        c = x < y ? -1 : x > y ? 1 : 0;
    } else if (json_is_string(a) && json_is_string(b)) {
        c = strcmp(json_string_value(a), json_string_value(b));
    } else {
        return fail(f, -1, "%s() compares two numbers or two strings, got %s and %s",
                    funcs[f->id].name, sf_expr_describe(a), sf_expr_describe(b));
    }
    switch (f->id) {
    case F_LT: return json_boolean(c < 0);
    case F_LE: return json_boolean(c <= 0);
    case F_GT: return json_boolean(c > 0);
    default: return json_boolean(c >= 0);
    }
}

static json_t *fn_logic(const struct sf_fcall *f)
{
    bool acc = f->id == F_AND;
    for (size_t i = 0; i < f->n; i++) {
        if (!want(f, (int)i, json_is_boolean(f->args[i]), "true or false"))
            return NULL;
        bool v = json_is_true(f->args[i]);
        if (f->id == F_NOT)
            return json_boolean(!v);
        acc = f->id == F_AND ? acc && v : acc || v;
    }
    return json_boolean(acc);
}

static json_t *fn_contains(const struct sf_fcall *f)
{
    const json_t *c = f->args[0], *x = f->args[1];
    if (json_is_array(c)) {
        size_t i;
        json_t *e;
        json_array_foreach(c, i, e) if (same(e, x)) return json_true();
        return json_false();
    }
    if (json_is_object(c) || json_is_string(c)) {
        if (!want(f, 1, json_is_string(x), "a string"))
            return NULL;
        if (json_is_object(c))
            return json_boolean(json_object_get(c, json_string_value(x)) != NULL);
        return json_boolean(strstr(json_string_value(c), json_string_value(x)) != NULL);
    }
    if (json_is_null(c))
        return json_false();
    want(f, 0, false, "a list, a mapping or a string");
    return NULL;
}

static json_t *fn_length(const struct sf_fcall *f)
{
    const json_t *v = f->args[0];
    if (json_is_array(v))
        return json_integer((json_int_t)json_array_size(v));
    if (json_is_object(v))
        return json_integer((json_int_t)json_object_size(v));
    if (json_is_null(v))
        return json_integer(0);
    if (json_is_string(v)) {
        json_int_t n = 0;
        for (const char *p = json_string_value(v); *p; p++)
            n += ((unsigned char)*p & 0xC0) != 0x80;
        return json_integer(n);
    }
    want(f, 0, false, "a list, a mapping or a string");
    return NULL;
}

static json_t *fn_lookup(const struct sf_fcall *f)
{
    const json_t *m = f->args[0];
    if (!want(f, 1, json_is_string(f->args[1]), "a key (a string)"))
        return NULL;
    if (!json_is_null(m) && !want(f, 0, json_is_object(m), "a mapping"))
        return NULL;
    json_t *v = json_is_object(m) ? json_object_get(m, json_string_value(f->args[1])) : NULL;
    if (v && !json_is_null(v))
        return json_incref(v);
    if (f->n == 3)
        return json_incref(f->args[2]);
    if (v)
        return json_null();
    return fail(f, 1, "lookup(): the mapping has no key \"%s\" and no default was given",
                json_string_value(f->args[1]));
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static json_t *fn_keys_values(const struct sf_fcall *f)
{
    const json_t *m = f->args[0];
    if (json_is_null(m))
        return json_array();
    if (!want(f, 0, json_is_object(m), "a mapping"))
        return NULL;
    /* In key order, so that the result is the same whatever order the
     * mapping was written in. */
    json_t *names = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) json_array_append_new(names, json_string(k));
    size_t n = json_array_size(names);
    const char **sorted = sf_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_string_value(json_array_get(names, i));
    qsort(sorted, n, sizeof(char *), cmp_names);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, f->id == F_KEYS ? json_string(sorted[i])
                                                   : sf_value_copy(json_object_get(m, sorted[i])));
    free(sorted);
    json_decref(names);
    return out;
}

static json_t *fn_merge_concat(const struct sf_fcall *f)
{
    bool merge = f->id == F_MERGE;
    json_t *out = merge ? json_object() : json_array();
    for (size_t i = 0; i < f->n; i++) {
        const json_t *v = f->args[i];
        if (json_is_null(v))
            continue;
        if (!want(f, (int)i, merge ? json_is_object(v) : json_is_array(v), merge ? "a mapping" : "a list")) {
            json_decref(out);
            return NULL;
        }
        json_t *cp = sf_value_copy(v);
        if (merge)
            json_object_update(out, cp);
        else
            json_array_extend(out, cp);
        json_decref(cp);
    }
    return out;
}

static json_t *fn_replace_split(const struct sf_fcall *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (!want(f, (int)i, json_is_string(f->args[i]), "a string"))
            return NULL;
    const char *s = json_string_value(f->args[0]);
    const char *a = json_string_value(f->args[1]);
    size_t alen = strlen(a);
    if (f->id == F_SPLIT) {
        /* split(SEPARATOR, TEXT) */
        const char *sep = s, *text = a;
        size_t slen = strlen(sep);
        json_t *out = json_array();
        if (!*text)
            return out;
        if (!slen)
            return fail(f, 0, "split(): the separator is empty");
        const char *p = text, *q;
        while ((q = strstr(p, sep))) {
            json_array_append_new(out, json_stringn(p, (size_t)(q - p)));
            p = q + slen;
        }
        json_array_append_new(out, json_string(p));
        return out;
    }
    if (!alen)
        return fail(f, 1, "replace(): the text to replace is empty");
    const char *with = json_string_value(f->args[2]);
    struct sf_buf b = {0};
    const char *p = s, *q;
    while ((q = strstr(p, a))) {
        sf_buf_add(&b, p, (size_t)(q - p));
        sf_buf_puts(&b, with);
        p = q + alen;
    }
    sf_buf_puts(&b, p);
    size_t len = b.len;
    return text_value(sf_buf_take(&b), len);
}

static json_t *fn_matches(const struct sf_fcall *f)
{
    if (!want(f, 0, json_is_string(f->args[0]), "a string") ||
        !want(f, 1, json_is_string(f->args[1]), "a regular expression"))
        return NULL;
    regex_t re;
    int rc = regcomp(&re, json_string_value(f->args[1]), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof(msg));
        return fail(f, 1, "matches(): the regular expression is not valid: %s", msg);
    }
    bool m = regexec(&re, json_string_value(f->args[0]), 0, NULL, 0) == 0;
    regfree(&re);
    return json_boolean(m);
}

static void flatten_into(json_t *out, const json_t *list)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (json_is_array(e))
            flatten_into(out, e);
        else
            json_array_append_new(out, sf_value_copy(e));
    }
}

static json_t *fn_lists(const struct sf_fcall *f)
{
    const json_t *l = f->args[0];
    if (json_is_null(l))
        return json_array();
    if (!want(f, 0, json_is_array(l), "a list"))
        return NULL;
    json_t *out = json_array();
    if (f->id == F_FLATTEN) {
        flatten_into(out, l);
        return out;
    }
    size_t i, k;
    json_t *e;
    json_array_foreach(l, i, e)
    {
        bool seen = false;
        for (k = 0; k < json_array_size(out) && !seen; k++)
            seen = same(json_array_get(out, k), e);
        if (!seen)
            json_array_append_new(out, sf_value_copy(e));
    }
    return out;
}

static json_t *fn_omit(const struct sf_fcall *f)
{
    if (json_is_null(f->args[0]))
        return json_object();
    if (!want(f, 0, json_is_object(f->args[0]), "a mapping"))
        return NULL;
    json_t *out = sf_value_copy(f->args[0]);
    for (size_t i = 1; i < f->n; i++) {
        if (!want(f, (int)i, json_is_string(f->args[i]), "a key (a string)")) {
            json_decref(out);
            return NULL;
        }
        json_object_del(out, json_string_value(f->args[i]));
    }
    return out;
}

/* max / min of numbers (given one by one, or as one list). */
static json_t *fn_extreme(const struct sf_fcall *f)
{
    json_t *const *v = f->args;
    size_t n = f->n;
    if (n == 1 && json_is_array(f->args[0])) {
        n = json_array_size(f->args[0]);
        if (!n)
            return fail(f, 0, "%s() of an empty list", funcs[f->id].name);
    }
    json_t *best = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *x = f->n == 1 && json_is_array(f->args[0]) ? json_array_get(f->args[0], i) : v[i];
        if (!json_is_number(x))
            return fail(f, f->n == 1 ? 0 : (int)i, "%s() takes numbers, got %s", funcs[f->id].name,
                        sf_expr_describe(x));
        if (!best || (f->id == F_MAX ? json_number_value(x) > json_number_value(best)
                                     : json_number_value(x) < json_number_value(best)))
            best = x;
    }
    return json_incref(best);
}

/* days("30d") = 30; a duration that is not whole days rounds up. */
static json_t *fn_days(const struct sf_fcall *f)
{
    const json_t *v = f->args[0];
    if (json_is_integer(v))
        return json_incref((json_t *)v);
    long ms = json_is_string(v) ? sf_parse_duration_ms(json_string_value(v)) : -1;
    if (ms <= 0)
        return fail(f, 0, "days() takes a duration like 30d or 72h, got %s",
                    json_is_string(v) ? json_string_value(v) : sf_expr_describe(v));
    long day = 24L * 3600 * 1000;
    return json_integer((ms + day - 1) / day);
}

json_t *sf_func_call(const struct sf_fcall *f)
{
    switch (f->id) {
    case F_DEFAULT:
        if (sf_is_unknown(f->args[0]))
            return unknown();
        return json_incref(json_is_null(f->args[0]) ? f->args[1] : f->args[0]);
    case F_COALESCE:
        for (size_t i = 0; i < f->n; i++) {
            const json_t *v = f->args[i];
            if (sf_is_unknown(v))
                return unknown();
            if (!json_is_null(v) && !(json_is_string(v) && !json_string_length(v)))
                return json_incref((json_t *)v);
        }
        return json_null();
    default: break;
    }
    for (size_t i = 0; i < f->n; i++)
        if (sf_value_has_unknown(f->args[i]))
            return unknown();
    switch (f->id) {
    case F_FORMAT: return fn_format(f);
    case F_JOIN: return fn_join(f);
    case F_BASE64:
    case F_SHA256:
    case F_FILE:
    case F_LOWER:
    case F_UPPER:
    case F_TOSTRING:
    case F_BASENAME:
    case F_TONUMBER: return fn_text1(f);
    case F_EQ:
    case F_NE:
    case F_LT:
    case F_LE:
    case F_GT:
    case F_GE: return fn_compare(f);
    case F_AND:
    case F_OR:
    case F_NOT: return fn_logic(f);
    case F_CONTAINS: return fn_contains(f);
    case F_LENGTH: return fn_length(f);
    case F_LOOKUP: return fn_lookup(f);
    case F_KEYS:
    case F_VALUES: return fn_keys_values(f);
    case F_MERGE:
    case F_CONCAT: return fn_merge_concat(f);
    case F_REPLACE:
    case F_SPLIT: return fn_replace_split(f);
    case F_MATCHES: return fn_matches(f);
    case F_FLATTEN:
    case F_DISTINCT: return fn_lists(f);
    case F_OMIT: return fn_omit(f);
    case F_MAX:
    case F_MIN: return fn_extreme(f);
    case F_DAYS: return fn_days(f);
    case F_YAMLENCODE: {
        char *y = sf_yaml_dump(f->args[0]);
        return y ? text_value(y, strlen(y)) : fail(f, 0, "yamlencode(): the value cannot be written as YAML");
    }
    case F_JSONENCODE: {
        char *j = json_dumps(f->args[0], JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        return text_value(j, strlen(j));
    }
    default: return fail(f, -1, "%s() cannot be evaluated here", funcs[f->id].name);
    }
}

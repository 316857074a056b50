/*
 * What a bucket's configurations look like when they are compared: the
 * bucket name's rules, bucket policies by meaning and in one canonical
 * spelling, lifecycle and CORS rules and tags in the shape s3_bucket's
 * read reports. Pure functions, without the network: the plan step uses
 * them on the description, read on what the store answers, and
 * tests/unit/test_s3.c checks them directly.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

/* A policy's scalar as the text IAM compares ("true" for true, "5" for 5). */
static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return sf_xstrdup(json_string_value(v));
    if (json_is_true(v))
        return sf_xstrdup("true");
    if (json_is_false(v))
        return sf_xstrdup("false");
    if (json_is_integer(v))
        return sf_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    if (json_is_real(v))
        return sf_asprintf("%.17g", json_real_value(v));
    return sf_xstrdup("null");
}

static bool policy_same(const json_t *a, const json_t *b);

/* a's members (a scalar is a set of one) are all in b. */
static bool subset(const json_t *a, const json_t *b)
{
    size_t na = json_is_array(a) ? json_array_size(a) : 1;
    size_t nb = json_is_array(b) ? json_array_size(b) : 1;
    for (size_t i = 0; i < na; i++) {
        const json_t *x = json_is_array(a) ? json_array_get(a, i) : a;
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = policy_same(x, json_is_array(b) ? json_array_get(b, j) : b);
        if (!found)
            return false;
    }
    return true;
}

static bool policy_same(const json_t *a, const json_t *b)
{
    if (json_is_array(a) || json_is_array(b))
        return subset(a, b) && subset(b, a);
    if (json_is_object(a) || json_is_object(b)) {
        if (!json_is_object(a) || !json_is_object(b) || json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            json_t *w = json_object_get(b, k);
            if (!w || !policy_same(v, w))
                return false;
        }
        return true;
    }
    char *x = scalar_text(a), *y = scalar_text(b);
    bool eq = strcmp(x, y) == 0;
    free(x);
    free(y);
    return eq;
}

bool sf_s3_policy_equal(const char *a, const char *b)
{
    json_t *x = a ? json_loads(a, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *y = b ? json_loads(b, JSON_REJECT_DUPLICATES, NULL) : NULL;
    bool eq = x && y && policy_same(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

/* The policy in one spelling (members sorted, no spaces), or NULL when it
 * is not a JSON object. Caller frees. */
char *sf_s3_policy_canonical(const char *text)
{
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    char *out = json_is_object(v) ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(v);
    return out;
}

static bool only_keys(const json_t *o, const char *const *allowed, const char **bad)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok) {
            *bad = k;
            return false;
        }
    }
    return true;
}

static bool positive_int(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 1000000;
}

json_t *sf_s3_lifecycle_normalize(const json_t *rules, char **why)
{
    static const char *const allowed[] = {
        "id", "prefix", "expiration_days", "noncurrent_expiration_days", "enabled", NULL};
    *why = NULL;
    if (!json_is_array(rules)) {
        *why = sf_xstrdup("lifecycle: expected a list of rules");
        return NULL;
    }
    json_t *out = json_array(), *ids = json_object();
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        const char *bad = NULL;
        const json_t *id = json_object_get(r, "id"), *prefix = json_object_get(r, "prefix");
        const json_t *exp = json_object_get(r, "expiration_days");
        const json_t *nexp = json_object_get(r, "noncurrent_expiration_days");
        const json_t *en = json_object_get(r, "enabled");
        if (!json_is_object(r))
            *why = sf_asprintf("lifecycle[%zu]: expected a mapping {id, prefix, expiration_days, "
                               "noncurrent_expiration_days, enabled}",
                               i);
        else if (!only_keys(r, allowed, &bad))
            *why = sf_asprintf("lifecycle[%zu]: unknown key \"%s\" (allowed: id, prefix, "
                               "expiration_days, noncurrent_expiration_days, enabled)",
                               i, bad);
        else if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > 255)
            *why = sf_asprintf("lifecycle[%zu]: id: expected a name of 1 to 255 characters", i);
        else if (json_object_get(ids, json_string_value(id)))
            *why = sf_asprintf("lifecycle[%zu]: id \"%s\" is used by two rules", i,
                               json_string_value(id));
        else if (prefix && !json_is_null(prefix) && !json_is_string(prefix))
            *why = sf_asprintf("lifecycle[%zu]: prefix: expected a string", i);
        else if (exp && !json_is_null(exp) && !positive_int(exp))
            *why = sf_asprintf("lifecycle[%zu]: expiration_days: expected a whole number of days "
                               "above 0",
                               i);
        else if (nexp && !json_is_null(nexp) && !positive_int(nexp))
            *why = sf_asprintf("lifecycle[%zu]: noncurrent_expiration_days: expected a whole "
                               "number of days above 0",
                               i);
        else if (!positive_int(exp) && !positive_int(nexp))
            *why = sf_asprintf("lifecycle[%zu]: a rule sets expiration_days, "
                               "noncurrent_expiration_days or both",
                               i);
        else if (en && !json_is_null(en) && !json_is_boolean(en))
            *why = sf_asprintf("lifecycle[%zu]: enabled: expected true or false", i);
        if (*why) {
            json_decref(out);
            json_decref(ids);
            return NULL;
        }
        json_object_set_new(ids, json_string_value(id), json_true());
        json_t *o = json_pack("{s:O, s:s, s:b}", "id", id, "prefix",
                              json_is_string(prefix) ? json_string_value(prefix) : "", "enabled",
                              !json_is_false(en));
        if (positive_int(exp))
            json_object_set(o, "expiration_days", (json_t *)exp);
        if (positive_int(nexp))
            json_object_set(o, "noncurrent_expiration_days", (json_t *)nexp);
        json_array_append_new(out, o);
    }
    json_decref(ids);
    return out;
}

/* A list of strings (a single string is a list of one), upper-cased when
 * upper; NULL when v is neither. */
static json_t *string_list(const json_t *v, bool upper)
{
    if (!v || json_is_null(v))
        return json_array();
    json_t *out = json_array();
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(e)) {
            json_decref(out);
            return NULL;
        }
        char *s = sf_xstrdup(json_string_value(e));
        for (char *p = s; upper && *p; p++)
            *p = (char)toupper((unsigned char)*p);
        json_array_append_new(out, json_string(s));
        free(s);
    }
    return out;
}

json_t *sf_s3_cors_normalize(const json_t *rules, char **why)
{
    static const char *const allowed[] = {"allowed_origins", "allowed_methods", "allowed_headers",
                                          "expose_headers",  "max_age_seconds", NULL};
    static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "HEAD", NULL};
    static const char *const lists[] = {"allowed_origins", "allowed_methods", "allowed_headers",
                                        "expose_headers"};
    *why = NULL;
    if (!json_is_array(rules)) {
        *why = sf_xstrdup("cors: expected a list of rules");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        const char *bad = NULL;
        if (!json_is_object(r)) {
            *why = sf_asprintf("cors[%zu]: expected a mapping {allowed_origins, allowed_methods, "
                               "allowed_headers, expose_headers, max_age_seconds}",
                               i);
            break;
        }
        if (!only_keys(r, allowed, &bad)) {
            *why = sf_asprintf("cors[%zu]: unknown key \"%s\" (allowed: allowed_origins, "
                               "allowed_methods, allowed_headers, expose_headers, "
                               "max_age_seconds)",
                               i, bad);
            break;
        }
        json_t *o = json_object();
        for (size_t l = 0; l < 4 && !*why; l++) {
            json_t *v = string_list(json_object_get(r, lists[l]), l == 1);
            if (!v)
                *why = sf_asprintf("cors[%zu]: %s: expected a list of strings", i, lists[l]);
            else if (l < 2 && json_array_size(v) == 0)
                *why = sf_asprintf("cors[%zu]: %s: at least one is needed", i, lists[l]);
            json_object_set_new(o, lists[l], v ? v : json_null());
        }
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(o, "allowed_methods"), j, m)
        {
            bool ok = false;
            for (size_t k = 0; methods[k] && !ok; k++)
                ok = strcmp(json_string_value(m), methods[k]) == 0;
            if (!ok && !*why)
                *why = sf_asprintf("cors[%zu]: allowed_methods: \"%s\" is not one of GET, PUT, "
                                   "POST, DELETE, HEAD",
                                   i, json_string_value(m));
        }
        const json_t *age = json_object_get(r, "max_age_seconds");
        if (!*why && age && !json_is_null(age)) {
            if (!json_is_integer(age) || json_integer_value(age) < 0 ||
                json_integer_value(age) > 999999999)
                *why = sf_asprintf("cors[%zu]: max_age_seconds: expected a whole number of "
                                   "seconds",
                                   i);
            else
                json_object_set(o, "max_age_seconds", (json_t *)age);
        }
        json_array_append_new(out, o);
        if (*why)
            break;
    }
    if (*why) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The user's tags with string values; NULL with *why when malformed. */
json_t *sf_s3_tags_normalize(const json_t *tags, char **why)
{
    *why = NULL;
    if (!json_is_object(tags)) {
        *why = sf_xstrdup("tags: expected a mapping of names to values");
        return NULL;
    }
    /* S3 allows 50 tags; two carry the stack's lineage and address. */
    if (json_object_size(tags) > 48) {
        *why = sf_asprintf("tags: %zu tags; a bucket takes at most 48 besides sparkform's own two",
                           json_object_size(tags));
        return NULL;
    }
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tags, k, v)
    {
        char *s =
            json_is_string(v) || json_is_number(v) || json_is_boolean(v) ? scalar_text(v) : NULL;
        if (!s)
            *why = sf_asprintf("tags.%s: expected a string", k);
        else if (strlen(k) == 0 || strlen(k) > 128)
            *why = sf_asprintf("tags: the name \"%s\" is not 1 to 128 characters long", k);
        else if (strncmp(k, "aws:", 4) == 0 || strncmp(k, "sparkform_", 10) == 0)
            *why = sf_asprintf("tags: the name \"%s\" is reserved (aws: and sparkform_ names "
                               "belong to the store and to sparkform)",
                               k);
        else if (strlen(s) > 256)
            *why = sf_asprintf("tags.%s: a value is at most 256 characters long", k);
        if (*why) {
            free(s);
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, k, json_string(s));
        free(s);
    }
    return out;
}


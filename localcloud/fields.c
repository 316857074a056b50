/*
 * Request body field checks (see fields.h): the one place that turns a
 * wrong type into "400 naming the field", for every API.
 */
#include "fields.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_STRING 255

void lc_check_init(struct lc_check *c, struct lc_request *req, struct lc_response *resp)
{
    c->req = req;
    c->resp = resp;
    c->failed = false;
}

void lc_check_fail(struct lc_check *c, const char *field, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    lc_error(c->req, c->resp, 400, NULL, "Invalid input for field %s", msg);
    free(msg);
}

static char *name_of(const char *parent, const char *key)
{
    return parent ? sf_asprintf("%s.%s", parent, key) : sf_xstrdup(key);
}

/* The member; NULL when it is absent (or null and optional) or after a
 * failure, which c->failed tells apart. */
static json_t *member(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                      unsigned flags, char **name)
{
    *name = name_of(parent, key);
    if (c->failed)
        return NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || (json_is_null(v) && !(flags & LC_REQUIRED))) {
        if (flags & LC_REQUIRED)
            lc_check_fail(c, *name, "%s: a value is required", *name);
        return NULL;
    }
    return v;
}

void lc_check_known(struct lc_check *c, json_t *obj, const char *parent,
                    const char *const *allowed, const char *why)
{
    if (c->failed || !json_is_object(obj))
        return;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok) {
            char *name = name_of(parent, key);
            lc_check_fail(c, name, "%s: %s", name, why);
            free(name);
            return;
        }
    }
}

json_t *lc_get_object(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                      unsigned flags)
{
    char *name;
    json_t *v = member(c, obj, parent, key, flags, &name);
    if (v && !json_is_object(v)) {
        lc_check_fail(c, name, "%s: expected an object", name);
        v = NULL;
    }
    free(name);
    return v;
}

json_t *lc_get_array(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                     unsigned flags)
{
    char *name;
    json_t *v = member(c, obj, parent, key, flags, &name);
    if (v && !json_is_array(v)) {
        lc_check_fail(c, name, "%s: expected a list", name);
        v = NULL;
    }
    free(name);
    return v;
}

const char *lc_get_string(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                          unsigned flags)
{
    char *name;
    json_t *v = member(c, obj, parent, key, flags, &name);
    const char *s = NULL;
    if (v && !json_is_string(v)) {
        lc_check_fail(c, name, "%s: expected a string", name);
    } else if (v) {
        s = json_string_value(v);
        if (!(flags & LC_LONG) && json_string_length(v) > MAX_STRING) {
            lc_check_fail(c, name, "%s: longer than %d characters", name, MAX_STRING);
            s = NULL;
        }
    }
    free(name);
    return s;
}

bool lc_get_bool(struct lc_check *c, json_t *obj, const char *parent, const char *key, bool dflt)
{
    char *name;
    json_t *v = member(c, obj, parent, key, 0, &name);
    bool b = dflt;
    if (v && !json_is_boolean(v))
        lc_check_fail(c, name, "%s: expected true or false", name);
    else if (v)
        b = json_is_true(v);
    free(name);
    return b;
}

long long lc_get_int(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                     long long dflt, long long min, long long max)
{
    char *name;
    json_t *v = member(c, obj, parent, key, 0, &name);
    long long n = dflt;
    if (v && !json_is_integer(v)) {
        lc_check_fail(c, name, "%s: expected an integer", name);
    } else if (v) {
        n = json_integer_value(v);
        if (n < min || n > max) {
            lc_check_fail(c, name, "%s: expected an integer from %lld to %lld", name, min, max);
            n = dflt;
        }
    }
    free(name);
    return n;
}

json_t *lc_get_string_list(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                           unsigned flags)
{
    json_t *arr = lc_get_array(c, obj, parent, key, flags);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) > MAX_STRING) {
            char *name = name_of(parent, key);
            lc_check_fail(c, name, "%s[%zu]: expected a string of at most %d characters", name, i,
                          MAX_STRING);
            free(name);
            return NULL;
        }
    }
    return arr;
}

void lc_check_string_map(struct lc_check *c, json_t *map, const char *field, size_t max)
{
    if (c->failed || !map)
        return;
    if (json_object_size(map) > max) {
        lc_check_fail(c, field, "%s: at most %zu items are allowed", field, max);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        if (!*k || strlen(k) > 255) {
            lc_check_fail(c, field, "%s: keys must be 1 to 255 characters", field);
            return;
        }
        if (!json_is_string(v) || json_string_length(v) > 255) {
            lc_check_fail(c, field, "%s.%s: expected a string of at most 255 characters", field, k);
            return;
        }
    }
}

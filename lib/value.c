/*
 * The "unknown until apply" sentinel and the value helpers that respect it
 * (see value.h).
 */
#include "value.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static json_t *unknown_value;
static pthread_once_t unknown_once = PTHREAD_ONCE_INIT;

static void unknown_init(void)
{
    /* The one reference held here keeps it alive for the life of the
     * process; a static pointer keeps it reachable for leak checkers. */
    unknown_value = json_pack("{s:b}", "__sf_unknown__", 1);
}

json_t *sf_unknown(void)
{
    pthread_once(&unknown_once, unknown_init);
    return unknown_value;
}

bool sf_is_unknown(const json_t *v)
{
    return v && v == sf_unknown();
}

bool sf_value_has_unknown(const json_t *v)
{
    if (!v)
        return false;
    if (sf_is_unknown(v))
        return true;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (sf_value_has_unknown(e)) return true;
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) if (sf_value_has_unknown(e)) return true;
    }
    return false;
}

json_t *sf_value_copy(const json_t *v)
{
    if (!v)
        return NULL;
    if (sf_is_unknown(v))
        return json_incref((json_t *)v);
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(out, sf_value_copy(e));
        return out;
    }
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) json_object_set_new(out, k, sf_value_copy(e));
        return out;
    }
    return json_copy((json_t *)v);
}

void sf_value_strings(const json_t *v, json_t *out)
{
    if (json_is_string(v) && json_string_length(v) > 0) {
        json_array_append(out, (json_t *)v);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
            sf_value_strings(m, out);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
            sf_value_strings(m, out);
    }
}

bool sf_value_equal(const json_t *a, const json_t *b)
{
    if (sf_is_unknown(a) || sf_is_unknown(b))
        return false;
    if (!a)
        a = json_null();
    if (!b)
        b = json_null();
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!sf_value_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)a, k, e)
        {
            json_t *o = json_object_get(b, k);
            if (!o || !sf_value_equal(e, o))
                return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

json_t *sf_value_encode(const json_t *v)
{
    if (!v)
        return NULL;
    if (sf_is_unknown(v))
        return json_pack("{s:b}", "__sf_unknown__", 1);
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(out, sf_value_encode(e));
        return out;
    }
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) json_object_set_new(out, k, sf_value_encode(e));
        return out;
    }
    return json_copy((json_t *)v);
}

json_t *sf_value_decode(const json_t *v)
{
    if (!v)
        return NULL;
    if (json_is_object(v) && json_object_size(v) == 1 &&
        json_is_true(json_object_get(v, "__sf_unknown__")))
        return json_incref(sf_unknown());
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) json_array_append_new(out, sf_value_decode(e));
        return out;
    }
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) json_object_set_new(out, k, sf_value_decode(e));
        return out;
    }
    return json_copy((json_t *)v);
}

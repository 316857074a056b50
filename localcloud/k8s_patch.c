/*
 * The patch and server-side apply algebra of localcloud's Kubernetes API
 * (k8s_patch.h), on plain jansson values and free of server code, so that
 * what kubectl relies on (merge keys, directives, managedFields) can be
 * tested on its own.
 *
 * Field sets are handled flat: a JSON object whose member names are the
 * JSON text of a path's FieldsV1 elements (["f:spec","f:replicas"]); that
 * makes union, difference and intersection plain member look-ups, and
 * FieldsV1 tries are only built when written out.
 */
#include "k8s_patch.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* jansson's iterators take non-const values although they only read them. */
#define MUT(v) ((json_t *)(v))

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* ---- which lists and maps are not plain ------------------------------ */

/*
 * Lists are recognised by their last two field names (the list's own and
 * its parent's, "containers[]" when the parent is a list element), never
 * by the whole path: a pod spec sits at "spec" in a Pod,
 * "spec.template.spec" in a Deployment and deeper in a CronJob, and the
 * tail is the same in all of them. The keys are the ones the API's
 * x-kubernetes-list-map-keys declare (SSA); strategic merge uses the same
 * ones, which for its single patchMergeKey only adds "protocol", always
 * defaulted alike on both sides.
 */
struct list_rule {
    const char *parent, *field;
    const char *const *keys;
};

static const char *const keys_name[] = {"name", NULL};
static const char *const keys_container_port[] = {"containerPort", "protocol", NULL};
static const char *const keys_service_port[] = {"port", "protocol", NULL};
static const char *const keys_mount[] = {"mountPath", NULL};
static const char *const keys_device[] = {"devicePath", NULL};
static const char *const keys_ip[] = {"ip", NULL};
static const char *const keys_topology[] = {"topologyKey", "whenUnsatisfiable", NULL};
static const char *const keys_uid[] = {"uid", NULL};
static const char *const keys_type[] = {"type", NULL};

#define CONTAINER_LISTS(parent)                                                                    \
    {parent, "ports", keys_container_port}, {parent, "env", keys_name},                            \
        {parent, "volumeMounts", keys_mount}, {parent, "volumeDevices", keys_device}

static const struct list_rule list_rules[] = {
    {"spec", "containers", keys_name},
    {"spec", "initContainers", keys_name},
    {"spec", "ephemeralContainers", keys_name},
    {"spec", "volumes", keys_name},
    {"spec", "imagePullSecrets", keys_name},
    {"spec", "hostAliases", keys_ip},
    {"spec", "topologySpreadConstraints", keys_topology},
    {"spec", "ports", keys_service_port},
    CONTAINER_LISTS("containers[]"),
    CONTAINER_LISTS("initContainers[]"),
    CONTAINER_LISTS("ephemeralContainers[]"),
    {"metadata", "ownerReferences", keys_uid},
    {"status", "conditions", keys_type},
};

/* Splits path into its last field name and the one before ("" at the top). */
static void path_tail(const char *path, const char **parent, size_t *plen, const char **field)
{
    const char *dot = strrchr(path, '.');
    if (!dot) {
        *parent = path;
        *plen = 0;
        *field = path;
        return;
    }
    *field = dot + 1;
    const char *p = dot;
    while (p > path && p[-1] != '.')
        p--;
    *parent = p;
    *plen = (size_t)(dot - p);
}

static bool tail_is(const char *parent, size_t plen, const char *field, const char *want_parent,
                    const char *want_field)
{
    if (strcmp(field, want_field) != 0)
        return false;
    return !want_parent || (strlen(want_parent) == plen && strncmp(parent, want_parent, plen) == 0);
}

const char *const *lc_k8s_list_keys(const char *path)
{
    if (!path)
        return NULL;
    const char *parent, *field;
    size_t plen;
    path_tail(path, &parent, &plen, &field);
    for (size_t i = 0; i < sizeof list_rules / sizeof list_rules[0]; i++)
        if (tail_is(parent, plen, field, list_rules[i].parent, list_rules[i].field))
            return list_rules[i].keys;
    return NULL;
}

/* Maps the API declares atomic (LabelSelector is structType=atomic, the
 * selector of a Service and a pod's nodeSelector mapType=atomic): server-side
 * apply owns and replaces them whole, as Kubernetes does. */
static bool atomic_map(const char *path)
{
    const char *parent, *field;
    size_t plen;
    path_tail(path, &parent, &plen, &field);
    return tail_is(parent, plen, field, "spec", "selector") ||
           tail_is(parent, plen, field, "spec", "nodeSelector") ||
           tail_is(parent, plen, field, NULL, "labelSelector") ||
           tail_is(parent, plen, field, NULL, "namespaceSelector");
}

static char *child_path(const char *path, const char *field)
{
    return *path ? sf_asprintf("%s.%s", path, field) : sf_xstrdup(field);
}

static char *elem_path(const char *path)
{
    return sf_asprintf("%s[]", path);
}

/* JSON equality where 1 and 1.0 are the same number (RFC 6902's test, and
 * what a Go server decoding into float64 or int64 would see). */
static bool values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        double x = json_number_value(a), y = json_number_value(b);
        return !(x < y) && !(x > y);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach (MUT(a), k, v) {
            const json_t *o = json_object_get(b, k);
            if (!o || !values_equal(v, o))
                return false;
        }
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!values_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    return json_equal(MUT(a), MUT(b));
}

/* The identity of a keyed list's element: an object of its key fields.
 * A missing "protocol" counts as "TCP", what the API server defaults, so an
 * element written without it still meets the stored one. NULL when el is
 * not an object or lacks another key field (*missing names it). */
static json_t *elem_key(const json_t *el, const char *const *keys, const char **missing)
{
    *missing = keys[0];
    if (!json_is_object(el))
        return NULL;
    json_t *key = json_object();
    for (size_t i = 0; keys[i]; i++) {
        const json_t *v = json_object_get(el, keys[i]);
        if (v) {
            json_object_set_new(key, keys[i], json_deep_copy(v));
        } else if (strcmp(keys[i], "protocol") == 0) {
            json_object_set_new(key, keys[i], json_string("TCP"));
        } else {
            *missing = keys[i];
            json_decref(key);
            return NULL;
        }
    }
    *missing = NULL;
    return key;
}

/* Whether el is the element that key (a parsed "k:" element or an
 * elem_key) names. */
static bool elem_has_key(const json_t *el, const json_t *key)
{
    if (!json_is_object(el))
        return false;
    const char *k;
    json_t *kv;
    json_object_foreach (MUT(key), k, kv) {
        const json_t *v = json_object_get(el, k);
        if (v) {
            if (!values_equal(v, kv))
                return false;
        } else if (strcmp(k, "protocol") != 0 || !json_is_string(kv) ||
                   strcmp(json_string_value(kv), "TCP") != 0) {
            return false;
        }
    }
    return true;
}

/* A list of scalars where the table expects keyed elements is some other
 * type's list of the same name (a custom resource's, say): atomic then. */
static bool all_objects(const json_t *list)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (!json_is_object(json_array_get(list, i)))
            return false;
    return true;
}

static long find_by_key(const json_t *list, const json_t *key)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (elem_has_key(json_array_get(list, i), key))
            return (long)i;
    return -1;
}

/* ---- RFC 7386 ---------------------------------------------------------- */

json_t *lc_k8s_merge_patch(const json_t *target, const json_t *patch)
{
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    json_t *res = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach (MUT(patch), k, v) {
        if (json_is_null(v))
            json_object_del(res, k);
        else
            json_object_set_new(res, k, lc_k8s_merge_patch(json_object_get(res, k), v));
    }
    return res;
}

/* ---- RFC 6902 ---------------------------------------------------------- */

/* A JSON pointer's reference tokens, unescaped; NULL when malformed. */
static json_t *pointer_tokens(const char *p)
{
    json_t *toks = json_array();
    if (!*p)
        return toks;
    if (*p != '/') {
        json_decref(toks);
        return NULL;
    }
    struct sf_buf b = {0};
    for (const char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char *t = sf_buf_take(&b);
            json_array_append_new(toks, json_string(t));
            free(t);
            if (!*s)
                break;
        } else if (*s == '~') {
            if (s[1] != '0' && s[1] != '1') {
                sf_buf_free(&b);
                json_decref(toks);
                return NULL;
            }
            sf_buf_add(&b, s[1] == '0' ? "~" : "/", 1);
            s++;
        } else {
            sf_buf_add(&b, s, 1);
        }
    }
    return toks;
}

/* RFC 6901 array indexes: decimal, no sign, no leading zero. */
static bool array_index(const char *t, size_t *out)
{
    if (!*t || (t[0] == '0' && t[1]))
        return false;
    size_t n = 0;
    for (const char *s = t; *s; s++) {
        if (*s < '0' || *s > '9' || n > (SIZE_MAX - 9) / 10)
            return false;
        n = n * 10 + (size_t)(*s - '0');
    }
    *out = n;
    return true;
}

static const char *token(const json_t *toks, size_t i)
{
    return json_string_value(json_array_get(toks, i));
}

/* The value the first n tokens lead to, or NULL. */
static json_t *pointer_walk(json_t *doc, const json_t *toks, size_t n)
{
    json_t *v = doc;
    for (size_t i = 0; i < n && v; i++) {
        size_t idx;
        if (json_is_object(v))
            v = json_object_get(v, token(toks, i));
        else if (json_is_array(v))
            v = array_index(token(toks, i), &idx) ? json_array_get(v, idx) : NULL;
        else
            v = NULL;
    }
    return v;
}

/* The operations return NULL or why they failed. */
static const char *op_add(json_t **doc, const json_t *toks, json_t *value /* stolen */)
{
    size_t n = json_array_size(toks);
    if (n == 0) {
        json_decref(*doc);
        *doc = value;
        return NULL;
    }
    json_t *parent = pointer_walk(*doc, toks, n - 1);
    const char *last = token(toks, n - 1);
    size_t idx;
    if (json_is_object(parent)) {
        json_object_set_new(parent, last, value);
        return NULL;
    }
    if (json_is_array(parent)) {
        if (strcmp(last, "-") == 0) {
            json_array_append_new(parent, value);
            return NULL;
        }
        if (array_index(last, &idx) && idx <= json_array_size(parent)) {
            json_array_insert_new(parent, idx, value);
            return NULL;
        }
        json_decref(value);
        return "array index out of range";
    }
    json_decref(value);
    return "path not found";
}

static const char *op_remove(json_t *doc, const json_t *toks, json_t **removed)
{
    size_t n = json_array_size(toks);
    if (n == 0)
        return "cannot remove the whole document";
    json_t *parent = pointer_walk(doc, toks, n - 1);
    const char *last = token(toks, n - 1);
    json_t *v = NULL;
    size_t idx = 0;
    if (json_is_object(parent))
        v = json_object_get(parent, last);
    else if (json_is_array(parent) && array_index(last, &idx))
        v = json_array_get(parent, idx);
    if (!v)
        return "path not found";
    if (removed)
        *removed = json_incref(v);
    if (json_is_object(parent))
        json_object_del(parent, last);
    else
        json_array_remove(parent, idx);
    return NULL;
}

static const char *op_replace(json_t **doc, const json_t *toks, json_t *value /* stolen */)
{
    size_t n = json_array_size(toks);
    if (n > 0 && !pointer_walk(*doc, toks, n)) {
        json_decref(value);
        return "path not found";
    }
    if (n == 0) {
        json_decref(*doc);
        *doc = value;
        return NULL;
    }
    json_t *parent = pointer_walk(*doc, toks, n - 1);
    size_t idx;
    if (json_is_object(parent))
        json_object_set_new(parent, token(toks, n - 1), value);
    else if (array_index(token(toks, n - 1), &idx))
        json_array_set_new(parent, idx, value);
    return NULL;
}

static bool tokens_prefix(const json_t *pre, const json_t *toks)
{
    if (json_array_size(pre) > json_array_size(toks))
        return false;
    for (size_t i = 0; i < json_array_size(pre); i++)
        if (strcmp(token(pre, i), token(toks, i)) != 0)
            return false;
    return true;
}

static const char *json_patch_op(json_t **doc, const json_t *op, const char *name,
                                 const json_t *toks)
{
    const json_t *value = json_object_get(op, "value");
    bool needs_value = !strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test");
    bool needs_from = !strcmp(name, "move") || !strcmp(name, "copy");
    if (!needs_value && !needs_from && strcmp(name, "remove") != 0)
        return "unknown operation";
    if (needs_value && !value)
        return "missing \"value\"";
    json_t *from = NULL;
    if (needs_from) {
        const char *f = json_string_value(json_object_get(op, "from"));
        if (!f)
            return "missing \"from\"";
        if (!(from = pointer_tokens(f)))
            return "malformed \"from\" pointer";
    }
    const char *msg = NULL;
    json_t *v = NULL;
    if (!strcmp(name, "add")) {
        msg = op_add(doc, toks, json_deep_copy(value));
    } else if (!strcmp(name, "remove")) {
        msg = op_remove(*doc, toks, NULL);
    } else if (!strcmp(name, "replace")) {
        msg = op_replace(doc, toks, json_deep_copy(value));
    } else if (!strcmp(name, "test")) {
        v = pointer_walk(*doc, toks, json_array_size(toks));
        msg = !v ? "path not found" : !values_equal(v, value) ? "test failed" : NULL;
    } else if (!(v = pointer_walk(*doc, from, json_array_size(from)))) {
        msg = "\"from\" path not found";
    } else if (!strcmp(name, "copy")) {
        msg = op_add(doc, toks, json_deep_copy(v));
    } else if (json_array_size(from) < json_array_size(toks) && tokens_prefix(from, toks)) {
        msg = "cannot move a value into one of its children";
    } else if (!tokens_prefix(from, toks) || json_array_size(from) != json_array_size(toks)) {
        json_t *moved = NULL;
        if (!(msg = op_remove(*doc, from, &moved)))
            msg = op_add(doc, toks, moved);
    }
    json_decref(from);
    return msg;
}

json_t *lc_k8s_json_patch(const json_t *target, const json_t *ops, char *err, size_t errlen)
{
    if (!json_is_array(ops)) {
        set_err(err, errlen, "json patch: the patch is not a JSON array");
        return NULL;
    }
    json_t *doc = json_deep_copy(target);
    for (size_t i = 0; i < json_array_size(ops); i++) {
        const json_t *op = json_array_get(ops, i);
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        if (!name || !path) {
            set_err(err, errlen, "json patch: operation %zu: missing \"%s\"", i,
                    !name ? "op" : "path");
            json_decref(doc);
            return NULL;
        }
        json_t *toks = pointer_tokens(path);
        const char *msg = toks ? json_patch_op(&doc, op, name, toks) : "malformed path";
        json_decref(toks);
        if (msg) {
            set_err(err, errlen, "json patch: operation %zu (%s %s): %s", i, name, path, msg);
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

/* ---- strategic merge patch --------------------------------------------- */

struct smp {
    char *err;
    size_t errlen;
    bool failed;
};

/* Keeps the first error only: the one the client caused. */
static void smp_fail(struct smp *c, char *msg /* taken */)
{
    if (!c->failed)
        set_err(c->err, c->errlen, "strategic merge patch: %s", msg);
    c->failed = true;
    free(msg);
}

static bool is_directive(const char *k)
{
    return !strcmp(k, "$patch") || !strcmp(k, "$retainKeys") ||
           has_prefix(k, "$setElementOrder/") || has_prefix(k, "$deleteFromPrimitiveList/");
}

static json_t *smp_map(const json_t *orig, const json_t *patch, const char *path, struct smp *c);
static json_t *smp_list(const json_t *orig, const json_t *patch, const char *path,
                        struct smp *c);

static json_t *smp_value(const json_t *orig, const json_t *patch, const char *path,
                         struct smp *c)
{
    if (json_is_object(patch))
        return smp_map(orig, patch, path, c);
    if (json_is_array(patch))
        return smp_list(orig, patch, path, c);
    return json_deep_copy(patch);
}

static const char *patch_directive(const json_t *v)
{
    return json_is_object(v) ? json_string_value(json_object_get(v, "$patch")) : NULL;
}

static bool same_element(const json_t *a, const json_t *b, const char *const *keys)
{
    if (!keys)
        return values_equal(a, b);
    const char *missing;
    json_t *ka = elem_key(a, keys, &missing), *kb = elem_key(b, keys, &missing);
    bool same = ka && kb && values_equal(ka, kb);
    json_decref(ka);
    json_decref(kb);
    return same;
}

/* $setElementOrder: the listed elements first, in that order, then the
 * others as they were. */
static json_t *reorder(json_t *list, const json_t *order, const char *const *keys)
{
    size_t n = json_array_size(list);
    bool *used = sf_xcalloc(n ? n : 1, sizeof *used);
    json_t *res = json_array();
    for (size_t i = 0; i < json_array_size(order); i++)
        for (size_t j = 0; j < n; j++)
            if (!used[j] && same_element(json_array_get(list, j), json_array_get(order, i), keys)) {
                used[j] = true;
                json_array_append(res, json_array_get(list, j));
                break;
            }
    for (size_t j = 0; j < n; j++)
        if (!used[j])
            json_array_append(res, json_array_get(list, j));
    free(used);
    return res;
}

static json_t *smp_list(const json_t *orig, const json_t *patch, const char *path, struct smp *c)
{
    const char *const *keys = lc_k8s_list_keys(path);
    bool replace = !keys || !all_objects(patch);
    for (size_t i = 0; i < json_array_size(patch); i++) {
        const json_t *el = json_array_get(patch, i);
        const char *d = patch_directive(el);
        if (json_is_object(el) && json_object_get(el, "$patch") &&
            (!d || (strcmp(d, "replace") && strcmp(d, "delete") && strcmp(d, "merge")))) {
            smp_fail(c, sf_asprintf("%s: unknown $patch directive in a list element", path));
            return json_array();
        }
        if (d && !strcmp(d, "replace"))
            replace = true;
    }
    char *ep = elem_path(path);
    json_t *res;
    if (replace) {
        res = json_array();
        for (size_t i = 0; i < json_array_size(patch); i++) {
            const json_t *el = json_array_get(patch, i);
            if (!patch_directive(el))
                json_array_append_new(res, smp_value(NULL, el, ep, c));
        }
        free(ep);
        return res;
    }
    res = json_is_array(orig) ? json_deep_copy(orig) : json_array();
    for (size_t i = 0; i < json_array_size(patch) && !c->failed; i++) {
        const json_t *el = json_array_get(patch, i);
        const char *missing;
        json_t *key = elem_key(el, keys, &missing);
        if (!key) {
            smp_fail(c, sf_asprintf("%s: element %zu does not contain declared merge key: %s",
                                    path, i, missing));
            break;
        }
        long at = find_by_key(res, key);
        const char *d = patch_directive(el);
        if (d && !strcmp(d, "delete")) {
            for (; at >= 0; at = find_by_key(res, key))
                json_array_remove(res, (size_t)at);
        } else if (at >= 0) {
            json_t *merged = smp_map(json_array_get(res, (size_t)at), el, ep, c);
            json_array_set_new(res, (size_t)at, merged);
        } else {
            json_array_append_new(res, smp_map(NULL, el, ep, c));
        }
        json_decref(key);
    }
    free(ep);
    return res;
}

static json_t *smp_map(const json_t *orig, const json_t *patch, const char *path, struct smp *c)
{
    const json_t *dir = json_object_get(patch, "$patch");
    const char *d = json_string_value(dir);
    if (dir && (!d || (strcmp(d, "replace") && strcmp(d, "merge") && strcmp(d, "delete")))) {
        smp_fail(c, sf_asprintf("%s: unknown $patch directive", *path ? path : "(root)"));
        return json_object();
    }
    if (d && !strcmp(d, "delete"))
        return json_object();
    bool replace = d && !strcmp(d, "replace");
    json_t *res = !replace && json_is_object(orig) ? json_deep_copy(orig) : json_object();

    const json_t *retain = json_object_get(patch, "$retainKeys");
    if (retain) {
        if (!json_is_array(retain)) {
            smp_fail(c, sf_asprintf("%s: $retainKeys is not a list", path));
            return res;
        }
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe (res, tmp, k, v) {
            bool keep = false;
            for (size_t i = 0; i < json_array_size(retain) && !keep; i++)
                keep = json_is_string(json_array_get(retain, i)) &&
                       !strcmp(json_string_value(json_array_get(retain, i)), k);
            if (!keep)
                json_object_del(res, k);
        }
    }

    const char *k;
    json_t *v;
    json_object_foreach (MUT(patch), k, v) {
        if (!has_prefix(k, "$deleteFromPrimitiveList/"))
            continue;
        const char *field = k + strlen("$deleteFromPrimitiveList/");
        json_t *cur = json_object_get(res, field);
        if (!json_is_array(v)) {
            smp_fail(c, sf_asprintf("%s: %s is not a list", path, k));
            return res;
        }
        if (!json_is_array(cur))
            continue;
        json_t *kept = json_array();
        for (size_t i = 0; i < json_array_size(cur); i++) {
            bool drop = false;
            for (size_t j = 0; j < json_array_size(v) && !drop; j++)
                drop = values_equal(json_array_get(cur, i), json_array_get(v, j));
            if (!drop)
                json_array_append(kept, json_array_get(cur, i));
        }
        json_object_set_new(res, field, kept);
    }

    json_object_foreach (MUT(patch), k, v) {
        if (is_directive(k))
            continue;
        const char *vd = patch_directive(v);
        if (json_is_null(v) || (vd && !strcmp(vd, "delete"))) {
            json_object_del(res, k);
            continue;
        }
        char *cp = child_path(path, k);
        json_object_set_new(res, k, smp_value(json_object_get(res, k), v, cp, c));
        free(cp);
    }

    json_object_foreach (MUT(patch), k, v) {
        if (!has_prefix(k, "$setElementOrder/"))
            continue;
        const char *field = k + strlen("$setElementOrder/");
        if (!json_is_array(v)) {
            smp_fail(c, sf_asprintf("%s: %s is not a list", path, k));
            return res;
        }
        json_t *cur = json_object_get(res, field);
        if (!json_is_array(cur))
            continue;
        char *cp = child_path(path, field);
        json_object_set_new(res, field, reorder(cur, v, lc_k8s_list_keys(cp)));
        free(cp);
    }
    return res;
}

json_t *lc_k8s_strategic_merge(const json_t *target, const json_t *patch, char *err,
                               size_t errlen)
{
    if (!json_is_object(patch)) {
        set_err(err, errlen, "strategic merge patch: the patch is not a JSON object");
        return NULL;
    }
    struct smp c = {err, errlen, false};
    json_t *res = smp_map(target, patch, "", &c);
    if (c.failed) {
        json_decref(res);
        return NULL;
    }
    return res;
}

/* ---- field sets -------------------------------------------------------- */

/* Paths are arrays of FieldsV1 elements; a flat set maps their JSON text
 * to {"leaf": is the value a leaf, "v": the value} (or to true when read
 * back from FieldsV1, where values are unknown). */
static char *path_text(const json_t *path)
{
    return json_dumps(path, JSON_COMPACT);
}

struct walk {
    json_t *path; /* the elements down to the value being visited */
    json_t *out;  /* the flat set */
    char *err;    /* the first keyed element without its key */
};

static void walk_push(struct walk *w, char *el /* taken */)
{
    json_array_append_new(w->path, json_string(el));
    free(el);
}

static void walk_pop(struct walk *w)
{
    json_array_remove(w->path, json_array_size(w->path) - 1);
}

static void walk_emit(struct walk *w, bool leaf, const json_t *v)
{
    char *k = path_text(w->path);
    json_object_set_new(w->out, k, json_pack("{s:b,s:O}", "leaf", leaf, "v", v));
    free(k);
}

/* Never owned by anyone (as in Kubernetes' field manager, which also
 * leaves out the object's name and namespace: they identify it). */
static bool unowned_meta(const char *k)
{
    static const char *const names[] = {
        "name",       "namespace",         "uid",      "resourceVersion", "generation",
        "creationTimestamp", "managedFields", "deletionTimestamp", "selfLink", "clusterName",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(k, names[i]))
            return true;
    return false;
}

enum walk_mode { WALK_MAP, WALK_ROOT, WALK_ROOT_META };

static void walk_value(struct walk *w, const json_t *v, const char *path);

static void walk_map(struct walk *w, const json_t *obj, const char *path, enum walk_mode mode)
{
    const char *k;
    json_t *v;
    json_object_foreach (MUT(obj), k, v) {
        if (mode == WALK_ROOT && (!strcmp(k, "apiVersion") || !strcmp(k, "kind")))
            continue;
        if (mode == WALK_ROOT_META && unowned_meta(k))
            continue;
        char *cp = child_path(path, k);
        walk_push(w, sf_asprintf("f:%s", k));
        if (mode == WALK_ROOT && !strcmp(k, "metadata") && json_is_object(v))
            walk_map(w, v, cp, WALK_ROOT_META);
        else
            walk_value(w, v, cp);
        walk_pop(w);
        free(cp);
    }
}

static void walk_value(struct walk *w, const json_t *v, const char *path)
{
    const char *const *keys;
    if (json_is_object(v) && json_object_size(v) > 0 && !atomic_map(path)) {
        walk_map(w, v, path, WALK_MAP);
        return;
    }
    if (json_is_array(v) && json_array_size(v) > 0 && (keys = lc_k8s_list_keys(path)) &&
        all_objects(v)) {
        char *ep = elem_path(path);
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *el = json_array_get(v, i);
            const char *missing;
            json_t *key = elem_key(el, keys, &missing);
            if (!key) {
                if (!w->err)
                    w->err = sf_asprintf(".%s: element %zu: associative list with keys has an "
                                         "element that omits key field \"%s\"",
                                         path, i, missing);
                continue;
            }
            char *ks = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
            walk_push(w, sf_asprintf("k:%s", ks));
            walk_emit(w, false, el);
            walk_map(w, el, ep, WALK_MAP);
            walk_pop(w);
            free(ks);
            json_decref(key);
        }
        free(ep);
        return;
    }
    walk_emit(w, true, v);
}

/* The flat field set of obj, with each field's value; *err (when err is
 * non-NULL) gets the first malformed keyed element. */
static json_t *walk_object(const json_t *obj, char **err)
{
    struct walk w = {json_array(), json_object(), NULL};
    if (json_is_object(obj))
        walk_map(&w, obj, "", WALK_ROOT);
    json_decref(w.path);
    if (err)
        *err = w.err;
    else
        free(w.err);
    return w.out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A trie node as Kubernetes writes it: children sorted ("." first, then
 * f:, k:, v:, i: like structured-merge-diff's element order), and "." only
 * where the node is both a member and a prefix of others. */
static json_t *fields_finish(const json_t *node)
{
    size_t n = json_object_size(node), i = 0;
    const char **names = sf_xmalloc((n ? n : 1) * sizeof *names);
    const char *k;
    json_t *v;
    json_object_foreach (MUT(node), k, v)
        names[i++] = k;
    qsort(names, n, sizeof *names, cmp_str);
    json_t *res = json_object();
    for (i = 0; i < n; i++) {
        if (!strcmp(names[i], ".")) {
            if (n > 1)
                json_object_set_new(res, ".", json_object());
        } else {
            json_object_set_new(res, names[i], fields_finish(json_object_get(node, names[i])));
        }
    }
    free(names);
    return res;
}

static json_t *flat_to_fields(const json_t *flat)
{
    json_t *tree = json_object();
    const char *k;
    json_t *v;
    json_object_foreach (MUT(flat), k, v) {
        json_t *path = json_loads(k, 0, NULL);
        json_t *node = tree;
        for (size_t i = 0; i < json_array_size(path); i++) {
            const char *el = json_string_value(json_array_get(path, i));
            json_t *child = json_object_get(node, el);
            if (!child) {
                child = json_object();
                json_object_set_new(node, el, child);
            }
            node = child;
        }
        json_object_set_new(node, ".", json_object());
        json_decref(path);
    }
    json_t *res = fields_finish(tree);
    json_decref(tree);
    return res;
}

static void fields_to_flat(const json_t *node, json_t *path, json_t *out)
{
    if (!json_is_object(node))
        return;
    if (json_array_size(path) > 0 &&
        (json_object_size(node) == 0 || json_object_get(node, "."))) {
        char *k = path_text(path);
        json_object_set_new(out, k, json_true());
        free(k);
    }
    const char *k;
    json_t *v;
    json_object_foreach (MUT(node), k, v) {
        if (!strcmp(k, "."))
            continue;
        json_array_append_new(path, json_string(k));
        fields_to_flat(v, path, out);
        json_array_remove(path, json_array_size(path) - 1);
    }
}

static json_t *entry_set(const json_t *entry)
{
    json_t *out = json_object(), *path = json_array();
    fields_to_flat(json_object_get(entry, "fieldsV1"), path, out);
    json_decref(path);
    return out;
}

json_t *lc_k8s_fieldset(const json_t *obj)
{
    json_t *flat = walk_object(obj, NULL);
    json_t *res = flat_to_fields(flat);
    json_decref(flat);
    return res;
}

static json_t *set_minus(const json_t *a, const json_t *b)
{
    json_t *res = json_object();
    const char *k;
    json_t *v;
    json_object_foreach (MUT(a), k, v)
        if (!json_object_get(b, k))
            json_object_set_new(res, k, json_true());
    return res;
}

static bool set_eq(const json_t *a, const json_t *b)
{
    if (json_object_size(a) != json_object_size(b))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach (MUT(a), k, v)
        if (!json_object_get(b, k))
            return false;
    return true;
}

/* Adds every path of set and every prefix of one to out. */
static void add_prefixes(json_t *out, const json_t *set)
{
    const char *k;
    json_t *v;
    json_object_foreach (MUT(set), k, v) {
        json_t *path = json_loads(k, 0, NULL), *pre = json_array();
        for (size_t i = 0; i < json_array_size(path); i++) {
            json_array_append(pre, json_array_get(path, i));
            char *pk = path_text(pre);
            json_object_set_new(out, pk, json_true());
            free(pk);
        }
        json_decref(pre);
        json_decref(path);
    }
}

static bool flat_leaf(const json_t *e)
{
    return json_is_true(json_object_get(e, "leaf"));
}

/* The fields of now that were added since before or whose value changed
 * (leaves only: a map or an element "changes" through its members). */
static json_t *changed_fields(const json_t *before, const json_t *now)
{
    json_t *res = json_object();
    const char *k;
    json_t *e;
    json_object_foreach (MUT(now), k, e) {
        const json_t *o = json_object_get(before, k);
        if (!o || ((flat_leaf(e) || flat_leaf(o)) &&
                   !values_equal(json_object_get(e, "v"), json_object_get(o, "v"))))
            json_object_set_new(res, k, json_true());
    }
    return res;
}

/* ".spec.template.spec.containers[name=\"app\"].image", as Kubernetes
 * names a field in a conflict. */
static char *field_name(const char *pathtext)
{
    json_t *path = json_loads(pathtext, 0, NULL);
    struct sf_buf b = {0};
    for (size_t i = 0; i < json_array_size(path); i++) {
        const char *el = json_string_value(json_array_get(path, i));
        if (has_prefix(el, "f:")) {
            sf_buf_printf(&b, ".%s", el + 2);
        } else if (has_prefix(el, "k:")) {
            json_t *key = json_loads(el + 2, 0, NULL);
            const char *k;
            json_t *v;
            bool first = true;
            sf_buf_puts(&b, "[");
            json_object_foreach (key, k, v) {
                char *vs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                sf_buf_printf(&b, "%s%s=%s", first ? "" : ",", k, vs);
                free(vs);
                first = false;
            }
            sf_buf_puts(&b, "]");
            json_decref(key);
        } else if (has_prefix(el, "v:")) {
            sf_buf_printf(&b, "[=%s]", el + 2);
        } else if (has_prefix(el, "i:")) {
            sf_buf_printf(&b, "[%s]", el + 2);
        }
    }
    json_decref(path);
    return sf_buf_take(&b);
}

/* Removes the value at path from v; maps the removal leaves empty go too
 * (what is left of them belongs to nobody). True when something went. */
static bool remove_at(json_t *v, const json_t *path, size_t i)
{
    const char *el = json_string_value(json_array_get(path, i));
    bool last = i + 1 == json_array_size(path);
    if (has_prefix(el, "f:") && json_is_object(v)) {
        json_t *child = json_object_get(v, el + 2);
        if (!child)
            return false;
        if (last)
            return json_object_del(v, el + 2) == 0;
        if (!remove_at(child, path, i + 1))
            return false;
        const char *next = json_string_value(json_array_get(path, i + 1));
        if (has_prefix(next, "f:") && json_is_object(child) && json_object_size(child) == 0)
            json_object_del(v, el + 2);
        return true;
    }
    if (has_prefix(el, "k:") && json_is_array(v)) {
        json_t *key = json_loads(el + 2, 0, NULL);
        long at = key ? find_by_key(v, key) : -1;
        json_decref(key);
        if (at < 0)
            return false;
        if (last)
            return json_array_remove(v, (size_t)at) == 0;
        return remove_at(json_array_get(v, (size_t)at), path, i + 1);
    }
    return false;
}

/* ---- server-side apply ------------------------------------------------- */

static json_t *ssa_merge(const json_t *lhs, const json_t *rhs, const char *path);

static long find_key_in(json_t *const *keys, size_t n, const json_t *key)
{
    if (!key)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (keys[i] && values_equal(keys[i], key))
            return (long)i;
    return -1;
}

/* Merges two keyed lists the way structured-merge-diff orders them: the
 * applied order wins for the elements both have, and elements only live
 * has stay where they were relative to their neighbours. */
static json_t *ssa_merge_list(const json_t *lhs, const json_t *rhs, const char *const *keys,
                              const char *path)
{
    size_t nl = json_array_size(lhs), nr = json_array_size(rhs), nshared = 0, si = 0;
    json_t **lk = sf_xcalloc(nl + 1, sizeof *lk), **rk = sf_xcalloc(nr + 1, sizeof *rk);
    bool *taken = sf_xcalloc(nr + 1, sizeof *taken);
    size_t *shared = sf_xcalloc(nr + 1, sizeof *shared);
    const char *missing;
    for (size_t i = 0; i < nl; i++)
        lk[i] = elem_key(json_array_get(lhs, i), keys, &missing);
    for (size_t i = 0; i < nr; i++) {
        rk[i] = elem_key(json_array_get(rhs, i), keys, &missing);
        if (find_key_in(lk, nl, rk[i]) >= 0)
            shared[nshared++] = i;
    }
    char *ep = elem_path(path);
    json_t *res = json_array();
    size_t li = 0, ri = 0;
    while (li < nl || ri < nr) {
        if (li < nl && ri < nr && lk[li] && rk[ri] && values_equal(lk[li], rk[ri])) {
            json_array_append_new(res,
                                  ssa_merge(json_array_get(lhs, li), json_array_get(rhs, ri), ep));
            taken[ri] = true;
            if (si < nshared && shared[si] == ri)
                si++;
            li++, ri++;
            continue;
        }
        long lr = li < nl ? find_key_in(rk, nr, lk[li]) : -1;
        if (li < nl && ri < nr && lr >= 0 && si < nshared && shared[si] != (size_t)lr) {
            li++; /* a shared element, met again when the applied order gets to it */
            continue;
        }
        if (li < nl && lr < 0) {
            json_array_append(res, json_array_get(lhs, li++));
            continue;
        }
        if (li < nl && taken[lr]) {
            li++;
            continue;
        }
        if (ri < nr) {
            long m = find_key_in(lk, nl, rk[ri]);
            json_array_append_new(res, ssa_merge(m >= 0 ? json_array_get(lhs, (size_t)m) : NULL,
                                                 json_array_get(rhs, ri), ep));
            taken[ri] = true;
            if (si < nshared && shared[si] == ri)
                si++;
            ri++;
            continue;
        }
        li++;
    }
    for (size_t i = 0; i < nl; i++)
        json_decref(lk[i]);
    for (size_t i = 0; i < nr; i++)
        json_decref(rk[i]);
    free(lk);
    free(rk);
    free(taken);
    free(shared);
    free(ep);
    return res;
}

static json_t *ssa_merge(const json_t *lhs, const json_t *rhs, const char *path)
{
    const char *const *keys;
    if (json_is_object(lhs) && json_is_object(rhs) && !atomic_map(path)) {
        json_t *res = json_deep_copy(lhs);
        const char *k;
        json_t *v;
        json_object_foreach (MUT(rhs), k, v) {
            char *cp = child_path(path, k);
            json_object_set_new(res, k, ssa_merge(json_object_get(lhs, k), v, cp));
            free(cp);
        }
        return res;
    }
    if (json_is_array(lhs) && json_is_array(rhs) && (keys = lc_k8s_list_keys(path)) &&
        all_objects(rhs))
        return ssa_merge_list(lhs, rhs, keys, path);
    return json_deep_copy(rhs);
}

static const char *check_applied(const json_t *a)
{
    if (!json_is_object(a))
        return "the applied configuration is not a JSON object";
    const char *av = json_string_value(json_object_get(a, "apiVersion"));
    const char *kind = json_string_value(json_object_get(a, "kind"));
    const json_t *meta = json_object_get(a, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (!av || !*av)
        return "apiVersion must be set";
    if (!kind || !*kind)
        return "kind must be set";
    if (!name || !*name)
        return "metadata.name must be set";
    if (json_object_get(meta, "managedFields"))
        return "metadata.managedFields must be nil";
    return NULL;
}

static bool is_entry(const json_t *e, const char *manager, const char *op, const char *sub)
{
    const char *m = json_string_value(json_object_get(e, "manager"));
    const char *o = json_string_value(json_object_get(e, "operation"));
    const char *s = json_string_value(json_object_get(e, "subresource"));
    return m && o && !strcmp(m, manager) && !strcmp(o, op) && !strcmp(s ? s : "", sub ? sub : "");
}

static json_t *new_entry(const char *manager, const char *op, const char *api_version,
                         const char *time, json_t *fields /* stolen */, const char *sub)
{
    json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "manager", manager, "operation", op,
                          "apiVersion", api_version ? api_version : "", "time", time ? time : "",
                          "fieldsType", "FieldsV1", "fieldsV1", fields);
    if (sub)
        json_object_set_new(e, "subresource", json_string(sub));
    return e;
}

/* entry as it was, or with a new field set when that changed; NULL when
 * the set is empty (Kubernetes drops such entries). */
static json_t *entry_with(const json_t *entry, const json_t *before, const json_t *after)
{
    if (json_object_size(after) == 0)
        return NULL;
    json_t *e = json_deep_copy(entry);
    if (!set_eq(before, after))
        json_object_set_new(e, "fieldsV1", flat_to_fields(after));
    return e;
}

static void set_managed_fields(json_t *obj, json_t *mf /* stolen */)
{
    json_t *meta = json_object_get(obj, "metadata");
    if (!json_is_object(meta)) {
        json_decref(mf);
        return;
    }
    if (json_array_size(mf) == 0) {
        json_object_del(meta, "managedFields");
        json_decref(mf);
    } else {
        json_object_set_new(meta, "managedFields", mf);
    }
}

json_t *lc_k8s_apply(const json_t *live, const json_t *applied, const char *manager, bool force,
                     const char *api_version, const char *now, json_t **conflicts, char *err,
                     size_t errlen)
{
    if (conflicts)
        *conflicts = NULL;
    const char *bad = check_applied(applied);
    if (bad) {
        set_err(err, errlen, "%s", bad);
        return NULL;
    }
    char *walk_err = NULL;
    json_t *newset = walk_object(applied, &walk_err);
    if (walk_err) {
        set_err(err, errlen, "%s", walk_err);
        free(walk_err);
        json_decref(newset);
        return NULL;
    }

    const json_t *entries = json_object_get(json_object_get(live, "metadata"), "managedFields");
    size_t ne = json_array_size(entries);
    json_t **sets = sf_xcalloc(ne + 1, sizeof *sets), **lost = sf_xcalloc(ne + 1, sizeof *lost);
    long mine = -1;
    for (size_t i = 0; i < ne; i++) {
        sets[i] = entry_set(json_array_get(entries, i));
        if (mine < 0 && is_entry(json_array_get(entries, i), manager, "Apply", NULL))
            mine = (long)i;
    }

    json_t *merged = ssa_merge(live, applied, "");

    /* What this manager applied before and no longer does goes, unless
     * someone (this apply included) still owns it or something in it. */
    if (mine >= 0) {
        json_t *covered = json_object();
        add_prefixes(covered, newset);
        for (size_t i = 0; i < ne; i++)
            if ((long)i != mine)
                add_prefixes(covered, sets[i]);
        const char *k;
        json_t *v;
        json_object_foreach (sets[mine], k, v) {
            if (json_object_get(covered, k))
                continue;
            json_t *path = json_loads(k, 0, NULL);
            remove_at(merged, path, 0);
            json_decref(path);
        }
        json_decref(covered);
    }

    json_t *liveflat = walk_object(live, NULL), *mergedflat = walk_object(merged, NULL);
    json_t *changed = changed_fields(liveflat, mergedflat);
    json_t *found = json_array();
    bool any_lost = false;
    for (size_t i = 0; i < ne; i++) {
        if ((long)i == mine)
            continue;
        lost[i] = json_object();
        const char *k;
        json_t *v;
        json_object_foreach (changed, k, v) {
            if (!json_object_get(sets[i], k))
                continue;
            json_object_set_new(lost[i], k, json_true());
            char *field = field_name(k);
            json_array_append_new(
                found, json_pack("{s:s?,s:s}", "manager",
                                 json_string_value(json_object_get(json_array_get(entries, i),
                                                                   "manager")),
                                 "field", field));
            free(field);
            any_lost = true;
        }
    }

    json_t *res = NULL;
    if (any_lost && !force) {
        if (conflicts)
            *conflicts = json_incref(found);
        set_err(err, errlen, "Apply failed with %zu conflict%s", json_array_size(found),
                json_array_size(found) == 1 ? "" : "s");
        json_decref(merged);
    } else {
        /* A repeated apply that changes nothing keeps its entry as it was,
         * time included, as the API server does: it writes nothing then. */
        bool same = mine >= 0 && set_eq(sets[mine], newset) && !any_lost &&
                    values_equal(merged, live);
        json_t *mf = json_array();
        for (size_t i = 0; i < ne; i++) {
            const json_t *e = json_array_get(entries, i);
            json_t *ne_entry;
            if ((long)i == mine && same) {
                ne_entry = json_deep_copy(e);
            } else if ((long)i == mine) {
                ne_entry = json_object_size(newset) ? new_entry(manager, "Apply", api_version, now,
                                                                flat_to_fields(newset), NULL)
                                                    : NULL;
            } else {
                json_t *after = set_minus(sets[i], lost[i]);
                ne_entry = entry_with(e, sets[i], after);
                json_decref(after);
            }
            if (ne_entry)
                json_array_append_new(mf, ne_entry);
        }
        if (mine < 0 && json_object_size(newset))
            json_array_append_new(
                mf, new_entry(manager, "Apply", api_version, now, flat_to_fields(newset), NULL));
        set_managed_fields(merged, mf);
        res = merged;
    }

    for (size_t i = 0; i < ne; i++) {
        json_decref(sets[i]);
        json_decref(lost[i]);
    }
    free(sets);
    free(lost);
    json_decref(found);
    json_decref(changed);
    json_decref(liveflat);
    json_decref(mergedflat);
    json_decref(newset);
    return res;
}

void lc_k8s_track_update(json_t *obj, const json_t *old, const char *manager,
                         const char *api_version, const char *subresource, const char *now)
{
    json_t *meta = json_object_get(obj, "metadata");
    if (!json_is_object(meta))
        return;
    /* A write that does not carry managedFields keeps the stored ones. */
    const json_t *entries = json_object_get(meta, "managedFields");
    if (!json_is_array(entries))
        entries = json_object_get(json_object_get(old, "metadata"), "managedFields");

    json_t *newflat = walk_object(obj, NULL), *oldflat = walk_object(old, NULL);
    json_t *changed = changed_fields(oldflat, newflat);
    json_t *removed = set_minus(oldflat, newflat);
    json_t *taken = json_deep_copy(changed);
    json_object_update(taken, removed);

    json_t *mf = json_array();
    bool found = false;
    for (size_t i = 0; i < json_array_size(entries); i++) {
        const json_t *e = json_array_get(entries, i);
        json_t *before = entry_set(e), *after, *ne_entry;
        if (!found && is_entry(e, manager, "Update", subresource)) {
            found = true;
            json_t *u = json_deep_copy(before);
            json_object_update(u, changed);
            after = set_minus(u, removed);
            json_decref(u);
            if (json_object_size(after) == 0)
                ne_entry = NULL;
            else if (json_object_size(changed) == 0 && set_eq(before, after))
                ne_entry = json_deep_copy(e);
            else
                ne_entry = new_entry(manager, "Update", api_version, now, flat_to_fields(after),
                                     subresource);
        } else {
            after = set_minus(before, taken);
            ne_entry = entry_with(e, before, after);
        }
        if (ne_entry)
            json_array_append_new(mf, ne_entry);
        json_decref(before);
        json_decref(after);
    }
    if (!found && json_object_size(changed))
        json_array_append_new(mf, new_entry(manager, "Update", api_version, now,
                                            flat_to_fields(changed), subresource));
    set_managed_fields(obj, mf);

    json_decref(newflat);
    json_decref(oldflat);
    json_decref(changed);
    json_decref(removed);
    json_decref(taken);
}

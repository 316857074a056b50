/*
 * What kubernetes_secret (secret.c) and kubernetes_config_map
 * (configmap.c) share: an object of the core group named by namespace and
 * name that holds a `data` map of text and a `binary_data` map of base64,
 * with labels, annotations and the immutable flag. Its body is built here
 * from the attributes and applied with manifest.c's machinery (server-side
 * apply, field manager "sparkform"); read turns the live object back into
 * attributes through the same projection onto what sparkform manages, so
 * a key another manager added is never a diff while a managed key it
 * changed is. A Secret's data travels base64-encoded; the attributes
 * always hold the text.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "kube.h"
#include "util.h"

const struct sf_kube_dataobj sf_kube_secret_kind = {.kind = "Secret", .encoded = true,
                                                    .typed = true};
const struct sf_kube_dataobj sf_kube_config_map_kind = {.kind = "ConfigMap"};

/* Recorded as described, never read back. */
static const char *const local_attrs[] = {"kubeconfig", "kubeconfig_path", NULL};

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The text of len bytes as a JSON string, or NULL when they are not
 * UTF-8 text (or hold a NUL byte): such contents go to binary_data. */
static json_t *as_text(const void *data, size_t len)
{
    if (memchr(data, '\0', len))
        return NULL;
    return json_stringn(data, len);
}

/* ---------- the plan step's checks ---------- */

bool sf_kube_known_map(const json_t *v)
{
    /* The unknown value is an object too: never look inside it. */
    return json_is_object(v) && !sf_is_unknown(v);
}

/* A data key as Kubernetes takes it: [-._a-zA-Z0-9]+, at most 253. */
static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 253 || !strcmp(k, ".") || !strcmp(k, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("-._", k[i]) && !(k[i] >= 'a' && k[i] <= 'z') &&
            !(k[i] >= 'A' && k[i] <= 'Z') && !(k[i] >= '0' && k[i] <= '9'))
            return false;
    return true;
}

/* Makes every known member of map attr a string (integers and booleans
 * become their text, as in a YAML ConfigMap); data maps' keys are
 * checked; binary_data's values are made canonical base64. Messages name
 * keys, never values. */
static int check_map(struct sf_call *c, json_t *desired, const char *attr, bool data_keys,
                     bool base64)
{
    json_t *m = json_object_get(desired, attr);
    if (!sf_kube_known_map(m))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach (m, k, v) {
        if (data_keys && !key_ok(k)) {
            sf_kube_fail(c, SF_CLASS_INVALID,
                         "%s: key \"%s\" is not a valid data key (letters, digits, '-', '_' "
                         "and '.', at most 253)",
                         attr, k);
            return -1;
        }
        if (sf_value_has_unknown(v))
            continue;
        if (json_is_integer(v)) {
            char *t = sf_asprintf("%lld", (long long)json_integer_value(v));
            json_object_set_new(m, k, json_string(t));
            free(t);
        } else if (json_is_boolean(v)) {
            json_object_set_new(m, k, json_string(json_is_true(v) ? "true" : "false"));
        } else if (!json_is_string(v)) {
            sf_kube_fail(c, SF_CLASS_INVALID, "%s.%s: expected a string (quote the value)", attr,
                         k);
            return -1;
        } else if (base64) {
            size_t n;
            unsigned char *raw = sf_base64_decode(json_string_value(v), &n);
            if (!raw) {
                sf_kube_fail(c, SF_CLASS_INVALID, "%s.%s: the value is not base64", attr, k);
                return -1;
            }
            char *canon = sf_base64_encode(raw, n);
            json_object_set_new(m, k, json_string(canon));
            OPENSSL_cleanse(raw, n);
            free(raw);
            OPENSSL_cleanse(canon, strlen(canon));
            free(canon);
        }
    }
    return 0;
}

int sf_kube_dataobj_check(struct sf_call *c, json_t *desired)
{
    const char *name = str(desired, "name");
    if (json_is_string(json_object_get(desired, "name")) && !*name) {
        sf_kube_fail(c, SF_CLASS_INVALID, "name: must not be empty");
        return -1;
    }
    if (check_map(c, desired, "labels", false, false) < 0 ||
        check_map(c, desired, "annotations", false, false) < 0 ||
        check_map(c, desired, "data", true, false) < 0 ||
        check_map(c, desired, "binary_data", true, true) < 0)
        return -1;
    const json_t *data = json_object_get(desired, "data");
    const json_t *bin = json_object_get(desired, "binary_data");
    const char *k;
    json_t *v;
    if (sf_kube_known_map(data) && sf_kube_known_map(bin))
        json_object_foreach ((json_t *)bin, k, v)
            if (json_object_get(data, k)) {
                sf_kube_fail(c, SF_CLASS_INVALID,
                             "key \"%s\" is in both data and binary_data: give it once", k);
                return -1;
            }
    return 0;
}

/* ---------- bodies and attributes ---------- */

static bool non_empty(const json_t *m)
{
    return json_is_object(m) && json_object_size(m) > 0;
}

json_t *sf_kube_dataobj_body(const struct sf_kube_dataobj *d, const json_t *v)
{
    json_t *meta = json_pack("{s:s,s:s}", "name", str(v, "name"), "namespace",
                             *str(v, "namespace") ? str(v, "namespace") : "default");
    if (non_empty(json_object_get(v, "labels")))
        json_object_set_new(meta, "labels", json_deep_copy(json_object_get(v, "labels")));
    if (non_empty(json_object_get(v, "annotations")))
        json_object_set_new(meta, "annotations",
                            json_deep_copy(json_object_get(v, "annotations")));
    json_t *b = json_pack("{s:s,s:s,s:o}", "apiVersion", "v1", "kind", d->kind, "metadata", meta);
    if (d->typed)
        json_object_set_new(b, "type",
                            json_string(*str(v, "type") ? str(v, "type") : "Opaque"));
    const json_t *data = json_object_get(v, "data");
    const json_t *bin = json_object_get(v, "binary_data");
    const char *k;
    json_t *x;
    if (d->encoded) {
        /* One map on the wire: the text encoded, binary_data as given. */
        json_t *all = json_object();
        json_object_foreach ((json_t *)data, k, x) {
            const char *s = json_string_value(x);
            char *e = sf_base64_encode(s ? s : "", s ? strlen(s) : 0);
            json_object_set_new(all, k, json_string(e));
            OPENSSL_cleanse(e, strlen(e));
            free(e);
        }
        json_object_foreach ((json_t *)bin, k, x)
            json_object_set_new(all, k, json_string(json_is_string(x) ? json_string_value(x) : ""));
        if (json_object_size(all) > 0)
            json_object_set_new(b, "data", all);
        else
            json_decref(all);
    } else {
        if (non_empty(data))
            json_object_set_new(b, "data", json_deep_copy(data));
        if (non_empty(bin))
            json_object_set_new(b, "binaryData", json_deep_copy(bin));
    }
    if (json_is_true(json_object_get(v, "immutable")))
        json_object_set_new(b, "immutable", json_true());
    return b;
}

/* A map of the projection (labels, data, ...), or an empty one. */
static json_t *map_of(const json_t *o, const char *key)
{
    const json_t *m = json_object_get(o, key);
    return json_is_object(m) ? json_deep_copy(m) : json_object();
}

json_t *sf_kube_dataobj_attrs(const struct sf_kube_dataobj *d, const json_t *conn,
                              const json_t *live, const json_t *prior)
{
    const json_t *fields = sf_kube_managed_fields(live, SF_KUBE_MANAGER);
    json_t *applied = prior ? sf_kube_dataobj_body(d, prior) : NULL;
    /* An object sparkform never applied (an import) is taken whole: the
     * plan then shows what the description would change. */
    json_t *proj = sf_kube_project(live, fields, applied ? applied : fields ? NULL : live, true);
    const json_t *meta = json_object_get(live, "metadata");
    const json_t *pmeta = json_object_get(proj, "metadata");

    json_t *o = json_object();
    for (size_t i = 0; local_attrs[i]; i++) {
        const json_t *v = json_object_get(conn, local_attrs[i]);
        if (v)
            json_object_set_new(o, local_attrs[i], sf_value_copy(v));
    }
    json_object_set_new(o, "namespace", json_string(str(meta, "namespace")));
    json_object_set_new(o, "name", json_string(str(meta, "name")));
    if (d->typed)
        json_object_set_new(o, "type",
                            json_string(*str(live, "type") ? str(live, "type") : "Opaque"));
    json_object_set_new(o, "labels", map_of(pmeta, "labels"));
    json_object_set_new(o, "annotations", map_of(pmeta, "annotations"));
    json_t *data = json_object(), *bin = json_object();
    const json_t *pbin = json_object_get(prior, "binary_data");
    const char *k;
    json_t *x;
    if (d->encoded) {
        json_object_foreach (json_object_get(proj, "data"), k, x) {
            const char *s = json_string_value(x);
            size_t n = 0;
            unsigned char *raw = s ? sf_base64_decode(s, &n) : NULL;
            json_t *text = raw && !json_object_get(pbin, k) ? as_text(raw, n) : NULL;
            if (text)
                json_object_set_new(data, k, text);
            else
                json_object_set_new(bin, k, json_string(s ? s : ""));
            if (raw)
                OPENSSL_cleanse(raw, n);
            free(raw);
        }
    } else {
        json_decref(data);
        json_decref(bin);
        data = map_of(proj, "data");
        bin = map_of(proj, "binaryData");
    }
    json_object_set_new(o, "data", data);
    json_object_set_new(o, "binary_data", bin);
    json_object_set_new(o, "immutable", json_boolean(json_is_true(json_object_get(live, "immutable"))));
    char *id = sf_asprintf("%s/%s", str(meta, "namespace"), str(meta, "name"));
    json_object_set_new(o, "id", json_string(id));
    free(id);
    json_object_set_new(o, "uid", json_string(str(meta, "uid")));
    json_object_set_new(o, "resource_version", json_string(str(meta, "resourceVersion")));
    json_decref(proj);
    json_decref(applied);
    return o;
}

/* ---------- operations ---------- */

/* The manifest id of the object that attributes v name. Caller frees. */
static char *full_id(const struct sf_kube_dataobj *d, const json_t *v)
{
    return sf_asprintf("v1/%s/%s/%s", d->kind,
                       *str(v, "namespace") ? str(v, "namespace") : "default", str(v, "name"));
}

/* The kind of object a call's type makes. */
static const struct sf_kube_dataobj *kind_of(const struct sf_call *c)
{
    return strcmp(c->type, "kubernetes_secret") == 0 ? &sf_kube_secret_kind
                                                     : &sf_kube_config_map_kind;
}

int sf_kube_dataobj_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    const struct sf_kube_dataobj *d = kind_of(c);
    json_t *body = sf_kube_dataobj_body(d, desired);
    json_t *live;
    char *id;
    /* The description is the truth for what it names: a key another
     * manager holds is taken over, as kubectl apply would. */
    int rc = sf_kube_apply(c, desired, body, true, NULL, &live, &id);
    if (live)
        *out = sf_kube_dataobj_attrs(d, desired, live, desired);
    json_decref(live);
    json_decref(body);
    free(id);
    return rc;
}

int sf_kube_dataobj_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                           json_t **out)
{
    *out = NULL;
    const struct sf_kube_dataobj *d = kind_of(c);
    /* The API refuses any change to an immutable object's data and the
     * flag's clearing: it is made anew. */
    if (json_is_true(json_object_get(prior, "immutable"))) {
        char *id = full_id(d, prior);
        int rc = sf_kube_delete(c, prior, id, "Background");
        free(id);
        if (rc < 0)
            return rc;
    }
    return sf_kube_dataobj_create(c, desired, out);
}

int sf_kube_dataobj_delete(struct sf_call *c, const json_t *prior)
{
    const struct sf_kube_dataobj *d = kind_of(c);
    if (!*str(prior, "name"))
        return 0;
    char *id = full_id(d, prior);
    int rc = sf_kube_delete(c, prior, id, "Background");
    free(id);
    return rc;
}

int sf_kube_dataobj_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    const struct sf_kube_dataobj *d = kind_of(c);
    char *id = full_id(d, prior);
    json_t *live;
    int rc = sf_kube_read(c, prior, id, true, &live, NULL, NULL);
    if (live)
        *out = sf_kube_dataobj_attrs(d, prior, live, prior);
    json_decref(live);
    free(id);
    return rc;
}

int sf_kube_dataobj_import(struct sf_call *c, const char *id, json_t **out)
{
    *out = NULL;
    const struct sf_kube_dataobj *d = kind_of(c);
    /* "namespace/name" (or "name" in "default"), read as the manifest id
     * of the kind. */
    char *full = sf_asprintf("v1/%s/%s", d->kind, id);
    char *av, *kind, *ns, *name;
    if (strchr(id, '/') != strrchr(id, '/') ||
        sf_kube_id_parse(full, &av, &kind, &ns, &name) < 0) {
        sf_kube_fail(c, SF_CLASS_INVALID, "\"%s\" is not an id of the form namespace/name", id);
        free(full);
        return -1;
    }
    free(full);
    json_t *none = json_object();
    json_t *live;
    char *canon = sf_asprintf("v1/%s/%s/%s", d->kind, *ns ? ns : "default", name);
    int rc = sf_kube_read(c, none, canon, false, &live, NULL, NULL);
    if (live)
        *out = sf_kube_dataobj_attrs(d, none, live, NULL);
    json_decref(live);
    json_decref(none);
    free(canon);
    free(av);
    free(kind);
    free(ns);
    free(name);
    return rc;
}

/*
 * Defaults and validation of localcloud's Kubernetes objects: what the API
 * server fills in (spec.replicas, a Service's clusterIP, a Secret's
 * stringData turned into data, a CRD's names) and what it refuses with 422
 * Invalid and a cause per field.
 *
 * One structural-schema checker serves both kinds of type: a custom
 * resource is checked against its CRD's openAPIV3Schema (and pruned of
 * unknown fields, or refused for them with fieldValidation=Strict), a
 * built-in type against a small schema of its required fields written
 * below in the same OpenAPI dialect. Names, labels and the checks no
 * schema expresses (a selector that must match the template's labels, a
 * Secret's base64, a CRD's name) are written out.
 */
#include "base64.h"
#include "k8s.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---------- causes ---------- */

static void cause(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cause(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    json_array_append_new(causes,
                          json_pack("{s:s, s:s, s:s}", "reason", reason, "message", msg, "field", field));
    free(msg);
}

static char *child(const char *path, const char *key)
{
    return *path ? sf_asprintf("%s.%s", path, key) : sf_xstrdup(key);
}

/* A value as Kubernetes quotes it in messages. */
static char *shown(const json_t *v)
{
    if (json_is_string(v))
        return sf_asprintf("\"%s\"", json_string_value(v));
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    return s ? s : sf_xstrdup("?");
}

/* ---------- the structural schema checker ---------- */

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

struct walk {
    json_t *causes;
    bool strict; /* unknown fields are causes */
    bool prune;  /* unknown fields are dropped (custom resources) */
};

static void check(struct walk *w, const json_t *schema, json_t *v, const char *path);

static void check_object(struct walk *w, const json_t *schema, json_t *v, const char *path)
{
    json_t *props = json_object_get(schema, "properties");
    json_t *addl = json_object_get(schema, "additionalProperties");
    bool keep_unknown = json_is_true(json_object_get(schema, "x-kubernetes-preserve-unknown-fields")) ||
                        json_is_true(addl) || json_is_object(addl) || (!props && !addl);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(schema, "required"), i, r)
    {
        const char *name = json_string_value(r);
        if (name && !json_object_get(v, name)) {
            char *f = child(path, name);
            cause(w->causes, "FieldValueRequired", f, "Required value");
            free(f);
        }
    }
    const char *key;
    json_t *m, *tmp;
    json_object_foreach_safe(v, tmp, key, m)
    {
        char *f = child(path, key);
        json_t *ps = json_object_get(props, key);
        if (!ps && json_is_object(addl))
            ps = addl;
        if (ps) {
            check(w, ps, m, f);
        } else if (!keep_unknown && !(!*path && (strcmp(key, "apiVersion") == 0 ||
                                                 strcmp(key, "kind") == 0 ||
                                                 strcmp(key, "metadata") == 0))) {
            if (w->strict)
                cause(w->causes, "FieldValueUnknown", f, "unknown field \"%s\"", f);
            else if (w->prune)
                json_object_del(v, key);
        }
        free(f);
    }
}

static void check(struct walk *w, const json_t *schema, json_t *v, const char *path)
{
    if (!json_is_object(schema))
        return;
    if (json_is_null(v)) {
        if (!json_is_true(json_object_get(schema, "nullable")) && lc_k8s_str(schema, "type")) {
            cause(w->causes, "FieldValueTypeInvalid", path,
                  "Invalid value: \"null\": %s in body must be of type %s: \"null\"", path,
                  lc_k8s_str(schema, "type"));
        }
        return;
    }
    const char *want = lc_k8s_str(schema, "type");
    const char *have = type_of(v);
    bool int_or_string = json_is_true(json_object_get(schema, "x-kubernetes-int-or-string"));
    if (int_or_string) {
        if (!json_is_integer(v) && !json_is_string(v)) {
            char *s = shown(v);
            cause(w->causes, "FieldValueTypeInvalid", path,
                  "Invalid value: %s: %s in body must be of type integer or string: %s", s, path, s);
            free(s);
        }
        return;
    }
    if (want && strcmp(want, have) != 0 &&
        !(strcmp(want, "number") == 0 && strcmp(have, "integer") == 0)) {
        char *s = shown(v);
        cause(w->causes, "FieldValueTypeInvalid", path,
              "Invalid value: \"%s\": %s in body must be of type %s: %s", have, path, want, s);
        free(s);
        return;
    }
    json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        bool ok = false;
        size_t i;
        json_t *e;
        struct sf_buf allowed = {0};
        json_array_foreach(en, i, e)
        {
            ok |= json_equal(e, v);
            char *s = shown(e);
            sf_buf_printf(&allowed, "%s%s", i ? ", " : "", s);
            free(s);
        }
        if (!ok) {
            char *s = shown(v);
            cause(w->causes, "FieldValueNotSupported", path,
                  "Unsupported value: %s: supported values: %s", s, allowed.s ? allowed.s : "");
            free(s);
        }
        sf_buf_free(&allowed);
    }
    json_t *lim;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if ((lim = json_object_get(schema, "minimum")) && d < json_number_value(lim))
            cause(w->causes, "FieldValueInvalid", path,
                  "Invalid value: %g: %s in body should be greater than or equal to %g", d, path,
                  json_number_value(lim));
        if ((lim = json_object_get(schema, "maximum")) && d > json_number_value(lim))
            cause(w->causes, "FieldValueInvalid", path,
                  "Invalid value: %g: %s in body should be less than or equal to %g", d, path,
                  json_number_value(lim));
    }
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if ((lim = json_object_get(schema, "minLength")) && (json_int_t)n < json_integer_value(lim))
            cause(w->causes, "FieldValueInvalid", path,
                  "Invalid value: \"%s\": %s in body should be at least %lld chars long",
                  json_string_value(v), path, (long long)json_integer_value(lim));
        if ((lim = json_object_get(schema, "maxLength")) && (json_int_t)n > json_integer_value(lim))
            cause(w->causes, "FieldValueTooLong", path,
                  "Too long: may not be longer than %lld", (long long)json_integer_value(lim));
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if ((lim = json_object_get(schema, "minItems")) && (json_int_t)n < json_integer_value(lim)) {
            if (n == 0)
                cause(w->causes, "FieldValueRequired", path, "Required value");
            else
                cause(w->causes, "FieldValueInvalid", path,
                      "Invalid value: %zu: %s in body should have at least %lld items", n, path,
                      (long long)json_integer_value(lim));
        }
        if ((lim = json_object_get(schema, "maxItems")) && (json_int_t)n > json_integer_value(lim))
            cause(w->causes, "FieldValueTooMany", path, "Too many: %zu: must have at most %lld items",
                  n, (long long)json_integer_value(lim));
        json_t *items = json_object_get(schema, "items");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            char *f = sf_asprintf("%s[%zu]", path, i);
            check(w, items, e, f);
            free(f);
        }
    }
    if (json_is_object(v))
        check_object(w, schema, v, path);
}

/* ---------- built-in types' schemas ---------- */

#define CONTAINERS                                                                          \
    "{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"object\",\"required\":[\"name\"," \
    "\"image\"],\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1},"              \
    "\"image\":{\"type\":\"string\",\"minLength\":1},\"ports\":{\"type\":\"array\",\"items\":" \
    "{\"type\":\"object\",\"required\":[\"containerPort\"],\"properties\":{\"containerPort\":" \
    "{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535}}}}}}}"
#define POD_SPEC "{\"type\":\"object\",\"required\":[\"containers\"],\"properties\":{\"containers\":" CONTAINERS "}}"
#define TEMPLATE "{\"type\":\"object\",\"required\":[\"spec\"],\"properties\":{\"spec\":" POD_SPEC "}}"
#define WORKLOAD                                                                             \
    "{\"properties\":{\"spec\":{\"type\":\"object\",\"required\":[\"selector\",\"template\"]," \
    "\"properties\":{\"replicas\":{\"type\":\"integer\",\"minimum\":0},\"selector\":"         \
    "{\"type\":\"object\"},\"template\":" TEMPLATE "}}},\"required\":[\"spec\"]}"

static const struct {
    const char *plural, *schema;
} builtin_schemas[] = {
    {"deployments", WORKLOAD},
    {"statefulsets", WORKLOAD},
    {"daemonsets", WORKLOAD},
    {"pods", "{\"required\":[\"spec\"],\"properties\":{\"spec\":" POD_SPEC "}}"},
    {"jobs", "{\"required\":[\"spec\"],\"properties\":{\"spec\":{\"type\":\"object\",\"required\":"
             "[\"template\"],\"properties\":{\"template\":" TEMPLATE "}}}}"},
    {"cronjobs", "{\"required\":[\"spec\"],\"properties\":{\"spec\":{\"type\":\"object\","
                 "\"required\":[\"schedule\",\"jobTemplate\"],\"properties\":{\"schedule\":"
                 "{\"type\":\"string\",\"minLength\":1},\"jobTemplate\":{\"type\":\"object\","
                 "\"required\":[\"spec\"],\"properties\":{\"spec\":{\"type\":\"object\","
                 "\"required\":[\"template\"],\"properties\":{\"template\":" TEMPLATE "}}}}}}}}"},
    {"services", "{\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{\"type\":"
                 "{\"type\":\"string\",\"enum\":[\"ClusterIP\",\"NodePort\",\"LoadBalancer\","
                 "\"ExternalName\"]},\"ports\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
                 "\"required\":[\"port\"],\"properties\":{\"port\":{\"type\":\"integer\","
                 "\"minimum\":1,\"maximum\":65535},\"protocol\":{\"type\":\"string\",\"enum\":"
                 "[\"TCP\",\"UDP\",\"SCTP\"]}}}}}}}}"},
    {"configmaps", "{\"properties\":{\"data\":{\"type\":\"object\",\"additionalProperties\":"
                   "{\"type\":\"string\"}},\"binaryData\":{\"type\":\"object\","
                   "\"additionalProperties\":{\"type\":\"string\"}}}}"},
    {"secrets", "{\"properties\":{\"data\":{\"type\":\"object\",\"additionalProperties\":"
                "{\"type\":\"string\"}},\"type\":{\"type\":\"string\"}}}"},
    {"roles", "{\"properties\":{\"rules\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
              "\"required\":[\"verbs\"],\"properties\":{\"verbs\":{\"type\":\"array\","
              "\"minItems\":1}}}}}}"},
    {"clusterroles", "{\"properties\":{\"rules\":{\"type\":\"array\",\"items\":{\"type\":"
                     "\"object\",\"required\":[\"verbs\"],\"properties\":{\"verbs\":{\"type\":"
                     "\"array\",\"minItems\":1}}}}}}"},
    {"rolebindings", "{\"required\":[\"roleRef\"],\"properties\":{\"roleRef\":{\"type\":\"object\","
                     "\"required\":[\"kind\",\"name\"]},\"subjects\":{\"type\":\"array\",\"items\":"
                     "{\"type\":\"object\",\"required\":[\"kind\",\"name\"]}}}}"},
    {"clusterrolebindings", "{\"required\":[\"roleRef\"],\"properties\":{\"roleRef\":{\"type\":"
                            "\"object\",\"required\":[\"kind\",\"name\"]},\"subjects\":{\"type\":"
                            "\"array\",\"items\":{\"type\":\"object\",\"required\":[\"kind\","
                            "\"name\"]}}}}"},
    {"customresourcedefinitions",
     "{\"required\":[\"spec\"],\"properties\":{\"spec\":{\"type\":\"object\",\"required\":"
     "[\"group\",\"names\",\"scope\",\"versions\"],\"properties\":{\"group\":{\"type\":\"string\","
     "\"minLength\":1},\"scope\":{\"type\":\"string\",\"enum\":[\"Namespaced\",\"Cluster\"]},"
     "\"names\":{\"type\":\"object\",\"required\":[\"plural\",\"kind\"],\"properties\":{"
     "\"plural\":{\"type\":\"string\",\"minLength\":1},\"kind\":{\"type\":\"string\","
     "\"minLength\":1}}},\"versions\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":"
     "\"object\",\"required\":[\"name\",\"served\",\"storage\"],\"properties\":{\"name\":"
     "{\"type\":\"string\",\"minLength\":1},\"served\":{\"type\":\"boolean\"},\"storage\":"
     "{\"type\":\"boolean\"}}}}}}}}"},
};

static json_t *builtin_schema(const char *plural)
{
    static json_t *parsed[sizeof(builtin_schemas) / sizeof(builtin_schemas[0])];
    for (size_t i = 0; i < sizeof(builtin_schemas) / sizeof(builtin_schemas[0]); i++) {
        if (strcmp(builtin_schemas[i].plural, plural) != 0)
            continue;
        if (!parsed[i]) /* under the world lock */
            parsed[i] = json_loads(builtin_schemas[i].schema, 0, NULL);
        return parsed[i];
    }
    return NULL;
}

/* ---------- names and labels ---------- */

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1123: a label (no dots, at most 63) or a subdomain (dots, 253). */
static bool dns_name(const char *s, bool label)
{
    size_t n = strlen(s);
    if (n == 0 || n > (label ? 63u : 253u) || !alnum(s[0]) || !alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!alnum(s[i]) && s[i] != '-' && !(s[i] == '.' && !label))
            return false;
    return true;
}

static bool label_value(const char *s)
{
    size_t n = strlen(s);
    if (n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool an = alnum(c) || (c >= 'A' && c <= 'Z');
        if (!an && !((c == '-' || c == '_' || c == '.') && i > 0 && i < n - 1))
            return false;
    }
    return true;
}

static bool label_key(const char *s)
{
    const char *slash = strrchr(s, '/');
    const char *name = slash ? slash + 1 : s;
    if (slash) {
        char *prefix = sf_xstrndup(s, (size_t)(slash - s));
        bool ok = dns_name(prefix, false);
        free(prefix);
        if (!ok)
            return false;
    }
    return *name && label_value(name);
}

static void check_meta(const struct lc_k8s_type *t, json_t *obj, json_t *causes)
{
    json_t *m = json_object_get(obj, "metadata");
    const char *name = lc_k8s_str(m, "name");
    bool label = strcmp(t->plural, "namespaces") == 0 || strcmp(t->plural, "services") == 0;
    if (!name || !*name) {
        cause(causes, "FieldValueRequired", "metadata.name", "Required value: name or generateName is required");
    } else if (!dns_name(name, label)) {
        cause(causes, "FieldValueInvalid", "metadata.name",
              "Invalid value: \"%s\": a lowercase RFC 1123 %s must consist of lower case "
              "alphanumeric characters, '-'%s, and must start and end with an alphanumeric "
              "character",
              name, label ? "label" : "subdomain", label ? "" : " or '.'");
    }
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(m, "labels"), key, v)
    {
        char *f = sf_asprintf("metadata.labels");
        if (!label_key(key))
            cause(causes, "FieldValueInvalid", f,
                  "Invalid value: \"%s\": name part must consist of alphanumeric characters, "
                  "'-', '_' or '.', and must start and end with an alphanumeric character",
                  key);
        else if (!json_is_string(v) || !label_value(json_string_value(v)))
            cause(causes, "FieldValueInvalid", f,
                  "Invalid value: %s: a valid label must be an empty string or consist of "
                  "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                  "alphanumeric character",
                  json_is_string(v) ? json_string_value(v) : "(not a string)");
        free(f);
    }
    json_object_foreach(json_object_get(m, "annotations"), key, v)
        if (!json_is_string(v))
            cause(causes, "FieldValueTypeInvalid", "metadata.annotations",
                  "Invalid value: the value of annotation \"%s\" must be a string", key);
}

/* A workload's selector must select its own Pod template. */
static void check_selector(json_t *obj, json_t *causes)
{
    json_t *spec = json_object_get(obj, "spec");
    json_t *ml = json_object_get(json_object_get(spec, "selector"), "matchLabels");
    json_t *tl = json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"),
                                 "labels");
    const char *key;
    json_t *v;
    json_object_foreach(ml, key, v)
    {
        json_t *have = json_object_get(tl, key);
        if (!have || !json_equal(have, v)) {
            cause(causes, "FieldValueInvalid", "spec.template.metadata.labels",
                  "Invalid value: the selector does not match template labels (%s)", key);
            return;
        }
    }
}

json_t *lc_k8s_validate(const struct lc_k8s_type *t, json_t *obj, bool strict)
{
    json_t *causes = json_array();
    check_meta(t, obj, causes);
    struct walk w = {causes, false, false};
    if (t->crd) {
        w.strict = strict;
        w.prune = true;
        if (t->schema)
            check(&w, t->schema, obj, "");
    } else {
        json_t *schema = builtin_schema(t->plural);
        if (schema)
            check(&w, schema, obj, "");
    }
    const char *p = t->plural;
    if (!t->crd && (strcmp(p, "deployments") == 0 || strcmp(p, "statefulsets") == 0 ||
                    strcmp(p, "daemonsets") == 0))
        check_selector(obj, causes);
    if (!t->crd && strcmp(p, "jobs") == 0) {
        const char *rp = lc_k8s_str(json_object_get(json_object_get(json_object_get(obj, "spec"),
                                                              "template"),
                                              "spec"),
                              "restartPolicy");
        if (json_object_get(obj, "spec") && (!rp || (strcmp(rp, "Never") && strcmp(rp, "OnFailure"))))
            cause(causes, rp ? "FieldValueNotSupported" : "FieldValueRequired",
                  "spec.template.spec.restartPolicy",
                  "%s: supported values: \"OnFailure\", \"Never\"",
                  rp ? "Unsupported value" : "Required value");
    }
    if (!t->crd && strcmp(p, "secrets") == 0) {
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(obj, "data"), key, v)
        {
            size_t n;
            unsigned char *d = json_is_string(v) ? lc_unbase64(json_string_value(v), &n) : NULL;
            if (json_is_string(v) && !d) {
                char *f = sf_asprintf("data[%s]", key);
                cause(causes, "FieldValueInvalid", f, "Invalid value: illegal base64 data");
                free(f);
            }
            free(d);
        }
    }
    if (!t->crd && strcmp(p, "customresourcedefinitions") == 0 && json_array_size(causes) == 0) {
        json_t *spec = json_object_get(obj, "spec");
        const char *want_plural = lc_k8s_str(json_object_get(spec, "names"), "plural");
        char *want = sf_asprintf("%s.%s", want_plural, lc_k8s_str(spec, "group"));
        const char *name = lc_k8s_str(json_object_get(obj, "metadata"), "name");
        if (strcmp(want, name) != 0)
            cause(causes, "FieldValueInvalid", "metadata.name",
                  "Invalid value: \"%s\": must be spec.names.plural+\".\"+spec.group", name);
        free(want);
        size_t i, storage = 0;
        json_t *v;
        json_array_foreach(json_object_get(spec, "versions"), i, v) storage +=
            json_is_true(json_object_get(v, "storage"));
        if (storage != 1)
            cause(causes, "FieldValueInvalid", "spec.versions",
                  "Invalid value: must have exactly one version marked as storage version");
    }
    if (json_array_size(causes) == 0) {
        json_decref(causes);
        return NULL;
    }
    return causes;
}

/* ---------- defaults ---------- */

static json_t *member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, key, v);
    }
    return v;
}

static void set_default(json_t *o, const char *key, json_t *v)
{
    if (json_is_object(o) && !json_object_get(o, key))
        json_object_set_new(o, key, v);
    else
        json_decref(v);
}

/* 10.96.0.0/12, from the name: stable across a delete and re-create. */
static char *cluster_ip(const json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    char *key = sf_asprintf("%s/%s", lc_k8s_str(m, "namespace") ? lc_k8s_str(m, "namespace") : "",
                            lc_k8s_str(m, "name") ? lc_k8s_str(m, "name") : "");
    unsigned h = 2166136261u;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    free(key);
    unsigned host = 10 + h % (1u << 20) % ((1u << 20) - 20);
    return sf_asprintf("10.%u.%u.%u", 96 + (host >> 16), (host >> 8) & 255, host & 255);
}

void lc_k8s_default(const struct lc_k8s_type *t, json_t *obj)
{
    if (t->crd)
        return;
    const char *p = t->plural;
    json_t *spec = json_object_get(obj, "spec");
    if (strcmp(p, "namespaces") == 0) {
        json_t *labels = member(member(obj, "metadata"), "labels");
        const char *name = lc_k8s_str(json_object_get(obj, "metadata"), "name");
        if (name)
            json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
        set_default(member(obj, "spec"), "finalizers", json_pack("[s]", "kubernetes"));
        set_default(member(obj, "status"), "phase", json_string("Active"));
    } else if ((strcmp(p, "deployments") == 0 || strcmp(p, "statefulsets") == 0 ||
                strcmp(p, "daemonsets") == 0) &&
               json_is_object(spec)) {
        /* kubectl rollout status reads the update strategy */
        if (strcmp(p, "daemonsets") != 0)
            set_default(spec, "replicas", json_integer(1));
        if (strcmp(p, "deployments") == 0)
            set_default(spec, "strategy",
                        json_pack("{s:s, s:{s:s, s:s}}", "type", "RollingUpdate", "rollingUpdate",
                                  "maxUnavailable", "25%", "maxSurge", "25%"));
        else if (strcmp(p, "statefulsets") == 0)
            set_default(spec, "updateStrategy",
                        json_pack("{s:s, s:{s:i}}", "type", "RollingUpdate", "rollingUpdate",
                                  "partition", 0));
        else
            set_default(spec, "updateStrategy",
                        json_pack("{s:s, s:{s:i, s:i}}", "type", "RollingUpdate",
                                  "rollingUpdate", "maxUnavailable", 1, "maxSurge", 0));
    } else if (strcmp(p, "jobs") == 0 && json_is_object(spec)) {
        set_default(spec, "completions", json_integer(1));
        set_default(spec, "parallelism", json_integer(1));
        set_default(spec, "backoffLimit", json_integer(6));
    } else if (strcmp(p, "services") == 0) {
        spec = member(obj, "spec");
        set_default(spec, "type", json_string("ClusterIP"));
        const char *type = lc_k8s_str(spec, "type");
        if (type && strcmp(type, "ExternalName") != 0 && !lc_k8s_str(spec, "clusterIP")) {
            char *ip = cluster_ip(obj);
            json_object_set_new(spec, "clusterIP", json_string(ip));
            json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
            free(ip);
        }
        set_default(spec, "sessionAffinity", json_string("None"));
        size_t i;
        json_t *port;
        json_array_foreach(json_object_get(spec, "ports"), i, port)
        {
            set_default(port, "protocol", json_string("TCP"));
            json_t *pn = json_object_get(port, "port");
            if (pn)
                set_default(port, "targetPort", json_incref(pn));
        }
    } else if (strcmp(p, "secrets") == 0) {
        set_default(obj, "type", json_string("Opaque"));
        json_t *sd = json_object_get(obj, "stringData");
        const char *key;
        json_t *v;
        if (json_is_object(sd)) {
            json_t *data = member(obj, "data");
            json_object_foreach(sd, key, v)
            {
                const char *s = json_string_value(v);
                if (!s)
                    continue;
                char *b = sf_base64_encode((const unsigned char *)s, strlen(s));
                json_object_set_new(data, key, json_string(b));
                free(b);
            }
            json_object_del(obj, "stringData");
        }
    } else if (strcmp(p, "customresourcedefinitions") == 0 && json_is_object(spec)) {
        json_t *names = json_object_get(spec, "names");
        const char *kind = lc_k8s_str(names, "kind");
        if (json_is_object(names) && kind) {
            char *lower = sf_xstrdup(kind);
            for (char *c = lower; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            set_default(names, "singular", json_string(lower));
            free(lower);
            char *lk = sf_asprintf("%sList", kind);
            set_default(names, "listKind", json_string(lk));
            free(lk);
        }
        set_default(spec, "conversion", json_pack("{s:s}", "strategy", "None"));
    }
}

/*
 * Kubernetes protobuf request bodies as JSON.
 *
 * kubectl's typed generators (create namespace, configmap, secret,
 * serviceaccount) POST their object as application/vnd.kubernetes.protobuf
 * rather than JSON. The body is the magic "k8s\0" followed by a
 * runtime.Unknown message whose typeMeta names the kind and whose raw field
 * holds the object's own message (k8s.io/api/core/v1 generated.proto). This
 * file turns such a body into the JSON object the rest of localcloud already
 * understands, mirroring what Go's encoding/json prints for the decoded
 * struct: fields tagged omitempty vanish when empty (gogo encodes every
 * string, even ""), maps come out as objects, bytes as base64 and an empty
 * metav1.Time as null.
 *
 * `kubectl auth can-i` sends its SelfSubjectAccessReview the same way, and
 * authorizing proxies may send TokenReviews and SubjectAccessReviews so.
 *
 * Decoding is driven by a small schema of those kinds; field numbers not
 * in it (managedFields, the retired clusterName, anything newer) are skipped
 * by wire type, the way the Go decoder tolerates unknown fields. Only the
 * libc, jansson and OpenSSL are used, so the file stands alone.
 */
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *lc_k8s_proto_decode(const void *body, size_t len, char *err, size_t errlen);

/* The schema nests at most three messages deep (Namespace, its status, a
 * condition; unknown fields are skipped unparsed); the limit only guards
 * against a future schema that refers to itself. */
#define PB_MAX_DEPTH 32

enum wire { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

/* How one field of a message becomes JSON. */
enum kind {
    K_STR,        /* string, omitted when empty (Go omitempty) */
    K_STR_ALWAYS, /* string, kept even when empty (no omitempty) */
    K_INT64,      /* int64, omitted when 0 */
    K_INT64_PTR,  /* *int64: present means printed, 0 included */
    K_BOOL_PTR,   /* *bool */
    K_TIME,       /* metav1.Time: RFC 3339 seconds, null for the zero time */
    K_MAP_STR,    /* map<string,string> */
    K_MAP_BYTES,  /* map<string,bytes>: values base64 */
    K_LIST_STR,   /* repeated string */
    K_MSG,        /* a nested message (merged when repeated on the wire) */
    K_LIST_MSG,   /* repeated message */
};

struct msg_spec;

struct field_spec {
    uint32_t num;
    const char *json;
    enum kind kind;
    const struct msg_spec *sub; /* K_MSG, K_LIST_MSG */
};

struct msg_spec {
    const char *name; /* for error messages */
    const struct field_spec *fields;
    size_t n;
};

#define MSG(var, label, ...)                                                                    \
    static const struct field_spec var##_fields[] = {__VA_ARGS__};                             \
    static const struct msg_spec var = {label, var##_fields,                                   \
                                        sizeof var##_fields / sizeof var##_fields[0]}

/* Field numbers as in k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
 * and k8s.io/api/core/v1/generated.proto, listed in the Go structs' order.
 * JSON keys come out in the order the fields arrive on the wire. */
MSG(owner_ref, "OwnerReference", {5, "apiVersion", K_STR_ALWAYS, NULL},
    {1, "kind", K_STR_ALWAYS, NULL}, {3, "name", K_STR_ALWAYS, NULL},
    {4, "uid", K_STR_ALWAYS, NULL}, {6, "controller", K_BOOL_PTR, NULL},
    {7, "blockOwnerDeletion", K_BOOL_PTR, NULL});

/* 15 (clusterName, removed) and 17 (managedFields, owned by the server) are
 * left out on purpose and so skipped. */
MSG(object_meta, "ObjectMeta", {1, "name", K_STR, NULL}, {2, "generateName", K_STR, NULL},
    {3, "namespace", K_STR, NULL}, {4, "selfLink", K_STR, NULL}, {5, "uid", K_STR, NULL},
    {6, "resourceVersion", K_STR, NULL}, {7, "generation", K_INT64, NULL},
    {8, "creationTimestamp", K_TIME, NULL}, {9, "deletionTimestamp", K_TIME, NULL},
    {10, "deletionGracePeriodSeconds", K_INT64_PTR, NULL}, {11, "labels", K_MAP_STR, NULL},
    {12, "annotations", K_MAP_STR, NULL}, {13, "ownerReferences", K_LIST_MSG, &owner_ref},
    {14, "finalizers", K_LIST_STR, NULL});

MSG(namespace_spec, "NamespaceSpec", {1, "finalizers", K_LIST_STR, NULL});

MSG(namespace_cond, "NamespaceCondition", {1, "type", K_STR_ALWAYS, NULL},
    {2, "status", K_STR_ALWAYS, NULL}, {4, "lastTransitionTime", K_TIME, NULL},
    {5, "reason", K_STR, NULL}, {6, "message", K_STR, NULL});

MSG(namespace_status, "NamespaceStatus", {1, "phase", K_STR, NULL},
    {2, "conditions", K_LIST_MSG, &namespace_cond});

MSG(namespace_msg, "Namespace", {1, "metadata", K_MSG, &object_meta},
    {2, "spec", K_MSG, &namespace_spec}, {3, "status", K_MSG, &namespace_status});

MSG(configmap_msg, "ConfigMap", {1, "metadata", K_MSG, &object_meta},
    {4, "immutable", K_BOOL_PTR, NULL}, {2, "data", K_MAP_STR, NULL},
    {3, "binaryData", K_MAP_BYTES, NULL});

MSG(secret_msg, "Secret", {1, "metadata", K_MSG, &object_meta},
    {5, "immutable", K_BOOL_PTR, NULL}, {2, "data", K_MAP_BYTES, NULL},
    {4, "stringData", K_MAP_STR, NULL}, {3, "type", K_STR, NULL});

MSG(object_ref, "ObjectReference", {1, "kind", K_STR, NULL}, {2, "namespace", K_STR, NULL},
    {3, "name", K_STR, NULL}, {4, "uid", K_STR, NULL}, {5, "apiVersion", K_STR, NULL},
    {6, "resourceVersion", K_STR, NULL}, {7, "fieldPath", K_STR, NULL});

MSG(local_object_ref, "LocalObjectReference", {1, "name", K_STR, NULL});

MSG(serviceaccount_msg, "ServiceAccount", {1, "metadata", K_MSG, &object_meta},
    {2, "secrets", K_LIST_MSG, &object_ref}, {3, "imagePullSecrets", K_LIST_MSG, &local_object_ref},
    {4, "automountServiceAccountToken", K_BOOL_PTR, NULL});

/* The reviews `kubectl auth can-i` and authorizing proxies send
 * (k8s.io/api/authorization/v1 and authentication/v1 generated.proto);
 * selectors and a SubjectAccessReview's extra are skipped. */
MSG(resource_attrs, "ResourceAttributes", {1, "namespace", K_STR, NULL},
    {2, "verb", K_STR, NULL}, {3, "group", K_STR, NULL}, {4, "version", K_STR, NULL},
    {5, "resource", K_STR, NULL}, {6, "subresource", K_STR, NULL}, {7, "name", K_STR, NULL});

MSG(nonresource_attrs, "NonResourceAttributes", {1, "path", K_STR, NULL},
    {2, "verb", K_STR, NULL});

MSG(ssar_spec, "SelfSubjectAccessReviewSpec", {1, "resourceAttributes", K_MSG, &resource_attrs},
    {2, "nonResourceAttributes", K_MSG, &nonresource_attrs});

MSG(ssar_msg, "SelfSubjectAccessReview", {1, "metadata", K_MSG, &object_meta},
    {2, "spec", K_MSG, &ssar_spec});

MSG(ssrr_spec, "SelfSubjectRulesReviewSpec", {1, "namespace", K_STR, NULL});

MSG(ssrr_msg, "SelfSubjectRulesReview", {1, "metadata", K_MSG, &object_meta},
    {2, "spec", K_MSG, &ssrr_spec});

MSG(sar_spec, "SubjectAccessReviewSpec", {1, "resourceAttributes", K_MSG, &resource_attrs},
    {2, "nonResourceAttributes", K_MSG, &nonresource_attrs}, {3, "user", K_STR, NULL},
    {4, "groups", K_LIST_STR, NULL}, {6, "uid", K_STR, NULL});

MSG(sar_msg, "SubjectAccessReview", {1, "metadata", K_MSG, &object_meta},
    {2, "spec", K_MSG, &sar_spec});

MSG(tokenreview_spec, "TokenReviewSpec", {1, "token", K_STR, NULL},
    {2, "audiences", K_LIST_STR, NULL});

MSG(tokenreview_msg, "TokenReview", {1, "metadata", K_MSG, &object_meta},
    {2, "spec", K_MSG, &tokenreview_spec});

/* The kinds understood, by apiVersion. */
static const struct {
    const char *api_version;
    const char *kind;
    const struct msg_spec *msg;
} kinds[] = {
    {"v1", "Namespace", &namespace_msg},
    {"v1", "ConfigMap", &configmap_msg},
    {"v1", "Secret", &secret_msg},
    {"v1", "ServiceAccount", &serviceaccount_msg},
    {"authorization.k8s.io/v1", "SelfSubjectAccessReview", &ssar_msg},
    {"authorization.k8s.io/v1", "SelfSubjectRulesReview", &ssrr_msg},
    {"authorization.k8s.io/v1", "SubjectAccessReview", &sar_msg},
    {"authentication.k8s.io/v1", "TokenReview", &tokenreview_msg},
};

/* ---------- reading the wire format ---------- */

struct ctx {
    char *err;
    size_t errlen;
    int depth;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int k = snprintf(c->err, c->errlen, "protobuf body: ");
        if (k >= 0 && (size_t)k < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

struct buf {
    const unsigned char *p, *end;
};

struct field {
    uint32_t num;
    int wt;
    uint64_t v;     /* varint, 64- and 32-bit values */
    struct buf sub; /* length-delimited payload */
};

/* 0, or -1 with err. A varint fits 64 bits: at most ten bytes, the tenth
 * holding only the top bit (so it cannot continue either). */
static int read_varint(struct ctx *c, struct buf *b, uint64_t *out, const char *where)
{
    uint64_t v = 0;
    for (int i = 0;; i++) {
        if (b->p >= b->end)
            return fail(c, "truncated varint in %s", where);
        unsigned char byte = *b->p++;
        if (i == 9 && byte > 1)
            return fail(c, "bad varint (over 64 bits or 10 bytes) in %s", where);
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
}

/* The next field of b: 1 with f filled, 0 at the end, -1 with err. */
static int next_field(struct ctx *c, struct buf *b, struct field *f, const char *where)
{
    if (b->p >= b->end)
        return 0;
    uint64_t key;
    if (read_varint(c, b, &key, where) < 0)
        return -1;
    uint64_t num = key >> 3;
    f->wt = (int)(key & 7);
    if (num == 0 || num > 0x1fffffff)
        return fail(c, "invalid field number %llu in %s", (unsigned long long)num, where);
    f->num = (uint32_t)num;
    f->v = 0;
    f->sub.p = f->sub.end = b->p;
    size_t left = (size_t)(b->end - b->p);
    switch (f->wt) {
    case WT_VARINT:
        return read_varint(c, b, &f->v, where) < 0 ? -1 : 1;
    case WT_I64:
    case WT_I32: {
        size_t n = f->wt == WT_I64 ? 8 : 4;
        if (left < n)
            return fail(c, "truncated fixed-width field %u in %s", f->num, where);
        for (size_t i = 0; i < n; i++)
            f->v |= (uint64_t)b->p[i] << (8 * i);
        b->p += n;
        return 1;
    }
    case WT_LEN: {
        uint64_t n;
        if (read_varint(c, b, &n, where) < 0)
            return -1;
        if (n > (uint64_t)(b->end - b->p))
            return fail(c, "field %u of %s runs past its end (%llu bytes, %zu left)", f->num,
                        where, (unsigned long long)n, (size_t)(b->end - b->p));
        f->sub.p = b->p;
        f->sub.end = b->p + n;
        b->p += n;
        return 1;
    }
    case WT_SGROUP:
    case WT_EGROUP:
        /* Kubernetes never uses groups; accepting them would mean tracking
         * nesting for nothing. */
        return fail(c, "unsupported group wire type %d (field %u) in %s", f->wt, f->num, where);
    default:
        return fail(c, "invalid wire type %d (field %u) in %s", f->wt, f->num, where);
    }
}

static int want_wire(struct ctx *c, const struct field *f, int wt, const char *msg,
                     const char *name)
{
    if (f->wt != wt)
        return fail(c, "wrong wire type %d for %s.%s", f->wt, msg, name);
    return 0;
}

static size_t sub_len(const struct field *f)
{
    return (size_t)(f->sub.end - f->sub.p);
}

/* A string field's value; NULL (with err) unless it is valid UTF-8, which
 * jansson checks and Go's JSON encoder would otherwise mangle. */
static json_t *utf8_string(struct ctx *c, const unsigned char *p, size_t n, const char *msg,
                           const char *name)
{
    json_t *s = json_stringn((const char *)p, n);
    if (!s)
        fail(c, "invalid UTF-8 in %s.%s", msg, name);
    return s;
}

static json_t *base64(struct ctx *c, const unsigned char *p, size_t n, const char *msg,
                      const char *name)
{
    if (n > (size_t)INT_MAX / 4 * 3 - 3) {
        fail(c, "%s.%s value too large", msg, name);
        return NULL;
    }
    size_t cap = 4 * ((n + 2) / 3) + 1;
    unsigned char *out = malloc(cap);
    if (!out) {
        fail(c, "out of memory");
        return NULL;
    }
    int k = EVP_EncodeBlock(out, p, (int)n);
    json_t *s = k < 0 ? NULL : json_stringn((const char *)out, (size_t)k);
    free(out);
    if (!s)
        fail(c, "cannot encode %s.%s as base64", msg, name);
    return s;
}

/* Sets obj[key] = v (taking v); -1 with err when v is NULL (its failure was
 * already reported) or jansson refuses. */
static int put(struct ctx *c, json_t *obj, const char *key, json_t *v)
{
    if (!v) {
        /* jansson's own failures are out of memory; ours wrote err. */
        if (c->err && c->errlen && !c->err[0])
            fail(c, "out of memory");
        return -1;
    }
    if (json_object_set_new(obj, key, v) < 0)
        return fail(c, "out of memory");
    return 0;
}

/* obj[key] as a container of the given type, made on first use so that an
 * empty map or list never appears (both are omitempty in Go). */
static json_t *container(struct ctx *c, json_t *obj, const char *key, bool array)
{
    json_t *v = json_object_get(obj, key);
    if (v && (array ? json_is_array(v) : json_is_object(v)))
        return v;
    v = array ? json_array() : json_object();
    if (put(c, obj, key, v) < 0)
        return NULL;
    return v;
}

/* metav1.Time {int64 seconds = 1; int32 nanos = 2}. Its Go unmarshaller
 * leaves the zero time for an empty message, and its JSON form is null for
 * the zero time and whole seconds in UTC otherwise (nanos never show). */
static json_t *decode_time(struct ctx *c, const struct field *f, const char *msg,
                           const char *name)
{
    if (sub_len(f) == 0)
        return json_null();
    struct buf b = f->sub;
    struct field tf;
    int64_t secs = 0;
    int r;
    while ((r = next_field(c, &b, &tf, "Time")) > 0) {
        if (tf.num == 1 || tf.num == 2) {
            if (want_wire(c, &tf, WT_VARINT, "Time", tf.num == 1 ? "seconds" : "nanos") < 0)
                return NULL;
            if (tf.num == 1)
                secs = (int64_t)tf.v;
        }
    }
    if (r < 0)
        return NULL;
    /* 0001-01-01T00:00:00Z is Go's zero time. */
    if (secs == -62135596800LL)
        return json_null();
    /* RFC 3339 has four-digit years: 0001-01-01 .. 9999-12-31T23:59:59Z. */
    if (secs < -62135596800LL || secs > 253402300799LL) {
        fail(c, "%s.%s out of range (%lld seconds)", msg, name, (long long)secs);
        return NULL;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        fail(c, "%s.%s out of range", msg, name);
        return NULL;
    }
    char s[80]; /* room for any int, to keep -Wformat-truncation quiet */
    snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return json_string(s);
}

/* One map entry {key = 1; value = 2} added to map (a repeated key wins,
 * as it does in Go). Missing key or value are Go's zero values. */
static int decode_map_entry(struct ctx *c, const struct field *f, bool bytes, json_t *map,
                            const char *msg, const char *name)
{
    struct buf b = f->sub;
    struct field ef;
    struct buf key = {f->sub.p, f->sub.p}, val = {f->sub.p, f->sub.p};
    int r;
    while ((r = next_field(c, &b, &ef, msg)) > 0) {
        if (ef.num == 1 || ef.num == 2) {
            if (want_wire(c, &ef, WT_LEN, msg, name) < 0)
                return -1;
            if (ef.num == 1)
                key = ef.sub;
            else
                val = ef.sub;
        }
    }
    if (r < 0)
        return -1;
    size_t vn = (size_t)(val.end - val.p);
    json_t *v = bytes ? base64(c, val.p, vn, msg, name) : utf8_string(c, val.p, vn, msg, name);
    if (!v)
        return -1;
    if (json_object_setn_new(map, (const char *)key.p, (size_t)(key.end - key.p), v) < 0)
        return fail(c, "invalid UTF-8 in a key of %s.%s", msg, name);
    return 0;
}

static int decode_msg(struct ctx *c, struct buf b, const struct msg_spec *m, json_t *obj);

static int decode_field(struct ctx *c, const struct field *f, const struct field_spec *fs,
                        const struct msg_spec *m, json_t *obj)
{
    const char *msg = m->name, *name = fs->json;
    switch (fs->kind) {
    case K_STR:
    case K_STR_ALWAYS:
        if (want_wire(c, f, WT_LEN, msg, name) < 0)
            return -1;
        if (fs->kind == K_STR && sub_len(f) == 0) {
            /* A later empty value still overwrites an earlier one. */
            json_object_del(obj, name);
            return 0;
        }
        return put(c, obj, name, utf8_string(c, f->sub.p, sub_len(f), msg, name));
    case K_INT64:
    case K_INT64_PTR:
        if (want_wire(c, f, WT_VARINT, msg, name) < 0)
            return -1;
        if (fs->kind == K_INT64 && f->v == 0) {
            json_object_del(obj, name);
            return 0;
        }
        return put(c, obj, name, json_integer((json_int_t)(int64_t)f->v));
    case K_BOOL_PTR:
        if (want_wire(c, f, WT_VARINT, msg, name) < 0)
            return -1;
        return put(c, obj, name, json_boolean(f->v != 0));
    case K_TIME:
        if (want_wire(c, f, WT_LEN, msg, name) < 0)
            return -1;
        return put(c, obj, name, decode_time(c, f, msg, name));
    case K_MAP_STR:
    case K_MAP_BYTES: {
        if (want_wire(c, f, WT_LEN, msg, name) < 0)
            return -1;
        json_t *map = container(c, obj, name, false);
        return map ? decode_map_entry(c, f, fs->kind == K_MAP_BYTES, map, msg, name) : -1;
    }
    case K_LIST_STR: {
        if (want_wire(c, f, WT_LEN, msg, name) < 0)
            return -1;
        json_t *s = utf8_string(c, f->sub.p, sub_len(f), msg, name);
        if (!s)
            return -1;
        json_t *list = container(c, obj, name, true);
        if (!list) {
            json_decref(s);
            return -1;
        }
        return json_array_append_new(list, s) < 0 ? fail(c, "out of memory") : 0;
    }
    case K_MSG: {
        if (want_wire(c, f, WT_LEN, msg, name) < 0)
            return -1;
        /* A message field seen twice merges, as proto decoding does. */
        json_t *sub = container(c, obj, name, false);
        return sub ? decode_msg(c, f->sub, fs->sub, sub) : -1;
    }
    case K_LIST_MSG: {
        if (want_wire(c, f, WT_LEN, msg, name) < 0)
            return -1;
        json_t *item = json_object();
        if (!item)
            return fail(c, "out of memory");
        if (decode_msg(c, f->sub, fs->sub, item) < 0) {
            json_decref(item);
            return -1;
        }
        json_t *list = container(c, obj, name, true);
        if (!list) {
            json_decref(item);
            return -1;
        }
        return json_array_append_new(list, item) < 0 ? fail(c, "out of memory") : 0;
    }
    }
    return fail(c, "internal: unknown field kind");
}

/* Decodes message b of type m into obj (merging into what is there). */
static int decode_msg(struct ctx *c, struct buf b, const struct msg_spec *m, json_t *obj)
{
    if (++c->depth > PB_MAX_DEPTH)
        return fail(c, "messages nested deeper than %d", PB_MAX_DEPTH);
    struct field f;
    int r;
    while ((r = next_field(c, &b, &f, m->name)) > 0) {
        const struct field_spec *fs = NULL;
        for (size_t i = 0; i < m->n && !fs; i++)
            if (m->fields[i].num == f.num)
                fs = &m->fields[i];
        /* Unknown field numbers were consumed by next_field: skipped. */
        if (fs && decode_field(c, &f, fs, m, obj) < 0)
            return -1;
    }
    c->depth--;
    return r;
}

/* ---------- the envelope ---------- */

/* b quoted in a message: a short prefix, its non-printable bytes as '?', so
 * the message stays one line whatever was sent. */
static void printable(char *dst, size_t cap, struct buf b)
{
    size_t j = 0;
    for (const unsigned char *q = b.p; q && q < b.end && j + 1 < cap; q++)
        dst[j++] = *q >= 0x20 && *q < 0x7f && *q != '"' ? (char)*q : '?';
    dst[j] = '\0';
}

json_t *lc_k8s_proto_decode(const void *body, size_t len, char *err, size_t errlen)
{
    struct ctx c = {err, errlen, 0};
    if (err && errlen)
        err[0] = '\0';
    static const unsigned char magic[4] = {'k', '8', 's', 0};
    if (!body || len < sizeof magic || memcmp(body, magic, sizeof magic) != 0) {
        fail(&c, "missing the k8s\\0 magic prefix");
        return NULL;
    }
    const unsigned char *p = body;
    struct buf b = {p + sizeof magic, p + len};

    /* runtime.Unknown {TypeMeta typeMeta = 1 {apiVersion = 1; kind = 2};
     * bytes raw = 2; string contentEncoding = 3; string contentType = 4} */
    struct buf api = {NULL, NULL}, kind = {NULL, NULL}, raw = {NULL, NULL};
    bool have_tm = false;
    struct field f;
    int r;
    while ((r = next_field(&c, &b, &f, "Unknown")) > 0) {
        static const char *const names[] = {"", "typeMeta", "raw", "contentEncoding",
                                            "contentType"};
        if (f.num > 4)
            continue;
        if (want_wire(&c, &f, WT_LEN, "Unknown", names[f.num]) < 0)
            return NULL;
        if (f.num == 1) {
            have_tm = true;
            struct buf tb = f.sub;
            struct field tf;
            while ((r = next_field(&c, &tb, &tf, "TypeMeta")) > 0) {
                if (tf.num != 1 && tf.num != 2)
                    continue;
                if (want_wire(&c, &tf, WT_LEN, "TypeMeta", tf.num == 1 ? "apiVersion" : "kind") < 0)
                    return NULL;
                if (tf.num == 1)
                    api = tf.sub;
                else
                    kind = tf.sub;
            }
            if (r < 0)
                return NULL;
        } else if (f.num == 2) {
            raw = f.sub;
        } else if (f.num == 3 && sub_len(&f)) {
            /* raw would be compressed or otherwise transformed. */
            char enc[48];
            printable(enc, sizeof enc, f.sub);
            fail(&c, "unsupported contentEncoding \"%s\"", enc);
            return NULL;
        } else if (f.num == 4 && sub_len(&f) &&
                   !(sub_len(&f) == 35 &&
                     memcmp(f.sub.p, "application/vnd.kubernetes.protobuf", 35) == 0)) {
            char ct[64];
            printable(ct, sizeof ct, f.sub);
            fail(&c, "unsupported contentType \"%s\"", ct);
            return NULL;
        }
    }
    if (r < 0)
        return NULL;
    if (!have_tm) {
        fail(&c, "no typeMeta in the envelope");
        return NULL;
    }

    size_t an = (size_t)(api.end - api.p), kn = (size_t)(kind.end - kind.p);
    const struct msg_spec *m = NULL;
    const char *kname = NULL, *aname = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !m; i++)
        if (strlen(kinds[i].api_version) == an && memcmp(kinds[i].api_version, api.p, an) == 0 &&
            strlen(kinds[i].kind) == kn && memcmp(kinds[i].kind, kind.p, kn) == 0) {
            m = kinds[i].msg;
            kname = kinds[i].kind;
            aname = kinds[i].api_version;
        }
    if (!m) {
        char ks[64], as[64];
        printable(ks, sizeof ks, kind);
        printable(as, sizeof as, api);
        fail(&c, "unsupported kind \"%s\" (apiVersion \"%s\"); only v1 Namespace, ConfigMap, "
                 "Secret, ServiceAccount and the access and token reviews are understood",
             ks, as);
        return NULL;
    }

    json_t *obj = json_object();
    if (!obj || put(&c, obj, "kind", json_string(kname)) < 0 ||
        put(&c, obj, "apiVersion", json_string(aname)) < 0) {
        if (!obj)
            fail(&c, "out of memory");
        json_decref(obj);
        return NULL;
    }
    if (raw.p && decode_msg(&c, raw, m, obj) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

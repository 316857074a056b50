/*
 * Saved plan files (`sparkform plan -out FILE`, then `sparkform apply
 * FILE`): the whole struct sf_plan as JSON, so that apply can do exactly
 * what was planned. Unlike the -json output, a plan file holds everything,
 * secrets and unknown values included (the sentinel travels as its
 * marker object, see value.h), so it is written 0600 and atomically.
 *
 *   {"sparkform_plan": 1, "sparkform_version": "...", "format_version": 1,
 *    "lineage", "serial", "destroy", "refresh_only",
 *    "changes": [{"address", "type", "name", "action", "reason",
 *                 "reason_detail", "before",
 *                 "after", "sensitive", "replace_paths", "dependencies",
 *                 "create_before_destroy", "deposed"}],
 *    "drift": [{"address", "type", "before", "after", "sensitive"}],
 *    "outputs": [{"name", "action", "before", "after", "sensitive"}],
 *    "refreshed", "config_path", "config_source", "variables", "targets",
 *    "source": {"url", "path", "ref", "commit"} (a description from git)}
 *
 * A value that is NULL in the struct is left out of the file, so that
 * reading gives back NULL (absent) and JSON null apart.
 *
 * When the state is encrypted, so is its saved plan: the JSON above is
 * sealed as an envelope of content "plan" (state/state_crypt.h). Apply reads it
 * without a description, so the envelope's key_from (an environment
 * variable's name, never the key) says where its key is.
 */
#include "plan.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "state_crypt.h"
#include "util.h"

#define PLAN_FILE_VERSION 1

static void put(json_t *o, const char *key, const json_t *v)
{
    if (v)
        json_object_set_new(o, key, sf_value_encode(v));
}

static void put_str(json_t *o, const char *key, const char *s)
{
    if (s)
        json_object_set_new(o, key, json_string(s));
}

static json_t *plan_file_json(const struct sf_plan *p)
{
    json_t *root = json_pack("{s:i, s:s, s:i, s:I, s:b, s:b}", "sparkform_plan", PLAN_FILE_VERSION,
                             "sparkform_version", SF_VERSION, "format_version", p->format_version,
                             "serial", (json_int_t)p->serial, "destroy", p->destroy,
                             "refresh_only", p->refresh_only);
    put_str(root, "lineage", p->lineage);

    json_t *changes = json_array();
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct sf_change *c = &p->changes[i];
        json_t *o = json_pack("{s:s, s:s, s:b, s:i}", "action", sf_plan_action_name(c->action),
                              "reason", sf_plan_reason_name(c->reason), "create_before_destroy",
                              c->create_before_destroy, "deposed", c->deposed);
        put_str(o, "address", c->address);
        put_str(o, "type", c->type);
        put_str(o, "name", c->name);
        put_str(o, "reason_detail", c->reason_detail);
        put(o, "before", c->before);
        put(o, "after", c->after);
        put(o, "sensitive", c->sensitive);
        put(o, "replace_paths", c->replace_paths);
        put(o, "dependencies", c->dependencies);
        json_array_append_new(changes, o);
    }
    json_object_set_new(root, "changes", changes);

    json_t *drift = json_array();
    for (size_t i = 0; i < p->n_drift; i++) {
        const struct sf_drift *d = &p->drift[i];
        json_t *o = json_object();
        put_str(o, "address", d->address);
        put_str(o, "type", d->type);
        put(o, "before", d->before);
        put(o, "after", d->after);
        put(o, "sensitive", d->sensitive);
        json_array_append_new(drift, o);
    }
    json_object_set_new(root, "drift", drift);

    json_t *outputs = json_array();
    for (size_t i = 0; i < p->n_outputs; i++) {
        const struct sf_output_change *oc = &p->outputs[i];
        json_t *o = json_pack("{s:s, s:b}", "action", sf_plan_action_name(oc->action), "sensitive",
                              oc->sensitive);
        put_str(o, "name", oc->name);
        put(o, "before", oc->before);
        put(o, "after", oc->after);
        json_array_append_new(outputs, o);
    }
    json_object_set_new(root, "outputs", outputs);

    put(root, "refreshed", p->refreshed);
    put_str(root, "config_path", p->config_path);
    put_str(root, "config_source", p->config_source);
    put(root, "variables", p->variables);
    put(root, "targets", p->targets);
    put(root, "source", p->source);
    put(root, "schedule", p->schedule);
    return root;
}

int sf_plan_write(const char *path, const struct sf_plan *p, struct sf_diags *d)
{
    return sf_plan_write_sealed(path, p, NULL, d);
}

int sf_plan_write_sealed(const char *path, const struct sf_plan *p, struct sf_crypt *crypt,
                         struct sf_diags *d)
{
    json_t *root = plan_file_json(p);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) {
        sf_error(d, NULL, "cannot write plan file %s: the plan could not be encoded as JSON", path);
        return -1;
    }
    size_t len = strlen(text);
    if (crypt) {
        size_t slen;
        char *sealed = sf_crypt_seal(crypt, "plan", text, len, &slen, d);
        OPENSSL_cleanse(text, len);
        free(text);
        if (!sealed)
            return -1;
        text = sealed;
        len = slen;
    }
    int rc = sf_write_file_atomic(path, text, len, 0600);
    int e = errno;
    free(text);
    if (rc < 0) {
        sf_error(d, NULL, "cannot write plan file %s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

/* Reading: the first structural problem is reported and reading stops. */
struct rd {
    const char *path;
    struct sf_diags *d;
    bool failed;
};

static void bad(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct rd *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    sf_error(r->d, NULL, "%s: malformed plan file: %s", r->path, msg);
    free(msg);
    r->failed = true;
}

static char *get_str(struct rd *r, const json_t *o, const char *where, const char *key, bool required)
{
    const json_t *v = json_object_get(o, key);
    if (!v && !required)
        return NULL;
    if (!json_is_string(v)) {
        bad(r, "%s%s%s must be a string", where, *where ? "." : "", key);
        return NULL;
    }
    return sf_xstrdup(json_string_value(v));
}

/* Any JSON value, decoded (unknown markers back to the sentinel); NULL
 * when absent. */
static json_t *get_val(struct rd *r, const json_t *o, const char *key)
{
    return sf_value_decode(json_object_get(o, key));
}

static json_t *get_typed(struct rd *r, const json_t *o, const char *where, const char *key,
                         json_type t, const char *what)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return NULL;
    if (json_typeof(v) != t) {
        bad(r, "%s%s%s must be %s", where, *where ? "." : "", key, what);
        return NULL;
    }
    return sf_value_decode(v);
}

static bool get_bool(struct rd *r, const json_t *o, const char *where, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (v && !json_is_boolean(v))
        bad(r, "%s%s%s must be true or false", where, *where ? "." : "", key);
    return json_is_true(v);
}

static long long get_int(struct rd *r, const json_t *o, const char *where, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (v && !json_is_integer(v))
        bad(r, "%s%s%s must be an integer", where, *where ? "." : "", key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static enum sf_action get_action(struct rd *r, const json_t *o, const char *where)
{
    enum sf_action a = SF_ACT_NOOP;
    const char *s = json_string_value(json_object_get(o, "action"));
    if (sf_plan_action_parse(s, &a) < 0)
        bad(r, "%s.action must be one of no-op, create, update, replace, delete", where);
    return a;
}

static const json_t *get_array(struct rd *r, const json_t *root, const char *key)
{
    const json_t *v = json_object_get(root, key);
    if (!json_is_array(v)) {
        bad(r, "%s must be an array", key);
        return NULL;
    }
    return v;
}

static void read_body(struct rd *r, const json_t *root, struct sf_plan *p)
{
    p->format_version = (int)get_int(r, root, "", "format_version");
    p->lineage = get_str(r, root, "", "lineage", false);
    p->serial = get_int(r, root, "", "serial");
    p->destroy = get_bool(r, root, "", "destroy");
    p->refresh_only = get_bool(r, root, "", "refresh_only");

    const json_t *arr = get_array(r, root, "changes");
    for (size_t i = 0; arr && i < json_array_size(arr) && !r->failed; i++) {
        const json_t *o = json_array_get(arr, i);
        char where[48];
        snprintf(where, sizeof(where), "changes[%zu]", i);
        if (!json_is_object(o)) {
            bad(r, "%s must be an object", where);
            break;
        }
        struct sf_change *c = sf_plan_add_change(p);
        c->address = get_str(r, o, where, "address", true);
        c->type = get_str(r, o, where, "type", true);
        c->name = get_str(r, o, where, "name", false);
        c->action = get_action(r, o, where);
        const char *reason = json_string_value(json_object_get(o, "reason"));
        if (reason && sf_plan_reason_parse(reason, &c->reason) < 0)
            bad(r, "%s.reason \"%s\" is not a known reason", where, reason);
        c->reason_detail = get_str(r, o, where, "reason_detail", false);
        c->before = get_val(r, o, "before");
        c->after = get_val(r, o, "after");
        c->sensitive = get_typed(r, o, where, "sensitive", JSON_ARRAY, "an array");
        c->replace_paths = get_typed(r, o, where, "replace_paths", JSON_ARRAY, "an array");
        c->dependencies = get_typed(r, o, where, "dependencies", JSON_ARRAY, "an array");
        c->create_before_destroy = get_bool(r, o, where, "create_before_destroy");
        c->deposed = (int)get_int(r, o, where, "deposed");
    }

    arr = get_array(r, root, "drift");
    for (size_t i = 0; arr && i < json_array_size(arr) && !r->failed; i++) {
        const json_t *o = json_array_get(arr, i);
        char where[48];
        snprintf(where, sizeof(where), "drift[%zu]", i);
        if (!json_is_object(o)) {
            bad(r, "%s must be an object", where);
            break;
        }
        struct sf_drift *d = sf_plan_add_drift(p);
        d->address = get_str(r, o, where, "address", true);
        d->type = get_str(r, o, where, "type", true);
        d->before = get_val(r, o, "before");
        d->after = get_val(r, o, "after");
        d->sensitive = get_typed(r, o, where, "sensitive", JSON_ARRAY, "an array");
    }

    arr = get_array(r, root, "outputs");
    for (size_t i = 0; arr && i < json_array_size(arr) && !r->failed; i++) {
        const json_t *o = json_array_get(arr, i);
        char where[48];
        snprintf(where, sizeof(where), "outputs[%zu]", i);
        if (!json_is_object(o)) {
            bad(r, "%s must be an object", where);
            break;
        }
        struct sf_output_change *oc = sf_plan_add_output(p);
        oc->name = get_str(r, o, where, "name", true);
        oc->action = get_action(r, o, where);
        oc->before = get_val(r, o, "before");
        oc->after = get_val(r, o, "after");
        oc->sensitive = get_bool(r, o, where, "sensitive");
    }

    p->refreshed = get_val(r, root, "refreshed");
    p->config_path = get_str(r, root, "", "config_path", false);
    p->config_source = get_str(r, root, "", "config_source", false);
    p->variables = get_typed(r, root, "", "variables", JSON_OBJECT, "an object");
    p->targets = get_typed(r, root, "", "targets", JSON_ARRAY, "an array");
    p->source = get_typed(r, root, "", "source", JSON_OBJECT, "an object");
    p->schedule = get_typed(r, root, "", "schedule", JSON_OBJECT, "an object");
    if (p->source && !r->failed)
        for (const char *const *k = (const char *const[]){"url", "path", "ref", "commit", NULL}; *k; k++)
            if (!json_is_string(json_object_get(p->source, *k)))
                bad(r, "source.%s must be a string", *k);
}

int sf_plan_read(const char *path, struct sf_plan **out, struct sf_diags *d)
{
    *out = NULL;
    size_t len;
    char *text = sf_read_file(path, &len);
    if (!text) {
        sf_error(d, NULL, "cannot read plan file %s: %s", path, strerror(errno));
        return -1;
    }
    if (sf_crypt_is_sealed(text, len)) {
        char *name = sf_asprintf("the plan file %s", path), *plain = NULL;
        size_t plen = 0;
        int rc = sf_crypt_open_self(name, "plan", text, len, &plain, &plen, d);
        free(name);
        free(text);
        if (rc < 0)
            return -1;
        text = plain;
        len = plen;
    }
    json_t *root = json_loadb(text, len, 0, NULL);
    OPENSSL_cleanse(text, len);
    free(text);
    const json_t *version = json_object_get(root, "sparkform_plan");
    if (!json_is_object(root) || !json_is_integer(version)) {
        sf_error(d, NULL, "%s is not a sparkform plan file", path);
        json_decref(root);
        return -1;
    }
    if (json_integer_value(version) != PLAN_FILE_VERSION) {
        sf_error(d, NULL, "%s: unsupported plan file version %lld (this sparkform reads version %d)",
                 path, (long long)json_integer_value(version), PLAN_FILE_VERSION);
        json_decref(root);
        return -1;
    }
    struct sf_plan *p = sf_plan_new();
    struct rd r = {path, d, false};
    read_body(&r, root, p);
    json_decref(root);
    if (r.failed) {
        sf_plan_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

/*
 * test_resource: a resource type whose objects are files in a local store
 * (SPARKFORM_TEST_STORE/<id>.json), so that engine tests can see exactly
 * what exists, change it behind sparkform's back, and script the failures a
 * real cloud produces: latency (bounded by the call's deadline, as a real
 * wait is), an operation that fails, a process killed between create and
 * the state write (then found again with adopt, which matches the address
 * and lineage every object is tagged with).
 *
 * The provider has settings (providers: test: {label, token}) and a
 * configure step like a network provider's: each configure appends a line
 * to SPARKFORM_TEST_STORE/configure.log, a token "wrong" is refused as
 * unauthorized, and objects created with a label record it, so tests see
 * when and how often the engine configured it and that calls reach its
 * context.
 */
#include "testprov.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const struct sf_attr attrs[] = {
    {"value", SF_STRING, SF_OPTIONAL, NULL, "a value; computed_value is derived from it"},
    {"key", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, NULL, "changing it replaces the object"},
    {"secret", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL, "never shown"},
    {"tags", SF_MAP, SF_OPTIONAL, NULL, "a map"},
    {"items", SF_LIST, SF_OPTIONAL, NULL, "a list"},
    {"count", SF_NUMBER, SF_OPTIONAL, NULL, "a number"},
    {"enabled", SF_BOOL, SF_OPTIONAL, NULL, "a bool"},
    {"size", SF_NUMBER, SF_OPTIONAL | SF_IGNORE_DRIFT, NULL,
     "like an autoscaled node count: outside changes are not a diff"},
    {"latency_ms", SF_NUMBER, SF_OPTIONAL, "0", "every operation sleeps this long"},
    {"fail_on", SF_STRING, SF_OPTIONAL, "\"\"",
     "comma-separated operations (create,update,delete,read) that fail"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the object's id"},
    {"computed_value", SF_STRING, SF_COMPUTED, NULL, "\"<id>:<value>\""},
    {NULL, 0, 0, NULL, NULL},
};

/* The store directory, read at call time so tests can switch stores. */
static const char *store_dir(struct sf_call *c)
{
    const char *s = getenv("SPARKFORM_TEST_STORE");
    if (!s || !*s) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "SPARKFORM_TEST_STORE is not set");
        return NULL;
    }
    return s;
}

/* The provider's per-run context. */
struct test_ctx {
    char *label;
};

static bool lists_op(const char *list, const char *op)
{
    size_t n = strlen(op);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *e = end;
        while (e > p && e[-1] == ' ')
            e--;
        if ((size_t)(e - p) == n && strncmp(p, op, n) == 0)
            return true;
        p = end;
    }
    return false;
}

/* What every operation does first: the configured latency, then the
 * configured failure. The latency ends at the call's deadline, like any
 * wait of a real provider, and then the call fails. */
static int latency(struct sf_call *c, const json_t *v, const char *op)
{
    json_t *lat = json_object_get(v, "latency_ms");
    if (!json_is_number(lat) || json_number_value(lat) <= 0)
        return 0;
    double want = json_number_value(lat) / 1000.0;
    double left = c->deadline > 0 ? c->deadline - sf_now() : want;
    if (left >= want) {
        sf_sleep_ms((long)json_number_value(lat));
        return 0;
    }
    if (left > 0)
        sf_sleep_ms((long)(left * 1000));
    sf_diag_add_class(c->diags, SF_CLASS_RETRYABLE, NULL, c->address,
                      "timed out: %s needs %.1fs, more than its timeout allows", op, want);
    return -1;
}

static int injected(struct sf_call *c, const json_t *v, const char *op)
{
    if (lists_op(json_string_value(json_object_get(v, "fail_on")), op)) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "injected failure on %s", op);
        return -1;
    }
    return 0;
}

static int preamble(struct sf_call *c, const json_t *v, const char *op)
{
    if (latency(c, v, op) < 0)
        return -1;
    return injected(c, v, op);
}

/* The id must be usable as a file name in the store. */
static const char *object_id(struct sf_call *c, const json_t *prior)
{
    const char *id = json_string_value(json_object_get(prior, "id"));
    if (!id || !*id || strchr(id, '/') || id[0] == '.') {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                    "id: expected the id of a test_resource object");
        return NULL;
    }
    return id;
}

static char *object_path(const char *store, const char *id)
{
    return sf_asprintf("%s/%s.json", store, id);
}

/* attrs with the computed attributes filled in for id. New reference. */
static json_t *with_computed(const json_t *desired, const char *id)
{
    json_t *o = sf_value_copy(desired);
    const char *value = json_string_value(json_object_get(desired, "value"));
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "computed_value", json_sprintf("%s:%s", id, value ? value : ""));
    return o;
}

static int write_object(struct sf_call *c, const char *store, const char *id, const json_t *a)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "attributes", sf_value_encode(a));
    json_object_set_new(doc, "address", json_string(c->address ? c->address : ""));
    json_object_set_new(doc, "lineage", json_string(c->lineage ? c->lineage : ""));
    const char *label = c->ctx ? ((const struct test_ctx *)c->ctx)->label : NULL;
    if (label)
        json_object_set_new(doc, "provider_label", json_string(label));
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    char *path = object_path(store, id);
    int rc = 0;
    if (!text || sf_write_file_atomic(path, text, strlen(text), 0644) < 0) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "cannot write \"%s\": %s", path,
                    text ? strerror(errno) : "cannot encode the attributes");
        rc = -1;
    }
    free(text);
    free(path);
    return rc;
}

/* The stored document at path; *doc = NULL when the file is gone. */
static int load_doc(struct sf_call *c, const char *path, json_t **doc)
{
    *doc = NULL;
    size_t len;
    char *text = sf_read_file(path, &len);
    if (!text) {
        if (errno == ENOENT)
            return 0;
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "cannot read \"%s\": %s", path,
                    strerror(errno));
        return -1;
    }
    json_error_t err;
    json_t *d = json_loadb(text, len, 0, &err);
    free(text);
    if (!d || !json_is_object(json_object_get(d, "attributes"))) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                    "\"%s\" is not a test_resource object: %s", path,
                    d ? "expected an \"attributes\" object" : err.text);
        json_decref(d);
        return -1;
    }
    *doc = d;
    return 0;
}

static int test_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    if (latency(c, desired, "create") < 0)
        return -1;
    const char *store = store_dir(c);
    if (!store)
        return -1;
    char *id = sf_uuid();
    json_t *o = with_computed(desired, id);
    int rc = write_object(c, store, id, o);
    free(id);
    if (rc < 0) {
        json_decref(o);
        return -1;
    }
    /* Simulates a run killed after the object exists but before the state
     * records it; the next run must find it with adopt. */
    const char *crash = getenv("SPARKFORM_TEST_CRASH_AFTER_CREATE");
    if (crash && c->address && strcmp(crash, c->address) == 0)
        _exit(137);
    /* An injected create failure comes after the object exists, like a
     * cloud server that ends in ERROR: the engine must record it (tainted)
     * so that the next run replaces it. */
    *out = o;
    return injected(c, desired, "create");
}

static int test_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    if (preamble(c, prior, "read") < 0)
        return -1;
    const char *store = store_dir(c);
    const char *id = object_id(c, prior);
    if (!store || !id)
        return -1;
    char *path = object_path(store, id);
    json_t *doc;
    int rc = load_doc(c, path, &doc);
    free(path);
    if (rc < 0 || !doc)
        return rc;
    *out = sf_value_decode(json_object_get(doc, "attributes"));
    json_decref(doc);
    return 0;
}

static int test_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                       json_t **out)
{
    *out = NULL;
    if (preamble(c, desired, "update") < 0)
        return -1;
    const char *store = store_dir(c);
    const char *id = object_id(c, prior);
    if (!store || !id)
        return -1;
    /* Like a cloud API: updating an object that is gone is an error. */
    char *path = object_path(store, id);
    if (access(path, F_OK) < 0) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                    "cannot update test_resource %s: it no longer exists", id);
        free(path);
        return -1;
    }
    free(path);
    json_t *o = with_computed(desired, id);
    if (write_object(c, store, id, o) < 0) {
        json_decref(o);
        return -1;
    }
    *out = o;
    return 0;
}

static int test_delete(struct sf_call *c, const json_t *prior)
{
    if (preamble(c, prior, "delete") < 0)
        return -1;
    const char *store = store_dir(c);
    const char *id = object_id(c, prior);
    if (!store || !id)
        return -1;
    char *path = object_path(store, id);
    int rc = 0;
    if (unlink(path) < 0 && errno != ENOENT) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "cannot remove \"%s\": %s", path,
                    strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

/* Scans the whole store: adopt only runs after a crash, so the cost is
 * paid rarely. The raw text is checked for the encoded address before
 * parsing, which skips almost every file cheaply. */
static int test_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    json_t *lat = json_object_get(desired, "latency_ms");
    if (json_is_number(lat) && json_number_value(lat) > 0)
        sf_sleep_ms((long)json_number_value(lat));
    const char *store = store_dir(c);
    if (!store)
        return -1;
    const char *address = c->address ? c->address : "";
    const char *lineage = c->lineage ? c->lineage : "";
    DIR *d = opendir(store);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "cannot list \"%s\": %s", store,
                    strerror(errno));
        return -1;
    }
    json_t *addr_json = json_string(address);
    char *needle = json_dumps(addr_json, JSON_ENCODE_ANY);
    json_decref(addr_json);
    int rc = 0;
    struct dirent *e;
    while (!*out && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= 5 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char *path = sf_asprintf("%s/%s", store, e->d_name);
        size_t len;
        char *text = sf_read_file(path, &len);
        if (!text || !strstr(text, needle)) {
            free(text);
            free(path);
            continue; /* gone meanwhile, or another object */
        }
        json_t *doc = json_loadb(text, len, 0, NULL);
        free(text);
        free(path);
        const char *a = json_string_value(json_object_get(doc, "address"));
        const char *l = json_string_value(json_object_get(doc, "lineage"));
        json_t *attrs_v = json_object_get(doc, "attributes");
        if (a && l && json_is_object(attrs_v) && strcmp(a, address) == 0 &&
            strcmp(l, lineage) == 0)
            *out = sf_value_decode(attrs_v);
        json_decref(doc);
    }
    closedir(d);
    free(needle);
    return rc;
}

/* `sparkform status`: the stored object is UP, or DOWN when its enabled
 * is false (a test flips it in the store), with its value as summary. */
static int test_status(struct sf_call *c, const json_t *recorded, json_t **out)
{
    json_t *now;
    *out = NULL;
    if (injected(c, recorded, "status") < 0 || test_read(c, recorded, &now) < 0)
        return -1;
    if (!now)
        return 0;
    bool up = !json_is_false(json_object_get(now, "enabled"));
    const char *value = json_string_value(json_object_get(now, "value"));
    *out = sf_status_new(up ? "UP" : "DOWN", up, "value %s", value ? value : "(none)");
    json_decref(now);
    return 0;
}

static const struct sf_resource_type test_resource = {
    .name = "test_resource",
    .doc = "an object in a local JSON store, for engine tests",
    .attrs = attrs,
    .read = test_read,
    .adopt = test_adopt,
    .create = test_create,
    .update = test_update,
    .delete = test_delete,
    .status = test_status,
};

static const struct sf_resource_type *const types[] = {&test_resource, NULL};

static const struct sf_provider_key keys[] = {
    {"label", SF_STRING, 0, "SPARKFORM_TEST_LABEL", "recorded with every object created"},
    {"token", SF_STRING, SF_SENSITIVE, "SPARKFORM_TEST_TOKEN", "a secret; \"wrong\" is refused"},
    {NULL, 0, 0, NULL, NULL},
};

static int test_configure(const struct sf_provider_setup *s, void **ctx)
{
    const char *label = json_string_value(json_object_get(s->settings, "label"));
    const char *token = json_string_value(json_object_get(s->settings, "token"));
    const char *store = getenv("SPARKFORM_TEST_STORE");
    if (store && *store) {
        char *path = sf_asprintf("%s/configure.log", store);
        FILE *f = fopen(path, "a");
        if (f) {
            fprintf(f, "label=%s token=%s\n", label ? label : "-", token ? "set" : "-");
            fclose(f);
        }
        free(path);
    }
    if (token && strcmp(token, "wrong") == 0) {
        sf_diag_add_class(s->diags, SF_CLASS_UNAUTHORIZED, s->pos, NULL,
                          "the test provider refused its token (providers.test.token)");
        return -1;
    }
    struct test_ctx *t = sf_xcalloc(1, sizeof(*t));
    t->label = label ? sf_xstrdup(label) : NULL;
    *ctx = t;
    return 0;
}

static void test_release(void *ctx)
{
    struct test_ctx *t = ctx;
    free(t->label);
    free(t);
}

const struct sf_provider sf_provider_test = {
    .name = "test",
    .types = types,
    .keys = keys,
    .configure = test_configure,
    .release = test_release,
};

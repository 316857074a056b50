/*
 * The state model and its file: loading and validating PATH, the in-memory
 * changes a run makes (put, intent, remove, outputs) and the commit that
 * folds them into a new PATH (the old one kept as PATH.backup).
 *
 * Where the document is read from and written to, and how the lock is
 * taken, is the backend's: the local file here and in lock.c, an S3
 * object in remote.c; everything else is the same for both.
 *
 * With encryption (state_crypt.h) the document is sealed on its way to the file
 * or the bucket and opened on its way back; nothing else here sees it.
 *
 * Every change is first expressed as a journal record and then applied by
 * sf_state_apply_record, the same function the journal replay uses, so a
 * replayed journal can only ever produce what the run had in memory.
 * journal.c keeps the records durable; lock.c keeps two runs apart.
 */
#include "state_private.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "value.h"

#define STATE_FORMAT_VERSION 1

char *sf_state_where_name(const struct sf_state_where *w)
{
    if (w->s3)
        return sf_asprintf("s3://%s/%s", w->s3->bucket ? w->s3->bucket : "",
                           w->s3->key ? w->s3->key : "");
    return sf_xstrdup(w->path);
}

/* A new, empty state at w; NULL after errors (a remote one that cannot be
 * reached the way it is set up). */
static struct sf_state *state_new_at(const struct sf_state_where *w, struct sf_diags *d)
{
    struct sf_remote *remote = NULL;
    struct sf_crypt *crypt = NULL;
    if (w->crypt && !(crypt = sf_crypt_new(w->crypt, d)))
        return NULL;
    if (w->s3 && !(remote = sf_remote_new(w->s3, d))) {
        sf_crypt_free(crypt);
        return NULL;
    }
    struct sf_state *s = sf_xcalloc(1, sizeof(*s));
    s->path = sf_state_where_name(w);
    s->remote = remote;
    s->crypt = crypt;
    s->journal_path = remote ? sf_remote_journal_path(w->s3) : sf_journal_path(w->path);
    s->resources = json_object();
    s->outputs = json_object();
    s->journal_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}


void sf_state_free(struct sf_state *s)
{
    if (!s)
        return;
    if (s->locked)
        sf_state_unlock(s);
    /* A journal still open means the run did not commit: leave it on disk
     * so the next load replays it, exactly as after a crash. */
    if (s->journal_fd >= 0)
        close(s->journal_fd);
    sf_remote_free(s->remote);
    sf_crypt_free(s->crypt);
    free(s->journal_aad);
    json_decref(s->resources);
    json_decref(s->outputs);
    json_decref(s->source);
    json_decref(s->schedule);
    free(s->path);
    free(s->journal_path);
    free(s->lineage);
    free(s->lock_id);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Check the document read from s->path and take its parts into s. */
static int adopt_document(struct sf_state *s, json_t *doc, struct sf_diags *d)
{
    struct sf_pos pos = {s->path, 0, 0};
    if (!json_is_object(doc)) {
        sf_error(d, &pos, "state file is not a JSON object; expected {\"format_version\": 1, ...}");
        return -1;
    }
    json_t *fv = json_object_get(doc, "format_version");
    if (!json_is_integer(fv)) {
        sf_error(d, &pos, "state file has no integer \"format_version\"; expected format_version 1");
        return -1;
    }
    if (json_integer_value(fv) != STATE_FORMAT_VERSION) {
        sf_error(d, &pos,
                 "state file has format_version %lld; this sparkform reads format_version %d "
                 "(was it written by a newer sparkform?)",
                 (long long)json_integer_value(fv), STATE_FORMAT_VERSION);
        return -1;
    }
    json_t *lineage = json_object_get(doc, "lineage");
    if (!json_is_string(lineage) || json_string_length(lineage) == 0) {
        sf_error(d, &pos, "state file has no \"lineage\" string; expected the stack's lineage id");
        return -1;
    }
    json_t *serial = json_object_get(doc, "serial");
    if (!json_is_integer(serial) || json_integer_value(serial) < 0) {
        sf_error(d, &pos, "state file has no \"serial\"; expected a non-negative integer");
        return -1;
    }
    json_t *resources = json_object_get(doc, "resources");
    if (resources && !json_is_object(resources)) {
        sf_error(d, &pos, "state file \"resources\" is not an object; expected address -> entry");
        return -1;
    }
    const char *addr;
    json_t *entry;
    if (resources) {
        json_object_foreach(resources, addr, entry) {
            if (!json_is_object(entry) || !json_is_string(json_object_get(entry, "type"))) {
                sf_error(d, &pos,
                         "state file entry \"%s\" is not an object with a \"type\" string", addr);
                return -1;
            }
        }
    }
    json_t *outputs = json_object_get(doc, "outputs");
    if (outputs && !json_is_object(outputs)) {
        sf_error(d, &pos, "state file \"outputs\" is not an object; expected name -> {value, sensitive}");
        return -1;
    }
    json_t *source = json_object_get(doc, "source");
    if (source && !json_is_object(source)) {
        sf_error(d, &pos, "state file \"source\" is not an object; expected {url, path, ref, commit}");
        return -1;
    }
    s->source = json_incref(source);
    json_t *schedule = json_object_get(doc, "schedule");
    if (schedule && !json_is_object(schedule)) {
        sf_error(d, &pos, "state file \"schedule\" is not an object; expected {created, last}");
        return -1;
    }
    s->schedule = json_incref(schedule);
    s->lineage = sf_xstrdup(json_string_value(lineage));
    s->serial = s->file_serial = json_integer_value(serial);
    if (resources) {
        json_decref(s->resources);
        s->resources = json_incref(resources);
    }
    if (outputs) {
        json_decref(s->outputs);
        s->outputs = json_incref(outputs);
    }
    return 0;
}

char *sf_state_name(const struct sf_state *s)
{
    return sf_asprintf("the state %s", s->path);
}

/* Open a sealed document in place (text becomes the plain one); warn once
 * when a plain one is read while encryption is configured. */
static int unseal(struct sf_state *s, char **text, size_t *len, struct sf_diags *d)
{
    if (!sf_crypt_is_sealed(*text, *len)) {
        s->plain_on_disk = s->crypt != NULL;
        if (s->crypt)
            sf_warn(d, NULL, "the state %s is not encrypted; state.encryption is set, so the next "
                             "change writes it encrypted",
                    s->path);
        return 0;
    }
    if (!s->crypt) {
        sf_error(d, NULL, "the state %s is encrypted; set state.encryption (the key it was "
                          "encrypted with) in the description",
                 s->path);
        return -1;
    }
    char *name = sf_state_name(s), *plain = NULL;
    size_t plen = 0;
    int rc = sf_crypt_open(s->crypt, name, "state", *text, *len, &plain, &plen, d);
    free(name);
    if (rc < 0)
        return -1;
    free(*text);
    *text = plain;
    *len = plen;
    return 0;
}

/* Read s->path (when it exists) and replay its journal into s. */
static int load_into(struct sf_state *s, struct sf_diags *d)
{
    const char *path = s->path;
    size_t len = 0;
    char *text = NULL;
    if (s->remote) {
        if (sf_remote_read(s, &text, &len, d) < 0)
            return -1;
    } else {
        text = sf_read_file(path, &len);
        if (!text && errno != ENOENT) {
            struct sf_pos pos = {path, 0, 0};
            sf_error(d, &pos, "cannot read the state file: %s", strerror(errno));
            return -1;
        }
    }
    bool have_file = text != NULL;
    if (text && unseal(s, &text, &len, d) < 0) {
        free(text);
        return -1;
    }
    if (text) {
        json_error_t err;
        json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
        /* A plain text that was sealed holds the secrets: wipe it. */
        if (s->crypt)
            OPENSSL_cleanse(text, len);
        free(text);
        if (!doc) {
            struct sf_pos pos = {path, err.line > 0 ? err.line : 0, err.column > 0 ? err.column : 0};
            sf_error(d, &pos, "state file is not valid JSON: %s", err.text);
            return -1;
        }
        int rc = adopt_document(s, doc, d);
        json_decref(doc);
        if (rc < 0)
            return -1;
        s->had_document = true;
    }
    if (sf_journal_replay(s, have_file, d) < 0)
        return -1;
    /* No file and no journal to take a lineage from: a brand new stack. */
    if (!s->lineage)
        s->lineage = sf_uuid();
    return 0;
}

int sf_state_load(const char *path, struct sf_state **out, struct sf_diags *d)
{
    struct sf_state_where w = {.path = path};
    return sf_state_load_at(&w, out, d);
}

int sf_state_load_at(const struct sf_state_where *w, struct sf_state **out, struct sf_diags *d)
{
    *out = NULL;
    struct sf_state *s = state_new_at(w, d);
    if (!s)
        return -1;
    if (load_into(s, d) < 0) {
        sf_state_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int sf_state_open_locked(const char *path, const char *operation, long timeout_ms,
                         struct sf_state **out, struct sf_diags *d)
{
    struct sf_state_where w = {.path = path};
    return sf_state_open_locked_at(&w, operation, timeout_ms, out, d);
}

int sf_state_open_locked_at(const struct sf_state_where *w, const char *operation,
                            long timeout_ms, struct sf_state **out, struct sf_diags *d)
{
    *out = NULL;
    struct sf_state *s = state_new_at(w, d);
    if (!s)
        return -1;
    /* Lock first, then load: loading before would read a state another
     * run may still be changing, and a commit of that copy would undo it. */
    if (sf_state_lock(s, operation, timeout_ms, d) < 0 || load_into(s, d) < 0) {
        sf_state_free(s); /* releases the lock */
        return -1;
    }
    *out = s;
    return 0;
}

const char *sf_state_lineage(const struct sf_state *s)
{
    return s->lineage;
}

long long sf_state_serial(const struct sf_state *s)
{
    return s->serial;
}

void sf_state_take_lineage(struct sf_state *s, const char *lineage)
{
    if (s->serial != 0 || s->file_serial != 0 || !lineage || !*lineage)
        return;
    free(s->lineage);
    s->lineage = sf_xstrdup(lineage);
}

const char *sf_state_lock_id(const struct sf_state *s)
{
    return s->locked ? s->lock_id : NULL;
}

bool sf_state_exists(const struct sf_state *s)
{
    return s->had_document || s->changed;
}

struct sf_crypt *sf_state_crypt(const struct sf_state *s)
{
    return s->crypt;
}

/* --- reading ------------------------------------------------------------ */

/* An entry is its JSON object (shape in state.h); the struct type only
 * keeps code outside state/ from reading its keys. */
static const json_t *entry_json(const struct sf_state_entry *e)
{
    return (const json_t *)e;
}

static json_t *get(const json_t *e, const char *key)
{
    return json_object_get(e, key);
}

const char **sf_state_addresses(const struct sf_state *s, size_t *n)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&s->mu;
    pthread_mutex_lock(mu);
    *n = json_object_size(s->resources);
    const char **v = sf_xcalloc(*n + 1, sizeof(*v));
    size_t i = 0;
    const char *addr;
    json_t *e;
    json_object_foreach(s->resources, addr, e) v[i++] = addr;
    pthread_mutex_unlock(mu);
    return v;
}

const json_t *sf_state_outputs(const struct sf_state *s)
{
    return s->outputs;
}

const char *sf_state_type(const struct sf_state_entry *e)
{
    return json_string_value(get(entry_json(e), "type"));
}

const json_t *sf_state_attrs(const struct sf_state_entry *e)
{
    json_t *a = get(entry_json(e), "attributes");
    return a && !json_is_null(a) ? a : NULL;
}

bool sf_state_is_tainted(const struct sf_state_entry *e)
{
    const char *st = json_string_value(get(entry_json(e), "status"));
    return st && strcmp(st, "tainted") == 0;
}

const json_t *sf_state_intent_of(const struct sf_state_entry *e)
{
    json_t *intent = get(entry_json(e), "intent");
    return intent ? get(intent, "desired") : NULL;
}

const json_t *sf_state_deposed(const struct sf_state_entry *e)
{
    json_t *dep = get(entry_json(e), "deposed");
    return json_array_size(dep) ? dep : NULL;
}

const json_t *sf_state_deps(const struct sf_state_entry *e)
{
    return get(entry_json(e), "dependencies");
}

const json_t *sf_state_sensitive(const struct sf_state_entry *e)
{
    return get(entry_json(e), "sensitive_attributes");
}

const struct sf_state_entry *sf_state_get(const struct sf_state *s, const char *address)
{
    /* The mutex is not part of the logical state: locking it through a
     * const pointer only keeps the hashtable from changing under us. */
    pthread_mutex_t *mu = (pthread_mutex_t *)&s->mu;
    pthread_mutex_lock(mu);
    json_t *e = json_object_get(s->resources, address);
    pthread_mutex_unlock(mu);
    return (const struct sf_state_entry *)e;
}

/* The document with the parts shared, not copied: for writing it out. */
static json_t *document(const struct sf_state *s, long long serial)
{
    json_t *doc = json_pack("{s:i, s:s, s:I, s:O, s:O}", "format_version", STATE_FORMAT_VERSION,
                            "lineage", s->lineage, "serial", (json_int_t)serial, "resources",
                            s->resources, "outputs", s->outputs);
    if (s->source)
        json_object_set(doc, "source", s->source);
    if (s->schedule)
        json_object_set(doc, "schedule", s->schedule);
    return doc;
}

json_t *sf_state_to_json(const struct sf_state *s)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&s->mu;
    pthread_mutex_lock(mu);
    json_t *shared = document(s, s->serial);
    json_t *doc = json_deep_copy(shared);
    pthread_mutex_unlock(mu);
    json_decref(shared);
    return doc;
}

/* --- changes ------------------------------------------------------------ */

static const char *record_str(const json_t *rec, const char *key, char **why)
{
    const char *v = json_string_value(json_object_get(rec, key));
    if (!v)
        *why = sf_asprintf("record has no \"%s\" string", key);
    return v;
}

int sf_state_apply_record(struct sf_state *s, const json_t *rec, char **why)
{
    *why = NULL;
    const char *op = json_string_value(json_object_get(rec, "op"));
    if (!op) {
        *why = sf_xstrdup("record has no \"op\" string");
        return -1;
    }
    if (strcmp(op, "put") == 0) {
        const char *address = record_str(rec, "address", why);
        json_t *entry = json_object_get(rec, "entry");
        if (!address)
            return -1;
        if (!json_is_object(entry) || !json_is_string(json_object_get(entry, "type"))) {
            *why = sf_xstrdup("put record has no \"entry\" object with a \"type\"");
            return -1;
        }
        /* Records are never modified after they are built or parsed, so
         * the entry can be shared rather than copied. */
        json_object_set(s->resources, address, entry);
        return 0;
    }
    if (strcmp(op, "intent") == 0) {
        const char *address = record_str(rec, "address", why);
        const char *type = address ? record_str(rec, "type", why) : NULL;
        json_t *intent = json_object_get(rec, "intent");
        if (!type)
            return -1;
        if (!json_is_object(intent)) {
            *why = sf_xstrdup("intent record has no \"intent\" object");
            return -1;
        }
        json_t *old = json_object_get(s->resources, address);
        json_t *entry;
        if (old) {
            /* A replacement: the old object still exists and its
             * attributes are what a destroy would need. */
            entry = json_copy(old);
        } else {
            entry = json_pack("{s:s, s:s}", "type", type, "status", "ok");
        }
        json_object_set(entry, "intent", intent);
        json_object_set_new(s->resources, address, entry);
        return 0;
    }
    if (strcmp(op, "remove") == 0) {
        const char *address = record_str(rec, "address", why);
        if (!address)
            return -1;
        json_object_del(s->resources, address);
        return 0;
    }
    if (strcmp(op, "outputs") == 0) {
        json_t *outputs = json_object_get(rec, "outputs");
        if (!json_is_object(outputs)) {
            *why = sf_xstrdup("outputs record has no \"outputs\" object");
            return -1;
        }
        json_decref(s->outputs);
        s->outputs = json_incref(outputs);
        return 0;
    }
    if (strcmp(op, "source") == 0) {
        json_t *source = json_object_get(rec, "source");
        if (source && !json_is_object(source) && !json_is_null(source)) {
            *why = sf_xstrdup("source record's \"source\" is neither an object nor null");
            return -1;
        }
        json_decref(s->source);
        s->source = json_is_object(source) ? json_incref(source) : NULL;
        return 0;
    }
    if (strcmp(op, "schedule") == 0) {
        json_t *schedule = json_object_get(rec, "schedule");
        if (schedule && !json_is_object(schedule) && !json_is_null(schedule)) {
            *why = sf_xstrdup("schedule record's \"schedule\" is neither an object nor null");
            return -1;
        }
        json_decref(s->schedule);
        s->schedule = json_is_object(schedule) ? json_deep_copy(schedule) : NULL;
        return 0;
    }
    *why = sf_asprintf("unknown record op \"%s\"; expected put, intent, remove, outputs, source "
                       "or schedule",
                       op);
    return -1;
}

/* Journal rec (when a run is journaling), then apply it; the caller holds
 * the mutex, so the journal's order is the order the changes were made in.
 * Takes the reference to rec. */
static int record_locked(struct sf_state *s, json_t *rec, const char *address, struct sf_diags *d)
{
    int rc = 0;
    if (s->journal_fd >= 0)
        rc = sf_journal_append(s, rec, d);
    if (rc == 0) {
        char *why = NULL;
        rc = sf_state_apply_record(s, rec, &why);
        if (rc < 0) {
            /* Only reachable through a bug: the record was built here. */
            sf_diag_add(d, SF_SEV_ERROR, NULL, address, "internal error in the state: %s", why);
            free(why);
        } else {
            s->changed = true;
        }
    }
    json_decref(rec);
    /* A remote lock whose lease was lost may be someone else's now: the
     * change is kept (journaled, so nothing done is forgotten) but the
     * run is told to stop, and commit will not upload. */
    if (rc == 0 && s->remote && sf_remote_lease_check(s, true, d) < 0)
        rc = -1;
    return rc;
}

static int record(struct sf_state *s, json_t *rec, const char *address, struct sf_diags *d)
{
    pthread_mutex_lock(&s->mu);
    int rc = record_locked(s, rec, address, d);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int check_address(const char *address, struct sf_diags *d)
{
    if (!address || !*address) {
        sf_error(d, NULL, "state change without a resource address");
        return -1;
    }
    return 0;
}

/* json_pack refuses invalid UTF-8 (and then returns NULL). */
static int built(json_t *rec, const char *address, struct sf_diags *d)
{
    if (rec)
        return 0;
    sf_diag_add(d, SF_SEV_ERROR, NULL, address,
                "cannot record the resource: its address or type is not valid UTF-8");
    return -1;
}

static json_t *put_record(const char *address, json_t *entry)
{
    return json_pack("{s:s, s:s, s:o}", "op", "put", "address", address, "entry", entry);
}

int sf_state_put(struct sf_state *s, const char *address, const json_t *entry, struct sf_diags *d)
{
    if (check_address(address, d) < 0)
        return -1;
    if (!json_is_object(entry) || !json_is_string(json_object_get(entry, "type"))) {
        sf_diag_add(d, SF_SEV_ERROR, NULL, address,
                    "state entry is not an object with a \"type\" string");
        return -1;
    }
    json_t *rec = put_record(address, sf_value_encode(entry));
    if (built(rec, address, d) < 0)
        return -1;
    return record(s, rec, address, d);
}

/* Changes that derive the new entry from the current one: build reads the
 * current entry (NULL when there is none) and returns the new one, NULL to
 * remove the entry, or cur itself (not a new reference) to leave it as it
 * is. Read and write happen under the mutex, so two threads changing one
 * address cannot lose each other's change. */
typedef json_t *(*derive_fn)(const json_t *cur, const void *arg);

static int derive(struct sf_state *s, const char *address, derive_fn build, const void *arg,
                  struct sf_diags *d)
{
    if (check_address(address, d) < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    json_t *cur = json_object_get(s->resources, address);
    json_t *next = build(cur, arg);
    int rc = 0;
    if (next != cur) {
        json_t *rec = next ? put_record(address, next)
                           : json_pack("{s:s, s:s}", "op", "remove", "address", address);
        rc = built(rec, address, d) < 0 ? -1 : record_locked(s, rec, address, d);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

struct record_args {
    const char *type;
    bool tainted;
    const json_t *attrs, *sensitive, *deps;
};

static json_t *build_record(const json_t *cur, const void *arg)
{
    const struct record_args *a = arg;
    /* Built key by key: a type that is not valid UTF-8 leaves the entry
     * without one, which the record check then refuses with an error. */
    json_t *e = json_object();
    json_object_set_new(e, "type", json_string(a->type));
    json_object_set_new(e, "status", json_string(a->tainted ? "tainted" : "ok"));
    json_object_set_new(e, "attributes", a->attrs ? sf_value_encode(a->attrs) : json_null());
    json_object_set_new(e, "sensitive_attributes",
                        a->sensitive ? sf_value_encode(a->sensitive) : json_array());
    json_object_set_new(e, "dependencies", a->deps ? sf_value_encode(a->deps) : json_array());
    json_t *deposed = json_object_get(cur, "deposed");
    if (json_array_size(deposed))
        json_object_set(e, "deposed", deposed);
    return e;
}

int sf_state_record(struct sf_state *s, const char *address, const char *type, bool tainted,
                    const json_t *attrs, const json_t *sensitive, const json_t *deps,
                    struct sf_diags *d)
{
    if (!type || !*type) {
        sf_diag_add(d, SF_SEV_ERROR, NULL, address, "state record without a resource type");
        return -1;
    }
    struct record_args a = {.type = type, .tainted = tainted, .attrs = attrs,
                            .sensitive = sensitive, .deps = deps};
    return derive(s, address, build_record, &a, d);
}

/* An entry left with no object and no deposed one is nothing: NULL. */
static json_t *unless_empty(json_t *e)
{
    json_t *a = json_object_get(e, "attributes");
    if ((!a || json_is_null(a)) && json_array_size(json_object_get(e, "deposed")) == 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static json_t *build_set_attrs(const json_t *cur, const void *arg)
{
    if (!cur)
        return NULL;
    const json_t *attrs = arg;
    json_t *e = json_copy((json_t *)cur);
    json_object_del(e, "intent");
    json_object_set_new(e, "attributes", attrs ? sf_value_encode(attrs) : json_null());
    return unless_empty(e);
}

int sf_state_set_attrs(struct sf_state *s, const char *address, const json_t *attrs,
                       struct sf_diags *d)
{
    return derive(s, address, build_set_attrs, attrs, d);
}

static json_t *build_depose(const json_t *cur, const void *arg)
{
    (void)arg;
    json_t *a = json_object_get(cur, "attributes");
    if (!a || json_is_null(a))
        return (json_t *)cur;
    json_t *e = json_copy((json_t *)cur);
    json_t *dep = json_object_get(cur, "deposed");
    dep = dep ? json_copy(dep) : json_array();
    json_array_append(dep, a);
    json_object_set_new(e, "deposed", dep);
    json_object_set_new(e, "attributes", json_null());
    return e;
}

int sf_state_depose(struct sf_state *s, const char *address, struct sf_diags *d)
{
    return derive(s, address, build_depose, NULL, d);
}

static json_t *build_pop_deposed(const json_t *cur, const void *arg)
{
    (void)arg;
    json_t *dep = json_object_get(cur, "deposed");
    if (json_array_size(dep) == 0)
        return (json_t *)cur;
    json_t *e = json_copy((json_t *)cur);
    if (json_array_size(dep) > 1) {
        json_t *rest = json_copy(dep);
        json_array_remove(rest, 0);
        json_object_set_new(e, "deposed", rest);
    } else {
        json_object_del(e, "deposed");
    }
    return unless_empty(e);
}

int sf_state_pop_deposed(struct sf_state *s, const char *address, struct sf_diags *d)
{
    return derive(s, address, build_pop_deposed, NULL, d);
}

int sf_state_move(struct sf_state *s, const char *from, const char *to, struct sf_diags *d)
{
    if (check_address(from, d) < 0 || check_address(to, d) < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    json_t *e = json_object_get(s->resources, from);
    int rc = -1;
    if (!e)
        sf_error(d, NULL, "no resource %s in the state", from);
    else if (json_object_get(s->resources, to))
        sf_error(d, NULL, "cannot move %s to %s: %s is already in the state", from, to, to);
    else {
        json_t *put = put_record(to, json_incref(e));
        rc = built(put, to, d);
        if (rc == 0)
            rc = record_locked(s, put, to, d);
        if (rc == 0)
            rc = record_locked(s, json_pack("{s:s, s:s}", "op", "remove", "address", from), from,
                               d);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sf_state_intent(struct sf_state *s, const char *address, const char *type,
                    const json_t *desired, const json_t *dependencies, struct sf_diags *d)
{
    if (check_address(address, d) < 0)
        return -1;
    if (!type || !*type) {
        sf_diag_add(d, SF_SEV_ERROR, NULL, address, "state intent without a resource type");
        return -1;
    }
    json_t *want = desired ? sf_value_encode(desired) : json_null();
    json_t *deps = dependencies ? sf_value_encode(dependencies) : json_array();
    json_t *rec = json_pack("{s:s, s:s, s:s, s:{s:o, s:o}}", "op", "intent", "address", address,
                            "type", type, "intent", "desired", want, "dependencies", deps);
    if (built(rec, address, d) < 0)
        return -1;
    return record(s, rec, address, d);
}

int sf_state_remove(struct sf_state *s, const char *address, struct sf_diags *d)
{
    if (check_address(address, d) < 0)
        return -1;
    json_t *rec = json_pack("{s:s, s:s}", "op", "remove", "address", address);
    if (built(rec, address, d) < 0)
        return -1;
    return record(s, rec, address, d);
}

int sf_state_set_outputs(struct sf_state *s, const json_t *outputs, struct sf_diags *d)
{
    if (outputs && !json_is_object(outputs)) {
        sf_error(d, NULL, "state outputs are not an object of name -> {value, sensitive}");
        return -1;
    }
    json_t *rec = json_pack("{s:s, s:o}", "op", "outputs", "outputs",
                            outputs ? sf_value_encode(outputs) : json_object());
    return record(s, rec, NULL, d);
}

const json_t *sf_state_source(const struct sf_state *s)
{
    return s->source;
}

int sf_state_set_source(struct sf_state *s, const json_t *source, struct sf_diags *d)
{
    if (source && !json_is_object(source)) {
        sf_error(d, NULL, "a state's source is an object {url, path, ref, commit}");
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    bool same = source ? s->source && json_equal(s->source, (json_t *)source) : !s->source;
    pthread_mutex_unlock(&s->mu);
    if (same)
        return 0;
    json_t *rec = json_pack("{s:s, s:O}", "op", "source", "source", source ? source : json_null());
    return record(s, rec, NULL, d);
}

const json_t *sf_state_schedule(const struct sf_state *s)
{
    return s->schedule;
}

int sf_state_set_schedule(struct sf_state *s, const json_t *schedule, struct sf_diags *d)
{
    if (schedule && !json_is_object(schedule)) {
        sf_error(d, NULL, "a state's schedule record is an object {created, last}");
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    bool same = schedule ? s->schedule && json_equal(s->schedule, (json_t *)schedule) : !s->schedule;
    pthread_mutex_unlock(&s->mu);
    if (same)
        return 0;
    json_t *rec = json_pack("{s:s, s:O}", "op", "schedule", "schedule", schedule ? schedule : json_null());
    return record(s, rec, NULL, d);
}

/* --- begin / commit ----------------------------------------------------- */

/* The backup of a plain file when encryption is on: sealed, as the file
 * itself is about to be (0, or -1 with errno or after errors in d). */
static int seal_backup(struct sf_state *s, const char *backup, struct sf_diags *d)
{
    size_t len;
    char *old = sf_read_file(s->path, &len);
    if (!old)
        return errno == ENOENT ? 0 : -1;
    if (!sf_crypt_is_sealed(old, len)) {
        size_t slen;
        char *sealed = sf_crypt_seal(s->crypt, "state", old, len, &slen, d);
        OPENSSL_cleanse(old, len);
        free(old);
        if (!sealed)
            return -1;
        old = sealed;
        len = slen;
    }
    int rc = sf_write_file_atomic(backup, old, len, 0600);
    free(old);
    return rc;
}

/* Keep the file about to be replaced as PATH.backup. A hard link costs
 * nothing and is the very inode being replaced; a copy is the fallback for
 * file systems without links. Both end up 0600. The first encrypted write
 * of a state that was plain seals the backup too rather than keep the
 * secrets in clear beside it. */
static int keep_backup(struct sf_state *s, struct sf_diags *d)
{
    const char *path = s->path;
    char *backup = sf_asprintf("%s.backup", path);
    char *tmp = sf_asprintf("%s.backup.tmp.%ld", path, (long)getpid());
    struct sf_pos pos = {backup, 0, 0};
    int rc = 0;
    unlink(tmp);
    size_t errs = sf_diags_errors(d);
    if (s->plain_on_disk) {
        if (seal_backup(s, backup, d) < 0) {
            if (sf_diags_errors(d) == errs)
                sf_error(d, &pos, "cannot keep the previous state as a backup: %s",
                         strerror(errno));
            rc = -1;
        }
    } else if (link(path, tmp) == 0) {
        /* The link shares the old file's inode; that file is about to be
         * replaced, so changing its mode changes only the backup. */
        if (chmod(tmp, 0600) < 0 || rename(tmp, backup) < 0) {
            sf_error(d, &pos, "cannot keep the previous state as a backup: %s", strerror(errno));
            unlink(tmp);
            rc = -1;
        }
    } else if (errno == ENOENT) {
        rc = 0; /* first commit: nothing to keep */
    } else {
        size_t len;
        char *old = sf_read_file(path, &len);
        if (!old && errno == ENOENT) {
            rc = 0;
        } else if (!old || sf_write_file_atomic(backup, old, len, 0600) < 0) {
            sf_error(d, &pos, "cannot keep the previous state as a backup: %s", strerror(errno));
            rc = -1;
        }
        free(old);
    }
    free(tmp);
    free(backup);
    return rc;
}

static int commit_locked(struct sf_state *s, struct sf_diags *d)
{
    if (!s->changed) {
        /* Nothing to fold: the file stays as it is, and the journal we
         * opened holds nothing but its header. */
        if (s->journal_fd >= 0)
            return sf_journal_remove(s, d);
        return 0;
    }
    long long serial = s->file_serial + 1;
    json_t *doc = document(s, serial);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    struct sf_pos pos = {s->path, 0, 0};
    if (!text) {
        sf_error(d, &pos, "cannot serialise the state (a value is not valid JSON)");
        return -1;
    }
    struct sf_buf b = {0};
    sf_buf_puts(&b, text);
    sf_buf_puts(&b, "\n");
    free(text);
    if (s->crypt) {
        size_t slen;
        char *sealed = sf_crypt_seal(s->crypt, "state", b.s, b.len, &slen, d);
        OPENSSL_cleanse(b.s, b.len);
        sf_buf_free(&b);
        if (!sealed)
            return -1;
        b = (struct sf_buf){0};
        sf_buf_puts(&b, sealed);
        free(sealed);
    }
    int rc;
    if (s->remote) {
        /* A versioned bucket keeps the history a local backup would. */
        rc = sf_remote_lease_check(s, false, d);
        if (rc == 0)
            rc = sf_remote_write(s, b.s, b.len, d);
        if (rc < 0 && access(s->journal_path, F_OK) == 0)
            sf_diag_detail(d, "The journal %s keeps every change of this run; the next run "
                              "replays it.", s->journal_path);
    } else {
        rc = keep_backup(s, d);
        if (rc == 0 && sf_write_file_atomic(s->path, b.s, b.len, 0600) < 0) {
            sf_error(d, &pos, "cannot write the state file: %s (the journal %s still holds "
                              "every change)", strerror(errno), s->journal_path);
            rc = -1;
        }
    }
    sf_buf_free(&b);
    if (rc < 0)
        return -1;
    s->serial = s->file_serial = serial;
    s->changed = false;
    s->plain_on_disk = false;
    /* The new file holds everything; a crash before this removal leaves a
     * journal whose base_serial is one less than the file's, which load
     * recognises as already folded. */
    return sf_journal_remove(s, d);
}

int sf_state_commit(struct sf_state *s, struct sf_diags *d)
{
    pthread_mutex_lock(&s->mu);
    int rc = commit_locked(s, d);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sf_state_copy_from(struct sf_state *dst, const struct sf_state *src, struct sf_diags *d)
{
    json_t *doc = sf_state_to_json(src);
    pthread_mutex_lock(&dst->mu);
    json_decref(dst->resources);
    dst->resources = json_incref(json_object_get(doc, "resources"));
    json_decref(dst->outputs);
    dst->outputs = json_incref(json_object_get(doc, "outputs"));
    json_decref(dst->source);
    dst->source = json_incref(json_object_get(doc, "source"));
    free(dst->lineage);
    dst->lineage = sf_xstrdup(src->lineage);
    /* commit writes file_serial + 1. */
    long long serial = src->serial > dst->file_serial ? src->serial : dst->file_serial + 1;
    dst->file_serial = serial - 1;
    dst->serial = serial;
    dst->changed = true;
    pthread_mutex_unlock(&dst->mu);
    json_decref(doc);
    (void)d;
    return 0;
}

int sf_state_begin(struct sf_state *s, struct sf_diags *d)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->journal_fd < 0) {
        /* A journal is relative to the file on disk: anything newer only
         * in memory (a replayed journal) goes into the file first. */
        if (s->changed)
            rc = commit_locked(s, d);
        if (rc == 0)
            rc = sf_journal_open(s, d);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

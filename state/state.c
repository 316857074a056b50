/*
 * The state model and its file: loading and validating PATH, the in-memory
 * changes a run makes (put, intent, remove, outputs) and the commit that
 * folds them into a new PATH (the old one kept as PATH.backup).
 *
 * Every change is first expressed as a journal record and then applied by
 * sf_state_apply_record, the same function the journal replay uses, so a
 * replayed journal can only ever produce what the run had in memory.
 * journal.c keeps the records durable; lock.c keeps two runs apart.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "value.h"

#define STATE_FORMAT_VERSION 1

static struct sf_state *state_new(const char *path)
{
    struct sf_state *s = sf_xcalloc(1, sizeof(*s));
    s->path = sf_xstrdup(path);
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
    json_decref(s->resources);
    json_decref(s->outputs);
    free(s->path);
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

int sf_state_load(const char *path, struct sf_state **out, struct sf_diags *d)
{
    *out = NULL;
    struct sf_state *s = state_new(path);
    size_t len = 0;
    char *text = sf_read_file(path, &len);
    bool have_file = text != NULL;
    if (!text && errno != ENOENT) {
        struct sf_pos pos = {path, 0, 0};
        sf_error(d, &pos, "cannot read the state file: %s", strerror(errno));
        sf_state_free(s);
        return -1;
    }
    if (text) {
        json_error_t err;
        json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
        free(text);
        if (!doc) {
            struct sf_pos pos = {path, err.line > 0 ? err.line : 0, err.column > 0 ? err.column : 0};
            sf_error(d, &pos, "state file is not valid JSON: %s", err.text);
            sf_state_free(s);
            return -1;
        }
        int rc = adopt_document(s, doc, d);
        json_decref(doc);
        if (rc < 0) {
            sf_state_free(s);
            return -1;
        }
    }
    if (sf_journal_replay(s, have_file, d) < 0) {
        sf_state_free(s);
        return -1;
    }
    /* No file and no journal to take a lineage from: a brand new stack. */
    if (!s->lineage)
        s->lineage = sf_uuid();
    *out = s;
    return 0;
}

json_t *sf_state_get(const struct sf_state *s, const char *address)
{
    /* The mutex is not part of the logical state: locking it through a
     * const pointer only keeps the hashtable from changing under us. */
    pthread_mutex_t *mu = (pthread_mutex_t *)&s->mu;
    pthread_mutex_lock(mu);
    json_t *e = json_object_get(s->resources, address);
    pthread_mutex_unlock(mu);
    return e;
}

/* The document with the parts shared, not copied: for writing it out. */
static json_t *document(const struct sf_state *s, long long serial)
{
    return json_pack("{s:i, s:s, s:I, s:O, s:O}", "format_version", STATE_FORMAT_VERSION,
                     "lineage", s->lineage, "serial", (json_int_t)serial, "resources",
                     s->resources, "outputs", s->outputs);
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
    *why = sf_asprintf("unknown record op \"%s\"; expected put, intent, remove or outputs", op);
    return -1;
}

/* Journal rec (when a run is journaling), then apply it: both under the
 * mutex so the journal's order is the order the changes were made in.
 * Takes the reference to rec. */
static int record(struct sf_state *s, json_t *rec, const char *address, struct sf_diags *d)
{
    pthread_mutex_lock(&s->mu);
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
    pthread_mutex_unlock(&s->mu);
    json_decref(rec);
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

int sf_state_put(struct sf_state *s, const char *address, const json_t *entry, struct sf_diags *d)
{
    if (check_address(address, d) < 0)
        return -1;
    if (!json_is_object(entry) || !json_is_string(json_object_get(entry, "type"))) {
        sf_diag_add(d, SF_SEV_ERROR, NULL, address,
                    "state entry is not an object with a \"type\" string");
        return -1;
    }
    json_t *rec = json_pack("{s:s, s:s, s:o}", "op", "put", "address", address, "entry",
                            sf_value_encode(entry));
    if (built(rec, address, d) < 0)
        return -1;
    return record(s, rec, address, d);
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

/* --- begin / commit ----------------------------------------------------- */

/* Keep the file about to be replaced as PATH.backup. A hard link costs
 * nothing and is the very inode being replaced; a copy is the fallback for
 * file systems without links. Both end up 0600. */
static int keep_backup(const char *path, struct sf_diags *d)
{
    char *backup = sf_asprintf("%s.backup", path);
    char *tmp = sf_asprintf("%s.backup.tmp.%ld", path, (long)getpid());
    struct sf_pos pos = {backup, 0, 0};
    int rc = 0;
    unlink(tmp);
    if (link(path, tmp) == 0) {
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
    int rc = keep_backup(s->path, d);
    if (rc == 0 && sf_write_file_atomic(s->path, b.s, b.len, 0600) < 0) {
        sf_error(d, &pos, "cannot write the state file: %s (the journal %s.journal still holds "
                          "every change)", strerror(errno), s->path);
        rc = -1;
    }
    sf_buf_free(&b);
    if (rc < 0)
        return -1;
    s->serial = s->file_serial = serial;
    s->changed = false;
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

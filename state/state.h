/*
 * Local state: what sparkform created, as JSON.
 *
 *   {
 *     "format_version": 1,
 *     "lineage": "<uuid, fixed for the life of the stack>",
 *     "serial": 7,                      (+1 at every commit that changed it)
 *     "resources": {
 *       "local_file.motd": {
 *         "type": "local_file",
 *         "status": "ok" | "tainted",
 *         "attributes": {...},          (all of them, secrets included)
 *         "sensitive_attributes": ["content"],
 *         "dependencies": ["local_ssh_key.deploy"],
 *         "intent": {...},              (only while a create is in flight)
 *         "deposed": [{...}, ...]       (only while a create_before_destroy
 *       }                                replacement still has to delete
 *     },                                 the old object)
 *     "outputs": {"name": {"value": ..., "sensitive": false}}
 *   }
 *
 * Durability: a run that changes state opens a journal beside the state file
 * (PATH.journal) and appends one record per change, flushed to disk before
 * the call returns, so a change costs the same however big the state is.
 * sf_state_commit folds everything into a new state file written
 * atomically (PATH.backup keeps the one before, mode 0600) and removes the
 * journal. sf_state_load replays a journal left by a run that died, and a
 * torn last record is ignored.
 *
 * Crash recovery: before a create, sf_state_intent records what is about
 * to be created; a resource whose entry still has an "intent" on the next
 * run was maybe created and never recorded, so the engine asks the
 * provider's adopt to look for it before it plans a create.
 */
#ifndef SF_STATE_H
#define SF_STATE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "diag.h"

struct sf_state {
    char *path;          /* the state file */
    char *lineage;
    long long serial;    /* of the state as loaded (a replayed journal counts as +1) */
    json_t *resources;   /* object: address -> entry (shape above) */
    json_t *outputs;     /* object: name -> {"value", "sensitive"} */
    /* private */
    int journal_fd;      /* -1 when no run is journaling */
    bool changed;        /* something was recorded since load */
    bool locked;
    char *lock_id;
    pthread_mutex_t mu;
    long long file_serial; /* serial of the file on disk (0 when there is none) */
};

/* Load path (a missing file is an empty state with a new lineage) and
 * replay PATH.journal when one is left. Malformed files are errors in d
 * naming the file. Returns 0 or -1. Load never writes: a journal left by a
 * run that died stays on disk until the next commit (or begin) folds it.
 * *out is freed with sf_state_free, which also releases a lock still held
 * and closes the journal without removing it. */
int sf_state_load(const char *path, struct sf_state **out, struct sf_diags *d);
void sf_state_free(struct sf_state *s);

/* The entry at address, or NULL (borrowed: valid until the next change of
 * that address; do not modify it). */
json_t *sf_state_get(const struct sf_state *s, const char *address);

/* Start journaling (append to PATH.journal, creating it 0600). Changes not
 * yet in the state file (a replayed journal, changes made before begin) are
 * first folded by a commit, so a journal always starts from the file on
 * disk. Calling it while journaling does nothing. */
int sf_state_begin(struct sf_state *s, struct sf_diags *d);

/* Each of these changes the in-memory state and, while journaling, appends
 * one durable record before it returns. They are thread-safe. entry is
 * copied. Return 0, or -1 with an error in d. */
int sf_state_put(struct sf_state *s, const char *address, const json_t *entry, struct sf_diags *d);
int sf_state_intent(struct sf_state *s, const char *address, const char *type,
                    const json_t *desired, const json_t *dependencies, struct sf_diags *d);
/* sf_state_intent sets the entry's "intent": {"desired", "dependencies"}.
 * When there was no entry it creates a placeholder {"type", "status": "ok",
 * "intent"} without "attributes" (nothing is known to exist yet); when
 * there was one (a replacement) its attributes are kept. A later put
 * replaces the whole entry, which clears the intent. Values are stored
 * encoded (sf_value_encode): the state never holds the unknown sentinel. */
int sf_state_remove(struct sf_state *s, const char *address, struct sf_diags *d);
int sf_state_set_outputs(struct sf_state *s, const json_t *outputs, struct sf_diags *d);

/* Fold: when anything changed, write the state file atomically with
 * serial + 1 (the old file kept as PATH.backup, mode 0600), then remove the
 * journal. Returns 0 or -1. The serial written is always the file's + 1:
 * after a replayed journal s->serial already counts it, so the file gets
 * s->serial. When nothing changed, the file is untouched and an empty
 * journal removed. Journaling stops; call sf_state_begin again to go on. */
int sf_state_commit(struct sf_state *s, struct sf_diags *d);

/* The whole state document (shape above); new reference. */
json_t *sf_state_to_json(const struct sf_state *s);

/* Locking: PATH.lock holds {"id", "operation", "who", "host", "pid",
 * "created"}. sf_state_lock fails at once naming the holder (and saying so
 * when its process is gone), or keeps trying for timeout_ms. */
int sf_state_lock(struct sf_state *s, const char *operation, long timeout_ms, struct sf_diags *d);
/* Remove PATH.lock if it is still ours (after a force-unlock it may not
 * be); 0, or -1 when it was not ours or could not be removed. */
int sf_state_unlock(struct sf_state *s);
/* Remove the lock of the state file path (PATH.lock) when its id is id;
 * otherwise an error that says which id holds it, or "no lock is held". */
int sf_state_force_unlock(const char *path, const char *id, struct sf_diags *d);

/* Between the files of state/ only (state.c, journal.c, lock.c). */

/* PATH.journal; caller frees. */
char *sf_journal_path(const char *state_path);
/* Create (truncating) PATH.journal with its header for s->lineage and
 * s->file_serial; sets s->journal_fd. */
int sf_journal_open(struct sf_state *s, struct sf_diags *d);
/* Append one record line and fdatasync; the caller holds s->mu. */
int sf_journal_append(struct sf_state *s, const json_t *record, struct sf_diags *d);
/* Replay PATH.journal into s, loaded from the file (have_file) or empty. */
int sf_journal_replay(struct sf_state *s, bool have_file, struct sf_diags *d);
/* Close and remove the journal, then fsync the directory. */
int sf_journal_remove(struct sf_state *s, struct sf_diags *d);
/* Apply one journal record to the in-memory state (the caller holds s->mu
 * or owns s alone). -1 with *why (caller frees) when the record is bad. */
int sf_state_apply_record(struct sf_state *s, const json_t *record, char **why);

#endif

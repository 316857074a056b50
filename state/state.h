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
 *     "outputs": {"name": {"value": ..., "sensitive": false}},
 *     "source": {"url", "path", "ref", "commit"}   (only when the last apply
 *                                        or destroy read the description from git)
 *     "schedule": {"created", "last": {"kind", "due", "by"}}  (a stack with
 *   }                                    schedules: provisioner/schedule.h)
 *
 * That shape is the file's and the journal's business: the engine sees a
 * struct sf_state and its entries only through the functions below, which
 * name what an entry means (its attributes, whether it is tainted, the
 * create in flight, the deposed objects) rather than how it is stored.
 *
 * Durability: a run that changes state opens a journal beside the state file
 * (PATH.journal) and appends one record per change, flushed to disk before
 * the call returns, so a change costs the same however big the state is.
 * sf_state_commit folds everything into a new state file written
 * atomically (PATH.backup keeps the one before, mode 0600) and removes the
 * journal. Loading replays a journal left by a run that died; a torn last
 * record is ignored, any other damage is an error.
 *
 * Crash recovery: before a create, sf_state_intent records what is about
 * to be created; a resource whose entry still has an intent on the next
 * run was maybe created and never recorded, so the engine asks the
 * provider's adopt to look for it before it plans a create.
 */
#ifndef SF_STATE_H
#define SF_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "state_crypt.h"
#include "diag.h"

struct sf_state;
/* One resource's record in a state. */
struct sf_state_entry;

/* --- where the state lives ---------------------------------------------- */

/* A state kept as an object in an S3 bucket (remote.c): the document at
 * key, its lock the object KEY.lock, taken with a conditional PUT and held
 * by a lease the run renews. The journal stays on this machine, in
 * journal_dir, until the document's upload succeeded. The strings are
 * copied when a state is opened. */
struct sf_state_s3 {
    const char *endpoint; /* "https://hb.ru-msk.vkcs.cloud" */
    const char *bucket;
    const char *key;
    const char *region;
    const char *access_key;
    const char *secret_key;
    const char *journal_dir; /* created when missing */
    long lease_ms;           /* 0: SPARKFORM_LOCK_LEASE when set, else 60 s */
};

/* Where a state is: the local file path, or, when s3 is set, an object
 * (path is then unused). With crypt, the document (and its backup) is
 * written sealed with crypt's key and so is every journal record; reads
 * take the key or the old key (state_crypt.h). Without it an encrypted state is
 * refused. */
struct sf_state_where {
    const char *path;
    const struct sf_state_s3 *s3;
    const struct sf_crypt_cfg *crypt;
};

/* How the state at w is named in messages: the path, or s3://BUCKET/KEY.
 * Caller frees. */
char *sf_state_where_name(const struct sf_state_where *w);

/* --- opening ------------------------------------------------------------ */

/* The calls below taking a path are the local file's; the _at forms take
 * either backend and behave the same way on both (for S3 "the file" is the
 * object and "PATH.lock" the lock object, see remote.c). */
int sf_state_open_locked_at(const struct sf_state_where *w, const char *operation,
                            long timeout_ms, struct sf_state **out, struct sf_diags *d);
int sf_state_load_at(const struct sf_state_where *w, struct sf_state **out, struct sf_diags *d);
int sf_state_force_unlock_at(const struct sf_state_where *w, const char *id, struct sf_diags *d);

/* Open the state at path for writing: take the lock (PATH.lock; refused at
 * once naming the holder, or retried for timeout_ms), then load the file
 * and replay PATH.journal, so what is read is the state as it is once no
 * other run can change it. Every command that changes the state opens it
 * so. Returns 0 or -1 (errors in d, the lock released). */
int sf_state_open_locked(const char *path, const char *operation, long timeout_ms,
                         struct sf_state **out, struct sf_diags *d);
/* Load path without the lock (a missing file is an empty state with a new
 * lineage) and replay PATH.journal when one is left: for commands that
 * only read, and for -lock=false. Malformed files are errors in d naming
 * the file. Load never writes: a journal left by a run that died stays on
 * disk until the next commit (or begin) folds it. */
int sf_state_load(const char *path, struct sf_state **out, struct sf_diags *d);
/* Free s; releases the lock if still held and closes the journal without
 * removing it (an uncommitted run is replayed next time, as after a crash). */
void sf_state_free(struct sf_state *s);

const char *sf_state_lineage(const struct sf_state *s);
/* The serial of the state as loaded (a replayed journal counts as +1). */
long long sf_state_serial(const struct sf_state *s);
/* A stack never written (serial 0) takes lineage, the one a saved plan was
 * made with; any other state keeps its own. */
void sf_state_take_lineage(struct sf_state *s, const char *lineage);
/* The id of the lock s holds, or NULL. */
const char *sf_state_lock_id(const struct sf_state *s);
/* Whether a document (or a journal of a run that died before its first
 * commit) was there when s was loaded: false for a stack never applied. */
bool sf_state_exists(const struct sf_state *s);
/* The encryption s was opened with (what a saved plan of it is sealed
 * with), or NULL. Borrowed. */
struct sf_crypt *sf_state_crypt(const struct sf_state *s);

/* --- reading ------------------------------------------------------------ */

/* The addresses recorded, in the state's order (the file's, then new ones
 * as they were first recorded): a new array (free it) of borrowed strings,
 * valid until their entry is removed. */
const char **sf_state_addresses(const struct sf_state *s, size_t *n);
/* The entry at address, or NULL. Borrowed: valid until the next change of
 * that address. */
const struct sf_state_entry *sf_state_get(const struct sf_state *s, const char *address);
/* Outputs: object name -> {"value", "sensitive"}; borrowed. */
const json_t *sf_state_outputs(const struct sf_state *s);

/* What an entry says; the values are borrowed from it. */
const char *sf_state_type(const struct sf_state_entry *e);
/* The object's attributes, or NULL when no object is known to exist (a
 * create in flight, or only deposed objects left). */
const json_t *sf_state_attrs(const struct sf_state_entry *e);
/* A create that failed after the object appeared: the next plan replaces it. */
bool sf_state_is_tainted(const struct sf_state_entry *e);
/* The desired values of a create in flight (as recorded, encoded with
 * sf_value_encode), or NULL when none is. */
const json_t *sf_state_intent_of(const struct sf_state_entry *e);
/* Array of the attributes of old objects still to be deleted, or NULL. */
const json_t *sf_state_deposed(const struct sf_state_entry *e);
/* Array of the addresses the object was created after, or NULL. */
const json_t *sf_state_deps(const struct sf_state_entry *e);
/* Array of the names of its sensitive attributes, or NULL. */
const json_t *sf_state_sensitive(const struct sf_state_entry *e);

/* The whole state document (shape above); new reference. */
json_t *sf_state_to_json(const struct sf_state *s);

/* --- changing ----------------------------------------------------------- */

/* Start journaling (append to PATH.journal, creating it 0600). Changes not
 * yet in the state file (a replayed journal, changes made before begin) are
 * first folded by a commit, so a journal always starts from the file on
 * disk. Calling it while journaling does nothing. */
int sf_state_begin(struct sf_state *s, struct sf_diags *d);

/* Each change below changes the in-memory state and, while journaling,
 * appends one durable record before it returns. They are thread-safe;
 * values are copied, and stored encoded (sf_value_encode): the state never
 * holds the unknown sentinel. Return 0, or -1 with an error in d. */

/* What exists at address after a create or an update: attrs (NULL when the
 * provider returned nothing), tainted or not, which of them are sensitive,
 * what the object was made after. Replaces the entry and clears its intent;
 * deposed objects stay on record. */
int sf_state_record(struct sf_state *s, const char *address, const char *type, bool tainted,
                    const json_t *attrs, const json_t *sensitive, const json_t *deps,
                    struct sf_diags *d);
/* Before a create: the entry's intent {"desired", "dependencies"}. Without
 * an entry it creates a placeholder with the intent and no attributes
 * (nothing is known to exist yet); a replacement keeps its attributes. */
int sf_state_intent(struct sf_state *s, const char *address, const char *type,
                    const json_t *desired, const json_t *dependencies, struct sf_diags *d);
/* What a refresh found, or that the object is gone: attrs NULL. Clears the
 * intent. An entry left with no object and no deposed one is removed. */
int sf_state_set_attrs(struct sf_state *s, const char *address, const json_t *attrs,
                       struct sf_diags *d);
/* A create_before_destroy replacement: the current object joins the
 * deposed ones (to be deleted after its successor exists). Does nothing
 * when the entry has no object. */
int sf_state_depose(struct sf_state *s, const char *address, struct sf_diags *d);
/* The first deposed object was deleted: drop it from the entry, and the
 * entry itself when nothing is left of it. */
int sf_state_pop_deposed(struct sf_state *s, const char *address, struct sf_diags *d);
/* `state mv`: the entry at from moves to to (which must be free). */
int sf_state_move(struct sf_state *s, const char *from, const char *to, struct sf_diags *d);
int sf_state_remove(struct sf_state *s, const char *address, struct sf_diags *d);
int sf_state_set_outputs(struct sf_state *s, const json_t *outputs, struct sf_diags *d);
/* Where the description of the last apply or destroy came from: a git
 * commit as {"url", "path", "ref", "commit"} (no credentials), or NULL (a
 * plain file). Borrowed. Setting NULL removes it; setting what is already
 * recorded changes nothing. */
const json_t *sf_state_source(const struct sf_state *s);
int sf_state_set_source(struct sf_state *s, const json_t *source, struct sf_diags *d);
/* The schedule's record (provisioner/schedule.h gives it meaning: when the
 * stack was first created, and the last power transition acted on), or
 * NULL. Borrowed. Setting NULL removes it; setting what is already
 * recorded changes nothing. Journaled like every change. */
const json_t *sf_state_schedule(const struct sf_state *s);
int sf_state_set_schedule(struct sf_state *s, const json_t *schedule, struct sf_diags *d);
/* A whole entry in the file's shape (above): for importing records made
 * elsewhere; the engine uses the calls above. */
int sf_state_put(struct sf_state *s, const char *address, const json_t *entry, struct sf_diags *d);

/* `state migrate`: make dst a copy of src (lineage, resources, outputs,
 * source); the next commit writes it with src's serial, or one more than
 * dst's own when that is higher (a serial never goes back). */
int sf_state_copy_from(struct sf_state *dst, const struct sf_state *src, struct sf_diags *d);

/* Fold: when anything changed, write the state file atomically with
 * serial + 1 (the old file kept as PATH.backup, mode 0600), then remove the
 * journal. Returns 0 or -1. The serial written is always the file's + 1:
 * after a replayed journal the serial already counts it, so the file gets
 * sf_state_serial. When nothing changed, the file is untouched and an empty
 * journal removed. Journaling stops; call sf_state_begin again to go on. */
int sf_state_commit(struct sf_state *s, struct sf_diags *d);

/* --- locks -------------------------------------------------------------- */

/* PATH.lock holds {"id", "operation", "who", "host", "pid", "start" (the
 * process's start time), "boot_id", "created"}; a lock whose holder is
 * provably dead is taken over with a warning (lock.c).
 * Remove it if it is still ours (after a force-unlock it may not be); 0, or
 * -1 when it was not ours or could not be removed. */
int sf_state_unlock(struct sf_state *s);
/* Remove the lock of the state file path (PATH.lock) when its id is id;
 * otherwise an error that says which id holds it, or "no lock is held". */
int sf_state_force_unlock(const char *path, const char *id, struct sf_diags *d);

#endif

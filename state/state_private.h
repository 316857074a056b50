/*
 * What the files of state/ share and nobody else sees: the layout of
 * struct sf_state and the calls between state.c (the model and its file),
 * journal.c (the durable record of changes) and lock.c (one writer at a
 * time), and remote.c (the same three for a state kept in an S3 bucket).
 * Everything outside state/ goes through state.h.
 */
#ifndef SF_STATE_PRIVATE_H
#define SF_STATE_PRIVATE_H

#include <pthread.h>
#include <time.h>

#include "state.h"

struct sf_remote; /* remote.c */

struct sf_state {
    char *path;            /* the state file; for a remote state its name, s3://BUCKET/KEY */
    char *journal_path;    /* PATH.journal, or the remote state's local journal */
    struct sf_remote *remote; /* NULL: the local file */
    char *lineage;
    long long serial;      /* of the state as loaded (a replayed journal counts as +1) */
    json_t *resources;     /* object: address -> entry (shape in state.h) */
    json_t *outputs;       /* object: name -> {"value", "sensitive"} */
    json_t *source;        /* object {"url", "path", "ref", "commit"}, or NULL */
    json_t *schedule;      /* the schedule's record (provisioner/schedule.h), or NULL */
    int journal_fd;        /* -1 when no run is journaling */
    bool changed;          /* something was recorded since load */
    bool locked;
    char *lock_id;
    pthread_mutex_t mu;
    long long file_serial; /* serial of the file on disk (0 when there is none) */
    bool had_document;     /* a document was read at load */
    bool plain_on_disk;    /* ... and it was plain, though encryption is set */
    struct sf_crypt *crypt; /* NULL: a plain state */
    /* An encrypted journal's header line: with the record's number, the
     * additional data of every record, so that none can be moved to
     * another journal or place. NULL while the journal is plain. */
    char *journal_aad;
    size_t journal_records;
};

/* Take PATH.lock: fails at once naming the holder (and saying so when its
 * process is gone), or keeps trying for timeout_ms. */
int sf_state_lock(struct sf_state *s, const char *operation, long timeout_ms, struct sf_diags *d);

/* PATH.journal; caller frees. */
char *sf_journal_path(const char *state_path);
/* Create (truncating) PATH.journal with its header for s->lineage and
 * s->file_serial; sets s->journal_fd. */
int sf_journal_open(struct sf_state *s, struct sf_diags *d);
/* Append one record line and fdatasync; the caller holds s->mu. */
int sf_journal_append(struct sf_state *s, const json_t *record, struct sf_diags *d);
/* Replay PATH.journal into s, loaded from the file (have_file) or empty. */
int sf_journal_replay(struct sf_state *s, bool have_file, struct sf_diags *d);
/* The state's name in messages: "the state PATH". Caller frees. */
char *sf_state_name(const struct sf_state *s);
/* Close and remove the journal, then fsync the directory. */
int sf_journal_remove(struct sf_state *s, struct sf_diags *d);
/* Apply one journal record to the in-memory state (the caller holds s->mu
 * or owns s alone). -1 with *why (caller frees) when the record is bad. */
int sf_state_apply_record(struct sf_state *s, const json_t *record, char **why);

/* lock.c: what a lock says about its holder; caller frees. */
char *sf_lock_user(void);
char *sf_lock_host(void);
/* t as RFC 3339 UTC ("2024-05-01T12:00:00Z"). */
char *sf_lock_time(time_t t);
/* A string field of a lock's content, "?" when absent. */
const char *sf_lock_field(const json_t *info, const char *key);
/* Who holds the lock info, for messages: `who@host (pid N, operation
 * "apply", since T[, lease until L], lock id ID)`; a new string. */
char *sf_lock_holder(const json_t *info);

/* remote.c: the S3 backend. */
/* Check cfg and set up its client; NULL after errors in d. */
struct sf_remote *sf_remote_new(const struct sf_state_s3 *cfg, struct sf_diags *d);
/* Stops the lease's renewal; releases nothing else. */
void sf_remote_free(struct sf_remote *r);
/* The local journal of the remote state cfg: JOURNAL_DIR/s3-HASH.journal,
 * HASH from the endpoint, the bucket and the key. Caller frees. */
char *sf_remote_journal_path(const struct sf_state_s3 *cfg);
/* Download the document: *text NULL when there is none (caller frees). */
int sf_remote_read(struct sf_state *s, char **text, size_t *len, struct sf_diags *d);
/* Upload the document, conditional on what was read (or last written). */
int sf_remote_write(struct sf_state *s, const char *text, size_t len, struct sf_diags *d);
int sf_remote_lock(struct sf_state *s, const char *operation, long timeout_ms,
                   struct sf_diags *d);
int sf_remote_unlock(struct sf_state *s);
int sf_remote_force_unlock(struct sf_remote *r, const char *id, struct sf_diags *d);
/* 0 while the lock's lease holds (or no lock is held); -1 once it was
 * lost, with an error in d (only the first time it is asked when once:
 * every change of a parallel walk asks). */
int sf_remote_lease_check(struct sf_state *s, bool once, struct sf_diags *d);

#endif

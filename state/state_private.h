/*
 * What the files of state/ share and nobody else sees: the layout of
 * struct sf_state and the calls between state.c (the model and its file),
 * journal.c (the durable record of changes) and lock.c (one writer at a
 * time). Everything outside state/ goes through state.h.
 */
#ifndef SF_STATE_PRIVATE_H
#define SF_STATE_PRIVATE_H

#include <pthread.h>

#include "state.h"

struct sf_state {
    char *path;            /* the state file */
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
/* Close and remove the journal, then fsync the directory. */
int sf_journal_remove(struct sf_state *s, struct sf_diags *d);
/* Apply one journal record to the in-memory state (the caller holds s->mu
 * or owns s alone). -1 with *why (caller frees) when the record is bad. */
int sf_state_apply_record(struct sf_state *s, const json_t *record, char **why);

#endif

/*
 * Schedules: when a stack sleeps, wakes and expires. A description's
 * `schedules:` block (at the top of a Stack, or filled by a module such as
 * the SparkService's from its spec.schedules) names hibernate and wake as
 * cron expressions in a time zone, an expiry (delete_after, a duration
 * since the stack was first created, or expires_at, a time) and the
 * resources whose power the schedule owns (a cluster's status, a server's
 * power_state: attributes their types flag SF_POWER).
 *
 * This file is the pure part, unit-tested on its own: reading the block
 * out of a loaded description, and deciding, from the schedule, what the
 * state records about it (when the stack was created, the last transition
 * acted on) and the time now, what is due. schedrun.c carries the decision
 * out for `sparkform schedule run`, `hibernate` and `wake`; the engine
 * (run.c) keeps a plan from fighting the schedule over power.
 *
 * Acting once per transition: each transition is identified by the instant
 * it was due (the cron firing, or the expiry). A run acts on the latest
 * firing of hibernate or wake at or before now only when the state's last
 * transition is older than it, so running every five minutes or once an
 * hour acts once, and a transition made by hand (`sparkform wake` inside a
 * hibernate window) stands until the next firing.
 */
#ifndef SF_SCHEDULE_H
#define SF_SCHEDULE_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "cron.h"
#include "diag.h"

enum sf_sched_kind {
    SF_SCHED_NONE,      /* nothing due / no transition yet */
    SF_SCHED_HIBERNATE, /* turn the owned resources off */
    SF_SCHED_WAKE,      /* turn them on */
    SF_SCHED_EXPIRE,    /* destroy the whole stack */
};

struct sf_schedule {
    struct sf_cron *hibernate, *wake; /* both, or neither */
    char *hibernate_zone, *wake_zone; /* tz database names; "UTC" by default */
    long long delete_after;           /* seconds after creation; 0: none */
    char *delete_after_text;          /* as written ("14d"), or NULL */
    bool has_expires_at;
    time_t expires_at;
    char **resources;                 /* whole addresses whose power it owns */
    size_t n_resources;
    struct sf_pos pos;                /* the schedules: block */
};

/* What the state records (sf_state_schedule), as
 * {"created": RFC3339, "last": {"kind", "due": RFC3339, "by": "schedule"|"hand"}}. */
struct sf_sched_record {
    time_t created;             /* 0: not known */
    enum sf_sched_kind last;    /* SF_SCHED_NONE: no transition yet */
    time_t last_due;            /* the instant the last transition was due */
    bool by_hand;               /* `sparkform hibernate` / `wake` made it */
};

struct sf_sched_decision {
    enum sf_sched_kind action; /* what is due now; NONE when nothing is */
    time_t due;                /* when it was due */
    enum sf_sched_kind window; /* HIBERNATE or WAKE: which fired last; NONE without them */
    time_t window_since;       /* when that window began */
    time_t next_hibernate, next_wake; /* 0 without hibernate / wake */
    time_t expires;            /* 0: no expiry (or delete_after before creation is known) */
};

/* The description's schedule: the one `schedules:` block of its frames (the
 * description's own, or a module's), evaluated (inputs and variables only)
 * and checked: cron expressions and zones (errors at the line and column,
 * inside the expression, of the field), hibernate and wake together,
 * delete_after or expires_at (not both), the resources named (resolved in
 * the block's module, like depends_on) existing and having a power state.
 * *out is NULL when there is none. Returns 0 or -1 (errors in d). */
int sf_schedule_load(const struct sf_config *c, struct sf_schedule **out, struct sf_diags *d);
void sf_schedule_free(struct sf_schedule *s);

/* Whether the schedule owns the power of the resource at address. */
bool sf_schedule_owns(const struct sf_schedule *s, const char *address);

/* The decision (see the top of this file). expires counts from
 * rec->created. 0, or -1 with an error in d (a zone the system lost). */
int sf_schedule_decide(const struct sf_schedule *s, const struct sf_sched_record *rec, time_t now,
                       struct sf_sched_decision *out, struct sf_diags *d);

/* The state's record as a struct (NULL or malformed parts read as
 * unknown), and back (new reference). */
void sf_sched_record_read(const json_t *j, struct sf_sched_record *out);
json_t *sf_sched_record_json(const struct sf_sched_record *rec);

/* "hibernate", "wake", "expire", "none". */
const char *sf_sched_kind_name(enum sf_sched_kind k);

/* t in zone and in UTC, "2026-10-26 20:00 CET (19:00 UTC)"; caller frees. */
char *sf_schedule_when(time_t t, const char *zone);
/* t as RFC 3339 in UTC, "2026-10-26T19:00:00Z", into buf (>= 21 bytes). */
void sf_schedule_rfc3339(time_t t, char *buf, size_t size);

/* What a plan shows: {"hibernate": {"cron", "timezone", "next", "next_local"},
 * "wake": {...}, "expires_at": {"at", "local"}, "resources": [...]}
 * (missing parts left out; "next" in RFC 3339 UTC). New reference. */
json_t *sf_schedule_summary(const struct sf_schedule *s, const struct sf_sched_record *rec,
                            time_t now);

/* ---- schedrun.c: the commands ---- */

struct sf_run_opts;

/* `sparkform schedule run`: under the state lock, decide at now and act:
 * expired, destroy everything; a transition due, turn the owned resources
 * off or on through their provider; nothing, say so. Logs each action and
 * why to stdout. Returns 0, or -1 (errors in d). */
int sf_schedule_run(const struct sf_run_opts *o, time_t now, struct sf_diags *d);
/* `sparkform hibernate` / `wake`: the same power change by hand, recorded
 * as the last transition (due now) so a schedule run leaves it until the
 * next firing. */
int sf_schedule_manual(const struct sf_run_opts *o, bool wake, time_t now, struct sf_diags *d);

#endif

/*
 * The schedule's commands (schedule.h): `sparkform schedule run`, meant for
 * cron, a systemd timer or a scheduled CI job, and `sparkform hibernate` /
 * `wake` by hand. Each opens the run as apply does (description, state
 * under its lock), asks schedule.c what is due, and carries it out through
 * the engine: a power change is the owned resources' update through their
 * provider (run.c's sf_run_power), journaled like any change; an expired
 * stack is destroyed by the ordinary plan and apply of a destroy. Every
 * action is logged with what fired and when, so the log of a timer reads
 * as a history of the service.
 */
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "run.h"
#include "ui.h"
#include "util.h"

/* Whether the recorded object at address is turned off (1), on (0), or
 * not known (-1: not in the state). */
static int recorded_off(struct sf_state *st, const char *address)
{
    const struct sf_state_entry *e = sf_state_get(st, address);
    const json_t *attrs = e ? sf_state_attrs(e) : NULL;
    const struct sf_resource_type *rt = e ? sf_provider_find_type(sf_state_type(e)) : NULL;
    if (!attrs || !rt || !rt->power_off)
        return -1;
    for (const struct sf_attr *a = rt->attrs; a && a->name; a++)
        if (a->flags & SF_POWER) {
            const char *v = json_string_value(json_object_get(attrs, a->name));
            return v && strcmp(v, rt->power_off) == 0;
        }
    return -1;
}

/* "0 20 * * 1-5 in Europe/Berlin was due at 2026-10-26 20:00 CET (19:00 UTC)" */
static char *why_window(const struct sf_schedule *s, enum sf_sched_kind k, time_t due)
{
    const struct sf_cron *c = k == SF_SCHED_HIBERNATE ? s->hibernate : s->wake;
    const char *zone = k == SF_SCHED_HIBERNATE ? s->hibernate_zone : s->wake_zone;
    char *when = sf_schedule_when(due, zone);
    char *why = sf_asprintf("%s in %s was due at %s", sf_cron_text(c), zone, when);
    free(when);
    return why;
}

static const char *display_zone(const struct sf_schedule *s)
{
    return s->hibernate_zone ? s->hibernate_zone : "UTC";
}

/* Turn every owned resource off or on and record the transition (kind,
 * due, by whom) in the same journal. The transition is recorded only when
 * every resource made it, so a failed run is tried again by the next. */
static int transition(struct sf_run *r, const struct sf_schedule *s, enum sf_sched_kind kind,
                      time_t due, bool by_hand, struct sf_diags *d)
{
    struct sf_state *st = sf_run_state(r);
    bool on = kind == SF_SCHED_WAKE;
    if (sf_state_begin(st, d) < 0)
        return -1;
    int rc = 0;
    /* Waking goes in the order the schedule names its resources (the
     * cluster first), hibernating in reverse. */
    for (size_t k = 0; k < s->n_resources && rc == 0; k++) {
        const char *addr = s->resources[on ? k : s->n_resources - 1 - k];
        bool acted = false;
        if (sf_run_power(r, addr, on, &acted, d) < 0)
            rc = -1;
        else if (!acted)
            sf_ui_line("%s: already %s, nothing to do", addr, on ? "running" : "turned off");
    }
    if (rc == 0) {
        struct sf_sched_record rec;
        sf_sched_record_read(sf_state_schedule(st), &rec);
        rec.last = kind;
        rec.last_due = due;
        rec.by_hand = by_hand;
        json_t *j = sf_sched_record_json(&rec);
        rc = sf_state_set_schedule(st, j, d);
        json_decref(j);
    }
    if (sf_state_commit(st, d) < 0)
        rc = -1;
    return rc;
}

static int expire(struct sf_run *r, const struct sf_schedule *s, const struct sf_sched_record *rec,
                  const struct sf_sched_decision *dec, struct sf_diags *d)
{
    char *when = sf_schedule_when(dec->due, display_zone(s));
    if (s->has_expires_at) {
        char at[40];
        sf_schedule_rfc3339(s->expires_at, at, sizeof(at));
        sf_ui_line("expire: expires_at %s was due at %s; destroying the stack", at, when);
    } else {
        char *created = sf_schedule_when(rec->created, display_zone(s));
        sf_ui_line("expire: delete_after %s since the stack was created (%s) was due at %s; "
                   "destroying the stack",
                   s->delete_after_text, created, when);
        free(created);
    }
    free(when);
    sf_run_set_destroy(r, true);
    struct sf_plan *plan = NULL;
    int rc = -1;
    if (sf_run_plan(r, &plan, d) == 0) {
        sf_plan_render(stdout, plan, sf_ui_color());
        fflush(stdout);
        rc = sf_plan_has_changes(plan) ? sf_run_apply(r, plan, d) : 0;
        if (rc == 0 && !sf_plan_has_changes(plan)) {
            /* Nothing left to delete: only the records go. */
            struct sf_state *st = sf_run_state(r);
            rc = sf_state_begin(st, d) == 0 && sf_state_set_schedule(st, NULL, d) == 0 ? 0 : -1;
            if (sf_state_commit(st, d) < 0)
                rc = -1;
        }
    }
    sf_plan_free(plan);
    return rc;
}

static void nothing_due(struct sf_run *r, const struct sf_schedule *s,
                        const struct sf_sched_record *rec, const struct sf_sched_decision *dec)
{
    struct sf_buf b = {0};
    sf_buf_puts(&b, "Nothing due: ");
    if (s->hibernate) {
        int off = 0, on = 0;
        for (size_t i = 0; i < s->n_resources; i++) {
            int o = recorded_off(sf_run_state(r), s->resources[i]);
            off += o == 1;
            on += o == 0;
        }
        bool asleep = off > 0 && on == 0;
        if (off && on)
            sf_buf_puts(&b, "the service is partly turned off");
        else
            sf_buf_printf(&b, "the service is %s", asleep ? "hibernated" : "awake");
        if (rec->by_hand && rec->last != dec->window) {
            char *at = sf_schedule_when(rec->last_due, display_zone(s));
            sf_buf_printf(&b, " (%s by hand at %s, which the schedule keeps until its next "
                              "transition)",
                          rec->last == SF_SCHED_WAKE ? "woken" : "hibernated", at);
            free(at);
        }
        time_t next = asleep ? dec->next_wake : dec->next_hibernate;
        char *when = sf_schedule_when(next, asleep ? s->wake_zone : s->hibernate_zone);
        sf_buf_printf(&b, "; next %s %s", asleep ? "wake" : "hibernate", when);
        free(when);
    } else {
        sf_buf_puts(&b, "the stack has not expired");
    }
    if (dec->expires) {
        char *when = sf_schedule_when(dec->expires, display_zone(s));
        sf_buf_printf(&b, "; it expires %s", when);
        free(when);
    }
    sf_ui_line("%s.", b.s);
    sf_buf_free(&b);
}

/* Opens the run and checks there is a schedule and something applied:
 * 1 to go on, 0 when there is nothing to act on (said why), -1 on errors. */
static int open_scheduled(const struct sf_run_opts *o, const char *operation, struct sf_run **r,
                          struct sf_diags *d)
{
    struct sf_run_opts mine = *o;
    mine.operation = operation;
    if (sf_run_open(&mine, r, d) < 0)
        return -1;
    if (!sf_run_schedule(*r)) {
        sf_error(d, NULL,
                 "%s has no schedules: (hibernate and wake, delete_after or expires_at, and the "
                 "resources they turn off and on)",
                 sf_run_config(*r)->path);
        return -1;
    }
    size_t n;
    free(sf_state_addresses(sf_run_state(*r), &n));
    if (n == 0) {
        sf_ui_line("Nothing to do: the state records nothing (not applied yet, or destroyed).");
        return 0;
    }
    return 1;
}

int sf_schedule_run(const struct sf_run_opts *o, time_t now, struct sf_diags *d)
{
    struct sf_run *r = NULL;
    int go = open_scheduled(o, "schedule run", &r, d);
    int rc = go < 0 ? -1 : 0;
    if (go > 0) {
        const struct sf_schedule *s = sf_run_schedule(r);
        struct sf_sched_record rec;
        sf_sched_record_read(sf_state_schedule(sf_run_state(r)), &rec);
        struct sf_sched_decision dec;
        if (sf_schedule_decide(s, &rec, now, &dec, d) < 0) {
            rc = -1;
        } else if (dec.action == SF_SCHED_EXPIRE) {
            rc = expire(r, s, &rec, &dec, d);
        } else if (dec.action != SF_SCHED_NONE) {
            char *why = why_window(s, dec.action, dec.due);
            sf_ui_line("%s: %s", sf_sched_kind_name(dec.action), why);
            free(why);
            rc = transition(r, s, dec.action, dec.due, false, d);
        } else {
            nothing_due(r, s, &rec, &dec);
        }
    }
    sf_run_close(r);
    return rc;
}

int sf_schedule_manual(const struct sf_run_opts *o, bool wake, time_t now, struct sf_diags *d)
{
    struct sf_run *r = NULL;
    int go = open_scheduled(o, wake ? "wake" : "hibernate", &r, d);
    int rc = go < 0 ? -1 : 0;
    if (go > 0) {
        const struct sf_schedule *s = sf_run_schedule(r);
        enum sf_sched_kind kind = wake ? SF_SCHED_WAKE : SF_SCHED_HIBERNATE;
        if (s->n_resources == 0) {
            sf_error(d, &s->pos, "the schedule names no resources to turn %s (schedules.resources)",
                     wake ? "on" : "off");
            sf_run_close(r);
            return -1;
        }
        char *when = sf_schedule_when(now, display_zone(s));
        sf_ui_line("%s: by hand at %s; the schedule leaves it so until its next transition",
                   sf_sched_kind_name(kind), when);
        free(when);
        rc = transition(r, s, kind, now, true, d);
    }
    sf_run_close(r);
    return rc;
}

/*
 * Schedules: 5-field cron expressions evaluated in an IANA time zone, and
 * the RFC 3339 times a schedule's expiry is written in. A SparkService's
 * `schedules:` (hibernate / wake by cron, with a time zone) are checked
 * with these when the description is loaded, and `sparkform schedule run`
 * asks them whether a transition is due: the last hibernate and the last
 * wake at or before now (sf_cron_prev) say whether the service should be
 * asleep, sf_cron_next says when the next change comes. `delete_after` is
 * a duration, read by sf_parse_duration_ms (lib/util.h).
 *
 * Expressions: minute hour day-of-month month day-of-week, each a list
 * (a,b-c) of `*`, numbers, ranges a-b and steps: a-b/n, a/n (from a to
 * the field's end) and a star followed by /n; months JAN..DEC and days
 * SUN..SAT in any case; 7 is Sunday like 0. @yearly @annually @monthly
 * @weekly @daily @midnight and @hourly (any case) stand for their usual
 * expressions; @reboot is refused (a schedule has no boot to run at).
 * When both day-of-month and day-of-week are restricted (neither starts
 * with `*`), a day matches if either matches; otherwise both must, as in
 * every cron since Vixie's.
 *
 * Daylight saving time. A schedule fires on wall times of its zone, each
 * matching wall time of a day once. This is Vixie cron's rule for jobs at
 * a fixed time, applied to every expression:
 *  - a wall time that a spring-forward change skips (02:30 in Berlin on
 *    2026-03-29) fires at the first instant after the gap (03:00 CEST, the
 *    moment of the change); every skipped time of one expression fires
 *    there together, once;
 *  - a wall time that a fall-back change repeats (02:30 in Berlin on
 *    2026-10-25) fires once, at its first occurrence (02:30 CEST).
 * Vixie cron differs only for expressions with a `*` in minute or hour,
 * which it runs by the clock as it reads after the change (skipped times
 * lost, repeated ones run twice); here an hourly schedule fires at the end
 * of a gap and does not repeat the hour a fall-back brings back, so no
 * wall time is lost and none is acted on twice.
 *
 * Zones come from the system's tz database (TZDIR, else /usr/share/zoneinfo)
 * through glibc: TZ is switched under a mutex for the computation and
 * restored afterwards. Nothing else in sparkform reads local time, so the
 * switch is invisible to the rest of a run.
 */
#ifndef SF_CRON_H
#define SF_CRON_H

#include <time.h>

#include "diag.h"

/* A parsed cron expression. */
struct sf_cron;

/* Parse a cron expression. at is where text's first character is in the
 * description (a scalar's text_pos) or NULL: an error names the field and
 * what it expected ("day-of-week: \"MON-FOO\": expected a day 0-7 or
 * SUN..SAT") and its column is at->col plus the offset, in characters, of
 * the bad part inside text. An expression no date can satisfy (`0 0 30 2 *`)
 * is an error too. Returns the expression, which the caller frees with
 * sf_cron_free, or NULL. */
struct sf_cron *sf_cron_parse(const char *text, const struct sf_pos *at, struct sf_diags *d);
void sf_cron_free(struct sf_cron *c);

/* The text the expression was parsed from (a shorthand as written). */
const char *sf_cron_text(const struct sf_cron *c);

/* 0 when zone names a zone of the tz database that glibc loads
 * ("Europe/Berlin", "UTC"); otherwise -1 with an error at at (which may be
 * NULL). glibc takes any unknown name for UTC; this does not. */
int sf_cron_zone_check(const char *zone, const struct sf_pos *at, struct sf_diags *d);

/* The first instant strictly after `after` at which c fires in zone
 * (DST rules above). 0 with *out set, or -1 with an error in d (an unknown
 * zone). */
int sf_cron_next(const struct sf_cron *c, const char *zone, time_t after, time_t *out,
                 struct sf_diags *d);

/* The last instant at or before `at` at which c fired in zone: with the
 * hibernate and wake expressions, which of the two happened last. 0 with
 * *out set, or -1 with an error in d. */
int sf_cron_prev(const struct sf_cron *c, const char *zone, time_t at, time_t *out,
                 struct sf_diags *d);

/* t as the wall clock of zone reads it, with the zone's abbreviation:
 * "2026-10-26 20:00 CET", into buf (at least 40 bytes), for the lines a
 * schedule logs and a plan shows. 0, or -1 with an error in d (an unknown
 * zone). */
int sf_cron_local(time_t t, const char *zone, char *buf, size_t size, struct sf_diags *d);

/* Parse an RFC 3339 date-time ("2026-05-01T18:00:00Z",
 * "2026-05-01T21:00:00.5+03:00"; `t`, `z` and a space for the `T` are
 * accepted, fractions of a second dropped) into *out. 0, or -1 with an
 * error at at (which may be NULL). */
int sf_cron_parse_time(const char *text, const struct sf_pos *at, time_t *out, struct sf_diags *d);

#endif

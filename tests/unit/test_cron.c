/*
 * Unit tests of schedules (lib/cron.c): every piece of cron syntax, each
 * error with its field and column, the day-of-month / day-of-week rule,
 * next and previous firings in real zones across their 2026 DST changes
 * (Europe/Berlin, America/New_York) and in one without (Europe/Moscow),
 * unknown zones, and RFC 3339 times. Expected instants are UTC epoch
 * seconds worked out with Python's zoneinfo and date(1), not by this code.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "util.h"

static struct sf_diags diags;
static const struct sf_pos at = {"t.yaml", 3, 10};

static void setup(void)
{
    sf_diags_init(&diags);
}

static void teardown(void)
{
    sf_diags_free(&diags);
}

static struct sf_cron *parse_ok(const char *expr)
{
    struct sf_cron *c = sf_cron_parse(expr, &at, &diags);
    ck_assert_msg(c != NULL, "\"%s\" refused: %s", expr, diags.n ? diags.items[0].summary : "?");
    return c;
}

/* The n firings of expr in zone after from, one after the other. */
static void check_fires(const char *expr, const char *zone, time_t from, const time_t *want,
                        size_t n)
{
    struct sf_cron *c = parse_ok(expr);
    time_t t = from;
    for (size_t i = 0; i < n; i++) {
        time_t next = 0;
        ck_assert_msg(sf_cron_next(c, zone, t, &next, &diags) == 0, "%s: next failed", expr);
        ck_assert_msg(next == want[i], "\"%s\" in %s: firing %zu after %lld is %lld, want %lld",
                      expr, zone, i + 1, (long long)t, (long long)next, (long long)want[i]);
        t = next;
    }
    sf_cron_free(c);
}
#define FIRES(expr, zone, from, ...)                                                               \
    check_fires(expr, zone, from, (time_t[]){__VA_ARGS__},                                         \
                sizeof((time_t[]){__VA_ARGS__}) / sizeof(time_t))

static time_t prev_of(const char *expr, const char *zone, time_t when)
{
    struct sf_cron *c = parse_ok(expr);
    time_t t = 0;
    ck_assert_msg(sf_cron_prev(c, zone, when, &t, &diags) == 0, "%s: prev failed", expr);
    sf_cron_free(c);
    return t;
}

/* expr is refused with exactly msg, at column 10 + offset of line 3. */
static void check_error(const char *expr, const char *msg, int offset)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_cron *c = sf_cron_parse(expr, &at, &d);
    ck_assert_msg(c == NULL, "\"%s\" was accepted", expr);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_str_eq(d.items[0].summary, msg);
    ck_assert_str_eq(d.items[0].file, "t.yaml");
    ck_assert_int_eq(d.items[0].line, 3);
    ck_assert_msg(d.items[0].col == 10 + offset, "\"%s\": column %d, want %d", expr,
                  d.items[0].col, 10 + offset);
    sf_diags_free(&d);
}

enum { MIN = 60, HOUR = 3600, DAY = 86400 };

/* 2026-01-01 00:00 UTC, a Thursday. */
static const time_t T0 = 1767225600;

START_TEST(test_syntax)
{
    FIRES("* * * * *", "UTC", T0, T0 + MIN, T0 + 2 * MIN);
    FIRES("* * * * *", "UTC", T0 + 59, T0 + MIN);
    ck_assert_int_eq(prev_of("* * * * *", "UTC", T0 + 59), T0);
    FIRES("*/15 * * * *", "UTC", T0, T0 + 15 * MIN, T0 + 30 * MIN, T0 + 45 * MIN, T0 + HOUR);
    FIRES("5-20/5 * * * *", "UTC", T0, T0 + 5 * MIN, T0 + 10 * MIN, T0 + 15 * MIN, T0 + 20 * MIN,
          T0 + HOUR + 5 * MIN);
    /* a/n runs from a to the end of the field. */
    FIRES("50/5 * * * *", "UTC", T0, T0 + 50 * MIN, T0 + 55 * MIN, T0 + HOUR + 50 * MIN);
    FIRES("1,10-12 * * * *", "UTC", T0, T0 + MIN, T0 + 10 * MIN, T0 + 11 * MIN, T0 + 12 * MIN,
          T0 + HOUR + MIN);
    FIRES("0 */6 * * *", "UTC", T0, T0 + 6 * HOUR, T0 + 12 * HOUR, T0 + 18 * HOUR, T0 + DAY);
    FIRES("0 9-17/4 * * *", "UTC", T0, T0 + 9 * HOUR, T0 + 13 * HOUR, T0 + 17 * HOUR,
          T0 + DAY + 9 * HOUR);
    FIRES("  0\t12 * * *  ", "UTC", T0, T0 + 12 * HOUR, T0 + DAY + 12 * HOUR);
    /* Month names in any case; 2026-07-01, 2027-01-01. */
    FIRES("0 0 1 jan,Jul *", "UTC", T0, 1782864000, 1798761600);
    FIRES("0 0 1 FEB *", "UTC", T0, 1769904000);
    /* Days: 7 and 0 are Sunday (2026-01-04, 01-11); 5-7 is Friday to
     * Sunday (01-02, 01-03, 01-04, then 01-09). */
    FIRES("0 0 * * 7", "UTC", T0, 1767484800, 1768089600);
    FIRES("0 0 * * 0", "UTC", T0, 1767484800, 1768089600);
    FIRES("0 0 * * SUN", "UTC", T0, 1767484800, 1768089600);
    FIRES("0 0 * * 5-7", "UTC", T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY, T0 + 8 * DAY);
    FIRES("0 0 * * sun,Sat", "UTC", T0, T0 + 2 * DAY, T0 + 3 * DAY, T0 + 9 * DAY);
    FIRES("0 0 * * mOn", "UTC", T0, 1767571200);
    FIRES("0 0 * * MON-FRI/2", "UTC", T0, T0 + DAY, T0 + 4 * DAY, T0 + 6 * DAY, T0 + 8 * DAY);
    /* Shorthands. */
    FIRES("@hourly", "UTC", T0, T0 + HOUR, T0 + 2 * HOUR);
    FIRES("@daily", "UTC", T0, T0 + DAY);
    FIRES("@midnight", "UTC", T0, T0 + DAY);
    FIRES("@weekly", "UTC", T0, 1767484800, 1768089600);
    FIRES("@monthly", "UTC", T0, 1769904000);
    FIRES("@yearly", "UTC", T0, 1798761600);
    FIRES("@annually", "UTC", T0, 1798761600);
    FIRES(" @Daily ", "UTC", T0, T0 + DAY);

    struct sf_cron *c = parse_ok("@weekly");
    ck_assert_str_eq(sf_cron_text(c), "@weekly");
    sf_cron_free(c);
    ck_assert_uint_eq(diags.n, 0);
}
END_TEST

START_TEST(test_errors)
{
    check_error("0 20 * * MON-FOO", "day-of-week: \"MON-FOO\": expected a day 0-7 or SUN..SAT",
                13);
    check_error("60 * * * *", "minute: \"60\": expected a minute 0-59", 0);
    check_error("0 24 * * *", "hour: \"24\": expected an hour 0-23", 2);
    check_error("0 0 0 * *", "day-of-month: \"0\": expected a day 1-31", 4);
    check_error("0 0 1 13 *", "month: \"13\": expected a month 1-12 or JAN..DEC", 6);
    check_error("0 0 1 1,JANUARY *", "month: \"JANUARY\": expected a month 1-12 or JAN..DEC", 8);
    check_error("0 0 * * 8", "day-of-week: \"8\": expected a day 0-7 or SUN..SAT", 8);
    check_error("0 MON * * *", "hour: \"MON\": expected an hour 0-23", 2);
    check_error("? * * * *", "minute: \"?\": expected a minute 0-59", 0);
    check_error("1,5-x * * * *", "minute: \"5-x\": expected a minute 0-59", 4);
    check_error("*/0 * * * *", "minute: \"*/0\": expected a step 1-59 after \"/\"", 2);
    check_error("*/ * * * *", "minute: \"*/\": expected a step 1-59 after \"/\"", 2);
    check_error("0 */24 * * *", "hour: \"*/24\": expected a step 1-23 after \"/\"", 4);
    check_error("0 0 * * 1/x", "day-of-week: \"1/x\": expected a step 1-7 after \"/\"", 10);
    check_error("5* * * * *", "minute: \"5*\": expected a minute 0-59, a range a-b or a step /n",
                1);
    check_error("0 20-8 * * *",
                "hour: \"20-8\": a range must not go backwards; write it as two, \"20-23,0-8\"", 2);
    check_error("0 0 * * FRI-MON",
                "day-of-week: \"FRI-MON\": a range must not go backwards; write it as two, "
                "\"5-7,0-1\"",
                8);
    check_error("1,,2 * * * *",
                "minute: \"1,,2\": expected a minute 0-59 before and after each \",\"", 2);
    check_error("1, * * * *", "minute: \"1,\": expected a minute 0-59 after the last \",\"", 2);
    check_error("0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4",
                7);
    check_error("0 0 * * * 2026",
                "expected 5 fields (minute hour day-of-month month day-of-week), found more: "
                "\"2026\"",
                10);
    check_error("", "empty cron expression; expected 5 fields (minute hour day-of-month month "
                    "day-of-week) or a shorthand such as @daily",
                0);
    check_error("@reboot", "@reboot has no time of day to be due at; a schedule needs a time, e.g. "
                           "\"0 8 * * MON-FRI\"",
                0);
    check_error("  @often", "\"@often\": expected 5 fields or one of @yearly, @annually, "
                            "@monthly, @weekly, @daily, @midnight, @hourly",
                2);
    check_error("@daily 5", "nothing may follow @daily, found \"5\"", 7);
    /* A character that is not ASCII is refused where it starts. */
    check_error("0 0 * * \xc3\xa9-MON",
                "day-of-week: \"\xc3\xa9-MON\": expected a day 0-7 or SUN..SAT", 8);

    /* No position: the message alone. */
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_ptr_null(sf_cron_parse("0 0 * *", NULL, &d));
    ck_assert_uint_eq(d.n, 1);
    ck_assert_ptr_null(d.items[0].file);
    sf_diags_free(&d);
}
END_TEST

START_TEST(test_dom_dow)
{
    /* Both restricted: the 13th or a Friday (2026-01-02, 01-09, the 13th a
     * Tuesday, 01-16). */
    FIRES("0 12 13 * FRI", "UTC", T0, 1767355200, 1767960000, 1768305600, 1768564800);
    /* Day-of-month starts with a star: both must hold, odd days that are
     * Fridays (01-09, 01-23, then 02-13). */
    FIRES("0 12 */2 * FRI", "UTC", T0, 1767960000, 1769169600, 1770984000);
    /* Day-of-week starts with a star: the 13th on Sun/Tue/Thu/Sat
     * (01-13 a Tuesday, then 06-13 a Saturday). */
    FIRES("0 12 13 * */2", "UTC", T0, 1768305600, 1781352000);
    /* One restricted, the other `*`: only the restricted one counts. */
    FIRES("0 12 13 * *", "UTC", T0, 1768305600, 1770984000);
    FIRES("0 12 * * FRI", "UTC", T0, 1767355200, 1767960000);
    /* 30 February never comes, but Mondays in February do (02-02). */
    FIRES("0 0 30 2 MON", "UTC", 1769904000, 1769990400);
}
END_TEST

START_TEST(test_never_and_far)
{
    check_error("0 0 30 2 *",
                "\"0 0 30 2 *\" never matches: no date has the day-of-month in the month", 4);
    check_error("0 0 31 4,6,9,11 *",
                "\"0 0 31 4,6,9,11 *\" never matches: no date has the day-of-month in the month",
                4);
    /* 29 February: from 2026-03-01 the next is 2028-02-29; from 2096-03-01
     * it is 2104-02-29, eight years on (2100 is no leap year). */
    FIRES("0 0 29 2 *", "UTC", 1772323200, 1835395200);
    FIRES("0 0 29 2 *", "UTC", 3981398400, 4233686400);
    ck_assert_int_eq(prev_of("0 0 29 2 *", "UTC", 4233600000), 3981312000);
}
END_TEST

/* Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC),
 * 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC). */
START_TEST(test_berlin)
{
    const char *z = "Europe/Berlin";
    /* Hourly: 01:00 CET (00:00 UTC), then 02:00 is skipped and fires with
     * 03:00 CEST at 01:00 UTC, once; then 04:00 CEST (02:00 UTC). */
    FIRES("0 * * * *", z, 1774742400 - 1, 1774742400, 1774746000, 1774749600);
    /* Fall back: 02:00 CEST (00:00 UTC); 02:00 CET (01:00 UTC) is the same
     * wall time again and does not fire; 03:00 CET (02:00 UTC). */
    FIRES("0 * * * *", z, 1792886400 - 1, 1792886400, 1792893600);
    ck_assert_int_eq(prev_of("0 * * * *", z, 1792891800), 1792886400);
    /* Every minute: the repeated hour's minutes fired in their first pass,
     * so from 00:59 UTC the next is 03:00 CET (02:00 UTC). */
    ck_assert_int_eq(prev_of("* * * * *", z, 1792891800), 1792886400 + 59 * MIN);
    FIRES("* * * * *", z, 1792886400 + 59 * MIN, 1792893600, 1792893600 + MIN);
    FIRES("* * * * *", z, 1774742400 + 59 * MIN, 1774746000, 1774746000 + MIN);

    /* 02:30 daily: on 03-28 at 01:30 UTC; on 03-29 it does not exist and
     * fires at the change, 03:00 CEST = 01:00 UTC; on 03-30 02:30 CEST. */
    FIRES("30 2 * * *", z, 1774699200 - DAY, 1774661400, 1774746000, 1774830600);
    /* On 10-25 it is 00:30 UTC (CEST), not again at 01:30 UTC (CET); on
     * 10-26 02:30 CET. */
    FIRES("30 2 * * *", z, 1792843200, 1792888200, 1792978200);
    /* Every skipped minute fires at the change, together, once. */
    FIRES("*/20 2 * * *", z, 1774699200, 1774746000, 1774828800);
    /* prev is "at or before": the firing itself counts. */
    ck_assert_int_eq(prev_of("30 2 * * *", z, 1774746000), 1774746000);
    ck_assert_int_eq(prev_of("30 2 * * *", z, 1774746000 - 1), 1774661400);
    /* 02:45 CET on 10-25 (01:45 UTC) follows the repeated 02:30, which
     * fired at its first occurrence, 00:30 UTC. */
    ck_assert_int_eq(prev_of("30 2 * * *", z, 1792892700), 1792888200);
    ck_assert_int_eq(prev_of("30 2 * * *", z, 1792888200 - 1), 1792888200 - DAY);
}
END_TEST

/* America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC),
 * 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC). */
START_TEST(test_new_york)
{
    const char *z = "America/New_York";
    /* Hourly: 01:00 EST (06:00 UTC), then 03:00 EDT (07:00 UTC), 04:00
     * EDT. */
    FIRES("0 * * * *", z, 1772949600 - 1, 1772949600, 1772953200, 1772956800);
    /* 01:00 EDT (05:00 UTC), 01:00 EST is a repeat, 02:00 EST (07:00 UTC). */
    FIRES("0 * * * *", z, 1793509200 - 1, 1793509200, 1793516400);
    /* 02:30 daily: skipped on 03-08, fires at 07:00 UTC; 03-09 02:30 EDT. */
    FIRES("30 2 * * *", z, 1772884800, 1772953200, 1773037800);
    /* On 11-01 02:30 exists once (EST, 07:30 UTC). */
    FIRES("30 2 * * *", z, 1793448000, 1793518200);
    /* 01:30 on 11-01 is repeated: 05:30 UTC only, then 11-02 01:30 EST. */
    FIRES("30 1 * * *", z, 1793448000, 1793511000, 1793601000);
    /* At 01:45 EST (06:45 UTC) the last 01:30 was the first one. */
    ck_assert_int_eq(prev_of("30 1 * * *", z, 1793511000 + HOUR + 15 * MIN), 1793511000);
    ck_assert_int_eq(prev_of("0 * * * *", z, 1793516400 - 1), 1793509200);
}
END_TEST

/* Europe/Moscow: UTC+3 all year, nothing happens on either change day. */
START_TEST(test_moscow)
{
    const char *z = "Europe/Moscow";
    FIRES("0 * * * *", z, 1774742400 - 1, 1774742400, 1774746000, 1774749600);
    FIRES("30 2 * * *", z, 1774742400, 1774827000);
    FIRES("30 2 * * *", z, 1792843200, 1792884600, 1792971000);
    ck_assert_int_eq(prev_of("30 2 * * *", z, 1792884600 + DAY - 1), 1792884600);
}
END_TEST

/* A working week of hibernate at 20:00 and wake at 08:00, Monday to
 * Friday, and which of the two happened last. */
START_TEST(test_week)
{
    const char *z = "Europe/Moscow", *hib = "0 20 * * MON-FRI", *wake = "0 8 * * MON-FRI";
    /* From Sunday 2026-05-03 12:00 MSK. */
    time_t sun = 1777798800;
    FIRES(hib, z, sun, 1777914000, 1778000400, 1778086800, 1778173200, 1778259600, 1778518800);
    FIRES(wake, z, sun, 1777870800, 1777957200, 1778043600, 1778130000, 1778216400, 1778475600);
    /* Saturday noon: Friday's hibernate is later than Friday's wake. */
    time_t sat = 1778317200;
    ck_assert_int_eq(prev_of(hib, z, sat), 1778259600);
    ck_assert_int_eq(prev_of(wake, z, sat), 1778216400);
    /* Wednesday noon: awake since 08:00, asleep from Tuesday 20:00 till then. */
    time_t wed = 1778058000;
    ck_assert_int_eq(prev_of(hib, z, wed), 1778000400);
    ck_assert_int_eq(prev_of(wake, z, wed), 1778043600);

    /* Berlin over the spring change: Friday 03-27 in CET, Monday 03-30 in
     * CEST (an hour earlier in UTC). */
    FIRES(wake, "Europe/Berlin", 1774695600, 1774850400);
    FIRES(hib, "Europe/Berlin", 1774695600, 1774893600);
    ck_assert_int_eq(prev_of(wake, "Europe/Berlin", 1774695600), 1774594800);
    ck_assert_int_eq(prev_of(hib, "Europe/Berlin", 1774695600), 1774638000);
}
END_TEST

START_TEST(test_zones)
{
    ck_assert_int_eq(sf_cron_zone_check("UTC", &at, &diags), 0);
    ck_assert_int_eq(sf_cron_zone_check("Europe/Berlin", &at, &diags), 0);
    ck_assert_int_eq(sf_cron_zone_check("Etc/GMT-3", &at, &diags), 0);
    ck_assert_uint_eq(diags.n, 0);

    /* glibc would take each of these for UTC. */
    const char *bad[] = {"Mars/Base", "Europe/Foo", "Moscow", "", "zone.tab",
                         "../../../etc/passwd", "/usr/share/zoneinfo/UTC", "Europe/",
                         "Europe//Berlin", "Europe/./Berlin", "Europe/Berlin x", NULL};
    for (int i = 0; bad[i]; i++) {
        struct sf_diags d;
        sf_diags_init(&d);
        ck_assert_msg(sf_cron_zone_check(bad[i], &at, &d) == -1, "\"%s\" accepted", bad[i]);
        ck_assert_uint_eq(d.n, 1);
        char *want = sf_asprintf("unknown time zone \"%s\"; expected a name of the tz database "
                                 "such as Europe/Moscow, America/New_York or UTC",
                                 bad[i]);
        ck_assert_str_eq(d.items[0].summary, want);
        ck_assert_int_eq(d.items[0].col, 10);
        free(want);
        sf_diags_free(&d);
    }

    /* next and prev refuse them too, and leave the caller's TZ alone. */
    setenv("TZ", "America/New_York", 1);
    struct sf_cron *c = parse_ok("0 8 * * *");
    time_t t = 0;
    ck_assert_int_eq(sf_cron_next(c, "Mars/Base", T0, &t, &diags), -1);
    ck_assert_int_eq(sf_cron_prev(c, "Mars/Base", T0, &t, &diags), -1);
    ck_assert_uint_eq(diags.n, 2);
    ck_assert_int_eq(sf_cron_next(c, "Europe/Moscow", T0, &t, &diags), 0);
    ck_assert_int_eq(t, T0 + 5 * HOUR);
    ck_assert_str_eq(getenv("TZ"), "America/New_York");
    unsetenv("TZ");
    ck_assert_int_eq(sf_cron_prev(c, "Europe/Moscow", T0, &t, &diags), 0);
    ck_assert_int_eq(t, T0 + 5 * HOUR - DAY);
    /* Unset, it is glibc's default spelled out: the same local time. */
    ck_assert_msg(!getenv("TZ") || !strcmp(getenv("TZ"), ":/etc/localtime"), "TZ=%s", getenv("TZ"));
    sf_cron_free(c);

    /* Without a database a zone is an error that says what is missing. */
    setenv("TZDIR", "/nonexistent/zoneinfo", 1);
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_cron_zone_check("Europe/Berlin", NULL, &d), -1);
    ck_assert_str_eq(d.items[0].summary, "time zone \"Europe/Berlin\": there is no tz database at "
                                         "/nonexistent/zoneinfo (install tzdata)");
    sf_diags_free(&d);
    unsetenv("TZDIR");
}
END_TEST

/* Threads asking about different zones at once each get their own zone's
 * answer: the zone switch is serialised. */
struct zone_job {
    const char *zone;
    time_t want;
    int wrong;
};

static void *zone_worker(void *arg)
{
    struct zone_job *j = arg;
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_cron *c = sf_cron_parse("30 2 * * *", NULL, &d);
    for (int i = 0; i < 200; i++) {
        time_t t = 0;
        if (!c || sf_cron_next(c, j->zone, 1772884800, &t, &d) < 0 || t != j->want)
            j->wrong++;
    }
    sf_cron_free(c);
    sf_diags_free(&d);
    return NULL;
}

START_TEST(test_threads)
{
    /* From 2026-03-07 12:00 UTC: New York skips 02:30 on 03-08 (07:00
     * UTC); Berlin fires at 02:30 CET on 03-08 (01:30 UTC). */
    struct zone_job jobs[4] = {{.zone = "America/New_York", .want = 1772953200},
                               {.zone = "Europe/Berlin", .want = 1772933400},
                               {.zone = "America/New_York", .want = 1772953200},
                               {.zone = "Europe/Berlin", .want = 1772933400}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, zone_worker, &jobs[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(jobs[i].wrong == 0, "%s: %d wrong answers", jobs[i].zone, jobs[i].wrong);
    }
}
END_TEST

static time_t time_ok(const char *text)
{
    time_t t = 0;
    ck_assert_msg(sf_cron_parse_time(text, &at, &t, &diags) == 0, "\"%s\" refused: %s", text,
                  diags.n ? diags.items[0].summary : "?");
    return t;
}

static void time_bad(const char *text, int offset)
{
    struct sf_diags d;
    sf_diags_init(&d);
    time_t t = 0;
    ck_assert_msg(sf_cron_parse_time(text, &at, &t, &d) == -1, "\"%s\" accepted", text);
    ck_assert_uint_eq(d.n, 1);
    char *want = sf_asprintf("\"%s\" is not an RFC 3339 time; expected e.g. 2026-05-01T18:00:00Z "
                             "or 2026-05-01T21:00:00+03:00",
                             text);
    ck_assert_str_eq(d.items[0].summary, want);
    ck_assert_int_eq(d.items[0].col, 10 + offset);
    free(want);
    sf_diags_free(&d);
}

START_TEST(test_rfc3339)
{
    /* 2026-05-01 18:00 UTC. */
    ck_assert_int_eq(time_ok("2026-05-01T18:00:00Z"), 1777658400);
    ck_assert_int_eq(time_ok("2026-05-01T21:00:00+03:00"), 1777658400);
    ck_assert_int_eq(time_ok("2026-05-01T14:00:00-04:00"), 1777658400);
    ck_assert_int_eq(time_ok("2026-05-01t18:00:00.123z"), 1777658400);
    ck_assert_int_eq(time_ok("2026-05-01 18:00:00Z"), 1777658400);
    /* 2024-02-29 05:30 UTC. */
    ck_assert_int_eq(time_ok("2024-02-29T00:00:00-05:30"), 1709184600);
    ck_assert_int_eq(time_ok("2026-12-31T23:59:60Z"), 1798761600);
    ck_assert_uint_eq(diags.n, 0);

    time_bad("2026-02-29T00:00:00Z", 0);
    time_bad("2026-13-01T00:00:00Z", 0);
    time_bad("2026-05-01T24:00:00Z", 0);
    time_bad("2026-05-01T18:00:00", 0);
    time_bad("2026-05-01", 0);
    time_bad("2026-05-01T18:00Z", 0);
    time_bad("2026-05-01T18:00:00.Z", 0);
    time_bad("2026-05-01T18:00:00+3:00", 0);
    time_bad("2026-05-01T18:00:00Z junk", 20);
    time_bad("", 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("cron");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_syntax);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_dom_dow);
    tcase_add_test(tc, test_never_and_far);
    tcase_add_test(tc, test_berlin);
    tcase_add_test(tc, test_new_york);
    tcase_add_test(tc, test_moscow);
    tcase_add_test(tc, test_week);
    tcase_add_test(tc, test_zones);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_rfc3339);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

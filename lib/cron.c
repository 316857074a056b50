/*
 * Cron expressions and time zones for a SparkService's schedules (see
 * cron.h for the syntax and the daylight-saving rules). An expression is
 * parsed into one bit set per field; the next and previous firing are
 * found by walking the zone's calendar day by day and turning each
 * matching wall time into the instant it fires at, so that a gap or a
 * repeated hour of a DST change is decided in one place (wall_instant).
 * glibc reads the tz database; this file only switches TZ around it.
 */
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, NFIELDS };

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const struct field {
    const char *name;
    int lo, hi;
    const char *expect;
    const char *const *names; /* names[i] stands for lo + i */
} fields[NFIELDS] = {
    [F_MINUTE] = {.name = "minute", .lo = 0, .hi = 59, .expect = "a minute 0-59"},
    [F_HOUR] = {.name = "hour", .lo = 0, .hi = 23, .expect = "an hour 0-23"},
    [F_MDAY] = {.name = "day-of-month", .lo = 1, .hi = 31, .expect = "a day 1-31"},
    [F_MONTH] = {.name = "month", .lo = 1, .hi = 12, .expect = "a month 1-12 or JAN..DEC",
                 .names = month_names},
    [F_WDAY] = {.name = "day-of-week", .lo = 0, .hi = 7, .expect = "a day 0-7 or SUN..SAT",
                .names = day_names},
};

static const struct shorthand {
    const char *name, *expr;
} shorthands[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* How many days a search walks before it calls an expression one that
 * never matches: a little over eight years, the longest wait there is
 * (29 February from 2096 to 2104). */
#define SEARCH_DAYS (9 * 366)

/* No zone of the tz database was ever further than 16 hours from UTC
 * (the largest offsets are local mean times of the 19th century, under
 * 15:57), so an instant's wall time is within 16 hours of it. */
#define MAX_OFFSET (16 * 3600)

struct sf_cron {
    char *text;
    uint64_t bits[NFIELDS]; /* bit v set: value v matches (day-of-week: 0..6, Sunday 0) */
    bool mday_star, wday_star; /* the field starts with `*` (the day rule in cron.h) */
};

/* ---- parsing ---- */

struct parser {
    const char *text; /* the whole expression, for error columns */
    const struct sf_pos *at;
    struct sf_diags *d;
};

/* An error about the part of the expression that starts at where. */
static void perr(struct parser *ps, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perr(struct parser *ps, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    struct sf_pos pos = {0};
    if (ps->at) {
        pos = *ps->at;
        /* Columns count characters, as libyaml's do. */
        if (pos.line > 0)
            for (const char *s = ps->text; s < where && *s; s++)
                if (((unsigned char)*s & 0xC0) != 0x80)
                    pos.col++;
    }
    sf_error(ps->d, ps->at ? &pos : NULL, "%s", msg);
    free(msg);
}

/* A number or a name of field f at *p (inside [item, end)); advances *p. */
static int parse_value(struct parser *ps, int f, const char **p, const char *item, const char *end,
                       int *out)
{
    const struct field *fd = &fields[f];
    const char *s = *p, *e = s;
    while (e < end && isalnum((unsigned char)*e))
        e++;
    int v = -1;
    if (e > s && isdigit((unsigned char)*s)) {
        v = 0;
        for (const char *q = s; q < e; q++) {
            if (!isdigit((unsigned char)*q) || v > 1000) {
                v = -1;
                break;
            }
            v = v * 10 + (*q - '0');
        }
        if (v < fd->lo || v > fd->hi)
            v = -1;
    } else if (fd->names && e - s == 3) {
        for (int i = 0; fd->names[i]; i++)
            if (strncasecmp(s, fd->names[i], 3) == 0)
                v = fd->lo + i;
    }
    if (v < 0) {
        perr(ps, s, "%s: \"%.*s\": expected %s", fd->name, (int)(end - item), item, fd->expect);
        return -1;
    }
    *out = v;
    *p = e;
    return 0;
}

/* One item of a list: `*`, a value or a range, with an optional step. */
static int parse_item(struct parser *ps, int f, const char *item, const char *end, uint64_t *bits)
{
    const struct field *fd = &fields[f];
    const char *p = item;
    int a, b;
    bool single = false;
    if (p < end && *p == '*') {
        a = fd->lo;
        b = fd->hi;
        p++;
    } else {
        if (parse_value(ps, f, &p, item, end, &a) < 0)
            return -1;
        b = a;
        single = true;
        if (p < end && *p == '-') {
            p++;
            if (parse_value(ps, f, &p, item, end, &b) < 0)
                return -1;
            single = false;
            if (b < a) {
                perr(ps, item,
                     "%s: \"%.*s\": a range must not go backwards; write it as two, "
                     "\"%d-%d,%d-%d\"",
                     fd->name, (int)(end - item), item, a, fd->hi, fd->lo, b);
                return -1;
            }
        }
    }
    int step = 1;
    if (p < end && *p == '/') {
        const char *s = ++p;
        step = 0;
        while (p < end && isdigit((unsigned char)*p) && step <= fd->hi)
            step = step * 10 + (*p++ - '0');
        if (p == s || p < end || step < 1 || step > fd->hi) {
            perr(ps, s, "%s: \"%.*s\": expected a step 1-%d after \"/\"", fd->name,
                 (int)(end - item), item, fd->hi);
            return -1;
        }
        /* a/n: from a to the end of the field. */
        if (single)
            b = fd->hi;
    }
    if (p < end) {
        perr(ps, p, "%s: \"%.*s\": expected %s, a range a-b or a step /n", fd->name,
             (int)(end - item), item, fd->expect);
        return -1;
    }
    for (int v = a; v <= b; v += step)
        *bits |= (uint64_t)1 << v;
    return 0;
}

/* A field, the text [s, e): a comma-separated list of items. */
static int parse_field(struct parser *ps, int f, const char *s, const char *e, uint64_t *bits)
{
    const char *item = s;
    for (;;) {
        const char *end = memchr(item, ',', (size_t)(e - item));
        if (!end)
            end = e;
        if (end == item) {
            perr(ps, item, "%s: \"%.*s\": expected %s before and after each \",\"",
                 fields[f].name, (int)(e - s), s, fields[f].expect);
            return -1;
        }
        if (parse_item(ps, f, item, end, bits) < 0)
            return -1;
        if (end == e)
            return 0;
        item = end + 1;
        if (item == e) {
            perr(ps, item, "%s: \"%.*s\": expected %s after the last \",\"", fields[f].name,
                 (int)(e - s), s, fields[f].expect);
            return -1;
        }
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool day_matches(const struct sf_cron *c, const struct tm *day)
{
    if (!(c->bits[F_MONTH] >> (day->tm_mon + 1) & 1))
        return false;
    bool m = c->bits[F_MDAY] >> day->tm_mday & 1, w = c->bits[F_WDAY] >> day->tm_wday & 1;
    return c->mday_star || c->wday_star ? m && w : m || w;
}

static bool minute_matches(const struct sf_cron *c, int minute_of_day)
{
    return (c->bits[F_HOUR] >> (minute_of_day / 60) & 1) &&
           (c->bits[F_MINUTE] >> (minute_of_day % 60) & 1);
}

/* Whether any date satisfies the day fields: the calendar repeats, so a
 * walk as long as the longest wait answers it. */
static bool matches_some_day(const struct sf_cron *c)
{
    const time_t start = 946684800; /* 2000-01-01 */
    for (long k = 0; k <= SEARCH_DAYS; k++) {
        time_t t = start + k * 86400;
        struct tm tm;
        gmtime_r(&t, &tm);
        if (day_matches(c, &tm))
            return true;
    }
    return false;
}

/* The five fields of text (no shorthand) into c. */
static int parse_fields(struct parser *ps, const char *text, struct sf_cron *c)
{
    const char *p = text, *start[NFIELDS];
    int n = 0;
    for (;;) {
        while (*p && (is_blank(*p) || *p == '\n' || *p == '\r'))
            p++;
        if (!*p)
            break;
        if (n == NFIELDS) {
            perr(ps, p,
                 "expected 5 fields (minute hour day-of-month month day-of-week), found more: "
                 "\"%s\"",
                 p);
            return -1;
        }
        const char *s = p;
        while (*p && !is_blank(*p) && *p != '\n' && *p != '\r')
            p++;
        start[n] = s;
        if (parse_field(ps, n, s, p, &c->bits[n]) < 0)
            return -1;
        n++;
    }
    if (n == 0) {
        perr(ps, text, "empty cron expression; expected 5 fields (minute hour day-of-month month "
                       "day-of-week) or a shorthand such as @daily");
        return -1;
    }
    if (n < NFIELDS) {
        perr(ps, p, "expected 5 fields (minute hour day-of-month month day-of-week), got %d", n);
        return -1;
    }
    /* 7 is Sunday too. */
    if (c->bits[F_WDAY] >> 7 & 1)
        c->bits[F_WDAY] = (c->bits[F_WDAY] & 0x7f) | 1;
    c->mday_star = *start[F_MDAY] == '*';
    c->wday_star = *start[F_WDAY] == '*';
    if (!matches_some_day(c)) {
        perr(ps, start[F_MDAY], "\"%s\" never matches: no date has the day-of-month in the month",
             ps->text);
        return -1;
    }
    return 0;
}

struct sf_cron *sf_cron_parse(const char *text, const struct sf_pos *at, struct sf_diags *d)
{
    struct parser ps = {.text = text, .at = at, .d = d};
    struct sf_cron *c = sf_xcalloc(1, sizeof(*c));
    c->text = sf_xstrdup(text);
    const char *p = text;
    while (is_blank(*p))
        p++;
    int rc;
    if (*p == '@') {
        size_t n = strcspn(p, " \t\r\n");
        const char *rest = p + n;
        while (*rest && isspace((unsigned char)*rest))
            rest++;
        const char *expr = NULL;
        for (size_t i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++)
            if (strlen(shorthands[i].name) == n && strncasecmp(p, shorthands[i].name, n) == 0)
                expr = shorthands[i].expr;
        if (n == 7 && strncasecmp(p, "@reboot", n) == 0)
            perr(&ps, p, "@reboot has no time of day to be due at; a schedule needs a time, e.g. "
                         "\"0 8 * * MON-FRI\"");
        else if (!expr)
            perr(&ps, p, "\"%.*s\": expected 5 fields or one of @yearly, @annually, @monthly, "
                         "@weekly, @daily, @midnight, @hourly",
                 (int)n, p);
        else if (*rest)
            perr(&ps, rest, "nothing may follow %.*s, found \"%s\"", (int)n, p, rest);
        struct parser sub = {.text = expr, .at = NULL, .d = d};
        rc = expr && !*rest ? parse_fields(&sub, expr, c) : -1;
    } else {
        rc = parse_fields(&ps, text, c);
    }
    if (rc < 0) {
        sf_cron_free(c);
        return NULL;
    }
    return c;
}

void sf_cron_free(struct sf_cron *c)
{
    if (!c)
        return;
    free(c->text);
    free(c);
}

const char *sf_cron_text(const struct sf_cron *c)
{
    return c->text;
}

/* ---- time zones ---- */

/* glibc's zone is process-wide: one computation at a time switches it. */
static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t tz_once = PTHREAD_ONCE_INIT;

/* Once per process, before the first switch: TZ made present, spelling
 * glibc's own default when it was unset, so that each switch replaces its
 * value in place rather than adding or removing a variable (which moves
 * the environment under other threads' getenv). */
static void tz_init(void)
{
    if (!getenv("TZ"))
        setenv("TZ", ":/etc/localtime", 0);
}

/* Where the database is; read with tz_mu held, as every use of the
 * environment here is. */
static const char *tz_dir(void)
{
    const char *dir = getenv("TZDIR");
    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

/* A relative path of letters, digits, "_-+." and "/" with no "." or ".."
 * component: a name, not a way out of the database. */
static bool zone_name_ok(const char *z)
{
    size_t n = strlen(z);
    if (n == 0 || n > 255 || z[0] == '/' || z[n - 1] == '/')
        return false;
    for (const char *p = z; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-+./", *p))
            return false;
    for (const char *s = z; *s;) {
        size_t len = strcspn(s, "/");
        if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += len;
        if (*s == '/')
            s++;
    }
    return true;
}

/* Whether the database has a zone file of that name: a regular file that
 * starts with the TZif magic (zone.tab and the like are not zones). */
static bool zone_file_ok(const char *zone)
{
    char *path = sf_asprintf("%s/%s", tz_dir(), zone);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return false;
    struct stat st;
    char magic[4];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 4) == 4 &&
              memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

/* Locks the zone switch and makes zone glibc's local time; *saved is the
 * TZ to restore in tz_leave. -1 (unlocked, nothing changed) with an error
 * when the zone is unknown. */
static int tz_enter(const char *zone, const struct sf_pos *at, struct sf_diags *d, char **saved)
{
    pthread_once(&tz_once, tz_init);
    pthread_mutex_lock(&tz_mu);
    if (!zone || !zone_name_ok(zone) || !zone_file_ok(zone)) {
        struct stat st;
        if (stat(tz_dir(), &st) != 0)
            sf_error(d, at, "time zone \"%s\": there is no tz database at %s (install tzdata)",
                     zone ? zone : "", tz_dir());
        else
            sf_error(d, at,
                     "unknown time zone \"%s\"; expected a name of the tz database such as "
                     "Europe/Moscow, America/New_York or UTC",
                     zone ? zone : "");
        pthread_mutex_unlock(&tz_mu);
        return -1;
    }
    const char *old = getenv("TZ");
    *saved = sf_xstrdup(old ? old : ":/etc/localtime");
    setenv("TZ", zone, 1);
    tzset();
    /* glibc falls back to UTC, named after the zone's first letters and
     * with no daylight name, when it cannot use the file; a file it loaded
     * always gives both names. */
    if (!tzname[1] || !tzname[1][0]) {
        sf_error(d, at, "time zone \"%s\": the C library cannot read %s/%s", zone, tz_dir(), zone);
        setenv("TZ", *saved, 1);
        tzset();
        free(*saved);
        pthread_mutex_unlock(&tz_mu);
        return -1;
    }
    return 0;
}

static void tz_leave(char *saved)
{
    setenv("TZ", saved, 1);
    tzset();
    free(saved);
    pthread_mutex_unlock(&tz_mu);
}

int sf_cron_zone_check(const char *zone, const struct sf_pos *at, struct sf_diags *d)
{
    char *saved;
    if (tz_enter(zone, at, d, &saved) < 0)
        return -1;
    tz_leave(saved);
    return 0;
}

int sf_cron_local(time_t t, const char *zone, char *buf, size_t size, struct sf_diags *d)
{
    char *saved;
    if (tz_enter(zone, NULL, d, &saved) < 0)
        return -1;
    struct tm tm;
    localtime_r(&t, &tm);
    if (strftime(buf, size, "%Y-%m-%d %H:%M %Z", &tm) == 0 && size)
        buf[0] = '\0';
    tz_leave(saved);
    return 0;
}

/* ---- searching ---- */

/* The zone's offset from UTC at t, in seconds (TZ switched). */
static long offset_at(time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/* The instant a wall time fires at. g is the wall time as seconds since
 * the epoch read as if the wall clock were UTC. A wall time that exists
 * once is that instant; one a fall-back repeats, its first occurrence; one
 * a spring-forward skips, the first instant after the gap (the change).
 * Ascending wall times give non-decreasing instants, which the searches
 * rely on. */
static time_t wall_instant(time_t g)
{
    long cand[4] = {offset_at(g - 86400), offset_at(g), offset_at(g + 86400), 0};
    cand[3] = offset_at(g - cand[1]);
    long lo = cand[0], hi = cand[0];
    bool found = false;
    time_t best = 0;
    for (int i = 0; i < 4; i++) {
        lo = cand[i] < lo ? cand[i] : lo;
        hi = cand[i] > hi ? cand[i] : hi;
        time_t t = g - cand[i];
        if (offset_at(t) == cand[i] && (!found || t < best)) {
            best = t;
            found = true;
        }
    }
    if (found)
        return best;
    /* Skipped: the change is in (g - hi, g - lo]; find the first instant
     * whose wall time is past g. */
    time_t a = g - hi, b = g - lo;
    while (b - a > 1) {
        time_t m = a + (b - a) / 2;
        if (m + offset_at(m) > g)
            b = m;
        else
            a = m;
    }
    return b;
}

/* The wall time of t (TZ switched), as for wall_instant. */
static time_t wall_of(time_t t)
{
    return t + offset_at(t);
}

static time_t floor_day(time_t g)
{
    time_t r = g % 86400;
    return g - (r < 0 ? r + 86400 : r);
}

static void never_matches(const struct sf_cron *c, struct sf_diags *d)
{
    sf_error(d, NULL, "\"%s\" never matches", c->text);
}

int sf_cron_next(const struct sf_cron *c, const char *zone, time_t after, time_t *out,
                 struct sf_diags *d)
{
    char *saved;
    if (tz_enter(zone, NULL, d, &saved) < 0)
        return -1;
    /* Wall times before after's own map to instants at or before it. */
    time_t wall = wall_of(after), day0 = floor_day(wall);
    int from = (int)((wall - day0) / 60);
    int rc = -1;
    for (long k = 0; k <= SEARCH_DAYS && rc < 0; k++) {
        time_t g0 = day0 + k * 86400;
        struct tm day;
        gmtime_r(&g0, &day);
        if (!day_matches(c, &day))
            continue;
        for (int m = k ? 0 : from; m < 1440; m++) {
            if (!minute_matches(c, m))
                continue;
            time_t t = wall_instant(g0 + m * 60);
            if (t > after) {
                *out = t;
                rc = 0;
                break;
            }
        }
    }
    tz_leave(saved);
    if (rc < 0)
        never_matches(c, d);
    return rc;
}

int sf_cron_prev(const struct sf_cron *c, const char *zone, time_t at, time_t *out,
                 struct sf_diags *d)
{
    char *saved;
    if (tz_enter(zone, NULL, d, &saved) < 0)
        return -1;
    /* A fall-back makes wall times later than at's own fire before at:
     * start from the latest wall time any instant up to at can have. */
    time_t wall = at + MAX_OFFSET, day0 = floor_day(wall);
    int to = (int)((wall - day0) / 60);
    int rc = -1;
    for (long k = 0; k <= SEARCH_DAYS + 1 && rc < 0; k++) {
        time_t g0 = day0 - k * 86400;
        struct tm day;
        gmtime_r(&g0, &day);
        if (!day_matches(c, &day))
            continue;
        for (int m = k ? 1439 : to; m >= 0; m--) {
            if (!minute_matches(c, m))
                continue;
            time_t t = wall_instant(g0 + m * 60);
            if (t <= at) {
                *out = t;
                rc = 0;
                break;
            }
        }
    }
    tz_leave(saved);
    if (rc < 0)
        never_matches(c, d);
    return rc;
}

/* ---- RFC 3339 times ---- */

/* n digits at *p into *out; advances *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, const char *chars)
{
    if (!**p || !strchr(chars, **p))
        return false;
    (*p)++;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int sf_cron_parse_time(const char *text, const struct sf_pos *at, time_t *out, struct sf_diags *d)
{
    const char *p = text;
    int y, mo, da, h, mi, s, oh = 0, om = 0, sign = 0;
    bool ok = digits(&p, 4, &y) && expect(&p, "-") && digits(&p, 2, &mo) && expect(&p, "-") &&
              digits(&p, 2, &da) && mo >= 1 && mo <= 12 && da >= 1 &&
              da <= days_in_month(y, mo) && expect(&p, "Tt ") && digits(&p, 2, &h) &&
              expect(&p, ":") && digits(&p, 2, &mi) && expect(&p, ":") && digits(&p, 2, &s) &&
              h <= 23 && mi <= 59 && s <= 60;
    if (ok && *p == '.') {
        p++;
        ok = isdigit((unsigned char)*p);
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (ok) {
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p++ == '-' ? -1 : 1;
            ok = digits(&p, 2, &oh) && expect(&p, ":") && digits(&p, 2, &om) && oh <= 23 &&
                 om <= 59;
        } else {
            ok = false;
        }
    }
    if (!ok || *p) {
        struct parser ps = {.text = text, .at = at, .d = d};
        perr(&ps, ok ? p : text,
             "\"%s\" is not an RFC 3339 time; expected e.g. 2026-05-01T18:00:00Z or "
             "2026-05-01T21:00:00+03:00",
             text);
        return -1;
    }
    /* A leap second (:60) becomes the second after :59. */
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = da, .tm_hour = h,
                    .tm_min = mi, .tm_sec = s};
    *out = timegm(&tm) - sign * (oh * 3600 + om * 60);
    return 0;
}

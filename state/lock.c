/*
 * The state lock, PATH.lock: a run that will change the state holds it so
 * that two runs never journal and commit over each other. Creating the file
 * with O_EXCL is the lock; its content says who holds it, so the run that
 * is refused can tell the user whom to wait for.
 *
 * A run that crashed leaves its lock behind. When the holder is provably
 * dead — on this host, since this boot, and its PID gone or now another
 * process (its start time differs from the one the lock recorded) — the
 * next run takes the lock over with a warning naming the dead holder, so
 * nobody needs `sparkform force-unlock` after a crash. A holder on another
 * host, or one whose death cannot be proven, is only reported.
 *
 * A state kept in S3 has a lock of its own kind, an object held by a lease
 * (remote.c); the calls below hand it on.
 */
#include "state_private.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static char *lock_path(const char *state_path)
{
    return sf_asprintf("%s.lock", state_path);
}

char *sf_lock_user(void)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name)
        return sf_xstrdup(res->pw_name);
    const char *env = getenv("USER");
    if (env && *env)
        return sf_xstrdup(env);
    return sf_asprintf("uid%ld", (long)geteuid());
}

char *sf_lock_host(void)
{
    char buf[256];
    if (gethostname(buf, sizeof(buf)) < 0)
        return sf_xstrdup("localhost");
    buf[sizeof(buf) - 1] = '\0';
    return sf_xstrdup(buf);
}

/* This boot's id (a new one at every boot: a PID recorded before a
 * restart names nothing now), or "" when the kernel does not say. */
static char *boot_id(void)
{
    size_t len;
    char *id = sf_read_file("/proc/sys/kernel/random/boot_id", &len);
    if (!id)
        return sf_xstrdup("");
    id[strcspn(id, "\n")] = '\0';
    return id;
}

/* When process pid started, in clock ticks since boot (/proc/PID/stat's
 * 22nd field), or -1 when there is no such process (or no /proc). The
 * command name, field 2, may hold spaces and parentheses: the fields
 * after it are counted from its last ')'. */
static long long process_start(long long pid)
{
    char *path = sf_asprintf("/proc/%lld/stat", pid);
    size_t len;
    char *text = sf_read_file(path, &len);
    free(path);
    if (!text)
        return -1;
    long long start = -1;
    char *p = strrchr(text, ')');
    /* after ')': field 3 (state) is the first; field 22 is the 20th */
    for (int field_no = 3; p && *p && field_no <= 22; field_no++) {
        p += strspn(p + 1, " ") + 1;
        if (field_no == 22)
            start = strtoll(p, NULL, 10);
        else
            p = strchr(p, ' ');
    }
    free(text);
    return start;
}

char *sf_lock_time(time_t t)
{
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return sf_xstrdup(buf);
}

/* Read the lock file. NULL with errno ENOENT when there is none, or with
 * *bad set when it exists but is not a lock we understand. */
static json_t *read_lock(const char *path, bool *bad)
{
    *bad = false;
    size_t len;
    char *text = sf_read_file(path, &len);
    if (!text)
        return NULL;
    json_t *info = json_loadb(text, len, 0, NULL);
    free(text);
    if (!json_is_object(info) || !json_is_string(json_object_get(info, "id"))) {
        json_decref(info);
        *bad = true;
        return NULL;
    }
    return info;
}

const char *sf_lock_field(const json_t *info, const char *key)
{
    const char *v = json_string_value(json_object_get(info, key));
    return v ? v : "?";
}

char *sf_lock_holder(const json_t *info)
{
    const char *lease = json_string_value(json_object_get(info, "lease_expires"));
    char *until = lease ? sf_asprintf(", lease until %s", lease) : sf_xstrdup("");
    char *text = sf_asprintf("%s@%s (pid %lld, operation \"%s\", since %s%s, lock id %s)",
                             sf_lock_field(info, "who"), sf_lock_field(info, "host"),
                             (long long)json_integer_value(json_object_get(info, "pid")),
                             sf_lock_field(info, "operation"), sf_lock_field(info, "created"), until,
                             sf_lock_field(info, "id"));
    free(until);
    return text;
}

static void report_holder(const struct sf_state *s, const json_t *info, struct sf_diags *d)
{
    struct sf_pos pos = {s->path, 0, 0};
    char *holder = sf_lock_holder(info);
    sf_error(d, &pos, "state is locked by %s", holder);
    free(holder);
}

/* Why the holder of the lock info is provably dead (a new string), or
 * NULL when it may still run: on another host, a PID that runs the
 * process that took the lock, or a lock that does not say enough. */
static char *holder_dead(const json_t *info)
{
    char *host = sf_lock_host(), *boot = boot_id();
    bool same_host = strcmp(host, sf_lock_field(info, "host")) == 0;
    const char *lock_boot = json_string_value(json_object_get(info, "boot_id"));
    bool same_boot = !lock_boot || !*boot || strcmp(lock_boot, boot) == 0;
    free(host);
    free(boot);
    long long pid = json_integer_value(json_object_get(info, "pid"));
    if (!same_host || pid <= 0)
        return NULL;
    if (!same_boot)
        return sf_xstrdup("this host has restarted since");
    if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
        return sf_asprintf("process %lld is gone", pid);
    const json_t *was = json_object_get(info, "start");
    long long now = process_start(pid);
    if (json_is_integer(was) && now >= 0 && now != json_integer_value(was))
        return sf_asprintf("process %lld is now another program (it started later)", pid);
    return NULL;
}

/* Removes the lock at path when it is still the dead one, info. Takers
 * over are one at a time (a flock on the state's directory, which the
 * kernel releases if this process dies): one that finds the lock changed
 * since it judged it, because another took it over and holds it now,
 * leaves it. A lock is unlinked only by its holder or through here.
 * Warns naming the dead holder; 0 when the caller may try again. */
static int take_over(const struct sf_state *s, const char *path, const json_t *info,
                     const char *why, struct sf_diags *d)
{
    char *dir = sf_xstrdup(path), *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    bool bad;
    json_t *now = read_lock(path, &bad);
    int rc = 0;
    if (now && strcmp(sf_lock_field(now, "id"), sf_lock_field(info, "id")) == 0) {
        rc = unlink(path) < 0 && errno != ENOENT ? -1 : 0;
        if (rc == 0) {
            struct sf_pos pos = {s->path, 0, 0};
            char *holder = sf_lock_holder(info);
            sf_warn(d, &pos, "took over the state lock left by a run that died: %s; %s", holder,
                    why);
            free(holder);
        }
    }
    json_decref(now);
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

/* One attempt. 0 = ours, 1 = held by someone else (*holder set, or NULL
 * when the file is unreadable), -1 = error. */
static int try_lock(struct sf_state *s, const char *path, const char *operation, json_t **holder,
                    struct sf_diags *d)
{
    *holder = NULL;
    /* The lock appears whole or not at all: its content is written to a
     * private file first and link() publishes it, failing with EEXIST when
     * someone else holds the lock. A reader never sees a half-written lock. */
    char *id = sf_uuid(), *who = sf_lock_user(), *host = sf_lock_host(), *created = sf_lock_time(time(NULL));
    char *boot = boot_id();
    json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "id", id, "operation",
                             operation ? operation : "", "who", who, "host", host, "pid",
                             (json_int_t)getpid(), "start", (json_int_t)process_start(getpid()),
                             "boot_id", boot, "created", created);
    char *text = info ? json_dumps(info, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(info);
    free(who);
    free(host);
    free(boot);
    free(created);
    char *tmp = sf_asprintf("%s.%s.tmp", path, id);
    int rc = text ? 0 : -1;
    if (!text)
        errno = EINVAL;
    int fd = rc == 0 ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    if (rc == 0 && fd < 0)
        rc = -1;
    if (rc == 0) {
        size_t n = strlen(text), off = 0;
        while (rc == 0 && off < n) {
            ssize_t w = write(fd, text + off, n - off);
            if (w < 0 && errno != EINTR)
                rc = -1;
            else if (w > 0)
                off += (size_t)w;
        }
        if (rc == 0)
            rc = fsync(fd);
    }
    int e = errno;
    if (fd >= 0)
        close(fd);
    free(text);
    if (rc == 0 && link(tmp, path) < 0) {
        e = errno;
        rc = -1;
    }
    unlink(tmp);
    free(tmp);
    if (rc < 0) {
        free(id);
        if (e == EEXIST) {
            bool bad;
            *holder = read_lock(path, &bad);
            if (!*holder && !bad && errno == ENOENT)
                return 2; /* released while we looked: try again at once */
            return 1;
        }
        struct sf_pos pos = {path, 0, 0};
        sf_error(d, &pos, "cannot create the state lock: %s", strerror(e));
        return -1;
    }
    s->locked = true;
    free(s->lock_id);
    s->lock_id = id;
    return 0;
}

int sf_state_lock(struct sf_state *s, const char *operation, long timeout_ms, struct sf_diags *d)
{
    if (s->locked)
        return 0;
    if (s->remote)
        return sf_remote_lock(s, operation, timeout_ms, d);
    char *path = lock_path(s->path);
    double deadline = sf_now() + (timeout_ms > 0 ? (double)timeout_ms / 1000.0 : 0.0);
    int rc;
    json_t *holder = NULL;
    for (;;) {
        json_decref(holder);
        rc = try_lock(s, path, operation, &holder, d);
        if (rc == 2)
            continue;
        char *dead = rc == 1 && holder ? holder_dead(holder) : NULL;
        if (dead) {
            int taken = take_over(s, path, holder, dead, d);
            free(dead);
            if (taken == 0)
                continue;
        }
        if (rc <= 0 || sf_now() >= deadline)
            break;
        sf_sleep_ms(100);
    }
    if (rc == 1) {
        if (holder) {
            report_holder(s, holder, d);
        } else {
            struct sf_pos pos = {s->path, 0, 0};
            sf_error(d, &pos, "state is locked, but the lock file %s is not a sparkform lock "
                              "(expected JSON with an \"id\"); remove it if no run is going on",
                     path);
        }
        if (timeout_ms > 0)
            sf_diag_detail(d, "Gave up waiting for the lock after %ld ms.", timeout_ms);
        rc = -1;
    }
    json_decref(holder);
    free(path);
    return rc;
}

int sf_state_unlock(struct sf_state *s)
{
    if (!s->locked)
        return 0;
    if (s->remote)
        return sf_remote_unlock(s);
    char *path = lock_path(s->path);
    bool bad;
    json_t *info = read_lock(path, &bad);
    int rc = -1;
    /* Only our own lock: after a force-unlock someone else may hold it. */
    if (info && s->lock_id && strcmp(sf_lock_field(info, "id"), s->lock_id) == 0)
        rc = unlink(path);
    json_decref(info);
    free(path);
    s->locked = false;
    free(s->lock_id);
    s->lock_id = NULL;
    return rc < 0 ? -1 : 0;
}

int sf_state_force_unlock(const char *path, const char *id, struct sf_diags *d)
{
    char *lpath = lock_path(path);
    struct sf_pos pos = {path, 0, 0};
    bool bad;
    json_t *info = read_lock(lpath, &bad);
    int rc = -1;
    if (!info && !bad && errno == ENOENT) {
        sf_error(d, &pos, "no lock is held on %s", path);
    } else if (!info) {
        sf_error(d, &pos, "the lock file %s is not a sparkform lock (expected JSON with an "
                          "\"id\"); remove it by hand if no run is going on", lpath);
    } else if (!id || strcmp(sf_lock_field(info, "id"), id) != 0) {
        sf_error(d, &pos, "the lock on %s has id %s, not %s; nothing was removed", path,
                 sf_lock_field(info, "id"), id ? id : "(none)");
        char *holder = sf_lock_holder(info);
        sf_diag_detail(d, "It is held by %s.", holder);
        free(holder);
    } else if (unlink(lpath) < 0) {
        sf_error(d, &pos, "cannot remove the lock %s: %s", lpath, strerror(errno));
    } else {
        rc = 0;
    }
    json_decref(info);
    free(lpath);
    return rc;
}

int sf_state_force_unlock_at(const struct sf_state_where *w, const char *id, struct sf_diags *d)
{
    if (!w->s3)
        return sf_state_force_unlock(w->path, id, d);
    struct sf_remote *r = sf_remote_new(w->s3, d);
    if (!r)
        return -1;
    int rc = sf_remote_force_unlock(r, id, d);
    sf_remote_free(r);
    return rc;
}

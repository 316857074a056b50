/*
 * The state lock, PATH.lock: a run that will change the state holds it so
 * that two runs never journal and commit over each other. Creating the file
 * with O_EXCL is the lock; its content says who holds it, so the run that
 * is refused can tell the user whom to wait for, and whether the holder is
 * a process on this host that is gone (then `sparkform force-unlock ID`).
 */
#include "state_private.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static char *lock_path(const char *state_path)
{
    return sf_asprintf("%s.lock", state_path);
}

static char *user_name(void)
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

static char *host_name(void)
{
    char buf[256];
    if (gethostname(buf, sizeof(buf)) < 0)
        return sf_xstrdup("localhost");
    buf[sizeof(buf) - 1] = '\0';
    return sf_xstrdup(buf);
}

static char *now_rfc3339(void)
{
    time_t t = time(NULL);
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

static const char *field(const json_t *info, const char *key)
{
    const char *v = json_string_value(json_object_get(info, key));
    return v ? v : "?";
}

static void report_holder(const struct sf_state *s, const char *path, const json_t *info,
                          struct sf_diags *d)
{
    struct sf_pos pos = {s->path, 0, 0};
    long long pid = json_integer_value(json_object_get(info, "pid"));
    sf_error(d, &pos,
             "state is locked by %s@%s (pid %lld, operation \"%s\", since %s, lock id %s)",
             field(info, "who"), field(info, "host"), pid, field(info, "operation"),
             field(info, "created"), field(info, "id"));
    char *host = host_name();
    bool same_host = strcmp(host, field(info, "host")) == 0;
    free(host);
    if (same_host && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
        sf_diag_detail(d,
                       "Process %lld on this host is gone, so the lock was left by a run that "
                       "died.\n`sparkform force-unlock %s` removes the lock (%s).",
                       pid, field(info, "id"), path);
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
    char *id = sf_uuid(), *who = user_name(), *host = host_name(), *created = now_rfc3339();
    json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "id", id, "operation",
                             operation ? operation : "", "who", who, "host", host, "pid",
                             (json_int_t)getpid(), "created", created);
    char *text = info ? json_dumps(info, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(info);
    free(who);
    free(host);
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
    char *path = lock_path(s->path);
    double deadline = sf_now() + (timeout_ms > 0 ? (double)timeout_ms / 1000.0 : 0.0);
    int rc;
    json_t *holder = NULL;
    for (;;) {
        json_decref(holder);
        rc = try_lock(s, path, operation, &holder, d);
        if (rc == 2)
            continue;
        if (rc <= 0 || sf_now() >= deadline)
            break;
        sf_sleep_ms(100);
    }
    if (rc == 1) {
        if (holder) {
            report_holder(s, path, holder, d);
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
    char *path = lock_path(s->path);
    bool bad;
    json_t *info = read_lock(path, &bad);
    int rc = -1;
    /* Only our own lock: after a force-unlock someone else may hold it. */
    if (info && s->lock_id && strcmp(field(info, "id"), s->lock_id) == 0)
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
    } else if (!id || strcmp(field(info, "id"), id) != 0) {
        sf_error(d, &pos, "the lock on %s has id %s, not %s; nothing was removed", path,
                 field(info, "id"), id ? id : "(none)");
        sf_diag_detail(d, "It is held by %s@%s (pid %lld, operation \"%s\", since %s).",
                       field(info, "who"), field(info, "host"),
                       (long long)json_integer_value(json_object_get(info, "pid")),
                       field(info, "operation"), field(info, "created"));
    } else if (unlink(lpath) < 0) {
        sf_error(d, &pos, "cannot remove the lock %s: %s", lpath, strerror(errno));
    } else {
        rc = 0;
    }
    json_decref(info);
    free(lpath);
    return rc;
}

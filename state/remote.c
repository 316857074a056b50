/*
 * The state kept in an S3 bucket (state.h: struct sf_state_s3). state.c
 * reads and writes the document through here, lock.c hands the lock on;
 * the journal stays on this machine (journal.c, at the path
 * sf_remote_journal_path names) until the document's upload succeeded.
 *
 * The document is the object KEY. Its upload is conditional on what the
 * run read: If-Match with the ETag of the download (or of its own last
 * upload), If-None-Match: * when there was none. A state changed behind
 * the lock is therefore never overwritten: the upload fails with 412 and
 * the journal stays. A versioned bucket keeps every earlier document.
 *
 * The lock is the object KEY.lock, created with If-None-Match: * so that
 * of two runs exactly one gets it. It holds {id, operation, who, host,
 * pid, created, lease_expires}; a thread renews the lease every third of
 * its length with If-Match: the lock's ETag, so a renewal that finds the
 * lock changed or gone knows the lease was lost, and the run stops before
 * its next state write. A lock whose lease ran out was left by a run that
 * died: it is taken over with If-Match: the ETag it was judged by, so of
 * two takers only one wins. Leases compare against this machine's clock:
 * hosts sharing a state need clocks that agree to well within a lease.
 *
 * Every request may be repeated by the HTTP client after an answer was
 * lost; a conditional write repeated after it had already succeeded gets
 * 412, so a 412 is judged by reading the object back: our own lock id, or
 * our own document, means the write did land.
 */
#include "state_private.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3/s3.h"
#include "sigv4.h"
#include "util.h"

#define DEFAULT_LEASE_MS 60000L
/* How often a refused run asks again while it waits for the lock. */
#define LOCK_POLL_MS 500L

struct sf_remote {
    struct sf_s3_ctx x; /* http, ep, endpoint, region */
    struct sf_s3_keys k;
    char *access, *secret;
    char *bucket, *key, *lock_key, *name;
    long lease_ms;
    char *etag; /* the document's, as read or last written; NULL: there was none */

    /* The lock, while held. The renewal thread and the run share it. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool holding, stop, renewing, reported;
    pthread_t renewer;
    char *lock_id, *lock_etag, *operation, *created;
    time_t lease_until; /* when the lease runs out unless renewed */
    char *lost;         /* why the lease was lost, or NULL */
};

static long lease_ms_of(const struct sf_state_s3 *cfg)
{
    if (cfg->lease_ms > 0)
        return cfg->lease_ms;
    /* Tests shorten the lease to see a dead holder's lock expire. */
    const char *env = getenv("SPARKFORM_LOCK_LEASE");
    long ms = env && *env ? sf_parse_duration_ms(env) : -1;
    return ms > 0 ? ms : DEFAULT_LEASE_MS;
}

struct sf_remote *sf_remote_new(const struct sf_state_s3 *cfg, struct sf_diags *d)
{
    char *name = sf_asprintf("s3://%s/%s", cfg->bucket ? cfg->bucket : "",
                             cfg->key ? cfg->key : "");
    struct sf_pos pos = {name, 0, 0};
    const char *why = NULL;
    struct sf_s3_endpoint ep;
    if (!cfg->bucket || !*cfg->bucket || !cfg->key || !*cfg->key)
        why = "a remote state needs a bucket and a key";
    else if (!cfg->endpoint || !*cfg->endpoint)
        why = "no S3 endpoint: set state.endpoint or the environment variable "
              "AWS_ENDPOINT_URL_S3";
    else if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key)
        why = "no S3 keys: set state.access_key and state.secret_key (the secret from a "
              "sensitive variable), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
    else if (sf_s3_endpoint_parse(cfg->endpoint, true, &ep, &why) == 0)
        why = NULL;
    if (why) {
        sf_error(d, &pos, "cannot use the state %s: %s", name, why);
        free(name);
        return NULL;
    }
    struct sf_remote *r = sf_xcalloc(1, sizeof(*r));
    r->x.ep = ep;
    r->x.endpoint = sf_xstrdup(cfg->endpoint);
    r->x.region = sf_xstrdup(cfg->region && *cfg->region ? cfg->region : SF_S3_DEFAULT_REGION);
    const char *ca = getenv("AWS_CA_BUNDLE");
    /* A state write is worth a few tries, but a run should not hang on a
     * store that is down: five attempts take a few seconds. */
    struct sf_http_opts o = {
        .ca_file = ca && *ca ? ca : NULL,
        .max_attempts = 5,
        .request_timeout_ms = 60000,
    };
    r->x.http = sf_http_new(&o);
    r->access = sf_xstrdup(cfg->access_key);
    r->secret = sf_xstrdup(cfg->secret_key);
    r->k = (struct sf_s3_keys){.access = r->access, .secret = r->secret};
    r->bucket = sf_xstrdup(cfg->bucket);
    r->key = sf_xstrdup(cfg->key);
    r->lock_key = sf_asprintf("%s.lock", cfg->key);
    r->name = name;
    r->lease_ms = lease_ms_of(cfg);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca_attr;
    pthread_condattr_init(&ca_attr);
    pthread_condattr_setclock(&ca_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca_attr);
    pthread_condattr_destroy(&ca_attr);
    return r;
}

static void stop_renewing(struct sf_remote *r)
{
    pthread_mutex_lock(&r->mu);
    bool running = r->renewing;
    r->stop = true;
    r->renewing = false;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (running)
        pthread_join(r->renewer, NULL);
}

static void forget_lock(struct sf_remote *r)
{
    free(r->lock_id);
    free(r->lock_etag);
    free(r->operation);
    free(r->created);
    free(r->lost);
    r->lock_id = r->lock_etag = r->operation = r->created = r->lost = NULL;
    r->holding = false;
}

void sf_remote_free(struct sf_remote *r)
{
    if (!r)
        return;
    stop_renewing(r);
    forget_lock(r);
    sf_http_free(r->x.http);
    sf_s3_endpoint_free(&r->x.ep);
    free(r->x.endpoint);
    free(r->x.region);
    OPENSSL_cleanse(r->secret, strlen(r->secret));
    free(r->secret);
    free(r->access);
    free(r->bucket);
    free(r->key);
    free(r->lock_key);
    free(r->name);
    free(r->etag);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

char *sf_remote_journal_path(const struct sf_state_s3 *cfg)
{
    char *what = sf_asprintf("%s\n%s\n%s", cfg->endpoint ? cfg->endpoint : "",
                             cfg->bucket ? cfg->bucket : "", cfg->key ? cfg->key : "");
    char hex[65];
    sf_sigv4_sha256_hex(what, strlen(what), hex);
    free(what);
    hex[20] = '\0';
    const char *dir = cfg->journal_dir && *cfg->journal_dir ? cfg->journal_dir : ".sparkform";
    return sf_asprintf("%s/s3-%s.journal", dir, hex);
}

/* ---- requests ---------------------------------------------------------- */

/* One request about key; flags as sf_s3_request's. Errors go to d (may be
 * a scratch list the caller reads). */
static int request(struct sf_remote *r, struct sf_diags *d, const char *method, const char *key,
                   const char *const *headers, const char *body, size_t len, const char *what,
                   unsigned flags, double timeout_s, struct sf_s3_resp *out)
{
    struct sf_s3_req rq = {
        .method = method,
        .bucket = r->bucket,
        .key = key,
        .headers = headers,
        .body = body,
        .body_len = len,
    };
    char *w = sf_asprintf("%s %s", what, r->name);
    int rc = sf_s3_request(&r->x, d, NULL, sf_now() + timeout_s, &r->k, &rq, w, flags, out);
    free(w);
    return rc;
}

/* The ETag of an answer, or NULL. */
static char *etag_of(const struct sf_s3_resp *rs)
{
    return sf_http_header(&rs->http, "ETag");
}

/* GET key: 0 with *body (NULL when there is no such object) and *etag. A
 * missing bucket is an error, not an empty state. */
static int get_object(struct sf_remote *r, struct sf_diags *d, const char *key, const char *what,
                      double timeout_s, char **body, size_t *len, char **etag)
{
    struct sf_s3_resp rs;
    *body = *etag = NULL;
    *len = 0;
    int rc = request(r, d, "GET", key, NULL, NULL, 0, what, SF_S3_OK404, timeout_s, &rs);
    if (rc == 0 && rs.http.status == 404 && rs.code && strcmp(rs.code, "NoSuchBucket") == 0) {
        struct sf_pos pos = {r->name, 0, 0};
        sf_diag_add_class(d, SF_CLASS_NOT_FOUND, &pos, NULL,
                          "the bucket \"%s\" of the state does not exist at %s; create it first "
                          "(with versioning, to keep the state's history)",
                          r->bucket, r->x.endpoint);
        rc = -1;
    } else if (rc == 0 && rs.http.status != 404) {
        *body = rs.http.body;
        *len = rs.http.len;
        rs.http.body = NULL;
        *etag = etag_of(&rs);
    }
    sf_s3_resp_free(&rs);
    return rc;
}

/* ---- the document ------------------------------------------------------ */

int sf_remote_read(struct sf_state *s, char **text, size_t *len, struct sf_diags *d)
{
    struct sf_remote *r = s->remote;
    char *etag = NULL;
    if (get_object(r, d, r->key, "reading the state", 120, text, len, &etag) < 0)
        return -1;
    free(r->etag);
    r->etag = etag;
    return 0;
}

int sf_remote_write(struct sf_state *s, const char *text, size_t len, struct sf_diags *d)
{
    struct sf_remote *r = s->remote;
    char *cond = r->etag ? sf_asprintf("If-Match: %s", r->etag) : sf_xstrdup("If-None-Match: *");
    const char *headers[] = {cond, "Content-Type: application/json", NULL};
    struct sf_s3_resp rs;
    int rc = request(r, d, "PUT", r->key, headers, text, len, "writing the state",
                     SF_S3_OK412 | SF_S3_OK404, 120, &rs);
    free(cond);
    char *etag = NULL;
    if (rc == 0 && rs.http.status < 300) {
        etag = etag_of(&rs);
    } else if (rc == 0) {
        /* Refused: either a repeat of our own upload that had landed, or
         * a document someone else wrote since this run read it. */
        char *now = NULL;
        size_t nlen = 0;
        rc = get_object(r, d, r->key, "reading the state back", 120, &now, &nlen, &etag);
        if (rc == 0 && !(now && nlen == len && memcmp(now, text, len) == 0)) {
            struct sf_pos pos = {r->name, 0, 0};
            sf_diag_add_class(d, SF_CLASS_CONFLICT, &pos, NULL,
                              "the state %s changed since this run read it (%s); it was left "
                              "as it is, nothing was overwritten",
                              r->name, now ? "another document is there now" : "it was deleted");
            rc = -1;
        }
        free(now);
    }
    sf_s3_resp_free(&rs);
    if (rc == 0 && !etag) {
        /* A store that does not say the new ETag in the answer: ask. */
        char *now = NULL;
        size_t nlen = 0;
        rc = get_object(r, d, r->key, "reading the state back", 120, &now, &nlen, &etag);
        free(now);
    }
    if (rc < 0) {
        free(etag);
        return -1;
    }
    free(r->etag);
    r->etag = etag;
    return 0;
}

/* ---- the lock ---------------------------------------------------------- */

/* "2024-05-01T12:00:00Z" -> seconds since the epoch; -1 when malformed. */
static time_t parse_time(const char *s)
{
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return -1;
    return timegm(&tm);
}

/* The lock's body for a lease until lease_until. Caller frees. */
static char *lock_body(const struct sf_remote *r, time_t lease_until)
{
    char *who = sf_lock_user(), *host = sf_lock_host(), *until = sf_lock_time(lease_until);
    json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "id", r->lock_id,
                             "operation", r->operation, "who", who, "host", host, "pid",
                             (json_int_t)getpid(), "created", r->created, "lease_expires", until);
    char *text = info ? json_dumps(info, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(info);
    free(who);
    free(host);
    free(until);
    return text;
}

/* The lock object as it is: 1 with *info and *etag, 0 when there is none,
 * -1 after an error. A lock that is not ours to read (not JSON with an id)
 * is an error. */
static int read_lock(struct sf_remote *r, struct sf_diags *d, double timeout_s, json_t **info,
                     char **etag)
{
    char *body;
    size_t len;
    *info = NULL;
    if (get_object(r, d, r->lock_key, "reading the state lock", timeout_s, &body, &len, etag) < 0)
        return -1;
    if (!body)
        return 0;
    json_t *j = json_loadb(body, len, 0, NULL);
    free(body);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "id"))) {
        json_decref(j);
        free(*etag);
        *etag = NULL;
        struct sf_pos pos = {r->name, 0, 0};
        sf_error(d, &pos, "the state is locked, but the lock object s3://%s/%s is not a sparkform "
                          "lock (expected JSON with an \"id\"); delete it if no run is going on",
                 r->bucket, r->lock_key);
        return -1;
    }
    *info = j;
    return 1;
}

static bool ours(const struct sf_remote *r, const json_t *info)
{
    return info && r->lock_id && strcmp(sf_lock_field(info, "id"), r->lock_id) == 0;
}

/* PUT the lock with the condition cond. 1 when the lock is ours now, 0
 * when the condition failed (someone else's lock is there, or none is),
 * -1 after an error. */
static int put_lock(struct sf_remote *r, struct sf_diags *d, const char *cond, double timeout_s)
{
    time_t until = time(NULL) + (r->lease_ms + 999) / 1000;
    char *body = lock_body(r, until);
    const char *headers[] = {cond, "Content-Type: application/json", NULL};
    struct sf_s3_resp rs;
    int rc = request(r, d, "PUT", r->lock_key, headers, body, strlen(body), "taking the state lock",
                     SF_S3_OK412 | SF_S3_OK404, timeout_s, &rs);
    free(body);
    char *etag = NULL;
    int got = -1;
    if (rc == 0 && rs.http.status < 300) {
        etag = etag_of(&rs);
        got = 1;
    } else if (rc == 0) {
        /* Maybe a repeat of a PUT of ours that had landed: look. */
        json_t *info = NULL;
        int have = read_lock(r, d, timeout_s, &info, &etag);
        got = have < 0 ? -1 : have == 1 && ours(r, info) ? 1 : 0;
        if (got == 1) {
            time_t t = parse_time(sf_lock_field(info, "lease_expires"));
            if (t > 0)
                until = t;
        }
        json_decref(info);
    }
    sf_s3_resp_free(&rs);
    if (got == 1 && !etag) {
        json_t *info = NULL;
        if (read_lock(r, d, timeout_s, &info, &etag) != 1 || !ours(r, info))
            got = 0;
        json_decref(info);
    }
    if (got == 1) {
        pthread_mutex_lock(&r->mu);
        free(r->lock_etag);
        r->lock_etag = etag;
        r->lease_until = until;
        pthread_mutex_unlock(&r->mu);
    } else {
        free(etag);
    }
    return got;
}

/* The first error's text of a scratch list. */
static const char *first_error(const struct sf_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].severity == SF_SEV_ERROR)
            return d->items[i].summary;
    return "no answer";
}

/* One renewal; called without r->mu held. */
static void renew_once(struct sf_remote *r)
{
    struct sf_diags tmp;
    sf_diags_init(&tmp);
    pthread_mutex_lock(&r->mu);
    char *cond = sf_asprintf("If-Match: %s", r->lock_etag ? r->lock_etag : "\"\"");
    time_t until = r->lease_until;
    pthread_mutex_unlock(&r->mu);
    /* A renewal that takes longer than a third of the lease is as good as
     * lost; the next one tries again while the lease lasts. */
    double timeout_s = (double)r->lease_ms / 3000.0;
    int got = put_lock(r, &tmp, cond, timeout_s < 1 ? 1 : timeout_s);
    free(cond);
    char *why = NULL;
    if (got == 0) {
        json_t *info = NULL;
        char *etag = NULL;
        int have = read_lock(r, &tmp, timeout_s < 1 ? 1 : timeout_s, &info, &etag);
        char *holder = have == 1 ? sf_lock_holder(info) : NULL;
        if (holder)
            why = sf_asprintf("the lock is held now by %s", holder);
        else if (have == 0)
            why = sf_xstrdup("the lock was removed (sparkform force-unlock?)");
        free(holder);
        json_decref(info);
        free(etag);
    }
    if (!why && got < 0 && time(NULL) >= until)
        why = sf_asprintf("the lease could not be renewed before it ran out: %s",
                          first_error(&tmp));
    if (why) {
        pthread_mutex_lock(&r->mu);
        if (!r->lost)
            r->lost = why;
        else
            free(why);
        pthread_mutex_unlock(&r->mu);
    }
    sf_diags_free(&tmp);
}

static void *renew_loop(void *arg)
{
    struct sf_remote *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop && !r->lost) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long step = r->lease_ms / 3;
        ts.tv_sec += step / 1000;
        ts.tv_nsec += (step % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int w = 0;
        while (!r->stop && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->mu);
        renew_once(r);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void report_holder(const struct sf_remote *r, const json_t *info, struct sf_diags *d)
{
    struct sf_pos pos = {r->name, 0, 0};
    char *holder = sf_lock_holder(info);
    sf_error(d, &pos, "state is locked by %s", holder);
    free(holder);
}

int sf_remote_lock(struct sf_state *s, const char *operation, long timeout_ms,
                   struct sf_diags *d)
{
    struct sf_remote *r = s->remote;
    forget_lock(r);
    r->lock_id = sf_uuid();
    r->operation = sf_xstrdup(operation ? operation : "");
    r->created = sf_lock_time(time(NULL));
    double deadline = sf_now() + (timeout_ms > 0 ? (double)timeout_ms / 1000.0 : 0.0);
    json_t *holder = NULL;
    int rc;
    for (;;) {
        json_decref(holder);
        holder = NULL;
        rc = put_lock(r, d, "If-None-Match: *", 60);
        if (rc != 0)
            break;
        char *etag = NULL;
        int have = read_lock(r, d, 60, &holder, &etag);
        if (have < 0) {
            rc = -1;
            break;
        }
        if (have == 1 && ours(r, holder)) {
            free(etag);
            rc = 1;
            break;
        }
        time_t until = have == 1 ? parse_time(sf_lock_field(holder, "lease_expires")) : 0;
        if (have == 1 && until > 0 && time(NULL) > until) {
            /* Left by a run that died: its lease ran out unrenewed. Take it
             * over on the condition that it is still that very lock. */
            char *cond = sf_asprintf("If-Match: %s", etag);
            int took = put_lock(r, d, cond, 60);
            free(cond);
            free(etag);
            if (took < 0) {
                rc = -1;
                break;
            }
            if (took == 1) {
                struct sf_pos pos = {r->name, 0, 0};
                char *who = sf_lock_holder(holder);
                sf_warn(d, &pos, "took over the state lock left by a run that died: %s; its lease "
                        "ran out", who);
                free(who);
                rc = 1;
                break;
            }
            continue; /* another taker won, or the lock went: look again */
        }
        free(etag);
        if (have == 0)
            continue; /* released while we looked */
        if (sf_now() >= deadline)
            break;
        double left_ms = (deadline - sf_now()) * 1000.0;
        sf_sleep_ms(left_ms < LOCK_POLL_MS ? (long)left_ms + 1 : LOCK_POLL_MS);
    }
    if (rc == 0 && holder) {
        report_holder(r, holder, d);
        time_t until = parse_time(sf_lock_field(holder, "lease_expires"));
        if (until > 0 && time(NULL) > until)
            sf_diag_detail(d, "Its lease ran out: the run that held it died. It is taken over "
                              "at the next attempt.");
        else if (timeout_ms > 0)
            sf_diag_detail(d, "Gave up waiting for the lock after %ld ms.", timeout_ms);
        else
            sf_diag_detail(d, "Wait for it with -lock-timeout, or, if that run died, its lease "
                              "runs out by itself (or: sparkform force-unlock %s).",
                           sf_lock_field(holder, "id"));
    }
    json_decref(holder);
    if (rc != 1) {
        forget_lock(r);
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    r->holding = true;
    r->stop = false;
    r->reported = false;
    r->renewing = pthread_create(&r->renewer, NULL, renew_loop, r) == 0;
    pthread_mutex_unlock(&r->mu);
    s->locked = true;
    free(s->lock_id);
    s->lock_id = sf_xstrdup(r->lock_id);
    return 0;
}

int sf_remote_lease_check(struct sf_state *s, bool once, struct sf_diags *d)
{
    struct sf_remote *r = s->remote;
    pthread_mutex_lock(&r->mu);
    if (r->holding && !r->lost && time(NULL) >= r->lease_until)
        r->lost = sf_xstrdup("its lease ran out before it could be renewed");
    int rc = 0;
    if (r->holding && r->lost) {
        rc = -1;
        if (!once || !r->reported) {
            r->reported = true;
            struct sf_pos pos = {r->name, 0, 0};
            sf_error(d, &pos,
                     "the state lock (lock id %s) was lost: %s; this run stops before writing the "
                     "state, and its journal %s keeps what it did",
                     r->lock_id, r->lost, s->journal_path);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* DELETE the lock object. */
static int delete_lock(struct sf_remote *r, struct sf_diags *d)
{
    struct sf_s3_resp rs;
    int rc = request(r, d, "DELETE", r->lock_key, NULL, NULL, 0, "removing the state lock",
                     SF_S3_OK404, 60, &rs);
    sf_s3_resp_free(&rs);
    return rc;
}

int sf_remote_unlock(struct sf_state *s)
{
    struct sf_remote *r = s->remote;
    stop_renewing(r);
    struct sf_diags tmp;
    sf_diags_init(&tmp);
    json_t *info = NULL;
    char *etag = NULL;
    int rc = -1;
    /* Only our own lock: after a force-unlock or a takeover it is someone
     * else's. Our lease is still good here (renewed a third of it ago), so
     * nobody may take it over between the look and the delete. */
    if (read_lock(r, &tmp, 60, &info, &etag) == 1 && ours(r, info))
        rc = delete_lock(r, &tmp);
    json_decref(info);
    free(etag);
    sf_diags_free(&tmp);
    forget_lock(r);
    s->locked = false;
    free(s->lock_id);
    s->lock_id = NULL;
    return rc;
}

int sf_remote_force_unlock(struct sf_remote *r, const char *id, struct sf_diags *d)
{
    json_t *info = NULL;
    char *etag = NULL;
    struct sf_pos pos = {r->name, 0, 0};
    int have = read_lock(r, d, 60, &info, &etag);
    int rc = -1;
    if (have == 0) {
        sf_error(d, &pos, "no lock is held on %s", r->name);
    } else if (have == 1 && (!id || strcmp(sf_lock_field(info, "id"), id) != 0)) {
        sf_error(d, &pos, "the lock on %s has id %s, not %s; nothing was removed", r->name,
                 sf_lock_field(info, "id"), id ? id : "(none)");
        char *holder = sf_lock_holder(info);
        sf_diag_detail(d, "It is held by %s.", holder);
        free(holder);
    } else if (have == 1) {
        rc = delete_lock(r, d);
    }
    json_decref(info);
    free(etag);
    return rc;
}

/*
 * The objects of localcloud's Kubernetes API (see k8s.h): create, get,
 * list (label and field selectors, limit / continue), update, the four
 * kinds of patch, delete (finalizers, propagation) and watch.
 *
 * Every write goes through finish_write: defaults, validation (422),
 * managedFields, the no-op check (a write that changes nothing keeps the
 * resourceVersion, which is what makes `kubectl diff` quiet after an
 * apply), dry runs, then lc_k8s_commit, which stores the object and logs the
 * watch event.
 *
 * Watches read the event log (a ring of the latest events, each kept as the
 * line it is sent as) from the connection's own thread without the world
 * lock; a watch from a resourceVersion older than the log gets 410 Gone, as
 * from a compacted etcd, and the client lists again.
 */
#include "base64.h"
#include "k8s.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "k8s_patch.h"
#include "store.h"
#include "util.h"

#define LOG_CAP 16384
#define WATCH_DEFAULT_S 300 /* a watch without timeoutSeconds ends after this */

struct lc_k8s_event {
    unsigned long long rv;
    char *cluster, *kindkey, *ns, *name;
    json_t *labels; /* owned copy */
    char *line;     /* {"type":...,"object":...}\n */
};

static json_t *meta_of(json_t *o)
{
    json_t *m = json_object_get(o, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(o, "metadata", m);
    }
    return m;
}

static const char *meta_str(const json_t *o, const char *key)
{
    return lc_k8s_str(json_object_get(o, "metadata"), key);
}

/* "deployments.apps" or "pods": how Kubernetes names a resource in messages. */
static char *qualified(const struct lc_k8s_type *t)
{
    return t->group[0] ? sf_asprintf("%s.%s", t->plural, t->group) : sf_xstrdup(t->plural);
}

static json_t *details(const struct lc_k8s_type *t, const char *name)
{
    json_t *d = json_pack("{s:s, s:s}", "group", t->group, "kind", t->plural);
    if (name)
        json_object_set_new(d, "name", json_string(name));
    return d;
}

static void not_found(struct lc_k8s_call *c, const char *name)
{
    char *q = qualified(c->t);
    lc_k8s_status(c->resp, 404, "NotFound", details(c->t, name), "%s \"%s\" not found", q, name);
    free(q);
}

static void conflict(struct lc_k8s_call *c, const char *name)
{
    char *q = qualified(c->t);
    lc_k8s_status(c->resp, 409, "Conflict", details(c->t, name),
                  "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                  "please apply your changes to the latest version and try again",
                  q, name);
    free(q);
}

static void now_str(char *buf, size_t n)
{
    lc_format_time(lc_now_ms(), false, buf, n);
}

static bool query_true(const struct lc_request *req, const char *name)
{
    const char *v = lc_req_query(req, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static bool dry_run(const struct lc_request *req, const json_t *opts)
{
    if (lc_req_query(req, "dryRun"))
        return true;
    return json_array_size(json_object_get(opts, "dryRun")) > 0;
}

/* The field manager: fieldManager, else the User-Agent's program name. */
static char *manager_of(const struct lc_request *req)
{
    const char *fm = lc_req_query(req, "fieldManager");
    if (fm && *fm)
        return sf_xstrdup(fm);
    const char *ua = lc_req_header(req, "User-Agent");
    if (!ua || !*ua)
        return sf_xstrdup("unknown");
    return sf_xstrndup(ua, strcspn(ua, "/ "));
}

static json_t *body_json(struct lc_k8s_call *c)
{
    const char *ct = lc_req_header(c->req, "Content-Type");
    if (ct && strncmp(ct, "application/vnd.kubernetes.protobuf", 35) == 0) {
        char err[256];
        json_t *j = lc_k8s_proto_decode(c->req->body, c->req->body_len, err, sizeof(err));
        if (!j)
            lc_k8s_status(c->resp, 415, "UnsupportedMediaType", NULL, "%s", err);
        return j;
    }
    json_error_t je;
    json_t *j = json_loadb(c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        if (ct && strstr(ct, "yaml")) {
            char err[256];
            j = lc_k8s_yaml_parse(c->req->body, c->req->body_len, err, sizeof(err));
            if (!j) {
                lc_k8s_status(c->resp, 400, "BadRequest", NULL, "error decoding YAML: %s", err);
                return NULL;
            }
        } else {
            lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                          "the body of the request was in an unknown format: line %d column %d: %s",
                          je.line, je.column, je.text);
            return NULL;
        }
    }
    if (!json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        lc_k8s_status(c->resp, 400, "BadRequest", NULL, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* ---------- label and field selectors ---------- */

enum sel_op { SEL_EQ, SEL_NEQ, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOTEXISTS };
struct sel_req {
    char *key;
    enum sel_op op;
    char **vals;
    size_t nvals;
};
struct selector {
    struct sel_req *v;
    size_t n;
    /* field selector */
    char *name, *ns;
    bool name_neq, ns_neq;
};

static char *trim(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return sf_xstrndup(s, n);
}

static void selector_free(struct selector *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].key);
        for (size_t j = 0; j < s->v[i].nvals; j++)
            free(s->v[i].vals[j]);
        free(s->v[i].vals);
    }
    free(s->v);
    free(s->name);
    free(s->ns);
    memset(s, 0, sizeof(*s));
}

static bool valid_label_key(const char *k)
{
    if (!*k || strlen(k) > 316)
        return false;
    for (const char *p = k; *p; p++)
        if (!(((*p | 32) >= 'a' && (*p | 32) <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("-_./", *p)))
            return false;
    return true;
}

/* One requirement "k=v", "k!=v", "k in (a,b)", "k notin (a)", "k", "!k". */
static int parse_requirement(const char *term, struct sel_req *r)
{
    memset(r, 0, sizeof(*r));
    const char *p;
    if (term[0] == '!') {
        r->op = SEL_NOTEXISTS;
        r->key = trim(term + 1, strlen(term + 1));
        return valid_label_key(r->key) ? 0 : -1;
    }
    const char *paren = strchr(term, '(');
    if (paren) {
        const char *close = strchr(paren, ')');
        if (!close || close[1])
            return -1;
        char *head = trim(term, (size_t)(paren - term));
        size_t hl = strlen(head);
        if (hl > 6 && strcmp(head + hl - 6, " notin") == 0) {
            r->op = SEL_NOTIN;
            r->key = trim(head, hl - 6);
        } else if (hl > 3 && strcmp(head + hl - 3, " in") == 0) {
            r->op = SEL_IN;
            r->key = trim(head, hl - 3);
        }
        free(head);
        if (!r->key || !valid_label_key(r->key))
            return -1;
        const char *v = paren + 1;
        while (v < close) {
            const char *e = memchr(v, ',', (size_t)(close - v));
            if (!e)
                e = close;
            r->vals = sf_xrealloc(r->vals, (r->nvals + 1) * sizeof(char *));
            r->vals[r->nvals++] = trim(v, (size_t)(e - v));
            v = e + 1;
        }
        return 0;
    }
    if ((p = strstr(term, "!="))) {
        r->op = SEL_NEQ;
        r->key = trim(term, (size_t)(p - term));
        p += 2;
    } else if ((p = strstr(term, "=="))) {
        r->op = SEL_EQ;
        r->key = trim(term, (size_t)(p - term));
        p += 2;
    } else if ((p = strchr(term, '='))) {
        r->op = SEL_EQ;
        r->key = trim(term, (size_t)(p - term));
        p += 1;
    } else {
        r->op = SEL_EXISTS;
        r->key = trim(term, strlen(term));
        return valid_label_key(r->key) ? 0 : -1;
    }
    r->vals = sf_xmalloc(sizeof(char *));
    r->vals[0] = trim(p, strlen(p));
    r->nvals = 1;
    return valid_label_key(r->key) ? 0 : -1;
}

/* Splits at commas outside parentheses. */
static int parse_selectors(struct lc_k8s_call *c, struct selector *s)
{
    memset(s, 0, sizeof(*s));
    const char *ls = lc_req_query(c->req, "labelSelector");
    while (ls && *ls) {
        const char *e = ls;
        int depth = 0;
        while (*e && (*e != ',' || depth)) {
            depth += *e == '(' ? 1 : *e == ')' ? -1 : 0;
            e++;
        }
        char *term = trim(ls, (size_t)(e - ls));
        if (*term) {
            s->v = sf_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
            if (parse_requirement(term, &s->v[s->n]) < 0) {
                s->n++;
                lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                              "unable to parse requirement: invalid label selector \"%s\"", term);
                free(term);
                selector_free(s);
                return -1;
            }
            s->n++;
        }
        free(term);
        ls = *e ? e + 1 : e;
    }
    const char *fs = lc_req_query(c->req, "fieldSelector");
    while (fs && *fs) {
        const char *e = strchrnul(fs, ',');
        char *term = trim(fs, (size_t)(e - fs));
        char *op = strstr(term, "!=");
        size_t skip = 2;
        bool neq = op != NULL;
        if (!op && (op = strstr(term, "==")) == NULL) {
            op = strchr(term, '=');
            skip = 1;
        }
        if (*term) {
            char *field = op ? trim(term, (size_t)(op - term)) : NULL;
            char **slot = NULL;
            if (field && strcmp(field, "metadata.name") == 0) {
                slot = &s->name;
                s->name_neq = neq;
            } else if (field && strcmp(field, "metadata.namespace") == 0) {
                slot = &s->ns;
                s->ns_neq = neq;
            }
            if (!slot) {
                lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                              "field label not supported: %s", field ? field : term);
                free(field);
                free(term);
                selector_free(s);
                return -1;
            }
            free(*slot);
            *slot = trim(op + skip, strlen(op + skip));
            free(field);
        }
        free(term);
        fs = *e ? e + 1 : e;
    }
    return 0;
}

static bool selector_matches(const struct selector *s, const char *ns, const char *name,
                             const json_t *labels)
{
    if (s->name && (strcmp(s->name, name ? name : "") == 0) == s->name_neq)
        return false;
    if (s->ns && (strcmp(s->ns, ns ? ns : "") == 0) == s->ns_neq)
        return false;
    for (size_t i = 0; i < s->n; i++) {
        const struct sel_req *r = &s->v[i];
        const char *v = json_string_value(json_object_get(labels, r->key));
        bool in = false;
        for (size_t j = 0; v && j < r->nvals; j++)
            in |= strcmp(v, r->vals[j]) == 0;
        switch (r->op) {
        case SEL_EQ:
        case SEL_IN:
            if (!in)
                return false;
            break;
        case SEL_NEQ:
        case SEL_NOTIN:
            if (in)
                return false;
            break;
        case SEL_EXISTS:
            if (!v)
                return false;
            break;
        case SEL_NOTEXISTS:
            if (v)
                return false;
            break;
        }
    }
    return true;
}

/* ---------- the event log and watches ---------- */

void lc_k8s_events_init(struct lc_k8s *k)
{
    pthread_mutex_init(&k->evmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->evcv, &ca);
    pthread_condattr_destroy(&ca);
    k->cap = LOG_CAP;
    k->ring = sf_xcalloc(k->cap, sizeof(*k->ring));
    k->log_floor = k->rv;
}

static void event_clear(struct lc_k8s_event *e)
{
    free(e->cluster);
    free(e->kindkey);
    free(e->ns);
    free(e->name);
    free(e->line);
    json_decref(e->labels);
    memset(e, 0, sizeof(*e));
}

void lc_k8s_events_free(struct lc_k8s *k)
{
    for (size_t i = 0; i < k->cap; i++)
        event_clear(&k->ring[i]);
    free(k->ring);
    pthread_cond_destroy(&k->evcv);
    pthread_mutex_destroy(&k->evmu);
}

static char *event_line(const char *type, const json_t *obj)
{
    json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    char *line = sf_asprintf("%s\n", s);
    free(s);
    return line;
}

void lc_k8s_log_event(struct lc_k8s *k, const char *cluster, const char *kindkey,
                      const char *type, const json_t *obj)
{
    struct lc_k8s_event e = {
        .rv = k->rv,
        .cluster = sf_xstrdup(cluster),
        .kindkey = sf_xstrdup(kindkey),
        .ns = meta_str(obj, "namespace") ? sf_xstrdup(meta_str(obj, "namespace")) : NULL,
        .name = sf_xstrdup(meta_str(obj, "name") ? meta_str(obj, "name") : ""),
        .labels = json_deep_copy(json_object_get(json_object_get(obj, "metadata"), "labels")),
        .line = event_line(type, obj),
    };
    pthread_mutex_lock(&k->evmu);
    if (k->count == k->cap) {
        struct lc_k8s_event *old = &k->ring[k->start];
        k->log_floor = old->rv;
        event_clear(old);
        k->start = (k->start + 1) % k->cap;
        k->count--;
    }
    k->ring[(k->start + k->count) % k->cap] = e;
    k->count++;
    pthread_cond_broadcast(&k->evcv);
    pthread_mutex_unlock(&k->evmu);
}

struct watch {
    struct lc_k8s *k;
    char *cluster, *kindkey, *ns;
    struct selector sel;
    unsigned long long cursor;
    struct timespec end; /* CLOCK_MONOTONIC */
    struct sf_buf out;
    size_t off;
    bool done;
};

static void watch_free(void *cls)
{
    struct watch *w = cls;
    free(w->cluster);
    free(w->kindkey);
    free(w->ns);
    selector_free(&w->sel);
    sf_buf_free(&w->out);
    free(w);
}

static bool event_matches(const struct watch *w, const struct lc_k8s_event *e)
{
    return strcmp(e->cluster, w->cluster) == 0 && strcmp(e->kindkey, w->kindkey) == 0 &&
           (!w->ns || (e->ns && strcmp(e->ns, w->ns) == 0)) &&
           selector_matches(&w->sel, e->ns, e->name, e->labels);
}

/* Appends the events after the cursor (evmu held). */
static void watch_collect(struct watch *w)
{
    struct lc_k8s *k = w->k;
    if (w->cursor < k->log_floor) {
        char msg[160];
        snprintf(msg, sizeof(msg), "too old resource version: %llu (%llu)", w->cursor,
                 k->log_floor);
        json_t *st = lc_k8s_status_body(410, "Expired", NULL, msg);
        char *line = event_line("ERROR", st);
        json_decref(st);
        sf_buf_puts(&w->out, line);
        free(line);
        w->done = true;
        return;
    }
    for (size_t i = 0; i < k->count && w->out.len < 1 << 20; i++) {
        struct lc_k8s_event *e = &k->ring[(k->start + i) % k->cap];
        if (e->rv <= w->cursor)
            continue;
        if (event_matches(w, e))
            sf_buf_puts(&w->out, e->line);
        w->cursor = e->rv;
    }
}

static long watch_read(void *cls, char *buf, size_t max)
{
    struct watch *w = cls;
    if (w->off == w->out.len) {
        w->off = 0;
        w->out.len = 0;
        if (w->done)
            return -1;
        pthread_mutex_lock(&w->k->evmu);
        watch_collect(w);
        if (w->out.len == 0 && !w->done && !w->k->stopping) {
            struct timespec now, until;
            clock_gettime(CLOCK_MONOTONIC, &now);
            until = now;
            until.tv_sec += 1;
            if (until.tv_sec > w->end.tv_sec ||
                (until.tv_sec == w->end.tv_sec && until.tv_nsec > w->end.tv_nsec))
                until = w->end;
            pthread_cond_timedwait(&w->k->evcv, &w->k->evmu, &until);
            watch_collect(w);
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (w->out.len == 0 && (now.tv_sec > w->end.tv_sec ||
                                    (now.tv_sec == w->end.tv_sec && now.tv_nsec >= w->end.tv_nsec)))
                w->done = true;
        }
        if (w->k->stopping)
            w->done = true;
        pthread_mutex_unlock(&w->k->evmu);
        if (w->out.len == 0)
            return w->done ? -1 : 0;
    }
    size_t n = w->out.len - w->off;
    if (n > max)
        n = max;
    memcpy(buf, w->out.s + w->off, n);
    w->off += n;
    return (long)n;
}

/* ---------- reading ---------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The ids of the objects the call's collection path and selectors cover,
 * sorted (the caller frees the array, not the strings: they are the
 * store's keys, valid under the world lock). */
static const char **matching_ids(struct lc_k8s_call *c, const struct selector *sel, size_t *n)
{
    json_t *objs = lc_store_kind(c->st, LC_K8S_API, c->kindkey);
    const char **ids = sf_xmalloc((json_object_size(objs) + 1) * sizeof(char *));
    *n = 0;
    const char *id;
    json_t *o;
    size_t nslen = c->ns ? strlen(c->ns) : 0;
    json_object_foreach(objs, id, o)
    {
        if (c->ns && (strncmp(id, c->ns, nslen) != 0 || id[nslen] != '/'))
            continue;
        json_t *m = json_object_get(o, "metadata");
        if (sel && !selector_matches(sel, lc_k8s_str(m, "namespace"), lc_k8s_str(m, "name"),
                                     json_object_get(m, "labels")))
            continue;
        ids[(*n)++] = id;
    }
    qsort(ids, *n, sizeof(char *), cmp_str);
    return ids;
}

/* The object as served at the request's version (custom resources may be
 * stored under another of their versions): a new reference. */
static json_t *served(struct lc_k8s_call *c, json_t *o)
{
    char *av = lc_k8s_api_version(c->t);
    const char *have = lc_k8s_str(o, "apiVersion");
    json_t *r;
    if (have && strcmp(have, av) == 0) {
        r = json_incref(o);
    } else {
        r = json_copy(o);
        json_object_set_new(r, "apiVersion", json_string(av));
    }
    free(av);
    return r;
}

static char rvbuf[32];
static const char *current_rv(struct lc_k8s *k)
{
    snprintf(rvbuf, sizeof(rvbuf), "%llu", k->rv);
    return rvbuf;
}

static void watch(struct lc_k8s_call *c, struct selector *sel)
{
    struct watch *w = sf_xcalloc(1, sizeof(*w));
    w->k = c->k;
    w->cluster = sf_xstrdup(c->cluster);
    w->kindkey = sf_xstrdup(c->kindkey);
    w->ns = c->ns ? sf_xstrdup(c->ns) : NULL;
    w->sel = *sel;
    memset(sel, 0, sizeof(*sel));
    const char *rv = lc_req_query(c->req, "resourceVersion");
    if (!rv || !*rv || strcmp(rv, "0") == 0) {
        /* no starting point: the current objects first, as ADDED */
        size_t n;
        const char **ids = matching_ids(c, &w->sel, &n);
        for (size_t i = 0; i < n; i++) {
            json_t *o = served(c, lc_store_get(c->st, LC_K8S_API, c->kindkey, ids[i]));
            char *line = event_line("ADDED", o);
            sf_buf_puts(&w->out, line);
            free(line);
            json_decref(o);
        }
        free(ids);
        w->cursor = c->k->rv;
    } else {
        char *end;
        errno = 0;
        w->cursor = strtoull(rv, &end, 10);
        if (errno || *end) {
            watch_free(w);
            lc_k8s_status(c->resp, 400, "BadRequest", NULL, "invalid resource version: \"%s\"", rv);
            return;
        }
    }
    const char *ts = lc_req_query(c->req, "timeoutSeconds");
    long secs = ts ? atol(ts) : WATCH_DEFAULT_S;
    if (secs <= 0 || secs > WATCH_DEFAULT_S)
        secs = WATCH_DEFAULT_S;
    clock_gettime(CLOCK_MONOTONIC, &w->end);
    w->end.tv_sec += secs;
    lc_resp_stream(c->resp, 200, "application/json", watch_read, w, watch_free);
}

/* A Table (what `kubectl get` asks for): name, a few columns of the kinds
 * people look at most, and the age, as the API server prints them. */
static bool wants_table(struct lc_k8s_call *c)
{
    const char *acc = lc_req_header(c->req, "Accept");
    return acc && strstr(acc, "as=Table") && strstr(acc, "g=meta.k8s.io");
}

/* Kubernetes' short durations: 45s, 3m20s, 15m, 5h3m, 2d4h, 40d. */
static char *age(const char *created)
{
    struct tm tm = {0};
    if (!created || !strptime(created, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return sf_xstrdup("<unknown>");
    long long s = lc_now_ms() / 1000 - (long long)timegm(&tm);
    if (s < 0)
        s = 0;
    long long m = s / 60, h = s / 3600, d = s / 86400;
    if (s < 120)
        return sf_asprintf("%llds", s);
    if (m < 10)
        return s % 60 ? sf_asprintf("%lldm%llds", m, s % 60) : sf_asprintf("%lldm", m);
    if (m < 180)
        return sf_asprintf("%lldm", m);
    if (h < 8)
        return m % 60 ? sf_asprintf("%lldh%lldm", h, m % 60) : sf_asprintf("%lldh", h);
    if (h < 48)
        return sf_asprintf("%lldh", h);
    if (h < 192)
        return h % 24 ? sf_asprintf("%lldd%lldh", d, h % 24) : sf_asprintf("%lldd", d);
    return sf_asprintf("%lldd", d);
}

static json_t *column(const char *name, const char *type, const char *format, const char *desc)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", name, "type", type, "format", format,
                     "description", desc, "priority", 0);
}

static json_int_t status_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(o, "status"), key));
}

/* A printer column's cell: the value at its jsonPath (the simple
 * ".a.b.c" form), checked against its type as the API server does; a date
 * shows as an age; null when absent or of another type. */
static json_t *printer_cell(const json_t *col, const json_t *obj)
{
    const char *path = lc_k8s_str(col, "jsonPath"), *type = lc_k8s_str(col, "type");
    const json_t *v = obj;
    for (const char *p = path ? path : ""; v && *p;) {
        if (*p == '.')
            p++;
        size_t n = strcspn(p, ".");
        char *seg = sf_xstrndup(p, n);
        v = json_object_get(v, seg);
        free(seg);
        p += n;
    }
    if (!v || !type)
        return json_null();
    if (strcmp(type, "date") == 0 && json_is_string(v)) {
        char *a = age(json_string_value(v));
        json_t *cell = json_string(a);
        free(a);
        return cell;
    }
    if ((strcmp(type, "string") == 0 && json_is_string(v)) ||
        (strcmp(type, "integer") == 0 && json_is_integer(v)) ||
        (strcmp(type, "number") == 0 && json_is_number(v)) ||
        (strcmp(type, "boolean") == 0 && json_is_boolean(v)))
        return json_incref((json_t *)v);
    /* a number or flag under a column of type string (the Spark Operator's
     * Attempts) prints as its text */
    if (strcmp(type, "string") == 0 && (json_is_number(v) || json_is_boolean(v))) {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        json_t *cell = json_string(text);
        free(text);
        return cell;
    }
    return json_null();
}

static json_t *table_of(struct lc_k8s_call *c, json_t *items, const char *rv, const char *cont)
{
    bool ns = strcmp(c->t->plural, "namespaces") == 0 && !c->t->crd;
    bool deploy = strcmp(c->t->plural, "deployments") == 0 && !c->t->crd;
    const json_t *printer = c->t->columns; /* a CRD's columns replace the Age */
    json_t *cols = json_array();
    json_array_append_new(cols, column("Name", "string", "name",
                                       "Name must be unique within a namespace."));
    size_t pi;
    json_t *pc;
    json_array_foreach(printer, pi, pc)
    {
        const char *type = lc_k8s_str(pc, "type");
        json_t *col = column(lc_k8s_str(pc, "name") ? lc_k8s_str(pc, "name") : "",
                             type ? type : "string",
                             lc_k8s_str(pc, "format") ? lc_k8s_str(pc, "format") : "",
                             lc_k8s_str(pc, "description") ? lc_k8s_str(pc, "description") : "");
        json_t *prio = json_object_get(pc, "priority");
        if (json_is_integer(prio))
            json_object_set(col, "priority", prio);
        json_array_append_new(cols, col);
    }
    if (ns)
        json_array_append_new(cols, column("Status", "string", "",
                                           "The status of the namespace"));
    if (deploy) {
        json_array_append_new(cols, column("Ready", "string", "",
                                           "Number of the pod with ready state"));
        json_array_append_new(cols, column("Up-to-date", "string", "",
                                           "Total number of non-terminated pods targeted by "
                                           "this deployment that have the desired template spec."));
        json_array_append_new(cols, column("Available", "string", "",
                                           "Total number of available pods (ready for at least "
                                           "minReadySeconds) targeted by this deployment."));
    }
    if (!printer)
        json_array_append_new(cols, column("Age", "string", "",
                                           "CreationTimestamp is a timestamp representing the "
                                           "server time when this object was created."));
    json_t *rows = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        json_t *m = json_object_get(o, "metadata");
        json_t *cells = json_pack("[s]", lc_k8s_str(m, "name"));
        if (ns) {
            const char *phase = lc_k8s_str(json_object_get(o, "status"), "phase");
            json_array_append_new(cells, json_string(phase ? phase : ""));
        }
        if (deploy) {
            json_t *r = json_object_get(json_object_get(o, "spec"), "replicas");
            char ready[48];
            snprintf(ready, sizeof(ready), "%lld/%lld", (long long)status_int(o, "readyReplicas"),
                     (long long)(r ? json_integer_value(r) : 1));
            json_array_append_new(cells, json_string(ready));
            json_array_append_new(cells, json_integer(status_int(o, "updatedReplicas")));
            json_array_append_new(cells, json_integer(status_int(o, "availableReplicas")));
        }
        json_array_foreach(printer, pi, pc) json_array_append_new(cells, printer_cell(pc, o));
        if (!printer) {
            char *a = age(lc_k8s_str(m, "creationTimestamp"));
            json_array_append_new(cells, json_string(a));
            free(a);
        }
        json_t *pm = json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                               "meta.k8s.io/v1", "metadata", m);
        json_array_append_new(rows, json_pack("{s:o, s:o}", "cells", cells, "object", pm));
    }
    json_t *t = json_pack("{s:s, s:s, s:{s:s}, s:o, s:o}", "kind", "Table", "apiVersion",
                          "meta.k8s.io/v1", "metadata", "resourceVersion", rv,
                          "columnDefinitions", cols, "rows", rows);
    if (cont)
        json_object_set_new(json_object_get(t, "metadata"), "continue", json_string(cont));
    return t;
}

static void list(struct lc_k8s_call *c)
{
    struct selector sel;
    if (parse_selectors(c, &sel) < 0)
        return;
    if (query_true(c->req, "watch")) {
        watch(c, &sel);
        selector_free(&sel);
        return;
    }
    size_t n;
    const char **ids = matching_ids(c, &sel, &n);
    selector_free(&sel);
    size_t from = 0;
    const char *cont = lc_req_query(c->req, "continue");
    if (cont && *cont) {
        size_t dl;
        char *after = (char *)lc_unbase64(cont, &dl);
        if (!after) {
            free(ids);
            lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                          "continue key is not valid: the token is not base64");
            return;
        }
        after = sf_xrealloc(after, dl + 1);
        after[dl] = '\0';
        while (from < n && strcmp(ids[from], after) <= 0)
            from++;
        free(after);
    }
    const char *lim = lc_req_query(c->req, "limit");
    size_t limit = lim && atol(lim) > 0 ? (size_t)atol(lim) : 0;
    size_t to = limit && from + limit < n ? from + limit : n;
    json_t *items = json_array();
    for (size_t i = from; i < to; i++)
        json_array_append_new(items, served(c, lc_store_get(c->st, LC_K8S_API, c->kindkey, ids[i])));
    char *next = to < n ? sf_base64_encode((const unsigned char *)ids[to - 1], strlen(ids[to - 1]))
                        : NULL;
    free(ids);
    if (wants_table(c)) {
        lc_resp_json(c->resp, 200, table_of(c, items, current_rv(c->k), next));
        json_decref(items);
        free(next);
        return;
    }
    char *av = lc_k8s_api_version(c->t);
    json_t *out = json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", c->t->list_kind, "apiVersion", av,
                            "metadata", "resourceVersion", current_rv(c->k), "items", items);
    if (next) {
        json_t *m = json_object_get(out, "metadata");
        json_object_set_new(m, "continue", json_string(next));
        json_object_set_new(m, "remainingItemCount", json_integer((json_int_t)(n - to)));
    }
    free(next);
    free(av);
    lc_resp_json(c->resp, 200, out);
}

static json_t *stored(struct lc_k8s_call *c, const char *ns, const char *name)
{
    char *id = lc_k8s_id(ns, name);
    json_t *o = lc_store_get(c->st, LC_K8S_API, c->kindkey, id);
    free(id);
    return o;
}

static void get(struct lc_k8s_call *c)
{
    json_t *o = stored(c, c->ns, c->name);
    if (!o) {
        not_found(c, c->name);
        return;
    }
    if (wants_table(c)) {
        json_t *items = json_pack("[O]", o);
        lc_resp_json(c->resp, 200, table_of(c, items, current_rv(c->k), NULL));
        json_decref(items);
        return;
    }
    lc_resp_json(c->resp, 200, served(c, o));
}

/* ---------- writing ---------- */

/* Types whose objects have no generation (no spec to speak of). */
static bool has_generation(const struct lc_k8s_type *t)
{
    static const char *const none[] = {"namespaces", "configmaps", "secrets", "serviceaccounts", "events",
                                       "roles", "rolebindings", "clusterroles",
                                       "clusterrolebindings", "leases", NULL};
    if (t->crd)
        return true;
    for (size_t i = 0; none[i]; i++)
        if (strcmp(t->plural, none[i]) == 0)
            return false;
    return true;
}

/* Whether anything outside metadata and status differs. */
static bool spec_changed(const json_t *a, const json_t *b)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)a, key, v)
        if (strcmp(key, "metadata") && strcmp(key, "status") &&
            !json_equal(v, json_object_get(b, key)))
            return true;
    json_object_foreach((json_t *)b, key, v)
        if (strcmp(key, "metadata") && strcmp(key, "status") && !json_object_get(a, key))
            return true;
    return false;
}

static const char *const server_meta[] = {"uid", "creationTimestamp", "generation",
                                          "deletionTimestamp", "deletionGracePeriodSeconds",
                                          "resourceVersion", "selfLink", NULL};

/* obj (the client's new state) takes from old what the client may not
 * change: server-owned metadata, and the status (main resource) or
 * everything but the status (status subresource). */
static void keep_server_owned(struct lc_k8s_call *c, json_t *obj, const json_t *old)
{
    json_t *m = meta_of(obj), *om = json_object_get(old, "metadata");
    for (size_t i = 0; server_meta[i]; i++) {
        json_t *v = json_object_get(om, server_meta[i]);
        if (v)
            json_object_set(m, server_meta[i], v);
        else
            json_object_del(m, server_meta[i]);
    }
    if (c->sub) {
        /* the status subresource changes the status and nothing else */
        json_t *st = json_incref(json_object_get(obj, "status"));
        json_t *copy = json_deep_copy(old);
        json_object_clear(obj);
        json_object_update(obj, copy);
        json_decref(copy);
        if (st)
            json_object_set_new(obj, "status", st);
        else
            json_object_del(obj, "status");
        return;
    } else if (c->t->has_status) {
        json_t *st = json_object_get(old, "status");
        if (st)
            json_object_set_new(obj, "status", json_deep_copy(st));
        else
            json_object_del(obj, "status");
    }
    if (has_generation(c->t) && spec_changed(obj, old)) {
        json_int_t g = json_integer_value(json_object_get(om, "generation"));
        json_object_set_new(m, "generation", json_integer(g + 1));
    }
}

static void invalid(struct lc_k8s_call *c, const char *name, json_t *causes)
{
    struct sf_buf msg = {0};
    size_t i;
    json_t *cause;
    json_array_foreach(causes, i, cause)
        sf_buf_printf(&msg, "%s%s: %s", i ? ", " : "", lc_k8s_str(cause, "field"), lc_k8s_str(cause, "message"));
    json_t *d = details(c->t, name);
    json_object_set_new(d, "kind", json_string(c->t->kind));
    json_object_set_new(d, "causes", causes);
    /* Kind.group "name", or Kind "name" for the core group */
    lc_k8s_status(c->resp, 422, "Invalid", d, "%s%s%s \"%s\" is invalid: %s", c->t->kind,
                  c->t->group[0] ? "." : "", c->t->group, name ? name : "", msg.s ? msg.s : "");
    sf_buf_free(&msg);
}

static bool strict_fields(struct lc_k8s_call *c)
{
    const char *v = lc_req_query(c->req, "fieldValidation");
    return v && strcmp(v, "Strict") == 0;
}

/* What a write of a custom resource definition also does: the API server
 * accepts its names and marks it Established at once. */
static void establish_crd(json_t *crd, const char *now)
{
    json_t *spec = json_object_get(crd, "spec");
    json_t *stored = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "versions"), i, v)
        if (json_is_true(json_object_get(v, "storage")))
            json_array_append_new(stored, json_string(lc_k8s_str(v, "name")));
    json_t *st = json_pack(
        "{s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}], s:O, s:o}", "conditions",
        "type", "NamesAccepted", "status", "True", "lastTransitionTime", now, "reason",
        "NoConflicts", "message", "no conflicts found", "type", "Established", "status", "True",
        "lastTransitionTime", now, "reason", "InitialNamesAccepted", "message",
        "the initial names have been accepted", "acceptedNames", json_object_get(spec, "names"),
        "storedVersions", stored);
    json_object_set_new(crd, "status", st);
}

/* Defaults, validation, managedFields, the no-op check, dry run, commit;
 * answers the call. obj is stolen. manager NULL: managedFields are already
 * done (server-side apply). */
static void finish_write(struct lc_k8s_call *c, json_t *obj, const json_t *old,
                         const char *manager, bool dry, unsigned created_status)
{
    char now[32];
    now_str(now, sizeof(now));
    lc_k8s_default(c->t, obj);
    json_t *causes = lc_k8s_validate(c->t, obj, strict_fields(c));
    const char *name = meta_str(obj, "name");
    json_t *unknown = NULL;
    size_t ci;
    json_t *cz;
    json_array_foreach(causes, ci, cz) if (strcmp(lc_k8s_str(cz, "reason"), "FieldValueUnknown") == 0) unknown = cz;
    if (unknown) {
        /* what the strict decoder of the API server says */
        lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                      "%s in version \"%s\" cannot be handled as a %s: strict decoding error: %s",
                      c->t->kind, c->t->version, c->t->kind, lc_k8s_str(unknown, "message"));
        json_decref(causes);
        json_decref(obj);
        return;
    }
    if (causes) {
        invalid(c, name, causes);
        json_decref(obj);
        return;
    }
    char *av = lc_k8s_api_version(c->t);
    if (manager)
        lc_k8s_track_update(obj, old, manager, av, c->sub, now);
    free(av);
    if (!old && strcmp(c->t->plural, "customresourcedefinitions") == 0)
        establish_crd(obj, now);
    if (old) {
        json_t *m = meta_of(obj);
        json_t *orv = json_object_get(json_object_get(old, "metadata"), "resourceVersion");
        if (orv)
            json_object_set(m, "resourceVersion", orv);
        if (json_equal(obj, old)) {
            json_decref(obj);
            lc_resp_json(c->resp, 200, served(c, (json_t *)old));
            return;
        }
    }
    json_t *m = meta_of(obj);
    bool gone = json_object_get(m, "deletionTimestamp") &&
                json_array_size(json_object_get(m, "finalizers")) == 0;
    if (dry) {
        if (!old)
            json_object_set_new(m, "resourceVersion", json_string(""));
        lc_resp_json(c->resp, old ? 200 : created_status, served(c, obj));
        json_decref(obj);
        return;
    }
    char *id = lc_k8s_id(meta_str(obj, "namespace"), name);
    int rc = lc_k8s_commit(c->k, c->cluster, c->kindkey, id, gone ? NULL : obj, old);
    if (rc == 0 && gone)
        json_object_set_new(m, "resourceVersion", json_string(current_rv(c->k)));
    free(id);
    if (rc < 0) {
        lc_k8s_status(c->resp, 500, "InternalError", NULL, "cannot store the object: %s",
                      strerror(errno));
        json_decref(obj);
        return;
    }
    lc_resp_json(c->resp, old ? 200 : created_status, served(c, obj));
    json_decref(obj);
}

/* The namespace an object goes in must exist and not be terminating. */
static bool namespace_open(struct lc_k8s_call *c, const char *ns)
{
    char *key = lc_k8s_kindkey(c->cluster, lc_k8s_builtin("namespaces"));
    json_t *o = lc_store_get(c->st, LC_K8S_API, key, ns);
    free(key);
    if (!o) {
        lc_k8s_status(c->resp, 404, "NotFound",
                      json_pack("{s:s, s:s}", "name", ns, "kind", "namespaces"),
                      "namespaces \"%s\" not found", ns);
        return false;
    }
    if (json_object_get(json_object_get(o, "metadata"), "deletionTimestamp")) {
        lc_k8s_status(c->resp, 403, "Forbidden",
                      json_pack("{s:s, s:s}", "name", ns, "kind", "namespaces"),
                      "unable to create new content in namespace %s because it is being "
                      "terminated",
                      ns);
        return false;
    }
    return true;
}

/* Fills a new object's server-owned metadata. */
static void new_object_meta(struct lc_k8s_call *c, json_t *obj, const char *now)
{
    json_t *m = meta_of(obj);
    char *h = sf_random_hex(16);
    h[12] = '4'; /* a version 4 (random) UUID */
    h[16] = "89ab"[h[16] % 4];
    char *uid = sf_asprintf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    json_object_set_new(m, "uid", json_string(uid));
    free(uid);
    free(h);
    json_object_set_new(m, "creationTimestamp", json_string(now));
    for (size_t i = 0; server_meta[i]; i++)
        if (strcmp(server_meta[i], "uid") && strcmp(server_meta[i], "creationTimestamp"))
            json_object_del(m, server_meta[i]);
    if (has_generation(c->t))
        json_object_set_new(m, "generation", json_integer(1));
    if (c->t->has_status)
        json_object_del(obj, "status");
}

/* Checks apiVersion / kind / namespace of a body against the path; the
 * namespace is filled in when absent. false after answering. */
static bool body_matches(struct lc_k8s_call *c, json_t *obj)
{
    char *av = lc_k8s_api_version(c->t);
    const char *have_av = lc_k8s_str(obj, "apiVersion"), *have_kind = lc_k8s_str(obj, "kind");
    bool ok = true;
    if (have_av && strcmp(have_av, av) != 0) {
        lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                      "the API version in the data (%s) does not match the expected API version (%s)",
                      have_av, av);
        ok = false;
    } else if (have_kind && strcmp(have_kind, c->t->kind) != 0) {
        lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                      "the kind in the data (%s) does not match the expected kind (%s)", have_kind,
                      c->t->kind);
        ok = false;
    }
    if (ok) {
        json_object_set_new(obj, "apiVersion", json_string(av));
        json_object_set_new(obj, "kind", json_string(c->t->kind));
        json_t *m = meta_of(obj);
        const char *ns = lc_k8s_str(m, "namespace");
        if (c->t->namespaced) {
            if (ns && *ns && c->ns && strcmp(ns, c->ns) != 0) {
                lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                              "the namespace of the provided object does not match the "
                              "namespace sent on the request");
                ok = false;
            } else if (c->ns) {
                json_object_set_new(m, "namespace", json_string(c->ns));
            }
        } else {
            json_object_del(m, "namespace");
        }
    }
    free(av);
    return ok;
}

/* The body as an object of the call's type (body_matches), or NULL after
 * answering. */
static json_t *body_object(struct lc_k8s_call *c)
{
    json_t *obj = body_json(c);
    if (!obj)
        return NULL;
    if (!json_is_object(obj)) {
        lc_k8s_status(c->resp, 400, "BadRequest", NULL, "the body must be a JSON object");
        json_decref(obj);
        return NULL;
    }
    if (!body_matches(c, obj)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static void create(struct lc_k8s_call *c)
{
    if (c->t->namespaced && !c->ns) {
        lc_k8s_status(c->resp, 405, "MethodNotAllowed", NULL,
                      "the server does not allow this method on the requested resource: create "
                      "needs a namespace");
        return;
    }
    json_t *obj = body_object(c);
    if (!obj)
        return;
    json_t *m = meta_of(obj);
    const char *name = lc_k8s_str(m, "name");
    if ((!name || !*name) && lc_k8s_str(m, "generateName")) {
        char *h = sf_random_hex(3);
        char *gen = sf_asprintf("%s%.5s", lc_k8s_str(m, "generateName"), h);
        json_object_set_new(m, "name", json_string(gen));
        free(gen);
        free(h);
        name = lc_k8s_str(m, "name");
    }
    if (c->t->namespaced && !namespace_open(c, c->ns)) {
        json_decref(obj);
        return;
    }
    if (name && *name && stored(c, c->ns, name)) {
        char *q = qualified(c->t);
        lc_k8s_status(c->resp, 409, "AlreadyExists", details(c->t, name), "%s \"%s\" already exists",
                      q, name);
        free(q);
        json_decref(obj);
        return;
    }
    char now[32];
    now_str(now, sizeof(now));
    new_object_meta(c, obj, now);
    char *mgr = manager_of(c->req);
    finish_write(c, obj, NULL, mgr, dry_run(c->req, NULL), 201);
    free(mgr);
}

/* Shared by PUT and the patches once the new state is known: obj (stolen)
 * replaces old (the stored object). */
static void update_with(struct lc_k8s_call *c, json_t *obj, json_t *old, const char *manager,
                        bool dry)
{
    /* patches may share members with old, which is the stored object:
     * what follows changes obj in place */
    json_t *fresh = json_deep_copy(obj);
    json_decref(obj);
    obj = fresh;
    if (!json_is_object(obj) || !body_matches(c, obj)) {
        if (!json_is_object(obj))
            lc_k8s_status(c->resp, 400, "BadRequest", NULL, "the body must be a JSON object");
        json_decref(obj);
        return;
    }
    json_t *m = meta_of(obj);
    const char *name = lc_k8s_str(m, "name");
    if (!name || strcmp(name, c->name) != 0) {
        lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                      "the name of the object (%s) does not match the name on the URL (%s)",
                      name ? name : "", c->name);
        json_decref(obj);
        return;
    }
    const char *rv = lc_k8s_str(m, "resourceVersion");
    if (rv && *rv && strcmp(rv, meta_str(old, "resourceVersion")) != 0) {
        conflict(c, c->name);
        json_decref(obj);
        return;
    }
    keep_server_owned(c, obj, old);
    finish_write(c, obj, old, manager, dry, 200);
}

static void replace(struct lc_k8s_call *c)
{
    json_t *old = stored(c, c->ns, c->name);
    if (!old) {
        not_found(c, c->name);
        return;
    }
    json_t *obj = body_json(c);
    if (!obj)
        return;
    char *mgr = manager_of(c->req);
    update_with(c, obj, old, mgr, dry_run(c->req, NULL));
    free(mgr);
}

static void apply_conflict(struct lc_k8s_call *c, json_t *conflicts)
{
    struct sf_buf msg = {0};
    json_t *causes = json_array();
    char *av = lc_k8s_api_version(c->t);
    size_t i;
    json_t *x;
    sf_buf_printf(&msg, "Apply failed with %zu conflict%s:", json_array_size(conflicts),
                  json_array_size(conflicts) == 1 ? "" : "s");
    json_array_foreach(conflicts, i, x)
    {
        char *one = sf_asprintf("conflict with \"%s\" using %s", lc_k8s_str(x, "manager"), av);
        sf_buf_printf(&msg, " %s: %s", one, lc_k8s_str(x, "field"));
        json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason",
                                                "FieldManagerConflict", "message", one, "field",
                                                lc_k8s_str(x, "field")));
        free(one);
    }
    json_t *d = details(c->t, c->name);
    json_object_set_new(d, "causes", causes);
    lc_k8s_status(c->resp, 409, "Conflict", d, "%s", msg.s);
    sf_buf_free(&msg);
    free(av);
}

static void server_side_apply(struct lc_k8s_call *c, json_t *old)
{
    const char *fm = lc_req_query(c->req, "fieldManager");
    if (!fm || !*fm) {
        lc_k8s_status(c->resp, 422, "Invalid",
                      json_pack("{s:[{s:s, s:s, s:s}]}", "causes", "reason", "FieldValueRequired",
                                "message", "Required value: is required for apply patch",
                                "field", "fieldManager"),
                      "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                      "required for apply patch");
        return;
    }
    json_t *applied = body_object(c);
    if (!applied)
        return;
    const char *name = meta_str(applied, "name");
    if (!name || strcmp(name, c->name) != 0) {
        lc_k8s_status(c->resp, 400, "BadRequest", NULL,
                      "the name of the object (%s) does not match the name on the URL (%s)",
                      name ? name : "", c->name);
        json_decref(applied);
        return;
    }
    const char *rv = meta_str(applied, "resourceVersion");
    if (rv && *rv && (!old || strcmp(rv, meta_str(old, "resourceVersion")) != 0)) {
        conflict(c, c->name);
        json_decref(applied);
        return;
    }
    if (!old && c->t->namespaced && !namespace_open(c, c->ns)) {
        json_decref(applied);
        return;
    }
    json_t *am = meta_of(applied);
    for (size_t i = 0; server_meta[i]; i++)
        json_object_del(am, server_meta[i]);
    json_object_del(am, "managedFields");
    json_t *live = old ? json_deep_copy(old) : NULL;
    json_t *status = NULL;
    if (c->t->has_status && !c->sub) {
        json_object_del(applied, "status");
        if (live) {
            status = json_incref(json_object_get(live, "status"));
            json_object_del(live, "status");
        }
    }
    char now[32], err[256] = "";
    now_str(now, sizeof(now));
    char *av = lc_k8s_api_version(c->t);
    json_t *conflicts = NULL;
    json_t *obj = lc_k8s_apply(live, applied, fm, query_true(c->req, "force"), av, now, &conflicts,
                               err, sizeof(err));
    free(av);
    json_decref(live);
    json_decref(applied);
    if (!obj) {
        if (conflicts)
            apply_conflict(c, conflicts);
        else
            lc_k8s_status(c->resp, 400, "BadRequest", NULL, "%s", err);
        json_decref(conflicts);
        json_decref(status);
        return;
    }
    json_t *fresh = json_deep_copy(obj);
    json_decref(obj);
    obj = fresh;
    if (status)
        json_object_set_new(obj, "status", status);
    if (old) {
        keep_server_owned(c, obj, old);
    } else {
        new_object_meta(c, obj, now);
    }
    finish_write(c, obj, old, NULL, dry_run(c->req, NULL), 201);
}

static void patch(struct lc_k8s_call *c)
{
    json_t *old = stored(c, c->ns, c->name);
    const char *ct = lc_req_header(c->req, "Content-Type");
    char type[64] = "";
    if (ct)
        snprintf(type, sizeof(type), "%.*s", (int)strcspn(ct, "; "), ct);
    if (strcmp(type, "application/apply-patch+yaml") == 0 ||
        strcmp(type, "application/apply-patch+json") == 0) {
        server_side_apply(c, old);
        return;
    }
    bool smp = strcmp(type, "application/strategic-merge-patch+json") == 0;
    bool merge = strcmp(type, "application/merge-patch+json") == 0;
    bool jp = strcmp(type, "application/json-patch+json") == 0;
    if (!smp && !merge && !jp) {
        lc_k8s_status(c->resp, 415, "UnsupportedMediaType", NULL,
                      "the body of the request was in an unknown format - accepted media types "
                      "include: application/json-patch+json, application/merge-patch+json, "
                      "application/apply-patch+yaml%s",
                      c->t->crd ? "" : ", application/strategic-merge-patch+json");
        return;
    }
    if (smp && c->t->crd) {
        lc_k8s_status(c->resp, 415, "UnsupportedMediaType", NULL,
                      "strategic merge patch is not supported for custom resources: use "
                      "application/merge-patch+json");
        return;
    }
    if (!old) {
        not_found(c, c->name);
        return;
    }
    json_t *p = body_json(c);
    if (!p)
        return;
    char err[256] = "";
    json_t *obj = NULL;
    if (jp)
        obj = json_is_array(p) ? lc_k8s_json_patch(old, p, err, sizeof(err)) : NULL;
    else if (!json_is_object(p))
        snprintf(err, sizeof(err), "a merge patch must be a JSON object");
    else if (merge)
        obj = lc_k8s_merge_patch(old, p);
    else
        obj = lc_k8s_strategic_merge(old, p, err, sizeof(err));
    json_decref(p);
    if (!obj) {
        if (jp && !err[0])
            snprintf(err, sizeof(err), "a JSON patch must be a list of operations");
        lc_k8s_status(c->resp, jp ? 422 : 400, jp ? "Invalid" : "BadRequest", NULL, "%s", err);
        return;
    }
    char *mgr = manager_of(c->req);
    update_with(c, obj, old, mgr, dry_run(c->req, NULL));
    free(mgr);
}

/* ---------- deleting ---------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void add_finalizer(json_t *m, const char *f)
{
    json_t *fs = json_object_get(m, "finalizers");
    if (!json_is_array(fs)) {
        fs = json_array();
        json_object_set_new(m, "finalizers", fs);
    }
    size_t i;
    json_t *x;
    json_array_foreach(fs, i, x) if (strcmp(json_string_value(x) ? json_string_value(x) : "", f) == 0) return;
    json_array_append_new(fs, json_string(f));
}

/* A custom resource definition takes its objects with it. */
static int delete_crd_objects(struct lc_k8s *k, const char *cluster, const json_t *crd)
{
    json_t *spec = json_object_get(crd, "spec");
    const char *group = lc_k8s_str(spec, "group"), *plural = lc_k8s_str(json_object_get(spec, "names"), "plural");
    if (!group || !plural)
        return 0;
    char *key = sf_asprintf("%s.%s.%s", cluster, plural, group);
    json_t *objs = lc_store_kind(lc_server_store(k->srv), LC_K8S_API, key);
    const char *id;
    json_t *o, *tmp;
    int rc = 0;
    json_object_foreach_safe(objs, tmp, id, o)
        if (lc_k8s_commit(k, cluster, key, id, NULL, o) < 0)
            rc = -1;
    free(key);
    return rc;
}

/* The deletion itself; *result (new reference) is what the answer shows. */
static int delete_obj(struct lc_k8s *k, const char *cluster, const char *kindkey, const char *id,
                      const char *propagation, bool dry, json_t **result)
{
    json_t *old = lc_store_get(lc_server_store(k->srv), LC_K8S_API, kindkey, id);
    json_t *obj = json_deep_copy(old);
    json_t *m = meta_of(obj);
    *result = obj;
    if (json_object_get(m, "deletionTimestamp"))
        return 0; /* already going */
    char now[32];
    now_str(now, sizeof(now));
    bool ns = strcmp(kindkey + strlen(cluster), ".namespaces") == 0;
    if (ns) {
        json_t *spec = json_object_get(obj, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(obj, "spec", spec);
        }
        json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
        json_t *st = json_object_get(obj, "status");
        if (!json_is_object(st)) {
            st = json_object();
            json_object_set_new(obj, "status", st);
        }
        json_object_set_new(st, "phase", json_string("Terminating"));
    } else if (propagation && strcmp(propagation, "Foreground") == 0) {
        add_finalizer(m, "foregroundDeletion");
    } else if (propagation && strcmp(propagation, "Orphan") == 0) {
        add_finalizer(m, "orphan");
    }
    bool keep = ns || json_array_size(json_object_get(m, "finalizers")) > 0;
    if (keep) {
        json_object_set_new(m, "deletionTimestamp", json_string(now));
        json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(0));
    }
    if (dry)
        return 0;
    if (!keep && ends_with(kindkey, ".customresourcedefinitions.apiextensions.k8s.io") &&
        delete_crd_objects(k, cluster, old) < 0)
        return -1;
    int rc = lc_k8s_commit(k, cluster, kindkey, id, keep ? obj : NULL, old);
    if (rc == 0 && !keep) {
        json_object_set_new(m, "resourceVersion", json_string(current_rv(k)));
        k->gc_pending = true;
    }
    return rc;
}

int lc_k8s_delete_object(struct lc_k8s *k, const char *cluster, const char *kindkey,
                         const char *id, const char *propagation)
{
    json_t *r = NULL;
    int rc = delete_obj(k, cluster, kindkey, id, propagation, false, &r);
    json_decref(r);
    return rc;
}

static const char *propagation_of(struct lc_k8s_call *c, const json_t *opts)
{
    const char *p = lc_req_query(c->req, "propagationPolicy");
    if (!p)
        p = lc_k8s_str(opts, "propagationPolicy");
    if (!p && json_is_true(json_object_get(opts, "orphanDependents")))
        p = "Orphan";
    return p;
}

static void delete_one(struct lc_k8s_call *c)
{
    json_t *old = stored(c, c->ns, c->name);
    if (!old) {
        not_found(c, c->name);
        return;
    }
    json_t *opts = NULL;
    if (c->req->body_len) {
        opts = json_loadb(c->req->body, c->req->body_len, 0, NULL);
        if (!json_is_object(opts)) {
            json_decref(opts);
            lc_k8s_status(c->resp, 400, "BadRequest", NULL, "the body must be DeleteOptions (a JSON object)");
            return;
        }
    }
    const char *p = propagation_of(c, opts);
    if (p && strcmp(p, "Foreground") && strcmp(p, "Background") && strcmp(p, "Orphan")) {
        lc_k8s_status(c->resp, 422, "Invalid", NULL,
                      "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported "
                      "value: \"%s\": supported values: \"Foreground\", \"Background\", \"Orphan\"",
                      p);
        json_decref(opts);
        return;
    }
    json_t *pre = json_object_get(opts, "preconditions");
    const char *puid = lc_k8s_str(pre, "uid"), *prv = lc_k8s_str(pre, "resourceVersion");
    if ((puid && strcmp(puid, meta_str(old, "uid")) != 0) ||
        (prv && strcmp(prv, meta_str(old, "resourceVersion")) != 0)) {
        conflict(c, c->name);
        json_decref(opts);
        return;
    }
    if (strcmp(c->t->plural, "namespaces") == 0 &&
        (strcmp(c->name, "default") == 0 || strcmp(c->name, "kube-system") == 0 ||
         strcmp(c->name, "kube-public") == 0)) {
        lc_k8s_status(c->resp, 403, "Forbidden", details(c->t, c->name),
                      "namespaces \"%s\" is forbidden: this namespace may not be deleted", c->name);
        json_decref(opts);
        return;
    }
    char *id = lc_k8s_id(c->ns, c->name);
    json_t *result = NULL;
    int rc = delete_obj(c->k, c->cluster, c->kindkey, id, p, dry_run(c->req, opts), &result);
    free(id);
    json_decref(opts);
    if (rc < 0) {
        json_decref(result);
        lc_k8s_status(c->resp, 500, "InternalError", NULL, "cannot delete the object: %s",
                      strerror(errno));
        return;
    }
    lc_resp_json(c->resp, 200, result);
}

static void delete_collection(struct lc_k8s_call *c)
{
    struct selector sel;
    if (parse_selectors(c, &sel) < 0)
        return;
    size_t n;
    const char **ids = matching_ids(c, &sel, &n);
    selector_free(&sel);
    bool dry = dry_run(c->req, NULL);
    json_t *items = json_array();
    /* the ids are the store's keys: copy them before deleting */
    char **copy = sf_xmalloc((n + 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        copy[i] = sf_xstrdup(ids[i]);
    free(ids);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = NULL;
        if (rc == 0)
            rc = delete_obj(c->k, c->cluster, c->kindkey, copy[i], propagation_of(c, NULL), dry,
                            &r);
        if (r)
            json_array_append_new(items, r);
        free(copy[i]);
    }
    free(copy);
    if (rc < 0) {
        json_decref(items);
        lc_k8s_status(c->resp, 500, "InternalError", NULL, "cannot delete the objects: %s",
                      strerror(errno));
        return;
    }
    char *av = lc_k8s_api_version(c->t);
    lc_resp_json(c->resp, 200, json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", c->t->list_kind,
                                         "apiVersion", av, "metadata", "resourceVersion",
                                         current_rv(c->k), "items", items));
    free(av);
}

void lc_k8s_bootstrap(struct lc_k8s *k, const char *cluster)
{
    char *key = lc_k8s_kindkey(cluster, lc_k8s_builtin("namespaces"));
    if (json_object_size(lc_store_kind(lc_server_store(k->srv), LC_K8S_API, key)) == 0) {
        static const char *const names[] = {"default", "kube-system", "kube-public",
                                            "kube-node-lease", NULL};
        char now[32];
        now_str(now, sizeof(now));
        struct lc_k8s_call c = {.k = k, .t = lc_k8s_builtin("namespaces")};
        for (size_t i = 0; names[i]; i++) {
            json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                                   "metadata", "name", names[i]);
            new_object_meta(&c, ns, now);
            lc_k8s_default(c.t, ns);
            lc_k8s_commit(k, cluster, key, names[i], ns, NULL);
            json_decref(ns);
        }
    }
    free(key);
}

/* ---------- the scale subresource ---------- */

static json_t *scale_of(const json_t *o)
{
    json_t *m = json_object_get(o, "metadata");
    json_t *r = json_object_get(json_object_get(o, "spec"), "replicas");
    struct sf_buf sel = {0};
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(json_object_get(o, "spec"), "selector"),
                                        "matchLabels"),
                        key, v)
        sf_buf_printf(&sel, "%s%s=%s", sel.len ? "," : "", key, json_string_value(v));
    json_t *scale = json_pack(
        "{s:s, s:s, s:{s:s?, s:s?, s:s?, s:s?, s:s?}, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale",
        "apiVersion", "autoscaling/v1", "metadata", "name", lc_k8s_str(m, "name"), "namespace",
        lc_k8s_str(m, "namespace"), "uid", lc_k8s_str(m, "uid"), "resourceVersion", lc_k8s_str(m, "resourceVersion"),
        "creationTimestamp", lc_k8s_str(m, "creationTimestamp"), "spec", "replicas",
        (json_int_t)(r ? json_integer_value(r) : 1), "status", "replicas",
        status_int(o, "replicas"), "selector", sel.s ? sel.s : "");
    sf_buf_free(&sel);
    return scale;
}

/* GET, PUT or PATCH of /scale: the change goes through the object's own
 * update (a new spec.replicas), the answer is the Scale. */
static void scale(struct lc_k8s_call *c)
{
    json_t *old = stored(c, c->ns, c->name);
    if (!old) {
        not_found(c, c->name);
        return;
    }
    json_t *cur = scale_of(old);
    if (strcmp(c->req->method, "GET") == 0 || strcmp(c->req->method, "HEAD") == 0) {
        lc_resp_json(c->resp, 200, cur);
        return;
    }
    json_t *body = body_json(c);
    if (!body) {
        json_decref(cur);
        return;
    }
    const char *ct = lc_req_header(c->req, "Content-Type");
    char err[256] = "";
    json_t *want = NULL;
    if (strcmp(c->req->method, "PUT") == 0)
        want = json_incref(body);
    else if (ct && strncmp(ct, "application/json-patch+json", 27) == 0)
        want = lc_k8s_json_patch(cur, body, err, sizeof(err));
    else if (json_is_object(body))
        want = lc_k8s_merge_patch(cur, body);
    json_decref(body);
    json_t *r = json_object_get(json_object_get(want, "spec"), "replicas");
    const char *rv = lc_k8s_str(json_object_get(want, "metadata"), "resourceVersion");
    if (!want || !json_is_integer(r) || json_integer_value(r) < 0) {
        lc_k8s_status(c->resp, want ? 422 : 400, want ? "Invalid" : "BadRequest", NULL,
                      "Scale.autoscaling \"%s\" is invalid: %s", c->name,
                      want ? "spec.replicas: Invalid value: must be a non-negative integer"
                           : err[0] ? err : "the body must be a Scale");
    } else if (rv && *rv && strcmp(rv, meta_str(old, "resourceVersion")) != 0) {
        conflict(c, c->name);
    } else {
        json_t *obj = json_deep_copy(old);
        json_object_set_new(json_object_get(obj, "spec"), "replicas", json_integer(json_integer_value(r)));
        char *mgr = manager_of(c->req);
        c->sub = NULL;
        update_with(c, obj, old, mgr, dry_run(c->req, NULL));
        free(mgr);
        if (c->resp->status == 200) {
            json_t *done = json_loadb(c->resp->body, c->resp->len, 0, NULL);
            lc_resp_json(c->resp, 200, scale_of(done));
            json_decref(done);
        }
    }
    json_decref(want);
    json_decref(cur);
}

void lc_k8s_serve_resource(struct lc_k8s_call *c)
{
    const char *m = c->req->method;
    bool get_like = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (!c->name) {
        if (get_like)
            list(c);
        else if (strcmp(m, "POST") == 0)
            create(c);
        else if (strcmp(m, "DELETE") == 0)
            delete_collection(c);
        else
            lc_k8s_status(c->resp, 405, "MethodNotAllowed", NULL,
                          "the server does not allow this method on the requested resource");
        return;
    }
    if (c->t->namespaced && !c->ns) {
        lc_k8s_status(c->resp, 404, "NotFound", NULL,
                      "the server could not find the requested resource");
        return;
    }
    if (c->sub && strcmp(c->sub, "scale") == 0)
        scale(c);
    else if (get_like)
        get(c);
    else if (strcmp(m, "PUT") == 0)
        replace(c);
    else if (strcmp(m, "PATCH") == 0)
        patch(c);
    else if (strcmp(m, "DELETE") == 0 && !c->sub)
        delete_one(c);
    else
        lc_k8s_status(c->resp, 405, "MethodNotAllowed", NULL,
                      "the server does not allow this method on the requested resource");
}

/*
 * Fault injection (see faults.h). The PRNG is splitmix64: tiny, good enough
 * for test shares, and reseeded by every POST so the same seed and the same
 * sequence of requests give the same faults.
 *
 * Failures are kept as the validated JSON objects they came in (kind,
 * name or name_prefix, on, reason): they are few and only read by name.
 */
#include "faults.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fields.h"
#include "util.h"

struct rule {
    char *prefix;
    long latency_ms;
    double error_rate, throttle_rate, drop_rate, error_after_rate, drop_after_rate;
    int error_status;
    long retry_after;
};

struct lc_faults {
    pthread_mutex_t mu;
    struct rule *rules;
    size_t n;
    json_t *failures; /* array of {kind, name | name_prefix, on, reason} */
    uint64_t seed, state;
};

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct lc_faults *lc_faults_new(void)
{
    struct lc_faults *f = sf_xcalloc(1, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->failures = json_array();
    return f;
}

static void clear_rules(struct lc_faults *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->rules[i].prefix);
    free(f->rules);
    f->rules = NULL;
    f->n = 0;
    json_array_clear(f->failures);
}

void lc_faults_free(struct lc_faults *f)
{
    if (!f)
        return;
    clear_rules(f);
    json_decref(f->failures);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void lc_faults_decide(struct lc_faults *f, const char *path, struct lc_fault_decision *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&f->mu);
    const struct rule *best = NULL;
    for (size_t i = 0; i < f->n; i++) {
        const struct rule *r = &f->rules[i];
        if (strncmp(path, r->prefix, strlen(r->prefix)) == 0 &&
            (!best || strlen(r->prefix) > strlen(best->prefix)))
            best = r;
    }
    if (best) {
        out->latency_ms = best->latency_ms;
        /* one draw partitioned into drop | error | throttle | error after |
         * drop after | pass keeps each share exactly its rate */
        const double shares[] = {best->drop_rate, best->error_rate, best->throttle_rate,
                                 best->error_after_rate, best->drop_after_rate};
        const enum lc_fault_kind kinds[] = {LC_FAULT_DROP, LC_FAULT_ERROR, LC_FAULT_THROTTLE,
                                            LC_FAULT_ERROR_AFTER, LC_FAULT_DROP_AFTER};
        double any = 0;
        for (size_t i = 0; i < 5; i++)
            any += shares[i];
        if (any > 0) {
            double u = (double)(splitmix64(&f->state) >> 11) * 0x1.0p-53, edge = 0;
            for (size_t i = 0; i < 5 && out->kind == LC_FAULT_NONE; i++) {
                edge += shares[i];
                if (u < edge)
                    out->kind = kinds[i];
            }
            out->status = best->error_status;
            out->retry_after = best->retry_after;
        }
    }
    pthread_mutex_unlock(&f->mu);
}

char *lc_faults_failure(struct lc_faults *f, const char *kind, const char *name, const char *on)
{
    char *reason = NULL;
    pthread_mutex_lock(&f->mu);
    size_t i;
    json_t *x;
    json_array_foreach(f->failures, i, x)
    {
        const char *exact = json_string_value(json_object_get(x, "name"));
        const char *prefix = json_string_value(json_object_get(x, "name_prefix"));
        if (strcmp(json_string_value(json_object_get(x, "kind")), kind) == 0 &&
            strcmp(json_string_value(json_object_get(x, "on")), on) == 0 &&
            (exact ? strcmp(exact, name) == 0 : strncmp(name, prefix, strlen(prefix)) == 0)) {
            reason = sf_xstrdup(json_string_value(json_object_get(x, "reason")));
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return reason;
}

static json_t *describe(struct lc_faults *f)
{
    json_t *rules = json_array();
    for (size_t i = 0; i < f->n; i++) {
        const struct rule *r = &f->rules[i];
        json_array_append_new(
            rules, json_pack("{s:s, s:I, s:f, s:i, s:f, s:I, s:f, s:f, s:f}", "prefix", r->prefix,
                             "latency_ms", (json_int_t)r->latency_ms, "error_rate", r->error_rate,
                             "error_status", r->error_status, "throttle_rate", r->throttle_rate,
                             "retry_after", (json_int_t)r->retry_after, "drop_rate", r->drop_rate,
                             "error_after_rate", r->error_after_rate, "drop_after_rate",
                             r->drop_after_rate));
    }
    return json_pack("{s:o, s:O, s:I}", "rules", rules, "failures", f->failures, "seed",
                     (json_int_t)f->seed);
}

static void get_faults(struct lc_request *req, struct lc_response *resp)
{
    struct lc_faults *f = lc_server_faults(req->srv);
    pthread_mutex_lock(&f->mu);
    json_t *d = describe(f);
    pthread_mutex_unlock(&f->mu);
    lc_resp_json(resp, 200, d);
}

static double rate(struct lc_check *c, json_t *o, const char *field, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    double d = json_is_number(v) ? json_number_value(v) : -1;
    if (!json_is_number(v) || d < 0 || d > 1 || isnan(d))
        lc_check_fail(c, field, "%s.%s: expected a number between 0 and 1", field, key);
    return d;
}

/* One member of "failures", checked and normalised (new reference); NULL
 * after failing c. */
static json_t *read_failure(struct lc_check *c, json_t *o, const char *field)
{
    static const char *const keys[] = {"kind", "name", "name_prefix", "on", "reason", NULL};
    if (!json_is_object(o)) {
        lc_check_fail(c, field, "%s: expected an object", field);
        return NULL;
    }
    lc_check_known(c, o, field, keys, "unknown member; expected kind, name or name_prefix, on "
                   "and reason");
    const char *kind = lc_get_string(c, o, field, "kind", LC_REQUIRED);
    const char *name = lc_get_string(c, o, field, "name", 0);
    const char *prefix = lc_get_string(c, o, field, "name_prefix", 0);
    const char *on = lc_get_string(c, o, field, "on", 0);
    const char *reason = lc_get_string(c, o, field, "reason", 0);
    if (c->failed)
        return NULL;
    if (strcmp(kind, "server") != 0 && strcmp(kind, "cluster") != 0 &&
        strcmp(kind, "nodegroup") != 0)
        lc_check_fail(c, field, "%s.kind: expected server, cluster or nodegroup", field);
    else if (!name == !prefix)
        lc_check_fail(c, field, "%s: give exactly one of name and name_prefix", field);
    else if (on && strcmp(on, "create") != 0 && strcmp(on, "update") != 0)
        lc_check_fail(c, field, "%s.on: expected create or update", field);
    if (c->failed)
        return NULL;
    json_t *x = json_pack("{s:s, s:s, s:s}", "kind", kind, "on", on ? on : "create", "reason",
                          reason ? reason : "localcloud: injected failure");
    json_object_set_new(x, name ? "name" : "name_prefix", json_string(name ? name : prefix));
    return x;
}

static void post_faults(struct lc_request *req, struct lc_response *resp)
{
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    static const char *const keys[] = {"rules", "failures", "seed", NULL};
    lc_check_known(&c, body, NULL, keys, "unknown member; expected rules, failures and seed");
    json_t *rules = lc_get_array(&c, body, NULL, "rules", 0);
    json_t *fails = lc_get_array(&c, body, NULL, "failures", 0);
    if (!c.failed && !rules && !fails)
        lc_check_fail(&c, "rules", "rules: a value is required (or failures)");
    long long seed = lc_get_int(&c, body, NULL, "seed", (long long)time(NULL), 0, INT64_MAX);
    size_t n = json_array_size(rules);
    struct rule *rs = sf_xcalloc(n ? n : 1, sizeof(*rs));
    for (size_t i = 0; i < n && !c.failed; i++) {
        char field[32];
        snprintf(field, sizeof(field), "rules[%zu]", i);
        json_t *o = json_array_get(rules, i);
        if (!json_is_object(o)) {
            lc_check_fail(&c, field, "%s: expected an object", field);
            break;
        }
        const char *prefix = lc_get_string(&c, o, field, "prefix", LC_REQUIRED);
        if (prefix && prefix[0] != '/')
            lc_check_fail(&c, field, "%s.prefix: expected a path starting with /", field);
        rs[i].prefix = sf_xstrdup(prefix ? prefix : "/");
        rs[i].latency_ms = (long)lc_get_int(&c, o, field, "latency_ms", 0, 0, 60000);
        rs[i].error_rate = rate(&c, o, field, "error_rate");
        rs[i].throttle_rate = rate(&c, o, field, "throttle_rate");
        rs[i].drop_rate = rate(&c, o, field, "drop_rate");
        rs[i].error_after_rate = rate(&c, o, field, "error_after_rate");
        rs[i].drop_after_rate = rate(&c, o, field, "drop_after_rate");
        rs[i].error_status = (int)lc_get_int(&c, o, field, "error_status", 503, 500, 599);
        rs[i].retry_after = (long)lc_get_int(&c, o, field, "retry_after", 1, 0, 3600);
        if (!c.failed && rs[i].error_rate + rs[i].throttle_rate + rs[i].drop_rate +
                                 rs[i].error_after_rate + rs[i].drop_after_rate > 1.0 + 1e-9)
            lc_check_fail(&c, field, "%s: error_rate + throttle_rate + drop_rate + "
                          "error_after_rate + drop_after_rate must not exceed 1", field);
    }
    json_t *failures = json_array();
    for (size_t i = 0; i < json_array_size(fails) && !c.failed; i++) {
        char field[32];
        snprintf(field, sizeof(field), "failures[%zu]", i);
        json_t *x = read_failure(&c, json_array_get(fails, i), field);
        if (x)
            json_array_append_new(failures, x);
    }
    json_decref(body);
    if (c.failed) {
        json_decref(failures);
        for (size_t i = 0; i < n; i++)
            free(rs[i].prefix);
        free(rs);
        return;
    }
    struct lc_faults *f = lc_server_faults(req->srv);
    pthread_mutex_lock(&f->mu);
    clear_rules(f);
    f->rules = rs;
    f->n = n;
    json_decref(f->failures);
    f->failures = failures;
    f->seed = f->state = (uint64_t)seed;
    json_t *d = describe(f);
    pthread_mutex_unlock(&f->mu);
    lc_resp_json(resp, 200, d);
}

static void delete_faults(struct lc_request *req, struct lc_response *resp)
{
    struct lc_faults *f = lc_server_faults(req->srv);
    pthread_mutex_lock(&f->mu);
    clear_rules(f);
    pthread_mutex_unlock(&f->mu);
    lc_resp_empty(resp, 204);
}

static const struct lc_route routes[] = {
    {"GET", "", get_faults, 0},
    {"POST", "", post_faults, 0},
    {"DELETE", "", delete_faults, 0},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api api = {
    .name = "faults",
    .prefix = "/_localcloud/faults",
    .routes = routes,
    .error = lc_error_generic,
};

int lc_faults_register(struct lc_server *srv)
{
    return lc_server_add_api(srv, &api, NULL);
}

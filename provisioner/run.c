/*
 * The engine (see run.h): open -> refresh -> plan -> apply.
 *
 * Values flow through one table, r->values (address -> attribute object),
 * that expressions look into: during planning it holds each resource's
 * planned attributes (unknowns included), during apply the attributes as
 * they really are once each step is done. Apply walks the plan's action
 * graph (actions.h) in parallel; every step is journaled in the state
 * before the walk goes on. The state is reached only through state.h's
 * typed calls.
 */
#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions.h"
#include "schedule.h"
#include "sessions.h"
#include "ui.h"
#include "util.h"
#include "walk.h"

struct sf_run {
    struct sf_run_opts o;
    struct sf_config *cfg;
    struct sf_state *st;
    struct sf_state_place place; /* where st is */
    struct sf_graph *g; /* resource graph */
    pthread_mutex_t mu; /* guards values and sens during apply */
    json_t *values;     /* address -> attribute object (or the unknown sentinel) */
    json_t *sens;       /* address -> array of sensitive attribute names */
    struct sf_sessions *sessions; /* the providers this run configured */
    struct sf_schedule *sched;    /* the description's schedules:, or NULL */
};

/* ---- opening ---------------------------------------------------------- */

struct cycle_ctx {
    const struct sf_graph *g;
    struct sf_diags *d;
};

static void report_cycle(void *ctx, const int *members, size_t n)
{
    struct cycle_ctx *cc = ctx;
    struct sf_buf chain = {0}, detail = {0};
    for (size_t i = 0; i < n; i++) {
        const struct sf_resource_cfg *rc = sf_graph_data(cc->g, members[i]);
        sf_buf_printf(&chain, "%s -> ", rc->address);
        sf_buf_printf(&detail, "%s%s at %s:%d", i ? "\n" : "", rc->address, rc->pos.file,
                      rc->pos.line);
    }
    const struct sf_resource_cfg *first = sf_graph_data(cc->g, members[0]);
    sf_buf_puts(&chain, first->address);
    sf_error(cc->d, &first->pos, "dependency cycle between %zu resource%s: %s", n,
             n == 1 ? "" : "s", chain.s);
    sf_diag_detail(cc->d, "%s", detail.s);
    sf_buf_free(&chain);
    sf_buf_free(&detail);
}

/* Every resource unknown while the graph is built: an order hook sees
 * only what the description itself says. */
static json_t *unknown_lookup(void *ctx, const struct sf_ref *ref, bool *sensitive,
                              struct sf_diags *d)
{
    (void)ctx;
    (void)ref;
    (void)sensitive;
    (void)d;
    return json_incref(sf_unknown());
}

/* The order keys of one resource (provides and needs, new arrays), or
 * false when its type has no hook or its values cannot be evaluated here
 * (their errors belong to validate and plan, which report them). */
static bool order_keys(const struct sf_config *cfg, const struct sf_resource_cfg *rc,
                       json_t **provides, json_t **needs)
{
    *provides = *needs = NULL;
    if (!rc->rt || !rc->rt->order)
        return false;
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct sf_scope sc = {unknown_lookup, NULL, cfg->dir};
    json_t *desired = sf_config_eval_resource(cfg, rc, &sc, NULL, &quiet);
    bool ok = false;
    if (desired) {
        struct sf_call c = {
            .address = rc->address,
            .type = rc->type,
            .name = rc->name,
            .stack = cfg->name,
            .config_dir = cfg->dir,
            .diags = &quiet,
        };
        *provides = json_array();
        *needs = json_array();
        ok = rc->rt->order(&c, desired, *provides, *needs) == 0;
        if (!ok) {
            json_decref(*provides);
            json_decref(*needs);
            *provides = *needs = NULL;
        }
    }
    json_decref(desired);
    sf_diags_free(&quiet);
    return ok;
}

/* The edges the types' order hooks ask for: each resource needing a key
 * waits for every other resource providing it. Runs once the explicit
 * edges are known to be acyclic, so a cycle closed here is named by the
 * pair whose key closes it. 0, or -1 after errors. */
static int add_order_edges(const struct sf_config *cfg, struct sf_graph *g, struct sf_diags *d)
{
    size_t n = cfg->n_resources;
    json_t **needs = sf_xcalloc(n ? n : 1, sizeof(*needs));
    json_t *providers = json_object(); /* key -> array of node ids */
    for (size_t i = 0; i < n; i++) {
        json_t *prov;
        if (!order_keys(cfg, &cfg->resources[i], &prov, &needs[i]))
            continue;
        for (size_t j = 0; j < json_array_size(prov); j++) {
            const char *key = json_string_value(json_array_get(prov, j));
            if (!key)
                continue;
            json_t *ids = json_object_get(providers, key);
            if (!ids) {
                ids = json_array();
                json_object_set_new(providers, key, ids);
            }
            json_array_append_new(ids, json_integer((json_int_t)i));
        }
        json_decref(prov);
    }
    int rc = 0;
    char *mark = sf_xcalloc(n ? n : 1, 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        for (size_t j = 0; j < json_array_size(needs[i]) && rc == 0; j++) {
            const char *key = json_string_value(json_array_get(needs[i], j));
            const json_t *ids = key ? json_object_get(providers, key) : NULL;
            for (size_t k = 0; k < json_array_size(ids); k++) {
                int from = (int)json_integer_value(json_array_get(ids, k));
                if (from == (int)i)
                    continue;
                /* A path from the needer to its provider already: the new
                 * edge would close a cycle. */
                int start = (int)i;
                memset(mark, 0, n);
                sf_graph_reach(g, &start, 1, 1, mark);
                if (mark[from]) {
                    const struct sf_resource_cfg *a = &cfg->resources[i];
                    const struct sf_resource_cfg *b = &cfg->resources[from];
                    sf_error(d, &a->pos,
                             "dependency cycle: %s needs %s, which %s provides, but %s "
                             "already comes after %s (through references or depends_on)",
                             a->address, key, b->address, b->address, a->address);
                    sf_diag_detail(d, "%s at %s:%d\n%s at %s:%d", a->address, a->pos.file,
                                   a->pos.line, b->address, b->pos.file, b->pos.line);
                    rc = -1;
                    break;
                }
                sf_graph_add_edge(g, from, (int)i);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        json_decref(needs[i]);
    free(needs);
    free(mark);
    json_decref(providers);
    return rc;
}

struct sf_graph *sf_run_resource_graph(const struct sf_config *cfg, struct sf_diags *d)
{
    struct sf_graph *g = sf_graph_new();
    for (size_t i = 0; i < cfg->n_resources; i++)
        sf_graph_add_node(g, cfg->resources[i].address, &cfg->resources[i]);
    for (size_t i = 0; i < cfg->n_resources; i++) {
        const struct sf_resource_cfg *rc = &cfg->resources[i];
        for (size_t j = 0; j < rc->n_refs; j++) {
            if (rc->refs[j].kind != SF_REF_RESOURCE)
                continue;
            int from = sf_graph_find(g, rc->refs[j].name);
            if (from >= 0)
                sf_graph_add_edge(g, from, (int)i);
        }
        for (size_t j = 0; j < rc->n_depends_on; j++) {
            int from = sf_graph_find(g, rc->depends_on[j].address);
            if (from >= 0)
                sf_graph_add_edge(g, from, (int)i);
        }
    }
    struct cycle_ctx cc = {g, d};
    if (sf_graph_cycles(g, report_cycle, &cc) > 0 || add_order_edges(cfg, g, d) < 0) {
        sf_graph_free(g);
        return NULL;
    }
    return g;
}

/* The addresses a configured resource depends on, as a new JSON array. */
static json_t *config_deps(const struct sf_resource_cfg *rc)
{
    json_t *seen = json_object();
    json_t *deps = json_array();
    for (size_t j = 0; j < rc->n_refs; j++)
        if (rc->refs[j].kind == SF_REF_RESOURCE && !json_object_get(seen, rc->refs[j].name)) {
            json_object_set_new(seen, rc->refs[j].name, json_true());
            json_array_append_new(deps, json_string(rc->refs[j].name));
        }
    for (size_t j = 0; j < rc->n_depends_on; j++)
        if (!json_object_get(seen, rc->depends_on[j].address)) {
            json_object_set_new(seen, rc->depends_on[j].address, json_true());
            json_array_append_new(deps, json_string(rc->depends_on[j].address));
        }
    json_decref(seen);
    return deps;
}

/* What a resource depends on in the run's graph: its references and
 * depends_on, then the edges the types' order hooks added, so that the
 * state keeps them for a later destroy. New array. */
static json_t *graph_deps(const struct sf_graph *g, const struct sf_resource_cfg *rc)
{
    json_t *deps = config_deps(rc);
    int id = sf_graph_find(g, rc->address);
    const int *preds;
    size_t np = id >= 0 ? sf_graph_preds(g, id, &preds) : 0;
    for (size_t i = 0; i < np; i++) {
        const char *name = sf_graph_name(g, preds[i]);
        bool have = false;
        for (size_t j = 0; j < json_array_size(deps) && !have; j++)
            have = strcmp(json_string_value(json_array_get(deps, j)), name) == 0;
        if (!have)
            json_array_append_new(deps, json_string(name));
    }
    return deps;
}

int sf_state_place(const struct sf_config *cfg, const char *state_path, bool state_given,
                   struct sf_state_place *p, struct sf_diags *d)
{
    memset(p, 0, sizeof(*p));
    p->w.path = state_path;
    if (!cfg)
        return 0;
    if (sf_config_state_encryption(cfg, &p->encryption, d) < 0)
        return -1;
    if (p->encryption) {
        const json_t *e = p->encryption;
        p->crypt = (struct sf_crypt_cfg){
            .key = json_string_value(json_object_get(e, "key")),
            .key_from = json_string_value(json_object_get(e, "key_from")),
            .old_key = json_string_value(json_object_get(e, "old_key")),
            .old_key_from = json_string_value(json_object_get(e, "old_key_from")),
            .kdf = json_string_value(json_object_get(e, "kdf")),
        };
        p->w.crypt = &p->crypt;
    }
    if (!cfg->state.s3)
        return 0;
    if (state_given) {
        /* Working on a local copy of a remote state (a download, a
         * migration) is a deliberate act: say what is bypassed. */
        sf_warn(d, &cfg->state.pos,
                "-state %s overrides the description's state: block (backend s3): this run "
                "reads and writes the local file, not the bucket",
                state_path);
        return 0;
    }
    p->settings = sf_config_state_settings(cfg, d);
    if (!p->settings)
        return -1;
    p->journal_dir = sf_asprintf("%s/.sparkform", cfg->dir);
    const json_t *v = p->settings;
    p->s3 = (struct sf_state_s3){
        .endpoint = json_string_value(json_object_get(v, "endpoint")),
        .bucket = json_string_value(json_object_get(v, "bucket")),
        .key = json_string_value(json_object_get(v, "key")),
        .region = json_string_value(json_object_get(v, "region")),
        .access_key = json_string_value(json_object_get(v, "access_key")),
        .secret_key = json_string_value(json_object_get(v, "secret_key")),
        .journal_dir = p->journal_dir,
    };
    p->w.s3 = &p->s3;
    return 0;
}

void sf_state_place_free(struct sf_state_place *p)
{
    json_decref(p->settings);
    json_decref(p->encryption);
    free(p->journal_dir);
    memset(p, 0, sizeof(*p));
}

static int open_state(struct sf_run *r, struct sf_diags *d)
{
    if (sf_state_place(r->cfg, r->o.state_path, r->o.state_given, &r->place, d) < 0)
        return -1;
    if (!r->o.lock)
        return sf_state_load_at(&r->place.w, &r->st, d);
    return sf_state_open_locked_at(&r->place.w, r->o.operation ? r->o.operation : "run",
                                   r->o.lock_timeout_ms, &r->st, d);
}

static struct sf_run *run_new(const struct sf_run_opts *o)
{
    struct sf_run *r = sf_xcalloc(1, sizeof(*r));
    r->o = *o;
    if (r->o.parallelism < 1)
        r->o.parallelism = 10;
    pthread_mutex_init(&r->mu, NULL);
    r->values = json_object();
    r->sens = json_object();
    return r;
}

int sf_run_open(const struct sf_run_opts *o, struct sf_run **out, struct sf_diags *d)
{
    struct sf_run *r = run_new(o);
    *out = r;
    if (sf_config_load(o->config_path, &r->cfg, d) < 0)
        return -1;
    if (sf_config_bind_vars(r->cfg, o->vars, o->n_vars, o->var_files, o->n_var_files, d) < 0)
        return -1;
    r->g = sf_run_resource_graph(r->cfg, d);
    if (!r->g || sf_schedule_load(r->cfg, &r->sched, d) < 0)
        return -1;
    r->sessions = sf_sessions_new(r->cfg, r->cfg->dir);
    return open_state(r, d);
}

int sf_run_open_plan(const struct sf_run_opts *o, const struct sf_plan *plan, struct sf_run **out,
                     struct sf_diags *d)
{
    struct sf_run *r = run_new(o);
    *out = r;
    if (sf_config_load_text(plan->config_path, plan->config_source, &r->cfg, d) < 0)
        return -1;
    for (size_t i = 0; i < r->cfg->n_vars; i++) {
        json_t *v = json_object_get(plan->variables, r->cfg->vars[i].name);
        if (!v) {
            sf_error(d, &r->cfg->vars[i].pos, "the saved plan has no value for variable \"%s\"",
                     r->cfg->vars[i].name);
            return -1;
        }
        json_decref(r->cfg->vars[i].value);
        r->cfg->vars[i].value = json_incref(v);
    }
    if (sf_config_expand(r->cfg, d) < 0)
        return -1;
    r->g = sf_run_resource_graph(r->cfg, d);
    if (!r->g || sf_schedule_load(r->cfg, &r->sched, d) < 0)
        return -1;
    r->sessions = sf_sessions_new(r->cfg, r->cfg->dir);
    if (open_state(r, d) < 0)
        return -1;
    /* A stack never applied has no lineage on disk yet: the plan's is it. */
    if (plan->serial == 0)
        sf_state_take_lineage(r->st, plan->lineage);
    if (strcmp(plan->lineage, sf_state_lineage(r->st)) != 0) {
        sf_error(d, NULL, "the saved plan was made for another state (lineage %s, this state is %s)",
                 plan->lineage, sf_state_lineage(r->st));
        return -1;
    }
    if (plan->serial != sf_state_serial(r->st)) {
        sf_error(d, NULL,
                 "the saved plan is stale: the state changed since it was made (serial %lld, now "
                 "%lld); make a new plan",
                 plan->serial, sf_state_serial(r->st));
        return -1;
    }
    return 0;
}

void sf_run_close(struct sf_run *r)
{
    if (!r)
        return;
    sf_state_free(r->st); /* releases the lock */
    sf_state_place_free(&r->place);
    if (r->g)
        sf_graph_free(r->g);
    if (r->sessions) {
        long requests, retries;
        sf_sessions_stats(r->sessions, &requests, &retries);
        if (retries > 0)
            fprintf(stderr, "%ld of %ld API requests were retried after transient failures.\n",
                    retries, requests);
        sf_sessions_free(r->sessions);
    }
    sf_schedule_free(r->sched);
    if (r->cfg)
        sf_config_free(r->cfg);
    json_decref(r->values);
    json_decref(r->sens);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

struct sf_config *sf_run_config(struct sf_run *r)
{
    return r->cfg;
}

struct sf_state *sf_run_state(struct sf_run *r)
{
    return r->st;
}

const struct sf_schedule *sf_run_schedule(struct sf_run *r)
{
    return r->sched;
}

void sf_run_set_destroy(struct sf_run *r, bool destroy)
{
    r->o.destroy = destroy;
}

/* ---- power a schedule owns -------------------------------------------- */

/* The attribute saying whether objects of rt run (SF_POWER), or NULL. */
static const struct sf_attr *power_attr(const struct sf_resource_type *rt)
{
    for (const struct sf_attr *a = rt ? rt->attrs : NULL; a && a->name; a++)
        if ((a->flags & SF_POWER) && rt->power_on && rt->power_off)
            return a;
    return NULL;
}

/* The power attribute of the resource at address when the schedule owns
 * it, else NULL: then the schedule, not the description, decides it. */
static const struct sf_attr *owned_power(const struct sf_run *r, const char *address,
                                         const char *type)
{
    if (!sf_schedule_owns(r->sched, address))
        return NULL;
    return power_attr(sf_provider_find_type(type));
}

/* Whether attrs (a recorded object of type) is turned off. */
static bool is_off(const char *type, const json_t *attrs)
{
    const struct sf_resource_type *rt = sf_provider_find_type(type);
    const struct sf_attr *a = power_attr(rt);
    const char *v = a ? json_string_value(json_object_get(attrs, a->name)) : NULL;
    return v && strcmp(v, rt->power_off) == 0;
}

/* ---- expressions ------------------------------------------------------ */

static bool in_array(const json_t *arr, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
        return true;
    return false;
}

/* Resource references answered from r->values. A resource with no value
 * (not created yet, or left out by -target) is unknown. */
static json_t *lookup(void *ctx, const struct sf_ref *ref, bool *sensitive, struct sf_diags *d)
{
    struct sf_run *r = ctx;
    if (ref->kind != SF_REF_RESOURCE) {
        sf_error(d, &ref->pos, "cannot resolve reference to %s", ref->name);
        return NULL;
    }
    pthread_mutex_lock(&r->mu);
    json_t *obj = json_object_get(r->values, ref->name);
    json_t *v;
    if (!obj || sf_is_unknown(obj))
        v = json_incref(sf_unknown());
    else {
        v = ref->attr ? json_object_get(obj, ref->attr) : obj;
        v = v ? sf_value_copy(v) : json_null();
    }
    json_t *sens = json_object_get(r->sens, ref->name);
    const struct sf_resource_cfg *rc = sf_config_find(r->cfg, ref->name);
    if (!ref->attr) {
        /* The whole object (TYPE.NAME) carries no secrets: they are
         * reached only by naming them. */
        size_t i;
        json_t *e;
        json_array_foreach(sens, i, e) if (json_is_object(v)) json_object_del(v, json_string_value(e));
        for (const struct sf_attr *a = rc && rc->rt ? rc->rt->attrs : NULL; a && a->name; a++)
            if ((a->flags & SF_SENSITIVE) && json_is_object(v))
                json_object_del(v, a->name);
        pthread_mutex_unlock(&r->mu);
        return v;
    }
    if (sens && in_array(sens, ref->attr))
        *sensitive = true;
    pthread_mutex_unlock(&r->mu);
    const struct sf_attr *sa = rc ? sf_schema_attr(rc->rt, ref->attr) : NULL;
    if (sa && (sa->flags & SF_SENSITIVE))
        *sensitive = true;
    return v;
}

static void set_value(struct sf_run *r, const char *address, const json_t *attrs,
                      const json_t *sensitive)
{
    pthread_mutex_lock(&r->mu);
    json_object_set_new(r->values, address, attrs ? sf_value_copy(attrs) : json_null());
    if (sensitive)
        json_object_set_new(r->sens, address, json_copy((json_t *)sensitive));
    pthread_mutex_unlock(&r->mu);
}

static json_t *eval_resource(struct sf_run *r, const struct sf_resource_cfg *rc, json_t **sens,
                             struct sf_diags *d)
{
    struct sf_scope sc = {lookup, r, r->cfg->dir};
    return sf_config_eval_resource(r->cfg, rc, &sc, sens, d);
}

int sf_run_validate(const struct sf_run_opts *o, struct sf_diags *d)
{
    struct sf_run *r = run_new(o);
    int rc = -1;
    if (sf_config_load(o->config_path, &r->cfg, d) < 0 ||
        sf_config_bind_vars(r->cfg, o->vars, o->n_vars, o->var_files, o->n_var_files, d) < 0)
        goto out;
    r->g = sf_run_resource_graph(r->cfg, d);
    if (!r->g || sf_schedule_load(r->cfg, &r->sched, d) < 0)
        goto out;
    /* Every resource unknown: checks what can be checked before apply. */
    for (size_t i = 0; i < r->cfg->n_resources; i++) {
        json_t *v = eval_resource(r, &r->cfg->resources[i], NULL, d);
        json_decref(v);
    }
    for (size_t i = 0; i < r->cfg->n_outputs; i++) {
        bool s = false;
        struct sf_scope sc = {lookup, r, r->cfg->dir};
        json_decref(sf_config_eval_output(r->cfg, &r->cfg->outputs[i], &sc, &s, d));
    }
    rc = sf_diags_errors(d) ? -1 : 0;
out:
    sf_run_close(r);
    return rc;
}

/* ---- provider calls --------------------------------------------------- */

enum op { OP_READ, OP_CREATE, OP_UPDATE, OP_DELETE };

/* The deadline of an operation: the resource's timeouts:, else the type's,
 * else 20 minutes. */
static double op_deadline(struct sf_run *r, const char *address, const char *type, enum op op)
{
    const struct sf_resource_type *rt = sf_provider_find_type(type);
    const struct sf_resource_cfg *rc = r->cfg ? sf_config_find(r->cfg, address) : NULL;
    const struct sf_timeouts none = {0}, *mine = rc ? &rc->timeouts : &none,
                             *its = rt ? &rt->timeouts : &none;
    int secs = 0;
    switch (op) {
    case OP_READ: secs = mine->read ? mine->read : its->read; break;
    case OP_CREATE: secs = mine->create ? mine->create : its->create; break;
    case OP_UPDATE: secs = mine->update ? mine->update : its->update; break;
    case OP_DELETE: secs = mine->delete ? mine->delete : its->delete; break;
    }
    return sf_now() + (secs > 0 ? secs : 20 * 60);
}

/* Fill c for a call of the provider of type. -1 when the provider could
 * not be configured (its errors are in d). */
static int init_call(struct sf_run *r, struct sf_call *c, const char *address, const char *type,
                     enum op op, struct sf_diags *d)
{
    memset(c, 0, sizeof(*c));
    if (sf_sessions_ctx(r->sessions, type, &c->ctx, d) < 0)
        return -1;
    c->deadline = op_deadline(r, address, type, op);
    c->address = address;
    c->type = type;
    c->name = sf_plan_name_in(address, type);
    c->stack = r->cfg ? r->cfg->name : "";
    c->lineage = sf_state_lineage(r->st);
    c->config_dir = r->cfg ? r->cfg->dir : ".";
    c->diags = d;
    return 0;
}

/* A long operation's call reports what it waits for on its progress line. */
static void call_status(struct sf_call *c, const char *text)
{
    sf_ui_op_status(c->engine, text);
}

static void watch_op(struct sf_call *c, struct sf_ui_op *op)
{
    c->engine = op;
    c->status = call_status;
}

/* ---- refresh ---------------------------------------------------------- */

struct refresh_item {
    const char *address;
    const struct sf_state_entry *entry;
    json_t *result; /* new reference, or NULL when gone */
    bool adopted;
    const char *kept_for; /* not read: reached through this turned-off resource */
};

struct refresh_ctx {
    struct sf_run *r;
    struct refresh_item *items;
    struct sf_diags *d;
    json_t *asleep; /* string value of a turned-off owned resource -> its address */
};

static int refresh_one(void *ctx, int id)
{
    struct refresh_ctx *rc = ctx;
    struct refresh_item *it = &rc->items[id];
    const char *type = sf_state_type(it->entry);
    const struct sf_resource_type *rt = type ? sf_provider_find_type(type) : NULL;
    if (!rt) {
        sf_diag_add(rc->d, SF_SEV_ERROR, NULL, it->address,
                    "the state records resource type \"%s\", which no provider offers",
                    type ? type : "(none)");
        return -1;
    }
    struct sf_call c;
    if (init_call(rc->r, &c, it->address, type, OP_READ, rc->d) < 0)
        return -1;
    const json_t *intent = sf_state_intent_of(it->entry);
    const json_t *attrs = sf_state_attrs(it->entry);
    if (intent && rt->adopt) {
        json_t *found = NULL;
        if (rt->adopt(&c, intent, &found) < 0)
            return -1;
        if (found) {
            it->result = found;
            it->adopted = true;
            return 0;
        }
    }
    if (!attrs)
        return 0;
    if (!rc->r->o.refresh) {
        it->result = json_incref((json_t *)attrs);
        return 0;
    }
    /* An object reached through a host the schedule turned off (objects
     * inside a SHUTOFF cluster) cannot be read; it is kept as recorded. */
    const char *via = rt->connection ? json_string_value(json_object_get(attrs, rt->connection)) : NULL;
    const json_t *host = via && *via ? json_object_get(rc->asleep, via) : NULL;
    if (host) {
        it->kept_for = json_string_value(host);
        it->result = json_incref((json_t *)attrs);
        return 0;
    }
    json_t *out = NULL;
    if (rt->read(&c, attrs, &out) < 0)
        return -1;
    it->result = out;
    return 0;
}

/* Read every object the state records (adopting those a killed run left
 * behind) into refreshed: address -> attributes or null. */
static int refresh(struct sf_run *r, json_t *refreshed, json_t *adopted, struct sf_diags *d)
{
    size_t n;
    const char **addrs = sf_state_addresses(r->st, &n);
    struct refresh_item *items = sf_xcalloc(n ? n : 1, sizeof(*items));
    struct sf_graph *g = sf_graph_new();
    size_t i;
    for (i = 0; i < n; i++) {
        items[i].address = addrs[i];
        items[i].entry = sf_state_get(r->st, addrs[i]);
        sf_graph_add_node(g, addrs[i], &items[i]);
    }
    struct refresh_ctx ctx = {r, items, d, json_object()};
    for (i = 0; i < n; i++) {
        const json_t *attrs = sf_state_attrs(items[i].entry);
        const char *type = sf_state_type(items[i].entry);
        if (!attrs || !type || !owned_power(r, items[i].address, type) || !is_off(type, attrs))
            continue;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)attrs, k, v) if (json_is_string(v) && json_string_length(v) > 0)
            json_object_set_new(ctx.asleep, json_string_value(v), json_string(items[i].address));
    }
    struct sf_walk_opts wo = {.parallelism = r->o.parallelism, .visit = refresh_one, .ctx = &ctx,
                              .stop = r->o.stop};
    int rc = sf_walk(g, &wo, NULL);
    json_t *kept = json_object(); /* host address -> how many objects were kept */
    for (i = 0; i < n; i++) {
        json_object_set_new(refreshed, items[i].address,
                            items[i].result ? items[i].result : json_null());
        if (items[i].adopted)
            json_object_set_new(adopted, items[i].address, json_true());
        if (items[i].kept_for) {
            json_int_t c = json_integer_value(json_object_get(kept, items[i].kept_for));
            json_object_set_new(kept, items[i].kept_for, json_integer(c + 1));
        }
    }
    const char *host;
    json_t *count;
    json_object_foreach(kept, host, count)
    {
        json_int_t c = json_integer_value(count);
        sf_warn(d, NULL,
                "%lld object%s inside %s %s not refreshed: %s is turned off by the schedule, so "
                "the plan takes %s as recorded",
                (long long)c, c == 1 ? "" : "s", host, c == 1 ? "was" : "were", host,
                c == 1 ? "it" : "them");
    }
    json_decref(kept);
    json_decref(ctx.asleep);
    free(items);
    free(addrs);
    sf_graph_free(g);
    return rc;
}

/* ---- planning --------------------------------------------------------- */

static void fill_names(struct sf_change *c, const char *address, const char *type)
{
    c->address = sf_xstrdup(address);
    c->type = sf_xstrdup(type);
    c->name = sf_plan_address_name(address, type);
}

static bool listed(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* The set of addresses a -target selection touches: the targets and what
 * they depend on (plan), or what depends on them (destroy). NULL = all. */
static char *target_mask(struct sf_run *r, struct sf_diags *d)
{
    if (r->o.n_targets == 0)
        return NULL;
    size_t n = sf_graph_size(r->g);
    char *mark = sf_xcalloc(n ? n : 1, 1);
    int *starts = sf_xcalloc(r->o.n_targets, sizeof(int));
    size_t ns = 0;
    for (size_t i = 0; i < r->o.n_targets; i++) {
        int id = sf_graph_find(r->g, r->o.targets[i]);
        if (id >= 0)
            starts[ns++] = id;
        else if (!sf_state_get(r->st, r->o.targets[i]))
            sf_error(d, NULL, "-target %s matches no resource in the description or the state",
                     r->o.targets[i]);
    }
    sf_graph_reach(r->g, starts, ns, r->o.destroy ? 1 : 0, mark);
    free(starts);
    return mark;
}

static bool targeted(struct sf_run *r, const char *mask, const char *address)
{
    if (r->o.n_targets == 0)
        return true;
    if (listed(r->o.targets, r->o.n_targets, address))
        return true;
    int id = sf_graph_find(r->g, address);
    return id >= 0 && mask[id];
}

static void add_drift(struct sf_run *r, struct sf_plan *p, const json_t *refreshed,
                      const json_t *adopted)
{
    size_t n;
    const char **addrs = sf_state_addresses(r->st, &n);
    for (size_t i = 0; i < n; i++) {
        const char *addr = addrs[i];
        const struct sf_state_entry *entry = sf_state_get(r->st, addr);
        const json_t *recorded = sf_state_attrs(entry);
        json_t *now = json_object_get(refreshed, addr);
        if (!recorded || json_object_get(adopted, addr))
            continue;
        if (now && !json_is_null(now) && sf_value_equal(recorded, now))
            continue;
        /* Power the schedule owns is the schedule's business, whoever
         * turned the object on or off. */
        const struct sf_attr *pa = owned_power(r, addr, sf_state_type(entry));
        if (pa && now && !json_is_null(now)) {
            json_t *a = sf_value_copy(recorded), *b = sf_value_copy(now);
            json_object_del(a, pa->name);
            json_object_del(b, pa->name);
            bool same = sf_value_equal(a, b);
            json_decref(a);
            json_decref(b);
            if (same)
                continue;
        }
        struct sf_drift *dr = sf_plan_add_drift(p);
        dr->address = sf_xstrdup(addr);
        dr->type = sf_xstrdup(sf_state_type(entry));
        dr->before = sf_value_copy(recorded);
        dr->after = now && !json_is_null(now) ? sf_value_copy(now) : NULL;
        const json_t *s = sf_state_sensitive(entry);
        dr->sensitive = s ? json_copy((json_t *)s) : json_array();
    }
    free(addrs);
}

static void plan_outputs(struct sf_run *r, struct sf_plan *p, struct sf_diags *d)
{
    json_t *seen = json_object();
    if (!p->destroy) {
        struct sf_scope sc = {lookup, r, r->cfg->dir};
        for (size_t i = 0; i < r->cfg->n_outputs; i++) {
            const struct sf_output_cfg *o = &r->cfg->outputs[i];
            bool s = false;
            json_t *v = sf_config_eval_output(r->cfg, o, &sc, &s, d);
            if (!v)
                continue;
            json_object_set_new(seen, o->name, json_true());
            json_t *old = json_object_get(sf_state_outputs(r->st), o->name);
            json_t *before = old ? json_object_get(old, "value") : NULL;
            struct sf_output_change *oc = sf_plan_add_output(p);
            oc->name = sf_xstrdup(o->name);
            oc->sensitive = s || (old && json_is_true(json_object_get(old, "sensitive")));
            oc->before = before ? sf_value_copy(before) : NULL;
            oc->after = v;
            oc->action = !old ? SF_ACT_CREATE
                         : sf_value_equal(before, v) ? SF_ACT_NOOP
                                                     : SF_ACT_UPDATE;
        }
    }
    const char *name;
    json_t *old;
    json_object_foreach((json_t *)sf_state_outputs(r->st), name, old)
    {
        if (json_object_get(seen, name))
            continue;
        struct sf_output_change *oc = sf_plan_add_output(p);
        oc->name = sf_xstrdup(name);
        oc->action = SF_ACT_DELETE;
        oc->before = sf_value_copy(json_object_get(old, "value"));
        oc->sensitive = json_is_true(json_object_get(old, "sensitive"));
    }
    json_decref(seen);
}

static void plan_delete(struct sf_plan *p, const char *addr, const struct sf_state_entry *entry,
                        const json_t *now, enum sf_reason reason)
{
    struct sf_change *c = sf_plan_add_change(p);
    fill_names(c, addr, sf_state_type(entry));
    c->action = SF_ACT_DELETE;
    c->reason = reason;
    c->before = sf_value_copy(now);
    const json_t *s = sf_state_sensitive(entry);
    c->sensitive = s ? json_copy((json_t *)s) : json_array();
    const json_t *deps = sf_state_deps(entry);
    c->dependencies = deps ? json_copy((json_t *)deps) : json_array();
}

/* The type's renew hook for an object the diff would keep: 1 with *why
 * set when it must be made anew all the same (a certificate near expiry),
 * 0 when not, -1 after errors, which are given the resource's place. */
static int renew_due(struct sf_run *r, const struct sf_resource_cfg *rc, const json_t *prior,
                     const json_t *desired, char **why, struct sf_diags *d)
{
    *why = NULL;
    if (!rc->rt->renew)
        return 0;
    struct sf_diags mine;
    sf_diags_init(&mine);
    struct sf_call call = {
        .address = rc->address,
        .type = rc->type,
        .name = rc->name,
        .stack = r->cfg->name,
        .lineage = sf_state_lineage(r->st),
        .config_dir = r->cfg->dir,
        .diags = &mine,
    };
    int due = rc->rt->renew(&call, prior, desired, why);
    if (due < 0 && mine.n == 0)
        sf_diag_add(&mine, SF_SEV_ERROR, NULL, rc->address,
                    "cannot tell whether %s is due for renewal", rc->address);
    sf_diags_place(&mine, &rc->pos);
    sf_diags_move(d, &mine);
    sf_diags_free(&mine);
    if (due <= 0) {
        free(*why);
        *why = NULL;
    }
    return due < 0 ? -1 : due > 0;
}

/* ---- checks against the provider's catalogs --------------------------- */

struct check_item {
    const struct sf_resource_cfg *rc;
    const json_t *prior;   /* the object an update changes; NULL: a new one */
    const json_t *desired; /* the planned values */
    json_t *secrets;       /* the strings of its secret values */
    struct sf_diags diags; /* what the hook said, placed after the walk */
};

/* The strings inside the planned values that are secret: attributes the
 * schema marks sensitive and those a secret flowed into. New array. */
static json_t *secret_strings(const struct sf_resource_type *rt, const json_t *after,
                              const json_t *sensitive)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(sensitive, i, e) if (json_is_string(e))
        sf_value_strings(json_object_get(after, json_string_value(e)), out);
    for (const struct sf_attr *a = rt->attrs; a && a->name; a++)
        if (a->flags & SF_SENSITIVE)
            sf_value_strings(json_object_get(after, a->name), out);
    return out;
}

/* s with every occurrence of one of secrets replaced; NULL when none
 * occurs. Caller frees. */
static char *without_secrets(const char *s, const json_t *secrets)
{
    char *cur = NULL;
    size_t i;
    json_t *sec;
    json_array_foreach(secrets, i, sec)
    {
        const char *needle = json_string_value(sec);
        const char *from = cur ? cur : s;
        if (!strstr(from, needle))
            continue;
        struct sf_buf b = {0};
        for (const char *p = from, *hit; (hit = strstr(p, needle)); p = hit + strlen(needle)) {
            sf_buf_add(&b, p, (size_t)(hit - p));
            sf_buf_puts(&b, "(sensitive value)");
            from = hit + strlen(needle);
        }
        sf_buf_puts(&b, from);
        free(cur);
        cur = sf_buf_take(&b);
    }
    return cur;
}

/* A check's complaint quotes the value it is about: one that is secret
 * (or shares a description's input with a secret) must not reach the
 * terminal, so it is replaced wherever it shows. */
static void scrub_diags(struct sf_diags *d, const json_t *secrets)
{
    for (size_t i = 0; i < d->n && json_array_size(secrets); i++) {
        char **texts[] = {&d->items[i].summary, &d->items[i].detail};
        for (size_t k = 0; k < 2; k++) {
            char *clean = *texts[k] ? without_secrets(*texts[k], secrets) : NULL;
            if (clean) {
                free(*texts[k]);
                *texts[k] = clean;
            }
        }
    }
}

struct check_ctx {
    struct sf_run *r;
    struct check_item *items;
    struct sf_diags *d; /* the run's: a provider that cannot be configured */
};

static int check_one(void *ctx, int id)
{
    struct check_ctx *cc = ctx;
    struct check_item *it = &cc->items[id];
    struct sf_call call;
    if (init_call(cc->r, &call, it->rc->address, it->rc->type, OP_READ, cc->d) < 0)
        return -1;
    call.diags = &it->diags;
    int rc = it->rc->rt->check(&call, it->prior, it->desired);
    if (rc < 0 && sf_diags_errors(&it->diags) == 0)
        sf_diag_add(&it->diags, SF_SEV_ERROR, NULL, it->rc->address,
                    "the planned values of %s could not be checked", it->rc->address);
    return rc;
}

/* Runs the check hooks of the changes p plans (creates, replacements,
 * updates), in parallel, and reports what they find in plan order, each
 * complaint at the place the description sets the value it is about.
 * 0, or -1 after errors. */
static int check_changes(struct sf_run *r, const struct sf_plan *p, struct sf_diags *d)
{
    struct check_item *items = sf_xcalloc(p->n_changes ? p->n_changes : 1, sizeof(*items));
    struct sf_graph *g = sf_graph_new();
    size_t n = 0;
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct sf_change *c = &p->changes[i];
        const struct sf_resource_cfg *rc = sf_config_find(r->cfg, c->address);
        if (!rc || !rc->rt || !rc->rt->check || c->deposed || !c->after ||
            (c->action != SF_ACT_CREATE && c->action != SF_ACT_REPLACE &&
             c->action != SF_ACT_UPDATE))
            continue;
        items[n] = (struct check_item){
            .rc = rc,
            .prior = c->action == SF_ACT_UPDATE ? c->before : NULL,
            .desired = c->after,
            .secrets = secret_strings(rc->rt, c->after, c->sensitive),
        };
        sf_diags_init(&items[n].diags);
        sf_graph_add_node(g, rc->address, &items[n]);
        n++;
    }
    struct check_ctx cc = {.r = r, .items = items, .d = d};
    struct sf_walk_opts wo = {.parallelism = r->o.parallelism, .visit = check_one, .ctx = &cc,
                              .stop = r->o.stop};
    int rc = n ? sf_walk(g, &wo, NULL) : 0;
    for (size_t i = 0; i < n; i++) {
        scrub_diags(&items[i].diags, items[i].secrets);
        sf_config_place(r->cfg, items[i].rc, &items[i].diags, 0, false);
        sf_diags_move(d, &items[i].diags);
        sf_diags_free(&items[i].diags);
        json_decref(items[i].secrets);
    }
    free(items);
    sf_graph_free(g);
    return rc;
}

int sf_run_plan(struct sf_run *r, struct sf_plan **out, struct sf_diags *d)
{
    struct sf_plan *p = sf_plan_new();
    *out = p;
    p->lineage = sf_xstrdup(sf_state_lineage(r->st));
    p->serial = sf_state_serial(r->st);
    p->destroy = r->o.destroy;
    p->refresh_only = r->o.refresh_only;
    p->config_path = sf_xstrdup(r->cfg->path);
    p->config_source = sf_xstrdup(r->cfg->doc->source);
    p->variables = json_object();
    for (size_t i = 0; i < r->cfg->n_vars; i++)
        json_object_set(p->variables, r->cfg->vars[i].name, r->cfg->vars[i].value);
    if (r->o.n_targets) {
        p->targets = json_array();
        for (size_t i = 0; i < r->o.n_targets; i++)
            json_array_append_new(p->targets, json_string(r->o.targets[i]));
    }
    for (size_t i = 0; i < r->o.n_replace; i++)
        if (!sf_config_find(r->cfg, r->o.replace[i]))
            sf_error(d, NULL, "-replace %s matches no resource in the description", r->o.replace[i]);

    if (r->sched && !r->o.destroy) {
        struct sf_sched_record rec;
        sf_sched_record_read(sf_state_schedule(r->st), &rec);
        p->schedule = sf_schedule_summary(r->sched, &rec, time(NULL));
    }
    json_t *refreshed = json_object();
    json_t *adopted = json_object();
    p->refreshed = refreshed;
    if (refresh(r, refreshed, adopted, d) < 0 || sf_diags_errors(d)) {
        json_decref(adopted);
        return -1;
    }
    if (r->o.refresh)
        add_drift(r, p, refreshed, adopted);
    if (r->o.refresh_only) {
        json_decref(adopted);
        return 0;
    }

    char *mask = target_mask(r, d);
    size_t n = sf_graph_size(r->g);
    int *order = sf_xcalloc(n ? n : 1, sizeof(int));
    sf_graph_topo(r->g, order);
    json_t *in_config = json_object();

    for (size_t k = 0; k < n; k++) {
        const struct sf_resource_cfg *rc = sf_graph_data(r->g, order[k]);
        json_object_set_new(in_config, rc->address, json_true());
        const struct sf_state_entry *entry = sf_state_get(r->st, rc->address);
        const json_t *recorded = entry ? sf_state_attrs(entry) : NULL;
        json_t *prior = json_object_get(refreshed, rc->address);
        if (prior && json_is_null(prior))
            prior = NULL;
        if (!targeted(r, mask, rc->address)) {
            /* Left out by -target: expressions see what exists. */
            set_value(r, rc->address, prior, NULL);
            continue;
        }
        if (r->o.destroy) {
            if (prior) {
                if (rc->lifecycle.prevent_destroy)
                    sf_error(d, &rc->pos,
                             "%s has lifecycle.prevent_destroy set, but destroy would delete it",
                             rc->address);
                plan_delete(p, rc->address, entry, prior, SF_REASON_DESTROY);
            }
            continue;
        }
        json_t *sens = NULL;
        json_t *desired = eval_resource(r, rc, &sens, d);
        if (!desired) {
            json_decref(sens);
            set_value(r, rc->address, sf_unknown(), NULL);
            continue;
        }
        /* The schedule owns the power: the object stays as it is. */
        const struct sf_attr *pa = owned_power(r, rc->address, rc->type);
        if (pa && prior && json_object_get(prior, pa->name))
            json_object_set_new(desired, pa->name, sf_value_copy(json_object_get(prior, pa->name)));
        bool tainted = entry && sf_state_is_tainted(entry);
        bool requested = listed(r->o.replace, r->o.n_replace, rc->address);
        struct sf_change *c = sf_plan_add_change(p);
        fill_names(c, rc->address, rc->type);
        c->sensitive = sens ? sens : json_array();
        sf_diff(rc->rt, recorded, prior, desired, (const char *const *)rc->lifecycle.ignore_changes,
                rc->lifecycle.n_ignore, (tainted || requested) && prior,
                requested ? SF_REASON_REQUESTED : SF_REASON_TAINTED, c);
        /* An object the description would keep may still have to be made
         * anew (a certificate near expiry): the type says so and why. */
        char *why = NULL;
        if (prior && (c->action == SF_ACT_NOOP || c->action == SF_ACT_UPDATE) &&
            renew_due(r, rc, prior, desired, &why, d) > 0) {
            sf_diff(rc->rt, recorded, prior, desired,
                    (const char *const *)rc->lifecycle.ignore_changes, rc->lifecycle.n_ignore,
                    true, SF_REASON_RENEW, c);
            c->reason_detail = why;
        }
        if (pa && prior && c->action == SF_ACT_REPLACE && is_off(rc->type, prior))
            sf_error(d, &rc->pos,
                     "%s is hibernated (%s %s, turned off by the schedule) and the plan would "
                     "replace it; a plan never replaces a hibernated resource: run sparkform wake "
                     "first",
                     rc->address, pa->name, json_string_value(json_object_get(prior, pa->name)));
        c->dependencies = graph_deps(r->g, rc);
        c->create_before_destroy = rc->lifecycle.create_before_destroy;
        if (c->action == SF_ACT_REPLACE && rc->lifecycle.prevent_destroy)
            sf_error(d, &rc->pos,
                     "%s has lifecycle.prevent_destroy set, but the plan would replace it "
                     "(destroying the current object)",
                     rc->address);
        set_value(r, rc->address, c->after, c->sensitive);
        json_decref(desired);
    }

    /* Whatever the state holds that the description no longer has. */
    size_t n_addrs;
    const char **addrs = sf_state_addresses(r->st, &n_addrs);
    for (size_t i = 0; i < n_addrs; i++) {
        const char *addr = addrs[i];
        const struct sf_state_entry *entry = sf_state_get(r->st, addr);
        const json_t *deposed = sf_state_deposed(entry);
        if (deposed &&
            (r->o.n_targets == 0 || listed(r->o.targets, r->o.n_targets, addr))) {
            struct sf_change *c = sf_plan_add_change(p);
            fill_names(c, addr, sf_state_type(entry));
            c->action = SF_ACT_DELETE;
            c->reason = r->o.destroy ? SF_REASON_DESTROY : SF_REASON_NOT_IN_CONFIG;
            c->deposed = (int)json_array_size(deposed);
            c->before = sf_value_copy(json_array_get(deposed, 0));
            const json_t *s = sf_state_sensitive(entry);
            c->sensitive = s ? json_copy((json_t *)s) : json_array();
            c->dependencies = json_array();
        }
        if (json_object_get(in_config, addr))
            continue;
        json_t *now = json_object_get(refreshed, addr);
        if (!now || json_is_null(now))
            continue;
        if (r->o.n_targets && !listed(r->o.targets, r->o.n_targets, addr))
            continue;
        plan_delete(p, addr, entry, now, r->o.destroy ? SF_REASON_DESTROY : SF_REASON_NOT_IN_CONFIG);
    }
    free(addrs);
    if (r->o.n_targets == 0)
        plan_outputs(r, p, d);
    /* What only the providers' live catalogs can tell (a flavor the cloud
     * does not have) refuses the plan before anything is made. */
    check_changes(r, p, d);
    free(order);
    free(mask);
    json_decref(in_config);
    json_decref(adopted);
    return sf_diags_errors(d) ? -1 : 0;
}

/* ---- apply ------------------------------------------------------------ */

struct apply_ctx {
    struct sf_run *r;
    const struct sf_plan *p;
    const struct sf_actions *acts;
    struct sf_diags *d;
    pthread_mutex_t mu;
    int added, changed, destroyed;
};

static const char *id_of(const json_t *attrs, const json_t *sensitive)
{
    json_t *id = json_object_get(attrs, "id");
    if (!json_is_string(id) || (sensitive && in_array(sensitive, "id")))
        return NULL;
    return json_string_value(id);
}

static void print_done(const char *address, const char *what, double secs, const json_t *attrs,
                       const json_t *sensitive)
{
    const char *id = id_of(attrs, sensitive);
    if (id)
        sf_ui_line("%s: %s complete after %.0fs [id=%s]", address, what, secs, id);
    else
        sf_ui_line("%s: %s complete after %.0fs", address, what, secs);
}

/* The values to send to the provider: the plan's, with what was unknown
 * at plan time filled in now. A known planned value that evaluates
 * differently now means the inputs changed after planning: refuse. */
static json_t *final_values(struct sf_run *r, const struct sf_change *c,
                            const struct sf_resource_cfg *rc, struct sf_diags *d)
{
    json_t *desired = eval_resource(r, rc, NULL, d);
    if (!desired)
        return NULL;
    json_t *final = json_object();
    const char *k;
    json_t *v;
    int bad = 0;
    json_object_foreach(c->after, k, v)
    {
        json_t *now = json_object_get(desired, k);
        const struct sf_attr *pa = owned_power(r, c->address, c->type);
        bool ignored = listed((const char *const *)rc->lifecycle.ignore_changes,
                              rc->lifecycle.n_ignore, k) ||
                       (pa && strcmp(pa->name, k) == 0);
        if (!sf_value_has_unknown(v)) {
            if (now && !ignored && !sf_value_equal(now, v)) {
                sf_diag_add(d, SF_SEV_ERROR, &rc->pos, c->address,
                            "%s.%s evaluates differently than when the plan was made; make a "
                            "new plan",
                            c->address, k);
                bad = 1;
            }
            json_object_set(final, k, v);
        } else if (now) {
            if (sf_value_has_unknown(now)) {
                sf_diag_add(d, SF_SEV_ERROR, &rc->pos, c->address,
                            "%s.%s is still unknown although everything it depends on has been "
                            "applied",
                            c->address, k);
                bad = 1;
            }
            json_object_set(final, k, now);
        }
    }
    json_decref(desired);
    if (bad) {
        json_decref(final);
        return NULL;
    }
    return final;
}

static int do_create(struct apply_ctx *ax, const struct sf_change *c, bool cbd)
{
    struct sf_run *r = ax->r;
    const struct sf_resource_cfg *rc = sf_config_find(r->cfg, c->address);
    const struct sf_resource_type *rt = rc->rt;
    json_t *final = final_values(r, c, rc, ax->d);
    if (!final)
        return -1;
    json_t *deps = c->dependencies;
    /* Keep the old object on record as deposed until it is deleted. */
    if (cbd && sf_state_depose(r->st, c->address, ax->d) < 0) {
        json_decref(final);
        return -1;
    }
    if (sf_state_intent(r->st, c->address, c->type, final, deps, ax->d) < 0) {
        json_decref(final);
        return -1;
    }
    struct sf_call call;
    if (init_call(r, &call, c->address, c->type, OP_CREATE, ax->d) < 0) {
        json_decref(final);
        return -1;
    }
    struct sf_ui_op *op = sf_ui_op_begin(c->address, "Creating");
    watch_op(&call, op);
    json_t *out = NULL;
    int rcode = rt->create(&call, final, &out);
    double secs = sf_ui_op_end(op);
    int wrc = 0;
    if (out)
        wrc = sf_state_record(r->st, c->address, c->type, rcode != 0, out, c->sensitive, deps,
                              ax->d);
    /* A failed create with nothing to show keeps its intent: the next run
     * asks adopt whether something was left behind. */
    if (rcode == 0) {
        set_value(r, c->address, out, c->sensitive);
        print_done(c->address, "Creation", secs, out, c->sensitive);
    } else {
        sf_ui_line(out ? "%s: Creation failed after %.0fs (the object is tainted: the next plan "
                         "replaces it)"
                       : "%s: Creation failed after %.0fs",
                   c->address, secs);
    }
    json_decref(out);
    json_decref(final);
    return rcode == 0 && wrc == 0 ? 0 : -1;
}

static int do_update(struct apply_ctx *ax, const struct sf_change *c)
{
    struct sf_run *r = ax->r;
    const struct sf_resource_cfg *rc = sf_config_find(r->cfg, c->address);
    json_t *final = final_values(r, c, rc, ax->d);
    if (!final)
        return -1;
    struct sf_call call;
    if (init_call(r, &call, c->address, c->type, OP_UPDATE, ax->d) < 0) {
        json_decref(final);
        return -1;
    }
    struct sf_ui_op *op = sf_ui_op_begin(c->address, "Modifying");
    watch_op(&call, op);
    json_t *out = NULL;
    int rcode = rc->rt->update(&call, c->before, final, &out);
    double secs = sf_ui_op_end(op);
    int wrc = 0;
    if (out) {
        const struct sf_state_entry *cur = sf_state_get(r->st, c->address);
        wrc = sf_state_record(r->st, c->address, c->type, cur && sf_state_is_tainted(cur), out,
                              c->sensitive, c->dependencies, ax->d);
    }
    if (rcode == 0) {
        set_value(r, c->address, out, c->sensitive);
        print_done(c->address, "Modifications", secs, out, c->sensitive);
    } else {
        sf_ui_line("%s: Modifications failed after %.0fs", c->address, secs);
    }
    json_decref(out);
    json_decref(final);
    return rcode == 0 && wrc == 0 ? 0 : -1;
}

static int delete_object(struct apply_ctx *ax, const struct sf_change *c, const json_t *attrs)
{
    const struct sf_resource_type *rt = sf_provider_find_type(c->type);
    if (!rt) {
        sf_diag_add(ax->d, SF_SEV_ERROR, NULL, c->address, "no provider offers resource type \"%s\"",
                    c->type);
        return -1;
    }
    struct sf_call call;
    if (init_call(ax->r, &call, c->address, c->type, OP_DELETE, ax->d) < 0)
        return -1;
    struct sf_ui_op *op = sf_ui_op_begin(c->address, "Destroying");
    watch_op(&call, op);
    int rcode = rt->delete(&call, attrs);
    double secs = sf_ui_op_end(op);
    if (rcode == 0)
        sf_ui_line("%s: Destruction complete after %.0fs", c->address, secs);
    else
        sf_ui_line("%s: Destruction failed after %.0fs", c->address, secs);
    return rcode;
}

static int do_destroy(struct apply_ctx *ax, const struct sf_change *c)
{
    struct sf_run *r = ax->r;
    const struct sf_state_entry *cur = sf_state_get(r->st, c->address);
    const json_t *attrs = cur ? sf_state_attrs(cur) : NULL;
    if (!attrs)
        attrs = c->before;
    if (delete_object(ax, c, attrs) < 0)
        return -1;
    cur = sf_state_get(r->st, c->address);
    if (!cur || !sf_state_deposed(cur))
        set_value(r, c->address, NULL, NULL);
    /* Gone; the entry stays while deposed objects are still to delete. */
    return sf_state_set_attrs(r->st, c->address, NULL, ax->d);
}

static int do_deposed(struct apply_ctx *ax, const struct sf_change *c)
{
    struct sf_run *r = ax->r;
    for (;;) {
        /* The deposed list is read afresh each time: it is the state's. */
        const struct sf_state_entry *cur = sf_state_get(r->st, c->address);
        const json_t *deposed = cur ? sf_state_deposed(cur) : NULL;
        if (!deposed)
            return 0;
        json_t *old = json_incref(json_array_get(deposed, 0));
        int rcode = delete_object(ax, c, old);
        json_decref(old);
        if (rcode < 0 || sf_state_pop_deposed(r->st, c->address, ax->d) < 0)
            return -1;
    }
}

static int apply_visit(void *ctx, int id)
{
    struct apply_ctx *ax = ctx;
    const struct sf_action_node *n = sf_actions_get(ax->acts, id);
    const struct sf_change *c = n->change;
    int rc;
    switch (n->kind) {
    case SF_ACTION_APPLY:
        if (c->action == SF_ACT_UPDATE) {
            rc = do_update(ax, c);
            if (rc == 0) {
                pthread_mutex_lock(&ax->mu);
                ax->changed++;
                pthread_mutex_unlock(&ax->mu);
            }
        } else {
            rc = do_create(ax, c, n->create_before_destroy);
            if (rc == 0) {
                pthread_mutex_lock(&ax->mu);
                ax->added++;
                pthread_mutex_unlock(&ax->mu);
            }
        }
        return rc;
    case SF_ACTION_DESTROY:
        /* A create_before_destroy replacement deletes the old object, which
         * the create step moved to the deposed list. */
        rc = n->create_before_destroy && c->action == SF_ACT_REPLACE ? do_deposed(ax, c)
                                                                      : do_destroy(ax, c);
        break;
    case SF_ACTION_DEPOSED:
    default:
        rc = do_deposed(ax, c);
        break;
    }
    if (rc == 0) {
        pthread_mutex_lock(&ax->mu);
        ax->destroyed++;
        pthread_mutex_unlock(&ax->mu);
    }
    return rc;
}

static void apply_skipped(void *ctx, int id, int cause)
{
    struct apply_ctx *ax = ctx;
    const struct sf_action_node *n = sf_actions_get(ax->acts, id);
    const struct sf_action_node *cn = sf_actions_get(ax->acts, cause);
    sf_ui_line("%s: Skipped (upstream failed: %s)", n->change->address, cn->change->address);
}

/* Record what refresh found (objects changed or deleted outside, objects
 * adopted after a crash) before anything else happens. */
static int persist_refresh(struct sf_run *r, const struct sf_plan *p, int *recorded_n,
                           struct sf_diags *d)
{
    *recorded_n = 0;
    const char *addr;
    json_t *now;
    json_object_foreach(p->refreshed, addr, now)
    {
        const struct sf_state_entry *entry = sf_state_get(r->st, addr);
        if (!entry)
            continue;
        const json_t *recorded = sf_state_attrs(entry);
        bool has_intent = sf_state_intent_of(entry) != NULL;
        bool gone = !now || json_is_null(now);
        if (!has_intent && ((gone && !recorded) ||
                            (!gone && recorded && sf_value_equal(recorded, now))))
            continue;
        if (sf_state_set_attrs(r->st, addr, gone ? NULL : now, d) < 0)
            return -1;
        (*recorded_n)++;
    }
    return 0;
}

/* The schedule's record of the stack's life: when it was first created
 * (what delete_after counts from), set by the first apply that leaves
 * something in a stack with a schedule; removed with the last object, so
 * a stack made again later starts afresh. */
static int record_lifetime(struct sf_run *r, struct sf_diags *d)
{
    size_t n;
    free(sf_state_addresses(r->st, &n));
    const json_t *cur = sf_state_schedule(r->st);
    if (n == 0)
        return cur ? sf_state_set_schedule(r->st, NULL, d) : 0;
    if (!r->sched)
        return 0;
    struct sf_sched_record rec;
    sf_sched_record_read(cur, &rec);
    if (rec.created)
        return 0;
    rec.created = time(NULL);
    json_t *j = sf_sched_record_json(&rec);
    int rc = sf_state_set_schedule(r->st, j, d);
    json_decref(j);
    return rc;
}

int sf_run_record_refresh(struct sf_run *r, const struct sf_plan *p, int *recorded,
                          struct sf_diags *d)
{
    if (sf_state_begin(r->st, d) < 0)
        return -1;
    int rc = persist_refresh(r, p, recorded, d);
    if (rc == 0 && !p->refresh_only)
        rc = record_lifetime(r, d);
    if (sf_state_commit(r->st, d) < 0)
        rc = -1;
    return rc;
}

static void save_outputs(struct sf_run *r, const struct sf_plan *p, struct sf_diags *d)
{
    if (p->targets)
        return;
    json_t *outs = json_object();
    if (!p->destroy) {
        struct sf_scope sc = {lookup, r, r->cfg->dir};
        for (size_t i = 0; i < r->cfg->n_outputs; i++) {
            const struct sf_output_cfg *o = &r->cfg->outputs[i];
            bool s = false;
            struct sf_diags local;
            sf_diags_init(&local);
            json_t *v = sf_config_eval_output(r->cfg, o, &sc, &s, &local);
            if (v && !sf_value_has_unknown(v))
                json_object_set_new(outs, o->name, json_pack("{s:o,s:b}", "value", v, "sensitive", s));
            else
                json_decref(v);
            sf_diags_free(&local);
        }
    }
    sf_state_set_outputs(r->st, outs, d);
    json_decref(outs);
}

/* For the action graph: what the state says address was created after. */
static const json_t *state_deps(void *ctx, const char *address)
{
    const struct sf_state_entry *e = sf_state_get(ctx, address);
    return e ? sf_state_deps(e) : NULL;
}

int sf_run_apply(struct sf_run *r, const struct sf_plan *p, struct sf_diags *d)
{
    if (sf_state_begin(r->st, d) < 0)
        return -1;
    /* Expressions at apply time see what exists. */
    const char *addr;
    json_t *v;
    json_object_foreach(p->refreshed, addr, v) set_value(r, addr, json_is_null(v) ? NULL : v, NULL);
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct sf_change *c = &p->changes[i];
        if (c->sensitive)
            set_value(r, c->address, json_object_get(r->values, c->address), c->sensitive);
    }
    int refreshed_n;
    if (persist_refresh(r, p, &refreshed_n, d) < 0) {
        sf_state_commit(r->st, d);
        return -1;
    }
    if (p->refresh_only)
        return sf_state_commit(r->st, d);

    struct sf_actions *acts = sf_actions_build(p, state_deps, r->st, d);
    struct apply_ctx ax = {.r = r, .p = p, .acts = acts, .d = d};
    pthread_mutex_init(&ax.mu, NULL);
    int rc = -1;
    if (acts) {
        struct sf_walk_opts wo = {.parallelism = r->o.parallelism,
                                  .visit = apply_visit,
                                  .skipped = apply_skipped,
                                  .ctx = &ax,
                                  .stop = r->o.stop};
        sf_ui_progress_start(10);
        rc = sf_walk(sf_actions_graph(acts), &wo, NULL);
        sf_ui_progress_stop();
    }
    save_outputs(r, p, d);
    if (!p->targets && record_lifetime(r, d) < 0)
        rc = -1;
    if (sf_state_commit(r->st, d) < 0)
        rc = -1;
    if (rc == 0 && !sf_diags_errors(d)) {
        if (p->destroy)
            sf_ui_line("\n%sDestroy complete! Resources: %d destroyed.%s",
                       sf_ui_color() ? "\033[1;32m" : "", ax.destroyed,
                       sf_ui_color() ? "\033[0m" : "");
        else
            sf_ui_line("\n%sApply complete! Resources: %d added, %d changed, %d destroyed.%s",
                       sf_ui_color() ? "\033[1;32m" : "", ax.added, ax.changed, ax.destroyed,
                       sf_ui_color() ? "\033[0m" : "");
    } else {
        if (r->o.stop && *r->o.stop)
            sf_error(d, NULL, "interrupted: operations that had not started were not run");
        sf_ui_line("\n%s failed. Resources: %d added, %d changed, %d destroyed; the state records "
                   "what succeeded.",
                   p->destroy ? "Destroy" : "Apply", ax.added, ax.changed, ax.destroyed);
        rc = -1;
    }
    pthread_mutex_destroy(&ax.mu);
    sf_actions_free(acts);
    return rc;
}

/* ---- import ----------------------------------------------------------- */

int sf_run_import(struct sf_run *r, const char *address, const char *id, struct sf_diags *d)
{
    const struct sf_resource_cfg *rc = sf_config_find(r->cfg, address);
    if (!rc) {
        const char **names = sf_xcalloc(r->cfg->n_resources + 1, sizeof(*names));
        for (size_t i = 0; i < r->cfg->n_resources; i++)
            names[i] = r->cfg->resources[i].address;
        const char *dym = sf_did_you_mean(address, names);
        sf_error(d, NULL,
                 "import: %s is not declared in %s%s%s%s; declare the resource first, then import "
                 "the object into it",
                 address, r->cfg->path, dym ? " (did you mean " : "", dym ? dym : "",
                 dym ? "?)" : "");
        free(names);
        return -1;
    }
    const struct sf_state_entry *cur = sf_state_get(r->st, address);
    if (cur && sf_state_attrs(cur)) {
        sf_error(d, NULL, "import: the state already manages %s; remove it first with sparkform "
                          "state rm %s if it should be another object",
                 address, address);
        return -1;
    }
    struct sf_call call;
    if (init_call(r, &call, address, rc->type, OP_READ, d) < 0)
        return -1;
    struct sf_ui_op *op = sf_ui_op_begin(address, "Importing");
    watch_op(&call, op);
    json_t *out = NULL;
    int rcode;
    if (rc->rt->import) {
        rcode = rc->rt->import(&call, id, &out);
    } else {
        json_t *prior = json_pack("{s:s}", "id", id);
        rcode = rc->rt->read(&call, prior, &out);
        json_decref(prior);
    }
    double secs = sf_ui_op_end(op);
    if (rcode < 0)
        return -1;
    if (!out) {
        sf_diag_add_class(d, SF_CLASS_NOT_FOUND, NULL, address,
                          "import: no %s with id \"%s\" exists", rc->type, id);
        return -1;
    }
    /* Which attributes are secret follows from the description, as it
     * does for created objects. */
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    json_t *sens = NULL;
    json_decref(eval_resource(r, rc, &sens, &quiet));
    sf_diags_free(&quiet);
    json_t *deps = graph_deps(r->g, rc);
    int w = sf_state_begin(r->st, d);
    if (w == 0)
        w = sf_state_record(r->st, address, rc->type, false, out, sens, deps, d);
    if (sf_state_commit(r->st, d) < 0)
        w = -1;
    if (w == 0)
        print_done(address, "Import", secs, out, sens);
    json_decref(deps);
    json_decref(sens);
    json_decref(out);
    if (w == 0)
        sf_ui_line("\nImported %s. Run sparkform plan to see how the description and the object "
                   "differ.",
                   address);
    return w;
}

/* ---- power, for schedules --------------------------------------------- */

int sf_run_power(struct sf_run *r, const char *address, bool on, bool *acted, struct sf_diags *d)
{
    *acted = false;
    const struct sf_state_entry *e = sf_state_get(r->st, address);
    const json_t *recorded = e ? sf_state_attrs(e) : NULL;
    if (!recorded) {
        sf_diag_add(d, SF_SEV_ERROR, NULL, address,
                    "%s is not in the state: there is nothing to turn %s (apply the description "
                    "first)",
                    address, on ? "on" : "off");
        return -1;
    }
    char *type = sf_xstrdup(sf_state_type(e));
    const struct sf_resource_type *rt = sf_provider_find_type(type);
    const struct sf_attr *pa = power_attr(rt);
    /* What the record keeps besides the attributes, copied before the
     * entry changes. */
    const json_t *s = sf_state_sensitive(e), *deps = sf_state_deps(e);
    json_t *sens = s ? json_copy((json_t *)s) : json_array();
    json_t *dep = deps ? json_copy((json_t *)deps) : json_array();
    bool tainted = sf_state_is_tainted(e);
    json_t *prior = sf_value_copy(recorded);
    json_t *now = NULL, *desired = NULL, *out = NULL;
    int rc = -1;
    struct sf_call call;
    if (!pa) {
        sf_diag_add(d, SF_SEV_ERROR, NULL, address, "%s (%s) has no power state to turn %s",
                    address, type, on ? "on" : "off");
        goto out;
    }
    if (sf_state_begin(r->st, d) < 0 || init_call(r, &call, address, type, OP_READ, d) < 0)
        goto out;
    if (rt->read(&call, prior, &now) < 0)
        goto out;
    if (!now) {
        sf_diag_add(d, SF_SEV_ERROR, NULL, address,
                    "%s no longer exists (deleted outside sparkform); run sparkform apply to make "
                    "it again",
                    address);
        goto out;
    }
    const char *want = on ? rt->power_on : rt->power_off;
    const char *have = json_string_value(json_object_get(now, pa->name));
    if (have && strcmp(have, want) == 0) {
        /* Already so: what was read is what the state keeps. */
        rc = sf_value_equal(now, prior) ? 0 : sf_state_set_attrs(r->st, address, now, d);
        goto out;
    }
    desired = sf_value_copy(now);
    json_object_set_new(desired, pa->name, json_string(want));
    if (init_call(r, &call, address, type, OP_UPDATE, d) < 0)
        goto out;
    sf_ui_progress_start(10);
    struct sf_ui_op *op = sf_ui_op_begin(address, on ? "Waking" : "Hibernating");
    watch_op(&call, op);
    int urc = rt->update(&call, now, desired, &out);
    double secs = sf_ui_op_end(op);
    sf_ui_progress_stop();
    int wrc = out ? sf_state_record(r->st, address, type, tainted, out, sens, dep, d) : 0;
    if (urc == 0) {
        sf_ui_line("%s: turned %s (%s %s) after %.0fs", address, on ? "on" : "off", pa->name, want,
                   secs);
        *acted = true;
    } else {
        sf_ui_line("%s: turning it %s failed after %.0fs", address, on ? "on" : "off", secs);
    }
    rc = urc == 0 && wrc == 0 ? 0 : -1;
out:
    free(type);
    json_decref(sens);
    json_decref(dep);
    json_decref(prior);
    json_decref(now);
    json_decref(desired);
    json_decref(out);
    return rc;
}

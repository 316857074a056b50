/*
 * `sparkform status` (see status.h). The flow is refresh's without the
 * plan: the state says what exists, the description's providers: blocks
 * say how to reach it (sessions.c configures only the providers the
 * recorded types need), and the walk (walk.h) runs one status call per
 * resource, parallelism at a time, on a graph without edges: a look at
 * one object never waits for another.
 *
 * What a hook answers is printed as it is, so the engine makes one last
 * check for secrets: a string of the answer that holds the value of one of
 * the resource's sensitive attributes is replaced, whatever the hook did.
 */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "graph.h"
#include "provider.h"
#include "run.h"
#include "sessions.h"
#include "state.h"
#include "ui.h"
#include "util.h"
#include "walk.h"

/* How long one look may take at most: the resource's (or its type's)
 * read timeout when shorter. A status is there to answer fast; something
 * that keeps failing for this long (a cluster API answering 503 while the
 * cluster is off) is reported as it is then, not waited out. */
#define LOOK_TIMEOUT 20

/* The groups of the table, in the order a user reads a service. */
enum group { G_CLUSTER, G_REGISTRY, G_STORAGE, G_KUBE, G_JOBS, G_OTHER, G_N };
static const struct {
    const char *key;   /* in -json */
    const char *title; /* in the table */
} groups[G_N] = {
    {"cluster", "Cluster and node groups"},
    {"registry", "Registry"},
    {"storage", "Buckets"},
    {"kubernetes", "Kubernetes objects"},
    {"jobs", "Spark jobs"},
    {"other", "Other"},
};

struct item {
    const char *address;
    const char *type;
    const struct sf_resource_type *rt;
    const json_t *recorded;
    json_t *status; /* the hook's answer (or what the engine says instead) */
    enum group group;
};

struct ctx {
    const struct sf_config *cfg;
    struct sf_state *st;
    struct sf_sessions *sessions;
    struct item *items;
    struct sf_diags *d;
};

/* The group of an item; a Kubernetes object's kind comes from its answer,
 * else (a MISSING one) from the manifest recorded. */
static enum group group_of(const char *type, const json_t *status, const json_t *recorded)
{
    if (!strcmp(type, "cloud_k8s_cluster") || !strcmp(type, "cloud_node_group"))
        return G_CLUSTER;
    if (!strcmp(type, "cloud_server") || !strcmp(type, "ssh_registry"))
        return G_REGISTRY;
    if (!strncmp(type, "s3_", 3))
        return G_STORAGE;
    if (!strncmp(type, "kubernetes_", 11)) {
        const char *kind = json_string_value(json_object_get(status, "kind"));
        if (!kind)
            kind = json_string_value(
                json_object_get(json_object_get(recorded, "manifest"), "kind"));
        if (kind && (!strcmp(kind, "SparkApplication") || !strcmp(kind, "ScheduledSparkApplication")))
            return G_JOBS;
        return G_KUBE;
    }
    return G_OTHER;
}

static bool holds_secret(const char *s, const json_t *secrets)
{
    size_t i;
    json_t *sec;
    json_array_foreach(secrets, i, sec)
        if (strstr(s, json_string_value(sec)))
            return true;
    return false;
}

/* Replaces, in the answer o, every string that holds one of secrets. */
static void scrub(json_t *o, const json_t *secrets)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v)
    {
        if (json_is_string(v) && holds_secret(json_string_value(v), secrets))
            json_object_set_new(o, k, json_string("(sensitive value)"));
        else if (json_is_object(v))
            scrub(v, secrets);
    }
}

static json_t *secrets_of(const struct item *it)
{
    json_t *out = json_array();
    for (const struct sf_attr *a = it->rt->attrs; a && a->name; a++)
        if (a->flags & SF_SENSITIVE)
            sf_value_strings(json_object_get(it->recorded, a->name), out);
    return out;
}

static double deadline_of(const struct ctx *x, const struct item *it)
{
    const struct sf_resource_cfg *rc = x->cfg ? sf_config_find(x->cfg, it->address) : NULL;
    int secs = rc && rc->timeouts.read ? rc->timeouts.read : it->rt->timeouts.read;
    return sf_now() + (secs > 0 && secs < LOOK_TIMEOUT ? secs : LOOK_TIMEOUT);
}

static int look(void *arg, int id)
{
    struct ctx *x = arg;
    struct item *it = &x->items[id];
    const char *dot = strchr(it->address, '.');
    struct sf_call c = {
        .address = it->address,
        .type = it->type,
        .name = dot ? dot + 1 : it->address,
        .stack = x->cfg->name,
        .lineage = sf_state_lineage(x->st),
        .config_dir = x->cfg->dir,
        .diags = x->d,
        .deadline = deadline_of(x, it),
    };
    if (sf_sessions_ctx(x->sessions, it->type, &c.ctx, x->d) < 0) {
        it->status = sf_status_new("ERROR", false, "the %s provider could not be set up (see the "
                                   "errors below)", sf_provider_of_type(it->type)->name);
        return -1;
    }
    json_t *out = NULL;
    if (it->rt->status(&c, it->recorded, &out) < 0) {
        json_decref(out);
        it->status = sf_status_new("ERROR", false, "could not be looked at (see the errors below)");
        return -1;
    }
    if (!out) {
        it->status = sf_status_new("MISSING", false, "not found: deleted outside sparkform? "
                                   "(sparkform plan shows it to be created again)");
        return 0;
    }
    if (!json_is_string(json_object_get(out, "state")) ||
        !json_is_boolean(json_object_get(out, "healthy")) ||
        !json_is_string(json_object_get(out, "summary"))) {
        json_decref(out);
        sf_diag_add(x->d, SF_SEV_ERROR, NULL, it->address,
                    "the %s type's status answer lacks state, healthy or summary", it->type);
        it->status = sf_status_new("ERROR", false, "no usable answer");
        return -1;
    }
    json_t *secrets = secrets_of(it);
    scrub(out, secrets);
    json_decref(secrets);
    it->status = out;
    return 0;
}

static int by_group_then_address(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return strcmp(x->address, y->address);
}

static bool item_healthy(const struct item *it)
{
    return json_is_true(json_object_get(it->status, "healthy"));
}

static const char *item_str(const struct item *it, const char *key)
{
    const char *s = json_string_value(json_object_get(it->status, key));
    return s ? s : "";
}

static void print_json(const struct item *items, size_t n, bool healthy)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "address", items[i].address, "type",
                              items[i].type, "group", groups[items[i].group].key);
        json_object_update(o, items[i].status);
        json_array_append_new(list, o);
    }
    json_t *doc = json_pack("{s:o, s:b}", "resources", list, "healthy", healthy);
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(doc);
}

static void print_table(const struct item *items, size_t n, size_t without_hook)
{
    bool color = sf_ui_color();
    const char *bold = color ? "\033[1m" : "", *reset = color ? "\033[0m" : "";
    int aw = (int)strlen("ADDRESS"), sw = (int)strlen("STATE");
    for (size_t i = 0; i < n; i++) {
        int a = (int)strlen(items[i].address) + 2, s = (int)strlen(item_str(&items[i], "state"));
        aw = a > aw ? a : aw;
        sw = s > sw ? s : sw;
    }
    printf("%s%-*s  %-*s  SUMMARY%s\n", bold, aw, "ADDRESS", sw, "STATE", reset);
    size_t sick = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || items[i].group != items[i - 1].group)
            printf("%s%s%s\n", bold, groups[items[i].group].title, reset);
        bool ok = item_healthy(&items[i]);
        sick += !ok;
        const char *on = !color ? "" : ok ? "\033[32m" : "\033[1;31m";
        printf("  %-*s  %s%-*s%s  %s\n", aw - 2, items[i].address, on, sw,
               item_str(&items[i], "state"), reset, item_str(&items[i], "summary"));
    }
    printf("\n");
    if (sick == 0)
        printf("%s%zu resource%s, all healthy.%s", color ? "\033[1;32m" : "", n, n == 1 ? "" : "s",
               reset);
    else
        printf("%s%zu of %zu resource%s %s not healthy.%s", color ? "\033[1;31m" : "", sick, n,
               n == 1 ? "" : "s", sick == 1 ? "is" : "are", reset);
    if (without_hook)
        printf(" (%zu more in the state %s no live status to show.)", without_hook,
               without_hook == 1 ? "has" : "have");
    printf("\n");
}

int sf_status_run(const struct sf_status_opts *o, bool *healthy, struct sf_diags *d)
{
    *healthy = false;
    struct sf_config *cfg = NULL;
    struct sf_state *st = NULL;
    /* The state is where plan finds it: the state: block's bucket, or the
     * local file, decrypted with the block's keys. */
    struct sf_state_place place;
    int open = sf_config_load(o->config_path, &cfg, d);
    if (open == 0)
        open = sf_config_bind_vars(cfg, o->vars, o->n_vars, o->var_files, o->n_var_files, d);
    if (open == 0)
        open = sf_state_place(cfg, o->state_path, o->state_given, &place, d);
    else
        memset(&place, 0, sizeof(place));
    char *where = open == 0 ? sf_state_where_name(&place.w) : NULL;
    if (open == 0)
        open = sf_state_load_at(&place.w, &st, d);
    /* A missing state would load as an empty one: say what is wrong. */
    if (open == 0 && !sf_state_exists(st)) {
        sf_error(d, NULL, "no state at %s: nothing has been applied yet (sparkform apply), or "
                          "-state names another file",
                 where);
        open = -1;
    }
    sf_state_place_free(&place);
    if (open < 0) {
        free(where);
        sf_state_free(st);
        sf_config_free(cfg);
        return -1;
    }

    size_t n_addr, n = 0, without_hook = 0;
    const char **addrs = sf_state_addresses(st, &n_addr);
    struct item *items = sf_xcalloc(n_addr ? n_addr : 1, sizeof(*items));
    int rc = 0;
    for (size_t i = 0; i < n_addr; i++) {
        const struct sf_state_entry *e = sf_state_get(st, addrs[i]);
        const json_t *attrs = sf_state_attrs(e);
        const char *type = sf_state_type(e);
        const struct sf_resource_type *rt = type ? sf_provider_find_type(type) : NULL;
        if (!attrs)
            continue;
        if (!rt) {
            sf_diag_add(d, SF_SEV_ERROR, NULL, addrs[i],
                        "the state records resource type \"%s\", which no provider offers",
                        type ? type : "(none)");
            rc = -1;
            continue;
        }
        if (!rt->status) {
            without_hook++;
            continue;
        }
        items[n++] = (struct item){.address = addrs[i], .type = type, .rt = rt, .recorded = attrs};
    }
    if (n == 0 && without_hook == 0 && rc == 0) {
        sf_error(d, NULL, "the state at %s records no resources: nothing has been applied yet",
                 where);
        rc = -1;
    }

    struct ctx x = {.cfg = cfg, .st = st, .sessions = sf_sessions_new(cfg, cfg->dir),
                    .items = items, .d = d};
    struct sf_graph *g = sf_graph_new();
    for (size_t i = 0; i < n; i++)
        sf_graph_add_node(g, items[i].address, &items[i]);
    struct sf_walk_opts wo = {.parallelism = o->parallelism > 0 ? o->parallelism : 10,
                              .visit = look, .ctx = &x, .stop = o->stop};
    if (n && sf_walk(g, &wo, NULL) < 0)
        rc = -1;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].status) /* interrupted before its turn */
            items[i].status = sf_status_new("SKIPPED", false, "not looked at (interrupted)");
        items[i].group = group_of(items[i].type, items[i].status, items[i].recorded);
    }
    qsort(items, n, sizeof(*items), by_group_then_address);

    bool all = true;
    for (size_t i = 0; i < n; i++)
        all &= item_healthy(&items[i]);
    if (n || without_hook) {
        if (o->json)
            print_json(items, n, all && rc == 0);
        else
            print_table(items, n, without_hook);
    }
    *healthy = all;

    for (size_t i = 0; i < n; i++)
        json_decref(items[i].status);
    free(items);
    free(addrs);
    sf_graph_free(g);
    sf_sessions_free(x.sessions);
    sf_state_free(st);
    sf_config_free(cfg);
    free(where);
    return rc;
}

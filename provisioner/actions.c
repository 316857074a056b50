/*
 * The apply's action graph (see actions.h): nodes are named
 * "apply:ADDR", "destroy:ADDR" and "deposed:ADDR" so that edges can be
 * found by address, and carry a struct sf_action_node.
 */
#include "actions.h"

#include <stdlib.h>

#include "util.h"

struct sf_actions {
    struct sf_graph *g;
    struct sf_action_node *nodes; /* indexed by node id */
    size_t n;
};

static const char *const kind_names[] = {
    [SF_ACTION_APPLY] = "apply",
    [SF_ACTION_DESTROY] = "destroy",
    [SF_ACTION_DEPOSED] = "deposed",
};

int sf_actions_find(const struct sf_actions *a, enum sf_action_kind kind, const char *address)
{
    if (!address)
        return -1;
    char *name = sf_asprintf("%s:%s", kind_names[kind], address);
    int id = sf_graph_find(a->g, name);
    free(name);
    return id;
}

static void add(struct sf_actions *a, enum sf_action_kind kind, const struct sf_change *c)
{
    a->nodes[a->n] = (struct sf_action_node){
        .kind = kind, .change = c, .create_before_destroy = c->create_before_destroy};
    char *name = sf_asprintf("%s:%s", kind_names[kind], c->address);
    sf_graph_add_node(a->g, name, &a->nodes[a->n]);
    free(name);
    a->n++;
}

/* create_before_destroy spreads to the replaced dependencies of a resource
 * that has it: they must exist anew before it is replaced, so their old
 * objects can only go after it. */
static void spread_cbd(struct sf_actions *a)
{
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < a->n; i++) {
            if (a->nodes[i].kind != SF_ACTION_APPLY || !a->nodes[i].create_before_destroy)
                continue;
            size_t k;
            json_t *dep;
            json_array_foreach(a->nodes[i].change->dependencies, k, dep)
            {
                const char *addr = json_string_value(dep);
                int ap = sf_actions_find(a, SF_ACTION_APPLY, addr);
                int x = sf_actions_find(a, SF_ACTION_DESTROY, addr);
                if (ap >= 0 && x >= 0 && !a->nodes[ap].create_before_destroy) {
                    a->nodes[ap].create_before_destroy = true;
                    a->nodes[x].create_before_destroy = true;
                    again = true;
                }
            }
        }
    }
}

static void add_edges(struct sf_actions *a, sf_actions_deps_fn state_deps, void *ctx)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct sf_action_node *n = &a->nodes[i];
        const struct sf_change *c = n->change;
        int self = (int)i;
        size_t k;
        json_t *dep;
        if (n->kind == SF_ACTION_APPLY) {
            json_array_foreach(c->dependencies, k, dep)
            {
                int ap = sf_actions_find(a, SF_ACTION_APPLY, json_string_value(dep));
                if (ap >= 0)
                    sf_graph_add_edge(a->g, ap, self);
                int x = sf_actions_find(a, SF_ACTION_DESTROY, json_string_value(dep));
                if (x >= 0 && a->nodes[x].create_before_destroy)
                    sf_graph_add_edge(a->g, self, x);
            }
            int dp = sf_actions_find(a, SF_ACTION_DEPOSED, c->address);
            if (dp >= 0)
                sf_graph_add_edge(a->g, self, dp);
        } else if (n->kind == SF_ACTION_DESTROY) {
            /* The state's dependencies, not the description's: they are
             * what the existing object was really created after. */
            const json_t *deps = state_deps ? state_deps(ctx, c->address) : NULL;
            json_array_foreach(deps, k, dep)
            {
                int x = sf_actions_find(a, SF_ACTION_DESTROY, json_string_value(dep));
                if (x >= 0 && x != self)
                    sf_graph_add_edge(a->g, self, x);
            }
            if (c->action == SF_ACT_REPLACE) {
                int ap = sf_actions_find(a, SF_ACTION_APPLY, c->address);
                if (n->create_before_destroy)
                    sf_graph_add_edge(a->g, ap, self);
                else
                    sf_graph_add_edge(a->g, self, ap);
            }
        }
    }
}

struct cycle_report {
    const struct sf_actions *a;
    struct sf_diags *d;
    bool reported;
};

static void report_cycle(void *ctx, const int *members, size_t n)
{
    struct cycle_report *cr = ctx;
    if (cr->reported)
        return;
    cr->reported = true;
    struct sf_buf chain = {0};
    for (size_t i = 0; i < n; i++)
        sf_buf_printf(&chain, "%s -> ", sf_graph_name(cr->a->g, members[i]));
    sf_buf_puts(&chain, sf_graph_name(cr->a->g, members[0]));
    sf_error(cr->d, NULL, "the actions of this plan cannot be ordered (a dependency cycle between "
                          "replacements); apply the changes in smaller steps with -target");
    sf_diag_detail(cr->d, "%s", chain.s);
    sf_buf_free(&chain);
}

struct sf_actions *sf_actions_build(const struct sf_plan *p, sf_actions_deps_fn state_deps,
                                    void *ctx, struct sf_diags *d)
{
    struct sf_actions *a = sf_xcalloc(1, sizeof(*a));
    a->g = sf_graph_new();
    a->nodes = sf_xcalloc(2 * p->n_changes + 1, sizeof(*a->nodes));
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct sf_change *c = &p->changes[i];
        if (c->deposed > 0) {
            add(a, SF_ACTION_DEPOSED, c);
            continue;
        }
        if (c->action == SF_ACT_CREATE || c->action == SF_ACT_UPDATE ||
            c->action == SF_ACT_REPLACE)
            add(a, SF_ACTION_APPLY, c);
        if (c->action == SF_ACT_DELETE || c->action == SF_ACT_REPLACE)
            add(a, SF_ACTION_DESTROY, c);
    }
    spread_cbd(a);
    add_edges(a, state_deps, ctx);
    struct cycle_report cr = {.a = a, .d = d};
    if (sf_graph_cycles(a->g, report_cycle, &cr) > 0) {
        sf_actions_free(a);
        return NULL;
    }
    return a;
}

void sf_actions_free(struct sf_actions *a)
{
    if (!a)
        return;
    sf_graph_free(a->g);
    free(a->nodes);
    free(a);
}

const struct sf_graph *sf_actions_graph(const struct sf_actions *a)
{
    return a->g;
}

const struct sf_action_node *sf_actions_get(const struct sf_actions *a, int id)
{
    return id >= 0 && (size_t)id < a->n ? &a->nodes[id] : NULL;
}

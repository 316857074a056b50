/*
 * The dependency graph (graph.h). The engine builds one of these from the
 * resources of a description, checks it for cycles (reported with the
 * members in the order that closes the loop, so the message reads as a
 * path), orders it for planning, and hands it (or its reverse, for
 * destroy) to the walker. `sparkform graph` prints its transitive
 * reduction as DOT.
 *
 * Descriptions expand to tens of thousands of nodes, so lookups by name
 * and duplicate-edge checks are hash tables, and everything that
 * traverses (Tarjan, reach, cycle paths) uses explicit stacks: a long
 * chain of dependencies must not overflow the C stack.
 */
#include "graph.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct ivec {
    int *v;
    size_t n, cap;
};

struct gnode {
    char *name;
    void *data;
    struct ivec succs, preds;
};

struct sf_graph {
    struct gnode *nodes;
    size_t n, cap;
    /* name -> id, open addressing; -1 marks an empty slot */
    int *names;
    size_t names_cap;
    /* (from, to) pairs already added, open addressing; 0 marks empty */
    uint64_t *edges;
    size_t edges_cap, edges_n;
};

static void ivec_push(struct ivec *a, int x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4;
        a->v = sf_xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void names_insert(struct sf_graph *g, int id)
{
    size_t mask = g->names_cap - 1;
    size_t i = hash_str(g->nodes[id].name) & mask;
    while (g->names[i] >= 0) {
        /* the first node of a name wins, so find() is stable */
        if (strcmp(g->nodes[g->names[i]].name, g->nodes[id].name) == 0)
            return;
        i = (i + 1) & mask;
    }
    g->names[i] = id;
}

static void names_grow(struct sf_graph *g)
{
    free(g->names);
    g->names_cap = g->names_cap ? g->names_cap * 2 : 64;
    g->names = sf_xmalloc(g->names_cap * sizeof *g->names);
    memset(g->names, 0xff, g->names_cap * sizeof *g->names);
    for (size_t id = 0; id < g->n; id++)
        names_insert(g, (int)id);
}

static uint64_t edge_key(int from, int to)
{
    return (((uint64_t)(uint32_t)from << 32) | (uint32_t)to) + 1;
}

/* Returns 1 when the key was new. */
static int edges_insert(uint64_t *tab, size_t cap, uint64_t key)
{
    size_t mask = cap - 1;
    size_t i = hash_u64(key) & mask;
    while (tab[i]) {
        if (tab[i] == key)
            return 0;
        i = (i + 1) & mask;
    }
    tab[i] = key;
    return 1;
}

static void edges_grow(struct sf_graph *g)
{
    size_t ncap = g->edges_cap ? g->edges_cap * 2 : 64;
    uint64_t *tab = sf_xcalloc(ncap, sizeof *tab);
    for (size_t i = 0; i < g->edges_cap; i++)
        if (g->edges[i])
            edges_insert(tab, ncap, g->edges[i]);
    free(g->edges);
    g->edges = tab;
    g->edges_cap = ncap;
}

struct sf_graph *sf_graph_new(void)
{
    return sf_xcalloc(1, sizeof(struct sf_graph));
}

void sf_graph_free(struct sf_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].succs.v);
        free(g->nodes[i].preds.v);
    }
    free(g->nodes);
    free(g->names);
    free(g->edges);
    free(g);
}

int sf_graph_add_node(struct sf_graph *g, const char *name, void *data)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->nodes = sf_xrealloc(g->nodes, g->cap * sizeof *g->nodes);
    }
    int id = (int)g->n++;
    struct gnode *nd = &g->nodes[id];
    memset(nd, 0, sizeof *nd);
    nd->name = sf_xstrdup(name ? name : "");
    nd->data = data;
    /* keep the load factor under one half so probes stay short */
    if (g->n * 2 > g->names_cap)
        names_grow(g);
    else
        names_insert(g, id);
    return id;
}

static int valid(const struct sf_graph *g, int id)
{
    return id >= 0 && (size_t)id < g->n;
}

void sf_graph_add_edge(struct sf_graph *g, int from, int to)
{
    if (!valid(g, from) || !valid(g, to))
        return;
    if ((g->edges_n + 1) * 2 > g->edges_cap)
        edges_grow(g);
    if (!edges_insert(g->edges, g->edges_cap, edge_key(from, to)))
        return;
    g->edges_n++;
    ivec_push(&g->nodes[from].succs, to);
    ivec_push(&g->nodes[to].preds, from);
}

int sf_graph_find(const struct sf_graph *g, const char *name)
{
    if (!g->names_cap || !name)
        return -1;
    size_t mask = g->names_cap - 1;
    size_t i = hash_str(name) & mask;
    while (g->names[i] >= 0) {
        if (strcmp(g->nodes[g->names[i]].name, name) == 0)
            return g->names[i];
        i = (i + 1) & mask;
    }
    return -1;
}

size_t sf_graph_size(const struct sf_graph *g)
{
    return g->n;
}

const char *sf_graph_name(const struct sf_graph *g, int id)
{
    return valid(g, id) ? g->nodes[id].name : NULL;
}

void *sf_graph_data(const struct sf_graph *g, int id)
{
    return valid(g, id) ? g->nodes[id].data : NULL;
}

size_t sf_graph_succs(const struct sf_graph *g, int id, const int **out)
{
    if (!valid(g, id)) {
        *out = NULL;
        return 0;
    }
    *out = g->nodes[id].succs.v;
    return g->nodes[id].succs.n;
}

size_t sf_graph_preds(const struct sf_graph *g, int id, const int **out)
{
    if (!valid(g, id)) {
        *out = NULL;
        return 0;
    }
    *out = g->nodes[id].preds.v;
    return g->nodes[id].preds.n;
}

static int has_edge(const struct sf_graph *g, int from, int to)
{
    if (!g->edges_cap)
        return 0;
    uint64_t key = edge_key(from, to);
    size_t mask = g->edges_cap - 1;
    size_t i = hash_u64(key) & mask;
    while (g->edges[i]) {
        if (g->edges[i] == key)
            return 1;
        i = (i + 1) & mask;
    }
    return 0;
}

/* ---- cycles ---------------------------------------------------------- */

/*
 * Arrange the members of one strongly connected component so that they
 * read as a path around a loop: start at the lowest id, take the shortest
 * cycle back to it (always exists in an SCC), then spend a bounded budget
 * of backtracking search on a longer simple cycle, since a message that
 * names every member along the loop is the most useful. Members that no
 * found cycle covers follow in id order.
 */
#define CYCLE_SEARCH_BUDGET 200000

/* Per-node scratch shared by every component, so that many small
 * components do not each pay for arrays the size of the graph. in_comp is
 * 1 for exactly the current members; the other arrays are only read at
 * members after being set for them. */
struct cycle_scratch {
    char *in_comp;
    char *flag;
    int *parent;
};

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void order_cycle(const struct sf_graph *g, int *comp, size_t n, struct cycle_scratch *sc)
{
    qsort(comp, n, sizeof *comp, int_cmp);
    if (n == 1)
        return;
    int s = comp[0];
    const char *in_comp = sc->in_comp;
    int *parent = sc->parent;
    char *flag = sc->flag;
    int *best = sf_xmalloc(n * sizeof *best);
    size_t best_n = 0;

    /* shortest cycle through s: BFS from s until a node with an edge to s */
    int *queue = sf_xmalloc(n * sizeof *queue);
    for (size_t i = 0; i < n; i++)
        parent[comp[i]] = -2;
    size_t qh = 0, qt = 0;
    queue[qt++] = s;
    parent[s] = -1;
    int last = -1;
    while (qh < qt && last < 0) {
        int u = queue[qh++];
        const struct ivec *su = &g->nodes[u].succs;
        for (size_t k = 0; k < su->n; k++) {
            int w = su->v[k];
            if (w == s) {
                last = u;
                break;
            }
            if (in_comp[w] && parent[w] == -2) {
                parent[w] = u;
                queue[qt++] = w;
            }
        }
    }
    free(queue);
    for (int u = last; u >= 0; u = parent[u])
        best[best_n++] = u;
    for (size_t i = 0; i < best_n / 2; i++) {
        int t = best[i];
        best[i] = best[best_n - 1 - i];
        best[best_n - 1 - i] = t;
    }

    /* bounded depth-first search over simple paths from s for a longer one */
    if (best_n < n) {
        for (size_t i = 0; i < n; i++)
            flag[comp[i]] = 0; /* on the current path */
        int *path = sf_xmalloc(n * sizeof *path);
        size_t *pos = sf_xmalloc(n * sizeof *pos);
        long budget = CYCLE_SEARCH_BUDGET;
        size_t depth = 1;
        path[0] = s;
        pos[0] = 0;
        flag[s] = 1;
        while (depth > 0 && budget-- > 0 && best_n < n) {
            int u = path[depth - 1];
            const struct ivec *su = &g->nodes[u].succs;
            if (pos[depth - 1] == 0 && depth > best_n && has_edge(g, u, s)) {
                memcpy(best, path, depth * sizeof *path);
                best_n = depth;
            }
            int next = -1;
            while (pos[depth - 1] < su->n) {
                int w = su->v[pos[depth - 1]++];
                if (in_comp[w] && !flag[w]) {
                    next = w;
                    break;
                }
            }
            if (next < 0) {
                flag[u] = 0;
                depth--;
                continue;
            }
            flag[next] = 1;
            path[depth] = next;
            pos[depth] = 0;
            depth++;
        }
        free(path);
        free(pos);
    }

    /* the cycle first, then the rest of the component in id order */
    for (size_t i = 0; i < n; i++)
        flag[comp[i]] = 0; /* now: already placed */
    for (size_t i = 0; i < best_n; i++)
        flag[best[i]] = 1;
    size_t k = best_n;
    for (size_t i = 0; i < n; i++)
        if (!flag[comp[i]])
            best[k++] = comp[i];
    memcpy(comp, best, n * sizeof *best);
    free(best);
}

struct cycle {
    int *members;
    size_t n;
};

static int cycle_cmp(const void *a, const void *b)
{
    const struct cycle *x = a, *y = b;
    return (x->members[0] > y->members[0]) - (x->members[0] < y->members[0]);
}

size_t sf_graph_cycles(const struct sf_graph *g,
                       void (*cb)(void *ctx, const int *members, size_t n), void *ctx)
{
    size_t N = g->n;
    if (!N)
        return 0;
    /* Tarjan's algorithm with the recursion turned into an explicit stack
     * of (node, next successor index) frames */
    int *index = sf_xmalloc(N * sizeof *index);
    int *low = sf_xmalloc(N * sizeof *low);
    char *onstack = sf_xcalloc(N, 1);
    int *stack = sf_xmalloc(N * sizeof *stack);
    int *cs_node = sf_xmalloc(N * sizeof *cs_node);
    size_t *cs_pos = sf_xmalloc(N * sizeof *cs_pos);
    struct cycle_scratch sc = {
        .in_comp = sf_xcalloc(N, 1),
        .flag = sf_xmalloc(N),
        .parent = sf_xmalloc(N * sizeof(int)),
    };
    size_t sp = 0, csp = 0;
    int counter = 0;
    struct cycle *cycles = NULL;
    size_t ncycles = 0, cycles_cap = 0;

    for (size_t i = 0; i < N; i++)
        index[i] = -1;

    for (size_t root = 0; root < N; root++) {
        if (index[root] >= 0)
            continue;
        cs_node[0] = (int)root;
        cs_pos[0] = 0;
        csp = 1;
        index[root] = low[root] = counter++;
        stack[sp++] = (int)root;
        onstack[root] = 1;
        while (csp > 0) {
            int v = cs_node[csp - 1];
            const struct ivec *sv = &g->nodes[v].succs;
            if (cs_pos[csp - 1] < sv->n) {
                int w = sv->v[cs_pos[csp - 1]++];
                if (index[w] < 0) {
                    index[w] = low[w] = counter++;
                    stack[sp++] = w;
                    onstack[w] = 1;
                    cs_node[csp] = w;
                    cs_pos[csp] = 0;
                    csp++;
                } else if (onstack[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            csp--;
            if (csp > 0) {
                int parent = cs_node[csp - 1];
                if (low[v] < low[parent])
                    low[parent] = low[v];
            }
            if (low[v] != index[v])
                continue;
            size_t start = sp;
            do {
                start--;
                onstack[stack[start]] = 0;
            } while (stack[start] != v);
            size_t cn = sp - start;
            int cyclic = cn > 1 || has_edge(g, v, v);
            if (cyclic) {
                int *m = sf_xmalloc(cn * sizeof *m);
                memcpy(m, stack + start, cn * sizeof *m);
                for (size_t k = 0; k < cn; k++)
                    sc.in_comp[m[k]] = 1;
                order_cycle(g, m, cn, &sc);
                for (size_t k = 0; k < cn; k++)
                    sc.in_comp[m[k]] = 0;
                if (ncycles == cycles_cap) {
                    cycles_cap = cycles_cap ? cycles_cap * 2 : 8;
                    cycles = sf_xrealloc(cycles, cycles_cap * sizeof *cycles);
                }
                cycles[ncycles].members = m;
                cycles[ncycles].n = cn;
                ncycles++;
            }
            sp = start;
        }
    }

    /* report in order of each cycle's lowest id (its first member), which
     * does not depend on how Tarjan happened to discover them */
    if (ncycles > 1)
        qsort(cycles, ncycles, sizeof *cycles, cycle_cmp);
    for (size_t i = 0; i < ncycles; i++) {
        if (cb)
            cb(ctx, cycles[i].members, cycles[i].n);
        free(cycles[i].members);
    }
    free(cycles);
    free(index);
    free(low);
    free(onstack);
    free(stack);
    free(cs_node);
    free(cs_pos);
    free(sc.in_comp);
    free(sc.flag);
    free(sc.parent);
    return ncycles;
}

/* ---- ordering -------------------------------------------------------- */

static void heap_push(int *h, size_t *n, int x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= x)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static int heap_pop(int *h, size_t *n)
{
    int top = h[0];
    int x = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= x)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = x;
    return top;
}

int sf_graph_topo(const struct sf_graph *g, int *order)
{
    size_t N = g->n;
    size_t *indeg = sf_xmalloc((N ? N : 1) * sizeof *indeg);
    int *heap = sf_xmalloc((N ? N : 1) * sizeof *heap);
    size_t hn = 0, k = 0;
    for (size_t i = 0; i < N; i++) {
        indeg[i] = g->nodes[i].preds.n;
        if (!indeg[i])
            heap_push(heap, &hn, (int)i);
    }
    while (hn) {
        int u = heap_pop(heap, &hn);
        order[k++] = u;
        const struct ivec *su = &g->nodes[u].succs;
        for (size_t j = 0; j < su->n; j++)
            if (--indeg[su->v[j]] == 0)
                heap_push(heap, &hn, su->v[j]);
    }
    free(indeg);
    free(heap);
    return k == N ? 0 : -1;
}

static struct sf_graph *copy_nodes(const struct sf_graph *g)
{
    struct sf_graph *r = sf_graph_new();
    for (size_t i = 0; i < g->n; i++)
        sf_graph_add_node(r, g->nodes[i].name, g->nodes[i].data);
    return r;
}

struct sf_graph *sf_graph_reverse(const struct sf_graph *g)
{
    struct sf_graph *r = copy_nodes(g);
    for (size_t i = 0; i < g->n; i++) {
        const struct ivec *su = &g->nodes[i].succs;
        for (size_t j = 0; j < su->n; j++)
            sf_graph_add_edge(r, su->v[j], (int)i);
    }
    return r;
}

struct by_pos {
    int id, pos;
};

static int by_pos_cmp(const void *a, const void *b)
{
    const struct by_pos *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * For each node, in reverse topological order, the set of nodes it reaches
 * is known for all its successors. Visiting the successors nearest first
 * (by topological position), an edge v -> w is redundant exactly when w is
 * already reached through an earlier successor: anything that reaches w
 * comes before w in the order.
 */
struct sf_graph *sf_graph_reduce(const struct sf_graph *g)
{
    size_t N = g->n;
    struct sf_graph *r = copy_nodes(g);
    int *order = sf_xmalloc((N ? N : 1) * sizeof *order);
    if (sf_graph_topo(g, order) < 0) {
        /* not a DAG: there is no unique reduction, keep every edge */
        for (size_t i = 0; i < N; i++) {
            const struct ivec *su = &g->nodes[i].succs;
            for (size_t j = 0; j < su->n; j++)
                sf_graph_add_edge(r, (int)i, su->v[j]);
        }
        free(order);
        return r;
    }
    int *pos = sf_xmalloc((N ? N : 1) * sizeof *pos);
    for (size_t i = 0; i < N; i++)
        pos[order[i]] = (int)i;
    size_t words = (N + 63) / 64;
    uint64_t *reach = sf_xcalloc(N * words + 1, sizeof *reach);
    uint64_t *covered = sf_xmalloc((words ? words : 1) * sizeof *covered);
    struct by_pos *sorted = NULL;
    size_t sorted_cap = 0;
    /* kept edges per node, added to r in the original successor order
     * afterwards so the reduced graph lists edges deterministically */
    char *keep = NULL;

    for (size_t oi = N; oi-- > 0;) {
        int v = order[oi];
        const struct ivec *sv = &g->nodes[v].succs;
        if (sv->n > sorted_cap) {
            sorted_cap = sv->n;
            sorted = sf_xrealloc(sorted, sorted_cap * sizeof *sorted);
            keep = sf_xrealloc(keep, sorted_cap);
        }
        for (size_t j = 0; j < sv->n; j++) {
            sorted[j].id = (int)j; /* index into sv */
            sorted[j].pos = pos[sv->v[j]];
        }
        if (sv->n > 1)
            qsort(sorted, sv->n, sizeof *sorted, by_pos_cmp);
        memset(covered, 0, words * sizeof *covered);
        uint64_t *rv = reach + (size_t)v * words;
        for (size_t j = 0; j < sv->n; j++) {
            int w = sv->v[sorted[j].id];
            if (covered[w / 64] >> (w % 64) & 1) {
                keep[sorted[j].id] = 0;
                continue;
            }
            keep[sorted[j].id] = 1;
            uint64_t *rw = reach + (size_t)w * words;
            for (size_t k = 0; k < words; k++)
                covered[k] |= rw[k];
            covered[w / 64] |= (uint64_t)1 << (w % 64);
        }
        memcpy(rv, covered, words * sizeof *rv);
        for (size_t j = 0; j < sv->n; j++)
            if (keep[j])
                sf_graph_add_edge(r, v, sv->v[j]);
    }
    free(sorted);
    free(keep);
    free(covered);
    free(reach);
    free(pos);
    free(order);
    return r;
}

void sf_graph_reach(const struct sf_graph *g, const int *starts, size_t n, int forward, char *mark)
{
    size_t N = g->n;
    int *stack = sf_xmalloc((N ? N : 1) * sizeof *stack);
    size_t sp = 0;
    for (size_t i = 0; i < n; i++) {
        int s = starts[i];
        if (valid(g, s) && !mark[s]) {
            mark[s] = 1;
            stack[sp++] = s;
        }
    }
    while (sp) {
        int u = stack[--sp];
        const struct ivec *a = forward ? &g->nodes[u].succs : &g->nodes[u].preds;
        for (size_t j = 0; j < a->n; j++) {
            int w = a->v[j];
            if (!mark[w]) {
                mark[w] = 1;
                stack[sp++] = w;
            }
        }
    }
    free(stack);
}

/* ---- DOT ------------------------------------------------------------- */

static void dot_id(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        switch (*s) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            break;
        default:
            fputc(*s, out);
        }
    }
    fputc('"', out);
}

void sf_graph_dot(const struct sf_graph *g, FILE *out)
{
    fputs("digraph sparkform {\n  rankdir=LR;\n", out);
    for (size_t i = 0; i < g->n; i++) {
        fputs("  ", out);
        dot_id(out, g->nodes[i].name);
        fputs(";\n", out);
    }
    int *tmp = NULL;
    size_t tmp_cap = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct ivec *su = &g->nodes[i].succs;
        if (!su->n)
            continue;
        if (su->n > tmp_cap) {
            tmp_cap = su->n;
            tmp = sf_xrealloc(tmp, tmp_cap * sizeof *tmp);
        }
        memcpy(tmp, su->v, su->n * sizeof *tmp);
        qsort(tmp, su->n, sizeof *tmp, int_cmp);
        for (size_t j = 0; j < su->n; j++) {
            fputs("  ", out);
            dot_id(out, g->nodes[i].name);
            fputs(" -> ", out);
            dot_id(out, g->nodes[tmp[j]].name);
            fputs(";\n", out);
        }
    }
    free(tmp);
    fputs("}\n", out);
}

/*
 * Unit tests for the dependency graph (provisioner/graph.c): lookups,
 * duplicate edges, topological order, cycle reports, reverse, transitive
 * reduction, reachability and DOT output.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static int add(struct sf_graph *g, const char *name)
{
    return sf_graph_add_node(g, name, NULL);
}

static int has_edge(const struct sf_graph *g, int from, int to)
{
    const int *s;
    size_t n = sf_graph_succs(g, from, &s);
    for (size_t i = 0; i < n; i++)
        if (s[i] == to)
            return 1;
    return 0;
}

static size_t edge_count(const struct sf_graph *g)
{
    size_t total = 0;
    for (size_t i = 0; i < sf_graph_size(g); i++) {
        const int *s;
        total += sf_graph_succs(g, (int)i, &s);
    }
    return total;
}

START_TEST(test_add_find)
{
    struct sf_graph *g = sf_graph_new();
    int data = 7;
    ck_assert_int_eq(sf_graph_add_node(g, "cloud_network.main", &data), 0);
    ck_assert_int_eq(add(g, "cloud_cluster.spark"), 1);
    char name[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "s3_bucket.b%d", i);
        ck_assert_int_eq(add(g, name), i + 2);
    }
    ck_assert_uint_eq(sf_graph_size(g), 1002);
    ck_assert_int_eq(sf_graph_find(g, "cloud_network.main"), 0);
    ck_assert_int_eq(sf_graph_find(g, "cloud_cluster.spark"), 1);
    ck_assert_int_eq(sf_graph_find(g, "s3_bucket.b999"), 1001);
    ck_assert_int_eq(sf_graph_find(g, "s3_bucket.b1000"), -1);
    ck_assert_int_eq(sf_graph_find(g, ""), -1);
    ck_assert_str_eq(sf_graph_name(g, 1), "cloud_cluster.spark");
    ck_assert_ptr_eq(sf_graph_data(g, 0), &data);
    ck_assert_ptr_null(sf_graph_data(g, 1));
    sf_graph_free(g);
}
END_TEST

START_TEST(test_duplicate_edges)
{
    struct sf_graph *g = sf_graph_new();
    int a = add(g, "a"), b = add(g, "b"), c = add(g, "c");
    sf_graph_add_edge(g, a, b);
    sf_graph_add_edge(g, a, b);
    sf_graph_add_edge(g, a, c);
    sf_graph_add_edge(g, a, b);
    sf_graph_add_edge(g, b, a); /* the other direction is a different edge */
    const int *s, *p;
    ck_assert_uint_eq(sf_graph_succs(g, a, &s), 2);
    ck_assert_int_eq(s[0], b);
    ck_assert_int_eq(s[1], c);
    ck_assert_uint_eq(sf_graph_preds(g, b, &p), 1);
    ck_assert_int_eq(p[0], a);
    ck_assert_uint_eq(sf_graph_preds(g, a, &p), 1);
    ck_assert_int_eq(p[0], b);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_many_edges_fast)
{
    /* 20,000 nodes and 40,000 edges, each added twice */
    struct sf_graph *g = sf_graph_new();
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "n%d", i);
        add(g, name);
    }
    srand(42);
    int *ef = malloc(40000 * sizeof *ef), *et = malloc(40000 * sizeof *et);
    for (int i = 0; i < 40000; i++) {
        int x = rand() % 20000, y = rand() % 20000;
        if (x == y)
            y = (y + 1) % 20000;
        ef[i] = x < y ? x : y;
        et[i] = x < y ? y : x;
    }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 40000; i++)
            sf_graph_add_edge(g, ef[i], et[i]);
    size_t total = edge_count(g);
    ck_assert_uint_le(total, 40000);
    ck_assert_uint_ge(total, 39900);
    for (int i = 0; i < 40000; i++)
        ck_assert(has_edge(g, ef[i], et[i]));
    int *order = malloc(20000 * sizeof *order);
    ck_assert_int_eq(sf_graph_topo(g, order), 0);
    ck_assert_uint_eq(sf_graph_cycles(g, NULL, NULL), 0);
    free(order);
    free(ef);
    free(et);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_topo)
{
    struct sf_graph *g = sf_graph_new();
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        add(g, name);
    }
    /* 7 -> 3 -> 1, 5 -> 1, 6 -> 0, 2 alone, 4 -> 6 */
    sf_graph_add_edge(g, 7, 3);
    sf_graph_add_edge(g, 3, 1);
    sf_graph_add_edge(g, 5, 1);
    sf_graph_add_edge(g, 6, 0);
    sf_graph_add_edge(g, 4, 6);
    int order[8], again[8], pos[8];
    ck_assert_int_eq(sf_graph_topo(g, order), 0);
    /* ready nodes taken lowest id first */
    int expect[8] = {2, 4, 5, 6, 0, 7, 3, 1};
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(order[i], expect[i]);
    for (int i = 0; i < 8; i++)
        pos[order[i]] = i;
    for (int u = 0; u < 8; u++) {
        const int *s;
        size_t n = sf_graph_succs(g, u, &s);
        for (size_t k = 0; k < n; k++)
            ck_assert_int_lt(pos[u], pos[s[k]]);
    }
    ck_assert_int_eq(sf_graph_topo(g, again), 0);
    ck_assert_mem_eq(order, again, sizeof order);

    sf_graph_add_edge(g, 1, 7);
    ck_assert_int_eq(sf_graph_topo(g, order), -1);
    sf_graph_free(g);
}
END_TEST

struct cycles_seen {
    int n;
    int members[8][16];
    size_t sizes[8];
};

static void record_cycle(void *ctx, const int *members, size_t n)
{
    struct cycles_seen *c = ctx;
    if (c->n < 8) {
        for (size_t i = 0; i < n && i < 16; i++)
            c->members[c->n][i] = members[i];
        c->sizes[c->n] = n;
    }
    c->n++;
}

/* members[] must follow edges around: m0 -> m1 -> ... -> m(n-1) -> m0 */
static void assert_cycle_path(const struct sf_graph *g, const int *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(has_edge(g, m[i], m[(i + 1) % n]), "no edge %d -> %d", m[i],
                      m[(i + 1) % n]);
}

START_TEST(test_cycle_three)
{
    struct sf_graph *g = sf_graph_new();
    int x = add(g, "x"), a = add(g, "a"), b = add(g, "b"), c = add(g, "c");
    sf_graph_add_edge(g, x, a);
    sf_graph_add_edge(g, a, c);
    sf_graph_add_edge(g, c, b);
    sf_graph_add_edge(g, b, a);
    struct cycles_seen seen = {0};
    ck_assert_uint_eq(sf_graph_cycles(g, record_cycle, &seen), 1);
    ck_assert_int_eq(seen.n, 1);
    ck_assert_uint_eq(seen.sizes[0], 3);
    ck_assert_int_eq(seen.members[0][0], a);
    ck_assert_int_eq(seen.members[0][1], c);
    ck_assert_int_eq(seen.members[0][2], b);
    assert_cycle_path(g, seen.members[0], 3);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_cycle_two_separate)
{
    struct sf_graph *g = sf_graph_new();
    int n[7];
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "r.%d", i);
        n[i] = add(g, name);
    }
    /* 0 <-> 1, 1 -> 2 (bridge), 2 -> 3 -> 4 -> 2, 5 -> 6 */
    sf_graph_add_edge(g, n[0], n[1]);
    sf_graph_add_edge(g, n[1], n[0]);
    sf_graph_add_edge(g, n[1], n[2]);
    sf_graph_add_edge(g, n[2], n[3]);
    sf_graph_add_edge(g, n[3], n[4]);
    sf_graph_add_edge(g, n[4], n[2]);
    sf_graph_add_edge(g, n[5], n[6]);
    struct cycles_seen seen = {0};
    ck_assert_uint_eq(sf_graph_cycles(g, record_cycle, &seen), 2);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_uint_eq(seen.sizes[0], 2);
    ck_assert_int_eq(seen.members[0][0], 0);
    ck_assert_int_eq(seen.members[0][1], 1);
    ck_assert_uint_eq(seen.sizes[1], 3);
    ck_assert_int_eq(seen.members[1][0], 2);
    ck_assert_int_eq(seen.members[1][1], 3);
    ck_assert_int_eq(seen.members[1][2], 4);
    assert_cycle_path(g, seen.members[0], 2);
    assert_cycle_path(g, seen.members[1], 3);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_cycle_self_loop)
{
    struct sf_graph *g = sf_graph_new();
    int a = add(g, "a"), b = add(g, "b");
    sf_graph_add_edge(g, a, b);
    sf_graph_add_edge(g, b, b);
    struct cycles_seen seen = {0};
    ck_assert_uint_eq(sf_graph_cycles(g, record_cycle, &seen), 1);
    ck_assert_uint_eq(seen.sizes[0], 1);
    ck_assert_int_eq(seen.members[0][0], b);
    int order[2];
    ck_assert_int_eq(sf_graph_topo(g, order), -1);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_cycle_none_in_dag)
{
    struct sf_graph *g = sf_graph_new();
    int a = add(g, "a"), b = add(g, "b"), c = add(g, "c"), d = add(g, "d");
    sf_graph_add_edge(g, a, b);
    sf_graph_add_edge(g, a, c);
    sf_graph_add_edge(g, b, d);
    sf_graph_add_edge(g, c, d);
    struct cycles_seen seen = {0};
    ck_assert_uint_eq(sf_graph_cycles(g, record_cycle, &seen), 0);
    ck_assert_int_eq(seen.n, 0);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_cycle_larger_scc)
{
    /* one SCC of 5 whose longest simple cycle has 4 members (0..3) and a
     * member (4) only on a 2-cycle with 1 */
    struct sf_graph *g = sf_graph_new();
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        add(g, name);
    }
    sf_graph_add_edge(g, 0, 2); /* shortcut: shortest cycle is 0 2 3 */
    sf_graph_add_edge(g, 0, 1);
    sf_graph_add_edge(g, 1, 2);
    sf_graph_add_edge(g, 2, 3);
    sf_graph_add_edge(g, 3, 0);
    sf_graph_add_edge(g, 1, 4);
    sf_graph_add_edge(g, 4, 1);
    struct cycles_seen seen = {0};
    ck_assert_uint_eq(sf_graph_cycles(g, record_cycle, &seen), 1);
    ck_assert_uint_eq(seen.sizes[0], 5);
    int expect[5] = {0, 1, 2, 3, 4};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(seen.members[0][i], expect[i]);
    assert_cycle_path(g, seen.members[0], 4);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_long_chain_with_cycle)
{
    enum { N = 10000 };
    struct sf_graph *g = sf_graph_new();
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "chain.%d", i);
        add(g, name);
    }
    for (int i = 0; i + 1 < N; i++)
        sf_graph_add_edge(g, i, i + 1);
    ck_assert_uint_eq(sf_graph_cycles(g, NULL, NULL), 0);
    int *order = malloc(N * sizeof *order);
    ck_assert_int_eq(sf_graph_topo(g, order), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(order[i], i);
    char *mark = calloc(N, 1);
    int start = 0;
    sf_graph_reach(g, &start, 1, 1, mark);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(mark[i], 1);
    free(mark);

    sf_graph_add_edge(g, N - 1, N - 3);
    struct cycles_seen seen = {0};
    ck_assert_uint_eq(sf_graph_cycles(g, record_cycle, &seen), 1);
    ck_assert_uint_eq(seen.sizes[0], 3);
    ck_assert_int_eq(seen.members[0][0], N - 3);
    ck_assert_int_eq(seen.members[0][1], N - 2);
    ck_assert_int_eq(seen.members[0][2], N - 1);

    /* and a cycle through the whole chain */
    sf_graph_add_edge(g, N - 1, 0);
    seen.n = 0;
    ck_assert_uint_eq(sf_graph_cycles(g, record_cycle, &seen), 1);
    ck_assert_uint_eq(seen.sizes[0], N);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(seen.members[0][i], i);
    ck_assert_int_eq(sf_graph_topo(g, order), -1);
    free(order);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_reverse)
{
    struct sf_graph *g = sf_graph_new();
    int v = 3;
    int a = sf_graph_add_node(g, "a", &v), b = add(g, "b"), c = add(g, "c");
    sf_graph_add_edge(g, a, b);
    sf_graph_add_edge(g, a, c);
    sf_graph_add_edge(g, b, c);
    struct sf_graph *r = sf_graph_reverse(g);
    ck_assert_uint_eq(sf_graph_size(r), 3);
    ck_assert_str_eq(sf_graph_name(r, a), "a");
    ck_assert_ptr_eq(sf_graph_data(r, a), &v);
    ck_assert_int_eq(sf_graph_find(r, "c"), c);
    ck_assert(has_edge(r, b, a));
    ck_assert(has_edge(r, c, a));
    ck_assert(has_edge(r, c, b));
    ck_assert(!has_edge(r, a, b));
    ck_assert_uint_eq(edge_count(r), 3);
    sf_graph_free(r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_reduce)
{
    struct sf_graph *g = sf_graph_new();
    int a = add(g, "a"), b = add(g, "b"), c = add(g, "c");
    sf_graph_add_edge(g, a, b);
    sf_graph_add_edge(g, b, c);
    sf_graph_add_edge(g, a, c);
    struct sf_graph *r = sf_graph_reduce(g);
    ck_assert_uint_eq(edge_count(r), 2);
    ck_assert(has_edge(r, a, b));
    ck_assert(has_edge(r, b, c));
    ck_assert(!has_edge(r, a, c));
    ck_assert_uint_eq(edge_count(g), 3);
    sf_graph_free(r);
    sf_graph_free(g);

    /* a longer one: 0->1->2->3, 0->4->3, plus implied 0->2, 0->3, 1->3 */
    g = sf_graph_new();
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        add(g, name);
    }
    sf_graph_add_edge(g, 0, 3);
    sf_graph_add_edge(g, 0, 2);
    sf_graph_add_edge(g, 1, 3);
    sf_graph_add_edge(g, 0, 1);
    sf_graph_add_edge(g, 1, 2);
    sf_graph_add_edge(g, 2, 3);
    sf_graph_add_edge(g, 0, 4);
    sf_graph_add_edge(g, 4, 3);
    r = sf_graph_reduce(g);
    ck_assert_uint_eq(edge_count(r), 5);
    ck_assert(has_edge(r, 0, 1));
    ck_assert(has_edge(r, 1, 2));
    ck_assert(has_edge(r, 2, 3));
    ck_assert(has_edge(r, 0, 4));
    ck_assert(has_edge(r, 4, 3));
    sf_graph_free(r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_reach)
{
    struct sf_graph *g = sf_graph_new();
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        add(g, name);
    }
    /* 0 -> 1 -> 2, 1 -> 3, 4 -> 3, 5 -> 6 */
    sf_graph_add_edge(g, 0, 1);
    sf_graph_add_edge(g, 1, 2);
    sf_graph_add_edge(g, 1, 3);
    sf_graph_add_edge(g, 4, 3);
    sf_graph_add_edge(g, 5, 6);
    char mark[7] = {0};
    int start = 1;
    sf_graph_reach(g, &start, 1, 1, mark);
    char fwd[7] = {0, 1, 1, 1, 0, 0, 0};
    ck_assert_mem_eq(mark, fwd, 7);

    memset(mark, 0, sizeof mark);
    start = 3;
    sf_graph_reach(g, &start, 1, 0, mark);
    char back[7] = {1, 1, 0, 1, 1, 0, 0};
    ck_assert_mem_eq(mark, back, 7);

    memset(mark, 0, sizeof mark);
    int starts[2] = {4, 5};
    sf_graph_reach(g, starts, 2, 1, mark);
    char two[7] = {0, 0, 0, 1, 1, 1, 1};
    ck_assert_mem_eq(mark, two, 7);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_dot)
{
    struct sf_graph *g = sf_graph_new();
    int net = add(g, "cloud_network.main");
    int q = add(g, "module.spark.k8s[\"say \\\"hi\\\"\"]");
    int b = add(g, "s3_bucket.logs");
    int alone = add(g, "local_file.notes");
    sf_graph_add_edge(g, net, b);
    sf_graph_add_edge(g, net, q);
    sf_graph_add_edge(g, b, q);
    (void)alone;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sf_graph_dot(g, f);
    fclose(f);
    const char *expect =
        "digraph sparkform {\n"
        "  rankdir=LR;\n"
        "  \"cloud_network.main\";\n"
        "  \"module.spark.k8s[\\\"say \\\\\\\"hi\\\\\\\"\\\"]\";\n"
        "  \"s3_bucket.logs\";\n"
        "  \"local_file.notes\";\n"
        "  \"cloud_network.main\" -> \"module.spark.k8s[\\\"say \\\\\\\"hi\\\\\\\"\\\"]\";\n"
        "  \"cloud_network.main\" -> \"s3_bucket.logs\";\n"
        "  \"s3_bucket.logs\" -> \"module.spark.k8s[\\\"say \\\\\\\"hi\\\\\\\"\\\"]\";\n"
        "}\n";
    ck_assert_str_eq(text, expect);
    free(text);
    sf_graph_free(g);
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_add_find);
    tcase_add_test(tc, test_duplicate_edges);
    tcase_add_test(tc, test_many_edges_fast);
    tcase_add_test(tc, test_topo);
    tcase_add_test(tc, test_cycle_three);
    tcase_add_test(tc, test_cycle_two_separate);
    tcase_add_test(tc, test_cycle_self_loop);
    tcase_add_test(tc, test_cycle_none_in_dag);
    tcase_add_test(tc, test_cycle_larger_scc);
    tcase_add_test(tc, test_long_chain_with_cycle);
    tcase_add_test(tc, test_reverse);
    tcase_add_test(tc, test_reduce);
    tcase_add_test(tc, test_reach);
    tcase_add_test(tc, test_dot);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(graph_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

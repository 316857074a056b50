/*
 * Unit tests for the parallel walker (provisioner/walk.c): ordering along
 * edges, the parallelism limit, failure propagation, the stop flag, and
 * the scheduling overhead on wide, deep and large graphs.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "util.h"
#include "walk.h"

struct rec {
    const struct sf_graph *g;
    atomic_int clock;
    atomic_int *start, *end, *visits;
    atomic_int running, max_running;
    long sleep_ms;
    int fail_id;   /* -1: none */
    int stop_at;   /* -1: none */
    volatile sig_atomic_t stop;
    int nskipped;
    int skipped_id[64], skipped_cause[64];
};

static void rec_init(struct rec *r, const struct sf_graph *g)
{
    size_t n = sf_graph_size(g);
    memset(r, 0, sizeof *r);
    r->g = g;
    r->start = calloc(n, sizeof *r->start);
    r->end = calloc(n, sizeof *r->end);
    r->visits = calloc(n, sizeof *r->visits);
    r->fail_id = -1;
    r->stop_at = -1;
}

static void rec_free(struct rec *r)
{
    free(r->start);
    free(r->end);
    free(r->visits);
}

static int visit(void *ctx, int id)
{
    struct rec *r = ctx;
    atomic_fetch_add(&r->visits[id], 1);
    atomic_store(&r->start[id], atomic_fetch_add(&r->clock, 1) + 1);
    int now = atomic_fetch_add(&r->running, 1) + 1;
    int max = atomic_load(&r->max_running);
    while (now > max && !atomic_compare_exchange_weak(&r->max_running, &max, now))
        ;
    if (r->sleep_ms)
        sf_sleep_ms(r->sleep_ms);
    if (id == r->stop_at)
        __atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED); /* from a worker */
    atomic_fetch_sub(&r->running, 1);
    atomic_store(&r->end[id], atomic_fetch_add(&r->clock, 1) + 1);
    return id == r->fail_id ? 1 : 0;
}

static void skipped(void *ctx, int id, int cause)
{
    struct rec *r = ctx;
    if (r->nskipped < 64) {
        r->skipped_id[r->nskipped] = id;
        r->skipped_cause[r->nskipped] = cause;
    }
    r->nskipped++;
}

static struct sf_walk_opts opts(struct rec *r, int parallelism)
{
    struct sf_walk_opts o = {
        .parallelism = parallelism,
        .visit = visit,
        .skipped = skipped,
        .ctx = r,
        .stop = &r->stop,
    };
    return o;
}

static struct sf_graph *nodes(int n)
{
    struct sf_graph *g = sf_graph_new();
    char name[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "n%d", i);
        sf_graph_add_node(g, name, NULL);
    }
    return g;
}

/* every node visited once, each started after all its predecessors ended */
static void assert_ordered(const struct rec *r)
{
    size_t n = sf_graph_size(r->g);
    for (size_t u = 0; u < n; u++) {
        ck_assert_int_eq(atomic_load(&r->visits[u]), 1);
        const int *s;
        size_t ns = sf_graph_succs(r->g, (int)u, &s);
        for (size_t k = 0; k < ns; k++)
            ck_assert_msg(atomic_load(&r->end[u]) < atomic_load(&r->start[s[k]]),
                          "%d started before %zu ended", s[k], u);
    }
}

static struct sf_graph *random_dag(int n, int edges, unsigned seed)
{
    struct sf_graph *g = nodes(n);
    /* edges follow a shuffled order of the ids, so the graph is acyclic
     * but ids are not already a topological order */
    int *perm = malloc(n * sizeof *perm);
    srand(seed);
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int k = rand() % (i + 1), t = perm[i];
        perm[i] = perm[k];
        perm[k] = t;
    }
    for (int i = 0; i < edges; i++) {
        int a = rand() % n, b = rand() % n;
        if (a != b)
            sf_graph_add_edge(g, perm[a < b ? a : b], perm[a < b ? b : a]);
    }
    free(perm);
    return g;
}

START_TEST(test_order)
{
    struct sf_graph *g = random_dag(300, 900, 7);
    struct rec r;
    rec_init(&r, g);
    struct sf_walk_opts o = opts(&r, 8);
    enum sf_walk_status *st = malloc(300 * sizeof *st);
    ck_assert_int_eq(sf_walk(g, &o, st), 0);
    assert_ordered(&r);
    for (int i = 0; i < 300; i++)
        ck_assert_int_eq(st[i], SF_WALK_OK);
    ck_assert_int_eq(r.nskipped, 0);
    free(st);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_sequential_id_order)
{
    /* parallelism 1: ready nodes start lowest id first */
    struct sf_graph *g = nodes(5);
    sf_graph_add_edge(g, 4, 0); /* 0 waits for 4 */
    struct rec r;
    rec_init(&r, g);
    struct sf_walk_opts o = opts(&r, 1);
    ck_assert_int_eq(sf_walk(g, &o, NULL), 0);
    int expect[5] = {1, 2, 3, 4, 0};
    for (int i = 0; i < 4; i++)
        ck_assert_int_lt(atomic_load(&r.start[expect[i]]), atomic_load(&r.start[expect[i + 1]]));
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_parallelism_limit)
{
    struct sf_graph *g = nodes(50);
    struct rec r;
    rec_init(&r, g);
    r.sleep_ms = 20;
    struct sf_walk_opts o = opts(&r, 4);
    ck_assert_int_eq(sf_walk(g, &o, NULL), 0);
    ck_assert_int_eq(atomic_load(&r.max_running), 4);
    assert_ordered(&r);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_failure)
{
    /* diamond 0 -> {1, 2} -> 3 -> 4, plus 2 -> 5; independent 6 -> 7 */
    struct sf_graph *g = nodes(8);
    sf_graph_add_edge(g, 0, 1);
    sf_graph_add_edge(g, 0, 2);
    sf_graph_add_edge(g, 1, 3);
    sf_graph_add_edge(g, 2, 3);
    sf_graph_add_edge(g, 3, 4);
    sf_graph_add_edge(g, 2, 5);
    sf_graph_add_edge(g, 6, 7);
    struct rec r;
    rec_init(&r, g);
    r.fail_id = 2;
    r.sleep_ms = 5;
    struct sf_walk_opts o = opts(&r, 3);
    enum sf_walk_status st[8];
    ck_assert_int_eq(sf_walk(g, &o, st), -1);
    enum sf_walk_status expect[8] = {SF_WALK_OK,      SF_WALK_OK,      SF_WALK_FAILED,
                                     SF_WALK_SKIPPED, SF_WALK_SKIPPED, SF_WALK_SKIPPED,
                                     SF_WALK_OK,      SF_WALK_OK};
    for (int i = 0; i < 8; i++)
        ck_assert_msg(st[i] == expect[i], "node %d: status %d, want %d", i, st[i], expect[i]);
    for (int i = 3; i <= 5; i++)
        ck_assert_int_eq(atomic_load(&r.visits[i]), 0);
    ck_assert_int_eq(atomic_load(&r.visits[7]), 1);

    ck_assert_int_eq(r.nskipped, 3);
    int cause[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    for (int i = 0; i < r.nskipped; i++) {
        ck_assert_int_eq(cause[r.skipped_id[i]], -1); /* once each */
        cause[r.skipped_id[i]] = r.skipped_cause[i];
    }
    ck_assert_int_eq(cause[3], 2);
    ck_assert_int_eq(cause[4], 3);
    ck_assert_int_eq(cause[5], 2);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

static int fail_all_roots(void *ctx, int id)
{
    (void)ctx;
    return id < 2 ? -1 : 0;
}

static void count_skip(void *ctx, int id, int cause)
{
    int *seen = ctx;
    seen[id]++;
    seen[4 + id] = cause;
}

START_TEST(test_several_failed_preds)
{
    /* 0 and 1 both fail; 2 waits for both and is skipped once, then 3 */
    struct sf_graph *g = nodes(4);
    sf_graph_add_edge(g, 0, 2);
    sf_graph_add_edge(g, 1, 2);
    sf_graph_add_edge(g, 2, 3);
    int seen[8] = {0};
    struct sf_walk_opts o = {.parallelism = 2, .visit = fail_all_roots, .skipped = count_skip, .ctx = seen};
    enum sf_walk_status st[4];
    ck_assert_int_eq(sf_walk(g, &o, st), -1);
    ck_assert_int_eq(st[0], SF_WALK_FAILED);
    ck_assert_int_eq(st[1], SF_WALK_FAILED);
    ck_assert_int_eq(st[2], SF_WALK_SKIPPED);
    ck_assert_int_eq(st[3], SF_WALK_SKIPPED);
    ck_assert_int_eq(seen[2], 1);
    ck_assert_int_eq(seen[3], 1);
    ck_assert(seen[4 + 2] == 0 || seen[4 + 2] == 1);
    ck_assert_int_eq(seen[4 + 3], 2);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_stop)
{
    /* a chain 0 -> 1 -> ... -> 9 and independent 10..19; stop inside 3 */
    struct sf_graph *g = nodes(20);
    for (int i = 0; i < 9; i++)
        sf_graph_add_edge(g, i, i + 1);
    struct rec r;
    rec_init(&r, g);
    r.stop_at = 3;
    struct sf_walk_opts o = opts(&r, 1);
    enum sf_walk_status st[20];
    ck_assert_int_eq(sf_walk(g, &o, st), -1);
    /* with one worker and id order: 0, 1, 2, 3 run, then the stop */
    for (int i = 0; i <= 3; i++)
        ck_assert_int_eq(st[i], SF_WALK_OK);
    for (int i = 4; i < 20; i++) {
        ck_assert_int_eq(st[i], SF_WALK_PENDING);
        ck_assert_int_eq(atomic_load(&r.visits[i]), 0);
    }
    ck_assert_int_eq(r.nskipped, 0);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_stop_parallel)
{
    /* running nodes finish, nothing new starts */
    struct sf_graph *g = nodes(40);
    struct rec r;
    rec_init(&r, g);
    r.sleep_ms = 20;
    r.stop_at = 0;
    struct sf_walk_opts o = opts(&r, 4);
    enum sf_walk_status st[40];
    ck_assert_int_eq(sf_walk(g, &o, st), -1);
    int ok = 0, pending = 0;
    for (int i = 0; i < 40; i++) {
        if (st[i] == SF_WALK_OK)
            ok++;
        else if (st[i] == SF_WALK_PENDING)
            pending++;
        ck_assert_int_eq(atomic_load(&r.visits[i]), st[i] == SF_WALK_OK);
    }
    ck_assert_int_le(ok, 8);
    ck_assert_int_eq(ok + pending, 40);
    ck_assert_int_ge(pending, 30);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_wide_timing)
{
    struct sf_graph *g = nodes(200);
    struct rec r;
    rec_init(&r, g);
    r.sleep_ms = 50;
    struct sf_walk_opts o = opts(&r, 10);
    double t0 = sf_now();
    ck_assert_int_eq(sf_walk(g, &o, NULL), 0);
    double t = sf_now() - t0;
    printf("walk: 200 x 50 ms at parallelism 10: %.3f s\n", t);
    ck_assert_int_eq(atomic_load(&r.max_running), 10);
    ck_assert_double_lt(t, 1.5);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_chain_timing)
{
    struct sf_graph *g = nodes(20);
    for (int i = 0; i < 19; i++)
        sf_graph_add_edge(g, i, i + 1);
    struct rec r;
    rec_init(&r, g);
    r.sleep_ms = 50;
    struct sf_walk_opts o = opts(&r, 10);
    double t0 = sf_now();
    ck_assert_int_eq(sf_walk(g, &o, NULL), 0);
    double t = sf_now() - t0;
    printf("walk: chain of 20 x 50 ms: %.3f s\n", t);
    assert_ordered(&r);
    ck_assert_double_lt(t, 1.5);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_many_noop)
{
    struct sf_graph *g = random_dag(10000, 20000, 11);
    struct rec r;
    rec_init(&r, g);
    struct sf_walk_opts o = opts(&r, 10);
    enum sf_walk_status *st = malloc(10000 * sizeof *st);
    double t0 = sf_now();
    ck_assert_int_eq(sf_walk(g, &o, st), 0);
    double t = sf_now() - t0;
    printf("walk: 10000 no-op nodes, random edges, parallelism 10: %.1f ms\n", t * 1000);
    for (int i = 0; i < 10000; i++)
        ck_assert_int_eq(st[i], SF_WALK_OK);
    assert_ordered(&r);
    free(st);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

START_TEST(test_empty_and_cycle)
{
    struct sf_graph *g = sf_graph_new();
    struct rec r;
    rec_init(&r, g);
    struct sf_walk_opts o = opts(&r, 4);
    ck_assert_int_eq(sf_walk(g, &o, NULL), 0);
    rec_free(&r);
    sf_graph_free(g);

    /* a cycle never becomes ready: the walk ends instead of hanging */
    g = nodes(3);
    sf_graph_add_edge(g, 1, 2);
    sf_graph_add_edge(g, 2, 1);
    rec_init(&r, g);
    o = opts(&r, 4);
    enum sf_walk_status st[3];
    ck_assert_int_eq(sf_walk(g, &o, st), -1);
    ck_assert_int_eq(st[0], SF_WALK_OK);
    ck_assert_int_eq(st[1], SF_WALK_PENDING);
    ck_assert_int_eq(st[2], SF_WALK_PENDING);
    rec_free(&r);
    sf_graph_free(g);
}
END_TEST

static Suite *walk_suite(void)
{
    Suite *s = suite_create("walk");
    TCase *tc = tcase_create("walk");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_sequential_id_order);
    tcase_add_test(tc, test_parallelism_limit);
    tcase_add_test(tc, test_failure);
    tcase_add_test(tc, test_several_failed_preds);
    tcase_add_test(tc, test_stop);
    tcase_add_test(tc, test_stop_parallel);
    tcase_add_test(tc, test_wide_timing);
    tcase_add_test(tc, test_chain_timing);
    tcase_add_test(tc, test_many_noop);
    tcase_add_test(tc, test_empty_and_cycle);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(walk_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

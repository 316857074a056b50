/*
 * Unit tests for the apply's action graph (provisioner/actions.c): creates
 * ordered after what they depend on, deletes in reverse, replacements with
 * and without create_before_destroy (and its spread to replaced
 * dependencies), deposed objects, and a cycle between replacements.
 */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "diag.h"
#include "plan.h"
#include "util.h"

/* Add a change to p: deps is a NULL-terminated list of addresses. */
static struct sf_change *change(struct sf_plan *p, const char *address, enum sf_action action,
                                bool cbd, ...)
{
    struct sf_change *c = sf_plan_add_change(p);
    c->address = sf_xstrdup(address);
    c->type = sf_xstrndup(address, strcspn(address, "."));
    c->name = sf_xstrdup(strchr(address, '.') + 1);
    c->action = action;
    c->create_before_destroy = cbd;
    c->dependencies = json_array();
    va_list ap;
    va_start(ap, cbd);
    for (const char *d; (d = va_arg(ap, const char *));)
        json_array_append_new(c->dependencies, json_string(d));
    va_end(ap);
    return c;
}

/* The state's dependencies: an object address -> array. */
static const json_t *deps_of(void *ctx, const char *address)
{
    return json_object_get(ctx, address);
}

static struct sf_actions *build_ok(const struct sf_plan *p, json_t *state)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_actions *a = sf_actions_build(p, deps_of, state, &d);
    ck_assert_msg(a != NULL, "build failed: %s", d.n ? d.items[0].summary : "(no message)");
    ck_assert_uint_eq(sf_diags_errors(&d), 0);
    sf_diags_free(&d);
    return a;
}

static int node(const struct sf_actions *a, enum sf_action_kind kind, const char *address)
{
    int id = sf_actions_find(a, kind, address);
    ck_assert_msg(id >= 0, "no %d action for %s", (int)kind, address);
    const struct sf_action_node *n = sf_actions_get(a, id);
    ck_assert_int_eq(n->kind, kind);
    ck_assert_str_eq(n->change->address, address);
    return id;
}

/* Whether a path leads from node x to node y. */
static bool path(const struct sf_actions *a, int x, int y)
{
    const struct sf_graph *g = sf_actions_graph(a);
    char *mark = sf_xcalloc(sf_graph_size(g), 1);
    sf_graph_reach(g, &x, 1, 1, mark);
    bool r = mark[y] != 0;
    free(mark);
    return r;
}

/* x must finish before y starts, and not the other way round. */
#define assert_before(a, x, y) \
    ck_assert_msg(path(a, x, y) && !path(a, y, x), "%s is not ordered before %s", \
                  sf_graph_name(sf_actions_graph(a), x), sf_graph_name(sf_actions_graph(a), y))

/* Neither waits for the other: they may run at once. */
#define assert_independent(a, x, y) \
    ck_assert_msg(!path(a, x, y) && !path(a, y, x), "%s and %s are ordered", \
                  sf_graph_name(sf_actions_graph(a), x), sf_graph_name(sf_actions_graph(a), y))

START_TEST(test_creates_after_dependencies)
{
    struct sf_plan *p = sf_plan_new();
    /* Listed dependents first: the order of the plan does not matter. */
    change(p, "srv.app", SF_ACT_CREATE, false, "subnet.a", "key.k", NULL);
    change(p, "subnet.a", SF_ACT_CREATE, false, "net.n", NULL);
    change(p, "net.n", SF_ACT_UPDATE, false, NULL);
    change(p, "key.k", SF_ACT_CREATE, false, NULL);
    change(p, "other.o", SF_ACT_NOOP, false, NULL);
    change(p, "bucket.b", SF_ACT_CREATE, false, "missing.from_the_plan", NULL);
    struct sf_actions *a = build_ok(p, NULL);
    ck_assert_uint_eq(sf_graph_size(sf_actions_graph(a)), 5); /* no action for a no-op */
    ck_assert_int_eq(sf_actions_find(a, SF_ACTION_APPLY, "other.o"), -1);
    ck_assert_int_eq(sf_actions_find(a, SF_ACTION_DESTROY, "srv.app"), -1);
    int app = node(a, SF_ACTION_APPLY, "srv.app"), sub = node(a, SF_ACTION_APPLY, "subnet.a");
    int net = node(a, SF_ACTION_APPLY, "net.n"), key = node(a, SF_ACTION_APPLY, "key.k");
    int bucket = node(a, SF_ACTION_APPLY, "bucket.b");
    assert_before(a, net, sub);
    assert_before(a, sub, app);
    assert_before(a, key, app);
    assert_independent(a, key, sub);
    assert_independent(a, bucket, app);
    ck_assert(!sf_actions_get(a, app)->create_before_destroy);
    ck_assert_ptr_null(sf_actions_get(a, 99));
    sf_actions_free(a);
    sf_plan_free(p);
}
END_TEST

START_TEST(test_destroys_in_reverse)
{
    struct sf_plan *p = sf_plan_new();
    change(p, "net.n", SF_ACT_DELETE, false, NULL);
    change(p, "subnet.a", SF_ACT_DELETE, false, NULL);
    change(p, "srv.app", SF_ACT_DELETE, false, NULL);
    change(p, "key.k", SF_ACT_DELETE, false, NULL);
    /* The state, not the plan, says what each was created after. */
    json_t *state = json_pack("{s:[s], s:[s, s], s:[]}", "subnet.a", "net.n", "srv.app",
                              "subnet.a", "key.k", "key.k");
    struct sf_actions *a = build_ok(p, state);
    ck_assert_uint_eq(sf_graph_size(sf_actions_graph(a)), 4);
    int net = node(a, SF_ACTION_DESTROY, "net.n"), sub = node(a, SF_ACTION_DESTROY, "subnet.a");
    int app = node(a, SF_ACTION_DESTROY, "srv.app"), key = node(a, SF_ACTION_DESTROY, "key.k");
    assert_before(a, app, sub);
    assert_before(a, sub, net);
    assert_before(a, app, key);
    assert_independent(a, key, net);
    sf_actions_free(a);

    /* Without the state's word, deletes are unordered. */
    a = build_ok(p, NULL);
    assert_independent(a, node(a, SF_ACTION_DESTROY, "srv.app"),
                       node(a, SF_ACTION_DESTROY, "net.n"));
    sf_actions_free(a);
    json_decref(state);
    sf_plan_free(p);
}
END_TEST

START_TEST(test_replace)
{
    struct sf_plan *p = sf_plan_new();
    change(p, "net.n", SF_ACT_REPLACE, false, NULL);
    change(p, "srv.app", SF_ACT_UPDATE, false, "net.n", NULL);
    json_t *state = json_pack("{s:[s]}", "srv.app", "net.n");
    struct sf_actions *a = build_ok(p, state);
    ck_assert_uint_eq(sf_graph_size(sf_actions_graph(a)), 3);
    int del = node(a, SF_ACTION_DESTROY, "net.n"), cre = node(a, SF_ACTION_APPLY, "net.n");
    int app = node(a, SF_ACTION_APPLY, "srv.app");
    /* Delete, then create, then what uses it. */
    assert_before(a, del, cre);
    assert_before(a, cre, app);
    ck_assert(!sf_actions_get(a, del)->create_before_destroy);
    ck_assert(!sf_actions_get(a, cre)->create_before_destroy);
    ck_assert_ptr_eq(sf_actions_get(a, del)->change, sf_actions_get(a, cre)->change);
    sf_actions_free(a);
    json_decref(state);
    sf_plan_free(p);
}
END_TEST

START_TEST(test_replace_create_before_destroy)
{
    struct sf_plan *p = sf_plan_new();
    change(p, "net.n", SF_ACT_REPLACE, true, NULL);
    change(p, "srv.app", SF_ACT_UPDATE, false, "net.n", NULL);
    json_t *state = json_pack("{s:[s]}", "srv.app", "net.n");
    struct sf_actions *a = build_ok(p, state);
    int del = node(a, SF_ACTION_DESTROY, "net.n"), cre = node(a, SF_ACTION_APPLY, "net.n");
    int app = node(a, SF_ACTION_APPLY, "srv.app");
    /* Create the new one, then the update that moves to it, then delete
     * the old one. */
    assert_before(a, cre, del);
    assert_before(a, cre, app);
    ck_assert(sf_actions_get(a, del)->create_before_destroy);
    ck_assert(sf_actions_get(a, cre)->create_before_destroy);
    ck_assert(!sf_actions_get(a, app)->create_before_destroy);
    sf_actions_free(a);
    json_decref(state);
    sf_plan_free(p);
}
END_TEST

START_TEST(test_create_before_destroy_spreads)
{
    struct sf_plan *p = sf_plan_new();
    /* srv has create_before_destroy and depends on subnet, which depends
     * on net: both replaced, so both must exist anew before srv is
     * replaced and their old objects go after it. key is only updated:
     * nothing to spread to. lone is replaced but nothing with
     * create_before_destroy depends on it. */
    change(p, "net.n", SF_ACT_REPLACE, false, NULL);
    change(p, "subnet.a", SF_ACT_REPLACE, false, "net.n", NULL);
    change(p, "key.k", SF_ACT_UPDATE, false, NULL);
    change(p, "srv.app", SF_ACT_REPLACE, true, "subnet.a", "key.k", NULL);
    change(p, "lone.l", SF_ACT_REPLACE, false, NULL);
    json_t *state = json_pack("{s:[s], s:[s, s]}", "subnet.a", "net.n", "srv.app", "subnet.a",
                              "key.k");
    struct sf_actions *a = build_ok(p, state);
    const char *spread[] = {"net.n", "subnet.a", "srv.app"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_msg(sf_actions_get(a, node(a, SF_ACTION_APPLY, spread[i]))->create_before_destroy,
                      "%s create", spread[i]);
        ck_assert_msg(
            sf_actions_get(a, node(a, SF_ACTION_DESTROY, spread[i]))->create_before_destroy,
            "%s delete", spread[i]);
    }
    ck_assert(!sf_actions_get(a, node(a, SF_ACTION_APPLY, "key.k"))->create_before_destroy);
    ck_assert(!sf_actions_get(a, node(a, SF_ACTION_APPLY, "lone.l"))->create_before_destroy);
    assert_before(a, node(a, SF_ACTION_DESTROY, "lone.l"), node(a, SF_ACTION_APPLY, "lone.l"));

    int cn = node(a, SF_ACTION_APPLY, "net.n"), dn = node(a, SF_ACTION_DESTROY, "net.n");
    int cs = node(a, SF_ACTION_APPLY, "subnet.a"), ds = node(a, SF_ACTION_DESTROY, "subnet.a");
    int ca = node(a, SF_ACTION_APPLY, "srv.app"), da = node(a, SF_ACTION_DESTROY, "srv.app");
    /* Every create first, in dependency order... */
    assert_before(a, cn, cs);
    assert_before(a, cs, ca);
    /* ...then every old object, dependents first. */
    assert_before(a, ca, da);
    assert_before(a, ca, ds);
    assert_before(a, cs, dn);
    assert_before(a, da, ds);
    assert_before(a, ds, dn);
    sf_actions_free(a);
    json_decref(state);
    sf_plan_free(p);
}
END_TEST

START_TEST(test_deposed)
{
    struct sf_plan *p = sf_plan_new();
    /* srv.app has old objects left by an earlier create_before_destroy
     * replacement, and its current one is updated: the deposed ones go
     * after the update. srv.old has only deposed objects left. */
    struct sf_change *c = change(p, "srv.app", SF_ACT_DELETE, false, NULL);
    c->deposed = 2;
    change(p, "srv.app", SF_ACT_UPDATE, false, NULL);
    c = change(p, "srv.old", SF_ACT_DELETE, false, NULL);
    c->deposed = 1;
    struct sf_actions *a = build_ok(p, NULL);
    ck_assert_uint_eq(sf_graph_size(sf_actions_graph(a)), 3);
    int dep = node(a, SF_ACTION_DEPOSED, "srv.app"), upd = node(a, SF_ACTION_APPLY, "srv.app");
    int old = node(a, SF_ACTION_DEPOSED, "srv.old");
    ck_assert_int_eq(sf_actions_get(a, dep)->change->deposed, 2);
    ck_assert_int_eq(sf_actions_find(a, SF_ACTION_DESTROY, "srv.app"), -1);
    ck_assert_int_eq(sf_actions_find(a, SF_ACTION_DESTROY, "srv.old"), -1);
    assert_before(a, upd, dep);
    assert_independent(a, old, upd);
    sf_actions_free(a);
    sf_plan_free(p);
}
END_TEST

START_TEST(test_cycle_between_replacements)
{
    struct sf_plan *p = sf_plan_new();
    /* srv uses net; net must be created before srv is replaced, and its old
     * object deleted after (create_before_destroy); srv's old object is
     * deleted before its new one is created. But the state says the old
     * net was created after the old srv, so the old net must go first:
     * delete srv -> create srv -> delete net -> delete srv. */
    change(p, "net.n", SF_ACT_REPLACE, true, NULL);
    change(p, "srv.app", SF_ACT_REPLACE, false, "net.n", NULL);
    json_t *state = json_pack("{s:[s]}", "net.n", "srv.app");
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_ptr_null(sf_actions_build(p, deps_of, state, &d));
    ck_assert_uint_eq(sf_diags_errors(&d), 1);
    ck_assert_msg(strstr(d.items[0].summary, "cannot be ordered") != NULL, "%s",
                  d.items[0].summary);
    ck_assert_ptr_nonnull(d.items[0].detail);
    ck_assert_msg(strstr(d.items[0].detail, "destroy:srv.app") &&
                      strstr(d.items[0].detail, "apply:srv.app") &&
                      strstr(d.items[0].detail, "destroy:net.n"),
                  "the cycle's members are named: %s", d.items[0].detail);
    sf_diags_free(&d);

    /* Without that record there is an order. */
    struct sf_actions *a = build_ok(p, NULL);
    sf_actions_free(a);
    json_decref(state);
    sf_plan_free(p);
}
END_TEST

static Suite *actions_suite(void)
{
    Suite *s = suite_create("actions");
    TCase *tc = tcase_create("actions");
    tcase_add_test(tc, test_creates_after_dependencies);
    tcase_add_test(tc, test_destroys_in_reverse);
    tcase_add_test(tc, test_replace);
    tcase_add_test(tc, test_replace_create_before_destroy);
    tcase_add_test(tc, test_create_before_destroy_spreads);
    tcase_add_test(tc, test_deposed);
    tcase_add_test(tc, test_cycle_between_replacements);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(actions_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failures = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failures != 0;
}

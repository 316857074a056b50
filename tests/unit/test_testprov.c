/*
 * Unit tests of the test provider (tests/testprov): the store it keeps in
 * SPARKFORM_TEST_STORE, injected latency and failures, and adopt.
 */
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "provider.h"
#include "testprov.h"
#include "util.h"

static char store[256];
static struct sf_diags diags;
static struct sf_call call;
static const struct sf_resource_type *rt;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static void setup(void)
{
    snprintf(store, sizeof(store), "/tmp/sf-test-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(store));
    setenv("SPARKFORM_TEST_STORE", store, 1);
    unsetenv("SPARKFORM_TEST_CRASH_AFTER_CREATE");
    sf_diags_init(&diags);
    memset(&call, 0, sizeof(call));
    call.address = "test_resource.a";
    call.type = "test_resource";
    call.name = "a";
    call.stack = "unit";
    call.lineage = "lineage-1";
    call.config_dir = store;
    call.diags = &diags;
    rt = sf_provider_test.types[0];
    ck_assert_str_eq(rt->name, "test_resource");
    ck_assert_ptr_null(sf_provider_test.types[1]);
}

static void teardown(void)
{
    nftw(store, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sf_diags_free(&diags);
}

static char *object_file(const json_t *o)
{
    return sf_asprintf("%s/%s.json", store, json_string_value(json_object_get(o, "id")));
}

static size_t store_count(void)
{
    DIR *d = opendir(store);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".json") != NULL;
    closedir(d);
    return n;
}

static const char *last_error(void)
{
    ck_assert_uint_gt(diags.n, 0);
    return diags.items[diags.n - 1].summary;
}

START_TEST(schema)
{
    ck_assert_uint_eq(sf_schema_attr(rt, "size")->flags, SF_OPTIONAL | SF_IGNORE_DRIFT);
    ck_assert_uint_eq(sf_schema_attr(rt, "secret")->flags, SF_OPTIONAL | SF_SENSITIVE);
    ck_assert_uint_eq(sf_schema_attr(rt, "key")->flags, SF_OPTIONAL | SF_FORCE_NEW);
    ck_assert_int_eq(sf_schema_attr(rt, "tags")->type, SF_MAP);
    ck_assert_int_eq(sf_schema_attr(rt, "items")->type, SF_LIST);
    ck_assert_int_eq(sf_schema_attr(rt, "enabled")->type, SF_BOOL);
    ck_assert_str_eq(sf_schema_attr(rt, "latency_ms")->default_json, "0");
    ck_assert_str_eq(sf_schema_attr(rt, "fail_on")->default_json, "\"\"");
    ck_assert_uint_eq(sf_schema_attr(rt, "computed_value")->flags, SF_COMPUTED);
}
END_TEST

START_TEST(lifecycle)
{
    json_t *desired =
        json_pack("{s:s, s:s, s:{s:s}, s:[i,i], s:i, s:b, s:i, s:i, s:s}", "value", "v1", "key",
                  "k", "tags", "team", "data", "items", 1, 2, "count", 3, "enabled", 1, "size", 2,
                  "latency_ms", 0, "fail_on", "");
    json_t *out = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);
    const char *id = json_string_value(json_object_get(out, "id"));
    ck_assert_uint_eq(strlen(id), 36);
    char *cv = sf_asprintf("%s:v1", id);
    ck_assert_str_eq(json_string_value(json_object_get(out, "computed_value")), cv);
    free(cv);
    ck_assert(sf_value_equal(json_object_get(out, "tags"), json_object_get(desired, "tags")));

    /* The file holds the attributes, the address and the lineage. */
    char *path = object_file(out);
    json_t *doc = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "address")), "test_resource.a");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "lineage")), "lineage-1");
    ck_assert(sf_value_equal(json_object_get(doc, "attributes"), out));

    json_t *seen = NULL;
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert(sf_value_equal(seen, out));
    json_decref(seen);

    /* Drift: edit the file, read reports the edit. */
    json_object_set_new(json_object_get(doc, "attributes"), "value", json_string("by hand"));
    ck_assert_int_eq(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert_str_eq(json_string_value(json_object_get(seen, "value")), "by hand");

    /* Update keeps the id and recomputes computed_value. */
    json_object_set_new(desired, "value", json_string("v2"));
    json_t *updated = NULL;
    ck_assert_int_eq(rt->update(&call, seen, desired, &updated), 0);
    ck_assert_str_eq(json_string_value(json_object_get(updated, "id")), id);
    cv = sf_asprintf("%s:v2", id);
    ck_assert_str_eq(json_string_value(json_object_get(updated, "computed_value")), cv);
    free(cv);
    json_decref(seen);
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert(sf_value_equal(seen, updated));
    json_decref(seen);
    ck_assert_uint_eq(store_count(), 1);

    ck_assert_int_eq(rt->delete(&call, updated), 0);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(rt->read(&call, updated, &seen), 0);
    ck_assert_ptr_null(seen);
    ck_assert_int_eq(rt->delete(&call, updated), 0); /* gone is fine */
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);

    /* Updating what is gone fails, as a cloud API would. */
    json_t *none = NULL;
    ck_assert_int_lt(rt->update(&call, updated, desired, &none), 0);
    ck_assert_ptr_null(none);

    free(path);
    json_decref(updated);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(computed_value_without_value)
{
    json_t *desired = json_pack("{s:i, s:s}", "latency_ms", 0, "fail_on", "");
    json_t *out = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    char *cv = sf_asprintf("%s:", json_string_value(json_object_get(out, "id")));
    ck_assert_str_eq(json_string_value(json_object_get(out, "computed_value")), cv);
    free(cv);

    json_t *other = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &other), 0);
    ck_assert_str_ne(json_string_value(json_object_get(out, "id")),
                     json_string_value(json_object_get(other, "id")));
    json_decref(other);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(adopt)
{
    json_t *desired = json_pack("{s:s, s:i, s:s}", "value", "x", "latency_ms", 0, "fail_on", "");
    json_t *found = NULL;
    ck_assert_int_eq(rt->adopt(&call, desired, &found), 0);
    ck_assert_ptr_null(found);

    /* Objects of other addresses and another lineage around it. */
    json_t *tmp = NULL;
    call.address = "test_resource.b";
    ck_assert_int_eq(rt->create(&call, desired, &tmp), 0);
    json_decref(tmp);
    call.address = "test_resource.a";
    call.lineage = "lineage-2";
    ck_assert_int_eq(rt->create(&call, desired, &tmp), 0);
    json_decref(tmp);
    call.lineage = "lineage-1";
    call.address = "test_resource.a[\"k\"]";
    ck_assert_int_eq(rt->create(&call, desired, &tmp), 0);
    json_decref(tmp);

    call.address = "test_resource.a";
    ck_assert_int_eq(rt->adopt(&call, desired, &found), 0);
    ck_assert_ptr_null(found);

    json_t *mine = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &mine), 0);
    ck_assert_int_eq(rt->adopt(&call, desired, &found), 0);
    ck_assert_ptr_nonnull(found);
    ck_assert(sf_value_equal(found, mine));
    json_decref(found);

    call.address = "test_resource.a[\"k\"]";
    ck_assert_int_eq(rt->adopt(&call, desired, &found), 0);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_ne(json_string_value(json_object_get(found, "id")),
                     json_string_value(json_object_get(mine, "id")));
    json_decref(found);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);

    json_decref(mine);
    json_decref(desired);
}
END_TEST

START_TEST(injected_failure)
{
    json_t *desired =
        json_pack("{s:s, s:i, s:s}", "value", "x", "latency_ms", 0, "fail_on", "create");
    json_t *out = NULL;
    /* The object exists when create fails (like a server in ERROR), and
     * create hands it back so that the engine records it as tainted. */
    ck_assert_int_lt(rt->create(&call, desired, &out), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(last_error(), "injected failure on create");
    ck_assert_str_eq(diags.items[diags.n - 1].address, "test_resource.a");
    ck_assert_uint_eq(store_count(), 1);
    ck_assert_int_eq(rt->delete(&call, out), 0);
    ck_assert_uint_eq(store_count(), 0);
    json_decref(out);
    out = NULL;

    json_object_set_new(desired, "fail_on", json_string("update, read,delete"));
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    json_t *seen = NULL;
    ck_assert_int_lt(rt->read(&call, out, &seen), 0);
    ck_assert_str_eq(last_error(), "injected failure on read");
    json_t *updated = NULL;
    ck_assert_int_lt(rt->update(&call, out, desired, &updated), 0);
    ck_assert_str_eq(last_error(), "injected failure on update");
    ck_assert_int_lt(rt->delete(&call, out), 0);
    ck_assert_str_eq(last_error(), "injected failure on delete");
    ck_assert_uint_eq(store_count(), 1);

    /* Without the injection in the recorded object, delete works. */
    json_object_set_new(out, "fail_on", json_string(""));
    ck_assert_int_eq(rt->delete(&call, out), 0);
    ck_assert_uint_eq(store_count(), 0);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(latency)
{
    json_t *desired = json_pack("{s:s, s:i, s:s}", "value", "x", "latency_ms", 150, "fail_on", "");
    json_t *out = NULL, *seen = NULL;
    double t0 = sf_now();
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    double t1 = sf_now();
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    double t2 = sf_now();
    ck_assert_msg(t1 - t0 >= 0.14 && t1 - t0 < 2.0, "create took %.3fs", t1 - t0);
    ck_assert_msg(t2 - t1 >= 0.14 && t2 - t1 < 2.0, "read took %.3fs", t2 - t1);

    /* Latency comes before the failure. */
    json_object_set_new(desired, "fail_on", json_string("create"));
    json_t *none = NULL;
    t0 = sf_now();
    ck_assert_int_lt(rt->create(&call, desired, &none), 0);
    ck_assert_msg(sf_now() - t0 >= 0.14, "failing create did not wait");
    json_decref(none); /* the object exists although create failed */

    json_object_set_new(desired, "latency_ms", json_integer(0));
    json_object_set_new(desired, "fail_on", json_string(""));
    t0 = sf_now();
    json_t *fast = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &fast), 0);
    ck_assert_msg(sf_now() - t0 < 0.1, "create without latency was slow");
    json_decref(fast);
    json_decref(seen);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(missing_store_env)
{
    unsetenv("SPARKFORM_TEST_STORE");
    json_t *desired = json_pack("{s:s, s:i, s:s}", "value", "x", "latency_ms", 0, "fail_on", "");
    json_t *out = NULL;
    ck_assert_int_lt(rt->create(&call, desired, &out), 0);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(last_error(), "SPARKFORM_TEST_STORE is not set");

    json_t *prior = json_pack("{s:s}", "id", "00000000-0000-4000-8000-000000000000");
    size_t before = sf_diags_errors(&diags);
    ck_assert_int_lt(rt->read(&call, prior, &out), 0);
    ck_assert_int_lt(rt->delete(&call, prior), 0);
    ck_assert_int_lt(rt->adopt(&call, desired, &out), 0);
    ck_assert_uint_eq(sf_diags_errors(&diags), before + 3);
    json_decref(prior);
    json_decref(desired);
}
END_TEST

START_TEST(crash_after_create)
{
    json_t *desired = json_pack("{s:s, s:i, s:s}", "value", "x", "latency_ms", 0, "fail_on", "");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("SPARKFORM_TEST_CRASH_AFTER_CREATE", "test_resource.a", 1);
        json_t *out = NULL;
        rt->create(&call, desired, &out);
        _exit(0); /* not reached when the crash works */
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 137);
    ck_assert_uint_eq(store_count(), 1);

    /* The next run finds the object. */
    json_t *found = NULL;
    ck_assert_int_eq(rt->adopt(&call, desired, &found), 0);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(json_string_value(json_object_get(found, "value")), "x");
    json_decref(found);

    /* Another address is not affected. */
    setenv("SPARKFORM_TEST_CRASH_AFTER_CREATE", "test_resource.other", 1);
    json_t *out = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    json_decref(out);
    unsetenv("SPARKFORM_TEST_CRASH_AFTER_CREATE");
    json_decref(desired);
}
END_TEST

START_TEST(many_objects_read_fast)
{
    json_t *desired = json_pack("{s:s, s:i, s:s}", "value", "x", "latency_ms", 0, "fail_on", "");
    enum { N = 2000 };
    json_t **objs = sf_xcalloc(N, sizeof(*objs));
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(rt->create(&call, desired, &objs[i]), 0);
    double t0 = sf_now();
    for (int i = 0; i < N; i++) {
        json_t *seen = NULL;
        ck_assert_int_eq(rt->read(&call, objs[i], &seen), 0);
        ck_assert_ptr_nonnull(seen);
        json_decref(seen);
    }
    double dt = sf_now() - t0;
    ck_assert_msg(dt < 2.0, "reading %d objects took %.2fs", N, dt);
    for (int i = 0; i < N; i++)
        json_decref(objs[i]);
    free(objs);
    json_decref(desired);
}
END_TEST

static Suite *testprov_suite(void)
{
    Suite *s = suite_create("testprov");
    TCase *tc = tcase_create("testprov");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, schema);
    tcase_add_test(tc, lifecycle);
    tcase_add_test(tc, computed_value_without_value);
    tcase_add_test(tc, adopt);
    tcase_add_test(tc, injected_failure);
    tcase_add_test(tc, latency);
    tcase_add_test(tc, missing_store_env);
    tcase_add_test(tc, crash_after_create);
    tcase_add_test(tc, many_objects_read_fast);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(testprov_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failures = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failures != 0;
}

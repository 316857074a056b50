/*
 * Unit tests of the schema-driven diff (plans/diff.c): which action each
 * combination of recorded state, refreshed state and description gives,
 * and what the planned `after` holds.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static const struct sf_attr file_attrs[] = {
    {"path", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, NULL},
    {"content", SF_STRING, SF_OPTIONAL, "\"\"", NULL},
    {"sensitive_content", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL, NULL},
    {"mode", SF_STRING, SF_OPTIONAL, "\"0644\"", NULL},
    {"id", SF_STRING, SF_COMPUTED, NULL, NULL},
    {NULL, 0, 0, NULL, NULL},
};
static const struct sf_resource_type file_type = {.name = "local_file", .doc = "a file", .attrs = file_attrs};

static const struct sf_attr test_attrs[] = {
    {"value", SF_STRING, SF_OPTIONAL, NULL, NULL},
    {"key", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, NULL, NULL},
    {"secret", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL, NULL},
    {"tags", SF_MAP, SF_OPTIONAL, NULL, NULL},
    {"items", SF_LIST, SF_OPTIONAL, NULL, NULL},
    {"count", SF_NUMBER, SF_OPTIONAL, NULL, NULL},
    {"enabled", SF_BOOL, SF_OPTIONAL, NULL, NULL},
    {"size", SF_NUMBER, SF_OPTIONAL | SF_IGNORE_DRIFT, NULL, NULL},
    {"latency_ms", SF_NUMBER, SF_OPTIONAL, "0", NULL},
    {"fail_on", SF_STRING, SF_OPTIONAL, "\"\"", NULL},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, NULL},
    {"computed_value", SF_STRING, SF_COMPUTED, NULL, NULL},
    {NULL, 0, 0, NULL, NULL},
};
static const struct sf_resource_type test_type = {.name = "test_resource", .doc = "a test", .attrs = test_attrs};

/* An optional + computed attribute, not in the fixed schemas but allowed by
 * the contract. */
static const struct sf_attr oc_attrs[] = {
    {"name", SF_STRING, SF_REQUIRED, NULL, NULL},
    {"zone", SF_STRING, SF_OPTIONAL | SF_COMPUTED, NULL, NULL},
    {"id", SF_STRING, SF_COMPUTED, NULL, NULL},
    {NULL, 0, 0, NULL, NULL},
};
static const struct sf_resource_type oc_type = {.name = "oc_thing", .doc = "", .attrs = oc_attrs};

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, err.text);
    return v;
}

static void change_clear(struct sf_change *c)
{
    free(c->type);
    json_decref(c->before);
    json_decref(c->after);
    json_decref(c->sensitive);
    json_decref(c->replace_paths);
    memset(c, 0, sizeof(*c));
}

static const char *after_str(const struct sf_change *c, const char *k)
{
    return json_string_value(json_object_get(c->after, k));
}

static bool has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_is_string(e) && strcmp(json_string_value(e), s) == 0) return true;
    return false;
}

START_TEST(create_has_unknown_computed)
{
    json_t *desired = J("{\"path\":\"motd.txt\",\"content\":\"hello\",\"mode\":\"0644\"}");
    struct sf_change c = {0};
    sf_diff(&file_type, NULL, NULL, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_CREATE);
    ck_assert_int_eq(c.reason, SF_REASON_NONE);
    ck_assert_ptr_null(c.before);
    ck_assert(sf_is_unknown(json_object_get(c.after, "id")));
    ck_assert_str_eq(after_str(&c, "path"), "motd.txt");
    ck_assert_str_eq(after_str(&c, "content"), "hello");
    /* unset optional attributes stay unset */
    ck_assert_ptr_null(json_object_get(c.after, "sensitive_content"));
    ck_assert_int_eq(json_array_size(c.replace_paths), 0);
    change_clear(&c);
    json_decref(desired);
}
END_TEST

START_TEST(noop_keeps_computed)
{
    json_t *prior = J("{\"path\":\"motd.txt\",\"content\":\"hello\",\"mode\":\"0644\",\"id\":\"abc\"}");
    json_t *desired = J("{\"path\":\"motd.txt\",\"content\":\"hello\",\"mode\":\"0644\"}");
    struct sf_change c = {0};
    sf_diff(&file_type, prior, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_NOOP);
    ck_assert_str_eq(after_str(&c, "id"), "abc");
    ck_assert(sf_value_equal(c.before, prior));
    ck_assert_ptr_ne(c.before, prior); /* a copy */
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
}
END_TEST

START_TEST(update_in_place)
{
    json_t *prior = J("{\"path\":\"motd.txt\",\"content\":\"hello\",\"mode\":\"0644\",\"id\":\"abc\"}");
    json_t *desired = J("{\"path\":\"motd.txt\",\"content\":\"bye\",\"mode\":\"0644\"}");
    struct sf_change c = {0};
    sf_diff(&file_type, prior, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_UPDATE);
    ck_assert_int_eq(c.reason, SF_REASON_NONE);
    ck_assert_str_eq(after_str(&c, "content"), "bye");
    /* local_file's id is the content's hash: the update changes it. */
    ck_assert(sf_is_unknown(json_object_get(c.after, "id")));
    ck_assert_int_eq(json_array_size(c.replace_paths), 0);
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
}
END_TEST

START_TEST(update_keeps_only_stable_computed)
{
    json_t *prior = J("{\"value\":\"a\",\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\","
                      "\"computed_value\":\"1:a\"}");
    json_t *desired = J("{\"value\":\"b\",\"latency_ms\":0,\"fail_on\":\"\"}");
    struct sf_change c = {0};
    sf_diff(&test_type, prior, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_UPDATE);
    ck_assert_str_eq(after_str(&c, "id"), "1");
    ck_assert(sf_is_unknown(json_object_get(c.after, "computed_value")));
    change_clear(&c);
    /* With nothing to update, computed values stay known. */
    sf_diff(&test_type, prior, prior, prior, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_NOOP);
    ck_assert_str_eq(after_str(&c, "computed_value"), "1:a");
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
}
END_TEST

START_TEST(unset_attribute_is_a_change)
{
    json_t *prior = J("{\"value\":\"x\",\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\"}");
    json_t *desired = J("{\"latency_ms\":0,\"fail_on\":\"\"}");
    struct sf_change c = {0};
    sf_diff(&test_type, prior, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_UPDATE);
    ck_assert_ptr_null(json_object_get(c.after, "value"));
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
}
END_TEST

START_TEST(force_new_replaces)
{
    json_t *prior = J("{\"path\":\"a.txt\",\"content\":\"x\",\"mode\":\"0644\",\"id\":\"abc\"}");
    json_t *desired = J("{\"path\":\"b.txt\",\"content\":\"y\",\"mode\":\"0644\"}");
    struct sf_change c = {0};
    sf_diff(&file_type, prior, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_REPLACE);
    ck_assert_int_eq(c.reason, SF_REASON_FORCE_NEW);
    ck_assert_int_eq(json_array_size(c.replace_paths), 1);
    ck_assert_str_eq(json_string_value(json_array_get(c.replace_paths, 0)), "path");
    ck_assert(sf_is_unknown(json_object_get(c.after, "id")));
    ck_assert_str_eq(after_str(&c, "path"), "b.txt");
    ck_assert_str_eq(after_str(&c, "content"), "y");
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
}
END_TEST

START_TEST(ignore_changes_keeps_prior)
{
    json_t *prior = J("{\"path\":\"a.txt\",\"content\":\"edited\",\"mode\":\"0644\",\"id\":\"abc\"}");
    json_t *desired = J("{\"path\":\"a.txt\",\"content\":\"original\",\"mode\":\"0644\"}");
    const char *ignore[] = {"content"};
    struct sf_change c = {0};
    sf_diff(&file_type, prior, prior, desired, ignore, 1, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_NOOP);
    ck_assert_str_eq(after_str(&c, "content"), "edited");
    change_clear(&c);

    /* an ignored force-new attribute does not replace either */
    json_t *desired2 = J("{\"path\":\"other.txt\",\"content\":\"edited\",\"mode\":\"0644\"}");
    const char *ignore2[] = {"path"};
    sf_diff(&file_type, prior, prior, desired2, ignore2, 1, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_NOOP);
    ck_assert_str_eq(after_str(&c, "path"), "a.txt");
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
    json_decref(desired2);
}
END_TEST

START_TEST(ignore_drift_compares_recorded)
{
    json_t *recorded = J("{\"size\":3,\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\",\"computed_value\":\"1:\"}");
    json_t *prior = J("{\"size\":5,\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\",\"computed_value\":\"1:\"}");
    json_t *desired = J("{\"size\":3,\"latency_ms\":0,\"fail_on\":\"\"}");
    struct sf_change c = {0};
    sf_diff(&test_type, recorded, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_NOOP);
    /* the autoscaler's value stands */
    ck_assert_int_eq(json_integer_value(json_object_get(c.after, "size")), 5);
    change_clear(&c);

    /* a change in the description is still a change */
    json_t *desired2 = J("{\"size\":4,\"latency_ms\":0,\"fail_on\":\"\"}");
    sf_diff(&test_type, recorded, prior, desired2, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_UPDATE);
    ck_assert_int_eq(json_integer_value(json_object_get(c.after, "size")), 4);
    change_clear(&c);

    /* without the flag the same drift is an update back */
    json_t *recorded3 = J("{\"count\":3,\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\"}");
    json_t *prior3 = J("{\"count\":5,\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\"}");
    json_t *desired3 = J("{\"count\":3,\"latency_ms\":0,\"fail_on\":\"\"}");
    sf_diff(&test_type, recorded3, prior3, desired3, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_UPDATE);
    change_clear(&c);
    json_decref(recorded);
    json_decref(prior);
    json_decref(desired);
    json_decref(desired2);
    json_decref(recorded3);
    json_decref(prior3);
    json_decref(desired3);
}
END_TEST

START_TEST(deleted_outside_is_create_gone)
{
    json_t *recorded = J("{\"path\":\"a.txt\",\"content\":\"x\",\"mode\":\"0644\",\"id\":\"abc\"}");
    json_t *desired = J("{\"path\":\"a.txt\",\"content\":\"x\",\"mode\":\"0644\"}");
    struct sf_change c = {0};
    sf_diff(&file_type, recorded, NULL, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_CREATE);
    ck_assert_int_eq(c.reason, SF_REASON_GONE);
    ck_assert_ptr_null(c.before);
    ck_assert(sf_is_unknown(json_object_get(c.after, "id")));
    change_clear(&c);
    json_decref(recorded);
    json_decref(desired);
}
END_TEST

START_TEST(unknown_desired_is_update)
{
    json_t *prior = J("{\"value\":\"x\",\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\"}");
    json_t *desired = J("{\"latency_ms\":0,\"fail_on\":\"\"}");
    json_object_set(desired, "value", sf_unknown());
    struct sf_change c = {0};
    sf_diff(&test_type, prior, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_UPDATE);
    ck_assert(sf_is_unknown(json_object_get(c.after, "value")));
    change_clear(&c);

    /* nested inside a list */
    json_t *prior2 = J("{\"items\":[\"a\",\"b\"],\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\"}");
    json_t *desired2 = J("{\"items\":[\"a\"],\"latency_ms\":0,\"fail_on\":\"\"}");
    json_array_append(json_object_get(desired2, "items"), sf_unknown());
    sf_diff(&test_type, prior2, prior2, desired2, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_UPDATE);
    ck_assert(sf_is_unknown(json_array_get(json_object_get(c.after, "items"), 1)));
    change_clear(&c);

    /* an unknown force-new attribute replaces */
    json_t *prior3 = J("{\"key\":\"k\",\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\"}");
    json_t *desired3 = J("{\"latency_ms\":0,\"fail_on\":\"\"}");
    json_object_set(desired3, "key", sf_unknown());
    sf_diff(&test_type, prior3, prior3, desired3, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_REPLACE);
    ck_assert(has_string(c.replace_paths, "key"));
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
    json_decref(prior2);
    json_decref(desired2);
    json_decref(prior3);
    json_decref(desired3);
}
END_TEST

START_TEST(force_replace_tainted)
{
    json_t *prior = J("{\"path\":\"a.txt\",\"content\":\"x\",\"mode\":\"0644\",\"id\":\"abc\"}");
    json_t *desired = J("{\"path\":\"a.txt\",\"content\":\"x\",\"mode\":\"0644\"}");
    struct sf_change c = {0};
    sf_diff(&file_type, prior, prior, desired, NULL, 0, true, SF_REASON_TAINTED, &c);
    ck_assert_int_eq(c.action, SF_ACT_REPLACE);
    ck_assert_int_eq(c.reason, SF_REASON_TAINTED);
    ck_assert(sf_is_unknown(json_object_get(c.after, "id")));
    change_clear(&c);

    sf_diff(&file_type, prior, prior, desired, NULL, 0, true, SF_REASON_REQUESTED, &c);
    ck_assert_int_eq(c.action, SF_ACT_REPLACE);
    ck_assert_int_eq(c.reason, SF_REASON_REQUESTED);
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
}
END_TEST

START_TEST(sensitive_from_schema)
{
    json_t *desired = J("{\"secret\":\"hunter2\",\"latency_ms\":0,\"fail_on\":\"\"}");
    struct sf_change c = {0};
    sf_diff(&test_type, NULL, NULL, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(json_array_size(c.sensitive), 1);
    ck_assert(has_string(c.sensitive, "secret"));
    change_clear(&c);

    /* merged into what the engine set already, without repeats */
    c.sensitive = J("[\"value\",\"secret\"]");
    sf_diff(&test_type, NULL, NULL, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(json_array_size(c.sensitive), 2);
    ck_assert(has_string(c.sensitive, "value"));
    ck_assert(has_string(c.sensitive, "secret"));
    change_clear(&c);
    json_decref(desired);
}
END_TEST

START_TEST(number_equality)
{
    json_t *prior = J("{\"count\":1,\"latency_ms\":0,\"fail_on\":\"\",\"id\":\"1\"}");
    json_t *desired = J("{\"count\":1.0,\"latency_ms\":0.0,\"fail_on\":\"\"}");
    struct sf_change c = {0};
    sf_diff(&test_type, prior, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_NOOP);
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
}
END_TEST

START_TEST(optional_computed)
{
    json_t *prior = J("{\"name\":\"n\",\"zone\":\"z1\",\"id\":\"7\"}");
    json_t *desired = J("{\"name\":\"n\"}");
    struct sf_change c = {0};
    sf_diff(&oc_type, prior, prior, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_NOOP);
    ck_assert_str_eq(after_str(&c, "zone"), "z1");
    change_clear(&c);

    sf_diff(&oc_type, NULL, NULL, desired, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert(sf_is_unknown(json_object_get(c.after, "zone")));
    change_clear(&c);

    json_t *desired2 = J("{\"name\":\"n\",\"zone\":\"z2\"}");
    sf_diff(&oc_type, prior, prior, desired2, NULL, 0, false, SF_REASON_NONE, &c);
    ck_assert_int_eq(c.action, SF_ACT_UPDATE);
    ck_assert_str_eq(after_str(&c, "zone"), "z2");
    change_clear(&c);
    json_decref(prior);
    json_decref(desired);
    json_decref(desired2);
}
END_TEST

static Suite *diff_suite(void)
{
    Suite *s = suite_create("diff");
    TCase *tc = tcase_create("diff");
    tcase_add_test(tc, create_has_unknown_computed);
    tcase_add_test(tc, noop_keeps_computed);
    tcase_add_test(tc, update_in_place);
    tcase_add_test(tc, update_keeps_only_stable_computed);
    tcase_add_test(tc, unset_attribute_is_a_change);
    tcase_add_test(tc, force_new_replaces);
    tcase_add_test(tc, ignore_changes_keeps_prior);
    tcase_add_test(tc, ignore_drift_compares_recorded);
    tcase_add_test(tc, deleted_outside_is_create_gone);
    tcase_add_test(tc, unknown_desired_is_update);
    tcase_add_test(tc, force_replace_tainted);
    tcase_add_test(tc, sensitive_from_schema);
    tcase_add_test(tc, number_equality);
    tcase_add_test(tc, optional_computed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(diff_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

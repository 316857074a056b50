/*
 * Unit tests of the plan's outputs (plans/render.c, planjson.c, planfile.c,
 * plan.c): the exact human text, the -json forms (never a secret in them),
 * plan files that round-trip everything, and `show` of a state.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"
#include "util.h"

#define SECRET "hunter2-s3cr3t"

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, err.text);
    return v;
}

static struct sf_change *add(struct sf_plan *p, const char *type, const char *name, enum sf_action a,
                             enum sf_reason r, const char *before, const char *after)
{
    struct sf_change *c = sf_plan_add_change(p);
    c->type = strdup(type);
    c->name = strdup(name);
    c->address = sf_asprintf("%s.%s", type, name);
    c->action = a;
    c->reason = r;
    c->before = before ? J(before) : NULL;
    c->after = after ? J(after) : NULL;
    c->sensitive = json_array();
    c->replace_paths = json_array();
    c->dependencies = json_array();
    return c;
}

/* One of every kind of change, with drift, outputs, a secret, unknowns and
 * multi-line strings. */
static struct sf_plan *sample_plan(void)
{
    struct sf_plan *p = sf_plan_new();
    p->lineage = strdup("8d7c-lineage");
    p->serial = 7;

    struct sf_drift *d = sf_plan_add_drift(p);
    d->address = strdup("test_resource.a");
    d->type = strdup("test_resource");
    d->before = J("{\"value\":\"x\",\"id\":\"1\",\"secret\":\"" SECRET "\"}");
    d->after = J("{\"value\":\"y\",\"id\":\"1\",\"secret\":\"" SECRET "-drifted\"}");
    d->sensitive = J("[\"secret\"]");
    d = sf_plan_add_drift(p);
    d->address = strdup("local_file.gone");
    d->type = strdup("local_file");
    d->before = J("{\"path\":\"out/gone.txt\"}");
    d->after = NULL;
    d->sensitive = json_array();

    struct sf_change *c = add(p, "local_file", "motd", SF_ACT_CREATE, SF_REASON_NONE, NULL,
                              "{\"path\":\"motd.txt\",\"content\":\"hello\",\"mode\":\"0644\","
                              "\"sensitive_content\":null}");
    json_object_set(c->after, "id", sf_unknown());
    json_array_append_new(c->sensitive, json_string("sensitive_content"));

    c = add(p, "test_resource", "b", SF_ACT_UPDATE, SF_REASON_NONE,
            "{\"value\":\"old\",\"id\":\"b1\",\"count\":1,\"enabled\":true,\"tags\":{\"env\":\"dev\",\"team\":\"data\",\"old\":\"o\"},"
            "\"secret\":\"" SECRET "\"}",
            "{\"value\":\"new\",\"id\":\"b1\",\"count\":1.0,\"enabled\":true,\"tags\":{\"env\":\"prod\",\"team\":\"data\",\"new\":\"n\"},"
            "\"secret\":\"" SECRET "-rotated\"}");
    json_array_append_new(c->sensitive, json_string("secret"));

    c = add(p, "test_resource", "c", SF_ACT_REPLACE, SF_REASON_FORCE_NEW,
            "{\"key\":\"a\",\"id\":\"1234\",\"value\":\"v\",\"count\":2}",
            "{\"key\":\"b\",\"value\":\"v\",\"count\":2}");
    json_object_set(c->after, "id", sf_unknown());
    json_array_append_new(c->replace_paths, json_string("key"));

    c = add(p, "test_resource", "t", SF_ACT_REPLACE, SF_REASON_TAINTED, "{\"value\":\"t\",\"id\":\"9\"}",
            "{\"value\":\"t\"}");
    json_object_set(c->after, "id", sf_unknown());
    c->create_before_destroy = true;

    c = add(p, "test_resource", "m", SF_ACT_CREATE, SF_REASON_NONE, NULL,
            "{\"value\":\"first\\nsecond\\n\",\"items\":[\"x\",2],\"tags\":{\"k\":\"v\"}}");
    json_object_set(json_object_get(c->after, "tags"), "later", sf_unknown());

    c = add(p, "local_file", "u", SF_ACT_UPDATE, SF_REASON_NONE,
            "{\"path\":\"u.txt\",\"content\":\"one\\ntwo\\nthree\\n\",\"id\":\"u1\",\"mode\":\"0644\"}",
            "{\"path\":\"u.txt\",\"content\":\"one\\n2\\nthree\\n\",\"id\":\"u1\",\"mode\":\"0600\"}");

    c = add(p, "test_resource", "l", SF_ACT_UPDATE, SF_REASON_NONE,
            "{\"items\":[\"a\",\"b\",\"c\"],\"id\":\"l1\"}", "{\"items\":[\"a\",\"c\",\"d\"],\"id\":\"l1\"}");

    add(p, "test_resource", "n", SF_ACT_NOOP, SF_REASON_NONE, "{\"value\":\"same\"}", "{\"value\":\"same\"}");

    add(p, "local_file", "old", SF_ACT_DELETE, SF_REASON_NOT_IN_CONFIG,
        "{\"path\":\"old.txt\",\"content\":\"line1\\nline2\",\"mode\":\"0644\",\"id\":\"ff\"}", NULL);

    struct sf_output_change *o = sf_plan_add_output(p);
    o->name = strdup("motd_path");
    o->action = SF_ACT_CREATE;
    o->after = json_string("motd.txt");
    o = sf_plan_add_output(p);
    o->name = strdup("token");
    o->action = SF_ACT_UPDATE;
    o->before = json_string(SECRET "-out-1");
    o->after = json_string(SECRET "-out-2");
    o->sensitive = true;
    o = sf_plan_add_output(p);
    o->name = strdup("id");
    o->action = SF_ACT_CREATE;
    o->after = json_incref(sf_unknown());
    o = sf_plan_add_output(p);
    o->name = strdup("same");
    o->action = SF_ACT_NOOP;
    o->before = json_string("s");
    o->after = json_string("s");
    return p;
}

static char *render(const struct sf_plan *p, bool color)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sf_plan_render(f, p, color);
    fclose(f);
    return buf;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static const char expected_full[] =
    "Note: Objects have changed outside of sparkform\n"
    "\n"
    "  # test_resource.a has changed\n"
    "  ~ resource \"test_resource\" \"a\" {\n"
    "      ~ secret = (sensitive value)\n"
    "      ~ value  = \"x\" -> \"y\"\n"
    "        # (1 unchanged attribute hidden)\n"
    "    }\n"
    "\n"
    "  # local_file.gone has been deleted\n"
    "  - resource \"local_file\" \"gone\" {\n"
    "      - path = \"out/gone.txt\"\n"
    "    }\n"
    "\n"
    "sparkform will perform the following actions:\n"
    "\n"
    "  # local_file.motd will be created\n"
    "  + resource \"local_file\" \"motd\" {\n"
    "      + content = \"hello\"\n"
    "      + id      = (known after apply)\n"
    "      + mode    = \"0644\"\n"
    "      + path    = \"motd.txt\"\n"
    "    }\n"
    "\n"
    "  # test_resource.b will be updated in place\n"
    "  ~ resource \"test_resource\" \"b\" {\n"
    "      ~ secret  = (sensitive value)\n"
    "      ~ tags    = {\n"
    "          ~ \"env\"  = \"dev\" -> \"prod\"\n"
    "          + \"new\"  = \"n\"\n"
    "          - \"old\"  = \"o\" -> null\n"
    "            # (1 unchanged element hidden)\n"
    "        }\n"
    "      ~ value   = \"old\" -> \"new\"\n"
    "        # (3 unchanged attributes hidden)\n"
    "    }\n"
    "\n"
    "  # test_resource.c must be replaced\n"
    "-/+ resource \"test_resource\" \"c\" {\n"
    "      ~ id    = \"1234\" -> (known after apply)\n"
    "      ~ key   = \"a\" -> \"b\" # forces replacement\n"
    "        # (2 unchanged attributes hidden)\n"
    "    }\n"
    "\n"
    "  # test_resource.t must be replaced\n"
    "  # (because test_resource.t is tainted, so it must be replaced)\n"
    "  # (new resource is created before the old is destroyed)\n"
    "+/- resource \"test_resource\" \"t\" {\n"
    "      ~ id    = \"9\" -> (known after apply)\n"
    "        # (1 unchanged attribute hidden)\n"
    "    }\n"
    "\n"
    "  # test_resource.m will be created\n"
    "  + resource \"test_resource\" \"m\" {\n"
    "      + items = [\n"
    "          + \"x\",\n"
    "          + 2,\n"
    "        ]\n"
    "      + tags  = {\n"
    "          + \"k\"     = \"v\"\n"
    "          + \"later\" = (known after apply)\n"
    "        }\n"
    "      + value = <<-EOT\n"
    "            first\n"
    "            second\n"
    "        EOT\n"
    "    }\n"
    "\n"
    "  # local_file.u will be updated in place\n"
    "  ~ resource \"local_file\" \"u\" {\n"
    "      ~ content = <<-EOT\n"
    "            one\n"
    "          - two\n"
    "          + 2\n"
    "            three\n"
    "        EOT\n"
    "      ~ mode    = \"0644\" -> \"0600\"\n"
    "        # (2 unchanged attributes hidden)\n"
    "    }\n"
    "\n"
    "  # test_resource.l will be updated in place\n"
    "  ~ resource \"test_resource\" \"l\" {\n"
    "      ~ items = [\n"
    "            \"a\",\n"
    "          - \"b\",\n"
    "            \"c\",\n"
    "          + \"d\",\n"
    "        ]\n"
    "        # (1 unchanged attribute hidden)\n"
    "    }\n"
    "\n"
    "  # local_file.old will be destroyed\n"
    "  # (because local_file.old is not in the description)\n"
    "  - resource \"local_file\" \"old\" {\n"
    "      - content = <<-EOT\n"
    "            line1\n"
    "            line2\n"
    "        EOT\n"
    "      - id      = \"ff\"\n"
    "      - mode    = \"0644\"\n"
    "      - path    = \"old.txt\"\n"
    "    }\n"
    "\n"
    "Changes to Outputs:\n"
    "  + motd_path = \"motd.txt\"\n"
    "  ~ token     = (sensitive value)\n"
    "  + id        = (known after apply)\n"
    "\n"
    "Plan: 4 to add, 3 to change, 3 to destroy.\n";

START_TEST(render_full_plan)
{
    struct sf_plan *p = sample_plan();
    char *text = render(p, false);
    ck_assert_str_eq(text, expected_full);
    ck_assert_ptr_null(strstr(text, SECRET));
    ck_assert_ptr_null(strchr(text, '\033'));
    free(text);
    /* deterministic */
    text = render(p, false);
    ck_assert_str_eq(text, expected_full);
    free(text);
    sf_plan_free(p);
}
END_TEST

START_TEST(render_color)
{
    struct sf_plan *p = sample_plan();
    char *text = render(p, true);
    ck_assert_ptr_nonnull(strstr(text, "\033[32m+\033[0m resource \"local_file\" \"motd\""));
    ck_assert_ptr_nonnull(strstr(text, "\033[33m~\033[0m value"));
    ck_assert_ptr_nonnull(strstr(text, "\033[31m-\033[0m resource \"local_file\" \"old\""));
    ck_assert_ptr_nonnull(strstr(text, "\033[1m# local_file.motd will be created\033[0m"));
    ck_assert_ptr_null(strstr(text, SECRET));
    free(text);
    sf_plan_free(p);
}
END_TEST

START_TEST(render_no_changes)
{
    struct sf_plan *p = sf_plan_new();
    char *text = render(p, false);
    ck_assert_str_eq(text, "No changes. Your infrastructure matches the description.\n");
    free(text);
    ck_assert(!sf_plan_has_changes(p));

    add(p, "test_resource", "n", SF_ACT_NOOP, SF_REASON_NONE, "{\"value\":\"v\"}", "{\"value\":\"v\"}");
    struct sf_output_change *o = sf_plan_add_output(p);
    o->name = strdup("same");
    o->action = SF_ACT_NOOP;
    o->before = json_string("s");
    o->after = json_string("s");
    text = render(p, false);
    ck_assert_str_eq(text, "No changes. Your infrastructure matches the description.\n");
    free(text);
    ck_assert(!sf_plan_has_changes(p));
    int a = -1, c = -1, d = -1;
    sf_plan_counts(p, &a, &c, &d);
    ck_assert_int_eq(a + c + d, 0);
    sf_plan_free(p);
}
END_TEST

START_TEST(render_refresh_only)
{
    struct sf_plan *p = sf_plan_new();
    p->refresh_only = true;
    ck_assert(!sf_plan_has_changes(p));
    struct sf_drift *d = sf_plan_add_drift(p);
    d->address = strdup("test_resource.a");
    d->type = strdup("test_resource");
    d->before = J("{\"value\":\"x\",\"id\":\"1\"}");
    d->after = J("{\"value\":\"y\",\"id\":\"1\"}");
    ck_assert(sf_plan_has_changes(p));
    char *text = render(p, false);
    ck_assert_str_eq(text,
                     "Note: Objects have changed outside of sparkform\n"
                     "\n"
                     "  # test_resource.a has changed\n"
                     "  ~ resource \"test_resource\" \"a\" {\n"
                     "      ~ value = \"x\" -> \"y\"\n"
                     "        # (1 unchanged attribute hidden)\n"
                     "    }\n"
                     "\n"
                     "This is a refresh-only plan: applying it records the changes above in the state; "
                     "nothing else changes.\n"
                     "\n"
                     "Plan: refresh-only, 1 object changed outside sparkform.\n");
    free(text);
    sf_plan_free(p);
}
END_TEST

START_TEST(render_destroy)
{
    struct sf_plan *p = sf_plan_new();
    p->destroy = true;
    add(p, "local_file", "a", SF_ACT_DELETE, SF_REASON_DESTROY, "{\"path\":\"a.txt\",\"mode\":\"0644\"}", NULL);
    add(p, "test_resource", "b", SF_ACT_DELETE, SF_REASON_DESTROY, "{\"value\":null,\"id\":\"2\"}", NULL);
    char *text = render(p, false);
    ck_assert_str_eq(text,
                     "sparkform will perform the following actions:\n"
                     "\n"
                     "  # local_file.a will be destroyed\n"
                     "  - resource \"local_file\" \"a\" {\n"
                     "      - mode = \"0644\"\n"
                     "      - path = \"a.txt\"\n"
                     "    }\n"
                     "\n"
                     "  # test_resource.b will be destroyed\n"
                     "  - resource \"test_resource\" \"b\" {\n"
                     "      - id = \"2\"\n"
                     "    }\n"
                     "\n"
                     "Plan: 0 to add, 0 to change, 2 to destroy.\n");
    free(text);
    json_t *j = sf_plan_to_json(p);
    ck_assert(json_is_true(json_object_get(j, "destroy")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "summary"), "destroy")), 2);
    json_decref(j);
    sf_plan_free(p);
}
END_TEST

START_TEST(render_requested_and_gone)
{
    struct sf_plan *p = sf_plan_new();
    struct sf_change *c = add(p, "test_resource", "r", SF_ACT_REPLACE, SF_REASON_REQUESTED,
                              "{\"value\":\"v\",\"id\":\"1\"}", "{\"value\":\"v\"}");
    json_object_set(c->after, "id", sf_unknown());
    add(p, "test_resource", "g", SF_ACT_CREATE, SF_REASON_GONE, NULL, "{\"value\":\"v\"}");
    add(p, "local_file", "motd", SF_ACT_UPDATE, SF_REASON_NONE, "{\"content\":\"hello\\n\",\"id\":\"1\"}",
        "{\"content\":\"bonjour\\n\",\"id\":\"1\"}");
    char *text = render(p, false);
    ck_assert_ptr_nonnull(strstr(text, "  # test_resource.r must be replaced\n"
                                       "  # (because -replace asked for it)\n"
                                       "-/+ resource \"test_resource\" \"r\" {\n"));
    ck_assert_ptr_nonnull(strstr(text, "  # test_resource.g will be created\n"
                                       "  # (because test_resource.g was deleted outside sparkform)\n"));
    ck_assert_ptr_nonnull(strstr(text, "Plan: 2 to add, 1 to change, 1 to destroy.\n"));
    /* one line with its newline stays on one line */
    ck_assert_ptr_nonnull(strstr(text, "      ~ content = \"hello\\n\" -> \"bonjour\\n\"\n"));
    free(text);
    sf_plan_free(p);
}
END_TEST

START_TEST(counts_and_find)
{
    struct sf_plan *p = sample_plan();
    int a, c, d;
    sf_plan_counts(p, &a, &c, &d);
    ck_assert_int_eq(a, 4);
    ck_assert_int_eq(c, 3);
    ck_assert_int_eq(d, 3);
    ck_assert(sf_plan_has_changes(p));
    const struct sf_change *ch = sf_plan_find(p, "test_resource.c");
    ck_assert_ptr_nonnull(ch);
    ck_assert_int_eq(ch->action, SF_ACT_REPLACE);
    ck_assert_ptr_null(sf_plan_find(p, "test_resource.zzz"));

    /* output changes alone are changes */
    struct sf_plan *q = sf_plan_new();
    struct sf_output_change *o = sf_plan_add_output(q);
    o->name = strdup("x");
    o->action = SF_ACT_CREATE;
    o->after = json_integer(1);
    ck_assert(sf_plan_has_changes(q));
    char *text = render(q, false);
    ck_assert_str_eq(text, "Changes to Outputs:\n  + x = 1\n\nPlan: 0 to add, 0 to change, 0 to destroy.\n");
    free(text);
    sf_plan_free(q);
    sf_plan_free(p);
}
END_TEST

static const json_t *rc_at(const json_t *j, size_t i)
{
    return json_array_get(json_object_get(j, "resource_changes"), i);
}

static const char *actions_of(const json_t *rc)
{
    static char buf[64];
    const json_t *acts = json_object_get(json_object_get(rc, "change"), "actions");
    buf[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(acts, i, e)
    {
        if (i)
            strcat(buf, ",");
        strcat(buf, json_string_value(e));
    }
    return buf;
}

START_TEST(json_plan)
{
    struct sf_plan *p = sample_plan();
    json_t *j = sf_plan_to_json(p);
    char *s = dump(j);
    ck_assert_ptr_null(strstr(s, SECRET));
    free(s);

    ck_assert_str_eq(json_string_value(json_object_get(j, "format_version")), "1.0");
    ck_assert_str_eq(json_string_value(json_object_get(j, "sparkform_version")), SF_VERSION);
    ck_assert_str_eq(json_string_value(json_object_get(j, "lineage")), "8d7c-lineage");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "serial")), 7);
    ck_assert(json_is_false(json_object_get(j, "refresh_only")));

    /* order as planned: motd b c t m u l n old */
    ck_assert_str_eq(actions_of(rc_at(j, 0)), "create");
    ck_assert_str_eq(actions_of(rc_at(j, 1)), "update");
    ck_assert_str_eq(actions_of(rc_at(j, 2)), "delete,create");
    ck_assert_str_eq(actions_of(rc_at(j, 3)), "create,delete");
    ck_assert_str_eq(actions_of(rc_at(j, 7)), "no-op");
    ck_assert_str_eq(actions_of(rc_at(j, 8)), "delete");
    ck_assert_str_eq(json_string_value(json_object_get(rc_at(j, 2), "action_reason")),
                     "replace_because_cannot_update");
    ck_assert_str_eq(json_string_value(json_object_get(rc_at(j, 3), "action_reason")), "replace_because_tainted");
    ck_assert_str_eq(json_string_value(json_object_get(rc_at(j, 8), "action_reason")),
                     "delete_because_no_resource_config");
    ck_assert_str_eq(json_string_value(json_object_get(rc_at(j, 0), "address")), "local_file.motd");
    ck_assert_str_eq(json_string_value(json_object_get(rc_at(j, 0), "name")), "motd");

    /* unknowns: null in after, true in after_unknown */
    const json_t *ch = json_object_get(rc_at(j, 0), "change");
    ck_assert(json_is_null(json_object_get(json_object_get(ch, "after"), "id")));
    s = dump(json_object_get(ch, "after_unknown"));
    ck_assert_str_eq(s, "{\"id\":true}");
    free(s);
    ck_assert(json_is_null(json_object_get(ch, "before")));
    ch = json_object_get(rc_at(j, 4), "change");
    s = dump(json_object_get(ch, "after_unknown"));
    ck_assert_str_eq(s, "{\"tags\":{\"later\":true}}");
    free(s);
    s = dump(json_object_get(json_object_get(rc_at(j, 2), "change"), "replace_paths"));
    ck_assert_str_eq(s, "[\"key\"]");
    free(s);

    /* secrets: null and flagged */
    ch = json_object_get(rc_at(j, 1), "change");
    ck_assert(json_is_null(json_object_get(json_object_get(ch, "before"), "secret")));
    ck_assert(json_is_null(json_object_get(json_object_get(ch, "after"), "secret")));
    s = dump(json_object_get(ch, "after_sensitive"));
    ck_assert_str_eq(s, "{\"secret\":true}");
    free(s);
    s = dump(json_object_get(ch, "before_sensitive"));
    ck_assert_str_eq(s, "{\"secret\":true}");
    free(s);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ch, "after"), "value")), "new");

    /* drift */
    const json_t *dr = json_object_get(j, "resource_drift");
    ck_assert_int_eq(json_array_size(dr), 2);
    ck_assert_str_eq(actions_of(json_array_get(dr, 0)), "update");
    ck_assert_str_eq(actions_of(json_array_get(dr, 1)), "delete");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(dr, 1), "name")), "gone");

    /* outputs */
    const json_t *oc = json_object_get(j, "output_changes");
    const json_t *tok = json_object_get(oc, "token");
    ck_assert_str_eq(actions_of(tok), "");
    s = dump(tok);
    ck_assert_str_eq(s, "{\"actions\":[\"update\"],\"after\":null,\"after_sensitive\":true,\"after_unknown\":false,"
                        "\"before\":null,\"before_sensitive\":true}");
    free(s);
    ck_assert(json_is_true(json_object_get(json_object_get(oc, "id"), "after_unknown")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(oc, "motd_path"), "after")), "motd.txt");

    s = dump(json_object_get(j, "summary"));
    ck_assert_str_eq(s, "{\"add\":4,\"change\":3,\"destroy\":3}");
    free(s);
    json_decref(j);
    sf_plan_free(p);
}
END_TEST

START_TEST(nested_sensitive)
{
    struct sf_plan *p = sf_plan_new();
    struct sf_change *c = add(p, "test_resource", "s", SF_ACT_UPDATE, SF_REASON_NONE,
                              "{\"tags\":{\"env\":\"dev\",\"password\":\"" SECRET "\"},\"id\":\"1\"}",
                              "{\"tags\":{\"env\":\"prod\",\"password\":\"" SECRET "2\"},\"id\":\"1\"}");
    json_array_append_new(c->sensitive, json_string("tags.password"));
    c = add(p, "test_resource", "k", SF_ACT_CREATE, SF_REASON_NONE, NULL,
            "{\"tags\":{\"password\":\"" SECRET "\"},\"secret\":\"" SECRET "\"}");
    json_array_append_new(c->sensitive, json_string("tags"));
    json_array_append_new(c->sensitive, json_string("secret"));
    char *text = render(p, false);
    ck_assert_ptr_null(strstr(text, SECRET));
    ck_assert_ptr_nonnull(strstr(text, "          ~ \"password\" = (sensitive value)\n"));
    ck_assert_ptr_nonnull(strstr(text, "          ~ \"env\"      = \"dev\" -> \"prod\"\n"));
    ck_assert_ptr_nonnull(strstr(text, "      + tags   = (sensitive value)\n"));
    free(text);
    json_t *j = sf_plan_to_json(p);
    char *s = dump(j);
    ck_assert_ptr_null(strstr(s, SECRET));
    free(s);
    s = dump(json_object_get(json_object_get(rc_at(j, 0), "change"), "after_sensitive"));
    ck_assert_str_eq(s, "{\"tags\":{\"password\":true}}");
    free(s);
    s = dump(json_object_get(json_object_get(rc_at(j, 0), "change"), "after"));
    ck_assert_str_eq(s, "{\"id\":\"1\",\"tags\":{\"env\":\"prod\",\"password\":null}}");
    free(s);
    json_decref(j);
    sf_plan_free(p);
}
END_TEST

static const struct sf_attr vault_attrs[] = {
    {"name", SF_STRING, SF_REQUIRED, NULL, NULL},
    {"password", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL, NULL},
    {NULL, 0, 0, NULL, NULL},
};
static const struct sf_resource_type vault_type = {.name = "plantest_vault", .doc = "", .attrs = vault_attrs};
static const struct sf_resource_type *const vault_types[] = {&vault_type, NULL};
static const struct sf_provider vault_provider = {.name = "plantest", .types = vault_types};

/* A secret the schema declares stays hidden even when the change or drift
 * does not list it. */
START_TEST(schema_sensitive_always_hidden)
{
    if (!sf_provider_find_type("plantest_vault"))
        ck_assert_int_eq(sf_provider_register(&vault_provider), 0);
    struct sf_plan *p = sf_plan_new();
    struct sf_drift *d = sf_plan_add_drift(p);
    d->address = strdup("plantest_vault.v");
    d->type = strdup("plantest_vault");
    d->before = J("{\"name\":\"a\",\"password\":\"" SECRET "\"}");
    d->after = J("{\"name\":\"b\",\"password\":\"" SECRET "x\"}");
    struct sf_change *c = add(p, "plantest_vault", "v", SF_ACT_DELETE, SF_REASON_NOT_IN_CONFIG,
                              "{\"name\":\"a\",\"password\":\"" SECRET "\"}", NULL);
    c->deposed = 2;
    char *text = render(p, false);
    ck_assert_ptr_null(strstr(text, SECRET));
    ck_assert_ptr_nonnull(strstr(text, "      ~ password = (sensitive value)\n"));
    ck_assert_ptr_nonnull(strstr(text, "      - password = (sensitive value)\n"));
    ck_assert_ptr_nonnull(strstr(text, "  # plantest_vault.v (deposed object) will be destroyed\n"));
    /* both leftover objects are counted */
    ck_assert_ptr_nonnull(strstr(text, "Plan: 0 to add, 0 to change, 2 to destroy.\n"));
    free(text);
    json_t *j = sf_plan_to_json(p);
    char *s = dump(j);
    ck_assert_ptr_null(strstr(s, SECRET));
    free(s);
    ck_assert_int_eq(json_integer_value(json_object_get(rc_at(j, 0), "deposed")), 2);
    json_decref(j);
    sf_plan_free(p);
}
END_TEST

/* Equal, unknowns included (compared through their file encoding). */
static bool same(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    json_t *ea = sf_value_encode(a), *eb = sf_value_encode(b);
    bool eq = json_equal(ea, eb);
    json_decref(ea);
    json_decref(eb);
    return eq;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/sf-test-render-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char *cmd = sf_asprintf("rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

START_TEST(plan_file_round_trip)
{
    make_tmpdir();
    struct sf_plan *p = sample_plan();
    p->destroy = true;
    p->refresh_only = true;
    p->config_path = strdup("examples/quickstart/service.yaml");
    p->config_source = strdup("apiVersion: sparkform/v1\nkind: Stack\n");
    p->variables = J("{\"registry_password\":\"" SECRET "\",\"n\":3}");
    p->targets = J("[\"local_file.motd\"]");
    p->refreshed = J("{\"test_resource.a\":{\"value\":\"y\"},\"local_file.gone\":null}");
    json_decref(p->changes[2].dependencies);
    p->changes[2].dependencies = J("[\"local_file.motd\"]");
    p->changes[8].deposed = 2;

    char *path = sf_asprintf("%s/plan.out", tmpdir);
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_plan_write(path, p, &d), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    /* secrets are in the file: it is what apply needs */
    char *raw = sf_read_file(path, NULL);
    ck_assert_ptr_nonnull(strstr(raw, SECRET));
    free(raw);

    struct sf_plan *q = NULL;
    ck_assert_int_eq(sf_plan_read(path, &q, &d), 0);
    ck_assert_int_eq(sf_diags_errors(&d), 0);
    ck_assert_int_eq(q->format_version, p->format_version);
    ck_assert_str_eq(q->lineage, p->lineage);
    ck_assert_int_eq(q->serial, p->serial);
    ck_assert(q->destroy && q->refresh_only);
    ck_assert_str_eq(q->config_path, p->config_path);
    ck_assert_str_eq(q->config_source, p->config_source);
    ck_assert(same(q->variables, p->variables));
    ck_assert(same(q->targets, p->targets));
    ck_assert(same(q->refreshed, p->refreshed));

    ck_assert_int_eq(q->n_changes, p->n_changes);
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct sf_change *a = &p->changes[i], *b = &q->changes[i];
        ck_assert_str_eq(a->address, b->address);
        ck_assert_str_eq(a->type, b->type);
        ck_assert(same_str(a->name, b->name));
        ck_assert_int_eq(a->action, b->action);
        ck_assert_int_eq(a->reason, b->reason);
        ck_assert_msg(same(a->before, b->before), "before of %s", a->address);
        ck_assert_msg(same(a->after, b->after), "after of %s", a->address);
        ck_assert(same(a->sensitive, b->sensitive));
        ck_assert(same(a->replace_paths, b->replace_paths));
        ck_assert(same(a->dependencies, b->dependencies));
        ck_assert_int_eq(a->create_before_destroy, b->create_before_destroy);
        ck_assert_int_eq(a->deposed, b->deposed);
    }
    /* the sentinel itself comes back, not a look-alike object */
    ck_assert(sf_is_unknown(json_object_get(q->changes[0].after, "id")));
    ck_assert(sf_is_unknown(json_object_get(json_object_get(q->changes[4].after, "tags"), "later")));
    ck_assert_ptr_null(q->changes[0].before);
    ck_assert_ptr_null(q->changes[8].after);
    ck_assert_str_eq(json_string_value(json_object_get(q->changes[1].before, "secret")), SECRET);

    ck_assert_int_eq(q->n_drift, p->n_drift);
    for (size_t i = 0; i < p->n_drift; i++) {
        ck_assert_str_eq(p->drift[i].address, q->drift[i].address);
        ck_assert_str_eq(p->drift[i].type, q->drift[i].type);
        ck_assert(same(p->drift[i].before, q->drift[i].before));
        ck_assert(same(p->drift[i].after, q->drift[i].after));
        ck_assert(same(p->drift[i].sensitive, q->drift[i].sensitive));
    }
    ck_assert_int_eq(q->n_outputs, p->n_outputs);
    for (size_t i = 0; i < p->n_outputs; i++) {
        ck_assert_str_eq(p->outputs[i].name, q->outputs[i].name);
        ck_assert_int_eq(p->outputs[i].action, q->outputs[i].action);
        ck_assert(same(p->outputs[i].before, q->outputs[i].before));
        ck_assert(same(p->outputs[i].after, q->outputs[i].after));
        ck_assert_int_eq(p->outputs[i].sensitive, q->outputs[i].sensitive);
    }
    ck_assert(sf_is_unknown(q->outputs[2].after));
    ck_assert_str_eq(json_string_value(q->outputs[1].after), SECRET "-out-2");

    /* and it renders the same */
    q->refresh_only = p->refresh_only = false;
    char *t1 = render(p, false), *t2 = render(q, false);
    ck_assert_str_eq(t1, t2);
    free(t1);
    free(t2);

    sf_plan_free(q);
    sf_plan_free(p);
    sf_diags_free(&d);
    free(path);
    remove_tmpdir();
}
END_TEST

static void expect_read_error(const char *content, const char *expected)
{
    char *path = sf_asprintf("%s/bad.plan", tmpdir);
    if (content)
        ck_assert_int_eq(sf_write_file_atomic(path, content, strlen(content), 0600), 0);
    else
        unlink(path);
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_plan *q = (struct sf_plan *)1;
    ck_assert_int_eq(sf_plan_read(path, &q, &d), -1);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(sf_diags_errors(&d), 1);
    char *want = sf_asprintf(expected, path);
    ck_assert_msg(strstr(d.items[0].summary, want) != NULL, "got \"%s\", want \"%s\"", d.items[0].summary, want);
    ck_assert_ptr_null(strchr(d.items[0].summary, '\n'));
    free(want);
    sf_diags_free(&d);
    free(path);
}

START_TEST(plan_file_errors)
{
    make_tmpdir();
    expect_read_error("this is not JSON at all\n\x01\x02", "%s is not a sparkform plan file");
    expect_read_error("{\"format_version\":1,\"resources\":{}}", "%s is not a sparkform plan file");
    expect_read_error("[1,2,3]", "%s is not a sparkform plan file");
    expect_read_error("", "%s is not a sparkform plan file");
    expect_read_error("{\"sparkform_plan\":7}", "%s: unsupported plan file version 7");
    expect_read_error("{\"sparkform_plan\":1,\"changes\":[{\"address\":\"a.b\",\"type\":\"a\",\"action\":\"explode\"}],"
                      "\"drift\":[],\"outputs\":[]}",
                      "%s: malformed plan file: changes[0].action must be one of");
    expect_read_error("{\"sparkform_plan\":1,\"changes\":{},\"drift\":[],\"outputs\":[]}",
                      "%s: malformed plan file: changes must be an array");
    expect_read_error("{\"sparkform_plan\":1,\"changes\":[],\"drift\":[{\"address\":3}],\"outputs\":[]}",
                      "%s: malformed plan file: drift[0].address must be a string");
    expect_read_error(NULL, "cannot read plan file %s: No such file or directory");
    remove_tmpdir();
}
END_TEST

START_TEST(render_value_forms)
{
    json_t *v = J("{\"m\":{\"k\":[1,2.5,true,null]},\"s\":\"a\\nb\",\"e\":{},\"l\":[]}");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sf_render_value(f, v, 2);
    fputs("|", f);
    sf_render_value(f, json_object_get(v, "l"), 0);
    fputs("|", f);
    json_t *str = json_string("say \"hi\"");
    sf_render_value(f, str, 0);
    json_decref(str);
    fclose(f);
    ck_assert_str_eq(buf, "{\n"
                          "      \"e\" = {}\n"
                          "      \"l\" = []\n"
                          "      \"m\" = {\n"
                          "          \"k\" = [\n"
                          "              1,\n"
                          "              2.5,\n"
                          "              true,\n"
                          "              null,\n"
                          "          ]\n"
                          "      }\n"
                          "      \"s\" = <<-EOT\n"
                          "          a\n"
                          "          b\n"
                          "      EOT\n"
                          "  }|[]|\"say \\\"hi\\\"\"");
    free(buf);
    json_decref(v);
}
END_TEST

static const struct sf_attr test_attrs[] = {
    {"value", SF_STRING, SF_OPTIONAL, NULL, NULL},
    {"secret", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL, NULL},
    {"tags", SF_MAP, SF_OPTIONAL, NULL, NULL},
    {"id", SF_STRING, SF_COMPUTED, NULL, NULL},
    {NULL, 0, 0, NULL, NULL},
};
static const struct sf_resource_type test_type = {.name = "test_resource", .doc = "", .attrs = test_attrs};

static const struct sf_resource_type *find_type(const char *name)
{
    return strcmp(name, "test_resource") == 0 ? &test_type : NULL;
}

static const char state_text[] =
    "{\"format_version\":1,\"lineage\":\"L\",\"serial\":3,\"resources\":{"
    "\"test_resource.b\":{\"type\":\"test_resource\",\"status\":\"tainted\",\"attributes\":{\"value\":\"v\","
    "\"secret\":\"" SECRET "\",\"id\":\"7\",\"tags\":{\"a\":\"1\",\"pw\":\"" SECRET "\"}},"
    "\"sensitive_attributes\":[\"tags.pw\"],\"dependencies\":[\"local_file.a\"]},"
    "\"local_file.a\":{\"type\":\"local_file\",\"status\":\"ok\",\"attributes\":{\"path\":\"a.txt\","
    "\"content\":\"x\\ny\\n\",\"nothing\":null},\"dependencies\":[]}},"
    "\"outputs\":{\"path\":{\"value\":\"a.txt\",\"sensitive\":false},\"token\":{\"value\":\"" SECRET "\","
    "\"sensitive\":true},\"list\":{\"value\":[1,\"a\"],\"sensitive\":false}}}";

START_TEST(render_state_text)
{
    json_t *st = J(state_text);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sf_render_state(f, st, find_type, false);
    fclose(f);
    ck_assert_str_eq(buf, "# local_file.a:\n"
                          "resource \"local_file\" \"a\" {\n"
                          "    content = <<-EOT\n"
                          "        x\n"
                          "        y\n"
                          "    EOT\n"
                          "    path    = \"a.txt\"\n"
                          "}\n"
                          "\n"
                          "# test_resource.b: (tainted)\n"
                          "resource \"test_resource\" \"b\" {\n"
                          "    id     = \"7\"\n"
                          "    secret = (sensitive value)\n"
                          "    tags   = {\n"
                          "        \"a\"  = \"1\"\n"
                          "        \"pw\" = (sensitive value)\n"
                          "    }\n"
                          "    value  = \"v\"\n"
                          "}\n"
                          "\n"
                          "Outputs:\n"
                          "\n"
                          "list = [\n"
                          "    1,\n"
                          "    \"a\",\n"
                          "]\n"
                          "path = \"a.txt\"\n"
                          "token = (sensitive value)\n");
    free(buf);

    json_t *empty = J("{\"resources\":{},\"outputs\":{}}");
    buf = NULL;
    f = open_memstream(&buf, &len);
    sf_render_state(f, empty, find_type, false);
    fclose(f);
    ck_assert_str_eq(buf, "The state is empty.\n");
    free(buf);
    json_decref(empty);
    json_decref(st);
}
END_TEST

START_TEST(state_json)
{
    json_t *st = J(state_text);
    json_t *j = sf_state_render_json(st, find_type);
    char *s = dump(j);
    ck_assert_ptr_null(strstr(s, SECRET));
    free(s);
    ck_assert_str_eq(json_string_value(json_object_get(j, "format_version")), "1.0");
    const json_t *values = json_object_get(j, "values");
    const json_t *res = json_object_get(values, "resources");
    ck_assert_int_eq(json_array_size(res), 2);
    const json_t *b = json_array_get(res, 1);
    s = dump(b);
    ck_assert_str_eq(s, "{\"address\":\"test_resource.b\",\"dependencies\":[\"local_file.a\"],\"name\":\"b\","
                        "\"sensitive_values\":[\"secret\",\"tags.pw\"],\"status\":\"tainted\","
                        "\"type\":\"test_resource\",\"values\":{\"id\":\"7\",\"secret\":null,"
                        "\"tags\":{\"a\":\"1\",\"pw\":null},\"value\":\"v\"}}");
    free(s);
    s = dump(json_object_get(values, "outputs"));
    ck_assert_str_eq(s, "{\"list\":{\"sensitive\":false,\"value\":[1,\"a\"]},"
                        "\"path\":{\"sensitive\":false,\"value\":\"a.txt\"},\"token\":{\"sensitive\":true}}");
    free(s);
    json_decref(j);

    j = sf_outputs_render_json(st);
    s = dump(j);
    ck_assert_str_eq(s, "{\"list\":{\"sensitive\":false,\"type\":\"list\",\"value\":[1,\"a\"]},"
                        "\"path\":{\"sensitive\":false,\"type\":\"string\",\"value\":\"a.txt\"},"
                        "\"token\":{\"sensitive\":true,\"type\":\"string\"}}");
    free(s);
    json_decref(j);
    json_decref(st);
}
END_TEST

static Suite *render_suite(void)
{
    Suite *s = suite_create("render");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, render_full_plan);
    tcase_add_test(tc, render_color);
    tcase_add_test(tc, render_no_changes);
    tcase_add_test(tc, render_refresh_only);
    tcase_add_test(tc, render_destroy);
    tcase_add_test(tc, render_requested_and_gone);
    tcase_add_test(tc, counts_and_find);
    tcase_add_test(tc, json_plan);
    tcase_add_test(tc, nested_sensitive);
    tcase_add_test(tc, schema_sensitive_always_hidden);
    tcase_add_test(tc, plan_file_round_trip);
    tcase_add_test(tc, plan_file_errors);
    tcase_add_test(tc, render_value_forms);
    tcase_add_test(tc, render_state_text);
    tcase_add_test(tc, state_json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(render_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

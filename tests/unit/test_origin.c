/*
 * Unit tests of where a value came from (modules/origin.c) and of the
 * placing of a hook's errors by attribute (sf_config_place): a value that
 * is an input, or the for_each instance over an input, is followed through
 * two levels of modules to the line and column the description wrote it
 * at; what is computed, defaulted or not written stops at the last place
 * that was written; notes name the module instance.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "origin.h"
#include "util.h"

static char dir[] = "/tmp/sf_origin_XXXXXX";
static struct sf_diags diags;

static void put(const char *name, const char *text)
{
    char *path = sf_asprintf("%s/%s", dir, name);
    ck_assert_int_eq(sf_mkdir_parents(path), 0);
    ck_assert_int_eq(sf_write_file_atomic(path, text, strlen(text), 0644), 0);
    free(path);
}

/* grp: resources over a list of groups and a map of tags; outer: calls grp
 * with values that are its own input's parts. */
static void setup(void)
{
    strcpy(dir, "/tmp/sf_origin_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    sf_diags_init(&diags);
    put("grp/module.yaml",
        "apiVersion: sparkform/v1\n"                                         /* 1 */
        "kind: Module\n"                                                      /* 2 */
        "inputs:\n"                                                           /* 3 */
        "  groups: {type: list}\n"                                            /* 4 */
        "  settings: {type: object, fields: {dir: {type: string}, mode: {type: string, default: \"0644\"}}}\n"
        "  tags: {type: map, default: {}}\n"                                  /* 6 */
        "  names: {type: list, default: [x]}\n"                               /* 7 */
        "resources:\n"                                                        /* 8 */
        "  - type: local_file\n"                                              /* 9 */
        "    name: f\n"                                                       /* 10 */
        "    for_each: {list: \"${input.groups}\", key: name}\n"              /* 11 */
        "    with:\n"                                                         /* 12 */
        "      path: \"${each.value.name}\"\n"                                /* 13 */
        "      content: \"${each.value.size}\"\n"                             /* 14 */
        "  - type: local_file\n"                                              /* 15 */
        "    name: g\n"                                                       /* 16 */
        "    with:\n"                                                         /* 17 */
        "      path: \"${input.settings.dir}\"\n"                             /* 18 */
        "      content: \"${format(\\\"%s\\\", input.settings.dir)}\"\n"      /* 19 */
        "      mode: \"${input.settings.mode}\"\n"                 /* 20 */
        "  - type: local_file\n"                                              /* 21 */
        "    name: t\n"                                                       /* 22 */
        "    for_each: \"${input.tags}\"\n"                                   /* 23 */
        "    with: {path: \"${each.key}\", content: \"${each.value}\"}\n"     /* 24 */
        "  - type: local_file\n"                                              /* 25 */
        "    name: n\n"                                                       /* 26 */
        "    for_each: \"${input.names}\"\n"                                  /* 27 */
        "    with: {path: \"${each.value}\", content: c}\n");                 /* 28 */
    put("outer/module.yaml",
        "apiVersion: sparkform/v1\n"
        "kind: Module\n"
        "inputs:\n"
        "  items: {type: any}\n"
        "modules:\n"
        "  - name: inner\n"
        "    source: ../grp\n"
        "    inputs:\n"
        "      groups: \"${input.items.groups}\"\n"
        "      settings: {dir: \"${input.items.dir}\", mode: \"0600\"}\n"
        "      tags: \"${input.items.tags}\"\n"
        "      names: \"${input.items.names}\"\n");
}

static void teardown(void)
{
    char *rm = sf_asprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
    free(rm);
    sf_diags_free(&diags);
}

static struct sf_config *load(const char *text)
{
    put("stack.yaml", text);
    char *path = sf_asprintf("%s/stack.yaml", dir);
    struct sf_config *c = NULL;
    int rc = sf_config_load(path, &c, &diags);
    if (rc == 0)
        rc = sf_config_bind_vars(c, NULL, 0, NULL, 0, &diags);
    ck_assert_msg(rc == 0, "%s", diags.n ? diags.items[0].summary : "(no message)");
    free(path);
    return c;
}

/* The file (its last path part), line and column attr of the resource at
 * address comes from. */
static void origin_is(const struct sf_config *c, const char *address, const char *attr,
                      const char *file, int line, int col)
{
    const struct sf_resource_cfg *r = sf_config_find(c, address);
    ck_assert_msg(r != NULL, "no resource %s", address);
    const struct sf_node *n = sf_origin_attr(c, r, attr);
    ck_assert_msg(n != NULL, "%s.%s: no origin", address, attr);
    const char *tail = strstr(n->pos.file, file);
    ck_assert_msg(tail && strlen(tail) == strlen(file) && n->pos.line == line && n->pos.col == col,
                  "%s.%s comes from %s:%d:%d, expected %s:%d:%d", address, attr, n->pos.file,
                  n->pos.line, n->pos.col, file, line, col);
}

#define STACK                                                          \
    "apiVersion: sparkform/v1\n"                   /* 1 */            \
    "kind: Stack\n"                                /* 2 */            \
    "metadata: {name: demo}\n"                     /* 3 */            \
    "modules:\n"                                   /* 4 */            \
    "  - name: o\n"                                /* 5 */            \
    "    source: ./outer\n"                        /* 6 */            \
    "    inputs:\n"                                /* 7 */            \
    "      items:\n"                               /* 8 */            \
    "        dir: d\n"                             /* 9 */            \
    "        groups:\n"                            /* 10 */           \
    "          - {name: a, size: 1}\n"             /* 11 */           \
    "          - name: b\n"                        /* 12 */           \
    "            size: \"2\"\n"                    /* 13 */           \
    "        tags: {red: r, blue: b}\n"            /* 14 */           \
    "        names: [p, q]\n"                      /* 15 */

#define INNER "module.o.module.inner."

START_TEST(inputs_and_instances_lead_to_the_description)
{
    struct sf_config *c = load(STACK);
    /* each.value.size of a {list, key} for_each over an input that is
     * another module's input: the item of the description's list. */
    origin_is(c, INNER "local_file.f[b]", "content", "stack.yaml", 13, 19);
    origin_is(c, INNER "local_file.f[a]", "content", "stack.yaml", 11, 29);
    origin_is(c, INNER "local_file.f[b]", "path", "stack.yaml", 12, 19);
    /* input.settings.dir: a mapping written in outer, whose dir is outer's
     * input again. */
    origin_is(c, INNER "local_file.g", "path", "stack.yaml", 9, 14);
    /* mode is written in outer itself: that is where it comes from. */
    origin_is(c, INNER "local_file.g", "mode", "outer/module.yaml", 10, 51);
    /* A function's value is not followed. */
    origin_is(c, INNER "local_file.g", "content", "grp/module.yaml", 19, 16);
    /* A mapping's entry, and a list of strings' item. */
    origin_is(c, INNER "local_file.t[blue]", "content", "stack.yaml", 14, 30);
    origin_is(c, INNER "local_file.n[q]", "path", "stack.yaml", 15, 20);
    /* each.key is not a value written anywhere else: it stays. */
    origin_is(c, INNER "local_file.t[red]", "path", "grp/module.yaml", 24, 18);
    /* An attribute with: does not set has no origin. */
    ck_assert_ptr_null(sf_origin_attr(c, sf_config_find(c, INNER "local_file.g"), "sensitive_content"));
    sf_config_free(c);
}
END_TEST

START_TEST(what_is_not_written_stops_where_it_was)
{
    struct sf_config *c = load("apiVersion: sparkform/v1\n"
                               "kind: Stack\n"
                               "metadata: {name: demo}\n"
                               "modules:\n"
                               "  - name: g\n"
                               "    source: ./grp\n"
                               "    inputs:\n"
                               "      groups: []\n"
                               "      settings: {dir: d}\n");
    /* mode is the field's default: the nearest place the caller wrote is
     * the mapping it left the field out of. */
    origin_is(c, "module.g.local_file.g", "mode", "stack.yaml", 9, 17);
    origin_is(c, "module.g.local_file.g", "path", "stack.yaml", 9, 23);
    /* names is the input's default: nothing of it is written by the
     * caller, so the module's own line stands. */
    origin_is(c, "module.g.local_file.n[x]", "path", "grp/module.yaml", 28, 18);
    sf_config_free(c);
}
END_TEST

START_TEST(placed_by_attribute_with_module_notes)
{
    struct sf_config *c = load(STACK);
    const struct sf_resource_cfg *r = sf_config_find(c, INNER "local_file.f[b]");
    struct sf_diags d;
    sf_diags_init(&d);
    sf_diag_add_attr(&d, SF_CLASS_INVALID, r->address, "content", "content \"2\" is refused");
    sf_diag_add(&d, SF_SEV_ERROR, NULL, r->address, "the object as a whole is refused");
    struct sf_pos elsewhere = {.file = "other.yaml", .line = 3, .col = 4};
    sf_diag_add(&d, SF_SEV_ERROR, &elsewhere, r->address, "placed already");
    sf_config_place(c, r, &d, 0, true);
    ck_assert_uint_eq(d.n, 3);
    /* The attribute's error: where the description wrote "2". */
    ck_assert_ptr_nonnull(strstr(d.items[0].file, "stack.yaml"));
    ck_assert_int_eq(d.items[0].line, 13);
    ck_assert_int_eq(d.items[0].col, 19);
    /* The other: the resource's with: in the module. */
    ck_assert_ptr_nonnull(strstr(d.items[1].file, "grp/module.yaml"));
    ck_assert_int_eq(d.items[1].line, 13);
    /* A placed one keeps its place. */
    ck_assert_str_eq(d.items[2].file, "other.yaml");
    ck_assert_int_eq(d.items[2].line, 3);
    /* Every one says which module instance, called where. */
    for (size_t i = 0; i < d.n; i++) {
        ck_assert_msg(d.items[i].detail && strstr(d.items[i].detail, "in module.o.module.inner ("),
                      "diagnostic %zu has no module note: %s", i,
                      d.items[i].detail ? d.items[i].detail : "(none)");
        ck_assert_ptr_nonnull(strstr(d.items[i].detail, "stack.yaml:5:5"));
    }
    sf_diags_free(&d);

    /* Without all, only what names an attribute gets a place. */
    sf_diags_init(&d);
    sf_diag_add(&d, SF_SEV_ERROR, NULL, r->address, "the cloud did not answer");
    sf_diag_add_attr(&d, SF_CLASS_INVALID, r->address, "path", "path \"b\" is refused");
    sf_config_place(c, r, &d, 0, false);
    ck_assert_ptr_null(d.items[0].file);
    ck_assert_ptr_nonnull(strstr(d.items[1].file, "stack.yaml"));
    ck_assert_int_eq(d.items[1].line, 12);
    sf_diags_free(&d);
    sf_config_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("origin");
    TCase *tc = tcase_create("origin");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, inputs_and_instances_lead_to_the_description);
    tcase_add_test(tc, what_is_not_written_stops_where_it_was);
    tcase_add_test(tc, placed_by_attribute_with_module_notes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

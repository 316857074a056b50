/*
 * Unit tests of the description loader (node.c, config.c): positions of
 * nodes and references, YAML typing, the checks, variable binding and its
 * precedence, evaluation of resources and outputs, and load time of a
 * large generated description.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "provider.h"
#include "testprov.h"
#include "util.h"
#include "value.h"

/* The real types: local_file and local_ssh_key are built in, test_resource
 * comes from the test provider linked into every unit test. */
static void register_providers(void)
{
    if (!sf_provider_find_type("test_resource") && sf_provider_register(&sf_provider_test) < 0) {
        fputs("cannot register the test provider\n", stderr);
        exit(1);
    }
}


static struct sf_diags diags;

static void setup(void)
{
    sf_diags_init(&diags);
}

static void teardown(void)
{
    sf_diags_free(&diags);
}

static const char *first_error(void)
{
    return diags.n ? diags.items[0].summary : "(none)";
}

static struct sf_config *load_ok(const char *text)
{
    struct sf_config *c = NULL;
    int rc = sf_config_load_text("dir/demo.yaml", text, &c, &diags);
    ck_assert_msg(rc == 0, "load failed: %s", first_error());
    return c;
}

/* Loading fails, and the first error is at line:col and contains needle. */
static void load_fails(const char *text, int line, int col, const char *needle)
{
    struct sf_config *c = NULL;
    size_t before = diags.n;
    ck_assert_int_eq(sf_config_load_text("dir/demo.yaml", text, &c, &diags), -1);
    ck_assert_ptr_null(c);
    ck_assert_uint_gt(diags.n, before);
    const struct sf_diag *g = &diags.items[before];
    ck_assert_msg(g->line == line && g->col == col, "error at %d:%d, expected %d:%d: %s", g->line,
                  g->col, line, col, g->summary);
    ck_assert_msg(strstr(g->summary, needle), "\"%s\" lacks \"%s\"", g->summary, needle);
}

#define HEAD "apiVersion: sparkform/v1\nkind: Stack\nmetadata: {name: demo}\n"

START_TEST(test_positions)
{
    const char *text = HEAD
        "variables:\n"
        "  greeting: {type: string, default: hello}\n"
        "resources:\n"
        "  - type: local_file\n"
        "    name: motd\n"
        "    with:\n"
        "      path: 'motd.txt'\n"
        "      content: \"x ${var.greeting}\"\n"
        "      mode: \"0600\"\n";
    struct sf_config *c = load_ok(text);
    ck_assert_str_eq(c->name, "demo");
    ck_assert_str_eq(c->dir, "dir");
    ck_assert_str_eq(c->doc->source, text);
    ck_assert_uint_eq(c->n_vars, 1);
    ck_assert_int_eq(c->vars[0].pos.line, 5);
    ck_assert_int_eq(c->vars[0].pos.col, 3);
    ck_assert_str_eq(c->vars[0].pos.file, "dir/demo.yaml");
    ck_assert_uint_eq(c->n_resources, 1);
    const struct sf_resource_cfg *r = &c->resources[0];
    ck_assert_str_eq(r->address, "local_file.motd");
    ck_assert_int_eq(r->pos.line, 7);
    ck_assert_int_eq(r->pos.col, 5);
    const struct sf_node *path = sf_node_get(r->with, "path");
    ck_assert_int_eq(path->pos.line, 10);
    ck_assert_int_eq(path->pos.col, 13);
    ck_assert_int_eq(path->text_pos.col, 14);
    ck_assert(path->quoted);
    const struct sf_node *content = sf_node_get(r->with, "content");
    ck_assert_int_eq(content->pos.col, 16);
    ck_assert_int_eq(content->text_pos.col, 17);
    ck_assert_uint_eq(r->n_refs, 1);
    ck_assert_int_eq(r->refs[0].kind, SF_REF_VAR);
    ck_assert_str_eq(r->refs[0].name, "greeting");
    ck_assert_int_eq(r->refs[0].pos.line, 11);
    ck_assert_int_eq(r->refs[0].pos.col, 21);
    ck_assert_ptr_eq(sf_config_find(c, "local_file.motd"), r);
    ck_assert_ptr_null(sf_config_find(c, "local_file.nope"));
    ck_assert_ptr_eq(sf_config_var(c, "greeting"), &c->vars[0]);
    ck_assert_ptr_null(sf_config_var(c, "nope"));
    sf_config_free(c);
}
END_TEST

START_TEST(test_yaml_typing)
{
    const char *text = "a: null\nb: ~\nc:\nd: true\ne: False\nf: 42\ng: -7\nh: 0x1F\ni: 0o17\n"
                       "j: 1.5\nk: 1e3\nl: \"42\"\nm: yes\nn: 0644\no: [1, two]\np: {q: 'true'}\n"
                       "r: !!str 12\ns: |\n  block\n";
    struct sf_doc *doc = NULL;
    ck_assert_int_eq(sf_yaml_parse("t.yaml", text, strlen(text), &doc, &diags), 0);
    json_t *v = sf_node_to_json(doc->root);
    json_t *want = json_loads("{\"a\":null,\"b\":null,\"c\":null,\"d\":true,\"e\":false,\"f\":42,"
                              "\"g\":-7,\"h\":31,\"i\":15,\"j\":1.5,\"k\":1000.0,\"l\":\"42\","
                              "\"m\":\"yes\",\"n\":644,\"o\":[1,\"two\"],\"p\":{\"q\":\"true\"},"
                              "\"r\":\"12\",\"s\":\"block\\n\"}",
                              0, NULL);
    ck_assert_ptr_nonnull(want);
    char *got = json_dumps(v, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(v, want), "got %s", got);
    free(got);
    ck_assert(json_is_real(json_object_get(v, "k")));
    json_decref(v);
    json_decref(want);
    ck_assert_str_eq(sf_node_describe(sf_node_get(doc->root, "a")), "null");
    ck_assert_str_eq(sf_node_describe(sf_node_get(doc->root, "d")), "a boolean");
    ck_assert_str_eq(sf_node_describe(sf_node_get(doc->root, "f")), "a number");
    ck_assert_str_eq(sf_node_describe(sf_node_get(doc->root, "l")), "a string");
    ck_assert_str_eq(sf_node_describe(sf_node_get(doc->root, "o")), "a list");
    ck_assert_str_eq(sf_node_describe(sf_node_get(doc->root, "p")), "a mapping");
    const struct sf_node *p = sf_node_get(doc->root, "p");
    ck_assert_int_eq(p->pos.line, 16);
    ck_assert_int_eq(p->pos.col, 4);
    ck_assert_int_eq(p->keys[0]->pos.col, 5);
    ck_assert_int_eq(p->items[0]->pos.col, 8);
    ck_assert_int_eq(p->items[0]->text_pos.col, 9);
    sf_doc_free(doc);
}
END_TEST

START_TEST(test_yaml_structure)
{
    struct sf_doc *doc = NULL;
    const char *t1 = "base: &b {x: 1, y: [a]}\ncopy: *b\n";
    ck_assert_int_eq(sf_yaml_parse("t.yaml", t1, strlen(t1), &doc, &diags), 0);
    json_t *v = sf_node_to_json(sf_node_get(doc->root, "copy"));
    json_t *want = json_pack("{s:i, s:[s]}", "x", 1, "y", "a");
    ck_assert(json_equal(v, want));
    json_decref(v);
    json_decref(want);
    sf_doc_free(doc);

    ck_assert_int_eq(sf_yaml_parse("t.yaml", "", 0, &doc, &diags), 0);
    ck_assert_ptr_null(doc->root);
    sf_doc_free(doc);
    ck_assert_int_eq(sf_yaml_parse("t.yaml", "# only a comment\n", 17, &doc, &diags), 0);
    ck_assert_ptr_null(doc->root);
    sf_doc_free(doc);
    ck_assert_uint_eq(diags.n, 0);

    const char *t2 = "a: 1\n---\nb: 2\n";
    ck_assert_int_eq(sf_yaml_parse("t.yaml", t2, strlen(t2), &doc, &diags), -1);
    ck_assert_ptr_null(doc);
    ck_assert_int_eq(diags.items[0].line, 2);
    const char *t3 = "a: 1\nb: 2\na: 3\n";
    ck_assert_int_eq(sf_yaml_parse("t.yaml", t3, strlen(t3), &doc, &diags), -1);
    ck_assert_int_eq(diags.items[1].line, 3);
    ck_assert_int_eq(diags.items[1].col, 1);
    ck_assert(strstr(diags.items[1].summary, "duplicate key \"a\""));
    const char *t4 = "a:\n  b: 1\n  c\nd: 2\n";
    ck_assert_int_eq(sf_yaml_parse("t.yaml", t4, strlen(t4), &doc, &diags), -1);
    ck_assert_int_eq(diags.items[2].line, 4);
    ck_assert(strstr(diags.items[2].summary, "could not find the ':'"));
    ck_assert(strstr(diags.items[2].summary, "line 3, column 3"));
    /* A large map takes the hashed duplicate check. */
    struct sf_buf b = {0};
    for (int i = 0; i < 100; i++)
        sf_buf_printf(&b, "k%d: %d\n", i, i);
    sf_buf_puts(&b, "k57: again\n");
    ck_assert_int_eq(sf_yaml_parse("t.yaml", b.s, b.len, &doc, &diags), -1);
    ck_assert_int_eq(diags.items[3].line, 101);
    ck_assert(strstr(diags.items[3].summary, "line 58"));
    sf_buf_free(&b);
}
END_TEST

/* A stream of documents, as kubectl reads manifests: every non-empty one,
 * in order, with positions; a trailing "---" adds nothing. */
START_TEST(test_yaml_stream)
{
    char path[] = "/tmp/sf-stream-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *t = "a: 1\n---\n# a comment\nb: [2]\n---\nc: {d: 3}\n---\n";
    ck_assert_int_eq(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    struct sf_doc *doc = NULL;
    ck_assert_int_eq(sf_yaml_load_stream(path, &doc, &diags), 0);
    ck_assert_uint_ge(doc->n_roots, 3);
    ck_assert_ptr_eq(doc->root, doc->roots[0]);
    ck_assert_ptr_nonnull(sf_node_get(doc->roots[0], "a"));
    ck_assert_ptr_nonnull(sf_node_get(doc->roots[1], "b"));
    ck_assert_int_eq(doc->roots[1]->pos.line, 4);
    json_t *v = sf_node_to_json(sf_node_get(doc->roots[2], "c"));
    json_t *want = json_pack("{s:i}", "d", 3);
    ck_assert(json_equal(v, want));
    json_decref(v);
    json_decref(want);
    /* What follows the last "---" is an empty document, never an object. */
    for (size_t i = 3; i < doc->n_roots; i++)
        ck_assert_int_eq(doc->roots[i]->kind, SF_NODE_SCALAR);
    sf_doc_free(doc);
    /* The single-document reader still refuses the same file. */
    ck_assert_int_eq(sf_yaml_load(path, &doc, &diags), -1);
    unlink(path);
}
END_TEST

START_TEST(test_checks)
{
    load_fails(HEAD "resources:\n  - type: local_file\n    name: a\n    with: {path: a, contnet: x}\n",
               7, 21, "local_file has no attribute \"contnet\"; did you mean \"content\"?");
    load_fails(HEAD "resources:\n  - type: local_file\n    name: a\n    with: {content: x}\n", 7, 11,
               "local_file.a: missing required attribute \"path\"");
    load_fails(HEAD "resources:\n  - type: local_file\n    name: a\n", 5, 5,
               "missing required attribute \"path\"");
    load_fails(HEAD "resources:\n  - type: local_file\n    name: a\n    with: {path: {x: 1}}\n", 7,
               18, "attribute \"path\": expected a string, got a mapping");
    load_fails(HEAD "resources:\n  - type: test_resource\n    name: a\n    with: {count: lots}\n", 7,
               19, "expected a number, got a string");
    load_fails(HEAD "resources:\n  - type: test_resource\n    name: a\n    with: {items: {a: 1}}\n", 7,
               19, "expected a list, got a mapping");
    load_fails(HEAD "resources:\n  - type: local_file\n    name: a\n    with: {path: \"${local_file.b.path}\"}\n",
               7, 21, "reference to unknown resource local_file.b");
    load_fails(HEAD "resources:\n  - type: local_file\n    name: a\n    with: {path: x}\n"
               "  - type: local_file\n    name: b\n    with: {path: \"${local_file.a.pth}\"}\n",
               10, 21, "local_file has no attribute \"pth\"; did you mean \"path\"?");
    load_fails(HEAD "outputs:\n  x: \"${var.nope}\"\n", 5, 9, "reference to undeclared variable \"nope\"");
    load_fails("apiVersion: sparkform/v1\nkind: Deployment\nmetadata: {name: demo}\n", 2, 7,
               "kind \"Deployment\" is not supported; expected Stack or SparkService");
    load_fails("apiVersion: sparkform/v1\nkind: SparkService\nmetadata: {name: demo}\n", 1, 1,
               "a SparkService needs a spec:");
    load_fails(HEAD "resurces: []\n", 4, 1, "did you mean \"resources\"?");
    load_fails(HEAD "variables:\n  n: {type: number, default: \"x\"}\n", 5, 30,
               "variable \"n\": the default must be a number, got a string");

    /* Plain numbers and booleans are fine where a string is expected;
     * references may point forward. */
    struct sf_config *c = load_ok(HEAD "resources:\n  - type: local_file\n    name: a\n"
                                       "    with: {path: 42, content: true, mode: \"${local_ssh_key.k.id}\"}\n"
                                       "    depends_on: [local_ssh_key.k]\n"
                                       "    lifecycle: {prevent_destroy: true, ignore_changes: [content]}\n"
                                       "  - type: local_ssh_key\n    name: k\n");
    const struct sf_resource_cfg *r = &c->resources[0];
    ck_assert_uint_eq(r->n_depends_on, 1);
    ck_assert_str_eq(r->depends_on[0].address, "local_ssh_key.k");
    ck_assert_int_eq(r->depends_on[0].pos.line, 8);
    ck_assert(r->lifecycle.prevent_destroy);
    ck_assert(!r->lifecycle.create_before_destroy);
    ck_assert_uint_eq(r->lifecycle.n_ignore, 1);
    ck_assert_str_eq(r->lifecycle.ignore_changes[0], "content");
    ck_assert_uint_eq(r->n_refs, 1);
    ck_assert_str_eq(r->refs[0].name, "local_ssh_key.k");
    ck_assert_str_eq(r->refs[0].attr, "id");
    sf_config_free(c);
}
END_TEST

static const char *VARS = HEAD
    "variables:\n"
    "  region: {type: string, default: from-default, env: SF_T_REGION}\n"
    "  count: {type: number, default: 1}\n"
    "  on: {type: bool, default: false}\n"
    "  names: {type: list, default: []}\n"
    "  tags: {type: map, default: {}}\n"
    "  anything: {default: 3}\n"
    "  token: {type: string, env: SF_T_TOKEN, sensitive: true}\n";

static char *write_tmp(const char *text)
{
    char tmpl[] = "/tmp/sf_cfg_XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return sf_xstrdup(tmpl);
}

static const json_t *val(const struct sf_config *c, const char *name)
{
    return sf_config_var(c, name)->value;
}

START_TEST(test_var_precedence)
{
    struct sf_config *c = load_ok(VARS);
    setenv("SF_T_TOKEN", "t0k", 1);
    unsetenv("SF_T_REGION");
    ck_assert_int_eq(sf_config_bind_vars(c, NULL, 0, NULL, 0, &diags), 0);
    ck_assert_str_eq(json_string_value(val(c, "region")), "from-default");
    ck_assert_str_eq(json_string_value(val(c, "token")), "t0k");

    setenv("SF_T_REGION", "from-env", 1);
    ck_assert_int_eq(sf_config_bind_vars(c, NULL, 0, NULL, 0, &diags), 0);
    ck_assert_str_eq(json_string_value(val(c, "region")), "from-env");

    char *f1 = write_tmp("region: from-file-1\ncount: 7\n");
    char *f2 = write_tmp("region: from-file-2\n");
    const char *files[] = {f1, f2};
    ck_assert_int_eq(sf_config_bind_vars(c, NULL, 0, files, 2, &diags), 0);
    ck_assert_str_eq(json_string_value(val(c, "region")), "from-file-2");
    ck_assert_int_eq(json_integer_value(val(c, "count")), 7);

    const char *args[] = {"region=from-arg", "region=from-last-arg"};
    ck_assert_int_eq(sf_config_bind_vars(c, args, 2, files, 2, &diags), 0);
    ck_assert_str_eq(json_string_value(val(c, "region")), "from-last-arg");
    ck_assert_uint_eq(diags.n, 0);

    /* No value at all: the error is at the declaration and says how. */
    unsetenv("SF_T_TOKEN");
    ck_assert_int_eq(sf_config_bind_vars(c, NULL, 0, NULL, 0, &diags), -1);
    ck_assert_uint_eq(diags.n, 1);
    ck_assert_int_eq(diags.items[0].line, 11);
    ck_assert_int_eq(diags.items[0].col, 3);
    ck_assert_str_eq(diags.items[0].summary,
                     "variable \"token\" has no value; set it with -var token=..., a -var-file, "
                     "or the environment variable SF_T_TOKEN");
    unlink(f1);
    unlink(f2);
    free(f1);
    free(f2);
    sf_config_free(c);
}
END_TEST

START_TEST(test_var_conversion)
{
    struct sf_config *c = load_ok(VARS);
    const char *args[] = {"count=3",  "on=true",         "names=[a, b]", "tags={team: data}",
                          "token=x=y", "anything=[1, 2]", "region=0644"};
    ck_assert_int_eq(sf_config_bind_vars(c, args, 7, NULL, 0, &diags), 0);
    ck_assert(json_is_integer(val(c, "count")));
    ck_assert_int_eq(json_integer_value(val(c, "count")), 3);
    ck_assert(json_is_true(val(c, "on")));
    json_t *want = json_pack("[s,s]", "a", "b");
    ck_assert(json_equal((json_t *)val(c, "names"), want));
    json_decref(want);
    ck_assert_str_eq(json_string_value(json_object_get(val(c, "tags"), "team")), "data");
    ck_assert_str_eq(json_string_value(val(c, "token")), "x=y");
    ck_assert_uint_eq(json_array_size(val(c, "anything")), 2);
    ck_assert_str_eq(json_string_value(val(c, "region")), "0644");

    const char *bad[] = {"count=many", "on=perhaps", "names=a", "regoin=x", "novalue",
                         "token=1"};
    setenv("SF_T_TOKEN", "t", 1);
    ck_assert_int_eq(sf_config_bind_vars(c, bad, 6, NULL, 0, &diags), -1);
    ck_assert_uint_eq(diags.n, 5);
    ck_assert_str_eq(diags.items[0].summary, "-var count: expected a number, got \"many\"");
    ck_assert_str_eq(diags.items[1].summary, "-var on: expected a boolean, got \"perhaps\"");
    ck_assert(strstr(diags.items[2].summary, "-var names: expected a list"));
    ck_assert_str_eq(diags.items[3].summary,
                     "-var regoin: no variable \"regoin\" is declared; did you mean \"region\"?");
    ck_assert_str_eq(diags.items[4].summary, "-var \"novalue\": expected NAME=VALUE");

    char *f = write_tmp("count: lots\nnope: 1\n");
    const char *files[] = {f};
    ck_assert_int_eq(sf_config_bind_vars(c, NULL, 0, files, 1, &diags), -1);
    ck_assert_uint_eq(diags.n, 7);
    ck_assert_int_eq(diags.items[5].line, 1);
    ck_assert_int_eq(diags.items[5].col, 8);
    ck_assert_str_eq(diags.items[5].summary, "variable \"count\": expected a number, got a string");
    ck_assert_int_eq(diags.items[6].line, 2);
    ck_assert(strstr(diags.items[6].summary, "no variable \"nope\""));
    unlink(f);
    free(f);
    sf_config_free(c);
}
END_TEST

struct lookup_ctx {
    int calls;
};

static json_t *res_lookup(void *ctx, const struct sf_ref *ref, bool *sensitive, struct sf_diags *d)
{
    struct lookup_ctx *l = ctx;
    l->calls++;
    if (strcmp(ref->attr, "private_key_openssh") == 0) {
        *sensitive = true;
        return json_string("KEY");
    }
    if (strcmp(ref->attr, "fingerprint_sha256") == 0)
        return json_string("SHA256:abc");
    return json_incref(sf_unknown());
}

START_TEST(test_eval_resource)
{
    struct sf_config *c = load_ok(
        HEAD "variables:\n"
             "  port: {type: number, default: 8080}\n"
             "  secret: {type: string, default: hunter2, sensitive: true}\n"
             "  n: {type: string, default: \"5\"}\n"
             "  settings: {type: map, default: {a: 1}}\n"
             "resources:\n"
             "  - type: local_ssh_key\n    name: k\n"
             "  - type: local_file\n    name: a\n"
             "    with: {path: \"${var.port}\", mode: 0600}\n"
             "  - type: local_file\n    name: b\n"
             "    with: {path: b, content: \"${local_ssh_key.k.fingerprint_sha256}\", "
             "sensitive_content: \"${var.secret}\"}\n"
             "  - type: local_file\n    name: c\n"
             "    with: {path: c, content: \"${local_ssh_key.k.id}\"}\n"
             "  - type: test_resource\n    name: t\n"
             "    with: {count: \"${var.n}\", enabled: \"true\", items: [x, \"${var.port}\"], "
             "tags: {k: \"${local_ssh_key.k.id}\"}, value: \"${local_ssh_key.k.private_key_openssh}\"}\n"
             "  - type: local_file\n    name: bad\n"
             "    with: {path: \"${var.settings}\"}\n"
             "outputs:\n"
             "  short: \"${local_file.a.path}\"\n"
             "  long: {value: \"${var.port}\", sensitive: true, description: the port}\n"
             "  leak: [\"${var.secret}\"]\n");
    ck_assert_int_eq(sf_config_bind_vars(c, NULL, 0, NULL, 0, &diags), 0);
    struct lookup_ctx l = {0};
    struct sf_scope sc = {res_lookup, &l, NULL};

    json_t *sens = NULL;
    json_t *v = sf_config_eval_resource(c, sf_config_find(c, "local_file.a"), &sc, &sens, &diags);
    ck_assert_msg(v != NULL, "%s", first_error());
    json_t *want = json_pack("{s:s, s:s, s:s}", "path", "8080", "mode", "0600", "content", "");
    char *got = json_dumps(v, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(v, want), "got %s", got);
    free(got);
    ck_assert_uint_eq(json_array_size(sens), 0);
    json_decref(want);
    json_decref(v);
    json_decref(sens);

    v = sf_config_eval_resource(c, sf_config_find(c, "local_file.b"), &sc, &sens, &diags);
    ck_assert_str_eq(json_string_value(json_object_get(v, "content")), "SHA256:abc");
    ck_assert_str_eq(json_string_value(json_object_get(v, "sensitive_content")), "hunter2");
    ck_assert_uint_eq(json_array_size(sens), 1);
    ck_assert_str_eq(json_string_value(json_array_get(sens, 0)), "sensitive_content");
    json_decref(v);
    json_decref(sens);

    v = sf_config_eval_resource(c, sf_config_find(c, "local_file.c"), &sc, NULL, &diags);
    ck_assert_ptr_eq(json_object_get(v, "content"), sf_unknown());
    ck_assert(json_is_string(json_object_get(v, "path")));
    json_decref(v);

    v = sf_config_eval_resource(c, sf_config_find(c, "test_resource.t"), &sc, &sens, &diags);
    ck_assert_msg(v != NULL, "%s", first_error());
    ck_assert(json_is_integer(json_object_get(v, "count")));
    ck_assert_int_eq(json_integer_value(json_object_get(v, "count")), 5);
    ck_assert(json_is_true(json_object_get(v, "enabled")));
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(v, "items"), 1)), 8080);
    ck_assert_ptr_eq(json_object_get(json_object_get(v, "tags"), "k"), sf_unknown());
    ck_assert_int_eq(json_integer_value(json_object_get(v, "latency_ms")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(v, "fail_on")), "");
    ck_assert_ptr_null(json_object_get(v, "id"));
    ck_assert_ptr_null(json_object_get(v, "size"));
    ck_assert_uint_eq(json_array_size(sens), 1);
    ck_assert_str_eq(json_string_value(json_array_get(sens, 0)), "value");
    json_decref(v);
    json_decref(sens);
    ck_assert_uint_eq(diags.n, 0);

    const struct sf_resource_cfg *bad = sf_config_find(c, "local_file.bad");
    ck_assert_ptr_null(sf_config_eval_resource(c, bad, &sc, &sens, &diags));
    ck_assert_ptr_null(sens);
    ck_assert_uint_eq(diags.n, 1);
    const struct sf_node *pn = sf_node_get(bad->with, "path");
    ck_assert_int_eq(diags.items[0].line, pn->pos.line);
    ck_assert_int_eq(diags.items[0].col, pn->pos.col);
    ck_assert_str_eq(diags.items[0].summary,
                     "local_file.bad: attribute \"path\": expected a string, got a mapping");

    ck_assert_uint_eq(c->n_outputs, 3);
    bool s = true;
    const struct sf_output_cfg *o = &c->outputs[0];
    ck_assert_str_eq(o->name, "short");
    ck_assert_uint_eq(o->n_refs, 1);
    s = false;
    v = sf_config_eval_output(c, o, &sc, &s, &diags);
    ck_assert_ptr_eq(v, sf_unknown());
    ck_assert(!s);
    json_decref(v);
    o = &c->outputs[1];
    ck_assert(o->sensitive);
    ck_assert_str_eq(o->description, "the port");
    v = sf_config_eval_output(c, o, &sc, &s, &diags);
    ck_assert_int_eq(json_integer_value(v), 8080);
    ck_assert(s);
    json_decref(v);
    s = false;
    v = sf_config_eval_output(c, &c->outputs[2], &sc, &s, &diags);
    ck_assert_str_eq(json_string_value(json_array_get(v, 0)), "hunter2");
    ck_assert(s);
    json_decref(v);
    sf_config_free(c);
}
END_TEST

START_TEST(test_large)
{
    const int N = 10000;
    struct sf_buf b = {0};
    sf_buf_puts(&b, HEAD "variables:\n  prefix: {type: string, default: f}\nresources:\n");
    for (int i = 0; i < N; i++) {
        sf_buf_printf(&b, "  - type: local_file\n    name: f%d\n    with:\n", i);
        sf_buf_printf(&b, "      path: \"${var.prefix}%d.txt\"\n", i);
        if (i > 0)
            sf_buf_printf(&b, "      content: \"${local_file.f%d.id} ${local_file.f%d.path}\"\n",
                          (i * 7919) % i, i - 1);
        if (i > 1)
            sf_buf_printf(&b, "    depends_on: [local_file.f%d]\n", i - 2);
    }
    double t0 = sf_now();
    struct sf_config *c = load_ok(b.s);
    double t1 = sf_now();
    ck_assert_int_eq(sf_config_bind_vars(c, NULL, 0, NULL, 0, &diags), 0);
    struct lookup_ctx l = {0};
    struct sf_scope sc = {res_lookup, &l, NULL};
    for (size_t i = 0; i < c->n_resources; i++) {
        json_t *v = sf_config_eval_resource(c, &c->resources[i], &sc, NULL, &diags);
        ck_assert_ptr_nonnull(v);
        json_decref(v);
    }
    double t2 = sf_now();
    ck_assert_uint_eq(c->n_resources, (size_t)N);
    ck_assert_uint_eq(c->resources[N - 1].n_refs, 3);
    printf("%d resources: load+check %.3f s, bind+eval %.3f s\n", N, t1 - t0, t2 - t1);
    sf_config_free(c);
    sf_buf_free(&b);
}
END_TEST

int main(void)
{
    register_providers();
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_positions);
    tcase_add_test(tc, test_yaml_typing);
    tcase_add_test(tc, test_yaml_structure);
    tcase_add_test(tc, test_yaml_stream);
    tcase_add_test(tc, test_checks);
    tcase_add_test(tc, test_var_precedence);
    tcase_add_test(tc, test_var_conversion);
    tcase_add_test(tc, test_eval_resource);
    tcase_add_test(tc, test_large);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

/*
 * Unit tests of the ${...} expression language (expr.c): parsing and the
 * references it finds, templates, every function, unknown and sensitive
 * propagation, and errors at the exact column of the problem.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expr.h"
#include "util.h"
#include "value.h"

/* Variables come from vars, resource attributes from res ("TYPE.NAME" ->
 * object); a name listed in secret is sensitive; a resource attribute
 * missing from res is unknown (not yet created). */
struct fixture {
    json_t *vars, *res;
    const char *secret;
};

static json_t *lookup(void *ctx, const struct sf_ref *ref, bool *sensitive, struct sf_diags *d)
{
    struct fixture *f = ctx;
    if (ref->kind == SF_REF_VAR) {
        json_t *v = json_object_get(f->vars, ref->name);
        if (!v) {
            sf_error(d, &ref->pos, "no variable %s", ref->name);
            return NULL;
        }
        if (f->secret && strcmp(f->secret, ref->name) == 0)
            *sensitive = true;
        return json_incref(v);
    }
    json_t *obj = json_object_get(f->res, ref->name);
    json_t *v = obj ? json_object_get(obj, ref->attr) : NULL;
    return json_incref(v ? v : sf_unknown());
}

static struct fixture fx;
static struct sf_scope scope;
static struct sf_diags diags;
static const struct sf_pos at = {"t.yaml", 3, 10};

static void setup(void)
{
    fx.vars = json_pack("{s:s, s:i, s:[s,s,s], s:{s:s}, s:n, s:s, s:b, s:f}", "name", "world", "port",
                        8080, "list", "a", "b", "c", "tags", "team", "data", "nothing", "token",
                        "s3cr3t", "flag", 1, "ratio", 0.5);
    fx.res = json_pack("{s:{s:s, s:[i,i]}}", "local_file.a", "path", "a.txt", "nums", 1, 2);
    fx.secret = "token";
    scope.lookup = lookup;
    scope.ctx = &fx;
    scope.base_dir = NULL;
    sf_diags_init(&diags);
}

static void teardown(void)
{
    json_decref(fx.vars);
    json_decref(fx.res);
    sf_diags_free(&diags);
}

static json_t *ev(const char *text, bool *sens)
{
    bool dummy = false;
    return sf_expr_eval(text, &at, &scope, sens ? sens : &dummy, &diags);
}

static void assert_str(const char *text, const char *want)
{
    json_t *v = ev(text, NULL);
    ck_assert_msg(v != NULL, "%s failed: %s", text, diags.n ? diags.items[0].summary : "?");
    ck_assert_msg(json_is_string(v), "%s is not a string", text);
    ck_assert_str_eq(json_string_value(v), want);
    json_decref(v);
}

/* Evaluating text fails with one error at column col of the line. */
static void assert_error(const char *text, int col, const char *needle)
{
    size_t before = diags.n;
    json_t *v = ev(text, NULL);
    ck_assert_msg(v == NULL, "%s should fail", text);
    ck_assert_uint_eq(diags.n, before + 1);
    const struct sf_diag *g = &diags.items[before];
    ck_assert_str_eq(g->file, "t.yaml");
    ck_assert_int_eq(g->line, 3);
    ck_assert_msg(g->col == col, "%s: error at column %d, expected %d (%s)", text, g->col, col,
                  g->summary);
    ck_assert_msg(strstr(g->summary, needle), "%s: \"%s\" lacks \"%s\"", text, g->summary, needle);
}

START_TEST(test_has_template)
{
    ck_assert(sf_expr_has_template("a ${var.x}"));
    ck_assert(!sf_expr_has_template("plain"));
    ck_assert(!sf_expr_has_template("$${var.x} escaped"));
    ck_assert(sf_expr_has_template("$${x} ${var.y}"));
    ck_assert(!sf_expr_has_template("$ {x} $"));
}
END_TEST

START_TEST(test_refs)
{
    struct sf_ref *refs;
    size_t n;
    const char *text = "x ${var.name} ${local_file.a.path} ${join(\",\", local_ssh_key.k.id[var.port])}";
    ck_assert_int_eq(sf_expr_refs(text, &at, &refs, &n, &diags), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(refs[0].kind, SF_REF_VAR);
    ck_assert_str_eq(refs[0].name, "name");
    ck_assert_ptr_null(refs[0].attr);
    ck_assert_int_eq(refs[0].pos.line, 3);
    ck_assert_int_eq(refs[0].pos.col, 10 + 4);
    ck_assert_int_eq(refs[1].kind, SF_REF_RESOURCE);
    ck_assert_str_eq(refs[1].name, "local_file.a");
    ck_assert_str_eq(refs[1].attr, "path");
    ck_assert_int_eq(refs[1].pos.col, 10 + 16);
    ck_assert_str_eq(refs[2].name, "local_ssh_key.k");
    ck_assert_str_eq(refs[2].attr, "id");
    ck_assert_str_eq(refs[3].name, "port");
    sf_refs_free(refs, n);

    ck_assert_int_eq(sf_expr_refs("no refs $${var.x}", &at, &refs, &n, &diags), 0);
    ck_assert_uint_eq(n, 0);
    sf_refs_free(refs, n);
    ck_assert_uint_eq(diags.n, 0);

    ck_assert_int_eq(sf_expr_refs("${foo}", &at, &refs, &n, &diags), -1);
    ck_assert_uint_eq(diags.n, 1);
    ck_assert_int_eq(diags.items[0].col, 12);
    ck_assert(strstr(diags.items[0].summary, "var.NAME or TYPE.NAME.ATTR"));
}
END_TEST

START_TEST(test_literals_and_types)
{
    json_t *v = ev("${var.port}", NULL);
    ck_assert(json_is_integer(v));
    ck_assert_int_eq(json_integer_value(v), 8080);
    json_decref(v);
    v = ev("${var.list}", NULL);
    ck_assert(json_is_array(v));
    ck_assert_uint_eq(json_array_size(v), 3);
    json_decref(v);
    v = ev("${ 42 }", NULL);
    ck_assert_int_eq(json_integer_value(v), 42);
    json_decref(v);
    v = ev("${-1.5}", NULL);
    ck_assert(json_is_real(v));
    json_decref(v);
    v = ev("${true}", NULL);
    ck_assert(json_is_true(v));
    json_decref(v);
    v = ev("${null}", NULL);
    ck_assert(json_is_null(v));
    json_decref(v);
    assert_str("${\"a \\\"q\\\" }\"}", "a \"q\" }");
    /* Anything around the ${} makes it a template, so text. */
    assert_str(" ${var.port}", " 8080");
    assert_str("", "");
    assert_str("plain", "plain");
}
END_TEST

START_TEST(test_templates)
{
    assert_str("hello ${var.name}!", "hello world!");
    assert_str("${var.name}:${var.port}:${var.flag}:${var.ratio}", "world:8080:true:0.5");
    assert_str("$${var.name} is ${var.name}", "${var.name} is world");
    assert_str("a${var.nothing}b", "ab");
    assert_str("${var.list[1]}${var.list.2}-${var.tags.team}-${var.tags[\"team\"]}", "bc-data-data");
    assert_str("${local_file.a.path}/x", "a.txt/x");
    json_t *v = ev("${local_file.a.nums[1]}", NULL);
    ck_assert_int_eq(json_integer_value(v), 2);
    json_decref(v);
    assert_str("price: $5 ${var.port}", "price: $5 8080");
}
END_TEST

START_TEST(test_functions)
{
    assert_str("${base64(\"hello\")}", "aGVsbG8=");
    assert_str("${base64(var.port)}", "ODA4MA==");
    assert_str("${sha256(\"abc\")}",
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_str("${join(\", \", var.list)}", "a, b, c");
    assert_str("${join(\"-\", local_file.a.nums)}", "1-2");
    assert_str("${default(var.nothing, \"fallback\")}", "fallback");
    assert_str("${default(var.name, \"fallback\")}", "world");
    assert_str("${format(\"%s:%d %v%%\", var.name, var.port, var.list)}",
               "world:8080 [\"a\",\"b\",\"c\"]%");
    assert_str("${format(\"no verbs\")}", "no verbs");

    char dir[] = "/tmp/sf_expr_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *path = sf_asprintf("%s/motd.txt", dir);
    ck_assert_int_eq(sf_write_file_atomic(path, "hi there\n", 9, 0644), 0);
    scope.base_dir = dir;
    assert_str("${file(\"motd.txt\")}", "hi there\n");
    assert_str("${sha256(file(\"motd.txt\"))}",
               "c641344867e9806fadfd219f25b62b97c94db0eed04a1d79e93676533cfb782b");
    size_t before = diags.n;
    ck_assert_ptr_null(ev("${file(\"absent.txt\")}", NULL));
    ck_assert_uint_eq(diags.n, before + 1);
    ck_assert(strstr(diags.items[before].summary, "absent.txt"));
    ck_assert(strstr(diags.items[before].summary, "No such file"));
    unlink(path);
    rmdir(dir);
    free(path);
}
END_TEST

/* The functions modules decide and build with. */
START_TEST(test_module_functions)
{
    assert_str("${if(gt(var.port, 80), \"high\", \"low\")}", "high");
    /* Only the branch taken is evaluated: the other would fail. */
    assert_str("${if(eq(var.nothing, null), \"none\", var.nothing.x)}", "none");
    assert_str("${format(\"%v\", [eq(1, 1.0), ne(\"a\", \"b\"), lt(1, 2), le(2, 2), ge(1, 2), and(true, false), or(false, true), not(true)])}",
               "[true,true,true,true,false,false,true,false]");
    assert_str("${format(\"%v\", [contains(var.list, \"b\"), contains(var.tags, \"team\"), contains(var.name, \"orl\"), contains(var.nothing, 1)])}",
               "[true,true,true,false]");
    assert_str("${format(\"%d %d %d %d\", length(var.list), length(var.tags), length(\"h\u00e9\"), length(var.nothing))}", "3 1 2 0");
    assert_str("${lookup(var.tags, \"team\")}", "data");
    assert_str("${lookup(var.tags, \"owner\", \"nobody\")}", "nobody");
    assert_str("${lookup(var.nothing, \"owner\", \"nobody\")}", "nobody");
    assert_str("${jsonencode(merge(var.tags, {team: \"ml\", \"env\": \"dev\"}, var.nothing))}",
               "{\"env\":\"dev\",\"team\":\"ml\"}");
    assert_str("${jsonencode(keys({b: 1, a: 2}))}", "[\"a\",\"b\"]");
    assert_str("${jsonencode(values({b: 1, a: 2}))}", "[2,1]");
    assert_str("${jsonencode(concat(var.list, [\"d\"], var.nothing))}", "[\"a\",\"b\",\"c\",\"d\"]");
    assert_str("${coalesce(var.nothing, \"\", \"x\")}", "x");
    assert_str("${upper(lower(\"MiXed\"))}", "MIXED");
    assert_str("${replace(\"a-b-c\", \"-\", \"_\")}", "a_b_c");
    assert_str("${jsonencode(split(\",\", \"a,b,,c\"))}", "[\"a\",\"b\",\"\",\"c\"]");
    assert_str("${tostring(var.port)}", "8080");
    assert_str("${format(\"%d\", tonumber(\"42\"))}", "42");
    assert_str("${format(\"%v\", [matches(\"STD3-4-8\", \"^[A-Z0-9]+(-[0-9]+)+$\"), matches(\"x\", \"^y\")])}", "[true,false]");
    assert_str("${jsonencode(flatten([[1, [2]], 3]))}", "[1,2,3]");
    assert_str("${jsonencode(distinct([1, 1.0, 2, \"a\", \"a\"]))}", "[1,2,\"a\"]");
    assert_str("${jsonencode(omit({a: 1, b: 2, c: 3}, \"a\", \"c\"))}", "{\"b\":2}");
    assert_str("${yamlencode({a: [1, 2]})}", "a:\n- 1\n- 2\n");
    assert_str("${format(\"%d %d %d %d\", max(1, 5, 3), min(4, 2), max([7, 9]), days(\"36h\"))}", "5 2 9 2");
    /* for expressions over lists and mappings, with a condition. */
    assert_str("${jsonencode([for x in var.list : upper(x)])}", "[\"A\",\"B\",\"C\"]");
    assert_str("${jsonencode([for i, x in var.list : format(\"%d=%s\", i, x) if ne(x, \"b\")])}",
               "[\"0=a\",\"2=c\"]");
    assert_str("${jsonencode({for k, v in {b: 2, a: 1} : upper(k) => max(v, 1)})}", "{\"A\":1,\"B\":2}");
    assert_str("${jsonencode([for r in [{n: \"x\", d: \"2d\"}] : {id: r.n, days: days(r.d)}])}",
               "[{\"days\":2,\"id\":\"x\"}]");
    assert_str("${jsonencode([for x in [1, 2] : [for y in [3] : [x, y]]])}", "[[[1,3]],[[2,3]]]");
    assert_str("${jsonencode({(var.name): 1})}", "{\"world\":1}");
    assert_error("${[for x in var.list : y]}", 33, "\"y\" is not a valid reference");
    assert_error("${{for k, v in var.tags : k}}", 37, "expected \"=>\"");
    assert_error("${{for k, v in {a: 1, b: 1} : \"same\" => v}}", 40, "makes the key \"same\" twice");
    /* Errors name the argument. */
    assert_error("${lt(1, \"a\")}", 12, "lt() compares two numbers or two strings");
    assert_error("${not(1)}", 16, "not() expects true or false as argument 1");
    assert_error("${lookup(var.tags, \"owner\")}", 29, "no key \"owner\" and no default");
    assert_error("${matches(\"a\", \"(\")}", 25, "not valid");
    assert_error("${tonumber(\"4x\")}", 21, "\"4x\" is not a number");
}
END_TEST

START_TEST(test_unknown)
{
    json_t *u = sf_unknown();
    const char *cases[] = {
        "${local_file.b.id}",
        "prefix-${local_file.b.id}",
        "${base64(local_file.b.id)}",
        "${sha256(local_file.b.id)}",
        "${join(\",\", local_file.b.list)}",
        "${default(local_file.b.id, \"x\")}",
        "${format(\"%s\", local_file.b.id)}",
        "${local_file.b.id[0].x}",
        "${var.list[local_file.b.n]}",
        "${file(local_file.b.id)}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        json_t *v = ev(cases[i], NULL);
        ck_assert_msg(v == u, "%s is not unknown", cases[i]);
        json_decref(v);
    }
    /* default() with a known null first argument falls back even to an unknown. */
    json_t *v = ev("${default(var.nothing, local_file.b.id)}", NULL);
    ck_assert_ptr_eq(v, u);
    json_decref(v);
    ck_assert_uint_eq(diags.n, 0);
}
END_TEST

START_TEST(test_sensitive)
{
    bool s = false;
    json_t *v = ev("Bearer ${var.token}", &s);
    ck_assert(s);
    json_decref(v);
    s = false;
    v = ev("${sha256(var.token)}", &s);
    ck_assert(s);
    json_decref(v);
    s = false;
    v = ev("${default(var.nothing, var.token)}", &s);
    ck_assert(s);
    json_decref(v);
    s = false;
    v = ev("${var.name} ${local_file.a.path}", &s);
    ck_assert(!s);
    json_decref(v);
}
END_TEST

START_TEST(test_errors)
{
    /* at.col is 10: the string's first character. */
    assert_error("abc ${var.name", 14, "unterminated \"${\"");
    assert_error("${join(\",\", var.list", 10, "unterminated");
    assert_error("${bse64(\"x\")}", 12, "unknown function \"bse64\"; did you mean \"base64\"?");
    assert_error("${frobnicate(1)}", 12, "the functions are base64, sha256, join, file, default, format, if");
    assert_error("x ${join(var.list)}", 14, "join() takes 2 arguments, got 1");
    assert_error("${format()}", 12, "format() takes at least 1 argument, got 0");
    assert_error("${var.list[5]}", 20, "index 5 is out of range for var.list: it has 3 items");
    assert_error("${var.tags.nope}", 20, "var.tags has no key \"nope\"");
    assert_error("${var.name[0]}", 20, "var.name is a string");
    assert_error("${foo}", 12, "\"foo\" is not a valid reference");
    assert_error("${local_file}", 12, "references look like var.NAME or TYPE.NAME.ATTR");
    assert_error("${module.net}", 12, "module.NAME.OUTPUT");
    assert_error("${each.name}", 12, "each.key or each.value");
    assert_error("${local_file.a[1].path}", 25, "a \"string\" key or each.key");
    assert_error("${if(true, 1)}", 12, "if() takes 3 arguments, got 2");
    assert_error("${lookup(var.tags)}", 12, "lookup() takes 2 to 3 arguments");
    assert_error("${[1, 2}", 17, "expected \",\" or \"]\" in a list");
    assert_error("${{a 1}}", 15, "expected \":\" after the key \"a\"");
    assert_error("${var}", 12, "var.NAME");
    assert_error("${join(\",\", var.name)}", 22, "join() expects a list as argument 2, got a string");
    assert_error("${base64(var.list)}", 19, "expects a string as argument 1, got a list");
    assert_error("n=${var.list}", 12, "a list cannot be put into a string");
    assert_error("${format(\"%s %s\", 1)}", 12, "the format has 2 verbs but 1 argument was given");
    assert_error("${format(\"%d\", var.name)}", 25, "%d needs a whole number");
    assert_error("${format(\"%q\", 1)}", 19, "unknown verb \"%q\"");
    assert_error("${var.name var.port}", 21, "expected \"}\"");
    assert_error("${}", 12, "empty \"${}\"");
    assert_error("${\"abc}", 12, "unterminated string literal");
    /* Columns count characters, not bytes. */
    assert_error("é ${nope}", 14, "not a valid reference");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("expr");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_has_template);
    tcase_add_test(tc, test_refs);
    tcase_add_test(tc, test_literals_and_types);
    tcase_add_test(tc, test_templates);
    tcase_add_test(tc, test_functions);
    tcase_add_test(tc, test_module_functions);
    tcase_add_test(tc, test_unknown);
    tcase_add_test(tc, test_sensitive);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

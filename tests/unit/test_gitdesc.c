/*
 * Unit tests of the -f git:: forms (modules/gitdesc.c, and the URL display
 * of modules/gitsrc.c it relies on): what a description's git source
 * parses to, which forms are refused and with what words, that a URL's
 * credentials never reach a message or a record, and the state's record
 * of a description's source (kept across a crash, removed by NULL).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gitdesc.h"
#include "state.h"
#include "util.h"

static struct sf_diags diags;

static void setup(void)
{
    sf_diags_init(&diags);
}

static void teardown(void)
{
    sf_diags_free(&diags);
}

/* The message of the only diagnostic. */
static const char *only_error(void)
{
    ck_assert_uint_eq(diags.n, 1);
    return diags.items[0].summary;
}

static void parses(const char *arg, const char *url, const char *path, const char *ref)
{
    struct sf_gitsrc g;
    ck_assert_msg(sf_gitdesc_parse(arg, &g, &diags) == 0, "%s: %s", arg,
                  diags.n ? diags.items[0].summary : "");
    ck_assert_str_eq(g.url, url);
    ck_assert_str_eq(g.subdir, path);
    ck_assert_str_eq(g.ref, ref);
    sf_gitsrc_free(&g);
}

START_TEST(forms)
{
    ck_assert(sf_gitdesc_is("git::file:///r//a.yaml"));
    ck_assert(!sf_gitdesc_is("service.yaml"));
    ck_assert(!sf_gitdesc_is("./git::x.yaml"));
    ck_assert(!sf_gitdesc_is(NULL));
    parses("git::file:///srv/repo//envs/dev.yaml?ref=main", "file:///srv/repo", "envs/dev.yaml", "main");
    parses("git::https://git.example/org/infra.git//service.yaml?ref=v1.2.0",
           "https://git.example/org/infra.git", "service.yaml", "v1.2.0");
    parses("git::ssh://git@git.example/org/infra.git//envs/prod/service.yaml?ref=3f2a9c1",
           "ssh://git@git.example/org/infra.git", "envs/prod/service.yaml", "3f2a9c1");
    parses("git::git@git.example:org/infra.git//envs/dev.yaml", "git@git.example:org/infra.git",
           "envs/dev.yaml", "");
    ck_assert_uint_eq(diags.n, 0);
}
END_TEST

START_TEST(refused)
{
    struct sf_gitsrc g;
    ck_assert_int_eq(sf_gitdesc_parse("git::file:///srv/repo?ref=main", &g, &diags), -1);
    ck_assert_ptr_nonnull(strstr(only_error(), "name the description file in the repository after \"//\""));
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    ck_assert_int_eq(sf_gitdesc_parse("git::file:///srv/repo//envs/?ref=main", &g, &diags), -1);
    ck_assert_ptr_nonnull(strstr(only_error(), "name the description file"));
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    ck_assert_int_eq(sf_gitdesc_parse("git::file:///srv/repo//../etc/x.yaml", &g, &diags), -1);
    ck_assert_ptr_nonnull(strstr(only_error(), "may not leave the repository"));
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    ck_assert_int_eq(sf_gitdesc_parse("git::file:///srv/repo//a.yaml?branch=main", &g, &diags), -1);
    ck_assert_ptr_nonnull(strstr(only_error(), "?ref="));
}
END_TEST

START_TEST(credentials_hidden)
{
    char *u = sf_gitsrc_display_url("https://ci:s3cr3t@git.example/org/infra.git");
    ck_assert_str_eq(u, "https://git.example/org/infra.git");
    free(u);
    u = sf_gitsrc_display_url("https://gitlab-ci-token:tok@en@git.example:8443/a.git");
    ck_assert_str_eq(u, "https://git.example:8443/a.git");
    free(u);
    /* No userinfo, or an @ after the host: left as it is. */
    u = sf_gitsrc_display_url("https://git.example/org/a@b.git");
    ck_assert_str_eq(u, "https://git.example/org/a@b.git");
    free(u);
    u = sf_gitsrc_display_url("git@git.example:org/a.git");
    ck_assert_str_eq(u, "git@git.example:org/a.git");
    free(u);

    /* A bad form's message shows the URL without them. */
    struct sf_gitsrc g;
    ck_assert_int_eq(sf_gitdesc_parse("git::https://ci:s3cr3t@git.example/infra.git?ref=main", &g, &diags), -1);
    ck_assert_ptr_null(strstr(only_error(), "s3cr3t"));
    ck_assert_ptr_nonnull(strstr(only_error(), "https://git.example/infra.git"));

    /* And so does the record a plan and a state keep. */
    struct sf_gitdesc d = {0};
    ck_assert_int_eq(sf_gitdesc_parse("git::https://ci:s3cr3t@git.example/infra.git//e/dev.yaml?ref=main", &d.src,
                                      &diags),
                     0);
    d.shown_url = sf_gitsrc_display_url(d.src.url);
    d.commit = sf_xstrdup("0123456789abcdef0123456789abcdef01234567");
    json_t *rec = sf_gitdesc_record(&d);
    char *text = json_dumps(rec, JSON_SORT_KEYS);
    ck_assert_str_eq(text, "{\"commit\": \"0123456789abcdef0123456789abcdef01234567\", \"path\": \"e/dev.yaml\", "
                           "\"ref\": \"main\", \"url\": \"https://git.example/infra.git\"}");
    char *said = sf_gitdesc_describe(rec);
    ck_assert_str_eq(said, "https://git.example/infra.git//e/dev.yaml at commit "
                           "0123456789abcdef0123456789abcdef01234567 (ref main)");
    free(said);
    free(text);
    json_decref(rec);
    sf_gitdesc_free(&d);
}
END_TEST

START_TEST(cache_of_a_tree)
{
    /* A description's directory inside an extracted tree shares the cache
     * that holds the tree, so its git modules are looked up there. */
    char *c = sf_gitsrc_cache("/nonexistent/w/.sparkform/modules/trees/0123abcd/envs");
    ck_assert_str_eq(c, "/nonexistent/w/.sparkform/modules");
    free(c);
    ck_assert(sf_gitsrc_in_tree("/nonexistent/w/.sparkform/modules/trees/0123abcd/envs"));
    c = sf_gitsrc_cache("/nonexistent/w/envs");
    ck_assert_str_eq(c, "/nonexistent/w/envs/.sparkform/modules");
    free(c);
    ck_assert(!sf_gitsrc_in_tree("/nonexistent/w/envs"));
}
END_TEST

START_TEST(state_records_source)
{
    char dir[] = "/tmp/sf_gitdesc_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *path = sf_asprintf("%s/st.json", dir);
    json_t *src = json_pack("{s:s, s:s, s:s, s:s}", "url", "file:///r", "path", "envs/dev.yaml", "ref", "main",
                            "commit", "0123456789abcdef0123456789abcdef01234567");
    struct sf_state *st;
    ck_assert_int_eq(sf_state_open_locked(path, "apply", 0, &st, &diags), 0);
    ck_assert_ptr_null(sf_state_source(st));
    ck_assert_int_eq(sf_state_begin(st, &diags), 0);
    ck_assert_int_eq(sf_state_set_source(st, src, &diags), 0);
    /* A run that dies: the journal brings the record back. */
    sf_state_free(st);
    ck_assert_int_eq(sf_state_open_locked(path, "apply", 0, &st, &diags), 0);
    ck_assert(json_equal((json_t *)sf_state_source(st), src));
    ck_assert_int_eq(sf_state_begin(st, &diags), 0);
    ck_assert_int_eq(sf_state_commit(st, &diags), 0);
    long long serial = sf_state_serial(st);
    /* The same source again changes nothing. */
    ck_assert_int_eq(sf_state_begin(st, &diags), 0);
    ck_assert_int_eq(sf_state_set_source(st, src, &diags), 0);
    ck_assert_int_eq(sf_state_commit(st, &diags), 0);
    ck_assert_int_eq(sf_state_serial(st), serial);
    sf_state_free(st);
    json_t *doc = json_load_file(path, 0, NULL);
    ck_assert(json_equal(json_object_get(doc, "source"), src));
    json_decref(doc);
    /* A plain file's apply removes it. */
    ck_assert_int_eq(sf_state_open_locked(path, "apply", 0, &st, &diags), 0);
    ck_assert_int_eq(sf_state_begin(st, &diags), 0);
    ck_assert_int_eq(sf_state_set_source(st, NULL, &diags), 0);
    ck_assert_int_eq(sf_state_commit(st, &diags), 0);
    ck_assert_ptr_null(sf_state_source(st));
    sf_state_free(st);
    doc = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_ptr_null(json_object_get(doc, "source"));
    json_decref(doc);
    ck_assert_uint_eq(diags.n, 0);
    json_decref(src);
    char *rm = sf_asprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
    free(rm);
    free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gitdesc");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, forms);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, credentials_hidden);
    tcase_add_test(tc, cache_of_a_tree);
    tcase_add_test(tc, state_records_source);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

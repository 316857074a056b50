/*
 * The bad-input corpus: every tests/bad/NN-name.yaml is a description with
 * one mistake, and NN-name.err the exact diagnostics a user sees for it.
 * Each case is loaded, its variables bound and its resources evaluated the
 * way plan does (the types' plan steps included), and the printed
 * diagnostics compared with the .err file.
 */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static json_t *unknown_lookup(void *ctx, const struct sf_ref *ref, bool *sensitive,
                              struct sf_diags *d)
{
    return json_incref(sf_unknown());
}

/* What a user would see for this file. Caller frees. */
static char *run_case(const char *yaml, size_t *nerrors)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_config *c = NULL;
    if (sf_config_load(yaml, &c, &d) == 0) {
        if (sf_config_bind_vars(c, NULL, 0, NULL, 0, &d) == 0) {
            struct sf_scope sc = {unknown_lookup, NULL, c->dir};
            for (size_t i = 0; i < c->n_resources; i++) {
                json_t *sens = NULL;
                json_t *v = sf_config_eval_resource(c, &c->resources[i], &sc, &sens, &d);
                json_decref(v);
                json_decref(sens);
            }
            for (size_t i = 0; i < c->n_outputs; i++) {
                bool s = false;
                json_decref(sf_config_eval_output(c, &c->outputs[i], &sc, &s, &d));
            }
        }
        sf_config_free(c);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sf_diags_print(f, &d, false);
    fclose(f);
    *nerrors = sf_diags_errors(&d);
    sf_diags_free(&d);
    return buf;
}

START_TEST(test_corpus)
{
    glob_t g;
    ck_assert_int_eq(glob("tests/bad/*.yaml", 0, NULL, &g), 0);
    ck_assert_msg(g.gl_pathc >= 30, "only %zu cases in tests/bad", g.gl_pathc);
    int failures = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *yaml = g.gl_pathv[i];
        size_t nerr = 0;
        char *got = run_case(yaml, &nerr);
        char *errpath = sf_xstrdup(yaml);
        strcpy(errpath + strlen(errpath) - 4, "err");
        char *want = sf_read_file(errpath, NULL);
        if (nerr == 0) {
            fprintf(stderr, "%s: no error reported\n", yaml);
            failures++;
        }
        if (!want) {
            fprintf(stderr, "%s: missing; the output was:\n%s", errpath, got);
            failures++;
        } else if (strcmp(want, got) != 0) {
            fprintf(stderr, "%s: mismatch\n--- expected:\n%s--- got:\n%s", yaml, want, got);
            failures++;
        }
        free(want);
        free(errpath);
        free(got);
    }
    globfree(&g);
    ck_assert_int_eq(failures, 0);
}
END_TEST

int main(void)
{
    register_providers();
    Suite *s = suite_create("badcorpus");
    TCase *tc = tcase_create("corpus");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_corpus);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

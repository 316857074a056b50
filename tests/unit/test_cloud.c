/*
 * Unit tests of the cloud provider's session (providers/cloud/cloud.c),
 * called as the engine calls it, against a localcloud the test starts on a
 * free loopback port: settings that are missing, a refused login that
 * never shows the password, a token that expires under eight threads
 * at once being renewed by exactly one login, and the plan-time checks of
 * flavors, images and versions with their suggestions. The resource types
 * are covered end to end by tests/e2e/cloud_*.sh.
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloud/cloud.h"
#include "diag.h"
#include "lcproc.h"
#include "provider.h"
#include "util.h"

static char tmpdir[256];
static char url[128];
static pid_t lc_pid;
static struct sf_diags diags;
static struct sf_http_stats stats;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static void start_localcloud(void)
{
    static const char *const extra[] = {"--token-ttl", "1", "--verbose", NULL};
    char addr[96];
    lc_pid = sf_test_localcloud_start(tmpdir, extra, addr, sizeof(addr));
    snprintf(url, sizeof(url), "http://%s/identity/v3", addr);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sf-test-cloud-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    sf_diags_init(&diags);
    memset(&stats, 0, sizeof(stats));
    lc_pid = 0;
    url[0] = '\0';
}

static void teardown(void)
{
    sf_test_localcloud_stop(lc_pid);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sf_diags_free(&diags);
}

static int configure(json_t *settings, void **ctx)
{
    struct sf_provider_setup s = {
        .provider = "cloud",
        .settings = settings,
        .config_dir = tmpdir,
        .stats = &stats,
        .diags = &diags,
        .deadline = sf_now() + 30,
    };
    int rc = sf_provider_cloud.configure(&s, ctx);
    json_decref(settings);
    return rc;
}

/* Every diagnostic's text, for looking into. */
static char *all_text(void)
{
    struct sf_buf b = {0};
    for (size_t i = 0; i < diags.n; i++) {
        sf_buf_printf(&b, "%s\n", diags.items[i].summary);
        if (diags.items[i].detail)
            sf_buf_printf(&b, "%s\n", diags.items[i].detail);
    }
    return sf_buf_take(&b);
}

START_TEST(missing_settings_name_their_variables)
{
    void *ctx = NULL;
    ck_assert_int_eq(configure(json_object(), &ctx), -1);
    ck_assert_ptr_null(ctx);
    char *text = all_text();
    const char *want[] = {"OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_ID"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(strstr(text, want[i]), "no error names %s:\n%s", want[i], text);
    ck_assert_uint_eq(sf_diags_errors(&diags), 4);
    free(text);
}
END_TEST

START_TEST(refused_login_is_unauthorized_and_hides_the_password)
{
    start_localcloud();
    void *ctx = NULL;
    int rc = configure(json_pack("{s:s, s:s, s:s, s:s}", "auth_url", url, "username", "admin",
                                 "password", "Wr0ng-pa55word", "project_id", "local"),
                       &ctx);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(ctx);
    ck_assert_int_eq(sf_diags_last_class(&diags), SF_CLASS_UNAUTHORIZED);
    char *text = all_text();
    ck_assert_msg(strstr(text, "admin"), "the error does not name the user: %s", text);
    ck_assert_msg(!strstr(text, "Wr0ng-pa55word"), "the error shows the password: %s", text);
    free(text);
}
END_TEST

struct worker {
    void *ctx;
    struct sf_diags d;
    long status;
    int rc;
};

static void *call_flavors(void *p)
{
    struct worker *w = p;
    struct sf_call c = {.ctx = w->ctx, .address = "cloud_server.x", .diags = &w->d,
                        .deadline = sf_now() + 20};
    struct sf_cloud_resp r;
    w->rc = sf_cloud_do(&c, SF_CLOUD_COMPUTE, "GET", "/flavors", NULL, 0, "listing flavors", &r);
    w->status = r.status;
    sf_cloud_resp_free(&r);
    return NULL;
}

static int count_logins(void)
{
    char *log = sf_asprintf("%s/log", tmpdir);
    char *text = sf_read_file(log, NULL);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, "POST /identity/v3/auth/tokens -> 201")); p++)
        n++;
    free(text);
    free(log);
    return n;
}

START_TEST(expired_token_is_renewed_once_for_all_threads)
{
    start_localcloud();
    void *ctx = NULL;
    /* The URL without /v3 and with a slash, as OS_AUTH_URL often is. */
    char base[160];
    snprintf(base, sizeof(base), "%.*s/", (int)(strlen(url) - 3), url);
    int rc = configure(json_pack("{s:s, s:s, s:s, s:s}", "auth_url", base, "username", "admin",
                                 "password", "localcloud-admin", "project_id", "local"),
                       &ctx);
    ck_assert_msg(rc == 0, "configure failed: %s", diags.n ? diags.items[0].summary : "");
    ck_assert_int_eq(count_logins(), 1);
    sf_sleep_ms(1300); /* the token lives 1 s */

    struct worker w[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){.ctx = ctx};
        sf_diags_init(&w[i].d);
        pthread_create(&t[i], NULL, call_flavors, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(w[i].rc == 0 && w[i].status == 200, "call %d: rc %d, HTTP %ld: %s", i,
                      w[i].rc, w[i].status, w[i].d.n ? w[i].d.items[0].summary : "");
        sf_diags_free(&w[i].d);
    }
    sf_sleep_ms(100);
    ck_assert_int_eq(count_logins(), 2);
    sf_provider_cloud.release(ctx);
}
END_TEST

START_TEST(escape_and_tag)
{
    char *e = sf_cloud_escape("a b/\xc3\xbc~x");
    ck_assert_str_eq(e, "a%20b%2F%C3%BC~x");
    free(e);
    struct sf_call a = {.address = "cloud_network.a", .lineage = "L"};
    struct sf_call b = {.address = "cloud_network.b", .lineage = "L"};
    struct sf_call a2 = {.address = "cloud_network.a", .lineage = "M"};
    char *ta = sf_cloud_tag(&a), *tb = sf_cloud_tag(&b), *ta2 = sf_cloud_tag(&a2);
    ck_assert_uint_eq(strlen(ta), strlen("sparkform-") + 24);
    ck_assert_int_eq(strncmp(ta, "sparkform-", 10), 0);
    ck_assert_str_ne(ta, tb);
    ck_assert_str_ne(ta, ta2);
    char *again = sf_cloud_tag(&a);
    ck_assert_str_eq(ta, again);
    free(ta);
    free(tb);
    free(ta2);
    free(again);
}
END_TEST

START_TEST(suggestions)
{
    json_t *names = json_pack("[s, s, s, s, s, s, s, s]", "STD2-1-2", "STD2-2-4", "STD2-4-8",
                              "STD3-2-4", "STD3-4-8", "STD3-8-16", "STD3-16-32", "");
    char *s = sf_cloud_suggest("STD3-4-9", names);
    ck_assert_str_eq(s, " (did you mean \"STD3-4-8\"?)");
    free(s);
    /* Case alone is always close, however many letters it changes. */
    s = sf_cloud_suggest("std3-16-32", names);
    ck_assert_str_eq(s, " (did you mean \"STD3-16-32\"?)");
    free(s);
    /* Nothing close: a few of the names and how many more (the empty
     * name of an entry without one is not listed). */
    s = sf_cloud_suggest("GPU-big", names);
    ck_assert_str_eq(s, " (it has STD2-1-2, STD2-2-4, STD2-4-8, STD3-2-4, STD3-4-8, STD3-8-16 and 1 more)");
    free(s);
    json_decref(names);
    names = json_pack("[s, s]", "1.30", "1.31");
    s = sf_cloud_suggest("2.0", names);
    ck_assert_str_eq(s, " (it has 1.30, 1.31)");
    free(s);
    json_decref(names);
    names = json_array();
    s = sf_cloud_suggest("x", names);
    ck_assert_str_eq(s, "");
    free(s);
    json_decref(names);

    /* What a check looks at: a known string that the change sets. */
    json_t *prior = json_pack("{s:s, s:s}", "flavor", "STD2-2-4", "image", "old");
    json_t *desired = json_pack("{s:s, s:s, s:i, s:O}", "flavor", "STD2-2-4", "image", "new",
                                "count", 2, "later", sf_unknown());
    ck_assert_ptr_null(sf_cloud_checked(prior, desired, "flavor"));
    ck_assert_str_eq(sf_cloud_checked(prior, desired, "image"), "new");
    ck_assert_str_eq(sf_cloud_checked(NULL, desired, "flavor"), "STD2-2-4");
    ck_assert_ptr_null(sf_cloud_checked(NULL, desired, "count"));
    ck_assert_ptr_null(sf_cloud_checked(NULL, desired, "later"));
    ck_assert_ptr_null(sf_cloud_checked(NULL, desired, "absent"));
    json_decref(prior);
    json_decref(desired);
}
END_TEST

static int count_in_log(const char *what)
{
    char *log = sf_asprintf("%s/log", tmpdir);
    char *text = sf_read_file(log, NULL);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, what)); p++)
        n++;
    free(text);
    free(log);
    return n;
}

/* The diagnostic about attr, or NULL. */
static const struct sf_diag *about(const char *attr)
{
    for (size_t i = 0; i < diags.n; i++)
        if (diags.items[i].attr && strcmp(diags.items[i].attr, attr) == 0)
            return &diags.items[i];
    return NULL;
}

START_TEST(check_hooks_name_the_attribute)
{
    start_localcloud();
    void *ctx = NULL;
    int rc = configure(json_pack("{s:s, s:s, s:s, s:s}", "auth_url", url, "username", "admin",
                                 "password", "localcloud-admin", "project_id", "local"),
                       &ctx);
    ck_assert_msg(rc == 0, "configure failed: %s", diags.n ? diags.items[0].summary : "");
    struct sf_call c = {.ctx = ctx, .address = "cloud_node_group.g", .diags = &diags,
                        .deadline = sf_now() + 20};

    /* A node group's flavor the cloud has, by name or by id, passes. */
    json_t *ok = json_pack("{s:s}", "flavor", "STD3-4-8");
    ck_assert_int_eq(sf_cloud_node_group_type.check(&c, NULL, ok), 0);
    json_decref(ok);
    ok = json_pack("{s:s}", "flavor", "5a8b3b58-1d2c-4f6e-9a02-000000000408");
    ck_assert_int_eq(sf_cloud_node_group_type.check(&c, NULL, ok), 0);
    json_decref(ok);
    ck_assert_uint_eq(diags.n, 0);

    /* One it does not: an invalid value, about "flavor", with no place yet
     * (the engine gives it one), suggesting the close name. */
    json_t *bad = json_pack("{s:s}", "flavor", "STD3-4-9");
    ck_assert_int_eq(sf_cloud_node_group_type.check(&c, NULL, bad), -1);
    const struct sf_diag *g = about("flavor");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->cls, SF_CLASS_INVALID);
    ck_assert_ptr_null(g->file);
    ck_assert_str_eq(g->address, "cloud_node_group.g");
    ck_assert_str_eq(g->summary, "flavor \"STD3-4-9\": the cloud has no flavor of that name or id "
                                 "(did you mean \"STD3-4-8\"?)");
    /* An update that keeps the flavor does not ask about it. */
    ck_assert_int_eq(sf_cloud_node_group_type.check(&c, bad, bad), 0);
    json_decref(bad);
    sf_diags_free(&diags);
    sf_diags_init(&diags);

    /* A server: flavor and image each on its own. */
    c.address = "cloud_server.vm";
    bad = json_pack("{s:s, s:s}", "flavor", "STD2-2-5", "image", "ubuntu-22.4");
    ck_assert_int_eq(sf_cloud_server_type.check(&c, NULL, bad), -1);
    ck_assert_uint_eq(sf_diags_errors(&diags), 2);
    ck_assert_ptr_nonnull(strstr(about("flavor")->summary, "did you mean \"STD2-2-4\""));
    ck_assert_str_eq(about("image")->summary, "image \"ubuntu-22.4\": the cloud has no image of that "
                                              "name or id (did you mean \"ubuntu-22.04\"?)");
    json_decref(bad);
    ok = json_pack("{s:s, s:s}", "flavor", "STD2-2-4", "image", "debian-12");
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    ck_assert_int_eq(sf_cloud_server_type.check(&c, NULL, ok), 0);
    json_decref(ok);
    /* Unknown until apply: nothing to ask. */
    json_t *later = json_pack("{s:O, s:O}", "flavor", sf_unknown(), "image", sf_unknown());
    ck_assert_int_eq(sf_cloud_server_type.check(&c, NULL, later), 0);
    json_decref(later);
    ck_assert_uint_eq(diags.n, 0);

    /* A cluster: its master flavor, its version and the state asked for. */
    c.address = "cloud_k8s_cluster.k";
    bad = json_pack("{s:s, s:s, s:s}", "master_flavor", "STD3-4-8", "version", "1.99", "status",
                    "PAUSED");
    ck_assert_int_eq(sf_cloud_cluster_type.check(&c, NULL, bad), -1);
    ck_assert_uint_eq(sf_diags_errors(&diags), 2);
    ck_assert_ptr_null(about("master_flavor"));
    ck_assert_ptr_nonnull(strstr(about("version")->summary, "version \"1.99\": no cluster template"));
    ck_assert_ptr_nonnull(strstr(about("status")->summary, "\"PAUSED\" is not a state"));
    json_decref(bad);

    /* However many checks, one flavor list per run. */
    ck_assert_int_eq(count_in_log("GET /compute/v2.1/flavors ->"), 1);
    sf_provider_cloud.release(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cloud");
    TCase *tc = tcase_create("session");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, missing_settings_name_their_variables);
    tcase_add_test(tc, refused_login_is_unauthorized_and_hides_the_password);
    tcase_add_test(tc, expired_token_is_renewed_once_for_all_threads);
    tcase_add_test(tc, escape_and_tag);
    tcase_add_test(tc, suggestions);
    tcase_add_test(tc, check_hooks_name_the_attribute);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Unit tests of the state kept in S3 (state/remote.c) against a localcloud
 * the test starts on a free loopback port (build/localcloud, or LOCALCLOUD):
 * the lock protocol when the conditional PUT is refused (held: refused at
 * once, or after the wait), a lease lost because the lock was overwritten
 * behind its holder (the holder fails before writing the state), and a
 * network error in the middle of the state's upload (the journal is kept,
 * the next run replays and uploads it, the serial counts the run once).
 * The commands end to end: tests/e2e/s3_state.sh.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "lcproc.h"
#include "s3/s3.h"
#include "state_private.h"
#include "util.h"

#define BUCKET "sf-unit"
#define KEY "st/state.json"

static char tmpdir[256];
static char base[128]; /* http://127.0.0.1:PORT */
static pid_t lc_pid;
static char *access_key, *secret_key, *journal_dir;
static struct sf_state_s3 cfg;
static struct sf_http *http;
static struct sf_s3_ctx s3x;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

/* A plain request to localcloud; the answer is the caller's. */
static void call(const char *method, const char *path, const char *const *headers,
                 const char *body, struct sf_http_resp *rs)
{
    char *url = sf_asprintf("%s%s", base, path);
    struct sf_http_req rq = {.method = method, .url = url, .headers = headers, .body = body,
                             .body_len = body ? strlen(body) : 0, .deadline = sf_now() + 20};
    ck_assert_int_eq(sf_http_do(http, &rq, rs), 0);
    free(url);
}

/* A signed S3 request with the test's keys. */
static long s3(const char *method, const char *key, const char *body, char **out)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_s3_keys k = {.access = access_key, .secret = secret_key};
    struct sf_s3_req rq = {.method = method, .bucket = BUCKET, .key = key, .body = body,
                           .body_len = body ? strlen(body) : 0};
    struct sf_s3_resp rs;
    sf_s3_request(&s3x, &d, NULL, sf_now() + 20, &k, &rq, "test", SF_S3_OK404, &rs);
    long status = rs.http.status;
    if (out)
        *out = sf_xstrdup(rs.http.body ? rs.http.body : "");
    sf_s3_resp_free(&rs);
    sf_diags_free(&d);
    return status;
}

static void faults(const char *rules)
{
    struct sf_http_resp rs;
    const char *h[] = {"Content-Type: application/json", NULL};
    if (rules)
        call("POST", "/_localcloud/faults", h, rules, &rs);
    else
        call("DELETE", "/_localcloud/faults", NULL, NULL, &rs);
    ck_assert_int_lt(rs.status, 300);
    sf_http_resp_free(&rs);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sf-test-state-s3-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char addr[96];
    lc_pid = sf_test_localcloud_start(tmpdir, NULL, addr, sizeof(addr));
    snprintf(base, sizeof(base), "http://%s", addr);

    struct sf_http_opts o = {.max_attempts = 1};
    http = sf_http_new(&o);
    /* S3 keys of localcloud's admin: a token, then EC2 credentials. */
    const char *h[] = {"Content-Type: application/json", NULL};
    struct sf_http_resp rs;
    call("POST", "/identity/v3/auth/tokens", h,
         "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":"
         "\"admin\",\"domain\":{\"name\":\"Default\"},\"password\":\"localcloud-admin\"}}},"
         "\"scope\":{\"project\":{\"id\":\"local\"}}}}",
         &rs);
    ck_assert_int_eq(rs.status, 201);
    char *token = sf_http_header(&rs, "X-Subject-Token");
    json_t *j = json_loads(rs.body, 0, NULL);
    char *path = sf_asprintf("/identity/v3/users/%s/credentials/OS-EC2",
                             json_string_value(json_object_get(
                                 json_object_get(json_object_get(j, "token"), "user"), "id")));
    json_decref(j);
    sf_http_resp_free(&rs);
    char *auth = sf_asprintf("X-Auth-Token: %s", token);
    const char *h2[] = {"Content-Type: application/json", auth, NULL};
    call("POST", path, h2, "{\"tenant_id\":\"local\"}", &rs);
    ck_assert_int_eq(rs.status, 201);
    j = json_loads(rs.body, 0, NULL);
    json_t *cred = json_object_get(j, "credential");
    access_key = sf_xstrdup(json_string_value(json_object_get(cred, "access")));
    secret_key = sf_xstrdup(json_string_value(json_object_get(cred, "secret")));
    json_decref(j);
    sf_http_resp_free(&rs);
    free(auth);
    free(path);
    free(token);

    char *endpoint = sf_asprintf("%s/s3", base);
    const char *why;
    memset(&s3x, 0, sizeof(s3x));
    ck_assert_int_eq(sf_s3_endpoint_parse(endpoint, true, &s3x.ep, &why), 0);
    s3x.http = http;
    s3x.region = "local";
    ck_assert_int_eq(s3("PUT", NULL, NULL, NULL), 200);
    journal_dir = sf_asprintf("%s/.sparkform", tmpdir);
    cfg = (struct sf_state_s3){.endpoint = endpoint, .bucket = BUCKET, .key = KEY,
                               .region = "local", .access_key = access_key,
                               .secret_key = secret_key, .journal_dir = journal_dir};
}

static void teardown(void)
{
    sf_test_localcloud_stop(lc_pid);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sf_s3_endpoint_free(&s3x.ep);
    sf_http_free(http);
    free((char *)cfg.endpoint);
    free(access_key);
    free(secret_key);
    free(journal_dir);
}

static char *all_text(const struct sf_diags *d)
{
    struct sf_buf b = {0};
    for (size_t i = 0; i < d->n; i++)
        sf_buf_printf(&b, "%s\n%s\n", d->items[i].summary,
                      d->items[i].detail ? d->items[i].detail : "");
    return sf_buf_take(&b);
}

static void expect_text(const struct sf_diags *d, const char *want)
{
    char *text = all_text(d);
    ck_assert_msg(strstr(text, want), "no diagnostic says \"%s\":\n%s", want, text);
    ck_assert_msg(!strstr(text, secret_key), "a diagnostic shows the secret key:\n%s", text);
    free(text);
}

static struct sf_state *open_locked(long timeout_ms)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state_where w = {.s3 = &cfg};
    struct sf_state *s = NULL;
    int rc = sf_state_open_locked_at(&w, "apply", timeout_ms, &s, &d);
    char *text = all_text(&d);
    ck_assert_msg(rc == 0, "cannot open the state: %s", text);
    free(text);
    sf_diags_free(&d);
    return s;
}

static void put(struct sf_state *s, const char *address, const char *value, int want)
{
    struct sf_diags d;
    sf_diags_init(&d);
    json_t *e = json_pack("{s:s, s:s, s:{s:s}}", "type", "test_resource", "status", "ok",
                          "attributes", "value", value);
    ck_assert_int_eq(sf_state_put(s, address, e, &d), want);
    json_decref(e);
    if (want < 0)
        expect_text(&d, "was lost");
    sf_diags_free(&d);
}

/* The serial of the state object, -1 when there is none. */
static long long remote_serial(void)
{
    char *body;
    long st = s3("GET", KEY, NULL, &body);
    json_t *j = st == 200 ? json_loads(body, 0, NULL) : NULL;
    long long serial = j ? json_integer_value(json_object_get(j, "serial")) : -1;
    json_decref(j);
    free(body);
    return serial;
}

static bool journal_left(void)
{
    char *path = sf_remote_journal_path(&cfg);
    bool there = access(path, F_OK) == 0;
    free(path);
    return there;
}

START_TEST(refused_conditional_put_is_held)
{
    struct sf_state *a = open_locked(0);
    char *body;
    ck_assert_int_eq(s3("GET", KEY ".lock", NULL, &body), 200);
    json_t *lock = json_loads(body, 0, NULL);
    free(body);
    ck_assert_str_eq(json_string_value(json_object_get(lock, "id")), sf_state_lock_id(a));
    ck_assert_str_eq(json_string_value(json_object_get(lock, "operation")), "apply");
    ck_assert_ptr_nonnull(json_object_get(lock, "lease_expires"));
    json_decref(lock);

    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state_where w = {.s3 = &cfg};
    struct sf_state *b = NULL;
    double t0 = sf_now();
    ck_assert_int_eq(sf_state_open_locked_at(&w, "plan", 0, &b, &d), -1);
    ck_assert_double_lt(sf_now() - t0, 1.0);
    expect_text(&d, "state is locked by");
    expect_text(&d, sf_state_lock_id(a));
    sf_diags_free(&d);

    /* With a timeout it waits that long, then says it gave up. */
    sf_diags_init(&d);
    t0 = sf_now();
    ck_assert_int_eq(sf_state_open_locked_at(&w, "plan", 1200, &b, &d), -1);
    ck_assert_double_ge(sf_now() - t0, 1.1);
    expect_text(&d, "Gave up waiting for the lock after 1200 ms");
    sf_diags_free(&d);

    /* Released, the lock object is gone and the next run gets it. */
    sf_state_free(a);
    ck_assert_int_eq(s3("GET", KEY ".lock", NULL, NULL), 404);
    b = open_locked(0);
    sf_state_free(b);
}
END_TEST

START_TEST(lost_lease_fails_before_writing)
{
    cfg.lease_ms = 1500;
    struct sf_state *a = open_locked(0);
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_begin(a, &d), 0);
    put(a, "test_resource.a", "1", 0);
    ck_assert_int_eq(sf_state_commit(a, &d), 0);
    ck_assert_int_eq(remote_serial(), 1);
    ck_assert_int_eq(sf_state_begin(a, &d), 0);

    /* Someone takes the lock from under the holder; its next renewal
     * (every 0.5 s) finds the lock changed. */
    ck_assert_int_eq(s3("PUT", KEY ".lock", "{\"id\": \"intruder\", \"who\": \"x\"}", NULL), 200);
    sf_sleep_ms(1200);
    put(a, "test_resource.b", "2", -1);
    ck_assert_int_eq(sf_state_commit(a, &d), -1);
    expect_text(&d, "was lost: the lock is held now by x@");
    ck_assert_int_eq(remote_serial(), 1);
    ck_assert(journal_left());
    sf_diags_free(&d);
    sf_state_free(a);
    /* Not ours: unlocking left the intruder's lock alone. */
    char *body;
    ck_assert_int_eq(s3("GET", KEY ".lock", NULL, &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "intruder"));
    free(body);
}
END_TEST

START_TEST(network_error_in_the_write_keeps_the_journal)
{
    struct sf_state *a = open_locked(0);
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_begin(a, &d), 0);
    put(a, "test_resource.a", "1", 0);
    /* Every attempt of the upload is dropped before it is processed. */
    faults("{\"rules\":[{\"prefix\":\"/s3/" BUCKET "/" KEY "\",\"drop_rate\":1}]}");
    ck_assert_int_eq(sf_state_commit(a, &d), -1);
    faults(NULL);
    expect_text(&d, "keeps every change of this run");
    ck_assert(journal_left());
    ck_assert_int_eq(remote_serial(), -1);
    sf_diags_free(&d);
    sf_state_free(a);

    /* The next run replays the journal and uploads it: serial 1. */
    struct sf_state *b = open_locked(0);
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_serial(b), 1);
    ck_assert_ptr_nonnull(sf_state_get(b, "test_resource.a"));
    ck_assert_int_eq(sf_state_begin(b, &d), 0);
    ck_assert_int_eq(sf_state_commit(b, &d), 0);
    ck_assert_int_eq(remote_serial(), 1);
    ck_assert(!journal_left());

    /* The answer lost after the upload landed: the run cannot tell and
     * keeps its journal, which the next run recognises as already in the
     * state, so the change counts once. */
    ck_assert_int_eq(sf_state_begin(b, &d), 0);
    put(b, "test_resource.b", "2", 0);
    faults("{\"rules\":[{\"prefix\":\"/s3/" BUCKET "/" KEY "\",\"drop_after_rate\":1}]}");
    sf_state_commit(b, &d);
    faults(NULL);
    ck_assert_int_eq(remote_serial(), 2);
    sf_diags_free(&d);
    sf_state_free(b);
    struct sf_state *c = open_locked(0);
    ck_assert_int_eq(sf_state_serial(c), 2);
    ck_assert_ptr_nonnull(sf_state_get(c, "test_resource.b"));
    sf_state_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("state_s3");
    TCase *tc = tcase_create("remote");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, refused_conditional_put_is_held);
    tcase_add_test(tc, lost_lease_fails_before_writing);
    tcase_add_test(tc, network_error_in_the_write_keeps_the_journal);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

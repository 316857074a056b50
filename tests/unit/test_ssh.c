/*
 * Unit tests of the ssh provider's pieces that need no server: the
 * quoting of remote command lines (round trips through /bin/sh, which must
 * print each string back byte for byte and run nothing), the htpasswd file
 * (each line checked by Apache's `htpasswd -vb` and by crypt()), the
 * registry's config.yml (read back with the YAML reader), and the checks
 * ssh_registry's plan step makes.
 */
#include <check.h>
#include <crypt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "node.h"
#include "provider.h"
#include "ssh/ssh.h"
#include "util.h"
#include "value.h"

static char tmpdir[64];
static struct sf_diags diags;

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sf-test-ssh-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    sf_diags_init(&diags);
}

static void teardown(void)
{
    char *cmd = sf_asprintf("rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    sf_diags_free(&diags);
}

/* Runs argv (argv[0] a path), standard output into *out; returns the exit
 * status. */
static int run(const char *const *argv, char **out)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    struct sf_buf b = {0};
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0)
        sf_buf_add(&b, buf, (size_t)n);
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *out = sf_buf_take(&b);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* What /bin/sh makes of a command line. */
static char *sh(const char *cmdline, int *status)
{
    const char *argv[] = {"/bin/sh", "-c", cmdline, NULL};
    char *out;
    *status = run(argv, &out);
    return out;
}

/* ---------- quoting ---------- */

START_TEST(quote_round_trips)
{
    char *marker = sf_asprintf("%s/pwned", tmpdir);
    char *subst = sf_asprintf("$(touch %s)", marker);
    char *backtick = sf_asprintf("`touch %s`", marker);
    char *hostile = sf_asprintf("a'b\"c$(touch %s);d", marker);
    const char *cases[] = {
        "", "plain", "with space", "  leading and trailing  ", "it's", "'", "''", "'''",
        "a;b", "a && b", "a | b", "a > b", subst, backtick, hostile, "$HOME", "${HOME}",
        "\\", "\\'", "\"double\"", "*", "?", "[a-z]", "~", "-n", "--", "#comment",
        "line1\nline2", "\n", "tab\there", "!", "%s%n", "\xc3\xa9t\xc3\xa9",
        NULL,
    };
    for (size_t i = 0; cases[i]; i++) {
        char *q = sf_ssh_quote(cases[i]);
        ck_assert_msg(q[0] == '\'' && q[strlen(q) - 1] == '\'', "not in single quotes: %s", q);
        char *cmd = sf_asprintf("printf %%s %s", q);
        int status;
        char *out = sh(cmd, &status);
        ck_assert_int_eq(status, 0);
        ck_assert_msg(strcmp(out, cases[i]) == 0, "case %zu: sent \"%s\", the shell made \"%s\" of %s",
                      i, cases[i], out, q);
        free(out);
        free(cmd);
        free(q);
    }
    ck_assert_msg(access(marker, F_OK) != 0, "a quoted argument ran a command");
    free(marker);
    free(subst);
    free(backtick);
    free(hostile);
}
END_TEST

START_TEST(quote_escapes_single_quotes)
{
    char *q = sf_ssh_quote("a'b");
    ck_assert_str_eq(q, "'a'\\''b'");
    free(q);
    q = sf_ssh_quote("");
    ck_assert_str_eq(q, "''");
    free(q);
}
END_TEST

START_TEST(command_keeps_arguments_apart)
{
    char *marker = sf_asprintf("%s/pwned", tmpdir);
    char *hostile = sf_asprintf("x; touch %s", marker);
    const char *argv[] = {"printf", "[%s]", "one two", "", "it's", hostile, "$(id)", "a\nb", NULL};
    char *cmd = sf_ssh_command(argv);
    int status;
    char *out = sh(cmd, &status);
    ck_assert_int_eq(status, 0);
    char *want = sf_asprintf("[one two][][it's][%s][$(id)][a\nb]", hostile);
    ck_assert_str_eq(out, want);
    ck_assert_msg(access(marker, F_OK) != 0, "an argument ran a command");
    /* A script with its inputs as "$1"...: the way the type runs scripts. */
    const char *script[] = {"sh", "-c", "printf '<%s>' \"$1\" \"$2\"", "sh", "a b", hostile, NULL};
    char *cmd2 = sf_ssh_command(script);
    char *out2 = sh(cmd2, &status);
    char *want2 = sf_asprintf("<a b><%s>", hostile);
    ck_assert_str_eq(out2, want2);
    ck_assert_msg(access(marker, F_OK) != 0, "an argument of a script ran a command");
    free(want2);
    free(out2);
    free(cmd2);
    free(want);
    free(out);
    free(cmd);
    free(hostile);
    free(marker);
}
END_TEST

/* ---------- htpasswd ---------- */

/* Whether Apache's htpasswd accepts password for user in file. */
static bool htpasswd_verifies(const char *file, const char *user, const char *password)
{
    const char *argv[] = {"/usr/bin/htpasswd", "-vb", file, user, password, NULL};
    char *out;
    int status = run(argv, &out);
    free(out);
    return status == 0;
}

static char *write_tmp(const char *name, const char *text)
{
    char *path = sf_asprintf("%s/%s", tmpdir, name);
    ck_assert_int_eq(sf_write_file_atomic(path, text, strlen(text), 0600), 0);
    return path;
}

START_TEST(htpasswd_line_is_bcrypt)
{
    char *line = sf_ssh_htpasswd_line("alice", "s3cret-pass", &diags, "ssh_registry.r");
    ck_assert_ptr_nonnull(line);
    ck_assert_msg(strncmp(line, "alice:$2y$10$", 13) == 0, "%s", line);
    ck_assert_uint_eq(strlen(line), strlen("alice:") + 60);
    /* crypt() with the hash as its setting gives the hash back. */
    const char *hash = line + strlen("alice:");
    struct crypt_data cd = {0};
    ck_assert_str_eq(crypt_r("s3cret-pass", hash, &cd), hash);
    ck_assert_str_ne(crypt_r("s3cret-pasS", hash, &cd), hash);
    /* Apache's htpasswd reads it. */
    char *text = sf_asprintf("%s\n", line);
    char *file = write_tmp("htpasswd", text);
    ck_assert(htpasswd_verifies(file, "alice", "s3cret-pass"));
    ck_assert(!htpasswd_verifies(file, "alice", "wrong"));
    ck_assert(!htpasswd_verifies(file, "bob", "s3cret-pass"));
    /* A fresh salt each time. */
    char *again = sf_ssh_htpasswd_line("alice", "s3cret-pass", &diags, "ssh_registry.r");
    ck_assert_str_ne(again, line);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);
    free(again);
    free(file);
    free(text);
    free(line);
}
END_TEST

START_TEST(htpasswd_render_odd_users)
{
    const char *hostile = "a'b\"c$(touch /nonexistent/x);d";
    json_t *users = json_pack("{s:s, s:s, s:s}", "zed", "last one", "ci user", hostile,
                              "alice", "first\none");
    char *text = sf_ssh_htpasswd_render(users, &diags, "ssh_registry.r");
    ck_assert_ptr_nonnull(text);
    /* One line per user, by name. */
    ck_assert_msg(strncmp(text, "alice:", 6) == 0, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "\nci user:$2y$"));
    ck_assert_ptr_nonnull(strstr(text, "\nzed:$2y$"));
    ck_assert_ptr_null(strstr(text, hostile));
    char *file = write_tmp("htpasswd", text);
    ck_assert(htpasswd_verifies(file, "ci user", hostile));
    ck_assert(htpasswd_verifies(file, "zed", "last one"));
    ck_assert(!htpasswd_verifies(file, "ci user", "last one"));
    /* The check read uses for drift. */
    bool present;
    ck_assert_int_eq(sf_ssh_htpasswd_check(text, "alice", "first\none", &present), 1);
    ck_assert(present);
    ck_assert_int_eq(sf_ssh_htpasswd_check(text, "alice", "first", &present), 0);
    ck_assert(present);
    ck_assert_int_eq(sf_ssh_htpasswd_check(text, "bob", "first\none", &present), 0);
    ck_assert(!present);
    json_t *names = sf_ssh_htpasswd_users(text);
    json_t *want = json_pack("[s, s, s]", "alice", "ci user", "zed");
    ck_assert(json_equal(names, want));
    json_decref(want);
    json_decref(names);
    free(file);
    free(text);
    json_decref(users);
}
END_TEST

START_TEST(htpasswd_refuses_users_it_cannot_hold)
{
    static const struct {
        const char *name, *why;
    } bad[] = {
        {"a:b", "':'"},
        {"two\nlines", "line break"},
        {"cr\r", "line break"},
        {"#admin", "'#'"},
        {" pad", "space"},
        {"pad ", "space"},
        {"", "empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sf_diags_free(&diags);
        sf_diags_init(&diags);
        json_t *users = json_pack("{s:s}", bad[i].name, "the-password-1");
        char *text = sf_ssh_htpasswd_render(users, &diags, "ssh_registry.r");
        ck_assert_ptr_null(text);
        ck_assert_uint_eq(sf_diags_errors(&diags), 1);
        const char *msg = diags.items[0].summary;
        ck_assert_msg(strstr(msg, bad[i].why), "user %zu: %s", i, msg);
        ck_assert_msg(!strstr(msg, "the-password-1"), "the password is in: %s", msg);
        json_decref(users);
    }
    const char *why;
    ck_assert(sf_ssh_htpasswd_user_ok("ci user", &why));
    ck_assert(sf_ssh_htpasswd_user_ok("o'brien$(x)", &why));
    /* Passwords: empty, and longer than bcrypt reads. */
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    ck_assert_ptr_null(sf_ssh_htpasswd_line("u", "", &diags, "ssh_registry.r"));
    char long_pw[80];
    memset(long_pw, 'x', sizeof(long_pw) - 1);
    long_pw[sizeof(long_pw) - 1] = '\0';
    ck_assert_ptr_null(sf_ssh_htpasswd_line("u", long_pw, &diags, "ssh_registry.r"));
    ck_assert_uint_eq(sf_diags_errors(&diags), 2);
    ck_assert_ptr_nonnull(strstr(diags.items[1].summary, "72"));
}
END_TEST

/* ---------- the registry's config.yml ---------- */

static json_t *defaults(void)
{
    return json_pack("{s:s, s:s, s:i, s:s, s:s}", "base_dir", "/srv/my reg/it's $here",
                     "listen_address", "0.0.0.0", "port", 5000, "storage", "filesystem",
                     "registry_binary", "/usr/bin/docker-registry");
}

/* The YAML as the registry would read it, as JSON. */
static json_t *parse(const char *yaml)
{
    struct sf_doc *doc = NULL;
    ck_assert_int_eq(sf_yaml_parse("config.yml", yaml, strlen(yaml), &doc, &diags), 0);
    json_t *j = sf_node_to_json(doc->root);
    sf_doc_free(doc);
    return j;
}

START_TEST(config_filesystem)
{
    json_t *a = defaults();
    char *yaml = sf_ssh_registry_config(a, &diags, "ssh_registry.r");
    ck_assert_ptr_nonnull(yaml);
    json_t *cfg = parse(yaml);
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "version")), "0.1");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "http"), "addr")),
                     "0.0.0.0:5000");
    json_t *fs = json_object_get(json_object_get(cfg, "storage"), "filesystem");
    ck_assert_str_eq(json_string_value(json_object_get(fs, "rootdirectory")),
                     "/srv/my reg/it's $here/data");
    ck_assert_ptr_null(json_object_get(json_object_get(cfg, "storage"), "s3"));
    json_t *ht = json_object_get(json_object_get(cfg, "auth"), "htpasswd");
    ck_assert_str_eq(json_string_value(json_object_get(ht, "path")), "/srv/my reg/it's $here/htpasswd");
    ck_assert_str_eq(json_string_value(json_object_get(ht, "realm")), "sparkform-registry");
    /* What read compares with is what was written. */
    json_t *same = sf_ssh_registry_config_json(a);
    ck_assert_msg(json_equal(cfg, same), "%s", yaml);
    json_decref(same);
    json_decref(cfg);
    free(yaml);
    json_decref(a);
}
END_TEST

START_TEST(config_s3_and_ipv6)
{
    json_t *a = defaults();
    json_object_set_new(a, "storage", json_string("s3"));
    json_object_set_new(a, "listen_address", json_string("::"));
    json_object_set_new(a, "port", json_integer(5443));
    json_object_set_new(a, "s3_bucket", json_string("images"));
    json_object_set_new(a, "s3_endpoint", json_string("http://127.0.0.1:9000"));
    json_object_set_new(a, "s3_region", json_string("ru-msk"));
    json_object_set_new(a, "s3_access_key", json_string("AKIA123"));
    json_object_set_new(a, "s3_secret_key", json_string("se\"cr: et\n#1"));
    char *yaml = sf_ssh_registry_config(a, &diags, "ssh_registry.r");
    json_t *cfg = parse(yaml);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "http"), "addr")),
                     "[::]:5443");
    json_t *storage = json_object_get(cfg, "storage");
    ck_assert_ptr_null(json_object_get(storage, "filesystem"));
    json_t *s3 = json_object_get(storage, "s3");
    ck_assert_str_eq(json_string_value(json_object_get(s3, "bucket")), "images");
    ck_assert_str_eq(json_string_value(json_object_get(s3, "regionendpoint")), "http://127.0.0.1:9000");
    ck_assert_str_eq(json_string_value(json_object_get(s3, "region")), "ru-msk");
    ck_assert_str_eq(json_string_value(json_object_get(s3, "accesskey")), "AKIA123");
    ck_assert_str_eq(json_string_value(json_object_get(s3, "secretkey")), "se\"cr: et\n#1");
    /* An http:// endpoint is not TLS. */
    ck_assert(json_is_false(json_object_get(s3, "secure")));
    json_t *same = sf_ssh_registry_config_json(a);
    ck_assert_msg(json_equal(cfg, same), "%s", yaml);
    json_decref(same);
    json_decref(cfg);
    free(yaml);
    json_object_set_new(a, "s3_endpoint", json_string("https://hb.ru-msk.vkcs.cloud"));
    cfg = sf_ssh_registry_config_json(a);
    ck_assert(json_is_true(json_object_get(json_object_get(json_object_get(cfg, "storage"), "s3"),
                                           "secure")));
    json_decref(cfg);
    json_decref(a);
}
END_TEST

/* ---------- ssh_registry's checks ---------- */

static const struct sf_resource_type *registry(void)
{
    const struct sf_resource_type *rt = sf_provider_find_type("ssh_registry");
    ck_assert_ptr_nonnull(rt);
    ck_assert_str_eq(sf_provider_of_type("ssh_registry")->name, "ssh");
    return rt;
}

/* The plan step on desired: its result, the errors in diags. */
static int plan(json_t *desired)
{
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    struct sf_call c = {.address = "ssh_registry.r", .type = "ssh_registry", .name = "r",
                        .diags = &diags};
    return registry()->plan(&c, desired);
}

static json_t *valid(void)
{
    json_t *a = defaults();
    json_object_set_new(a, "base_dir", json_string("/var/lib/sparkform-registry"));
    json_object_set_new(a, "host", json_string("10.0.0.5"));
    json_object_set_new(a, "ssh_port", json_integer(22));
    json_object_set_new(a, "ssh_user", json_string("root"));
    json_object_set_new(a, "private_key", json_string("-----BEGIN OPENSSH PRIVATE KEY-----"));
    json_object_set_new(a, "host_key_fingerprint",
                        json_string("SHA256:JDFwjdTZ8WEHerYjJWLRARc3ZFZ3Lz9d6CngZWD0Tvk"));
    json_object_set_new(a, "users", json_pack("{s:s}", "alice", "pw-1"));
    json_object_set_new(a, "running", json_true());
    return a;
}

static bool error_has(const char *text)
{
    for (size_t i = 0; i < diags.n; i++)
        if (strstr(diags.items[i].summary, text))
            return true;
    return false;
}

START_TEST(plan_checks)
{
    json_t *a = valid();
    ck_assert_int_eq(plan(a), 0);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);

    /* Values not known before apply are not checked yet. */
    json_object_set(a, "host", sf_unknown());
    json_object_set(a, "host_key_fingerprint", sf_unknown());
    json_object_set_new(a, "users", json_pack("{s:o}", "alice", json_incref(sf_unknown())));
    ck_assert_int_eq(plan(a), 0);
    json_decref(a);

    struct {
        const char *attr, *json, *error;
    } bad[] = {
        {"users", "{\"a:b\": \"x\"}", "':'"},
        {"users", "{\"x\\ny\": \"x\"}", "line break"},
        {"users", "{}", "at least one user"},
        {"users", "{\"alice\": \"\"}", "non-empty"},
        {"base_dir", "\"/\"", "root directory"},
        {"base_dir", "\"relative/dir\"", "absolute"},
        {"base_dir", "\"/var/lib/../etc\"", "plain path"},
        {"base_dir", "\"/var/lib/reg/\"", "plain path"},
        {"port", "70000", "port"},
        {"storage", "\"nfs\"", "\"filesystem\" or \"s3\""},
        {"storage", "\"s3\"", "s3_bucket: required"},
        {"s3_bucket", "\"b\"", "storage is \"filesystem\""},
        {"host_key_fingerprint", "\"MD5:aa:bb\"", "SHA256:"},
        {"host_key_fingerprint", "null", "host key"},
        {"private_key", "null", "private key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *b = valid();
        json_object_set_new(b, bad[i].attr, json_loads(bad[i].json, JSON_DECODE_ANY, NULL));
        ck_assert_msg(plan(b) < 0, "%s = %s passed", bad[i].attr, bad[i].json);
        ck_assert_msg(error_has(bad[i].error), "%s = %s: \"%s\" not in: %s", bad[i].attr,
                      bad[i].json, bad[i].error, diags.n ? diags.items[0].summary : "(none)");
        json_decref(b);
    }
    /* A known_hosts file does instead of a fingerprint. */
    json_t *k = valid();
    json_object_set_new(k, "host_key_fingerprint", json_null());
    json_object_set_new(k, "known_hosts_path", json_string("known_hosts"));
    ck_assert_int_eq(plan(k), 0);
    json_decref(k);
}
END_TEST

START_TEST(schema)
{
    const struct sf_resource_type *rt = registry();
    static const char *const secret[] = {"private_key", "users", "s3_secret_key",
                                         "docker_config_json", NULL};
    for (size_t i = 0; secret[i]; i++)
        ck_assert_msg(sf_schema_attr(rt, secret[i])->flags & SF_SENSITIVE, "%s", secret[i]);
    ck_assert(sf_schema_attr(rt, "host")->flags & SF_FORCE_NEW);
    ck_assert(sf_schema_attr(rt, "base_dir")->flags & SF_FORCE_NEW);
    ck_assert(!(sf_schema_attr(rt, "users")->flags & SF_FORCE_NEW));
    ck_assert_str_eq(sf_schema_attr(rt, "base_dir")->default_json, "\"/var/lib/sparkform-registry\"");
    ck_assert_str_eq(sf_schema_attr(rt, "ssh_port")->default_json, "22");
}
END_TEST

static Suite *ssh_suite(void)
{
    Suite *s = suite_create("ssh");
    TCase *tc = tcase_create("ssh");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, quote_round_trips);
    tcase_add_test(tc, quote_escapes_single_quotes);
    tcase_add_test(tc, command_keeps_arguments_apart);
    tcase_add_test(tc, htpasswd_line_is_bcrypt);
    tcase_add_test(tc, htpasswd_render_odd_users);
    tcase_add_test(tc, htpasswd_refuses_users_it_cannot_hold);
    tcase_add_test(tc, config_filesystem);
    tcase_add_test(tc, config_s3_and_ipv6);
    tcase_add_test(tc, plan_checks);
    tcase_add_test(tc, schema);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ssh_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failures = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failures != 0;
}

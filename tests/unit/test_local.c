/*
 * Unit tests of the built-in local provider: local_file and local_ssh_key,
 * called through their resource type tables as the engine calls them.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "provider.h"
#include "util.h"

static char tmpdir[256];
static struct sf_diags diags;
static struct sf_call call;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sf-test-local-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    sf_diags_init(&diags);
    memset(&call, 0, sizeof(call));
    call.address = "local_file.test";
    call.type = "local_file";
    call.name = "test";
    call.stack = "unit";
    call.lineage = "lineage-1";
    call.config_dir = tmpdir;
    call.diags = &diags;
}

static void teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sf_diags_free(&diags);
}

static const struct sf_resource_type *type(const char *name)
{
    const struct sf_resource_type *rt = sf_provider_find_type(name);
    ck_assert_ptr_nonnull(rt);
    ck_assert_str_eq(sf_provider_of_type(name)->name, "local");
    return rt;
}

static char *in_tmp(const char *rel)
{
    return sf_asprintf("%s/%s", tmpdir, rel);
}

static char *slurp(const char *path)
{
    char *s = sf_read_file(path, NULL);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

static unsigned file_mode(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static bool diags_mention(const char *word)
{
    for (size_t i = 0; i < diags.n; i++)
        if (strstr(diags.items[i].summary, word))
            return true;
    return false;
}

/* ---- local_file ---- */

START_TEST(file_schema)
{
    const struct sf_resource_type *rt = type("local_file");
    const struct sf_attr *a = sf_schema_attr(rt, "path");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->flags, SF_REQUIRED | SF_FORCE_NEW);
    a = sf_schema_attr(rt, "sensitive_content");
    ck_assert_uint_eq(a->flags, SF_OPTIONAL | SF_SENSITIVE);
    ck_assert_str_eq(sf_schema_attr(rt, "mode")->default_json, "\"0644\"");
    ck_assert_str_eq(sf_schema_attr(rt, "content")->default_json, "\"\"");
    ck_assert_uint_eq(sf_schema_attr(rt, "id")->flags, SF_COMPUTED);
}
END_TEST

START_TEST(file_lifecycle)
{
    const struct sf_resource_type *rt = type("local_file");
    json_t *desired = json_pack("{s:s, s:s, s:s}", "path", "sub/dir/hello.txt", "content",
                                "hello\n", "mode", "0600");
    json_t *out = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);
    ck_assert_ptr_nonnull(out);

    char *path = in_tmp("sub/dir/hello.txt");
    char *text = slurp(path);
    ck_assert_str_eq(text, "hello\n");
    free(text);
    ck_assert_uint_eq(file_mode(path), 0600);
    char *dir = in_tmp("sub/dir");
    ck_assert_uint_eq(file_mode(dir), 0755);
    free(dir);
    /* sha256("hello\n") */
    ck_assert_str_eq(json_string_value(json_object_get(out, "id")),
                     "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    ck_assert_str_eq(json_string_value(json_object_get(out, "content")), "hello\n");

    /* Untouched: read gives back what was recorded. */
    json_t *seen = NULL;
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert_ptr_nonnull(seen);
    ck_assert(sf_value_equal(seen, out));
    json_decref(seen);

    /* Edited by hand: read shows the new content, mode and id. */
    ck_assert_int_eq(sf_write_file_atomic(path, "edited", 6, 0640), 0);
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert_str_eq(json_string_value(json_object_get(seen, "content")), "edited");
    ck_assert_str_eq(json_string_value(json_object_get(seen, "mode")), "0640");
    ck_assert_str_ne(json_string_value(json_object_get(seen, "id")),
                     json_string_value(json_object_get(out, "id")));
    ck_assert_str_eq(json_string_value(json_object_get(seen, "path")), "sub/dir/hello.txt");

    /* Update puts the description back: content and mode. */
    json_t *updated = NULL;
    ck_assert_int_eq(rt->update(&call, seen, desired, &updated), 0);
    text = slurp(path);
    ck_assert_str_eq(text, "hello\n");
    free(text);
    ck_assert_uint_eq(file_mode(path), 0600);
    ck_assert(sf_value_equal(updated, out));
    json_decref(seen);

    /* A change of mode alone. */
    json_object_set_new(desired, "mode", json_string("0444"));
    json_t *updated2 = NULL;
    ck_assert_int_eq(rt->update(&call, updated, desired, &updated2), 0);
    ck_assert_uint_eq(file_mode(path), 0444);
    ck_assert_str_eq(json_string_value(json_object_get(updated2, "mode")), "0444");

    /* A change of content. */
    json_object_set_new(desired, "content", json_string("bye"));
    json_t *updated3 = NULL;
    ck_assert_int_eq(rt->update(&call, updated2, desired, &updated3), 0);
    text = slurp(path);
    ck_assert_str_eq(text, "bye");
    free(text);

    ck_assert_int_eq(rt->delete(&call, updated3), 0);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(rt->read(&call, updated3, &seen), 0);
    ck_assert_ptr_null(seen);
    /* Deleting what is gone succeeds. */
    ck_assert_int_eq(rt->delete(&call, updated3), 0);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);

    free(path);
    json_decref(updated);
    json_decref(updated2);
    json_decref(updated3);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(file_mode_spelling_kept)
{
    const struct sf_resource_type *rt = type("local_file");
    json_t *desired = json_pack("{s:s, s:s, s:s}", "path", "a.txt", "content", "x", "mode", "600");
    json_t *out = NULL, *seen = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    /* Same bits written differently are not drift. */
    ck_assert(sf_value_equal(seen, out));
    json_decref(seen);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(file_sensitive)
{
    const struct sf_resource_type *rt = type("local_file");
    json_t *desired = json_pack("{s:s, s:s, s:s, s:s}", "path", "secret.txt", "content", "",
                                "sensitive_content", "s3cr3t", "mode", "0600");
    json_t *out = NULL, *seen = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    char *path = in_tmp("secret.txt");
    char *text = slurp(path);
    ck_assert_str_eq(text, "s3cr3t");
    free(text);

    ck_assert_int_eq(sf_write_file_atomic(path, "other", 5, 0600), 0);
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert_str_eq(json_string_value(json_object_get(seen, "sensitive_content")), "other");
    ck_assert_str_eq(json_string_value(json_object_get(seen, "content")), "");
    json_decref(seen);
    free(path);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(file_both_contents_error)
{
    const struct sf_resource_type *rt = type("local_file");
    json_t *desired = json_pack("{s:s, s:s, s:s, s:s}", "path", "both.txt", "content", "plain",
                                "sensitive_content", "TOPSECRET", "mode", "0644");
    json_t *out = NULL;
    ck_assert_int_lt(rt->create(&call, desired, &out), 0);
    ck_assert_ptr_null(out);
    ck_assert_uint_ge(sf_diags_errors(&diags), 1);
    ck_assert(diags_mention("sensitive_content"));
    ck_assert(!diags_mention("TOPSECRET"));
    char *path = in_tmp("both.txt");
    ck_assert_int_ne(access(path, F_OK), 0);
    free(path);
    json_decref(desired);
}
END_TEST

START_TEST(file_bad_mode)
{
    const struct sf_resource_type *rt = type("local_file");
    const char *bad[] = {"0689", "rw-r--r--", "", "777777"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        json_t *desired =
            json_pack("{s:s, s:s, s:s}", "path", "m.txt", "content", "x", "mode", bad[i]);
        json_t *out = NULL;
        size_t before = sf_diags_errors(&diags);
        ck_assert_int_lt(rt->create(&call, desired, &out), 0);
        ck_assert_ptr_null(out);
        ck_assert_uint_eq(sf_diags_errors(&diags), before + 1);
        ck_assert_msg(strncmp(diags.items[diags.n - 1].summary, "mode:", 5) == 0, "%s",
                      diags.items[diags.n - 1].summary);
        json_decref(desired);
    }
    char *path = in_tmp("m.txt");
    ck_assert_int_ne(access(path, F_OK), 0);
    free(path);
}
END_TEST

START_TEST(file_absolute_path_and_write_error)
{
    const struct sf_resource_type *rt = type("local_file");
    char *abs = in_tmp("abs.txt");
    json_t *desired = json_pack("{s:s, s:s, s:s}", "path", abs, "content", "x", "mode", "0644");
    json_t *out = NULL;
    call.config_dir = "/nonexistent-config-dir";
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    char *text = slurp(abs);
    ck_assert_str_eq(text, "x");
    free(text);
    json_decref(out);
    json_decref(desired);

    /* A parent that is a file: the error names the path and the reason. */
    char *under = sf_asprintf("%s/sub/f", abs);
    desired = json_pack("{s:s, s:s, s:s}", "path", under, "content", "x", "mode", "0644");
    ck_assert_int_lt(rt->create(&call, desired, &out), 0);
    ck_assert(diags_mention(abs));
    ck_assert(diags_mention("Not a directory"));
    ck_assert_str_eq(diags.items[diags.n - 1].address, "local_file.test");
    json_decref(desired);
    free(under);
    free(abs);
}
END_TEST

START_TEST(file_adopt)
{
    const struct sf_resource_type *rt = type("local_file");
    json_t *desired = json_pack("{s:s, s:s, s:s}", "path", "adopt.txt", "content", "same", "mode",
                                "0644");
    json_t *out = NULL;
    ck_assert_int_eq(rt->adopt(&call, desired, &out), 0);
    ck_assert_ptr_null(out); /* nothing there */

    char *path = in_tmp("adopt.txt");
    ck_assert_int_eq(sf_write_file_atomic(path, "different", 9, 0644), 0);
    ck_assert_int_eq(rt->adopt(&call, desired, &out), 0);
    ck_assert_ptr_null(out);

    ck_assert_int_eq(sf_write_file_atomic(path, "same", 4, 0644), 0);
    ck_assert_int_eq(rt->adopt(&call, desired, &out), 0);
    ck_assert_ptr_nonnull(out);
    json_t *created = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &created), 0);
    ck_assert(sf_value_equal(out, created));
    json_decref(created);
    json_decref(out);
    free(path);
    json_decref(desired);
}
END_TEST

/* ---- local_ssh_key ---- */

/* The first line a command prints, without its newline; caller frees. */
static char *run_line(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[4096] = "";
    char *got = fgets(line, sizeof(line), p);
    int st = pclose(p);
    ck_assert_msg(got && st == 0, "command failed: %s", cmd);
    line[strcspn(line, "\n")] = '\0';
    return sf_xstrdup(line);
}

/* The n-th space-separated word (0-based); caller frees. */
static char *word(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        s = strchr(s, ' ');
        ck_assert_ptr_nonnull(s);
        s++;
    }
    return sf_xstrndup(s, strcspn(s, " "));
}

START_TEST(key_schema)
{
    const struct sf_resource_type *rt = type("local_ssh_key");
    ck_assert_uint_eq(sf_schema_attr(rt, "private_key_openssh")->flags,
                      SF_COMPUTED | SF_STABLE | SF_SENSITIVE);
    ck_assert_uint_eq(sf_schema_attr(rt, "algorithm")->flags, SF_OPTIONAL | SF_FORCE_NEW);
    ck_assert_str_eq(sf_schema_attr(rt, "algorithm")->default_json, "\"ed25519\"");
    ck_assert_uint_eq(sf_schema_attr(rt, "id")->flags, SF_COMPUTED | SF_STABLE);
}
END_TEST

START_TEST(key_create_with_paths)
{
    const struct sf_resource_type *rt = type("local_ssh_key");
    call.address = "local_ssh_key.nodes";
    json_t *desired = json_pack("{s:s, s:s, s:s, s:s}", "algorithm", "ed25519", "comment",
                                "spark@nodes", "private_key_path", "keys/id_ed25519",
                                "public_key_path", "keys/id_ed25519.pub");
    json_t *out = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);

    char *priv = in_tmp("keys/id_ed25519");
    char *pub = in_tmp("keys/id_ed25519.pub");
    ck_assert_uint_eq(file_mode(priv), 0600);
    ck_assert_uint_eq(file_mode(pub), 0644);

    const char *pem = json_string_value(json_object_get(out, "private_key_openssh"));
    const char *line = json_string_value(json_object_get(out, "public_key_openssh"));
    const char *fp = json_string_value(json_object_get(out, "fingerprint_sha256"));
    ck_assert_ptr_nonnull(pem);
    ck_assert_ptr_nonnull(line);
    ck_assert_ptr_nonnull(fp);
    ck_assert_str_eq(json_string_value(json_object_get(out, "id")), fp);
    ck_assert(strncmp(pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36) == 0);
    ck_assert(strstr(pem, "\n-----END OPENSSH PRIVATE KEY-----\n") != NULL);
    /* Base64 body lines are at most 70 columns. */
    for (const char *p = pem; *p;) {
        size_t n = strcspn(p, "\n");
        ck_assert_uint_le(n, 70);
        p += n + (p[n] ? 1 : 0);
    }
    ck_assert(strncmp(line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37) == 0);
    ck_assert(strncmp(fp, "SHA256:", 7) == 0);
    ck_assert(strchr(fp, '=') == NULL);

    /* The files hold what the attributes say. */
    char *text = slurp(priv);
    ck_assert_str_eq(text, pem);
    free(text);
    text = slurp(pub);
    char *want = sf_asprintf("%s\n", line);
    ck_assert_str_eq(text, want);
    free(want);
    free(text);

    /* ssh-keygen derives the same public key from our private key file ... */
    char *cmd = sf_asprintf("ssh-keygen -y -f '%s'", priv);
    char *derived = run_line(cmd);
    free(cmd);
    char *k1 = word(derived, 1), *k2 = word(line, 1);
    ck_assert_str_eq(k1, k2);
    char *comment = word(line, 2);
    ck_assert_str_eq(comment, "spark@nodes");
    free(k1);
    free(k2);
    free(comment);
    free(derived);

    /* ... and prints the same fingerprint for the public key file. */
    cmd = sf_asprintf("ssh-keygen -l -f '%s'", pub);
    char *listing = run_line(cmd);
    free(cmd);
    char *f = word(listing, 1);
    ck_assert_str_eq(f, fp);
    free(f);
    free(listing);

    /* read: present -> prior; private key gone -> NULL (make a new one). */
    json_t *seen = NULL;
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert(sf_value_equal(seen, out));
    json_decref(seen);

    /* update carries the key over. */
    json_t *desired2 = json_deep_copy(desired);
    json_t *updated = NULL;
    ck_assert_int_eq(rt->update(&call, out, desired2, &updated), 0);
    ck_assert(sf_value_equal(updated, out));
    json_decref(updated);
    json_decref(desired2);

    /* No message ever carries the private key. */
    for (size_t i = 0; i < diags.n; i++)
        ck_assert(strstr(diags.items[i].summary, "PRIVATE") == NULL);

    ck_assert_int_eq(rt->delete(&call, out), 0);
    ck_assert_int_ne(access(priv, F_OK), 0);
    ck_assert_int_ne(access(pub, F_OK), 0);
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert_ptr_null(seen);
    ck_assert_int_eq(rt->delete(&call, out), 0);

    ck_assert_int_eq(rt->adopt(&call, desired, &seen), 0);
    ck_assert_ptr_null(seen);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);

    free(priv);
    free(pub);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(key_without_paths_and_unique)
{
    const struct sf_resource_type *rt = type("local_ssh_key");
    json_t *desired = json_pack("{s:s, s:s}", "algorithm", "ed25519", "comment", "");
    json_t *a = NULL, *b = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &a), 0);
    ck_assert_int_eq(rt->create(&call, desired, &b), 0);
    const char *la = json_string_value(json_object_get(a, "public_key_openssh"));
    /* No trailing space when there is no comment. */
    ck_assert_ptr_null(strchr(la + strlen("ssh-ed25519 "), ' '));
    ck_assert_str_ne(la, json_string_value(json_object_get(b, "public_key_openssh")));
    ck_assert_str_ne(json_string_value(json_object_get(a, "private_key_openssh")),
                     json_string_value(json_object_get(b, "private_key_openssh")));
    ck_assert_str_ne(json_string_value(json_object_get(a, "fingerprint_sha256")),
                     json_string_value(json_object_get(b, "fingerprint_sha256")));

    /* Nothing written, read returns the recorded key. */
    json_t *seen = NULL;
    ck_assert_int_eq(rt->read(&call, a, &seen), 0);
    ck_assert(sf_value_equal(seen, a));
    json_decref(seen);

    /* ssh-keygen accepts the in-memory key too (written here by the test). */
    char *priv = in_tmp("k");
    const char *pem = json_string_value(json_object_get(a, "private_key_openssh"));
    ck_assert_int_eq(sf_write_file_atomic(priv, pem, strlen(pem), 0600), 0);
    char *cmd = sf_asprintf("ssh-keygen -y -f '%s'", priv);
    char *derived = run_line(cmd);
    char *k1 = word(derived, 1), *k2 = word(la, 1);
    ck_assert_str_eq(k1, k2);
    free(k1);
    free(k2);
    free(derived);
    free(cmd);
    free(priv);

    json_decref(a);
    json_decref(b);
    json_decref(desired);
}
END_TEST

START_TEST(key_private_file_gone_recreates)
{
    const struct sf_resource_type *rt = type("local_ssh_key");
    json_t *desired = json_pack("{s:s, s:s, s:s}", "algorithm", "ed25519", "comment", "c",
                                "private_key_path", "id");
    json_t *out = NULL, *seen = NULL;
    ck_assert_int_eq(rt->create(&call, desired, &out), 0);
    char *priv = in_tmp("id");
    ck_assert_int_eq(unlink(priv), 0);
    ck_assert_int_eq(rt->read(&call, out, &seen), 0);
    ck_assert_ptr_null(seen);
    free(priv);
    json_decref(out);
    json_decref(desired);
}
END_TEST

START_TEST(key_unsupported_algorithm)
{
    const struct sf_resource_type *rt = type("local_ssh_key");
    json_t *desired =
        json_pack("{s:s, s:s, s:s}", "algorithm", "rsa", "comment", "", "private_key_path", "k");
    json_t *out = NULL;
    ck_assert_int_lt(rt->create(&call, desired, &out), 0);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(sf_diags_errors(&diags), 1);
    const char *msg = diags.items[0].summary;
    ck_assert_msg(strncmp(msg, "algorithm:", 10) == 0, "%s", msg);
    ck_assert_msg(strstr(msg, "\"ed25519\"") != NULL, "%s", msg);
    ck_assert_msg(strstr(msg, "\"rsa\"") != NULL, "%s", msg);
    char *priv = in_tmp("k");
    ck_assert_int_ne(access(priv, F_OK), 0);
    free(priv);
    json_decref(desired);
}
END_TEST

static Suite *local_suite(void)
{
    Suite *s = suite_create("local");
    TCase *tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, file_schema);
    tcase_add_test(tc, file_lifecycle);
    tcase_add_test(tc, file_mode_spelling_kept);
    tcase_add_test(tc, file_sensitive);
    tcase_add_test(tc, file_both_contents_error);
    tcase_add_test(tc, file_bad_mode);
    tcase_add_test(tc, file_absolute_path_and_write_error);
    tcase_add_test(tc, file_adopt);
    tcase_add_test(tc, key_schema);
    tcase_add_test(tc, key_create_with_paths);
    tcase_add_test(tc, key_without_paths_and_unique);
    tcase_add_test(tc, key_private_file_gone_recreates);
    tcase_add_test(tc, key_unsupported_algorithm);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(local_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failures = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failures != 0;
}

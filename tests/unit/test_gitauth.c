/*
 * Unit tests of modules/gitauth.c's pure parts: the endpoint (user, host,
 * port) of each ssh URL form, and known_hosts lines against a host and a
 * key: plain and [host]:port names, patterns and negations, hashed names
 * (the lines below were written by ssh-keygen -H), comments, markers, and
 * the fallback that compares SHA-256 hashes when no raw key is given.
 * The fingerprints expected are the ones ssh-keygen -l printed.
 */
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "gitauth.h"

#define KEY_A "AAAAC3NzaC1lZDI1NTE5AAAAIDV7Zw3o1sUpGDISH4ZD3GFevwJC4JbacJMGmGST7xsi"
#define FP_A "SHA256:NG23ltawwvlqEgk/QYi+8aToM9vmp1haje6EeOxUXfA"
#define KEY_B "AAAAC3NzaC1lZDI1NTE5AAAAICbQuZIr4zTkOhI9Pr8Stq3Gqjkl8a83b35cpLfmoFTw"
#define FP_B "SHA256:BqG+Jo0BLs+pQFpK8vWkm/2MITZpXnUbDCFsVrF1JU4"
/* ssh-keygen -H of "[127.0.0.1]:2222 ssh-ed25519 KEY_A" and of
 * "git.example ssh-ed25519 KEY_A". */
#define HASHED_LOCAL_2222 "|1|xg9MuYQtRxEk09EV2RVd5ZLL5QQ=|S/UqZbZCJhsduZet4R1s+lVwAFM="
#define HASHED_GIT_EXAMPLE "|1|zoHQgbFkLJNNprMq+qFuUesUmko=|ZfbZe3nCt+nutFkTAE/OgakSQdI="

static const struct sf_hostkey key_a = {.type = "ssh-ed25519", .blob_b64 = KEY_A};

static void endpoint(const char *url, const char *user, const char *host, int port)
{
    char *u = NULL, *h = NULL;
    int p = 0;
    ck_assert_msg(sf_gitauth_ssh_endpoint(url, &u, &h, &p) == 0, "%s is not taken for ssh", url);
    if (user)
        ck_assert_str_eq(u, user);
    else
        ck_assert_msg(u == NULL, "%s: user %s", url, u);
    ck_assert_str_eq(h, host);
    ck_assert_int_eq(p, port);
    free(u);
    free(h);
}

static void not_ssh(const char *url)
{
    char *u = NULL, *h = NULL;
    int p = 0;
    ck_assert_msg(sf_gitauth_ssh_endpoint(url, &u, &h, &p) == -1, "%s is taken for ssh", url);
    ck_assert_ptr_null(u);
    ck_assert_ptr_null(h);
}

START_TEST(ssh_endpoints)
{
    endpoint("ssh://git@git.example/org/infra.git", "git", "git.example", 22);
    endpoint("ssh://deploy@127.0.0.1:2222//srv/repos/infra.git", "deploy", "127.0.0.1", 2222);
    endpoint("ssh://git.example:2200/infra.git", NULL, "git.example", 2200);
    endpoint("git+ssh://git@git.example/infra.git", "git", "git.example", 22);
    endpoint("ssh+git://git.example/infra.git", NULL, "git.example", 22);
    endpoint("ssh://git@[::1]:2222/infra.git", "git", "::1", 2222);
    endpoint("git@git.example:org/infra.git", "git", "git.example", 22);
    endpoint("git.example:org/infra.git", NULL, "git.example", 22);
    endpoint("deploy@10.0.0.5:/srv/repos/infra.git", "deploy", "10.0.0.5", 22);
    endpoint("git@[::1]:infra.git", "git", "::1", 22);
    not_ssh("https://git.example/org/infra.git");
    not_ssh("file:///srv/repos/infra.git");
    not_ssh("/srv/repos/infra.git");
    not_ssh("./repos/a:b");
    not_ssh("repos/a:b");
    not_ssh(":infra.git");
}
END_TEST

static enum sf_known line(const char *text, const char *host, int port, const struct sf_hostkey *key)
{
    char *type = NULL, *b64 = NULL;
    enum sf_known k = sf_gitauth_known_line(text, host, port, key, &type, &b64);
    if (k == SF_KNOWN_OTHER) {
        ck_assert_ptr_nonnull(type);
        ck_assert_ptr_nonnull(b64);
    } else {
        ck_assert_msg(type == NULL && b64 == NULL, "%s: the other key is set", text);
    }
    free(type);
    free(b64);
    return k;
}

START_TEST(known_hosts_lines)
{
    /* Plain names: port 22 is the name alone, another port [host]:port. */
    ck_assert_int_eq(line("git.example ssh-ed25519 " KEY_A "\n", "git.example", 22, &key_a), SF_KNOWN_MATCH);
    ck_assert_int_eq(line("git.example ssh-ed25519 " KEY_A " a comment", "git.example", 2222, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("[127.0.0.1]:2222 ssh-ed25519 " KEY_A, "127.0.0.1", 2222, &key_a), SF_KNOWN_MATCH);
    ck_assert_int_eq(line("[127.0.0.1]:2222 ssh-ed25519 " KEY_A, "127.0.0.1", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("[127.0.0.1]:2222 ssh-ed25519 " KEY_A, "127.0.0.1", 22222, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("other.example,git.example,10.0.0.5 ssh-ed25519 " KEY_A, "10.0.0.5", 22, &key_a),
                     SF_KNOWN_MATCH);
    ck_assert_int_eq(line("git.example.org ssh-ed25519 " KEY_A, "git.example", 22, &key_a), SF_KNOWN_NONE);

    /* Another key for the host: reported with that key. */
    char *type = NULL, *b64 = NULL;
    ck_assert_int_eq(sf_gitauth_known_line("git.example ssh-ed25519 " KEY_B, "git.example", 22, &key_a, &type, &b64),
                     SF_KNOWN_OTHER);
    ck_assert_str_eq(type, "ssh-ed25519");
    ck_assert_str_eq(b64, KEY_B);
    char *fp = sf_gitauth_fingerprint_b64(b64);
    ck_assert_str_eq(fp, FP_B);
    free(fp);
    free(type);
    free(b64);
    /* The same blob under another type name is not the same key. */
    ck_assert_int_eq(line("git.example ssh-rsa " KEY_A, "git.example", 22, &key_a), SF_KNOWN_OTHER);

    /* Patterns, case-insensitive; a negation wins. */
    ck_assert_int_eq(line("*.example,!bad.example ssh-ed25519 " KEY_A, "git.example", 22, &key_a), SF_KNOWN_MATCH);
    ck_assert_int_eq(line("*.EXAMPLE ssh-ed25519 " KEY_A, "git.example", 22, &key_a), SF_KNOWN_MATCH);
    ck_assert_int_eq(line("*.example,!bad.example ssh-ed25519 " KEY_A, "bad.example", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("git.exampl? ssh-ed25519 " KEY_A, "git.example", 22, &key_a), SF_KNOWN_MATCH);
    ck_assert_int_eq(line("10.0.0.* ssh-ed25519 " KEY_A, "10.0.1.5", 22, &key_a), SF_KNOWN_NONE);

    /* Hashed names. */
    ck_assert_int_eq(line(HASHED_LOCAL_2222 " ssh-ed25519 " KEY_A, "127.0.0.1", 2222, &key_a), SF_KNOWN_MATCH);
    ck_assert_int_eq(line(HASHED_LOCAL_2222 " ssh-ed25519 " KEY_A, "127.0.0.1", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line(HASHED_LOCAL_2222 " ssh-ed25519 " KEY_A, "127.0.0.2", 2222, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line(HASHED_GIT_EXAMPLE " ssh-ed25519 " KEY_A, "git.example", 22, &key_a), SF_KNOWN_MATCH);
    ck_assert_int_eq(line(HASHED_GIT_EXAMPLE " ssh-ed25519 " KEY_A, "gitexample", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line(HASHED_GIT_EXAMPLE " ssh-ed25519 " KEY_B, "git.example", 22, &key_a), SF_KNOWN_OTHER);
    ck_assert_int_eq(line("|1|bm90IGJhc2U2NA|xx ssh-ed25519 " KEY_A, "git.example", 22, &key_a), SF_KNOWN_NONE);

    /* Comments, blank lines, markers and broken lines. */
    ck_assert_int_eq(line("# git.example ssh-ed25519 " KEY_A, "git.example", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("#git.example ssh-ed25519 " KEY_A, "#git.example", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("", "git.example", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("   \n", "git.example", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("git.example ssh-ed25519", "git.example", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("@cert-authority git.example ssh-ed25519 " KEY_A, "git.example", 22, &key_a),
                     SF_KNOWN_NONE);
    ck_assert_int_eq(line("@cert-authority *.example ssh-ed25519 " KEY_B, "git.example", 22, &key_a), SF_KNOWN_NONE);
    ck_assert_int_eq(line("@revoked * ssh-ed25519 " KEY_A, "git.example", 22, &key_a), SF_KNOWN_REVOKED);
    ck_assert_int_eq(line("@revoked * ssh-ed25519 " KEY_B, "git.example", 22, &key_a), SF_KNOWN_NONE);
}
END_TEST

/* Without the raw key only its SHA-256 hash is compared. */
START_TEST(known_hosts_by_hash)
{
    struct sf_hostkey by_hash = {0};
    unsigned char buf[48];
    /* FP_A's base64, padded. */
    ck_assert_int_eq(EVP_DecodeBlock(buf, (const unsigned char *)"NG23ltawwvlqEgk/QYi+8aToM9vmp1haje6EeOxUXfA=", 44),
                     33);
    memcpy(by_hash.sha256, buf, 32);
    ck_assert_int_eq(line("git.example ssh-ed25519 " KEY_A, "git.example", 22, &by_hash), SF_KNOWN_MATCH);
    ck_assert_int_eq(line(HASHED_LOCAL_2222 " ssh-ed25519 " KEY_A, "127.0.0.1", 2222, &by_hash), SF_KNOWN_MATCH);
    ck_assert_int_eq(line("git.example ssh-ed25519 " KEY_B, "git.example", 22, &by_hash), SF_KNOWN_OTHER);
    ck_assert_int_eq(line("git.example ssh-ed25519 not-base64!", "git.example", 22, &by_hash), SF_KNOWN_OTHER);

    char *fp = sf_gitauth_fingerprint_b64(KEY_A);
    ck_assert_str_eq(fp, FP_A);
    free(fp);
    ck_assert_ptr_null(sf_gitauth_fingerprint_b64("not-base64!"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gitauth");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ssh_endpoints);
    tcase_add_test(tc, known_hosts_lines);
    tcase_add_test(tc, known_hosts_by_hash);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

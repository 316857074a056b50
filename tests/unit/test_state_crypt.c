/*
 * Unit tests of state encryption (state/crypt.c and its use by state.c and
 * journal.c): a sealed state's round trip, refusal of a tampered envelope
 * or header, a wrong key that leaves every file byte-identical, rotation
 * with old_key, a fresh nonce at every write, sealed journal records that
 * are replayed after a crash, and a plain state turned encrypted.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "plan.h"
#include "state.h"
#include "util.h"

/* Random keys (hkdf) keep the tests fast; one test covers pbkdf2. */
#define KEY_A "0123456789abcdef0123456789abcdef-key-a"
#define KEY_B "fedcba9876543210fedcba9876543210-key-b"
#define SECRET "hunter2-very-secret-value"

static const struct sf_crypt_cfg crypt_a = {.key = KEY_A, .key_from = "env KEY_A", .kdf = "hkdf-sha256"};
static const struct sf_crypt_cfg crypt_b = {.key = KEY_B, .key_from = "env KEY_B", .kdf = "hkdf-sha256"};
/* Rotation: writes with B, reads A too. */
static const struct sf_crypt_cfg crypt_ba = {.key = KEY_B, .key_from = "env KEY_B",
                                             .old_key = KEY_A, .old_key_from = "env KEY_A",
                                             .kdf = "hkdf-sha256"};

static char *dir_;

static void setup(void)
{
    char tmpl[] = "/tmp/sf-crypt-test.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    dir_ = sf_xstrdup(tmpl);
}

static void teardown(void)
{
    DIR *dh = opendir(dir_);
    struct dirent *e;
    while (dh && (e = readdir(dh))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = sf_asprintf("%s/%s", dir_, e->d_name);
        unlink(p);
        free(p);
    }
    if (dh)
        closedir(dh);
    rmdir(dir_);
    free(dir_);
}

static char *path_of(const char *name)
{
    return sf_asprintf("%s/%s", dir_, name);
}

/* The file's bytes, or NULL when it does not exist; caller frees. */
static char *slurp(const char *path, size_t *len)
{
    size_t l = 0;
    char *t = sf_read_file(path, &l);
    if (len)
        *len = l;
    return t;
}

static char *diag_text(const struct sf_diags *d)
{
    struct sf_buf b = {0};
    for (size_t i = 0; i < d->n; i++) {
        sf_buf_printf(&b, "%s\n", d->items[i].summary);
        if (d->items[i].detail)
            sf_buf_printf(&b, "%s\n", d->items[i].detail);
    }
    return b.s ? sf_buf_take(&b) : sf_xstrdup("");
}

#define assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in:\n%s", (needle), (hay))
#define assert_lacks(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect \"%s\" in:\n%s", (needle), (hay))

static struct sf_state *open_ok(const char *path, const struct sf_crypt_cfg *c)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state_where w = {.path = path, .crypt = c};
    struct sf_state *s = NULL;
    int rc = sf_state_open_locked_at(&w, "test", 0, &s, &d);
    char *msg = diag_text(&d);
    ck_assert_msg(rc == 0, "open %s failed: %s", path, msg);
    free(msg);
    sf_diags_free(&d);
    return s;
}

/* Open that must fail; returns the messages (caller frees). */
static char *open_fails(const char *path, const struct sf_crypt_cfg *c)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state_where w = {.path = path, .crypt = c};
    struct sf_state *s = NULL;
    ck_assert_int_eq(sf_state_open_locked_at(&w, "test", 0, &s, &d), -1);
    ck_assert_ptr_null(s);
    char *msg = diag_text(&d);
    sf_diags_free(&d);
    return msg;
}

/* Record one resource holding SECRET (and name it) and commit. */
static void write_secret(struct sf_state *s, const char *name, const char *value)
{
    struct sf_diags d;
    sf_diags_init(&d);
    json_t *attrs = json_pack("{s:s, s:s}", "password", value, "id", name);
    json_t *sens = json_pack("[s]", "password");
    char *addr = sf_asprintf("test_resource.%s", name);
    ck_assert_int_eq(sf_state_begin(s, &d), 0);
    ck_assert_int_eq(sf_state_record(s, addr, "test_resource", false, attrs, sens, NULL, &d), 0);
    ck_assert_int_eq(sf_state_commit(s, &d), 0);
    ck_assert_int_eq(sf_diags_errors(&d), 0);
    free(addr);
    json_decref(attrs);
    json_decref(sens);
    sf_diags_free(&d);
}

static const char *password_of(const struct sf_state *s, const char *addr)
{
    const struct sf_state_entry *e = sf_state_get(s, addr);
    ck_assert_msg(e != NULL, "no %s in the state", addr);
    return json_string_value(json_object_get(sf_state_attrs(e), "password"));
}

static void assert_sealed(const char *path)
{
    size_t len;
    char *t = slurp(path, &len);
    ck_assert_msg(t != NULL, "%s missing", path);
    ck_assert_msg(sf_crypt_is_sealed(t, len), "%s is not sealed:\n%s", path, t);
    assert_lacks(t, SECRET);
    assert_lacks(t, "password");
    assert_lacks(t, "test_resource");
    free(t);
}

START_TEST(test_round_trip)
{
    char *path = path_of("s.json"), *backup = sf_asprintf("%s.backup", path);
    struct sf_state *s = open_ok(path, &crypt_a);
    write_secret(s, "one", SECRET);
    sf_state_free(s);
    assert_sealed(path);

    s = open_ok(path, &crypt_a);
    ck_assert_str_eq(password_of(s, "test_resource.one"), SECRET);
    ck_assert_int_eq(sf_state_serial(s), 1);
    write_secret(s, "two", SECRET "-2");
    sf_state_free(s);
    assert_sealed(path);
    assert_sealed(backup);

    s = open_ok(path, &crypt_a);
    ck_assert_str_eq(password_of(s, "test_resource.two"), SECRET "-2");
    ck_assert_int_eq(sf_state_serial(s), 2);
    sf_state_free(s);

    /* Without a key the state is refused, with the message that says why. */
    char *msg = open_fails(path, NULL);
    assert_contains(msg, "is encrypted; set state.encryption");
    free(msg);
    free(path);
    free(backup);
}
END_TEST

/* The first derivation in the process uses pbkdf2 with its full count. */
START_TEST(test_pbkdf2)
{
    static const struct sf_crypt_cfg pass = {.key = "correct horse", .key_from = "env PASS"};
    char *path = path_of("s.json");
    struct sf_state *s = open_ok(path, &pass);
    write_secret(s, "one", SECRET);
    sf_state_free(s);
    size_t len;
    char *t = slurp(path, &len);
    json_t *env = json_loads(t, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(env, "kdf")), "pbkdf2-sha256");
    ck_assert_int_ge(json_integer_value(json_object_get(env, "iter")), 600000);
    ck_assert_str_eq(json_string_value(json_object_get(env, "key_from")), "env PASS");
    json_decref(env);
    free(t);
    s = open_ok(path, &pass);
    ck_assert_str_eq(password_of(s, "test_resource.one"), SECRET);
    sf_state_free(s);
    free(path);

    /* A short secret is refused for hkdf, which does not slow guessing. */
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_crypt_cfg shortk = {.key = "short", .key_from = "env K", .kdf = "hkdf-sha256"};
    ck_assert_ptr_null(sf_crypt_new(&shortk, &d));
    char *msg = diag_text(&d);
    assert_contains(msg, "too short for kdf hkdf");
    assert_lacks(msg, "short\"");
    free(msg);
    sf_diags_free(&d);
}
END_TEST

/* Change one base64 character of field in the envelope at path. */
static void tamper(const char *path, const char *field, const char *value)
{
    size_t len;
    char *t = slurp(path, &len);
    json_t *env = json_loads(t, 0, NULL);
    ck_assert_ptr_nonnull(env);
    if (value) {
        json_object_set_new(env, field, json_string(value));
    } else {
        char *v = sf_xstrdup(json_string_value(json_object_get(env, field)));
        v[10] = v[10] == 'A' ? 'B' : 'A';
        json_object_set_new(env, field, json_string(v));
        free(v);
    }
    char *out = json_dumps(env, JSON_INDENT(1));
    ck_assert_int_eq(sf_write_file_atomic(path, out, strlen(out), 0600), 0);
    free(out);
    json_decref(env);
    free(t);
}

START_TEST(test_tampered)
{
    char *path = path_of("s.json");
    struct sf_state *s = open_ok(path, &crypt_a);
    write_secret(s, "one", SECRET);
    sf_state_free(s);
    size_t len;
    char *good = slurp(path, &len);

    /* The ciphertext. */
    tamper(path, "ciphertext", NULL);
    char *msg = open_fails(path, &crypt_a);
    assert_contains(msg, "does not authenticate with the key from env KEY_A");
    free(msg);

    /* A header field that is not the key's: the AAD catches it. */
    ck_assert_int_eq(sf_write_file_atomic(path, good, len, 0600), 0);
    tamper(path, "key_from", "env OTHER");
    msg = open_fails(path, &crypt_a);
    assert_contains(msg, "does not authenticate");
    free(msg);

    /* Another content: a plan is not a state. */
    ck_assert_int_eq(sf_write_file_atomic(path, good, len, 0600), 0);
    tamper(path, "content", "plan");
    msg = open_fails(path, &crypt_a);
    assert_contains(msg, "is an encrypted plan, not a state");
    free(msg);

    /* The salt: another key comes out of it. */
    ck_assert_int_eq(sf_write_file_atomic(path, good, len, 0600), 0);
    tamper(path, "salt", NULL);
    msg = open_fails(path, &crypt_a);
    assert_contains(msg, "cannot decrypt");
    free(msg);

    /* Put back, it reads again: the refusals above changed nothing. */
    ck_assert_int_eq(sf_write_file_atomic(path, good, len, 0600), 0);
    s = open_ok(path, &crypt_a);
    ck_assert_str_eq(password_of(s, "test_resource.one"), SECRET);
    sf_state_free(s);
    free(good);
    free(path);
}
END_TEST

START_TEST(test_wrong_key_writes_nothing)
{
    char *path = path_of("s.json"), *backup = sf_asprintf("%s.backup", path);
    char *journal = sf_asprintf("%s.journal", path), *lock = sf_asprintf("%s.lock", path);
    struct sf_state *s = open_ok(path, &crypt_a);
    write_secret(s, "one", SECRET);
    write_secret(s, "two", SECRET);
    /* A run that died: a sealed journal stays. */
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_begin(s, &d), 0);
    ck_assert_int_eq(sf_state_remove(s, "test_resource.one", &d), 0);
    sf_diags_free(&d);
    sf_state_free(s);

    size_t l1, l2, l3;
    char *f1 = slurp(path, &l1), *f2 = slurp(backup, &l2), *f3 = slurp(journal, &l3);
    ck_assert_ptr_nonnull(f3);
    char *msg = open_fails(path, &crypt_b);
    assert_contains(msg, "cannot decrypt the state");
    assert_contains(msg, "with the key from env KEY_B");
    assert_lacks(msg, KEY_A);
    assert_lacks(msg, KEY_B);
    free(msg);
    static const struct sf_crypt_cfg wrong2 = {.key = KEY_B, .key_from = "env KEY_B",
                                               .old_key = KEY_B "x", .old_key_from = "env OLD",
                                               .kdf = "hkdf-sha256"};
    msg = open_fails(path, &wrong2);
    assert_contains(msg, "(nor with old_key from env OLD)");
    free(msg);
    size_t m1, m2, m3;
    char *g1 = slurp(path, &m1), *g2 = slurp(backup, &m2), *g3 = slurp(journal, &m3);
    ck_assert(l1 == m1 && memcmp(f1, g1, l1) == 0);
    ck_assert(l2 == m2 && memcmp(f2, g2, l2) == 0);
    ck_assert(l3 == m3 && memcmp(f3, g3, l3) == 0);
    ck_assert_int_ne(access(lock, F_OK), 0); /* the lock was released */
    free(f1), free(f2), free(f3), free(g1), free(g2), free(g3);
    free(path), free(backup), free(journal), free(lock);
}
END_TEST

START_TEST(test_rotation)
{
    char *path = path_of("s.json");
    struct sf_state *s = open_ok(path, &crypt_a);
    write_secret(s, "one", SECRET);
    sf_state_free(s);

    /* key B, old_key A: reads the A state, writes with B. */
    s = open_ok(path, &crypt_ba);
    ck_assert_str_eq(password_of(s, "test_resource.one"), SECRET);
    write_secret(s, "two", SECRET);
    sf_state_free(s);
    assert_sealed(path);

    /* Now B alone reads it, and A does not. */
    s = open_ok(path, &crypt_b);
    ck_assert_str_eq(password_of(s, "test_resource.two"), SECRET);
    sf_state_free(s);
    char *msg = open_fails(path, &crypt_a);
    assert_contains(msg, "cannot decrypt");
    free(msg);
    free(path);
}
END_TEST

START_TEST(test_fresh_nonce)
{
    char *path = path_of("s.json");
    struct sf_state *s = open_ok(path, &crypt_a);
    write_secret(s, "one", SECRET);
    sf_state_free(s);
    char *t1 = slurp(path, NULL);
    /* The same document again: serial 1 both times. */
    unlink(path);
    s = open_ok(path, &crypt_a);
    write_secret(s, "one", SECRET);
    sf_state_free(s);
    char *t2 = slurp(path, NULL);
    json_t *e1 = json_loads(t1, 0, NULL), *e2 = json_loads(t2, 0, NULL);
    ck_assert_str_ne(json_string_value(json_object_get(e1, "nonce")),
                     json_string_value(json_object_get(e2, "nonce")));
    ck_assert_str_ne(json_string_value(json_object_get(e1, "ciphertext")),
                     json_string_value(json_object_get(e2, "ciphertext")));

    /* Within one process: two seals of the same bytes differ too. */
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_crypt *c = sf_crypt_new(&crypt_a, &d);
    size_t n1, n2;
    char *a = sf_crypt_seal(c, "state", "same", 4, &n1, &d);
    char *b = sf_crypt_seal(c, "state", "same", 4, &n2, &d);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_ne(a, b);
    char *plain;
    size_t plen;
    ck_assert_int_eq(sf_crypt_open(c, "x", "state", b, n2, &plain, &plen, &d), 0);
    ck_assert_str_eq(plain, "same");
    free(plain);
    free(a);
    free(b);
    sf_crypt_free(c);
    sf_diags_free(&d);
    json_decref(e1);
    json_decref(e2);
    free(t1);
    free(t2);
    free(path);
}
END_TEST

START_TEST(test_journal_sealed_and_replayed)
{
    char *path = path_of("s.json"), *journal = sf_asprintf("%s.journal", path);
    struct sf_state *s = open_ok(path, &crypt_a);
    write_secret(s, "one", SECRET);
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_begin(s, &d), 0);
    json_t *attrs = json_pack("{s:s}", "password", SECRET "-journal");
    ck_assert_int_eq(sf_state_record(s, "test_resource.two", "test_resource", false, attrs, NULL,
                                     NULL, &d), 0);
    ck_assert_int_eq(sf_state_remove(s, "test_resource.one", &d), 0);
    json_decref(attrs);
    /* A crash: the journal is not folded. */
    sf_state_free(s);
    size_t jlen;
    char *jt = slurp(journal, &jlen);
    ck_assert_ptr_nonnull(jt);
    assert_contains(jt, "\"encryption\"");
    assert_contains(jt, "{\"sealed\":\"");
    assert_lacks(jt, SECRET);
    assert_lacks(jt, "test_resource");
    assert_lacks(jt, "password");

    /* Without a key: refused. */
    struct sf_state_where plain = {.path = path};
    ck_assert_int_eq(sf_state_load_at(&plain, &s, &d), -1);
    char *msg = diag_text(&d);
    assert_contains(msg, "is encrypted; set state.encryption");
    free(msg);
    sf_diags_free(&d);
    sf_diags_init(&d);

    /* A record moved within the journal is refused (its number is in the
     * additional data). */
    char *nl1 = strchr(jt, '\n'), *nl2 = strchr(nl1 + 1, '\n'), *nl3 = strchr(nl2 + 1, '\n');
    ck_assert_ptr_nonnull(nl3);
    struct sf_buf sw = {0};
    sf_buf_printf(&sw, "%.*s%.*s%.*s", (int)(nl1 + 1 - jt), jt, (int)(nl3 - nl2), nl2 + 1,
                  (int)(nl2 - nl1), nl1 + 1);
    ck_assert_int_eq(sf_write_file_atomic(journal, sw.s, sw.len, 0600), 0);
    msg = open_fails(path, &crypt_a);
    assert_contains(msg, "does not authenticate");
    free(msg);
    sf_buf_free(&sw);
    ck_assert_int_eq(sf_write_file_atomic(journal, jt, jlen, 0600), 0);

    /* A torn last record is ignored as after any crash. */
    struct sf_buf torn = {0};
    sf_buf_printf(&torn, "%s{\"sealed\":\"AAAA", jt);
    ck_assert_int_eq(sf_write_file_atomic(journal, torn.s, torn.len, 0600), 0);
    sf_buf_free(&torn);

    /* With the key (here as the old one): replayed, then folded sealed. */
    s = open_ok(path, &crypt_ba);
    ck_assert_str_eq(password_of(s, "test_resource.two"), SECRET "-journal");
    ck_assert_ptr_null(sf_state_get(s, "test_resource.one"));
    ck_assert_int_eq(sf_state_serial(s), 2);
    ck_assert_int_eq(sf_state_begin(s, &d), 0);
    ck_assert_int_eq(sf_state_commit(s, &d), 0);
    sf_state_free(s);
    ck_assert_int_ne(access(journal, F_OK), 0);
    assert_sealed(path);
    s = open_ok(path, &crypt_b);
    ck_assert_str_eq(password_of(s, "test_resource.two"), SECRET "-journal");
    sf_state_free(s);
    sf_diags_free(&d);
    free(jt);
    free(path);
    free(journal);
}
END_TEST

START_TEST(test_plain_turned_encrypted)
{
    char *path = path_of("s.json"), *backup = sf_asprintf("%s.backup", path);
    struct sf_state *s = open_ok(path, NULL);
    write_secret(s, "one", SECRET);
    sf_state_free(s);
    char *t = slurp(path, NULL);
    assert_contains(t, SECRET);
    free(t);

    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state_where w = {.path = path, .crypt = &crypt_a};
    ck_assert_int_eq(sf_state_load_at(&w, &s, &d), 0);
    char *msg = diag_text(&d);
    assert_contains(msg, "is not encrypted; state.encryption is set, so the next change writes it "
                         "encrypted");
    free(msg);
    sf_state_free(s);
    sf_diags_free(&d);

    s = open_ok(path, &crypt_a);
    write_secret(s, "two", SECRET);
    sf_state_free(s);
    /* Both the state and the backup of the plain one are sealed now. */
    assert_sealed(path);
    assert_sealed(backup);
    s = open_ok(backup, &crypt_a);
    ck_assert_str_eq(password_of(s, "test_resource.one"), SECRET);
    ck_assert_ptr_null(sf_state_get(s, "test_resource.two"));
    sf_state_free(s);
    free(path);
    free(backup);
}
END_TEST

START_TEST(test_copy_from)
{
    char *src_path = path_of("src.json"), *dst_path = path_of("dst.json");
    struct sf_state *s = open_ok(src_path, NULL);
    write_secret(s, "one", SECRET);
    write_secret(s, "two", SECRET);
    sf_state_free(s);
    struct sf_state *src = open_ok(src_path, NULL), *dst = open_ok(dst_path, &crypt_a);
    ck_assert(sf_state_exists(src));
    ck_assert(!sf_state_exists(dst));
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_copy_from(dst, src, &d), 0);
    ck_assert_int_eq(sf_state_commit(dst, &d), 0);
    sf_state_free(dst);
    assert_sealed(dst_path);
    dst = open_ok(dst_path, &crypt_a);
    ck_assert_str_eq(sf_state_lineage(dst), sf_state_lineage(src));
    ck_assert_int_eq(sf_state_serial(dst), 2);
    ck_assert_str_eq(password_of(dst, "test_resource.one"), SECRET);
    sf_state_free(dst);
    sf_state_free(src);
    sf_diags_free(&d);
    free(src_path);
    free(dst_path);
}
END_TEST

START_TEST(test_plan_file_sealed)
{
    char *path = path_of("plan.bin");
    struct sf_plan *p = sf_plan_new();
    p->lineage = sf_xstrdup("lin-1");
    p->serial = 3;
    p->config_path = sf_xstrdup("stack.yaml");
    p->config_source = sf_xstrdup("resources: []\n");
    p->variables = json_pack("{s:s}", "password", SECRET);
    struct sf_change *c = sf_plan_add_change(p);
    c->address = sf_xstrdup("test_resource.one");
    c->type = sf_xstrdup("test_resource");
    c->action = SF_ACT_CREATE;
    c->after = json_pack("{s:s}", "password", SECRET);
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_crypt *cr = sf_crypt_new(&(struct sf_crypt_cfg){.key = KEY_A,
                                                              .key_from = "env SF_TEST_PLAN_KEY",
                                                              .kdf = "hkdf-sha256"},
                                       &d);
    ck_assert_int_eq(sf_plan_write_sealed(path, p, cr, &d), 0);
    sf_crypt_free(cr);
    sf_plan_free(p);
    size_t len;
    char *t = slurp(path, &len);
    ck_assert(sf_crypt_is_sealed(t, len));
    assert_lacks(t, SECRET);
    assert_lacks(t, "test_resource");
    free(t);

    unsetenv("SF_TEST_PLAN_KEY");
    ck_assert_int_eq(sf_plan_read(path, &p, &d), -1);
    char *msg = diag_text(&d);
    assert_contains(msg, "set the environment variable SF_TEST_PLAN_KEY");
    free(msg);
    sf_diags_free(&d);
    sf_diags_init(&d);
    setenv("SF_TEST_PLAN_KEY", KEY_B, 1);
    ck_assert_int_eq(sf_plan_read(path, &p, &d), -1);
    msg = diag_text(&d);
    assert_contains(msg, "cannot decrypt");
    free(msg);
    sf_diags_free(&d);
    sf_diags_init(&d);
    setenv("SF_TEST_PLAN_KEY", KEY_A, 1);
    ck_assert_int_eq(sf_plan_read(path, &p, &d), 0);
    ck_assert_int_eq(p->serial, 3);
    ck_assert_str_eq(json_string_value(json_object_get(p->variables, "password")), SECRET);
    ck_assert_str_eq(p->changes[0].address, "test_resource.one");
    sf_plan_free(p);
    sf_diags_free(&d);
    free(path);
}
END_TEST

static Suite *crypt_suite(void)
{
    Suite *s = suite_create("state_crypt");
    TCase *tc = tcase_create("crypt");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_pbkdf2);
    tcase_add_test(tc, test_tampered);
    tcase_add_test(tc, test_wrong_key_writes_nothing);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_fresh_nonce);
    tcase_add_test(tc, test_journal_sealed_and_replayed);
    tcase_add_test(tc, test_plain_turned_encrypted);
    tcase_add_test(tc, test_copy_from);
    tcase_add_test(tc, test_plan_file_sealed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crypt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Unit tests of the local state (state/): the file format and its round
 * trip, the journal and its replay after a crash at every byte, the lock,
 * the per-record cost of the journal and concurrent changes.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "state.h"
#include "util.h"
#include "value.h"

/* --- helpers ------------------------------------------------------------ */

static char *make_dir(void)
{
    char tmpl[] = "/tmp/sf-state-test.XXXXXX";
    char *dir = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(dir);
    return sf_xstrdup(dir);
}

/* The directories hold plain files only. */
static void remove_dir(char *dir)
{
    DIR *dh = opendir(dir);
    if (dh) {
        struct dirent *e;
        while ((e = readdir(dh))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = sf_asprintf("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
        closedir(dh);
    }
    rmdir(dir);
    free(dir);
}

static char *join(const char *dir, const char *name)
{
    return sf_asprintf("%s/%s", dir, name);
}

static char *with_suffix(const char *path, const char *suffix)
{
    return sf_asprintf("%s%s", path, suffix);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static char *slurp(const char *path, size_t *len)
{
    char *t = sf_read_file(path, len);
    ck_assert_msg(t != NULL, "cannot read %s", path);
    return t;
}

static void spit(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Every summary and detail of d, one per line; caller frees. */
static char *diag_text(const struct sf_diags *d)
{
    struct sf_buf b = {0};
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i].file)
            sf_buf_printf(&b, "%s: ", d->items[i].file);
        sf_buf_printf(&b, "%s\n", d->items[i].summary);
        if (d->items[i].detail)
            sf_buf_printf(&b, "%s\n", d->items[i].detail);
    }
    return sf_buf_take(&b);
}

#define assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in:\n%s", (needle), (hay))

static struct sf_state *load_ok(const char *path)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state *s = NULL;
    int rc = sf_state_load(path, &s, &d);
    char *msg = diag_text(&d);
    ck_assert_msg(rc == 0 && s, "load %s failed: %s", path, msg);
    free(msg);
    sf_diags_free(&d);
    return s;
}

/* Load that must fail; returns the message (caller frees). */
static char *load_fails(const char *path)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state *s = NULL;
    int rc = sf_state_load(path, &s, &d);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(s);
    ck_assert_int_ge(sf_diags_errors(&d), 1);
    char *msg = diag_text(&d);
    sf_diags_free(&d);
    return msg;
}

/* Resources and outputs, as a copy that later changes of s do not touch. */
static json_t *contents(const struct sf_state *s)
{
    json_t *doc = sf_state_to_json(s);
    json_t *c = json_pack("{s:O, s:O}", "resources", json_object_get(doc, "resources"), "outputs",
                          json_object_get(doc, "outputs"));
    json_decref(doc);
    return c;
}

static size_t n_resources(const struct sf_state *s)
{
    size_t n;
    free(sf_state_addresses(s, &n));
    return n;
}

static struct sf_state *open_locked_ok(const char *path, const char *operation, long timeout_ms)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state *s = NULL;
    int rc = sf_state_open_locked(path, operation, timeout_ms, &s, &d);
    char *msg = diag_text(&d);
    ck_assert_msg(rc == 0 && s, "open %s failed: %s", path, msg);
    free(msg);
    sf_diags_free(&d);
    return s;
}

static json_t *entry(const char *type, const char *id, int n)
{
    return json_pack("{s:s, s:s, s:{s:s, s:i, s:s}, s:[s], s:[]}", "type", type, "status", "ok",
                     "attributes", "id", id, "n", n, "content", "hello\nworld",
                     "sensitive_attributes", "content", "dependencies");
}

static void put_ok(struct sf_state *s, const char *address, json_t *e)
{
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_put(s, address, e, &d), 0);
    sf_diags_free(&d);
    json_decref(e);
}

static void commit_ok(struct sf_state *s)
{
    struct sf_diags d;
    sf_diags_init(&d);
    int rc = sf_state_commit(s, &d);
    char *msg = diag_text(&d);
    ck_assert_msg(rc == 0, "commit failed: %s", msg);
    free(msg);
    sf_diags_free(&d);
}

static void begin_ok(struct sf_state *s)
{
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_begin(s, &d), 0);
    sf_diags_free(&d);
}

static void assert_json_eq(const json_t *a, const json_t *b, const char *what)
{
    if (!json_equal((json_t *)a, (json_t *)b)) {
        char *sa = json_dumps(a, JSON_SORT_KEYS), *sb = json_dumps(b, JSON_SORT_KEYS);
        ck_abort_msg("%s differs:\n got      %s\n expected %s", what, sa, sb);
    }
}

/* --- round trip --------------------------------------------------------- */

START_TEST(test_round_trip)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    char *backup = with_suffix(path, ".backup");
    char *journal = with_suffix(path, ".journal");

    struct sf_state *s = load_ok(path);
    ck_assert_int_eq(sf_state_serial(s), 0);
    ck_assert_msg(sf_state_lineage(s) && strlen(sf_state_lineage(s)) == 36,
                  "a fresh lineage is a uuid");
    ck_assert_int_eq(n_resources(s), 0);
    ck_assert_int_eq(json_object_size(sf_state_outputs(s)), 0);
    char *lineage = sf_xstrdup(sf_state_lineage(s));

    /* Nothing changed: no file is written. */
    commit_ok(s);
    ck_assert(!exists(path));
    ck_assert_int_eq(sf_state_serial(s), 0);

    put_ok(s, "local_file.a", entry("local_file", "a", 1));
    put_ok(s, "local_file.b", entry("local_file", "b", 2));
    json_t *outs = json_pack("{s:{s:s, s:b}, s:{s:i, s:b}}", "url", "value", "http://x", "sensitive",
                             0, "count", "value", 3, "sensitive", 0);
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_set_outputs(s, outs, &d), 0);
    commit_ok(s);
    ck_assert_int_eq(sf_state_serial(s), 1);
    ck_assert(exists(path));
    ck_assert(!exists(backup)); /* the first commit has nothing to keep */
    ck_assert(!exists(journal));
    ck_assert_uint_eq(mode_of(path), 0600);

    /* The file is the documented JSON. */
    size_t len1;
    char *v1 = slurp(path, &len1);
    json_t *doc = json_loads(v1, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "format_version")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "serial")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "lineage")), lineage);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(json_object_get(doc, "resources"),
                                                         "local_file.a"),
                                         "attributes"),
                         "content")),
                     "hello\nworld");
    assert_json_eq(json_object_get(doc, "outputs"), outs, "outputs in the file");
    json_decref(doc);

    json_t *before = sf_state_to_json(s);
    sf_state_free(s);

    s = load_ok(path);
    json_t *after = sf_state_to_json(s);
    assert_json_eq(after, before, "reloaded state");
    ck_assert_int_eq(sf_state_serial(s), 1);
    ck_assert_str_eq(sf_state_lineage(s), lineage);
    ck_assert_str_eq(sf_state_type(sf_state_get(s, "local_file.b")), "local_file");
    ck_assert_ptr_null(sf_state_get(s, "local_file.nope"));
    json_decref(before);
    json_decref(after);

    /* A run that changes nothing: the file stays, the empty journal goes. */
    struct stat st0, st1;
    ck_assert_int_eq(stat(path, &st0), 0);
    begin_ok(s);
    ck_assert(exists(journal));
    ck_assert_uint_eq(mode_of(journal), 0600);
    commit_ok(s);
    ck_assert(!exists(journal));
    ck_assert_int_eq(sf_state_serial(s), 1);
    ck_assert_int_eq(stat(path, &st1), 0);
    ck_assert(st0.st_ino == st1.st_ino);

    /* A run that changes something: serial + 1, previous kept as backup. */
    begin_ok(s);
    put_ok(s, "local_file.c", entry("local_file", "c", 3));
    ck_assert_int_eq(sf_state_remove(s, "local_file.a", &d), 0);
    ck_assert_uint_eq(mode_of(journal), 0600);
    commit_ok(s);
    ck_assert_int_eq(sf_state_serial(s), 2);
    ck_assert(!exists(journal));
    ck_assert_uint_eq(mode_of(path), 0600);
    ck_assert_uint_eq(mode_of(backup), 0600);
    size_t blen;
    char *b = slurp(backup, &blen);
    ck_assert(blen == len1 && memcmp(b, v1, len1) == 0);
    free(b);

    /* Several commits in one process, each with its own journal. */
    size_t len2;
    char *v2 = slurp(path, &len2);
    begin_ok(s);
    put_ok(s, "local_file.d", entry("local_file", "d", 4));
    commit_ok(s);
    ck_assert_int_eq(sf_state_serial(s), 3);
    b = slurp(backup, &blen);
    ck_assert(blen == len2 && memcmp(b, v2, len2) == 0);
    free(b);
    free(v2);
    before = sf_state_to_json(s);
    sf_state_free(s);

    s = load_ok(path);
    after = sf_state_to_json(s);
    assert_json_eq(after, before, "state after several commits");
    ck_assert_int_eq(json_integer_value(json_object_get(after, "serial")), 3);
    ck_assert_ptr_null(sf_state_get(s, "local_file.a"));
    ck_assert_ptr_nonnull(sf_state_get(s, "local_file.d"));
    json_decref(before);
    json_decref(after);
    sf_state_free(s);

    json_decref(outs);
    sf_diags_free(&d);
    free(v1);
    free(lineage);
    free(journal);
    free(backup);
    free(path);
    remove_dir(dir);
}
END_TEST

START_TEST(test_intent)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    struct sf_state *s = load_ok(path);
    struct sf_diags d;
    sf_diags_init(&d);

    /* A create in flight: a placeholder with the intent, no attributes. */
    json_t *desired = json_pack("{s:s, s:O}", "name", "n1", "id", sf_unknown());
    json_t *deps = json_pack("[s]", "local_file.x");
    ck_assert_int_eq(sf_state_intent(s, "cloud_server.a", "cloud_server", desired, deps, &d), 0);
    const struct sf_state_entry *e = sf_state_get(s, "cloud_server.a");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(sf_state_type(e), "cloud_server");
    ck_assert_ptr_null(sf_state_attrs(e));
    const json_t *want = sf_state_intent_of(e);
    ck_assert(json_is_object(want));
    ck_assert(!sf_value_has_unknown(want)); /* the state never holds the sentinel */
    json_t *decoded = sf_value_decode(want);
    ck_assert(sf_is_unknown(json_object_get(decoded, "id")));
    json_decref(decoded);
    json_t *doc = sf_state_to_json(s);
    json_t *intent = json_object_get(
        json_object_get(json_object_get(doc, "resources"), "cloud_server.a"), "intent");
    assert_json_eq(json_object_get(intent, "dependencies"), deps, "intent dependencies");
    json_decref(doc);

    /* The create finished: the put clears the intent. */
    put_ok(s, "cloud_server.a", entry("cloud_server", "srv-1", 1));
    e = sf_state_get(s, "cloud_server.a");
    ck_assert_ptr_null(sf_state_intent_of(e));
    ck_assert_ptr_nonnull(sf_state_attrs(e));

    /* A replacement: the old attributes stay beside the intent. */
    ck_assert_int_eq(sf_state_intent(s, "cloud_server.a", "cloud_server", desired, NULL, &d), 0);
    e = sf_state_get(s, "cloud_server.a");
    ck_assert_str_eq(json_string_value(json_object_get(sf_state_attrs(e), "id")), "srv-1");
    ck_assert_ptr_nonnull(sf_state_intent_of(e));

    /* What is not an entry is refused and changes nothing. */
    json_t *bad = json_pack("{s:i}", "attributes", 1);
    ck_assert_int_eq(sf_state_put(s, "x.y", bad, &d), -1);
    ck_assert_ptr_null(sf_state_get(s, "x.y"));
    json_decref(bad);

    json_decref(desired);
    json_decref(deps);
    sf_diags_free(&d);
    sf_state_free(s);
    free(path);
    remove_dir(dir);
}
END_TEST

/* The typed changes the engine makes, each as it reads back and as it
 * survives a crash (replayed from the journal alone). */
START_TEST(test_entry_changes)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    struct sf_state *s = load_ok(path);
    struct sf_diags d;
    sf_diags_init(&d);
    begin_ok(s);

    json_t *v1 = json_pack("{s:s, s:s}", "id", "one", "secret", "s1");
    json_t *v2 = json_pack("{s:s, s:s}", "id", "two", "secret", "s2");
    json_t *v3 = json_pack("{s:s, s:s}", "id", "three", "secret", "s3");
    json_t *sens = json_pack("[s]", "secret");
    json_t *deps = json_pack("[s, s]", "net.a", "net.b");

    /* record: a created object, tainted or not. */
    ck_assert_int_eq(sf_state_record(s, "srv.a", "srv", false, v1, sens, deps, &d), 0);
    const struct sf_state_entry *e = sf_state_get(s, "srv.a");
    ck_assert_str_eq(sf_state_type(e), "srv");
    ck_assert(!sf_state_is_tainted(e));
    assert_json_eq(sf_state_attrs(e), v1, "attributes");
    assert_json_eq(sf_state_sensitive(e), sens, "sensitive");
    assert_json_eq(sf_state_deps(e), deps, "dependencies");
    ck_assert_ptr_null(sf_state_deposed(e));
    ck_assert_ptr_null(sf_state_intent_of(e));

    /* depose twice (two create_before_destroy replacements that could not
     * delete the old object), recording a new object in between. */
    ck_assert_int_eq(sf_state_depose(s, "srv.a", &d), 0);
    e = sf_state_get(s, "srv.a");
    ck_assert_ptr_null(sf_state_attrs(e));
    ck_assert_uint_eq(json_array_size(sf_state_deposed(e)), 1);
    ck_assert_int_eq(sf_state_intent(s, "srv.a", "srv", v2, deps, &d), 0);
    ck_assert_int_eq(sf_state_record(s, "srv.a", "srv", true, v2, sens, deps, &d), 0);
    e = sf_state_get(s, "srv.a");
    ck_assert(sf_state_is_tainted(e));
    ck_assert_ptr_null(sf_state_intent_of(e));
    ck_assert_uint_eq(json_array_size(sf_state_deposed(e)), 1); /* kept by record */
    ck_assert_int_eq(sf_state_depose(s, "srv.a", &d), 0);
    ck_assert_int_eq(sf_state_record(s, "srv.a", "srv", false, v3, sens, deps, &d), 0);
    e = sf_state_get(s, "srv.a");
    const json_t *dep = sf_state_deposed(e);
    ck_assert_uint_eq(json_array_size(dep), 2);
    assert_json_eq(json_array_get(dep, 0), v1, "first deposed");
    assert_json_eq(json_array_get(dep, 1), v2, "second deposed");
    /* Nothing to depose: no change. */
    ck_assert_int_eq(sf_state_depose(s, "srv.none", &d), 0);
    ck_assert_ptr_null(sf_state_get(s, "srv.none"));

    /* pop_deposed: oldest first; the entry stays while it has an object. */
    ck_assert_int_eq(sf_state_pop_deposed(s, "srv.a", &d), 0);
    e = sf_state_get(s, "srv.a");
    ck_assert_uint_eq(json_array_size(sf_state_deposed(e)), 1);
    assert_json_eq(json_array_get(sf_state_deposed(e), 0), v2, "left deposed");
    ck_assert_int_eq(sf_state_pop_deposed(s, "srv.a", &d), 0);
    e = sf_state_get(s, "srv.a");
    ck_assert_ptr_null(sf_state_deposed(e));
    assert_json_eq(sf_state_attrs(e), v3, "current object");

    /* set_attrs: a refresh's result clears an intent; gone removes the
     * entry unless deposed objects remain. */
    ck_assert_int_eq(sf_state_intent(s, "srv.b", "srv", v1, NULL, &d), 0);
    ck_assert_int_eq(sf_state_set_attrs(s, "srv.b", v1, &d), 0);
    e = sf_state_get(s, "srv.b");
    ck_assert_ptr_null(sf_state_intent_of(e));
    assert_json_eq(sf_state_attrs(e), v1, "adopted");
    ck_assert_int_eq(sf_state_set_attrs(s, "srv.b", NULL, &d), 0);
    ck_assert_ptr_null(sf_state_get(s, "srv.b"));
    ck_assert_int_eq(sf_state_record(s, "srv.c", "srv", false, v1, NULL, NULL, &d), 0);
    ck_assert_int_eq(sf_state_depose(s, "srv.c", &d), 0);
    ck_assert_int_eq(sf_state_record(s, "srv.c", "srv", false, v2, NULL, NULL, &d), 0);
    ck_assert_int_eq(sf_state_set_attrs(s, "srv.c", NULL, &d), 0);
    e = sf_state_get(s, "srv.c");
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_null(sf_state_attrs(e));
    ck_assert_int_eq(sf_state_pop_deposed(s, "srv.c", &d), 0);
    ck_assert_ptr_null(sf_state_get(s, "srv.c")); /* nothing left of it */

    /* move: to a free address only. */
    ck_assert_int_eq(sf_state_record(s, "srv.d", "srv", false, v1, NULL, NULL, &d), 0);
    ck_assert_int_eq(sf_state_move(s, "srv.d", "srv.a", &d), -1);
    ck_assert_int_eq(sf_state_move(s, "srv.nope", "srv.e", &d), -1);
    ck_assert_int_eq(sf_state_move(s, "srv.d", "srv.e", &d), 0);
    ck_assert_ptr_null(sf_state_get(s, "srv.d"));
    assert_json_eq(sf_state_attrs(sf_state_get(s, "srv.e")), v1, "moved");

    size_t n;
    const char **addrs = sf_state_addresses(s, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(addrs[0], "srv.a"); /* first recorded first */
    ck_assert_str_eq(addrs[1], "srv.e");
    free(addrs);

    /* The journal alone gives back the same state. */
    json_t *before = contents(s);
    sf_state_free(s);
    s = load_ok(path);
    json_t *after = contents(s);
    assert_json_eq(after, before, "state replayed from the journal");
    json_decref(before);
    json_decref(after);
    sf_state_free(s);

    json_decref(v1);
    json_decref(v2);
    json_decref(v3);
    json_decref(sens);
    json_decref(deps);
    sf_diags_free(&d);
    free(path);
    remove_dir(dir);
}
END_TEST

/* --- crash at every step ------------------------------------------------ */

#define N_OPS 12

/* Op i of the sequence; the same calls build the journal and the expected
 * states (on a state that does not journal). */
static void do_op(struct sf_state *s, int i)
{
    struct sf_diags d;
    sf_diags_init(&d);
    json_t *v = NULL, *deps = json_pack("[s]", "base.one");
    int rc = 0;
    switch (i) {
    case 0: put_ok(s, "res.a", entry("t", "a", 1)); break;
    case 1: put_ok(s, "res.b", entry("t", "b", 2)); break;
    case 2:
        v = json_pack("{s:s}", "name", "c");
        rc = sf_state_intent(s, "res.c", "t", v, deps, &d);
        break;
    case 3: put_ok(s, "res.c", entry("t", "c", 3)); break;
    case 4:
        v = json_pack("{s:s, s:O}", "name", "a2", "id", sf_unknown());
        rc = sf_state_intent(s, "res.a", "t", v, NULL, &d);
        break;
    case 5:
        v = json_pack("{s:{s:s, s:b}}", "x", "value", "1", "sensitive", 0);
        rc = sf_state_set_outputs(s, v, &d);
        break;
    case 6: rc = sf_state_remove(s, "res.b", &d); break;
    case 7: put_ok(s, "res.d", entry("t", "d", 4)); break;
    case 8:
        v = json_pack("{s:s}", "name", "e");
        rc = sf_state_intent(s, "res.e", "t", v, deps, &d);
        break;
    case 9: rc = sf_state_remove(s, "base.one", &d); break;
    case 10:
        v = json_pack("{s:{s:s, s:b}, s:{s:[i,i], s:b}}", "x", "value", "2", "sensitive", 0, "y",
                      "value", 1, 2, "sensitive", 1);
        rc = sf_state_set_outputs(s, v, &d);
        break;
    case 11: put_ok(s, "res.e", entry("t", "e", 5)); break;
    }
    ck_assert_int_eq(rc, 0);
    json_decref(v);
    json_decref(deps);
    sf_diags_free(&d);
}

static void crash_scenario(bool with_file)
{
    char *dir = make_dir(), *scratch = make_dir();
    char *path = join(dir, "state.json");
    char *jpath = with_suffix(path, ".journal");
    char *spath = join(scratch, "state.json");
    char *sjpath = with_suffix(spath, ".journal");
    long long base_serial = 0;

    if (with_file) {
        struct sf_state *s = load_ok(path);
        put_ok(s, "base.one", entry("t", "one", 1));
        put_ok(s, "base.two", entry("t", "two", 2));
        commit_ok(s);
        base_serial = sf_state_serial(s);
        sf_state_free(s);
    }
    size_t flen = 0;
    char *file = with_file ? slurp(path, &flen) : NULL;

    /* The expected states, from a copy that never journals. */
    json_t *expected[N_OPS + 1];
    if (with_file)
        spit(spath, file, flen);
    struct sf_state *mem = load_ok(spath);
    expected[0] = contents(mem);
    for (int i = 0; i < N_OPS; i++) {
        do_op(mem, i);
        expected[i + 1] = contents(mem);
    }
    sf_state_free(mem);
    unlink(spath);

    /* The run: journal every op, then die without committing. */
    struct sf_state *s = load_ok(path);
    char *lineage = sf_xstrdup(sf_state_lineage(s));
    begin_ok(s);
    for (int i = 0; i < N_OPS; i++)
        do_op(s, i);
    json_t *live = contents(s);
    assert_json_eq(live, expected[N_OPS], "journaling state in memory");
    json_decref(live);
    sf_state_free(s); /* the crash: the journal stays */
    ck_assert(exists(jpath));
    if (with_file) {
        size_t l;
        char *now = slurp(path, &l);
        ck_assert(l == flen && memcmp(now, file, flen) == 0);
        free(now);
    }

    size_t jlen;
    char *jtext = slurp(jpath, &jlen);
    size_t ends[N_OPS + 1]; /* ends[k]: offset just past line k (0 = header) */
    size_t nl = 0;
    for (size_t i = 0; i < jlen; i++)
        if (jtext[i] == '\n') {
            ck_assert_uint_lt(nl, N_OPS + 1);
            ends[nl++] = i + 1;
        }
    ck_assert_uint_eq(nl, N_OPS + 1);
    ck_assert_uint_eq(ends[N_OPS], jlen);

    /* Cut the journal at every byte: a cut inside line k (or just before
     * its newline) leaves the complete records before it. */
    int loads = 0;
    for (size_t cut = 0; cut <= jlen; cut++) {
        int complete = -1; /* complete lines */
        for (int k = 0; k <= N_OPS; k++)
            if (ends[k] <= cut)
                complete = k;
        int k = complete < 0 ? 0 : complete; /* records applied */
        if (with_file)
            spit(spath, file, flen);
        else
            unlink(spath);
        spit(sjpath, jtext, cut);
        struct sf_state *r = load_ok(spath);
        json_t *got = contents(r);
        char what[64];
        snprintf(what, sizeof(what), "state with the journal cut at byte %zu", cut);
        assert_json_eq(got, expected[k], what);
        json_decref(got);
        ck_assert_int_eq(sf_state_serial(r), base_serial + (k > 0 ? 1 : 0));
        if (with_file || complete >= 0)
            ck_assert_str_eq(sf_state_lineage(r), lineage);
        /* Load never writes. */
        size_t l;
        char *j = slurp(sjpath, &l);
        ck_assert(l == cut && memcmp(j, jtext, cut) == 0);
        free(j);
        if (cut == ends[N_OPS] || cut == ends[N_OPS / 2]) {
            /* Recovering then committing gives the same state. */
            commit_ok(r);
            ck_assert_int_eq(sf_state_serial(r), base_serial + 1);
            ck_assert(!exists(sjpath));
            sf_state_free(r);
            r = load_ok(spath);
            got = contents(r);
            assert_json_eq(got, expected[k], "committed recovered state");
            json_decref(got);
            ck_assert_int_eq(sf_state_serial(r), base_serial + 1);
        }
        sf_state_free(r);
        loads++;
    }
    ck_assert_int_eq(loads, (int)jlen + 1);

    /* Recovering, then going on with a new run: begin folds the replayed
     * journal first, so the new journal is relative to that file. */
    if (with_file)
        spit(spath, file, flen);
    else
        unlink(spath);
    spit(sjpath, jtext, ends[5]);
    struct sf_state *r = load_ok(spath);
    begin_ok(r);
    ck_assert_int_eq(sf_state_serial(r), base_serial + 1);
    put_ok(r, "res.z", entry("t", "z", 9));
    sf_state_free(r); /* crash again */
    r = load_ok(spath);
    ck_assert_int_eq(sf_state_serial(r), base_serial + 2);
    ck_assert_ptr_nonnull(sf_state_get(r, "res.z"));
    ck_assert_ptr_nonnull(sf_state_get(r, "res.c"));
    ck_assert_ptr_null(sf_state_get(r, "res.d"));
    sf_state_free(r);

    for (int i = 0; i <= N_OPS; i++)
        json_decref(expected[i]);
    free(jtext);
    free(file);
    free(lineage);
    free(sjpath);
    free(spath);
    free(jpath);
    free(path);
    remove_dir(scratch);
    remove_dir(dir);
}

START_TEST(test_crash_every_step)
{
    crash_scenario(true);
}
END_TEST

START_TEST(test_crash_before_first_commit)
{
    crash_scenario(false);
}
END_TEST

START_TEST(test_crash_between_rename_and_unlink)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    char *jpath = with_suffix(path, ".journal");
    struct sf_state *s = load_ok(path);
    put_ok(s, "a.one", entry("t", "one", 1));
    commit_ok(s);
    begin_ok(s);
    put_ok(s, "a.two", entry("t", "two", 2));
    struct sf_diags d;
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_remove(s, "a.one", &d), 0);
    size_t jlen;
    char *jtext = slurp(jpath, &jlen);
    commit_ok(s);
    json_t *committed = sf_state_to_json(s);
    sf_state_free(s);

    /* The journal the commit was about to remove when it died. */
    spit(jpath, jtext, jlen);
    s = load_ok(path);
    json_t *got = sf_state_to_json(s);
    assert_json_eq(got, committed, "state with a journal already folded");
    ck_assert_int_eq(sf_state_serial(s), 2);
    /* The next run starts a fresh journal over the stale one. */
    begin_ok(s);
    put_ok(s, "a.three", entry("t", "three", 3));
    commit_ok(s);
    ck_assert_int_eq(sf_state_serial(s), 3);
    ck_assert(!exists(jpath));
    sf_state_free(s);
    s = load_ok(path);
    ck_assert_int_eq(n_resources(s), 2);
    sf_state_free(s);

    json_decref(got);
    json_decref(committed);
    sf_diags_free(&d);
    free(jtext);
    free(jpath);
    free(path);
    remove_dir(dir);
}
END_TEST

/* --- bad files ---------------------------------------------------------- */

START_TEST(test_journal_mismatch)
{
    char *dir = make_dir(), *other = make_dir();
    char *path = join(dir, "state.json");
    char *jpath = with_suffix(path, ".journal");
    char *opath = join(other, "state.json");
    char *ojpath = with_suffix(opath, ".journal");

    struct sf_state *s = load_ok(path);
    put_ok(s, "a.one", entry("t", "one", 1));
    commit_ok(s);
    sf_state_free(s);

    /* Another stack, same serial, dies with a journal. */
    s = load_ok(opath);
    put_ok(s, "b.one", entry("t", "one", 1));
    commit_ok(s);
    begin_ok(s);
    put_ok(s, "b.two", entry("t", "two", 2));
    sf_state_free(s);

    size_t flen, jlen;
    char *file = slurp(path, &flen);
    char *jtext = slurp(ojpath, &jlen);
    spit(jpath, jtext, jlen);
    char *msg = load_fails(path);
    assert_contains(msg, "another state");
    assert_contains(msg, jpath);
    free(msg);
    size_t l;
    char *now = slurp(path, &l);
    ck_assert(l == flen && memcmp(now, file, flen) == 0);
    free(now);
    now = slurp(jpath, &l);
    ck_assert(l == jlen && memcmp(now, jtext, jlen) == 0);
    free(now);

    /* Same lineage, but written against a newer file. */
    s = NULL;
    json_t *doc = json_loads(file, 0, NULL);
    json_t *hdr = json_pack("{s:i, s:s, s:i}", "journal", 1, "lineage",
                            json_string_value(json_object_get(doc, "lineage")), "base_serial", 5);
    char *h = json_dumps(hdr, JSON_COMPACT);
    char *line = sf_asprintf("%s\n{\"op\":\"remove\",\"address\":\"a.one\"}\n", h);
    spit(jpath, line, strlen(line));
    msg = load_fails(path);
    assert_contains(msg, "another state");
    assert_contains(msg, "serial 5");
    free(msg);

    /* A damaged record in the middle is not a torn last one. */
    free(line);
    free(h);
    json_object_set_new(hdr, "base_serial", json_integer(1));
    h = json_dumps(hdr, JSON_COMPACT);
    line = sf_asprintf("%s\n{\"op\":\"rem\n{\"op\":\"remove\",\"address\":\"a.one\"}\n", h);
    spit(jpath, line, strlen(line));
    msg = load_fails(path);
    assert_contains(msg, "damaged");
    free(msg);

    free(line);
    free(h);
    json_decref(hdr);
    json_decref(doc);
    free(file);
    free(jtext);
    free(ojpath);
    free(opath);
    free(jpath);
    free(path);
    remove_dir(other);
    remove_dir(dir);
}
END_TEST

/* Load must fail naming the journal and what is wrong with it, and leave
 * the state file and the journal byte for byte as they were. */
static void journal_refused(const char *path, const char *jpath, const char *journal,
                            const char *why)
{
    size_t flen;
    char *file = slurp(path, &flen);
    spit(jpath, journal, strlen(journal));
    char *msg = load_fails(path);
    assert_contains(msg, jpath);
    assert_contains(msg, why);
    free(msg);
    size_t l;
    char *now = slurp(jpath, &l);
    ck_assert_msg(l == strlen(journal) && memcmp(now, journal, l) == 0, "journal changed");
    free(now);
    now = slurp(path, &l);
    ck_assert_msg(l == flen && memcmp(now, file, l) == 0, "state file changed");
    free(now);
    free(file);
}

START_TEST(test_journal_garbage)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    char *jpath = with_suffix(path, ".journal");
    struct sf_state *s = load_ok(path);
    put_ok(s, "a.one", entry("t", "one", 1));
    put_ok(s, "a.two", entry("t", "two", 2));
    commit_ok(s);
    sf_state_free(s);
    size_t flen;
    char *file = slurp(path, &flen);
    json_t *doc = json_loadb(file, flen, 0, NULL);
    char *hdr = sf_asprintf("{\"journal\":1,\"lineage\":\"%s\",\"base_serial\":1}\n",
                            json_string_value(json_object_get(doc, "lineage")));
    json_decref(doc);
    const char *rm_one = "{\"op\":\"remove\",\"address\":\"a.one\"}\n";
    const char *rm_two = "{\"op\":\"remove\",\"address\":\"a.two\"}\n";

    /* Garbage from the first byte, with or without a newline. */
    journal_refused(path, jpath, "garbage", "not a sparkform journal");
    journal_refused(path, jpath, "garbage\n", "not a sparkform journal");
    journal_refused(path, jpath, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "not a sparkform journal");
    journal_refused(path, jpath, "[1, 2, 3]\n", "not a sparkform journal");
    char *j = sf_asprintf("{\"some\": \"other json\"}\n%s", rm_one);
    journal_refused(path, jpath, j, "not a sparkform journal");
    free(j);

    /* A header that is not one sparkform wrote. */
    j = sf_asprintf("{\"journal\":1,\"lineage\":7}\n%s", rm_one);
    journal_refused(path, jpath, j, "journal header is malformed");
    free(j);

    /* Damage in the middle: a line that does not parse, or is no record. */
    j = sf_asprintf("%snot a record\n%s", hdr, rm_one);
    journal_refused(path, jpath, j, "damaged");
    free(j);
    j = sf_asprintf("%s%s{\"op\":\"frobnicate\"}\n%s", hdr, rm_one, rm_two);
    journal_refused(path, jpath, j, "unknown record op");
    free(j);
    /* A complete last line was written whole: not parsing is damage. */
    j = sf_asprintf("%s%s{\"op\":\"remove\",\"addr\n", hdr, rm_one);
    journal_refused(path, jpath, j, "damaged");
    free(j);
    /* A tail that is not the start of a record. */
    j = sf_asprintf("%s%sxyz", hdr, rm_one);
    journal_refused(path, jpath, j, "not a journal record");
    free(j);

    struct sf_diags d;
    sf_diags_init(&d);
    j = sf_asprintf("%snot a record\n%s", hdr, rm_one);
    spit(jpath, j, strlen(j));
    ck_assert_int_eq(sf_state_load(path, &s, &d), -1);
    ck_assert_uint_ge(d.n, 1);
    ck_assert_str_eq(d.items[0].file, jpath); /* the damaged line is named */
    ck_assert_int_eq(d.items[0].line, 2);
    free(j);
    sf_diags_free(&d);

    /* A torn last record (what a crash leaves) is replayed up to it. */
    j = sf_asprintf("%s%s{\"op\":\"remove\",\"addr", hdr, rm_one);
    spit(jpath, j, strlen(j));
    s = load_ok(path);
    ck_assert_ptr_null(sf_state_get(s, "a.one"));
    ck_assert_ptr_nonnull(sf_state_get(s, "a.two"));
    sf_state_free(s);
    free(j);
    /* So is a torn header, and an empty journal: nothing to replay. */
    const char *torn_hdr = "{\"jour";
    spit(jpath, torn_hdr, strlen(torn_hdr));
    s = load_ok(path);
    ck_assert_ptr_nonnull(sf_state_get(s, "a.one"));
    sf_state_free(s);
    spit(jpath, "", 0);
    s = load_ok(path);
    ck_assert_ptr_nonnull(sf_state_get(s, "a.one"));
    sf_state_free(s);

    free(file);
    free(hdr);
    free(jpath);
    free(path);
    remove_dir(dir);
}
END_TEST

START_TEST(test_malformed_state_file)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");

    const char *bad_json = "{\"format_version\": 1,\n \"lineage\": \n";
    spit(path, bad_json, strlen(bad_json));
    char *msg = load_fails(path);
    assert_contains(msg, path);
    assert_contains(msg, "not valid JSON");
    free(msg);

    const char *future = "{\"format_version\": 2, \"lineage\": \"x\", \"serial\": 3, "
                         "\"resources\": {}, \"outputs\": {}}";
    spit(path, future, strlen(future));
    msg = load_fails(path);
    assert_contains(msg, path);
    assert_contains(msg, "format_version 2");
    free(msg);

    const char *no_serial = "{\"format_version\": 1, \"lineage\": \"x\", \"resources\": {}}";
    spit(path, no_serial, strlen(no_serial));
    msg = load_fails(path);
    assert_contains(msg, "serial");
    free(msg);

    const char *bad_entry = "{\"format_version\": 1, \"lineage\": \"x\", \"serial\": 1, "
                            "\"resources\": {\"a.b\": [1]}, \"outputs\": {}}";
    spit(path, bad_entry, strlen(bad_entry));
    msg = load_fails(path);
    assert_contains(msg, "a.b");
    free(msg);

    /* Untouched by the failed loads. */
    size_t l;
    char *now = slurp(path, &l);
    ck_assert(l == strlen(bad_entry) && memcmp(now, bad_entry, l) == 0);
    free(now);
    free(path);
    remove_dir(dir);
}
END_TEST

/* --- lock --------------------------------------------------------------- */

static char *host(void)
{
    char buf[256];
    ck_assert_int_eq(gethostname(buf, sizeof(buf)), 0);
    buf[sizeof(buf) - 1] = '\0';
    return sf_xstrdup(buf);
}

START_TEST(test_lock_contention)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    char *lpath = with_suffix(path, ".lock");
    struct sf_diags d;
    sf_diags_init(&d);

    struct sf_state *a = open_locked_ok(path, "apply", 0), *b = NULL;
    ck_assert_ptr_nonnull(sf_state_lock_id(a));
    size_t l;
    char *text = slurp(lpath, &l);
    json_t *info = json_loads(text, 0, NULL);
    free(text);
    ck_assert_str_eq(json_string_value(json_object_get(info, "id")), sf_state_lock_id(a));
    ck_assert_str_eq(json_string_value(json_object_get(info, "operation")), "apply");
    ck_assert_int_eq(json_integer_value(json_object_get(info, "pid")), getpid());
    char *h = host();
    ck_assert_str_eq(json_string_value(json_object_get(info, "host")), h);
    const char *c = json_string_value(json_object_get(info, "created"));
    ck_assert(c && strlen(c) == 20 && c[10] == 'T' && c[19] == 'Z');
    char *created = sf_xstrdup(c);
    ck_assert(json_string_length(json_object_get(info, "who")) > 0);
    char *who = sf_xstrdup(json_string_value(json_object_get(info, "who")));
    json_decref(info);

    /* Held: refused at once, naming the holder. */
    double t0 = sf_now();
    ck_assert_int_eq(sf_state_open_locked(path, "plan", 0, &b, &d), -1);
    ck_assert(sf_now() - t0 < 0.5);
    ck_assert_ptr_null(b);
    char *msg = diag_text(&d);
    assert_contains(msg, "state is locked by ");
    char *want = sf_asprintf("state is locked by %s@%s (pid %ld, operation \"apply\", since %s, "
                             "lock id %s)", who, h, (long)getpid(), created, sf_state_lock_id(a));
    assert_contains(msg, want);
    char *pid = sf_asprintf("(pid %ld, operation \"apply\", since ", (long)getpid());
    assert_contains(msg, pid);
    char *idpart = sf_asprintf(", lock id %s)", sf_state_lock_id(a));
    assert_contains(msg, idpart);
    ck_assert_msg(strstr(msg, "gone") == NULL, "a live holder is not gone: %s", msg);
    free(want);
    free(who);
    free(created);
    free(pid);
    free(idpart);
    free(msg);
    sf_diags_free(&d);
    sf_diags_init(&d);

    /* force-unlock needs the right id. */
    ck_assert_int_eq(sf_state_force_unlock(path, "not-the-id", &d), -1);
    msg = diag_text(&d);
    assert_contains(msg, sf_state_lock_id(a));
    free(msg);
    ck_assert(exists(lpath));
    ck_assert_int_eq(sf_state_force_unlock(path, sf_state_lock_id(a), &d), 0);
    ck_assert(!exists(lpath));
    sf_diags_free(&d);
    sf_diags_init(&d);
    ck_assert_int_eq(sf_state_force_unlock(path, "any", &d), -1);
    msg = diag_text(&d);
    char *none = sf_asprintf("no lock is held on %s", path);
    assert_contains(msg, none);
    free(none);
    free(msg);

    /* After a force-unlock, the old holder must not remove the new lock. */
    ck_assert_int_eq(sf_state_open_locked(path, "apply", 0, &b, &d), 0);
    ck_assert_int_eq(sf_state_unlock(a), -1);
    ck_assert(exists(lpath));
    ck_assert_int_eq(sf_state_unlock(b), 0);
    ck_assert(!exists(lpath));

    sf_state_free(a);
    sf_state_free(b);
    sf_diags_free(&d);
    free(h);
    free(lpath);
    free(path);
    remove_dir(dir);
}
END_TEST

START_TEST(test_lock_wait)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    char *lpath = with_suffix(path, ".lock");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        struct sf_diags cd;
        sf_diags_init(&cd);
        struct sf_state *c = NULL;
        if (sf_state_open_locked(path, "apply", 0, &c, &cd) < 0 || sf_state_begin(c, &cd) < 0)
            _exit(1);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        sf_sleep_ms(300);
        /* What the holder records before it lets go is what the next
         * holder reads. */
        json_t *e = entry("t", "child", 1);
        int rc = sf_state_put(c, "child.r", e, &cd) == 0 && sf_state_commit(c, &cd) == 0 ? 0 : -1;
        json_decref(e);
        if (sf_state_unlock(c) < 0)
            rc = -1;
        sf_state_free(c);
        sf_diags_free(&cd);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    char x;
    ck_assert_int_eq(read(fds[0], &x, 1), 1);
    close(fds[0]);

    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_state *s = NULL;
    ck_assert_int_eq(sf_state_open_locked(path, "destroy", 0, &s, &d), -1);
    ck_assert_ptr_null(s);
    char *msg = diag_text(&d);
    char *pid = sf_asprintf("(pid %ld, operation \"apply\"", (long)child);
    assert_contains(msg, pid);
    free(pid);
    free(msg);

    double t0 = sf_now();
    ck_assert_int_eq(sf_state_open_locked(path, "destroy", 5000, &s, &d), 0);
    double waited = sf_now() - t0;
    ck_assert_msg(waited > 0.1 && waited < 4.0, "waited %.3f s", waited);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Loaded once the lock was ours: the holder's last commit is in. */
    ck_assert_ptr_nonnull(sf_state_get(s, "child.r"));
    ck_assert_int_eq(sf_state_serial(s), 1);
    /* Ours now. */
    size_t l;
    char *text = slurp(lpath, &l);
    assert_contains(text, sf_state_lock_id(s));
    assert_contains(text, "destroy");
    free(text);

    /* A holder that never lets go: the timeout gives up and says so. */
    struct sf_state *other = NULL;
    sf_diags_free(&d);
    sf_diags_init(&d);
    t0 = sf_now();
    ck_assert_int_eq(sf_state_open_locked(path, "apply", 250, &other, &d), -1);
    ck_assert_ptr_null(other);
    waited = sf_now() - t0;
    ck_assert_msg(waited >= 0.2 && waited < 2.0, "waited %.3f s", waited);
    msg = diag_text(&d);
    assert_contains(msg, sf_state_lock_id(s));
    free(msg);
    sf_state_free(other);

    sf_state_free(s); /* releases the lock */
    ck_assert(!exists(lpath));
    sf_diags_free(&d);
    free(lpath);
    free(path);
    remove_dir(dir);
}
END_TEST

/* Writes a lock file as another run would have: who holds it. */
static void write_lock(const char *lpath, const char *id, const char *h, long pid,
                       const json_t *extra)
{
    json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "id", id, "operation", "apply",
                             "who", "someone", "host", h, "pid", (int)pid, "created",
                             "2024-05-01T10:00:00Z");
    if (extra)
        json_object_update(info, (json_t *)extra);
    char *text = json_dumps(info, 0);
    spit(lpath, text, strlen(text));
    free(text);
    json_decref(info);
}

/* Opens path locked for "plan": the return code, with the messages in *msg. */
static int open_plan(const char *path, struct sf_state **s, char **msg)
{
    struct sf_diags d;
    sf_diags_init(&d);
    int rc = sf_state_open_locked(path, "plan", 0, s, &d);
    *msg = diag_text(&d);
    sf_diags_free(&d);
    return rc;
}

/* The 22nd field of /proc/PID/stat, read here independently of lock.c. */
static long long start_of(long pid)
{
    char *p = sf_asprintf("/proc/%ld/stat", pid);
    size_t l;
    char *text = slurp(p, &l);
    free(p);
    char *q = strrchr(text, ')') + 2;
    for (int i = 3; i < 22; i++)
        q = strchr(q, ' ') + 1;
    long long v = strtoll(q, NULL, 10);
    free(text);
    return v;
}

START_TEST(test_lock_dead_holder)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    char *lpath = with_suffix(path, ".lock");
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    char *h = host(), *msg;
    struct sf_state *s = NULL;

    /* Its process is gone: taken over, with a warning naming the holder. */
    write_lock(lpath, "1b2c3d4e-dead", h, child, NULL);
    ck_assert_int_eq(open_plan(path, &s, &msg), 0);
    char *want = sf_asprintf("took over the state lock left by a run that died: "
                             "someone@%s (pid %ld, operation \"apply\", since "
                             "2024-05-01T10:00:00Z, lock id 1b2c3d4e-dead); process %ld is gone",
                             h, (long)child, (long)child);
    assert_contains(msg, want);
    free(want);
    free(msg);
    size_t l;
    char *text = slurp(lpath, &l);
    assert_contains(text, sf_state_lock_id(s));
    assert_contains(text, "\"plan\"");
    free(text);
    sf_state_free(s);
    s = NULL;
    ck_assert(!exists(lpath));

    /* The PID runs, but another program than the one that took the lock
     * (it started at another time): taken over. */
    json_t *extra = json_pack("{s:I}", "start", (json_int_t)(start_of(getppid()) + 1));
    write_lock(lpath, "pid-reused", h, getppid(), extra);
    json_decref(extra);
    ck_assert_int_eq(open_plan(path, &s, &msg), 0);
    want = sf_asprintf("process %ld is now another program", (long)getppid());
    assert_contains(msg, want);
    free(want);
    free(msg);
    sf_state_free(s);
    s = NULL;

    /* Recorded before this host restarted: taken over. */
    extra = json_pack("{s:s}", "boot_id", "00000000-0000-0000-0000-000000000000");
    write_lock(lpath, "before-boot", h, getppid(), extra);
    json_decref(extra);
    ck_assert_int_eq(open_plan(path, &s, &msg), 0);
    assert_contains(msg, "lock id before-boot); this host has restarted since");
    free(msg);
    sf_state_free(s);
    s = NULL;

    /* The process that took it still runs (same PID, same start): held. */
    extra = json_pack("{s:I}", "start", (json_int_t)start_of(getppid()));
    write_lock(lpath, "alive", h, getppid(), extra);
    json_decref(extra);
    ck_assert_int_eq(open_plan(path, &s, &msg), -1);
    ck_assert_ptr_null(s);
    want = sf_asprintf("state is locked by someone@%s (pid %ld, operation \"apply\", since "
                       "2024-05-01T10:00:00Z, lock id alive)",
                       h, (long)getppid());
    assert_contains(msg, want);
    ck_assert_msg(strstr(msg, "took over") == NULL, "%s", msg);
    free(want);
    free(msg);
    text = slurp(lpath, &l);
    assert_contains(text, "\"alive\"");
    free(text);

    /* The same dead pid on another host is none of our business. */
    write_lock(lpath, "other-host-id", "some-other-host.invalid", child, NULL);
    ck_assert_int_eq(open_plan(path, &s, &msg), -1);
    ck_assert_ptr_null(s);
    assert_contains(msg, "state is locked by someone@some-other-host.invalid");
    ck_assert_msg(strstr(msg, "took over") == NULL, "%s", msg);
    free(msg);
    ck_assert(exists(lpath));

    free(h);
    free(lpath);
    free(path);
    remove_dir(dir);
}
END_TEST

/* Many runs find the same dead lock at once: exactly one of them holds
 * the state afterwards at any time, and each got it in turn. */
START_TEST(test_lock_takeover_race)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    char *lpath = with_suffix(path, ".lock");
    char *h = host();
    pid_t dead = fork();
    ck_assert_int_ge(dead, 0);
    if (dead == 0)
        _exit(0);
    int status;
    ck_assert_int_eq(waitpid(dead, &status, 0), dead);
    write_lock(lpath, "dead-one", h, dead, NULL);
    /* Each child takes the lock (waiting up to 10 s), and while it holds
     * it appends "in"/"out" around a pause to a shared file; overlapping
     * holders would interleave. */
    char *log = join(dir, "holders");
    enum { N = 6 };
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) {
            struct sf_diags d;
            sf_diags_init(&d);
            struct sf_state *s = NULL;
            if (sf_state_open_locked(path, "apply", 10000, &s, &d) < 0)
                _exit(2);
            FILE *f = fopen(log, "a");
            fputs("in\n", f);
            fflush(f);
            sf_sleep_ms(30);
            fputs("out\n", f);
            fclose(f);
            sf_state_free(s);
            _exit(0);
        }
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed", i);
    }
    size_t l;
    char *text = slurp(log, &l);
    char *expect = sf_xstrdup("");
    for (int i = 0; i < N; i++) {
        char *next = sf_asprintf("%sin\nout\n", expect);
        free(expect);
        expect = next;
    }
    ck_assert_str_eq(text, expect);
    free(expect);
    free(text);
    ck_assert(!exists(lpath));
    free(log);
    free(h);
    free(lpath);
    free(path);
    remove_dir(dir);
}
END_TEST

/* --- cost and concurrency ----------------------------------------------- */

/* Seconds for 2,000 journaled puts on a state of n entries; *jsize gets
 * the size of the journal they wrote. */
static double time_puts(size_t n, off_t *jsize)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    char *jpath = with_suffix(path, ".journal");
    struct sf_state *s = load_ok(path);
    for (size_t i = 0; i < n; i++) {
        char addr[64];
        snprintf(addr, sizeof(addr), "big.r%zu", i);
        put_ok(s, addr, entry("t", addr, (int)i));
    }
    commit_ok(s);
    begin_ok(s);
    double t0 = sf_now();
    for (int i = 0; i < 2000; i++) {
        char addr[64];
        snprintf(addr, sizeof(addr), "new.r%d", i);
        put_ok(s, addr, entry("t", addr, i));
    }
    double t = sf_now() - t0;
    struct stat st;
    ck_assert_int_eq(stat(jpath, &st), 0);
    *jsize = st.st_size;
    sf_state_free(s);
    s = load_ok(path);
    ck_assert_uint_eq(n_resources(s), n + 2000);
    sf_state_free(s);
    free(jpath);
    free(path);
    remove_dir(dir);
    return t;
}

START_TEST(test_per_record_cost)
{
    off_t small_j, big_j;
    double small = time_puts(100, &small_j);
    double big = time_puts(20000, &big_j);
    printf("state: 2000 journaled puts: %.3f s on 100 entries, %.3f s on 20000 entries "
           "(journal %lld vs %lld bytes)\n",
           small, big, (long long)small_j, (long long)big_j);
    /* The journal holds the records only, never the state. */
    ck_assert_msg(big_j < small_j + small_j / 10, "journal %lld vs %lld bytes", (long long)big_j,
                  (long long)small_j);
    ck_assert_msg(big < 5 * small + 1.0, "%.3f s vs %.3f s", big, small);
}
END_TEST

struct worker {
    struct sf_state *s;
    int n;
    int failures;
};

static void *put_worker(void *arg)
{
    struct worker *w = arg;
    struct sf_diags d;
    sf_diags_init(&d);
    for (int i = 0; i < 200; i++) {
        char addr[64];
        snprintf(addr, sizeof(addr), "w%d.r%d", w->n, i);
        json_t *e = entry("t", addr, i);
        if (sf_state_put(w->s, addr, e, &d) < 0)
            w->failures++;
        json_decref(e);
        if (i % 50 == 0) {
            json_t *doc = sf_state_to_json(w->s);
            json_decref(doc);
            (void)sf_state_get(w->s, addr);
        }
    }
    sf_diags_free(&d);
    return NULL;
}

START_TEST(test_threads)
{
    char *dir = make_dir();
    char *path = join(dir, "state.json");
    struct sf_state *s = load_ok(path);
    begin_ok(s);
    pthread_t th[8];
    struct worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){s, i, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, put_worker, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(w[i].failures, 0);
    }
    ck_assert_uint_eq(n_resources(s), 1600);
    sf_state_free(s); /* without commit: the journal alone must hold all */

    s = load_ok(path);
    ck_assert_uint_eq(n_resources(s), 1600);
    ck_assert_ptr_nonnull(sf_state_get(s, "w7.r199"));
    commit_ok(s);
    sf_state_free(s);
    s = load_ok(path);
    ck_assert_uint_eq(n_resources(s), 1600);
    ck_assert_int_eq(sf_state_serial(s), 1);
    sf_state_free(s);
    free(path);
    remove_dir(dir);
}
END_TEST

static Suite *state_suite(void)
{
    Suite *su = suite_create("state");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_intent);
    tcase_add_test(tc, test_entry_changes);
    tcase_add_test(tc, test_crash_every_step);
    tcase_add_test(tc, test_crash_before_first_commit);
    tcase_add_test(tc, test_crash_between_rename_and_unlink);
    tcase_add_test(tc, test_journal_mismatch);
    tcase_add_test(tc, test_journal_garbage);
    tcase_add_test(tc, test_malformed_state_file);
    tcase_add_test(tc, test_lock_contention);
    tcase_add_test(tc, test_lock_wait);
    tcase_add_test(tc, test_lock_dead_holder);
    tcase_add_test(tc, test_lock_takeover_race);
    tcase_add_test(tc, test_per_record_cost);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(state_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failures = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failures != 0;
}

/*
 * Unit tests of module expansion (modules/expand.c, modules/inputs.c):
 * the addresses instances get, for_each over maps, lists and keyed lists,
 * when, nesting, outputs and the order their references imply, the
 * input checks' messages with the caller's line and column, git sources
 * (modules, and a SparkService's operator.crds) locked by init, and how
 * each URL form of a git source splits into URL, subdirectory and ref.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gitsrc.h"
#include "init.h"
#include "run.h"
#include "util.h"

static char dir[] = "/tmp/sf_modules_XXXXXX";
static struct sf_diags diags;

static void put(const char *name, const char *text)
{
    char *path = sf_asprintf("%s/%s", dir, name);
    ck_assert_int_eq(sf_mkdir_parents(path), 0);
    ck_assert_int_eq(sf_write_file_atomic(path, text, strlen(text), 0644), 0);
    free(path);
}

static void setup(void)
{
    strcpy(dir, "/tmp/sf_modules_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    sf_diags_init(&diags);
    put("leaf/module.yaml",
        "apiVersion: sparkform/v1\nkind: Module\n"
        "inputs:\n  tag: {type: string}\n  n: {type: number, default: 1, min: 1, max: 5}\n"
        "resources:\n"
        "  - {type: local_file, name: f, with: {path: \"${input.tag}.txt\", content: \"${input.n}\"}}\n"
        "outputs:\n  path: \"${local_file.f.path}\"\n");
    put("mid/module.yaml",
        "apiVersion: sparkform/v1\nkind: Module\n"
        "inputs:\n  names: {type: map}\n  extra: {type: bool, default: false}\n"
        "resources:\n"
        "  - {type: local_file, name: note, when: \"${input.extra}\", with: {path: note.txt, content: x}}\n"
        "modules:\n"
        "  - {name: leaf, source: ../leaf, for_each: \"${input.names}\", inputs: {tag: \"${each.key}\", n: \"${each.value}\"}}\n"
        "outputs:\n  first: \"${module.leaf[\\\"a\\\"].path}\"\n");
}

static void teardown(void)
{
    char *rm = sf_asprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(rm), 0);
    free(rm);
    sf_diags_free(&diags);
}

static const char *first_error(void)
{
    for (size_t i = 0; i < diags.n; i++)
        if (diags.items[i].severity == SF_SEV_ERROR)
            return diags.items[i].summary;
    return "(none)";
}

/* Loads and binds TEXT as DIR/stack.yaml. */
static struct sf_config *load(const char *text, int *rc)
{
    put("stack.yaml", text);
    char *path = sf_asprintf("%s/stack.yaml", dir);
    struct sf_config *c = NULL;
    *rc = sf_config_load(path, &c, &diags);
    if (*rc == 0)
        *rc = sf_config_bind_vars(c, NULL, 0, NULL, 0, &diags);
    free(path);
    return c;
}

#define HEAD "apiVersion: sparkform/v1\nkind: Stack\nmetadata: {name: demo}\n"

START_TEST(test_addresses_and_nesting)
{
    int rc;
    struct sf_config *c = load(HEAD "modules:\n"
                                    "  - {name: top, source: ./mid, inputs: {names: {a: 2, b: 3}, extra: true}}\n"
                                    "  - {name: off, source: ./mid, when: false, inputs: {names: {}}}\n"
                                    "outputs:\n  p: \"${module.top.first}\"\n",
                               &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    ck_assert_uint_eq(c->n_resources, 3);
    ck_assert_ptr_nonnull(sf_config_find(c, "module.top.local_file.note"));
    const struct sf_resource_cfg *a = sf_config_find(c, "module.top.module.leaf[a].local_file.f");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(sf_config_find(c, "module.top.module.leaf[b].local_file.f"));
    ck_assert_str_eq(a->name, "f");
    ck_assert_str_eq(a->frame->prefix, "module.top.module.leaf[a].");
    /* The output refers to module.top.module.leaf[a]'s file, and only it. */
    ck_assert_uint_eq(c->outputs[0].n_refs, 1);
    ck_assert_str_eq(c->outputs[0].refs[0].name, "module.top.module.leaf[a].local_file.f");

    struct sf_scope sc = {0};
    json_t *v = sf_config_eval_resource(c, a, &sc, NULL, &diags);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "path")), "a.txt");
    ck_assert_str_eq(json_string_value(json_object_get(v, "content")), "2");
    json_decref(v);
    sf_config_free(c);
}
END_TEST

/* A field of an object input is as secret as what the caller wrote for
 * it: the registry's flavor is not secret because its password is. */
START_TEST(test_field_sensitivity)
{
    put("sec/module.yaml", "apiVersion: sparkform/v1\nkind: Module\n"
                           "inputs:\n  reg: {type: object, fields: {flavor: {type: string}, "
                           "password: {type: string}, token: {type: string, default: t, sensitive: true}}}\n"
                           "resources:\n"
                           "  - {type: local_file, name: f, with: {path: \"${input.reg.flavor}\", "
                           "content: \"${input.reg.password}\"}}\n"
                           "  - {type: local_file, name: g, with: {path: \"${input.reg.token}\", "
                           "content: \"${jsonencode(input.reg)}\"}}\n");
    int rc;
    struct sf_config *c = load(HEAD "variables:\n  pw: {type: string, default: s3cret, sensitive: true}\n"
                                    "modules:\n  - {name: m, source: ./sec, inputs: {reg: {flavor: small, "
                                    "password: \"${var.pw}\"}}}\n",
                               &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    struct sf_scope sc = {0};
    json_t *sens = NULL;
    json_t *v = sf_config_eval_resource(c, sf_config_find(c, "module.m.local_file.f"), &sc, &sens, &diags);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "path")), "small");
    char *list = json_dumps(sens, JSON_COMPACT);
    ck_assert_str_eq(list, "[\"content\"]");
    free(list);
    json_decref(v);
    json_decref(sens);
    /* A field the schema calls sensitive, and the whole input: secret. */
    v = sf_config_eval_resource(c, sf_config_find(c, "module.m.local_file.g"), &sc, &sens, &diags);
    ck_assert_ptr_nonnull(v);
    list = json_dumps(sens, JSON_COMPACT);
    ck_assert_str_eq(list, "[\"path\",\"content\"]");
    free(list);
    json_decref(v);
    json_decref(sens);
    sf_config_free(c);
}
END_TEST

START_TEST(test_for_each_forms)
{
    int rc;
    struct sf_config *c = load(HEAD "variables:\n  l: {type: list, default: [x, y]}\n"
                                    "resources:\n"
                                    "  - {type: local_file, name: s, for_each: \"${var.l}\", with: {path: \"${each.key}\", content: \"${each.value}\"}}\n"
                                    "  - type: local_file\n    name: o\n"
                                    "    for_each: {list: [{id: p, v: 1}, {id: q, v: 2}], key: id}\n"
                                    "    with: {path: \"${each.value.id}\", content: \"${each.value.v}\"}\n"
                                    "  - {type: local_file, name: dep, with: {path: z, content: \"${local_file.o[\\\"q\\\"].content}\"}, depends_on: [local_file.s]}\n",
                               &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    ck_assert_uint_eq(c->n_resources, 5);
    ck_assert_ptr_nonnull(sf_config_find(c, "local_file.s[x]"));
    ck_assert_ptr_nonnull(sf_config_find(c, "local_file.o[q]"));
    const struct sf_resource_cfg *dep = sf_config_find(c, "local_file.dep");
    ck_assert_uint_eq(dep->n_refs, 1);
    ck_assert_str_eq(dep->refs[0].name, "local_file.o[q]");
    /* depends_on on a resource with for_each waits for every instance. */
    ck_assert_uint_eq(dep->n_depends_on, 2);
    ck_assert_str_eq(dep->depends_on[0].address, "local_file.s[x]");
    ck_assert_str_eq(dep->depends_on[1].address, "local_file.s[y]");
    sf_config_free(c);
}
END_TEST

/* Loading fails with an error at line:col containing needle. */
static void fails(const char *text, const char *file, int line, int col, const char *needle)
{
    int rc;
    size_t before = diags.n;
    struct sf_config *c = load(text, &rc);
    ck_assert_int_eq(rc, -1);
    bool found = false;
    for (size_t i = before; i < diags.n && !found; i++) {
        const struct sf_diag *g = &diags.items[i];
        found = g->line == line && g->col == col && strstr(g->summary, needle) &&
                strstr(g->file, file);
    }
    if (!found)
        for (size_t i = before; i < diags.n; i++)
            fprintf(stderr, "  %s:%d:%d: %s\n", diags.items[i].file, diags.items[i].line,
                    diags.items[i].col, diags.items[i].summary);
    ck_assert_msg(found, "no error %s:%d:%d %s", file, line, col, needle);
    sf_config_free(c);
}

START_TEST(test_input_messages)
{
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, inputs: {tag: t, n: 9}}\n", "stack.yaml", 5, 51,
          "n: 9 is more than the maximum 5");
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, inputs: {tag: t, n: many}}\n", "stack.yaml", 5, 51,
          "n: expected a number, got a string");
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, inputs: {tagg: t}}\n", "stack.yaml", 5, 40,
          "has no input \"tagg\"; did you mean \"tag\"?");
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, inputs: {n: 2}}\n", "stack.yaml", 5, 39,
          "missing input \"tag\"");
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, inputs: {tag: \"${var.x}\"}}\n", "stack.yaml", 5, 48,
          "reference to undeclared variable \"x\"");
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, for_each: [a, a], inputs: {tag: t}}\n", "stack.yaml", 5,
          41, "the key \"a\" appears twice");
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, when: \"yes\", inputs: {tag: t}}\n", "stack.yaml", 5, 37,
          "when: expected true or false");
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, inputs: {tag: t}}\noutputs:\n  o: \"${module.l.pth}\"\n",
          "stack.yaml", 7, 9, "module.l has no output \"pth\"; did you mean \"path\"?");
    fails(HEAD "modules:\n  - {name: l, source: ./leaf, inputs: {tag: t}}\noutputs:\n  o: \"${module.m.path}\"\n",
          "stack.yaml", 7, 9, "no module of that name is called here");
    fails(HEAD "modules:\n  - {name: l, source: github.com/x/y}\n", "stack.yaml", 5, 23,
          "is not one sparkform reads");
    fails(HEAD "resources:\n  - {type: local_file, name: a, with: {path: \"${input.x}\", content: c}}\n",
          "stack.yaml", 5, 49, "input.* is only known inside a module");
    fails(HEAD "resources:\n  - {type: local_file, name: a, with: {path: \"${each.key}\", content: c}}\n",
          "stack.yaml", 5, 49, "each.key is only known in a resource or module with for_each");
    /* Inside a module: var.* is not known, and the caller is named. */
    put("bad/module.yaml", "apiVersion: sparkform/v1\nkind: Module\nresources:\n"
                           "  - {type: local_file, name: a, with: {path: \"${var.x}\", content: c}}\n");
    fails(HEAD "modules:\n  - {name: b, source: ./bad}\n", "bad/module.yaml", 4, 49,
          "var.x cannot be used inside a module");
    ck_assert_ptr_nonnull(strstr(diags.items[diags.n - 1].detail, "in module.b (")) ;
    ck_assert_ptr_nonnull(strstr(diags.items[diags.n - 1].detail, "called at "));
}
END_TEST

static void git_parses(const char *source, const char *url, const char *subdir, const char *ref)
{
    struct sf_gitsrc g;
    const char *why = NULL;
    ck_assert_msg(sf_gitsrc_parse(source, &g, &why) == 0, "%s: %s", source, why);
    ck_assert_str_eq(g.url, url);
    ck_assert_str_eq(g.subdir, subdir);
    ck_assert_str_eq(g.ref, ref);
    sf_gitsrc_free(&g);
}

/* The "//" before the subdirectory is neither the scheme's nor the
 * slashes that open an absolute path (ssh://host//srv/repo.git). */
START_TEST(test_git_source_forms)
{
    git_parses("git::ssh://git@git.example/org/repo.git//mod?ref=v1", "ssh://git@git.example/org/repo.git", "mod",
               "v1");
    git_parses("git::ssh://u@127.0.0.1:2222//srv/repo.git//mod/net?ref=v1", "ssh://u@127.0.0.1:2222//srv/repo.git",
               "mod/net", "v1");
    git_parses("git::ssh://u@127.0.0.1:2222//srv/repo.git?ref=main", "ssh://u@127.0.0.1:2222//srv/repo.git", "",
               "main");
    git_parses("git::ssh://u@127.0.0.1:2222/srv/repo.git//mod", "ssh://u@127.0.0.1:2222/srv/repo.git", "mod", "");
    git_parses("git::git+ssh://git.example/repo.git//mod?ref=3f2a9c1", "git+ssh://git.example/repo.git", "mod",
               "3f2a9c1");
    git_parses("git::git@git.example:org/repo.git//mod?ref=v1", "git@git.example:org/repo.git", "mod", "v1");
    git_parses("git::git@git.example:/srv/repo.git//a/b", "git@git.example:/srv/repo.git", "a/b", "");
    git_parses("git::git.example:repo.git", "git.example:repo.git", "", "");
    git_parses("git::https://git.example/org/repo.git//net?ref=v1.2.0", "https://git.example/org/repo.git", "net",
               "v1.2.0");
    git_parses("git::https://ci:tok@git.example/org/repo.git//net", "https://ci:tok@git.example/org/repo.git", "net",
               "");
    git_parses("git::file:///srv/repo//net?ref=v1", "file:///srv/repo", "net", "v1");
    git_parses("git::file:///srv/repo", "file:///srv/repo", "", "");

    struct sf_gitsrc g;
    const char *why = NULL;
    ck_assert_int_eq(sf_gitsrc_parse("git::ssh://h:2222//srv/repo.git//../x?ref=v1", &g, &why), -1);
    ck_assert_str_eq(why, "a git source's subdirectory may not leave the repository");
    ck_assert_int_eq(sf_gitsrc_parse("git::git@h:repo.git//m?ref=v1&depth=1", &g, &why), -1);
    ck_assert_int_eq(sf_gitsrc_parse("ssh://git@h/repo.git//m", &g, &why), -1);
    ck_assert_str_eq(why, "a git source starts with git::");
}
END_TEST

/* A git source from a repository the test makes: locked by init, read
 * offline afterwards, and a changed ref is a clear error until init. */
START_TEST(test_git_source)
{
    char *cmd = sf_asprintf(
        "set -e; cd '%s'; mkdir -p repo/net; cp leaf/module.yaml repo/net/; cd repo; git init -q .;"
        " git add .; git -c user.email=t@t -c user.name=t commit -qm one; git tag v1;"
        " sed -i 's/default: 1,/default: 3,/' net/module.yaml;"
        " git -c user.email=t@t -c user.name=t commit -qam two; git tag v2",
        dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    char *stack = sf_asprintf(HEAD "modules:\n  - {name: g, source: \"git::file://%s/repo//net?ref=v1\", inputs: {tag: t}}\n", dir);
    int rc;
    size_t before = diags.n;
    struct sf_config *c = load(stack, &rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_nonnull(strstr(diags.items[before].summary, "is not in the lock file yet; run sparkform init"));
    sf_config_free(c);

    char *path = sf_asprintf("%s/stack.yaml", dir);
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_int_eq(sf_modules_init(path, devnull, &diags), 0);
    char *lockp = sf_asprintf("%s/sparkform.lock.json", dir);
    json_t *lock = json_load_file(lockp, 0, NULL);
    ck_assert_ptr_nonnull(lock);
    ck_assert_uint_eq(json_object_size(json_object_get(lock, "modules")), 1);
    const char *k;
    json_t *e;
    json_object_foreach(json_object_get(lock, "modules"), k, e)
        ck_assert_uint_eq(strlen(json_string_value(json_object_get(e, "commit"))), 40);

    /* Offline: the repository is gone, the cache and the lock are enough. */
    char *rm = sf_asprintf("mv '%s/repo' '%s/repo.away'", dir, dir);
    ck_assert_int_eq(system(rm), 0);
    free(rm);
    c = load(stack, &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    const struct sf_resource_cfg *r = sf_config_find(c, "module.g.local_file.f");
    ck_assert_ptr_nonnull(r);
    struct sf_scope sc = {0};
    json_t *v = sf_config_eval_resource(c, r, &sc, NULL, &diags);
    ck_assert_str_eq(json_string_value(json_object_get(v, "content")), "1");
    json_decref(v);
    sf_config_free(c);

    /* Another ref: an error naming the locked one, until init fetches it. */
    char *v2 = sf_asprintf(HEAD "modules:\n  - {name: g, source: \"git::file://%s/repo//net?ref=v2\", inputs: {tag: t}}\n", dir);
    before = diags.n;
    c = load(v2, &rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_nonnull(strstr(diags.items[before].summary, "does not match the lock file, which has"));
    sf_config_free(c);
    rm = sf_asprintf("mv '%s/repo.away' '%s/repo'", dir, dir);
    ck_assert_int_eq(system(rm), 0);
    free(rm);
    ck_assert_int_eq(sf_modules_init(path, devnull, &diags), 0);
    c = load(v2, &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    v = sf_config_eval_resource(c, sf_config_find(c, "module.g.local_file.f"), &sc, NULL, &diags);
    ck_assert_str_eq(json_string_value(json_object_get(v, "content")), "3");
    json_decref(v);
    sf_config_free(c);

    /* A ref the repository does not have. */
    char *v9 = sf_asprintf(HEAD "modules:\n  - {name: g, source: \"git::file://%s/repo//net?ref=v9\", inputs: {tag: t}}\n", dir);
    put("stack.yaml", v9);
    before = diags.n;
    ck_assert_int_eq(sf_modules_init(path, devnull, &diags), -1);
    ck_assert_ptr_nonnull(strstr(diags.items[before].summary, "has no tag, branch or commit \"v9\""));
    fclose(devnull);
    json_decref(lock);
    free(lockp);
    free(path);
    free(stack);
    free(v2);
    free(v9);
}
END_TEST

/* A SparkService whose operator.crds is a git source. Its repository, made
 * here, has a directory of two CRD files, tagged v1.0.0 and v1.1.0 (one
 * file changed). */
static char *spark_service(const char *crds)
{
    return sf_asprintf("apiVersion: sparkform/v1\nkind: SparkService\nmetadata: {name: demo}\n"
                       "variables:\n  c: {type: string, default: x}\n"
                       "spec:\n"
                       "  cluster: {}\n"
                       "  registry: {password: pw}\n"
                       "  storage: {bucket: demo-spark}\n"
                       "  operator:\n"
                       "    crds: %s\n",
                       crds);
}

static const char crd_yaml[] =
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    "metadata: {name: %s.sparkoperator.k8s.io}\n"
    "spec:\n  group: sparkoperator.k8s.io\n  scope: Namespaced\n"
    "  names: {kind: %s, plural: %s}\n"
    "  versions:\n    - {name: v1beta2, served: true, storage: true, subresources: {status: {}},\n"
    "       schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}\n";

#define UP "module.operator.kubernetes_manifest.upstream_crds[CustomResourceDefinition/"

START_TEST(test_operator_crds_git)
{
    char *app = sf_asprintf(crd_yaml, "sparkapplications", "SparkApplication", "sparkapplications");
    char *sched = sf_asprintf(crd_yaml, "scheduledsparkapplications", "ScheduledSparkApplication",
                              "scheduledsparkapplications");
    put("repo/charts/crds/sparkoperator.k8s.io_sparkapplications.yaml", app);
    put("repo/charts/crds/sparkoperator.k8s.io_scheduledsparkapplications.yaml", sched);
    put("repo/README.md", "not a CRD\n");
    char *cmd = sf_asprintf(
        "set -e; cd '%s/repo'; git init -q .; git add .; git -c user.email=t@t -c user.name=t commit -qm one;"
        " git tag v1.0.0; sed -i 's/v1beta2/v1beta3/' charts/crds/sparkoperator.k8s.io_sparkapplications.yaml;"
        " git -c user.email=t@t -c user.name=t commit -qam two; git tag v1.1.0",
        dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    char *v1 = sf_asprintf("\"git::file://%s/repo//charts/crds?ref=v1.0.0\"", dir);
    char *svc = spark_service(v1);

    /* Not locked yet: the error is at the value, and says what to do. */
    fails(svc, "stack.yaml", 11, 11, "operator.crds: git source");
    ck_assert_ptr_nonnull(strstr(diags.items[diags.n - 1].summary, "is not in the lock file yet; run sparkform init"));

    char *path = sf_asprintf("%s/stack.yaml", dir);
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_int_eq(sf_modules_init(path, devnull, &diags), 0);
    char *lockp = sf_asprintf("%s/sparkform.lock.json", dir);
    json_t *lock = json_load_file(lockp, 0, NULL);
    ck_assert_ptr_nonnull(lock);
    char *key = sf_asprintf("git::file://%s/repo//charts/crds?ref=v1.0.0", dir);
    json_t *entry = json_object_get(json_object_get(lock, "modules"), key);
    ck_assert_ptr_nonnull(entry);
    ck_assert_str_eq(json_string_value(json_object_get(entry, "ref")), "v1.0.0");
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(entry, "commit"))), 40);
    char *commit = sf_xstrdup(json_string_value(json_object_get(entry, "commit")));
    json_decref(lock);

    /* Offline from here: one resource per CRD document, none of the own. */
    cmd = sf_asprintf("mv '%s/repo' '%s/repo.away'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    int rc;
    struct sf_config *c = load(svc, &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    const struct sf_resource_cfg *r = sf_config_find(c, UP "sparkapplications.sparkoperator.k8s.io]");
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(sf_config_find(c, UP "scheduledsparkapplications.sparkoperator.k8s.io]"));
    size_t upstream = 0;
    for (size_t i = 0; i < c->n_resources; i++) {
        const char *a = c->resources[i].address;
        ck_assert_msg(!strstr(a, "kubernetes_manifest.crd"), "own CRD %s with operator.crds set", a);
        upstream += strstr(a, "upstream_crds") != NULL;
    }
    ck_assert_uint_eq(upstream, 2);
    /* The operator starts once its kinds exist. */
    const struct sf_resource_cfg *ctl = sf_config_find(c, "module.operator.kubernetes_manifest.controller");
    ck_assert_ptr_nonnull(ctl);
    bool waits = false;
    for (size_t k = 0; k < ctl->n_depends_on; k++)
        waits = waits || !strcmp(ctl->depends_on[k].address, UP "sparkapplications.sparkoperator.k8s.io]");
    ck_assert_msg(waits, "the controller does not wait for the upstream CRDs");
    /* Its source is the locked tree's directory, relative to the
     * description's, and the plan step reads the CRD from it. */
    struct sf_scope sc = {0};
    json_t *v = sf_config_eval_resource(c, r, &sc, NULL, &diags);
    ck_assert_msg(v != NULL, "%s", first_error());
    char *want = sf_asprintf(".sparkform/modules/trees/%s/charts/crds", commit);
    ck_assert_str_eq(json_string_value(json_object_get(v, "source")), want);
    free(want);
    json_t *m = json_object_get(v, "manifest");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "metadata"), "name")),
                     "sparkapplications.sparkoperator.k8s.io");
    json_t *ver = json_array_get(json_object_get(json_object_get(m, "spec"), "versions"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(ver, "name")), "v1beta2");
    json_decref(v);
    sf_config_free(c);

    /* Without operator.crds, the own CRDs and no upstream ones. */
    char *own = spark_service("null");
    c = load(own, &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    ck_assert_ptr_nonnull(sf_config_find(c, "module.operator.kubernetes_manifest.crd[sparkapplications]"));
    ck_assert_ptr_null(sf_config_find(c, UP "sparkapplications.sparkoperator.k8s.io]"));
    ctl = sf_config_find(c, "module.operator.kubernetes_manifest.controller");
    waits = false;
    for (size_t k = 0; k < ctl->n_depends_on; k++)
        waits = waits || !strcmp(ctl->depends_on[k].address, "module.operator.kubernetes_manifest.crd[sparkapplications]");
    ck_assert_msg(waits, "the controller does not wait for the own CRDs");
    sf_config_free(c);
    free(own);

    /* Another ref without init: the error names the locked one, at the value. */
    char *v11 = sf_asprintf("\"git::file://%s/repo//charts/crds?ref=v1.1.0\"", dir);
    char *svc11 = spark_service(v11);
    fails(svc11, "stack.yaml", 11, 11, "does not match the lock file, which has");
    ck_assert_ptr_nonnull(strstr(diags.items[diags.n - 1].summary, "run sparkform init"));

    /* After init, the changed CRD is read from the new commit. */
    cmd = sf_asprintf("mv '%s/repo.away' '%s/repo'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    ck_assert_int_eq(sf_modules_init(path, devnull, &diags), 0);
    c = load(svc11, &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    v = sf_config_eval_resource(c, sf_config_find(c, UP "sparkapplications.sparkoperator.k8s.io]"), &sc, NULL,
                                &diags);
    ck_assert_ptr_nonnull(v);
    ver = json_array_get(json_object_get(json_object_get(json_object_get(v, "manifest"), "spec"), "versions"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(ver, "name")), "v1beta3");
    ck_assert_str_ne(json_string_value(json_object_get(v, "source")) + strlen(".sparkform/modules/trees/"),
                     commit);
    json_decref(v);
    sf_config_free(c);

    /* A value that is not a git source, at its line. */
    char *bad = spark_service("\"https://x\"");
    fails(bad, "stack.yaml", 11, 11, "operator.crds: \"https://x\" is not a git source");
    /* An expression: init needs the source written out. */
    char *expr = spark_service("\"${var.c}\"");
    put("stack.yaml", expr);
    size_t before = diags.n;
    ck_assert_int_eq(sf_modules_init(path, devnull, &diags), -1);
    ck_assert_uint_gt(diags.n, before);
    ck_assert_ptr_nonnull(strstr(diags.items[before].summary, "operator.crds: sparkform init fetches a git source "
                                                              "only when it is written literally"));
    ck_assert_int_eq(diags.items[before].line, 11);
    ck_assert_int_eq(diags.items[before].col, 11);

    /* Only a string is a git source. */
    put("gs/module.yaml", "apiVersion: sparkform/v1\nkind: Module\ninputs:\n  x: {type: list, format: git_source}\n");
    fails(HEAD "modules:\n  - {name: g, source: ./gs, inputs: {x: []}}\n", "gs/module.yaml", 4, 27,
          "format git_source is for inputs of type string");

    fclose(devnull);
    free(app);
    free(sched);
    free(v1);
    free(svc);
    free(v11);
    free(svc11);
    free(bad);
    free(expr);
    free(key);
    free(commit);
    free(lockp);
    free(path);
}
END_TEST

/* A directory source outside modules: every YAML file of it, sorted, one
 * resource per document; a key in two files is an error naming both. */
/* depends_on a resource that is off (when: false) waits for nothing; a
 * key that names no instance of one that is on is still an error. */
START_TEST(test_depends_on_off)
{
    int rc;
    struct sf_config *c = load(HEAD "resources:\n"
                                    "  - {type: local_file, name: a, when: false, with: {path: a, content: x}}\n"
                                    "  - {type: local_file, name: b, depends_on: [local_file.a], with: {path: b, content: x}}\n",
                               &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    ck_assert_uint_eq(sf_config_find(c, "local_file.b")->n_depends_on, 0);
    sf_config_free(c);
    fails(HEAD "resources:\n"
               "  - {type: local_file, name: a, for_each: [y], with: {path: a, content: x}}\n"
               "  - {type: local_file, name: b, depends_on: [\"local_file.a[x]\"], with: {path: b, content: x}}\n",
          "stack.yaml", 6, 46, "depends_on: unknown resource local_file.a[x]");
}
END_TEST

START_TEST(test_manifest_directory)
{
    put("objs/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: x}\n---\n"
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n");
    put("objs/a.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n");
    put("objs/notes.txt", "apiVersion: v1\nkind: Namespace\nmetadata: {name: ignored}\n");
    put("objs/sub/d.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: nested}\n");
    int rc;
    struct sf_config *c = load(HEAD "resources:\n  - {type: kubernetes_manifest, name: o, with: {source: ./objs}}\n", &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    ck_assert_uint_eq(c->n_resources, 3);
    ck_assert_str_eq(c->resources[0].address, "kubernetes_manifest.o[Namespace/x]");
    ck_assert_str_eq(c->resources[1].address, "kubernetes_manifest.o[ConfigMap/x/b]");
    ck_assert_str_eq(c->resources[2].address, "kubernetes_manifest.o[ConfigMap/x/c]");
    struct sf_scope sc = {0};
    json_t *v = sf_config_eval_resource(c, &c->resources[2], &sc, NULL, &diags);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(v, "manifest"), "metadata"), "name")),
                     "c");
    json_decref(v);
    sf_config_free(c);

    put("objs/c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: x}\n");
    fails(HEAD "resources:\n  - {type: kubernetes_manifest, name: o, with: {source: ./objs}}\n", "objs/c.yaml", 1, 1,
          "ConfigMap/x/b appears twice in the source directory");
    ck_assert_ptr_nonnull(strstr(diags.items[diags.n - 1].summary, "objs/b.yaml and in "));

    /* In a module, a source from an input is read when it is expanded; one
     * from a resource's attribute is not known then. */
    put("m/module.yaml", "apiVersion: sparkform/v1\nkind: Module\ninputs:\n  dir: {type: string}\n"
                         "resources:\n  - {type: kubernetes_manifest, name: o, with: {source: \"${input.dir}\"}}\n");
    char *rm = sf_asprintf("rm '%s/objs/c.yaml'", dir);
    ck_assert_int_eq(system(rm), 0);
    free(rm);
    c = load(HEAD "modules:\n  - {name: m, source: ./m, inputs: {dir: ../objs}}\n", &rc);
    ck_assert_msg(rc == 0, "%s", first_error());
    ck_assert_ptr_nonnull(sf_config_find(c, "module.m.kubernetes_manifest.o[ConfigMap/x/c]"));
    sf_config_free(c);
    fails(HEAD "resources:\n  - {type: local_file, name: f, with: {path: objs, content: x}}\n"
               "  - {type: kubernetes_manifest, name: o, with: {source: \"${local_file.f.path}\"}}\n",
          "stack.yaml", 6, 57, "source must be known before anything is applied");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("modules");
    TCase *tc = tcase_create("modules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_addresses_and_nesting);
    tcase_add_test(tc, test_for_each_forms);
    tcase_add_test(tc, test_field_sensitivity);
    tcase_add_test(tc, test_input_messages);
    tcase_add_test(tc, test_git_source_forms);
    tcase_add_test(tc, test_git_source);
    tcase_add_test(tc, test_operator_crds_git);
    tcase_add_test(tc, test_manifest_directory);
    tcase_add_test(tc, test_depends_on_off);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

/*
 * Unit tests for the patch algebra of localcloud's Kubernetes API
 * (localcloud/k8s_patch.c): the examples of RFC 7386 and RFC 6902, the
 * strategic merge patches kubectl's client-side apply sends, FieldsV1 sets,
 * and server-side apply's ownership (managedFields, conflicts, force,
 * removal of fields a manager stops applying) and update tracking.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_patch.h"
#include "util.h"

#define T0 "2025-01-01T00:00:00Z"
#define T1 "2025-01-02T00:00:00Z"
#define T2 "2025-01-03T00:00:00Z"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    ck_assert_msg(v != NULL, "bad test JSON (%s): %s", e.text, text);
    return v;
}

/* Compares got with the JSON text want, showing both when they differ. */
static void assert_json(const json_t *got, const char *want)
{
    json_t *w = J(want);
    char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                  : sf_xstrdup("(null)");
    char *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    bool eq = got && json_equal((json_t *)got, w);
    json_decref(w);
    if (!eq)
        ck_abort_msg("got  %s\nwant %s", g, ws);
    free(g);
    free(ws);
}

/* The value at a dotted path of object members ("metadata.managedFields"). */
static json_t *at(const json_t *v, const char *path)
{
    char *p = sf_xstrdup(path), *save = NULL;
    json_t *cur = (json_t *)v;
    for (char *t = strtok_r(p, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, t);
    free(p);
    return cur;
}

/* ---- RFC 7386 ---------------------------------------------------------- */

START_TEST(test_merge_patch_rfc7386)
{
    /* RFC 7386 appendix A, every row. */
    static const char *const cases[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"a\":\"foo\"}", "null", "null"},
        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *t = J(cases[i][0]), *p = J(cases[i][1]), *t_before = json_deep_copy(t);
        json_t *r = lc_k8s_merge_patch(t, p);
        assert_json(r, cases[i][2]);
        ck_assert(json_equal(t, t_before)); /* the target is left alone */
        json_decref(r);
        json_decref(t);
        json_decref(p);
        json_decref(t_before);
    }

    /* The example of RFC 7386 section 3. */
    json_t *t = J("{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":\"Doe\"},"
                  "\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}");
    json_t *p = J("{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\","
                  "\"author\":{\"familyName\":null},\"tags\":[\"example\"]}");
    json_t *r = lc_k8s_merge_patch(t, p);
    assert_json(r, "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
                   "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}");
    json_decref(r);
    json_decref(t);
    json_decref(p);
}
END_TEST

/* ---- RFC 6902 ---------------------------------------------------------- */

/* Applies ops to doc; want is the result, or NULL when the patch must fail
 * with the message want_err. */
static void check_json_patch(const char *doc, const char *ops, const char *want,
                             const char *want_err)
{
    json_t *d = J(doc), *o = J(ops), *before = json_deep_copy(d);
    char err[256] = "";
    json_t *r = lc_k8s_json_patch(d, o, err, sizeof err);
    if (want) {
        ck_assert_msg(r != NULL, "patch %s failed: %s", ops, err);
        assert_json(r, want);
    } else {
        ck_assert_msg(r == NULL, "patch %s should fail", ops);
        ck_assert_str_eq(err, want_err);
    }
    ck_assert(json_equal(d, before));
    json_decref(r);
    json_decref(d);
    json_decref(o);
    json_decref(before);
}

START_TEST(test_json_patch_rfc6902)
{
    /* RFC 6902 appendix A. */
    check_json_patch("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
                     "{\"baz\":\"qux\",\"foo\":\"bar\"}", NULL); /* A.1 */
    check_json_patch("{\"foo\":[\"bar\",\"baz\"]}",
                     "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
                     "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", NULL); /* A.2 */
    check_json_patch("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
                     "{\"foo\":\"bar\"}", NULL); /* A.3 */
    check_json_patch("{\"foo\":[\"bar\",\"qux\",\"baz\"]}",
                     "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]", "{\"foo\":[\"bar\",\"baz\"]}",
                     NULL); /* A.4 */
    check_json_patch("{\"baz\":\"qux\",\"foo\":\"bar\"}",
                     "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
                     "{\"baz\":\"boo\",\"foo\":\"bar\"}", NULL); /* A.5 */
    check_json_patch("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
                     "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
                     "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}",
                     NULL); /* A.6 */
    check_json_patch("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
                     "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
                     "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}", NULL); /* A.7 */
    check_json_patch("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
                     "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},"
                     "{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
                     "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}", NULL); /* A.8 */
    check_json_patch("{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]",
                     NULL, "json patch: operation 0 (test /baz): test failed"); /* A.9 */
    check_json_patch("{\"foo\":\"bar\"}",
                     "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
                     "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}", NULL); /* A.10 */
    check_json_patch("{\"foo\":\"bar\"}",
                     "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
                     "{\"foo\":\"bar\",\"baz\":\"qux\"}", NULL); /* A.11 */
    check_json_patch("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]",
                     NULL, "json patch: operation 0 (add /baz/bat): path not found"); /* A.12 */
    check_json_patch("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]",
                     "{\"/\":9,\"~1\":10}", NULL); /* A.14 */
    check_json_patch("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]",
                     NULL, "json patch: operation 0 (test /~01): test failed"); /* A.15 */
    check_json_patch("{\"foo\":[\"bar\"]}",
                     "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
                     "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}", NULL); /* A.16 */
}
END_TEST

START_TEST(test_json_patch_more)
{
    /* copy, escapes, whole-document replace, numbers compared by value */
    check_json_patch("{\"a/b\":{\"c\":[1]}}",
                     "[{\"op\":\"copy\",\"from\":\"/a~1b/c\",\"path\":\"/d\"},"
                     "{\"op\":\"add\",\"path\":\"/d/0\",\"value\":0},"
                     "{\"op\":\"test\",\"path\":\"/a~1b/c/0\",\"value\":1.0}]",
                     "{\"a/b\":{\"c\":[1]},\"d\":[0,1]}", NULL);
    check_json_patch("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]", "[1]", NULL);
    check_json_patch("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]",
                     "{\"a\":{\"b\":1}}", NULL);
    /* kubectl's JSON patches on labels with "/" in their names */
    check_json_patch("{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"x\"}}}",
                     "[{\"op\":\"remove\",\"path\":\"/metadata/labels/app.kubernetes.io~1name\"}]",
                     "{\"metadata\":{\"labels\":{}}}", NULL);

    /* errors name the operation's index and path; earlier ones applied do
     * not leak into the target */
    check_json_patch("{\"a\":[1,2]}",
                     "[{\"op\":\"add\",\"path\":\"/b\",\"value\":1},"
                     "{\"op\":\"replace\",\"path\":\"/a/2\",\"value\":3}]",
                     NULL, "json patch: operation 1 (replace /a/2): path not found");
    check_json_patch("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/3\",\"value\":3}]", NULL,
                     "json patch: operation 0 (add /a/3): array index out of range");
    check_json_patch("{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/a/01\"}]", NULL,
                     "json patch: operation 0 (remove /a/01): path not found");
    check_json_patch("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/b\"}]", NULL,
                     "json patch: operation 0 (remove /b): path not found");
    check_json_patch("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]",
                     NULL,
                     "json patch: operation 0 (move /a/b/c): cannot move a value into one of its "
                     "children");
    check_json_patch("{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/x\",\"path\":\"/y\"}]", NULL,
                     "json patch: operation 0 (copy /y): \"from\" path not found");
    check_json_patch("{\"a\":1}", "[{\"op\":\"merge\",\"path\":\"/a\"}]", NULL,
                     "json patch: operation 0 (merge /a): unknown operation");
    check_json_patch("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a\"}]", NULL,
                     "json patch: operation 0 (add /a): missing \"value\"");
    check_json_patch("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", NULL,
                     "json patch: operation 0 (add a): malformed path");
    check_json_patch("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/~2\",\"value\":1}]", NULL,
                     "json patch: operation 0 (test /~2): malformed path");
    check_json_patch("{\"a\":1}", "[{\"path\":\"/a\"}]", NULL,
                     "json patch: operation 0: missing \"op\"");
    check_json_patch("{\"a\":1}", "{\"op\":\"add\"}", NULL,
                     "json patch: the patch is not a JSON array");
}
END_TEST

/* ---- list keys ----------------------------------------------------------- */

static void check_keys(const char *path, const char *want /* "a,b" or NULL */)
{
    const char *const *k = lc_k8s_list_keys(path);
    if (!want) {
        ck_assert_msg(k == NULL, "%s should be atomic", path);
        return;
    }
    ck_assert_msg(k != NULL, "%s should be keyed", path);
    struct sf_buf b = {0};
    for (size_t i = 0; k[i]; i++)
        sf_buf_printf(&b, "%s%s", i ? "," : "", k[i]);
    char *got = sf_buf_take(&b);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_list_keys)
{
    check_keys("spec.containers", "name");
    check_keys("spec.template.spec.containers", "name");
    check_keys("spec.jobTemplate.spec.template.spec.initContainers", "name");
    check_keys("spec.template.spec.ephemeralContainers", "name");
    check_keys("spec.template.spec.containers[].ports", "containerPort,protocol");
    check_keys("spec.template.spec.initContainers[].env", "name");
    check_keys("spec.containers[].volumeMounts", "mountPath");
    check_keys("spec.template.spec.volumes", "name");
    check_keys("spec.template.spec.imagePullSecrets", "name");
    check_keys("spec.template.spec.hostAliases", "ip");
    check_keys("spec.template.spec.topologySpreadConstraints", "topologyKey,whenUnsatisfiable");
    check_keys("spec.ports", "port,protocol");
    check_keys("metadata.ownerReferences", "uid");
    check_keys("spec.template.metadata.ownerReferences", "uid");
    check_keys("status.conditions", "type");
    check_keys("spec.template.spec.containers[].args", NULL);
    check_keys("spec.template.spec.tolerations", NULL);
    check_keys("metadata.finalizers", NULL);
    check_keys("containers", NULL);
    check_keys("spec.template.spec.containers[].ports[].name", NULL);
}
END_TEST

/* ---- strategic merge patch ----------------------------------------------- */

#define DEPLOY_LIVE                                                                                \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","                                      \
    "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"finalizers\":[\"a\",\"b\",\"c\"]," \
    "\"annotations\":{\"note\":\"x\"}},"                                                           \
    "\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\","                          \
    "\"rollingUpdate\":{\"maxSurge\":1}},"                                                         \
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"front\"}},"              \
    "\"spec\":{\"containers\":["                                                                   \
    "{\"name\":\"app\",\"image\":\"nginx:1.25\",\"args\":[\"-a\",\"-b\"],"                         \
    "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"                   \
    "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]},"                \
    "{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}}}"

/* Strategic-merges patch into DEPLOY_LIVE and checks the value at path
 * (want NULL: that there is none). */
static void check_smp(const char *patch, const char *path, const char *want)
{
    json_t *t = J(DEPLOY_LIVE), *p = J(patch), *before = json_deep_copy(t);
    char err[256] = "";
    json_t *r = lc_k8s_strategic_merge(t, p, err, sizeof err);
    ck_assert_msg(r != NULL, "patch failed: %s", err);
    if (want)
        assert_json(at(r, path), want);
    else
        ck_assert_msg(at(r, path) == NULL, "%s should be gone", path);
    ck_assert(json_equal(t, before));
    json_decref(r);
    json_decref(t);
    json_decref(p);
    json_decref(before);
}

START_TEST(test_smp_client_side_apply)
{
    /* What kubectl apply (client-side) sends when the image changes. */
    json_t *t = J(DEPLOY_LIVE);
    json_t *p = J("{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
                  "\"{}\\n\"}},\"spec\":{\"template\":{\"spec\":{"
                  "\"$setElementOrder/containers\":[{\"name\":\"app\"},{\"name\":\"sidecar\"}],"
                  "\"containers\":[{\"image\":\"nginx:1.26\",\"name\":\"app\"}]}}}}");
    char err[256] = "";
    json_t *r = lc_k8s_strategic_merge(t, p, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    json_t *want = J(DEPLOY_LIVE);
    json_object_set_new(at(want, "metadata.annotations"),
                        "kubectl.kubernetes.io/last-applied-configuration", json_string("{}\n"));
    json_object_set_new(json_array_get(at(want, "spec.template.spec.containers"), 0), "image",
                        json_string("nginx:1.26"));
    ck_assert(json_equal(r, want));
    json_decref(r);
    json_decref(want);
    json_decref(p);
    json_decref(t);

    /* $setElementOrder puts the listed elements first, in that order; a new
     * container is merged in, the existing ones keep their other fields. */
    check_smp("{\"spec\":{\"template\":{\"spec\":{"
              "\"$setElementOrder/containers\":[{\"name\":\"sidecar\"},{\"name\":\"new\"}],"
              "\"containers\":[{\"name\":\"new\",\"image\":\"redis\"}]}}}}",
              "spec.template.spec.containers",
              "[{\"name\":\"sidecar\",\"image\":\"busybox\"},{\"name\":\"new\",\"image\":\"redis\"},"
              "{\"name\":\"app\",\"image\":\"nginx:1.25\",\"args\":[\"-a\",\"-b\"],"
              "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"
              "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]}]");

    /* env merged by name inside a container merged by name; a port without
     * protocol meets the stored TCP one */
    check_smp("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
              "\"env\":[{\"name\":\"B\",\"value\":\"3\"},{\"name\":\"C\",\"value\":\"4\"}],"
              "\"ports\":[{\"containerPort\":80,\"name\":\"web\"}]}]}}}}",
              "spec.template.spec.containers",
              "[{\"name\":\"app\",\"image\":\"nginx:1.25\",\"args\":[\"-a\",\"-b\"],"
              "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"web\"}],"
              "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"3\"},"
              "{\"name\":\"C\",\"value\":\"4\"}]},{\"name\":\"sidecar\",\"image\":\"busybox\"}]");
}
END_TEST

START_TEST(test_smp_directives)
{
    /* $patch: delete in a list element removes the element with that key */
    check_smp("{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"app\"}],"
              "\"containers\":[{\"$patch\":\"delete\",\"name\":\"sidecar\"},"
              "{\"name\":\"app\",\"env\":[{\"$patch\":\"delete\",\"name\":\"A\"}]}]}}}}",
              "spec.template.spec.containers",
              "[{\"name\":\"app\",\"image\":\"nginx:1.25\",\"args\":[\"-a\",\"-b\"],"
              "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"
              "\"env\":[{\"name\":\"B\",\"value\":\"2\"}]}]");
    check_smp("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"$patch\":\"delete\","
              "\"name\":\"sidecar\"}]}}}}",
              "spec.template.spec",
              "{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.25\",\"args\":[\"-a\",\"-b\"],"
              "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"
              "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]}]}");

    /* a primitive list has no merge key: replaced */
    check_smp("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"sidecar\","
              "\"args\":[\"-c\"]}]}}}}",
              "spec.template.spec.containers",
              "[{\"name\":\"app\",\"image\":\"nginx:1.25\",\"args\":[\"-a\",\"-b\"],"
              "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"
              "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]},"
              "{\"name\":\"sidecar\",\"image\":\"busybox\",\"args\":[\"-c\"]}]");
    check_smp("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
              "\"args\":[\"-z\"]}]}}}}",
              "spec.template.spec.containers", /* only args changes */
              "[{\"name\":\"app\",\"image\":\"nginx:1.25\",\"args\":[\"-z\"],"
              "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"
              "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]},"
              "{\"name\":\"sidecar\",\"image\":\"busybox\"}]");

    /* $deleteFromPrimitiveList and $setElementOrder on a primitive list */
    check_smp("{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
              "metadata.finalizers", "[\"a\",\"c\"]");
    check_smp("{\"metadata\":{\"$setElementOrder/finalizers\":[\"c\",\"a\"]}}",
              "metadata.finalizers", "[\"c\",\"a\",\"b\"]");

    /* $patch: replace on a map, in a list */
    check_smp("{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"$patch\":\"replace\","
              "\"app\":\"api\"}}}}}",
              "spec.template.metadata", "{\"labels\":{\"app\":\"api\"}}");
    check_smp("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"$patch\":\"replace\"},"
              "{\"name\":\"only\",\"image\":\"i\"}]}}}}",
              "spec.template.spec.containers", "[{\"name\":\"only\",\"image\":\"i\"}]");

    /* $retainKeys: what kubectl sends when a Deployment's strategy type
     * changes (rollingUpdate must go) */
    check_smp("{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}",
              "spec.strategy", "{\"type\":\"Recreate\"}");

    /* null deletes; "$patch": "delete" on a map member deletes it */
    check_smp("{\"metadata\":{\"annotations\":null},\"spec\":{\"strategy\":{\"$patch\":\"delete\"}}}",
              "metadata.annotations", NULL);
    check_smp("{\"spec\":{\"strategy\":{\"$patch\":\"delete\"}}}", "spec.strategy", NULL);

    /* a new element carrying directives lands without them */
    check_smp("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"n\","
              "\"$setElementOrder/env\":[{\"name\":\"X\"}],\"env\":[{\"name\":\"X\",\"value\":\"1\"}],"
              "\"resources\":{\"$patch\":\"replace\",\"limits\":{\"cpu\":\"1\"}}}]}}}}",
              "spec.template.spec.containers",
              "[{\"name\":\"app\",\"image\":\"nginx:1.25\",\"args\":[\"-a\",\"-b\"],"
              "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\",\"name\":\"http\"}],"
              "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]},"
              "{\"name\":\"sidecar\",\"image\":\"busybox\"},"
              "{\"name\":\"n\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}],"
              "\"resources\":{\"limits\":{\"cpu\":\"1\"}}}]");
}
END_TEST

START_TEST(test_smp_errors)
{
    json_t *t = J(DEPLOY_LIVE);
    static const char *const bad[][2] = {
        {"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}",
         "strategic merge patch: spec.template.spec.containers: element 0 does not contain "
         "declared merge key: name"},
        {"{\"spec\":{\"$patch\":\"explode\"}}",
         "strategic merge patch: spec: unknown $patch directive"},
        {"{\"spec\":{\"$retainKeys\":\"type\"}}",
         "strategic merge patch: spec: $retainKeys is not a list"},
        {"{\"metadata\":{\"$setElementOrder/finalizers\":{}}}",
         "strategic merge patch: metadata: $setElementOrder/finalizers is not a list"},
        {"[1]", "strategic merge patch: the patch is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *p = J(bad[i][0]);
        char err[256] = "";
        json_t *r = lc_k8s_strategic_merge(t, p, err, sizeof err);
        ck_assert_msg(r == NULL, "%s should fail", bad[i][0]);
        ck_assert_str_eq(err, bad[i][1]);
        json_decref(p);
    }
    json_decref(t);
}
END_TEST

/* ---- field sets ---------------------------------------------------------- */

START_TEST(test_fieldset_deployment)
{
    json_t *d = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                  "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u-1\","
                  "\"resourceVersion\":\"7\",\"generation\":2,\"creationTimestamp\":\"" T0 "\","
                  "\"managedFields\":[],\"labels\":{\"app\":\"web\"}},"
                  "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
                  "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
                  "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx\","
                  "\"args\":[\"-v\"],\"resources\":{},"
                  "\"ports\":[{\"containerPort\":80},{\"containerPort\":53,\"protocol\":\"UDP\"}]}]}}},"
                  "\"status\":{\"replicas\":2}}");
    json_t *fs = lc_k8s_fieldset(d);
    assert_json(fs,
                "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},"
                "\"f:spec\":{\"f:replicas\":{},\"f:selector\":{},"
                "\"f:template\":{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},"
                "\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},"
                "\"f:args\":{},\"f:image\":{},\"f:name\":{},\"f:resources\":{},"
                "\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":"
                "{\".\":{},\"f:containerPort\":{}},"
                "\"k:{\\\"containerPort\\\":53,\\\"protocol\\\":\\\"UDP\\\"}\":"
                "{\".\":{},\"f:containerPort\":{},\"f:protocol\":{}}}}}}}},"
                "\"f:status\":{\"f:replicas\":{}}}");
    /* written in Kubernetes' order: "." first, members sorted */
    char *s = json_dumps(at(fs, "f:spec.f:template.f:spec.f:containers"), JSON_COMPACT);
    ck_assert_str_eq(s, "{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:args\":{},\"f:image\":{},"
                        "\"f:name\":{},\"f:ports\":{\"k:{\\\"containerPort\\\":53,\\\"protocol\\\":"
                        "\\\"UDP\\\"}\":{\".\":{},\"f:containerPort\":{},\"f:protocol\":{}},"
                        "\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},"
                        "\"f:containerPort\":{}}},\"f:resources\":{}}}");
    free(s);
    json_decref(fs);
    json_decref(d);

    /* only identity and server-owned metadata: nothing owned */
    d = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}");
    fs = lc_k8s_fieldset(d);
    assert_json(fs, "{}");
    json_decref(fs);
    json_decref(d);
}
END_TEST

/* ---- server-side apply --------------------------------------------------- */

#define APPLY_A                                                                                    \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","                                      \
    "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}},"    \
    "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":"                            \
    "[{\"name\":\"app\",\"image\":\"nginx:1.25\"}]}}}}"

#define FIELDS_A                                                                                   \
    "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:spec\":{\"f:replicas\":{},"               \
    "\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":"              \
    "{\".\":{},\"f:image\":{},\"f:name\":{}}}}}}}"

/* Applies the JSON text cfg by manager onto live, expecting success. */
static json_t *apply_ok(const json_t *live, const char *cfg, const char *manager, bool force,
                        const char *now)
{
    json_t *a = J(cfg), *conflicts = NULL;
    char err[256] = "";
    json_t *r = lc_k8s_apply(live, a, manager, force, "apps/v1", now, &conflicts, err, sizeof err);
    ck_assert_msg(r != NULL, "apply by %s failed: %s", manager, err);
    ck_assert(conflicts == NULL);
    json_decref(a);
    return r;
}

/* The fieldsV1 of manager's entry with that operation, or NULL. */
static json_t *fields_of(const json_t *obj, const char *manager, const char *op)
{
    json_t *mf = at(obj, "metadata.managedFields");
    for (size_t i = 0; i < json_array_size(mf); i++) {
        json_t *e = json_array_get(mf, i);
        if (!strcmp(json_string_value(json_object_get(e, "manager")), manager) &&
            !strcmp(json_string_value(json_object_get(e, "operation")), op))
            return json_object_get(e, "fieldsV1");
    }
    return NULL;
}

START_TEST(test_apply_create)
{
    json_t *r = apply_ok(NULL, APPLY_A, "kubectl", false, T0);
    json_t *want = J(APPLY_A);
    json_object_set_new(at(want, "metadata"), "managedFields",
                        json_pack("[{s:s,s:s,s:s,s:s,s:s,s:o}]", "manager", "kubectl", "operation",
                                  "Apply", "apiVersion", "apps/v1", "time", T0, "fieldsType",
                                  "FieldsV1", "fieldsV1", J(FIELDS_A)));
    ck_assert(json_equal(r, want));
    /* exactly as Kubernetes writes it, member order included */
    char *s = json_dumps(json_array_get(at(r, "metadata.managedFields"), 0), JSON_COMPACT);
    ck_assert_str_eq(
        s, "{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"apps/v1\","
           "\"time\":\"" T0 "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":"
           "{\"f:app\":{}}},\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":"
           "{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{}}}}}}}}");
    free(s);
    json_decref(want);

    /* the same config again changes nothing, not even the entry's time */
    json_t *r2 = apply_ok(r, APPLY_A, "kubectl", false, T0);
    ck_assert(json_equal(r2, r));
    json_t *r3 = apply_ok(r, APPLY_A, "kubectl", false, T1);
    ck_assert(json_equal(r3, r));
    /* a real change stamps the time */
    json_t *r4 = apply_ok(r, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                             "\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
                             "\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":"
                             "[{\"name\":\"app\",\"image\":\"nginx:1.25\"}]}}}}",
                          "kubectl", false, T1);
    ck_assert_int_eq(json_integer_value(at(r4, "spec.replicas")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(at(r4, "metadata.managedFields"), 0), "time")),
                     T1);
    json_decref(r2);
    json_decref(r3);
    json_decref(r4);
    json_decref(r);
}
END_TEST

/* Live state on top of APPLY_A by "a" with server-owned metadata added, the
 * way the caller stores it. */
static json_t *live_a(void)
{
    json_t *r = apply_ok(NULL, APPLY_A, "a", false, T0);
    json_object_set_new(at(r, "metadata"), "uid", json_string("u-1"));
    json_object_set_new(at(r, "metadata"), "resourceVersion", json_string("10"));
    return r;
}

START_TEST(test_apply_conflicts)
{
    json_t *live = live_a(), *before = json_deep_copy(live);
    json_t *a = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
                  "\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":"
                  "[{\"name\":\"app\",\"image\":\"nginx:1.27\"}]}}}}");
    json_t *conflicts = NULL;
    char err[256] = "";
    json_t *r = lc_k8s_apply(live, a, "b", false, "apps/v1", T1, &conflicts, err, sizeof err);
    ck_assert(r == NULL);
    ck_assert(conflicts != NULL);
    assert_json(conflicts, "[{\"manager\":\"a\",\"field\":\".spec.replicas\"},"
                           "{\"manager\":\"a\",\"field\":"
                           "\".spec.template.spec.containers[name=\\\"app\\\"].image\"}]");
    ck_assert(json_equal(live, before));
    json_decref(conflicts);

    /* force: b takes the fields, a loses them */
    conflicts = NULL;
    r = lc_k8s_apply(live, a, "b", true, "apps/v1", T1, &conflicts, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    ck_assert(conflicts == NULL);
    ck_assert_int_eq(json_integer_value(at(r, "spec.replicas")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(at(r, "spec.template.spec.containers"), 0), "image")),
                     "nginx:1.27");
    ck_assert_str_eq(json_string_value(at(r, "metadata.uid")), "u-1");
    assert_json(at(r, "metadata.managedFields"),
                "[{\"manager\":\"a\",\"operation\":\"Apply\",\"apiVersion\":\"apps/v1\","
                "\"time\":\"" T0 "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
                "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:spec\":{\"f:template\":{\"f:spec\":"
                "{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:name\":{}}}}}}}},"
                "{\"manager\":\"b\",\"operation\":\"Apply\",\"apiVersion\":\"apps/v1\","
                "\"time\":\"" T1 "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
                "{\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":"
                "{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:image\":{},"
                "\"f:name\":{}}}}}}}}]");
    ck_assert(json_equal(live, before));

    /* now a is the one in conflict */
    json_t *again = J(APPLY_A);
    conflicts = NULL;
    json_t *r2 = lc_k8s_apply(r, again, "a", false, "apps/v1", T2, &conflicts, err, sizeof err);
    ck_assert(r2 == NULL);
    assert_json(conflicts, "[{\"manager\":\"b\",\"field\":\".spec.replicas\"},"
                           "{\"manager\":\"b\",\"field\":"
                           "\".spec.template.spec.containers[name=\\\"app\\\"].image\"}]");
    json_decref(conflicts);
    json_decref(again);
    json_decref(r);
    json_decref(a);
    json_decref(live);
    json_decref(before);
}
END_TEST

START_TEST(test_apply_shared_and_removal)
{
    json_t *live = live_a();
    /* b applies replicas with the value it has: no conflict, both own it */
    json_t *r = apply_ok(live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                               "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":2}}",
                         "b", false, T1);
    assert_json(fields_of(r, "a", "Apply"), FIELDS_A);
    assert_json(fields_of(r, "b", "Apply"), "{\"f:spec\":{\"f:replicas\":{}}}");
    json_t *expect = json_deep_copy(live);
    json_object_del(at(expect, "metadata"), "managedFields");
    json_t *got = json_deep_copy(r);
    json_object_del(at(got, "metadata"), "managedFields");
    ck_assert(json_equal(got, expect));
    json_decref(got);
    json_decref(expect);

    /* a stops applying replicas (b still owns it: kept) and the labels
     * (a alone owned them: removed, the emptied map with them), and adds
     * a sidecar */
    json_t *r2 = apply_ok(r, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                             "\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{\"spec\":"
                             "{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.25\"},"
                             "{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}}}",
                          "a", false, T2);
    ck_assert_int_eq(json_integer_value(at(r2, "spec.replicas")), 2);
    ck_assert(at(r2, "metadata.labels") == NULL);
    ck_assert_str_eq(json_string_value(at(r2, "metadata.uid")), "u-1");
    ck_assert_uint_eq(json_array_size(at(r2, "spec.template.spec.containers")), 2);
    assert_json(fields_of(r2, "a", "Apply"),
                "{\"f:spec\":{\"f:template\":{\"f:spec\":{\"f:containers\":{"
                "\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{}},"
                "\"k:{\\\"name\\\":\\\"sidecar\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{}}}}}}}");
    assert_json(fields_of(r2, "b", "Apply"), "{\"f:spec\":{\"f:replicas\":{}}}");
    /* managedFields keep their order: a's entry stays first */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(at(r2, "metadata.managedFields"), 0), "manager")),
                     "a");

    /* a drops the sidecar it alone owned: the element goes */
    json_t *r3 = apply_ok(r2, APPLY_A, "a", false, T2);
    assert_json(at(r3, "spec.template.spec.containers"),
                "[{\"name\":\"app\",\"image\":\"nginx:1.25\"}]");
    assert_json(at(r3, "metadata.labels"), "{\"app\":\"web\"}");

    /* b drops replicas, a does not own it any more: removed */
    json_t *r4 = apply_ok(r3, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                              "\"metadata\":{\"name\":\"web\"},\"spec\":{\"paused\":true}}",
                          "b", false, T2);
    ck_assert_int_eq(json_integer_value(at(r4, "spec.replicas")), 2); /* a applied it again in r3 */
    json_t *r5 = apply_ok(r4, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                              "\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{\"spec\":"
                              "{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.25\"}]}}}}",
                          "a", false, T2);
    ck_assert(at(r5, "spec.replicas") == NULL);
    ck_assert(json_is_true(at(r5, "spec.paused")));

    /* an element another manager owns a field of stays when its applier
     * lets it go */
    json_t *r6 = apply_ok(r5, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                              "\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{\"spec\":"
                              "{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.25\"}]}}}}",
                          "c", false, T2);
    json_t *r7 = apply_ok(r6, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                              "\"metadata\":{\"name\":\"web\"},\"spec\":{\"paused\":true}}",
                          "a", false, T2);
    assert_json(at(r7, "spec.template.spec.containers"),
                "[{\"name\":\"app\",\"image\":\"nginx:1.25\"}]");
    json_t *r8 = apply_ok(r7, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                              "\"metadata\":{\"name\":\"web\"}}",
                          "c", false, T2);
    assert_json(at(r8, "spec.template.spec.containers"), "[]");
    ck_assert(fields_of(r8, "c", "Apply") == NULL); /* an empty entry is dropped */

    json_decref(r);
    json_decref(r2);
    json_decref(r3);
    json_decref(r4);
    json_decref(r5);
    json_decref(r6);
    json_decref(r7);
    json_decref(r8);
    json_decref(live);
}
END_TEST

START_TEST(test_apply_list_order_and_keys)
{
    json_t *live = J("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
                     "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},"
                     "{\"name\":\"b\",\"image\":\"2\",\"ports\":[{\"containerPort\":80,"
                     "\"protocol\":\"TCP\"}]}],\"nodeSelector\":{\"x\":\"1\",\"y\":\"2\"}}}");
    json_t *r = apply_ok(live, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
                               "\"spec\":{\"containers\":[{\"name\":\"b\",\"ports\":[{\"containerPort\":80,"
                               "\"name\":\"web\"}]},{\"name\":\"c\",\"image\":\"3\"}],"
                               "\"nodeSelector\":{\"z\":\"3\"}}}",
                         "m", false, T0);
    /* live-only elements keep their place, the port without protocol is
     * the TCP one, an atomic map is replaced whole */
    assert_json(at(r, "spec"),
                "{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},"
                "{\"name\":\"b\",\"image\":\"2\",\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\","
                "\"name\":\"web\"}]},{\"name\":\"c\",\"image\":\"3\"}],\"nodeSelector\":{\"z\":\"3\"}}");
    assert_json(fields_of(r, "m", "Apply"),
                "{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"b\\\"}\":{\".\":{},\"f:name\":{},"
                "\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},"
                "\"f:containerPort\":{},\"f:name\":{}}}},\"k:{\\\"name\\\":\\\"c\\\"}\":{\".\":{},"
                "\"f:image\":{},\"f:name\":{}}},\"f:nodeSelector\":{}}}");
    json_decref(r);
    json_decref(live);

    /* a list of scalars under a keyed list's name (a custom resource's
     * spec.ports) is atomic, for apply as for strategic merge */
    json_t *cr = J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Gate\",\"metadata\":{\"name\":\"g\"},"
                   "\"spec\":{\"ports\":[80,443]}}");
    r = apply_ok(cr, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Gate\",\"metadata\":{\"name\":\"g\"},"
                     "\"spec\":{\"ports\":[8080]}}",
                 "m", false, T0);
    assert_json(at(r, "spec"), "{\"ports\":[8080]}");
    assert_json(fields_of(r, "m", "Apply"), "{\"f:spec\":{\"f:ports\":{}}}");
    json_t *p = J("{\"spec\":{\"ports\":[1]}}");
    char err[256] = "";
    json_t *m = lc_k8s_strategic_merge(cr, p, err, sizeof err);
    assert_json(m, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Gate\",\"metadata\":{\"name\":\"g\"},"
                   "\"spec\":{\"ports\":[1]}}");
    json_decref(m);
    json_decref(p);
    json_decref(r);
    json_decref(cr);
}
END_TEST

START_TEST(test_apply_invalid)
{
    static const char *const bad[][2] = {
        {"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\"}}", "apiVersion must be set"},
        {"{\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"w\"}}", "kind must be set"},
        {"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{}}",
         "metadata.name must be set"},
        {"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\","
         "\"managedFields\":[]}}",
         "metadata.managedFields must be nil"},
        {"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\"},"
         "\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}",
         ".spec.template.spec.containers: element 0: associative list with keys has an element "
         "that omits key field \"name\""},
        {"[]", "the applied configuration is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *a = J(bad[i][0]), *conflicts = json_true();
        char err[256] = "";
        json_t *r = lc_k8s_apply(NULL, a, "m", false, "apps/v1", T0, &conflicts, err, sizeof err);
        ck_assert(r == NULL);
        ck_assert(conflicts == NULL);
        ck_assert_str_eq(err, bad[i][1]);
        json_decref(a);
    }
}
END_TEST

/* ---- update tracking ----------------------------------------------------- */

START_TEST(test_track_update)
{
    json_t *live = live_a();

    /* kubectl scale / edit changes replicas: the field moves to it */
    json_t *obj = json_deep_copy(live);
    json_object_set_new(at(obj, "spec"), "replicas", json_integer(5));
    json_object_set_new(at(obj, "spec"), "paused", json_false());
    lc_k8s_track_update(obj, live, "kubectl-edit", "apps/v1", NULL, T1);
    assert_json(at(obj, "metadata.managedFields"),
                "[{\"manager\":\"a\",\"operation\":\"Apply\",\"apiVersion\":\"apps/v1\","
                "\"time\":\"" T0 "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
                "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:spec\":{\"f:template\":{\"f:spec\":"
                "{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:image\":{},"
                "\"f:name\":{}}}}}}}},"
                "{\"manager\":\"kubectl-edit\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\","
                "\"time\":\"" T1 "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
                "{\"f:spec\":{\"f:paused\":{},\"f:replicas\":{}}}}]");

    /* a's apply now conflicts with the editor */
    json_t *a = J(APPLY_A), *conflicts = NULL;
    char err[256];
    ck_assert(lc_k8s_apply(obj, a, "a", false, "apps/v1", T2, &conflicts, err, sizeof err) == NULL);
    assert_json(conflicts, "[{\"manager\":\"kubectl-edit\",\"field\":\".spec.replicas\"}]");
    json_decref(conflicts);
    json_decref(a);

    /* a removal is taken from everybody; emptied entries go; the same
     * manager's entry grows */
    json_t *obj2 = json_deep_copy(obj);
    json_object_del(at(obj2, "metadata"), "labels");
    json_object_del(at(obj2, "spec"), "paused");
    json_object_set_new(at(obj2, "spec"), "minReadySeconds", json_integer(3));
    lc_k8s_track_update(obj2, obj, "kubectl-edit", "apps/v1", NULL, T2);
    assert_json(fields_of(obj2, "a", "Apply"),
                "{\"f:spec\":{\"f:template\":{\"f:spec\":{\"f:containers\":{"
                "\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{}}}}}}}");
    assert_json(fields_of(obj2, "kubectl-edit", "Update"),
                "{\"f:spec\":{\"f:minReadySeconds\":{},\"f:replicas\":{}}}");

    /* a write without managedFields keeps the stored ones; nothing changed:
     * nothing moves */
    json_t *obj3 = json_deep_copy(obj2);
    json_object_del(at(obj3, "metadata"), "managedFields");
    lc_k8s_track_update(obj3, obj2, "other", "apps/v1", NULL, T2);
    ck_assert(json_equal(obj3, obj2));

    /* the status subresource gets an entry of its own */
    json_t *obj4 = json_deep_copy(obj2);
    json_object_set_new(obj4, "status", json_pack("{s:i}", "readyReplicas", 5));
    lc_k8s_track_update(obj4, obj2, "kube-controller-manager", "apps/v1", "status", T2);
    json_t *last = json_array_get(at(obj4, "metadata.managedFields"), 2);
    assert_json(last, "{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
                      "\"apiVersion\":\"apps/v1\",\"time\":\"" T2 "\",\"fieldsType\":\"FieldsV1\","
                      "\"fieldsV1\":{\"f:status\":{\"f:readyReplicas\":{}}},\"subresource\":\"status\"}");

    /* create: everything goes to the creator */
    json_t *cm = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
                   "\"uid\":\"u\"},\"data\":{\"k\":\"v\"}}");
    lc_k8s_track_update(cm, NULL, "kubectl-create", "v1", NULL, T0);
    assert_json(at(cm, "metadata.managedFields"),
                "[{\"manager\":\"kubectl-create\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
                "\"time\":\"" T0 "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\"f:k\":{}}}}]");

    json_decref(cm);
    json_decref(obj4);
    json_decref(obj3);
    json_decref(obj2);
    json_decref(obj);
    json_decref(live);
}
END_TEST

static Suite *k8s_patch_suite(void)
{
    Suite *s = suite_create("k8s_patch");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_merge_patch_rfc7386);
    tcase_add_test(tc, test_json_patch_rfc6902);
    tcase_add_test(tc, test_json_patch_more);
    tcase_add_test(tc, test_list_keys);
    tcase_add_test(tc, test_smp_client_side_apply);
    tcase_add_test(tc, test_smp_directives);
    tcase_add_test(tc, test_smp_errors);
    tcase_add_test(tc, test_fieldset_deployment);
    tcase_add_test(tc, test_apply_create);
    tcase_add_test(tc, test_apply_conflicts);
    tcase_add_test(tc, test_apply_shared_and_removal);
    tcase_add_test(tc, test_apply_list_order_and_keys);
    tcase_add_test(tc, test_apply_invalid);
    tcase_add_test(tc, test_track_update);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(k8s_patch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

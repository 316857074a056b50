/*
 * kubernetes_config_map: a ConfigMap named by namespace and name, from
 * literal `data` (text) and `binary_data` (base64) and from `files`, key ->
 * a file relative to the description (code shipped to Spark jobs). The
 * plan step replaces files by their contents in data (bytes that are not
 * UTF-8 text in binary_data), so a changed file plans an update and the
 * plan shows what the cluster will get. Applied, read and deleted as dataobj.c does for
 * both kinds of data object.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "kube.h"
#include "util.h"

static const struct sf_attr attrs[] = {
    {"kubeconfig", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL,
     "the cluster's kubeconfig text (usually ${cloud_k8s_cluster.NAME.kubeconfig})"},
    {"kubeconfig_path", SF_STRING, SF_OPTIONAL, NULL,
     "a kubeconfig file, relative to the description (else the provider's)"},
    {"namespace", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"default\"", "the namespace"},
    {"name", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the ConfigMap's name"},
    {"labels", SF_MAP, SF_OPTIONAL, "{}", "metadata.labels"},
    {"annotations", SF_MAP, SF_OPTIONAL, "{}", "metadata.annotations"},
    {"data", SF_MAP, SF_OPTIONAL, "{}", "key -> text (with the files' contents after the plan)"},
    {"binary_data", SF_MAP, SF_OPTIONAL, "{}", "key -> base64 (bytes that are not text)"},
    {"files", SF_MAP, SF_OPTIONAL, NULL,
     "key -> a file relative to the description, whose contents the plan puts into data (or "
     "binary_data)"},
    {"immutable", SF_BOOL, SF_OPTIONAL, "false",
     "the API refuses changes of the data: a change makes the ConfigMap anew"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "namespace/name"},
    {"uid", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the object's metadata.uid"},
    {"resource_version", SF_STRING, SF_COMPUTED, NULL, "the object's metadata.resourceVersion"},
    {NULL, 0, 0, NULL, NULL},
};

/* Reads files into data / binary_data and drops files itself: what the
 * cluster gets (and a plan shows, and a read or an import finds) is the
 * contents, so a changed file is a changed value and the names of the
 * files are no part of the object. A file's key given in data or
 * binary_data too is an error, as is a file that cannot be read. */
static int load_files(struct sf_call *c, json_t *desired)
{
    json_t *files = json_incref(json_object_get(desired, "files"));
    json_object_del(desired, "files");
    json_t *data = json_object_get(desired, "data");
    json_t *bin = json_object_get(desired, "binary_data");
    int rc = 0;
    const char *k;
    json_t *v;
    if (!files || json_is_null(files))
        goto out;
    if (!sf_kube_known_map(files) || !sf_kube_known_map(data) || !sf_kube_known_map(bin)) {
        /* The contents are known once the apply evaluates the description
         * again. */
        json_object_set(desired, "data", sf_unknown());
        json_object_set(desired, "binary_data", sf_unknown());
        goto out;
    }
    json_object_foreach (files, k, v) {
        if (json_object_get(data, k) || json_object_get(bin, k)) {
            sf_kube_fail(c, SF_CLASS_INVALID,
                         "files.%s: key \"%s\" is also in %s: give each key once", k, k,
                         json_object_get(data, k) ? "data" : "binary_data");
            rc = -1;
            goto out;
        }
    }
    if (sf_value_has_unknown(files)) {
        json_object_set(desired, "data", sf_unknown());
        json_object_set(desired, "binary_data", sf_unknown());
        goto out;
    }
    json_object_foreach (files, k, v) {
        if (!json_is_string(v) || !*json_string_value(v)) {
            sf_kube_fail(c, SF_CLASS_INVALID, "files.%s: expected a file name", k);
            rc = -1;
            goto out;
        }
        const char *rel = json_string_value(v);
        char *path = rel[0] == '/' || !c->config_dir || !*c->config_dir
                         ? sf_xstrdup(rel)
                         : sf_asprintf("%s/%s", c->config_dir, rel);
        size_t len = 0;
        char *text = sf_read_file(path, &len);
        if (!text) {
            sf_kube_fail(c, SF_CLASS_INVALID, "files.%s: cannot read %s: %s", k, path,
                         strerror(errno));
            free(path);
            rc = -1;
            goto out;
        }
        json_t *s = memchr(text, '\0', len) ? NULL : json_stringn(text, len);
        if (s) {
            json_object_set_new(data, k, s);
        } else {
            char *b64 = sf_base64_encode(text, len);
            json_object_set_new(bin, k, json_string(b64));
            free(b64);
        }
        free(text);
        free(path);
    }
out:
    json_decref(files);
    return rc;
}

static int config_map_plan(struct sf_call *c, json_t *desired)
{
    /* The maps' own checks first: a file's contents need none. */
    if (sf_kube_dataobj_check(c, desired) < 0)
        return -1;
    const json_t *files = json_object_get(desired, "files");
    const char *k;
    json_t *v;
    if (sf_kube_known_map(files)) {
        /* The files' keys are data keys. */
        json_object_foreach ((json_t *)files, k, v) {
            json_t *probe = json_pack("{s:{s:s}}", "data", k, "");
            int rc = sf_kube_dataobj_check(c, probe);
            json_decref(probe);
            if (rc < 0)
                return -1;
        }
    }
    return load_files(c, desired);
}

const struct sf_resource_type sf_kube_config_map_type = {
    .name = "kubernetes_config_map",
    .doc = "a ConfigMap from literal data or files",
    .attrs = attrs,
    .read = sf_kube_dataobj_read,
    .create = sf_kube_dataobj_create,
    .update = sf_kube_dataobj_update,
    .delete = sf_kube_dataobj_delete,
    .import = sf_kube_dataobj_import,
    .plan = config_map_plan,
    .order = sf_kube_order_namespaced,
    .timeouts = {.create = 120, .update = 120, .delete = 120, .read = 60},
    .connection = "kubeconfig",
};

/*
 * kubernetes_secret: a Secret named by namespace and name, of a type
 * (Opaque, kubernetes.io/dockerconfigjson, ...), whose `data` (text, which
 * the provider base64-encodes) and `binary_data` (base64) are sensitive
 * attributes: plans, show, output and errors print "(sensitive value)",
 * never a value. Applied, read and deleted as dataobj.c does for both
 * kinds of data object; kubernetes_manifest refuses kind Secret and
 * points here.
 */
#include "kube.h"

static const struct sf_attr attrs[] = {
    {"kubeconfig", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL,
     "the cluster's kubeconfig text (usually ${cloud_k8s_cluster.NAME.kubeconfig})"},
    {"kubeconfig_path", SF_STRING, SF_OPTIONAL, NULL,
     "a kubeconfig file, relative to the description (else the provider's)"},
    {"namespace", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"default\"", "the namespace"},
    {"name", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the Secret's name"},
    /* The API refuses a change of type: a new type is a new Secret. */
    {"type", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"Opaque\"",
     "Opaque, kubernetes.io/dockerconfigjson, kubernetes.io/tls, ..."},
    {"labels", SF_MAP, SF_OPTIONAL, "{}", "metadata.labels"},
    {"annotations", SF_MAP, SF_OPTIONAL, "{}", "metadata.annotations"},
    {"data", SF_MAP, SF_OPTIONAL | SF_SENSITIVE, "{}",
     "key -> value as text (the provider base64-encodes it)"},
    {"binary_data", SF_MAP, SF_OPTIONAL | SF_SENSITIVE, "{}",
     "key -> value already in base64 (bytes that are not text)"},
    {"immutable", SF_BOOL, SF_OPTIONAL, "false",
     "the API refuses changes of the data: a change makes the Secret anew"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "namespace/name"},
    {"uid", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the object's metadata.uid"},
    {"resource_version", SF_STRING, SF_COMPUTED, NULL, "the object's metadata.resourceVersion"},
    {NULL, 0, 0, NULL, NULL},
};

static int secret_plan(struct sf_call *c, json_t *desired)
{
    return sf_kube_dataobj_check(c, desired);
}

const struct sf_resource_type sf_kube_secret_type = {
    .name = "kubernetes_secret",
    .doc = "a Secret whose data is always sensitive",
    .attrs = attrs,
    .read = sf_kube_dataobj_read,
    .create = sf_kube_dataobj_create,
    .update = sf_kube_dataobj_update,
    .delete = sf_kube_dataobj_delete,
    .import = sf_kube_dataobj_import,
    .plan = secret_plan,
    .order = sf_kube_order_namespaced,
    .timeouts = {.create = 120, .update = 120, .delete = 120, .read = 60},
    .connection = "kubeconfig",
};

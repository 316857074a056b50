/*
 * kubernetes_service_account_token: a long-lived token of a service
 * account, as Kubernetes makes it: a Secret of type
 * kubernetes.io/service-account-token naming the account, which the
 * cluster's token controller fills. The resource waits until it is
 * filled and records the token (sensitive), so that a description can
 * hand it on (an output, a CI variable) without anyone reading the Secret
 * by hand. The token is the cluster's, not sparkform's: deleting the
 * Secret revokes it.
 */
#include <string.h>

#include "base64.h"
#include "kube.h"
#include "util.h"

static const struct sf_attr attrs[] = {
    {"kubeconfig", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL,
     "the cluster's kubeconfig text (usually ${cloud_k8s_cluster.NAME.kubeconfig})"},
    {"kubeconfig_path", SF_STRING, SF_OPTIONAL, NULL,
     "a kubeconfig file, relative to the description (else the provider's)"},
    {"namespace", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the service account's namespace"},
    {"service_account", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the service account"},
    {"name", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the Secret's name"},
    {"token", SF_STRING, SF_COMPUTED | SF_SENSITIVE, NULL, "the bearer token"},
    {"ca_crt", SF_STRING, SF_COMPUTED, NULL, "the cluster's CA certificate (PEM)"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "namespace/name"},
    {NULL, 0, 0, NULL, NULL},
};

static char *secret_id(const char *ns, const char *name)
{
    return sf_asprintf("v1/Secret/%s/%s", ns, name);
}

/* The attributes of a filled Secret; NULL while the controller has not
 * filled it. */
static json_t *attrs_of(const json_t *conn, const json_t *live, const char *sa)
{
    const json_t *data = json_object_get(live, "data");
    const char *tok = json_string_value(json_object_get(data, "token"));
    if (!tok)
        return NULL;
    size_t len = 0;
    unsigned char *token = sf_base64_decode(tok, &len);
    unsigned char *ca = NULL;
    const char *ca64 = json_string_value(json_object_get(data, "ca.crt"));
    size_t calen = 0;
    if (ca64)
        ca = sf_base64_decode(ca64, &calen);
    const json_t *md = json_object_get(live, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)conn, k, v) if (!strcmp(k, "kubeconfig") || !strcmp(k, "kubeconfig_path"))
        json_object_set(o, k, v);
    json_object_set_new(o, "namespace", json_string(ns ? ns : ""));
    json_object_set_new(o, "name", json_string(name ? name : ""));
    json_object_set_new(o, "service_account", json_string(sa));
    json_object_set_new(o, "token", token ? json_stringn((char *)token, len) : json_string(""));
    json_object_set_new(o, "ca_crt", ca ? json_stringn((char *)ca, calen) : json_string(""));
    json_object_set_new(o, "id", json_sprintf("%s/%s", ns ? ns : "", name ? name : ""));
    free(token);
    free(ca);
    return o;
}

/* Reads the Secret until the controller filled it (or the deadline). */
static int wait_filled(struct sf_call *c, const json_t *conn, const char *id, const char *sa,
                       json_t **out)
{
    for (int round = 0;; round++) {
        json_t *live = NULL;
        if (sf_kube_read(c, conn, id, false, &live, NULL, NULL) < 0)
            return -1;
        if (!live) {
            sf_diag_add_class(c->diags, SF_CLASS_NOT_FOUND, NULL, c->address,
                              "the token Secret %s is gone", id);
            return -1;
        }
        json_t *a = attrs_of(conn, live, sa);
        json_decref(live);
        if (a) {
            *out = a;
            return 0;
        }
        if (sf_now() >= c->deadline) {
            sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                        "the cluster did not fill the token of %s in time: is its service account "
                        "\"%s\" there?",
                        id, sa);
            return -1;
        }
        if (c->status && round == 0)
            c->status(c, "waiting for the cluster to fill the token");
        sf_sleep_ms(200);
    }
}

static int token_create(struct sf_call *c, const json_t *d, json_t **out)
{
    const char *ns = json_string_value(json_object_get(d, "namespace"));
    const char *name = json_string_value(json_object_get(d, "name"));
    const char *sa = json_string_value(json_object_get(d, "service_account"));
    json_t *body = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s}", "apiVersion", "v1", "kind", "Secret",
                             "metadata", "name", name, "namespace", ns, "annotations",
                             "kubernetes.io/service-account.name", sa, "type",
                             "kubernetes.io/service-account-token");
    json_t *live = NULL;
    char *id = NULL;
    int rc = sf_kube_apply(c, d, body, true, NULL, &live, &id);
    json_decref(body);
    json_decref(live);
    if (rc == 0)
        rc = wait_filled(c, d, id, sa, out);
    free(id);
    return rc;
}

static int token_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    char *id = secret_id(json_string_value(json_object_get(prior, "namespace")),
                         json_string_value(json_object_get(prior, "name")));
    json_t *live = NULL;
    int rc = sf_kube_read(c, prior, id, true, &live, NULL, NULL);
    free(id);
    if (rc < 0 || !live)
        return rc;
    const char *sa = json_string_value(json_object_get(prior, "service_account"));
    const char *annotated = json_string_value(json_object_get(
        json_object_get(json_object_get(live, "metadata"), "annotations"), "kubernetes.io/service-account.name"));
    /* Not filled (yet), or made for another account: gone, made anew. */
    if (annotated && sa && !strcmp(annotated, sa))
        *out = attrs_of(prior, live, sa);
    json_decref(live);
    return 0;
}

static int token_delete(struct sf_call *c, const json_t *prior)
{
    char *id = secret_id(json_string_value(json_object_get(prior, "namespace")),
                         json_string_value(json_object_get(prior, "name")));
    int rc = sf_kube_delete(c, prior, id, "Background");
    free(id);
    return rc;
}

/* It needs its namespace and its service account made first. */
static int token_order(struct sf_call *c, const json_t *desired, json_t *provides, json_t *needs)
{
    (void)c;
    (void)provides;
    const char *ns = json_string_value(json_object_get(desired, "namespace"));
    const char *sa = json_string_value(json_object_get(desired, "service_account"));
    if (ns) {
        json_array_append_new(needs, json_sprintf("kubernetes:Namespace/%s", ns));
        if (sa)
            json_array_append_new(needs, json_sprintf("kubernetes:ServiceAccount/%s/%s", ns, sa));
    }
    return 0;
}

const struct sf_resource_type sf_kube_token_type = {
    .name = "kubernetes_service_account_token",
    .doc = "a service account's long-lived token, filled by the cluster and recorded (sensitive)",
    .attrs = attrs,
    .read = token_read,
    .create = token_create,
    .delete = token_delete,
    .order = token_order,
    .timeouts = {.create = 120, .delete = 120, .read = 60},
    .connection = "kubeconfig",
};

/*
 * Service-account tokens and authentication for localcloud's Kubernetes
 * API (see k8s.h).
 *
 * A bearer token is either the cluster's admin token (the kubeconfig's:
 * group system:masters, allowed everything) or the token of a
 * kubernetes.io/service-account-token Secret. The token controller
 * (called from k8s_ctrl.c's tick) fills such a Secret, as Kubernetes'
 * does, once the service account its annotation names exists: a random
 * opaque token, the CA certificate and the namespace, base64 in data, and
 * the account's uid in an annotation. The token lives only in the Secret:
 * authentication looks it up there and checks that the account is still
 * the same one, so deleting either the Secret or the service account (even
 * recreating one of the same name) revokes it. k8s_rbac.c decides what
 * the user may do.
 */
#include "base64.h"
#include "k8s.h"

#include <stdlib.h>
#include <string.h>

#include "k8s_patch.h"
#include "store.h"
#include "util.h"

#define SA_TOKEN_TYPE "kubernetes.io/service-account-token"
#define SA_NAME_ANN "kubernetes.io/service-account.name"
#define SA_UID_ANN "kubernetes.io/service-account.uid"
#define CONTROLLER "kube-controller-manager"

void lc_k8s_user_free(struct lc_k8s_user *u)
{
    free(u->name);
    free(u->uid);
    json_decref(u->groups);
    *u = (struct lc_k8s_user){.name = NULL};
}

static bool is_secrets_kind(const char *kindkey)
{
    const char *dot = strchr(kindkey, '.');
    return dot && strcmp(dot + 1, "secrets") == 0;
}

static const char *annotation(const json_t *obj, const char *key)
{
    return lc_k8s_str(json_object_get(json_object_get(obj, "metadata"), "annotations"), key);
}

bool lc_k8s_auth_token_pending(const char *kindkey, const json_t *obj)
{
    if (!obj || !is_secrets_kind(kindkey))
        return false;
    const char *type = lc_k8s_str(obj, "type");
    return type && strcmp(type, SA_TOKEN_TYPE) == 0 &&
           !json_object_get(json_object_get(obj, "data"), "token") &&
           !json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp");
}

/* The service account a token secret names, or NULL when there is none. */
static json_t *account_of(struct lc_store *st, const char *cluster, const json_t *secret)
{
    const char *sa = annotation(secret, SA_NAME_ANN);
    const char *ns = lc_k8s_str(json_object_get(secret, "metadata"), "namespace");
    if (!sa || !ns)
        return NULL;
    char *kk = lc_k8s_kindkey(cluster, lc_k8s_builtin("serviceaccounts"));
    char *id = lc_k8s_id(ns, sa);
    json_t *acct = lc_store_get(st, LC_K8S_API, kk, id);
    free(kk);
    free(id);
    return acct;
}

static void set_b64(json_t *data, const char *key, const char *value)
{
    char *b = sf_base64_encode((const unsigned char *)value, strlen(value));
    json_object_set_new(data, key, json_string(b));
    free(b);
}

bool lc_k8s_auth_fill_token(struct lc_k8s *k, const char *cluster, const char *kindkey,
                            const char *id, const json_t *obj)
{
    if (!lc_k8s_auth_token_pending(kindkey, obj))
        return true;
    struct lc_store *st = lc_server_store(k->srv);
    json_t *acct = account_of(st, cluster, obj);
    if (!acct)
        return false; /* filled once the account appears */
    json_t *o = json_deep_copy(obj);
    json_t *m = json_object_get(o, "metadata");
    json_t *ann = json_object_get(m, "annotations");
    json_object_set_new(ann, SA_UID_ANN,
                        json_string(lc_k8s_str(json_object_get(acct, "metadata"), "uid")));
    json_t *data = json_object_get(o, "data");
    if (!json_is_object(data)) {
        data = json_object();
        json_object_set_new(o, "data", data);
    }
    char *token = sf_random_hex(32);
    set_b64(data, "token", token);
    free(token);
    const char *cert = lc_server_tls_cert(k->srv);
    set_b64(data, "ca.crt", cert ? cert : "");
    set_b64(data, "namespace", lc_k8s_str(m, "namespace"));
    char now[32];
    lc_format_time(lc_now_ms(), false, now, sizeof(now));
    lc_k8s_track_update(o, obj, CONTROLLER, "v1", NULL, now);
    lc_k8s_commit(k, cluster, kindkey, id, o, obj);
    json_decref(o);
    return true;
}

static void set_user(struct lc_k8s_user *u, const char *name, const char *uid, json_t *groups)
{
    u->name = sf_xstrdup(name);
    u->uid = sf_xstrdup(uid);
    u->groups = groups;
}

int lc_k8s_authenticate(struct lc_store *st, const char *cluster, const json_t *cluster_obj,
                        const char *token, struct lc_k8s_user *u)
{
    *u = (struct lc_k8s_user){.name = NULL};
    if (!token || !*token)
        return -1;
    const char *admin = lc_k8s_str(cluster_obj, "kube_token");
    if (admin && strcmp(token, admin) == 0) {
        set_user(u, "kubernetes-admin", "",
                 json_pack("[s, s]", "system:masters", "system:authenticated"));
        return 0;
    }
    char *b64 = sf_base64_encode((const unsigned char *)token, strlen(token));
    char *kk = lc_k8s_kindkey(cluster, lc_k8s_builtin("secrets"));
    const char *id;
    json_t *sec;
    int rc = -1;
    json_object_foreach(lc_store_kind(st, LC_K8S_API, kk), id, sec)
    {
        const char *type = lc_k8s_str(sec, "type");
        const char *have = lc_k8s_str(json_object_get(sec, "data"), "token");
        if (!type || strcmp(type, SA_TOKEN_TYPE) != 0 || !have || strcmp(have, b64) != 0)
            continue;
        json_t *m = json_object_get(sec, "metadata");
        json_t *acct = account_of(st, cluster, sec);
        const char *uid = lc_k8s_str(json_object_get(acct, "metadata"), "uid");
        const char *want = annotation(sec, SA_UID_ANN);
        if (!acct || json_object_get(m, "deletionTimestamp") || !uid || !want ||
            strcmp(uid, want) != 0)
            break;
        const char *ns = lc_k8s_str(m, "namespace");
        char *name = sf_asprintf("system:serviceaccount:%s:%s", ns, annotation(sec, SA_NAME_ANN));
        char *nsgroup = sf_asprintf("system:serviceaccounts:%s", ns);
        set_user(u, name, uid,
                 json_pack("[s, s, s]", "system:serviceaccounts", nsgroup, "system:authenticated"));
        free(name);
        free(nsgroup);
        rc = 0;
        break;
    }
    free(kk);
    free(b64);
    return rc;
}

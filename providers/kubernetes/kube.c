/*
 * The "kubernetes" provider's table, settings and per-run context.
 * configure only notes the provider-level kubeconfig file (the block's
 * config_path, else KUBECONFIG): it dials nothing, because the cluster a
 * description's objects live in is often created by the same apply. A
 * resource's connection is made by its first operation (sf_kube_connect)
 * from its own kubeconfig value or file, else that provider-level file,
 * and kept in the context under the SHA-256 of the kubeconfig, so that
 * every resource of one cluster shares one HTTP client and one discovery
 * cache for the run.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "sigv4.h"
#include "util.h"

static const struct sf_provider_key keys[] = {
    {"config_path", SF_STRING, 0, "KUBECONFIG",
     "kubeconfig file of resources that give none (and of import), relative to the "
     "description; of a KUBECONFIG list, the first file"},
    {NULL, 0, 0, NULL, NULL},
};

void sf_kube_status(struct sf_call *c, const char *fmt, ...)
{
    if (!c->status)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vasprintf(fmt, ap);
    va_end(ap);
    c->status(c, s);
    free(s);
}

static char *join_dir(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir || !*dir)
        return sf_xstrdup(p);
    return sf_asprintf("%s/%s", dir, p);
}

/* The directory part of path ("." when none); caller frees. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return sf_xstrdup(".");
    if (slash == path)
        return sf_xstrdup("/");
    return sf_xstrndup(path, (size_t)(slash - path));
}

int sf_kube_connect(struct sf_call *c, const json_t *v, struct sf_kube_cluster **out)
{
    struct sf_kube_ctx *x = c->ctx;
    *out = NULL;
    const char *inline_kc = json_string_value(json_object_get(v, "kubeconfig"));
    const char *rel = json_string_value(json_object_get(v, "kubeconfig_path"));
    char *text = NULL, *base = NULL, *where = NULL;
    size_t len = 0;
    if (inline_kc && *inline_kc) {
        text = sf_xstrdup(inline_kc);
        len = strlen(text);
        base = sf_xstrdup(c->config_dir ? c->config_dir : ".");
        where = sf_xstrdup("kubeconfig");
    } else {
        char *path = NULL;
        if (rel && *rel) {
            path = join_dir(c->config_dir, rel);
            where = sf_asprintf("kubeconfig_path %s", path);
        } else if (x && x->default_path) {
            path = sf_xstrdup(x->default_path);
            where = sf_asprintf("the kubeconfig %s (providers.kubernetes.config_path or "
                                "KUBECONFIG)",
                                path);
        } else {
            sf_kube_fail(c, SF_CLASS_INVALID,
                         "no kubeconfig: set the resource's kubeconfig (e.g. "
                         "\"${cloud_k8s_cluster.main.kubeconfig}\") or kubeconfig_path, or "
                         "providers.kubernetes.config_path, or KUBECONFIG");
            return -1;
        }
        text = sf_read_file(path, &len);
        if (!text) {
            sf_kube_fail(c, SF_CLASS_INVALID, "%s: cannot read it: %s", where, strerror(errno));
            free(path);
            free(where);
            return -1;
        }
        base = dir_of(path);
        free(path);
    }

    /* The key covers the base directory too: the same text may name
     * certificate files relative to where it lies. */
    struct sf_buf kb = {0};
    sf_buf_add(&kb, text, len);
    sf_buf_add(&kb, "", 1);
    sf_buf_puts(&kb, base);
    char key[65];
    sf_sigv4_sha256_hex(kb.s, kb.len, key);
    OPENSSL_cleanse(kb.s, kb.len);
    sf_buf_free(&kb);

    int rc = 0;
    pthread_mutex_lock(&x->mu);
    struct sf_kube_cluster *k = x->clusters;
    while (k && strcmp(k->key, key) != 0)
        k = k->next;
    if (!k) {
        struct sf_kube_config cfg;
        char *why = NULL;
        if (sf_kube_config_parse(text, len, base, &cfg, &why) < 0) {
            sf_kube_fail(c, SF_CLASS_INVALID, "%s: %s", where, why);
            free(why);
            rc = -1;
        } else {
            k = sf_kube_cluster_new(&cfg, key, x->stats);
            k->next = x->clusters;
            x->clusters = k;
        }
    }
    pthread_mutex_unlock(&x->mu);
    OPENSSL_cleanse(text, len);
    free(text);
    free(base);
    free(where);
    *out = k;
    return rc;
}

static void kube_release(void *p)
{
    struct sf_kube_ctx *x = p;
    if (!x)
        return;
    while (x->clusters) {
        struct sf_kube_cluster *n = x->clusters->next;
        sf_kube_cluster_free(x->clusters);
        x->clusters = n;
    }
    pthread_mutex_destroy(&x->mu);
    free(x->default_path);
    free(x);
}

static int kube_configure(const struct sf_provider_setup *s, void **out)
{
    struct sf_kube_ctx *x = sf_xcalloc(1, sizeof(*x));
    pthread_mutex_init(&x->mu, NULL);
    x->stats = s->stats;
    char *list = sf_setup_string(s, "config_path");
    if (list) {
        /* KUBECONFIG may list files; the first one is the one read (a
         * merge of several is kubectl's business). */
        size_t n = strcspn(list, ":");
        if (n > 0) {
            char *first = sf_xstrndup(list, n);
            x->default_path = join_dir(s->config_dir, first);
            free(first);
        }
        free(list);
    }
    *out = x;
    return 0;
}

static const struct sf_resource_type *const types[] = {
    &sf_kube_manifest_type, &sf_kube_secret_type, &sf_kube_config_map_type, &sf_kube_token_type, NULL};

const struct sf_provider sf_provider_kubernetes = {
    .name = "kubernetes",
    .types = types,
    .keys = keys,
    .configure = kube_configure,
    .release = kube_release,
};

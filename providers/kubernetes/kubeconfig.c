/*
 * Reading a kubeconfig (kubectl's YAML, or the JSON a cluster's kube_config
 * endpoint returns) down to what one connection needs: the current
 * context's server, the CA to verify it with, and the user's bearer token
 * or client certificate. The text is parsed by lib/node (libyaml), which
 * reads JSON as well. Messages name the part that is wrong, never a value:
 * the text holds secrets.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "kube.h"
#include "node.h"
#include "util.h"

static void wipe_free(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void sf_kube_config_free(struct sf_kube_config *k)
{
    free(k->context);
    free(k->server);
    free(k->ca_pem);
    wipe_free(k->token);
    free(k->cert_pem);
    wipe_free(k->key_pem);
    memset(k, 0, sizeof(*k));
}

/* Base64 (standard alphabet, whitespace ignored) to text; NULL when it
 * is not base64 or is empty. */
static char *unbase64(const char *in)
{
    size_t n = 0;
    unsigned char *out = sf_base64_decode(in, &n);
    if (out && n == 0) {
        free(out);
        out = NULL;
    }
    return (char *)out;
}

/* The entry of a named list (clusters, users, contexts) called name. */
static const json_t *named(const json_t *doc, const char *list, const char *name)
{
    const json_t *a = json_object_get(doc, list);
    for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++) {
        const json_t *e = json_array_get(a, i);
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

static char *rel_path(const char *base_dir, const char *p)
{
    if (p[0] == '/' || !base_dir || !*base_dir)
        return sf_xstrdup(p);
    return sf_asprintf("%s/%s", base_dir, p);
}

/* The text of an inline "-data" member (base64) or of the file the plain
 * member names; *out stays NULL when neither is set. 0, or -1 with *why. */
static int data_or_file(const json_t *o, const char *member, const char *base_dir, char **out,
                        char **why)
{
    char *data_key = sf_asprintf("%s-data", member);
    const char *data = str(o, data_key);
    const char *file = str(o, member);
    int rc = 0;
    *out = NULL;
    if (data) {
        *out = unbase64(data);
        if (!*out) {
            *why = sf_asprintf("%s is not base64", data_key);
            rc = -1;
        }
    } else if (file) {
        char *p = rel_path(base_dir, file);
        size_t len;
        *out = sf_read_file(p, &len);
        if (!*out) {
            *why = sf_asprintf("%s: cannot read %s: %s", member, p, strerror(errno));
            rc = -1;
        }
        free(p);
    }
    free(data_key);
    return rc;
}

int sf_kube_config_parse(const char *text, size_t len, const char *base_dir,
                         struct sf_kube_config *out, char **why)
{
    memset(out, 0, sizeof(*out));
    *why = NULL;
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_doc *doc = NULL;
    /* The parser's own message may quote the text; only the place is kept. */
    if (sf_yaml_parse("kubeconfig", text, len, &doc, &d) < 0 || !doc->root) {
        int line = d.n ? d.items[0].line : 0;
        *why = line ? sf_asprintf("it is not valid YAML or JSON (line %d)", line)
                    : sf_xstrdup("it is not valid YAML or JSON");
        sf_diags_free(&d);
        sf_doc_free(doc);
        return -1;
    }
    sf_diags_free(&d);
    json_t *j = sf_node_to_json(doc->root);
    sf_doc_free(doc);

    int rc = -1;
    const char *ctx_name = str(j, "current-context");
    const json_t *ctx = NULL;
    if (ctx_name) {
        ctx = named(j, "contexts", ctx_name);
        if (!ctx) {
            *why = sf_asprintf("its current-context \"%s\" is not among its contexts", ctx_name);
            goto out;
        }
    } else {
        const json_t *all = json_object_get(j, "contexts");
        if (json_array_size(all) != 1) {
            *why = sf_xstrdup("it has no current-context (and not exactly one context)");
            goto out;
        }
        ctx = json_array_get(all, 0);
        ctx_name = str(ctx, "name");
    }
    out->context = sf_xstrdup(ctx_name ? ctx_name : "");
    const json_t *cx = json_object_get(ctx, "context");
    const char *cl_name = str(cx, "cluster"), *user_name = str(cx, "user");
    const json_t *cl = cl_name ? json_object_get(named(j, "clusters", cl_name), "cluster") : NULL;
    if (!json_is_object(cl)) {
        *why = sf_asprintf("context \"%s\" names no cluster of its clusters", out->context);
        goto out;
    }
    const char *server = str(cl, "server");
    if (!server) {
        *why = sf_asprintf("cluster \"%s\" has no server", cl_name);
        goto out;
    }
    if (strncasecmp(server, "https://", 8) != 0) {
        *why = sf_asprintf("cluster \"%s\": its server is not an https:// URL (credentials are "
                           "sent only to a verified server)",
                           cl_name);
        goto out;
    }
    if (json_is_true(json_object_get(cl, "insecure-skip-tls-verify"))) {
        *why = sf_asprintf("cluster \"%s\" sets insecure-skip-tls-verify: the server's "
                           "certificate is always verified; give its certificate-authority-data",
                           cl_name);
        goto out;
    }
    out->server = sf_xstrdup(server);
    size_t sl = strlen(out->server);
    while (sl > 8 && out->server[sl - 1] == '/')
        out->server[--sl] = '\0';
    if (data_or_file(cl, "certificate-authority", base_dir, &out->ca_pem, why) < 0)
        goto out;

    const json_t *user = user_name ? json_object_get(named(j, "users", user_name), "user") : NULL;
    if (user_name && !json_is_object(user)) {
        *why = sf_asprintf("context \"%s\" names a user that is not among its users", out->context);
        goto out;
    }
    if (json_object_get(user, "exec") || json_object_get(user, "auth-provider")) {
        *why = sf_asprintf("user \"%s\" gets credentials from a program (exec / auth-provider), "
                           "which sparkform does not run: give a token or a client certificate",
                           user_name);
        goto out;
    }
    const char *token = str(user, "token");
    if (token) {
        out->token = sf_xstrdup(token);
    } else if (str(user, "tokenFile")) {
        char *p = rel_path(base_dir, str(user, "tokenFile"));
        size_t tl;
        out->token = sf_read_file(p, &tl);
        if (!out->token) {
            *why = sf_asprintf("tokenFile: cannot read %s: %s", p, strerror(errno));
            free(p);
            goto out;
        }
        free(p);
        while (tl > 0 && strchr(" \t\r\n", out->token[tl - 1]))
            out->token[--tl] = '\0';
    }
    if (data_or_file(user, "client-certificate", base_dir, &out->cert_pem, why) < 0 ||
        data_or_file(user, "client-key", base_dir, &out->key_pem, why) < 0)
        goto out;
    if (!out->cert_pem != !out->key_pem) {
        *why = sf_asprintf("user \"%s\" has a client %s without its %s", user_name,
                           out->cert_pem ? "certificate" : "key",
                           out->cert_pem ? "key" : "certificate");
        goto out;
    }
    if (!out->token && !out->cert_pem) {
        *why = sf_asprintf("context \"%s\" has no credentials (a user with a token or a client "
                           "certificate and key)",
                           out->context);
        goto out;
    }
    rc = 0;
out:
    json_decref(j);
    if (rc < 0)
        sf_kube_config_free(out);
    return rc;
}

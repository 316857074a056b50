/*
 * The "ssh" provider's table and per-run context. Its types reach their
 * servers with the connection details each resource gives (host, user,
 * key, host key), so the provider itself has no settings; configure only
 * makes the HTTP client with which a type checks, from this machine, that
 * the software it configured answers (the registry's /v2/).
 */
#include <stdlib.h>

#include "http.h"
#include "ssh.h"
#include "util.h"

static int ssh_configure(const struct sf_provider_setup *s, void **out)
{
    struct sf_ssh_ctx *x = sf_xcalloc(1, sizeof(*x));
    /* One attempt per request: the waits poll on their own schedule and
     * a registry that is still starting refuses connections. GET /v2/
     * answers in milliseconds; 5 s without an answer is a port held by
     * something else, and the wait then asks the server what runs. */
    struct sf_http_opts o = {
        .stats = s->stats,
        .max_attempts = 1,
        .connect_timeout_ms = 5000,
        .request_timeout_ms = 5000,
    };
    x->http = sf_http_new(&o);
    *out = x;
    return 0;
}

static void ssh_release(void *ctx)
{
    struct sf_ssh_ctx *x = ctx;
    if (!x)
        return;
    sf_http_free(x->http);
    free(x);
}

static const struct sf_resource_type *const types[] = {
    &sf_ssh_registry_type,
    NULL,
};

const struct sf_provider sf_provider_ssh = {
    .name = "ssh",
    .types = types,
    .configure = ssh_configure,
    .release = ssh_release,
};

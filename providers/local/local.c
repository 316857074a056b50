/*
 * The built-in "local" provider: objects that live on the machine running
 * sparkform (files, generated SSH keys, TLS certificates). This file holds
 * the provider table the registry starts with, and the helpers the types
 * share; the types themselves are in file.c, sshkey.c and tlscert.c.
 */
#include "local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "util.h"

static const struct sf_resource_type *const types[] = {
    &sf_local_file_type,
    &sf_local_ssh_key_type,
    &sf_local_tls_certificate_type,
    NULL,
};

const struct sf_provider sf_provider_local = {.name = "local", .types = types};

char *sf_local_path_resolve(const struct sf_call *c, const char *path)
{
    if (path[0] == '/' || !c->config_dir || !c->config_dir[0])
        return sf_xstrdup(path);
    size_t n = strlen(c->config_dir);
    const char *sep = c->config_dir[n - 1] == '/' ? "" : "/";
    return sf_asprintf("%s%s%s", c->config_dir, sep, path);
}

int sf_local_write(struct sf_call *c, const char *path, const void *data, size_t len,
                   unsigned mode)
{
    if (sf_mkdir_parents(path) < 0) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                    "cannot create the directories leading to \"%s\": %s", path,
                    strerror(errno));
        return -1;
    }
    if (sf_write_file_atomic(path, data, len, mode) < 0) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "cannot write \"%s\": %s", path,
                    strerror(errno));
        return -1;
    }
    return 0;
}

char *sf_local_sha256_hex(const void *data, size_t len)
{
    char hex[65];
    sf_sigv4_sha256_hex(data, len, hex);
    return sf_xstrdup(hex);
}

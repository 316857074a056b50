/*
 * Private to providers/local: its resource types and the file helpers
 * they share (paths relative to the description, atomic writes that create
 * missing parent directories).
 */
#ifndef SF_LOCAL_H
#define SF_LOCAL_H

#include <stddef.h>

#include "provider.h"

extern const struct sf_resource_type sf_local_file_type;
extern const struct sf_resource_type sf_local_ssh_key_type;
extern const struct sf_resource_type sf_local_tls_certificate_type;

/* path itself when absolute or when c->config_dir is unset, else
 * config_dir/path. Caller frees. */
char *sf_local_path_resolve(const struct sf_call *c, const char *path);

/* sf_write_file_atomic after sf_mkdir_parents (util.h); on failure adds an
 * error naming path and the reason to c->diags and returns -1. */
int sf_local_write(struct sf_call *c, const char *path, const void *data, size_t len,
                   unsigned mode);

/* Lowercase hex SHA-256 of data; caller frees. */
char *sf_local_sha256_hex(const void *data, size_t len);

/* The provider, listed in providers/registry.c. */
extern const struct sf_provider sf_provider_local;

#endif

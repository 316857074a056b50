/*
 * Identity (a Keystone v3 subset) under /identity/v3: password auth with
 * project scope issuing tokens with a catalog that points back at this
 * server, token checks for every other API, and EC2-style credentials,
 * whose secrets the S3 API looks up to verify signatures.
 */
#ifndef LC_IDENTITY_H
#define LC_IDENTITY_H

#include "diag.h"
#include "server.h"

/* Registers /identity/v3 and becomes the server's token checker. users_file
 * is the --users JSON or NULL for the default user (admin /
 * localcloud-admin, project "local", domain "Default"). 0, or -1 with the
 * problem (a users file's position when it has one) added to d. */
int lc_identity_register(struct lc_server *srv, const char *users_file, struct sf_diags *d);

/* The EC2 credential with that access key: 0 with *secret, *user_id and
 * *project_id set (caller frees each; any may be passed as NULL when not
 * wanted), -1 when there is none. Takes the world lock itself. */
int lc_identity_ec2_secret(struct lc_server *srv, const char *access, char **secret,
                           char **user_id, char **project_id);

/* The same lookup in the shape of sf_sigv4_lookup_fn (lib/sigv4.h),
 * with the struct lc_server as ctx: the secret (caller frees) or NULL. */
char *lc_identity_ec2_lookup(void *srv, const char *access);

#endif

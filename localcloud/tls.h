/*
 * localcloud's TLS identity (tls.c): the key and self-signed certificate
 * its https listener presents, kept in the data directory.
 */
#ifndef LC_TLS_H
#define LC_TLS_H

#include "diag.h"

/* Reads DIR/tls/key.pem and DIR/tls/cert.pem, making them first when
 * absent (a certificate for host, the loopback address served). 0 with
 * both PEM texts (caller frees), or -1 with the problem added to d. */
int lc_tls_identity(const char *dir, const char *host, char **key_pem, char **cert_pem,
                    struct sf_diags *d);

#endif

/*
 * localcloud's TLS identity: a self-signed ECDSA P-256 certificate for the
 * loopback address it serves, made on first start and kept in the data
 * directory (tls/key.pem, mode 0600, and tls/cert.pem), so that the
 * kubeconfigs handed out before a restart still verify after it.
 *
 * TLS is there for Kubernetes clients: kubectl (client-go) sends a bearer
 * token only over https, and trusts this certificate through the
 * certificate-authority-data of the kubeconfig.
 */
#include "tls.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"
#include "util.h"

static char *bio_text(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    return sf_xstrndup(data, (size_t)n);
}

static bool add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return false;
    bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A new key and certificate as PEM text; 0 or -1. */
static int make_identity(const char *host, char **key_pem, char **cert_pem)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    int rc = -1;
    if (!key || !cert || !kb || !cb)
        goto out;
    char *hex = sf_random_hex(16);
    BIGNUM *bn = NULL;
    BN_hex2bn(&bn, hex);
    free(hex);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_set_version(cert, 2);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"localcloud", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localcloud", -1,
                               -1, 0);
    X509_set_issuer_name(cert, name);
    char *san = strchr(host, ':') ? sf_asprintf("IP:%s,IP:127.0.0.1,DNS:localhost", host)
                                  : sf_asprintf("IP:%s,DNS:localhost", host);
    bool ok = add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") &&
              add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") &&
              add_ext(cert, NID_ext_key_usage, "serverAuth") &&
              add_ext(cert, NID_subject_alt_name, san);
    free(san);
    if (!ok || X509_sign(cert, key, EVP_sha256()) == 0)
        goto out;
    if (PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_X509(cb, cert) != 1)
        goto out;
    *key_pem = bio_text(kb);
    *cert_pem = bio_text(cb);
    rc = 0;
out:
    BIO_free(kb);
    BIO_free(cb);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int lc_tls_identity(const char *dir, const char *host, char **key_pem, char **cert_pem,
                    struct sf_diags *d)
{
    char *tdir = sf_asprintf("%s/tls", dir);
    char *kpath = sf_asprintf("%s/key.pem", tdir), *cpath = sf_asprintf("%s/cert.pem", tdir);
    int rc = 0;
    size_t kn, cn;
    *key_pem = sf_read_file(kpath, &kn);
    *cert_pem = sf_read_file(cpath, &cn);
    if (!*key_pem || !*cert_pem) {
        free(*key_pem);
        free(*cert_pem);
        *key_pem = *cert_pem = NULL;
        if ((mkdir(tdir, 0700) < 0 && errno != EEXIST) ||
            make_identity(host, key_pem, cert_pem) < 0 ||
            sf_write_file_atomic(kpath, *key_pem, strlen(*key_pem), 0600) < 0 ||
            sf_write_file_atomic(cpath, *cert_pem, strlen(*cert_pem), 0644) < 0) {
            sf_error(d, NULL, "cannot make the TLS certificate in %s: %s", tdir,
                     errno ? strerror(errno) : "OpenSSL failed");
            free(*key_pem);
            free(*cert_pem);
            *key_pem = *cert_pem = NULL;
            rc = -1;
        }
    }
    free(tdir);
    free(kpath);
    free(cpath);
    return rc;
}

/*
 * tls_certificate: an X.509 certificate and its private key made on this
 * machine with OpenSSL, self-signed or signed by a CA given as PEM (most
 * often another tls_certificate with is_ca). The service needs it for its
 * own TLS endpoints, first of all the Spark Operator's admission webhook,
 * whose configuration carries the issuer as caBundle (ca_pem here).
 *
 * The key exists only in the state (sensitive); it is never shown, nor
 * written anywhere else unless the description passes key_pem on (to a
 * local_file, a Kubernetes secret).
 *
 * A certificate goes bad while its recorded object looks the same, and
 * an expired webhook certificate fails quietly: pods are no longer
 * mutated. So the type has a renew hook (provider.h): a plan made within
 * renew_before of not_after replaces the certificate, says why on the
 * plan line, and whatever is built from cert_pem / ca_pem follows.
 */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "local.h"
#include "util.h"

#define DEFAULT_VALIDITY "8760h"
#define DEFAULT_RENEW_BEFORE "720h"
/* X.509's upper bound for a common name (RFC 5280, ub-common-name). */
#define MAX_CN 64
/* Far enough for anyone; beyond it the end date's year gets absurd. */
#define MAX_VALIDITY_S (100L * 365 * 86400)

static const struct sf_attr attrs[] = {
    {"common_name", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the subject's CN"},
    {"organization", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"\"", "the subject's O, when set"},
    {"dns_names", SF_LIST, SF_OPTIONAL | SF_FORCE_NEW, "[]",
     "DNS subject alternative names (what clients check)"},
    {"ip_addresses", SF_LIST, SF_OPTIONAL | SF_FORCE_NEW, "[]",
     "IP subject alternative names, IPv4 or IPv6"},
    {"is_ca", SF_BOOL, SF_OPTIONAL | SF_FORCE_NEW, "false",
     "a CA certificate (signs others) rather than a server/client one"},
    {"validity", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"" DEFAULT_VALIDITY "\"",
     "how long it is valid from its creation: \"8760h\", \"365d\""},
    {"renew_before", SF_STRING, SF_OPTIONAL, "\"" DEFAULT_RENEW_BEFORE "\"",
     "a plan made this long before expiry (or later) replaces the certificate"},
    {"key_algorithm", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"ecdsa-p256\"",
     "\"ecdsa-p256\", \"rsa-2048\" or \"ed25519\""},
    {"ca_cert_pem", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, NULL,
     "the issuing CA's certificate; unset: self-signed"},
    {"ca_key_pem", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW | SF_SENSITIVE, NULL,
     "the issuing CA's private key (with ca_cert_pem)"},
    {"cert_pem", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the certificate, PEM"},
    {"key_pem", SF_STRING, SF_COMPUTED | SF_STABLE | SF_SENSITIVE, NULL,
     "its private key, PKCS#8 PEM"},
    {"ca_pem", SF_STRING, SF_COMPUTED | SF_STABLE, NULL,
     "the issuer's certificate (cert_pem when self-signed): a webhook's CA bundle"},
    {"ca_bundle_base64", SF_STRING, SF_COMPUTED | SF_STABLE, NULL,
     "ca_pem in base64, as a webhook configuration's caBundle takes it"},
    {"not_before", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "start of validity, RFC 3339"},
    {"not_after", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "end of validity, RFC 3339"},
    {"serial", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "serial number, hex"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the serial number"},
    {NULL, 0, 0, NULL, NULL},
};

static const char *const computed[] = {"cert_pem", "key_pem",  "ca_pem", "ca_bundle_base64",
                                       "not_before", "not_after", "serial", "id", NULL};

/* What the description asks for, checked. Strings are borrowed from the
 * values; a NULL (or a NULL list) is a value not known yet. */
struct spec {
    const char *cn, *org, *alg;
    const json_t *dns, *ips;
    bool is_ca;
    long validity_s;
    const char *ca_cert, *ca_key;
};

static bool known(const json_t *v)
{
    return v && !sf_value_has_unknown(v);
}

static void err(struct sf_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err(struct sf_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vasprintf(fmt, ap);
    va_end(ap);
    sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "%s", s);
    free(s);
}

/* A duration attribute in seconds; def when absent or null, -2 when not
 * known yet, -1 after an error. */
static long duration_attr(struct sf_call *c, const json_t *v, const char *name, const char *def)
{
    const json_t *d = json_object_get(v, name);
    if (d && sf_is_unknown(d))
        return -2;
    const char *text = def;
    if (json_is_string(d))
        text = json_string_value(d);
    else if (d && !json_is_null(d))
        text = NULL; /* not text at all */
    long ms = text ? sf_parse_duration_ms(text) : -1;
    if (ms < 0) {
        err(c, "%s: expected a duration such as \"720h\" or \"30d\"", name);
        return -1;
    }
    return ms / 1000;
}

static bool dns_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == '*' || *p == '_'))
            return false;
    return true;
}

/* A passphrase callback that refuses: an encrypted CA key is an error,
 * never a prompt on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

static X509 *parse_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!x)
        ERR_clear_error();
    return x;
}

static EVP_PKEY *parse_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!k)
        ERR_clear_error();
    return k;
}

/* The CA given by ca_cert_pem / ca_key_pem, checked: a CA certificate
 * and the key that belongs to it. Never quotes the key. */
static int load_ca(struct sf_call *c, const char *cert_pem, const char *key_pem, X509 **cert,
                   EVP_PKEY **key)
{
    *cert = NULL;
    *key = NULL;
    X509 *x = parse_cert(cert_pem);
    if (!x) {
        err(c, "ca_cert_pem: not a PEM certificate");
        return -1;
    }
    if (X509_check_ca(x) == 0) {
        err(c, "ca_cert_pem: the certificate is not a CA (its basicConstraints do not allow "
               "signing others); make it with is_ca: true");
        X509_free(x);
        return -1;
    }
    EVP_PKEY *k = parse_key(key_pem);
    if (!k) {
        err(c, "ca_key_pem: not an unencrypted PEM private key");
        X509_free(x);
        return -1;
    }
    if (X509_check_private_key(x, k) != 1) {
        ERR_clear_error();
        err(c, "ca_key_pem: the key does not belong to the certificate in ca_cert_pem");
        EVP_PKEY_free(k);
        X509_free(x);
        return -1;
    }
    *cert = x;
    *key = k;
    return 0;
}

/*
 * Reads and checks the inputs. Values not known yet are skipped (plan
 * runs this before they are), so create, where everything is known, gets
 * a complete spec. 0, or -1 after errors.
 */
static int read_spec(struct sf_call *c, const json_t *v, struct spec *s)
{
    memset(s, 0, sizeof(*s));
    int bad = 0;

    const json_t *cn = json_object_get(v, "common_name");
    if (known(cn)) {
        s->cn = json_string_value(cn);
        if (!s->cn || !*s->cn || strlen(s->cn) > MAX_CN) {
            err(c, "common_name: expected a non-empty string of at most %d characters", MAX_CN);
            bad = 1;
        }
    }
    const json_t *org = json_object_get(v, "organization");
    if (known(org))
        s->org = json_string_value(org);
    if (s->org && strlen(s->org) > MAX_CN) {
        err(c, "organization: at most %d characters", MAX_CN);
        bad = 1;
    }

    const json_t *dns = json_object_get(v, "dns_names");
    if (known(dns)) {
        s->dns = dns;
        size_t i;
        json_t *e;
        json_array_foreach(dns, i, e) if (!json_is_string(e) || !dns_name_ok(json_string_value(e)))
        {
            err(c, "dns_names[%zu]: expected a host name (letters, digits, '-', '.', a leading "
                   "'*.' for a wildcard)", i);
            bad = 1;
        }
    }
    const json_t *ips = json_object_get(v, "ip_addresses");
    if (known(ips)) {
        s->ips = ips;
        size_t i;
        json_t *e;
        json_array_foreach(ips, i, e)
        {
            ASN1_OCTET_STRING *ip =
                json_is_string(e) ? a2i_IPADDRESS(json_string_value(e)) : NULL;
            if (!ip) {
                ERR_clear_error();
                if (json_is_string(e))
                    err(c, "ip_addresses[%zu]: \"%s\" is not an IPv4 or IPv6 address", i,
                        json_string_value(e));
                else
                    err(c, "ip_addresses[%zu]: expected an IP address as a string", i);
                bad = 1;
            }
            ASN1_OCTET_STRING_free(ip);
        }
    }
    s->is_ca = json_is_true(json_object_get(v, "is_ca"));

    s->validity_s = duration_attr(c, v, "validity", DEFAULT_VALIDITY);
    if (s->validity_s == -1) {
        bad = 1;
    } else if (s->validity_s != -2 && (s->validity_s < 1 || s->validity_s > MAX_VALIDITY_S)) {
        err(c, "validity: expected at least one second and at most 36500d");
        bad = 1;
    }
    if (duration_attr(c, v, "renew_before", DEFAULT_RENEW_BEFORE) == -1)
        bad = 1;

    const json_t *alg = json_object_get(v, "key_algorithm");
    if (!alg || json_is_null(alg)) {
        s->alg = "ecdsa-p256";
    } else if (known(alg)) {
        s->alg = json_string_value(alg);
        if (!s->alg || (strcmp(s->alg, "ecdsa-p256") != 0 && strcmp(s->alg, "rsa-2048") != 0 &&
                        strcmp(s->alg, "ed25519") != 0)) {
            err(c, "key_algorithm: expected \"ecdsa-p256\", \"rsa-2048\" or \"ed25519\"");
            s->alg = NULL;
            bad = 1;
        }
    }

    const json_t *cc = json_object_get(v, "ca_cert_pem"), *ck = json_object_get(v, "ca_key_pem");
    bool have_cc = cc && !json_is_null(cc), have_ck = ck && !json_is_null(ck);
    if (have_cc != have_ck) {
        err(c, "ca_cert_pem and ca_key_pem go together: set both to sign with a CA, or "
               "neither for a self-signed certificate");
        bad = 1;
    } else if (known(cc) && known(ck) && have_cc) {
        s->ca_cert = json_string_value(cc);
        s->ca_key = json_string_value(ck);
        X509 *x;
        EVP_PKEY *k;
        if (!s->ca_cert || !s->ca_key || load_ca(c, s->ca_cert, s->ca_key, &x, &k) < 0) {
            if (!s->ca_cert || !s->ca_key)
                err(c, "ca_cert_pem and ca_key_pem: expected PEM text");
            bad = 1;
        } else {
            X509_free(x);
            EVP_PKEY_free(k);
        }
    }
    return bad ? -1 : 0;
}

static EVP_PKEY *generate_key(const char *alg)
{
    if (strcmp(alg, "rsa-2048") == 0)
        return EVP_RSA_gen(2048);
    if (strcmp(alg, "ed25519") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return EVP_EC_gen("P-256");
}

/* One extension from OpenSSL's own configuration syntax; value is always
 * one of this file's constants, never user text. */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* The subject alternative names, built as ASN.1 values (no text to
 * parse, so no name can smuggle in another). */
static int add_sans(X509 *x, const json_t *dns, const json_t *ips)
{
    if (json_array_size(dns) + json_array_size(ips) == 0)
        return 0;
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    int rc = names ? 0 : -1;
    size_t i;
    json_t *e;
    json_array_foreach(dns, i, e)
    {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        if (rc < 0 || !g || !s || ASN1_STRING_set(s, json_string_value(e), -1) != 1) {
            GENERAL_NAME_free(g);
            ASN1_IA5STRING_free(s);
            rc = -1;
            break;
        }
        GENERAL_NAME_set0_value(g, GEN_DNS, s);
        sk_GENERAL_NAME_push(names, g);
    }
    json_array_foreach(ips, i, e)
    {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(json_string_value(e));
        if (rc < 0 || !g || !ip) {
            GENERAL_NAME_free(g);
            ASN1_OCTET_STRING_free(ip);
            rc = -1;
            break;
        }
        GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
        sk_GENERAL_NAME_push(names, g);
    }
    if (rc == 0 && X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1)
        rc = -1;
    GENERAL_NAMES_free(names);
    return rc;
}

/* A random positive serial of up to 127 bits (RFC 5280 allows 20 octets). */
static int set_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int set_name(X509_NAME *n, const char *field, const char *value)
{
    return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value, -1,
                                      -1, 0) == 1
               ? 0
               : -1;
}

/* Ed25519 signs the message itself; the others sign a SHA-256 digest. */
static const EVP_MD *digest_for(EVP_PKEY *signer)
{
    return EVP_PKEY_is_a(signer, "ED25519") ? NULL : EVP_sha256();
}

/*
 * The certificate for spec, with key as its key, signed by ca_key (and
 * issued by ca_cert) or self-signed when ca_cert is NULL. NULL when
 * OpenSSL refuses (the caller reports it).
 */
static X509 *build_cert(const struct spec *s, EVP_PKEY *key, X509 *ca_cert, EVP_PKEY *ca_key)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_NAME *subject = X509_get_subject_name(x);
    int bad = X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) < 0 ||
              !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
              !X509_gmtime_adj(X509_getm_notAfter(x), s->validity_s) ||
              (s->org && *s->org && set_name(subject, "O", s->org) < 0) ||
              set_name(subject, "CN", s->cn) < 0 || X509_set_pubkey(x, key) != 1 ||
              X509_set_issuer_name(x, ca_cert ? X509_get_subject_name(ca_cert) : subject) != 1;

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca_cert ? ca_cert : x, x, NULL, NULL, 0);
    if (!bad && s->is_ca)
        bad = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
              add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") < 0;
    else if (!bad)
        /* keyEncipherment only means something for RSA key transport. */
        bad = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
              add_ext(x, &ctx, NID_key_usage,
                      EVP_PKEY_is_a(key, "RSA") ? "critical,digitalSignature,keyEncipherment"
                                                : "critical,digitalSignature") < 0 ||
              add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") < 0;
    if (!bad)
        bad = add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
              add_sans(x, s->dns, s->ips) < 0;
    /* A self-signed certificate is its own authority; RFC 5280 lets it
     * leave the authority key identifier out. */
    if (!bad && ca_cert)
        bad = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0;
    EVP_PKEY *signer = ca_cert ? ca_key : key;
    if (!bad && X509_sign(x, signer, digest_for(signer)) <= 0)
        bad = 1;
    if (bad) {
        X509_free(x);
        ERR_clear_error();
        return NULL;
    }
    return x;
}

/* The contents of a memory BIO as a string; caller frees. */
static char *bio_text(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    return n > 0 ? sf_xstrndup(data, (size_t)n) : NULL;
}

static char *cert_pem_text(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = b && PEM_write_bio_X509(b, x) == 1 ? bio_text(b) : NULL;
    BIO_free(b);
    return s;
}

/* PKCS#8, unencrypted. The BIO lives in OpenSSL's secure memory, which
 * is wiped when freed; the caller wipes the returned copy. */
static char *key_pem_text(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_secmem());
    char *s = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 ? bio_text(b)
                                                                                    : NULL;
    BIO_free(b);
    return s;
}

static void wipe(char *s)
{
    if (s)
        OPENSSL_clear_free(s, strlen(s));
}

/* An ASN1_TIME as RFC 3339 text in UTC, and as a time_t. */
static int asn1_time(const ASN1_TIME *t, char out[32], time_t *when)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    if (out)
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (when)
        *when = timegm(&tm);
    return 0;
}

static char *serial_hex(X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *h = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    char *out = h ? sf_xstrdup(h) : NULL;
    OPENSSL_free(h);
    return out;
}

static int cert_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    struct spec s;
    if (read_spec(c, desired, &s) < 0)
        return -1;
    if (!s.cn || !s.alg || s.validity_s < 0) {
        err(c, "cannot make the certificate: some of its inputs are still unknown");
        return -1;
    }
    X509 *ca_cert = NULL;
    EVP_PKEY *ca_key = NULL;
    if (s.ca_cert && load_ca(c, s.ca_cert, s.ca_key, &ca_cert, &ca_key) < 0)
        return -1;

    EVP_PKEY *key = generate_key(s.alg);
    X509 *x = key ? build_cert(&s, key, ca_cert, ca_key) : NULL;
    char *cert = x ? cert_pem_text(x) : NULL;
    char *keytext = x ? key_pem_text(key) : NULL;
    char nb[32], na[32];
    char *serial = x ? serial_hex(x) : NULL;
    int rc = -1;
    if (!key)
        err(c, "cannot generate a %s key: OpenSSL refused", s.alg);
    else if (!x || !cert || !keytext || !serial ||
             asn1_time(X509_get0_notBefore(x), nb, NULL) < 0 ||
             asn1_time(X509_get0_notAfter(x), na, NULL) < 0)
        err(c, "cannot make the certificate: OpenSSL refused");
    else
        rc = 0;
    ERR_clear_error();

    if (rc == 0) {
        const char *ca_pem = s.ca_cert ? s.ca_cert : cert;
        char *bundle = sf_base64_encode(ca_pem, strlen(ca_pem));
        json_t *o = sf_value_copy(desired);
        json_object_set_new(o, "cert_pem", json_string(cert));
        json_object_set_new(o, "key_pem", json_string(keytext));
        json_object_set_new(o, "ca_pem", json_string(ca_pem));
        json_object_set_new(o, "ca_bundle_base64", json_string(bundle));
        json_object_set_new(o, "not_before", json_string(nb));
        json_object_set_new(o, "not_after", json_string(na));
        json_object_set_new(o, "serial", json_string(serial));
        json_object_set_new(o, "id", json_string(serial));
        free(bundle);
        *out = o;
    }
    free(serial);
    wipe(keytext);
    free(cert);
    X509_free(x);
    EVP_PKEY_free(key);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    return rc;
}

/* Nothing outside the state holds the certificate: what was recorded is
 * what exists. Its age is the renew hook's business. */
static int cert_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = sf_value_copy(prior);
    return 0;
}

/* Only renew_before changes in place, and it changes nothing in the
 * certificate: carry the recorded one over. */
static int cert_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                       json_t **out)
{
    json_t *o = sf_value_copy(desired);
    for (size_t i = 0; computed[i]; i++) {
        json_t *v = json_object_get(prior, computed[i]);
        if (v)
            json_object_set_new(o, computed[i], sf_value_copy(v));
        else
            json_object_del(o, computed[i]);
    }
    *out = o;
    return 0;
}

static int cert_delete(struct sf_call *c, const json_t *prior)
{
    return 0;
}

static int cert_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    return 0;
}

/* Checks the inputs while planning, so a bad one is reported with its
 * place in the description rather than half-way through an apply. */
static int cert_plan(struct sf_call *c, json_t *desired)
{
    struct spec s;
    return read_spec(c, desired, &s);
}

/* Due when now >= not_after - renew_before, renew_before as the
 * description says it now (so a longer one renews in the plan that sets
 * it), else as recorded. */
static int cert_renew(struct sf_call *c, const json_t *prior, const json_t *desired, char **why)
{
    *why = NULL;
    const json_t *src = desired;
    const json_t *rb = json_object_get(desired, "renew_before");
    if (!rb || sf_is_unknown(rb) || json_is_null(rb)) {
        src = prior;
        rb = json_object_get(prior, "renew_before");
    }
    long renew_s = duration_attr(c, src, "renew_before", DEFAULT_RENEW_BEFORE);
    if (renew_s == -1)
        return -1;
    if (renew_s < 0)
        renew_s = 0;
    const char *renew_text = json_is_string(rb) ? json_string_value(rb) : DEFAULT_RENEW_BEFORE;

    const char *pem = json_string_value(json_object_get(prior, "cert_pem"));
    X509 *x = pem ? parse_cert(pem) : NULL;
    char na[32];
    time_t not_after = 0;
    if (!x || asn1_time(X509_get0_notAfter(x), na, &not_after) < 0) {
        X509_free(x);
        ERR_clear_error();
        *why = sf_xstrdup("the recorded certificate cannot be read");
        return 1;
    }
    X509_free(x);
    time_t now = time(NULL);
    if (now < not_after - (time_t)renew_s)
        return 0;
    *why = now >= not_after
               ? sf_asprintf("the certificate expired %s", na)
               : sf_asprintf("the certificate expires %s, within renew_before %s", na, renew_text);
    return 1;
}

const struct sf_resource_type sf_local_tls_certificate_type = {
    .name = "tls_certificate",
    .doc = "an X.509 certificate and key made with OpenSSL, renewed by a plan before it expires",
    .attrs = attrs,
    .read = cert_read,
    .adopt = cert_adopt,
    .create = cert_create,
    .update = cert_update,
    .delete = cert_delete,
    .plan = cert_plan,
    .renew = cert_renew,
};

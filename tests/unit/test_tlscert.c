/*
 * Unit tests of the local provider's tls_certificate, called through its
 * resource type table as the engine calls it. Every certificate made here
 * is read back with OpenSSL and checked for what a TLS client checks:
 * names, validity, key usages, the chain to its CA (X509_verify_cert),
 * the key belonging to it. Also the renew hook's decision and reason,
 * input checks, and that the private key never reaches a plan's text,
 * its JSON, `show` or a message.
 */
#include <check.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "plan.h"
#include "provider.h"
#include "util.h"

static struct sf_diags diags;
static struct sf_call call;

static void setup(void)
{
    sf_diags_init(&diags);
    memset(&call, 0, sizeof(call));
    call.address = "tls_certificate.test";
    call.type = "tls_certificate";
    call.name = "test";
    call.stack = "unit";
    call.lineage = "lineage-1";
    call.config_dir = "/nonexistent";
    call.diags = &diags;
}

static void teardown(void)
{
    sf_diags_free(&diags);
}

static const struct sf_resource_type *tls_type(void)
{
    const struct sf_resource_type *rt = sf_provider_find_type("tls_certificate");
    ck_assert_ptr_nonnull(rt);
    ck_assert_str_eq(sf_provider_of_type("tls_certificate")->name, "local");
    return rt;
}

/* The description's values with the schema's defaults filled in, as the
 * engine hands them to create. */
static json_t *desired_of(const char *json)
{
    json_error_t e;
    json_t *v = json_loads(json, 0, &e);
    ck_assert_msg(v != NULL, "bad test JSON: %s", e.text);
    for (const struct sf_attr *a = tls_type()->attrs; a->name; a++)
        if (a->default_json && !json_object_get(v, a->name))
            json_object_set_new(v, a->name, json_loads(a->default_json, JSON_DECODE_ANY, NULL));
    return v;
}

static json_t *create(const char *json)
{
    json_t *desired = desired_of(json);
    json_t *out = NULL;
    ck_assert_int_eq(tls_type()->create(&call, desired, &out), 0);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);
    ck_assert_ptr_nonnull(out);
    json_decref(desired);
    return out;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    ck_assert_msg(s != NULL, "attribute %s missing", k);
    return s;
}

static X509 *cert_of(const json_t *o, const char *attr)
{
    BIO *b = BIO_new_mem_buf(str(o, attr), -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_msg(x != NULL, "%s does not parse as a PEM certificate", attr);
    return x;
}

static EVP_PKEY *key_of(const json_t *o, const char *attr)
{
    BIO *b = BIO_new_mem_buf(str(o, attr), -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_msg(k != NULL, "%s does not parse as a PEM private key", attr);
    return k;
}

/* X509_verify_cert of leaf against the one trusted root, as a TLS client
 * checking a server. The X509_V_ code. */
static int verify(X509 *leaf, X509 *root)
{
    X509_STORE *store = X509_STORE_new();
    ck_assert_int_eq(X509_STORE_add_cert(store, root), 1);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    int ok = X509_verify_cert(ctx);
    int code = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    if (ok == 1)
        ck_assert_int_eq(code, X509_V_OK);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return code;
}

/* Seconds from not_before to not_after. */
static long validity_of(X509 *x)
{
    int days = 0, secs = 0;
    ck_assert_int_eq(
        ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
    return (long)days * 86400 + secs;
}

static char *text_attr(X509 *x, const char *field)
{
    char buf[256];
    int nid = OBJ_txt2nid(field);
    ck_assert_int_ge(X509_NAME_get_text_by_NID(X509_get_subject_name(x), nid, buf, sizeof(buf)), 0);
    return sf_xstrdup(buf);
}

START_TEST(schema)
{
    const struct sf_resource_type *rt = tls_type();
    ck_assert_uint_eq(sf_schema_attr(rt, "common_name")->flags, SF_REQUIRED | SF_FORCE_NEW);
    ck_assert_uint_eq(sf_schema_attr(rt, "key_pem")->flags, SF_COMPUTED | SF_STABLE | SF_SENSITIVE);
    ck_assert_uint_eq(sf_schema_attr(rt, "ca_key_pem")->flags,
                      SF_OPTIONAL | SF_FORCE_NEW | SF_SENSITIVE);
    /* Every input but renew_before makes a new certificate. */
    const char *force[] = {"dns_names", "ip_addresses", "organization", "is_ca", "validity",
                           "key_algorithm", "ca_cert_pem"};
    for (size_t i = 0; i < sizeof(force) / sizeof(*force); i++)
        ck_assert_msg(sf_schema_attr(rt, force[i])->flags & SF_FORCE_NEW, "%s", force[i]);
    ck_assert_uint_eq(sf_schema_attr(rt, "renew_before")->flags, SF_OPTIONAL);
    ck_assert_str_eq(sf_schema_attr(rt, "renew_before")->default_json, "\"720h\"");
    ck_assert_str_eq(sf_schema_attr(rt, "validity")->default_json, "\"8760h\"");
    ck_assert_str_eq(sf_schema_attr(rt, "key_algorithm")->default_json, "\"ecdsa-p256\"");
    ck_assert_ptr_nonnull(rt->renew);
}
END_TEST

START_TEST(self_signed_leaf)
{
    json_t *o = create("{\"common_name\": \"spark-webhook\", \"organization\": \"analytics\","
                       " \"dns_names\": [\"spark-webhook.spark-operator.svc\", \"*.example.test\"],"
                       " \"ip_addresses\": [\"127.0.0.1\", \"::1\"], \"validity\": \"48h\"}");
    X509 *x = cert_of(o, "cert_pem");
    EVP_PKEY *k = key_of(o, "key_pem");

    char *cn = text_attr(x, "CN"), *org = text_attr(x, "O");
    ck_assert_str_eq(cn, "spark-webhook");
    ck_assert_str_eq(org, "analytics");
    free(cn);
    free(org);

    /* The names a TLS client checks, and nothing else. */
    ck_assert_int_eq(X509_check_host(x, "spark-webhook.spark-operator.svc", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(x, "a.example.test", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(x, "other.svc", 0, 0, NULL), 0);
    ck_assert_int_eq(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    ck_assert_int_eq(X509_check_ip_asc(x, "::1", 0), 1);
    ck_assert_int_eq(X509_check_ip_asc(x, "10.0.0.1", 0), 0);

    ck_assert_int_eq(validity_of(x), 48 * 3600);
    ck_assert_int_le(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
    ck_assert_int_ge(X509_cmp_current_time(X509_get0_notAfter(x)), 0);

    /* A leaf: server and client auth, not a CA; its key is the one given. */
    ck_assert_int_eq(X509_check_ca(x), 0);
    uint32_t xku = X509_get_extended_key_usage(x);
    ck_assert(xku & XKU_SSL_SERVER);
    ck_assert(xku & XKU_SSL_CLIENT);
    ck_assert_int_eq(X509_check_private_key(x, k), 1);
    ck_assert(EVP_PKEY_is_a(k, "EC"));
    ck_assert_int_eq(EVP_PKEY_get_bits(k), 256);
    ck_assert(strncmp(str(o, "key_pem"), "-----BEGIN PRIVATE KEY-----\n", 28) == 0);

    /* Self-signed: its own issuer, and it verifies against itself. */
    ck_assert_str_eq(str(o, "ca_pem"), str(o, "cert_pem"));
    ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    ck_assert_int_eq(X509_verify(x, k), 1);
    ck_assert_int_eq(verify(x, x), X509_V_OK);

    /* caBundle: ca_pem in base64. */
    const char *b64 = str(o, "ca_bundle_base64");
    unsigned char *dec = sf_xcalloc(strlen(b64), 1);
    int n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)strlen(b64));
    ck_assert_int_gt(n, 0);
    ck_assert(memcmp(dec, str(o, "ca_pem"), strlen(str(o, "ca_pem"))) == 0);
    free(dec);

    /* serial, id and the dates say what the certificate says. */
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = BN_bn2hex(bn);
    ck_assert_str_eq(str(o, "serial"), hex);
    ck_assert_str_eq(str(o, "id"), hex);
    OPENSSL_free(hex);
    BN_free(bn);
    struct tm tm;
    char want[32];
    ck_assert_int_eq(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), 1);
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
    ck_assert_str_eq(str(o, "not_after"), want);
    ck_assert_int_eq(ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm), 1);
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
    ck_assert_str_eq(str(o, "not_before"), want);

    EVP_PKEY_free(k);
    X509_free(x);
    json_decref(o);
}
END_TEST

START_TEST(ca_signed_chain_verifies)
{
    json_t *ca = create(
        "{\"common_name\": \"unit CA\", \"is_ca\": true, \"key_algorithm\": \"rsa-2048\"}");
    X509 *root = cert_of(ca, "cert_pem");
    ck_assert_int_ne(X509_check_ca(root), 0);
    ck_assert_int_eq(validity_of(root), 8760L * 3600);
    EVP_PKEY *rk = key_of(ca, "key_pem");
    ck_assert(EVP_PKEY_is_a(rk, "RSA"));
    ck_assert_int_eq(EVP_PKEY_get_bits(rk), 2048);
    EVP_PKEY_free(rk);

    /* A leaf for each key algorithm, signed by the CA. */
    const char *algs[] = {"ecdsa-p256", "rsa-2048", "ed25519"};
    const char *kinds[] = {"EC", "RSA", "ED25519"};
    for (size_t i = 0; i < 3; i++) {
        json_t *d = desired_of("{\"common_name\": \"leaf\", \"dns_names\": [\"leaf.svc\"]}");
        json_object_set_new(d, "key_algorithm", json_string(algs[i]));
        json_object_set(d, "ca_cert_pem", json_object_get(ca, "cert_pem"));
        json_object_set(d, "ca_key_pem", json_object_get(ca, "key_pem"));
        json_t *leaf = NULL;
        ck_assert_int_eq(tls_type()->create(&call, d, &leaf), 0);
        ck_assert_uint_eq(sf_diags_errors(&diags), 0);
        X509 *x = cert_of(leaf, "cert_pem");
        EVP_PKEY *k = key_of(leaf, "key_pem");
        ck_assert_msg(EVP_PKEY_is_a(k, kinds[i]), "%s", algs[i]);
        ck_assert_int_eq(X509_check_private_key(x, k), 1);
        ck_assert_int_eq(X509_check_ca(x), 0);
        ck_assert_int_eq(verify(x, root), X509_V_OK);
        ck_assert_int_eq(X509_check_host(x, "leaf.svc", 0, 0, NULL), 1);
        /* ca_pem is the issuer, not the leaf. */
        ck_assert_str_eq(str(leaf, "ca_pem"), str(ca, "cert_pem"));
        ck_assert_str_ne(str(leaf, "cert_pem"), str(ca, "cert_pem"));
        X509 *issuer = cert_of(leaf, "ca_pem");
        ck_assert_int_eq(X509_check_issued(issuer, x), X509_V_OK);
        X509_free(issuer);
        EVP_PKEY_free(k);
        X509_free(x);
        json_decref(leaf);
        json_decref(d);
    }

    /* Another CA with the same name does not vouch for these leaves. */
    json_t *other = create("{\"common_name\": \"unit CA\", \"is_ca\": true}");
    X509 *imposter = cert_of(other, "cert_pem");
    json_t *d = desired_of("{\"common_name\": \"leaf\"}");
    json_object_set(d, "ca_cert_pem", json_object_get(ca, "cert_pem"));
    json_object_set(d, "ca_key_pem", json_object_get(ca, "key_pem"));
    json_t *leaf = NULL;
    ck_assert_int_eq(tls_type()->create(&call, d, &leaf), 0);
    X509 *x = cert_of(leaf, "cert_pem");
    ck_assert_int_ne(verify(x, imposter), X509_V_OK);
    ck_assert_int_eq(verify(x, root), X509_V_OK);
    X509_free(x);
    json_decref(leaf);
    json_decref(d);
    X509_free(imposter);
    json_decref(other);
    X509_free(root);
    json_decref(ca);
}
END_TEST

START_TEST(every_create_is_new)
{
    json_t *a = create("{\"common_name\": \"same\"}");
    json_t *b = create("{\"common_name\": \"same\"}");
    ck_assert_str_ne(str(a, "serial"), str(b, "serial"));
    ck_assert_str_ne(str(a, "key_pem"), str(b, "key_pem"));
    ck_assert_str_ne(str(a, "cert_pem"), str(b, "cert_pem"));

    /* read keeps what was recorded; an update (renew_before only) keeps
     * the certificate and takes the new setting. */
    json_t *seen = NULL;
    ck_assert_int_eq(tls_type()->read(&call, a, &seen), 0);
    ck_assert(sf_value_equal(seen, a));
    json_decref(seen);
    json_t *d = desired_of("{\"common_name\": \"same\", \"renew_before\": \"48h\"}");
    json_t *u = NULL;
    ck_assert_int_eq(tls_type()->update(&call, a, d, &u), 0);
    ck_assert_str_eq(str(u, "cert_pem"), str(a, "cert_pem"));
    ck_assert_str_eq(str(u, "key_pem"), str(a, "key_pem"));
    ck_assert_str_eq(str(u, "renew_before"), "48h");
    ck_assert_int_eq(tls_type()->delete(&call, a), 0);
    json_decref(u);
    json_decref(d);
    json_decref(a);
    json_decref(b);
}
END_TEST

/* The renew hook on a fresh certificate: due or not by renew_before. */
START_TEST(renew_window)
{
    const struct sf_resource_type *rt = tls_type();
    json_t *o = create("{\"common_name\": \"w\", \"validity\": \"240h\"}");
    char *why = NULL;

    /* Default 720h is longer than 240h of validity: due at once. */
    json_t *d = desired_of("{\"common_name\": \"w\", \"validity\": \"240h\"}");
    ck_assert_int_eq(rt->renew(&call, o, d, &why), 1);
    char *want = sf_asprintf("the certificate expires %s, within renew_before 720h",
                             str(o, "not_after"));
    ck_assert_str_eq(why, want);
    free(want);
    free(why);
    why = NULL;

    /* 239h before a 240h expiry: not yet, an hour to go. */
    json_object_set_new(d, "renew_before", json_string("239h"));
    ck_assert_int_eq(rt->renew(&call, o, d, &why), 0);
    ck_assert_ptr_null(why);
    /* 240h5m: due (the description's value counts, not the recorded one). */
    json_object_set_new(d, "renew_before", json_string("240h5m"));
    ck_assert_int_eq(rt->renew(&call, o, d, &why), 1);
    ck_assert_ptr_nonnull(strstr(why, "within renew_before 240h5m"));
    free(why);
    why = NULL;

    /* Not known yet in the description: the recorded setting decides. */
    json_object_set(d, "renew_before", sf_unknown());
    json_object_set_new(o, "renew_before", json_string("1h"));
    ck_assert_int_eq(rt->renew(&call, o, d, &why), 0);
    json_object_set_new(o, "renew_before", json_string("300h"));
    ck_assert_int_eq(rt->renew(&call, o, d, &why), 1);
    free(why);
    why = NULL;

    /* A recorded certificate that does not parse is replaced, not kept. */
    json_t *broken = json_deep_copy(o);
    json_object_set_new(broken, "cert_pem", json_string("garbage"));
    json_object_set_new(d, "renew_before", json_string("1h"));
    ck_assert_int_eq(rt->renew(&call, broken, d, &why), 1);
    ck_assert_str_eq(why, "the recorded certificate cannot be read");
    free(why);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);
    json_decref(broken);
    json_decref(d);
    json_decref(o);
}
END_TEST

START_TEST(renew_expired)
{
    const struct sf_resource_type *rt = tls_type();
    const char *spec =
        "{\"common_name\": \"short\", \"validity\": \"1s\", \"renew_before\": \"0s\"}";
    json_t *o = create(spec);
    json_t *d = desired_of(spec);
    char *why = NULL;
    time_t start = time(NULL);
    /* Valid now (unless this second already ran out) ... */
    int first = rt->renew(&call, o, d, &why);
    if (time(NULL) == start)
        ck_assert_int_eq(first, 0);
    free(why);
    why = NULL;
    /* ... expired two seconds later. */
    sleep(2);
    ck_assert_int_eq(rt->renew(&call, o, d, &why), 1);
    char *want = sf_asprintf("the certificate expired %s", str(o, "not_after"));
    ck_assert_str_eq(why, want);
    free(want);
    free(why);
    json_decref(d);
    json_decref(o);
}
END_TEST

static bool diags_say(const char *word)
{
    for (size_t i = 0; i < diags.n; i++)
        if (strstr(diags.items[i].summary, word))
            return true;
    return false;
}

/* plan (what validate and plan run) refuses json with a message starting
 * with the attribute's name. */
static void refused(const char *json, const char *attr)
{
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    json_t *d = desired_of(json);
    ck_assert_int_lt(tls_type()->plan(&call, d), 0);
    ck_assert_msg(diags_say(attr), "no error about %s for %s", attr, json);
    json_t *out = NULL;
    ck_assert_int_lt(tls_type()->create(&call, d, &out), 0);
    ck_assert_ptr_null(out);
    json_decref(d);
}

START_TEST(bad_inputs)
{
    refused("{\"common_name\": \"\"}", "common_name");
    refused("{\"common_name\": \"x\", \"validity\": \"soon\"}", "validity");
    refused("{\"common_name\": \"x\", \"validity\": \"0\"}", "validity");
    refused("{\"common_name\": \"x\", \"renew_before\": \"-1h\"}", "renew_before");
    refused("{\"common_name\": \"x\", \"key_algorithm\": \"dsa\"}", "key_algorithm");
    refused("{\"common_name\": \"x\", \"ip_addresses\": [\"300.1.1.1\"]}", "ip_addresses[0]");
    refused("{\"common_name\": \"x\", \"dns_names\": [\"ok.svc\", \"bad,DNS:evil\"]}",
            "dns_names[1]");
    refused("{\"common_name\": \"x\", \"ca_cert_pem\": \"x\"}", "ca_key_pem go together");

    /* Values not known yet are left for later, not refused. */
    sf_diags_free(&diags);
    sf_diags_init(&diags);
    json_t *d = desired_of("{\"common_name\": \"x\"}");
    json_object_set(d, "ca_cert_pem", sf_unknown());
    json_object_set(d, "ca_key_pem", sf_unknown());
    json_object_set(d, "dns_names", sf_unknown());
    ck_assert_int_eq(tls_type()->plan(&call, d), 0);
    ck_assert_uint_eq(sf_diags_errors(&diags), 0);
    json_decref(d);
}
END_TEST

START_TEST(bad_ca)
{
    json_t *leaf = create("{\"common_name\": \"not a CA\"}");
    json_t *ca = create("{\"common_name\": \"CA\", \"is_ca\": true}");
    json_t *ca2 = create("{\"common_name\": \"CA2\", \"is_ca\": true}");
    const char *secret_line = str(ca, "key_pem") + 28; /* the first base64 line */
    char first[65];
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(secret_line, "\n"), secret_line);

    struct {
        const json_t *cert, *key;
        const char *says;
    } cases[] = {
        {leaf, leaf, "not a CA"},
        {ca, ca2, "does not belong"},
        {ca, NULL, "not an unencrypted PEM private key"},
    };
    for (size_t i = 0; i < 3; i++) {
        sf_diags_free(&diags);
        sf_diags_init(&diags);
        json_t *d = desired_of("{\"common_name\": \"x\"}");
        json_object_set(d, "ca_cert_pem", json_object_get(cases[i].cert, "cert_pem"));
        if (cases[i].key)
            json_object_set(d, "ca_key_pem", json_object_get(cases[i].key, "key_pem"));
        else /* the certificate where the key belongs */
            json_object_set(d, "ca_key_pem", json_object_get(cases[i].cert, "cert_pem"));
        ck_assert_int_lt(tls_type()->plan(&call, d), 0);
        ck_assert_msg(diags_say(cases[i].says), "case %zu", i);
        json_t *out = NULL;
        ck_assert_int_lt(tls_type()->create(&call, d, &out), 0);
        ck_assert_ptr_null(out);
        for (size_t j = 0; j < diags.n; j++) {
            ck_assert_ptr_null(strstr(diags.items[j].summary, first));
            ck_assert_ptr_null(strstr(diags.items[j].summary, "PRIVATE KEY"));
        }
        json_decref(d);
    }
    json_decref(leaf);
    json_decref(ca);
    json_decref(ca2);
}
END_TEST

static char *capture_render(const struct sf_plan *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sf_plan_render(f, p, false);
    fclose(f);
    return buf;
}

/* A renewal as the engine plans it, rendered every way: the reason is on
 * the plan line and in the JSON; no key is anywhere. */
START_TEST(key_never_rendered)
{
    const struct sf_resource_type *rt = tls_type();
    json_t *ca = create("{\"common_name\": \"CA\", \"is_ca\": true}");
    json_t *d = desired_of(
        "{\"common_name\": \"leaf\", \"validity\": \"24h\", \"renew_before\": \"25h\"}");
    json_object_set(d, "ca_cert_pem", json_object_get(ca, "cert_pem"));
    json_object_set(d, "ca_key_pem", json_object_get(ca, "key_pem"));
    json_t *leaf = NULL;
    ck_assert_int_eq(rt->create(&call, d, &leaf), 0);
    /* Base64 lines of both private keys: none may appear. */
    const char *keys[] = {str(leaf, "key_pem"), str(ca, "key_pem")};
    char lines[2][80];
    for (int i = 0; i < 2; i++) {
        const char *l = strchr(keys[i], '\n') + 1;
        snprintf(lines[i], sizeof(lines[i]), "%.*s", (int)strcspn(l, "\n"), l);
        ck_assert_uint_gt(strlen(lines[i]), 20);
    }

    char *why = NULL;
    ck_assert_int_eq(rt->renew(&call, leaf, d, &why), 1);
    struct sf_plan *p = sf_plan_new();
    struct sf_change *c = sf_plan_add_change(p);
    c->address = sf_xstrdup("tls_certificate.leaf");
    c->type = sf_xstrdup("tls_certificate");
    c->name = sf_xstrdup("leaf");
    c->sensitive = json_array();
    sf_diff(rt, leaf, leaf, d, NULL, 0, true, SF_REASON_RENEW, c);
    c->reason_detail = why;
    ck_assert_int_eq(c->action, SF_ACT_REPLACE);
    /* and a second leaf of the same CA, to be created: every input shown */
    struct sf_change *c2 = sf_plan_add_change(p);
    c2->address = sf_xstrdup("tls_certificate.other");
    c2->type = sf_xstrdup("tls_certificate");
    c2->name = sf_xstrdup("other");
    c2->sensitive = json_array();
    sf_diff(rt, NULL, NULL, d, NULL, 0, false, SF_REASON_NONE, c2);
    ck_assert_int_eq(c2->action, SF_ACT_CREATE);

    char *text = capture_render(p);
    char *reason = sf_asprintf(
        "  # (because the certificate expires %s, within renew_before 25h)\n",
        str(leaf, "not_after"));
    ck_assert_msg(strstr(text, "  # tls_certificate.leaf must be replaced\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, reason) != NULL, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "key_pem          = (sensitive value)"));
    ck_assert_ptr_nonnull(strstr(text, "ca_key_pem       = (sensitive value)"));
    ck_assert_ptr_nonnull(strstr(text, "Plan: 2 to add, 0 to change, 1 to destroy."));

    json_t *j = sf_plan_to_json(p);
    char *js = json_dumps(j, 0);
    json_t *rc0 = json_array_get(json_object_get(j, "resource_changes"), 0);
    ck_assert_str_eq(str(rc0, "action_reason"), "replace_because_renewal_due");
    ck_assert_str_eq(str(rc0, "action_reason_detail"), why);

    /* `show` of a state holding the certificate. */
    json_t *state = json_pack("{s:{s:{s:s, s:O}}}", "resources", "tls_certificate.leaf", "type",
                              "tls_certificate", "attributes", leaf);
    char *shown = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&shown, &n);
    sf_render_state(f, state, sf_provider_find_type, false);
    fclose(f);
    json_t *sj = sf_state_render_json(state, sf_provider_find_type);
    char *sjs = json_dumps(sj, 0);
    ck_assert_ptr_nonnull(strstr(shown, "(sensitive value)"));
    ck_assert_ptr_nonnull(strstr(shown, "BEGIN CERTIFICATE"));

    const char *outs[] = {text, js, shown, sjs};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 2; k++) {
            ck_assert_msg(strstr(outs[i], lines[k]) == NULL, "output %d holds key %d", i, k);
            ck_assert_ptr_null(strstr(outs[i], "PRIVATE KEY"));
        }

    free(sjs);
    json_decref(sj);
    free(shown);
    json_decref(state);
    free(js);
    json_decref(j);
    free(reason);
    free(text);
    sf_plan_free(p);
    json_decref(leaf);
    json_decref(d);
    json_decref(ca);
}
END_TEST

/* A saved plan keeps the reason for the apply that reads it. */
START_TEST(reason_in_plan_file)
{
    struct sf_plan *p = sf_plan_new();
    struct sf_change *c = sf_plan_add_change(p);
    c->address = sf_xstrdup("tls_certificate.x");
    c->type = sf_xstrdup("tls_certificate");
    c->name = sf_xstrdup("x");
    c->action = SF_ACT_REPLACE;
    c->reason = SF_REASON_RENEW;
    c->reason_detail =
        sf_xstrdup("the certificate expires 2027-01-10T00:00:00Z, within renew_before 720h");
    char path[] = "/tmp/sf-test-tlsplan-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(sf_plan_write(path, p, &diags), 0);
    struct sf_plan *q = NULL;
    ck_assert_int_eq(sf_plan_read(path, &q, &diags), 0);
    unlink(path);
    ck_assert_int_eq(q->changes[0].reason, SF_REASON_RENEW);
    ck_assert_str_eq(q->changes[0].reason_detail, c->reason_detail);
    sf_plan_free(q);
    sf_plan_free(p);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls_certificate");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, schema);
    tcase_add_test(tc, self_signed_leaf);
    tcase_add_test(tc, ca_signed_chain_verifies);
    tcase_add_test(tc, every_create_is_new);
    tcase_add_test(tc, renew_window);
    tcase_add_test(tc, renew_expired);
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, bad_ca);
    tcase_add_test(tc, key_never_rendered);
    tcase_add_test(tc, reason_in_plan_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

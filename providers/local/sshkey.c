/*
 * local_ssh_key: an ed25519 key pair generated on this machine, for the
 * SSH access the service's nodes are given. The key is made with OpenSSL and
 * encoded here in OpenSSH's own formats (the private key container and the
 * "ssh-ed25519 AAAA..." line) so that ssh and ssh-keygen accept it as is.
 * The private key is only ever in the state (sensitive) and, when asked, in
 * a 0600 file; it never appears in a message.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "local.h"
#include "util.h"

static const struct sf_attr attrs[] = {
    {"algorithm", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"ed25519\"",
     "key algorithm; only \"ed25519\""},
    {"comment", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"\"", "comment in the public key line"},
    {"private_key_path", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, NULL,
     "when set, the private key is written there, mode 0600"},
    {"public_key_path", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, NULL,
     "when set, the public key line is written there, mode 0644"},
    {"private_key_openssh", SF_STRING, SF_COMPUTED | SF_STABLE | SF_SENSITIVE, NULL,
     "the private key in OpenSSH format"},
    {"public_key_openssh", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "\"ssh-ed25519 AAAA... comment\""},
    {"fingerprint_sha256", SF_STRING, SF_COMPUTED | SF_STABLE, NULL,
     "\"SHA256:...\", as ssh-keygen -l prints it"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the fingerprint"},
    {NULL, 0, 0, NULL, NULL},
};

static const char *const computed[] = {"private_key_openssh", "public_key_openssh",
                                       "fingerprint_sha256", "id", NULL};

/* SSH wire encoding (RFC 4251): big-endian uint32, and strings as a length
 * followed by the bytes. */
static void put_u32(struct sf_buf *b, uint32_t v)
{
    char x[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    sf_buf_add(b, x, 4);
}

static void put_string(struct sf_buf *b, const void *s, size_t n)
{
    put_u32(b, (uint32_t)n);
    sf_buf_add(b, s, n);
}

static void put_cstring(struct sf_buf *b, const char *s)
{
    put_string(b, s, strlen(s));
}

/* Wipes a buffer that held key material before freeing it. */
static void buf_wipe(struct sf_buf *b)
{
    if (b->s)
        OPENSSL_cleanse(b->s, b->cap);
    sf_buf_free(b);
}

static void str_wipe(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

struct keypair {
    char *private_pem; /* the PEM-style OpenSSH private key, wiped on free */
    char *public_line;
    char *fingerprint;
};

static void keypair_free(struct keypair *k)
{
    str_wipe(k->private_pem);
    free(k->public_line);
    free(k->fingerprint);
}

/* The OpenSSH private key container, unencrypted ("openssh-key-v1",
 * see PROTOCOL.key in OpenSSH). */
static char *encode_private(const unsigned char pub[32], const unsigned char priv[32],
                            const struct sf_buf *blob, const char *comment)
{
    uint32_t check;
    if (RAND_bytes((unsigned char *)&check, sizeof(check)) != 1)
        abort();

    struct sf_buf inner = {0};
    put_u32(&inner, check);
    put_u32(&inner, check);
    put_cstring(&inner, "ssh-ed25519");
    put_string(&inner, pub, 32);
    unsigned char both[64];
    memcpy(both, priv, 32);
    memcpy(both + 32, pub, 32);
    put_string(&inner, both, 64);
    OPENSSL_cleanse(both, sizeof(both));
    put_cstring(&inner, comment);
    /* Pad to the cipher block size, which is 8 for "none". */
    for (char pad = 1; inner.len % 8 != 0; pad++)
        sf_buf_add(&inner, &pad, 1);

    struct sf_buf whole = {0};
    sf_buf_add(&whole, "openssh-key-v1", sizeof("openssh-key-v1")); /* with its NUL */
    put_cstring(&whole, "none");
    put_cstring(&whole, "none");
    put_cstring(&whole, "");
    put_u32(&whole, 1);
    put_string(&whole, blob->s, blob->len);
    put_string(&whole, inner.s, inner.len);
    buf_wipe(&inner);

    char *text = sf_base64_encode(whole.s, whole.len);
    buf_wipe(&whole);

    struct sf_buf pem = {0};
    sf_buf_puts(&pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += 70) {
        sf_buf_add(&pem, text + i, n - i < 70 ? n - i : 70);
        sf_buf_add(&pem, "\n", 1);
    }
    sf_buf_puts(&pem, "-----END OPENSSH PRIVATE KEY-----\n");
    str_wipe(text);
    return sf_buf_take(&pem);
}

static int generate(struct sf_call *c, const char *comment, struct keypair *k)
{
    memset(k, 0, sizeof(*k));
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    unsigned char pub[32], priv[32];
    size_t publen = sizeof(pub), privlen = sizeof(priv);
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1 ||
        EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1 ||
        EVP_PKEY_get_raw_private_key(pkey, priv, &privlen) != 1 || publen != 32 ||
        privlen != 32) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                    "cannot generate an ed25519 key: OpenSSL refused");
        EVP_PKEY_free(pkey);
        EVP_PKEY_CTX_free(ctx);
        OPENSSL_cleanse(priv, sizeof(priv));
        return -1;
    }
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);

    struct sf_buf blob = {0};
    put_cstring(&blob, "ssh-ed25519");
    put_string(&blob, pub, 32);

    k->private_pem = encode_private(pub, priv, &blob, comment);
    OPENSSL_cleanse(priv, sizeof(priv));

    char *pub64 = sf_base64_encode(blob.s, blob.len);
    k->public_line = comment[0] ? sf_asprintf("ssh-ed25519 %s %s", pub64, comment)
                                : sf_asprintf("ssh-ed25519 %s", pub64);
    free(pub64);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(blob.s, blob.len, md, &mdlen, EVP_sha256(), NULL) != 1)
        abort();
    char *fp64 = sf_base64_encode(md, mdlen);
    /* ssh-keygen prints the fingerprint without base64 padding. */
    for (char *e = fp64 + strlen(fp64); e > fp64 && e[-1] == '='; e--)
        e[-1] = '\0';
    k->fingerprint = sf_asprintf("SHA256:%s", fp64);
    free(fp64);
    sf_buf_free(&blob);
    return 0;
}

/* A path attribute resolved against the description's directory, or NULL
 * when unset. Caller frees. */
static char *path_attr(const struct sf_call *c, const json_t *v, const char *name)
{
    const char *p = json_string_value(json_object_get(v, name));
    return p && *p ? sf_local_path_resolve(c, p) : NULL;
}

static int key_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    json_t *alg = json_object_get(desired, "algorithm");
    if (alg && !json_is_null(alg) &&
        !(json_is_string(alg) && strcmp(json_string_value(alg), "ed25519") == 0)) {
        if (json_is_string(alg))
            sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                        "algorithm: \"%s\" is not supported; only \"ed25519\" is supported",
                        json_string_value(alg));
        else
            sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                        "algorithm: expected a string; only \"ed25519\" is supported");
        return -1;
    }
    const char *comment = json_string_value(json_object_get(desired, "comment"));
    if (!comment)
        comment = "";
    if (strchr(comment, '\n')) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                    "comment: must be a single line");
        return -1;
    }

    struct keypair k;
    if (generate(c, comment, &k) < 0)
        return -1;

    int rc = 0;
    char *priv_path = path_attr(c, desired, "private_key_path");
    char *pub_path = path_attr(c, desired, "public_key_path");
    if (priv_path)
        rc = sf_local_write(c, priv_path, k.private_pem, strlen(k.private_pem), 0600);
    if (rc == 0 && pub_path) {
        char *line = sf_asprintf("%s\n", k.public_line);
        rc = sf_local_write(c, pub_path, line, strlen(line), 0644);
        free(line);
    }
    free(priv_path);
    free(pub_path);
    if (rc == 0) {
        json_t *o = sf_value_copy(desired);
        json_object_set_new(o, "private_key_openssh", json_string(k.private_pem));
        json_object_set_new(o, "public_key_openssh", json_string(k.public_line));
        json_object_set_new(o, "fingerprint_sha256", json_string(k.fingerprint));
        json_object_set_new(o, "id", json_string(k.fingerprint));
        *out = o;
    }
    keypair_free(&k);
    return rc;
}

/* The key itself exists only where it was written; a deleted private key
 * file means the key has to be made again. */
static int key_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    char *priv_path = path_attr(c, prior, "private_key_path");
    if (priv_path) {
        struct stat st;
        if (stat(priv_path, &st) < 0) {
            int e = errno;
            if (e != ENOENT && e != ENOTDIR) {
                sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                            "cannot check \"%s\": %s", priv_path, strerror(e));
                free(priv_path);
                return -1;
            }
            free(priv_path);
            return 0;
        }
        free(priv_path);
    }
    *out = sf_value_copy(prior);
    return 0;
}

/* Every configurable attribute forces a new key, so an update only carries
 * the recorded key over to the new description. */
static int key_update(struct sf_call *c, const json_t *prior, const json_t *desired, json_t **out)
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

static int key_delete(struct sf_call *c, const json_t *prior)
{
    int rc = 0;
    const char *names[] = {"private_key_path", "public_key_path"};
    for (size_t i = 0; i < 2; i++) {
        char *p = path_attr(c, prior, names[i]);
        if (p && unlink(p) < 0 && errno != ENOENT && errno != ENOTDIR) {
            sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "cannot remove \"%s\": %s", p,
                        strerror(errno));
            rc = -1;
        }
        free(p);
    }
    return rc;
}

/* Nothing outside this machine holds the key, and create overwrites any
 * file a killed run left behind, so there is never anything to adopt. */
static int key_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    return 0;
}

const struct sf_resource_type sf_local_ssh_key_type = {
    .name = "local_ssh_key",
    .doc = "an ed25519 SSH key pair generated on this machine",
    .attrs = attrs,
    .read = key_read,
    .adopt = key_adopt,
    .create = key_create,
    .update = key_update,
    .delete = key_delete,
};

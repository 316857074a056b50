/*
 * Encryption at rest (state_crypt.h): key derivation (PBKDF2-HMAC-SHA256 for a
 * passphrase, HKDF-SHA256 for a random key), AES-256-GCM seals, and the
 * envelope a sealed state or plan file is. All cryptography is OpenSSL's;
 * this file only decides the parameters and the layout.
 *
 * Deriving a key from a passphrase is deliberately slow, so derived keys
 * are kept for the life of the crypt: the writing key (one fresh salt per
 * process) and up to CACHE_KEYS keys met while reading.
 */
#include "base64.h"
#include "state_crypt.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ENVELOPE_VERSION 1
#define KDF_PBKDF2 "pbkdf2-sha256"
#define KDF_HKDF "hkdf-sha256"
/* OWASP's figure for PBKDF2-HMAC-SHA256 (2023). */
#define PBKDF2_ITER 600000
/* What a reader accepts: a header asking for more would only burn time. */
#define PBKDF2_ITER_MAX 10000000
#define SALT_LEN 16
#define NONCE_LEN 12
#define TAG_LEN 16
#define KEY_LEN 32
/* A random key for hkdf: at least as many bytes as the key it becomes. */
#define HKDF_MIN_SECRET 32
#define HKDF_INFO "sparkform encryption v1"
#define CACHE_KEYS 8

/* A key derived from one secret with one salt. */
struct dkey {
    bool used;
    int which; /* 0: key, 1: old_key */
    char kdf[16];
    long iter; /* 0 for hkdf */
    unsigned char salt[SALT_LEN];
    unsigned char key[KEY_LEN];
    char id[9];
};

struct sf_crypt {
    char *secret[2];
    char *from[2];
    char *kdf; /* for writing */
    pthread_mutex_t mu;
    struct dkey write;
    struct dkey cache[CACHE_KEYS];
    size_t next; /* the cache slot to reuse next */
};

struct sf_crypt *sf_crypt_new(const struct sf_crypt_cfg *cfg, struct sf_diags *d)
{
    const char *kdf = cfg->kdf ? cfg->kdf : KDF_PBKDF2;
    if (strcmp(kdf, KDF_PBKDF2) != 0 && strcmp(kdf, KDF_HKDF) != 0) {
        sf_error(d, NULL, "unknown key derivation \"%s\"; expected %s or %s", kdf, KDF_PBKDF2,
                 KDF_HKDF);
        return NULL;
    }
    if (!cfg->key || !*cfg->key) {
        sf_error(d, NULL, "state encryption needs a key");
        return NULL;
    }
    if (strcmp(kdf, KDF_HKDF) == 0 && strlen(cfg->key) < HKDF_MIN_SECRET) {
        /* HKDF does not slow down guessing: it is only safe for a key
         * that cannot be guessed. */
        sf_error(d, NULL,
                 "the key from %s is too short for kdf hkdf (%d characters at least, a random "
                 "key such as `openssl rand -base64 32` prints); use kdf pbkdf2 for a passphrase",
                 cfg->key_from ? cfg->key_from : "the description", HKDF_MIN_SECRET);
        return NULL;
    }
    struct sf_crypt *c = sf_xcalloc(1, sizeof(*c));
    c->secret[0] = sf_xstrdup(cfg->key);
    c->from[0] = sf_xstrdup(cfg->key_from ? cfg->key_from : "the description");
    if (cfg->old_key && *cfg->old_key) {
        c->secret[1] = sf_xstrdup(cfg->old_key);
        c->from[1] = sf_xstrdup(cfg->old_key_from ? cfg->old_key_from : "the description");
    }
    c->kdf = sf_xstrdup(kdf);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void sf_crypt_free(struct sf_crypt *c)
{
    if (!c)
        return;
    for (int i = 0; i < 2; i++) {
        free_secret(c->secret[i]);
        free(c->from[i]);
    }
    free(c->kdf);
    pthread_mutex_destroy(&c->mu);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

const char *sf_crypt_key_from(const struct sf_crypt *c)
{
    return c->from[0];
}

/* --- pieces ------------------------------------------------------------- */

/* Decode s into a new buffer; -1 when s is not base64. */
static int b64_decode(const char *s, unsigned char **out, size_t *n)
{
    *out = sf_base64_decode(s, n);
    return *out ? 0 : -1;
}

static int b64_decode_exact(const char *s, unsigned char *out, size_t want)
{
    unsigned char *buf;
    size_t n;
    if (b64_decode(s, &buf, &n) < 0)
        return -1;
    int rc = n == want ? 0 : -1;
    if (rc == 0)
        memcpy(out, buf, want);
    free(buf);
    return rc;
}

static int derive(const char *kdf, long iter, const unsigned char *salt, const char *secret,
                  unsigned char out[KEY_LEN])
{
    size_t slen = strlen(secret);
    if (strcmp(kdf, KDF_PBKDF2) == 0)
        return PKCS5_PBKDF2_HMAC(secret, (int)slen, salt, SALT_LEN, (int)iter, EVP_sha256(),
                                 KEY_LEN, out) == 1 ? 0 : -1;
    EVP_KDF *k = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = k ? EVP_KDF_CTX_new(k) : NULL;
    EVP_KDF_free(k);
    if (!ctx)
        return -1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, slen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, SALT_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)HKDF_INFO,
                                          strlen(HKDF_INFO)),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(ctx, out, KEY_LEN, params) == 1 ? 0 : -1;
    EVP_KDF_CTX_free(ctx);
    return rc;
}

/* The key's id: 8 hex digits of SHA-256 over a label and the key. */
static void key_id(const unsigned char key[KEY_LEN], char id[9])
{
    static const char label[] = "sparkform key id";
    unsigned char buf[sizeof(label) - 1 + KEY_LEN], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    memcpy(buf, label, sizeof(label) - 1);
    memcpy(buf + sizeof(label) - 1, key, KEY_LEN);
    EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_cleanse(buf, sizeof(buf));
    for (int i = 0; i < 4; i++)
        snprintf(id + 2 * i, 3, "%02x", md[i]);
}

static int fill_key(struct dkey *k, int which, const char *kdf, long iter,
                    const unsigned char salt[SALT_LEN], const char *secret)
{
    memset(k, 0, sizeof(*k));
    k->which = which;
    snprintf(k->kdf, sizeof(k->kdf), "%s", kdf);
    k->iter = iter;
    memcpy(k->salt, salt, SALT_LEN);
    if (derive(kdf, iter, salt, secret, k->key) < 0)
        return -1;
    key_id(k->key, k->id);
    k->used = true;
    return 0;
}

/* AES-256-GCM over in (n bytes) into out (n bytes) with the tag; decrypt
 * checks tag. Returns 0, or -1 (when decrypting: it does not authenticate). */
static int gcm(bool enc, const unsigned char key[KEY_LEN], const unsigned char nonce[NONCE_LEN],
               const char *aad, const unsigned char *in, size_t n, unsigned char *out,
               unsigned char tag[TAG_LEN])
{
    if (n > INT_MAX || strlen(aad) > INT_MAX)
        return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l = 0, rc = -1;
    if (!ctx)
        return -1;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &l, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        (n > 0 && EVP_CipherUpdate(ctx, out, &l, in, (int)n) != 1))
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + (n > 0 ? l : 0), &l) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* Seal plain: a new buffer nonce | ciphertext | tag of NONCE_LEN + n +
 * TAG_LEN bytes, or NULL. */
static unsigned char *seal_raw(const struct dkey *k, const char *aad, const void *plain, size_t n)
{
    unsigned char *out = sf_xmalloc(NONCE_LEN + n + TAG_LEN);
    if (RAND_bytes(out, NONCE_LEN) != 1 ||
        gcm(true, k->key, out, aad, plain, n, out + NONCE_LEN, out + NONCE_LEN + n) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Open nonce | ciphertext | tag (len bytes) into a new NUL-terminated
 * buffer; NULL when it does not authenticate. */
static char *open_raw(const struct dkey *k, const char *aad, unsigned char *sealed, size_t len,
                      size_t *n)
{
    if (len < NONCE_LEN + TAG_LEN)
        return NULL;
    *n = len - NONCE_LEN - TAG_LEN;
    char *out = sf_xmalloc(*n + 1);
    if (gcm(false, k->key, sealed, aad, sealed + NONCE_LEN, *n, (unsigned char *)out,
            sealed + NONCE_LEN + *n) < 0) {
        OPENSSL_cleanse(out, *n);
        free(out);
        return NULL;
    }
    out[*n] = '\0';
    return out;
}

/* --- keys --------------------------------------------------------------- */

/* The writing key, derived on first use with a fresh salt; NULL after an
 * error in d. The caller holds c->mu. */
static const struct dkey *write_key(struct sf_crypt *c, struct sf_diags *d)
{
    if (c->write.used)
        return &c->write;
    unsigned char salt[SALT_LEN];
    long iter = strcmp(c->kdf, KDF_PBKDF2) == 0 ? PBKDF2_ITER : 0;
    if (RAND_bytes(salt, SALT_LEN) != 1 || fill_key(&c->write, 0, c->kdf, iter, salt,
                                                    c->secret[0]) < 0) {
        sf_error(d, NULL, "cannot derive the encryption key from %s (OpenSSL failed)", c->from[0]);
        return NULL;
    }
    return &c->write;
}

static json_t *params_of(const struct sf_crypt *c, const struct dkey *k)
{
    char *salt = sf_base64_encode(k->salt, SALT_LEN);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s}", "kdf", k->kdf, "salt", salt, "key_id", k->id,
                          "key_from", c->from[k->which]);
    if (p && k->iter)
        json_object_set_new(p, "iter", json_integer(k->iter));
    free(salt);
    return p;
}

/* The key params name, from c's secrets: NULL with an error in d when the
 * parameters are malformed or neither secret gives the key they name. The
 * caller holds c->mu. */
static const struct dkey *find_key(struct sf_crypt *c, const json_t *params, const char *name,
                                   struct sf_diags *d)
{
    const char *kdf = json_string_value(json_object_get(params, "kdf"));
    const char *id = json_string_value(json_object_get(params, "key_id"));
    const char *from = json_string_value(json_object_get(params, "key_from"));
    json_t *iterj = json_object_get(params, "iter");
    long iter = json_is_integer(iterj) ? (long)json_integer_value(iterj) : 0;
    unsigned char salt[SALT_LEN];
    if (!kdf || (strcmp(kdf, KDF_PBKDF2) != 0 && strcmp(kdf, KDF_HKDF) != 0)) {
        sf_error(d, NULL, "%s names an unknown key derivation \"%s\"; this sparkform knows %s "
                          "and %s",
                 name, kdf ? kdf : "(none)", KDF_PBKDF2, KDF_HKDF);
        return NULL;
    }
    bool pbkdf2 = strcmp(kdf, KDF_PBKDF2) == 0;
    if ((pbkdf2 && (iter < 1000 || iter > PBKDF2_ITER_MAX)) || (!pbkdf2 && iterj) || !id ||
        strlen(id) != 8 || b64_decode_exact(json_string_value(json_object_get(params, "salt")),
                                            salt, SALT_LEN) < 0) {
        sf_error(d, NULL, "%s has a malformed encryption header (kdf, iter, salt, key_id); it "
                          "was not written by sparkform or was damaged",
                 name);
        return NULL;
    }
    for (int w = 0; w < 2; w++) {
        if (!c->secret[w])
            continue;
        const struct dkey *hit = NULL;
        if (c->write.used && w == 0 && strcmp(c->write.kdf, kdf) == 0 && c->write.iter == iter &&
            memcmp(c->write.salt, salt, SALT_LEN) == 0)
            hit = &c->write;
        for (size_t i = 0; i < CACHE_KEYS && !hit; i++) {
            const struct dkey *k = &c->cache[i];
            if (k->used && k->which == w && strcmp(k->kdf, kdf) == 0 && k->iter == iter &&
                memcmp(k->salt, salt, SALT_LEN) == 0)
                hit = k;
        }
        if (!hit) {
            struct dkey *k = &c->cache[c->next];
            c->next = (c->next + 1) % CACHE_KEYS;
            if (fill_key(k, w, kdf, iter, salt, c->secret[w]) < 0) {
                sf_error(d, NULL, "cannot derive the encryption key from %s (OpenSSL failed)",
                         c->from[w]);
                return NULL;
            }
            hit = k;
        }
        if (strcmp(hit->id, id) == 0)
            return hit;
    }
    if (c->secret[1])
        sf_error(d, NULL, "cannot decrypt %s with the key from %s (nor with old_key from %s): it "
                          "was encrypted with another key (key id %s, from %s)",
                 name, c->from[0], c->from[1], id, from ? from : "?");
    else
        sf_error(d, NULL, "cannot decrypt %s with the key from %s: it was encrypted with another "
                          "key (key id %s, from %s)",
                 name, c->from[0], id, from ? from : "?");
    sf_diag_detail(d, "Nothing was changed. Set state.encryption.key to the key it was encrypted "
                      "with, or, to change keys, the new one as key and the old one as old_key.");
    return NULL;
}

/* --- envelopes ---------------------------------------------------------- */

bool sf_crypt_is_sealed(const char *text, size_t len)
{
    /* Cheap first: every envelope carries the marker key. */
    if (!text || !memmem(text, len, "\"sparkform_encrypted\"", 21))
        return false;
    json_t *j = json_loadb(text, len, 0, NULL);
    bool is = json_is_object(j) && json_object_get(j, "sparkform_encrypted");
    json_decref(j);
    return is;
}

/* The additional data of an envelope: its header as compact JSON with
 * sorted keys. */
static char *header_aad(const json_t *env)
{
    json_t *hdr = json_copy((json_t *)env);
    json_object_del(hdr, "ciphertext");
    char *aad = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(hdr);
    return aad;
}

char *sf_crypt_seal(struct sf_crypt *c, const char *content, const void *plain, size_t len,
                    size_t *out_len, struct sf_diags *d)
{
    pthread_mutex_lock(&c->mu);
    const struct dkey *k = write_key(c, d);
    json_t *env = k ? params_of(c, k) : NULL;
    char *text = NULL;
    unsigned char nonce[NONCE_LEN];
    if (env && RAND_bytes(nonce, NONCE_LEN) == 1) {
        char *nb = sf_base64_encode(nonce, NONCE_LEN);
        json_object_set_new(env, "sparkform_encrypted", json_integer(ENVELOPE_VERSION));
        json_object_set_new(env, "content", json_string(content));
        json_object_set_new(env, "nonce", json_string(nb));
        free(nb);
        char *aad = header_aad(env);
        unsigned char *ct = sf_xmalloc(len + TAG_LEN);
        if (aad && gcm(true, k->key, nonce, aad, plain, len, ct, ct + len) == 0) {
            char *cb = sf_base64_encode(ct, len + TAG_LEN);
            json_object_set_new(env, "ciphertext", json_string(cb));
            free(cb);
            char *dump = json_dumps(env, JSON_INDENT(1) | JSON_SORT_KEYS);
            if (dump) {
                text = sf_asprintf("%s\n", dump);
                free(dump);
            }
        }
        free(ct);
        free(aad);
    }
    pthread_mutex_unlock(&c->mu);
    json_decref(env);
    if (!text && k)
        sf_error(d, NULL, "cannot encrypt the %s (OpenSSL failed)", content);
    if (text)
        *out_len = strlen(text);
    return text;
}

int sf_crypt_open(struct sf_crypt *c, const char *name, const char *content, const char *text,
                  size_t len, char **plain, size_t *plain_len, struct sf_diags *d)
{
    *plain = NULL;
    json_t *env = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *version = json_object_get(env, "sparkform_encrypted");
    const char *have = json_string_value(json_object_get(env, "content"));
    int rc = -1;
    if (!json_is_integer(version)) {
        sf_error(d, NULL, "%s is not an encrypted sparkform file", name);
    } else if (json_integer_value(version) != ENVELOPE_VERSION) {
        sf_error(d, NULL, "%s is encrypted in format %lld; this sparkform reads format %d (was "
                          "it written by a newer sparkform?)",
                 name, (long long)json_integer_value(version), ENVELOPE_VERSION);
    } else if (!have || strcmp(have, content) != 0) {
        sf_error(d, NULL, "%s is an encrypted %s, not a %s", name, have ? have : "(unknown)",
                 content);
    } else {
        unsigned char nonce[NONCE_LEN];
        unsigned char *ct = NULL;
        size_t ctlen = 0;
        char *aad = header_aad(env);
        pthread_mutex_lock(&c->mu);
        const struct dkey *k = find_key(c, env, name, d);
        if (k) {
            if (b64_decode_exact(json_string_value(json_object_get(env, "nonce")), nonce,
                                 NONCE_LEN) < 0 ||
                b64_decode(json_string_value(json_object_get(env, "ciphertext")), &ct, &ctlen) < 0 ||
                ctlen < TAG_LEN) {
                sf_error(d, NULL, "%s is damaged: its nonce or ciphertext is not what sparkform "
                                  "writes",
                         name);
            } else {
                size_t n = ctlen - TAG_LEN;
                char *out = sf_xmalloc(n + 1);
                if (aad && gcm(false, k->key, nonce, aad, ct, n, (unsigned char *)out, ct + n) == 0) {
                    out[n] = '\0';
                    *plain = out;
                    *plain_len = n;
                    rc = 0;
                } else {
                    free(out);
                    sf_error(d, NULL, "%s does not authenticate with the key from %s: it was "
                                      "damaged or altered, and was not used",
                             name, c->from[k->which]);
                }
            }
        }
        pthread_mutex_unlock(&c->mu);
        free(ct);
        free(aad);
    }
    json_decref(env);
    return rc;
}

int sf_crypt_open_self(const char *name, const char *content, const char *text, size_t len,
                       char **plain, size_t *plain_len, struct sf_diags *d)
{
    *plain = NULL;
    json_t *env = json_loadb(text, len, 0, NULL);
    const char *from = json_string_value(json_object_get(env, "key_from"));
    const char *secret = from && strncmp(from, "env ", 4) == 0 ? getenv(from + 4) : NULL;
    int rc = -1;
    if (!from || strncmp(from, "env ", 4) != 0) {
        sf_error(d, NULL, "%s is encrypted with the key from %s, which cannot be read without its "
                          "description; only a key from an environment variable "
                          "(state.encryption.key: {env: NAME}) opens a saved plan by itself",
                 name, from ? from : "an unknown source");
    } else if (!secret || !*secret) {
        sf_error(d, NULL, "%s is encrypted with the key from %s; set the environment variable %s",
                 name, from, from + 4);
    } else {
        struct sf_crypt_cfg cfg = {.key = secret, .key_from = from};
        struct sf_crypt *c = sf_crypt_new(&cfg, d);
        if (c)
            rc = sf_crypt_open(c, name, content, text, len, plain, plain_len, d);
        sf_crypt_free(c);
    }
    json_decref(env);
    return rc;
}

/* --- records ------------------------------------------------------------ */

json_t *sf_crypt_params(struct sf_crypt *c, struct sf_diags *d)
{
    pthread_mutex_lock(&c->mu);
    const struct dkey *k = write_key(c, d);
    json_t *p = k ? params_of(c, k) : NULL;
    pthread_mutex_unlock(&c->mu);
    return p;
}

char *sf_crypt_seal_record(struct sf_crypt *c, const char *aad, const void *plain, size_t len,
                           struct sf_diags *d)
{
    pthread_mutex_lock(&c->mu);
    const struct dkey *k = write_key(c, d);
    unsigned char *raw = k ? seal_raw(k, aad, plain, len) : NULL;
    pthread_mutex_unlock(&c->mu);
    if (!raw) {
        if (k)
            sf_error(d, NULL, "cannot encrypt a journal record (OpenSSL failed)");
        return NULL;
    }
    char *out = sf_base64_encode(raw, NONCE_LEN + len + TAG_LEN);
    free(raw);
    return out;
}

int sf_crypt_open_record(struct sf_crypt *c, const json_t *params, const char *name,
                         const char *aad, const char *sealed, char **plain, size_t *plain_len,
                         struct sf_diags *d)
{
    *plain = NULL;
    unsigned char *raw = NULL;
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    const struct dkey *k = find_key(c, params, name, d);
    int rc = -1;
    if (k) {
        if (b64_decode(sealed, &raw, &n) < 0 || !(*plain = open_raw(k, aad, raw, n, plain_len)))
            sf_error(d, NULL, "%s does not authenticate with the key from %s: it was damaged or "
                              "altered, and was not used",
                     name, c->from[k->which]);
        else
            rc = 0;
    }
    pthread_mutex_unlock(&c->mu);
    free(raw);
    return rc;
}

/*
 * Encryption of what holds secrets at rest: the state document (local
 * file, its backup, the S3 object), the records of its journal and saved
 * plan files. AES-256-GCM through OpenSSL's EVP, with a key derived from a
 * secret the user keeps outside the description (state.encryption in the
 * description, see config.c). The code is state/crypt.c; this header is
 * not named crypt.h, which would hide the system's <crypt.h> from the
 * files that include it through -Istate.
 *
 * A sealed file is one JSON object, the envelope:
 *
 *   {"sparkform_encrypted": 1, "content": "state" | "plan",
 *    "kdf": "pbkdf2-sha256" | "hkdf-sha256", "iter": 600000 (pbkdf2 only),
 *    "salt": b64, "key_id": "8 hex", "key_from": "env NAME",
 *    "nonce": b64 (12 bytes), "ciphertext": b64 (with the 16-byte GCM tag)}
 *
 * Everything but the ciphertext is the header; it is authenticated as the
 * GCM additional data (its compact JSON with sorted keys), so no field can
 * be changed without the file being refused. key_id is the start of a
 * hash of the derived key: it tells a wrong key apart from a damaged file
 * without revealing anything a decryption attempt would not. A process
 * derives its writing key once with a fresh random salt; every seal takes
 * a fresh random nonce. The journal uses the same pieces per record (the
 * key's parameters in its header, see journal.c).
 */
#ifndef SF_STATE_CRYPT_H
#define SF_STATE_CRYPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

/* What the description's state.encryption says, evaluated. The strings are
 * copied by sf_crypt_new. */
struct sf_crypt_cfg {
    const char *key;          /* the secret: writes use it, reads try it first */
    const char *key_from;     /* where it came from, for messages: "env NAME", "var.x" */
    const char *old_key;      /* a secret the data may still be sealed with, or NULL */
    const char *old_key_from;
    const char *kdf;          /* for writing: "pbkdf2-sha256" (NULL: it) or "hkdf-sha256" */
};

struct sf_crypt;

/* A crypt for cfg; NULL after errors in d (an unknown kdf, a secret too
 * short for hkdf). Free with sf_crypt_free, which wipes the secrets. */
struct sf_crypt *sf_crypt_new(const struct sf_crypt_cfg *cfg, struct sf_diags *d);
void sf_crypt_free(struct sf_crypt *c);
/* Where the writing key came from ("env NAME"). */
const char *sf_crypt_key_from(const struct sf_crypt *c);

/* Whether text is an envelope (of any content). */
bool sf_crypt_is_sealed(const char *text, size_t len);

/* Seal plain as an envelope of content ("state", "plan"): a new string
 * (caller frees) of *out_len bytes ending in a newline, or NULL after
 * errors in d. */
char *sf_crypt_seal(struct sf_crypt *c, const char *content, const void *plain, size_t len,
                    size_t *out_len, struct sf_diags *d);
/* Open the envelope text read from name (for messages), which must be of
 * content: *plain (caller frees, NUL-terminated) and *plain_len. A wrong
 * key, a damaged or altered envelope, or one of other content is an error
 * in d naming name and where the keys come from (never the keys). */
int sf_crypt_open(struct sf_crypt *c, const char *name, const char *content, const char *text,
                  size_t len, char **plain, size_t *plain_len, struct sf_diags *d);
/* Open an envelope with the key its header names (key_from "env NAME"),
 * for a file read without a description: a saved plan. */
int sf_crypt_open_self(const char *name, const char *content, const char *text, size_t len,
                       char **plain, size_t *plain_len, struct sf_diags *d);

/* Records: many small seals under one key whose parameters are stored once
 * (the journal's header). */
/* The parameters of the writing key {kdf, iter, salt, key_id, key_from}:
 * a new object, or NULL after errors in d. */
json_t *sf_crypt_params(struct sf_crypt *c, struct sf_diags *d);
/* Seal plain with the writing key and aad: base64 of nonce, ciphertext and
 * tag (caller frees), or NULL after errors in d. */
char *sf_crypt_seal_record(struct sf_crypt *c, const char *aad, const void *plain, size_t len,
                           struct sf_diags *d);
/* Open a record sealed under params with aad; errors name name. */
int sf_crypt_open_record(struct sf_crypt *c, const json_t *params, const char *name,
                         const char *aad, const char *sealed, char **plain, size_t *plain_len,
                         struct sf_diags *d);

#endif

/*
 * Base64 and SSH fingerprints (base64.h). OpenSSL's block functions do the
 * coding; this file adds what they leave out: whitespace in the input, the
 * padding EVP_DecodeBlock counts as zero bytes, and the wiping of copies.
 */
#include "base64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

char *sf_base64_encode(const void *data, size_t n)
{
    char *out = sf_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    return out;
}

unsigned char *sf_base64_decode(const char *text, size_t *len)
{
    size_t n = text ? strlen(text) : 0, m = 0;
    char *clean = sf_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n", text[i]))
            clean[m++] = text[i];
    clean[m] = '\0';
    unsigned char *out = NULL;
    *len = 0;
    if (m % 4 == 0) {
        out = sf_xmalloc(m / 4 * 3 + 1);
        int got = m ? EVP_DecodeBlock(out, (const unsigned char *)clean, (int)m) : 0;
        if (got < 0) {
            free(out);
            out = NULL;
        } else {
            size_t pad = m && clean[m - 1] == '=' ? (m > 1 && clean[m - 2] == '=' ? 2 : 1) : 0;
            *len = (size_t)got - pad;
            out[*len] = '\0';
        }
    }
    OPENSSL_cleanse(clean, n + 1);
    free(clean);
    return out;
}

char *sf_ssh_fingerprint(const unsigned char sha256[32])
{
    char *b64 = sf_base64_encode(sha256, 32);
    size_t n = strlen(b64);
    while (n > 0 && b64[n - 1] == '=')
        b64[--n] = '\0';
    char *fp = sf_asprintf("SHA256:%s", b64);
    free(b64);
    return fp;
}

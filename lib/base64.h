/*
 * Base64 (RFC 4648, padded, no line breaks) through OpenSSL, for every
 * part that writes or reads it: Kubernetes data, HTTP Basic credentials,
 * key and certificate files, known_hosts entries, sealed states, the
 * base64() function of descriptions. And the SHA256:... fingerprint of an
 * SSH host key, as ssh-keygen prints it.
 */
#ifndef SF_BASE64_H
#define SF_BASE64_H

#include <stddef.h>

/* The base64 of n bytes; a new string. */
char *sf_base64_encode(const void *data, size_t n);

/* The bytes text stands for, ASCII whitespace skipped (PEM bodies and
 * wrapped lines); *len their count. NUL-terminated for convenience; NULL
 * when text is not base64. The copy it works on is wiped (keys pass
 * through here). Caller frees. */
unsigned char *sf_base64_decode(const char *text, size_t *len);

/* "SHA256:" and the unpadded base64 of a SHA-256 digest; a new string. */
char *sf_ssh_fingerprint(const unsigned char sha256[32]);

#endif

/*
 * Credentials and host-key checks for the git fetches of gitsrc.c, as
 * libgit2's credentials and certificate_check callbacks.
 *
 * ssh: the ssh-agent (when SSH_AUTH_SOCK is set), then a key file
 * (SPARKFORM_GIT_SSH_KEY, else ~/.ssh/id_ed25519 and ~/.ssh/id_rsa), each
 * offered once, as the URL's user or "git"; the server's host key must be
 * in ~/.ssh/known_hosts or $SPARKFORM_GIT_KNOWN_HOSTS (an unknown or a
 * changed key is refused, never trusted on first use). https: the URL's
 * own user:password, else SPARKFORM_GIT_TOKEN as the password of the
 * URL's user or "x-access-token". A refusal is kept in struct sf_gitauth
 * so that gitsrc.c reports it rather than libgit2's shorter words; no
 * message ever holds a password, token or key.
 */
#ifndef SF_GITAUTH_H
#define SF_GITAUTH_H

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>

#define SF_GITAUTH_MAX_METHODS 4

struct sf_gitauth {
    const char *url; /* borrowed: what is fetched (it may hold credentials) */
    /* ssh methods, made at the first request and offered in order, once. */
    bool listed;
    size_t n_methods, next;
    char *methods[SF_GITAUTH_MAX_METHODS]; /* NULL: the agent; else a key file */
    char *user;                            /* who the ssh methods log in as */
    bool token_offered;                    /* https: SPARKFORM_GIT_TOKEN was given */
    char *failure;                         /* why a callback refused, or NULL */
    char *hint;                            /* what to do about it, or NULL */
};

/* Ready for a fetch of url (borrowed, alive until sf_gitauth_free). */
void sf_gitauth_init(struct sf_gitauth *a, const char *url);
/* Points cb's credentials and certificate_check at a. */
void sf_gitauth_callbacks(struct sf_gitauth *a, git_remote_callbacks *cb);
void sf_gitauth_free(struct sf_gitauth *a);

/* The endpoint of an ssh URL (ssh://[user@]host[:port]/path, its
 * ssh+git:// and git+ssh:// spellings, or the scp-like [user@]host:path):
 * 0 with *user (NULL when the URL names none), *host (both caller frees)
 * and *port (22 when not given); -1 when url is not an ssh URL. */
int sf_gitauth_ssh_endpoint(const char *url, char **user, char **host, int *port);

/* A server's host key, as known_hosts entries are compared with it. */
struct sf_hostkey {
    const char *type;          /* "ssh-ed25519", ...; NULL when libssh2 gives no raw key */
    const char *blob_b64;      /* the key blob in base64, as known_hosts holds it; or NULL */
    unsigned char sha256[32];  /* SHA-256 of the blob: compared when there is no blob */
};

enum sf_known {
    SF_KNOWN_NONE,    /* the line does not name the host (or is a comment, blank, @cert-authority) */
    SF_KNOWN_MATCH,   /* it names the host with this key */
    SF_KNOWN_OTHER,   /* it names the host with another key */
    SF_KNOWN_REVOKED, /* @revoked with this key */
};

/* One line of a known_hosts file against host at port (a plain host name
 * for port 22, else [host]:port, as ssh writes them; patterns with * and
 * ?, negations with !, and hashed |1|SALT|HMAC names). For
 * SF_KNOWN_OTHER, *type and *key_b64 are the line's (caller frees); they
 * are left alone otherwise. */
enum sf_known sf_gitauth_known_line(const char *line, const char *host, int port, const struct sf_hostkey *key,
                                    char **type, char **key_b64);

/* "SHA256:..." (base64 without padding, as ssh-keygen -l prints it) of a
 * key blob given in base64; NULL when it is not base64. Caller frees. */
char *sf_gitauth_fingerprint_b64(const char *blob_b64);

#endif

/*
 * Credentials and host-key checks for git fetches (gitauth.h). libgit2
 * (through libssh2, or its https transport) does the protocol; this file
 * only decides what to offer and whether the server is the one the user
 * knows. known_hosts is read here rather than with libssh2's knownhost
 * functions, which give up on a whole file at the first line they cannot
 * read (an @cert-authority line, a key type libssh2 does not know) and so
 * would refuse hosts that a user's ordinary known_hosts does list.
 */
#include "gitauth.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base64.h"
#include "gitsrc.h"
#include "util.h"

/* ---- fingerprints ---- */

static bool sha256_of(const unsigned char *data, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

char *sf_gitauth_fingerprint_b64(const char *blob_b64)
{
    size_t n;
    unsigned char *blob = sf_base64_decode(blob_b64, &n);
    unsigned char md[32];
    char *fp = blob && sha256_of(blob, n, md) ? sf_ssh_fingerprint(md) : NULL;
    free(blob);
    return fp;
}

/* ---- ssh endpoints ---- */

int sf_gitauth_ssh_endpoint(const char *url, char **user, char **host, int *port)
{
    *user = *host = NULL;
    *port = 22;
    const char *schemes[] = {"ssh://", "ssh+git://", "git+ssh://"};
    bool scheme = false;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        scheme = scheme || !strncmp(url, schemes[i], strlen(schemes[i]));
    if (scheme) {
        CURLU *u = curl_url();
        char *h = NULL, *usr = NULL, *p = NULL;
        int rc = -1;
        if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && *h) {
            curl_url_get(u, CURLUPART_USER, &usr, CURLU_URLDECODE);
            if (curl_url_get(u, CURLUPART_PORT, &p, 0) == CURLUE_OK)
                *port = atoi(p);
            /* known_hosts writes an IPv6 address without its brackets. */
            size_t hn = strlen(h);
            *host = h[0] == '[' && hn > 2 && h[hn - 1] == ']' ? sf_xstrndup(h + 1, hn - 2) : sf_xstrdup(h);
            *user = usr && *usr ? sf_xstrdup(usr) : NULL;
            rc = 0;
        }
        curl_free(h);
        curl_free(usr);
        curl_free(p);
        curl_url_cleanup(u);
        return rc;
    }
    if (strstr(url, "://"))
        return -1;
    /* scp-like: [user@]host:path, the host before the first ':' that comes
     * before any '/' (a local path has a '/' first). */
    const char *at = NULL, *p = url;
    if (*p == '/' || *p == '.')
        return -1;
    for (; *p && *p != ':' && *p != '/'; p++)
        if (*p == '@')
            at = p;
    const char *h = at ? at + 1 : url;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return -1;
        *host = sf_xstrndup(h + 1, (size_t)(close - h - 1));
    } else {
        if (*p != ':' || p == h)
            return -1;
        *host = sf_xstrndup(h, (size_t)(p - h));
    }
    *user = at ? sf_xstrndup(url, (size_t)(at - url)) : NULL;
    return 0;
}

/* ---- known_hosts ---- */

/* OpenSSH's host patterns: '*' and '?' as wildcards, case-insensitive;
 * anything else (brackets included) stands for itself. */
static bool pattern_match(const char *pat, const char *s, size_t pn)
{
    for (; pn > 0; pat++, pn--) {
        if (*pat == '*') {
            for (const char *t = s;; t++) {
                if (pattern_match(pat + 1, t, pn - 1))
                    return true;
                if (!*t)
                    return false;
            }
        }
        if (!*s || (*pat != '?' && tolower((unsigned char)*pat) != tolower((unsigned char)*s)))
            return false;
        s++;
    }
    return !*s;
}

/* A hashed name, |1|SALT|HMAC: HMAC-SHA1 of the name keyed with the salt. */
static bool hashed_match(const char *field, const char *name)
{
    const char *salt = field + 3, *bar = strchr(salt, '|');
    if (!bar)
        return false;
    char *salt_b64 = sf_xstrndup(salt, (size_t)(bar - salt));
    size_t salt_n = 0, want_n = 0;
    unsigned char *key = sf_base64_decode(salt_b64, &salt_n);
    unsigned char *want = sf_base64_decode(bar + 1, &want_n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_n = 0;
    bool ok = key && want && want_n == 20 &&
              HMAC(EVP_sha1(), key, (int)salt_n, (const unsigned char *)name, strlen(name), md, &md_n) &&
              md_n == 20 && CRYPTO_memcmp(md, want, 20) == 0;
    free(salt_b64);
    free(key);
    free(want);
    return ok;
}

/* Whether a known_hosts names field (comma-separated patterns, or one
 * hashed name) names name. */
static bool names_host(const char *field, const char *name)
{
    if (!strncmp(field, "|1|", 3))
        return hashed_match(field, name);
    bool yes = false;
    for (const char *p = field; *p;) {
        size_t n = strcspn(p, ",");
        bool negated = *p == '!';
        if (pattern_match(p + negated, name, n - negated)) {
            if (negated)
                return false; /* a negation wins over every other pattern */
            yes = true;
        }
        p += n + (p[n] == ',');
    }
    return yes;
}

static bool same_key(const struct sf_hostkey *key, const char *type, const char *b64)
{
    if (key->blob_b64)
        return key->type && !strcmp(type, key->type) && !strcmp(b64, key->blob_b64);
    size_t n;
    unsigned char *blob = sf_base64_decode(b64, &n), md[32];
    bool same = blob && sha256_of(blob, n, md) && CRYPTO_memcmp(md, key->sha256, 32) == 0;
    free(blob);
    return same;
}

enum sf_known sf_gitauth_known_line(const char *line, const char *host, int port, const struct sf_hostkey *key,
                                    char **type, char **key_b64)
{
    char *copy = sf_xstrdup(line), *save = NULL;
    char *fields[4] = {0};
    size_t n = 0;
    for (char *f = strtok_r(copy, " \t\r\n", &save); f && n < 4; f = strtok_r(NULL, " \t\r\n", &save))
        fields[n++] = f;
    enum sf_known verdict = SF_KNOWN_NONE;
    bool revoked = false;
    char **f = fields;
    if (n > 0 && f[0][0] == '@') {
        /* @revoked counts; @cert-authority names a CA, not a host key,
         * and host certificates are not what libgit2 hands over. */
        if (strcmp(f[0], "@revoked") != 0)
            goto out;
        revoked = true;
        f++;
        n--;
    }
    if (n < 3 || f[0][0] == '#')
        goto out;
    char *name = port == 22 ? sf_xstrdup(host) : sf_asprintf("[%s]:%d", host, port);
    bool named = names_host(f[0], name);
    free(name);
    if (!named)
        goto out;
    if (same_key(key, f[1], f[2])) {
        verdict = revoked ? SF_KNOWN_REVOKED : SF_KNOWN_MATCH;
    } else if (!revoked) {
        verdict = SF_KNOWN_OTHER;
        *type = sf_xstrdup(f[1]);
        *key_b64 = sf_xstrdup(f[2]);
    }
out:
    free(copy);
    return verdict;
}

static char *home_path(const char *rel)
{
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : "/";
    }
    return sf_asprintf("%s/%s", home, rel);
}

static const char *raw_type_name(git_cert_ssh_raw_type_t t)
{
    switch (t) {
    case GIT_CERT_SSH_RAW_TYPE_RSA: return "ssh-rsa";
    case GIT_CERT_SSH_RAW_TYPE_DSS: return "ssh-dss";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256: return "ecdsa-sha2-nistp256";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384: return "ecdsa-sha2-nistp384";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521: return "ecdsa-sha2-nistp521";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519: return "ssh-ed25519";
    default: return NULL;
    }
}

static int refuse(struct sf_gitauth *a, int rc, char *failure, char *hint)
{
    free(a->failure);
    free(a->hint);
    a->failure = failure;
    a->hint = hint;
    git_error_set_str(GIT_ERROR_SSH, failure);
    return rc;
}

/* What the first entry for the host with another key says. */
struct other {
    char *file, *type, *key;
    int line;
};

/* The server's key (hk) against the known_hosts files. */
static int check_host_key(struct sf_gitauth *a, const git_cert_hostkey *hk, const char *cb_host)
{
    char *user = NULL, *host = NULL;
    int port = 22;
    if (sf_gitauth_ssh_endpoint(a->url, &user, &host, &port) < 0)
        host = sf_xstrdup(cb_host ? cb_host : "");
    free(user);
    char *name = port == 22 ? sf_xstrdup(host) : sf_asprintf("[%s]:%d", host, port);
    struct sf_hostkey key = {0};
    char *blob_b64 = NULL;
    if ((hk->type & GIT_CERT_SSH_RAW) && raw_type_name(hk->raw_type) && hk->hostkey &&
        sha256_of((const unsigned char *)hk->hostkey, hk->hostkey_len, key.sha256)) {
        key.type = raw_type_name(hk->raw_type);
        blob_b64 = sf_base64_encode((const unsigned char *)hk->hostkey, hk->hostkey_len);
        key.blob_b64 = blob_b64;
    } else if (hk->type & GIT_CERT_SSH_SHA256) {
        memcpy(key.sha256, hk->hash_sha256, 32);
    } else {
        free(host);
        char *f = sf_asprintf("libssh2 gives neither the host key of %s nor its SHA-256 hash to check", name);
        free(name);
        return refuse(a, GIT_ECERTIFICATE, f, NULL);
    }
    char *offered_fp = sf_ssh_fingerprint(key.sha256);
    char *offered = sf_asprintf("%s%s%s", key.type ? key.type : "", key.type ? " " : "", offered_fp);

    const char *env = getenv("SPARKFORM_GIT_KNOWN_HOSTS");
    char *files[2] = {env && *env ? sf_xstrdup(env) : NULL, home_path(".ssh/known_hosts")};
    bool matched = false, revoked = false;
    struct other other = {0};
    char *unreadable = NULL;
    for (size_t i = 0; i < 2; i++) {
        if (!files[i])
            continue;
        FILE *f = fopen(files[i], "r");
        if (!f) {
            /* No ~/.ssh/known_hosts is an unknown host; a file named on
             * purpose must be there. */
            if (i == 0 && !unreadable)
                unreadable = sf_asprintf("SPARKFORM_GIT_KNOWN_HOSTS names %s, which cannot be read: %s", files[i],
                                         strerror(errno));
            continue;
        }
        char *line = NULL;
        size_t cap = 0;
        for (int no = 1; getline(&line, &cap, f) >= 0; no++) {
            struct other o = {0};
            switch (sf_gitauth_known_line(line, host, port, &key, &o.type, &o.key)) {
            case SF_KNOWN_MATCH: matched = true; break;
            case SF_KNOWN_REVOKED: revoked = true; break;
            case SF_KNOWN_OTHER:
                /* The entry of the offered key's type says most. */
                if (!other.file || (key.type && strcmp(other.type, key.type) && !strcmp(o.type, key.type))) {
                    free(other.file), free(other.type), free(other.key);
                    other = (struct other){.file = sf_xstrdup(files[i]), .line = no, .type = o.type, .key = o.key};
                    o.type = o.key = NULL;
                }
                break;
            case SF_KNOWN_NONE: break;
            }
            free(o.type);
            free(o.key);
        }
        free(line);
        fclose(f);
    }

    int rc = 0;
    char *add = blob_b64 ? sf_asprintf("  %s %s %s", name, key.type, blob_b64)
                         : sf_asprintf("  (the server's public key; ssh-keyscan -p %d %s prints it: check that its "
                                       "fingerprint is %s)",
                                       port, host, offered_fp);
    if (unreadable) {
        rc = refuse(a, GIT_ECERTIFICATE, unreadable, NULL);
        unreadable = NULL;
    } else if (revoked) {
        rc = refuse(a, GIT_ECERTIFICATE,
                    sf_asprintf("the host key of %s (%s) is marked @revoked in known_hosts", name, offered), NULL);
    } else if (matched) {
        rc = 0;
    } else if (other.file) {
        char *expected = sf_gitauth_fingerprint_b64(other.key);
        rc = refuse(a, GIT_ECERTIFICATE,
                    sf_asprintf("the host key of %s has changed: %s line %d expects %s %s, the server offers %s",
                                name, other.file, other.line, other.type, expected ? expected : "(an unreadable key)",
                                offered),
                    sf_asprintf("Someone may be intercepting the connection, or the server's key was replaced. "
                                "Only if its administrator confirms %s, replace line %d of %s with:\n%s",
                                offered_fp, other.line, other.file, add));
        free(expected);
    } else {
        char *where = files[0] ? sf_asprintf("%s, %s", files[1], files[0]) : sf_xstrdup(files[1]);
        rc = refuse(a, GIT_ECERTIFICATE,
                    sf_asprintf("the host key of %s is unknown: %s has no entry for it; the server offers %s", name,
                                where, offered),
                    sf_asprintf("sparkform never trusts a host it does not know. If %s is the server's key (check "
                                "it with its administrator), add this line to %s%s:\n%s",
                                offered_fp, files[1], files[0] ? " or to SPARKFORM_GIT_KNOWN_HOSTS" : "", add));
        free(where);
    }
    free(add);
    free(other.file), free(other.type), free(other.key);
    free(files[0]);
    free(files[1]);
    free(offered);
    free(offered_fp);
    free(blob_b64);
    free(name);
    free(host);
    return rc;
}

static int certificate_check(git_cert *cert, int valid, const char *host, void *payload)
{
    (void)valid;
    if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
        return GIT_PASSTHROUGH; /* https: the TLS library's verdict stands */
    return check_host_key(payload, (const git_cert_hostkey *)cert, host);
}

/* ---- credentials ---- */

static void list_methods(struct sf_gitauth *a)
{
    a->listed = true;
    const char *sock = getenv("SSH_AUTH_SOCK");
    if (sock && *sock)
        a->methods[a->n_methods++] = NULL;
    const char *key = getenv("SPARKFORM_GIT_SSH_KEY");
    if (key && *key) {
        a->methods[a->n_methods++] = sf_xstrdup(key);
        return;
    }
    const char *defaults[] = {".ssh/id_ed25519", ".ssh/id_rsa"};
    for (size_t i = 0; i < 2; i++) {
        char *path = home_path(defaults[i]);
        if (access(path, R_OK) == 0)
            a->methods[a->n_methods++] = path;
        else
            free(path);
    }
}

static char *method_name(const char *m)
{
    return m ? sf_asprintf("the key %s", m) : sf_xstrdup("the ssh-agent (SSH_AUTH_SOCK)");
}

static int ssh_key(struct sf_gitauth *a, git_credential **out)
{
    if (!a->listed)
        list_methods(a);
    if (a->next >= a->n_methods) {
        if (a->n_methods == 0)
            return refuse(a, GIT_EAUTH,
                          sf_asprintf("authentication failed: no ssh credentials to offer as %s (no ssh-agent, "
                                      "no SPARKFORM_GIT_SSH_KEY, no ~/.ssh/id_ed25519 or ~/.ssh/id_rsa)",
                                      a->user),
                          sf_xstrdup("Start an ssh-agent holding the key (SSH_AUTH_SOCK), or set "
                                     "SPARKFORM_GIT_SSH_KEY to a private key file (its passphrase in "
                                     "SPARKFORM_GIT_SSH_PASSPHRASE)."));
        struct sf_buf tried = {0};
        for (size_t i = 0; i < a->n_methods; i++) {
            char *m = method_name(a->methods[i]);
            sf_buf_printf(&tried, "%s%s", i ? ", " : "", m);
            free(m);
        }
        char *list = sf_buf_take(&tried);
        int rc = refuse(a, GIT_EAUTH,
                        sf_asprintf("authentication failed as %s: the server accepted none of what was tried: %s",
                                    a->user, list),
                        sf_asprintf("Add the public key to what the server accepts for %s, or offer another "
                                    "(an ssh-agent through SSH_AUTH_SOCK, or SPARKFORM_GIT_SSH_KEY).",
                                    a->user));
        free(list);
        return rc;
    }
    const char *m = a->methods[a->next++];
    if (!m)
        return git_credential_ssh_key_from_agent(out, a->user);
    if (access(m, R_OK) != 0)
        return refuse(a, GIT_EAUTH,
                      sf_asprintf("SPARKFORM_GIT_SSH_KEY names %s, which cannot be read: %s", m, strerror(errno)),
                      NULL);
    char *pub = sf_asprintf("%s.pub", m);
    const char *pass = getenv("SPARKFORM_GIT_SSH_PASSPHRASE");
    int rc = git_credential_ssh_key_new(out, a->user, access(pub, R_OK) == 0 ? pub : NULL, m, pass);
    free(pub);
    return rc;
}

/* https: the URL's own credentials are libgit2's first try; this is asked
 * for when there are none, or after the server refused them. */
static int https_token(struct sf_gitauth *a, git_credential **out, const char *user_from_url)
{
    char *shown = sf_gitsrc_display_url(a->url);
    bool url_has_password = strcmp(shown, a->url) != 0 && user_from_url;
    free(shown);
    const char *token = getenv("SPARKFORM_GIT_TOKEN");
    const char *user = user_from_url && *user_from_url ? user_from_url : "x-access-token";
    if (a->token_offered)
        return refuse(a, GIT_EAUTH,
                      sf_asprintf("authentication failed: the server refused SPARKFORM_GIT_TOKEN as the password of "
                                  "%s%s",
                                  user, url_has_password ? " (and the URL's own credentials)" : ""),
                      NULL);
    if (!token || !*token)
        return refuse(a, GIT_EAUTH,
                      sf_xstrdup(url_has_password ? "authentication failed: the server refused the URL's credentials"
                                                  : "authentication failed: the server asks for credentials"),
                      sf_xstrdup("Set SPARKFORM_GIT_TOKEN (sent as the password of the URL's user, or of "
                                 "x-access-token), or give them in the URL (https://USER:TOKEN@host/...)."));
    a->token_offered = true;
    return git_credential_userpass_plaintext_new(out, user, token);
}

static int credentials(git_credential **out, const char *url, const char *user_from_url, unsigned int allowed,
                       void *payload)
{
    (void)url;
    struct sf_gitauth *a = payload;
    if (!a->user)
        a->user = sf_xstrdup(user_from_url && *user_from_url ? user_from_url : "git");
    if (allowed & GIT_CREDENTIAL_SSH_KEY)
        return ssh_key(a, out);
    if (allowed & GIT_CREDENTIAL_USERNAME)
        return git_credential_username_new(out, a->user);
    if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)
        return https_token(a, out, user_from_url);
    return refuse(a, GIT_EAUTH,
                  sf_xstrdup("authentication failed: the server accepts no credentials sparkform offers "
                             "(ssh keys, or a password or token over https)"),
                  NULL);
}

void sf_gitauth_init(struct sf_gitauth *a, const char *url)
{
    *a = (struct sf_gitauth){.url = url};
}

void sf_gitauth_callbacks(struct sf_gitauth *a, git_remote_callbacks *cb)
{
    cb->credentials = credentials;
    cb->certificate_check = certificate_check;
    cb->payload = a;
}

void sf_gitauth_free(struct sf_gitauth *a)
{
    for (size_t i = 0; i < a->n_methods; i++)
        free(a->methods[i]);
    free(a->user);
    free(a->failure);
    free(a->hint);
    *a = (struct sf_gitauth){0};
}

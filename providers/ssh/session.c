/*
 * One SSH connection (libssh2) to a server a type configures: the TCP
 * connection and the handshake, bounded by the call's deadline; the host
 * key check, before anything is sent that depends on the server being the
 * right one; the public key login; commands; and file transfer over SFTP.
 *
 * The host key is checked against the fingerprint the description gives
 * (as cloud_server exports it from the console, "SHA256:..." as ssh-keygen
 * -l prints it) and/or an OpenSSH known_hosts file. An unknown or changed
 * key is an error naming both fingerprints, the expected and the offered;
 * it is never accepted or remembered here.
 *
 * The login takes an OpenSSH private key from memory. libssh2 1.10 signs
 * with RSA only as "ssh-rsa" (SHA-1), which OpenSSH refuses since 8.8, so
 * only ed25519 keys are supported and the errors say so.
 */
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base64.h"
#include "http.h"
#include "ssh.h"
#include "util.h"

struct sf_ssh {
    int fd;
    LIBSSH2_SESSION *session;
    LIBSSH2_SFTP *sftp; /* opened on first use */
    char *where;        /* "user@host:port", for messages */
    char fingerprint[64];
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_libssh2(void)
{
    init_rc = libssh2_init(0);
}

#define ssh_error(c, cls, ...) sf_diag_add_class((c)->diags, (cls), NULL, (c)->address, __VA_ARGS__)

/* What libssh2 last said went wrong. Borrowed from the session. */
static const char *last_error(LIBSSH2_SESSION *s, int *code)
{
    char *msg = NULL;
    int rc = libssh2_session_last_error(s, &msg, NULL, 0);
    if (code)
        *code = rc;
    return msg && *msg ? msg : "no reason given";
}

/* Milliseconds left before the call's deadline (at least 1000, so that a
 * step that starts still has a chance; the engine's deadline is minutes). */
static long ms_left(const struct sf_call *c)
{
    if (c->deadline <= 0)
        return 300000;
    double left = (c->deadline - sf_now()) * 1000;
    return left < 1000 ? 1000 : left > 600000 ? 600000 : (long)left;
}

/* Each blocking libssh2 call gives up when the deadline comes. */
static void arm(struct sf_call *c, struct sf_ssh *s)
{
    libssh2_session_set_timeout(s->session, ms_left(c));
}

static void debug_log(const struct sf_ssh *s, const char *what, const char *result, double start)
{
    if (!sf_http_debug())
        return;
    char *line = sf_asprintf("ssh: %s: %s -> %s (%.0f ms)\n", s->where, what, result,
                             (sf_now() - start) * 1000);
    fputs(line, stderr);
    free(line);
}

/* A TCP connection to host:port within the deadline; -1 after an error. */
static int tcp_connect(struct sf_call *c, const struct sf_ssh_target *t)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", t->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(t->host, port, &hints, &res);
    if (gai != 0) {
        ssh_error(c, SF_CLASS_RETRYABLE, "cannot resolve the SSH host \"%s\": %s", t->host,
                  gai_strerror(gai));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
            err = errno;
        } else {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            long wait = ms_left(c) < 30000 ? ms_left(c) : 30000;
            int n = poll(&p, 1, (int)wait);
            socklen_t len = sizeof(err);
            if (n == 0)
                err = ETIMEDOUT;
            else if (n < 0)
                err = errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
            if (err == 0) {
                /* libssh2 works on a blocking socket with its own timeout. */
                int fl = fcntl(fd, F_GETFL);
                fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
                break;
            }
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        ssh_error(c, SF_CLASS_RETRYABLE, "cannot connect to SSH at %s:%d: %s", t->host, t->port,
                  strerror(err ? err : ECONNREFUSED));
    return fd;
}

/* The fingerprint into a fixed buffer (the session keeps it inline). */
static void fingerprint_of(const unsigned char sha256[32], char out[64])
{
    char *fp = sf_ssh_fingerprint(sha256);
    snprintf(out, 64, "%s", fp);
    free(fp);
}

/* The fingerprint of a known_hosts entry's key (base64 of the key blob). */
static void known_fingerprint(const char *key_b64, char out[64])
{
    size_t n;
    unsigned char *blob = sf_base64_decode(key_b64, &n);
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (blob && EVP_Digest(blob, n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32)
        fingerprint_of(md, out);
    else
        snprintf(out, 64, "(an unreadable key)");
    free(blob);
}

static int knownhost_key_type(int hostkey_type)
{
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    }
    return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

/* The server's key against the known_hosts file. */
static int check_known_hosts(struct sf_call *c, struct sf_ssh *s, const struct sf_ssh_target *t)
{
    size_t klen = 0;
    int ktype = 0;
    const char *key = libssh2_session_hostkey(s->session, &klen, &ktype);
    LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s->session);
    if (!kh || !key) {
        ssh_error(c, SF_CLASS_NONE, "%s: cannot check the host key: %s", s->where,
                  last_error(s->session, NULL));
        if (kh)
            libssh2_knownhost_free(kh);
        return -1;
    }
    if (libssh2_knownhost_readfile(kh, t->known_hosts_path, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
        ssh_error(c, SF_CLASS_INVALID, "known_hosts_path: cannot read \"%s\" as an OpenSSH "
                  "known_hosts file: %s", t->known_hosts_path, last_error(s->session, NULL));
        libssh2_knownhost_free(kh);
        return -1;
    }
    struct libssh2_knownhost *known = NULL;
    int r = libssh2_knownhost_checkp(kh, t->host, t->port, key, klen,
                                     LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                         knownhost_key_type(ktype),
                                     &known);
    int rc = 0;
    if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
        char expected[64];
        known_fingerprint(known && known->key ? known->key : "", expected);
        ssh_error(c, SF_CLASS_INVALID,
                  "%s: the host key has changed: known_hosts \"%s\" expects %s, the server "
                  "offers %s; not logging in (if the server's key was replaced on purpose, "
                  "update known_hosts)",
                  s->where, t->known_hosts_path, expected, s->fingerprint);
        rc = -1;
    } else if (r != LIBSSH2_KNOWNHOST_CHECK_MATCH) {
        ssh_error(c, SF_CLASS_INVALID,
                  "%s: the host key is unknown: known_hosts \"%s\" expects none for this host "
                  "and port, the server offers %s; not logging in",
                  s->where, t->known_hosts_path, s->fingerprint);
        rc = -1;
    }
    libssh2_knownhost_free(kh);
    return rc;
}

static int check_host_key(struct sf_call *c, struct sf_ssh *s, const struct sf_ssh_target *t)
{
    const unsigned char *h =
        (const unsigned char *)libssh2_hostkey_hash(s->session, LIBSSH2_HOSTKEY_HASH_SHA256);
    if (!h) {
        ssh_error(c, SF_CLASS_NONE, "%s: libssh2 gives no SHA-256 hash of the host key", s->where);
        return -1;
    }
    fingerprint_of(h, s->fingerprint);
    if (t->host_key_fingerprint) {
        /* ssh-keygen prints no padding; a copy that has it is the same key. */
        size_t n = strlen(t->host_key_fingerprint);
        while (n > 0 && t->host_key_fingerprint[n - 1] == '=')
            n--;
        if (strlen(s->fingerprint) != n || memcmp(s->fingerprint, t->host_key_fingerprint, n) != 0) {
            ssh_error(c, SF_CLASS_INVALID,
                      "%s: the host key is not the expected one: host_key_fingerprint expects "
                      "%s, the server offers %s; not logging in (if the server's key was "
                      "replaced on purpose, set host_key_fingerprint to the new one and apply "
                      "with -refresh=false)",
                      s->where, t->host_key_fingerprint, s->fingerprint);
            return -1;
        }
    }
    if (t->known_hosts_path && check_known_hosts(c, s, t) < 0)
        return -1;
    return 0;
}

/* The key's type as far as the PEM armour and the OpenSSH container's
 * first public key tell it: 0 for ed25519 (or a container that names
 * none: libssh2 then says what it thinks), -1 after an error. */
static int check_key_kind(struct sf_call *c, const char *key)
{
    static const char *const pem_kinds[] = {"RSA", "DSA", "EC", "ENCRYPTED", NULL};
    for (size_t i = 0; pem_kinds[i]; i++) {
        char *armour = sf_asprintf("-----BEGIN %s PRIVATE KEY-----", pem_kinds[i]);
        bool found = strstr(key, armour) != NULL;
        free(armour);
        if (found) {
            ssh_error(c, SF_CLASS_INVALID,
                      "private_key: a PEM %s key; only ed25519 keys in OpenSSH format are "
                      "supported (libssh2 1.10 cannot log in to OpenSSH 8.8 and later with RSA "
                      "keys; local_ssh_key makes an ed25519 key)",
                      pem_kinds[i]);
            return -1;
        }
    }
    const char *begin = strstr(key, "-----BEGIN OPENSSH PRIVATE KEY-----");
    const char *end = begin ? strstr(begin, "-----END OPENSSH PRIVATE KEY-----") : NULL;
    if (!end) {
        ssh_error(c, SF_CLASS_INVALID,
                  "private_key: not an OpenSSH private key (\"-----BEGIN OPENSSH PRIVATE "
                  "KEY-----\"); an ed25519 key as ssh-keygen -t ed25519 or local_ssh_key "
                  "writes it is expected");
        return -1;
    }
    begin += strlen("-----BEGIN OPENSSH PRIVATE KEY-----");
    char *body = sf_xstrndup(begin, (size_t)(end - begin));
    size_t n = 0;
    unsigned char *raw = sf_base64_decode(body, &n);
    OPENSSL_cleanse(body, strlen(body));
    free(body);
    /* The public part comes first in the container, unencrypted: the
     * string "ssh-ed25519" with its length. */
    static const char ed25519[] = "\0\0\0\x0bssh-ed25519";
    static const char rsa[] = "\0\0\0\x07ssh-rsa";
    int rc = 0;
    if (raw && !memmem(raw, n, ed25519, sizeof(ed25519) - 1)) {
        bool is_rsa = memmem(raw, n, rsa, sizeof(rsa) - 1) != NULL;
        ssh_error(c, SF_CLASS_INVALID,
                  "private_key: %s; only ed25519 keys are supported (libssh2 1.10 cannot log "
                  "in to OpenSSH 8.8 and later with RSA keys; local_ssh_key makes an ed25519 "
                  "key)",
                  is_rsa ? "an RSA key" : "not an ed25519 key");
        rc = -1;
    }
    if (raw) {
        OPENSSL_cleanse(raw, n);
        free(raw);
    }
    return rc;
}

static int login(struct sf_call *c, struct sf_ssh *s, const struct sf_ssh_target *t)
{
    char *key = NULL;
    size_t len = 0;
    if (t->private_key) {
        key = sf_xstrdup(t->private_key);
        len = strlen(key);
    } else if (t->private_key_path) {
        key = sf_read_file(t->private_key_path, &len);
        if (!key) {
            ssh_error(c, SF_CLASS_INVALID, "private_key_path: cannot read \"%s\": %s",
                      t->private_key_path, strerror(errno));
            return -1;
        }
    } else {
        ssh_error(c, SF_CLASS_INVALID,
                  "no private key to log in with: set private_key (e.g. "
                  "${local_ssh_key.NAME.private_key_openssh}) or private_key_path");
        return -1;
    }
    int rc = check_key_kind(c, key);
    if (rc == 0) {
        arm(c, s);
        int r = libssh2_userauth_publickey_frommemory(s->session, t->user, strlen(t->user), NULL,
                                                      0, key, len, NULL);
        if (r != 0) {
            int code;
            const char *why = last_error(s->session, &code);
            if (code == LIBSSH2_ERROR_TIMEOUT)
                ssh_error(c, SF_CLASS_RETRYABLE, "%s: timed out logging in", s->where);
            else
                ssh_error(c, SF_CLASS_UNAUTHORIZED,
                          "%s: the server refused the login of user \"%s\" with the key (%s); "
                          "is its public key in the user's authorized_keys? Only unencrypted "
                          "ed25519 keys are supported",
                          s->where, t->user, why);
            rc = -1;
        }
    }
    OPENSSL_cleanse(key, len);
    free(key);
    return rc;
}

int sf_ssh_open(struct sf_call *c, const struct sf_ssh_target *t, struct sf_ssh **out)
{
    *out = NULL;
    if (!t->host_key_fingerprint && !t->known_hosts_path) {
        ssh_error(c, SF_CLASS_INVALID,
                  "no way to check the server's host key: set host_key_fingerprint (e.g. "
                  "${cloud_server.NAME.host_key_fingerprint}) or known_hosts_path");
        return -1;
    }
    pthread_once(&init_once, init_libssh2);
    if (init_rc != 0) {
        ssh_error(c, SF_CLASS_NONE, "libssh2 could not be initialised");
        return -1;
    }
    double start = sf_now();
    struct sf_ssh *s = sf_xcalloc(1, sizeof(*s));
    s->where = strchr(t->host, ':') ? sf_asprintf("%s@[%s]:%d", t->user, t->host, t->port)
                                    : sf_asprintf("%s@%s:%d", t->user, t->host, t->port);
    s->fd = tcp_connect(c, t);
    if (s->fd < 0) {
        sf_ssh_close(s);
        return -1;
    }
    s->session = libssh2_session_init();
    if (!s->session) {
        ssh_error(c, SF_CLASS_NONE, "%s: libssh2 could not make a session", s->where);
        sf_ssh_close(s);
        return -1;
    }
    libssh2_session_set_blocking(s->session, 1);
    arm(c, s);
    if (libssh2_session_handshake(s->session, s->fd) != 0) {
        int code;
        const char *why = last_error(s->session, &code);
        ssh_error(c, SF_CLASS_RETRYABLE, "%s: the SSH handshake failed: %s", s->where, why);
        sf_ssh_close(s);
        return -1;
    }
    if (check_host_key(c, s, t) < 0 || login(c, s, t) < 0) {
        debug_log(s, "connect", "refused", start);
        sf_ssh_close(s);
        return -1;
    }
    debug_log(s, "connect", s->fingerprint, start);
    *out = s;
    return 0;
}

void sf_ssh_close(struct sf_ssh *s)
{
    if (!s)
        return;
    if (s->sftp)
        libssh2_sftp_shutdown(s->sftp);
    if (s->session) {
        libssh2_session_disconnect(s->session, "done");
        libssh2_session_free(s->session);
    }
    if (s->fd >= 0)
        close(s->fd);
    free(s->where);
    free(s);
}

/* Reads a channel's stream (stderr when err) to its end into b. */
static ssize_t drain(LIBSSH2_CHANNEL *ch, bool err, struct sf_buf *b)
{
    char buf[8192];
    for (;;) {
        ssize_t n = err ? libssh2_channel_read_stderr(ch, buf, sizeof(buf))
                        : libssh2_channel_read(ch, buf, sizeof(buf));
        if (n < 0)
            return n;
        if (n == 0)
            return 0;
        sf_buf_add(b, buf, (size_t)n);
    }
}

int sf_ssh_run(struct sf_call *c, struct sf_ssh *s, const char *cmd, const char *what, char **out,
               char **err, int *status)
{
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    *status = -1;
    double start = sf_now();
    arm(c, s);
    LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s->session);
    if (!ch) {
        int code;
        const char *why = last_error(s->session, &code);
        ssh_error(c, code == LIBSSH2_ERROR_TIMEOUT ? SF_CLASS_RETRYABLE : SF_CLASS_NONE,
                  "%s: %s: cannot open a channel: %s", s->where, what, why);
        return -1;
    }
    struct sf_buf o = {0}, e = {0};
    ssize_t r = libssh2_channel_exec(ch, cmd);
    /* The commands here write little to stderr, so reading standard
     * output to its end first cannot fill the channel's window. */
    if (r == 0)
        r = drain(ch, false, &o);
    if (r == 0)
        r = drain(ch, true, &e);
    if (r == 0) {
        libssh2_channel_close(ch);
        libssh2_channel_wait_closed(ch);
        char *signal = NULL;
        libssh2_channel_get_exit_signal(ch, &signal, NULL, NULL, NULL, NULL, NULL);
        *status = signal ? 128 : libssh2_channel_get_exit_status(ch);
        if (signal)
            libssh2_free(s->session, signal);
    }
    int rc = 0;
    if (r != 0) {
        int code;
        const char *why = last_error(s->session, &code);
        ssh_error(c, code == LIBSSH2_ERROR_TIMEOUT ? SF_CLASS_RETRYABLE : SF_CLASS_NONE,
                  "%s: %s: %s", s->where, what,
                  code == LIBSSH2_ERROR_TIMEOUT ? "timed out (raise the resource's timeouts: to "
                                                  "wait longer)"
                                                : why);
        rc = -1;
    }
    libssh2_channel_free(ch);
    char result[32];
    snprintf(result, sizeof(result), rc == 0 ? "exit %d" : "failed", *status);
    debug_log(s, what, result, start);
    if (out)
        *out = sf_buf_take(&o);
    if (err)
        *err = sf_buf_take(&e);
    sf_buf_free(&o);
    sf_buf_free(&e);
    return rc;
}

static LIBSSH2_SFTP *sftp(struct sf_call *c, struct sf_ssh *s)
{
    if (!s->sftp) {
        arm(c, s);
        s->sftp = libssh2_sftp_init(s->session);
        if (!s->sftp)
            ssh_error(c, SF_CLASS_NONE, "%s: cannot start SFTP: %s", s->where,
                      last_error(s->session, NULL));
    }
    return s->sftp;
}

static void sftp_error(struct sf_call *c, struct sf_ssh *s, const char *what, const char *path)
{
    int code;
    const char *why = last_error(s->session, &code);
    if (code == LIBSSH2_ERROR_SFTP_PROTOCOL) {
        unsigned long st = libssh2_sftp_last_error(s->sftp);
        why = st == LIBSSH2_FX_PERMISSION_DENIED ? "permission denied"
              : st == LIBSSH2_FX_NO_SUCH_FILE || st == LIBSSH2_FX_NO_SUCH_PATH
                  ? "no such file or directory"
              : st == LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM ? "no space left"
                                                       : "the SFTP server refused";
    }
    ssh_error(c, code == LIBSSH2_ERROR_TIMEOUT ? SF_CLASS_RETRYABLE : SF_CLASS_NONE,
              "%s: %s \"%s\" over SFTP: %s", s->where, what, path, why);
}

int sf_ssh_put(struct sf_call *c, struct sf_ssh *s, const char *path, const void *data,
               size_t len, unsigned mode)
{
    if (!sftp(c, s))
        return -1;
    double start = sf_now();
    const char *slash = strrchr(path, '/');
    char *rnd = sf_random_hex(6);
    char *tmp = slash ? sf_asprintf("%.*s/.%s.%s.tmp", (int)(slash - path), path, slash + 1, rnd)
                      : sf_asprintf(".%s.%s.tmp", path, rnd);
    free(rnd);
    arm(c, s);
    LIBSSH2_SFTP_HANDLE *h =
        libssh2_sftp_open(s->sftp, tmp, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
                          (long)mode);
    int rc = 0;
    if (!h) {
        sftp_error(c, s, "cannot create", tmp);
        free(tmp);
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = libssh2_sftp_write(h, (const char *)data + off, len - off);
        if (n < 0) {
            sftp_error(c, s, "cannot write", tmp);
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    /* The server's umask may have taken bits off; the mode is the file's. */
    LIBSSH2_SFTP_ATTRIBUTES attrs = {.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS, .permissions = mode};
    if (rc == 0 && libssh2_sftp_fsetstat(h, &attrs) != 0) {
        sftp_error(c, s, "cannot set the mode of", tmp);
        rc = -1;
    }
    if (libssh2_sftp_close(h) != 0 && rc == 0) {
        sftp_error(c, s, "cannot finish writing", tmp);
        rc = -1;
    }
    /* OpenSSH's SFTP rename refuses to replace a file (and libssh2 1.10
     * has no posix-rename), so the rename(2) is mv's, on the server. */
    if (rc == 0) {
        const char *argv[] = {"mv", "-f", "--", tmp, path, NULL};
        char *cmd = sf_ssh_command(argv);
        int status;
        char *err = NULL;
        char *what = sf_asprintf("putting \"%s\" in place", path);
        rc = sf_ssh_run(c, s, cmd, what, NULL, &err, &status);
        if (rc == 0 && status != 0) {
            ssh_error(c, SF_CLASS_NONE, "%s: %s: mv failed (exit %d): %.300s", s->where, what,
                      status, err ? err : "");
            rc = -1;
        }
        free(what);
        free(err);
        free(cmd);
    }
    if (rc < 0)
        libssh2_sftp_unlink(s->sftp, tmp);
    char result[48];
    snprintf(result, sizeof(result), rc == 0 ? "%zu bytes" : "failed", len);
    char *what = sf_asprintf("sftp put %s", path);
    debug_log(s, what, result, start);
    free(what);
    free(tmp);
    return rc;
}

int sf_ssh_get(struct sf_call *c, struct sf_ssh *s, const char *path, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!sftp(c, s))
        return -1;
    double start = sf_now();
    arm(c, s);
    LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open(s->sftp, path, LIBSSH2_FXF_READ, 0);
    if (!h) {
        int code;
        last_error(s->session, &code);
        unsigned long st = code == LIBSSH2_ERROR_SFTP_PROTOCOL ? libssh2_sftp_last_error(s->sftp) : 0;
        if (st == LIBSSH2_FX_NO_SUCH_FILE || st == LIBSSH2_FX_NO_SUCH_PATH) {
            char *what = sf_asprintf("sftp get %s", path);
            debug_log(s, what, "none", start);
            free(what);
            return 0;
        }
        sftp_error(c, s, "cannot open", path);
        return -1;
    }
    struct sf_buf b = {0};
    int rc = 0;
    char buf[16384];
    for (;;) {
        ssize_t n = libssh2_sftp_read(h, buf, sizeof(buf));
        if (n < 0) {
            sftp_error(c, s, "cannot read", path);
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        sf_buf_add(&b, buf, (size_t)n);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    libssh2_sftp_close(h);
    if (rc < 0) {
        if (b.s)
            OPENSSL_cleanse(b.s, b.cap);
        sf_buf_free(&b);
        return -1;
    }
    *len = b.len;
    *data = sf_buf_take(&b);
    char *what = sf_asprintf("sftp get %s", path);
    debug_log(s, what, "read", start);
    free(what);
    return 0;
}

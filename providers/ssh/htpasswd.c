/*
 * The registry's htpasswd file: one "user:hash" line per user, the hash a
 * bcrypt one ("$2y$", as Apache's htpasswd -B writes and the registry's Go
 * bcrypt reads) made by libcrypt with a fresh random salt. The file is
 * made on this machine and uploaded over SFTP, so a password never appears
 * on a command line; read checks the recorded passwords against the file
 * the server holds, so a password changed there is drift.
 */
#include <crypt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "ssh.h"
#include "util.h"

/* Apache's htpasswd -B uses 5; 10 is the registry's own (Go's) default. */
#define BCRYPT_COST 10
/* bcrypt reads only this many bytes of a password. */
#define BCRYPT_MAX 72

bool sf_ssh_htpasswd_user_ok(const char *name, const char **why)
{
    size_t n = strlen(name);
    if (n == 0) {
        *why = "a user name cannot be empty";
        return false;
    }
    if (strchr(name, ':')) {
        *why = "a user name cannot contain ':' (it separates the name from the hash in an "
               "htpasswd file, and a user from the password in HTTP basic authentication)";
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            *why = "a user name cannot contain a line break or another control character (an "
                   "htpasswd file holds one user per line)";
            return false;
        }
    if (name[0] == '#') {
        *why = "a user name cannot start with '#' (the registry reads such a line of an "
               "htpasswd file as a comment)";
        return false;
    }
    if (name[0] == ' ' || name[n - 1] == ' ') {
        *why = "a user name cannot start or end with a space (the registry trims the lines of "
               "an htpasswd file)";
        return false;
    }
    return true;
}

/* A bcrypt hash of password (new string), or NULL when libcrypt fails. */
static char *bcrypt_hash(const char *password)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    /* No random bytes given: libcrypt takes them from the system. */
    if (!crypt_gensalt_rn("$2y$", BCRYPT_COST, NULL, 0, salt, (int)sizeof(salt)))
        return NULL;
    struct crypt_data *cd = sf_xcalloc(1, sizeof(*cd));
    const char *h = crypt_rn(password, salt, cd, (int)sizeof(*cd));
    char *out = h && h[0] == '$' ? sf_xstrdup(h) : NULL;
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return out;
}

char *sf_ssh_htpasswd_line(const char *user, const char *password, struct sf_diags *d,
                           const char *address)
{
    const char *why;
    if (!sf_ssh_htpasswd_user_ok(user, &why)) {
        sf_diag_add_class(d, SF_CLASS_INVALID, NULL, address, "users: \"%s\": %s", user, why);
        return NULL;
    }
    if (!*password) {
        sf_diag_add_class(d, SF_CLASS_INVALID, NULL, address,
                          "users: \"%s\": the password cannot be empty", user);
        return NULL;
    }
    if (strlen(password) > BCRYPT_MAX) {
        sf_diag_add_class(d, SF_CLASS_INVALID, NULL, address,
                          "users: \"%s\": the password is longer than %d bytes, of which "
                          "bcrypt would read only the first %d",
                          user, BCRYPT_MAX, BCRYPT_MAX);
        return NULL;
    }
    char *hash = bcrypt_hash(password);
    if (!hash) {
        sf_diag_add_class(d, SF_CLASS_NONE, NULL, address,
                          "users: \"%s\": libcrypt could not make a bcrypt hash", user);
        return NULL;
    }
    char *line = sf_asprintf("%s:%s", user, hash);
    OPENSSL_cleanse(hash, strlen(hash));
    free(hash);
    return line;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *sf_ssh_htpasswd_render(const json_t *users, struct sf_diags *d, const char *address)
{
    size_t n = json_object_size(users);
    if (!json_is_object(users) || n == 0) {
        sf_diag_add_class(d, SF_CLASS_INVALID, NULL, address,
                          "users: expected at least one user (a mapping of name to password)");
        return NULL;
    }
    const char **names = sf_xcalloc(n, sizeof(*names));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)users, k, v) names[i++] = k;
    qsort(names, n, sizeof(*names), by_name);
    struct sf_buf b = {0};
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        const char *pw = json_string_value(json_object_get(users, names[i]));
        if (!pw) {
            sf_diag_add_class(d, SF_CLASS_INVALID, NULL, address,
                              "users: \"%s\": the password must be a string", names[i]);
            rc = -1;
            break;
        }
        char *line = sf_ssh_htpasswd_line(names[i], pw, d, address);
        if (!line) {
            rc = -1;
            break;
        }
        sf_buf_puts(&b, line);
        sf_buf_add(&b, "\n", 1);
        OPENSSL_cleanse(line, strlen(line));
        free(line);
    }
    free(names);
    if (rc < 0) {
        if (b.s)
            OPENSSL_cleanse(b.s, b.cap);
        sf_buf_free(&b);
        return NULL;
    }
    return sf_buf_take(&b);
}

/* Calls fn for each "user:hash" line of text (as the registry reads them:
 * trimmed, without empty lines and comments) until it returns false. */
static void each_line(const char *text, bool (*fn)(void *arg, const char *user, size_t ulen,
                                                   const char *hash, size_t hlen),
                      void *arg)
{
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        const char *s = line, *e = end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        const char *colon = memchr(s, ':', (size_t)(e - s));
        if (s < e && *s != '#' && colon &&
            !fn(arg, s, (size_t)(colon - s), colon + 1, (size_t)(e - colon - 1)))
            return;
        line = nl ? nl + 1 : NULL;
    }
}

struct check {
    const char *user, *password;
    bool present;
    int match;
};

static bool check_line(void *arg, const char *user, size_t ulen, const char *hash, size_t hlen)
{
    struct check *k = arg;
    if (strlen(k->user) != ulen || memcmp(k->user, user, ulen) != 0)
        return true;
    k->present = true;
    char *h = sf_xstrndup(hash, hlen);
    struct crypt_data *cd = sf_xcalloc(1, sizeof(*cd));
    const char *got = crypt_rn(k->password, h, cd, (int)sizeof(*cd));
    k->match = got && got[0] == '$' && strlen(got) == hlen && CRYPTO_memcmp(got, h, hlen) == 0;
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    free(h);
    return false;
}

int sf_ssh_htpasswd_check(const char *text, const char *user, const char *password,
                          bool *present)
{
    struct check k = {.user = user, .password = password};
    each_line(text, check_line, &k);
    *present = k.present;
    return k.match;
}

static bool add_user(void *arg, const char *user, size_t ulen, const char *hash, size_t hlen)
{
    json_array_append_new(arg, json_stringn(user, ulen));
    return true;
}

json_t *sf_ssh_htpasswd_users(const char *text)
{
    json_t *a = json_array();
    each_line(text, add_user, a);
    return a;
}

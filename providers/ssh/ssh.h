/*
 * The "ssh" provider: software configured on a server over SSH (libssh2),
 * such as the Docker Registry on the registry VM. This header is private
 * to providers/ssh/ (and its unit test): ssh.c holds the provider table
 * and the per-run context, session.c the SSH connection (host key check,
 * public key login, commands, SFTP), quote.c the one way a remote command
 * line is built, htpasswd.c the bcrypt password file, regconfig.c the registry's
 * config.yml, registry.c the ssh_registry type.
 *
 * Nothing secret ever travels on a command line (a remote `ps` shows
 * those): files holding secrets are uploaded over SFTP, and commands only
 * name their paths.
 */
#ifndef SF_SSH_H
#define SF_SSH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "provider.h"

/* ---------- quote.c: remote command lines ---------- */

/* s as one argument of a POSIX shell: in single quotes, each ' written as
 * '\'' (so nothing inside is ever expanded). Caller frees. */
char *sf_ssh_quote(const char *s);

/* A command line of the NULL-terminated argv, every argument quoted with
 * sf_ssh_quote and separated by spaces. Caller frees. */
char *sf_ssh_command(const char *const *argv);

/* ---------- htpasswd.c: the registry's password file ---------- */

/* Whether name can be a user of an htpasswd file: not empty, no ':' (the
 * separator), no line break or other control character, no leading '#'
 * (a comment) and no leading or trailing space (the registry trims
 * lines). *why (static) says what is wrong. */
bool sf_ssh_htpasswd_user_ok(const char *name, const char **why);

/* One line "USER:$2y$10$..." (no newline) with a bcrypt hash of password
 * from libcrypt (a fresh random salt each time), or NULL after adding an
 * error to d. The caller wipes and frees it. */
char *sf_ssh_htpasswd_line(const char *user, const char *password, struct sf_diags *d,
                           const char *address);

/* The whole file for users (an object user -> password string), one line
 * per user in name order; NULL after an error in d. The caller wipes and
 * frees it. */
char *sf_ssh_htpasswd_render(const json_t *users, struct sf_diags *d, const char *address);

/* Whether password matches the hash of user's line in text (an htpasswd
 * file). Returns 1 on a match, 0 on none (no such user, another
 * password), and sets *present when the file has the user at all. */
int sf_ssh_htpasswd_check(const char *text, const char *user, const char *password,
                          bool *present);

/* The user names of an htpasswd file, a new JSON array. */
json_t *sf_ssh_htpasswd_users(const char *text);

/* ---------- session.c: one SSH connection ---------- */

/* Where and as whom to log in, and how to know the server. */
struct sf_ssh_target {
    const char *host;
    int port;
    const char *user;
    const char *private_key;          /* the OpenSSH private key text, or NULL */
    const char *private_key_path;     /* a file holding it (resolved), or NULL */
    const char *host_key_fingerprint; /* "SHA256:..." as ssh-keygen -l prints, or NULL */
    const char *known_hosts_path;     /* an OpenSSH known_hosts file (resolved), or NULL */
};

struct sf_ssh;

/* Connects (bounded by c->deadline), checks the host key against every
 * check the target names (at least one is required: an unknown or
 * changed key is an error naming the expected and the offered
 * fingerprint, and nothing is sent), and logs in with the private key.
 * Returns 0 with *out set, or -1 after adding an error to c->diags. */
int sf_ssh_open(struct sf_call *c, const struct sf_ssh_target *t, struct sf_ssh **out);
void sf_ssh_close(struct sf_ssh *s);

/* Runs cmd (made by sf_ssh_command) and collects its standard output
 * (*out, NUL-terminated, caller frees; may be NULL when not wanted) and
 * exit status. A status other than 0 is not an error here. Returns 0, or
 * -1 after an error (what names the step) when the command could not be
 * run to its end. *err gets its standard error when err is not NULL. */
int sf_ssh_run(struct sf_call *c, struct sf_ssh *s, const char *cmd, const char *what, char **out,
               char **err, int *status);

/* Writes data to path over SFTP: to a temporary name in the same
 * directory with the mode given, then renamed over path, so that path is
 * never seen half written. Returns 0 or -1 after an error. */
int sf_ssh_put(struct sf_call *c, struct sf_ssh *s, const char *path, const void *data,
               size_t len, unsigned mode);

/* Reads path over SFTP into *data (NUL-terminated, caller frees; wipe it
 * when it may hold a secret). A file that does not exist is *data NULL
 * and 0. Returns 0 or -1 after an error. */
int sf_ssh_get(struct sf_call *c, struct sf_ssh *s, const char *path, char **data, size_t *len);

/* ---------- regconfig.c: the registry's config.yml ---------- */

/* The registry's config.yml for the attributes attrs (as the type's
 * schema has them, defaults applied), as YAML text. NULL after an error in
 * d. The caller wipes and frees it (it may hold the S3 secret key). */
char *sf_ssh_registry_config(const json_t *attrs, struct sf_diags *d, const char *address);

/* The same configuration as a JSON value, which a config.yml read back
 * is compared with. New reference. */
json_t *sf_ssh_registry_config_json(const json_t *attrs);

/* Sets in out the attributes a config.yml read back (as JSON) says:
 * listen_address, port, storage and the s3_* settings (absent when the
 * file has none). */
void sf_ssh_registry_attrs_from_config(const json_t *cfg, json_t *out);

/* Attribute accessors both files use. A string attribute, "" when unset. */
static inline const char *sf_ssh_str(const json_t *a, const char *key)
{
    const char *s = json_string_value(json_object_get(a, key));
    return s ? s : "";
}

/* A string attribute that is set (not null, not unknown, not ""), or NULL. */
static inline const char *sf_ssh_opt(const json_t *a, const char *key)
{
    const char *s = json_string_value(json_object_get(a, key));
    return s && *s ? s : NULL;
}

static inline long sf_ssh_num(const json_t *a, const char *key, long dflt)
{
    json_t *v = json_object_get(a, key);
    return json_is_number(v) ? (long)json_number_value(v) : dflt;
}

static inline bool sf_ssh_is_s3(const json_t *a)
{
    return strcmp(sf_ssh_str(a, "storage"), "s3") == 0;
}

/* "HOST:PORT", with an IPv6 address in brackets. Caller frees. */
char *sf_ssh_host_port(const char *host, long port);

/* ---------- registry.c: the ssh_registry type ---------- */

extern const struct sf_resource_type sf_ssh_registry_type;

/* ---------- ssh.c: the provider ---------- */

/* The per-run context: the HTTP client that checks a registry from this
 * machine. */
struct sf_ssh_ctx {
    struct sf_http *http;
};

/* The provider, listed in providers/registry.c. */
extern const struct sf_provider sf_provider_ssh;

#endif

/*
 * ssh_registry: a Docker Registry (distribution 2.8, Debian's
 * /usr/bin/docker-registry) on a server reached over SSH, with htpasswd
 * authentication. Everything it keeps on the server is in base_dir:
 *
 *   .sparkform-registry  the marker: the stack's lineage and the address,
 *                        so that adopt finds what a killed run made and
 *                        delete removes only a directory sparkform made
 *   config.yml           the registry's configuration (0600: it may hold
 *                        the S3 secret key)
 *   htpasswd             bcrypt hashes of the users' passwords (0600)
 *   data/                the images, with filesystem storage
 *   registry.pid, registry.log   the process and its output, when it runs
 *                        supervised (no systemd)
 *
 * Files are made here and uploaded over SFTP (session.c), never written by
 * a command, so passwords and keys stay off command lines. The registry
 * runs as a systemd unit where the server has systemd (and the user is
 * root), else as a process detached with setsid, found again by its
 * command line ("BINARY serve BASE/config.yml"). After a start the type
 * waits, from this machine, until GET /v2/ answers 401 without credentials
 * and 200 with each user's.
 *
 * distribution 2.8.2 reads the htpasswd file again whenever its
 * modification time changes (checked on each authenticated request), so a
 * change of users rewrites the file and needs no restart; a change of the
 * configuration (address, port, storage) restarts the registry.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "http.h"
#include "node.h"
#include "sigv4.h"
#include "ssh.h"
#include "util.h"

static const struct sf_attr attrs[] = {
    {"host", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL,
     "the server: where SSH reaches it and the registry's URL points (e.g. "
     "${cloud_server.NAME.ssh_host})"},
    {"ssh_port", SF_NUMBER, SF_OPTIONAL, "22", "its SSH port"},
    {"ssh_user", SF_STRING, SF_OPTIONAL, "\"root\"",
     "the user to log in as; the registry runs as this user"},
    {"private_key", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL,
     "the ed25519 private key in OpenSSH format (e.g. ${local_ssh_key.NAME.private_key_openssh})"},
    {"private_key_path", SF_STRING, SF_OPTIONAL, NULL,
     "a file holding that key, relative to the description (when private_key is not set)"},
    {"host_key_fingerprint", SF_STRING, SF_OPTIONAL, NULL,
     "the server's host key, \"SHA256:...\" as ssh-keygen -l prints it (e.g. "
     "${cloud_server.NAME.host_key_fingerprint})"},
    {"known_hosts_path", SF_STRING, SF_OPTIONAL, NULL,
     "an OpenSSH known_hosts file that knows the server's host key"},
    {"base_dir", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"/var/lib/sparkform-registry\"",
     "the directory on the server holding the registry's configuration, passwords and data"},
    {"registry_binary", SF_STRING, SF_OPTIONAL, "\"/usr/bin/docker-registry\"",
     "the registry program on the server (Debian's docker-registry package)"},
    {"listen_address", SF_STRING, SF_OPTIONAL, "\"0.0.0.0\"", "the address the registry listens on"},
    {"port", SF_NUMBER, SF_OPTIONAL, "5000", "the registry's HTTP port"},
    {"users", SF_MAP, SF_REQUIRED | SF_SENSITIVE, NULL,
     "user name -> password; names cannot hold ':' or line breaks"},
    {"storage", SF_STRING, SF_OPTIONAL, "\"filesystem\"",
     "\"filesystem\" (base_dir/data) or \"s3\" (the s3_* settings)"},
    {"s3_bucket", SF_STRING, SF_OPTIONAL, NULL, "with storage s3: the bucket"},
    {"s3_endpoint", SF_STRING, SF_OPTIONAL, NULL, "with storage s3: the S3 endpoint URL"},
    {"s3_region", SF_STRING, SF_OPTIONAL, NULL, "with storage s3: the region"},
    {"s3_access_key", SF_STRING, SF_OPTIONAL, NULL, "with storage s3: the access key"},
    {"s3_secret_key", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL, "with storage s3: the secret key"},
    {"running", SF_BOOL, SF_OPTIONAL, "true",
     "whether the registry runs; a registry found stopped is started again"},
    {"url", SF_STRING, SF_COMPUTED, NULL, "\"http://HOST:PORT\""},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "\"HOST:BASE_DIR\""},
    {"docker_config_json", SF_STRING, SF_COMPUTED | SF_SENSITIVE, NULL,
     "{\"auths\": {\"HOST:PORT\": {\"auth\": ...}}} for the first user by name (an image "
     "pull secret's .dockerconfigjson)"},
    {NULL, 0, 0, NULL, NULL},
};

#define MARKER ".sparkform-registry"
#define UNIT_DIR "/etc/systemd/system/"

#define reg_error(c, cls, ...) sf_diag_add_class((c)->diags, (cls), NULL, (c)->address, __VA_ARGS__)

/* ---------- checks of the description ---------- */

/* Whether v is known (the plan step sees values not known until apply). */
static bool known(const json_t *a, const char *key)
{
    return !sf_value_has_unknown(json_object_get(a, key));
}

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* base_dir is removed whole by delete: it must be a plain absolute path. */
static const char *bad_path(const char *p)
{
    if (p[0] != '/')
        return "must be an absolute path";
    if (strcmp(p, "/") == 0)
        return "cannot be the root directory";
    if (has_control(p))
        return "cannot contain a line break or another control character";
    if (strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../") ||
        (strlen(p) >= 2 && strcmp(p + strlen(p) - 2, "/.") == 0) ||
        (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0) || p[strlen(p) - 1] == '/')
        return "must be a plain path (no \"//\", \".\" or \"..\" parts, no trailing \"/\")";
    return NULL;
}

/* Every known value of a checked; -1 after adding errors. */
static int check(struct sf_call *c, const json_t *a)
{
    size_t before = sf_diags_errors(c->diags);
    if (known(a, "host") && (!sf_ssh_opt(a, "host") || has_control(sf_ssh_str(a, "host"))))
        reg_error(c, SF_CLASS_INVALID, "host: expected a host name or address");
    static const char *const ports[] = {"ssh_port", "port"};
    for (size_t i = 0; i < 2; i++)
        if (known(a, ports[i]) && (sf_ssh_num(a, ports[i], 0) < 1 || sf_ssh_num(a, ports[i], 0) > 65535))
            reg_error(c, SF_CLASS_INVALID, "%s: expected a port from 1 to 65535", ports[i]);
    if (known(a, "ssh_user") && (!sf_ssh_opt(a, "ssh_user") || has_control(sf_ssh_str(a, "ssh_user"))))
        reg_error(c, SF_CLASS_INVALID, "ssh_user: expected a user name");
    if (known(a, "private_key") && known(a, "private_key_path") && !sf_ssh_opt(a, "private_key") &&
        !sf_ssh_opt(a, "private_key_path"))
        reg_error(c, SF_CLASS_INVALID,
                  "no private key to log in with: set private_key (e.g. "
                  "${local_ssh_key.NAME.private_key_openssh}) or private_key_path");
    if (known(a, "host_key_fingerprint") && known(a, "known_hosts_path") &&
        !sf_ssh_opt(a, "host_key_fingerprint") && !sf_ssh_opt(a, "known_hosts_path"))
        reg_error(c, SF_CLASS_INVALID,
                  "no way to check the server's host key: set host_key_fingerprint (e.g. "
                  "${cloud_server.NAME.host_key_fingerprint}) or known_hosts_path");
    const char *fp = sf_ssh_opt(a, "host_key_fingerprint");
    if (known(a, "host_key_fingerprint") && fp &&
        (strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) < 20 || strchr(fp, ' ')))
        reg_error(c, SF_CLASS_INVALID,
                  "host_key_fingerprint: expected \"SHA256:...\" as ssh-keygen -l prints it, got "
                  "\"%s\"",
                  fp);
    const char *why;
    if (known(a, "base_dir") && (why = bad_path(sf_ssh_str(a, "base_dir"))))
        reg_error(c, SF_CLASS_INVALID, "base_dir: \"%s\" %s", sf_ssh_str(a, "base_dir"), why);
    if (known(a, "registry_binary") &&
        (sf_ssh_str(a, "registry_binary")[0] != '/' || has_control(sf_ssh_str(a, "registry_binary"))))
        reg_error(c, SF_CLASS_INVALID, "registry_binary: expected an absolute path");
    if (known(a, "listen_address") &&
        (!sf_ssh_opt(a, "listen_address") || has_control(sf_ssh_str(a, "listen_address")) ||
         strchr(sf_ssh_str(a, "listen_address"), ' ')))
        reg_error(c, SF_CLASS_INVALID, "listen_address: expected an address such as 0.0.0.0");
    json_t *users = json_object_get(a, "users");
    if (json_is_object(users)) {
        if (json_object_size(users) == 0)
            reg_error(c, SF_CLASS_INVALID, "users: expected at least one user");
        const char *k;
        json_t *v;
        json_object_foreach(users, k, v)
        {
            if (!sf_ssh_htpasswd_user_ok(k, &why))
                reg_error(c, SF_CLASS_INVALID, "users: \"%s\": %s", k, why);
            else if (!sf_is_unknown(v) && (!json_is_string(v) || !*json_string_value(v)))
                reg_error(c, SF_CLASS_INVALID, "users: \"%s\": expected a password (a non-empty "
                          "string)", k);
            else if (!sf_is_unknown(v) && strlen(json_string_value(v)) > 72)
                reg_error(c, SF_CLASS_INVALID, "users: \"%s\": the password is longer than 72 "
                          "bytes, of which bcrypt would read only the first 72", k);
        }
    }
    static const char *const s3_attrs[] = {"s3_bucket", "s3_endpoint", "s3_region",
                                           "s3_access_key", "s3_secret_key", NULL};
    if (known(a, "storage")) {
        const char *st = sf_ssh_str(a, "storage");
        if (strcmp(st, "s3") != 0 && strcmp(st, "filesystem") != 0)
            reg_error(c, SF_CLASS_INVALID, "storage: expected \"filesystem\" or \"s3\", got \"%s\"",
                      st);
        for (size_t i = 0; s3_attrs[i]; i++) {
            bool set = sf_value_has_unknown(json_object_get(a, s3_attrs[i])) || sf_ssh_opt(a, s3_attrs[i]);
            if (strcmp(st, "s3") == 0 && !set)
                reg_error(c, SF_CLASS_INVALID, "%s: required with storage \"s3\"", s3_attrs[i]);
            else if (strcmp(st, "filesystem") == 0 && set)
                reg_error(c, SF_CLASS_INVALID,
                          "%s: set, but storage is \"filesystem\" (set storage: s3 to use S3)",
                          s3_attrs[i]);
        }
    }
    return sf_diags_errors(c->diags) > before ? -1 : 0;
}

static int reg_plan(struct sf_call *c, json_t *desired)
{
    return check(c, desired);
}

/* ---------- one registry on one server ---------- */

struct reg {
    struct sf_call *c;
    struct sf_ssh *ssh;
    char *base, *cfg, *htpasswd, *marker, *log, *unit, *unit_path;
    const char *bin;
};

/* path when absolute, else relative to the description's directory. */
static char *local_path(const struct sf_call *c, const char *path)
{
    if (!path)
        return NULL;
    if (path[0] == '/' || !c->config_dir || !*c->config_dir)
        return sf_xstrdup(path);
    return sf_asprintf("%s/%s", c->config_dir, path);
}

/* Connects to the server a's connection attributes name; bin from a too. */
static int reg_open(struct reg *r, struct sf_call *c, const json_t *a)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->base = sf_xstrdup(sf_ssh_str(a, "base_dir"));
    r->cfg = sf_asprintf("%s/config.yml", r->base);
    r->htpasswd = sf_asprintf("%s/htpasswd", r->base);
    r->marker = sf_asprintf("%s/" MARKER, r->base);
    r->log = sf_asprintf("%s/registry.log", r->base);
    char hex[65];
    sf_sigv4_sha256_hex(r->base, strlen(r->base), hex);
    r->unit = sf_asprintf("sparkform-registry-%.12s.service", hex);
    r->unit_path = sf_asprintf(UNIT_DIR "%s", r->unit);
    r->bin = sf_ssh_str(a, "registry_binary");
    char *key_path = local_path(c, sf_ssh_opt(a, "private_key") ? NULL : sf_ssh_opt(a, "private_key_path"));
    char *known_hosts = local_path(c, sf_ssh_opt(a, "known_hosts_path"));
    struct sf_ssh_target t = {
        .host = sf_ssh_str(a, "host"),
        .port = (int)sf_ssh_num(a, "ssh_port", 22),
        .user = sf_ssh_str(a, "ssh_user"),
        .private_key = sf_ssh_opt(a, "private_key"),
        .private_key_path = key_path,
        .host_key_fingerprint = sf_ssh_opt(a, "host_key_fingerprint"),
        .known_hosts_path = known_hosts,
    };
    int rc = sf_ssh_open(c, &t, &r->ssh);
    free(key_path);
    free(known_hosts);
    return rc;
}

static void reg_close(struct reg *r)
{
    sf_ssh_close(r->ssh);
    free(r->base);
    free(r->cfg);
    free(r->htpasswd);
    free(r->marker);
    free(r->log);
    free(r->unit);
    free(r->unit_path);
}

/*
 * The scripts. Each runs as `sh -c SCRIPT sh ARGS...` with every part
 * quoted (quote.c), so their inputs are only ever "$1", "$2", ... The
 * first three arguments are always the base directory, the binary and the
 * unit name; what they make is the user's alone (umask 077: the log
 * names users, the data is the images). pids lists the processes whose
 * command line is exactly the registry's: grep finds the candidates among
 * /proc/N/cmdline, each compared whole (arguments end in NUL there).
 */
#define PRELUDE                                                                          \
    "umask 077\n"                                                                        \
    "base=$1 bin=$2 unit=$3\n"                                                           \
    "cfg=$base/config.yml\n"                                                             \
    "pids() {\n"                                                                         \
    "  want=$(printf '%s\\n' \"$bin\" serve \"$cfg\")\n"                                 \
    "  for f in $(grep -lsaF -- \"$cfg\" /proc/[0-9]*/cmdline); do\n"                    \
    "    [ \"$(tr '\\0' '\\n' <\"$f\" 2>/dev/null)\" = \"$want\" ] || continue\n"        \
    "    p=${f#/proc/}; echo \"${p%/cmdline}\"\n"                                        \
    "  done\n"                                                                           \
    "}\n"

/* One word per line for what is there. */
static const char PROBE[] = PRELUDE
    "[ -d /run/systemd/system ] && [ \"$(id -u)\" = 0 ] && echo systemd\n"
    "[ -x \"$bin\" ] && echo binary\n"
    "[ -f \"$cfg\" ] && echo config\n"
    "[ -f \"$base/" MARKER "\" ] && echo marker\n"
    "[ -n \"$(ls -A -- \"$base\" 2>/dev/null)\" ] && echo nonempty\n"
    "if [ -f \"/etc/systemd/system/$unit\" ]; then\n"
    "  echo unit\n"
    "  systemctl is-active --quiet -- \"$unit\" && echo running\n"
    "fi\n"
    "[ -n \"$(pids)\" ] && echo running\n"
    "exit 0\n";

static const char MKDIR[] = PRELUDE
    "mkdir -p -- \"$base\" && chmod 0700 -- \"$base\" || exit 1\n"
    "[ -z \"$4\" ] || mkdir -p -- \"$4\"\n";

/* setsid detaches the registry from the SSH session (a session and
 * process group of its own, no terminal, its output to the log). */
static const char START[] = PRELUDE
    "[ -n \"$(pids)\" ] && exit 0\n"
    "cd -- \"$base\" || exit 1\n"
    "setsid \"$bin\" serve \"$cfg\" >>\"$base/registry.log\" 2>&1 </dev/null &\n"
    "echo \"$!\" >\"$base/registry.pid.tmp\" && mv -f -- \"$base/registry.pid.tmp\" "
    "\"$base/registry.pid\"\n";

/* SIGTERM, up to ten seconds to go, then SIGKILL. */
static const char STOP[] = PRELUDE
    "all=$(pids)\n"
    "[ -n \"$all\" ] && kill $all 2>/dev/null\n"
    "i=0\n"
    "while [ -n \"$(pids)\" ] && [ $i -lt 100 ]; do sleep 0.1 2>/dev/null || sleep 1; "
    "i=$((i + 1)); done\n"
    "all=$(pids)\n"
    "[ -n \"$all\" ] && kill -9 $all 2>/dev/null\n"
    "rm -f -- \"$base/registry.pid\"\n"
    "[ -z \"$(pids)\" ]\n";

static const char UNIT_START[] = PRELUDE
    "systemctl daemon-reload && systemctl enable --quiet -- \"$unit\" && "
    "systemctl \"$4\" -- \"$unit\"\n";

/* Stopped on purpose (running: false): not started at the next boot. */
static const char UNIT_STOP[] = PRELUDE "systemctl disable --now --quiet -- \"$unit\"\n";

static const char UNIT_REMOVE[] = PRELUDE
    "systemctl disable --now --quiet -- \"$unit\" 2>/dev/null\n"
    "rm -f -- \"/etc/systemd/system/$unit\" && systemctl daemon-reload\n";

static const char LOG_TAIL[] = PRELUDE "tail -n 8 -- \"$base/registry.log\" 2>/dev/null\n";

/* Runs script with the base, binary, unit and extra (may be NULL); *out
 * its output (may be NULL). A non-zero exit is an error naming what. */
static int script(struct reg *r, const char *text, const char *extra, const char *what,
                  char **out)
{
    const char *argv[] = {"sh", "-c", text, "sh", r->base, r->bin, r->unit, extra, NULL};
    char *cmd = sf_ssh_command(argv);
    char *err = NULL;
    int status;
    int rc = sf_ssh_run(r->c, r->ssh, cmd, what, out, &err, &status);
    free(cmd);
    if (rc == 0 && status != 0) {
        size_t n = err ? strlen(err) : 0;
        while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == '\r'))
            err[--n] = '\0';
        reg_error(r->c, SF_CLASS_NONE, "%s on the server failed (exit %d)%s%.500s", what, status,
                  n ? ": " : "", n ? err : "");
        rc = -1;
        if (out) {
            free(*out);
            *out = NULL;
        }
    }
    free(err);
    return rc;
}

struct probe {
    bool systemd, binary, config, marker, nonempty, unit, running;
};

static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; (p = strstr(p, word)); p += n)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static int probe(struct reg *r, struct probe *p)
{
    char *out = NULL;
    if (script(r, PROBE, NULL, "looking at the registry", &out) < 0)
        return -1;
    *p = (struct probe){
        .systemd = has_word(out, "systemd"),
        .binary = has_word(out, "binary"),
        .config = has_word(out, "config"),
        .marker = has_word(out, "marker"),
        .nonempty = has_word(out, "nonempty"),
        .unit = has_word(out, "unit"),
        .running = has_word(out, "running"),
    };
    free(out);
    return 0;
}

/* The marker's text for this stack and address. Caller frees. */
static char *marker_text(const struct sf_call *c)
{
    json_t *m = json_pack("{s:s, s:s, s:s}", "managed_by", "sparkform", "lineage",
                          c->lineage ? c->lineage : "", "address", c->address);
    char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    char *line = sf_asprintf("%s\n", text);
    free(text);
    return line;
}

/* Whether the marker on the server is this stack's and address's: 1 yes,
 * 0 no (*whose says whose it is), -1 after an error. */
static int marker_ours(struct reg *r, char **whose)
{
    *whose = NULL;
    char *text = NULL;
    size_t len;
    if (sf_ssh_get(r->c, r->ssh, r->marker, &text, &len) < 0)
        return -1;
    json_t *m = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    const char *lineage = sf_ssh_str(m, "lineage"), *address = sf_ssh_str(m, "address");
    int ours = strcmp(lineage, r->c->lineage ? r->c->lineage : "") == 0 &&
               strcmp(address, r->c->address) == 0;
    if (!ours)
        *whose = *address ? sf_asprintf("%s of the stack with lineage %s", address, lineage)
                          : sf_xstrdup("(an unreadable marker)");
    json_decref(m);
    return ours;
}

static char *unit_quote(const char *s)
{
    struct sf_buf b = {0};
    sf_buf_add(&b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sf_buf_printf(&b, "\\%c", *p);
        else if (*p == '%')
            sf_buf_puts(&b, "%%");
        else if (*p == '$')
            sf_buf_puts(&b, "$$");
        else
            sf_buf_add(&b, p, 1);
    }
    sf_buf_add(&b, "\"", 1);
    return sf_buf_take(&b);
}

/* The systemd unit (systemd's own quoting of ExecStart arguments). */
static char *unit_text(const struct reg *r)
{
    char *bin = unit_quote(r->bin);
    char *cfg = unit_quote(r->cfg);
    char *text = sf_asprintf("[Unit]\n"
                             "Description=Docker Registry (sparkform, %s)\n"
                             "Wants=network-online.target\n"
                             "After=network-online.target\n"
                             "\n"
                             "[Service]\n"
                             "ExecStart=%s serve %s\n"
                             "Restart=on-failure\n"
                             "RestartSec=2\n"
                             "\n"
                             "[Install]\n"
                             "WantedBy=multi-user.target\n",
                             r->unit, bin, cfg);
    free(bin);
    free(cfg);
    return text;
}

/* Starts the registry (restart: stops it first when it runs). */
static int start(struct reg *r, const struct probe *p, bool restart)
{
    if (p->systemd || p->unit) {
        char *unit = unit_text(r);
        int rc = sf_ssh_put(r->c, r->ssh, r->unit_path, unit, strlen(unit), 0644);
        free(unit);
        if (rc == 0)
            rc = script(r, UNIT_START, restart ? "restart" : "start", "starting the registry's unit",
                        NULL);
        return rc;
    }
    if (restart && script(r, STOP, NULL, "stopping the registry", NULL) < 0)
        return -1;
    return script(r, START, NULL, "starting the registry", NULL);
}

static int stop(struct reg *r, const struct probe *p)
{
    if (p->unit && script(r, UNIT_STOP, NULL, "stopping the registry's unit", NULL) < 0)
        return -1;
    /* Also when it ran as a unit: nothing of ours may keep running. */
    return script(r, STOP, NULL, "stopping the registry", NULL);
}

/* ---------- waiting until it answers ---------- */

static char *basic_auth(const char *user, const char *password)
{
    char *pair = sf_asprintf("%s:%s", user, password);
    size_t n = strlen(pair);
    char *b64 = sf_base64_encode(pair, n);
    OPENSSL_cleanse(pair, n);
    free(pair);
    return b64;
}

/* GET url; *status 0 when no answer came, and then *why (when not NULL)
 * says why (the caller frees). auth is a header or NULL. */
static void get_why(struct reg *r, const char *url, const char *auth, long *status, char **why)
{
    struct sf_ssh_ctx *x = r->c->ctx;
    const char *headers[] = {auth, NULL};
    struct sf_http_req rq = {
        .method = "GET",
        .url = url,
        .headers = auth ? headers : NULL,
        .deadline = r->c->deadline,
    };
    struct sf_http_resp rs = {0};
    *status = sf_http_do(x->http, &rq, &rs) == 0 ? rs.status : 0;
    if (why)
        *why = *status == 0 ? sf_xstrdup(rs.error ? rs.error : "no answer") : NULL;
    sf_http_resp_free(&rs);
}

static void get(struct reg *r, const char *url, const char *auth, long *status)
{
    get_why(r, url, auth, status, NULL);
}

/* The end of the registry's log, for an error about it. */
static void log_detail(struct reg *r)
{
    char *tail = NULL;
    struct sf_diags tmp;
    sf_diags_init(&tmp);
    struct sf_call cc = *r->c;
    cc.diags = &tmp;
    struct reg rr = *r;
    rr.c = &cc;
    if (script(&rr, LOG_TAIL, NULL, "reading the registry's log", &tail) == 0 && tail && *tail)
        sf_diag_detail(r->c->diags, "the end of %s:\n%s", r->log, tail);
    free(tail);
    sf_diags_free(&tmp);
}

/* Polls GET /v2/ until it answers 401 without credentials and 200 with
 * each user's. A registry that is not running fails the wait at once; one
 * that keeps answering otherwise for 20 s, or that runs but cannot be
 * reached for a minute, fails it then; else c->deadline ends it. */
static int wait_ready(struct reg *r, const json_t *a)
{
    char *hp = sf_ssh_host_port(sf_ssh_str(a, "host"), sf_ssh_num(a, "port", 5000));
    char *url = sf_asprintf("http://%s/v2/", hp);
    char *text = sf_asprintf("waiting for the registry at %s to answer", url);
    json_t *users = json_object_get(a, "users");
    long delay = 0;
    double wrong_since = 0, silent_since = 0, last_probe = 0;
    int rc = -1;
    char *problem = NULL;
    for (;;) {
        long st;
        double asked = sf_now();
        get(r, url, NULL, &st);
        free(problem);
        problem = NULL;
        if (st == 401) {
            const char *k;
            json_t *v;
            json_object_foreach(users, k, v)
            {
                char *b64 = basic_auth(k, json_string_value(v));
                char *hdr = sf_asprintf("Authorization: Basic %s", b64);
                long ust;
                get(r, url, hdr, &ust);
                OPENSSL_cleanse(hdr, strlen(hdr));
                OPENSSL_cleanse(b64, strlen(b64));
                free(hdr);
                free(b64);
                if (ust != 200) {
                    problem = sf_asprintf("it answers HTTP %ld to user \"%s\" with the password "
                                          "given (200 expected)",
                                          ust, k);
                    break;
                }
            }
            if (!problem) {
                rc = 0;
                break;
            }
        } else if (st == 0) {
            /* Not answering: starting, or not running at all. Silence
             * counts from the question: a port held by something that
             * never answers has already cost the request's timeout. */
            if (!silent_since)
                silent_since = asked;
            if (sf_now() - last_probe > 2 && sf_now() - silent_since > 1) {
                last_probe = sf_now();
                struct probe p;
                if (probe(r, &p) < 0)
                    break;
                if (!p.running) {
                    reg_error(r->c, SF_CLASS_NONE, "the registry is not running on the server "
                              "(it stopped after starting, or could not start)");
                    log_detail(r);
                    break;
                }
            }
            /* It runs, and starts within a second or two: a minute of
             * silence is a port this machine cannot reach. */
            if (sf_now() - silent_since > 60) {
                reg_error(r->c, SF_CLASS_RETRYABLE,
                          "the registry runs on the server, but %s does not answer from here: "
                          "check listen_address and what the server's firewall or security "
                          "group lets through",
                          url);
                break;
            }
        } else {
            problem = sf_asprintf(st == 200 ? "it answers 200 without credentials: is another "
                                              "registry, without authentication, listening on "
                                              "that port?"
                                            : "it answers HTTP %ld without credentials (401 "
                                              "expected)",
                                  st);
        }
        if (st != 0)
            silent_since = 0;
        if (problem && !wrong_since)
            wrong_since = sf_now();
        else if (!problem)
            wrong_since = 0;
        if (problem && sf_now() - wrong_since > 20) {
            reg_error(r->c, SF_CLASS_NONE, "the registry at %s is not ready: %s", url, problem);
            log_detail(r);
            break;
        }
        if (r->c->status)
            r->c->status(r->c, text);
        if (r->c->deadline > 0 && sf_now() >= r->c->deadline) {
            reg_error(r->c, SF_CLASS_RETRYABLE,
                      "timed out %s%s%s (raise the resource's timeouts: to wait longer)", text,
                      problem ? ": " : "", problem ? problem : "");
            break;
        }
        delay = delay ? (delay * 2 > 2000 ? 2000 : delay * 2) : 100;
        sf_sleep_ms(delay);
    }
    free(problem);
    free(text);
    free(url);
    free(hp);
    return rc;
}

/* ---------- the operations ---------- */

/* What the state records: a's values, whether it runs, and the exports. */
static json_t *view(const json_t *a, bool running)
{
    json_t *o = sf_value_copy(a);
    json_object_set_new(o, "running", json_boolean(running));
    const char *host = sf_ssh_str(a, "host");
    long port = sf_ssh_num(a, "port", 5000);
    char *hp = sf_ssh_host_port(host, port);
    char *url = sf_asprintf("http://%s", hp);
    char *id = sf_asprintf("%s:%s", host, sf_ssh_str(a, "base_dir"));
    json_object_set_new(o, "url", json_string(url));
    json_object_set_new(o, "id", json_string(id));
    /* For an image pull secret: the first user by name. */
    json_t *users = json_object_get(a, "users");
    const char *first = NULL, *k;
    json_t *v;
    json_object_foreach(users, k, v) if (json_is_string(v) && (!first || strcmp(k, first) < 0)) first = k;
    if (first) {
        char *auth = basic_auth(first, json_string_value(json_object_get(users, first)));
        json_t *doc = json_pack("{s:{s:{s:s}}}", "auths", hp, "auth", auth);
        char *text = json_dumps(doc, JSON_COMPACT);
        json_object_set_new(o, "docker_config_json", json_string(text));
        OPENSSL_cleanse(text, strlen(text));
        OPENSSL_cleanse(auth, strlen(auth));
        free(text);
        free(auth);
        json_decref(doc);
    } else {
        json_object_set_new(o, "docker_config_json", json_null());
    }
    free(url);
    free(id);
    free(hp);
    return o;
}

/* Uploads a file holding a secret (text is wiped and freed). */
static int put_secret(struct reg *r, const char *path, char *text)
{
    if (!text)
        return -1;
    size_t n = strlen(text);
    int rc = sf_ssh_put(r->c, r->ssh, path, text, n, 0600);
    OPENSSL_cleanse(text, n);
    free(text);
    return rc;
}

static int put_config(struct reg *r, const json_t *a)
{
    return put_secret(r, r->cfg, sf_ssh_registry_config(a, r->c->diags, r->c->address));
}

static int put_htpasswd(struct reg *r, const json_t *a)
{
    return put_secret(r, r->htpasswd,
                      sf_ssh_htpasswd_render(json_object_get(a, "users"), r->c->diags,
                                             r->c->address));
}

/* What exists on the server, for prior (the recorded attributes, or the
 * desired ones on adopt). *out NULL when the registry's config is gone. */
static int observe(struct reg *r, const json_t *prior, const struct probe *p, json_t **out)
{
    *out = NULL;
    if (!p->config)
        return 0;
    char *text = NULL;
    size_t len = 0;
    if (sf_ssh_get(r->c, r->ssh, r->cfg, &text, &len) < 0)
        return -1;
    if (!text)
        return 0;
    struct sf_doc *doc = NULL;
    struct sf_diags tmp;
    sf_diags_init(&tmp);
    int prc = sf_yaml_parse(r->cfg, text, len, &doc, &tmp);
    sf_diags_free(&tmp);
    OPENSSL_cleanse(text, len);
    free(text);
    json_t *cfg = prc == 0 && doc ? sf_node_to_json(doc->root) : NULL;
    sf_doc_free(doc);
    json_t *o = sf_value_copy(prior);
    if (json_is_object(cfg))
        sf_ssh_registry_attrs_from_config(cfg, o);
    else /* unreadable: a difference the next update writes over */
        json_object_set_new(o, "listen_address", json_null());
    if (cfg) {
        json_t *secret = json_object_get(json_object_get(json_object_get(cfg, "storage"), "s3"),
                                         "secretkey");
        if (json_is_string(secret))
            OPENSSL_cleanse((char *)json_string_value(secret), strlen(json_string_value(secret)));
    }
    json_decref(cfg);

    /* The users: those the file holds, each with the recorded password
     * when it still matches, else null (a change to undo). */
    char *ht = NULL;
    size_t htlen = 0;
    if (sf_ssh_get(r->c, r->ssh, r->htpasswd, &ht, &htlen) < 0) {
        json_decref(o);
        return -1;
    }
    json_t *names = sf_ssh_htpasswd_users(ht ? ht : "");
    json_t *recorded = json_object_get(prior, "users");
    json_t *users = json_object();
    size_t i;
    json_t *name;
    json_array_foreach(names, i, name)
    {
        const char *u = json_string_value(name);
        const char *pw = json_string_value(json_object_get(recorded, u));
        bool present;
        if (pw && sf_ssh_htpasswd_check(ht, u, pw, &present) == 1)
            json_object_set_new(users, u, json_string(pw));
        else
            json_object_set_new(users, u, json_null());
    }
    json_decref(names);
    if (ht) {
        OPENSSL_cleanse(ht, htlen);
        free(ht);
    }
    json_object_set_new(o, "users", users);
    *out = view(o, p->running);
    json_decref(o);
    return 0;
}

static int reg_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    struct reg r;
    int rc = reg_open(&r, c, prior);
    struct probe p;
    if (rc == 0)
        rc = probe(&r, &p);
    if (rc == 0)
        rc = observe(&r, prior, &p, out);
    reg_close(&r);
    return rc;
}

/* `sparkform status`: GET /v2/ of the registry's URL from this machine,
 * without credentials (401 expected: authentication is on) and with each
 * user's (200 expected). No SSH: what matters is whether it serves. The
 * passwords go only into the Authorization header, never into the answer. */
static int reg_status(struct sf_call *c, const json_t *recorded, json_t **out)
{
    *out = NULL;
    struct reg r = {.c = c};
    char *url = sf_asprintf("%s/v2/", sf_ssh_str(recorded, "url"));
    bool meant_to_run = !json_is_false(json_object_get(recorded, "running"));
    long anon;
    char *why = NULL;
    get_why(&r, url, NULL, &anon, &why);
    json_t *users = json_object_get(recorded, "users");
    size_t n_users = json_object_size(users), n_ok = 0;
    const char *refused = NULL;
    long refused_status = 0;
    if (anon == 401) {
        const char *k;
        json_t *v;
        json_object_foreach(users, k, v)
        {
            if (!json_is_string(v))
                continue;
            char *b64 = basic_auth(k, json_string_value(v));
            char *hdr = sf_asprintf("Authorization: Basic %s", b64);
            long st;
            get(&r, url, hdr, &st);
            OPENSSL_cleanse(hdr, strlen(hdr));
            OPENSSL_cleanse(b64, strlen(b64));
            free(hdr);
            free(b64);
            if (st == 200)
                n_ok++;
            else if (!refused) {
                refused = k;
                refused_status = st;
            }
        }
    }
    if (anon == 0 && !meant_to_run)
        *out = sf_status_new("STOPPED", true, "not running, as the description asks");
    else if (anon == 0)
        *out = sf_status_new("UNREACHABLE", false, "GET %s: %s", url, why);
    else if (anon == 200)
        *out = sf_status_new("UNHEALTHY", false,
                             "GET %s answers 200 without credentials: authentication is off", url);
    else if (anon != 401)
        *out = sf_status_new("UNHEALTHY", false,
                             "GET %s answers HTTP %ld without credentials (401 expected)", url, anon);
    else if (refused)
        *out = sf_status_new("UNHEALTHY", false,
                             "GET %s answers HTTP %ld to user \"%s\" with the recorded password (200 "
                             "expected)",
                             url, refused_status, refused);
    else
        *out = sf_status_new("READY", true, "%s answers: 401 without credentials, 200 for %zu user%s",
                             url, n_ok, n_ok == 1 ? "" : "s");
    json_object_set_new(*out, "url", json_string(sf_ssh_str(recorded, "url")));
    json_object_set_new(*out, "anonymous_status", json_integer(anon));
    json_object_set_new(*out, "users_accepted", json_integer((json_int_t)n_ok));
    json_object_set_new(*out, "users", json_integer((json_int_t)n_users));
    free(why);
    free(url);
    return 0;
}

static int reg_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    struct reg r;
    int rc = reg_open(&r, c, desired);
    struct probe p;
    if (rc == 0)
        rc = probe(&r, &p);
    if (rc == 0 && p.marker && p.config) {
        char *whose;
        int ours = marker_ours(&r, &whose);
        free(whose);
        if (ours < 0)
            rc = -1;
        else if (ours)
            rc = observe(&r, desired, &p, out);
    }
    reg_close(&r);
    return rc;
}

/* Makes base_dir this address's: refused when it holds what another
 * stack or someone else put there. */
static int claim(struct reg *r, const json_t *a, const struct probe *p)
{
    if (!p->binary) {
        reg_error(r->c, SF_CLASS_INVALID,
                  "the server has no registry program at %s: install Debian's docker-registry "
                  "package there (e.g. cloud-init's packages: [docker-registry]) or set "
                  "registry_binary",
                  r->bin);
        return -1;
    }
    if (p->marker) {
        char *whose;
        int ours = marker_ours(r, &whose);
        if (ours == 0)
            reg_error(r->c, SF_CLASS_CONFLICT,
                      "base_dir \"%s\" holds another registry: %s; choose another base_dir",
                      r->base, whose);
        free(whose);
        if (ours <= 0)
            return -1;
    } else if (p->nonempty) {
        reg_error(r->c, SF_CLASS_CONFLICT,
                  "base_dir \"%s\" already exists and holds files sparkform did not put there; "
                  "choose another base_dir or empty it",
                  r->base);
        return -1;
    }
    char *data = sf_ssh_is_s3(a) ? NULL : sf_asprintf("%s/data", r->base);
    int rc = script(r, MKDIR, data, "making base_dir", NULL);
    free(data);
    if (rc == 0 && !p->marker) {
        char *m = marker_text(r->c);
        rc = sf_ssh_put(r->c, r->ssh, r->marker, m, strlen(m), 0600);
        free(m);
    }
    return rc;
}

static int reg_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    if (check(c, desired) < 0)
        return -1;
    struct reg r;
    int rc = reg_open(&r, c, desired);
    struct probe p;
    if (rc == 0)
        rc = probe(&r, &p);
    if (rc == 0)
        rc = claim(&r, desired, &p);
    if (rc < 0) {
        reg_close(&r);
        return -1;
    }
    /* From here on the registry exists: a failure leaves it recorded (as
     * tainted), so that it is replaced, or removed, later. */
    bool run = json_is_true(json_object_get(desired, "running"));
    rc = put_htpasswd(&r, desired);
    if (rc == 0)
        rc = put_config(&r, desired);
    if (rc == 0)
        rc = run ? start(&r, &p, true) : stop(&r, &p);
    if (rc == 0 && run)
        rc = wait_ready(&r, desired);
    *out = view(desired, run);
    reg_close(&r);
    return rc;
}

static int reg_update(struct sf_call *c, const json_t *prior, const json_t *desired, json_t **out)
{
    *out = NULL;
    if (check(c, desired) < 0)
        return -1;
    struct reg r;
    int rc = reg_open(&r, c, desired);
    struct probe p;
    if (rc == 0)
        rc = probe(&r, &p);
    if (rc == 0 && !p.config) {
        reg_error(c, SF_CLASS_NOT_FOUND,
                  "the registry's configuration %s is gone from the server; plan again to "
                  "create it",
                  r.cfg);
        rc = -1;
    }
    if (rc < 0) {
        reg_close(&r);
        return -1;
    }
    json_t *old_cfg = sf_ssh_registry_config_json(prior);
    json_t *new_cfg = sf_ssh_registry_config_json(desired);
    bool config_changed = !sf_value_equal(old_cfg, new_cfg);
    json_decref(old_cfg);
    json_decref(new_cfg);
    bool binary_changed = strcmp(sf_ssh_str(prior, "registry_binary"), sf_ssh_str(desired, "registry_binary")) != 0;
    bool users_changed = !sf_value_equal(json_object_get(prior, "users"),
                                         json_object_get(desired, "users"));
    bool run = json_is_true(json_object_get(desired, "running"));
    if (users_changed)
        rc = put_htpasswd(&r, desired);
    if (rc == 0 && config_changed)
        rc = put_config(&r, desired);
    if (rc == 0 && binary_changed && p.running) {
        /* The running one is found by its old command line. */
        struct reg old = r;
        old.bin = sf_ssh_str(prior, "registry_binary");
        rc = stop(&old, &p);
        p.running = false;
    }
    if (rc == 0 && run) {
        if (config_changed || binary_changed || !p.running)
            rc = start(&r, &p, p.running);
        if (rc == 0)
            rc = wait_ready(&r, desired);
    } else if (rc == 0 && p.running) {
        rc = stop(&r, &p);
    }
    if (rc == 0)
        *out = view(desired, run);
    reg_close(&r);
    return rc;
}

static int reg_delete(struct sf_call *c, const json_t *prior)
{
    struct reg r;
    int rc = reg_open(&r, c, prior);
    struct probe p;
    if (rc == 0)
        rc = probe(&r, &p);
    if (rc == 0 && p.marker) {
        char *whose;
        int ours = marker_ours(&r, &whose);
        if (ours == 0)
            reg_error(c, SF_CLASS_CONFLICT,
                      "base_dir \"%s\" now holds another registry (%s); not removing it", r.base,
                      whose);
        free(whose);
        if (ours <= 0)
            rc = -1;
        if (rc == 0 && p.unit)
            rc = script(&r, UNIT_REMOVE, NULL, "removing the registry's unit", NULL);
        if (rc == 0)
            rc = script(&r, STOP, NULL, "stopping the registry", NULL);
        if (rc == 0) {
            const char *argv[] = {"rm", "-rf", "--", r.base, NULL};
            char *cmd = sf_ssh_command(argv);
            char *err = NULL;
            int status;
            rc = sf_ssh_run(c, r.ssh, cmd, "removing base_dir", NULL, &err, &status);
            if (rc == 0 && status != 0) {
                reg_error(c, SF_CLASS_NONE, "removing base_dir \"%s\" failed (exit %d): %.300s",
                          r.base, status, err ? err : "");
                rc = -1;
            }
            free(err);
            free(cmd);
        }
    }
    /* No marker: nothing of this registry is left there. */
    reg_close(&r);
    return rc;
}

const struct sf_resource_type sf_ssh_registry_type = {
    .name = "ssh_registry",
    .doc = "a Docker Registry with htpasswd authentication on a server, configured over SSH",
    .attrs = attrs,
    .read = reg_read,
    .adopt = reg_adopt,
    .create = reg_create,
    .update = reg_update,
    .delete = reg_delete,
    .plan = reg_plan,
    .status = reg_status,
    .timeouts = {.create = 600, .update = 600, .delete = 300, .read = 120},
};

/*
 * cloud_keypair and cloud_server: Nova v2.1 key pairs and servers (the
 * registry VM). A key pair has no place for a tag, so its name is its
 * identity: adopt takes the key pair of that name only when it holds the
 * same public key. A server carries lineage and address in its metadata
 * (SF_CLOUD_KEY_*; read hides them from the metadata attribute), and adopt
 * lists servers of its name and picks the one with that metadata.
 * Flavor and image may be given by name or id; read reports them the way
 * the description spelled them while they name the same object.
 */
#include <stdlib.h>
#include <string.h>

#include "cloud.h"
#include "util.h"

/* ---------- cloud_keypair ---------- */

static const struct sf_attr keypair_attrs[] = {
    {"name", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "key pair name, unique per user (its identity)"},
    {"public_key", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "OpenSSH public key line"},
    {"fingerprint", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the key's fingerprint as Nova shows it"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the name (Nova names key pairs by name)"},
    {NULL, 0, 0, NULL, NULL},
};

/* Whether two public key lines hold the same key (comments aside). */
static bool same_key(const char *a, const char *b)
{
    size_t na = strcspn(a, " \t"), nb = strcspn(b, " \t");
    if (na != nb || strncmp(a, b, na) != 0)
        return false;
    a += na + strspn(a + na, " \t");
    b += nb + strspn(b + nb, " \t");
    na = strcspn(a, " \t\r\n");
    nb = strcspn(b, " \t\r\n");
    return na == nb && na > 0 && strncmp(a, b, na) == 0;
}

/* What read reports; recorded_key (may be NULL) is kept when it holds the
 * same key, so a comment Nova drops is no diff. */
static json_t *keypair_view(const json_t *kp, const char *recorded_key)
{
    const char *key = sf_cloud_str(kp, "public_key");
    if (recorded_key && same_key(recorded_key, key))
        key = recorded_key;
    return json_pack("{s:s, s:s, s:s, s:s}", "name", sf_cloud_str(kp, "name"), "public_key", key,
                     "fingerprint", sf_cloud_str(kp, "fingerprint"), "id",
                     sf_cloud_str(kp, "name"));
}

static int keypair_get(struct sf_call *c, const char *name, const char *recorded_key, json_t **out)
{
    *out = NULL;
    char *e = sf_cloud_escape(name);
    char *path = sf_asprintf("/os-keypairs/%s", e);
    free(e);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_COMPUTE, "GET", path, NULL, SF_CLOUD_OK404,
                         "reading the key pair", &r);
    if (rc == 0 && r.status != 404)
        *out = keypair_view(json_object_get(r.json, "keypair"), recorded_key);
    sf_cloud_resp_free(&r);
    free(path);
    return rc;
}

static int keypair_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    const char *name = sf_cloud_str(prior, "name");
    const char *key = json_string_value(json_object_get(prior, "public_key"));
    return keypair_get(c, *name ? name : sf_cloud_str(prior, "id"), key, out);
}

/* The key pair of that name, when it holds the desired key. */
static int keypair_find(struct sf_call *c, const void *arg, json_t **found)
{
    const json_t *desired = arg;
    const char *key = sf_cloud_str(desired, "public_key");
    if (keypair_get(c, sf_cloud_str(desired, "name"), key, found) < 0)
        return -1;
    if (*found && !same_key(sf_cloud_str(*found, "public_key"), key)) {
        json_decref(*found);
        *found = NULL;
    }
    return 0;
}

static int keypair_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    return keypair_find(c, desired, out);
}

static int keypair_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    json_t *body = json_pack("{s:{s:s, s:s}}", "keypair", "name", sf_cloud_str(desired, "name"),
                             "public_key", sf_cloud_str(desired, "public_key"));
    json_t *answer = NULL, *found = NULL;
    int rc = sf_cloud_create(c, SF_CLOUD_COMPUTE, "/os-keypairs", body, "importing the key pair",
                             keypair_find, desired, &answer, &found);
    json_decref(body);
    if (rc == 0)
        *out = found ? found
                     : keypair_view(json_object_get(answer, "keypair"),
                                    sf_cloud_str(desired, "public_key"));
    json_decref(answer);
    return rc;
}

/* Nothing changes in place; the recorded values carry over. */
static int keypair_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                          json_t **out)
{
    return keypair_read(c, prior, out);
}

static int keypair_delete(struct sf_call *c, const json_t *prior)
{
    const char *name = sf_cloud_str(prior, "name");
    char *e = sf_cloud_escape(*name ? name : sf_cloud_str(prior, "id"));
    char *path = sf_asprintf("/os-keypairs/%s", e);
    free(e);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_COMPUTE, "DELETE", path, NULL, SF_CLOUD_OK404,
                         "deleting the key pair", &r);
    sf_cloud_resp_free(&r);
    free(path);
    return rc;
}

const struct sf_resource_type sf_cloud_keypair_type = {
    .name = "cloud_keypair",
    .doc = "a Nova key pair (an imported public key)",
    .attrs = keypair_attrs,
    .read = keypair_read,
    .adopt = keypair_adopt,
    .create = keypair_create,
    .update = keypair_update,
    .delete = keypair_delete,
    .timeouts = {.create = 300, .update = 300, .delete = 300, .read = 300},
};

/* ---------- cloud_server ---------- */

static const struct sf_attr server_attrs[] = {
    {"name", SF_STRING, SF_REQUIRED, NULL, "server name (changes in place)"},
    {"flavor", SF_STRING, SF_REQUIRED, NULL, "flavor name or id; a change resizes the server"},
    {"image", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "image name or id"},
    {"network_id", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the network the server is on"},
    {"keypair", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, NULL, "name of a key pair to install"},
    {"metadata", SF_MAP, SF_OPTIONAL, "{}", "metadata key/values (strings)"},
    {"power_state", SF_STRING, SF_OPTIONAL | SF_POWER, "\"active\"", "\"active\" (running) or \"shutoff\" (stopped)"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "Nova id"},
    {"flavor_id", SF_STRING, SF_COMPUTED, NULL, "the flavor's id"},
    {"image_id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the image's id"},
    {"address", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "fixed address on the network"},
    {"ssh_host", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "where SSH reaches the server"},
    {"ssh_port", SF_NUMBER, SF_COMPUTED | SF_STABLE, NULL, "its SSH port"},
    {"host_key_fingerprint", SF_STRING, SF_COMPUTED | SF_STABLE, NULL,
     "SHA256 fingerprint of its SSH host key (ED25519, else the first) as cloud-init printed it "
     "on the console; null when it printed none"},
    {"status", SF_STRING, SF_COMPUTED, NULL, "Nova's status: ACTIVE, SHUTOFF, ERROR, ..."},
    {NULL, 0, 0, NULL, NULL},
};

static char *server_path(const char *id, const char *rest)
{
    char *e = sf_cloud_escape(id);
    char *p = sf_asprintf("/servers/%s%s", e, rest);
    free(e);
    return p;
}

/* GET the server: *srv the "server" object (new ref), NULL when gone or
 * being deleted. */
static int server_get(struct sf_call *c, const char *id, json_t **srv)
{
    *srv = NULL;
    char *path = server_path(id, "");
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_COMPUTE, "GET", path, NULL, SF_CLOUD_OK404,
                         "reading the server", &r);
    free(path);
    if (rc == 0 && r.status != 404) {
        json_t *s = json_object_get(r.json, "server");
        const char *task = json_string_value(json_object_get(s, "OS-EXT-STS:task_state"));
        if (strcmp(sf_cloud_str(s, "status"), "DELETED") != 0 && !(task && strcmp(task, "deleting") == 0))
            *srv = json_incref(s);
    }
    sf_cloud_resp_free(&r);
    return rc;
}

/* The network id of the first network the server has an address on, by
 * the name Nova shows (import has no recorded network_id). */
static json_t *network_by_name(struct sf_call *c, const char *name)
{
    char *e = sf_cloud_escape(name);
    char *path = sf_asprintf("/v2.0/networks?name=%s", e);
    free(e);
    struct sf_cloud_resp r;
    json_t *id = NULL;
    if (sf_cloud_do(c, SF_CLOUD_NETWORK, "GET", path, NULL, 0, "looking the server's network up", &r) == 0) {
        json_t *n = json_array_get(json_object_get(r.json, "networks"), 0);
        id = n ? json_string(sf_cloud_str(n, "id")) : json_null();
    }
    sf_cloud_resp_free(&r);
    free(path);
    return id;
}

/*
 * The host key: Nova has no API for it. cloud-init prints the host keys'
 * fingerprints on the console on first boot, between
 *   -----BEGIN SSH HOST KEY FINGERPRINTS-----
 *   256 SHA256:... root@host (ED25519)
 *   -----END SSH HOST KEY FINGERPRINTS-----
 * (each line may carry a syslog or "ec2:" prefix), and ends with
 * "Cloud-init v. N finished at ...". The server's console log
 * (os-getConsoleOutput) is read for the ED25519 fingerprint, else the
 * first one.
 */
static const char *const FP_BEGIN = "-----BEGIN SSH HOST KEY FINGERPRINTS-----";
static const char *const FP_END = "-----END SSH HOST KEY FINGERPRINTS-----";

/* The fingerprint the console text shows (new string), or NULL; *done is
 * set when cloud-init has finished (so none will come). */
static json_t *fingerprint_in(const char *console, bool *done)
{
    *done = strstr(console, "Cloud-init v.") && strstr(console, " finished at ");
    const char *b = strstr(console, FP_BEGIN);
    const char *e = b ? strstr(b, FP_END) : NULL;
    if (!e)
        return NULL;
    char *first = NULL, *ed25519 = NULL;
    for (const char *line = b; line < e;) {
        const char *nl = memchr(line, '\n', (size_t)(e - line));
        const char *end = nl ? nl : e;
        const char *fp = memmem(line, (size_t)(end - line), "SHA256:", 7);
        if (fp) {
            size_t n = strcspn(fp, " \t\r\n");
            if (fp + n > end)
                n = (size_t)(end - fp);
            char *v = sf_xstrndup(fp, n);
            if (!ed25519 && memmem(line, (size_t)(end - line), "(ED25519)", 9))
                ed25519 = sf_xstrdup(v);
            if (!first)
                first = v;
            else
                free(v);
        }
        line = nl ? nl + 1 : e;
    }
    json_t *out = ed25519 ? json_string(ed25519) : first ? json_string(first) : NULL;
    free(first);
    free(ed25519);
    return out;
}

/* The host key fingerprint from the server's console: with wait, polls
 * until cloud-init printed it or finished (at most three minutes; an
 * image without cloud-init prints neither). *fp is a new string or JSON
 * null. Returns 0, or -1 after an error. */
static int console_fingerprint(struct sf_call *c, const char *id, bool wait, json_t **fp)
{
    *fp = NULL;
    char *path = server_path(id, "/action");
    json_t *body = json_pack("{s:{}}", "os-getConsoleOutput");
    double until = sf_now() + 180;
    long delay = 0;
    int rc = 0;
    for (;;) {
        struct sf_cloud_resp r;
        rc = sf_cloud_do(c, SF_CLOUD_COMPUTE, "POST", path, body, SF_CLOUD_IDEMP | SF_CLOUD_OK409,
                         "reading the server's console", &r);
        bool done = false;
        if (rc == 0 && r.status != 409)
            *fp = fingerprint_in(sf_cloud_str(r.json, "output"), &done);
        sf_cloud_resp_free(&r);
        if (rc < 0 || *fp || done || !wait || sf_now() >= until)
            break;
        if ((rc = sf_cloud_pause(c, &delay, "waiting for cloud-init to print the host key")) < 0)
            break;
    }
    json_decref(body);
    free(path);
    if (rc == 0 && !*fp)
        *fp = json_null();
    return rc;
}

/* What read reports for a Nova server; prior (the recorded attributes,
 * or {"id"} on import) gives the spellings. NULL after an error. */
static json_t *server_view(struct sf_call *c, const json_t *s, const json_t *prior)
{
    json_t *v = json_pack("{s:s, s:s}", "name", sf_cloud_str(s, "name"), "id", sf_cloud_str(s, "id"));
    const char *flavor_id = sf_cloud_str(json_object_get(s, "flavor"), "id");
    const char *image_id = sf_cloud_str(json_object_get(s, "image"), "id");
    json_t *flavor = sf_cloud_flavor_spelling(c, json_object_get(prior, "flavor"),
                                              json_object_get(prior, "flavor_id"), flavor_id);
    json_t *image = flavor ? sf_cloud_image_spelling(c, json_object_get(prior, "image"),
                                                     json_object_get(prior, "image_id"), image_id)
                           : NULL;
    if (!image) {
        json_decref(flavor);
        json_decref(v);
        return NULL;
    }
    json_object_set_new(v, "flavor", flavor);
    json_object_set_new(v, "image", image);
    json_object_set_new(v, "flavor_id", json_string(flavor_id));
    json_object_set_new(v, "image_id", json_string(image_id));
    json_t *key = json_object_get(s, "key_name");
    json_object_set_new(v, "keypair", json_is_string(key) ? json_copy(key) : json_null());
    json_t *md = json_object();
    const char *k;
    json_t *val;
    json_object_foreach(json_object_get(s, "metadata"), k, val) if (strcmp(k, SF_CLOUD_KEY_LINEAGE) != 0 &&
                                                                    strcmp(k, SF_CLOUD_KEY_ADDRESS) != 0)
        json_object_set(md, k, val);
    json_object_set_new(v, "metadata", md);
    const char *status = sf_cloud_str(s, "status");
    json_object_set_new(v, "status", json_string(status));
    json_object_set_new(v, "power_state", json_string(strcmp(status, "SHUTOFF") == 0 ? "shutoff" : "active"));

    /* Addresses: the fixed one on the network; SSH where the cloud says
     * (localcloud maps every server to one sshd), else a floating
     * address, else the fixed one. */
    const char *fixed = NULL, *floating = NULL, *netname = NULL;
    json_t *list;
    json_object_foreach(json_object_get(s, "addresses"), k, list)
    {
        size_t i;
        json_t *a;
        json_array_foreach(list, i, a)
        {
            const char *type = sf_cloud_str(a, "OS-EXT-IPS:type");
            if (strcmp(type, "floating") == 0 && !floating)
                floating = sf_cloud_str(a, "addr");
            else if (strcmp(type, "floating") != 0 && !fixed) {
                fixed = sf_cloud_str(a, "addr");
                netname = k;
            }
        }
    }
    json_object_set_new(v, "address", fixed ? json_string(fixed) : json_null());
    json_t *ssh = json_object_get(s, "localcloud:ssh");
    const char *access = sf_cloud_str(s, "accessIPv4");
    const char *host = json_is_object(ssh) ? sf_cloud_str(ssh, "host")
                       : floating          ? floating
                       : *access           ? access
                                           : fixed;
    json_object_set_new(v, "ssh_host", host ? json_string(host) : json_null());
    json_t *port = json_object_get(ssh, "port");
    json_object_set_new(v, "ssh_port", json_is_integer(port) ? json_copy(port) : json_integer(22));

    /* The host key does not change while the server lives: what was
     * recorded stands, and the console is read only when nothing was. */
    json_t *fp = json_object_get(prior, "host_key_fingerprint");
    if (json_is_string(fp))
        json_object_set(v, "host_key_fingerprint", fp);
    else if (strcmp(status, "ACTIVE") == 0) {
        json_t *got;
        if (console_fingerprint(c, sf_cloud_str(s, "id"), false, &got) < 0) {
            json_decref(v);
            return NULL;
        }
        json_object_set_new(v, "host_key_fingerprint", got);
    } else
        json_object_set_new(v, "host_key_fingerprint", json_null());

    json_t *net = json_object_get(prior, "network_id");
    if (json_is_string(net))
        json_object_set_new(v, "network_id", json_copy(net));
    else if (netname) {
        json_t *id = network_by_name(c, netname);
        if (!id) {
            json_decref(v);
            return NULL;
        }
        json_object_set_new(v, "network_id", id);
    } else
        json_object_set_new(v, "network_id", json_null());
    return v;
}

static int server_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    json_t *s;
    if (server_get(c, sf_cloud_str(prior, "id"), &s) < 0)
        return -1;
    if (!s)
        return 0;
    *out = server_view(c, s, prior);
    json_decref(s);
    return *out ? 0 : -1;
}

/* `sparkform status`: Nova's status of the server; healthy when it is
 * what the description's power_state asks (ACTIVE, or SHUTOFF). */
static int server_status(struct sf_call *c, const json_t *recorded, json_t **out)
{
    *out = NULL;
    json_t *s;
    if (server_get(c, sf_cloud_str(recorded, "id"), &s) < 0)
        return -1;
    if (!s)
        return 0;
    const char *status = sf_cloud_str(s, "status");
    const char *want =
        strcmp(sf_cloud_str(recorded, "power_state"), "shutoff") == 0 ? "SHUTOFF" : "ACTIVE";
    const char *addr = sf_cloud_str(recorded, "address");
    if (strcmp(status, want) == 0)
        *out = sf_status_new(status, true, "%s%s%s",
                             strcmp(status, "ACTIVE") == 0 ? "running"
                                                           : "stopped as the description asks",
                             *addr ? ", address " : "", addr);
    else
        *out = sf_status_new(*status ? status : "UNKNOWN", false, "%s (the description asks for %s)",
                             *status ? status : "no status", want);
    json_object_set_new(*out, "status", json_string(status));
    json_decref(s);
    return 0;
}

static bool tagged(const struct sf_call *c, const json_t *md)
{
    return strcmp(sf_cloud_str(md, SF_CLOUD_KEY_LINEAGE), c->lineage ? c->lineage : "") == 0 &&
           strcmp(sf_cloud_str(md, SF_CLOUD_KEY_ADDRESS), c->address) == 0;
}

/* A Nova name filter is a regular expression: this one matches the name
 * exactly. Caller frees. */
static char *name_regex(const char *name)
{
    struct sf_buf b = {0};
    sf_buf_puts(&b, "^");
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              (unsigned char)*p >= 0x80))
            sf_buf_puts(&b, "\\");
        sf_buf_add(&b, p, 1);
    }
    sf_buf_puts(&b, "$");
    return sf_buf_take(&b);
}

/* The server of this stack and address: the newest one of the desired
 * name whose metadata carries the tag. *found is its view. */
static int server_find(struct sf_call *c, const void *arg, json_t **found)
{
    const json_t *desired = arg;
    *found = NULL;
    char *re = name_regex(sf_cloud_str(desired, "name"));
    char *e = sf_cloud_escape(re);
    char *path = sf_asprintf("/servers/detail?name=%s", e);
    free(re);
    free(e);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_COMPUTE, "GET", path, NULL, 0, "looking for the server", &r);
    free(path);
    if (rc == 0) {
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(r.json, "servers"), i, s)
        {
            const char *task = json_string_value(json_object_get(s, "OS-EXT-STS:task_state"));
            if (!tagged(c, json_object_get(s, "metadata")) || (task && strcmp(task, "deleting") == 0))
                continue;
            *found = server_view(c, s, desired);
            rc = *found ? 0 : -1;
            break;
        }
    }
    sf_cloud_resp_free(&r);
    return rc;
}

static int server_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    return server_find(c, desired, out);
}

/* Polls until the server's status is target (or also2 when not NULL).
 * ERROR fails with Nova's fault message. *last gets the final server. */
static int server_wait(struct sf_call *c, const char *id, const char *target, const char *also2,
                       json_t **last)
{
    *last = NULL;
    long delay = 0;
    char *text = sf_asprintf("waiting for %s", target);
    int rc = 0;
    for (;;) {
        json_t *s;
        if ((rc = server_get(c, id, &s)) < 0)
            break;
        if (!s) {
            sf_cloud_error(c, SF_CLASS_NOT_FOUND, "the server %s disappeared while %s", id, text);
            rc = -1;
            break;
        }
        const char *st = sf_cloud_str(s, "status");
        const char *task = json_string_value(json_object_get(s, "OS-EXT-STS:task_state"));
        if (strcmp(st, "ERROR") == 0) {
            const char *why = sf_cloud_str(json_object_get(s, "fault"), "message");
            sf_cloud_error(c, SF_CLASS_NONE, "the server %s went into ERROR: %s", id,
                           *why ? why : "the cloud gave no reason");
            *last = s;
            rc = -1;
            break;
        }
        if (!task && (strcmp(st, target) == 0 || (also2 && strcmp(st, also2) == 0))) {
            *last = s;
            break;
        }
        json_decref(s);
        if ((rc = sf_cloud_pause(c, &delay, text)) < 0)
            break;
    }
    free(text);
    return rc;
}

/* One server action (POST /servers/ID/action; body is stolen). A 409 (a
 * transition under way) is waited out; a lost answer is settled by the
 * caller's next look. */
static int server_action(struct sf_call *c, const char *id, json_t *body, const char *what)
{
    char *path = server_path(id, "/action");
    long delay = 0;
    int rc;
    for (;;) {
        struct sf_diags tmp;
        sf_diags_init(&tmp);
        struct sf_call cc = *c;
        cc.diags = &tmp;
        struct sf_cloud_resp r;
        rc = sf_cloud_do(&cc, SF_CLOUD_COMPUTE, "POST", path, body, SF_CLOUD_OK409, what, &r);
        long st = r.status;
        bool ambiguous = r.ambiguous;
        sf_cloud_resp_free(&r);
        if (rc == 0 && st == 409) {
            sf_diags_free(&tmp);
            if ((rc = sf_cloud_pause(c, &delay, what)) < 0)
                break;
            continue;
        }
        if (rc < 0 && ambiguous) {
            /* The caller's wait tells whether it took effect. */
            sf_diags_free(&tmp);
            rc = 0;
            break;
        }
        sf_diags_move(c->diags, &tmp);
        sf_diags_free(&tmp);
        break;
    }
    free(path);
    json_decref(body);
    return rc;
}

/* Bring the server to the desired power state (converging: a lost answer
 * is followed by a look at what happened). */
static int server_power(struct sf_call *c, const char *id, const char *want)
{
    bool off = strcmp(want, "shutoff") == 0;
    const char *target = off ? "SHUTOFF" : "ACTIVE";
    json_t *s;
    int rc = server_wait(c, id, "ACTIVE", "SHUTOFF", &s);
    bool there = rc == 0 && strcmp(sf_cloud_str(s, "status"), target) == 0;
    json_decref(s);
    if (rc < 0 || there)
        return rc;
    if (server_action(c, id, json_pack("{s:n}", off ? "os-stop" : "os-start"),
                      off ? "stopping the server" : "starting the server") < 0)
        return -1;
    rc = server_wait(c, id, target, NULL, &s);
    json_decref(s);
    return rc;
}

static json_t *tagged_metadata(const struct sf_call *c, const json_t *desired)
{
    json_t *md = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(desired, "metadata"), k, v) if (json_is_string(v))
        json_object_set(md, k, v);
    json_object_set_new(md, SF_CLOUD_KEY_LINEAGE, json_string(c->lineage ? c->lineage : ""));
    json_object_set_new(md, SF_CLOUD_KEY_ADDRESS, json_string(c->address));
    return md;
}

static int server_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    char *flavor = sf_cloud_flavor_id(c, sf_cloud_str(desired, "flavor"));
    char *image = flavor ? sf_cloud_image_id(c, sf_cloud_str(desired, "image")) : NULL;
    if (!image) {
        free(flavor);
        return -1;
    }
    json_t *srv = json_pack("{s:s, s:s, s:s, s:[{s:s}], s:o}", "name", sf_cloud_str(desired, "name"),
                            "flavorRef", flavor, "imageRef", image, "networks", "uuid",
                            sf_cloud_str(desired, "network_id"), "metadata",
                            tagged_metadata(c, desired));
    free(flavor);
    free(image);
    const char *key = json_string_value(json_object_get(desired, "keypair"));
    if (key && *key)
        json_object_set_new(srv, "key_name", json_string(key));
    json_t *body = json_pack("{s:o}", "server", srv);
    json_t *answer = NULL, *found = NULL;
    int rc = sf_cloud_create(c, SF_CLOUD_COMPUTE, "/servers", body, "creating the server",
                             server_find, desired, &answer, &found);
    json_decref(body);
    if (rc < 0)
        return -1;
    char *id = sf_xstrdup(found ? sf_cloud_str(found, "id")
                                : sf_cloud_str(json_object_get(answer, "server"), "id"));
    json_decref(answer);
    json_decref(found);
    if (!*id) {
        sf_cloud_error(c, SF_CLASS_INVALID, "creating the server: the answer has no id");
        free(id);
        return -1;
    }
    json_t *s;
    rc = server_wait(c, id, "ACTIVE", "SHUTOFF", &s);
    if (rc == 0 && strcmp(sf_cloud_str(desired, "power_state"), "shutoff") == 0) {
        json_decref(s);
        s = NULL;
        rc = server_power(c, id, "shutoff");
        if (rc == 0)
            rc = server_get(c, id, &s);
    }
    /* A server that ended in ERROR is returned too: recorded tainted. */
    if (s) {
        *out = server_view(c, s, desired);
        json_decref(s);
        if (!*out)
            rc = -1;
    }
    /* On first boot cloud-init prints the host key a little after the
     * server is ACTIVE: wait for it, so that SSH can check it. */
    if (rc == 0 && json_is_null(json_object_get(*out, "host_key_fingerprint")) &&
        strcmp(sf_cloud_str(*out, "status"), "ACTIVE") == 0) {
        json_t *fp;
        rc = console_fingerprint(c, id, true, &fp);
        if (rc == 0)
            json_object_set_new(*out, "host_key_fingerprint", fp);
    }
    free(id);
    return rc;
}

/* Polls after a resize until Nova waits for the confirmation
 * (VERIFY_RESIZE, *confirm set; only when confirm is not NULL) or the
 * server is back in settle with the new flavor (after the confirmation,
 * or on a cloud that confirms by itself). */
static int resize_wait(struct sf_call *c, const char *id, const char *settle, const char *flavor,
                       bool *confirm)
{
    long delay = 0;
    for (;;) {
        json_t *s;
        if (server_get(c, id, &s) < 0)
            return -1;
        if (!s) {
            sf_cloud_error(c, SF_CLASS_NOT_FOUND, "the server %s disappeared while resizing", id);
            return -1;
        }
        const char *st = sf_cloud_str(s, "status");
        const char *task = json_string_value(json_object_get(s, "OS-EXT-STS:task_state"));
        bool verify = confirm && strcmp(st, "VERIFY_RESIZE") == 0;
        bool done = !task && strcmp(st, settle) == 0 &&
                    strcmp(sf_cloud_str(json_object_get(s, "flavor"), "id"), flavor) == 0;
        bool error = strcmp(st, "ERROR") == 0;
        if (error)
            sf_cloud_error(c, SF_CLASS_NONE, "the server %s went into ERROR while resizing: %s", id,
                           *sf_cloud_str(json_object_get(s, "fault"), "message")
                               ? sf_cloud_str(json_object_get(s, "fault"), "message")
                               : "the cloud gave no reason");
        json_decref(s);
        if (error)
            return -1;
        if (verify || done) {
            if (confirm)
                *confirm = verify;
            return 0;
        }
        if (sf_cloud_pause(c, &delay, "waiting for the resize") < 0)
            return -1;
    }
}

/* Nova's resize: the action, then (unless the cloud confirms by itself)
 * confirmResize once it reaches VERIFY_RESIZE. */
static int server_resize(struct sf_call *c, const char *id, const char *flavor_name)
{
    char *flavor = sf_cloud_flavor_id(c, flavor_name);
    if (!flavor)
        return -1;
    json_t *s;
    int rc = server_wait(c, id, "ACTIVE", "SHUTOFF", &s);
    if (rc == 0 && strcmp(sf_cloud_str(json_object_get(s, "flavor"), "id"), flavor) != 0) {
        char *settle = sf_xstrdup(sf_cloud_str(s, "status"));
        bool confirm = false;
        rc = server_action(c, id, json_pack("{s:{s:s}}", "resize", "flavorRef", flavor),
                           "resizing the server");
        if (rc == 0)
            rc = resize_wait(c, id, settle, flavor, &confirm);
        if (rc == 0 && confirm) {
            rc = server_action(c, id, json_pack("{s:n}", "confirmResize"), "confirming the resize");
            if (rc == 0)
                rc = resize_wait(c, id, settle, flavor, NULL);
        }
        free(settle);
    }
    json_decref(s);
    free(flavor);
    return rc;
}

static int server_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                         json_t **out)
{
    *out = NULL;
    const char *id = sf_cloud_str(prior, "id");
    int rc = 0;
    if (strcmp(sf_cloud_str(prior, "name"), sf_cloud_str(desired, "name")) != 0) {
        char *path = server_path(id, "");
        json_t *body = json_pack("{s:{s:s}}", "server", "name", sf_cloud_str(desired, "name"));
        struct sf_cloud_resp r;
        rc = sf_cloud_do(c, SF_CLOUD_COMPUTE, "PUT", path, body, 0, "renaming the server", &r);
        sf_cloud_resp_free(&r);
        json_decref(body);
        free(path);
    }
    if (rc == 0 && !sf_value_equal(json_object_get(prior, "metadata"), json_object_get(desired, "metadata"))) {
        /* PUT replaces the whole set: the tag keys go along again. */
        char *path = server_path(id, "/metadata");
        json_t *body = json_pack("{s:o}", "metadata", tagged_metadata(c, desired));
        struct sf_cloud_resp r;
        rc = sf_cloud_do(c, SF_CLOUD_COMPUTE, "PUT", path, body, 0, "setting the server's metadata", &r);
        sf_cloud_resp_free(&r);
        json_decref(body);
        free(path);
    }
    if (rc == 0 && strcmp(sf_cloud_str(prior, "flavor"), sf_cloud_str(desired, "flavor")) != 0)
        rc = server_resize(c, id, sf_cloud_str(desired, "flavor"));
    if (rc == 0 && strcmp(sf_cloud_str(prior, "power_state"), sf_cloud_str(desired, "power_state")) != 0)
        rc = server_power(c, id, sf_cloud_str(desired, "power_state"));
    if (rc < 0)
        return -1;
    json_t *s;
    if (server_get(c, id, &s) < 0)
        return -1;
    if (!s) {
        sf_cloud_error(c, SF_CLASS_NOT_FOUND, "the server %s disappeared during the update", id);
        return -1;
    }
    *out = server_view(c, s, desired);
    json_decref(s);
    return *out ? 0 : -1;
}

/* Plan time: a flavor and an image the cloud has, each when it is known
 * and changes (the image only for a new server: a change replaces it). */
static int server_check(struct sf_call *c, const json_t *prior, const json_t *desired)
{
    int rc = 0;
    const char *flavor = sf_cloud_checked(prior, desired, "flavor");
    if (flavor && sf_cloud_check_flavor(c, "flavor", flavor) < 0)
        rc = -1;
    const char *image = sf_cloud_checked(prior, desired, "image");
    if (image && sf_cloud_check_image(c, "image", image) < 0)
        rc = -1;
    return rc;
}

static int server_delete(struct sf_call *c, const json_t *prior)
{
    const char *id = sf_cloud_str(prior, "id");
    if (!*id)
        return 0;
    /* Its port holds the subnet until it is really gone. */
    char *path = server_path(id, "");
    int rc = sf_cloud_delete(c, SF_CLOUD_COMPUTE, path, "the server", true);
    free(path);
    return rc;
}

const struct sf_resource_type sf_cloud_server_type = {
    .name = "cloud_server",
    .doc = "a Nova server (a VM such as the registry)",
    .attrs = server_attrs,
    .read = server_read,
    .adopt = server_adopt,
    .create = server_create,
    .update = server_update,
    .delete = server_delete,
    .status = server_status,
    .check = server_check,
    .timeouts = {.create = 1200, .update = 1200, .delete = 600, .read = 300},
    .power_on = "active",
    .power_off = "shutoff",
};

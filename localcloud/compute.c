/*
 * Compute, a Nova v2.1 subset under /compute/v2.1: a fixed list of flavors
 * and images, keypairs (import of SSH public keys), and servers with their
 * life cycle, metadata and start/stop/reboot/resize actions. The same images are
 * also served by a Glance v2 subset under /image (the catalog's "image").
 *
 * No thread moves a server along: a server stores its status and, while a
 * transition is under way, a "pending" {status, at_ms, task}; every read
 * computes the status from the clock (BUILD becomes ACTIVE once --delay-ms
 * has passed), and every change first settles what is due. A deleted
 * server keeps answering with task_state "deleting" for --delay-ms, then the
 * sweep purges it and it is 404. A pending transition may also carry the
 * flavor it ends with (a resize) and a fault: a server named in the test
 * endpoint's failures ends its build or action in ERROR with that fault's
 * message, as Nova reports one. Addresses come from the network API's
 * subnets; with --ssh HOST:PORT every server also shows that SSH endpoint.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "apis.h"
#include "faults.h"
#include "fields.h"
#include "ipaddr.h"
#include "store.h"
#include "util.h"

#define API "compute"
#define MAX_METADATA 128
#define MAX_USER_DATA 65535

struct flavor {
    const char *id, *name;
    int vcpus, ram_mb, disk_gb;
};

/* The fixed flavors, documented in localcloud/README.md. */
static const struct flavor flavors[] = {
    {"5a8b3b58-1d2c-4f6e-9a01-000000000102", "STD2-1-2", 1, 2048, 20},
    {"5a8b3b58-1d2c-4f6e-9a01-000000000204", "STD2-2-4", 2, 4096, 20},
    {"5a8b3b58-1d2c-4f6e-9a01-000000000408", "STD2-4-8", 4, 8192, 40},
    {"5a8b3b58-1d2c-4f6e-9a02-000000000204", "STD3-2-4", 2, 4096, 20},
    {"5a8b3b58-1d2c-4f6e-9a02-000000000408", "STD3-4-8", 4, 8192, 40},
    {"5a8b3b58-1d2c-4f6e-9a02-000000000816", "STD3-8-16", 8, 16384, 80},
    {"5a8b3b58-1d2c-4f6e-9a02-000000001632", "STD3-16-32", 16, 32768, 160},
};

struct image {
    const char *id, *name;
    int min_disk_gb;
    long long size;
};

static const struct image images[] = {
    {"c4a3e2d1-7b6a-4c5d-8e9f-000000002204", "ubuntu-22.04", 10, 2361393152LL},
    {"c4a3e2d1-7b6a-4c5d-8e9f-000000002404", "ubuntu-24.04", 10, 2533359616LL},
    {"c4a3e2d1-7b6a-4c5d-8e9f-000000000012", "debian-12", 10, 2147483648LL},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void nova_error(struct lc_response *resp, unsigned status, const char *type, const char *msg)
{
    if (!type) {
        switch (status) {
        case 400: type = "badRequest"; break;
        case 401: type = "unauthorized"; break;
        case 403: type = "forbidden"; break;
        case 404: type = "itemNotFound"; break;
        case 405: type = "badMethod"; break;
        case 409: type = "conflictingRequest"; break;
        case 413: case 429: type = "overLimit"; break;
        case 501: type = "notImplemented"; break;
        case 503: type = "serviceUnavailable"; break;
        default: type = "computeFault"; break;
        }
    }
    lc_resp_json(resp, status, json_pack("{s:{s:i, s:s}}", type, "code", (int)status, "message", msg));
}

static struct lc_store *store(struct lc_request *req)
{
    return lc_server_store(req->srv);
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_t *links(struct lc_request *req, const char *kind, const char *id)
{
    const char *base = lc_server_base_url(req->srv);
    char *self = sf_asprintf("%s/compute/v2.1/%s/%s", base, kind, id);
    char *bookmark = sf_asprintf("%s/compute/%s/%s", base, kind, id);
    json_t *l = json_pack("[{s:s, s:s}, {s:s, s:s}]", "rel", "self", "href", self, "rel",
                          "bookmark", "href", bookmark);
    free(self);
    free(bookmark);
    return l;
}

/* "ID" or a link ending in "/ID", as Nova accepts for flavorRef / imageRef. */
static const char *ref_id(const char *ref)
{
    const char *slash = strrchr(ref, '/');
    return slash ? slash + 1 : ref;
}

static const struct flavor *flavor_by_id(const char *id)
{
    for (size_t i = 0; i < NELEM(flavors); i++)
        if (strcmp(flavors[i].id, id) == 0)
            return &flavors[i];
    return NULL;
}

const char *lc_compute_flavor_id(const char *ref)
{
    for (size_t i = 0; i < NELEM(flavors); i++)
        if (strcmp(flavors[i].id, ref) == 0 || strcmp(flavors[i].name, ref) == 0)
            return flavors[i].id;
    return NULL;
}

static const struct image *image_by_id(const char *id)
{
    for (size_t i = 0; i < NELEM(images); i++)
        if (strcmp(images[i].id, id) == 0)
            return &images[i];
    return NULL;
}

/* ---------- flavors and images ---------- */

static json_t *flavor_view(struct lc_request *req, const struct flavor *f, bool detail)
{
    json_t *v = json_pack("{s:s, s:s, s:o}", "id", f->id, "name", f->name, "links",
                          links(req, "flavors", f->id));
    if (detail) {
        json_object_set_new(v, "vcpus", json_integer(f->vcpus));
        json_object_set_new(v, "ram", json_integer(f->ram_mb));
        json_object_set_new(v, "disk", json_integer(f->disk_gb));
        json_object_set_new(v, "swap", json_string(""));
        json_object_set_new(v, "OS-FLV-EXT-DATA:ephemeral", json_integer(0));
        json_object_set_new(v, "OS-FLV-DISABLED:disabled", json_false());
        json_object_set_new(v, "os-flavor-access:is_public", json_true());
        json_object_set_new(v, "rxtx_factor", json_real(1.0));
        json_object_set_new(v, "description", json_null());
        json_object_set_new(v, "extra_specs", json_object());
    }
    return v;
}

static void list_flavors(struct lc_request *req, struct lc_response *resp, bool detail)
{
    json_t *out = json_array();
    for (size_t i = 0; i < NELEM(flavors); i++)
        json_array_append_new(out, flavor_view(req, &flavors[i], detail));
    lc_resp_json(resp, 200, json_pack("{s:o}", "flavors", out));
}

static void get_flavors(struct lc_request *req, struct lc_response *resp)
{
    list_flavors(req, resp, false);
}

static void get_flavors_detail(struct lc_request *req, struct lc_response *resp)
{
    list_flavors(req, resp, true);
}

static void get_flavor(struct lc_request *req, struct lc_response *resp)
{
    const struct flavor *f = flavor_by_id(lc_req_param(req, "id"));
    if (!f)
        lc_error(req, resp, 404, NULL, "Flavor %s could not be found.", lc_req_param(req, "id"));
    else
        lc_resp_json(resp, 200, json_pack("{s:o}", "flavor", flavor_view(req, f, true)));
}

static json_t *image_view(struct lc_request *req, const struct image *im, bool detail)
{
    json_t *v = json_pack("{s:s, s:s, s:o}", "id", im->id, "name", im->name, "links",
                          links(req, "images", im->id));
    if (detail) {
        json_object_set_new(v, "status", json_string("ACTIVE"));
        json_object_set_new(v, "progress", json_integer(100));
        json_object_set_new(v, "minDisk", json_integer(im->min_disk_gb));
        json_object_set_new(v, "minRam", json_integer(0));
        json_object_set_new(v, "created", json_string("2024-01-01T00:00:00Z"));
        json_object_set_new(v, "updated", json_string("2024-01-01T00:00:00Z"));
        json_object_set_new(v, "OS-EXT-IMG-SIZE:size", json_integer(im->size));
        json_object_set_new(v, "metadata", json_pack("{s:s}", "os_distro", im->name));
    }
    return v;
}

static void list_images(struct lc_request *req, struct lc_response *resp, bool detail)
{
    const char *name = lc_req_query(req, "name");
    json_t *out = json_array();
    for (size_t i = 0; i < NELEM(images); i++)
        if (!name || strcmp(name, images[i].name) == 0)
            json_array_append_new(out, image_view(req, &images[i], detail));
    lc_resp_json(resp, 200, json_pack("{s:o}", "images", out));
}

static void get_images(struct lc_request *req, struct lc_response *resp)
{
    list_images(req, resp, false);
}

static void get_images_detail(struct lc_request *req, struct lc_response *resp)
{
    list_images(req, resp, true);
}

static void get_image(struct lc_request *req, struct lc_response *resp)
{
    const struct image *im = image_by_id(lc_req_param(req, "id"));
    if (!im)
        lc_error(req, resp, 404, NULL, "Image %s could not be found.", lc_req_param(req, "id"));
    else
        lc_resp_json(resp, 200, json_pack("{s:o}", "image", image_view(req, im, true)));
}

/* ---------- keypairs ---------- */

/* Strict base64 of n bytes: the alphabet, whole quads, '=' only at the end. */
static bool valid_base64(const char *s, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n == 0 || n % 4 != 0)
        return false;
    size_t pad = 0;
    while (pad < 2 && s[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!s[i] || !strchr(alphabet, s[i]))
            return false;
    return true;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads one SSH wire-format string at *off; -1 when it runs past the end. */
static int ssh_string(const unsigned char *b, size_t n, size_t *off, const unsigned char **s,
                      size_t *len)
{
    if (n - *off < 4)
        return -1;
    uint32_t l = be32(b + *off);
    if (l > n - *off - 4)
        return -1;
    *s = b + *off + 4;
    *len = l;
    *off += 4 + l;
    return 0;
}

/* Checks "TYPE BASE64 [COMMENT]": a known type whose decoded blob is well
 * formed and names the same type. Fills the MD5 fingerprint Nova shows
 * and, when sha256 is not NULL, OpenSSH's "SHA256:..." fingerprint (at
 * least 60 bytes) and the key's size in bits, as ssh-keygen -l shows them. */
static int check_public_key(const char *text, char *fingerprint, size_t fplen, char *sha256,
                            int *bits, const char **why)
{
    static const char *const types[] = {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
                                        "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", NULL};
    while (*text == ' ')
        text++;
    const char *sp = strchr(text, ' ');
    if (!sp) {
        *why = "expected \"TYPE BASE64 [COMMENT]\", e.g. \"ssh-ed25519 AAAA... user@host\"";
        return -1;
    }
    size_t tlen = (size_t)(sp - text);
    const char *type = NULL;
    for (size_t i = 0; types[i]; i++)
        if (strlen(types[i]) == tlen && strncmp(types[i], text, tlen) == 0)
            type = types[i];
    if (!type) {
        *why = "the key type must be ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521";
        return -1;
    }
    const char *b64 = sp + 1;
    while (*b64 == ' ')
        b64++;
    size_t blen = strcspn(b64, " \r\n");
    if (!valid_base64(b64, blen)) {
        *why = "the key data is not valid base64";
        return -1;
    }
    char *key64 = sf_xstrndup(b64, blen);
    size_t n;
    unsigned char *blob = sf_base64_decode(key64, &n);
    free(key64);
    if (!blob) {
        *why = "the key data is not valid base64";
        return -1;
    }
    size_t off = 0, len;
    const unsigned char *s;
    int rc = -1;
    *why = "the key data does not hold a key of its declared type";
    if (ssh_string(blob, n, &off, &s, &len) == 0 && len == tlen && memcmp(s, type, len) == 0) {
        int size = 256;
        if (strcmp(type, "ssh-ed25519") == 0) {
            rc = ssh_string(blob, n, &off, &s, &len) == 0 && len == 32 ? 0 : -1;
        } else {
            /* rsa: e and n; ecdsa: curve name and point */
            const unsigned char *s2;
            size_t l2;
            rc = ssh_string(blob, n, &off, &s, &len) == 0 &&
                         ssh_string(blob, n, &off, &s2, &l2) == 0 && len > 0 && l2 > 0
                     ? 0
                     : -1;
            if (rc == 0 && strcmp(type, "ssh-rsa") == 0) {
                while (l2 > 0 && *s2 == 0)
                    s2++, l2--;
                size = (int)(l2 * 8);
                for (unsigned char top = l2 ? *s2 : 0x80; !(top & 0x80); top <<= 1)
                    size--;
            } else if (rc == 0) {
                size = atoi(type + strlen("ecdsa-sha2-nistp"));
            }
        }
        if (bits)
            *bits = size;
        if (rc == 0 && off != (size_t)n)
            rc = -1;
    }
    if (rc == 0) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        EVP_Digest(blob, (size_t)n, md, &mdlen, EVP_md5(), NULL);
        size_t o = 0;
        for (unsigned i = 0; i < mdlen && o + 3 < fplen; i++)
            o += (size_t)snprintf(fingerprint + o, fplen - o, i ? ":%02x" : "%02x", md[i]);
        if (sha256) {
            EVP_Digest(blob, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
            char *b = sf_base64_encode(md, mdlen);
            b[strcspn(b, "=")] = '\0';
            snprintf(sha256, 60, "SHA256:%s", b);
            free(b);
        }
    }
    free(blob);
    return rc;
}

/* The lines of text that are not empty, each handed to fn with its
 * length; stops at the first that fn refuses. */
static bool each_key_line(const char *text, bool (*fn)(void *arg, const char *line), void *arg)
{
    bool ok = true;
    for (const char *p = text; *p && ok;) {
        size_t n = strcspn(p, "\n");
        char *line = sf_xstrndup(p, n);
        if (line[strspn(line, " \t\r")])
            ok = fn(arg, line);
        free(line);
        p += n + (p[n] == '\n');
    }
    return ok;
}

struct key_check {
    const char **why;
    int lines;
};

static bool check_line(void *arg, const char *line)
{
    struct key_check *k = arg;
    char md5[64], sha[64];
    k->lines++;
    return check_public_key(line, md5, sizeof md5, sha, NULL, k->why) == 0;
}

bool lc_compute_host_keys_ok(const char *text, const char **why)
{
    struct key_check k = {why, 0};
    if (!each_key_line(text, check_line, &k))
        return false;
    if (k.lines == 0) {
        *why = "there is no public key in it";
        return false;
    }
    return true;
}

struct console {
    struct sf_buf fps, keys;
    const char *host;
};

static bool console_line(void *arg, const char *line)
{
    struct console *c = arg;
    char md5[64], sha[64];
    int bits = 0;
    const char *why;
    if (check_public_key(line, md5, sizeof md5, sha, &bits, &why) < 0)
        return true; /* checked at start-up */
    const char *t = line + strspn(line, " ");
    size_t tlen = strcspn(t, " ");
    const char *label = strncmp(t, "ssh-ed25519", tlen) == 0 ? "ED25519"
                        : strncmp(t, "ssh-rsa", tlen) == 0   ? "RSA"
                                                             : "ECDSA";
    const char *b64 = t + tlen + strspn(t + tlen, " ");
    sf_buf_printf(&c->fps, "ci-info: %d %s root@%s (%s)\n", bits, sha, c->host, label);
    sf_buf_printf(&c->keys, "%.*s %.*s root@%s\n", (int)tlen, t, (int)strcspn(b64, " \r\n"), b64,
                  c->host);
    return true;
}

/* What a server's console shows after its first boot: what cloud-init
 * prints, the host keys' fingerprints and keys among it (those of
 * --ssh-host-key, the sshd its SSH endpoint reaches). */
static char *console_log(struct lc_request *req, json_t *s)
{
    const char *keys = lc_server_options(req->srv)->ssh_host_keys;
    struct console c = {.host = str(s, "name")};
    struct sf_buf out = {0};
    sf_buf_printf(&out, "[    0.000000] Linux version 6.1.0-localcloud\n"
                        "Cloud-init v. 22.4.2 running 'init' for instance %s\n",
                  str(s, "id"));
    if (keys) {
        each_key_line(keys, console_line, &c);
        sf_buf_printf(&out,
                      "ci-info: ############################################################\n"
                      "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n%s"
                      "-----END SSH HOST KEY FINGERPRINTS-----\n"
                      "ci-info: ############################################################\n"
                      "-----BEGIN SSH HOST KEY KEYS-----\n%s"
                      "-----END SSH HOST KEY KEYS-----\n",
                      c.fps.s ? c.fps.s : "", c.keys.s ? c.keys.s : "");
    }
    sf_buf_puts(&out, "Cloud-init v. 22.4.2 finished at boot. Datasource DataSourceOpenStackLocal. "
                      "Up 4.20 seconds\n");
    sf_buf_free(&c.fps);
    sf_buf_free(&c.keys);
    return sf_buf_take(&out);
}

static char *keypair_key(const char *user_id, const char *name)
{
    return sf_asprintf("%s:%s", user_id, name);
}

static json_t *keypair_view(json_t *kp, bool full)
{
    json_t *v = json_pack("{s:O, s:O, s:O, s:s}", "name", json_object_get(kp, "name"), "public_key",
                          json_object_get(kp, "public_key"), "fingerprint",
                          json_object_get(kp, "fingerprint"), "type", "ssh");
    if (full) {
        json_object_set(v, "user_id", json_object_get(kp, "user_id"));
        json_object_set(v, "created_at", json_object_get(kp, "created_at"));
        json_object_set_new(v, "deleted", json_false());
        json_object_set_new(v, "updated_at", json_null());
        json_object_set_new(v, "deleted_at", json_null());
        json_object_set(v, "id", json_object_get(kp, "seq"));
    }
    return v;
}

static void create_keypair(struct lc_request *req, struct lc_response *resp)
{
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *in = lc_get_object(&c, body, NULL, "keypair", LC_REQUIRED);
    const char *name = lc_get_string(&c, in, "keypair", "name", LC_REQUIRED);
    const char *pub = lc_get_string(&c, in, "keypair", "public_key", LC_LONG);
    const char *type = lc_get_string(&c, in, "keypair", "type", 0);
    if (!c.failed && (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789 _-.@") != strlen(name)))
        lc_check_fail(&c, "keypair.name",
                      "keypair.name: expected 1 to 255 of the characters A-Z a-z 0-9 space _ - . @");
    if (!c.failed && type && strcmp(type, "ssh") != 0)
        lc_check_fail(&c, "keypair.type", "keypair.type: only \"ssh\" is supported");
    if (!c.failed && !pub)
        lc_check_fail(&c, "keypair.public_key",
                      "keypair.public_key: a value is required (this emulator imports keys, it "
                      "does not generate them)");
    char fp[64] = "";
    const char *why;
    if (!c.failed && (strlen(pub) > 16384 || check_public_key(pub, fp, sizeof(fp), NULL, NULL, &why) < 0))
        lc_check_fail(&c, "keypair.public_key", "keypair.public_key: %s",
                      strlen(pub) > 16384 ? "longer than 16384 characters" : why);
    if (c.failed) {
        json_decref(body);
        return;
    }
    char *key = keypair_key(req->user_id, name);
    if (lc_store_get(store(req), API, "keypairs", key)) {
        lc_error(req, resp, 409, NULL, "Key pair '%s' already exists.", name);
    } else {
        long long now = lc_now_ms();
        char ts[48];
        lc_format_time(now, false, ts, sizeof(ts));
        json_int_t seq = (json_int_t)json_object_size(lc_store_kind(store(req), API, "keypairs")) + 1;
        json_t *kp = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "name", name, "public_key", pub,
                               "fingerprint", fp, "user_id", req->user_id, "created_at", ts,
                               "created_ms", (json_int_t)now, "seq", seq);
        if (lc_store_put(store(req), API, "keypairs", key, kp) < 0)
            lc_error(req, resp, 500, NULL, "Could not save key pair %s", name);
        else
            lc_resp_json(resp, 200, json_pack("{s:o}", "keypair", keypair_view(kp, true)));
        json_decref(kp);
    }
    free(key);
    json_decref(body);
}

static void list_keypairs(struct lc_request *req, struct lc_response *resp)
{
    json_t *all = lc_store_sorted(store(req), API, "keypairs");
    json_t *out = json_array();
    size_t i;
    json_t *kp;
    json_array_foreach(all, i, kp)
    {
        if (strcmp(str(kp, "user_id"), req->user_id) == 0)
            json_array_append_new(out, json_pack("{s:o}", "keypair", keypair_view(kp, false)));
    }
    json_decref(all);
    lc_resp_json(resp, 200, json_pack("{s:o}", "keypairs", out));
}

static json_t *find_keypair(struct lc_request *req, struct lc_response *resp, char **key)
{
    *key = keypair_key(req->user_id, lc_req_param(req, "name"));
    json_t *kp = lc_store_get(store(req), API, "keypairs", *key);
    if (!kp)
        lc_error(req, resp, 404, NULL, "Keypair %s not found for user %s", lc_req_param(req, "name"),
                 req->user_id);
    return kp;
}

static void get_keypair(struct lc_request *req, struct lc_response *resp)
{
    char *key;
    json_t *kp = find_keypair(req, resp, &key);
    if (kp)
        lc_resp_json(resp, 200, json_pack("{s:o}", "keypair", keypair_view(kp, true)));
    free(key);
}

static void delete_keypair(struct lc_request *req, struct lc_response *resp)
{
    char *key;
    if (find_keypair(req, resp, &key)) {
        if (lc_store_del(store(req), API, "keypairs", key) < 0)
            lc_error(req, resp, 500, NULL, "Could not delete the key pair");
        else
            lc_resp_empty(resp, 202);
    }
    free(key);
}

/* ---------- servers: state ---------- */

/* flavor_id is the flavor the server runs on: the old one while a resize
 * is under way, the new one from VERIFY_RESIZE on. fault is the ERROR's
 * message, NULL unless the status is ERROR. */
struct sstate {
    const char *status, *task, *vm_state, *flavor_id, *fault;
    int power;
};

/* The members a due transition applies besides the status. */
static const char *const pending_sets[] = {"flavor_id", "fault", NULL};

/* The server's state at now; now < 0 means "as stored" (the create answer). */
static void server_state(json_t *s, long long now, struct sstate *st)
{
    st->status = str(s, "status");
    st->flavor_id = str(s, "flavor_id");
    st->fault = json_string_value(json_object_get(s, "fault"));
    st->task = NULL;
    json_t *p = json_object_get(s, "pending");
    if (json_is_object(p)) {
        if (now >= 0 && now >= json_integer_value(json_object_get(p, "at_ms"))) {
            st->status = str(p, "status");
            if (json_object_get(p, "flavor_id"))
                st->flavor_id = str(p, "flavor_id");
            st->fault = json_string_value(json_object_get(p, "fault"));
        } else {
            st->task = str(p, "task");
        }
    }
    if (strcmp(st->status, "ERROR") != 0)
        st->fault = NULL;
    if (json_object_get(s, "delete_at_ms"))
        st->task = "deleting";
    /* a resize keeps the power state it started from */
    bool was_off = strcmp(str(json_object_get(s, "resize"), "settle"), "SHUTOFF") == 0;
    if (strcmp(st->status, "BUILD") == 0)
        st->vm_state = "building", st->power = 0;
    else if (strcmp(st->status, "SHUTOFF") == 0)
        st->vm_state = "stopped", st->power = 4;
    else if (strcmp(st->status, "ERROR") == 0)
        st->vm_state = "error", st->power = 0;
    else if (strcmp(st->status, "VERIFY_RESIZE") == 0 || strcmp(st->status, "REVERT_RESIZE") == 0)
        st->vm_state = "resized", st->power = was_off ? 4 : 1;
    else if (strcmp(st->status, "RESIZE") == 0)
        st->vm_state = was_off ? "stopped" : "active", st->power = was_off ? 4 : 1;
    else
        st->vm_state = "active", st->power = 1;
}

/* A copy with whatever transition is due applied: what a change starts from. */
static json_t *settled(json_t *s)
{
    json_t *c = json_deep_copy(s);
    json_t *p = json_object_get(c, "pending");
    if (json_is_object(p) && lc_now_ms() >= json_integer_value(json_object_get(p, "at_ms"))) {
        json_object_set(c, "status", json_object_get(p, "status"));
        for (size_t i = 0; pending_sets[i]; i++) {
            json_t *v = json_object_get(p, pending_sets[i]);
            if (v)
                json_object_set(c, pending_sets[i], v);
        }
        json_object_del(c, "pending");
    }
    return c;
}

/* Puts upd (a settled copy) into `during` until --delay-ms has passed,
 * then `target` (at once when the delay is 0), with flavor_id and fault
 * (both may be NULL) applied then. */
static void transition(json_t *upd, long delay, const char *during, const char *target,
                       const char *task, const char *flavor_id, const char *fault)
{
    json_t *p = json_pack("{s:s}", "status", target);
    if (flavor_id)
        json_object_set_new(p, "flavor_id", json_string(flavor_id));
    if (fault)
        json_object_set_new(p, "fault", json_string(fault));
    if (delay > 0) {
        json_object_set_new(upd, "status", json_string(during));
        json_object_set_new(p, "at_ms", json_integer(lc_now_ms() + delay));
        json_object_set_new(p, "task", json_string(task));
        json_object_set_new(upd, "pending", p);
    } else {
        json_object_set_new(upd, "status", json_string(target));
        for (size_t i = 0; pending_sets[i]; i++) {
            json_t *v = json_object_get(p, pending_sets[i]);
            if (v)
                json_object_set(upd, pending_sets[i], v);
        }
        json_decref(p);
    }
}

static void touch(json_t *s)
{
    char ts[48];
    lc_format_time(lc_now_ms(), false, ts, sizeof(ts));
    json_object_set_new(s, "updated", json_string(ts));
}

/* ---------- servers: views ---------- */

static json_t *addresses(struct lc_request *req, json_t *s, const char **first_net)
{
    json_t *out = json_object();
    *first_net = NULL;
    size_t i;
    json_t *port;
    json_array_foreach(json_object_get(s, "ports"), i, port)
    {
        json_t *net = lc_store_get(store(req), "network", "networks", str(port, "network_id"));
        const char *name = net && *str(net, "name") ? str(net, "name") : str(port, "network_id");
        if (!*first_net)
            *first_net = name;
        json_t *list = json_object_get(out, name);
        if (!list) {
            list = json_array();
            json_object_set_new(out, name, list);
        }
        json_array_append_new(list, json_pack("{s:O, s:O, s:s, s:O}", "version",
                                              json_object_get(port, "version"), "addr",
                                              json_object_get(port, "ip"), "OS-EXT-IPS:type",
                                              "fixed", "OS-EXT-IPS-MAC:mac_addr",
                                              json_object_get(port, "mac")));
    }
    return out;
}

static json_t *server_view(struct lc_request *req, json_t *s, bool detail, long long now)
{
    const char *id = str(s, "id");
    json_t *v = json_pack("{s:s, s:O, s:o}", "id", id, "name", json_object_get(s, "name"), "links",
                          links(req, "servers", id));
    if (!detail)
        return v;
    struct sstate st;
    server_state(s, now, &st);
    const struct flavor *f = flavor_by_id(st.flavor_id);
    const char *first_net;
    json_t *addrs = addresses(req, s, &first_net);
    const struct lc_options *o = lc_server_options(req->srv);
    const char *access4 = "";
    if (o->ssh_host) {
        access4 = o->ssh_host;
        const char *key = first_net ? first_net : "localcloud";
        json_t *list = json_object_get(addrs, key);
        if (!list) {
            list = json_array();
            json_object_set_new(addrs, key, list);
        }
        json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s}", "version", 4, "addr",
                                              o->ssh_host, "OS-EXT-IPS:type", "floating",
                                              "OS-EXT-IPS-MAC:mac_addr", "fa:16:3e:00:00:01"));
        json_object_set_new(v, "localcloud:ssh",
                            json_pack("{s:s, s:i}", "host", o->ssh_host, "port", o->ssh_port));
    }
    json_t *sgs = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(s, "security_groups"), i, g)
        json_array_append_new(sgs, json_pack("{s:O}", "name", g));
    json_object_set_new(v, "status", json_string(st.status));
    json_object_set_new(v, "OS-EXT-STS:vm_state", json_string(st.vm_state));
    json_object_set_new(v, "OS-EXT-STS:task_state", st.task ? json_string(st.task) : json_null());
    json_object_set_new(v, "OS-EXT-STS:power_state", json_integer(st.power));
    json_object_set_new(v, "progress", json_integer(strcmp(st.status, "BUILD") == 0 ? 0 : 100));
    if (st.fault) /* Nova's shape: code 500 is the server's own failure */
        json_object_set_new(v, "fault", json_pack("{s:i, s:s, s:O}", "code", 500, "message",
                                                  st.fault, "created",
                                                  json_object_get(s, "updated")));
    json_object_set(v, "tenant_id", json_object_get(s, "project_id"));
    json_object_set(v, "user_id", json_object_get(s, "user_id"));
    json_object_set(v, "metadata", json_object_get(s, "metadata"));
    json_object_set(v, "tags", json_object_get(s, "tags"));
    json_object_set(v, "hostId", json_object_get(s, "host_id"));
    json_object_set(v, "created", json_object_get(s, "created"));
    json_object_set(v, "updated", json_object_get(s, "updated"));
    json_object_set(v, "key_name", json_object_get(s, "key_name"));
    json_object_set(v, "OS-EXT-AZ:availability_zone", json_object_get(s, "availability_zone"));
    json_object_set_new(v, "image", json_pack("{s:s, s:o}", "id", str(s, "image_id"), "links",
                                              links(req, "images", str(s, "image_id"))));
    if (f)
        json_object_set_new(v, "flavor",
                            json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:{}, s:o}", "id", f->id,
                                      "original_name", f->name, "vcpus", f->vcpus, "ram", f->ram_mb,
                                      "disk", f->disk_gb, "ephemeral", 0, "swap", 0, "extra_specs",
                                      "links", links(req, "flavors", f->id)));
    json_object_set_new(v, "addresses", addrs);
    json_object_set_new(v, "accessIPv4", json_string(access4));
    json_object_set_new(v, "accessIPv6", json_string(""));
    json_object_set_new(v, "security_groups", sgs);
    json_object_set_new(v, "OS-DCF:diskConfig", json_string("MANUAL"));
    json_object_set_new(v, "OS-SRV-USG:launched_at",
                        strcmp(st.status, "BUILD") == 0 ? json_null()
                                                        : json_incref(json_object_get(s, "created")));
    json_object_set_new(v, "OS-SRV-USG:terminated_at", json_null());
    json_object_set_new(v, "os-extended-volumes:volumes_attached", json_array());
    json_object_set_new(v, "config_drive", json_string(""));
    json_object_set_new(v, "locked", json_false());
    json_object_set_new(v, "description", json_null());
    return v;
}

static json_t *find_server(struct lc_request *req, struct lc_response *resp)
{
    const char *id = lc_req_param(req, "id");
    json_t *s = lc_store_get(store(req), API, "servers", id);
    if (!lc_req_owns(req, s)) {
        lc_error(req, resp, 404, NULL, "Instance %s could not be found.", id);
        return NULL;
    }
    return s;
}

static void list_servers(struct lc_request *req, struct lc_response *resp, bool detail)
{
    const char *name = lc_req_query(req, "name");
    const char *status = lc_req_query(req, "status");
    const char *flavor = lc_req_query(req, "flavor");
    const char *image = lc_req_query(req, "image");
    regex_t re;
    if (name && regcomp(&re, name, REG_EXTENDED | REG_NOSUB) != 0) {
        lc_error(req, resp, 400, NULL,
                 "Invalid input for query parameter name: not a regular expression");
        return;
    }
    long long now = lc_now_ms();
    json_t *all = lc_store_sorted(store(req), API, "servers");
    json_t *out = json_array();
    /* Nova lists the newest first */
    for (size_t i = json_array_size(all); i-- > 0;) {
        json_t *s = json_array_get(all, i);
        struct sstate st;
        server_state(s, now, &st);
        if (!lc_req_owns(req, s) || (name && regexec(&re, str(s, "name"), 0, NULL, 0) != 0) ||
            (status && strcasecmp(status, st.status) != 0) ||
            (flavor && strcmp(ref_id(flavor), st.flavor_id) != 0) ||
            (image && strcmp(ref_id(image), str(s, "image_id")) != 0))
            continue;
        json_array_append_new(out, server_view(req, s, detail, now));
    }
    json_decref(all);
    if (name)
        regfree(&re);
    lc_resp_json(resp, 200, json_pack("{s:o}", "servers", out));
}

static void get_servers(struct lc_request *req, struct lc_response *resp)
{
    list_servers(req, resp, false);
}

static void get_servers_detail(struct lc_request *req, struct lc_response *resp)
{
    list_servers(req, resp, true);
}

static void get_server(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (s)
        lc_resp_json(resp, 200, json_pack("{s:o}", "server", server_view(req, s, true, lc_now_ms())));
}

/* ---------- servers: the SSH keys they accept ---------- */

/*
 * --ssh-authorized-keys: every server shares the one sshd behind --ssh, so
 * the public keys cloud-init would install on each server (its key pair's,
 * at boot) go into one file, that sshd's AuthorizedKeysFile. A key stays
 * while a server that is not being deleted has it. The file is written
 * whole (atomically) when a server comes or goes, and at start-up.
 */
static void sync_authorized_keys(struct lc_server *srv)
{
    const char *path = lc_server_options(srv)->ssh_authorized_keys;
    if (!path)
        return;
    struct lc_store *st = lc_server_store(srv);
    json_t *all = lc_store_sorted(st, API, "servers");
    json_t *seen = json_object();
    struct sf_buf b = {0};
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s)
    {
        const char *key = str(s, "key_public");
        if (!*key && json_is_string(json_object_get(s, "key_name"))) {
            /* stored before keys were kept with their server */
            char *kk = keypair_key(str(s, "user_id"), str(s, "key_name"));
            key = str(lc_store_get(st, API, "keypairs", kk), "public_key");
            free(kk);
        }
        size_t n = strcspn(key, "\r\n");
        if (n == 0 || json_object_get(s, "delete_at_ms"))
            continue;
        char *line = sf_xstrndup(key, n);
        if (!json_object_get(seen, line)) {
            json_object_set_new(seen, line, json_true());
            sf_buf_printf(&b, "%s\n", line);
        }
        free(line);
    }
    if (sf_write_file_atomic(path, b.s ? b.s : "", b.len, 0600) < 0)
        fprintf(stderr, "localcloud: cannot write --ssh-authorized-keys %s: %s\n", path,
                strerror(errno));
    sf_buf_free(&b);
    json_decref(seen);
    json_decref(all);
}

/* ---------- servers: create ---------- */

static bool ip_in_use(struct lc_request *req, const char *subnet_id, const char *ip)
{
    const char *sid;
    json_t *s;
    json_object_foreach(lc_store_kind(store(req), API, "servers"), sid, s)
    {
        size_t i;
        json_t *port;
        json_array_foreach(json_object_get(s, "ports"), i, port)
        {
            if (strcmp(str(port, "subnet_id"), subnet_id) == 0 && strcmp(str(port, "ip"), ip) == 0)
                return true;
        }
    }
    return false;
}

/* Also checks the ports being built for the same server. */
static bool ip_taken(struct lc_request *req, json_t *ports, const char *subnet_id, const char *ip)
{
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        if (strcmp(str(p, "subnet_id"), subnet_id) == 0 && strcmp(str(p, "ip"), ip) == 0)
            return true;
    }
    return ip_in_use(req, subnet_id, ip);
}

/* The lowest free address of the subnet's pools into ip; -1 when full. */
static int allocate_ip(struct lc_request *req, json_t *ports, json_t *subnet, char *ip, size_t n)
{
    size_t i;
    json_t *pool;
    json_array_foreach(json_object_get(subnet, "allocation_pools"), i, pool)
    {
        struct lc_ip a, b;
        if (lc_ip_parse(str(pool, "start"), &a) < 0 || lc_ip_parse(str(pool, "end"), &b) < 0)
            continue;
        /* servers in one emulated subnet are few: a bounded linear scan is enough */
        for (int tries = 0; tries < 65536 && lc_ip_cmp(&a, &b) <= 0; tries++) {
            lc_ip_format(&a, ip, n);
            if (!ip_taken(req, ports, str(subnet, "id"), ip))
                return 0;
            if (lc_ip_cmp(&a, &b) == 0)
                break;
            a = lc_ip_add(a, 1);
        }
    }
    return -1;
}

static char *random_mac(void)
{
    char *hex = sf_random_hex(3);
    char *mac = sf_asprintf("fa:16:3e:%.2s:%.2s:%.2s", hex, hex + 2, hex + 4);
    free(hex);
    return mac;
}

/* One port on the network: an address from its first IPv4 subnet with room
 * (from an IPv6 one when it has no IPv4 subnet), or the fixed_ip asked
 * for. 0, or -1 after answering. */
static int add_port(struct lc_request *req, struct lc_response *resp, json_t *ports,
                    const char *net_id, const char *fixed_ip)
{
    json_t *subs = lc_store_sorted(store(req), "network", "subnets");
    json_t *chosen = NULL;
    char ip[64] = "";
    bool any = false;
    /* IPv6 only when the network has no IPv4 subnet: a full IPv4 subnet is
     * an error, as in Neutron, not a reason to fall back */
    for (int pass = 0; pass < 2 && !chosen && !(pass == 1 && any); pass++) {
        size_t i;
        json_t *sub;
        json_array_foreach(subs, i, sub)
        {
            if (strcmp(str(sub, "network_id"), net_id) != 0 ||
                json_integer_value(json_object_get(sub, "ip_version")) != (pass == 0 ? 4 : 6))
                continue;
            any = true;
            if (fixed_ip) {
                struct lc_cidr cidr;
                struct lc_ip want;
                const char *why;
                if (lc_cidr_parse(str(sub, "cidr"), &cidr, &why) == 0 &&
                    lc_ip_parse(fixed_ip, &want) == 0 && lc_cidr_contains(&cidr, &want)) {
                    lc_ip_format(&want, ip, sizeof(ip));
                    chosen = sub;
                    break;
                }
            } else if (allocate_ip(req, ports, sub, ip, sizeof(ip)) == 0) {
                chosen = sub;
                break;
            }
        }
    }
    int rc = 0;
    if (!any) {
        lc_error(req, resp, 400, NULL, "Network %s requires a subnet in order to boot instances on.",
                 net_id);
        rc = -1;
    } else if (!chosen && fixed_ip) {
        lc_error(req, resp, 400, NULL, "Invalid input for field server.networks: fixed_ip %s is not "
                                       "in any subnet of network %s", fixed_ip, net_id);
        rc = -1;
    } else if (!chosen) {
        lc_error(req, resp, 409, NULL, "No more IP addresses available on network %s.", net_id);
        rc = -1;
    } else if (fixed_ip && ip_taken(req, ports, str(chosen, "id"), ip)) {
        lc_error(req, resp, 409, NULL, "Fixed IP address %s is already in use on network %s.", ip,
                 net_id);
        rc = -1;
    } else {
        char *mac = random_mac();
        json_array_append_new(ports, json_pack("{s:s, s:O, s:s, s:O, s:s}", "network_id", net_id,
                                               "subnet_id", json_object_get(chosen, "id"), "ip", ip,
                                               "version", json_object_get(chosen, "ip_version"),
                                               "mac", mac));
        free(mac);
    }
    json_decref(subs);
    return rc;
}

static bool network_owned(struct lc_request *req, const char *id)
{
    json_t *n = lc_store_get(store(req), "network", "networks", id);
    return n && strcmp(str(n, "project_id"), req->project_id) == 0;
}

/* The ports for server.networks: a list of {uuid, fixed_ip}, "auto" (the
 * project's only network, none if it has none) or "none". */
static json_t *read_networks(struct lc_check *c, struct lc_request *req, struct lc_response *resp,
                             json_t *in)
{
    json_t *nets = json_object_get(in, "networks");
    json_t *ports = json_array();
    if (!nets || (json_is_string(nets) && strcmp(json_string_value(nets), "auto") == 0)) {
        const char *only = NULL;
        int count = 0;
        const char *nid;
        json_t *n;
        json_object_foreach(lc_store_kind(store(req), "network", "networks"), nid, n)
        {
            if (strcmp(str(n, "project_id"), req->project_id) == 0) {
                only = nid;
                count++;
            }
        }
        if (count > 1) {
            lc_error(req, resp, 409, NULL, "Multiple possible networks found, use a Network ID to "
                                           "be more specific.");
            c->failed = true;
        } else if (count == 1 && add_port(req, resp, ports, only, NULL) < 0) {
            c->failed = true;
        }
        return ports;
    }
    if (json_is_string(nets) && strcmp(json_string_value(nets), "none") == 0)
        return ports;
    if (!json_is_array(nets)) {
        lc_check_fail(c, "server.networks",
                      "server.networks: expected a list of {\"uuid\": ...}, \"auto\" or \"none\"");
        return ports;
    }
    size_t i;
    json_t *n;
    json_array_foreach(nets, i, n)
    {
        char field[48];
        snprintf(field, sizeof(field), "server.networks[%zu]", i);
        if (!json_is_object(n)) {
            lc_check_fail(c, field, "%s: expected an object {\"uuid\": ...}", field);
            break;
        }
        if (json_object_get(n, "port")) {
            lc_check_fail(c, field, "%s.port: ports are not supported here; give a network uuid",
                          field);
            break;
        }
        const char *uuid = lc_get_string(c, n, field, "uuid", LC_REQUIRED);
        const char *fixed = lc_get_string(c, n, field, "fixed_ip", 0);
        if (c->failed)
            break;
        struct lc_ip tmp;
        if (fixed && lc_ip_parse(fixed, &tmp) < 0) {
            lc_check_fail(c, field, "%s.fixed_ip: expected an IP address", field);
            break;
        }
        if (!network_owned(req, uuid)) {
            lc_error(req, resp, 400, NULL, "Network %s could not be found.", uuid);
            c->failed = true;
            break;
        }
        if (add_port(req, resp, ports, uuid, fixed) < 0) {
            c->failed = true;
            break;
        }
    }
    return ports;
}

static const char *const server_keys[] = {
    "name", "flavorRef", "imageRef", "networks", "key_name", "metadata", "user_data",
    "security_groups", "availability_zone", "min_count", "max_count", "tags", "description",
    "accessIPv4", "accessIPv6", "adminPass", "config_drive", "OS-DCF:diskConfig",
    "block_device_mapping_v2", "return_reservation_id", "hostname", NULL};

static void create_server(struct lc_request *req, struct lc_response *resp)
{
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *in = lc_get_object(&c, body, NULL, "server", LC_REQUIRED);
    lc_check_known(&c, in, "server", server_keys, "additional properties are not allowed");
    const char *name = lc_get_string(&c, in, "server", "name", LC_REQUIRED);
    json_t *fref = json_object_get(in, "flavorRef");
    char fbuf[32];
    const char *flavor_ref = NULL;
    if (!c.failed && json_is_integer(fref)) {
        snprintf(fbuf, sizeof(fbuf), "%lld", (long long)json_integer_value(fref));
        flavor_ref = fbuf;
    } else {
        flavor_ref = lc_get_string(&c, in, "server", "flavorRef", LC_REQUIRED | LC_LONG);
    }
    const char *image_ref = lc_get_string(&c, in, "server", "imageRef", LC_REQUIRED | LC_LONG);
    const char *key_name = lc_get_string(&c, in, "server", "key_name", 0);
    json_t *md = lc_get_object(&c, in, "server", "metadata", 0);
    const char *user_data = lc_get_string(&c, in, "server", "user_data", LC_LONG);
    json_t *sgs = lc_get_array(&c, in, "server", "security_groups", 0);
    const char *az = lc_get_string(&c, in, "server", "availability_zone", 0);
    long long min_count = lc_get_int(&c, in, "server", "min_count", 1, 1, 1);
    long long max_count = lc_get_int(&c, in, "server", "max_count", 1, 1, 1);
    json_t *tags = lc_get_string_list(&c, in, "server", "tags", 0);
    (void)min_count;
    (void)max_count;
    lc_check_string_map(&c, md, "server.metadata", MAX_METADATA);
    if (!c.failed && !*name)
        lc_check_fail(&c, "server.name", "server.name: must not be empty");
    if (!c.failed && user_data &&
        (strlen(user_data) > MAX_USER_DATA ||
         (*user_data && !valid_base64(user_data, strlen(user_data)))))
        lc_check_fail(&c, "server.user_data",
                      "server.user_data: expected base64 of at most %d characters", MAX_USER_DATA);
    json_t *sg_names = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(sgs, i, g)
    {
        json_t *gn = json_object_get(g, "name");
        if (!json_is_string(gn)) {
            lc_check_fail(&c, "server.security_groups",
                          "server.security_groups[%zu]: expected {\"name\": STRING}", i);
            break;
        }
        json_array_append(sg_names, gn);
    }
    if (json_array_size(sg_names) == 0)
        json_array_append_new(sg_names, json_string("default"));
    const struct flavor *f = NULL;
    if (!c.failed && !(f = flavor_by_id(ref_id(flavor_ref)))) {
        lc_error(req, resp, 400, NULL, "Flavor %s could not be found.", flavor_ref);
        c.failed = true;
    }
    if (!c.failed && !image_by_id(ref_id(image_ref))) {
        lc_error(req, resp, 400, NULL, "Can not find requested image %s.", image_ref);
        c.failed = true;
    }
    const char *key_public = NULL;
    if (!c.failed && key_name) {
        char *kk = keypair_key(req->user_id, key_name);
        json_t *kp = lc_store_get(store(req), API, "keypairs", kk);
        if (!kp) {
            lc_error(req, resp, 400, NULL, "Invalid key_name provided: %s.", key_name);
            c.failed = true;
        } else {
            key_public = str(kp, "public_key");
        }
        free(kk);
    }
    json_t *ports = c.failed ? json_array() : read_networks(&c, req, resp, in);
    if (c.failed) {
        json_decref(ports);
        json_decref(sg_names);
        json_decref(body);
        return;
    }
    const struct lc_options *o = lc_server_options(req->srv);
    long long now = lc_now_ms();
    char ts[48];
    lc_format_time(now, false, ts, sizeof(ts));
    char *id = sf_uuid();
    char *host = sf_random_hex(28);
    json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:s, s:s, s:s, "
                          "s:I, s:s, s:{s:s, s:I, s:s}}",
                          "id", id, "name", name, "project_id", req->project_id, "user_id",
                          req->user_id, "flavor_id", f->id, "image_id", ref_id(image_ref),
                          "key_name", key_name ? json_string(key_name) : json_null(), "metadata",
                          md ? json_deep_copy(md) : json_object(), "ports", ports,
                          "availability_zone", az ? az : "nova", "security_groups", sg_names,
                          "host_id", host, "created", ts, "updated", ts, "created_ms",
                          (json_int_t)now, "status", "BUILD", "pending", "status", "ACTIVE",
                          "at_ms", (json_int_t)(now + o->delay_ms), "task", "spawning");
    char *fault = lc_faults_failure(lc_server_faults(req->srv), "server", name, "create");
    if (fault) {
        json_t *p = json_object_get(s, "pending");
        json_object_set_new(p, "status", json_string("ERROR"));
        json_object_set_new(p, "fault", json_string(fault));
        free(fault);
    }
    json_object_set_new(s, "tags", tags ? json_deep_copy(tags) : json_array());
    if (user_data)
        json_object_set_new(s, "user_data", json_string(user_data));
    /* The key as installed at boot: deleting the key pair later does not
     * take it off the server. */
    if (key_public)
        json_object_set_new(s, "key_public", json_string(key_public));
    if (lc_store_put(store(req), API, "servers", id, s) < 0) {
        lc_error(req, resp, 500, NULL, "Could not save server %s", id);
    } else {
        sync_authorized_keys(req->srv);
        json_t *view = server_view(req, s, true, -1);
        char *pass = sf_random_hex(6);
        json_object_set_new(view, "adminPass", json_string(pass));
        free(pass);
        lc_resp_json(resp, 202, json_pack("{s:o}", "server", view));
        char *loc = sf_asprintf("%s/compute/v2.1/servers/%s", lc_server_base_url(req->srv), id);
        lc_resp_header(resp, "Location", loc);
        free(loc);
    }
    json_decref(s);
    json_decref(body);
    free(id);
    free(host);
}

/* ---------- servers: change ---------- */

static void update_server(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (!s)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *in = lc_get_object(&c, body, NULL, "server", LC_REQUIRED);
    const char *name = lc_get_string(&c, in, "server", "name", 0);
    if (!c.failed && name && !*name)
        lc_check_fail(&c, "server.name", "server.name: must not be empty");
    if (!c.failed) {
        json_t *upd = settled(s);
        if (name)
            json_object_set_new(upd, "name", json_string(name));
        touch(upd);
        if (lc_store_put(store(req), API, "servers", str(s, "id"), upd) < 0)
            lc_error(req, resp, 500, NULL, "Could not save the server");
        else
            lc_resp_json(resp, 200,
                         json_pack("{s:o}", "server", server_view(req, upd, true, lc_now_ms())));
        json_decref(upd);
    }
    json_decref(body);
}

static void delete_server(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (!s)
        return;
    if (json_object_get(s, "delete_at_ms")) {
        lc_resp_empty(resp, 204);
        return;
    }
    long delay = lc_server_options(req->srv)->delay_ms;
    int rc;
    if (delay > 0) {
        json_t *upd = settled(s);
        json_object_set_new(upd, "delete_at_ms", json_integer(lc_now_ms() + delay));
        touch(upd);
        rc = lc_store_put(store(req), API, "servers", str(s, "id"), upd);
        json_decref(upd);
    } else {
        rc = lc_store_del(store(req), API, "servers", str(s, "id"));
    }
    if (rc < 0) {
        lc_error(req, resp, 500, NULL, "Could not delete the server");
    } else {
        sync_authorized_keys(req->srv);
        lc_resp_empty(resp, 204);
    }
}

static void sweep(struct lc_server *srv, void *ctx)
{
    struct lc_store *st = lc_server_store(srv);
    long long now = lc_now_ms();
    const char *id;
    json_t *s, *tmp;
    json_object_foreach_safe(lc_store_kind(st, API, "servers"), tmp, id, s)
    {
        json_t *at = json_object_get(s, "delete_at_ms");
        if (at && json_integer_value(at) <= now)
            lc_store_del(st, API, "servers", id);
    }
}

/* The flavor of a resize's {"flavorRef": ID or link, "OS-DCF:diskConfig"};
 * NULL after answering 400. */
static const struct flavor *resize_flavor(struct lc_request *req, struct lc_response *resp,
                                          json_t *arg)
{
    static const char *const keys[] = {"flavorRef", "OS-DCF:diskConfig", NULL};
    struct lc_check c;
    lc_check_init(&c, req, resp);
    if (!json_is_object(arg)) {
        lc_check_fail(&c, "resize", "resize: expected an object {\"flavorRef\": ...}");
        return NULL;
    }
    lc_check_known(&c, arg, "resize", keys, "additional properties are not allowed");
    json_t *fref = json_object_get(arg, "flavorRef");
    char fbuf[32];
    const char *ref;
    if (!c.failed && json_is_integer(fref)) {
        snprintf(fbuf, sizeof(fbuf), "%lld", (long long)json_integer_value(fref));
        ref = fbuf;
    } else {
        ref = lc_get_string(&c, arg, "resize", "flavorRef", LC_REQUIRED | LC_LONG);
    }
    lc_get_string(&c, arg, "resize", "OS-DCF:diskConfig", 0);
    if (c.failed)
        return NULL;
    const struct flavor *f = flavor_by_id(ref_id(ref));
    if (!f)
        lc_error(req, resp, 400, NULL, "Flavor %s could not be found.", ref);
    return f;
}

/* os-stop, os-start, reboot, and Nova's resize: resize (RESIZE, then
 * VERIFY_RESIZE on the new flavor after --delay-ms), confirmResize (back
 * to the status the resize started from, at once, 204) and revertResize
 * (REVERT_RESIZE, then that status on the old flavor). A failure for the
 * server's name "on update" makes any of them but confirmResize end in
 * ERROR instead. */
static void server_action(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (!s)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    if (json_object_size(body) != 1) {
        lc_error(req, resp, 400, NULL, "Invalid input for field action: expected exactly one action, "
                                       "e.g. {\"os-stop\": null}");
        json_decref(body);
        return;
    }
    const char *action = json_object_iter_key(json_object_iter(body));
    json_t *arg = json_object_iter_value(json_object_iter(body));
    struct sstate st;
    server_state(s, lc_now_ms(), &st);
    if (strcmp(action, "os-getConsoleOutput") == 0) {
        /* Nova: the console log once the server runs (BUILD has none). */
        if (strcmp(st.status, "BUILD") == 0) {
            lc_error(req, resp, 409, NULL, "Instance %s is not ready: it is still building",
                     str(s, "id"));
        } else {
            char *log = console_log(req, s);
            lc_resp_json(resp, 200, json_pack("{s:s}", "output", log));
            free(log);
        }
        json_decref(body);
        return;
    }
    json_t *resize = json_object_get(s, "resize");
    /* need: the status the action starts from (NULL: ACTIVE or SHUTOFF) */
    const char *need = NULL, *target = NULL, *during = NULL, *task = NULL, *flavor_id = NULL;
    unsigned status = 202;
    if (strcmp(action, "os-stop") == 0) {
        need = "ACTIVE", during = "ACTIVE", target = "SHUTOFF", task = "powering-off";
    } else if (strcmp(action, "os-start") == 0) {
        need = "SHUTOFF", during = "SHUTOFF", target = "ACTIVE", task = "powering-on";
    } else if (strcmp(action, "reboot") == 0) {
        json_t *type = json_object_get(arg, "type");
        if (!json_is_object(arg) || !json_is_string(type) ||
            (strcmp(json_string_value(type), "SOFT") != 0 &&
             strcmp(json_string_value(type), "HARD") != 0)) {
            lc_error(req, resp, 400, NULL,
                     "Invalid input for field reboot.type: expected \"SOFT\" or \"HARD\"");
            json_decref(body);
            return;
        }
        bool hard = strcmp(json_string_value(type), "HARD") == 0;
        need = "ACTIVE", target = "ACTIVE", during = hard ? "HARD_REBOOT" : "REBOOT";
        task = hard ? "reboot_started_hard" : "reboot_started";
    } else if (strcmp(action, "resize") == 0) {
        const struct flavor *f = resize_flavor(req, resp, arg);
        if (!f) {
            json_decref(body);
            return;
        }
        if (strcmp(f->id, st.flavor_id) == 0) {
            lc_error(req, resp, 400, NULL, "When resizing, instances must change flavor!");
            json_decref(body);
            return;
        }
        during = "RESIZE", target = "VERIFY_RESIZE", task = "resize_prep", flavor_id = f->id;
    } else if (strcmp(action, "confirmResize") == 0 || strcmp(action, "revertResize") == 0) {
        if (!json_is_null(arg)) {
            lc_error(req, resp, 400, NULL, "Invalid input for field %s: expected null", action);
            json_decref(body);
            return;
        }
        need = "VERIFY_RESIZE", target = str(resize, "settle");
        if (strcmp(action, "confirmResize") == 0) {
            status = 204;
        } else {
            during = "REVERT_RESIZE", task = "resize_reverting";
            flavor_id = str(resize, "old_flavor_id");
        }
    } else {
        lc_error(req, resp, 400, NULL, "There is no such action: %s", action);
        json_decref(body);
        return;
    }
    bool ok = need ? strcmp(st.status, need) == 0
                   : strcmp(st.status, "ACTIVE") == 0 || strcmp(st.status, "SHUTOFF") == 0;
    if (st.task || !ok) {
        if (st.task)
            lc_error(req, resp, 409, NULL, "Cannot '%s' instance %s while it is in task_state %s",
                     action, str(s, "id"), st.task);
        else
            lc_error(req, resp, 409, NULL, "Cannot '%s' instance %s while it is in vm_state %s",
                     action, str(s, "id"), st.vm_state);
        json_decref(body);
        return;
    }
    long delay = lc_server_options(req->srv)->delay_ms;
    json_t *upd = settled(s);
    if (strcmp(action, "resize") == 0)
        json_object_set_new(upd, "resize", json_pack("{s:s, s:s}", "old_flavor_id", st.flavor_id,
                                                     "settle", st.status));
    if (status == 204) {
        /* the old flavor's resources are freed: nothing left to wait for */
        json_object_set_new(upd, "status", json_string(target));
        json_object_del(upd, "resize");
    } else {
        char *fault = lc_faults_failure(lc_server_faults(req->srv), "server", str(s, "name"),
                                        "update");
        if (fault)
            target = "ERROR", flavor_id = NULL;
        transition(upd, delay, during, target, task, flavor_id, fault);
        free(fault);
    }
    json_decref(body);
    touch(upd);
    if (lc_store_put(store(req), API, "servers", str(s, "id"), upd) < 0)
        lc_error(req, resp, 500, NULL, "Could not save the server");
    else
        lc_resp_empty(resp, status);
    json_decref(upd);
}

/* ---------- servers: metadata ---------- */

static void get_metadata(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (s)
        lc_resp_json(resp, 200, json_pack("{s:O}", "metadata", json_object_get(s, "metadata")));
}

/* PUT replaces the metadata, POST merges into it. */
/* Merge items into the server's metadata (or replace it), within the quota,
 * store it and answer {"<wrap>": ...}: the whole metadata for "metadata",
 * the items written for "meta". */
static void write_metadata(struct lc_request *req, struct lc_response *resp, json_t *s,
                           json_t *items, bool replace, const char *wrap)
{
    json_t *upd = settled(s);
    json_t *merged = replace ? json_object() : json_deep_copy(json_object_get(s, "metadata"));
    json_object_update(merged, items);
    if (json_object_size(merged) > MAX_METADATA) {
        lc_error(req, resp, 403, NULL, "Quota exceeded for metadata_items: at most %d items",
                 MAX_METADATA);
    } else {
        json_object_set(upd, "metadata", merged);
        touch(upd);
        if (lc_store_put(store(req), API, "servers", str(s, "id"), upd) < 0)
            lc_error(req, resp, 500, NULL, "Could not save the server");
        else
            lc_resp_json(resp, 200,
                         json_pack("{s:O}", wrap, strcmp(wrap, "meta") == 0 ? items : merged));
    }
    json_decref(merged);
    json_decref(upd);
}

static void set_metadata(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (!s)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *md = lc_get_object(&c, body, NULL, "metadata", LC_REQUIRED);
    lc_check_string_map(&c, md, "metadata", MAX_METADATA);
    if (!c.failed)
        write_metadata(req, resp, s, md, strcmp(req->method, "PUT") == 0, "metadata");
    json_decref(body);
}

static void get_metadata_item(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (!s)
        return;
    const char *key = lc_req_param(req, "key");
    json_t *v = json_object_get(json_object_get(s, "metadata"), key);
    if (!v)
        lc_error(req, resp, 404, NULL, "Metadata item %s was not found", key);
    else
        lc_resp_json(resp, 200, json_pack("{s:{s:O}}", "meta", key, v));
}

static void put_metadata_item(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (!s)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    const char *key = lc_req_param(req, "key");
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *meta = lc_get_object(&c, body, NULL, "meta", LC_REQUIRED);
    if (!c.failed && (json_object_size(meta) != 1 || !json_object_get(meta, key)))
        lc_check_fail(&c, "meta", "meta: expected exactly the one item %s of the request path", key);
    lc_check_string_map(&c, meta, "meta", MAX_METADATA);
    if (!c.failed)
        write_metadata(req, resp, s, meta, false, "meta");
    json_decref(body);
}

static void delete_metadata_item(struct lc_request *req, struct lc_response *resp)
{
    json_t *s = find_server(req, resp);
    if (!s)
        return;
    const char *key = lc_req_param(req, "key");
    if (!json_object_get(json_object_get(s, "metadata"), key)) {
        lc_error(req, resp, 404, NULL, "Metadata item %s was not found", key);
        return;
    }
    json_t *upd = settled(s);
    json_t *md = json_deep_copy(json_object_get(s, "metadata"));
    json_object_del(md, key);
    json_object_set_new(upd, "metadata", md);
    touch(upd);
    if (lc_store_put(store(req), API, "servers", str(s, "id"), upd) < 0)
        lc_error(req, resp, 500, NULL, "Could not save the server");
    else
        lc_resp_empty(resp, 204);
    json_decref(upd);
}

static void get_version(struct lc_request *req, struct lc_response *resp)
{
    char *self = sf_asprintf("%s/compute/v2.1/", lc_server_base_url(req->srv));
    lc_resp_json(resp, 200,
                 json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}}", "version", "id", "v2.1",
                           "status", "CURRENT", "version", "2.95", "min_version", "2.1", "updated",
                           "2013-07-23T11:33:21Z", "links", "rel", "self", "href", self));
    free(self);
}

static const struct lc_route routes[] = {
    {"GET", "", get_version, LC_ROUTE_PUBLIC},
    {"GET", "/flavors", get_flavors, 0},
    {"GET", "/flavors/detail", get_flavors_detail, 0},
    {"GET", "/flavors/{id}", get_flavor, 0},
    {"GET", "/images", get_images, 0},
    {"GET", "/images/detail", get_images_detail, 0},
    {"GET", "/images/{id}", get_image, 0},
    {"GET", "/os-keypairs", list_keypairs, 0},
    {"POST", "/os-keypairs", create_keypair, 0},
    {"GET", "/os-keypairs/{name}", get_keypair, 0},
    {"DELETE", "/os-keypairs/{name}", delete_keypair, 0},
    {"GET", "/servers", get_servers, 0},
    {"POST", "/servers", create_server, 0},
    {"GET", "/servers/detail", get_servers_detail, 0},
    {"GET", "/servers/{id}", get_server, 0},
    {"PUT", "/servers/{id}", update_server, 0},
    {"DELETE", "/servers/{id}", delete_server, 0},
    {"POST", "/servers/{id}/action", server_action, 0},
    {"GET", "/servers/{id}/metadata", get_metadata, 0},
    {"PUT", "/servers/{id}/metadata", set_metadata, 0},
    {"POST", "/servers/{id}/metadata", set_metadata, 0},
    {"GET", "/servers/{id}/metadata/{key}", get_metadata_item, 0},
    {"PUT", "/servers/{id}/metadata/{key}", put_metadata_item, 0},
    {"DELETE", "/servers/{id}/metadata/{key}", delete_metadata_item, 0},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api api = {
    .name = API,
    .prefix = "/compute/v2.1",
    .routes = routes,
    .error = nova_error,
    .token_auth = true,
    .openstack = true,
    .sweep = sweep,
};

/* ---------- the image service: Glance v2 over the same images ---------- */

/* VK Cloud's clients look images up in the catalog's "image" service
 * (Glance v2) before they create a server; it answers the images above. */

static json_t *glance_view(const struct image *im)
{
    char *self = sf_asprintf("/v2/images/%s", im->id);
    char *file = sf_asprintf("/v2/images/%s/file", im->id);
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:i, s:i, s:s, s:s, s:s, s:[], "
                          "s:s, s:s, s:s, s:s, s:s}",
                          "id", im->id, "name", im->name, "status", "active", "visibility",
                          "public", "protected", 0, "os_hidden", 0, "size", (json_int_t)im->size,
                          "min_disk", im->min_disk_gb, "min_ram", 0, "disk_format", "raw",
                          "container_format", "bare", "os_distro", im->name, "tags",
                          "created_at", "2024-01-01T00:00:00Z", "updated_at",
                          "2024-01-01T00:00:00Z", "self", self, "file", file, "schema",
                          "/v2/schemas/image");
    free(self);
    free(file);
    return v;
}

/* Glance filters on an image's properties (name=, status=, visibility=,
 * os_distro=, ...); the paging and sorting parameters are accepted and
 * have nothing to do with three images. */
static bool glance_matches(struct lc_request *req, json_t *view)
{
    static const char *const ignored[] = {"limit", "marker", "sort", "sort_key", "sort_dir",
                                          "member_status", NULL};
    for (size_t i = 0; i < req->nquery; i++) {
        bool skip = false;
        for (size_t j = 0; ignored[j] && !skip; j++)
            skip = strcmp(ignored[j], req->query_keys[i]) == 0;
        const char *have = json_string_value(json_object_get(view, req->query_keys[i]));
        if (!skip && (!have || strcmp(have, req->query_values[i]) != 0))
            return false;
    }
    return true;
}

static void glance_list(struct lc_request *req, struct lc_response *resp)
{
    json_t *out = json_array();
    for (size_t i = 0; i < NELEM(images); i++) {
        json_t *v = glance_view(&images[i]);
        if (glance_matches(req, v))
            json_array_append(out, v);
        json_decref(v);
    }
    lc_resp_json(resp, 200, json_pack("{s:o, s:s, s:s}", "images", out, "first", "/v2/images",
                                      "schema", "/v2/schemas/images"));
}

static void glance_get(struct lc_request *req, struct lc_response *resp)
{
    const struct image *im = image_by_id(lc_req_param(req, "id"));
    if (!im)
        lc_error(req, resp, 404, NULL, "No image found with ID %s", lc_req_param(req, "id"));
    else
        lc_resp_json(resp, 200, glance_view(im));
}

static void glance_versions(struct lc_request *req, struct lc_response *resp)
{
    char *self = sf_asprintf("%s/image/v2/", lc_server_base_url(req->srv));
    lc_resp_json(resp, 200, json_pack("{s:[{s:s, s:s, s:[{s:s, s:s}]}]}", "versions", "id", "v2.16",
                                      "status", "CURRENT", "links", "rel", "self", "href", self));
    free(self);
}

static const struct lc_route image_routes[] = {
    {"GET", "", glance_versions, LC_ROUTE_PUBLIC},
    {"GET", "/v2/images", glance_list, 0},
    {"GET", "/v2/images/{id}", glance_get, 0},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api image_api = {
    .name = "image",
    .prefix = "/image",
    .routes = image_routes,
    .error = lc_error_generic,
    .token_auth = true,
    .openstack = true,
};

int lc_compute_register(struct lc_server *srv)
{
    if (lc_server_add_api(srv, &api, NULL) < 0)
        return -1;
    sync_authorized_keys(srv);
    return lc_server_add_api(srv, &image_api, NULL);
}

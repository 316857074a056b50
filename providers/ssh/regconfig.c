/*
 * The Docker Registry's config.yml for an ssh_registry: what the attributes
 * ask for, as JSON (sf_ssh_registry_config_json) and as the YAML uploaded
 * to the server, and the way back, from a config.yml read on the server to
 * the attributes it came from (drift).
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "ssh.h"
#include "util.h"
#include "yamlout.h"

char *sf_ssh_host_port(const char *host, long port)
{
    return strchr(host, ':') ? sf_asprintf("[%s]:%ld", host, port)
                             : sf_asprintf("%s:%ld", host, port);
}

/* ---------- the configuration ---------- */

json_t *sf_ssh_registry_config_json(const json_t *a)
{
    const char *base = sf_ssh_str(a, "base_dir");
    json_t *storage;
    if (sf_ssh_is_s3(a)) {
        const char *endpoint = sf_ssh_str(a, "s3_endpoint");
        storage = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:b, s:b}}", "s3", "bucket",
                            sf_ssh_str(a, "s3_bucket"), "region", sf_ssh_str(a, "s3_region"), "regionendpoint",
                            endpoint, "accesskey", sf_ssh_str(a, "s3_access_key"), "secretkey",
                            sf_ssh_str(a, "s3_secret_key"), "secure",
                            strncmp(endpoint, "http://", 7) != 0, "v4auth", 1);
    } else {
        char *data = sf_asprintf("%s/data", base);
        storage = json_pack("{s:{s:s}}", "filesystem", "rootdirectory", data);
        free(data);
    }
    json_object_set_new(storage, "delete", json_pack("{s:b}", "enabled", 1));
    char *addr = sf_ssh_host_port(sf_ssh_str(a, "listen_address"), sf_ssh_num(a, "port", 5000));
    char *htpasswd = sf_asprintf("%s/htpasswd", base);
    json_t *cfg = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:s, s:{s:[s]}}, s:{s:{s:s, s:s}}}",
                            "version", "0.1", "log", "level", "info", "formatter", "text",
                            "storage", storage, "http", "addr", addr, "headers",
                            "X-Content-Type-Options", "nosniff", "auth", "htpasswd", "realm",
                            "sparkform-registry", "path", htpasswd);
    free(addr);
    free(htpasswd);
    return cfg;
}

char *sf_ssh_registry_config(const json_t *a, struct sf_diags *d, const char *address)
{
    json_t *cfg = sf_ssh_registry_config_json(a);
    char *text = sf_yaml_dump(cfg);
    json_decref(cfg);
    if (!text)
        sf_diag_add_class(d, SF_CLASS_NONE, NULL, address,
                          "cannot write the registry's configuration as YAML (libyaml refused)");
    return text;
}

/* What a config.yml read back says about the attributes it came from. */
void sf_ssh_registry_attrs_from_config(const json_t *cfg, json_t *out)
{
    const char *addr = sf_ssh_str(json_object_get(cfg, "http"), "addr");
    const char *colon = strrchr(addr, ':');
    if (colon) {
        const char *h = addr;
        size_t n = (size_t)(colon - addr);
        if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
            h++;
            n -= 2;
        }
        json_object_set_new(out, "listen_address", json_stringn(h, n));
        json_object_set_new(out, "port", json_integer(strtol(colon + 1, NULL, 10)));
    } else {
        json_object_set_new(out, "listen_address", json_string(addr));
    }
    json_t *storage = json_object_get(cfg, "storage");
    json_t *s3 = json_object_get(storage, "s3");
    static const char *const s3_keys[][2] = {
        {"s3_bucket", "bucket"},         {"s3_endpoint", "regionendpoint"},
        {"s3_region", "region"},         {"s3_access_key", "accesskey"},
        {"s3_secret_key", "secretkey"},
    };
    json_object_set_new(out, "storage", json_string(s3 ? "s3" : "filesystem"));
    /* Unset attributes stay absent, as the description leaves them. */
    for (size_t i = 0; i < sizeof(s3_keys) / sizeof(s3_keys[0]); i++) {
        json_t *v = json_object_get(s3, s3_keys[i][1]);
        if (json_is_string(v))
            json_object_set_new(out, s3_keys[i][0], json_copy(v));
        else
            json_object_del(out, s3_keys[i][0]);
    }
}


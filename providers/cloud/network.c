/*
 * cloud_network and cloud_subnet: Neutron v2.0 networks and subnets, where
 * clusters and servers live. Each is created with a description naming
 * the stack's address and lineage, which adopt looks up (GET
 * ?description=): every Neutron takes a description in the create, while
 * tags in the create body are an extension not every cloud has. The tag
 * (sf_cloud_tag) is then added through the tags API, for people and tools
 * that filter on tags. Both kinds share one read / delete / adopt below;
 * what differs is the body they send and the attributes they report.
 */
#include <stdlib.h>
#include <string.h>

#include "cloud.h"
#include "util.h"

static const struct sf_attr network_attrs[] = {
    {"name", SF_STRING, SF_REQUIRED, NULL, "the network's name (changes in place)"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "Neutron id"},
    {NULL, 0, 0, NULL, NULL},
};

static const struct sf_attr subnet_attrs[] = {
    {"network_id", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the network (forces a new subnet)"},
    {"cidr", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "address block, e.g. 10.0.0.0/24 (forces a new subnet)"},
    {"name", SF_STRING, SF_REQUIRED, NULL, "the subnet's name"},
    {"dns_nameservers", SF_LIST, SF_OPTIONAL, "[]", "DNS servers handed out by DHCP"},
    {"enable_dhcp", SF_BOOL, SF_OPTIONAL, "true", "whether DHCP serves the subnet"},
    {"gateway_ip", SF_STRING, SF_OPTIONAL | SF_COMPUTED, NULL, "gateway address; default the block's first"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "Neutron id"},
    {NULL, 0, 0, NULL, NULL},
};

/* What differs between the two kinds. */
struct kind {
    const char *plural, *singular; /* "networks", "network" */
    /* The attributes read reports for a Neutron object. */
    json_t *(*view)(const json_t *obj);
};

static json_t *network_view(const json_t *o)
{
    return json_pack("{s:s, s:s}", "name", sf_cloud_str(o, "name"), "id", sf_cloud_str(o, "id"));
}

static json_t *subnet_view(const json_t *o)
{
    json_t *v = json_pack("{s:s, s:s, s:s, s:s}", "network_id", sf_cloud_str(o, "network_id"),
                          "cidr", sf_cloud_str(o, "cidr"), "name", sf_cloud_str(o, "name"), "id",
                          sf_cloud_str(o, "id"));
    json_t *dns = json_object_get(o, "dns_nameservers");
    json_object_set_new(v, "dns_nameservers", json_is_array(dns) ? json_deep_copy(dns) : json_array());
    json_object_set_new(v, "enable_dhcp", json_boolean(json_is_true(json_object_get(o, "enable_dhcp"))));
    json_t *gw = json_object_get(o, "gateway_ip");
    json_object_set_new(v, "gateway_ip", json_is_string(gw) ? json_copy(gw) : json_null());
    return v;
}

static const struct kind network_kind = {"networks", "network", network_view};
static const struct kind subnet_kind = {"subnets", "subnet", subnet_view};

static int kind_read(struct sf_call *c, const struct kind *k, const char *id, json_t **out)
{
    *out = NULL;
    if (!*id) {
        sf_cloud_error(c, SF_CLASS_INVALID, "reading the %s: no id recorded", k->singular);
        return -1;
    }
    char *e = sf_cloud_escape(id);
    char *path = sf_asprintf("/v2.0/%s/%s", k->plural, e);
    free(e);
    char *what = sf_asprintf("reading the %s", k->singular);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_NETWORK, "GET", path, NULL, SF_CLOUD_OK404, what, &r);
    if (rc == 0 && r.status != 404)
        *out = k->view(json_object_get(r.json, k->singular));
    sf_cloud_resp_free(&r);
    free(path);
    free(what);
    return rc;
}

/* Deleting waits out 409s: a server or cluster on it may still be going. */
static int kind_delete(struct sf_call *c, const struct kind *k, const json_t *prior)
{
    const char *id = sf_cloud_str(prior, "id");
    if (!*id)
        return 0;
    /* 409 while something still uses it (a port of a server going away). */
    char *e = sf_cloud_escape(id);
    char *path = sf_asprintf("/v2.0/%s/%s", k->plural, e);
    free(e);
    char *noun = sf_asprintf("the %s", k->singular);
    int rc = sf_cloud_delete(c, SF_CLOUD_NETWORK, path, noun, false);
    free(noun);
    free(path);
    return rc;
}

static char *marker(const struct sf_call *c)
{
    return sf_asprintf("sparkform %s (lineage %s)", c->address, c->lineage ? c->lineage : "");
}

/* The object of this stack and address, found by its description. */
static int kind_find(struct sf_call *c, const void *arg, json_t **found)
{
    const struct kind *k = arg;
    *found = NULL;
    char *desc = marker(c);
    char *e = sf_cloud_escape(desc);
    char *path = sf_asprintf("/v2.0/%s?description=%s", k->plural, e);
    free(e);
    char *what = sf_asprintf("looking for the %s by its description", k->singular);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_NETWORK, "GET", path, NULL, 0, what, &r);
    if (rc == 0) {
        size_t i;
        json_t *o;
        /* The check again keeps a cloud that ignores a filter from handing
         * over someone else's object. */
        json_array_foreach(json_object_get(r.json, k->plural), i, o)
        {
            if (strcmp(sf_cloud_str(o, "description"), desc) == 0) {
                *found = k->view(o);
                break;
            }
        }
    }
    sf_cloud_resp_free(&r);
    free(desc);
    free(path);
    free(what);
    return rc;
}

/* POST {"network": inner} with the description that marks it, then add
 * the tag; *out is what read reports. */
static int kind_create(struct sf_call *c, const struct kind *k, json_t *inner, json_t **out)
{
    *out = NULL;
    char *desc = marker(c);
    json_object_set_new(inner, "description", json_string(desc));
    free(desc);
    json_t *body = json_pack("{s:O}", k->singular, inner);
    char *path = sf_asprintf("/v2.0/%s", k->plural);
    char *what = sf_asprintf("creating the %s", k->singular);
    json_t *answer = NULL, *found = NULL;
    int rc = sf_cloud_create(c, SF_CLOUD_NETWORK, path, body, what, kind_find, k, &answer, &found);
    if (rc == 0) {
        if (found)
            *out = found;
        else
            *out = k->view(json_object_get(answer, k->singular));
        if (!*sf_cloud_str(*out, "id")) {
            sf_cloud_error(c, SF_CLASS_INVALID, "%s: the answer has no id", what);
            json_decref(*out);
            *out = NULL;
            rc = -1;
        }
    }
    if (rc == 0) {
        /* The description already marks it: a cloud without the tag
         * extension only gets a warning. */
        char *tag = sf_cloud_tag(c);
        char *id = sf_cloud_escape(sf_cloud_str(*out, "id"));
        char *tpath = sf_asprintf("/v2.0/%s/%s/tags/%s", k->plural, id, tag);
        struct sf_diags tmp;
        sf_diags_init(&tmp);
        struct sf_call cc = *c;
        cc.diags = &tmp;
        struct sf_cloud_resp r;
        if (sf_cloud_do(&cc, SF_CLOUD_NETWORK, "PUT", tpath, NULL, 0, "tagging", &r) < 0)
            sf_diag_add(c->diags, SF_SEV_WARNING, NULL, c->address,
                        "could not add the tag %s (%s); adopt finds the %s by its description",
                        tag, tmp.n ? tmp.items[0].summary : "", k->singular);
        sf_cloud_resp_free(&r);
        sf_diags_free(&tmp);
        free(tag);
        free(id);
        free(tpath);
    }
    json_decref(answer);
    json_decref(body);
    free(path);
    free(what);
    return rc;
}

static int kind_put(struct sf_call *c, const struct kind *k, const char *id, json_t *inner,
                    json_t **out)
{
    *out = NULL;
    json_t *body = json_pack("{s:O}", k->singular, inner);
    char *e = sf_cloud_escape(id);
    char *path = sf_asprintf("/v2.0/%s/%s", k->plural, e);
    free(e);
    char *what = sf_asprintf("updating the %s", k->singular);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_NETWORK, "PUT", path, body, 0, what, &r);
    if (rc == 0)
        *out = k->view(json_object_get(r.json, k->singular));
    sf_cloud_resp_free(&r);
    json_decref(body);
    free(path);
    free(what);
    return rc;
}

/* ---------- cloud_network ---------- */

static int network_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    return kind_read(c, &network_kind, sf_cloud_str(prior, "id"), out);
}

static int network_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    return kind_find(c, &network_kind, out);
}

static int network_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    json_t *inner = json_pack("{s:s, s:b}", "name", sf_cloud_str(desired, "name"),
                              "admin_state_up", 1);
    int rc = kind_create(c, &network_kind, inner, out);
    json_decref(inner);
    return rc;
}

static int network_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                          json_t **out)
{
    json_t *inner = json_pack("{s:s}", "name", sf_cloud_str(desired, "name"));
    int rc = kind_put(c, &network_kind, sf_cloud_str(prior, "id"), inner, out);
    json_decref(inner);
    return rc;
}

static int network_delete(struct sf_call *c, const json_t *prior)
{
    return kind_delete(c, &network_kind, prior);
}

const struct sf_resource_type sf_cloud_network_type = {
    .name = "cloud_network",
    .doc = "a Neutron network",
    .attrs = network_attrs,
    .read = network_read,
    .adopt = network_adopt,
    .create = network_create,
    .update = network_update,
    .delete = network_delete,
    .timeouts = {.create = 600, .update = 600, .delete = 600, .read = 300},
};

/* ---------- cloud_subnet ---------- */

static int subnet_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    return kind_read(c, &subnet_kind, sf_cloud_str(prior, "id"), out);
}

static int subnet_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    return kind_find(c, &subnet_kind, out);
}

/* The members both create and update send. */
static json_t *subnet_changes(const json_t *desired)
{
    json_t *inner = json_pack("{s:s}", "name", sf_cloud_str(desired, "name"));
    json_t *dns = json_object_get(desired, "dns_nameservers");
    json_object_set_new(inner, "dns_nameservers", json_is_array(dns) ? json_deep_copy(dns) : json_array());
    json_t *dhcp = json_object_get(desired, "enable_dhcp");
    json_object_set_new(inner, "enable_dhcp", json_boolean(!json_is_false(dhcp)));
    json_t *gw = json_object_get(desired, "gateway_ip");
    if (json_is_string(gw))
        json_object_set_new(inner, "gateway_ip", json_copy(gw));
    return inner;
}

static int subnet_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    const char *cidr = sf_cloud_str(desired, "cidr");
    json_t *inner = subnet_changes(desired);
    json_object_set_new(inner, "network_id", json_string(sf_cloud_str(desired, "network_id")));
    json_object_set_new(inner, "cidr", json_string(cidr));
    json_object_set_new(inner, "ip_version", json_integer(strchr(cidr, ':') ? 6 : 4));
    int rc = kind_create(c, &subnet_kind, inner, out);
    json_decref(inner);
    return rc;
}

static int subnet_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                         json_t **out)
{
    json_t *inner = subnet_changes(desired);
    int rc = kind_put(c, &subnet_kind, sf_cloud_str(prior, "id"), inner, out);
    json_decref(inner);
    return rc;
}

static int subnet_delete(struct sf_call *c, const json_t *prior)
{
    return kind_delete(c, &subnet_kind, prior);
}

const struct sf_resource_type sf_cloud_subnet_type = {
    .name = "cloud_subnet",
    .doc = "a Neutron subnet of a cloud_network",
    .attrs = subnet_attrs,
    .read = subnet_read,
    .adopt = subnet_adopt,
    .create = subnet_create,
    .update = subnet_update,
    .delete = subnet_delete,
    .timeouts = {.create = 600, .update = 600, .delete = 600, .read = 300},
};

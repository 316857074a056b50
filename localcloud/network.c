/*
 * Network, a Neutron v2.0 subset under /network/v2.0: networks and subnets
 * (create, get, list with attribute filters such as ?name= and ?tags=,
 * update, delete, and tags by /tags/{tag}). Subnets are
 * validated like Neutron does (CIDR without host bits, gateway and pools
 * inside it, no overlap on one network); a network with subnets, or with
 * servers on it, cannot be deleted (409). The compute API allocates server
 * addresses from these subnets. Objects are project-scoped: another
 * project's objects are "not found".
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apis.h"
#include "fields.h"
#include "ipaddr.h"
#include "store.h"
#include "util.h"

#define API "network"

static void neutron_error(struct lc_response *resp, unsigned status, const char *type,
                          const char *msg)
{
    if (!type) {
        switch (status) {
        case 400: type = "HTTPBadRequest"; break;
        case 401: type = "HTTPUnauthorized"; break;
        case 403: type = "HTTPForbidden"; break;
        case 404: type = "HTTPNotFound"; break;
        case 405: type = "HTTPMethodNotAllowed"; break;
        case 409: type = "HTTPConflict"; break;
        case 413: type = "HTTPRequestEntityTooLarge"; break;
        case 429: type = "HTTPTooManyRequests"; break;
        case 503: type = "HTTPServiceUnavailable"; break;
        default: type = status >= 500 ? "HTTPInternalServerError" : "HTTPError"; break;
        }
    }
    lc_resp_json(resp, status,
                 json_pack("{s:{s:s, s:s, s:s}}", "NeutronError", "type", type, "message", msg,
                           "detail", ""));
}

static struct lc_store *store(struct lc_request *req)
{
    return lc_server_store(req->srv);
}

/* Rejects members outside allowed, like Neutron's "Unrecognized attribute". */
static void known_keys(struct lc_check *c, json_t *obj, const char *const *allowed)
{
    lc_check_known(c, obj, NULL, allowed, "unrecognized or read-only attribute");
}

static void set_times(json_t *o, bool created)
{
    long long now = lc_now_ms();
    char ts[48];
    lc_format_time(now, false, ts, sizeof(ts));
    if (created) {
        json_object_set_new(o, "created_at", json_string(ts));
        json_object_set_new(o, "created_ms", json_integer(now));
        json_object_set_new(o, "revision_number", json_integer(0));
    } else {
        json_int_t rev = json_integer_value(json_object_get(o, "revision_number"));
        json_object_set_new(o, "revision_number", json_integer(rev + 1));
    }
    json_object_set_new(o, "updated_at", json_string(ts));
}

static bool has_servers(struct lc_request *req, const char *key, const char *id)
{
    const char *sid;
    json_t *srv;
    json_object_foreach(lc_store_kind(store(req), "compute", "servers"), sid, srv)
    {
        size_t i;
        json_t *port;
        json_array_foreach(json_object_get(srv, "ports"), i, port)
        {
            if (strcmp(json_string_value(json_object_get(port, key)), id) == 0)
                return true;
        }
    }
    return false;
}

static json_t *base_view(json_t *obj)
{
    json_t *v = json_deep_copy(obj);
    json_object_del(v, "created_ms");
    json_object_set(v, "tenant_id", json_object_get(v, "project_id"));
    return v;
}

static json_t *network_view(struct lc_request *req, json_t *net)
{
    json_t *v = base_view(net);
    json_t *subnets = json_array();
    json_t *all = lc_store_sorted(store(req), API, "subnets");
    size_t i;
    json_t *s;
    const char *id = json_string_value(json_object_get(net, "id"));
    json_array_foreach(all, i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "network_id")), id) == 0)
            json_array_append(subnets, json_object_get(s, "id"));
    }
    json_decref(all);
    json_object_set_new(v, "subnets", subnets);
    json_object_set_new(v, "status", json_string("ACTIVE"));
    json_object_set_new(v, "router:external", json_false());
    json_object_set_new(v, "availability_zones", json_pack("[s]", "nova"));
    json_object_set_new(v, "ipv4_address_scope", json_null());
    json_object_set_new(v, "ipv6_address_scope", json_null());
    return v;
}

static json_t *subnet_view(struct lc_request *req, json_t *sub)
{
    json_t *v = base_view(sub);
    json_object_set_new(v, "ipv6_ra_mode", json_null());
    json_object_set_new(v, "ipv6_address_mode", json_null());
    json_object_set_new(v, "subnetpool_id", json_null());
    return v;
}

/* Whether one value of a view matches a filter value from the query. */
static bool value_matches(json_t *v, const char *key, const char *want)
{
    if (json_is_string(v))
        return strcmp(json_string_value(v), want) == 0;
    if (json_is_boolean(v))
        return strcasecmp(want, json_is_true(v) ? "true" : "false") == 0;
    if (json_is_integer(v))
        return json_integer_value(v) == atoll(want);
    if (json_is_array(v)) {
        /* tags=a,b needs every tag; other lists need the one value */
        bool all_tags = strcmp(key, "tags") == 0;
        char *copy = sf_xstrdup(want), *save = NULL;
        bool ok = true;
        for (char *t = strtok_r(copy, all_tags ? "," : "", &save); t && ok;
             t = strtok_r(NULL, all_tags ? "," : "", &save)) {
            bool found = false;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
                found |= json_is_string(e) && strcmp(json_string_value(e), t) == 0;
            ok = found;
        }
        free(copy);
        return ok;
    }
    return json_is_null(v) && (strcmp(want, "") == 0 || strcmp(want, "null") == 0);
}

static const char *const paging[] = {"fields", "limit", "marker", "sort_key", "sort_dir",
                                     "page_reverse", NULL};

static bool is_paging(const char *k)
{
    for (size_t i = 0; paging[i]; i++)
        if (strcmp(paging[i], k) == 0)
            return true;
    return false;
}

/* Neutron filters on any attribute; a key repeated means any of its values. */
static bool view_matches(struct lc_request *req, json_t *view)
{
    for (size_t i = 0; i < req->nquery; i++) {
        const char *k = req->query_keys[i];
        if (is_paging(k))
            continue;
        bool any = false;
        for (size_t j = 0; j < req->nquery; j++)
            if (strcmp(req->query_keys[j], k) == 0)
                any |= value_matches(json_object_get(view, k), k, req->query_values[j]);
        if (!any)
            return false;
    }
    return true;
}

static void list_kind(struct lc_request *req, struct lc_response *resp, const char *kind,
                      json_t *(*view)(struct lc_request *, json_t *), json_t *sample_keys)
{
    for (size_t i = 0; i < req->nquery; i++) {
        if (!is_paging(req->query_keys[i]) && !json_object_get(sample_keys, req->query_keys[i])) {
            lc_error(req, resp, 400, NULL, "[%s] is invalid attribute for filtering",
                     req->query_keys[i]);
            return;
        }
    }
    json_t *all = lc_store_sorted(store(req), API, kind);
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        if (!lc_req_owns(req, o))
            continue;
        json_t *v = view(req, o);
        if (view_matches(req, v))
            json_array_append(out, v);
        json_decref(v);
    }
    json_decref(all);
    lc_resp_json(resp, 200, json_pack("{s:o}", kind, out));
}

/* ---------- networks ---------- */

static const char *const network_keys[] = {"name", "description", "admin_state_up", "shared", "mtu",
                                           "tags", "port_security_enabled", "tenant_id",
                                           "project_id", NULL};

/* Every attribute a network view has, for filter validation. */
static json_t *network_sample(void)
{
    return json_pack("{s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, "
                     "s:n}",
                     "id", "name", "description", "admin_state_up", "shared", "mtu", "tags",
                     "port_security_enabled", "tenant_id", "project_id", "status", "subnets",
                     "router:external", "created_at", "updated_at", "revision_number");
}

static json_t *find_network(struct lc_request *req, struct lc_response *resp, const char *id)
{
    json_t *net = lc_store_get(store(req), API, "networks", id);
    if (!lc_req_owns(req, net)) {
        lc_error(req, resp, 404, "NetworkNotFound", "Network %s could not be found.", id);
        return NULL;
    }
    return net;
}

/* Reads the writable attributes of body.network into obj. */
static void read_network(struct lc_check *c, json_t *in, json_t *obj, bool create)
{
    known_keys(c, in, network_keys);
    const char *name = lc_get_string(c, in, "network", "name", 0);
    const char *desc = lc_get_string(c, in, "network", "description", 0);
    json_t *tags = lc_get_string_list(c, in, "network", "tags", 0);
    if (c->failed)
        return;
    if (name || create)
        json_object_set_new(obj, "name", json_string(name ? name : ""));
    if (desc || create)
        json_object_set_new(obj, "description", json_string(desc ? desc : ""));
    if (tags || create)
        json_object_set_new(obj, "tags", tags ? json_deep_copy(tags) : json_array());
    const char *bools[] = {"admin_state_up", "shared", "port_security_enabled"};
    const bool dflt[] = {true, false, true};
    for (size_t i = 0; i < 3; i++) {
        json_t *cur = json_object_get(obj, bools[i]);
        bool b = lc_get_bool(c, in, "network", bools[i], cur ? json_is_true(cur) : dflt[i]);
        json_object_set_new(obj, bools[i], json_boolean(b));
    }
    json_t *cur = json_object_get(obj, "mtu");
    long long mtu = lc_get_int(c, in, "network", "mtu", cur ? json_integer_value(cur) : 1500, 68, 9000);
    json_object_set_new(obj, "mtu", json_integer(mtu));
}

static void create_network(struct lc_request *req, struct lc_response *resp)
{
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *in = lc_get_object(&c, body, NULL, "network", LC_REQUIRED);
    char *id = sf_uuid();
    json_t *net = json_pack("{s:s, s:s}", "id", id, "project_id", req->project_id);
    if (!c.failed)
        read_network(&c, in, net, true);
    if (!c.failed) {
        set_times(net, true);
        if (lc_store_put(store(req), API, "networks", id, net) < 0)
            lc_error(req, resp, 500, NULL, "Could not save network %s", id);
        else
            lc_resp_json(resp, 201, json_pack("{s:o}", "network", network_view(req, net)));
    }
    json_decref(net);
    json_decref(body);
    free(id);
}

static void list_networks(struct lc_request *req, struct lc_response *resp)
{
    json_t *sample = network_sample();
    list_kind(req, resp, "networks", network_view, sample);
    json_decref(sample);
}

static void get_network(struct lc_request *req, struct lc_response *resp)
{
    json_t *net = find_network(req, resp, lc_req_param(req, "id"));
    if (net)
        lc_resp_json(resp, 200, json_pack("{s:o}", "network", network_view(req, net)));
}

static void update_network(struct lc_request *req, struct lc_response *resp)
{
    const char *id = lc_req_param(req, "id");
    json_t *net = find_network(req, resp, id);
    if (!net)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *in = lc_get_object(&c, body, NULL, "network", LC_REQUIRED);
    json_t *upd = json_deep_copy(net);
    if (!c.failed)
        read_network(&c, in, upd, false);
    if (!c.failed) {
        set_times(upd, false);
        if (lc_store_put(store(req), API, "networks", id, upd) < 0)
            lc_error(req, resp, 500, NULL, "Could not save network %s", id);
        else
            lc_resp_json(resp, 200, json_pack("{s:o}", "network", network_view(req, upd)));
    }
    json_decref(upd);
    json_decref(body);
}

static void delete_network(struct lc_request *req, struct lc_response *resp)
{
    const char *id = lc_req_param(req, "id");
    if (!find_network(req, resp, id))
        return;
    const char *sid;
    json_t *sub;
    json_object_foreach(lc_store_kind(store(req), API, "subnets"), sid, sub)
    {
        if (strcmp(json_string_value(json_object_get(sub, "network_id")), id) == 0) {
            lc_error(req, resp, 409, "NetworkInUse",
                     "Unable to complete operation on network %s. There are one or more subnets "
                     "still on the network (subnet %s).", id, sid);
            return;
        }
    }
    if (has_servers(req, "network_id", id)) {
        lc_error(req, resp, 409, "NetworkInUse",
                 "Unable to complete operation on network %s. There are one or more ports still in "
                 "use on the network (servers are attached to it).", id);
        return;
    }
    if (lc_store_del(store(req), API, "networks", id) < 0)
        lc_error(req, resp, 500, NULL, "Could not delete network %s", id);
    else
        lc_resp_empty(resp, 204);
}

/* ---------- subnets ---------- */

static const char *const subnet_create_keys[] = {
    "network_id", "cidr", "ip_version", "name", "description", "gateway_ip", "enable_dhcp",
    "dns_nameservers", "allocation_pools", "host_routes", "tags", "tenant_id", "project_id", NULL};
static const char *const subnet_update_keys[] = {"name", "description", "gateway_ip", "enable_dhcp",
                                                 "dns_nameservers", "host_routes", "tags", NULL};

static json_t *subnet_sample(void)
{
    json_t *s = json_object();
    for (size_t i = 0; subnet_create_keys[i]; i++)
        json_object_set_new(s, subnet_create_keys[i], json_null());
    const char *more[] = {"id", "created_at", "updated_at", "revision_number"};
    for (size_t i = 0; i < 4; i++)
        json_object_set_new(s, more[i], json_null());
    return s;
}

static json_t *find_subnet(struct lc_request *req, struct lc_response *resp, const char *id)
{
    json_t *sub = lc_store_get(store(req), API, "subnets", id);
    if (!lc_req_owns(req, sub)) {
        lc_error(req, resp, 404, "SubnetNotFound", "Subnet %s could not be found.", id);
        return NULL;
    }
    return sub;
}

static json_t *pool(const struct lc_ip *a, const struct lc_ip *b)
{
    char s[64], e[64];
    lc_ip_format(a, s, sizeof(s));
    lc_ip_format(b, e, sizeof(e));
    return json_pack("{s:s, s:s}", "start", s, "end", e);
}

/* Neutron's default pools: the whole block but the network address, the
 * IPv4 broadcast address and the gateway. */
static json_t *default_pools(const struct lc_cidr *cidr, const struct lc_ip *gw)
{
    json_t *pools = json_array();
    struct lc_ip start = lc_ip_add(cidr->net, 1);
    struct lc_ip end = lc_cidr_last(cidr);
    if (cidr->net.version == 4)
        end = lc_ip_prev(end);
    int maxp = cidr->net.version == 4 ? 32 : 128;
    if (cidr->prefix >= maxp - 1 || lc_ip_cmp(&start, &end) > 0)
        return pools;
    if (gw && lc_ip_cmp(gw, &start) >= 0 && lc_ip_cmp(gw, &end) <= 0) {
        if (lc_ip_cmp(gw, &start) > 0) {
            struct lc_ip before = lc_ip_prev(*gw);
            json_array_append_new(pools, pool(&start, &before));
        }
        if (lc_ip_cmp(gw, &end) < 0) {
            struct lc_ip after = lc_ip_add(*gw, 1);
            json_array_append_new(pools, pool(&after, &end));
        }
    } else {
        json_array_append_new(pools, pool(&start, &end));
    }
    return pools;
}

/* The gateway member: absent gives the first host, null gives none. */
static void read_gateway(struct lc_check *c, json_t *in, const struct lc_cidr *cidr, json_t *obj,
                         bool create)
{
    json_t *g = json_object_get(in, "gateway_ip");
    if (!g && !create)
        return;
    if (!g) {
        int maxp = cidr->net.version == 4 ? 32 : 128;
        if (cidr->prefix >= maxp - 1) {
            json_object_set_new(obj, "gateway_ip", json_null());
        } else {
            struct lc_ip ip = lc_ip_add(cidr->net, 1);
            char buf[64];
            lc_ip_format(&ip, buf, sizeof(buf));
            json_object_set_new(obj, "gateway_ip", json_string(buf));
        }
        return;
    }
    if (json_is_null(g)) {
        json_object_set_new(obj, "gateway_ip", json_null());
        return;
    }
    struct lc_ip ip;
    if (!json_is_string(g) || lc_ip_parse(json_string_value(g), &ip) < 0) {
        lc_check_fail(c, "subnet.gateway_ip", "subnet.gateway_ip: expected an IP address or null");
        return;
    }
    if (!lc_cidr_contains(cidr, &ip) || lc_ip_cmp(&ip, &cidr->net) == 0) {
        lc_check_fail(c, "subnet.gateway_ip", "subnet.gateway_ip: %s is not a host address of %s",
                      json_string_value(g), json_string_value(json_object_get(obj, "cidr")));
        return;
    }
    char buf[64];
    lc_ip_format(&ip, buf, sizeof(buf));
    json_object_set_new(obj, "gateway_ip", json_string(buf));
}

static void read_pools(struct lc_check *c, json_t *in, const struct lc_cidr *cidr, json_t *obj)
{
    json_t *pools = lc_get_array(c, in, "subnet", "allocation_pools", 0);
    struct lc_ip gw, *gwp = NULL;
    json_t *g = json_object_get(obj, "gateway_ip");
    if (json_is_string(g) && lc_ip_parse(json_string_value(g), &gw) == 0)
        gwp = &gw;
    if (c->failed)
        return;
    if (!pools) {
        json_object_set_new(obj, "allocation_pools", default_pools(cidr, gwp));
        return;
    }
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pools, i, p)
    {
        char field[48];
        snprintf(field, sizeof(field), "subnet.allocation_pools[%zu]", i);
        const char *s = lc_get_string(c, p, field, "start", LC_REQUIRED);
        const char *e = lc_get_string(c, p, field, "end", LC_REQUIRED);
        if (!json_is_object(p))
            lc_check_fail(c, field, "%s: expected an object {start, end}", field);
        if (c->failed)
            break;
        struct lc_ip a, b;
        if (lc_ip_parse(s, &a) < 0 || lc_ip_parse(e, &b) < 0 || !lc_cidr_contains(cidr, &a) ||
            !lc_cidr_contains(cidr, &b) || lc_ip_cmp(&a, &b) > 0) {
            lc_check_fail(c, field, "%s: expected start <= end, both inside the subnet's cidr", field);
            break;
        }
        if (gwp && lc_ip_cmp(gwp, &a) >= 0 && lc_ip_cmp(gwp, &b) <= 0) {
            lc_check_fail(c, field, "%s: the pool contains the gateway address", field);
            break;
        }
        json_array_append_new(out, pool(&a, &b));
    }
    json_object_set_new(obj, "allocation_pools", out);
}

static void read_subnet_common(struct lc_check *c, json_t *in, json_t *obj, bool create)
{
    const char *name = lc_get_string(c, in, "subnet", "name", 0);
    const char *desc = lc_get_string(c, in, "subnet", "description", 0);
    json_t *tags = lc_get_string_list(c, in, "subnet", "tags", 0);
    json_t *dns = lc_get_string_list(c, in, "subnet", "dns_nameservers", 0);
    json_t *routes = lc_get_array(c, in, "subnet", "host_routes", 0);
    json_t *cur = json_object_get(obj, "enable_dhcp");
    bool dhcp = lc_get_bool(c, in, "subnet", "enable_dhcp", cur ? json_is_true(cur) : true);
    size_t i;
    json_t *v;
    json_array_foreach(dns, i, v)
    {
        struct lc_ip ip;
        if (!c->failed && lc_ip_parse(json_string_value(v), &ip) < 0)
            lc_check_fail(c, "subnet.dns_nameservers",
                          "subnet.dns_nameservers[%zu]: expected an IP address", i);
    }
    json_array_foreach(routes, i, v)
    {
        struct lc_cidr rc;
        struct lc_ip nh;
        const char *why;
        json_t *d = json_object_get(v, "destination"), *n = json_object_get(v, "nexthop");
        if (!c->failed && (!json_is_string(d) || !json_is_string(n) ||
                           lc_cidr_parse(json_string_value(d), &rc, &why) < 0 ||
                           lc_ip_parse(json_string_value(n), &nh) < 0))
            lc_check_fail(c, "subnet.host_routes",
                          "subnet.host_routes[%zu]: expected {\"destination\": CIDR, "
                          "\"nexthop\": IP}", i);
    }
    if (c->failed)
        return;
    if (name || create)
        json_object_set_new(obj, "name", json_string(name ? name : ""));
    if (desc || create)
        json_object_set_new(obj, "description", json_string(desc ? desc : ""));
    if (tags || create)
        json_object_set_new(obj, "tags", tags ? json_deep_copy(tags) : json_array());
    if (dns || create)
        json_object_set_new(obj, "dns_nameservers", dns ? json_deep_copy(dns) : json_array());
    if (routes || create)
        json_object_set_new(obj, "host_routes", routes ? json_deep_copy(routes) : json_array());
    json_object_set_new(obj, "enable_dhcp", json_boolean(dhcp));
}

static void create_subnet(struct lc_request *req, struct lc_response *resp)
{
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *in = lc_get_object(&c, body, NULL, "subnet", LC_REQUIRED);
    if (!c.failed)
        known_keys(&c, in, subnet_create_keys);
    const char *net_id = lc_get_string(&c, in, "subnet", "network_id", LC_REQUIRED);
    const char *cidr_s = lc_get_string(&c, in, "subnet", "cidr", LC_REQUIRED);
    long long version = lc_get_int(&c, in, "subnet", "ip_version", 0, 4, 6);
    struct lc_cidr cidr;
    const char *why;
    if (!c.failed && lc_cidr_parse(cidr_s, &cidr, &why) < 0)
        lc_check_fail(&c, "subnet.cidr", "subnet.cidr: '%s' is not a valid CIDR: %s", cidr_s, why);
    if (!c.failed && version == 5)
        lc_check_fail(&c, "subnet.ip_version", "subnet.ip_version: expected 4 or 6");
    if (!c.failed && version && version != cidr.net.version)
        lc_check_fail(&c, "subnet.ip_version", "subnet.ip_version: %lld does not match the cidr %s",
                      version, cidr_s);
    if (c.failed) {
        json_decref(body);
        return;
    }
    if (!find_network(req, resp, net_id)) {
        json_decref(body);
        return;
    }
    const char *sid;
    json_t *other;
    json_object_foreach(lc_store_kind(store(req), API, "subnets"), sid, other)
    {
        struct lc_cidr oc;
        if (strcmp(json_string_value(json_object_get(other, "network_id")), net_id) == 0 &&
            lc_cidr_parse(json_string_value(json_object_get(other, "cidr")), &oc, &why) == 0 &&
            lc_cidr_overlap(&cidr, &oc)) {
            lc_check_fail(&c, "subnet.cidr",
                          "subnet.cidr: %s overlaps with subnet %s (%s) on network %s", cidr_s, sid,
                          json_string_value(json_object_get(other, "cidr")), net_id);
            json_decref(body);
            return;
        }
    }
    char *id = sf_uuid();
    char canon[64];
    lc_ip_format(&cidr.net, canon, sizeof(canon));
    char *cidr_text = sf_asprintf("%s/%d", canon, cidr.prefix);
    json_t *sub = json_pack("{s:s, s:s, s:s, s:s, s:i}", "id", id, "project_id", req->project_id,
                            "network_id", net_id, "cidr", cidr_text, "ip_version",
                            cidr.net.version);
    free(cidr_text);
    read_subnet_common(&c, in, sub, true);
    if (!c.failed)
        read_gateway(&c, in, &cidr, sub, true);
    if (!c.failed)
        read_pools(&c, in, &cidr, sub);
    if (!c.failed) {
        set_times(sub, true);
        if (lc_store_put(store(req), API, "subnets", id, sub) < 0)
            lc_error(req, resp, 500, NULL, "Could not save subnet %s", id);
        else
            lc_resp_json(resp, 201, json_pack("{s:o}", "subnet", subnet_view(req, sub)));
    }
    json_decref(sub);
    json_decref(body);
    free(id);
}

static void list_subnets(struct lc_request *req, struct lc_response *resp)
{
    json_t *sample = subnet_sample();
    list_kind(req, resp, "subnets", subnet_view, sample);
    json_decref(sample);
}

static void get_subnet(struct lc_request *req, struct lc_response *resp)
{
    json_t *sub = find_subnet(req, resp, lc_req_param(req, "id"));
    if (sub)
        lc_resp_json(resp, 200, json_pack("{s:o}", "subnet", subnet_view(req, sub)));
}

static void update_subnet(struct lc_request *req, struct lc_response *resp)
{
    const char *id = lc_req_param(req, "id");
    json_t *sub = find_subnet(req, resp, id);
    if (!sub)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *in = lc_get_object(&c, body, NULL, "subnet", LC_REQUIRED);
    if (!c.failed)
        known_keys(&c, in, subnet_update_keys);
    json_t *upd = json_deep_copy(sub);
    struct lc_cidr cidr;
    const char *why;
    lc_cidr_parse(json_string_value(json_object_get(sub, "cidr")), &cidr, &why);
    if (!c.failed)
        read_subnet_common(&c, in, upd, false);
    if (!c.failed)
        read_gateway(&c, in, &cidr, upd, false);
    if (!c.failed) {
        set_times(upd, false);
        if (lc_store_put(store(req), API, "subnets", id, upd) < 0)
            lc_error(req, resp, 500, NULL, "Could not save subnet %s", id);
        else
            lc_resp_json(resp, 200, json_pack("{s:o}", "subnet", subnet_view(req, upd)));
    }
    json_decref(upd);
    json_decref(body);
}

static void delete_subnet(struct lc_request *req, struct lc_response *resp)
{
    const char *id = lc_req_param(req, "id");
    if (!find_subnet(req, resp, id))
        return;
    if (has_servers(req, "subnet_id", id)) {
        lc_error(req, resp, 409, "SubnetInUse",
                 "Unable to complete operation on subnet %s: one or more ports have an IP "
                 "allocation from this subnet (servers are attached to it).", id);
        return;
    }
    if (lc_store_del(store(req), API, "subnets", id) < 0)
        lc_error(req, resp, 500, NULL, "Could not delete subnet %s", id);
    else
        lc_resp_empty(resp, 204);
}

/* ---------- tags (Neutron's tag extension) ---------- */

/* The network or subnet a /tags route names (borrowed), its kind set;
 * NULL after answering 404. */
static json_t *tagged(struct lc_request *req, struct lc_response *resp, const char **kind)
{
    const char *id = lc_req_param(req, "id");
    bool net = strncmp(req->path + strlen("/network/v2.0"), "/networks/", 10) == 0;
    *kind = net ? "networks" : "subnets";
    return net ? find_network(req, resp, id) : find_subnet(req, resp, id);
}

static bool valid_tag(struct lc_request *req, struct lc_response *resp, const char *tag)
{
    if (*tag && strlen(tag) <= 255 && !strchr(tag, ','))
        return true;
    lc_error(req, resp, 400, NULL, "Invalid input for tag: \"%.64s\" must be 1 to 255 "
             "characters without a comma", tag);
    return false;
}

static void save_tags(struct lc_request *req, struct lc_response *resp, const char *kind,
                      json_t *obj, json_t *tags, unsigned status)
{
    json_t *upd = json_deep_copy(obj);
    json_object_set(upd, "tags", tags);
    set_times(upd, false);
    const char *id = json_string_value(json_object_get(obj, "id"));
    if (lc_store_put(store(req), API, kind, id, upd) < 0)
        lc_error(req, resp, 500, NULL, "Could not save the tags of %s", id);
    else if (status == 200)
        lc_resp_json(resp, 200, json_pack("{s:O}", "tags", tags));
    else
        lc_resp_empty(resp, status);
    json_decref(upd);
}

static long tag_index(json_t *tags, const char *tag)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
        if (strcmp(json_string_value(t), tag) == 0)
            return (long)i;
    return -1;
}

static void get_tags(struct lc_request *req, struct lc_response *resp)
{
    const char *kind;
    json_t *obj = tagged(req, resp, &kind);
    if (obj)
        lc_resp_json(resp, 200, json_pack("{s:O}", "tags", json_object_get(obj, "tags")));
}

static void replace_tags(struct lc_request *req, struct lc_response *resp)
{
    const char *kind;
    json_t *obj = tagged(req, resp, &kind);
    if (!obj)
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *tags = lc_get_string_list(&c, body, NULL, "tags", LC_REQUIRED);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
        if (!c.failed && !valid_tag(req, resp, json_string_value(t)))
            c.failed = true;
    if (!c.failed)
        save_tags(req, resp, kind, obj, tags, 200);
    json_decref(body);
}

static void check_tag(struct lc_request *req, struct lc_response *resp)
{
    const char *kind;
    json_t *obj = tagged(req, resp, &kind);
    if (!obj)
        return;
    const char *tag = lc_req_param(req, "tag");
    if (tag_index(json_object_get(obj, "tags"), tag) >= 0)
        lc_resp_empty(resp, 204);
    else
        lc_error(req, resp, 404, "TagNotFound", "Tag %s could not be found.", tag);
}

static void add_tag(struct lc_request *req, struct lc_response *resp)
{
    const char *kind;
    json_t *obj = tagged(req, resp, &kind);
    const char *tag = lc_req_param(req, "tag");
    if (!obj || !valid_tag(req, resp, tag))
        return;
    json_t *tags = json_deep_copy(json_object_get(obj, "tags"));
    if (!json_is_array(tags)) {
        json_decref(tags);
        tags = json_array();
    }
    if (tag_index(tags, tag) < 0)
        json_array_append_new(tags, json_string(tag));
    save_tags(req, resp, kind, obj, tags, 201);
    json_decref(tags);
}

static void remove_tag(struct lc_request *req, struct lc_response *resp)
{
    const char *kind;
    json_t *obj = tagged(req, resp, &kind);
    if (!obj)
        return;
    const char *tag = lc_req_param(req, "tag");
    json_t *tags = json_deep_copy(json_object_get(obj, "tags"));
    long at = tag_index(tags, tag);
    if (at < 0) {
        lc_error(req, resp, 404, "TagNotFound", "Tag %s could not be found.", tag);
    } else {
        json_array_remove(tags, (size_t)at);
        save_tags(req, resp, kind, obj, tags, 204);
    }
    json_decref(tags);
}

static void remove_tags(struct lc_request *req, struct lc_response *resp)
{
    const char *kind;
    json_t *obj = tagged(req, resp, &kind);
    if (!obj)
        return;
    json_t *none = json_array();
    save_tags(req, resp, kind, obj, none, 204);
    json_decref(none);
}

static void get_root(struct lc_request *req, struct lc_response *resp)
{
    const char *kinds[][2] = {{"network", "networks"}, {"subnet", "subnets"}};
    json_t *res = json_array();
    for (size_t i = 0; i < 2; i++) {
        char *href = sf_asprintf("%s/network/v2.0/%s", lc_server_base_url(req->srv), kinds[i][1]);
        json_array_append_new(res, json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "name", kinds[i][0],
                                             "collection", kinds[i][1], "links", "rel", "self",
                                             "href", href));
        free(href);
    }
    lc_resp_json(resp, 200, json_pack("{s:o}", "resources", res));
}

static const struct lc_route routes[] = {
    {"GET", "", get_root, 0},
    {"GET", "/networks", list_networks, 0},
    {"POST", "/networks", create_network, 0},
    {"GET", "/networks/{id}", get_network, 0},
    {"PUT", "/networks/{id}", update_network, 0},
    {"DELETE", "/networks/{id}", delete_network, 0},
    {"GET", "/subnets", list_subnets, 0},
    {"POST", "/subnets", create_subnet, 0},
    {"GET", "/subnets/{id}", get_subnet, 0},
    {"PUT", "/subnets/{id}", update_subnet, 0},
    {"DELETE", "/subnets/{id}", delete_subnet, 0},
    {"GET", "/networks/{id}/tags", get_tags, 0},
    {"PUT", "/networks/{id}/tags", replace_tags, 0},
    {"DELETE", "/networks/{id}/tags", remove_tags, 0},
    {"GET", "/networks/{id}/tags/{tag}", check_tag, 0},
    {"PUT", "/networks/{id}/tags/{tag}", add_tag, 0},
    {"DELETE", "/networks/{id}/tags/{tag}", remove_tag, 0},
    {"GET", "/subnets/{id}/tags", get_tags, 0},
    {"PUT", "/subnets/{id}/tags", replace_tags, 0},
    {"DELETE", "/subnets/{id}/tags", remove_tags, 0},
    {"GET", "/subnets/{id}/tags/{tag}", check_tag, 0},
    {"PUT", "/subnets/{id}/tags/{tag}", add_tag, 0},
    {"DELETE", "/subnets/{id}/tags/{tag}", remove_tag, 0},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api api = {
    .name = API,
    .prefix = "/network/v2.0",
    .routes = routes,
    .error = neutron_error,
    .token_auth = true,
    .openstack = true,
};

int lc_network_register(struct lc_server *srv)
{
    return lc_server_add_api(srv, &api, NULL);
}

/*
 * Identity, a Keystone v3 subset (see identity.h). Users come from the
 * --users file and are configuration, not objects; tokens and EC2
 * credentials are objects in the store (tokens as the internal kind
 * "_tokens", so that a token survives a restart but stays out of the
 * inventory). Every other API's X-Auth-Token is checked by check_token().
 */
#include "identity.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fields.h"
#include "sigv4.h"
#include "store.h"
#include "util.h"

#define API "identity"

struct user {
    char *id, *name, *password, *project_id, *domain;
};

struct identity {
    struct user *users;
    size_t n;
};

static void free_identity(void *ctx)
{
    struct identity *id = ctx;
    if (!id)
        return;
    for (size_t i = 0; i < id->n; i++) {
        free(id->users[i].id);
        free(id->users[i].name);
        free(id->users[i].password);
        free(id->users[i].project_id);
        free(id->users[i].domain);
    }
    free(id->users);
    free(id);
}

/* Keystone's ids are hex strings; deriving them from domain and name keeps
 * them the same across restarts without storing users. */
static char *derive_user_id(const char *domain, const char *name)
{
    char *src = sf_asprintf("localcloud-user:%s/%s", domain, name);
    char hex[65];
    sf_sigv4_sha256_hex(src, strlen(src), hex);
    free(src);
    return sf_xstrndup(hex, 32);
}

static char *domain_id(const char *domain)
{
    char *s = sf_xstrdup(domain);
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

static void add_user(struct identity *id, const char *uid, const char *name, const char *password,
                     const char *project, const char *domain)
{
    id->users = sf_xrealloc(id->users, (id->n + 1) * sizeof(*id->users));
    struct user *u = &id->users[id->n++];
    u->name = sf_xstrdup(name);
    u->password = sf_xstrdup(password);
    u->project_id = sf_xstrdup(project);
    u->domain = sf_xstrdup(domain);
    u->id = uid ? sf_xstrdup(uid) : derive_user_id(domain, name);
}

static int load_users(struct identity *id, const char *file, struct sf_diags *d)
{
    json_error_t je;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        struct sf_pos pos = {file, je.line, je.column};
        sf_error(d, &pos, "cannot read the users file: %s", je.text);
        return -1;
    }
    json_t *users = json_object_get(doc, "users");
    int rc = 0;
    if (!json_is_array(users) || json_array_size(users) == 0) {
        sf_error(d, NULL,
                 "%s: expected {\"users\": [{\"name\", \"password\", \"project_id\", "
                 "\"domain\"}, ...]} with at least one user", file);
        rc = -1;
    }
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        if (rc < 0)
            break;
        const char *keys[] = {"name", "password", "project_id"};
        for (size_t k = 0; k < 3 && rc == 0; k++) {
            json_t *v = json_object_get(u, keys[k]);
            if (!json_is_string(v) || json_string_length(v) == 0) {
                sf_error(d, NULL, "%s: users[%zu].%s: expected a non-empty string", file,
                         i, keys[k]);
                rc = -1;
            }
        }
        json_t *dom = json_object_get(u, "domain");
        json_t *uid = json_object_get(u, "id");
        if (rc == 0 && ((dom && !json_is_string(dom)) || (uid && !json_is_string(uid)))) {
            sf_error(d, NULL, "%s: users[%zu]: domain and id must be strings", file, i);
            rc = -1;
        }
        if (rc == 0)
            add_user(id, json_string_value(uid), json_string_value(json_object_get(u, "name")),
                     json_string_value(json_object_get(u, "password")),
                     json_string_value(json_object_get(u, "project_id")),
                     dom ? json_string_value(dom) : "Default");
    }
    json_decref(doc);
    return rc;
}

static const struct user *user_by_id(const struct identity *id, const char *uid)
{
    for (size_t i = 0; i < id->n; i++)
        if (strcmp(id->users[i].id, uid) == 0)
            return &id->users[i];
    return NULL;
}

/* Whether a user of domain `domain` is named by a domain id and / or name
 * (NULL: any). Users of the default domain ("Default" unless the users
 * file says otherwise) are also found under "users", the user domain VK
 * Cloud's clients send by default. */
static bool in_domain(const char *domain, const char *dom_id, const char *dom_name)
{
    bool dflt = strcasecmp(domain, "Default") == 0;
    char *did = domain_id(domain);
    bool ok = (!dom_id || strcasecmp(did, dom_id) == 0 || (dflt && strcmp(dom_id, "users") == 0)) &&
              (!dom_name || strcasecmp(domain, dom_name) == 0 ||
               (dflt && strcmp(dom_name, "users") == 0));
    free(did);
    return ok;
}

/* A user by name within a domain given by id or name (NULL: any domain). */
static const struct user *user_by_name(const struct identity *id, const char *name,
                                       const char *dom_id, const char *dom_name)
{
    for (size_t i = 0; i < id->n; i++) {
        const struct user *u = &id->users[i];
        if (strcmp(u->name, name) == 0 && in_domain(u->domain, dom_id, dom_name))
            return u;
    }
    return NULL;
}

static json_t *domain_json(const char *domain)
{
    char *did = domain_id(domain);
    json_t *d = json_pack("{s:s, s:s}", "id", did, "name", domain);
    free(did);
    return d;
}

/* Every service has a public endpoint in region RegionOne, the region VK
 * Cloud's clients look up by default, and the same URL again in region
 * "local", the name localcloud's own clients and tests have used. */
static json_t *catalog(const char *base)
{
    static const struct {
        const char *type, *name, *path;
    } services[] = {
        {"identity", "keystone", "/identity/v3"},
        {"compute", "nova", "/compute/v2.1"},
        {"network", "neutron", "/network"},
        {"image", "glance", "/image"},
        {"container-infra", "magnum", "/container-infra/v1"},
        {"object-store", "s3", "/s3"},
    };
    static const char *const regions[] = {"RegionOne", "local"};
    json_t *cat = json_array();
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
        char *url = sf_asprintf("%s%s", base, services[i].path);
        json_t *eps = json_array();
        for (size_t r = 0; r < 2; r++) {
            char *eid = sf_asprintf("%s-public-%s", services[i].type, regions[r]);
            json_array_append_new(eps, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", eid,
                                                 "interface", "public", "region", regions[r],
                                                 "region_id", regions[r], "url", url));
            free(eid);
        }
        json_array_append_new(cat, json_pack("{s:s, s:s, s:s, s:o}", "id", services[i].type,
                                             "type", services[i].type, "name", services[i].name,
                                             "endpoints", eps));
        free(url);
    }
    return cat;
}

static json_t *token_body(struct lc_server *srv, const struct user *u, json_t *tok)
{
    char issued[48], expires[48];
    lc_format_time(json_integer_value(json_object_get(tok, "issued_ms")), true, issued, sizeof(issued));
    lc_format_time(json_integer_value(json_object_get(tok, "expires_ms")), true, expires,
                   sizeof(expires));
    const char *project = json_string_value(json_object_get(tok, "project_id"));
    return json_pack(
        "{s:{s:O, s:s, s:s, s:{s:s, s:s, s:o, s:n}, s:{s:s, s:s, s:o}, s:[{s:s, s:s}, {s:s, s:s}], "
        "s:o, s:b}}",
        "token", "methods", json_object_get(tok, "methods"), "issued_at", issued, "expires_at",
        expires, "user", "id", u->id, "name", u->name, "domain", domain_json(u->domain),
        "password_expires_at", "project", "id", project, "name", project, "domain",
        domain_json(u->domain), "roles", "id", "admin", "name", "admin", "id", "member", "name",
        "member", "catalog", catalog(lc_server_base_url(srv)), "is_domain", 0);
}

/* A live token's record, borrowed, or NULL. */
static json_t *live_token(struct lc_server *srv, const char *token)
{
    json_t *t = lc_store_get(lc_server_store(srv), API, "_tokens", token);
    if (t && json_integer_value(json_object_get(t, "expires_ms")) > lc_now_ms())
        return t;
    return NULL;
}

static int check_token(struct lc_server *srv, void *ctx, const char *token, struct lc_request *req)
{
    lc_server_lock(srv);
    json_t *t = live_token(srv, token);
    if (t) {
        req->user_id = sf_xstrdup(json_string_value(json_object_get(t, "user_id")));
        req->project_id = sf_xstrdup(json_string_value(json_object_get(t, "project_id")));
    }
    lc_server_unlock(srv);
    return t ? 0 : -1;
}

static void prune_tokens(struct lc_server *srv)
{
    struct lc_store *st = lc_server_store(srv);
    json_t *all = lc_store_kind(st, API, "_tokens");
    long long now = lc_now_ms();
    const char *key;
    json_t *t, *tmp;
    json_object_foreach_safe(all, tmp, key, t)
    {
        if (json_integer_value(json_object_get(t, "expires_ms")) <= now)
            lc_store_del(st, API, "_tokens", key);
    }
}

static void unauthorized(struct lc_request *req, struct lc_response *resp)
{
    lc_error(req, resp, 401, NULL, "The request you have made requires authentication.");
}

static void post_tokens(struct lc_request *req, struct lc_response *resp)
{
    struct identity *id = req->ctx;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *auth = lc_get_object(&c, body, NULL, "auth", LC_REQUIRED);
    json_t *ident = lc_get_object(&c, auth, "auth", "identity", LC_REQUIRED);
    json_t *methods = lc_get_string_list(&c, ident, "auth.identity", "methods", LC_REQUIRED);
    json_t *scope = lc_get_object(&c, auth, "auth", "scope", 0);
    bool by_password = false, by_token = false;
    size_t i;
    json_t *m;
    json_array_foreach(methods, i, m)
    {
        by_password |= strcmp(json_string_value(m), "password") == 0;
        by_token |= strcmp(json_string_value(m), "token") == 0;
    }
    if (!c.failed && !by_password && !by_token)
        lc_check_fail(&c, "auth.identity.methods",
                      "auth.identity.methods: expected [\"password\"] or [\"token\"]");
    const struct user *u = NULL;
    bool known = false;
    if (by_password) {
        json_t *pw = lc_get_object(&c, ident, "auth.identity", "password", LC_REQUIRED);
        json_t *ju = lc_get_object(&c, pw, "auth.identity.password", "user", LC_REQUIRED);
        const char *uid = lc_get_string(&c, ju, "auth.identity.password.user", "id", 0);
        const char *name = lc_get_string(&c, ju, "auth.identity.password.user", "name", 0);
        const char *pass = lc_get_string(&c, ju, "auth.identity.password.user", "password",
                                         LC_REQUIRED | LC_LONG);
        json_t *dom = lc_get_object(&c, ju, "auth.identity.password.user", "domain", 0);
        const char *dom_id = lc_get_string(&c, dom, "auth.identity.password.user.domain", "id", 0);
        const char *dom_name =
            lc_get_string(&c, dom, "auth.identity.password.user.domain", "name", 0);
        if (!c.failed && !uid && !name)
            lc_check_fail(&c, "auth.identity.password.user",
                          "auth.identity.password.user: an id or a name is required");
        if (!c.failed) {
            u = uid ? user_by_id(id, uid) : user_by_name(id, name, dom_id, dom_name);
            known = u && strlen(u->password) == strlen(pass) &&
                    CRYPTO_memcmp(u->password, pass, strlen(pass)) == 0;
        }
    } else if (by_token) {
        json_t *tok = lc_get_object(&c, ident, "auth.identity", "token", LC_REQUIRED);
        const char *tid = lc_get_string(&c, tok, "auth.identity.token", "id", LC_REQUIRED | LC_LONG);
        json_t *t = c.failed ? NULL : live_token(req->srv, tid);
        if (t) {
            u = user_by_id(id, json_string_value(json_object_get(t, "user_id")));
            known = u != NULL;
        }
    }
    const char *project = u ? u->project_id : NULL;
    if (scope && !c.failed) {
        json_t *jp = lc_get_object(&c, scope, "auth.scope", "project", 0);
        const char *pid = lc_get_string(&c, jp, "auth.scope.project", "id", 0);
        const char *pname = lc_get_string(&c, jp, "auth.scope.project", "name", 0);
        if (!c.failed && !jp)
            lc_check_fail(&c, "auth.scope", "auth.scope: only a project scope is supported");
        else if (!c.failed && !pid && !pname)
            lc_check_fail(&c, "auth.scope.project", "auth.scope.project: an id or a name is required");
        else if (!c.failed && known && strcmp(pid ? pid : pname, u->project_id) != 0) {
            lc_error(req, resp, 401, NULL, "User %s has no access to project %s", u->id,
                     pid ? pid : pname);
            json_decref(body);
            return;
        }
    }
    json_decref(body);
    if (c.failed)
        return;
    if (!known) {
        unauthorized(req, resp);
        return;
    }
    prune_tokens(req->srv);
    long long now = lc_now_ms();
    char *token = sf_random_hex(32);
    json_t *rec = json_pack("{s:s, s:s, s:I, s:I, s:[s]}", "user_id", u->id, "project_id", project,
                            "issued_ms", (json_int_t)now, "expires_ms",
                            (json_int_t)(now + lc_server_options(req->srv)->token_ttl_s * 1000),
                            "methods", by_password ? "password" : "token");
    if (lc_store_put(lc_server_store(req->srv), API, "_tokens", token, rec) < 0) {
        lc_error(req, resp, 500, NULL, "Could not save the token");
    } else {
        lc_resp_json(resp, 201, token_body(req->srv, u, rec));
        lc_resp_header(resp, "X-Subject-Token", token);
    }
    json_decref(rec);
    free(token);
}

/* The token named by X-Subject-Token, or NULL after answering 404. */
static json_t *subject_token(struct lc_request *req, struct lc_response *resp, const char **tid)
{
    *tid = lc_req_header(req, "X-Subject-Token");
    json_t *t = *tid ? live_token(req->srv, *tid) : NULL;
    if (!t)
        lc_error(req, resp, 404, NULL,
                 "Could not find token: the X-Subject-Token header names no valid token.");
    return t;
}

static void get_token(struct lc_request *req, struct lc_response *resp)
{
    struct identity *id = req->ctx;
    const char *tid;
    json_t *t = subject_token(req, resp, &tid);
    if (!t)
        return;
    const struct user *u = user_by_id(id, json_string_value(json_object_get(t, "user_id")));
    if (!u) {
        lc_error(req, resp, 404, NULL, "Could not find token: its user no longer exists.");
        return;
    }
    lc_resp_json(resp, 200, token_body(req->srv, u, t));
    lc_resp_header(resp, "X-Subject-Token", tid);
}

static void delete_token(struct lc_request *req, struct lc_response *resp)
{
    const char *tid;
    if (!subject_token(req, resp, &tid))
        return;
    if (lc_store_del(lc_server_store(req->srv), API, "_tokens", tid) < 0)
        lc_error(req, resp, 500, NULL, "Could not revoke the token");
    else
        lc_resp_empty(resp, 204);
}

static void get_version(struct lc_request *req, struct lc_response *resp)
{
    char *self = sf_asprintf("%s/identity/v3/", lc_server_base_url(req->srv));
    lc_resp_json(resp, 200,
                 json_pack("{s:{s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}}", "version", "id",
                           "v3.14", "status", "stable", "updated", "2020-04-07T00:00:00Z", "links",
                           "rel", "self", "href", self, "media-types", "base", "application/json",
                           "type", "application/vnd.openstack.identity-v3+json"));
    free(self);
}

/* ---------- EC2 credentials ---------- */

static json_t *credential_view(struct lc_request *req, json_t *cred)
{
    const char *access = json_string_value(json_object_get(cred, "access"));
    const char *uid = json_string_value(json_object_get(cred, "user_id"));
    char *self = sf_asprintf("%s/identity/v3/users/%s/credentials/OS-EC2/%s",
                             lc_server_base_url(req->srv), uid, access);
    json_t *v = json_pack("{s:s, s:O, s:s, s:O, s:n, s:{s:s}}", "access", access, "secret",
                          json_object_get(cred, "secret"), "user_id", uid, "tenant_id",
                          json_object_get(cred, "tenant_id"), "trust_id", "links", "self", self);
    free(self);
    return v;
}

/* Only the token's own user manages its credentials here. */
static bool own_user(struct lc_request *req, struct lc_response *resp)
{
    if (strcmp(lc_req_param(req, "user_id"), req->user_id) == 0)
        return true;
    lc_error(req, resp, 403, NULL, "You are not authorized to perform the requested action: "
                                   "credentials of another user.");
    return false;
}

static void post_ec2(struct lc_request *req, struct lc_response *resp)
{
    if (!own_user(req, resp))
        return;
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    const char *tenant = lc_get_string(&c, body, NULL, "tenant_id", LC_REQUIRED);
    if (!c.failed && strcmp(tenant, req->project_id) != 0) {
        lc_error(req, resp, 403, NULL, "User %s has no access to project %s", req->user_id, tenant);
        c.failed = true;
    }
    if (c.failed) {
        json_decref(body);
        return;
    }
    char *access = sf_random_hex(16), *secret = sf_random_hex(16);
    json_t *cred = json_pack("{s:s, s:s, s:s, s:s, s:I}", "access", access, "secret", secret,
                             "user_id", req->user_id, "tenant_id", tenant, "created_ms",
                             (json_int_t)lc_now_ms());
    json_decref(body);
    if (lc_store_put(lc_server_store(req->srv), API, "credentials", access, cred) < 0)
        lc_error(req, resp, 500, NULL, "Could not save the credential");
    else
        lc_resp_json(resp, 201, json_pack("{s:o}", "credential", credential_view(req, cred)));
    json_decref(cred);
    free(access);
    free(secret);
}

static void list_ec2(struct lc_request *req, struct lc_response *resp)
{
    if (!own_user(req, resp))
        return;
    json_t *all = lc_store_sorted(lc_server_store(req->srv), API, "credentials");
    json_t *out = json_array();
    size_t i;
    json_t *cred;
    json_array_foreach(all, i, cred)
    {
        if (strcmp(json_string_value(json_object_get(cred, "user_id")), req->user_id) == 0)
            json_array_append_new(out, credential_view(req, cred));
    }
    json_decref(all);
    lc_resp_json(resp, 200, json_pack("{s:o}", "credentials", out));
}

static json_t *find_ec2(struct lc_request *req, struct lc_response *resp)
{
    if (!own_user(req, resp))
        return NULL;
    const char *access = lc_req_param(req, "access");
    json_t *cred = lc_store_get(lc_server_store(req->srv), API, "credentials", access);
    if (!cred || strcmp(json_string_value(json_object_get(cred, "user_id")), req->user_id) != 0) {
        lc_error(req, resp, 404, NULL, "Could not find credential: %s.", access);
        return NULL;
    }
    return cred;
}

static void get_ec2(struct lc_request *req, struct lc_response *resp)
{
    json_t *cred = find_ec2(req, resp);
    if (cred)
        lc_resp_json(resp, 200, json_pack("{s:o}", "credential", credential_view(req, cred)));
}

static void delete_ec2(struct lc_request *req, struct lc_response *resp)
{
    if (!find_ec2(req, resp))
        return;
    if (lc_store_del(lc_server_store(req->srv), API, "credentials", lc_req_param(req, "access")) < 0)
        lc_error(req, resp, 500, NULL, "Could not delete the credential");
    else
        lc_resp_empty(resp, 204);
}

/* ---------- credentials (the generic API) ----------
 *
 * Keystone's /v3/credentials: the same EC2 credentials seen as {id, type,
 * user_id, project_id, blob}, where the blob is a JSON text holding access
 * and secret and whatever else the client put in it (kept as sent). A
 * client that creates one chooses the access key itself; the id is the
 * SHA-256 of the access key, as Keystone makes it. Only type "ec2" is
 * emulated. */

static char *credential_id(const char *access)
{
    char hex[65];
    sf_sigv4_sha256_hex(access, strlen(access), hex);
    return sf_xstrdup(hex);
}

static json_t *generic_view(struct lc_request *req, json_t *cred)
{
    const char *access = json_string_value(json_object_get(cred, "access"));
    char *id = credential_id(access);
    char *self = sf_asprintf("%s/identity/v3/credentials/%s", lc_server_base_url(req->srv), id);
    json_t *blob = json_object_get(cred, "blob");
    char *made = NULL;
    if (!json_is_string(blob)) {
        json_t *b = json_pack("{s:s, s:O, s:n}", "access", access, "secret",
                              json_object_get(cred, "secret"), "trust_id");
        made = json_dumps(b, JSON_COMPACT);
        json_decref(b);
    }
    json_t *v = json_pack("{s:s, s:s, s:O, s:O, s:s, s:{s:s}}", "id", id, "type", "ec2", "user_id",
                          json_object_get(cred, "user_id"), "project_id",
                          json_object_get(cred, "tenant_id"), "blob",
                          made ? made : json_string_value(blob), "links", "self", self);
    free(made);
    free(self);
    free(id);
    return v;
}

static void post_credential(struct lc_request *req, struct lc_response *resp)
{
    json_t *body = lc_req_json(req, resp);
    if (!body)
        return;
    struct lc_check c;
    lc_check_init(&c, req, resp);
    json_t *cr = lc_get_object(&c, body, NULL, "credential", LC_REQUIRED);
    const char *type = cr ? lc_get_string(&c, cr, "credential", "type", LC_REQUIRED) : NULL;
    const char *uid = cr ? lc_get_string(&c, cr, "credential", "user_id", LC_REQUIRED) : NULL;
    const char *project = cr ? lc_get_string(&c, cr, "credential", "project_id", LC_REQUIRED) : NULL;
    const char *blob_text = cr ? lc_get_string(&c, cr, "credential", "blob", LC_REQUIRED | LC_LONG)
                               : NULL;
    json_t *blob = NULL;
    const char *access = NULL, *secret = NULL;
    if (!c.failed && strcmp(type, "ec2") != 0) {
        lc_error(req, resp, 400, NULL, "Only credentials of type ec2 are emulated here, not %s.",
                 type);
        c.failed = true;
    }
    if (!c.failed && strcmp(uid, req->user_id) != 0) {
        lc_error(req, resp, 403, NULL, "You are not authorized to perform the requested action: "
                                       "credentials of another user.");
        c.failed = true;
    }
    if (!c.failed && strcmp(project, req->project_id) != 0) {
        lc_error(req, resp, 403, NULL, "User %s has no access to project %s", uid, project);
        c.failed = true;
    }
    if (!c.failed) {
        blob = json_loads(blob_text, 0, NULL);
        access = json_string_value(json_object_get(blob, "access"));
        secret = json_string_value(json_object_get(blob, "secret"));
        if (!access || !secret || !*access || !*secret || strlen(access) > 128 ||
            strlen(secret) > 128 || strchr(access, '/')) {
            lc_error(req, resp, 400, NULL, "Invalid blob in credential: an ec2 credential's blob "
                                           "is a JSON object with access and secret strings.");
            c.failed = true;
        }
    }
    if (!c.failed && lc_store_get(lc_server_store(req->srv), API, "credentials", access)) {
        lc_error(req, resp, 409, NULL, "Conflict occurred attempting to store credential - "
                                       "Duplicate entry.");
        c.failed = true;
    }
    if (!c.failed) {
        json_t *cred = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "access", access, "secret",
                                 secret, "user_id", uid, "tenant_id", project, "created_ms",
                                 (json_int_t)lc_now_ms(), "blob", blob_text);
        if (lc_store_put(lc_server_store(req->srv), API, "credentials", access, cred) < 0)
            lc_error(req, resp, 500, NULL, "Could not save the credential");
        else
            lc_resp_json(resp, 201, json_pack("{s:o}", "credential", generic_view(req, cred)));
        json_decref(cred);
    }
    json_decref(blob);
    json_decref(body);
}

static void list_credentials(struct lc_request *req, struct lc_response *resp)
{
    const char *uid = lc_req_query(req, "user_id");
    const char *type = lc_req_query(req, "type");
    json_t *all = lc_store_sorted(lc_server_store(req->srv), API, "credentials");
    json_t *out = json_array();
    size_t i;
    json_t *cred;
    json_array_foreach(all, i, cred)
    {
        /* A user sees the credentials of its own; the filters narrow that. */
        const char *owner = json_string_value(json_object_get(cred, "user_id"));
        if (strcmp(owner, req->user_id) != 0 || (uid && strcmp(uid, owner) != 0) ||
            (type && strcmp(type, "ec2") != 0))
            continue;
        json_array_append_new(out, generic_view(req, cred));
    }
    json_decref(all);
    lc_resp_json(resp, 200, json_pack("{s:o}", "credentials", out));
}

/* The stored credential whose id is the path's credential_id: borrowed
 * from the store, NULL after a 404. */
static json_t *find_credential(struct lc_request *req, struct lc_response *resp)
{
    const char *id = lc_req_param(req, "credential_id");
    json_t *all = lc_store_sorted(lc_server_store(req->srv), API, "credentials");
    const char *access = NULL;
    size_t i;
    json_t *cred;
    json_array_foreach(all, i, cred)
    {
        const char *a = json_string_value(json_object_get(cred, "access"));
        char *cid = credential_id(a);
        if (strcmp(cid, id) == 0 &&
            strcmp(json_string_value(json_object_get(cred, "user_id")), req->user_id) == 0)
            access = a;
        free(cid);
        if (access)
            break;
    }
    json_t *found = access ? lc_store_get(lc_server_store(req->srv), API, "credentials", access)
                           : NULL;
    json_decref(all);
    if (!found)
        lc_error(req, resp, 404, NULL, "Could not find credential: %s.", id);
    return found;
}

static void get_credential(struct lc_request *req, struct lc_response *resp)
{
    json_t *cred = find_credential(req, resp);
    if (cred)
        lc_resp_json(resp, 200, json_pack("{s:o}", "credential", generic_view(req, cred)));
}

static void delete_credential(struct lc_request *req, struct lc_response *resp)
{
    json_t *cred = find_credential(req, resp);
    if (!cred)
        return;
    char *access = sf_xstrdup(json_string_value(json_object_get(cred, "access")));
    if (lc_store_del(lc_server_store(req->srv), API, "credentials", access) < 0)
        lc_error(req, resp, 500, NULL, "Could not delete the credential");
    else
        lc_resp_empty(resp, 204);
    free(access);
}

int lc_identity_ec2_secret(struct lc_server *srv, const char *access, char **secret,
                           char **user_id, char **project_id)
{
    lc_server_lock(srv);
    json_t *cred = lc_store_get(lc_server_store(srv), API, "credentials", access);
    if (cred) {
        if (secret)
            *secret = sf_xstrdup(json_string_value(json_object_get(cred, "secret")));
        if (user_id)
            *user_id = sf_xstrdup(json_string_value(json_object_get(cred, "user_id")));
        if (project_id)
            *project_id = sf_xstrdup(json_string_value(json_object_get(cred, "tenant_id")));
    }
    lc_server_unlock(srv);
    return cred ? 0 : -1;
}

char *lc_identity_ec2_lookup(void *srv, const char *access)
{
    char *secret = NULL;
    if (lc_identity_ec2_secret(srv, access, &secret, NULL, NULL) < 0)
        return NULL;
    return secret;
}

static const struct lc_route routes[] = {
    {"GET", "", get_version, LC_ROUTE_PUBLIC},
    {"POST", "/auth/tokens", post_tokens, LC_ROUTE_PUBLIC},
    {"GET", "/auth/tokens", get_token, 0},
    {"DELETE", "/auth/tokens", delete_token, 0},
    {"POST", "/users/{user_id}/credentials/OS-EC2", post_ec2, 0},
    {"GET", "/users/{user_id}/credentials/OS-EC2", list_ec2, 0},
    {"GET", "/users/{user_id}/credentials/OS-EC2/{access}", get_ec2, 0},
    {"DELETE", "/users/{user_id}/credentials/OS-EC2/{access}", delete_ec2, 0},
    {"POST", "/credentials", post_credential, 0},
    {"GET", "/credentials", list_credentials, 0},
    {"GET", "/credentials/{credential_id}", get_credential, 0},
    {"DELETE", "/credentials/{credential_id}", delete_credential, 0},
    {NULL, NULL, NULL, 0},
};

static const struct lc_api api = {
    .name = API,
    .prefix = "/identity/v3",
    .routes = routes,
    .error = lc_error_generic,
    .token_auth = true,
    .openstack = true,
    .free_ctx = free_identity,
};

int lc_identity_register(struct lc_server *srv, const char *users_file, struct sf_diags *d)
{
    struct identity *id = sf_xcalloc(1, sizeof(*id));
    if (users_file) {
        if (load_users(id, users_file, d) < 0) {
            free_identity(id);
            return -1;
        }
    } else {
        add_user(id, NULL, "admin", "localcloud-admin", "local", "Default");
    }
    if (lc_server_add_api(srv, &api, id) < 0) {
        free_identity(id);
        sf_error(d, NULL, "the identity API is registered twice");
        return -1;
    }
    lc_server_set_authenticator(srv, check_token, id);
    return 0;
}

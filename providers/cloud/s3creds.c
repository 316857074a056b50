/*
 * cloud_s3_credentials: an S3 access key and secret (Keystone's EC2-style
 * credentials) of the session's user for a project: what the history
 * server and the jobs use against object storage. The secret is a
 * sensitive attribute.
 *
 * They are made through Keystone's generic credentials API (POST
 * /v3/credentials, type ec2), where the client chooses the access key and
 * the secret, and the blob that holds them may hold more: the stack's
 * lineage and the resource's address, so that adopt finds a credential a
 * killed run made (GET /v3/credentials?user_id=&type=ec2). A lost answer
 * is settled by reading the access key the POST named. Reads and deletes
 * use the OS-EC2 view of the same credential.
 */
#include <stdlib.h>
#include <string.h>

#include "cloud.h"
#include "util.h"

static const struct sf_attr attrs[] = {
    {"project_id", SF_STRING, SF_OPTIONAL | SF_COMPUTED | SF_FORCE_NEW | SF_STABLE, NULL, "project; default the session's"},
    {"access_key", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the access key id"},
    {"secret_key", SF_STRING, SF_COMPUTED | SF_STABLE | SF_SENSITIVE, NULL, "the secret key (sensitive)"},
    {"user_id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the user the key belongs to"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the access key id"},
    {NULL, 0, 0, NULL, NULL},
};

static char *creds_path(struct sf_call *c, const char *access)
{
    char *u = sf_cloud_escape(sf_cloud_user_id(c));
    char *p;
    if (access) {
        char *a = sf_cloud_escape(access);
        p = sf_asprintf("/users/%s/credentials/OS-EC2/%s", u, a);
        free(a);
    } else {
        p = sf_asprintf("/users/%s/credentials/OS-EC2", u);
    }
    free(u);
    return p;
}

static json_t *view(const json_t *cred)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "project_id", sf_cloud_str(cred, "tenant_id"),
                     "access_key", sf_cloud_str(cred, "access"), "secret_key",
                     sf_cloud_str(cred, "secret"), "user_id", sf_cloud_str(cred, "user_id"), "id",
                     sf_cloud_str(cred, "access"));
}

static int creds_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    const char *access = sf_cloud_str(prior, "access_key");
    if (!*access)
        access = sf_cloud_str(prior, "id");
    char *path = creds_path(c, access);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_IDENTITY, "GET", path, NULL, SF_CLOUD_OK404,
                         "reading the S3 credentials", &r);
    if (rc == 0 && r.status != 404)
        *out = view(json_object_get(r.json, "credential"));
    if (r.body)
        memset(r.body, 0, r.len);
    sf_cloud_resp_free(&r);
    free(path);
    return rc;
}

/* Whether a credential's blob (JSON text) carries this stack's lineage
 * and this resource's address. */
static bool ours(struct sf_call *c, const char *blob_text)
{
    json_t *blob = json_loads(blob_text, 0, NULL);
    bool yes = blob && strcmp(sf_cloud_str(blob, SF_CLOUD_KEY_LINEAGE), c->lineage) == 0 &&
               strcmp(sf_cloud_str(blob, SF_CLOUD_KEY_ADDRESS), c->address) == 0;
    json_decref(blob);
    return yes;
}

/* sf_cloud_create's find: the credential the POST named. */
static int named(struct sf_call *c, const void *arg, json_t **found)
{
    *found = NULL;
    json_t *prior = json_pack("{s:s}", "access_key", (const char *)arg);
    int rc = creds_read(c, prior, found);
    json_decref(prior);
    return rc;
}

static int creds_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    const char *project = sf_cloud_str(desired, "project_id");
    if (!*project)
        project = sf_cloud_project_id(c);
    char *access = sf_random_hex(16), *secret = sf_random_hex(20);
    json_t *blob = json_pack("{s:s, s:s, s:n, s:s, s:s}", "access", access, "secret", secret,
                             "trust_id", SF_CLOUD_KEY_LINEAGE, c->lineage ? c->lineage : "",
                             SF_CLOUD_KEY_ADDRESS, c->address);
    char *blob_text = json_dumps(blob, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *body = json_pack("{s:{s:s, s:s, s:s, s:s}}", "credential", "type", "ec2", "user_id",
                             sf_cloud_user_id(c), "project_id", project, "blob", blob_text);
    json_t *answer = NULL, *found = NULL;
    int rc = sf_cloud_create(c, SF_CLOUD_IDENTITY, "/credentials", body,
                             "creating the S3 credentials", named, access, &answer, &found);
    if (rc == 0)
        *out = found ? json_incref(found)
                     : json_pack("{s:s, s:s, s:s, s:s, s:s}", "project_id", project, "access_key",
                                 access, "secret_key", secret, "user_id", sf_cloud_user_id(c),
                                 "id", access);
    json_decref(answer);
    json_decref(found);
    json_decref(body);
    json_decref(blob);
    memset(blob_text, 0, strlen(blob_text));
    free(blob_text);
    memset(secret, 0, strlen(secret));
    free(secret);
    free(access);
    return rc;
}

static int creds_update(struct sf_call *c, const json_t *prior, const json_t *desired, json_t **out)
{
    return creds_read(c, prior, out);
}

static int creds_delete(struct sf_call *c, const json_t *prior)
{
    const char *access = sf_cloud_str(prior, "access_key");
    if (!*access)
        return 0;
    char *path = creds_path(c, access);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_IDENTITY, "DELETE", path, NULL, SF_CLOUD_OK404,
                         "deleting the S3 credentials", &r);
    sf_cloud_resp_free(&r);
    free(path);
    return rc;
}

static int creds_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    char *u = sf_cloud_escape(sf_cloud_user_id(c));
    char *path = sf_asprintf("/credentials?user_id=%s&type=ec2", u);
    free(u);
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_IDENTITY, "GET", path, NULL, 0,
                         "looking for the S3 credentials of an interrupted run", &r);
    char *access = NULL;
    size_t i;
    json_t *cr;
    json_array_foreach(json_object_get(r.json, "credentials"), i, cr)
    {
        const char *blob_text = json_string_value(json_object_get(cr, "blob"));
        if (rc == 0 && blob_text && ours(c, blob_text)) {
            json_t *blob = json_loads(blob_text, 0, NULL);
            access = sf_xstrdup(sf_cloud_str(blob, "access"));
            json_decref(blob);
            break;
        }
    }
    if (r.body)
        memset(r.body, 0, r.len);
    sf_cloud_resp_free(&r);
    free(path);
    if (access && *access)
        rc = named(c, access, out);
    free(access);
    return rc;
}

const struct sf_resource_type sf_cloud_s3_credentials_type = {
    .name = "cloud_s3_credentials",
    .doc = "an S3 access key and secret (EC2-style credentials) for a project",
    .attrs = attrs,
    .read = creds_read,
    .adopt = creds_adopt,
    .create = creds_create,
    .update = creds_update,
    .delete = creds_delete,
    .timeouts = {.create = 300, .update = 300, .delete = 300, .read = 300},
};

/*
 * cloud_s3_credentials: an S3 access key and secret (Keystone's EC2-style
 * credentials, OS-EC2) of the session's user for a project: what the
 * history server and the jobs use against object storage. The secret is a
 * sensitive attribute.
 *
 * An EC2 credential has no field for a tag, so a credential made by a run
 * that was killed before it recorded it cannot be told from any other of
 * the user's credentials: adopt finds nothing (see README.md). Within one
 * create, a lost answer is settled by comparing the project's credentials
 * before and after: one that appeared is the one the POST made.
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

/* The access keys of the project's credentials (a new array), or NULL. */
static json_t *access_keys(struct sf_call *c, const char *project)
{
    char *path = creds_path(c, NULL);
    struct sf_cloud_resp r;
    json_t *keys = NULL;
    if (sf_cloud_do(c, SF_CLOUD_IDENTITY, "GET", path, NULL, 0, "listing the S3 credentials", &r) == 0) {
        keys = json_array();
        size_t i;
        json_t *cr;
        json_array_foreach(json_object_get(r.json, "credentials"), i, cr) if (
            strcmp(sf_cloud_str(cr, "tenant_id"), project) == 0)
            json_array_append_new(keys, json_string(sf_cloud_str(cr, "access")));
    }
    if (r.body)
        memset(r.body, 0, r.len);
    sf_cloud_resp_free(&r);
    free(path);
    return keys;
}

struct before {
    const char *project;
    json_t *keys;
};

/* The one credential of the project that was not there before the POST. */
static int appeared(struct sf_call *c, const void *arg, json_t **found)
{
    const struct before *b = arg;
    *found = NULL;
    json_t *now = access_keys(c, b->project);
    if (!now)
        return -1;
    const char *fresh = NULL;
    size_t n = 0, i, j;
    json_t *k, *o;
    json_array_foreach(now, i, k)
    {
        bool old = false;
        json_array_foreach(b->keys, j, o) old |= json_equal(k, o);
        if (!old) {
            fresh = json_string_value(k);
            n++;
        }
    }
    int rc = 0;
    if (n == 1) {
        json_t *prior = json_pack("{s:s}", "access_key", fresh);
        json_t *v;
        rc = creds_read(c, prior, &v);
        json_decref(prior);
        if (v) {
            /* sf_cloud_create hands back what the POST would have. */
            *found = json_pack("{s:o}", "credential",
                               json_pack("{s:O, s:O, s:O, s:O}", "access", json_object_get(v, "access_key"),
                                         "secret", json_object_get(v, "secret_key"), "tenant_id",
                                         json_object_get(v, "project_id"), "user_id",
                                         json_object_get(v, "user_id")));
            json_decref(v);
        }
    } else if (n > 1) {
        sf_cloud_error(c, SF_CLASS_CONFLICT,
                       "creating the S3 credentials: the answer was lost and %zu credentials "
                       "appeared meanwhile; delete the extra ones by hand", n);
        rc = -1;
    }
    json_decref(now);
    return rc;
}

static int creds_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    const char *project = sf_cloud_str(desired, "project_id");
    if (!*project)
        project = sf_cloud_project_id(c);
    struct before b = {.project = project, .keys = access_keys(c, project)};
    if (!b.keys)
        return -1;
    char *path = creds_path(c, NULL);
    json_t *body = json_pack("{s:s}", "tenant_id", project);
    json_t *answer = NULL, *found = NULL;
    int rc = sf_cloud_create(c, SF_CLOUD_IDENTITY, path, body, "creating the S3 credentials",
                             appeared, &b, &answer, &found);
    if (rc == 0) {
        json_t *cred = json_object_get(found ? found : answer, "credential");
        *out = view(cred);
        if (!*sf_cloud_str(*out, "access_key")) {
            sf_cloud_error(c, SF_CLASS_INVALID, "creating the S3 credentials: the answer has no access key");
            json_decref(*out);
            *out = NULL;
            rc = -1;
        }
    }
    json_decref(answer);
    json_decref(found);
    json_decref(body);
    json_decref(b.keys);
    free(path);
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
    return 0;
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

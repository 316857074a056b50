/*
 * local_file: a file on this machine, written from the description (a
 * generated config, a kubeconfig, an inventory). Paths are relative to the
 * description's directory. The recorded id is the SHA-256 of the bytes, and
 * read reports what is on disk now, so an edit by hand shows up as drift
 * in the next plan.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local.h"
#include "util.h"

static const struct sf_attr attrs[] = {
    {"path", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL,
     "where the file is written; relative to the description's directory"},
    {"content", SF_STRING, SF_OPTIONAL, "\"\"", "the file's content"},
    {"sensitive_content", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL,
     "used instead of content for secrets; never shown"},
    {"mode", SF_STRING, SF_OPTIONAL, "\"0644\"", "permission bits as octal text"},
    {"id", SF_STRING, SF_COMPUTED, NULL, "SHA-256 (hex) of the bytes written"},
    {NULL, 0, 0, NULL, NULL},
};

/* Octal text such as "0644" or "600" into permission bits; -1 if malformed. */
static long parse_mode(const char *s)
{
    if (!s || !*s || strlen(s) > 5)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '7')
            return -1;
        v = v * 8 + (*p - '0');
    }
    return v <= 07777 ? v : -1;
}

/* The bytes the description asks for, borrowed from desired, and which
 * attribute holds them. Fails when both are set. */
static int desired_bytes(struct sf_call *c, const json_t *desired, const char **data,
                         size_t *len, const char **attr)
{
    json_t *content = json_object_get(desired, "content");
    json_t *sensitive = json_object_get(desired, "sensitive_content");
    if (json_is_string(sensitive)) {
        /* content defaults to "", so only a non-empty one is a conflict. */
        if (json_is_string(content) && json_string_length(content) > 0) {
            sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                        "content and sensitive_content are both set; set only one of them");
            return -1;
        }
        *data = json_string_value(sensitive);
        *len = json_string_length(sensitive);
        *attr = "sensitive_content";
        return 0;
    }
    if (json_is_string(content)) {
        *data = json_string_value(content);
        *len = json_string_length(content);
    } else {
        *data = "";
        *len = 0;
    }
    *attr = "content";
    return 0;
}

static int desired_mode(struct sf_call *c, const json_t *desired, unsigned *mode)
{
    json_t *m = json_object_get(desired, "mode");
    if (!m || json_is_null(m)) {
        *mode = 0644;
        return 0;
    }
    long v = json_is_string(m) ? parse_mode(json_string_value(m)) : -1;
    if (v < 0) {
        if (json_is_string(m))
            sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                        "mode: \"%s\" is not an octal permission mode; expected octal text "
                        "such as \"0644\"",
                        json_string_value(m));
        else
            sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                        "mode: expected octal text such as \"0644\"");
        return -1;
    }
    *mode = (unsigned)v;
    return 0;
}

static int get_path(struct sf_call *c, const json_t *v, char **full)
{
    const char *p = json_string_value(json_object_get(v, "path"));
    if (!p || !*p) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                    "path: expected a non-empty file path");
        return -1;
    }
    *full = sf_local_path_resolve(c, p);
    return 0;
}

/* base with the file's current bytes and mode in place of the recorded
 * ones. *out = NULL when the file is gone. */
static int observe(struct sf_call *c, const json_t *base, json_t **out)
{
    *out = NULL;
    char *path;
    if (get_path(c, base, &path) < 0)
        return -1;
    struct stat st;
    size_t len = 0;
    char *data = sf_read_file(path, &len);
    if (!data || stat(path, &st) < 0) {
        int e = errno;
        free(data);
        if (e == ENOENT || e == ENOTDIR) {
            free(path);
            return 0;
        }
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "cannot read \"%s\": %s", path,
                    strerror(e));
        free(path);
        return -1;
    }
    free(path);

    json_t *o = sf_value_copy(base);
    const char *attr = json_is_string(json_object_get(base, "sensitive_content"))
                           ? "sensitive_content"
                           : "content";
    char *id = sf_local_sha256_hex(data, len);
    json_t *text = json_stringn(data, len);
    if (!text) /* not UTF-8: still a difference, without copying the bytes */
        text = json_sprintf("(%zu bytes of binary content, sha256 %s)", len, id);
    json_object_set_new(o, attr, text);
    free(data);

    /* Keep the recorded spelling ("644" vs "0644") when the bits agree. */
    unsigned bits = (unsigned)(st.st_mode & 07777);
    long recorded = parse_mode(json_string_value(json_object_get(base, "mode")));
    if (recorded != (long)bits)
        json_object_set_new(o, "mode", json_sprintf("%04o", bits));
    json_object_set_new(o, "id", json_string(id));
    free(id);
    *out = o;
    return 0;
}

static int file_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    const char *data, *attr;
    size_t len;
    unsigned mode;
    char *path;
    if (desired_bytes(c, desired, &data, &len, &attr) < 0 || desired_mode(c, desired, &mode) < 0 ||
        get_path(c, desired, &path) < 0)
        return -1;
    int rc = sf_local_write(c, path, data, len, mode);
    free(path);
    if (rc < 0)
        return -1;
    json_t *o = sf_value_copy(desired);
    char *id = sf_local_sha256_hex(data, len);
    json_object_set_new(o, "id", json_string(id));
    free(id);
    *out = o;
    return 0;
}

static int file_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    return observe(c, prior, out);
}

static int file_update(struct sf_call *c, const json_t *prior, const json_t *desired, json_t **out)
{
    *out = NULL;
    const char *data, *attr;
    size_t len;
    unsigned mode;
    char *path;
    if (desired_bytes(c, desired, &data, &len, &attr) < 0 || desired_mode(c, desired, &mode) < 0 ||
        get_path(c, desired, &path) < 0)
        return -1;

    const char *pdata, *pattr;
    size_t plen;
    struct sf_diags scratch;
    sf_diags_init(&scratch);
    struct sf_call pc = *c;
    pc.diags = &scratch; /* a prior with both set is not this update's error */
    bool same = desired_bytes(&pc, prior, &pdata, &plen, &pattr) == 0 && plen == len &&
                memcmp(pdata, data, len) == 0;
    sf_diags_free(&scratch);

    int rc;
    if (same) {
        rc = chmod(path, mode);
        if (rc < 0 && errno == ENOENT) {
            rc = sf_local_write(c, path, data, len, mode);
        } else if (rc < 0) {
            sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address,
                        "cannot change the mode of \"%s\": %s", path, strerror(errno));
        }
    } else {
        rc = sf_local_write(c, path, data, len, mode);
    }
    free(path);
    if (rc < 0)
        return -1;
    json_t *o = sf_value_copy(desired);
    char *id = sf_local_sha256_hex(data, len);
    json_object_set_new(o, "id", json_string(id));
    free(id);
    *out = o;
    return 0;
}

static int file_delete(struct sf_call *c, const json_t *prior)
{
    char *path;
    if (get_path(c, prior, &path) < 0)
        return -1;
    int rc = 0;
    if (unlink(path) < 0 && errno != ENOENT && errno != ENOTDIR) {
        sf_diag_add(c->diags, SF_SEV_ERROR, NULL, c->address, "cannot remove \"%s\": %s", path,
                    strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

/* A file left by a run killed before it recorded the file: ours when it
 * already holds exactly what the description asks for. Anything else is
 * left to create, which overwrites it. */
static int file_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    const char *data, *attr;
    size_t len;
    if (desired_bytes(c, desired, &data, &len, &attr) < 0)
        return -1;
    json_t *seen;
    if (observe(c, desired, &seen) < 0)
        return -1;
    if (!seen)
        return 0;
    char *want = sf_local_sha256_hex(data, len);
    if (strcmp(json_string_value(json_object_get(seen, "id")), want) == 0)
        *out = seen;
    else
        json_decref(seen);
    free(want);
    return 0;
}

const struct sf_resource_type sf_local_file_type = {
    .name = "local_file",
    .doc = "a file on this machine, written from the description",
    .attrs = attrs,
    .read = file_read,
    .adopt = file_adopt,
    .create = file_create,
    .update = file_update,
    .delete = file_delete,
};

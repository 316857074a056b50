/*
 * The world's persistence (see store.h): one JSON file per object, written
 * atomically before memory changes, all loaded back when localcloud starts.
 * Handlers call this with the server's world lock held.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigv4.h"
#include "util.h"

#define FORMAT_VERSION 1
/* Longer encoded names are replaced by a hash: file names stop at 255 bytes. */
#define MAX_NAME 200

struct lc_store {
    char *dir;
    json_t *world; /* {api: {kind: {id: object}}} */
    int lock_fd;
};

/* Ids become file names reversibly enough for humans to read them; the id
 * itself is kept inside the file, so loading never decodes a name. */
static char *file_name(const char *id)
{
    struct sf_buf b = {0};
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_')
            sf_buf_add(&b, (const char *)p, 1);
        else
            sf_buf_printf(&b, "%%%02X", *p);
    }
    char *name = sf_buf_take(&b);
    if (strlen(name) <= MAX_NAME)
        return name;
    char hex[65];
    sf_sigv4_sha256_hex(id, strlen(id), hex);
    free(name);
    return sf_asprintf("~%s", hex);
}

static char *object_path(const struct lc_store *st, const char *api, const char *kind,
                         const char *id)
{
    char *name = file_name(id);
    char *p = sf_asprintf("%s/%s/%s/%s.json", st->dir, api, kind, name);
    free(name);
    return p;
}

static void fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* mkdir that also makes the new entry durable in its parent. */
static int ensure_dir(const char *parent, const char *path)
{
    if (mkdir(path, 0700) == 0) {
        fsync_dir(parent);
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

static json_t *kind_obj(struct lc_store *st, const char *api, const char *kind, bool create)
{
    json_t *a = json_object_get(st->world, api);
    if (!a) {
        if (!create)
            return NULL;
        a = json_object();
        json_object_set_new(st->world, api, a);
    }
    json_t *k = json_object_get(a, kind);
    if (!k) {
        if (!create)
            return NULL;
        k = json_object();
        json_object_set_new(a, kind, k);
    }
    return k;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int load_kind(struct lc_store *st, const char *api, const char *kind, const char *path,
                     struct sf_diags *diags)
{
    DIR *d = opendir(path);
    if (!d) {
        sf_error(diags, NULL, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    json_t *k = kind_obj(st, api, kind, true);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *file = sf_asprintf("%s/%s", path, e->d_name);
        if (strstr(e->d_name, ".json.tmp.")) {
            /* a write that a crash interrupted before its rename: never acknowledged */
            unlink(file);
        } else if (has_suffix(e->d_name, ".json")) {
            json_error_t je;
            json_t *doc = json_load_file(file, 0, &je);
            json_t *id = json_object_get(doc, "id");
            json_t *obj = json_object_get(doc, "object");
            if (!doc || !json_is_string(id) || !json_is_object(obj)) {
                sf_error(diags, NULL, "%s is not a localcloud object file%s%s", file,
                         doc ? "" : ": ", doc ? "" : je.text);
                rc = -1;
            } else {
                json_object_set(k, json_string_value(id), obj);
            }
            json_decref(doc);
        }
        free(file);
    }
    closedir(d);
    return rc;
}

static int load(struct lc_store *st, struct sf_diags *diags)
{
    DIR *d = opendir(st->dir);
    if (!d) {
        sf_error(diags, NULL, "cannot read %s: %s", st->dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *apath = sf_asprintf("%s/%s", st->dir, e->d_name);
        struct stat sb;
        if (stat(apath, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            DIR *ad = opendir(apath);
            struct dirent *ke;
            while (rc == 0 && ad && (ke = readdir(ad)) != NULL) {
                if (ke->d_name[0] == '.')
                    continue;
                char *kpath = sf_asprintf("%s/%s", apath, ke->d_name);
                if (stat(kpath, &sb) == 0 && S_ISDIR(sb.st_mode))
                    rc = load_kind(st, e->d_name, ke->d_name, kpath, diags);
                free(kpath);
            }
            if (ad)
                closedir(ad);
        }
        free(apath);
    }
    closedir(d);
    return rc;
}

static int check_format(struct lc_store *st, struct sf_diags *diags)
{
    char *path = sf_asprintf("%s/localcloud.json", st->dir);
    int rc = 0;
    if (access(path, F_OK) == 0) {
        json_error_t je;
        json_t *doc = json_load_file(path, 0, &je);
        if (json_integer_value(json_object_get(doc, "format")) != FORMAT_VERSION) {
            sf_error(diags, NULL, "%s: not a localcloud data directory of format %d",
                     st->dir, FORMAT_VERSION);
            rc = -1;
        }
        json_decref(doc);
    } else {
        json_t *doc = json_pack("{s:i}", "format", FORMAT_VERSION);
        char *s = json_dumps(doc, JSON_INDENT(2));
        if (sf_write_file_atomic(path, s, strlen(s), 0600) < 0) {
            sf_error(diags, NULL, "cannot write %s: %s", path, strerror(errno));
            rc = -1;
        }
        free(s);
        json_decref(doc);
    }
    free(path);
    return rc;
}

struct lc_store *lc_store_open(const char *dir, struct sf_diags *diags)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        sf_error(diags, NULL, "cannot create the data directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    struct lc_store *st = sf_xcalloc(1, sizeof(*st));
    st->dir = sf_xstrdup(dir);
    st->world = json_object();
    char *lock = sf_asprintf("%s/.lock", dir);
    st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(lock);
    if (st->lock_fd < 0) {
        sf_error(diags, NULL, "cannot open the lock of %s: %s", dir, strerror(errno));
        goto fail;
    }
    /* the kernel drops a flock when its holder dies, even by kill -9 */
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        sf_error(diags, NULL, "the data directory %s is in use by another localcloud", dir);
        goto fail;
    }
    if (check_format(st, diags) < 0 || load(st, diags) < 0)
        goto fail;
    return st;
fail:
    lc_store_close(st);
    return NULL;
}

void lc_store_close(struct lc_store *st)
{
    if (!st)
        return;
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    json_decref(st->world);
    free(st->dir);
    free(st);
}

const char *lc_store_dir(const struct lc_store *st)
{
    return st->dir;
}

json_t *lc_store_get(struct lc_store *st, const char *api, const char *kind, const char *id)
{
    json_t *k = kind_obj(st, api, kind, false);
    return k ? json_object_get(k, id) : NULL;
}

int lc_store_put(struct lc_store *st, const char *api, const char *kind, const char *id, json_t *obj)
{
    if (!id || !*id || !json_is_object(obj)) {
        errno = EINVAL;
        return -1;
    }
    json_t *doc = json_pack("{s:s, s:O}", "id", id, "object", obj);
    if (!doc) {
        errno = EINVAL; /* id not UTF-8 */
        return -1;
    }
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(doc);
    char *apath = sf_asprintf("%s/%s", st->dir, api);
    char *kpath = sf_asprintf("%s/%s", apath, kind);
    char *path = object_path(st, api, kind, id);
    int rc = -1;
    if (text && ensure_dir(st->dir, apath) == 0 && ensure_dir(apath, kpath) == 0 &&
        sf_write_file_atomic(path, text, strlen(text), 0600) == 0) {
        json_object_set(kind_obj(st, api, kind, true), id, obj);
        rc = 0;
    }
    int e = errno;
    free(text);
    free(apath);
    free(kpath);
    free(path);
    errno = e;
    return rc;
}

int lc_store_del(struct lc_store *st, const char *api, const char *kind, const char *id)
{
    json_t *k = kind_obj(st, api, kind, false);
    if (!k || !json_object_get(k, id))
        return 0;
    char *path = object_path(st, api, kind, id);
    int rc = unlink(path);
    if (rc == 0 || errno == ENOENT) {
        char *kpath = sf_asprintf("%s/%s/%s", st->dir, api, kind);
        fsync_dir(kpath);
        free(kpath);
        json_object_del(k, id);
        rc = 0;
    }
    int e = errno;
    free(path);
    errno = e;
    return rc;
}

json_t *lc_store_api(struct lc_store *st, const char *api)
{
    return json_object_get(st->world, api);
}

json_t *lc_store_kind(struct lc_store *st, const char *api, const char *kind)
{
    return kind_obj(st, api, kind, true);
}

struct entry {
    const char *id;
    json_t *obj;
};

static int by_created(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    json_int_t cx = json_integer_value(json_object_get(x->obj, "created_ms"));
    json_int_t cy = json_integer_value(json_object_get(y->obj, "created_ms"));
    if (cx != cy)
        return cx < cy ? -1 : 1;
    return strcmp(x->id, y->id);
}

json_t *lc_store_sorted(struct lc_store *st, const char *api, const char *kind)
{
    json_t *k = kind_obj(st, api, kind, true);
    size_t n = json_object_size(k), i = 0;
    struct entry *es = sf_xcalloc(n ? n : 1, sizeof(*es));
    const char *id;
    json_t *obj;
    json_object_foreach(k, id, obj)
    {
        es[i].id = id;
        es[i].obj = obj;
        i++;
    }
    qsort(es, n, sizeof(*es), by_created);
    json_t *arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append(arr, es[i].obj);
    free(es);
    return arr;
}

json_t *lc_store_inventory(struct lc_store *st)
{
    json_t *out = json_object();
    const char *api, *kind;
    json_t *a, *k;
    json_object_foreach(st->world, api, a)
    {
        json_t *oa = NULL;
        json_object_foreach(a, kind, k)
        {
            if (kind[0] == '_' || json_object_size(k) == 0)
                continue;
            if (!oa) {
                oa = json_object();
                json_object_set_new(out, api, oa);
            }
            json_object_set_new(oa, kind, json_deep_copy(k));
        }
    }
    return out;
}

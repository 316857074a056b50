/*
 * Module sources (source.h): local paths and the built-in modules. A
 * built-in module's files live in the binary; their "directory" is the
 * prefix builtin:NAME, so that a built-in module names its parts with
 * relative sources as a module on disk does.
 */
#include "source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gitsrc.h"
#include "util.h"

#define BUILTIN "builtin:"

const char *sf_builtin_file(const char *path)
{
    for (size_t i = 0; sf_builtin_files[i].path; i++)
        if (!strcmp(sf_builtin_files[i].path, path))
            return sf_builtin_files[i].text;
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* "a/./b/../c" -> "a/c", so that one module reached two ways is one. */
static char *normalize(const char *path)
{
    char *copy = sf_xstrdup(path);
    char **parts = sf_xcalloc(strlen(path) + 1, sizeof(char *));
    size_t n = 0;
    bool abs = path[0] == '/';
    for (char *save = NULL, *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (!strcmp(p, "."))
            continue;
        if (!strcmp(p, "..") && n > 0 && strcmp(parts[n - 1], "..") != 0) {
            n--;
            continue;
        }
        parts[n++] = p;
    }
    struct sf_buf b = {0};
    if (abs)
        sf_buf_puts(&b, "/");
    for (size_t i = 0; i < n; i++)
        sf_buf_printf(&b, "%s%s", i ? "/" : "", parts[i]);
    if (!b.len)
        sf_buf_puts(&b, ".");
    free(parts);
    free(copy);
    return sf_buf_take(&b);
}

static char *dir_of(const char *file)
{
    const char *slash = strrchr(file, '/');
    return slash ? sf_xstrndup(file, (size_t)(slash - file)) : sf_xstrdup(".");
}

static int open_builtin(const char *rel, const struct sf_pos *pos, struct sf_module **out,
                        struct sf_diags *d)
{
    char *path = ends_with(rel, ".yaml") ? normalize(rel) : sf_asprintf("%s/module.yaml", rel);
    char *norm = normalize(path);
    free(path);
    const char *text = sf_builtin_file(norm);
    if (!text) {
        sf_error(d, pos, "there is no built-in module \"%s\"; the built-in module is builtin:spark",
                 rel);
        free(norm);
        return -1;
    }
    struct sf_module *m = sf_xcalloc(1, sizeof(*m));
    m->key = sf_asprintf(BUILTIN "%s", norm);
    m->file = sf_xstrdup(m->key);
    char *dir = dir_of(norm);
    m->dir = sf_asprintf(BUILTIN "%s", dir);
    free(dir);
    free(norm);
    if (sf_yaml_parse(m->file, text, strlen(text), &m->doc, d) < 0) {
        sf_module_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int sf_module_open_path(const char *source, const char *path_in, const struct sf_pos *pos,
                        struct sf_module **out, struct sf_diags *d)
{
    char *path = normalize(path_in);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        char *file = sf_asprintf("%s/module.yaml", path);
        free(path);
        path = file;
    }
    struct sf_module *m = sf_xcalloc(1, sizeof(*m));
    m->key = sf_xstrdup(path);
    m->file = path;
    m->dir = dir_of(path);
    size_t len = 0;
    char *text = sf_read_file(path, &len);
    if (!text) {
        sf_error(d, pos, "module source \"%s\": cannot read %s: %s", source, path, strerror(errno));
        sf_module_free(m);
        return -1;
    }
    int rc = sf_yaml_parse(m->file, text, len, &m->doc, d);
    free(text);
    if (rc < 0) {
        sf_module_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

/* A git source, from the tree its locked commit extracted to. */
static int open_git(const char *source, const char *root_dir, const struct sf_pos *pos,
                    struct sf_module **out, struct sf_diags *d)
{
    char *path = sf_gitsrc_locked(source, root_dir, "module source", pos, d);
    if (!path)
        return -1;
    int rc = sf_module_open_path(source, path, pos, out, d);
    free(path);
    return rc;
}

int sf_module_open(const char *source, const char *from_dir, const char *root_dir,
                   const struct sf_pos *pos, struct sf_module **out, struct sf_diags *d)
{
    *out = NULL;
    if (!strncmp(source, BUILTIN, strlen(BUILTIN)))
        return open_builtin(source + strlen(BUILTIN), pos, out, d);
    if (!strncmp(source, "git::", 5))
        return open_git(source, root_dir, pos, out, d);
    bool relative = !strncmp(source, "./", 2) || !strncmp(source, "../", 3);
    if (!relative && source[0] != '/') {
        sf_error(d, pos,
                 "module source \"%s\" is not one sparkform reads; expected a path starting with ./ "
                 "or ../ (or /), git::URL//SUBDIR?ref=TAG, or builtin:spark",
                 source);
        return -1;
    }
    if (relative && !strncmp(from_dir, BUILTIN, strlen(BUILTIN))) {
        char *rel = sf_asprintf("%s/%s", from_dir + strlen(BUILTIN), source);
        int rc = open_builtin(rel, pos, out, d);
        free(rel);
        return rc;
    }
    char *joined = source[0] == '/' ? sf_xstrdup(source) : sf_asprintf("%s/%s", from_dir, source);
    int rc = sf_module_open_path(source, joined, pos, out, d);
    free(joined);
    return rc;
}

void sf_module_free(struct sf_module *m)
{
    if (!m)
        return;
    free(m->key);
    free(m->file);
    free(m->dir);
    sf_doc_free(m->doc);
    free(m);
}

/*
 * Where a module comes from: its `source:` in a `modules:` entry. A local
 * path (a directory holding module.yaml, or a .yaml file) relative to the
 * file that names it, or a built-in module compiled into sparkform
 * ("builtin:spark", the SparkService), or git (gitsrc.h) as `sparkform init`
 * fetched it. Each source is read once per run.
 */
#ifndef SF_SOURCE_H
#define SF_SOURCE_H

#include "diag.h"
#include "node.h"

struct sf_module {
    char *key;  /* what it was resolved to: "builtin:spark/module.yaml", "/abs/net/module.yaml" */
    char *file; /* what diagnostics name (the path as the user would write it) */
    char *dir;  /* relative sources and file() paths inside it start here */
    struct sf_doc *doc;
};

/* Resolve source as written in a file whose directory is from_dir, and
 * read and parse the module. A git source is read from the tree the lock
 * file of root_dir (the description's directory) names, in its cache.
 * Errors (a missing path, a source not in the lock) at pos. Returns 0 or
 * -1; *out is the caller's to free. */
int sf_module_open(const char *source, const char *from_dir, const char *root_dir,
                   const struct sf_pos *pos, struct sf_module **out, struct sf_diags *d);
/* A module on disk at path (a directory holding module.yaml, or a .yaml
 * file); source is what messages name. */
int sf_module_open_path(const char *source, const char *path, const struct sf_pos *pos,
                        struct sf_module **out, struct sf_diags *d);
void sf_module_free(struct sf_module *m);

struct sf_builtin {
    const char *path; /* "spark/module.yaml" */
    const char *text;
};
extern const struct sf_builtin sf_builtin_files[]; /* ends with path NULL */

/* The built-in files (generated from modules/NAME/ at build time):
 * the text of "spark/module.yaml", or NULL. */
const char *sf_builtin_file(const char *path);

#endif

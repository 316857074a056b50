/*
 * Module sources in git: `git::URL//SUBDIR?ref=REF` (URL https://,
 * ssh://, user@host:path or file://). `sparkform init` fetches each into
 * a cache beside the description (.sparkform/modules), resolves the ref
 * to a commit, extracts that commit's tree, and records the commit in the
 * lock file (sparkform.lock.json); every later run reads the tree the
 * lock names, offline. libgit2 does all of git.
 */
#ifndef SF_GITSRC_H
#define SF_GITSRC_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"

struct sf_gitsrc {
    char *url;    /* what git fetches */
    char *subdir; /* "" or a path inside the repository */
    char *ref;    /* a tag, branch or commit; "" = the default branch */
};

/* Parse a source starting with git::. Returns 0, or -1 with *why set (a
 * static text). */
int sf_gitsrc_parse(const char *source, struct sf_gitsrc *out, const char **why);
void sf_gitsrc_free(struct sf_gitsrc *g);

/* Fetch g into cache (a directory), resolve its ref and extract the
 * commit's tree. *commit: the commit id (hex, caller frees). Errors at pos. */
int sf_gitsrc_fetch(const char *cache, const struct sf_gitsrc *g, char **commit,
                    const struct sf_pos *pos, struct sf_diags *d);
/* Where the extracted tree of commit is (caller frees); it may not exist. */
char *sf_gitsrc_tree(const char *cache, const char *commit);
/* The module's path in that tree: the tree, or its g->subdir. Caller frees. */
char *sf_gitsrc_path(const char *cache, const struct sf_gitsrc *g, const char *commit);

/* Where the lock of root_dir (the description's directory) says source
 * is: the absolute path of its directory (or file) in the extracted tree
 * of the locked commit. A source the lock lacks, or holds at another ref,
 * or whose tree is not in the cache is an error at pos, naming the source
 * as what ("module source") and saying to run sparkform init. Caller
 * frees; NULL after errors. */
char *sf_gitsrc_locked(const char *source, const char *root_dir, const char *what,
                       const struct sf_pos *pos, struct sf_diags *d);

/* The lock file of a description's directory: {"modules": {SOURCE:
 * {"commit": ID}}}. A missing file is an empty lock; a broken one is an
 * error. New reference, or NULL. */
json_t *sf_lock_load(const char *dir, struct sf_diags *d);
int sf_lock_save(const char *dir, const json_t *lock, struct sf_diags *d);
/* The cache directory of a description's directory (caller frees). A
 * directory inside a tree the cache extracted (a description read from
 * git) belongs to that cache, so that its git modules share it. */
char *sf_gitsrc_cache(const char *dir);
/* Whether dir lies inside a tree a cache extracted. */
bool sf_gitsrc_in_tree(const char *dir);

/* url as messages, states and plans may show it: the userinfo of
 * scheme://user:password@host/... left out (credentials are never
 * printed). Caller frees. */
char *sf_gitsrc_display_url(const char *url);

#endif

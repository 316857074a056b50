/*
 * Descriptions read from git (gitdesc.h). The fetching and extracting is
 * gitsrc.c's, the same as for git modules; this file adds what a whole
 * description needs: the path of a file rather than a directory, the
 * module trees its committed lock names, and the record of where it came
 * from that plans and states keep.
 */
#include "gitdesc.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

bool sf_gitdesc_is(const char *arg)
{
    return arg && !strncmp(arg, "git::", 5);
}

int sf_gitdesc_parse(const char *arg, struct sf_gitsrc *src, struct sf_diags *d)
{
    const char *why = NULL;
    char *shown = sf_gitsrc_display_url(arg);
    int rc = -1;
    if (sf_gitsrc_parse(arg, src, &why) < 0)
        sf_error(d, NULL, "-f %s: %s", shown, why);
    else if (!*src->subdir || src->subdir[strlen(src->subdir) - 1] == '/')
        sf_error(d, NULL,
                 "-f %s: name the description file in the repository after \"//\" "
                 "(git::URL//envs/dev.yaml?ref=main)",
                 shown);
    else
        rc = 0;
    if (rc < 0 && !why)
        sf_gitsrc_free(src);
    free(shown);
    return rc;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The trees of the git modules the lock beside the description names,
 * fetched by commit when the cache lacks them, so that the run reads
 * exactly what the commit locked. Without a lock file there is nothing
 * to fetch; a description that calls a git module then fails where it
 * calls it, saying the lock is missing from the repository. */
static int fetch_locked(const char *cache, const char *file, struct sf_diags *d)
{
    char *copy = sf_xstrdup(file);
    char *dir = sf_xstrdup(dirname(copy));
    free(copy);
    json_t *lock = sf_lock_load(dir, d);
    free(dir);
    if (!lock)
        return -1;
    int rc = 0;
    const char *source;
    json_t *e;
    json_object_foreach(json_object_get(lock, "modules"), source, e)
    {
        const char *url = json_string_value(json_object_get(e, "url"));
        const char *commit = json_string_value(json_object_get(e, "commit"));
        if (!url || !commit)
            continue; /* sf_gitsrc_locked reports what is missing where it is used */
        char *tree = sf_gitsrc_tree(cache, commit);
        if (!is_dir(tree)) {
            struct sf_gitsrc m = {.url = (char *)url, .subdir = "", .ref = (char *)commit};
            char *got = NULL;
            if (sf_gitsrc_fetch(cache, &m, &got, NULL, d) < 0)
                rc = -1;
            free(got);
        }
        free(tree);
    }
    json_decref(lock);
    return rc;
}

/* out->src and out->commit are set: find the file and the module trees. */
static int finish(const char *cache, struct sf_gitdesc *out, struct sf_diags *d)
{
    out->file = sf_gitsrc_path(cache, &out->src, out->commit);
    struct stat st;
    if (stat(out->file, &st) != 0 || !S_ISREG(st.st_mode)) {
        sf_error(d, NULL, "git::%s: %s %s in commit %.12s%s%s%s", out->shown_url, out->src.subdir,
                 stat(out->file, &st) == 0 ? "is a directory, not a description file," : "does not exist",
                 out->commit, *out->src.ref ? " (ref " : "", out->src.ref, *out->src.ref ? ")" : "");
        return -1;
    }
    return fetch_locked(cache, out->file, d);
}

int sf_gitdesc_open(const char *arg, struct sf_gitdesc *out, struct sf_diags *d)
{
    memset(out, 0, sizeof(*out));
    if (sf_gitdesc_parse(arg, &out->src, d) < 0)
        return -1;
    out->shown_url = sf_gitsrc_display_url(out->src.url);
    char *cache = sf_gitsrc_cache(".");
    int rc = -1;
    if (sf_gitsrc_fetch(cache, &out->src, &out->commit, NULL, d) == 0)
        rc = finish(cache, out, d);
    free(cache);
    return rc;
}

int sf_gitdesc_open_recorded(const json_t *source, struct sf_gitdesc *out, struct sf_diags *d)
{
    memset(out, 0, sizeof(*out));
    const char *url = json_string_value(json_object_get(source, "url"));
    const char *path = json_string_value(json_object_get(source, "path"));
    const char *ref = json_string_value(json_object_get(source, "ref"));
    const char *commit = json_string_value(json_object_get(source, "commit"));
    if (!url || !path || !commit) {
        sf_error(d, NULL, "the saved plan's description source lacks its url, path or commit");
        return -1;
    }
    out->src = (struct sf_gitsrc){.url = sf_xstrdup(url), .subdir = sf_xstrdup(path),
                                  .ref = sf_xstrdup(ref ? ref : "")};
    out->shown_url = sf_gitsrc_display_url(url);
    char *cache = sf_gitsrc_cache(".");
    char *tree = sf_gitsrc_tree(cache, commit);
    int rc = -1;
    if (is_dir(tree)) {
        out->commit = sf_xstrdup(commit);
    } else {
        /* Fetched by its commit: the plan was made from it, whatever the
         * branch points at now. */
        struct sf_gitsrc at = {.url = out->src.url, .subdir = out->src.subdir, .ref = (char *)commit};
        if (sf_gitsrc_fetch(cache, &at, &out->commit, NULL, d) < 0)
            sf_diag_detail(d,
                           "The plan was made from commit %s. A URL's credentials are not kept in "
                           "a plan: fetch that commit first with sparkform init -f "
                           "'git::URL//%s?ref=%s' (the URL with its credentials).",
                           commit, path, commit);
    }
    if (out->commit)
        rc = finish(cache, out, d);
    free(tree);
    free(cache);
    return rc;
}

json_t *sf_gitdesc_record(const struct sf_gitdesc *g)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "url", g->shown_url, "path", g->src.subdir, "ref",
                     g->src.ref, "commit", g->commit);
}

char *sf_gitdesc_describe(const json_t *source)
{
    const char *url = json_string_value(json_object_get(source, "url"));
    const char *path = json_string_value(json_object_get(source, "path"));
    const char *ref = json_string_value(json_object_get(source, "ref"));
    const char *commit = json_string_value(json_object_get(source, "commit"));
    if (!url || !path || !commit)
        return NULL;
    if (ref && *ref)
        return sf_asprintf("%s//%s at commit %s (ref %s)", url, path, commit, ref);
    return sf_asprintf("%s//%s at commit %s (the default branch)", url, path, commit);
}

void sf_gitdesc_free(struct sf_gitdesc *g)
{
    sf_gitsrc_free(&g->src);
    free(g->shown_url);
    free(g->commit);
    free(g->file);
    memset(g, 0, sizeof(*g));
}

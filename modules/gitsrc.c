/*
 * Git module sources (gitsrc.h) through libgit2: one bare clone per
 * repository URL in the cache (fetched again by `sparkform init`), and one
 * extracted tree per commit, so that a run reads plain files and needs no
 * network once the lock file names its commits.
 */
#include "gitsrc.h"

#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitauth.h"
#include "sigv4.h"
#include "util.h"

#define LOCK_FILE "sparkform.lock.json"

int sf_gitsrc_parse(const char *source, struct sf_gitsrc *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(source, "git::", 5) != 0) {
        *why = "a git source starts with git::";
        return -1;
    }
    const char *s = source + 5;
    const char *q = strchr(s, '?');
    char *main = q ? sf_xstrndup(s, (size_t)(q - s)) : sf_xstrdup(s);
    out->ref = sf_xstrdup("");
    if (q) {
        if (strncmp(q + 1, "ref=", 4) != 0 || !q[5] || strchr(q + 5, '&')) {
            free(main);
            sf_gitsrc_free(out);
            *why = "the only query a git source takes is ?ref=TAG (or a branch or a commit)";
            return -1;
        }
        free(out->ref);
        out->ref = sf_xstrdup(q + 5);
    }
    /* The subdirectory follows a "//" inside the path: not the scheme's,
     * nor the slashes that open the path (ssh://host//srv/repo.git is the
     * absolute path /srv/repo.git, file:///srv/repo too). */
    const char *path = main;
    size_t scheme = strspn(main, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    if (scheme > 0 && !strncmp(main + scheme, "://", 3))
        path = main + scheme + 3 + strcspn(main + scheme + 3, "/");
    while (*path == '/')
        path++;
    const char *sub = strstr(path, "//");
    if (sub) {
        out->url = sf_xstrndup(main, (size_t)(sub - main));
        out->subdir = sf_xstrdup(sub + 2);
    } else {
        out->url = sf_xstrdup(main);
        out->subdir = sf_xstrdup("");
    }
    free(main);
    if (!*out->url || strstr(out->subdir, "..")) {
        *why = *out->url ? "a git source's subdirectory may not leave the repository" : "the URL is empty";
        sf_gitsrc_free(out);
        return -1;
    }
    return 0;
}

void sf_gitsrc_free(struct sf_gitsrc *g)
{
    free(g->url);
    free(g->subdir);
    free(g->ref);
    memset(g, 0, sizeof(*g));
}

#define CACHE_DIR "/.sparkform/modules"
#define TREES_IN_CACHE CACHE_DIR "/trees/"

char *sf_gitsrc_cache(const char *dir)
{
    /* Absolute: libgit2 makes a checkout's directories relative to it. */
    char *abs = realpath(dir, NULL);
    const char *where = abs ? abs : dir;
    const char *tree = strstr(where, TREES_IN_CACHE);
    char *cache = tree ? sf_asprintf("%.*s" CACHE_DIR, (int)(tree - where), where)
                       : sf_asprintf("%s" CACHE_DIR, where);
    free(abs);
    return cache;
}

bool sf_gitsrc_in_tree(const char *dir)
{
    char *abs = realpath(dir, NULL);
    bool in = strstr(abs ? abs : dir, TREES_IN_CACHE) != NULL;
    free(abs);
    return in;
}

/* Where the userinfo of scheme://USERINFO@host is in url: its offset and
 * length, or 0 when there is none. */
static size_t userinfo(const char *url, size_t *at)
{
    const char *scheme = strstr(url, "://");
    if (!scheme)
        return 0;
    const char *host = scheme + 3;
    size_t end = strcspn(host, "/?#");
    const char *sign = memrchr(host, '@', end);
    if (!sign)
        return 0;
    *at = (size_t)(host - url);
    return (size_t)(sign - host) + 1;
}

char *sf_gitsrc_display_url(const char *url)
{
    size_t at = 0, n = userinfo(url, &at);
    if (!n)
        return sf_xstrdup(url);
    return sf_asprintf("%.*s%s", (int)at, url, url + at + n);
}

char *sf_gitsrc_tree(const char *cache, const char *commit)
{
    return sf_asprintf("%s/trees/%s", cache, commit);
}

char *sf_gitsrc_path(const char *cache, const struct sf_gitsrc *g, const char *commit)
{
    char *tree = sf_gitsrc_tree(cache, commit);
    if (!*g->subdir)
        return tree;
    char *path = sf_asprintf("%s/%s", tree, g->subdir);
    free(tree);
    return path;
}

/* libgit2's message with every copy of the URL's credentials taken out:
 * some transports quote the URL they were given. Caller frees. */
static char *scrubbed(const char *msg, const char *url)
{
    size_t at = 0, n = userinfo(url, &at);
    struct sf_buf b = {0};
    char *secret = n > 1 ? sf_xstrndup(url + at, n - 1) : NULL;
    /* An ssh URL's user is a login name, which messages name ("failed as
     * git"); over https a lone user may be a token. */
    char *u = NULL, *h = NULL;
    int port;
    if (secret && !strchr(secret, ':') && sf_gitauth_ssh_endpoint(url, &u, &h, &port) == 0) {
        free(secret);
        secret = NULL;
    }
    free(u);
    free(h);
    for (const char *p = msg; *p;) {
        const char *hit = secret ? strstr(p, secret) : NULL;
        if (!hit) {
            sf_buf_puts(&b, p);
            break;
        }
        sf_buf_add(&b, p, (size_t)(hit - p));
        sf_buf_puts(&b, "(redacted)");
        p = hit + strlen(secret);
    }
    free(secret);
    return b.s ? sf_buf_take(&b) : sf_xstrdup("");
}

/* An error of libgit2's, or the refusal of a credentials or host-key
 * callback (auth; NULL when none ran), which says more. */
static int git_fail(struct sf_diags *d, const struct sf_pos *pos, const char *what, const char *url,
                    const struct sf_gitauth *auth)
{
    const git_error *e = git_error_last();
    char *shown = sf_gitsrc_display_url(url);
    const char *why = auth && auth->failure ? auth->failure : e && e->message ? e->message : "failed";
    char *msg = scrubbed(why, url);
    sf_error(d, pos, "git: %s %s: %s", what, shown, msg);
    if (auth && auth->failure && auth->hint)
        sf_diag_detail(d, "%s", auth->hint);
    free(msg);
    free(shown);
    return -1;
}

/* The commit a ref names in a bare clone: a tag, a branch (as fetched,
 * refs/heads/), or a commit id. */
static int resolve(git_repository *repo, const char *ref, git_oid *oid)
{
    const char *forms[] = {"refs/tags/%s", "refs/heads/%s", "%s", NULL};
    for (size_t i = 0; forms[i]; i++) {
        char *spec = *ref ? sf_asprintf(forms[i], ref) : sf_xstrdup("HEAD");
        git_object *obj = NULL;
        int rc = git_revparse_single(&obj, repo, spec);
        free(spec);
        if (rc == 0) {
            git_object *commit = NULL;
            rc = git_object_peel(&commit, obj, GIT_OBJECT_COMMIT);
            git_object_free(obj);
            if (rc == 0) {
                git_oid_cpy(oid, git_object_id(commit));
                git_object_free(commit);
                return 0;
            }
        }
        if (!*ref)
            break;
    }
    return -1;
}

int sf_gitsrc_fetch(const char *cache, const struct sf_gitsrc *g, char **commit,
                    const struct sf_pos *pos, struct sf_diags *d)
{
    *commit = NULL;
    git_libgit2_init();
    char key[65];
    sf_sigv4_sha256_hex(g->url, strlen(g->url), key);
    char *repo_dir = sf_asprintf("%s/repos/%s.git", cache, key);
    int rc = -1;
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    struct sf_gitauth auth;
    sf_gitauth_init(&auth, g->url);
    struct stat st;
    if (sf_mkdir_parents(repo_dir) < 0) {
        sf_error(d, pos, "cannot make the module cache %s: %s", cache, strerror(errno));
        goto out;
    }
    if (stat(repo_dir, &st) == 0) {
        if (git_repository_open_bare(&repo, repo_dir) < 0 || git_remote_lookup(&remote, repo, "origin") < 0) {
            git_fail(d, pos, "cannot open the cached clone of", g->url, NULL);
            goto out;
        }
        /* Tags and branches as the server has them now. */
        const char *refspecs[] = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
        git_strarray specs = {(char **)refspecs, 2};
        git_fetch_options fo;
        git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
        fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
        sf_gitauth_callbacks(&auth, &fo.callbacks);
        if (git_remote_fetch(remote, &specs, &fo, "sparkform init") < 0) {
            git_fail(d, pos, "cannot fetch", g->url, &auth);
            goto out;
        }
    } else {
        git_clone_options co;
        git_clone_options_init(&co, GIT_CLONE_OPTIONS_VERSION);
        co.bare = 1;
        sf_gitauth_callbacks(&auth, &co.fetch_opts.callbacks);
        if (git_clone(&repo, g->url, repo_dir, &co) < 0) {
            git_fail(d, pos, "cannot clone", g->url, &auth);
            goto out;
        }
    }
    git_oid oid;
    if (resolve(repo, g->ref, &oid) < 0) {
        char *shown = sf_gitsrc_display_url(g->url);
        sf_error(d, pos, "git: %s has no tag, branch or commit \"%s\"", shown, g->ref);
        free(shown);
        goto out;
    }
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), &oid);
    char *tree = sf_gitsrc_tree(cache, hex);
    if (stat(tree, &st) != 0) {
        /* Extracted to a temporary name, then renamed: a tree that exists
         * is whole. */
        char *tmp = sf_asprintf("%s.tmp%d", tree, (int)getpid());
        git_commit *c = NULL;
        git_checkout_options ck;
        git_checkout_options_init(&ck, GIT_CHECKOUT_OPTIONS_VERSION);
        ck.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_RECREATE_MISSING;
        ck.target_directory = tmp;
        sf_mkdir_parents(tmp);
        if (git_commit_lookup(&c, repo, &oid) < 0 || git_checkout_tree(repo, (git_object *)c, &ck) < 0 ||
            rename(tmp, tree) < 0) {
            git_fail(d, pos, "cannot extract the tree of", g->url, NULL);
            git_commit_free(c);
            free(tmp);
            free(tree);
            goto out;
        }
        git_commit_free(c);
        free(tmp);
    }
    free(tree);
    *commit = sf_xstrdup(hex);
    rc = 0;
out:
    sf_gitauth_free(&auth);
    git_remote_free(remote);
    git_repository_free(repo);
    free(repo_dir);
    /* Balanced with the init above: libgit2's global state (caches,
     * its regular expressions' buffers) goes with the last user. */
    git_libgit2_shutdown();
    return rc;
}

json_t *sf_lock_load(const char *dir, struct sf_diags *d)
{
    char *path = sf_asprintf("%s/" LOCK_FILE, dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        free(path);
        return json_pack("{s:{}}", "modules");
    }
    json_error_t err;
    json_t *lock = json_load_file(path, 0, &err);
    if (!lock || !json_is_object(json_object_get(lock, "modules"))) {
        struct sf_pos pos = {path, lock ? 1 : err.line, lock ? 1 : err.column};
        sf_error(d, &pos, "the lock file is not one sparkform wrote (%s); run sparkform init to write it again",
                 lock ? "no \"modules\" mapping" : err.text);
        json_decref(lock);
        free(path);
        return NULL;
    }
    free(path);
    return lock;
}

int sf_lock_save(const char *dir, const json_t *lock, struct sf_diags *d)
{
    char *path = sf_asprintf("%s/" LOCK_FILE, dir);
    char *text = json_dumps(lock, JSON_INDENT(2) | JSON_SORT_KEYS);
    size_t len = strlen(text);
    char *withnl = sf_asprintf("%s\n", text);
    int rc = sf_write_file_atomic(path, withnl, len + 1, 0644);
    if (rc < 0)
        sf_error(d, NULL, "cannot write %s: %s", path, strerror(errno));
    free(withnl);
    free(text);
    free(path);
    return rc;
}

char *sf_gitsrc_locked(const char *source, const char *root_dir, const char *what,
                       const struct sf_pos *pos, struct sf_diags *d)
{
    struct sf_gitsrc g;
    const char *why;
    /* Messages show the source without a URL's password or token. */
    char *shown = sf_gitsrc_display_url(source);
    if (sf_gitsrc_parse(source, &g, &why) < 0) {
        sf_error(d, pos, "%s \"%s\": %s", what, shown, why);
        free(shown);
        return NULL;
    }
    json_t *lock = sf_lock_load(root_dir, d);
    if (!lock) {
        sf_gitsrc_free(&g);
        free(shown);
        return NULL;
    }
    json_t *mods = json_object_get(lock, "modules");
    const char *commit = json_string_value(json_object_get(json_object_get(mods, source), "commit"));
    char *path = NULL;
    if (!commit) {
        const char *other = NULL, *k;
        json_t *e;
        json_object_foreach(mods, k, e) if (!strcmp(json_string_value(json_object_get(e, "url")) ?: "", g.url)) other = k;
        char *shown_other = other ? sf_gitsrc_display_url(other) : NULL;
        if (other)
            sf_error(d, pos,
                     "%s \"%s\" does not match the lock file, which has \"%s\" for that "
                     "repository; run sparkform init to fetch what the description asks for",
                     what, shown, shown_other);
        else if (sf_gitsrc_in_tree(root_dir))
            /* A description read from git takes its lock from the same
             * commit: nothing here may write one into the cache. */
            sf_error(d, pos,
                     "%s \"%s\" is not in the sparkform.lock.json committed beside the description "
                     "in its repository; run sparkform init in a checkout of that repository and "
                     "commit the lock file",
                     what, shown);
        else
            sf_error(d, pos, "%s \"%s\" is not in the lock file yet; run sparkform init", what, shown);
        free(shown_other);
    } else {
        char *cache = sf_gitsrc_cache(root_dir);
        char *tree = sf_gitsrc_tree(cache, commit);
        struct stat st;
        if (stat(tree, &st) != 0)
            sf_error(d, pos, "%s \"%s\": commit %.12s is not in the module cache (%s); run sparkform init",
                     what, shown, commit, cache);
        else
            path = sf_gitsrc_path(cache, &g, commit);
        free(tree);
        free(cache);
    }
    json_decref(lock);
    sf_gitsrc_free(&g);
    free(shown);
    return path;
}

/*
 * `sparkform init` (init.h). It reads the description and the module
 * files as YAML only, without expanding anything (variables may not have
 * values yet), following every `source:` it finds: git sources are
 * fetched and locked, local and built-in ones are read for the calls they
 * make in turn. The values a call gives to inputs declared `format:
 * git_source` (a SparkService's operator.crds) are git sources too, locked
 * the same way; they must be written literally, since nothing is
 * evaluated here. The lock file is written once, at the end, only if every
 * source was found.
 */
#include "init.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "gitsrc.h"
#include "loader.h"
#include "node.h"
#include "source.h"
#include "util.h"

struct walk {
    const char *root_dir;
    char *cache;
    json_t *lock;   /* what is written */
    json_t *seen;   /* module keys already walked */
    FILE *out;
    struct sf_diags *d;
};

static void walk_calls(struct walk *W, const struct sf_node *root, const char *from_dir);

/* A git source: fetched once per run of init and locked; the path of
 * its module in the extracted tree, or NULL after an error. what names it
 * in messages ("module source"). */
static char *fetch_git(struct walk *W, const struct sf_node *src, const char *what)
{
    const char *source = src->text;
    json_t *mods = json_object_get(W->lock, "modules");
    struct sf_gitsrc g;
    const char *why;
    if (sf_gitsrc_parse(source, &g, &why) < 0) {
        char *shown = sf_gitsrc_display_url(source);
        sf_error(W->d, &src->pos, "%s \"%s\": %s", what, shown, why);
        free(shown);
        return NULL;
    }
    if (!json_object_get(mods, source)) {
        /* The source as written may hold a URL's password or token. */
        char *shown = sf_gitsrc_display_url(source);
        fprintf(W->out, "Fetching %s ...\n", shown);
        fflush(W->out);
        char *commit = NULL;
        if (sf_gitsrc_fetch(W->cache, &g, &commit, &src->pos, W->d) == 0) {
            fprintf(W->out, "- %s at commit %.12s\n", shown, commit);
            json_object_set_new(mods, source,
                                json_pack("{s:s, s:s, s:s}", "commit", commit, "url", g.url, "ref", g.ref));
        }
        free(commit);
        free(shown);
    }
    const char *commit = json_string_value(json_object_get(json_object_get(mods, source), "commit"));
    char *path = commit ? sf_gitsrc_path(W->cache, &g, commit) : NULL;
    sf_gitsrc_free(&g);
    return path;
}

/* A value given to an input of schema, as written (node): a git_source
 * is fetched, and the fields, list items and map values of one are
 * followed. path names it in messages ("operator.crds"). */
static void walk_value(struct walk *W, const char *path, const struct sf_node *schema,
                       const struct sf_node *node)
{
    if (!node || !schema || schema->kind != SF_NODE_MAP || sf_ld_is_null(node))
        return;
    const struct sf_node *format = sf_node_get(schema, "format");
    if (format && format->kind == SF_NODE_SCALAR && !strcmp(format->text, "git_source") &&
        node->kind == SF_NODE_SCALAR) {
        if (strstr(node->text, "${")) {
            sf_error(W->d, &node->pos,
                     "%s: sparkform init fetches a git source only when it is written literally "
                     "(git::URL//PATH?ref=TAG), not as an expression",
                     path);
        } else {
            char *what = sf_asprintf("%s: git source", path);
            free(fetch_git(W, node, what));
            free(what);
        }
        return;
    }
    const struct sf_node *fields = sf_node_get(schema, "fields");
    const struct sf_node *items = sf_node_get(schema, "items");
    for (size_t i = 0; node->kind == SF_NODE_MAP && i < node->n; i++) {
        const char *k = node->keys[i]->text;
        const struct sf_node *sub = fields && fields->kind == SF_NODE_MAP ? sf_node_get(fields, k) : items;
        char *p = sf_asprintf("%s.%s", path, k);
        walk_value(W, p, sub, node->items[i]);
        free(p);
    }
    for (size_t i = 0; node->kind == SF_NODE_SEQ && i < node->n; i++) {
        char *p = sf_asprintf("%s[%zu]", path, i);
        walk_value(W, p, items, node->items[i]);
        free(p);
    }
}

/* The values a call (given: its inputs mapping) gives to module m. */
static void walk_inputs(struct walk *W, const struct sf_module *m, const struct sf_node *given)
{
    const struct sf_node *decls = m->doc->root && m->doc->root->kind == SF_NODE_MAP
                                      ? sf_node_get(m->doc->root, "inputs")
                                      : NULL;
    for (size_t i = 0; decls && decls->kind == SF_NODE_MAP && given && given->kind == SF_NODE_MAP && i < decls->n;
         i++)
        walk_value(W, decls->keys[i]->text, decls->items[i], sf_node_get(given, decls->keys[i]->text));
}

/* A module (once) for the calls it makes in turn. */
static void walk_module(struct walk *W, const struct sf_module *m)
{
    if (json_object_get(W->seen, m->key))
        return;
    json_object_set_new(W->seen, m->key, json_true());
    walk_calls(W, m->doc->root, m->dir);
}

static void walk_call(struct walk *W, const struct sf_node *call, const char *from_dir)
{
    const struct sf_node *src = sf_node_get(call, "source");
    if (!src || src->kind != SF_NODE_SCALAR)
        return;
    /* Read it as a run will. */
    struct sf_module *m = NULL;
    if (!strncmp(src->text, "git::", 5)) {
        char *path = fetch_git(W, src, "module source");
        if (path)
            sf_module_open_path(src->text, path, &src->pos, &m, W->d);
        free(path);
    } else {
        sf_module_open(src->text, from_dir, W->root_dir, &src->pos, &m, W->d);
    }
    if (!m)
        return;
    walk_inputs(W, m, sf_node_get(call, "inputs"));
    walk_module(W, m);
    sf_module_free(m);
}

static void walk_calls(struct walk *W, const struct sf_node *root, const char *from_dir)
{
    const struct sf_node *calls = root && root->kind == SF_NODE_MAP ? sf_node_get(root, "modules") : NULL;
    for (size_t i = 0; calls && calls->kind == SF_NODE_SEQ && i < calls->n; i++)
        if (calls->items[i]->kind == SF_NODE_MAP)
            walk_call(W, calls->items[i], from_dir);
}

int sf_modules_init(const char *description, FILE *out, struct sf_diags *d)
{
    size_t errors = sf_diags_errors(d);
    struct sf_doc *doc = NULL;
    if (sf_yaml_load(description, &doc, d) < 0)
        return -1;
    char *copy = sf_xstrdup(description);
    char *dir = sf_xstrdup(dirname(copy));
    free(copy);
    struct walk W = {.root_dir = dir, .cache = sf_gitsrc_cache(dir), .lock = json_pack("{s:{}}", "modules"),
                     .seen = json_object(), .out = out, .d = d};
    /* Fail early on a lock file that is not ours: it is rewritten below. */
    json_t *old = sf_lock_load(dir, d);
    const struct sf_node *kind = doc->root && doc->root->kind == SF_NODE_MAP ? sf_node_get(doc->root, "kind") : NULL;
    if (old) {
        if (kind && kind->kind == SF_NODE_SCALAR && !strcmp(kind->text, "SparkService")) {
            struct sf_module *m = NULL;
            struct sf_pos pos = doc->root->pos;
            /* The SparkService calls builtin:spark with its spec: as the inputs. */
            if (sf_module_open("builtin:spark", dir, dir, &pos, &m, d) == 0) {
                walk_inputs(&W, m, sf_node_get(doc->root, "spec"));
                walk_module(&W, m);
                sf_module_free(m);
            }
        }
        walk_calls(&W, doc->root, dir);
    }
    int rc = -1;
    if (old && sf_diags_errors(d) == errors) {
        size_t n = json_object_size(json_object_get(W.lock, "modules"));
        if (n == 0 && json_object_size(json_object_get(old, "modules")) == 0) {
            fprintf(out, "No git sources: nothing to fetch.\n");
            rc = 0;
        } else if (sf_lock_save(dir, W.lock, d) == 0) {
            fprintf(out, "Wrote %s/sparkform.lock.json (%zu git source%s). Commit it with the description.\n",
                    dir, n, n == 1 ? "" : "s");
            rc = 0;
        }
    }
    json_decref(old);
    json_decref(W.lock);
    json_decref(W.seen);
    free(W.cache);
    free(dir);
    sf_doc_free(doc);
    return rc;
}

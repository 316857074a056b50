/*
 * A description read from git: `-f git::URL//PATH/FILE.yaml?ref=REF`.
 * The run fetches REF through the module sources' machinery (gitsrc.h)
 * into the cache of the current directory (.sparkform/modules), extracts
 * the commit's tree, and the description is FILE in that tree, so that
 * its relative modules and files are the commit's too. Git modules the
 * description calls are the ones the sparkform.lock.json committed beside
 * it names; their trees are fetched when the cache lacks them.
 *
 * Where a description came from travels as {"url", "path", "ref",
 * "commit"} (the URL without credentials): a saved plan keeps it, so that
 * `apply PLANFILE` reads that commit and not the branch's head, and the
 * state records it at each apply or destroy, for `show`.
 */
#ifndef SF_GITDESC_H
#define SF_GITDESC_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"
#include "gitsrc.h"

struct sf_gitdesc {
    struct sf_gitsrc src; /* as given: url (credentials and all), subdir = PATH, ref */
    char *shown_url;      /* the URL without credentials */
    char *commit;         /* full hex id */
    char *file;           /* the description in the extracted tree (absolute) */
};

/* Whether a -f argument names a description in git. */
bool sf_gitdesc_is(const char *arg);

/* Parse arg (git::URL//PATH?ref=REF) into src: PATH must name a file.
 * Returns 0, or -1 with an error in d that shows the URL without
 * credentials. */
int sf_gitdesc_parse(const char *arg, struct sf_gitsrc *src, struct sf_diags *d);

/* Fetch arg's ref now (a branch is resolved at this moment), extract its
 * commit and the git module trees its lock names into the cache of the
 * current directory, and fill out. Errors name the URL without its
 * credentials. Returns 0 or -1; free out with sf_gitdesc_free either way. */
int sf_gitdesc_open(const char *arg, struct sf_gitdesc *out, struct sf_diags *d);

/* The same for a recorded source ({"url", "path", "ref", "commit"}, from
 * a saved plan): its commit, from the cache when it is there, else fetched
 * from the recorded URL. */
int sf_gitdesc_open_recorded(const json_t *source, struct sf_gitdesc *out, struct sf_diags *d);

/* {"url", "path", "ref", "commit"}, the URL without credentials. New
 * reference. */
json_t *sf_gitdesc_record(const struct sf_gitdesc *g);

/* "URL//PATH at commit C (ref R)" for a recorded source; caller frees.
 * NULL when source is not one. */
char *sf_gitdesc_describe(const json_t *source);

void sf_gitdesc_free(struct sf_gitdesc *g);

#endif

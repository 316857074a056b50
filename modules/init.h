/*
 * `sparkform init`: fetch every git module a description reaches (its
 * own calls, and the calls inside the modules they bring), record each
 * one's commit in the lock file, so that later runs read the same trees
 * offline.
 */
#ifndef SF_INIT_H
#define SF_INIT_H

#include <stdio.h>

#include "diag.h"

/* Progress lines go to out. Returns 0 or -1 (errors in d; the lock file
 * is then left as it was). */
int sf_modules_init(const char *description, FILE *out, struct sf_diags *d);

#endif

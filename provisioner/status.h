/*
 * `sparkform status`: how the applied service is doing now. It reads the
 * description (for its providers: blocks and variables) and the state,
 * asks every recorded resource whose type has a status hook (provider.h)
 * for a live look, in parallel, and prints them grouped the way a user
 * reads a service, or as JSON for scripts. It changes nothing, so it takes
 * no state lock.
 */
#ifndef SF_STATUS_H
#define SF_STATUS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

struct sf_status_opts {
    const char *config_path;
    const char *state_path;
    bool state_given;        /* -state: overrides an S3 state: block */
    const char *const *vars; /* "NAME=VALUE" */
    size_t n_vars;
    const char *const *var_files;
    size_t n_var_files;
    int parallelism;
    bool json;                   /* {"resources": [...]} instead of the table */
    volatile sig_atomic_t *stop; /* set on interrupt: no new look starts */
};

/* Looks at everything and prints the result to stdout. Returns 0 with
 * *healthy saying whether every resource is; -1 after errors in d (no
 * state, a provider that cannot be configured, a cloud that does not
 * answer), having printed what could be looked at. */
int sf_status_run(const struct sf_status_opts *o, bool *healthy, struct sf_diags *d);

#endif

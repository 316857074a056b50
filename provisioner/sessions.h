/*
 * The providers of one run and their sessions. A provider is configured
 * when the run first calls one of its types, never before and never when
 * nothing in the run uses it (a stack of local files needs no cloud
 * credentials), and only once however many worker threads call at the same
 * time. Its context (an authenticated session, endpoints, an HTTP client)
 * is what every call of its types reaches as sf_call.ctx; the contexts are
 * released when the run ends. The sessions also own the run's request
 * counters, which the HTTP clients of every provider add to.
 */
#ifndef SF_SESSIONS_H
#define SF_SESSIONS_H

#include "config.h"
#include "provider.h"

struct sf_sessions;

/* cfg supplies the providers: blocks (may be NULL: environment only); it
 * must outlive the sessions. */
struct sf_sessions *sf_sessions_new(const struct sf_config *cfg, const char *config_dir);

/* The context of the provider of type, configuring it first when this run
 * has not. Returns 0 with *ctx set (NULL for a provider without configure),
 * or -1: the first call that fails adds the configure step's errors to d,
 * later calls for the same provider fail without adding them again. */
int sf_sessions_ctx(struct sf_sessions *s, const char *type, void **ctx, struct sf_diags *d);

/* The run's request counters: requests sent and how many were retries. */
void sf_sessions_stats(struct sf_sessions *s, long *requests, long *retries);

/* Releases every context. */
void sf_sessions_free(struct sf_sessions *s);

#endif

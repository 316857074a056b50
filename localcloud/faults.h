/*
 * Injected faults for tests: rules per path prefix (latency, 5xx errors,
 * 429 throttling with Retry-After, dropped connections, and 5xx or drops
 * after the request was processed), drawn from a
 * seeded PRNG so that a run is repeatable. Set with POST /_localcloud/faults,
 * cleared with DELETE; the core asks lc_faults_decide() for every request
 * outside /_localcloud. Faults are not persisted: a restart clears them.
 *
 * The same endpoint also takes "failures": objects (servers, clusters, node
 * groups) picked by name whose next create or change ends in ERROR with a
 * given reason, as it can on the real cloud. The APIs ask
 * lc_faults_failure() when they start such a transition.
 */
#ifndef LC_FAULTS_H
#define LC_FAULTS_H

#include "server.h"

/* ERROR, THROTTLE and DROP happen before the request is processed (nothing
 * changed); ERROR_AFTER and DROP_AFTER after it was processed and persisted
 * (the change happened, the client cannot tell): an ambiguous failure. */
enum lc_fault_kind {
    LC_FAULT_NONE,
    LC_FAULT_ERROR,
    LC_FAULT_THROTTLE,
    LC_FAULT_DROP,
    LC_FAULT_ERROR_AFTER,
    LC_FAULT_DROP_AFTER,
};

struct lc_fault_decision {
    long latency_ms;
    enum lc_fault_kind kind;
    int status;       /* LC_FAULT_ERROR(_AFTER): the status to answer */
    long retry_after; /* LC_FAULT_THROTTLE: seconds for Retry-After */
};

struct lc_faults *lc_faults_new(void);
void lc_faults_free(struct lc_faults *f);
/* What to do to a request for path: the rule with the longest matching
 * prefix applies; one PRNG draw per request it applies to. Thread-safe. */
void lc_faults_decide(struct lc_faults *f, const char *path, struct lc_fault_decision *out);
/* The reason (a new string, the caller frees it) when a failure matches
 * an object of kind ("server", "cluster", "nodegroup") named name whose
 * transition `on` ("create", "update") starts now; NULL when none does.
 * Thread-safe. */
char *lc_faults_failure(struct lc_faults *f, const char *kind, const char *name, const char *on);
/* Registers /_localcloud/faults (GET, POST, DELETE). */
int lc_faults_register(struct lc_server *srv);

#endif

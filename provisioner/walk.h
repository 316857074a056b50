/*
 * The parallel walk of a graph (graph.h): apply and destroy run every
 * action as a node, refresh runs reads as nodes with no edges. A node starts
 * once all its predecessors succeeded; at most `parallelism` run at once on
 * worker threads. When a node fails, everything that depends on it is
 * skipped ("upstream failed") and independent branches go on.
 */
#ifndef SF_WALK_H
#define SF_WALK_H

#include <signal.h>

#include "graph.h"

enum sf_walk_status {
    SF_WALK_PENDING,   /* never reached: only after a stop */
    SF_WALK_OK,
    SF_WALK_FAILED,
    SF_WALK_SKIPPED,   /* an upstream node failed or was skipped */
};

struct sf_walk_opts {
    int parallelism; /* >= 1 */
    /* Run node id; return 0 on success, non-zero on failure. Called from
     * worker threads, several at once. */
    int (*visit)(void *ctx, int id);
    /* Optional: told (on the walking thread) that id was skipped because
     * cause failed or was skipped. */
    void (*skipped)(void *ctx, int id, int cause);
    void *ctx;
    /* Optional: when *stop becomes non-zero, no new node starts; running
     * ones finish. Those never started stay SF_WALK_PENDING. */
    volatile sig_atomic_t *stop;
};

/* Walk g. status (when not NULL) receives one entry per node. Returns 0
 * when every node succeeded, -1 otherwise. */
int sf_walk(const struct sf_graph *g, const struct sf_walk_opts *o, enum sf_walk_status *status);

#endif

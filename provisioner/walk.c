/*
 * The parallel walker (walk.h). Apply, destroy and refresh hand it a graph
 * whose nodes are actions; it runs each node's visit on a pool of worker
 * threads as soon as every predecessor succeeded, at most `parallelism`
 * at once, lowest id first among the ready ones so that runs are
 * reproducible.
 *
 * Workers do the scheduling themselves: a worker that finishes a node
 * releases its successors into the ready heap under the one mutex and
 * immediately takes the next node, so a dependent starts without a round
 * trip through another thread. The calling thread only sleeps until there
 * is something only it may do: mark the descendants of a failed node as
 * skipped (the skipped() callback is promised to run on the walking
 * thread), or notice that the walk is over.
 */
#include "walk.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct walk {
    const struct sf_graph *g;
    const struct sf_walk_opts *o;
    size_t n;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers: a node became ready, or quit */
    pthread_cond_t main_cv; /* walking thread: a failure, or maybe the end */

    enum sf_walk_status *status;
    size_t *waiting;  /* predecessors not yet OK, per node */
    int *heap;        /* ready nodes, a min-heap on id */
    size_t heap_n;
    int *failed;      /* failed nodes whose descendants are not yet skipped */
    size_t failed_n;
    size_t running;
    size_t settled;   /* nodes OK, FAILED or SKIPPED */
    size_t idle;      /* workers blocked on work_cv */
    size_t wakeups;   /* of those, already signalled and about to run */
    int quit;
};

static void heap_push(struct walk *w, int x)
{
    int *h = w->heap;
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= x)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static int heap_pop(struct walk *w)
{
    int *h = w->heap;
    int top = h[0];
    int x = h[--w->heap_n];
    size_t n = w->heap_n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1] < h[c])
            c++;
        if (h[c] >= x)
            break;
        h[i] = h[c];
        i = c;
    }
    if (n)
        h[i] = x;
    return top;
}

/* The flag may be set by a signal handler or by a visit on another
 * thread; an atomic load keeps the latter well defined. */
static int stopped(const struct walk *w)
{
    return w->o->stop && __atomic_load_n(w->o->stop, __ATOMIC_RELAXED);
}

/* Whether the walking thread has something to do; called with mu held. */
static int main_needed(const struct walk *w)
{
    return w->failed_n > 0 || w->settled == w->n ||
           (w->running == 0 && (w->heap_n == 0 || stopped(w)));
}

static void *worker(void *arg)
{
    struct walk *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->quit && (w->heap_n == 0 || stopped(w))) {
            /* a stop set from a signal handler cannot wake anybody; the
             * worker that first sees it makes sure the walker looks */
            if (main_needed(w))
                pthread_cond_signal(&w->main_cv);
            w->idle++;
            pthread_cond_wait(&w->work_cv, &w->mu);
            w->idle--;
            if (w->wakeups)
                w->wakeups--;
        }
        if (w->quit)
            break;
        int id = heap_pop(w);
        w->running++;
        pthread_mutex_unlock(&w->mu);

        int rc = w->o->visit(w->o->ctx, id);

        pthread_mutex_lock(&w->mu);
        w->running--;
        w->settled++;
        if (rc == 0) {
            w->status[id] = SF_WALK_OK;
            const int *succs;
            size_t ns = sf_graph_succs(w->g, id, &succs);
            size_t released = 0;
            for (size_t i = 0; i < ns; i++)
                if (--w->waiting[succs[i]] == 0) {
                    heap_push(w, succs[i]);
                    released++;
                }
            /* this worker takes one itself; wake idle ones for the rest,
             * not counting those a signal is already on its way to */
            for (size_t i = 1; i < released && w->wakeups < w->idle; i++) {
                w->wakeups++;
                pthread_cond_signal(&w->work_cv);
            }
        } else {
            w->status[id] = SF_WALK_FAILED;
            w->failed[w->failed_n++] = id;
        }
        if (main_needed(w))
            pthread_cond_signal(&w->main_cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct skip {
    int id, cause;
};

/*
 * Mark everything downstream of failed node f as skipped, each node once
 * with the first failed or skipped predecessor that reached it. Called with
 * mu held; none of these nodes can be ready or running, since each has f
 * as an ancestor. The callbacks are collected and run by the caller
 * without the lock.
 */
static size_t skip_from(struct walk *w, int f, struct skip **out, size_t *cap, int *stack)
{
    size_t sp = 0, k = 0;
    stack[sp++] = f;
    while (sp) {
        int u = stack[--sp];
        const int *succs;
        size_t ns = sf_graph_succs(w->g, u, &succs);
        for (size_t i = 0; i < ns; i++) {
            int v = succs[i];
            if (w->status[v] != SF_WALK_PENDING)
                continue;
            w->status[v] = SF_WALK_SKIPPED;
            w->settled++;
            if (k == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *out = sf_xrealloc(*out, *cap * sizeof **out);
            }
            (*out)[k].id = v;
            (*out)[k].cause = u;
            k++;
            stack[sp++] = v;
        }
    }
    return k;
}

int sf_walk(const struct sf_graph *g, const struct sf_walk_opts *o, enum sf_walk_status *status)
{
    size_t n = sf_graph_size(g);
    struct walk w = {.g = g, .o = o, .n = n};
    w.status = sf_xcalloc(n ? n : 1, sizeof *w.status);
    w.waiting = sf_xmalloc((n ? n : 1) * sizeof *w.waiting);
    w.heap = sf_xmalloc((n ? n : 1) * sizeof *w.heap);
    w.failed = sf_xmalloc((n ? n : 1) * sizeof *w.failed);
    int *stack = sf_xmalloc((n ? n : 1) * sizeof *stack);
    struct skip *skips = NULL;
    size_t skips_cap = 0;

    for (size_t i = 0; i < n; i++) {
        const int *preds;
        w.status[i] = SF_WALK_PENDING;
        w.waiting[i] = sf_graph_preds(g, (int)i, &preds);
        if (!w.waiting[i])
            heap_push(&w, (int)i);
    }

    size_t nthreads = o->parallelism >= 1 ? (size_t)o->parallelism : 1;
    if (nthreads > n)
        nthreads = n;
    pthread_t *threads = sf_xmalloc((nthreads ? nthreads : 1) * sizeof *threads);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.work_cv, NULL);
    pthread_cond_init(&w.main_cv, NULL);

    pthread_mutex_lock(&w.mu);
    size_t started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&threads[started], NULL, worker, &w) != 0)
            break;
    if (started == 0 && n > 0) {
        /* no thread at all: walk on this one rather than hang */
        pthread_mutex_unlock(&w.mu);
        while (w.heap_n && !stopped(&w)) {
            int id = heap_pop(&w);
            if (o->visit(o->ctx, id) == 0) {
                w.status[id] = SF_WALK_OK;
                const int *succs;
                size_t ns = sf_graph_succs(g, id, &succs);
                for (size_t i = 0; i < ns; i++)
                    if (--w.waiting[succs[i]] == 0)
                        heap_push(&w, succs[i]);
            } else {
                w.status[id] = SF_WALK_FAILED;
                size_t k = skip_from(&w, id, &skips, &skips_cap, stack);
                for (size_t i = 0; i < k && o->skipped; i++)
                    o->skipped(o->ctx, skips[i].id, skips[i].cause);
            }
        }
        pthread_mutex_lock(&w.mu);
    }
    for (;;) {
        while (w.failed_n) {
            int f = w.failed[--w.failed_n];
            size_t k = skip_from(&w, f, &skips, &skips_cap, stack);
            if (k && o->skipped) {
                pthread_mutex_unlock(&w.mu);
                for (size_t i = 0; i < k; i++)
                    o->skipped(o->ctx, skips[i].id, skips[i].cause);
                pthread_mutex_lock(&w.mu);
            }
        }
        if (w.settled == n || started == 0)
            break;
        /* nothing running and nothing can start: stopped, or the rest
         * waits on a cycle and would never become ready */
        if (w.running == 0 && (w.heap_n == 0 || stopped(&w)))
            break;
        pthread_cond_wait(&w.main_cv, &w.mu);
    }
    w.quit = 1;
    pthread_cond_broadcast(&w.work_cv);
    pthread_mutex_unlock(&w.mu);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);

    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (w.status[i] != SF_WALK_OK)
            rc = -1;
    if (status)
        memcpy(status, w.status, n * sizeof *status);

    pthread_cond_destroy(&w.main_cv);
    pthread_cond_destroy(&w.work_cv);
    pthread_mutex_destroy(&w.mu);
    free(threads);
    free(skips);
    free(stack);
    free(w.failed);
    free(w.heap);
    free(w.waiting);
    free(w.status);
    return rc;
}

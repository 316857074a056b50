/*
 * Output for runs (see ui.h). Worker threads print whole lines under one
 * mutex; a ticker thread reports operations that take long so that a
 * user (or a CI log) sees the run is alive.
 */
#include "ui.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static bool use_color;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

void sf_ui_init(bool no_color_flag)
{
    const char *nc = getenv("NO_COLOR");
    use_color = !no_color_flag && !(nc && *nc) && isatty(STDOUT_FILENO);
}

bool sf_ui_color(void)
{
    return use_color;
}

void sf_ui_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vasprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&out_mu);
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    free(s);
}

struct sf_ui_op {
    char *address;
    char *verb; /* lower case, e.g. "creating" */
    double start;
    int reported; /* intervals already reported */
    char *status; /* what the provider says it waits for, or NULL */
    struct sf_ui_op *next, *prev;
};

static pthread_mutex_t ops_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ops_cv = PTHREAD_COND_INITIALIZER;
static struct sf_ui_op *ops;
static pthread_t ticker;
static bool ticker_running, ticker_quit;
static int interval = 10;

static void *tick(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ops_mu);
    while (!ticker_quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ops_cv, &ops_mu, &ts);
        double now = sf_now();
        for (struct sf_ui_op *op = ops; op; op = op->next) {
            int due = (int)((now - op->start) / interval);
            if (due > op->reported) {
                op->reported = due;
                if (op->status)
                    sf_ui_line("%s: Still %s... [%ds elapsed] (%s)", op->address, op->verb,
                               due * interval, op->status);
                else
                    sf_ui_line("%s: Still %s... [%ds elapsed]", op->address, op->verb,
                               due * interval);
            }
        }
    }
    pthread_mutex_unlock(&ops_mu);
    return NULL;
}

void sf_ui_progress_start(int interval_s)
{
    const char *env = getenv("SPARKFORM_PROGRESS_INTERVAL");
    interval = env && atoi(env) > 0 ? atoi(env) : interval_s;
    ticker_quit = false;
    if (pthread_create(&ticker, NULL, tick, NULL) == 0)
        ticker_running = true;
}

void sf_ui_progress_stop(void)
{
    if (!ticker_running)
        return;
    pthread_mutex_lock(&ops_mu);
    ticker_quit = true;
    pthread_cond_signal(&ops_cv);
    pthread_mutex_unlock(&ops_mu);
    pthread_join(ticker, NULL);
    ticker_running = false;
}

struct sf_ui_op *sf_ui_op_begin(const char *address, const char *verb)
{
    struct sf_ui_op *op = sf_xcalloc(1, sizeof(*op));
    op->address = sf_xstrdup(address);
    op->verb = sf_xstrdup(verb);
    for (char *p = op->verb; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    op->start = sf_now();
    sf_ui_line("%s: %s...", address, verb);
    pthread_mutex_lock(&ops_mu);
    op->next = ops;
    if (ops)
        ops->prev = op;
    ops = op;
    pthread_mutex_unlock(&ops_mu);
    return op;
}

void sf_ui_op_status(struct sf_ui_op *op, const char *text)
{
    char *copy = text && *text ? sf_xstrdup(text) : NULL;
    pthread_mutex_lock(&ops_mu);
    free(op->status);
    op->status = copy;
    pthread_mutex_unlock(&ops_mu);
}

double sf_ui_op_end(struct sf_ui_op *op)
{
    pthread_mutex_lock(&ops_mu);
    if (op->prev)
        op->prev->next = op->next;
    else
        ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    pthread_mutex_unlock(&ops_mu);
    double elapsed = sf_now() - op->start;
    free(op->status);
    free(op->address);
    free(op->verb);
    free(op);
    return elapsed;
}

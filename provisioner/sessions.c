/*
 * Provider sessions of a run (see sessions.h): one slot per provider the
 * run touched, each configured under one lock so that the first of several
 * worker threads configures and the others wait for its result.
 */
#include "sessions.h"

#include <pthread.h>
#include <stdlib.h>

#include "util.h"

#define MAX_SLOTS 16 /* as many providers as the registry holds */

struct slot {
    const struct sf_provider *p;
    bool failed;
    bool busy; /* its configure is running (on the thread holding the lock) */
    void *ctx;
};

struct sf_sessions {
    const struct sf_config *cfg;
    const char *config_dir;
    pthread_mutex_t mu;
    struct slot slots[MAX_SLOTS];
    size_t n;
    struct sf_http_stats stats;
};

struct sf_sessions *sf_sessions_new(const struct sf_config *cfg, const char *config_dir)
{
    struct sf_sessions *s = sf_xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    s->config_dir = config_dir ? config_dir : ".";
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &a);
    pthread_mutexattr_destroy(&a);
    atomic_init(&s->stats.requests, 0);
    atomic_init(&s->stats.retries, 0);
    return s;
}

static int provider_ctx(struct sf_sessions *s, const struct sf_provider *p, void **ctx,
                        struct sf_diags *d);

static int peer(const struct sf_provider_setup *setup, const char *provider, void **ctx)
{
    *ctx = NULL;
    const struct sf_provider *p = sf_provider_find(provider);
    if (!p) {
        sf_error(setup->diags, setup->pos, "the %s provider needs the %s provider, which is not built in",
                 setup->provider, provider);
        return -1;
    }
    return provider_ctx(setup->engine, p, ctx, setup->diags);
}

static int configure(struct sf_sessions *s, struct slot *sl, struct sf_diags *d)
{
    const struct sf_provider *p = sl->p;
    json_t *sens = NULL, *settings;
    const struct sf_pos *pos = NULL;
    if (s->cfg) {
        settings = sf_config_provider_settings(s->cfg, p, &sens, &pos, d);
        if (!settings)
            return -1;
    } else {
        settings = json_object();
        sens = json_array();
    }
    struct sf_provider_setup setup = {
        .provider = p->name,
        .settings = settings,
        .sensitive = sens,
        .pos = pos,
        .config_dir = s->config_dir,
        .stats = &s->stats,
        .diags = d,
        .deadline = sf_now() + 300,
        .peer = peer,
        .engine = s,
    };
    int rc = p->configure(&setup, &sl->ctx);
    json_decref(settings);
    json_decref(sens);
    return rc;
}

int sf_sessions_ctx(struct sf_sessions *s, const char *type, void **ctx, struct sf_diags *d)
{
    *ctx = NULL;
    const struct sf_provider *p = sf_provider_of_type(type);
    return p ? provider_ctx(s, p, ctx, d) : 0;
}

/* The lock is recursive: a configure step may ask for a peer's context
 * (setup.peer) on the same thread. A provider that asks for itself, or two
 * that ask for each other, find their slot taken and not yet configured:
 * that is reported, never waited for. */
static int provider_ctx(struct sf_sessions *s, const struct sf_provider *p, void **ctx,
                        struct sf_diags *d)
{
    *ctx = NULL;
    if (!p->configure)
        return 0;
    pthread_mutex_lock(&s->mu);
    struct slot *sl = NULL;
    for (size_t i = 0; i < s->n && !sl; i++)
        if (s->slots[i].p == p)
            sl = &s->slots[i];
    int rc = 0;
    if (sl && sl->busy) {
        sf_error(d, NULL, "the %s provider's set-up needs itself (a cycle between providers)", p->name);
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    if (!sl) {
        if (s->n == MAX_SLOTS) {
            sf_error(d, NULL, "more than %d providers in one run", MAX_SLOTS);
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
        sl = &s->slots[s->n++];
        sl->p = p;
        size_t before = sf_diags_errors(d);
        sl->busy = true;
        if (configure(s, sl, d) < 0) {
            sl->failed = true;
            if (sf_diags_errors(d) == before)
                sf_error(d, NULL, "the %s provider could not be set up", p->name);
        }
        sl->busy = false;
    }
    if (sl->failed)
        rc = -1;
    else
        *ctx = sl->ctx;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void sf_sessions_stats(struct sf_sessions *s, long *requests, long *retries)
{
    *requests = atomic_load(&s->stats.requests);
    *retries = atomic_load(&s->stats.retries);
}

void sf_sessions_free(struct sf_sessions *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->slots[i].p->release && !s->slots[i].failed)
            s->slots[i].p->release(s->slots[i].ctx);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

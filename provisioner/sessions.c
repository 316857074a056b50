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
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->stats.requests, 0);
    atomic_init(&s->stats.retries, 0);
    return s;
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
    if (!p || !p->configure)
        return 0;
    pthread_mutex_lock(&s->mu);
    struct slot *sl = NULL;
    for (size_t i = 0; i < s->n && !sl; i++)
        if (s->slots[i].p == p)
            sl = &s->slots[i];
    int rc = 0;
    if (!sl) {
        sl = &s->slots[s->n++];
        sl->p = p;
        size_t before = sf_diags_errors(d);
        if (configure(s, sl, d) < 0) {
            sl->failed = true;
            if (sf_diags_errors(d) == before)
                sf_error(d, NULL, "the %s provider could not be set up", p->name);
        }
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

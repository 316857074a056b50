/*
 * Schedules (schedule.h): the description's schedules: block read and
 * checked, and the decision of what is due. Nothing here talks to a
 * provider or the state file; schedrun.c does, with these answers.
 */
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "loader.h"
#include "util.h"
#include "value.h"

static const char *const block_keys[] = {"hibernate", "wake",      "delete_after",
                                         "expires_at", "resources", NULL};
static const char *const window_keys[] = {"cron", "timezone", NULL};

void sf_schedule_free(struct sf_schedule *s)
{
    if (!s)
        return;
    sf_cron_free(s->hibernate);
    sf_cron_free(s->wake);
    free(s->hibernate_zone);
    free(s->wake_zone);
    free(s->delete_after_text);
    for (size_t i = 0; i < s->n_resources; i++)
        free(s->resources[i]);
    free(s->resources);
    free(s);
}

bool sf_schedule_owns(const struct sf_schedule *s, const char *address)
{
    for (size_t i = 0; s && i < s->n_resources; i++)
        if (strcmp(s->resources[i], address) == 0)
            return true;
    return false;
}

/* ---- reading the block ---- */

/* The node the description wrote for key inside map (a literal the user
 * can be pointed at), else map itself: an evaluated value has no line of
 * its own, the expression that made it does. */
static const struct sf_node *node_in(const struct sf_node *map, const char *key)
{
    const struct sf_node *n = map && map->kind == SF_NODE_MAP ? sf_node_get(map, key) : NULL;
    return n ? n : map;
}

/* Where an error about text inside node belongs: the text itself when the
 * node is the literal scalar holding it (so a cron error's column lands on
 * the bad field), else the node. */
static const struct sf_pos *text_at(const struct sf_node *n, const char *text)
{
    if (n && n->kind == SF_NODE_SCALAR && n->text && strcmp(n->text, text) == 0)
        return &n->text_pos;
    return n ? &n->pos : NULL;
}

static void unknown_keys(const json_t *obj, const struct sf_node *at, const char *where,
                         const char *const *allowed, struct sf_diags *d)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], k) == 0;
        if (ok)
            continue;
        const struct sf_node *kn = NULL;
        for (size_t i = 0; at && at->kind == SF_NODE_MAP && i < at->n; i++)
            if (strcmp(at->keys[i]->text, k) == 0)
                kn = at->keys[i];
        const char *dym = sf_did_you_mean(k, allowed);
        char *all = sf_ld_join_names(allowed, ", ");
        sf_error(d, kn ? &kn->pos : at ? &at->pos : NULL, "%s: unknown key \"%s\"%s%s%s (keys: %s)",
                 where, k, dym ? "; did you mean \"" : "", dym ? dym : "", dym ? "\"?" : "", all);
        free(all);
    }
}

/* Moves the complaints of mine to d, each saying which field of the block
 * it is about ("schedules.hibernate.cron: ..."). */
static void prefix_diags(struct sf_diags *mine, const char *where, const char *field,
                         struct sf_diags *d)
{
    for (size_t i = 0; i < mine->n; i++) {
        struct sf_diag *g = &mine->items[i];
        char *s = field ? sf_asprintf("%s.%s: %s", where, field, g->summary)
                        : sf_asprintf("%s: %s", where, g->summary);
        free(g->summary);
        g->summary = s;
    }
    sf_diags_move(d, mine);
}

/* hibernate: or wake: ({cron, timezone}). */
static int load_window(const char *name, const json_t *v, const struct sf_node *at,
                       struct sf_cron **cron, char **zone, struct sf_diags *d)
{
    char *where = sf_asprintf("schedules.%s", name);
    int rc = -1;
    if (!json_is_object(v)) {
        sf_error(d, at ? &at->pos : NULL,
                 "%s: expected {cron: \"0 20 * * 1-5\", timezone: Europe/Berlin}", where);
        goto out;
    }
    unknown_keys(v, at, where, window_keys, d);
    const json_t *cv = json_object_get(v, "cron"), *zv = json_object_get(v, "timezone");
    if (!json_is_string(cv)) {
        sf_error(d, at ? &at->pos : NULL, "%s.cron: expected a cron expression such as \"0 20 * * 1-5\"",
                 where);
        goto out;
    }
    if (zv && !json_is_null(zv) && !json_is_string(zv)) {
        sf_error(d, &node_in(at, "timezone")->pos,
                 "%s.timezone: expected a time zone name such as Europe/Berlin", where);
        goto out;
    }
    const char *ztext = json_is_string(zv) ? json_string_value(zv) : "UTC";
    const struct sf_node *cn = node_in(at, "cron"), *zn = node_in(at, "timezone");
    struct sf_diags mine;
    sf_diags_init(&mine);
    *cron = sf_cron_parse(json_string_value(cv), text_at(cn, json_string_value(cv)), &mine);
    prefix_diags(&mine, where, "cron", d);
    int zrc = sf_cron_zone_check(ztext, zn ? &zn->pos : NULL, &mine);
    prefix_diags(&mine, where, "timezone", d);
    sf_diags_free(&mine);
    if (*cron && zrc == 0) {
        *zone = sf_xstrdup(ztext);
        rc = 0;
    }
out:
    free(where);
    return rc;
}

static int load_resources(struct sf_schedule *s, const struct sf_config *c,
                          const struct sf_frame *f, const json_t *v, const struct sf_node *at,
                          struct sf_diags *d)
{
    if (!json_is_array(v)) {
        sf_error(d, at ? &at->pos : NULL,
                 "schedules.resources: expected a list of resource addresses (cloud_k8s_cluster.k8s)");
        return -1;
    }
    int rc = 0;
    size_t i;
    json_t *e;
    s->resources = sf_xcalloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, e)
    {
        const struct sf_node *en = at && at->kind == SF_NODE_SEQ && i < at->n ? at->items[i] : at;
        if (!json_is_string(e)) {
            sf_error(d, en ? &en->pos : NULL, "schedules.resources: expected an address, got %s",
                     json_is_null(e) ? "null" : "a value of another type");
            rc = -1;
            continue;
        }
        /* Resolved where the block is written, like depends_on. */
        char *addr = sf_asprintf("%s%s", f->prefix, json_string_value(e));
        const struct sf_resource_cfg *r = sf_config_find(c, addr);
        const struct sf_attr *power = NULL;
        for (const struct sf_attr *a = r && r->rt ? r->rt->attrs : NULL; a && a->name; a++)
            if (a->flags & SF_POWER)
                power = a;
        if (!r) {
            const char **names = sf_xcalloc(c->n_resources + 1, sizeof(char *));
            for (size_t k = 0; k < c->n_resources; k++)
                names[k] = c->resources[k].address;
            const char *dym = sf_did_you_mean(addr, names);
            sf_error(d, en ? &en->pos : NULL,
                     "schedules.resources: %s is not a resource of the description%s%s%s", addr,
                     dym ? "; did you mean " : "", dym ? dym : "", dym ? "?" : "");
            free(names);
            free(addr);
            rc = -1;
        } else if (!power || !r->rt->power_on || !r->rt->power_off) {
            sf_error(d, en ? &en->pos : NULL,
                     "schedules.resources: %s (%s) has no power state a schedule can turn off and "
                     "on (cloud_k8s_cluster and cloud_server have)",
                     addr, r->type);
            free(addr);
            rc = -1;
        } else {
            s->resources[s->n_resources++] = addr;
        }
    }
    return rc;
}

/* The checks of the evaluated block v (written at node n in frame f). */
static int load_block(struct sf_schedule *s, const struct sf_config *c, const struct sf_frame *f,
                      const json_t *v, const struct sf_node *n, struct sf_diags *d)
{
    size_t errors = sf_diags_errors(d);
    if (!json_is_object(v)) {
        sf_error(d, &n->pos,
                 "schedules: expected a mapping (hibernate, wake, delete_after or expires_at, "
                 "resources)");
        return -1;
    }
    unknown_keys(v, n, "schedules", block_keys, d);
    const json_t *h = json_object_get(v, "hibernate"), *w = json_object_get(v, "wake");
    bool has_h = h && !json_is_null(h), has_w = w && !json_is_null(w);
    if (has_h != has_w)
        sf_error(d, &node_in(n, has_h ? "hibernate" : "wake")->pos,
                 "schedules: %s needs a %s too: without one the service would never %s again",
                 has_h ? "hibernate" : "wake", has_h ? "wake" : "hibernate",
                 has_h ? "wake" : "sleep");
    if (has_h)
        load_window("hibernate", h, node_in(n, "hibernate"), &s->hibernate, &s->hibernate_zone, d);
    if (has_w)
        load_window("wake", w, node_in(n, "wake"), &s->wake, &s->wake_zone, d);

    const json_t *da = json_object_get(v, "delete_after"), *ea = json_object_get(v, "expires_at");
    bool has_da = da && !json_is_null(da), has_ea = ea && !json_is_null(ea);
    if (has_da && has_ea)
        sf_error(d, &node_in(n, "expires_at")->pos,
                 "schedules: delete_after and expires_at both say when the stack expires; give "
                 "one of them");
    if (has_da) {
        const struct sf_node *dn = node_in(n, "delete_after");
        long ms = json_is_string(da) ? sf_parse_duration_ms(json_string_value(da)) : -1;
        if (ms <= 0)
            sf_error(d, &dn->pos,
                     "schedules.delete_after: expected a duration such as 14d, 36h or 90m");
        else {
            s->delete_after = ms / 1000;
            s->delete_after_text = sf_xstrdup(json_string_value(da));
        }
    }
    if (has_ea) {
        const struct sf_node *en = node_in(n, "expires_at");
        if (!json_is_string(ea))
            sf_error(d, &en->pos, "schedules.expires_at: expected an RFC 3339 time such as "
                                  "2026-11-01T00:00:00+01:00");
        else {
            struct sf_diags mine;
            sf_diags_init(&mine);
            if (sf_cron_parse_time(json_string_value(ea), text_at(en, json_string_value(ea)),
                                   &s->expires_at, &mine) == 0)
                s->has_expires_at = true;
            prefix_diags(&mine, "schedules.expires_at", NULL, d);
            sf_diags_free(&mine);
        }
    }
    const json_t *res = json_object_get(v, "resources");
    if (res && !json_is_null(res))
        load_resources(s, c, f, res, node_in(n, "resources"), d);
    if (has_h && s->n_resources == 0 && sf_diags_errors(d) == errors)
        sf_error(d, &n->pos,
                 "schedules: hibernate and wake need resources: the resources whose power they "
                 "turn off and on (e.g. [cloud_k8s_cluster.k8s])");
    return sf_diags_errors(d) > errors ? -1 : 0;
}

static bool is_empty(const json_t *v)
{
    if (!v || json_is_null(v))
        return true;
    if (!json_is_object(v))
        return false;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) if (!json_is_null(m) && strcmp(k, "resources") != 0) return false;
    return true;
}

int sf_schedule_load(const struct sf_config *c, struct sf_schedule **out, struct sf_diags *d)
{
    *out = NULL;
    const struct sf_frame *where = NULL;
    const struct sf_node *block = NULL;
    for (size_t i = 0; i < c->n_frames; i++) {
        const struct sf_node *n = sf_frame_body(c, c->frames[i], "schedules");
        if (!n || sf_ld_is_null(n))
            continue;
        if (block) {
            sf_error(d, &n->pos,
                     "a second schedules: block (in %s); a stack has one schedule, the first is "
                     "at %s:%d:%d",
                     c->frames[i]->label ? c->frames[i]->label : "the description", block->pos.file,
                     block->pos.line, block->pos.col);
            return -1;
        }
        block = n;
        where = c->frames[i];
    }
    if (!block)
        return 0;
    struct sf_at at = {.c = c, .f = where, .each = where->each};
    size_t since = d->n;
    bool sens = false;
    json_t *v = sf_frame_eval(&at, block, &sens, d);
    int rc = 0;
    if (!v) {
        rc = -1;
    } else if (sf_value_has_unknown(v)) {
        sf_error(d, &block->pos,
                 "schedules: must be known before anything is applied: use inputs and variables, "
                 "not attributes of resources");
        rc = -1;
    } else if (!is_empty(v)) {
        struct sf_schedule *s = sf_xcalloc(1, sizeof(*s));
        s->pos = block->pos;
        if (load_block(s, c, where, v, block, d) < 0) {
            sf_schedule_free(s);
            rc = -1;
        } else {
            *out = s;
        }
    }
    if (where->mod)
        sf_at_note(d, since, where);
    json_decref(v);
    return rc;
}

/* ---- deciding ---- */

const char *sf_sched_kind_name(enum sf_sched_kind k)
{
    switch (k) {
    case SF_SCHED_HIBERNATE: return "hibernate";
    case SF_SCHED_WAKE: return "wake";
    case SF_SCHED_EXPIRE: return "expire";
    case SF_SCHED_NONE: break;
    }
    return "none";
}

int sf_schedule_decide(const struct sf_schedule *s, const struct sf_sched_record *rec, time_t now,
                       struct sf_sched_decision *out, struct sf_diags *d)
{
    *out = (struct sf_sched_decision){.action = SF_SCHED_NONE, .window = SF_SCHED_NONE};
    if (s->has_expires_at)
        out->expires = s->expires_at;
    else if (s->delete_after > 0 && rec->created > 0)
        out->expires = rec->created + (time_t)s->delete_after;
    if (s->hibernate && s->wake) {
        time_t ph, pw;
        if (sf_cron_prev(s->hibernate, s->hibernate_zone, now, &ph, d) < 0 ||
            sf_cron_prev(s->wake, s->wake_zone, now, &pw, d) < 0 ||
            sf_cron_next(s->hibernate, s->hibernate_zone, now, &out->next_hibernate, d) < 0 ||
            sf_cron_next(s->wake, s->wake_zone, now, &out->next_wake, d) < 0)
            return -1;
        /* Both firing at the same instant contradict each other; awake is
         * the side that loses no work. */
        out->window = ph > pw ? SF_SCHED_HIBERNATE : SF_SCHED_WAKE;
        out->window_since = ph > pw ? ph : pw;
    }
    if (out->expires && now >= out->expires) {
        out->action = SF_SCHED_EXPIRE;
        out->due = out->expires;
        return 0;
    }
    if (out->window != SF_SCHED_NONE &&
        (rec->last == SF_SCHED_NONE || rec->last_due < out->window_since)) {
        out->action = out->window;
        out->due = out->window_since;
    }
    return 0;
}

/* ---- the state's record ---- */

void sf_schedule_rfc3339(time_t t, char *buf, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 && size)
        buf[0] = '\0';
}

static time_t time_field(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    time_t t = 0;
    if (s) {
        struct sf_diags quiet;
        sf_diags_init(&quiet);
        if (sf_cron_parse_time(s, NULL, &t, &quiet) < 0)
            t = 0;
        sf_diags_free(&quiet);
    }
    return t;
}

void sf_sched_record_read(const json_t *j, struct sf_sched_record *out)
{
    *out = (struct sf_sched_record){.last = SF_SCHED_NONE};
    if (!json_is_object(j))
        return;
    out->created = time_field(j, "created");
    const json_t *last = json_object_get(j, "last");
    const char *kind = json_string_value(json_object_get(last, "kind"));
    if (kind && (!strcmp(kind, "hibernate") || !strcmp(kind, "wake"))) {
        out->last = !strcmp(kind, "hibernate") ? SF_SCHED_HIBERNATE : SF_SCHED_WAKE;
        out->last_due = time_field(last, "due");
        const char *by = json_string_value(json_object_get(last, "by"));
        out->by_hand = by && !strcmp(by, "hand");
    }
}

json_t *sf_sched_record_json(const struct sf_sched_record *rec)
{
    json_t *j = json_object();
    char buf[40];
    if (rec->created) {
        sf_schedule_rfc3339(rec->created, buf, sizeof(buf));
        json_object_set_new(j, "created", json_string(buf));
    }
    if (rec->last != SF_SCHED_NONE) {
        sf_schedule_rfc3339(rec->last_due, buf, sizeof(buf));
        json_object_set_new(j, "last", json_pack("{s:s, s:s, s:s}", "kind", sf_sched_kind_name(rec->last),
                                                 "due", buf, "by", rec->by_hand ? "hand" : "schedule"));
    }
    return j;
}

/* ---- showing ---- */

char *sf_schedule_when(time_t t, const char *zone)
{
    char local[64] = "", utc[16] = "";
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    bool in_zone = zone && strcmp(zone, "UTC") != 0 &&
                   sf_cron_local(t, zone, local, sizeof(local), &quiet) == 0;
    sf_diags_free(&quiet);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (!in_zone) {
        strftime(local, sizeof(local), "%Y-%m-%d %H:%M UTC", &tm);
        return sf_xstrdup(local);
    }
    strftime(utc, sizeof(utc), "%H:%M UTC", &tm);
    return sf_asprintf("%s (%s)", local, utc);
}

static json_t *window_summary(const struct sf_cron *c, const char *zone, time_t next)
{
    char buf[40];
    sf_schedule_rfc3339(next, buf, sizeof(buf));
    char *local = sf_schedule_when(next, zone);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "cron", sf_cron_text(c), "timezone", zone, "next",
                          buf, "next_local", local);
    free(local);
    return j;
}

json_t *sf_schedule_summary(const struct sf_schedule *s, const struct sf_sched_record *rec,
                            time_t now)
{
    json_t *j = json_object();
    struct sf_sched_decision dec;
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    if (sf_schedule_decide(s, rec, now, &dec, &quiet) == 0) {
        if (s->hibernate) {
            json_object_set_new(j, "hibernate", window_summary(s->hibernate, s->hibernate_zone,
                                                               dec.next_hibernate));
            json_object_set_new(j, "wake", window_summary(s->wake, s->wake_zone, dec.next_wake));
        }
        if (dec.expires) {
            char buf[40];
            sf_schedule_rfc3339(dec.expires, buf, sizeof(buf));
            char *local = sf_schedule_when(dec.expires, s->hibernate_zone ? s->hibernate_zone : "UTC");
            json_object_set_new(j, "expires_at", json_pack("{s:s, s:s}", "at", buf, "local", local));
            free(local);
        } else if (s->delete_after_text) {
            /* Counted from the first apply, which has not happened yet. */
            json_object_set_new(j, "delete_after", json_string(s->delete_after_text));
        }
    }
    sf_diags_free(&quiet);
    json_t *res = json_array();
    for (size_t i = 0; i < s->n_resources; i++)
        json_array_append_new(res, json_string(s->resources[i]));
    json_object_set_new(j, "resources", res);
    return j;
}

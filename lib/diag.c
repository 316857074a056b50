/*
 * Diagnostics list (see diag.h) and the "did you mean" helper the loader
 * and the command line use for misspelt names.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void sf_diags_init(struct sf_diags *d)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
}

void sf_diags_free(struct sf_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].summary);
        free(d->items[i].detail);
        free(d->items[i].file);
        free(d->items[i].address);
        free(d->items[i].attr);
    }
    free(d->items);
    pthread_mutex_destroy(&d->mu);
    memset(d, 0, sizeof(*d));
}

static void add(struct sf_diags *d, enum sf_severity sev, enum sf_diag_class cls,
                const struct sf_pos *pos, const char *address, const char *attr, char *msg)
{
    pthread_mutex_lock(&d->mu);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->items = sf_xrealloc(d->items, d->cap * sizeof(*d->items));
    }
    struct sf_diag *g = &d->items[d->n++];
    memset(g, 0, sizeof(*g));
    g->severity = sev;
    g->summary = msg;
    if (pos && pos->file) {
        g->file = sf_xstrdup(pos->file);
        g->line = pos->line;
        g->col = pos->col;
    }
    g->address = address ? sf_xstrdup(address) : NULL;
    g->attr = attr ? sf_xstrdup(attr) : NULL;
    g->cls = cls;
    pthread_mutex_unlock(&d->mu);
}

void sf_diag_add(struct sf_diags *d, enum sf_severity sev, const struct sf_pos *pos,
                 const char *address, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    add(d, sev, SF_CLASS_NONE, pos, address, NULL, msg);
}

void sf_diag_add_class(struct sf_diags *d, enum sf_diag_class cls, const struct sf_pos *pos,
                       const char *address, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    add(d, SF_SEV_ERROR, cls, pos, address, NULL, msg);
}

void sf_diag_add_attr(struct sf_diags *d, enum sf_diag_class cls, const char *address,
                      const char *attr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    add(d, SF_SEV_ERROR, cls, NULL, address, attr, msg);
}

enum sf_diag_class sf_diags_last_class(const struct sf_diags *d)
{
    enum sf_diag_class cls = SF_CLASS_NONE;
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    for (size_t i = d->n; i > 0; i--)
        if (d->items[i - 1].severity == SF_SEV_ERROR) {
            cls = d->items[i - 1].cls;
            break;
        }
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    return cls;
}

void sf_diag_detail(struct sf_diags *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vasprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&d->mu);
    if (d->n == 0) {
        free(msg);
    } else {
        free(d->items[d->n - 1].detail);
        d->items[d->n - 1].detail = msg;
    }
    pthread_mutex_unlock(&d->mu);
}

size_t sf_diags_errors(const struct sf_diags *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += d->items[i].severity == SF_SEV_ERROR;
    return n;
}

void sf_diags_place(struct sf_diags *d, const struct sf_pos *pos)
{
    if (!pos || !pos->file)
        return;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i].file)
            continue;
        d->items[i].file = sf_xstrdup(pos->file);
        d->items[i].line = pos->line;
        d->items[i].col = pos->col;
    }
    pthread_mutex_unlock(&d->mu);
}

void sf_diags_move(struct sf_diags *dst, struct sf_diags *src)
{
    if (dst == src)
        return;
    pthread_mutex_lock(&src->mu);
    pthread_mutex_lock(&dst->mu);
    for (size_t i = 0; i < src->n; i++) {
        if (dst->n == dst->cap) {
            dst->cap = dst->cap ? dst->cap * 2 : 8;
            dst->items = sf_xrealloc(dst->items, dst->cap * sizeof(*dst->items));
        }
        dst->items[dst->n++] = src->items[i];
    }
    src->n = 0;
    pthread_mutex_unlock(&dst->mu);
    pthread_mutex_unlock(&src->mu);
}

void sf_diags_print(FILE *out, const struct sf_diags *d, bool color)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct sf_diag *g = &d->items[i];
        const char *word = g->severity == SF_SEV_ERROR ? "error" : "warning";
        const char *on = "", *off = "";
        if (color) {
            on = g->severity == SF_SEV_ERROR ? "\033[1;31m" : "\033[1;33m";
            off = "\033[0m";
        }
        if (g->file) {
            if (g->line > 0)
                fprintf(out, "%s:%d:%d: ", g->file, g->line, g->col);
            else
                fprintf(out, "%s: ", g->file);
        }
        fprintf(out, "%s%s:%s ", on, word, off);
        /* The resource it is about, unless the message starts with it. */
        if (g->address && strncmp(g->summary, g->address, strlen(g->address)) != 0)
            fprintf(out, "%s: ", g->address);
        fprintf(out, "%s\n", g->summary);
        if (g->detail) {
            const char *p = g->detail;
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                fprintf(out, "  %.*s\n", (int)len, p);
                p += len + (nl ? 1 : 0);
            }
        }
    }
}

size_t sf_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = sf_xmalloc((lb + 1) * sizeof(*row));
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t r = row[lb];
    free(row);
    return r;
}

const char *sf_did_you_mean(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t len = strlen(word);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    for (size_t i = 0; candidates && candidates[i]; i++) {
        size_t dist = sf_edit_distance(word, candidates[i]);
        if (dist < best_d) {
            best_d = dist;
            best = candidates[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

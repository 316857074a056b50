/*
 * The one shape every type's status hook answers in (provider.h): state,
 * healthy and a one-line summary, to which the type adds its own fields.
 * `sparkform status` (provisioner/status.c) prints and groups these.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "provider.h"
#include "util.h"

json_t *sf_status_new(const char *state, bool healthy, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *summary = sf_vasprintf(fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s, s:b, s:s}", "state", state, "healthy", healthy, "summary", summary);
    free(summary);
    return o;
}

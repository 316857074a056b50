/*
 * What every provider's configure step reads from its sf_provider_setup:
 * a setting as a string, and a setting that names a file (a CA bundle),
 * which like every relative path in a description starts at the
 * description's directory.
 */
#include "provider.h"

#include "util.h"

char *sf_setup_string(const struct sf_provider_setup *s, const char *name)
{
    const char *v = json_string_value(json_object_get(s->settings, name));
    return v && *v ? sf_xstrdup(v) : NULL;
}

char *sf_setup_path(const struct sf_provider_setup *s, const char *name)
{
    char *v = sf_setup_string(s, name);
    if (!v || v[0] == '/' || !s->config_dir || !*s->config_dir)
        return v;
    char *p = sf_asprintf("%s/%s", s->config_dir, v);
    free(v);
    return p;
}

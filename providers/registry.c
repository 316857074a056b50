/*
 * The registry of providers and their resource types: the built-in
 * providers (the one list below is where a new provider is added) plus any
 * registered at start-up (the test provider in tests/testprov). The engine
 * looks types up by name when it loads a description, and a type's
 * provider up when it configures providers for a run.
 */
#include "provider.h"

#include <string.h>

#define MAX_PROVIDERS 16
#define MAX_TYPES 256

/* The built-in providers: adding one is adding it here. */
extern const struct sf_provider sf_provider_local, sf_provider_cloud, sf_provider_s3,
    sf_provider_ssh, sf_provider_kubernetes;
static const struct sf_provider *providers[MAX_PROVIDERS] = {
    &sf_provider_local, &sf_provider_cloud, &sf_provider_s3, &sf_provider_ssh,
    &sf_provider_kubernetes};
static size_t nproviders;

/* How many providers the list holds (the built-in ones until the first
 * registration). */
static size_t count(void)
{
    while (nproviders < MAX_PROVIDERS && providers[nproviders])
        nproviders++;
    return nproviders;
}
static const char *names[MAX_TYPES + 1];
static const char *pnames[MAX_PROVIDERS + 1];

int sf_provider_register(const struct sf_provider *p)
{
    if (count() == MAX_PROVIDERS)
        return -1;
    for (size_t i = 0; p->types[i]; i++)
        if (sf_provider_find_type(p->types[i]->name))
            return -1;
    providers[nproviders++] = p;
    return 0;
}

const struct sf_resource_type *sf_provider_find_type(const char *name)
{
    const struct sf_provider *p = sf_provider_of_type(name);
    for (size_t j = 0; p && p->types[j]; j++)
        if (strcmp(p->types[j]->name, name) == 0)
            return p->types[j];
    return NULL;
}

const struct sf_provider *sf_provider_of_type(const char *type)
{
    for (size_t i = 0; i < count(); i++)
        for (size_t j = 0; providers[i]->types[j]; j++)
            if (strcmp(providers[i]->types[j]->name, type) == 0)
                return providers[i];
    return NULL;
}

const struct sf_provider *sf_provider_find(const char *name)
{
    for (size_t i = 0; i < count(); i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

const char *const *sf_provider_names(void)
{
    for (size_t i = 0; i < count(); i++)
        pnames[i] = providers[i]->name;
    pnames[nproviders] = NULL;
    return pnames;
}

const struct sf_provider_key *sf_provider_key(const struct sf_provider *p, const char *name)
{
    for (const struct sf_provider_key *k = p->keys; k && k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

const char *const *sf_provider_type_names(void)
{
    size_t n = 0;
    for (size_t i = 0; i < count(); i++)
        for (size_t j = 0; providers[i]->types[j] && n < MAX_TYPES; j++)
            names[n++] = providers[i]->types[j]->name;
    names[n] = NULL;
    return names;
}

const struct sf_attr *sf_schema_attr(const struct sf_resource_type *rt, const char *name)
{
    for (const struct sf_attr *a = rt->attrs; a && a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

const char *sf_type_name(enum sf_type t)
{
    switch (t) {
    case SF_STRING: return "string";
    case SF_NUMBER: return "number";
    case SF_BOOL: return "bool";
    case SF_LIST: return "list";
    case SF_MAP: return "map";
    case SF_OBJECT: return "object";
    }
    return "?";
}

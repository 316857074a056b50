/*
 * YAML out (yamlout.c): JSON values written as YAML documents.
 */
#ifndef SF_YAMLOUT_H
#define SF_YAMLOUT_H

#include <jansson.h>

/* v as one YAML document ("---" ... "..."), strings always double-quoted
 * so that "0.1" or "true" stay strings. A new string, or NULL when libyaml
 * refuses (the partial text is wiped: v may hold secrets). */
char *sf_yaml_dump(const json_t *v);

#endif

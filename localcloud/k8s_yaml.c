/*
 * YAML request bodies of localcloud's Kubernetes API (server-side apply is
 * "application/apply-patch+yaml"): one document, read with libyaml's
 * document loader and turned into JSON. Plain scalars are resolved the way
 * Kubernetes' YAML reader does (null, true / false, integers, floats), quoted
 * ones stay strings. Anchors and aliases are followed by libyaml.
 */
#include "k8s.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static json_t *plain_scalar(const char *s)
{
    if (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (!*end && !errno && (s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
        return json_integer(i);
    double d = strtod(s, &end);
    if (!*end && !errno && isfinite(d) && strspn(s, "+-0123456789.eE") == strlen(s))
        return json_real(d);
    return json_string(s);
}

static json_t *convert(yaml_document_t *doc, yaml_node_t *n, int depth, char *err, size_t errlen)
{
    if (!n || depth > 100) {
        snprintf(err, errlen, "the document is nested too deeply");
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *v = (const char *)n->data.scalar.value;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return plain_scalar(v);
        json_t *j = json_stringn(v, n->data.scalar.length);
        if (!j)
            snprintf(err, errlen, "line %zu column %zu: a string that is not valid UTF-8",
                     n->start_mark.line + 1, n->start_mark.column + 1);
        return j;
    }
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            json_t *v = convert(doc, yaml_document_get_node(doc, *it), depth + 1, err, errlen);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                snprintf(err, errlen, "line %zu column %zu: expected a string key",
                         k ? k->start_mark.line + 1 : 0, k ? k->start_mark.column + 1 : 0);
                json_decref(o);
                return NULL;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (json_object_get(o, key)) {
                snprintf(err, errlen, "line %zu column %zu: key \"%s\" already set in map",
                         k->start_mark.line + 1, k->start_mark.column + 1, key);
                json_decref(o);
                return NULL;
            }
            json_t *v = convert(doc, yaml_document_get_node(doc, p->value), depth + 1, err, errlen);
            if (!v) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, key, v);
        }
        return o;
    }
    default:
        snprintf(err, errlen, "an empty document");
        return NULL;
    }
}

json_t *lc_k8s_yaml_parse(const char *text, size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    json_t *out = NULL;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "line %zu column %zu: %s", parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid YAML");
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root)
            snprintf(err, errlen, "an empty document");
        else
            out = convert(&doc, root, 0, err, errlen);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return out;
}

/*
 * The YAML document tree. libyaml parses a description into these nodes;
 * every node keeps the file:line:col it came from so that any later error
 * (a wrong type, an unknown reference found at plan time) can point at it.
 */
#ifndef SF_NODE_H
#define SF_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

enum sf_node_kind { SF_NODE_SCALAR, SF_NODE_MAP, SF_NODE_SEQ };

struct sf_node {
    enum sf_node_kind kind;
    struct sf_pos pos;       /* where the node starts (a quoted scalar: its quote) */
    struct sf_pos text_pos;  /* scalars: where the text itself starts (after a quote) */
    char *text;              /* scalars: the text, NUL-terminated */
    bool quoted;             /* scalars: quoted or block style, so always a string */
    size_t n;                /* map entries or sequence items */
    struct sf_node **keys;   /* maps: the key scalars */
    struct sf_node **items;  /* maps: the values; sequences: the items */
};

struct sf_doc {
    char *file;   /* the path as the user gave it (diagnostics print this) */
    char *source; /* the whole text */
    struct sf_node *root; /* NULL for an empty document */
    struct sf_node **roots; /* sf_yaml_load_stream: every non-empty document */
    size_t n_roots;
    struct sf_arena *arena; /* private to node.c: the nodes are allocated here */
};

/* Parse YAML text (one document). file names it in diagnostics. Errors
 * (syntax, duplicate keys, more than one document) go to d with their
 * position. Returns 0 or -1; *out is the caller's to sf_doc_free. */
int sf_yaml_parse(const char *file, const char *text, size_t len, struct sf_doc **out,
                  struct sf_diags *d);
/* Read path and parse it; a missing or unreadable file is an error in d. */
int sf_yaml_load(const char *path, struct sf_doc **out, struct sf_diags *d);
/* The same for a stream of documents ("---" between them, as kubectl
 * reads manifests): each non-empty one in (*out)->roots, root the first. */
int sf_yaml_load_stream(const char *path, struct sf_doc **out, struct sf_diags *d);
void sf_doc_free(struct sf_doc *doc);

/* The value of key in a map node, or NULL. */
const struct sf_node *sf_node_get(const struct sf_node *map, const char *key);
/* Plain YAML-to-JSON conversion (no ${} evaluation): a plain scalar is
 * null, bool, integer or real when it reads as one (YAML 1.2 core schema),
 * a string otherwise; quoted scalars are strings. New reference. */
json_t *sf_node_to_json(const struct sf_node *n);
/* For messages: "a string", "a number", "a boolean", "null", "a mapping", "a list". */
const char *sf_node_describe(const struct sf_node *n);

#endif

/*
 * YAML to sf_node trees (see node.h). The loader (config.c), var files and
 * modules all read YAML through here, so that every value keeps the
 * file:line:col it came from and every later error can point at it.
 * libyaml's event API drives a small recursive builder; syntax errors are
 * turned into one readable line at libyaml's problem mark.
 */
#include "node.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

/* Nesting deeper than this is certainly not a description, and recursion
 * must stay bounded. */
#define MAX_DEPTH 256
/* Aliases are expanded by copying; this caps the "billion laughs". */
#define MAX_NODES 2000000

struct anchor {
    char *name;
    struct sf_node *node;
};

struct builder {
    yaml_parser_t p;
    struct sf_doc *doc;
    struct sf_diags *d;
    struct anchor *anchors;
    size_t n_anchors, cap_anchors;
    size_t nodes;
    int depth;
};

/* Nodes, their texts and child arrays live in a few large chunks owned by
 * the doc: a description with thousands of resources has hundreds of
 * thousands of nodes, and one malloc/free each was most of the load time. */
struct sf_arena {
    struct sf_arena *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

static void *arena_alloc(struct sf_doc *doc, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct sf_arena *a = doc->arena;
    if (!a || a->cap - a->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        a = sf_xmalloc(sizeof(*a) + cap);
        a->used = 0;
        a->cap = cap;
        a->next = doc->arena;
        doc->arena = a;
    }
    void *p = a->data + a->used;
    a->used += size;
    return p;
}

static char *arena_strndup(struct sf_doc *doc, const char *s, size_t n)
{
    char *p = arena_alloc(doc, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static struct sf_pos mark_pos(const struct builder *b, yaml_mark_t m)
{
    struct sf_pos p = {b->doc->file, (int)m.line + 1, (int)m.column + 1};
    return p;
}

/* The byte at line/col (1-based, col counted in characters), or NULL. */
static const char *source_at(const char *src, int line, int col)
{
    const char *s = src;
    for (int l = 1; l < line; l++) {
        s = strchr(s, '\n');
        if (!s)
            return NULL;
        s++;
    }
    for (int c = 1; c < col && *s && *s != '\n'; s++)
        if (((unsigned char)s[1] & 0xC0) != 0x80)
            c++;
    return s;
}

static void syntax_error(struct builder *b)
{
    yaml_parser_t *p = &b->p;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    const char *context = p->context;

    if (p->error == YAML_READER_ERROR) {
        /* Reader errors only know a byte offset. */
        struct sf_pos pos = {b->doc->file, 1, 1};
        for (size_t i = 0; i < p->problem_offset && b->doc->source[i]; i++) {
            if (b->doc->source[i] == '\n') {
                pos.line++;
                pos.col = 1;
            } else if (((unsigned char)b->doc->source[i] & 0xC0) != 0x80) {
                pos.col++;
            }
        }
        sf_error(b->d, &pos, "the file is not valid UTF-8 text (%s)", problem);
        return;
    }

    struct sf_pos pos = mark_pos(b, p->problem_mark);
    struct sf_pos ctx = mark_pos(b, p->context_mark);
    const char *at = source_at(b->doc->source, pos.line, pos.col);

    if (at && *at == '\t' && strstr(problem, "cannot start any token")) {
        sf_error(b->d, &pos, "a tab character cannot be used for indentation in YAML; indent with spaces");
    } else if (context && strstr(context, "quoted scalar") && strstr(problem, "end of stream")) {
        sf_error(b->d, &pos,
                 "unclosed quote: the quoted string that starts at line %d, column %d never ends",
                 ctx.line, ctx.col);
    } else if (strstr(problem, "mapping values are not allowed")) {
        sf_error(b->d, &pos,
                 "invalid YAML: a \"key: value\" is not allowed here; check the indentation of "
                 "this line, or quote a value that contains \": \"");
    } else if (strstr(problem, "could not find expected ':'")) {
        sf_error(b->d, &pos,
                 "invalid YAML: could not find the ':' after the key that starts at line %d, "
                 "column %d",
                 ctx.line, ctx.col);
    } else if (strstr(problem, "did not find expected <document start>")) {
        sf_error(b->d, &pos,
                 "invalid YAML: unexpected text after the top-level value; check the "
                 "indentation of this line");
    } else if (strstr(problem, "did not find expected key") ||
               strstr(problem, "did not find expected '-' indicator")) {
        if (context && p->context_mark.line != p->problem_mark.line)
            sf_error(b->d, &pos,
                     "invalid YAML: bad indentation; this line does not line up with the %s "
                     "that starts at line %d, column %d",
                     strstr(problem, "'-'") ? "list" : "mapping", ctx.line, ctx.col);
        else
            sf_error(b->d, &pos, "invalid YAML: bad indentation or a missing \"key:\"");
    } else if (context) {
        /* libyaml says "while scanning a simple key": keep its words, they
         * are what any YAML tool prints, and add where it started. */
        sf_error(b->d, &pos, "invalid YAML: %s (%s that started at line %d, column %d)", problem,
                 context, ctx.line, ctx.col);
    } else {
        sf_error(b->d, &pos, "invalid YAML: %s", problem);
    }
}

static bool next_event(struct builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->p, ev)) {
        syntax_error(b);
        return false;
    }
    return true;
}

static struct sf_node *new_node(struct builder *b, enum sf_node_kind kind, yaml_mark_t m)
{
    struct sf_node *n = arena_alloc(b->doc, sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->pos = mark_pos(b, m);
    n->text_pos = n->pos;
    b->nodes++;
    return n;
}

static struct sf_node *copy_node(struct builder *b, const struct sf_node *src)
{
    b->nodes++;
    struct sf_node *n = arena_alloc(b->doc, sizeof(*n));
    *n = *src;
    n->text = src->text ? arena_strndup(b->doc, src->text, strlen(src->text)) : NULL;
    n->keys = NULL;
    n->items = NULL;
    if (src->n) {
        if (src->keys)
            n->keys = arena_alloc(b->doc, src->n * sizeof(*n->keys));
        n->items = arena_alloc(b->doc, src->n * sizeof(*n->items));
        for (size_t i = 0; i < src->n; i++) {
            if (src->keys)
                n->keys[i] = copy_node(b, src->keys[i]);
            n->items[i] = copy_node(b, src->items[i]);
        }
    }
    return n;
}

/* A collection's children are gathered in malloc'd arrays while it is
 * built, then moved into the arena. */
static void finish_children(struct builder *b, struct sf_node *n)
{
    struct sf_node **keys = n->keys, **items = n->items;
    n->keys = NULL;
    n->items = NULL;
    if (n->n) {
        if (keys) {
            n->keys = arena_alloc(b->doc, n->n * sizeof(*keys));
            memcpy(n->keys, keys, n->n * sizeof(*keys));
        }
        n->items = arena_alloc(b->doc, n->n * sizeof(*items));
        memcpy(n->items, items, n->n * sizeof(*items));
    }
    free(keys);
    free(items);
}

static void add_anchor(struct builder *b, const yaml_char_t *name, struct sf_node *n)
{
    if (!name)
        return;
    if (b->n_anchors == b->cap_anchors) {
        b->cap_anchors = b->cap_anchors ? b->cap_anchors * 2 : 8;
        b->anchors = sf_xrealloc(b->anchors, b->cap_anchors * sizeof(*b->anchors));
    }
    b->anchors[b->n_anchors].name = sf_xstrdup((const char *)name);
    b->anchors[b->n_anchors].node = n;
    b->n_anchors++;
}

static void push_child(struct sf_node *n, size_t *cap, struct sf_node *key, struct sf_node *item)
{
    if (n->n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        if (n->kind == SF_NODE_MAP)
            n->keys = sf_xrealloc(n->keys, *cap * sizeof(*n->keys));
        n->items = sf_xrealloc(n->items, *cap * sizeof(*n->items));
    }
    if (n->kind == SF_NODE_MAP)
        n->keys[n->n] = key;
    n->items[n->n] = item;
    n->n++;
}

static const char *kind_word(const struct sf_node *n)
{
    return n->kind == SF_NODE_MAP ? "a mapping" : "a list";
}

/* Builds the node whose first event is ev (consumed). NULL after an error. */
static struct sf_node *build(struct builder *b, yaml_event_t *ev)
{
    struct sf_node *n = NULL;

    if (b->nodes > MAX_NODES) {
        struct sf_pos pos = mark_pos(b, ev->start_mark);
        sf_error(b->d, &pos, "the document is too large (more than %d values after expanding aliases)",
                 MAX_NODES);
        yaml_event_delete(ev);
        return NULL;
    }

    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (size_t i = b->n_anchors; i-- > 0;) {
            if (strcmp(b->anchors[i].name, name) == 0) {
                n = copy_node(b, b->anchors[i].node);
                break;
            }
        }
        if (!n) {
            struct sf_pos pos = mark_pos(b, ev->start_mark);
            sf_error(b->d, &pos, "alias *%s refers to an anchor &%s that is not defined before it",
                     name, name);
        }
        yaml_event_delete(ev);
        return n;
    }
    case YAML_SCALAR_EVENT: {
        n = new_node(b, SF_NODE_SCALAR, ev->start_mark);
        n->text = arena_strndup(b->doc, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        yaml_scalar_style_t st = ev->data.scalar.style;
        const char *tag = (const char *)ev->data.scalar.tag;
        n->quoted = st != YAML_PLAIN_SCALAR_STYLE || (tag && strcmp(tag, YAML_STR_TAG) == 0);
        if ((st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
            ev->start_mark.line == ev->end_mark.line)
            n->text_pos.col++;
        add_anchor(b, ev->data.scalar.anchor, n);
        yaml_event_delete(ev);
        return n;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool is_map = ev->type == YAML_MAPPING_START_EVENT;
        n = new_node(b, is_map ? SF_NODE_MAP : SF_NODE_SEQ, ev->start_mark);
        add_anchor(b, is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor, n);
        yaml_event_delete(ev);
        if (++b->depth > MAX_DEPTH) {
            sf_error(b->d, &n->pos, "values are nested too deeply (more than %d levels)", MAX_DEPTH);
            goto fail;
        }
        size_t cap = 0;
        /* Large maps get a hash index for the duplicate-key check. */
        json_t *seen = NULL;
        for (;;) {
            yaml_event_t e;
            if (!next_event(b, &e)) {
                json_decref(seen);
                goto fail;
            }
            if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            struct sf_node *key = NULL;
            if (is_map) {
                key = build(b, &e);
                if (!key) {
                    json_decref(seen);
                    goto fail;
                }
                if (key->kind != SF_NODE_SCALAR) {
                    sf_error(b->d, &key->pos, "a mapping key must be a plain name, not %s",
                             kind_word(key));
                    json_decref(seen);
                    goto fail;
                }
                const struct sf_node *first = NULL;
                if (seen) {
                    json_t *ix = json_object_get(seen, key->text);
                    if (ix)
                        first = n->keys[json_integer_value(ix)];
                } else {
                    for (size_t i = 0; i < n->n && !first; i++)
                        if (strcmp(n->keys[i]->text, key->text) == 0)
                            first = n->keys[i];
                }
                if (first) {
                    sf_error(b->d, &key->pos,
                             "duplicate key \"%s\"; it is already set at line %d, column %d",
                             key->text, first->pos.line, first->pos.col);
                    json_decref(seen);
                    goto fail;
                }
                if (!next_event(b, &e)) {
                    json_decref(seen);
                    goto fail;
                }
            }
            struct sf_node *item = build(b, &e);
            if (!item) {
                json_decref(seen);
                goto fail;
            }
            push_child(n, &cap, key, item);
            if (is_map) {
                if (!seen && n->n == 32) {
                    seen = json_object();
                    for (size_t i = 0; i < n->n; i++)
                        json_object_set_new(seen, n->keys[i]->text, json_integer((json_int_t)i));
                } else if (seen) {
                    json_object_set_new(seen, key->text, json_integer((json_int_t)(n->n - 1)));
                }
            }
        }
        json_decref(seen);
        b->depth--;
        finish_children(b, n);
        return n;
    fail:
        b->depth--;
        free(n->keys);
        free(n->items);
        n->keys = n->items = NULL;
        n->n = 0;
        return NULL;
    }
    default: {
        struct sf_pos pos = mark_pos(b, ev->start_mark);
        sf_error(b->d, &pos, "invalid YAML: unexpected structure");
        yaml_event_delete(ev);
        return NULL;
    }
    }
}

/* Parses text; many: every document of the stream into doc->roots, else
 * exactly one. */
static int parse(const char *file, const char *text, size_t len, bool many, struct sf_doc **out,
                 struct sf_diags *d)
{
    *out = NULL;
    struct sf_doc *doc = sf_xcalloc(1, sizeof(*doc));
    doc->file = sf_xstrdup(file);
    doc->source = sf_xmalloc(len + 1);
    memcpy(doc->source, text, len);
    doc->source[len] = '\0';

    struct builder b = {.doc = doc, .d = d};
    yaml_parser_initialize(&b.p);
    yaml_parser_set_input_string(&b.p, (const unsigned char *)doc->source, len);

    int rc = -1;
    int docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!next_event(&b, &ev))
            goto done;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1 && !many) {
                struct sf_pos pos = mark_pos(&b, ev.start_mark);
                sf_error(d, &pos,
                         "a second YAML document starts here; a description is one document "
                         "(remove this \"---\" and what follows, or merge them)");
                yaml_event_delete(&ev);
                goto done;
            }
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        struct sf_node *root = build(&b, &ev);
        if (!root)
            goto done;
        if (!doc->root)
            doc->root = root;
        if (many) {
            struct sf_node **roots = arena_alloc(doc, (doc->n_roots + 1) * sizeof(*roots));
            if (doc->n_roots)
                memcpy(roots, doc->roots, doc->n_roots * sizeof(*roots));
            roots[doc->n_roots++] = root;
            doc->roots = roots;
        }
    }
    rc = 0;
done:
    yaml_parser_delete(&b.p);
    for (size_t i = 0; i < b.n_anchors; i++)
        free(b.anchors[i].name);
    free(b.anchors);
    if (rc < 0) {
        sf_doc_free(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

int sf_yaml_parse(const char *file, const char *text, size_t len, struct sf_doc **out,
                  struct sf_diags *d)
{
    return parse(file, text, len, false, out, d);
}

static int load(const char *path, bool many, struct sf_doc **out, struct sf_diags *d)
{
    *out = NULL;
    size_t len = 0;
    char *text = sf_read_file(path, &len);
    if (!text) {
        struct sf_pos pos = {path, 0, 0};
        sf_error(d, &pos, "cannot read the file: %s", strerror(errno));
        return -1;
    }
    int rc = parse(path, text, len, many, out, d);
    free(text);
    return rc;
}

int sf_yaml_load_stream(const char *path, struct sf_doc **out, struct sf_diags *d)
{
    return load(path, true, out, d);
}

int sf_yaml_load(const char *path, struct sf_doc **out, struct sf_diags *d)
{
    return load(path, false, out, d);
}

void sf_doc_free(struct sf_doc *doc)
{
    if (!doc)
        return;
    while (doc->arena) {
        struct sf_arena *next = doc->arena->next;
        free(doc->arena);
        doc->arena = next;
    }
    free(doc->file);
    free(doc->source);
    free(doc);
}

const struct sf_node *sf_node_get(const struct sf_node *map, const char *key)
{
    if (!map || map->kind != SF_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return map->items[i];
    return NULL;
}

static bool all_digits(const char *s, const char *set)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(set, *s))
            return false;
    return true;
}

/* YAML 1.2 core schema: the typed value of a plain scalar, or NULL when it
 * is a string. */
static json_t *plain_scalar_value(const char *s)
{
    if (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();

    const char *digits = s;
    if (*digits == '-' || *digits == '+')
        digits++;
    if (all_digits(digits, "0123456789")) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == 0)
            return json_integer(v);
        return json_real(strtod(s, NULL));
    }
    if (strncmp(s, "0o", 2) == 0 && all_digits(s + 2, "01234567")) {
        errno = 0;
        long long v = strtoll(s + 2, NULL, 8);
        return errno ? NULL : json_integer(v);
    }
    if (strncmp(s, "0x", 2) == 0 && all_digits(s + 2, "0123456789abcdefABCDEF")) {
        errno = 0;
        long long v = strtoll(s + 2, NULL, 16);
        return errno ? NULL : json_integer(v);
    }
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    const char *p = digits;
    size_t int_digits = 0, frac_digits = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        int_digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return NULL;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return NULL;
    return json_real(v);
}

json_t *sf_node_to_json(const struct sf_node *n)
{
    if (!n)
        return json_null();
    switch (n->kind) {
    case SF_NODE_SCALAR: {
        if (!n->quoted) {
            json_t *v = plain_scalar_value(n->text);
            if (v)
                return v;
        }
        /* libyaml has checked the UTF-8 already. */
        json_t *s = json_string(n->text);
        return s ? s : json_string_nocheck(n->text);
    }
    case SF_NODE_SEQ: {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(a, sf_node_to_json(n->items[i]));
        return a;
    }
    case SF_NODE_MAP: {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(o, n->keys[i]->text, sf_node_to_json(n->items[i]));
        return o;
    }
    }
    return json_null();
}

const char *sf_node_describe(const struct sf_node *n)
{
    if (!n)
        return "null";
    if (n->kind == SF_NODE_MAP)
        return "a mapping";
    if (n->kind == SF_NODE_SEQ)
        return "a list";
    if (n->quoted)
        return "a string";
    json_t *v = plain_scalar_value(n->text);
    const char *r = "a string";
    if (v) {
        if (json_is_null(v))
            r = "null";
        else if (json_is_boolean(v))
            r = "a boolean";
        else
            r = "a number";
        json_decref(v);
    }
    return r;
}

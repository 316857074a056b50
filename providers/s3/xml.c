/*
 * S3's XML, both ways, with libxml2: the configuration documents the s3
 * provider sends (versioning, lifecycle, CORS, tagging, DeleteObjects) are
 * written with an xmlTextWriter, and the answers it reads (errors,
 * configurations, listings, DeleteObjects results) are parsed with
 * xmlReadMemory, never fetching anything, and refusing documents with a
 * DTD (so no entity is ever expanded).
 * Elements are matched by local name: S3 answers in its namespace, some
 * compatible servers in none. The JSON shapes are the attributes'
 * (see s3.h); bucket.c and object.c never see XML.
 */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* libxml2 wants its globals set up once, before threads use it. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void)
{
    xmlInitParser();
}

/* ---------- writing ---------- */

struct writer {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
};

static void begin(struct writer *x, const char *root)
{
    pthread_once(&xml_once, xml_init);
    x->buf = xmlBufferCreate();
    x->w = xmlNewTextWriterMemory(x->buf, 0);
    if (!x->buf || !x->w)
        abort(); /* allocation only */
    xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL);
    xmlTextWriterStartElement(x->w, BAD_CAST root);
    xmlTextWriterWriteAttribute(x->w, BAD_CAST "xmlns", BAD_CAST S3_NS);
}

static void open_el(struct writer *x, const char *name)
{
    xmlTextWriterStartElement(x->w, BAD_CAST name);
}

static void close_el(struct writer *x)
{
    xmlTextWriterEndElement(x->w);
}

static void text_el(struct writer *x, const char *name, const char *value)
{
    xmlTextWriterWriteElement(x->w, BAD_CAST name, BAD_CAST(value ? value : ""));
}

static void int_el(struct writer *x, const char *name, json_int_t v)
{
    xmlTextWriterWriteFormatElement(x->w, BAD_CAST name, "%" JSON_INTEGER_FORMAT, v);
}

static char *finish(struct writer *x, size_t *len)
{
    xmlTextWriterEndDocument(x->w);
    xmlFreeTextWriter(x->w);
    size_t n = (size_t)xmlBufferLength(x->buf);
    char *out = sf_xstrndup((const char *)xmlBufferContent(x->buf), n);
    xmlBufferFree(x->buf);
    if (len)
        *len = n;
    return out;
}

static void strings_el(struct writer *x, const char *name, const json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) text_el(x, name, json_string_value(v));
}

char *sf_s3_xml_versioning(bool enabled, size_t *len)
{
    struct writer x;
    begin(&x, "VersioningConfiguration");
    text_el(&x, "Status", enabled ? "Enabled" : "Suspended");
    return finish(&x, len);
}

char *sf_s3_xml_lifecycle(const json_t *rules, size_t *len)
{
    struct writer x;
    begin(&x, "LifecycleConfiguration");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        open_el(&x, "Rule");
        text_el(&x, "ID", sf_s3_str(r, "id"));
        open_el(&x, "Filter");
        text_el(&x, "Prefix", sf_s3_str(r, "prefix"));
        close_el(&x);
        text_el(&x, "Status",
                json_is_false(json_object_get(r, "enabled")) ? "Disabled" : "Enabled");
        json_t *d = json_object_get(r, "expiration_days");
        if (json_is_integer(d)) {
            open_el(&x, "Expiration");
            int_el(&x, "Days", json_integer_value(d));
            close_el(&x);
        }
        d = json_object_get(r, "noncurrent_expiration_days");
        if (json_is_integer(d)) {
            open_el(&x, "NoncurrentVersionExpiration");
            int_el(&x, "NoncurrentDays", json_integer_value(d));
            close_el(&x);
        }
        close_el(&x);
    }
    return finish(&x, len);
}

char *sf_s3_xml_cors(const json_t *rules, size_t *len)
{
    struct writer x;
    begin(&x, "CORSConfiguration");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        open_el(&x, "CORSRule");
        strings_el(&x, "AllowedHeader", json_object_get(r, "allowed_headers"));
        strings_el(&x, "AllowedMethod", json_object_get(r, "allowed_methods"));
        strings_el(&x, "AllowedOrigin", json_object_get(r, "allowed_origins"));
        strings_el(&x, "ExposeHeader", json_object_get(r, "expose_headers"));
        json_t *age = json_object_get(r, "max_age_seconds");
        if (json_is_integer(age))
            int_el(&x, "MaxAgeSeconds", json_integer_value(age));
        close_el(&x);
    }
    return finish(&x, len);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *sf_s3_xml_tagging(const json_t *tags, size_t *len)
{
    /* Sorted, so that the same tags always make the same document. */
    size_t n = json_object_size(tags), i = 0;
    const char **keys = sf_xcalloc(n + 1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tags, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(char *), by_name);
    struct writer x;
    begin(&x, "Tagging");
    open_el(&x, "TagSet");
    for (i = 0; i < n; i++) {
        open_el(&x, "Tag");
        text_el(&x, "Key", keys[i]);
        text_el(&x, "Value", json_string_value(json_object_get(tags, keys[i])));
        close_el(&x);
    }
    close_el(&x);
    free(keys);
    return finish(&x, len);
}

char *sf_s3_xml_delete(const json_t *objects, size_t *len)
{
    struct writer x;
    begin(&x, "Delete");
    text_el(&x, "Quiet", "true");
    size_t i;
    json_t *o;
    json_array_foreach(objects, i, o)
    {
        open_el(&x, "Object");
        text_el(&x, "Key", sf_s3_str(o, "key"));
        const char *vid = json_string_value(json_object_get(o, "version_id"));
        if (vid)
            text_el(&x, "VersionId", vid);
        close_el(&x);
    }
    return finish(&x, len);
}

/* ---------- reading ---------- */

/* The document, its root element named root; NULL when body is not that.
 * S3 never sends a DTD: a document with one (which could define entities
 * that expand into a flood, or name files) is refused whole. */
static xmlDocPtr parse(const char *body, size_t len, const char *root)
{
    if (!body || len == 0 || len > INT_MAX)
        return NULL;
    pthread_once(&xml_once, xml_init);
    xmlDocPtr doc = xmlReadMemory(body, (int)len, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr r = doc && !doc->intSubset && !doc->extSubset ? xmlDocGetRootElement(doc) : NULL;
    if (!r || strcmp((const char *)r->name, root) != 0) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

/* The next element sibling from n on (n included) named name (NULL: any). */
static xmlNodePtr element_from(xmlNodePtr n, const char *name)
{
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)n->name, name) == 0))
            return n;
    return NULL;
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    return parent ? element_from(parent->children, name) : NULL;
}

static xmlNodePtr next(xmlNodePtr prev, const char *name)
{
    return prev ? element_from(prev->next, name) : NULL;
}

/* The element's text (caller frees), or NULL when there is no element. */
static char *text_of(xmlNodePtr n)
{
    if (!n)
        return NULL;
    xmlChar *t = xmlNodeGetContent(n);
    char *s = sf_xstrdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

static char *child_text(xmlNodePtr parent, const char *name)
{
    return text_of(child(parent, name));
}

/* A child's text as a whole number into dst[name]; nothing when absent or
 * not a number. */
static void child_int(json_t *dst, const char *name, xmlNodePtr parent, const char *el)
{
    char *t = child_text(parent, el);
    if (t && *t && strspn(t, "0123456789") == strlen(t) && strlen(t) < 16)
        json_object_set_new(dst, name, json_integer(strtoll(t, NULL, 10)));
    free(t);
}

static json_t *child_strings(xmlNodePtr parent, const char *name)
{
    json_t *l = json_array();
    for (xmlNodePtr n = child(parent, name); n; n = next(n, name)) {
        char *t = text_of(n);
        json_array_append_new(l, json_string(t));
        free(t);
    }
    return l;
}

bool sf_s3_xml_is(const char *body, size_t len, const char *root)
{
    xmlDocPtr doc = parse(body, len, root);
    xmlFreeDoc(doc);
    return doc != NULL;
}

int sf_s3_xml_error(const char *body, size_t len, char **code, char **message, char **request_id)
{
    *code = *message = *request_id = NULL;
    xmlDocPtr doc = parse(body, len, "Error");
    if (!doc)
        return -1;
    xmlNodePtr r = xmlDocGetRootElement(doc);
    *code = child_text(r, "Code");
    *message = child_text(r, "Message");
    *request_id = child_text(r, "RequestId");
    xmlFreeDoc(doc);
    return 0;
}

char *sf_s3_xml_versioning_status(const char *body, size_t len)
{
    xmlDocPtr doc = parse(body, len, "VersioningConfiguration");
    if (!doc)
        return NULL;
    char *s = child_text(xmlDocGetRootElement(doc), "Status");
    xmlFreeDoc(doc);
    return s ? s : sf_xstrdup("");
}

json_t *sf_s3_xml_read_lifecycle(const char *body, size_t len)
{
    xmlDocPtr doc = parse(body, len, "LifecycleConfiguration");
    if (!doc)
        return NULL;
    json_t *rules = json_array();
    for (xmlNodePtr r = child(xmlDocGetRootElement(doc), "Rule"); r; r = next(r, "Rule")) {
        json_t *o = json_object();
        char *id = child_text(r, "ID");
        json_object_set_new(o, "id", json_string(id ? id : ""));
        free(id);
        /* The prefix is the filter's (alone or inside And), or the old
         * rule-level one. */
        xmlNodePtr f = child(r, "Filter");
        char *prefix = child_text(f, "Prefix");
        if (!prefix)
            prefix = child_text(child(f, "And"), "Prefix");
        if (!prefix)
            prefix = child_text(r, "Prefix");
        json_object_set_new(o, "prefix", json_string(prefix ? prefix : ""));
        free(prefix);
        char *status = child_text(r, "Status");
        json_object_set_new(o, "enabled", json_boolean(status && strcmp(status, "Enabled") == 0));
        free(status);
        child_int(o, "expiration_days", child(r, "Expiration"), "Days");
        child_int(o, "noncurrent_expiration_days", child(r, "NoncurrentVersionExpiration"),
                  "NoncurrentDays");
        json_array_append_new(rules, o);
    }
    xmlFreeDoc(doc);
    return rules;
}

json_t *sf_s3_xml_read_cors(const char *body, size_t len)
{
    xmlDocPtr doc = parse(body, len, "CORSConfiguration");
    if (!doc)
        return NULL;
    json_t *rules = json_array();
    for (xmlNodePtr r = child(xmlDocGetRootElement(doc), "CORSRule"); r; r = next(r, "CORSRule")) {
        json_t *o = json_object();
        json_object_set_new(o, "allowed_origins", child_strings(r, "AllowedOrigin"));
        json_object_set_new(o, "allowed_methods", child_strings(r, "AllowedMethod"));
        json_object_set_new(o, "allowed_headers", child_strings(r, "AllowedHeader"));
        json_object_set_new(o, "expose_headers", child_strings(r, "ExposeHeader"));
        child_int(o, "max_age_seconds", r, "MaxAgeSeconds");
        json_array_append_new(rules, o);
    }
    xmlFreeDoc(doc);
    return rules;
}

json_t *sf_s3_xml_read_tagging(const char *body, size_t len)
{
    xmlDocPtr doc = parse(body, len, "Tagging");
    if (!doc)
        return NULL;
    json_t *tags = json_object();
    xmlNodePtr set = child(xmlDocGetRootElement(doc), "TagSet");
    for (xmlNodePtr t = child(set, "Tag"); t; t = next(t, "Tag")) {
        char *k = child_text(t, "Key"), *v = child_text(t, "Value");
        if (k)
            json_object_set_new(tags, k, json_string(v ? v : ""));
        free(k);
        free(v);
    }
    xmlFreeDoc(doc);
    return tags;
}

void sf_s3_page_free(struct sf_s3_page *p)
{
    json_decref(p->entries);
    free(p->next_key);
    free(p->next_version);
    free(p->next_token);
    memset(p, 0, sizeof(*p));
}

static bool child_true(xmlNodePtr parent, const char *name)
{
    char *t = child_text(parent, name);
    bool yes = t && strcmp(t, "true") == 0;
    free(t);
    return yes;
}

int sf_s3_xml_read_versions(const char *body, size_t len, struct sf_s3_page *p)
{
    memset(p, 0, sizeof(*p));
    xmlDocPtr doc = parse(body, len, "ListVersionsResult");
    if (!doc)
        return -1;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    p->entries = json_array();
    for (xmlNodePtr n = child(root, NULL); n; n = next(n, NULL)) {
        bool marker = strcmp((const char *)n->name, "DeleteMarker") == 0;
        if (!marker && strcmp((const char *)n->name, "Version") != 0)
            continue;
        char *key = child_text(n, "Key"), *vid = child_text(n, "VersionId");
        json_t *e = json_pack("{s:s, s:b, s:b}", "key", key ? key : "", "latest",
                              child_true(n, "IsLatest"), "delete_marker", marker);
        if (vid)
            json_object_set_new(e, "version_id", json_string(vid));
        json_array_append_new(p->entries, e);
        free(key);
        free(vid);
    }
    p->truncated = child_true(root, "IsTruncated");
    p->next_key = child_text(root, "NextKeyMarker");
    p->next_version = child_text(root, "NextVersionIdMarker");
    xmlFreeDoc(doc);
    return 0;
}

int sf_s3_xml_read_objects(const char *body, size_t len, struct sf_s3_page *p)
{
    memset(p, 0, sizeof(*p));
    xmlDocPtr doc = parse(body, len, "ListBucketResult");
    if (!doc)
        return -1;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    p->entries = json_array();
    for (xmlNodePtr n = child(root, "Contents"); n; n = next(n, "Contents")) {
        char *key = child_text(n, "Key");
        json_array_append_new(p->entries, json_pack("{s:s, s:b, s:b}", "key", key ? key : "",
                                                    "latest", 1, "delete_marker", 0));
        free(key);
    }
    p->truncated = child_true(root, "IsTruncated");
    p->next_token = child_text(root, "NextContinuationToken");
    xmlFreeDoc(doc);
    return 0;
}

json_t *sf_s3_xml_read_delete_errors(const char *body, size_t len)
{
    xmlDocPtr doc = parse(body, len, "DeleteResult");
    if (!doc)
        return NULL;
    json_t *errors = json_array();
    for (xmlNodePtr n = child(xmlDocGetRootElement(doc), "Error"); n; n = next(n, "Error")) {
        char *key = child_text(n, "Key"), *code = child_text(n, "Code"),
             *msg = child_text(n, "Message");
        json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "key", key ? key : "", "code",
                                                code ? code : "", "message", msg ? msg : ""));
        free(key);
        free(code);
        free(msg);
    }
    xmlFreeDoc(doc);
    return errors;
}

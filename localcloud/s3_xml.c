/*
 * XML for localcloud's S3 emulator: the response documents (written with
 * libxml2's xmlTextWriter, so every text is escaped by the library) and
 * the request bodies (parsed with libxml2 into a tree the operations walk
 * by local name, so a body with or without the S3 namespace reads alike).
 * Parsing never touches the network and never expands entities.
 */
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "sigv4.h"
#include "util.h"

#define X(s) ((const xmlChar *)(s))

void s3_xw_begin(struct s3_xw *x, const char *root)
{
    x->buf = xmlBufferCreate();
    x->w = xmlNewTextWriterMemory(x->buf, 0);
    if (!x->buf || !x->w) {
        fprintf(stderr, "localcloud: out of memory\n");
        abort();
    }
    xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL);
    xmlTextWriterStartElement(x->w, X(root));
    xmlTextWriterWriteAttribute(x->w, X("xmlns"), X(S3_NS));
}

void s3_xw_open(struct s3_xw *x, const char *name)
{
    xmlTextWriterStartElement(x->w, X(name));
}

void s3_xw_close(struct s3_xw *x)
{
    xmlTextWriterEndElement(x->w);
}

void s3_xw_text(struct s3_xw *x, const char *name, const char *value)
{
    xmlTextWriterWriteElement(x->w, X(name), X(value ? value : ""));
}

void s3_xw_int(struct s3_xw *x, const char *name, long long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", v);
    s3_xw_text(x, name, b);
}

void s3_xw_bool(struct s3_xw *x, const char *name, bool v)
{
    s3_xw_text(x, name, v ? "true" : "false");
}

void s3_xw_key(struct s3_xw *x, bool url, const char *name, const char *key)
{
    char *v = url ? sf_sigv4_uri_encode(key, strlen(key), true) : NULL;
    s3_xw_text(x, name, v ? v : key);
    free(v);
}

void s3_xw_string(struct s3_xw *x, const char *text)
{
    xmlTextWriterWriteString(x->w, X(text));
}

char *s3_xw_finish(struct s3_xw *x, size_t *len)
{
    xmlTextWriterEndDocument(x->w);
    xmlFreeTextWriter(x->w); /* flushes into the buffer */
    x->w = NULL;
    size_t n = (size_t)xmlBufferLength(x->buf);
    char *out = sf_xmalloc(n + 1);
    memcpy(out, xmlBufferContent(x->buf), n);
    out[n] = '\0';
    xmlBufferFree(x->buf);
    x->buf = NULL;
    *len = n;
    return out;
}

void s3_xw_send(struct s3_xw *x, struct s3_call *c, unsigned status)
{
    size_t n;
    char *doc = s3_xw_finish(x, &n);
    s3_resp_take(c->resp, status, "application/xml", doc, n);
}

char *s3_xml_error(const char *code, const char *msg, const char *resource,
                   const char *request_id, const char *const *extra, size_t *len)
{
    struct s3_xw x;
    x.buf = xmlBufferCreate();
    x.w = xmlNewTextWriterMemory(x.buf, 0);
    if (!x.buf || !x.w) {
        fprintf(stderr, "localcloud: out of memory\n");
        abort();
    }
    /* S3's error document has no namespace */
    xmlTextWriterStartDocument(x.w, NULL, "UTF-8", NULL);
    xmlTextWriterStartElement(x.w, X("Error"));
    s3_xw_text(&x, "Code", code);
    s3_xw_text(&x, "Message", msg ? msg : "");
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        s3_xw_text(&x, extra[i], extra[i + 1]);
    if (resource)
        s3_xw_text(&x, "Resource", resource);
    s3_xw_text(&x, "RequestId", request_id ? request_id : "");
    return s3_xw_finish(&x, len);
}

xmlDocPtr s3_xml_parse(const char *body, size_t len, const char *root)
{
    if (len == 0 || len > S3_MAX_BODY)
        return NULL;
    xmlDocPtr doc = xmlReadMemory(body, (int)len, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return NULL;
    xmlNodePtr r = xmlDocGetRootElement(doc);
    /* a DTD could declare entities; requests never need one */
    if (!r || doc->intSubset || strcmp((const char *)r->name, root) != 0) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

xmlNodePtr s3_xml_next(xmlNodePtr prev, const char *name)
{
    for (xmlNodePtr n = prev ? prev->next : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)n->name, name) == 0))
            return n;
    return NULL;
}

xmlNodePtr s3_xml_child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)n->name, name) == 0))
            return n;
    return NULL;
}

size_t s3_xml_count(xmlNodePtr parent, const char *name)
{
    size_t k = 0;
    for (xmlNodePtr n = s3_xml_child(parent, name); n; n = s3_xml_next(n, name))
        k++;
    return k;
}

bool s3_xml_only(xmlNodePtr parent, const char *const *allowed)
{
    for (xmlNodePtr n = parent->children; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            for (const xmlChar *p = n->content; p && *p; p++)
                if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
                    return false;
            continue;
        }
        if (n->type != XML_ELEMENT_NODE)
            continue;
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp((const char *)n->name, allowed[i]) == 0;
        if (!ok)
            return false;
    }
    return true;
}

char *s3_xml_text(xmlNodePtr n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *out = sf_xstrdup(t ? (const char *)t : "");
    xmlFree(t);
    return out;
}

char *s3_xml_dump(xmlDocPtr doc, size_t *len)
{
    xmlChar *mem = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(doc, &mem, &n, "UTF-8");
    char *out = sf_xstrndup(mem ? (const char *)mem : "", mem ? (size_t)n : 0);
    xmlFree(mem);
    if (len)
        *len = strlen(out);
    return out;
}

/*
 * Internal to localcloud's S3 emulator (s3*.c); the rest of localcloud only
 * sees lc_s3_register (apis.h).
 *
 * s3.c routes every request under /s3 to an operation, verifies its SigV4
 * signature (lib/sigv4.h) against the EC2 credentials of identity,
 * and owns the pieces every operation shares: the error shape, bucket
 * lookup with ownership, the per-key write locks and the object data files.
 * s3_buckets.c holds the bucket operations and their configurations
 * (versioning, lifecycle, CORS, policy, tagging), s3_objects.c the object
 * operations and the listings, s3_multipart.c the multipart uploads,
 * s3_xml.c the libxml2 reading and writing.
 *
 * What is stored (lc_store, API "s3"):
 *   buckets/<name>        {name, project_id, owner, created_ms, location,
 *                          versioning: ""|Enabled|Suspended, lifecycle, cors
 *                          (validated XML text), policy (JSON text), tags {}}
 *   objects/<bucket>/<key> {bucket, key, versions: [newest first
 *                          {version_id, delete_marker, blob, size, etag,
 *                           content_type, metadata {}, headers {},
 *                           last_modified_ms}]}
 *   uploads/<upload id>    {upload_id, bucket, key, initiator, initiated_ms,
 *                          attributes {content_type, metadata, headers},
 *                          parts {"<number>": {blob, etag, size,
 *                                              last_modified_ms}}}
 *   _completed/<upload id> {bucket, key, parts, etag, version_id, mode,
 *                          completed_ms}: what a Complete answered, for
 *                          its retries (internal, a while only)
 * and every version's and every part's bytes in DATA/s3-data/<blob>, one
 * file each, named by a random id so that concurrent writers never share
 * a file.
 */
#ifndef LC_S3_H
#define LC_S3_H

#include <jansson.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "server.h"
#include "store.h"

#define S3_API "s3"
#define S3_PREFIX "/s3"
/* The region of this emulated cloud: the default bucket location. */
#define S3_REGION "local"
#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"
/* Request bodies (objects) up to this size; 413 EntityTooLarge beyond. */
#define S3_MAX_BODY ((size_t)64 << 20)
#define S3_MAX_KEY 1024

struct s3_ctx {
    struct lc_server *srv;
    char *blob_dir;      /* DATA/s3-data */
    pthread_mutex_t mu;  /* guards busy */
    pthread_cond_t cv;   /* signalled when a key is released */
    char **busy;         /* "bucket/key" of the writes under way */
    size_t nbusy, capbusy;
};

/* One authenticated request on its way through an operation. */
struct s3_call {
    struct lc_request *req;
    struct lc_response *resp;
    struct s3_ctx *ctx;
    char *access, *user_id, *project_id; /* the signing credential's */
    char request_id[33];
    const char *bucket; /* decoded; NULL for the service (ListBuckets) */
    const char *key;    /* decoded; NULL for bucket operations */
};

/* ---- s3.c ---- */

/* The S3 error document with AWS's code, message, the resource and the
 * request id. extra is a NULL-terminated list of name, value pairs added
 * as elements (BucketName, Key, ...); may be NULL. */
void s3_fail(struct s3_call *c, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void s3_fail_extra(struct s3_call *c, unsigned status, const char *code, const char *const *extra,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
struct lc_store *s3_store(struct s3_call *c);
/* The bucket (borrowed, world lock held) when it exists and belongs to the
 * caller's project; otherwise NULL after answering NoSuchBucket (404) or
 * AccessDenied (403). */
json_t *s3_find_bucket(struct s3_call *c, const char *name);
/* "bucket/key": the id of the object record. Caller frees. */
char *s3_object_id(const char *bucket, const char *key);
/* Persists (lc_store_put); 0, or -1 after answering 500 InternalError. */
int s3_save(struct s3_call *c, const char *kind, const char *id, json_t *obj);
int s3_remove(struct s3_call *c, const char *kind, const char *id);
/* Serialises writers of one key; not reentrant. Never called with the
 * world lock held (a writer takes the key first, then the world). */
void s3_key_lock(struct s3_ctx *ctx, const char *bucket, const char *key);
void s3_key_unlock(struct s3_ctx *ctx, const char *bucket, const char *key);
/* The path of a data file. Caller frees. */
char *s3_blob_path(struct s3_ctx *ctx, const char *blob);
/* Unlinks the data files of versions that are no longer referenced. */
void s3_blob_drop(struct s3_ctx *ctx, const char *blob);
/* A new, empty data file for data that is written piece by piece: 0 with
 * *blob (caller frees) and *fd open for writing, or -1 with errno. */
int s3_blob_create(struct s3_ctx *ctx, char **blob, int *fd);
/* Makes a file from s3_blob_create durable (the file, then its directory
 * entry) and closes fd, also on failure: 0, or -1 with errno. */
int s3_blob_sync(struct s3_ctx *ctx, int fd);
/* The quoted hex MD5 of data: a PutObject's or a part's ETag. Caller frees. */
char *s3_etag(const void *data, size_t len);
/* "2024-05-01T12:00:00.000Z" and "Wed, 01 May 2024 12:00:00 GMT". */
void s3_iso_time(long long ms, char buf[32]);
void s3_http_time(long long ms, char buf[40]);
/* Parses an HTTP date; -1 when it is not one. */
int s3_parse_http_time(const char *s, long long *ms);
/* The body as the response, taking ownership of data (malloc'ed). */
void s3_resp_take(struct lc_response *resp, unsigned status, const char *content_type, char *data,
                  size_t len);

/* Whether the query names the subresource (present with or without '='). */
bool s3_has_query(struct s3_call *c, const char *name);

/* ---- s3_buckets.c ---- */

void s3_list_buckets(struct s3_call *c);
/* Everything addressed to /s3/{bucket} (the object listings and
 * DeleteObjects are handed to s3_objects.c); world lock held. */
void s3_bucket_request(struct s3_call *c);

/* ---- s3_objects.c ---- */

/* Everything addressed to /s3/{bucket}/{key+}; takes the locks it needs. */
void s3_object_request(struct s3_call *c);
/* The attributes a PUT (or a copy that replaces them, or a multipart
 * upload) gives a version: content type, x-amz-meta-*, the kept headers.
 * A new object, or NULL after answering when the metadata is too large or
 * not text. */
json_t *s3_version_attributes(struct s3_call *c);
/* A write's If-None-Match: * / If-Match against the current version of
 * c->key; world lock held. 0 when the write may go on, -1 after answering. */
int s3_put_preconditions(struct s3_call *c);
/* Makes v (taken; its "blob", "etag" and "size" set) the newest version
 * of c->key in bucket (the record s3_find_bucket gave), as the bucket's
 * versioning says, and unlinks the files of the versions it replaced.
 * World lock held, c->key's lock too. 0 with *vid and *mode (the bucket's
 * versioning) set, both for the caller to free; -1 after answering. */
int s3_commit_version(struct s3_call *c, json_t *bucket, json_t *v, char **vid, char **mode);
/* The source of a copy (x-amz-copy-source) and, once opened, its version. */
struct s3_source {
    char *bucket, *key, *version_id; /* decoded; version_id NULL for the current one */
    json_t *version;                 /* a copy of the version's attributes */
    char *mode;                      /* the source bucket's versioning */
    int fd;                          /* its data, open for reading; -1 before */
};
/* Parses the header ("[/]bucket/key[?versionId=]", URL-encoded): 0, or -1
 * after answering 400. Free s with s3_source_free either way. */
int s3_source_parse(struct s3_call *c, const char *header, struct s3_source *s);
/* Finds the version (in a bucket of the caller's project) and opens its
 * data, under the world lock: 0, or -1 after answering. */
int s3_source_open(struct s3_call *c, struct s3_source *s);
void s3_source_free(struct s3_source *s);
/* GET /{bucket} (ListObjects v1 and v2), GET ?versions, POST ?delete;
 * world lock held. */
void s3_list_objects(struct s3_call *c, json_t *bucket);
void s3_list_versions(struct s3_call *c, json_t *bucket);
void s3_delete_objects(struct s3_call *c, json_t *bucket);
/* Whether the bucket holds any object, version or delete marker. */
bool s3_bucket_has_objects(struct s3_call *c, const char *bucket);
/* Removes data files no object or part refers to (writes a crash
 * interrupted); at start-up, before serving. */
void s3_blobs_collect(struct s3_ctx *ctx, struct lc_store *st);

/* ---- s3_multipart.c ---- */

/* /s3/{bucket}/{key+} with ?uploads or ?uploadId: Create, UploadPart,
 * UploadPartCopy, Complete, Abort, ListParts; takes the locks it needs. */
void s3_multipart_request(struct s3_call *c);
/* GET /{bucket}?uploads (ListMultipartUploads); world lock held. */
void s3_list_uploads(struct s3_call *c, json_t *bucket);
/* Removes every upload of a bucket that is being deleted and unlinks
 * their parts' files; world lock held. 0, or -1 after answering. */
int s3_uploads_drop_bucket(struct s3_call *c, const char *bucket);
/* At start-up: forgets the uploads of buckets that are gone and the
 * completed ones kept too long, and adds the files the remaining parts
 * use to used ({blob: true}). */
void s3_uploads_recover(struct lc_store *st, json_t *used);

/* ---- s3_xml.c ---- */

/* A response document being written: s3_xw_begin opens the root element
 * (with the S3 namespace), s3_xw_send closes everything and answers. */
struct s3_xw {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
};
void s3_xw_begin(struct s3_xw *x, const char *root);
void s3_xw_open(struct s3_xw *x, const char *name);
void s3_xw_close(struct s3_xw *x);
void s3_xw_text(struct s3_xw *x, const char *name, const char *value);
void s3_xw_int(struct s3_xw *x, const char *name, long long v);
void s3_xw_bool(struct s3_xw *x, const char *name, bool v);
/* A key, prefix or delimiter of a listing: URL-encoded (the slashes
 * kept) when the request asked for encoding-type=url. */
void s3_xw_key(struct s3_xw *x, bool url, const char *name, const char *key);
/* Text inside the element now open. */
void s3_xw_string(struct s3_xw *x, const char *text);
void s3_xw_send(struct s3_xw *x, struct s3_call *c, unsigned status);
/* Ends the document and hands its bytes over (caller frees). */
char *s3_xw_finish(struct s3_xw *x, size_t *len);

/* The error document; msg, resource and request_id may be NULL. */
char *s3_xml_error(const char *code, const char *msg, const char *resource,
                   const char *request_id, const char *const *extra, size_t *len);

/* A request body parsed, its root element named root (namespace ignored);
 * NULL when it is not well-formed XML or the root differs. No network, no
 * entity expansion. Free with xmlFreeDoc. */
xmlDocPtr s3_xml_parse(const char *body, size_t len, const char *root);
/* Element children by local name: the first, and the next after prev. */
xmlNodePtr s3_xml_child(xmlNodePtr parent, const char *name);
xmlNodePtr s3_xml_next(xmlNodePtr prev, const char *name);
size_t s3_xml_count(xmlNodePtr parent, const char *name);
/* Whether every element child is named in allowed (NULL-terminated) and
 * no child holds text besides white space. */
bool s3_xml_only(xmlNodePtr parent, const char *const *allowed);
/* The text of the element (caller frees), "" for an empty one. */
char *s3_xml_text(xmlNodePtr n);
/* The document as text with an XML declaration (caller frees). */
char *s3_xml_dump(xmlDocPtr doc, size_t *len);

#endif

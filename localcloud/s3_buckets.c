/*
 * S3 bucket operations (s3.c routes them here with the world lock held):
 * ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
 * and the configurations a bucket carries: versioning, lifecycle, CORS,
 * policy and tagging. Configurations are validated well enough to refuse
 * garbage (MalformedXML, MalformedPolicy, InvalidTag) and then stored as
 * given (lifecycle and CORS as the parsed document, the policy as its JSON
 * text, tags as a JSON object) and answered back on GET; localcloud does
 * not act on them (no expiry runs, no CORS preflight, no policy checks).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3.h"
#include "s3name.h"
#include "util.h"

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void malformed(struct s3_call *c, const char *why)
{
    s3_fail(c, 400, "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published "
            "schema: %s",
            why);
}

/* ---------- ListBuckets ---------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void s3_list_buckets(struct s3_call *c)
{
    json_t *all = lc_store_kind(s3_store(c), S3_API, "buckets");
    size_t n = 0;
    const char **names = sf_xcalloc(json_object_size(all) + 1, sizeof(char *));
    const char *name;
    json_t *b;
    json_object_foreach(all, name, b)
    {
        if (strcmp(str(b, "project_id"), c->project_id) == 0)
            names[n++] = name;
    }
    qsort(names, n, sizeof(char *), by_name);
    struct s3_xw x;
    s3_xw_begin(&x, "ListAllMyBucketsResult");
    s3_xw_open(&x, "Owner");
    s3_xw_text(&x, "ID", c->project_id);
    s3_xw_text(&x, "DisplayName", c->project_id);
    s3_xw_close(&x);
    s3_xw_open(&x, "Buckets");
    for (size_t i = 0; i < n; i++) {
        json_t *bk = json_object_get(all, names[i]);
        char t[32];
        s3_iso_time(json_integer_value(json_object_get(bk, "created_ms")), t);
        s3_xw_open(&x, "Bucket");
        s3_xw_text(&x, "Name", names[i]);
        s3_xw_text(&x, "CreationDate", t);
        s3_xw_close(&x);
    }
    s3_xw_close(&x);
    free(names);
    s3_xw_send(&x, c, 200);
}

/* ---------- CreateBucket, HeadBucket, DeleteBucket, location ---------- */

static void create_bucket(struct s3_call *c)
{
    const char *name = c->bucket;
    const char *why = sf_s3_bucket_name_problem(name);
    if (why) {
        const char *extra[] = {"BucketName", name, NULL};
        s3_fail_extra(c, 400, "InvalidBucketName", extra, "The specified bucket is not valid: %s",
                      why);
        return;
    }
    char *location = sf_xstrdup(S3_REGION);
    if (c->req->body_len > 0) {
        xmlDocPtr doc = s3_xml_parse(c->req->body, c->req->body_len, "CreateBucketConfiguration");
        static const char *const allowed[] = {"LocationConstraint", NULL};
        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!doc || !s3_xml_only(root, allowed) || s3_xml_count(root, "LocationConstraint") > 1) {
            malformed(c, "expected <CreateBucketConfiguration> with an optional "
                         "<LocationConstraint>");
            xmlFreeDoc(doc);
            free(location);
            return;
        }
        xmlNodePtr lc = s3_xml_child(root, "LocationConstraint");
        if (lc) {
            char *v = s3_xml_text(lc);
            size_t len = strlen(v);
            if (len == 0 || len > 63 ||
                strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != len) {
                s3_fail(c, 400, "InvalidLocationConstraint",
                        "The specified location-constraint is not valid: expected a region name "
                        "of a-z 0-9 and hyphens, e.g. %s",
                        S3_REGION);
                free(v);
                xmlFreeDoc(doc);
                free(location);
                return;
            }
            free(location);
            location = v;
        }
        xmlFreeDoc(doc);
    }
    json_t *old = lc_store_get(s3_store(c), S3_API, "buckets", name);
    if (old) {
        const char *extra[] = {"BucketName", name, NULL};
        if (strcmp(str(old, "project_id"), c->project_id) == 0)
            s3_fail_extra(c, 409, "BucketAlreadyOwnedByYou", extra,
                          "Your previous request to create the named bucket succeeded and you "
                          "already own it.");
        else
            s3_fail_extra(c, 409, "BucketAlreadyExists", extra,
                          "The requested bucket name is not available. The bucket namespace is "
                          "shared by all users of the system. Please select a different name "
                          "and try again.");
        free(location);
        return;
    }
    json_t *b = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:{}}", "name", name, "project_id",
                          c->project_id, "owner", c->user_id, "created_ms",
                          (json_int_t)lc_now_ms(), "location", location, "versioning", "",
                          "tags");
    if (s3_save(c, "buckets", name, b) == 0) {
        lc_resp_empty(c->resp, 200);
        char *loc = sf_asprintf("/%s", name);
        lc_resp_header(c->resp, "Location", loc);
        free(loc);
    }
    json_decref(b);
    free(location);
}

static void head_bucket(struct s3_call *c, json_t *b)
{
    lc_resp_empty(c->resp, 200);
    lc_resp_header(c->resp, "x-amz-bucket-region", str(b, "location"));
}

static void delete_bucket(struct s3_call *c, json_t *b)
{
    if (s3_bucket_has_objects(c, c->bucket)) {
        const char *extra[] = {"BucketName", c->bucket, NULL};
        s3_fail_extra(c, 409, "BucketNotEmpty", extra,
                      "The bucket you tried to delete is not empty (objects, versions or delete "
                      "markers remain)");
        return;
    }
    /* uploads in progress do not keep a bucket (S3 aborts them with it) */
    if (s3_remove(c, "buckets", c->bucket) == 0 && s3_uploads_drop_bucket(c, c->bucket) == 0)
        lc_resp_empty(c->resp, 204);
}

static void get_location(struct s3_call *c, json_t *b)
{
    struct s3_xw x;
    s3_xw_begin(&x, "LocationConstraint");
    s3_xw_string(&x, str(b, "location"));
    s3_xw_send(&x, c, 200);
}

/* ---------- versioning ---------- */

static void get_versioning(struct s3_call *c, json_t *b)
{
    struct s3_xw x;
    s3_xw_begin(&x, "VersioningConfiguration");
    if (*str(b, "versioning")) {
        s3_xw_text(&x, "Status", str(b, "versioning"));
        s3_xw_text(&x, "MfaDelete", "Disabled");
    }
    s3_xw_send(&x, c, 200);
}

static void put_versioning(struct s3_call *c, json_t *b)
{
    xmlDocPtr doc = s3_xml_parse(c->req->body, c->req->body_len, "VersioningConfiguration");
    static const char *const allowed[] = {"Status", "MfaDelete", NULL};
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!doc || !s3_xml_only(root, allowed) || s3_xml_count(root, "Status") > 1 ||
        s3_xml_count(root, "MfaDelete") > 1) {
        malformed(c, "expected <VersioningConfiguration> with <Status>Enabled</Status> or "
                     "<Status>Suspended</Status>");
        xmlFreeDoc(doc);
        return;
    }
    char *status = s3_xml_child(root, "Status") ? s3_xml_text(s3_xml_child(root, "Status")) : NULL;
    char *mfa = s3_xml_child(root, "MfaDelete") ? s3_xml_text(s3_xml_child(root, "MfaDelete"))
                                                 : NULL;
    xmlFreeDoc(doc);
    if (status && strcmp(status, "Enabled") != 0 && strcmp(status, "Suspended") != 0) {
        malformed(c, "<Status> is Enabled or Suspended");
    } else if (mfa && strcmp(mfa, "Disabled") != 0) {
        s3_fail(c, 501, "NotImplemented",
                "MFA delete is not emulated: <MfaDelete> can only be Disabled");
    } else if (status) {
        json_t *upd = json_deep_copy(b);
        json_object_set_new(upd, "versioning", json_string(status));
        if (s3_save(c, "buckets", c->bucket, upd) == 0)
            lc_resp_empty(c->resp, 200);
        json_decref(upd);
    } else {
        lc_resp_empty(c->resp, 200);
    }
    free(status);
    free(mfa);
}

/* ---------- lifecycle ---------- */

static bool positive_int(xmlNodePtr n)
{
    char *t = s3_xml_text(n);
    size_t len = strlen(t);
    bool ok = len > 0 && len < 10 && strspn(t, "0123456789") == len && atol(t) > 0;
    free(t);
    return ok;
}

static bool iso_date(xmlNodePtr n)
{
    char *t = s3_xml_text(n);
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(t, "%Y-%m-%d", &tm);
    bool ok = end && (*end == '\0' || *end == 'T');
    free(t);
    return ok;
}

static bool text_in(xmlNodePtr n, const char *const *values)
{
    char *t = s3_xml_text(n);
    bool ok = false;
    for (size_t i = 0; values[i] && !ok; i++)
        ok = strcmp(t, values[i]) == 0;
    free(t);
    return ok;
}

static const char *const storage_classes[] = {"GLACIER", "STANDARD_IA", "ONEZONE_IA",
                                              "INTELLIGENT_TIERING", "DEEP_ARCHIVE",
                                              "GLACIER_IR", NULL};

/* One <Tag><Key/><Value/></Tag>: a key of 1-128 characters, a value of at
 * most 256. */
static const char *tag_problem(xmlNodePtr tag, bool value_required)
{
    static const char *const allowed[] = {"Key", "Value", NULL};
    if (!s3_xml_only(tag, allowed) || s3_xml_count(tag, "Key") != 1 ||
        s3_xml_count(tag, "Value") > 1 || (value_required && s3_xml_count(tag, "Value") != 1))
        return "a <Tag> has one <Key> and one <Value>";
    char *k = s3_xml_text(s3_xml_child(tag, "Key"));
    char *v = s3_xml_child(tag, "Value") ? s3_xml_text(s3_xml_child(tag, "Value"))
                                         : sf_xstrdup("");
    const char *why = NULL;
    if (!*k || strlen(k) > 128)
        why = "a tag key is 1 to 128 characters long";
    else if (strlen(v) > 256)
        why = "a tag value is at most 256 characters long";
    free(k);
    free(v);
    return why;
}

static const char *filter_problem(xmlNodePtr f)
{
    static const char *const allowed[] = {"Prefix", "Tag", "And", "ObjectSizeGreaterThan",
                                          "ObjectSizeLessThan", NULL};
    if (!s3_xml_only(f, allowed))
        return "a <Filter> holds <Prefix>, <Tag>, <And>, <ObjectSizeGreaterThan> or "
               "<ObjectSizeLessThan>";
    size_t conds = 0;
    for (xmlNodePtr n = s3_xml_child(f, NULL); n; n = s3_xml_next(n, NULL))
        conds++;
    if (conds > 1)
        return "a <Filter> has at most one condition; combine several with <And>";
    xmlNodePtr t = s3_xml_child(f, "Tag");
    if (t)
        return tag_problem(t, true);
    xmlNodePtr and = s3_xml_child(f, "And");
    if (and) {
        static const char *const and_allowed[] = {"Prefix", "Tag", "ObjectSizeGreaterThan",
                                                  "ObjectSizeLessThan", NULL};
        if (!s3_xml_only(and, and_allowed) || s3_xml_count(and, "Prefix") > 1)
            return "an <And> holds at most one <Prefix>, <Tag>s and object size bounds";
        for (xmlNodePtr tag = s3_xml_child(and, "Tag"); tag; tag = s3_xml_next(tag, "Tag")) {
            const char *why = tag_problem(tag, true);
            if (why)
                return why;
        }
    }
    return NULL;
}

/* Days or Date (Expiration also ExpiredObjectDeleteMarker), exactly one. */
static const char *when_problem(xmlNodePtr a, bool expiration)
{
    size_t days = s3_xml_count(a, "Days"), dates = s3_xml_count(a, "Date");
    size_t marker = expiration ? s3_xml_count(a, "ExpiredObjectDeleteMarker") : 0;
    if (days + dates + marker != 1)
        return expiration ? "an <Expiration> has one of <Days>, <Date> or "
                            "<ExpiredObjectDeleteMarker>"
                          : "a <Transition> has one of <Days> or <Date>";
    if (days && !positive_int(s3_xml_child(a, "Days")))
        return "<Days> is a positive whole number";
    if (dates && !iso_date(s3_xml_child(a, "Date")))
        return "<Date> is an ISO 8601 date, e.g. 2030-01-01T00:00:00.000Z";
    static const char *const booleans[] = {"true", "false", NULL};
    if (marker && !text_in(s3_xml_child(a, "ExpiredObjectDeleteMarker"), booleans))
        return "<ExpiredObjectDeleteMarker> is true or false";
    return NULL;
}

static const char *rule_problem(xmlNodePtr r)
{
    static const char *const allowed[] = {
        "ID", "Prefix", "Filter", "Status", "Expiration", "Transition",
        "NoncurrentVersionExpiration", "NoncurrentVersionTransition",
        "AbortIncompleteMultipartUpload", NULL};
    if (!s3_xml_only(r, allowed))
        return "a <Rule> holds ID, Filter (or Prefix), Status and actions (Expiration, "
               "Transition, NoncurrentVersionExpiration, NoncurrentVersionTransition, "
               "AbortIncompleteMultipartUpload)";
    static const char *const statuses[] = {"Enabled", "Disabled", NULL};
    if (s3_xml_count(r, "Status") != 1 || !text_in(s3_xml_child(r, "Status"), statuses))
        return "a <Rule> has one <Status>, Enabled or Disabled";
    if (s3_xml_count(r, "ID") > 1 || s3_xml_count(r, "Filter") > 1 ||
        s3_xml_count(r, "Prefix") > 1 || s3_xml_count(r, "Expiration") > 1 ||
        s3_xml_count(r, "NoncurrentVersionExpiration") > 1 ||
        s3_xml_count(r, "AbortIncompleteMultipartUpload") > 1)
        return "a <Rule> has at most one ID, Filter, Prefix, Expiration, "
               "NoncurrentVersionExpiration and AbortIncompleteMultipartUpload";
    if (s3_xml_child(r, "ID")) {
        char *id = s3_xml_text(s3_xml_child(r, "ID"));
        size_t len = strlen(id);
        free(id);
        if (len > 255)
            return "a rule <ID> is at most 255 characters long";
    }
    if (s3_xml_child(r, "Filter") && s3_xml_child(r, "Prefix"))
        return "a <Rule> has a <Filter> or a <Prefix>, not both";
    if (s3_xml_child(r, "Filter")) {
        const char *why = filter_problem(s3_xml_child(r, "Filter"));
        if (why)
            return why;
    }
    size_t actions = 0;
    const char *why = NULL;
    xmlNodePtr a;
    static const char *const when_allowed[] = {"Days", "Date", "ExpiredObjectDeleteMarker", NULL};
    static const char *const tr_allowed[] = {"Days", "Date", "StorageClass", NULL};
    static const char *const nve_allowed[] = {"NoncurrentDays", "NewerNoncurrentVersions", NULL};
    static const char *const nvt_allowed[] = {"NoncurrentDays", "NewerNoncurrentVersions",
                                              "StorageClass", NULL};
    static const char *const abort_allowed[] = {"DaysAfterInitiation", NULL};
    if ((a = s3_xml_child(r, "Expiration"))) {
        actions++;
        why = !s3_xml_only(a, when_allowed) ? "an <Expiration> holds Days, Date or "
                                              "ExpiredObjectDeleteMarker"
                                            : when_problem(a, true);
    }
    for (a = s3_xml_child(r, "Transition"); a && !why; a = s3_xml_next(a, "Transition")) {
        actions++;
        why = !s3_xml_only(a, tr_allowed) ? "a <Transition> holds Days or Date and StorageClass"
                                          : when_problem(a, false);
        if (!why && (s3_xml_count(a, "StorageClass") != 1 ||
                     !text_in(s3_xml_child(a, "StorageClass"), storage_classes)))
            why = "a <Transition> names one <StorageClass> such as GLACIER or STANDARD_IA";
    }
    if (!why && (a = s3_xml_child(r, "NoncurrentVersionExpiration"))) {
        actions++;
        if (!s3_xml_only(a, nve_allowed) || s3_xml_count(a, "NoncurrentDays") != 1 ||
            !positive_int(s3_xml_child(a, "NoncurrentDays")))
            why = "a <NoncurrentVersionExpiration> has <NoncurrentDays>, a positive whole number";
    }
    for (a = s3_xml_child(r, "NoncurrentVersionTransition"); a && !why;
         a = s3_xml_next(a, "NoncurrentVersionTransition")) {
        actions++;
        if (!s3_xml_only(a, nvt_allowed) || s3_xml_count(a, "NoncurrentDays") != 1 ||
            !positive_int(s3_xml_child(a, "NoncurrentDays")) ||
            s3_xml_count(a, "StorageClass") != 1 ||
            !text_in(s3_xml_child(a, "StorageClass"), storage_classes))
            why = "a <NoncurrentVersionTransition> has <NoncurrentDays> and a <StorageClass>";
    }
    if (!why && (a = s3_xml_child(r, "AbortIncompleteMultipartUpload"))) {
        actions++;
        if (!s3_xml_only(a, abort_allowed) || s3_xml_count(a, "DaysAfterInitiation") != 1 ||
            !positive_int(s3_xml_child(a, "DaysAfterInitiation")))
            why = "an <AbortIncompleteMultipartUpload> has <DaysAfterInitiation>, a positive "
                  "whole number";
    }
    if (!why && actions == 0)
        why = "a <Rule> has at least one action (Expiration, Transition, "
              "NoncurrentVersionExpiration, NoncurrentVersionTransition, "
              "AbortIncompleteMultipartUpload)";
    return why;
}

/* The configuration to store (the document as text), or NULL after answering. */
static json_t *check_lifecycle(struct s3_call *c)
{
    xmlDocPtr doc = s3_xml_parse(c->req->body, c->req->body_len, "LifecycleConfiguration");
    if (!doc) {
        malformed(c, "expected a <LifecycleConfiguration> document");
        return NULL;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    static const char *const allowed[] = {"Rule", NULL};
    const char *why = NULL;
    size_t n = s3_xml_count(root, "Rule");
    if (!s3_xml_only(root, allowed) || n == 0 || n > 1000)
        why = "a <LifecycleConfiguration> holds 1 to 1000 <Rule> elements";
    json_t *ids = json_object();
    for (xmlNodePtr r = s3_xml_child(root, "Rule"); r && !why; r = s3_xml_next(r, "Rule")) {
        why = rule_problem(r);
        if (!why && s3_xml_child(r, "ID")) {
            char *id = s3_xml_text(s3_xml_child(r, "ID"));
            if (json_object_get(ids, id)) {
                free(id);
                json_decref(ids);
                xmlFreeDoc(doc);
                s3_fail(c, 400, "InvalidArgument", "Rule ID must be unique. Found same ID for "
                                                   "more than one rule");
                return NULL;
            }
            json_object_set_new(ids, id, json_true());
            free(id);
        }
    }
    json_decref(ids);
    json_t *out = NULL;
    if (why) {
        malformed(c, why);
    } else {
        char *text = s3_xml_dump(doc, NULL);
        out = json_string(text);
        free(text);
    }
    xmlFreeDoc(doc);
    return out;
}

/* ---------- CORS ---------- */

static json_t *check_cors(struct s3_call *c)
{
    xmlDocPtr doc = s3_xml_parse(c->req->body, c->req->body_len, "CORSConfiguration");
    if (!doc) {
        malformed(c, "expected a <CORSConfiguration> document");
        return NULL;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    static const char *const allowed[] = {"CORSRule", NULL};
    static const char *const rule_allowed[] = {"ID", "AllowedMethod", "AllowedOrigin",
                                               "AllowedHeader", "ExposeHeader", "MaxAgeSeconds",
                                               NULL};
    static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "HEAD", NULL};
    const char *why = NULL;
    size_t n = s3_xml_count(root, "CORSRule");
    if (!s3_xml_only(root, allowed) || n == 0 || n > 100)
        why = "a <CORSConfiguration> holds 1 to 100 <CORSRule> elements";
    for (xmlNodePtr r = s3_xml_child(root, "CORSRule"); r && !why; r = s3_xml_next(r, "CORSRule")) {
        if (!s3_xml_only(r, rule_allowed) || s3_xml_count(r, "ID") > 1 ||
            s3_xml_count(r, "MaxAgeSeconds") > 1)
            why = "a <CORSRule> holds ID, AllowedMethod, AllowedOrigin, AllowedHeader, "
                  "ExposeHeader and MaxAgeSeconds";
        else if (!s3_xml_child(r, "AllowedMethod") || !s3_xml_child(r, "AllowedOrigin"))
            why = "a <CORSRule> has at least one <AllowedMethod> and one <AllowedOrigin>";
        for (xmlNodePtr m = s3_xml_child(r, "AllowedMethod"); m && !why;
             m = s3_xml_next(m, "AllowedMethod")) {
            if (!text_in(m, methods)) {
                char *t = s3_xml_text(m);
                s3_fail(c, 400, "InvalidRequest",
                        "Found unsupported HTTP method in CORS config. Unsupported method is %.64s",
                        t);
                free(t);
                xmlFreeDoc(doc);
                return NULL;
            }
        }
        xmlNodePtr age = s3_xml_child(r, "MaxAgeSeconds");
        if (!why && age) {
            char *t = s3_xml_text(age);
            if (!*t || strspn(t, "0123456789") != strlen(t) || strlen(t) > 9)
                why = "<MaxAgeSeconds> is a whole number of seconds";
            free(t);
        }
    }
    json_t *out = NULL;
    if (why) {
        malformed(c, why);
    } else {
        char *text = s3_xml_dump(doc, NULL);
        out = json_string(text);
        free(text);
    }
    xmlFreeDoc(doc);
    return out;
}

/* ---------- policy ---------- */

static json_t *check_policy(struct s3_call *c)
{
    const char *why = NULL;
    json_error_t je;
    json_t *p = NULL;
    if (c->req->body_len == 0)
        why = "the policy is empty";
    else if (c->req->body_len > 20480)
        why = "the policy is larger than 20 KB";
    else if (!(p = json_loadb(c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, &je)))
        why = "Policies must be valid JSON and the first byte must be '{'";
    else if (!json_is_object(p))
        why = "Policies must be valid JSON and the first byte must be '{'";
    else if (!json_object_get(p, "Statement") ||
             !(json_is_array(json_object_get(p, "Statement")) ||
               json_is_object(json_object_get(p, "Statement"))))
        why = "Missing required field Statement";
    else if (json_object_get(p, "Version") &&
             strcmp(str(p, "Version"), "2012-10-17") != 0 &&
             strcmp(str(p, "Version"), "2008-10-17") != 0)
        why = "The policy Version is 2012-10-17 or 2008-10-17";
    json_decref(p);
    if (why) {
        s3_fail(c, 400, "MalformedPolicy", "%s", why);
        return NULL;
    }
    return json_stringn(c->req->body, c->req->body_len);
}

/* ---------- tagging ---------- */

static json_t *check_tagging(struct s3_call *c)
{
    xmlDocPtr doc = s3_xml_parse(c->req->body, c->req->body_len, "Tagging");
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    static const char *const allowed[] = {"TagSet", NULL};
    static const char *const set_allowed[] = {"Tag", NULL};
    if (!doc || !s3_xml_only(root, allowed) || s3_xml_count(root, "TagSet") != 1 ||
        !s3_xml_only(s3_xml_child(root, "TagSet"), set_allowed)) {
        malformed(c, "expected <Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet></Tagging>");
        xmlFreeDoc(doc);
        return NULL;
    }
    json_t *tags = json_object();
    xmlNodePtr set = s3_xml_child(root, "TagSet");
    for (xmlNodePtr t = s3_xml_child(set, "Tag"); t; t = s3_xml_next(t, "Tag")) {
        const char *why = tag_problem(t, true);
        if (why) {
            s3_fail(c, 400, "InvalidTag", "%s", why);
            goto bad;
        }
        char *k = s3_xml_text(s3_xml_child(t, "Key"));
        char *v = s3_xml_text(s3_xml_child(t, "Value"));
        bool dup = json_object_get(tags, k) != NULL;
        if (!dup)
            json_object_set_new(tags, k, json_string(v));
        free(k);
        free(v);
        if (dup) {
            s3_fail(c, 400, "InvalidTag", "Cannot provide multiple Tags with the same key");
            goto bad;
        }
    }
    if (json_object_size(tags) > 50) {
        s3_fail(c, 400, "InvalidTag", "A bucket has at most 50 tags");
        goto bad;
    }
    xmlFreeDoc(doc);
    return tags;
bad:
    json_decref(tags);
    xmlFreeDoc(doc);
    return NULL;
}

/* ---------- configurations: one table, GET / PUT / DELETE alike ---------- */

struct config {
    const char *query;  /* the subresource */
    const char *member; /* where the bucket keeps it */
    const char *missing_code, *missing_msg;
    unsigned put_status;
    json_t *(*check)(struct s3_call *c);
};

static const struct config configs[] = {
    {"lifecycle", "lifecycle", "NoSuchLifecycleConfiguration",
     "The lifecycle configuration does not exist", 200, check_lifecycle},
    {"cors", "cors", "NoSuchCORSConfiguration", "The CORS configuration does not exist", 200,
     check_cors},
    {"policy", "policy", "NoSuchBucketPolicy", "The bucket policy does not exist", 204,
     check_policy},
    {"tagging", "tags", "NoSuchTagSet", "The TagSet does not exist", 204, check_tagging},
};

static bool config_set(json_t *b, const struct config *cf)
{
    json_t *v = json_object_get(b, cf->member);
    return v && !(json_is_object(v) && json_object_size(v) == 0);
}

static void get_config(struct s3_call *c, json_t *b, const struct config *cf)
{
    if (!config_set(b, cf)) {
        const char *extra[] = {"BucketName", c->bucket, NULL};
        s3_fail_extra(c, 404, cf->missing_code, extra, "%s", cf->missing_msg);
        return;
    }
    json_t *v = json_object_get(b, cf->member);
    if (strcmp(cf->member, "tags") == 0) {
        struct s3_xw x;
        s3_xw_begin(&x, "Tagging");
        s3_xw_open(&x, "TagSet");
        const char *k;
        json_t *val;
        json_object_foreach(v, k, val)
        {
            s3_xw_open(&x, "Tag");
            s3_xw_text(&x, "Key", k);
            s3_xw_text(&x, "Value", json_string_value(val));
            s3_xw_close(&x);
        }
        s3_xw_close(&x);
        s3_xw_send(&x, c, 200);
        return;
    }
    const char *text = json_string_value(v);
    size_t len = json_string_length(v);
    s3_resp_take(c->resp, 200,
                 strcmp(cf->member, "policy") == 0 ? "application/json" : "application/xml",
                 sf_xstrndup(text, len), len);
}

static void put_config(struct s3_call *c, json_t *b, const struct config *cf)
{
    json_t *v = cf->check(c);
    if (!v)
        return;
    json_t *upd = json_deep_copy(b);
    json_object_set_new(upd, cf->member, v);
    if (s3_save(c, "buckets", c->bucket, upd) == 0)
        lc_resp_empty(c->resp, cf->put_status);
    json_decref(upd);
}

static void delete_config(struct s3_call *c, json_t *b, const struct config *cf)
{
    json_t *upd = json_deep_copy(b);
    if (strcmp(cf->member, "tags") == 0)
        json_object_set_new(upd, "tags", json_object());
    else
        json_object_del(upd, cf->member);
    if (s3_save(c, "buckets", c->bucket, upd) == 0)
        lc_resp_empty(c->resp, 204);
    json_decref(upd);
}

/* ---------- routing of /s3/{bucket} ---------- */

static void note_checksum(void *cls, const char *name, const char *value)
{
    (void)value;
    if (strncasecmp(name, "x-amz-checksum-", 15) == 0)
        *(bool *)cls = true;
}

/* S3 wants an integrity check on every configuration it is sent:
 * Content-MD5 (s3.c has compared it with the body), or one of the newer
 * x-amz-checksum-* headers (accepted, not checked). */
static bool has_checksum(struct s3_call *c)
{
    bool found = lc_req_header(c->req, "Content-MD5") != NULL;
    if (!found)
        lc_req_headers_each(c->req, note_checksum, &found);
    return found;
}

/* Subresources S3 has and localcloud does not emulate: 501, rather than
 * a listing or a bucket creation the client did not ask for. */
static const char *const not_emulated[] = {
    "acl", "encryption", "website", "replication", "logging", "notification",
    "requestPayment", "accelerate", "object-lock", "ownershipControls", "publicAccessBlock",
    "analytics", "metrics", "inventory", "intelligent-tiering", "policyStatus", "torrent",
    "select", "restore", NULL};

void s3_bucket_request(struct s3_call *c)
{
    const char *m = c->req->method;
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    for (size_t i = 0; not_emulated[i]; i++) {
        if (s3_has_query(c, not_emulated[i])) {
            s3_fail(c, 501, "NotImplemented",
                    "localcloud does not emulate the bucket subresource ?%s", not_emulated[i]);
            return;
        }
    }
    const struct config *cf = NULL;
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
        if (s3_has_query(c, configs[i].query))
            cf = &configs[i];
    if (strcmp(m, "PUT") == 0 && !cf && !s3_has_query(c, "versioning")) {
        create_bucket(c);
        return;
    }
    json_t *b = s3_find_bucket(c, c->bucket);
    if (!b)
        return;
    if (strcmp(m, "PUT") == 0 && (cf || s3_has_query(c, "versioning")) && !has_checksum(c)) {
        s3_fail(c, 400, "InvalidRequest",
                "Missing required header for this request: Content-MD5 (or an x-amz-checksum-* "
                "header)");
        return;
    }
    if (cf) {
        if (get)
            get_config(c, b, cf);
        else if (strcmp(m, "PUT") == 0)
            put_config(c, b, cf);
        else if (strcmp(m, "DELETE") == 0)
            delete_config(c, b, cf);
        else
            s3_fail(c, 405, "MethodNotAllowed",
                    "The specified method is not allowed against this resource.");
        return;
    }
    if (s3_has_query(c, "versioning")) {
        if (get)
            get_versioning(c, b);
        else if (strcmp(m, "PUT") == 0)
            put_versioning(c, b);
        else
            s3_fail(c, 405, "MethodNotAllowed",
                    "The specified method is not allowed against this resource.");
        return;
    }
    if (strcmp(m, "POST") == 0 && s3_has_query(c, "delete")) {
        s3_delete_objects(c, b);
    } else if (get && s3_has_query(c, "location")) {
        get_location(c, b);
    } else if (strcmp(m, "HEAD") == 0) {
        head_bucket(c, b);
    } else if (get && s3_has_query(c, "versions")) {
        s3_list_versions(c, b);
    } else if (get && s3_has_query(c, "uploads")) {
        s3_list_uploads(c, b);
    } else if (get) {
        s3_list_objects(c, b);
    } else if (strcmp(m, "DELETE") == 0) {
        delete_bucket(c, b);
    } else {
        s3_fail(c, 405, "MethodNotAllowed",
                "The specified method is not allowed against this resource.");
    }
}

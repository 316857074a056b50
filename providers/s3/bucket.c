/*
 * s3_bucket: a bucket and the configurations it carries (versioning,
 * lifecycle rules, CORS rules, a policy, tags), each read back so that a
 * change made outside sparkform shows in the next plan.
 *
 * The bucket is tagged with the stack's lineage and the resource's address
 * right after it is made, so that adopt finds a bucket a killed run made
 * and never recorded; a bucket of the same name without those tags is
 * someone else's and is never taken over. The plan step checks what can be
 * checked without the network (the name, the rules, the policy's JSON) and
 * puts lifecycle and CORS rules in the shape read reports, and the policy
 * in one canonical spelling, so that equal configurations compare equal
 * (those shapes are rules.c's).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "sigv4.h"

static const struct sf_attr attrs[] = {
    {"name", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL,
     "the bucket's name: 3-63 of a-z 0-9 . -, unique in the whole object store"},
    {"versioning", SF_BOOL, SF_OPTIONAL, "false",
     "keep every version of every object; turning it off again suspends it"},
    {"lifecycle", SF_LIST, SF_OPTIONAL, "[]",
     "expiry rules: [{id, prefix, expiration_days, noncurrent_expiration_days, enabled}]"},
    {"cors", SF_LIST, SF_OPTIONAL, "[]",
     "CORS rules: [{allowed_origins, allowed_methods, allowed_headers, expose_headers, "
     "max_age_seconds}]"},
    {"policy", SF_STRING, SF_OPTIONAL, NULL, "the bucket policy as JSON text, compared by meaning"},
    {"tags", SF_MAP, SF_OPTIONAL, "{}", "tags (string values)"},
    {"force_destroy", SF_BOOL, SF_OPTIONAL, "false",
     "destroy deletes every object version and delete marker first; else a bucket that is not "
     "empty is an error"},
    {"access_key", SF_STRING, SF_OPTIONAL, NULL,
     "access key id for this bucket; default the provider's"},
    {"secret_key", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL,
     "secret key for this bucket; default the provider's"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the bucket's name"},
    {"arn", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "arn:aws:s3:::NAME"},
    {"url", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the bucket's URL at the endpoint"},
    {"region", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the region the store reports for it"},
    {"endpoint", SF_STRING, SF_COMPUTED | SF_STABLE, NULL,
     "the S3 endpoint URL it is reached at (what S3 clients such as Spark's S3A are given)"},
    {NULL, 0, 0, NULL, NULL},
};

/* Attributes that only say how the bucket is reached or destroyed: never
 * read back, a change of them alone sends nothing. */
static const char *const local_attrs[] = {"force_destroy", "access_key", "secret_key", NULL};

/* ---------- the plan step ---------- */

static int bucket_plan(struct sf_call *c, json_t *desired)
{
    int rc = 0;
    const json_t *name = json_object_get(desired, "name");
    const char *problem;
    if (json_is_string(name) && (problem = sf_s3_bucket_name_problem(json_string_value(name)))) {
        sf_s3_error(c, SF_CLASS_INVALID, "name: \"%s\" is not a valid bucket name: %s",
                    json_string_value(name), problem);
        rc = -1;
    }
    static const struct {
        const char *attr;
        json_t *(*normalize)(const json_t *, char **);
    } shapes[] = {
        {"lifecycle", sf_s3_lifecycle_normalize},
        {"cors", sf_s3_cors_normalize},
        {"tags", sf_s3_tags_normalize},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        json_t *v = json_object_get(desired, shapes[i].attr);
        if (!v || sf_value_has_unknown(v))
            continue;
        char *why = NULL;
        json_t *norm = shapes[i].normalize(v, &why);
        if (!norm) {
            sf_s3_error(c, SF_CLASS_INVALID, "%s", why);
            free(why);
            rc = -1;
            continue;
        }
        json_object_set_new(desired, shapes[i].attr, norm);
    }
    const json_t *policy = json_object_get(desired, "policy");
    if (json_is_string(policy)) {
        char *canon = sf_s3_policy_canonical(json_string_value(policy));
        if (!canon) {
            sf_s3_error(c, SF_CLASS_INVALID,
                        "policy: expected a JSON object (a bucket policy document "
                        "with a Statement)");
            rc = -1;
        } else {
            json_object_set_new(desired, "policy", json_string(canon));
            free(canon);
        }
    }
    return rc;
}

/* ---------- requests ---------- */

static const char *bucket_name(const json_t *v)
{
    const char *n = sf_s3_str(v, "name");
    return *n ? n : sf_s3_str(v, "id");
}

/* GET of a subresource (?versioning, ?lifecycle, ...): *absent when the
 * bucket has none (a 404 of that configuration, or a server that does not
 * implement it), *gone when the bucket itself is gone. */
static int get_sub(struct sf_call *c, const struct sf_s3_keys *k, const char *name, const char *sub,
                   const char *what, struct sf_s3_resp *r, bool *absent, bool *gone)
{
    struct sf_s3_req rq = {.method = "GET", .bucket = name, .query = sub};
    *absent = *gone = false;
    if (sf_s3_do(c, k, &rq, what, SF_S3_OK404 | SF_S3_OK_NOTIMPL, r) < 0)
        return -1;
    if (r->http.status == 404 && r->code && strcmp(r->code, "NoSuchBucket") == 0)
        *gone = true;
    else if (r->http.status == 404 || sf_s3_not_implemented(r))
        *absent = true;
    /* A store that does not know the subresource may ignore it and list
     * the bucket instead (s3rver does with ?versioning): it has none. */
    else if (sf_s3_xml_is(r->http.body, r->http.len, "ListBucketResult"))
        *absent = true;
    return 0;
}

static int malformed(struct sf_call *c, const char *what, const char *doc)
{
    sf_s3_error(c, SF_CLASS_INVALID, "%s: the answer is not a %s document", what, doc);
    return -1;
}

/* This stack's own tags for c->address: a new object. */
static json_t *own_tags(const struct sf_call *c)
{
    return json_pack("{s:s, s:s}", SF_S3_TAG_LINEAGE, c->lineage ? c->lineage : "",
                     SF_S3_TAG_ADDRESS, c->address);
}

static bool is_own_tag(const char *k)
{
    return strcmp(k, SF_S3_TAG_LINEAGE) == 0 || strcmp(k, SF_S3_TAG_ADDRESS) == 0;
}

/* Whether the tags a bucket carries say this stack made it for c->address. */
static bool ours(const struct sf_call *c, const json_t *tags)
{
    return c->lineage && strcmp(sf_s3_str(tags, SF_S3_TAG_LINEAGE), c->lineage) == 0 &&
           strcmp(sf_s3_str(tags, SF_S3_TAG_ADDRESS), c->address) == 0;
}

/*
 * What the bucket name looks like now, as attributes: *out NULL when it is
 * gone. base (the recorded or desired values) gives what is never read
 * back (force_destroy, the keys) and the spelling of an equal policy. *tags
 * (when not NULL) receives every tag the bucket carries, sparkform's own
 * included.
 */
static int observe(struct sf_call *c, const struct sf_s3_keys *k, const char *name,
                   const json_t *base, json_t **out, json_t **tags)
{
    const struct sf_s3_ctx *x = c->ctx;
    *out = NULL;
    if (tags)
        *tags = NULL;
    struct sf_s3_req head = {.method = "HEAD", .bucket = name};
    struct sf_s3_resp r;
    if (sf_s3_do(c, k, &head, "reading the bucket", SF_S3_OK404, &r) < 0) {
        sf_s3_resp_free(&r);
        return -1;
    }
    if (r.http.status == 404) {
        sf_s3_resp_free(&r);
        return 0;
    }
    char *region = sf_http_header(&r.http, "x-amz-bucket-region");
    sf_s3_resp_free(&r); /* zeroed: freeing it again below is harmless */

    struct sf_s3_target t;
    sf_s3_target(&x->ep, name, NULL, NULL, &t);
    char *arn = sf_asprintf("arn:aws:s3:::%s", name);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, "id", name, "arn", arn, "url",
                          t.url, "region", region && *region ? region : x->region, "endpoint",
                          x->endpoint);
    free(arn);
    free(region);
    sf_s3_target_free(&t);
    for (size_t i = 0; local_attrs[i]; i++) {
        json_t *v = json_object_get(base, local_attrs[i]);
        if (v && !json_is_null(v))
            json_object_set_new(o, local_attrs[i], sf_value_copy(v));
    }
    if (!json_object_get(o, "force_destroy"))
        json_object_set_new(o, "force_destroy", json_false());

    /* One GET per configuration; what a bucket lacks (or the store does
     * not implement) reads as the empty value. */
    enum sub_kind { VERSIONING, LIFECYCLE, CORS, TAGGING, POLICY };
    static const struct {
        enum sub_kind kind;
        const char *sub, *what, *doc;
    } subs[] = {
        {VERSIONING, "versioning", "reading the bucket's versioning", "VersioningConfiguration"},
        {LIFECYCLE, "lifecycle", "reading the bucket's lifecycle rules", "LifecycleConfiguration"},
        {CORS, "cors", "reading the bucket's CORS rules", "CORSConfiguration"},
        {TAGGING, "tagging", "reading the bucket's tags", "Tagging"},
        {POLICY, "policy", "reading the bucket's policy", "policy"},
    };
    bool absent = false, gone = false;
    int rc = 0;
    json_t *all_tags = NULL;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]) && rc == 0 && !gone; i++) {
        rc = get_sub(c, k, name, subs[i].sub, subs[i].what, &r, &absent, &gone);
        if (rc < 0 || gone) {
            sf_s3_resp_free(&r);
            break;
        }
        const char *body = r.http.body;
        size_t len = r.http.len;
        json_t *v = NULL;
        switch (subs[i].kind) {
        case VERSIONING: {
            /* Only Enabled is on; Suspended and never configured are off. */
            char *st = absent ? sf_xstrdup("") : sf_s3_xml_versioning_status(body, len);
            v = st ? json_boolean(strcmp(st, "Enabled") == 0) : NULL;
            free(st);
            break;
        }
        case LIFECYCLE:
            v = absent ? json_array() : sf_s3_xml_read_lifecycle(body, len);
            break;
        case CORS:
            v = absent ? json_array() : sf_s3_xml_read_cors(body, len);
            break;
        case TAGGING:
            v = absent ? json_object() : sf_s3_xml_read_tagging(body, len);
            break;
        case POLICY: {
            /* The recorded spelling stands while it means the same. */
            const char *had = json_string_value(json_object_get(base, "policy"));
            char *canon = absent ? NULL : sf_s3_policy_canonical(body);
            if (absent)
                v = json_null();
            else if (had && sf_s3_policy_equal(had, body))
                v = json_string(had);
            else
                v = json_string(canon ? canon : body);
            free(canon);
            break;
        }
        }
        sf_s3_resp_free(&r);
        if (!v)
            rc = malformed(c, subs[i].what, subs[i].doc);
        else if (subs[i].kind == TAGGING)
            all_tags = v;
        else
            json_object_set_new(o, subs[i].sub, v);
    }

    if (rc == 0 && !gone) {
        json_t *user = json_object();
        const char *key;
        json_t *v;
        json_object_foreach(all_tags, key, v)
        {
            if (!is_own_tag(key))
                json_object_set(user, key, v);
        }
        json_object_set_new(o, "tags", user);
        *out = o;
        o = NULL;
        if (tags) {
            *tags = all_tags;
            all_tags = NULL;
        }
    }
    json_decref(o);
    json_decref(all_tags);
    return rc;
}

/* A PUT (or DELETE, when body is NULL and del) of a subresource. */
static int put_sub(struct sf_call *c, const struct sf_s3_keys *k, const char *name, const char *sub,
                   const char *content_type, char *body, size_t len, const char *what)
{
    const char *headers[] = {content_type, NULL};
    struct sf_s3_req rq = {
        .method = body ? "PUT" : "DELETE",
        .bucket = name,
        .query = sub,
        .headers = body ? headers : NULL,
        .body = body,
        .body_len = len,
        .md5 = body != NULL,
    };
    struct sf_s3_resp r;
    int rc = sf_s3_do(c, k, &rq, what, body ? 0 : SF_S3_OK404, &r);
    sf_s3_resp_free(&r);
    free(body);
    return rc;
}

static int put_tags(struct sf_call *c, const struct sf_s3_keys *k, const char *name,
                    const json_t *user)
{
    json_t *all = own_tags(c);
    json_object_update(all, (json_t *)user);
    size_t len;
    char *doc = sf_s3_xml_tagging(all, &len);
    json_decref(all);
    const char *headers[] = {"Content-Type: application/xml", NULL};
    struct sf_s3_req rq = {
        .method = "PUT",
        .bucket = name,
        .query = "tagging",
        .headers = headers,
        .body = doc,
        .body_len = len,
        .md5 = true,
    };
    struct sf_s3_resp r;
    int rc = sf_s3_do(c, k, &rq, "tagging the bucket", SF_S3_OK_NOTIMPL, &r);
    /* A store without bucket tagging (s3rver) keeps a bucket without tags
     * as long as the description asks for none: adopt cannot recognise
     * such a bucket, which the README says. */
    if (rc == 0 && sf_s3_not_implemented(&r) && json_object_size(user) > 0) {
        sf_s3_error(
            c, SF_CLASS_INVALID,
            "tagging the bucket: the object store does not implement bucket tagging (HTTP %ld "
            "%s); remove the bucket's tags",
            r.http.status, r.code ? r.code : "");
        rc = -1;
    }
    sf_s3_resp_free(&r);
    free(doc);
    return rc;
}

/* Sends what differs between have (what exists; NULL for a new bucket)
 * and want: versioning, lifecycle, CORS and policy. */
static int configure(struct sf_call *c, const struct sf_s3_keys *k, const char *name,
                     const json_t *have, const json_t *want)
{
    size_t len;
    bool vw = json_is_true(json_object_get(want, "versioning"));
    bool vh = have && json_is_true(json_object_get(have, "versioning"));
    /* A bucket that never had versioning needs no "Suspended". */
    if (vw != vh && (vw || have)) {
        char *doc = sf_s3_xml_versioning(vw, &len);
        if (put_sub(c, k, name, "versioning", "Content-Type: application/xml", doc, len,
                    vw ? "enabling versioning" : "suspending versioning") < 0)
            return -1;
    }
    static const struct {
        const char *attr, *what_put, *what_del;
        char *(*build)(const json_t *, size_t *);
    } lists[] = {
        {"lifecycle", "setting the lifecycle rules", "removing the lifecycle rules",
         sf_s3_xml_lifecycle},
        {"cors", "setting the CORS rules", "removing the CORS rules", sf_s3_xml_cors},
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const json_t *w = json_object_get(want, lists[i].attr);
        const json_t *h = have ? json_object_get(have, lists[i].attr) : NULL;
        size_t nw = json_array_size(w), nh = json_array_size(h);
        if ((nw == 0 && nh == 0) || (nw > 0 && sf_value_equal(w, h)))
            continue;
        char *doc = nw ? lists[i].build(w, &len) : NULL;
        if (put_sub(c, k, name, lists[i].attr, "Content-Type: application/xml", doc, nw ? len : 0,
                    nw ? lists[i].what_put : lists[i].what_del) < 0)
            return -1;
    }
    const char *pw = json_string_value(json_object_get(want, "policy"));
    const char *ph = have ? json_string_value(json_object_get(have, "policy")) : NULL;
    if ((pw || ph) && !(pw && ph && strcmp(pw, ph) == 0)) {
        char *doc = pw ? sf_xstrdup(pw) : NULL;
        if (put_sub(c, k, name, "policy", "Content-Type: application/json", doc,
                    pw ? strlen(pw) : 0, pw ? "setting the policy" : "removing the policy") < 0)
            return -1;
    }
    return 0;
}

/* ---------- operations ---------- */

static int bucket_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    struct sf_s3_keys k;
    if (sf_s3_keys(c, prior, &k) < 0)
        return -1;
    return observe(c, &k, bucket_name(prior), prior, out, NULL);
}

/* `sparkform status`: whether the bucket exists, its versioning, and how
 * many objects it holds when one listing page tells (up to 1000: more
 * shows as "1000+", since counting a large bucket means listing it all). */
#define STATUS_PAGE 1000
static int bucket_status(struct sf_call *c, const json_t *recorded, json_t **out)
{
    *out = NULL;
    struct sf_s3_keys k;
    if (sf_s3_keys(c, recorded, &k) < 0)
        return -1;
    const char *name = bucket_name(recorded);
    struct sf_s3_req head = {.method = "HEAD", .bucket = name};
    struct sf_s3_resp r;
    int rc = sf_s3_do(c, &k, &head, "reading the bucket", SF_S3_OK404, &r);
    bool gone = rc == 0 && r.http.status == 404;
    sf_s3_resp_free(&r);
    if (rc < 0 || gone)
        return rc;
    bool absent;
    if (get_sub(c, &k, name, "versioning", "reading the bucket's versioning", &r, &absent,
                &gone) < 0) {
        sf_s3_resp_free(&r);
        return -1;
    }
    char *vs = gone || absent ? sf_xstrdup("")
                              : sf_s3_xml_versioning_status(r.http.body, r.http.len);
    sf_s3_resp_free(&r);
    if (gone) {
        free(vs);
        return 0;
    }
    if (!vs)
        return malformed(c, "reading the bucket's versioning", "VersioningConfiguration");
    char query[64];
    snprintf(query, sizeof(query), "list-type=2&max-keys=%d", STATUS_PAGE);
    struct sf_s3_req list = {.method = "GET", .bucket = name, .query = query};
    rc = sf_s3_do(c, &k, &list, "listing the bucket", SF_S3_OK404, &r);
    struct sf_s3_page p = {0};
    gone = rc == 0 && r.http.status == 404;
    if (rc == 0 && !gone && sf_s3_xml_read_objects(r.http.body, r.http.len, &p) < 0)
        rc = malformed(c, "listing the bucket", "ListBucketResult");
    sf_s3_resp_free(&r);
    if (rc == 0 && !gone) {
        size_t n = json_array_size(p.entries);
        bool versioning = strcmp(vs, "Enabled") == 0;
        const char *vword = versioning ? "versioning on"
                            : *vs      ? "versioning suspended"
                                       : "versioning off";
        if (p.truncated)
            *out = sf_status_new("EXISTS", true, "%zu+ objects, %s", n, vword);
        else
            *out = sf_status_new("EXISTS", true, "%zu object%s, %s", n, n == 1 ? "" : "s", vword);
        json_object_set_new(*out, "bucket", json_string(name));
        json_object_set_new(*out, "versioning", json_boolean(versioning));
        json_object_set_new(*out, "objects", json_integer((json_int_t)n));
        json_object_set_new(*out, "objects_more", json_boolean(p.truncated));
    }
    sf_s3_page_free(&p);
    free(vs);
    return rc;
}

static int bucket_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    struct sf_s3_keys k;
    if (sf_s3_keys(c, desired, &k) < 0)
        return -1;
    json_t *got = NULL, *tags = NULL;
    int rc = observe(c, &k, bucket_name(desired), desired, &got, &tags);
    /* Someone else's bucket of that name is not adopted: create then
     * reports whose it is. */
    if (rc == 0 && got && ours(c, tags))
        *out = json_incref(got);
    json_decref(got);
    json_decref(tags);
    return rc;
}

/* A new bucket that could not be tagged is deleted again (it is empty),
 * so that no later run finds an untagged bucket it cannot tell from
 * someone else's. */
static void undo_create(struct sf_call *c, const struct sf_s3_keys *k, const char *name)
{
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct sf_call cc = *c;
    cc.diags = &quiet;
    struct sf_s3_req rq = {.method = "DELETE", .bucket = name};
    struct sf_s3_resp r;
    sf_s3_do(&cc, k, &rq, "deleting the untagged bucket", SF_S3_OK404, &r);
    sf_s3_resp_free(&r);
    sf_diags_free(&quiet);
}

/* After a 409 BucketAlreadyOwnedByYou: 0 when the bucket is this stack's
 * (tagged for this address), else -1 after an error saying whose it is. */
static int claim_existing(struct sf_call *c, const struct sf_s3_keys *k, const char *name)
{
    struct sf_s3_resp r;
    bool absent, gone;
    if (get_sub(c, k, name, "tagging", "reading the tags of the existing bucket", &r, &absent,
                &gone) < 0) {
        sf_s3_resp_free(&r);
        return -1;
    }
    json_t *tags = absent || gone ? json_object() : sf_s3_xml_read_tagging(r.http.body, r.http.len);
    sf_s3_resp_free(&r);
    int rc = 0;
    if (!tags || !ours(c, tags)) {
        const char *lineage = sf_s3_str(tags, SF_S3_TAG_LINEAGE);
        const char *address = sf_s3_str(tags, SF_S3_TAG_ADDRESS);
        if (*lineage)
            sf_s3_error(
                c, SF_CLASS_CONFLICT,
                "creating the bucket: a bucket named \"%s\" already exists in this account, "
                "made by %s (lineage %s), not by this resource: choose another name",
                name, *address ? address : "another resource", lineage);
        else
            sf_s3_error(c, SF_CLASS_CONFLICT,
                        "creating the bucket: a bucket named \"%s\" already exists in this account "
                        "and was not made by this stack: choose another name, or take it over with "
                        "`sparkform import %s %s`",
                        name, c->address, name);
        rc = -1;
    }
    json_decref(tags);
    return rc;
}

static int bucket_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    struct sf_s3_keys k;
    if (sf_s3_keys(c, desired, &k) < 0)
        return -1;
    const char *name = bucket_name(desired);
    const char *problem = sf_s3_bucket_name_problem(name);
    if (problem) {
        sf_s3_error(c, SF_CLASS_INVALID, "name: \"%s\" is not a valid bucket name: %s", name,
                    problem);
        return -1;
    }
    /* Some stores answer a CreateBucket of a bucket its caller owns with
     * 200 (AWS in us-east-1): look first, so that an existing bucket is
     * taken on only when it carries this stack's tags. */
    struct sf_s3_req head = {.method = "HEAD", .bucket = name};
    struct sf_s3_resp r;
    if (sf_s3_do(c, &k, &head, "looking for a bucket of that name", SF_S3_OK404, &r) < 0) {
        if (r.http.status == 403)
            sf_diag_detail(c->diags,
                           "a HEAD answers 403 when a bucket named \"%s\" belongs to another "
                           "account (bucket names are shared by every user of the store), or when "
                           "these keys are wrong or may not reach it: check access_key and "
                           "secret_key",
                           name);
        sf_s3_resp_free(&r);
        return -1;
    }
    bool exists = r.http.status != 404;
    sf_s3_resp_free(&r);
    bool made = false;
    int rc = 0;
    json_t *have = NULL;
    if (exists) {
        /* Ours: what it already has is the starting point of configure. */
        rc = claim_existing(c, &k, name);
        if (rc == 0)
            rc = observe(c, &k, name, desired, &have, NULL);
    } else {
        struct sf_s3_req rq = {.method = "PUT", .bucket = name};
        if (sf_s3_do(c, &k, &rq, "creating the bucket", SF_S3_OK409, &r) < 0) {
            sf_s3_resp_free(&r);
            return -1;
        }
        made = r.http.status != 409;
    }
    if (!exists && !made) {
        const char *code = r.code ? r.code : "";
        if (strcmp(code, "BucketAlreadyOwnedByYou") == 0) {
            /* When an earlier attempt of this same request went unanswered,
             * the bucket is the one it made; otherwise it must carry our
             * tags. */
            if (r.http.attempts <= 1)
                rc = claim_existing(c, &k, name);
            else
                made = true;
        } else if (strcmp(code, "BucketAlreadyExists") == 0) {
            sf_s3_error(c, SF_CLASS_CONFLICT,
                        "creating the bucket: the name \"%s\" is taken by another account (bucket "
                        "names are shared by every user of the object store): choose another name",
                        name);
            rc = -1;
        } else {
            sf_s3_error(c, SF_CLASS_CONFLICT, "creating the bucket \"%s\": HTTP 409 %s", name,
                        code);
            rc = -1;
        }
    }
    sf_s3_resp_free(&r);
    if (rc < 0) {
        json_decref(have);
        return -1;
    }

    if (put_tags(c, &k, name, json_object_get(desired, "tags")) < 0) {
        if (made)
            undo_create(c, &k, name);
        json_decref(have);
        return -1;
    }
    /* From here on the bucket carries our tags: a failure leaves it for
     * the next run's adopt, which finds it and updates what is missing. */
    rc = configure(c, &k, name, have, desired);
    json_decref(have);
    if (rc < 0)
        return -1;
    json_t *got = NULL;
    if (observe(c, &k, name, desired, &got, NULL) < 0)
        return -1;
    if (!got) {
        sf_s3_error(c, SF_CLASS_NOT_FOUND,
                    "creating the bucket: \"%s\" was gone right after it was made", name);
        return -1;
    }
    *out = got;
    return 0;
}

static bool only_local_changes(const json_t *prior, const json_t *desired)
{
    for (const struct sf_attr *a = attrs; a->name; a++) {
        bool local = false;
        for (size_t i = 0; local_attrs[i] && !local; i++)
            local = strcmp(a->name, local_attrs[i]) == 0;
        if (local || (a->flags & SF_COMPUTED))
            continue;
        if (!sf_value_equal(json_object_get(prior, a->name), json_object_get(desired, a->name)))
            return false;
    }
    return true;
}

static int bucket_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                         json_t **out)
{
    *out = NULL;
    struct sf_s3_keys k;
    if (sf_s3_keys(c, desired, &k) < 0)
        return -1;
    const char *name = bucket_name(prior);
    if (only_local_changes(prior, desired)) {
        /* New keys or force_destroy: recorded, nothing to send. */
        json_t *o = sf_value_copy(prior);
        for (size_t i = 0; local_attrs[i]; i++) {
            json_t *v = json_object_get(desired, local_attrs[i]);
            if (v && !json_is_null(v))
                json_object_set_new(o, local_attrs[i], sf_value_copy(v));
            else
                json_object_del(o, local_attrs[i]);
        }
        *out = o;
        return 0;
    }
    const json_t *tw = json_object_get(desired, "tags");
    if (!sf_value_equal(tw, json_object_get(prior, "tags")) && put_tags(c, &k, name, tw) < 0)
        return -1;
    if (configure(c, &k, name, prior, desired) < 0)
        return -1;
    if (observe(c, &k, name, desired, out, NULL) < 0)
        return -1;
    if (!*out) {
        sf_s3_error(c, SF_CLASS_NOT_FOUND, "updating the bucket: \"%s\" is gone", name);
        return -1;
    }
    return 0;
}

/* ---------- delete ---------- */

/* The first page of what the bucket holds: every version and delete marker
 * (ListObjectVersions), or the objects (ListObjectsV2) where the store has
 * no versions listing. *gone when the bucket is gone. */
static int list_page(struct sf_call *c, const struct sf_s3_keys *k, const char *name,
                     struct sf_s3_page *p, bool *gone)
{
    memset(p, 0, sizeof(*p));
    *gone = false;
    static const char *const queries[] = {"versions", "list-type=2"};
    for (int i = 0; i < 2; i++) {
        struct sf_s3_req rq = {.method = "GET", .bucket = name, .query = queries[i]};
        struct sf_s3_resp r;
        if (sf_s3_do(c, k, &rq, "listing what the bucket holds", SF_S3_OK404 | SF_S3_OK_NOTIMPL,
                     &r) < 0) {
            sf_s3_resp_free(&r);
            return -1;
        }
        if (r.http.status == 404) {
            *gone = true;
            sf_s3_resp_free(&r);
            return 0;
        }
        if (sf_s3_not_implemented(&r) && i == 0) {
            sf_s3_resp_free(&r);
            continue;
        }
        int rc = i == 0 ? sf_s3_xml_read_versions(r.http.body, r.http.len, p)
                        : sf_s3_xml_read_objects(r.http.body, r.http.len, p);
        if (rc < 0 || sf_s3_not_implemented(&r))
            rc = malformed(c, "listing what the bucket holds",
                           i == 0 ? "ListVersionsResult" : "ListBucketResult");
        sf_s3_resp_free(&r);
        return rc;
    }
    return -1;
}

/* Deletes the entries of a page: DeleteObjects, or one by one where the
 * store has no DeleteObjects. */
static int delete_entries(struct sf_call *c, const struct sf_s3_keys *k, const char *name,
                          const json_t *entries)
{
    size_t len;
    char *doc = sf_s3_xml_delete(entries, &len);
    const char *headers[] = {"Content-Type: application/xml", NULL};
    struct sf_s3_req rq = {
        .method = "POST",
        .bucket = name,
        .query = "delete",
        .headers = headers,
        .body = doc,
        .body_len = len,
        .md5 = true,
    };
    struct sf_s3_resp r;
    /* DeleteObjects is a POST that may be repeated: deleting twice is the
     * same as deleting once. */
    int rc = sf_s3_do(c, k, &rq, "deleting the bucket's objects", SF_S3_OK_NOTIMPL, &r);
    free(doc);
    if (rc == 0 && !sf_s3_not_implemented(&r)) {
        json_t *errors = sf_s3_xml_read_delete_errors(r.http.body, r.http.len);
        if (json_array_size(errors) > 0) {
            json_t *e = json_array_get(errors, 0);
            sf_s3_error(
                c, sf_s3_error_class(403, sf_s3_str(e, "code")),
                "deleting the bucket's objects: %zu could not be deleted, the first \"%s\": "
                "%s: %s",
                json_array_size(errors), sf_s3_str(e, "key"), sf_s3_str(e, "code"),
                sf_s3_str(e, "message"));
            rc = -1;
        }
        json_decref(errors);
        sf_s3_resp_free(&r);
        return rc;
    }
    bool one_by_one = rc == 0;
    sf_s3_resp_free(&r);
    if (!one_by_one)
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *vid = json_string_value(json_object_get(e, "version_id"));
        char *query = NULL;
        if (vid) {
            char *enc = sf_sigv4_uri_encode(vid, strlen(vid), false);
            query = sf_asprintf("versionId=%s", enc);
            free(enc);
        }
        struct sf_s3_req d = {
            .method = "DELETE", .bucket = name, .key = sf_s3_str(e, "key"), .query = query};
        rc = sf_s3_do(c, k, &d, "deleting an object of the bucket", SF_S3_OK404, &r);
        sf_s3_resp_free(&r);
        free(query);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void not_empty(struct sf_call *c, const char *name, const struct sf_s3_page *p)
{
    size_t objects = 0, all = json_array_size(p->entries);
    bool versioned = false;
    size_t i;
    json_t *e;
    json_array_foreach(p->entries, i, e)
    {
        /* An unversioned bucket lists its objects as version "null". */
        const char *vid = json_string_value(json_object_get(e, "version_id"));
        if ((vid && strcmp(vid, "null") != 0) || json_is_true(json_object_get(e, "delete_marker")))
            versioned = true;
        if (json_is_true(json_object_get(e, "latest")) &&
            !json_is_true(json_object_get(e, "delete_marker")))
            objects++;
    }
    const char *more = p->truncated ? "at least " : "";
    if (versioned)
        sf_s3_error(
            c, SF_CLASS_CONFLICT,
            "destroying the bucket \"%s\": it is not empty: it holds %s%zu object%s (%s%zu "
            "object versions and delete markers in all), and force_destroy is not set; nothing "
            "was deleted",
            name, more, objects, objects == 1 ? "" : "s", more, all);
    else
        sf_s3_error(c, SF_CLASS_CONFLICT,
                    "destroying the bucket \"%s\": it is not empty: it holds %s%zu object%s, and "
                    "force_destroy is not set; nothing was deleted",
                    name, more, all, all == 1 ? "" : "s");
    sf_diag_detail(c->diags, "set force_destroy: true to delete them with the bucket (then apply "
                             "before destroying), or empty the bucket first");
}

static int bucket_delete(struct sf_call *c, const json_t *prior)
{
    struct sf_s3_keys k;
    if (sf_s3_keys(c, prior, &k) < 0)
        return -1;
    const char *name = bucket_name(prior);
    bool force = json_is_true(json_object_get(prior, "force_destroy"));
    /* Emptying and deleting are repeated while writers keep adding objects
     * (BucketNotEmpty), until the call's deadline. */
    for (int round = 0;; round++) {
        for (;;) {
            struct sf_s3_page p;
            bool gone;
            if (list_page(c, &k, name, &p, &gone) < 0)
                return -1;
            if (gone)
                return 0;
            size_t n = json_array_size(p.entries);
            if (n > 0 && !force) {
                not_empty(c, name, &p);
                sf_s3_page_free(&p);
                return -1;
            }
            if (n > 0 && c->status)
                c->status(c, "deleting the bucket's objects");
            int rc = n > 0 ? delete_entries(c, &k, name, p.entries) : 0;
            sf_s3_page_free(&p);
            if (rc < 0)
                return -1;
            if (n == 0)
                break;
        }
        struct sf_s3_req rq = {.method = "DELETE", .bucket = name};
        struct sf_s3_resp r;
        int rc = sf_s3_do(c, &k, &rq, "deleting the bucket", SF_S3_OK404 | SF_S3_OK409, &r);
        bool busy = rc == 0 && r.http.status == 409;
        if (busy && (round >= 20 || (c->deadline > 0 && sf_now() >= c->deadline))) {
            sf_s3_error(c, SF_CLASS_CONFLICT,
                        "deleting the bucket \"%s\": the store still answers HTTP 409 %s after "
                        "emptying it %d times",
                        name, r.code ? r.code : "", round + 1);
            rc = -1;
        }
        sf_s3_resp_free(&r);
        if (rc < 0 || !busy)
            return rc;
        sf_sleep_ms(200L * (round + 1));
    }
}

const struct sf_resource_type sf_s3_bucket_type = {
    .name = "s3_bucket",
    .doc = "an S3 bucket with versioning, lifecycle and CORS rules, a policy and tags",
    .attrs = attrs,
    .read = bucket_read,
    .adopt = bucket_adopt,
    .create = bucket_create,
    .update = bucket_update,
    .delete = bucket_delete,
    .plan = bucket_plan,
    .status = bucket_status,
    .timeouts = {.create = 300, .update = 300, .delete = 1800, .read = 300},
};

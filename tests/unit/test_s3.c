/*
 * Unit tests of the s3 provider's pure parts (providers/s3): the XML it
 * sends and reads (libxml2), bucket-name validation, the policy comparison
 * by meaning, the shapes the plan step gives lifecycle and CORS rules, and
 * how a request is addressed and signed: the examples of the S3
 * documentation that tests/unit/test_sigv4.c checks lib/sigv4 against,
 * addressed the way the provider addresses them, and keys with odd
 * characters signed by the provider and verified by lib/sigv4's server
 * side. The provider against real servers: tests/e2e/s3_provider.sh
 * (localcloud) and s3_s3rver.sh.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3/s3.h"
#include "sigv4.h"
#include "util.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* 2013-05-24T00:00:00Z, the time of the AWS examples. */
static time_t t0(void)
{
    struct tm tm = {.tm_year = 113, .tm_mon = 4, .tm_mday = 24};
    return timegm(&tm);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    ck_assert_msg(v != NULL, "bad test JSON: %s", e.text);
    return v;
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
    json_t *want = parse(want_text);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_str_eq(g, w);
    free(g);
    free(w);
    json_decref(want);
}

/* ---------------------------------------------------------------- XML */

START_TEST(xml_lifecycle_round_trip)
{
    json_t *rules = parse("[{\"id\": \"events\", \"prefix\": \"spark-events/\", \"enabled\": true,"
                          "  \"expiration_days\": 30},"
                          " {\"id\": \"old & <odd>\", \"prefix\": \"\", \"enabled\": false,"
                          "  \"noncurrent_expiration_days\": 7, \"expiration_days\": 400}]");
    size_t len;
    char *doc = sf_s3_xml_lifecycle(rules, &len);
    ck_assert_uint_eq(len, strlen(doc));
    ck_assert_ptr_nonnull(strstr(doc, "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""));
    ck_assert_ptr_nonnull(strstr(doc, "<Filter><Prefix>spark-events/</Prefix></Filter>"));
    ck_assert_ptr_nonnull(strstr(doc, "<Status>Disabled</Status>"));
    /* Text is escaped by the writer, not pasted. */
    ck_assert_ptr_nonnull(strstr(doc, "<ID>old &amp; &lt;odd&gt;</ID>"));
    ck_assert_ptr_nonnull(
        strstr(doc, "<NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays>"));
    json_t *back = sf_s3_xml_read_lifecycle(doc, len);
    ck_assert_ptr_nonnull(back);
    ck_assert(json_equal(back, rules));
    free(doc);
    json_decref(back);
    json_decref(rules);
}
END_TEST

START_TEST(xml_lifecycle_other_shapes)
{
    /* Another client's rules: no namespace, the old rule-level Prefix, a
     * prefix inside And, actions this provider does not manage. */
    const char *doc =
        "<LifecycleConfiguration>"
        "<Rule><ID>a</ID><Prefix>logs/</Prefix><Status>Enabled</Status>"
        "<Expiration><Days>5</Days></Expiration></Rule>"
        "<Rule><ID>b</ID><Filter><And><Prefix>tmp/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
        "</And></Filter><Status>Enabled</Status>"
        "<Transition><Days>10</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>"
        "</LifecycleConfiguration>";
    json_t *r = sf_s3_xml_read_lifecycle(doc, strlen(doc));
    assert_json_eq(r, "[{\"id\":\"a\",\"prefix\":\"logs/\",\"enabled\":true,\"expiration_days\":5},"
                      " {\"id\":\"b\",\"prefix\":\"tmp/\",\"enabled\":true}]");
    json_decref(r);
    ck_assert_ptr_null(sf_s3_xml_read_lifecycle("<CORSConfiguration/>", 20));
    ck_assert_ptr_null(sf_s3_xml_read_lifecycle("<LifecycleConfiguration>", 24));
    ck_assert_ptr_null(sf_s3_xml_read_lifecycle("", 0));
}
END_TEST

START_TEST(xml_cors_tagging_versioning)
{
    json_t *rules =
        parse("[{\"allowed_origins\": [\"https://a.example\", \"*\"],"
              "  \"allowed_methods\": [\"GET\", \"HEAD\"], \"allowed_headers\": [\"*\"],"
              "  \"expose_headers\": [\"ETag\"], \"max_age_seconds\": 600},"
              " {\"allowed_origins\": [\"*\"], \"allowed_methods\": [\"PUT\"],"
              "  \"allowed_headers\": [], \"expose_headers\": []}]");
    size_t len;
    char *doc = sf_s3_xml_cors(rules, &len);
    ck_assert_ptr_nonnull(strstr(doc, "<AllowedOrigin>https://a.example</AllowedOrigin>"));
    ck_assert_ptr_nonnull(strstr(doc, "<MaxAgeSeconds>600</MaxAgeSeconds>"));
    json_t *back = sf_s3_xml_read_cors(doc, len);
    ck_assert(json_equal(back, rules));
    free(doc);
    json_decref(back);
    json_decref(rules);

    json_t *tags = parse("{\"team\": \"data\", \"a&b\": \"<x>\", \"empty\": \"\"}");
    doc = sf_s3_xml_tagging(tags, &len);
    /* sorted by name */
    ck_assert_ptr_nonnull(strstr(doc, "<Key>a&amp;b</Key><Value>&lt;x&gt;</Value>"));
    ck_assert(strstr(doc, "<Key>a&amp;b</Key>") < strstr(doc, "<Key>empty</Key>"));
    ck_assert(strstr(doc, "<Key>empty</Key>") < strstr(doc, "<Key>team</Key>"));
    back = sf_s3_xml_read_tagging(doc, len);
    ck_assert(json_equal(back, tags));
    free(doc);
    json_decref(back);
    json_decref(tags);

    doc = sf_s3_xml_versioning(true, &len);
    char *st = sf_s3_xml_versioning_status(doc, len);
    ck_assert_str_eq(st, "Enabled");
    free(st);
    free(doc);
    doc = sf_s3_xml_versioning(false, &len);
    st = sf_s3_xml_versioning_status(doc, len);
    ck_assert_str_eq(st, "Suspended");
    free(st);
    free(doc);
    /* A bucket that never had versioning answers an empty configuration. */
    const char *never =
        "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>";
    st = sf_s3_xml_versioning_status(never, strlen(never));
    ck_assert_str_eq(st, "");
    free(st);
}
END_TEST

START_TEST(xml_errors_and_listings)
{
    const char *err = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
                      "<Message>The specified bucket does not exist</Message>"
                      "<BucketName>b</BucketName><RequestId>4442587FB7D0A2F9</RequestId></Error>";
    char *code, *msg, *rid;
    ck_assert_int_eq(sf_s3_xml_error(err, strlen(err), &code, &msg, &rid), 0);
    ck_assert_str_eq(code, "NoSuchBucket");
    ck_assert_str_eq(msg, "The specified bucket does not exist");
    ck_assert_str_eq(rid, "4442587FB7D0A2F9");
    free(code);
    free(msg);
    free(rid);
    ck_assert_int_eq(sf_s3_xml_error("{\"error\": 1}", 12, &code, &msg, &rid), -1);
    ck_assert_ptr_null(code);

    const char *versions =
        "<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><IsTruncated>true</IsTruncated>"
        "<NextKeyMarker>k2</NextKeyMarker><NextVersionIdMarker>v9</NextVersionIdMarker>"
        "<Version><Key>k1</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest></Version>"
        "<Version><Key>k1</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest></Version>"
        "<DeleteMarker><Key>k2</Key><VersionId>v9</VersionId><IsLatest>true</IsLatest></"
        "DeleteMarker>"
        "</ListVersionsResult>";
    struct sf_s3_page p;
    ck_assert_int_eq(sf_s3_xml_read_versions(versions, strlen(versions), &p), 0);
    ck_assert(p.truncated);
    ck_assert_str_eq(p.next_key, "k2");
    ck_assert_str_eq(p.next_version, "v9");
    assert_json_eq(
        p.entries,
        "[{\"key\":\"k1\",\"version_id\":\"v2\",\"latest\":true,\"delete_marker\":false},"
        " {\"key\":\"k1\",\"version_id\":\"v1\",\"latest\":false,\"delete_marker\":false},"
        " {\"key\":\"k2\",\"version_id\":\"v9\",\"latest\":true,\"delete_marker\":true}]");
    sf_s3_page_free(&p);

    const char *objects = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                          "<Contents><Key>a b</Key><Size>3</Size></Contents>"
                          "<Contents><Key>c</Key></Contents></ListBucketResult>";
    ck_assert_int_eq(sf_s3_xml_read_objects(objects, strlen(objects), &p), 0);
    ck_assert(!p.truncated);
    ck_assert_ptr_null(p.next_token);
    assert_json_eq(p.entries, "[{\"key\":\"a b\",\"latest\":true,\"delete_marker\":false},"
                              " {\"key\":\"c\",\"latest\":true,\"delete_marker\":false}]");
    sf_s3_page_free(&p);
    ck_assert_int_eq(sf_s3_xml_read_objects(versions, strlen(versions), &p), -1);

    json_t *del = parse("[{\"key\": \"k1\", \"version_id\": \"v1\"}, {\"key\": \"a&b\"}]");
    size_t len;
    char *doc = sf_s3_xml_delete(del, &len);
    ck_assert_ptr_nonnull(strstr(doc, "<Quiet>true</Quiet>"));
    ck_assert_ptr_nonnull(strstr(doc, "<Object><Key>k1</Key><VersionId>v1</VersionId></Object>"));
    ck_assert_ptr_nonnull(strstr(doc, "<Object><Key>a&amp;b</Key></Object>"));
    free(doc);
    json_decref(del);
    const char *result =
        "<DeleteResult><Deleted><Key>x</Key></Deleted>"
        "<Error><Key>k1</Key><Code>AccessDenied</Code><Message>no</Message></Error>"
        "</DeleteResult>";
    json_t *errs = sf_s3_xml_read_delete_errors(result, strlen(result));
    assert_json_eq(errs, "[{\"key\":\"k1\",\"code\":\"AccessDenied\",\"message\":\"no\"}]");
    json_decref(errs);
}
END_TEST

START_TEST(xml_with_a_dtd_is_refused)
{
    /* An answer that defines entities (a billion laughs, an external file)
     * is refused whole: S3 never sends a DTD. */
    const char *doc = "<?xml version=\"1.0\"?>\n"
                      "<!DOCTYPE Tagging [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">"
                      "<!ENTITY ext SYSTEM \"file:///etc/passwd\">]>"
                      "<Tagging><TagSet><Tag><Key>k</Key><Value>&b;&ext;</Value></Tag></TagSet>"
                      "</Tagging>";
    ck_assert_ptr_null(sf_s3_xml_read_tagging(doc, strlen(doc)));
    const char *plain =
        "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>";
    json_t *tags = sf_s3_xml_read_tagging(plain, strlen(plain));
    assert_json_eq(tags, "{\"k\": \"v\"}");
    json_decref(tags);
}
END_TEST

/* --------------------------------------------------------- bucket names */

START_TEST(bucket_names)
{
    static const char *const good[] = {
        "abc", "sp-data", "my.bucket.1", "a-b-c", "0ab", "analytics-dev-spark", NULL};
    static const char *const bad[] = {
        "ab",          "Upper",
        "under_score", "-start",
        "end-",        "a..b",
        "a.-b",        "a-.b",
        "192.168.1.1", "xn--abc",
        "sthree-x",    "x-s3alias",
        "x--ol-s3",    "with space",
        "ünï",         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        NULL};
    for (size_t i = 0; good[i]; i++)
        ck_assert_msg(sf_s3_bucket_name_problem(good[i]) == NULL, "%s refused: %s", good[i],
                      sf_s3_bucket_name_problem(good[i]));
    for (size_t i = 0; bad[i]; i++)
        ck_assert_msg(sf_s3_bucket_name_problem(bad[i]) != NULL, "%s accepted", bad[i]);
    ck_assert_str_eq(sf_s3_bucket_name_problem("ab"), "a bucket name is 3 to 63 characters long");
    ck_assert_str_eq(sf_s3_bucket_name_problem("10.0.0.1"),
                     "a bucket name is not formatted as an IP address");
}
END_TEST

/* --------------------------------------------------------------- policy */

START_TEST(policy_by_meaning)
{
    const char *p =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"r\",\"Effect\":\"Allow\","
        "\"Principal\":\"*\",\"Action\":[\"s3:GetObject\",\"s3:ListBucket\"],"
        "\"Resource\":\"arn:aws:s3:::b/*\"}]}";
    /* other order of members and list items, other spacing */
    ck_assert(sf_s3_policy_equal(
        p, "{ \"Statement\" : [ { \"Resource\" : \"arn:aws:s3:::b/*\", \"Action\" : "
           "[\"s3:ListBucket\", \"s3:GetObject\"], \"Principal\": \"*\", \"Effect\": \"Allow\", "
           "\"Sid\": \"r\" } ],\n \"Version\": \"2012-10-17\" }"));
    /* a single value is the list of it; a statement object the list of it */
    const char *one =
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
        "\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}}";
    ck_assert(sf_s3_policy_equal(
        one,
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":[\"*\"],"
        "\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::b/*\"]}]}"));
    /* condition values: a boolean is its text */
    ck_assert(sf_s3_policy_equal("{\"C\":{\"Bool\":{\"aws:SecureTransport\":false}}}",
                                 "{\"C\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}"));
    /* different meanings */
    ck_assert(!sf_s3_policy_equal(p, one));
    ck_assert(!sf_s3_policy_equal(
        one, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Principal\":\"*\","
             "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}}"));
    ck_assert(!sf_s3_policy_equal("{\"A\":[\"x\",\"y\"]}", "{\"A\":[\"x\"]}"));
    ck_assert(!sf_s3_policy_equal("{\"A\":1}", "{\"A\":1,\"B\":2}"));
    /* not JSON */
    ck_assert(!sf_s3_policy_equal(p, "{not json"));
    ck_assert(!sf_s3_policy_equal(NULL, p));
}
END_TEST

/* ------------------------------------------------- rules of the plan step */

START_TEST(lifecycle_shapes)
{
    char *why = NULL;
    json_t *in = parse("[{\"id\": \"a\", \"expiration_days\": 30},"
                       " {\"id\": \"b\", \"prefix\": \"x/\", \"noncurrent_expiration_days\": 3,"
                       "  \"enabled\": false}]");
    json_t *out = sf_s3_lifecycle_normalize(in, &why);
    ck_assert_ptr_null(why);
    assert_json_eq(out, "[{\"id\":\"a\",\"prefix\":\"\",\"enabled\":true,\"expiration_days\":30},"
                        " {\"id\":\"b\",\"prefix\":\"x/\",\"enabled\":false,"
                        "  \"noncurrent_expiration_days\":3}]");
    /* what the XML reads back is what the plan step made */
    size_t len;
    char *doc = sf_s3_xml_lifecycle(out, &len);
    json_t *back = sf_s3_xml_read_lifecycle(doc, len);
    ck_assert(json_equal(back, out));
    free(doc);
    json_decref(back);
    json_decref(out);
    json_decref(in);

    static const struct {
        const char *in, *why;
    } bad[] = {
        {"{}", "lifecycle: expected a list of rules"},
        {"[{\"expiration_days\": 1}]", "lifecycle[0]: id: expected a name of 1 to 255 characters"},
        {"[{\"id\": \"a\"}]",
         "lifecycle[0]: a rule sets expiration_days, noncurrent_expiration_days or both"},
        {"[{\"id\": \"a\", \"expiration_days\": 0}]",
         "lifecycle[0]: expiration_days: expected a whole number of days above 0"},
        {"[{\"id\": \"a\", \"expiration_days\": 1}, {\"id\": \"a\", \"expiration_days\": 2}]",
         "lifecycle[1]: id \"a\" is used by two rules"},
        {"[{\"id\": \"a\", \"expiration_days\": 1, \"days\": 2}]",
         "lifecycle[0]: unknown key \"days\" (allowed: id, prefix, expiration_days, "
         "noncurrent_expiration_days, enabled)"},
        {"[{\"id\": \"a\", \"expiration_days\": 1, \"enabled\": \"yes\"}]",
         "lifecycle[0]: enabled: expected true or false"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in = parse(bad[i].in);
        ck_assert_ptr_null(sf_s3_lifecycle_normalize(in, &why));
        ck_assert_ptr_nonnull(why);
        ck_assert_str_eq(why, bad[i].why);
        free(why);
        json_decref(in);
    }
}
END_TEST

START_TEST(cors_shapes)
{
    char *why = NULL;
    json_t *in = parse("[{\"allowed_origins\": \"*\", \"allowed_methods\": [\"get\", \"Put\"],"
                       "  \"max_age_seconds\": 60}]");
    json_t *out = sf_s3_cors_normalize(in, &why);
    ck_assert_ptr_null(why);
    assert_json_eq(out, "[{\"allowed_origins\":[\"*\"],\"allowed_methods\":[\"GET\",\"PUT\"],"
                        "  \"allowed_headers\":[],\"expose_headers\":[],\"max_age_seconds\":60}]");
    size_t len;
    char *doc = sf_s3_xml_cors(out, &len);
    json_t *back = sf_s3_xml_read_cors(doc, len);
    ck_assert(json_equal(back, out));
    free(doc);
    json_decref(back);
    json_decref(out);
    json_decref(in);

    static const struct {
        const char *in, *why;
    } bad[] = {
        {"[{\"allowed_methods\": [\"GET\"]}]", "cors[0]: allowed_origins: at least one is needed"},
        {"[{\"allowed_origins\": [\"*\"], \"allowed_methods\": [\"PATCH\"]}]",
         "cors[0]: allowed_methods: \"PATCH\" is not one of GET, PUT, POST, DELETE, HEAD"},
        {"[{\"allowed_origins\": [1], \"allowed_methods\": [\"GET\"]}]",
         "cors[0]: allowed_origins: expected a list of strings"},
        {"[{\"allowed_origins\": [\"*\"], \"allowed_methods\": [\"GET\"], \"max_age_seconds\": "
         "-1}]",
         "cors[0]: max_age_seconds: expected a whole number of seconds"},
        {"[{\"allowed_origins\": [\"*\"], \"allowed_methods\": [\"GET\"], \"id\": \"x\"}]",
         "cors[0]: unknown key \"id\" (allowed: allowed_origins, allowed_methods, allowed_headers, "
         "expose_headers, max_age_seconds)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in = parse(bad[i].in);
        ck_assert_ptr_null(sf_s3_cors_normalize(in, &why));
        ck_assert_ptr_nonnull(why);
        ck_assert_str_eq(why, bad[i].why);
        free(why);
        json_decref(in);
    }
}
END_TEST

/* ------------------------------------------------ addressing and signing */

START_TEST(endpoints)
{
    struct sf_s3_endpoint ep;
    const char *why = NULL;
    ck_assert_int_eq(sf_s3_endpoint_parse("https://hb.ru-msk.vkcs.cloud:443/", true, &ep, &why), 0);
    ck_assert_str_eq(ep.scheme, "https");
    ck_assert_str_eq(ep.host, "hb.ru-msk.vkcs.cloud"); /* the default port is not sent */
    ck_assert_str_eq(ep.base, "");
    sf_s3_endpoint_free(&ep);
    ck_assert_int_eq(sf_s3_endpoint_parse("http://127.0.0.1:8780/s3//", true, &ep, &why), 0);
    ck_assert_str_eq(ep.host, "127.0.0.1:8780");
    ck_assert_str_eq(ep.base, "/s3");
    struct sf_s3_target t;
    sf_s3_target(&ep, NULL, NULL, NULL, &t);
    ck_assert_str_eq(t.url, "http://127.0.0.1:8780/s3/");
    sf_s3_target_free(&t);
    sf_s3_target(&ep, "b", NULL, "versioning", &t);
    ck_assert_str_eq(t.url, "http://127.0.0.1:8780/s3/b?versioning");
    ck_assert_str_eq(t.path, "/s3/b");
    ck_assert_str_eq(t.host, "127.0.0.1:8780");
    sf_s3_target_free(&t);
    sf_s3_endpoint_free(&ep);
    ck_assert_int_eq(sf_s3_endpoint_parse("ftp://x", true, &ep, &why), -1);
    ck_assert_int_eq(sf_s3_endpoint_parse("https://user:pw@x", true, &ep, &why), -1);
    ck_assert_int_eq(sf_s3_endpoint_parse("https://x/?a=b", true, &ep, &why), -1);
    ck_assert_int_eq(sf_s3_endpoint_parse("https://x:port", true, &ep, &why), -1);
    ck_assert_int_eq(sf_s3_endpoint_parse("https:///path", true, &ep, &why), -1);
}
END_TEST

/* The Authorization line of out (points into it). */
static const char *auth_line(const struct sf_buf *out)
{
    const char *a = strstr(out->s, "Authorization: ");
    ck_assert_ptr_nonnull(a);
    return a + strlen("Authorization: ");
}

/* Signs a request to examplebucket (virtual-host style, as the examples
 * are) at the examples' time and checks the documented signature. */
static void expect_documented(const char *key, const char *query, const char *method,
                              const char *const *headers, const char *body, const char *expect_path,
                              const char *signed_headers, const char *signature)
{
    struct sf_s3_endpoint ep;
    const char *why;
    ck_assert_int_eq(sf_s3_endpoint_parse("https://s3.amazonaws.com", false, &ep, &why), 0);
    struct sf_s3_target t;
    sf_s3_target(&ep, "examplebucket", key, query, &t);
    ck_assert_str_eq(t.host, "examplebucket.s3.amazonaws.com");
    ck_assert_str_eq(t.path, expect_path);
    char payload[65];
    sf_s3_sha256_hex(body, body ? strlen(body) : 0, payload);
    struct sf_s3_keys k = {AK, SK};
    struct sf_buf out = {0};
    ck_assert_int_eq(sf_s3_sign(&t, method, headers, payload, &k, "us-east-1", t0(), &out), 0);
    ck_assert_ptr_nonnull(strstr(out.s, "Host: examplebucket.s3.amazonaws.com\n"));
    ck_assert_ptr_nonnull(strstr(out.s, "X-Amz-Date: 20130524T000000Z\n"));
    char *want = sf_asprintf("AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/aws4_request"
                             ", SignedHeaders=%s, Signature=%s\n",
                             signed_headers, signature);
    ck_assert_str_eq(auth_line(&out), want);
    free(want);
    sf_buf_free(&out);
    sf_s3_target_free(&t);
    sf_s3_endpoint_free(&ep);
}

START_TEST(documented_signatures)
{
    const char *range[] = {"Range: bytes=0-9", NULL};
    expect_documented("test.txt", NULL, "GET", range, NULL, "/test.txt",
                      "host;range;x-amz-content-sha256;x-amz-date",
                      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    /* "$" in a key is percent-encoded in the path, as S3 signs it */
    const char *put[] = {"Date: Fri, 24 May 2013 00:00:00 GMT",
                         "x-amz-storage-class: REDUCED_REDUNDANCY", NULL};
    expect_documented("test$file.text", NULL, "PUT", put, "Welcome to Amazon S3.",
                      "/test%24file.text",
                      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    expect_documented(NULL, "lifecycle", "GET", NULL, NULL, "/",
                      "host;x-amz-content-sha256;x-amz-date",
                      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    expect_documented(NULL, "prefix=J&max-keys=2", "GET", NULL, NULL, "/",
                      "host;x-amz-content-sha256;x-amz-date",
                      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}
END_TEST

static char *lookup(void *ctx, const char *key)
{
    (void)ctx;
    return strcmp(key, AK) == 0 ? sf_xstrdup(SK) : NULL;
}

/* Verifies, as localcloud does with lib/sigv4, a request the provider
 * signed: path and query as on the wire, every header sent. */
static enum sf_sigv4_status verify(const char *method, const char *path, const char *query,
                                   const char *const *headers, const struct sf_buf *signed_lines,
                                   const char *body)
{
    struct sf_sigv4_header hs[16];
    char *names[16] = {NULL};
    size_t n = 0;
    char *lines = sf_xstrdup(signed_lines->s);
    for (const char *const *h = headers; h && *h; h++) {
        const char *colon = strchr(*h, ':');
        names[n] = sf_xstrndup(*h, (size_t)(colon - *h));
        hs[n] = (struct sf_sigv4_header){names[n], colon + 2};
        n++;
    }
    for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(l, ':');
        *colon = '\0';
        hs[n++] = (struct sf_sigv4_header){l, colon + 2};
    }
    struct sf_sigv4_request rq = {method, path, query, hs, n, NULL};
    struct sf_sigv4_verify_opts o = {.lookup = lookup,
                                     .service = "s3",
                                     .region = "ru-msk",
                                     .now = time(NULL),
                                     .body = body ? body : "",
                                     .body_len = body ? strlen(body) : 0};
    struct sf_sigv4_result res;
    enum sf_sigv4_status st = sf_sigv4_verify(&rq, &o, &res);
    sf_sigv4_result_free(&res);
    for (size_t i = 0; i < 16; i++)
        free(names[i]);
    free(lines);
    return st;
}

START_TEST(odd_keys_sign_and_verify)
{
    struct sf_s3_endpoint ep;
    const char *why;
    ck_assert_int_eq(sf_s3_endpoint_parse("http://127.0.0.1:8780/s3", true, &ep, &why), 0);
    static const struct {
        const char *key, *path;
    } keys[] = {
        {"jobs/etl job+v1.py", "/s3/sp-raw/jobs/etl%20job%2Bv1.py"},
        {"dir/\xc3\xa4\xc3\xbc=x&y?z#w%", "/s3/sp-raw/dir/%C3%A4%C3%BC%3Dx%26y%3Fz%23w%25"},
        {"a//b/~tilde_-.x", "/s3/sp-raw/a//b/~tilde_-.x"},
        {"(paren)*!'", "/s3/sp-raw/%28paren%29%2A%21%27"},
    };
    struct sf_s3_keys k = {AK, SK};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct sf_s3_target t;
        sf_s3_target(&ep, "sp-raw", keys[i].key, NULL, &t);
        ck_assert_str_eq(t.path, keys[i].path);
        char *url = sf_asprintf("http://127.0.0.1:8780%s", keys[i].path);
        ck_assert_str_eq(t.url, url);
        free(url);
        const char *body = "print(1)\n";
        char payload[65];
        sf_s3_sha256_hex(body, strlen(body), payload);
        const char *headers[] = {"Content-Type: text/x-python", "x-amz-meta-sha256: abc", NULL};
        struct sf_buf out = {0};
        ck_assert_int_eq(sf_s3_sign(&t, "PUT", headers, payload, &k, "ru-msk", time(NULL), &out),
                         0);
        ck_assert_ptr_nonnull(strstr(auth_line(&out), "x-amz-meta-sha256"));
        ck_assert_int_eq(verify("PUT", t.path, NULL, headers, &out, body), SF_SIGV4_OK);
        /* the signature covers the key, the headers and the body */
        ck_assert_int_eq(verify("PUT", "/s3/sp-raw/other", NULL, headers, &out, body),
                         SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
        const char *other[] = {"Content-Type: text/plain", "x-amz-meta-sha256: abc", NULL};
        ck_assert_int_eq(verify("PUT", t.path, NULL, other, &out, body),
                         SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
        ck_assert_int_eq(verify("PUT", t.path, NULL, headers, &out, "print(2)\n"),
                         SF_SIGV4_CONTENT_SHA256_MISMATCH);
        sf_buf_free(&out);
        sf_s3_target_free(&t);
    }
    /* queries of listings and subresources */
    static const char *const queries[] = {"versions", "list-type=2&continuation-token=a%2Bb%3D",
                                          "versionId=3%2F4", "delete"};
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        struct sf_s3_target t;
        sf_s3_target(&ep, "sp-raw", NULL, queries[i], &t);
        struct sf_buf out = {0};
        ck_assert_int_eq(
            sf_s3_sign(&t, "GET", NULL, SF_SIGV4_EMPTY_SHA256, &k, "ru-msk", time(NULL), &out), 0);
        ck_assert_int_eq(verify("GET", t.path, t.query, NULL, &out, NULL), SF_SIGV4_OK);
        sf_buf_free(&out);
        sf_s3_target_free(&t);
    }
    sf_s3_endpoint_free(&ep);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("s3");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, xml_lifecycle_round_trip);
    tcase_add_test(tc, xml_lifecycle_other_shapes);
    tcase_add_test(tc, xml_cors_tagging_versioning);
    tcase_add_test(tc, xml_errors_and_listings);
    tcase_add_test(tc, xml_with_a_dtd_is_refused);
    tcase_add_test(tc, bucket_names);
    tcase_add_test(tc, policy_by_meaning);
    tcase_add_test(tc, lifecycle_shapes);
    tcase_add_test(tc, cors_shapes);
    tcase_add_test(tc, endpoints);
    tcase_add_test(tc, documented_signatures);
    tcase_add_test(tc, odd_keys_sign_and_verify);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

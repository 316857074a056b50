/*
 * Unit tests for AWS Signature Version 4 (lib/sigv4.c): the signed
 * examples of the S3 documentation (also re-derived with botocore, see
 * tests/e2e/sigv4_boto.sh), sign -> verify round trips, every failure code
 * the verifier returns, presigned URLs, and the query canonicalisation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"
#include "util.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define SCOPE "20130524/us-east-1/s3/aws4_request"

/* 2013-05-24T00:00:00Z, the time of the AWS examples. */
static time_t t0(void)
{
    struct tm tm = {.tm_year = 113, .tm_mon = 4, .tm_mday = 24};
    return timegm(&tm);
}

static char *lookup(void *ctx, const char *key)
{
    (void)ctx;
    if (strcmp(key, AK) == 0)
        return sf_xstrdup(SK);
    if (strcmp(key, "OTHERKEY") == 0)
        return sf_xstrdup("other-secret");
    return NULL;
}

/* A request as a server receives it: the client's headers plus the ones
 * the signer produced. */
struct wire {
    const char *method, *path, *query;
    struct sf_sigv4_header h[24];
    size_t n;
    char *auth, *date;
    const char *payload;
};

static void wire_add(struct wire *w, const char *name, const char *value)
{
    ck_assert_uint_lt(w->n, 24);
    w->h[w->n++] = (struct sf_sigv4_header){name, value};
}

static void wire_free(struct wire *w)
{
    free(w->auth);
    free(w->date);
}

/* Signs w (its headers so far are the ones to sign) and appends what the
 * client sends on top. */
static void wire_sign(struct wire *w, const char *key, const char *secret, time_t now)
{
    struct sf_sigv4_request rq = {w->method, w->path, w->query, w->h, w->n, w->payload};
    ck_assert_int_eq(sf_sigv4_sign(&rq, key, secret, "us-east-1", "s3", now, &w->auth, &w->date),
                     0);
    wire_add(w, "X-Amz-Date", w->date);
    wire_add(w, "X-Amz-Content-SHA256", w->payload);
    wire_add(w, "Authorization", w->auth);
}

static enum sf_sigv4_status verify_at(const struct wire *w, time_t now, const void *body,
                                      size_t body_len, struct sf_sigv4_result *res)
{
    struct sf_sigv4_request rq = {w->method, w->path, w->query, w->h, w->n, NULL};
    struct sf_sigv4_verify_opts o = {.lookup = lookup,
                                     .region = "us-east-1",
                                     .service = "s3",
                                     .now = now,
                                     .body = body,
                                     .body_len = body_len};
    return sf_sigv4_verify(&rq, &o, res);
}

/* Verifies and returns the status, checking the result is well-formed. */
static enum sf_sigv4_status check(const struct wire *w, time_t now, const char *body)
{
    struct sf_sigv4_result res;
    enum sf_sigv4_status st = verify_at(w, now, body, body ? strlen(body) : 0, &res);
    ck_assert_int_eq(st, res.status);
    ck_assert_ptr_nonnull(res.message);
    ck_assert_ptr_null(strchr(res.message, '\n'));
    ck_assert_ptr_null(strstr(res.message, SK));
    sf_sigv4_result_free(&res);
    return st;
}

static void set_header(struct wire *w, const char *name, const char *value)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->h[i].name, name) == 0) {
            w->h[i].value = value;
            return;
        }
    wire_add(w, name, value);
}

static void drop_header(struct wire *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->h[i].name, name) == 0) {
            memmove(&w->h[i], &w->h[i + 1], (w->n - i - 1) * sizeof w->h[0]);
            w->n--;
            return;
        }
}

/* ---------------------------------------------- the documented examples */

static void expect_example(struct wire *w, const char *signed_headers, const char *signature)
{
    wire_sign(w, AK, SK, t0());
    ck_assert_str_eq(w->date, "20130524T000000Z");
    char *want = sf_asprintf("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                             ", SignedHeaders=%s, Signature=%s",
                             signed_headers, signature);
    ck_assert_str_eq(w->auth, want);
    free(want);
    ck_assert_int_eq(check(w, t0(), NULL), SF_SIGV4_OK);
}

START_TEST(test_example_get_object)
{
    struct wire w = {.method = "GET", .path = "/test.txt", .payload = SF_SIGV4_EMPTY_SHA256};
    wire_add(&w, "Host", HOST);
    wire_add(&w, "Range", "bytes=0-9");
    expect_example(&w, "host;range;x-amz-content-sha256;x-amz-date",
                   "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    ck_assert_int_eq(check(&w, t0(), ""), SF_SIGV4_OK);
    wire_free(&w);
}
END_TEST

START_TEST(test_example_put_object)
{
    const char *body = "Welcome to Amazon S3.";
    char h[65];
    sf_sigv4_sha256_hex(body, strlen(body), h);
    ck_assert_str_eq(h, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    struct wire w = {.method = "PUT", .path = "/test%24file.text", .payload = h};
    wire_add(&w, "Date", "Fri, 24 May 2013 00:00:00 GMT");
    wire_add(&w, "Host", HOST);
    wire_add(&w, "x-amz-storage-class", "REDUCED_REDUNDANCY");
    expect_example(&w, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                   "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    ck_assert_int_eq(check(&w, t0(), body), SF_SIGV4_OK);
    ck_assert_int_eq(check(&w, t0(), "Welcome to Amazon S3!"), SF_SIGV4_CONTENT_SHA256_MISMATCH);
    wire_free(&w);
}
END_TEST

START_TEST(test_example_get_lifecycle)
{
    struct wire w = {
        .method = "GET", .path = "/", .query = "lifecycle", .payload = SF_SIGV4_EMPTY_SHA256};
    wire_add(&w, "Host", HOST);
    expect_example(&w, "host;x-amz-content-sha256;x-amz-date",
                   "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    wire_free(&w);
    /* "lifecycle=" is the same canonical query. */
    struct wire w2 = {
        .method = "GET", .path = "/", .query = "lifecycle=", .payload = SF_SIGV4_EMPTY_SHA256};
    wire_add(&w2, "Host", HOST);
    expect_example(&w2, "host;x-amz-content-sha256;x-amz-date",
                   "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    wire_free(&w2);
}
END_TEST

START_TEST(test_example_list_objects)
{
    /* Given out of order: the signer sorts. */
    struct wire w = {.method = "GET",
                     .path = "/",
                     .query = "prefix=J&max-keys=2",
                     .payload = SF_SIGV4_EMPTY_SHA256};
    wire_add(&w, "Host", HOST);
    expect_example(&w, "host;x-amz-content-sha256;x-amz-date",
                   "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    wire_free(&w);
}
END_TEST

START_TEST(test_example_presigned)
{
    struct sf_sigv4_header h[] = {{"Host", HOST}};
    struct sf_sigv4_request rq = {"GET", "/test.txt", NULL, h, 1, NULL};
    char *q;
    ck_assert_int_eq(sf_sigv4_presign(&rq, AK, SK, "us-east-1", "s3", t0(), 86400, &q), 0);
    ck_assert_str_eq(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
                        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
                        "aws4_request"
                        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                        "&X-Amz-Signature="
                        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    free(q);
}
END_TEST

/* ------------------------------------------------------- round trips */

/* A PUT like the S3 provider sends: body hash, metadata, a query. */
static void put_wire(struct wire *w, const char *body, char hash[65])
{
    sf_sigv4_sha256_hex(body, strlen(body), hash);
    *w = (struct wire){.method = "PUT",
                       .path = "/analytics-dev/spark-events/app%201.json",
                       .query = "partNumber=1&uploadId=abc~123",
                       .payload = hash};
    wire_add(w, "Host", "127.0.0.1:9000");
    wire_add(w, "Content-Type", "application/json");
    wire_add(w, "x-amz-meta-sparkform-address", "s3_bucket.main");
}

START_TEST(test_round_trip)
{
    const char *body = "{\"ok\":true}";
    char hash[65];
    struct wire w;
    put_wire(&w, body, hash);
    wire_sign(&w, AK, SK, t0());
    ck_assert_int_eq(check(&w, t0(), body), SF_SIGV4_OK);
    ck_assert_int_eq(check(&w, t0(), NULL), SF_SIGV4_OK); /* body streamed elsewhere */
    /* Unsigned ordinary headers may come along (proxies, curl). */
    wire_add(&w, "User-Agent", "curl/7.88.1");
    wire_add(&w, "Accept", "*/*");
    ck_assert_int_eq(check(&w, t0(), body), SF_SIGV4_OK);

    struct sf_sigv4_result res;
    ck_assert_int_eq(verify_at(&w, t0(), body, strlen(body), &res), SF_SIGV4_OK);
    ck_assert_str_eq(res.access_key, AK);
    ck_assert(!res.presigned);
    ck_assert_ptr_nonnull(strstr(res.canonical_request,
                                 "PUT\n/analytics-dev/spark-events/app%201.json\n"
                                 "partNumber=1&uploadId=abc~123\n"
                                 "content-type:application/json\nhost:127.0.0.1:9000\n"));
    ck_assert_ptr_nonnull(strstr(res.string_to_sign, "AWS4-HMAC-SHA256\n20130524T000000Z\n"));
    sf_sigv4_result_free(&res);
    wire_free(&w);
}
END_TEST

START_TEST(test_header_names_and_spaces)
{
    /* A server may see names in any case and values with extra white space. */
    struct wire w = {.method = "GET", .path = "/b/k", .payload = SF_SIGV4_UNSIGNED_PAYLOAD};
    wire_add(&w, "host", "localhost:9000");
    wire_add(&w, "X-Amz-Meta-Note", "  two   words\tand  tab  ");
    wire_add(&w, "x-amz-meta-list", "a");
    wire_add(&w, "X-AMZ-META-LIST", " b ");
    wire_sign(&w, AK, SK, t0());
    ck_assert_ptr_nonnull(strstr(w.auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                         "x-amz-meta-list;x-amz-meta-note,"));
    struct sf_sigv4_result res;
    ck_assert_int_eq(verify_at(&w, t0(), "anything", 8, &res), SF_SIGV4_OK);
    ck_assert_ptr_nonnull(strstr(res.canonical_request, "\nx-amz-meta-list:a,b\n"));
    ck_assert_ptr_nonnull(strstr(res.canonical_request, "\nx-amz-meta-note:two words and tab\n"));
    ck_assert_ptr_nonnull(strstr(res.canonical_request, "\nUNSIGNED-PAYLOAD"));
    sf_sigv4_result_free(&res);
    /* Re-spaced in transit: still the same canonical value. */
    set_header(&w, "X-Amz-Meta-Note", "two words and tab");
    ck_assert_int_eq(check(&w, t0(), NULL), SF_SIGV4_OK);
    /* The order of repeated headers matters. */
    w.h[2].value = "b";
    w.h[3].value = "a";
    ck_assert_int_eq(check(&w, t0(), NULL), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    wire_free(&w);
}
END_TEST

/* ---------------------------------------------------- failure modes */

START_TEST(test_wrong_secret_and_unknown_key)
{
    char hash[65];
    struct wire w;
    put_wire(&w, "x", hash);
    wire_sign(&w, AK, "not-the-secret", t0());
    struct sf_sigv4_result res;
    ck_assert_int_eq(verify_at(&w, t0(), "x", 1, &res), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    ck_assert_str_eq(sf_sigv4_status_code(res.status), "SignatureDoesNotMatch");
    ck_assert_int_eq(sf_sigv4_status_http(res.status), 403);
    ck_assert_str_eq(res.access_key, AK);
    ck_assert_ptr_nonnull(res.canonical_request);
    ck_assert_ptr_nonnull(res.string_to_sign);
    sf_sigv4_result_free(&res);
    wire_free(&w);

    put_wire(&w, "x", hash);
    wire_sign(&w, "AKIDUNKNOWN", SK, t0());
    ck_assert_int_eq(verify_at(&w, t0(), "x", 1, &res), SF_SIGV4_INVALID_ACCESS_KEY_ID);
    ck_assert_str_eq(sf_sigv4_status_code(res.status), "InvalidAccessKeyId");
    ck_assert_ptr_nonnull(strstr(res.message, "AKIDUNKNOWN"));
    sf_sigv4_result_free(&res);
    wire_free(&w);

    /* Another valid key signing for itself is fine. */
    put_wire(&w, "x", hash);
    wire_sign(&w, "OTHERKEY", "other-secret", t0());
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_OK);
    wire_free(&w);
}
END_TEST

START_TEST(test_tampering)
{
    char hash[65];
    struct wire w;
    put_wire(&w, "x", hash);
    wire_sign(&w, AK, SK, t0());
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_OK);

    w.query = "partNumber=2&uploadId=abc~123";
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    w.query = "partNumber=1&uploadId=abc~123&acl";
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    /* Reordered and differently encoded: the same canonical query. */
    w.query = "uploadId=abc%7E123&partNumber=1";
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_OK);
    w.query = "partNumber=1&uploadId=abc~123";

    w.path = "/analytics-dev/spark-events/app%202.json";
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    /* S3 signs the path as sent: a different spelling is a different path. */
    w.path = "/analytics-dev/spark-events/app 1.json";
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    w.path = "/analytics-dev/spark-events/app%201.json";

    w.method = "POST";
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    w.method = "PUT";

    set_header(&w, "Content-Type", "text/plain");
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    set_header(&w, "Content-Type", "application/json");
    set_header(&w, "Host", "127.0.0.1:9001");
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    set_header(&w, "Host", "127.0.0.1:9000");
    /* A signed header that went missing. */
    drop_header(&w, "Content-Type");
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    wire_add(&w, "Content-Type", "application/json");
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_OK);

    /* One changed digit of the signature. */
    char *auth = sf_xstrdup(w.auth);
    char *last = auth + strlen(auth) - 1;
    *last = *last == '0' ? '1' : '0';
    set_header(&w, "Authorization", auth);
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    /* Truncated. */
    *last = '\0';
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    free(auth);
    wire_free(&w);
}
END_TEST

START_TEST(test_unsigned_amz_header)
{
    char hash[65];
    struct wire w;
    put_wire(&w, "x", hash);
    wire_sign(&w, AK, SK, t0());
    wire_add(&w, "x-amz-acl", "public-read");
    struct sf_sigv4_result res;
    ck_assert_int_eq(verify_at(&w, t0(), "x", 1, &res), SF_SIGV4_ACCESS_DENIED);
    ck_assert_ptr_nonnull(strstr(res.message, "x-amz-acl"));
    sf_sigv4_result_free(&res);
    wire_free(&w);
}
END_TEST

START_TEST(test_clock_skew)
{
    char hash[65];
    struct wire w;
    put_wire(&w, "x", hash);
    wire_sign(&w, AK, SK, t0());
    ck_assert_int_eq(check(&w, t0() + 20 * 60, "x"), SF_SIGV4_REQUEST_TIME_TOO_SKEWED);
    ck_assert_int_eq(check(&w, t0() - 20 * 60, "x"), SF_SIGV4_REQUEST_TIME_TOO_SKEWED);
    ck_assert_int_eq(check(&w, t0() + 14 * 60, "x"), SF_SIGV4_OK);
    ck_assert_int_eq(check(&w, t0() - 15 * 60, "x"), SF_SIGV4_OK);
    ck_assert_int_eq(sf_sigv4_status_http(SF_SIGV4_REQUEST_TIME_TOO_SKEWED), 403);

    struct sf_sigv4_request rq = {w.method, w.path, w.query, w.h, w.n, NULL};
    struct sf_sigv4_verify_opts o = {
        .lookup = lookup, .now = t0() + 120, .max_skew_s = 60};
    struct sf_sigv4_result res;
    ck_assert_int_eq(sf_sigv4_verify(&rq, &o, &res), SF_SIGV4_REQUEST_TIME_TOO_SKEWED);
    ck_assert_str_eq(sf_sigv4_status_code(res.status), "RequestTimeTooSkewed");
    sf_sigv4_result_free(&res);
    o.max_skew_s = 180;
    ck_assert_int_eq(sf_sigv4_verify(&rq, &o, &res), SF_SIGV4_OK);
    sf_sigv4_result_free(&res);

    /* A malformed or impossible date. */
    set_header(&w, "X-Amz-Date", "2013-05-24T00:00:00Z");
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_ACCESS_DENIED);
    set_header(&w, "X-Amz-Date", "20130231T000000Z");
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_ACCESS_DENIED);
    drop_header(&w, "X-Amz-Date");
    ck_assert_int_eq(check(&w, t0(), "x"), SF_SIGV4_ACCESS_DENIED);
    wire_free(&w);
}
END_TEST

START_TEST(test_content_sha256)
{
    char hash[65];
    struct wire w;
    put_wire(&w, "the body", hash);
    wire_sign(&w, AK, SK, t0());
    struct sf_sigv4_result res;
    ck_assert_int_eq(verify_at(&w, t0(), "the bodY", 8, &res), SF_SIGV4_CONTENT_SHA256_MISMATCH);
    ck_assert_str_eq(sf_sigv4_status_code(res.status), "XAmzContentSHA256Mismatch");
    ck_assert_int_eq(sf_sigv4_status_http(res.status), 400);
    sf_sigv4_result_free(&res);
    ck_assert_int_eq(check(&w, t0(), ""), SF_SIGV4_CONTENT_SHA256_MISMATCH);
    ck_assert_int_eq(check(&w, t0(), "the body"), SF_SIGV4_OK);

    drop_header(&w, "X-Amz-Content-SHA256");
    ck_assert_int_eq(verify_at(&w, t0(), "the body", 8, &res), SF_SIGV4_INVALID_REQUEST);
    ck_assert_str_eq(sf_sigv4_status_code(res.status), "InvalidRequest");
    ck_assert_ptr_nonnull(strstr(res.message, "x-amz-content-sha256"));
    sf_sigv4_result_free(&res);
    wire_add(&w, "X-Amz-Content-SHA256", "not-a-hash");
    ck_assert_int_eq(check(&w, t0(), "the body"), SF_SIGV4_INVALID_REQUEST);
    set_header(&w, "X-Amz-Content-SHA256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    ck_assert_int_eq(check(&w, t0(), "the body"), SF_SIGV4_INVALID_REQUEST);
    /* A valid-looking hash that was not signed. */
    set_header(&w, "X-Amz-Content-SHA256", SF_SIGV4_EMPTY_SHA256);
    ck_assert_int_eq(check(&w, t0(), NULL), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    wire_free(&w);

    /* UNSIGNED-PAYLOAD: any body goes. */
    w = (struct wire){.method = "PUT", .path = "/b/k", .payload = SF_SIGV4_UNSIGNED_PAYLOAD};
    wire_add(&w, "Host", "localhost");
    wire_sign(&w, AK, SK, t0());
    ck_assert_int_eq(check(&w, t0(), "whatever"), SF_SIGV4_OK);
    wire_free(&w);
}
END_TEST

/* The Authorization header of a correctly signed request, rewritten. */
#define ALL_SIGNED "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-sparkform-address"

static enum sf_sigv4_status with_auth(const char *auth)
{
    char hash[65];
    struct wire w;
    put_wire(&w, "x", hash);
    wire_sign(&w, AK, SK, t0());
    set_header(&w, "Authorization", auth);
    struct sf_sigv4_result res;
    enum sf_sigv4_status st = verify_at(&w, t0(), "x", 1, &res);
    if (st == SF_SIGV4_AUTHORIZATION_HEADER_MALFORMED) {
        ck_assert_str_eq(sf_sigv4_status_code(st), "AuthorizationHeaderMalformed");
        ck_assert_int_eq(sf_sigv4_status_http(st), 400);
        ck_assert_ptr_nonnull(strstr(res.message, "Authorization header"));
    }
    sf_sigv4_result_free(&res);
    wire_free(&w);
    return st;
}

START_TEST(test_malformed_header)
{
    const enum sf_sigv4_status M = SF_SIGV4_AUTHORIZATION_HEADER_MALFORMED;
    const char *sig = "Signature=0000000000000000000000000000000000000000000000000000000000000000";
    char *a;
#define AUTH(...) (a = sf_asprintf(__VA_ARGS__))
    /* The x-amz-* headers were not all signed. */
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, %s",
                                    sig)),
                     SF_SIGV4_ACCESS_DENIED);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=host;x-amz-date")),
                     M); /* no Signature */
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=host, Signature=1, Signature=2")),
                     M);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=host, Flavour=x, %s",
                                    sig)),
                     M);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK
                                    "/20130524/us-east-1/s3, SignedHeaders=host, %s",
                                    sig)),
                     M); /* scope too short */
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK
                                    "/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, %s",
                                    sig)),
                     M);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK
                                    "/20130524/eu-west-1/s3/aws4_request, SignedHeaders=host, %s",
                                    sig)),
                     M); /* wrong region */
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK
                                    "/20130524/us-east-1/ec2/aws4_request, SignedHeaders=host, %s",
                                    sig)),
                     M); /* wrong service */
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK
                                    "/20130523/us-east-1/s3/aws4_request, "
                                    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, %s",
                                    sig)),
                     M); /* scope date is not x-amz-date's */
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=/" SCOPE
                                    ", SignedHeaders=host, %s",
                                    sig)),
                     M); /* no key */
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=x-amz-date, %s",
                                    sig)),
                     M); /* host not signed */
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=Host;x-amz-date, %s",
                                    sig)),
                     M);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=host;;x-amz-date, %s",
                                    sig)),
                     M);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256")), M);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA1 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=host, %s",
                                    sig)),
                     M);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("AWS " AK ":frJIUN8DYpKDtOLCwo//yllqDzg=")), M);
    free(a);
    ck_assert_int_eq(with_auth(AUTH("Bearer abc")), M);
    free(a);
    /* Well-formed, a key we know, but not the right signature. */
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256 Credential=" AK "/" SCOPE
                                    ", SignedHeaders=" ALL_SIGNED ", %s",
                                    sig)),
                     SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    free(a);
    /* White space around the components is allowed. */
    ck_assert_int_eq(with_auth(AUTH("AWS4-HMAC-SHA256   Credential=OTHERKEY/" SCOPE
                                    " ,SignedHeaders=" ALL_SIGNED " , %s ",
                                    sig)),
                     SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    free(a);
#undef AUTH
}
END_TEST

START_TEST(test_not_signed)
{
    struct wire w = {.method = "GET", .path = "/b/k"};
    wire_add(&w, "Host", "localhost");
    struct sf_sigv4_result res;
    ck_assert_int_eq(verify_at(&w, t0(), NULL, 0, &res), SF_SIGV4_ACCESS_DENIED);
    ck_assert_str_eq(sf_sigv4_status_code(res.status), "AccessDenied");
    ck_assert_ptr_null(res.access_key);
    sf_sigv4_result_free(&res);
    /* A query that merely looks like S3's is still anonymous. */
    w.query = "X-Amz-Meta=1&acl";
    ck_assert_int_eq(check(&w, t0(), NULL), SF_SIGV4_ACCESS_DENIED);
}
END_TEST

START_TEST(test_sign_refuses)
{
    struct sf_sigv4_header host = {"Host", "h"};
    struct sf_sigv4_header two[] = {{"Host", "h"}, {"X-Amz-Date", "20130524T000000Z"}};
    struct sf_sigv4_header sha[] = {{"Host", "h"}, {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
    struct sf_sigv4_header noname[] = {{"Host", "h"}, {"", "v"}};
    char *auth, *date;
    struct sf_sigv4_request rq = {"GET", "/", NULL, &host, 1, NULL};
    ck_assert_int_eq(sf_sigv4_sign(&rq, AK, SK, "us-east-1", "s3", t0(), &auth, &date), -1);
    rq.payload_sha256 = SF_SIGV4_EMPTY_SHA256;
    ck_assert_int_eq(sf_sigv4_sign(&rq, AK, "", "us-east-1", "s3", t0(), &auth, &date), 0);
    free(auth);
    free(date);
    ck_assert_int_eq(sf_sigv4_sign(&rq, "AK/X", SK, "us-east-1", "s3", t0(), &auth, &date), -1);
    ck_assert_int_eq(sf_sigv4_sign(&rq, AK, SK, "", "s3", t0(), &auth, &date), -1);
    rq.n_headers = 0;
    ck_assert_int_eq(sf_sigv4_sign(&rq, AK, SK, "us-east-1", "s3", t0(), &auth, &date), -1);
    rq.headers = two;
    rq.n_headers = 2;
    ck_assert_int_eq(sf_sigv4_sign(&rq, AK, SK, "us-east-1", "s3", t0(), &auth, &date), -1);
    rq.headers = noname;
    ck_assert_int_eq(sf_sigv4_sign(&rq, AK, SK, "us-east-1", "s3", t0(), &auth, &date), -1);
    rq.headers = sha; /* disagrees with payload_sha256 */
    ck_assert_int_eq(sf_sigv4_sign(&rq, AK, SK, "us-east-1", "s3", t0(), &auth, &date), -1);
    ck_assert_ptr_null(auth);
    ck_assert_ptr_null(date);
    rq.payload_sha256 = SF_SIGV4_UNSIGNED_PAYLOAD; /* agrees: signed once */
    ck_assert_int_eq(sf_sigv4_sign(&rq, AK, SK, "us-east-1", "s3", t0(), &auth, &date), 0);
    ck_assert_ptr_nonnull(strstr(auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));
    free(auth);
    free(date);

    char *q;
    rq.headers = &host;
    rq.n_headers = 1;
    ck_assert_int_eq(sf_sigv4_presign(&rq, AK, SK, "us-east-1", "s3", t0(), 0, &q), -1);
    ck_assert_int_eq(sf_sigv4_presign(&rq, AK, SK, "us-east-1", "s3", t0(), 604801, &q), -1);
    ck_assert_int_eq(sf_sigv4_presign(&rq, AK, SK, "us-east-1", "s3", t0(), 604800, &q), 0);
    free(q);
    rq.n_headers = 0;
    ck_assert_int_eq(sf_sigv4_presign(&rq, AK, SK, "us-east-1", "s3", t0(), 60, &q), -1);
    ck_assert_ptr_null(q);
}
END_TEST

/* ---------------------------------------------------------- presigned */

struct presigned {
    struct wire w;
    char *query;
};

static void presign(struct presigned *p, const char *query, long expires)
{
    p->w = (struct wire){.method = "GET", .path = "/analytics-dev/jobs/etl%20v2.py"};
    wire_add(&p->w, "Host", "127.0.0.1:9000");
    struct sf_sigv4_request rq = {p->w.method, p->w.path, query, p->w.h, p->w.n, NULL};
    ck_assert_int_eq(sf_sigv4_presign(&rq, AK, SK, "us-east-1", "s3", t0(), expires, &p->query),
                     0);
    p->w.query = p->query;
}

START_TEST(test_presigned_round_trip)
{
    struct presigned p;
    presign(&p, "response-content-disposition=attachment%3B%20filename%3D%22etl.py%22&versionId=3",
            3600);
    /* Canonical order ('X' sorts before lower case), the signature last. */
    ck_assert_ptr_nonnull(strstr(p.query, "&X-Amz-SignedHeaders=host&response-content-disposition="
                                          "attachment%3B%20filename%3D%22etl.py%22&versionId=3"
                                          "&X-Amz-Signature="));
    struct sf_sigv4_result res;
    ck_assert_int_eq(verify_at(&p.w, t0() + 60, NULL, 0, &res), SF_SIGV4_OK);
    ck_assert(res.presigned);
    ck_assert_str_eq(res.access_key, AK);
    ck_assert_ptr_null(strstr(res.canonical_request, "X-Amz-Signature"));
    ck_assert_ptr_nonnull(strstr(res.canonical_request, "\nUNSIGNED-PAYLOAD"));
    sf_sigv4_result_free(&res);
    /* Any body: a presigned URL does not cover it. */
    ck_assert_int_eq(check(&p.w, t0() + 60, "anything"), SF_SIGV4_OK);
    /* Valid up to its end, not after; not long before its date either. */
    ck_assert_int_eq(check(&p.w, t0() + 3600, NULL), SF_SIGV4_OK);
    ck_assert_int_eq(verify_at(&p.w, t0() + 3601, NULL, 0, &res), SF_SIGV4_ACCESS_DENIED);
    ck_assert_ptr_nonnull(strstr(res.message, "expired"));
    sf_sigv4_result_free(&res);
    ck_assert_int_eq(check(&p.w, t0() - 20 * 60, NULL), SF_SIGV4_ACCESS_DENIED);

    /* The canonical query re-sorts, so the parameters may come in any order. */
    char *moved = sf_asprintf("versionId=3&%s", p.query);
    char *dup = strstr(moved + 12, "&versionId=3");
    ck_assert_ptr_nonnull(dup);
    memmove(dup, dup + 12, strlen(dup + 12) + 1);
    p.w.query = moved;
    ck_assert_int_eq(check(&p.w, t0(), NULL), SF_SIGV4_OK);
    free(moved);

    /* Tampered: a parameter, the path, the key. */
    char *t = sf_xstrdup(p.query);
    char *v = strstr(t, "versionId=3");
    v[10] = '4';
    p.w.query = t;
    ck_assert_int_eq(check(&p.w, t0(), NULL), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    free(t);
    p.w.query = p.query;
    p.w.path = "/analytics-dev/jobs/etl%20v3.py";
    ck_assert_int_eq(check(&p.w, t0(), NULL), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    p.w.path = "/analytics-dev/jobs/etl%20v2.py";
    char *extra = sf_asprintf("%s&acl", p.query);
    p.w.query = extra;
    ck_assert_int_eq(check(&p.w, t0(), NULL), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    free(extra);
    p.w.query = p.query;
    set_header(&p.w, "Host", "evil:9000");
    ck_assert_int_eq(check(&p.w, t0(), NULL), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
    set_header(&p.w, "Host", "127.0.0.1:9000");
    ck_assert_int_eq(check(&p.w, t0(), NULL), SF_SIGV4_OK);
    /* Both mechanisms at once. */
    wire_add(&p.w, "Authorization", "AWS4-HMAC-SHA256 Credential=x");
    ck_assert_int_eq(check(&p.w, t0(), NULL), SF_SIGV4_AUTHORIZATION_HEADER_MALFORMED);
    wire_free(&p.w);
    free(p.query);
}
END_TEST

/* Replaces the first "name=value" parameter's value of a presigned query. */
static char *replace_param(const char *query, const char *name, const char *value)
{
    char *key = sf_asprintf("%s=", name);
    const char *at = strstr(query, key);
    ck_assert_ptr_nonnull(at);
    const char *end = strchr(at, '&');
    char *r = sf_asprintf("%.*s%s%s%s", (int)(at - query), query, key, value ? value : "",
                          end ? end : "");
    if (!value) { /* drop it */
        free(r);
        r = sf_asprintf("%.*s%s", (int)(at - query) - (end ? 0 : 1), query, end ? end + 1 : "");
    }
    free(key);
    return r;
}

static enum sf_sigv4_status presigned_with(const char *name, const char *value)
{
    struct presigned p;
    presign(&p, "versionId=3", 600);
    char *q = replace_param(p.query, name, value);
    p.w.query = q;
    struct sf_sigv4_result res;
    enum sf_sigv4_status st = verify_at(&p.w, t0(), NULL, 0, &res);
    if (st == SF_SIGV4_AUTHORIZATION_QUERY_PARAMETERS_ERROR) {
        ck_assert_str_eq(sf_sigv4_status_code(st), "AuthorizationQueryParametersError");
        ck_assert_int_eq(sf_sigv4_status_http(st), 400);
    }
    sf_sigv4_result_free(&res);
    free(q);
    wire_free(&p.w);
    free(p.query);
    return st;
}

START_TEST(test_presigned_malformed)
{
    const enum sf_sigv4_status Q = SF_SIGV4_AUTHORIZATION_QUERY_PARAMETERS_ERROR;
    ck_assert_int_eq(presigned_with("versionId", "3"), SF_SIGV4_OK);
    ck_assert_int_eq(presigned_with("X-Amz-Signature", NULL), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Expires", NULL), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Date", NULL), Q);
    ck_assert_int_eq(presigned_with("X-Amz-SignedHeaders", NULL), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Algorithm", "AWS4-HMAC-SHA1"), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Expires", "604801"), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Expires", "-5"), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Expires", "1h"), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Date", "yesterday"), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE%2F20130524"), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Credential",
                                    "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-west-2%2Fs3%2Faws4_request"),
                     Q);
    ck_assert_int_eq(presigned_with("X-Amz-Credential",
                                    "NOSUCHKEY%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"),
                     SF_SIGV4_INVALID_ACCESS_KEY_ID);
    ck_assert_int_eq(presigned_with("X-Amz-SignedHeaders", "range"), Q);
    ck_assert_int_eq(presigned_with("X-Amz-Expires", "601"), SF_SIGV4_SIGNATURE_DOES_NOT_MATCH);
}
END_TEST

/* ------------------------------------------------- query canonical form */

static void cq_is(const char *raw, const char *want)
{
    char *got = sf_sigv4_canonical_query(raw, false);
    ck_assert_msg(strcmp(got, want) == 0, "canonical(%s) = %s, expected %s", raw ? raw : "NULL",
                  got, want);
    free(got);
}

START_TEST(test_query_encoding)
{
    cq_is(NULL, "");
    cq_is("", "");
    cq_is("&&", "");
    cq_is("b=2&a=1", "a=1&b=2");
    cq_is("&a=1&&b=2&", "a=1&b=2");
    /* spaces, raw or encoded, become %20; '+' is a literal plus */
    cq_is("prefix=a b", "prefix=a%20b");
    cq_is("prefix=a%20b", "prefix=a%20b");
    cq_is("q=a+b", "q=a%2Bb");
    cq_is("q=a%2bb", "q=a%2Bb");
    /* unreserved characters are never encoded, however they came */
    cq_is("q=%7E%41z-_.", "q=~Az-_.");
    cq_is("q=~", "q=~");
    /* '/' and other reserved characters are, in names too */
    cq_is("prefix=dir/sub/", "prefix=dir%2Fsub%2F");
    cq_is("a%2Fb=1", "a%2Fb=1");
    cq_is("q=!*'()$,;:@", "q=%21%2A%27%28%29%24%2C%3B%3A%40");
    cq_is("a=b=c", "a=b%3Dc");
    /* UTF-8 bytes one by one, upper-case hex */
    cq_is("q=\xc3\xbc\xe2\x9c\x93", "q=%C3%BC%E2%9C%93");
    cq_is("q=%c3%bc", "q=%C3%BC");
    /* a parameter without '=' or with an empty value */
    cq_is("acl", "acl=");
    cq_is("acl=", "acl=");
    cq_is("versioning&a=", "a=&versioning=");
    cq_is("=v", "=v");
    /* repeated names are kept and sorted by value */
    cq_is("tag=b&tag=a&tag=", "tag=&tag=a&tag=b");
    cq_is("k=1&k=1", "k=1&k=1");
    /* sorted by encoded name: '%' (0x25) before '-' (0x2D) before letters */
    cq_is("a-b=3&a b=1&a=2", "a=2&a%20b=1&a-b=3");
    cq_is("B=1&a=2&_=3", "B=1&_=3&a=2");
    /* broken escapes stay literal */
    cq_is("a=%zz&b=%4&c=%", "a=%25zz&b=%254&c=%25");
    /* %00 survives as a byte */
    cq_is("a=x%00y", "a=x%00y");

    char *s = sf_sigv4_canonical_query("X-Amz-Signature=abc&b=1&X-Amz-Date=x", true);
    ck_assert_str_eq(s, "X-Amz-Date=x&b=1");
    free(s);

    s = sf_sigv4_uri_encode("dir/a b+c~é", strlen("dir/a b+c~é"), true);
    ck_assert_str_eq(s, "dir/a%20b%2Bc~%C3%A9");
    free(s);
    s = sf_sigv4_uri_encode("dir/a", 5, false);
    ck_assert_str_eq(s, "dir%2Fa");
    free(s);
    s = sf_sigv4_uri_encode("ab\0c", 4, false);
    ck_assert_str_eq(s, "ab%00c");
    free(s);

    char h[65];
    sf_sigv4_sha256_hex("", 0, h);
    ck_assert_str_eq(h, SF_SIGV4_EMPTY_SHA256);
}
END_TEST

START_TEST(test_query_round_trip)
{
    /* What the S3 provider sends for a listing: the server decodes and
     * re-encodes, and must arrive at what the client signed. */
    const char *queries[] = {
        "list-type=2&continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D"
        "&prefix=spark-events%2F&delimiter=%2F",
        "prefix=a b+c/d~e",
        "prefix=%C3%BCber%20%E2%9C%93&max-keys=1000&encoding-type=url",
        "tagging&uploads&versions",
        "x=%zz%2",
    };
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        struct wire w = {.method = "GET",
                         .path = "/analytics-dev",
                         .query = queries[i],
                         .payload = SF_SIGV4_EMPTY_SHA256};
        wire_add(&w, "Host", "127.0.0.1:9000");
        wire_sign(&w, AK, SK, t0());
        ck_assert_int_eq(check(&w, t0(), ""), SF_SIGV4_OK);
        /* Sent with the canonical spelling instead: the same request. */
        char *canon = sf_sigv4_canonical_query(queries[i], false);
        w.query = canon;
        ck_assert_int_eq(check(&w, t0(), ""), SF_SIGV4_OK);
        free(canon);
        wire_free(&w);
    }
}
END_TEST

static Suite *sigv4_suite(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_example_get_object);
    tcase_add_test(tc, test_example_put_object);
    tcase_add_test(tc, test_example_get_lifecycle);
    tcase_add_test(tc, test_example_list_objects);
    tcase_add_test(tc, test_example_presigned);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_header_names_and_spaces);
    tcase_add_test(tc, test_wrong_secret_and_unknown_key);
    tcase_add_test(tc, test_tampering);
    tcase_add_test(tc, test_unsigned_amz_header);
    tcase_add_test(tc, test_clock_skew);
    tcase_add_test(tc, test_content_sha256);
    tcase_add_test(tc, test_malformed_header);
    tcase_add_test(tc, test_not_signed);
    tcase_add_test(tc, test_sign_refuses);
    tcase_add_test(tc, test_presigned_round_trip);
    tcase_add_test(tc, test_presigned_malformed);
    tcase_add_test(tc, test_query_encoding);
    tcase_add_test(tc, test_query_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sigv4_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

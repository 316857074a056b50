/*
 * A load generator for localcloud's benchmarks: C clients on worker
 * threads, each with its own keep-alive connection (libcurl), sending
 * either token-authenticated GETs or SigV4-signed S3 PUTs (signed with the
 * project's own providers/sigv4.c, as the S3 provider will). Prints one
 * line: requests, successes, seconds, requests per second.
 *
 *   lcload get   URL PATH TOKEN CLIENTS REQUESTS
 *   lcload s3put URL BUCKET ACCESS SECRET CLIENTS REQUESTS [KEY_PREFIX]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"
#include "util.h"

struct job {
    const char *mode, *url, *path, *token, *bucket, *access, *secret, *prefix;
    const char *host; /* "127.0.0.1:PORT", the Host header S3 signs */
    int id, requests, ok;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static int one_get(CURL *h, struct job *j)
{
    char *url = sf_asprintf("%s%s", j->url, j->path);
    char *auth = sf_asprintf("X-Auth-Token: %s", j->token);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    long code = 0;
    int ok = curl_easy_perform(h) == CURLE_OK &&
             curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200;
    curl_slist_free_all(hd);
    free(auth);
    free(url);
    return ok;
}

static int one_put(CURL *h, struct job *j, int n)
{
    static const char body[] = "spark-events line: {\"Event\":\"SparkListenerApplicationStart\"}\n";
    char *path = sf_asprintf("/s3/%s/%s-%d-%d", j->bucket, j->prefix, j->id, n);
    char *url = sf_asprintf("%s%s", j->url, path);
    char sha[65];
    sf_sigv4_sha256_hex(body, sizeof(body) - 1, sha);
    struct sf_sigv4_header hs[] = {{"Host", j->host}};
    struct sf_sigv4_request rq = {"PUT", path, NULL, hs, 1, sha};
    char *authz = NULL, *date = NULL;
    int ok = 0;
    if (sf_sigv4_sign(&rq, j->access, j->secret, "local", "s3", time(NULL), &authz, &date) == 0) {
        char *h1 = sf_asprintf("Authorization: %s", authz);
        char *h2 = sf_asprintf("X-Amz-Date: %s", date);
        char *h3 = sf_asprintf("X-Amz-Content-SHA256: %s", sha);
        struct curl_slist *hd = curl_slist_append(NULL, h1);
        hd = curl_slist_append(hd, h2);
        hd = curl_slist_append(hd, h3);
        hd = curl_slist_append(hd, "Expect:");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(sizeof(body) - 1));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        long code = 0;
        ok = curl_easy_perform(h) == CURLE_OK &&
             curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200;
        curl_slist_free_all(hd);
        free(h1);
        free(h2);
        free(h3);
    }
    free(authz);
    free(date);
    free(url);
    free(path);
    return ok;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    for (int n = 0; n < j->requests; n++)
        j->ok += strcmp(j->mode, "get") == 0 ? one_get(h, j) : one_put(h, j, n);
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv)
{
    struct job base = {0};
    int clients, total;
    if (argc == 7 && strcmp(argv[1], "get") == 0) {
        base = (struct job){.mode = "get", .url = argv[2], .path = argv[3], .token = argv[4]};
        clients = atoi(argv[5]);
        total = atoi(argv[6]);
    } else if ((argc == 8 || argc == 9) && strcmp(argv[1], "s3put") == 0) {
        base = (struct job){.mode = "s3put", .url = argv[2], .bucket = argv[3],
                            .access = argv[4], .secret = argv[5],
                            .prefix = argc == 9 ? argv[8] : "obj"};
        clients = atoi(argv[6]);
        total = atoi(argv[7]);
    } else {
        fprintf(stderr, "usage: lcload get URL PATH TOKEN CLIENTS REQUESTS\n"
                        "       lcload s3put URL BUCKET ACCESS SECRET CLIENTS REQUESTS [PREFIX]\n");
        return 2;
    }
    if (clients < 1 || clients > 256 || total < clients) {
        fprintf(stderr, "lcload: CLIENTS must be 1..256 and REQUESTS at least CLIENTS\n");
        return 2;
    }
    const char *hostp = strstr(base.url, "://");
    base.host = hostp ? hostp + 3 : base.url;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct job *jobs = sf_xcalloc((size_t)clients, sizeof(*jobs));
    pthread_t *th = sf_xcalloc((size_t)clients, sizeof(*th));
    double t0 = sf_now();
    for (int i = 0; i < clients; i++) {
        jobs[i] = base;
        jobs[i].id = i;
        jobs[i].requests = total / clients + (i < total % clients);
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    int ok = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        ok += jobs[i].ok;
    }
    double secs = sf_now() - t0;
    printf("requests %d, ok %d, seconds %.2f, %.0f requests/s\n", total, ok, secs, total / secs);
    free(jobs);
    free(th);
    curl_global_cleanup();
    return ok == total ? 0 : 1;
}

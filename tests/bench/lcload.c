/*
 * A load generator for localcloud's benchmarks: C clients on worker
 * threads, each with its own keep-alive connection (libcurl), sending
 * either token-authenticated GETs or SigV4-signed S3 PUTs (signed with the
 * project's own lib/sigv4.c, as the S3 provider will), or
 * server-side applies of ConfigMaps to a cluster's Kubernetes API (https,
 * the kubeconfig's bearer token and CA). Prints one line: requests,
 * successes, seconds, requests per second.
 *
 *   lcload get      URL PATH TOKEN CLIENTS REQUESTS
 *   lcload s3put    URL BUCKET ACCESS SECRET CLIENTS REQUESTS [KEY_PREFIX]
 *   lcload k8sapply SERVER TOKEN CAFILE NAMESPACE CLIENTS OBJECTS [NAME_PREFIX]
 *
 * k8sapply PATCHes SERVER/api/v1/namespaces/NAMESPACE/configmaps/NAME
 * ?fieldManager=bench as application/apply-patch+yaml (a JSON body), one
 * distinct ConfigMap per request; 200 and 201 count as successes.
 *
 *   lcload k8slist  SERVER TOKEN CAFILE PATH LIMIT
 *
 * k8slist GETs the list at SERVER PATH once (LIMIT 0), or page by page
 * with limit=LIMIT following metadata.continue, on one connection; prints
 * pages, items (counted by their metadata.uid), bytes and seconds.
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
    const char *cafile, *ns; /* k8sapply */
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

/* Kubernetes requests: https with the cluster's CA, the bearer token. */
static struct curl_slist *k8s_setup(CURL *h, const struct job *j, const char *url)
{
    char *auth = sf_asprintf("Authorization: Bearer %s", j->token);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    free(auth);
    hd = curl_slist_append(hd, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, j->cafile);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    return hd;
}

static int one_apply(CURL *h, struct job *j, int n)
{
    char *name = sf_asprintf("%s-%d-%d", j->prefix, j->id, n);
    char *url = sf_asprintf("%s/api/v1/namespaces/%s/configmaps/%s?fieldManager=bench", j->url,
                            j->ns, name);
    char *body = sf_asprintf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
                             "{\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":{\"bench\":\"k8s\"}},"
                             "\"data\":{\"client\":\"%d\",\"n\":\"%d\","
                             "\"spark.eventLog.enabled\":\"true\"}}",
                             name, j->ns, j->id, n);
    struct curl_slist *hd = k8s_setup(h, j, url);
    hd = curl_slist_append(hd, "Content-Type: application/apply-patch+yaml");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    long code = 0;
    int ok = curl_easy_perform(h) == CURLE_OK &&
             curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
             (code == 200 || code == 201);
    curl_slist_free_all(hd);
    free(body);
    free(url);
    free(name);
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
        j->ok += strcmp(j->mode, "get") == 0        ? one_get(h, j)
                 : strcmp(j->mode, "k8sapply") == 0 ? one_apply(h, j, n)
                                                    : one_put(h, j, n);
    curl_easy_cleanup(h);
    return NULL;
}

/* A response body, grown as it comes. */
struct buf {
    char *p;
    size_t len, cap;
};

static size_t keep(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        b->cap = (b->len + add + 1) * 2;
        b->p = sf_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

static size_t count_of(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *q = strstr(s, what); q; q = strstr(q + 1, what))
        n++;
    return n;
}

/* The list's metadata.continue ("" when it is the last page); caller frees.
 * The tokens are base64url or plain text without quotes or backslashes. */
static char *continue_of(const char *s)
{
    const char *q = strstr(s, "\"continue\":");
    if (!q)
        return sf_xstrdup("");
    q = strchr(q + 11, '"');
    const char *e = q ? strchr(q + 1, '"') : NULL;
    if (!e)
        return sf_xstrdup("");
    char *tok = sf_xcalloc((size_t)(e - q), 1);
    memcpy(tok, q + 1, (size_t)(e - q - 1));
    return tok;
}

static int k8s_list(const char *server, const char *token, const char *cafile, const char *path,
                    int limit)
{
    struct job j = {.url = server, .token = token, .cafile = cafile};
    CURL *h = curl_easy_init();
    if (!h)
        return 1;
    struct buf b = {0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    char *cont = sf_xstrdup("");
    size_t pages = 0, items = 0, bytes = 0;
    int rc = 0;
    double t0 = sf_now();
    do {
        char *esc = curl_easy_escape(h, cont, 0);
        char *url = limit > 0 ? sf_asprintf("%s%s?limit=%d%s%s", server, path, limit,
                                            cont[0] ? "&continue=" : "", cont[0] ? esc : "")
                              : sf_asprintf("%s%s", server, path);
        curl_free(esc);
        struct curl_slist *hd = k8s_setup(h, &j, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        b.len = 0;
        long code = 0;
        CURLcode cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(hd);
        free(url);
        free(cont);
        cont = sf_xstrdup("");
        if (cc != CURLE_OK || code != 200 || !b.p) {
            fprintf(stderr, "lcload: GET %s: %s, HTTP %ld\n", path, curl_easy_strerror(cc), code);
            rc = 1;
            break;
        }
        pages++;
        bytes += b.len;
        items += count_of(b.p, "\"uid\":");
        if (limit > 0) {
            free(cont);
            cont = continue_of(b.p);
        }
    } while (cont[0]);
    double secs = sf_now() - t0;
    printf("pages %zu, items %zu, bytes %zu (%.1f MB), seconds %.3f\n", pages, items, bytes,
           bytes / 1e6, secs);
    free(cont);
    free(b.p);
    curl_easy_cleanup(h);
    return rc;
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
    } else if ((argc == 8 || argc == 9) && strcmp(argv[1], "k8sapply") == 0) {
        base = (struct job){.mode = "k8sapply", .url = argv[2], .token = argv[3],
                            .cafile = argv[4], .ns = argv[5],
                            .prefix = argc == 9 ? argv[8] : "cm"};
        clients = atoi(argv[6]);
        total = atoi(argv[7]);
    } else if (argc == 7 && strcmp(argv[1], "k8slist") == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = k8s_list(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
        curl_global_cleanup();
        return rc;
    } else {
        fprintf(stderr, "usage: lcload get URL PATH TOKEN CLIENTS REQUESTS\n"
                        "       lcload s3put URL BUCKET ACCESS SECRET CLIENTS REQUESTS [PREFIX]\n"
                        "       lcload k8sapply SERVER TOKEN CAFILE NAMESPACE CLIENTS OBJECTS [PREFIX]\n"
                        "       lcload k8slist SERVER TOKEN CAFILE PATH LIMIT\n");
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
    printf("requests %d, ok %d, seconds %.2f, %.0f %s/s\n", total, ok, secs, total / secs,
           strcmp(base.mode, "k8sapply") == 0 ? "objects" : "requests");
    free(jobs);
    free(th);
    curl_global_cleanup();
    return ok == total ? 0 : 1;
}

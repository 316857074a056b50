/*
 * A test-only front end to sf_sigv4_verify, so that an independent signer
 * (botocore, in tests/e2e/sigv4_boto.sh) can check our verifier. It is not
 * part of the build: the e2e script compiles it with lib/sigv4.c and
 * lib/util.c.
 *
 *   sigv4check [--region R] [--service S] [--skew SECONDS] [--key AK SECRET]...
 *
 * reads requests from standard input, each a sequence of netstrings
 * ("<length>:<bytes>,"):
 *   now (epoch seconds), method, path, query, body, the number of
 *   headers, then name and value of each header
 * where query and body are "-" when absent (a body not at hand) and
 * otherwise '+' followed by their bytes (so "+" is empty),
 * and prints one line per request: the AWS code ("OK",
 * "SignatureDoesNotMatch", ...) and the verifier's message. Exits 0 when
 * every request was read, 2 on bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "util.h"

struct keys {
    const char **ak, **sk;
    size_t n;
};

static char *lookup(void *ctx, const char *access_key)
{
    const struct keys *k = ctx;
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->ak[i], access_key) == 0)
            return sf_xstrdup(k->sk[i]);
    return NULL;
}

/* One netstring from stdin; NULL at a clean end of input, exits on garbage. */
static char *netstring(size_t *len, bool eof_ok)
{
    size_t n = 0;
    int c, digits = 0;
    while ((c = getchar()) != EOF && c >= '0' && c <= '9') {
        n = n * 10 + (size_t)(c - '0');
        if (++digits > 9)
            break;
    }
    if (c == EOF && digits == 0 && eof_ok)
        return NULL;
    if (c != ':' || digits == 0 || digits > 9) {
        fprintf(stderr, "sigv4check: malformed input: expected <length>:<bytes>,\n");
        exit(2);
    }
    char *s = sf_xmalloc(n + 1);
    if (fread(s, 1, n, stdin) != n || getchar() != ',') {
        fprintf(stderr, "sigv4check: malformed input: a netstring is cut short\n");
        exit(2);
    }
    s[n] = '\0';
    *len = n;
    return s;
}

/* '-' means absent, '+' prefixes a value; *len is the value's length. */
static char *optional(char *s, size_t *len)
{
    if (s[0] == '-' && s[1] == '\0') {
        free(s);
        return NULL;
    }
    if (s[0] != '+') {
        fprintf(stderr, "sigv4check: malformed input: an optional field starts with - or +\n");
        exit(2);
    }
    memmove(s, s + 1, *len);
    (*len)--;
    return s;
}

int main(int argc, char **argv)
{
    struct keys keys = {sf_xcalloc((size_t)argc, sizeof(char *)),
                        sf_xcalloc((size_t)argc, sizeof(char *)), 0};
    struct sf_sigv4_verify_opts o = {.lookup = lookup, .lookup_ctx = &keys};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--region") == 0 && i + 1 < argc) {
            o.region = argv[++i];
        } else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
            o.service = argv[++i];
        } else if (strcmp(argv[i], "--skew") == 0 && i + 1 < argc) {
            o.max_skew_s = atol(argv[++i]);
        } else if (strcmp(argv[i], "--key") == 0 && i + 2 < argc) {
            keys.ak[keys.n] = argv[++i];
            keys.sk[keys.n++] = argv[++i];
        } else {
            fprintf(stderr, "usage: sigv4check [--region R] [--service S] [--skew SECONDS] "
                            "[--key AK SECRET]... < requests\n");
            return 2;
        }
    }

    size_t len, body_len = 0;
    char *now_s;
    while ((now_s = netstring(&len, true))) {
        o.now = (time_t)atoll(now_s);
        free(now_s);
        char *method = netstring(&len, false);
        char *path = netstring(&len, false);
        char *query = netstring(&len, false);
        query = optional(query, &len);
        char *body = netstring(&body_len, false);
        body = optional(body, &body_len);
        char *count = netstring(&len, false);
        size_t n = (size_t)atol(count);
        free(count);
        struct sf_sigv4_header *h = sf_xcalloc(n ? n : 1, sizeof *h);
        for (size_t i = 0; i < n; i++) {
            h[i].name = netstring(&len, false);
            h[i].value = netstring(&len, false);
        }
        struct sf_sigv4_request rq = {method, path, query, h, n, NULL};
        o.body = body;
        o.body_len = body ? body_len : 0;
        struct sf_sigv4_result res;
        sf_sigv4_verify(&rq, &o, &res);
        printf("%s %s\n", sf_sigv4_status_code(res.status), res.message);
        fflush(stdout);
        sf_sigv4_result_free(&res);
        for (size_t i = 0; i < n; i++) {
            free((char *)h[i].name);
            free((char *)h[i].value);
        }
        free(h);
        free(body);
        free(query);
        free(path);
        free(method);
    }
    free(keys.ak);
    free(keys.sk);
    return 0;
}

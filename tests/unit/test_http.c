/*
 * Unit tests for the HTTP client (lib/http.c) against a libmicrohttpd
 * server run inside the test on 127.0.0.1: each test tells the server what
 * to answer, request by request (a status, a Retry-After, a delay, or
 * dropping the connection without an answer), and the server counts the
 * requests and connections it saw. Covered: retries of idempotent requests,
 * no repeat of a POST that may have been acted on (and the ambiguous flag),
 * Retry-After, deadlines, connection reuse and parallel use, headers added
 * per attempt, error classes and messages, the redacted debug log, and TLS
 * verification with a certificate made here with libcrypto.
 *
 * Timing assertions use exact lower bounds (what the client must wait) and
 * generous upper bounds, so that a loaded machine does not fail them.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "util.h"

/* ------------------------------------------------------------- server */

/* What the server does with one request. */
struct step {
    int status;              /* 0: 200 */
    const char *retry_after; /* Retry-After header, or NULL */
    long delay_ms;           /* wait before answering */
    bool drop;               /* close the connection without an answer */
    const char *body;        /* answer body, or NULL for "ok" */
};

struct server {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    struct step steps[8]; /* request i gets steps[min(i, nsteps - 1)] */
    int nsteps;
    int requests;    /* requests received (counted when their headers arrive) */
    int connections; /* TCP connections accepted */
    char *last_headers; /* "Name: value\n" lines of the last request */
    char *last_method;
    char *last_body;
    volatile int stopping;
};

/* One request in progress. */
struct exchange {
    int index;
    struct sf_buf body;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    sf_buf_printf(cls, "%s: %s\n", key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    struct server *s = cls;
    struct exchange *x = *con_cls;
    if (!x) {
        x = sf_xcalloc(1, sizeof *x);
        *con_cls = x;
        struct sf_buf hb = {0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hb);
        pthread_mutex_lock(&s->mu);
        x->index = s->requests++;
        free(s->last_headers);
        s->last_headers = sf_buf_take(&hb);
        free(s->last_method);
        s->last_method = sf_xstrdup(method);
        pthread_mutex_unlock(&s->mu);
        return MHD_YES;
    }
    if (*upload_size) {
        sf_buf_add(&x->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    struct step st = s->steps[x->index < s->nsteps ? x->index : s->nsteps - 1];
    free(s->last_body);
    s->last_body = sf_xstrdup(x->body.s ? x->body.s : "");
    pthread_mutex_unlock(&s->mu);

    /* Sleep in slices so that stopping the server does not wait for it. */
    for (long waited = 0; waited < st.delay_ms && !s->stopping; waited += 10)
        sf_sleep_ms(10);
    if (st.drop)
        return MHD_NO; /* libmicrohttpd closes the connection unanswered */

    const char *body = st.body ? st.body : "ok";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (st.retry_after)
        MHD_add_response_header(r, "Retry-After", st.retry_after);
    char id[32];
    snprintf(id, sizeof id, "req-%d", x->index);
    MHD_add_response_header(r, "X-Openstack-Request-Id", id);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(st.status ? st.status : 200), r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct exchange *x = *con_cls;
    if (x) {
        sf_buf_free(&x->body);
        free(x);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)c;
    (void)socket_context;
    struct server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&s->mu);
        s->connections++;
        pthread_mutex_unlock(&s->mu);
    }
}

/* Starts a server answering with steps (n of them); with cert and key
 * (PEM) it speaks TLS. */
static struct server *server_start(const struct step *steps, int n, const char *cert,
                                   const char *key)
{
    struct server *s = sf_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    ck_assert_int_gt(n, 0);
    ck_assert_int_le(n, 8);
    memcpy(s->steps, steps, (size_t)n * sizeof *steps);
    s->nsteps = n;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (cert) {
        flags |= MHD_USE_TLS;
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                                MHD_OPTION_END);
    } else {
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &sa,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    }
    ck_assert_ptr_nonnull(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    s->port = info->port;
    ck_assert_int_gt(s->port, 0);
    return s;
}

static void server_stop(struct server *s)
{
    s->stopping = 1;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    free(s->last_headers);
    free(s->last_method);
    free(s->last_body);
    free(s);
}

static int server_count(struct server *s, int *field)
{
    pthread_mutex_lock(&s->mu);
    int v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static char *url_of(const struct server *s, const char *scheme, const char *path)
{
    return sf_asprintf("%s://127.0.0.1:%d%s", scheme, s->port, path);
}

/* A loopback port nothing listens on: bound, then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A client with a short backoff, so that tests of retry counts run fast. */
static struct sf_http *quick_client(struct sf_http_stats *stats)
{
    return sf_http_new(&(struct sf_http_opts){.stats = stats, .backoff_base_ms = 10});
}

/* ------------------------------------------------------------ retries */

START_TEST(test_get_retried_after_503)
{
    struct step steps[] = {{.status = 503}, {.status = 503}, {.status = 200, .body = "done"}};
    struct server *s = server_start(steps, 3, NULL, NULL);
    struct sf_http_stats stats = {0};
    struct sf_http *h = quick_client(&stats);
    char *url = url_of(s, "http", "/v1/things");
    struct sf_http_req rq = {.method = "GET", .url = url, .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    ck_assert_int_eq(rs.status, 200);
    ck_assert_int_eq(rs.attempts, 3);
    ck_assert_str_eq(rs.body, "done");
    ck_assert_uint_eq(rs.len, 4);
    ck_assert_str_eq(rs.request_id, "req-2");
    ck_assert(!rs.ambiguous);
    ck_assert_int_eq(server_count(s, &s->requests), 3);
    ck_assert_int_eq(atomic_load(&stats.requests), 3);
    ck_assert_int_eq(atomic_load(&stats.retries), 2);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_get_gives_up_after_max_attempts)
{
    struct step steps[] = {{.status = 502}};
    struct server *s = server_start(steps, 1, NULL, NULL);
    struct sf_http *h =
        sf_http_new(&(struct sf_http_opts){.backoff_base_ms = 5, .max_attempts = 4});
    char *url = url_of(s, "http", "/");
    struct sf_http_req rq = {.method = "GET", .url = url};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0); /* an answer came: a 502 */
    ck_assert_int_eq(rs.status, 502);
    ck_assert_int_eq(rs.attempts, 4);
    ck_assert_int_eq(server_count(s, &s->requests), 4);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_post_not_retried_after_500)
{
    struct step steps[] = {{.status = 500}, {.status = 500}, {.status = 200}};
    struct server *s = server_start(steps, 3, NULL, NULL);
    struct sf_http_stats stats = {0};
    struct sf_http *h = quick_client(&stats);
    char *url = url_of(s, "http", "/clusters");
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    struct sf_http_req rq = {.method = "POST", .url = url, .headers = hdrs, .body = "{\"a\":1}",
                             .body_len = 7, .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    ck_assert_int_eq(rs.status, 500);
    ck_assert_int_eq(rs.attempts, 1);
    ck_assert(!rs.ambiguous);
    ck_assert_int_eq(server_count(s, &s->requests), 1);
    ck_assert_str_eq(s->last_body, "{\"a\":1}");
    ck_assert_int_eq(atomic_load(&stats.requests), 1);
    ck_assert_int_eq(atomic_load(&stats.retries), 0);
    sf_http_resp_free(&rs);

    /* Marked idempotent by the caller, the same POST is retried. */
    rq.idempotent = 1;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    ck_assert_int_eq(rs.status, 200);
    ck_assert_int_eq(rs.attempts, 2);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_put_not_retried_when_marked_non_idempotent)
{
    struct step steps[] = {{.status = 503}, {.status = 200}};
    struct server *s = server_start(steps, 2, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/b/key");
    struct sf_http_req rq = {.method = "PUT", .url = url, .body = "data", .body_len = 4,
                             .idempotent = -1};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    ck_assert_int_eq(rs.status, 503);
    ck_assert_int_eq(server_count(s, &s->requests), 1);
    ck_assert_str_eq(s->last_method, "PUT");
    ck_assert_str_eq(s->last_body, "data");
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_post_dropped_is_ambiguous)
{
    struct step steps[] = {{.drop = true}, {.status = 201}};
    struct server *s = server_start(steps, 2, NULL, NULL);
    struct sf_http_stats stats = {0};
    struct sf_http *h = quick_client(&stats);
    char *url = url_of(s, "http", "/servers");
    struct sf_http_req rq = {.method = "POST", .url = url, .body = "{}", .body_len = 2,
                             .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), -1);
    ck_assert_int_eq(rs.status, 0);
    ck_assert(rs.ambiguous);
    ck_assert(!rs.permanent);
    ck_assert_ptr_nonnull(rs.error);
    ck_assert_int_eq(rs.attempts, 1);
    ck_assert_int_eq(server_count(s, &s->requests), 1);
    ck_assert_int_eq(sf_http_class(&rs), SF_CLASS_RETRYABLE);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

/* A POST on a kept-alive connection that the server closes after taking
 * the request: libcurl repeats a request by itself when a reused
 * connection dies unanswered, which for a create means a second object.
 * The client must send it exactly once and report the failure as
 * ambiguous. */
START_TEST(test_post_never_resent_on_reused_connection)
{
    struct step steps[] = {{.status = 200}, {.drop = true}, {.status = 201}};
    struct server *s = server_start(steps, 3, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/servers");
    struct sf_http_req get = {.method = "GET", .url = url, .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &get, &rs), 0);
    sf_http_resp_free(&rs);
    struct sf_http_req post = {.method = "POST", .url = url, .body = "{}", .body_len = 2,
                               .deadline = sf_now() + 30};
    ck_assert_int_eq(sf_http_do(h, &post, &rs), -1);
    ck_assert(rs.ambiguous);
    ck_assert_int_eq(server_count(s, &s->requests), 2);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_get_retried_after_drop)
{
    struct step steps[] = {{.drop = true}, {.drop = true}, {.status = 200}};
    struct server *s = server_start(steps, 3, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/");
    struct sf_http_req rq = {.method = "GET", .url = url, .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    ck_assert_int_eq(rs.status, 200);
    ck_assert_int_eq(rs.attempts, 3);
    ck_assert(!rs.ambiguous);
    ck_assert_int_eq(server_count(s, &s->requests), 3);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_retry_after_seconds)
{
    struct step steps[] = {{.status = 429, .retry_after = "1"}, {.status = 202}};
    struct server *s = server_start(steps, 2, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/clusters");
    /* A POST too: 429 means the server did not act on it. */
    struct sf_http_req rq = {.method = "POST", .url = url, .body = "{}", .body_len = 2,
                             .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    double t0 = sf_now();
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    double took = sf_now() - t0;
    ck_assert_int_eq(rs.status, 202);
    ck_assert_int_eq(rs.attempts, 2);
    ck_assert_int_eq(server_count(s, &s->requests), 2);
    ck_assert_msg(took >= 1.0, "waited %.3f s, Retry-After asked 1 s", took);
    ck_assert_msg(took < 10.0, "took %.3f s", took);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_retry_after_date)
{
    char date[64];
    time_t when = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    struct step steps[] = {{.status = 503, .retry_after = date}, {.status = 200}};
    struct server *s = server_start(steps, 2, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/");
    struct sf_http_req rq = {.method = "GET", .url = url, .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    double t0 = sf_now();
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    double took = sf_now() - t0;
    ck_assert_int_eq(rs.status, 200);
    /* The date is 2 s ahead at whole-second resolution: at least 1 s. */
    ck_assert_msg(took >= 1.0, "waited %.3f s for a date 2 s ahead", took);
    ck_assert_msg(took < 10.0, "took %.3f s", took);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_retry_after_past_deadline_returns)
{
    /* A Retry-After beyond the deadline: no point waiting for it. */
    struct step steps[] = {{.status = 429, .retry_after = "60"}, {.status = 200}};
    struct server *s = server_start(steps, 2, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/");
    struct sf_http_req rq = {.method = "GET", .url = url, .deadline = sf_now() + 2};
    struct sf_http_resp rs;
    double t0 = sf_now();
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    double took = sf_now() - t0;
    ck_assert_int_eq(rs.status, 429);
    ck_assert_int_eq(rs.attempts, 1);
    ck_assert_msg(took < 2.5, "took %.3f s with a 2 s deadline", took);
    ck_assert_int_eq(sf_http_class(&rs), SF_CLASS_RETRYABLE);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

/* ----------------------------------------------------------- deadlines */

START_TEST(test_deadline_bounds_slow_answer)
{
    struct step steps[] = {{.delay_ms = 5000}};
    struct server *s = server_start(steps, 1, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/slow");
    double t0 = sf_now();
    struct sf_http_req rq = {.method = "GET", .url = url, .deadline = t0 + 1};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), -1);
    double took = sf_now() - t0;
    ck_assert_int_eq(rs.status, 0);
    ck_assert_ptr_nonnull(rs.error);
    ck_assert_msg(took >= 0.9, "gave up after %.3f s, before the deadline", took);
    ck_assert_msg(took < 3.0, "took %.3f s with a 1 s deadline", took);
    /* No attempt starts after the deadline. */
    ck_assert_int_eq(server_count(s, &s->requests), 1);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_deadline_bounds_retries)
{
    struct step steps[] = {{.status = 503}};
    struct server *s = server_start(steps, 1, NULL, NULL);
    /* The default backoff (200 ms doubling) and many attempts allowed. */
    struct sf_http *h = sf_http_new(&(struct sf_http_opts){.max_attempts = 1000});
    char *url = url_of(s, "http", "/");
    double t0 = sf_now();
    struct sf_http_req rq = {.method = "GET", .url = url, .deadline = t0 + 1.5};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    double took = sf_now() - t0;
    ck_assert_int_eq(rs.status, 503);
    ck_assert_int_ge(rs.attempts, 2);
    ck_assert_msg(took < 3.5, "took %.3f s with a 1.5 s deadline", took);
    ck_assert_int_eq(server_count(s, &s->requests), rs.attempts);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_deadline_passed_sends_nothing)
{
    struct step steps[] = {{.status = 200}};
    struct server *s = server_start(steps, 1, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/");
    struct sf_http_req rq = {.method = "GET", .url = url, .deadline = sf_now() - 1};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), -1);
    ck_assert_int_eq(rs.attempts, 0);
    ck_assert(!rs.ambiguous);
    ck_assert_ptr_nonnull(rs.error);
    ck_assert_ptr_nonnull(rs.body);
    ck_assert_int_eq(server_count(s, &s->requests), 0);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

START_TEST(test_bad_url_not_retried)
{
    struct sf_http_stats stats = {0};
    struct sf_http *h = quick_client(&stats);
    struct sf_http_req rq = {.method = "GET", .url = "ftp://127.0.0.1/x",
                             .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), -1);
    ck_assert_int_eq(rs.attempts, 1);
    ck_assert(rs.permanent);
    ck_assert(!rs.ambiguous);
    ck_assert_int_eq(sf_http_class(&rs), SF_CLASS_INVALID);
    ck_assert_int_eq(atomic_load(&stats.requests), 1);
    sf_http_resp_free(&rs);
    sf_http_free(h);
}
END_TEST

START_TEST(test_post_refused_retried_until_deadline)
{
    struct sf_http_stats stats = {0};
    struct sf_http *h =
        sf_http_new(&(struct sf_http_opts){.stats = &stats, .backoff_base_ms = 20,
                                           .max_attempts = 1000});
    char *url = sf_asprintf("http://127.0.0.1:%d/clusters", closed_port());
    double t0 = sf_now();
    struct sf_http_req rq = {.method = "POST", .url = url, .body = "{}", .body_len = 2,
                             .deadline = t0 + 1};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), -1);
    double took = sf_now() - t0;
    /* Nothing was sent, so it was retried, and it is not ambiguous. */
    ck_assert_int_ge(rs.attempts, 2);
    ck_assert(!rs.ambiguous);
    ck_assert_int_eq(rs.status, 0);
    ck_assert_ptr_nonnull(rs.error);
    ck_assert_int_eq(atomic_load(&stats.requests), rs.attempts);
    ck_assert_int_eq(atomic_load(&stats.retries), rs.attempts - 1);
    ck_assert_msg(took < 2.5, "took %.3f s with a 1 s deadline", took);
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
}
END_TEST

/* ------------------------------------------------------ connection reuse */

START_TEST(test_keepalive_sequential)
{
    struct step steps[] = {{.status = 200}};
    struct server *s = server_start(steps, 1, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/");
    for (int i = 0; i < 6; i++) {
        const char *method = i % 3 == 0 ? "GET" : i % 3 == 1 ? "POST" : "DELETE";
        struct sf_http_req rq = {.method = method, .url = url};
        struct sf_http_resp rs;
        ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
        ck_assert_int_eq(rs.status, 200);
        sf_http_resp_free(&rs);
    }
    ck_assert_int_eq(server_count(s, &s->requests), 6);
    /* GETs and DELETEs share one connection; each POST opens its own
     * (see test_post_never_resent_on_reused_connection). */
    ck_assert_int_eq(server_count(s, &s->connections), 3);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

struct worker {
    struct sf_http *h;
    const char *url;
    int ok;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 10; i++) {
        struct sf_http_req rq = {.method = "GET", .url = w->url, .deadline = sf_now() + 30};
        struct sf_http_resp rs;
        if (sf_http_do(w->h, &rq, &rs) == 0 && rs.status == 200 && strcmp(rs.body, "ok") == 0)
            w->ok++;
        sf_http_resp_free(&rs);
    }
    return NULL;
}

START_TEST(test_parallel_workers)
{
    struct step steps[] = {{.status = 200, .delay_ms = 5}};
    struct server *s = server_start(steps, 1, NULL, NULL);
    struct sf_http_stats stats = {0};
    struct sf_http *h = quick_client(&stats);
    char *url = url_of(s, "http", "/");
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.h = h, .url = url};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].ok, 10);
    }
    ck_assert_int_eq(server_count(s, &s->requests), 40);
    ck_assert_int_eq(atomic_load(&stats.requests), 40);
    /* Never more connections than requests in flight at once. */
    ck_assert_int_le(server_count(s, &s->connections), 4);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

/* ------------------------------------------------------ per-attempt headers */

struct counter {
    int calls;
};

static void add_attempt_header(void *arg, const struct sf_http_req *rq, struct sf_buf *extra)
{
    struct counter *c = arg;
    ck_assert_ptr_nonnull(rq->url);
    c->calls++;
    sf_buf_printf(extra, "X-Attempt: %d\nX-Signed: yes\n", c->calls);
}

START_TEST(test_before_attempt_each_time)
{
    struct step steps[] = {{.status = 503}, {.status = 200}};
    struct server *s = server_start(steps, 2, NULL, NULL);
    struct sf_http *h = quick_client(NULL);
    char *url = url_of(s, "http", "/");
    struct counter c = {0};
    const char *hdrs[] = {"Accept: application/json", NULL};
    struct sf_http_req rq = {.method = "GET", .url = url, .headers = hdrs,
                             .before_attempt = add_attempt_header, .arg = &c};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    ck_assert_int_eq(rs.status, 200);
    ck_assert_int_eq(c.calls, 2);
    ck_assert_ptr_nonnull(strstr(s->last_headers, "X-Attempt: 2\n"));
    ck_assert_ptr_nonnull(strstr(s->last_headers, "X-Signed: yes\n"));
    ck_assert_ptr_nonnull(strstr(s->last_headers, "Accept: application/json\n"));
    ck_assert_ptr_nonnull(strstr(s->last_headers, "User-Agent: sparkform/"));
    ck_assert_ptr_null(strstr(s->last_headers, "Expect:"));
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    server_stop(s);
}
END_TEST

/* -------------------------------------------------------- answers, errors */

START_TEST(test_header_lookup)
{
    struct sf_http_resp rs = {
        .status = 200,
        .headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   "x-amz-request-id:   ABC123  \r\nEmpty:\r\n\r\n",
    };
    char *v = sf_http_header(&rs, "content-type");
    ck_assert_str_eq(v, "application/json");
    free(v);
    v = sf_http_header(&rs, "X-Amz-Request-Id");
    ck_assert_str_eq(v, "ABC123");
    free(v);
    v = sf_http_header(&rs, "Empty");
    ck_assert_str_eq(v, "");
    free(v);
    ck_assert_ptr_null(sf_http_header(&rs, "Content"));
    ck_assert_ptr_null(sf_http_header(&rs, "Location"));
}
END_TEST

START_TEST(test_class_mapping)
{
    static const struct {
        long status;
        enum sf_diag_class cls;
    } cases[] = {
        {0, SF_CLASS_RETRYABLE},     {200, SF_CLASS_NONE},         {204, SF_CLASS_NONE},
        {304, SF_CLASS_NONE},        {400, SF_CLASS_INVALID},      {401, SF_CLASS_UNAUTHORIZED},
        {403, SF_CLASS_UNAUTHORIZED}, {404, SF_CLASS_NOT_FOUND},   {409, SF_CLASS_CONFLICT},
        {412, SF_CLASS_CONFLICT},    {422, SF_CLASS_INVALID},      {429, SF_CLASS_RETRYABLE},
        {500, SF_CLASS_RETRYABLE},   {503, SF_CLASS_RETRYABLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sf_http_resp rs = {.status = cases[i].status};
        ck_assert_msg(sf_http_class(&rs) == cases[i].cls, "status %ld", cases[i].status);
    }
    struct sf_http_resp rs = {.status = 0, .permanent = true};
    ck_assert_int_eq(sf_http_class(&rs), SF_CLASS_INVALID);
}
END_TEST

/* The summary sf_http_error makes of an answer; caller frees. */
static char *error_of(const char *url, long status, const char *reason, const char *body,
                      enum sf_diag_class *cls)
{
    char *headers = sf_asprintf("HTTP/1.1 %ld %s\r\nX-Openstack-Request-Id: req-77\r\n\r\n",
                                status, reason);
    struct sf_http_resp rs = {.status = status, .body = (char *)body, .len = strlen(body),
                              .headers = headers, .request_id = "req-77"};
    struct sf_http_req rq = {.method = "POST", .url = url};
    struct sf_diags d;
    sf_diags_init(&d);
    sf_http_error(&d, "cloud_cluster.main", "creating the cluster", &rq, &rs);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_str_eq(d.items[0].address, "cloud_cluster.main");
    *cls = d.items[0].cls;
    char *s = sf_xstrdup(d.items[0].summary);
    sf_diags_free(&d);
    free(headers);
    return s;
}

START_TEST(test_error_messages)
{
    static const struct {
        long status;
        const char *reason, *body, *message;
        enum sf_diag_class cls;
    } cases[] = {
        {401, "Unauthorized",
         "{\"error\":{\"code\":401,\"message\":\"The request you have made requires "
         "authentication.\"}}",
         ": The request you have made requires authentication. (request id req-77)",
         SF_CLASS_UNAUTHORIZED},
        {404, "Not Found",
         "{\"itemNotFound\":{\"code\":404,\"message\":\"Instance x could not be found.\"}}",
         ": Instance x could not be found. (", SF_CLASS_NOT_FOUND},
        {409, "Conflict",
         "{\"NeutronError\":{\"type\":\"InUse\",\"message\":\"Network is in use.\","
         "\"detail\":\"\"}}",
         ": Network is in use. (", SF_CLASS_CONFLICT},
        {400, "Bad Request",
         "{\"errors\":[{\"status\":400,\"title\":\"Bad Request\","
         "\"detail\":\"flavor is required\"}]}",
         ": Bad Request: flavor is required (", SF_CLASS_INVALID},
        {422, "Unprocessable Entity",
         "{\"kind\":\"Status\",\"status\":\"Failure\","
         "\"message\":\"pods \\\"x\\\" is invalid\",\"code\":422}",
         ": pods \"x\" is invalid (", SF_CLASS_INVALID},
        {503, "Service Unavailable", "<html>\n<body>\tupstream\n\n down</body></html>",
         ": <html> <body> upstream down</body></html> (", SF_CLASS_RETRYABLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum sf_diag_class cls;
        char *s = error_of("https://api.example/v1/clusters", cases[i].status, cases[i].reason,
                           cases[i].body, &cls);
        char *want = sf_asprintf(
            "creating the cluster: POST https://api.example/v1/clusters: HTTP %ld %s%s",
            cases[i].status, cases[i].reason, cases[i].message);
        ck_assert_msg(strncmp(s, want, strlen(want)) == 0, "got [%s], want [%s...]", s, want);
        ck_assert_ptr_nonnull(strstr(s, "req-77"));
        ck_assert_int_eq(cls, cases[i].cls);
        free(want);
        free(s);
    }

    /* A long non-JSON body: at most 200 bytes of it. */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    enum sf_diag_class cls;
    char *s = error_of("https://api.example/", 500, "Internal Server Error", big, &cls);
    char *run = strstr(s, "xxx");
    ck_assert_ptr_nonnull(run);
    ck_assert_uint_eq(strspn(run, "x"), 200);
    free(s);

    /* Credentials in the query string never reach the message. */
    s = error_of("https://s3.example/b/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef"
                 "&partNumber=2",
                 403, "Forbidden", "", &cls);
    ck_assert_ptr_null(strstr(s, "deadbeef"));
    ck_assert_ptr_null(strstr(s, "AKIA"));
    ck_assert_ptr_nonnull(strstr(s, "X-Amz-Signature=(redacted)"));
    ck_assert_ptr_nonnull(strstr(s, "partNumber=2"));
    free(s);
}
END_TEST

START_TEST(test_error_no_answer)
{
    struct sf_http_resp rs = {.status = 0, .error = "Empty reply from server", .ambiguous = true};
    struct sf_http_req rq = {.method = "POST", .url = "http://user:hunter2@api.example/x"};
    struct sf_diags d;
    sf_diags_init(&d);
    sf_http_error(&d, NULL, NULL, &rq, &rs);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_int_eq(d.items[0].cls, SF_CLASS_RETRYABLE);
    ck_assert_ptr_nonnull(strstr(d.items[0].summary, "POST http://(redacted)@api.example/x: "
                                                     "Empty reply from server"));
    ck_assert_ptr_nonnull(strstr(d.items[0].summary, "may have acted"));
    ck_assert_ptr_null(strstr(d.items[0].summary, "hunter2"));
    sf_diags_free(&d);
}
END_TEST

/* ------------------------------------------------------------ debug log */

/* Runs in a fresh process of this program (SF_LOG is read once per
 * process, so it cannot be switched on in this one, and Check's assertions
 * work only in the test's own process): sends a request with credentials in
 * headers, query and body to the test's server on port, with stderr going
 * to log_path. Exits 0 when the request got its answer. */
static void debug_child(const char *log_path, int port)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 2) < 0)
        _exit(10);
    close(fd);
    struct sf_http *h = quick_client(NULL);
    char *url = sf_asprintf("http://127.0.0.1:%d/v3/auth/tokens?token=qs-secret&limit=5", port);
    const char *hdrs[] = {"X-Auth-Token: secret123", "Authorization: Bearer bearer-secret",
                          "X-Service-Api-Key: key-secret", "Content-Type: application/json",
                          NULL};
    const char *body = "{\"password\":\"pw-in-body\"}";
    struct sf_http_req rq = {.method = "POST", .url = url, .headers = hdrs, .body = body,
                             .body_len = strlen(body), .idempotent = 1};
    struct sf_http_resp rs;
    int ok = sf_http_do(h, &rq, &rs) == 0 && rs.status == 200 && sf_http_debug();
    sf_http_resp_free(&rs);
    free(url);
    sf_http_free(h);
    fflush(stderr);
    _exit(ok ? 0 : 11);
}

START_TEST(test_debug_log_redacts)
{
    char path[] = "/tmp/sf-http-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct step steps[] = {{.status = 503},
                           {.status = 200, .body = "{\"kubeconfig\":\"kc-in-answer\"}"}};
    struct server *s = server_start(steps, 2, NULL, NULL);
    /* The child's environment is made before fork: after it, in a process
     * with threads, only exec is safe. */
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = sf_xcalloc(n + 4, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SF_LOG=", 7) != 0)
            env[k++] = environ[i];
    char *vars[] = {sf_xstrdup("SF_LOG=debug"), sf_asprintf("SF_HTTP_TEST_LOG=%s", path),
                    sf_asprintf("SF_HTTP_TEST_PORT=%d", s->port)};
    for (size_t i = 0; i < 3; i++)
        env[k++] = vars[i];
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execle("/proc/self/exe", "test_http", (char *)NULL, env);
        _exit(12);
    }
    for (size_t i = 0; i < 3; i++)
        free(vars[i]);
    free(env);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_eq(server_count(s, &s->requests), 2);
    ck_assert_str_eq(s->last_body, "{\"password\":\"pw-in-body\"}"); /* it was sent */
    server_stop(s);
    size_t len = 0;
    char *log = sf_read_file(path, &len);
    unlink(path);
    ck_assert_ptr_nonnull(log);

    /* One line per attempt: method, URL, status or error, time, attempt. */
    ck_assert_ptr_nonnull(strstr(log, "POST http://127.0.0.1:"));
    ck_assert_ptr_nonnull(strstr(log, "-> 503 ("));
    ck_assert_ptr_nonnull(strstr(log, " ms, attempt 1)"));
    ck_assert_ptr_nonnull(strstr(log, "-> 200 ("));
    ck_assert_ptr_nonnull(strstr(log, " ms, attempt 2)"));
    ck_assert_ptr_nonnull(strstr(log, "X-Auth-Token: (redacted)"));
    ck_assert_ptr_nonnull(strstr(log, "Authorization: (redacted)"));
    ck_assert_ptr_nonnull(strstr(log, "X-Service-Api-Key: (redacted)"));
    ck_assert_ptr_nonnull(strstr(log, "Content-Type: application/json"));
    ck_assert_ptr_nonnull(strstr(log, "token=(redacted)&limit=5"));
    static const char *const secrets[] = {"secret123", "bearer-secret", "key-secret", "qs-secret",
                                          "pw-in-body", "kc-in-answer", NULL};
    for (int i = 0; secrets[i]; i++)
        ck_assert_msg(!strstr(log, secrets[i]), "%s in the log:\n%s", secrets[i], log);
    free(log);
}
END_TEST

/* ------------------------------------------------------------------ TLS */

/* A self-signed certificate for 127.0.0.1 (PEM), and its key. */
static void make_cert(char **cert_pem, char **key_pem)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(key);
    X509 *x = X509_new();
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    static const char *const exts[][2] = {{"subjectAltName", "IP:127.0.0.1"},
                                          {"basicConstraints", "critical,CA:TRUE"},
                                          {"keyUsage", "critical,digitalSignature,keyCertSign"}};
    for (size_t i = 0; i < 3; i++) {
        X509_EXTENSION *ext = X509V3_EXT_nconf(NULL, &ctx, exts[i][0], exts[i][1]);
        ck_assert_ptr_nonnull(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);

    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    *cert_pem = sf_xstrndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    *key_pem = sf_xstrndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
}

START_TEST(test_tls_verified)
{
    ck_assert_msg(MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES,
                  "libmicrohttpd without TLS");
    char *cert, *key;
    make_cert(&cert, &key);
    struct step steps[] = {{.status = 200, .body = "secure"}};
    struct server *s = server_start(steps, 1, cert, key);
    char *url = url_of(s, "https", "/");

    /* Not trusted: fails at the handshake, nothing sent, not retried. */
    struct sf_http *h = quick_client(NULL);
    struct sf_http_req rq = {.method = "GET", .url = url, .deadline = sf_now() + 30};
    struct sf_http_resp rs;
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), -1);
    ck_assert_int_eq(rs.status, 0);
    ck_assert_int_eq(rs.attempts, 1);
    ck_assert(rs.permanent);
    ck_assert(!rs.ambiguous);
    ck_assert_int_eq(sf_http_class(&rs), SF_CLASS_INVALID);
    ck_assert_int_eq(server_count(s, &s->requests), 0);
    sf_http_resp_free(&rs);
    sf_http_free(h);

    /* Trusted through ca_file. */
    char ca[] = "/tmp/sf-http-ca-XXXXXX";
    int fd = mkstemp(ca);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, cert, strlen(cert)), (ssize_t)strlen(cert));
    close(fd);
    h = sf_http_new(&(struct sf_http_opts){.ca_file = ca});
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    ck_assert_int_eq(rs.status, 200);
    ck_assert_str_eq(rs.body, "secure");
    sf_http_resp_free(&rs);
    /* A second request reuses the TLS connection. */
    ck_assert_int_eq(sf_http_do(h, &rq, &rs), 0);
    ck_assert_int_eq(rs.status, 200);
    sf_http_resp_free(&rs);
    ck_assert_int_eq(server_count(s, &s->requests), 2);
    ck_assert_int_eq(server_count(s, &s->connections), 2); /* the refused handshake + one */
    sf_http_free(h);
    unlink(ca);

    free(url);
    server_stop(s);
    free(cert);
    free(key);
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *retry = tcase_create("retries");
    tcase_set_timeout(retry, 60);
    tcase_add_test(retry, test_get_retried_after_503);
    tcase_add_test(retry, test_get_gives_up_after_max_attempts);
    tcase_add_test(retry, test_post_not_retried_after_500);
    tcase_add_test(retry, test_put_not_retried_when_marked_non_idempotent);
    tcase_add_test(retry, test_post_dropped_is_ambiguous);
    tcase_add_test(retry, test_get_retried_after_drop);
    tcase_add_test(retry, test_post_never_resent_on_reused_connection);
    tcase_add_test(retry, test_retry_after_seconds);
    tcase_add_test(retry, test_retry_after_date);
    tcase_add_test(retry, test_retry_after_past_deadline_returns);
    tcase_add_test(retry, test_before_attempt_each_time);
    suite_add_tcase(s, retry);

    TCase *time = tcase_create("deadlines");
    tcase_set_timeout(time, 60);
    tcase_add_test(time, test_deadline_bounds_slow_answer);
    tcase_add_test(time, test_deadline_bounds_retries);
    tcase_add_test(time, test_deadline_passed_sends_nothing);
    tcase_add_test(time, test_post_refused_retried_until_deadline);
    tcase_add_test(time, test_bad_url_not_retried);
    suite_add_tcase(s, time);

    TCase *conn = tcase_create("connections");
    tcase_set_timeout(conn, 60);
    tcase_add_test(conn, test_keepalive_sequential);
    tcase_add_test(conn, test_parallel_workers);
    tcase_add_test(conn, test_tls_verified);
    suite_add_tcase(s, conn);

    TCase *ans = tcase_create("answers");
    tcase_add_test(ans, test_header_lookup);
    tcase_add_test(ans, test_class_mapping);
    tcase_add_test(ans, test_error_messages);
    tcase_add_test(ans, test_error_no_answer);
    tcase_set_timeout(ans, 60);
    tcase_add_test(ans, test_debug_log_redacts);
    suite_add_tcase(s, ans);
    return s;
}

int main(void)
{
    const char *log_path = getenv("SF_HTTP_TEST_LOG"), *port = getenv("SF_HTTP_TEST_PORT");
    if (log_path && port) /* test_debug_log_redacts's child; does not return */
        debug_child(log_path, atoi(port));
    SRunner *sr = srunner_create(http_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

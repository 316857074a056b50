/*
 * localcloud: an emulator of the cloud APIs sparkform's providers call
 * (identity, network, compute, container-infra, S3; see
 * localcloud/README.md), for development and tests. This file reads the command line, opens the data directory,
 * registers every API with the HTTP core (server.h), starts serving on a
 * loopback address, announces the bound address in the ready file, and
 * waits for SIGTERM / SIGINT to shut down cleanly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apis.h"
#include "faults.h"
#include "identity.h"
#include "store.h"
#include "util.h"

static const char usage[] =
    "usage: localcloud --data DIR [--listen 127.0.0.1:PORT] [--users FILE] [--delay-ms N]\n"
    "                  [--token-ttl SECONDS] [--ready-file FILE] [--ssh HOST:PORT]\n"
    "                  [--ssh-host-key FILE] [--ssh-authorized-keys FILE]\n"
    "                  [--max-body BYTES] [--tls-port N] [--verbose]\n"
    "\n"
    "An emulator of the cloud APIs (identity, network, compute, container-infra,\n"
    "S3) for development and tests; see localcloud/README.md.\n"
    "\n"
    "  --data DIR          where every object is kept (created if missing)\n"
    "  --listen HOST:PORT  loopback address to serve on (default 127.0.0.1:8780);\n"
    "                      port 0 picks a free port\n"
    "  --users FILE        {\"users\":[{\"name\",\"password\",\"project_id\",\"domain\"}]};\n"
    "                      default: admin / localcloud-admin in project \"local\"\n"
    "  --delay-ms N        how long transitions take, e.g. BUILD -> ACTIVE (default 1000)\n"
    "  --token-ttl SECONDS lifetime of identity tokens (default 3600)\n"
    "  --ready-file FILE   written with the bound HOST:PORT once serving\n"
    "  --ssh HOST:PORT     the SSH endpoint every server reports\n"
    "  --ssh-host-key FILE the public host key(s) of that sshd (OpenSSH lines), whose\n"
    "                      fingerprints servers' consoles show as cloud-init prints them\n"
    "  --ssh-authorized-keys FILE\n"
    "                      kept holding the public key of each key pair a server was\n"
    "                      created with, as cloud-init installs it (that sshd's\n"
    "                      AuthorizedKeysFile); a key goes when no server has it\n"
    "  --max-body BYTES    largest request body of the JSON APIs (default 1048576)\n"
    "  --tls-port N        the https listener, same APIs (what kubeconfigs point at);\n"
    "                      default: the --listen port + 1, or a free port when that is 0;\n"
    "                      -1: none\n"
    "  --verbose           log every request to stderr\n";

/* HOST:PORT or [V6]:PORT; host is malloc'ed. */
static int split_host_port(const char *s, char **host, long *port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        *host = sf_xstrndup(s + 1, (size_t)(close - s - 1));
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || colon == s)
            return -1;
        *host = sf_xstrndup(s, (size_t)(colon - s));
    }
    char *end;
    errno = 0;
    *port = strtol(colon + 1, &end, 10);
    if (errno || !colon[1] || *end || *port < 0 || *port > 65535) {
        free(*host);
        *host = NULL;
        return -1;
    }
    return 0;
}

static bool is_loopback(const char *host)
{
    unsigned char b[16];
    if (inet_pton(AF_INET, host, b) == 1)
        return b[0] == 127;
    if (inet_pton(AF_INET6, host, b) == 1)
        return memcmp(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
    return false;
}

static int parse_long(const char *flag, const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || !*v || *end || n < min || n > max) {
        fprintf(stderr, "localcloud: error: %s: expected a whole number from %ld to %ld, got \"%s\"\n",
                flag, min, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8780", *data = NULL, *users = NULL, *ready = NULL, *ssh = NULL,
               *ssh_key_file = NULL, *ssh_authorized = NULL;
    long delay = 1000, ttl = 3600, max_body = 1048576, tls_port = -2;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(arg, "--verbose") == 0) {
            verbose = true;
            continue;
        }
        /* --flag VALUE or --flag=VALUE */
        char *eq = strchr(arg, '=');
        char name[32];
        const char *val;
        if (eq) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
            val = eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", arg);
            if (i + 1 >= argc) {
                fprintf(stderr, "localcloud: error: %s needs a value\n%s", arg, usage);
                return 2;
            }
            val = argv[++i];
        }
        int rc = 0;
        if (strcmp(name, "--listen") == 0)
            listen = val;
        else if (strcmp(name, "--data") == 0)
            data = val;
        else if (strcmp(name, "--users") == 0)
            users = val;
        else if (strcmp(name, "--ready-file") == 0)
            ready = val;
        else if (strcmp(name, "--ssh") == 0)
            ssh = val;
        else if (strcmp(name, "--ssh-host-key") == 0)
            ssh_key_file = val;
        else if (strcmp(name, "--ssh-authorized-keys") == 0)
            ssh_authorized = val;
        else if (strcmp(name, "--delay-ms") == 0)
            rc = parse_long(name, val, 0, 3600000, &delay);
        else if (strcmp(name, "--token-ttl") == 0)
            rc = parse_long(name, val, 1, 365L * 86400, &ttl);
        else if (strcmp(name, "--tls-port") == 0)
            rc = parse_long(name, val, -1, 65535, &tls_port);
        else if (strcmp(name, "--max-body") == 0)
            rc = parse_long(name, val, 1024, 1L << 30, &max_body);
        else {
            fprintf(stderr, "localcloud: error: unknown flag %s\n%s", name, usage);
            return 2;
        }
        if (rc < 0)
            return 2;
    }
    if (!data) {
        fprintf(stderr, "localcloud: error: --data DIR is required\n%s", usage);
        return 2;
    }
    char *host = NULL;
    long port;
    if (split_host_port(listen, &host, &port) < 0) {
        fprintf(stderr, "localcloud: error: --listen: expected HOST:PORT, got \"%s\"\n", listen);
        return 2;
    }
    if (strcmp(host, "localhost") == 0) {
        free(host);
        host = sf_xstrdup("127.0.0.1");
    }
    if (!is_loopback(host)) {
        fprintf(stderr, "localcloud: error: refusing to listen on %s: only loopback addresses "
                        "(127.0.0.0/8, ::1) are allowed\n", host);
        free(host);
        return 2;
    }
    char *ssh_host = NULL;
    long ssh_port = 0;
    if (ssh && (split_host_port(ssh, &ssh_host, &ssh_port) < 0 || ssh_port == 0)) {
        fprintf(stderr, "localcloud: error: --ssh: expected HOST:PORT, got \"%s\"\n", ssh);
        free(host);
        return 2;
    }

    char *ssh_keys = NULL;
    if (ssh_key_file) {
        const char *why = NULL;
        ssh_keys = sf_read_file(ssh_key_file, NULL);
        if (!ssh_keys || !lc_compute_host_keys_ok(ssh_keys, &why)) {
            fprintf(stderr, "localcloud: error: --ssh-host-key %s: %s\n", ssh_key_file,
                    ssh_keys ? why : strerror(errno));
            free(ssh_keys);
            free(ssh_host);
            free(host);
            return 2;
        }
    }

    /* Signals are taken by sigwait in this thread only: block them before
     * the HTTP threads exist, so that they inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int status = 1;
    struct sf_diags diags;
    sf_diags_init(&diags);
    struct lc_server *srv = NULL;
    struct lc_store *st = lc_store_open(data, &diags);
    if (!st)
        goto out;
    struct lc_options opts = {
        .listen_host = host,
        .listen_port = (int)port,
        .tls_port = (int)(tls_port != -2 ? tls_port : port ? port + 1 : 0),
        .delay_ms = delay,
        .token_ttl_s = ttl,
        .max_body = (size_t)max_body,
        .ssh_host = ssh_host,
        .ssh_port = (int)ssh_port,
        .ssh_host_keys = ssh_keys,
        .ssh_authorized_keys = ssh_authorized,
        .verbose = verbose,
    };
    srv = lc_server_new(&opts, st);
    if (lc_identity_register(srv, users, &diags) < 0)
        goto out;
    if (lc_network_register(srv) < 0 || lc_compute_register(srv) < 0 ||
        lc_containerinfra_register(srv) < 0 || lc_k8s_register(srv) < 0 ||
        lc_s3_register(srv) < 0 ||
        lc_faults_register(srv) < 0 || lc_inventory_register(srv) < 0) {
        sf_error(&diags, NULL, "an API prefix is registered twice");
        goto out;
    }
    if (lc_server_start(srv, &diags) < 0)
        goto out;
    const char *addr = lc_server_address(srv);
    if (ready && sf_write_file_atomic(ready, addr, strlen(addr), 0644) < 0) {
        fprintf(stderr, "localcloud: error: cannot write the ready file %s: %s\n", ready,
                strerror(errno));
        goto out;
    }
    fprintf(stderr, "localcloud: serving %s%s%s (data %s); this is an emulator for development and "
                    "tests\n", lc_server_base_url(srv), lc_server_tls_base_url(srv) ? " and " : "",
            lc_server_tls_base_url(srv) ? lc_server_tls_base_url(srv) : "", data);
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    if (verbose)
        fprintf(stderr, "localcloud: signal %d, shutting down\n", sig);
    status = 0;
out:
    if (srv)
        lc_server_free(srv); /* also closes the store */
    else
        lc_store_close(st);
    sf_diags_print(stderr, &diags, false);
    sf_diags_free(&diags);
    free(host);
    free(ssh_host);
    free(ssh_keys);
    return status;
}

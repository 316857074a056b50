/*
 * A localcloud process for unit tests (lcproc.h): one way to find the
 * binary, start it, wait for its ready file and stop it.
 */
#include "lcproc.h"

#include <check.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* build/tests/test_X -> build/localcloud, unless LOCALCLOUD says. */
static char *localcloud_path(void)
{
    const char *env = getenv("LOCALCLOUD");
    if (env && *env)
        return sf_xstrdup(env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    return sf_asprintf("%s/../localcloud", dirname(self));
}

pid_t sf_test_localcloud_start(const char *dir, const char *const *extra, char *addr, size_t size)
{
    char *bin = localcloud_path();
    char *data = sf_asprintf("%s/data", dir), *ready = sf_asprintf("%s/ready", dir);
    char *log = sf_asprintf("%s/log", dir);
    const char *argv[32] = {bin, "--listen", "127.0.0.1:0", "--data", data, "--ready-file", ready,
                            "--delay-ms", "0", "--tls-port", "-1"};
    size_t n = 11;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    char *got = NULL;
    for (int i = 0; i < 200 && !got; i++)
        if (!(got = sf_read_file(ready, NULL)))
            sf_sleep_ms(25);
    ck_assert_msg(got != NULL, "localcloud (%s) did not start; see %s", bin, log);
    snprintf(addr, size, "%s", got);
    free(got);
    free(bin);
    free(data);
    free(ready);
    free(log);
    return pid;
}

void sf_test_localcloud_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

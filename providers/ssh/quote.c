/*
 * Remote command lines. sshd hands a command to the login shell of the
 * user as one string, so every argument sparkform sends is quoted here and
 * nowhere else: inside single quotes a POSIX shell expands nothing, and a
 * single quote itself is closed, escaped and reopened ('\''). Paths with
 * spaces, quotes, $(...), backticks, ';' or line breaks arrive as the
 * bytes they are. Scripts are sent the same way, as the argument of
 * `sh -c`, with their inputs as further quoted arguments ("$1", "$2").
 */
#include <stdlib.h>
#include <string.h>

#include "ssh.h"
#include "util.h"

char *sf_ssh_quote(const char *s)
{
    struct sf_buf b = {0};
    sf_buf_add(&b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            sf_buf_puts(&b, "'\\''");
        else
            sf_buf_add(&b, p, 1);
    }
    sf_buf_add(&b, "'", 1);
    return sf_buf_take(&b);
}

char *sf_ssh_command(const char *const *argv)
{
    struct sf_buf b = {0};
    for (size_t i = 0; argv[i]; i++) {
        char *q = sf_ssh_quote(argv[i]);
        if (i > 0)
            sf_buf_add(&b, " ", 1);
        sf_buf_puts(&b, q);
        free(q);
    }
    return sf_buf_take(&b);
}

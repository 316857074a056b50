/*
 * A localcloud process for the unit tests that talk to the cloud's APIs
 * (the cloud provider's, the S3 state's): started on a free 127.0.0.1 port
 * with its data in the test's directory, stopped by its PID.
 */
#ifndef SF_TEST_LCPROC_H
#define SF_TEST_LCPROC_H

#include <stddef.h>
#include <sys/types.h>

/* Starts build/localcloud (beside the test binary's directory, or
 * $LOCALCLOUD) with --data DIR/data, its log in DIR/log, no delays and no
 * TLS port, plus the NULL-terminated extra arguments (may be NULL).
 * Writes "127.0.0.1:PORT" into addr; fails the test if it does not start.
 * Returns its PID. */
pid_t sf_test_localcloud_start(const char *dir, const char *const *extra, char *addr, size_t size);

/* Stops it (SIGTERM) and waits for it; pid <= 0 does nothing. */
void sf_test_localcloud_stop(pid_t pid);

#endif

/*
 * Small helpers every module uses: allocation that aborts on exhaustion
 * (an out-of-memory provisioner cannot do anything sensible), string
 * building, time, and whole-file I/O with atomic replacement.
 */
#ifndef SF_UTIL_H
#define SF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

void *sf_xmalloc(size_t n);
void *sf_xcalloc(size_t n, size_t size);
void *sf_xrealloc(void *p, size_t n);
char *sf_xstrdup(const char *s);
char *sf_xstrndup(const char *s, size_t n);
/* Caller frees the result. */
char *sf_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *sf_vasprintf(const char *fmt, va_list ap);

/* A growable string. */
struct sf_buf {
    char *s;
    size_t len, cap;
};
void sf_buf_add(struct sf_buf *b, const char *s, size_t n);
void sf_buf_puts(struct sf_buf *b, const char *s);
void sf_buf_printf(struct sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the string to the caller (never NULL) and resets the buffer. */
char *sf_buf_take(struct sf_buf *b);
void sf_buf_free(struct sf_buf *b);

/* Seconds on CLOCK_MONOTONIC. */
double sf_now(void);
/* Sleep for ms milliseconds. */
void sf_sleep_ms(long ms);

/* Read a whole file; caller frees. NULL with errno set on failure. */
char *sf_read_file(const char *path, size_t *len);
/* Write data to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. mode is applied to the
 * new file. Returns 0 or -1 with errno set. */
int sf_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* Makes the directories path's file lives in (mkdir -p of its dirname).
 * 0, or -1 with errno. */
int sf_mkdir_parents(const char *path);

/* Parse "30s", "5m", "1h", "1500ms", "0" into milliseconds; -1 if malformed. */
long sf_parse_duration_ms(const char *s);

/* n random bytes (from the system's generator) as 2n lowercase hex
 * characters; caller frees. */
char *sf_random_hex(size_t n);

/* A random version-4 UUID string; caller frees. */
char *sf_uuid(void);

#endif

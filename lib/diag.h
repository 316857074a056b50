/*
 * Diagnostics: every error or warning the engine, the loader or a provider
 * reports goes into a struct sf_diags list, with the file:line:col it is
 * about and the resource address when there is one. Commands print the list
 * at the end; nothing else prints errors. The list is thread-safe so that
 * provider calls running in parallel can report into one list.
 */
#ifndef SF_DIAG_H
#define SF_DIAG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A place in a description file. file is borrowed (owned by whoever loaded
 * the file and alive as long as the config); line and col are 1-based, and 0
 * means "not known". */
struct sf_pos {
    const char *file;
    int line;
    int col;
};

enum sf_severity { SF_SEV_ERROR, SF_SEV_WARNING };

/* What kind of failure an error is, so that the engine and the HTTP client
 * decide (retry, adopt, give up) without parsing message text. */
enum sf_diag_class {
    SF_CLASS_NONE = 0,     /* not classified (description errors, bugs) */
    SF_CLASS_RETRYABLE,    /* may succeed if tried again: 5xx, 429, dropped connections */
    SF_CLASS_NOT_FOUND,    /* the object does not exist */
    SF_CLASS_CONFLICT,     /* the object is in a state that forbids the call, or exists */
    SF_CLASS_INVALID,      /* the request was refused as malformed: retrying will not help */
    SF_CLASS_UNAUTHORIZED, /* credentials missing, wrong or not allowed */
};

struct sf_diag {
    enum sf_severity severity;
    char *summary; /* the whole message on one line */
    char *detail;  /* further lines, or NULL */
    char *file;    /* copied from the sf_pos; NULL when the diag has no place */
    int line, col;
    char *address; /* resource address, or NULL */
    char *attr;    /* the attribute of that resource it is about, or NULL: the
                      engine places it where the description sets the value */
    enum sf_diag_class cls;
};

struct sf_diags {
    struct sf_diag *items;
    size_t n, cap;
    pthread_mutex_t mu;
};

void sf_diags_init(struct sf_diags *d);
void sf_diags_free(struct sf_diags *d);

/* Add a diagnostic. pos and address may be NULL. The message is formatted
 * printf-style and must never contain a secret value. */
void sf_diag_add(struct sf_diags *d, enum sf_severity sev, const struct sf_pos *pos,
                 const char *address, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define sf_error(d, pos, ...) sf_diag_add((d), SF_SEV_ERROR, (pos), NULL, __VA_ARGS__)
#define sf_warn(d, pos, ...) sf_diag_add((d), SF_SEV_WARNING, (pos), NULL, __VA_ARGS__)

/* An error of a class (see enum sf_diag_class). */
void sf_diag_add_class(struct sf_diags *d, enum sf_diag_class cls, const struct sf_pos *pos,
                       const char *address, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* An error of a class about one attribute of the resource at address (a
 * provider's check of a value: an unknown flavor). The diagnostic has no
 * place; the engine gives it the place where the description sets attr. */
void sf_diag_add_attr(struct sf_diags *d, enum sf_diag_class cls, const char *address,
                      const char *attr, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The class of the last error in d, SF_CLASS_NONE when there is none. */
enum sf_diag_class sf_diags_last_class(const struct sf_diags *d);

/* Attach detail lines to the diagnostic added last. */
void sf_diag_detail(struct sf_diags *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

size_t sf_diags_errors(const struct sf_diags *d);

/* Gives every diagnostic of d that has no place the place pos (a
 * provider's check of a resource reported without one: the resource's
 * entry in the description is where to look). */
void sf_diags_place(struct sf_diags *d, const struct sf_pos *pos);

/* Move every diagnostic of src to the end of dst; src is left empty. */
void sf_diags_move(struct sf_diags *dst, struct sf_diags *src);

/* Print every diagnostic, one per line:
 *   FILE:LINE:COL: error: SUMMARY
 *   error: ADDRESS: SUMMARY          (no place, an address)
 *   error: SUMMARY                   (neither)
 * with detail lines indented by two spaces. color adds ANSI bold/red. */
void sf_diags_print(FILE *out, const struct sf_diags *d, bool color);

/* The edit distance of two strings, for "did you mean" suggestions. */
size_t sf_edit_distance(const char *a, const char *b);

/* From candidates (NULL-terminated), the one closest to word when it is close
 * enough to be a plausible typo, or NULL. */
const char *sf_did_you_mean(const char *word, const char *const *candidates);

#endif

/*
 * Typed access to the members of a JSON request body. Every getter checks
 * the type (and range) and, on the first problem, answers 400 in the API's
 * error shape naming the field ("server.name: expected a string"); later
 * getters then do nothing. A handler reads all its fields, then checks
 * c.failed once.
 */
#ifndef LC_FIELDS_H
#define LC_FIELDS_H

#include <jansson.h>
#include <stdbool.h>

#include "server.h"

struct lc_check {
    struct lc_request *req;
    struct lc_response *resp;
    bool failed;
};

enum { LC_REQUIRED = 1, LC_NULLABLE = 2 };

void lc_check_init(struct lc_check *c, struct lc_request *req, struct lc_response *resp);
/* Answers 400 with the message (first failure only). field is for callers'
 * symmetry and may be NULL; the message itself must name the field. */
void lc_check_fail(struct lc_check *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fails c for the first member of obj (may be NULL) whose name is not in
 * allowed (NULL-terminated): "<parent>.<member>: <why>", why in the API's
 * own words ("unrecognized or read-only attribute"). */
void lc_check_known(struct lc_check *c, json_t *obj, const char *parent,
                    const char *const *allowed, const char *why);

/* parent names the enclosing object in messages ("server"), NULL at the top.
 * Optional members that are absent (or JSON null) give NULL / the default. */
json_t *lc_get_object(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                      unsigned flags);
json_t *lc_get_array(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                     unsigned flags);
/* A string of at most 255 bytes unless LC_LONG is in flags. */
enum { LC_LONG = 4 };
const char *lc_get_string(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                          unsigned flags);
bool lc_get_bool(struct lc_check *c, json_t *obj, const char *parent, const char *key, bool dflt);
long long lc_get_int(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                     long long dflt, long long min, long long max);
/* A list of strings (each at most 255 bytes); NULL when absent. Borrowed. */
json_t *lc_get_string_list(struct lc_check *c, json_t *obj, const char *parent, const char *key,
                           unsigned flags);

/* A map of strings (labels, metadata): at most max entries, keys of 1 to
 * 255 bytes, values strings of at most 255 bytes. Absent (NULL) is fine. */
void lc_check_string_map(struct lc_check *c, json_t *map, const char *field, size_t max);

#endif

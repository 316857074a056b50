/*
 * Values are jansson json_t. A value that is not known until apply (the id
 * of an object not yet created, a string built from one) is one shared
 * sentinel, compared by pointer: sf_unknown(). Never json_deep_copy a value
 * that may hold it; use sf_value_copy, which keeps the sentinel shared.
 * Files (saved plans) carry it as {"__sf_unknown__": true}.
 */
#ifndef SF_VALUE_H
#define SF_VALUE_H

#include <jansson.h>
#include <stdbool.h>

/* The sentinel; a borrowed reference that is never freed. */
json_t *sf_unknown(void);
bool sf_is_unknown(const json_t *v);
/* True when v is or contains the sentinel anywhere. */
bool sf_value_has_unknown(const json_t *v);
/* Deep copy keeping the sentinel shared; new reference (NULL for NULL). */
json_t *sf_value_copy(const json_t *v);
/* Equality for diffing: integers and reals compare numerically, the
 * sentinel equals nothing, NULL equals json null. */
bool sf_value_equal(const json_t *a, const json_t *b);
/* Appends to the array out every non-empty string inside v (a secret
 * value's strings, which messages must not show). */
void sf_value_strings(const json_t *v, json_t *out);
/* For files: replace the sentinel by its marker object, and back. New refs. */
json_t *sf_value_encode(const json_t *v);
json_t *sf_value_decode(const json_t *v);

#endif

/*
 * The world of localcloud and its persistence: every object of every API,
 * grouped by API and kind ("compute" / "servers"), kept in memory and
 * mirrored on disk as one file per object:
 *     DATA/<api>/<kind>/<encoded id>.json    {"id": ..., "object": {...}}
 * written with sf_write_file_atomic (temp + fsync + rename + fsync of the
 * directory), so a write costs O(1) and a kill -9 loses nothing that was
 * acknowledged. Opening a data directory loads it all back.
 *
 * The store has no lock of its own: callers hold the server's world lock.
 * A mutation persists first and changes memory only when the write worked,
 * so a failed write leaves the world as it was (all-or-nothing per object).
 * Kinds whose name starts with '_' (identity's tokens) are internal: kept
 * like the others, left out of the inventory.
 */
#ifndef LC_STORE_H
#define LC_STORE_H

#include <jansson.h>

#include "diag.h"

struct lc_store;

/* Opens (creating it, mode 0700) and loads the data directory, and locks it
 * against a second localcloud. NULL with the problem added to diags on failure. */
struct lc_store *lc_store_open(const char *dir, struct sf_diags *diags);
void lc_store_close(struct lc_store *st);
const char *lc_store_dir(const struct lc_store *st);

/* The object, borrowed (valid until it is replaced or deleted), or NULL.
 * Never modify it in place: copy it, change the copy, lc_store_put the copy. */
json_t *lc_store_get(struct lc_store *st, const char *api, const char *kind, const char *id);
/* Persists obj under id, then keeps it (takes a new reference; the caller
 * keeps its own). id must be a non-empty UTF-8 string. 0, or -1 with errno
 * when the write failed (then nothing changed). */
int lc_store_put(struct lc_store *st, const char *api, const char *kind, const char *id, json_t *obj);
/* Removes the object from disk, then from memory. 0 (also when it did not
 * exist), -1 with errno on failure (then nothing changed). */
int lc_store_del(struct lc_store *st, const char *api, const char *kind, const char *id);
/* Every object of a kind as {id: object}, borrowed; an empty object when the
 * kind has none. Iterate with json_object_foreach; do not modify. */
json_t *lc_store_kind(struct lc_store *st, const char *api, const char *kind);
/* Every kind of an API as {kind: {id: object}}, borrowed; NULL when the
 * API has none. Do not modify. */
json_t *lc_store_api(struct lc_store *st, const char *api);
/* The objects of a kind as a new array, sorted by the integer member
 * "created_ms" then by id: the order lists are returned in. */
json_t *lc_store_sorted(struct lc_store *st, const char *api, const char *kind);
/* Everything (new reference): {api: {kind: {id: object}}}, without
 * internal kinds and without kinds that are empty. */
json_t *lc_store_inventory(struct lc_store *st);

#endif

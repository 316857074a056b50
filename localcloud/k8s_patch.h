/*
 * The patch algebra of localcloud's Kubernetes API, on plain JSON (jansson)
 * objects, with no knowledge of the server: JSON merge patch (RFC 7386),
 * JSON patch (RFC 6902), strategic merge patch (what kubectl's client-side
 * apply sends), and server-side apply with managedFields (FieldsV1).
 *
 * Lists are merged by key where Kubernetes does (containers, env, ports,
 * volumes ... by their merge keys: lc_k8s_list_keys) and replaced whole
 * otherwise. Every function returns a new object and never changes its
 * arguments. Error messages are one line, fit for a Status message.
 */
#ifndef LC_K8S_PATCH_H
#define LC_K8S_PATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The key fields of the elements of the list at path, NULL-terminated
 * (static), or NULL when that list is atomic (replaced whole). path names
 * the list by its field names from the object's root, with "[]" for a list
 * element: "spec.template.spec.containers", "spec.template.spec.containers[].ports",
 * "spec.ports". */
const char *const *lc_k8s_list_keys(const char *path);

/* RFC 7386. Never fails. */
json_t *lc_k8s_merge_patch(const json_t *target, const json_t *patch);

/* RFC 6902 (add, remove, replace, move, copy, test). NULL with a message in
 * err when an operation is malformed, a path does not exist or a test fails. */
json_t *lc_k8s_json_patch(const json_t *target, const json_t *ops, char *err, size_t errlen);

/* A strategic merge patch: like a merge patch, but lists with merge keys
 * are merged element by element, and the directives kubectl sends are
 * honoured ("$patch": "replace" / "delete" / "merge", "$retainKeys",
 * "$setElementOrder/<list>", "$deleteFromPrimitiveList/<list>").
 * NULL with a message in err when a directive is malformed. */
json_t *lc_k8s_strategic_merge(const json_t *target, const json_t *patch, char *err,
                               size_t errlen);

/* The FieldsV1 set of every field an object sets (its leaves, map keys and
 * keyed list elements: {"f:spec":{"f:replicas":{}}, ...}); metadata members
 * the server owns (uid, resourceVersion, generation, creationTimestamp,
 * managedFields, deletionTimestamp, selfLink) and apiVersion / kind are left
 * out. New reference. */
json_t *lc_k8s_fieldset(const json_t *obj);

/* Server-side apply of `applied` (a manager's whole intent for the object)
 * onto `live` (NULL when the object does not exist yet), both without
 * their status when the type has a status subresource (the caller strips
 * it). The result is live merged with applied (maps by member, keyed lists
 * by key, other lists and scalars replaced), minus the fields this
 * manager applied before and no longer applies and no other manager owns,
 * with metadata.managedFields updated: this manager's entry
 * {manager, operation "Apply", apiVersion, time: now, fieldsType "FieldsV1",
 * fieldsV1} holds exactly the applied field set, and other managers lose
 * the fields applied with force.
 *
 * Returns the new object (new reference), or NULL when another manager
 * owns a field that applied sets to a different value and force is false:
 * then *conflicts (new reference) is an array of
 * {"manager": "...", "field": ".spec.replicas"} and nothing changed; or
 * NULL with *conflicts NULL and a message in err when applied is not a
 * valid object. */
json_t *lc_k8s_apply(const json_t *live, const json_t *applied, const char *manager, bool force,
                     const char *api_version, const char *now, json_t **conflicts, char *err,
                     size_t errlen);

/* After a write that is not an apply (create, update, any patch) by
 * manager: gives manager (operation "Update", subresource "status" when
 * subresource is non-NULL) every field whose value differs between old
 * (NULL on create) and obj, and takes those fields from every other
 * manager; entries left with no field are dropped. Changes
 * obj's metadata.managedFields in place. */
void lc_k8s_track_update(json_t *obj, const json_t *old, const char *manager,
                         const char *api_version, const char *subresource, const char *now);

#endif

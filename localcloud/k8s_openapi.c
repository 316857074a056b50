/*
 * /openapi/v3 of localcloud's Kubernetes API: the index of group versions
 * and one OpenAPI 3.0 document per group version, built from the cluster's
 * type table (k8s.h).
 *
 * kubectl reads these documents for three things, and the shapes below are
 * what its code parses (client-go openapi, cli-runtime resource, kubectl
 * apply and explain):
 *  - whether PATCH of a kind takes the fieldValidation query parameter
 *    (queryParamVerifierV3): every PATCH operation carries its
 *    x-kubernetes-group-version-kind and the parameter, so kubectl sends
 *    fieldValidation=Strict and leaves validation to the server;
 *  - how client-side apply computes its patch (Patcher.patchSimple): it
 *    only reads component schemas when the PATCH operation accepts
 *    application/strategic-merge-patch+json;
 *  - kubectl explain: the GVK of a resource's paths, then the component
 *    schema whose x-kubernetes-group-version-kind contains it.
 */
#include "k8s.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

#define REF "#/components/schemas/"
#define META "io.k8s.apimachinery.pkg.apis.meta.v1."

/* What the documents say about a field: name, type, description. Types are
 * JSON schema types plus "map" (string to string), "strings" (array of
 * string), "objects" (array of object) and "time". */
struct field {
    const char *name, *type, *desc;
};

static json_t *field_schema(const char *type, const char *desc)
{
    json_t *s;
    if (!strcmp(type, "map"))
        s = json_pack("{s:s, s:{s:s}}", "type", "object", "additionalProperties", "type", "string");
    else if (!strcmp(type, "strings") || !strcmp(type, "objects"))
        s = json_pack("{s:s, s:{s:s}}", "type", "array", "items", "type",
                      type[0] == 's' ? "string" : "object");
    else if (!strcmp(type, "time"))
        s = json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
    else
        s = json_pack("{s:s}", "type", type);
    json_object_set_new(s, "description", json_string(desc));
    return s;
}

static json_t *ref(const char *name)
{
    char *r = sf_asprintf(REF "%s", name);
    json_t *o = json_pack("{s:s}", "$ref", r);
    free(r);
    return o;
}

/* A field holding another component: allOf around the $ref, as Kubernetes
 * publishes it (a $ref cannot have siblings in OpenAPI 3.0). */
static json_t *ref_field(const char *name, const char *desc)
{
    return json_pack("{s:s, s:{}, s:[o]}", "description", desc, "default", "allOf", ref(name));
}

static json_t *object_schema(const char *desc, const struct field *f)
{
    json_t *props = json_object();
    for (; f && f->name; f++)
        json_object_set_new(props, f->name, field_schema(f->type, f->desc));
    return json_pack("{s:s, s:s, s:o}", "description", desc, "type", "object", "properties", props);
}

static const struct field type_meta[] = {
    {"apiVersion", "string", "The versioned schema of this representation of an object."},
    {"kind", "string", "The REST resource this object represents."},
    {NULL, NULL, NULL},
};

/* The metav1 schemas the documents reference. ObjectMeta keeps the patch
 * extensions Kubernetes gives its lists, for clients that merge by them. */
static void add_meta_schemas(json_t *schemas)
{
    static const struct field om[] = {
        {"name", "string", "Name must be unique within a namespace."},
        {"generateName", "string", "Prefix of a name the server generates when name is empty."},
        {"namespace", "string", "The space within which each name must be unique."},
        {"uid", "string", "The unique in time and space value for this object."},
        {"resourceVersion", "string", "The internal version of this object (opaque)."},
        {"generation", "integer", "A sequence number of the desired state."},
        {"creationTimestamp", "time", "Time at which this object was created."},
        {"deletionTimestamp", "time", "Time at which this resource will be deleted."},
        {"deletionGracePeriodSeconds", "integer", "Seconds allowed for graceful termination."},
        {"labels", "map", "String keys and values to organize and categorize objects."},
        {"annotations", "map", "Unstructured key value map stored with a resource."},
        {"finalizers", "strings", "Must be empty before the object is deleted."},
        {"ownerReferences", "objects", "List of objects depended by this object."},
        {"managedFields", "objects", "The fields each manager owns."},
        {NULL, NULL, NULL},
    };
    static const struct field owner[] = {
        {"apiVersion", "string", "API version of the referent."},
        {"kind", "string", "Kind of the referent."},
        {"name", "string", "Name of the referent."},
        {"uid", "string", "UID of the referent."},
        {"controller", "boolean", "If true, this reference points to the managing controller."},
        {"blockOwnerDeletion", "boolean", "If true, the owner is deleted after this object."},
        {NULL, NULL, NULL},
    };
    static const struct field lm[] = {
        {"resourceVersion", "string", "The version of the list."},
        {"continue", "string", "Set when more results are available."},
        {"remainingItemCount", "integer", "The number of items left after this list."},
        {NULL, NULL, NULL},
    };
    static const struct field st[] = {
        {"apiVersion", "string", "APIVersion of this representation."},
        {"kind", "string", "Kind of this representation."},
        {"status", "string", "Status of the operation: Success or Failure."},
        {"message", "string", "A human-readable description of the status of this operation."},
        {"reason", "string", "A machine-readable description of why the operation failed."},
        {"code", "integer", "Suggested HTTP return code for this status, 0 if not set."},
        {"details", "object", "Extended data associated with the reason."},
        {NULL, NULL, NULL},
    };
    static const struct field del[] = {
        {"apiVersion", "string", "APIVersion of this representation."},
        {"kind", "string", "Kind of this representation."},
        {"dryRun", "strings", "When present, modifications are not persisted."},
        {"gracePeriodSeconds", "integer", "The duration in seconds before the object is deleted."},
        {"propagationPolicy", "string", "Garbage collection: Orphan, Background or Foreground."},
        {"preconditions", "object", "Must be fulfilled before a deletion is carried out."},
        {NULL, NULL, NULL},
    };
    json_t *m = object_schema("Metadata all persisted resources must have.", om);
    json_t *fin = json_object_get(json_object_get(m, "properties"), "finalizers");
    json_object_set_new(fin, "x-kubernetes-patch-strategy", json_string("merge"));
    json_object_set_new(fin, "x-kubernetes-list-type", json_string("set"));
    json_t *owners = json_object_get(json_object_get(m, "properties"), "ownerReferences");
    json_object_set_new(owners, "items", object_schema("Identifies an owning object.", owner));
    json_object_set_new(owners, "x-kubernetes-patch-merge-key", json_string("uid"));
    json_object_set_new(owners, "x-kubernetes-patch-strategy", json_string("merge"));
    json_object_set_new(owners, "x-kubernetes-list-type", json_string("map"));
    json_object_set_new(owners, "x-kubernetes-list-map-keys", json_pack("[s]", "uid"));
    json_object_set_new(schemas, META "ObjectMeta", m);
    json_object_set_new(schemas, META "ListMeta", object_schema("Metadata of lists.", lm));
    json_t *s = object_schema("A return value for calls that do not return other objects.", st);
    json_object_set_new(json_object_get(s, "properties"), "metadata",
                        ref_field(META "ListMeta", "Standard list metadata."));
    json_object_set_new(
        s, "x-kubernetes-group-version-kind",
        json_pack("[{s:s, s:s, s:s}]", "group", "", "kind", "Status", "version", "v1"));
    json_object_set_new(schemas, META "Status", s);
    json_object_set_new(schemas, META "DeleteOptions", object_schema("Options for a delete.", del));
    json_object_set_new(schemas, META "Patch",
                        json_pack("{s:s, s:s}", "description",
                                  "Patch is provided to give a concrete name and type to the "
                                  "Kubernetes PATCH request body.",
                                  "type", "object"));
}

/* The top-level fields of the built-in kinds without a spec; the others are
 * described as spec (and status). Names, types and a line each, for
 * kubectl explain: the documents carry no full built-in schemas (see the
 * PATCH request body). */
static const struct {
    const char *kind;
    struct field f[5];
} top_fields[] = {
    {"ConfigMap",
     {{"data", "map", "Configuration data."},
      {"binaryData", "map", "Binary configuration data, base64-encoded."},
      {"immutable", "boolean", "If true, the data cannot be updated."}}},
    {"Secret",
     {{"data", "map", "Secret data, base64-encoded."},
      {"stringData", "map", "Write-only secret data as plain strings, merged into data."},
      {"type", "string", "Used to facilitate programmatic handling of secret data."},
      {"immutable", "boolean", "If true, the data cannot be updated."}}},
    {"ServiceAccount",
     {{"secrets", "objects", "Secrets pods of this service account may use."},
      {"imagePullSecrets", "objects", "Secrets for pulling container images."},
      {"automountServiceAccountToken", "boolean", "Whether pods mount an API token."}}},
    {"Event",
     {{"involvedObject", "object", "The object this event is about."},
      {"reason", "string", "Short, machine understandable reason of the event."},
      {"message", "string", "A human-readable description of the event."},
      {"type", "string", "Normal or Warning."}}},
    {"Role", {{"rules", "objects", "The PolicyRules of this Role."}}},
    {"ClusterRole",
     {{"rules", "objects", "The PolicyRules of this ClusterRole."},
      {"aggregationRule", "object", "How to build the rules of this ClusterRole."}}},
    {"RoleBinding",
     {{"subjects", "objects", "The objects the role applies to."},
      {"roleRef", "object", "The Role or ClusterRole being bound."}}},
    {"ClusterRoleBinding",
     {{"subjects", "objects", "The objects the role applies to."},
      {"roleRef", "object", "The ClusterRole being bound."}}},
    {"MutatingWebhookConfiguration",
     {{"webhooks", "objects", "The webhooks and what they act on."}}},
    {"ValidatingWebhookConfiguration",
     {{"webhooks", "objects", "The webhooks and what they act on."}}},
};

/* "io.k8s.api.apps.v1.Deployment" for built-ins (with the packages of the
 * two kinds served outside k8s.io/api), "com.example.v1.Widget" for custom
 * resources: the group reversed, as Kubernetes names CRD schemas. */
static char *schema_name(const struct lc_k8s_type *t, const char *kind)
{
    struct sf_buf b = {0};
    if (t->crd) {
        const char *g = t->group, *end = g + strlen(g);
        while (end > g) {
            const char *dot = end;
            while (dot > g && dot[-1] != '.')
                dot--;
            sf_buf_add(&b, dot, (size_t)(end - dot));
            sf_buf_puts(&b, ".");
            end = dot > g ? dot - 1 : g;
        }
    } else if (!strcmp(t->group, "apiextensions.k8s.io")) {
        sf_buf_puts(&b, "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.");
    } else if (!strcmp(t->group, "apiregistration.k8s.io")) {
        sf_buf_puts(&b, "io.k8s.kube-aggregator.pkg.apis.apiregistration.");
    } else {
        const char *dot = strchr(t->group, '.');
        sf_buf_puts(&b, "io.k8s.api.");
        if (!t->group[0])
            sf_buf_puts(&b, "core");
        else
            sf_buf_add(&b, t->group, dot ? (size_t)(dot - t->group) : strlen(t->group));
        sf_buf_puts(&b, ".");
    }
    sf_buf_printf(&b, "%s.%s", t->version, kind);
    return sf_buf_take(&b);
}

static json_t *gvk(const struct lc_k8s_type *t, const char *kind)
{
    return json_pack("{s:s, s:s, s:s}", "group", t->group, "kind", kind, "version", t->version);
}

/* The kind's schema and its list's. Custom resources get their CRD's
 * openAPIV3Schema with apiVersion, kind and metadata set as Kubernetes does. */
static void add_kind_schemas(json_t *schemas, const struct lc_k8s_type *t)
{
    json_t *s;
    if (t->schema && json_is_object(t->schema)) {
        s = json_deep_copy(t->schema);
        if (!json_object_get(s, "type"))
            json_object_set_new(s, "type", json_string("object"));
    } else if (t->crd) {
        s = json_pack("{s:s, s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
    } else {
        const struct field *f = NULL;
        static const struct field spec_status[] = {
            {"spec", "object", "The desired behavior of this object."},
            {"status", "object", "The most recently observed status of this object; read-only."},
            {NULL, NULL, NULL},
        };
        for (size_t i = 0; i < sizeof(top_fields) / sizeof(top_fields[0]); i++)
            if (!strcmp(top_fields[i].kind, t->kind))
                f = top_fields[i].f;
        char *d = sf_asprintf("%s is a Kubernetes %s.", t->kind,
                              t->namespaced ? "namespaced object" : "cluster-scoped object");
        s = object_schema(d, f ? f : spec_status);
        if (!f && !t->has_status)
            json_object_del(json_object_get(s, "properties"), "status");
        free(d);
    }
    json_t *props = json_object_get(s, "properties");
    if (!json_is_object(props)) {
        props = json_object();
        json_object_set_new(s, "properties", props);
    }
    for (const struct field *f = type_meta; f->name; f++)
        json_object_set_new(props, f->name, field_schema(f->type, f->desc));
    json_object_set_new(props, "metadata",
                        ref_field(META "ObjectMeta", "Standard object's metadata."));
    json_object_set_new(s, "x-kubernetes-group-version-kind", json_pack("[o]", gvk(t, t->kind)));
    char *name = schema_name(t, t->kind);
    json_object_set_new(schemas, name, s);

    char *d = sf_asprintf("%s is a list of %s.", t->list_kind, t->kind);
    json_t *l = object_schema(d, type_meta);
    free(d);
    json_t *lp = json_object_get(l, "properties");
    json_object_set_new(lp, "items",
                        json_pack("{s:s, s:s, s:o}", "description", "List of objects.", "type",
                                  "array", "items", ref(name)));
    json_object_set_new(lp, "metadata", ref_field(META "ListMeta", "Standard list metadata."));
    json_object_set_new(l, "required", json_pack("[s]", "items"));
    json_object_set_new(l, "x-kubernetes-group-version-kind",
                        json_pack("[o]", gvk(t, t->list_kind)));
    free(name);
    name = schema_name(t, t->list_kind);
    json_object_set_new(schemas, name, l);
    free(name);
}

/* Query parameters as Kubernetes describes them; kubectl looks for
 * fieldValidation by name among a PATCH operation's own parameters. */
static const struct field query_params[] = {
    {"allowWatchBookmarks", "boolean", "Requests watch events with type BOOKMARK."},
    {"continue", "string", "The continue token of a previous list call, to get more results."},
    {"dryRun", "string", "When present, modifications are not persisted. Valid value: All."},
    {"fieldManager", "string", "A name associated with the actor making these changes."},
    {"fieldSelector", "string", "Restricts the list of returned objects by their fields."},
    {"fieldValidation", "string",
     "How to treat unknown or duplicate fields: Ignore, Warn, Strict."},
    {"force", "boolean", "Force Apply requests: take conflicting fields from their managers."},
    {"gracePeriodSeconds", "integer", "The duration in seconds before the object is deleted."},
    {"labelSelector", "string", "Restricts the list of returned objects by their labels."},
    {"limit", "integer", "The maximum number of responses to return for a list call."},
    {"orphanDependents", "boolean", "Deprecated: use propagationPolicy."},
    {"pretty", "string", "If 'true', then the output is pretty printed."},
    {"propagationPolicy", "string", "Whether and how garbage collection is performed."},
    {"resourceVersion", "string",
     "Constrains what resource versions a request may be served from."},
    {"resourceVersionMatch", "string", "How resourceVersion is applied to list calls."},
    {"sendInitialEvents", "boolean", "Starts a watch with synthetic events of the current state."},
    {"timeoutSeconds", "integer", "Timeout for the list/watch call."},
    {"watch", "boolean", "Watch for changes and return them as a stream of events."},
    {NULL, NULL, NULL},
};

static json_t *param(const char *name)
{
    if (!strcmp(name, "name") || !strcmp(name, "namespace"))
        return json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:b}}", "name", name, "in", "path",
                         "description",
                         name[4] ? "object name and auth scope, such as for teams and projects"
                                 : "name of the object",
                         "required", 1, "schema", "type", "string", "uniqueItems", 1);
    for (const struct field *f = query_params; f->name; f++)
        if (!strcmp(f->name, name))
            return json_pack("{s:s, s:s, s:s, s:{s:s, s:b}}", "name", name, "in", "query",
                             "description", f->desc, "schema", "type", f->type, "uniqueItems", 1);
    abort(); /* a name missing from the table is a bug of this file */
}

/* The parameters named in a space-separated list. */
static json_t *params(const char *names)
{
    json_t *a = json_array();
    while (*names) {
        size_t n = strcspn(names, " ");
        char *name = sf_xstrndup(names, n);
        json_array_append_new(a, param(name));
        free(name);
        names += n + (names[n] == ' ');
    }
    return a;
}

static json_t *content(const char *const *types, const char *schema)
{
    json_t *c = json_object();
    for (; *types; types++)
        json_object_set_new(c, *types, json_pack("{s:o}", "schema", ref(schema)));
    return c;
}

#define SELECT_P                                                                                   \
    "continue fieldSelector labelSelector limit resourceVersion resourceVersionMatch "             \
    "sendInitialEvents timeoutSeconds"
#define LIST_P "allowWatchBookmarks " SELECT_P " watch"
#define DELETE_P "dryRun gracePeriodSeconds orphanDependents propagationPolicy"
#define WRITE_P "dryRun fieldManager fieldValidation"
static const char *const any_body[] = {"*/*", NULL};
static const char *const replies[] = {"application/json", "application/yaml", NULL};
/* No application/strategic-merge-patch+json, although the server takes it
 * for built-ins: kubectl's client-side apply would then build its patch
 * from these (sparse) schemas and warn "unable to find api field" for every
 * field they do not describe; without it, kubectl falls back to the patch
 * metadata compiled into it for built-ins, and to JSON merge patch for
 * custom resources (for which Kubernetes does not advertise it either). */
static const char *const patch_body[] = {"application/apply-patch+yaml",
                                         "application/json-patch+json",
                                         "application/merge-patch+json", NULL};

enum path { COLLECTION, ITEM, STATUS, ALL_NAMESPACES };
enum body { NO_BODY, OBJECT_BODY, PATCH_BODY, DELETE_BODY };

/* The operations of a type's paths, as the Kubernetes API server publishes
 * them: on which path, the method, x-kubernetes-action, the verb of the
 * operationId, the description (%s: the kind), the query parameters, the
 * request body, what answers (k: the kind, l: its list, s: a Status) and
 * the response codes (3 characters each). */
static const struct op {
    enum path path;
    const char *method, *action, *verb, *what;
    const char *params; /* space-separated */
    enum body body;
    char reply;
    const char *codes;
} ops[] = {
    {COLLECTION, "get", "list", "list", "list or watch objects of kind %s", LIST_P, NO_BODY, 'l',
     "200"},
    {COLLECTION, "post", "post", "create", "create a %s", WRITE_P, OBJECT_BODY, 'k', "200201202"},
    {COLLECTION, "delete", "deletecollection", "delete", "delete collection of %s",
     DELETE_P " " SELECT_P, DELETE_BODY, 's', "200"},
    {ITEM, "get", "get", "read", "read the specified %s", "", NO_BODY, 'k', "200"},
    {ITEM, "put", "put", "replace", "replace the specified %s", WRITE_P, OBJECT_BODY, 'k',
     "200201"},
    {ITEM, "patch", "patch", "patch", "partially update the specified %s", WRITE_P " force",
     PATCH_BODY, 'k', "200201"},
    {ITEM, "delete", "delete", "delete", "delete a %s", DELETE_P, DELETE_BODY, 's', "200202"},
    {STATUS, "get", "get", "read", "read status of the specified %s", "", NO_BODY, 'k', "200"},
    {STATUS, "put", "put", "replace", "replace status of the specified %s", WRITE_P, OBJECT_BODY,
     'k', "200201"},
    {STATUS, "patch", "patch", "patch", "partially update status of the specified %s",
     WRITE_P " force", PATCH_BODY, 'k', "200201"},
    {ALL_NAMESPACES, "get", "list", "list", "list or watch objects of kind %s", LIST_P, NO_BODY,
     'l', "200"},
};

/* "Apps", "RbacAuthorization" (k8s.io dropped), "Core", "ComExample"
 * (custom groups reversed like their schema names): of operationIds. */
static char *camel_group(const struct lc_k8s_type *t)
{
    char *g = t->crd ? schema_name(t, "") : sf_xstrdup(t->group[0] ? t->group : "core");
    size_t n = strlen(g);
    if (t->crd) /* schema_name ended with ".<version>." */
        g[n - strlen(t->version) - 2] = '\0';
    else if (n > 7 && !strcmp(g + n - 7, ".k8s.io"))
        g[n - 7] = '\0';
    struct sf_buf b = {0};
    bool up = true;
    for (const char *p = g; *p; p++) {
        if (*p == '.' || *p == '-') {
            up = true;
            continue;
        }
        char c = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        sf_buf_add(&b, &c, 1);
        up = false;
    }
    free(g);
    return sf_buf_take(&b);
}

static json_t *operation(const struct op *o, const struct lc_k8s_type *t, const char *camel,
                         const char *tag, const char *kind_schema, const char *list_schema)
{
    bool ns = t->namespaced && o->path != ALL_NAMESPACES;
    char *desc = sf_asprintf(o->what, t->kind);
    char *id = sf_asprintf("%s%s%s%s%s%s", o->verb, camel,
                           !strcmp(o->action, "deletecollection") ? "Collection" : "",
                           ns ? "Namespaced" : "", t->kind,
                           o->path == STATUS           ? "Status"
                           : o->path == ALL_NAMESPACES ? "ForAllNamespaces"
                                                       : "");
    const char *reply = o->reply == 'k'   ? kind_schema
                        : o->reply == 'l' ? list_schema
                                          : META "Status";
    json_t *responses = json_pack("{s:{s:s}}", "401", "description", "Unauthorized");
    for (const char *c = o->codes; *c; c += 3) {
        char code[4] = {c[0], c[1], c[2], '\0'};
        json_object_set_new(responses, code,
                            json_pack("{s:s, s:o}", "description",
                                      c[2] == '0'   ? "OK"
                                      : c[2] == '1' ? "Created"
                                                    : "Accepted",
                                      "content", content(replies, reply)));
    }
    json_t *op = json_pack("{s:[s], s:s, s:s, s:o, s:o, s:s, s:o}", "tags", tag, "description",
                           desc, "operationId", id, "parameters", params(o->params), "responses",
                           responses, "x-kubernetes-action", o->action,
                           "x-kubernetes-group-version-kind", gvk(t, t->kind));
    if (o->body != NO_BODY)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:o, s:b}", "content",
                                      o->body == PATCH_BODY ? content(patch_body, META "Patch")
                                      : o->body == DELETE_BODY
                                          ? content(any_body, META "DeleteOptions")
                                          : content(any_body, kind_schema),
                                      "required", o->body != DELETE_BODY));
    free(desc);
    free(id);
    return op;
}

/* The collection, item, status and all-namespaces paths of one type, with
 * their path parameters as Kubernetes lists them. */
static void add_type_paths(json_t *paths, const struct lc_k8s_type *t)
{
    static const char *const path_params[2][4] = {
        {"pretty", "name pretty", "name pretty", ""},
        {"namespace pretty", "name namespace pretty", "name namespace pretty", "pretty"},
    };
    bool ns = t->namespaced;
    char *g = camel_group(t);
    char *camel =
        sf_asprintf("%s%c%s", g, t->version[0] == 'v' ? 'V' : t->version[0], t->version + 1);
    char *tag = sf_asprintf("%c%s_%s", g[0] >= 'A' && g[0] <= 'Z' ? g[0] - 'A' + 'a' : g[0], g + 1,
                            t->version);
    char *kind_schema = schema_name(t, t->kind), *list_schema = schema_name(t, t->list_kind);
    char *base = t->group[0] ? sf_asprintf("/apis/%s/%s", t->group, t->version)
                             : sf_asprintf("/api/%s", t->version);
    char *coll = sf_asprintf("%s%s/%s", base, ns ? "/namespaces/{namespace}" : "", t->plural);
    char *url[4] = {sf_xstrdup(coll), sf_asprintf("%s/{name}", coll),
                    sf_asprintf("%s/{name}/status", coll), sf_asprintf("%s/%s", base, t->plural)};
    for (int p = COLLECTION; p <= ALL_NAMESPACES; p++) {
        if ((p == STATUS && !t->has_status) || (p == ALL_NAMESPACES && !ns))
            continue;
        json_t *item = json_pack("{s:o}", "parameters", params(path_params[ns][p]));
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (ops[i].path == (enum path)p)
                json_object_set_new(item, ops[i].method,
                                    operation(&ops[i], t, camel, tag, kind_schema, list_schema));
        json_object_set_new(paths, url[p], item);
    }
    for (int p = 0; p < 4; p++)
        free(url[p]);
    free(g);
    free(camel);
    free(tag);
    free(kind_schema);
    free(list_schema);
    free(base);
    free(coll);
}

/* "api/v1", "apis/apps/v1": the index's keys; caller frees. NULL for a
 * type missing a name (custom resources borrow theirs from stored JSON),
 * which the documents leave out rather than describe wrongly. */
static char *gv_path(const struct lc_k8s_type *t)
{
    if (!t->group || !t->version || !t->plural || !t->kind || !t->list_kind)
        return NULL;
    return t->group[0] ? sf_asprintf("apis/%s/%s", t->group, t->version)
                       : sf_asprintf("api/%s", t->version);
}

/* The document of one group version, or NULL when no type is in it. */
static json_t *gv_document(const struct lc_k8s_types *types, const char *gv)
{
    json_t *paths = json_object(), *schemas = json_object();
    bool any = false, crd = false;
    for (size_t i = 0; i < types->n; i++) {
        char *p = gv_path(&types->v[i]);
        if (p && !strcmp(p, gv)) {
            any = true;
            crd = crd || types->v[i].crd;
            add_type_paths(paths, &types->v[i]);
            add_kind_schemas(schemas, &types->v[i]);
        }
        free(p);
    }
    if (!any) {
        json_decref(paths);
        json_decref(schemas);
        return NULL;
    }
    add_meta_schemas(schemas);
    return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
                     crd ? "Kubernetes CRD Swagger" : "Kubernetes", "version",
                     crd ? "v0.1.0" : "v1.32.0", "paths", paths, "components", "schemas", schemas);
}

/* The document's version for ?hash= and the ETag: SHA-512 of its JSON in
 * upper-case hex, as Kubernetes computes it. Keys are sorted so that the
 * same types always give the same hash. */
static void doc_hash(const json_t *doc, char out[2 * 64 + 1])
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!s || !EVP_Digest(s, strlen(s), md, &len, EVP_sha512(), NULL))
        len = 0;
    char *h = lc_hex(md, len < 64 ? len : 64);
    for (size_t i = 0; h[i]; i++)
        out[i] = (char)toupper((unsigned char)h[i]);
    out[strlen(h)] = '\0';
    free(h);
    free(s);
}

void lc_k8s_openapi(struct lc_request *req, struct lc_response *resp,
                    const struct lc_k8s_types *types, const char *gv)
{
    char hash[2 * 64 + 1];
    if (gv && *gv) {
        json_t *doc = gv_document(types, gv);
        if (!doc) {
            lc_k8s_status(resp, 404, "NotFound", NULL,
                          "the server could not find the requested resource");
            return;
        }
        /* A URL of the index names its content for good: clients (kubectl's
         * HTTP cache under ~/.kube/cache) may keep it for a year. A stale
         * hash gets the current document, uncached. */
        const char *want = lc_req_query(req, "hash");
        doc_hash(doc, hash);
        char etag[sizeof(hash) + 2];
        snprintf(etag, sizeof(etag), "\"%s\"", hash);
        lc_resp_header(resp, "ETag", etag);
        if (want && hash[0] && !strcmp(want, hash)) {
            char expires[64];
            struct tm tm;
            time_t later = time(NULL) + 365L * 24 * 3600;
            strftime(expires, sizeof(expires), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&later, &tm));
            lc_resp_header(resp, "Cache-Control", "public, immutable");
            lc_resp_header(resp, "Expires", expires);
            lc_resp_header(resp, "Vary", "Accept");
        }
        lc_resp_json(resp, 200, doc);
        return;
    }
    /* The cluster's root (/k8s/<uuid>) prefixes every URL: client-go
     * requests a serverRelativeURL that does not start with /openapi/v3
     * from the host's root (before 1.28 it always did). */
    const char *at = strstr(req->path, "/openapi/v3");
    int plen = at ? (int)(at - req->path) : 0;
    json_t *paths = json_object();
    for (size_t i = 0; i < types->n; i++) {
        char *p = gv_path(&types->v[i]);
        if (p && !json_object_get(paths, p)) {
            json_t *doc = gv_document(types, p);
            doc_hash(doc, hash);
            json_decref(doc);
            char *url = sf_asprintf("%.*s/openapi/v3/%s?hash=%s", plen, req->path, p, hash);
            json_object_set_new(paths, p, json_pack("{s:s}", "serverRelativeURL", url));
            free(url);
        }
        free(p);
    }
    lc_resp_json(resp, 200, json_pack("{s:o}", "paths", paths));
}

/*
 * kubernetes_manifest: any object of a cluster (built-in or custom), given
 * under `manifest:` or in a `source` file (which the plan step loads into
 * manifest, so that a changed file plans an update). A source of several
 * documents, or a directory of YAML files (a git repository's CRDs), stands
 * for one resource per document, NAME[Kind/ns/name]
 * (sf_kube_manifest_instances, when the description is loaded).
 *
 * Created and updated by server-side apply with field manager "sparkform".
 * Read reports the live object projected onto what sparkform manages (its
 * Apply entry of managedFields, plus what the last apply gave, so that a
 * field another manager took over shows its live value): defaults and
 * what controllers add are never a diff. Discovery gives the path and
 * the scope. Secrets are refused here: their data must be sensitive,
 * which a whole manifest is not (kubernetes_secret is their type).
 */
#include <dirent.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube.h"
#include "node.h"
#include "util.h"

static const struct sf_attr attrs[] = {
    {"kubeconfig", SF_STRING, SF_OPTIONAL | SF_SENSITIVE, NULL,
     "the cluster's kubeconfig text (usually ${cloud_k8s_cluster.NAME.kubeconfig})"},
    {"kubeconfig_path", SF_STRING, SF_OPTIONAL, NULL,
     "a kubeconfig file, relative to the description (else the provider's)"},
    {"manifest", SF_OBJECT, SF_OPTIONAL | SF_COMPUTED, NULL,
     "the object: apiVersion, kind, metadata.name (+ namespace), ... (this or source)"},
    {"source", SF_STRING, SF_OPTIONAL, NULL,
     "a YAML or JSON file holding the object (or a directory of YAML files), relative to the "
     "description (this or manifest)"},
    {"force_conflicts", SF_BOOL, SF_OPTIONAL, "false",
     "take fields over from other field managers"},
    {"wait", SF_OBJECT, SF_OPTIONAL, NULL,
     "after apply, wait for {rollout: true}, {established: true}, {complete: true}, "
     "{condition: NAME} or {field: PATH, value: V}"},
    {"delete_propagation", SF_STRING, SF_OPTIONAL, "\"Foreground\"",
     "Foreground, Background or Orphan"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL,
     "apiVersion/kind/namespace/name (namespace empty when cluster-scoped)"},
    {"uid", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the object's metadata.uid"},
    {"resource_version", SF_STRING, SF_COMPUTED, NULL, "the object's metadata.resourceVersion"},
    {NULL, 0, 0, NULL, NULL},
};

/* Recorded as described, never read back. */
static const char *const local_attrs[] = {"kubeconfig", "kubeconfig_path", "source",
                                          "force_conflicts", "wait", "delete_propagation", NULL};

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool set(const json_t *v)
{
    return v && !json_is_null(v);
}

/* ---------- pure parts ---------- */

static bool has_children(const json_t *f)
{
    if (!json_is_object(f))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)f, k, v)
        if (strcmp(k, ".") != 0)
            return true;
    return false;
}

static bool has_item_keys(const json_t *f)
{
    const char *k;
    json_t *v;
    if (!json_is_object(f))
        return false;
    json_object_foreach ((json_t *)f, k, v)
        if (!strncmp(k, "k:", 2) || !strncmp(k, "v:", 2) || !strncmp(k, "i:", 2))
            return true;
    return false;
}

/* Whether item has every member of key with the same value. Port lists
 * are keyed by port and protocol, and an element that leaves the protocol
 * out is keyed with Kubernetes' default, TCP. */
static bool item_has(const json_t *item, const json_t *key)
{
    const char *k;
    json_t *v;
    if (!json_is_object(item) || !json_is_object(key))
        return false;
    json_object_foreach ((json_t *)key, k, v) {
        const json_t *iv = json_object_get(item, k);
        if (!iv && !strcmp(k, "protocol") && json_is_string(v) &&
            !strcmp(json_string_value(v), "TCP"))
            continue;
        if (!sf_value_equal(iv, v))
            return false;
    }
    return true;
}

/* The fieldsV1 child of f naming item i of a list, or NULL; *key (a new
 * reference, or NULL) is the parsed "k:" key. */
static const json_t *item_fields(const json_t *f, const json_t *item, size_t i, json_t **key)
{
    const char *k;
    json_t *v;
    *key = NULL;
    json_object_foreach ((json_t *)f, k, v) {
        if (!strncmp(k, "k:", 2)) {
            json_t *kj = json_loads(k + 2, 0, NULL);
            if (item_has(item, kj)) {
                *key = kj;
                return v;
            }
            json_decref(kj);
        } else if (!strncmp(k, "v:", 2)) {
            json_t *vj = json_loads(k + 2, JSON_DECODE_ANY, NULL);
            bool eq = vj && sf_value_equal(vj, item);
            json_decref(vj);
            if (eq)
                return v;
        } else if (!strncmp(k, "i:", 2)) {
            if (strtoul(k + 2, NULL, 10) == i)
                return v;
        }
    }
    return NULL;
}

static json_t *project(const json_t *live, const json_t *f, const json_t *p);

static json_t *project_list(const json_t *live, const json_t *f, const json_t *p)
{
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(live); i++) {
        const json_t *item = json_array_get(live, i);
        json_t *key = NULL;
        const json_t *sub = item_fields(f, item, i, &key);
        if (!sub)
            continue;
        const json_t *pitem = NULL;
        for (size_t j = 0; key && j < json_array_size(p); j++)
            if (item_has(json_array_get(p, j), key))
                pitem = json_array_get(p, j);
        if (json_is_object(item) && (has_children(sub) || pitem))
            json_array_append_new(out, project(item, sub, pitem));
        else
            json_array_append_new(out, json_deep_copy(item));
        json_decref(key);
    }
    return out;
}

static json_t *project(const json_t *live, const json_t *f, const json_t *p)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)live, k, v) {
        char *fk = sf_asprintf("f:%s", k);
        const json_t *sf = json_object_get(f, fk);
        free(fk);
        const json_t *sp = json_is_object(p) ? json_object_get(p, k) : NULL;
        if (!sf && !sp)
            continue;
        if (json_is_object(v) && (has_children(sf) || json_is_object(sp)))
            json_object_set_new(out, k, project(v, sf, sp));
        else if (json_is_array(v) && has_item_keys(sf))
            json_object_set_new(out, k, project_list(v, sf, sp));
        else
            json_object_set_new(out, k, json_deep_copy(v));
    }
    return out;
}

json_t *sf_kube_project(const json_t *live, const json_t *fields, const json_t *prior,
                        bool with_namespace)
{
    json_t *out = project(live, fields, prior);
    json_object_set_new(out, "apiVersion", json_string(str(live, "apiVersion")));
    json_object_set_new(out, "kind", json_string(str(live, "kind")));
    const json_t *lm = json_object_get(live, "metadata");
    json_t *m = json_object_get(out, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(out, "metadata", m);
    }
    json_object_set_new(m, "name", json_string(str(lm, "name")));
    if (with_namespace && *str(lm, "namespace"))
        json_object_set_new(m, "namespace", json_string(str(lm, "namespace")));
    else
        json_object_del(m, "namespace");
    return out;
}

const json_t *sf_kube_managed_fields(const json_t *live, const char *manager)
{
    const json_t *mf = json_object_get(json_object_get(live, "metadata"), "managedFields");
    for (size_t i = 0; i < json_array_size(mf); i++) {
        const json_t *e = json_array_get(mf, i);
        if (!strcmp(str(e, "manager"), manager) && !strcmp(str(e, "operation"), "Apply") &&
            !*str(e, "subresource"))
            return json_object_get(e, "fieldsV1");
    }
    return NULL;
}

int sf_kube_id_parse(const char *id, char **api_version, char **kind, char **ns, char **name)
{
    *api_version = *kind = *ns = *name = NULL;
    char *parts[6];
    size_t n = 0;
    const char *p = id;
    while (n < 6) {
        size_t len = strcspn(p, "/");
        parts[n++] = sf_xstrndup(p, len);
        if (!p[len])
            break;
        p += len + 1;
    }
    int rc = -1;
    /* A kind starts with a capital letter, a version never does: that
     * tells "v1/Kind/..." from "group/v1/Kind/...". */
    size_t kpos = n >= 2 && parts[1][0] >= 'A' && parts[1][0] <= 'Z' ? 1 : 2;
    size_t rest = n > kpos ? n - kpos - 1 : 0;
    if (n < 6 && n > kpos && (rest == 1 || rest == 2) && parts[kpos][0] >= 'A' &&
        parts[kpos][0] <= 'Z' && *parts[0] && (kpos == 1 || *parts[1]) && *parts[n - 1]) {
        *api_version = kpos == 1 ? sf_xstrdup(parts[0]) : sf_asprintf("%s/%s", parts[0], parts[1]);
        *kind = sf_xstrdup(parts[kpos]);
        *ns = sf_xstrdup(rest == 2 ? parts[kpos + 1] : "");
        *name = sf_xstrdup(parts[n - 1]);
        rc = 0;
    }
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    return rc;
}

char *sf_kube_conflicts(const json_t *status)
{
    const json_t *causes = json_object_get(json_object_get(status, "details"), "causes");
    json_t *by = json_object(); /* manager -> [fields] */
    json_t *order = json_array();
    for (size_t i = 0; i < json_array_size(causes); i++) {
        const json_t *x = json_array_get(causes, i);
        if (strcmp(str(x, "reason"), "FieldManagerConflict") != 0)
            continue;
        const char *msg = str(x, "message");
        const char *q = strchr(msg, '"');
        const char *e = q ? strchr(q + 1, '"') : NULL;
        char *mgr = q && e ? sf_xstrndup(q + 1, (size_t)(e - q - 1)) : sf_xstrdup("?");
        json_t *fields = json_object_get(by, mgr);
        if (!fields) {
            fields = json_array();
            json_object_set_new(by, mgr, fields);
            json_array_append_new(order, json_string(mgr));
        }
        json_array_append_new(fields, json_string(str(x, "field")));
        free(mgr);
    }
    char *out = NULL;
    if (json_array_size(order) > 0) {
        struct sf_buf b = {0};
        sf_buf_printf(&b, "conflicts with field manager%s ", json_array_size(order) > 1 ? "s" : "");
        for (size_t i = 0; i < json_array_size(order); i++) {
            const char *mgr = json_string_value(json_array_get(order, i));
            const json_t *fields = json_object_get(by, mgr);
            sf_buf_printf(&b, "%s\"%s\" (", i ? ", " : "", mgr);
            for (size_t j = 0; j < json_array_size(fields); j++)
                sf_buf_printf(&b, "%s%s", j ? ", " : "",
                              json_string_value(json_array_get(fields, j)));
            sf_buf_puts(&b, ")");
        }
        out = sf_buf_take(&b);
    }
    json_decref(by);
    json_decref(order);
    return out;
}

/* ---------- the plan step ---------- */

/* A source path relative to the description's directory. Caller frees. */
static char *source_path(const char *config_dir, const char *src)
{
    return src[0] == '/' || !config_dir || !*config_dir ? sf_xstrdup(src)
                                                         : sf_asprintf("%s/%s", config_dir, src);
}

/* The key of one document of a source of several: "Kind/namespace/name",
 * or "Kind/name" when it names no namespace; NULL when the document lacks
 * a kind or a name (strings). Caller frees. */
static char *doc_key(const struct sf_node *root)
{
    const struct sf_node *kind = sf_node_get(root, "kind");
    const struct sf_node *meta = sf_node_get(root, "metadata");
    const struct sf_node *name = meta && meta->kind == SF_NODE_MAP ? sf_node_get(meta, "name") : NULL;
    const struct sf_node *ns = name ? sf_node_get(meta, "namespace") : NULL;
    if (!kind || kind->kind != SF_NODE_SCALAR || !*kind->text || !name ||
        name->kind != SF_NODE_SCALAR || !*name->text)
        return NULL;
    if (ns && ns->kind == SF_NODE_SCALAR && *ns->text)
        return sf_asprintf("%s/%s/%s", kind->text, ns->text, name->text);
    return sf_asprintf("%s/%s", kind->text, name->text);
}

/* Whether a document of a stream holds something (a trailing "---" gives
 * an empty one). */
static bool doc_empty(const struct sf_node *root)
{
    return root->kind == SF_NODE_SCALAR && (!*root->text || strcmp(root->text, "null") == 0 ||
                                            strcmp(root->text, "~") == 0);
}

/* The parsed files of a source: one, or every *.yaml and *.yml file of a
 * directory (not of its subdirectories), in the order of their names. */
struct source_docs {
    struct sf_doc **v;
    size_t n;
};

static void source_docs_free(struct source_docs *s)
{
    for (size_t i = 0; i < s->n; i++)
        sf_doc_free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static bool yaml_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the source at path into *out. A file that cannot be read or
 * parsed is an error in d, at its place; -1 then. */
static int source_docs_load(const char *path, struct source_docs *out, struct sf_diags *d)
{
    memset(out, 0, sizeof(*out));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        struct sf_doc *doc = NULL;
        if (sf_yaml_load_stream(path, &doc, d) < 0)
            return -1;
        out->v = sf_xcalloc(1, sizeof(*out->v));
        out->v[out->n++] = doc;
        return 0;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        struct sf_pos pos = {path, 0, 0};
        sf_error(d, &pos, "cannot read the directory: %s", strerror(errno));
        return -1;
    }
    char **files = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        if (!yaml_name(e->d_name))
            continue;
        char *file = sf_asprintf("%s/%s", path, e->d_name);
        struct stat fs;
        if (stat(file, &fs) == 0 && S_ISREG(fs.st_mode)) {
            files = sf_xrealloc(files, (n + 1) * sizeof(*files));
            files[n++] = file;
        } else {
            free(file);
        }
    }
    closedir(dir);
    qsort(files, n, sizeof(*files), by_name);
    int rc = 0;
    out->v = sf_xcalloc(n ? n : 1, sizeof(*out->v));
    for (size_t i = 0; i < n; i++) {
        struct sf_doc *doc = NULL;
        if (rc == 0 && sf_yaml_load_stream(files[i], &doc, d) == 0)
            out->v[out->n++] = doc;
        else
            rc = -1;
        free(files[i]);
    }
    free(files);
    if (rc < 0)
        source_docs_free(out);
    return rc;
}

int sf_kube_manifest_instances(const char *config_dir, const struct sf_node *with, json_t **keys,
                               struct sf_diags *d)
{
    *keys = NULL;
    const struct sf_node *src = with && with->kind == SF_NODE_MAP ? sf_node_get(with, "source") : NULL;
    if (!src || src->kind != SF_NODE_SCALAR || strstr(src->text, "${"))
        return 0; /* not a literal path: the plan step reads it */
    char *path = source_path(config_dir, src->text);
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct source_docs docs;
    int rc = 0;
    /* A file that cannot be read or parsed is the plan step's to report. */
    if (source_docs_load(path, &docs, &quiet) == 0) {
        json_t *out = json_array();
        json_t *from = json_object(); /* key -> the file that holds it */
        for (size_t f = 0; f < docs.n && rc == 0; f++) {
            for (size_t i = 0; i < docs.v[f]->n_roots && rc == 0; i++) {
                const struct sf_node *root = docs.v[f]->roots[i];
                if (doc_empty(root))
                    continue;
                char *key = root->kind == SF_NODE_MAP ? doc_key(root) : NULL;
                if (!key) {
                    sf_error(d, &root->pos,
                             "a document of a manifest source needs kind and metadata.name (a "
                             "source of several documents makes one resource of each)");
                    rc = -1;
                    break;
                }
                const char *other = json_string_value(json_object_get(from, key));
                if (other && !strcmp(other, root->pos.file)) {
                    sf_error(d, &root->pos, "%s appears twice in this source", key);
                    rc = -1;
                } else if (other) {
                    sf_error(d, &root->pos, "%s appears twice in the source directory: in %s and in %s",
                             key, other, root->pos.file);
                    rc = -1;
                }
                json_object_set_new(from, key, json_string(root->pos.file));
                json_array_append_new(out, json_string(key));
                free(key);
            }
        }
        json_decref(from);
        if (rc == 0)
            *keys = out;
        else
            json_decref(out);
        source_docs_free(&docs);
    }
    sf_diags_free(&quiet);
    free(path);
    return rc;
}

/* The key of this instance in c->name ("NAME[KEY]"), or NULL. Caller frees. */
static char *instance_key(const struct sf_call *c)
{
    const char *open = c->name ? strchr(c->name, '[') : NULL;
    size_t n = open ? strlen(open) : 0;
    return n >= 2 && open[n - 1] == ']' ? sf_xstrndup(open + 1, n - 2) : NULL;
}

static int load_source(struct sf_call *c, json_t *desired)
{
    char *path = source_path(c->config_dir, str(desired, "source"));
    char *want = instance_key(c);
    struct sf_diags d;
    sf_diags_init(&d);
    struct source_docs docs;
    const struct sf_node *found = NULL;
    size_t n = 0;
    int rc = -1;
    if (source_docs_load(path, &docs, &d) < 0) {
        /* For a directory, the file that failed is the one to name. */
        const char *file = d.n && d.items[0].file ? d.items[0].file : path;
        sf_kube_fail(c, SF_CLASS_INVALID, "source: %s: %s", file,
                     d.n ? d.items[0].summary : "cannot be read");
        if (d.n && d.items[0].line)
            sf_diag_detail(c->diags, "at line %d", d.items[0].line);
        goto out;
    }
    for (size_t f = 0; f < docs.n; f++) {
        for (size_t i = 0; i < docs.v[f]->n_roots; i++) {
            const struct sf_node *root = docs.v[f]->roots[i];
            if (doc_empty(root))
                continue;
            n++;
            char *key = want && root->kind == SF_NODE_MAP ? doc_key(root) : NULL;
            if (!want || (key && strcmp(key, want) == 0))
                found = found ? found : root;
            free(key);
        }
    }
    if (want && !found) {
        sf_kube_fail(c, SF_CLASS_INVALID, "source: %s no longer holds %s", path, want);
    } else if (!want && n > 1) {
        sf_kube_fail(c, SF_CLASS_INVALID,
                     "source: %s holds %zu documents; a source of several must be written as a "
                     "literal path, so that each document becomes a resource when the "
                     "description is loaded",
                     path, n);
    } else if (!found || found->kind != SF_NODE_MAP) {
        sf_kube_fail(c, SF_CLASS_INVALID, "source: %s does not hold an object (a mapping)", path);
    } else {
        json_object_set_new(desired, "manifest", sf_node_to_json(found));
        rc = 0;
    }
    source_docs_free(&docs);
out:
    sf_diags_free(&d);
    free(path);
    free(want);
    return rc;
}

/* The checks of a manifest whose values are known where they matter. */
static int check_manifest(struct sf_call *c, const json_t *m)
{
    const json_t *meta = json_object_get(m, "metadata");
    const char *missing = NULL;
    if (!json_is_string(json_object_get(m, "apiVersion")) &&
        !sf_is_unknown(json_object_get(m, "apiVersion")))
        missing = "apiVersion";
    else if (!json_is_string(json_object_get(m, "kind")) &&
             !sf_is_unknown(json_object_get(m, "kind")))
        missing = "kind";
    else if (!json_is_object(meta) ||
             (!json_is_string(json_object_get(meta, "name")) &&
              !sf_is_unknown(json_object_get(meta, "name"))))
        missing = "metadata.name";
    if (missing) {
        sf_kube_fail(c, SF_CLASS_INVALID, "manifest: %s is required (a string)", missing);
        return -1;
    }
    if (!strcmp(str(m, "kind"), "Secret") && !strcmp(str(m, "apiVersion"), "v1")) {
        sf_kube_fail(c, SF_CLASS_INVALID,
                     "manifest: kind Secret is not applied through kubernetes_manifest, whose "
                     "manifest is shown in plans: use kubernetes_secret (namespace, name, type, "
                     "data as text), whose data is always sensitive");
        return -1;
    }
    const json_t *ns = json_object_get(meta, "namespace");
    if (set(ns) && !json_is_string(ns) && !sf_is_unknown(ns)) {
        sf_kube_fail(c, SF_CLASS_INVALID, "manifest: metadata.namespace is a string");
        return -1;
    }
    return 0;
}

static int manifest_plan(struct sf_call *c, json_t *desired)
{
    const json_t *m = json_object_get(desired, "manifest");
    const json_t *src = json_object_get(desired, "source");
    if (set(m) == set(src)) {
        sf_kube_fail(c, SF_CLASS_INVALID, "%s: set exactly one of manifest (the object) and "
                                          "source (a file holding it)",
                     set(m) ? "manifest and source are both set"
                            : "neither manifest nor source is set");
        return -1;
    }
    const char *prop = str(desired, "delete_propagation");
    if (*prop && strcmp(prop, "Foreground") && strcmp(prop, "Background") &&
        strcmp(prop, "Orphan")) {
        sf_kube_fail(c, SF_CLASS_INVALID,
                     "delete_propagation: \"%s\": expected Foreground, Background or Orphan", prop);
        return -1;
    }
    if (set(src)) {
        if (sf_value_has_unknown(src))
            return 0;
        if (load_source(c, desired) < 0)
            return -1;
        m = json_object_get(desired, "manifest");
    }
    if (check_manifest(c, m) < 0)
        return -1;
    const json_t *wait = json_object_get(desired, "wait");
    const char *why;
    if (!sf_value_has_unknown(wait) &&
        (why = sf_kube_wait_problem(wait, json_is_string(json_object_get(m, "kind"))
                                              ? str(m, "kind")
                                              : NULL))) {
        sf_kube_fail(c, SF_CLASS_INVALID, "wait: %s", why);
        return -1;
    }
    return 0;
}

/* ---------- operations ---------- */

/* What an object is and where it lives. */
struct target {
    struct sf_kube_cluster *k;
    struct sf_kube_res res;
    const char *api_version, *kind, *name;
    char *ns;   /* "" when cluster-scoped */
    char *path; /* the object's path */
    char *id;
};

static void target_free(struct target *t)
{
    sf_kube_res_free(&t->res);
    free(t->ns);
    free(t->path);
    free(t->id);
}

/* Resolves a manifest's object. 0, 1 (kind not served, !may_wait), -1. */
static int target_of(struct sf_call *c, struct sf_kube_cluster *k, const char *api_version,
                     const char *kind, const char *ns, const char *name, bool may_wait,
                     struct target *t)
{
    memset(t, 0, sizeof(*t));
    t->k = k;
    t->api_version = api_version;
    t->kind = kind;
    t->name = name;
    int rc = sf_kube_resolve(c, k, api_version, kind, may_wait, &t->res);
    if (rc != 0)
        return rc;
    if (t->res.namespaced) {
        t->ns = sf_xstrdup(ns && *ns ? ns : "default");
    } else {
        if (ns && *ns && may_wait) {
            sf_kube_fail(c, SF_CLASS_INVALID,
                         "manifest: metadata.namespace: kind %s is cluster-scoped; leave the "
                         "namespace out",
                         kind);
            return -1;
        }
        t->ns = sf_xstrdup("");
    }
    t->path = sf_kube_path(&t->res, t->ns, name);
    t->id = sf_asprintf("%s/%s/%s/%s", api_version, kind, t->ns, name);
    return 0;
}

/* The recorded attributes: conn's local attributes (desired or prior),
 * the live object's projection and its identity. */
static json_t *attrs_of(const json_t *conn, const json_t *live, const json_t *applied,
                        bool with_ns, const char *id)
{
    json_t *o = json_object();
    for (size_t i = 0; local_attrs[i]; i++) {
        const json_t *v = json_object_get(conn, local_attrs[i]);
        if (v)
            json_object_set_new(o, local_attrs[i], sf_value_copy(v));
    }
    if (!json_object_get(o, "force_conflicts"))
        json_object_set_new(o, "force_conflicts", json_false());
    if (!json_object_get(o, "delete_propagation"))
        json_object_set_new(o, "delete_propagation", json_string("Foreground"));
    const json_t *fields = sf_kube_managed_fields(live, SF_KUBE_MANAGER);
    json_object_set_new(o, "manifest", sf_kube_project(live, fields, applied, with_ns));
    const json_t *meta = json_object_get(live, "metadata");
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "uid", json_string(str(meta, "uid")));
    json_object_set_new(o, "resource_version", json_string(str(meta, "resourceVersion")));
    return o;
}

static bool manifest_has_ns(const json_t *m)
{
    return set(json_object_get(json_object_get(m, "metadata"), "namespace"));
}

/* GET of the object (from_list: a refresh's read, which a list of its
 * collection may serve): 1 with *live, 0 gone, -1 error. */
static int get_live(struct sf_call *c, const struct target *t, bool from_list, json_t **live)
{
    return sf_kube_get(c, t->k, &t->res, t->ns, t->name, from_list, live);
}

int sf_kube_apply(struct sf_call *c, const json_t *conn, const json_t *body, bool force,
                  const json_t *wait, json_t **live, char **id)
{
    *live = NULL;
    *id = NULL;
    struct sf_kube_cluster *k;
    if (sf_kube_connect(c, conn, &k) < 0)
        return -1;
    const json_t *meta = json_object_get(body, "metadata");
    struct target t;
    if (target_of(c, k, str(body, "apiVersion"), str(body, "kind"), str(meta, "namespace"),
                  str(meta, "name"), true, &t) != 0) {
        target_free(&t);
        return -1;
    }
    json_t *full = sf_value_copy(body);
    if (*t.ns)
        json_object_set_new(json_object_get(full, "metadata"), "namespace", json_string(t.ns));
    char *text = json_dumps(full, JSON_COMPACT);
    json_decref(full);
    char *path = sf_asprintf("%s?fieldManager=" SF_KUBE_MANAGER "%s", t.path,
                             force ? "&force=true" : "");
    sf_kube_status(c, "server-side apply of %s %s", t.kind, t.name);
    struct sf_http_resp rs;
    int rc = -1;
    json_t *applied = NULL; /* the object as the apply left it */
    if (sf_kube_request(c, k, "PATCH", path, "application/apply-patch+yaml", text, &rs) == 0) {
        if (rs.status == 200 || rs.status == 201) {
            rc = 0;
            applied = json_loadb(rs.body, rs.len, 0, NULL);
        } else if (rs.status == 409) {
            json_t *st = json_loadb(rs.body, rs.len, 0, NULL);
            char *what = sf_kube_conflicts(st);
            if (what) {
                sf_kube_fail(c, SF_CLASS_CONFLICT, "server-side apply of %s %s %s", t.kind,
                             t.name, what);
                sf_diag_detail(c->diags, "another field manager set these fields to other "
                                         "values; set force_conflicts: true to take them over");
            } else {
                sf_kube_error(c, "server-side apply", "PATCH", t.path, &rs);
            }
            free(what);
            json_decref(st);
        } else {
            sf_kube_error(c, "server-side apply", "PATCH", t.path, &rs);
        }
    }
    sf_http_resp_free(&rs);
    /* The body may hold a Secret's data: wipe the copy sent. */
    OPENSSL_cleanse(text, strlen(text));
    free(path);
    free(text);
    bool waited = rc == 0 && sf_kube_waits(t.kind, wait);
    if (rc == 0)
        rc = sf_kube_wait(c, k, t.path, t.kind, wait);
    /* The object exists even when the wait failed: report it. The apply's
     * answer is the object, unless a wait let its status move on since. */
    if (applied && !waited && json_is_object(json_object_get(applied, "metadata"))) {
        *live = applied;
        applied = NULL;
        *id = sf_xstrdup(t.id);
    } else if (get_live(c, &t, false, live) == 1) {
        *id = sf_xstrdup(t.id);
    } else if (rc == 0) {
        rc = -1;
    }
    json_decref(applied);
    target_free(&t);
    return rc;
}

/* Server-side apply of desired's manifest, the wait, and the recorded
 * attributes. */
static int apply(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    const json_t *m = json_object_get(desired, "manifest");
    if (check_manifest(c, m) < 0)
        return -1;
    json_t *live;
    char *id;
    int rc = sf_kube_apply(c, desired, m, json_is_true(json_object_get(desired, "force_conflicts")),
                           json_object_get(desired, "wait"), &live, &id);
    if (live)
        *out = attrs_of(desired, live, m, manifest_has_ns(m), id);
    json_decref(live);
    free(id);
    return rc;
}

static int manifest_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    return apply(c, desired, out);
}

int sf_kube_delete(struct sf_call *c, const json_t *conn, const char *id, const char *prop)
{
    char *av, *kind, *ns, *name;
    if (sf_kube_id_parse(id, &av, &kind, &ns, &name) < 0) {
        sf_kube_fail(c, SF_CLASS_INVALID, "the recorded id \"%s\" is malformed", id);
        return -1;
    }
    struct sf_kube_cluster *k;
    int rc = sf_kube_connect(c, conn, &k);
    struct target t = {0};
    int got = rc == 0 ? target_of(c, k, av, kind, ns, name, false, &t) : -1;
    if (got < 0)
        rc = -1;
    if (got == 0) {
        json_t *opts = json_pack("{s:s,s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
                                 "propagationPolicy", *prop ? prop : "Foreground");
        char *text = json_dumps(opts, JSON_COMPACT);
        json_decref(opts);
        struct sf_http_resp rs;
        sf_kube_status(c, "deleting %s %s", kind, name);
        rc = sf_kube_request(c, k, "DELETE", t.path, "application/json", text, &rs);
        if (rc == 0 && rs.status != 200 && rs.status != 202 && rs.status != 404) {
            sf_kube_error(c, "deleting the object", "DELETE", t.path, &rs);
            rc = -1;
        }
        bool gone = rc == 0 && rs.status == 404;
        sf_http_resp_free(&rs);
        free(text);
        if (rc == 0 && !gone)
            rc = sf_kube_wait_gone(c, k, t.path);
    }
    target_free(&t);
    free(av);
    free(kind);
    free(ns);
    free(name);
    return rc;
}

/* Group and kind of an id ("apps/v1/Deployment/..." -> "apps Deployment"),
 * namespace and name: what stays the same object across versions. */
static char *identity(const char *id)
{
    char *av, *kind, *ns, *name;
    if (sf_kube_id_parse(id, &av, &kind, &ns, &name) < 0)
        return sf_xstrdup(id);
    const char *slash = strchr(av, '/');
    char *r = sf_asprintf("%.*s %s %s %s", slash ? (int)(slash - av) : 0, av, kind, ns, name);
    free(av);
    free(kind);
    free(ns);
    free(name);
    return r;
}

static int manifest_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                           json_t **out)
{
    int rc = apply(c, desired, out);
    if (rc < 0 || !*out)
        return rc;
    /* A new name, namespace or kind is a new object: the old one goes once
     * the new one is there. */
    const char *old = str(prior, "id"), *cur = str(*out, "id");
    char *a = identity(old), *b = identity(cur);
    if (*old && strcmp(a, b) != 0)
        rc = sf_kube_delete(c, prior, old, str(prior, "delete_propagation"));
    free(a);
    free(b);
    return rc;
}

static int manifest_delete(struct sf_call *c, const json_t *prior)
{
    const char *id = str(prior, "id");
    if (!*id)
        return 0;
    return sf_kube_delete(c, prior, id, str(prior, "delete_propagation"));
}

int sf_kube_read(struct sf_call *c, const json_t *conn, const char *id, bool from_list,
                 json_t **live, char **canonical_id, bool *namespaced)
{
    *live = NULL;
    if (canonical_id)
        *canonical_id = NULL;
    char *av, *kind, *ns, *name;
    if (sf_kube_id_parse(id, &av, &kind, &ns, &name) < 0) {
        sf_kube_fail(c, SF_CLASS_INVALID,
                     "\"%s\" is not an id of the form apiVersion/kind/namespace/name (cluster-"
                     "scoped: apiVersion/kind//name or apiVersion/kind/name)",
                     id);
        return -1;
    }
    struct sf_kube_cluster *k;
    int rc = sf_kube_connect(c, conn, &k);
    struct target t = {0};
    int got = rc == 0 ? target_of(c, k, av, kind, ns, name, false, &t) : -1;
    if (got < 0)
        rc = -1;
    if (got == 0) {
        int g = get_live(c, &t, from_list, live);
        if (g < 0)
            rc = -1;
        if (g == 1 && canonical_id)
            *canonical_id = sf_xstrdup(t.id);
        if (namespaced)
            *namespaced = t.res.namespaced;
    }
    target_free(&t);
    free(av);
    free(kind);
    free(ns);
    free(name);
    return rc;
}

/* Reads the object of id; conn gives the connection and the local
 * attributes, applied the manifest last applied (or NULL). */
static int read_id(struct sf_call *c, const json_t *conn, const char *id, const json_t *applied,
                   bool with_ns, bool from_list, json_t **out)
{
    *out = NULL;
    json_t *live;
    char *cid;
    bool namespaced = false;
    int rc = sf_kube_read(c, conn, id, from_list, &live, &cid, &namespaced);
    if (live)
        *out = attrs_of(conn, live, applied, with_ns || (!applied && namespaced), cid);
    json_decref(live);
    free(cid);
    return rc;
}

static int manifest_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    const json_t *m = json_object_get(prior, "manifest");
    return read_id(c, prior, str(prior, "id"), json_is_object(m) ? m : NULL, manifest_has_ns(m),
                   true, out);
}

static int manifest_import(struct sf_call *c, const char *id, json_t **out)
{
    json_t *none = json_object();
    int rc = read_id(c, none, id, NULL, true, false, out);
    json_decref(none);
    return rc;
}

const struct sf_resource_type sf_kube_manifest_type = {
    .name = "kubernetes_manifest",
    .doc = "any Kubernetes object, by server-side apply",
    .attrs = attrs,
    .read = manifest_read,
    .create = manifest_create,
    .update = manifest_update,
    .delete = manifest_delete,
    .import = manifest_import,
    .plan = manifest_plan,
    .order = sf_kube_order,
    .instances = sf_kube_manifest_instances,
    .status = sf_kube_manifest_status,
    .timeouts = {.create = 600, .update = 600, .delete = 600, .read = 120},
    .connection = "kubeconfig",
};

/*
 * cloud_k8s_cluster: a managed Kubernetes cluster (container-infra v1, as
 * VK Cloud serves it). The version is given as "1.31" and resolved to a
 * cluster template; the master flavor by name or id. Changes in place go
 * through the cluster's own calls: labels and security policy sync by JSON
 * patch, the master flavor by resize_masters, the version by upgrade, and
 * `status: SHUTOFF / RUNNING` by turn_off_cluster / turn_on_cluster. Each
 * change converges: it looks at the cluster, sends the call only when the
 * cluster does not show the change yet, and waits for it; so a lost answer
 * never sends a call twice blindly. Lineage and address ride in the
 * cluster's labels (read hides them). The kubeconfig is a sensitive
 * attribute, fetched whenever the cluster is RUNNING.
 */
#include <stdlib.h>
#include <string.h>

#include "cloud.h"
#include "util.h"

static const struct sf_attr attrs[] = {
    {"name", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "cluster name (a letter, then letters, digits, _ . -)"},
    {"version", SF_STRING, SF_REQUIRED, NULL, "Kubernetes version, e.g. \"1.31\"; a change upgrades"},
    {"network_id", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the cluster's network"},
    {"subnet_id", SF_STRING, SF_REQUIRED | SF_FORCE_NEW, NULL, "the cluster's subnet"},
    {"master_flavor", SF_STRING, SF_REQUIRED, NULL, "flavor of the masters by name or id; a change resizes them"},
    {"master_count", SF_NUMBER, SF_OPTIONAL | SF_FORCE_NEW, "1", "number of masters: 1, 3 or 5"},
    {"keypair", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, NULL, "key pair installed on the nodes"},
    {"availability_zones", SF_LIST, SF_OPTIONAL | SF_COMPUTED | SF_FORCE_NEW | SF_STABLE, NULL, "zones of the masters"},
    {"cluster_type", SF_STRING, SF_OPTIONAL | SF_FORCE_NEW, "\"standard\"", "\"standard\" or \"regional\""},
    {"pods_network_cidr", SF_STRING, SF_OPTIONAL | SF_COMPUTED | SF_FORCE_NEW | SF_STABLE, NULL, "address block of the pods"},
    {"floating_ip_enabled", SF_BOOL, SF_OPTIONAL | SF_FORCE_NEW, "false", "a public address for the API"},
    {"labels", SF_MAP, SF_OPTIONAL, "{}", "cluster labels (strings)"},
    {"security_policy_sync_enabled", SF_BOOL, SF_OPTIONAL | SF_COMPUTED, NULL, "sync of security policies"},
    {"status", SF_STRING, SF_OPTIONAL | SF_POWER, "\"RUNNING\"", "\"RUNNING\" or \"SHUTOFF\" (turns the cluster off and on)"},
    {"id", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the cluster's uuid"},
    {"cluster_template_id", SF_STRING, SF_COMPUTED, NULL, "the template the version resolved to"},
    {"master_flavor_id", SF_STRING, SF_COMPUTED, NULL, "the masters' flavor id"},
    {"api_address", SF_STRING, SF_COMPUTED | SF_STABLE, NULL, "the Kubernetes API's URL"},
    {"kubeconfig", SF_STRING, SF_COMPUTED | SF_SENSITIVE, NULL, "admin kubeconfig (sensitive)"},
    {NULL, 0, 0, NULL, NULL},
};

static char *cluster_path(const char *id, const char *rest)
{
    char *e = sf_cloud_escape(id);
    char *p = sf_asprintf("/clusters/%s%s", e, rest);
    free(e);
    return p;
}

/* The state a cluster is in: new_status is what the cloud decides on. */
static const char *state_of(const json_t *cl)
{
    const char *s = sf_cloud_str(cl, "new_status");
    return *s ? s : sf_cloud_str(cl, "status");
}

/* GET the cluster by uuid or name; *cl NULL when it is gone or going. */
static int cluster_get(struct sf_call *c, const char *id, json_t **cl)
{
    *cl = NULL;
    char *path = cluster_path(id, "");
    struct sf_cloud_resp r;
    int rc = sf_cloud_do(c, SF_CLOUD_CI, "GET", path, NULL, SF_CLOUD_OK404, "reading the cluster", &r);
    free(path);
    if (rc == 0 && r.status != 404 && json_is_object(r.json)) {
        const char *st = state_of(r.json);
        if (strcmp(st, "DELETING") != 0 && strcmp(st, "DELETED") != 0)
            *cl = json_incref(r.json);
    }
    sf_cloud_resp_free(&r);
    return rc;
}

/* "no template has that version", with the versions the cloud offers
 * when it lists them; about attr when given (a check), else the cluster. */
static void no_template(struct sf_call *c, const char *attr, const char *version)
{
    struct sf_diags quiet;
    sf_diags_init(&quiet);
    struct sf_call q = *c;
    q.diags = &quiet;
    struct sf_cloud_resp r;
    json_t *versions = json_array();
    if (sf_cloud_do(&q, SF_CLOUD_CI, "GET", "/clustertemplates", NULL, 0, "listing the cluster templates",
                    &r) == 0) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(r.json, "clustertemplates"), i, t)
            json_array_append_new(versions, json_string(sf_cloud_str(t, "version")));
    }
    sf_cloud_resp_free(&r);
    sf_diags_free(&quiet);
    char *hint = sf_cloud_suggest(version, versions);
    sf_diag_add_attr(c->diags, SF_CLASS_INVALID, c->address, attr,
                     "version \"%s\": no cluster template has that version%s", version, hint);
    free(hint);
    json_decref(versions);
}

/* The template of a version or id: its uuid and version. New ref or NULL
 * (an error about attr, or the cluster when attr is NULL). */
static json_t *template_get(struct sf_call *c, const char *version_or_id, const char *attr)
{
    char *e = sf_cloud_escape(version_or_id);
    char *path = sf_asprintf("/clustertemplates/%s", e);
    free(e);
    struct sf_cloud_resp r;
    json_t *t = NULL;
    if (sf_cloud_do(c, SF_CLOUD_CI, "GET", path, NULL, SF_CLOUD_OK404, "looking the cluster template up", &r) == 0) {
        if (r.status == 404)
            no_template(c, attr, version_or_id);
        else
            t = json_pack("{s:s, s:s}", "uuid", sf_cloud_str(r.json, "uuid"), "version",
                          sf_cloud_str(r.json, "version"));
    }
    sf_cloud_resp_free(&r);
    free(path);
    return t;
}

static char *kubeconfig(struct sf_call *c, const char *id)
{
    char *path = cluster_path(id, "/kube_config");
    struct sf_cloud_resp r;
    char *k = NULL;
    if (sf_cloud_do(c, SF_CLOUD_CI, "GET", path, NULL, 0, "fetching the kubeconfig", &r) == 0)
        k = sf_xstrdup(r.body ? r.body : "");
    if (r.body)
        memset(r.body, 0, r.len);
    sf_cloud_resp_free(&r);
    free(path);
    return k;
}

/* What read reports; prior gives spellings and what the cloud does not
 * answer. NULL after an error. */
static json_t *cluster_view(struct sf_call *c, const json_t *cl, const json_t *prior)
{
    const char *id = sf_cloud_str(cl, "uuid");
    json_t *v = json_pack("{s:s, s:s, s:s, s:s}", "name", sf_cloud_str(cl, "name"), "id", id,
                          "network_id", sf_cloud_str(cl, "network_id"), "subnet_id",
                          sf_cloud_str(cl, "subnet_id"));
    const char *tpl = sf_cloud_str(cl, "cluster_template_id");
    json_object_set_new(v, "cluster_template_id", json_string(tpl));
    if (json_is_string(json_object_get(prior, "version")) &&
        strcmp(sf_cloud_str(prior, "cluster_template_id"), tpl) == 0) {
        sf_cloud_copy(v, prior, "version");
    } else {
        json_t *t = template_get(c, tpl, NULL);
        if (!t) {
            json_decref(v);
            return NULL;
        }
        json_object_set_new(v, "version", json_string(sf_cloud_str(t, "version")));
        json_decref(t);
    }
    const char *mf = sf_cloud_str(cl, "master_flavor_id");
    json_t *flavor = sf_cloud_flavor_spelling(c, json_object_get(prior, "master_flavor"),
                                              json_object_get(prior, "master_flavor_id"), mf);
    if (!flavor) {
        json_decref(v);
        return NULL;
    }
    json_object_set_new(v, "master_flavor", flavor);
    json_object_set_new(v, "master_flavor_id", json_string(mf));
    sf_cloud_copy(v, cl, "master_count");
    json_t *kp = json_object_get(cl, "keypair");
    json_object_set_new(v, "keypair", json_is_string(kp) && *json_string_value(kp) ? json_copy(kp) : json_null());
    json_t *zones = json_object_get(cl, "availability_zones");
    const char *zone = sf_cloud_str(cl, "availability_zone");
    if (json_is_array(zones))
        json_object_set_new(v, "availability_zones", json_deep_copy(zones));
    else if (*zone)
        json_object_set_new(v, "availability_zones", json_pack("[s]", zone));
    /* Fields a cloud may leave out of its answer keep what was recorded. */
    const char *from_prior[] = {"cluster_type", "security_policy_sync_enabled"};
    for (size_t i = 0; i < 2; i++) {
        if (json_object_get(cl, from_prior[i]))
            sf_cloud_copy(v, cl, from_prior[i]);
        else
            sf_cloud_copy(v, prior, from_prior[i]);
    }
    if (!json_object_get(v, "cluster_type"))
        json_object_set_new(v, "cluster_type", json_string("standard"));
    sf_cloud_copy(v, cl, "pods_network_cidr");
    json_object_set_new(v, "floating_ip_enabled", json_boolean(json_is_true(json_object_get(cl, "floating_ip_enabled"))));
    json_t *labels = json_object();
    const char *k;
    json_t *val;
    json_object_foreach(json_object_get(cl, "labels"), k, val) if (strcmp(k, SF_CLOUD_KEY_LINEAGE) != 0 &&
                                                                   strcmp(k, SF_CLOUD_KEY_ADDRESS) != 0)
        json_object_set(labels, k, val);
    json_object_set_new(v, "labels", labels);
    const char *state = state_of(cl);
    json_object_set_new(v, "status", json_string(state));
    json_t *api = json_object_get(cl, "api_address");
    json_object_set_new(v, "api_address", json_is_string(api) ? json_copy(api) : json_null());
    /* The kubeconfig is fetched when none is recorded, or when the API
     * address or the version changed: the one recorded still opens the same
     * cluster otherwise, and a plan then reads a cluster with one request. */
    const json_t *rec_kc = json_object_get(prior, "kubeconfig");
    bool same_api = json_is_string(api) &&
                    strcmp(json_string_value(api), sf_cloud_str(prior, "api_address")) == 0 &&
                    strcmp(tpl, sf_cloud_str(prior, "cluster_template_id")) == 0;
    if (strcmp(state, "RUNNING") == 0 && json_is_string(rec_kc) && same_api) {
        json_object_set(v, "kubeconfig", (json_t *)rec_kc);
    } else if (strcmp(state, "RUNNING") == 0) {
        char *kc = kubeconfig(c, id);
        if (!kc) {
            json_decref(v);
            return NULL;
        }
        json_object_set_new(v, "kubeconfig", json_string(kc));
        memset(kc, 0, strlen(kc));
        free(kc);
    } else {
        sf_cloud_copy(v, prior, "kubeconfig");
    }
    return v;
}

static int cluster_read(struct sf_call *c, const json_t *prior, json_t **out)
{
    *out = NULL;
    json_t *cl;
    if (cluster_get(c, sf_cloud_str(prior, "id"), &cl) < 0)
        return -1;
    if (!cl)
        return 0;
    *out = cluster_view(c, cl, prior);
    json_decref(cl);
    return *out ? 0 : -1;
}

/* `sparkform status`: the cluster's state, version and API address. Healthy
 * when it is RUNNING, or SHUTOFF because the description turned it off. */
static int cluster_status(struct sf_call *c, const json_t *recorded, json_t **out)
{
    *out = NULL;
    json_t *cl;
    if (cluster_get(c, sf_cloud_str(recorded, "id"), &cl) < 0)
        return -1;
    if (!cl)
        return 0;
    /* The version is the template's: ask only when the template changed. */
    const char *tpl = sf_cloud_str(cl, "cluster_template_id");
    char *version;
    if (strcmp(tpl, sf_cloud_str(recorded, "cluster_template_id")) == 0 &&
        *sf_cloud_str(recorded, "version")) {
        version = sf_xstrdup(sf_cloud_str(recorded, "version"));
    } else {
        json_t *t = template_get(c, tpl, NULL);
        if (!t) {
            json_decref(cl);
            return -1;
        }
        version = sf_xstrdup(sf_cloud_str(t, "version"));
        json_decref(t);
    }
    const char *state = state_of(cl);
    const char *api = sf_cloud_str(cl, "api_address");
    const char *reason = sf_cloud_str(cl, "status_reason");
    bool off_by_design = strcmp(state, "SHUTOFF") == 0 &&
                         strcmp(sf_cloud_str(recorded, "status"), "SHUTOFF") == 0;
    if (strcmp(state, "RUNNING") == 0)
        *out = sf_status_new(state, true, "Kubernetes %s, API at %s", version,
                             *api ? api : "(none)");
    else if (off_by_design)
        *out = sf_status_new(state, true, "Kubernetes %s, turned off as the description asks",
                             version);
    else if (strcmp(state, "SHUTOFF") == 0)
        *out = sf_status_new(state, false, "Kubernetes %s, turned off: its API does not answer "
                             "(the description asks for RUNNING)", version);
    else
        *out = sf_status_new(state, false, "Kubernetes %s, %s%s%s", version, state,
                             *reason ? ": " : "", reason);
    json_object_set_new(*out, "status", json_string(state));
    json_object_set_new(*out, "version", json_string(version));
    json_object_set_new(*out, "api_address", *api ? json_string(api) : json_null());
    free(version);
    json_decref(cl);
    return 0;
}

/* The cluster of the desired name, when its labels carry this stack's
 * lineage and address (cluster names are unique in a project). */
static int cluster_find(struct sf_call *c, const void *arg, json_t **found)
{
    const json_t *desired = arg;
    *found = NULL;
    json_t *cl;
    if (cluster_get(c, sf_cloud_str(desired, "name"), &cl) < 0)
        return -1;
    json_t *labels = json_object_get(cl, "labels");
    if (cl && strcmp(sf_cloud_str(labels, SF_CLOUD_KEY_LINEAGE), c->lineage ? c->lineage : "") == 0 &&
        strcmp(sf_cloud_str(labels, SF_CLOUD_KEY_ADDRESS), c->address) == 0)
        *found = json_incref(cl);
    json_decref(cl);
    return 0;
}

/* Polls until the cluster settles in one of the two states (also2 may be
 * NULL). ERROR fails with the cloud's status_reason; *last is the final
 * cluster either way when there is one. */
static int cluster_wait(struct sf_call *c, const char *id, const char *target, const char *also2,
                        json_t **last)
{
    *last = NULL;
    long delay = 0;
    char *text = also2 ? sf_asprintf("waiting for %s or %s", target, also2)
                       : sf_asprintf("waiting for %s", target);
    int rc;
    for (;;) {
        json_t *cl;
        if ((rc = cluster_get(c, id, &cl)) < 0)
            break;
        if (!cl) {
            sf_cloud_error(c, SF_CLASS_NOT_FOUND, "the cluster %s disappeared while %s", id, text);
            rc = -1;
            break;
        }
        const char *st = state_of(cl);
        if (strcmp(st, "ERROR") == 0) {
            const char *why = sf_cloud_str(cl, "status_reason");
            sf_cloud_error(c, SF_CLASS_NONE, "the cluster %s went into ERROR: %s", id,
                           *why ? why : "the cloud gave no reason");
            *last = cl;
            rc = -1;
            break;
        }
        if (strcmp(st, target) == 0 || (also2 && strcmp(st, also2) == 0)) {
            *last = cl;
            break;
        }
        char *now = sf_asprintf("%s, %s now", text, st);
        json_decref(cl);
        rc = sf_cloud_pause(c, &delay, now);
        free(now);
        if (rc < 0)
            break;
    }
    free(text);
    return rc;
}

/* One change, converging: the cluster is looked at (once settled), the
 * call is sent only when done() does not hold yet, and once the cloud
 * accepted it the cluster is watched until done() holds, never sending it
 * again. A 409 (a transition under way) and a lost answer both lead back
 * to looking. */
typedef bool (*done_fn)(const json_t *cl, const void *arg);
static int cluster_change(struct sf_call *c, const char *id, const char *method,
                          const char *path, const json_t *body, unsigned flags, const char *what,
                          done_fn done, const void *arg)
{
    long delay = 0;
    bool sent = false;
    for (;;) {
        json_t *cl;
        int rc = cluster_wait(c, id, "RUNNING", "SHUTOFF", &cl);
        bool ok = rc == 0 && done(cl, arg);
        json_decref(cl);
        if (rc < 0 || ok)
            return rc;
        if (sent) {
            if (sf_cloud_pause(c, &delay, what) < 0)
                return -1;
            continue;
        }
        struct sf_diags tmp;
        sf_diags_init(&tmp);
        struct sf_call cc = *c;
        cc.diags = &tmp;
        struct sf_cloud_resp r;
        rc = sf_cloud_do(&cc, SF_CLOUD_CI, method, path, body, flags | SF_CLOUD_OK409, what, &r);
        long st = r.status;
        bool ambiguous = r.ambiguous;
        sf_cloud_resp_free(&r);
        if (rc < 0 && !ambiguous) {
            sf_diags_move(c->diags, &tmp);
            sf_diags_free(&tmp);
            return -1;
        }
        sf_diags_free(&tmp);
        if (rc == 0 && st != 409)
            sent = true;
        else if (sf_cloud_pause(c, &delay, what) < 0)
            return -1;
    }
}

static bool is_state(const json_t *cl, const void *arg)
{
    return strcmp(state_of(cl), (const char *)arg) == 0;
}

static bool has_template(const json_t *cl, const void *arg)
{
    return strcmp(sf_cloud_str(cl, "cluster_template_id"), (const char *)arg) == 0;
}

static bool has_master_flavor(const json_t *cl, const void *arg)
{
    return strcmp(sf_cloud_str(cl, "master_flavor_id"), (const char *)arg) == 0;
}

/* The labels and policy flag a patch sets (a JSON patch list). */
static bool has_patch(const json_t *cl, const void *arg)
{
    size_t i;
    json_t *op;
    json_array_foreach((const json_t *)arg, i, op)
    {
        const char *p = sf_cloud_str(op, "path");
        json_t *have = json_object_get(cl, p + 1);
        if (strcmp(p, "/security_policy_sync_enabled") == 0 && !have)
            continue; /* a cloud that does not echo it */
        if (!sf_value_equal(have, json_object_get(op, "value")))
            return false;
    }
    return true;
}

static json_t *tagged_labels(const struct sf_call *c, const json_t *desired)
{
    json_t *l = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(desired, "labels"), k, v) if (json_is_string(v))
        json_object_set(l, k, v);
    json_object_set_new(l, SF_CLOUD_KEY_LINEAGE, json_string(c->lineage ? c->lineage : ""));
    json_object_set_new(l, SF_CLOUD_KEY_ADDRESS, json_string(c->address));
    return l;
}

static int power(struct sf_call *c, const char *id, const char *want)
{
    bool off = strcmp(want, "SHUTOFF") == 0;
    char *path = cluster_path(id, "/actions");
    json_t *body = json_pack("{s:s}", "action", off ? "turn_off_cluster" : "turn_on_cluster");
    int rc = cluster_change(c, id, "POST", path, body, 0,
                            off ? "turning the cluster off" : "turning the cluster on", is_state,
                            off ? "SHUTOFF" : "RUNNING");
    json_decref(body);
    free(path);
    return rc;
}

static int finish(struct sf_call *c, const char *id, const json_t *desired, json_t **out)
{
    json_t *cl;
    if (cluster_get(c, id, &cl) < 0)
        return -1;
    if (!cl) {
        sf_cloud_error(c, SF_CLASS_NOT_FOUND, "the cluster %s disappeared", id);
        return -1;
    }
    *out = cluster_view(c, cl, desired);
    json_decref(cl);
    return *out ? 0 : -1;
}

static int check_status(struct sf_call *c, const json_t *desired)
{
    const char *s = sf_cloud_str(desired, "status");
    if (strcmp(s, "RUNNING") != 0 && strcmp(s, "SHUTOFF") != 0) {
        sf_call_attr_error(c, "status", "status: \"%s\" is not a state to ask for; expected "
                           "\"RUNNING\" or \"SHUTOFF\"", s);
        return -1;
    }
    return 0;
}

/* Plan time: the master flavor and the version the cloud offers, and a
 * state that can be asked for; each only when it is known and changes. */
static int cluster_check(struct sf_call *c, const json_t *prior, const json_t *desired)
{
    int rc = 0;
    if (sf_cloud_checked(prior, desired, "status") && check_status(c, desired) < 0)
        rc = -1;
    const char *flavor = sf_cloud_checked(prior, desired, "master_flavor");
    if (flavor && sf_cloud_check_flavor(c, "master_flavor", flavor) < 0)
        rc = -1;
    const char *version = sf_cloud_checked(prior, desired, "version");
    json_t *tpl = version ? template_get(c, version, "version") : NULL;
    if (version && !tpl)
        rc = -1;
    json_decref(tpl);
    return rc;
}

static int cluster_create(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    if (check_status(c, desired) < 0)
        return -1;
    json_t *tpl = template_get(c, sf_cloud_str(desired, "version"), NULL);
    char *flavor = tpl ? sf_cloud_flavor_id(c, sf_cloud_str(desired, "master_flavor")) : NULL;
    if (!flavor) {
        json_decref(tpl);
        return -1;
    }
    json_t *count = json_object_get(desired, "master_count");
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:o, s:s, s:s, s:b, s:o, s:s}", "name", sf_cloud_str(desired, "name"),
        "cluster_template_id", sf_cloud_str(tpl, "uuid"), "master_flavor_id", flavor, "master_count",
        json_is_integer(count) ? json_copy(count) : json_integer(1),
        "network_id", sf_cloud_str(desired, "network_id"), "subnet_id",
        sf_cloud_str(desired, "subnet_id"), "floating_ip_enabled",
        json_is_true(json_object_get(desired, "floating_ip_enabled")), "labels",
        tagged_labels(c, desired), "cluster_type",
        *sf_cloud_str(desired, "cluster_type") ? sf_cloud_str(desired, "cluster_type") : "standard");
    json_decref(tpl);
    free(flavor);
    const char *opt_strings[] = {"keypair", "pods_network_cidr"};
    for (size_t i = 0; i < 2; i++)
        if (*sf_cloud_str(desired, opt_strings[i]))
            sf_cloud_copy(body, desired, opt_strings[i]);
    json_t *zones = json_object_get(desired, "availability_zones");
    if (json_array_size(zones) > 0) {
        json_object_set(body, "availability_zone", json_array_get(zones, 0));
        if (json_array_size(zones) > 1)
            json_object_set_new(body, "availability_zones", json_deep_copy(zones));
    }
    if (json_is_boolean(json_object_get(desired, "security_policy_sync_enabled")))
        sf_cloud_copy(body, desired, "security_policy_sync_enabled");

    json_t *answer = NULL, *found = NULL;
    int rc = sf_cloud_create(c, SF_CLOUD_CI, "/clusters", body, "creating the cluster",
                             cluster_find, desired, &answer, &found);
    json_decref(body);
    if (rc < 0)
        return -1;
    char *id = sf_xstrdup(found ? sf_cloud_str(found, "uuid") : sf_cloud_str(answer, "uuid"));
    json_decref(answer);
    json_decref(found);
    if (!*id) {
        sf_cloud_error(c, SF_CLASS_INVALID, "creating the cluster: the answer has no uuid");
        free(id);
        return -1;
    }
    json_t *cl;
    rc = cluster_wait(c, id, "RUNNING", NULL, &cl);
    if (rc < 0 && cl) {
        /* ERROR: recorded tainted, so the next plan replaces it. */
        *out = cluster_view(c, cl, desired);
        json_decref(cl);
        free(id);
        return -1;
    }
    json_decref(cl);
    if (rc == 0 && strcmp(sf_cloud_str(desired, "status"), "SHUTOFF") == 0)
        rc = power(c, id, "SHUTOFF");
    if (rc == 0)
        rc = finish(c, id, desired, out);
    free(id);
    return rc;
}

static int cluster_update(struct sf_call *c, const json_t *prior, const json_t *desired,
                          json_t **out)
{
    *out = NULL;
    if (check_status(c, desired) < 0)
        return -1;
    const char *id = sf_cloud_str(prior, "id");
    const char *want = sf_cloud_str(desired, "status");
    int rc = 0;
    /* Resizes and upgrades need a running cluster: turn it on first, and
     * off only after them. */
    if (strcmp(want, "RUNNING") == 0)
        rc = power(c, id, "RUNNING");

    json_t *ops = json_array();
    if (!sf_value_equal(json_object_get(prior, "labels"), json_object_get(desired, "labels")))
        json_array_append_new(ops, json_pack("{s:s, s:s, s:o}", "op", "replace", "path", "/labels",
                                             "value", tagged_labels(c, desired)));
    json_t *sps = json_object_get(desired, "security_policy_sync_enabled");
    if (json_is_boolean(sps) && !sf_value_equal(sps, json_object_get(prior, "security_policy_sync_enabled")))
        json_array_append_new(ops, json_pack("{s:s, s:s, s:O}", "op", "replace", "path",
                                             "/security_policy_sync_enabled", "value", sps));
    if (rc == 0 && json_array_size(ops) > 0) {
        char *path = cluster_path(id, "");
        rc = cluster_change(c, id, "PATCH", path, ops, SF_CLOUD_IDEMP,
                            "changing the cluster's labels", has_patch, ops);
        free(path);
    }
    json_decref(ops);

    if (rc == 0 && strcmp(sf_cloud_str(prior, "master_flavor"), sf_cloud_str(desired, "master_flavor")) != 0) {
        char *flavor = sf_cloud_flavor_id(c, sf_cloud_str(desired, "master_flavor"));
        rc = flavor ? 0 : -1;
        if (flavor) {
            char *path = cluster_path(id, "/actions");
            json_t *body = json_pack("{s:s, s:{s:s}}", "action", "resize_masters", "payload", "flavor", flavor);
            rc = cluster_change(c, id, "POST", path, body, 0, "resizing the masters",
                                has_master_flavor, flavor);
            json_decref(body);
            free(path);
        }
        free(flavor);
    }
    if (rc == 0 && strcmp(sf_cloud_str(prior, "version"), sf_cloud_str(desired, "version")) != 0) {
        json_t *tpl = template_get(c, sf_cloud_str(desired, "version"), NULL);
        rc = tpl ? 0 : -1;
        if (tpl) {
            char *path = cluster_path(id, "/actions/upgrade");
            json_t *body = json_pack("{s:s, s:b}", "cluster_template_id", sf_cloud_str(tpl, "uuid"),
                                     "rolling_enabled", 1);
            rc = cluster_change(c, id, "PATCH", path, body, 0, "upgrading the cluster",
                                has_template, sf_cloud_str(tpl, "uuid"));
            json_decref(body);
            free(path);
        }
        json_decref(tpl);
    }
    if (rc == 0 && strcmp(want, "SHUTOFF") == 0)
        rc = power(c, id, "SHUTOFF");
    if (rc < 0)
        return -1;
    return finish(c, id, desired, out);
}

static int cluster_delete(struct sf_call *c, const json_t *prior)
{
    const char *id = sf_cloud_str(prior, "id");
    if (!*id)
        return 0;
    /* A cluster in a transition refuses the delete (409): it is waited out. */
    char *path = cluster_path(id, "");
    int rc = sf_cloud_delete(c, SF_CLOUD_CI, path, "the cluster", true);
    free(path);
    return rc;
}

static int cluster_adopt(struct sf_call *c, const json_t *desired, json_t **out)
{
    *out = NULL;
    json_t *cl;
    if (cluster_find(c, desired, &cl) < 0)
        return -1;
    if (!cl)
        return 0;
    *out = cluster_view(c, cl, desired);
    json_decref(cl);
    return *out ? 0 : -1;
}

const struct sf_resource_type sf_cloud_cluster_type = {
    .name = "cloud_k8s_cluster",
    .doc = "a managed Kubernetes cluster (container-infra)",
    .attrs = attrs,
    .read = cluster_read,
    .adopt = cluster_adopt,
    .create = cluster_create,
    .update = cluster_update,
    .delete = cluster_delete,
    .status = cluster_status,
    .check = cluster_check,
    .timeouts = {.create = 3600, .update = 3600, .delete = 1800, .read = 300},
    .power_on = "RUNNING",
    .power_off = "SHUTOFF",
};

/*
 * The provider contract. A provider is a table of resource types; each type
 * declares an attribute schema and five operations, plus optional hooks.
 * The engine does all the rest: diffing against the schema, ordering,
 * parallelism, state, rendering.
 *
 * Values are jansson objects (attribute name -> value), see value.h.
 * Operations run on worker threads, several at once, so they must not touch
 * global mutable state.
 */
#ifndef SF_PROVIDER_H
#define SF_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>

#include "diag.h"
#include "http.h"
#include "value.h"

struct sf_node; /* node.h: a description's YAML */

enum sf_type { SF_STRING, SF_NUMBER, SF_BOOL, SF_LIST, SF_MAP, SF_OBJECT };

enum {
    SF_REQUIRED = 1u << 0,     /* must be set in the description */
    SF_OPTIONAL = 1u << 1,     /* may be set; default_json when not */
    SF_COMPUTED = 1u << 2,     /* set by the provider (with SF_OPTIONAL: either) */
    SF_FORCE_NEW = 1u << 3,    /* a change replaces the object */
    SF_SENSITIVE = 1u << 4,    /* never shown: plan, show, logs print "(sensitive value)" */
    SF_IGNORE_DRIFT = 1u << 5, /* a change made outside sparkform is not a diff */
    SF_STABLE = 1u << 6,       /* computed, and an update in place never changes it (an id);
                                  other computed attributes are unknown until the update is done */
    SF_POWER = 1u << 7,        /* whether the object runs (a cluster's status, a server's
                                  power_state): the type's power_on / power_off values. When a
                                  description's schedules: owns the resource, the schedule sets
                                  it and a plan never counts it as a change */
};

struct sf_attr {
    const char *name;
    enum sf_type type;
    unsigned flags;
    const char *default_json; /* JSON text of the default, or NULL */
    const char *doc;          /* one line for `--help`-style listings */
};

/* What an operation gets besides the values. */
struct sf_call {
    void *ctx;              /* the provider's per-run context (its configure's *ctx) */
    const char *address;    /* "local_file.config" */
    const char *type;       /* "local_file" */
    const char *name;       /* "config" */
    const char *stack;      /* the stack's metadata.name */
    const char *lineage;    /* the state's lineage: tag created objects with it */
    const char *config_dir; /* directory of the description; relative paths start here */
    struct sf_diags *diags; /* report failures here (thread-safe), with address */
    double deadline;        /* sf_now() value after which to give up: the type's timeout
                               for the operation, or the resource's timeouts: */
    /* Optional: a short status for progress lines ("waiting for ACTIVE"). */
    void (*status)(struct sf_call *c, const char *text);
    void *engine; /* the engine's own per-call data; providers leave it alone */
};

/*
 * Every operation returns 0 on success, or a negative value after adding at
 * least one error to c->diags. *out receives a new reference to the full
 * attribute object (configured and computed attributes) that the state
 * records. A create that fails after the object came to exist (a server
 * that ended in ERROR) still sets *out: the engine records the object as
 * tainted and the next plan replaces it. A create that fails leaving *out
 * NULL keeps its recorded intent, so the next run asks adopt whether
 * anything was left behind.
 *
 * read:   what exists now for the object recorded as prior; *out = NULL when
 *         it is gone.
 * adopt:  find an object this stack created but never recorded (a run killed
 *         between create and the state write): match on the lineage and
 *         address the object was tagged with. *out = NULL when none exists.
 *         May be NULL when the type's objects cannot leak (nothing remote).
 * create: make the object described by desired (all known values).
 * update: change prior in place to match desired (only non-force-new
 *         attributes differ).
 * delete: remove the object; deleting what is already gone succeeds.
 * import: the object a user names by id (`sparkform import ADDR ID`), read
 *         as read would; *out = NULL when there is none. May be NULL: the
 *         engine then calls read with prior {"id": ID}.
 * plan:   fills into desired what this machine knows before anything is
 *         applied (the SHA-256 of the file an attribute names), so that a
 *         changed file plans an update. Runs wherever the description is
 *         evaluated (plan, apply, validate), without the provider's
 *         context (c->ctx NULL) and without the network; inputs still
 *         unknown (sf_value_has_unknown) stay unknown. May be NULL.
 * order:  appends to provides and needs (arrays of strings) the keys of
 *         what the object makes exist for others ("kubernetes:Namespace/
 *         spark") and what it needs to exist first. The engine runs it
 *         when it builds the resource graph, on desired evaluated with
 *         every resource attribute unknown (as validate does; skip what
 *         is unknown), without context or network, and orders each needer
 *         after every other resource providing one of its keys: creates
 *         follow, deletes go in reverse, and the state records the edge.
 *         An edge that closes a cycle is an error. May be NULL.
 * renew:  whether the existing object prior (as refresh left it) must be
 *         replaced although the description asks for nothing a replace
 *         would need: a certificate inside its renewal window. desired is
 *         the evaluated description (unknowns possible), so a setting
 *         such as renew_before takes effect in the plan that changes it.
 *         Returns 1 with *why set to the reason the plan shows on the
 *         resource's line ("the certificate expires 2027-01-10T00:00:00Z,
 *         within renew_before 720h"; allocated, the engine frees it; never
 *         a secret), 0 when the object can stay, -1 after adding an error
 *         to c->diags. Called while planning for objects the diff would
 *         otherwise keep or update in place; like plan, it runs without
 *         context (c->ctx NULL) and without the network. May be NULL.
 * check:  whether the cloud behind the provider has what the description
 *         names, where only its live catalogs can tell: a flavor, an
 *         image, a Kubernetes version it offers. Run by plan (and by
 *         apply's own plan) after refresh, with the provider's context,
 *         for each resource the plan creates, replaces or updates, on the
 *         planned values desired; prior is the object as refresh read it
 *         for an update, NULL when a new object will be made, so that a
 *         hook checks only what the change sends (an update that leaves a
 *         retired image alone is not refused). Skip what is unknown
 *         (sf_value_has_unknown). It changes nothing. A complaint may
 *         quote the value: the engine replaces a secret one by
 *         "(sensitive value)". Each complaint names
 *         its attribute (sf_call_attr_error); the engine places it where
 *         the description sets that value (followed out of modules to the
 *         user's line), reports the complaints of every resource together
 *         and fails the plan before anything is applied. Returns 0, or -1
 *         after adding errors (also when the cloud could not be asked).
 *         May be NULL.
 * status: a live look at the object recorded as recorded, for `sparkform
 *         status`: *out a small object made with sf_status_new,
 *           {"state": "RUNNING", "healthy": true, "summary": "one line",
 *            ...fields of the type's own (numbers, strings, booleans)},
 *         or NULL when the object is gone. It changes nothing, runs with
 *         the provider's context like read, bounded by 20 s (or the read
 *         timeout when shorter), and never puts a secret into what it
 *         returns: the command prints every field. Something the object
 *         depends on not answering (a registry that is down, a cluster
 *         API that is off) is an unhealthy answer saying why, not an
 *         error; an error (-1) is for the cloud itself failing to answer.
 *         May be NULL: the type has no live status (a network, a key).
 *
 * Timeouts (seconds, 0 = the engine's default of 20 minutes) bound each
 * operation through c->deadline; a resource's `timeouts:` overrides them.
 */
struct sf_timeouts {
    int create, update, delete, read;
};

struct sf_resource_type {
    const char *name;            /* "local_file" */
    const char *doc;             /* one line */
    const struct sf_attr *attrs; /* terminated by an entry whose name is NULL */
    int (*read)(struct sf_call *c, const json_t *prior, json_t **out);
    int (*adopt)(struct sf_call *c, const json_t *desired, json_t **out);
    int (*create)(struct sf_call *c, const json_t *desired, json_t **out);
    int (*update)(struct sf_call *c, const json_t *prior, const json_t *desired, json_t **out);
    int (*delete)(struct sf_call *c, const json_t *prior);
    int (*import)(struct sf_call *c, const char *id, json_t **out);
    int (*plan)(struct sf_call *c, json_t *desired);
    /* The objects one resource of the description stands for, when they
     * are several (a file of many Kubernetes documents): their keys, from
     * what its `with:` says literally, when the description is loaded.
     * *keys NULL (or fewer than two): one object, as usual. Each key
     * becomes a resource of its own, TYPE.NAME[KEY], whose plan step finds
     * its key in c->name ("NAME[KEY]"). Errors go to d with a place. May be
     * NULL. */
    int (*instances)(const char *config_dir, const struct sf_node *with, json_t **keys,
                     struct sf_diags *d);
    int (*order)(struct sf_call *c, const json_t *desired, json_t *provides, json_t *needs);
    int (*renew)(struct sf_call *c, const json_t *prior, const json_t *desired, char **why);
    int (*status)(struct sf_call *c, const json_t *recorded, json_t **out);
    int (*check)(struct sf_call *c, const json_t *prior, const json_t *desired);
    struct sf_timeouts timeouts;
    /* With an SF_POWER attribute: its values for running and turned off
     * ("RUNNING" / "SHUTOFF"); `sparkform schedule run`, `hibernate` and
     * `wake` set it through update. NULL for types without one. */
    const char *power_on, *power_off;
    /* The attribute through which the object is reached ("kubeconfig" for
     * objects inside a cluster), or NULL. When its value is an attribute
     * of a resource a schedule has turned off, refresh keeps the object as
     * recorded instead of asking a host that does not answer. */
    const char *connection;
};

/* A check hook's complaint about attribute attr of the call's resource
 * (an invalid value: SF_CLASS_INVALID); the engine gives it the place
 * where the description sets attr. */
#define sf_call_attr_error(c, attr, ...) \
    sf_diag_add_attr((c)->diags, SF_CLASS_INVALID, (c)->address, (attr), __VA_ARGS__)

/* What a status hook returns: {"state": state, "healthy": healthy,
 * "summary": the formatted line}; the hook adds its own fields. New
 * reference. */
json_t *sf_status_new(const char *state, bool healthy, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One key of a provider's block under `providers:` in a description. */
struct sf_provider_key {
    const char *name;   /* "auth_url" */
    enum sf_type type;  /* SF_STRING, SF_NUMBER or SF_BOOL */
    unsigned flags;     /* SF_SENSITIVE: a secret, which may come only from the
                           environment or a sensitive variable, never a literal */
    const char *env;    /* the environment variable it defaults from, or NULL */
    const char *doc;
};

/* What a provider's configure step gets. */
struct sf_provider_setup {
    const char *provider;       /* "cloud" */
    const json_t *settings;     /* key -> value: the block's, else the environment's;
                                   keys set by neither are absent */
    const json_t *sensitive;    /* array of the setting names that are secrets */
    const struct sf_pos *pos;   /* the providers.NAME block, or NULL when there is none */
    const char *config_dir;     /* relative paths (a CA file) start here */
    struct sf_http_stats *stats; /* the run's request counters, for the HTTP client */
    struct sf_diags *diags;     /* errors (unauthorized, unreachable, a setting missing) */
    double deadline;
    /* Another provider's context, configured first when the run has not
     * yet (the s3 provider finds its endpoint in the cloud's catalog).
     * Returns 0 with *ctx set, or -1 after adding that provider's errors
     * to diags. */
    int (*peer)(const struct sf_provider_setup *s, const char *provider, void **ctx);
    void *engine; /* the engine's own data; providers leave it alone */
};

/* A setting's value (a copy), or NULL when neither the block nor the
 * environment set it (an empty string counts as unset). */
char *sf_setup_string(const struct sf_provider_setup *s, const char *name);
/* The same for a setting naming a file: a relative path is made relative
 * to the description's directory. */
char *sf_setup_path(const struct sf_provider_setup *s, const char *name);

/*
 * A provider: its resource types, the keys of its providers: block, and a
 * configure step that the engine runs once per run, before the first call
 * of any of its types and only when the run has one, building the context
 * every call reaches as c->ctx (an authenticated session, its endpoints,
 * an HTTP client). configure may be NULL (nothing to set up, ctx NULL);
 * release frees the context at the end of the run.
 */
struct sf_provider {
    const char *name;
    const struct sf_resource_type *const *types; /* NULL-terminated */
    const struct sf_provider_key *keys;          /* terminated by name NULL; NULL: none */
    int (*configure)(const struct sf_provider_setup *s, void **ctx);
    void (*release)(void *ctx);
};

/* Add a provider to the registry (the built-in ones are always there).
 * Call before any run starts; not thread-safe. Returns 0, or -1 when one of
 * its type names is taken already. */
int sf_provider_register(const struct sf_provider *p);

/* The resource type of that name, or NULL. */
const struct sf_resource_type *sf_provider_find_type(const char *name);
/* The provider offering the type of that name, or NULL. */
const struct sf_provider *sf_provider_of_type(const char *type);
/* The provider of that name, or NULL. */
const struct sf_provider *sf_provider_find(const char *name);
/* Every registered provider name, NULL-terminated; a static array valid
 * until the next sf_provider_register. */
const char *const *sf_provider_names(void);
/* The key of a provider's block of that name, or NULL. */
const struct sf_provider_key *sf_provider_key(const struct sf_provider *p, const char *name);

/* Every registered type name, NULL-terminated; a static array valid until
 * the next sf_provider_register. */
const char *const *sf_provider_type_names(void);

/* The schema entry for an attribute, or NULL. */
const struct sf_attr *sf_schema_attr(const struct sf_resource_type *rt, const char *name);

/* "string", "number", "bool", "list", "map", "object". */
const char *sf_type_name(enum sf_type t);

#endif

/*
 * The command line (see cli.h): flag parsing shared by every command, the
 * help texts, and one function per command. Commands are thin: the work
 * is in run.c (plan / apply / destroy), state/ and plans/.
 *
 * Flags follow Terraform's spelling (-auto-approve, -var NAME=VALUE,
 * -target ADDR ...); --flag and -flag=value are accepted too. Errors go to
 * stderr as diagnostics; plans, state and outputs go to stdout.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "gitdesc.h"
#include "init.h"
#include "plan.h"
#include "run.h"
#include "schedule.h"
#include "state.h"
#include "status.h"
#include "ui.h"
#include "util.h"

#define DEFAULT_CONFIG "sparkform.yaml"
#define DEFAULT_STATE "sparkform.state.json"

enum {
    C_VALIDATE = 1 << 0,
    C_PLAN = 1 << 1,
    C_APPLY = 1 << 2,
    C_DESTROY = 1 << 3,
    C_SHOW = 1 << 4,
    C_OUTPUT = 1 << 5,
    C_GRAPH = 1 << 6,
    C_STATE = 1 << 7,
    C_UNLOCK = 1 << 8,
    C_VERSION = 1 << 9,
    C_IMPORT = 1 << 10,
    C_INIT = 1 << 11,
    C_STATUS = 1 << 12,
    C_SCHEDULE = 1 << 13,
    C_HIBERNATE = 1 << 14,
    C_WAKE = 1 << 15,
};
#define C_RUNS (C_PLAN | C_APPLY | C_DESTROY)
#define C_POWER (C_SCHEDULE | C_HIBERNATE | C_WAKE)
#define C_CONFIG (C_VALIDATE | C_RUNS | C_GRAPH | C_IMPORT | C_STATUS | C_POWER)
#define C_ALL 0xffff
/* Commands that only open the state: they read the description for its
 * state: block (an S3 state) when there is one. */
#define C_STATE_READERS (C_SHOW | C_OUTPUT | C_STATE | C_UNLOCK)

struct strv {
    const char **v;
    size_t n;
};

static void strv_add(struct strv *s, const char *x)
{
    s->v = sf_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = x;
}

struct args {
    const char *file, *state, *out, *now, *from_state, *from_config;
    struct strv pos, vars, var_files, targets, replace;
    int parallelism;
    long lock_timeout_ms;
    bool auto_approve, detailed, refresh, refresh_only, json, no_color, destroy, lock, raw, help,
        force;
    const struct sf_gitdesc *git; /* -f git::...: where file came from */
};

struct flag {
    const char *name;
    unsigned cmds;
    bool takes_value;
    const char *help;
};

static const struct flag flags[] = {
    {"f", C_CONFIG | C_INIT | C_STATE_READERS, true, "-f FILE            the service description (default " DEFAULT_CONFIG "),\n"
                                   "                     or git::URL//PATH/FILE.yaml?ref=REF from a git repository"},
    {"state", C_ALL, true, "-state FILE        the local state file (default " DEFAULT_STATE "; overrides a state: block)"},
    {"var", C_CONFIG | C_STATE_READERS, true, "-var NAME=VALUE    set a variable (repeatable)"},
    {"var-file", C_CONFIG | C_STATE_READERS, true, "-var-file FILE     variables from a YAML file (repeatable)"},
    {"target", C_RUNS, true, "-target ADDR       limit to ADDR and what it needs (repeatable)"},
    {"replace", C_PLAN | C_APPLY, true, "-replace ADDR      replace ADDR even if unchanged (repeatable)"},
    {"parallelism", C_RUNS | C_STATUS | C_POWER, true, "-parallelism N     at most N operations at once (default 10)"},
    {"lock-timeout", C_RUNS | C_STATE | C_IMPORT | C_POWER, true, "-lock-timeout D    wait up to D (e.g. 30s) for the state lock"},
    {"lock", C_RUNS | C_STATE | C_IMPORT, false, "-lock=false        do not take the state lock (dangerous)"},
    {"refresh", C_RUNS, false, "-refresh=false     do not read what exists before planning"},
    {"refresh-only", C_PLAN | C_APPLY, false, "-refresh-only      only record changes made outside sparkform"},
    {"destroy", C_PLAN, false, "-destroy           plan the deletion of everything"},
    {"out", C_PLAN, true, "-out FILE          save the plan to FILE for `apply FILE`"},
    {"detailed-exitcode", C_PLAN, false, "-detailed-exitcode exit 0: no changes, 1: error, 2: changes"},
    {"now", C_POWER, true, "-now TIME          act as if it were TIME (RFC 3339): for tests and catching up"},
    {"auto-approve", C_APPLY | C_DESTROY, false, "-auto-approve      do not ask for confirmation"},
    {"json", C_PLAN | C_SHOW | C_OUTPUT | C_VALIDATE | C_STATUS, false, "-json              machine-readable output (docs/json-format.md)"},
    {"from-state", C_STATE, true, "-from-state FILE   state migrate: the local state file to move"},
    {"from-config", C_STATE, true, "-from-config FILE  state migrate: a description whose state: block is the source"},
    {"force", C_STATE, false, "-force             state migrate: overwrite a state already at the destination"},
    {"raw", C_OUTPUT, false, "-raw               print one output's value as is (a pipe or file only when sensitive)"},
    {"no-color", C_ALL, false, "-no-color          no ANSI colors (NO_COLOR in the environment too)"},
    {"help", C_ALL, false, "-help              this text"},
    {NULL, 0, false, NULL},
};

static const struct {
    const char *name;
    unsigned bit;
    const char *usage;
    const char *summary;
} commands[] = {
    {"init", C_INIT, "init [-f FILE]", "fetch the description's git sources (modules, inputs of format git_source) and write the lock file"},
    {"validate", C_VALIDATE, "validate [-f FILE] [FILE]", "check a description without touching anything"},
    {"plan", C_PLAN, "plan [-f FILE] [flags]", "show what apply would change"},
    {"apply", C_APPLY, "apply [-f FILE | PLANFILE] [flags]", "make the service match the description"},
    {"destroy", C_DESTROY, "destroy [-f FILE] [flags]", "delete everything the state records"},
    {"show", C_SHOW, "show [PLANFILE] [-json]", "show the state, or a saved plan"},
    {"output", C_OUTPUT, "output [NAME] [-json | -raw]", "print the outputs recorded in the state"},
    {"status", C_STATUS, "status [-f FILE] [-json]", "show how the applied service is doing, live"},
    {"graph", C_GRAPH, "graph [-f FILE]", "print the resource graph as DOT (sparkform graph | dot -Tsvg)"},
    {"state", C_STATE, "state list | show ADDR | rm ADDR... | mv FROM TO | migrate -from-state FILE | -from-config OLD.yaml [-force]", "inspect, edit or move the state"},
    {"import", C_IMPORT, "import [-f FILE] ADDR ID", "bring an existing object under management as ADDR"},
    {"force-unlock", C_UNLOCK, "force-unlock LOCK_ID", "remove a lock left by a run that died"},
    {"schedule", C_SCHEDULE, "schedule run [-f FILE] [-now TIME]", "hibernate, wake or destroy the stack when its schedules: say so"},
    {"hibernate", C_HIBERNATE, "hibernate [-f FILE] [-now TIME]", "turn off what the schedule owns now, until its next transition"},
    {"wake", C_WAKE, "wake [-f FILE] [-now TIME]", "turn on what the schedule owns now, until its next transition"},
    {"version", C_VERSION, "version", "print the version"},
};

/* What a command's -help says beyond its usage and flags. */
static const struct {
    unsigned bit;
    const char *text;
} notes[] = {
    {C_STATE,
     "state migrate copies a state to where the description (-f, or -state FILE) keeps it,\n"
     "encrypted as its state.encryption says. The source is -from-state FILE (a local file, read\n"
     "with the description's keys) or -from-config OLD.yaml (the state: block of another\n"
     "description, with its backend and encryption), or both (that block's keys, that file).\n"
     "Both states are locked; a destination that already holds a state is refused unless\n"
     "-force; the copy is read back and compared; the source is left as it is."},
    {C_STATUS,
     "It asks the cloud, the registry, the object store and the cluster about every resource\n"
     "the state records, reading the description for its providers: and variables. It changes\n"
     "nothing and takes no state lock.\n\n"
     "Exit status: 0 when every resource is healthy, 2 when one is not (stopped, missing,\n"
     "unreachable, a job failed), 1 on errors (no state, a cloud that does not answer)."},
    {C_SCHEDULE,
     "Meant for cron, a systemd timer or a scheduled CI job, every few minutes or every hour:\n"
     "inside a hibernate window it turns the resources the schedule owns off, inside a wake\n"
     "window on, once per transition; once the stack expired (delete_after, expires_at) it\n"
     "destroys everything. It logs what it did and why, and exits 0 when nothing was due."},
    {C_HIBERNATE | C_WAKE,
     "Recorded as the schedule's last transition: a schedule run leaves it so until the\n"
     "schedule's next hibernate or wake."},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: sparkform COMMAND [flags]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun `sparkform COMMAND -help` for a command's flags.\n");
}

static void command_help(unsigned bit)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].bit == bit) {
            printf("Usage: sparkform %s\n\n%s.\n", commands[i].usage, commands[i].summary);
            for (size_t j = 0; j < sizeof(notes) / sizeof(notes[0]); j++)
                if (notes[j].bit & bit)
                    printf("\n%s\n", notes[j].text);
        }
    printf("\nFlags:\n");
    for (const struct flag *f = flags; f->name; f++)
        if (f->cmds & bit)
            printf("  %s\n", f->help);
}

/* Parse flags for command bit. Returns 0, or -1 after printing an error. */
static int parse_args(int argc, char **argv, unsigned bit, const char *cmdname, struct args *a,
                      struct sf_diags *d)
{
    a->parallelism = 10;
    a->refresh = true;
    a->lock = true;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            strv_add(&a->pos, arg);
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            for (i++; i < argc; i++)
                strv_add(&a->pos, argv[i]);
            break;
        }
        const char *name = arg + 1 + (arg[1] == '-');
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if ((nlen == 1 && name[0] == 'h') || (nlen == 4 && strncmp(name, "help", 4) == 0)) {
            a->help = true;
            continue;
        }
        const struct flag *f = NULL;
        for (const struct flag *g = flags; g->name; g++)
            if (strlen(g->name) == nlen && strncmp(g->name, name, nlen) == 0)
                f = g;
        if (!f || !(f->cmds & bit)) {
            char *nm = sf_xstrndup(name, nlen);
            const char *cands[64];
            size_t nc = 0;
            for (const struct flag *g = flags; g->name && nc < 63; g++)
                if (g->cmds & bit)
                    cands[nc++] = g->name;
            cands[nc] = NULL;
            const char *dym = sf_did_you_mean(nm, cands);
            if (dym)
                sf_error(d, NULL, "%s does not take -%s; did you mean -%s? (see sparkform %s -help)",
                         cmdname, nm, dym, cmdname);
            else
                sf_error(d, NULL, "%s does not take -%s (see sparkform %s -help)", cmdname, nm,
                         cmdname);
            free(nm);
            return -1;
        }
        const char *val = NULL;
        if (f->takes_value) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                sf_error(d, NULL, "-%s needs a value", f->name);
                return -1;
            }
        } else if (eq) {
            if (strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0) {
                sf_error(d, NULL, "-%s takes true or false, not \"%s\"", f->name, eq + 1);
                return -1;
            }
        }
        bool on = !eq || strcmp(eq + 1, "false") != 0;
        const char *n = f->name;
        if (!strcmp(n, "f"))
            a->file = val;
        else if (!strcmp(n, "state"))
            a->state = val;
        else if (!strcmp(n, "out"))
            a->out = val;
        else if (!strcmp(n, "now"))
            a->now = val;
        else if (!strcmp(n, "from-state"))
            a->from_state = val;
        else if (!strcmp(n, "from-config"))
            a->from_config = val;
        else if (!strcmp(n, "force"))
            a->force = on;
        else if (!strcmp(n, "var")) {
            if (!strchr(val, '=')) {
                sf_error(d, NULL, "-var takes NAME=VALUE, got \"%s\"", val);
                return -1;
            }
            strv_add(&a->vars, val);
        } else if (!strcmp(n, "var-file"))
            strv_add(&a->var_files, val);
        else if (!strcmp(n, "target"))
            strv_add(&a->targets, val);
        else if (!strcmp(n, "replace"))
            strv_add(&a->replace, val);
        else if (!strcmp(n, "parallelism")) {
            char *end;
            long p = strtol(val, &end, 10);
            if (*end || p < 1 || p > 1000) {
                sf_error(d, NULL, "-parallelism takes a number from 1 to 1000, got \"%s\"", val);
                return -1;
            }
            a->parallelism = (int)p;
        } else if (!strcmp(n, "lock-timeout")) {
            a->lock_timeout_ms = sf_parse_duration_ms(val);
            if (a->lock_timeout_ms < 0) {
                sf_error(d, NULL, "-lock-timeout takes a duration such as 30s, 5m or 1h, got \"%s\"",
                         val);
                return -1;
            }
        } else if (!strcmp(n, "lock"))
            a->lock = on;
        else if (!strcmp(n, "refresh"))
            a->refresh = on;
        else if (!strcmp(n, "refresh-only"))
            a->refresh_only = on;
        else if (!strcmp(n, "destroy"))
            a->destroy = on;
        else if (!strcmp(n, "detailed-exitcode"))
            a->detailed = on;
        else if (!strcmp(n, "auto-approve"))
            a->auto_approve = on;
        else if (!strcmp(n, "json"))
            a->json = on;
        else if (!strcmp(n, "raw"))
            a->raw = on;
        else if (!strcmp(n, "no-color"))
            a->no_color = on;
    }
    return 0;
}

static void args_free(struct args *a)
{
    free(a->pos.v);
    free(a->vars.v);
    free(a->var_files.v);
    free(a->targets.v);
    free(a->replace.v);
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    if (interrupted) {
        /* A second interrupt: stop now. The journal keeps what is done. */
        _exit(130);
    }
    interrupted = 1;
    static const char msg[] =
        "\nInterrupt received: waiting for running operations to finish (interrupt again to stop "
        "now)...\n";
    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
    }
}

static void run_opts(const struct args *a, const char *operation, struct sf_run_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->config_path = a->file ? a->file : a->pos.n ? a->pos.v[0] : DEFAULT_CONFIG;
    o->state_path = a->state ? a->state : DEFAULT_STATE;
    o->state_given = a->state != NULL;
    o->vars = a->vars.v;
    o->n_vars = a->vars.n;
    o->var_files = a->var_files.v;
    o->n_var_files = a->var_files.n;
    o->targets = a->targets.v;
    o->n_targets = a->targets.n;
    o->replace = a->replace.v;
    o->n_replace = a->replace.n;
    o->parallelism = a->parallelism;
    o->refresh = a->refresh;
    o->refresh_only = a->refresh_only;
    o->destroy = a->destroy;
    o->lock = a->lock;
    o->lock_timeout_ms = a->lock_timeout_ms;
    o->operation = operation;
    o->stop = &interrupted;
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
}

/* Ask on the terminal; without one, refuse (an unattended apply must say
 * -auto-approve). Returns 1 when approved. */
static int approve(const char *what, struct sf_diags *d)
{
    if (!isatty(STDIN_FILENO)) {
        sf_error(d, NULL,
                 "%s needs approval and there is no terminal to ask on; run it with "
                 "-auto-approve",
                 what);
        return 0;
    }
    printf("\nDo you want to %s? Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
           what);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, "yes") != 0) {
        printf("\n%s cancelled.\n", what);
        return -1;
    }
    printf("\n");
    return 1;
}

static int cmd_validate(struct args *a, struct sf_diags *d)
{
    struct sf_run_opts o;
    run_opts(a, "validate", &o);
    int rc = sf_run_validate(&o, d);
    if (a->json) {
        json_t *j = json_pack("{s:b,s:i,s:i}", "valid", rc == 0, "error_count",
                              (int)sf_diags_errors(d), "warning_count",
                              (int)(d->n - sf_diags_errors(d)));
        print_json(j);
        json_decref(j);
    } else if (rc == 0) {
        printf("The description is valid.\n");
    }
    return rc == 0 ? 0 : 1;
}

static bool looks_like_plan(const char *path)
{
    size_t len;
    char *s = sf_read_file(path, &len);
    if (!s)
        return false;
    bool is = strstr(s, "\"sparkform_plan\"") != NULL && s[strspn(s, " \t\r\n")] == '{';
    if (!is && sf_crypt_is_sealed(s, len)) {
        /* An encrypted plan (a state with encryption has them sealed). */
        json_t *env = json_loadb(s, len, 0, NULL);
        const char *content = json_string_value(json_object_get(env, "content"));
        is = content && strcmp(content, "plan") == 0;
        json_decref(env);
    }
    free(s);
    return is;
}

/* An apply or destroy records in the state where its description came
 * from (a git commit, or nothing for a plain file), in the run's journal
 * with everything else it changes. */
static int record_source(struct sf_run *r, const struct sf_plan *plan, struct sf_diags *d)
{
    struct sf_state *st = sf_run_state(r);
    const json_t *now = sf_state_source(st);
    if (plan->source ? now && json_equal((json_t *)now, plan->source) : !now)
        return 0;
    if (sf_state_begin(st, d) < 0)
        return -1;
    return sf_state_set_source(st, plan->source, d);
}

/* plan, apply and destroy. */
static int cmd_run(struct args *a, unsigned bit, struct sf_diags *d)
{
    struct sf_run_opts o;
    struct sf_plan *plan = NULL, *saved = NULL;
    struct sf_run *r = NULL;
    struct sf_gitdesc from_git = {0};
    const char *opname = bit == C_PLAN ? "plan" : bit == C_APPLY ? "apply" : "destroy";
    run_opts(a, opname, &o);
    if (bit == C_DESTROY)
        o.destroy = true;
    int status = 1;
    bool from_saved = bit == C_APPLY && !a->file && a->pos.n == 1 && looks_like_plan(a->pos.v[0]);

    if (from_saved) {
        if (a->targets.n || a->replace.n || a->vars.n || a->var_files.n || a->refresh_only) {
            sf_error(d, NULL, "a saved plan is applied as it is: -target, -replace, -var, "
                              "-var-file and -refresh-only belong to the plan command");
            return 1;
        }
        if (sf_plan_read(a->pos.v[0], &saved, d) < 0)
            return 1;
        if (saved->source) {
            /* The description's text is the plan's; its modules and files
             * are read from the commit it was planned from. */
            if (sf_gitdesc_open_recorded(saved->source, &from_git, d) < 0)
                goto out;
            free(saved->config_path);
            saved->config_path = sf_xstrdup(from_git.file);
            printf("Description from %s//%s at commit %.7s, as planned\n\n", from_git.shown_url,
                   from_git.src.subdir, from_git.commit);
        }
        o.config_path = saved->config_path;
        if (sf_run_open_plan(&o, saved, &r, d) < 0)
            goto out;
        plan = saved;
        saved = NULL;
    } else {
        if (a->pos.n > 1) {
            sf_error(d, NULL, "%s takes one description file, got %zu arguments", opname, a->pos.n);
            return 1;
        }
        if (sf_run_open(&o, &r, d) < 0)
            goto out;
        if (sf_run_plan(r, &plan, d) < 0)
            goto out;
        if (a->git)
            plan->source = sf_gitdesc_record(a->git);
    }

    bool changes = sf_plan_has_changes(plan);
    if (a->json && bit == C_PLAN) {
        json_t *j = sf_plan_to_json(plan);
        print_json(j);
        json_decref(j);
    } else {
        sf_plan_render(stdout, plan, sf_ui_color());
        fflush(stdout);
    }
    if (a->targets.n)
        sf_warn(d, NULL, "resource targeting is in effect: the plan may be incomplete; use -target "
                         "for exceptional situations only");

    if (bit == C_PLAN) {
        if (a->out) {
            if (sf_plan_write_sealed(a->out, plan, sf_state_crypt(sf_run_state(r)), d) < 0)
                goto out;
            if (!a->json)
                printf("\nSaved the plan to %s. Apply exactly this plan with:\n  sparkform apply %s\n",
                       a->out, a->out);
        }
        status = a->detailed && changes ? 2 : 0;
        goto out;
    }
    if (!changes) {
        /* Nothing to change, but what the refresh found (an object adopted
         * after an interrupted run) belongs in the state all the same. */
        int recorded = 0;
        if (record_source(r, plan, d) < 0)
            goto out;
        status = sf_run_record_refresh(r, plan, &recorded, d) == 0 ? 0 : 1;
        if (recorded)
            printf("\nRecorded in the state what the refresh found for %d resource%s (adopted "
                   "after an interrupted run, or changed outside sparkform).\n",
                   recorded, recorded == 1 ? "" : "s");
        goto out;
    }
    /* A saved plan was reviewed when it was made: apply it without asking. */
    if (!a->auto_approve && !from_saved) {
        int ok = approve(bit == C_DESTROY ? "destroy all these resources" : "perform these actions", d);
        if (ok <= 0) {
            status = ok < 0 ? 0 : 1;
            goto out;
        }
    }
    if (record_source(r, plan, d) < 0)
        goto out;
    status = sf_run_apply(r, plan, d) == 0 ? 0 : 1;
out:
    sf_gitdesc_free(&from_git);
    if (saved)
        sf_plan_free(saved);
    if (plan)
        sf_plan_free(plan);
    sf_run_close(r);
    return status;
}

static int cmd_import(struct args *a, struct sf_diags *d)
{
    if (a->pos.n != 2) {
        sf_error(d, NULL, "import takes the resource address and the object's id: sparkform import "
                          "[-f FILE] TYPE.NAME ID");
        return 1;
    }
    struct sf_run_opts o;
    run_opts(a, "import", &o);
    o.config_path = a->file ? a->file : DEFAULT_CONFIG;
    struct sf_run *r = NULL;
    int status = 1;
    if (sf_run_open(&o, &r, d) == 0 && sf_run_import(r, a->pos.v[0], a->pos.v[1], d) == 0)
        status = 0;
    sf_run_close(r);
    return status;
}

/* Where the state is for a command that runs no plan: the description's
 * state: block when -f names a description or the default one exists
 * (and -state does not override it), else the local file. Its variables
 * are bound only for an S3 state, whose settings may use them. cfg holds
 * what p points into; the caller frees both, whatever the result. */
/* Load the description at path for its state: block, binding its
 * variables when the block may use them (an S3 state, encryption). */
static int load_state_block(struct args *a, const char *path, struct sf_config **cfg,
                            struct sf_diags *d)
{
    if (sf_config_load(path, cfg, d) < 0)
        return -1;
    const struct sf_state_cfg *sc = &(*cfg)->state;
    if ((sc->s3 || (sc->block && sf_node_get(sc->block, "encryption"))) &&
        sf_config_bind_vars(*cfg, (const char *const *)a->vars.v, a->vars.n,
                            (const char *const *)a->var_files.v, a->var_files.n, d) < 0)
        return -1;
    return 0;
}

static int state_place(struct args *a, struct sf_config **cfg, struct sf_state_place *p,
                       struct sf_diags *d)
{
    *cfg = NULL;
    memset(p, 0, sizeof(*p));
    const char *desc = a->file ? a->file : DEFAULT_CONFIG;
    /* -state FILE still takes the description's encryption (when -f
     * names one): an encrypted local copy is read with its keys. */
    if ((!a->state || a->file) && (a->file || access(desc, F_OK) == 0) &&
        load_state_block(a, desc, cfg, d) < 0)
        return -1;
    return sf_state_place(*cfg, a->state ? a->state : DEFAULT_STATE, a->state != NULL, p, d);
}

static void place_free(struct sf_config *cfg, struct sf_state_place *p)
{
    sf_state_place_free(p);
    sf_config_free(cfg);
}

static int load_state_ro(struct args *a, struct sf_state **st, struct sf_diags *d)
{
    struct sf_config *cfg;
    struct sf_state_place p;
    int rc = state_place(a, &cfg, &p, d);
    if (rc == 0)
        rc = sf_state_load_at(&p.w, st, d);
    /* A loaded state keeps its own copies of what it was opened with. */
    place_free(cfg, &p);
    return rc;
}

static int cmd_show(struct args *a, struct sf_diags *d)
{
    if (a->pos.n > 1) {
        sf_error(d, NULL, "show takes at most one plan file");
        return 1;
    }
    if (a->pos.n == 1) {
        struct sf_plan *p;
        if (sf_plan_read(a->pos.v[0], &p, d) < 0)
            return 1;
        if (a->json) {
            json_t *j = sf_plan_to_json(p);
            print_json(j);
            json_decref(j);
        } else {
            char *from = p->source ? sf_gitdesc_describe(p->source) : NULL;
            if (from)
                printf("Description from %s\n\n", from);
            free(from);
            sf_plan_render(stdout, p, sf_ui_color());
        }
        sf_plan_free(p);
        return 0;
    }
    struct sf_state *st;
    if (load_state_ro(a, &st, d) < 0)
        return 1;
    json_t *doc = sf_state_to_json(st);
    if (a->json) {
        json_t *j = sf_state_render_json(doc, sf_provider_find_type);
        print_json(j);
        json_decref(j);
    } else {
        sf_render_state(stdout, doc, sf_provider_find_type, sf_ui_color());
    }
    json_decref(doc);
    sf_state_free(st);
    return 0;
}

static int cmd_output(struct args *a, struct sf_diags *d)
{
    struct sf_state *st;
    if (a->pos.n > 1) {
        sf_error(d, NULL, "output takes at most one output name");
        return 1;
    }
    if (load_state_ro(a, &st, d) < 0)
        return 1;
    int status = 0;
    const char *want = a->pos.n ? a->pos.v[0] : NULL;
    const json_t *outs = sf_state_outputs(st);
    if (want && !json_object_get(outs, want)) {
        sf_error(d, NULL, "no output named \"%s\" in the state", want);
        status = 1;
    } else if (a->raw) {
        json_t *o = want ? json_object_get(outs, want) : NULL;
        json_t *v = o ? json_object_get(o, "value") : NULL;
        if (!want) {
            sf_error(d, NULL, "-raw prints one output: give its name");
            status = 1;
        } else if (json_is_true(json_object_get(o, "sensitive")) && isatty(STDOUT_FILENO)) {
            sf_error(d, NULL, "output \"%s\" is sensitive: -raw writes it only to a pipe or a file",
                     want);
            status = 1;
        } else if (json_is_string(v)) {
            fputs(json_string_value(v), stdout);
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            fputs(s ? s : "null", stdout);
            free(s);
        }
    } else if (a->json) {
        json_t *doc = sf_state_to_json(st);
        json_t *j = sf_outputs_render_json(doc);
        if (want) {
            json_t *one = json_object();
            json_object_set(one, want, json_object_get(j, want));
            json_decref(j);
            j = one;
        }
        print_json(j);
        json_decref(j);
        json_decref(doc);
    } else {
        const char *k;
        json_t *o;
        json_object_foreach((json_t *)outs, k, o)
        {
            if (want && strcmp(k, want) != 0)
                continue;
            printf("%s = ", k);
            if (json_is_true(json_object_get(o, "sensitive")))
                printf("(sensitive value)\n");
            else {
                sf_render_value(stdout, json_object_get(o, "value"), 0);
                printf("\n");
            }
        }
    }
    sf_state_free(st);
    return status;
}

static int cmd_graph(struct args *a, struct sf_diags *d)
{
    struct sf_config *cfg;
    const char *path = a->file ? a->file : a->pos.n ? a->pos.v[0] : DEFAULT_CONFIG;
    if (sf_config_load(path, &cfg, d) < 0)
        return 1;
    if (sf_config_bind_vars(cfg, (const char *const *)a->vars.v, a->vars.n,
                            (const char *const *)a->var_files.v, a->var_files.n, d) < 0) {
        sf_config_free(cfg);
        return 1;
    }
    struct sf_graph *g = sf_run_resource_graph(cfg, d);
    if (!g) {
        sf_config_free(cfg);
        return 1;
    }
    struct sf_graph *red = sf_graph_reduce(g);
    sf_graph_dot(red, stdout);
    sf_graph_free(red);
    sf_graph_free(g);
    sf_config_free(cfg);
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Where TYPE starts in an address: after any module.NAME[KEY]. parts.
 * NULL when a module part is malformed. */
static const char *type_in_address(const char *a)
{
    while (!strncmp(a, "module.", 7)) {
        a += 7;
        a += strcspn(a, ".[");
        if (*a == '[') {
            const char *close = strchr(a, ']');
            if (!close)
                return NULL;
            a = close + 1;
        }
        if (*a != '.')
            return NULL;
        a++;
    }
    return a;
}

/* What a migration must carry over: everything but the serial (which the
 * destination may have to raise). New reference. */
static json_t *migrated_part(const struct sf_state *s)
{
    json_t *doc = sf_state_to_json(s);
    json_object_del(doc, "serial");
    return doc;
}

/* state migrate: the destination is where the description (or -state)
 * keeps the state, the source is -from-state and/or -from-config. */
static int cmd_state_migrate(struct args *a, struct sf_diags *d)
{
    if (a->pos.n != 1) {
        sf_error(d, NULL, "state migrate takes no arguments besides its flags");
        return 1;
    }
    if (!a->from_state && !a->from_config) {
        sf_error(d, NULL, "state migrate needs its source: -from-state FILE (a local state file) "
                          "or -from-config OLD.yaml (a description whose state: block is the "
                          "source)");
        return 1;
    }
    struct sf_config *dcfg = NULL, *scfg = NULL;
    struct sf_state_place dp = {0}, sp = {0};
    struct sf_state *src = NULL, *dst = NULL, *back = NULL;
    char *sname = NULL, *dname = NULL;
    json_t *want = NULL, *got = NULL;
    int status = 1;
    const char *desc = a->file ? a->file : DEFAULT_CONFIG;
    if ((a->file || access(desc, F_OK) == 0) && load_state_block(a, desc, &dcfg, d) < 0)
        goto out;
    if (sf_state_place(dcfg, a->state ? a->state : DEFAULT_STATE, a->state != NULL, &dp, d) < 0)
        goto out;
    if (a->from_config && load_state_block(a, a->from_config, &scfg, d) < 0)
        goto out;
    if (sf_state_place(scfg, a->from_state ? a->from_state : DEFAULT_STATE, a->from_state != NULL,
                       &sp, d) < 0)
        goto out;
    /* A bare file that is encrypted is read with the destination's keys:
     * moving an encrypted local state to the bucket keeps the same ones. */
    if (!scfg) {
        size_t len = 0;
        char *text = sf_read_file(sp.w.path, &len);
        if (text && sf_crypt_is_sealed(text, len))
            sp.w.crypt = dp.w.crypt;
        free(text);
    }
    sname = sf_state_where_name(&sp.w);
    dname = sf_state_where_name(&dp.w);
    char *rs = sp.w.s3 ? NULL : realpath(sname, NULL), *rd = dp.w.s3 ? NULL : realpath(dname, NULL);
    bool same = strcmp(rs ? rs : sname, rd ? rd : dname) == 0;
    free(rs);
    free(rd);
    if (same) {
        sf_error(d, NULL, "the source and the destination are the same state (%s); migrate it to "
                          "another place and back to change how it is kept",
                 dname);
        sf_diag_detail(d, "To change only its key, set state.encryption.key to the new key and "
                          "old_key to the old one: the next change writes it with the new key.");
        goto out;
    }
    /* Source first, then destination: two migrations the other way round
     * fail on a lock rather than wait for each other. */
    if (a->lock ? sf_state_open_locked_at(&sp.w, "state migrate", a->lock_timeout_ms, &src, d)
                : sf_state_load_at(&sp.w, &src, d))
        goto out;
    if (!sf_state_exists(src)) {
        sf_error(d, NULL, "there is no state at %s: nothing to migrate", sname);
        goto out;
    }
    if (a->lock ? sf_state_open_locked_at(&dp.w, "state migrate", a->lock_timeout_ms, &dst, d)
                : sf_state_load_at(&dp.w, &dst, d))
        goto out;
    if (sf_state_exists(dst) && !a->force) {
        sf_error(d, NULL, "%s already holds a state (lineage %s, serial %lld); migrate does not "
                          "overwrite it unless -force is given",
                 dname, sf_state_lineage(dst), sf_state_serial(dst));
        goto out;
    }
    if (sf_state_copy_from(dst, src, d) < 0 || sf_state_commit(dst, d) < 0)
        goto out;
    /* Read back what was written, as the next run will. */
    if (sf_state_load_at(&dp.w, &back, d) < 0)
        goto out;
    want = migrated_part(src);
    got = migrated_part(back);
    if (!json_equal(want, got) || sf_state_serial(back) != sf_state_serial(dst)) {
        sf_error(d, NULL, "the state read back from %s is not the one written; the source %s was "
                          "left as it is",
                 dname, sname);
        goto out;
    }
    size_t n = 0;
    free(sf_state_addresses(back, &n));
    printf("Migrated the state (lineage %s, serial %lld, %zu resource%s) from %s to %s%s.\n",
           sf_state_lineage(back), sf_state_serial(back), n, n == 1 ? "" : "s", sname, dname,
           dp.w.crypt ? ", encrypted" : "");
    printf("The source %s was left in place; remove it once the new place is in use.\n", sname);
    status = 0;
out:
    json_decref(want);
    json_decref(got);
    sf_state_free(back);
    sf_state_free(dst); /* releases the locks */
    sf_state_free(src);
    free(sname);
    free(dname);
    sf_state_place_free(&sp);
    sf_state_place_free(&dp);
    sf_config_free(scfg);
    sf_config_free(dcfg);
    return status;
}

static int cmd_state(struct args *a, struct sf_diags *d)
{
    if (a->pos.n == 0) {
        sf_error(d, NULL, "state needs a subcommand: list, show ADDR, rm ADDR..., mv FROM TO, "
                          "migrate");
        return 1;
    }
    const char *sub = a->pos.v[0];
    if (!strcmp(sub, "migrate"))
        return cmd_state_migrate(a, d);
    if (a->from_state || a->from_config || a->force) {
        sf_error(d, NULL, "-from-state, -from-config and -force belong to state migrate");
        return 1;
    }
    bool writes = !strcmp(sub, "rm") || !strcmp(sub, "mv");
    bool mv = !strcmp(sub, "mv");
    if (!writes && strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0) {
        static const char *const subs[] = {"list", "show", "rm", "mv", "migrate", NULL};
        const char *dym = sf_did_you_mean(sub, subs);
        if (dym)
            sf_error(d, NULL, "unknown state subcommand \"%s\"; did you mean \"%s\"?", sub, dym);
        else
            sf_error(d, NULL, "unknown state subcommand \"%s\"; expected list, show, rm, mv or "
                              "migrate", sub);
        return 1;
    }
    if (writes && ((mv && a->pos.n != 3) || (!mv && a->pos.n < 2))) {
        sf_error(d, NULL, mv ? "state mv takes FROM and TO addresses"
                             : "state rm takes one or more resource addresses");
        return 1;
    }
    struct sf_state *st = NULL;
    int status = 1;
    struct sf_config *cfg;
    struct sf_state_place place;
    /* rm and mv change the state: lock, then read it (state.h). */
    int rc = state_place(a, &cfg, &place, d);
    if (rc == 0 && writes && a->lock)
        rc = sf_state_open_locked_at(&place.w, mv ? "state mv" : "state rm", a->lock_timeout_ms,
                                     &st, d);
    else if (rc == 0)
        rc = sf_state_load_at(&place.w, &st, d);
    place_free(cfg, &place);
    if (rc < 0)
        return 1;
    if (!strcmp(sub, "list")) {
        size_t n;
        const char **keys = sf_state_addresses(st, &n);
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (size_t i = 0; i < n; i++) {
            bool match = a->pos.n == 1;
            for (size_t j = 1; j < a->pos.n; j++)
                match |= strncmp(keys[i], a->pos.v[j], strlen(a->pos.v[j])) == 0;
            if (match)
                printf("%s\n", keys[i]);
        }
        free(keys);
        status = 0;
    } else if (!strcmp(sub, "show")) {
        if (a->pos.n != 2) {
            sf_error(d, NULL, "state show takes one resource address");
            goto out;
        }
        if (!sf_state_get(st, a->pos.v[1])) {
            sf_error(d, NULL, "no resource %s in the state", a->pos.v[1]);
            goto out;
        }
        /* The state document narrowed to that one resource, for the renderer. */
        json_t *doc = sf_state_to_json(st);
        json_t *one = json_object();
        json_object_set(one, a->pos.v[1], json_object_get(json_object_get(doc, "resources"),
                                                          a->pos.v[1]));
        json_object_set_new(doc, "resources", one);
        json_object_set_new(doc, "outputs", json_object());
        sf_render_state(stdout, doc, sf_provider_find_type, sf_ui_color());
        json_decref(doc);
        status = 0;
    } else {
        for (size_t i = 1; i < (mv ? 2 : a->pos.n); i++)
            if (!sf_state_get(st, a->pos.v[i])) {
                sf_error(d, NULL, "no resource %s in the state", a->pos.v[i]);
                goto out;
            }
        if (mv) {
            const char *from = a->pos.v[1], *to = a->pos.v[2];
            const char *tt = type_in_address(to);
            const char *dot = tt ? strchr(tt, '.') : NULL;
            const char *type = sf_state_type(sf_state_get(st, from));
            if (!dot || dot == tt || !dot[1]) {
                sf_error(d, NULL, "\"%s\" is not a resource address (TYPE.NAME, or module.M.TYPE.NAME)", to);
                goto out;
            }
            if (strncmp(tt, type, (size_t)(dot - tt)) != 0 || strlen(type) != (size_t)(dot - tt)) {
                sf_error(d, NULL, "cannot move %s to %s: the type must stay %s", from, to, type);
                goto out;
            }
            if (sf_state_get(st, to)) {
                sf_error(d, NULL, "cannot move %s to %s: %s is already in the state", from, to, to);
                goto out;
            }
        }
        if (sf_state_begin(st, d) < 0)
            goto out;
        if (mv) {
            if (sf_state_move(st, a->pos.v[1], a->pos.v[2], d) == 0)
                printf("Moved %s to %s\n", a->pos.v[1], a->pos.v[2]);
        } else {
            for (size_t i = 1; i < a->pos.n; i++)
                if (sf_state_remove(st, a->pos.v[i], d) == 0)
                    printf("Removed %s (the object itself is left alone)\n", a->pos.v[i]);
        }
        if (sf_state_commit(st, d) == 0 && !sf_diags_errors(d))
            status = 0;
    }
out:
    sf_state_free(st); /* releases the lock */
    return status;
}

static int cmd_status(struct args *a, struct sf_diags *d)
{
    if (a->pos.n > 1) {
        sf_error(d, NULL, "status takes one description file, got %zu arguments", a->pos.n);
        return 1;
    }
    struct sf_status_opts o = {
        .config_path = a->file ? a->file : a->pos.n ? a->pos.v[0] : DEFAULT_CONFIG,
        .state_path = a->state ? a->state : DEFAULT_STATE,
        .state_given = a->state != NULL,
        .vars = a->vars.v,
        .n_vars = a->vars.n,
        .var_files = a->var_files.v,
        .n_var_files = a->var_files.n,
        .parallelism = a->parallelism,
        .json = a->json,
        .stop = &interrupted,
    };
    bool healthy;
    if (sf_status_run(&o, &healthy, d) < 0)
        return 1;
    return healthy ? 0 : 2;
}

/* -f git::URL//PATH?ref=REF (or the same as the description argument):
 * fetch it and make the description the file in the commit's tree.
 * Returns 1 when the description is from git, 0 when not, -1 on errors. */
static int open_git_description(struct args *a, unsigned bit, struct sf_gitdesc *gd, struct sf_diags *d)
{
    bool positional = !a->file && (bit & (C_VALIDATE | C_RUNS | C_GRAPH | C_STATUS | C_INIT)) && a->pos.n >= 1;
    const char *arg = a->file ? a->file : positional ? a->pos.v[0] : NULL;
    if (!(bit & (C_CONFIG | C_INIT)) || !sf_gitdesc_is(arg))
        return 0;
    if (sf_gitdesc_open(arg, gd, d) < 0)
        return -1;
    if (positional) {
        a->pos.n--;
        memmove(a->pos.v, a->pos.v + 1, a->pos.n * sizeof(*a->pos.v));
    }
    a->file = gd->file;
    a->git = gd;
    /* Plans, -json documents and status tables keep stdout to themselves. */
    FILE *out = a->json ? stderr : stdout;
    fprintf(out, "Description from %s//%s at %s (commit %.7s)\n\n", gd->shown_url, gd->src.subdir,
            *gd->src.ref ? gd->src.ref : "the default branch", gd->commit);
    fflush(out);
    return 1;
}

/* schedule run, hibernate and wake. */
static int cmd_power(struct args *a, unsigned bit, struct sf_diags *d)
{
    if (bit == C_SCHEDULE) {
        if (a->pos.n == 0 || strcmp(a->pos.v[0], "run") != 0) {
            sf_error(d, NULL, "schedule takes a subcommand: sparkform schedule run [-f FILE] [-now TIME]");
            return 1;
        }
        memmove(a->pos.v, a->pos.v + 1, (a->pos.n - 1) * sizeof(*a->pos.v));
        a->pos.n--;
    }
    if (a->pos.n > 1) {
        sf_error(d, NULL, "one description file, got %zu arguments", a->pos.n);
        return 1;
    }
    time_t now = time(NULL);
    if (a->now && sf_cron_parse_time(a->now, NULL, &now, d) < 0)
        return 1;
    struct sf_run_opts o;
    run_opts(a, NULL, &o);
    int rc = bit == C_SCHEDULE ? sf_schedule_run(&o, now, d)
                               : sf_schedule_manual(&o, bit == C_WAKE, now, d);
    return rc == 0 ? 0 : 1;
}

static int cmd_force_unlock(struct args *a, struct sf_diags *d)
{
    if (a->pos.n != 1) {
        sf_error(d, NULL, "force-unlock takes the lock id (the error that named the lock shows it)");
        return 1;
    }
    struct sf_config *cfg;
    struct sf_state_place place;
    int rc = state_place(a, &cfg, &place, d);
    if (rc == 0)
        rc = sf_state_force_unlock_at(&place.w, a->pos.v[0], d);
    place_free(cfg, &place);
    if (rc < 0)
        return 1;
    printf("The state lock %s was removed.\n", a->pos.v[0]);
    return 0;
}

int sf_cli_main(int argc, char **argv)
{
    struct sf_diags d;
    sf_diags_init(&d);
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
        !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-version") || !strcmp(cmd, "--version"))
        cmd = "version";
    unsigned bit = 0;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, cmd))
            bit = commands[i].bit;
    if (!bit) {
        const char *names[32];
        size_t n = 0;
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            names[n++] = commands[i].name;
        names[n] = NULL;
        const char *dym = sf_did_you_mean(cmd, names);
        if (dym)
            fprintf(stderr, "error: unknown command \"%s\"; did you mean \"%s\"?\n", cmd, dym);
        else
            fprintf(stderr, "error: unknown command \"%s\"\n", cmd);
        usage(stderr);
        sf_diags_free(&d);
        return 1;
    }
    struct args a = {0};
    struct sf_gitdesc git = {0};
    int status;
    if (parse_args(argc - 2, argv + 2, bit, cmd, &a, &d) < 0) {
        sf_ui_init(a.no_color);
        status = 1;
        goto done;
    }
    sf_ui_init(a.no_color);
    if (a.help) {
        command_help(bit);
        status = 0;
        goto done;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int from_git = open_git_description(&a, bit, &git, &d);
    if (from_git < 0) {
        status = 1;
        goto done;
    }
    if (from_git && bit == C_INIT) {
        /* The lock file is the repository's, committed beside the
         * description: fetching is all init has to do. */
        printf("Fetched the description and the git modules its sparkform.lock.json names into "
               ".sparkform/modules; the lock file itself is the repository's and is not rewritten.\n");
        status = 0;
        goto done;
    }

    switch (bit) {
    case C_VALIDATE: status = cmd_validate(&a, &d); break;
    case C_PLAN:
    case C_APPLY:
    case C_DESTROY: status = cmd_run(&a, bit, &d); break;
    case C_SHOW: status = cmd_show(&a, &d); break;
    case C_OUTPUT: status = cmd_output(&a, &d); break;
    case C_GRAPH: status = cmd_graph(&a, &d); break;
    case C_STATE: status = cmd_state(&a, &d); break;
    case C_UNLOCK: status = cmd_force_unlock(&a, &d); break;
    case C_IMPORT: status = cmd_import(&a, &d); break;
    case C_INIT: status = sf_modules_init(a.file ? a.file : a.pos.n ? a.pos.v[0] : DEFAULT_CONFIG, stdout, &d) < 0; break;
    case C_STATUS: status = cmd_status(&a, &d); break;
    case C_SCHEDULE:
    case C_HIBERNATE:
    case C_WAKE: status = cmd_power(&a, bit, &d); break;
    default: printf("sparkform %s\n", SF_VERSION); status = 0; break;
    }
done:
    fflush(stdout);
    sf_diags_print(stderr, &d, sf_ui_color() && isatty(STDERR_FILENO));
    if (status == 0 && sf_diags_errors(&d))
        status = 1;
    args_free(&a);
    sf_gitdesc_free(&git);
    sf_diags_free(&d);
    return status;
}

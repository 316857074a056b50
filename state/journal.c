/*
 * The state journal, PATH.journal: while a run changes resources, every
 * change is appended here as one JSON line and flushed before the engine
 * goes on, so a run that dies loses nothing it reported as done. Appending
 * costs one small write and one fdatasync whatever the size of the state;
 * sf_state_commit (state.c) later folds everything into PATH and removes
 * the journal, and sf_state_load replays a journal that was left behind.
 *
 *   {"journal":1,"lineage":"...","base_serial":7}      header: the state
 *   {"op":"put","address":"a.b","entry":{...}}         file it applies to
 *   {"op":"intent","address":..,"type":..,"intent":{"desired":..,"dependencies":..}}
 *   {"op":"remove","address":"a.b"}
 *   {"op":"outputs","outputs":{...}}
 *
 * With state encryption the header also holds the key's parameters,
 * "encryption": {"kdf", "iter", "salt", "key_id", "key_from"} (state_crypt.h),
 * and every record is sealed on its own line:
 *
 *   {"sealed":"<base64 of nonce, ciphertext, tag>"}
 *
 * with the header line and the record's number (1, 2, ...) as additional
 * data, so a record cannot be moved to another journal or place. The key
 * is derived once per journal: a record still costs one write and one
 * fdatasync.
 *
 * Bytes after the last newline that begin the way a header or record
 * begins are a write torn by a crash and are ignored: that change was never
 * reported as done. Anything else (no header, a line that does not parse,
 * garbage at the end) is an error naming the journal, and nothing is
 * replayed: such a file was not written by sparkform, or was damaged.
 */
#include "state_private.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util.h"

#define JOURNAL_VERSION 1
/* How the header and every record start as json_dumps writes them. */
#define HEADER_LEAD "{\"journal\":"
#define RECORD_LEAD "{\"op\":\""
#define SEALED_LEAD "{\"sealed\":\""

char *sf_journal_path(const char *state_path)
{
    return sf_asprintf("%s.journal", state_path);
}

static void fsync_dir_of(const char *path)
{
    char *copy = sf_xstrdup(path);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

/* One write() of the whole line so that a concurrent reader or a crash sees
 * either nothing or a prefix of it, never interleaved pieces; a short write
 * (full disk) is finished by further writes or reported. */
static int write_line(int fd, const char *line, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, line, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        line += w;
        len -= (size_t)w;
    }
    return fdatasync(fd);
}

static int append_text(int fd, char *text)
{
    size_t n = strlen(text);
    text = sf_xrealloc(text, n + 2);
    text[n] = '\n';
    text[n + 1] = '\0';
    int rc = write_line(fd, text, n + 1);
    free(text);
    return rc;
}

static int append_json(int fd, const json_t *rec)
{
    char *text = json_dumps(rec, JSON_COMPACT);
    if (!text) {
        errno = EINVAL;
        return -1;
    }
    return append_text(fd, text);
}

/* The additional data of record number n of an encrypted journal. */
static char *record_aad(const char *header, size_t n)
{
    return sf_asprintf("%s\n%zu", header, n);
}

int sf_journal_open(struct sf_state *s, struct sf_diags *d)
{
    char *path = sf_xstrdup(s->journal_path);
    struct sf_pos pos = {path, 0, 0};
    /* A remote state's journal lives in a directory of its own. */
    if (s->remote && sf_mkdir_parents(path) < 0) {
        sf_error(d, &pos, "cannot create the state journal's directory: %s", strerror(errno));
        free(path);
        return -1;
    }
    /* Truncating is safe: sf_state_begin folded any journal worth keeping
     * into the state file before calling us, so what is left here is at
     * most a header or a torn first record. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        sf_error(d, &pos, "cannot create the state journal: %s", strerror(errno));
        free(path);
        return -1;
    }
    json_t *hdr = json_pack("{s:i, s:s, s:I}", "journal", JOURNAL_VERSION, "lineage", s->lineage,
                            "base_serial", (json_int_t)s->file_serial);
    if (s->crypt) {
        json_t *params = sf_crypt_params(s->crypt, d);
        if (!params) {
            json_decref(hdr);
            close(fd);
            unlink(path);
            free(path);
            return -1;
        }
        json_object_set_new(hdr, "encryption", params);
    }
    char *text = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    free(s->journal_aad);
    s->journal_aad = s->crypt && text ? sf_xstrdup(text) : NULL;
    s->journal_records = 0;
    int rc = text ? append_text(fd, text) : -1;
    if (rc < 0) {
        sf_error(d, &pos, "cannot write the state journal: %s", strerror(errno));
        close(fd);
        unlink(path);
        free(path);
        return -1;
    }
    /* The journal must still be there after a crash, not just its data. */
    fsync_dir_of(path);
    free(path);
    s->journal_fd = fd;
    return 0;
}

/* The line of an encrypted journal's record: its JSON sealed; NULL after
 * errors in d. */
static char *sealed_line(struct sf_state *s, const json_t *record, struct sf_diags *d)
{
    char *plain = json_dumps(record, JSON_COMPACT);
    if (!plain)
        return NULL;
    char *aad = record_aad(s->journal_aad, s->journal_records + 1);
    char *sealed = sf_crypt_seal_record(s->crypt, aad, plain, strlen(plain), d);
    OPENSSL_cleanse(plain, strlen(plain));
    free(plain);
    free(aad);
    if (!sealed)
        return NULL;
    json_t *line = json_pack("{s:s}", "sealed", sealed);
    free(sealed);
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    return text;
}

int sf_journal_append(struct sf_state *s, const json_t *record, struct sf_diags *d)
{
    int rc;
    if (s->journal_aad) {
        size_t errs = sf_diags_errors(d);
        char *line = sealed_line(s, record, d);
        if (!line && sf_diags_errors(d) > errs)
            return -1;
        errno = EINVAL;
        rc = line ? append_text(s->journal_fd, line) : -1;
        if (rc == 0)
            s->journal_records++;
    } else {
        rc = append_json(s->journal_fd, record);
    }
    if (rc < 0) {
        char *path = sf_xstrdup(s->journal_path);
        struct sf_pos pos = {path, 0, 0};
        const char *address = json_string_value(json_object_get(record, "address"));
        sf_diag_add(d, SF_SEV_ERROR, &pos, address, "cannot append to the state journal: %s",
                    strerror(errno));
        free(path);
        return -1;
    }
    return 0;
}

int sf_journal_remove(struct sf_state *s, struct sf_diags *d)
{
    if (s->journal_fd >= 0) {
        close(s->journal_fd);
        s->journal_fd = -1;
    }
    free(s->journal_aad);
    s->journal_aad = NULL;
    char *path = sf_xstrdup(s->journal_path);
    int rc = 0;
    if (unlink(path) < 0 && errno != ENOENT) {
        struct sf_pos pos = {path, 0, 0};
        sf_error(d, &pos, "cannot remove the state journal: %s", strerror(errno));
        rc = -1;
    } else {
        fsync_dir_of(path);
    }
    free(path);
    return rc;
}

/* Check the header against the state loaded from the file. Returns 1 to
 * replay, 0 to ignore the journal (already folded), -1 on error. */
static int check_header(struct sf_state *s, bool have_file, const json_t *hdr, const char *path,
                        struct sf_diags *d)
{
    struct sf_pos pos = {path, 1, 1};
    json_t *version = json_object_get(hdr, "journal");
    const char *lineage = json_string_value(json_object_get(hdr, "lineage"));
    json_t *base = json_object_get(hdr, "base_serial");
    if (!json_is_object(hdr) || !version) {
        sf_error(d, &pos, "not a sparkform journal: its first line is not a journal header");
        sf_diag_detail(d, "Move %s away if it is not needed; it was left as it is.", path);
        return -1;
    }
    if (!json_is_integer(version) || !lineage || !*lineage || !json_is_integer(base)) {
        sf_error(d, &pos, "journal header is malformed; expected "
                          "{\"journal\": 1, \"lineage\": ..., \"base_serial\": ...}");
        return -1;
    }
    if (json_integer_value(version) != JOURNAL_VERSION) {
        sf_error(d, &pos, "journal version %lld is not supported; this sparkform reads version %d",
                 (long long)json_integer_value(version), JOURNAL_VERSION);
        return -1;
    }
    long long base_serial = json_integer_value(base);
    if (!have_file) {
        /* The run that wrote this journal died before its first commit:
         * the journal is all there is of that stack, lineage included. */
        if (base_serial == 0) {
            s->lineage = sf_xstrdup(lineage);
            return 1;
        }
        if (s->remote)
            sf_error(d, &pos,
                     "the journal belongs to a state at serial %lld (lineage %s), but the state "
                     "%s does not exist; restore it (a versioned bucket keeps its earlier "
                     "versions) or move the journal away",
                     base_serial, lineage, s->path);
        else
            sf_error(d, &pos,
                     "the journal belongs to a state at serial %lld (lineage %s), but the state "
                     "file %s does not exist; restore %s (or %s.backup) or move the journal away",
                     base_serial, lineage, s->path, s->path, s->path);
        return -1;
    }
    if (strcmp(lineage, s->lineage) == 0) {
        if (base_serial == s->file_serial)
            return 1;
        /* Written by the commit that made the file; it died between the
         * rename and the removal of the journal. */
        if (base_serial == s->file_serial - 1)
            return 0;
    }
    sf_error(d, &pos,
             "the journal belongs to another state (lineage %s, serial %lld) than %s (lineage %s, "
             "serial %lld); expected a journal written against that file, so neither was changed",
             lineage, base_serial, s->path, s->lineage, s->file_serial);
    sf_diag_detail(d,
                   "Move %s away if the other state is gone for good, or put back the state file "
                   "it belongs to.",
                   path);
    return -1;
}

/* Whether the bytes after the journal's last newline are what a crash
 * leaves: a prefix of the line being written, which always starts with
 * lead (every line is one write() of a compact JSON object whose first key
 * is fixed). Anything else there was not written by sparkform. */
static bool torn_line(const char *p, size_t n, const char *lead)
{
    size_t m = strlen(lead);
    return memcmp(p, lead, n < m ? n : m) == 0;
}

int sf_journal_replay(struct sf_state *s, bool have_file, struct sf_diags *d)
{
    char *path = sf_xstrdup(s->journal_path);
    size_t len = 0;
    char *text = sf_read_file(path, &len);
    if (!text) {
        int rc = 0;
        if (errno != ENOENT) {
            struct sf_pos pos = {path, 0, 0};
            sf_error(d, &pos, "cannot read the state journal: %s", strerror(errno));
            rc = -1;
        }
        free(path);
        return rc;
    }
    /* Complete lines; whatever follows the last newline is the tail. */
    size_t nlines = 0, cap = 0, tail = 0;
    struct line { const char *p; size_t n; } *lines = NULL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '\n')
            continue;
        if (nlines == cap) {
            cap = cap ? cap * 2 : 64;
            lines = sf_xrealloc(lines, cap * sizeof(*lines));
        }
        lines[nlines].p = text + tail;
        lines[nlines].n = i - tail;
        nlines++;
        tail = i + 1;
    }
    int rc = 0;
    size_t applied = 0;
    /* An encrypted journal's header names its key; its records are sealed. */
    char *header = nlines ? sf_xstrndup(lines[0].p, lines[0].n) : NULL;
    json_t *hdr = header ? json_loads(header, 0, NULL) : NULL;
    const json_t *params = json_object_get(hdr, "encryption");
    if (params && !s->crypt) {
        struct sf_pos pos = {path, 1, 1};
        sf_error(d, &pos, "the journal of %s is encrypted; set state.encryption (the key it was "
                          "encrypted with) in the description",
                 s->path);
        rc = -1;
    }
    const char *lead = !nlines ? HEADER_LEAD : params ? SEALED_LEAD : RECORD_LEAD;
    char *name = sf_asprintf("the journal %s", path);
    /* A tail that is not the start of a line we write means someone else's
     * file or damage: refuse before anything is replayed. */
    if (rc == 0 && tail < len && !torn_line(text + tail, len - tail, lead)) {
        struct sf_pos pos = {path, (int)nlines + 1, 1};
        if (nlines == 0)
            sf_error(d, &pos, "not a sparkform journal: it does not start with a journal header");
        else
            sf_error(d, &pos, "the journal ends in something that is not a journal record (nor a "
                              "record cut short by a crash); the journal is damaged");
        rc = -1;
    }
    for (size_t i = 0; i < nlines && rc == 0; i++) {
        struct sf_pos pos = {path, (int)(i + 1), 1};
        json_error_t err;
        json_t *rec = json_loadb(lines[i].p, lines[i].n, JSON_REJECT_DUPLICATES, &err);
        if (i == 0) {
            rc = check_header(s, have_file, rec, path, d);
            json_decref(rec);
            if (rc <= 0)
                break; /* error, or a journal already folded */
            rc = 0;
            continue;
        }
        if (!rec) {
            /* A line that ends in its newline was written whole. */
            sf_error(d, &pos, "journal record is not valid JSON (%s); only a last record cut "
                              "short by a crash is expected, so the journal is damaged", err.text);
            rc = -1;
            break;
        }
        if (params) {
            const char *str = json_string_value(json_object_get(rec, "sealed"));
            char *sealed = str ? sf_xstrdup(str) : NULL;
            char *aad = record_aad(header, i), *plain = NULL;
            size_t plen = 0;
            if (!sealed)
                sf_error(d, &pos, "the journal is encrypted but this record is not sealed; the "
                                  "journal was damaged or altered");
            json_decref(rec);
            rec = NULL;
            if (sealed && sf_crypt_open_record(s->crypt, params, name, aad, sealed, &plain, &plen,
                                               d) == 0) {
                rec = json_loadb(plain, plen, JSON_REJECT_DUPLICATES, &err);
                OPENSSL_cleanse(plain, plen);
                if (!rec)
                    sf_error(d, &pos, "a sealed journal record is not valid JSON (%s)", err.text);
            }
            free(plain);
            free(aad);
            free(sealed);
            if (!rec) {
                rc = -1;
                break;
            }
        }
        char *why = NULL;
        if (sf_state_apply_record(s, rec, &why) < 0) {
            sf_error(d, &pos, "bad journal record: %s", why);
            free(why);
            rc = -1;
        } else {
            applied++;
        }
        json_decref(rec);
    }
    if (rc == 0 && applied > 0) {
        s->serial = s->file_serial + 1;
        s->changed = true;
    }
    free(lines);
    free(text);
    free(path);
    free(name);
    free(header);
    json_decref(hdr);
    return rc < 0 ? -1 : 0;
}

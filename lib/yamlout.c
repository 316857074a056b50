/*
 * YAML out: a JSON value written as one YAML document with libyaml's
 * emitter, for files other programs read as YAML (the Docker Registry's
 * config.yml). The reader is node.c; this is its counterpart for values
 * that are already JSON.
 */
#include "yamlout.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
    return yaml_emitter_emit(e, ev) ? 0 : -1;
}

static int emit_scalar(yaml_emitter_t *e, const char *text, bool quoted)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
                                 !quoted, quoted,
                                 quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return emit(e, &ev);
}

/* A JSON value as YAML events: strings always double-quoted, so that a
 * value such as "0.1" or "true" stays a string. */
static int emit_json(yaml_emitter_t *e, const json_t *v)
{
    yaml_event_t ev;
    char num_text[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (emit(e, &ev) < 0)
            return -1;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) if (emit_scalar(e, k, false) < 0 || emit_json(e, x) < 0) return -1;
        yaml_mapping_end_event_initialize(&ev);
        return emit(e, &ev);
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (emit(e, &ev) < 0)
            return -1;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (emit_json(e, x) < 0) return -1;
        yaml_sequence_end_event_initialize(&ev);
        return emit(e, &ev);
    }
    case JSON_STRING:
        return emit_scalar(e, json_string_value(v), true);
    case JSON_INTEGER:
        snprintf(num_text, sizeof(num_text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(e, num_text, false);
    case JSON_REAL:
        snprintf(num_text, sizeof(num_text), "%.17g", json_real_value(v));
        return emit_scalar(e, num_text, false);
    case JSON_TRUE:
        return emit_scalar(e, "true", false);
    case JSON_FALSE:
        return emit_scalar(e, "false", false);
    case JSON_NULL:
        return emit_scalar(e, "null", false);
    }
    return -1;
}

static int yaml_out(void *data, unsigned char *buffer, size_t size)
{
    sf_buf_add(data, (const char *)buffer, size);
    return 1;
}

char *sf_yaml_dump(const json_t *v)
{
    struct sf_buf b = {0};
    yaml_emitter_t e;
    yaml_event_t ev;
    int rc = yaml_emitter_initialize(&e) ? 0 : -1;
    if (rc == 0) {
        yaml_emitter_set_output(&e, yaml_out, &b);
        yaml_emitter_set_unicode(&e, 1);
        yaml_emitter_set_width(&e, -1);
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        rc = emit(&e, &ev);
        if (rc == 0) {
            yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
            rc = emit(&e, &ev);
        }
        if (rc == 0)
            rc = emit_json(&e, v);
        if (rc == 0) {
            yaml_document_end_event_initialize(&ev, 1);
            rc = emit(&e, &ev);
        }
        if (rc == 0) {
            yaml_stream_end_event_initialize(&ev);
            rc = emit(&e, &ev);
        }
        if (rc == 0 && !yaml_emitter_flush(&e))
            rc = -1;
        yaml_emitter_delete(&e);
    }
    if (rc < 0) {
        /* What was written may hold a secret of v. */
        if (b.s)
            OPENSSL_cleanse(b.s, b.cap);
        sf_buf_free(&b);
        return NULL;
    }
    return sf_buf_take(&b);
}

/*
 * YAML request bodies of localcloud's Kubernetes API (server-side apply is
 * "application/apply-patch+yaml"): one document, read by the engine's YAML
 * loader (lib/node.c) and turned into JSON the way it turns a
 * description's values into JSON (YAML 1.2's core schema for plain
 * scalars, quoted scalars stay strings).
 */
#include "k8s.h"

#include <stdio.h>

#include "node.h"

json_t *lc_k8s_yaml_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct sf_diags d;
    sf_diags_init(&d);
    struct sf_doc *doc = NULL;
    json_t *out = NULL;
    if (sf_yaml_parse("body", text, len, &doc, &d) == 0 && doc->root)
        out = sf_node_to_json(doc->root);
    else if (d.n > 0)
        snprintf(err, errlen, "line %d column %d: %s", d.items[0].line, d.items[0].col,
                 d.items[0].summary);
    else
        snprintf(err, errlen, "an empty document");
    sf_doc_free(doc);
    sf_diags_free(&d);
    return out;
}

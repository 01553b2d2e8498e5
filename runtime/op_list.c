/*
 * The public list of implemented operators (onnxc_supported_op), read from
 * the op group tables through oc_op_foreach, so it can never disagree with
 * what the loader resolves nodes to.
 */
#include "onnxc.h"
#include "op.h"

#include <string.h>

typedef struct op_cursor {
    size_t want;                 /* index asked for */
    size_t seen;                 /* ops visited so far */
    const oc_op_def *found;
} op_cursor;

static void visit(const oc_op_def *def, void *user)
{
    op_cursor *c = user;
    if (c->seen++ == c->want) c->found = def;
}

size_t onnxc_supported_op_count(void)
{
    op_cursor c = {.want = (size_t)-1};
    oc_op_foreach(visit, &c);
    return c.seen;
}

onnxc_status onnxc_supported_op(size_t index, onnxc_op_support *info)
{
    if (!info) return ONNXC_ERR_ARGUMENT;
    /* A linear walk per call: the tables hold ~100 ops and the list is read
     * once by `onnxc info --ops`, so an index would buy nothing. */
    op_cursor c = {.want = index};
    oc_op_foreach(visit, &c);
    if (!c.found) return ONNXC_ERR_ARGUMENT;
    const oc_op_def *d = c.found;
    size_t n = 0;
    /* versions[] is 0-terminated unless every slot is used. */
    while (n < OC_MAX_VERSIONS && d->versions[n]) n++;
    memset(info, 0, sizeof *info);
    /* The tables may spell the default domain "ai.onnx" or "". */
    info->domain = d->domain && strcmp(d->domain, "ai.onnx") != 0 ? d->domain : "";
    info->op_type = d->name;
    info->versions = d->versions;
    info->version_count = n;
    info->differentiable = d->backward != NULL;
    return ONNXC_OK;
}

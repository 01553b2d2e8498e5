#include "graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *oc_node_label(const oc_node *n, char *buf, size_t size)
{
    if (n->name && n->name[0])
        snprintf(buf, size, "node '%s' (%s)", n->name, n->op_type);
    else
        snprintf(buf, size, "node producing '%s' (%s)",
                 n->proto->n_output ? n->proto->output[0] : "?", n->op_type);
    return buf;
}

onnxc_status oc_node_fail(const oc_node *n, onnxc_error *err, onnxc_status status,
                          const char *fmt, ...)
{
    if (!err) return status;
    char label[512], msg[ONNXC_ERROR_MESSAGE_SIZE - 600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return oc_fail(err, status, "%s: %s", oc_node_label(n, label, sizeof label), msg);
}

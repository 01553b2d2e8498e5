/*
 * Names of each node's inputs and outputs, for callers that walk the graph's
 * edges (`onnxc info --dot`). The names are the NodeProto's own strings, so
 * they stay valid as long as the model.
 */
#include "onnxc.h"
#include "graph.h"

static onnxc_status node_at(const onnxc_model *m, size_t index, const char **name,
                            const oc_node **out)
{
    if (!m || !name || index >= (size_t)m->graph.n_nodes) return ONNXC_ERR_ARGUMENT;
    *out = &m->graph.nodes[index];
    return ONNXC_OK;
}

onnxc_status onnxc_model_node_input(const onnxc_model *m, size_t index, size_t k, const char **name)
{
    const oc_node *n;
    OC_TRY(node_at(m, index, name, &n));
    if (k >= (size_t)n->n_in) return ONNXC_ERR_ARGUMENT;
    const char *s = n->proto->input[k];
    *name = s ? s : "";
    return ONNXC_OK;
}

onnxc_status onnxc_model_node_output(const onnxc_model *m, size_t index, size_t k, const char **name)
{
    const oc_node *n;
    OC_TRY(node_at(m, index, name, &n));
    if (k >= (size_t)n->n_out) return ONNXC_ERR_ARGUMENT;
    const char *s = n->proto->output[k];
    *name = s ? s : "";
    return ONNXC_OK;
}

/* ModelProto.graph -> oc_graph: values, name lookup, topological order, ops. */
#ifndef OC_GRAPH_BUILD_H
#define OC_GRAPH_BUILD_H

#include "graph.h"

/* Builds m->graph from m->proto. Reports every undefined input and every
 * unsupported op at once (one per line); structural errors stop early. */
onnxc_status oc_graph_build(onnxc_model *m, onnxc_error *err);
void oc_graph_free(oc_graph *g);

/* ModelProto.functions: no function defined twice, none recursive, directly
 * or through others (model_functions.c). */
onnxc_status oc_check_functions(const Onnx__ModelProto *p, onnxc_error *err);

#endif

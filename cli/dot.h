/*
 * `onnxc info --dot`: the main graph as a Graphviz digraph, for
 *
 *     onnxc info --dot model.onnx | dot -Tsvg > model.svg
 *
 * Graph inputs and outputs are rounded boxes with their dtype and shape;
 * each node is a small table: its op (coloured by kind: layers with weights,
 * activations, reshapes, the rest; red when onnxc cannot run it), its name,
 * the shape of its first output, and the parameters it reads. Weights and
 * constants are folded into the node that reads them (the parameter count)
 * rather than drawn as nodes of their own, so the picture shows the layers.
 */
#ifndef ONNXC_CLI_DOT_H
#define ONNXC_CLI_DOT_H

#include <stdio.h>

#include "onnxc.h"

/* Write the graph to `f`; `title` (the file name) heads it. Returns 0, or the
 * exit code after printing the error. */
int cli_write_dot(FILE *f, const onnxc_model *model, const char *title);

#endif

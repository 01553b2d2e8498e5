/* Typed access to a node's attributes, with errors that name node and attribute. */
#ifndef OC_ATTR_H
#define OC_ATTR_H

#include "graph.h"

/* The attribute, or NULL. */
const Onnx__AttributeProto *oc_attr_find(const oc_node *n, const char *name);

/* Each getter leaves `def` in *out when the attribute is absent and fails
 * with ONNXC_ERR_MODEL when it exists with another type. */
onnxc_status oc_attr_int(const oc_node *n, const char *name, int64_t def, int64_t *out,
                         onnxc_error *err);
onnxc_status oc_attr_float(const oc_node *n, const char *name, float def, float *out,
                           onnxc_error *err);
/* *vals aliases the proto (NULL, *count 0 when absent). */
onnxc_status oc_attr_ints(const oc_node *n, const char *name, const int64_t **vals,
                          size_t *count, onnxc_error *err);
onnxc_status oc_attr_floats(const oc_node *n, const char *name, const float **vals,
                            size_t *count, onnxc_error *err);
/* NUL-terminated copy is not made: *s points into the proto, *len its length;
 * *s NULL when absent. */
onnxc_status oc_attr_string(const oc_node *n, const char *name, const char **s, size_t *len,
                            onnxc_error *err);
/* Fails when present: attributes onnxc refuses rather than ignores. */
onnxc_status oc_attr_absent(const oc_node *n, const char *name, const char *why,
                            onnxc_error *err);
/* Fail with "attribute 'name' is required" when absent. */
onnxc_status oc_attr_require(const oc_node *n, const char *name, onnxc_error *err);

#endif

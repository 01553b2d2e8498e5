/* Element types, shapes and tensors as the runtime sees them. */
#ifndef OC_TENSOR_H
#define OC_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onnxc.h"

#define OC_MAX_RANK ONNXC_MAX_RANK

typedef onnxc_dtype oc_dtype;

typedef struct oc_shape {
    int rank;
    int64_t dims[OC_MAX_RANK];
} oc_shape;

/*
 * A tensor during planning and execution. `data` is NULL while planning when
 * the value is not known yet; at run time it points at prod(dims) elements,
 * C order, owned by the plan's arena, the model, or the caller.
 */
typedef struct oc_tensor {
    oc_dtype dtype;
    oc_shape shape;
    void *data;
} oc_tensor;

/* Bytes per element; 0 for types the runtime cannot store densely. */
size_t oc_dtype_size(oc_dtype t);
bool oc_dtype_known(int t);           /* a value of TensorProto.DataType */
const char *oc_dtype_name(oc_dtype t);

/* Element count, or -1 on overflow past INT64_MAX / negative dims. */
int64_t oc_shape_numel(const oc_shape *s);
/* numel * element size, or false on overflow. */
bool oc_shape_bytes(const oc_shape *s, oc_dtype t, size_t *bytes);
bool oc_shape_equal(const oc_shape *a, const oc_shape *b);
/* "[3,784]" into buf; returns buf. */
const char *oc_shape_str(const oc_shape *s, char *buf, size_t size);

static inline int64_t oc_tensor_numel(const oc_tensor *t) { return oc_shape_numel(&t->shape); }

/* Read element i of an integer tensor (int32/int64/uint8/bool...) as int64. */
int64_t oc_tensor_get_int(const oc_tensor *t, int64_t i);
/* Read element i of any numeric tensor as double. */
double oc_tensor_get_double(const oc_tensor *t, int64_t i);

#endif

#include "op.h"

#include <string.h>

static const oc_op_def *const *const groups[] = {
    oc_ops_elementwise,
    oc_ops_nn,
    oc_ops_shape,
    oc_ops_training,
};

static bool same_domain(const char *a, const char *b)
{
    if (!a || strcmp(a, "ai.onnx") == 0) a = "";
    if (!b || strcmp(b, "ai.onnx") == 0) b = "";
    return strcmp(a, b) == 0;
}

const oc_op_def *oc_op_find(const char *domain, const char *op_type)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (const oc_op_def *const *d = groups[g]; *d; d++)
            if (strcmp((*d)->name, op_type) == 0 && same_domain((*d)->domain, domain)) return *d;
    return NULL;
}

int oc_op_resolve_version(const oc_op_def *def, int64_t opset)
{
    int best = 0;
    for (int i = 0; i < OC_MAX_VERSIONS && def->versions[i]; i++)
        if (def->versions[i] <= opset) best = def->versions[i];
    return best;
}

void oc_op_foreach(void (*fn)(const oc_op_def *def, void *user), void *user)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (const oc_op_def *const *d = groups[g]; *d; d++) fn(*d, user);
}

onnxc_status oc_axis(const oc_node *n, int64_t axis, int rank, const char *what, int *out,
                     onnxc_error *err)
{
    if (axis < -(int64_t)rank || axis >= (int64_t)rank)
        return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                            "%s %lld out of range: expected [%d, %d] for rank %d", what,
                            (long long)axis, -rank, rank - 1, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return ONNXC_OK;
}

onnxc_status oc_check_dtype(const oc_node *n, const char *what, oc_dtype got, oc_dtype want,
                            onnxc_error *err)
{
    if (got == want) return ONNXC_OK;
    return oc_node_fail(n, err, ONNXC_ERR_SHAPE, "%s: expected dtype %s, got %s", what,
                        oc_dtype_name(want), oc_dtype_name(got));
}

bool oc_dtype_is_float(oc_dtype t) { return t == ONNXC_FLOAT || t == ONNXC_DOUBLE; }

bool oc_dtype_is_int(oc_dtype t)
{
    switch (t) {
    case ONNXC_INT8: case ONNXC_UINT8: case ONNXC_INT16: case ONNXC_UINT16:
    case ONNXC_INT32: case ONNXC_UINT32: case ONNXC_INT64: case ONNXC_UINT64:
        return true;
    default:
        return false;
    }
}

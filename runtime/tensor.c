#include "tensor.h"

#include <stdio.h>
#include <string.h>

static const struct { const char *name; size_t size; } dtype_table[] = {
    [ONNXC_UNDEFINED] = {"undefined", 0},
    [ONNXC_FLOAT] = {"float", 4},
    [ONNXC_UINT8] = {"uint8", 1},
    [ONNXC_INT8] = {"int8", 1},
    [ONNXC_UINT16] = {"uint16", 2},
    [ONNXC_INT16] = {"int16", 2},
    [ONNXC_INT32] = {"int32", 4},
    [ONNXC_INT64] = {"int64", 8},
    [ONNXC_STRING] = {"string", 0},
    [ONNXC_BOOL] = {"bool", 1},
    [ONNXC_FLOAT16] = {"float16", 2},
    [ONNXC_DOUBLE] = {"double", 8},
    [ONNXC_UINT32] = {"uint32", 4},
    [ONNXC_UINT64] = {"uint64", 8},
    [ONNXC_COMPLEX64] = {"complex64", 8},
    [ONNXC_COMPLEX128] = {"complex128", 16},
    [ONNXC_BFLOAT16] = {"bfloat16", 2},
    [ONNXC_FLOAT8E4M3FN] = {"float8e4m3fn", 1},
    [ONNXC_FLOAT8E4M3FNUZ] = {"float8e4m3fnuz", 1},
    [ONNXC_FLOAT8E5M2] = {"float8e5m2", 1},
    [ONNXC_FLOAT8E5M2FNUZ] = {"float8e5m2fnuz", 1},
    /* 4-bit types pack two per byte; the runtime does not compute on them. */
    [ONNXC_UINT4] = {"uint4", 0},
    [ONNXC_INT4] = {"int4", 0},
};

#define DTYPE_COUNT (sizeof dtype_table / sizeof dtype_table[0])

bool oc_dtype_known(int t) { return t > 0 && (size_t)t < DTYPE_COUNT; }

size_t oc_dtype_size(oc_dtype t) { return oc_dtype_known((int)t) ? dtype_table[t].size : 0; }

const char *oc_dtype_name(oc_dtype t)
{
    return (t >= 0 && (size_t)t < DTYPE_COUNT) ? dtype_table[t].name : "unknown";
}

const char *onnxc_dtype_name(onnxc_dtype dtype) { return oc_dtype_name(dtype); }

int64_t oc_shape_numel(const oc_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->dims[i];
        if (d < 0) return -1;
        if (d == 0) return 0;
    }
    for (int i = 0; i < s->rank; i++) {
        if (__builtin_mul_overflow(n, s->dims[i], &n)) return -1;
    }
    return n;
}

bool oc_shape_bytes(const oc_shape *s, oc_dtype t, size_t *bytes)
{
    int64_t n = oc_shape_numel(s);
    if (n < 0) return false;
    size_t out;
    if (__builtin_mul_overflow((uint64_t)n, (uint64_t)oc_dtype_size(t), &out)) return false;
    *bytes = out;
    return true;
}

bool oc_shape_equal(const oc_shape *a, const oc_shape *b)
{
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

const char *oc_shape_str(const oc_shape *s, char *buf, size_t size)
{
    size_t used = 0;
    int n = snprintf(buf, size, "[");
    if (n > 0) used = (size_t)n;
    for (int i = 0; i < s->rank && used < size; i++) {
        n = snprintf(buf + used, size - used, "%s%lld", i ? "," : "", (long long)s->dims[i]);
        if (n > 0) used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

int64_t oc_tensor_get_int(const oc_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case ONNXC_INT64: return ((const int64_t *)t->data)[i];
    case ONNXC_INT32: return ((const int32_t *)t->data)[i];
    case ONNXC_UINT8: return ((const uint8_t *)t->data)[i];
    case ONNXC_INT8: return ((const int8_t *)t->data)[i];
    case ONNXC_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    case ONNXC_UINT16: return ((const uint16_t *)t->data)[i];
    case ONNXC_INT16: return ((const int16_t *)t->data)[i];
    case ONNXC_UINT32: return ((const uint32_t *)t->data)[i];
    case ONNXC_UINT64: return (int64_t)((const uint64_t *)t->data)[i];
    case ONNXC_FLOAT: return (int64_t)((const float *)t->data)[i];
    case ONNXC_DOUBLE: return (int64_t)((const double *)t->data)[i];
    default: return 0;
    }
}

double oc_tensor_get_double(const oc_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case ONNXC_FLOAT: return ((const float *)t->data)[i];
    case ONNXC_DOUBLE: return ((const double *)t->data)[i];
    default: return (double)oc_tensor_get_int(t, i);
    }
}

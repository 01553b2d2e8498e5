/*
 * TensorProto -> oc_tensor. Storage is checked strictly: exactly one of
 * raw_data / the typed field matching data_type, holding exactly
 * prod(dims) elements. Little-endian hosts only (raw_data is little-endian by
 * the standard), which is checked at compile time.
 */
#include <string.h>

#include "alloc.h"
#include "graph.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnxc reads raw_data in place and needs a little-endian host"
#endif

static size_t typed_count(const Onnx__TensorProto *tp, const char **field)
{
    size_t n = 0;
    *field = NULL;
    if (tp->n_float_data) n++, *field = "float_data";
    if (tp->n_int32_data) n++, *field = "int32_data";
    if (tp->n_int64_data) n++, *field = "int64_data";
    if (tp->n_double_data) n++, *field = "double_data";
    if (tp->n_uint64_data) n++, *field = "uint64_data";
    if (tp->n_string_data) n++, *field = "string_data";
    return n;
}

/* The typed field the standard uses for each data type. */
static const char *field_for(int dt)
{
    switch (dt) {
    case ONNXC_FLOAT: case ONNXC_COMPLEX64: return "float_data";
    case ONNXC_INT32: case ONNXC_INT16: case ONNXC_INT8: case ONNXC_UINT16: case ONNXC_UINT8:
    case ONNXC_BOOL: case ONNXC_FLOAT16: case ONNXC_BFLOAT16: case ONNXC_FLOAT8E4M3FN:
    case ONNXC_FLOAT8E4M3FNUZ: case ONNXC_FLOAT8E5M2: case ONNXC_FLOAT8E5M2FNUZ:
    case ONNXC_UINT4: case ONNXC_INT4:
        return "int32_data";
    case ONNXC_INT64: return "int64_data";
    case ONNXC_DOUBLE: case ONNXC_COMPLEX128: return "double_data";
    case ONNXC_UINT32: case ONNXC_UINT64: return "uint64_data";
    case ONNXC_STRING: return "string_data";
    default: return "?";
    }
}

onnxc_status oc_tensor_from_proto(const Onnx__TensorProto *tp, const onnxc_limits *limits,
                                  oc_tensor *out, bool *owned, const char *what,
                                  onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    *owned = false;
    if (!tp->has_data_type || !oc_dtype_known(tp->data_type))
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: unknown data_type %d", what,
                       tp->has_data_type ? (int)tp->data_type : 0);
    oc_dtype dt = (oc_dtype)tp->data_type;
    if (oc_dtype_size(dt) == 0 || dt == ONNXC_COMPLEX64 || dt == ONNXC_COMPLEX128)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: data type %s is not supported by onnxc",
                       what, oc_dtype_name(dt));
    if (tp->n_dims > OC_MAX_RANK)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: rank %zu exceeds the maximum of %d",
                       what, tp->n_dims, OC_MAX_RANK);
    out->dtype = dt;
    out->shape.rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: dim %zu is negative (%lld)", what, i,
                           (long long)tp->dims[i]);
        out->shape.dims[i] = tp->dims[i];
    }
    if (tp->segment)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
    size_t nbytes;
    int64_t numel = oc_shape_numel(&out->shape);
    if (numel < 0 || !oc_shape_bytes(&out->shape, dt, &nbytes))
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: element count of dims overflows", what);
    if (limits && nbytes > limits->max_tensor_bytes)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: %zu bytes exceed max_tensor_bytes (%llu)", what,
                       nbytes, (unsigned long long)limits->max_tensor_bytes);

    const char *typed_field;
    size_t n_typed = typed_count(tp, &typed_field);
    if (tp->has_raw_data && n_typed)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: holds both raw_data and %s; expected one", what,
                       typed_field);
    if (n_typed > 1)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: holds data in several typed fields", what);
    if (tp->has_raw_data) {
        if (tp->raw_data.len != nbytes)
            return oc_fail(err, ONNXC_ERR_MODEL,
                           "%s: dims %lld elements x %zu bytes = %zu bytes, but raw_data holds %zu",
                           what, (long long)numel, oc_dtype_size(dt), nbytes, tp->raw_data.len);
        out->data = tp->raw_data.data;
        if (((uintptr_t)out->data % oc_dtype_size(dt)) != 0 && nbytes) {
            void *copy = oc_aligned_alloc(nbytes);
            if (!copy) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", what);
            memcpy(copy, tp->raw_data.data, nbytes);
            out->data = copy;
            *owned = true;
        }
        return ONNXC_OK;
    }
    if (n_typed == 0) {
        if (numel == 0) return ONNXC_OK;
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: %lld elements declared but no data stored", what,
                       (long long)numel);
    }
    if (strcmp(typed_field, field_for(dt)) != 0)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: data type %s belongs in %s, found %s", what,
                       oc_dtype_name(dt), field_for(dt), typed_field);
    size_t count = tp->n_float_data + tp->n_int32_data + tp->n_int64_data + tp->n_double_data +
                   tp->n_uint64_data;
    if (count != (size_t)numel)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: dims hold %lld elements, but %s has %zu", what,
                       (long long)numel, typed_field, count);
    switch (dt) {
    case ONNXC_FLOAT: out->data = tp->float_data; return ONNXC_OK;
    case ONNXC_INT32: out->data = tp->int32_data; return ONNXC_OK;
    case ONNXC_INT64: out->data = tp->int64_data; return ONNXC_OK;
    case ONNXC_DOUBLE: out->data = tp->double_data; return ONNXC_OK;
    case ONNXC_UINT64: out->data = tp->uint64_data; return ONNXC_OK;
    default: break;
    }
    /* Narrow types travel widened in int32_data/uint64_data: convert, and
     * refuse values the narrow type cannot hold rather than truncate them. */
    for (size_t i = 0; i < count; i++) {
        int64_t v = dt == ONNXC_UINT32 ? (int64_t)tp->uint64_data[i] : tp->int32_data[i];
        int64_t lo = 0, hi = 255;
        switch (dt) {
        case ONNXC_INT8: lo = -128; hi = 127; break;
        case ONNXC_INT16: lo = -32768; hi = 32767; break;
        case ONNXC_UINT16: case ONNXC_FLOAT16: case ONNXC_BFLOAT16: hi = 65535; break;
        case ONNXC_UINT32: hi = 4294967295ll; break;
        case ONNXC_BOOL: hi = 1; break;
        default: break;
        }
        if (v < lo || v > hi)
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: %s[%zu] = %lld is out of range for %s", what,
                           typed_field, i, (long long)v, oc_dtype_name(dt));
    }
    void *copy = oc_aligned_alloc(nbytes);
    if (!copy) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < count; i++) {
        switch (dt) {
        case ONNXC_UINT8: case ONNXC_INT8: case ONNXC_FLOAT8E4M3FN: case ONNXC_FLOAT8E4M3FNUZ:
        case ONNXC_FLOAT8E5M2: case ONNXC_FLOAT8E5M2FNUZ:
            ((uint8_t *)copy)[i] = (uint8_t)tp->int32_data[i]; break;
        case ONNXC_BOOL: ((uint8_t *)copy)[i] = tp->int32_data[i] != 0; break;
        case ONNXC_INT16: case ONNXC_UINT16: case ONNXC_FLOAT16: case ONNXC_BFLOAT16:
            ((uint16_t *)copy)[i] = (uint16_t)tp->int32_data[i]; break;
        case ONNXC_UINT32: ((uint32_t *)copy)[i] = (uint32_t)tp->uint64_data[i]; break;
        default: break;
        }
    }
    out->data = copy;
    *owned = true;
    return ONNXC_OK;
}

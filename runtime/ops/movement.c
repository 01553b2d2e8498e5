/* Shared helpers of the data-movement ops; see movement.h. */
#include "movement.h"

#include <stdio.h>
#include <string.h>

#include "../parallel.h"

onnxc_status oc_mv_elem_size(const oc_node *n, const char *what, oc_dtype t, size_t *size,
                             onnxc_error *err)
{
    *size = oc_dtype_size(t);
    if (*size == 0)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "%s has dtype %s: expected a fixed-size element type (numeric or bool)",
                            what, oc_dtype_name(t));
    return ONNXC_OK;
}

onnxc_status oc_mv_read_i64(const oc_node *n, const char *what, const oc_tensor *t,
                            bool allow_scalar, int64_t *vals, int max, int *count,
                            onnxc_error *err)
{
    char buf[160];
    OC_TRY(oc_check_dtype(n, what, t->dtype, ONNXC_INT64, err));
    if (t->shape.rank != 1 && !(allow_scalar && t->shape.rank == 0))
        return oc_node_fail(n, err, ONNXC_ERR_SHAPE, "%s: expected a 1-D tensor, got shape %s",
                            what, oc_shape_str(&t->shape, buf, sizeof buf));
    int64_t numel = oc_shape_numel(&t->shape);
    if (numel > max)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "%s: expected at most %d values (onnxc's maximum rank), got %lld",
                            what, max, (long long)numel);
    if (numel > 0 && !t->data)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "%s: its values must be known when the plan is built "
                            "(a constant or initializer, or computed from shapes)",
                            what);
    for (int64_t i = 0; i < numel; i++) vals[i] = ((const int64_t *)t->data)[i];
    *count = (int)numel;
    return ONNXC_OK;
}

const char *oc_mv_list_str(const int64_t *v, int count, char *buf, size_t size)
{
    oc_shape s = {.rank = 0};
    /* oc_shape_str prints any int64 list; reuse it for up to OC_MAX_RANK values. */
    s.rank = count < OC_MAX_RANK ? count : OC_MAX_RANK;
    for (int i = 0; i < s.rank; i++) s.dims[i] = v[i];
    return oc_shape_str(&s, buf, size);
}

onnxc_status oc_mv_axes(const oc_node *n, const char *what, const int64_t *axes, int count,
                        int rank, bool allow_negative, int *out, onnxc_error *err)
{
    bool seen[OC_MAX_RANK] = {false};
    for (int i = 0; i < count; i++) {
        int64_t a = axes[i];
        int64_t lo = allow_negative ? -(int64_t)rank : 0;
        if (a < lo || a >= rank)
            return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                                "%s: axis %lld out of range: expected [%lld, %d] for rank %d",
                                what, (long long)a, (long long)lo, rank - 1, rank);
        int k = (int)(a < 0 ? a + rank : a);
        if (seen[k])
            return oc_node_fail(n, err, ONNXC_ERR_MODEL,
                                "%s: expected distinct axes, got axis %d more than once", what, k);
        seen[k] = true;
        out[i] = k;
    }
    return ONNXC_OK;
}

void oc_mv_copy(void *dst, const void *src, size_t bytes, int nthreads)
{
    if (dst == src || bytes == 0) return;
    /* Below ~1 MiB one memcpy is already faster than waking a thread team. */
    const size_t min_chunk = (size_t)1 << 20;
    int chunks = nthreads;
    if (chunks < 1 || bytes < 2 * min_chunk) chunks = 1;
    if (chunks == 1) {
        memcpy(dst, src, bytes);
        return;
    }
    size_t step = (bytes + (size_t)chunks - 1) / (size_t)chunks;
    OC_PAR_FOR(chunks, c, {
        size_t begin = (size_t)c * step;
        size_t end = begin + step < bytes ? begin + step : bytes;
        if (begin < end) memcpy((char *)dst + begin, (const char *)src + begin, end - begin);
    });
}

onnxc_status oc_mv_grad_dtypes(const oc_node *n, const char *what, const oc_tensor *dx,
                               const oc_tensor *dy, onnxc_error *err)
{
    if (!oc_dtype_is_float(dx->dtype))
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "backward: gradient of %s has dtype %s: expected float or double",
                            what, oc_dtype_name(dx->dtype));
    if (dy->dtype != dx->dtype)
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED,
                            "backward: gradient of the output has dtype %s: expected %s (as %s)",
                            oc_dtype_name(dy->dtype), oc_dtype_name(dx->dtype), what);
    return ONNXC_OK;
}

/* Flat elements [lo, hi) of the nblocks x len block view: walk block by
 * block so the inner loop is a contiguous, vectorizable add. */
#define ADD_RANGE(NAME, T)                                                                   \
    static void NAME(T *dst, int64_t dst_stride, const T *src, int64_t src_stride,           \
                     int64_t len, int64_t lo, int64_t hi)                                    \
    {                                                                                        \
        int64_t b = lo / len, i = lo % len;                                                  \
        while (lo < hi) {                                                                    \
            int64_t m = len - i < hi - lo ? len - i : hi - lo;                               \
            T *d = dst + b * dst_stride + i;                                                 \
            const T *s = src + b * src_stride + i;                                           \
            for (int64_t k = 0; k < m; k++) d[k] += s[k];                                    \
            lo += m;                                                                         \
            b++;                                                                             \
            i = 0;                                                                           \
        }                                                                                    \
    }
ADD_RANGE(add_range_f32, float)
ADD_RANGE(add_range_f64, double)
#undef ADD_RANGE

void oc_mv_add_blocks(void *dst, int64_t dst_stride, const void *src, int64_t src_stride,
                      int64_t nblocks, int64_t len, oc_dtype dtype, int nthreads)
{
    if (nblocks <= 0 || len <= 0) return;
    int64_t total = nblocks * len;
    /* Below ~32 K elements the add is cheaper than waking a thread team. */
    int parts = (nthreads > 1 && total >= ((int64_t)1 << 15)) ? nthreads : 1;
    OC_PAR_FOR(parts, c, {
        /* Part c: flat elements [lo, hi), near-equal ranges. */
        int64_t lo, hi;
        oc_split_range(total, parts, c, &lo, &hi);
        if (dtype == ONNXC_DOUBLE)
            add_range_f64(dst, dst_stride, src, src_stride, len, lo, hi);
        else
            add_range_f32(dst, dst_stride, src, src_stride, len, lo, hi);
    });
}

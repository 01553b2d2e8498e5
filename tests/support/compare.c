/* Tensor comparison for end-to-end tests; see compare.h. */
#include "compare.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t cmp_dtype_size(onnxc_dtype dtype)
{
    switch (dtype) {
    case ONNXC_BOOL:
    case ONNXC_UINT8:
    case ONNXC_INT8:
    case ONNXC_FLOAT8E4M3FN:
    case ONNXC_FLOAT8E4M3FNUZ:
    case ONNXC_FLOAT8E5M2:
    case ONNXC_FLOAT8E5M2FNUZ: return 1;
    case ONNXC_UINT16:
    case ONNXC_INT16:
    case ONNXC_FLOAT16:
    case ONNXC_BFLOAT16: return 2;
    case ONNXC_FLOAT:
    case ONNXC_INT32:
    case ONNXC_UINT32: return 4;
    case ONNXC_DOUBLE:
    case ONNXC_INT64:
    case ONNXC_UINT64: return 8;
    default: return 0;
    }
}

int64_t cmp_numel(const onnxc_tensor *t)
{
    if (t->rank < 0 || t->rank > ONNXC_MAX_RANK) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0) return -1;
        n *= t->dims[i];
    }
    return n;
}

const char *cmp_shape_str(const onnxc_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0) return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->rank && i < ONNXC_MAX_RANK && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "", t->dims[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

/* IEEE half -> float, exact (every half is a float). */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    float mag;
    if (exp == 0) mag = ldexpf((float)mant, -24);               /* zero / subnormal */
    else if (exp == 31) mag = mant ? NAN : INFINITY;
    else mag = ldexpf((float)(mant | 0x400), (int)exp - 25);
    return sign ? -mag : mag;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

double cmp_get_double(const onnxc_tensor *t, int64_t i)
{
    const unsigned char *p = (const unsigned char *)t->data;
    switch (t->dtype) {
    case ONNXC_FLOAT: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case ONNXC_DOUBLE: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case ONNXC_FLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return half_to_float(v); }
    case ONNXC_BFLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return bf16_to_float(v); }
    case ONNXC_INT8: return ((const int8_t *)p)[i];
    case ONNXC_UINT8:
    case ONNXC_BOOL: return p[i];
    case ONNXC_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case ONNXC_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case ONNXC_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case ONNXC_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case ONNXC_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case ONNXC_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    default: return NAN;
    }
}

static bool is_floating(onnxc_dtype d)
{
    return d == ONNXC_FLOAT || d == ONNXC_DOUBLE || d == ONNXC_FLOAT16 || d == ONNXC_BFLOAT16;
}

/* Integer value of element i as text (exact for 64-bit values). */
static void int_str(const onnxc_tensor *t, int64_t i, char *buf, size_t size)
{
    const unsigned char *p = (const unsigned char *)t->data;
    if (t->dtype == ONNXC_INT64) {
        int64_t v;
        memcpy(&v, p + 8 * i, 8);
        snprintf(buf, size, "%" PRId64, v);
    } else if (t->dtype == ONNXC_UINT64) {
        uint64_t v;
        memcpy(&v, p + 8 * i, 8);
        snprintf(buf, size, "%" PRIu64, v);
    } else if (cmp_dtype_size(t->dtype) == 1 && !is_floating(t->dtype) &&
               t->dtype != ONNXC_INT8 && t->dtype != ONNXC_UINT8 && t->dtype != ONNXC_BOOL) {
        snprintf(buf, size, "0x%02x", p[i]);                   /* float8: raw bits */
    } else {
        snprintf(buf, size, "%.0f", cmp_get_double(t, i));
    }
}

/* "[1,0,3]" coordinates of flat index i in t's shape. */
static void coords_str(const onnxc_tensor *t, int64_t i, char *buf, size_t size)
{
    int64_t idx[ONNXC_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        idx[d] = t->dims[d] ? i % t->dims[d] : 0;
        i = t->dims[d] ? i / t->dims[d] : 0;
    }
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->rank && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, d ? "," : "", idx[d]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

static bool float_close(double g, double e, cmp_tol tol)
{
    if (isnan(e) || isnan(g)) return isnan(e) && isnan(g);
    if (isinf(e) || isinf(g)) return g == e;
    double diff = fabs(g - e);
    if (tol.mode == CMP_ONNX) return diff <= tol.atol + tol.rtol * fabs(e);
    return diff <= (fabs(e) > 1.0 ? tol.atol * fabs(e) : tol.atol);
}

static bool same_meta(const onnxc_tensor *got, const onnxc_tensor *exp, char *why, size_t n)
{
    char a[128], b[128];
    if (got->dtype != exp->dtype) {
        snprintf(why, n, "dtype: expected %s, got %s", onnxc_dtype_name(exp->dtype),
                 onnxc_dtype_name(got->dtype));
        return false;
    }
    bool shape_ok = got->rank == exp->rank && got->rank >= 0 && got->rank <= ONNXC_MAX_RANK;
    for (int d = 0; shape_ok && d < got->rank; d++) shape_ok = got->dims[d] == exp->dims[d];
    if (!shape_ok) {
        snprintf(why, n, "shape: expected %s (rank %d), got %s (rank %d)",
                 cmp_shape_str(exp, b, sizeof b), exp->rank, cmp_shape_str(got, a, sizeof a),
                 got->rank);
        return false;
    }
    if (cmp_dtype_size(exp->dtype) == 0) {
        snprintf(why, n, "dtype %s: comparison not supported by the test helpers",
                 onnxc_dtype_name(exp->dtype));
        return false;
    }
    if (cmp_numel(exp) < 0) {
        snprintf(why, n, "shape %s: invalid", cmp_shape_str(exp, b, sizeof b));
        return false;
    }
    if (cmp_numel(exp) > 0 && (got->data == NULL || exp->data == NULL)) {
        snprintf(why, n, "data: %s is NULL", got->data == NULL ? "result" : "reference");
        return false;
    }
    return true;
}

bool cmp_tensor(const onnxc_tensor *got, const onnxc_tensor *expected, cmp_tol tol, char *why,
                size_t why_size)
{
    if (!same_meta(got, expected, why, why_size)) return false;
    int64_t n = cmp_numel(expected), first = -1, bad = 0;
    double max_diff = 0.0;
    bool floating = is_floating(expected->dtype);
    size_t es = cmp_dtype_size(expected->dtype);
    for (int64_t i = 0; i < n; i++) {
        bool ok;
        if (floating) {
            double g = cmp_get_double(got, i), e = cmp_get_double(expected, i);
            ok = float_close(g, e, tol);
            if (!isnan(g) && !isnan(e) && !isinf(g) && !isinf(e) && fabs(g - e) > max_diff)
                max_diff = fabs(g - e);
        } else {
            /* Integers, bool and float8 bit patterns: exact. */
            ok = memcmp((const char *)got->data + (size_t)i * es,
                        (const char *)expected->data + (size_t)i * es, es) == 0;
        }
        if (!ok) {
            if (first < 0) first = i;
            bad++;
        }
    }
    if (first < 0) return true;
    char at[160], g[64], e[64];
    coords_str(expected, first, at, sizeof at);
    if (floating) {
        snprintf(g, sizeof g, "%.9g", cmp_get_double(got, first));
        snprintf(e, sizeof e, "%.9g", cmp_get_double(expected, first));
    } else {
        int_str(got, first, g, sizeof g);
        int_str(expected, first, e, sizeof e);
    }
    snprintf(why, why_size,
             "first mismatch at flat index %" PRId64 " %s: got %s, expected %s "
             "(%" PRId64 " of %" PRId64 " elements differ; max abs diff %.3g)",
             first, at, g, e, bad, n, max_diff);
    return false;
}

bool cmp_tensor_identical(const onnxc_tensor *got, const onnxc_tensor *expected, char *why,
                          size_t why_size)
{
    if (!same_meta(got, expected, why, why_size)) return false;
    int64_t n = cmp_numel(expected);
    size_t es = cmp_dtype_size(expected->dtype);
    for (int64_t i = 0; i < n; i++) {
        if (memcmp((const char *)got->data + (size_t)i * es,
                   (const char *)expected->data + (size_t)i * es, es) != 0) {
            char at[160];
            coords_str(expected, i, at, sizeof at);
            snprintf(why, why_size,
                     "not bit-identical at flat index %" PRId64 " %s: %.17g vs %.17g", i, at,
                     cmp_get_double(got, i), cmp_get_double(expected, i));
            return false;
        }
    }
    return true;
}

bool cmp_tensor_copy(onnxc_tensor *dst, const onnxc_tensor *src)
{
    int64_t n = cmp_numel(src);
    size_t es = cmp_dtype_size(src->dtype);
    *dst = *src;
    dst->data = NULL;
    dst->name = NULL;
    dst->capacity = 0;
    if (n < 0 || es == 0) return false;
    size_t bytes = (size_t)n * es;
    dst->data = malloc(bytes ? bytes : 1);
    if (dst->data == NULL) return false;
    if (bytes) memcpy(dst->data, src->data, bytes);
    dst->capacity = bytes;
    return true;
}

void cmp_tensor_free(onnxc_tensor *t)
{
    if (t == NULL) return;
    free(t->data);
    t->data = NULL;
}

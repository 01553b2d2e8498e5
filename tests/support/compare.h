/*
 * Tensor comparison for end-to-end tests: dtype, shape and values of a
 * result against an outside reference, with a message that says where and
 * how they differ.
 *
 *     char why[1024];
 *     if (!cmp_tensor(&got, &expected, cmp_onnx(1e-3, 1e-7), why, sizeof why))
 *         cr_fail("case %s, output %d: %s", name, i, why);
 *
 * Only the public onnxc_tensor type is used, so these helpers judge the
 * library from the outside; element sizes and half-precision conversions are
 * written here rather than borrowed from the runtime.
 */
#ifndef ONNXC_TEST_COMPARE_H
#define ONNXC_TEST_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onnxc.h"

typedef enum cmp_mode {
    /* ONNX backend rule: |got - exp| <= atol + rtol * |exp|. */
    CMP_ONNX,
    /* |got - exp| <= tol when |exp| <= 1, else <= tol * |exp|: absolute for
     * small values, relative for large ones (used for real-model outputs). */
    CMP_ABS_OR_REL
} cmp_mode;

typedef struct cmp_tol {
    cmp_mode mode;
    double rtol;   /* CMP_ONNX */
    double atol;   /* CMP_ONNX; the single tolerance of CMP_ABS_OR_REL */
} cmp_tol;

static inline cmp_tol cmp_onnx(double rtol, double atol)
{
    return (cmp_tol){.mode = CMP_ONNX, .rtol = rtol, .atol = atol};
}

static inline cmp_tol cmp_abs_or_rel(double tol)
{
    return (cmp_tol){.mode = CMP_ABS_OR_REL, .rtol = 0.0, .atol = tol};
}

/* Bytes per element for the dense types tests handle; 0 for the others
 * (string, complex, 4-bit), which cmp_tensor reports as unsupported. */
size_t cmp_dtype_size(onnxc_dtype dtype);

/* prod(dims); -1 for a negative dim or a rank outside 0..ONNXC_MAX_RANK. */
int64_t cmp_numel(const onnxc_tensor *t);

/* "[3,784]" into buf; returns buf. */
const char *cmp_shape_str(const onnxc_tensor *t, char *buf, size_t size);

/*
 * True when `got` has expected's dtype and shape and every value matches:
 * floating types within `tol` (NaN matches NaN only; an infinity matches the
 * same infinity only), integer and bool types exactly. Otherwise false, and
 * `why` says what differs: the dtypes, the shapes, or the first mismatching
 * flat index with its coordinates, got vs expected, plus the number of
 * mismatches and the largest absolute difference.
 */
bool cmp_tensor(const onnxc_tensor *got, const onnxc_tensor *expected, cmp_tol tol, char *why,
                size_t why_size);

/* True when dtype, shape and every byte of the data are the same; else
 * `why` names the first differing element. */
bool cmp_tensor_identical(const onnxc_tensor *got, const onnxc_tensor *expected, char *why,
                          size_t why_size);

/*
 * Deep copy of `src` (metadata and data) into `dst`, data from malloc; for
 * keeping a session-owned output beyond the next run. Free with
 * cmp_tensor_free. False on allocation failure or an unsupported dtype.
 */
bool cmp_tensor_copy(onnxc_tensor *dst, const onnxc_tensor *src);
void cmp_tensor_free(onnxc_tensor *t);

/* Element i of a tensor of any dtype cmp_dtype_size knows, as a double. */
double cmp_get_double(const onnxc_tensor *t, int64_t i);

#endif

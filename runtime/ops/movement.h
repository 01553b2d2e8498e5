/*
 * Helpers shared by the data-movement ops (reshape.c, transpose.c, concat.c,
 * gather.c, shape.c): they move elements as bytes, so every fixed-size dtype
 * works the same, and they read small int64 lists (shapes, axes) from value
 * inputs with messages that name the node. The backward passes share a
 * typed block add (float and double only).
 */
#ifndef OC_OPS_MOVEMENT_H
#define OC_OPS_MOVEMENT_H

#include "../op.h"

/* Element size of `t`, or ONNXC_ERR_UNSUPPORTED for types without a fixed
 * byte size (string, int4/uint4) or unknown types. `what` names the value. */
onnxc_status oc_mv_elem_size(const oc_node *n, const char *what, oc_dtype t, size_t *size,
                             onnxc_error *err);

/*
 * Read the values of a 1-D int64 tensor (a shape or axes input) into
 * vals[max]. Refuses another dtype, rank other than 1 (rank 0 is accepted
 * when `allow_scalar`), unknown values, and more than `max` entries.
 */
onnxc_status oc_mv_read_i64(const oc_node *n, const char *what, const oc_tensor *t,
                            bool allow_scalar, int64_t *vals, int max, int *count,
                            onnxc_error *err);

/* "[1,-1,0]" into buf; returns buf. */
const char *oc_mv_list_str(const int64_t *v, int count, char *buf, size_t size);

/*
 * Normalize a list of axes against `rank` into out[count]: each in
 * [-rank, rank-1] (or [0, rank-1] when `!allow_negative`), no duplicates.
 * `what` names the list ("attribute 'axes'", "input 'axes'").
 */
onnxc_status oc_mv_axes(const oc_node *n, const char *what, const int64_t *axes, int count,
                        int rank, bool allow_negative, int *out, onnxc_error *err);

/* Copy `bytes` from src to dst (no-op when they are the same buffer), split
 * into `nthreads` contiguous chunks when large enough to be worth it. */
void oc_mv_copy(void *dst, const void *src, size_t bytes, int nthreads);

/* ---- Backward passes ---------------------------------------------------
 * Gradients of data movement are data movement too: each element of dL/dY
 * is added into one element of dL/dX (Gather: several, in index order).
 * Backward kernels only ever ADD into din (see op.h). */

/*
 * Check that a backward pass can add gradient `dy` into `dx`: both float or
 * both double (the runtime's gradient types). Fails with
 * ONNXC_ERR_UNSUPPORTED naming the node and `what` (the input) otherwise.
 */
onnxc_status oc_mv_grad_dtypes(const oc_node *n, const char *what, const oc_tensor *dx,
                               const oc_tensor *dy, onnxc_error *err);

/*
 * dst[b * dst_stride + i] += src[b * src_stride + i] for b < nblocks,
 * i < len, in float or double (`dtype`, the same for both). Threads split
 * the flat range of nblocks * len elements; every element gets exactly one
 * add, so the result is the same for any `nthreads`. A plain dst += src of
 * n elements is nblocks 1, len n.
 */
void oc_mv_add_blocks(void *dst, int64_t dst_stride, const void *src, int64_t src_stride,
                      int64_t nblocks, int64_t len, oc_dtype dtype, int nthreads);

#endif

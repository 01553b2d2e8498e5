/*
 * Numpy-style (ONNX "multidirectional") broadcasting, and a strided iterator
 * that walks a broadcast in contiguous row segments, for elementwise kernels.
 *
 * Shapes are aligned at the right; each dim pair must be equal or one of them
 * 1, and the result takes the larger. E.g. [2,3,4] with [3,1] -> [2,3,4].
 *
 * Kernel pattern (see runtime/ops/binary.c):
 *
 *     oc_bcast bc;
 *     oc_bcast_init(&bc, &out->shape, 2, (const oc_shape *[]){&a->shape, &b->shape});
 *     // per thread, for a range [lo, hi) of output elements:
 *     oc_bcast_iter it;
 *     oc_bcast_iter_begin(&it, &bc, lo, hi);
 *     int64_t o, len;
 *     while ((len = oc_bcast_iter_next(&it, &o)) > 0)
 *         row(y + o, a + it.seg[0], bc.inner[0], b + it.seg[1], bc.inner[1], len);
 *
 * (oc_bcast_iter_block hands out several whole rows at once, for kernels
 * that loop over rows themselves; binary.c uses it.)
 *
 * oc_bcast_init merges adjacent dims that broadcast the same way for every
 * operand, so the common cases become one or two loops with no index math:
 *   same shapes        -> rank 1, inner strides {1,1}: one flat loop
 *   scalar operand     -> rank 1, inner stride 0 for the scalar
 *   [N,K] + [K] bias   -> rank 2, rows of K with inner strides {1,1}
 *   [N,K] * [N,1]      -> rank 2, rows of K with inner strides {1,0}
 * Inner strides are always 0 (operand repeats along the row) or 1
 * (contiguous), so a kernel needs at most four loop variants.
 */
#ifndef OC_BROADCAST_H
#define OC_BROADCAST_H

#include <stdint.h>

#include "error.h"
#include "graph.h"
#include "parallel.h"
#include "tensor.h"

#define OC_BCAST_MAX_IN 4


/*
 * Result shape of broadcasting a with b into *out. On mismatch fails with
 * ONNXC_ERR_SHAPE naming node n and showing both shapes and the first dim
 * that disagrees. n may be NULL (message without a node label).
 */
onnxc_status oc_broadcast_shape(const oc_node *n, const oc_shape *a, const oc_shape *b,
                                oc_shape *out, onnxc_error *err);

/* True when `in` broadcasts to exactly `out` (unidirectional: in -> out). */
bool oc_broadcast_to_ok(const oc_shape *in, const oc_shape *out);

/*
 * Element strides of `in` seen through `out` (in must broadcast to out):
 * strides[d] for d in [0, out->rank), 0 where `in` is missing or has dim 1.
 * For kernels that need their own index math (e.g. reductions of a
 * broadcast gradient).
 */
void oc_broadcast_strides(const oc_shape *in, const oc_shape *out, int64_t *strides);

/* A broadcast of n operands into one output, dims merged (see above). */
typedef struct oc_bcast {
    int n;                                    /* operands, <= OC_BCAST_MAX_IN */
    int rank;                                 /* merged rank, >= 1 */
    int64_t numel;                            /* output elements */
    int64_t dims[OC_MAX_RANK];                /* merged output dims */
    int64_t strides[OC_BCAST_MAX_IN][OC_MAX_RANK]; /* [operand][dim], elements */
    int64_t inner[OC_BCAST_MAX_IN];           /* strides[k][rank-1]: 0 or 1 */
    int64_t outer[OC_BCAST_MAX_IN];           /* strides[k][rank-2], 0 if rank 1 */
} oc_bcast;

/* Every in[k] must broadcast to out (checked by the op's infer). */
void oc_bcast_init(oc_bcast *bc, const oc_shape *out, int n, const oc_shape *const *in);

/* Walks output elements [pos, end) of a broadcast, one row segment at a time. */
typedef struct oc_bcast_iter {
    const oc_bcast *bc;
    int64_t pos, end;                         /* next output element, stop */
    int64_t idx[OC_MAX_RANK];                 /* multi-index of pos */
    int64_t off[OC_BCAST_MAX_IN];             /* operand offsets of pos */
    int64_t seg[OC_BCAST_MAX_IN];             /* operand offsets of the segment
                                                 returned by the last _next */
} oc_bcast_iter;

void oc_bcast_iter_begin(oc_bcast_iter *it, const oc_bcast *bc, int64_t begin, int64_t end);

/*
 * The next segment: returns its length (0 when done) and its output offset
 * in *out_off; it->seg[k] is operand k's offset of the segment's first
 * element, and along the segment operand k advances by bc->inner[k].
 */
int64_t oc_bcast_iter_next(oc_bcast_iter *it, int64_t *out_off);

/*
 * Like _next, but returns whole rows at once where it can: *rows rows of
 * the returned length `len` (the last merged dim), row r of the output
 * starting at *out_off + r * len and of operand k at it->seg[k] +
 * r * bc->outer[k]. Lets a kernel loop over short rows ([N,10] + [10])
 * without one call per row. *rows is 1 for a partial row.
 */
int64_t oc_bcast_iter_block(oc_bcast_iter *it, int64_t *out_off, int64_t *rows);

/*
 * Gradient of a broadcast operand ("reduce to input shape"):
 *
 *     dst += alpha * sum of src over the dims along which dst was broadcast
 *
 * dst's shape must broadcast to src's (dst: the operand, src: a gradient
 * of the broadcast result); both have dtype float or double, the same one.
 * Sums run in double and in a fixed order per dst element, and threads split
 * only the dst elements, so the result is bit-identical for any nthreads.
 * Equal element counts mean no dim is reduced: a plain dst += alpha * src.
 * The bias case [N,K] -> [K] sums column blocks row by row (contiguous,
 * vectorized); [N,K] -> [N,1] sums contiguous rows with 8 partial sums.
 * Never allocates (scratch is on the stack).
 */
void oc_bcast_reduce_add(oc_tensor *dst, const oc_tensor *src, double alpha, int nthreads);

#endif

/*
 * The element-wise part of a fused Dense layer's backward pass
 * (ops/dense_train.c), one pass over the output gradient:
 *
 *     Y = act(Z),  Z = X·W + b,  dY given      (all [rows, N], row-major)
 *     dZ[r, j] = Y[r, j] > 0 ? dY[r, j] : 0     (act = ReLU; else dZ is dY)
 *     db[j]    = sum over r of dZ[r, j]
 *              = (sum over r < cut) + (sum over r >= cut)   with a cut
 *
 * for the columns [j0, j1), so that threads can own column ranges. Each
 * column's sum starts from 0 and adds rows in ascending order in every
 * kernel family: results never depend on the family, the thread count or
 * the column split.
 */
#ifndef OC_KERNELS_DENSE_GRAD_H
#define OC_KERNELS_DENSE_GRAD_H

#include <stdint.h>

/* y == NULL: no ReLU, dz unused. db == NULL: no sums. add_db: db[j] += sum
 * instead of db[j] = sum. cut: 0 (or >= rows) for one sum; else each
 * column's two partial sums, each from 0 in ascending rows, are added (the
 * sum two shards of the batch give, train/row_cut.h). dz may not overlap dy. */
void oc_dense_grad_cols(const float *dy, const float *y, float *dz, float *db, int add_db,
                        int64_t rows, int64_t cut, int64_t N, int64_t j0, int64_t j1);

#endif

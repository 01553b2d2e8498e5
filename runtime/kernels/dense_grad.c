/* ReLU mask and bias gradient of a fused Dense layer (dense_grad.h). */
#include "dense_grad.h"

#include "multiversion.h"

/* Columns summed at once: their partial sums stay in registers / L1. */
#define COLS 256

/* Rows [r0, r1) of columns [c0, c0 + w): masked into dz (with y) and added
 * to sum[0..w) in ascending row order. */
static inline __attribute__((always_inline)) void
add_rows(const float *restrict dy, const float *restrict y, float *restrict dz, float *restrict sum,
         int64_t r0, int64_t r1, int64_t N, int64_t c0, int64_t w)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *g = dy + r * N + c0;
        if (y) {
            const float *a = y + r * N + c0;
            float *d = dz + r * N + c0;
            for (int64_t j = 0; j < w; j++) {
                /* NaN in Y (a NaN pre-activation) passes no gradient,
                 * as Relu's own backward does. */
                const float v = a[j] > 0.0f ? g[j] : 0.0f;
                d[j] = v;
                sum[j] += v;
            }
        } else {
            for (int64_t j = 0; j < w; j++) sum[j] += g[j];
        }
    }
}

static inline __attribute__((always_inline)) void
oc_dense_grad_cols_body(const float *restrict dy, const float *restrict y, float *restrict dz,
                        float *restrict db, int add_db, int64_t rows, int64_t cut, int64_t N,
                        int64_t j0, int64_t j1)
{
    if (cut <= 0 || cut >= rows) cut = rows;
    for (int64_t c0 = j0; c0 < j1; c0 += COLS) {
        const int64_t w = j1 - c0 < COLS ? j1 - c0 : COLS;
        float sum[COLS], rest[COLS];
        for (int64_t j = 0; j < w; j++) sum[j] = rest[j] = 0.0f;
        add_rows(dy, y, dz, sum, 0, cut, N, c0, w);
        if (cut < rows) {
            add_rows(dy, y, dz, rest, cut, rows, N, c0, w);
            for (int64_t j = 0; j < w; j++) sum[j] += rest[j];
        }
        if (!db) continue;
        for (int64_t j = 0; j < w; j++) db[c0 + j] = add_db ? db[c0 + j] + sum[j] : sum[j];
    }
}

OC_MULTIVERSION(oc_dense_grad_cols,
                (const float *dy, const float *y, float *dz, float *db, int add_db, int64_t rows,
                 int64_t cut, int64_t N, int64_t j0, int64_t j1),
                (dy, y, dz, db, add_db, rows, cut, N, j0, j1))

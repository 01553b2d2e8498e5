#include "broadcast.h"

#include <assert.h>
#include <string.h>

onnxc_status oc_broadcast_shape(const oc_node *n, const oc_shape *a, const oc_shape *b,
                                oc_shape *out, onnxc_error *err)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    oc_shape r;
    memset(&r, 0, sizeof r);
    r.rank = rank;
    for (int d = 0; d < rank; d++) {
        /* Align at the right: missing leading dims count as 1. */
        int da = d - (rank - a->rank), db = d - (rank - b->rank);
        int64_t x = da >= 0 ? a->dims[da] : 1, y = db >= 0 ? b->dims[db] : 1;
        if (x == y || y == 1) {
            r.dims[d] = x;
        } else if (x == 1) {
            r.dims[d] = y;
        } else {
            char sa[128], sb[128];
            const char *fmt = "shapes %s and %s do not broadcast: dim %d (from the right) "
                              "is %lld vs %lld, expected equal or one of them 1";
            oc_shape_str(a, sa, sizeof sa);
            oc_shape_str(b, sb, sizeof sb);
            if (n)
                return oc_node_fail(n, err, ONNXC_ERR_SHAPE, fmt, sa, sb, rank - d,
                                    (long long)x, (long long)y);
            return oc_fail(err, ONNXC_ERR_SHAPE, fmt, sa, sb, rank - d, (long long)x,
                           (long long)y);
        }
    }
    *out = r;
    return ONNXC_OK;
}

bool oc_broadcast_to_ok(const oc_shape *in, const oc_shape *out)
{
    if (in->rank > out->rank) return false;
    int lead = out->rank - in->rank;
    for (int d = 0; d < in->rank; d++)
        if (in->dims[d] != 1 && in->dims[d] != out->dims[lead + d]) return false;
    return true;
}

void oc_broadcast_strides(const oc_shape *in, const oc_shape *out, int64_t *strides)
{
    int lead = out->rank - in->rank;
    int64_t s = 1;
    for (int d = out->rank - 1; d >= 0; d--) {
        int di = d - lead;
        if (di < 0 || in->dims[di] == 1) {
            strides[d] = 0;
        } else {
            strides[d] = s;
            s *= in->dims[di];
        }
    }
}

void oc_bcast_init(oc_bcast *bc, const oc_shape *out, int n, const oc_shape *const *in)
{
    memset(bc, 0, sizeof *bc);
    bc->n = n;
    bc->numel = oc_shape_numel(out);
    int64_t full[OC_BCAST_MAX_IN][OC_MAX_RANK];
    for (int k = 0; k < n; k++) oc_broadcast_strides(in[k], out, full[k]);

    /* Drop dims of size 1 (they move nothing), then merge dim d into the
     * previous kept dim p when every operand steps through them as one:
     * strides[p] == strides[d] * dims[d] (contiguous, or both 0). */
    int r = 0;
    for (int d = 0; d < out->rank; d++) {
        int64_t dim = out->dims[d];
        if (dim == 1) continue;
        bool merge = r > 0;
        for (int k = 0; k < n && merge; k++)
            merge = bc->strides[k][r - 1] == full[k][d] * dim;
        if (merge) {
            bc->dims[r - 1] *= dim;
            for (int k = 0; k < n; k++) bc->strides[k][r - 1] = full[k][d];
        } else {
            bc->dims[r] = dim;
            for (int k = 0; k < n; k++) bc->strides[k][r] = full[k][d];
            r++;
        }
    }
    if (r == 0) {
        /* Scalar output (or all dims 1): one row of one element. */
        bc->dims[0] = 1;
        for (int k = 0; k < n; k++) bc->strides[k][0] = 0;
        r = 1;
    }
    bc->rank = r;
    for (int k = 0; k < n; k++) {
        bc->inner[k] = bc->strides[k][r - 1];
        bc->outer[k] = r >= 2 ? bc->strides[k][r - 2] : 0;
    }
}

void oc_bcast_iter_begin(oc_bcast_iter *it, const oc_bcast *bc, int64_t begin, int64_t end)
{
    memset(it, 0, sizeof *it);
    it->bc = bc;
    it->pos = begin;
    it->end = end < bc->numel ? end : bc->numel;
    if (begin >= it->end) return;
    int64_t rem = begin;
    for (int d = bc->rank - 1; d >= 0; d--) {
        it->idx[d] = rem % bc->dims[d];
        rem /= bc->dims[d];
        for (int k = 0; k < bc->n; k++) it->off[k] += it->idx[d] * bc->strides[k][d];
    }
}

/* Carry into outer dims like an odometer, from dim d outwards: reset a
 * full dim, step the one before it. */
static void carry(oc_bcast_iter *it, int d)
{
    const oc_bcast *bc = it->bc;
    for (; d > 0 && it->idx[d] == bc->dims[d]; d--) {
        it->idx[d] = 0;
        it->idx[d - 1]++;
        for (int k = 0; k < bc->n; k++)
            it->off[k] += bc->strides[k][d - 1] - bc->dims[d] * bc->strides[k][d];
    }
}

int64_t oc_bcast_iter_next(oc_bcast_iter *it, int64_t *out_off)
{
    if (it->pos >= it->end) return 0;
    const oc_bcast *bc = it->bc;
    int last = bc->rank - 1;
    int64_t len = bc->dims[last] - it->idx[last];
    if (len > it->end - it->pos) len = it->end - it->pos;
    *out_off = it->pos;
    for (int k = 0; k < bc->n; k++) it->seg[k] = it->off[k];

    it->pos += len;
    it->idx[last] += len;
    for (int k = 0; k < bc->n; k++) it->off[k] += len * bc->inner[k];
    carry(it, last);
    return len;
}

int64_t oc_bcast_iter_block(oc_bcast_iter *it, int64_t *out_off, int64_t *rows)
{
    if (it->pos >= it->end) return 0;
    const oc_bcast *bc = it->bc;
    int last = bc->rank - 1;
    int64_t len = bc->dims[last];
    if (last == 0 || it->idx[last] != 0 || it->end - it->pos < len) {
        *rows = 1;
        return oc_bcast_iter_next(it, out_off);
    }
    /* Whole rows from here: as many as remain in dim last-1 and in range. */
    int64_t r = bc->dims[last - 1] - it->idx[last - 1];
    if (r > (it->end - it->pos) / len) r = (it->end - it->pos) / len;
    *rows = r;
    *out_off = it->pos;
    for (int k = 0; k < bc->n; k++) it->seg[k] = it->off[k];

    it->pos += r * len;
    it->idx[last - 1] += r;
    for (int k = 0; k < bc->n; k++) it->off[k] += r * bc->outer[k];
    carry(it, last - 1);
    return len;
}

/* ------------------------------------------------------------------------ */
/* Reducing a broadcast gradient back to the operand's shape                */

/*
 * The broadcast dst -> src, merged by oc_bcast_init, split into the dims
 * dst keeps (its elements, contiguous in this order) and the dims it was
 * broadcast along (summed). Strides are src element strides.
 */
typedef struct red_layout {
    int nk, nr;
    int64_t kdim[OC_MAX_RANK], kstr[OC_MAX_RANK];  /* kept dims, outer first */
    int64_t rdim[OC_MAX_RANK], rstr[OC_MAX_RANK];  /* reduced dims, outer first */
} red_layout;

/* src offset of dst element j's first src element: unravel j over the kept
 * dims (first nk of them). */
static int64_t kept_offset(const red_layout *L, int nk, int64_t j)
{
    int64_t off = 0;
    for (int d = nk - 1; d >= 0; d--) {
        off += (j % L->kdim[d]) * L->kstr[d];
        j /= L->kdim[d];
    }
    return off;
}

/* Odometer over the first nr reduced dims: idx and off start at zero; each
 * call moves to the next combination (row-major) and returns false after
 * the last. */
static bool red_next(const red_layout *L, int nr, int64_t *idx, int64_t *off)
{
    for (int d = nr - 1; d >= 0; d--) {
        *off += L->rstr[d];
        if (++idx[d] < L->rdim[d]) return true;
        *off -= idx[d] * L->rstr[d];
        idx[d] = 0;
    }
    return false;
}

/* Most columns summed per task in the kept-inner case (8 KiB of doubles on
 * the stack). Wide blocks read each src row as one stream: with 256-column
 * blocks of a [8192,1000] float gradient every block started on a new page
 * and the sum ran 5x slower (1 vs 5 GB/s, one thread). */
#define RED_COLS 1024

/*
 * Typed kernels. Kept-inner case ([N,K] -> [K], [2,3,4] -> [3,4]): dst
 * "rows" are runs of the innermost kept dim (length len); a task sums
 * columns [c0, c0+w) of one row over every reduced combination, adding each
 * src row segment into a block of double accumulators in q order.
 * Reduced-inner case ([N,K] -> [N,1], everything -> scalar): each dst
 * element sums contiguous runs of length len with 8 partial sums (lane
 * i % 8), combined in a fixed tree at the end.
 */
#define RED_KERNELS(S, T)                                                                  \
    static void red_cols_##S(T *restrict dst, const T *restrict src, const red_layout *L,  \
                             int64_t len, int64_t row, int64_t c0, int64_t w, double alpha) \
    {                                                                                      \
        double acc[RED_COLS]; /* [w] column sums */                                       \
        for (int64_t i = 0; i < w; i++) acc[i] = 0.0;                                      \
        int64_t base = kept_offset(L, L->nk - 1, row) + c0;                                \
        int64_t idx[OC_MAX_RANK] = {0}, off = 0;                                           \
        do {                                                                               \
            const T *restrict s = src + base + off;                                        \
            for (int64_t i = 0; i < w; i++) acc[i] += s[i];                                \
        } while (red_next(L, L->nr, idx, &off));                                           \
        T *restrict d = dst + row * len + c0;                                              \
        for (int64_t i = 0; i < w; i++) d[i] += (T)(alpha * acc[i]);                       \
    }                                                                                      \
    static void red_runs_##S(T *restrict dst, const T *restrict src, const red_layout *L,  \
                             int64_t len, int64_t j, double alpha)                         \
    {                                                                                      \
        double a[8] = {0}; /* [8] partial sums, lane i % 8 */                             \
        int64_t base = kept_offset(L, L->nk, j);                                           \
        int64_t idx[OC_MAX_RANK] = {0}, off = 0;                                           \
        do {                                                                               \
            const T *restrict s = src + base + off;                                        \
            int64_t i = 0;                                                                 \
            for (; i + 8 <= len; i += 8)                                                   \
                for (int l = 0; l < 8; l++) a[l] += s[i + l];                              \
            for (int l = 0; i + l < len; l++) a[l] += s[i + l];                            \
        } while (red_next(L, L->nr - 1, idx, &off));                                       \
        double sum = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));    \
        dst[j] += (T)(alpha * sum);                                                        \
    }                                                                                      \
    static void red_copy_##S(T *restrict dst, const T *restrict src, int64_t lo,           \
                             int64_t hi, double alpha)                                     \
    {                                                                                      \
        if (alpha == 1.0) {                                                                \
            for (int64_t i = lo; i < hi; i++) dst[i] += src[i];                            \
        } else {                                                                           \
            const T a = (T)alpha;                                                          \
            for (int64_t i = lo; i < hi; i++) dst[i] += a * src[i];                        \
        }                                                                                  \
    }
RED_KERNELS(f32, float)
RED_KERNELS(f64, double)

/* How a reduction is split into tasks (see red_tasks). */
typedef enum red_mode {
    RED_NONE,          /* equal counts: task = one element of dst += alpha*src */
    RED_KEPT_INNER,    /* task = (dst row, column block): red_cols */
    RED_REDUCED_INNER  /* task = one dst element: red_runs */
} red_mode;

typedef struct red_job {
    oc_tensor *dst;
    const oc_tensor *src;
    const red_layout *L;
    int64_t len;                      /* innermost merged dim */
    int64_t blocks, width;            /* kept-inner: column blocks per row, cols each */
    double alpha;
    red_mode mode;
} red_job;

/* Tasks [lo, hi) of a reduction; each writes its own dst elements. */
static void red_tasks(const red_job *job, int64_t lo, int64_t hi)
{
    bool f64 = job->dst->dtype == ONNXC_DOUBLE;
    void *d = job->dst->data;
    const void *s = job->src->data;
    if (job->mode == RED_NONE) {
        if (f64) red_copy_f64(d, s, lo, hi, job->alpha);
        else red_copy_f32(d, s, lo, hi, job->alpha);
        return;
    }
    for (int64_t t = lo; t < hi; t++) {
        if (job->mode == RED_REDUCED_INNER) {
            if (f64) red_runs_f64(d, s, job->L, job->len, t, job->alpha);
            else red_runs_f32(d, s, job->L, job->len, t, job->alpha);
            continue;
        }
        int64_t row = t / job->blocks, c0 = (t % job->blocks) * job->width;
        int64_t w = job->len - c0 < job->width ? job->len - c0 : job->width;
        if (f64) red_cols_f64(d, s, job->L, job->len, row, c0, w, job->alpha);
        else red_cols_f32(d, s, job->L, job->len, row, c0, w, job->alpha);
    }
}

void oc_bcast_reduce_add(oc_tensor *dst, const oc_tensor *src, double alpha, int nthreads)
{
    assert(dst->dtype == src->dtype &&
           (dst->dtype == ONNXC_FLOAT || dst->dtype == ONNXC_DOUBLE) &&
           oc_broadcast_to_ok(&dst->shape, &src->shape) && "oc_bcast_reduce_add: bad operands");
    int64_t n_src = oc_tensor_numel(src), n_dst = oc_tensor_numel(dst);
    /* An empty src sums to zero everywhere: nothing to add. */
    if (n_src <= 0 || n_dst <= 0) return;
    red_job job = {.dst = dst, .src = src, .alpha = alpha};
    red_layout L;
    int64_t tasks;
    if (n_dst == n_src) {
        job.mode = RED_NONE;
        tasks = n_src;
    } else {
        oc_bcast bc;
        oc_bcast_init(&bc, &src->shape, 1, (const oc_shape *[]){&dst->shape});
        memset(&L, 0, sizeof L);
        int64_t stride = 1;
        for (int d = bc.rank - 1; d >= 0; d--) {
            /* Merged src dims are contiguous; list them outer first. */
            bool kept = bc.strides[0][d] != 0;
            int64_t *dims = kept ? L.kdim : L.rdim, *strs = kept ? L.kstr : L.rstr;
            int *cnt = kept ? &L.nk : &L.nr;
            memmove(dims + 1, dims, (size_t)*cnt * sizeof *dims);
            memmove(strs + 1, strs, (size_t)*cnt * sizeof *strs);
            dims[0] = bc.dims[d];
            strs[0] = stride;
            (*cnt)++;
            stride *= bc.dims[d];
        }
        job.L = &L;
        job.len = bc.dims[bc.rank - 1];
        if (bc.inner[0]) {
            /* Kept innermost: enough column blocks to give every thread work,
             * at least 32 columns each (the split never changes a sum). */
            int64_t rows = n_dst / job.len, per = (job.len + nthreads - 1) / nthreads;
            if (rows >= nthreads) per = RED_COLS;
            per = per < 32 ? 32 : per > RED_COLS ? RED_COLS : per;
            job.mode = RED_KEPT_INNER;
            job.width = per;
            job.blocks = (job.len + per - 1) / per;
            tasks = rows * job.blocks;
        } else {
            job.mode = RED_REDUCED_INNER;
            tasks = n_dst;
        }
    }
    int parts = oc_ew_parts(n_src, nthreads);
    if (parts > tasks) parts = (int)tasks;
    OC_PAR_FOR(parts, c, {
        int64_t lo, hi;
        oc_split_range(tasks, parts, c, &lo, &hi);
        red_tasks(&job, lo, hi);
    });
}

#include "broadcast.h"

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

/*
 * runtime/broadcast.{h,c}: numpy broadcast shapes, dim merging, and the
 * segment/block iterators checked element by element against naive index
 * math (unravel the output index, dot it with oc_broadcast_strides).
 */
#include "broadcast.h"
#include "op_check.h"

static onnxc_error err;

Test(broadcast, shapes)
{
    oc_shape a = {3, {2, 3, 4}}, b = {2, {3, 1}}, s = {0, {0}}, r;
    cr_assert_eq(oc_broadcast_shape(NULL, &a, &b, &r, &err), ONNXC_OK);
    expect_shape(&(oc_tensor){.shape = r}, 3, D(2, 3, 4));
    cr_assert_eq(oc_broadcast_shape(NULL, &s, &a, &r, &err), ONNXC_OK);
    expect_shape(&(oc_tensor){.shape = r}, 3, D(2, 3, 4));
    oc_shape c = {2, {2, 1}}, d = {2, {1, 3}};
    cr_assert_eq(oc_broadcast_shape(NULL, &c, &d, &r, &err), ONNXC_OK);
    expect_shape(&(oc_tensor){.shape = r}, 2, D(2, 3));
    oc_shape e = {1, {4}}, f = {2, {2, 3}};
    expect_fail(oc_broadcast_shape(NULL, &f, &e, &r, &err), ONNXC_ERR_SHAPE, MSG("[2,3]", "[4]"),
                &err);
    /* Zero-size dims broadcast like any other size. */
    oc_shape z = {2, {0, 1}}, w = {1, {5}};
    cr_assert_eq(oc_broadcast_shape(NULL, &z, &w, &r, &err), ONNXC_OK);
    expect_shape(&(oc_tensor){.shape = r}, 2, D(0, 5));
}

/* The iterator against naive index math, for every split of the range. */
static void check_iter(const oc_shape *out, int n, const oc_shape *const *in)
{
    oc_bcast bc;
    oc_bcast_init(&bc, out, n, in);
    int64_t numel = oc_shape_numel(out);
    cr_assert_eq(bc.numel, numel);
    int64_t strides[OC_BCAST_MAX_IN][OC_MAX_RANK];
    for (int k = 0; k < n; k++) oc_broadcast_strides(in[k], out, strides[k]);
    for (int64_t lo = 0; lo <= numel; lo += 5) {
        for (int64_t hi = lo; hi <= numel; hi += 7) {
            oc_bcast_iter it;
            oc_bcast_iter_begin(&it, &bc, lo, hi);
            int64_t o, len, next = lo;
            while ((len = oc_bcast_iter_next(&it, &o)) > 0) {
                cr_assert_eq(o, next);
                for (int64_t i = 0; i < len; i++) {
                    /* Naive: unravel o+i, dot with strides. */
                    int64_t rem = o + i, idx[OC_MAX_RANK];
                    for (int d = out->rank - 1; d >= 0; d--) {
                        idx[d] = rem % out->dims[d];
                        rem /= out->dims[d];
                    }
                    for (int k = 0; k < n; k++) {
                        int64_t want = 0;
                        for (int d = 0; d < out->rank; d++) want += idx[d] * strides[k][d];
                        cr_assert_eq(it.seg[k] + i * bc.inner[k], want, "element %lld operand %d",
                                     (long long)(o + i), k);
                    }
                }
                next = o + len;
            }
            cr_assert_eq(next, hi);
            /* The block walk covers the same elements with the same offsets. */
            oc_bcast_iter_begin(&it, &bc, lo, hi);
            int64_t rows;
            next = lo;
            while ((len = oc_bcast_iter_block(&it, &o, &rows)) > 0) {
                cr_assert_eq(o, next);
                for (int64_t r = 0; r < rows; r++) {
                    oc_bcast_iter one;
                    int64_t o1;
                    oc_bcast_iter_begin(&one, &bc, o + r * len, o + (r + 1) * len);
                    cr_assert_eq(oc_bcast_iter_next(&one, &o1), len, "row %lld", (long long)r);
                    for (int k = 0; k < n; k++)
                        cr_assert_eq(it.seg[k] + r * bc.outer[k], one.seg[k]);
                }
                next = o + len * rows;
            }
            cr_assert_eq(next, hi);
        }
    }
}

Test(broadcast, iterator_matches_index_math)
{
    oc_shape out = {3, {2, 3, 4}}, a = {3, {2, 3, 4}}, b = {2, {3, 1}}, c = {0, {0}};
    check_iter(&out, 3, (const oc_shape *[]){&a, &b, &c});
    oc_shape o2 = {4, {2, 1, 3, 5}}, x = {4, {1, 1, 3, 1}}, y = {1, {5}}, z = {4, {2, 1, 1, 5}};
    check_iter(&o2, 3, (const oc_shape *[]){&x, &y, &z});
    oc_shape o3 = {2, {13, 4}}, bias = {1, {4}};
    check_iter(&o3, 2, (const oc_shape *[]){&o3, &bias});
}

Test(broadcast, merges_common_cases)
{
    oc_bcast bc;
    oc_shape nk = {2, {50, 7}}, k = {1, {7}}, s = {0, {0}}, n1 = {2, {50, 1}};
    oc_bcast_init(&bc, &nk, 2, (const oc_shape *[]){&nk, &nk});
    cr_assert_eq(bc.rank, 1); /* same shape: one flat loop */
    oc_bcast_init(&bc, &nk, 2, (const oc_shape *[]){&nk, &s});
    cr_assert_eq(bc.rank, 1);
    cr_assert_eq(bc.inner[1], 0); /* scalar repeats */
    oc_bcast_init(&bc, &nk, 2, (const oc_shape *[]){&nk, &k});
    cr_assert_eq(bc.rank, 2); /* rows of K, bias contiguous */
    cr_assert(bc.inner[0] == 1 && bc.inner[1] == 1 && bc.dims[1] == 7);
    oc_bcast_init(&bc, &nk, 2, (const oc_shape *[]){&nk, &n1});
    cr_assert(bc.rank == 2 && bc.inner[1] == 0);
}

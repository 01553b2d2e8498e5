/*
 * Criterion checks for op unit tests built with node_builder.h. Header
 * only (static inline), so the support .c files stay free of Criterion.
 *
 *     static onnxc_error err;
 *     EVAL_OK(b, IN(&x, &y), OUT(&z), &err);
 *     expect_floats(&z, (const float[]){1, 2}, 2, 1e-6f);
 *     expect_fail(nb_infer(...), ONNXC_ERR_SHAPE, MSG("node", "[2,3]"), &err);
 */
#ifndef NB_OP_CHECK_H
#define NB_OP_CHECK_H

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "node_builder.h"

/* Compound-literal shorthands: dims, input list, output list, message parts. */
#define D(...) ((const int64_t[]){__VA_ARGS__})
#define IN(...) ((const oc_tensor *const[]){__VA_ARGS__})
#define OUT(...) ((oc_tensor *const[]){__VA_ARGS__})
#define MSG(...) ((const char *const[]){__VA_ARGS__, NULL})

/* nb_eval succeeds, else the test fails with the error message. */
#define EVAL_OK(b, in, out, errp)                                                          \
    do {                                                                                   \
        onnxc_status st_ = nb_eval((b), (in), (out), (errp));                              \
        cr_assert_eq(st_, ONNXC_OK, "status %d: %s", st_, (errp)->message);                \
    } while (0)

/* The call returned `status` and err's message holds every string of the
 * NULL-terminated `parts` (the node name, the shapes...). */
static inline void expect_fail(onnxc_status got, onnxc_status status, const char *const *parts,
                               const onnxc_error *err)
{
    cr_assert_eq(got, status, "expected status %d, got %d: %s", status, got, err->message);
    for (; *parts; parts++)
        cr_assert(strstr(err->message, *parts), "message lacks '%s': %s", *parts, err->message);
}

/* float tensor of n elements, each within tol * (1 + |want|); NaN matches NaN. */
static inline void expect_floats(const oc_tensor *t, const float *want, int64_t n, float tol)
{
    cr_assert_eq(t->dtype, ONNXC_FLOAT, "dtype %s", oc_dtype_name(t->dtype));
    cr_assert_eq(oc_tensor_numel(t), n);
    const float *got = t->data;
    for (int64_t i = 0; i < n; i++) {
        float w = want[i], g = got[i];
        if (isnan(w)) {
            cr_assert(isnan(g), "[%lld]: expected NaN, got %g", (long long)i, g);
            continue;
        }
        cr_assert(fabsf(g - w) <= tol * (1.0f + fabsf(w)), "[%lld]: expected %.9g, got %.9g",
                  (long long)i, w, g);
    }
}

static inline void expect_shape(const oc_tensor *t, int rank, const int64_t *dims)
{
    char got[128], want[128];
    oc_shape s = {.rank = rank};
    for (int i = 0; i < rank; i++) s.dims[i] = dims[i];
    cr_assert(oc_shape_equal(&t->shape, &s), "shape: expected %s, got %s",
              oc_shape_str(&s, want, sizeof want), oc_shape_str(&t->shape, got, sizeof got));
}

#endif

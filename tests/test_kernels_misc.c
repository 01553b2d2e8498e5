/*
 * The small vector kernels beside the GEMM (runtime/kernels/): uint8 -> [0,1]
 * conversion, the NaN/Inf scan, Softmax's exp and the optimizer updates, on
 * every kernel family this CPU supports, against plain scalar C written here
 * from the formulas (Keras's Adam: m += (g - m)(1 - b1), v += (g^2 - v)
 * (1 - b2), w -= alpha m / (sqrt(v) + eps)) or libm's double exp.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/convert_u8.h"
#include "kernels/cpu_features.h"
#include "kernels/finite.h"
#include "kernels/optim_update.h"
#include "kernels/vexp.h"

static const char *isa_name(oc_isa i)
{
    return i == OC_ISA_AVX512 ? "avx512" : i == OC_ISA_AVX2 ? "avx2" : "portable";
}

/* Families this CPU has, best first; fills isas[], returns the count. */
static int supported_isas(int isas[3])
{
    int n = 0;
    for (int want = OC_ISA_AVX512; want >= OC_ISA_PORTABLE; want--)
        if ((int)oc_cpu_set_isa(want) == want) isas[n++] = want;
    oc_cpu_set_isa(-1);
    return n;
}

/* Run the block once per supported family, with that family forced. */
#define FOR_EACH_ISA(isa)                                                                  \
    int isa##_list[3], isa##_n = supported_isas(isa##_list);                               \
    for (int isa##_k = 0, isa = 0; isa##_k < isa##_n && (isa = isa##_list[isa##_k], 1);    \
         isa##_k++, oc_cpu_set_isa(-1))                                                    \
        if (oc_cpu_set_isa(isa) == (oc_isa)isa)

Test(kernels_misc, u8_conversion_is_an_exact_division)
{
    uint8_t src[256 + 7];
    float dst[256 + 7];
    for (int i = 0; i < 256 + 7; i++) src[i] = (uint8_t)(i * 11 % 256);
    FOR_EACH_ISA(isa) {
        /* odd offsets and lengths: vector bodies and scalar tails */
        for (int off = 0; off < 3; off++) {
            memset(dst, 0, sizeof dst);
            oc_u8_to_unit_float(src + off, dst + off, 256 + 7 - off);
            for (int i = off; i < 256 + 7; i++)
                cr_assert_eq(dst[i], (float)src[i] / 255.0f, "%s: %u / 255 gave %a", isa_name((oc_isa)isa),
                             src[i], (double)dst[i]);
        }
    }
}

Test(kernels_misc, finite_scan_finds_every_position)
{
    float x[131];
    for (int i = 0; i < 131; i++) x[i] = (float)i - 60.0f;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    FOR_EACH_ISA(isa) {
        cr_assert(oc_all_finite(x, 131), "%s: all finite", isa_name((oc_isa)isa));
        cr_assert(oc_all_finite(x, 0));
        for (int b = 0; b < 3; b++)
            for (int pos = 0; pos < 131; pos += 13) {
                float keep = x[pos];
                x[pos] = bad[b];
                cr_assert(!oc_all_finite(x, 131), "%s: %g at %d missed", isa_name((oc_isa)isa),
                          (double)bad[b], pos);
                x[pos] = keep;
            }
        x[0] = 3.4e38f; /* the largest floats are finite */
        cr_assert(oc_all_finite(x, 131));
        x[0] = -60.0f;
    }
}

/* The two shards' gradient sum and its scan in one pass: the sums are the
 * plain float sums, and a NaN, an Inf, or two finite halves whose sum
 * overflows make it false, at any position (vector body or tail). */
Test(kernels_misc, add_all_finite_sums_and_scans)
{
    enum { N = 131 };
    FOR_EACH_ISA(isa) {
        float acc[N], b[N];
        for (int i = 0; i < N; i++) acc[i] = (float)i * 0.37f - 20.0f, b[i] = 1.0f / (float)(i + 1);
        float want[N];
        for (int i = 0; i < N; i++) want[i] = acc[i] + b[i];
        cr_assert(oc_add_all_finite(acc, b, N), "%s: all finite", isa_name((oc_isa)isa));
        cr_assert(!memcmp(acc, want, sizeof acc), "%s: the sums differ from a + b", isa_name((oc_isa)isa));
        cr_assert(oc_add_all_finite(acc, b, 0));
        const float bad[][2] = {{NAN, 1.0f}, {1.0f, INFINITY}, {3.0e38f, 3.0e38f}, {-3.0e38f, -3.0e38f}};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
            for (int pos = 0; pos < N; pos += 13) {
                for (int i = 0; i < N; i++) acc[i] = 1.0f, b[i] = 2.0f;
                acc[pos] = bad[k][0], b[pos] = bad[k][1];
                cr_assert(!oc_add_all_finite(acc, b, N), "%s: %g + %g at %d missed", isa_name((oc_isa)isa),
                          (double)bad[k][0], (double)bad[k][1], pos);
                cr_assert_eq(acc[pos == 0 ? 1 : 0], 3.0f, "the other sums are still written");
            }
    }
}

Test(kernels_misc, optimizer_updates_follow_the_formulas)
{
    enum { N = 203 };
    const onnxc_optimizer_kind kinds[] = {ONNXC_OPT_SGD, ONNXC_OPT_MOMENTUM, ONNXC_OPT_NESTEROV,
                                          ONNXC_OPT_ADAM, ONNXC_OPT_ADAMW, ONNXC_OPT_RMSPROP,
                                          ONNXC_OPT_ADAGRAD};
    FOR_EACH_ISA(isa) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            oc_optim_coef c = {.kind = kinds[k], .lr = 0.01f, .alpha = 0.003f, .b1 = 0.9f,
                               .b2 = 0.999f, .eps = 1e-7f, .momentum = 0.9f, .rho = 0.9f,
                               .decay = kinds[k] == ONNXC_OPT_ADAMW ? 4e-5f : 0.0f};
            float w[N], g[N], m[N], v[N];
            double rw[N], rm[N], rv[N];
            for (int i = 0; i < N; i++) {
                w[i] = (float)sin(i * 0.37), g[i] = (float)cos(i * 0.91) * 0.5f;
                m[i] = (float)(i % 7) * 0.01f, v[i] = (float)(i % 5) * 0.002f;
                rw[i] = w[i], rm[i] = m[i], rv[i] = v[i];
            }
            oc_optim_update(&c, w, g, m, v, N);
            for (int i = 0; i < N; i++) {
                const double gi = g[i];
                switch (kinds[k]) {
                case ONNXC_OPT_SGD: rw[i] -= c.lr * gi; break;
                case ONNXC_OPT_MOMENTUM: rm[i] = c.momentum * rm[i] - c.lr * gi; rw[i] += rm[i]; break;
                case ONNXC_OPT_NESTEROV:
                    rm[i] = c.momentum * rm[i] - c.lr * gi;
                    rw[i] += c.momentum * rm[i] - c.lr * gi;
                    break;
                case ONNXC_OPT_ADAM: case ONNXC_OPT_ADAMW:
                    rw[i] -= c.decay * rw[i];
                    rm[i] += (gi - rm[i]) * (1.0 - c.b1);
                    rv[i] += (gi * gi - rv[i]) * (1.0 - c.b2);
                    rw[i] -= c.alpha * rm[i] / (sqrt(rv[i]) + c.eps);
                    break;
                case ONNXC_OPT_RMSPROP:
                    rm[i] = c.rho * rm[i] + (1.0 - c.rho) * gi * gi;
                    rw[i] -= c.lr * gi / sqrt(rm[i] + c.eps);
                    break;
                case ONNXC_OPT_ADAGRAD:
                    rm[i] += gi * gi;
                    rw[i] -= c.lr * gi / sqrt(rm[i] + c.eps);
                    break;
                }
                cr_assert(fabs(w[i] - rw[i]) <= 1e-6 * (1.0 + fabs(rw[i])),
                          "%s kind %d: w[%d] = %.9g, formula %.9g", isa_name((oc_isa)isa), (int)kinds[k], i,
                          (double)w[i], rw[i]);
                if (kinds[k] != ONNXC_OPT_SGD)
                    cr_assert(fabs(m[i] - rm[i]) <= 1e-6 * (1.0 + fabs(rm[i])), "%s kind %d: m[%d]",
                              isa_name((oc_isa)isa), (int)kinds[k], i);
            }
        }
    }
}

/* The block forms of the update (a thread's columns of a weight, its own
 * state: train/column_split.h) are the contiguous update on each row, bit
 * for bit: rows of 32 floats in a 64-wide weight (several rows a chunk), of
 * 300 and 700 (longer than a chunk), and contiguous rows; with Adam (two
 * slots), momentum (one) and SGD (none). The 2-D finite scan finds a NaN in
 * any row and ignores what lies between the rows. */
Test(kernels_misc, block_updates_are_the_row_updates)
{
    static const struct { int rows, len, ldw; } shapes[] = {{37, 32, 64}, {5, 300, 617}, {3, 700, 700}, {9, 48, 48}};
    static const onnxc_optimizer_kind kinds[] = {ONNXC_OPT_ADAM, ONNXC_OPT_MOMENTUM, ONNXC_OPT_SGD};
    FOR_EACH_ISA(isa) {
        for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++)
            for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
                const int rows = shapes[sh].rows, len = shapes[sh].len, ldw = shapes[sh].ldw, n = rows * len;
                const oc_optim_coef c = {.kind = kinds[k], .lr = 0.01f, .alpha = 0.003f, .b1 = 0.9f, .b2 = 0.999f,
                                         .eps = 1e-7f, .momentum = 0.9f};
                float *w[2], *g = malloc(sizeof(float) * (size_t)n), *m[2], *v[2];
                for (int a = 0; a < 2; a++) {
                    w[a] = malloc(sizeof(float) * (size_t)(rows * ldw));
                    m[a] = malloc(sizeof(float) * (size_t)n), v[a] = malloc(sizeof(float) * (size_t)n);
                    for (int i = 0; i < rows * ldw; i++) w[a][i] = (float)sin(i * 0.37);
                    for (int i = 0; i < n; i++) m[a][i] = (float)(i % 7) * 0.01f, v[a][i] = (float)(i % 5) * 0.002f;
                }
                for (int i = 0; i < n; i++) g[i] = (float)cos(i * 0.91) * 0.5f;
                const bool slot1 = kinds[k] != ONNXC_OPT_SGD, slot2 = kinds[k] == ONNXC_OPT_ADAM;
                oc_optim_update_rows_streamed(&c, rows, len, w[0], ldw, g, slot1 ? m[0] : NULL, slot2 ? v[0] : NULL);
                for (int r = 0; r < rows; r++)
                    oc_optim_update(&c, w[1] + r * ldw, g + r * len, slot1 ? m[1] + r * len : NULL,
                                    slot2 ? v[1] + r * len : NULL, len);
                cr_assert(!memcmp(w[0], w[1], sizeof(float) * (size_t)(rows * ldw)) &&
                              !memcmp(m[0], m[1], sizeof(float) * (size_t)n) &&
                              !memcmp(v[0], v[1], sizeof(float) * (size_t)n),
                          "%s, kind %d, %d rows of %d in %d: the streamed block update differs from the rows'",
                          isa_name((oc_isa)isa), (int)kinds[k], rows, len, ldw);
                cr_assert(oc_all_finite_2d(w[0], rows, len, ldw));
                if (ldw > len) {
                    w[0][len] = NAN; /* between row 0 and row 1: not part of the block */
                    cr_assert(oc_all_finite_2d(w[0], rows, len, ldw));
                }
                w[0][(rows - 1) * ldw + len - 1] = INFINITY;
                cr_assert(!oc_all_finite_2d(w[0], rows, len, ldw), "%s: the last element's Inf missed",
                          isa_name((oc_isa)isa));
                for (int a = 0; a < 2; a++) free(w[a]), free(m[a]), free(v[a]);
                free(g);
            }
    }
}

/* Softmax's exp against libm's double exp rounded to float: within 2 ulp on
 * a fine sweep of (-87.33, 0], with a shift, in place and not; 0 below the
 * normal range and for -inf; NaN stays NaN; exp(0) is exactly 1. */
Test(kernels_misc, softmax_exp_within_two_ulp)
{
    enum { N = 200003 };
    static float x[N], y[N];
    FOR_EACH_ISA(isa)
    {
        for (int i = 0; i < N; i++) x[i] = 3.0f - 90.33f * (float)i / (float)(N - 1); /* x - 3 in [-90.33, 0] */
        oc_exp_shifted(y, x, 3.0f, N);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            const float d = x[i] - 3.0f;
            if (d < -87.34f) {
                cr_assert_eq(y[i], 0.0f, "%s: exp(%g) = %g, want 0 below the normal range", isa_name(isa), d, y[i]);
                continue;
            }
            if (d < -87.33f) continue; /* the edge: either is fine */
            const float want = (float)exp((double)d);
            const double ulp = (double)nextafterf(want, INFINITY) - (double)want;
            const double err = fabs((double)y[i] - (double)want) / ulp;
            if (err > worst) worst = err;
            cr_assert(err <= 2.0, "%s: exp(%.9g) = %.9g, want %.9g (%.2f ulp)", isa_name(isa), d, y[i], want, err);
        }
        cr_log_info("%s: softmax exp worst %.3f ulp", isa_name(isa), worst);
        float special[5] = {0.0f, NAN, -INFINITY, -1000.0f, -1.0f}, out[5];
        oc_exp_shifted(out, special, 0.0f, 5);
        cr_expect_eq(out[0], 1.0f, "%s: exp(0) = %.9g", isa_name(isa), out[0]);
        cr_expect(isnan(out[1]), "%s: exp(NaN) = %g", isa_name(isa), out[1]);
        cr_expect_eq(out[2], 0.0f, "%s: exp(-inf) = %g", isa_name(isa), out[2]);
        cr_expect_eq(out[3], 0.0f, "%s: exp(-1000) = %g", isa_name(isa), out[3]);
        oc_exp_shifted(special, special, 0.0f, 5); /* in place: the same values */
        cr_expect(!memcmp(special, out, sizeof out) || (isnan(special[1]) && special[0] == out[0] &&
                                                        special[2] == out[2] && special[3] == out[3] &&
                                                        special[4] == out[4]),
                  "%s: in place differs", isa_name(isa));
    }
}

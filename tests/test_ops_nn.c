/*
 * Neural-network ops (runtime/ops/{matmul,gemm,softmax,batchnorm,dropout,
 * reduce,loss}.c), the reference GEMM (runtime/gemm_ref.c) and MT19937
 * (runtime/rng.c), driven node by node through tests/support/node_builder.
 *
 * Expected values are hand-computed, or computed in python with numpy 1.x /
 * torch 1.13 (the snippet is in the comment next to each literal). The
 * blocked GEMM is compared with its naive triple loop.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "gemm_ref.h"
#include "node_builder.h"
#include "rng.h"

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define IN(...) ((const oc_tensor *const[]){__VA_ARGS__})
#define OUT(...) ((oc_tensor *const[]){__VA_ARGS__})

static onnxc_error err;

#define EVAL_OK(b, in, out)                                                                \
    do {                                                                                   \
        onnxc_status st_ = nb_eval((b), (in), (out), &err);                                \
        cr_assert_eq(st_, ONNXC_OK, "status %d: %s", st_, err.message);                    \
    } while (0)

/* The call failed with `status` and a message holding every string in
 * `parts` (NULL-terminated). */
static void expect_fail(onnxc_status got, onnxc_status status, const char *const *parts)
{
    cr_assert_eq(got, status, "expected status %d, got %d: %s", status, got, err.message);
    for (; *parts; parts++)
        cr_assert(strstr(err.message, *parts), "message lacks '%s': %s", *parts, err.message);
}
#define MSG(...) ((const char *const[]){__VA_ARGS__, NULL})

/* |got - want| <= tol * (1 + |want|) elementwise. */
static void expect_floats(const oc_tensor *t, const float *want, int64_t n, float tol)
{
    cr_assert_eq(t->dtype, ONNXC_FLOAT, "dtype %d", t->dtype);
    cr_assert_eq(oc_tensor_numel(t), n, "numel %lld, expected %lld",
                 (long long)oc_tensor_numel(t), (long long)n);
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

static void expect_shape(const oc_tensor *t, int rank, const int64_t *dims)
{
    char got[128], want[128];
    oc_shape s = {.rank = rank};
    for (int i = 0; i < rank; i++) s.dims[i] = dims[i];
    cr_assert(oc_shape_equal(&t->shape, &s), "shape: expected %s, got %s",
              oc_shape_str(&s, want, sizeof want), oc_shape_str(&t->shape, got, sizeof got));
}

/* Deterministic values in [-1, 1) (an LCG), so failures reproduce. */
static void fill_random(float *x, int64_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffffff) / 8388608.0f - 1.0f;
    }
}

/* ----------------------------------------------------------------------- */
/* Reference GEMM                                                           */

/* Blocked vs naive for one shape; C starts as random data (beta != 0) or
 * NaN (beta == 0 must ignore it). Leading dims are padded by 3 to catch
 * code that assumes packed matrices. */
static void check_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, float beta)
{
    const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 3, ldc = N + 3;
    const int64_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
    float *A = malloc(sizeof(float) * (size_t)(na + 1));
    float *B = malloc(sizeof(float) * (size_t)(nb + 1));
    float *C0 = malloc(sizeof(float) * (size_t)(nc + 1));
    float *C1 = malloc(sizeof(float) * (size_t)(nc + 1));
    float *C2 = malloc(sizeof(float) * (size_t)(nc + 1));
    cr_assert(A && B && C0 && C1 && C2);
    fill_random(A, na, (uint32_t)(M * 7 + K));
    fill_random(B, nb, (uint32_t)(N * 13 + K));
    fill_random(C0, nc, 99);
    if (beta == 0.0f)
        for (int64_t i = 0; i < nc; i++) C0[i] = NAN;
    memcpy(C1, C0, sizeof(float) * (size_t)nc);
    memcpy(C2, C0, sizeof(float) * (size_t)nc);
    oc_sgemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc);
    oc_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc, 1);
    oc_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc, 2);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            const float want = C0[i * ldc + j], got = C1[i * ldc + j];
            /* Sums of K products of values in [-1, 1): rounding error grows ~ K eps. */
            cr_assert(fabsf(got - want) <= 1e-5f * (float)(K + 1) * (1.0f + fabsf(alpha)),
                      "ta=%d tb=%d M=%lld N=%lld K=%lld: C[%lld][%lld] = %.9g, naive %.9g", ta, tb,
                      (long long)M, (long long)N, (long long)K, (long long)i, (long long)j, got,
                      want);
        }
    /* Bit-identical across thread counts (padding included: never written). */
    cr_assert(memcmp(C1, C2, sizeof(float) * (size_t)nc) == 0,
              "ta=%d tb=%d M=%lld N=%lld K=%lld: 1 and 2 threads differ", ta, tb, (long long)M,
              (long long)N, (long long)K);
    free(A);
    free(B);
    free(C0);
    free(C1);
    free(C2);
}

Test(gemm_ref, odd_sizes_all_transposes)
{
    static const int64_t sizes[][3] = {
        {1, 1, 1}, {17, 33, 65}, {3, 1, 5}, {1, 7, 2}, {5, 300, 3}, {4, 4, 4}, {6, 9, 0},
        {67, 129, 131}, /* big enough for 2 threads, M % 4 != 0, N > one 256-column block */
        {9, 515, 70},   /* several column and depth blocks */
    };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                check_gemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, 0.0f);
}

Test(gemm_ref, alpha_beta)
{
    check_gemm(0, 0, 17, 33, 65, 0.5f, 2.0f);
    check_gemm(1, 1, 17, 33, 65, -1.5f, 1.0f);
    check_gemm(0, 1, 67, 129, 131, 2.0f, -0.25f);
    check_gemm(1, 0, 5, 6, 7, 0.0f, 1.0f);
    check_gemm(0, 0, 6, 9, 0, 3.0f, 0.5f); /* K = 0: C = beta * C */
}

Test(gemm_ref, double_matches_hand_values)
{
    /* [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]; alpha 2, beta 1 on C = 1. */
    double A[] = {1, 2, 3, 4}, B[] = {5, 6, 7, 8}, C[] = {1, 1, 1, 1};
    oc_dgemm(0, 0, 2, 2, 2, 2.0, A, 2, B, 2, 1.0, C, 2, 2);
    cr_assert(C[0] == 39 && C[1] == 45 && C[2] == 87 && C[3] == 101, "%g %g %g %g", C[0], C[1],
              C[2], C[3]);
    /* A^T B^T = (BA)^T: [[5,6],[7,8]]x[[1,2],[3,4]] = [[23,34],[31,46]], transposed. */
    double D2[4] = {NAN, NAN, NAN, NAN};
    oc_dgemm(1, 1, 2, 2, 2, 1.0, A, 2, B, 2, 0.0, D2, 2, 1);
    cr_assert(D2[0] == 23 && D2[1] == 31 && D2[2] == 34 && D2[3] == 46, "%g %g %g %g", D2[0],
              D2[1], D2[2], D2[3]);
}

/* ----------------------------------------------------------------------- */
/* MT19937                                                                  */

Test(rng, mt19937_matches_numpy)
{
    oc_mt19937 mt;
    /* python: np.random.RandomState(0).randint(0, 2**32, size=3, dtype=np.uint64)
     * -> [2357136044, 2546248239, 3071714933] (the raw 32-bit outputs). */
    oc_mt_seed(&mt, 0);
    cr_assert_eq(oc_mt_next32(&mt), 2357136044u);
    cr_assert_eq(oc_mt_next32(&mt), 2546248239u);
    cr_assert_eq(oc_mt_next32(&mt), 3071714933u);
    /* The reference implementation's check value: seed 5489, first output. */
    oc_mt_seed(&mt, 5489);
    cr_assert_eq(oc_mt_next32(&mt), 3499211612u);

    /* python: np.random.seed(s); u = np.random.uniform(0, 1, 1000);
     * [repr(float(u[i])) for i in [0, 1, 2, 311, 312, 313, 999]]
     * (312 crosses the first regeneration of the 624-word state). */
    static const struct {
        uint32_t seed;
        double u[7];
    } cases[] = {
        {0, {0.5488135039273248, 0.7151893663724195, 0.6027633760716439, 0.14694664540037505,
             0.07952208258675575, 0.08960303423860538, 0.6771411441114241}},
        {42, {0.3745401188473625, 0.9507143064099162, 0.7319939418114051, 0.07845638134226596,
              0.02535074341545751, 0.9626484146779251, 0.44600577295795574}},
        {4294967295u, {0.0976320289940138, 0.9123828453026218, 0.78903530185164,
                       0.2845819535787153, 0.89887815082878, 0.220919050074051,
                       0.556626859384112}},
    };
    static const int at[] = {0, 1, 2, 311, 312, 313, 999};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        oc_mt_seed(&mt, cases[c].seed);
        int k = 0;
        for (int i = 0; i < 1000; i++) {
            double u = oc_mt_next_double(&mt);
            if (k < 7 && i == at[k]) {
                cr_assert(u == cases[c].u[k], "seed %u, draw %d: got %.17g, numpy %.17g",
                          cases[c].seed, i, u, cases[c].u[k]);
                k++;
            }
        }
    }
}

Test(rng, splitmix_advances)
{
    uint64_t s = 0;
    uint64_t a = oc_rng_next(&s), b = oc_rng_next(&s);
    /* splitmix64 from state 0: published first outputs. */
    cr_assert_eq(a, 0xe220a8397b1dcdafull);
    cr_assert_eq(b, 0x6e789e6aa1b965f4ull);
}

/* ----------------------------------------------------------------------- */
/* MatMul                                                                   */

Test(matmul, batch_broadcast)
{
    /* python: A = np.arange(12, dtype=np.float32).reshape(2,1,2,3);
     * B = (np.arange(18, dtype=np.float32) - 5).reshape(3,3,2); np.matmul(A, B) */
    float a[12], b[18];
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    for (int i = 0; i < 18; i++) b[i] = (float)(i - 5);
    static const float want[] = {-5, -2,  -32, -20, 13,  16,  40,  52,  31,  34,  112, 124,
                                 -59, -38, -86, -56, 67, 88, 94, 124, 193, 214, 274, 304};
    for (int threads = 1; threads <= 2; threads++) {
        nb_node *nb = nb_new("MatMul", "", 13, 2, 1);
        nb->nthreads = threads;
        oc_tensor A = nb_tensor(ONNXC_FLOAT, 4, D(2, 1, 2, 3), a);
        oc_tensor B = nb_tensor(ONNXC_FLOAT, 3, D(3, 3, 2), b), Y;
        EVAL_OK(nb, IN(&A, &B), OUT(&Y));
        expect_shape(&Y, 4, D(2, 3, 2, 2));
        expect_floats(&Y, want, 24, 0);
        nb_free(nb);
    }
}

Test(matmul, one_d_operands)
{
    float a[] = {1, 2, 3}, bv[] = {1, -2, 3}, m[24];
    for (int i = 0; i < 24; i++) m[i] = (float)(i - 7);
    oc_tensor Y;
    /* python: np.matmul(np.array([1,2,3.]), (np.arange(24.) - 7).reshape(2,3,4)) */
    nb_node *nb = nb_new("MatMul", "", 9, 2, 1);
    oc_tensor A = nb_tensor(ONNXC_FLOAT, 1, D(3), a), B = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 4), m);
    EVAL_OK(nb, IN(&A, &B), OUT(&Y));
    expect_shape(&Y, 2, D(2, 4));
    expect_floats(&Y, (const float[]){-10, -4, 2, 8, 62, 68, 74, 80}, 8, 0);
    nb_free(nb);
    /* python: np.matmul((np.arange(24.) - 7).reshape(2,4,3), np.array([1,-2,3.])) */
    nb = nb_new("MatMul", "", 13, 2, 1);
    A = nb_tensor(ONNXC_FLOAT, 3, D(2, 4, 3), m);
    B = nb_tensor(ONNXC_FLOAT, 1, D(3), bv);
    EVAL_OK(nb, IN(&A, &B), OUT(&Y));
    expect_shape(&Y, 2, D(2, 4));
    expect_floats(&Y, (const float[]){-10, -4, 2, 8, 14, 20, 26, 32}, 8, 0);
    nb_free(nb);
    /* [3] x [3]: a scalar, 1 - 4 + 9 = 6. */
    nb = nb_new("MatMul", "", 13, 2, 1);
    A = nb_tensor(ONNXC_FLOAT, 1, D(3), a);
    EVAL_OK(nb, IN(&A, &B), OUT(&Y));
    expect_shape(&Y, 0, D(0));
    expect_floats(&Y, (const float[]){6}, 1, 0);
    nb_free(nb);
}

Test(matmul, int64_wraps_like_numpy)
{
    /* python: np.matmul(np.array([[2**40,3],[5,-7]]), np.array([[4,1],[2**23,9]])) */
    int64_t a[] = {(int64_t)1 << 40, 3, 5, -7}, b[] = {4, 1, (int64_t)1 << 23, 9};
    nb_node *nb = nb_new("MatMul", "", 13, 2, 1);
    oc_tensor A = nb_tensor(ONNXC_INT64, 2, D(2, 2), a), B = nb_tensor(ONNXC_INT64, 2, D(2, 2), b);
    oc_tensor Y;
    EVAL_OK(nb, IN(&A, &B), OUT(&Y));
    const int64_t *y = Y.data;
    cr_assert(y[0] == 4398071676928LL && y[1] == 1099511627803LL && y[2] == -58720236 &&
                  y[3] == -58,
              "%lld %lld %lld %lld", (long long)y[0], (long long)y[1], (long long)y[2],
              (long long)y[3]);
    nb_free(nb);
    /* MatMul-1 is float-only. */
    nb = nb_new("MatMul", "", 8, 2, 1);
    expect_fail(nb_eval(nb, IN(&A, &B), OUT(&Y), &err), ONNXC_ERR_UNSUPPORTED,
                MSG("MatMul", "int64"));
    nb_free(nb);
}

Test(matmul, shape_errors_name_the_shapes)
{
    float x[30] = {0};
    nb_node *nb = nb_new("MatMul", "", 13, 2, 1);
    oc_tensor A = nb_tensor(ONNXC_FLOAT, 2, D(3, 4), x), B = nb_tensor(ONNXC_FLOAT, 2, D(5, 6), x);
    oc_tensor Y;
    expect_fail(nb_infer(nb, IN(&A, &B), OUT(&Y), &(size_t){0}, &err), ONNXC_ERR_SHAPE,
                MSG("test_MatMul", "inner dims differ: A is [3,4], B is [5,6]"));
    A = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 4), x);
    B = nb_tensor(ONNXC_FLOAT, 3, D(3, 4, 5), x);
    expect_fail(nb_infer(nb, IN(&A, &B), OUT(&Y), &(size_t){0}, &err), ONNXC_ERR_SHAPE,
                MSG("batch dims do not broadcast", "[2,3,4]", "[3,4,5]"));
    B = nb_tensor(ONNXC_DOUBLE, 2, D(4, 5), x);
    expect_fail(nb_infer(nb, IN(&A, &B), OUT(&Y), &(size_t){0}, &err), ONNXC_ERR_SHAPE,
                MSG("expected dtype float", "got double"));
    nb_free(nb);
}

/* ----------------------------------------------------------------------- */
/* Gemm                                                                     */

Test(gemm, bias_broadcasts)
{
    /* A [2,3] = [[1,2,3],[4,5,6]], B [3,2] = [[1,0],[0,1],[1,1]] -> AB = [[4,5],[10,11]] */
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 0, 0, 1, 1, 1};
    float row[] = {10, 20}, col[] = {100, 200}, sc[] = {7};
    struct {
        int rank;
        int64_t dims[2];
        float *data;
        float want[4];
    } cases[] = {
        {1, {2}, row, {4 + 5, 5 + 10, 10 + 5, 11 + 10}},       /* [N]: 0.5 * row */
        {2, {2, 1}, col, {4 + 50, 5 + 50, 10 + 100, 11 + 100}}, /* [M,1] */
        {0, {0}, sc, {4 + 3.5f, 5 + 3.5f, 10 + 3.5f, 11 + 3.5f}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nb_node *nb = nb_new("Gemm", "", 13, 3, 1);
        nb_attr_float(nb, "beta", 0.5f);
        oc_tensor A = nb_tensor(ONNXC_FLOAT, 2, D(2, 3), a), B = nb_tensor(ONNXC_FLOAT, 2, D(3, 2), b);
        oc_tensor C = nb_tensor(ONNXC_FLOAT, cases[c].rank, cases[c].dims, cases[c].data), Y;
        EVAL_OK(nb, IN(&A, &B, &C), OUT(&Y));
        expect_shape(&Y, 2, D(2, 2));
        expect_floats(&Y, cases[c].want, 4, 0);
        nb_free(nb);
    }
}

Test(gemm, transposes_alpha_and_no_bias)
{
    /* A^T with A [3,2] = [[1,4],[2,5],[3,6]]; B^T with B [2,3] = [[1,0,1],[0,1,1]];
     * alpha 2: 2 * [[4,5],[10,11]]. */
    float a[] = {1, 4, 2, 5, 3, 6}, b[] = {1, 0, 1, 0, 1, 1};
    nb_node *nb = nb_new("Gemm", "", 11, 2, 1);
    nb_attr_int(nb, "transA", 1);
    nb_attr_int(nb, "transB", 1);
    nb_attr_float(nb, "alpha", 2.0f);
    oc_tensor A = nb_tensor(ONNXC_FLOAT, 2, D(3, 2), a), B = nb_tensor(ONNXC_FLOAT, 2, D(2, 3), b), Y;
    EVAL_OK(nb, IN(&A, &B), OUT(&Y));
    expect_floats(&Y, (const float[]){8, 10, 20, 22}, 4, 0);
    nb_free(nb);
    /* Before 11, C is required. */
    nb = nb_new("Gemm", "", 9, 2, 1);
    expect_fail(nb_init(nb, &err), ONNXC_ERR_MODEL, MSG("'C' is required before opset 11"));
    nb_free(nb);
}

Test(gemm, shape_errors)
{
    float x[12] = {0};
    nb_node *nb = nb_new("Gemm", "", 13, 3, 1);
    oc_tensor A = nb_tensor(ONNXC_FLOAT, 2, D(2, 3), x), B = nb_tensor(ONNXC_FLOAT, 2, D(4, 2), x);
    oc_tensor C = nb_tensor(ONNXC_FLOAT, 1, D(2), x), Y;
    expect_fail(nb_infer(nb, IN(&A, &B, &C), OUT(&Y), &(size_t){0}, &err), ONNXC_ERR_SHAPE,
                MSG("inner dims differ", "[2,3]", "[4,2]"));
    B = nb_tensor(ONNXC_FLOAT, 2, D(3, 2), x);
    C = nb_tensor(ONNXC_FLOAT, 1, D(3), x);
    expect_fail(nb_infer(nb, IN(&A, &B, &C), OUT(&Y), &(size_t){0}, &err), ONNXC_ERR_SHAPE,
                MSG("(C) has shape [3]", "[2,2]"));
    nb_free(nb);
}

/* ----------------------------------------------------------------------- */
/* Softmax / LogSoftmax                                                     */

/* python: x = np.arange(24, dtype=np.float32).reshape(2,3,4) * 0.25 - 2.0;
 * x[0,1,2] = 3.0; x[1,2,0] = -5.0 */
static float sm_x[24] = {-2,  -1.75f, -1.5f, -1.25f, -1,   -0.75f, 3,     -0.25f,
                         0,   0.25f,  0.5f,  0.75f,  1,    1.25f,  1.5f,  1.75f,
                         2,   2.25f,  2.5f,  2.75f,  -5,   3.25f,  3.5f,  3.75f};

Test(softmax, coerced_2d_before_13)
{
    /* python (float64, then printed as float): sm(x.reshape(2,12), 1).reshape(2,3,4)
     * with sm(a, ax) = e / e.sum(ax), e = exp(a - a.max(ax)) */
    static const float want[] = {
        0.00473646204f, 0.00608173765f, 0.00780910572f, 0.0100270902f, 0.0128750387f,
        0.0165318769f,  0.702953295f,   0.0272564571f,  0.0349979837f, 0.0449383007f,
        0.0577019202f,  0.0740907322f,  0.0167196111f,  0.0214684056f, 0.0275659784f,
        0.0353954169f,  0.045448615f,   0.0583571768f,  0.0749320982f, 0.0962147187f,
        4.14437724e-05f, 0.158631253f,  0.203686561f,   0.261538721f};
    /* Default axis is 1 before 13: the same result with and without the attribute. */
    for (int with_attr = 0; with_attr < 2; with_attr++) {
        nb_node *nb = nb_new("Softmax", "", 11, 1, 1);
        if (with_attr) nb_attr_int(nb, "axis", -2);
        oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 4), sm_x), Y;
        EVAL_OK(nb, IN(&X), OUT(&Y));
        expect_floats(&Y, want, 24, 1e-6f);
        nb_free(nb);
    }
    /* python: log of the above, as (a - max) - log(sum(exp(a - max))) over the 12. */
    static const float want_log[] = {
        -5.35246483f, -5.10246483f, -4.85246483f, -4.60246483f, -4.35246483f, -4.10246483f,
        -0.352464826f, -3.60246483f, -3.35246483f, -3.10246483f, -2.85246483f, -2.60246483f,
        -4.09117293f, -3.84117293f, -3.59117293f, -3.34117293f, -3.09117293f, -2.84117293f,
        -2.59117293f, -2.34117293f, -10.0911729f, -1.84117293f, -1.59117293f, -1.34117293f};
    nb_node *nb = nb_new("LogSoftmax", "", 7, 1, 1);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 4), sm_x), Y;
    EVAL_OK(nb, IN(&X), OUT(&Y));
    expect_floats(&Y, want_log, 24, 1e-6f);
    nb_free(nb);
}

Test(softmax, single_axis_from_13)
{
    /* python: sm(x, 1) (float64, printed as float) */
    static const float want[] = {
        0.0900305732f, 0.0900305732f, 0.0101619626f, 0.0900305732f, 0.244728471f,
        0.244728471f,  0.914750725f,  0.244728471f,  0.665240956f,  0.665240956f,
        0.075087312f,  0.665240956f,  0.268762254f,  0.0900305732f, 0.0900305732f,
        0.0900305732f, 0.730571551f,  0.244728471f,  0.244728471f,  0.244728471f,
        0.000666195022f, 0.665240956f, 0.665240956f, 0.665240956f};
    for (int threads = 1; threads <= 2; threads++) {
        nb_node *nb = nb_new("Softmax", "", 13, 1, 1);
        nb->nthreads = threads;
        nb_attr_int(nb, "axis", 1);
        oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 4), sm_x), Y;
        EVAL_OK(nb, IN(&X), OUT(&Y));
        expect_floats(&Y, want, 24, 1e-6f);
        nb_free(nb);
    }
}

Test(softmax, large_values_and_bad_axis)
{
    /* Inputs near FLT_MAX: subtracting the max keeps exp() finite. softmax of
     * [1e38, 1e38 - 2^103 ...] is [0.5, 0.5] when the values are equal. */
    float x[] = {3e38f, 3e38f, -3e38f, 0};
    nb_node *nb = nb_new("Softmax", "", 13, 1, 1);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 2, D(2, 2), x), Y;
    EVAL_OK(nb, IN(&X), OUT(&Y));
    expect_floats(&Y, (const float[]){0.5f, 0.5f, 0, 1}, 4, 0);
    nb_free(nb);
    /* An axis of 2^32 must not wrap to 0 through an int conversion. */
    nb = nb_new("Softmax", "", 13, 1, 1);
    nb_attr_int(nb, "axis", (int64_t)1 << 32);
    expect_fail(nb_eval(nb, IN(&X), OUT(&Y), &err), ONNXC_ERR_MODEL,
                MSG("test_Softmax", "4294967296 out of range"));
    nb_free(nb);
}

/* ----------------------------------------------------------------------- */
/* BatchNormalization                                                       */

/* python: x = np.array([1,2,3,4,5,6,-1,0,2,3,3,7], np.float32).reshape(2,2,3);
 * s = [1.5, 0.5]; b = [0.1, -0.2]; mean = [0.5, 1.0]; var = [2.0, 0.25];
 * eps = 0.01; momentum = 0.5 */
static float bn_x[] = {1, 2, 3, 4, 5, 6, -1, 0, 2, 3, 3, 7};
static float bn_s[] = {1.5f, 0.5f}, bn_b[] = {0.1f, -0.2f}, bn_m[] = {0.5f, 1.0f},
             bn_v[] = {2.0f, 0.25f};

Test(batchnorm, inference)
{
    /* python: (x - mean) / np.sqrt(var + eps) * s + b, per channel (axis 1) */
    static const float want[] = {0.629009247f, 1.68702769f, 2.74504614f, 2.74174213f,
                                 3.7223227f,   4.70290375f, -1.48702765f, -0.429009229f,
                                 1.68702769f,  1.76116133f, 1.76116133f,  5.68348455f};
    static const int opsets[] = {7, 9, 15};
    for (size_t o = 0; o < 3; o++) {
        nb_node *nb = nb_new("BatchNormalization", "", opsets[o], 5, 1);
        nb_attr_float(nb, "epsilon", 0.01f);
        oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(2, 2, 3), bn_x);
        oc_tensor S = nb_tensor(ONNXC_FLOAT, 1, D(2), bn_s), B = nb_tensor(ONNXC_FLOAT, 1, D(2), bn_b);
        oc_tensor M = nb_tensor(ONNXC_FLOAT, 1, D(2), bn_m), V = nb_tensor(ONNXC_FLOAT, 1, D(2), bn_v);
        oc_tensor Y;
        EVAL_OK(nb, IN(&X, &S, &B, &M, &V), OUT(&Y));
        expect_floats(&Y, want, 12, 1e-6f);
        nb_free(nb);
    }
}

Test(batchnorm, training_mode)
{
    /* python: ax = (0, 2); sm = x.mean(ax); sv = x.var(ax);
     * y = (x - sm) / sqrt(sv + eps) * s + b; rm = mean * 0.5 + sm * 0.5; rv likewise */
    static const float want_y[] = {-0.0855389759f, 1.02769518f, 2.14092922f, -0.423105329f,
                                   -0.0884472579f, 0.246210799f, -2.31200719f, -1.19877303f,
                                   1.02769518f,    -0.757763386f, -0.757763386f, 0.5808689f};
    nb_node *nb = nb_new("BatchNormalization", "", 15, 5, 3);
    nb_attr_float(nb, "epsilon", 0.01f);
    nb_attr_float(nb, "momentum", 0.5f);
    nb_attr_int(nb, "training_mode", 1);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(2, 2, 3), bn_x);
    oc_tensor S = nb_tensor(ONNXC_FLOAT, 1, D(2), bn_s), B = nb_tensor(ONNXC_FLOAT, 1, D(2), bn_b);
    oc_tensor M = nb_tensor(ONNXC_FLOAT, 1, D(2), bn_m), V = nb_tensor(ONNXC_FLOAT, 1, D(2), bn_v);
    oc_tensor Y, RM, RV;
    EVAL_OK(nb, IN(&X, &S, &B, &M, &V), OUT(&Y, &RM, &RV));
    expect_floats(&Y, want_y, 12, 1e-6f);
    expect_floats(&RM, (const float[]){0.833333313f, 2.83333325f}, 2, 1e-6f);
    expect_floats(&RV, (const float[]){1.90277767f, 1.23611116f}, 2, 1e-6f);
    nb_free(nb);
    /* Running-statistics outputs without training_mode are invalid. */
    nb = nb_new("BatchNormalization", "", 15, 5, 3);
    expect_fail(nb_init(nb, &err), ONNXC_ERR_MODEL, MSG("training_mode = 0"));
    nb_free(nb);
    /* Legacy training outputs before 14 are refused. */
    nb = nb_new("BatchNormalization", "", 9, 5, 2);
    expect_fail(nb_init(nb, &err), ONNXC_ERR_UNSUPPORTED, MSG("BatchNormalization-9"));
    nb_free(nb);
}

Test(batchnorm, spatial_0_per_activation)
{
    /* spatial = 0 (opset 7): statistics per (channel, position), shape [C, D];
     * with var = 1 - eps... use eps = 0 and var = 1: y = (x - mean) * s + b. */
    float x[] = {1, 2, 3, 4}, s[] = {1, 2}, b[] = {0, 1}, m[] = {1, 1}, v[] = {1, 1};
    nb_node *nb = nb_new("BatchNormalization", "", 7, 5, 1);
    nb_attr_int(nb, "spatial", 0);
    nb_attr_float(nb, "epsilon", 0.0f);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(2, 1, 2), x);
    oc_tensor S = nb_tensor(ONNXC_FLOAT, 2, D(1, 2), s), B = nb_tensor(ONNXC_FLOAT, 2, D(1, 2), b);
    oc_tensor M = nb_tensor(ONNXC_FLOAT, 2, D(1, 2), m), V = nb_tensor(ONNXC_FLOAT, 2, D(1, 2), v);
    oc_tensor Y;
    EVAL_OK(nb, IN(&X, &S, &B, &M, &V), OUT(&Y));
    expect_floats(&Y, (const float[]){0, 3, 2, 7}, 4, 0);
    nb_free(nb);
}

/* ----------------------------------------------------------------------- */
/* Dropout                                                                  */

Test(dropout, inference_is_identity)
{
    float x[] = {1, -2, 3, NAN};
    nb_node *nb = nb_new("Dropout", "", 12, 1, 2);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 1, D(4), x), Y, Mk;
    EVAL_OK(nb, IN(&X), OUT(&Y, &Mk));
    expect_floats(&Y, x, 4, 0);
    cr_assert_eq(Mk.dtype, ONNXC_BOOL);
    for (int i = 0; i < 4; i++) cr_assert_eq(((uint8_t *)Mk.data)[i], 1);
    nb_free(nb);
    /* Dropout-7: the mask has the data's dtype. */
    nb = nb_new("Dropout", "", 7, 1, 2);
    nb_attr_float(nb, "ratio", 0.3f);
    EVAL_OK(nb, IN(&X), OUT(&Y, &Mk));
    expect_floats(&Mk, (const float[]){1, 1, 1, 1}, 4, 0);
    nb_free(nb);
}

Test(dropout, training_matches_numpy)
{
    /* python: x = (np.arange(12, dtype=np.float32) + 1).reshape(3,4); r = np.float32(0.4);
     * np.random.seed(3); mask = np.random.uniform(0, 1.0, x.shape) >= r;
     * y = mask * x * (1 / (1 - r)) */
    float x[12], r = 0.4f;
    uint8_t t = 1;
    for (int i = 0; i < 12; i++) x[i] = (float)(i + 1);
    static const float want[] = {1.66666663f, 3.33333325f, 0, 6.66666651f, 8.33333302f, 10,
                                 0,           0,           0, 16.666666f,  0,           20};
    static const uint8_t want_mask[] = {1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1};
    nb_node *nb = nb_new("Dropout", "", 13, 3, 2);
    nb_attr_int(nb, "seed", 3);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 2, D(3, 4), x), R = nb_tensor(ONNXC_FLOAT, 0, D(0), &r);
    oc_tensor T = nb_tensor(ONNXC_BOOL, 0, D(0), &t), Y, Mk;
    for (int run = 0; run < 2; run++) { /* seeded: the same mask every run */
        EVAL_OK(nb, IN(&X, &R, &T), OUT(&Y, &Mk));
        expect_floats(&Y, want, 12, 0);
        cr_assert(memcmp(Mk.data, want_mask, 12) == 0, "mask differs from numpy's");
    }
    /* ratio 1 in training mode is refused at run time. */
    r = 1.0f;
    expect_fail(nb_eval(nb, IN(&X, &R, &T), OUT(&Y, &Mk), &err), ONNXC_ERR_RUNTIME,
                MSG("ratio", "[0, 1)"));
    nb_free(nb);
    /* Without a seed the session RNG is used: still a valid mask. */
    r = 0.5f;
    nb = nb_new("Dropout", "", 13, 3, 2);
    EVAL_OK(nb, IN(&X, &R, &T), OUT(&Y, &Mk));
    for (int i = 0; i < 12; i++) {
        const float want_i = ((uint8_t *)Mk.data)[i] ? x[i] * 2.0f : 0.0f;
        cr_assert_eq(((float *)Y.data)[i], want_i);
    }
    nb_free(nb);
}

/* ----------------------------------------------------------------------- */
/* Reductions                                                               */

/* x [2,3,2] = 1..12 */
static float rx[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

Test(reduce, sum_attribute_and_input_axes)
{
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 2), rx), Y;
    /* ReduceSum-11, axes=[1], keepdims: [[9,12],[27,30]] as [2,1,2] */
    nb_node *nb = nb_new("ReduceSum", "", 11, 1, 1);
    nb_attr_ints(nb, "axes", D(1), 1);
    EVAL_OK(nb, IN(&X), OUT(&Y));
    expect_shape(&Y, 3, D(2, 1, 2));
    expect_floats(&Y, (const float[]){9, 12, 27, 30}, 4, 0);
    nb_free(nb);
    /* ReduceSum-13, axes input [-1, 0], keepdims 0: [3+..+21 ...] = [8+... ] */
    int64_t axes[] = {-1, 0};
    nb = nb_new("ReduceSum", "", 13, 2, 1);
    nb_attr_int(nb, "keepdims", 0);
    oc_tensor A = nb_tensor(ONNXC_INT64, 1, D(2), axes);
    EVAL_OK(nb, IN(&X, &A), OUT(&Y));
    expect_shape(&Y, 1, D(3));
    /* (1+2+7+8), (3+4+9+10), (5+6+11+12) */
    expect_floats(&Y, (const float[]){18, 26, 34}, 3, 0);
    nb_free(nb);
    /* Empty axes: all (default) or nothing (noop_with_empty_axes). */
    oc_tensor E = nb_tensor(ONNXC_INT64, 1, D(0), axes);
    nb = nb_new("ReduceSum", "", 13, 2, 1);
    EVAL_OK(nb, IN(&X, &E), OUT(&Y));
    expect_shape(&Y, 3, D(1, 1, 1));
    expect_floats(&Y, (const float[]){78}, 1, 0);
    nb_free(nb);
    nb = nb_new("ReduceSum", "", 13, 2, 1);
    nb_attr_int(nb, "noop_with_empty_axes", 1);
    EVAL_OK(nb, IN(&X, &E), OUT(&Y));
    expect_shape(&Y, 3, D(2, 3, 2));
    expect_floats(&Y, rx, 12, 0);
    nb_free(nb);
}

Test(reduce, mean_max_and_middle_axes)
{
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 2), rx), Y;
    /* ReduceMean over axes [0, 2]: mean of {1,2,7,8} = 4.5, {3,4,9,10} = 6.5, 8.5 */
    nb_node *nb = nb_new("ReduceMean", "", 13, 1, 1);
    nb_attr_ints(nb, "axes", D(0, 2), 2);
    nb_attr_int(nb, "keepdims", 0);
    EVAL_OK(nb, IN(&X), OUT(&Y));
    expect_shape(&Y, 1, D(3));
    expect_floats(&Y, (const float[]){4.5f, 6.5f, 8.5f}, 3, 0);
    nb_free(nb);
    /* ReduceMax over axis 0 (a kept inner dim: the "rows" path), with a NaN. */
    float xn[12];
    memcpy(xn, rx, sizeof xn);
    xn[4] = NAN;
    oc_tensor XN = nb_tensor(ONNXC_FLOAT, 3, D(2, 3, 2), xn);
    nb = nb_new("ReduceMax", "", 13, 1, 1);
    nb_attr_ints(nb, "axes", D(0), 1);
    EVAL_OK(nb, IN(&XN), OUT(&Y));
    expect_shape(&Y, 3, D(1, 3, 2));
    expect_floats(&Y, (const float[]){7, 8, 9, 10, NAN, 12}, 6, 0);
    nb_free(nb);
    /* ReduceMax-18 takes axes as an input. */
    int64_t ax1[] = {1};
    oc_tensor A = nb_tensor(ONNXC_INT64, 1, D(1), ax1);
    nb = nb_new("ReduceMax", "", 18, 2, 1);
    EVAL_OK(nb, IN(&X, &A), OUT(&Y));
    expect_floats(&Y, (const float[]){5, 6, 11, 12}, 4, 0);
    nb_free(nb);
}

Test(reduce, int_types_and_axis_errors)
{
    int32_t xi[] = {-7, 2, 5, 1};
    oc_tensor X = nb_tensor(ONNXC_INT32, 2, D(2, 2), xi), Y;
    /* Integer mean truncates toward zero: (-7+2)/2 = -2, (5+1)/2 = 3. */
    nb_node *nb = nb_new("ReduceMean", "", 13, 1, 1);
    nb_attr_ints(nb, "axes", D(1), 1);
    EVAL_OK(nb, IN(&X), OUT(&Y));
    cr_assert(((int32_t *)Y.data)[0] == -2 && ((int32_t *)Y.data)[1] == 3);
    nb_free(nb);
    /* Axis 2^32 is out of range for rank 2, not axis 0. */
    nb = nb_new("ReduceSum", "", 11, 1, 1);
    nb_attr_ints(nb, "axes", D((int64_t)1 << 32), 1);
    expect_fail(nb_eval(nb, IN(&X), OUT(&Y), &err), ONNXC_ERR_MODEL,
                MSG("axis 4294967296 out of range"));
    nb_free(nb);
    nb = nb_new("ReduceSum", "", 11, 1, 1);
    nb_attr_ints(nb, "axes", D(1, -1), 2);
    expect_fail(nb_eval(nb, IN(&X), OUT(&Y), &err), ONNXC_ERR_MODEL, MSG("distinct"));
    nb_free(nb);
}

Test(reduce, large_parallel_matches_serial)
{
    /* [64, 130, 9] reduced over axis 1 and over axes (0, 2), 1 vs 2 threads. */
    const int64_t n = 64 * 130 * 9;
    float *x = malloc(sizeof(float) * (size_t)n);
    cr_assert(x);
    fill_random(x, n, 5);
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(64, 130, 9), x);
    const int64_t axes_sets[2][2] = {{1, 1}, {0, 2}};
    const int counts[2] = {1, 2};
    for (int s = 0; s < 2; s++) {
        oc_tensor Y1, Y2;
        nb_node *b1 = nb_new("ReduceSum", "", 11, 1, 1), *b2 = nb_new("ReduceSum", "", 11, 1, 1);
        nb_attr_ints(b1, "axes", axes_sets[s], (size_t)counts[s]);
        nb_attr_ints(b2, "axes", axes_sets[s], (size_t)counts[s]);
        b2->nthreads = 2;
        EVAL_OK(b1, IN(&X), OUT(&Y1));
        EVAL_OK(b2, IN(&X), OUT(&Y2));
        const int64_t m = oc_tensor_numel(&Y1);
        cr_assert(memcmp(Y1.data, Y2.data, sizeof(float) * (size_t)m) == 0);
        /* Against a naive double sum. */
        for (int64_t o = 0; o < m; o++) {
            double want = 0;
            for (int64_t i = 0; i < 64; i++)
                for (int64_t j = 0; j < 130; j++)
                    for (int64_t k = 0; k < 9; k++) {
                        bool hit = s == 0 ? (i * 9 + k == o) : (j == o);
                        if (hit) want += x[(i * 130 + j) * 9 + k];
                    }
            cr_assert(fabs(((float *)Y1.data)[o] - want) < 1e-4, "[%lld] %g vs %g",
                      (long long)o, ((float *)Y1.data)[o], want);
        }
        nb_free(b1);
        nb_free(b2);
    }
    free(x);
}

Test(argmax, keepdims_and_select_last)
{
    float x[] = {1, 5, 5, 2, 3, 3, NAN, 0};
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 2, D(2, 4), x), Y;
    nb_node *nb = nb_new("ArgMax", "", 13, 1, 1);
    nb_attr_int(nb, "axis", -1);
    EVAL_OK(nb, IN(&X), OUT(&Y));
    expect_shape(&Y, 2, D(2, 1));
    cr_assert_eq(Y.dtype, ONNXC_INT64);
    /* First max of [1,5,5,2] is 1; NaN counts as the max (numpy.argmax): 2. */
    cr_assert(((int64_t *)Y.data)[0] == 1 && ((int64_t *)Y.data)[1] == 2);
    nb_free(nb);
    nb = nb_new("ArgMax", "", 12, 1, 1);
    nb_attr_int(nb, "axis", 1);
    nb_attr_int(nb, "keepdims", 0);
    nb_attr_int(nb, "select_last_index", 1);
    EVAL_OK(nb, IN(&X), OUT(&Y));
    expect_shape(&Y, 1, D(2));
    cr_assert(((int64_t *)Y.data)[0] == 2 && ((int64_t *)Y.data)[1] == 2);
    nb_free(nb);
    /* Along axis 0 (strided lanes): [1 vs 3, 5 vs 3, 5 vs NaN, 2 vs 0]. */
    nb = nb_new("ArgMax", "", 11, 1, 1);
    EVAL_OK(nb, IN(&X), OUT(&Y));
    const int64_t *y = Y.data;
    cr_assert(y[0] == 1 && y[1] == 0 && y[2] == 1 && y[3] == 0, "%lld %lld %lld %lld",
              (long long)y[0], (long long)y[1], (long long)y[2], (long long)y[3]);
    nb_free(nb);
}

/* ----------------------------------------------------------------------- */
/* Losses                                                                   */

/* python: inp = torch.tensor(np.arange(24, dtype=np.float32).reshape(3,4,2) * -0.1 + 0.3);
 * tgt = [[0,3],[1,2],[3,1]]; w = [0.5, 2.0, 1.0, 0.25];
 * F.nll_loss(inp, tgt, weight=w, ignore_index=1, reduction=red) */
Test(loss, nll_reductions_with_ignore_index)
{
    float inp[24], w[] = {0.5f, 2.0f, 1.0f, 0.25f};
    for (int i = 0; i < 24; i++) inp[i] = (float)i * -0.1f + 0.3f;
    int64_t tgt[] = {0, 3, 1, 2, 3, 1};
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 3, D(3, 4, 2), inp);
    oc_tensor T = nb_tensor(ONNXC_INT64, 2, D(3, 2), tgt), W = nb_tensor(ONNXC_FLOAT, 1, D(4), w);
    oc_tensor Y;
    static const struct {
        const char *red;
        float want[6];
        int n;
    } cases[] = {
        {"none", {-0.15000000596046448f, 0.09999999403953552f, 0, 1.0f, 0.4750000238418579f, 0}, 6},
        {"sum", {1.4250000715255737f}, 1},
        {"mean", {0.7125000357627869f}, 1},
    };
    for (size_t c = 0; c < 3; c++) {
        nb_node *nb = nb_new("NegativeLogLikelihoodLoss", "", 13, 3, 1);
        nb_attr_string(nb, "reduction", cases[c].red);
        nb_attr_int(nb, "ignore_index", 1);
        EVAL_OK(nb, IN(&X, &T, &W), OUT(&Y));
        if (cases[c].n == 6)
            expect_shape(&Y, 2, D(3, 2));
        else
            expect_shape(&Y, 0, D(0));
        expect_floats(&Y, cases[c].want, cases[c].n, 1e-6f);
        nb_free(nb);
    }
    /* No weights: mean over the non-ignored positions (torch: 0.7500000596046448);
     * nothing ignored: plain mean (torch: 0.8833332657814026). */
    nb_node *nb = nb_new("NegativeLogLikelihoodLoss", "", 12, 2, 1);
    nb_attr_int(nb, "ignore_index", 1);
    EVAL_OK(nb, IN(&X, &T), OUT(&Y));
    expect_floats(&Y, (const float[]){0.7500000596046448f}, 1, 1e-6f);
    nb_free(nb);
    nb = nb_new("NegativeLogLikelihoodLoss", "", 12, 2, 1);
    EVAL_OK(nb, IN(&X, &T), OUT(&Y));
    expect_floats(&Y, (const float[]){0.8833332657814026f}, 1, 1e-6f);
    nb_free(nb);
    /* A target outside [0, C) that is not ignored is a run-time error. */
    tgt[2] = 4;
    nb = nb_new("NegativeLogLikelihoodLoss", "", 13, 2, 1);
    expect_fail(nb_eval(nb, IN(&X, &T), OUT(&Y), &err), ONNXC_ERR_RUNTIME,
                MSG("element 2 is 4", "[0, 4)"));
    nb_free(nb);
}

/* python: sc = [[1,2,0.5],[-1,0,3],[0.2,0.1,-0.3]]; lab = [1,-1,0]; sw = [1,0.5,2];
 * F.cross_entropy(sc, lab, weight=sw, ignore_index=-1, reduction=red); F.log_softmax(sc, 1) */
Test(loss, softmax_cross_entropy_with_log_prob)
{
    float sc[] = {1.0f, 2.0f, 0.5f, -1.0f, 0.0f, 3.0f, 0.2f, 0.1f, -0.3f}, sw[] = {1.0f, 0.5f, 2.0f};
    int32_t lab[] = {1, -1, 0};
    oc_tensor X = nb_tensor(ONNXC_FLOAT, 2, D(3, 3), sc);
    oc_tensor L = nb_tensor(ONNXC_INT32, 1, D(3), lab), W = nb_tensor(ONNXC_FLOAT, 1, D(3), sw);
    static const float want_lp[] = {-1.4643688201904297f, -0.4643687903881073f,
                                    -1.9643688201904297f, -4.065884113311768f,
                                    -3.0658838748931885f, -0.06588391214609146f,
                                    -0.9208276271820068f, -1.0208276510238647f,
                                    -1.4208276271820068f};
    static const struct {
        const char *red;
        float want[3];
        int n;
    } cases[] = {
        {"none", {0.23218439519405365f, 0, 0.9208276271820068f}, 3},
        {"sum", {1.1530120372772217f}, 1},
        {"mean", {0.7686746716499329f}, 1},
    };
    for (size_t c = 0; c < 3; c++) {
        nb_node *nb = nb_new("SoftmaxCrossEntropyLoss", "", 13, 3, 2);
        nb_attr_string(nb, "reduction", cases[c].red);
        nb_attr_int(nb, "ignore_index", -1);
        oc_tensor Y, LP;
        EVAL_OK(nb, IN(&X, &L, &W), OUT(&Y, &LP));
        expect_floats(&Y, cases[c].want, cases[c].n, 1e-6f);
        expect_shape(&LP, 2, D(3, 3));
        expect_floats(&LP, want_lp, 9, 1e-6f);
        nb_free(nb);
    }
    nb_node *nb = nb_new("SoftmaxCrossEntropyLoss", "", 13, 2, 1);
    nb_attr_string(nb, "reduction", "avg");
    oc_tensor Y;
    expect_fail(nb_eval(nb, IN(&X, &L), OUT(&Y), &err), ONNXC_ERR_MODEL,
                MSG("'reduction' is 'avg'"));
    nb_free(nb);
}

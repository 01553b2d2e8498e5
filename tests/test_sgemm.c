/*
 * runtime/kernels: the fast GEMM (sgemm.h) on every kernel family this CPU
 * has (portable, AVX2, AVX-512, forced with oc_cpu_set_isa), against a naive
 * triple loop accumulated in double, written here.
 *
 * Tolerance: a float FMA chain over K products is within about
 * K * FLT_EPSILON * sum_k |a_ik * b_kj| of the exact sum (Higham's gamma_K
 * bound), so each element may differ from the double reference by
 * (K + 4) * FLT_EPSILON * (|alpha| * sum|a*b| + |beta * c| + |bias|) — an
 * error bound, not a guess. Leading dimensions are padded and the padding
 * is filled with a sentinel that must survive; with beta == 0 (or no
 * accumulate) C starts as NaN, which must not leak into the result.
 *
 * Also: results bit-identical for 1, 2, 3 and 4 threads; a row's result does
 * not depend on M (for M >= 4) or on which tile it falls in; a packed block
 * keeps its family when the family changes; ONNXC_CPU selects the family.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(ONNXC_HAVE_SGEMM_KERNELS)

#include "alloc.h"
#include "kernels/cpu_features.h"
#include "kernels/sgemm.h"

#define SENTINEL 12345.0f

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Uniform in [-1, 1). */
static float frand(void) { return (float)((double)(next_u64() >> 11) * 0x1p-52 - 1.0); }

static float *rand_matrix(int64_t rows, int64_t cols, int64_t ld)
{
    size_t n = (size_t)(rows > 0 ? rows : 1) * (size_t)(ld > 0 ? ld : 1);
    float *m = malloc(n * sizeof(float));
    cr_assert_not_null(m);
    for (size_t i = 0; i < n; i++) m[i] = SENTINEL;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) m[r * ld + c] = frand();
    return m;
}

/* The families to test: each one the CPU supports, once. */
static int families(oc_isa *out)
{
    int n = 0;
    for (int isa = OC_ISA_PORTABLE; isa <= OC_ISA_AVX512; isa++)
        if ((int)oc_cpu_set_isa(isa) == isa) out[n++] = (oc_isa)isa;
    oc_cpu_set_isa(-1);
    return n;
}

typedef struct gemm_case {
    int ta, tb;
    int64_t M, N, K;
    float alpha, beta;
} gemm_case;

/* Run oc_sgemm_fast on `c` and compare with the double reference. */
static void check_fast(const gemm_case *c, int nthreads, oc_isa isa)
{
    const int64_t M = c->M, N = c->N, K = c->K;
    const int64_t lda = (c->ta ? M : K) + 3, ldb = (c->tb ? K : N) + 2, ldc = N + 5;
    float *A = rand_matrix(c->ta ? K : M, c->ta ? M : K, lda);
    float *B = rand_matrix(c->tb ? N : K, c->tb ? K : N, ldb);
    float *C = rand_matrix(M, N, ldc);
    float *C0 = malloc((size_t)(M > 0 ? M : 1) * (size_t)ldc * sizeof(float));
    memcpy(C0, C, (size_t)(M > 0 ? M : 1) * (size_t)ldc * sizeof(float));
    if (c->beta == 0.0f)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = NAN;
    oc_sgemm_fast(c->ta, c->tb, M, N, K, c->alpha, A, lda, B, ldb, c->beta, C, ldc, nthreads);
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double s = 0, abs = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = c->ta ? A[k * lda + i] : A[i * lda + k];
                double b = c->tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
                abs += fabs(a * b);
            }
            double want = c->alpha * s, cterm = 0;
            if (c->beta != 0.0f) cterm = (double)c->beta * C0[i * ldc + j];
            want += cterm;
            double tol = (double)(K + 4) * FLT_EPSILON * (fabs(c->alpha) * abs + fabs(cterm)) + 1e-30;
            float got = C[i * ldc + j];
            cr_assert(fabs(got - want) <= tol,
                      "%s fast ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g threads=%d: "
                      "C[%lld][%lld] expected %.9g (tol %.3g), got %.9g",
                      oc_isa_name(isa), c->ta, c->tb, (long long)M, (long long)N, (long long)K,
                      c->alpha, c->beta, nthreads, (long long)i, (long long)j, want, tol, got);
        }
        for (int64_t j = N; j < ldc; j++)
            cr_assert_eq(C[i * ldc + j], SENTINEL, "%s fast: wrote C padding [%lld][%lld]",
                         oc_isa_name(isa), (long long)i, (long long)j);
    }
    free(A);
    free(B);
    free(C);
    free(C0);
}

/* Sizes around every tile and panel boundary (mr 4/6/12, nr 8/16/32, the
 * 256-deep K chunk of oc_sgemm_fast), plus odd ones up to 300. */
static const int64_t SIZES[] = {1,  2,  3,  4,  5,  6,  7,  8,   9,   11,  12,  13,  15,  16, 17,
                                23, 24, 25, 31, 32, 33, 47, 48,  63,  64,  65,  97,  100, 127,
                                128, 129, 131, 191, 255, 256, 257, 299, 300};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

static const float ALPHAS[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.5f, -2.0f}, {-1.5f, 0.0f}, {2.0f, 0.25f}};

Test(sgemm, fast_matches_reference_on_every_family)
{
    oc_isa isas[3];
    int n = families(isas);
    for (int f = 0; f < n; f++) {
        cr_assert_eq(oc_cpu_set_isa(isas[f]), isas[f]);
        rng = 0x1234567ull + (uint64_t)f;
        for (int t = 0; t < 160; t++) {
            gemm_case c = {.ta = t & 1, .tb = (t >> 1) & 1};
            c.M = SIZES[next_u64() % NSIZES];
            c.N = SIZES[next_u64() % NSIZES];
            c.K = SIZES[next_u64() % NSIZES];
            const float *ab = ALPHAS[(t >> 2) % 5];
            c.alpha = ab[0], c.beta = ab[1];
            check_fast(&c, 1 + t % 2, isas[f]);
        }
    }
}

Test(sgemm, fast_edge_shapes)
{
    oc_isa isas[3];
    int n = families(isas);
    for (int f = 0; f < n; f++) {
        oc_cpu_set_isa(isas[f]);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                /* K = 0: C = beta * C (0 when beta == 0, even over NaN). */
                check_fast(&(gemm_case){ta, tb, 7, 9, 0, 1.0f, 0.0f}, 1, isas[f]);
                check_fast(&(gemm_case){ta, tb, 13, 33, 0, 2.0f, 0.5f}, 1, isas[f]);
                /* M = 1 and N = 1 (GEMV both ways), K over several 256 chunks. */
                check_fast(&(gemm_case){ta, tb, 1, 300, 777, 1.0f, 0.0f}, 1, isas[f]);
                check_fast(&(gemm_case){ta, tb, 300, 1, 777, 1.0f, 1.0f}, 2, isas[f]);
                check_fast(&(gemm_case){ta, tb, 2, 45, 513, -1.0f, 0.5f}, 1, isas[f]);
                check_fast(&(gemm_case){ta, tb, 3, 17, 1, 1.0f, 0.0f}, 1, isas[f]);
                check_fast(&(gemm_case){ta, tb, 130, 200, 600, 0.75f, -1.0f}, 3, isas[f]);
            }
    }
}

/* oc_sgemm_fast_cut gives exactly what its two oc_sgemm_fast calls give:
 * [0, kcut) with beta, then [kcut, K) with beta 1 (the sum two batch shards
 * make, train/row_cut.h), whether its halves share one pass (K <= 256) or
 * not, for every layout of the weight-gradient GEMMs and thread counts. */
Test(sgemm, cut_products_equal_their_two_halves_on_every_family)
{
    static const int64_t shapes[][4] = {/* M, N, K, kcut */
                                        {784, 64, 128, 64}, {64, 784, 128, 64}, {10, 64, 131, 66},
                                        {64, 10, 200, 100}, {33, 47, 256, 128}, {70, 40, 512, 256},
                                        {70, 40, 600, 300}, {5, 300, 9, 4}, {13, 17, 7, 1}};
    oc_isa isas[3];
    int n = families(isas);
    for (int f = 0; f < n; f++) {
        oc_cpu_set_isa(isas[f]);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int ta = 0; ta < 2; ta++)
                for (int beta1 = 0; beta1 < 2; beta1++) {
                    const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], cut = shapes[s][3];
                    const int64_t lda = (ta ? M : K) + 1, ldb = N + 3, ldc = N + 2;
                    const float beta = beta1 ? 1.0f : 0.0f;
                    float *A = rand_matrix(ta ? K : M, ta ? M : K, lda), *B = rand_matrix(K, N, ldb);
                    float *want = rand_matrix(M, N, ldc);
                    float *got = malloc((size_t)M * (size_t)ldc * sizeof(float));
                    memcpy(got, want, (size_t)M * (size_t)ldc * sizeof(float));
                    const float *A1 = ta ? A + cut * lda : A + cut;
                    oc_sgemm_fast(ta, 0, M, N, cut, 1.0f, A, lda, B, ldb, beta, want, ldc, 1);
                    oc_sgemm_fast(ta, 0, M, N, K - cut, 1.0f, A1, lda, B + cut * ldb, ldb, 1.0f, want, ldc, 1);
                    const int threads = 1 + (int)(s % 3);
                    oc_sgemm_fast_cut(ta, 0, M, N, K, cut, A, lda, B, ldb, beta, got, ldc, threads);
                    cr_assert(!memcmp(got, want, (size_t)M * (size_t)ldc * sizeof(float)),
                              "%s cut ta=%d M=%lld N=%lld K=%lld kcut=%lld beta=%g threads=%d: differs from "
                              "its two halves",
                              oc_isa_name(isas[f]), ta, (long long)M, (long long)N, (long long)K, (long long)cut,
                              beta, threads);
                    free(A);
                    free(B);
                    free(want);
                    free(got);
                }
    }
    oc_cpu_set_isa(-1);
}

/* B [K, N] with N a multiple of the panel width is read in place by the
 * families with tile_d kernels (reads_b_in_place in sgemm.c: few row tiles,
 * or rows on cache lines), else packed: the same sums either way. Compared
 * here with B^T through transB, which is always packed, on unaligned rows
 * (B one float into its buffer, ldb = N + 3) and on aligned ones (ldb =
 * N + 16), several K chunks and a cut, alpha/beta, bias and ReLU, 1 and 2
 * threads, bit for bit. */
Test(sgemm, b_read_in_place_equals_b_packed_on_every_family)
{
    static const int64_t Ms[] = {5, 12, 13, 100, 128};
    static const int64_t Ns[] = {32, 64, 128, 160, 256};
    static const int64_t Ks[] = {1, 100, 256, 300, 784};
    oc_isa isas[3];
    int n = families(isas);
    for (int f = 0; f < n; f++) {
        oc_cpu_set_isa(isas[f]);
        rng = 0x5eedull + (uint64_t)f;
        int t = 0;
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++) {
                t++;
                const int64_t M = Ms[mi], N = Ns[ni], K = Ks[(size_t)t % 5];
                const int aligned = (t / 2) % 2;
                const int64_t lda = K + 1, ldb = aligned ? N + 16 : N + 3, ldbt = K + 5, ldc = N + 2;
                const int threads = 1 + t % 2;
                float *A = rand_matrix(M, K, lda), *Bbuf = NULL;
                if (aligned) { /* rows on 64-byte lines */
                    Bbuf = aligned_alloc(64, (size_t)(K + 1) * (size_t)ldb * sizeof(float));
                    cr_assert_not_null(Bbuf);
                    for (int64_t i = 0; i < (K + 1) * ldb; i++) Bbuf[i] = frand();
                } else {
                    Bbuf = rand_matrix(K + 1, N, ldb);
                }
                const float *B = aligned ? Bbuf : Bbuf + 1; /* else rows start off any vector alignment */
                float *Bt = rand_matrix(N, K, ldbt), *bias = rand_matrix(1, N, N);
                for (int64_t k = 0; k < K; k++)
                    for (int64_t j = 0; j < N; j++) Bt[j * ldbt + k] = B[k * ldb + j];
                float *direct = rand_matrix(M, N, ldc);
                float *packed = malloc((size_t)M * (size_t)ldc * sizeof(float));
                const size_t bytes = (size_t)M * (size_t)ldc * sizeof(float);
                const char *fam = oc_isa_name(isas[f]);

                const float alpha = t % 3 ? 1.0f : 0.5f, beta = t % 2 ? 1.0f : 0.0f;
                memcpy(packed, direct, bytes);
                oc_sgemm_fast(0, 0, M, N, K, alpha, A, lda, B, ldb, beta, direct, ldc, threads);
                oc_sgemm_fast(0, 1, M, N, K, alpha, A, lda, Bt, ldbt, beta, packed, ldc, threads);
                cr_assert(!memcmp(direct, packed, bytes), "%s fast M=%lld N=%lld K=%lld alpha=%g beta=%g",
                          fam, (long long)M, (long long)N, (long long)K, alpha, beta);

                oc_sgemm_fast_dense(0, M, N, K, A, lda, B, ldb, bias, OC_ACT_RELU, direct, ldc, threads);
                oc_sgemm_fast_dense(1, M, N, K, A, lda, Bt, ldbt, bias, OC_ACT_RELU, packed, ldc, threads);
                cr_assert(!memcmp(direct, packed, bytes), "%s fast_dense M=%lld N=%lld K=%lld", fam, (long long)M,
                          (long long)N, (long long)K);

                const int64_t cut = K / 2;
                oc_sgemm_fast_cut(0, 0, M, N, K, cut, A, lda, B, ldb, beta, direct, ldc, threads);
                oc_sgemm_fast_cut(0, 1, M, N, K, cut, A, lda, Bt, ldbt, beta, packed, ldc, threads);
                cr_assert(!memcmp(direct, packed, bytes), "%s fast_cut M=%lld N=%lld K=%lld kcut=%lld", fam,
                          (long long)M, (long long)N, (long long)K, (long long)cut);
                free(A);
                free(Bbuf);
                free(Bt);
                free(bias);
                free(direct);
                free(packed);
            }
    }
    oc_cpu_set_isa(-1);
}

Test(sgemm, empty_products_touch_nothing)
{
    float C[4] = {1, 2, 3, 4};
    oc_sgemm_fast(0, 0, 0, 2, 3, 1.0f, NULL, 3, NULL, 2, 0.0f, C, 2, 1);
    oc_sgemm_fast(0, 0, 2, 0, 3, 1.0f, NULL, 3, NULL, 2, 0.0f, C, 2, 1);
    for (int i = 0; i < 4; i++) cr_assert_eq(C[i], (float)(i + 1));
}

/* Run oc_sgemm_run: C = act(A·op(B) + bias) (+ C when accumulate); with
 * `fast`, oc_sgemm_fast_dense (B packed per call, never accumulates). */
static void check_dense(int fast, int64_t M, int64_t N, int64_t K, int tb, int use_bias, int relu,
                        int accumulate, int nthreads, oc_isa isa)
{
    const int64_t lda = K + 1, ldb = (tb ? K : N) + 7, ldc = N + 3;
    float *A = rand_matrix(M, K, lda);
    float *B = rand_matrix(tb ? N : K, tb ? K : N, ldb);
    float *C = rand_matrix(M, N, ldc);
    float *bias = use_bias ? rand_matrix(1, N, N) : NULL;
    float *C0 = malloc((size_t)M * (size_t)ldc * sizeof(float));
    memcpy(C0, C, (size_t)M * (size_t)ldc * sizeof(float));
    if (!accumulate)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = NAN;
    const oc_act act = relu ? OC_ACT_RELU : OC_ACT_NONE;
    oc_sgemm_pb *pb = NULL;
    if (fast) {
        cr_assert(!accumulate);
        oc_sgemm_fast_dense(tb, M, N, K, A, lda, B, ldb, bias, act, C, ldc, nthreads);
    } else {
        pb = oc_sgemm_packed_b(tb, K, N, B, ldb);
        cr_assert_not_null(pb);
        cr_assert_eq((uintptr_t)pb % 64, 0);
        cr_assert_eq(oc_sgemm_pb_k(pb), K);
        cr_assert_eq(oc_sgemm_pb_n(pb), N);
        oc_sgemm_run(M, N, K, A, lda, pb, C, ldc, bias, act, accumulate, nthreads);
    }
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double s = 0, abs = 0;
            for (int64_t k = 0; k < K; k++) {
                double p = (double)A[i * lda + k] * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                s += p;
                abs += fabs(p);
            }
            double extra = (accumulate ? C0[i * ldc + j] : 0.0) + (bias ? bias[j] : 0.0);
            double want = s + extra;
            double tol = (double)(K + 4) * FLT_EPSILON * (abs + fabs(extra)) + 1e-30;
            if (relu && want < 0) want = 0, tol = fmax(tol, 0);
            float got = C[i * ldc + j];
            cr_assert(fabs(got - want) <= tol && !(relu && got < 0),
                      "%s %s tb=%d M=%lld N=%lld K=%lld bias=%d relu=%d acc=%d threads=%d: "
                      "C[%lld][%lld] expected %.9g (tol %.3g), got %.9g",
                      oc_isa_name(isa), fast ? "fast_dense" : "run", tb, (long long)M, (long long)N, (long long)K, use_bias,
                      relu, accumulate, nthreads, (long long)i, (long long)j, want, tol, got);
        }
        for (int64_t j = N; j < ldc; j++)
            cr_assert_eq(C[i * ldc + j], SENTINEL, "%s run: wrote C padding", oc_isa_name(isa));
    }
    oc_aligned_free(pb);
    free(A);
    free(B);
    free(C);
    free(C0);
    free(bias);
}

Test(sgemm, run_matches_reference_on_every_family)
{
    /* Dense-layer shapes: batch M, in K, out N (10 and 64 as in the seed
     * model), and every panel edge. */
    static const int64_t Ms[] = {1, 2, 3, 4, 5, 13, 32, 33, 100};
    static const int64_t Ns[] = {1, 10, 15, 16, 17, 31, 33, 48, 64, 65, 100, 300};
    static const int64_t Ks[] = {0, 1, 7, 64, 100, 300, 784};
    oc_isa isas[3];
    int n = families(isas);
    for (int f = 0; f < n; f++) {
        oc_cpu_set_isa(isas[f]);
        rng = 0xabcdefull + (uint64_t)f;
        int t = 0;
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++) {
                int64_t K = Ks[next_u64() % (sizeof Ks / sizeof *Ks)];
                t++;
                check_dense(0, Ms[mi], Ns[ni], K, t & 1, (t >> 1) & 1, (t >> 2) & 1, (t % 5) == 0,
                            1 + t % 2, isas[f]);
            }
    }
}

/* The training Dense forward: bias and ReLU after the last of several
 * 256-deep K chunks (K = 300, 784), both weight layouts, 1 and 2 threads. */
Test(sgemm, fast_dense_matches_reference_on_every_family)
{
    static const int64_t Ms[] = {1, 3, 5, 13, 32, 128};
    static const int64_t Ns[] = {1, 10, 17, 33, 64, 100};
    static const int64_t Ks[] = {0, 1, 7, 256, 300, 784};
    oc_isa isas[3];
    int n = families(isas);
    for (int f = 0; f < n; f++) {
        oc_cpu_set_isa(isas[f]);
        rng = 0xfeedull + (uint64_t)f;
        int t = 0;
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++) {
                t++;
                check_dense(1, Ms[mi], Ns[ni], Ks[t % 6], (t >> 1) & 1, t % 3 != 0, t & 1, 0,
                            1 + (t >> 2) % 2, isas[f]);
            }
    }
    oc_cpu_set_isa(-1);
}

/* A row stride of a multiple of 4 KiB (lda = 1024, 2048, 3072 floats) makes
 * the drivers read A tiles from a padded copy; the copy must not change a bit
 * relative to the same values at a harmless stride (lda + 7). K = 2500 is
 * longer than the copy holds: oc_sgemm_run then sums K in two chunks, which
 * must equal the one chain it runs at the harmless stride. */
Test(sgemm, aliasing_a_stride_gives_identical_results)
{
    static const int64_t cases[][3] = {{40, 100, 1024}, {13, 20, 1000}, {30, 64, 2048}, {5, 300, 1024},
                                       {9, 40, 2500}};
    oc_isa isas[3];
    int n = families(isas);
    for (int f = 0; f < n; f++) {
        oc_cpu_set_isa(isas[f]);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const int64_t M = cases[c][0], N = cases[c][1], K = cases[c][2];
            const int64_t lda = K <= 1024 ? 1024 : K <= 2048 ? 2048 : 3072, ldo = lda + 7;
            float *A = rand_matrix(M, K, lda), *A2 = rand_matrix(M, K, ldo);
            for (int64_t i = 0; i < M; i++) memcpy(A2 + i * ldo, A + i * lda, (size_t)K * sizeof(float));
            float *B = rand_matrix(K, N, N), *bias = rand_matrix(1, N, N);
            float *C1 = rand_matrix(M, N, N), *C2 = rand_matrix(M, N, N);
            oc_sgemm_pb *pb = oc_sgemm_packed_b(0, K, N, B, N);
            cr_assert_not_null(pb);
            for (int threads = 1; threads <= 2; threads++) {
                oc_sgemm_run(M, N, K, A, lda, pb, C1, N, bias, OC_ACT_RELU, 0, threads);
                oc_sgemm_run(M, N, K, A2, ldo, pb, C2, N, bias, OC_ACT_RELU, 0, threads);
                cr_assert(memcmp(C1, C2, (size_t)(M * N) * sizeof(float)) == 0,
                          "%s run M=%lld N=%lld K=%lld lda=%lld: the copied-A path differs",
                          oc_isa_name(isas[f]), (long long)M, (long long)N, (long long)K, (long long)lda);
                oc_sgemm_fast(0, 0, M, N, K, 1.0f, A, lda, B, N, 0.0f, C1, N, threads);
                oc_sgemm_fast(0, 0, M, N, K, 1.0f, A2, ldo, B, N, 0.0f, C2, N, threads);
                cr_assert(memcmp(C1, C2, (size_t)(M * N) * sizeof(float)) == 0,
                          "%s fast M=%lld N=%lld K=%lld lda=%lld: the copied-A path differs",
                          oc_isa_name(isas[f]), (long long)M, (long long)N, (long long)K, (long long)lda);
            }
            oc_aligned_free(pb);
            free(A), free(A2), free(B), free(bias), free(C1), free(C2);
        }
    }
    oc_cpu_set_isa(-1);
}

Test(sgemm, run_relu_keeps_nan)
{
    oc_isa isas[3];
    int n = families(isas);
    for (int f = 0; f < n; f++) {
        oc_cpu_set_isa(isas[f]);
        float A[2 * 3] = {1, NAN, 1, -1, -1, -1};
        float B[3 * 2] = {1, 1, 1, 1, 1, 1};
        float C[2 * 2];
        oc_sgemm_pb *pb = oc_sgemm_packed_b(0, 3, 2, B, 2);
        oc_sgemm_run(2, 2, 3, A, 3, pb, C, 2, NULL, OC_ACT_RELU, 0, 1);
        cr_assert(isnan(C[0]) && isnan(C[1]), "%s: relu(NaN) should be NaN", oc_isa_name(isas[f]));
        cr_assert(C[2] == 0.0f && C[3] == 0.0f, "%s: relu(-3) should be 0", oc_isa_name(isas[f]));
        oc_aligned_free(pb);
    }
}

/* Every thread count gives the same bits, for both entry points, on shapes
 * large enough to be split (above the 2^20 multiply-add threshold), split by
 * panels and by row tiles (128x64: by panels, which balance better than 6 + 5
 * row tiles), and for the GEMV path (also below 2^20 multiply-adds when B
 * has 2^17 or more elements: 1x512x784, 3x300x500). */
Test(sgemm, bit_identical_for_any_thread_count)
{
    static const int64_t shapes[][3] = {{300, 300, 300}, {257, 1024, 64}, {64, 64, 784},
                                        {2, 1024, 300},  {1, 2048, 784},  {2000, 10, 64},
                                        {128, 64, 784},  {1, 512, 784},   {3, 300, 500}};
    oc_isa isas[3];
    int nf = families(isas);
    for (int f = 0; f < nf; f++) {
        oc_cpu_set_isa(isas[f]);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *A = rand_matrix(M, K, K), *B = rand_matrix(K, N, N), *bias = rand_matrix(1, N, N);
            float *ref = malloc((size_t)(M * N) * sizeof(float)), *C = malloc((size_t)(M * N) * sizeof(float));
            oc_sgemm_pb *pb = oc_sgemm_packed_b(0, K, N, B, N);
            for (int api = 0; api < 3; api++)
                for (int t = 1; t <= 4; t++) {
                    float *out = t == 1 ? ref : C;
                    if (api == 0) oc_sgemm_run(M, N, K, A, K, pb, out, N, bias, OC_ACT_RELU, 0, t);
                    else if (api == 1) oc_sgemm_fast(1, 0, M, N, K, 0.5f, A, M, B, N, 0.0f, out, N, t);
                    else oc_sgemm_fast_dense(0, M, N, K, A, K, B, N, bias, OC_ACT_RELU, out, N, t);
                    if (t > 1)
                        cr_assert(!memcmp(ref, C, (size_t)(M * N) * sizeof(float)),
                                  "%s %s %lldx%lldx%lld: %d threads differ from 1 thread",
                                  oc_isa_name(isas[f]), api == 2 ? "fast_dense" : api ? "fast" : "run", (long long)M,
                                  (long long)N, (long long)K, t);
                }
            oc_aligned_free(pb);
            free(A), free(B), free(bias), free(ref), free(C);
        }
    }
}

/* For M >= 5 a row's bits do not depend on M or on the tile it lands in. */
Test(sgemm, rows_independent_of_batch)
{
    oc_isa isas[3];
    int nf = families(isas);
    for (int f = 0; f < nf; f++) {
        oc_cpu_set_isa(isas[f]);
        const int64_t M = 37, N = 70, K = 300;
        float *A = rand_matrix(M, K, K), *B = rand_matrix(K, N, N);
        float *all = malloc((size_t)(M * N) * sizeof(float)), *part = malloc(13 * (size_t)N * sizeof(float));
        oc_sgemm_pb *pb = oc_sgemm_packed_b(0, K, N, B, N);
        oc_sgemm_run(M, N, K, A, K, pb, all, N, NULL, OC_ACT_NONE, 0, 1);
        for (int64_t r0 = 0, m = 5; r0 + m <= M; r0 += m, m = m == 5 ? 13 : m - 1) {
            oc_sgemm_run(m, N, K, A + r0 * K, K, pb, part, N, NULL, OC_ACT_NONE, 0, 1);
            cr_assert(!memcmp(part, all + r0 * N, (size_t)(m * N) * sizeof(float)),
                      "%s: rows %lld..%lld differ when computed as a batch of %lld",
                      oc_isa_name(isas[f]), (long long)r0, (long long)(r0 + m - 1), (long long)m);
        }
        oc_aligned_free(pb);
        free(A), free(B), free(all), free(part);
    }
}

Test(sgemm, packed_block_keeps_its_family)
{
    oc_isa isas[3];
    int nf = families(isas);
    const int64_t M = 9, N = 45, K = 50;
    rng = 77;
    float *A = rand_matrix(M, K, K), *B = rand_matrix(K, N, N);
    float *ref = malloc((size_t)(M * N) * sizeof(float)), *C = malloc((size_t)(M * N) * sizeof(float));
    for (int f = 0; f < nf; f++) {
        oc_cpu_set_isa(isas[f]);
        oc_sgemm_pb *pb = oc_sgemm_packed_b(0, K, N, B, N);
        oc_sgemm_run(M, N, K, A, K, pb, ref, N, NULL, OC_ACT_NONE, 0, 1);
        for (int g = 0; g < nf; g++) {
            oc_cpu_set_isa(isas[g]);
            oc_sgemm_run(M, N, K, A, K, pb, C, N, NULL, OC_ACT_NONE, 0, 1);
            cr_assert(!memcmp(ref, C, (size_t)(M * N) * sizeof(float)),
                      "block packed under %s, run under %s: results differ",
                      oc_isa_name(isas[f]), oc_isa_name(isas[g]));
        }
        oc_aligned_free(pb);
    }
    free(A), free(B), free(ref), free(C);
}

/* Unpacking restores op(B) bit for bit, including NaN payloads, and writes
 * nothing outside the matrix (odd N leaves a part-filled last panel). */
Test(sgemm, unpack_restores_the_original_layout)
{
    oc_isa isas[3];
    int nf = families(isas);
    const int64_t shapes[][2] = {{1, 1}, {7, 45}, {50, 16}, {33, 97}};
    for (int f = 0; f < nf; f++) {
        oc_cpu_set_isa(isas[f]);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int tb = 0; tb < 2; tb++) {
                const int64_t K = shapes[s][0], N = shapes[s][1];
                const int64_t rows = tb ? N : K, cols = tb ? K : N, ld = cols + 3;
                rng = 11 + (uint64_t)s;
                float *B = rand_matrix(rows, ld, ld);
                uint32_t nan_bits = 0x7fc12345u;
                memcpy(&B[0], &nan_bits, sizeof nan_bits);
                float *out = malloc((size_t)(rows * ld) * sizeof(float));
                for (int64_t i = 0; i < rows * ld; i++) out[i] = SENTINEL;
                oc_sgemm_pb *pb = oc_sgemm_packed_b(tb, K, N, B, ld);
                oc_sgemm_unpack_b(pb, tb, out, ld);
                for (int64_t i = 0; i < rows; i++)
                    for (int64_t j = 0; j < ld; j++) {
                        const float want = j < cols ? B[i * ld + j] : SENTINEL;
                        cr_assert(!memcmp(&out[i * ld + j], &want, sizeof want),
                                  "%s transB=%d K=%lld N=%lld: element [%lld][%lld] is %g, expected %g",
                                  oc_isa_name(isas[f]), tb, (long long)K, (long long)N, (long long)i,
                                  (long long)j, out[i * ld + j], want);
                    }
                oc_aligned_free(pb);
                free(B), free(out);
            }
    }
}

Test(sgemm, pack_into_caller_memory)
{
    const int64_t K = 33, N = 47;
    size_t bytes = oc_sgemm_packed_b_size(K, N);
    cr_assert_gt(bytes, (size_t)(K * N) * sizeof(float));
    cr_assert_eq(oc_sgemm_packed_b_size(-1, 3), 0);
    cr_assert_eq(oc_sgemm_packed_b_size(3, 0), 0);
    cr_assert_null(oc_sgemm_packed_b(0, 3, 0, NULL, 1));
    void *mem = oc_aligned_alloc(bytes);
    rng = 5;
    float *B = rand_matrix(K, N, N), *A = rand_matrix(1, K, K);
    float C1[47], C2[47];
    oc_sgemm_pb *pb = oc_sgemm_pack_b_to(mem, 0, K, N, B, N);
    oc_sgemm_pb *pb2 = oc_sgemm_packed_b(0, K, N, B, N);
    cr_assert_eq((void *)pb, mem);
    oc_sgemm_run(1, N, K, A, K, pb, C1, N, NULL, OC_ACT_NONE, 0, 1);
    oc_sgemm_run(1, N, K, A, K, pb2, C2, N, NULL, OC_ACT_NONE, 0, 1);
    cr_assert(!memcmp(C1, C2, sizeof C1));
    oc_aligned_free(mem);
    oc_aligned_free(pb2);
    free(A), free(B);
}

Test(sgemm, env_selects_family)
{
    oc_isa best = oc_cpu_isa_supported();
    setenv("ONNXC_CPU", "portable", 1);
    cr_assert_eq(oc_cpu_set_isa(-1), OC_ISA_PORTABLE);
    cr_assert_eq(oc_cpu_isa(), OC_ISA_PORTABLE);
    setenv("ONNXC_CPU", "avx2", 1);
    cr_assert_eq(oc_cpu_set_isa(-1), best < OC_ISA_AVX2 ? best : OC_ISA_AVX2);
    setenv("ONNXC_CPU", "avx512", 1);
    cr_assert_eq(oc_cpu_set_isa(-1), best);
    setenv("ONNXC_CPU", "nonsense", 1);
    cr_assert_eq(oc_cpu_set_isa(-1), best);
    unsetenv("ONNXC_CPU");
    cr_assert_eq(oc_cpu_set_isa(-1), best);
    /* A request above what the CPU has is clamped. */
    cr_assert_eq(oc_cpu_set_isa(OC_ISA_AVX512), best);
    cr_assert_str_eq(oc_isa_name(OC_ISA_AVX2), "avx2");
}

/* One element as the tile kernels compute it (sgemm_internal.h): per K
 * chunk (256 long, also ending at kcut) one fmaf chain over k from zero,
 * then x = chain * alpha (alpha != 1), x = fmaf(beta, C, x) (beta != 0; 1
 * after the first chunk), x + bias (+0 when none, or not the last chunk),
 * and max(0, x) keeping NaN and -0 as maxps(0, x) does. */
static float chain_element(int ta, int tb, int64_t i, int64_t j, int64_t K, int64_t kcut, float alpha,
                           const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float c,
                           const float *bias, int relu)
{
    int64_t q0 = 0;
    do {
        int64_t q1 = q0 + 256 < K ? q0 + 256 : K;
        if (kcut > q0 && kcut < q1) q1 = kcut;
        float acc = 0.0f;
        for (int64_t k = q0; k < q1; k++)
            acc = fmaf(ta ? A[k * lda + i] : A[i * lda + k], tb ? B[j * ldb + k] : B[k * ldb + j], acc);
        const float b = q0 == 0 ? beta : 1.0f;
        const int last = q1 >= K;
        float x = alpha != 1.0f ? acc * alpha : acc;
        if (b != 0.0f) x = fmaf(b, c, x);
        x = x + (last && bias ? bias[j] : 0.0f);
        if (last && relu) x = 0.0f > x ? 0.0f : x;
        c = x;
        q0 = q1;
    } while (q0 < K);
    return c;
}

/* Products with at most 16 columns (a classifier layer's forward, and its
 * dW with A transposed), or with at most 16 terms per element (its dX),
 * run dedicated AVX-512 kernels (sgemm_narrow_avx512.c) on one thread; they
 * must give the tile kernels' arithmetic bit for bit, so that the thread
 * count, which decides between them, never shows. Checked against
 * chain_element, written from that arithmetic, on shapes around their
 * block edges (16 and 64 lanes, 6 columns a pass, the 256-row K chunk, the
 * cut, two rows at a time, 16-deep transposes), with exact zeros of both signs among the
 * values, and in the AVX2 family too, whose tiles compute the same chains. */
Test(sgemm, narrow_products_are_the_tile_arithmetic)
{
    static const int64_t at_m[] = {5, 16, 17, 64, 65, 130}, at_n[] = {1, 5, 6, 7, 10, 16};
    static const int64_t at_k[][2] = {{1, 0}, {3, 1}, {128, 64}, {256, 0}, {257, 100}, {600, 300}};
    static const int64_t sk_m[] = {5, 6, 7, 128}, sk_n[] = {1, 10, 17, 64, 65, 130}, sk_k[] = {1, 2, 10, 16};
    static const int64_t nn_m[] = {5, 63, 64, 65, 128, 130}, nn_n[] = {1, 5, 6, 7, 10, 16};
    static const int64_t nn_k[] = {17, 33, 64, 128, 255, 256};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.5f, -2.0f}};
    for (int isa = OC_ISA_AVX2; isa <= OC_ISA_AVX512; isa++) {
        if ((int)oc_cpu_set_isa(isa) != isa) continue;
        rng = 0x5eedull + (uint64_t)isa;
        for (int t = 0; t < 3 * 6 * 6 * 6; t++) {
            const int narrow_at = t < 6 * 6 * 6, narrow_n = t >= 2 * 6 * 6 * 6;
            const int u = t % (6 * 6 * 6);
            const int64_t M = narrow_at ? at_m[u % 6] : narrow_n ? nn_m[u % 6] : sk_m[u % 4];
            const int64_t N = narrow_at ? at_n[(u / 6) % 6] : narrow_n ? nn_n[(u / 6) % 6] : sk_n[(u / 6) % 6];
            const int64_t K =
                narrow_at ? at_k[(u / 36) % 6][0] : narrow_n ? nn_k[(u / 36) % 6] : sk_k[(u / 36) % 4];
            const int64_t kcut = narrow_at && u % 2 ? at_k[(u / 36) % 6][1] : 0;
            const int ta = narrow_at, tb = !narrow_at && u % 2, dense = !narrow_at && u % 3 == 0;
            const float alpha = dense || kcut ? 1.0f : ab[u % 3][0], beta = dense ? 0.0f : ab[u % 3][1];
            const int64_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
            float *A = rand_matrix(ta ? K : M, ta ? M : K, lda), *B = rand_matrix(tb ? N : K, tb ? K : N, ldb);
            float *C = rand_matrix(M, N, ldc), *bias = rand_matrix(1, N, N);
            float *want = malloc((size_t)M * (size_t)ldc * sizeof(float));
            for (int64_t e = 0; e < (ta ? K : M) * lda; e += 7) A[e] = e % 14 ? 0.0f : -0.0f;
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < ldc; j++)
                    want[i * ldc + j] = j >= N ? C[i * ldc + j]
                                               : chain_element(ta, tb, i, j, K, kcut, alpha, A, lda, B, ldb, beta,
                                                               C[i * ldc + j], dense ? bias : NULL, dense);
            if (dense) oc_sgemm_fast_dense(tb, M, N, K, A, lda, B, ldb, bias, OC_ACT_RELU, C, ldc, 1);
            else if (kcut) oc_sgemm_fast_cut(ta, tb, M, N, K, kcut, A, lda, B, ldb, beta, C, ldc, 1);
            else oc_sgemm_fast(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1);
            for (int64_t e = 0; e < M * ldc; e++)
                cr_assert(!memcmp(&C[e], &want[e], sizeof(float)),
                          "%s %s M=%lld N=%lld K=%lld kcut=%lld tb=%d alpha=%g beta=%g: C[%lld][%lld] = %a, "
                          "want %a",
                          oc_isa_name((oc_isa)isa), dense ? "fast_dense" : "fast", (long long)M, (long long)N,
                          (long long)K, (long long)kcut, tb, alpha, beta, (long long)(e / ldc), (long long)(e % ldc),
                          C[e], want[e]);
            free(A), free(B), free(C), free(bias), free(want);
        }
    }
    oc_cpu_set_isa(-1);
}

#else /* the kernels are not in this build yet */

Test(sgemm, kernels_not_built)
{
    cr_skip_test("runtime/kernels is not part of the build: add include(cmake/Kernels.cmake) "
                 "to CMakeLists.txt");
}

#endif

/*
 * The floating-point environment of training (runtime/fp_env.h):
 *
 *   - the trainer flushes subnormals by default (a subnormal input reads as
 *     zero, a subnormal result becomes zero) and keeps them with
 *     keep_denormals, in steps and in evaluation, at one thread and at two;
 *   - every trainer call gives the calling thread its floating-point state
 *     back, whichever state the caller had;
 *   - the parallel regions (OC_PAR_FOR, the GEMM drivers) run each chunk in
 *     the opening thread's state, so a product with subnormal inputs gives
 *     the same bits on 1 and 2 threads, and leave the pool's threads in
 *     their own state afterwards.
 *
 * Hand-computed references: the model y = x·W + b with x = [1e-40, 0]
 * (subnormal), W = [1e30, 0]ᵀ, b = 0 gives y = 1e-10 in IEEE arithmetic
 * and 0 with subnormals flushed; its mean squared error against 0 is 1e-20
 * or 0.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "fp_env.h"
#include "kernels/sgemm.h"
#include "onnxc.h"
#include "parallel.h"

#ifdef OC_FP_ENV_X86

#define SUBNORMAL 1e-40f

/* y = x·W + b, W [2, 1] = [1e30, 0], b = 0. */
static onnxc_model *tiny_model(void)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("2,1", 1, &m, &err), ONNXC_OK, "%s", err.message);
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        cr_assert_eq(onnxc_model_initializer(m, i, &v), ONNXC_OK);
        float *f = v.data;
        if (v.rank == 2) f[0] = 1e30f, f[1] = 0.0f;
        else f[0] = 0.0f;
    }
    return m;
}

static onnxc_trainer *tiny_trainer(onnxc_model *m, bool keep, int threads)
{
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.loss = ONNXC_LOSS_MSE;
    onnxc_optimizer_defaults(ONNXC_OPT_SGD, &o.optimizer);
    o.threads = threads;
    o.keep_denormals = keep;
    onnxc_trainer *t;
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_create(m, &o, &t, &err), ONNXC_OK, "%s", err.message);
    return t;
}

/* Loss of evaluate_batch and of a step on x = [1e-40, 0], target 0. */
static void losses(bool keep, int threads, double *eval, double *step)
{
    onnxc_model *m = tiny_model();
    onnxc_trainer *t = tiny_trainer(m, keep, threads);
    float x[2] = {SUBNORMAL, 0.0f}, y[1] = {0.0f};
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {1, 2}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {1, 1}, .data = y};
    onnxc_batch_result r;
    onnxc_error err;
    const oc_fp_env before = oc_fp_env_get();
    cr_assert_eq(onnxc_trainer_evaluate_batch(t, &xt, &yt, &r, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(oc_fp_env_get(), before, "evaluate_batch left MXCSR %#x, the caller had %#x", oc_fp_env_get(),
                 before);
    *eval = r.loss;
    cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &r, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(oc_fp_env_get(), before, "step left MXCSR %#x, the caller had %#x", oc_fp_env_get(), before);
    *step = r.loss;
    onnxc_trainer_free(t);
    onnxc_model_free(m);
}

Test(fp_env, trainer_flushes_subnormals_unless_asked_to_keep_them)
{
    for (int threads = 1; threads <= 2; threads++) {
        double eval, step;
        losses(false, threads, &eval, &step);
        cr_expect_eq(eval, 0.0, "%d thread(s), flushed: evaluate loss %g, expected 0", threads, eval);
        cr_expect_eq(step, 0.0, "%d thread(s), flushed: step loss %g, expected 0", threads, step);
        losses(true, threads, &eval, &step);
        /* 1e-40 is stored with ~5 significant digits (a subnormal). */
        cr_expect(fabs(eval / 1e-20 - 1) < 1e-4, "%d thread(s), kept: evaluate loss %g, expected 1e-20", threads, eval);
        cr_expect(fabs(step / 1e-20 - 1) < 1e-4, "%d thread(s), kept: step loss %g, expected 1e-20", threads, step);
    }
}

/* The pool threads a flushing step needs are created before it flushes:
 * afterwards they are in the state they were created in. A seed-model step
 * on 256 rows at 2 threads opens parallel regions (batch shards or GEMMs). */
Test(fp_env, a_first_step_leaves_new_pool_threads_in_the_callers_state)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec("784,64:relu,64:relu,10:softmax", 1, &m, &err), ONNXC_OK, "%s", err.message);
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.threads = 2;
    onnxc_trainer *t;
    cr_assert_eq(onnxc_trainer_create(m, &o, &t, &err), ONNXC_OK, "%s", err.message);
    enum { ROWS = 256 };
    float *x = calloc((size_t)ROWS * 784, sizeof *x);
    int64_t y[ROWS];
    cr_assert(x);
    for (int i = 0; i < ROWS * 784; i++) x[i] = (float)(i % 255) / 255.0f;
    for (int i = 0; i < ROWS; i++) y[i] = i % 10;
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {ROWS, 784}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {ROWS}, .data = y};
    onnxc_batch_result r;
    cr_assert_eq(onnxc_trainer_step(t, &xt, &yt, &r, &err), ONNXC_OK, "%s", err.message);
#ifdef _OPENMP
    oc_fp_env seen[2] = {0};
#pragma omp parallel num_threads(2)
    seen[omp_get_thread_num() & 1] = oc_fp_env_get();
    cr_expect_eq(seen[1] & OC_FP_ENV_FLUSH, 0u, "pool thread 1 has MXCSR %#x after the trainer's step", seen[1]);
#endif
    free(x);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
}

Test(fp_env, trainer_restores_a_caller_that_flushes_itself)
{
    const oc_fp_env own = oc_fp_env_swap(oc_fp_env_flushing(oc_fp_env_get()));
    double eval, step;
    losses(false, 1, &eval, &step); /* asserts MXCSR comes back as set here */
    cr_expect_eq(eval, 0.0);
    losses(true, 1, &eval, &step); /* keep: the caller's state, which flushes */
    cr_expect_eq(eval, 0.0, "keep_denormals runs in the caller's state: loss %g", eval);
    oc_fp_env_set(own);
}

/* C [M, N] = A [M, K] · B [K, N] on `threads` threads: A's first column
 * subnormal (1e-40 .. 8e-40), B's first row 1e38, every other value 1, so
 * C = K - 1 (+ 0.01 .. 0.08 where subnormals count). M*N*K = 2^21 is past
 * the GEMM's parallel threshold. */
#define GM 128
#define GN 128
#define GK 128
static void product(int threads, float *c)
{
    float *a = malloc(sizeof(float) * GM * GK), *b = malloc(sizeof(float) * GK * GN);
    cr_assert(a && b);
    for (int i = 0; i < GM * GK; i++) a[i] = i % GK == 0 ? SUBNORMAL * (float)(1 + (i / GK) % 8) : 1.0f;
    for (int i = 0; i < GK * GN; i++) b[i] = i < GN ? 1e38f : 1.0f; /* row 0 scales the subnormals up */
    oc_sgemm_fast(0, 0, GM, GN, GK, 1.0f, a, GK, b, GN, 0.0f, c, GN, threads);
    free(a);
    free(b);
}

Test(fp_env, gemm_workers_follow_the_calling_thread)
{
    static float c1[GM * GN], c2[GM * GN];
    const oc_fp_env own = oc_fp_env_swap(oc_fp_env_flushing(oc_fp_env_get()));
    product(1, c1);
    product(2, c2);
    oc_fp_env_set(own);
    /* Flushed, each element is the K - 1 ones; the subnormal column adds 0. */
    for (int i = 0; i < GM * GN; i++) {
        cr_assert_eq(c1[i], (float)(GK - 1), "1 thread: C[%d] = %.9g", i, c1[i]);
        cr_assert_eq(memcmp(&c1[i], &c2[i], sizeof(float)), 0, "C[%d]: %.9g on 1 thread, %.9g on 2", i, c1[i],
                     c2[i]);
    }
    /* In IEEE arithmetic the subnormals count and the two thread counts
     * still agree. */
    product(1, c1);
    product(2, c2);
    cr_assert_eq(memcmp(c1, c2, sizeof c1), 0);
    cr_assert_neq(c1[GN * (GM - 1)], (float)(GK - 1), "IEEE: the subnormal column should count");
}

Test(fp_env, par_for_chunks_run_in_the_callers_state_and_leave_the_pool_alone)
{
    volatile float tiny = SUBNORMAL;
    float out[4] = {1, 1, 1, 1};
    oc_fp_env_prime_pool(4); /* the pool's threads, created in IEEE state (new threads inherit it) */
    const oc_fp_env own = oc_fp_env_swap(oc_fp_env_flushing(oc_fp_env_get()));
    OC_PAR_FOR(4, c, { out[c] = tiny * (float)(c + 1); });
    for (int c = 0; c < 4; c++) cr_expect_eq(out[c], 0.0f, "chunk %d: %g, expected a flushed 0", c, out[c]);
#ifdef _OPENMP
    /* The pool's other threads are back in their own state (no flush). */
    oc_fp_env seen[4] = {0};
    int team = 0;
#pragma omp parallel num_threads(4)
    {
        const int i = omp_get_thread_num();
        if (i < 4) seen[i] = oc_fp_env_get();
#pragma omp single
        team = omp_get_num_threads();
    }
    for (int i = 1; i < team && i < 4; i++)
        cr_expect_eq(seen[i] & OC_FP_ENV_FLUSH, 0u, "pool thread %d kept MXCSR %#x from our region", i, seen[i]);
#endif
    oc_fp_env_set(own);
    OC_PAR_FOR(4, c, { out[c] = tiny * (float)(c + 1); });
    for (int c = 0; c < 4; c++) cr_expect_gt(out[c], 0.0f, "IEEE chunk %d flushed", c);
}

#else

Test(fp_env, not_x86_nothing_to_flush)
{
    cr_assert_eq(oc_fp_env_get(), 0u);
}

#endif

/*
 * Row cuts and batch shards (runtime/train/row_cut.c, shards.c): a step on
 * 128..512 rows of a graph whose rows are independent sums its parameter
 * gradients as (rows [0, cut)) + (rows [cut, n)), and with two threads runs
 * as two shards side by side.
 *
 *   - The cut step is the whole batch's step: 3 Adam steps of a small dense
 *     network (tf2onnx and PyTorch layouts) on 200 rows (100 + 100) and on
 *     131 rows (66 + 65) match torch float64 autograd on the whole batch
 *     (tests/tools/make_shard_cases.py), weight by weight, after every step,
 *     with one thread (unsharded, cut) and two (sharded).
 *   - Results are bit-identical for 1, 2 and 3 threads, and two threads did
 *     take the sharded path (so the comparison is between the two paths).
 *   - Graphs are not cut when rows are tied together (training-mode
 *     BatchNormalization, a reshape that pairs rows), when a mask is drawn
 *     over the batch (Dropout), or when a parameter's gradient does not come
 *     from a fused Dense layer; nor are batches outside 128..512 rows. They
 *     still train, with two threads.
 *   - A non-finite loss in the second shard stops the step with the weights
 *     untouched; a bad label there is reported with its batch index.
 *   - A batch gathered on two threads, one half each, is the batch.
 *   - A two-thread trainer that switches between shards (or ops split
 *     over the threads) and one thread mid-training (thread_tuner.h) keeps
 *     the bits of a one-thread run.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxc.h"
#include "testutil.h"
#include "dataset.h"
#include "row_cut.h"
#include "trainer.h"

#define GENERATOR ONNXC_SOURCE_DIR "/tests/tools/make_shard_cases.py"
#define WEIGHT_ATOL 2e-5

static char *cases_dir;

static void make_cases(void)
{
    char why[2048];
    cases_dir = tu_generate(GENERATOR, "shards", 300, why, sizeof why);
    cr_assert(cases_dir, "%s", why);
}

static void remove_cases(void)
{
    tu_rmtree(cases_dir);
    free(cases_dir);
}

/* cases_dir/NAME.SUFFIX.npy, SUFFIX a batch size or a weight's name. */
static onnxc_tensor npy(const char *name, const char *suffix)
{
    onnxc_tensor t;
    char why[512];
    cr_assert(tu_case_npy(cases_dir, name, suffix, &t, why, sizeof why), "%s", why);
    return t;
}

/* x.B or y.B: batch B of the generated cases. */
static onnxc_tensor batch_npy(const char *name, int batch)
{
    char b[16];
    snprintf(b, sizeof b, "%d", batch);
    return npy(name, b);
}

static onnxc_model *load(const char *name)
{
    char *path = tu_path("%s/%s", cases_dir, name);
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s", err.message);
    free(path);
    return m;
}

static onnxc_trainer *adam_trainer(onnxc_model *m, int threads)
{
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.threads = threads;
    onnxc_trainer *t;
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_create(m, &o, &t, &err), ONNXC_OK, "%s", err.message);
    return t;
}

static onnxc_tensor initializer(const onnxc_model *m, const char *name)
{
    onnxc_tensor v = {0};
    cr_assert(tu_initializer(m, name, &v), "no initializer '%s'", name);
    return v;
}

static void weights(const onnxc_model *m, char **data, size_t *size)
{
    cr_assert(tu_weight_bytes(m, data, size), "out of memory");
}

static void step(onnxc_trainer *t, const onnxc_tensor *x, const onnxc_tensor *y)
{
    onnxc_batch_result r;
    onnxc_error err;
    cr_assert_eq(onnxc_trainer_step(t, x, y, &r, &err), ONNXC_OK, "%s", err.message);
}

/* The cut of the trainer's plan for batch n (-1: no plan for n). */
static int64_t plan_cut(const onnxc_trainer *t, int64_t n)
{
    for (int i = 0; i < OC_PLAN_CACHE; i++)
        if (t->train_batch[i] == n) return t->train_cut[i];
    return -1;
}

/* Weight `name` of torch's reference, as the model stores it ([in, out];
 * [out, in] for the PyTorch layout). */
static void expect_weight(const onnxc_model *m, bool pt, int batch, int s, const char *name, int threads)
{
    char step_name[32];
    snprintf(step_name, sizeof step_name, "step_%d_%d", batch, s);
    onnxc_tensor want = npy(step_name, name);
    onnxc_tensor got = initializer(m, name);
    const float *w = want.data, *g = got.data;
    const size_t n = want.capacity / sizeof(float);
    const int64_t rows = want.rank == 2 ? want.dims[0] : 1, cols = want.rank == 2 ? want.dims[1] : (int64_t)n;
    cr_assert_eq(got.capacity, want.capacity);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            const float wv = w[r * cols + c], gv = pt && want.rank == 2 ? g[c * rows + r] : g[r * cols + c];
            cr_assert(fabsf(wv - gv) <= WEIGHT_ATOL,
                      "%s, batch %d, %d threads, step %d, %s[%lld, %lld]: torch %.8g, onnxc %.8g",
                      pt ? "dense_pt" : "dense", batch, threads, s, name, (long long)r, (long long)c, wv, gv);
        }
    free(want.data);
}

TestSuite(shards, .init = make_cases, .fini = remove_cases, .timeout = 300);

Test(shards, cut_steps_match_torch_on_the_whole_batch)
{
    static const char *const names[] = {"w0", "b0", "w1", "b1", "w2", "b2"};
    static const int batches[] = {200, 131};
    static const int64_t cuts[] = {100, 66};
    for (int pt = 0; pt < 2; pt++)
        for (int threads = 1; threads <= 2; threads++)
            for (size_t b = 0; b < 2; b++) {
                const int batch = batches[b];
                onnxc_model *m = load(pt ? "dense_pt.onnx" : "dense.onnx");
                onnxc_trainer *t = adam_trainer(m, threads);
                onnxc_tensor x = batch_npy("x", batch), y = batch_npy("y", batch);
                for (int s = 1; s <= 3; s++) {
                    step(t, &x, &y);
                    cr_assert_eq(plan_cut(t, batch), cuts[b], "batch %d: cut at %lld", batch,
                                 (long long)plan_cut(t, batch));
                    cr_assert_eq(t->sharded_steps, threads == 2 ? (uint64_t)s : 0,
                                 "%d threads: %llu sharded steps after %d", threads,
                                 (unsigned long long)t->sharded_steps, s);
                    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
                        expect_weight(m, pt, batch, s, names[k], threads);
                }
                free(x.data);
                free(y.data);
                onnxc_trainer_free(t);
                onnxc_model_free(m);
            }
}

Test(shards, bit_identical_for_one_two_and_three_threads)
{
    static const int batches[] = {200, 131};
    for (int pt = 0; pt < 2; pt++)
        for (size_t b = 0; b < 2; b++) {
            onnxc_tensor x = batch_npy("x", batches[b]), y = batch_npy("y", batches[b]);
            char *ref = NULL;
            size_t ref_size = 0;
            for (int threads = 1; threads <= 3; threads++) {
                onnxc_model *m = load(pt ? "dense_pt.onnx" : "dense.onnx");
                onnxc_trainer *t = adam_trainer(m, threads);
                /* The tuner's first window: all of them sharded. */
                for (int s = 0; s < OC_TUNE_EARLY; s++) step(t, &x, &y);
                /* One thread and three: unsharded, cut; two: sharded. */
                cr_assert_eq(t->sharded_steps, threads == 2 ? (uint64_t)OC_TUNE_EARLY : 0u);
                char *w;
                size_t size;
                weights(m, &w, &size);
                if (threads == 1) {
                    ref = w, ref_size = size;
                } else {
                    cr_assert(size == ref_size && !memcmp(w, ref, size),
                              "%s, batch %d: weights after %d steps differ between 1 and %d threads",
                              pt ? "dense_pt" : "dense", batches[b], OC_TUNE_EARLY, threads);
                    free(w);
                }
                onnxc_trainer_free(t);
                onnxc_model_free(m);
            }
            free(ref);
            free(x.data);
            free(y.data);
        }
}

Test(shards, graphs_that_tie_rows_or_draw_masks_are_not_cut)
{
    static const struct {
        const char *model, *why;
    } cases[] = {
        {"bn.onnx", "(BatchNormalization) may mix the rows"},
        {"reshape.onnx", "(Reshape) may mix the rows"},
        {"dropout.onnx", "(Dropout) draws random numbers"},
        {"lone_matmul.onnx", "(MatMul) computes the gradient of a parameter"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        onnxc_model *m = load(cases[c].model);
        onnxc_trainer *t = adam_trainer(m, 2);
        onnxc_tensor x, y;
        tu_random_batch(128, 6, 3, &x, &y);
        step(t, &x, &y);
        cr_expect_eq(plan_cut(t, 128), 0, "%s: a batch of 128 was cut", cases[c].model);
        cr_expect_eq(t->sharded_steps, 0u, "%s: a batch of 128 was sharded", cases[c].model);
        char why[256] = "";
        for (int i = 0; i < OC_PLAN_CACHE; i++)
            if (t->train_batch[i] == 128)
                oc_grad_row_cut(&t->train[i], t->is_param, t->params.total, why, sizeof why);
        cr_expect(strstr(why, cases[c].why) != NULL, "%s: expected '%s' in the reason, got '%s'", cases[c].model,
                  cases[c].why, why);
        free(x.data);
        free(y.data);
        onnxc_trainer_free(t);
        onnxc_model_free(m);
    }
}

Test(shards, batches_outside_the_cut_range_stay_whole)
{
    static const int batches[] = {127, 513};
    for (size_t b = 0; b < 2; b++) {
        onnxc_model *m = load("dense.onnx");
        onnxc_trainer *t = adam_trainer(m, 2);
        onnxc_tensor x, y;
        tu_random_batch(batches[b], 20, 5, &x, &y);
        step(t, &x, &y);
        cr_expect_eq(plan_cut(t, batches[b]), 0, "a batch of %d was cut", batches[b]);
        cr_expect_eq(t->sharded_steps, 0u);
        free(x.data);
        free(y.data);
        onnxc_trainer_free(t);
        onnxc_model_free(m);
    }
}

Test(shards, nan_in_the_second_shard_keeps_the_weights)
{
    for (int threads = 1; threads <= 2; threads++) {
        onnxc_model *m = load("dense.onnx");
        onnxc_trainer *t = adam_trainer(m, threads);
        onnxc_tensor x = batch_npy("x", 200), y = batch_npy("y", 200);
        step(t, &x, &y); /* builds the plans */
        ((float *)x.data)[150 * 20 + 3] = NAN;      /* row 150: the second shard */
        char *before, *after;
        size_t n0, n1;
        weights(m, &before, &n0);
        onnxc_batch_result r;
        onnxc_error err;
        onnxc_status st = onnxc_trainer_step(t, &x, &y, &r, &err);
        cr_expect_eq(st, ONNXC_ERR_NUMERIC, "%d threads: status %d (%s)", threads, st, err.message);
        cr_expect(strstr(err.message, "weights left as they were") != NULL, "%s", err.message);
        weights(m, &after, &n1);
        cr_expect(n0 == n1 && !memcmp(before, after, n0), "%d threads: the weights changed", threads);
        cr_expect_eq(onnxc_trainer_iterations(t), 1);
        free(before);
        free(after);
        free(x.data);
        free(y.data);
        onnxc_trainer_free(t);
        onnxc_model_free(m);
    }
}

Test(shards, a_bad_label_in_the_second_shard_names_its_sample)
{
    onnxc_model *m = load("dense.onnx");
    onnxc_trainer *t = adam_trainer(m, 2);
    onnxc_tensor x = batch_npy("x", 200), y = batch_npy("y", 200);
    ((int64_t *)y.data)[170] = 9;
    onnxc_batch_result r;
    onnxc_error err;
    cr_expect_eq(onnxc_trainer_step(t, &x, &y, &r, &err), ONNXC_ERR_SHAPE);
    cr_expect(strstr(err.message, "label 9 of sample 170") != NULL, "%s", err.message);
    free(x.data);
    free(y.data);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
}

/* fit() gathers a batch of 128..512 rows on two threads, one half each (the
 * rows each shard reads), and any batch on one thread, loading rows a few
 * ahead of the one it copies: the batch must be the same rows, in order,
 * from uint8 samples (scaled to [0, 1]) and from float samples. */
Test(shards, a_batch_gathered_in_halves_is_the_batch)
{
    enum { SAMPLES = 600, ELEMS = 7, ROWS = 131 };
    uint8_t *xd = malloc(SAMPLES * ELEMS);
    float *xf = malloc(SAMPLES * ELEMS * sizeof(float));
    int64_t *yd = malloc(SAMPLES * sizeof(int64_t));
    for (int i = 0; i < SAMPLES * ELEMS; i++) xd[i] = (uint8_t)(i * 37 % 251);
    for (int i = 0; i < SAMPLES * ELEMS; i++) xf[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < SAMPLES; i++) yd[i] = i % 10;
    onnxc_tensor x = {.dtype = ONNXC_UINT8, .rank = 2, .dims = {SAMPLES, ELEMS}, .data = xd};
    onnxc_tensor x_float = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {SAMPLES, ELEMS}, .data = xf};
    onnxc_tensor y = {.dtype = ONNXC_INT64, .rank = 1, .dims = {SAMPLES}, .data = yd};
    onnxc_dataset *ds, *ds_float;
    onnxc_error err;
    cr_assert_eq(onnxc_dataset_from_tensors(&x, &y, &ds, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_dataset_from_tensors(&x_float, &y, &ds_float, &err), ONNXC_OK, "%s", err.message);
    int64_t rows[ROWS];
    for (int i = 0; i < ROWS; i++) rows[i] = (int64_t)((i * 211 + 5) % SAMPLES);
    rows[ROWS - 1] = SAMPLES - 1; /* the dataset's last bytes */
    float bx[ROWS * ELEMS];
    int64_t by[ROWS];
    for (int threads = 1; threads <= 2; threads++) {
        memset(bx, 0, sizeof bx);
        oc_dataset_gather(ds, rows, ROWS, bx, by, threads);
        for (int r = 0; r < ROWS; r++) {
            cr_assert_eq(by[r], rows[r] % 10, "%d threads, row %d: label %lld", threads, r, (long long)by[r]);
            for (int e = 0; e < ELEMS; e++)
                cr_assert_eq(bx[r * ELEMS + e], (float)xd[rows[r] * ELEMS + e] / 255.0f,
                             "%d threads, row %d, element %d", threads, r, e);
        }
        memset(bx, 0, sizeof bx);
        oc_dataset_gather(ds_float, rows, ROWS, bx, by, threads);
        for (int r = 0; r < ROWS; r++)
            for (int e = 0; e < ELEMS; e++)
                cr_assert_eq(bx[r * ELEMS + e], xf[rows[r] * ELEMS + e], "float, %d threads, row %d, element %d",
                             threads, r, e);
    }
    onnxc_dataset_free(ds_float);
    free(xf);
    onnxc_dataset_free(ds);
    free(xd);
    free(yd);
}

Test(shards, switching_ways_mid_training_keeps_the_bits)
{
    /* 200 rows: shards, then one thread (a first window of OC_TUNE_EARLY
     * steps each); 100 rows (not cut): every op on two threads, then one
     * thread. */
    enum { STEPS = 2 * OC_TUNE_WINDOW + 8 };
    for (int b = 0; b < 2; b++) {
        onnxc_tensor x, y;
        if (b == 0) x = batch_npy("x", 200), y = batch_npy("y", 200);
        else tu_random_batch(100, 20, 5, &x, &y);
        char *w[2];
        size_t size[2];
        uint64_t sharded = 0;
        for (int threads = 1; threads <= 2; threads++) {
            onnxc_model *m = load("dense.onnx");
            onnxc_trainer *t = adam_trainer(m, threads);
            for (int s = 0; s < STEPS; s++) step(t, &x, &y);
            if (threads == 2) {
                sharded = t->sharded_steps;
                const oc_thread_tuner *tu = &t->tuner[0];
                cr_assert(tu->median[OC_WAY_PARALLEL] > 0 && tu->median[OC_WAY_ONE_THREAD] > 0,
                          "%lld rows: both ways were timed", (long long)x.dims[0]);
            }
            weights(m, &w[threads - 1], &size[threads - 1]);
            onnxc_trainer_free(t);
            onnxc_model_free(m);
        }
        if (b == 0) /* the first window ran as shards, then some steps on one thread */
            cr_assert(sharded >= OC_TUNE_EARLY && sharded <= STEPS - OC_TUNE_EARLY,
                      "%llu sharded steps of %d", (unsigned long long)sharded, STEPS);
        else
            cr_assert_eq(sharded, 0u);
        cr_assert(size[0] == size[1] && !memcmp(w[0], w[1], size[0]),
                  "%lld rows: weights after %d steps differ between 1 thread and 2 threads switching ways",
                  (long long)x.dims[0], STEPS);
        free(w[0]);
        free(w[1]);
        free(x.data);
        free(y.data);
    }
}

/* Each epoch log says how many of its steps a trainer with two threads ran
 * on one: all of them where its tuner may only run one thread, none where
 * it may only run shards, and none for a trainer with one thread. */
Test(shards, the_epoch_log_counts_the_steps_run_on_one_thread)
{
    enum { EPOCHS = 3 };
    onnxc_tensor x = batch_npy("x", 200), y = batch_npy("y", 200);
    onnxc_dataset *ds;
    onnxc_error err;
    cr_assert_eq(onnxc_dataset_from_tensors(&x, &y, &ds, &err), ONNXC_OK, "%s", err.message);
    for (int c = 0; c < 3; c++) {
        const int threads = c == 2 ? 1 : 2;
        const oc_way way = c == 0 ? OC_WAY_ONE_THREAD : OC_WAY_PARALLEL;
        onnxc_model *m = load("dense.onnx");
        onnxc_trainer *t = adam_trainer(m, threads);
        step(t, &x, &y); /* builds the plan, and its tuner, for 200 rows */
        for (int i = 0; i < OC_PLAN_CACHE; i++) {
            t->tuner[i].ways = 1u << way;
            t->tuner[i].way = way;
        }
        onnxc_fit_options o = {.epochs = EPOCHS, .batch_size = 200};
        onnxc_epoch_log log[EPOCHS];
        cr_assert_eq(onnxc_trainer_fit(t, ds, &o, log, EPOCHS, &err), ONNXC_OK, "%s", err.message);
        for (int e = 0; e < EPOCHS; e++)
            cr_expect_eq(log[e].one_thread_steps, c == 0 ? 1u : 0u, "%d threads, way %d, epoch %d: %zu", threads,
                         way, e + 1, log[e].one_thread_steps);
        onnxc_trainer_free(t);
        onnxc_model_free(m);
    }
    onnxc_dataset_free(ds);
    free(x.data);
    free(y.data);
}

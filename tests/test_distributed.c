/*
 * Data-parallel training through the public hook (onnxc_trainer_set_distributed),
 * with no MPI: N "ranks" are N threads in this process, each with its own
 * model and trainer, joined by an in-memory transport (below) that sums in
 * rank order, so every rank gets the same bits, as MPI_Allreduce gives.
 *
 * The property under test is the one the feature promises: training on N
 * ranks ends with the weights one process gets from the same seed and global
 * batch, to within float summation order (max abs difference <= 1e-6), for
 * even and uneven shards, for a final batch smaller than the number of ranks
 * (ranks without rows), for one gradient sum or one per tensor, with
 * validation and with checkpoint/resume. The single-process trainer this is
 * compared with is itself checked against PyTorch (test_parity_torch.c).
 * Failures: a NaN on one rank, a stop asked by rank 0's progress callback, a
 * setup error on one rank, ranks with different data: every rank returns the
 * same status and message, naming the rank where it happened, every rank
 * keeps the same weights, and the checkpoint of the last good epoch is kept.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "onnxc.h"
#include "testutil.h"

#define FEATURES 20
#define CLASSES 5
#define SPEC "20,16:relu,16:relu,5:softmax"
#define MAX_WORLD 4
#define TOLERANCE 1e-6

/* ---- in-memory transport ------------------------------------------------ */

typedef struct group {
    int world;
    pthread_barrier_t barrier;
    void *slot[MAX_WORLD];       /* each rank's buffer of the collective in progress */
    size_t count[MAX_WORLD];
    int mismatches;              /* collectives whose counts differed between ranks */
    int starts[MAX_WORLD], polls[MAX_WORLD];
    size_t first_counts[MAX_WORLD][16]; /* counts of the first 16 sums started */
} group;

typedef struct member {
    group *g;
    int rank;
} member;

typedef struct pending {
    float *data;
    size_t count;
} pending;

/* Sum `count` elements of `size` bytes (float or double) over the ranks, in
 * rank order, into every rank's buffer. Two barriers: all buffers are
 * published before anyone reads, all reads are done before anyone writes. */
static void sum_all(member *m, void *data, size_t count, bool is_double)
{
    group *g = m->g;
    g->slot[m->rank] = data;
    g->count[m->rank] = count;
    pthread_barrier_wait(&g->barrier);
    bool ok = true;
    for (int r = 0; r < g->world; r++) ok &= g->count[r] == count;
    size_t size = is_double ? sizeof(double) : sizeof(float);
    void *tmp = malloc(count * size + 1);
    for (size_t i = 0; ok && i < count; i++) {
        if (is_double) {
            double acc = 0.0;
            for (int r = 0; r < g->world; r++) acc += ((const double *)g->slot[r])[i];
            ((double *)tmp)[i] = acc;
        } else {
            float acc = 0.0f;
            for (int r = 0; r < g->world; r++) acc += ((const float *)g->slot[r])[i];
            ((float *)tmp)[i] = acc;
        }
    }
    pthread_barrier_wait(&g->barrier);
    if (ok) memcpy(data, tmp, count * size);
    else if (m->rank == 0) g->mismatches++;
    free(tmp);
}

static onnxc_status fake_start(void *user, float *data, size_t count, void **handle, onnxc_error *err)
{
    (void)err;
    member *m = user;
    pending *p = malloc(sizeof *p);
    *p = (pending){data, count};
    *handle = p;
    if (m->g->starts[m->rank] < 16) m->g->first_counts[m->rank][m->g->starts[m->rank]] = count;
    m->g->starts[m->rank]++;
    return ONNXC_OK;
}

static onnxc_status fake_wait(void *user, void *handle, onnxc_error *err)
{
    (void)err;
    pending *p = handle;
    sum_all(user, p->data, p->count, false);
    free(p);
    return ONNXC_OK;
}

static void fake_poll(void *user, void *handle)
{
    (void)handle;
    member *m = user;
    m->g->polls[m->rank]++;
}

static onnxc_status fake_doubles(void *user, double *data, size_t count, onnxc_error *err)
{
    (void)err;
    sum_all(user, data, count, true);
    return ONNXC_OK;
}

static onnxc_status fake_agree(void *user, onnxc_error *outcome)
{
    member *m = user;
    group *g = m->g;
    g->slot[m->rank] = outcome;
    pthread_barrier_wait(&g->barrier);
    onnxc_error first = {.status = ONNXC_OK};
    for (int r = 0; r < g->world; r++) {
        const onnxc_error *e = g->slot[r];
        if (e->status != ONNXC_OK) {
            first = *e;
            break;
        }
    }
    pthread_barrier_wait(&g->barrier);
    *outcome = first;
    return ONNXC_OK;
}

/* ---- fixtures ------------------------------------------------------------- */

/* x [n, 20] uniform in [-1, 1), y = argmax(x . P) for a fixed random P [20, 5]. */
static onnxc_dataset *make_data(size_t n, uint64_t seed)
{
    tu_rng r = {seed};
    float proj[FEATURES * CLASSES];
    for (int i = 0; i < FEATURES * CLASSES; i++) proj[i] = (float)tu_rng_uniform(&r, -1, 1);
    float *x = malloc(n * FEATURES * sizeof *x);
    int64_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        double score[CLASSES] = {0};
        for (int j = 0; j < FEATURES; j++) {
            x[i * FEATURES + j] = (float)tu_rng_uniform(&r, -1, 1);
            for (int c = 0; c < CLASSES; c++) score[c] += x[i * FEATURES + j] * proj[j * CLASSES + c];
        }
        y[i] = 0;
        for (int c = 1; c < CLASSES; c++)
            if (score[c] > score[y[i]]) y[i] = c;
    }
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {(int64_t)n, FEATURES}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {(int64_t)n}, .data = y};
    onnxc_dataset *ds;
    onnxc_error err;
    cr_assert_eq(onnxc_dataset_from_tensors(&xt, &yt, &ds, &err), ONNXC_OK, "%s", err.message);
    free(x);
    free(y);
    return ds;
}

/* One rank's (or the single process's) training run. */
typedef struct job {
    /* in */
    group *g;                    /* NULL: one process */
    const char *spec;            /* NULL: SPEC */
    uint64_t model_seed;         /* 0: 7 */
    int rank;
    onnxc_optimizer_kind optimizer;
    size_t bucket_bytes;
    onnxc_fit_options fit;
    const onnxc_dataset *data;
    int stop_at_step;            /* progress callback returns 1 after this step of epoch 1 (0: never) */
    bool poison_after_epoch1;    /* progress callback fills this rank's data with NaN after epoch 1 */
    /* out */
    onnxc_model *model;
    onnxc_status status;
    onnxc_error err;
    onnxc_epoch_log history[8];
    uint64_t iterations;
} job;

static int job_progress(void *user, int epoch, int epochs, size_t step, size_t steps, double loss,
                        double accuracy, const onnxc_epoch_log *log)
{
    (void)epochs, (void)steps, (void)loss, (void)accuracy;
    job *j = user;
    if (!log && epoch == 1 && (int)step == j->stop_at_step) return 1;
    if (log && log->epoch == 1 && j->poison_after_epoch1) {
        const onnxc_dataset *ds = j->data;
        float *x = (float *)ds->x; /* the rank's own copy, made for this test */
        for (size_t i = 0; i < ds->n * ds->sample_elems; i++) x[i] = NAN;
    }
    return 0;
}

static void *run_job(void *arg)
{
    job *j = arg;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(j->spec ? j->spec : SPEC, j->model_seed ? j->model_seed : 7, &j->model, &err),
                 ONNXC_OK, "%s", err.message);
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    onnxc_optimizer_defaults(j->optimizer, &o.optimizer);
    o.threads = 1;
    o.seed = 42;
    onnxc_trainer *t;
    cr_assert_eq(onnxc_trainer_create(j->model, &o, &t, &err), ONNXC_OK, "%s", err.message);
    member m = {j->g, j->rank};
    if (j->g) {
        onnxc_distributed d = {.rank = j->rank, .world_size = j->g->world, .user = &m,
                               .bucket_bytes = j->bucket_bytes, .allreduce_start = fake_start,
                               .allreduce_wait = fake_wait, .allreduce_poll = fake_poll,
                               .allreduce_doubles = fake_doubles, .agree = fake_agree};
        cr_assert_eq(onnxc_trainer_set_distributed(t, &d, &err), ONNXC_OK, "%s", err.message);
    }
    onnxc_fit_options fo = j->fit;
    if (j->stop_at_step || j->poison_after_epoch1) {
        fo.progress = job_progress;
        fo.progress_user = j;
    }
    j->status = onnxc_trainer_fit(t, j->data, &fo, j->history, 8, &j->err);
    j->iterations = onnxc_trainer_iterations(t);
    onnxc_trainer_free(t);
    return NULL;
}

/* Run `world` ranks as threads; jobs[r] filled by the caller except g, rank. */
static void run_group(job *jobs, int world)
{
    group *g = calloc(1, sizeof *g);
    g->world = world;
    pthread_barrier_init(&g->barrier, NULL, (unsigned)world);
    pthread_t th[MAX_WORLD];
    for (int r = 0; r < world; r++) {
        jobs[r].g = g;
        jobs[r].rank = r;
        pthread_create(&th[r], NULL, run_job, &jobs[r]);
    }
    for (int r = 0; r < world; r++) pthread_join(th[r], NULL);
    cr_assert_eq(g->mismatches, 0, "ranks made collective calls with different counts");
    for (int r = 0; r < world; r++) jobs[r].g = NULL; /* freed below */
    pthread_barrier_destroy(&g->barrier);
    free(g);
}

/* Largest |a - b| over every float initializer of two models of SPEC. */
static double max_diff(const onnxc_model *a, const onnxc_model *b)
{
    double worst = 0.0;
    cr_assert_eq(onnxc_model_initializer_count(a), onnxc_model_initializer_count(b));
    for (size_t i = 0; i < onnxc_model_initializer_count(a); i++) {
        onnxc_tensor va, vb;
        onnxc_model_initializer(a, i, &va);
        onnxc_model_initializer(b, i, &vb);
        if (va.dtype != ONNXC_FLOAT) continue;
        size_t n = 1;
        for (int d = 0; d < va.rank; d++) n *= (size_t)va.dims[d];
        for (size_t k = 0; k < n; k++) {
            double d = fabs((double)((const float *)va.data)[k] - ((const float *)vb.data)[k]);
            if (!(d <= worst)) worst = d; /* NaN counts as the worst */
        }
    }
    return worst;
}

static void free_jobs(job *jobs, int n)
{
    for (int i = 0; i < n; i++) onnxc_model_free(jobs[i].model);
}

/* Single process against `world` ranks, same seed and options. */
static void check_equivalent(int world, size_t n, onnxc_fit_options fit, onnxc_optimizer_kind opt,
                             size_t bucket_bytes)
{
    onnxc_dataset *data = make_data(n, 5);
    job single = {.optimizer = opt, .fit = fit, .data = data};
    run_job(&single);
    cr_assert_eq(single.status, ONNXC_OK, "single process: %s", single.err.message);
    job jobs[MAX_WORLD] = {{0}};
    for (int r = 0; r < world; r++)
        jobs[r] = (job){.optimizer = opt, .fit = fit, .data = data, .bucket_bytes = bucket_bytes};
    run_group(jobs, world);
    for (int r = 0; r < world; r++) {
        cr_assert_eq(jobs[r].status, ONNXC_OK, "rank %d: %s", r, jobs[r].err.message);
        cr_assert_eq(jobs[r].iterations, single.iterations);
        /* Every rank holds the same bits: the sums are the same everywhere. */
        cr_assert_eq(max_diff(jobs[r].model, jobs[0].model), 0.0, "rank %d's weights differ from rank 0's", r);
    }
    double d = max_diff(jobs[0].model, single.model);
    cr_log_info("world %d, n %zu, batch %d, bucket %zu: max |w_dist - w_single| = %.3g\n", world, n,
                fit.batch_size, bucket_bytes, d);
    cr_expect_leq(d, TOLERANCE, "world %d: max weight difference %.3g from one process", world, d);
    int epochs = fit.epochs > 0 ? fit.epochs : 1;
    for (int e = 0; e < epochs; e++) {
        const onnxc_epoch_log *a = &single.history[e], *b = &jobs[0].history[e];
        cr_expect_leq(fabs(a->loss - b->loss), 1e-5 * fabs(a->loss), "epoch %d loss %.9g vs %.9g", e + 1, a->loss,
                      b->loss);
        cr_expect_leq(fabs(a->accuracy - b->accuracy), 2.0 / (double)n, "epoch %d accuracy", e + 1);
        cr_expect_eq(a->has_validation, b->has_validation);
        if (a->has_validation) {
            cr_expect_leq(fabs(a->val_loss - b->val_loss), 1e-5 * fabs(a->val_loss), "epoch %d val_loss %.9g vs %.9g",
                          e + 1, a->val_loss, b->val_loss);
            cr_expect_leq(fabs(a->val_accuracy - b->val_accuracy), 2.0 / (double)n, "epoch %d val_accuracy", e + 1);
        }
    }
    free_jobs(&single, 1);
    free_jobs(jobs, world);
    onnxc_dataset_free(data);
}

/* ---- equivalence ---------------------------------------------------------- */

Test(distributed, two_ranks_equal_one_process_adam)
{
    check_equivalent(2, 512, (onnxc_fit_options){.epochs = 2, .batch_size = 32}, ONNXC_OPT_ADAM, 0);
}

Test(distributed, uneven_shards_and_final_batch_with_validation)
{
    /* 301 samples, 20% validation: 241 train = 7 batches of 32 + one of 17;
     * 3 ranks get 10/11/11 and 5/6/6 rows, validation 20/20/20. */
    check_equivalent(3, 301, (onnxc_fit_options){.epochs = 2, .batch_size = 32, .validation_split = 0.2},
                     ONNXC_OPT_ADAM, 0);
}

Test(distributed, ranks_without_rows_in_a_batch)
{
    /* 4 ranks, batch 3 and 31 samples: every batch leaves one rank without
     * rows, the last batch (1 row) leaves three. */
    check_equivalent(4, 31, (onnxc_fit_options){.epochs = 1, .batch_size = 3}, ONNXC_OPT_SGD, 0);
}

Test(distributed, one_sum_per_tensor_overlapping_backward)
{
    /* bucket_bytes 1: one bucket per parameter tensor, started during
     * backward (6 per step); the result is the same. */
    check_equivalent(2, 256, (onnxc_fit_options){.epochs = 1, .batch_size = 32}, ONNXC_OPT_ADAM, 1);
    check_equivalent(2, 256, (onnxc_fit_options){.epochs = 1, .batch_size = 32}, ONNXC_OPT_MOMENTUM, SIZE_MAX);
}

Test(distributed, buckets_start_last_layer_first_and_poll)
{
    onnxc_dataset *data = make_data(64, 5);
    job jobs[2] = {{0}};
    for (int r = 0; r < 2; r++)
        jobs[r] = (job){.optimizer = ONNXC_OPT_SGD, .fit = {.epochs = 1, .batch_size = 32}, .data = data,
                        .bucket_bytes = 1};
    group *g = calloc(1, sizeof *g);
    g->world = 2;
    pthread_barrier_init(&g->barrier, NULL, 2);
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        jobs[r].g = g;
        jobs[r].rank = r;
        pthread_create(&th[r], NULL, run_job, &jobs[r]);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) {
        cr_assert_eq(jobs[r].status, ONNXC_OK, "%s", jobs[r].err.message);
        /* 2 steps x 6 tensors (3 kernels, 3 biases) */
        cr_expect_eq(g->starts[r], 12, "rank %d started %d sums", r, g->starts[r]);
        /* Last layer first: b3 [5], W3 [16, 5], b2 [16], W2 [16, 16], b1 [16],
         * W1 [20, 16], each padded to a multiple of 16 floats. */
        static const size_t expect[6] = {16, 80, 16, 256, 16, 320};
        for (int i = 0; i < 6; i++)
            cr_expect_eq(g->first_counts[r][i], expect[i], "rank %d, sum %d: %zu floats, expected %zu", r, i,
                         g->first_counts[r][i], expect[i]);
        /* Sums were in flight while backward ran on: polled between steps. */
        cr_expect_gt(g->polls[r], 0, "rank %d never polled", r);
    }
    pthread_barrier_destroy(&g->barrier);
    free(g);
    free_jobs(jobs, 2);
    onnxc_dataset_free(data);
}

/* ---- failures --------------------------------------------------------------- */

/* Every rank failed with `status` and the same message, which contains `what`. */
static void expect_same_failure(job *jobs, int world, onnxc_status status, const char *what)
{
    for (int r = 0; r < world; r++) {
        cr_expect_eq(jobs[r].status, status, "rank %d: status %d (%s)", r, jobs[r].status, jobs[r].err.message);
        cr_expect_str_eq(jobs[r].err.message, jobs[0].err.message, "rank %d says something else", r);
        cr_expect(strstr(jobs[r].err.message, what) != NULL, "rank %d: '%s' lacks '%s'", r, jobs[r].err.message,
                  what);
        cr_expect_eq(jobs[r].iterations, jobs[0].iterations);
        cr_expect_eq(max_diff(jobs[r].model, jobs[0].model), 0.0, "rank %d's weights differ", r);
    }
}

Test(distributed, nan_on_one_rank_stops_all_and_keeps_the_checkpoint)
{
    char *dir = tu_tmpdir("dist-nan");
    char *ck = tu_path("%s/ck.onnx", dir), *ck1 = tu_path("%s/ck-rank1.onnx", dir);
    onnxc_dataset *copies[2] = {make_data(128, 5), make_data(128, 5)};
    job jobs[2] = {{0}};
    for (int r = 0; r < 2; r++)
        jobs[r] = (job){.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 3, .batch_size = 32}, .data = copies[r]};
    jobs[0].fit.checkpoint_path = ck;
    jobs[1].fit.checkpoint_path = ck1; /* only rank 0 writes */
    jobs[1].poison_after_epoch1 = true;
    run_group(jobs, 2);
    expect_same_failure(jobs, 2, ONNXC_ERR_NUMERIC, "rank 1: epoch 2, batch 1 of 4: step 5: the loss is NaN");
    cr_expect_eq(jobs[0].iterations, 4, "the failing step must not update");
    cr_expect(tu_exists(ck), "rank 0 wrote no checkpoint");
    cr_expect(!tu_exists(ck1), "rank 1 wrote a checkpoint");

    /* The checkpoint is epoch 1's: resuming it for 1 epoch trains nothing
     * and gives one process's weights after epoch 1. */
    onnxc_dataset *data = make_data(128, 5);
    job single = {.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 32}, .data = data};
    run_job(&single);
    job resumed = {.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 32, .resume_path = ck},
                   .data = data};
    run_job(&resumed);
    cr_assert_eq(resumed.status, ONNXC_OK, "%s", resumed.err.message);
    cr_expect_eq(resumed.iterations, 4);
    cr_expect_leq(max_diff(resumed.model, single.model), TOLERANCE);
    free_jobs(&single, 1);
    free_jobs(&resumed, 1);
    free_jobs(jobs, 2);
    onnxc_dataset_free(data);
    onnxc_dataset_free(copies[0]);
    onnxc_dataset_free(copies[1]);
    tu_rmtree(dir);
    free(ck);
    free(ck1);
    free(dir);
}

Test(distributed, progress_stop_on_rank_0_stops_every_rank)
{
    onnxc_dataset *data = make_data(256, 5);
    job jobs[2] = {{0}};
    for (int r = 0; r < 2; r++)
        jobs[r] = (job){.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 32}, .data = data};
    jobs[0].stop_at_step = 3;
    run_group(jobs, 2);
    expect_same_failure(jobs, 2, ONNXC_ERR_ARGUMENT, "rank 0: training stopped by the progress callback");
    /* As on one process: the 3 steps before the stop were taken. */
    cr_expect_eq(jobs[0].iterations, 3);
    free_jobs(jobs, 2);
    onnxc_dataset_free(data);
}

Test(distributed, setup_error_on_one_rank_stops_every_rank)
{
    onnxc_dataset *data = make_data(64, 5);
    job jobs[3] = {{0}};
    for (int r = 0; r < 3; r++)
        jobs[r] = (job){.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 8}, .data = data};
    jobs[2].fit.resume_path = "/nonexistent/ck.onnx";
    run_group(jobs, 3);
    expect_same_failure(jobs, 3, ONNXC_ERR_IO, "rank 2: ");
    cr_expect(strstr(jobs[0].err.message, "/nonexistent/ck.onnx") != NULL, "%s", jobs[0].err.message);
    cr_expect_eq(jobs[0].iterations, 0);
    free_jobs(jobs, 3);
    onnxc_dataset_free(data);
}

Test(distributed, ranks_with_different_data_or_options_are_refused)
{
    onnxc_dataset *a = make_data(64, 5), *b = make_data(64, 6);
    job jobs[2] = {{0}};
    for (int r = 0; r < 2; r++)
        jobs[r] = (job){.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 8}, .data = r ? b : a};
    run_group(jobs, 2);
    expect_same_failure(jobs, 2, ONNXC_ERR_ARGUMENT, "the 2 ranks' training or validation data differ");
    free_jobs(jobs, 2);

    for (int r = 0; r < 2; r++)
        jobs[r] = (job){.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 8}, .data = a};
    jobs[1].fit.batch_size = 16;
    run_group(jobs, 2);
    expect_same_failure(jobs, 2, ONNXC_ERR_ARGUMENT, "the 2 ranks' training options differ");
    cr_expect_eq(jobs[0].iterations, 0);
    free_jobs(jobs, 2);
    onnxc_dataset_free(a);
    onnxc_dataset_free(b);
}

Test(distributed, resume_equals_a_straight_run)
{
    char *dir = tu_tmpdir("dist-resume");
    char *ck = tu_path("%s/ck.onnx", dir);
    onnxc_dataset *data = make_data(200, 5);
    job straight = {.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 2, .batch_size = 32}, .data = data};
    run_job(&straight);
    job first[2] = {{0}}, second[2] = {{0}};
    for (int r = 0; r < 2; r++)
        first[r] = (job){.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 32, .checkpoint_path = ck},
                         .data = data};
    run_group(first, 2);
    for (int r = 0; r < 2; r++) {
        cr_assert_eq(first[r].status, ONNXC_OK, "%s", first[r].err.message);
        second[r] = (job){.optimizer = ONNXC_OPT_ADAM,
                          .fit = {.epochs = 2, .batch_size = 32, .checkpoint_path = ck, .resume_path = ck},
                          .data = data};
    }
    run_group(second, 2);
    for (int r = 0; r < 2; r++) cr_assert_eq(second[r].status, ONNXC_OK, "%s", second[r].err.message);
    cr_expect_eq(second[0].iterations, straight.iterations);
    double d = max_diff(second[0].model, straight.model);
    cr_log_info("resumed on 2 ranks vs straight on 1: max diff %.3g\n", d);
    cr_expect_leq(d, TOLERANCE);
    free_jobs(&straight, 1);
    free_jobs(first, 2);
    free_jobs(second, 2);
    onnxc_dataset_free(data);
    tu_rmtree(dir);
    free(ck);
    free(dir);
}

/* ---- the step API ------------------------------------------------------------ */

Test(distributed, set_distributed_checks_its_arguments)
{
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(SPEC, 7, &m, &err), ONNXC_OK);
    onnxc_trainer *t;
    cr_assert_eq(onnxc_trainer_create(m, NULL, &t, &err), ONNXC_OK);
    onnxc_distributed d = {.rank = 2, .world_size = 2, .allreduce_start = fake_start, .allreduce_wait = fake_wait,
                           .allreduce_doubles = fake_doubles, .agree = fake_agree};
    cr_expect_eq(onnxc_trainer_set_distributed(t, &d, &err), ONNXC_ERR_ARGUMENT);
    cr_expect(strstr(err.message, "rank 2 of 2") != NULL, "%s", err.message);
    d.rank = 0;
    d.agree = NULL;
    cr_expect_eq(onnxc_trainer_set_distributed(t, &d, &err), ONNXC_ERR_ARGUMENT);
    cr_expect_eq(onnxc_trainer_set_distributed(t, NULL, &err), ONNXC_OK);
    /* Not distributed: global_rows must match x. */
    float x[2 * FEATURES] = {0};
    int64_t y[2] = {0, 1};
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {2, FEATURES}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {2}, .data = y};
    cr_expect_eq(onnxc_trainer_step_distributed(t, &xt, &yt, 4, NULL, &err), ONNXC_ERR_ARGUMENT);
    cr_expect_eq(onnxc_trainer_step_distributed(t, &xt, &yt, 2, NULL, &err), ONNXC_OK, "%s", err.message);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
}

/* A one-rank group takes exactly the steps of a plain trainer: the loss
 * scale is 1 and the sum of one rank is the identity. */
Test(distributed, world_of_one_is_bit_identical)
{
    onnxc_dataset *data = make_data(96, 5);
    job single = {.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 32}, .data = data};
    run_job(&single);
    job one[1] = {
        {.optimizer = ONNXC_OPT_ADAM, .fit = {.epochs = 1, .batch_size = 32}, .data = data, .bucket_bytes = 1}};
    run_group(one, 1);
    cr_assert_eq(one[0].status, ONNXC_OK, "%s", one[0].err.message);
    cr_expect_eq(max_diff(one[0].model, single.model), 0.0);
    free_jobs(&single, 1);
    free_jobs(one, 1);
    onnxc_dataset_free(data);
}

/* The seed model (onnxc init 784,64:relu,64:relu,10:softmax, seed 1) for one
 * epoch on the first 6000 Fashion-MNIST training images, batch 32, Adam:
 * 2 ranks against one process. */
Test(distributed, seed_model_fashion_mnist_two_ranks)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    onnxc_dataset *all = NULL, *part = NULL;
    onnxc_error err;
    if (onnxc_dataset_load_idx(dir, "train", &all, &err) != ONNXC_OK)
        cr_skip_test("no Fashion-MNIST: %s", err.message);
    cr_assert_eq(oc_dataset_slice(all, 0, 6000, &part, &err), ONNXC_OK, "%s", err.message);
    onnxc_fit_options fit = {.epochs = 1, .batch_size = 32};
    job single = {.spec = "784,64:relu,64:relu,10:softmax", .model_seed = 1, .optimizer = ONNXC_OPT_ADAM,
                  .fit = fit, .data = part};
    run_job(&single);
    cr_assert_eq(single.status, ONNXC_OK, "%s", single.err.message);
    job jobs[2] = {{0}};
    for (int r = 0; r < 2; r++) jobs[r] = single, jobs[r].model = NULL;
    run_group(jobs, 2);
    for (int r = 0; r < 2; r++) cr_assert_eq(jobs[r].status, ONNXC_OK, "rank %d: %s", r, jobs[r].err.message);
    double d = max_diff(jobs[0].model, single.model);
    cr_log_info("seed model, 6000 Fashion-MNIST samples, 1 epoch: max |w_2ranks - w_1| = %.3g\n", d);
    cr_expect_leq(d, TOLERANCE, "max weight difference %.3g", d);
    cr_expect_leq(fabs(jobs[0].history[0].loss - single.history[0].loss), 1e-6, "loss %.9g vs %.9g",
                  jobs[0].history[0].loss, single.history[0].loss);
    free_jobs(&single, 1);
    free_jobs(jobs, 2);
    onnxc_dataset_free(part);
    onnxc_dataset_free(all);
}

/* A step that fails (a NaN row) leaves the trainer usable: the next step on
 * clean rows succeeds, on a one-rank group driven through the step API. */
Test(distributed, a_failed_step_leaves_the_trainer_usable)
{
    group *g = calloc(1, sizeof *g);
    g->world = 1;
    pthread_barrier_init(&g->barrier, NULL, 1);
    member m = {g, 0};
    onnxc_model *model;
    onnxc_error err;
    cr_assert_eq(onnxc_model_from_spec(SPEC, 7, &model, &err), ONNXC_OK);
    onnxc_trainer *t;
    cr_assert_eq(onnxc_trainer_create(model, NULL, &t, &err), ONNXC_OK);
    onnxc_distributed d = {.world_size = 1, .user = &m, .bucket_bytes = 1, .allreduce_start = fake_start,
                           .allreduce_wait = fake_wait, .allreduce_doubles = fake_doubles, .agree = fake_agree};
    cr_assert_eq(onnxc_trainer_set_distributed(t, &d, &err), ONNXC_OK);
    float x[4 * FEATURES];
    int64_t y[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4 * FEATURES; i++) x[i] = (float)(i % 7) / 7.0f;
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {4, FEATURES}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {4}, .data = y};
    x[3] = NAN;
    cr_expect_eq(onnxc_trainer_step(t, &xt, &yt, NULL, &err), ONNXC_ERR_NUMERIC);
    cr_expect(strstr(err.message, "rank 0: step 1: the loss is NaN") != NULL, "%s", err.message);
    cr_expect_eq(onnxc_trainer_iterations(t), 0);
    x[3] = 0.5f;
    cr_expect_eq(onnxc_trainer_step(t, &xt, &yt, NULL, &err), ONNXC_OK, "%s", err.message);
    cr_expect_eq(onnxc_trainer_iterations(t), 1);
    onnxc_trainer_free(t);
    onnxc_model_free(model);
    pthread_barrier_destroy(&g->barrier);
    free(g);
}

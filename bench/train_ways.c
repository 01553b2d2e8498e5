/*
 * The three ways a two-thread trainer can run a step (runtime/train/
 * thread_tuner.h), each forced, and the trainer choosing for itself, on the
 * same model and batches in one run:
 *
 *     one thread   the whole step on the calling thread
 *     shards       two threads, one half of the batch each (train/shards.h)
 *     columns      two threads, the first layer's columns split between them
 *                  (train/column_split.h); "n/a" where the model has no
 *                  such layer
 *     tuner        a second trainer, on its own copy of the model, whose
 *                  tuner picks the way as in training
 *
 * The figures quoted in thread_tuner.h come from here, and differ between
 * machines: which way wins depends on FMA width against the cost of moving
 * cache lines between the cores, and on whether the second core is free.
 *
 *     train_ways MODEL.onnx DATA_DIR [--batch B]... [--windows W] [--steps S]
 *                [--busy-core]
 *
 * For each batch size: windows of S steps (default 40) run each way in turn,
 * W times (default 15), so a change of load falls on all ways alike.
 * Batches are shuffled rows of DATA_DIR's training set, gathered before each
 * step and not timed. Prints, per batch and way, the median step time in
 * microseconds, its 10th and 90th percentiles, the mean step (which counts
 * the steps that wait for a descheduled thread; the median does not), and
 * the mean's speed-up over one thread. --busy-core keeps a thread spinning,
 * pinned to the machine's last CPU, for the whole run: another process
 * taking a core, as on a shared machine. The trainers start from the model's
 * weights; the steps train them (the file is not written).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "onnxc.h"
#include "train/dataset.h"
#include "train/thread_tuner.h"
#include "train/trainer.h"

#define MAX_BATCHES 8
#define ROWS 4 /* the three forced ways, then the tuner */
#define TUNER OC_WAYS

static const char *row_name[ROWS] = {"shards", "one thread", "columns", "tuner"};
static const int row_order[ROWS] = {OC_WAY_ONE_THREAD, OC_WAY_PARALLEL, OC_WAY_COLUMNS, TUNER};

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* --busy-core: a thread spinning on the last CPU until told to stop. */
static atomic_bool spin_on;

static void *spin(void *arg)
{
    (void)arg;
    volatile double x = 1.0;
    while (atomic_load_explicit(&spin_on, memory_order_relaxed)) x *= 1.0000001;
    return NULL;
}

static bool start_busy_core(pthread_t *th)
{
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    atomic_store(&spin_on, true);
    if (pthread_create(th, NULL, spin, NULL) != 0) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(cpus > 1 ? cpus - 1 : 0), &set);
    if (pthread_setaffinity_np(*th, sizeof set, &set) != 0)
        fprintf(stderr, "train_ways: could not pin the busy thread; it runs unpinned\n");
    return true;
}

static void stop_busy_core(pthread_t th)
{
    atomic_store(&spin_on, false);
    pthread_join(th, NULL);
}

typedef struct trainer_pair {
    onnxc_model *model[2];       /* [0] forced ways, [1] the tuner's own copy */
    onnxc_trainer *trainer[2];
} trainer_pair;

static void pair_free(trainer_pair *p)
{
    for (int i = 0; i < 2; i++) {
        onnxc_trainer_free(p->trainer[i]);
        onnxc_model_free(p->model[i]);
    }
}

static bool pair_create(const char *model_path, trainer_pair *p)
{
    onnxc_error err;
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.threads = 2;
    memset(p, 0, sizeof *p);
    for (int i = 0; i < 2; i++)
        if (onnxc_model_load(model_path, NULL, &p->model[i], &err) != ONNXC_OK ||
            onnxc_trainer_create(p->model[i], &o, &p->trainer[i], &err) != ONNXC_OK) {
            fprintf(stderr, "train_ways: %s\n", err.message);
            pair_free(p);
            return false;
        }
    return true;
}

static int run_batch(const char *model_path, const onnxc_dataset *ds, int batch, int windows, int steps)
{
    trainer_pair pair;
    if (!pair_create(model_path, &pair)) return 1;
    const size_t elems = onnxc_dataset_sample_elems(ds), n = onnxc_dataset_size(ds);
    float *x = malloc((size_t)batch * elems * sizeof(float));
    int64_t *y = malloc((size_t)batch * sizeof(int64_t)), *rows = malloc((size_t)batch * sizeof(int64_t));
    double *times[ROWS];
    size_t count[ROWS] = {0};
    bool have_memory = x && y && rows;
    for (int r = 0; r < ROWS; r++) {
        times[r] = malloc((size_t)windows * (size_t)steps * sizeof(double));
        have_memory = have_memory && times[r];
    }
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {batch, (int64_t)elems}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {batch}, .data = y};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    int rc = 0;
    if (!have_memory) {
        fprintf(stderr, "train_ways: out of memory for batch %d\n", batch);
        rc = 1;
    }
    bool columns = false;
    /* Window -1 builds the plans (and finds whether columns can split). */
    for (int window = -1; window < windows && !rc; window++) {
        for (int ri = 0; ri < ROWS && !rc; ri++) {
            const int row = row_order[ri];
            if (window >= 0 && row == OC_WAY_COLUMNS && !columns) continue;
            onnxc_trainer *t = pair.trainer[row == TUNER];
            for (int s = 0; s < (window < 0 ? 2 : steps); s++) {
                for (int i = 0; i < batch; i++) rows[i] = (int64_t)(next_random(&seed) % n);
                oc_dataset_gather(ds, rows, (size_t)batch, x, y, 2);
                if (window >= 0 && row != TUNER) oc_trainer_force_way(t, (oc_way)row);
                const double t0 = oc_seconds();
                onnxc_error err;
                onnxc_batch_result r;
                if (onnxc_trainer_step(t, &xt, &yt, &r, &err) != ONNXC_OK) {
                    fprintf(stderr, "train_ways: batch %d, %s: %s\n", batch, row_name[row], err.message);
                    rc = 1;
                    break;
                }
                if (window >= 0) times[row][count[row]++] = oc_seconds() - t0;
            }
            if (window < 0) columns = oc_trainer_columns_usable(pair.trainer[0]);
        }
    }
    double one = 0.0;
    for (int ri = 0; ri < ROWS && !rc; ri++) {
        const int row = row_order[ri];
        if (!count[row]) {
            printf("batch %4d  %-10s  n/a (the model has no layer to split)\n", batch, row_name[row]);
            continue;
        }
        double sum = 0.0;
        for (size_t i = 0; i < count[row]; i++) sum += times[row][i];
        const double mean = sum / (double)count[row];
        qsort(times[row], count[row], sizeof(double), by_value);
        if (row == OC_WAY_ONE_THREAD) one = mean;
        printf("batch %4d  %-10s  step %8.1f us  (p10 %7.1f, p90 %7.1f)  mean %8.1f us  %.2fx one thread\n", batch,
               row_name[row], times[row][count[row] / 2] * 1e6, times[row][count[row] / 10] * 1e6,
               times[row][count[row] * 9 / 10] * 1e6, mean * 1e6, one / mean);
    }
    for (int r = 0; r < ROWS; r++) free(times[r]);
    free(x);
    free(y);
    free(rows);
    pair_free(&pair);
    return rc;
}

int main(int argc, char **argv)
{
    int batches[MAX_BATCHES], nb = 0, windows = 15, steps = 40;
    bool busy_core = false;
    const char *model = NULL, *data = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc && nb < MAX_BATCHES) batches[nb++] = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--windows") && i + 1 < argc) windows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--busy-core")) busy_core = true;
        else if (!model) model = argv[i];
        else if (!data) data = argv[i];
        else {
            fprintf(stderr, "train_ways: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!model || !data || windows < 1 || steps < 1) {
        fprintf(stderr, "usage: train_ways MODEL.onnx DATA_DIR [--batch B]... [--windows W] [--steps S] "
                        "[--busy-core]\n");
        return 2;
    }
    for (int i = 0; i < nb; i++)
        if (batches[i] < 1) {
            fprintf(stderr, "train_ways: --batch needs a positive size, got %d\n", batches[i]);
            return 2;
        }
    if (!nb) {
        batches[nb++] = 32;
        batches[nb++] = 128;
        batches[nb++] = 256;
    }
    onnxc_error err;
    onnxc_dataset *ds;
    if (onnxc_dataset_load_idx(data, "train", &ds, &err) != ONNXC_OK) {
        fprintf(stderr, "train_ways: %s\n", err.message);
        return 1;
    }
    pthread_t busy;
    if (busy_core && !start_busy_core(&busy)) {
        fprintf(stderr, "train_ways: could not start the busy thread\n");
        onnxc_dataset_free(ds);
        return 1;
    }
    printf("train_ways: %s, %d windows of %d steps per way, medians%s\n", model, windows, steps,
           busy_core ? "; a thread spinning on the last CPU throughout" : "");
    int rc = 0;
    for (int i = 0; i < nb && !rc; i++) rc = run_batch(model, ds, batches[i], windows, steps);
    if (busy_core) stop_busy_core(busy);
    onnxc_dataset_free(ds);
    return rc;
}

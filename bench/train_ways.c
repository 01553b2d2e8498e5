/*
 * The three ways a two-thread trainer can run a step (runtime/train/
 * thread_tuner.h), each forced, on the same model and batches in one run:
 *
 *     one thread   the whole step on the calling thread
 *     shards       two threads, one half of the batch each (train/shards.h)
 *     columns      two threads, the first layer's columns split between them
 *                  (train/column_split.h); "n/a" where the model has no
 *                  such layer
 *
 * The tuner picks among them by timing them during training; this program
 * gives the same comparison as a table, so that the figures quoted in those
 * headers can be reproduced on any machine (they differ between machines:
 * which way wins depends on FMA width against the cost of moving cache lines
 * between the cores).
 *
 *     train_ways MODEL.onnx DATA_DIR [--batch B]... [--windows W] [--steps S]
 *
 * For each batch size: one trainer with two threads; windows of S steps
 * (default 40) run each way in turn, W times (default 15), so a change of
 * load on the shared machine falls on all ways alike. Batches are shuffled
 * rows of DATA_DIR's training set, gathered before each step and not timed.
 * Prints, per batch and way, the median step time in microseconds, its
 * 10th and 90th percentiles, and the speed-up over one thread. The trainer
 * starts from the model's weights; the steps train it (the file is not
 * written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onnxc.h"
#include "train/dataset.h"
#include "train/thread_tuner.h"
#include "train/trainer.h"

#define MAX_BATCHES 8

static const char *way_name[OC_WAYS] = {"shards", "one thread", "columns"};
static const oc_way way_order[OC_WAYS] = {OC_WAY_ONE_THREAD, OC_WAY_PARALLEL, OC_WAY_COLUMNS};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every cached train plan's tuner runs `way` only. */
static void force_way(onnxc_trainer *t, oc_way way)
{
    for (int i = 0; i < OC_PLAN_CACHE; i++) {
        t->tuner[i].ways = 1u << way;
        t->tuner[i].way = way;
    }
}

static bool columns_usable(const onnxc_trainer *t)
{
    for (int i = 0; i < OC_PLAN_CACHE; i++)
        if (t->train_batch[i] && t->split[i].usable) return true;
    return false;
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int run_batch(const char *model_path, const onnxc_dataset *ds, int batch, int windows, int steps)
{
    onnxc_error err;
    onnxc_model *m = NULL;
    onnxc_trainer *t = NULL;
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.threads = 2;
    if (onnxc_model_load(model_path, NULL, &m, &err) != ONNXC_OK ||
        onnxc_trainer_create(m, &o, &t, &err) != ONNXC_OK) {
        fprintf(stderr, "train_ways: %s\n", err.message);
        onnxc_model_free(m);
        return 1;
    }
    const size_t elems = onnxc_dataset_sample_elems(ds), n = onnxc_dataset_size(ds);
    float *x = malloc((size_t)batch * elems * sizeof(float));
    int64_t *y = malloc((size_t)batch * sizeof(int64_t)), *rows = malloc((size_t)batch * sizeof(int64_t));
    double *times[OC_WAYS];
    size_t count[OC_WAYS] = {0};
    bool have_memory = x && y && rows;
    for (int w = 0; w < OC_WAYS; w++) {
        times[w] = malloc((size_t)windows * (size_t)steps * sizeof(double));
        have_memory = have_memory && times[w];
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
    /* Step 0 builds the plans (and finds whether columns can split). */
    for (int window = -1; window < windows && !rc; window++) {
        for (int wi = 0; wi < OC_WAYS && !rc; wi++) {
            const oc_way way = way_order[wi];
            if (window >= 0 && way == OC_WAY_COLUMNS && !columns) continue;
            for (int s = 0; s < (window < 0 ? 2 : steps); s++) {
                for (int i = 0; i < batch; i++) rows[i] = (int64_t)(next_random(&seed) % n);
                oc_dataset_gather(ds, rows, (size_t)batch, x, y, 2);
                if (window >= 0) force_way(t, way);
                const double t0 = now_s();
                onnxc_batch_result r;
                if (onnxc_trainer_step(t, &xt, &yt, &r, &err) != ONNXC_OK) {
                    fprintf(stderr, "train_ways: batch %d, %s: %s\n", batch, way_name[way], err.message);
                    rc = 1;
                    break;
                }
                if (window >= 0) times[way][count[way]++] = now_s() - t0;
            }
            if (window < 0) {
                columns = columns_usable(t);
                break;
            }
        }
    }
    double one = 0.0;
    for (int wi = 0; wi < OC_WAYS && !rc; wi++) {
        const oc_way way = way_order[wi];
        if (!count[way]) {
            printf("batch %4d  %-10s  n/a (the model has no layer to split)\n", batch, way_name[way]);
            continue;
        }
        qsort(times[way], count[way], sizeof(double), by_value);
        const double med = times[way][count[way] / 2];
        if (way == OC_WAY_ONE_THREAD) one = med;
        printf("batch %4d  %-10s  step %8.1f us  (p10 %7.1f, p90 %7.1f)  %.2fx one thread\n", batch,
               way_name[way], med * 1e6, times[way][count[way] / 10] * 1e6, times[way][count[way] * 9 / 10] * 1e6,
               one / med);
    }
    for (int w = 0; w < OC_WAYS; w++) free(times[w]);
    free(x);
    free(y);
    free(rows);
    onnxc_trainer_free(t);
    onnxc_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    int batches[MAX_BATCHES], nb = 0, windows = 15, steps = 40;
    const char *model = NULL, *data = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc && nb < MAX_BATCHES) batches[nb++] = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--windows") && i + 1 < argc) windows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!model) model = argv[i];
        else if (!data) data = argv[i];
        else {
            fprintf(stderr, "train_ways: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!model || !data || windows < 1 || steps < 1) {
        fprintf(stderr, "usage: train_ways MODEL.onnx DATA_DIR [--batch B]... [--windows W] [--steps S]\n");
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
    printf("train_ways: %s, %d windows of %d steps per way, medians\n", model, windows, steps);
    int rc = 0;
    for (int i = 0; i < nb && !rc; i++) rc = run_batch(model, ds, batches[i], windows, steps);
    onnxc_dataset_free(ds);
    return rc;
}

/*
 * Where a one-thread training step's time goes: each forward step of the
 * train plan (a fused Dense layer is one step), each backward step, the loss
 * and the optimizer update (its NaN check included), summed over many steps
 * and printed per step next to the whole step's time, so that what the
 * parts leave out shows too.
 *
 *     train_anatomy MODEL.onnx DATA_DIR [--batch B] [--steps S]
 *
 * Batches are shuffled rows of DATA_DIR's training set (idx files), gathered
 * before each step and not timed. Two steps build the plan first, untimed.
 * The timers are the plan's and the trainer's own (plan.h step_seconds,
 * train_plan.h bstep_seconds, trainer.h phase_seconds): two clock reads
 * per op, ~50 ns, are in the figures. The weights train (the file is not
 * written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "onnxc.h"
#include "train/dataset.h"
#include "train/trainer.h"

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The train plan the trainer cached for `batch` rows, or NULL. */
static oc_train_plan *plan_for(onnxc_trainer *t, int batch)
{
    for (int i = 0; i < OC_PLAN_CACHE; i++)
        if (t->train_batch[i] == batch) return &t->train[i];
    return NULL;
}

static void print_row(const char *what, const char *name, double seconds, int steps, double step)
{
    const double us = seconds / steps * 1e6;
    printf("%-9s %-32s %9.2f us %6.1f%%\n", what, name, us, 100.0 * us / step);
}

int main(int argc, char **argv)
{
    int batch = 128, steps = 2000;
    const char *model_path = NULL, *data = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!model_path) model_path = argv[i];
        else if (!data) data = argv[i];
        else {
            fprintf(stderr, "train_anatomy: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!model_path || !data || batch < 1 || steps < 1) {
        fprintf(stderr, "usage: train_anatomy MODEL.onnx DATA_DIR [--batch B] [--steps S]\n");
        return 2;
    }
    onnxc_error err;
    onnxc_dataset *ds = NULL;
    onnxc_model *model = NULL;
    onnxc_trainer *t = NULL;
    onnxc_trainer_options o;
    onnxc_trainer_options_default(&o);
    o.threads = 1;
    if (onnxc_dataset_load_idx(data, "train", &ds, &err) != ONNXC_OK ||
        onnxc_model_load(model_path, NULL, &model, &err) != ONNXC_OK ||
        onnxc_trainer_create(model, &o, &t, &err) != ONNXC_OK) {
        fprintf(stderr, "train_anatomy: %s\n", err.message);
        onnxc_model_free(model);
        onnxc_dataset_free(ds);
        return 1;
    }
    const size_t elems = onnxc_dataset_sample_elems(ds), n = onnxc_dataset_size(ds);
    float *x = malloc((size_t)batch * elems * sizeof(float));
    int64_t *y = malloc((size_t)batch * sizeof(int64_t)), *rows = malloc((size_t)batch * sizeof(int64_t));
    double *fwd = NULL, *bwd = NULL, phase[2] = {0.0, 0.0}, whole = 0.0;
    oc_train_plan *tp = NULL;
    int rc = 0;
    if (!x || !y || !rows) {
        fprintf(stderr, "train_anatomy: out of memory for batch %d\n", batch);
        rc = 1;
    }
    onnxc_tensor xt = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {batch, (int64_t)elems}, .data = x};
    onnxc_tensor yt = {.dtype = ONNXC_INT64, .rank = 1, .dims = {batch}, .data = y};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int s = -2; s < steps && !rc; s++) {
        if (s == 0) { /* the plan exists now: time from here on */
            tp = plan_for(t, batch);
            fwd = tp ? calloc((size_t)tp->fwd.n_steps + 1, sizeof *fwd) : NULL;
            bwd = tp ? calloc((size_t)tp->n_bsteps + 1, sizeof *bwd) : NULL;
            if (!fwd || !bwd) {
                fprintf(stderr, "train_anatomy: no train plan for batch %d, or out of memory\n", batch);
                rc = 1;
                break;
            }
            tp->fwd.step_seconds = fwd;
            tp->bstep_seconds = bwd;
            t->phase_seconds = phase;
        }
        for (int i = 0; i < batch; i++) rows[i] = (int64_t)(next_random(&seed) % n);
        oc_dataset_gather(ds, rows, (size_t)batch, x, y, 1);
        onnxc_batch_result r;
        const double t0 = oc_seconds();
        if (onnxc_trainer_step(t, &xt, &yt, &r, &err) != ONNXC_OK) {
            fprintf(stderr, "train_anatomy: step %d: %s\n", s, err.message);
            rc = 1;
            break;
        }
        if (s >= 0) whole += oc_seconds() - t0;
    }
    if (!rc) {
        const double step = whole / steps * 1e6;
        double parts = phase[0] + phase[1];
        printf("train_anatomy: %s, batch %d, one thread, %d steps; per step:\n", model_path, batch, steps);
        for (int s = 0; s < tp->fwd.n_steps; s++) {
            const oc_node *node = tp->fwd.steps[s].node;
            print_row("forward", node->op_type, fwd[s], steps, step);
            parts += fwd[s];
        }
        print_row("loss", "", phase[0], steps, step);
        for (int i = 0; i < tp->n_bsteps; i++) {
            print_row("backward", tp->bsteps[i].fwd->node->op_type, bwd[i], steps, step);
            parts += bwd[i];
        }
        print_row("update", "optimizer, NaN check", phase[1], steps, step);
        print_row("other", "the step less its parts", whole - parts, steps, step);
        printf("%-9s %-32s %9.2f us\n", "step", "onnxc_trainer_step", step);
    }
    if (tp) {
        tp->fwd.step_seconds = NULL;
        tp->bstep_seconds = NULL;
    }
    t->phase_seconds = NULL;
    free(fwd);
    free(bwd);
    free(x);
    free(y);
    free(rows);
    onnxc_trainer_free(t);
    onnxc_model_free(model);
    onnxc_dataset_free(ds);
    return rc;
}

/*
 * onnxc bench's inputs, made from the model's declared input shapes: the
 * batch size goes into each input's first symbolic dim (a model without any
 * symbolic dim runs at its fixed first dim only). Values come from a
 * fixed-seed generator (the one bench/bench_onnxc.c uses), so two runs, or
 * two thread counts, see the same numbers.
 */
#ifndef ONNXC_CLI_BENCH_INPUTS_H
#define ONNXC_CLI_BENCH_INPUTS_H

#include <stddef.h>

#include "onnxc.h"

/* How one graph input is shaped for a batch size. */
typedef struct input_plan {
    onnxc_value_info info;
    int batch_axis;                /* dim that takes the batch size, or -1 */
} input_plan;

/* Element size of the dtypes bench can fill and compare; 0 for the rest. */
size_t bench_dtype_size(onnxc_dtype t);

/*
 * Decide each of the model's n inputs' batch axis (plans [n]). With symbolic
 * dims: the first one per input takes the batch; a second symbolic dim is
 * refused. Without any: *fixed_batch gets the first input's first dim (1
 * for scalars), else 0. Returns an EXIT_ code (cli.h), having printed why
 * on failure; `path` names the model in messages.
 */
int bench_plan_inputs(const char *path, const onnxc_model *m, input_plan *plans, size_t n,
                      long *fixed_batch);

/* Allocate and fill in [n] for `batch`: the same values for the same batch.
 * Returns an EXIT_ code; on failure nothing is left allocated. */
int bench_make_inputs(const char *path, const input_plan *plans, size_t n, long batch,
                      onnxc_tensor *in);

/* Free what bench_make_inputs allocated in in [n]. */
void bench_free_inputs(onnxc_tensor *in, size_t n);

#endif

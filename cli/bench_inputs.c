/* Synthetic inputs for onnxc bench (bench_inputs.h). */
#include "bench_inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Largest input onnxc bench allocates. */
#define MAX_INPUT_BYTES (2ull << 30)

size_t bench_dtype_size(onnxc_dtype t)
{
    switch (t) {
    case ONNXC_FLOAT: case ONNXC_INT32: case ONNXC_UINT32: return 4;
    case ONNXC_DOUBLE: case ONNXC_INT64: case ONNXC_UINT64: return 8;
    case ONNXC_INT16: case ONNXC_UINT16: case ONNXC_FLOAT16: case ONNXC_BFLOAT16: return 2;
    case ONNXC_INT8: case ONNXC_UINT8: case ONNXC_BOOL: return 1;
    default: return 0;
    }
}

static bool can_synthesize(onnxc_dtype t)
{
    return bench_dtype_size(t) && t != ONNXC_FLOAT16 && t != ONNXC_BFLOAT16;
}

/* A second symbolic dim is refused: its size would be a guess. */
int bench_plan_inputs(const char *path, const onnxc_model *m, input_plan *plans, size_t n, long *fixed_batch)
{
    bool any_symbolic = false;
    for (size_t k = 0; k < n; k++) {
        input_plan *p = &plans[k];
        onnxc_model_input(m, k, &p->info);
        p->batch_axis = -1;
        if (!can_synthesize(p->info.dtype)) {
            fprintf(stderr, "onnxc: error: %s: input '%s' has type %s; onnxc bench can only make float, "
                    "double, integer and bool inputs\n", path, p->info.name, onnxc_dtype_name(p->info.dtype));
            return EXIT_BAD_INPUT;
        }
        if (p->info.rank < 0) {
            fprintf(stderr, "onnxc: error: %s: input '%s' declares no shape; onnxc bench needs one to make "
                    "its data\n", path, p->info.name);
            return EXIT_BAD_INPUT;
        }
        for (int d = 0; d < p->info.rank; d++) {
            if (p->info.dims[d] >= 0) continue;
            if (p->batch_axis >= 0) {
                fprintf(stderr, "onnxc: error: %s: input '%s' has symbolic dims %d and %d; onnxc bench sizes "
                        "only one (the batch), expected one symbolic dim per input\n", path, p->info.name,
                        p->batch_axis, d);
                return EXIT_BAD_INPUT;
            }
            p->batch_axis = d;
            any_symbolic = true;
        }
    }
    *fixed_batch = 0;
    if (!any_symbolic) *fixed_batch = n && plans[0].info.rank > 0 ? (long)plans[0].info.dims[0] : 1;
    return EXIT_OK;
}

/* xorshift64, the generator of bench/bench_onnxc.c and bench/bench_ort.js. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void fill(onnxc_tensor *t, size_t count, uint64_t *state)
{
    for (size_t i = 0; i < count; i++) {
        uint64_t r = next_rand(state);
        double u = (double)(r >> 40) / 16777216.0; /* [0, 1), 24 bits */
        switch (t->dtype) {
        case ONNXC_FLOAT: ((float *)t->data)[i] = (float)u; break;
        case ONNXC_DOUBLE: ((double *)t->data)[i] = u; break;
        case ONNXC_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)(r >> 56); break;
        case ONNXC_INT8: ((int8_t *)t->data)[i] = (int8_t)(r >> 56); break;
        case ONNXC_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(r >> 63); break;
        case ONNXC_INT16: ((int16_t *)t->data)[i] = (int16_t)(r >> 62); break;
        case ONNXC_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)(r >> 62); break;
        case ONNXC_INT32: ((int32_t *)t->data)[i] = (int32_t)(r >> 62); break;
        case ONNXC_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)(r >> 62); break;
        case ONNXC_INT64: ((int64_t *)t->data)[i] = (int64_t)(r >> 62); break;
        case ONNXC_UINT64: ((uint64_t *)t->data)[i] = r >> 62; break;
        default: break;
        }
    }
}

void bench_free_inputs(onnxc_tensor *in, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(in[k].data);
        in[k].data = NULL;
    }
}

int bench_make_inputs(const char *path, const input_plan *plans, size_t n, long batch, onnxc_tensor *in)
{
    uint64_t state = 0x2545f4914f6cdd1dull;
    for (size_t k = 0; k < n; k++) {
        const onnxc_value_info *vi = &plans[k].info;
        onnxc_tensor *t = &in[k];
        memset(t, 0, sizeof *t);
        t->name = vi->name;
        t->dtype = vi->dtype;
        t->rank = vi->rank;
        uint64_t count = 1;
        for (int d = 0; d < vi->rank; d++) {
            t->dims[d] = d == plans[k].batch_axis ? batch : vi->dims[d];
            count *= (uint64_t)t->dims[d];
            if (count > MAX_INPUT_BYTES) break;
        }
        uint64_t bytes = count * bench_dtype_size(vi->dtype);
        if (count > MAX_INPUT_BYTES || bytes > MAX_INPUT_BYTES) {
            fprintf(stderr, "onnxc: error: %s: input '%s' at batch %ld would take more than %llu bytes\n", path,
                    vi->name, batch, (unsigned long long)MAX_INPUT_BYTES);
            bench_free_inputs(in, k);
            return EXIT_BAD_INPUT;
        }
        t->data = malloc(bytes ? (size_t)bytes : 1);
        if (!t->data) {
            fprintf(stderr, "onnxc: error: out of memory for input '%s' (%llu bytes)\n", vi->name,
                    (unsigned long long)bytes);
            bench_free_inputs(in, k);
            return EXIT_BAD_INPUT;
        }
        fill(t, (size_t)count, &state);
    }
    return EXIT_OK;
}


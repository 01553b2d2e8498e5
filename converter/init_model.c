/*
 * onnxc_model_from_spec: a fresh dense network, initialized the way Keras
 * initializes Dense layers (Glorot-uniform kernels, zero biases), built in
 * the tf2onnx layout by dense_builder.c and loaded like any other model.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "dense_builder.h"
#include "error.h"
#include "rng.h"
#include "spec.h"

/* Layer names follow Keras' automatic naming: dense, dense_1, dense_2 ... */
#define NAME_SIZE 24

/*
 * Glorot-uniform: U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)).
 * Each draw is the top 24 bits of a splitmix64 value, so every float in
 * [-limit, limit) on a 2^-23 * limit grid is equally likely.
 */
static void glorot_fill(float *w /* [in, out] */, int64_t in, int64_t out, uint64_t *state)
{
    float limit = (float)sqrt(6.0 / (double)(in + out));
    size_t n = (size_t)in * (size_t)out;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(oc_rng_next(state) >> 40) * 0x1p-23 - 1.0;  /* [-1, 1) */
        w[i] = (float)u * limit;
    }
}

/* Float counts of all kernels and biases; refuses sizes past the default
 * load limits, which the model would fail anyway. */
static onnxc_status spec_sizes(const oc_spec *s, const char *spec, size_t *total_floats,
                               onnxc_error *err)
{
    onnxc_limits lim;
    onnxc_limits_default(&lim);
    uint64_t total = 0;
    int64_t in = s->input;
    for (int i = 0; i < s->n_layers; i++) {
        uint64_t k = (uint64_t)in * (uint64_t)s->layers[i].units;  /* < 2^48 */
        if (k * sizeof(float) > lim.max_tensor_bytes)
            return oc_fail(err, ONNXC_ERR_LIMIT,
                           "spec '%.200s': layer %d kernel [%lld, %lld] takes %llu bytes; max_tensor_bytes is %llu",
                           spec, i + 1, (long long)in, (long long)s->layers[i].units,
                           (unsigned long long)(k * sizeof(float)),
                           (unsigned long long)lim.max_tensor_bytes);
        total += k + (uint64_t)s->layers[i].units;
        in = s->layers[i].units;
    }
    if (total * sizeof(float) > lim.max_total_bytes || total > SIZE_MAX / sizeof(float))
        return oc_fail(err, ONNXC_ERR_LIMIT, "spec '%.200s': %llu parameters exceed max_total_bytes (%llu)",
                       spec, (unsigned long long)total, (unsigned long long)lim.max_total_bytes);
    *total_floats = (size_t)total;
    return ONNXC_OK;
}

onnxc_status onnxc_model_from_spec(const char *spec, uint64_t seed, onnxc_model **out,
                                   onnxc_error *err)
{
    if (!spec || !out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_from_spec: NULL argument");
    *out = NULL;
    oc_error_clear(err);
    oc_spec s;
    OC_TRY(oc_spec_parse(spec, &s, err));
    size_t total = 0;
    onnxc_status st = spec_sizes(&s, spec, &total, err);
    if (st != ONNXC_OK) {
        oc_spec_free(&s);
        return st;
    }
    float *params = oc_calloc(total, sizeof(float));       /* kernels and zero biases */
    oc_db_layer *layers = oc_calloc((size_t)s.n_layers, sizeof *layers);
    char (*names)[NAME_SIZE] = oc_calloc((size_t)s.n_layers, sizeof *names);
    size_t label_size = strlen(spec) + 6;
    char *label = oc_malloc(label_size);
    if (!params || !layers || !names || !label) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "spec '%.200s': out of memory for %zu parameters", spec, total);
        goto done;
    }
    uint64_t state = seed;
    float *p = params;
    int64_t in = s.input;
    for (int i = 0; i < s.n_layers; i++) {
        oc_db_layer *l = &layers[i];
        int64_t units = s.layers[i].units;
        if (i == 0) snprintf(names[i], NAME_SIZE, "dense");
        else snprintf(names[i], NAME_SIZE, "dense_%d", i);
        l->kind = OC_DB_DENSE;
        l->name = names[i];
        oc_act_parse(oc_act_name(s.layers[i].act), &l->act);
        l->units = units;
        l->kernel = p;
        glorot_fill(p, in, units, &state);
        p += (size_t)in * (size_t)units;
        l->bias = p;
        p += (size_t)units;
        in = units;
    }
    char doc[320];
    snprintf(doc, sizeof doc, "onnxc_model_from_spec(\"%.200s\", seed %llu)", spec,
             (unsigned long long)seed);
    oc_db_model m = {
        .graph_name = "onnxc",
        .input_name = "input",
        .doc_string = doc,
        .in_rank = 1,
        .in_dims = {s.input},
        .layers = layers,
        .n_layers = (size_t)s.n_layers,
    };
    void *bytes = NULL;
    size_t size = 0;
    st = oc_db_build(&m, &bytes, &size, err);
    if (st == ONNXC_OK) {
        snprintf(label, label_size, "spec:%s", spec);
        st = onnxc_model_load_memory(bytes, size, NULL, label, NULL, out, err);
        oc_free(bytes);
    }
done:
    oc_free(label);
    oc_free(names);
    oc_free(layers);
    oc_free(params);
    oc_spec_free(&s);
    return st;
}

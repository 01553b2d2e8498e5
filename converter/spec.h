/*
 * The dense-network spec of onnxc_model_from_spec and of --arch for
 * weights-only Keras files:
 *
 *     "784,64:relu,64:relu,10:softmax"
 *
 * the input width, then one "units[:activation]" per Dense layer (default
 * activation linear). Spaces around tokens are allowed.
 */
#ifndef OC_SPEC_H
#define OC_SPEC_H

#include <stdint.h>

#include "dense_builder.h"
#include "onnxc.h"

/* Largest input width or unit count a spec may name (2^24). */
#define OC_SPEC_MAX_WIDTH (INT64_C(1) << 24)
/* Most Dense layers a spec may hold. */
#define OC_SPEC_MAX_LAYERS 4096

typedef struct oc_spec_layer {
    int64_t units;
    oc_act_kind act;
} oc_spec_layer;

typedef struct oc_spec {
    int64_t input;                    /* input width */
    int n_layers;
    oc_spec_layer *layers;            /* [n_layers], oc_malloc'd */
} oc_spec;

/* Parse `text`; errors quote the spec and the offending token. On success
 * free with oc_spec_free. */
onnxc_status oc_spec_parse(const char *text, oc_spec *out, onnxc_error *err);
void oc_spec_free(oc_spec *spec);

#endif

/*
 * onnxc_dataset internals. Samples stay in their stored type (uint8 pixels
 * or float) and are converted one batch at a time by oc_dataset_gather.
 */
#ifndef OC_DATASET_H
#define OC_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "onnxc.h"

struct onnxc_dataset {
    size_t n;                    /* samples */
    onnxc_dtype x_type;          /* ONNXC_UINT8 (scaled by 1/255) or ONNXC_FLOAT */
    int x_rank;                  /* per-sample rank (28x28 -> 2) */
    int64_t x_dims[ONNXC_MAX_RANK]; /* per-sample dims */
    size_t sample_elems;
    const void *x;               /* [n, sample_elems] in x_type */
    onnxc_dtype y_type;          /* ONNXC_INT64 labels or ONNXC_FLOAT targets */
    size_t label_elems;          /* 1 for labels, k for targets */
    const void *y;               /* [n, label_elems] in y_type */
    size_t classes;              /* max label + 1, or label_elems for float targets */
    void *owned_x, *owned_y;     /* freed with the dataset (NULL for slices) */
};

/* x_out [n_rows, sample_elems] float; y_out [n_rows, label_elems] of y_type. */
void oc_dataset_gather(const onnxc_dataset *ds, const int64_t *rows, size_t n_rows, float *x_out,
                       void *y_out, int nthreads);

/* Samples [begin, end) as a dataset sharing ds's memory; free it before ds. */
onnxc_status oc_dataset_slice(const onnxc_dataset *ds, size_t begin, size_t end, onnxc_dataset **out,
                              onnxc_error *err);

#endif

/* onnxc_dataset: idx folders, .npy pairs or caller tensors, gathered per batch. */
#include "dataset.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "data_idx.h"
#include "error.h"
#include "kernels/convert_u8.h"
#include "parallel.h"
#include "row_cut.h"
#include "tensor.h"

void onnxc_dataset_free(onnxc_dataset *ds)
{
    if (!ds) return;
    oc_aligned_free(ds->owned_x);
    oc_aligned_free(ds->owned_y);
    oc_free(ds);
}

size_t onnxc_dataset_size(const onnxc_dataset *ds) { return ds ? ds->n : 0; }
size_t onnxc_dataset_sample_elems(const onnxc_dataset *ds) { return ds ? ds->sample_elems : 0; }
size_t onnxc_dataset_label_elems(const onnxc_dataset *ds) { return ds ? ds->label_elems : 0; }
size_t onnxc_dataset_classes(const onnxc_dataset *ds) { return ds ? ds->classes : 0; }

onnxc_status oc_dataset_slice(const onnxc_dataset *ds, size_t begin, size_t end, onnxc_dataset **out,
                              onnxc_error *err)
{
    if (begin > end || end > ds->n) return oc_fail(err, ONNXC_ERR_ARGUMENT, "dataset slice out of range");
    onnxc_dataset *s = oc_malloc(sizeof *s);
    if (!s) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    *s = *ds;
    s->owned_x = s->owned_y = NULL;
    s->n = end - begin;
    size_t xsize = ds->x_type == ONNXC_UINT8 ? 1 : sizeof(float);
    size_t ysize = ds->y_type == ONNXC_INT64 ? sizeof(int64_t) : sizeof(float);
    s->x = (const char *)ds->x + begin * ds->sample_elems * xsize;
    s->y = (const char *)ds->y + begin * ds->label_elems * ysize;
    *out = s;
    return ONNXC_OK;
}

/* Rows ahead of the one being copied whose loads are already started. A
 * shuffled row is a few hundred bytes somewhere in a dataset far larger than
 * the caches: copied one after the other, each row waits a whole memory
 * latency. Prefetched a few rows ahead, those waits overlap: a 128-row
 * Fashion-MNIST batch gathers in ~25 us instead of ~55 on this project's VMs
 * (2 to 16 rows ahead all do about as well; 32 starts to evict). */
#define GATHER_AHEAD 4

static void prefetch_row(const char *p, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
    __builtin_prefetch(p + bytes - 1, 0, 3);
}

static void gather_rows(const onnxc_dataset *ds, const int64_t *rows, size_t r0, size_t r1, float *x_out,
                        void *y_out)
{
    const size_t e = ds->sample_elems;
    const size_t row_bytes = e * (ds->x_type == ONNXC_UINT8 ? 1 : sizeof(float));
    for (size_t r = r0; r < r1 && r < r0 + GATHER_AHEAD; r++)
        prefetch_row((const char *)ds->x + (size_t)rows[r] * row_bytes, row_bytes);
    for (size_t r = r0; r < r1; r++) {
        if (r + GATHER_AHEAD < r1)
            prefetch_row((const char *)ds->x + (size_t)rows[r + GATHER_AHEAD] * row_bytes, row_bytes);
        size_t row = (size_t)rows[r];
        if (ds->x_type == ONNXC_UINT8) {
            const uint8_t *src = (const uint8_t *)ds->x + row * e;
            float *dst = x_out + r * e;
            oc_u8_to_unit_float(src, dst, (int64_t)e);
        } else {
            memcpy(x_out + r * e, (const float *)ds->x + row * e, e * sizeof(float));
        }
        if (ds->y_type == ONNXC_INT64)
            ((int64_t *)y_out)[r] = ((const int64_t *)ds->y)[row];
        else
            memcpy((float *)y_out + r * ds->label_elems, (const float *)ds->y + row * ds->label_elems,
                   ds->label_elems * sizeof(float));
    }
}

void oc_dataset_gather(const onnxc_dataset *ds, const int64_t *rows, size_t n_rows, float *x_out,
                       void *y_out, int nthreads)
{
    /* A batch is a few hundred KB: one thread streams it fastest, except
     * for the two halves of a batch that two threads train as shards
     * (train/shards.h): each thread writes the rows its shard reads, so
     * they are in its own cache when the step starts. */
    const bool halves = nthreads == 2 && n_rows >= 2 * OC_CUT_MIN_ROWS && n_rows <= 2 * OC_CUT_MAX_ROWS;
    const size_t cut = (n_rows + 1) / 2;
    OC_PAR_FOR(halves ? 2 : 1, part, {
        if (!halves) gather_rows(ds, rows, 0, n_rows, x_out, y_out);
        else gather_rows(ds, rows, part ? cut : 0, part ? n_rows : cut, x_out, y_out);
    });
}

/* Takes ownership-free copies of x and y into the dataset's own formats:
 * x stays uint8 when it is uint8, otherwise becomes float; y becomes int64
 * labels when it holds integers in one column, else float targets. */
static onnxc_status build(const onnxc_tensor *x, const onnxc_tensor *y, const char *label,
                          onnxc_dataset **out, onnxc_error *err)
{
    if (x->rank < 1 || y->rank < 1)
        return oc_fail(err, ONNXC_ERR_SHAPE, "%s: x and y need a leading sample dim", label);
    if (x->dims[0] != y->dims[0])
        return oc_fail(err, ONNXC_ERR_SHAPE, "%s: x has %lld samples, y has %lld", label,
                       (long long)x->dims[0], (long long)y->dims[0]);
    onnxc_dataset *ds = oc_calloc(1, sizeof *ds);
    if (!ds) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    ds->n = (size_t)x->dims[0];
    ds->x_rank = x->rank - 1;
    ds->sample_elems = 1;
    for (int d = 1; d < x->rank; d++) {
        ds->x_dims[d - 1] = x->dims[d];
        ds->sample_elems *= (size_t)x->dims[d];
    }
    ds->label_elems = 1;
    for (int d = 1; d < y->rank; d++) ds->label_elems *= (size_t)y->dims[d];
    size_t nx = ds->n * ds->sample_elems, ny = ds->n * ds->label_elems;
    oc_tensor xt = {.dtype = x->dtype, .data = x->data}, yt = {.dtype = y->dtype, .data = y->data};
    onnxc_status st = ONNXC_OK;
    if (x->dtype == ONNXC_UINT8) {
        ds->x_type = ONNXC_UINT8;
        ds->owned_x = oc_aligned_alloc(nx ? nx : 1);
        if (ds->owned_x) memcpy(ds->owned_x, x->data, nx);
    } else if (x->dtype == ONNXC_FLOAT || x->dtype == ONNXC_DOUBLE || x->dtype == ONNXC_INT32 ||
               x->dtype == ONNXC_INT64) {
        ds->x_type = ONNXC_FLOAT;
        ds->owned_x = oc_aligned_alloc((nx ? nx : 1) * sizeof(float));
        if (ds->owned_x)
            for (size_t i = 0; i < nx; i++) ((float *)ds->owned_x)[i] = (float)oc_tensor_get_double(&xt, (int64_t)i);
    } else {
        st = oc_fail(err, ONNXC_ERR_SHAPE, "%s: x has dtype %s; expected uint8 or a number type", label,
                     onnxc_dtype_name(x->dtype));
    }
    bool integral = ds->label_elems == 1 && y->dtype != ONNXC_BOOL;
    for (size_t i = 0; st == ONNXC_OK && integral && i < ny; i++) {
        double v = oc_tensor_get_double(&yt, (int64_t)i);
        if (v != floor(v) || v < 0) integral = false;
    }
    if (st == ONNXC_OK && integral) {
        ds->y_type = ONNXC_INT64;
        ds->owned_y = oc_aligned_alloc((ny ? ny : 1) * sizeof(int64_t));
        for (size_t i = 0; ds->owned_y && i < ny; i++) {
            int64_t v = (int64_t)oc_tensor_get_double(&yt, (int64_t)i);
            ((int64_t *)ds->owned_y)[i] = v;
            if ((size_t)v + 1 > ds->classes) ds->classes = (size_t)v + 1;
        }
    } else if (st == ONNXC_OK) {
        ds->y_type = ONNXC_FLOAT;
        ds->classes = ds->label_elems;
        ds->owned_y = oc_aligned_alloc((ny ? ny : 1) * sizeof(float));
        for (size_t i = 0; ds->owned_y && i < ny; i++)
            ((float *)ds->owned_y)[i] = (float)oc_tensor_get_double(&yt, (int64_t)i);
    }
    if (st == ONNXC_OK && (!ds->owned_x || !ds->owned_y))
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %zu samples", label, ds->n);
    if (st != ONNXC_OK) {
        onnxc_dataset_free(ds);
        return st;
    }
    ds->x = ds->owned_x;
    ds->y = ds->owned_y;
    *out = ds;
    return ONNXC_OK;
}

onnxc_status onnxc_dataset_from_tensors(const onnxc_tensor *x, const onnxc_tensor *y,
                                        onnxc_dataset **out, onnxc_error *err)
{
    if (!x || !y || !out || !x->data || !y->data)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_dataset_from_tensors: NULL argument");
    *out = NULL;
    return build(x, y, "dataset", out, err);
}

onnxc_status onnxc_dataset_load_npy(const char *x_path, const char *y_path, onnxc_dataset **out,
                                    onnxc_error *err)
{
    if (!x_path || !y_path || !out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_dataset_load_npy: NULL argument");
    *out = NULL;
    onnxc_tensor x = {0}, y = {0};
    OC_TRY(onnxc_tensor_load(x_path, &x, err));
    onnxc_status st = onnxc_tensor_load(y_path, &y, err);
    if (st == ONNXC_OK) {
        char label[1024];
        snprintf(label, sizeof label, "%s, %s", x_path, y_path);
        st = build(&x, &y, label, out, err);
    }
    onnxc_tensor_release(&x);
    onnxc_tensor_release(&y);
    return st;
}

onnxc_status onnxc_dataset_load_idx(const char *dir, const char *split, onnxc_dataset **out,
                                    onnxc_error *err)
{
    if (!dir || !split || !out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_dataset_load_idx: NULL argument");
    *out = NULL;
    oc_idx images, labels;
    OC_TRY(oc_idx_load_split(dir, split, &images, &labels, err));
    onnxc_dataset *ds = oc_calloc(1, sizeof *ds);
    int64_t *y = oc_aligned_alloc((labels.n_items ? labels.n_items : 1) * sizeof *y);
    if (!ds || !y) {
        oc_free(ds);
        oc_aligned_free(y);
        oc_idx_free(&images);
        oc_idx_free(&labels);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", dir);
    }
    ds->n = images.n_items;
    ds->x_type = ONNXC_UINT8;
    ds->x_rank = images.ndims - 1;
    for (int d = 1; d < images.ndims; d++) ds->x_dims[d - 1] = images.dims[d];
    ds->sample_elems = images.item_elems;
    /* The idx buffer becomes the dataset's: it was allocated 64-byte aligned. */
    ds->owned_x = images.data;
    ds->x = images.data;
    ds->y_type = ONNXC_INT64;
    ds->label_elems = 1;
    for (size_t i = 0; i < labels.n_items; i++) {
        y[i] = labels.data[i];
        if ((size_t)y[i] + 1 > ds->classes) ds->classes = (size_t)y[i] + 1;
    }
    ds->owned_y = y;
    ds->y = y;
    oc_idx_free(&labels);
    *out = ds;
    return ONNXC_OK;
}

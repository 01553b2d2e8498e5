/*
 * IDX files, the format MNIST and Fashion-MNIST ship in, plain or gzipped:
 *
 *   0x00 0x00 TYPE NDIMS   dims[NDIMS] as big-endian uint32   data (C order)
 *
 * e.g. t10k-images-idx3-ubyte: 00 00 08 03, 10000 28 28, then 7 840 000
 * pixels; t10k-labels-idx1-ubyte: 00 00 08 01, 10000, then the labels.
 * Only TYPE 0x08 (unsigned byte) is read, which is what image and label
 * files use. The whole file is loaded as bytes; the training loader turns
 * one batch at a time into floats with oc_idx_batch_to_float, so the
 * dataset costs 1 byte per pixel in memory rather than 4.
 */
#ifndef OC_DATA_IDX_H
#define OC_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "onnxc.h"

#define OC_IDX_MAX_DIMS 4
/* Largest payload accepted (protects against a corrupt or hostile header). */
#define OC_IDX_MAX_BYTES ((uint64_t)4 << 30)

typedef struct oc_idx {
    uint8_t *data;                   /* [dims[0], ..., dims[ndims-1]], 64-byte aligned */
    int ndims;                       /* 1..4 */
    int64_t dims[OC_IDX_MAX_DIMS];
    size_t n_items;                  /* dims[0]: images or labels */
    size_t item_elems;               /* product of dims[1..]; 1 for a label file */
} oc_idx;

/*
 * Load an idx file, gzip-compressed or not (detected from the content, not
 * the name). On success *out owns data; free with oc_idx_free. On failure
 * *out is zeroed and the message names the file, e.g. a truncated file:
 * "expected 7840000 bytes of data after the 16-byte header, found 5000".
 */
onnxc_status oc_idx_load(const char *path, oc_idx *out, onnxc_error *err);

/* The same for an uncompressed idx image held in memory. */
onnxc_status oc_idx_parse(const void *buf, size_t n, const char *label, oc_idx *out,
                          onnxc_error *err);

void oc_idx_free(oc_idx *ds);

/*
 * Gather items rows[0..n_rows) and scale them to [0, 1]:
 * out[r * item_elems + j] = data[rows[r] * item_elems + j] / 255.0f.
 * out is [n_rows, item_elems]. Every rows[r] must be in [0, n_items).
 */
void oc_idx_batch_to_float(const oc_idx *ds, const int64_t *rows, size_t n_rows, float *out);

/* Gather labels of a 1-D label file as int64: out[r] = data[rows[r]]. */
void oc_idx_batch_labels(const oc_idx *labels, const int64_t *rows, size_t n_rows,
                         int64_t *out);

/*
 * Find the files of one split in a dataset folder: for split "train" the
 * first that exists of train-images-idx3-ubyte, train-images-idx3-ubyte.gz,
 * train-images.idx3-ubyte (and the same for labels, idx1). On success both
 * paths are oc_malloc'd and owned by the caller (oc_free).
 */
onnxc_status oc_idx_find_split(const char *dir, const char *split, char **images_path,
                               char **labels_path, onnxc_error *err);

/*
 * Find and load a split: images [n, ...] and labels [n], checking that both
 * hold the same number of items. On failure both are zeroed.
 */
onnxc_status oc_idx_load_split(const char *dir, const char *split, oc_idx *images,
                               oc_idx *labels, onnxc_error *err);

#endif

/*
 * The numpy .npy format, versions 1.0, 2.0 and 3.0:
 *
 *   "\x93NUMPY" major minor  HEADER_LEN  HEADER  DATA
 *   6 bytes     1     1      u16 (v1) or u32 (v2, v3), little-endian
 *
 * HEADER is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and ended by '\n' so that DATA starts 64-byte aligned.
 * v3.0 only differs from v2.0 by declaring the header utf-8 (for structured
 * field names, which onnxc does not read). DATA is prod(shape) elements in C
 * order. Only plain little-endian numeric dtypes are read; anything numpy
 * could write that onnxc cannot represent is refused with a message.
 */
#ifndef OC_IO_NPY_H
#define OC_IO_NPY_H

#include <stddef.h>

#include "onnxc.h"

/* Largest header accepted: numpy itself refuses headers over 10 000 bytes by
 * default; a plain dtype with eight dims needs about 200. */
#define OC_NPY_MAX_HEADER (1u << 20)

/* What the header of a .npy file declares. */
typedef struct oc_npy_header {
    int version_major;               /* 1, 2 or 3 */
    size_t data_offset;              /* bytes before DATA */
    onnxc_dtype dtype;
    int rank;
    int64_t dims[ONNXC_MAX_RANK];
    size_t data_bytes;               /* prod(dims) * element size, overflow-checked */
} oc_npy_header;

/*
 * Parse the preamble and header at the start of `buf` (`n` bytes; the data
 * need not follow). When the buffer is too short to hold the header the
 * failure says how many bytes were needed. `label` names the file in messages.
 */
onnxc_status oc_npy_parse_header(const void *buf, size_t n, const char *label,
                                 oc_npy_header *hdr, onnxc_error *err);

/*
 * Decode a complete .npy image held in memory: header, then exactly
 * data_bytes of data. On success out->data is a 64-byte aligned copy
 * (oc_aligned_alloc, never NULL, released by onnxc_tensor_release),
 * out->capacity its size, out->name NULL. Bool values are normalized to 0/1.
 * On failure *out is zeroed.
 */
onnxc_status oc_npy_parse(const void *buf, size_t n, const char *label, onnxc_tensor *out,
                          onnxc_error *err);

/* Read a .npy file, as oc_npy_parse but without holding the file twice. */
onnxc_status oc_npy_read(const char *path, onnxc_tensor *out, onnxc_error *err);

/*
 * Build the header numpy's np.save would write for `t` (same bytes: format
 * 1.0, or 2.0 when the header passes 65535 bytes; padded to 64 bytes) into
 * `buf`. *len receives its length. Fails on dtypes .npy cannot carry.
 */
onnxc_status oc_npy_make_header(const onnxc_tensor *t, char *buf, size_t size, size_t *len,
                                onnxc_error *err);

/* Write `t` to `path` atomically (oc_atomic_open). `t->name` is ignored. */
onnxc_status oc_npy_write(const char *path, const onnxc_tensor *t, onnxc_error *err);

#endif

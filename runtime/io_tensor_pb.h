/*
 * A tensor stored as one serialized onnx.TensorProto (the .pb files of the
 * ONNX backend test data: test_data_set_N/input_K.pb). Values come from
 * raw_data (little-endian) or from the typed field ONNX assigns to the dtype:
 *
 *   float_data   FLOAT
 *   int32_data   INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16
 *                (one value per entry; 16-bit floats as their bit pattern)
 *   int64_data   INT64
 *   double_data  DOUBLE
 *   uint64_data  UINT32, UINT64
 *
 * External data and segments are refused: a tensor file stands alone.
 */
#ifndef OC_IO_TENSOR_PB_H
#define OC_IO_TENSOR_PB_H

#include <stddef.h>

#include "onnxc.h"

/*
 * Decode a serialized TensorProto held in memory. On success out->data is a
 * 64-byte aligned copy (never NULL; release with onnxc_tensor_release),
 * out->capacity its size and out->name NULL. `label` names the file in
 * messages (NULL: "<memory>"). On failure *out is zeroed.
 */
onnxc_status oc_tensor_pb_parse(const void *buf, size_t n, const char *label,
                                onnxc_tensor *out, onnxc_error *err);

/* Read a .pb file (at most the default max_tensor_bytes plus framing). */
onnxc_status oc_tensor_pb_read(const char *path, onnxc_tensor *out, onnxc_error *err);

/*
 * Serialize `t` as a TensorProto with dims, data_type, raw_data and, when
 * t->name is set, name. On success *buf is oc_malloc'd (oc_free it).
 */
onnxc_status oc_tensor_pb_pack(const onnxc_tensor *t, void **buf, size_t *n, onnxc_error *err);

/* Write `t` to `path` atomically, as oc_tensor_pb_pack lays it out. */
onnxc_status oc_tensor_pb_write(const char *path, const onnxc_tensor *t, onnxc_error *err);

#endif

/*
 * Keras import: a Keras HDF5 file (.h5, Keras 2.0-3.x, full model or
 * weights-only) or a Keras 3 .keras zip becomes a serialized ONNX ModelProto
 * in the tf2onnx layout (see dense_builder.h). Nothing in the file is ever
 * executed: Lambda layers and every other layer onnxc cannot express are
 * refused, all listed in one message.
 */
#ifndef OC_KERAS_H
#define OC_KERAS_H

#include <stddef.h>

#include "onnxc.h"

/* 1: HDF5 signature ("\x89HDF\r\n\x1a\n"), 2: zip ("PK\x03\x04"), 0: neither. */
int oc_keras_sniff(const void *head, size_t n);

/*
 * Convert the Keras file at `path`. `arch_spec` ("784,64:relu,10:softmax",
 * the syntax of onnxc_model_from_spec) gives the architecture of a
 * weights-only file and is ignored when the file has its own model config.
 * On success *onnx is oc_malloc'd serialized ModelProto bytes owned by the
 * caller (oc_free), *size its length. `limits` NULL: the defaults.
 *
 * The file is read in a short-lived child process (fork), because libhdf5
 * can crash or hang on some corrupted files; that ends in ONNXC_ERR_PARSE.
 * Refusals: ONNXC_ERR_PARSE (not HDF5/zip, malformed or non-UTF-8 JSON,
 * corrupt file), ONNXC_ERR_MODEL (config and weights disagree, unsafe zip
 * entries, soft-link cycles, NaN weights), ONNXC_ERR_UNSUPPORTED (layers
 * onnxc cannot express, Lambda, external links or storage, weights-only
 * file without arch_spec), ONNXC_ERR_LIMIT (sizes past `limits`, JSON
 * deeper than 64), ONNXC_ERR_ARGUMENT (a bad arch_spec).
 */
onnxc_status oc_keras_to_onnx(const char *path, const char *arch_spec, const onnxc_limits *limits,
                              void **onnx, size_t *size, onnxc_error *err);

#endif

/*
 * Initializers stored outside the .onnx file (data_location = EXTERNAL).
 * The location must be a relative path that stays inside the model's folder:
 * no "..", no absolute path, no symlink leading out, a regular file only,
 * offset and length inside the file.
 */
#ifndef OC_EXTERNAL_DATA_H
#define OC_EXTERNAL_DATA_H

#include "graph.h"

/* Reads tp's external bytes into a new 64-byte aligned buffer (*data, owned
 * by the caller) after checking everything above. `expected` is the byte
 * count the dims and data type require. */
onnxc_status oc_external_read(const Onnx__TensorProto *tp, const char *base_dir,
                              size_t expected, void **data, const char *what,
                              onnxc_error *err);

bool oc_tensor_is_external(const Onnx__TensorProto *tp);

#endif

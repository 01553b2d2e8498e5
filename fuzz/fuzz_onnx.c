/* libFuzzer target: ONNX models: onnxc_model_load_memory, queries, save + reload, check, run. The work is in fuzz_entries.c. */
#include "fuzz_entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return oc_fuzz_onnx(data, size); }

/* libFuzzer target: dense-network spec strings (onnxc init, --arch, onnxc_model_from_spec). The work is in fuzz_entries.c. */
#include "fuzz_entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return oc_fuzz_spec(data, size); }

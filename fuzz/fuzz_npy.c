/* libFuzzer target: .npy and TensorProto (.pb) tensor files. The work is in fuzz_entries.c. */
#include "fuzz_entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return oc_fuzz_npy(data, size); }

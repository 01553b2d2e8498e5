/* libFuzzer target: Keras .h5 / .keras files and Keras JSON model configs. The work is in fuzz_entries.c. */
#include "fuzz_entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return oc_fuzz_keras(data, size); }

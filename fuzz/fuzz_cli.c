/*
 * libFuzzer target: the onnxc command line, in process. cli/main.c is
 * compiled into this binary with main renamed onnxc_cli_main (see
 * fuzz/CMakeLists.txt), so the input goes through the same dispatch and
 * option parsing as the installed program. The work is in fuzz_cli_entry.c.
 */
#include "fuzz_entries.h"

int onnxc_cli_main(int argc, char **argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return oc_fuzz_cli(data, size, onnxc_cli_main); }

#!/usr/bin/env bash
# Installs what is needed, builds onnxc with -Werror and runs every test;
# builds the CLI with MPI and runs the distributed tests under mpirun; then
# builds again with AddressSanitizer + UndefinedBehaviorSanitizer (and
# LeakSanitizer) and runs the whole suite a second time; last, builds the
# libFuzzer targets with clang and fuzzes each for 45 s (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)

bash scripts/install-deps.sh
export NODE_PATH="$root/.cache/ort/node_modules"

run_suite() {   # $1 build dir, rest: cmake flags
  local dir=$1; shift
  cmake -S . -B "$dir" -DONNXC_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs")
}

echo "== release build, all tests"
run_suite build -DCMAKE_BUILD_TYPE=Release

echo "== MPI build (-DONNXC_MPI=ON): train/run --distributed under mpirun -np 2"
# Only what the distributed tests need; ONNXC_REQUIRE_MPI turns their
# "no MPI in this CLI" skip into a failure.
cmake -S . -B build-mpi -DONNXC_WERROR=ON -DONNXC_MPI=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-mpi -j"$jobs" --target onnxc_cli test_distributed test_distributed_mpi
(cd build-mpi && ONNXC_REQUIRE_MPI=1 ctest --output-on-failure -R '^test_distributed')

echo "== ASan + UBSan build, all tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_SANITIZE=ON

echo "== fuzzing: every libFuzzer target for 45 s, two at a time (fuzz/README.md)"
bash scripts/fuzz.sh --seconds 45 --jobs 2 build-fuzz

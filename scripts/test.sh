#!/usr/bin/env bash
# Installs what is needed, builds onnxc with -Werror and runs every test;
# then builds again with AddressSanitizer + UndefinedBehaviorSanitizer (and
# LeakSanitizer) and runs the whole suite a second time.
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

echo "== ASan + UBSan build, all tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_SANITIZE=ON

#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, assembles seed corpora from the
# tests and the shared reference data, and runs every target for a set time.
#
#     scripts/fuzz.sh [--seconds N] [--jobs J] [--targets "onnx npy ..."]
#                     [--work DIR] [--no-build] [--keep-going] [BUILD_DIR]
#
#   BUILD_DIR     clang build folder (default build-fuzz, relative to the repo)
#   --seconds N   fuzzing time per target (default 60)
#   --jobs J      targets fuzzed at the same time (default 1)
#   --targets     subset of: onnx npy idx keras spec cli (default all)
#   --work DIR    corpora, logs and crash artifacts (default BUILD_DIR/fuzz-work);
#                 the corpus grows there from run to run, seeds are rebuilt
#   --no-build    use the targets already in BUILD_DIR
#   --keep-going  fuzz on after a crash (libFuzzer's fork mode, as fuzz_keras
#                 always runs): for long runs, where one known bug must not
#                 end the run; every crash is still counted and kept
#
# Per target: WORK/corpus/T (inputs found, kept), WORK/seeds/T (regenerated),
# WORK/artifacts/T (crash-*, leak-*, timeout-*, oom-* reproducers, kept across
# runs; only this run's count), WORK/T.log.
# Prints one summary line per target and exits 1 when any target crashed.
# Reproduce a crash with BUILD_DIR/fuzz/fuzz_T WORK/artifacts/T/crash-...,
# then add it under tests/fuzz_regressions/T/ (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=60
jobs=1
targets="onnx npy idx keras spec cli"
build=build-fuzz
work=
do_build=1
keep_going=0
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --keep-going) keep_going=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
case $build in /*) ;; *) build=$root/$build ;; esac
[ -n "$work" ] || work=$build/fuzz-work
case $work in /*) ;; *) work=$root/$work ;; esac
shared=$root/../shared
testdata=/usr/share/libonnx-testdata/data
fmnist=/usr/share/datasets/fashion-mnist
py=/usr/bin/python3

# --- build -------------------------------------------------------------------
if [ $do_build = 1 ]; then
  echo "== clang build of the fuzz targets in $build"
  # -O1 and line tables only: the usual libFuzzer build, quicker to compile
  # than RelWithDebInfo and still symbolized to file:line in reports.
  CC=${FUZZ_CC:-clang} cmake -S "$root" -B "$build" -DONNXC_FUZZ=ON -DONNXC_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="-O1 -gline-tables-only" >/dev/null
  cmake --build "$build" -j"$(nproc)" --target fuzz_all
fi

# --- seed corpora ------------------------------------------------------------
# Inputs over the target's max_len are truncated by libFuzzer and useless as
# seeds, so larger files are skipped.
declare -A max_len=([onnx]=65536 [npy]=32768 [idx]=8192 [keras]=65536 [spec]=512 [cli]=512)

seeds=$work/seeds
rm -rf "$seeds" "$work/tmp"
mkdir -p "$seeds" "$work/tmp"
for t in $targets; do mkdir -p "$seeds/$t" "$work/corpus/$t" "$work/artifacts/$t"; done

echo "== seed corpora in $seeds"
gen=$work/tmp/gen
hostile=$work/tmp/hostile
mkdir -p "$gen" "$hostile"
"$build/fuzz/fuzz_make_seeds" "$gen" "$shared/models/real"
"$py" tests/tools/make_hostile.py "$hostile" >/dev/null 2>&1 ||
  echo "fuzz.sh: tests/tools/make_hostile.py failed; its corpus is left out" >&2

max_lens=$(for t in "${!max_len[@]}"; do printf '%s=%s ' "$t" "${max_len[$t]}"; done)
"$py" - "$seeds" "$gen" "$hostile" "$shared" "$testdata" "$fmnist" "$max_lens" <<'EOF'
"""Copy seed files per target (skipping targets not being run and files over
the target's max_len), plus the small idx, spec and command-line seeds."""
import glob, gzip, os, shutil, struct, sys, zipfile

seeds, gen, hostile, shared, testdata, fmnist = sys.argv[1:7]
max_len = {k: int(v) for k, v in (kv.split("=") for kv in sys.argv[7].split())}
real = os.path.join(shared, "models", "real")
count = {}


def put(target, name, data):
    d = os.path.join(seeds, target)
    if not os.path.isdir(d) or len(data) > max_len[target]:
        return
    count[target] = count.get(target, 0) + 1
    with open(os.path.join(d, "%04d-%s" % (count[target], name)), "wb") as f:
        f.write(data)


def put_files(target, pattern, prefix=""):
    for path in sorted(glob.glob(pattern)):
        if os.path.isfile(path) and os.path.getsize(path) <= max_len[target]:
            put(target, prefix + os.path.basename(path), open(path, "rb").read())


# ONNX: the generator's models from specs, the small real models, the
# hostile corpus, every backend test model.
put_files("onnx", gen + "/onnx/*")
put_files("onnx", real + "/*.onnx")
put_files("onnx", hostile + "/*.onnx")
for case in sorted(glob.glob(testdata + "/*/*/model.onnx")):
    put_files("onnx", case, os.path.basename(os.path.dirname(case)) + "-")

# Tensors: every dtype from the generator, the tests' and the reference
# data's .npy files, every 8th backend test input (.pb).
put_files("npy", gen + "/npy/*")
put_files("npy", "tests/parity/*.npy")
put_files("npy", real + "/*.npy")
for i, pb in enumerate(sorted(glob.glob(testdata + "/*/*/test_data_set_0/input_0.pb"))):
    if i % 8 == 0:
        put_files("npy", pb, os.path.basename(os.path.dirname(os.path.dirname(pb))) + "-")

# idx: the generator's files, and Fashion-MNIST's real headers: the first
# 4 KB as they are (a truncated file), and cut to whole items with the count
# rewritten (a valid file), plain and gzipped.
put_files("idx", gen + "/idx/*")
for name in sorted(glob.glob(fmnist + "/*.gz")):
    with gzip.open(name) as f:
        head = f.read(4096)
    base = os.path.basename(name)[:-3]
    put("idx", "fmnist-head-" + base, head)
    nd = head[3]
    dims = struct.unpack(">%dI" % nd, head[4:4 + 4 * nd])
    item = 1
    for d in dims[1:]:
        item *= d
    keep = max(1, min(4, (len(head) - 4 - 4 * nd) // item))
    small = head[:4] + struct.pack(">%dI" % nd, keep, *dims[1:]) + \
        head[4 + 4 * nd:4 + 4 * nd + keep * item]
    put("idx", "fmnist-%d-%s" % (keep, base), small)
    put("idx", "fmnist-%d-%s.gz" % (keep, base), gzip.compress(small))

# Keras: the generator's files and configs, config.json of the real .keras
# zips, the hostile corpus's damaged Keras files.
put_files("keras", gen + "/keras/*")
put_files("keras", hostile + "/keras_*")
for path in sorted(glob.glob(real + "/*.keras")):
    put("keras", "realcfg-" + os.path.basename(path) + ".json", zipfile.ZipFile(path).read("config.json"))

# Specs, and command lines (tokens one per line).
for s in ["784,64:relu,64:relu,10:softmax", "3,2:relu,1", "1,1", " 4 , 3 : tanh , 2:sigmoid ",
          "16777216,1", "2,16777216", "10,5:elu,5:selu,5:softplus,5:gelu,5:linear", "784,10:softmax,",
          "784", ",10", "784,:relu", "784,10:bogus", "0,1", "784,64:relu:relu"]:
    put("spec", "spec", s.encode())
for line in """--help
--version
info|--help
info|m.onnx
info|m.onnx|--dot
info|--ops|m.onnx
check|m.onnx
convert|m.h5|-o|out.onnx|--arch|3,2:relu,1
convert|m.onnx|-o|out.onnx|--external-data|--external-threshold|1024
run|m.onnx|-i|x.npy|-o|y.npy|--threads|2
init|784,64:relu,10:softmax|-o|m.onnx|--seed|42
init|3,2:relu,1|-o|m.onnx
train|m.onnx|-o|out.onnx|--data|d|--epochs|2|--batch-size|16
train|m.onnx|-o|out.onnx|--x|x.npy|--y|y.npy|--optimizer|sgd|--lr|0.1|--loss|mse|--validation-split|0.2
train|m.onnx|-o|out.onnx|--data|d|--log|l.jsonl|--checkpoint|c.ckpt|--resume|c.ckpt|--plot|p.svg
eval|m.onnx|--data|d|--batch-size|32|--loss|sparse_categorical_crossentropy
plot|log.jsonl|-o|out.svg|--title|t
plot|log.jsonl|-o|out.png
bogus""".split("\n"):
    put("cli", "argv", line.replace("|", "\n").encode())

# Every reproducer already fixed.
for target in max_len:
    put_files(target, "tests/fuzz_regressions/%s/*" % target, "regression-")
print("   " + ", ".join("%s %d" % kv for kv in sorted(count.items())))
EOF

# --- fuzzing -----------------------------------------------------------------
# A sanitizer report or a broken contract ends the target's run with the
# reproducer in WORK/artifacts/T.
#
# fuzz_keras is different: it runs the Keras importer in process so that the
# fuzzer sees its code, and libhdf5 1.10 is not memory-safe on corrupt files
# (that is why onnxc_model_load_keras converts in a child process). So it
# runs in libFuzzer's fork mode, which keeps going after a crash, hang or
# out-of-memory, and every such artifact is triaged afterwards: one whose
# fault lies inside libhdf5 is replayed through the process-isolated
# importer (ONNXC_FUZZ_KERAS_SANDBOX=1) and counts as contained when that
# refuses it cleanly; anything else fails the run like any other crash.
# allocator_may_return_null and max_allocation_size_mb: libhdf5 asks for
# sizes read from corrupt headers and copes with NULL. leak_check_at_exit:
# libhdf5 cannot always shut down after a corrupt file; per-input leak
# checks stay on. fuzz/lsan.supp lists leaks inside libhdf5 itself.
asan_common=detect_leaks=1:allocator_may_return_null=1:handle_abort=1
asan_keras=$asan_common:max_allocation_size_mb=256:leak_check_at_exit=0
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=suppressions=$root/fuzz/lsan.supp
export OMP_NUM_THREADS=1

run_target() {
  local t=$1 dict=() extra=() asan=$asan_common
  [ -f fuzz/dict/$t.dict ] && dict=(-dict="$root/fuzz/dict/$t.dict")
  if [ "$t" = keras ] || [ $keep_going = 1 ]; then
    extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  fi
  [ "$t" = keras ] && asan=$asan_keras
  mkdir -p "$work/tmp/$t"
  # Exit status kept in a file: `wait` on several jobs cannot tell whose it was.
  set +e
  ASAN_OPTIONS=${ASAN_OPTIONS:-$asan} TMPDIR="$work/tmp/$t" nice -n 10 "$build/fuzz/fuzz_$t" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=4096 \
    -max_len="${max_len[$t]}" -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" \
    "${extra[@]}" "${dict[@]}" "$work/corpus/$t" "$seeds/$t" >"$work/$t.log" 2>&1
  echo $? >"$work/$t.rc"
  set -e
}

# Replay one fuzz_keras artifact alone, leak checks on; prints its class:
#   alone     no report when run alone: the fault needed libhdf5 state that
#             earlier inputs left behind (fork mode also files leaks found
#             at a job's exit as crash-*), or the only leaks are libhdf5's
#             own (fuzz/lsan.supp); counted, not failed
#   h5leak    leaks when run alone, every block allocated by libhdf5 itself
#             (the first frame past the allocator is in libhdf5) and nothing
#             else wrong: libhdf5's own leak on a corrupt file, on a path
#             fuzz/lsan.supp does not list yet. onnxc cannot cause one
#             without leaving an HDF5 handle open, which fuzz_entries.c
#             refuses (an abort: class onnxc) — except by not reclaiming
#             memory libhdf5 hands over (variable-length strings), which
#             the sanitizer test suite checks instead (test_keras on real
#             files, the vlen case in tests/fuzz_regressions/keras).
#             Counted, not failed; listed so that it can be added to
#             fuzz/lsan.supp
#   leak      leaks when run alone, past fuzz/lsan.supp
#   libhdf5   faults first in libhdf5: the first stack frame outside the
#             sanitizer runtime, libFuzzer and libc is there
#   onnxc     faults anywhere else
classify_keras() {
  local out rc=0
  # Full malloc stacks: libhdf5 has no frame pointers, and fuzz/lsan.supp
  # matches its functions.
  out=$(ASAN_OPTIONS=$asan_common:max_allocation_size_mb=256:fast_unwind_on_malloc=0 \
          TMPDIR="$work/tmp/keras" timeout 120 \
          "$build/fuzz/fuzz_keras" -runs=1 -timeout=20 -rss_limit_mb=2048 "$1" 2>&1) || rc=$?
  if [ $rc = 0 ]; then
    echo alone
  elif grep -q "ERROR: LeakSanitizer" <<<"$out" && ! grep -qE "ERROR: (AddressSanitizer|libFuzzer)|runtime error" <<<"$out"; then
    # Frame #1 of every leaked block: who called the allocator.
    if awk '/^(Direct|Indirect) leak of/ { getline; getline; print }' <<<"$out" | grep -qv libhdf5; then
      echo leak
    else
      echo h5leak
    fi
  else
    # Again with the fast unwinder, which (unlike the full one) can walk the
    # stack from libFuzzer's timeout signal handler.
    out=$(ASAN_OPTIONS=$asan_keras TMPDIR="$work/tmp/keras" timeout 120 \
            "$build/fuzz/fuzz_keras" -runs=1 -timeout=20 -rss_limit_mb=2048 "$1" 2>&1 || true)
    if grep -E '^ +#[0-9]+ 0x[0-9a-f]+ ' <<<"$out" |
       grep -vE "fuzz_keras\+0x|libc\.so|sysdeps|nptl|in fuzzer::|libFuzzer" | head -1 | grep -q libhdf5; then
      echo libhdf5
    else
      echo onnxc
    fi
  fi
}

# Triage fuzz_keras's artifacts of this run; prints "contained alone failed
# h5leaks".
# Contained and alone ones move to artifacts/keras-libhdf5; a libhdf5 fault
# is contained when the process-isolated importer refuses the file cleanly.
triage_keras() {
  local contained=0 alone=0 failed=0 h5leaks=0 f class
  mkdir -p "$work/artifacts/keras-libhdf5"
  for f in $(find "$work/artifacts/keras" -type f -newer "$work/tmp/.start" ! -name "*.log" | sort); do
    class=$(classify_keras "$f")
    if [ "$class" = alone ]; then
      alone=$((alone + 1))
      mv "$f" "$work/artifacts/keras-libhdf5/"
    elif [ "$class" = h5leak ]; then
      h5leaks=$((h5leaks + 1))
      echo "fuzz.sh: keras: $f: a leak inside libhdf5, not in fuzz/lsan.supp yet" >&2
      mv "$f" "$work/artifacts/keras-libhdf5/"
    elif [ "$class" = libhdf5 ] &&
         ONNXC_FUZZ_KERAS_SANDBOX=1 ASAN_OPTIONS=$asan_keras TMPDIR="$work/tmp/keras" timeout 120 \
           "$build/fuzz/fuzz_keras" -runs=1 "$f" >"$f.sandbox.log" 2>&1; then
      contained=$((contained + 1))
      mv "$f" "$work/artifacts/keras-libhdf5/"
      rm -f "$f.sandbox.log"
    else
      failed=$((failed + 1))
      echo "fuzz.sh: keras: $f: $class (replay: $build/fuzz/fuzz_keras $f)" >&2
    fi
  done
  echo "$contained $alone $failed $h5leaks"
}

touch "$work/tmp/.start"   # artifacts newer than this are this run's
echo "== fuzzing: ${seconds}s per target, $jobs at a time (logs in $work)"
running=0
for t in $targets; do
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  run_target "$t" &
  running=$((running + 1))
done
wait || true

# --- summary -----------------------------------------------------------------
failed=0
summary=()
for t in $targets; do
  log=$work/$t.log
  rc=$(cat "$work/$t.rc" 2>/dev/null || echo 1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  if [ "$t" = keras ] || [ $keep_going = 1 ]; then
    # Fork mode: "#EXECS: cov: C ft: F corp: N exec/s ... oom/timeout/crash: ..."
    execs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<<"$last")
  else
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  fi
  # Coverage of the whole corpus replayed in one process: the same measure
  # for every target and mode (fork mode's progress lines count differently).
  asan=$asan_common
  [ "$t" = keras ] && asan=$asan_keras
  replay=$(ASAN_OPTIONS=$asan TMPDIR="$work/tmp/$t" timeout 600 "$build/fuzz/fuzz_$t" -runs=0 -detect_leaks=0 \
             -timeout=20 -rss_limit_mb=2048 -max_len="${max_len[$t]}" "$work/corpus/$t" 2>&1 |
           grep -E '^#[0-9]+.*INITED.*cov: ' | tail -1 || true)
  [ -n "$replay" ] && last=$replay
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(find "$work/corpus/$t" -type f | wc -l)
  note=
  if [ "$t" = keras ]; then
    read -r contained alone crashes h5leaks < <(triage_keras)
    note=" ($contained faults in libhdf5, all refused by the sandboxed importer; $alone not reproducible alone;"
    note+=" $h5leaks leaks inside libhdf5 not yet in fuzz/lsan.supp)"
    [ "$crashes" = 0 ] && rc=0   # fork mode's exit status counts the contained ones too
  else
    crashes=$(find "$work/artifacts/$t" -type f -newer "$work/tmp/.start" | wc -l)
  fi
  status=ok$note
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    status="FAILED (exit $rc; see $log)"
    failed=1
  fi
  summary+=("$(printf '%-8s %12s %8s %8s %8s %8s  %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$crashes" "$status")")
done
printf '%-8s %12s %8s %8s %8s %8s  %s\n' target executions cov ft corpus crashes status
printf '%s\n' "${summary[@]}"
if [ $failed = 1 ]; then
  echo "fuzz.sh: a target crashed; reproducers are in $work/artifacts" >&2
  exit 1
fi

#!/usr/bin/env bash
# Measures the step times behind docs/distributed.md on this machine:
# `onnxc train` with np = 1 and np = 2 ranks (alternating, REPS times each,
# medians), and MPI_Allreduce of the models' gradient sizes.
#
#   tests/distributed/scaling.sh BUILD_DIR [REPS]
#
# BUILD_DIR holds an onnxc built with -DONNXC_MPI=ON. Needs mpicc, mpirun,
# /usr/bin/python3 with numpy, and the Debian package dataset-fashion-mnist.
# Takes a few minutes; run it on an otherwise idle machine (on a shared one,
# as root under `nice -n -10`, which is how the numbers in the docs were taken).
set -euo pipefail
build=$(cd "$1" && pwd)
reps=${2:-5}
onnxc=$build/onnxc
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/onnxc-scaling-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

mpi=(mpirun --bind-to none --oversubscribe --mca mpi_yield_when_idle 1)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)

/usr/bin/python3 - <<'EOF'
import gzip, numpy as np
d = '/usr/share/datasets/fashion-mnist/'
x = np.frombuffer(gzip.open(d + 'train-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 28, 28)
y = np.frombuffer(gzip.open(d + 'train-labels-idx1-ubyte.gz').read(), np.uint8, offset=8).astype(np.int64)
np.save('x6000.npy', x[:6000]); np.save('y6000.npy', y[:6000])
np.save('x320.npy', x[:320]); np.save('y320.npy', y[:320])
EOF
"$onnxc" init 784,64:relu,64:relu,10:softmax -o seed.onnx >/dev/null
"$onnxc" init 784,4096:relu,4096:relu,10:softmax -o big.onnx >/dev/null

# One run: prints the epoch's training seconds per step (rank 0's log).
step_time() {   # np threads model samples batch [env...]
  local np=$1 threads=$2 model=$3 n=$4 batch=$5
  shift 5
  rm -f log.jsonl
  env "$@" "${mpi[@]}" -np "$np" "$onnxc" train "$model" --x "x$n.npy" --y "y$n.npy" -o out.onnx \
    --batch-size "$batch" --threads "$threads" --log log.jsonl --distributed >/dev/null
  /usr/bin/python3 -c "import json,math; l=json.loads(open('log.jsonl').readline()); \
print('%.6f' % (l['seconds'] / math.ceil($n / $batch)))"
}

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

measure() {   # label, then configurations "np threads model n batch [env]" separated by '|'
  local label=$1
  shift
  local -a cfgs=("$@") times
  for ((i = 0; i < ${#cfgs[@]}; i++)); do times[i]=""; done
  for ((r = 0; r < reps; r++)); do
    for ((i = 0; i < ${#cfgs[@]}; i++)); do
      # shellcheck disable=SC2086
      times[i]+="$(step_time ${cfgs[i]})"$'\n'
    done
  done
  for ((i = 0; i < ${#cfgs[@]}; i++)); do
    printf '%-28s %-40s median %9.3f ms/step\n' "$label" "${cfgs[i]}" \
      "$(printf '%s' "${times[i]}" | median | awk '{print $1 * 1000}')"
  done
}

# Configurations: "np threads model samples batch [VAR=value]". np 1 at half
# the batch is one rank's compute at np 2 (t_compute(B/N) in the model).
echo "# onnxc train, milliseconds per step (median of $reps, alternating)"
measure "seed, batch 32" "1 1 seed.onnx 6000 32" "2 1 seed.onnx 6000 32" "1 1 seed.onnx 6000 16" \
  "1 2 seed.onnx 6000 32"
measure "seed, batch 256" "1 1 seed.onnx 6000 256" "2 1 seed.onnx 6000 256" "1 1 seed.onnx 6000 128" \
  "1 2 seed.onnx 6000 256"
measure "seed, b32, buckets" "2 1 seed.onnx 6000 32 ONNXC_MPI_BUCKET_KB=all" "2 1 seed.onnx 6000 32 ONNXC_MPI_BUCKET_KB=1"
measure "784-4096-4096-10, batch 32" "1 1 big.onnx 320 32" "2 1 big.onnx 320 32" "1 1 big.onnx 320 16" \
  "1 2 big.onnx 320 32" "1 1 big.onnx 320 64" "1 1 big.onnx 320 160"
measure "784-4096-4096-10, buckets" "2 1 big.onnx 320 32 ONNXC_MPI_BUCKET_KB=all" \
  "2 1 big.onnx 320 32 ONNXC_MPI_BUCKET_KB=4096"

echo "# MPI_Allreduce of 1 float, the seed model's and the big model's gradients"
mpicc -O2 "$here/allreduce_bench.c" -o allreduce_bench
"${mpi[@]}" -np 2 ./allreduce_bench 1 55050 20037642
echo "# the same with glibc's default mmap threshold (fresh pages for every scratch buffer)"
"${mpi[@]}" -x ONNXC_BENCH_MMAP=1 -np 2 ./allreduce_bench 55050 20037642

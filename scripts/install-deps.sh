#!/usr/bin/env bash
# Installs the Debian 12 packages onnxc needs to build, test and benchmark,
# and ONNX Runtime for Node (the interop and speed reference) into .cache/.
# Does nothing for what is already there. Run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler      # ONNX schema, compiled at build time
  libcriterion-dev                           # tests
  libhdf5-dev libjson-c-dev libzip-dev zlib1g-dev  # Keras import, idx.gz
  libopenblas-dev libopenblas0-openmp        # sgemm comparison in bench/
  python3 python3-numpy python3-onnx         # reference checks (onnx.checker, protos)
  libonnx-testdata dataset-fashion-mnist     # conformance cases, training data
  graphviz doxygen groff-base gnuplot-nox    # info --dot, API reference, man page, PNG plots
  libopenmpi-dev openmpi-bin                 # train/run --distributed (the -DONNXC_MPI=ON stage)
  clang libclang-rt-14-dev                   # libFuzzer targets (scripts/fuzz.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# ONNX Runtime (onnxruntime-node) is the interop and speed reference. Debian
# ships node and npm as two packages; a machine may already have both from
# elsewhere (nodesource's nodejs bundles npm and conflicts with Debian's).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime for Node, CPU binaries included; --ignore-scripts skips the
# optional GPU download. Pinned so reference numbers stay comparable.
ort_dir=.cache/ort
if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  echo "install-deps: npm install onnxruntime-node into $ort_dir"
  mkdir -p "$ort_dir"
  (cd "$ort_dir" && npm install --silent --no-audit --no-fund --ignore-scripts onnxruntime-node@1.30.0 >/dev/null \
     || npm install --silent --no-audit --no-fund --ignore-scripts onnxruntime-node >/dev/null)
fi

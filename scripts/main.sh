#!/usr/bin/env bash
# The main job: the Keras tutorial workflow on Fashion-MNIST, without Python.
#   Sequential([Dense(64, relu), Dense(64, relu), Dense(10, softmax)])
#   compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
#   fit(x, y, epochs=5, batch_size=32); save; load; evaluate
# Installs what is needed, builds onnxc, then runs each step through the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DONNXC_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target onnxc_cli

data=/usr/share/datasets/fashion-mnist
out=build/tutorial
mkdir -p "$out"
set -x
build/onnxc init 784,64:relu,64:relu,10:softmax -o "$out/model.onnx" --seed 1
build/onnxc info "$out/model.onnx"
build/onnxc train "$out/model.onnx" --data "$data" --epochs 5 --batch-size 32 \
    --optimizer adam --loss sparse_categorical_crossentropy --seed 1 \
    --log "$out/train.jsonl" -o "$out/trained.onnx"
build/onnxc check "$out/trained.onnx"
build/onnxc eval "$out/trained.onnx" --data "$data"

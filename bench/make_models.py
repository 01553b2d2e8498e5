#!/usr/bin/python3
"""Write the benchmark models and inputs (fixed seeds) into a build folder.

    /usr/bin/python3 bench/make_models.py OUT_DIR [--big]

Models (opset 13, IR 7, symbolic batch dim "N", input "x" [N, 784],
output "y" [N, 10]):

  seed.onnx     784-64(relu)-64(relu)-10(softmax), tf2onnx layout:
                MatMul(x, W[in,out]) -> Add(b) -> Relu ... -> Softmax(axis=-1)
  seed_pt.onnx  the same weights in PyTorch layout: Gemm(x, W^T[out,in], b,
                transB=1) -> Relu ... -> Softmax
  wide.onnx     784-1024(relu)-1024(relu)-10(softmax), tf2onnx layout
  deep.onnx     784-[512(relu)]x6-10(softmax), tf2onnx layout
  onenode.onnx  one Gather node, y = x[:, 0:10]: the same input and output as
                the real models and almost no arithmetic, so its time per call
                is a runtime's fixed cost (for ORT in node: the binding's)
  big.onnx      only with --big: 784-4096(relu)-4096(relu)-4096(relu)-10
                (softmax), tf2onnx layout, ~147 MB of raw_data weights, for
                load time and memory (bench/memory.py); written only when
                missing, since it is the same file every time

Kernels are Glorot-uniform, biases uniform in [-0.1, 0.1], from
numpy.random.default_rng(seed) with one seed per model. Inputs x_b<B>.npy
for B in 1, 32, 256, 4096 are uniform in [0, 1) (seed 7), like scaled
pixels. Nothing here is committed: run.py calls this into its build folder.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MODELS = {
    "seed": ([784, 64, 64, 10], 1),
    "wide": ([784, 1024, 1024, 10], 2),
    "deep": ([784] + [512] * 6 + [10], 3),
}
BIG = ([784, 4096, 4096, 4096, 10], 4)
BATCHES = [1, 32, 256, 4096]


def dense_weights(widths, seed):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)
        b = rng.uniform(-0.1, 0.1, size=(fan_out,)).astype(np.float32)
        layers.append((w, b))
    return layers


def io(widths):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", widths[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", widths[-1]])
    return x, y


def finish(graph, name):
    model = helper.make_model(graph, producer_name="onnxc-bench", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def tf2onnx_layout(name, widths, layers):
    nodes, inits = [], []
    cur = "x"
    for i, (w, b) in enumerate(layers):
        last = i == len(layers) - 1
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"mm{i}"], name=f"dense{i}/MatMul"))
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"lin{i}"], name=f"dense{i}/BiasAdd"))
        if last:
            nodes.append(helper.make_node("Softmax", [f"lin{i}"], ["y"], name="softmax", axis=-1))
        else:
            nodes.append(helper.make_node("Relu", [f"lin{i}"], [f"act{i}"], name=f"dense{i}/Relu"))
            cur = f"act{i}"
    x, y = io(widths)
    return finish(helper.make_graph(nodes, name, [x], [y], inits), name)


def pytorch_layout(name, widths, layers):
    nodes, inits = [], []
    cur = "x"
    for i, (w, b) in enumerate(layers):
        last = i == len(layers) - 1
        # PyTorch keeps Linear weights as [out, in] and exports Gemm transB=1.
        inits += [numpy_helper.from_array(np.ascontiguousarray(w.T), f"fc{i}.weight"),
                  numpy_helper.from_array(b, f"fc{i}.bias")]
        out = f"gemm{i}"
        nodes.append(helper.make_node("Gemm", [cur, f"fc{i}.weight", f"fc{i}.bias"], [out],
                                      name=f"/fc{i}/Gemm", alpha=1.0, beta=1.0, transB=1))
        if last:
            nodes.append(helper.make_node("Softmax", [out], ["y"], name="/softmax/Softmax", axis=1))
        else:
            nodes.append(helper.make_node("Relu", [out], [f"relu{i}"], name=f"/relu{i}/Relu"))
            cur = f"relu{i}"
    x, y = io(widths)
    return finish(helper.make_graph(nodes, name, [x], [y], inits), name)


def one_node():
    inits = [numpy_helper.from_array(np.arange(10, dtype=np.int64), "columns")]
    node = helper.make_node("Gather", ["x", "columns"], ["y"], name="gather", axis=1)
    x, y = io([784, 10])
    return finish(helper.make_graph([node], "onenode", [x], [y], inits), "onenode")


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--big"):
        sys.exit("usage: make_models.py OUT_DIR [--big]")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    info = {}
    for name, (widths, seed) in MODELS.items():
        layers = dense_weights(widths, seed)
        onnx.save(tf2onnx_layout(name, widths, layers), os.path.join(out, f"{name}.onnx"))
        if name == "seed":
            onnx.save(pytorch_layout("seed_pt", widths, layers), os.path.join(out, "seed_pt.onnx"))
            info["seed_pt"] = widths
        info[name] = widths
    onnx.save(one_node(), os.path.join(out, "onenode.onnx"))
    info["onenode"] = [784, 10]
    rng = np.random.default_rng(7)
    for b in BATCHES:
        np.save(os.path.join(out, f"x_b{b}.npy"), rng.uniform(0, 1, size=(b, 784)).astype(np.float32))
    if len(sys.argv) == 3:
        big = os.path.join(out, "big.onnx")
        if not os.path.exists(big):
            widths, seed = BIG
            onnx.save(tf2onnx_layout("big", widths, dense_weights(widths, seed)), big + ".tmp")
            os.replace(big + ".tmp", big)
        info["big"] = BIG[0]
    # Layer widths, for FLOP counts (onenode: no GEMM, 0 FLOP).
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump({"widths": info, "batches": BATCHES}, f, indent=1)
    print(f"wrote {len(info)} models and {len(BATCHES)} inputs to {out}")


if __name__ == "__main__":
    main()

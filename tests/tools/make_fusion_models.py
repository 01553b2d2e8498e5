#!/usr/bin/env python3
"""Dense-layer fusion cases for tests/test_fusion.c.

    make_fusion_models.py OUT_DIR

Writes CASE.onnx, CASE.x.npy and CASE.y.npy (the expected first output,
computed here with numpy in float64 and rounded to float32) for models that
the plan's Dense fusion must fuse, partly fuse or leave alone, so that the
fused executor is checked against an independent reference in every shape
of the pattern.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(20261129)


def mat(*shape):
    return RNG.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def relu(v):
    return np.maximum(v, 0.0)


def save(out, name, nodes, inits, x, outputs, expected, x_shape=None):
    """outputs: [(name, shape)]; expected: float64 array for outputs[0]."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape or list(x.shape))],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name + ".onnx"))
    np.save(os.path.join(out, name + ".x.npy"), x)
    np.save(os.path.join(out, name + ".y.npy"), expected.astype(np.float32))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    f64 = lambda a: a.astype(np.float64)

    # 1. tf2onnx layout, two layers: MatMul+Add+Relu, MatMul+Add (+Softmax not fused).
    x, w1, b1, w2, b2 = mat(5, 37), mat(37, 45), mat(45), mat(45, 10), mat(10)
    h = relu(f64(x) @ f64(w1) + f64(b1))
    z = h @ f64(w2) + f64(b2)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    save(out, "tf2onnx_two_layers", [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["h1"]), helper.make_node("MatMul", ["h1", "w2"], ["m2"]),
        helper.make_node("Add", ["b2", "m2"], ["z"]),  # bias first: Add is commutative
        helper.make_node("Softmax", ["z"], ["y"], axis=1)],
        {"w1": w1, "b1": b1, "w2": w2, "b2": b2}, x, [("y", [5, 10])], e / e.sum(axis=1, keepdims=True),
        x_shape=["N", 37])

    # 2. PyTorch layout: Gemm transB=1 with a [N] bias, then Relu; Gemm with [1,N] bias, no act.
    x, w1, b1, w2, b2 = mat(7, 33), mat(50, 33), mat(50), mat(3, 50), mat(1, 3)
    h = relu(f64(x) @ f64(w1).T + f64(b1))
    save(out, "pytorch_gemm", [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["g1"], transB=1), helper.make_node("Relu", ["g1"], ["h1"]),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["y"], transB=1)],
        {"w1": w1, "b1": b1, "w2": w2, "b2": b2}, x, [("y", [7, 3])], h @ f64(w2).T + f64(b2))

    # 3. The pre-activation is also a graph output: Relu must stay a separate step
    #    and "a1" must still be computed and returned.
    x, w1, b1 = mat(4, 20), mat(20, 40), mat(40)
    a = f64(x) @ f64(w1) + f64(b1)
    save(out, "intermediate_output", [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["y"])],
        {"w1": w1, "b1": b1}, x, [("a1", [4, 40]), ("y", [4, 40])], a)

    # 4. The MatMul output has two readers: no Add can be absorbed.
    x, w1, b1 = mat(3, 16), mat(16, 24), mat(24)
    m = f64(x) @ f64(w1)
    save(out, "shared_matmul", [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Add", ["a1", "m1"], ["y"])],
        {"w1": w1, "b1": b1}, x, [("y", [3, 24])], (m + f64(b1)) + m)

    # 5. Batched input [2, 3, K] x W [K, N]: rows = 6.
    x, w1, b1 = mat(2, 3, 30), mat(30, 70), mat(70)
    save(out, "batched_input", [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["y"])],
        {"w1": w1, "b1": b1}, x, [("y", [2, 3, 70])], relu(f64(x) @ f64(w1) + f64(b1)))

    # 6. Gemm with alpha 0.5, beta 2 (not fusable: the kernel has no scaling) and
    #    an Add whose other input is [M, N] (not a bias): both computed unfused.
    x, w1, c1, d = mat(6, 12), mat(12, 9), mat(9), mat(6, 9)
    g = 0.5 * (f64(x) @ f64(w1)) + 2.0 * f64(c1)
    save(out, "unfusable", [
        helper.make_node("Gemm", ["x", "w1", "c1"], ["g1"], alpha=0.5, beta=2.0),
        helper.make_node("MatMul", ["g1", "w2"], ["m2"]), helper.make_node("Add", ["m2", "d"], ["y"])],
        {"w1": w1, "c1": c1, "w2": mat(9, 9) * 0 + np.eye(9, dtype=np.float32), "d": d}, x,
        [("y", [6, 9])], g + f64(d))

    # 7. Wide enough for several panels, K chunks and threads: 784-300 at batch 67.
    x, w1, b1 = mat(67, 784), mat(784, 300), mat(300)
    save(out, "wide_layer", [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["y"])],
        {"w1": w1, "b1": b1}, x, [("y", [67, 300])], relu(f64(x) @ f64(w1) + f64(b1)),
        x_shape=["N", 784])

    # 8. One weight read by a layer and by a MatMul of two constants, which the
    #    plan folds: an inference-only model must unpack its released copy.
    x, w1, c = mat(4, 20), mat(20, 12), mat(1, 20)
    save(out, "released_then_folded", [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("MatMul", ["c", "w1"], ["f"]),
        helper.make_node("Add", ["m1", "f"], ["y"])],
        {"w1": w1, "c": c}, x, [("y", [4, 12])], f64(x) @ f64(w1) + f64(c) @ f64(w1))

    # 9. Gemm transB=1 whose C is a full [M, N] matrix, not a bias: not fused,
    #    so an inference-only model's plan runs it on the unpacked weight.
    x, w1, c1 = mat(5, 16), mat(11, 16), mat(5, 11)
    save(out, "gemm_full_c", [helper.make_node("Gemm", ["x", "w1", "c1"], ["y"], transB=1)],
         {"w1": w1, "c1": c1}, x, [("y", [5, 11])], f64(x) @ f64(w1).T + f64(c1))


if __name__ == "__main__":
    main()

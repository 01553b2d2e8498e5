#!/usr/bin/env python3
"""Models and torch references for test_shards.c (row cuts and batch shards,
runtime/train/row_cut.c and shards.c).

    make_shard_cases.py OUT_DIR

dense.onnx: 20-16(relu)-16(relu)-5(softmax) in the tf2onnx layout
(MatMul + Add), and dense_pt.onnx, the same network in the PyTorch layout
(Gemm transB=1 with W [out, in], then Relu). For batches of 200 and 131 rows
(both cut in two by onnxc; 131 unevenly, 66 + 65) it writes x_B.npy, y_B.npy
(int64 labels) and the weights after each of 3 Adam steps (Keras form: lr
1e-3, betas 0.9 and 0.999, epsilon 1e-7 added to sqrt(v) after the bias
corrections are folded into the step size) on sparse categorical
cross-entropy from the logits, computed by torch autograd in float64 on the
whole batch: step_B_K.NAME.npy ([in, out] weights; the test transposes them
for dense_pt.onnx).

Graphs onnxc must not cut (test_shards.c checks the verdict and its reason):
bn.onnx: Gemm -> BatchNormalization -> Relu -> Gemm -> Softmax, whose
training-mode batch statistics tie the rows of a batch together;
reshape.onnx, which reshapes [N, 4] to [N/2, 8] and back; dropout.onnx, a
dense network with a Dropout (its mask is drawn over the whole batch); and
lone_matmul.onnx, whose first weight feeds a MatMul with neither bias nor
ReLU (not fused in training, so its gradient is the MatMul op's).

For test_column_split.c (train/column_split.c): wide.onnx and wide_pt.onnx,
100-48(relu)-16(relu)-5(softmax) in the two layouts (the first layer holds
84% of the parameters), with the same references as dense for batches of
200 (cut) and 40 rows (not cut), named wide_x.B.npy, wide_y.B.npy and
wide_step_B_K.NAME.npy.
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7


def save(model, path):
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


def dense_model(out, name, weights, pt):
    """NAME.onnx: in-h(relu)-h(relu)-5(softmax) with `weights` ([(name, array)],
    W [in, out]; in = 20 for dense, 100 for wide); tf2onnx layout (MatMul +
    Add), or with `pt` PyTorch's (Gemm transB=1 with W [out, in])."""
    nodes, inits, prev = [], [], "x"
    for i in range(3):
        w, b = weights[2 * i][1], weights[2 * i + 1][1]
        inits += [numpy_helper.from_array(np.ascontiguousarray(w.T) if pt else w, f"w{i}"),
                  numpy_helper.from_array(b, f"b{i}")]
        if pt:
            nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"a{i}"], transB=1))
        else:
            nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]))
            nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]))
        if i < 2:
            nodes.append(helper.make_node("Relu", [f"a{i}"], [f"h{i}"]))
            prev = f"h{i}"
    nodes.append(helper.make_node("Softmax", ["a2"], ["y"], axis=-1))
    features = weights[0][1].shape[0]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", features])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(out, f"{name}.onnx"))


def network(out, rng, sizes, names, prefix, batches):
    """The two layouts of a sizes[0]-sizes[1]-sizes[2]-sizes[3] network and,
    for each batch B, PREFIXx.B.npy, PREFIXy.B.npy and torch's weights after
    each of 3 Adam steps, PREFIXstep_B_K.NAME.npy."""
    weights = []
    for i in range(3):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        lim = np.sqrt(6.0 / (fan_in + fan_out))
        weights += [(f"w{i}", rng.uniform(-lim, lim, (fan_in, fan_out)).astype(np.float32)),
                    (f"b{i}", rng.uniform(-0.1, 0.1, (fan_out,)).astype(np.float32))]
    dense_model(out, names[0], weights, False)
    dense_model(out, names[1], weights, True)

    for batch in batches:
        x = rng.uniform(0, 1, (batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[3], (batch,)).astype(np.int64)
        np.save(os.path.join(out, f"{prefix}x.{batch}.npy"), x)
        np.save(os.path.join(out, f"{prefix}y.{batch}.npy"), y)
        params = [torch.tensor(v.astype(np.float64), requires_grad=True) for _, v in weights]
        m = [torch.zeros_like(p) for p in params]
        v = [torch.zeros_like(p) for p in params]
        tx, ty = torch.tensor(x.astype(np.float64)), torch.tensor(y)
        for step in range(1, 4):
            h = tx
            for i in range(3):
                h = h @ params[2 * i] + params[2 * i + 1]
                if i < 2:
                    h = torch.relu(h)
            loss = torch.nn.functional.cross_entropy(h, ty)
            grads = torch.autograd.grad(loss, params)
            alpha = LR * np.sqrt(1 - B2 ** step) / (1 - B1 ** step)
            with torch.no_grad():
                for p, g, mi, vi in zip(params, grads, m, v):
                    mi.mul_(B1).add_((1 - B1) * g)
                    vi.mul_(B2).add_((1 - B2) * g * g)
                    p.sub_(alpha * mi / (torch.sqrt(vi) + EPS))
            for (name, _), p in zip(weights, params):
                np.save(os.path.join(out, f"{prefix}step_{batch}_{step}.{name}.npy"),
                        p.detach().numpy().astype(np.float32))


def dense(out, rng):
    network(out, rng, [20, 16, 16, 5], ("dense", "dense_pt"), "", (200, 131))


def wide(out, rng):
    network(out, rng, [100, 48, 16, 5], ("wide", "wide_pt"), "wide_", (200, 40))


def small(out, name, nodes, arrays, opset=13):
    """NAME.onnx: x [N, 6] -> nodes -> y [N, 3], with `arrays` as initializers."""
    inits = [numpy_helper.from_array(v, k) for k, v in arrays.items()]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), os.path.join(out, f"{name}.onnx"))


def uniform(rng, shape):
    return rng.uniform(-0.5, 0.5, shape).astype(np.float32)


def bn(out, rng):
    small(out, "bn", [helper.make_node("Gemm", ["x", "w0"], ["g0"], transB=1),
                      helper.make_node("BatchNormalization", ["g0", "scale", "bias", "mean", "var"], ["n0"]),
                      helper.make_node("Relu", ["n0"], ["h0"]),
                      helper.make_node("Gemm", ["h0", "w1"], ["g1"], transB=1),
                      helper.make_node("Softmax", ["g1"], ["y"], axis=-1)],
          {"w0": uniform(rng, (8, 6)), "w1": uniform(rng, (3, 8)), "scale": np.ones(8, np.float32),
           "bias": np.zeros(8, np.float32), "mean": np.zeros(8, np.float32), "var": np.ones(8, np.float32)}, 14)


def reshape(out, rng):
    small(out, "reshape", [helper.make_node("MatMul", ["x", "w0"], ["m0"]),
                           helper.make_node("Reshape", ["m0", "pairs"], ["p0"]),  # rows 2i and 2i+1 side by side
                           helper.make_node("Relu", ["p0"], ["r0"]),
                           helper.make_node("Reshape", ["r0", "rows"], ["q0"]),
                           helper.make_node("MatMul", ["q0", "w1"], ["m1"]),
                           helper.make_node("Softmax", ["m1"], ["y"], axis=-1)],
          {"w0": uniform(rng, (6, 4)), "w1": uniform(rng, (4, 3)), "pairs": np.array([-1, 8], np.int64),
           "rows": np.array([-1, 4], np.int64)})


def dropout(out, rng):
    small(out, "dropout", [helper.make_node("MatMul", ["x", "w0"], ["m0"]),
                           helper.make_node("Add", ["m0", "b0"], ["a0"]),
                           helper.make_node("Relu", ["a0"], ["h0"]),
                           helper.make_node("Dropout", ["h0", "ratio"], ["d0"]),
                           helper.make_node("MatMul", ["d0", "w1"], ["m1"]),
                           helper.make_node("Add", ["m1", "b1"], ["a1"]),
                           helper.make_node("Softmax", ["a1"], ["y"], axis=-1)],
          {"w0": uniform(rng, (6, 8)), "w1": uniform(rng, (8, 3)), "b0": np.zeros(8, np.float32),
           "b1": np.zeros(3, np.float32), "ratio": np.array(0.25, np.float32)})


def lone_matmul(out, rng):
    small(out, "lone_matmul", [helper.make_node("MatMul", ["x", "w0"], ["m0"]),
                               helper.make_node("Tanh", ["m0"], ["h0"]),
                               helper.make_node("MatMul", ["h0", "w1"], ["m1"]),
                               helper.make_node("Add", ["m1", "b1"], ["a1"]),
                               helper.make_node("Softmax", ["a1"], ["y"], axis=-1)],
          {"w0": uniform(rng, (6, 8)), "w1": uniform(rng, (8, 3)), "b1": np.zeros(3, np.float32)})


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261129)
    dense(out, rng)
    bn(out, rng)
    reshape(out, rng)
    dropout(out, rng)
    lone_matmul(out, rng)
    wide(out, rng)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Models whose dense layers a training plan fuses, for test_train_fusion.c.

    make_train_fusion_cases.py OUT_DIR

Each case is CASE.onnx, CASE.x.npy, CASE.t.npy (targets: int64 labels or
float values) and, for every initializer i (in model order) and step s in
1..3, CASE.p{i}.s{s}.npy: the initializer after s plain-SGD steps (lr 0.1)
computed by torch autograd in float64 from the same start. The losses are
Keras's: sparse categorical cross-entropy from the final Softmax's logits
(mean over the batch), or MSE (mean over the outputs, then the batch).

    tf2onnx   MatMul+Add+Relu, Add(b, .)+Relu, MatMul+Add -> Softmax (3 fused)
    gemm_t    Gemm transB=1 + Relu, Gemm transB=1           (2 fused)
    gemm_n    Gemm transB=0, bias [1, N] + Relu, MatMul + Relu, lone MatMul
                                                            (2 fused)
    exposed   MatMul+Add whose output is also a graph output, then a Relu
              that cannot be absorbed, MatMul+Add           (2 fused)
    wide      batch 256, 30-160(relu)-4: the ReLU mask and bias sums split
              over threads                                  (2 fused)
    seq       x [8, 5, 20]: MatMul on a 3-D input, rows = 8 x 5 (2 fused)
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

LR = 0.1
STEPS = 3


def init(rng, shape, scale=0.5):
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def save_case(out, name, nodes, inputs, outputs, params, x, t, forward, loss):
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in params])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, f"{name}.onnx"))
    np.save(os.path.join(out, f"{name}.x.npy"), x)
    np.save(os.path.join(out, f"{name}.t.npy"), t)
    tp = [torch.tensor(v.astype(np.float64), requires_grad=True) for _, v in params]
    tx = torch.tensor(x.astype(np.float64))
    tt = torch.tensor(t if t.dtype == np.int64 else t.astype(np.float64))
    for step in range(1, STEPS + 1):
        for p in tp:
            p.grad = None
        loss(forward(tx, *tp), tt).backward()
        with torch.no_grad():
            for p in tp:
                p -= LR * p.grad
        for i, p in enumerate(tp):
            np.save(os.path.join(out, f"{name}.p{i}.s{step}.npy"), p.detach().numpy().astype(np.float32))


def sparse_ce(logits, labels):
    return torch.nn.functional.cross_entropy(logits, labels)


def mse(y, t):
    return ((y - t) ** 2).mean()


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)
    mk = helper.make_node

    # tf2onnx layout, Softmax at the end; the second Add has the bias first.
    params = [("W1", init(rng, (20, 16))), ("b1", init(rng, (16,), 0.1)),
              ("W2", init(rng, (16, 12))), ("b2", init(rng, (12,), 0.1)),
              ("W3", init(rng, (12, 5))), ("b3", init(rng, (5,), 0.1))]
    nodes = [mk("MatMul", ["x", "W1"], ["m1"]), mk("Add", ["m1", "b1"], ["a1"]), mk("Relu", ["a1"], ["h1"]),
             mk("MatMul", ["h1", "W2"], ["m2"]), mk("Add", ["b2", "m2"], ["a2"]), mk("Relu", ["a2"], ["h2"]),
             mk("MatMul", ["h2", "W3"], ["m3"]), mk("Add", ["m3", "b3"], ["z"]), mk("Softmax", ["z"], ["y"])]
    x = rng.uniform(-1, 1, (64, 20)).astype(np.float32)
    t = rng.integers(0, 5, 64).astype(np.int64)
    save_case(out, "tf2onnx", nodes, [vi("x", ["N", 20])], [vi("y", ["N", 5])], params, x, t,
              lambda x, W1, b1, W2, b2, W3, b3:
              torch.relu(torch.relu(x @ W1 + b1) @ W2 + b2) @ W3 + b3, sparse_ce)

    # PyTorch layout: Gemm with W [out, in].
    params = [("W1", init(rng, (16, 20))), ("b1", init(rng, (16,), 0.1)),
              ("W2", init(rng, (5, 16))), ("b2", init(rng, (5,), 0.1))]
    nodes = [mk("Gemm", ["x", "W1", "b1"], ["g1"], transB=1), mk("Relu", ["g1"], ["h1"]),
             mk("Gemm", ["h1", "W2", "b2"], ["y"], transB=1)]
    x = rng.uniform(-1, 1, (48, 20)).astype(np.float32)
    t = rng.uniform(-1, 1, (48, 5)).astype(np.float32)
    save_case(out, "gemm_t", nodes, [vi("x", ["N", 20])], [vi("y", ["N", 5])], params, x, t,
              lambda x, W1, b1, W2, b2: torch.relu(x @ W1.T + b1) @ W2.T + b2, mse)

    # Gemm transB=0 with a [1, N] bias; MatMul+Relu without bias; a lone MatMul.
    params = [("W1", init(rng, (20, 16))), ("b1", init(rng, (1, 16), 0.1)),
              ("W2", init(rng, (16, 12))), ("W3", init(rng, (12, 5)))]
    nodes = [mk("Gemm", ["x", "W1", "b1"], ["g1"]), mk("Relu", ["g1"], ["h1"]),
             mk("MatMul", ["h1", "W2"], ["m2"]), mk("Relu", ["m2"], ["h2"]),
             mk("MatMul", ["h2", "W3"], ["y"])]
    x = rng.uniform(-1, 1, (40, 20)).astype(np.float32)
    t = rng.uniform(-1, 1, (40, 5)).astype(np.float32)
    save_case(out, "gemm_n", nodes, [vi("x", ["N", 20])], [vi("y", ["N", 5])], params, x, t,
              lambda x, W1, b1, W2, W3: torch.relu(torch.relu(x @ W1 + b1) @ W2) @ W3, mse)

    # The first layer's pre-activation is also a graph output: its Relu
    # stays a step of its own (the loss reads output 0, y).
    params = [("W1", init(rng, (20, 16))), ("b1", init(rng, (16,), 0.1)),
              ("W2", init(rng, (16, 5))), ("b2", init(rng, (5,), 0.1))]
    nodes = [mk("MatMul", ["x", "W1"], ["m1"]), mk("Add", ["m1", "b1"], ["a1"]), mk("Relu", ["a1"], ["h1"]),
             mk("MatMul", ["h1", "W2"], ["m2"]), mk("Add", ["m2", "b2"], ["y"])]
    x = rng.uniform(-1, 1, (32, 20)).astype(np.float32)
    t = rng.uniform(-1, 1, (32, 5)).astype(np.float32)
    save_case(out, "exposed", nodes, [vi("x", ["N", 20])], [vi("y", ["N", 5]), vi("a1", ["N", 16])],
              params, x, t, lambda x, W1, b1, W2, b2: torch.relu(x @ W1 + b1) @ W2 + b2, mse)

    # Large enough (256 x 160 activations) for the backward's column split.
    params = [("W1", init(rng, (30, 160), 0.3)), ("b1", init(rng, (160,), 0.1)),
              ("W2", init(rng, (160, 4), 0.2)), ("b2", init(rng, (4,), 0.1))]
    nodes = [mk("MatMul", ["x", "W1"], ["m1"]), mk("Add", ["m1", "b1"], ["a1"]), mk("Relu", ["a1"], ["h1"]),
             mk("MatMul", ["h1", "W2"], ["m2"]), mk("Add", ["m2", "b2"], ["y"])]
    x = rng.uniform(-1, 1, (256, 30)).astype(np.float32)
    t = rng.uniform(-1, 1, (256, 4)).astype(np.float32)
    save_case(out, "wide", nodes, [vi("x", ["N", 30])], [vi("y", ["N", 4])], params, x, t,
              lambda x, W1, b1, W2, b2: torch.relu(x @ W1 + b1) @ W2 + b2, mse)

    # A sequence input: MatMul treats [8, 5, 20] as 40 rows; the MSE targets
    # are each sample's 5 x 3 outputs flattened.
    params = [("W1", init(rng, (20, 16))), ("b1", init(rng, (16,), 0.1)),
              ("W2", init(rng, (16, 3))), ("b2", init(rng, (3,), 0.1))]
    nodes = [mk("MatMul", ["x", "W1"], ["m1"]), mk("Add", ["m1", "b1"], ["a1"]), mk("Relu", ["a1"], ["h1"]),
             mk("MatMul", ["h1", "W2"], ["m2"]), mk("Add", ["m2", "b2"], ["y"])]
    x = rng.uniform(-1, 1, (8, 5, 20)).astype(np.float32)
    t = rng.uniform(-1, 1, (8, 15)).astype(np.float32)
    save_case(out, "seq", nodes, [vi("x", ["N", 5, 20])], [vi("y", ["N", 5, 3])], params, x, t,
              lambda x, W1, b1, W2, b2: (torch.relu(x @ W1 + b1) @ W2 + b2).reshape(8, 15), mse)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A model whose gradients have several contributors, for test_train_plan.c.

    make_shared_grad_case.py OUT_DIR

    h = relu(x @ W + b)          W [6, 5] feeds two MatMuls
    z = x @ W                    (so dW has two contributors)
    u = h * h + z                h is read twice (dh has three contributors)
    y = u @ V                    V [5, 3]

Trains it for 3 plain-SGD steps (lr 0.05) on an MSE loss (Keras "mse": mean
over the 3 outputs, then over the batch) with torch autograd in float64, and
writes the
model, x, the targets and W, b, V after each step: onnxc must reproduce them
step by step, which it cannot if a gradient buffer is overwritten instead of
accumulated, or left holding the previous step's values.
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (4, 6)).astype(np.float32)
    t = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    W = rng.uniform(-0.5, 0.5, (6, 5)).astype(np.float32)
    b = rng.uniform(-0.1, 0.1, (5,)).astype(np.float32)
    V = rng.uniform(-0.5, 0.5, (5, 3)).astype(np.float32)

    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["a"]),
        helper.make_node("Relu", ["a"], ["h"]),
        helper.make_node("MatMul", ["x", "W"], ["z"]),
        helper.make_node("Mul", ["h", "h"], ["hh"]),
        helper.make_node("Add", ["hh", "z"], ["u"]),
        helper.make_node("MatMul", ["u", "V"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "shared_grads",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b"), numpy_helper.from_array(V, "V")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, "shared.onnx"))
    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "t.npy"), t)

    tw = [torch.tensor(v.astype(np.float64), requires_grad=True) for v in (W, b, V)]
    tx, tt = torch.tensor(x.astype(np.float64)), torch.tensor(t.astype(np.float64))
    for step in range(1, 4):
        Wt, bt, Vt = tw
        h = torch.relu(tx @ Wt + bt)
        u = h * h + tx @ Wt
        loss = ((u @ Vt - tt) ** 2).mean()
        for p in tw:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in tw:
                p -= 0.05 * p.grad
        for name, p in zip("WbV", tw):
            np.save(os.path.join(out, f"{name}{step}.npy"), p.detach().numpy().astype(np.float32))


if __name__ == "__main__":
    main()

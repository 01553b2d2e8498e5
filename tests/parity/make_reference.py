#!/usr/bin/python3
"""Write the PyTorch reference for tests/test_parity_torch.c.

The setup is the Keras tutorial's seed network trained with PyTorch 1.13
(Debian python3-torch), everything fixed by numpy seeds:

  network    784-64(relu)-64(relu)-10, logits; the softmax of the ONNX graph
             is folded into the loss (cross-entropy on logits, batch mean),
             as Keras and onnxc do
  init       Glorot-uniform kernels U(-sqrt(6/(in+out)), +sqrt(6/(in+out)))
             drawn by numpy (seed 20240601, layer by layer, [in, out] order),
             zero biases
  data       the first 3200 Fashion-MNIST training images, pixels / 255, in a
             fixed permutation (numpy seed 7); batch k is rows
             indices[32k : 32k + 32]; 100 steps of batch 32 use each image once
  optimizer  Adam, lr 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7, in the
             Keras form (see README.md: the epsilon sits outside the bias
             correction), written out in float32 torch ops below

Files written next to this script (all little-endian .npy):

  initial_<layer>_<kernel|bias>.npy  float32, kernels [in, out] (tf2onnx layout)
  final_<layer>_<kernel|bias>.npy    float32, the weights after 100 steps
  batch_indices.npy                  int64 [3200], rows of train-images
  losses.npy                         float64 [100], loss of step k before its update

It also prints how far torch.optim.Adam (epsilon inside the bias
correction) and a float64 run of the same update land from the committed
float32 reference; README.md quotes those figures.

usage: /usr/bin/python3 tests/parity/make_reference.py [FASHION_MNIST_DIR]
"""
import gzip
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
LAYERS = [("dense", 784, 64), ("dense_1", 64, 64), ("dense_2", 64, 10)]
N_IMAGES, BATCH, STEPS = 3200, 32, 100
LR, BETA_1, BETA_2, EPSILON = 1e-3, 0.9, 0.999, 1e-7
INIT_SEED, ORDER_SEED = 20240601, 7


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndims = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndims, data[4:4 + 4 * ndims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def initial_weights():
    rng = np.random.default_rng(INIT_SEED)
    weights = {}
    for name, n_in, n_out in LAYERS:
        limit = np.sqrt(6.0 / (n_in + n_out))
        weights[name + "_kernel"] = rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32)
        weights[name + "_bias"] = np.zeros(n_out, np.float32)
    return weights


def train(weights, x_all, y_all, indices, dtype, keras_adam):
    """100 Adam steps; returns (per-step losses, final weights as numpy)."""
    torch.manual_seed(0)  # nothing here is random; set anyway
    params = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in weights.items()}
    order = [params[n + s] for n, _, _ in LAYERS for s in ("_kernel", "_bias")]
    m = [torch.zeros_like(p) for p in order]
    v = [torch.zeros_like(p) for p in order]
    builtin = None if keras_adam else torch.optim.Adam(order, lr=LR, betas=(BETA_1, BETA_2), eps=EPSILON)
    losses = []
    for step in range(STEPS):
        rows = indices[step * BATCH:(step + 1) * BATCH]
        x = torch.tensor(x_all[rows], dtype=dtype)
        y = torch.tensor(y_all[rows], dtype=torch.int64)
        h = x
        for i, (name, _, _) in enumerate(LAYERS):
            h = h @ params[name + "_kernel"] + params[name + "_bias"]  # x[batch, in] @ W[in, out]
            if i < len(LAYERS) - 1:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, y)  # from logits, mean over the batch
        for p in order:
            p.grad = None
        loss.backward()
        losses.append(float(loss))
        with torch.no_grad():
            if builtin is not None:
                builtin.step()
                continue
            # Keras 3 Adam.update_step, with the bias corrections folded into
            # the step size (computed in double, as onnxc does).
            t = step + 1
            alpha = LR * np.sqrt(1.0 - BETA_2 ** t) / (1.0 - BETA_1 ** t)
            for p, mi, vi in zip(order, m, v):
                g = p.grad
                mi.add_((g - mi) * (1.0 - BETA_1))
                vi.add_((g * g - vi) * (1.0 - BETA_2))
                p.sub_(alpha * mi / (vi.sqrt() + EPSILON))
    final = {k: p.detach().to(torch.float32).numpy().copy() for k, p in params.items()}
    return np.array(losses, np.float64), final


def max_gap(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def main():
    torch.set_num_threads(1)
    images = read_idx(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, "train-labels-idx1-ubyte.gz"))
    x_all = images[:N_IMAGES].reshape(N_IMAGES, 784).astype(np.float32) / np.float32(255.0)
    y_all = labels[:N_IMAGES].astype(np.int64)
    indices = np.random.default_rng(ORDER_SEED).permutation(N_IMAGES).astype(np.int64)
    weights = initial_weights()

    losses, final = train(weights, x_all, y_all, indices, torch.float32, keras_adam=True)
    losses_builtin, final_builtin = train(weights, x_all, y_all, indices, torch.float32, keras_adam=False)
    losses64, final64 = train(weights, x_all, y_all, indices, torch.float64, keras_adam=True)

    for k, w in weights.items():
        np.save(os.path.join(HERE, f"initial_{k}.npy"), w)
    for k, w in final.items():
        np.save(os.path.join(HERE, f"final_{k}.npy"), w)
    np.save(os.path.join(HERE, "batch_indices.npy"), indices)
    np.save(os.path.join(HERE, "losses.npy"), losses)

    rel = lambda a, b: float(np.max(np.abs(a - b) / np.abs(b)))
    print(f"loss step 1 {losses[0]:.6f}, step 100 {losses[-1]:.6f}")
    print(f"torch.optim.Adam vs Keras-form Adam: loss rel {rel(losses_builtin, losses):.2e}, "
          f"weights abs {max_gap(final_builtin, final):.2e}")
    print(f"float64 vs float32 (Keras form):     loss rel {rel(losses64, losses):.2e}, "
          f"weights abs {max_gap(final64, final):.2e}")
    print(f"largest weight change over 100 steps: {max_gap(final, weights):.3e}")


if __name__ == "__main__":
    main()

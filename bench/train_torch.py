#!/usr/bin/python3
"""PyTorch's side of bench/train_vs_torch.py: the seed model trained the way
Keras (and onnxc) train it, timed like onnxc times its epochs.

    OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=T MKL_NUM_THREADS=T \
    /usr/bin/python3 bench/train_torch.py --data DIR --batch-size B --threads T [--epochs E] [--seed S]

Setup (../shared/ANCHORS.md): 784-64(relu)-64(relu)-10, Glorot-uniform
kernels, zero biases, cross-entropy on the logits (Keras's sparse
categorical cross-entropy on a softmax output is computed from the logits),
Adam lr 1e-3, betas 0.9/0.999, eps 1e-7, pixels / 255, reshuffled every epoch.

Timing, as onnxc's fit() reports it: the data are read from the idx files
and turned into float tensors before any timing ("load_s"); an epoch's
"epoch_s" is its wall time minus the time spent gathering each batch's rows
("gather_s", reported separately), and excludes the evaluation on the test
set that follows it. The thread counts of torch (intra-op and inter-op) and
of its BLAS are set by the caller's environment and set_num_threads. Prints
one JSON line.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{folder}: no {stem}[.gz]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    t0 = time.perf_counter()
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set
    import_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    x = torch.from_numpy(read_idx(find(args.data, "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255.0)
    y = torch.from_numpy(read_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64))
    xt = torch.from_numpy(read_idx(find(args.data, "t10k-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255.0)
    yt = torch.from_numpy(read_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64))
    load_s = time.perf_counter() - t0

    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 10))
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    n, B = x.shape[0], args.batch_size
    epochs = []
    for epoch in range(args.epochs):
        g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        perm = torch.randperm(n, generator=g)
        loss_sum = torch.zeros(())
        correct = torch.zeros((), dtype=torch.int64)
        gather = 0.0
        start = time.perf_counter()
        for s in range(0, n, B):
            g0 = time.perf_counter()
            idx = perm[s:s + B]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            gather += time.perf_counter() - g0
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * idx.shape[0]
                correct += (logits.argmax(1) == yb).sum()
        wall = time.perf_counter() - start
        with torch.no_grad():
            val_acc = float((model(xt).argmax(1) == yt).float().mean())
        epochs.append({"epoch": epoch + 1, "epoch_s": wall - gather, "gather_s": gather, "wall_s": wall,
                       "loss": float(loss_sum) / n, "accuracy": float(correct) / n, "val_accuracy": val_acc})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "interop_threads": torch.get_num_interop_threads(), "import_s": import_s, "load_s": load_s,
                      "batch_size": B, "epochs": epochs}))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Training side by side: onnxc against PyTorch on the seed model, one epoch
of Fashion-MNIST, in the same run.

    /usr/bin/python3 bench/train_vs_torch.py --build BUILD_DIR [--out bench/RESULTS_TRAIN.md]

BUILD_DIR is a CMake build with the onnxc CLI and bench/bench_load.

 1. `onnxc init 784,64:relu,64:relu,10:softmax --seed 1` writes the model.
 2. For every batch size (32 and 128), ROUNDS rounds; each round runs, for
    each thread count (1 and 2) in turn, onnxc then PyTorch, one fresh
    process each, alternating:
      onnxc:   onnxc train seed.onnx --data DIR --epochs 1 --batch-size B
               --threads T --seed 1 --log run.jsonl -o out.onnx
               (OMP_NUM_THREADS=T); the epoch time is the `seconds` of the
               JSONL epoch record, which fit() measures without the batch
               gathers (runtime/train/fit.c) and without validation.
      PyTorch: bench/train_torch.py with OMP_NUM_THREADS, OPENBLAS_NUM_THREADS
               and MKL_NUM_THREADS = T and torch.set_num_threads(T),
               interop threads 1; the data are float tensors before timing,
               and its epoch time likewise leaves out the batch gathers.
    Figures are medians over rounds; the ratio is onnxc / PyTorch.
 3. Data loading, separately: onnxc_dataset_load_idx of the train and test
    files (`bench_load idx DIR`, what `onnxc train --data` does first)
    against the script's reading and conversion to float tensors.
 4. The README's main job (scripts/main.sh) without its install and build
    steps: the five CLI commands it runs (init, info, train 5 epochs at batch
    32, check, eval), with the build's onnxc, each one's wall time and peak
    RSS (ru_maxrss of the child); the train step's peak RSS is the figure the
    issue bounds (a 5-epoch seed run <= 256 MB).
 5. With 2 threads in the grid: bench/cross_core, what moving the weights
    and gradients between the two cores costs on this machine, and
    bench/split_layer, the first layer's products split by columns between
    the two threads instead.
 6. With 1 and 2 threads in the grid: the same network in PyTorch's layout
    (bench/make_models.py's seed_pt.onnx, Gemm transB=1 with W [out, in]),
    onnxc only, 1 and 2 threads alternating; and bench/train_ways, each of
    the trainer's ways of running a two-thread step forced, step times.
 7. The dense arithmetic floor: the epoch's FLOPs (forward, weight
    gradients, and input gradients of every layer but the first) over this
    machine's FMA peak on one thread (bench/peak_fma, same run). A target
    below floor / PyTorch cannot be met by any implementation that does
    every multiply-add. onnxc skips the first layer's multiply-adds with
    zero pixels (runtime/kernels/sgemm_sparse.h), so the report also counts
    the zeros of the training images and gives onnxc's own floor, and
    bench/sparse_layer's one-thread timing of those two products, zeros
    skipped against dense, and bench/train_anatomy's split of a one-thread
    step into its ops, the loss and the optimizer update. Adam's exact
    square root and division per parameter share one unit whose throughput
    bench/peak_fma --divider measures; with it, onnxc's floor per batch size
    (its multiply-adds at the FMA peak plus its updates at the divider's).

The machine is shared and noisy: compare only figures from the same run.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys

from benchproc import cpu_name, last_json, measure

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PY = "/usr/bin/python3"
SPEC = "784,64:relu,64:relu,10:softmax"
WIDTHS = [784, 64, 64, 10]
TARGETS = {(32, 1): 0.20, (128, 1): 0.25}
TRAIN_SAMPLES = 60000


def flop_per_sample(widths):
    """Multiply-adds x 2 of one sample's training step: the forward pass and
    the weight gradients of every layer, and the input gradients of every
    layer but the first (nothing upstream needs the data's gradient)."""
    products = [a * b for a, b in zip(widths, widths[1:])]
    return 2 * (2 * sum(products) + sum(products[1:]))


def pixel_densities(data):
    """Fractions of the training images' pixels that are not zero, and of
    their groups of 4 neighbouring pixels (in row-major order) with any
    nonzero: what the sparse kernels of onnxc's first layer multiply in the
    forward pass and in the weight gradient. None when numpy or the file is
    missing."""
    try:
        from train_torch import find, read_idx  # the torch script's idx reader; torch is not imported
        pixels = read_idx(find(data, "train-images-idx3-ubyte")).reshape(-1, WIDTHS[0]) != 0
        groups = pixels[:, : WIDTHS[0] // 4 * 4].reshape(len(pixels), -1, 4).any(axis=2)
        return float(pixels.mean()), float(groups.mean())
    except (ImportError, OSError, ValueError, SystemExit):
        return None


def peak_gflops(build, threads):
    """The best FMA peak bench/peak_fma finds at `threads` threads, or None."""
    exe = os.path.join(build, "bench", "peak_fma")
    if not os.path.exists(exe):
        return None
    out = measure([exe, "--threads", str(threads)])[0]
    vals = [float(w.split("=", 1)[1]) for line in out.splitlines() for w in line.split() if w.startswith("gflops=")]
    return max(vals) if vals else None


def divider_ns(build):
    """Nanoseconds of one exact square root and one division of 16 floats
    on one thread (bench/peak_fma --divider), or None."""
    exe = os.path.join(build, "bench", "peak_fma")
    if not os.path.exists(exe):
        return None
    out = measure([exe, "--divider"])[0]
    vals = [float(w.split("=", 1)[1]) for w in out.split() if w.startswith("ns_per_16=")]
    return vals[0] if vals else None


def param_count(widths):
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def thread_env(t):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(t)
    return env


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_onnxc(onnxc, model, data, work, batch, threads, epochs=1):
    logf = os.path.join(work, f"onnxc_b{batch}_t{threads}.jsonl")
    argv = [onnxc, "train", model, "--data", data, "--epochs", str(epochs), "--batch-size", str(batch),
            "--threads", str(threads), "--seed", "1", "--log", logf, "-o", os.path.join(work, "trained.onnx")]
    _, wall, kb = measure(argv, thread_env(threads))
    recs = read_jsonl(logf)
    return {"epoch_s": recs[0]["seconds"], "gather_s": recs[0].get("data_seconds"),
            "loss": recs[0]["loss"], "accuracy": recs[0]["accuracy"],
            "val_accuracy": recs[0].get("val_accuracy"), "wall_s": wall, "maxrss_kb": kb,
            "one_thread_steps": recs[0].get("one_thread_steps")}


def run_torch(data, batch, threads):
    argv = [PY, os.path.join(HERE, "train_torch.py"), "--data", data, "--batch-size", str(batch),
            "--threads", str(threads)]
    out, wall, kb = measure(argv, thread_env(threads))
    r = last_json(out)
    e = r["epochs"][0]
    return {"epoch_s": e["epoch_s"], "gather_s": e["gather_s"], "loss": e["loss"], "accuracy": e["accuracy"],
            "val_accuracy": e["val_accuracy"], "load_s": r["load_s"], "import_s": r["import_s"],
            "torch_threads": r["threads"], "torch": r["torch"], "wall_s": wall, "maxrss_kb": kb}


def main_job(onnxc, data, work):
    """scripts/main.sh's CLI steps, in order, with this build's onnxc."""
    out = os.path.join(work, "tutorial")
    os.makedirs(out, exist_ok=True)
    steps = [
        ("init", [onnxc, "init", SPEC, "-o", f"{out}/model.onnx", "--seed", "1"]),
        ("info", [onnxc, "info", f"{out}/model.onnx"]),
        ("train", [onnxc, "train", f"{out}/model.onnx", "--data", data, "--epochs", "5", "--batch-size", "32",
                   "--optimizer", "adam", "--loss", "sparse_categorical_crossentropy", "--seed", "1",
                   "--log", f"{out}/train.jsonl", "-o", f"{out}/trained.onnx"]),
        ("check", [onnxc, "check", f"{out}/trained.onnx"]),
        ("eval", [onnxc, "eval", f"{out}/trained.onnx", "--data", data]),
    ]
    res = {}
    for name, argv in steps:
        text, wall, kb = measure(argv)
        res[name] = {"wall_s": wall, "maxrss_kb": kb}
        if name == "eval":
            res[name]["output"] = text.strip().splitlines()[:3]
    res["epochs"] = read_jsonl(f"{out}/train.jsonl")
    return res


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="CMake build folder with onnxc and bench_load")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS_TRAIN.md"), help="Markdown file to write")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="Fashion-MNIST idx folder")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per point (default 5, at least 3)")
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--main-rounds", type=int, default=1, help="runs of the main job (default 1)")
    ap.add_argument("--skip-main-job", action="store_true")
    ap.add_argument("--quick", action="store_true", help="3 rounds, batch 128 at 1 thread only (smoke test)")
    args = ap.parse_args()
    command = "/usr/bin/python3 bench/train_vs_torch.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    build = os.path.abspath(args.build)
    onnxc = os.path.join(build, "onnxc")
    bench_load = os.path.join(build, "bench", "bench_load")
    for exe in (onnxc, bench_load):
        if not os.path.exists(exe):
            sys.exit(f"{exe} not built (cmake --build {args.build} --target onnxc_cli bench_load)")
    work = os.path.join(build, "bench", "train")
    os.makedirs(work, exist_ok=True)
    rounds = 3 if args.quick else max(3, args.rounds)
    batches = [128] if args.quick else [int(b) for b in args.batches.split(",")]
    threads = [1] if args.quick else [int(t) for t in args.threads.split(",")]
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    load_start = os.getloadavg()

    model = os.path.join(work, "seed.onnx")
    measure([onnxc, "init", SPEC, "-o", model, "--seed", "1"])
    points = {}
    loads = {"onnxc": [], "torch": []}
    # Within a round every thread count runs back to back, so that the
    # two-thread gain compares runs a minute apart, not a grid apart.
    for b in batches:
        for t in threads:
            points[(b, t)] = {"onnxc": [], "torch": []}
        for r in range(rounds):
            for t in threads:
                rows = points[(b, t)]
                rows["onnxc"].append(run_onnxc(onnxc, model, args.data, work, b, t))
                rows["torch"].append(run_torch(args.data, b, t))
                loads["torch"].append(rows["torch"][-1]["load_s"])
                log(f"batch {b} threads {t} round {r + 1}: onnxc {rows['onnxc'][-1]['epoch_s']:.3f} s, "
                    f"torch {rows['torch'][-1]['epoch_s']:.3f} s")
    for _ in range(rounds):
        r = last_json(measure([bench_load, "idx", args.data])[0])
        loads["onnxc"].append((r["train_ms"] + r["t10k_ms"]) / 1e3)
    # The PyTorch layout, whose first layer two threads split by columns.
    layouts = {}
    if 1 in threads and 2 in threads:
        measure([PY, os.path.join(HERE, "make_models.py"), os.path.join(work, "models")])
        model_pt = os.path.join(work, "models", "seed_pt.onnx")
        for b in batches:
            runs = {"1": [], "2": []}  # by thread count, as in results.json
            for r in range(rounds):
                for t in (1, 2):
                    runs[str(t)].append(run_onnxc(onnxc, model_pt, args.data, work, b, t))
                log(f"seed_pt batch {b} round {r + 1}: 1 thread {runs['1'][-1]['epoch_s']:.3f} s, "
                    f"2 threads {runs['2'][-1]['epoch_s']:.3f} s")
            layouts[str(b)] = runs
    jobs = [] if args.skip_main_job else [main_job(onnxc, args.data, work) for _ in range(args.main_rounds)]
    # What moving data between the two cores costs (bench/cross_core.c): the
    # two-thread figures above are bounded by it.
    cross = os.path.join(build, "bench", "cross_core")
    cross_out = measure([cross])[0].strip().splitlines() if 2 in threads and os.path.exists(cross) else []
    # ... and what splitting the first layer's columns between them gives (bench/split_layer.c).
    split = os.path.join(build, "bench", "split_layer")
    split_out = measure([split])[0].strip().splitlines() if 2 in threads and os.path.exists(split) else []
    # The first layer's two products with and without skipping the zeros (bench/sparse_layer.c).
    sparse = os.path.join(build, "bench", "sparse_layer")
    sparse_out = []
    if os.path.exists(sparse):
        for b in batches:
            sparse_out += measure([sparse, "--batch", str(b), "--data", args.data])[0].strip().splitlines()
    # Where a one-thread step's time goes (bench/train_anatomy.c).
    anatomy = os.path.join(build, "bench", "train_anatomy")
    anatomy_out = []
    if os.path.exists(anatomy):
        for b in batches:
            anatomy_out += measure([anatomy, model, args.data, "--batch", str(b)])[0].strip().splitlines()
    ways = os.path.join(build, "bench", "train_ways")
    ways_out = []
    if 2 in threads and os.path.exists(ways):
        ways_argv = [ways, model, args.data]
        for b in batches:
            ways_argv += ["--batch", str(b)]
        ways_out = measure(ways_argv)[0].strip().splitlines()
    peak = {str(t): peak_gflops(build, t) for t in threads}
    div_ns = divider_ns(build)
    load_end = os.getloadavg()
    raw = {"command": command, "started": started, "load_start": load_start, "load_end": load_end,
           "rounds": rounds, "batches": batches, "threads": threads,
           "points": {f"{b}|{t}": v for (b, t), v in points.items()}, "loads": loads, "main_job": jobs,
           "cross_core": cross_out, "split_layer": split_out, "pytorch_layout": layouts,
           "train_ways": ways_out, "peak_gflops": peak, "divider_ns": div_ns, "cpu": cpu_name(),
           "flop_per_epoch": flop_per_sample(WIDTHS) * TRAIN_SAMPLES, "sparse_layer": sparse_out,
           "train_anatomy": anatomy_out, "pixel_densities": pixel_densities(args.data)}
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(raw, f, indent=1)
    write_report(args.out, raw)
    log(f"wrote {args.out} (raw data: {work}/results.json)")


def fenced(lines):
    """A program's output as a Markdown code block."""
    return ["```", *lines, "```\n"]


def program_section(L, lines, intro):
    """A paragraph and a program's output under it, when it ran."""
    if lines:
        L.append(intro)
        L.extend(fenced(lines))


def write_report(path, raw):
    L = []
    pts = {tuple(int(x) for x in k.split("|")): v for k, v in raw["points"].items()}
    any_torch = next((rows["torch"][0] for rows in pts.values() if rows["torch"]), {})
    L.append("# Training benchmark: onnxc vs PyTorch, seed model, Fashion-MNIST\n")
    L.append("Generated by `bench/train_vs_torch.py`; do not edit by hand. Command (from the repository root):\n")
    L.append(f"```\n{raw['command']}\n```\n")
    L.append(f"- Run: {raw['started']}, {platform.node()}, CPU {raw.get('cpu', cpu_name())}, {os.cpu_count()} cores; load "
             f"average {raw['load_start'][0]:.1f} at start, {raw['load_end'][0]:.1f} at end (the machine is "
             "shared: compare figures within this file only).")
    L.append(f"- Model 784-64(relu)-64(relu)-10(softmax), Adam (lr 1e-3, eps 1e-7), sparse categorical "
             f"cross-entropy from the logits, 60,000 samples shuffled each epoch; PyTorch "
             f"{any_torch.get('torch', '?')} (Debian python3-torch) set up as ../shared/ANCHORS.md says. "
             f"Each figure is the median of {raw['rounds']} rounds; a round of a batch size runs each thread "
             "count in turn, and for each onnxc and PyTorch one after the other, each a fresh process, with "
             "the same thread count for onnxc "
             "(`--threads`, OMP_NUM_THREADS) and for torch (set_num_threads, interop 1, "
             "OMP/OPENBLAS/MKL_NUM_THREADS). OpenBLAS keeps this machine's environment "
             f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}).")
    L.append("- Epoch time leaves out data loading on both sides, and also the per-batch gather of "
             "shuffled rows (onnxc's fit() subtracts it; the torch script times it and subtracts it the "
             "same way; both are in the gather columns), and the validation pass after the epoch. onnxc's "
             "figures are the `seconds` and `data_seconds` of its `--log` JSONL record.\n")
    peak1 = (raw.get("peak_gflops") or {}).get("1")
    own_floor = {}  # batch size -> onnxc's one-thread floor, seconds an epoch
    floor = raw["flop_per_epoch"] / (peak1 * 1e9) if peak1 and raw.get("flop_per_epoch") else None
    if floor:
        peaks = ", ".join(f"{g:.0f} GFLOP/s on {t} thread{'s' if t != '1' else ''}"
                          for t, g in sorted(raw["peak_gflops"].items()) if g)
        L.append(f"- Dense arithmetic floor: an epoch is {raw['flop_per_epoch'] / 1e9:.1f} GFLOP (forward, "
                 "weight gradients, and input gradients of the second and third layers); this machine's FMA "
                 f"peak, measured in the same run by `bench/peak_fma`, is {peaks}, so no one-thread epoch that "
                 f"does every multiply-add (PyTorch's does) can take less than {floor:.3f} s. The "
                 "`dense floor / PyTorch` column is that over PyTorch's median.")
        dens = raw.get("pixel_densities")
        if dens:
            first = 2 * WIDTHS[0] * WIDTHS[1] * TRAIN_SAMPLES  # one of the first layer's products
            own = raw["flop_per_epoch"] - first * (1 - dens[0]) - first * (1 - dens[1])
            L.append(f"  onnxc skips the first layer's multiply-adds with a zero pixel "
                     f"(runtime/kernels/sgemm_sparse.h, same results bit for bit): {dens[0]:.1%} of the training "
                     f"pixels are nonzero (the forward product's share) and {dens[1]:.1%} of groups of 4 "
                     f"neighbouring pixels have one (the weight gradient's), so it does ~{own / 1e9:.1f} GFLOP an "
                     f"epoch, a floor of {own / (peak1 * 1e9):.3f} s.")
            div = raw.get("divider_ns")
            if div:
                params = param_count(WIDTHS)
                update = {b: -(-TRAIN_SAMPLES // b) * params / 16 * div * 1e-9 for b in raw["batches"]}
                own_floor = {b: own / (peak1 * 1e9) + u for b, u in update.items()}
                L.append(f"  Adam's update takes an exact square root and a division per parameter (as PyTorch's "
                         f"does), which share one unit: `bench/peak_fma --divider` measures the pair for 16 floats "
                         f"at {div:.2f} ns on one thread here, so the {params:,} parameters' updates need at least "
                         + ", ".join(f"{u:.4f} s an epoch at batch {b}" for b, u in sorted(update.items()))
                         + ". Both together give onnxc's own floor: "
                         + ", ".join(f"{f:.3f} s at batch {b}" for b, f in sorted(own_floor.items()))
                         + " (the `onnxc floor / PyTorch` column; it counts no loads, stores or other work).")
        L.append("")
    L.append("## Epoch time\n")
    L.append("| batch | threads | onnxc s/epoch (fastest) | PyTorch s/epoch (fastest) | onnxc / PyTorch | target | "
             "met | dense floor / PyTorch | onnxc floor / PyTorch | onnxc gather s | torch gather s | onnxc val acc | torch val acc |")
    L.append("|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for (b, t), rows in sorted(pts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        o, p = med(rows["onnxc"], "epoch_s"), med(rows["torch"], "epoch_s")
        target = TARGETS.get((b, t))
        ratio = o / p
        L.append(f"| {b} | {t} | {o:.3f} ({min(r['epoch_s'] for r in rows['onnxc']):.3f}) | "
                 f"{p:.3f} ({min(r['epoch_s'] for r in rows['torch']):.3f}) | {ratio:.2f} | "
                 f"{'≤ %.2f' % target if target else '—'} | "
                 f"{('yes' if ratio <= target else 'no') if target else '—'} | "
                 f"{'%.2f' % (floor / p) if floor and t == 1 else '—'} | "
                 f"{'%.2f' % (own_floor[b] / p) if own_floor.get(b) and t == 1 else '—'} | "
                 f"{med(rows['onnxc'], 'gather_s'):.3f} | "
                 f"{med(rows['torch'], 'gather_s'):.3f} | "
                 f"{med(rows['onnxc'], 'val_accuracy'):.3f} | {med(rows['torch'], 'val_accuracy'):.3f} |")
    L.append("")
    p1, p2 = pts.get((128, 1)), pts.get((128, 2))
    if p1 and p2:
        so = med(p1["onnxc"], "epoch_s") / med(p2["onnxc"], "epoch_s")
        st = med(p1["torch"], "epoch_s") / med(p2["torch"], "epoch_s")
        sg = ((med(p1["onnxc"], "epoch_s") + med(p1["onnxc"], "gather_s")) /
              (med(p2["onnxc"], "epoch_s") + med(p2["onnxc"], "gather_s")))
        L.append(f"Batch 128, 2 threads against 1: onnxc {so:.2f}× faster (target ≥ 1.6×: "
                 f"{'met' if so >= 1.6 else 'not met'}); PyTorch {st:.2f}×. Counting onnxc's batch gathers "
                 f"too (the `data_seconds` above; two threads write what the other core then reads): {sg:.2f}×.\n")
        solo = [r.get("one_thread_steps") for r in p2["onnxc"]]
        if all(v is not None for v in solo):
            steps = -(-TRAIN_SAMPLES // 128)
            L.append("Steps of each two-thread batch-128 round that the trainer ran on one thread, having timed "
                     f"that as faster (the `one_thread_steps` of its log, of {steps}): "
                     + ", ".join(f"{v} ({r['epoch_s']:.3f} s)" for v, r in zip(solo, p2["onnxc"]))
                     + ". A few are the tuner's probes; hundreds mean the other core was busy with other "
                     "work for much of that epoch.\n")
        pairs = [(a["epoch_s"], b["epoch_s"]) for a, b in zip(p1["onnxc"], p2["onnxc"])]
        L.append("onnxc's epochs round by round (1 thread, then 2 threads, the same round a few seconds apart): "
                 + ", ".join(f"{a:.3f} / {b:.3f} s = {a / b:.2f}×" for a, b in pairs)
                 + "; a round where the other core was busy gives ~1×.\n")
    program_section(L, raw.get("cross_core"),
                    "Moving data between the two cores, measured in the same run by `bench/cross_core` (the "
                    "memory traffic of a two-thread step without its arithmetic; phases explained in "
                    "bench/cross_core.c). A data-parallel step has each thread write its half of the weights, "
                    "which the other thread read in its forward pass, and read the other half, which the other "
                    "thread wrote:\n")
    program_section(L, raw.get("sparse_layer"),
                    "The first layer's two products on one thread, skipping the zero pixels against the dense "
                    "GEMM, alternating, on Fashion-MNIST batches and on the same batches with every zero made "
                    "nonzero (then both run the dense GEMM: the sparse entry points decide from a sample of rows "
                    "and fall back), with the bits of both compared (`bench/sparse_layer`, same run):\n")
    program_section(L, raw.get("train_anatomy"),
                    "Where a one-thread step of the seed model goes, op by op (`bench/train_anatomy`, same run; "
                    "2,000 steps, the plan's and the trainer's own timers; a fused Dense layer is one forward "
                    "and one backward step, whose products skip zeros wherever its input has enough of them):\n")
    program_section(L, raw.get("split_layer"),
                    "The other way to use two threads, model parallelism, splits the first layer's 64 columns "
                    "between them, so that no weight crosses; `bench/split_layer` times the two products that "
                    "carry ~75% of a batch-128 step (the forward and dW of the 784x64 layer) that way, in the "
                    "same run:\n")
    if raw.get("pytorch_layout"):
        L.append("The same network in PyTorch's layout (`seed_pt.onnx` of bench/make_models.py: Gemm with "
                 "transB=1, W [out, in]), onnxc only, 1 and 2 threads alternating in the same run. With two "
                 "threads both layouts split the first layer by columns (runtime/train/column_split.h) where "
                 "the trainer's tuner finds that fastest:\n")
        L.append("| batch | 1 thread s/epoch | 2 threads s/epoch | 2 threads vs 1 |")
        L.append("|---:|---:|---:|---:|")
        for b, runs in sorted(raw["pytorch_layout"].items(), key=lambda kv: int(kv[0])):
            o1, o2 = med(runs["1"], "epoch_s"), med(runs["2"], "epoch_s")
            L.append(f"| {b} | {o1:.3f} | {o2:.3f} | {o1 / o2:.2f}× |")
        L.append("")
    program_section(L, raw.get("train_ways"),
                    "Each of the trainer's ways of running a two-thread step, forced, on the seed model "
                    "(`bench/train_ways`, same run; windows of steps alternate between the ways). The trainer "
                    "times them as it trains and runs the fastest (runtime/train/thread_tuner.h); which one "
                    "wins depends on the machine:\n")
    L.append("Whole processes of the same runs (start-up, data loading, the epoch, validation, saving; "
             "peak RSS from `wait4`):\n")
    L.append("| batch | threads | onnxc wall s | onnxc peak RSS MiB | PyTorch wall s | PyTorch peak RSS MiB |")
    L.append("|---:|---:|---:|---:|---:|---:|")
    for (b, t), rows in sorted(pts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        L.append(f"| {b} | {t} | {med(rows['onnxc'], 'wall_s'):.2f} | {med(rows['onnxc'], 'maxrss_kb') / 1024:.0f} | "
                 f"{med(rows['torch'], 'wall_s'):.2f} | {med(rows['torch'], 'maxrss_kb') / 1024:.0f} |")
    L.append("")
    L.append("## Data loading\n")
    lo, lt = raw["loads"]["onnxc"], raw["loads"]["torch"]
    L.append("Reading the four gzip'd idx files (70,000 images) into memory, once per process: onnxc with "
             "`onnxc_dataset_load_idx` (`bench_load idx DIR`; images stay uint8 and are scaled per batch), "
             "PyTorch's script with gzip + numpy and conversion to float tensors / 255. Not part of the "
             "epoch times above.\n")
    L.append("| | median s | fastest s |")
    L.append("|---|---:|---:|")
    if lo:
        L.append(f"| onnxc | {statistics.median(lo):.3f} | {min(lo):.3f} |")
    if lt:
        L.append(f"| PyTorch script | {statistics.median(lt):.3f} | {min(lt):.3f} |")
    L.append("")
    if raw["main_job"]:
        jobs = raw["main_job"]
        L.append("## The README's main job (scripts/main.sh)\n")
        L.append("scripts/main.sh first installs packages and builds onnxc; those steps are left out. The "
                 "five CLI commands it then runs are run here as it runs them (same arguments, default "
                 "thread count, i.e. all cores), with this build's `onnxc`. Wall time and peak RSS per "
                 f"command, median of {len(jobs)} run{'s' if len(jobs) > 1 else ''}:\n")
        L.append("| step | wall s | peak RSS MiB |")
        L.append("|---|---:|---:|")
        total = 0.0
        for step in ("init", "info", "train", "check", "eval"):
            w = statistics.median(j[step]["wall_s"] for j in jobs)
            k = statistics.median(j[step]["maxrss_kb"] for j in jobs)
            total += w
            L.append(f"| {step} | {w:.2f} | {k / 1024:.1f} |")
        L.append(f"| **end to end** | **{total:.2f}** | |")
        L.append("")
        k = statistics.median(j["train"]["maxrss_kb"] for j in jobs) / 1024
        L.append(f"Peak RSS of the 5-epoch seed run (the train step): {k:.1f} MiB (target ≤ 256 MB: "
                 f"{'met' if k * 1.048576 <= 256 else 'not met'}).")
        ep = jobs[0]["epochs"]
        L.append("Epochs of the first run: " + ", ".join(
            f"{e['epoch']}: {e['seconds']:.2f} s, val acc {e.get('val_accuracy', float('nan')):.3f}" for e in ep)
            + ". Anchor (PyTorch, ANCHORS.md): test accuracy 0.838, 0.857, 0.863, 0.866, 0.874.")
        out = jobs[0]["eval"].get("output")
        if out:
            L.append("\n`onnxc eval` said: " + " / ".join(f"`{line.strip()}`" for line in out))
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()

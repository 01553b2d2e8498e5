#!/usr/bin/python3
"""Side-by-side benchmark: onnxc against ONNX Runtime, same models, inputs and
thread counts, and the GEMM kernels against OpenBLAS. One command:

    /usr/bin/python3 bench/run.py --build BUILD_DIR [--out bench/RESULTS.md]

BUILD_DIR is a CMake build of this repository with the bench targets
(bench_onnxc, peak_fma, sgemm_vs_openblas). Steps:

 1. bench/make_models.py writes the models and inputs into BUILD_DIR/bench/models.
 2. peak_fma measures this machine's FMA peak at 1 and 2 threads.
 3. bench_onnxc --serve and `node bench/bench_ort.js --serve` stay up for the
    whole run (sessions are created once, outside the timings). For every
    point (model, batch, threads) each side first gets one calibration
    request, then ROUNDS timed requests alternate A B A B ..., each request
    doing its own warm-up calls before its timed calls. A point's figure is
    the median over rounds of each request's median per-call time.
 4. ORT's figures include the Node binding's per-call cost; the one-node
    model (bench/make_models.py) measures it at every batch and thread count,
    and the table shows ORT raw and with it subtracted.
 5. sgemm_vs_openblas compares the kernels with OpenBLAS on every layer shape
    and on whole dense stacks, with the environment as given (this machine
    sets OPENBLAS_CORETYPE=Haswell, an AVX2 kernel) and with
    OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed (OpenBLAS picks its own).
 6. Everything goes into one Markdown file, with the exact command.
 7. Unless --skip-memory: bench/memory.py (peak RSS of `onnxc run` against
    ORT, load time of a ~150 MB model) writes bench/RESULTS_MEMORY.md.
    Training against PyTorch is bench/train_vs_torch.py (RESULTS_TRAIN.md).

The machine is noisy: compare only figures from the same run.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

from benchproc import cpu_name

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PY = "/usr/bin/python3"

TARGETS_TEXT = ("wide 256 <= 1.00; deep 32 <= 0.90; seed 32 <= 0.80 (time ratios onnxc/ORT, "
                "1 thread, medians); seed batch 1: one call <= 1.0 us; wide 256 at 2 threads "
                ">= 1.8x faster than at 1 thread")


def bench_exe(build, name):
    """A benchmark program of the build: bench/ holds them (add_subdirectory)."""
    for path in (os.path.join(build, "bench", name), os.path.join(build, name)):
        if os.path.exists(path):
            return path
    sys.exit(f"{name} is not built in {build} (cmake --build {build} --target {name})")


# The seed model's FP32 weights and biases (784·64 + 64 + 64·64 + 64 + 64·10 + 10 floats).
SEED_WEIGHT_BYTES = 4 * (784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def gemm_flops(widths, batch):
    return 2.0 * batch * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


class Server:
    """A benchmark program in --serve mode: one request line in, one JSON line out."""

    def __init__(self, name, argv, env):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=sys.stderr, text=True, env=env, bufsize=1)

    def ask(self, args):
        self.proc.stdin.write(" ".join(str(a) for a in args) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited (status {self.proc.poll()})")
        r = json.loads(line)
        if "error" in r:
            raise RuntimeError(f"{self.name}: {r['error']}")
        return r

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


def iters_for(per_call_us, target_s):
    n = int(target_s * 1e6 / max(per_call_us, 0.05))
    return max(3, min(n, 20000))


def measure_point(servers, model, batch, threads, xfile, rounds, target_s, outdir):
    """Alternating rounds on both servers; returns {name: {...}}."""
    base = [model, batch, threads]
    inp = ["--input", xfile]
    # Calibration (also warms caches, sessions and the plan for this shape).
    est = {}
    for s in servers:
        r = s.ask(base + [3] + inp + ["--warmup", 2])
        est[s.name] = r["median_us"]
    res = {s.name: {"medians": [], "mins": []} for s in servers}
    for rnd in range(rounds):
        for s in servers:
            iters = iters_for(est[s.name], target_s)
            warm = max(2, min(iters // 10, 50))
            extra = []
            if rnd == 0 and outdir:
                out = os.path.join(outdir, f"{s.name}_{os.path.basename(model)}_b{batch}_t{threads}.npy")
                extra = ["--out", out]
                res[s.name]["out"] = out
            r = s.ask(base + [iters] + inp + ["--warmup", warm] + extra)
            res[s.name]["medians"].append(r["median_us"])
            res[s.name]["mins"].append(r["min_us"])
            res[s.name]["iters"] = iters
            # Let the other side's idle worker threads stop spinning.
            time.sleep(0.03)
    for s in servers:
        d = res[s.name]
        d["median_us"] = statistics.median(d["medians"])
        d["min_us"] = min(d["mins"])
    return res


def max_abs_diff(a, b):
    import numpy as np
    return float(np.max(np.abs(np.load(a).astype(np.float64) - np.load(b).astype(np.float64))))


def run_peak(build, threads):
    out = subprocess.run([bench_exe(build, "peak_fma"), "--threads", str(threads), "--seconds", "2"],
                         capture_output=True, text=True, check=True).stdout
    peaks = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "peak" and parts[3].startswith("gflops="):
            peaks[parts[1]] = float(parts[3].split("=")[1])
    return peaks


def run_kernels(build, threads_list, rounds, quick):
    """sgemm_vs_openblas with the environment as given and with OpenBLAS's
    core-type variables removed; returns {(env, threads): [json, ...]}."""
    exe = bench_exe(build, "sgemm_vs_openblas")
    if not os.path.exists(exe):
        log("sgemm_vs_openblas not built: kernel section skipped")
        return None
    envs = {"as set": dict(os.environ)}
    auto = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        auto.pop(k, None)
    envs["unset"] = auto
    out = {}
    for env_name, env in envs.items():
        for t in threads_list:
            for mode in (["--chains"], []):
                args = [exe, "--threads", str(t), "--rounds", str(rounds)] + mode
                if quick:
                    args += ["--min-ms", "0.5"]
                log(f"kernels: {' '.join(args[1:])} (OpenBLAS env {env_name})")
                p = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
                out.setdefault((env_name, t), []).extend(json.loads(l) for l in p.stdout.splitlines() if l.strip())
    return out


def fmt_us(us):
    if us >= 10000:
        return f"{us / 1000:.1f} ms"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    if us >= 100:
        return f"{us:.0f} µs"
    return f"{us:.2f} µs" if us < 10 else f"{us:.1f} µs"


def gf(flops, us):
    return flops / (us * 1e-6) / 1e9 if us > 0 else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="CMake build folder with the bench targets")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"), help="Markdown file to write")
    ap.add_argument("--rounds", type=int, default=7, help="alternating rounds per point (default 7)")
    ap.add_argument("--target-s", type=float, default=0.25, help="timed seconds per request (default 0.25)")
    ap.add_argument("--models", default="seed,seed_pt,wide,deep")
    ap.add_argument("--batches", default="1,32,256,4096")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--skip-kernels", action="store_true", help="no OpenBLAS comparison")
    ap.add_argument("--skip-memory", action="store_true", help="do not run bench/memory.py")
    ap.add_argument("--quick", action="store_true", help="shorter timings (smoke test)")
    ap.add_argument("--report-only", metavar="RAW_JSON",
                    help="re-render the Markdown from the raw data a previous run saved (no timing)")
    args = ap.parse_args()
    if args.report_only:
        with open(args.report_only) as f:
            raw = json.load(f)
        points = {tuple(json.loads(k)): v for k, v in raw["points"].items()}
        kernels = None
        if raw["kernels"] is not None:
            kernels = {tuple(json.loads(k)): v for k, v in raw["kernels"].items()}
        peaks = {(int(t) if t.isdigit() else t): p for t, p in raw["peaks"].items()}
        write_report(args, raw["command"], raw["started"], raw["load_start"], raw["load_end"], peaks,
                     raw["ort_version"], raw["widths"], raw["models"], raw["batches"], raw["threads"],
                     points, kernels, raw["rounds"], raw["target_s"], raw["kernel_rounds"])
        log(f"wrote {args.out}")
        return
    command = "/usr/bin/python3 bench/run.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    build = os.path.abspath(args.build)
    models_dir = os.path.join(build, "bench", "models")
    outs_dir = os.path.join(build, "bench", "outputs")
    os.makedirs(outs_dir, exist_ok=True)
    models = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    threads_list = [int(t) for t in args.threads.split(",")]
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    load_start = os.getloadavg()

    subprocess.run([PY, os.path.join(HERE, "make_models.py"), models_dir], check=True, stdout=sys.stderr)
    with open(os.path.join(models_dir, "models.json")) as f:
        widths = json.load(f)["widths"]

    peaks = {t: run_peak(build, t) for t in threads_list}
    l2 = dict(w.split("=", 1) for w in subprocess.run([bench_exe(build, "peak_fma"), "--read-kb", "256"],
                                                       capture_output=True, text=True).stdout.split() if "=" in w)
    peaks["read_gbps_256kb"] = float(l2["gbps"]) if "gbps" in l2 else None
    peaks["read_median_gbps_256kb"] = float(l2["median_gbps"]) if "median_gbps" in l2 else None
    log(f"peak: {peaks}")

    env = dict(os.environ)
    if "NODE_PATH" not in env:
        for cand in (os.path.join(REPO, ".cache", "ort", "node_modules"), "/work/ort/node_modules"):
            if os.path.isdir(cand):
                env["NODE_PATH"] = cand
                break
    ort_version = subprocess.run(["node", "-e", "console.log(require('onnxruntime-node/package.json').version)"],
                                 capture_output=True, text=True, env=env).stdout.strip() or "?"
    servers = [Server("onnxc", [bench_exe(build, "bench_onnxc"), "--serve"], env),
               Server("ort", ["node", os.path.join(HERE, "bench_ort.js"), "--serve"], env)]
    target_s = args.target_s / (4 if args.quick else 1)
    rounds = max(1, args.rounds if not args.quick else min(args.rounds, 3))
    points = {}
    try:
        for t in threads_list:
            for b in batches:
                xfile = os.path.join(models_dir, f"x_b{b}.npy")
                for m in models + ["onenode"]:
                    log(f"{m} batch {b} threads {t}")
                    points[(m, b, t)] = measure_point(servers, os.path.join(models_dir, f"{m}.onnx"), b, t,
                                                      xfile, rounds, target_s, outs_dir)
    finally:
        for s in servers:
            s.close()

    kernel_rounds = 9 if not args.quick else 3
    kernels = None if args.skip_kernels else run_kernels(build, threads_list, kernel_rounds, args.quick)
    load_end = os.getloadavg()
    raw_path = os.path.join(build, "bench", "results.json")
    with open(raw_path, "w") as f:
        json.dump({"command": command, "started": started, "load_start": load_start, "load_end": load_end,
                   "peaks": peaks, "ort_version": ort_version, "widths": widths, "models": models,
                   "batches": batches, "threads": threads_list, "rounds": rounds, "target_s": target_s,
                   "kernel_rounds": kernel_rounds,
                   "points": {json.dumps(list(k)): v for k, v in points.items()},
                   "kernels": None if kernels is None else {json.dumps(list(k)): v for k, v in kernels.items()}},
                  f)
    log(f"raw data: {raw_path} (re-render with --report-only)")
    write_report(args, command, started, load_start, load_end, peaks, ort_version, widths, models,
                 batches, threads_list, points, kernels, rounds, target_s, kernel_rounds)
    log(f"wrote {args.out}")
    if not args.skip_memory:
        # Its own processes and its own file; the same build, the same quick/full choice.
        mem = [PY, os.path.join(HERE, "memory.py"), "--build", args.build]
        if args.quick:
            mem.append("--quick")
        if args.out != os.path.join(HERE, "RESULTS.md"):
            mem += ["--out", os.path.join(os.path.dirname(os.path.abspath(args.out)), "RESULTS_MEMORY.md")]
        subprocess.run(mem, check=True, env=env)


def write_report(args, command, started, load_start, load_end, peaks, ort_version, widths, models,
                 batches, threads_list, points, kernels, rounds, target_s, kernel_rounds):
    L = []
    cpu = cpu_name()
    L.append("# Benchmark results: onnxc vs ONNX Runtime, GEMM kernels vs OpenBLAS\n")
    L.append("Generated by `bench/run.py`; do not edit by hand. Command (from the repository root):\n")
    L.append(f"```\n{command}\n```\n")
    L.append("Memory and load time (peak RSS of `onnxc run` against ORT, loading a ~150 MB model) are in "
             "[RESULTS_MEMORY.md](RESULTS_MEMORY.md) (`bench/memory.py`, run at the end of this command "
             "unless `--skip-memory`); training against PyTorch is in [RESULTS_TRAIN.md](RESULTS_TRAIN.md) "
             "(`bench/train_vs_torch.py`).\n")
    L.append(f"- Run: {started}, {platform.node()}, CPU {cpu}, {os.cpu_count()} cores; "
             f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end "
             "(the machine is shared: compare figures within this file only).")
    L.append(f"- ONNX Runtime: onnxruntime-node {ort_version} (`await session.run` in node, "
             "intraOpNumThreads = threads). onnxc: `onnxc_session_run` in-process (bench_onnxc).")
    L.append(f"- Each point: {rounds} alternating rounds (onnxc, ORT, onnxc, ...), each round one "
             f"request of ~{target_s:.2f} s of timed calls after its own warm-up; figure = median over "
             "rounds of the per-request median per-call time. `min` = fastest single call seen.")
    L.append("- GFLOP/s counts the GEMMs only (2·batch·Σ in·out). % of peak uses the FMA peak "
             "measured by `peak_fma` at the start of this run at the same thread count.")
    pk = ", ".join(f"{t} thread{'s' if t > 1 else ''}: " +
                   " / ".join(f"{isa} {v:.0f} GFLOP/s" for isa, v in p.items())
                   for t, p in peaks.items() if isinstance(t, int))
    L.append(f"- Peak (FMA loop, best ~2 ms block over 2 s): {pk}. The 2-thread figure needs both "
             "threads to get a core at once, which a loaded 2-core machine rarely grants.\n")

    def peak(t):
        p = peaks.get(t, {})
        return p.get("avx512") or p.get("avx2") or float("nan")

    L.append("### Reading this file\n")
    L.append("- Two different things are measured. **End to end** is each runtime as a whole, through "
             "its API, on the ONNX models: onnxc's executor fuses each MatMul+Add+Relu (or Gemm+Relu) "
             "with constant weights into one Dense step on weights packed once per session "
             "(runtime/fuse_dense.c). **Kernel level** is the GEMM of runtime/kernels/ that those "
             "steps call, timed directly on the same layer shapes against OpenBLAS.")
    L.append("- The machine has 2 cores shared with other jobs. One-thread figures are usable; "
             "two-thread figures need both threads on a core at the same moment, and a single "
             "preempted thread stalls the whole parallel region for a scheduler quantum (the ~4, 8, "
             "12 ms plateaus below), so two-thread medians mostly measure the load. The fastest "
             "round/call is the better estimate of what the code does there.")
    bw, bw_med = peaks.get("read_gbps_256kb"), peaks.get("read_median_gbps_256kb")
    bw_text = (f"this run measured {bw:.0f} GB/s reading a 256 KB buffer in cache (`peak_fma --read-kb "
               f"256`, best pass; {bw_med or float('nan'):.0f} GB/s median pass), so reading them alone takes "
               f"≥ {SEED_WEIGHT_BYTES / (bw * 1e9) * 1e6:.2f} µs ({SEED_WEIGHT_BYTES / ((bw_med or bw) * 1e9) * 1e6:.2f} µs "
               "at the median pass's rate)"
               if bw else "reading them takes ~1 µs at L2 speed")
    L.append("- Batch 1 is bandwidth-bound, not compute-bound: a seed-model call must read its "
             f"220 KB of FP32 weights, which live in L2 (1 MB) between calls; {bw_text}, before any "
             "per-call overhead. The 1.0 µs target for a whole call sits at or below that floor.\n")

    # ---- end-to-end ----------------------------------------------------------
    L.append("## End to end: onnxc vs ONNX Runtime\n")
    L.append("Whole-model timings through each runtime's API, onnxc in-process through "
             "`onnxc_session_run`, ORT through `await session.run` in node.\n")
    L.append("`ORT−bind` = ORT median minus ORT's median on the one-node model at the same batch and "
             "threads (the Node binding's fixed cost per call). Ratios < 1 mean onnxc is faster.\n")
    L.append("| model | batch | thr | onnxc median (min) | ORT median (min) | ORT−bind | onnxc/ORT | "
             "onnxc/(ORT−bind) | onnxc GFLOP/s (% peak) | ORT GFLOP/s (% peak) | max abs diff |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in threads_list:
        for b in batches:
            ov = points.get(("onenode", b, t), {}).get("ort", {}).get("median_us", 0.0)
            for m in models:
                p = points.get((m, b, t))
                if not p:
                    continue
                a, o = p["onnxc"]["median_us"], p["ort"]["median_us"]
                net = o - ov
                fl = gemm_flops(widths[m], b)
                try:
                    diff = f"{max_abs_diff(p['onnxc']['out'], p['ort']['out']):.1e}"
                except Exception:
                    diff = "?"
                L.append(f"| {m} | {b} | {t} | {fmt_us(a)} ({fmt_us(p['onnxc']['min_us'])}) | "
                         f"{fmt_us(o)} ({fmt_us(p['ort']['min_us'])}) | {fmt_us(net) if net > 0 else '—'} | "
                         f"{a / o:.2f} | {(a / net) if net > 0 else float('nan'):.2f} | "
                         f"{gf(fl, a):.1f} ({100 * gf(fl, a) / peak(t):.0f}%) | "
                         f"{gf(fl, o):.1f} ({100 * gf(fl, o) / peak(t):.0f}%) | {diff} |")
    L.append("")
    L.extend(thread_identity(points, models, batches, threads_list))
    L.append("One-node model (`onenode.onnx`: one Gather, y = x[:, :10]) — each runtime's fixed cost "
             "per call:\n")
    L.append("| batch | thr | onnxc median | ORT median (= binding cost subtracted above) |")
    L.append("|---:|---:|---:|---:|")
    for t in threads_list:
        for b in batches:
            p = points.get(("onenode", b, t))
            if p:
                L.append(f"| {b} | {t} | {fmt_us(p['onnxc']['median_us'])} | {fmt_us(p['ort']['median_us'])} |")
    L.append("")

    # ---- targets ---------------------------------------------------------------
    L.append("### Targets (issue), on the end-to-end figures above\n")
    L.append(f"Targets: {TARGETS_TEXT}.\n")
    L.append("The verdict uses medians and ORT with its binding cost subtracted (`onnxc/(ORT−bind)`, "
             "which favours ORT), as the issue asks; the raw ratio onnxc/ORT is shown beside it.\n")
    L.append("`machine bound` is the best the target's figure could be on this machine in this run: for "
             "the ratios, the GEMM FLOPs at 100% of the 1-thread FMA peak measured above, against the same "
             "ORT−bind; for batch 1, the weights read once at the median (best) L2 read rate plus onnxc's "
             "own per-call cost on the one-node model; for the speed-up, two full cores. A target beyond "
             "it cannot be met here by any code.\n")
    L.append("| target | measured: onnxc/(ORT−bind) (raw onnxc/ORT) | machine bound | met |")
    L.append("|---|---:|---:|---|")

    def ratio(m, b, t, key, subtract):
        p = points.get((m, b, t))
        if not p:
            return None
        bind = points.get(("onenode", b, t), {}).get("ort", {}).get(key, 0.0) if subtract else 0.0
        return p["onnxc"][key] / max(p["ort"][key] - bind, 1e-9)

    def bound_ratio(m, b):
        """The ratio onnxc would have at 100% of the FMA peak: its GEMM time
        at peak over ORT−bind."""
        p = points.get((m, b, 1))
        if not p or not (peak(1) > 0):
            return None
        bind = points.get(("onenode", b, 1), {}).get("ort", {}).get("median_us", 0.0)
        at_peak_us = gemm_flops(widths[m], b) / (peak(1) * 1e9) * 1e6
        return at_peak_us / max(p["ort"]["median_us"] - bind, 1e-9)

    for (m, b, lim) in (("wide", 256, 1.00), ("deep", 32, 0.90), ("seed", 32, 0.80)):
        r = ratio(m, b, 1, "median_us", True)
        if r is not None:
            br = bound_ratio(m, b)
            bound = f"{br:.2f}" if br is not None else "?"
            L.append(f"| {m} {b}, 1 thread, onnxc/(ORT−bind) ≤ {lim:.2f} | {r:.2f} "
                     f"({ratio(m, b, 1, 'median_us', False):.2f}) | {bound} | {'yes' if r <= lim else 'no'} |")
    p = points.get(("seed", 1, 1))
    if p:
        v = p["onnxc"]["median_us"]
        call = points.get(("onenode", 1, 1), {}).get("onnxc", {}).get("median_us", 0.0)
        bound = "?"
        if bw:
            bound = (f"{fmt_us(SEED_WEIGHT_BYTES / ((bw_med or bw) * 1e9) * 1e6 + call)} "
                     f"({fmt_us(SEED_WEIGHT_BYTES / (bw * 1e9) * 1e6 + call)})")
        L.append(f"| seed batch 1, one call ≤ 1.0 µs | {fmt_us(v)} ({fmt_us(p['onnxc']['min_us'])}) | {bound} | "
                 f"{'yes' if v <= 1.0 else 'no'} |")
    p1, p2 = points.get(("wide", 256, 1)), points.get(("wide", 256, 2))
    if p1 and p2:
        sp = p1["onnxc"]["median_us"] / p2["onnxc"]["median_us"]
        spm = p1["onnxc"]["min_us"] / p2["onnxc"]["min_us"]
        spo = p1["ort"]["median_us"] / p2["ort"]["median_us"]
        L.append(f"| wide 256, 2 threads ≥ 1.8× faster than 1 thread | {sp:.2f}× ({spm:.2f}×); "
                 f"ORT {spo:.2f}× | 2.00× | {'yes' if sp >= 1.8 else 'no'} |")
    L.append("")

    # ---- kernels ---------------------------------------------------------------
    if kernels:
        L.extend(kernel_report(kernels, threads_list, peak, kernel_rounds))
    with open(args.out, "w") as f:
        f.write("\n".join(L) + "\n")


def thread_identity(points, models, batches, threads_list):
    """The issue: results stay bit-identical across thread counts. Compares
    onnxc's saved outputs (first round of each point) at every thread count
    with those at the first one, byte for byte."""
    import numpy as np
    if len(threads_list) < 2:
        return []
    t0, same, differ, missing = threads_list[0], 0, [], 0
    for m in models:
        for b in batches:
            try:
                ref = np.load(points[(m, b, t0)]["onnxc"]["out"])
            except Exception:  # noqa: BLE001 - point not run or output missing
                missing += 1
                continue
            for t in threads_list[1:]:
                try:
                    other = np.load(points[(m, b, t)]["onnxc"]["out"])
                except Exception:  # noqa: BLE001
                    missing += 1
                    continue
                if ref.dtype == other.dtype and ref.shape == other.shape and ref.tobytes() == other.tobytes():
                    same += 1
                else:
                    differ.append(f"{m} batch {b} at {t} threads")
    text = (f"onnxc's outputs at {', '.join(str(t) for t in threads_list[1:])} threads against {t0}: "
            f"{same} of {same + len(differ)} points bit-identical")
    text += f"; DIFFERENT: {', '.join(differ)}." if differ else "."
    if missing:
        text += f" ({missing} outputs missing.)"
    return [text, ""]


def kernel_report(kernels, threads_list, peak, rounds):
    L = ["## Kernel level: runtime/kernels sgemm vs OpenBLAS sgemm\n",
         f"`sgemm_vs_openblas`, one process per configuration, the variants alternating in each of "
         f"{rounds} rounds; each cell is `median (fastest round)` per call. Shapes are the models' "
         "layers: M = batch, K = in, N = out. `ours` = `oc_sgemm_run` with B packed beforehand (how a "
         "layer with constant weights would call it); `fast` = `oc_sgemm_fast` (packs B on every "
         "call, same contract as `oc_sgemm`). OpenBLAS = `cblas_sgemm` (libopenblas0-openmp 0.3.21) "
         "with the environment as set here (`OPENBLAS_CORETYPE=Haswell`: its AVX2 kernel) and with "
         "`OPENBLAS_CORETYPE`/`OPENBLAS_L2_SIZE` unset (OpenBLAS picks its AVX-512 core itself). "
         "`faster` compares ours with the better OpenBLAS on the fastest round — the figure least "
         "disturbed by other processes on this shared machine; medians of long calls are often "
         "inflated by time slices lost to them. GFLOP/s and % of peak are from ours' fastest round.\n"]
    for t in threads_list:
        a = {(r["M"], r["N"], r["K"]): r for r in kernels.get(("as set", t), []) if "M" in r}
        u = {(r["M"], r["N"], r["K"]): r for r in kernels.get(("unset", t), []) if "M" in r}
        if not a:
            continue
        core_u = next(iter(u.values()))["openblas_core"] if u else "?"
        isa = next(iter(a.values()))["isa"]
        L.append(f"### {t} thread{'s' if t > 1 else ''} (our kernels: {isa}; OpenBLAS with the "
                 f"variables unset picks {core_u})\n")
        L.append(f"| M×N×K | ours | GFLOP/s (% peak) | fast | OpenBLAS Haswell | OpenBLAS {core_u} | "
                 "faster |")
        L.append("|---|---:|---:|---:|---:|---:|---|")
        for key, r in a.items():
            M, N, K = key
            fl = 2.0 * M * N * K
            ru = u.get(key)
            blas_best = min([r["blas_min_us"]] + ([ru["blas_min_us"]] if ru else []))
            ratio = r["run_min_us"] / blas_best
            verdict = "ours" if ratio <= 1.0 else "OpenBLAS"
            g = gf(fl, r["run_min_us"])
            L.append(f"| {M}×{N}×{K} | {fmt_us(r['run_us'])} ({fmt_us(r['run_min_us'])}) | "
                     f"{g:.0f} ({100 * g / peak(t):.0f}%) | {fmt_us(r['fast_us'])} ({fmt_us(r['fast_min_us'])}) | "
                     f"{fmt_us(r['blas_us'])} ({fmt_us(r['blas_min_us'])}) | "
                     f"{(fmt_us(ru['blas_us']) + ' (' + fmt_us(ru['blas_min_us']) + ')') if ru else '—'} | "
                     f"{verdict} ({ratio:.2f}) |")
        L.append("\n`faster`: (ratio ours / best OpenBLAS, fastest rounds).\n")
        ca = [r for r in kernels.get(("as set", t), []) if "chain" in r]
        cu = {(r["chain"], r["batch"]): r for r in kernels.get(("unset", t), []) if "chain" in r}
        if ca:
            L.append(f"Whole dense stacks (no softmax), {t} thread{'s' if t > 1 else ''}: ours = "
                     "`oc_sgemm_run` per layer with bias+ReLU fused; OpenBLAS = `cblas_sgemm` + a "
                     "bias/ReLU pass. This is the floor for an executor that calls the kernels "
                     "directly (no graph overhead). `median (fastest round)`:\n")
            L.append(f"| model | batch | ours | GFLOP/s (% peak) | OpenBLAS Haswell | OpenBLAS {core_u} |")
            L.append("|---|---:|---:|---:|---:|---:|")
            wid = {"seed": [784, 64, 64, 10], "wide": [784, 1024, 1024, 10], "deep": [784] + [512] * 6 + [10]}
            for r in ca:
                fl = gemm_flops(wid[r["chain"]], r["batch"])
                g = gf(fl, r["ours_min_us"])
                ru = cu.get((r["chain"], r["batch"]))
                L.append(f"| {r['chain']} | {r['batch']} | {fmt_us(r['ours_us'])} ({fmt_us(r['ours_min_us'])}) | "
                         f"{g:.0f} ({100 * g / peak(t):.0f}%) | {fmt_us(r['blas_us'])} ({fmt_us(r['blas_min_us'])}) | "
                         f"{(fmt_us(ru['blas_us']) + ' (' + fmt_us(ru['blas_min_us']) + ')') if ru else '—'} |")
            L.append("")
    return L


if __name__ == "__main__":
    main()

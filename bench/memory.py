#!/usr/bin/python3
"""Memory and load time: onnxc against ONNX Runtime, same models and inputs.

    /usr/bin/python3 bench/memory.py --build BUILD_DIR [--out bench/RESULTS_MEMORY.md]

BUILD_DIR is a CMake build with the onnxc CLI and bench/bench_load. Every
measurement is its own process, and its peak RSS is the kernel's
ru_maxrss for that child (os.wait4), so both runtimes are measured the
same way, from outside. The two sides alternate, A B A B, and every figure
is a median over rounds.

 1. bench/make_models.py BUILD_DIR/bench/models --big: the benchmark models
    plus big.onnx, 784-4096-4096-4096-10 (~147 MB, fixed seed; not committed).
 2. Baselines: `node -e` requiring onnxruntime-node and nothing else (ORT's
    idle process; subtracted from ORT's figures, as the issue asks), and
    `onnxc --version` (shown for context, not subtracted).
 3. Peak RSS of `onnxc run MODEL -i X.npy -o Y.npy --threads T` against
    `node bench/ort_load.js run MODEL X.npy T` (session create + one run)
    minus the node baseline, for seed, wide, deep (and big) at batch 32 and
    4096. The outputs of both are compared (max abs diff).
 4. Load: `bench_load model big.onnx` (onnxc_model_load, onnxc_session_create,
    first onnxc_session_run at batch 1, which builds the plan) against
    `node bench/ort_load.js create big.onnx T` (InferenceSession.create), and
    onnxc's peak RSS against the file size.

The machine is shared and noisy: compare only figures from the same run.
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

from benchproc import cpu_name, last_json, measure, node_env

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PY = "/usr/bin/python3"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def max_abs_diff(a, b):
    import numpy as np
    return float(np.max(np.abs(np.load(a).astype(np.float64) - np.load(b).astype(np.float64))))


def mb(kb):
    return kb / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="CMake build folder with onnxc and bench_load")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS_MEMORY.md"), help="Markdown file to write")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per point (default 5)")
    ap.add_argument("--threads", type=int, default=1, help="threads for both runtimes (default 1)")
    ap.add_argument("--models", default="seed,wide,deep,big", help="models for the RSS table")
    ap.add_argument("--batches", default="32,4096")
    ap.add_argument("--quick", action="store_true", help="3 rounds, fewer points (smoke test)")
    ap.add_argument("--json-out", help="also write the raw figures here")
    args = ap.parse_args()
    command = "/usr/bin/python3 bench/memory.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    build = os.path.abspath(args.build)
    onnxc = os.path.join(build, "onnxc")
    bench_load = os.path.join(build, "bench", "bench_load")
    for exe in (onnxc, bench_load):
        if not os.path.exists(exe):
            sys.exit(f"{exe} not built (cmake --build {args.build} --target onnxc_cli bench_load)")
    models_dir = os.path.join(build, "bench", "models")
    outs = os.path.join(build, "bench", "mem_outputs")
    os.makedirs(outs, exist_ok=True)
    rounds = min(args.rounds, 3) if args.quick else args.rounds
    models = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    if args.quick:
        models = [m for m in models if m in ("seed", "big")]
    T = args.threads
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    load_start = os.getloadavg()

    subprocess.run([PY, os.path.join(HERE, "make_models.py"), models_dir, "--big"], check=True, stdout=sys.stderr)
    env = node_env()
    env_c = dict(os.environ, OMP_NUM_THREADS=str(T))
    ort_js = os.path.join(HERE, "ort_load.js")
    ort_version = subprocess.run(["node", "-e", "console.log(require('onnxruntime-node/package.json').version)"],
                                 capture_output=True, text=True, env=env).stdout.strip() or "?"

    # ---- baselines -------------------------------------------------------------
    base_node, base_onnxc = [], []
    for _ in range(rounds):
        base_node.append(measure(["node", ort_js, "baseline"], env)[2])
        base_onnxc.append(measure([onnxc, "--version"], env_c)[2])
    node_idle = statistics.median(base_node)
    onnxc_idle = statistics.median(base_onnxc)
    log(f"baselines: node+ort {node_idle} KiB, onnxc {onnxc_idle} KiB")

    # ---- peak RSS of one run -------------------------------------------------------
    rss = {}
    for m in models:
        model = os.path.join(models_dir, f"{m}.onnx")
        for b in batches:
            x = os.path.join(models_dir, f"x_b{b}.npy")
            yo, yr = os.path.join(outs, f"onnxc_{m}_{b}.npy"), os.path.join(outs, f"ort_{m}_{b}.npy")
            got = {"onnxc": [], "ort": [], "onnxc_s": [], "ort_s": []}
            for _ in range(rounds):
                _, w, kb = measure([onnxc, "run", model, "-i", x, "-o", yo, "--threads", str(T)], env_c)
                got["onnxc"].append(kb)
                got["onnxc_s"].append(w)
                _, w, kb = measure(["node", ort_js, "run", model, x, str(T), "--out", yr], env)
                got["ort"].append(kb)
                got["ort_s"].append(w)
            try:
                diff = max_abs_diff(yo, yr)
            except Exception as e:  # noqa: BLE001 - report, do not stop
                diff = float("nan")
                log(f"{m} {b}: cannot compare outputs: {e}")
            rss[(m, b)] = {k: statistics.median(v) for k, v in got.items()}
            rss[(m, b)]["diff"] = diff
            log(f"rss {m} b{b}: onnxc {rss[(m, b)]['onnxc']} KiB, ort {rss[(m, b)]['ort']} KiB")

    # ---- load time and peak RSS of the big model -----------------------------------
    big = os.path.join(models_dir, "big.onnx")
    file_bytes = os.path.getsize(big)
    loads = {"onnxc": [], "onnxc_io": [], "ort": []}
    for _ in range(rounds):
        for key, extra in (("onnxc", []), ("onnxc_io", ["--inference-only"])):
            out, w, kb = measure([bench_load, "model", big, "--batch", "1", "--threads", str(T)] + extra, env_c)
            r = last_json(out)
            r["wall_s"], r["maxrss_kb"] = w, kb
            loads[key].append(r)
        out, w, kb = measure(["node", ort_js, "create", big, str(T)], env)
        r = last_json(out)
        r["wall_s"], r["maxrss_kb"] = w, kb
        loads["ort"].append(r)
        io = loads["onnxc_io"][-1]
        log(f"load: onnxc {loads['onnxc'][-1]['load_ms']:.1f}+{loads['onnxc'][-1]['create_ms']:.1f}"
            f"+{loads['onnxc'][-1]['first_run_ms']:.1f} ms, inference-only {io['load_ms']:.1f}"
            f"+{io['prepare_ms']:.1f}+{io['create_ms']:.1f}+{io['first_run_ms']:.1f} ms, "
            f"ort create {r['create_ms']:.1f} ms")
    load_end = os.getloadavg()

    raw = {"command": command, "started": started, "load_start": load_start, "load_end": load_end,
           "ort_version": ort_version, "threads": T, "rounds": rounds, "node_idle_kb": node_idle,
           "onnxc_idle_kb": onnxc_idle, "file_bytes": file_bytes,
           "rss": {f"{m}|{b}": v for (m, b), v in rss.items()}, "loads": loads}
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(raw, f, indent=1)
    write_report(args.out, raw, models, batches)
    log(f"wrote {args.out}")


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def write_report(path, raw, models, batches):
    L = []
    cpu = cpu_name()
    T = raw["threads"]
    L.append("# Memory and load time: onnxc vs ONNX Runtime\n")
    L.append("Generated by `bench/memory.py`; do not edit by hand. Command (from the repository root):\n")
    L.append(f"```\n{raw['command']}\n```\n")
    L.append(f"- Run: {raw['started']}, {platform.node()}, CPU {cpu}, {os.cpu_count()} cores; load average "
             f"{raw['load_start'][0]:.1f} at start, {raw['load_end'][0]:.1f} at end. onnxruntime-node "
             f"{raw['ort_version']}; {T} thread{'s' if T > 1 else ''} on both sides; medians of "
             f"{raw['rounds']} alternating rounds, one process per measurement.")
    L.append("- Peak RSS is the kernel's `ru_maxrss` of each child process (`os.wait4`), the same "
             "measurement for both runtimes. ORT runs in Node: its figure is the process's peak minus "
             f"the peak of a Node process that only requires onnxruntime-node ({mb(raw['node_idle_kb']):.1f} MiB, "
             f"median). onnxc is not reduced: an `onnxc --version` process peaks at "
             f"{mb(raw['onnxc_idle_kb']):.1f} MiB.\n")

    L.append(f"## Peak RSS of one run (`onnxc run` vs ORT create + run), {T} thread{'s' if T > 1 else ''}\n")
    L.append("`onnxc run MODEL -i X.npy -o Y.npy` against `node bench/ort_load.js run MODEL X.npy` "
             "(InferenceSession.create, one `session.run`, output written). Target: onnxc ≤ ORT.\n")
    L.append("| model | batch | onnxc peak RSS | ORT peak RSS − idle | onnxc / ORT | onnxc wall | ORT wall | "
             "max abs diff | onnxc ≤ ORT |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for m in models:
        for b in batches:
            r = raw["rss"].get(f"{m}|{b}")
            if not r:
                continue
            ort = r["ort"] - raw["node_idle_kb"]
            L.append(f"| {m} | {b} | {mb(r['onnxc']):.1f} MiB | {mb(ort):.1f} MiB | "
                     f"{r['onnxc'] / ort if ort > 0 else float('nan'):.2f} | {r['onnxc_s'] * 1e3:.0f} ms | "
                     f"{r['ort_s'] * 1e3:.0f} ms | {r['diff']:.1e} | {'yes' if r['onnxc'] <= ort else 'no'} |")
    L.append("")

    lo, lr = raw["loads"]["onnxc"], raw["loads"]["ort"]
    li = raw["loads"].get("onnxc_io") or []
    fb = raw["file_bytes"]
    L.append(f"## Load time and memory of a {fb / 1e6:.0f} MB model (784-4096-4096-4096-10)\n")
    L.append("onnxc: `bench_load model big.onnx --batch 1` times `onnxc_model_load`, `onnxc_session_create` "
             "and the first `onnxc_session_run` at batch 1 (where the execution plan is built: onnxc "
             "plans on the first run for each input shape). With `--inference-only` it also calls "
             "`onnxc_model_set_inference_only` after the load, as `onnxc run` does: the weights are packed "
             "there, once, and the file's copy of each is freed. ORT: `node bench/ort_load.js create big.onnx` "
             "times `InferenceSession.create` (which also optimizes the graph and pre-packs weights). "
             "Peak RSS: the whole process (`ru_maxrss`), and, for onnxc, `getrusage` inside the "
             "process after each step.\n")
    ort_create = med(lr, "create_ms")

    def total(rows, run):
        return statistics.median(r["load_ms"] + r.get("prepare_ms", 0) + r["create_ms"] +
                                 (r["first_run_ms"] if run else 0) for r in rows)

    modes = [("normal", lo)] + ([("inference-only", li)] if li else [])
    L.append("| median (fastest) | " + " | ".join(f"onnxc, {n}" for n, _ in modes) + " |")
    L.append("|---|" + "---:|" * len(modes))
    for key, what in (("load_ms", "load"), ("prepare_ms", "onnxc_model_set_inference_only"),
                      ("create_ms", "session create"), ("first_run_ms", "first run, batch 1 (plan + one inference)")):
        if key == "prepare_ms" and not li:
            continue
        cells = []
        for name, rows in modes:
            v = [r.get(key, 0.0) for r in rows]
            cells.append("—" if key == "prepare_ms" and name == "normal" else
                         f"{statistics.median(v):.1f} ms ({min(v):.1f} ms)")
        L.append(f"| {what} | " + " | ".join(cells) + " |")
    L.append("| total / ORT create (" + f"{ort_create:.0f} ms median, fastest "
             f"{min(r['create_ms'] for r in lr):.0f} ms) | " +
             " | ".join(f"{total(rows, True) / ort_create:.2f} ({total(rows, False) / ort_create:.2f} without the run)"
                        for _, rows in modes) + " |")
    L.append("")
    L.append("| peak RSS, MiB (× file size) | " + " | ".join(f"onnxc, {n}" for n, _ in modes) + " |")
    L.append("|---|" + "---:|" * len(modes))
    for key, what in (("peak_load_kb", "after load"), ("peak_prepare_kb", "after onnxc_model_set_inference_only"),
                      ("peak_create_kb", "after session create"),
                      ("peak_run_kb", "after the first run (whole process)"),
                      ("rss_end_kb", "resident at the end (model, session, plan)")):
        if key == "peak_prepare_kb" and not li:
            continue
        cells = []
        for name, rows in modes:
            if key == "peak_prepare_kb" and name == "normal":
                cells.append("—")
                continue
            v = med(rows, key)
            cells.append(f"{mb(v):.1f} ({v * 1024 / fb:.2f})")
        L.append(f"| {what} | " + " | ".join(cells) + " |")
    v = med(lr, "maxrss_kb") - raw["node_idle_kb"]
    L.append(f"| ORT, create only, minus the idle Node process | {mb(v):.1f} ({v * 1024 / fb:.2f}) |" +
             " |" * (len(modes) - 1))
    L.append("")
    with_run, load_create = total(lo, True), total(lo, False)
    peak = med(lo, "peak_run_kb") * 1024 / fb
    L.append("Targets, normal mode: load + plan ≤ 0.5 × ORT's session creation: "
             f"{'met' if with_run / ort_create <= 0.5 else 'not met'} "
             f"({with_run / ort_create:.2f} with the first run counted as the plan, "
             f"{load_create / ort_create:.2f} without it); peak RSS ≤ 2.2 × the file size: "
             f"{'met' if peak <= 2.2 else 'not met'} ({peak:.2f}).")
    if li:
        peak_i = med(li, "peak_run_kb") * 1024 / fb
        L.append(f"Inference-only (what `onnxc run` does): {total(li, True) / ort_create:.2f} of ORT's creation "
                 f"time, peak RSS {peak_i:.2f} × the file size.")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Two-thread training while another process has the second core: onnxc's
seed-model epochs on 1 and 2 threads, with the machine's last CPU free and
with a process spinning on it, in the same run.

    /usr/bin/python3 bench/train_busy_core.py --build BUILD_DIR [--before OTHER_BUILD_DIR
        [--before-label TEXT]] [--rounds R] [--batch B] [--out bench/RESULTS_BUSY_CORE.md]

Each round runs, for each load (free, then busy) and each build (--build,
and --before when given: an older build to compare with) and thread count
(1, 2) in turn, one fresh process:

    onnxc train seed.onnx --data DIR --epochs 2 --batch-size B --threads T
          --seed 1 --log run.jsonl -o out.onnx        (OMP_NUM_THREADS=T)

`seed.onnx` is `onnxc init 784,64:relu,64:relu,10:softmax --seed 1`. "busy"
is a Python process spinning, pinned to the last CPU, started before the
run and killed after it. Reported per build, load and thread count, as
medians over the rounds: each epoch's `seconds` (the steps, without the
batch gathers), its `data_seconds` (the gathers), its `one_thread_steps`,
and the process's wall time, which also counts loading, validation after
each epoch and saving. The first epoch includes the trainer's first round
of timing each way of running a step (runtime/train/thread_tuner.h).

The machine is shared and noisy: compare only figures from the same run.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

from benchproc import cpu_name, measure

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PY = "/usr/bin/python3"
SPEC = "784,64:relu,64:relu,10:softmax"
EPOCHS = 2


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def start_spinner():
    """A process spinning on the last CPU, as another job on a shared machine."""
    last = max(os.sched_getaffinity(0))
    code = f"import os\nos.sched_setaffinity(0, {{{last}}})\nwhile True:\n    pass\n"
    return subprocess.Popen([PY, "-c", code])


def train(onnxc, model, data, work, batch, threads):
    logf = os.path.join(work, "run.jsonl")
    if os.path.exists(logf):
        os.remove(logf)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    argv = [onnxc, "train", model, "--data", data, "--epochs", str(EPOCHS), "--batch-size", str(batch),
            "--threads", str(threads), "--seed", "1", "--log", logf, "-o", os.path.join(work, "out.onnx")]
    _, wall, _ = measure(argv, env)
    with open(logf) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return {"wall": wall, "seconds": [r["seconds"] for r in recs], "data": [r["data_seconds"] for r in recs],
            "one_thread": [r.get("one_thread_steps", 0) for r in recs], "loss": recs[-1]["loss"]}


def med(runs, key, epoch):
    return statistics.median(r[key][epoch] for r in runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--before", help="an older build to compare with, in the same rounds")
    ap.add_argument("--before-label", default="before", help="its name in the table (say, its commit)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--work", default="/tmp/onnxc_busy_core")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS_BUSY_CORE.md"))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    builds = [("this build", os.path.abspath(a.build))]
    if a.before:
        builds.append((a.before_label, os.path.abspath(a.before)))
    model = os.path.join(a.work, "seed.onnx")
    measure([os.path.join(builds[0][1], "onnxc"), "init", SPEC, "--seed", "1", "-o", model])

    runs = {}  # (build label, load, threads) -> [run]
    for r in range(a.rounds):
        for load in ("free", "busy"):
            spinner = start_spinner() if load == "busy" else None
            try:
                for label, build in builds:
                    for threads in (1, 2):
                        res = train(os.path.join(build, "onnxc"), model, a.data, a.work, a.batch, threads)
                        runs.setdefault((label, load, threads), []).append(res)
                        log(f"round {r + 1} {load} {label} {threads} thread(s): epochs "
                            + ", ".join(f"{s:.3f}" for s in res["seconds"]) + " s, gathers "
                            + ", ".join(f"{s:.3f}" for s in res["data"]) + f" s, wall {res['wall']:.2f} s")
            finally:
                if spinner:
                    spinner.kill()
                    spinner.wait()

    cmd = f"/usr/bin/python3 bench/train_busy_core.py --build {a.build}" \
        + (f" --before {a.before} --before-label '{a.before_label}'" if a.before else "") \
        + f" --rounds {a.rounds} --batch {a.batch}"
    L = ["# Two-thread training with the second core busy", "",
         f"Generated {datetime.date.today()} on {cpu_name()} ({os.cpu_count()} CPUs, {platform.machine()}) by:", "",
         f"    {cmd}", "",
         f"The seed model ({SPEC}), {EPOCHS} epochs of Fashion-MNIST at batch {a.batch} per process, one process per "
         "row and round, alternating; \"busy\": a process spinning on the last CPU throughout. Medians of "
         f"{a.rounds} rounds. Epoch seconds leave out the batch gathers (their own column); the wall time also "
         "counts loading, validation after each epoch and saving.", "",
         "| build | load | threads | epoch 1 s | epoch 2 s | gathers 1, 2 s | one-thread steps 1, 2 | wall s |",
         "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, _ in builds:
        for load in ("free", "busy"):
            for threads in (1, 2):
                rs = runs[(label, load, threads)]
                L.append(f"| {label} | {load} | {threads} | {med(rs, 'seconds', 0):.3f} | {med(rs, 'seconds', 1):.3f} "
                         f"| {med(rs, 'data', 0):.3f}, {med(rs, 'data', 1):.3f} "
                         f"| {med(rs, 'one_thread', 0):.0f}, {med(rs, 'one_thread', 1):.0f} "
                         f"| {statistics.median(x['wall'] for x in rs):.2f} |")
    losses = {f"{x['loss']:.17g}" for rs in runs.values() for x in rs}
    L += ["", "Final training loss of every run: " + ", ".join(sorted(losses))
          + " (every build, load and thread count trains the same bits).", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(L))
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()

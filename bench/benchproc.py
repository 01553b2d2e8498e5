"""Child processes for the benchmark scripts: run one, capture its output,
and read its own peak RSS from the kernel (os.wait4's ru_maxrss), so every
runtime is measured the same way, from outside."""
import json
import os
import select
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def measure(argv, env=None, cwd=None):
    """Run argv to completion; returns (stdout, wall seconds, peak RSS KiB).
    fork/exec + wait4 rather than subprocess, whose waitpid would discard
    the child's rusage. Raises RuntimeError, with the tail of stderr, when
    the child fails."""
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        try:
            if cwd:
                os.chdir(cwd)
            os.dup2(w_out, 1)
            os.dup2(w_err, 2)
            for fd in (r_out, w_out, r_err, w_err):
                os.close(fd)
            os.execvpe(argv[0], argv, env if env is not None else os.environ)
        finally:
            os._exit(127)
    os.close(w_out)
    os.close(w_err)
    chunks = {r_out: [], r_err: []}
    open_fds = [r_out, r_err]
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [])
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                open_fds.remove(fd)
                os.close(fd)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    out = b"".join(chunks[r_out]).decode(errors="replace")
    err = b"".join(chunks[r_err]).decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {err.strip()[-2000:]} {out.strip()[-500:]}")
    return out, wall, ru.ru_maxrss


def last_json(text):
    """The last line of text that is a JSON object."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON in output: {text[-500:]}")


def node_env():
    """The environment with NODE_PATH pointing at onnxruntime-node when it is
    installed where tests/interop/README.md puts it."""
    env = dict(os.environ)
    if "NODE_PATH" not in env:
        for cand in (os.path.join(REPO, ".cache", "ort", "node_modules"), "/work/ort/node_modules"):
            if os.path.isdir(cand):
                env["NODE_PATH"] = cand
                break
    return env


def cpu_name():
    """The CPU's model name with its family and model numbers: VMs often say
    only "AMD EPYC", and the numbers tell the generations apart (AMD family
    25 is Zen 3 and Zen 4, 26 is Zen 5)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model") and key not in fields:
                    fields[key] = value.strip()
    except OSError:
        pass
    name = fields.get("model name", "?")
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name

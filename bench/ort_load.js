#!/usr/bin/env node
'use strict';
// ONNX Runtime's side of bench/memory.py: one measurement per process, so
// the parent can read the process's peak RSS with wait4() when it exits.
//
//   node ort_load.js baseline                      require onnxruntime-node only
//   node ort_load.js create MODEL THREADS          + InferenceSession.create
//   node ort_load.js run MODEL X.npy THREADS [--out Y.npy]
//                                                  + one session.run on X
//
// Prints one JSON line: create_ms / run_ms when timed, and the process's own
// view of its peak RSS (process.resourceUsage().maxRSS, KiB) after require
// and at the end. Session options as bench_ort.js: intraOpNumThreads =
// THREADS, interOpNumThreads = 1, sequential, all graph optimizations.
// onnxruntime-node is found through NODE_PATH, $ONNXC_ORT_DIR or
// <repo>/.cache/ort, as in bench_ort.js.

const { readNpy, writeNpy } = require('../tests/interop/npy.js');


const { loadOrt } = require('../tests/interop/load_ort.js');

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

function options(threads) {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  };
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  const ort = loadOrt();
  const r = { mode, maxrss_require_kb: process.resourceUsage().maxRSS };
  if (mode === 'create' || mode === 'run') {
    const model = args[0];
    const threads = Number(mode === 'create' ? args[1] : args[2]);
    if (!model || !(threads >= 1)) throw new Error('usage: create MODEL THREADS | run MODEL X.npy THREADS');
    const t0 = nowMs();
    const session = await ort.InferenceSession.create(model, options(threads));
    r.create_ms = nowMs() - t0;
    if (mode === 'run') {
      const x = readNpy(args[1]);
      const feeds = { [session.inputNames[0]]: new ort.Tensor(x.type, x.data, x.dims) };
      const t1 = nowMs();
      const res = await session.run(feeds);
      r.run_ms = nowMs() - t1;
      const out = args.indexOf('--out');
      if (out >= 0) {
        const y = res[session.outputNames[0]];
        writeNpy(args[out + 1], y.type, y.dims.map(Number), y.data);
      }
    }
  } else if (mode !== 'baseline') {
    throw new Error(`unknown mode '${mode}'`);
  }
  r.maxrss_end_kb = process.resourceUsage().maxRSS;
  process.stdout.write(JSON.stringify(r) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e.message || e) }) + '\n');
  process.exit(1);
});

#!/usr/bin/env node
'use strict';
// End-to-end timing of ONNX Runtime (onnxruntime-node, CPU) with the same
// requests and output as bench_onnxc:
//
//   node bench_ort.js MODEL BATCH THREADS ITERS [--input X.npy] [--warmup W]
//                     [--out Y.npy] [--samples]
//   node bench_ort.js --serve        (argument lines on stdin, one JSON line each)
//
// Each timed call is one `await session.run(feeds)`, so the figures include
// the Node binding's fixed cost per call (tensor wrapping, the promise, the
// output copy into a JS array); bench/run.py measures that cost with a
// one-node model and reports ORT both raw and with it subtracted.
// Sessions: intraOpNumThreads = THREADS, interOpNumThreads = 1, sequential
// execution, all graph optimizations (ORT's defaults otherwise).
// onnxruntime-node is found through NODE_PATH, $ONNXC_ORT_DIR or
// <repo>/.cache/ort, as in tests/interop/ort_run.js.

const readline = require('readline');
const { readNpy, writeNpy } = require('../tests/interop/npy.js');


const { loadOrt } = require('../tests/interop/load_ort.js');

const ort = loadOrt();
const sessions = new Map();   // `${model}|${threads}` -> session
const inputs = new Map();     // `${file}|${batch}` -> Float32Array

function nowUs() {
  return Number(process.hrtime.bigint()) / 1000;
}

function quantile(sorted, q) {
  const i = Math.round(q * (sorted.length - 1));
  return sorted[Math.min(sorted.length - 1, Math.max(0, i))];
}

async function getSession(model, threads) {
  const key = `${model}|${threads}`;
  if (!sessions.has(key)) {
    sessions.set(key, await ort.InferenceSession.create(model, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
    }));
  }
  return sessions.get(key);
}

function getInput(file, batch, features) {
  const key = `${file}|${batch}`;
  if (!inputs.has(key)) {
    let data;
    if (file) {
      const t = readNpy(file);
      if (t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] < batch || t.dims[1] !== features) {
        throw new Error(`${file}: expected float32 [>= ${batch}, ${features}]`);
      }
      data = t.data.slice(0, batch * features);
    } else {
      // Same generator as bench_onnxc.c: xorshift64, top 24 bits / 2^24.
      data = new Float32Array(batch * features);
      let s = 0x2545f4914f6cdd1dn;
      const M = (1n << 64n) - 1n;
      for (let i = 0; i < data.length; i++) {
        s ^= (s << 13n) & M; s ^= s >> 7n; s ^= (s << 17n) & M;
        data[i] = Number(s >> 40n) / 16777216;
      }
    }
    inputs.set(key, data);
  }
  return inputs.get(key);
}

async function request(argv) {
  if (argv.length < 4) throw new Error('usage: MODEL BATCH THREADS ITERS [--input X.npy] [--warmup W] [--out Y.npy] [--samples]');
  const [model, b, th, it] = argv;
  const batch = Number(b), threads = Number(th), iters = Number(it);
  let input = null, out = null, warmup = -1, samples = false;
  for (let i = 4; i < argv.length; i++) {
    if (argv[i] === '--input') input = argv[++i];
    else if (argv[i] === '--out') out = argv[++i];
    else if (argv[i] === '--warmup') warmup = Number(argv[++i]);
    else if (argv[i] === '--samples') samples = true;
    else throw new Error(`unknown argument '${argv[i]}'`);
  }
  if (!(batch >= 1 && threads >= 1 && iters >= 1)) throw new Error('BATCH, THREADS and ITERS must be >= 1');
  if (warmup < 0) warmup = Math.max(10, Math.floor(iters / 10));
  const session = await getSession(model, threads);
  // The benchmark models declare x as [N, F]; F from the model's metadata
  // when the binding exposes it, else 784 (all of bench/make_models.py's).
  let features = 784;
  const meta = session.inputMetadata && session.inputMetadata[0];
  if (meta && meta.shape && typeof meta.shape[1] === 'number') features = meta.shape[1];
  const data = getInput(input, batch, features);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, features]) };
  const t = new Array(iters);
  let res;
  for (let i = 0; i < warmup + iters; i++) {
    const t0 = nowUs();
    res = await session.run(feeds);
    const dt = nowUs() - t0;
    if (i >= warmup) t[i - warmup] = dt;
  }
  if (out) {
    const y = res[session.outputNames[0]];
    writeNpy(out, y.type, y.dims.map(Number), y.data);
  }
  const mean = t.reduce((a, v) => a + v, 0) / iters;
  const r = { model, batch, threads, iters };
  if (samples) r.samples_us = t.map((v) => Number(v.toFixed(4)));
  const s = t.slice().sort((x, y) => x - y);
  Object.assign(r, { median_us: quantile(s, 0.5), min_us: s[0], mean_us: mean,
                     p10_us: quantile(s, 0.1), p90_us: quantile(s, 0.9) });
  return r;
}

async function main() {
  if (process.argv[2] === '--serve') {
    const rl = readline.createInterface({ input: process.stdin, terminal: false });
    for await (const line of rl) {
      const args = line.trim().split(/\s+/).filter(Boolean);
      if (!args.length) continue;
      if (args[0] === 'quit') break;
      try {
        process.stdout.write(JSON.stringify(await request(args)) + '\n');
      } catch (e) {
        process.stdout.write(JSON.stringify({ error: String(e.message || e) }) + '\n');
      }
    }
    process.exit(0);
  }
  try {
    process.stdout.write(JSON.stringify(await request(process.argv.slice(2))) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String(e.message || e) }) + '\n');
    process.exit(1);
  }
}

main();

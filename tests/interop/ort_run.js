#!/usr/bin/env node
'use strict';
// Run an ONNX model with ONNX Runtime (onnxruntime-node, CPU) on .npy inputs.
//
//   node ort_run.js MODEL [NAME=]IN.npy ... --out DIR [--threads N]
//   node ort_run.js --check      (exit 0 when onnxruntime-node loads)
//
// Inputs bind to the model's inputs by position, or by NAME when given.
// Output k (in graph-output order) is written to DIR/output_k.npy; a JSON
// summary of the outputs goes to stdout.
//
// onnxruntime-node is found through NODE_PATH (see README.md), or in
// $ONNXC_ORT_DIR, or in <repo>/.cache/ort.
//
// Exit status: 0 ok, 2 usage, 3 onnxruntime-node not installed, 4 ORT failed.

const fs = require('fs');
const path = require('path');
const { readNpy, writeNpy } = require('./npy.js');


const { loadOrt } = require('./load_ort.js');

function usage(msg) {
  process.stderr.write(`${msg}\nusage: node ort_run.js MODEL [NAME=]IN.npy ... --out DIR ` +
                       '[--threads N]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const args = { model: null, inputs: [], out: null, threads: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') args.out = argv[++i];
    else if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (args.model === null) args.model = a;
    else {
      const eq = a.indexOf('=');
      // A '=' before the last '/' belongs to the path, not a NAME= prefix.
      if (eq > 0 && !a.slice(0, eq).includes('/')) {
        args.inputs.push({ name: a.slice(0, eq), file: a.slice(eq + 1) });
      } else args.inputs.push({ name: null, file: a });
    }
  }
  if (!args.model) usage('no MODEL given');
  if (!args.out) usage('no --out DIR given');
  if (!Number.isInteger(args.threads) || args.threads < 1) usage('--threads must be >= 1');
  return args;
}

async function main() {
  if (process.argv[2] === '--check') {
    const ort = loadOrt();
    const version = (ort.env && ort.env.versions && ort.env.versions.node) || 'unknown';
    process.stdout.write(`onnxruntime-node ${version}\n`);
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  let session;
  try {
    session = await ort.InferenceSession.create(args.model, {
      intraOpNumThreads: args.threads,
      interOpNumThreads: 1,
      executionProviders: ['cpu'],
    });
  } catch (e) {
    process.stderr.write(`ORT cannot load ${args.model}: ${e.message}\n`);
    process.exit(4);
  }
  if (args.inputs.length !== session.inputNames.length) {
    usage(`${args.model} has ${session.inputNames.length} inputs ` +
          `(${session.inputNames.join(', ')}), got ${args.inputs.length} files`);
  }
  const feeds = {};
  args.inputs.forEach((inp, k) => {
    const name = inp.name || session.inputNames[k];
    const t = readNpy(inp.file);
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  });
  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    process.stderr.write(`ORT failed to run ${args.model}: ${e.message}\n`);
    process.exit(4);
  }
  fs.mkdirSync(args.out, { recursive: true });
  const summary = session.outputNames.map((name, k) => {
    const t = results[name];
    const file = path.join(args.out, `output_${k}.npy`);
    writeNpy(file, t.type, t.dims.map(Number), t.data);
    return { name, file, type: t.type, dims: t.dims.map(Number) };
  });
  process.stdout.write(JSON.stringify({ model: args.model, outputs: summary }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(4);
});

'use strict';
// Finds onnxruntime-node for every Node script of the project (tests/interop,
// bench/): through NODE_PATH, $ONNXC_ORT_DIR, or <repo>/.cache/ort, where
// scripts/install-deps.sh installs it. Exits with status 3 and an install
// hint when it is not there.

const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const INSTALL_HINT =
  'onnxruntime-node is not installed where this script looks. Install it with\n' +
  `  mkdir -p ${REPO}/.cache/ort && cd ${REPO}/.cache/ort && ` +
  'npm install --ignore-scripts onnxruntime-node\n' +
  `and run with NODE_PATH=${REPO}/.cache/ort/node_modules (see tests/interop/README.md).`;

function loadOrt() {
  const candidates = ['onnxruntime-node'];
  for (const base of [process.env.ONNXC_ORT_DIR, path.join(REPO, '.cache', 'ort')]) {
    if (!base) continue;
    candidates.push(path.join(base, 'node_modules', 'onnxruntime-node'));
    candidates.push(path.join(base, 'onnxruntime-node'));
  }
  const errors = [];
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') errors.push(`${c}: ${e.message}`);
    }
  }
  process.stderr.write(INSTALL_HINT + '\n');
  if (errors.length) process.stderr.write('load errors:\n  ' + errors.join('\n  ') + '\n');
  process.exit(3);
}

module.exports = { loadOrt };

'use strict';
// Minimal .npy (numpy format 1.0-3.0, little-endian, C order) reader and
// writer for the ONNX Runtime interop scripts. No dependencies.

const fs = require('fs');

// numpy descr (without byte order) <-> ONNX Runtime tensor type and typed array.
const TYPES = {
  f4: { ort: 'float32', Array: Float32Array },
  f8: { ort: 'float64', Array: Float64Array },
  i1: { ort: 'int8', Array: Int8Array },
  i2: { ort: 'int16', Array: Int16Array },
  i4: { ort: 'int32', Array: Int32Array },
  i8: { ort: 'int64', Array: BigInt64Array },
  u1: { ort: 'uint8', Array: Uint8Array },
  u2: { ort: 'uint16', Array: Uint16Array },
  u4: { ort: 'uint32', Array: Uint32Array },
  u8: { ort: 'uint64', Array: BigUint64Array },
  b1: { ort: 'bool', Array: Uint8Array },
};
const BY_ORT = Object.fromEntries(Object.entries(TYPES).map(([d, t]) => [t.ort, d]));

// -> { type: ort type name, dims: [..], data: typed array }
function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    throw new Error(`${path}: not a .npy file`);
  }
  const major = buf.readUInt8(6);
  let hlen, start;
  if (major === 1) { hlen = buf.readUInt16LE(8); start = 10; }
  else if (major === 2 || major === 3) { hlen = buf.readUInt32LE(8); start = 12; }
  else throw new Error(`${path}: npy version ${major} not supported`);
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr'\s*:\s*'([<>|=])(\w\d)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${path}: bad header ${header}`);
  if (fortran[1] === 'True') throw new Error(`${path}: Fortran order not supported`);
  if (descr[1] === '>') throw new Error(`${path}: big-endian data not supported`);
  const t = TYPES[descr[2]];
  if (!t) throw new Error(`${path}: dtype ${descr[2]} not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + hlen;
  const bytes = count * t.Array.BYTES_PER_ELEMENT;
  if (buf.length - offset !== bytes) {
    throw new Error(`${path}: expected ${bytes} data bytes, found ${buf.length - offset}`);
  }
  // Copy into a fresh, aligned buffer (the file buffer's offset may be unaligned).
  const data = new t.Array(count);
  Buffer.from(data.buffer).set(buf.subarray(offset, offset + bytes));
  return { type: t.ort, dims, data };
}

function writeNpy(path, type, dims, data) {
  const d = BY_ORT[type];
  if (!d) throw new Error(`cannot write ${type} tensors as .npy`);
  const order = d === 'b1' || d.endsWith('1') ? '|' : '<';
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${order}${d}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so that the data starts on a 64-byte boundary; the header ends in '\n'.
  const pad = (64 - ((10 + header.length + 1) % 64)) % 64;
  header += ' '.repeat(pad) + '\n';
  const pre = Buffer.alloc(10);
  pre.writeUInt8(0x93, 0);
  pre.write('NUMPY', 1, 'latin1');
  pre.writeUInt8(1, 6);
  pre.writeUInt8(0, 7);
  pre.writeUInt16LE(header.length, 8);
  let body;
  if (type === 'bool') body = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)).buffer);
  else body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

module.exports = { readNpy, writeNpy };

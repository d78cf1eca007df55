/*
 * npy.js — reads the .npy files bench_native --save-io writes, for
 * bench/ort_infer.js (node has no numpy).
 *
 * Format (numpy's NEP 1): "\x93NUMPY", major and minor version bytes, the
 * header length (u16 little-endian in version 1, u32 in 2 and 3), then a
 * Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
 * padded with spaces to an aligned size, then the raw data in C order.
 * Only what the benchmark needs is read: little-endian float32, C order.
 */
'use strict';

const fs = require('fs');

/* The array in FILE: {descr, shape: [..], data: Float32Array}. Throws with
 * the file name on anything but a C-order '<f4' array. */
function readNpy(file) {
    const buf = fs.readFileSync(file);
    const bad = (why) => new Error(`${file}: ${why}`);
    if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw bad('not a .npy file');
    const major = buf[6];
    if (major < 1 || major > 3) throw bad(`.npy version ${major} is not supported`);
    const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
    const start = major === 1 ? 10 : 12;
    const header = buf.toString('latin1', start, start + hlen);
    const field = (key, re) => {
        const m = header.match(new RegExp(`'${key}'\\s*:\\s*${re}`));
        if (!m) throw bad(`header has no '${key}': ${header.trim()}`);
        return m[1];
    };
    const descr = field('descr', "'([^']*)'");
    if (field('fortran_order', '(True|False)') === 'True') throw bad('Fortran order is not supported');
    const shape = field('shape', '\\(([^)]*)\\)').split(',').map((s) => s.trim()).filter((s) => s).map(Number);
    if (descr !== '<f4') return { descr, shape, data: null };
    const numel = shape.reduce((a, b) => a * b, 1);
    const off = start + hlen;
    if (buf.length < off + 4 * numel) throw bad(`${buf.length - off} data bytes, shape [${shape}] needs ${4 * numel}`);
    // A copy: the data need not be 4-byte aligned inside node's Buffer pool.
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + 4 * numel));
    return { descr, shape, data };
}

module.exports = { readNpy };

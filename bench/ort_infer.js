#!/usr/bin/env node
/*
 * ort_infer.js — the ONNX Runtime baseline for bench/bench_native.c: how
 * long ONNX Runtime's CPU execution provider takes to prepare and to run
 * the .onnx bench/export_onnx.py wrote (the torchvision twin of an example
 * with the weights netc used), on the input bench_native saved.
 *
 * ONNX Runtime comes from the onnxruntime-node package (its prebuilt
 * libonnxruntime.so), found in --node-modules DIR, else $ORT_NODE_MODULES,
 * else bench/ort/node_modules (`npm install --prefix bench/ort
 * --ignore-scripts`, see bench/README.md). Node, not Python, because that
 * is the build of ONNX Runtime the npm registry ships for Linux x64.
 *
 * Sessions are made the fastest way for batch-1 latency on a CPU:
 * graphOptimizationLevel 'all' (constant folding, conv+bn+relu fusion,
 * layout transforms to NCHWc, attention/GELU/LayerNorm fusions),
 * executionMode 'sequential', interOpNumThreads 1 and intraOpNumThreads the
 * thread count, one session per thread count.
 *
 * Session creation is ONNX Runtime's compile step, so it is the baseline
 * for netc's JIT compile: timed --creations times per thread count from the
 * model bytes already in memory (netc's compile time does not include
 * reading the weights either), the median reported beside the first (which
 * also pays for loading the library and creating the environment).
 *
 * Then per thread count: --warmup runs, a probe run, and timed session.run
 * calls (process.hrtime) with torch_infer.py's rule: at least --runs, more
 * while --budget-ms lasts, at most 1000 (unless --runs asks for more).
 * session.run returns a promise resolved from setImmediate, so each timed
 * run includes one trip through node's event loop (microseconds).
 *
 * With --netc-output (MODEL.netc.npy from bench_native --save-io) it also
 * reports the largest |ORT - netc| relative to the largest |ORT output|, the
 * worst over the thread counts: that the export computes what netc does.
 *
 * Output: tab-separated records on stdout
 *   ortenv     MODEL  ORT_VERSION  LIBRARY_DIR
 *   ortcreate  MODEL  THREADS  MEDIAN_MS  FIRST_MS  CREATIONS
 *   ortcheck   MODEL  MAX_REL  MAX_ABS
 *   ort        MODEL  THREADS  MEDIAN_MS  MIN_MS  RUNS
 * and a human-readable summary on stderr.
 *
 * Usage: ort_infer.js MODEL --onnx M.onnx --input X.npy [--netc-output Y.npy]
 *                     [--threads 1,2] [--runs 20] [--warmup 3]
 *                     [--budget-ms 2000] [--creations 5] [--node-modules DIR]
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { readNpy } = require('./npy.js');

const USAGE = 'usage: ort_infer.js MODEL --onnx M.onnx --input X.npy [--netc-output Y.npy] ' +
    '[--threads 1,2] [--runs 20] [--warmup 3] [--budget-ms 2000] [--creations 5] [--node-modules DIR]';

function die(msg) {
    process.stderr.write(`ort_infer: ${msg}\n`);
    process.exit(1);
}

function parseArgs(argv) {
    const o = {
        model: null, onnx: null, input: null, netcOutput: null, threads: [1, 2], runs: 20, warmup: 3,
        budgetMs: 2000, creations: 5,
        nodeModules: process.env.ORT_NODE_MODULES || path.join(__dirname, 'ort', 'node_modules'),
    };
    const count = (flag, v, lo) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < lo) die(`bad value for ${flag}: ${v}`);
        return n;
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i], v = argv[i + 1];
        const takes = a.startsWith('--') && a !== '--help';
        if (takes && v === undefined) die(`missing value for ${a}`);
        switch (a) {
        case '--onnx': o.onnx = v; break;
        case '--input': o.input = v; break;
        case '--netc-output': o.netcOutput = v; break;
        case '--threads': o.threads = v.split(',').map((s) => count(a, s, 1)); break;
        case '--runs': o.runs = count(a, v, 1); break;
        case '--warmup': o.warmup = count(a, v, 0); break;
        case '--budget-ms': o.budgetMs = count(a, v, 0); break;
        case '--creations': o.creations = count(a, v, 1); break;
        case '--node-modules': o.nodeModules = v; break;
        case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
        default:
            if (a.startsWith('-')) die(`unknown option ${a}\n${USAGE}`);
            if (o.model) die(`one model at a time (got ${o.model} and ${a})`);
            o.model = a;
            continue;
        }
        i++;
    }
    if (!o.model || !o.onnx || !o.input) die(USAGE);
    return o;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function median(xs) {
    const s = [...xs].sort((a, b) => a - b), n = s.length;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The session options of one thread count (see the header). */
function sessionOptions(threads) {
    return {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
    };
}

/* Creates `creations` sessions, timing each; returns the last one (the
 * others are released: a VGG-16 session holds ~550 MB) and the times. */
async function timedCreate(ort, bytes, threads, creations) {
    const times = [];
    let session = null;
    for (let i = 0; i < creations; i++) {
        if (session) await session.release();
        const t0 = nowMs();
        session = await ort.InferenceSession.create(bytes, sessionOptions(threads));
        times.push(nowMs() - t0);
    }
    return { session, times };
}

/* Warm-up, a probe, then the timed runs (the rule of torch_infer.py). */
async function timeRuns(run, o) {
    for (let i = 0; i < o.warmup; i++) await run();
    let t0 = nowMs();
    await run();
    const probe = nowMs() - t0;
    const runs = Math.max(o.runs, Math.min(1000, probe > 0 ? Math.floor(o.budgetMs / probe) : 1000));
    const times = [];
    for (let i = 0; i < runs; i++) {
        t0 = nowMs();
        await run();
        times.push(nowMs() - t0);
    }
    return { median: median(times), min: Math.min(...times), runs };
}

/* Largest |got - want| and that relative to the largest |got|. */
function maxDiff(got, want) {
    let abs = 0, scale = 0;
    for (let i = 0; i < got.length; i++) {
        const d = Math.abs(got[i] - want[i]);
        abs = d > abs || Number.isNaN(d) ? d : abs;
        scale = Math.max(scale, Math.abs(got[i]));
    }
    return { rel: scale > 0 ? abs / scale : abs, abs };
}

/* C's and Python's %.3g, as torch_infer.py prints its errors: 3
 * significant digits, exponent form below 1e-4 or from 1e3 ("6.02e-07"). */
function g3(x) {
    if (!Number.isFinite(x) || x === 0) return String(x);
    const e = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(3)))));
    if (e >= -4 && e < 3) return Number(x.toPrecision(3)).toString();
    const [m, ex] = x.toExponential(2).split('e');
    const n = Number(ex);
    return `${m.replace(/\.?0+$/, '')}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    const pkg = path.join(o.nodeModules, 'onnxruntime-node');
    if (!fs.existsSync(pkg)) die(`no onnxruntime-node in ${o.nodeModules} (set ORT_NODE_MODULES)`);
    const ort = require(pkg);
    const record = (...f) => process.stdout.write(f.join('\t') + '\n');
    const say = (s) => process.stderr.write(`${o.model.padEnd(14)} ${s}\n`);

    const x = readNpy(o.input);
    if (x.descr !== '<f4') die(`${o.input}: ${x.descr}, expected float32 (<f4)`);
    const want = o.netcOutput ? readNpy(o.netcOutput) : null;
    if (want && want.descr !== '<f4') die(`${o.netcOutput}: ${want.descr}, expected float32 (<f4)`);
    const bytes = new Uint8Array(fs.readFileSync(o.onnx));

    const version = (ort.env && ort.env.versions && ort.env.versions.node) || 'unknown';
    const libdir = path.dirname(require.resolve(pkg));
    record('ortenv', o.model, version, libdir);

    let worst = null;
    for (const t of o.threads) {
        const { session, times } = await timedCreate(ort, bytes, t, o.creations);
        const create = median(times);
        record('ortcreate', o.model, t, create.toFixed(1), times[0].toFixed(1), times.length);
        say(`ORT session creation, ${t} thread${t === 1 ? '' : 's'}: median ${create.toFixed(0)} ms ` +
            `(first ${times[0].toFixed(0)} ms, ${times.length} creations)`);

        const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
        const outName = session.outputNames[0];
        const run = () => session.run(feeds);
        if (want) {
            const got = (await run())[outName];
            if (got.data.length !== want.data.length)
                die(`${o.model}: ORT output [${got.dims}], netc [${want.shape}]`);
            const d = maxDiff(got.data, want.data);
            if (!worst || !(d.rel <= worst.rel)) worst = d;
        }
        const tm = await timeRuns(run, o);
        record('ort', o.model, t, tm.median.toFixed(4), tm.min.toFixed(4), tm.runs);
        say(`ORT ${t} thread${t === 1 ? '' : 's'}: median ${tm.median.toFixed(2)} ms, ` +
            `min ${tm.min.toFixed(2)} ms, ${tm.runs} runs`);
        await session.release();
    }
    if (worst) {
        record('ortcheck', o.model, g3(worst.rel), g3(worst.abs));
        say(`netc vs ORT: max rel err ${g3(worst.rel)} (max abs err ${g3(worst.abs)})`);
    }
}

main().catch((e) => die(`${process.argv[2] || ''}: ${e && e.message ? e.message : e}`));

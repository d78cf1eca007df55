#!/usr/bin/python3
"""Baseline for bench/bench_native.c: PyTorch's inference latency on the
torchvision twin of an example, with the weights netc used.

The model comes from tools/torch_golden.py (the same table and loader the
PyTorch goldens use), gets the weights `netc init --seed 1` wrote, and is
run the fastest way stock PyTorch offers on a CPU: eval(), no_grad,
torch.jit.trace and torch.jit.optimize_for_inference (freezing, oneDNN
convolutions, fused conv+bn+relu). For each thread count: warm-up runs, then
timed runs (time.perf_counter), at least --runs and more while --budget-ms
lasts; the median and fastest are reported. The compile record is the
baseline for netc's JIT compile time: trace + optimize_for_inference + the
first run, at the largest thread count, before anything else runs.

With --netc-output (the MODEL.netc.npy bench_native --save-io writes for the
same input) it also reports the largest difference between netc's output
and eager PyTorch's, relative to the largest |output| of PyTorch: a check
that both sides computed the same network with the same weights.

OMP_WAIT_POLICY must be set before libgomp loads, so it is set here before
torch is imported (--wait-policy): by default PASSIVE for the transformers
(with a BLAS running its own threads, spinning OpenMP workers fight it for
the 2 cores), left to the environment otherwise. Which is faster depends on
the BLAS, so bench/native.sh times the transformers both ways. Run one
process per model and setting.

Linear layers and matmuls go through whatever libblas.so.3 resolves to.
Debian's default is netlib's reference BLAS, which makes the transformers
and VGG's classifier an order of magnitude slower than with an optimized
BLAS: install libopenblas0-openmp (its OpenMP threads follow
torch.set_num_threads; the pthread build would run its own threads at
"1 thread") or put one first in LD_LIBRARY_PATH. The env record names the
library this process actually mapped.

Output: tab-separated records on stdout
  env      MODEL  TORCH_VERSION  OMP_WAIT_POLICY  BLAS
  compile  MODEL  TOTAL_MS  TRACE_MS  OPTIMIZE_MS  FIRST_RUN_MS  THREADS
  check    MODEL  MAX_REL_ERR  MAX_ABS_ERR
  torch    MODEL  THREADS  MEDIAN_MS  MIN_MS  RUNS  OMP_WAIT_POLICY
and a human-readable summary on stderr.

Usage: torch_infer.py MODEL --weights W.safetensors --input X.npy
                      [--netc-output Y.npy] [--threads 1,2] [--runs 20]
                      [--warmup 3] [--budget-ms 2000] [--wait-policy auto]
Run with /usr/bin/python3 (Debian's python3-torch 1.13, torchvision 0.14).
"""
import argparse
import os
import statistics
import sys
import time

TRANSFORMERS = ("vit_b_16", "vit_ti_16")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--weights", required=True, help="safetensors from netc init --seed 1")
    p.add_argument("--input", required=True, help=".npy input (bench_native --save-io)")
    p.add_argument("--netc-output", default=None, help="netc's output for --input (.npy)")
    p.add_argument("--pruned", action="store_true",
                   help="the weights are channel-pruned (netc export of a --prune=channel net): "
                        "build the model at their widths (tools/prune_channel_check.py)")
    p.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    p.add_argument("--runs", type=int, default=20, help="least timed runs per setting")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--budget-ms", type=float, default=2000,
                   help="more timed runs while this lasts")
    p.add_argument("--wait-policy", default="auto",
                   help="OMP_WAIT_POLICY: auto (PASSIVE for transformers, else the "
                        "environment's), env (the environment's), or a value to set")
    return p.parse_args(argv)


def time_runs(fn, x, warmup, min_runs, budget_ms):
    """Median and fastest wall time of fn(x) in ms, and the run count."""
    for _ in range(warmup):
        fn(x)
    t0 = time.perf_counter()
    fn(x)
    probe = (time.perf_counter() - t0) * 1e3
    runs = max(min_runs, min(1000, int(budget_ms / probe) if probe > 0 else 1000))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times), runs


def blas_in_use():
    """Which BLAS this process mapped (torch's matmuls and linear layers go
    through it; convolutions go through oneDNN): a short description."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            base = os.path.basename(path)
            if "blas" in base or "mkl_" in base or "libblis" in base:
                libs.add(path)
    text = " ".join(sorted(libs)) or "none found"
    if "openblas" in text:
        kind = "OpenBLAS (openmp)" if "openmp" in text or "blaso" in text else "OpenBLAS (pthread)"
    elif "mkl" in text:
        kind = "MKL"
    elif "blis" in text:
        kind = "BLIS"
    elif "/blas/libblas" in text:
        kind = "netlib reference BLAS"
    else:
        kind = "unknown"
    return "%s: %s" % (kind, text)


def main(argv):
    args = parse_args(argv)
    if args.wait_policy == "auto" and args.model in TRANSFORMERS:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    elif args.wait_policy not in ("auto", "env"):
        os.environ["OMP_WAIT_POLICY"] = args.wait_policy
    # Only now: numpy and torch come in through torch_golden.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from torch_golden import build_model, load_weights, read_safetensors
    import warnings

    import numpy as np
    import torch

    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    torch.manual_seed(0)
    model = build_model(args.model)
    weights = read_safetensors(args.weights)
    if args.pruned:
        from prune_channel_check import shrink_model
        shrink_model(model, weights)
    load_weights(model, weights)
    model.eval()
    x = torch.from_numpy(np.load(args.input).astype(np.float32))
    # PyTorch's compile step, the baseline for netc's JIT compile: trace,
    # optimize_for_inference (freezing, oneDNN layouts, fusions) and the
    # first run (where the TorchScript executor still specialises). Timed
    # before any eager run, so nothing is warmed up for it, as netc's
    # compile is the first thing its process does with the graph; at the
    # largest thread count, which netc compiles for (torch's own default is
    # omp_get_max_threads(), 1 on some machines).
    thread_counts = [int(s) for s in args.threads.split(",")]
    torch.set_num_threads(max(thread_counts))
    with torch.no_grad():
        t0 = time.perf_counter()
        trace = torch.jit.trace(model, x)
        t1 = time.perf_counter()
        fast = torch.jit.optimize_for_inference(trace)
        t2 = time.perf_counter()
        traced = fast(x)
        t3 = time.perf_counter()
        eager = model(x)
    compile_ms = [(b - a) * 1e3 for a, b in ((t0, t3), (t0, t1), (t1, t2), (t2, t3))]

    name = args.model
    policy = os.environ.get("OMP_WAIT_POLICY") or "default"
    print("env\t%s\t%s\t%s\t%s" % (name, torch.__version__, policy, blas_in_use()), flush=True)
    print("compile\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%d" % ((name,) + tuple(compile_ms) + (torch.get_num_threads(),)),
          flush=True)
    print("%-14s torch compile: %.0f ms (trace %.0f, optimize_for_inference %.0f, first run %.0f; %d threads)"
          % ((name,) + tuple(compile_ms) + (torch.get_num_threads(),)), file=sys.stderr)
    if args.netc_output:
        got = np.load(args.netc_output).astype(np.float64)
        want = eager.numpy().astype(np.float64)
        if got.shape != want.shape:
            sys.exit("torch_infer: %s: netc output %s, torch %s"
                     % (name, list(got.shape), list(want.shape)))
        abs_err = float(np.abs(got - want).max())
        rel_err = abs_err / max(float(np.abs(want).max()), 1e-30)
        print("check\t%s\t%.3g\t%.3g" % (name, rel_err, abs_err), flush=True)
        print("%-14s netc vs torch: max rel err %.3g (max abs err %.3g)"
              % (name, rel_err, abs_err), file=sys.stderr)
    opt_err = float((traced - eager).abs().max() / eager.abs().max())
    print("%-14s optimize_for_inference vs eager: max rel err %.3g" % (name, opt_err),
          file=sys.stderr)

    for t in thread_counts:
        torch.set_num_threads(t)
        with torch.no_grad():
            med, best, runs = time_runs(fast, x, args.warmup, args.runs, args.budget_ms)
        print("torch\t%s\t%d\t%.4f\t%.4f\t%d\t%s" % (name, t, med, best, runs, policy), flush=True)
        print("%-14s torch %d thread%s: median %.2f ms, min %.2f ms, %d runs (OMP_WAIT_POLICY %s)"
              % (name, t, "" if t == 1 else "s", med, best, runs, policy), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])

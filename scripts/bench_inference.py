"""Inference benchmark: rollout.onnx and step.onnx in ONNX Runtime, the TF rollouts and the solver, side by side.

A batch of test cases (by default the paper's 25: 11 single barriers and 14 landscapes from every test
family) is forecast for 400 frames, in this process, on the same inputs, by:

- ``ort-rollout``: the exported rollout.onnx (one call per forecast) through ``qwave.export.Forecaster``,
  cases in parallel (``--threads`` workers, one case per call: the Forecaster default); ``ort-rollout-1call``
  is one call for all cases with ``--threads`` intra-op threads;
- ``ort-step``: the exported step.onnx, one call per frame (``Forecaster(use_rollout=False)``, its default
  case-parallel mode) - the previous deployment path;
- ``tf-graph``: the TF rollout (``WholeBoxStep`` + ``rollout``, one tf.while_loop; for a model linear in psi
  it builds the blended step once as a banded operator G(V)); ``tf-step``: the TF per-frame step graph
  (the work step.onnx does); ``--xla`` adds tf-graph compiled with XLA;
- the solver (``qwave.physics.solver.simulate``, whose banded frame propagator is also a fixed linear map):
  each case in its own potential with its propagator built from scratch, one after another and
  ``--threads`` at a time, and all cases as one batch sharing one potential;
- ``--blocks B1,B2``: rollout.onnx variants with other block sizes; ``--formulations``: a loop-only
  gather-multiply-reduce alternative (given G, so without its construction);
- ``--baseline REV``: the rollout and step.onnx of ``qwave/rollout.py`` at git revision REV.

Printed: seconds, case-frames/s and counted GFLOP/s per path and stride (this machine's float32 matmul
peak is measured in the same run), single-case latency, the speed ratios, the parity of the ONNX forecasts
with the Keras rollout (minimum correlation over frames, per family) and the fidelity against the solver.

    python scripts/bench_inference.py                        # the shipped pretrained model
    python scripts/bench_inference.py --model runs/gru --strides 1,8 --json bench.json
    python scripts/bench_inference.py --cases 5 --frames 50 --strides 1 --no-tf-step   # a quick look
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_support import (
    baseline_export,
    block_export,
    load_baseline,
    make_cases,
    matmul_flops,
    mulreduce_session,
    per_family,
    solver_paths,
    wall,
)

from qwave.emulator.options import RolloutOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="export dir, training run dir or .keras (default: the shipped model)")
    parser.add_argument("--cases", type=int, default=25)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--strides", default="1,8", help="comma-separated strides (cells between window centres)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for ONNX Runtime and the solver")
    parser.add_argument("--blocks", default="", help="also time rollout.onnx with these block sizes (comma-separated)")
    parser.add_argument("--formulations", action="store_true", help="also time a gather-multiply-reduce loop")
    parser.add_argument("--no-tf-step", action="store_true", help="skip the (slow) TF per-frame step graph")
    parser.add_argument("--no-solver", action="store_true", help="skip the solver timings")
    parser.add_argument("--xla", action="store_true", help="also time the TF rollout graph compiled with XLA")
    parser.add_argument("--baseline", metavar="REV", help="also time qwave/rollout.py at this git revision")
    parser.add_argument("--repeat", type=int, default=1, help="timings per path, round robin; best kept")
    parser.add_argument("--json", type=Path, help="write all figures here")
    parser.add_argument("--truth-cache", type=Path, help="keep the solver's reference frames in this .npz")
    args = parser.parse_args()

    import tensorflow as tf
    from qwave.export import Forecaster

    from qwave.deploy import export as exporting
    from qwave.emulator.metrics import correlation
    from qwave.emulator.rollout import WholeBoxStep, rollout_batched

    strides = [int(s) for s in args.strides.split(",")]
    src = exporting.load_source(args.model)
    model, grid = src.model, src.grid
    tmp = Path(tempfile.mkdtemp(prefix="qwave-bench-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    baseline = load_baseline(args.baseline, tmp) if args.baseline else None
    print(f"model {src.keras_path} ({type(model).__name__}, {model.count_params()} parameters), NX={grid.nx}")
    print(f"{os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f}; threads {args.threads}")

    exports = {
        s: exporting.export_model(
            src.keras_path, tmp / f"s{s}", RolloutOptions(stride=s), saved_model=False, v_scale=src.v_scale
        )
        for s in strides
    }
    meta = {s: json.loads((d / "metadata.json").read_text()) for s, d in exports.items()}
    n_in = model.n_in
    t0 = time.perf_counter()
    cache = args.truth_cache
    if cache is not None and cache.is_file():
        with np.load(cache) as d:
            labels, families, truth, v = list(d["labels"]), list(d["families"]), d["truth"], d["v"]
        if truth.shape != (args.cases, n_in + args.frames, grid.nx):
            raise SystemExit(f"{cache} holds cases of shape {truth.shape}; delete it or pass another --truth-cache")
    else:
        labels, families, truth, v = make_cases(grid, args.cases, n_in + args.frames)
        if cache is not None:
            np.savez(cache, labels=labels, families=families, truth=truth, v=v)
    n_cases = len(labels)
    print(f"{n_cases} cases x {args.frames} frames; solver truth in {time.perf_counter() - t0:.1f} s")
    initial = truth[:, :n_in]
    initial_f = np.stack([initial.real, initial.imag], -1).astype(np.float32)
    v_scaled = (v / src.v_scale).astype(np.float32)
    mm_shapes = [(2048, 2048, 2048), (n_cases * grid.nx, 69, 207)]
    mm_before = matmul_flops(args.threads, mm_shapes)

    results, preds, single = [], {}, {}
    span = 2 * model.window - 1
    for s in strides:
        first = s == strides[0]
        fc = Forecaster(exports[s], threads=args.threads)
        fc_step = Forecaster(exports[s], threads=args.threads, use_rollout=False)
        stepper = WholeBoxStep(model, grid.nx, RolloutOptions(stride=s, batch=n_cases))
        per_step = meta[s]["flops"]["per_step"]
        flop = {  # counted FLOPs per case and frame of each path (tf-graph with G(V): its complex multiply-adds)
            "ort-rollout": meta[s]["flops"]["rollout_per_frame"],
            "ort-step": per_step,
            "tf-step": per_step,
            "tf-graph": 8 * span * n_in * grid.nx if stepper.precompute else per_step,
        }
        paths = {
            "ort-rollout": lambda n, fc=fc: fc.forecast(initial, v, n),
            "ort-step": lambda n, fc=fc_step: fc.forecast(initial, v, n),
            "tf-graph": lambda n, st=stepper: rollout_batched(st, initial_f, v_scaled, n),
        }
        if first:
            paths["ort-rollout-1call"] = lambda n, fc=fc: fc.forecast(initial, v, n, chunk=None, parallel="ops")
            flop["ort-rollout-1call"] = flop["ort-rollout"]
            for b in [int(b) for b in args.blocks.split(",") if b]:
                fb = block_export(model, grid.nx, RolloutOptions(stride=s), b, exports[s], tmp / f"b{b}", args.threads)
                paths[f"ort-rollout-block{b}"] = lambda n, fc=fb: fc.forecast(initial, v, n)
                flop[f"ort-rollout-block{b}"] = 4 * (b + span - 1) * n_in * 2 * grid.nx
            if not args.no_tf_step and stepper.precompute:
                per_frame = WholeBoxStep(model, grid.nx, RolloutOptions(stride=s, batch=n_cases), precompute=False)
                paths["tf-step"] = lambda n, st=per_frame: rollout_batched(st, initial_f, v_scaled, n)
            if baseline is not None:
                old_step, old_fc = baseline_export(baseline, model, grid.nx, s, exports[s], tmp / "base", args.threads)
                paths["base-ort-step"] = lambda n, fc=old_fc: fc.forecast(initial, v, n)
                paths["base-tf-graph"] = lambda n, st=old_step, mod=baseline: mod.rollout_batched(
                    st, initial_f, v_scaled, n, batch=n_cases
                )
                flop["base-ort-step"] = flop["base-tf-graph"] = meta[s]["flops"]["per_step"]
            if args.xla:
                xla = tf.function(stepper.rollout_graph.python_function, jit_compile=True)
                paths["tf-xla"] = lambda n, xla=xla: xla(
                    tf.constant(initial_f), tf.constant(v_scaled), tf.constant(n)
                ).numpy()
                flop["tf-xla"] = flop["tf-graph"]
            if args.formulations and stepper.precompute:
                g_re, g_im = (t.numpy() for t in stepper.operator_parts(tf.constant(v_scaled)))
                sess, feed = mulreduce_session(grid.nx, n_in, model.window)
                paths["ort-mulreduce-loop-only"] = _mulreduce_path(sess, feed, g_re, g_im, initial, args.threads)
                flop["ort-mulreduce-loop-only"] = 8 * span * n_in * grid.nx
        for fn in paths.values():
            fn(2)  # warm-up: graph build, session arenas, XLA compile
        walls = {key: [] for key in paths}
        for _ in range(args.repeat):  # round robin: every path sees the same mix of machine load
            for name, fn in paths.items():
                t = time.perf_counter()
                out = fn(args.frames)
                walls[name].append(time.perf_counter() - t)
                if name in ("tf-graph", "ort-rollout", "ort-step"):  # the forecasts compared below
                    preds[(name, s)] = out if np.iscomplexobj(out) else out[..., 0] + 1j * out[..., 1]
                del out
        for name, times in walls.items():
            best = min(times)
            rate = flop.get(name, 0) * n_cases * args.frames / best
            r = {"path": name, "stride": s, "seconds": best, "all_seconds": times, "flops_per_s": rate}
            r["case_frames_per_s"] = n_cases * args.frames / best
            results.append(r)
            print(f"  {name:<24} stride {s}: {best:7.2f} s, {r['case_frames_per_s']:8.1f} case-frames/s", flush=True)
        if first:  # single-case latency
            one = {
                "ort-rollout": lambda fc=fc: fc.forecast(initial[:1], v[:1], args.frames),
                "ort-step": lambda fc=fc_step: fc.forecast(initial[:1], v[:1], args.frames),
                "tf-graph": lambda st=stepper: rollout_batched(st, initial_f[:1], v_scaled[:1], args.frames),
            }
            for fn in one.values():
                fn()
            single = {k: min(wall(fn) for _ in range(max(3, args.repeat))) for k, fn in one.items()}
    solver = {}
    if not args.no_solver:
        runs = solver_paths(grid, truth[:, n_in - 1], v, args.frames, args.threads)
        solver = {k: min(wall(fn) for _ in range(args.repeat)) for k, fn in runs.items()}
    mm_after = matmul_flops(args.threads, mm_shapes)
    square = "x".join(map(str, mm_shapes[0]))
    peak = max(x for k, x in (*mm_before.items(), *mm_after.items()) if k.endswith(square))
    _report(args, n_cases, results, single, solver, mm_before, mm_after, peak, square)

    secs = {(r["path"], r["stride"]): r["seconds"] for r in results}
    ratios = {}
    for s in strides:
        for new, old in (("ort-rollout", "tf-graph"), ("ort-rollout", "ort-step"), ("ort-rollout", "tf-step")):
            if (new, s) in secs and (old, s) in secs:
                ratios[f"{new} vs {old}, stride {s}"] = secs[(old, s)] / secs[(new, s)]
    for old in ("tf-graph", "ort-step"):
        ratios[f"single case: ort-rollout vs {old}"] = single[old] / single["ort-rollout"]
    for k, t in solver.items():
        if k != "build":
            ratios[f"solver ({k}) / ort-rollout stride {strides[0]}"] = t / secs[("ort-rollout", strides[0])]
    print("\nspeed ratios (time of the other path / time of the first):")
    for key, ratio in ratios.items():
        print(f"  {key}: {ratio:.2f}x")

    parity = {}
    for name in ("ort-rollout", "ort-step"):
        for s in strides:
            c = correlation(preds[("tf-graph", s)], preds[(name, s)])  # (cases, frames)
            parity[f"{name} stride {s}"] = {f: float(x.min()) for f, x in per_family(families, c).items()}
            print(f"\nparity {name} vs Keras rollout, stride {s}: min correlation over frames per family")
            print(
                "  "
                + ", ".join(f"{f} {x:.7f}" for f, x in parity[f"{name} stride {s}"].items())
                + f"; min {c.min():.7f}"
            )

    print("\nfidelity against the solver (ort-rollout forecasts): mean correlation / at the last frame")
    print("| family | " + " | ".join(f"stride {s}" for s in strides) + " |\n" + "|---" * (len(strides) + 1) + "|")
    corr = {s: correlation(truth[:, n_in:], preds[("ort-rollout", s)]) for s in strides}
    fam = {s: per_family(families, c) for s, c in corr.items()}
    fidelity = {
        f: {s: {"mean": float(fam[s][f].mean()), "last": float(fam[s][f][:, -1].mean())} for s in strides}
        for f in fam[strides[0]]
    }
    for f, row in fidelity.items():
        print(f"| {f} | " + " | ".join(f"{row[s]['mean']:.4f} / {row[s]['last']:.4f}" for s in strides) + " |")
    print("| all | " + " | ".join(f"{c.mean():.4f} / {c[:, -1].mean():.4f}" for c in corr.values()) + " |")
    agreement = {}
    for s in strides[1:]:
        c = per_family(families, correlation(preds[("ort-rollout", strides[0])], preds[("ort-rollout", s)]))
        agreement[s] = {f: {"mean": float(x.mean()), "last": float(x[:, -1].mean())} for f, x in c.items()}
        worst = min(a["last"] for a in agreement[s].values())
        print(f"stride {s} vs stride {strides[0]}: correlation at the last frame >= {worst:.4f} in every family")

    if args.json:
        record = dict(cases=labels, frames=args.frames, threads=args.threads, results=results, single_case=single)
        record.update(solver=solver, ratios=ratios, parity_min_corr_per_family=parity, fidelity=fidelity)
        record.update(agreement=agreement, matmul_before=mm_before, matmul_after=mm_after, peak=peak)
        record.update(load_average=os.getloadavg(), baseline=args.baseline)
        args.json.write_text(json.dumps(record, indent=1))


def _mulreduce_path(sess, feed, g_re, g_im, initial, threads: int):
    """The gather-multiply-reduce loop over all cases, one case per call, ``threads`` at a time (given G)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(n):
        def one(i):
            return sess.run(None, feed(g_re[i : i + 1], g_im[i : i + 1], initial[i : i + 1], n))

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(len(initial))))

    return run


def _report(args, n_cases, results, single, solver, mm_before, mm_after, peak, square) -> None:
    print("\nfloat32 matmul FLOP/s measured in this run (before / after the forecasts):")
    for k in mm_before:
        print(f"  {k:<32} {mm_before[k] / 1e9:7.1f} / {mm_after[k] / 1e9:7.1f} GFLOP/s")
    print(f"  peak used below (best square {square} matmul): {peak / 1e9:.1f} GFLOP/s")
    print(f"\n| path | stride | s per {n_cases} x {args.frames} | case-frames/s | counted GFLOP/s (% of matmul peak) |")
    print("|---|---|---|---|---|")
    for r in results:
        gf = r["flops_per_s"]
        print(
            f"| {r['path']} | {r['stride']} | {r['seconds']:.2f} | {r['case_frames_per_s']:,.0f} | "
            + (f"{gf / 1e9:.1f} ({100 * gf / peak:.0f} %) |" if gf else "— |")
        )
    print(f"\nsingle case, {args.frames} frames: " + ", ".join(f"{k} {t:.3f} s" for k, t in single.items()))
    if solver:
        print(
            f"solver, {n_cases} cases x {args.frames} frames: " + ", ".join(f"{k} {t:.2f} s" for k, t in solver.items())
        )
        print("  ('build': building the cases' frame propagators only, included in the others)")


if __name__ == "__main__":
    main()

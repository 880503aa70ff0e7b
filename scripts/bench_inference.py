"""Inference benchmark: the Keras/TF rollout graph against step.onnx in ONNX Runtime, side by side.

A batch of test cases (by default the paper's 25: 11 single barriers and 14 landscapes from every test
family) is forecast for 400 frames by (a) ``WholeBoxStep`` + ``rollout`` (one tf.while_loop graph;
``--xla`` adds the same graph compiled with XLA) and (b) the exported ``step.onnx`` driven by
``qwave.export.Forecaster`` (ONNX Runtime with ``--threads`` threads: by default cases in parallel, one
case per call; ``--ort-modes`` adds operator-parallel runs).  Both run in this process on
the same inputs.  Printed per path and stride: cases x frames per second, the achieved FLOP/s of the
window computations (MatMul FLOPs counted from window.onnx), its fraction of this machine's float32
matrix-multiply FLOP/s (measured in the same run, before and after), the parity of the two paths
(correlation per frame, minimum over frames, per family) and the fidelity against the solver per family
for every stride.

For a model linear in psi (``hyperlinear``) the TF rollout builds the blended step once per rollout as a
banded operator and applies it every frame (``tf-graph``): it does far fewer FLOPs than the windows, so its
"window GFLOP/s" is an effective rate (window FLOPs / time) and can exceed the matmul peak.  ``tf-step``
runs the per-frame step graph instead (the same work as step.onnx).  ``--baseline REV`` also times the
rollout and step.onnx of ``qwave/rollout.py`` as of git revision REV (``git show``), in this process on the
same inputs, and prints the new/old speed ratios.

    python scripts/bench_inference.py                        # the shipped pretrained model
    python scripts/bench_inference.py --model runs/gru --strides 1,8 --json bench.json
    python scripts/bench_inference.py --model runs/gru --cases 5 --frames 50   # a quick look
    python scripts/bench_inference.py --strides 1 --frames 20 --baseline HEAD --ort-modes cases:1 --tf-chunks 25
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

PAPER_MIX = {  # the paper's 25 test cases: 11 barriers and 14 landscapes
    "barrier": 11,
    "double": 2,
    "triple": 1,
    "staircase": 1,
    "semicircle": 1,
    "quadratic": 2,
    "trapezoid": 1,
    "triangle": 3,
    "well": 2,
    "random": 1,
}


def matmul_flops(threads: int, shapes: list[tuple[int, int, int]], repeat: int = 5) -> dict[str, float]:
    """Best float32 matmul FLOP/s of numpy (BLAS), TensorFlow and ONNX Runtime for each (M, K, N)."""
    import onnx
    import onnxruntime as ort
    import tensorflow as tf
    from onnx import TensorProto, helper, numpy_helper

    out = {}
    rng = np.random.default_rng(0)
    for m, k, n in shapes:
        a = rng.random((m, k), np.float32)
        b = rng.random((k, n), np.float32)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["a", "b"], ["c"])],
            "mm",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, k])],
            [helper.make_tensor_value_info("c", TensorProto.FLOAT, [None, n])],
            [numpy_helper.from_array(b, "b")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(model)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        ta, tb = tf.constant(a), tf.constant(b)
        tf_mm = tf.function(lambda ta=ta, tb=tb: tf.linalg.matmul(ta, tb))
        engines = {
            "numpy": lambda a=a, b=b: a @ b,
            "tensorflow": lambda tf_mm=tf_mm: tf_mm().numpy(),
            "onnxruntime": lambda sess=sess, a=a: sess.run(None, {"a": a}),
        }
        for name, fn in engines.items():
            fn()
            best = min(_wall(fn) for _ in range(repeat))
            out[f"{name} {m}x{k}x{n}"] = 2.0 * m * k * n / best
    return out


def _wall(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def load_baseline(rev: str, tmp: Path):
    """``qwave/rollout.py`` as of git revision ``rev``, imported as module ``qwave_rollout_baseline`` (its
    file kept in ``tmp`` so that autograph can read its source)."""
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run(["git", "-C", str(root), "show", f"{rev}:qwave/rollout.py"], capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"cannot read qwave/rollout.py at {rev}: {res.stderr.strip()}")
    path = tmp / "qwave_rollout_baseline.py"
    path.write_text(res.stdout)
    spec = importlib.util.spec_from_file_location("qwave_rollout_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def baseline_export(module, model, nx: int, stride: int, export: Path, out: Path, threads: int):
    """A Forecaster on a copy of ``export`` whose step.onnx is the baseline module's WholeBoxStep (checksum
    not checked: metadata.json describes the new step.onnx, with the same IO)."""
    import onnx
    from qwave.export import Forecaster

    from qwave.deploy import export as exporting

    shutil.copytree(export, out)
    stepper = module.WholeBoxStep(model, nx, stride=stride)
    onnx.save(exporting.function_to_onnx(stepper.step, exporting.STEP_INPUT, exporting.STEP_OUTPUT), out / "step.onnx")
    return stepper, Forecaster(out, threads=threads, check_sha256=False)


def make_cases(grid, n_cases: int, n_frames: int):
    """(labels, families, psi complex (C, n_frames, NX), v (C, NX)): held-out cases of the full config,
    in the paper's family mix (cycled when more are asked for), simulated by the solver."""
    from qwave import curriculum
    from qwave.physics.packets import gaussian_packets
    from qwave.physics.solver import simulate

    held = curriculum.held_out_cases(curriculum.FULL)
    mix = dict(PAPER_MIX) if n_cases == 25 else {f: 0 for f in PAPER_MIX}
    if n_cases != 25:
        for i in range(n_cases):
            mix[list(PAPER_MIX)[i % len(PAPER_MIX)]] += 1
    labels, families, psi, pots = [], [], [], []
    for family, count in mix.items():
        for case in held[f"test_{family}"][:count]:
            v = case.potential(grid)
            psi.append(simulate(gaussian_packets(grid, case.x0, case.s0, case.e0)[0], v, grid, n_frames=n_frames))
            pots.append(v)
            families.append(family)
            labels.append(f"{family} X0={case.x0} S0={case.s0} E0={case.e0} {case.params}")
    return labels, families, np.stack(psi), np.stack(pots)


def per_family(families: list[str], values: np.ndarray) -> dict[str, np.ndarray]:
    groups = defaultdict(list)
    for f, v in zip(families, values, strict=True):
        groups[f].append(v)
    return {f: np.stack(v) for f, v in groups.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="export dir, training run dir or .keras (default: the shipped model)")
    parser.add_argument("--cases", type=int, default=25)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--strides", default="1,8", help="comma-separated strides (cells between window centres)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for ONNX Runtime")
    parser.add_argument("--xla", action="store_true", help="also time the TF rollout graph compiled with XLA")
    parser.add_argument(
        "--ort-modes",
        default="cases:1,ops:25,ops:1",
        help="Forecaster parallel mode:cases per call, comma-separated; the first is also timed at other strides",
    )
    parser.add_argument("--tf-chunks", default="25,1", help="cases per TF rollout graph to time (first: strides > 1)")
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
    print(f"{os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f}; ORT threads {args.threads}")

    exports = {
        s: exporting.export_model(src.keras_path, tmp / f"s{s}", stride=s, saved_model=False, v_scale=src.v_scale)
        for s in strides
    }
    meta = {s: json.loads((d / "metadata.json").read_text()) for s, d in exports.items()}
    flops_window = meta[strides[0]]["flops"]["per_window"]

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

    ort_modes = args.ort_modes.split(",")
    tf_chunks = [int(c) for c in args.tf_chunks.split(",")]
    results, preds = [], {}
    for s in strides:
        stepper = WholeBoxStep(model, grid.nx, stride=s)
        paths = {}
        fc = Forecaster(exports[s], threads=args.threads)
        for i, mode in enumerate(ort_modes if s == strides[0] else ort_modes[:1]):
            parallel, c = mode.split(":")
            label = "onnxruntime" if i == 0 else f"onnxruntime-{parallel}"
            paths[(label, int(c))] = lambda n, fc=fc, c=int(c), p=parallel: fc.forecast(
                initial, v, n, chunk=c, parallel=p
            )
        for c in tf_chunks if s == strides[0] else tf_chunks[:1]:
            paths[("tf-graph", c)] = lambda n, st=stepper, c=c: rollout_batched(st, initial_f, v_scaled, n, batch=c)
        if stepper.precompute and s == strides[0]:
            per_frame = WholeBoxStep(model, grid.nx, stride=s, precompute=False)
            c = tf_chunks[0]
            paths[("tf-step", c)] = lambda n, st=per_frame, c=c: rollout_batched(st, initial_f, v_scaled, n, batch=c)
        if args.baseline and s == strides[0]:
            old_step, old_fc = baseline_export(baseline, model, grid.nx, s, exports[s], tmp / f"base{s}", args.threads)
            parallel, c = ort_modes[0].split(":")
            paths[("base-onnxruntime", int(c))] = lambda n, fc=old_fc, c=int(c), p=parallel: fc.forecast(
                initial, v, n, chunk=c, parallel=p
            )
            c = tf_chunks[0]
            paths[("base-tf-graph", c)] = lambda n, st=old_step, c=c, mod=baseline: mod.rollout_batched(
                st, initial_f, v_scaled, n, batch=c
            )
        if args.xla and s == strides[0]:
            xla = tf.function(stepper.rollout_graph.python_function, jit_compile=True)

            def run_xla(n, xla=xla):
                return xla(tf.constant(initial_f), tf.constant(v_scaled), tf.constant(n)).numpy()

            paths[("tf-xla", n_cases)] = run_xla
        for fn in paths.values():
            fn(2)  # warm-up: graph build, session arenas, XLA compile
        walls = {key: [] for key in paths}
        for _ in range(args.repeat):  # round robin: every path sees the same mix of machine load
            for (name, c), fn in paths.items():
                t = time.perf_counter()
                out = fn(args.frames)
                walls[(name, c)].append(time.perf_counter() - t)
                if name in ("tf-graph", "onnxruntime"):  # keep only the forecasts compared below (memory)
                    preds[(name, s)] = out if np.iscomplexobj(out) else out[..., 0] + 1j * out[..., 1]
                del out
        for (name, c), times in walls.items():
            wall = min(times)
            flop = flops_window * (grid.nx // s) * n_cases * args.frames
            r = {"path": name, "stride": s, "cases_per_call": c, "seconds": wall, "all_seconds": times}
            r.update(case_frames_per_s=n_cases * args.frames / wall, flops_per_s=flop / wall)
            results.append(r)
            print(
                f"  {name:<16} stride {s}, {c:>2} case(s) per call: {wall:7.1f} s, "
                f"{r['case_frames_per_s']:7.1f} case-frames/s, {flop / wall / 1e9:6.1f} GFLOP/s",
                flush=True,
            )
    mm_after = matmul_flops(args.threads, mm_shapes)
    square = f"{mm_shapes[0][0]}x{mm_shapes[0][1]}x{mm_shapes[0][2]}"
    peak = max(v for k, v in (*mm_before.items(), *mm_after.items()) if k.endswith(square))

    print("\nfloat32 matmul FLOP/s measured in this run (before / after the forecasts):")
    for k in mm_before:
        print(f"  {k:<32} {mm_before[k] / 1e9:7.1f} / {mm_after[k] / 1e9:7.1f} GFLOP/s")
    print(f"  peak used below (best square {square} matmul): {peak / 1e9:.1f} GFLOP/s")

    print(
        f"\n| path | stride | cases per call | s per {n_cases}x{args.frames} | case-frames/s | window GFLOP/s "
        "| % of matmul peak |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        r["fraction_of_peak"] = r["flops_per_s"] / peak
        print(
            f"| {r['path']} | {r['stride']} | {r['cases_per_call']} | {r['seconds']:.1f} | "
            f"{r['case_frames_per_s']:.1f} | {r['flops_per_s'] / 1e9:.1f} | {100 * r['fraction_of_peak']:.0f} % |"
        )
    base = {}
    for r in results:
        if r["path"] == "onnxruntime":
            base[r["stride"]] = min(base.get(r["stride"], np.inf), r["seconds"])
    for s in strides[1:]:
        print(f"ONNX Runtime stride {s} is {base[strides[0]] / base[s]:.1f}x faster than stride {strides[0]}")
    secs = {(r["path"], r["stride"], r["cases_per_call"]): r["seconds"] for r in results}
    ratios = {}
    for new, old in (("tf-graph", "base-tf-graph"), ("tf-step", "base-tf-graph"), ("onnxruntime", "base-onnxruntime")):
        for (path, s, c), t in secs.items():
            if path == new and (old, s, c) in secs:
                ratios[f"{new} vs {old}, stride {s}"] = secs[(old, s, c)] / t
    for key, ratio in ratios.items():
        print(f"speed-up {key} ({args.baseline}): {ratio:.2f}x")

    ref_key = ("tf-graph", strides[0])
    parity = correlation(preds[ref_key], preds[("onnxruntime", strides[0])])  # (cases, frames)
    print(f"\nparity step.onnx (ORT) vs Keras rollout, stride {strides[0]}: min correlation over frames per family")
    par = {f: float(c.min()) for f, c in per_family(families, parity).items()}
    print("  " + ", ".join(f"{f} {c:.7f}" for f, c in par.items()) + f"; overall min {parity.min():.7f}")

    print("\nfidelity against the solver (ONNX Runtime forecasts): mean correlation / at the last frame")
    fidelity = {}
    print("| family | " + " | ".join(f"stride {s}" for s in strides) + " |")
    print("|---" * (len(strides) + 1) + "|")
    corr_by_stride = {s: correlation(truth[:, n_in:], preds[("onnxruntime", s)]) for s in strides}
    fam_tables = {s: per_family(families, c) for s, c in corr_by_stride.items()}
    for f in fam_tables[strides[0]]:
        cells = []
        for s in strides:
            c = fam_tables[s][f]
            fidelity.setdefault(f, {})[s] = {"mean": float(c.mean()), "last": float(c[:, -1].mean())}
            cells.append(f"{c.mean():.4f} / {c[:, -1].mean():.4f}")
        print(f"| {f} | " + " | ".join(cells) + " |")
    cells = [f"{c.mean():.4f} / {c[:, -1].mean():.4f}" for c in corr_by_stride.values()]
    print("| all | " + " | ".join(cells) + " |")

    agreement = {}
    if len(strides) > 1:
        print(f"\nagreement of each stride with stride {strides[0]} (same model): mean correlation / at the last frame")
        print("| family | " + " | ".join(f"stride {s}" for s in strides[1:]) + " |")
        print("|---" * len(strides) + "|")
        base_pred = preds[("onnxruntime", strides[0])]
        agree = {s: per_family(families, correlation(base_pred, preds[("onnxruntime", s)])) for s in strides[1:]}
        for f in agree[strides[1]]:
            cells = []
            for s in strides[1:]:
                c = agree[s][f]
                agreement.setdefault(f, {})[s] = {"mean": float(c.mean()), "last": float(c[:, -1].mean())}
                cells.append(f"{c.mean():.4f} / {c[:, -1].mean():.4f}")
            print(f"| {f} | " + " | ".join(cells) + " |")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cases": labels,
                    "frames": args.frames,
                    "threads": args.threads,
                    "flops_per_window": flops_window,
                    "matmul_flops_before": mm_before,
                    "matmul_flops_after": mm_after,
                    "peak": peak,
                    "results": results,
                    "baseline": args.baseline,
                    "speedup_vs_baseline": ratios,
                    "parity_min_corr_per_family": par,
                    "fidelity": fidelity,
                    "agreement_with_first_stride": agreement,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()

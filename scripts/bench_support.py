"""Helpers of ``scripts/bench_inference.py``: test cases, the matmul peak, the previous release's rollout, the
solver timing and alternative formulations of rollout.onnx's loop (for ``--formulations``)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
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


def wall(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


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
            best = min(wall(fn) for _ in range(repeat))
            out[f"{name} {m}x{k}x{n}"] = 2.0 * m * k * n / best
    return out


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
    """A step.onnx Forecaster on a copy of ``export`` whose step.onnx is the baseline module's WholeBoxStep
    (checksum not checked: metadata.json describes the new step.onnx, with the same IO)."""
    import onnx
    from qwave.export import Forecaster

    from qwave.deploy import export as exporting

    shutil.copytree(export, out)
    stepper = module.WholeBoxStep(model, nx, stride=stride)
    onnx.save(exporting.function_to_onnx(stepper.step, exporting.STEP_INPUT, exporting.STEP_OUTPUT), out / "step.onnx")
    return stepper, Forecaster(out, threads=threads, check_sha256=False, use_rollout=False)


def block_export(model, nx: int, options, block: int, export: Path, out: Path, threads: int):
    """A Forecaster on a copy of ``export`` whose rollout.onnx applies the operator in blocks of ``block``."""
    import onnx
    from qwave.export import Forecaster

    from qwave.deploy import rollout_onnx as ro
    from qwave.deploy.onnx import function_to_onnx
    from qwave.emulator.rollout import WholeBoxStep

    shutil.copytree(export, out)
    stepper = WholeBoxStep(model, nx, options)
    prologue = function_to_onnx(ro.operator_prologue(stepper, block), ro.ROLLOUT_FRAMES, [ro.OPERATOR, ro.STATE0])
    proto = ro.operator_rollout(prologue, nx, model.n_in, model.window, block, options.renormalize, 17)
    onnx.save(proto, out / "rollout.onnx")
    return Forecaster(out, threads=threads, check_sha256=False)


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


def solver_paths(grid, start: np.ndarray, v: np.ndarray, n_frames: int, threads: int) -> dict:
    """The teacher on the same forecast: ``n_frames`` frames after ``start`` (C, NX) complex, each case in its
    own potential v (C, NX), its banded frame propagator built from scratch (cache cleared) - one case after
    another, or ``threads`` cases at a time - and all cases as one batch in the first case's potential
    (one propagator, the solver's batched best case)."""
    from qwave.physics import solver

    def one(i):
        return solver.simulate(start[i], v[i], grid, n_frames=n_frames + 1)

    def sequential():
        solver._cached_propagator.cache_clear()
        for i in range(len(start)):
            one(i)

    def parallel():
        solver._cached_propagator.cache_clear()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(len(start))))

    def shared():
        solver._cached_propagator.cache_clear()
        solver.simulate(start, v[0], grid, n_frames=n_frames + 1)

    def build_only():
        solver._cached_propagator.cache_clear()
        for i in range(len(start)):
            solver.frame_propagator(grid, v[i])

    return {"sequential": sequential, f"{threads} at a time": parallel, "one shared V": shared, "build": build_only}


def mulreduce_session(nx: int, n_in: int, window: int, threads: int = 1):
    """A loop-only alternative to rollout.onnx's block products, for ``--formulations``: each cell gathers its
    (2W - 1) x n_in neighbours and multiplies them with its row of G (real 2x2 form) then sums (Gather, Mul,
    ReduceSum).  Inputs ``g`` (B, NX, 2, K), ``state0`` (B, NX, n_in, 2), ``n_frames``; renormalised like
    the Keras rollout.  Returns (session, feed builder from G's parts)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from qwave.export.forecaster import session_options

    span = 2 * window - 1
    k = span * n_in * 2
    c = [
        numpy_helper.from_array(a, n)
        for n, a in {
            "idx": ((np.arange(nx)[:, None] + np.arange(span)[None, :] - (window - 1)) % nx).astype(np.int64),
            "shape": np.array([-1, nx, 1, k], np.int64),
            "ax": np.array([-1], np.int64),
            "last": np.array(n_in - 1, np.int64),
            "one": np.array([1], np.int64),
            "top": np.array([n_in], np.int64),
            "ax2": np.array([2], np.int64),
            "eps": np.array(1e-30, np.float32),
        }.items()
    ]
    nodes = [
        helper.make_node("Gather", ["x", "idx"], ["xg"], axis=1),  # (B, NX, span, n_in, 2)
        helper.make_node("Reshape", ["xg", "shape"], ["xf"]),
        helper.make_node("Mul", ["xf", "g"], ["p"]),  # (B, NX, 2, K)
        helper.make_node("ReduceSum", ["p", "ax"], ["raw"], keepdims=0),  # (B, NX, 2)
        helper.make_node("Gather", ["x", "last"], ["xl"], axis=2),
        helper.make_node("ReduceSumSquare", ["xl"], ["a"], axes=[1, 2], keepdims=1),
        helper.make_node("ReduceSumSquare", ["raw"], ["b0"], axes=[1, 2], keepdims=1),
        helper.make_node("Add", ["b0", "eps"], ["b"]),
        helper.make_node("Div", ["a", "b"], ["r"]),
        helper.make_node("Sqrt", ["r"], ["s"]),
        helper.make_node("Mul", ["raw", "s"], ["nxt"]),
        helper.make_node("Unsqueeze", ["nxt", "ax2"], ["n4"]),
        helper.make_node("Slice", ["x", "one", "top", "ax2"], ["tail"]),
        helper.make_node("Concat", ["tail", "n4"], ["x_out"], axis=2),
        helper.make_node("Identity", ["cond"], ["cond_out"]),
    ]
    xs = ["batch", nx, n_in, 2]
    body = helper.make_graph(
        nodes,
        "body",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in (("i", 7, []), ("cond", 9, []), ("x", 1, xs))],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in (("cond_out", 9, []), ("x_out", 1, xs))]
        + [helper.make_tensor_value_info("nxt", TensorProto.FLOAT, ["batch", nx, 2])],
        c,
    )
    true = helper.make_tensor("t", TensorProto.BOOL, [], [True])
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["true"], value=true),
            helper.make_node("Loop", ["n_frames", "true", "state0"], ["x_end", "forecast"], body=body),
        ],
        "mulreduce",
        [
            helper.make_tensor_value_info("g", TensorProto.FLOAT, ["batch", nx, 2, k]),
            helper.make_tensor_value_info("state0", TensorProto.FLOAT, xs),
            helper.make_tensor_value_info("n_frames", TensorProto.INT64, []),
        ],
        [helper.make_tensor_value_info("forecast", TensorProto.FLOAT, ["n_frames", "batch", nx, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    sess = ort.InferenceSession(model.SerializeToString(), session_options(threads), providers=["CPUExecutionProvider"])

    def feed(g_re: np.ndarray, g_im: np.ndarray, psi: np.ndarray, n: int) -> dict:
        """G's parts (B, NX, span, n_in) and psi (B, n_in, NX) complex -> the session's inputs."""
        b = len(g_re)
        rows = [np.stack([g_re, -g_im], -1), np.stack([g_im, g_re], -1)]  # Re and Im output rows over (d, t, part)
        g = np.stack([r.reshape(b, nx, k) for r in rows], 2).astype(np.float32)
        x = np.stack([psi.real, psi.imag], -1).transpose(0, 2, 1, 3).astype(np.float32)
        return {"g": g, "state0": np.ascontiguousarray(x), "n_frames": np.array(n, np.int64)}

    return sess, feed

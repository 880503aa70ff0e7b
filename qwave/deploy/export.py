"""Export a trained emulator for use outside TensorFlow, with every artefact checked against Keras.

``export_model(MODEL, DIR)`` writes, into a temporary directory beside ``DIR`` that is renamed onto it
only when everything is written and checked:

- ``model.keras`` (reloadable with ``safe_mode=True``) and ``saved_model/`` (Keras ``model.export``);
- ``window.onnx``: the window model, ``window`` float32 [batch, n_in, W, 3] -> ``next`` [batch, W, 2];
- ``step.onnx``: one whole-box forecast step, :class:`qwave.emulator.rollout.WholeBoxStep` converted by tf2onnx:
  ``frames`` float32 [batch, n_in, NX, 3] (Re psi, Im psi, V / v_scale) -> ``next`` float32 [batch, NX, 2];
- ``rollout.onnx``: the whole recursive forecast in one call (:mod:`qwave.deploy.rollout_onnx`): ``frames`` as
  above and ``n_frames`` int64 -> ``forecast`` float32 [batch, n_frames, NX, 2];
- ``metadata.json``: grid, frame spacing, window geometry, v_scale, blending, ONNX opset and IO, the
  artefacts' SHA-256, measured parities, FLOPs per window, package versions and evaluation figures;
- ``evaluation/``: the source's evaluation table (``table.md``, ``table.json``), when it has one.

Every ONNX graph passes ``onnx.checker`` and is compared with Keras in ONNX Runtime before publication
(rollout.onnx: correlation with the Keras rollout >= ``ROLLOUT_MIN_CORR`` at every frame of the probe forecast).
TensorFlow is imported only inside the functions.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import tempfile
import uuid
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from qwave.deploy import rollout_onnx
from qwave.deploy.onnx import (
    BATCH_DIM,
    DEFAULT_OPSET,
    NUMPY2_COPY_WARNING,
    _finish,
    _max_diff,
    _session,
    function_to_onnx,
    probe_frames,
    window_flops,
)
from qwave.emulator.artefacts import FORMAT, FORMAT_VERSION, ModelSource, _read_json, load_source
from qwave.emulator.options import DEFAULT_ROLLOUT, RolloutOptions
from qwave.errors import QwaveInputError
from qwave.export.forecaster import _sha256
from qwave.io import check_output_dir

WINDOW_INPUT, WINDOW_OUTPUT = "window", "next"
STEP_INPUT, STEP_OUTPUT = "frames", "next"
WINDOW_TOL = 1e-5  # max |window.onnx - Keras| on the probe windows
STEP_TOL = 1e-4  # max |step.onnx - WholeBoxStep| on the probe frames
ROLLOUT_MIN_CORR = 0.99999  # min correlation of rollout.onnx with the Keras rollout, every probe frame
PROBE_FRAMES = 32  # frames of the export-time rollout.onnx check
VERSION_PACKAGES = ("qwave", "tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages an export depends on, plus Python's."""
    out = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


# --- the export ----------------------------------------------------------------------------------------


def _check_target(out: Path, overwrite: bool) -> None:
    """Fail before any work when ``out`` cannot be (re)placed: only an export directory or an empty one
    may be replaced, and only with ``overwrite``."""
    parent = out.parent
    if not parent.is_dir():
        raise QwaveInputError(f"output directory {parent} does not exist")
    check_output_dir(parent)  # really creates a file: os.access says yes to root on read-only mounts
    if out.is_file() or out.is_symlink():
        raise QwaveInputError(f"output path {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise QwaveInputError(f"{out} already exists; pass overwrite (--force) to replace it")
        meta = _read_json(out / "metadata.json")
        if not meta or meta.get("format") != FORMAT:
            raise QwaveInputError(f"{out} is not empty and not a qwave export; refusing to replace it")


def _publish(tmp: Path, out: Path) -> None:
    """Rename the finished temporary directory onto ``out`` (the old export, if any, is moved aside first)."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def export_model(
    source: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    options: RolloutOptions = DEFAULT_ROLLOUT,
    opset: int = DEFAULT_OPSET,
    v_scale: float | None = None,
    overwrite: bool = False,
    saved_model: bool = True,
) -> Path:
    """Export MODEL (see :func:`load_source`) to ``out_dir``; returns its path.  ``options`` fix the ONNX
    forecast's blending (sigma, stride), renormalisation and potential clamp (``options.batch`` is unused)."""
    out = Path(out_dir).resolve()
    _check_target(out, overwrite)
    if not rollout_onnx.MIN_OPSET <= int(opset) <= 21:
        raise QwaveInputError(f"ONNX opset must be between {rollout_onnx.MIN_OPSET} and 21, got {opset}")
    src = load_source(source, v_scale)
    from qwave.emulator.rollout import blend_tables

    blend_tables(src.grid.nx, src.model.window, options.sigma, options.stride)  # validates the blend up front
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NUMPY2_COPY_WARNING)
            meta = _write_artefacts(src, tmp, options, int(opset), saved_model)
        meta["source"] = str(src.keras_path)
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
        os.chmod(tmp, 0o777 & ~_umask())
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_artefacts(src: ModelSource, tmp: Path, options: RolloutOptions, opset: int, saved_model: bool) -> dict:
    import keras
    import onnx
    import tensorflow as tf

    from qwave.emulator.rollout import WholeBoxStep

    model, grid = src.model, src.grid
    n_in, window, nx = model.n_in, model.window, grid.nx
    rng = np.random.default_rng(0)
    probe = np.concatenate(
        [
            rng.uniform(-0.6, 0.6, (48, n_in, window, 2)),
            rng.uniform(-0.3, 1.0, (48, 1, window, 1)).repeat(n_in, 1),
        ],
        -1,
    ).astype(np.float32)
    expected = keras.ops.convert_to_numpy(model(probe))
    parity: dict[str, float] = {}

    model.save(tmp / "model.keras")
    reloaded = keras.models.load_model(tmp / "model.keras", safe_mode=True, compile=False)
    parity["keras_reload"] = _max_diff(keras.ops.convert_to_numpy(reloaded(probe)), expected)

    window_spec = tf.TensorSpec([None, n_in, window, 3], tf.float32, name=WINDOW_INPUT)
    if saved_model:
        model.export(str(tmp / "saved_model"), format="tf_saved_model", input_signature=[window_spec], verbose=False)
        loaded = tf.saved_model.load(str(tmp / "saved_model"))
        parity["saved_model"] = _max_diff(loaded.serve(tf.constant(probe)), expected)

    props = {"format": FORMAT, "n_in": n_in, "window": window, "v_scale": src.v_scale}
    win_fn = tf.function(lambda window: model(window, training=False), input_signature=[window_spec])
    win_proto = _finish(
        function_to_onnx(win_fn, WINDOW_INPUT, WINDOW_OUTPUT, opset),
        props,
        f"qwave window emulator: {WINDOW_INPUT} [batch, {n_in}, {window}, 3] -> {WINDOW_OUTPUT} [batch, {window}, 2]",
    )
    parity["window_onnx"] = _max_diff(_session(win_proto).run(None, {WINDOW_INPUT: probe})[0], expected)
    if parity["window_onnx"] > WINDOW_TOL:
        raise QwaveInputError(f"window.onnx differs from Keras by {parity['window_onnx']:.2e} > {WINDOW_TOL:g}")
    onnx.save(win_proto, tmp / "window.onnx")

    # the blend as a transposed convolution: one ConvTranspose node, cheaper in ONNX Runtime than a gather
    stepper = WholeBoxStep(model, nx, options, blend="conv")
    sigma, stride, renormalize = options.sigma, options.stride, options.renormalize
    step_props = {**props, "nx": nx, "sigma": sigma, "stride": stride, "renormalize": renormalize}
    step_proto = _finish(
        function_to_onnx(stepper.step, STEP_INPUT, STEP_OUTPUT, opset),
        step_props,
        f"qwave whole-box step: {STEP_INPUT} [batch, {n_in}, {nx}, 3] (Re psi, Im psi, V/v_scale) "
        f"-> {STEP_OUTPUT} [batch, {nx}, 2]",
    )
    frames = probe_frames(grid, n_in)
    parity["step_onnx"] = _max_diff(_session(step_proto).run(None, {STEP_INPUT: frames})[0], stepper.step(frames))
    if parity["step_onnx"] > STEP_TOL:
        raise QwaveInputError(f"step.onnx differs from the TF step by {parity['step_onnx']:.2e} > {STEP_TOL:g}")
    onnx.save(step_proto, tmp / "step.onnx")

    roll_proto, engine, block, roll_parity = _rollout_artefact(model, grid, options, opset, step_props, step_proto)
    parity["rollout_onnx"] = roll_parity["max_abs"]
    onnx.save(roll_proto, tmp / "rollout.onnx")

    files = []
    if src.evaluation_files:
        (tmp / "evaluation").mkdir()
        for f in src.evaluation_files:
            shutil.copy2(f, tmp / "evaluation" / f.name)
            files.append(f"evaluation/{f.name}")

    flops = window_flops(win_proto)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "class": type(model).__name__,
            "config": model.get_config(),
            "parameters": int(model.count_params()),
            "train_config": src.train_config,
        },
        "grid": {
            "lx": grid.lx,
            "nx": nx,
            "dx": grid.dx,
            "dt": grid.dt,
            "steps_per_frame": grid.steps_per_frame,
            "frame_dt": grid.frame_dt,
            "units": "hartree atomic units: lengths in bohr, times in hbar/hartree",
        },
        "frame_dt": grid.frame_dt,
        "input_frames": n_in,
        "window": window,
        "v_scale": src.v_scale,
        "channels": {"in": ["re_psi", "im_psi", "v_over_v_scale"], "out": ["re_psi", "im_psi"]},
        "blend": {
            "sigma": float(sigma),
            "stride": int(stride),
            "renormalize": bool(renormalize),
            "v_clip": stepper.v_clip,  # step.onnx clamps V / v_scale to [-v_clip, v_clip]
        },
        "onnx": {
            "opset": opset,
            "ir_version": int(step_proto.ir_version),
            "step": _io_entry(tmp, "step.onnx", STEP_INPUT, [n_in, nx, 3], STEP_OUTPUT, [nx, 2]),
            "window": _io_entry(tmp, "window.onnx", WINDOW_INPUT, [n_in, window, 3], WINDOW_OUTPUT, [window, 2]),
            "rollout": {
                **_io_entry(
                    tmp,
                    "rollout.onnx",
                    rollout_onnx.ROLLOUT_FRAMES,
                    [n_in, nx, 3],
                    rollout_onnx.ROLLOUT_OUTPUT,
                    [rollout_onnx.ROLLOUT_N, nx, 2],
                ),
                "engine": engine,  # "operator": G(V) built once, applied per frame; "step": step.onnx looped
                "block": block,
                "parity": roll_parity,
            },
        },
        "files": [
            "model.keras",
            *(["saved_model"] if saved_model else []),
            "window.onnx",
            "step.onnx",
            "rollout.onnx",
            *files,
        ],
        "saved_model": {"signature": "serve", "input": WINDOW_INPUT} if saved_model else None,
        "flops": {
            "per_window": flops,
            "windows_per_step": nx // int(stride),
            "per_step": flops * (nx // int(stride)),
            "rollout_per_frame": _rollout_flops(engine, flops * (nx // int(stride)), nx, n_in, window, block),
            "counted": "2 per multiply-add in MatMul/Gemm/Conv; gathers, activations and blending not counted; "
            "rollout_per_frame: rollout.onnx's loop body per case and frame (G(V), built once, not counted)",
        },
        "parity_max_abs_diff": parity,
        "versions": package_versions(),
        "evaluation": src.evaluation,
    }


def _io_entry(tmp: Path, name: str, in_name: str, in_shape: list, out_name: str, out_shape: list) -> dict:
    inputs = [{"name": in_name, "shape": [BATCH_DIM, *in_shape], "dtype": "float32"}]
    if name == "rollout.onnx":
        inputs.append({"name": rollout_onnx.ROLLOUT_N, "shape": [], "dtype": "int64"})
    return {
        "file": name,
        "sha256": _sha256(tmp / name),
        "inputs": inputs,
        "outputs": [{"name": out_name, "shape": [BATCH_DIM, *out_shape], "dtype": "float32"}],
    }


def _rollout_flops(engine: str, per_step: int, nx: int, n_in: int, window: int, block: int) -> int:
    if engine == "step":
        return per_step
    k = (block + 2 * window - 2) * n_in * 2  # one (2 x K) @ (K x block) product per block of cells
    return 2 * 2 * k * block * (nx // block)


def _rollout_artefact(model, grid, options: RolloutOptions, opset: int, props: dict, step_proto):
    """rollout.onnx (the operator loop for a linear-in-psi model, else step.onnx looped), checked against the
    Keras rollout on the probe frames: (proto, engine, block, parity record)."""
    from qwave.emulator.metrics import correlation
    from qwave.emulator.rollout import WholeBoxStep, rollout

    nx, n_in, window = grid.nx, model.n_in, model.window
    reference = WholeBoxStep(model, nx, options)  # what evaluate and the Keras rollout use
    if reference.precompute:
        engine, block = "operator", rollout_onnx.block_size(nx)
        prologue = function_to_onnx(
            rollout_onnx.operator_prologue(reference, block),
            rollout_onnx.ROLLOUT_FRAMES,
            [rollout_onnx.OPERATOR, rollout_onnx.STATE0],
            opset,
        )
        proto = rollout_onnx.operator_rollout(prologue, nx, n_in, window, block, options.renormalize, opset)
    else:
        engine, block = "step", None
        proto = rollout_onnx.step_rollout(step_proto, nx, n_in, opset)
    proto = _finish(
        proto,
        {**props, "engine": engine, "block": block},
        f"qwave recursive forecast: {rollout_onnx.ROLLOUT_FRAMES} [batch, {n_in}, {nx}, 3] (Re psi, Im psi, "
        f"V/v_scale) and {rollout_onnx.ROLLOUT_N} (int64) -> {rollout_onnx.ROLLOUT_OUTPUT} "
        f"[batch, {rollout_onnx.ROLLOUT_N}, {nx}, 2]",
    )
    frames = probe_frames(grid, n_in)
    want = rollout(reference, frames[..., :2], frames[:, -1, :, 2], PROBE_FRAMES)
    feed = {rollout_onnx.ROLLOUT_FRAMES: frames, rollout_onnx.ROLLOUT_N: np.array(PROBE_FRAMES, np.int64)}
    got = _session(proto).run(None, feed)[0]
    if got.shape != want.shape:
        raise QwaveInputError(f"rollout.onnx returned shape {got.shape}, expected {want.shape}")  # cannot happen
    corr = float(correlation(want, got).min())
    if not corr >= ROLLOUT_MIN_CORR:
        raise QwaveInputError(
            f"rollout.onnx's probe forecast correlates {corr:.7f} < {ROLLOUT_MIN_CORR} with the Keras rollout"
        )
    parity = {"frames": PROBE_FRAMES, "cases": len(frames), "min_correlation": corr, "max_abs": _max_diff(got, want)}
    return proto, engine, block, parity

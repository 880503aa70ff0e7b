"""Export a trained emulator for use outside TensorFlow, and forecast with the export.

``export_model(MODEL, DIR)`` writes, into a temporary directory beside ``DIR`` that is renamed onto it
only when everything is written and checked:

- ``model.keras`` (reloadable with ``safe_mode=True``) and ``saved_model/`` (Keras ``model.export``);
- ``window.onnx``: the window model, ``window`` float32 [batch, n_in, W, 3] -> ``next`` [batch, W, 2];
- ``step.onnx``: one whole-box forecast step, :class:`qwave.rollout.WholeBoxStep` converted by tf2onnx:
  ``frames`` float32 [batch, n_in, NX, 3] (Re psi, Im psi, V / v_scale) -> ``next`` float32 [batch, NX, 2];
- ``metadata.json``: grid, frame spacing, window geometry, v_scale, blending, ONNX opset and IO, the
  artefacts' SHA-256, measured parities, FLOPs per window, package versions and evaluation figures;
- ``evaluation/``: the source's evaluation table (``table.md``, ``table.json``), when it has one.

Every ONNX graph passes ``onnx.checker`` and is compared with Keras in ONNX Runtime before publication.
``predict`` forecasts with an export through :mod:`qwave.export.forecaster` (numpy + onnxruntime only):
this module imports TensorFlow only inside the export functions.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import platform
import shutil
import tempfile
import uuid
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from qwave.errors import QwaveInputError
from qwave.export.forecaster import _sha256
from qwave.grid import Grid

DEFAULT_OPSET = 17
FORMAT = "qwave-emulator-export"
FORMAT_VERSION = 1
WINDOW_INPUT, WINDOW_OUTPUT = "window", "next"
STEP_INPUT, STEP_OUTPUT = "frames", "next"
BATCH_DIM = "batch"
WINDOW_TOL = 1e-5  # max |window.onnx - Keras| on the probe windows
STEP_TOL = 1e-4  # max |step.onnx - WholeBoxStep| on the probe frames
PRETRAINED_ROOT = Path(__file__).resolve().parent / "pretrained"
VERSION_PACKAGES = ("qwave", "tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")
EVALUATION_FILES = ("table.md", "table.json", "curves.png")
# Keras saving and tf2onnx call np.array(x, copy=False) on TF tensors: a harmless numpy-2 DeprecationWarning.
NUMPY2_COPY_WARNING = ".*__array__ implementation doesn't accept a copy keyword"


# --- locating the model and what travels with it ------------------------------------------------------


def default_pretrained(root: Path = PRETRAINED_ROOT) -> Path:
    """The shipped pretrained model's directory ``qwave/pretrained/<name>/`` (the only one, or the one
    named in ``qwave/pretrained/DEFAULT``)."""
    dirs = sorted(p for p in root.glob("*") if p.is_dir() and (p / "model.keras").is_file()) if root.is_dir() else []
    named = root / "DEFAULT"
    if named.is_file():
        choice = root / named.read_text().strip()
        if choice in dirs:
            return choice
        raise QwaveInputError(f"{named} names {choice.name!r}, which holds no model.keras")
    if len(dirs) == 1:
        return dirs[0]
    if not dirs:
        raise QwaveInputError(f"no shipped pretrained model in {root}; pass a .keras file or a training run directory")
    names = ", ".join(d.name for d in dirs)
    raise QwaveInputError(f"several pretrained models in {root} ({names}); pass one or name it in {named}")


@dataclasses.dataclass
class ModelSource:
    """A loaded emulator and the constants that travel with it (from the run's config.json or an export's
    metadata.json): the grid, v_scale (hartree) and the evaluation figures."""

    model: Any
    keras_path: Path
    grid: Grid
    v_scale: float
    evaluation: dict | None
    evaluation_files: list[Path]
    train_config: dict | None


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QwaveInputError(f"cannot read {path}: {exc}") from None
    return data if isinstance(data, dict) else None


def load_keras_model(path: Path):
    """A qwave emulator from a ``.keras`` file (safe mode), with a one-line error for anything else."""
    from qwave.models import Emulator, load_model

    try:
        model = load_model(path)
    except Exception as exc:  # keras raises ValueError, BadZipFile, OSError, TypeError... for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise QwaveInputError(f"cannot load {path} as a Keras model: {type(exc).__name__}: {first[:200]}") from None
    if not isinstance(model, Emulator):
        raise QwaveInputError(f"{path} holds a {type(model).__name__}, not a qwave emulator (qwave.models)")
    return model


def load_source(source: str | os.PathLike | None = None, v_scale: float | None = None) -> ModelSource:
    """Resolve MODEL: a ``.keras`` file, a training run directory (``model.keras`` + ``config.json``), an
    export directory, or ``None`` for the shipped pretrained model.  ``v_scale`` is needed only when
    neither a config.json nor a metadata.json beside the model records it, and must agree when one does."""
    path = default_pretrained() if source is None else Path(source)
    if path.is_dir():
        keras_path, info_dir = path / "model.keras", path
        if not keras_path.is_file():
            raise QwaveInputError(f"{path} holds no model.keras: not a training run or export directory")
    elif path.is_file():
        if path.suffix != ".keras":
            raise QwaveInputError(f"{path}: expected a .keras file or a training run directory")
        keras_path, info_dir = path, path.parent
    else:
        raise QwaveInputError(f"model {path} does not exist")
    model = load_keras_model(keras_path)

    config = _read_json(info_dir / "config.json")
    config = config if config and isinstance(config.get("train"), dict) else None
    meta = _read_json(info_dir / "metadata.json")
    meta = meta if meta and meta.get("format") == FORMAT else None

    recorded, origin = None, None
    if config is not None and config.get("v_scale") is not None:
        recorded, origin = float(config["v_scale"]), info_dir / "config.json"
    elif meta is not None:
        recorded, origin = float(meta["v_scale"]), info_dir / "metadata.json"
    if recorded is not None and v_scale is not None and not np.isclose(recorded, v_scale):
        raise QwaveInputError(f"v_scale {v_scale} differs from the {recorded} recorded in {origin}")
    v_scale = recorded if recorded is not None else v_scale
    if v_scale is None:
        raise QwaveInputError(
            f"the potential scale of {keras_path} is unknown (no config.json or metadata.json beside it); pass v_scale"
        )
    if not np.isfinite(v_scale) or v_scale <= 0:
        raise QwaveInputError(f"v_scale must be a positive number (hartree), got {v_scale}")

    grid = Grid()
    if meta is not None:
        g = meta["grid"]
        grid = Grid(lx=g["lx"], nx=g["nx"], dt=g["dt"], steps_per_frame=g["steps_per_frame"])
    if config is not None and config.get("nx"):
        grid = dataclasses.replace(grid, nx=int(config["nx"]))
    if config is not None:
        train = config["train"]
        for key in ("n_in", "window"):
            if key in train and int(train[key]) != getattr(model, key):
                raise QwaveInputError(
                    f"{keras_path} has {key}={getattr(model, key)} but its config.json says {train[key]}"
                )
    evaluation, files = _find_evaluation(info_dir, meta)
    return ModelSource(model, keras_path, grid, float(v_scale), evaluation, files, config["train"] if config else None)


def _find_evaluation(info_dir: Path, meta: dict | None) -> tuple[dict | None, list[Path]]:
    """The evaluation table (qwave.evaluate.save_report's table.json) in the run dir or one level below."""
    for table in [info_dir / "table.json", *sorted(info_dir.glob("*/table.json"))]:
        data = _read_json(table)
        if data and isinstance(data.get("rows"), dict):
            files = [table.parent / name for name in EVALUATION_FILES if (table.parent / name).is_file()]
            return {"rows": data["rows"], "source": str(table.relative_to(info_dir))}, files
    if meta is not None and meta.get("evaluation"):
        return meta["evaluation"], []
    return None, []


# --- conversion -------------------------------------------------------------------------------------


def _quiet_tf2onnx() -> None:
    import tf2onnx

    tf2onnx.logging.set_level(logging.ERROR)


def function_to_onnx(function, input_name: str, output_name: str, opset: int = DEFAULT_OPSET):
    """Convert a one-input, one-output ``tf.function`` with an input signature to an ``onnx.ModelProto``:
    variables and captured constants frozen, IO renamed, the leading dimension named ``batch``."""
    import tensorflow as tf
    import tf2onnx

    _quiet_tf2onnx()
    concrete = function.get_concrete_function()
    n_args = len(tf.nest.flatten(concrete.structured_input_signature))
    inputs = [t.name for t in concrete.inputs[:n_args]]  # the rest are captures, frozen into constants
    outputs = [t.name for t in concrete.outputs]
    if len(inputs) != 1 or len(outputs) != 1:
        raise QwaveInputError(f"expected a one-input one-output function, got {len(inputs)} -> {len(outputs)}")
    with tf.device("/cpu:0"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NUMPY2_COPY_WARNING)
        graph_def = tf2onnx.tf_loader.from_function(concrete, inputs, outputs)
        proto, _ = tf2onnx.convert.from_graph_def(
            graph_def,
            name=output_name,
            input_names=inputs,
            output_names=outputs,
            opset=opset,
            tensors_to_rename={inputs[0]: input_name, outputs[0]: output_name},
        )
    for value in (*proto.graph.input, *proto.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = BATCH_DIM
    return proto


def _finish(proto, props: dict, doc: str):
    """Attach qwave's metadata to an ONNX model and run the full ONNX checker."""
    import onnx

    proto.doc_string = doc
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"qwave.{key}", json.dumps(value)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise QwaveInputError(f"the exported graph {proto.graph.name!r} fails onnx.checker: {exc}") from None
    return proto


def window_flops(proto) -> int:
    """Multiply-add FLOPs (2 per multiply-add) of one window through the MatMul/Gemm/Conv nodes of
    ``window.onnx``, from ONNX shape inference at batch 1."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_value = 1
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    for v in (*model.graph.value_info, *model.graph.input, *model.graph.output):
        shapes[v.name] = [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
    total = 0
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm", "Conv"):
            continue
        out, a, b = shapes.get(node.output[0]), shapes.get(node.input[0]), shapes.get(node.input[1])
        if not out or not a or not b or None in out or None in a or None in b:
            raise QwaveInputError(f"cannot infer the shapes of {node.op_type} node {node.name!r} to count FLOPs")
        if node.op_type == "Conv":
            total += 2 * int(np.prod(out)) * int(np.prod(b[1:]))
        else:
            transposed = any(at.name == "transA" and at.i for at in node.attribute)
            k = a[0] if transposed else a[-1]
            total += 2 * int(np.prod(out)) * int(k)
    return total


def _session(proto_or_path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    model = proto_or_path.SerializeToString() if hasattr(proto_or_path, "SerializeToString") else str(proto_or_path)
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def probe_frames(grid: Grid, n_in: int, batch: int = 2, seed: int = 0) -> np.ndarray:
    """Physically scaled probe input for a step (float32 [batch, n_in, NX, 3]): Gaussian packets moving
    right by about one cell per frame, V / v_scale a barrier of height 0.5 in the box centre."""
    rng = np.random.default_rng(seed)
    x = grid.x
    out = np.zeros((batch, n_in, grid.nx, 3), np.float32)
    for b in range(batch):
        x0, s0, k = rng.uniform(0.3, 0.45) * grid.lx, rng.uniform(1.0, 4.0), rng.uniform(1.0, 4.0)
        for t in range(n_in):
            xc = x0 + t * k * grid.frame_dt
            psi = np.exp(-((x - xc) ** 2) / (4 * s0**2) + 1j * k * (x - xc)) / (2 * np.pi * s0**2) ** 0.25
            out[b, t, :, 0], out[b, t, :, 1] = psi.real, psi.imag
        out[b, :, :, 2] = np.where(np.abs(x - grid.lx / 2) < 3.5, 0.5, 0.0)
    return out


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


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
    if not os.access(parent, os.W_OK):
        raise QwaveInputError(f"output directory {parent} is not writable")
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
    sigma: float = 2.8,
    stride: int = 1,
    renormalize: bool = True,
    opset: int = DEFAULT_OPSET,
    v_scale: float | None = None,
    overwrite: bool = False,
    saved_model: bool = True,
) -> Path:
    """Export MODEL (see :func:`load_source`) to ``out_dir``; returns its path.  ``sigma`` (cells) and
    ``stride`` (cells between window centres) fix step.onnx's blending; ``renormalize`` keeps each
    predicted frame's norm equal to the last input frame's."""
    out = Path(out_dir).resolve()
    _check_target(out, overwrite)
    if not 7 <= int(opset) <= 21:
        raise QwaveInputError(f"ONNX opset must be between 7 and 21, got {opset}")
    src = load_source(source, v_scale)
    from qwave.rollout import WholeBoxStep, blend_tables

    blend_tables(src.grid.nx, src.model.window, sigma, stride)  # validates sigma and stride up front
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NUMPY2_COPY_WARNING)
            meta = _write_artefacts(src, tmp, WholeBoxStep, sigma, stride, renormalize, int(opset), saved_model)
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


def _write_artefacts(src: ModelSource, tmp: Path, step_cls, sigma, stride, renormalize, opset, saved_model) -> dict:
    import keras
    import onnx
    import tensorflow as tf

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
    stepper = step_cls(model, nx, sigma=sigma, stride=stride, renormalize=renormalize, blend="conv")
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
        },
        "files": ["model.keras", *(["saved_model"] if saved_model else []), "window.onnx", "step.onnx", *files],
        "saved_model": {"signature": "serve", "input": WINDOW_INPUT} if saved_model else None,
        "flops": {
            "per_window": flops,
            "windows_per_step": nx // int(stride),
            "per_step": flops * (nx // int(stride)),
            "counted": "2 per multiply-add in MatMul/Gemm/Conv; gathers, activations and blending not counted",
        },
        "parity_max_abs_diff": parity,
        "versions": package_versions(),
        "evaluation": src.evaluation,
    }


def _io_entry(tmp: Path, name: str, in_name: str, in_shape: list, out_name: str, out_shape: list) -> dict:
    return {
        "file": name,
        "sha256": _sha256(tmp / name),
        "inputs": [{"name": in_name, "shape": [BATCH_DIM, *in_shape], "dtype": "float32"}],
        "outputs": [{"name": out_name, "shape": [BATCH_DIM, *out_shape], "dtype": "float32"}],
    }


# --- forecasting with an export (no TensorFlow) ------------------------------------------------------------


def export_dir(model: str | os.PathLike | None) -> Path:
    """An export directory: ``model`` itself, or the shipped pretrained model's when ``None``."""
    path = default_pretrained() if model is None else Path(model)
    if path.is_file() and path.name in ("metadata.json", "step.onnx"):
        path = path.parent
    if not (path / "metadata.json").is_file():
        raise QwaveInputError(f"{path} is not an export directory (no metadata.json); run `qwave export` first")
    return path


def predict(
    model: str | os.PathLike | None = None,
    potential: np.ndarray | None = None,
    x0=20.0,
    s0=2.0,
    e0=5.0,
    direction: int = 1,
    n_frames: int = 400,
    initial: str | os.PathLike | None = None,
    compare: bool = False,
    threads: int = 2,
) -> dict:
    """Forecast ``n_frames`` frames with an export's step.onnx in ONNX Runtime (no TensorFlow).

    The first ``n_in`` frames come from ``initial`` (a .npz with psi and potential, e.g. from ``qwave
    simulate``) or else from Gaussian packets (X0, S0 bohr, E0 hartree; broadcast) in ``potential``
    (hartree, (NX,)) evolved by the solver.  Returns a record in ``qwave simulate``'s layout: ``psi``
    complex64 (B, n_in + n_frames, NX) with the forecast from index ``forecast_start``, ``potential``,
    ``x``, ``t``, the grid, the packets, ``seconds`` (forecast wall time) and, with ``compare``, the
    solver's ``psi_true`` and the per-frame correlation ``corr`` (B, n_frames).
    """
    import time

    from qwave.export.forecaster import Forecaster, load_frames

    fc = Forecaster(export_dir(model), threads=threads)
    grid = fc.grid()
    n_in = fc.n_in
    truth = None
    if initial is not None:
        psi, v = load_frames(initial)
        if psi.shape[-1] != fc.nx:
            raise QwaveInputError(f"{initial} has {psi.shape[-1]} cells; the model's grid has NX={fc.nx}")
        if psi.shape[1] < n_in:
            raise QwaveInputError(f"{initial} has {psi.shape[1]} frames; the model needs {n_in} initial frames")
        v = _check_potential(grid, v)
        start = psi[:, :n_in]
        if compare and psi.shape[1] >= n_in + n_frames:
            truth = psi[:, : n_in + n_frames]
        x0 = s0 = e0 = np.full(psi.shape[0], np.nan)
    else:
        if potential is None:
            raise QwaveInputError("give a potential or initial frames")
        v = _check_potential(grid, potential)
        start = fc.packet_frames(x0, s0, e0, v, direction)
        x0, s0, e0 = (np.broadcast_to(np.atleast_1d(a), (start.shape[0],)).astype(float) for a in (x0, s0, e0))
    t0 = time.perf_counter()
    pred = fc.forecast(start, v, n_frames)
    seconds = time.perf_counter() - t0
    psi = np.concatenate([start.astype(np.complex64), pred], 1)
    record = {
        "psi": psi,
        "forecast_start": np.int64(n_in),
        "potential": v,
        "x": grid.x,
        "t": np.arange(psi.shape[1]) * grid.frame_dt,
        "lx": grid.lx,
        "nx": grid.nx,
        "dt": grid.dt,
        "steps_per_frame": grid.steps_per_frame,
        "x0": x0,
        "s0": s0,
        "e0": e0,
        "direction": np.full(psi.shape[0], direction),
        "model": np.array(str(fc.model_dir)),
        "seconds": seconds,
    }
    if compare:
        if truth is None:
            from qwave.solver import simulate

            truth = simulate(start[:, 0], v, grid, n_frames=n_in + n_frames)
        from qwave.metrics import correlation

        record["psi_true"] = truth.astype(np.complex64)
        record["corr"] = correlation(truth[:, n_in:], pred)
    return record


def _check_potential(grid: Grid, v) -> np.ndarray:
    from qwave.potentials import check_potential

    return check_potential(grid, v)


def save_prediction(path: str | os.PathLike, record: dict, potential_name: str, potential_params: dict) -> Path:
    """Write a prediction record atomically (one case is stored without its batch axis)."""
    from qwave.io import save_npz

    out = dict(record)
    if out["psi"].shape[0] == 1:
        for key in ("psi", "psi_true", "corr"):
            if key in out:
                out[key] = out[key][0]
    out["potential_name"] = np.array(potential_name)
    out["potential_params"] = np.array(json.dumps(potential_params, sort_keys=True))
    return save_npz(path, **out)


def plot_prediction(path: str | os.PathLike, record: dict, max_cases: int = 3) -> None:
    """Space-time pictures of Re psi: the forecast per case, or solver | emulator | difference with truth."""
    from qwave.plots import save_spacetime

    grid = Grid(
        lx=float(record["lx"]),
        nx=int(record["nx"]),
        dt=float(record["dt"]),
        steps_per_frame=int(record["steps_per_frame"]),
    )
    v, n_in = record["potential"], int(record["forecast_start"])
    panels = []
    for i in range(min(len(record["psi"]), max_cases)):
        pred = record["psi"][i]
        if "psi_true" in record:
            truth = record["psi_true"][i]
            corr = record["corr"][i]
            panels += [
                (truth, v, f"case {i + 1}: solver"),
                (pred, v, f"emulator (forecast from t={n_in * grid.frame_dt:g}), corr at end {corr[-1]:.4f}"),
                (pred - truth, v, f"emulator - solver, max |diff| {np.abs(pred - truth).max():.2g}"),
            ]
        else:
            panels.append((pred, v, f"case {i + 1}: emulator forecast from t={n_in * grid.frame_dt:g}"))
    save_spacetime(path, panels, grid)

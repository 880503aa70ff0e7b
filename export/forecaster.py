"""Forecast 1D quantum dynamics with an exported qwave emulator: numpy + onnxruntime, no TensorFlow.

An export directory (``qwave export``) holds ``step.onnx`` - one whole-box step, ``frames`` float32
[batch, n_in, NX, 3] (Re psi, Im psi, V / v_scale of the n_in most recent frames) -> ``next`` float32
[batch, NX, 2] - and ``metadata.json`` (grid, v_scale, window, blending, IO, checksums).  A forecast is a
loop of one ``step.onnx`` call per frame, starting from ``n_in`` true frames.

Where the first frames come from:

- from a file: :func:`load_frames` reads ``psi`` and ``potential`` from a ``.npz`` (``qwave simulate``
  writes them; any code can);
- from a packet: :meth:`Forecaster.packet_frames` evolves a Gaussian packet for the first ``n_in - 1``
  frame steps with qwave's solver.  That needs the ``qwave`` package's numpy-only physics modules
  (grid, packets, potentials, solver), never TensorFlow.

This file imports only numpy and onnxruntime (and qwave lazily, for the two conveniences above), so it
can be copied next to an export and used on its own.  Units: Hartree atomic units, potentials in
hartree (the forecaster divides by v_scale itself).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

FORMAT = "qwave-emulator-export"
FORMAT_VERSIONS = (1,)

try:  # inside qwave the errors are qwave's, so its command line prints them as one line
    from qwave.errors import QwaveInputError as _InputBase
except ImportError:  # standalone: a plain ValueError
    _InputBase = ValueError


class ForecastInputError(_InputBase):
    """A bad model file, metadata or input array; the message is one line naming the problem."""


class ForecastDivergedError(ForecastInputError):
    """The forecast produced NaN or inf (the model left the range it was trained on)."""


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_metadata(path: str | os.PathLike) -> dict:
    """Read and validate an export's ``metadata.json``."""
    path = Path(path)
    if not path.is_file():
        raise ForecastInputError(f"no metadata file {path}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ForecastInputError(f"{path} is not valid JSON: {_first_line(exc)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ForecastInputError(f"{path} is not a qwave export's metadata (format {FORMAT!r} expected)")
    if meta.get("format_version") not in FORMAT_VERSIONS:
        raise ForecastInputError(f"{path}: unsupported format_version {meta.get('format_version')!r}")
    try:
        grid = meta["grid"]
        checks = {
            "grid.nx": int(grid["nx"]) >= 4,
            "grid.lx": float(grid["lx"]) > 0,
            "grid.dt": float(grid["dt"]) > 0,
            "grid.steps_per_frame": int(grid["steps_per_frame"]) >= 1,
            "input_frames": int(meta["input_frames"]) >= 1,
            "window": int(meta["window"]) >= 1,
            "v_scale": np.isfinite(float(meta["v_scale"])) and float(meta["v_scale"]) > 0,
            "onnx.step": isinstance(meta["onnx"]["step"]["file"], str),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ForecastInputError(f"{path} is incomplete: missing or invalid {_first_line(exc)}") from None
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise ForecastInputError(f"{path} has invalid {', '.join(bad)}")
    return meta


def session_options(threads: int = 2) -> ort.SessionOptions:
    """ONNX Runtime options used for forecasting: ``threads`` intra-op threads, all graph optimisations."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # flush denormals to zero, as TensorFlow's CPU kernels do: packet tails reach float32's denormal range,
    # where arithmetic is very slow; values below 1.2e-38 do not matter to a forecast
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    return opts


class Forecaster:
    """An exported emulator ready to forecast.

    ``model_dir`` holds ``metadata.json`` and the ``step.onnx`` it names; ``threads`` is the number of CPU
    threads a forecast uses (see :meth:`forecast`).  Everything is checked on load: the metadata, that the
    ONNX file loads, that its inputs/outputs are what the metadata says, and that its SHA-256 is the one
    recorded.
    """

    def __init__(self, model_dir: str | os.PathLike, threads: int = 2, check_sha256: bool = True):
        if int(threads) != threads or threads < 1:
            raise ForecastInputError(f"threads must be a positive integer, got {threads}")
        self.threads = int(threads)
        self._single: ort.InferenceSession | None = None
        self.model_dir = Path(model_dir)
        if not self.model_dir.is_dir():
            raise ForecastInputError(f"model directory {self.model_dir} does not exist")
        self.metadata = meta = read_metadata(self.model_dir / "metadata.json")
        self.nx = int(meta["grid"]["nx"])
        self.n_in = int(meta["input_frames"])
        self.window = int(meta["window"])
        self.v_scale = float(meta["v_scale"])
        self.frame_dt = float(meta["grid"]["dt"]) * int(meta["grid"]["steps_per_frame"])
        step = meta["onnx"]["step"]
        self.step_path = self.model_dir / step["file"]
        if not self.step_path.is_file():
            raise ForecastInputError(f"{self.step_path} does not exist (named in metadata.json)")
        try:
            self.session = ort.InferenceSession(
                str(self.step_path), session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises InvalidProtobuf, Fail, InvalidGraph, ...
            raise ForecastInputError(
                f"{self.step_path} is not a loadable ONNX model (truncated or corrupt?): {_first_line(exc)}"
            ) from None
        self._check_signature()
        self._check_props()
        if check_sha256 and step.get("sha256") and _sha256(self.step_path) != step["sha256"]:
            raise ForecastInputError(
                f"{self.step_path} does not match metadata.json (SHA-256 differs): re-export or use its own metadata"
            )
        self.input_name, self.output_name = self.session.get_inputs()[0].name, self.session.get_outputs()[0].name

    def _check_signature(self) -> None:
        want_in = ("frames", [self.n_in, self.nx, 3])
        want_out = ("next", [self.nx, 2])
        step = self.metadata["onnx"]["step"]
        if step.get("inputs"):
            want_in = (step["inputs"][0]["name"], list(step["inputs"][0]["shape"][1:]))
        if step.get("outputs"):
            want_out = (step["outputs"][0]["name"], list(step["outputs"][0]["shape"][1:]))
        ins, outs = self.session.get_inputs(), self.session.get_outputs()
        got_in = [(i.name, i.shape, i.type) for i in ins]
        got_out = [(o.name, o.shape, o.type) for o in outs]
        if (
            len(ins) != 1
            or len(outs) != 1
            or ins[0].name != want_in[0]
            or outs[0].name != want_out[0]
            or ins[0].type != "tensor(float)"
            or outs[0].type != "tensor(float)"
            or list(ins[0].shape[1:]) != want_in[1]
            or list(outs[0].shape[1:]) != want_out[1]
        ):
            raise ForecastInputError(
                f"{self.step_path.name} does not match metadata.json: it maps {got_in} -> {got_out}, expected "
                f"{want_in[0]} float32 [batch, {', '.join(map(str, want_in[1]))}] -> "
                f"{want_out[0]} float32 [batch, {', '.join(map(str, want_out[1]))}]"
            )

    def _check_props(self) -> None:
        """The constants step.onnx was exported with (its metadata_props) against metadata.json."""
        props = self.session.get_modelmeta().custom_metadata_map
        wanted = {
            "n_in": self.n_in,
            "window": self.window,
            "v_scale": self.v_scale,
            "nx": self.nx,
            "sigma": self.metadata.get("blend", {}).get("sigma"),
            "stride": self.metadata.get("blend", {}).get("stride"),
        }
        for key, value in wanted.items():
            raw = props.get(f"qwave.{key}")
            if raw is None or value is None:
                continue
            if json.loads(raw) != value:
                raise ForecastInputError(
                    f"metadata.json does not match {self.step_path.name}: {key}={value} in metadata, "
                    f"{json.loads(raw)} in the model"
                )

    # --- inputs ---------------------------------------------------------------------------------------

    def _as_psi(self, initial) -> np.ndarray:
        """Initial frames as complex128 (B, n_in, NX) from complex (.., n_in, NX) or float (.., n_in, NX, 2)."""
        arr = np.asarray(initial)
        if arr.dtype.kind not in "fciu":
            raise ForecastInputError(f"initial frames must be numeric (complex or float), got dtype {arr.dtype}")
        if arr.dtype.kind != "c":
            if arr.ndim < 3 or arr.shape[-1] != 2:
                raise ForecastInputError(
                    f"real initial frames must be (batch, {self.n_in}, {self.nx}, 2) [Re, Im], got shape {arr.shape}"
                )
            arr = arr[..., 0].astype(np.float64) + 1j * arr[..., 1].astype(np.float64)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[1:] != (self.n_in, self.nx):
            raise ForecastInputError(
                f"initial frames must be (batch, {self.n_in}, {self.nx}) complex, got shape {arr.shape}"
            )
        if arr.shape[0] == 0:
            raise ForecastInputError("initial frames: empty batch")
        if not np.all(np.isfinite(arr)):
            raise ForecastInputError(f"initial frames have {np.count_nonzero(~np.isfinite(arr))} non-finite values")
        return arr.astype(np.complex128)

    def _as_potential(self, potential, batch: int) -> np.ndarray:
        """Potential (hartree) as float64 (B, NX) from (NX,) or (B, NX)."""
        v = np.asarray(potential)
        if v.dtype.kind not in "fiu":
            raise ForecastInputError(f"potential must be real numbers (hartree), got dtype {v.dtype}")
        if v.shape not in ((self.nx,), (batch, self.nx)):
            raise ForecastInputError(f"potential must be ({self.nx},) or ({batch}, {self.nx}), got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ForecastInputError(f"potential has {np.count_nonzero(~np.isfinite(v))} non-finite values")
        return np.broadcast_to(v.astype(np.float64), (batch, self.nx))

    def prepare(self, initial, potential) -> np.ndarray:
        """The model input for the first step: float32 (B, n_in, NX, 3) [Re psi, Im psi, V / v_scale]."""
        psi = self._as_psi(initial)
        v = self._as_potential(potential, psi.shape[0])
        frames = np.empty(psi.shape + (3,), np.float32)
        frames[..., 0], frames[..., 1] = psi.real, psi.imag
        frames[..., 2] = (v / self.v_scale)[:, None, :]
        return frames

    # --- forecasting ------------------------------------------------------------------------------------

    def step(self, frames: np.ndarray, session: ort.InferenceSession | None = None) -> np.ndarray:
        """One step.onnx call: float32 (B, n_in, NX, 3) -> float32 (B, NX, 2)."""
        frames = np.asarray(frames)
        if frames.dtype != np.float32:
            raise ForecastInputError(f"frames must be float32, got {frames.dtype}")
        if frames.ndim != 4 or frames.shape[1:] != (self.n_in, self.nx, 3):
            raise ForecastInputError(f"frames must be (batch, {self.n_in}, {self.nx}, 3), got {frames.shape}")
        sess = self.session if session is None else session
        return sess.run([self.output_name], {self.input_name: np.ascontiguousarray(frames)})[0]

    def _single_thread_session(self) -> ort.InferenceSession:
        """A second session with one intra-op thread, shared by the case-parallel workers."""
        if self._single is None:
            self._single = ort.InferenceSession(
                str(self.step_path), session_options(1), providers=["CPUExecutionProvider"]
            )
        return self._single

    def forecast(
        self,
        initial,
        potential,
        n_frames: int = 400,
        chunk: int | None = 1,
        parallel: str = "cases",
        callback: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Forecast ``n_frames`` frames after the ``n_in`` ``initial`` ones (complex (B, n_in, NX) or float
        (B, n_in, NX, 2); one case may drop B) in ``potential`` (hartree, (NX,) or (B, NX)).

        Cases run ``chunk`` at a time (None: all in each call): one case per call keeps a step's
        intermediate arrays in the CPU caches.  With ``parallel="cases"`` and more than one chunk, ``threads``
        workers each roll out whole chunks through a one-thread session (no synchronisation inside a step);
        with ``parallel="ops"``, or a single chunk, chunks run one after another and ONNX Runtime spreads
        each operator over ``threads`` threads.  ``callback(k)`` is called after frame k of every chunk
        (from the worker threads).  Returns complex64 (B, n_frames, NX): frame k is time (n_in + k) *
        frame_dt after the first initial frame.  Raises :class:`ForecastDivergedError` if a frame becomes
        non-finite.
        """
        if int(n_frames) != n_frames or n_frames < 1:
            raise ForecastInputError(f"number of frames must be a positive integer, got {n_frames}")
        if chunk is not None and (int(chunk) != chunk or chunk < 1):
            raise ForecastInputError(f"chunk must be a positive integer or None, got {chunk}")
        if parallel not in ("cases", "ops"):
            raise ForecastInputError(f"parallel must be 'cases' or 'ops', got {parallel!r}")
        frames = self.prepare(initial, potential)
        out = np.empty((frames.shape[0], int(n_frames), self.nx), np.complex64)
        size = frames.shape[0] if chunk is None else int(chunk)
        starts = range(0, frames.shape[0], size)
        if parallel == "cases" and self.threads > 1 and len(starts) > 1:
            from concurrent.futures import ThreadPoolExecutor

            sess = self._single_thread_session()
            with ThreadPoolExecutor(min(self.threads, len(starts))) as pool:
                jobs = [
                    pool.submit(self._roll, frames[a : a + size], out[a : a + size], callback, sess) for a in starts
                ]
                for job in jobs:
                    job.result()
        else:
            for a in starts:
                self._roll(frames[a : a + size], out[a : a + size], callback, self.session)
        return out

    def _roll(self, frames: np.ndarray, out: np.ndarray, callback, session: ort.InferenceSession) -> None:
        """The recursive loop for one chunk, writing into ``out`` (b, n_frames, NX)."""
        v = frames[:, -1:, :, 2:]
        n_frames = out.shape[1]
        for k in range(n_frames):
            nxt = self.step(frames, session)
            if not np.all(np.isfinite(nxt)):
                raise ForecastDivergedError(f"the forecast became non-finite at frame {k + 1} of {n_frames}")
            out[:, k].real, out[:, k].imag = nxt[..., 0], nxt[..., 1]
            frames = np.concatenate([frames[:, 1:], np.concatenate([nxt[:, None], v], -1)], 1)
            if callback is not None:
                callback(k + 1)

    # --- building the first frames ------------------------------------------------------------------------

    def grid(self):
        """The export's :class:`qwave.physics.grid.Grid` (needs qwave's numpy-only physics)."""
        Grid = _qwave("grid").Grid
        g = self.metadata["grid"]
        return Grid(lx=float(g["lx"]), nx=int(g["nx"]), dt=float(g["dt"]), steps_per_frame=int(g["steps_per_frame"]))

    def packet_frames(self, x0, s0, e0, potential, direction: int = 1) -> np.ndarray:
        """The first ``n_in`` true frames, complex128 (B, n_in, NX), of Gaussian packets (X0, S0 in bohr,
        E0 in hartree; broadcast) in ``potential`` (hartree, (NX,)), from qwave's solver."""
        grid = self.grid()
        v = _qwave("potentials").check_potential(grid, potential)
        psi0 = _qwave("packets").gaussian_packets(grid, x0, s0, e0, direction)
        return _qwave("solver").simulate(psi0, v, grid, n_frames=self.n_in)


def _qwave(module: str):
    """A numpy-only qwave physics module (grid, packets, potentials, solver), with a clear error without it."""
    import importlib

    try:
        return importlib.import_module(f"qwave.physics.{module}")
    except ImportError as exc:
        raise ForecastInputError(
            "building frames from a packet needs the qwave package's physics "
            f"(qwave.physics.{module}: {_first_line(exc)}); "
            "give initial frames instead, e.g. from a .npz with load_frames()"
        ) from None


def load_frames(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``psi`` complex (B, F, NX) and ``potential`` float64 (NX,) from a ``.npz`` (``qwave simulate``'s
    layout: psi complex (F, NX) or (B, F, NX), or float (..., 2) [Re, Im]; potential in hartree)."""
    path = Path(path)
    if not path.is_file():
        raise ForecastInputError(f"no such frames file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "psi" not in data.files or "potential" not in data.files:
                raise ForecastInputError(f"{path} needs arrays 'psi' and 'potential'; it has {sorted(data.files)}")
            psi, v = data["psi"], data["potential"]
    except ForecastInputError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, OSError, ValueError for pickled/invalid content
        raise ForecastInputError(f"cannot read {path} as a .npz: {_first_line(exc)}") from None
    if psi.dtype.kind not in "fc" or v.dtype.kind not in "fiu":
        raise ForecastInputError(f"{path}: psi must be complex or float and potential real, got {psi.dtype}, {v.dtype}")
    if psi.dtype.kind == "f":
        if psi.shape[-1] != 2:
            raise ForecastInputError(f"{path}: real psi must end in a [Re, Im] axis of 2, got shape {psi.shape}")
        psi = psi[..., 0] + 1j * psi[..., 1]
    if psi.ndim == 2:
        psi = psi[None]
    if psi.ndim != 3:
        raise ForecastInputError(f"{path}: psi must be (frames, NX) or (batch, frames, NX), got shape {psi.shape}")
    return psi.astype(np.complex128), np.asarray(v, np.float64)

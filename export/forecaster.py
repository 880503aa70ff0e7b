"""Forecast 1D quantum dynamics with an exported qwave emulator: numpy + onnxruntime, no TensorFlow.

An export directory (``qwave export``) holds ``metadata.json`` (grid, v_scale, window, blending, IO,
checksums), ``rollout.onnx`` - the whole forecast in one call: ``frames`` float32 [batch, n_in, NX, 3] (Re
psi, Im psi, V / v_scale of the n_in most recent frames) and ``n_frames`` int64 -> ``forecast`` float32
[batch, n_frames, NX, 2] - and ``step.onnx`` - one step: ``frames`` -> ``next`` float32 [batch, NX, 2].
:class:`Forecaster` uses rollout.onnx when it is there, else one step.onnx call per frame.  The first
``n_in`` true frames come from a ``.npz`` (:func:`load_frames`; ``qwave simulate`` writes them) or from a
Gaussian packet (:meth:`Forecaster.packet_frames`, which needs qwave's numpy-only physics modules).

This file imports only numpy and onnxruntime (qwave lazily, for packets), so it can be copied next to an
export and used on its own.  Units: Hartree atomic units, potentials in hartree (divided by v_scale here).
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
MAX_FORECAST_BYTES = 4 << 30  # largest forecast (batch x n_frames x NX complex64) one forecast() returns
_F, _I = "tensor(float)", "tensor(int64)"
_IO = {  # the contract: (name, shape, type) of the inputs and outputs; None: any size
    "step": ([("frames", [None, "n_in", "nx", 3], _F)], [("next", [None, "nx", 2], _F)]),
    "rollout": (
        [("frames", [None, "n_in", "nx", 3], _F), ("n_frames", [], _I)],
        [("forecast", [None] * 2 + ["nx", 2], _F)],
    ),
}

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
            "onnx": any(isinstance((meta["onnx"].get(k) or {}).get("file"), str) for k in ("step", "rollout")),
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

    ``model_dir`` holds ``metadata.json`` and the ONNX files it names: ``rollout.onnx`` (the whole forecast
    in one call; used when present and ``use_rollout``) and/or ``step.onnx`` (one call per frame; the
    fallback, and :meth:`step`).  ``threads`` is the number of CPU threads a forecast uses (see
    :meth:`forecast`); ``stride``, if given, must be the one the export was made with (it is baked in).
    Everything is checked on load: the metadata, that the ONNX file loads, that its inputs/outputs and
    constants are what the metadata says, and that its SHA-256 is the one recorded.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        threads: int = 2,
        check_sha256: bool = True,
        use_rollout: bool = True,
        stride: int | None = None,
    ):
        if int(threads) != threads or threads < 1:
            raise ForecastInputError(f"threads must be a positive integer, got {threads}")
        self.threads, self.check_sha256 = int(threads), bool(check_sha256)
        self._sessions: dict[tuple[str, int], ort.InferenceSession] = {}
        self.model_dir = Path(model_dir)
        if not self.model_dir.is_dir():
            raise ForecastInputError(f"model directory {self.model_dir} does not exist")
        self.metadata = meta = read_metadata(self.model_dir / "metadata.json")
        self.nx, self.n_in, self.window = int(meta["grid"]["nx"]), int(meta["input_frames"]), int(meta["window"])
        self.v_scale, self.stride = float(meta["v_scale"]), int(meta.get("blend", {}).get("stride", 1))
        self.frame_dt = float(meta["grid"]["dt"]) * int(meta["grid"]["steps_per_frame"])
        if stride is not None and int(stride) != self.stride:
            raise ForecastInputError(
                f"{self.model_dir} was exported with stride {self.stride}, not {stride}; the stride is baked into "
                f"the ONNX files: export another with `qwave export --stride {stride}`"
            )
        entries = {k: meta["onnx"].get(k) for k in ("step", "rollout")}
        self.paths = {k: self.model_dir / e["file"] for k, e in entries.items() if e and isinstance(e.get("file"), str)}
        present = {k for k, p in self.paths.items() if p.is_file()}
        self.engine = "rollout" if use_rollout and "rollout" in present else "step"
        if self.engine not in present:
            names = " or ".join(self.paths[k].name for k in self.paths if k == "step" or use_rollout)
            raise ForecastInputError(f"{self.model_dir} has no {names} (named in metadata.json)")
        self.step_path = self.paths.get("step", self.model_dir / "step.onnx")
        self.rollout_path = self.paths.get("rollout") if self.engine == "rollout" else None
        self.session = self._session(self.engine, threads)

    def _session(self, kind: str, threads: int) -> ort.InferenceSession:
        """The checked session of ``kind`` ("step" or "rollout") with ``threads`` intra-op threads (cached)."""
        if (kind, threads) in self._sessions:
            return self._sessions[(kind, threads)]
        path = self.paths.get(kind)
        if path is None or not path.is_file():
            raise ForecastInputError(f"{self.model_dir} has no {kind}.onnx (named in metadata.json)")
        try:
            sess = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises InvalidProtobuf, Fail, InvalidGraph, ...
            raise ForecastInputError(
                f"{path} is not a loadable ONNX model (truncated or corrupt?): {_first_line(exc)}"
            ) from None
        if not any(k == kind for k, _ in self._sessions):  # the first session of this file: check it
            self._check_signature(kind, path, sess)
            self._check_props(path, sess)
            want = self.metadata["onnx"][kind].get("sha256")
            if self.check_sha256 and want and _sha256(path) != want:
                raise ForecastInputError(
                    f"{path} does not match metadata.json (SHA-256 differs): re-export or use its own metadata"
                )
        self._sessions[(kind, threads)] = sess
        return sess

    def _check_signature(self, kind: str, path: Path, sess: ort.InferenceSession) -> None:
        """The ONNX file's inputs and outputs (names, dtypes, fixed dimensions) against the contract."""
        sizes = {"n_in": self.n_in, "nx": self.nx}
        want = [[(n, [sizes.get(d, d) for d in sh], t) for n, sh, t in rows] for rows in _IO[kind]]
        got = [
            [(v.name, [d if isinstance(d, int) else None for d in v.shape], v.type) for v in values]
            for values in (sess.get_inputs(), sess.get_outputs())
        ]
        if got != want:
            raise ForecastInputError(
                f"{path.name} does not match metadata.json: it maps {got[0]} -> {got[1]}, expected {want[0]} -> "
                f"{want[1]} (None: any size)"
            )

    def _check_props(self, path: Path, sess: ort.InferenceSession) -> None:
        """The constants the ONNX file was exported with (its metadata_props) against metadata.json."""
        props, blend = sess.get_modelmeta().custom_metadata_map, self.metadata.get("blend", {})
        wanted = dict(n_in=self.n_in, window=self.window, v_scale=self.v_scale, nx=self.nx)
        for key, value in {**wanted, "sigma": blend.get("sigma"), "stride": blend.get("stride")}.items():
            raw = props.get(f"qwave.{key}")
            if raw is None or value is None:
                continue
            if json.loads(raw) != value:
                got = json.loads(raw)
                raise ForecastInputError(
                    f"metadata.json does not match {path.name}: {key}={value} in metadata, {got} in the model"
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

    def _check_frames(self, frames) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.dtype != np.float32:
            raise ForecastInputError(f"frames must be float32, got {frames.dtype}")
        if frames.ndim != 4 or frames.shape[1:] != (self.n_in, self.nx, 3):
            raise ForecastInputError(f"frames must be (batch, {self.n_in}, {self.nx}, 3), got {frames.shape}")
        return np.ascontiguousarray(frames)

    def max_frames(self, batch: int = 1) -> int:
        """The most frames one :meth:`forecast` of ``batch`` cases returns (``MAX_FORECAST_BYTES`` of complex64)."""
        return MAX_FORECAST_BYTES // (8 * self.nx * max(int(batch), 1))

    def check_n_frames(self, n_frames, batch: int = 1) -> int:
        """``n_frames`` as an int, or a clear error: not a positive integer, or more than :meth:`max_frames`."""
        if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
            raise ForecastInputError(f"number of frames must be a positive integer, got {n_frames!r}")
        if n_frames > self.max_frames(batch):
            raise ForecastInputError(
                f"n_frames={n_frames} is too many: {batch} case(s) x {n_frames} frames x {self.nx} cells of complex64 "
                f"would take {8 * batch * n_frames * self.nx / 2**30:.1f} GiB, over the {MAX_FORECAST_BYTES / 2**30:g} "
                f"GiB limit (at most {self.max_frames(batch)} frames here); forecast in pieces, each starting from "
                f"the last {self.n_in} frames of the one before"
            )
        return int(n_frames)

    def step(self, frames: np.ndarray, session: ort.InferenceSession | None = None) -> np.ndarray:
        """One step.onnx call: float32 (B, n_in, NX, 3) -> float32 (B, NX, 2)."""
        frames = self._check_frames(frames)
        sess = self._session("step", self.threads) if session is None else session
        return sess.run(None, {sess.get_inputs()[0].name: frames})[0]

    def rollout(self, frames: np.ndarray, n_frames: int, session: ort.InferenceSession | None = None) -> np.ndarray:
        """One rollout.onnx call: float32 (B, n_in, NX, 3), n_frames -> float32 (B, n_frames, NX, 2)."""
        frames = self._check_frames(frames)
        n_frames = self.check_n_frames(n_frames, frames.shape[0])
        sess = self._session("rollout", self.threads) if session is None else session
        names = [i.name for i in sess.get_inputs()]
        return sess.run(None, {names[0]: frames, names[1]: np.array(n_frames, np.int64)})[0]

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

        Cases run ``chunk`` at a time (None: all in each call; one case per call keeps the arrays in the
        CPU caches).  ``parallel="cases"``: ``threads`` workers forecast chunks through one-thread sessions
        (rollout.onnx always runs on one thread: faster than two that synchronise every frame);
        ``parallel="ops"``: chunks in turn, each operator on ``threads`` threads.  ``callback(k)`` is called
        after frame k of each chunk (rollout.onnx: once, k = n_frames).  Returns complex64 (B, n_frames, NX),
        frame k at time (n_in + k) * frame_dt after the first initial frame.  ``n_frames`` <= :meth:`max_frames`;
        raises :class:`ForecastDivergedError` if a frame becomes non-finite.
        """
        if chunk is not None and (int(chunk) != chunk or chunk < 1):
            raise ForecastInputError(f"chunk must be a positive integer or None, got {chunk}")
        if parallel not in ("cases", "ops"):
            raise ForecastInputError(f"parallel must be 'cases' or 'ops', got {parallel!r}")
        frames = self.prepare(initial, potential)
        n_frames = self.check_n_frames(n_frames, frames.shape[0])
        out = np.empty((frames.shape[0], n_frames, self.nx), np.complex64)
        size = frames.shape[0] if chunk is None else int(chunk)
        starts = range(0, frames.shape[0], size)
        roll = self._roll_once if self.engine == "rollout" else self._roll
        workers = min(self.threads, len(starts))
        if parallel == "cases" and (workers > 1 or self.engine == "rollout"):
            from concurrent.futures import ThreadPoolExecutor

            sess = self._session(self.engine, 1)
            with ThreadPoolExecutor(workers) as pool:
                jobs = [pool.submit(roll, frames[a : a + size], out[a : a + size], callback, sess) for a in starts]
                for job in jobs:
                    job.result()
        else:
            for a in starts:
                roll(frames[a : a + size], out[a : a + size], callback, self._session(self.engine, self.threads))
        return out

    def _roll_once(self, frames: np.ndarray, out: np.ndarray, callback, session: ort.InferenceSession) -> None:
        """One rollout.onnx call for one chunk, written into ``out`` (b, n_frames, NX)."""
        res = self.rollout(frames, out.shape[1], session)
        finite = np.isfinite(res).all((0, 2, 3))
        if not finite.all():
            k = int(np.argmin(finite))
            raise ForecastDivergedError(f"the forecast became non-finite at frame {k + 1} of {out.shape[1]}")
        out[...] = np.ascontiguousarray(res).view(np.complex64)[..., 0]
        if callback is not None:
            callback(out.shape[1])

    def _roll(self, frames: np.ndarray, out: np.ndarray, callback, session: ort.InferenceSession) -> None:
        """The recursive loop of step.onnx calls for one chunk, writing into ``out`` (b, n_frames, NX)."""
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

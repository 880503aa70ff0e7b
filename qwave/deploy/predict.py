"""Forecasting with an export through :mod:`qwave.export.forecaster` (numpy + onnxruntime only, no TensorFlow),
and saving or picturing the forecast."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from qwave.emulator.artefacts import default_pretrained
from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid


def export_dir(model: str | os.PathLike | None) -> Path:
    """An export directory: ``model`` itself, or the shipped pretrained model's when ``None``."""
    path = default_pretrained() if model is None else Path(model)
    if path.is_file() and path.name in ("metadata.json", "step.onnx", "rollout.onnx"):
        path = path.parent
    if not (path / "metadata.json").is_file():
        raise QwaveInputError(f"{path} is not an export directory (no metadata.json); run `qwave export` first")
    return path


def packet_lists(x0, s0, e0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X0, S0, E0 as 1-D float arrays of one common length (a single value is repeated); a clear error for an
    empty list or lists of different lengths."""
    arrays = [np.atleast_1d(np.asarray(a, float)).ravel() for a in (x0, s0, e0)]
    sizes = [a.size for a in arrays]
    if min(sizes) == 0:
        raise QwaveInputError(f"empty packet list: X0, S0, E0 have {sizes[0]}, {sizes[1]}, {sizes[2]} values")
    n = max(sizes)
    if any(k not in (1, n) for k in sizes):
        raise QwaveInputError(
            f"packet lists X0, S0, E0 have {sizes[0]}, {sizes[1]}, {sizes[2]} values: give each one value or {n}"
        )
    return tuple(np.broadcast_to(a, (n,)).copy() for a in arrays)


def predict(
    model=None,
    potential: np.ndarray | None = None,
    x0=20.0,
    s0=2.0,
    e0=5.0,
    direction: int = 1,
    n_frames: int = 400,
    initial: str | os.PathLike | None = None,
    compare: bool = False,
    threads: int = 2,
    stride: int | None = None,
    use_rollout: bool = True,
) -> dict:
    """Forecast ``n_frames`` frames with an export in ONNX Runtime (no TensorFlow): rollout.onnx (one call
    per forecast) when the export has it and ``use_rollout``, else step.onnx (one call per frame).
    ``model``: an export directory, a :class:`~qwave.export.forecaster.Forecaster`, or None (the shipped
    model); ``stride``, if given, must be the export's.

    The first ``n_in`` frames come from ``initial`` (a .npz with psi and potential, e.g. from ``qwave
    simulate``) or else from Gaussian packets (X0, S0 bohr, E0 hartree; broadcast) in ``potential``
    (hartree, (NX,)) evolved by the solver.  Returns a record in ``qwave simulate``'s layout: ``psi``
    complex64 (B, n_in + n_frames, NX) with the forecast from index ``forecast_start``, ``potential``,
    ``x``, ``t``, the grid, the packets, ``engine`` ("rollout" or "step"), ``seconds`` (forecast wall
    time) and, with ``compare``, the solver's ``psi_true`` and the per-frame correlation ``corr`` (B, n_frames).
    """
    import time

    from qwave.export.forecaster import Forecaster, load_frames

    if isinstance(model, Forecaster):
        fc = model
        if stride is not None and int(stride) != fc.stride:
            raise QwaveInputError(f"{fc.model_dir} was exported with stride {fc.stride}, not {stride}")
    else:
        fc = Forecaster(export_dir(model), threads=threads, use_rollout=use_rollout, stride=stride)
    grid = fc.grid()
    n_in = fc.n_in
    truth = None
    if initial is None:
        x0, s0, e0 = packet_lists(x0, s0, e0)
    fc.check_n_frames(n_frames, len(x0) if initial is None else 1)  # before any solver work
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
    fc.check_n_frames(n_frames, start.shape[0])
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
        "engine": np.array(fc.engine),
        "seconds": seconds,
    }
    if compare:
        if truth is None:
            from qwave.physics.solver import simulate

            truth = simulate(start[:, 0], v, grid, n_frames=n_in + n_frames)
        from qwave.emulator.metrics import correlation

        record["psi_true"] = truth.astype(np.complex64)
        record["corr"] = correlation(truth[:, n_in:], pred)
    return record


def _check_potential(grid: Grid, v) -> np.ndarray:
    from qwave.physics.potentials import check_potential

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

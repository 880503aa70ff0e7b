"""Forecasting with an export through :mod:`qwave.export.forecaster` (numpy + onnxruntime only, no TensorFlow),
and saving or picturing the forecast."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from qwave.deploy.sources import default_pretrained
from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid


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

"""Forecast quality per frame (numpy): the paper's correlation, MAE, norm drift, transmission error.

Arrays are psi as complex (..., NX) or as float (..., NX, 2) [Re, Im]; reductions run over the last
(cell) axis, so (cases, frames, NX) gives (cases, frames).
"""

from __future__ import annotations

import numpy as np

from qwave.physics.grid import Grid
from qwave.physics.observables import transmission_reflection


def as_complex(psi: np.ndarray) -> np.ndarray:
    """Complex view of a (..., NX, 2) float array; complex input is returned unchanged."""
    psi = np.asarray(psi)
    if np.iscomplexobj(psi):
        return psi
    return psi[..., 0].astype(np.float64) + 1j * psi[..., 1].astype(np.float64)


def correlation(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """|sum psi conj(psi_hat)| / (||psi|| ||psi_hat||): 1 for identical up to a global phase and scale."""
    a, b = as_complex(truth), as_complex(pred)
    num = np.abs(np.sum(a * np.conj(b), -1))
    den = np.sqrt(np.sum(np.abs(a) ** 2, -1) * np.sum(np.abs(b) ** 2, -1))
    return num / np.maximum(den, 1e-300)


def mae(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean absolute error over cells and the Re, Im parts (bohr^-1/2)."""
    a, b = as_complex(truth), as_complex(pred)
    return 0.5 * (np.abs(a.real - b.real) + np.abs(a.imag - b.imag)).mean(-1)


def norm_drift(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """sum |psi_hat|^2 / sum |psi|^2 - 1 (0 when the forecast keeps the true norm)."""
    a, b = as_complex(truth), as_complex(pred)
    return np.sum(np.abs(b) ** 2, -1) / np.maximum(np.sum(np.abs(a) ** 2, -1), 1e-300) - 1.0


def transmitted_error(truth: np.ndarray, pred: np.ndarray, potential: np.ndarray, grid: Grid) -> np.ndarray:
    """|T_hat - T|: error in the probability right of the potential's non-zero region (one potential)."""
    t_true, _ = transmission_reflection(as_complex(truth), potential, grid)
    t_pred, _ = transmission_reflection(as_complex(pred), potential, grid)
    return np.abs(t_pred - t_true)


def first_below(corr: np.ndarray, threshold: float) -> np.ndarray:
    """Per case (rows of ``corr``, (cases, frames)): the first forecast frame (1-based) whose correlation is
    below ``threshold``, or 0 when none is: how long the forecast stays valid at that threshold."""
    below = np.asarray(corr) < threshold
    return np.where(below.any(-1), below.argmax(-1) + 1, 0)


VALID_AT = (0.99, 0.9)  # correlation thresholds of the valid-time figures


def valid_time(corr: np.ndarray) -> dict[str, int | None]:
    """{"first<0.99": frame, "first<0.9": frame}: the earliest forecast frame (1-based) at which any case
    (row of ``corr``, (cases, frames) or (frames,)) drops below the threshold; None when none does."""
    out = {}
    for threshold in VALID_AT:
        first = first_below(np.atleast_2d(corr), threshold)
        out[f"first<{threshold}"] = int(first[first > 0].min()) if first.any() else None
    return out


def frame_metrics(truth: np.ndarray, pred: np.ndarray, potential: np.ndarray, grid: Grid) -> dict[str, np.ndarray]:
    """All per-frame metrics of one case: truth and pred (frames, NX[, 2]); each result (frames,)."""
    return {
        "corr": correlation(truth, pred),
        "mae": mae(truth, pred),
        "norm_drift": norm_drift(truth, pred),
        "transmitted_error": transmitted_error(truth, pred, potential, grid),
    }

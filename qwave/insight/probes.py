"""Held-out space-time windows to probe a window model with.

A probe window is ``n_in + 1`` consecutive true frames of ``window`` cells (Re, Im) and the
scaled potential under them, centred where the packet is (cells drawn with probability
proportional to |psi|^2 at the first frame), so that no probe is an empty, trivially
symmetric window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from qwave.errors import QwaveInputError


@dataclasses.dataclass(frozen=True)
class ProbeWindows:
    """psi float32 (N, n_in + 1, W, 2) true frames; v float32 (N, W) potential / v_scale."""

    psi: np.ndarray
    v: np.ndarray

    @property
    def n_in(self) -> int:
        return self.psi.shape[1] - 1

    def inputs(self, psi: np.ndarray | None = None, v: np.ndarray | None = None) -> np.ndarray:
        """Model input (N, n_in, W, 3) from the first n_in frames of ``psi`` (default: the true ones)."""
        psi = self.psi[:, : self.n_in] if psi is None else psi
        v = self.v if v is None else v
        vv = np.broadcast_to(v[:, None, :, None], psi.shape[:-1] + (1,))
        return np.concatenate([psi, vv], -1).astype(np.float32)


def sample_windows(
    cases: Sequence[dict], v_scale: float, n_in: int = 4, window: int = 23, n: int = 512, seed: int = 0
) -> ProbeWindows:
    """``n`` windows from dataset-schema cases (``psi`` (T, NX, 2), ``potential`` (NX,))."""
    if n < 1:
        raise QwaveInputError(f"the probe needs >= 1 window, got {n}")
    if not cases:
        raise QwaveInputError("no cases to cut probe windows from")
    short = min(np.asarray(c["psi"]).shape[0] for c in cases)
    if short < n_in + 1:
        raise QwaveInputError(f"cases have {short} frames; probe windows of {n_in} input frames need {n_in + 1}")
    rng = np.random.default_rng(seed)
    half = window // 2
    psi_out, v_out = [], []
    for i in range(n):
        case = cases[i % len(cases)]
        psi = np.asarray(case["psi"], np.float32)
        t0 = int(rng.integers(0, psi.shape[0] - n_in))
        rho = (psi[t0] ** 2).sum(-1).astype(np.float64)
        centre = int(rng.choice(psi.shape[1], p=rho / rho.sum()))
        cells = (centre + np.arange(-half, half + 1)) % psi.shape[1]
        psi_out.append(psi[t0 : t0 + n_in + 1][:, cells])
        v_out.append(np.asarray(case["potential"], np.float32)[cells] / v_scale)
    return ProbeWindows(np.stack(psi_out), np.stack(v_out))


def initial_frames(cases: Sequence[dict], v_scale: float, n_in: int = 4) -> np.ndarray:
    """Whole-box model input (B, n_in, NX, 3) from the first ``n_in`` true frames of each case."""
    psi = np.stack([np.asarray(c["psi"], np.float32)[:n_in] for c in cases])
    v = np.stack([np.asarray(c["potential"], np.float32) / v_scale for c in cases])
    return np.concatenate([psi, np.broadcast_to(v[:, None, :, None], psi.shape[:-1] + (1,))], -1)

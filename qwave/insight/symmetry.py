"""How far a window model is equivariant under symmetries the TDSE has but the network is not built with.

For a model f (input frames -> next frame) and a transformation g, the equivariance error is
||f(g x) - g f(x)|| / ||f(x)||, RMS over probe windows (0 for an exactly equivariant model):

- ``mirror``: x -> -x across the window centre, potential mirrored (parity);
- ``phase``: psi -> e^{i phi} psi with a random phi per window (global U(1));
- ``time_reversal``: frames psi_1..psi_{n_in} after conjugating and reversing them predict conj psi_0;
  compared against the truth rather than f(x), and reported beside the model's own forward error,
  since a perfect emulator scores its forward error here, not 0;
- ``translation``: the whole-box rollout of a case shifted by ``shift`` cells, potential included,
  against the shifted rollout (0 for stride 1 by construction; broken by strides that do not divide
  the shift).
"""

from __future__ import annotations

import numpy as np

from qwave.emulator.options import RolloutOptions
from qwave.insight.probes import ProbeWindows

SYMMETRIES = ("mirror", "phase", "time_reversal", "translation")


def _predict(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(x.astype(np.float32), training=False), np.float64)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.sum((a - b) ** 2) / max(np.sum(b**2), 1e-300)))


def _rotate(psi: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """psi (N, ..., 2) times e^{i phi} with phi (N,)."""
    shape = (-1,) + (1,) * (psi.ndim - 2)
    c, s = np.cos(phi).reshape(shape), np.sin(phi).reshape(shape)
    re, im = psi[..., 0], psi[..., 1]
    return np.stack([c * re - s * im, s * re + c * im], -1)


def window_errors(model, probes: ProbeWindows, seed: int = 0) -> dict[str, float]:
    """Equivariance errors for mirror, phase and time reversal, and the forward error, on probe windows."""
    n_in = probes.n_in
    base = _predict(model, probes.inputs())
    truth_next = probes.psi[:, n_in]
    mirrored = _predict(model, probes.inputs(probes.psi[:, :n_in, ::-1], probes.v[:, ::-1]))
    phi = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(base))
    rotated = _predict(model, probes.inputs(_rotate(probes.psi[:, :n_in], phi)))
    conj = probes.psi * np.array([1.0, -1.0], np.float32)
    reversed_in = conj[:, n_in:0:-1]  # conj psi_{n_in}, ..., conj psi_1
    backward = _predict(model, probes.inputs(reversed_in))
    return {
        "mirror": _rel(mirrored, base[:, ::-1]),
        "phase": _rel(rotated, _rotate(base, phi)),
        "time_reversal": _rel(backward, conj[:, 0]),
        "forward": _rel(base, truth_next),
    }


def translation_error(stepper, frames: np.ndarray, shift: int = 37) -> float:
    """One whole-box step of ``frames`` (B, n_in, NX, 3) shifted by ``shift`` cells vs. the shifted step."""
    frames = np.asarray(frames, np.float32)
    out = np.asarray(stepper.step(frames))
    out_shifted = np.asarray(stepper.step(np.roll(frames, shift, axis=2)))
    return _rel(out_shifted, np.roll(out, shift, axis=1))


def symmetry_errors(model, probes: ProbeWindows, frames: np.ndarray, stride: int = 1, seed: int = 0) -> dict:
    """All four probes: window-level ones on ``probes``, translation on whole-box ``frames``."""
    from qwave.emulator.rollout import WholeBoxStep

    errors = window_errors(model, probes, seed)
    stepper = WholeBoxStep(model, frames.shape[2], RolloutOptions(stride=stride, renormalize=False))
    errors["translation"] = translation_error(stepper, frames)
    return errors

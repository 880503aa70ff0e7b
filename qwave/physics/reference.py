"""A plain, step-by-step implementation of the paper's space-splitting scheme.

It is deliberately straightforward (one numpy pass per sub-step, one step at a time) and is
the independent truth that :mod:`qwave.physics.solver`'s fast propagator is tested and benchmarked
against.  Cells are 0-based here: the paper's odd bonds (1,2), (3,4), ... are index pairs
(0,1), (2,3), ...; its even bonds (2,3), ..., (NX, 1) are (1,2), ..., (nx-1, 0).
"""

from __future__ import annotations

import numpy as np

from qwave.physics.grid import Grid


def bond_factors(tau: float, dx: float) -> tuple[complex, complex]:
    """ep, em of the exact 2x2 bond propagator for a sub-step ``tau``: theta = tau / dx^2."""
    phase = np.exp(-1j * tau / dx**2)
    return 0.5 * (1 + phase), 0.5 * (1 - phase)


def _rotate_pairs(a: np.ndarray, b: np.ndarray, ep: complex, em: complex) -> tuple[np.ndarray, np.ndarray]:
    return ep * a + em * b, em * a + ep * b


def ssm_step(psi: np.ndarray, v: np.ndarray, grid: Grid) -> np.ndarray:
    """One step of DT on ``psi`` (shape (..., nx)); returns a new array."""
    dt, dx = grid.dt, grid.dx
    half_v = np.exp(-1j * v * dt / 2)
    ep_h, em_h = bond_factors(dt / 2, dx)
    ep_f, em_f = bond_factors(dt, dx)
    psi = psi * half_v
    psi = psi.copy()
    # odd bonds (1,2), (3,4), ... for DT/2
    psi[..., 0::2], psi[..., 1::2] = _rotate_pairs(psi[..., 0::2], psi[..., 1::2], ep_h, em_h)
    # even bonds (2,3), (4,5), ..., and the wrap-around bond (NX, 1) for DT
    left = psi[..., 1::2]
    right = np.roll(psi[..., 0::2], -1, axis=-1)
    left, right = _rotate_pairs(left, right, ep_f, em_f)
    psi[..., 1::2] = left
    psi[..., 0::2] = np.roll(right, 1, axis=-1)
    # odd bonds again for DT/2
    psi[..., 0::2], psi[..., 1::2] = _rotate_pairs(psi[..., 0::2], psi[..., 1::2], ep_h, em_h)
    return psi * half_v


def simulate_stepwise(psi0: np.ndarray, v: np.ndarray, grid: Grid, n_frames: int | None = None) -> np.ndarray:
    """Frames of the trajectory, stepping ``steps_per_frame`` times between saves.

    ``psi0`` has shape (nx,) or (batch, nx); the result has shape (..., n_frames, nx).
    """
    n_frames = grid.n_frames if n_frames is None else n_frames
    psi = np.asarray(psi0, dtype=np.complex128)
    frames = [psi]
    for _ in range(n_frames - 1):
        for _ in range(grid.steps_per_frame):
            psi = ssm_step(psi, v, grid)
        frames.append(psi)
    return np.stack(frames, axis=-2)

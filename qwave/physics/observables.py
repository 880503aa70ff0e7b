"""Per-frame observables of a trajectory: norm, energy, mean position, transmission.

All take ``psi`` of shape (..., nx) (any leading frame/batch axes) and reduce the last axis.
"""

from __future__ import annotations

import numpy as np

from qwave.physics.grid import Grid


def density(psi: np.ndarray) -> np.ndarray:
    """|psi|^2 (1/bohr)."""
    return psi.real**2 + psi.imag**2


def norm(psi: np.ndarray, grid: Grid) -> np.ndarray:
    """sum |psi|^2 dx; 1 for a normalised state."""
    return density(psi).sum(-1) * grid.dx


def kinetic_energy(psi: np.ndarray, grid: Grid) -> np.ndarray:
    """<psi| -1/2 d^2/dx^2 |psi> with the periodic 3-point Laplacian (hartree)."""
    lap = (np.roll(psi, -1, -1) - 2 * psi + np.roll(psi, 1, -1)) / grid.dx**2
    return np.real(np.sum(np.conj(psi) * (-0.5 * lap), -1)) * grid.dx


def potential_energy(psi: np.ndarray, v: np.ndarray, grid: Grid) -> np.ndarray:
    """<psi| V |psi> (hartree)."""
    return np.sum(density(psi) * v, -1) * grid.dx


def energy(psi: np.ndarray, v: np.ndarray, grid: Grid) -> np.ndarray:
    """Total energy <H> (hartree)."""
    return kinetic_energy(psi, grid) + potential_energy(psi, v, grid)


def mean_position(psi: np.ndarray, grid: Grid) -> np.ndarray:
    """<x> within the box [dx, LX] (bohr); not unwrapped across the periodic edge."""
    rho = density(psi)
    return (rho * grid.x).sum(-1) / rho.sum(-1)


def width(psi: np.ndarray, grid: Grid) -> np.ndarray:
    """Standard deviation of |psi|^2 (bohr); meaningful while the packet does not straddle the edge."""
    rho = density(psi)
    w = rho / rho.sum(-1, keepdims=True)
    mean = (w * grid.x).sum(-1, keepdims=True)
    return np.sqrt((w * (grid.x - mean) ** 2).sum(-1))


def barrier_region(v: np.ndarray, grid: Grid) -> tuple[float, float]:
    """(left, right) edges (bohr) of the span of non-zero potential, ignoring the two edge cells.

    For a potential that is zero everywhere the 'barrier' is the box centre.
    """
    inner = np.flatnonzero(v[1:-1]) + 1
    if inner.size == 0:
        return grid.lx / 2, grid.lx / 2
    x = grid.x
    return float(x[inner[0]] - grid.dx / 2), float(x[inner[-1]] + grid.dx / 2)


def transmission_reflection(psi: np.ndarray, v: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Probability right of the barrier region (transmitted) and left of it (reflected), within the box."""
    left, right = barrier_region(v, grid)
    rho = density(psi) * grid.dx
    x = grid.x
    return rho[..., x > right].sum(-1), rho[..., x < left].sum(-1)


def observables(psi: np.ndarray, v: np.ndarray, grid: Grid) -> dict[str, np.ndarray]:
    """All per-frame observables, keyed by name, each of shape psi.shape[:-1]."""
    t, r = transmission_reflection(psi, v, grid)
    return {
        "norm": norm(psi, grid),
        "energy": energy(psi, v, grid),
        "mean_x": mean_position(psi, grid),
        "transmitted": t,
        "reflected": r,
    }

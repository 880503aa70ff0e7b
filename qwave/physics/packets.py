"""The Gaussian wave packet of the paper, with the checks that keep it physical on the grid."""

from __future__ import annotations

import math
import warnings

import numpy as np

from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid

# Above this fraction of the lattice kinetic-energy error, (k dx)^2 / 12, we warn.
DISPERSION_WARN = 0.05


def check_packet(grid: Grid, x0: float, s0: float, e0: float) -> None:
    """Raise :class:`QwaveInputError` for a packet the grid cannot hold; warn where accuracy degrades."""
    for name, value in (("X0", x0), ("S0", s0), ("E0", e0)):
        if not math.isfinite(value):
            raise QwaveInputError(f"packet {name} must be finite, got {value}")
    if s0 <= 0:
        raise QwaveInputError(f"packet S0 must be positive, got {s0}")
    if e0 < 0:
        raise QwaveInputError(f"packet E0 must be >= 0 (kinetic energy, hartree), got {e0}")
    if not 0 <= x0 <= grid.lx:
        raise QwaveInputError(f"packet X0={x0} lies outside the box [0, {grid.lx}]")
    if 8 * s0 > grid.lx:
        raise QwaveInputError(
            f"packet S0={s0} does not fit in the box: its +-4*S0 extent exceeds LX={grid.lx} (need S0 <= {grid.lx / 8})"
        )
    k = math.sqrt(2 * e0)
    if k >= grid.k_max:
        raise QwaveInputError(
            f"packet E0={e0} has wave number k={k:.3f} >= pi/dx={grid.k_max:.3f}, which the grid cannot resolve"
        )
    if (k * grid.dx) ** 2 / 12 > DISPERSION_WARN:
        warnings.warn(
            f"packet E0={e0}: k*dx={k * grid.dx:.2f}, the lattice dispersion error exceeds "
            f"{DISPERSION_WARN:.0%}; refine the grid for accurate dynamics",
            stacklevel=2,
        )
    if e0 * grid.dt > 0.1:
        warnings.warn(
            f"packet E0={e0}: phase per step E0*dt={e0 * grid.dt:.2f} rad is large; reduce dt for accuracy",
            stacklevel=2,
        )


def gaussian_packet(grid: Grid, x0: float, s0: float, e0: float, direction: int = 1, check: bool = True) -> np.ndarray:
    """psi(x) ~ exp(-(x-X0)^2 / (4 S0^2)) exp(i k (x-X0)), k = direction * sqrt(2 E0); sum |psi|^2 dx = 1.

    ``S0`` is the standard deviation of |psi|^2 (bohr), ``E0`` the mean kinetic energy (hartree).
    As in the paper the Gaussian is evaluated on the cell positions without periodic images.
    """
    if direction not in (1, -1):
        raise QwaveInputError(f"packet direction must be +1 or -1, got {direction}")
    if check:
        check_packet(grid, x0, s0, e0)
    x = grid.x
    k = direction * math.sqrt(2 * e0)
    psi = np.exp(-((x - x0) ** 2) / (4 * s0**2)) * np.exp(1j * k * (x - x0))
    return psi / math.sqrt(np.sum(np.abs(psi) ** 2) * grid.dx)


def gaussian_packets(grid: Grid, x0, s0, e0, direction=1, check: bool = True) -> np.ndarray:
    """A batch of packets, shape (n, nx); parameters broadcast against each other."""
    x0, s0, e0, direction = np.broadcast_arrays(
        np.atleast_1d(x0), np.atleast_1d(s0), np.atleast_1d(e0), np.atleast_1d(direction)
    )
    return np.stack(
        [
            gaussian_packet(grid, float(a), float(b), float(c), int(d), check=check)
            for a, b, c, d in zip(x0, s0, e0, direction, strict=True)
        ]
    )

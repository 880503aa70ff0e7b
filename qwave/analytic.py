"""Closed-form results the solver is tested against and the curriculum is staged by.

Transmission through a rectangular barrier of height V0 (hartree) and width a (bohr) for a
plane wave of energy E, in the continuum and on the solver's lattice (the finite-difference
Hamiltonian, solved exactly by a transfer matrix), and both averaged over a Gaussian packet's
momentum distribution |phi(k)|^2 ~ exp(-2 S0^2 (k - k0)^2).
"""

from __future__ import annotations

import numpy as np


def plane_wave_transmission(e, v0: float, a: float) -> np.ndarray:
    """Continuum T(E) of a rectangular barrier; E > 0 (hartree), any sign of V0."""
    e = np.asarray(e, dtype=np.float64)
    if v0 == 0 or a == 0:
        return np.ones_like(e)
    q2 = 2 * (e - v0)  # squared wave number inside the barrier, negative when tunnelling
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.sqrt(np.abs(q2))
        s2 = np.where(q2 < 0, np.sinh(q * a) ** 2, np.sin(q * a) ** 2)
        denom = 4 * e * np.abs(e - v0)
        t = 1 / (1 + v0**2 * s2 / denom)
    # at E = V0 exactly: T = 1 / (1 + V0 a^2 / 2)
    return np.where(q2 == 0, 1 / (1 + v0 * a**2 / 2), t)


def lattice_transmission(theta: float, v_cells: np.ndarray, dx: float) -> float:
    """Exact T of the lattice Hamiltonian -1/(2dx^2)(psi_{n+1} - 2psi_n + psi_{n-1}) + V_n psi_n.

    ``theta = k dx`` in (0, pi) labels the incoming lattice plane wave of energy
    (1 - cos theta) / dx^2; ``v_cells`` are the potential values on consecutive cells.
    """
    hop = 1 / (2 * dx**2)
    e = 2 * hop * (1 - np.cos(theta))
    v = np.concatenate([np.asarray(v_cells, dtype=np.float64), [0.0, 0.0]])
    n = len(v_cells)
    # transmitted wave e^{i theta m} for m >= n; iterate the recursion back to m = -2
    ahead, here = np.exp(1j * theta * (n + 1)), np.exp(1j * theta * n)
    for m in range(n, -2, -1):
        vm = v[m] if m < n else 0.0
        ahead, here = here, ((2 * hop + vm - e) / hop) * here - ahead
    psi_m1, psi_m2 = ahead, here
    # free region: psi_m = A e^{i theta m} + B e^{-i theta m}
    basis = np.array([[np.exp(-1j * theta), np.exp(1j * theta)], [np.exp(-2j * theta), np.exp(2j * theta)]])
    incoming, _ = np.linalg.solve(basis, [psi_m1, psi_m2])
    return float(1 / abs(incoming) ** 2)


def _momentum_average(fn, e0: float, s0: float, n: int) -> float:
    k0, sk = np.sqrt(2 * e0), 1 / (2 * s0)
    k = np.linspace(max(k0 - 8 * sk, 1e-6), k0 + 8 * sk, n)
    w = np.exp(-((k - k0) ** 2) / (2 * sk**2))
    return float(np.sum(w * fn(k)) / np.sum(w))


def packet_transmission(e0: float, s0: float, v0: float, a: float, n: int = 2001) -> float:
    """Continuum T averaged over the right-moving components of a packet (E0, S0)."""
    return _momentum_average(lambda k: plane_wave_transmission(k**2 / 2, v0, a), e0, s0, n)


def packet_lattice_transmission(e0: float, s0: float, v_cells: np.ndarray, dx: float, n: int = 801) -> float:
    """Lattice T averaged over the packet's momentum distribution."""
    return _momentum_average(lambda k: np.array([lattice_transmission(kk * dx, v_cells, dx) for kk in k]), e0, s0, n)

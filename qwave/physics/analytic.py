"""Closed-form results the solver is tested against and the curriculum is staged by.

Transmission through a rectangular barrier of height V0 (hartree) and width a (bohr) for a
plane wave of energy E, in the continuum and on the solver's lattice (the finite-difference
Hamiltonian, solved exactly by a transfer matrix), and both averaged over a Gaussian packet's
momentum distribution |phi(k)|^2 ~ exp(-2 S0^2 (k - k0)^2); and transmission across the smooth
Poschl-Teller well, whose integer-order depths reflect nothing.
"""

from __future__ import annotations

import math

import numpy as np


def plane_wave_transmission(energy, height, width) -> np.ndarray:
    """Transmission probability of a plane wave (energy E > 0, hartree) through a rectangular barrier.

    T = 1 / (1 + V^2 a^2 f^2 / (2E)) with f = sin(qa)/(qa), q = sqrt(2(E-V)) above the barrier and
    f = sinh(ka)/(ka), k = sqrt(2(V-E)) below it (f = 1 at E = V): the textbook result, written so
    that it is continuous at E = V.  ``height`` V (hartree) may be negative (a well); width a in bohr.
    """
    e = np.asarray(energy, dtype=np.float64)
    v = np.asarray(height, dtype=np.float64)
    a = np.asarray(width, dtype=np.float64)
    d = e - v
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        z = np.sqrt(2 * np.abs(d)) * a
        safe = np.where(z > 1e-8, z, 1.0)
        f = np.where(d > 0, np.sin(safe) / safe, np.sinh(np.minimum(safe, 700.0)) / safe)
        f = np.where(z > 1e-8, f, 1.0)
        t = 1.0 / (1.0 + v**2 * a**2 * f**2 / (2 * e))
    return np.where(v == 0, 1.0, t)


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


def sech2_transmission(energy, depth, width) -> np.ndarray:
    """Transmission of a plane wave (E > 0, hartree) across the Poschl-Teller well -depth sech^2(x / width).

    T = sinh^2(pi k a) / (sinh^2(pi k a) + cos^2(pi/2 sqrt(1 + 8 depth a^2))) with k = sqrt(2E), a = width
    (hbar = m = 1; Landau & Lifshitz, QM section 25): exactly 1 at every energy when 8 depth a^2 = 4 l (l + 1)
    for an integer l, the reflectionless wells.
    """
    k = np.sqrt(2 * np.asarray(energy, dtype=np.float64))
    a = np.asarray(width, dtype=np.float64)
    s = np.sinh(np.minimum(np.pi * k * a, 350.0)) ** 2
    c = np.cos(0.5 * np.pi * np.sqrt(1 + 8 * np.asarray(depth, dtype=np.float64) * a**2)) ** 2
    return s / (s + c)


def _momentum_average(fn, e0: float, s0: float, n: int) -> float:
    """Average of fn(k) over the packet's |phi(k)|^2 ~ exp(-2 S0^2 (k - k0)^2): normal in k with mean
    k0 = sqrt(2 E0) and standard deviation 1 / (2 S0); trapezoidal rule over k0 +- 6 sigma."""
    k0 = math.sqrt(2 * e0)
    sigma = 1.0 / (2 * s0)
    k = np.linspace(k0 - 6 * sigma, k0 + 6 * sigma, n)
    weight = np.exp(-0.5 * ((k - k0) / sigma) ** 2)
    return float(np.trapezoid(fn(k) * weight, k) / np.trapezoid(weight, k))


def packet_transmission(e0: float, s0: float, height: float, width: float, n: int = 801) -> float:
    """Continuum T averaged over a packet (E0, S0); components with k < 0 count with T(k^2 / 2)."""
    return _momentum_average(lambda k: plane_wave_transmission(np.maximum(0.5 * k**2, 1e-12), height, width), e0, s0, n)


def packet_lattice_transmission(e0: float, s0: float, v_cells: np.ndarray, dx: float, n: int = 801) -> float:
    """Lattice T averaged over the packet's momentum distribution."""
    return _momentum_average(
        lambda k: np.array([lattice_transmission(abs(kk) * dx, v_cells, dx) for kk in k]), e0, s0, n
    )


def packet_sech2_transmission(e0: float, s0: float, depth: float, width: float, n: int = 801) -> float:
    """Poschl-Teller T averaged over a packet (E0, S0)."""
    return _momentum_average(lambda k: sech2_transmission(np.maximum(0.5 * k**2, 1e-12), depth, width), e0, s0, n)

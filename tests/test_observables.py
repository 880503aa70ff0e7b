"""Observables, and scattering against analytic transmission."""

import numpy as np
import pytest

from qwave.physics.analytic import (
    lattice_transmission,
    packet_lattice_transmission,
    packet_transmission,
    plane_wave_transmission,
)
from qwave.physics.grid import Grid
from qwave.physics.observables import barrier_region, mean_position, norm, observables, transmission_reflection
from qwave.physics.packets import gaussian_packet
from qwave.physics.potentials import barrier
from qwave.physics.solver import simulate

GRID = Grid()
CASES = [  # E0, S0, BH, BW: deep tunnelling, near the top, over the barrier
    (2.0, 3.0, 3.0, 2.0),
    (4.0, 3.0, 3.0, 2.0),
    (3.0, 3.0, 5.0, 1.0),
    (5.0, 3.0, 2.0, 7.0),
    (8.0, 4.0, 5.0, 3.0),
]


def _scatter(e0, s0, bh, bw):
    """T and R once the packet from X0 = 20 has left the barrier and before either part wraps."""
    v = barrier(GRID, bh, bw)
    t_end = 51.5 / np.sqrt(2 * e0)
    psi = simulate(gaussian_packet(GRID, 20, s0, e0), v, GRID, n_frames=int(t_end / GRID.frame_dt) + 1)
    return v, transmission_reflection(psi[-1], v, GRID)


def test_plane_wave_formula_limits():
    assert plane_wave_transmission(5.0, 0.0, 3.0) == 1.0
    assert plane_wave_transmission(1.0, 50.0, 5.0) < 1e-20  # opaque
    # resonance: sin(q a) = 0 above the barrier is transparent
    a, v0 = 2.0, 1.0
    e_res = v0 + (np.pi / a) ** 2 / 2
    assert plane_wave_transmission(e_res, v0, a) == pytest.approx(1.0, abs=1e-12)
    # continuous through E = V0
    assert plane_wave_transmission(v0 * (1 + 1e-9), v0, a) == pytest.approx(
        plane_wave_transmission(v0, v0, a), rel=1e-6
    )


def test_lattice_transmission_tends_to_the_continuum():
    """A barrier resolved by ever finer cells approaches the continuum formula."""
    e, v0, a = 2.0, 3.0, 1.0
    errs = []
    for cells in (16, 64, 256):
        dx = a / cells
        errs.append(
            abs(lattice_transmission(np.sqrt(2 * e) * dx, np.full(cells, v0), dx) - plane_wave_transmission(e, v0, a))
        )
    assert errs[2] < errs[1] < errs[0] and errs[2] < 1e-3


@pytest.mark.parametrize("case", CASES)
def test_transmission_matches_lattice_theory(case):
    """Packet transmission equals the exact lattice result to 1e-3 (split-step error)."""
    v, (t, r) = _scatter(*case)
    e0, s0 = case[:2]
    expected = packet_lattice_transmission(e0, s0, v[np.flatnonzero(v)], GRID.dx)
    assert abs(t - expected) < 1e-3
    assert t + r == pytest.approx(1.0, abs=5e-3)  # almost nothing left inside the barrier


@pytest.mark.parametrize("case", CASES)
def test_transmission_matches_continuum_theory(case):
    """Against the continuum formula with the barrier's width on the grid: lattice dispersion
    (k dx up to 0.4 here) limits agreement to about 1.5e-2."""
    v, (t, _) = _scatter(*case)
    e0, s0, bh = case[:3]
    width = np.count_nonzero(v) * GRID.dx
    assert abs(t - packet_transmission(e0, s0, bh, width)) < 1.5e-2


def test_observables_of_a_fresh_packet():
    v = barrier(GRID, 5.0)
    psi = gaussian_packet(GRID, 20, 2, 5)
    obs = observables(psi, v, GRID)
    assert obs["norm"] == pytest.approx(1.0, abs=1e-12)
    assert obs["mean_x"] == pytest.approx(20.0, abs=1e-6)
    # lattice kinetic energy of a Gaussian in k: (1 - cos(k0 dx) exp(-sk^2 dx^2 / 2)) / dx^2, sk = 1 / (2 S0)
    dx, k0, sk = GRID.dx, np.sqrt(10.0), 1 / 4
    assert obs["energy"] == pytest.approx((1 - np.cos(k0 * dx) * np.exp(-(sk**2) * dx**2 / 2)) / dx**2, abs=5e-3)
    assert obs["reflected"] == pytest.approx(1.0, abs=1e-9) and obs["transmitted"] < 1e-12
    left, right = barrier_region(v, GRID)
    assert left == pytest.approx(46.5, abs=GRID.dx) and right == pytest.approx(53.5, abs=GRID.dx)


def test_observables_broadcast_over_frames_and_batch():
    psi = np.stack([np.stack([gaussian_packet(GRID, x, 2, 1)] * 3) for x in (20, 60)])
    assert norm(psi, GRID).shape == (2, 3)
    np.testing.assert_allclose(mean_position(psi, GRID), [[20] * 3, [60] * 3], atol=1e-6)

"""The fast solver against the plain step-by-step scheme, and against physics."""

import numpy as np
import pytest

from qwave.physics.analytic import packet_sech2_transmission
from qwave.physics.grid import Grid
from qwave.physics.observables import energy, norm, width
from qwave.physics.packets import gaussian_packet, gaussian_packets
from qwave.physics.potentials import barrier, make_potential
from qwave.physics.reference import simulate_stepwise, ssm_step
from qwave.physics.solver import FramePropagator, _power, frame_propagator, simulate, step_matrix

GRID = Grid()


@pytest.mark.parametrize("name", ["barrier", "random", "well"])
def test_fast_solver_matches_stepwise_reference(name):
    v = make_potential(
        name, GRID, **{"barrier": {"height": 10.0}, "random": {"seed": 3}, "well": {"depth": 4.0, "width": 5.0}}[name]
    )
    psi0 = gaussian_packets(GRID, [10.0, 40.0, 45.0], [1.0, 2.5, 4.0], [9.0, 2.0, 5.0])
    fast = simulate(psi0, v, GRID, n_frames=11)
    slow = simulate_stepwise(psi0, v, GRID, n_frames=11)
    assert fast.shape == slow.shape == (3, 11, GRID.nx)
    assert np.abs(fast - slow).max() < 1e-10


def test_single_packet_shape_and_frame_zero():
    psi0 = gaussian_packet(GRID, 20, 2, 5)
    psi = simulate(psi0, barrier(GRID, 5.0), GRID, n_frames=3)
    assert psi.shape == (3, GRID.nx)
    np.testing.assert_array_equal(psi[0], psi0)


def test_step_is_the_paper_scheme_on_a_small_grid():
    """One step on 4 cells written out by hand: V half-phases and the three bond layers."""
    grid = Grid(lx=4 * 0.3, nx=4, dt=0.01)
    v = np.array([0.0, 1.0, 2.0, 0.5])
    psi = np.array([1.0, 0.5j, -0.3, 0.2 + 0.1j])

    def bonds(p, pairs, tau):
        th = tau / grid.dx**2
        ep, em = 0.5 * (1 + np.exp(-1j * th)), 0.5 * (1 - np.exp(-1j * th))
        p = p.copy()
        for a, b in pairs:
            p[a], p[b] = ep * p[a] + em * p[b], em * p[a] + ep * p[b]
        return p

    h = np.exp(-1j * v * grid.dt / 2)
    expected = h * bonds(
        bonds(bonds(h * psi, [(0, 1), (2, 3)], grid.dt / 2), [(1, 2), (3, 0)], grid.dt), [(0, 1), (2, 3)], grid.dt / 2
    )
    np.testing.assert_allclose(ssm_step(psi, v, grid), expected, atol=1e-15)


def test_operators_are_unitary_and_banded_form_is_exact():
    v = barrier(GRID, 10.0)
    s = step_matrix(GRID, v)
    np.testing.assert_allclose(s.conj().T @ s, np.eye(GRID.nx), atol=1e-13)
    u = frame_propagator(GRID, v)
    assert u.blocks is not None, "the paper's grid should use the banded propagator"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(GRID.nx, 5)) + 1j * rng.normal(size=(GRID.nx, 5))
    np.testing.assert_allclose(u(x), u.to_dense() @ x, atol=1e-13)
    dense = FramePropagator(None, _power(s, GRID.steps_per_frame, np.matmul))
    np.testing.assert_allclose(u.to_dense(), dense.dense, atol=1e-13)


def test_norm_conserved_over_500_frames():
    psi = simulate(gaussian_packets(GRID, [10, 40], [1.0, 4.0], [9.0, 1.0]), barrier(GRID, 10.0), GRID)
    assert psi.shape[1] == 501
    assert np.abs(norm(psi, GRID) - 1).max() < 1e-10


def test_energy_conserved():
    """The split scheme conserves a shadow Hamiltonian; <H> of the lattice H drifts by O(dt^2)."""
    v = barrier(GRID, 5.0)
    psi = simulate(gaussian_packet(GRID, 30, 2, 5), v, GRID)
    e = energy(psi, v, GRID)
    assert abs(e[0] - 5.0) < 0.05  # E0 plus the packet's spread-in-momentum energy 1/(8 S0^2) ~ 0.03
    assert np.abs(e - e[0]).max() / e[0] < 2e-4


def test_free_packet_spreads_as_the_analytic_law():
    """sigma(t) = S0 sqrt(1 + (t / (2 S0^2))^2) for a free Gaussian (hbar = m = 1)."""
    s0 = 1.5
    psi = simulate(gaussian_packet(GRID, 50, s0, 0.0), np.zeros(GRID.nx), GRID, n_frames=151)
    t = np.arange(151) * GRID.frame_dt
    expected = s0 * np.sqrt(1 + (t / (2 * s0**2)) ** 2)
    np.testing.assert_allclose(width(psi, GRID), expected, rtol=2e-3)


def test_mirror_symmetry():
    """Mirroring V and psi0 (x -> LX - x, k -> -k) mirrors the density.

    The scheme is not exactly mirror-symmetric (odd bonds map onto even bonds), so agreement
    is to the splitting error, O(dt^2).
    """
    v = make_potential("random", GRID, seed=7)
    psi0 = gaussian_packet(GRID, 30, 2, 4)
    mirror = (GRID.nx - 2 - np.arange(GRID.nx)) % GRID.nx  # cell i -> cell NX - i (1-based)
    np.testing.assert_allclose(gaussian_packet(GRID, GRID.lx - 30, 2, 4, direction=-1), psi0[mirror], atol=1e-12)

    def mirror_error(grid):
        a = simulate(gaussian_packet(grid, 30, 2, 4), v, grid, n_frames=200)
        b = simulate(gaussian_packet(grid, grid.lx - 30, 2, 4, direction=-1), v[mirror], grid, n_frames=200)
        rho_a, rho_b = np.abs(a) ** 2, np.abs(b[:, mirror]) ** 2
        return np.abs(rho_a - rho_b).max() / rho_a.max()

    err = mirror_error(GRID)
    err_half_dt = mirror_error(Grid(dt=GRID.dt / 2, steps_per_frame=2 * GRID.steps_per_frame))
    assert err < 2e-4
    assert 3.5 < err / err_half_dt < 4.5  # second order: the asymmetry is splitting error only


def test_dense_fallback_matches_reference_on_a_grid_without_banded_form():
    grid = Grid(lx=60.0, nx=100, n_frames=6)  # 100 cells cannot be cut into the 32-cell blocks it needs
    u = frame_propagator(grid, barrier(grid, 3.0, 5.0))
    assert u.blocks is None and u.dense is not None
    psi0 = gaussian_packets(grid, [20.0, 25.0], [3.0, 4.0], [0.2, 0.3])
    v = barrier(grid, 3.0, 5.0)
    np.testing.assert_allclose(simulate(psi0, v, grid), simulate_stepwise(psi0, v, grid), atol=1e-10)


@pytest.mark.parametrize("order", [1.0, 0.5])  # l = 1: reflectionless; l = 1/2: reflects ~16 %
def test_poschl_teller_well_reflects_as_the_closed_form(order):
    """A packet (E0 = 0.5, S0 = 5) across -l (l + 1) / (2 a^2) sech^2(x / a): the probability left of the
    well after 45 a.u. is the packet-averaged closed-form reflection (zero at integer l)."""
    a = 0.5
    grid = Grid(nx=1024, n_frames=2, dt=0.002, steps_per_frame=22_500)
    depth = order * (order + 1) / (2 * a**2)
    psi = simulate(
        gaussian_packets(grid, [30.0], [5.0], [0.5]), make_potential("sech2_well", grid, depth=depth, width=a), grid
    )
    reflected = float((np.abs(psi[0, -1]) ** 2 * grid.dx)[grid.x < 50].sum())
    expected = 1 - packet_sech2_transmission(0.5, 5.0, depth, a)
    assert abs(reflected - expected) < 2e-3, (reflected, expected)

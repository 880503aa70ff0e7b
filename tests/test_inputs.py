"""Bad physics and bad input fail early with one clear message."""

import warnings

import numpy as np
import pytest

from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid
from qwave.physics.packets import gaussian_packet
from qwave.physics.potentials import EXAMPLES, POTENTIALS, check_potential, make_potential
from qwave.physics.solver import simulate

GRID = Grid()


@pytest.mark.parametrize(
    "x0, s0, e0, match",
    [
        (20, 0.0, 1, "S0 must be positive"),
        (20, -1.0, 1, "S0 must be positive"),
        (20, 2, -1, "E0 must be >= 0"),
        (-5, 2, 1, "outside the box"),
        (150, 2, 1, "outside the box"),
        (50, 20, 1, "does not fit"),
        (20, 2, 600, "cannot resolve"),
        (float("nan"), 2, 1, "X0 must be finite"),
        (20, 2, float("inf"), "E0 must be finite"),
    ],
)
def test_bad_packets(x0, s0, e0, match):
    with pytest.raises(QwaveInputError, match=match):
        gaussian_packet(GRID, x0, s0, e0)


def test_degraded_accuracy_warns():
    with pytest.warns(UserWarning, match="lattice dispersion"):
        gaussian_packet(GRID, 20, 2, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gaussian_packet(GRID, 20, 2, 9)  # the paper's largest energy is fine


@pytest.mark.parametrize(
    "v, match",
    [
        (np.zeros(100), r"shape \(1024,\)"),
        (np.full(1024, np.nan), "non-finite"),
        (np.zeros((2, 1024)), "shape"),
        (np.zeros(1024, complex), "real-valued"),
    ],
)
def test_bad_potential_arrays(v, match):
    with pytest.raises(QwaveInputError, match=match):
        check_potential(GRID, v)


def test_bad_potential_names_and_parameters():
    with pytest.raises(QwaveInputError, match="unknown potential 'wall'"):
        make_potential("wall", GRID)
    with pytest.raises(QwaveInputError, match="unknown: hieght"):
        make_potential("barrier", GRID, hieght=3)
    with pytest.raises(QwaveInputError, match="needs height"):
        make_potential("barrier", GRID)
    with pytest.raises(QwaveInputError, match="width must be positive"):
        make_potential("barrier", GRID, height=3, width=-1)
    with pytest.raises(QwaveInputError, match="depth must be positive"):
        make_potential("well", GRID, depth=-2, width=3)


def test_bad_grid_and_states():
    with pytest.raises(QwaveInputError, match="even"):
        Grid(nx=1023)
    with pytest.raises(QwaveInputError, match="dt"):
        Grid(dt=0)
    with pytest.raises(QwaveInputError, match="psi0 must have shape"):
        simulate(np.zeros(10, complex), np.zeros(GRID.nx), GRID, n_frames=2)
    with pytest.raises(QwaveInputError, match="non-finite"):
        simulate(np.full(GRID.nx, np.nan, complex), np.zeros(GRID.nx), GRID, n_frames=2)


@pytest.mark.parametrize("name", sorted(POTENTIALS))
def test_every_family_builds_its_example(name):
    v = make_potential(name, GRID, **EXAMPLES[name])
    assert v.shape == (GRID.nx,) and np.all(np.isfinite(v))
    if name != "free":
        assert np.any(v != 0)
    if name == "well":
        assert v.min() == -EXAMPLES["well"]["depth"]


def test_rectangles_need_matching_lists():
    v = make_potential("rectangles", GRID, heights=[2.0, 3.0], widths=4.0, centers=[40.0, 42.0])
    assert v.max() == 5.0  # overlapping rectangles add up
    with pytest.raises(QwaveInputError, match="one length"):
        make_potential("rectangles", GRID, heights=[1.0, 2.0], widths=[1.0, 2.0, 3.0], centers=50.0)


def test_paper_barrier_geometry():
    """0.5 (LX - BW) < x < 0.5 (LX + BW) at height BH; edge cells at EH."""
    v = make_potential("barrier", GRID, height=10.0, width=7.0, edge=3.0)
    x = GRID.x
    inside = (x > 46.5) & (x < 53.5)
    np.testing.assert_array_equal(v[1:-1][inside[1:-1]], 10.0)
    np.testing.assert_array_equal(v[1:-1][~inside[1:-1]], 0.0)
    assert v[0] == v[-1] == 3.0
    assert np.count_nonzero(inside) == 71  # cells 477..547

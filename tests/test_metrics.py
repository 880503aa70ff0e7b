"""Metrics on inputs with known answers."""

import numpy as np
import pytest

from qwave.emulator.metrics import as_complex, correlation, frame_metrics, mae, norm_drift, transmitted_error
from qwave.physics.grid import Grid
from qwave.physics.packets import gaussian_packet
from qwave.physics.potentials import barrier

GRID = Grid(nx=256)


def test_correlation_known_values():
    psi = gaussian_packet(GRID, 30.0, 2.0, 1.0)
    assert np.isclose(correlation(psi, psi), 1.0)
    assert np.isclose(correlation(psi, 2.5 * np.exp(1j * 0.7) * psi), 1.0)  # global phase and scale
    a = np.zeros(GRID.nx, complex)
    b = np.zeros(GRID.nx, complex)
    a[:10], b[20:30] = 1.0, 1.0
    assert correlation(a, b) == 0.0
    assert np.isclose(correlation(a, a + b), 1 / np.sqrt(2))


def test_float_pair_layout_matches_complex():
    psi = gaussian_packet(GRID, 30.0, 2.0, 1.0)
    pair = np.stack([psi.real, psi.imag], -1).astype(np.float32)
    assert np.allclose(as_complex(pair), psi, atol=1e-6)
    assert np.isclose(correlation(pair, psi * 1j), 1.0)


def test_mae_and_norm_drift():
    psi = gaussian_packet(GRID, 30.0, 2.0, 1.0)
    assert mae(psi, psi) == 0.0
    assert np.isclose(mae(psi, psi + 0.1), 0.05)
    assert np.isclose(mae(psi, psi + 0.1 + 0.1j), 0.1)
    assert np.isclose(norm_drift(psi, psi), 0.0)
    assert np.isclose(norm_drift(psi, 2 * psi), 3.0)


def test_transmitted_error_and_frame_metrics():
    v = barrier(GRID, 5.0, 7.0)
    left = gaussian_packet(GRID, 30.0, 2.0, 1.0)
    right = gaussian_packet(GRID, 70.0, 2.0, 1.0)
    assert np.isclose(transmitted_error(left, right, v, GRID), 1.0, atol=1e-6)
    frames = np.stack([left, right])
    m = frame_metrics(frames, frames, v, GRID)
    assert set(m) == {"corr", "mae", "norm_drift", "transmitted_error"}
    assert m["corr"].shape == (2,) and np.allclose(m["corr"], 1) and np.allclose(m["transmitted_error"], 0)


def test_first_below_is_the_first_frame_under_the_threshold():
    from qwave.emulator.metrics import first_below

    corr = np.array([[1.0, 0.995, 0.98, 0.999], [1.0, 1.0, 1.0, 1.0], [0.5, 1.0, 0.2, 0.1]])
    np.testing.assert_array_equal(first_below(corr, 0.99), [3, 0, 1])  # 0: never below
    np.testing.assert_array_equal(first_below(corr, 0.3), [0, 0, 3])


def test_goals_report_the_overall_figure_and_each_family_short_of_it():
    from qwave.emulator.goals import GOALS, Goal, check, check_all, format_checks

    rows = {
        "barrier": {"mean_corr": 0.9995, "corr@400": 0.997, "worst@400": 0.991},
        "triple": {"mean_corr": 0.9985, "corr@400": 0.993, "worst@400": 0.985},
        "overall": {"mean_corr": 0.999, "corr@400": 0.995, "worst@400": 0.985},
    }
    overall = check(Goal(400, "mean_corr", 0.999), rows)
    assert overall["met"] and overall["value"] == 0.999 and overall["at"] == "overall"
    family = check(Goal(400, "corr@400", 0.995, every_family=True), rows)
    assert not family["met"] and family["at"] == "triple" and family["short"] == {"triple": 0.002}
    checks = check_all({400: rows})  # the 1,000-frame goals have no evaluation: skipped
    assert [c["goal"] for c in checks] == [g.describe() for g in GOALS if g.frames == 400]
    table = format_checks(checks)
    assert "| every case at frame 400 >= 0.99 | 0.9850 (triple) | no: triple -0.0050 |" in table
    with pytest.raises(KeyError, match="corr@1000"):
        check(Goal(1000, "corr@1000", 0.98, every_family=True), rows)

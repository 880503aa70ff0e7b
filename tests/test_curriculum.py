"""The curriculum's parameter grids, stage boundaries and test families (pure numpy, no TensorFlow)."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest

from qwave import curriculum
from qwave.errors import QwaveInputError
from qwave.physics import analytic
from qwave.physics.grid import Grid
from qwave.physics.observables import observables
from qwave.physics.packets import gaussian_packet
from qwave.physics.potentials import barrier
from qwave.physics.solver import simulate


def transfer_matrix_transmission(energy: float, height: float, width: float) -> float:
    """T of a plane wave through a rectangular barrier by matching psi and psi' at both edges (independent check)."""
    k = math.sqrt(2 * energy)
    q = np.sqrt(complex(2 * (energy - height)))
    if abs(q) < 1e-9:
        q = 1e-9 + 0j

    def m(kk: complex, x: float) -> np.ndarray:  # [psi, psi'] of (A e^{ikx} + B e^{-ikx})
        return np.array(
            [
                [np.exp(1j * kk * x), np.exp(-1j * kk * x)],
                [1j * kk * np.exp(1j * kk * x), -1j * kk * np.exp(-1j * kk * x)],
            ]
        )

    total = np.linalg.solve(m(k, width), m(q, width)) @ np.linalg.solve(m(q, 0.0), m(k, 0.0))
    # (A_R, B_R) = total (A_L, B_L), with B_R = 0 and A_L = 1: T = |A_R|^2
    b_l = -total[1, 0] / total[1, 1]
    return float(abs(total[0, 0] + total[0, 1] * b_l) ** 2)


@pytest.mark.parametrize(
    ("energy", "height", "width"),
    [(1.0, 2.0, 7.0), (3.0, 2.0, 7.0), (4.9, 5.0, 2.0), (5.2, 5.0, 3.0), (9.0, 10.0, 1.0), (2.0, -3.0, 4.0)],
)
def test_plane_wave_transmission_matches_transfer_matrix(energy, height, width):
    expected = transfer_matrix_transmission(energy, height, width)
    assert analytic.plane_wave_transmission(energy, height, width) == pytest.approx(expected, rel=1e-6, abs=1e-14)


def test_plane_wave_transmission_limits():
    # continuous at E = V, where T = 1 / (1 + V a^2 / 2)
    at_top = analytic.plane_wave_transmission(5.0, 5.0, 7.0)
    assert at_top == pytest.approx(1 / (1 + 5 * 49 / 2))
    assert analytic.plane_wave_transmission(5.0 + 1e-9, 5.0, 7.0) == pytest.approx(at_top, rel=1e-6)
    assert analytic.plane_wave_transmission(5.0 - 1e-9, 5.0, 7.0) == pytest.approx(at_top, rel=1e-6)
    assert analytic.plane_wave_transmission(3.0, 0.0, 7.0) == 1.0
    assert analytic.plane_wave_transmission(1.0, 14.0, 24.0) < 1e-100  # no overflow for thick barriers


def test_packet_transmission_tends_to_plane_wave_for_wide_packets():
    plane = float(analytic.plane_wave_transmission(4.0, 5.0, 1.0))
    assert analytic.packet_transmission(4.0, 200.0, 5.0, 1.0) == pytest.approx(plane, rel=1e-3)
    # a narrow packet's high-momentum tail passes a thick barrier that stops its mean energy
    assert analytic.packet_transmission(9.0, 1.0, 10.0, 7.0) > 1e3 * analytic.plane_wave_transmission(9.0, 10.0, 7.0)


def test_packet_transmission_predicts_the_solver():
    """The stage boundary's T is the transmitted probability the teacher actually produces."""
    grid = Grid(n_frames=201)
    v = barrier(grid, height=5.0, width=1.0)
    bw = curriculum.width_on_grid(grid, 1.0)
    assert bw == pytest.approx(11 * grid.dx)
    psi = simulate(gaussian_packet(grid, 25.0, 3.0, 4.0), v, grid)
    transmitted = observables(psi, v, grid)["transmitted"]  # by t = 15..20 the pieces have separated
    assert transmitted[150] == pytest.approx(transmitted[200], abs=1e-3)
    assert transmitted[200] == pytest.approx(analytic.packet_transmission(4.0, 3.0, 5.0, bw), abs=0.01)


def test_paper_grids_and_stage_sizes():
    demo, full = curriculum.training_cases(curriculum.DEMO), curriculum.training_cases(curriculum.FULL)
    assert sum(len(demo[s]) for s in ("transmission", "tunnelling", "reflection")) == 567
    assert sum(len(full[s]) for s in ("transmission", "tunnelling", "reflection")) == 2646
    assert len(demo["free"]) == len(full["free"]) == 63
    assert {k: len(v) for k, v in demo.items()} == {
        "free": 63,
        "transmission": 231,
        "tunnelling": 93,
        "reflection": 243,
    }
    assert curriculum.DEMO.v_scale == 10 and curriculum.FULL.v_scale == 14
    barrier_cases = demo["transmission"] + demo["tunnelling"] + demo["reflection"]
    assert {c.x0 for c in barrier_cases} == {10.0, 40.0, 70.0}
    assert sorted({c.s0 for c in barrier_cases}) == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    assert sorted({c.e0 for c in barrier_cases}) == [float(e) for e in range(1, 10)]
    assert sorted({c.potential_params["height"] for c in barrier_cases}) == [2.0, 5.0, 10.0]
    assert {c.potential_params["width"] for c in barrier_cases} == {7.0}


def test_stage_rules():
    spec = curriculum.FULL
    for stage, cases in curriculum.training_cases(spec).items():
        for case in cases:
            assert case.stage == stage
            if stage == "free":
                assert case.family == "free"
                continue
            bh = case.potential_params["height"]
            bw = curriculum.width_on_grid(spec.grid, case.potential_params["width"])
            assert bw == pytest.approx(71 * spec.grid.dx)  # BW = 7 on the paper's grid
            t = analytic.packet_transmission(case.e0, case.s0, bh, bw)
            if stage == "transmission":
                assert case.e0 > bh
            else:
                assert case.e0 <= bh
                assert (t < spec.reflection_max) == (stage == "reflection")
    # the boundary moves with the threshold
    looser = dataclasses.replace(spec, reflection_max=1e-3)
    assert len(curriculum.training_cases(looser)["reflection"]) < len(curriculum.training_cases(spec)["reflection"])


def test_test_families_are_seeded_in_range_and_left_of_the_structure():
    spec = curriculum.DEMO
    first, again = curriculum.held_out_cases(spec), curriculum.held_out_cases(spec)
    assert first == again
    assert list(first) == [f"test_{f}" for f in curriculum.TEST_FAMILIES]
    other_seed = curriculum.held_out_cases(dataclasses.replace(spec, test_seed=1))
    assert first["test_barrier"] != other_seed["test_barrier"]
    grid = spec.grid
    for split, cases in first.items():
        family = split.removeprefix("test_")
        assert len(cases) == 12
        assert len({c.key for c in cases}) == 12
        for case in cases:
            assert case.family == family and case.stage == split
            assert 15 <= case.x0 <= 20 and 1 <= case.s0 <= 5 and 1.5 <= case.e0 <= 8.6
            for name, rule in curriculum.TEST_RANGES[family].items():
                value = case.potential_params[name]
                if rule[0] == "int":
                    assert rule[1] <= value <= rule[2] and isinstance(value, int)
                elif rule[0] == "fraction_of_width":
                    width = case.potential_params["width"]
                    assert rule[1] * width - 0.01 <= value <= rule[2] * width + 0.01
                else:
                    assert rule[0] <= value <= rule[1]
            v = case.potential(grid)
            left_edge = grid.x[np.flatnonzero(v)[0]]
            assert case.x0 + 3 * case.s0 < left_edge, (split, case)
    # the paper's single-barrier test ranges
    assert curriculum.TEST_RANGES["barrier"] == {"height": (0.5, 13.5), "width": (2.4, 24.0)}
    assert np.any(curriculum.held_out_cases(spec)["test_well"][0].potential(grid) < 0)


def test_ood_families_are_seeded_unseen_and_start_clear_of_the_structure():
    """Out-of-distribution cases: shapes no split contains, left-moving and fast packets; every packet's
    3-sigma extent is clear of the potential (|V| < 1 % of its peak), every sech^2 well reflectionless."""
    from qwave.physics.observables import mean_position
    from qwave.physics.packets import gaussian_packets

    spec = curriculum.FULL
    first = curriculum.ood_cases(spec)
    assert first == curriculum.ood_cases(spec) and list(first) == list(curriculum.OOD_FAMILIES)
    assert first["gaussian"] != curriculum.ood_cases(dataclasses.replace(spec, test_seed=1))["gaussian"]
    trained = {c.family for cases in curriculum.splits(curriculum.BROAD).values() for c in cases}
    grid = spec.grid
    for family, cases in first.items():
        assert len(cases) == 12 and len({c.key for c in cases}) == 12
        if family not in ("left", "fast"):
            assert not {c.family for c in cases} & trained, family
        for case in cases:
            v = case.potential(grid)
            near = np.abs(grid.x - case.x0) < 3 * case.s0
            assert np.abs(v[near]).max() < 0.01 * np.abs(v).max(), (family, case)
            psi = gaussian_packets(grid, [case.x0], [case.s0], [case.e0], [case.direction])
            moved = mean_position(simulate(psi, np.zeros(grid.nx), dataclasses.replace(grid, n_frames=2)), grid)
            assert np.sign(moved[0, 1] - moved[0, 0]) == (-1 if family == "left" else 1), (family, case)
            if family == "fast":
                assert 0.6 <= case.s0 <= 1.0 and 9.0 <= case.e0 <= 16.0
            if family == "sech2":
                p = case.potential_params
                assert analytic.sech2_transmission(np.array([0.5, 4.0, 9.0]), p["depth"], p["width"]) == (
                    pytest.approx(1.0, abs=1e-6)
                )
    assert {c.direction for c in first["left"]} == {-1} and first["left"][0].key.endswith("|dir=-1")


def test_splits_are_disjoint_and_keys_unique():
    all_cases = [c for cases in curriculum.splits(curriculum.FULL).values() for c in cases]
    keys = [c.key for c in all_cases]
    assert len(keys) == len(set(keys)) == 2646 + 63 + 120


def test_wide_landscapes_are_seeded_in_range_and_staged():
    spec = curriculum.WIDE
    cases = [c for stage in curriculum.STAGES for c in curriculum.training_cases(spec)[stage]]
    assert len(cases) == 4 * sum(n for _, n in spec.landscapes) == 1056
    assert len({c.key for c in cases}) == len(cases)
    assert cases == [c for stage in curriculum.STAGES for c in curriculum.training_cases(spec)[stage]]
    grid, lo, hi = spec.grid, 0.05 * spec.grid.lx, 0.95 * spec.grid.lx
    assert all(lo <= c.x0 <= hi and 1.0 <= c.s0 <= 4.5 and 0.5 <= c.e0 <= 9.0 for c in cases)
    families = {c.family for c in cases}
    assert families == {"free", "barrier", "well", "rectangles"}
    for case in cases[::7]:
        v = case.potential(grid)
        assert case.stage == curriculum.landscape_stage(grid, v, case.e0, case.s0, spec.reflection_max)
        if case.family == "barrier":  # one rectangle: the estimate is the single-barrier rule itself
            p = case.potential_params
            bw = curriculum.width_on_grid(grid, p["width"], p["center"])
            assert case.stage == curriculum.stage_of(case.e0, case.s0, p["height"], bw, spec.reflection_max)
            assert 0.5 <= p["height"] <= 14 and 1.5 <= p["width"] <= 25 and abs(p["center"] - 50) <= 10
        if case.family == "well":
            assert case.stage == "transmission" and v.min() < 0
        if case.family == "rectangles":
            assert 2 <= len(case.potential_params["heights"]) <= 5
    # each kind has its own stream: fewer multis leave the barriers unchanged
    fewer = dataclasses.replace(spec, landscapes=(("barrier", 96), ("multi", 3)))
    barriers = [c for c in curriculum.landscape_cases(fewer) if c.family == "barrier"]
    assert barriers == [c for c in curriculum.landscape_cases(spec) if c.family == "barrier"]


def test_landscape_stage_of_wells_and_free_space():
    grid = Grid()
    assert curriculum.landscape_stage(grid, np.zeros(grid.nx), 3.0, 2.0, 0.01) == "free"
    well = -barrier(grid, 4.0, 10.0)
    assert curriculum.landscape_stage(grid, well, 0.5, 2.0, 0.01) == "transmission"
    tall = barrier(grid, 12.0, 20.0)
    assert curriculum.landscape_stage(grid, tall, 2.0, 2.0, 0.01) == "reflection"
    assert curriculum.landscape_stage(grid, tall, 12.5, 2.0, 0.01) == "transmission"


def test_custom_config_landscapes():
    spec = curriculum.spec_from_dict(
        {"name": "mine", "base": "tiny", "landscapes": {"multi": 2, "well": 1, "packets": 2, "seed": 5}}
    )
    assert spec.landscapes == (("well", 1), ("multi", 2)) and spec.landscape_packets == 2
    cases = [c for c in curriculum.landscape_cases(spec)]
    assert len(cases) == 6 and {c.family for c in cases} == {"well", "rectangles"}
    assert sum(len(v) for k, v in curriculum.validate(spec).items() if k in curriculum.STAGES) > 6


def test_group_by_potential():
    cases = curriculum.splits(curriculum.DEMO)["reflection"]
    groups = curriculum.group_by_potential(cases, chunk=32)
    assert sorted(c.key for g in groups for c in g) == sorted(c.key for c in cases)
    for group in groups:
        assert 1 <= len(group) <= 32
        assert len({(c.family, c.params) for c in group}) == 1
    assert len(groups) == sum(math.ceil(n / 32) for n in _counts_by_potential(cases))


def _counts_by_potential(cases):
    counts: dict = {}
    for c in cases:
        counts[c.params] = counts.get(c.params, 0) + 1
    return counts.values()


def test_simulate_group_equals_single_runs():
    grid = Grid(nx=256, n_frames=6)
    spec = dataclasses.replace(curriculum.TINY, grid=grid, e0=(0.5, 1.5), s0=(2.0,), heights=(3.0,))
    cases = curriculum.training_cases(spec)["reflection"]
    assert len(cases) == 2
    out = dict(curriculum.simulate_group(grid, cases))
    for case in cases:
        v = case.potential(grid)
        psi = simulate(gaussian_packet(grid, case.x0, case.s0, case.e0), v, grid)
        ex = out[case.key]
        assert ex["psi"].shape == (6, 256, 2) and ex["psi"].dtype == np.float32
        np.testing.assert_allclose(ex["psi"][..., 0] + 1j * ex["psi"][..., 1], psi, atol=2e-6)
        np.testing.assert_allclose(ex["norm"], 1.0, atol=1e-5)
        assert ex["stage"] == case.stage and ex["family"] == "barrier"


def test_spec_from_dict_ranges_and_base():
    spec = curriculum.spec_from_dict(
        {
            "name": "mine",
            "base": "tiny",
            "barrier": {"e0": {"start": 1, "stop": 2, "step": 0.5}, "height": {"low": 2, "high": 4, "num": 3}},
            "free": {"s0": 1.5},
            "tests": {"cases": 3, "e0": [2, 3]},
            "grid": {"n_frames": 5},
        }
    )
    assert spec.e0 == (1.0, 1.5, 2.0)
    assert spec.heights == (2.0, 3.0, 4.0)
    assert spec.free_s0 == (1.5,)
    assert spec.test_cases == 3 and spec.test_e0 == (2.0, 3.0)
    assert spec.grid == Grid(nx=512, n_frames=5)
    assert spec.x0 == curriculum.TINY.x0  # from the base
    assert len(curriculum.validate(spec)["test_well"]) == 3


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"name": "bad", "barrier": {"e0": [1, -2]}},
            "packets: packet E0 must be >= 0 (kinetic energy, hartree), got -2.0",
        ),
        ({"name": "bad", "barrier": {"s0": [0]}}, "S0 must be positive"),
        ({"name": "bad", "barrier": {"x0": [150]}}, "X0=150.0"),
        ({"name": "bad", "barrier": {"e0": [600]}}, "E0=600.0 has wave number"),
        ({"name": "bad", "barrier": {"height": [-1]}}, "height BH must be >= 0"),
        ({"name": "bad", "barrier": {"width": [0]}}, "width must be positive"),
        ({"name": "bad", "grid": {"nx": 1023}}, "nx must be an even"),
        ({"name": "bad", "barrier": {"e0": {"start": 1, "stop": 0, "step": 1}}}, "stop >= start"),
        ({"name": "bad", "barrier": {"hieght": [1]}}, "unknown key(s) hieght"),
        ({"name": "bad", "tests": {"e0": [1]}}, "expected [low, high]"),
        ({"name": "demo"}, "taken by a built-in config"),
        ({"name": "bad", "landscapes": {"hills": 3}}, "unknown key(s) hills"),
        ({"name": "bad", "landscapes": {"multi": 2.5}}, "landscapes multi must be an integer"),
        ({"name": "bad", "landscapes": {"multi": -1}}, "a count >= 0"),
        ({"name": "bad", "landscapes": {"multi": 1, "packets": 0}}, "landscape packets must be >= 1"),
        ({"name": "2bad"}, "config name must be"),
    ],
)
def test_invalid_configs_name_the_bad_value(raw, message):
    with pytest.raises(QwaveInputError) as err:
        curriculum.validate(curriculum.spec_from_dict(raw))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_no_tensorflow_import():
    code = "import sys, qwave.curriculum; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

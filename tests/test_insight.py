"""Insight experiments end to end on ``tiny``: probes, saliency, map, ablation, report."""

import dataclasses
import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from qwave import curriculum
from qwave.data.trajectories import Trajectories
from qwave.emulator.models import build_model
from qwave.insight import ablation, locality
from qwave.insight.probes import ProbeWindows, initial_frames, sample_windows
from qwave.insight.symmetry import symmetry_errors, window_errors


class CopyLast(keras.Model):
    """Predicts that nothing changes: exactly mirror-, phase- and translation-equivariant."""

    n_in, window = 4, 23

    def call(self, x):
        return x[:, -1, :, :2]


@pytest.fixture(scope="module")
def cases(tiny_test_cases):
    return [c for cs in tiny_test_cases.values() for c in cs]


def test_probe_windows_follow_the_packet(cases):
    probes = sample_windows(cases, 10.0, n=64, seed=1)
    assert probes.psi.shape == (64, 5, 23, 2) and probes.v.shape == (64, 23)
    assert probes.inputs().shape == (64, 4, 23, 3)
    centre_density = (probes.psi[:, 0, 11] ** 2).sum(-1)
    assert np.median(centre_density) > 1e-3  # windows sit on the packet, not in empty space
    again = sample_windows(cases, 10.0, n=64, seed=1)
    np.testing.assert_array_equal(probes.psi, again.psi)


def test_equivariant_model_scores_zero(cases):
    probes = sample_windows(cases, 10.0, n=128)
    errors = symmetry_errors(CopyLast(), probes, initial_frames(cases[:3], 10.0))
    assert errors["mirror"] < 1e-7 and errors["phase"] < 1e-6 and errors["translation"] < 1e-6
    # its forward error is that of "nothing changes": ||psi_3 - psi_4|| / ||psi_4|| over the probe windows
    last, nxt = probes.psi[:, 3].astype(np.float64), probes.psi[:, 4].astype(np.float64)
    expected = np.sqrt(np.sum((last - nxt) ** 2) / np.sum(nxt**2))
    assert errors["forward"] == pytest.approx(expected, rel=1e-5) and expected > 1e-3  # not the dynamics


def test_time_reversal_is_exact_for_a_static_state():
    """psi constant in time: copying the last frame is the exact (and time-symmetric) dynamics."""
    psi = np.broadcast_to(np.random.default_rng(0).normal(size=(16, 1, 23, 2)), (16, 5, 23, 2)).astype(np.float32)
    psi = psi * np.array([1.0, 0.0], np.float32)  # real: conjugation leaves it unchanged
    errors = window_errors(CopyLast(), ProbeWindows(psi, np.zeros((16, 23), np.float32)))
    assert errors["time_reversal"] < 1e-7 and errors["forward"] < 1e-7


def test_generic_network_breaks_the_symmetries(cases):
    keras.utils.set_random_seed(0)
    model = build_model("gru")
    errors = window_errors(model, sample_windows(cases, 10.0, n=128))
    assert errors["mirror"] > 1e-2 and errors["phase"] > 1e-2


def test_saliency_of_copy_last_is_the_last_frame_at_offset_zero(cases):
    sal = locality.saliency(CopyLast(), sample_windows(cases, 10.0, n=32))
    assert sal.shape == (4, 45)
    np.testing.assert_allclose(locality.frame_shares(sal), [0, 0, 0, 1], atol=1e-12)
    # d Re out_j / d Re in_j = d Im out_j / d Im in_j = 1 at every cell: the sum of |Jacobian| entries is 2
    assert sal[3, 22] == pytest.approx(2.0, rel=1e-6) and np.count_nonzero(sal) == 1
    np.testing.assert_array_equal(locality.reach_cells(sal)[-1], 0)


def test_physical_reach():
    from qwave.physics.grid import Grid

    # k = sqrt(18) + 3 / 2 = 5.74 /bohr -> 0.574 bohr per 0.1 a.u. frame = 5.9 cells of 0.0977 bohr
    assert locality.physical_reach(Grid(), 9.0, 1.0) == pytest.approx(5.88, abs=0.01)


def test_ablation_variants_select_what_they_say():
    spec = dataclasses.replace(curriculum.TINY, heights=(2.0, 3.0, 5.0), landscapes=(("barrier", 6), ("well", 2)))
    cases = [c for stage in curriculum.training_cases(spec).values() for c in stage]
    examples = [
        {"stage": c.stage, "e0": c.e0, "potential": c.potential(spec.grid), "psi": np.zeros((2, spec.grid.nx, 2))}
        for c in cases
    ]
    traj = Trajectories.from_examples(examples, spec.v_scale, curriculum.STAGES)
    assert traj.n_sims == len(cases)
    assert "tunnelling" in {c.stage for c in cases}
    tunnelling = curriculum.STAGES.index("tunnelling")
    no_tunnelling = ablation.select(traj, "no_tunnelling")
    assert not np.any(no_tunnelling.stage[no_tunnelling.index] == tunnelling)
    narrow = ablation.select(traj, "narrow_heights")
    tops = set(np.round(narrow.potential[narrow.index].max(1) * spec.v_scale, 4))
    assert all(t <= 0 or min(abs(t - h) for h in (2.0, 5.0, 10.0)) <= 0.5 for t in tops)
    assert 3.0 not in tops and {0.0, 2.0, 5.0} <= tops  # grid heights, free space and wells
    assert narrow.n_sims < traj.n_sims
    low = ablation.select(traj, "low_energy")
    assert np.all(low.e0[low.index] <= 5) and low.n_sims < traj.n_sims
    assert ablation.select(traj, "all") is traj
    assert ablation.select(traj, "schedule:anneal") is traj
    assert ablation.select(traj, "model:linear") is traj
    with pytest.raises(Exception, match="unknown ablation variant"):
        ablation.select(traj, "no_gravity")


def test_ablation_runs_resumes_and_plots(tmp_path, tiny_test_cases):
    from qwave.data.sources import training_trajectories
    from qwave.emulator.training import TrainConfig

    traj = training_trajectories("curriculum:tiny")
    v_scale = traj.v_scale
    base = TrainConfig(model="gru", steps=8, steps_per_epoch=4, batch_size=64, jit=False)
    families = {f: c for f, c in list(tiny_test_cases.items())[:3]}
    probes = sample_windows([c for cs in families.values() for c in cs], v_scale, n=32)
    results = ablation.run_ablation(
        traj, families, base, tmp_path, ["all", "no_free"], (0, 1), n_steps=8, probes=probes
    )
    assert set(results) == {"all", "no_free"} and set(results["all"]) == {"0", "1"}
    for by_seed in results.values():
        for row in by_seed.values():
            assert set(row) == {*families, "overall"}
            # one case per family: the overall mean correlation is the mean of the family means
            assert row["overall"] == pytest.approx(np.mean([row[f] for f in families]), abs=1e-12)
            assert all(0 < v <= 1 for v in row.values())
    assert results["all"]["0"] != results["all"]["1"]  # the seed reaches the training
    assert results["all"]["0"] != results["no_free"]["0"]  # and so does the variant's subset
    history = json.loads((tmp_path / "all" / "seed0" / "symmetry_history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    mtime = (tmp_path / "results.json").stat().st_mtime_ns
    ablation.run_ablation(traj, families, base, tmp_path, ["all", "no_free"], (0, 1), n_steps=8)
    assert (tmp_path / "results.json").stat().st_mtime_ns == mtime  # nothing rerun
    table = ablation.summarize(results)
    ablation.plot_drops(tmp_path / "drops.png", table)
    assert (tmp_path / "drops.png").stat().st_size > 5000
    assert "± " in ablation.format_summary(table)
    staged = ablation.run_ablation(traj, families, base, tmp_path, ["schedule:staged"], (0,), n_steps=8)
    assert set(staged) == {"all", "no_free", "schedule:staged"}
    assert (
        json.loads((tmp_path / "schedule_staged" / "seed0" / "config.json").read_text())["train"]["schedule"]
        == "staged"
    )


def test_ablate_cli_tracks_symmetries_at_the_requested_interval(tiny_run, tmp_path):
    from qwave.cli import main

    out = tmp_path / "abl"
    args = ["ablate", str(tiny_run), "--train", "curriculum:tiny", "--tests", "curriculum:tiny", "--out", str(out)]
    args += ["--variants", "all", "--seeds", "0", "--steps", "8", "--track-every", "4", "--cases", "1", "--frames", "8"]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads((out / "settings.json").read_text())["steps"] == 8
    history = json.loads((out / "all" / "seed0" / "symmetry_history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]  # a probe every 4 of the 8 steps
    assert "all" in json.loads((out / "results.json").read_text())
    assert not (out / "ablation.png").exists()  # nothing to compare 'all' with
    bad = CliRunner().invoke(main, [*args[:-2], "--frames", "8", "--track-every", "3"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert [line for line in bad.output.splitlines() if line.startswith("Error:")] == [
        "Error: steps (8) must be a multiple of steps_per_epoch (3)"
    ]

"""`qwave evaluate|train|probe|report` end to end on ``tiny`` (checked against the library), bad input as one
`Error:` line that leaves nothing behind, and the shipped model reproducing a row of its evaluation table."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qwave import curriculum
from qwave.cli import main

FAMILIES = list(curriculum.TEST_FAMILIES)


def _invoke(*args):
    """Run ``qwave ARGS``; an exception other than click's would propagate and fail the test (a traceback)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _one_line_error(res, *fragments: str) -> str:
    """Exit code 1, exactly one line starting with 'Error:', no traceback; returns that line."""
    assert res.exit_code == 1, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, res.output
    assert "Traceback" not in res.output
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def model(tiny_run):
    from qwave.insight.report import load_run_model

    return load_run_model(tiny_run)[0]


@pytest.fixture(scope="module")
def held_out(tiny_test_cases) -> list[dict]:
    """curriculum:tiny's held-out cases in the order every command takes them (family by family)."""
    assert list(tiny_test_cases) == FAMILIES
    return [c for cs in tiny_test_cases.values() for c in cs]


# ---------------------------------------------------------------------------------------------- evaluate


def test_evaluate_writes_the_table_the_library_computes(tiny_run, tmp_path):
    """The CLI (held_out_examples of curriculum:tiny, the run's config) = conftest's library evaluate()."""
    from qwave.emulator.evaluate import format_table

    out = tmp_path / "ev"
    res = _invoke("evaluate", "--model", tiny_run, "--tests", "curriculum:tiny", "--frames", 16, "--out", out)
    assert res.exit_code == 0, res.output
    for name in ("table.md", "table.json", "curves.png", *(f"case_{f}.png" for f in FAMILIES)):
        assert (out / name).stat().st_size > 0, name
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "table.json").read_text())
    got, want = saved["rows"], json.loads((tiny_run / "eval" / "table.json").read_text())["rows"]
    assert list(got) == [*FAMILIES, "overall"] == list(want)
    for family in got:
        assert got[family]["cases"] == (10 if family == "overall" else 1)
        for key, value in want[family].items():
            want_value = value if value is None else pytest.approx(value, rel=1e-5, abs=1e-8)  # None: never below
            assert got[family][key] == want_value, (family, key)
    assert all(len(saved["curves"][f]["corr"]) == 16 for f in FAMILIES)
    table = format_table(got)
    assert (out / "table.md").read_text() == table + "\n"
    assert table in res.stdout  # printed as well
    assert f"| barrier | 1 | {got['barrier']['mean_corr']:.4f} |" in res.stdout


def test_evaluate_past_the_stored_frames_simulates_longer_cases(tiny_run, tmp_path):
    """tiny's cases hold 21 frames; a 30-frame forecast re-simulates them with 34.  The worst-case and
    valid-time columns agree with the per-case figures and with the worst-case curve."""
    from qwave.data.sources import held_out_examples

    out = tmp_path / "long"
    res = _invoke("evaluate", "--model", tiny_run, "--tests", "curriculum:tiny", "--frames", 30, "--out", out)
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "table.json").read_text())
    assert held_out_examples("curriculum:tiny", 1, n_frames=34)["barrier"][0]["psi"].shape[0] == 34
    for family in FAMILIES:
        row, cases, worst = saved["rows"][family], saved["per_case"][family], saved["curves"][family]["corr_min"]
        assert row["frames"] == 30 and len(worst) == 30 and len(cases) == 1
        assert row["worst_mean"] == pytest.approx(min(c["mean_corr"] for c in cases), rel=1e-12)
        assert row["worst_mean"] == pytest.approx(np.mean(worst), rel=1e-6)  # one case: the envelope is that case
        for t in (0.99, 0.9):
            below = [k + 1 for k, c in enumerate(worst) if c < t]
            assert row[f"first<{t}"] == (below[0] if below else None) == cases[0][f"first<{t}"], (family, t)
    overall = saved["rows"]["overall"]
    firsts = [c["first<0.9"] for f in FAMILIES for c in saved["per_case"][f] if c["first<0.9"]]
    assert overall["first<0.9"] == (min(firsts) if firsts else None)
    header = (out / "table.md").read_text().splitlines()[0]
    assert "worst_mean" in header and "first<0.99" in header and "worst@400" not in header  # 30 frames only


def test_evaluate_ood_families(tiny_run, tmp_path):
    """--tests ood:<config> forecasts the out-of-distribution families (one case each on tiny's grid)."""
    from qwave.curriculum import OOD_FAMILIES

    out = tmp_path / "ood"
    res = _invoke("evaluate", "--model", tiny_run, "--tests", "ood:tiny", "--frames", 8, "--out", out)
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "table.json").read_text())
    assert list(saved["rows"]) == [*OOD_FAMILIES, "overall"]
    assert [len(saved["per_case"][f]) for f in OOD_FAMILIES] == [1] * len(OOD_FAMILIES)
    res = _invoke("evaluate", "--model", tiny_run, "--tests", "ood:nope", "--out", tmp_path / "bad")
    assert res.exit_code != 0 and "nope" in res.output and not (tmp_path / "bad").exists()


def test_evaluate_v_clip_reaches_the_rollout(tiny_run, tmp_path):
    """Clamping V/v_scale at 0.05 must change the forecast where barriers are taller (tiny's reach 0.5+):
    against conftest's evaluation with the default clamp (1)."""
    out = tmp_path / "clip"
    res = _invoke(
        "evaluate", "--model", tiny_run, "--tests", "curriculum:tiny", "--frames", 16, "--out", out, "--v-clip", 0.05
    )
    assert res.exit_code == 0, res.output
    clipped = json.loads((out / "table.json").read_text())["rows"]
    default = json.loads((tiny_run / "eval" / "table.json").read_text())["rows"]
    assert list(clipped) == list(default)
    assert abs(clipped["overall"]["mean_corr"] - default["overall"]["mean_corr"]) > 1e-6


# ------------------------------------------------------------------------------------------------- train


def test_train_recipe_holds_the_papers_values_and_flags_override():
    from qwave.emulator.recipes import recipe
    from qwave.emulator.training import TrainConfig

    cfg = TrainConfig(**recipe("paper-demo"))
    assert (cfg.model, cfg.batch_size, cfg.lr, cfg.final_lr, cfg.decay, cfg.weight_decay, cfg.clipnorm) == (
        "gru",
        128,
        1e-3,
        1e-6,
        "linear",
        0.01,
        1.0,
    )
    assert (cfg.steps, cfg.noise, cfg.phase, cfg.mirror, cfg.overlap_weight) == (900_000, 0.0, False, False, 50.0)
    assert cfg.stages == ["transmission", "tunnelling", "reflection"] and cfg.data == "tfds:demo"
    full = TrainConfig(**recipe("paper-full"))
    assert full.steps == 5_290_000 and full.data == "tfds:full"
    stable = TrainConfig(**recipe("qwave-gru"))  # the paper's GRU size, qwave's training defaults
    assert (stable.model, stable.model_kwargs, stable.data) == (
        "gru_res",
        {"hidden": 69, "normalize": True},
        "tfds:wide",
    )
    defaults = TrainConfig()
    assert (stable.batch_size, stable.phase, stable.mirror, stable.decay) == (
        defaults.batch_size,
        defaults.phase,
        defaults.mirror,
        defaults.decay,
    )
    assert (stable.noise, stable.final_noise, stable.steps) == (2e-3, 1e-3, 190_000)  # the noise schedule


@pytest.mark.parametrize("name", ["paper-demo", "paper-full", "qwave-gru"])
def test_each_recipe_trains_a_few_steps(name, tmp_path):
    """The preset runs end to end (its gru, optimizer, schedule, sampler, snapshots) with only the data and
    the length overridden; config.json records the recipe and keeps its values (the defaults where it sets none)."""
    from qwave.emulator.recipes import recipe
    from qwave.emulator.training import TrainConfig

    run = tmp_path / name
    args = ["train", "--recipe", name, "--out", run, "--data", "curriculum:tiny", "--steps", 40]
    res = _invoke(*args, "--steps-per-epoch", 20, "--snapshot-every", 1, "--no-jit")
    assert res.exit_code == 0, res.output
    saved = json.loads((run / "config.json").read_text())["train"]
    preset = recipe(name)
    assert saved["recipe"] == name and saved["steps"] == 40 and saved["data"] == "curriculum:tiny"
    defaults = TrainConfig()
    for key in ("model", "model_kwargs", "batch_size", "lr", "final_lr", "decay", "weight_decay", "clipnorm"):
        assert saved[key] == preset.get(key, getattr(defaults, key)), key
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == ["step-00000020.keras", "step-00000040.keras"]
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))


def test_train_writes_a_run_and_refuses_to_overwrite_it(tmp_path):
    import keras

    from qwave.emulator.artefacts import load_keras_model
    from qwave.emulator.models import LinearEmulator
    from qwave.emulator.training import weights_equal

    run = tmp_path / "run"
    args = ["train", "--out", run, "--data", "curriculum:tiny", "--model", "linear", "--steps", 20]
    args += ["--steps-per-epoch", 10, "--batch-size", 64, "--no-jit", "--seed", 3]
    res = _invoke(*args)
    assert res.exit_code == 0, res.output
    assert f"model written to {run}/model.keras" in res.stdout
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["model"] == "linear" and config["train"]["steps"] == 20 and config["train"]["seed"] == 3
    assert config["train"]["data"] == "curriculum:tiny" and config["v_scale"] == 10.0
    assert (config["n_sims"], config["n_frames"], config["nx"]) == (14, 21, 512)  # tiny: 2 + 6 + 1 + 5 sims
    assert json.loads((run / "checkpoint.json").read_text())["epoch"] == 2
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"]))
    assert len((run / "history.csv").read_text().splitlines()) == 3  # header + 2 epochs
    final = load_keras_model(run / "model.keras")
    assert isinstance(final, LinearEmulator) and (final.n_in, final.window) == (4, 23)
    checkpoint = keras.models.load_model(run / "checkpoint.keras", safe_mode=True)
    assert weights_equal(final, checkpoint)  # the last checkpoint is the final model (+ optimizer)

    before = (run / "config.json").read_bytes()
    _one_line_error(_invoke(*args), "already holds a run", "--resume")
    _one_line_error(_invoke(*args[:-2], "--seed", 4, "--resume"), "configuration different")
    assert (run / "config.json").read_bytes() == before


# ------------------------------------------------------------------------------------------------- probe


def test_probe_symmetry_equals_the_library(tiny_run, model, held_out):
    from qwave.insight.probes import initial_frames, sample_windows
    from qwave.insight.symmetry import SYMMETRIES, symmetry_errors

    res = _invoke("probe", "symmetry", tiny_run, "--tests", "curriculum:tiny", "--cases", 1, "--windows", 64)
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    probes = sample_windows(held_out, 10.0, model.n_in, model.window, 64)
    want = symmetry_errors(model, probes, initial_frames(held_out[:8], 10.0, model.n_in))
    assert set(got) == {*SYMMETRIES, "forward"}
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-5), key
    assert got["translation"] < 1e-5  # stride 1: the whole-box step is translation-equivariant by construction


def test_probe_locality_prints_the_saliency_shares_and_draws_them(tiny_run, model, held_out, tmp_path):
    from qwave.insight.locality import frame_shares, reach_cells, saliency
    from qwave.insight.probes import sample_windows

    png = tmp_path / "saliency.png"
    res = _invoke(
        "probe", "locality", tiny_run, "--tests", "curriculum:tiny", "--cases", 1, "--windows", 32, "--plot", png
    )
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    lines = [line for line in res.stdout.splitlines() if line.startswith("frame t-")]
    assert [line.split(":")[0] for line in lines] == ["frame t-3", "frame t-2", "frame t-1", "frame t-0"]
    sal = saliency(model, sample_windows(held_out, 10.0, model.n_in, model.window, 32))
    shares, r90 = frame_shares(sal), reach_cells(sal)
    for line, share, reach in zip(lines, shares, r90, strict=True):
        assert f"share {share:.3f}, 90% within {reach} cells" in line
    assert sum(float(line.split("share ")[1].split(",")[0]) for line in lines) == pytest.approx(1.0, abs=2e-3)


def test_probe_generalisation_equals_the_library(tiny_run, model, tmp_path):
    from qwave.insight.generalisation import generalisation_map

    png = tmp_path / "map.png"
    args = ["probe", "generalisation", tiny_run, "--energies", "2,6", "--heights", "3", "--widths", "4,7"]
    res = _invoke(*args, "--frames", 6, "--plot", png)
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    want = generalisation_map(model, 10.0, [2.0, 6.0], [3.0], [4.0, 7.0], n_steps=6)
    assert np.array(got["eh"]).shape == (2, 1) and len(got["w"]) == 2
    np.testing.assert_allclose(got["eh"], want["eh"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(got["w"], want["w"], rtol=0, atol=1e-6)
    assert np.all(np.array(got["eh"]) <= 1 + 1e-9)  # Cauchy-Schwarz
    assert png.read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------------------------------------ report


def test_report_quick_on_tiny(tiny_run, model, tiny_test_cases, tmp_path):
    from qwave.emulator.evaluate import evaluate
    from qwave.insight.report import QUICK
    from qwave.physics.grid import Grid

    res = _invoke("report", tiny_run, "--tests", "curriculum:tiny", "--train", "none", "--quick", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"report: {tmp_path / 'report.md'}"
    text = (tmp_path / "report.md").read_text()
    for heading in ("Forecast fidelity", "Symmetries", "Locality", "Generalisation map", "Budget"):
        assert f"## {heading}" in text
    assert "Relative importance" not in text  # --train none and no ablation directory
    for png in ("saliency.png", "generalisation.png", "eval/curves.png"):
        assert (tmp_path / png).stat().st_size > 5000
    # tiny has 21 frames: the QUICK budget's 400-frame forecast is cut to the 17 the cases hold
    frames = 21 - model.n_in
    assert f"{frames}-frame forecasts" in text
    rows = json.loads((tmp_path / "eval" / "table.json").read_text())["rows"]
    want = evaluate(model, tiny_test_cases, 10.0, Grid(nx=512), n_steps=frames)["rows"]
    for family in want:
        assert rows[family]["mean_corr"] == pytest.approx(want[family]["mean_corr"], rel=1e-6), family
        assert f"| {family} | {rows[family]['mean_corr']:.4f} |" in text
    gmap = json.loads((tmp_path / "generalisation.json").read_text())
    assert gmap["energies"] == list(QUICK.map_energies) and gmap["widths"] == list(QUICK.map_widths)
    assert np.array(gmap["eh"]).shape == (len(QUICK.map_energies), len(QUICK.map_heights))
    assert gmap["frame"] == frames and np.all(np.array(gmap["eh"]) <= 1 + 1e-9)


# -------------------------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def bad(tmp_path_factory, tiny_run):
    """Paths a new user gets wrong: a file where a directory should be, /proc (no file can be created there,
    even by root), a corrupt and a foreign .keras, an empty TFDS data directory; ``new`` must stay absent."""
    import keras

    root = tmp_path_factory.mktemp("bad")
    (root / "file.txt").write_text("not a directory\n")
    (root / "corrupt.keras").write_bytes(b"garbage, not a zip archive")
    foreign = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    foreign.save(root / "foreign.keras")
    (root / "tfds").mkdir()
    return types.SimpleNamespace(
        root=root,
        run=tiny_run,
        under_file=root / "file.txt",
        proc=Path("/proc/qwave-test-output"),
        corrupt=root / "corrupt.keras",
        foreign=root / "foreign.keras",
        empty=root / "tfds",
        new=root / "new",
    )


TINY_TRAIN = ["--data", "curriculum:tiny", "--steps", 10, "--steps-per-epoch", 10, "--batch-size", 16]
BUILD_DEMO = "run `qwave dataset build --config demo --data-dir "

BAD_INPUTS = {
    # simulate
    "simulate-out-under-file": (
        lambda b: ["simulate", "--quiet", "--frames", 3, "-o", b.under_file / "x.npz"],
        ["output directory", "file.txt"],
    ),
    "simulate-out-in-proc": (lambda b: ["simulate", "--quiet", "--frames", 3, "-o", b.proc], ["not writable"]),
    "simulate-plot-under-file": (
        lambda b: ["simulate", "--quiet", "--frames", 3, "-o", b.new / "x.npz", "--plot", b.under_file / "p.png"],
        ["output directory"],
    ),
    "simulate-list-for-number": (
        lambda b: [
            "simulate",
            "--quiet",
            "--frames",
            3,
            "-o",
            b.root / "x.npz",
            "--potential",
            "barrier",
            "-p",
            "width=[1]",
        ],
        ["potential 'barrier': width must be a number, got [1]"],
    ),
    "simulate-text-for-number": (
        lambda b: ["simulate", "--quiet", "--frames", 3, "-o", b.root / "x.npz", "-p", "height=abc", "-p", "width=7"],
        ['height must be a number, got "abc"'],
    ),
    # train
    "train-out-under-file": (lambda b: ["train", "--out", b.under_file / "run", *TINY_TRAIN], ["cannot create"]),
    "train-out-in-proc": (lambda b: ["train", "--out", b.proc, *TINY_TRAIN], ["not writable"]),
    "train-resume-nothing": (lambda b: ["train", "--out", b.new, "--resume", *TINY_TRAIN], ["nothing to resume"]),
    "train-unbuilt-tfds": (
        lambda b: ["train", "--out", b.new, "--data", "tfds:demo", "--data-dir", b.empty],
        ["qwave_curriculum/demo is not built in", BUILD_DEMO + "{empty}`"],
    ),
    "train-unknown-model-option": (
        lambda b: ["train", "--out", b.new, *TINY_TRAIN, "--model-arg", "bogus=1"],
        ["model 'hyperlinear' takes", "unknown: bogus"],
    ),
    "train-model-option-type": (
        lambda b: ["train", "--out", b.new, *TINY_TRAIN, "--model", "gru", "--model-arg", "hidden=[69]"],
        ["model option hidden must be a positive integer, got [69]"],
    ),
    "train-negative-lr": (lambda b: ["train", "--out", b.new, *TINY_TRAIN, "--lr", -1], ["learning rate must be > 0"]),
    "train-too-many-input-frames": (
        lambda b: ["train", "--out", b.new, *TINY_TRAIN, "--frames-in", 30],
        ["curriculum:tiny has 21 frames per simulation", "need 31"],
    ),
    "train-pushforward-zero": (
        lambda b: ["train", "--out", b.new, *TINY_TRAIN, "--pushforward", 0],
        ["pushforward is the number of frames forecast per window, >= 1, got 0"],
    ),
    "train-pushforward-too-long": (
        lambda b: ["train", "--out", b.new, *TINY_TRAIN, "--pushforward", 18],
        ["21 frames per simulation", "4 input frames and 18 target frames need 22"],
    ),
    # evaluate
    "evaluate-out-under-file": (
        lambda b: ["evaluate", "--tests", "curriculum:tiny", "--frames", 5, "--out", b.under_file / "ev"],
        ["cannot create", "is not a directory"],
    ),
    "evaluate-out-in-proc": (
        lambda b: ["evaluate", "--model", b.run, "--tests", "curriculum:tiny", "--frames", 5, "--out", b.proc],
        ["not writable"],
    ),
    "evaluate-corrupt-keras": (
        lambda b: ["evaluate", "--model", b.corrupt, "--tests", "curriculum:tiny", "--out", b.new],
        ["corrupt.keras is not a .keras file (not a zip archive)"],
    ),
    "evaluate-foreign-keras": (
        lambda b: ["evaluate", "--model", b.foreign, "--tests", "curriculum:tiny", "--out", b.new],
        ["foreign.keras holds a Sequential, not a qwave emulator"],
    ),
    "evaluate-unbuilt-tfds": (
        lambda b: ["evaluate", "--model", b.run, "--tests", "tfds:demo", "--data-dir", b.empty, "--out", b.new],
        ["qwave_curriculum/demo is not built in", BUILD_DEMO + "{empty}`"],
    ),
    "evaluate-zero-frames": (
        lambda b: ["evaluate", "--model", b.run, "--tests", "curriculum:tiny", "--frames", 0, "--out", b.new],
        ["the forecast needs >= 1 frame, got --frames 0"],
    ),
    "evaluate-zero-cases": (
        lambda b: ["evaluate", "--model", b.run, "--tests", "curriculum:tiny", "--cases", 0, "--out", b.new],
        ["cases per family must be >= 1"],
    ),
    "evaluate-stride-not-dividing": (
        lambda b: ["evaluate", "--model", b.run, "--tests", "curriculum:tiny", "--frames", 5, "--stride", 5],
        ["stride must be a positive divisor of nx=512"],
    ),
    "evaluate-zero-sigma": (
        lambda b: ["evaluate", "--model", b.run, "--tests", "curriculum:tiny", "--sigma", 0, "--out", b.new],
        ["sigma must be a positive number"],
    ),
    "evaluate-missing-model": (
        lambda b: ["evaluate", "--model", b.new / "model.keras", "--out", b.new],
        ["does not exist"],
    ),
    "evaluate-unknown-tests": (
        lambda b: ["evaluate", "--model", b.run, "--tests", "wide", "--out", b.new],
        ["unknown test source 'wide'"],
    ),
    # probe
    "probe-missing-model": (lambda b: ["probe", "symmetry", b.new], ["does not exist"]),
    "probe-corrupt-keras": (lambda b: ["probe", "symmetry", b.corrupt], ["not a .keras file"]),
    "probe-foreign-keras": (lambda b: ["probe", "locality", b.foreign], ["not a qwave emulator"]),
    "probe-unbuilt-tfds": (
        lambda b: ["probe", "symmetry", b.run, "--tests", "tfds:demo", "--data-dir", b.empty],
        [BUILD_DEMO + "{empty}`"],
    ),
    "probe-zero-windows": (
        lambda b: ["probe", "symmetry", b.run, "--tests", "curriculum:tiny", "--windows", 0],
        ["--windows must be >= 1"],
    ),
    "probe-plot-under-file": (
        lambda b: ["probe", "generalisation", b.run, "--plot", b.under_file / "g.png"],
        ["output directory"],
    ),
    # report
    "report-missing-model": (lambda b: ["report", b.new, "--train", "none"], ["does not exist"]),
    "report-corrupt-keras": (lambda b: ["report", b.corrupt, "--train", "none"], ["not a .keras file"]),
    "report-foreign-keras": (lambda b: ["report", b.foreign, "--train", "none"], ["not a qwave emulator"]),
    "report-out-under-file": (
        lambda b: ["report", b.run, "--train", "none", "--out", b.under_file / "rep"],
        ["cannot create"],
    ),
    "report-unbuilt-train-data": (
        lambda b: (
            ["report", b.run, "--tests", "curriculum:tiny", "--train", "tfds:demo", "--data-dir", b.empty]
            + ["--out", b.new]
        ),
        [BUILD_DEMO + "{empty}`"],
    ),
    "report-not-an-ablation": (
        lambda b: ["report", b.run, "--train", "none", "--ablation-dir", b.empty, "--out", b.new],
        ["holds no results.json"],
    ),
    # dataset, ablate
    "dataset-plot-unbuilt": (
        lambda b: ["dataset", "plot", "--config", "tiny", "--data-dir", b.empty, "-o", b.root / "x.png"],
        ["qwave_curriculum/tiny is not built", "run `qwave dataset build --config tiny --data-dir"],
    ),
    "dataset-build-under-file": (
        lambda b: ["dataset", "build", "--config", "tiny", "--data-dir", b.under_file / "d", "--quiet"],
        ["cannot create"],
    ),
    "ablate-unknown-variant": (
        lambda b: ["ablate", b.run, "--variants", "all,no_gravity", "--out", b.new],
        ["unknown ablation variant 'no_gravity'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_and_writes_nothing(case, bad):
    if "proc" in case and not Path("/proc").is_dir():
        pytest.skip("no /proc")
    make_args, fragments = BAD_INPUTS[case]
    fragments = [f.format(empty=bad.empty) for f in fragments]
    _one_line_error(_invoke(*make_args(bad)), *fragments)
    assert not bad.new.exists()  # no output directory or file begun
    assert not os.listdir(bad.empty)  # nothing built
    assert sorted(p.name for p in bad.root.iterdir()) == [
        "corrupt.keras",
        "file.txt",
        "foreign.keras",
        "tfds",
    ]  # no temporary files beside the targets


# ---------------------------------------------------------------------------------------- shipped model


def test_shipped_model_loads_in_safe_mode_and_reproduces_its_weakest_row():
    """qwave/pretrained/default was evaluated on its config's built test splits (COMMAND.txt): 12 cases per
    family, 400 frames.  Every config's test splits are the same seeded cases, so simulating them now must give
    the table again: here every column and the mean correlation curve of its lowest family at frame 400
    (tests/test_pretrained.py checks the barrier row's correlations)."""
    import keras

    from qwave.data.sources import held_out_examples
    from qwave.emulator.artefacts import default_pretrained, load_source
    from qwave.emulator.evaluate import evaluate
    from qwave.emulator.models import Emulator

    root = default_pretrained()
    assert isinstance(keras.models.load_model(root / "model.keras", safe_mode=True, compile=False), Emulator)
    assert "qwave evaluate --model runs/default --tests tfds:" in (root / "COMMAND.txt").read_text()
    table = json.loads((root / "evaluation" / "table.json").read_text())
    rows = {f: r for f, r in table["rows"].items() if f != "overall"}
    weakest = min(rows, key=lambda f: rows[f]["corr@400"])
    want = rows[weakest]
    src = load_source(None)
    families = held_out_examples("curriculum:full", n_per_family=want["cases"], families=[weakest])
    assert len(families[weakest]) == want["cases"] == 12
    result = evaluate(src.model, families, src.v_scale, src.grid, n_steps=400)
    got = result["rows"][weakest]
    assert got["cases"] == 12
    for key in ("mean_corr", "worst_mean", "corr@100", "corr@200", "corr@400", "worst@400"):
        assert got[key] == pytest.approx(want[key], abs=1e-4), key
    assert got["first<0.99"] == want["first<0.99"]
    for key in ("mae", "transmitted_error"):
        assert got[key] == pytest.approx(want[key], rel=1e-4), key
    # the norm is renormalised every frame, so its drift is float32 round-off summed over 400 frames: its size,
    # not its digits, is reproducible across CPUs (1.81e-5 on a 2026-12-07 machine against 1.87e-5 recorded)
    assert got["norm_drift"] == pytest.approx(want["norm_drift"], rel=0.2)
    np.testing.assert_allclose(result["curves"][weakest]["corr"], table["curves"][weakest]["corr"], atol=1e-4)
    assert f"| {weakest} | 12 | {got['mean_corr']:.4f} | {got['worst_mean']:.4f} |" in (root / "eval.md").read_text()

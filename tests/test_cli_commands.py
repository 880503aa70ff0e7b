"""End-to-end CLI tests of train, evaluate and probe, and the bad inputs each must answer with one line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qwave.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_evaluate_writes_the_table_of_every_family(tiny_run, tmp_path):
    out = tmp_path / "eval"
    result = _run("evaluate", "--model", tiny_run, "--tests", "curriculum:tiny", "--frames", 8, "--out", out)
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "table.json").read_text())["rows"]
    from qwave import curriculum

    assert set(rows) == {*curriculum.TEST_FAMILIES, "overall"}
    assert rows["overall"]["cases"] == len(curriculum.TEST_FAMILIES)
    assert "| overall |" in result.output and (out / "curves.png").is_file()


def test_evaluate_v_clip_reaches_the_rollout(tiny_run, tmp_path):
    """Clamping V/v_scale at 0.05 must change the forecast where barriers are taller (tiny's reach 0.5+)."""
    tables = {}
    for clip in ("1", "0.05"):
        out = tmp_path / clip
        assert (
            _run(
                "evaluate",
                "--model",
                tiny_run,
                "--tests",
                "curriculum:tiny",
                "--frames",
                8,
                "--out",
                out,
                "--v-clip",
                clip,
            ).exit_code
            == 0
        )
        tables[clip] = json.loads((out / "table.json").read_text())["rows"]["overall"]["mean_corr"]
    assert tables["1"] != tables["0.05"]


def test_train_writes_a_run_and_resume_refuses_an_empty_directory(tmp_path):
    run = tmp_path / "run"
    result = _run(
        "train",
        "--out",
        run,
        "--data",
        "curriculum:tiny",
        "--model",
        "linear",
        "--steps",
        20,
        "--steps-per-epoch",
        10,
        "--batch-size",
        32,
    )
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["steps"] == 20 and (run / "model.keras").is_file()
    assert json.loads((run / "checkpoint.json").read_text())["epoch"] == 2
    _one_line_error(_run("train", "--out", tmp_path / "none", "--data", "curriculum:tiny", "--resume"), "resume")


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


def test_probe_symmetry_reports_every_symmetry(tiny_run):
    result = _run("probe", "symmetry", tiny_run, "--tests", "curriculum:tiny", "--cases", 1, "--windows", 64)
    assert result.exit_code == 0, result.output
    for name in ("mirror", "phase", "time_reversal", "translation"):
        assert name in result.output


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("evaluate", "--model", "{junk}", "--tests", "curriculum:tiny"), ("not a .keras file",)),
        (("evaluate", "--model", "{foreign}", "--tests", "curriculum:tiny"), ("not a qwave emulator",)),
        (("evaluate", "--model", "{run}", "--tests", "tfds:tiny", "--data-dir", "{empty}"), ("not built",)),
        (("evaluate", "--model", "{run}", "--tests", "curriculum:tiny", "--frames", "0"), ("frame",)),
        (("evaluate", "--model", "{run}", "--tests", "curriculum:tiny", "--out", "{file}/eval"), ("not a directory",)),
        (("evaluate", "--model", "{run}", "--tests", "nowhere"), ("unknown test source",)),
        (("evaluate", "--model", "{run}", "--tests", "curriculum:tiny", "--sigma", "0"), ("sigma",)),
    ],
)
def test_bad_input_gets_one_line(args, needles, tiny_run, tmp_path):
    import keras

    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]).save(tmp_path / "foreign.keras")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("a file, not a directory")
    values = {
        "junk": tmp_path / "junk.keras",
        "foreign": tmp_path / "foreign.keras",
        "run": tiny_run,
        "empty": tmp_path / "empty",
        "file": tmp_path / "file",
    }
    result = _run(*(a.format(**values) for a in args))
    _one_line_error(result, *needles)
    assert not list((tmp_path / "empty").iterdir())  # nothing built, nothing half-written

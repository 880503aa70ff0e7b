"""The qwave_curriculum TFDS dataset on the ``tiny`` config: builder machinery, contents, Beam, CLI, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import qwave.datasets  # noqa: F401  (registers qwave_curriculum)
import tensorflow_datasets as tfds
from click.testing import CliRunner
from qwave.datasets.qwave_curriculum import qwave_curriculum_dataset_builder as builder_module

from qwave import curriculum
from qwave.cli import main
from qwave.data import tfds as lib
from qwave.physics.packets import gaussian_packet
from qwave.physics.solver import simulate

REPO = Path(__file__).resolve().parents[1]
TINY_SPLITS = {
    "free": 2,
    "transmission": 6,
    "tunnelling": 1,
    "reflection": 5,
    **{f"test_{family}": 1 for family in curriculum.TEST_FAMILIES},
}


def _examples(data_dir: Path, config: str = "tiny") -> dict[str, list[dict]]:
    builder = lib.get_builder(config, data_dir)
    return {
        split: list(builder.as_dataset(split=split).as_numpy_iterator()) for split in sorted(builder.info.splits.keys())
    }


def _ident(ex: dict) -> tuple:
    return (ex["family"], ex["potential_params"], ex["x0"], ex["s0"], ex["e0"])


def assert_same_examples(data_dir: Path, reference: dict[str, list[dict]]) -> None:
    """Same splits, same examples (every feature bit for bit), in the same stored order.

    Decoded examples are compared, not shard bytes: protobuf writes a tf.train.Example's feature map in
    an order that may differ between processes.
    """
    got, want = _examples(data_dir), reference
    assert {k: len(v) for k, v in got.items()} == {k: len(v) for k, v in want.items()} == TINY_SPLITS
    for split, examples in want.items():
        for ex, other in zip(examples, got[split], strict=True):
            for name, value in ex.items():
                np.testing.assert_array_equal(value, other[name], err_msg=f"{split} {name}")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """tiny, built once through the CLI."""
    data_dir = tmp_path_factory.mktemp("tfds")
    result = CliRunner().invoke(main, ["dataset", "build", "--config", "tiny", "--data-dir", str(data_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.fixture(scope="module")
def tiny_examples(tiny_dir) -> dict[str, list[dict]]:
    """Every example of the tiny build, per split, in stored order."""
    return _examples(tiny_dir)


class QwaveCurriculumBuilderTest(tfds.testing.DatasetBuilderTestCase):
    """TFDS's own builder checks: registration, info, tags, generation, splits disjoint, reload."""

    DATASET_CLASS = builder_module.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["tiny"]
    SPLITS = TINY_SPLITS
    SKIP_CHECKSUMS = True  # nothing is downloaded


def test_splits_counts_metadata_and_features(tiny_dir):
    builder = lib.get_builder("tiny", tiny_dir)
    assert builder.is_prepared()
    assert {name: split.num_examples for name, split in builder.info.splits.items()} == TINY_SPLITS
    meta = builder.info.metadata
    assert meta["v_scale"] == 10.0
    assert meta["grid"] == {"lx": 100.0, "nx": 512, "dt": 0.0005, "steps_per_frame": 200, "n_frames": 21}
    assert curriculum.spec_from_metadata(meta["spec"]) == curriculum.TINY
    assert builder.info.citation.startswith("@article{yao2023emulating")
    ex = next(builder.as_dataset(split="tunnelling").as_numpy_iterator())
    assert ex["psi"].shape == (21, 512, 2) and ex["psi"].dtype == np.float32
    assert ex["potential"].shape == (512,) and ex["potential"].dtype == np.float32
    for name in ("norm", "energy", "mean_x", "transmitted", "reflected"):
        assert ex[name].shape == (21,) and ex[name].dtype == np.float32
    assert ex["stage"] == b"tunnelling" and ex["family"] == b"barrier"
    assert json.loads(ex["potential_params"]) == {"height": 2.0, "width": 7.0}


def _planned(spec: curriculum.CurriculumSpec) -> dict[tuple, curriculum.Case]:
    """Planned cases keyed like _ident of a stored example (which holds X0, S0, E0 as float32)."""
    return {
        (c.family.encode(), c.params.encode(), np.float32(c.x0), np.float32(c.s0), np.float32(c.e0)): c
        for cases in curriculum.splits(spec).values()
        for c in cases
    }


def test_stored_trajectories_equal_a_fresh_solver_run(tiny_examples):
    grid = curriculum.TINY.grid
    planned = _planned(curriculum.TINY)
    for split, examples in tiny_examples.items():
        for ex in examples:
            case = planned[_ident(ex)]
            assert case.stage == split
            v = case.potential(grid)
            np.testing.assert_array_equal(ex["potential"], v.astype(np.float32))
            psi = simulate(gaussian_packet(grid, case.x0, case.s0, case.e0), v, grid)
            stored = ex["psi"][..., 0] + 1j * ex["psi"][..., 1].astype(np.float64)
            np.testing.assert_allclose(stored, psi, rtol=0, atol=1e-6, err_msg=f"{split} {case.key}")
            np.testing.assert_allclose(ex["norm"], 1.0, atol=1e-5)


def test_splits_disjoint_labelled_and_as_planned(tiny_examples):
    planned = _planned(curriculum.TINY)
    seen: set = set()
    for split, examples in tiny_examples.items():
        idents = {_ident(ex) for ex in examples}
        assert len(idents) == len(examples) and not idents & seen, split
        seen |= idents
        assert all(ex["stage"].decode() == split for ex in examples)
        assert idents == {k for k, c in planned.items() if c.stage == split}
    assert seen == set(planned)


def test_rebuild_after_an_interrupted_build_is_identical(tiny_examples, tmp_path, monkeypatch):
    from qwave.curriculum import simulate as teacher_runs  # where iter_examples looks simulate_group up

    real = teacher_runs.simulate_group
    calls = []

    def crash_on_fifth(grid, group):
        calls.append(len(group))
        if len(calls) == 5:
            raise KeyboardInterrupt("simulated interruption")
        return real(grid, group)

    monkeypatch.setattr(teacher_runs, "simulate_group", crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        lib.build("tiny", tmp_path, progress=False)
    assert not lib.get_builder("tiny", tmp_path).is_prepared()
    assert not (tmp_path / "qwave_curriculum" / "tiny" / "1.0.0").exists()
    monkeypatch.setattr(teacher_runs, "simulate_group", real)
    lib.build("tiny", tmp_path, progress=False)
    assert lib.get_builder("tiny", tmp_path).is_prepared()
    assert_same_examples(tmp_path, tiny_examples)  # generation is deterministic


def test_beam_directrunner_gives_the_same_examples(tiny_examples, tmp_path):
    pytest.importorskip("apache_beam")
    lib.build("tiny", tmp_path, beam="runner=DirectRunner", progress=False)
    assert_same_examples(tmp_path, tiny_examples)  # same examples, same stored order


def test_tfds_load_in_a_fresh_process(tiny_dir):
    code = (
        "import sys, qwave.datasets\n"
        "assert 'tensorflow' not in sys.modules, 'registration must not import TensorFlow'\n"
        "import tensorflow_datasets as tfds\n"
        f"ds = tfds.load('qwave_curriculum/tiny', split='reflection', data_dir={str(tiny_dir)!r})\n"
        "print('COUNT', sum(1 for _ in ds))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "COUNT 5" in out.stdout


def test_library_load(tiny_dir):
    ds = lib.load("tiny", split="free", data_dir=tiny_dir)
    e0 = sorted(float(ex["e0"]) for ex in ds.as_numpy_iterator())
    assert e0 == [1.0, 4.0]
    with pytest.raises(Exception, match="not found|prepare|download"):
        lib.load("tiny", split="free", data_dir=tiny_dir / "empty")


def test_tfds_build_cli_on_the_builder_folder(tiny_examples, tmp_path):
    tfds_cli = Path(sys.executable).with_name("tfds")
    if not tfds_cli.exists():
        pytest.skip("tfds command not installed")
    pytest.importorskip("mlcroissant", reason="the tfds command of tensorflow-datasets 4.9.10 imports mlcroissant")
    cmd = [str(tfds_cli), "build", str(REPO / "datasets" / "qwave_curriculum"), "--config", "tiny"]
    out = subprocess.run(cmd + ["--data_dir", str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert_same_examples(tmp_path, tiny_examples)  # a rebuild in another process gives the same data


def test_cli_info_and_plot(tiny_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["dataset", "info", "--config", "tiny", "--data-dir", str(tiny_dir)])
    assert result.exit_code == 0, result.output
    assert "tunnelling" in result.output and "test_random" in result.output and "*" not in result.output
    result = runner.invoke(main, ["dataset", "info", "--config", "tiny", "--data-dir", str(tiny_dir), "--json"])
    summary = json.loads(result.output)
    assert {r["split"]: r["examples"] for r in summary["splits"]} == TINY_SPLITS
    assert summary["total_bytes"] == pytest.approx(24 * lib.example_bytes(curriculum.TINY), rel=0.05)
    result = runner.invoke(main, ["dataset", "info", "--config", "full"])
    assert result.exit_code == 0 and "2829" in result.output
    png = tmp_path / "examples.png"
    result = runner.invoke(
        main,
        [
            "dataset",
            "plot",
            "--config",
            "tiny",
            "--data-dir",
            str(tiny_dir),
            "-o",
            str(png),
            "--splits",
            "free,tunnelling",
        ],
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(
        main, ["dataset", "plot", "--config", "tiny", "--data-dir", str(tiny_dir), "--splits", "nope"]
    )
    assert result.exit_code == 1 and "unknown split(s) nope" in result.output


def test_custom_config_file(tmp_path):
    config = tmp_path / "my-grid.json"
    config.write_text(
        json.dumps(
            {
                "base": "tiny",
                "grid": {"nx": 256, "n_frames": 4},
                "barrier": {"x0": 40, "s0": [2], "e0": {"start": 0.5, "stop": 1.5, "step": 0.5}, "height": [1]},
                "free": {"e0": [1]},
                "tests": {"cases": 0},
            }
        )
    )
    runner = CliRunner()
    result = runner.invoke(main, ["dataset", "build", "--config", str(config), "--data-dir", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    counts = {"free": 1, "transmission": 1, "tunnelling": 2}
    for ref in (str(config), "my_grid"):  # by file, and by name once built
        builder = lib.get_builder(ref, tmp_path)
        assert builder.builder_config.name == "my_grid"
        assert {k: v.num_examples for k, v in builder.info.splits.items()} == counts
    ex = next(lib.load("my_grid", split="transmission", data_dir=tmp_path).as_numpy_iterator())
    assert ex["psi"].shape == (4, 256, 2) and float(ex["e0"]) == 1.5
    result = runner.invoke(main, ["dataset", "info", "--config", "my_grid", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "my_grid" in result.output


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ({"name": "bad", "barrier": {"e0": [1, -3]}}, ".json", "got -3.0"),
        ({"name": "bad", "barrier": {"s0": [1, 60]}}, ".json", "S0=60.0 does not fit"),
        ({"name": "bad", "base": "tiny", "barrier": {"e0": [2000]}}, ".json", "E0=2000.0 has wave number"),
        ({"name": "bad", "grid": {"dt": -1}}, ".json", "dt must be a positive"),
        ("name: bad\nbarrier: {height: [2, -5]}\n", ".yaml", "height BH must be >= 0 (hartree), got -5.0"),
        ("{not json", ".json", "is not valid JSON"),
    ],
)
def test_bad_config_fails_in_one_line_before_simulating(tmp_path, monkeypatch, content, suffix, message):
    if suffix == ".yaml":
        pytest.importorskip("yaml")
    config = tmp_path / f"bad{suffix}"
    config.write_text(content if isinstance(content, str) else json.dumps(content))

    def no_simulation(*args, **kwargs):
        raise AssertionError("a simulation ran")

    monkeypatch.setattr(curriculum, "simulate", no_simulation)
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(main, ["dataset", "build", "--config", str(config), "--data-dir", str(data_dir)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert not (data_dir / "qwave_curriculum").exists()


def test_unknown_config_and_missing_beam(tmp_path, monkeypatch):
    result = CliRunner().invoke(main, ["dataset", "info", "--config", "nope", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "unknown config 'nope'" in result.output
    monkeypatch.setitem(sys.modules, "apache_beam", None)
    monkeypatch.setitem(sys.modules, "apache_beam.options.pipeline_options", None)
    result = CliRunner().invoke(
        main, ["dataset", "build", "--config", "tiny", "--data-dir", str(tmp_path), "--beam", ""]
    )
    assert result.exit_code == 1 and "pip install 'qwave[beam]'" in result.output


def test_registration_module_is_documented_and_light():
    assert "import qwave.datasets" in (qwave.datasets.__doc__ or "")
    assert os.path.samefile(builder_module.Builder.pkg_dir_path, REPO / "datasets" / "qwave_curriculum")


def test_evaluate_refuses_a_forecast_longer_than_the_stored_cases(tiny_dir, tmp_path):
    """A built split's cases have fixed frames: one line naming the longest forecast and the simulated source."""
    res = CliRunner().invoke(
        main, ["evaluate", "--tests", "tfds:tiny", "--data-dir", str(tiny_dir), "--out", str(tmp_path / "new")]
    )
    assert res.exit_code == 1
    assert res.output.count("Error:") == 1 and "Traceback" not in res.output
    assert "tfds:tiny cases have 21 frames; a 400-frame forecast" in res.output
    assert "--frames 17 or less" in res.output and "curriculum:<config> simulates" in res.output
    assert not (tmp_path / "new").exists()

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


# ------------------------------------------------------------------ parameter types of the potentials


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("barrier", {"width": [1]}, r"width must be a number, got \[1\]"),  # the type first, then "needs height"
        ("barrier", {"height": "5"}, 'height must be a number, got "5"'),
        ("barrier", {"height": True}, "height must be a number, got true"),
        ("barrier", {"height": None}, "height must be a number, got null"),
        ("barrier", {"height": float("nan")}, "height must be finite"),
        ("barrier", {"height": 5, "center": "mid"}, "center must be a number"),
        ("staircase", {"height": 5, "width": 9, "steps": 2.5}, "steps must be an integer, got 2.5"),
        ("rectangles", {"heights": [[1.0]], "widths": 1.0, "centers": 50.0}, "heights must be a number or a list"),
        ("rectangles", {"heights": [1.0, "a"], "widths": 1.0, "centers": 50.0}, "a number or a list of numbers"),
        ("rectangles", {"heights": [1.0, float("inf")], "widths": 1.0, "centers": 50.0}, "heights must be finite"),
        ("random", {"seed": 1.5}, "seed must be an integer"),
        ("random", {"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ("random", {"seed": 0, "n_bumps": 0}, "n_bumps must be a positive integer"),
        ("random", {"seed": 0, "region": [40.0]}, "region must be a list of two numbers"),
    ],
)
def test_potential_parameters_of_the_wrong_type(name, params, match):
    with pytest.raises(QwaveInputError, match=match):
        make_potential(name, GRID, **params)


def test_potential_parameters_of_the_right_type_pass():
    """Integral floats count as integers, null means a default, lists where lists are expected."""
    np.testing.assert_array_equal(
        make_potential("staircase", GRID, height=6, width=12, steps=3.0),
        make_potential("staircase", GRID, **EXAMPLES["staircase"]),
    )
    np.testing.assert_array_equal(
        make_potential("barrier", GRID, height=5, center=None), make_potential("barrier", GRID, height=5)
    )
    v = make_potential("random", GRID, seed=3, region=[40, 60])  # bumps <= 6 bohr wide centred in [40, 60]
    assert np.any(v != 0) and np.all(v[(GRID.x < 37) | (GRID.x > 63)] == 0)


def test_every_potential_parameter_has_a_checked_type():
    """make_potential checks each parameter by its annotation: a builder with an unknown one would be unchecked."""
    import inspect

    from qwave.physics.potentials import _KINDS

    for name, fn in POTENTIALS.items():
        for param in list(inspect.signature(fn).parameters.values())[1:]:
            assert str(param.annotation) in _KINDS, (name, param.name, param.annotation)


def test_unreadable_potential_files(tmp_path):
    from qwave.physics.potentials import resolve_potential

    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "text.npy").write_text("1 2 3\n")
    for bad in ("empty.npy", "text.npy"):
        with pytest.raises(QwaveInputError, match="cannot read potential file"):
            resolve_potential(GRID, path=tmp_path / bad)


# ------------------------------------------------------------------ models, data and runs given wrongly


def test_keras_files_that_are_no_qwave_emulator(tmp_path):
    import zipfile

    import keras

    from qwave.emulator.artefacts import load_keras_model, load_source

    (tmp_path / "corrupt.keras").write_bytes(b"\x00" * 100)
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as z:
        z.writestr("readme.txt", "a zip, not a model")
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(tmp_path / "foreign.keras")
    (tmp_path / "weights.h5").write_bytes(b"")
    cases = [
        ("corrupt.keras", r"not a \.keras file \(not a zip archive\)"),
        ("other.keras", "zip archive without config.json"),
        ("foreign.keras", "holds a Sequential, not a qwave emulator"),
        ("missing.keras", "does not exist"),
    ]
    for name, match in cases:
        with pytest.raises(QwaveInputError, match=match):
            load_keras_model(tmp_path / name)
    with pytest.raises(QwaveInputError, match="expected a .keras file"):
        load_source(tmp_path / "weights.h5")
    with pytest.raises(QwaveInputError, match="holds no model.keras"):
        load_source(tmp_path)


def test_unbuilt_tfds_sources_name_the_build_command_and_build_nothing(tmp_path):
    from qwave.data.sources import check_training_data, held_out_examples, held_out_grid
    from qwave.data.tfds import is_built

    command = f"run `qwave dataset build --config tiny --data-dir {tmp_path}`"
    for call in (
        lambda: held_out_grid("tfds:tiny", tmp_path),
        lambda: held_out_examples("tfds:tiny", 1, tmp_path),
        lambda: check_training_data("tfds:tiny", tmp_path),
    ):
        with pytest.raises(QwaveInputError, match=f"qwave_curriculum/tiny is not built in {tmp_path}; {command}"):
            call()
    assert not is_built("tiny", tmp_path) and not list(tmp_path.iterdir())
    assert check_training_data("tfds:tiny", tmp_path, build=True).name == "tiny"  # it will be built: fine
    with pytest.raises(QwaveInputError, match="windows of 30 input frames and 1 target frame need 31"):
        check_training_data("curriculum:tiny", n_in=30)
    assert held_out_grid("curriculum:tiny").n_frames == 21
    assert held_out_grid("curriculum:tiny", n_frames=40).n_frames == 40


def test_training_runs_given_wrongly_fail_before_anything_is_written(tmp_path):
    from qwave.emulator.training import TrainConfig, check_run, train

    (tmp_path / "file.txt").write_text("")
    cfg = TrainConfig(data="curriculum:tiny", steps=10, steps_per_epoch=10)
    run = tmp_path / "run"
    cases = [
        (cfg, tmp_path / "file.txt" / "run", {}, "file.txt is not a directory"),
        (cfg, run, {"resume": True}, "nothing to resume"),
        (TrainConfig(**{**cfg.to_dict(), "model_kwargs": {"hiden": 48}}), run, {}, "unknown: hiden"),
        (TrainConfig(**{**cfg.to_dict(), "model_kwargs": {"hyper": 1}}), run, {}, "hyper must be a string"),
        (TrainConfig(**{**cfg.to_dict(), "lr": 0.0}), run, {}, "learning rate must be > 0"),
        (TrainConfig(**{**cfg.to_dict(), "warmup": 1.5}), run, {}, r"warmup is a fraction of the steps, in \[0, 1\]"),
        (TrainConfig(**{**cfg.to_dict(), "window": 22}), run, {}, "window must be a positive odd number"),
        (
            TrainConfig(**{**cfg.to_dict(), "data": "tfds:tiny", "data_dir": str(tmp_path)}),
            run,
            {"build": False},
            "not built",
        ),
        (TrainConfig(**{**cfg.to_dict(), "data": "wide"}), run, {}, "unknown training data 'wide'"),
    ]
    for config, out, kwargs, match in cases:
        with pytest.raises(QwaveInputError, match=match):
            check_run(config, out, **kwargs)
    for config, out, kwargs, match in cases[:2]:  # train() itself checks first, too
        with pytest.raises(QwaveInputError, match=match):
            train(config, out, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_evaluate_path_checks_before_simulating(tmp_path):
    from qwave.emulator.evaluate import evaluate_path

    (tmp_path / "file.txt").write_text("")
    cases = [
        ({"n_steps": 0}, "the forecast needs >= 1 frame"),
        ({"n_per_family": 0}, "cases per family must be >= 1"),
        ({"out_dir": tmp_path / "file.txt" / "ev"}, "file.txt is not a directory"),
        ({"tests": "tfds:tiny", "data_dir": tmp_path}, "qwave dataset build --config tiny"),
    ]
    for kwargs, match in cases:
        with pytest.raises(QwaveInputError, match=match):
            evaluate_path(None, **{"out_dir": tmp_path / "ev", **kwargs})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_probe_inputs():
    from qwave.insight.probes import sample_windows

    case = {"psi": np.ones((3, 64, 2), np.float32), "potential": np.zeros(64, np.float32)}
    with pytest.raises(QwaveInputError, match="needs >= 1 window"):
        sample_windows([case], 10.0, n=0)
    with pytest.raises(QwaveInputError, match="no cases"):
        sample_windows([], 10.0, n=4)
    with pytest.raises(QwaveInputError, match="cases have 3 frames"):
        sample_windows([case], 10.0, n_in=4, n=4)

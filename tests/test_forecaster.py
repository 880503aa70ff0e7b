"""The TensorFlow-free forecaster (export/): rollout.onnx with the fallback to step.onnx, loading checks, input
validation, `qwave predict`, and runs in a Python where importing tensorflow fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from qwave.export import ForecastDivergedError, Forecaster, ForecastInputError, load_frames
from qwave.export import forecaster as forecaster_module

from qwave.cli import main
from qwave.physics.grid import Grid
from qwave.physics.packets import gaussian_packets
from qwave.physics.potentials import make_potential
from qwave.physics.simulation import load_run
from qwave.physics.solver import simulate

EXPORT_DIR = Path(__file__).resolve().parents[1] / "export"


@pytest.fixture(scope="module")
def fc(tiny_export) -> Forecaster:
    return Forecaster(tiny_export)


def _copy(export: Path, out: Path, names=("metadata.json", "step.onnx", "window.onnx")) -> Path:
    out.mkdir()
    for name in names:
        shutil.copy2(export / name, out / name)
    return out


@pytest.fixture()
def broken(tiny_export, tmp_path) -> Path:
    """A copy of the export's forecasting files without rollout.onnx (metadata.json, step.onnx, window.onnx)."""
    return _copy(tiny_export, tmp_path / "copy")


@pytest.fixture(scope="module")
def foreign_rollout(tmp_path_factory) -> Path:
    """rollout.onnx of a linear model exported for NX = 64 (another grid than the tiny export's 512 cells)."""
    import keras

    from qwave.deploy.export import export_model
    from qwave.emulator.models import build_model

    run = tmp_path_factory.mktemp("nx64") / "run"
    run.mkdir()
    keras.utils.set_random_seed(0)
    build_model("linear").save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"train": {"model": "linear"}, "nx": 64, "v_scale": 10.0}))
    return export_model(run, run.parent / "export", saved_model=False) / "rollout.onnx"


def _edit_metadata(path: Path, fn) -> None:
    meta = json.loads((path / "metadata.json").read_text())
    fn(meta)
    (path / "metadata.json").write_text(json.dumps(meta))


def test_forecaster_reads_the_export(fc):
    assert (fc.nx, fc.n_in, fc.window, fc.v_scale, fc.stride) == (512, 4, 23, 10.0, 1)
    assert fc.frame_dt == pytest.approx(0.1) and fc.grid() == Grid(nx=512)
    assert fc.engine == "rollout" and fc.rollout_path.name == "rollout.onnx"
    assert fc.max_frames(1) == forecaster_module.MAX_FORECAST_BYTES // (8 * 512)


def test_falls_back_to_step_onnx_without_rollout_onnx(tiny_export, fc, tmp_path):
    """No rollout.onnx (or metadata from before it existed): step.onnx, one call per frame; same forecast."""
    grid = fc.grid()
    v = make_potential("barrier", grid, height=3.0, width=4.0)
    init = fc.packet_frames([20.0, 16.0], 2.0, [3.0, 5.0], v)
    want = fc.forecast(init, v, 6)
    step_only = _copy(tiny_export, tmp_path / "step_only")  # metadata names rollout.onnx; the file is absent
    old = _copy(tiny_export, tmp_path / "old")
    _edit_metadata(old, lambda m: m["onnx"].pop("rollout"))
    for path in (step_only, old):
        other = Forecaster(path)
        assert other.engine == "step" and other.rollout_path is None
        assert np.allclose(other.forecast(init, v, 6), want, atol=1e-5)
    assert Forecaster(tiny_export, use_rollout=False).engine == "step"
    rollout_only = _copy(tiny_export, tmp_path / "rollout_only", ("metadata.json", "rollout.onnx"))
    only = Forecaster(rollout_only)
    assert only.engine == "rollout" and np.allclose(only.forecast(init, v, 6), want)
    with pytest.raises(ForecastInputError, match="has no step.onnx"):
        only.step(only.prepare(init, v))
    with pytest.raises(ForecastInputError, match="has no step.onnx"):
        Forecaster(rollout_only, use_rollout=False)
    with pytest.raises(ForecastInputError, match="exported with stride 1, not 8.*--stride 8"):
        Forecaster(tiny_export, stride=8)


def test_packet_frames_are_the_solver_frames_and_batches_forecast(fc):
    grid = fc.grid()
    v = make_potential("double", grid, height=5.0, width=3.0, gap=4.0)
    init = fc.packet_frames([20.0, 18.0, 16.0], 2.0, [3.0, 4.0, 5.0], v)
    want = simulate(gaussian_packets(grid, [20.0, 18.0, 16.0], 2.0, [3.0, 4.0, 5.0]), v, grid, n_frames=4)
    assert init.shape == (3, 4, 512) and np.allclose(init, want)
    out = fc.forecast(init, v, 5)
    assert out.shape == (3, 5, 512) and out.dtype == np.complex64
    assert np.allclose(fc.forecast(init, v, 5, chunk=None), out, atol=1e-5)  # one call for all cases
    assert np.allclose(fc.forecast(init, v, 5, chunk=2, parallel="ops"), out, atol=1e-5)
    seen = []
    assert np.allclose(fc.forecast(init, v, 5, callback=seen.append), out) and seen == [5, 5, 5]  # once per case
    one = fc.forecast(init[1], v, 5)  # a single case without batch axis; float [Re, Im] input too
    two = fc.forecast(np.stack([init[1].real, init[1].imag], -1), v[None], 5)
    assert np.allclose(one[0], out[1], atol=1e-5) and np.allclose(two, one)
    norms = np.sum(np.abs(out) ** 2, -1) * grid.dx
    assert np.allclose(norms, 1.0, atol=1e-3)  # step.onnx renormalises to the input norm


def test_bad_inputs_are_named(fc):
    good = np.zeros((2, 4, 512), complex)
    good[..., 100] = 1.0
    v = np.zeros(512)
    cases = [
        (dict(initial=np.zeros((2, 3, 512), complex), potential=v), r"\(batch, 4, 512\)"),
        (dict(initial=np.zeros((2, 4, 500), complex), potential=v), "got shape"),
        (dict(initial=np.zeros((2, 4, 512, 3)), potential=v), r"\[Re, Im\]"),
        (dict(initial=np.array([["a"] * 512] * 4)), "numeric"),
        (dict(initial=np.where(good == 1, np.nan, good), potential=v), "non-finite"),
        (dict(initial=good, potential=np.zeros(511)), r"potential must be \(512,\)"),
        (dict(initial=good, potential=np.full(512, np.inf)), "potential has 512 non-finite"),
        (dict(initial=good, potential=np.zeros(512, complex)), "real numbers"),
        (dict(initial=good, potential=v, n_frames=0), "positive integer"),
        (dict(initial=good, potential=v, n_frames=-3), "positive integer"),
        (dict(initial=good, potential=v, n_frames=2.5), "positive integer"),
        (dict(initial=good, potential=v, n_frames=True), "positive integer"),
        (dict(initial=good, potential=v, n_frames=10**12), r"too many: 2 case\(s\).*GiB limit \(at most \d+ frames"),
        (
            dict(initial=good, potential=np.zeros((3, 512))),
            r"potential must be \(512,\) or \(2, 512\), got shape \(3, 512\)",
        ),
        (dict(initial=good, potential=np.zeros((2, 500))), r"got shape \(2, 500\)"),
        (dict(initial=good, potential=np.zeros((2, 1, 512))), r"got shape \(2, 1, 512\)"),
        (dict(initial=good[:0], potential=v), "empty batch"),
        (dict(initial=good, potential=v, chunk=0), "chunk must be"),
        (dict(initial=good, potential=v, parallel="gpu"), "parallel must be"),
    ]
    for kwargs, message in cases:
        kwargs.setdefault("potential", v)
        with pytest.raises(ForecastInputError, match=message) as info:
            fc.forecast(**kwargs)
        assert "\n" not in str(info.value)
    with pytest.raises(ForecastInputError, match="float32"):
        fc.step(np.zeros((1, 4, 512, 3)))
    with pytest.raises(ForecastInputError, match=r"\(batch, 4, 512, 3\)"):
        fc.step(np.zeros((1, 4, 512, 2), np.float32))
    with pytest.raises(ForecastInputError, match=r"frames must be \(batch, 4, 512, 3\), got \(1, 4, 1024, 3\)"):
        fc.rollout(np.zeros((1, 4, 1024, 3), np.float32), 5)  # frames of another grid
    with pytest.raises(ForecastInputError, match="positive integer"):
        fc.rollout(np.zeros((1, 4, 512, 3), np.float32), -1)
    with pytest.raises(ValueError, match="outside the box"):
        fc.packet_frames(200.0, 2.0, 3.0, v)


def test_truncated_or_foreign_onnx_and_mismatched_metadata(broken):
    Forecaster(broken)  # the intact copy loads
    step = broken / "step.onnx"
    data = step.read_bytes()

    step.write_bytes(data[: len(data) // 3])
    with pytest.raises(ForecastInputError, match="not a loadable ONNX model"):
        Forecaster(broken)
    step.write_bytes(b"")
    with pytest.raises(ForecastInputError, match="not a loadable ONNX model"):
        Forecaster(broken)
    shutil.copy2(broken / "window.onnx", step)  # a valid ONNX file with other inputs
    with pytest.raises(ForecastInputError, match="does not match metadata.json.*window"):
        Forecaster(broken)
    step.write_bytes(data)
    _edit_metadata(broken, lambda m: m.update(v_scale=14.0))
    with pytest.raises(ForecastInputError, match="v_scale=14.0 in metadata, 10.0 in the model"):
        Forecaster(broken)
    _edit_metadata(broken, lambda m: (m.update(v_scale=10.0), m["onnx"]["step"].update(sha256="0" * 64)))
    with pytest.raises(ForecastInputError, match="SHA-256"):
        Forecaster(broken)
    _edit_metadata(broken, lambda m: (m["grid"].update(nx=1024), m["onnx"]["step"].pop("inputs")))
    with pytest.raises(ForecastInputError, match="does not match metadata.json"):
        Forecaster(broken)
    (broken / "metadata.json").write_text("{not json")
    with pytest.raises(ForecastInputError, match="not valid JSON"):
        Forecaster(broken)
    (broken / "metadata.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ForecastInputError, match="not a qwave export"):
        Forecaster(broken)
    (broken / "metadata.json").write_text(json.dumps({"format": "qwave-emulator-export", "format_version": 1}))
    with pytest.raises(ForecastInputError, match="incomplete"):
        Forecaster(broken)
    (broken / "metadata.json").unlink()
    with pytest.raises(ForecastInputError, match="no metadata file"):
        Forecaster(broken)


def test_damaged_or_foreign_rollout_onnx(tiny_export, tmp_path, foreign_rollout, monkeypatch):
    copy = _copy(tiny_export, tmp_path / "copy", ("metadata.json", "step.onnx", "rollout.onnx", "window.onnx"))
    roll = copy / "rollout.onnx"
    data = roll.read_bytes()
    roll.write_bytes(data[: len(data) // 2])
    with pytest.raises(ForecastInputError, match="rollout.onnx is not a loadable ONNX model") as info:
        Forecaster(copy)
    assert "\n" not in str(info.value)
    shutil.copy2(foreign_rollout, roll)  # a rollout.onnx made for NX = 64
    for check in (True, False):  # the IO shapes name the grids, whether or not the SHA-256 is checked
        with pytest.raises(ForecastInputError, match=r"rollout.onnx does not match metadata.json.*64.*expected.*512"):
            Forecaster(copy, check_sha256=check)
    shutil.copy2(copy / "step.onnx", roll)  # a valid ONNX file with other inputs
    with pytest.raises(ForecastInputError, match="rollout.onnx does not match metadata.json"):
        Forecaster(copy, check_sha256=False)
    roll.write_bytes(data)
    fc = Forecaster(copy)
    frames = fc.prepare(np.ones((1, 4, 512), complex), np.zeros(512))
    monkeypatch.setattr(
        fc, "rollout", lambda f, n, s=None: np.where(np.arange(n)[None, :, None, None] >= 2, np.nan, 0.0)
    )
    with pytest.raises(ForecastDivergedError, match="non-finite at frame 3 of 5"):
        fc.forecast(frames[..., :2], np.zeros(512), 5)


def test_load_frames_checks_its_file(tmp_path):
    with pytest.raises(ForecastInputError, match="no such frames file"):
        load_frames(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(ForecastInputError, match="cannot read"):
        load_frames(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ForecastInputError, match="needs arrays 'psi' and 'potential'"):
        load_frames(tmp_path / "other.npz")


def test_qwave_predict_with_compare_and_from_a_simulation(tiny_export, tmp_path):
    runner = CliRunner()
    out, png = tmp_path / "f.npz", tmp_path / "f.png"
    args = ["predict", "--model", str(tiny_export), "--potential", "barrier", "-p", "height=3", "-p", "width=5"]
    res = runner.invoke(main, [*args, "--x0", "20", "--e0", "3", "--frames", "12", "--compare", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "correlation with the solver" in res.output
    assert "rollout.onnx" in res.output
    rec = load_run(out)  # the simulate layout: readable by the same loader
    assert rec["psi"].shape == (16, 512) and int(rec["forecast_start"]) == 4 and rec["corr"].shape == (12,)
    assert f"mean {rec['corr'].mean():.4f}, @12 {rec['corr'][-1]:.4f}" in res.output
    below = np.flatnonzero(rec["corr"] < 0.99)  # the valid time: the first frame below 0.99, counted from 1
    assert (f"first<0.99 at frame {below[0] + 1}" if below.size else "never first<0.99 in 12 frames") in res.output
    step_args = ["--x0", "20", "--e0", "3", "--frames", "12", "--no-rollout", "-o", str(tmp_path / "s.npz")]
    res = runner.invoke(main, [*args, *step_args, "--quiet"])
    assert res.exit_code == 0 and str(np.load(tmp_path / "s.npz")["engine"]) == "step", res.output
    assert np.allclose(np.load(tmp_path / "s.npz")["psi"], np.load(out)["psi"], atol=1e-5)
    assert np.allclose(rec["psi"][:4], rec["psi_true"][:4]) and rec["corr"].min() > 0.5

    sim = tmp_path / "sim.npz"
    res = runner.invoke(main, ["simulate", "--quiet", "--nx", "512", "--frames", "10", "--e0", "2,4", "-o", str(sim)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        main,
        ["predict", "--model", str(tiny_export), "--initial", str(sim), "--frames", "6", "--compare", "-o", str(out)]
        + ["--plot", str(png)],
    )
    assert res.exit_code == 0, res.output
    rec = np.load(out)
    assert rec["psi"].shape == (2, 10, 512) and png.stat().st_size > 1000
    assert np.allclose(rec["psi_true"], load_run(sim)["psi"], atol=1e-6)  # truth taken from the file

    bad_v = tmp_path / "v.npy"
    np.save(bad_v, np.zeros(1024))
    fresh = tmp_path / "fresh.npz"
    for extra, message in [
        (["--potential-file", str(bad_v)], "potential must have shape (512,)"),
        (["--potential", "nope"], "unknown potential 'nope'"),
        (["--frames", "0"], "--frames must be a positive integer, got 0"),
        (["--frames", "-4"], "positive integer"),
        (["--frames", str(10**9)], "is too many"),
        (["--model", str(tmp_path)], "not an export directory"),
        (["--x0", "20,30", "--e0", "1,2,3"], "X0, S0, E0 have 2, 1, 3 values"),
        (["--x0", ","], "empty packet list"),
        (["--stride", "4"], "exported with stride 1, not 4"),
        (["-o", "/sys/qwave-forecast.npz"], "not writable"),
        (["--plot", "/sys/qwave-forecast.png"], "not writable"),
    ]:
        res = runner.invoke(main, [*args, "-o", str(fresh), *extra])
        assert res.exit_code == 1 and message in res.output, (extra, res.output)
        assert res.output.startswith("Error: ") and res.output.count("\n") == 1, res.output
        assert not fresh.exists()  # checked before any work: nothing written
    sim_big = tmp_path / "big.npz"
    runner.invoke(main, ["simulate", "--quiet", "--frames", "5", "-o", str(sim_big)])
    res = runner.invoke(main, ["predict", "--model", str(tiny_export), "--initial", str(sim_big), "-o", str(out)])
    assert res.exit_code == 1 and "1024 cells; the model's grid has NX=512" in res.output


SHIM = """
import sys
sys.modules["tensorflow"] = None  # "import tensorflow" raises ImportError, as without TensorFlow installed
sys.modules["keras"] = None
sys.modules["tf2onnx"] = None
"""


def _run_without_tensorflow(code: str, tmp_path: Path, pythonpath: str | None = None, block_qwave: bool = False):
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(SHIM + ('sys.modules["qwave"] = None\n' if block_qwave else ""))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(shim), pythonpath) if p)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path, capture_output=True, text=True
    )


def test_forecast_and_predict_without_tensorflow(tiny_export, tmp_path):
    code = f"""
    import sys
    try:
        import tensorflow
    except ImportError:
        pass
    else:
        raise SystemExit("tensorflow importable")
    from qwave.export import Forecaster
    from qwave.deploy.predict import predict, save_prediction
    from qwave.physics.potentials import make_potential
    fc = Forecaster({str(tiny_export)!r})
    assert fc.engine == "rollout"
    v = make_potential("well", fc.grid(), depth=4.0, width=6.0)
    out = fc.forecast(fc.packet_frames(20.0, 2.0, 3.0, v), v, 6)
    rec = predict({str(tiny_export)!r}, v, 20.0, 2.0, 3.0, n_frames=6, compare=True)
    save_prediction("p.npz", rec, "well", {{}})
    assert out.shape == (1, 6, 512) and rec["corr"].shape == (1, 6)
    bad = [m for m in ("tensorflow", "keras", "tf2onnx") if sys.modules.get(m) is not None]
    print("OK", bad)
    """
    res = _run_without_tensorflow(code, tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "OK []" in res.stdout


def test_standalone_forecaster_file_without_tensorflow_or_qwave(tiny_export, tmp_path):
    """forecaster.py copied next to an export runs with numpy + onnxruntime only, frames from a .npz (with
    step.onnx only: the fallback)."""
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    shutil.copy2(EXPORT_DIR / "forecaster.py", deploy / "forecaster.py")
    for name in ("metadata.json", "step.onnx"):
        shutil.copy2(tiny_export / name, deploy / name)
    grid = Grid(nx=512)
    v = make_potential("barrier", grid, height=4.0, width=5.0)
    psi = simulate(gaussian_packets(grid, 20.0, 2.0, 3.0), v, grid, n_frames=4)
    np.savez(deploy / "start.npz", psi=psi[0], potential=v)
    code = f"""
    import sys
    from forecaster import Forecaster, ForecastInputError, load_frames
    assert ForecastInputError.__mro__[1] is ValueError  # qwave's error type is unavailable here
    fc = Forecaster({str(deploy)!r})
    assert fc.engine == "step"
    psi, v = load_frames({str(deploy / "start.npz")!r})
    out = fc.forecast(psi[:, :4], v, 5)
    try:
        fc.packet_frames(20.0, 2.0, 3.0, v)
    except ForecastInputError as exc:
        print("needs qwave:", "load_frames" in str(exc))
    print("OK", out.shape, sorted(m for m in ("tensorflow", "keras", "qwave") if sys.modules.get(m) is not None))
    """
    res = _run_without_tensorflow(code, tmp_path, pythonpath=str(deploy), block_qwave=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "needs qwave: True" in res.stdout and "OK (1, 5, 512) []" in res.stdout

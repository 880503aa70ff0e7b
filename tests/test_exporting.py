"""Export: every artefact reloads and agrees with Keras; step.onnx forecasts like the Keras rollout on every
test family; the export is atomic; bad sources fail with one-line errors."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf
from click.testing import CliRunner
from qwave.export import Forecaster

from qwave import curriculum
from qwave.cli import main
from qwave.deploy import export as ex
from qwave.deploy import sources
from qwave.emulator.metrics import correlation
from qwave.emulator.models import build_model, load_model
from qwave.emulator.rollout import WholeBoxStep, rollout
from qwave.errors import QwaveInputError

N_FRAMES = 48  # forecast length of the parity test (the benchmark script runs 400)


def _windows(cases: dict, n: int = 96) -> np.ndarray:
    """Real windows (n, 4, 23, 3) cut from the tiny test cases, v divided by v_scale."""
    rng = np.random.default_rng(1)
    out = []
    for family_cases in cases.values():
        psi, v = family_cases[0]["psi"], family_cases[0]["potential"] / curriculum.TINY.v_scale
        for _ in range(n // len(cases) + 1):
            t, c = rng.integers(0, psi.shape[0] - 4), rng.integers(0, psi.shape[1] - 23)
            w = np.concatenate([psi[t : t + 4, c : c + 23], np.broadcast_to(v[c : c + 23, None], (4, 23, 1))], -1)
            out.append(w)
    return np.asarray(out[:n], np.float32)


def test_export_writes_every_artefact_with_metadata(tiny_export, tiny_run):
    meta = json.loads((tiny_export / "metadata.json").read_text())
    assert meta["format"] == ex.FORMAT and meta["format_version"] == 1
    assert meta["grid"]["nx"] == 512 and meta["grid"]["lx"] == 100.0 and meta["frame_dt"] == pytest.approx(0.1)
    assert meta["v_scale"] == curriculum.TINY.v_scale and meta["window"] == 23 and meta["input_frames"] == 4
    assert meta["blend"] == {"sigma": 2.8, "stride": 1, "renormalize": True, "v_clip": 1.0}
    assert meta["onnx"]["opset"] == 17
    step = meta["onnx"]["step"]
    assert step["inputs"] == [{"name": "frames", "shape": ["batch", 4, 512, 3], "dtype": "float32"}]
    assert step["outputs"] == [{"name": "next", "shape": ["batch", 512, 2], "dtype": "float32"}]
    assert step["sha256"] == ex._sha256(tiny_export / "step.onnx")
    assert meta["flops"]["per_window"] == 2 * (4 * 69 * 69 + 8 * 69 * 207 + 138 * 46)  # embed, GRU, head
    assert {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy"} <= set(meta["versions"]) | {"tensorflow"}
    assert set(meta["evaluation"]["rows"]) >= set(curriculum.TEST_FAMILIES) | {"overall"}
    assert (tiny_export / "evaluation" / "table.md").is_file()
    assert all(v <= 1e-5 for v in meta["parity_max_abs_diff"].values())
    assert not list(tiny_export.parent.glob(".*"))  # no temporary directory left beside it
    for name in ("model.keras", "saved_model", "window.onnx", "step.onnx"):
        assert (tiny_export / name).exists()


def test_every_artefact_reloads_and_matches_keras(tiny_export, tiny_run, tiny_test_cases):
    model = load_model(tiny_run / "model.keras")
    x = _windows(tiny_test_cases)
    want = keras.ops.convert_to_numpy(model(x))
    reloaded = keras.saving.load_model(tiny_export / "model.keras", safe_mode=True, compile=False)
    assert np.array_equal(keras.ops.convert_to_numpy(reloaded(x)), want)
    loaded = tf.saved_model.load(str(tiny_export / "saved_model"))
    assert np.abs(loaded.serve(tf.constant(x)).numpy() - want).max() <= 1e-6
    layer = keras.layers.TFSMLayer(str(tiny_export / "saved_model"), call_endpoint="serve")
    assert np.abs(keras.ops.convert_to_numpy(layer(x)) - want).max() <= 1e-6
    for name in ("window.onnx", "step.onnx"):
        onnx.checker.check_model(onnx.load(tiny_export / name), full_check=True)
    sess = ort.InferenceSession(str(tiny_export / "window.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 7, len(x)):  # dynamic batch
        got = sess.run(None, {"window": x[:batch]})[0]
        assert got.shape == (batch, 23, 2)
        assert np.abs(got - want[:batch]).max() <= 1e-5


def test_step_onnx_forecast_matches_keras_rollout_on_every_family(tiny_export, tiny_run, tiny_test_cases):
    model = load_model(tiny_run / "model.keras")
    fc = Forecaster(tiny_export)
    initial = np.stack([c[0]["psi"][:4] for c in tiny_test_cases.values()])  # one case per family
    v = np.stack([c[0]["potential"] for c in tiny_test_cases.values()])
    ref = rollout(WholeBoxStep(model, 512), initial, v / curriculum.TINY.v_scale, N_FRAMES)
    got = fc.forecast(initial, v, N_FRAMES)
    corr = correlation(ref, got)  # (families, frames)
    assert corr.shape == (len(curriculum.TEST_FAMILIES), N_FRAMES)
    assert corr.min() >= 0.9999, dict(zip(tiny_test_cases, corr.min(1), strict=True))
    assert np.abs(ref[:, 0, :, 0] - got[:, 0].real).max() <= 1e-5


def test_stride_export_and_cli(tiny_run, tmp_path):
    runner = CliRunner()
    out = tmp_path / "s8"
    res = runner.invoke(main, ["export", str(tiny_run), "--out", str(out), "--stride", "8", "--no-saved-model"])
    assert res.exit_code == 0, res.output
    assert "exported" in res.output
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["blend"]["stride"] == 8 and meta["flops"]["windows_per_step"] == 64
    assert not (out / "saved_model").exists()
    res = runner.invoke(main, ["export", str(tiny_run), "--out", str(out)])
    assert res.exit_code == 1 and "already exists" in res.output and "--force" in res.output
    res = runner.invoke(main, ["export", str(tiny_run), "--out", str(out), "--stride", "3", "--force"])
    assert res.exit_code == 1 and "stride" in res.output and res.output.count("\n") == 1
    assert json.loads((out / "metadata.json").read_text())["blend"]["stride"] == 8  # untouched


def test_failed_export_leaves_nothing_half_written(tiny_run, tiny_export, tmp_path, monkeypatch):
    target = tmp_path / "copy"
    shutil.copytree(tiny_export, target)
    before = sorted(p.name for p in target.iterdir())

    def boom(src, tmp, *args):
        (tmp / "model.keras").write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ex, "_write_artefacts", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        ex.export_model(tiny_run, target, overwrite=True)
    with pytest.raises(RuntimeError, match="disk full"):
        ex.export_model(tiny_run, tmp_path / "fresh")
    assert sorted(p.name for p in target.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no temp dir, no 'fresh'


def test_refuses_to_replace_a_directory_that_is_not_an_export(tiny_run, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(QwaveInputError, match="not a qwave export"):
        ex.export_model(tiny_run, tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_bad_sources_give_one_line_errors(tiny_run, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    keras.utils.set_random_seed(0)
    build_model("linear").save(bare / "m.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    (tmp_path / "weights.h5").write_bytes(b"")
    cases = [
        (dict(source=tmp_path / "missing"), "does not exist"),
        (dict(source=tmp_path / "weights.h5"), "expected a .keras file"),
        (dict(source=tmp_path / "junk.keras"), "cannot load"),
        (dict(source=tmp_path), "holds no model.keras"),
        (dict(source=bare / "m.keras"), "potential scale"),
        (dict(source=tiny_run, v_scale=14.0), "differs from the 10.0 recorded"),
        (dict(source=bare / "m.keras", v_scale=-1.0), "v_scale must be a positive"),
        (dict(source=tiny_run, opset=3), "opset"),
        (dict(source=tiny_run, sigma=0.0), "sigma"),
        (dict(source=tiny_run, stride=5), "stride"),
    ]
    for kwargs, message in cases:
        with pytest.raises(QwaveInputError, match=message) as info:
            ex.export_model(out_dir=tmp_path / "out", **kwargs)
        assert "\n" not in str(info.value)
    with pytest.raises(QwaveInputError, match="does not exist"):
        ex.export_model(tiny_run, tmp_path / "no" / "such" / "dir")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_bare_keras_file_with_explicit_v_scale(tmp_path):
    keras.utils.set_random_seed(0)
    build_model("dense").save(tmp_path / "dense.keras")
    out = ex.export_model(tmp_path / "dense.keras", tmp_path / "dense", v_scale=14.0, saved_model=False)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["v_scale"] == 14.0 and meta["grid"]["nx"] == 1024 and meta["evaluation"] is None
    assert meta["model"]["class"] == "DenseEmulator" and meta["parity_max_abs_diff"]["window_onnx"] <= 1e-5


def test_default_pretrained_lookup(tmp_path):
    root = tmp_path / "pretrained"
    with pytest.raises(QwaveInputError, match="no shipped pretrained model"):
        sources.default_pretrained(root)
    for name in ("gru", "gru_small"):
        (root / name).mkdir(parents=True)
        (root / name / "model.keras").write_bytes(b"")
    with pytest.raises(QwaveInputError, match="several pretrained models"):
        sources.default_pretrained(root)
    (root / "DEFAULT").write_text("gru_small\n")
    assert sources.default_pretrained(root) == root / "gru_small"
    (root / "gru").rename(root / "other")
    (root / "DEFAULT").unlink()
    (root / "gru_small" / "model.keras").unlink()
    assert sources.default_pretrained(root) == root / "other"


def test_hyperlinear_step_onnx_is_the_box_path_and_forecasts_like_the_operator_rollout(tmp_path):
    """A hyperlinear export: step.onnx (cell-major box path, ConvTranspose blend) against the TF step, and its
    ONNX Runtime forecast against the TF rollout that precomputes the blended step as a banded operator."""
    run = tmp_path / "run"
    run.mkdir()
    model = build_model("hyperlinear")
    rng = np.random.default_rng(7)
    model.set_weights([w + rng.normal(0, 0.02, w.shape).astype(np.float32) for w in model.get_weights()])
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"train": {"model": "hyperlinear"}, "nx": 128, "v_scale": 10.0}))
    for stride in (1, 4):
        out = ex.export_model(run, tmp_path / f"s{stride}", stride=stride, saved_model=False)
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["parity_max_abs_diff"]["step_onnx"] <= 1e-5 and meta["grid"]["nx"] == 128
        ops = {n.op_type for n in onnx.load(out / "step.onnx").graph.node}
        assert "ConvTranspose" in ops  # the blend as a transposed convolution
        fc = Forecaster(out)
        grid = fc.grid()
        x = grid.x
        psi = np.stack([np.exp(-((x - x0 - 0.3 * t) ** 2) / 8 + 2j * x) for t in range(4) for x0 in (30.0, 60.0)])
        initial = psi.reshape(4, 2, -1).transpose(1, 0, 2)
        v = np.where(np.abs(x - 50) < 3, 5.0, 0.0)
        got = fc.forecast(initial, v, 20)
        stepper = WholeBoxStep(load_model(run / "model.keras"), 128, stride=stride)
        assert stepper.precompute
        init = np.stack([initial.real, initial.imag], -1).astype(np.float32)
        ref = rollout(stepper, init, np.broadcast_to(v / 10.0, (2, 128)).astype(np.float32), 20)
        assert correlation(ref, got).min() >= 0.9999
        assert np.abs(ref[:, 0, :, 0] - got[:, 0].real).max() <= 1e-5

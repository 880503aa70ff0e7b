"""Export: every artefact reloads and agrees with Keras; step.onnx and rollout.onnx forecast like the Keras
rollout on every test family (a GRU: the step looped; a hyperlinear model: the operator G(V) built once); the
shipped model's rollout.onnx reproduces its Keras rollout; the export is atomic; bad sources and unwritable
outputs fail with one-line errors."""

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
from qwave.deploy import rollout_onnx
from qwave.emulator import artefacts as sources
from qwave.emulator.metrics import correlation
from qwave.emulator.models import build_model, load_model
from qwave.emulator.options import RolloutOptions
from qwave.emulator.rollout import WholeBoxStep, rollout
from qwave.errors import QwaveInputError

N_FRAMES = 48  # forecast length of the parity test (the benchmark script runs 400)
MIN_CORR = 0.99999  # rollout.onnx and step.onnx against the Keras rollout, at every frame


def _family_inputs(cases: dict) -> tuple[np.ndarray, np.ndarray]:
    """The first 4 frames (families, 4, NX) and the potentials (families, NX) of one case per test family."""
    return np.stack([c[0]["psi"][:4] for c in cases.values()]), np.stack([c[0]["potential"] for c in cases.values()])


@pytest.fixture(scope="module")
def keras_family_rollout(tiny_run, tiny_test_cases) -> np.ndarray:
    """The Keras rollout of the tiny GRU over N_FRAMES frames, one case per family."""
    initial, v = _family_inputs(tiny_test_cases)
    return rollout(
        WholeBoxStep(load_model(tiny_run / "model.keras"), 512), initial, v / curriculum.TINY.v_scale, N_FRAMES
    )


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
    roll = meta["onnx"]["rollout"]
    assert roll["inputs"] == [
        {"name": "frames", "shape": ["batch", 4, 512, 3], "dtype": "float32"},
        {"name": "n_frames", "shape": [], "dtype": "int64"},
    ]
    assert roll["outputs"] == [{"name": "forecast", "shape": ["batch", "n_frames", 512, 2], "dtype": "float32"}]
    assert roll["sha256"] == ex._sha256(tiny_export / "rollout.onnx") and roll["engine"] == "step"
    assert roll["parity"]["min_correlation"] >= MIN_CORR and roll["parity"]["frames"] == ex.PROBE_FRAMES
    assert "rollout.onnx" in meta["files"] and meta["flops"]["rollout_per_frame"] == meta["flops"]["per_step"]
    assert meta["flops"]["per_window"] == 2 * (4 * 69 * 69 + 8 * 69 * 207 + 138 * 46)  # embed, GRU, head
    assert {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy"} <= set(meta["versions"]) | {"tensorflow"}
    assert set(meta["evaluation"]["rows"]) >= set(curriculum.TEST_FAMILIES) | {"overall"}
    assert (tiny_export / "evaluation" / "table.md").is_file()
    assert all(v <= 1e-5 for v in meta["parity_max_abs_diff"].values())
    assert not list(tiny_export.parent.glob(".*"))  # no temporary directory left beside it
    for name in ("model.keras", "saved_model", "window.onnx", "step.onnx", "rollout.onnx"):
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
    for name in ("window.onnx", "step.onnx", "rollout.onnx"):
        onnx.checker.check_model(onnx.load(tiny_export / name), full_check=True)
    sess = ort.InferenceSession(str(tiny_export / "window.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 7, len(x)):  # dynamic batch
        got = sess.run(None, {"window": x[:batch]})[0]
        assert got.shape == (batch, 23, 2)
        assert np.abs(got - want[:batch]).max() <= 1e-5


def test_step_and_rollout_onnx_forecasts_match_keras_rollout_on_every_family(
    tiny_export, tiny_test_cases, keras_family_rollout
):
    initial, v = _family_inputs(tiny_test_cases)
    ref = keras_family_rollout
    for use_rollout in (True, False):
        fc = Forecaster(tiny_export, use_rollout=use_rollout)
        assert fc.engine == ("rollout" if use_rollout else "step")
        got = fc.forecast(initial, v, N_FRAMES)
        corr = correlation(ref, got)  # (families, frames)
        assert corr.shape == (len(curriculum.TEST_FAMILIES), N_FRAMES)
        assert corr.min() >= MIN_CORR, (fc.engine, dict(zip(tiny_test_cases, corr.min(1), strict=True)))
        assert np.abs(ref[:, 0, :, 0] - got[:, 0].real).max() <= 1e-5


def test_rollout_onnx_is_one_loop_and_takes_any_batch(tiny_export, tiny_test_cases, keras_family_rollout):
    """Called directly (no Forecaster): frames + n_frames -> the whole forecast, for a batch of any size."""
    model = onnx.load(tiny_export / "rollout.onnx")
    assert [n.op_type for n in model.graph.node].count("Loop") == 1
    props = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert props["qwave.engine"] == "step" and props["qwave.nx"] == 512
    sess = ort.InferenceSession(str(tiny_export / "rollout.onnx"), providers=["CPUExecutionProvider"])
    initial, v = _family_inputs(tiny_test_cases)
    frames = Forecaster(tiny_export).prepare(initial, v)
    for batch, n in ((1, 3), (len(frames), 5)):
        out = sess.run(None, {"frames": frames[:batch], "n_frames": np.array(n, np.int64)})[0]
        assert out.shape == (batch, n, 512, 2)
        assert correlation(keras_family_rollout[:batch, :n], out).min() >= MIN_CORR


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


def test_export_to_an_unwritable_place_fails_before_any_work(tiny_run, tmp_path):
    """Root may write anywhere os.access looks, so the check really creates a file (/sys refuses it)."""
    res = CliRunner().invoke(main, ["export", str(tiny_run), "--out", "/sys/qwave-export-test", "--no-saved-model"])
    assert res.exit_code == 1 and "not writable" in res.output and res.output.count("\n") == 1, res.output
    assert not list(tmp_path.iterdir())
    res = CliRunner().invoke(main, ["export", str(tiny_run), "--out", str(tmp_path / "no" / "dir")])
    assert res.exit_code == 1 and "does not exist" in res.output


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
        (dict(source=tmp_path / "junk.keras"), "cannot load|not a .keras file"),
        (dict(source=tmp_path), "holds no model.keras"),
        (dict(source=bare / "m.keras"), "potential scale"),
        (dict(source=tiny_run, v_scale=14.0), "differs from the 10.0 recorded"),
        (dict(source=bare / "m.keras", v_scale=-1.0), "v_scale must be a positive"),
        (dict(source=tiny_run, opset=3), "opset"),
        (dict(source=tiny_run, options=RolloutOptions(stride=5)), "stride"),
    ]
    with pytest.raises(QwaveInputError, match="sigma"):
        RolloutOptions(sigma=0.0)
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


def _hyperlinear_run(tmp_path, nx: int):
    """A run directory holding a hyperlinear model (weights perturbed off its copy-the-last-frame start)."""
    run = tmp_path / "run"
    run.mkdir()
    keras.utils.set_random_seed(0)
    model = build_model("hyperlinear")
    rng = np.random.default_rng(7)
    model.set_weights([w + rng.normal(0, 0.02, w.shape).astype(np.float32) for w in model.get_weights()])
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"train": {"model": "hyperlinear"}, "nx": nx, "v_scale": 10.0}))
    return run


def test_hyperlinear_exports_the_operator_rollout_and_forecasts_like_keras_on_every_family(tmp_path, tiny_test_cases):
    """A hyperlinear export: step.onnx (cell-major box path, ConvTranspose blend) against the TF step;
    rollout.onnx (G(V) built once, block products in a Loop) and step.onnx forecasts against the Keras rollout
    (which also precomputes G(V)) on one case per test family, at stride 1 and 4."""
    run = _hyperlinear_run(tmp_path, 512)
    initial, v = _family_inputs(tiny_test_cases)
    for stride in (1, 4):
        out = ex.export_model(run, tmp_path / f"s{stride}", RolloutOptions(stride=stride), saved_model=False)
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["parity_max_abs_diff"]["step_onnx"] <= 1e-5 and meta["grid"]["nx"] == 512
        roll = meta["onnx"]["rollout"]
        assert roll["engine"] == "operator" and roll["block"] == 16 and roll["parity"]["min_correlation"] >= MIN_CORR
        assert "ConvTranspose" in {n.op_type for n in onnx.load(out / "step.onnx").graph.node}
        loop = next(n for n in onnx.load(out / "rollout.onnx").graph.node if n.op_type == "Loop")
        body_ops = [n.op_type for n in loop.attribute[0].g.node]
        assert body_ops.count("MatMul") == 2 and "ConvTranspose" not in body_ops  # G applied, not the windows
        stepper = WholeBoxStep(load_model(run / "model.keras"), 512, RolloutOptions(stride=stride))
        assert stepper.precompute
        ref = rollout(stepper, initial, v / 10.0, 20)
        for use_rollout in (True, False):
            got = Forecaster(out, use_rollout=use_rollout).forecast(initial, v, 20)
            assert correlation(ref, got).min() >= MIN_CORR, (stride, use_rollout)
            assert np.abs(ref[:, 0, :, 0] - got[:, 0].real).max() <= 1e-5


def test_operator_parts_are_the_operator_in_real_arithmetic():
    model = build_model("hyperlinear")
    rng = np.random.default_rng(3)
    model.set_weights([w + rng.normal(0, 0.02, w.shape).astype(np.float32) for w in model.get_weights()])
    stepper = WholeBoxStep(model, 64, RolloutOptions(stride=2))
    v = tf.constant(rng.uniform(-0.5, 1.5, (2, 64)).astype(np.float32))
    g = stepper.operator(v).numpy().transpose(1, 2, 0, 3)  # (B, NX, 2W - 1, n_in)
    g_re, g_im = (t.numpy() for t in stepper.operator_parts(v))
    assert np.abs(g_re - g.real).max() <= 1e-5 and np.abs(g_im - g.imag).max() <= 1e-5
    assert (
        rollout_onnx.block_size(1024) == 16 and rollout_onnx.block_size(1000) == 10 and rollout_onnx.block_size(7) == 7
    )


def test_shipped_model_rollout_onnx_reproduces_its_keras_rollout():
    """The shipped export holds rollout.onnx (operator engine) and it forecasts like its model.keras."""
    from qwave.deploy.onnx import probe_frames

    shipped = sources.default_pretrained()
    meta = json.loads((shipped / "metadata.json").read_text())
    roll = meta["onnx"]["rollout"]
    assert roll["engine"] == "operator" and roll["sha256"] == ex._sha256(shipped / "rollout.onnx")
    assert meta["flops"]["per_window"] == 177568
    fc = Forecaster(shipped)
    assert fc.engine == "rollout"
    frames = probe_frames(fc.grid(), fc.n_in)
    stepper = WholeBoxStep(load_model(shipped / "model.keras"), fc.nx, RolloutOptions(**meta["blend"]))
    ref = rollout(stepper, frames[..., :2], frames[:, -1, :, 2], 24)
    got = fc.forecast(frames[..., :2], frames[:, -1, :, 2] * fc.v_scale, 24)
    assert correlation(ref, got).min() >= MIN_CORR

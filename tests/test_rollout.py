"""Whole-box rollout: blending tables, shapes, an exact copy model, renormalisation, stride."""

import numpy as np
import pytest

from qwave.emulator.models import build_model
from qwave.emulator.options import RolloutOptions
from qwave.emulator.rollout import WholeBoxStep, blend_tables, offset_weights, rollout
from qwave.errors import QwaveInputError

NX = 64


def _copy_last_frame_model():
    """A linear emulator set to return the last input frame's psi exactly."""
    model = build_model("linear")
    kernel = np.zeros((23 * 3, 46), np.float32)
    for k in range(23):
        kernel[3 * k, 2 * k] = kernel[3 * k + 1, 2 * k + 1] = 1.0
    model.set_weights([kernel, np.zeros(46, np.float32)])
    return model


def _initial(b=2):
    rng = np.random.default_rng(0)
    return rng.normal(size=(b, 4, NX, 2)).astype(np.float32), rng.normal(size=(b, NX)).astype(np.float32)


@pytest.mark.parametrize("stride", [1, 2, 4, 8])
def test_blend_tables_weights_and_cover(stride):
    centres, idx, wts = blend_tables(NX, 23, 2.8, stride)
    assert len(centres) == NX // stride
    assert np.allclose(wts.sum(1), 1.0) and idx.max() < len(centres) * 23


def test_blend_rejects_bad_stride():
    with pytest.raises(QwaveInputError):
        blend_tables(NX, 23, 2.8, 5)  # does not divide NX


def test_untrained_rollout_shapes_and_step_signature():
    model = build_model("gru")
    stepper = WholeBoxStep(model, NX)
    init, pot = _initial(3)
    out = rollout(stepper, init, pot, n_steps=5)
    assert out.shape == (3, 5, NX, 2) and np.all(np.isfinite(out))
    frames = np.concatenate([init, np.broadcast_to(pot[:, None, :, None], (3, 4, NX, 1))], -1)
    nxt = stepper.step(frames).numpy()
    assert nxt.shape == (3, NX, 2) and np.allclose(nxt, out[:, 0], atol=1e-5)
    # renormalised: every frame keeps the last input frame's norm
    norms = (out**2).sum((2, 3))
    assert np.allclose(norms, (init[:, -1] ** 2).sum((1, 2))[:, None], rtol=1e-4)


@pytest.mark.parametrize("stride", [1, 4])
def test_copy_model_rollout_is_exact(stride):
    """Blending every cell's predictions back in place: a copy model must reproduce the last frame."""
    stepper = WholeBoxStep(_copy_last_frame_model(), NX, RolloutOptions(stride=stride, renormalize=False))
    init, pot = _initial()
    out = rollout(stepper, init, pot, n_steps=3)
    assert np.allclose(out, init[:, -1:], atol=1e-5)


def test_evaluate_table_and_report(tmp_path):
    """evaluate() on a tiny grid: a row per family and overall, the report files written."""
    from qwave.curriculum import Case, params_json, simulate_group
    from qwave.emulator.evaluate import evaluate, format_table, save_report
    from qwave.physics.grid import Grid

    grid = Grid(nx=NX * 2, n_frames=12)
    barrier = Case("barrier", params_json({"height": 5.0, "width": 7.0}), 30.0, 2.0, 1.0, "test")
    free = Case("free", params_json({}), 30.0, 2.0, 1.0, "test")
    fams = {c.family: [ex for _, ex in simulate_group(grid, [c])] for c in (barrier, free)}
    from qwave.emulator.metrics import correlation, mae, norm_drift

    model = _copy_last_frame_model()
    result = evaluate(model, fams, 14.0, grid, n_steps=6)
    rows = result["rows"]
    assert set(rows) == {"barrier", "free", "overall"}
    # The copy model forecasts the last input frame (true frame 3) at every step: each metric is known exactly.
    for family, (case,) in fams.items():
        truth = np.asarray(case["psi"], np.float64)
        held, later = truth[3], truth[4:10]
        corr = correlation(later, held[None])
        assert np.all(corr < 1 - 1e-6)  # the packet moves: a copy is not the dynamics
        np.testing.assert_allclose(result["curves"][family]["corr"], corr, rtol=0, atol=1e-6)
        assert rows[family]["mean_corr"] == pytest.approx(corr.mean(), abs=1e-6)
        assert rows[family]["mae"] == pytest.approx(mae(later, held[None]).mean(), rel=1e-5)
        drift = np.abs(norm_drift(later, held[None])).max()
        assert rows[family]["norm_drift"] == pytest.approx(drift, abs=1e-6) and drift < 1e-6  # unitary truth
        assert rows[family]["cases"] == 1
    assert rows["overall"]["cases"] == 2
    assert rows["overall"]["mean_corr"] == pytest.approx((rows["free"]["mean_corr"] + rows["barrier"]["mean_corr"]) / 2)
    assert rows["overall"]["min_family_mean_corr"] == min(rows["free"]["mean_corr"], rows["barrier"]["mean_corr"])
    table = format_table(rows)
    assert f"| free | 1 | {rows['free']['mean_corr']:.4f} |" in table and "| overall | 2 |" in table
    save_report(result, tmp_path / "eval", grid, model.n_in)
    for name in ("table.md", "table.json", "curves.png", "case_barrier.png", "case_free.png"):
        assert (tmp_path / "eval" / name).is_file()


class _WindowsOnly:
    """A model seen only through ``call``: WholeBoxStep must take its generic path (gathered windows)."""

    def __init__(self, model):
        self.model, self.n_in, self.window = model, model.n_in, model.window

    def __call__(self, x):
        return self.model(x)


def _random_hyperlinear(hyper="mlp", seed=4):
    model = build_model("hyperlinear", hyper=hyper)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _frames(b=3, seed=5):
    rng = np.random.default_rng(seed)
    psi = rng.normal(size=(b, 4, NX, 2)).astype(np.float32)
    v = np.broadcast_to(rng.uniform(-1.5, 1.5, (b, 1, NX, 1)), (b, 4, NX, 1))  # beyond v_clip too
    return np.concatenate([psi, v], -1).astype(np.float32)


def test_offset_weights_are_the_blend_tables():
    for stride in (1, 2, 4, 8, 16):
        _, idx, wts = blend_tables(NX, 23, 2.8, stride)
        w = offset_weights(idx, wts, 23)
        assert np.allclose(np.where(wts > 0, w[idx % 23], 0.0), wts, rtol=1e-6, atol=0)


@pytest.mark.parametrize("hyper", ["mlp", "conv"])
@pytest.mark.parametrize("stride", [1, 4])
def test_hyperlinear_whole_box_step_equals_generic_path(hyper, stride):
    model = _random_hyperlinear(hyper)
    frames = _frames()
    fast = WholeBoxStep(model, NX, RolloutOptions(stride=stride))
    generic = WholeBoxStep(_WindowsOnly(model), NX, RolloutOptions(stride=stride))
    assert fast.box_model and not generic.box_model
    want = generic.step(frames).numpy()
    for blend in ("gather", "conv"):
        got = WholeBoxStep(model, NX, RolloutOptions(stride=stride), blend=blend).step(frames).numpy()
        assert np.abs(got - want).max() <= 1e-5, blend


@pytest.mark.parametrize("stride", [1, 2, 4, 8])
@pytest.mark.parametrize("name", ["gru", "linear"])
def test_conv_blend_equals_gather_blend(name, stride):
    model = build_model(name)
    frames = _frames(2)
    a = WholeBoxStep(model, NX, RolloutOptions(stride=stride), blend="gather").step(frames).numpy()
    b = WholeBoxStep(model, NX, RolloutOptions(stride=stride), blend="conv").step(frames).numpy()
    assert np.abs(a - b).max() <= 1e-5
    with pytest.raises(QwaveInputError):
        WholeBoxStep(model, NX, blend="fft")


@pytest.mark.parametrize("hyper", ["mlp", "conv"])
@pytest.mark.parametrize("stride", [1, 4])
@pytest.mark.parametrize("renormalize", [True, False])
def test_precomputed_operator_rollout_equals_per_frame_steps(hyper, stride, renormalize):
    """The rollout with the blended step built once as a banded operator = the step graph run every frame."""
    model = _random_hyperlinear(hyper)
    frames = _frames()
    init, pot = frames[..., :2], frames[:, 0, :, 2]
    fast = WholeBoxStep(model, NX, RolloutOptions(stride=stride, renormalize=renormalize))
    slow = WholeBoxStep(model, NX, RolloutOptions(stride=stride, renormalize=renormalize), precompute=False)
    assert fast.precompute and not slow.precompute
    want = rollout(slow, init, pot, n_steps=6)
    got = rollout(fast, init, pot, n_steps=6)
    assert np.abs(got[:, 0] - want[:, 0]).max() <= 1e-5
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())  # float32 round-off, relative

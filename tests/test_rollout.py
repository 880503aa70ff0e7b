"""Whole-box rollout: blending tables, shapes, an exact copy model, renormalisation, stride."""

import numpy as np
import pytest

from qwave.errors import QwaveInputError
from qwave.models import build_model
from qwave.rollout import WholeBoxStep, blend_tables, rollout

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
    stepper = WholeBoxStep(_copy_last_frame_model(), NX, stride=stride, renormalize=False)
    init, pot = _initial()
    out = rollout(stepper, init, pot, n_steps=3)
    assert np.allclose(out, init[:, -1:], atol=1e-5)


def test_evaluate_table_and_report(tmp_path):
    """evaluate() on a tiny grid: a row per family and overall, the report files written."""
    from qwave.evaluate import evaluate, format_table, save_report
    from qwave.grid import Grid
    from qwave.potentials import barrier
    from qwave.trajectories import examples_for_potential

    grid = Grid(nx=NX * 2, n_frames=12)
    fams = {
        "barrier": examples_for_potential(grid, barrier(grid, 5.0, 7.0), 30.0, 2.0, 1.0, "barrier", {}, "test"),
        "free": examples_for_potential(grid, np.zeros(grid.nx), 30.0, 2.0, 1.0, "free", {}, "test"),
    }
    model = _copy_last_frame_model()
    result = evaluate(model, fams, 14.0, grid, n_steps=6)
    rows = result["rows"]
    assert set(rows) == {"barrier", "free", "overall"}
    assert 0.0 < rows["overall"]["mean_corr"] <= 1.0 and abs(rows["free"]["norm_drift"]) < 1e-4
    assert "| overall |" in format_table(rows)
    save_report(result, tmp_path / "eval", grid, model.n_in)
    for name in ("table.md", "table.json", "curves.png", "case_barrier.png", "case_free.png"):
        assert (tmp_path / "eval" / name).is_file()

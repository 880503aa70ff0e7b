"""Emulators: shapes, the paper's parameter count, .keras round trip in safe mode."""

import keras
import numpy as np
import pytest

from qwave.emulator.models import MODELS, build_model, load_model
from qwave.errors import QwaveInputError


@pytest.mark.parametrize("name", list(MODELS))
def test_shapes_and_safe_mode_round_trip(name, tmp_path):
    model = build_model(name)
    x = np.random.default_rng(0).normal(size=(5, 4, 23, 3)).astype(np.float32)
    y = np.asarray(model(x))
    assert y.shape == (5, 23, 2)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = load_model(path)  # safe_mode=True
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    assert np.array_equal(np.asarray(loaded(x)), y)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in loaded._flatten_layers())


def test_paper_gru_size_and_geometry():
    assert 39_000 < build_model("gru").count_params() < 42_000  # the paper's ~40k
    small = build_model("gru", n_in=2, window=15, hidden=32)
    assert np.asarray(small(np.zeros((3, 2, 15, 3), np.float32))).shape == (3, 15, 2)


def test_residual_gru_starts_near_identity_on_last_frame():
    model = build_model("gru_res")
    x = np.random.default_rng(1).normal(size=(4, 4, 23, 3)).astype(np.float32)
    y = np.asarray(model(x))
    assert np.corrcoef(y.ravel(), x[:, -1, :, :2].ravel())[0, 1] > 0.5


@pytest.mark.parametrize("name", ["gru", "gru_res"])
def test_normalized_gru_is_scale_equivariant(name):
    """With ``normalize`` the GRU sees psi / RMS(psi): scaling psi by a > 0 (V unchanged) scales the output by a
    (up to the RMS floor, 1e-4 against window amplitudes ~0.1 here); without it, it does not."""
    rng = np.random.default_rng(4)
    x = rng.normal(0, 0.1, size=(6, 4, 23, 3)).astype(np.float32)
    scaled = np.concatenate([3.0 * x[..., :2], x[..., 2:]], -1)
    for normalize, equivariant in ((True, True), (False, False)):
        model = build_model(name, normalize=normalize)
        model.set_weights([rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.get_weights()])
        y, ys = np.asarray(model(x)), np.asarray(model(scaled))
        assert np.allclose(ys, 3.0 * y, rtol=1e-4, atol=1e-5) is equivariant, (name, normalize)


def test_unknown_model():
    with pytest.raises(QwaveInputError):
        build_model("transformer")


def test_hyperlinear_is_exactly_phase_and_scale_equivariant():
    model = build_model("hyperlinear")
    rng = np.random.default_rng(2)
    model.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    x = rng.normal(size=(3, 4, 23, 3)).astype(np.float32)
    z = (x[..., 0] + 1j * x[..., 1]) * 1.7 * np.exp(0.9j)
    xr = np.stack([z.real, z.imag, x[..., 2]], -1).astype(np.float32)
    y, yr = np.asarray(model(x)), np.asarray(model(xr))
    expected = (y[..., 0] + 1j * y[..., 1]) * 1.7 * np.exp(0.9j)
    assert np.allclose(yr[..., 0] + 1j * yr[..., 1], expected, atol=1e-4)


@pytest.mark.parametrize("hyper", ["mlp", "conv"])
@pytest.mark.parametrize("stride", [1, 4])
def test_hyperlinear_predict_box_equals_call_on_every_window(hyper, stride):
    """The whole-box path (cell-major table, box-level V convolution) gives ``call``'s predictions per window."""
    model = build_model("hyperlinear", hyper=hyper)
    rng = np.random.default_rng(3)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    nx, half = 64, 11
    psi = rng.normal(size=(2, 4, nx, 2)).astype(np.float32)
    v = rng.uniform(-1, 1, (2, nx)).astype(np.float32)
    table = psi.transpose(0, 2, 1, 3).reshape(2, nx, 8)
    got = np.asarray(model.predict_box(table, v, stride))  # (B, 2, NC, W)
    cells = (np.arange(0, nx, stride)[:, None] + np.arange(-half, half + 1)[None, :]) % nx
    win = np.concatenate([psi[:, :, cells], np.broadcast_to(v[:, None, cells, None], (2, 4, *cells.shape, 1))], -1)
    want = np.asarray(model(win.transpose(0, 2, 1, 3, 4).reshape(-1, 4, 23, 3))).reshape(2, -1, 23, 2)
    assert got.shape == (2, 2, nx // stride, 23)
    assert np.abs(got.transpose(0, 2, 3, 1) - want).max() <= 1e-5

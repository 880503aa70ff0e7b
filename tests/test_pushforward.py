"""The pushforward (multi-step) loss wrapper: the unroll is the emulator's own recursion, no gradient flows
through a fed-back forecast, it round-trips in safe mode, and training with it yields the plain emulator."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from qwave.emulator.models import build_model
from qwave.emulator.pushforward import Pushforward
from qwave.emulator.training import TrainConfig, save_keras, train, weights_equal
from qwave.errors import QwaveInputError


def _x(seed=0, batch=6):
    x = np.random.default_rng(seed).normal(size=(batch, 4, 23, 3)).astype(np.float32)
    x[..., 2] = x[:, :1, :, 2]  # V is the same in every frame
    return x


def _shift(x, forecast):
    """The next window by hand: drop the oldest frame, append the forecast with the window's V."""
    frame = np.concatenate([forecast, x[:, -1, :, 2:]], -1)
    return np.concatenate([x[:, 1:], frame[:, None]], 1)


def test_unroll_is_the_emulators_own_recursion():
    step = build_model("gru_res", normalize=True)
    x = _x()
    out = np.asarray(Pushforward(step, frames=3)(x))
    assert out.shape == (6, 3, 23, 2)
    xs = x
    for k in range(3):
        y = np.asarray(step(xs))
        np.testing.assert_allclose(out[:, k], y, rtol=1e-5, atol=1e-6)
        xs = _shift(xs, y)


@pytest.mark.parametrize("stop", [True, False])
def test_gradient_of_a_later_frame(stop):
    """With stop_gradient the second frame's loss differentiates only its own step (the fed-back forecast is a
    constant); without it, also the first step through the forecast, so the two gradients differ."""
    step = build_model("gru_res")
    wrapped = Pushforward(step, frames=2, stop_gradient=stop)
    x = tf.constant(_x(1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(wrapped(x)[:, 1]))
    grads = tape.gradient(loss, step.trainable_variables)
    fixed = tf.constant(_shift(x.numpy(), np.asarray(step(x))))
    with tf.GradientTape() as tape:
        loss_fixed = tf.reduce_sum(tf.square(step(fixed)))
    grads_fixed = tape.gradient(loss_fixed, step.trainable_variables)
    same = all(np.allclose(a, b, rtol=1e-4, atol=1e-7) for a, b in zip(grads, grads_fixed, strict=True))
    assert same == stop


def test_safe_mode_round_trip_and_weights_are_the_emulators(tmp_path):
    step = build_model("gru_res", normalize=True)
    wrapped = Pushforward(step, frames=2)
    wrapped.build((None, 4, 23, 3))
    assert [w.shape for w in wrapped.get_weights()] == [w.shape for w in step.get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(wrapped.get_weights(), step.get_weights(), strict=True))
    save_keras(wrapped, tmp_path / "pf.keras")
    loaded = keras.models.load_model(tmp_path / "pf.keras", safe_mode=True)
    assert isinstance(loaded, Pushforward) and loaded.frames == 2
    np.testing.assert_array_equal(np.asarray(loaded(_x())), np.asarray(wrapped(_x())))
    with pytest.raises(QwaveInputError, match=">= 2 frames"):
        Pushforward(step, frames=1)


def test_training_with_pushforward_gives_the_plain_emulator(tiny_traj, tmp_path):
    cfg = TrainConfig(
        model="gru_res", model_kwargs={"normalize": True}, steps=8, steps_per_epoch=4, batch_size=32, jit=False
    )
    cfg.pushforward, cfg.snapshot_every = 2, 1
    model = train(cfg, tmp_path / "run", traj=tiny_traj, verbose=0)
    assert type(model) is type(build_model("gru_res")) and model.name == "gru_res"
    saved = keras.models.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    ckpt = keras.models.load_model(tmp_path / "run" / "checkpoint.keras", safe_mode=True)
    snapshot = keras.models.load_model(tmp_path / "run" / "snapshots" / "step-00000008.keras", safe_mode=True)
    assert isinstance(ckpt, Pushforward) and type(snapshot) is type(model)
    assert weights_equal(saved, model) and weights_equal(snapshot, model) and weights_equal(ckpt.step, model)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["pushforward"] == 2
    assert np.isfinite(json.loads((tmp_path / "run" / "history.json").read_text())["loss"]).all()

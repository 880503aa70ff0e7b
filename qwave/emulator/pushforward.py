"""A multi-step training loss: the emulator trained on its own forecasts.

A one-step loss only ever shows the network true input frames, while a rollout feeds it its own, slightly
wrong, forecasts; the errors a network makes on such inputs are what grow over a rollout.  ``Pushforward``
wraps an emulator so that one forward pass forecasts ``frames`` frames in a row on one window, each step fed
the frames before it with the forecast ones in place of the true ones, and is fitted to the ``frames`` true
frames (y (B, frames, W, 2), from ``window_dataset`` with ``targets=frames``).  With ``stop_gradient`` (the
pushforward trick of Brandstetter, Worrall and Welling, ICLR 2022) no gradient flows back through a forecast
into the step that made it: each step learns to be accurate from the inputs a rollout gives it, and no step
learns to make inputs easy for the next.  The window's potential is the same at every step; its edge cells
have no neighbours outside the window, as in one step.  Only the wrapped emulator has weights, in the same
order, so the trained emulator is ``build_model(...)`` with ``Pushforward.get_weights()``.
"""

from __future__ import annotations

import keras
from keras import ops

from qwave.errors import QwaveInputError


@keras.saving.register_keras_serializable(package="qwave")
class Pushforward(keras.Model):
    """``step`` (an Emulator: (B, n_in, W, 3) -> (B, W, 2)) unrolled ``frames`` times: -> (B, frames, W, 2)."""

    def __init__(self, step: keras.Model, frames: int = 2, stop_gradient: bool = True, **kwargs):
        super().__init__(**kwargs)
        if int(frames) < 2:
            raise QwaveInputError(f"a pushforward loss unrolls >= 2 frames, got {frames}")
        self.step = step
        self.frames = int(frames)
        self.stop_gradient = bool(stop_gradient)

    def build(self, input_shape) -> None:
        self.step.build(input_shape)
        self.built = True

    def call(self, x):
        v = x[:, -1, :, 2:]  # (B, W, 1): the window's scaled potential, the same in every frame
        forecasts = []
        for _ in range(self.frames):
            y = self.step(x)
            forecasts.append(y)
            fed = ops.stop_gradient(y) if self.stop_gradient else y
            x = ops.concatenate([x[:, 1:], ops.concatenate([fed, v], -1)[:, None]], axis=1)
        return ops.stack(forecasts, axis=1)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "step": keras.saving.serialize_keras_object(self.step),
            "frames": self.frames,
            "stop_gradient": self.stop_gradient,
        }

    @classmethod
    def from_config(cls, config: dict) -> Pushforward:
        config = dict(config)
        config["step"] = keras.saving.deserialize_keras_object(config["step"])
        return cls(**config)

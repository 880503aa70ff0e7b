"""Whole-box recursive forecast: the window model at every cell, Gaussian blending, repeat.

``WholeBoxStep`` is the single step ``frames (B, n_in, NX, 3) -> next (B, NX, 2)`` as a ``tf.Module``
with a ``tf.function`` signature - gathers, the model's dense/GRU ops, a weighted sum; no Python
loop over cells - which the export turns into ``step.onnx``.  ``rollout`` runs it ``n_steps`` times
inside one ``tf.while_loop`` graph, batched over cases.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from qwave.errors import QwaveInputError


def blend_tables(
    nx: int, window: int, sigma: float = 2.8, stride: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (NC,) the windows run at, and per cell the flat indices (NX, K) into the (NC * window)
    predictions that land on it with their normalised Gaussian weights (NX, K): weight
    exp(-(k - half)^2 / (2 sigma^2)) for a prediction at offset k from its window's centre."""
    if stride < 1 or nx % stride:
        raise QwaveInputError(f"stride must be a positive divisor of nx={nx}, got {stride}")
    if stride > window:
        raise QwaveInputError(f"stride {stride} exceeds the window ({window} cells): some cells get no prediction")
    if not sigma > 0:
        raise QwaveInputError(f"blending sigma must be positive, got {sigma}")
    half = window // 2
    g = np.exp(-((np.arange(window) - half) ** 2) / (2 * sigma**2))
    centres = np.arange(0, nx, stride)
    k_max = math.ceil(window / stride)
    idx = np.zeros((nx, k_max), np.int32)
    wts = np.zeros((nx, k_max), np.float32)
    for c in range(nx):
        j = 0
        for k in range(window):
            centre = (c - k + half) % nx
            if centre % stride == 0:
                idx[c, j] = (centre // stride) * window + k
                wts[c, j] = g[k]
                j += 1
    wts /= wts.sum(1, keepdims=True)
    return centres.astype(np.int32), idx, wts


class WholeBoxStep(tf.Module):
    """One emulator step over the periodic box, for a fixed NX, window model, sigma and stride.

    ``renormalize`` rescales each case's predicted frame to the norm of its last input frame
    (unitary evolution conserves the norm).  ``v_clip`` clamps the scaled potential channel to
    [-v_clip, v_clip] (the range the model was trained on; None: no clamp): far above the packet's
    energy a higher wall reflects the same way, while unseen inputs make the learned step unstable.
    """

    def __init__(
        self,
        model,
        nx: int,
        sigma: float = 2.8,
        stride: int = 1,
        renormalize: bool = True,
        v_clip: float | None = 1.0,
        name=None,
    ):
        super().__init__(name=name)
        self.v_clip = None if v_clip is None else float(v_clip)
        self.model = model
        self.n_in, self.window = int(model.n_in), int(model.window)
        self.nx = int(nx)
        self.renormalize = bool(renormalize)
        centres, idx, wts = blend_tables(self.nx, self.window, sigma, stride)
        half = self.window // 2
        self.n_centres = len(centres)
        # numpy here, tf.constant inside the traced step: graph constants, not captured inputs (ONNX export)
        self.cells = ((centres[:, None] + np.arange(-half, half + 1)[None, :]) % self.nx).astype(np.int32)
        self.blend_idx = idx
        self.blend_w = wts
        self.step = tf.function(
            self._step, input_signature=[tf.TensorSpec([None, self.n_in, self.nx, 3], tf.float32, name="frames")]
        )
        self.rollout_graph = tf.function(
            lambda initial, potential, n_steps: _rollout_graph(self, initial, potential, n_steps),
            input_signature=[
                tf.TensorSpec([None, self.n_in, self.nx, 2], tf.float32),
                tf.TensorSpec([None, self.nx], tf.float32),
                tf.TensorSpec([], tf.int32),
            ],
        )

    def _step(self, frames: tf.Tensor) -> tf.Tensor:
        b = tf.shape(frames)[0]
        if self.v_clip is not None:
            v = tf.clip_by_value(frames[..., 2:], -self.v_clip, self.v_clip)
            frames = tf.concat([frames[..., :2], v], -1)
        win = tf.gather(frames, tf.constant(self.cells), axis=2)  # (B, n_in, NC, W, 3)
        win = tf.reshape(tf.transpose(win, [0, 2, 1, 3, 4]), [-1, self.n_in, self.window, 3])
        pred = tf.reshape(self.model(win), [b, self.n_centres * self.window, 2])
        picked = tf.gather(pred, tf.constant(self.blend_idx), axis=1)  # (B, NX, K, 2)
        nxt = tf.reduce_sum(picked * tf.constant(self.blend_w)[None, :, :, None], axis=2)
        if self.renormalize:
            last = frames[:, -1, :, :2]
            ratio = tf.reduce_sum(tf.square(last), [1, 2]) / (tf.reduce_sum(tf.square(nxt), [1, 2]) + 1e-30)
            nxt = nxt * tf.sqrt(ratio)[:, None, None]
        return nxt


def rollout(
    stepper: WholeBoxStep, initial: np.ndarray | tf.Tensor, potential: np.ndarray | tf.Tensor, n_steps: int = 400
) -> np.ndarray:
    """Forecast ``n_steps`` frames from ``initial`` psi (B, n_in, NX, 2) in ``potential`` (B, NX), already
    divided by v_scale.  Returns float32 (B, n_steps, NX, 2): the frames after the initial ones."""
    initial = tf.convert_to_tensor(initial, tf.float32)
    potential = tf.convert_to_tensor(potential, tf.float32)
    if initial.shape[1] != stepper.n_in or initial.shape[2] != stepper.nx:
        raise QwaveInputError(f"initial frames must be (B, {stepper.n_in}, {stepper.nx}, 2), got {initial.shape}")
    return stepper.rollout_graph(initial, potential, tf.constant(int(n_steps))).numpy()


def _rollout_graph(stepper: WholeBoxStep, initial, potential, n_steps):
    """The recursive forecast as one graph: a while loop appending each predicted frame."""
    v = tf.broadcast_to(potential[:, None, :, None], tf.concat([tf.shape(initial)[:3], [1]], 0))
    frames = tf.concat([initial, v], -1)
    out = tf.TensorArray(tf.float32, size=n_steps)

    def body(i, frames, out):
        nxt = stepper._step(frames)
        out = out.write(i, nxt)
        frames = tf.concat([frames[:, 1:], tf.concat([nxt, frames[:, -1, :, 2:]], -1)[:, None]], 1)
        return i + 1, frames, out

    _, _, out = tf.while_loop(lambda i, *_: i < n_steps, body, (0, frames, out))
    return tf.transpose(out.stack(), [1, 0, 2, 3])


def rollout_batched(
    stepper: WholeBoxStep,
    initial: np.ndarray,
    potential: np.ndarray,
    n_steps: int = 400,
    batch: int = 16,
    progress: bool = False,
) -> np.ndarray:
    """``rollout`` over many cases in chunks of ``batch`` (memory: ~B x NX windows per step)."""
    chunks = range(0, len(initial), batch)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="rollout", unit="chunk")
    return np.concatenate([rollout(stepper, initial[i : i + batch], potential[i : i + batch], n_steps) for i in chunks])

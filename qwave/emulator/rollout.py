"""Whole-box recursive forecast: the window model at every cell, Gaussian blending, repeat.

``WholeBoxStep`` is the single step ``frames (B, n_in, NX, 3) -> next (B, NX, 2)`` as a ``tf.Module``
with a ``tf.function`` signature - gathers, the model's dense/GRU ops, a weighted sum of the overlapping
window predictions; no Python loop over cells - which the export turns into ``step.onnx``.  Models with a
``predict_box`` method (``hyperlinear``) compute all windows' predictions from a cell-major table at once;
others run on gathered windows.  The blend is a gather and sum (``blend="gather"``, fastest in TensorFlow)
or a transposed convolution with a diagonal filter (``blend="conv"``, fastest in ONNX Runtime: the export's).

``rollout`` runs the step ``n_steps`` times inside one ``tf.while_loop`` graph, batched over cases.  For a
model that is linear in psi given V (``hyperlinear``, which has ``operator_matrices``), the potential does
not change during a rollout, so the rollout first builds the whole blended step as a banded complex
operator G(V) (each cell's next value from 2W - 1 cells of each input frame) and then applies it every frame:
the same map, reassociated (it agrees with the per-step graph to float32 round-off).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from qwave.emulator.options import DEFAULT_ROLLOUT, RolloutOptions
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


def offset_weights(idx: np.ndarray, wts: np.ndarray, window: int) -> np.ndarray:
    """The blend weight (W,) of a prediction by its offset k in its window, from ``blend_tables``' per-cell
    tables.  The offsets of a cell's predictions are all congruent to cell + half modulo the stride, so the
    normalisation, hence the weight, depends on k alone."""
    out = np.full(window, np.nan)
    used = wts > 0
    k, w = idx[used] % window, wts[used]
    out[k] = w
    if np.isnan(out).any() or not np.allclose(out[k], w, rtol=1e-6, atol=0):
        raise QwaveInputError("blend weights are not a function of the window offset")  # cannot happen
    return out.astype(np.float32)


class WholeBoxStep(tf.Module):
    """One emulator step over the periodic box, for a fixed NX, window model and :class:`RolloutOptions`.

    ``options.renormalize`` rescales each case's predicted frame to the norm of its last input frame
    (unitary evolution conserves the norm).  ``options.v_clip`` clamps the scaled potential channel to
    [-v_clip, v_clip] (the range the model was trained on; None: no clamp): far above the packet's
    energy a higher wall reflects the same way, while unseen inputs make the learned step unstable.
    ``precompute`` lets ``rollout`` build the blended linear step once per rollout for models that are
    linear in psi (``hyperlinear``; NX >= 2W); False runs ``step`` every frame.  ``blend``: "gather" or "conv", the
    same sum in two formulations (see the module docstring).
    """

    def __init__(
        self,
        model,
        nx: int,
        options: RolloutOptions = DEFAULT_ROLLOUT,
        precompute: bool = True,
        blend: str = "gather",
        name=None,
    ):
        super().__init__(name=name)
        if blend not in ("gather", "conv"):
            raise QwaveInputError(f"blend must be 'gather' or 'conv', got {blend!r}")
        self.blend = blend
        self.options = options
        self.v_clip = None if options.v_clip is None else float(options.v_clip)
        self.model = model
        self.n_in, self.window = int(model.n_in), int(model.window)
        self.nx = int(nx)
        self.stride = int(options.stride)
        self.renormalize = bool(options.renormalize)
        centres, idx, wts = blend_tables(self.nx, self.window, options.sigma, options.stride)
        half = self.window // 2
        self.n_centres = len(centres)
        # numpy here, tf.constant inside the traced step: graph constants, not captured inputs (ONNX export)
        self.cells = ((centres[:, None] + np.arange(-half, half + 1)[None, :]) % self.nx).astype(np.int32)
        self.blend_idx = idx
        self.blend_w = wts
        self.offset_w = offset_weights(idx, wts, self.window)
        # index tables of the banded operator G(V), shared by ``operator`` and ``operator_parts``: per (cell,
        # window offset k) the row of that window's coefficients (a zero row where no window is centred), and
        # per (k, band offset d) the row of the padded, offset-major basis operators
        cell, k = np.arange(self.nx)[:, None], np.arange(self.window)[None, :]
        centre = (cell - k + half) % self.nx
        self._cell_rows = np.where(
            centre % self.stride == 0, (centre // self.stride) * self.window + k, self.n_centres * self.window
        ).astype(np.int32)
        w = self.window
        self._band_rows = (
            np.arange(w)[:, None] * (3 * w - 2) + np.arange(2 * w - 1)[None, :] + np.arange(w)[:, None]
        ).astype(np.int32)
        self.box_model = hasattr(model, "predict_box")
        self.precompute = bool(precompute) and hasattr(model, "operator_matrices") and self.nx >= 2 * self.window
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

    def _clip(self, v: tf.Tensor) -> tf.Tensor:
        return v if self.v_clip is None else tf.clip_by_value(v, -self.v_clip, self.v_clip)

    def _step(self, frames: tf.Tensor) -> tf.Tensor:
        if self.box_model:
            psi = tf.reshape(tf.transpose(frames[..., :2], [0, 2, 1, 3]), [-1, self.nx, self.n_in * 2])
            pred = self.model.predict_box(psi, self._clip(frames[:, -1, :, 2]), self.stride)  # (B, 2, NC, W)
        else:
            frames = tf.concat([frames[..., :2], self._clip(frames[..., 2:])], -1)
            # one gather straight into (B, NC, n_in, W, 3) from the frames flattened to (B, n_in * NX, 3)
            flat = tf.reshape(frames, [-1, self.n_in * self.nx, 3])
            idx = np.arange(self.n_in)[None, :, None] * self.nx + self.cells[:, None, :]
            win = tf.reshape(
                tf.gather(flat, tf.constant(idx.astype(np.int32)), axis=1), [-1, self.n_in, self.window, 3]
            )
            pred = tf.reshape(self.model(win), [-1, self.n_centres, self.window, 2])
            pred = tf.transpose(pred, [0, 3, 1, 2])
        nxt = self._blend(pred)
        if self.renormalize:
            last = frames[:, -1, :, :2]
            ratio = tf.reduce_sum(tf.square(last), [1, 2]) / (tf.reduce_sum(tf.square(nxt), [1, 2]) + 1e-30)
            nxt = nxt * tf.sqrt(ratio)[:, None, None]
        return nxt

    def _blend(self, pred: tf.Tensor) -> tf.Tensor:
        """Window predictions (B, 2, NC, W) -> blended frame (B, NX, 2).  "gather": each cell picks its K
        predictions (``blend_tables``) and sums them weighted.  "conv": a transposed convolution with the
        diagonal filter of offset weights places prediction k of the window at centre j on position
        j + k (= cell + half), summing overlaps; positions are then folded onto the periodic box."""
        b = tf.shape(pred)[0]
        w, half, nx = self.window, self.window // 2, self.nx
        if self.blend == "gather":
            flat = tf.reshape(pred, [-1, 2, self.n_centres * w])
            picked = tf.gather(flat, tf.constant(self.blend_idx), axis=2)  # (B, 2, NX, K)
            return tf.transpose(tf.reduce_sum(picked * tf.constant(self.blend_w), 3), [0, 2, 1])
        length = (self.n_centres - 1) * self.stride + w
        filt = tf.constant(np.diag(self.offset_w).reshape(1, w, 1, w))  # (1, W, out 1, in W)
        x = tf.reshape(pred, [-1, 1, self.n_centres, w])
        out = tf.nn.conv2d_transpose(x, filt, tf.stack([b * 2, 1, length, 1]), [1, 1, self.stride, 1], "VALID")
        reps = math.ceil((nx - half + length) / nx)
        out = tf.pad(tf.reshape(out, [-1, length]), [[0, 0], [nx - half, reps * nx - (nx - half + length)]])
        out = tf.reduce_sum(tf.reshape(out, [-1, 2, reps, nx]), 2)
        return tf.transpose(out, [0, 2, 1])

    def operator(self, potential: tf.Tensor) -> tf.Tensor:
        """The blended step for ``potential`` (B, NX, V / v_scale) as a banded complex operator, complex64
        (2W - 1, B, NX, n_in): next[cell] = sum_{d, t} G[d, :, cell, t] psi_t[cell + d - (W - 1)], before
        renormalisation.  Needs a model linear in psi given V (``operator_matrices``, ``box_coefficients``)."""
        w, m, nx, n_in = self.window, self.model.basis, self.nx, self.n_in
        span = 2 * w - 1
        b = tf.shape(potential)[0]
        c_re, c_im = self.model.box_coefficients(self._clip(potential), self.stride)  # (B * NC, W * M)
        c = tf.reshape(tf.complex(c_re, c_im), [b, self.n_centres * w, m])
        c = tf.concat([c, tf.zeros([b, 1, m], tf.complex64)], 1)  # a zero row for (cell, k) with no window
        c = tf.reshape(tf.gather(c, tf.constant(self._cell_rows), axis=1), [-1, w * m])  # (B NX, (k, m))
        op_re, op_im = self.model.operator_matrices()
        a = tf.complex(tf.reshape(op_re, [w, n_in, 2, w, m])[:, :, 0], tf.reshape(op_im, [w, n_in, 2, w, m])[:, :, 0])
        a = tf.pad(tf.transpose(a, [2, 0, 1, 3]), [[0, 0], [w - 1, w - 1], [0, 0], [0, 0]])  # (k, i + W - 1, t, m)
        a = tf.gather(tf.reshape(a, [w * (3 * w - 2), n_in, m]), tf.constant(self._band_rows))  # (k, d, t, m)
        a = a * tf.constant(self.offset_w.astype(np.complex64))[:, None, None, None]
        a = tf.reshape(tf.transpose(a, [0, 3, 1, 2]), [w * m, span * n_in])
        g = tf.reshape(tf.matmul(c, a), [b, nx, span, n_in])
        return tf.transpose(g, [2, 0, 1, 3])

    def operator_parts(self, potential: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``operator`` in real arithmetic (ONNX has no complex type; the export's ``rollout.onnx`` builds G
        with it): Re and Im of G, each float32 (B, NX, 2W - 1, n_in), [b, cell, d, t] = G[d, b, cell, t]."""
        w, m, nx, n_in = self.window, self.model.basis, self.nx, self.n_in
        span = 2 * w - 1
        b = tf.shape(potential)[0]
        c_re, c_im = self.model.box_coefficients(self._clip(potential), self.stride)  # (B * NC, W * M)
        rows = tf.constant(self._cell_rows)

        def spread(c):  # (B * NC, W * M) -> (B * NX, W * M): each cell's (k, m) coefficients, 0 without a window
            c = tf.concat([tf.reshape(c, [b, self.n_centres * w, m]), tf.zeros([b, 1, m], c.dtype)], 1)
            return tf.reshape(tf.gather(c, rows, axis=1), [-1, w * m])

        def banded(op):  # as in ``operator``: (k, m) x (d, t), weighted by the blend
            a = tf.pad(
                tf.transpose(tf.reshape(op, [w, n_in, 2, w, m])[:, :, 0], [2, 0, 1, 3]),
                [[0, 0], [w - 1] * 2, [0, 0], [0, 0]],
            )
            a = tf.gather(tf.reshape(a, [w * (3 * w - 2), n_in, m]), tf.constant(self._band_rows))
            a = a * tf.constant(self.offset_w)[:, None, None, None]
            return tf.reshape(tf.transpose(a, [0, 3, 1, 2]), [w * m, span * n_in])

        op_re, op_im = self.model.operator_matrices()
        a_re, a_im = banded(op_re), banded(op_im)
        c = tf.concat([spread(c_re), spread(c_im)], 1)  # one real matmul for the complex product
        g = tf.matmul(c, tf.concat([tf.concat([a_re, a_im], 1), tf.concat([-a_im, a_re], 1)], 0))
        g = tf.reshape(g, [b, nx, 2, span, n_in])
        return g[:, :, 0], g[:, :, 1]

    def apply_operator(self, g: tf.Tensor, psi: tf.Tensor) -> tf.Tensor:
        """One step with a precomputed ``operator``: psi complex64 (B, NX, n_in) -> next complex64 (B, NX)."""
        nx, reach = self.nx, self.window - 1
        pad = tf.concat([psi[:, nx - reach :], psi, psi[:, :reach]], 1)
        nxt = tf.reduce_sum(tf.add_n([g[d] * pad[:, d : d + nx] for d in range(2 * reach + 1)]), -1)
        if self.renormalize:
            last = psi[:, :, -1]
            ratio = tf.reduce_sum(_abs2(last), 1) / (tf.reduce_sum(_abs2(nxt), 1) + 1e-30)
            nxt = nxt * tf.cast(tf.sqrt(ratio), tf.complex64)[:, None]
        return nxt


def _abs2(z: tf.Tensor) -> tf.Tensor:
    return tf.square(tf.math.real(z)) + tf.square(tf.math.imag(z))


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
    if stepper.precompute:
        return _operator_rollout_graph(stepper, initial, potential, n_steps)
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


def _operator_rollout_graph(stepper: WholeBoxStep, initial, potential, n_steps):
    """The recursive forecast with the step built once as a banded operator (``WholeBoxStep.operator``)."""
    g = stepper.operator(potential)
    psi = tf.transpose(tf.complex(initial[..., 0], initial[..., 1]), [0, 2, 1])  # (B, NX, n_in)
    out = tf.TensorArray(tf.float32, size=n_steps)

    def body(i, psi, out):
        nxt = stepper.apply_operator(g, psi)
        out = out.write(i, tf.stack([tf.math.real(nxt), tf.math.imag(nxt)], -1))
        return i + 1, tf.concat([psi[:, :, 1:], nxt[:, :, None]], -1), out

    _, _, out = tf.while_loop(lambda i, *_: i < n_steps, body, (0, psi, out))
    return tf.transpose(out.stack(), [1, 0, 2, 3])


def rollout_batched(
    stepper: WholeBoxStep,
    initial: np.ndarray,
    potential: np.ndarray,
    n_steps: int = 400,
    progress: bool = False,
) -> np.ndarray:
    """``rollout`` over many cases in chunks of ``stepper.options.batch`` (memory: ~B x NX windows per step)."""
    batch = stepper.options.batch
    chunks = range(0, len(initial), batch)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="rollout", unit="chunk")
    return np.concatenate([rollout(stepper, initial[i : i + batch], potential[i : i + batch], n_steps) for i in chunks])

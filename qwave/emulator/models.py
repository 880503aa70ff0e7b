"""The emulators: window (B, n_in, W, 3) [Re psi, Im psi, V / v_scale] -> next frame (B, W, 2).

All are registered Keras classes (package ``qwave``), so ``.keras`` files load with ``safe_mode=True``.

- ``gru``: the paper's model - per frame Dense(69, ReLU) on the flattened window, GRU(69, ReLU), its
  output and state into Dense(2W); ~40k parameters.
- ``gru_res``: the same GRU predicting the change from the last input frame, plus a linear map of the
  input psi (a learned linear propagator the GRU corrects where the potential acts).  ``normalize`` (any GRU)
  divides the window's psi by its root-mean-square amplitude before the GRU and multiplies the GRU's output back,
  so a packet's faint tail is forecast with the same relative accuracy as its peak (the TDSE is linear in psi).
- ``hyperlinear`` (qwave's default, the shipped model): next frame = sum_m c_m(V) * (A_m psi) in complex
  arithmetic - linear in psi and nonlinear in V, so the Schrodinger equation's linearity and global-phase
  symmetry hold exactly; ``hyperlinear_conv`` computes c(V) with a local convolution instead of an MLP;
- baselines ``linear`` (last frame only), ``dense`` (Conv1D + Dense), ``conv`` (Conv2D over frames x cells).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from qwave.errors import QwaveInputError


class Emulator(keras.Model):
    """Base: stores the window geometry and the config round trip."""

    def __init__(self, n_in: int = 4, window: int = 23, **kwargs):
        super().__init__(**kwargs)
        self.n_in = int(n_in)
        self.window = int(window)

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "n_in": self.n_in, "window": self.window}

    def build(self, input_shape) -> None:
        self.call(keras.KerasTensor((1, self.n_in, self.window, 3)))
        self.built = True

    def _out(self, flat):
        return ops.reshape(flat, (-1, self.window, 2))


@keras.saving.register_keras_serializable(package="qwave")
class GRUEmulator(Emulator):
    """The paper's GRU; ``residual`` adds the last input frame, ``linear_skip`` a learned linear map of input psi,
    ``normalize`` runs the GRU on the window's psi divided by its RMS amplitude (plus ``NORM_FLOOR``) and scales
    its output back: the GRU part becomes scale-equivariant, f(a psi) = a f(psi), like the Schrodinger step."""

    NORM_FLOOR = 1e-4  # bohr^-1/2: below the training noise (1e-3), so every training window is normalised

    def __init__(
        self,
        hidden: int = 69,
        residual: bool = False,
        linear_skip: bool = False,
        unroll: bool = True,
        normalize: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden = int(hidden)
        self.residual = bool(residual)
        self.linear_skip = bool(linear_skip)
        self.unroll = bool(unroll)
        self.normalize = bool(normalize)
        self.embed = layers.Dense(self.hidden, activation="relu", name="embed")
        self.gru = layers.GRU(self.hidden, activation="relu", unroll=self.unroll, return_state=True, name="gru")
        self.head = layers.Dense(2 * self.window, name="head")
        self.skip = (
            layers.Dense(2 * self.window, use_bias=False, name="skip", kernel_initializer="zeros")
            if (self.linear_skip)
            else None
        )

    def call(self, x):
        amp = None
        if self.normalize:  # (B, 1, 1, 1) RMS of the window's psi
            amp = ops.sqrt(ops.mean(ops.square(x[..., :2]), axis=(1, 2, 3), keepdims=True) + self.NORM_FLOOR**2)
            x_gru = ops.concatenate([x[..., :2] / amp, x[..., 2:]], -1)
        else:
            x_gru = x
        seq = ops.reshape(x_gru, (-1, self.n_in, self.window * 3))
        out, state = self.gru(self.embed(seq))
        y = self.head(ops.concatenate([out, state], -1))
        if amp is not None:
            y = y * ops.reshape(amp, (-1, 1))
        if self.skip is not None:
            y = y + self.skip(ops.reshape(x[..., :2], (-1, self.n_in * self.window * 2)))
        y = self._out(y)
        if self.residual:
            y = y + x[:, -1, :, :2]
        return y

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "hidden": self.hidden,
            "residual": self.residual,
            "linear_skip": self.linear_skip,
            "unroll": self.unroll,
            "normalize": self.normalize,
        }


@keras.saving.register_keras_serializable(package="qwave")
class LinearEmulator(Emulator):
    """Baseline: one Dense map of the last frame's window (Re, Im, V) to the next frame."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(2 * self.window, name="dense")

    def call(self, x):
        return self._out(self.dense(ops.reshape(x[:, -1], (-1, self.window * 3))))


@keras.saving.register_keras_serializable(package="qwave")
class DenseEmulator(Emulator):
    """Baseline: Conv1D over cells (frames x channels as features), then Dense layers."""

    def __init__(self, filters: int = 32, hidden: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.hidden = int(filters), int(hidden)
        self.conv = layers.Conv1D(self.filters, 5, padding="same", activation="relu", name="conv")
        self.d1 = layers.Dense(self.hidden, activation="relu", name="d1")
        self.d2 = layers.Dense(2 * self.window, name="d2")

    def call(self, x):
        cells = ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (-1, self.window, self.n_in * 3))
        h = ops.reshape(self.conv(cells), (-1, self.window * self.filters))
        return self._out(self.d2(self.d1(h)))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="qwave")
class ConvEmulator(Emulator):
    """Baseline: two Conv2D layers over (frames, cells), then Dense."""

    def __init__(self, filters: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.c1 = layers.Conv2D(self.filters, (2, 5), padding="same", activation="relu", name="c1")
        self.c2 = layers.Conv2D(self.filters, (2, 5), padding="same", activation="relu", name="c2")
        self.out_dense = layers.Dense(2 * self.window, name="out")

    def call(self, x):
        h = self.c2(self.c1(x))
        return self._out(self.out_dense(ops.reshape(h, (-1, self.n_in * self.window * self.filters))))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="qwave")
class HyperLinearEmulator(Emulator):
    """Linear in psi, nonlinear in V: next = sum_m c_m(V) * (A_m psi), all complex.

    The TDSE is linear and global-phase symmetric, so the map from the input psi window to the next
    frame is a complex-linear operator that depends only on the potential.  ``basis`` learned complex
    operators A_m (n_in*W cells -> W cells) are mixed per output cell by complex coefficients c_m(V)
    from a small MLP of the window's V.  Phase equivariance and scale equivariance are exact; at
    initialisation the model copies the last frame (A_0 = copy, c_0 = 1).  ``predict_box`` evaluates the
    same map for every window of a periodic box at once, and ``operator_matrices`` / ``box_coefficients``
    expose its two factors (``qwave.emulator.rollout`` builds the whole blended step from them once per rollout).
    """

    def __init__(self, basis: int = 8, hidden: int = 48, hyper: str = "mlp", kernel: int = 7, **kwargs):
        super().__init__(**kwargs)
        self.basis, self.hidden, self.hyper, self.kernel = int(basis), int(hidden), str(hyper), int(kernel)
        if self.hyper == "mlp":  # c(V) from the whole V window, per output cell
            self.h1 = layers.Dense(self.hidden, activation="relu", name="h1")
            self.h2 = layers.Dense(self.hidden, activation="relu", name="h2")
            bias = np.zeros((self.basis, self.window, 2), np.float32)
            bias[0, :, 0] = 1.0
            n_out = self.basis * self.window * 2
        elif self.hyper == "conv":  # c(V) local and translation-equivariant: V near each output cell
            self.h1 = layers.Conv1D(self.hidden, self.kernel, padding="same", activation="relu", name="h1")
            self.h2 = layers.Conv1D(self.hidden, self.kernel, padding="same", activation="relu", name="h2")
            bias = np.zeros((self.basis, 2), np.float32)
            bias[0, 0] = 1.0
            n_out = self.basis * 2
        else:
            raise QwaveInputError(f"hyper must be 'mlp' or 'conv', got {hyper!r}")
        self.coef = layers.Dense(
            n_out,
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(bias.ravel()),
            name="coef",
        )

    def build(self, input_shape) -> None:
        n, w, m = self.n_in * self.window, self.window, self.basis
        copy = np.zeros((m, n, w), np.float32)
        copy[0, (self.n_in - 1) * w + np.arange(w), np.arange(w)] = 1.0
        noise = np.random.default_rng(0).normal(0.0, 0.01 / np.sqrt(n), (m, n, w)).astype(np.float32)
        self.a_re = self.add_weight((m, n, w), initializer=keras.initializers.Constant(copy + noise), name="a_re")
        self.a_im = self.add_weight(
            (m, n, w), initializer=keras.initializers.Constant(np.roll(noise, 1, 0)), name="a_im"
        )
        super().build(input_shape)

    def call(self, x):
        n, w, m = self.n_in * self.window, self.window, self.basis
        re = ops.reshape(x[..., 0], (-1, n))
        im = ops.reshape(x[..., 1], (-1, n))
        a_re = ops.reshape(ops.transpose(self.a_re, (1, 0, 2)), (n, m * w))
        a_im = ops.reshape(ops.transpose(self.a_im, (1, 0, 2)), (n, m * w))
        psi = ops.concatenate([re, im], -1)  # (B, 2n)
        big = ops.concatenate(
            [ops.concatenate([a_re, a_im], -1), ops.concatenate([-a_im, a_re], -1)], 0
        )  # (2n, 2mw): [Re(A psi) | Im(A psi)]
        out = ops.matmul(psi, big)
        b_re = ops.reshape(out[:, : m * w], (-1, m, w))
        b_im = ops.reshape(out[:, m * w :], (-1, m, w))
        if self.hyper == "mlp":
            c = ops.reshape(self.coef(self.h2(self.h1(x[:, -1, :, 2]))), (-1, m, w, 2))
        else:
            c = self.coef(self.h2(self.h1(x[:, -1, :, 2:3])))  # (B, W, 2M)
            c = ops.transpose(ops.reshape(c, (-1, w, m, 2)), (0, 2, 1, 3))
        c_re, c_im = c[..., 0], c[..., 1]
        y_re = ops.sum(c_re * b_re - c_im * b_im, axis=1)
        y_im = ops.sum(c_re * b_im + c_im * b_re, axis=1)
        return ops.stack([y_re, y_im], -1)

    # --- the same map at every window centre of a periodic box at once (qwave.emulator.rollout.WholeBoxStep) -------

    def operator_matrices(self) -> tuple:
        """The psi part as two real matrices (W * n_in * 2, W * basis): a cell-major window, rows ordered (cell i,
        frame t, [Re, Im] psi), maps to Re (first matrix) and Im (second) of (A_m psi)[k], columns (k, m)."""
        w, m = self.window, self.basis
        a_re = ops.transpose(ops.reshape(self.a_re, (m, self.n_in, w, w)), (2, 1, 3, 0))  # (i, t, k, m)
        a_im = ops.transpose(ops.reshape(self.a_im, (m, self.n_in, w, w)), (2, 1, 3, 0))
        rows = w * self.n_in * 2
        op_re = ops.reshape(ops.stack([a_re, -a_im], 2), (rows, w * m))
        op_im = ops.reshape(ops.stack([a_im, a_re], 2), (rows, w * m))
        return op_re, op_im

    def box_coefficients(self, v, stride: int = 1) -> tuple:
        """c(V) for the windows centred at cells 0, stride, 2 stride, ... of a periodic box.  ``v`` (B, NX) is the
        last input frame's V / v_scale.  Returns Re and Im of c, each (B * NX / stride, W * basis), rows (case,
        centre), columns (output cell k, m).  For ``hyper="mlp"`` the first layer runs as a strided convolution
        over the box instead of on gathered windows."""
        w, m, half = self.window, self.basis, self.window // 2
        nx = int(v.shape[-1])
        vpad = ops.concatenate([v[:, nx - half :], v, v[:, :half]], 1)  # vpad[p] = v[p - half]
        if self.hyper == "mlp":
            kernel = ops.reshape(self.h1.kernel, (w, 1, self.hidden))
            h = ops.conv(vpad[..., None], kernel, strides=stride, padding="valid") + self.h1.bias
            h = self.h2(ops.reshape(self.h1.activation(h), (-1, self.hidden)))
            # coef's columns are (m, k, [Re, Im]): reorder its kernel and bias rather than every output
            k_ri = ops.transpose(ops.reshape(self.coef.kernel, (self.hidden, m, w, 2)), (3, 0, 2, 1))
            b_ri = ops.transpose(ops.reshape(self.coef.bias, (m, w, 2)), (2, 1, 0))
            c_re = ops.matmul(h, ops.reshape(k_ri[0], (self.hidden, w * m))) + ops.reshape(b_ri[0], (w * m,))
            c_im = ops.matmul(h, ops.reshape(k_ri[1], (self.hidden, w * m))) + ops.reshape(b_ri[1], (w * m,))
            return c_re, c_im
        cells = np.arange(0, nx, stride)[:, None] + np.arange(w)[None, :]  # into vpad
        vwin = ops.reshape(ops.take(vpad, cells.astype(np.int32), axis=1), (-1, w, 1))
        c = ops.reshape(self.coef(self.h2(self.h1(vwin))), (-1, w, m, 2))
        return ops.reshape(c[..., 0], (-1, w * m)), ops.reshape(c[..., 1], (-1, w * m))

    def predict_box(self, psi, v, stride: int = 1):
        """``call`` on every window centred at cells 0, stride, 2 stride, ... of a periodic box, at once, from
        a cell-major table: ``psi`` (B, NX, n_in * 2) holds each cell's [Re, Im] psi for the input frames,
        oldest first; ``v`` (B, NX) is the last frame's V / v_scale.  Returns (B, 2, NX / stride, W): Re and Im
        of the next frame in each window (no window gather of V, no re/im interleaving: two matmuls each for
        A psi and c, and an elementwise complex combine)."""
        w, m, half = self.window, self.basis, self.window // 2
        nx = int(psi.shape[1])
        n_centres = nx // stride
        cells = (np.arange(0, nx, stride)[:, None] + np.arange(-half, half + 1)[None, :]) % nx
        win = ops.reshape(ops.take(psi, cells.astype(np.int32), axis=1), (-1, w * self.n_in * 2))
        op_re, op_im = self.operator_matrices()
        b_re, b_im = ops.matmul(win, op_re), ops.matmul(win, op_im)  # (B * NC, W * M)
        c_re, c_im = self.box_coefficients(v, stride)
        y_re = ops.sum(ops.reshape(c_re * b_re - c_im * b_im, (-1, n_centres, w, m)), -1)
        y_im = ops.sum(ops.reshape(c_re * b_im + c_im * b_re, (-1, n_centres, w, m)), -1)
        return ops.stack([y_re, y_im], 1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "basis": self.basis,
            "hidden": self.hidden,
            "hyper": self.hyper,
            "kernel": self.kernel,
        }


MODELS: dict[str, tuple[type[Emulator], dict]] = {
    "gru": (GRUEmulator, {}),
    "gru_res": (GRUEmulator, {"residual": True, "linear_skip": True}),
    "linear": (LinearEmulator, {}),
    "dense": (DenseEmulator, {}),
    "conv": (ConvEmulator, {}),
    "hyperlinear": (HyperLinearEmulator, {"hyper": "mlp"}),
    "hyperlinear_conv": (HyperLinearEmulator, {"hyper": "conv"}),
}


def build_model(name: str, n_in: int = 4, window: int = 23, **overrides) -> Emulator:
    """A built emulator by registry name; ``overrides`` go to its constructor."""
    if name not in MODELS:
        raise QwaveInputError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    cls, kwargs = MODELS[name]
    model = cls(n_in=n_in, window=window, name=name, **{**kwargs, **overrides})
    model.build((None, n_in, window, 3))
    return model


def load_model(path) -> Emulator:
    """Load a ``.keras`` emulator in safe mode, without its optimizer."""
    return keras.models.load_model(path, safe_mode=True, compile=False)

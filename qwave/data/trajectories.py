"""Simulations held once in memory for training: psi, the scaled potential and a stage per simulation.

Subsets are masks over the same arrays, and psi is held once: ``from_examples`` copies each example into
a TF variable allocated up front, which every pipeline and every subset reads in place, so the full grid's
10.9 GiB stay 10.9 GiB in memory (an ablation variant costs no memory).

Why a variable: ``tf.data`` copies every eager tensor a dataset function captures when it makes an
iterator (measured: +1 copy of psi, whether the tensor came from ``tf.constant`` or from DLPack over numpy
memory), while a captured variable is read through its handle.  The variable is written with a dense
slice assignment (a sparse write such as ``scatter_update`` switches the variable to copy-on-read) and
read with ``gather`` on the handle, and nothing else holds its buffer, so no copy-on-write either.  It is
flat, (S*T*NX, 2): a window is then one gather of flat indices, cheaper than ``gather_nd`` of (sim, frame,
cell) triples (the variable cannot be reshaped without a copy).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from qwave.curriculum import STAGES
from qwave.errors import QwaveInputError


@dataclasses.dataclass
class Trajectories:
    """Simulations in memory: ``psi`` float32 (S, T, NX, 2) in bohr^-1/2, ``potential`` float32 (S, NX) already
    divided by ``v_scale``, ``stage`` int32 (S,) indexing ``stages``, and (when known) the packets' ``e0`` (S,)
    in hartree.  ``psi`` is held flat, (S*T*NX, 2) with ``frame_shape`` (T, NX): a ``tf.Variable`` as
    :meth:`from_examples` builds it, or a numpy array (one given as (S, T, NX, 2) is viewed flat, no copy);
    :attr:`shape` is (S, T, NX, 2)."""

    psi: Any
    potential: np.ndarray
    stage: np.ndarray
    stages: tuple[str, ...]
    v_scale: float
    e0: np.ndarray | None = None
    active: np.ndarray | None = None  # bool (S,): the simulations training draws from (None: all)
    frame_shape: tuple[int, int] | None = None  # (T, NX); taken from psi when it is given as (S, T, NX, 2)
    # What TF reads (see tensors()), shared by every pipeline and every subset.
    _tensors: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.psi.shape) == 4:  # a view, so writes to it still reach the caller's array
            self.frame_shape = tuple(int(n) for n in self.psi.shape[1:3])
            self.psi = np.asarray(self.psi).reshape(-1, 2)
        elif self.frame_shape is None:
            raise QwaveInputError("a flat (S*T*NX, 2) psi needs frame_shape (T, NX)")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(S, T, NX, 2): simulations, frames, cells, (Re, Im)."""
        t, nx = self.frame_shape
        return int(self.psi.shape[0]) // (t * nx), t, nx, 2

    @property
    def index(self) -> np.ndarray:
        """Indices of the active simulations."""
        return np.arange(self.shape[0]) if self.active is None else np.flatnonzero(self.active)

    @property
    def n_sims(self) -> int:
        return len(self.index)

    @classmethod
    def from_examples(
        cls,
        examples: Iterable[dict],
        v_scale: float,
        stages: Sequence[str] = STAGES,
        count: int | None = None,
    ) -> Trajectories:
        """From example dicts (the dataset schema); examples of stages not in ``stages`` are dropped.

        Examples are copied one by one into storage allocated up front (psi: a TF variable), so a stream
        (a TFDS split, the solver's output) is never held twice in memory; ``count`` is an upper bound on a
        stream's length (default ``len(examples)``).
        """
        import tensorflow as tf

        stages = tuple(stages)
        count = len(examples) if count is None else int(count)
        psi = potential = None
        stage, e0 = np.zeros(count, np.int32), np.zeros(count, np.float32)
        n = 0
        for ex in examples:
            name = _text(ex["stage"])
            if name not in stages:
                continue
            if n == count:
                raise QwaveInputError(f"more than the announced {count} examples")
            if psi is None:
                shape = np.shape(ex["psi"])  # (T, NX, 2)
                size = shape[0] * shape[1]  # rows of one simulation in the flat variable
                psi = tf.Variable(tf.zeros((count * size, 2)), trainable=False, name="psi")
                potential = np.empty((count, shape[1]), np.float32)
            tf.raw_ops.ResourceStridedSliceAssign(
                ref=psi.handle,
                begin=[n * size],
                end=[(n + 1) * size],
                strides=[1],
                value=np.asarray(ex["psi"], np.float32).reshape(size, 2),
            )
            potential[n] = np.asarray(ex["potential"], np.float32) / v_scale
            stage[n], e0[n] = stages.index(name), ex.get("e0", np.nan)
            n += 1
        if not n:
            raise QwaveInputError(f"no examples in stages {', '.join(stages)}")
        if n < count:  # a short stream: keep the first n (one copy, only of what was filled)
            psi = tf.Variable(psi[: n * size], trainable=False, name="psi")
        return cls(psi, potential[:n], stage[:n], stages, float(v_scale), e0[:n], frame_shape=shape[:2])

    def tensors(self) -> dict:
        """{"psi": (S*T*NX, 2) variable, "v": (S*NX,) tensor} float32, made once and shared by every subset.

        A numpy ``psi`` is copied once into a variable here; one from :meth:`from_examples` is used as it is.
        """
        import tensorflow as tf

        if not self._tensors:
            psi = self.psi
            if not isinstance(psi, tf.Variable):
                psi = tf.Variable(np.asarray(psi, np.float32), trainable=False, name="psi")
            self._tensors.update(psi=psi, v=tf.constant(self.potential.ravel()))
        return self._tensors

    def subset(self, keep: np.ndarray) -> Trajectories:
        """The same arrays with only the simulations where ``keep`` (bool (S,)) is true active: no copy, and
        the TF copy of the data is shared, so ablation variants cost no memory."""
        keep = np.asarray(keep, bool)
        if keep.all():
            return self
        active = keep if self.active is None else keep & self.active
        return dataclasses.replace(self, active=active, _tensors=self._tensors)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""Simulations held once in memory for training: psi, the scaled potential and a stage per simulation.

Subsets are masks over the same arrays, and TF reads psi in place (DLPack, no copy): the full grid's
10.9 GiB stay 10.9 GiB in memory, shared by every pipeline and every subset (an ablation variant costs
no memory).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from qwave.curriculum import STAGES
from qwave.errors import QwaveInputError


@dataclasses.dataclass
class Trajectories:
    """Simulations in memory: ``psi`` float32 (S, T, NX, 2), ``potential`` float32 (S, NX) already divided by
    ``v_scale``, ``stage`` int32 (S,) indexing ``stages``, and (when known) the packets' ``e0`` (S,) in hartree."""

    psi: np.ndarray
    potential: np.ndarray
    stage: np.ndarray
    stages: tuple[str, ...]
    v_scale: float
    e0: np.ndarray | None = None
    active: np.ndarray | None = None  # bool (S,): the simulations training draws from (None: all)
    # TF's views of psi and potential (see tensors()), shared by every pipeline and every subset.
    _tensors: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def index(self) -> np.ndarray:
        """Indices of the active simulations."""
        return np.arange(self.psi.shape[0]) if self.active is None else np.flatnonzero(self.active)

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

        Examples are copied one by one into arrays allocated up front, so a stream (a TFDS split, the
        solver's output) is never held twice in memory; ``count`` is an upper bound on a stream's length
        (default ``len(examples)``).
        """
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
                shape = np.shape(ex["psi"])
                psi = aligned_empty((count, *shape))
                potential = np.empty((count, shape[1]), np.float32)
            psi[n] = ex["psi"]
            potential[n] = np.asarray(ex["potential"], np.float32) / v_scale
            stage[n], e0[n] = stages.index(name), ex.get("e0", np.nan)
            n += 1
        if not n:
            raise QwaveInputError(f"no examples in stages {', '.join(stages)}")
        return cls(psi[:n], potential[:n], stage[:n], stages, float(v_scale), e0[:n])

    def tensors(self) -> dict:
        """{"psi": (S*T*NX, 2), "v": (S*NX,)} float32 tensors over the same memory as ``psi`` and ``potential``.

        ``tf.constant`` would copy psi into TF's allocator (twice over at peak); DLPack hands TF the numpy
        buffer itself, which it accepts when the buffer is 64-byte aligned (:func:`aligned_empty`).  Made once.
        """
        if not self._tensors:
            self._tensors.update(psi=_shared_tensor(self.psi.reshape(-1, 2)), v=_shared_tensor(self.potential.ravel()))
        return self._tensors

    def subset(self, keep: np.ndarray) -> Trajectories:
        """The same arrays with only the simulations where ``keep`` (bool (S,)) is true active: no copy, and
        the TF copy of the data is shared, so ablation variants cost no memory."""
        keep = np.asarray(keep, bool)
        if keep.all():
            return self
        active = keep if self.active is None else keep & self.active
        return dataclasses.replace(self, active=active, _tensors=self._tensors)


ALIGN = 64  # bytes: TF's (Eigen's) alignment for tensors it does not allocate itself


def aligned_empty(shape: Sequence[int], dtype=np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an :data:`ALIGN`-byte boundary."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    raw = np.empty(n * dtype.itemsize + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start : start + n * dtype.itemsize].view(dtype).reshape(shape)


def _shared_tensor(array: np.ndarray):
    """A TF tensor over ``array``'s memory (copied once into an aligned buffer when it is not aligned)."""
    import tensorflow as tf

    if not array.flags.c_contiguous or array.ctypes.data % ALIGN:
        aligned = aligned_empty(array.shape, array.dtype)
        aligned[...] = array
        array = aligned
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

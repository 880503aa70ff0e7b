"""Settings shared by everything that runs a forecast (evaluate, export, predict, insight), as one object so
a command-line flag cannot get lost on the way.  No TensorFlow: the CLI and export build it cheaply."""

from __future__ import annotations

import dataclasses
import math

from qwave.errors import QwaveInputError


@dataclasses.dataclass(frozen=True)
class RolloutOptions:
    """How a whole-box forecast runs, shared by evaluate, export, predict and the insight experiments.

    ``sigma``: Gaussian blending width (cells); ``stride``: cells between window centres; ``renormalize``:
    rescale each predicted frame to the last input frame's norm (unitary evolution conserves it);
    ``v_clip``: clamp V / v_scale to [-v_clip, v_clip] (None: no clamp); ``batch``: cases forecast together
    (memory ~ batch x NX windows per step).
    """

    sigma: float = 2.8
    stride: int = 1
    renormalize: bool = True
    v_clip: float | None = 1.0
    batch: int = 16

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and self.sigma > 0):
            raise QwaveInputError(f"blending width sigma must be a positive number of cells, got {self.sigma}")
        if self.stride < 1:
            raise QwaveInputError(f"stride must be >= 1 cell, got {self.stride}")
        if self.batch < 1:
            raise QwaveInputError(f"batch must be >= 1 case, got {self.batch}")
        if self.v_clip is not None and not (math.isfinite(self.v_clip) and self.v_clip > 0):
            raise QwaveInputError(f"v_clip must be a positive number (or None for no clamp), got {self.v_clip}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


DEFAULT_ROLLOUT = RolloutOptions()
"""The options every forecast uses unless told otherwise."""

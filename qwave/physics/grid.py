"""The periodic box, its cells and the time axis (Hartree atomic units).

Cell ``i`` (1-based, as in the paper) sits at ``x = i * dx``; cell ``NX`` is the periodic
neighbour of cell 1.  One saved frame is ``steps_per_frame`` solver steps of length ``dt``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from qwave.errors import QwaveInputError


@dataclasses.dataclass(frozen=True)
class Grid:
    """Box length ``lx`` (bohr), ``nx`` cells, time step ``dt`` and frame cadence.

    Defaults are the paper's: LX = 100, NX = 1024, DT = 0.0005, a frame every 200 steps
    (frame spacing 0.1 atomic time units), 501 frames.
    """

    lx: float = 100.0
    nx: int = 1024
    dt: float = 0.0005
    steps_per_frame: int = 200
    n_frames: int = 501

    def __post_init__(self) -> None:
        for name in ("lx", "dt"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise QwaveInputError(f"grid {name} must be a positive finite number, got {value}")
        if self.nx < 4 or self.nx % 2:
            raise QwaveInputError(f"grid nx must be an even number >= 4 (odd/even bond splitting), got {self.nx}")
        if self.steps_per_frame < 1:
            raise QwaveInputError(f"grid steps_per_frame must be >= 1, got {self.steps_per_frame}")
        if self.n_frames < 1:
            raise QwaveInputError(f"grid n_frames must be >= 1, got {self.n_frames}")

    @property
    def dx(self) -> float:
        """Cell width (bohr)."""
        return self.lx / self.nx

    @property
    def x(self) -> np.ndarray:
        """Cell positions ``i * dx`` for ``i = 1..nx`` (bohr)."""
        return np.arange(1, self.nx + 1, dtype=np.float64) * self.dx

    @property
    def frame_dt(self) -> float:
        """Time between saved frames (atomic time units)."""
        return self.dt * self.steps_per_frame

    @property
    def t(self) -> np.ndarray:
        """Times of the saved frames, frame 0 being the initial state."""
        return np.arange(self.n_frames, dtype=np.float64) * self.frame_dt

    @property
    def k_max(self) -> float:
        """Largest wave number the grid resolves, pi / dx (1/bohr)."""
        return math.pi / self.dx

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PAPER_GRID = Grid()

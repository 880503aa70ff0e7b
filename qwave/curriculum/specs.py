"""What to simulate: the stage and family names, a simulation :class:`Case`, and the built-in
:class:`CurriculumSpec` configurations (the paper's demo and full grids, qwave's wide curriculum, tiny).

Units: Hartree atomic units (bohr, hartree, a.u. of time).  numpy only.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from qwave.physics.grid import Grid
from qwave.physics.potentials import make_potential

STAGES: tuple[str, ...] = ("free", "transmission", "tunnelling", "reflection")
"""Training splits, in the order a schedule would naturally present them."""

SCHEDULES: tuple[str, ...] = ("uniform", "staged", "anneal", "pooled")
"""How training mixes the stages over time (see :func:`qwave.windows.schedule_weights`); ``pooled`` draws
every simulation equally often whatever its stage (the paper's pooled windows)."""

TEST_FAMILIES: tuple[str, ...] = (
    "barrier",
    "double",
    "triple",
    "staircase",
    "semicircle",
    "quadratic",
    "trapezoid",
    "triangle",
    "well",
    "random",
)
"""Held-out potential families; each is the split ``test_<family>``."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One simulation: a Gaussian packet (X0 bohr, S0 bohr, E0 hartree, moving right for ``direction``
    +1, left for -1) in a named potential."""

    family: str
    params: str  # the potential's keyword parameters as canonical JSON
    x0: float
    s0: float
    e0: float
    stage: str  # the split it belongs to
    direction: int = 1

    @property
    def key(self) -> str:
        """Unique, human-readable key built from the parameters (the example's TFDS key)."""
        key = f"{self.family}{self.params}|x0={self.x0!r}|s0={self.s0!r}|e0={self.e0!r}"
        return key if self.direction == 1 else f"{key}|dir={self.direction}"

    @property
    def potential_params(self) -> dict:
        return json.loads(self.params)

    def potential(self, grid: Grid) -> np.ndarray:
        """V(x) on the grid (hartree, unscaled)."""
        return make_potential(self.family, grid, **self.potential_params)


def params_json(params: Mapping[str, Any]) -> str:
    """Canonical JSON of potential parameters (sorted keys, compact)."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class CurriculumSpec:
    """One dataset configuration.

    Training barrier simulations are every combination of ``x0`` x ``s0`` x ``e0`` x ``heights`` x
    ``widths`` (a rectangular barrier centred at ``center``, default the box centre); the free stage is
    ``free_x0`` x ``free_s0`` x ``free_e0`` with no potential.  ``v_scale`` (hartree) is what the
    pipeline divides V by before feeding it to the network; it is only carried as metadata.
    """

    name: str
    description: str
    grid: Grid
    v_scale: float
    x0: tuple[float, ...]
    s0: tuple[float, ...]
    e0: tuple[float, ...]
    heights: tuple[float, ...]
    widths: tuple[float, ...] = (7.0,)
    center: float | None = None
    free_x0: tuple[float, ...] = (20.0,)
    free_s0: tuple[float, ...] = ()
    free_e0: tuple[float, ...] = ()
    reflection_max: float = 0.01
    test_cases: int = 12
    test_seed: int = 2203
    test_x0: tuple[float, float] = (15.0, 20.0)
    test_s0: tuple[float, float] = (1.0, 5.0)
    test_e0: tuple[float, float] = (1.5, 8.6)
    chunk: int = 32  # packets simulated together in one solver call (memory ~ chunk * frames * nx * 16 B)
    landscapes: tuple[tuple[str, int], ...] = ()  # random training landscapes: (kind, count), see LANDSCAPE_KINDS
    landscape_packets: int = 4  # random packets per landscape
    landscape_seed: int = 0
    landscape_s0: tuple[float, float] = (1.0, 4.5)  # landscape packets' S0 (bohr), uniform
    landscape_e0: tuple[float, float] = (0.5, 9.0)  # landscape packets' E0 (hartree), uniform

    def to_dict(self) -> dict:
        """JSON-able form (the dataset's metadata carries it)."""
        out = dataclasses.asdict(self)
        out["grid"] = self.grid.to_dict()
        return out


def float_tuple(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def inclusive_range(start: float, stop: float, step: float) -> tuple[float, ...]:
    """start, start+step, ..., stop inclusive, free of accumulated rounding."""
    n = int(round((stop - start) / step)) + 1
    return tuple(round(start + i * step, 10) for i in range(n))


DEMO = CurriculumSpec(
    name="demo",
    description="The paper's demo grid: BW=7 barrier, X0 in {10,40,70}, S0 in 1..4 step 0.5, E0 in 1..9, "
    "BH in {2,5,10} (567 sims), a free stage of 63 sims, 12 cases per test family; V scale 10.",
    grid=Grid(),
    v_scale=10.0,
    x0=(10.0, 40.0, 70.0),
    s0=inclusive_range(1.0, 4.0, 0.5),
    e0=inclusive_range(1.0, 9.0, 1.0),
    heights=(2.0, 5.0, 10.0),
    free_s0=inclusive_range(1.0, 4.0, 0.5),
    free_e0=inclusive_range(1.0, 9.0, 1.0),
)

FULL = dataclasses.replace(
    DEMO,
    name="full",
    description="The paper's full grid: as demo with BH in 1..14 (2,646 sims), a free stage of 63 sims, "
    "12 cases per test family; V scale 14.",
    v_scale=14.0,
    heights=inclusive_range(1.0, 14.0, 1.0),
)

TINY = CurriculumSpec(
    name="tiny",
    description="A handful of short simulations for tests: 21 frames on a 512-cell grid, one case per test family.",
    grid=Grid(nx=512, n_frames=21),
    v_scale=10.0,
    x0=(40.0,),
    s0=(1.5, 3.0),
    e0=(1.0, 3.0, 6.0),
    heights=(2.0, 5.0),
    free_s0=(2.0,),
    free_e0=(1.0, 4.0),
    test_cases=1,
    test_e0=(1.5, 6.0),
)

WIDE = dataclasses.replace(
    FULL,
    name="wide",
    description="qwave's training curriculum: 264 random landscapes (96 barriers BH 0.5-14, BW 1.5-25; 32 wells; "
    "32 pairs and 96 rows of 3-5 rectangles, heights -5.5..14; 8 free) x 4 random packets (X0 anywhere, "
    "S0 1-4.5, E0 0.5-9) = 1,056 sims, 12 cases per test family; V scale 14.",
    x0=(),
    heights=(),
    free_x0=(),
    free_s0=(),
    free_e0=(),
    landscapes=(("barrier", 96), ("well", 32), ("pair", 32), ("multi", 96), ("free", 8)),
)

BROAD = dataclasses.replace(
    WIDE,
    name="broad",
    description="wide's 264 landscapes with 6 random packets each (X0 anywhere, S0 0.7-4.5, E0 0.5-16: fast, "
    "narrow packets beside the paper's) = 1,584 sims, 12 cases per test family; V scale 14.",
    landscape_packets=6,
    landscape_s0=(0.7, 4.5),
    landscape_e0=(0.5, 16.0),
)

SPECS: dict[str, CurriculumSpec] = {s.name: s for s in (DEMO, FULL, WIDE, BROAD, TINY)}
"""The built-in configurations by name."""

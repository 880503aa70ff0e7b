"""Training cases and the stage each belongs to, named for the physics it teaches.

``free`` (no potential: dispersion), ``transmission`` (E0 > BH: over-barrier transmission with
interference), ``tunnelling`` (E0 <= BH, packet-averaged transmission T >= ``reflection_max``) and
``reflection`` (E0 <= BH, T < ``reflection_max``: near-total reflection).  Barrier grids are every
combination of the spec's lists; random landscapes (``spec.landscapes``) are drawn from seeded streams.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np

from qwave.curriculum.specs import STAGES, Case, CurriculumSpec, params_json
from qwave.errors import QwaveInputError
from qwave.physics.analytic import packet_transmission
from qwave.physics.grid import Grid
from qwave.physics.potentials import make_potential

DECIMALS = 2
"""Drawn parameters are rounded to this many decimals (readable keys, exact JSON round trips)."""

# --- stage boundaries -------------------------------------------------------------------------------


def stage_of(e0: float, s0: float, height: float, width: float, reflection_max: float) -> str:
    """The training stage of a packet (E0, S0) hitting a barrier (BH, BW).

    ``transmission`` if E0 > BH (the mean energy passes over the barrier); otherwise ``tunnelling``
    if the packet-averaged transmission T >= ``reflection_max`` and ``reflection`` if T is below it.
    A zero-height barrier is ``free``.
    """
    if height == 0:
        return "free"
    if e0 > height:
        return "transmission"
    return "tunnelling" if packet_transmission(e0, s0, height, width) >= reflection_max else "reflection"


# --- cases ------------------------------------------------------------------------------------------


def width_on_grid(grid: Grid, width: float, center: float | None = None) -> float:
    """A rectangular barrier's width as the grid resolves it: cells strictly inside, times dx (bohr).

    The stage boundary uses it because thin barriers' transmission is sensitive to it (BW = 7 -> 6.93).
    """
    params = {"height": 1.0, "width": float(width)} | ({} if center is None else {"center": float(center)})
    return float(np.count_nonzero(make_potential("barrier", grid, **params))) * grid.dx


def training_cases(spec: CurriculumSpec) -> dict[str, list[Case]]:
    """The training simulations of ``spec`` sorted into :data:`STAGES` (empty stages included)."""
    out: dict[str, list[Case]] = {stage: [] for stage in STAGES}
    free_params = params_json({})
    for x0, s0, e0 in itertools.product(spec.free_x0, spec.free_s0, spec.free_e0):
        out["free"].append(Case("free", free_params, float(x0), float(s0), float(e0), "free"))
    for height, width in itertools.product(spec.heights, spec.widths):
        params = {"height": float(height), "width": float(width)}
        if spec.center is not None:
            params["center"] = float(spec.center)
        family = "barrier" if height != 0 else "free"
        pj = params_json(params if height != 0 else {})
        bw = width_on_grid(spec.grid, width, spec.center) if height != 0 and width > 0 else float(width)
        for x0, s0, e0 in itertools.product(spec.x0, spec.s0, spec.e0):
            stage = stage_of(float(e0), float(s0), float(height), bw, spec.reflection_max)
            out[stage].append(Case(family, pj, float(x0), float(s0), float(e0), stage))
    for case in landscape_cases(spec):
        out[case.stage].append(case)
    return out


# --- random landscapes ------------------------------------------------------------------------------

LANDSCAPE_KINDS: tuple[str, ...] = ("barrier", "well", "pair", "multi", "free")
"""Kinds of random training landscape, all centred within 10 bohr of the box centre:

* ``barrier``: one rectangle, BH uniform in 0.5-14 hartree, BW log-uniform in 1.5-25 bohr;
* ``well``: one rectangular well, depth 0.5-11 hartree, width as a barrier;
* ``pair``: two rectangles within 4 bohr of each other (they may overlap: steps and ledges), heights
  -5.5..14 hartree, widths log-uniform 1.5-12 bohr;
* ``multi``: a row of 3-5 rectangles within 10 bohr, heights -4..14 hartree, widths log-uniform 1-8 bohr;
* ``free``: no potential.
"""
LANDSCAPE_PACKETS: dict[str, tuple[float, float]] = {"x0": (0.05, 0.95)}
"""Packets on random landscapes: X0 uniform in this range (fraction of LX, so anywhere: before, on or after
the structure), S0 and E0 uniform in the spec's ``landscape_s0`` / ``landscape_e0``, moving right."""


def _uniform(rng: np.random.Generator, lo: float, hi: float, log: bool = False) -> float:
    value = math.exp(rng.uniform(math.log(lo), math.log(hi))) if log else rng.uniform(lo, hi)
    return round(float(value), DECIMALS)


def draw_landscape(rng: np.random.Generator, kind: str, grid: Grid) -> tuple[str, dict]:
    """(family, params) of one random landscape of ``kind`` (see :data:`LANDSCAPE_KINDS`)."""
    center = _uniform(rng, grid.lx / 2 - 10, grid.lx / 2 + 10)
    if kind == "free":
        return "free", {}
    if kind == "barrier":
        return "barrier", {"height": _uniform(rng, 0.5, 14), "width": _uniform(rng, 1.5, 25, True), "center": center}
    if kind == "well":
        return "well", {"depth": _uniform(rng, 0.5, 11), "width": _uniform(rng, 1.5, 25, True), "center": center}
    if kind not in ("pair", "multi"):
        raise QwaveInputError(f"unknown landscape kind {kind!r}; choose from {', '.join(LANDSCAPE_KINDS)}")
    pair = kind == "pair"
    n = 2 if pair else int(rng.integers(3, 5, endpoint=True))
    low, width_max, spread = (-5.5, 12.0, 4.0) if pair else (-4.0, 8.0, 10.0)
    return "rectangles", {
        "heights": [_uniform(rng, low, 14) for _ in range(n)],
        "widths": [_uniform(rng, 1.5 if pair else 1.0, width_max, True) for _ in range(n)],
        "centers": [round(center + _uniform(rng, -spread, spread), DECIMALS) for _ in range(n)],
    }


def landscape_stage(grid: Grid, v: np.ndarray, e0: float, s0: float, reflection_max: float) -> str:
    """The stage of a packet on any landscape, decided before simulating.

    ``free`` without a potential, ``transmission`` when E0 exceeds the highest point (wells included);
    otherwise the classically forbidden cells (V > E0) are judged as one rectangle of the landscape's
    maximum height: ``tunnelling`` if its packet-averaged T >= ``reflection_max``, else ``reflection``.
    Exact for a single barrier (as :func:`stage_of`), an estimate for several rectangles.
    """
    if not np.any(v):
        return "free"
    top = float(v.max())
    if e0 > top:
        return "transmission"
    width = float(np.count_nonzero(v > e0)) * grid.dx
    return "tunnelling" if packet_transmission(e0, s0, top, width) >= reflection_max else "reflection"


def landscape_cases(spec: CurriculumSpec) -> list[Case]:
    """``spec.landscapes`` random landscapes with ``spec.landscape_packets`` random packets each.

    Each kind draws from its own generator seeded by (``landscape_seed``, crc32 of the kind), so changing
    one kind's count leaves the others' landscapes unchanged.
    """
    lx = spec.grid.lx
    out: list[Case] = []
    for kind, count in spec.landscapes:
        rng = np.random.default_rng([spec.landscape_seed, zlib.crc32(kind.encode())])
        for _ in range(int(count)):
            family, params = draw_landscape(rng, kind, spec.grid)
            v = make_potential(family, spec.grid, **params)
            for _ in range(spec.landscape_packets):
                x0 = _uniform(rng, *(f * lx for f in LANDSCAPE_PACKETS["x0"]))
                s0 = _uniform(rng, *spec.landscape_s0)
                e0 = _uniform(rng, *spec.landscape_e0)
                stage = landscape_stage(spec.grid, v, e0, s0, spec.reflection_max)
                out.append(Case(family, params_json(params), x0, s0, e0, stage))
    return out

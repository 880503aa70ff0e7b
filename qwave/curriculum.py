"""The curriculum and the held-out test families as parameter grids (pure numpy, no TensorFlow).

A :class:`CurriculumSpec` describes one dataset configuration: the grid, the packet and barrier
parameter lists of the training simulations, and how many seeded cases each test family gets.
:func:`splits` turns it into :class:`Case` lists, one per split:

* training stages, named for the physics they teach (see :func:`stage_of`):
  ``free`` (no potential: dispersion), ``transmission`` (E0 > BH: over-barrier transmission with
  interference), ``tunnelling`` (E0 <= BH, packet-averaged transmission T >= ``reflection_max``)
  and ``reflection`` (E0 <= BH, T < ``reflection_max``: near-total reflection);
* test splits ``test_<family>`` for every family in :data:`TEST_FAMILIES`, drawn from the ranges in
  :data:`TEST_RANGES` with a seeded generator, the packet starting left of the structure and moving
  right.

:func:`simulate_group` runs the teacher for cases that share one potential (the solver's fast
batched path) and returns ready-to-store examples.  Ablations and the TFDS builder share all of this.
Units: Hartree atomic units (bohr, hartree, a.u. of time).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from qwave.analytic import packet_transmission
from qwave.errors import QwaveInputError
from qwave.grid import Grid
from qwave.observables import observables
from qwave.packets import check_packet, gaussian_packets
from qwave.potentials import make_potential
from qwave.solver import simulate

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

# Test-family generators: parameter -> (low, high) drawn uniformly, or ("int", low, high) inclusive,
# or ("fraction_of_width", low, high) for a trapezoid's flat top.  All structures are centred at
# TEST_CENTER and start at x >= 41 bohr, so a test packet (X0 <= 20, S0 <= 5) starts with
# its 4-sigma extent left of the structure (the triple barrier reaches 40.75, the single barrier 38 bohr
# at its widest: 3.6 sigma).
TEST_CENTER = 50.0
TEST_RANGES: dict[str, dict[str, tuple]] = {
    "barrier": {"height": (0.5, 13.5), "width": (2.4, 24.0)},
    "double": {"height": (1.0, 12.0), "width": (1.0, 5.0), "gap": (1.0, 8.0)},
    "triple": {"height": (1.0, 12.0), "width": (1.0, 3.5), "gap": (1.0, 4.0)},
    "staircase": {"height": (2.0, 13.5), "width": (6.0, 18.0), "steps": ("int", 2, 5)},
    "semicircle": {"height": (1.0, 13.5), "width": (4.0, 18.0)},
    "quadratic": {"height": (1.0, 13.5), "width": (4.0, 18.0)},
    "trapezoid": {"height": (1.0, 13.5), "width": (6.0, 18.0), "top_width": ("fraction_of_width", 0.2, 0.7)},
    "triangle": {"height": (1.0, 13.5), "width": (4.0, 18.0)},
    "well": {"depth": (1.0, 10.0), "width": (2.0, 18.0)},
    "random": {"seed": ("int", 0, 2**31 - 1), "n_bumps": ("int", 3, 6), "max_height": (4.0, 12.0)},
}
# The random landscape's bumps (widths 1..6 bohr) are centred in this interval.
RANDOM_REGION = (44.0, 56.0)
# Drawn parameters are rounded to this many decimals (readable keys, exact JSON round trips).
DECIMALS = 2


@dataclasses.dataclass(frozen=True)
class Case:
    """One simulation: a Gaussian packet (X0 bohr, S0 bohr, E0 hartree) in a named potential."""

    family: str
    params: str  # the potential's keyword parameters as canonical JSON
    x0: float
    s0: float
    e0: float
    stage: str  # the split it belongs to

    @property
    def key(self) -> str:
        """Unique, human-readable key built from the parameters (the example's TFDS key)."""
        return f"{self.family}{self.params}|x0={self.x0!r}|s0={self.s0!r}|e0={self.e0!r}"

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

    def to_dict(self) -> dict:
        """JSON-able form (the dataset's metadata carries it)."""
        out = dataclasses.asdict(self)
        out["grid"] = self.grid.to_dict()
        return out


def _span(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _steps(start: float, stop: float, step: float) -> tuple[float, ...]:
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
    s0=_steps(1.0, 4.0, 0.5),
    e0=_steps(1.0, 9.0, 1.0),
    heights=(2.0, 5.0, 10.0),
    free_s0=_steps(1.0, 4.0, 0.5),
    free_e0=_steps(1.0, 9.0, 1.0),
)

FULL = dataclasses.replace(
    DEMO,
    name="full",
    description="The paper's full grid: as demo with BH in 1..14 (2,646 sims), a free stage of 63 sims, "
    "12 cases per test family; V scale 14.",
    v_scale=14.0,
    heights=_steps(1.0, 14.0, 1.0),
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

SPECS: dict[str, CurriculumSpec] = {s.name: s for s in (DEMO, FULL, WIDE, TINY)}
"""The built-in configurations by name."""


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
LANDSCAPE_PACKETS: dict[str, tuple[float, float]] = {"x0": (0.05, 0.95), "s0": (1.0, 4.5), "e0": (0.5, 9.0)}
"""Packets on random landscapes: X0 (fraction of LX, so anywhere: before, on or after the structure),
S0 (bohr) and E0 (hartree) uniform in these ranges, moving right."""


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
                s0 = _uniform(rng, *LANDSCAPE_PACKETS["s0"])
                e0 = _uniform(rng, *LANDSCAPE_PACKETS["e0"])
                stage = landscape_stage(spec.grid, v, e0, s0, spec.reflection_max)
                out.append(Case(family, params_json(params), x0, s0, e0, stage))
    return out


def _draw(rng: np.random.Generator, rule: tuple, params: dict) -> float | int:
    if rule[0] == "int":
        return int(rng.integers(rule[1], rule[2], endpoint=True))
    if rule[0] == "fraction_of_width":
        return round(float(rng.uniform(rule[1], rule[2])) * params["width"], DECIMALS)
    return round(float(rng.uniform(rule[0], rule[1])), DECIMALS)


def held_out_cases(spec: CurriculumSpec) -> dict[str, list[Case]]:
    """``spec.test_cases`` seeded cases per test family, keyed by split name ``test_<family>``.

    Each family has its own generator, seeded by (``test_seed``, crc32 of the family name), so adding
    a family or changing the count of one leaves the others' cases unchanged.  Packets: X0, S0, E0
    uniform in ``test_x0``, ``test_s0``, ``test_e0``, moving right.
    """
    out: dict[str, list[Case]] = {}
    for family in TEST_FAMILIES:
        rng = np.random.default_rng([spec.test_seed, zlib.crc32(family.encode())])
        cases = []
        for _ in range(spec.test_cases):
            x0 = round(float(rng.uniform(*spec.test_x0)), DECIMALS)
            s0 = round(float(rng.uniform(*spec.test_s0)), DECIMALS)
            e0 = round(float(rng.uniform(*spec.test_e0)), DECIMALS)
            params: dict[str, Any] = {}
            for name, rule in TEST_RANGES[family].items():
                params[name] = _draw(rng, rule, params)
            if family == "random":
                params["region"] = list(RANDOM_REGION)
            else:
                params["center"] = TEST_CENTER
            cases.append(Case(family, params_json(params), x0, s0, e0, f"test_{family}"))
        out[f"test_{family}"] = cases
    return out


def splits(spec: CurriculumSpec, include_empty: bool = False) -> dict[str, list[Case]]:
    """All splits of ``spec``: training stages then test families; empty splits dropped by default."""
    out = {**training_cases(spec), **held_out_cases(spec)}
    return out if include_empty else {name: cases for name, cases in out.items() if cases}


def validate(spec: CurriculumSpec) -> dict[str, list[Case]]:
    """Check every packet and potential of ``spec`` before anything is simulated; return its splits.

    Raises :class:`QwaveInputError` naming the configuration, the split and the bad value.
    """
    if not spec.name or not spec.name.replace("_", "").isalnum() or not spec.name[0].isalpha():
        raise QwaveInputError(f"config name must be letters, digits and '_' starting with a letter, got {spec.name!r}")
    if not math.isfinite(spec.v_scale) or spec.v_scale <= 0:
        raise QwaveInputError(f"config {spec.name}: v_scale must be a positive number (hartree), got {spec.v_scale}")
    if not 0 < spec.reflection_max < 1:
        raise QwaveInputError(f"config {spec.name}: reflection_max must be in (0, 1), got {spec.reflection_max}")
    if spec.test_cases < 0:
        raise QwaveInputError(f"config {spec.name}: test cases per family must be >= 0, got {spec.test_cases}")
    if spec.chunk < 1:
        raise QwaveInputError(f"config {spec.name}: chunk must be >= 1, got {spec.chunk}")
    for label, (lo, hi) in (("test x0", spec.test_x0), ("test s0", spec.test_s0), ("test e0", spec.test_e0)):
        if not lo <= hi:
            raise QwaveInputError(f"config {spec.name}: {label} range must be [low, high], got [{lo}, {hi}]")
    for height in spec.heights:
        if not math.isfinite(height) or height < 0:
            raise QwaveInputError(f"config {spec.name}: barrier height BH must be >= 0 (hartree), got {height}")
    where = f"config {spec.name}"
    packet_grids = {"barrier": (spec.x0, spec.s0, spec.e0), "free": (spec.free_x0, spec.free_s0, spec.free_e0)}
    for label, lists in packet_grids.items():
        for x0, s0, e0 in sorted(set(itertools.product(*lists))):
            try:
                check_packet(spec.grid, x0, s0, e0)
            except QwaveInputError as exc:
                raise QwaveInputError(f"{where}, {label} packets: {exc}") from None
    for kind, count in spec.landscapes:
        if kind not in LANDSCAPE_KINDS or not isinstance(count, int) or count < 0:
            raise QwaveInputError(
                f"{where}: landscapes need a kind in {', '.join(LANDSCAPE_KINDS)} and a count >= 0, got {kind}: {count}"
            )
    if spec.landscape_packets < 1:
        raise QwaveInputError(f"{where}: landscape packets must be >= 1, got {spec.landscape_packets}")
    for height, width in itertools.product(spec.heights, spec.widths):
        params = {"height": height, "width": width} | ({} if spec.center is None else {"center": spec.center})
        try:
            make_potential("barrier", spec.grid, **params)
        except QwaveInputError as exc:
            raise QwaveInputError(f"{where}, barrier BH={height} BW={width}: {exc}") from None
    all_splits = splits(spec)
    if not all_splits:
        raise QwaveInputError(f"{where}: no simulations (every parameter list is empty)")
    for split, cases in all_splits.items():
        if split in STAGES:
            continue  # checked above, list by list
        checked: set[tuple[str, str]] = set()
        for case in cases:
            try:
                check_packet(spec.grid, case.x0, case.s0, case.e0)
            except QwaveInputError as exc:
                raise QwaveInputError(f"{where}, split {split}: {exc}") from None
            if (case.family, case.params) not in checked:
                try:
                    case.potential(spec.grid)
                except QwaveInputError as exc:
                    raise QwaveInputError(f"{where}, split {split}: {case.family} {case.params}: {exc}") from None
                checked.add((case.family, case.params))
    return all_splits


def parameter_ranges(cases: Sequence[Case]) -> dict[str, tuple[float, float]]:
    """(min, max) of X0, S0, E0 and of every numeric potential parameter over ``cases``."""
    values: dict[str, list[float]] = {"x0": [], "s0": [], "e0": []}
    for case in cases:
        values["x0"].append(case.x0)
        values["s0"].append(case.s0)
        values["e0"].append(case.e0)
        for name, value in case.potential_params.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(name, []).append(float(value))
    return {name: (min(v), max(v)) for name, v in values.items() if v}


# --- simulation -------------------------------------------------------------------------------------


def group_by_potential(cases: Iterable[Case], chunk: int) -> list[tuple[Case, ...]]:
    """Cases sorted by (potential, X0, S0, E0) and cut into groups of at most ``chunk`` sharing a potential."""
    ordered = sorted(cases, key=lambda c: (c.family, c.params, c.x0, c.s0, c.e0))
    groups: list[tuple[Case, ...]] = []
    for _, same in itertools.groupby(ordered, key=lambda c: (c.family, c.params)):
        same = list(same)
        groups.extend(tuple(same[i : i + chunk]) for i in range(0, len(same), chunk))
    return groups


def simulate_group(grid: Grid, group: Sequence[Case]) -> list[tuple[str, dict[str, Any]]]:
    """Run the teacher for cases sharing one potential in one batched solver call.

    Returns (key, example) pairs; an example holds ``psi`` float32 (n_frames, nx, 2) = [Re, Im],
    ``potential`` float32 (nx,) in hartree (unscaled), the packet parameters, names, and the per-frame
    observables (computed in float64 before the cast).
    """
    if not group:
        return []
    first = group[0]
    if any((c.family, c.params) != (first.family, first.params) for c in group):
        raise QwaveInputError("simulate_group needs cases that share one potential")
    v = first.potential(grid)
    psi0 = gaussian_packets(grid, [c.x0 for c in group], [c.s0 for c in group], [c.e0 for c in group], check=False)
    psi = simulate(psi0, v, grid)
    obs = observables(psi, v, grid)
    out = []
    for i, case in enumerate(group):
        example = {
            "psi": np.stack([psi[i].real, psi[i].imag], axis=-1).astype(np.float32),
            "potential": v.astype(np.float32),
            "x0": np.float32(case.x0),
            "s0": np.float32(case.s0),
            "e0": np.float32(case.e0),
            "family": case.family,
            "stage": case.stage,
            "potential_params": case.params,
        }
        for name, values in obs.items():
            example[name] = values[i].astype(np.float32)
        out.append((case.key, example))
    return out


def iter_examples(
    grid: Grid, cases: Sequence[Case], chunk: int, progress: bool = True, desc: str = "simulating"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """All examples of ``cases``, simulated potential by potential, with a tqdm bar counting simulations."""
    from tqdm.auto import tqdm

    with tqdm(total=len(cases), desc=desc, unit="sim", disable=not progress, leave=False) as bar:
        for group in group_by_potential(cases, chunk):
            yield from simulate_group(grid, group)
            bar.update(len(group))


# --- custom configurations --------------------------------------------------------------------------


def _values(where: str, raw: Any) -> tuple[float, ...]:
    """A parameter list from a number, a list, {start, stop, step} (stop inclusive) or {low, high, num}."""
    if isinstance(raw, bool):
        raise QwaveInputError(f"{where}: expected a number, a list or a range, got {raw!r}")
    if isinstance(raw, (int, float)):
        return (float(raw),)
    if isinstance(raw, list):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            raise QwaveInputError(f"{where}: list entries must be numbers, got {raw!r}")
        return _span(raw)
    if isinstance(raw, dict):
        if set(raw) == {"start", "stop", "step"}:
            start, stop, step = (raw[k] for k in ("start", "stop", "step"))
            if not all(isinstance(v, (int, float)) for v in (start, stop, step)) or step <= 0 or stop < start:
                raise QwaveInputError(f"{where}: range needs numbers with step > 0 and stop >= start, got {raw!r}")
            return _steps(float(start), float(stop), float(step))
        if set(raw) == {"low", "high", "num"}:
            low, high, num = raw["low"], raw["high"], raw["num"]
            if not isinstance(num, int) or num < 1 or high < low:
                raise QwaveInputError(f"{where}: linspace needs integer num >= 1 and high >= low, got {raw!r}")
            return tuple(round(float(v), 10) for v in np.linspace(low, high, num))
        raise QwaveInputError(
            f"{where}: a range is {{start, stop, step}} or {{low, high, num}}, got keys {', '.join(sorted(raw))}"
        )
    raise QwaveInputError(f"{where}: expected a number, a list or a range, got {raw!r}")


def _pair(where: str, raw: Any) -> tuple[float, float]:
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, (int, float)) for v in raw)):
        raise QwaveInputError(f"{where}: expected [low, high], got {raw!r}")
    return float(raw[0]), float(raw[1])


def _check_keys(where: str, section: Mapping, allowed: Iterable[str]) -> None:
    if not isinstance(section, Mapping):
        raise QwaveInputError(f"{where}: expected a mapping, got {section!r}")
    unknown = set(section) - set(allowed)
    if unknown:
        raise QwaveInputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(allowed)}")


def spec_from_dict(raw: Mapping[str, Any]) -> CurriculumSpec:
    """A :class:`CurriculumSpec` from a config mapping (parsed JSON/YAML); missing parts come from ``base``.

    Layout (every section optional except ``name``)::

        name: my_grid                  # the TFDS config name
        base: demo                     # built-in config to start from (demo, full, tiny)
        description: ...
        v_scale: 12                    # hartree
        grid: {lx: 100, nx: 1024, dt: 0.0005, steps_per_frame: 200, n_frames: 201}
        barrier: {x0: [10, 40], s0: {start: 1, stop: 4, step: 0.5}, e0: {low: 1, high: 9, num: 9},
                  height: [2, 5, 10], width: 7, center: 50}
        free: {x0: [20], s0: [1, 2], e0: [2, 4]}
        landscapes: {barrier: 96, well: 32, pair: 32, multi: 96, free: 8, packets: 4, seed: 0}
        stages: {reflection_max: 0.01}
        tests: {cases: 12, seed: 2203, x0: [15, 20], s0: [1, 5], e0: [1.5, 8.6]}
        chunk: 32
    """
    where = "config"
    _check_keys(
        where,
        raw,
        ("name", "base", "description", "v_scale", "grid", "barrier", "free", "landscapes", "stages", "tests", "chunk"),
    )
    name = raw.get("name")
    if not isinstance(name, str):
        raise QwaveInputError("config: 'name' (a string) is required")
    where = f"config {name}"
    if name in SPECS:
        raise QwaveInputError(f"{where}: the name is taken by a built-in config ({', '.join(SPECS)}); pick another")
    base_name = raw.get("base", "demo")
    if base_name not in SPECS:
        raise QwaveInputError(f"{where}: unknown base {base_name!r}; choose one of {', '.join(SPECS)}")
    base = SPECS[base_name]
    changes: dict[str, Any] = {"name": name, "description": str(raw.get("description", f"custom curriculum {name}"))}
    if "v_scale" in raw:
        if not isinstance(raw["v_scale"], (int, float)):
            raise QwaveInputError(f"{where}: v_scale must be a number, got {raw['v_scale']!r}")
        changes["v_scale"] = float(raw["v_scale"])
    if "chunk" in raw:
        changes["chunk"] = int(raw["chunk"])
    grid_raw = raw.get("grid", {})
    _check_keys(f"{where}: grid", grid_raw, ("lx", "nx", "dt", "steps_per_frame", "n_frames"))
    if grid_raw:
        try:
            changes["grid"] = dataclasses.replace(base.grid, **grid_raw)
        except TypeError as exc:
            raise QwaveInputError(f"{where}: grid: {exc}") from None
    barrier = raw.get("barrier", {})
    _check_keys(f"{where}: barrier", barrier, ("x0", "s0", "e0", "height", "width", "center"))
    for key, field in (("x0", "x0"), ("s0", "s0"), ("e0", "e0"), ("height", "heights"), ("width", "widths")):
        if key in barrier:
            changes[field] = _values(f"{where}: barrier {key}", barrier[key])
    if "center" in barrier:
        changes["center"] = (
            None if barrier["center"] is None else _values(f"{where}: barrier center", barrier["center"])[0]
        )
    free = raw.get("free", {})
    _check_keys(f"{where}: free", free, ("x0", "s0", "e0"))
    for key in ("x0", "s0", "e0"):
        if key in free:
            changes[f"free_{key}"] = _values(f"{where}: free {key}", free[key])
    landscapes = raw.get("landscapes", {})
    _check_keys(f"{where}: landscapes", landscapes, (*LANDSCAPE_KINDS, "packets", "seed"))
    if landscapes:
        counts = {k: landscapes[k] for k in LANDSCAPE_KINDS if k in landscapes}
        for key, value in landscapes.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise QwaveInputError(f"{where}: landscapes {key} must be an integer, got {value!r}")
        changes["landscapes"] = tuple(counts.items())
        changes["landscape_packets"] = int(landscapes.get("packets", base.landscape_packets))
        changes["landscape_seed"] = int(landscapes.get("seed", base.landscape_seed))
    stages = raw.get("stages", {})
    _check_keys(f"{where}: stages", stages, ("reflection_max",))
    if "reflection_max" in stages:
        changes["reflection_max"] = float(stages["reflection_max"])
    tests = raw.get("tests", {})
    _check_keys(f"{where}: tests", tests, ("cases", "seed", "x0", "s0", "e0"))
    if "cases" in tests:
        changes["test_cases"] = int(tests["cases"])
    if "seed" in tests:
        changes["test_seed"] = int(tests["seed"])
    for key in ("x0", "s0", "e0"):
        if key in tests:
            changes[f"test_{key}"] = _pair(f"{where}: tests {key}", tests[key])
    return dataclasses.replace(base, **changes)

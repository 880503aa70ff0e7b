"""The held-out test families: ``spec.test_cases`` seeded cases per family, drawn from :data:`TEST_RANGES`,
the packet starting left of the structure and moving right; and the check of a whole spec.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from qwave.curriculum.specs import STAGES, TEST_FAMILIES, Case, CurriculumSpec, params_json
from qwave.curriculum.stages import DECIMALS, LANDSCAPE_KINDS, training_cases
from qwave.errors import QwaveInputError
from qwave.physics.packets import check_packet
from qwave.physics.potentials import make_potential

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


def _draw(rng: np.random.Generator, rule: tuple, params: dict) -> float | int:
    if rule[0] == "int":
        return int(rng.integers(rule[1], rule[2], endpoint=True))
    if rule[0] == "fraction_of_width":
        return round(float(rng.uniform(rule[1], rule[2])) * params["width"], DECIMALS)
    return round(float(rng.uniform(rule[0], rule[1])), DECIMALS)


def draw_params(rng: np.random.Generator, rules: dict[str, tuple]) -> dict[str, Any]:
    """Potential parameters drawn by ``rules`` (see :data:`TEST_RANGES`), in the rules' order."""
    params: dict[str, Any] = {}
    for name, rule in rules.items():
        params[name] = _draw(rng, rule, params)
    return params


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
            params = draw_params(rng, TEST_RANGES[family])
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

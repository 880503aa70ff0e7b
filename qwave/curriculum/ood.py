"""Out-of-distribution test families: potentials and packets that are in none of qwave's training splits.

The curriculum trains on rectangles (single, pairs, rows, wells) with right-moving packets of E0 <= 9
hartree (16 in ``broad``), and the in-distribution test families add smooth shapes of the same kind.
These families ask what the student learned about the physics rather than about the curriculum:

* ``gaussian``: Gaussian bumps (no flat top, no edge);
* ``sech2``: reflectionless Poschl-Teller wells, depth l (l + 1) / (2 w^2) for l = 1..3 (every packet
  passes whole: the emulator must not invent a reflected wave);
* ``soft``: barriers with Fermi-function (Woods-Saxon) edges, edge lengths 0.2-1 bohr;
* ``lattice``: 3-5 cells of a cosine lattice (a finite crystal: band gaps reflect, bands pass);
* ``left``: the barrier, double, triple and staircase families with packets starting right of the
  structure and moving left (the staircase then steps down, a shape no split contains);
* ``fast``: narrow, fast packets (S0 0.6-1 bohr, E0 9-16 hartree) on single and double barriers.

Cases are seeded per family like :func:`qwave.curriculum.held_out_cases` and use the spec's grid, test
count and seed.  Structures start at x >= 40 bohr (and end by 60 for left-moving packets from X0 >= 80).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from qwave.curriculum.cases import TEST_CENTER, TEST_RANGES, draw_params
from qwave.curriculum.specs import Case, CurriculumSpec, params_json
from qwave.curriculum.stages import DECIMALS

OOD_FAMILIES: tuple[str, ...] = ("gaussian", "sech2", "soft", "lattice", "left", "fast")
"""Out-of-distribution test families (see the module docstring)."""

LEFT_SHAPES = ("barrier", "double", "triple", "staircase")
FAST_SHAPES = ("barrier", "double")
FAST_PACKETS = {"s0": (0.6, 1.0), "e0": (9.0, 16.0)}
SHAPE_RANGES: dict[str, tuple[str, dict[str, tuple]]] = {
    "gaussian": ("gaussian", {"height": (1.0, 13.5), "sigma": (0.8, 3.0)}),
    "soft": ("soft_barrier", {"height": (1.0, 13.5), "width": (4.0, 12.0), "edge": (0.2, 1.0)}),
    "lattice": ("cosine_lattice", {"height": (1.0, 10.0), "period": (1.5, 4.0), "cells": ("int", 3, 5)}),
}
"""New shapes: (potential name, parameter rules as in :data:`qwave.curriculum.TEST_RANGES`)."""


def _shape(family: str, rng: np.random.Generator) -> tuple[str, dict[str, Any]]:
    """(potential name, parameters) of one case of ``family``."""
    if family in SHAPE_RANGES:
        name, rules = SHAPE_RANGES[family]
        return name, draw_params(rng, rules)
    if family == "sech2":  # the depth follows from the order: reflectionless
        order, width = int(rng.integers(1, 3, endpoint=True)), draw_params(rng, {"width": (1.0, 3.0)})["width"]
        return "sech2_well", {"depth": round(order * (order + 1) / (2 * width**2), DECIMALS + 2), "width": width}
    shapes = LEFT_SHAPES if family == "left" else FAST_SHAPES
    name = shapes[int(rng.integers(len(shapes)))]
    return name, draw_params(rng, TEST_RANGES[name])


def ood_cases(spec: CurriculumSpec) -> dict[str, list[Case]]:
    """``spec.test_cases`` seeded cases per out-of-distribution family, keyed by family name."""
    out: dict[str, list[Case]] = {}
    for family in OOD_FAMILIES:
        rng = np.random.default_rng([spec.test_seed, zlib.crc32(f"ood_{family}".encode())])
        cases = []
        for _ in range(spec.test_cases):
            x0 = round(float(rng.uniform(*spec.test_x0)), DECIMALS)
            packets = FAST_PACKETS if family == "fast" else {"s0": spec.test_s0, "e0": spec.test_e0}
            s0 = round(float(rng.uniform(*packets["s0"])), DECIMALS)
            e0 = round(float(rng.uniform(*packets["e0"])), DECIMALS)
            name, params = _shape(family, rng)
            params["center"] = TEST_CENTER
            direction = 1
            if family == "left":  # the mirror image of a right-moving test start
                x0, direction = round(spec.grid.lx - x0, DECIMALS), -1
            cases.append(Case(name, params_json(params), x0, s0, e0, f"ood_{family}", direction))
        out[family] = cases
    return out

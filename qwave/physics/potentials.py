"""Potential landscapes V(x) on the grid (hartree): the paper's barrier and the test families.

Every builder takes the :class:`~qwave.physics.grid.Grid` first and keyword parameters after it, and
returns a float64 array of length ``nx``.  Shapes are centred at ``center`` (default: the box
centre) and occupy the open interval ``center - width/2 < x < center + width/2``, the paper's
convention for its rectangular barrier.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import pathlib
import warnings
from collections.abc import Callable

import numpy as np

from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid


def _positive(value: float, what: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise QwaveInputError(f"{what} must be positive and finite, got {value}")
    return float(value)


def _offset(grid: Grid, center: float | None) -> np.ndarray:
    """x - c (bohr) for a shape centred at ``center`` (default: the box centre)."""
    c = grid.lx / 2 if center is None else center
    if not math.isfinite(c):
        raise QwaveInputError(f"potential center must be finite, got {c}")
    return grid.x - c


def _inside(grid: Grid, center: float | None, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Mask of cells strictly inside the interval, and the scaled offset u = 2(x-c)/width in (-1, 1)."""
    width = _positive(width, "potential width")
    u = 2 * _offset(grid, center) / width
    return np.abs(u) < 1, u


def free(grid: Grid) -> np.ndarray:
    """No potential: free dispersion."""
    return np.zeros(grid.nx)


def barrier(
    grid: Grid, height: float, width: float = 7.0, center: float | None = None, edge: float = 0.0
) -> np.ndarray:
    """The paper's rectangular barrier; the edge cells 1 and NX are set to ``edge`` (EH)."""
    mask, _ = _inside(grid, center, width)
    v = np.where(mask, float(height), 0.0)
    v[0] = v[-1] = edge
    return v


def barriers(
    grid: Grid, heights: float | list[float], widths: float | list[float], centers: float | list[float]
) -> np.ndarray:
    """A sum of rectangular barriers (double, triple, ... and random landscapes)."""
    try:
        heights, widths, centers = np.broadcast_arrays(
            np.atleast_1d(heights), np.atleast_1d(widths), np.atleast_1d(centers)
        )
    except ValueError:
        raise QwaveInputError("rectangles need heights, widths and centers of one length (or single numbers)") from None
    if heights.ndim != 1:
        raise QwaveInputError("rectangles need heights, widths and centers as flat lists of numbers (or numbers)")
    v = np.zeros(grid.nx)
    for h, w, c in zip(heights, widths, centers, strict=True):
        v += np.where(_inside(grid, float(c), float(w))[0], float(h), 0.0)
    return v


def double_barrier(grid: Grid, height: float, width: float, gap: float, center: float | None = None) -> np.ndarray:
    """Two equal barriers, ``gap`` apart edge to edge: a resonant-tunnelling structure."""
    return _row(grid, 2, height, width, gap, center)


def triple_barrier(grid: Grid, height: float, width: float, gap: float, center: float | None = None) -> np.ndarray:
    """Three equal barriers, ``gap`` apart edge to edge."""
    return _row(grid, 3, height, width, gap, center)


def _row(grid: Grid, n: int, height: float, width: float, gap: float, center: float | None) -> np.ndarray:
    if gap < 0:
        raise QwaveInputError(f"barrier gap must be >= 0, got {gap}")
    c = grid.lx / 2 if center is None else center
    pitch = width + gap
    centers = c + pitch * (np.arange(n) - (n - 1) / 2)
    return barriers(grid, height, width, centers)


def staircase(grid: Grid, height: float, width: float, steps: int = 3, center: float | None = None) -> np.ndarray:
    """A stepped pyramid: ``steps`` nested rectangles, each ``height/steps`` high, the widest ``width``."""
    if int(steps) != steps or steps < 1:
        raise QwaveInputError(f"staircase steps must be a positive integer, got {steps}")
    v = np.zeros(grid.nx)
    for j in range(int(steps)):
        v += np.where(_inside(grid, center, width * (1 - j / steps))[0], height / steps, 0.0)
    return v


def semicircle(grid: Grid, height: float, width: float, center: float | None = None) -> np.ndarray:
    """A half-ellipse bump, height * sqrt(1 - u^2), |u| < 1 (the paper's 'half-circle')."""
    mask, u = _inside(grid, center, width)
    return np.where(mask, height * np.sqrt(np.clip(1 - u**2, 0, None)), 0.0)


def quadratic(grid: Grid, height: float, width: float, center: float | None = None) -> np.ndarray:
    """A parabolic bump, height * (1 - u^2), |u| < 1."""
    mask, u = _inside(grid, center, width)
    return np.where(mask, height * (1 - u**2), 0.0)


def triangle(grid: Grid, height: float, width: float, center: float | None = None) -> np.ndarray:
    """A triangular bump, height * (1 - |u|), |u| < 1."""
    mask, u = _inside(grid, center, width)
    return np.where(mask, height * (1 - np.abs(u)), 0.0)


def trapezoid(grid: Grid, height: float, width: float, top_width: float, center: float | None = None) -> np.ndarray:
    """A trapezoid: flat top ``top_width`` wide, linear ramps down to zero at ``width``."""
    if not 0 <= top_width < width:
        raise QwaveInputError(f"trapezoid top_width must be in [0, width={width}), got {top_width}")
    mask, u = _inside(grid, center, width)
    r = top_width / width
    return np.where(mask, height * np.clip((1 - np.abs(u)) / (1 - r), 0, 1), 0.0)


def well(grid: Grid, depth: float, width: float, center: float | None = None) -> np.ndarray:
    """A rectangular well, V = -depth inside (depth > 0)."""
    if depth <= 0:
        raise QwaveInputError(f"well depth must be positive (V = -depth inside), got {depth}")
    return -barrier(grid, depth, width, center)


def gaussian(grid: Grid, height: float, sigma: float, center: float | None = None) -> np.ndarray:
    """A Gaussian bump, height * exp(-(x - c)^2 / (2 sigma^2)) (negative height: a Gaussian well)."""
    return height * np.exp(-0.5 * (_offset(grid, center) / _positive(sigma, "gaussian sigma")) ** 2)


def sech2_well(grid: Grid, depth: float, width: float, center: float | None = None) -> np.ndarray:
    """The Poschl-Teller well, -depth * sech^2((x - c) / width).  With depth = l (l + 1) / (2 width^2) for an
    integer l it reflects nothing at any energy (hbar = m = 1): a sharp test of a solver and an emulator."""
    depth = _positive(depth, "sech2_well depth (V = -depth sech^2)")
    return -depth / np.cosh(_offset(grid, center) / _positive(width, "sech2_well width")) ** 2


def soft_barrier(grid: Grid, height: float, width: float, edge: float, center: float | None = None) -> np.ndarray:
    """A barrier with Fermi-function (Woods-Saxon) edges: height / (1 + exp((|x - c| - width/2) / edge)),
    written with tanh so that it never overflows."""
    beyond = np.abs(_offset(grid, center)) - 0.5 * _positive(width, "soft_barrier width")
    return height * 0.5 * (1 - np.tanh(0.5 * beyond / _positive(edge, "soft_barrier edge")))


def cosine_lattice(grid: Grid, height: float, period: float, cells: int = 4, center: float | None = None) -> np.ndarray:
    """``cells`` whole periods of (height/2) (1 - cos(2 pi (x - start) / period)), zero outside: a finite
    crystal whose band gaps reflect some energies and pass others."""
    if int(cells) != cells or cells < 1:
        raise QwaveInputError(f"cosine_lattice cells must be a positive integer, got {cells}")
    period = _positive(period, "cosine_lattice period")
    mask, u = _inside(grid, center, period * cells)
    return np.where(mask, 0.5 * height * (1 - np.cos(np.pi * cells * (u + 1))), 0.0)


def random_landscape(
    grid: Grid,
    seed: int,
    n_bumps: int = 5,
    max_height: float = 10.0,
    region: tuple[float, float] = (35.0, 65.0),
) -> np.ndarray:
    """A reproducible random landscape: ``n_bumps`` rectangles of random height in
    [-max_height/4, max_height] and width in [1, 6] bohr, centred uniformly in ``region``."""
    if int(seed) != seed or seed < 0:
        raise QwaveInputError(f"random landscape seed must be an integer >= 0, got {seed}")
    if int(n_bumps) != n_bumps or n_bumps < 1:
        raise QwaveInputError(f"random landscape n_bumps must be a positive integer, got {n_bumps}")
    rng = np.random.default_rng(int(seed))
    heights = rng.uniform(-max_height / 4, max_height, n_bumps)
    widths = rng.uniform(1.0, 6.0, n_bumps)
    centers = rng.uniform(region[0], region[1], n_bumps)
    return barriers(grid, heights, widths, centers)


POTENTIALS: dict[str, Callable[..., np.ndarray]] = {
    "free": free,
    "barrier": barrier,
    "double": double_barrier,
    "triple": triple_barrier,
    "staircase": staircase,
    "semicircle": semicircle,
    "quadratic": quadratic,
    "triangle": triangle,
    "trapezoid": trapezoid,
    "well": well,
    "random": random_landscape,
    "rectangles": barriers,
    "gaussian": gaussian,
    "sech2_well": sech2_well,
    "soft_barrier": soft_barrier,
    "cosine_lattice": cosine_lattice,
}


def _show(value) -> str:
    """A parameter value as the user typed it (JSON)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# What each annotation of a builder's parameter accepts: (check, description).  Every parameter of every
# builder in POTENTIALS has one of these annotations (tests/test_inputs.py checks it).
_KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "float": (_is_number, "a number"),
    "float | None": (lambda v: v is None or _is_number(v), "a number (or null for the default)"),
    "int": (lambda v: _is_number(v) and float(v).is_integer(), "an integer"),
    "float | list[float]": (
        lambda v: _is_number(v) or (isinstance(v, (list, tuple)) and len(v) > 0 and all(map(_is_number, v))),
        "a number or a list of numbers",
    ),
    "tuple[float, float]": (
        lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(map(_is_number, v)),
        "a list of two numbers",
    ),
}


def _check_parameter(name: str, key: str, value, annotation: str):
    """``value`` if it has the type ``annotation`` names (ints for integers), else a one-line error."""
    check, what = _KINDS[annotation]
    if not check(value):
        raise QwaveInputError(f"potential {name!r}: {key} must be {what}, got {_show(value)}")
    flat = value if isinstance(value, (list, tuple)) else [value]
    if not all(math.isfinite(v) for v in flat if v is not None):
        raise QwaveInputError(f"potential {name!r}: {key} must be finite, got {_show(value)}")
    return int(value) if annotation == "int" else value


def make_potential(name: str, grid: Grid, **params) -> np.ndarray:
    """Build a named potential, with one-line errors for unknown names, unknown parameters, parameters
    of the wrong type (numbers where numbers are expected) and missing ones, in that order."""
    if name not in POTENTIALS:
        raise QwaveInputError(f"unknown potential {name!r}; choose one of {', '.join(POTENTIALS)}")
    fn = POTENTIALS[name]
    sig = inspect.signature(fn)
    accepted = list(sig.parameters)[1:]
    unknown = set(params) - set(accepted)
    if unknown:
        raise QwaveInputError(
            f"potential {name!r} takes {', '.join(accepted) or 'no parameters'}; unknown: {', '.join(sorted(unknown))}"
        )
    params = {k: _check_parameter(name, k, v, str(sig.parameters[k].annotation)) for k, v in params.items()}
    missing = [p for p in accepted if sig.parameters[p].default is inspect.Parameter.empty and p not in params]
    if missing:
        raise QwaveInputError(f"potential {name!r} needs {', '.join(missing)}")
    return check_potential(grid, fn(grid, **params))


def check_potential(grid: Grid, v) -> np.ndarray:
    """Validate a user-given potential array: real, finite, of length ``nx``."""
    v = np.asarray(v)
    if np.iscomplexobj(v):
        raise QwaveInputError("potential must be real-valued")
    try:
        v = v.astype(np.float64)
    except (TypeError, ValueError):
        raise QwaveInputError(f"potential must be numeric, got dtype {v.dtype}") from None
    if v.ndim != 1 or v.shape[0] != grid.nx:
        raise QwaveInputError(f"potential must have shape ({grid.nx},), got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise QwaveInputError(f"potential has {np.count_nonzero(~np.isfinite(v))} non-finite values (NaN or inf)")
    if np.max(np.abs(v)) * grid.dt > 0.5:
        warnings.warn(
            f"potential max |V|={np.max(np.abs(v)):.3g}: phase per step |V|*dt exceeds 0.5 rad; reduce dt",
            stacklevel=2,
        )
    return v


# A representative parameter set per family: the CLI's default when no parameters are given,
# and the cases the docs and tests draw.
EXAMPLES: dict[str, dict] = {
    "free": {},
    "barrier": {"height": 5.0, "width": 7.0},
    "double": {"height": 5.0, "width": 3.0, "gap": 4.0},
    "triple": {"height": 5.0, "width": 2.0, "gap": 3.0},
    "staircase": {"height": 6.0, "width": 12.0, "steps": 3},
    "semicircle": {"height": 5.0, "width": 10.0},
    "quadratic": {"height": 5.0, "width": 10.0},
    "triangle": {"height": 6.0, "width": 10.0},
    "trapezoid": {"height": 5.0, "width": 12.0, "top_width": 4.0},
    "well": {"depth": 5.0, "width": 7.0},
    "random": {"seed": 0},
    "rectangles": {"heights": [4.0, -2.0], "widths": [3.0, 6.0], "centers": [48.0, 53.0]},
    "gaussian": {"height": 5.0, "sigma": 2.0},
    "sech2_well": {"depth": 1.0, "width": 1.0},
    "soft_barrier": {"height": 5.0, "width": 8.0, "edge": 0.5},
    "cosine_lattice": {"height": 3.0, "period": 4.0, "cells": 4},
}


def resolve_potential(grid: Grid, name: str = "barrier", params: dict | None = None, path=None) -> tuple:
    """V (hartree, (NX,)) from a ``.npy`` file or a named family (its example parameters by default);
    returns (v, name, params)."""
    if path is not None:
        path = pathlib.Path(path)
        if not path.is_file():
            raise QwaveInputError(f"potential file {path} does not exist")
        try:
            v = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
            raise QwaveInputError(f"cannot read potential file {path} as a .npy array: {exc}") from None
        if not isinstance(v, np.ndarray):
            v.close()
            raise QwaveInputError(f"potential file {path} is not a .npy array (an archive?)")
        return check_potential(grid, v), "array", {"file": str(path)}
    params = dict(params) if params else dict(EXAMPLES.get(name, {}))
    return make_potential(name, grid, **params), name, params

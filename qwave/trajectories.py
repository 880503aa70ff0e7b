"""Trajectories straight from the solver, in the ``qwave_curriculum`` example schema.

Used where the TFDS dataset is not wanted or not there: unit tests (tiny grids), held-out
evaluation cases, and the ``wide`` curriculum (random barrier heights, widths, positions and
packets) that the emulator is trained on.  Physics only: numpy, no TensorFlow.

An example is a dict: ``psi`` float32 (frames, nx, 2) [Re, Im]; ``potential`` float32 (nx,),
unscaled (hartree); ``x0``, ``s0``, ``e0`` float32; ``family``, ``stage``, ``potential_params``
str; ``norm``, ``energy``, ``mean_x``, ``transmitted``, ``reflected`` float32 (frames,).
"""

from __future__ import annotations

import json
import math

import numpy as np

from qwave.curriculum import TEST_FAMILIES
from qwave.grid import Grid
from qwave.observables import observables
from qwave.packets import gaussian_packets
from qwave.potentials import EXAMPLES, barrier, barriers, make_potential
from qwave.solver import simulate


def examples_for_potential(
    grid: Grid,
    v: np.ndarray,
    x0,
    s0,
    e0,
    family: str,
    params: dict,
    stage: str | None = None,
    n_frames: int | None = None,
) -> list[dict]:
    """Simulate packets (X0, S0, E0 broadcast) in one potential; one example dict per packet."""
    psi0 = gaussian_packets(grid, x0, s0, e0, check=False)
    psi = simulate(psi0, v, grid, n_frames=n_frames)
    obs = observables(psi, v, grid)
    x0, s0, e0 = np.broadcast_arrays(np.atleast_1d(x0), np.atleast_1d(s0), np.atleast_1d(e0))
    out = []
    for i in range(psi.shape[0]):
        ex = {
            "psi": np.stack([psi[i].real, psi[i].imag], -1).astype(np.float32),
            "potential": v.astype(np.float32),
            "x0": np.float32(x0[i]),
            "s0": np.float32(s0[i]),
            "e0": np.float32(e0[i]),
            "family": family,
            "stage": stage or classify_stage(v, float(e0[i]), float(obs["transmitted"][i, -1])),
            "potential_params": json.dumps(params, sort_keys=True),
        }
        ex.update({k: obs[k][i].astype(np.float32) for k in ("norm", "energy", "mean_x", "transmitted", "reflected")})
        out.append(ex)
    return out


def classify_stage(v: np.ndarray, e0: float, transmitted_final: float) -> str:
    """free (no potential), transmission (E0 above the top), tunnelling (> 1 % through), reflection."""
    top = float(np.max(v))
    if not np.any(v):
        return "free"
    if e0 > top:
        return "transmission"
    return "tunnelling" if transmitted_final > 0.01 else "reflection"


def wide_curriculum(
    grid: Grid,
    n_potentials: int = 96,
    packets_per_potential: int = 4,
    seed: int = 0,
    height: tuple[float, float] = (0.5, 14.0),
    width: tuple[float, float] = (1.5, 25.0),
    well_fraction: float = 0.1,
    free_fraction: float = 0.08,
    pair_fraction: float = 0.0,
    well_depth: float | None = None,
    progress: bool = False,
) -> list[dict]:
    """Single rectangular barriers with random height, width (log-uniform) and centre, random packets.

    Heights in ``height`` (hartree), a ``well_fraction`` of them wells (depth 0.6 x height, or uniform in
    [0.5, ``well_depth``] when given), a ``free_fraction`` of potentials empty, and a ``pair_fraction`` of
    two overlapping rectangles of heights in [-well_depth/2, max height] (steps between two non-zero levels).
    Packets: X0 uniform over the box, S0 in [1, 4.5] bohr, E0 in [0.5, 9] hartree.
    """
    rng = np.random.default_rng(seed)
    items = range(n_potentials)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="simulating curriculum", unit="potential")
    out: list[dict] = []
    for _ in items:
        bh = float(rng.uniform(*height))
        if rng.uniform() < well_fraction:
            bh = -bh * 0.6 if well_depth is None else -float(rng.uniform(0.5, well_depth))
        bw = float(math.exp(rng.uniform(math.log(width[0]), math.log(width[1]))))
        center = float(grid.lx / 2 + rng.uniform(-10, 10))
        u = rng.uniform()
        if u < free_fraction:
            v, params, family = np.zeros(grid.nx), {}, "free"
        elif u < free_fraction + pair_fraction:
            lo = -(well_depth or 6.0) / 2
            hs = rng.uniform(lo, height[1], 2)
            ws = np.exp(rng.uniform(math.log(width[0]), math.log(12.0), 2))
            cs = center + rng.uniform(-4, 4, 2)
            v = barriers(grid, hs, ws, cs)
            params = {"heights": hs.tolist(), "widths": ws.tolist(), "centers": cs.tolist()}
            family = "pair"
        else:
            v = barrier(grid, bh, bw, center)
            params, family = {"height": bh, "width": bw, "center": center}, "barrier"
        n = packets_per_potential
        x0 = rng.uniform(0.05 * grid.lx, 0.95 * grid.lx, n)
        s0 = rng.uniform(1.0, 4.5, n)
        e0 = rng.uniform(0.5, 9.0, n)
        out.extend(examples_for_potential(grid, v, x0, s0, e0, family, params))
    return out


EXTRA_MIX = {"well_fraction": 0.4, "free_fraction": 0.0, "pair_fraction": 0.45, "well_depth": 11.0}
"""The second part of the ``wide`` training data: wells (depth 0.5-11) and overlapping pairs of rectangles."""


def paper_curriculum(grid: Grid, heights=(2.0, 5.0, 10.0), x0=(10.0, 40.0, 70.0), max_sims: int | None = None):
    """The published code's grid: X0 x S0 in 1..4 step 0.5 x E0 in 1..9, BW = 7, one stage per height."""
    out: list[dict] = []
    s0 = np.arange(1.0, 4.01, 0.5)
    e0 = np.arange(1.0, 9.01, 1.0)
    xs, ss, es = (a.ravel() for a in np.meshgrid(x0, s0, e0, indexing="ij"))
    for bh in heights:
        v = barrier(grid, bh, 7.0)
        out.extend(examples_for_potential(grid, v, xs, ss, es, "barrier", {"height": bh, "width": 7.0}))
        if max_sims and len(out) >= max_sims:
            break
    return out[:max_sims] if max_sims else out


def test_cases(grid: Grid, family: str, n: int = 2, seed: int = 1, n_frames: int | None = None) -> list[dict]:
    """Held-out cases in the paper's test ranges: packets X0 15-19.7, S0 1.1-4.9, E0 1.5-8.6.

    ``barrier`` draws BH 0.6-13.3 and BW 2.4-23.7; the landscapes use the family's example shape
    (``random`` a new seed per case).
    """
    rng = np.random.default_rng([seed, TEST_FAMILIES.index(family) if family in TEST_FAMILIES else 99])
    out: list[dict] = []
    for i in range(n):
        if family == "barrier":
            params = {"height": float(rng.uniform(0.6, 13.3)), "width": float(rng.uniform(2.4, 23.7))}
        elif family == "random":
            params = {"seed": int(seed * 1000 + i)}
        else:
            params = dict(EXAMPLES[family])
        v = make_potential(family, grid, **params)
        x0, s0, e0 = rng.uniform(15.0, 19.7), rng.uniform(1.1, 4.9), rng.uniform(1.5, 8.6)
        out.extend(
            examples_for_potential(grid, v, x0, s0, e0, family, params, stage=f"test_{family}", n_frames=n_frames)
        )
    return out


def stack_examples(examples: list[dict]) -> dict[str, np.ndarray]:
    """Stack a list of examples into arrays with a leading example axis."""
    return {k: np.stack([np.asarray(e[k]) for e in examples]) for k in examples[0]}

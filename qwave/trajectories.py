"""Trajectories straight from the solver, in the ``qwave_curriculum`` example schema.

Used where the TFDS dataset is not wanted or not there: unit tests (tiny grids) and quick held-out
evaluation cases.  Physics only: numpy, no TensorFlow.

An example is a dict: ``psi`` float32 (frames, nx, 2) [Re, Im]; ``potential`` float32 (nx,),
unscaled (hartree); ``x0``, ``s0``, ``e0`` float32; ``family``, ``stage``, ``potential_params``
str; ``norm``, ``energy``, ``mean_x``, ``transmitted``, ``reflected`` float32 (frames,).
"""

from __future__ import annotations

import json

import numpy as np

from qwave.curriculum import TEST_FAMILIES
from qwave.grid import Grid
from qwave.observables import observables
from qwave.packets import gaussian_packets
from qwave.potentials import EXAMPLES, make_potential
from qwave.solver import simulate


def examples_for_potential(
    grid: Grid,
    v: np.ndarray,
    x0,
    s0,
    e0,
    family: str,
    params: dict,
    stage: str = "test",
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
            "stage": stage,
            "potential_params": json.dumps(params, sort_keys=True),
        }
        ex.update({k: obs[k][i].astype(np.float32) for k in ("norm", "energy", "mean_x", "transmitted", "reflected")})
        out.append(ex)
    return out


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

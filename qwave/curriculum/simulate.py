"""Running the teacher for curriculum cases: cases sharing a potential go through one batched solver call."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from qwave.curriculum.specs import Case
from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid
from qwave.physics.observables import observables
from qwave.physics.packets import gaussian_packets
from qwave.physics.solver import simulate


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
    x0, s0, e0, direction = zip(*((c.x0, c.s0, c.e0, c.direction) for c in group), strict=True)
    psi0 = gaussian_packets(grid, x0, s0, e0, direction, check=False)
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

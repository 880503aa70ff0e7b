"""The emulator's view of the curriculum: training trajectories and test cases from ``qwave_curriculum``.

Two routes to the same examples: the built TFDS dataset (``tfds:<config>``), or the curriculum's case
lists simulated here with the solver (``curriculum:<config>``, no dataset build needed).
"""

from __future__ import annotations

import os

import numpy as np

from qwave import curriculum
from qwave.windows import Trajectories


def _numpy_examples(ds) -> list[dict]:
    out = []
    for ex in ds.as_numpy_iterator():
        out.append({k: (v.decode() if isinstance(v, bytes) else v) for k, v in ex.items()})
    return out


def curriculum_trajectories(config: str, data_dir: str | os.PathLike | None = None) -> Trajectories:
    """All training stages of a built ``qwave_curriculum`` config, with its v_scale."""
    from qwave.dataset import get_builder, load

    builder = get_builder(config, data_dir)
    v_scale = float(builder.info.metadata["v_scale"])
    examples = []
    for stage in curriculum.STAGES:
        if stage in builder.info.splits:
            examples.extend(_numpy_examples(load(config, split=stage, data_dir=data_dir)))
    return Trajectories.from_examples(examples, v_scale, curriculum.STAGES)


def test_examples(config: str, data_dir: str | os.PathLike | None = None, limit: int | None = None) -> dict:
    """{family: examples} from a built config's ``test_<family>`` splits (the first ``limit`` of each)."""
    from qwave.dataset import load

    out = {}
    for family in curriculum.TEST_FAMILIES:
        split = f"test_{family}" + (f"[:{limit}]" if limit else "")
        out[family] = _numpy_examples(load(config, split=split, data_dir=data_dir))
    return out


def simulated_test_examples(config: str = "full", limit: int | None = None, families=None) -> dict:
    """{family: examples}: the config's held-out cases simulated now (identical to its TFDS test splits)."""
    spec = curriculum.SPECS[config] if config in curriculum.SPECS else None
    if spec is None:
        from qwave.dataset import resolve_spec

        spec = resolve_spec(config)
    out = {}
    for split, cases in curriculum.held_out_cases(spec).items():
        family = split.removeprefix("test_")
        if families and family not in families:
            continue
        cases = cases[:limit] if limit else cases
        examples = []
        for group in curriculum.group_by_potential(cases, spec.chunk):
            examples.extend(ex for _, ex in curriculum.simulate_group(spec.grid, group))
        out[family] = examples
    return out


def v_scale_of(config: str) -> float:
    """The potential scale (hartree) a curriculum config feeds the network with."""
    return float(curriculum.SPECS[config].v_scale) if config in curriculum.SPECS else float(np.nan)

"""The emulator's view of the curriculum: training trajectories and test cases from ``qwave_curriculum``.

Two routes to the same examples: the built TFDS dataset (``tfds:<config>``), or the curriculum's case
lists simulated here with the solver (``curriculum:<config>``, no dataset build needed).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from qwave import curriculum
from qwave.errors import QwaveInputError

if TYPE_CHECKING:
    from qwave.windows import Trajectories


def _numpy_examples(ds) -> Iterator[dict]:
    """A split's examples as numpy dicts (text decoded), one at a time."""
    for ex in ds.as_numpy_iterator():
        yield {k: (v.decode() if isinstance(v, bytes) else v) for k, v in ex.items()}


def training_trajectories(
    source: str,
    data_dir: str | os.PathLike | None = None,
    progress: bool = False,
    build: bool = False,
    stages: Sequence[str] | None = None,
) -> Trajectories:
    """The training stages of ``source`` (``stages``, default all) as :class:`~qwave.windows.Trajectories`
    (v_scale from the config).

    ``tfds:<config>`` streams a built ``qwave_curriculum`` config (building it first when ``build`` is
    set and it is missing); ``curriculum:<config>`` simulates the config's training cases now, unstored.
    Either way each example is copied straight into the final arrays.
    """
    from qwave.windows import Trajectories

    wanted = tuple(stages or curriculum.STAGES)
    kind, _, config = source.partition(":")
    if kind == "tfds" and config:
        from qwave.dataset import build as build_dataset
        from qwave.dataset import get_builder, load

        builder = get_builder(config, data_dir)
        if not builder.is_prepared():
            if not build:
                raise QwaveInputError(f"config {config!r} is not built; run `qwave dataset build --config {config}`")
            if progress:
                print(f"building qwave_curriculum/{config} in {builder.data_dir} (first use)", file=sys.stderr)
            builder = build_dataset(config, data_dir, progress=progress)
        splits = [s for s in wanted if s in builder.info.splits]
        count = sum(builder.info.splits[s].num_examples for s in splits)
        stream = (ex for s in splits for ex in _numpy_examples(load(config, split=s, data_dir=data_dir)))
        return Trajectories.from_examples(stream, float(builder.info.metadata["v_scale"]), wanted, count)
    if kind == "curriculum" and config:
        from qwave.dataset import resolve_spec

        spec = resolve_spec(config, data_dir)
        cases = [c for stage in wanted for c in curriculum.training_cases(spec)[stage]]
        stream = (ex for _, ex in curriculum.iter_examples(spec.grid, cases, spec.chunk, progress))
        return Trajectories.from_examples(stream, float(spec.v_scale), wanted, len(cases))
    raise QwaveInputError(f"unknown training data {source!r}: use 'tfds:<config>' or 'curriculum:<config>'")


def test_examples(config: str, data_dir: str | os.PathLike | None = None, limit: int | None = None) -> dict:
    """{family: examples} from a built config's ``test_<family>`` splits (the first ``limit`` of each)."""
    from itertools import islice

    from qwave.dataset import load

    out = {}
    for family in curriculum.TEST_FAMILIES:
        examples = _numpy_examples(load(config, split=f"test_{family}", data_dir=data_dir))
        out[family] = list(islice(examples, limit))
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
        out[family] = [ex for _, ex in curriculum.iter_examples(spec.grid, cases, spec.chunk, progress=False)]
    return out

"""Where training trajectories and test cases come from: one parser for every ``--data`` / ``--tests`` text.

- ``tfds:<config>``: a built ``qwave_curriculum`` config (training data is built first when missing);
- ``curriculum:<config>``: the config's cases simulated now with the solver, nothing stored;
- ``solver``: test cases only; the ``full`` config's held-out cases simulated now (the paper's test
  ranges: the same generator as every config's ``test_<family>`` splits);
- ``ood`` / ``ood:<config>``: test cases only; the out-of-distribution families
  (:data:`qwave.curriculum.OOD_FAMILIES`) on the config's grid (default ``full``), simulated now.

Either way each example is copied straight into its final arrays (no second copy of a stream).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING

from qwave import curriculum
from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid

if TYPE_CHECKING:
    from qwave.data.trajectories import Trajectories

KINDS = ("tfds", "curriculum", "solver", "ood")


@dataclasses.dataclass(frozen=True)
class Source:
    """A parsed data source: ``kind`` in :data:`KINDS` and the curriculum ``config`` it names."""

    kind: str
    config: str

    @property
    def simulated(self) -> bool:
        """True when the examples are simulated now rather than read from a built dataset."""
        return self.kind != "tfds"


def parse_source(text: str, tests: bool = False) -> Source:
    """Parse ``tfds:<config>``, ``curriculum:<config>`` or (for ``tests``) ``solver``, ``ood[:<config>]``."""
    kind, sep, config = str(text).partition(":")
    if tests and text in ("solver", "ood"):
        return Source(text, "full")
    if sep and config and (kind in ("tfds", "curriculum") or (tests and kind == "ood")):
        return Source(kind, config)
    allowed = "'tfds:<config>', 'curriculum:<config>'" + (", 'solver' or 'ood[:<config>]'" if tests else "")
    what = "test source" if tests else "training data"
    raise QwaveInputError(f"unknown {what} {text!r}: use {allowed}")


def _numpy_examples(ds) -> Iterator[dict]:
    """A split's examples as numpy dicts (text decoded), one at a time."""
    for ex in ds.as_numpy_iterator():
        yield {k: (v.decode() if isinstance(v, bytes) else v) for k, v in ex.items()}


def _spec(source: Source, data_dir: str | os.PathLike | None) -> curriculum.CurriculumSpec:
    from qwave.data.tfds import resolve_spec

    return resolve_spec(source.config, data_dir)


def check_training_data(
    source: str,
    data_dir: str | os.PathLike | None = None,
    build: bool = False,
    n_in: int | None = None,
    targets: int = 1,
) -> curriculum.CurriculumSpec:
    """Everything about training data ``source`` that can be checked before loading it: it parses, its config
    resolves, a ``tfds:<config>`` is built (unless ``build``: it will be) and its simulations are long enough
    for windows of ``n_in`` input frames and ``targets`` target frames.  Returns the config's spec; nothing is
    built or simulated."""
    src = parse_source(source)
    spec = _spec(src, data_dir)
    if src.kind == "tfds" and not build:
        from qwave.data.tfds import require_built

        require_built(src.config, data_dir)
    if n_in is not None and spec.grid.n_frames < n_in + targets:
        raise QwaveInputError(
            f"{source} has {spec.grid.n_frames} frames per simulation; windows of {n_in} input frames and "
            f"{targets} target frame{'s' if targets > 1 else ''} need {n_in + targets}"
        )
    return spec


def held_out_grid(source: str, data_dir: str | os.PathLike | None = None, n_frames: int | None = None) -> Grid:
    """The grid of the held-out cases of ``source``, checked as far as it can be without simulating or
    reading them: the source parses, its config resolves, a ``tfds:<config>`` is built."""
    src = parse_source(source, tests=True)
    spec = _spec(src, data_dir)
    if src.kind == "tfds":
        from qwave.data.tfds import require_built

        if n_frames is not None:
            raise QwaveInputError("a built dataset's test splits have fixed frames; use curriculum:<config> for more")
        require_built(src.config, data_dir)
    return spec.grid if n_frames is None else dataclasses.replace(spec.grid, n_frames=int(n_frames))


def training_trajectories(
    source: str,
    data_dir: str | os.PathLike | None = None,
    progress: bool = False,
    build: bool = False,
    stages: Sequence[str] | None = None,
) -> Trajectories:
    """The training stages (``stages``, default all) of ``source`` as :class:`~qwave.data.trajectories.Trajectories`,
    v_scale from the config; a missing ``tfds:<config>`` is built first when ``build`` is set."""
    from qwave.data.trajectories import Trajectories

    src = parse_source(source)
    wanted = tuple(stages or curriculum.STAGES)
    if src.kind == "tfds":
        from qwave.data.tfds import build as build_dataset
        from qwave.data.tfds import get_builder, is_built, load, require_built

        if not is_built(src.config, data_dir):
            if not build:
                require_built(src.config, data_dir)
            builder = get_builder(src.config, data_dir)
            if progress:
                print(f"building qwave_curriculum/{src.config} in {builder.data_dir} (first use)", file=sys.stderr)
            builder = build_dataset(src.config, data_dir, progress=progress)
        else:
            builder = get_builder(src.config, data_dir)
        splits = [s for s in wanted if s in builder.info.splits]
        count = sum(builder.info.splits[s].num_examples for s in splits)
        stream = (ex for s in splits for ex in _numpy_examples(load(src.config, split=s, data_dir=data_dir)))
        return Trajectories.from_examples(stream, float(builder.info.metadata["v_scale"]), wanted, count)
    spec = _spec(src, data_dir)
    cases = [c for stage in wanted for c in curriculum.training_cases(spec)[stage]]
    stream = (ex for _, ex in curriculum.iter_examples(spec.grid, cases, spec.chunk, progress))
    return Trajectories.from_examples(stream, float(spec.v_scale), wanted, len(cases))


def held_out_examples(
    source: str,
    n_per_family: int | None = None,
    data_dir: str | os.PathLike | None = None,
    families: Sequence[str] | None = None,
    n_frames: int | None = None,
) -> dict[str, list[dict]]:
    """{family: examples} of the held-out test families of ``source`` (the first ``n_per_family`` of each,
    all when None).  ``n_frames`` re-simulates simulated sources with that many frames (long horizons)."""
    grid = held_out_grid(source, data_dir, n_frames)
    src = parse_source(source, tests=True)
    known = curriculum.OOD_FAMILIES if src.kind == "ood" else curriculum.TEST_FAMILIES
    wanted = tuple(families or known)
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise QwaveInputError(f"unknown test families {unknown} in {source}; choose from {', '.join(known)}")
    if n_per_family is not None and n_per_family < 1:
        raise QwaveInputError(f"cases per family must be >= 1, got {n_per_family}")
    if src.kind == "tfds":
        from qwave.data.tfds import load

        return {
            f: list(islice(_numpy_examples(load(src.config, split=f"test_{f}", data_dir=data_dir)), n_per_family))
            for f in wanted
        }
    spec = _spec(src, data_dir)
    drawn = curriculum.ood_cases(spec) if src.kind == "ood" else curriculum.held_out_cases(spec)
    out = {}
    for split, cases in drawn.items():
        family = split.removeprefix("test_")
        if family in wanted:
            chosen = cases[:n_per_family] if n_per_family else cases
            out[family] = [ex for _, ex in curriculum.iter_examples(grid, chosen, spec.chunk, progress=False)]
    return out

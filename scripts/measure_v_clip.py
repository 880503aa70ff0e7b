"""Clipped against unclipped potentials in the rollout: which ``v_clip`` forecasts best?

    python scripts/measure_v_clip.py --model qwave/pretrained/default --cases 6 --out v_clip.json

The rollout may clamp the network's potential channel V / v_scale to [-v_clip, v_clip].  The test
families stay below v_scale (their tallest barrier is 13.5 hartree, v_scale 14), so the clamp matters
only on taller structures, which the curriculum does contain (overlapping rectangles reach about
2.3 v_scale).  Families here: the ten test families, ``tall`` barriers (1-2.3 v_scale, 0.3-2 bohr: a
tunnelling packet feels the height) and ``towering`` ones (3-10 v_scale, far beyond any training
potential), each forecast with v_clip = 1, the training data's largest |V| / v_scale, and no clamp.
Prints one markdown table (mean correlation / worst case at the last frame) and writes the rows as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math

import click
import numpy as np
from rollout_sweep import comparison_table, sweep

from qwave import curriculum
from qwave.curriculum import Case, params_json
from qwave.data.sources import held_out_examples, parse_source
from qwave.data.tfds import resolve_spec
from qwave.emulator.artefacts import load_source
from qwave.emulator.options import RolloutOptions
from qwave.io import atomic_path

TALL = {"tall": (1.0, 2.3), "towering": (3.0, 10.0)}  # barrier heights, in units of v_scale


def tall_cases(spec: curriculum.CurriculumSpec, family: str, n: int, seed: int = 0) -> list[Case]:
    """``n`` narrow barriers of height ``TALL[family]`` x v_scale with packets from the test ranges."""
    rng = np.random.default_rng([seed, len(family)])
    lo, hi = TALL[family]
    cases = []
    for _ in range(n):
        x0, s0, e0 = (round(float(rng.uniform(*r)), 2) for r in (spec.test_x0, spec.test_s0, spec.test_e0))
        height = round(float(rng.uniform(lo, hi)) * spec.v_scale, 2)
        params = {"height": height, "width": round(float(rng.uniform(0.3, 2.0)), 2), "center": 50.0}
        cases.append(Case("barrier", params_json(params), x0, s0, e0, f"v_clip_{family}"))
    return cases


def training_peak(spec: curriculum.CurriculumSpec) -> float:
    """max |V| / v_scale over the spec's training potentials."""
    peak = 0.0
    for cases in curriculum.training_cases(spec).values():
        for key in {(c.family, c.params): c for c in cases}.values():
            peak = max(peak, float(np.abs(key.potential(spec.grid)).max()))
    return peak / spec.v_scale


@click.command()
@click.option("--model", "model_path", default=None, help="Run or export directory (default: the shipped model).")
@click.option("--tests", default="curriculum:full", show_default=True, help="Source of the ten test families.")
@click.option("--train-config", default="broad", show_default=True, help="Curriculum whose peak |V| is measured.")
@click.option("--cases", type=int, default=6, show_default=True, help="Cases per family.")
@click.option("--frames", type=int, default=400, show_default=True)
@click.option("--out", default="v_clip.json", show_default=True, type=click.Path(dir_okay=False))
def main(model_path, tests, train_config, cases, frames, out) -> None:
    src = load_source(model_path)
    spec = resolve_spec(parse_source(tests, tests=True).config)  # the test source's own config
    grid = dataclasses.replace(spec.grid, n_frames=src.model.n_in + frames)
    families = held_out_examples(tests, cases, n_frames=grid.n_frames)
    for family in TALL:
        chosen = tall_cases(spec, family, cases)
        families[family] = [ex for _, ex in curriculum.iter_examples(grid, chosen, spec.chunk, progress=False)]
    peak = math.ceil(100 * training_peak(curriculum.SPECS[train_config])) / 100
    clips = {"1": 1.0, f"{peak:g} (training peak)": peak, "none": None}
    rows = sweep(src, families, grid, frames, "v_clip", {k: RolloutOptions(v_clip=c) for k, c in clips.items()})
    click.echo(comparison_table(rows, frames, "v_clip"))
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps({"model": str(src.keras_path), "frames": frames, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

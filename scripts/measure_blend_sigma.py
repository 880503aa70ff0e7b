"""Which Gaussian blending width forecasts best?  One model's rollout at several ``sigma`` on the same cases.

    python scripts/measure_blend_sigma.py --model qwave/pretrained/gru --tests curriculum:docs/valid-wide.json \
        --sigma 2.0 --sigma 2.8 --sigma 4.0 --out sigma.json

Every cell of the next frame is a weighted mean of the ``window`` window forecasts that cover it, weighted
exp(-k^2 / 2 sigma^2) by its offset k from each window's centre (``qwave.emulator.rollout.blend_tables``).  A
small sigma trusts the centre of each window alone; a large one averages more windows, edges included, which
damps the errors that differ from window to window but mixes in the edge cells a window forecasts worst.
The paper uses 2.8 cells.  Choose sigma on cases that are not the test families (``docs/valid-wide.json``:
the ``wide`` families drawn with another seed), then confirm it once on the test families.
Prints one markdown table (mean correlation / worst case at the last frame / first frame < 0.99 of the
family's cases) and writes the rows as JSON.
"""

from __future__ import annotations

import dataclasses
import json

import click
from rollout_sweep import comparison_table, sweep

from qwave.data.sources import held_out_examples, parse_source
from qwave.data.tfds import resolve_spec
from qwave.emulator.artefacts import load_source
from qwave.emulator.options import RolloutOptions
from qwave.io import atomic_path


@click.command()
@click.option("--model", "model_path", default=None, help="Run or export directory (default: the shipped model).")
@click.option("--tests", default="curriculum:full", show_default=True, help="Source of the test families.")
@click.option("--data-dir", default=None, help="TFDS data directory (for tfds:<config>).")
@click.option("--sigma", "sigmas", type=float, multiple=True, required=True, help="Blending width (cells); repeat.")
@click.option("--cases", type=int, default=None, help="Cases per family (default: all).")
@click.option("--frames", type=int, default=400, show_default=True)
@click.option("--out", default="sigma.json", show_default=True, type=click.Path(dir_okay=False))
def main(model_path, tests, data_dir, sigmas, cases, frames, out) -> None:
    src = load_source(model_path)
    spec = resolve_spec(parse_source(tests, tests=True).config, data_dir)
    grid = dataclasses.replace(spec.grid, n_frames=src.model.n_in + frames)
    families = held_out_examples(tests, cases, n_frames=grid.n_frames, data_dir=data_dir)
    rows = sweep(src, families, grid, frames, "sigma", {f"{s:g}": RolloutOptions(sigma=s) for s in sigmas})
    click.echo(comparison_table(rows, frames, "sigma", first_below=True))
    record = {"model": str(src.keras_path), "tests": tests, "cases": cases, "frames": frames, "rows": rows}
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()

"""Rollout fidelity of a run's kept snapshots against training steps, and its CPU time per stretch.

    python scripts/fidelity_vs_steps.py ~/qwave-runs/paper-full --tests tfds:full --data-dir DATA \
        --cases 2 --steps 100000,200000,400000,700000,1000000,1300000 --out fidelity.json

Each ``snapshots/step-<N>.keras`` (kept by ``qwave train --snapshot-every``) is forecast over the same held-out
cases; the mean and worst-case correlation over the horizon and at its last frame go into ``--out`` (JSON) and
a PNG beside it.  The run's ``history.csv`` gives the training rate (windows/s) per epoch, from which the
script prints the measured steps per second and the time the whole recipe would take at that rate.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import click
import numpy as np

from qwave.data.sources import held_out_examples
from qwave.emulator.artefacts import load_keras_model, load_source
from qwave.emulator.evaluate import evaluate
from qwave.io import atomic_path


def training_rate(run: Path) -> dict:
    """Windows/s over the epochs in history.csv: the median and the stretch the run covered."""
    with open(run / "history.csv") as f:
        rates = [float(r["windows_per_s"]) for r in csv.DictReader(f) if r.get("windows_per_s") not in (None, "NA")]
    train = json.loads((run / "config.json").read_text())["train"]
    steps_per_s = float(np.median(rates)) / train["batch_size"]
    return {
        "epochs": len(rates),
        "steps_done": len(rates) * train["steps_per_epoch"],
        "median_windows_per_s": float(np.median(rates)),
        "steps_per_s": steps_per_s,
        "hours_for_the_recipe": train["steps"] / steps_per_s / 3600,
    }


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tests", default="tfds:full", show_default=True)
@click.option("--data-dir", default=None)
@click.option("--cases", type=int, default=2, show_default=True, help="Cases per family.")
@click.option("--frames", type=int, default=400, show_default=True)
@click.option("--steps", "wanted", default=None, help="Comma-separated snapshot steps (default: every snapshot).")
@click.option("--out", default="fidelity.json", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
def main(run: Path, tests: str, data_dir, cases: int, frames: int, wanted: str | None, out: Path) -> None:
    final = run / "model.keras"
    src = load_source(final if final.is_file() else run / "checkpoint.keras")  # the run's v_scale and grid
    snapshots = {int(re.search(r"step-(\d+)", p.name).group(1)): p for p in (run / "snapshots").glob("step-*.keras")}
    steps = sorted(snapshots) if wanted is None else [int(s) for s in wanted.split(",")]
    missing = [s for s in steps if s not in snapshots]
    if missing:
        raise click.UsageError(f"no snapshot for steps {missing} in {run}/snapshots")
    families = held_out_examples(tests, cases, data_dir)
    points = []
    for step in steps:
        model = load_keras_model(snapshots[step])
        rows = evaluate(model, families, src.v_scale, src.grid, frames, progress=False)["rows"]
        overall = rows["overall"]
        points.append(
            {
                "step": step,
                "mean_corr": overall["mean_corr"],
                "worst_mean": overall["worst_mean"],
                f"corr@{frames}": overall.get(f"corr@{frames}"),
                "families": {f: r["mean_corr"] for f, r in rows.items() if f != "overall"},
            }
        )
        click.echo(f"step {step:>9,}: mean {overall['mean_corr']:.4f}  worst case {overall['worst_mean']:.4f}")
    rate = training_rate(run)
    click.echo(
        f"training: {rate['median_windows_per_s']:,.0f} windows/s median over {rate['epochs']} epochs = "
        f"{rate['steps_per_s']:.0f} steps/s; the recipe's steps take {rate['hours_for_the_recipe']:.1f} h at that rate"
    )
    result = {"run": str(run), "tests": tests, "cases_per_family": cases, "frames": frames, "points": points}
    result["training_rate"] = rate
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    _plot(points, out.with_suffix(".png"), f"{run.name}: {tests}, {cases} cases/family, {frames} frames")


def _plot(points: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [p["step"] / 1e6 for p in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [p["mean_corr"] for p in points], "o-", label="mean correlation")
    ax.plot(steps, [p["worst_mean"] for p in points], "s--", label="worst case (mean over frames)")
    ax.set_xlabel("training steps (millions)")
    ax.set_ylabel("correlation with the solver")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Why one emulator forecasts longer than another: its one-step error, or how fast errors grow per frame?

    python scripts/one_step_vs_growth.py --model qwave/pretrained/paper-demo-gru --model qwave/pretrained/default \
        --tests tfds:demo --data-dir DATA --cases 2 --out growth.json

For every model, on the same held-out cases: the one-step error (1 - correlation of one whole-box step from
true frames, teacher forced, averaged over start frames spread through the case) and the rollout error
1 - corr(k) at frames 1, 10, 100 and 400 of a free forecast.  If errors only added up, 1 - corr(k) would be
about k x the one-step error; the ratio (1 - corr(k)) / (k x one-step) measures amplification by the
recursion (> 1: errors grow; < 1: they partly cancel or saturate).  The one-step error is also given per
family (``one_step_by_family``): which structures a step is least accurate on.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from qwave.data.sources import held_out_examples
from qwave.emulator.artefacts import load_source
from qwave.emulator.evaluate import forecast_cases
from qwave.emulator.metrics import correlation
from qwave.emulator.rollout import WholeBoxStep, rollout_batched
from qwave.io import atomic_path

FRAMES = (1, 10, 100, 400)
STARTS = 8  # teacher-forced start frames per case


def one_step_errors(src, cases: list[dict]) -> np.ndarray:
    """Per case, the mean 1 - correlation of one step from true frames, over STARTS start frames."""
    n_in = src.model.n_in
    stepper = WholeBoxStep(src.model, src.grid.nx)
    inits, pots, truths = [], [], []
    for case in cases:
        psi = np.asarray(case["psi"], np.float32)
        for t in np.linspace(n_in, psi.shape[0] - 1, STARTS).astype(int):
            inits.append(psi[t - n_in : t])
            truths.append(psi[t])
            pots.append(np.asarray(case["potential"], np.float32) / src.v_scale)
    pred = rollout_batched(stepper, np.stack(inits), np.stack(pots), 1)[:, 0]
    return np.mean((1 - correlation(np.stack(truths), pred)).reshape(len(cases), STARTS), axis=1)


@click.command()
@click.option("--model", "models", multiple=True, required=True, help="Run or export directories (repeat).")
@click.option("--tests", default="tfds:demo", show_default=True)
@click.option("--data-dir", default=None)
@click.option("--cases", type=int, default=2, show_default=True, help="Cases per family.")
@click.option("--out", default="growth.json", show_default=True, type=click.Path(dir_okay=False, path_type=Path))
def main(models, tests, data_dir, cases, out: Path) -> None:
    families = held_out_examples(tests, cases, data_dir)
    all_cases = [c for fam in families.values() for c in fam]
    bounds = np.cumsum([0] + [len(fam) for fam in families.values()])  # each family's slice of all_cases
    rows = {}
    for path in models:
        src = load_source(path)
        per_case = one_step_errors(src, all_cases)
        one = float(per_case.mean())
        pred = forecast_cases(src.model, all_cases, src.v_scale, max(FRAMES))
        truth = np.stack([np.asarray(c["psi"])[src.model.n_in : src.model.n_in + max(FRAMES)] for c in all_cases])
        err = 1 - correlation(truth, pred).mean(0)
        row = {"one_step_error": one}
        for k in FRAMES:
            row[f"error@{k}"] = float(err[k - 1])
            row[f"amplification@{k}"] = float(err[k - 1] / (k * one))
        row["one_step_by_family"] = {
            f: float(per_case[a:b].mean()) for f, a, b in zip(families, bounds[:-1], bounds[1:], strict=True)
        }
        rows[str(path)] = row
    header = "| model | one-step 1-corr | " + " | ".join(f"1-corr@{k} (x k one-step)" for k in FRAMES) + " |"
    lines = [header, "|---" * (len(FRAMES) + 2) + "|"]
    for name, r in rows.items():
        cells = [f"{r[f'error@{k}']:.2e} ({r[f'amplification@{k}']:.2f})" for k in FRAMES]
        lines.append(f"| {Path(name).name} | {r['one_step_error']:.2e} | " + " | ".join(cells) + " |")
    fams = list(families)
    lines += ["", "| model | " + " | ".join(f"one-step {f}" for f in fams) + " |", "|---" * (len(fams) + 1) + "|"]
    for name, r in rows.items():
        lines.append(f"| {Path(name).name} | " + " | ".join(f"{r['one_step_by_family'][f]:.2e}" for f in fams) + " |")
    click.echo("\n".join(lines))
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps({"tests": tests, "cases_per_family": cases, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

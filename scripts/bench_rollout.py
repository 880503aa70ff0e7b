"""Rollout throughput (cases x frames per second) of the whole-box forecast, batched over cases.

    python scripts/bench_rollout.py --cases 16 --frames 100 --stride 1

The forecast cost does not depend on the weights, so an untrained model is used unless ``--model``
names a .keras file.  For comparison: the paper's rollout took ~2 s per 400-frame case (200 frames/s).
"""

from __future__ import annotations

import time

import click
import numpy as np

from qwave.emulator.models import MODELS, build_model, load_model
from qwave.emulator.options import RolloutOptions
from qwave.emulator.rollout import WholeBoxStep, rollout


@click.command()
@click.option("--model", "model_name", default="gru_res", show_default=True, help="Registry name or .keras path.")
@click.option("--cases", type=int, default=16, show_default=True)
@click.option("--frames", type=int, default=100, show_default=True)
@click.option("--stride", "strides", type=int, multiple=True, default=(1, 4), show_default=True)
@click.option("--nx", type=int, default=1024, show_default=True)
def main(model_name: str, cases: int, frames: int, strides: tuple[int, ...], nx: int) -> None:
    model = build_model(model_name) if model_name in MODELS else load_model(model_name)
    rng = np.random.default_rng(0)
    init = (0.1 * rng.normal(size=(cases, model.n_in, nx, 2))).astype(np.float32)
    pot = np.zeros((cases, nx), np.float32)
    for stride in strides:
        stepper = WholeBoxStep(model, nx, RolloutOptions(stride=stride))
        rollout(stepper, init, pot, 2)  # trace
        t = time.perf_counter()
        rollout(stepper, init, pot, frames)
        dt = time.perf_counter() - t
        rate = cases * frames / dt
        click.echo(
            f"stride={stride}: {cases} cases x {frames} frames in {dt:.1f} s = {rate:,.0f} case-frames/s "
            f"({400 / rate:.2f} s per 400-frame case, batched; paper ~2 s)"
        )


if __name__ == "__main__":
    main()

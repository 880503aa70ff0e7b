"""Training throughput (windows per second) of the tf.data window stream alone, of Keras fit on it, and of
the network alone (fit on one repeated batch): on a CPU the stream and the network share the cores.

    python scripts/bench_training.py --model gru --batch-size 1024 --steps 300

Uses a handful of the ``wide`` curriculum's simulations (the stream cost does not depend on how many).  For
comparison: the paper's code ran ~17k windows/s on its laptop GPU (7.3 s per 1 000 steps of 128).
"""

from __future__ import annotations

import time

import click
import keras
import tensorflow as tf

from qwave import curriculum
from qwave.data.trajectories import Trajectories
from qwave.data.windows import PipelineConfig, WindowSpec, window_dataset
from qwave.emulator.models import MODELS, build_model
from qwave.emulator.training import Throughput, TrainConfig, make_optimizer


@click.command()
@click.option("--model", type=click.Choice(list(MODELS)), default="gru_res", show_default=True)
@click.option("--batch-size", type=int, default=1024, show_default=True)
@click.option("--steps", type=int, default=300, show_default=True, help="Measured steps (after a warm-up epoch).")
@click.option("--jit/--no-jit", default=True, show_default=True)
@click.option("--steps-per-execution", "per_call", type=int, default=1, show_default=True)
@click.option("--sims", type=int, default=4, show_default=True, help="Landscapes simulated (4 packets each).")
def main(model: str, batch_size: int, steps: int, jit: bool, per_call: int, sims: int) -> None:
    spec = curriculum.WIDE
    cases = [c for stage in curriculum.STAGES for c in curriculum.training_cases(spec)[stage]][: 4 * sims]
    examples = [ex for _, ex in curriculum.iter_examples(spec.grid, cases, spec.chunk, progress=False)]
    traj = Trajectories.from_examples(examples, spec.v_scale)
    cfg = PipelineConfig(batch_size=batch_size, noise=1e-3, phase=True, mirror=True)
    ds = window_dataset(traj, WindowSpec(), cfg)
    it = iter(ds)
    next(it)
    t = time.perf_counter()
    for _ in range(steps):
        next(it)
    stream = steps * batch_size / (time.perf_counter() - t)
    net = build_model(model)
    net.compile(
        optimizer=make_optimizer(TrainConfig(steps=10 * steps)),
        loss="mse",
        jit_compile=jit,
        steps_per_execution=per_call,
    )
    tp = Throughput(batch_size, steps)
    hist = net.fit(ds, epochs=2, steps_per_epoch=steps, callbacks=[tp], verbose=0)
    # the network alone: the same fit on one batch repeated (no sampling), so stream + network ~ fit
    fixed = tf.data.Dataset.from_tensors(next(it)).repeat()
    alone = net.fit(fixed, epochs=2, steps_per_epoch=steps, callbacks=[tp], verbose=0)
    click.echo(f"model={model} batch={batch_size} jit={jit} steps_per_execution={per_call} params={net.count_params()}")
    click.echo(f"  tf.data stream alone: {stream:,.0f} windows/s")
    fit, net_only = hist.history["windows_per_s"][-1], alone.history["windows_per_s"][-1]
    click.echo(f"  Keras fit (2nd epoch): {fit:,.0f} windows/s")
    click.echo(f"  Keras fit on one repeated batch (the network alone): {net_only:,.0f} windows/s")
    click.echo(f"  share of a fit step spent on the stream: {1 - fit / net_only:.0%} (both on the same cores)")
    click.echo("  paper (laptop GPU): ~17,500 windows/s")


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    main()

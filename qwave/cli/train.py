"""``qwave train``: parse options into a TrainConfig and call :func:`qwave.emulator.training.train`."""

from __future__ import annotations

import json

import click

from qwave.cli.common import key_values, one_line_errors
from qwave.data.windows import SCHEDULES
from qwave.emulator import recipes, training
from qwave.emulator.models import MODELS
from qwave.emulator.recipes import RECIPES
from qwave.emulator.training import STRATEGIES, TrainConfig

_D = TrainConfig()


@click.command("train")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option(
    "--recipe",
    type=click.Choice(list(RECIPES)),
    default=None,
    help="Start from a named preset (the paper's runs); any option given here overrides its value.",
)
@click.option(
    "--data",
    default=_D.data,
    show_default=True,
    help="'tfds:<config>' (a built qwave_curriculum config; see --build) or 'curriculum:<config>' (simulated now).",
)
@click.option(
    "--build",
    is_flag=True,
    help="Build a --data tfds:<config> that is not built yet first (minutes for demo, hours for full); "
    "without it an unbuilt config is an error naming `qwave dataset build`.",
)
@click.option("--data-dir", default=None, help="TFDS data directory (default: TFDS's).")
@click.option(
    "--stages",
    default=None,
    callback=lambda ctx, param, v: [s for s in v.split(",") if s] if v else None,
    help="Comma-separated training stages to draw from (default: all the data has).",
)
@click.option("--model", type=click.Choice(list(MODELS)), default=_D.model, show_default=True)
@click.option("--model-arg", "model_kwargs", multiple=True, callback=key_values, help="Model option KEY=VALUE.")
@click.option("--window", type=int, default=_D.window, show_default=True, help="Window width (cells, odd).")
@click.option("--frames-in", "n_in", type=int, default=_D.n_in, show_default=True, help="Input frames per window.")
@click.option("--schedule", type=click.Choice(SCHEDULES), default=_D.schedule, show_default=True)
@click.option("--steps", type=int, default=_D.steps, show_default=True)
@click.option("--batch-size", type=int, default=_D.batch_size, show_default=True)
@click.option("--lr", type=float, default=_D.lr, show_default=True, help="Peak learning rate.")
@click.option("--final-lr", type=float, default=_D.final_lr, show_default=True)
@click.option("--warmup", type=float, default=_D.warmup, show_default=True, help="Warm-up fraction of the steps.")
@click.option("--decay", type=click.Choice(["cosine", "linear"]), default=_D.decay, show_default=True)
@click.option("--weight-decay", type=float, default=_D.weight_decay, show_default=True)
@click.option("--clipnorm", type=float, default=_D.clipnorm, show_default=True)
@click.option(
    "--overlap-weight",
    type=float,
    default=_D.overlap_weight,
    show_default=True,
    help="Sampling weight of windows touching the potential.",
)
@click.option(
    "--dip-weight",
    type=float,
    default=_D.dip_weight,
    show_default=True,
    help="Sampling weight of simulations whose potential dips below zero (wells), within their stage.",
)
@click.option("--noise", type=float, default=_D.noise, show_default=True, help="Input-noise std (bohr^-1/2).")
@click.option(
    "--final-noise",
    type=float,
    default=_D.final_noise,
    help="Input-noise std at the last step, reached linearly from --noise (default: --noise throughout).",
)
@click.option("--phase/--no-phase", default=_D.phase, show_default=True, help="Random global-phase augmentation.")
@click.option("--mirror/--no-mirror", default=_D.mirror, show_default=True, help="Random mirror augmentation.")
@click.option(
    "--pushforward",
    type=int,
    default=_D.pushforward,
    show_default=True,
    help="Frames forecast in a row per training window, each from the ones before (1: the one-step loss).",
)
@click.option(
    "--steps-per-epoch",
    type=int,
    default=_D.steps_per_epoch,
    show_default=True,
    help="Batches per epoch (checkpoint period unit).",
)
@click.option(
    "--steps-per-execution",
    type=int,
    default=_D.steps_per_execution,
    show_default=True,
    help="Train steps per compiled call (cheaper small-batch steps; numerics unchanged).",
)
@click.option(
    "--snapshot-every",
    type=int,
    default=_D.snapshot_every,
    show_default=True,
    help="Keep snapshots/step-<N>.keras every this many epochs (0: none), e.g. for fidelity against steps.",
)
@click.option("--strategy", type=click.Choice(STRATEGIES), default=_D.strategy, show_default=True)
@click.option("--jit/--no-jit", default=_D.jit, show_default=True, help="XLA-compile the train step.")
@click.option("--seed", type=int, default=_D.seed, show_default=True)
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out from its last checkpoint.")
@one_line_errors
def train_cmd(out_dir: str, resume: bool, build: bool, recipe: str | None, **options) -> None:
    """Train an emulator on curriculum windows (Keras fit, AdamW, checkpoints, TensorBoard logs)."""
    if recipe is not None:
        ctx = click.get_current_context()
        given = {k for k in options if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
        options = {**options, **{k: v for k, v in recipes.recipe(recipe).items() if k not in given}}
    cfg = TrainConfig(**options)
    training.check_run(cfg, out_dir, resume=resume, build=build)  # everything that can fail before training
    click.echo(json.dumps(cfg.to_dict()), err=True)
    training.train(cfg, out_dir, resume=resume, verbose=1)
    click.echo(f"model written to {out_dir}/model.keras")


train = train_cmd

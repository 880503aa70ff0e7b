"""``qwave evaluate``: forecast every test family with a trained emulator; print and save the table."""

from __future__ import annotations

import click

from qwave.cli.common import TESTS_HELP, one_line_errors, rollout_options


@click.command("evaluate")
@click.option(
    "--model",
    "model_path",
    default=None,
    type=click.Path(),
    help="A run directory, an export directory or a .keras file (default: the shipped model).",
)
@click.option(
    "--tests",
    default="curriculum:full",
    show_default=True,
    help=TESTS_HELP,
)
@click.option("--data-dir", default=None, help="TFDS data directory (for tfds:<config>).")
@click.option("--cases", type=int, default=None, help="Cases per family (default: all).")
@click.option("--frames", "n_steps", type=int, default=400, show_default=True, help="Forecast length (frames).")
@click.option("--v-scale", type=float, default=None, help="Potential scale, if not in the run's config.json.")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where to write table.md/json, curves.png and case pictures (default: <model dir>/eval).",
)
@one_line_errors
@rollout_options()
def evaluate_cmd(model_path, tests, data_dir, cases, n_steps, rollout, v_scale, out_dir):
    """Evaluate an emulator on every test family (mean correlation, @100/200/400, MAE, norm drift)."""
    from qwave.emulator.evaluate import evaluate_path

    table = evaluate_path(
        model_path,
        tests,
        out_dir,
        data_dir=data_dir,
        n_per_family=cases,
        n_steps=n_steps,
        options=rollout,
        v_scale=v_scale,
    )
    click.echo(table)


evaluate = evaluate_cmd

"""``qwave evaluate``: forecast every test family with a trained emulator; print and save the table."""

from __future__ import annotations

import click

from qwave.cli.common import one_line_errors


@click.command("evaluate")
@click.option(
    "--model",
    "model_path",
    required=True,
    type=click.Path(exists=True),
    help="A run directory (model.keras + config.json) or a .keras file (then give --v-scale).",
)
@click.option(
    "--tests",
    default="curriculum:full",
    show_default=True,
    help="'curriculum:<config>' (simulated now), 'tfds:<config>' (built test splits) or 'solver'.",
)
@click.option("--data-dir", default=None, help="TFDS data directory (for tfds:<config>).")
@click.option("--cases", type=int, default=None, help="Cases per family (default: all).")
@click.option("--frames", "n_steps", type=int, default=400, show_default=True, help="Forecast length (frames).")
@click.option("--sigma", type=float, default=2.8, show_default=True, help="Blending width (cells).")
@click.option("--stride", type=int, default=1, show_default=True, help="Run the window at every stride-th cell.")
@click.option(
    "--renormalize/--no-renormalize",
    default=True,
    show_default=True,
    help="Rescale each forecast frame to the initial norm.",
)
@click.option(
    "--v-clip",
    type=float,
    default=1.0,
    show_default=True,
    help="Clamp V/v_scale to [-v_clip, v_clip] (the trained range); 0 disables.",
)
@click.option("--v-scale", type=float, default=None, help="Potential scale, if not in the run's config.json.")
@click.option("--batch", type=int, default=16, show_default=True, help="Cases forecast together.")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where to write table.md/json, curves.png and case pictures (default: <model dir>/eval).",
)
@one_line_errors
def evaluate_cmd(
    model_path, tests, data_dir, cases, n_steps, sigma, stride, renormalize, v_clip, v_scale, batch, out_dir
):
    """Evaluate an emulator on every test family (mean correlation, @100/200/400, MAE, norm drift)."""
    from qwave.emulator.evaluate import evaluate_path

    table = evaluate_path(
        model_path,
        tests,
        out_dir,
        data_dir=data_dir,
        n_per_family=cases,
        n_steps=n_steps,
        sigma=sigma,
        stride=stride,
        renormalize=renormalize,
        v_scale=v_scale,
        batch=batch,
    )
    click.echo(table)


evaluate = evaluate_cmd

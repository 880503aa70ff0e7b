"""``qwave ablate``, ``qwave probe ...`` and ``qwave report``: what the emulator learned."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from qwave.cli.common import TESTS_HELP, float_list, one_line_errors
from qwave.errors import QwaveInputError
from qwave.insight.ablation import VARIANTS  # numpy-only module: cheap at start-up


def tests_options(command):
    """``--tests`` (the held-out cases) and ``--data-dir`` (where built TFDS configs live), shared by every command."""
    command = click.option("--data-dir", default=None, help="TFDS data directory.")(command)
    return click.option("--tests", default="curriculum:demo", show_default=True, help=TESTS_HELP)(command)


def _int_list(ctx, param, value: str) -> list[int]:
    numbers = float_list(ctx, param, value)
    if not all(float(v).is_integer() for v in numbers):
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}")
    return [int(v) for v in numbers]


def _at_least_one(**counts: int) -> None:
    """Counts given on the command line, checked before anything is loaded or simulated."""
    for name, value in counts.items():
        if value is not None and value < 1:
            raise QwaveInputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--train",
    "train_source",
    default="curriculum:demo",
    show_default=True,
    help="Training data: 'tfds:<config>' or 'curriculum:<config>'.",
)
@tests_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Ablation directory (results.json, one run per variant and seed); reruns resume.",
)
@click.option(
    "--variants",
    default=",".join(VARIANTS),
    show_default=True,
    help="Comma-separated; also schedule:<uniform|staged|anneal> and model:<name> (all data, another one).",
)
@click.option("--seeds", default="0,1,2", show_default=True, callback=_int_list, help="Seeds per variant.")
@click.option("--steps", type=int, default=20_000, show_default=True, help="Training steps per run.")
@click.option("--cases", type=int, default=3, show_default=True, help="Test cases per family.")
@click.option("--frames", type=int, default=400, show_default=True, help="Forecast length for the evaluation.")
@click.option(
    "--track-every",
    type=int,
    default=None,
    help="Steps between symmetry probes during training (default: the run's epoch, at most --steps).",
)
@one_line_errors
def ablate(run_dir, train_source, tests, data_dir, out_dir, variants, seeds, steps, cases, frames, track_every):
    """Retrain RUN_DIR's recipe without each curriculum part in turn; evaluate on every test family."""
    from qwave.data.sources import check_training_data, held_out_examples, held_out_grid, training_trajectories
    from qwave.emulator.training import TrainConfig
    from qwave.insight import ablation
    from qwave.insight.probes import sample_windows
    from qwave.insight.report import load_run_model
    from qwave.io import check_output_dir

    _at_least_one(steps=steps, cases=cases, frames=frames, track_every=track_every)
    chosen = ablation.check_variants([v for v in variants.split(",") if v])
    if not seeds:
        raise QwaveInputError("--seeds names no seed")
    model, _, config = load_run_model(run_dir)
    check_output_dir(out_dir)
    base = TrainConfig.from_dict(config["train"])
    base = dataclasses.replace(base, steps=steps, steps_per_epoch=min(track_every or base.steps_per_epoch, steps))
    check_training_data(train_source, data_dir, n_in=base.n_in)
    held_out_grid(tests, data_dir)
    traj = training_trajectories(train_source, data_dir, progress=True)
    v_scale = traj.v_scale
    families = held_out_examples(tests, cases, data_dir)
    probes = sample_windows([c for cs in families.values() for c in cs], v_scale, model.n_in, model.window, 256)
    results = ablation.run_ablation(traj, families, base, out_dir, chosen, seeds, frames, probes, True)
    table = ablation.summarize(results)
    if len(table) > 1 and "all" in table:  # the heat map shows changes against 'all'
        ablation.plot_drops(out_dir / "ablation.png", table)
    click.echo(ablation.format_summary(table))


@click.group()
def probe() -> None:
    """Probe a trained emulator: symmetries, locality, generalisation."""


def _model_and_cases(model_path, tests, data_dir, cases):
    from qwave.data.sources import held_out_examples, held_out_grid
    from qwave.insight.report import load_run_model

    model, v_scale, config = load_run_model(model_path)
    held_out_grid(tests, data_dir)  # a bad or unbuilt source fails before any case is simulated
    families = held_out_examples(tests, cases, data_dir)
    return model, v_scale, config, [c for cs in families.values() for c in cs]


@probe.command()
@click.argument("model_path", type=click.Path(path_type=Path))
@tests_options
@click.option("--cases", type=int, default=2, show_default=True, help="Held-out cases per family.")
@click.option("--windows", type=int, default=1024, show_default=True, help="Probe windows.")
@click.option("--stride", type=int, default=1, show_default=True, help="Rollout stride for the translation probe.")
@one_line_errors
def symmetry(model_path, tests, data_dir, cases, windows, stride):
    """Equivariance errors under mirror, global phase, time reversal and translation (JSON to stdout)."""

    from qwave.insight.probes import initial_frames, sample_windows
    from qwave.insight.symmetry import symmetry_errors

    _at_least_one(cases=cases, windows=windows, stride=stride)
    model, v_scale, _, all_cases = _model_and_cases(model_path, tests, data_dir, cases)
    probes = sample_windows(all_cases, v_scale, model.n_in, model.window, windows)
    whole = initial_frames(all_cases[:8], v_scale, model.n_in)
    click.echo(json.dumps(symmetry_errors(model, probes, whole, stride=stride), indent=1))


@probe.command()
@click.argument("model_path", type=click.Path(path_type=Path))
@tests_options
@click.option("--cases", type=int, default=2, show_default=True, help="Held-out cases per family.")
@click.option("--windows", type=int, default=1024, show_default=True, help="Probe windows.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Saliency picture (PNG).")
@one_line_errors
def locality(model_path, tests, data_dir, cases, windows, plot):
    """Gradient saliency by input frame and cell offset, against the physical reach per frame."""
    from qwave.insight import locality as loc
    from qwave.insight.probes import sample_windows
    from qwave.io import check_writable
    from qwave.physics.grid import Grid

    _at_least_one(cases=cases, windows=windows)
    if plot:
        check_writable(plot)
    model, v_scale, _, all_cases = _model_and_cases(model_path, tests, data_dir, cases)
    probes = sample_windows(all_cases, v_scale, model.n_in, model.window, windows)
    sal = loc.saliency(model, probes)
    grid = Grid(nx=len(all_cases[0]["potential"]))
    reach = loc.physical_reach(grid, max(float(c["e0"]) for c in all_cases), min(float(c["s0"]) for c in all_cases))
    if plot:
        loc.plot_saliency(plot, sal, reach)
    shares, r90 = loc.frame_shares(sal), loc.reach_cells(sal)
    for f in range(model.n_in):
        lag = model.n_in - 1 - f
        click.echo(
            f"frame t-{lag}: share {shares[f]:.3f}, 90% within {r90[f]} cells, physical reach "
            f"{(lag + 1) * reach:.1f} cells"
        )


@probe.command()
@click.argument("model_path", type=click.Path(path_type=Path))
@click.option("--energies", default="1.5,3,4.5,6,7.5,9,11", show_default=True, callback=float_list)
@click.option("--heights", default="1,3,5,7,9,11,13,16", show_default=True, callback=float_list)
@click.option("--widths", default="2,4,7,12,18,24", show_default=True, callback=float_list)
@click.option("--frames", type=int, default=400, show_default=True, help="Forecast length.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output PNG.")
@one_line_errors
def generalisation(model_path, energies, heights, widths, frames, plot):
    """Correlation at the last frame over (E0, BH) and barrier width, inside and outside the curriculum."""
    from qwave.insight import generalisation as gen
    from qwave.insight.report import _curriculum_ranges, load_run_model
    from qwave.io import check_writable

    _at_least_one(frames=frames)
    for name, values in (("energies", energies), ("heights", heights), ("widths", widths)):
        if not values:
            raise QwaveInputError(f"--{name} names no value")
    check_writable(plot)
    model, v_scale, config = load_run_model(model_path)
    result = gen.generalisation_map(model, v_scale, energies, heights, widths, n_steps=frames)
    e_rng, h_rng = _curriculum_ranges(config)
    gen.plot_map(plot, result, e_rng, h_rng, 7.0)
    click.echo(json.dumps({"eh": result["eh"], "w": result["w"]}))


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@tests_options
@click.option(
    "--train",
    "train_source",
    default="curriculum:demo",
    show_default=True,
    help="Training data for the ablation ('tfds:<config>' or 'curriculum:<config>'); 'none' skips it.",
)
@click.option(
    "--ablation-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Reuse (and resume) an ablation directory from `qwave ablate`.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report directory (default RUN_DIR/report).",
)
@click.option("--quick", is_flag=True, help="Minutes, not hours: small budgets everywhere.")
@one_line_errors
def report(run_dir, tests, train_source, ablation_dir, data_dir, out_dir, quick):
    """Assemble evaluation, symmetries, locality, generalisation and ablation into report.md."""
    from qwave.insight.report import QUICK, Budget, build_report

    path = build_report(
        run_dir,
        tests,
        None if train_source == "none" else train_source,
        out_dir,
        QUICK if quick else Budget(),
        data_dir,
        ablation_dir,
    )
    click.echo(f"report: {path}")

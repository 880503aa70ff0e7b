"""``qwave dataset``: build, describe and picture the curriculum dataset (TFDS ``qwave_curriculum``)."""

from __future__ import annotations

from pathlib import Path

import click

from qwave.cli.common import one_line_errors

CONFIG_HELP = "Built-in config (demo, full, tiny), a JSON/YAML config file, or a custom config already built."
DATA_DIR_HELP = "TFDS data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)."


@click.group()
def dataset() -> None:
    """The curriculum as a TensorFlow Datasets dataset (qwave_curriculum).

    Splits: free, transmission, tunnelling, reflection (training stages) and test_barrier, test_double,
    ... test_random (held-out families). Load with qwave.data.tfds.load(config, split, data_dir) or
    tfds.load("qwave_curriculum/<config>", data_dir=...) after `import qwave.datasets`.
    """


@dataset.command()
@click.option("--config", default="demo", show_default=True, help=CONFIG_HELP)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
@click.option(
    "--beam",
    "beam",
    metavar="OPTIONS",
    help="Generate with Apache Beam (needs qwave[beam]); OPTIONS are comma-separated pipeline options, "
    "e.g. 'runner=DirectRunner,direct_num_workers=2' ('' for the local DirectRunner).",
)
@click.option("--quiet", is_flag=True, help="No progress bars or summary.")
@one_line_errors
def build(config: str, data_dir: Path | None, beam: str | None, quiet: bool) -> None:
    """Generate the dataset (validated first; a complete build is reused, an interrupted one redone).

    Example: qwave dataset build --config demo --data-dir /work/data
    """
    import time

    from qwave.data import tfds as lib

    if quiet:
        import tensorflow_datasets as tfds

        tfds.disable_progress_bar()
    start = time.perf_counter()
    builder = lib.build(config, data_dir, beam=beam, progress=not quiet)
    if not quiet:
        splits = builder.info.splits
        click.echo(
            f"qwave_curriculum/{builder.builder_config.name}: {splits.total_num_examples} examples in "
            f"{len(splits)} splits, {builder.info.dataset_size} on disk -> {builder.data_dir} "
            f"({time.perf_counter() - start:.0f} s)"
        )


@dataset.command()
@click.option("--config", default="demo", show_default=True, help=CONFIG_HELP)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@one_line_errors
def info(config: str, data_dir: Path | None, as_json: bool) -> None:
    """Splits, example counts, sizes (measured if built, else estimated: *) and parameter ranges."""
    import json

    from qwave.data import tfds as lib

    summary = lib.info(config, data_dir)
    click.echo(json.dumps(summary, indent=1) if as_json else lib.format_info(summary))


@dataset.command()
@click.option("--config", default="demo", show_default=True, help=CONFIG_HELP)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="dataset_examples.png",
    show_default=True,
    help="Output PNG.",
)
@click.option("--per-split", type=int, default=1, show_default=True, help="Examples drawn from each split.")
@click.option("--splits", default="", help="Comma-separated splits to draw (default: all).")
@one_line_errors
def plot(config: str, data_dir: Path | None, out: Path, per_split: int, splits: str) -> None:
    """Space-time pictures (Re psi over x and t, V overlaid) of a few examples from each split."""
    from qwave.data import tfds as lib

    chosen = [s.strip() for s in splits.split(",") if s.strip()] or None
    path = lib.plot_examples(config, out, data_dir, per_split=per_split, splits=chosen)
    click.echo(f"-> {path}")

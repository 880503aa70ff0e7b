"""The ``qwave`` command line: it parses, then calls library functions that the tests call too.

Each subcommand lives in its own module here, named in ``COMMANDS`` below.
"""

from __future__ import annotations

import importlib

import click

# name -> ("module:attribute", one-line help); a subcommand's module is imported only when that command
# runs or shows its own help, so `qwave --help`, `qwave simulate` and `qwave dataset` never load TensorFlow.
COMMANDS = {
    "simulate": ("qwave.cli.simulate:simulate", "Run the teacher: Gaussian packets in a potential -> .npz (+ PNG)."),
    "dataset": ("qwave.cli.dataset:dataset", "The curriculum as a TFDS dataset: build, info, plot."),
    "train": ("qwave.cli.train:train", "Train an emulator on curriculum windows (Keras fit, checkpoints, resume)."),
    "evaluate": (
        "qwave.cli.evaluate:evaluate",
        "Evaluate an emulator on every test family (tables, curves, pictures).",
    ),
    "export": ("qwave.cli.export:export", "Export a model: model.keras, SavedModel, window.onnx, step.onnx."),
    "predict": ("qwave.cli.predict:predict", "Forecast with step.onnx in ONNX Runtime (optionally vs. the solver)."),
    "ablate": ("qwave.cli.insight:ablate", "Retrain without each curriculum part in turn; evaluate everywhere."),
    "probe": ("qwave.cli.insight:probe", "Probe a trained emulator: symmetries, locality, generalisation."),
    "report": ("qwave.cli.insight:report", "Assemble every insight experiment into report.md with figures."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from ``COMMANDS`` alone (importing every command would load TensorFlow)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qwave")
def main() -> None:
    """qwave: a neural emulator of 1D quantum dynamics, distilled from a Schroedinger solver.

    Reference implementation of Yao et al., "Emulating quantum dynamics with neural networks
    via knowledge distillation" (arXiv:2203.10200). Hartree atomic units throughout.
    """

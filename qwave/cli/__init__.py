"""The ``qwave`` command line: it parses, then calls library functions that the tests call too.

Each subcommand lives in its own module here, named in ``COMMANDS`` below.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute"; a subcommand's module is imported only when that command runs (or for
# --help), so `qwave simulate` and `qwave dataset` never load TensorFlow.
COMMANDS = {
    "simulate": "qwave.cli.simulate:simulate",
    "dataset": "qwave.cli.dataset:dataset",
    "train": "qwave.cli.train:train",
    "evaluate": "qwave.cli.evaluate:evaluate",
    "export": "qwave.cli.export:export",
    "predict": "qwave.cli.predict:predict",
    "ablate": "qwave.cli.insight:ablate",
    "probe": "qwave.cli.insight:probe",
    "report": "qwave.cli.insight:report",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qwave")
def main() -> None:
    """qwave: a neural emulator of 1D quantum dynamics, distilled from a Schroedinger solver.

    Reference implementation of Yao et al., "Emulating quantum dynamics with neural networks
    via knowledge distillation" (arXiv:2203.10200). Hartree atomic units throughout.
    """

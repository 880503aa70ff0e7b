"""The ``qwave`` command line: it parses, then calls library functions that the tests call too.

Each subcommand lives in its own module here and is registered on the group below.
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qwave")
def main() -> None:
    """qwave: a neural emulator of 1D quantum dynamics, distilled from a Schroedinger solver.

    Reference implementation of Yao et al., "Emulating quantum dynamics with neural networks
    via knowledge distillation" (arXiv:2203.10200). Hartree atomic units throughout.
    """


def _register() -> None:
    from qwave.cli.dataset import dataset
    from qwave.cli.simulate import simulate

    main.add_command(simulate)
    main.add_command(__import__("qwave.cli.train", fromlist=["train"]).train)
    main.add_command(__import__("qwave.cli.evaluate", fromlist=["evaluate"]).evaluate)
    main.add_command(dataset)
    main.add_command(__import__("qwave.cli.export", fromlist=["export"]).export)
    main.add_command(__import__("qwave.cli.predict", fromlist=["predict"]).predict)
    from qwave.cli.insight import ablate, probe, report

    main.add_command(ablate)
    main.add_command(probe)
    main.add_command(report)


_register()

"""The ``qwave`` command line: it parses, then calls library functions that the tests call too."""

from __future__ import annotations

import functools
import json
import sys
import warnings
from pathlib import Path

import click
import numpy as np

from qwave.errors import QwaveInputError
from qwave.grid import Grid


def _one_line_errors(fn):
    """Turn library input errors into click's one-line 'Error: ...' and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *a, **k: click.echo(f"Warning: {message}", err=True)
            try:
                return fn(*args, **kwargs)
            except QwaveInputError as exc:
                raise click.ClickException(str(exc)) from None

    return wrapper


def _floats(ctx, param, value: str) -> list[float]:
    try:
        return [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None


def _params(ctx, param, values: tuple[str, ...]) -> dict:
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            raise click.BadParameter(f"value of {key} is not a number or JSON list: {raw!r}") from None
    return out


def grid_options(fn):
    """--lx/--nx/--dt/--steps-per-frame/--frames, the grid of the paper by default."""
    defaults = Grid()
    for opt in reversed(
        [
            click.option("--lx", type=float, default=defaults.lx, show_default=True, help="Box length (bohr)."),
            click.option("--nx", type=int, default=defaults.nx, show_default=True, help="Number of cells (even)."),
            click.option("--dt", type=float, default=defaults.dt, show_default=True, help="Time step (a.u.)."),
            click.option(
                "--steps-per-frame", type=int, default=defaults.steps_per_frame, show_default=True,
                help="Solver steps between saved frames.",
            ),
            click.option(
                "--frames", type=int, default=defaults.n_frames, show_default=True,
                help="Saved frames, frame 0 being the initial state.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def make_grid(lx: float, nx: int, dt: float, steps_per_frame: int, frames: int) -> Grid:
    return Grid(lx=lx, nx=nx, dt=dt, steps_per_frame=steps_per_frame, n_frames=frames)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qwave")
def main() -> None:
    """qwave: a neural emulator of 1D quantum dynamics, distilled from a Schroedinger solver.

    Reference implementation of Yao et al., "Emulating quantum dynamics with neural networks
    via knowledge distillation" (arXiv:2203.10200). Hartree atomic units throughout.
    """


@main.command()
@click.option(
    "--potential", "potential_name", default="barrier", show_default=True,
    help="Potential by name: free, barrier, double, triple, staircase, semicircle, quadratic, "
    "triangle, trapezoid, well, random.",
)
@click.option(
    "-p", "--param", "params", multiple=True, callback=_params, metavar="KEY=VALUE",
    help="Potential parameter, repeatable, e.g. -p height=5 -p width=7. Without any, the family's example parameters.",
)
@click.option(
    "--potential-file", type=click.Path(dir_okay=False, path_type=Path),
    help="A .npy file with V on the grid (overrides --potential).",
)
@click.option("--x0", default="20", show_default=True, callback=_floats, help="Packet centre(s) X0 (bohr), comma-separated.")
@click.option("--s0", default="2", show_default=True, callback=_floats, help="Packet spread(s) S0 (bohr).")
@click.option("--e0", default="5", show_default=True, callback=_floats, help="Packet energy(ies) E0 (hartree).")
@click.option("--direction", type=click.Choice(["1", "-1"]), default="1", show_default=True, help="+1 moves right.")
@grid_options
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default="simulation.npz",
    show_default=True, help="Output .npz.",
)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Also draw Re psi over (x, t) to this PNG.")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
@_one_line_errors
def simulate(potential_name, params, potential_file, x0, s0, e0, direction, lx, nx, dt, steps_per_frame, frames, out, plot, quiet):
    """Run the teacher: Gaussian packets (every X0 x S0 x E0 combination) in one potential.

    Example: qwave simulate --potential barrier -p height=5 -p width=7 --x0 20 --e0 3,6 --plot run.png
    """
    from qwave import simulation
    from qwave.io import check_writable
    from qwave.potentials import EXAMPLES, check_potential, make_potential

    grid = make_grid(lx, nx, dt, steps_per_frame, frames)
    for path in (out, plot):
        if path is not None:
            check_writable(path)
    if potential_file is not None:
        if not potential_file.is_file():
            raise QwaveInputError(f"potential file {potential_file} does not exist")
        try:
            v = np.load(potential_file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise QwaveInputError(f"cannot read potential file {potential_file}: {exc}") from None
        v = check_potential(grid, v)
        potential_name, params = "array", {"file": str(potential_file)}
    else:
        params = params or dict(EXAMPLES.get(potential_name, {}))
        v = make_potential(potential_name, grid, **params)
    record = simulation.run(grid, v, x0, s0, e0, int(direction), progress=not quiet)
    simulation.save_run(out, record, potential_name, params)
    if plot is not None:
        from qwave.plots import save_spacetime

        panels = [
            (psi, v, f"X0={a:g} S0={b:g} E0={c:g}")
            for psi, a, b, c in zip(record["psi"][:6], record["x0"], record["s0"], record["e0"], strict=False)
        ]
        save_spacetime(plot, panels, grid)
    if not quiet:
        n = record["psi"].shape[0]
        norm_drift = float(np.abs(record["norm"] - 1).max())
        energy = record["energy"]
        energy_drift = float(np.abs(energy - energy[..., :1]).max())
        click.echo(
            f"{n} simulation(s), {grid.n_frames} frames -> {out}" + (f", {plot}" if plot else "")
            + f"; max |norm - 1| = {norm_drift:.1e}, max |E(t) - E(0)| = {energy_drift:.1e} hartree"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

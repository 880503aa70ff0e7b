"""``qwave simulate``: run the teacher and write a self-describing .npz (and a picture)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from qwave.cli.common import float_list, grid_options, key_values, make_grid, one_line_errors


@click.command()
@click.option(
    "--potential",
    "potential_name",
    default="barrier",
    show_default=True,
    help="Potential by name: free, barrier, double, triple, staircase, semicircle, quadratic, "
    "triangle, trapezoid, well, random.",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    callback=key_values,
    metavar="KEY=VALUE",
    help="Potential parameter, repeatable, e.g. -p height=5 -p width=7. Without any, the family's example parameters.",
)
@click.option(
    "--potential-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A .npy file with V on the grid (overrides --potential).",
)
@click.option(
    "--x0", default="20", show_default=True, callback=float_list, help="Packet centre(s) X0 (bohr), comma-separated."
)
@click.option("--s0", default="2", show_default=True, callback=float_list, help="Packet spread(s) S0 (bohr).")
@click.option("--e0", default="5", show_default=True, callback=float_list, help="Packet energy(ies) E0 (hartree).")
@click.option("--direction", type=click.Choice(["1", "-1"]), default="1", show_default=True, help="+1 moves right.")
@grid_options
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="simulation.npz",
    show_default=True,
    help="Output .npz.",
)
@click.option(
    "--plot", type=click.Path(dir_okay=False, path_type=Path), help="Also draw Re psi over (x, t) to this PNG."
)
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
@one_line_errors
def simulate(
    potential_name, params, potential_file, x0, s0, e0, direction, lx, nx, dt, steps_per_frame, frames, out, plot, quiet
):
    """Run the teacher: Gaussian packets (every X0 x S0 x E0 combination) in one potential.

    Example: qwave simulate --potential barrier -p height=5 -p width=7 --x0 20 --e0 3,6 --plot run.png
    """
    from qwave.io import check_writable
    from qwave.physics import simulation
    from qwave.physics.potentials import resolve_potential

    grid = make_grid(lx, nx, dt, steps_per_frame, frames)
    for path in (out, plot):
        if path is not None:
            check_writable(path)
    v, potential_name, params = resolve_potential(grid, potential_name, params, potential_file)
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
            f"{n} simulation(s), {grid.n_frames} frames -> {out}"
            + (f", {plot}" if plot else "")
            + f"; max |norm - 1| = {norm_drift:.1e}, max |E(t) - E(0)| = {energy_drift:.1e} hartree"
        )

"""``qwave predict``: forecast with an exported emulator in ONNX Runtime (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import click

from qwave.cli.common import float_list, key_values, one_line_errors


@click.command()
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    help="Export directory (metadata.json + rollout.onnx and/or step.onnx). Default: the shipped pretrained model.",
)
@click.option(
    "--stride",
    type=int,
    help="Require an export made with this stride (it is baked in at export; `qwave export --stride N`).",
)
@click.option("--no-rollout", is_flag=True, help="Loop step.onnx (one call per frame) even if rollout.onnx is there.")
@click.option(
    "--potential",
    "potential_name",
    default="barrier",
    show_default=True,
    help="Potential by name: free, barrier, double, triple, staircase, semicircle, quadratic, triangle, "
    "trapezoid, well, random (its example parameters unless -p is given).",
)
@click.option(
    "-p", "--param", "params", multiple=True, callback=key_values, metavar="KEY=VALUE", help="Potential parameter."
)
@click.option("--potential-file", type=click.Path(dir_okay=False, path_type=Path), help="V on the grid, .npy.")
@click.option("--x0", default="20", show_default=True, callback=float_list, help="Packet centre(s) X0 (bohr).")
@click.option("--s0", default="2", show_default=True, callback=float_list, help="Packet spread(s) S0 (bohr).")
@click.option("--e0", default="5", show_default=True, callback=float_list, help="Packet energy(ies) E0 (hartree).")
@click.option("--direction", type=click.Choice(["1", "-1"]), default="1", show_default=True, help="+1 moves right.")
@click.option(
    "--initial",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take the first frames and the potential from this .npz (e.g. from qwave simulate) instead of a packet.",
)
@click.option("--frames", type=int, default=400, show_default=True, help="Frames to forecast.")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="forecast.npz",
    show_default=True,
    help="Output .npz.",
)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Also draw Re psi over (x, t) here.")
@click.option("--compare", is_flag=True, help="Also run the solver and report/draw the difference.")
@click.option("--threads", type=int, default=2, show_default=True, help="ONNX Runtime intra-op threads.")
@click.option("--quiet", is_flag=True, help="No summary.")
@one_line_errors
def predict(
    model,
    stride,
    no_rollout,
    potential_name,
    params,
    potential_file,
    x0,
    s0,
    e0,
    direction,
    initial,
    frames,
    out,
    plot,
    compare,
    threads,
    quiet,
):
    """Forecast a Gaussian packet (or frames from a file) in ONNX Runtime: rollout.onnx, one call for the
    whole forecast, or else step.onnx, one call per frame.

    Example: qwave predict --potential double --x0 18 --e0 4 --frames 400 --compare --plot forecast.png
    """
    import numpy as np

    from qwave.deploy import predict as forecasting
    from qwave.emulator.metrics import valid_time
    from qwave.errors import QwaveInputError
    from qwave.export.forecaster import Forecaster
    from qwave.io import check_writable
    from qwave.physics.potentials import resolve_potential

    if frames < 1:
        raise QwaveInputError(f"--frames must be a positive integer, got {frames}")
    for path in (out, plot):
        if path is not None:
            check_writable(path)
    if initial is None:
        x0, s0, e0 = forecasting.packet_lists(x0, s0, e0)
    fc = Forecaster(forecasting.export_dir(model), threads=threads, use_rollout=not no_rollout, stride=stride)
    fc.check_n_frames(frames)
    v, name, used = None, "file", {"file": str(initial)}
    if initial is None:
        fc.check_n_frames(frames, len(x0))
        v, name, used = resolve_potential(fc.grid(), potential_name, params, potential_file)
    record = forecasting.predict(fc, v, x0, s0, e0, int(direction), frames, initial=initial, compare=compare)
    forecasting.save_prediction(out, record, name, used)
    if plot is not None:
        forecasting.plot_prediction(plot, record)
    if not quiet:
        n = record["psi"].shape[0]
        msg = (
            f"{n} case(s), {frames} frames in {record['seconds']:.2f} s ({n * frames / record['seconds']:.0f} "
            f"frames/s, {fc.engine}.onnx)"
        )
        if compare:
            corr = np.atleast_2d(record["corr"])
            at = sorted({k for k in (100, 200, 400) if k <= frames} | {frames})
            worst = "" if corr.shape[0] == 1 else " (worst case)"
            msg += f"; correlation with the solver{worst}: mean {corr.mean(1).min():.4f}, " + ", ".join(
                f"@{k} {corr[:, k - 1].min():.4f}" for k in at
            )
            for key, frame in valid_time(corr).items():
                msg += f", {key} at frame {frame}" if frame else f", never {key} in {frames} frames"
        click.echo(msg + f" -> {out}" + (f", {plot}" if plot else ""))

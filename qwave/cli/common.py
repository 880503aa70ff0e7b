"""Shared pieces of the ``qwave`` command line: error handling and option parsers."""

from __future__ import annotations

import functools
import json
import warnings

import click

from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid

TESTS_HELP = (
    "'curriculum:<config>' (simulated now), 'tfds:<config>' (built test splits), 'solver', or 'ood[:<config>]' "
    "(shapes and packets in no training split, simulated now)."
)


def one_line_errors(fn):
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


def float_list(ctx, param, value: str) -> list[float]:
    try:
        return [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None


def key_values(ctx, param, values: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs; VALUE is read as JSON (numbers, lists, true/false, null) and kept as text otherwise
    (``hyper=conv``), so that the library, which knows each key's type, names a wrong one."""
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
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
                "--steps-per-frame",
                type=int,
                default=defaults.steps_per_frame,
                show_default=True,
                help="Solver steps between saved frames.",
            ),
            click.option(
                "--frames",
                type=int,
                default=defaults.n_frames,
                show_default=True,
                help="Saved frames, frame 0 being the initial state.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def make_grid(lx: float, nx: int, dt: float, steps_per_frame: int, frames: int) -> Grid:
    return Grid(lx=lx, nx=nx, dt=dt, steps_per_frame=steps_per_frame, n_frames=frames)


def rollout_options(batch: bool = True):
    """--sigma/--stride/--renormalize/--v-clip (and --batch) collected into one ``rollout`` keyword, a
    :class:`~qwave.emulator.options.RolloutOptions`.  Place it directly above the function (below
    ``one_line_errors``) so bad values get the one-line error."""
    from qwave.emulator.options import DEFAULT_ROLLOUT as d

    opts = [
        click.option("--sigma", type=float, default=d.sigma, show_default=True, help="Blending width (cells)."),
        click.option("--stride", type=int, default=d.stride, show_default=True, help="Cells between window centres."),
        click.option(
            "--renormalize/--no-renormalize",
            default=d.renormalize,
            show_default=True,
            help="Rescale each forecast frame to the last input frame's norm.",
        ),
        click.option(
            "--v-clip",
            type=float,
            default=d.v_clip,
            show_default=True,
            help="Clamp V/v_scale to [-v_clip, v_clip]; 0 disables the clamp.",
        ),
    ]
    if batch:
        opts.append(click.option("--batch", type=int, default=d.batch, show_default=True, help="Cases per batch."))

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            from qwave.emulator.options import RolloutOptions

            v_clip = kwargs.pop("v_clip")
            kwargs["rollout"] = RolloutOptions(
                sigma=kwargs.pop("sigma"),
                stride=kwargs.pop("stride"),
                renormalize=kwargs.pop("renormalize"),
                v_clip=None if v_clip == 0 else v_clip,
                batch=kwargs.pop("batch") if batch else d.batch,
            )
            return fn(*args, **kwargs)

        for opt in reversed(opts):
            wrapper = opt(wrapper)
        return wrapper

    return decorate

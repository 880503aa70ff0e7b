"""Runs of the teacher as self-describing records: parameters, potential, trajectory, observables.

The ``.npz`` layout written by :func:`save_run` is what every later command reads back:
``psi`` complex (frames, nx) for one packet or (n, frames, nx) for several, ``potential`` (nx,),
``x`` (nx,), ``t`` (frames,), the packet parameters ``x0``, ``s0``, ``e0``, ``direction`` (n,),
the grid (``lx``, ``nx``, ``dt``, ``steps_per_frame``), ``potential_name`` and
``potential_params`` (JSON), and one array per observable shaped like ``psi`` without its last axis.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np

from qwave.errors import QwaveInputError
from qwave.io import save_npz
from qwave.physics.grid import Grid
from qwave.physics.observables import observables
from qwave.physics.packets import gaussian_packets
from qwave.physics.solver import simulate


def run(
    grid: Grid,
    potential: np.ndarray,
    x0: list[float],
    s0: list[float],
    e0: list[float],
    direction: int = 1,
    n_frames: int | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Simulate every (X0, S0, E0) combination of the given lists in one potential."""
    combos = list(itertools.product(x0, s0, e0))
    if not combos:
        raise QwaveInputError("no packets to simulate: X0, S0 and E0 each need at least one value")
    xs, ss, es = (np.array(c, dtype=np.float64) for c in zip(*combos, strict=True))
    psi0 = gaussian_packets(grid, xs, ss, es, direction)
    psi = simulate(psi0, potential, grid, n_frames=n_frames, progress=progress)
    n_frames = psi.shape[1]
    record = {
        "psi": psi,
        "potential": np.asarray(potential, dtype=np.float64),
        "x": grid.x,
        "t": np.arange(n_frames) * grid.frame_dt,
        "x0": xs,
        "s0": ss,
        "e0": es,
        "direction": np.full(len(xs), direction),
        "lx": np.float64(grid.lx),
        "nx": np.int64(grid.nx),
        "dt": np.float64(grid.dt),
        "steps_per_frame": np.int64(grid.steps_per_frame),
    }
    record.update(observables(psi, potential, grid))
    return record


def save_run(path: str | os.PathLike, record: dict, potential_name: str, potential_params: dict) -> Path:
    """Write a run atomically; a single packet is stored without its batch axis."""
    out = dict(record)
    if out["psi"].shape[0] == 1:
        for key in ("psi", "norm", "energy", "mean_x", "transmitted", "reflected"):
            out[key] = out[key][0]
    out["potential_name"] = np.array(potential_name)
    out["potential_params"] = np.array(json.dumps(potential_params, sort_keys=True))
    return save_npz(path, **out)


def load_run(path: str | os.PathLike) -> dict:
    """Read a run written by :func:`save_run`, with its grid rebuilt as ``record['grid']``."""
    path = Path(path)
    if not path.is_file():
        raise QwaveInputError(f"no such simulation file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            record = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise QwaveInputError(f"{path} is not a qwave simulation .npz ({exc})") from None
    missing = {"psi", "potential", "x", "t", "lx", "nx", "dt", "steps_per_frame"} - set(record)
    if missing:
        raise QwaveInputError(f"{path} is not a qwave simulation file: missing {', '.join(sorted(missing))}")
    record["grid"] = Grid(
        lx=float(record["lx"]),
        nx=int(record["nx"]),
        dt=float(record["dt"]),
        steps_per_frame=int(record["steps_per_frame"]),
        n_frames=len(record["t"]),
    )
    record["potential_params"] = json.loads(str(record.get("potential_params", "{}")))
    return record

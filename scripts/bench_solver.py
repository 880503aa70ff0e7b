"""Solver benchmark: qwave's propagator against the plain per-step scheme, side by side.

(a) 27 packets sharing one barrier (the curriculum's situation), (b) one lone simulation.
Both implementations run in this process on the same inputs; the script prints wall time,
CPU time / wall time (> 1 means both cores are busy), their ratio and the max difference.
qwave's time is the fastest of ``--repeat`` runs (a busy machine stalls single runs); the plain
implementation runs once (about a minute).

    python scripts/bench_solver.py            # the paper's 501 frames (~1 minute)
    python scripts/bench_solver.py --frames 51
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np

from qwave.physics.grid import Grid
from qwave.physics.packets import gaussian_packets
from qwave.physics.potentials import barrier
from qwave.physics.reference import simulate_stepwise
from qwave.physics.solver import _cached_propagator, simulate


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    wall = time.perf_counter() - wall
    return out, wall, (time.process_time() - cpu) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=501)
    parser.add_argument("--repeat", type=int, default=3, help="qwave runs per case; the fastest counts")
    args = parser.parse_args()
    grid = Grid(n_frames=args.frames)
    v = barrier(grid, 5.0, 7.0)
    combos = np.array(list(itertools.product([10.0, 40.0, 70.0], [1.0, 2.5, 4.0], [1.0, 5.0, 9.0])))
    batch = gaussian_packets(grid, combos[:, 0], combos[:, 1], combos[:, 2])
    print(f"grid: NX={grid.nx}, {grid.n_frames} frames x {grid.steps_per_frame} steps, {os.cpu_count()} cores")
    columns = ("plain (s)", "cpu/wall", "qwave (s)", "cpu/wall", "speed-up", "max |diff|")
    print(f"{'case':<28}" + "".join(f"{c:>11}" for c in columns))
    for label, psi0 in (("(a) 27 packets, one barrier", batch), ("(b) one lone simulation", batch[13])):
        runs = []
        for _ in range(args.repeat):
            _cached_propagator.cache_clear()  # qwave pays for building its propagator every time
            runs.append(timed(lambda psi0=psi0: simulate(psi0, v, grid)))
        fast, t_fast, u_fast = min(runs, key=lambda run: run[1])
        slow, t_slow, u_slow = timed(lambda psi0=psi0: simulate_stepwise(psi0, v, grid))
        diff = float(np.abs(fast - slow).max())
        ratio = t_slow / t_fast
        cells = (f"{t_slow:.2f}", f"{u_slow:.2f}", f"{t_fast:.2f}", f"{u_fast:.2f}", f"{ratio:.1f}x", f"{diff:.1e}")
        print(f"{label:<28}" + "".join(f"{c:>11}" for c in cells))


if __name__ == "__main__":
    main()

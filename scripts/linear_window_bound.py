"""How well can a window emulator forecast free propagation, and what makes it stable?

Fits the least-squares-optimal *linear* window model (complex, n_in frames x 23 cells -> 23 cells) to
free-packet trajectories, with a ridge term lam * mean(diag(X^H X)), then forecasts 400 frames with the
paper's whole-box Gaussian blending and prints the correlation with the solver.  The TDSE is linear,
so this is the best any window model can do on free packets; the ridge (equivalently, noise on the
input frames) is what keeps the recursive forecast from blowing up.

    python scripts/linear_window_bound.py
"""

from __future__ import annotations

import itertools

import numpy as np

from qwave.emulator.metrics import correlation
from qwave.physics.grid import Grid
from qwave.physics.packets import gaussian_packets
from qwave.physics.solver import simulate

WINDOW, SIGMA, N_STEPS = 23, 2.8, 400


def fit(psi: np.ndarray, n_in: int, lam: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Ridge least squares A with next(window) = [frames(window)] @ A, from n random windows of psi (S, T, NX)."""
    s, t, nx = psi.shape
    half = WINDOW // 2
    sim, t0, c = rng.integers(0, s, n), rng.integers(0, t - n_in, n), rng.integers(0, nx, n)
    cells = (c[:, None] + np.arange(-half, half + 1)) % nx
    x = psi[sim[:, None, None], t0[:, None, None] + np.arange(n_in)[None, :, None], cells[:, None, :]].reshape(n, -1)
    y = psi[sim[:, None], (t0 + n_in)[:, None], cells]
    gram = x.conj().T @ x
    ridge = lam * np.trace(gram).real / len(gram)
    return np.linalg.solve(gram + ridge * np.eye(len(gram)), x.conj().T @ y)


def forecast(a: np.ndarray, start: np.ndarray, n_steps: int) -> np.ndarray:
    """Whole-box recursive forecast from start (n_in, NX) with Gaussian-blended window predictions."""
    n_in, nx = start.shape
    half = WINDOW // 2
    idx = (np.arange(nx)[:, None] + np.arange(-half, half + 1)) % nx
    w = np.exp(-((np.arange(WINDOW) - half) ** 2) / (2 * SIGMA**2))
    frames = list(start)
    for _ in range(n_steps):
        pred = np.stack(frames[-n_in:])[:, idx].transpose(1, 0, 2).reshape(nx, -1) @ a
        nxt = np.zeros(nx, complex)
        np.add.at(nxt, idx, pred * w)
        frames.append(nxt / w.sum())
    return np.array(frames[n_in:])


def main() -> None:
    grid = Grid(n_frames=N_STEPS + 5)
    rng = np.random.default_rng(0)
    x0, s0, e0 = map(
        np.array, zip(*itertools.product([10.0, 40.0, 70.0], [1.0, 2.0, 3.0, 4.0], [1, 3, 5, 7, 9]), strict=True)
    )
    train = simulate(gaussian_packets(grid, x0, s0, e0), np.zeros(grid.nx), grid)
    cases = [(20.0, 2.0, 5.0), (30.0, 1.5, 8.0), (60.0, 3.0, 2.0)]
    truth = simulate(gaussian_packets(grid, *map(np.array, zip(*cases, strict=True))), np.zeros(grid.nx), grid)
    print("free packets (X0, S0, E0): " + ", ".join(str(c) for c in cases))
    print(f"{'n_in':>4} {'ridge':>7} {'1-step rel. err':>16}   correlation at frame 400 per case")
    for n_in in (1, 2, 4):
        for lam in (1e-8, 1e-6, 1e-4):
            a = fit(train, n_in, lam, 150_000, rng)
            corr = []
            with np.errstate(all="ignore"):
                for tr in truth:
                    pred = forecast(a, tr[:n_in], N_STEPS)
                    corr.append(float(np.nan_to_num(correlation(tr[n_in - 1 + N_STEPS], pred[-1]))))
            x_check = train[:, 10 : 10 + n_in, :]
            err = np.linalg.norm(forecast(a, x_check[0], 1)[0] - train[0, 10 + n_in]) / np.linalg.norm(
                train[0, 10 + n_in]
            )
            print(f"{n_in:>4} {lam:>7.0e} {err:>16.1e}   " + "  ".join(f"{c:.4f}" for c in corr))


if __name__ == "__main__":
    main()

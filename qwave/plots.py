"""Pictures physicists look at first: the space-time map of Re psi with the potential overlaid."""

from __future__ import annotations

import os

import numpy as np

from qwave.io import atomic_path
from qwave.physics.grid import Grid


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def spacetime(ax, psi: np.ndarray, v: np.ndarray, grid: Grid, title: str = "") -> None:
    """Re psi over (x, t) with V(x) drawn on a twin axis; ``psi`` is (frames, nx)."""
    t_end = (psi.shape[0] - 1) * grid.frame_dt
    lim = float(np.abs(psi.real).max()) or 1.0
    ax.imshow(
        psi.real,
        aspect="auto",
        origin="lower",
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        extent=(grid.x[0], grid.x[-1], 0.0, t_end),
        interpolation="nearest",
    )
    ax.set_xlabel("x (bohr)")
    ax.set_ylabel("t (a.u.)")
    if title:
        ax.set_title(title, fontsize=9)
    if np.any(v):
        twin = ax.twinx()
        twin.plot(grid.x, v, color="k", lw=1.0)
        twin.set_ylabel("V (hartree)")
        span = max(float(np.abs(v).max()), 1e-12)
        twin.set_ylim(min(-0.1 * span, 1.1 * float(v.min())), 3 * span)


def save_spacetime(path: str | os.PathLike, panels: list[tuple[np.ndarray, np.ndarray, str]], grid: Grid) -> None:
    """One PNG with a space-time panel per (psi, potential, title), written atomically."""
    plt = _pyplot()
    n = len(panels)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.6 * rows), squeeze=False)
    for ax, (psi, v, title) in zip(axes.flat, panels, strict=False):
        spacetime(ax, psi, v, grid, title)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

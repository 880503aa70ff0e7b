"""Which input frames and cells a prediction depends on: gradient saliency over the window.

For each output cell j and input cell i, the mean over probe windows of |d y_j / d x_i| (summed
over the Re/Im outputs and the Re/Im inputs) is gathered by the offset i - j, per input frame.
Physics bounds how far that dependence can reach: a component of wave number k moves k * dt_frame
bohr per frame, so frame ``lag`` frames back can matter only within (lag + 1) * k_max * frame_dt
/ dx cells, k_max being the packet's fastest relevant wave number.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from qwave.insight.probes import ProbeWindows
from qwave.physics.grid import Grid


def saliency(model, probes: ProbeWindows, batch: int = 256) -> np.ndarray:
    """Mean |Jacobian| by (input frame, offset i - j): float64 (n_in, 2W - 1), offsets -(W-1)..W-1."""
    x_all = probes.inputs()
    n_in, w = x_all.shape[1], x_all.shape[2]
    total = np.zeros((n_in, 2 * w - 1))
    counts = np.zeros(2 * w - 1)
    for j in range(w):
        counts[np.arange(w) - j + w - 1] += 1
    for start in range(0, len(x_all), batch):
        x = tf.constant(x_all[start : start + batch])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x, training=False)
        jac = tape.batch_jacobian(y, x)  # (B, W, 2, n_in, W, 3)
        mag = tf.reduce_sum(tf.abs(jac[..., :2]), axis=[2, 5])  # (B, W_out, n_in, W_in)
        mag = tf.reduce_sum(mag, 0).numpy()
        for j in range(w):
            total[:, np.arange(w) - j + w - 1] += mag[j]
    return total / (counts[None, :] * len(x_all))


def frame_shares(sal: np.ndarray) -> np.ndarray:
    """Fraction of the total saliency carried by each input frame (oldest first)."""
    per_frame = sal.sum(1)
    return per_frame / per_frame.sum()


def reach_cells(sal: np.ndarray, fraction: float = 0.9) -> np.ndarray:
    """Per input frame, the smallest |offset| (cells) holding ``fraction`` of that frame's saliency."""
    w = (sal.shape[1] + 1) // 2
    offsets = np.abs(np.arange(sal.shape[1]) - (w - 1))
    out = []
    for row in sal:
        cum = np.array([row[offsets <= r].sum() for r in range(w)]) / max(row.sum(), 1e-300)
        out.append(int(np.argmax(cum >= fraction)))
    return np.array(out)


def physical_reach(grid: Grid, e_max: float, s0_min: float) -> float:
    """Cells per frame covered by the packet's fastest relevant component, k_max = sqrt(2 E_max) + 3 / (2 S0_min)."""
    k_max = math.sqrt(2 * e_max) + 3 / (2 * s0_min)
    return k_max * grid.frame_dt / grid.dx


def plot_saliency(path, sal: np.ndarray, reach: float) -> None:
    """Saliency against offset, one curve per input frame, with the physical reach per lag marked."""
    from qwave.io import atomic_path
    from qwave.plots import _pyplot

    plt = _pyplot()
    n_in, width = sal.shape
    w = (width + 1) // 2
    offsets = np.arange(width) - (w - 1)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for f in range(n_in):
        lag = n_in - 1 - f
        line = ax.semilogy(offsets, sal[f] + 1e-12, label=f"frame t-{lag}")[0]
        r = (lag + 1) * reach
        if r < w:
            ax.axvline(r, color=line.get_color(), ls=":", lw=0.8)
            ax.axvline(-r, color=line.get_color(), ls=":", lw=0.8)
    ax.set_xlabel("input cell - output cell")
    ax.set_ylabel("mean |d output / d input|")
    ax.set_title("saliency by input frame (dotted: physical reach of the fastest components)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

"""Generalisation map: forecast fidelity at the last frame over (E0, BH) and over barrier width.

Packets start left of a rectangular barrier centred in the box, as the paper's test cases do; the
grid of energies, heights and widths may reach beyond the curriculum's ranges on purpose.
"""

from __future__ import annotations

import numpy as np

from qwave.emulator.metrics import correlation
from qwave.emulator.options import RolloutOptions
from qwave.errors import QwaveInputError
from qwave.physics.grid import PAPER_GRID, Grid
from qwave.physics.packets import gaussian_packets
from qwave.physics.potentials import barrier
from qwave.physics.solver import simulate


def _cases(grid: Grid, v: np.ndarray, x0: float, s0: float, energies, n_frames: int) -> list[dict]:
    psi = simulate(gaussian_packets(grid, x0, s0, np.asarray(energies, float)), v, grid, n_frames=n_frames)
    return [{"psi": np.stack([p.real, p.imag], -1).astype(np.float32), "potential": v.astype(np.float32)} for p in psi]


def generalisation_map(
    model,
    v_scale: float,
    energies,
    heights,
    widths,
    grid: Grid = PAPER_GRID,
    x0: float = 15.0,
    s0: float = 2.0,
    width: float = 7.0,
    energy: float = 5.0,
    height: float = 5.0,
    n_steps: int = 400,
    stride: int = 1,
) -> dict:
    """Correlation at the last forecast frame: ``eh`` (len(energies), len(heights)) at ``width``, and
    ``w`` (len(widths),) at (``energy``, ``height``)."""
    from qwave.emulator.evaluate import forecast_cases

    if n_steps < 1:
        raise QwaveInputError(f"the forecast needs >= 1 frame, got {n_steps}")
    for what, values in (("energies", energies), ("heights", heights), ("widths", widths)):
        if len(values) == 0:
            raise QwaveInputError(f"the generalisation map needs at least one of {what}")
    n_frames = model.n_in + n_steps
    eh_cases = [c for h in heights for c in _cases(grid, barrier(grid, h, width), x0, s0, energies, n_frames)]
    w_cases = [c for bw in widths for c in _cases(grid, barrier(grid, height, bw), x0, s0, [energy], n_frames)]
    cases = eh_cases + w_cases
    pred = forecast_cases(model, cases, v_scale, n_steps, RolloutOptions(stride=stride))
    truth = np.stack([c["psi"][model.n_in - 1 + n_steps] for c in cases])
    corr = correlation(truth, pred[:, -1])
    n_eh = len(eh_cases)
    return {
        "energies": [float(e) for e in energies],
        "heights": [float(h) for h in heights],
        "widths": [float(w) for w in widths],
        "eh": corr[:n_eh].reshape(len(heights), len(energies)).T.tolist(),
        "w": corr[n_eh:].tolist(),
        "frame": n_steps,
        "fixed": {"x0": x0, "s0": s0, "width": width, "energy": energy, "height": height},
    }


def plot_map(path, result: dict, e_range: tuple[float, float], h_range: tuple[float, float], w_train: float) -> None:
    """Heat map over (E0, BH) with the curriculum's box, and correlation against width."""
    from qwave.io import atomic_path
    from qwave.plots import _pyplot

    plt = _pyplot()
    e, h, eh = np.array(result["energies"]), np.array(result["heights"]), np.array(result["eh"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    im = a.pcolormesh(h, e, eh, vmin=max(0.0, float(eh.min())), vmax=1.0, cmap="viridis", shading="nearest")
    fig.colorbar(im, ax=a, label=f"correlation at frame {result['frame']}")
    a.add_patch(
        plt.Rectangle(
            (h_range[0], e_range[0]), h_range[1] - h_range[0], e_range[1] - e_range[0], fill=False, ec="w", ls="--"
        )
    )
    a.set_xlabel("barrier height BH (hartree)")
    a.set_ylabel("packet energy E0 (hartree)")
    a.set_title(f"BW = {result['fixed']['width']:g}; dashed: curriculum range", fontsize=9)
    b.plot(result["widths"], result["w"], "o-")
    b.axvline(w_train, color="k", ls=":", label="training width")
    b.set_xlabel("barrier width BW (bohr)")
    b.set_ylabel(f"correlation at frame {result['frame']}")
    b.set_title(f"E0 = {result['fixed']['energy']:g}, BH = {result['fixed']['height']:g}", fontsize=9)
    b.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

"""Relative importance of physical processes: retrain without one curriculum part, test everywhere.

Every variant trains the same model with the same budget and seeds on a subset of the curriculum:
``all`` (reference), ``no_<stage>`` for each stage (free propagation, over-barrier transmission,
tunnelling, reflection), ``narrow_heights`` (heights restricted to the paper's demo grid: landscapes
whose top is within 0.5 hartree of BH = 2, 5 or 10, plus free and wells), ``low_energy`` (E0 <= 5
hartree only) and ``no_augmentation`` (all data, no mirror/phase augmentation -- does teaching the
symmetries help?).  ``schedule:<name>`` and ``model:<name>`` variants train on all data with another
curriculum schedule or another model (the schedule and model comparisons, under the same budget).
Results are the test-family mean correlations per (variant, seed), saved after every run so an
interrupted ablation resumes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qwave.curriculum import SCHEDULES, STAGES
from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid

if TYPE_CHECKING:
    from qwave.data.trajectories import Trajectories

VARIANTS = ("all", *(f"no_{s}" for s in STAGES), "narrow_heights", "low_energy", "no_augmentation")
SCHEDULE_VARIANTS = tuple(f"schedule:{name}" for name in SCHEDULES)
"""All data, trained with another curriculum schedule: the schedule comparison under the ablation's budget."""
DEMO_HEIGHTS = (2.0, 5.0, 10.0)
NARROW_BAND = 0.5  # hartree
LOW_ENERGY = 5.0  # hartree


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS + SCHEDULE_VARIANTS and not variant.startswith("model:"):
        raise QwaveInputError(
            f"unknown ablation variant {variant!r}; choose from {', '.join(VARIANTS + SCHEDULE_VARIANTS)} "
            "or model:<name>"
        )


def check_variants(variants: Sequence[str]) -> list[str]:
    """The variants, each a known name (``model:<name>`` naming a qwave model), at least one."""
    variants = list(variants)
    if not variants:
        raise QwaveInputError("no ablation variant given")
    for variant in variants:
        _check_variant(variant)
        if variant.startswith("model:"):
            from qwave.emulator.models import MODELS

            if variant.removeprefix("model:") not in MODELS:
                raise QwaveInputError(f"ablation variant {variant!r}: unknown model; choose one of {', '.join(MODELS)}")
    return variants


def select(traj: Trajectories, variant: str) -> Trajectories:
    """The training simulations a variant keeps."""
    _check_variant(variant)
    keep = np.ones(len(traj.stage), bool)
    if variant.startswith("no_") and variant.removeprefix("no_") in traj.stages:
        keep = traj.stage != traj.stages.index(variant.removeprefix("no_"))
    elif variant == "narrow_heights":
        top = traj.potential.max(axis=1) * traj.v_scale
        near = np.min(np.abs(top[:, None] - np.array(DEMO_HEIGHTS)[None, :]), axis=1) <= NARROW_BAND
        keep = (top <= 0) | near
    elif variant == "low_energy":
        if traj.e0 is None:
            raise QwaveInputError("the low_energy variant needs the packets' E0 in the trajectories")
        keep = traj.e0 <= LOW_ENERGY
    return traj.subset(keep)


def run_ablation(
    traj: Trajectories,
    families: dict[str, Sequence[dict]],
    base,
    out_dir: str | os.PathLike,
    variants: Sequence[str] = VARIANTS,
    seeds: Sequence[int] = (0, 1, 2),
    n_steps: int = 400,
    probes=None,
    progress: bool = False,
) -> dict:
    """Train every (variant, seed) with ``base`` (a TrainConfig) and evaluate on ``families``.

    Writes ``settings.json`` (budget), ``results.json`` after each run: {variant: {seed: {family: mean
    corr}}}, and each run's directory ``<variant>/seed<k>``.  Finished runs are skipped on a rerun.
    """
    from qwave.emulator.evaluate import evaluate
    from qwave.emulator.training import train, write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    nx = int(traj.shape[2])
    grid = Grid(nx=nx)
    settings = {
        "steps": base.steps,
        "frames": n_steps,
        "cases_per_family": min(len(c) for c in families.values()),
        "model": base.model,
        "training_sims": traj.n_sims,
    }
    write_json(out / "settings.json", settings)
    # seed-major: an interrupted ablation has every variant at the first seeds
    plan = [(v, s) for s in seeds for v in variants if str(s) not in results.get(v, {})]
    if progress:
        from tqdm.auto import tqdm

        plan = tqdm(plan, desc="ablation runs", unit="run")
    for variant, seed in plan:
        kept = select(traj, variant)
        if not kept.n_sims:
            raise QwaveInputError(f"ablation variant {variant!r} leaves no training examples")
        cfg = dataclasses.replace(base, seed=int(seed))
        if variant == "no_augmentation":
            cfg = dataclasses.replace(cfg, phase=False, mirror=False)
        if variant in SCHEDULE_VARIANTS:
            cfg = dataclasses.replace(cfg, schedule=variant.removeprefix("schedule:"))
        if variant.startswith("model:"):
            cfg = dataclasses.replace(cfg, model=variant.removeprefix("model:"), model_kwargs={})
        run_dir = out / variant.replace(":", "_") / f"seed{seed}"
        callbacks = []
        if probes is not None:
            from qwave.insight.tracking import SymmetryTracker

            callbacks.append(SymmetryTracker(probes, run_dir / "symmetry_history.json"))
        if (run_dir / "checkpoint.keras").exists() and not (run_dir / "model.keras").exists():
            model = train(cfg, run_dir, resume=True, verbose=0, traj=kept, extra_callbacks=callbacks)
        else:
            model = train(cfg, run_dir, verbose=0, traj=kept, extra_callbacks=callbacks)
        del kept
        rows = evaluate(model, families, traj.v_scale, grid, n_steps=n_steps)["rows"]
        del model
        _release()  # one variant's data (and its TF copy) in memory at a time
        results.setdefault(variant, {})[str(seed)] = {f: r["mean_corr"] for f, r in rows.items()}
        write_json(results_path, results)
    return results


def _release() -> None:
    """Free the finished run's graphs, pipelines and their TF copies of the data (held in reference cycles)."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def summarize(results: dict) -> dict:
    """{variant: {family: (mean, std over seeds)}} and the drop against ``all``."""
    table = {}
    for variant, by_seed in results.items():
        families = next(iter(by_seed.values())).keys()
        table[variant] = {
            f: (float(np.mean([r[f] for r in by_seed.values()])), float(np.std([r[f] for r in by_seed.values()])))
            for f in families
        }
    return table


def format_summary(table: dict) -> str:
    """Markdown: rows variants, columns families, 'mean ± std' of the mean correlation."""
    variants = list(table)
    families = list(table[variants[0]])
    lines = ["| variant | " + " | ".join(families) + " |", "|---" * (len(families) + 1) + "|"]
    for v in variants:
        cells = (f"{m:.4f} ± {s:.4f}" for m, s in (table[v][f] for f in families))
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_drops(path, table: dict) -> None:
    """Heat map: variant x family -> mean correlation minus that of ``all`` (negative: the part mattered)."""
    from qwave.io import atomic_path
    from qwave.plots import _pyplot

    if "all" not in table or len(table) < 2:
        raise QwaveInputError("the ablation heat map needs the 'all' variant as reference and at least one other")
    plt = _pyplot()
    variants = [v for v in table if v != "all"]
    families = list(table["all"])
    drop = np.array([[table[v][f][0] - table["all"][f][0] for f in families] for v in variants])
    spread = np.array([[np.hypot(table[v][f][1], table["all"][f][1]) for f in families] for v in variants])
    lim = max(float(np.abs(drop).max()), 1e-6)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(families), 0.9 + 0.45 * len(variants)))
    im = ax.imshow(drop, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(len(variants)):
        for j in range(len(families)):
            mark = "*" if abs(drop[i, j]) > 2 * spread[i, j] else ""
            ax.text(j, i, f"{drop[i, j]:+.3f}{mark}", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(families)), families, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(variants)), variants, fontsize=8)
    fig.colorbar(im, ax=ax, label="change in mean correlation vs. all")
    ax.set_title("curriculum ablation (* : beyond 2 sigma of the seed spread)", fontsize=9)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

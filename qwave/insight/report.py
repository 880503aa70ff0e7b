"""``qwave report``: evaluation, symmetry, locality, generalisation and ablation in one Markdown document.

Every number in the report is measured by this module when it runs; the paper's published figures
are quoted beside them for comparison, and the conclusions printed are only those the numbers pass
(each with the test it passed).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid

# The published code's stored evaluation (PAPER.md): full-gru correlation at frame 400 per family.
PAPER_AT_400 = {
    "barrier": 0.9924,
    "double": 0.9925,
    "triple": 0.990,
    "staircase": 0.994,
    "semicircle": 0.978,
    "quadratic": 0.9615,
    "trapezoid": 0.990,
    "triangle": 0.9945,
    "well": 0.9945,
    "random": 0.969,
    "overall": 0.9887,
}
PAPER_MEAN = {"barrier": 0.9970, "overall": 0.9959}


@dataclasses.dataclass(frozen=True)
class Budget:
    """Compute budget of every experiment in the report (kept explicit, printed in the report)."""

    cases_per_family: int = 12
    frames: int = 400
    probe_windows: int = 1024
    map_energies: tuple[float, ...] = (1.5, 3.0, 4.5, 6.0, 7.5, 9.0, 11.0)
    map_heights: tuple[float, ...] = (1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 16.0)
    map_widths: tuple[float, ...] = (2.0, 4.0, 7.0, 12.0, 18.0, 24.0)
    ablation_steps: int = 20_000
    ablation_seeds: tuple[int, ...] = (0, 1, 2)
    ablation_cases_per_family: int = 3
    ablation_frames: int = 400


QUICK = Budget(
    cases_per_family=2,
    frames=400,
    probe_windows=256,
    map_energies=(2.0, 6.0, 10.0),
    map_heights=(2.0, 8.0, 15.0),
    map_widths=(3.0, 7.0, 20.0),
    ablation_steps=200,
    ablation_seeds=(0, 1, 2),
    ablation_cases_per_family=1,
    ablation_frames=50,
)


def load_run_model(path: str | os.PathLike):
    """(model, v_scale, {"train": training options, "ranges": ...}) of a training run directory or a .keras file in one
    (:func:`qwave.deploy.export.load_source` resolves and checks it); the experiments retrain with its options."""
    from qwave.emulator.artefacts import load_source

    src = load_source(path)
    if src.train_config is None:
        raise QwaveInputError(f"no training config.json beside {src.keras_path}: give a training run directory")
    config = {"train": src.train_config}
    recorded = src.keras_path.parent / "config.json"
    if recorded.is_file():  # the curriculum's E0 / height ranges, when the run recorded them
        config["ranges"] = json.loads(recorded.read_text()).get("ranges") or {}
    return src.model, src.v_scale, config


def _fmt(x: float) -> str:
    return "–" if np.isnan(x) else f"{x:.4f}"


def _eval_section(rows: dict) -> list[str]:
    lines = [
        "| family | mean corr | corr@100 | corr@200 | corr@400 | paper corr@400 | max norm drift |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, row in rows.items():
        paper = PAPER_AT_400.get(family)
        lines.append(
            f"| {family} | {_fmt(row['mean_corr'])} | {_fmt(row.get('corr@100', np.nan))} | "
            f"{_fmt(row.get('corr@200', np.nan))} | {_fmt(row.get('corr@400', np.nan))} | "
            f"{'' if paper is None else paper} | {row['norm_drift']:.2e} |"
        )
    return lines


def build_report(
    run_dir: str | os.PathLike,
    tests: str,
    train_source: str | None,
    out_dir: str | os.PathLike | None = None,
    budget: Budget = Budget(),
    data_dir: str | None = None,
    ablation_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Run every experiment within ``budget`` and write ``report.md`` with its figures; returns its path."""
    from qwave.data.sources import check_training_data, held_out_examples, held_out_grid
    from qwave.emulator.evaluate import evaluate, save_report
    from qwave.emulator.training import TrainConfig
    from qwave.insight import ablation, generalisation, locality, symmetry
    from qwave.insight.probes import initial_frames, sample_windows
    from qwave.io import atomic_path, check_output_dir

    # Everything that can fail does so here, before the first experiment and before anything is written.
    model, v_scale, config = load_run_model(run_dir)
    run_path = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
    out = check_output_dir(Path(out_dir) if out_dir else run_path / "report")
    if train_source is not None:
        check_training_data(train_source, data_dir, n_in=model.n_in)
    elif ablation_dir is not None and not (Path(ablation_dir) / "results.json").is_file():
        raise QwaveInputError(f"{ablation_dir} holds no results.json: not an ablation directory from `qwave ablate`")
    test_grid = held_out_grid(tests, data_dir)
    if test_grid.n_frames < model.n_in + 1:
        raise QwaveInputError(f"{tests} cases have {test_grid.n_frames} frames: too few to forecast from {model.n_in}")
    started = time.time()
    families = held_out_examples(tests, budget.cases_per_family, data_dir)
    out.mkdir(parents=True, exist_ok=True)
    nx = int(np.asarray(next(iter(families.values()))[0]["psi"]).shape[1])
    grid = Grid(nx=nx)
    n_frames = int(np.asarray(next(iter(families.values()))[0]["psi"]).shape[0])
    frames = min(budget.frames, n_frames - model.n_in)
    lines = [
        "# qwave report",
        "",
        f"Model: `{Path(run_dir)}` ({config['train']['model']}, {model.count_params():,} parameters), "
        f"V scale {v_scale:g}. Test cases: `{tests}`, {budget.cases_per_family} per family, {frames}-frame forecasts.",
        "",
        "## Forecast fidelity on the test families",
        "",
    ]
    result = evaluate(model, families, v_scale, grid, n_steps=frames, progress=progress)
    save_report(result, out / "eval", grid, model.n_in)
    rows = result["rows"]
    lines += _eval_section(rows)
    lines += [
        "",
        "Paper: the published full-grid GRU (5.29 M steps of batch 128 on a GPU), 0.9959 mean correlation over "
        "400 frames, 0.9887 at frame 400. Error curves and truth | prediction | difference pictures: `eval/`.",
        "",
    ]
    all_cases = [c for cases in families.values() for c in cases]
    probes = sample_windows(all_cases, v_scale, model.n_in, model.window, budget.probe_windows)

    # symmetries
    whole = initial_frames(all_cases[:8], v_scale, model.n_in)
    sym = symmetry.symmetry_errors(model, probes, whole)
    lines += [
        "## Symmetries the network was not built with",
        "",
        f"Relative equivariance error ||f(g x) - g f(x)|| / ||f(x)|| over {len(probes.psi)} held-out windows "
        "(0 = exact):",
        "",
        "| mirror | global phase | time reversal | translation (whole box) | forward error (reference) |",
        "|---|---|---|---|---|",
        f"| {sym['mirror']:.2e} | {sym['phase']:.2e} | {sym['time_reversal']:.2e} | {sym['translation']:.2e} | "
        f"{sym['forward']:.2e} |",
        "",
    ]
    for key in ("mirror", "phase"):
        verdict = "has learned" if sym[key] < 2 * sym["forward"] else "has not learned"
        lines.append(
            f"- The model {verdict} {key} symmetry to the level of its own one-step error "
            f"({sym[key]:.1e} vs. {sym['forward']:.1e}; criterion: < 2x)."
        )
    tr = "is" if sym["time_reversal"] < 2 * sym["forward"] else "is not"
    lines += [
        f"- Run backwards (conjugated, reversed frames) the model {tr} as accurate as forwards "
        f"({sym['time_reversal']:.1e} vs. {sym['forward']:.1e}).",
        "",
    ]
    # locality
    sal = locality.saliency(model, probes)
    shares = locality.frame_shares(sal)
    reach90 = locality.reach_cells(sal)
    e_max = max(float(c["e0"]) for c in all_cases) if "e0" in all_cases[0] else 9.0
    s_min = min(float(c["s0"]) for c in all_cases) if "s0" in all_cases[0] else 1.0
    phys = locality.physical_reach(grid, e_max, s_min)
    locality.plot_saliency(out / "saliency.png", sal, phys)
    lines += [
        "## Locality and attribution",
        "",
        "Mean |d output / d input| by input frame (oldest first) and offset from the output cell:",
        "",
        "| input frame | share of saliency | 90 % within (cells) | physical reach (cells) |",
        "|---|---|---|---|",
    ]
    for f in range(model.n_in):
        lag = model.n_in - 1 - f
        lines.append(f"| t-{lag} | {shares[f]:.3f} | {reach90[f]} | {(lag + 1) * phys:.1f} |")
    recent = float(shares[-2:].sum())
    lines += [
        "",
        f"The two most recent frames carry {recent:.0%} of the saliency (the paper: predictions depend mainly on the "
        f"two most recent frames). Physical reach: the fastest relevant components (k = sqrt(2 E_max) + 3 / 2S0_min, "
        f"E_max = {e_max:.1f}, S0_min = {s_min:.1f}) move {phys:.1f} cells per frame.",
        "",
        "![saliency](saliency.png)",
        "",
    ]
    # generalisation
    gmap = generalisation.generalisation_map(
        model, v_scale, budget.map_energies, budget.map_heights, budget.map_widths, grid=Grid(nx=nx), n_steps=frames
    )
    with atomic_path(out / "generalisation.json") as tmp:
        tmp.write_text(json.dumps(gmap, indent=1))
    e_rng, h_rng = _curriculum_ranges(config)
    generalisation.plot_map(out / "generalisation.png", gmap, e_rng, h_rng, 7.0)
    lines += [
        "## Generalisation map",
        "",
        f"Correlation at forecast frame {frames} for a packet (X0 = 15, S0 = 2) at one rectangular barrier, "
        f"over energies and heights inside and outside the curriculum (E0 in [{e_rng[0]:.2f}, {e_rng[1]:.2f}] "
        f"hartree, barrier tops in [{h_rng[0]:.2f}, {h_rng[1]:.2f}] hartree), and over widths (the paper's "
        "curriculum has width 7 bohr only):",
        "",
        "![generalisation](generalisation.png)",
        "",
    ]
    # ablation
    if train_source is not None or ablation_dir is not None:
        abl_dir = Path(ablation_dir) if ablation_dir else out / "ablation"
        if train_source is not None:
            from qwave.data.sources import training_trajectories

            traj = training_trajectories(train_source, data_dir, progress)
            base = TrainConfig.from_dict(config["train"])
            base = dataclasses.replace(
                base, steps=budget.ablation_steps, steps_per_epoch=min(base.steps_per_epoch, budget.ablation_steps)
            )
            abl_families = {f: c[: budget.ablation_cases_per_family] for f, c in families.items()}
            ablation.run_ablation(
                traj,
                abl_families,
                base,
                abl_dir,
                seeds=budget.ablation_seeds,
                n_steps=min(budget.ablation_frames, frames),
                probes=probes,
                progress=progress,
            )
        results = json.loads((abl_dir / "results.json").read_text())
        settings_path = abl_dir / "settings.json"
        settings = json.loads(settings_path.read_text()) if settings_path.is_file() else {}
        seeds = sorted({int(s) for by_seed in results.values() for s in by_seed})
        table = ablation.summarize(results)
        heat_map = len(table) > 1 and "all" in table
        if heat_map:
            ablation.plot_drops(out / "ablation.png", table)
        lines += [
            "## Relative importance of physical processes",
            "",
            f"Each variant retrained for {settings.get('steps', '?')} steps with seeds {seeds} on "
            f"{settings.get('training_sims', '?')} training simulations (or the variant's subset), evaluated on "
            f"{settings.get('cases_per_family', '?')} case(s) per family over {settings.get('frames', '?')} frames; "
            "mean correlation, mean ± std over seeds:",
            "",
            ablation.format_summary(table),
            "",
            *(["![ablation](ablation.png)", ""] if heat_map else []),
        ]
        lines += _ablation_conclusions(table)
        hist = {}
        for label in ("all", "no_augmentation"):
            path = abl_dir / label / f"seed{seeds[0]}" / "symmetry_history.json"
            if path.is_file():
                hist[label] = json.loads(path.read_text())
        if hist:
            from qwave.insight.tracking import plot_history

            plot_history(out / "symmetry_history.png", hist)
            run_config = abl_dir / next(iter(hist)) / f"seed{seeds[0]}" / "config.json"
            every = json.loads(run_config.read_text())["train"]["steps_per_epoch"] if run_config.is_file() else "?"
            lines += [
                "",
                f"Equivariance errors during training, probed every {every} steps (an epoch), seed {seeds[0]}, "
                "with (`all`) and without (`no_augmentation`) mirror/phase augmentation:",
                "",
                "![symmetry history](symmetry_history.png)",
                "",
            ]
    budget_used = dataclasses.asdict(budget)
    if train_source is None:  # the ablation was reused: its budget is the one stated in its section
        budget_used = {k: v for k, v in budget_used.items() if not k.startswith("ablation_")}
    lines += [
        "## Budget",
        "",
        f"`{json.dumps(budget_used)}`; this report took {time.time() - started:.0f} s.",
        "",
    ]
    report = out / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return report


def _curriculum_ranges(config: dict) -> tuple[tuple[float, float], tuple[float, float]]:
    """(E0 range, BH range) the run was trained on, from its config (the paper's full grid by default)."""
    ranges = config.get("ranges") or {}
    return tuple(ranges.get("e0", (1.0, 9.0))), tuple(ranges.get("height", (1.0, 14.0)))


def _ablation_conclusions(table: dict) -> list[str]:
    """Only statements that pass: mean change beyond 2 sigma of the combined seed spread."""
    ref = table["all"]
    out = []
    for variant, row in table.items():
        if variant == "all":
            continue
        hurt = [f for f in row if f != "overall" and ref[f][0] - row[f][0] > 2 * np.hypot(ref[f][1], row[f][1])]
        helped = [f for f in row if f != "overall" and row[f][0] - ref[f][0] > 2 * np.hypot(ref[f][1], row[f][1])]
        if hurt:
            what = f"Without `{variant.removeprefix('no_')}`" if variant.startswith("no_") else f"With `{variant}`"
            out.append(f"- {what} the forecast is worse on: {', '.join(hurt)}.")
        if helped:
            out.append(f"- `{variant}` is better on: {', '.join(helped)}.")
    return out or ["- No variant differs from the full curriculum beyond 2 sigma of the seed spread at this budget."]

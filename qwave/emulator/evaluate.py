"""Evaluate an emulator on every test family: table, error-versus-time curves, truth | prediction | difference.

The forecast starts from a case's first ``n_in`` true frames and runs ``n_steps`` frames (400 by
default); frame ``k`` of the forecast is compared with true frame ``n_in - 1 + k`` (0.1 a.u. apart on the
paper's grid).  Table columns, per family: the mean correlation over cases and frames and the worst case's
(``worst_mean``: the lowest per-case mean), the mean correlation at forecast frames 100/200/400/1000 and the
worst case's at 400/1000, the valid time (``first<0.99``, ``first<0.9``: the earliest frame at which any
case's correlation drops below 0.99 / 0.9; ``>N`` when none does within the N forecast frames), mean MAE,
the largest |norm drift| and the transmitted-probability error at the last frame.  table.json also holds
every case's figures.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qwave.emulator.metrics import VALID_AT, frame_metrics, valid_time
from qwave.emulator.options import DEFAULT_ROLLOUT, RolloutOptions
from qwave.emulator.rollout import WholeBoxStep, rollout_batched
from qwave.errors import QwaveInputError
from qwave.io import atomic_path, check_output_dir
from qwave.physics.grid import Grid

AT_FRAMES = (100, 200, 400, 1000)  # forecast frames with a mean-correlation column
WORST_AT = (400, 1000)  # forecast frames with a worst-case column


def forecast_cases(
    model,
    cases: Sequence[dict],
    v_scale: float,
    n_steps: int = 400,
    options: RolloutOptions = DEFAULT_ROLLOUT,
    progress: bool = False,
    stepper: WholeBoxStep | None = None,
) -> np.ndarray:
    """Forecast each case (dataset-schema dicts) from its first n_in frames: float32 (cases, n_steps, NX, 2)."""
    psi = np.stack([np.asarray(c["psi"], np.float32) for c in cases])
    if psi.shape[1] < model.n_in + n_steps:
        raise QwaveInputError(
            f"cases have {psi.shape[1]} frames; a {n_steps}-frame forecast needs {model.n_in + n_steps}"
        )
    pot = np.stack([np.asarray(c["potential"], np.float32) for c in cases]) / v_scale
    if stepper is None or stepper.nx != psi.shape[2]:
        stepper = WholeBoxStep(model, psi.shape[2], options)
    return rollout_batched(stepper, psi[:, : model.n_in], pot, n_steps, progress=progress)


def case_metrics(case: dict, pred: np.ndarray, n_in: int, grid: Grid) -> dict[str, np.ndarray]:
    """Per-frame metrics of one forecast against the case's truth."""
    truth = np.asarray(case["psi"])[n_in : n_in + pred.shape[0]]
    return frame_metrics(truth, pred, np.asarray(case["potential"], np.float64), grid)


def summarize(per_case: Sequence[dict[str, np.ndarray]]) -> dict[str, float]:
    """Table row from a family's per-case metric curves (worst-case and valid-time columns beside the means)."""
    corr = np.stack([m["corr"] for m in per_case])
    n = corr.shape[1]
    row = {
        "cases": len(per_case),
        "frames": n,
        "mean_corr": float(corr.mean()),
        "worst_mean": float(corr.mean(1).min()),
    }
    for k in AT_FRAMES:
        if k <= n:
            row[f"corr@{k}"] = float(corr[:, k - 1].mean())
    for k in WORST_AT:
        if k <= n:
            row[f"worst@{k}"] = float(corr[:, k - 1].min())
    row.update(valid_time(corr))  # None: never below
    row["mae"] = float(np.mean([m["mae"].mean() for m in per_case]))
    row["norm_drift"] = float(np.max([np.abs(m["norm_drift"]).max() for m in per_case]))
    row["transmitted_error"] = float(np.mean([m["transmitted_error"][-1] for m in per_case]))
    return row


def case_rows(cases: Sequence[dict], per_case: Sequence[dict[str, np.ndarray]]) -> list[dict]:
    """Every case's packet, potential and figures (table.json's ``per_case``): find the worst ones."""
    out = []
    for case, m in zip(cases, per_case, strict=True):
        corr = m["corr"]
        row = {k: float(case[k]) for k in ("x0", "s0", "e0") if k in case}
        row["potential"] = str(case.get("potential_params", ""))
        row.update(mean_corr=float(corr.mean()), last_corr=float(corr[-1]), **valid_time(corr))
        out.append(row)
    return out


def evaluate(
    model,
    families: dict[str, Sequence[dict]],
    v_scale: float,
    grid: Grid,
    n_steps: int = 400,
    options: RolloutOptions = DEFAULT_ROLLOUT,
    progress: bool = False,
) -> dict:
    """Forecast every family; returns {"rows": {family: row, ..., "overall": row}, "curves": {family: {metric:
    mean curve, "corr_min": the worst case's correlation per frame}}, "per_case": {family: case rows},
    "cases": {family: (its worst case, that case's forecast)}}."""
    rows, curves, examples, per_family = {}, {}, {}, {}
    all_metrics = []
    items = families.items()
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(list(items), desc="families", unit="family")
    stepper = WholeBoxStep(model, grid.nx, options)
    for family, cases in items:
        pred = forecast_cases(model, cases, v_scale, n_steps, options, stepper=stepper)
        per_case = [case_metrics(c, p, model.n_in, grid) for c, p in zip(cases, pred, strict=True)]
        rows[family] = summarize(per_case)
        curves[family] = {k: np.mean([m[k] for m in per_case], 0) for k in per_case[0]}
        curves[family]["corr_min"] = np.min([m["corr"] for m in per_case], 0)
        per_family[family] = case_rows(cases, per_case)
        worst = int(np.argmin([m["corr"].mean() for m in per_case]))
        examples[family] = (cases[worst], pred[worst])
        all_metrics.extend(per_case)
    rows["overall"] = summarize(all_metrics)
    rows["overall"]["min_family_mean_corr"] = min(r["mean_corr"] for f, r in rows.items() if f != "overall")
    return {"rows": rows, "curves": curves, "per_case": per_family, "cases": examples}


def columns(rows: dict[str, dict]) -> list[str]:
    """The table's columns: those every row has, in a fixed order (frame columns only up to the horizon)."""
    names = ["cases", "mean_corr", "worst_mean"]
    names += [f"corr@{k}" for k in AT_FRAMES] + [f"worst@{k}" for k in WORST_AT]
    names += [f"first<{t}" for t in VALID_AT] + ["mae", "norm_drift", "transmitted_error"]
    return [c for c in names if all(c in row for row in rows.values())]


def _cell(column: str, row: dict) -> str:
    value = row[column]
    if column == "cases":
        return str(value)
    if column.startswith("first<"):
        return f">{row.get('frames', '?')}" if value is None else str(value)
    if column.startswith(("mean", "corr", "worst")):
        return f"{value:.4f}"
    return f"{value:.2e}"


def format_table(rows: dict[str, dict]) -> str:
    """Markdown table, one row per family and 'overall'."""
    cols = columns(rows)
    lines = ["| family | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {family} | " + " | ".join(_cell(c, row) for c in cols) + " |" for family, row in rows.items()]
    return "\n".join(lines)


def save_report(result: dict, out_dir: str | os.PathLike, grid: Grid, n_in: int, pictures: bool = True) -> Path:
    """Write table.md, table.json, curves.png (error vs time) and one truth|prediction|difference PNG per family."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "table.md") as tmp:
        tmp.write_text(format_table(result["rows"]) + "\n")
    curves = {f: {k: v.tolist() for k, v in c.items()} for f, c in result["curves"].items()}
    with atomic_path(out / "table.json") as tmp:
        data = {"rows": result["rows"], "curves": curves, "per_case": result.get("per_case", {})}
        tmp.write_text(json.dumps(data, indent=1) + "\n")
    from qwave.plots import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(19, 4))
    for family, c in result["curves"].items():
        t = (np.arange(len(c["corr"])) + 1) * grid.frame_dt
        axes[0].plot(t, 1 - c["corr"], label=family)
        axes[1].plot(t, 1 - c["corr_min"], label=family)
        axes[2].plot(t, c["mae"], label=family)
        axes[3].plot(t, c["norm_drift"], label=family)
    for threshold in VALID_AT:
        axes[1].axhline(1 - threshold, color="k", lw=0.8, ls="--")
    titles = ("1 - correlation (mean case)", "1 - correlation (worst case; dashed: 0.99, 0.9)", "MAE", "norm drift")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xlabel("forecast time (a.u.)")
        ax.set_title(title, fontsize=9)
    for ax in axes[:3]:
        ax.set_yscale("log")
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_path(out / "curves.png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    if pictures:
        for family, (case, pred) in result["cases"].items():
            save_comparison(out / f"case_{family}.png", case, pred, n_in, grid, title=family)
    return out


def save_comparison(path: Path, case: dict, pred: np.ndarray, n_in: int, grid: Grid, title: str = "") -> None:
    """|psi|^2 space-time maps: truth | prediction | difference (pred - truth)."""
    from qwave.plots import _pyplot

    plt = _pyplot()
    truth = np.asarray(case["psi"])[n_in : n_in + pred.shape[0]]
    rho_t, rho_p = (a[..., 0] ** 2 + a[..., 1] ** 2 for a in (truth, pred))
    t_end = pred.shape[0] * grid.frame_dt
    ext = (grid.x[0], grid.x[-1], 0.0, t_end)
    vmax = float(rho_t.max())
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
    for ax, img, name, kw in (
        (axes[0], rho_t, "truth |psi|^2", {"cmap": "viridis", "vmin": 0, "vmax": vmax}),
        (axes[1], rho_p, "prediction |psi|^2", {"cmap": "viridis", "vmin": 0, "vmax": vmax}),
        (axes[2], rho_p - rho_t, "difference", {"cmap": "RdBu_r", "vmin": -vmax / 4, "vmax": vmax / 4}),
    ):
        ax.imshow(img, aspect="auto", origin="lower", extent=ext, interpolation="nearest", **kw)
        v = np.asarray(case["potential"])
        if np.any(v):
            span = float(v.max() - v.min()) or 1.0
            ax.plot(grid.x, t_end * (0.01 + 0.1 * (v - v.min()) / span), color="w", lw=0.8)
        ax.set_title(f"{title}: {name}", fontsize=9)
        ax.set_xlabel("x (bohr)")
    axes[0].set_ylabel("forecast time (a.u.)")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def evaluate_path(
    model_path: str | os.PathLike | None,
    tests: str = "curriculum:full",
    out_dir: str | os.PathLike | None = None,
    data_dir: str | None = None,
    n_per_family: int | None = None,
    n_steps: int = 400,
    options: RolloutOptions = DEFAULT_ROLLOUT,
    v_scale: float | None = None,
    progress: bool = True,
) -> str:
    """Evaluate MODEL (a run directory, export, .keras file, or None for the shipped model) on ``tests`` and
    save the report in ``out_dir`` (default ``<model dir>/eval``, ``./eval`` for the shipped model); returns
    the markdown table.

    Everything that can fail fast does so before the forecasts: the model loads in safe mode, the output
    directory is writable, the test source parses and is present, the cases are long enough."""
    from qwave.data.sources import held_out_examples, held_out_grid, parse_source
    from qwave.emulator.artefacts import load_source
    from qwave.emulator.rollout import blend_tables

    if n_steps < 1:
        raise QwaveInputError(f"the forecast needs >= 1 frame, got --frames {n_steps}")
    if n_per_family is not None and n_per_family < 1:
        raise QwaveInputError(f"cases per family must be >= 1, got {n_per_family}")
    src = load_source(model_path, v_scale)
    default_out = Path("eval") if model_path is None else src.keras_path.parent / "eval"  # never into the package
    out = check_output_dir(out_dir or default_out)
    test_grid = held_out_grid(tests, data_dir)  # parses, resolves, is built: before any case is simulated
    n_in = src.model.n_in
    n_frames = None  # the source's own length
    if test_grid.n_frames < n_in + n_steps:
        if not parse_source(tests, tests=True).simulated:
            most = test_grid.n_frames - n_in
            raise QwaveInputError(
                f"{tests} cases have {test_grid.n_frames} frames; a {n_steps}-frame forecast from {n_in} input "
                f"frames needs {n_in + n_steps}"
                + (f" (use --frames {most} or less" if most >= 1 else " (")
                + "; curriculum:<config> simulates cases as long as the forecast)"
            )
        n_frames = n_in + n_steps  # simulated now: as long as the forecast needs
    blend_tables(test_grid.nx, src.model.window, options.sigma, options.stride)  # the stride divides NX
    families = held_out_examples(tests, n_per_family, data_dir, n_frames=n_frames)
    nx = int(np.asarray(next(iter(families.values()))[0]["psi"]).shape[1])
    grid = dataclasses.replace(src.grid, nx=nx)
    result = evaluate(src.model, families, src.v_scale, grid, n_steps, options, progress)
    save_report(result, out, grid, src.model.n_in)
    return format_table(result["rows"])

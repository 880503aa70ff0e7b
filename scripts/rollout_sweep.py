"""Helpers of ``scripts/measure_v_clip.py`` and ``scripts/measure_blend_sigma.py``: one model's forecast of the
same cases under several :class:`~qwave.emulator.options.RolloutOptions`, and the markdown table that compares
them family by family."""

from __future__ import annotations

import click

from qwave.emulator.evaluate import evaluate
from qwave.emulator.options import RolloutOptions


def sweep(
    src, families: dict[str, list[dict]], grid, frames: int, name: str, settings: dict[str, RolloutOptions]
) -> dict:
    """{label: evaluation rows} of ``src``'s model forecasting ``families`` over ``frames`` frames under each
    setting of the option ``name`` (the overall mean is echoed to stderr as each one finishes)."""
    rows = {}
    for label, options in settings.items():
        result = evaluate(src.model, families, src.v_scale, grid, frames, options, progress=True)
        rows[label] = result["rows"]
        click.echo(f"{name} {label}: overall {result['rows']['overall']['mean_corr']:.4f}", err=True)
    return rows


def comparison_table(rows: dict, frames: int, name: str, first_below: bool = False) -> str:
    """One markdown row per family, one column per setting: mean correlation / the worst case at the last frame
    (the worst case's mean where ``frames`` has no worst-case column) and, if ``first_below``, the first frame
    any case falls below 0.99."""
    first = next(iter(rows.values()))
    last = f"worst@{frames}" if f"worst@{frames}" in first["overall"] else "worst_mean"
    columns = {"mean": "mean_corr", last: last} | ({"first<0.99": "first<0.99"} if first_below else {})
    header = " / ".join(columns)
    lines = ["| family | " + " | ".join(f"{name} {label}: {header}" for label in rows) + " |"]
    lines.append("|---" * (len(rows) + 1) + "|")
    for family in first:
        cells = [" / ".join(_cell(r[family][k]) for k in columns.values()) for r in rows.values()]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)

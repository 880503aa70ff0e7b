"""Fidelity goals checked against evaluation tables: what a forecast must reach, and by how much it misses.

A goal reads one figure of an evaluation's ``rows`` (``qwave evaluate``'s table.json) — the overall mean, or
a column of every family — and compares it with a threshold; the check reports the figure, whether it is
met and, when it is not, which families fall short and by how much.  Numbers only: no TensorFlow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class Goal:
    """``column`` of ``overall`` (or, with ``every_family``, of each family) must be >= ``threshold``, in an
    evaluation of ``frames`` frames."""

    frames: int
    column: str
    threshold: float
    every_family: bool = False
    label: str = ""

    def describe(self) -> str:
        where = "every family" if self.every_family else "overall"
        return self.label or f"{where} {self.column} >= {self.threshold} ({self.frames} frames)"


GOALS: tuple[Goal, ...] = (
    Goal(400, "mean_corr", 0.999, label="overall mean over 400 frames >= 0.999"),
    Goal(400, "corr@400", 0.995, every_family=True, label="every family's mean at frame 400 >= 0.995"),
    Goal(400, "worst@400", 0.99, every_family=True, label="every case at frame 400 >= 0.99"),
    Goal(1000, "mean_corr", 0.995, label="overall mean over 1,000 frames >= 0.995"),
    Goal(1000, "corr@1000", 0.98, every_family=True, label="every family's mean at frame 1,000 >= 0.98"),
)
"""The default emulator's goals (issue 13), for the in-distribution and the out-of-distribution families."""


def check(goal: Goal, rows: Mapping[str, Mapping[str, float]]) -> dict:
    """{"goal", "value" (the overall figure or the lowest family's), "met", "short": {family: gap}}."""
    families = {f: r for f, r in rows.items() if f != "overall"} if goal.every_family else {"overall": rows["overall"]}
    missing = [f for f, r in families.items() if goal.column not in r]
    if missing:
        raise KeyError(f"{goal.column} is not in the rows of {missing} (an evaluation of {goal.frames} frames?)")
    values = {f: float(r[goal.column]) for f, r in families.items()}
    short = {f: round(goal.threshold - v, 6) for f, v in values.items() if v < goal.threshold}
    lowest = min(values, key=values.get)
    return {"goal": goal.describe(), "value": values[lowest], "at": lowest, "met": not short, "short": short}


def check_all(evaluations: Mapping[int, Mapping[str, Mapping]], goals: Sequence[Goal] = GOALS) -> list[dict]:
    """Every goal against the evaluation of its horizon: ``evaluations`` maps frames to table.json rows."""
    return [check(g, evaluations[g.frames]) for g in goals if g.frames in evaluations]


def format_checks(checks: Sequence[dict]) -> str:
    """Markdown table: goal, measured (lowest family where every family counts), met or the gaps."""
    lines = ["| goal | measured | met? |", "|---|---|---|"]
    for c in checks:
        gaps = ", ".join(f"{f} {-gap:+.4f}" for f, gap in sorted(c["short"].items(), key=lambda kv: -kv[1]))
        where = "" if c["at"] == "overall" else f" ({c['at']})"
        lines.append(f"| {c['goal']} | {c['value']:.4f}{where} | {'yes' if c['met'] else 'no: ' + gaps} |")
    return "\n".join(lines)

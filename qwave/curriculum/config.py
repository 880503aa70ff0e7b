"""Custom curriculum configurations: a JSON/YAML file or mapping turned into a :class:`CurriculumSpec`, and
a spec rebuilt from its ``to_dict()`` form (a built dataset's metadata)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qwave.curriculum.specs import SPECS, CurriculumSpec, float_tuple, inclusive_range
from qwave.curriculum.stages import LANDSCAPE_KINDS
from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid


def _values(where: str, raw: Any) -> tuple[float, ...]:
    """A parameter list from a number, a list, {start, stop, step} (stop inclusive) or {low, high, num}."""
    if isinstance(raw, bool):
        raise QwaveInputError(f"{where}: expected a number, a list or a range, got {raw!r}")
    if isinstance(raw, (int, float)):
        return (float(raw),)
    if isinstance(raw, list):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            raise QwaveInputError(f"{where}: list entries must be numbers, got {raw!r}")
        return float_tuple(raw)
    if isinstance(raw, dict):
        if set(raw) == {"start", "stop", "step"}:
            start, stop, step = (raw[k] for k in ("start", "stop", "step"))
            if not all(isinstance(v, (int, float)) for v in (start, stop, step)) or step <= 0 or stop < start:
                raise QwaveInputError(f"{where}: range needs numbers with step > 0 and stop >= start, got {raw!r}")
            return inclusive_range(float(start), float(stop), float(step))
        if set(raw) == {"low", "high", "num"}:
            low, high, num = raw["low"], raw["high"], raw["num"]
            if not isinstance(num, int) or num < 1 or high < low:
                raise QwaveInputError(f"{where}: linspace needs integer num >= 1 and high >= low, got {raw!r}")
            return tuple(round(float(v), 10) for v in np.linspace(low, high, num))
        raise QwaveInputError(
            f"{where}: a range is {{start, stop, step}} or {{low, high, num}}, got keys {', '.join(sorted(raw))}"
        )
    raise QwaveInputError(f"{where}: expected a number, a list or a range, got {raw!r}")


def _pair(where: str, raw: Any) -> tuple[float, float]:
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, (int, float)) for v in raw)):
        raise QwaveInputError(f"{where}: expected [low, high], got {raw!r}")
    return float(raw[0]), float(raw[1])


def _check_keys(where: str, section: Mapping, allowed: Iterable[str]) -> None:
    if not isinstance(section, Mapping):
        raise QwaveInputError(f"{where}: expected a mapping, got {section!r}")
    unknown = set(section) - set(allowed)
    if unknown:
        raise QwaveInputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(allowed)}")


def spec_from_dict(raw: Mapping[str, Any]) -> CurriculumSpec:
    """A :class:`CurriculumSpec` from a config mapping (parsed JSON/YAML); missing parts come from ``base``.

    Layout (every section optional except ``name``)::

        name: my_grid                  # the TFDS config name
        base: demo                     # built-in config to start from (demo, full, tiny)
        description: ...
        v_scale: 12                    # hartree
        grid: {lx: 100, nx: 1024, dt: 0.0005, steps_per_frame: 200, n_frames: 201}
        barrier: {x0: [10, 40], s0: {start: 1, stop: 4, step: 0.5}, e0: {low: 1, high: 9, num: 9},
                  height: [2, 5, 10], width: 7, center: 50}
        free: {x0: [20], s0: [1, 2], e0: [2, 4]}
        landscapes: {barrier: 96, well: 32, pair: 32, multi: 96, free: 8, packets: 4, seed: 0,
                     s0: [1, 4.5], e0: [0.5, 9]}
        stages: {reflection_max: 0.01}
        tests: {cases: 12, seed: 2203, x0: [15, 20], s0: [1, 5], e0: [1.5, 8.6]}
        chunk: 32
    """
    where = "config"
    _check_keys(
        where,
        raw,
        ("name", "base", "description", "v_scale", "grid", "barrier", "free", "landscapes", "stages", "tests", "chunk"),
    )
    name = raw.get("name")
    if not isinstance(name, str):
        raise QwaveInputError("config: 'name' (a string) is required")
    where = f"config {name}"
    if name in SPECS:
        raise QwaveInputError(f"{where}: the name is taken by a built-in config ({', '.join(SPECS)}); pick another")
    base_name = raw.get("base", "demo")
    if base_name not in SPECS:
        raise QwaveInputError(f"{where}: unknown base {base_name!r}; choose one of {', '.join(SPECS)}")
    base = SPECS[base_name]
    changes: dict[str, Any] = {"name": name, "description": str(raw.get("description", f"custom curriculum {name}"))}
    if "v_scale" in raw:
        if not isinstance(raw["v_scale"], (int, float)):
            raise QwaveInputError(f"{where}: v_scale must be a number, got {raw['v_scale']!r}")
        changes["v_scale"] = float(raw["v_scale"])
    if "chunk" in raw:
        changes["chunk"] = int(raw["chunk"])
    grid_raw = raw.get("grid", {})
    _check_keys(f"{where}: grid", grid_raw, ("lx", "nx", "dt", "steps_per_frame", "n_frames"))
    if grid_raw:
        try:
            changes["grid"] = dataclasses.replace(base.grid, **grid_raw)
        except TypeError as exc:
            raise QwaveInputError(f"{where}: grid: {exc}") from None
    barrier = raw.get("barrier", {})
    _check_keys(f"{where}: barrier", barrier, ("x0", "s0", "e0", "height", "width", "center"))
    for key, field in (("x0", "x0"), ("s0", "s0"), ("e0", "e0"), ("height", "heights"), ("width", "widths")):
        if key in barrier:
            changes[field] = _values(f"{where}: barrier {key}", barrier[key])
    if "center" in barrier:
        changes["center"] = (
            None if barrier["center"] is None else _values(f"{where}: barrier center", barrier["center"])[0]
        )
    free = raw.get("free", {})
    _check_keys(f"{where}: free", free, ("x0", "s0", "e0"))
    for key in ("x0", "s0", "e0"):
        if key in free:
            changes[f"free_{key}"] = _values(f"{where}: free {key}", free[key])
    landscapes = raw.get("landscapes", {})
    _check_keys(f"{where}: landscapes", landscapes, (*LANDSCAPE_KINDS, "packets", "seed", "s0", "e0"))
    if landscapes:
        counts = {k: landscapes[k] for k in LANDSCAPE_KINDS if k in landscapes}
        for key in ("s0", "e0"):
            if key in landscapes:
                changes[f"landscape_{key}"] = _pair(f"{where}: landscapes {key}", landscapes[key])
        for key, value in landscapes.items():
            if key in ("s0", "e0"):
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise QwaveInputError(f"{where}: landscapes {key} must be an integer, got {value!r}")
        changes["landscapes"] = tuple(counts.items())
        changes["landscape_packets"] = int(landscapes.get("packets", base.landscape_packets))
        changes["landscape_seed"] = int(landscapes.get("seed", base.landscape_seed))
    stages = raw.get("stages", {})
    _check_keys(f"{where}: stages", stages, ("reflection_max",))
    if "reflection_max" in stages:
        changes["reflection_max"] = float(stages["reflection_max"])
    tests = raw.get("tests", {})
    _check_keys(f"{where}: tests", tests, ("cases", "seed", "x0", "s0", "e0"))
    if "cases" in tests:
        changes["test_cases"] = int(tests["cases"])
    if "seed" in tests:
        changes["test_seed"] = int(tests["seed"])
    for key in ("x0", "s0", "e0"):
        if key in tests:
            changes[f"test_{key}"] = _pair(f"{where}: tests {key}", tests[key])
    return dataclasses.replace(base, **changes)


def load_config_file(path: str | os.PathLike) -> CurriculumSpec:
    """A custom curriculum from a JSON (``.json``) or YAML (``.yaml``/``.yml``) file."""
    path = Path(path)
    if not path.is_file():
        raise QwaveInputError(f"config file {path} does not exist")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise QwaveInputError(f"{path}: YAML configs need PyYAML (pip install pyyaml); or write JSON") from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise QwaveInputError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QwaveInputError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise QwaveInputError(f"{path}: a config is a mapping of keys to values, got {type(raw).__name__}")
    raw.setdefault("name", path.stem.replace("-", "_"))
    return spec_from_dict(raw)


def spec_from_metadata(spec: dict[str, Any]) -> CurriculumSpec:
    """Rebuild a :class:`~qwave.CurriculumSpec` from its ``to_dict()`` form (dataset metadata)."""
    fields = {f.name for f in dataclasses.fields(CurriculumSpec)}
    values = {k: v for k, v in spec.items() if k in fields}
    values["grid"] = Grid(**spec["grid"])
    for key, value in list(values.items()):
        if isinstance(value, list):
            values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return CurriculumSpec(**values)

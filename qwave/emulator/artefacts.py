"""Locating an emulator and what travels with it: a ``.keras`` file, a training run, an export directory or
the shipped pretrained model, resolved to a :class:`ModelSource` (model, grid, v_scale, evaluation).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid

FORMAT = "qwave-emulator-export"
FORMAT_VERSION = 1
PRETRAINED_ROOT = Path(__file__).resolve().parent.parent / "pretrained"
EVALUATION_FILES = ("table.md", "table.json", "curves.png")


def default_pretrained(root: Path = PRETRAINED_ROOT) -> Path:
    """The shipped pretrained model's directory ``qwave/pretrained/<name>/`` (the only one, or the one
    named in ``qwave/pretrained/DEFAULT``)."""
    dirs = sorted(p for p in root.glob("*") if p.is_dir() and (p / "model.keras").is_file()) if root.is_dir() else []
    named = root / "DEFAULT"
    if named.is_file():
        choice = root / named.read_text().strip()
        if choice in dirs:
            return choice
        raise QwaveInputError(f"{named} names {choice.name!r}, which holds no model.keras")
    if len(dirs) == 1:
        return dirs[0]
    if not dirs:
        raise QwaveInputError(f"no shipped pretrained model in {root}; pass a .keras file or a training run directory")
    names = ", ".join(d.name for d in dirs)
    raise QwaveInputError(f"several pretrained models in {root} ({names}); pass one or name it in {named}")


@dataclasses.dataclass
class ModelSource:
    """A loaded emulator and the constants that travel with it (from the run's config.json or an export's
    metadata.json): the grid, v_scale (hartree) and the evaluation figures."""

    model: Any
    keras_path: Path
    grid: Grid
    v_scale: float
    evaluation: dict | None
    evaluation_files: list[Path]
    train_config: dict | None


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QwaveInputError(f"cannot read {path}: {exc}") from None
    return data if isinstance(data, dict) else None


def load_keras_model(path: Path):
    """A qwave emulator from a ``.keras`` file (safe mode), with a one-line error for anything else."""
    import zipfile

    from qwave.emulator.models import Emulator, load_model

    path = Path(path)
    if not path.is_file():
        raise QwaveInputError(f"model {path} does not exist")
    # Keras says "File not found" for a file that is there but no zip archive: say what is wrong instead.
    if not zipfile.is_zipfile(path):
        raise QwaveInputError(f"{path} is not a .keras file (not a zip archive): corrupt, truncated or another format")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise QwaveInputError(f"{path} is not a readable .keras file: {exc}") from None
    if "config.json" not in names:
        raise QwaveInputError(f"{path} is a zip archive without config.json: not a .keras model file")
    try:
        model = load_model(path)
    except Exception as exc:  # keras raises ValueError, BadZipFile, OSError, TypeError... for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "Could not locate class" in first:  # a custom class qwave does not define
            raise QwaveInputError(f"{path} is not a qwave emulator: {first[:200]}") from None
        raise QwaveInputError(f"cannot load {path} as a Keras model: {type(exc).__name__}: {first[:200]}") from None
    if not isinstance(model, Emulator):
        raise QwaveInputError(f"{path} holds a {type(model).__name__}, not a qwave emulator (qwave.emulator.models)")
    return model


def load_source(source: str | os.PathLike | None = None, v_scale: float | None = None) -> ModelSource:
    """Resolve MODEL: a ``.keras`` file, a training run directory (``model.keras`` + ``config.json``), an
    export directory, or ``None`` for the shipped pretrained model.  ``v_scale`` is needed only when
    neither a config.json nor a metadata.json beside the model records it, and must agree when one does."""
    path = default_pretrained() if source is None else Path(source)
    if path.is_dir():
        keras_path, info_dir = path / "model.keras", path
        if not keras_path.is_file():
            raise QwaveInputError(f"{path} holds no model.keras: not a training run or export directory")
    elif path.is_file():
        if path.suffix != ".keras":
            raise QwaveInputError(f"{path}: expected a .keras file or a training run directory")
        keras_path, info_dir = path, path.parent
    else:
        raise QwaveInputError(f"model {path} does not exist")
    model = load_keras_model(keras_path)

    config = _read_json(info_dir / "config.json")
    config = config if config and isinstance(config.get("train"), dict) else None
    meta = _read_json(info_dir / "metadata.json")
    meta = meta if meta and meta.get("format") == FORMAT else None

    recorded, origin = None, None
    if config is not None and config.get("v_scale") is not None:
        recorded, origin = float(config["v_scale"]), info_dir / "config.json"
    elif meta is not None:
        recorded, origin = float(meta["v_scale"]), info_dir / "metadata.json"
    if recorded is not None and v_scale is not None and not np.isclose(recorded, v_scale):
        raise QwaveInputError(f"v_scale {v_scale} differs from the {recorded} recorded in {origin}")
    v_scale = recorded if recorded is not None else v_scale
    if v_scale is None:
        raise QwaveInputError(
            f"the potential scale of {keras_path} is unknown (no config.json or metadata.json beside it); pass v_scale"
        )
    if not np.isfinite(v_scale) or v_scale <= 0:
        raise QwaveInputError(f"v_scale must be a positive number (hartree), got {v_scale}")

    grid = Grid()
    if meta is not None:
        g = meta["grid"]
        grid = Grid(lx=g["lx"], nx=g["nx"], dt=g["dt"], steps_per_frame=g["steps_per_frame"])
    if config is not None and config.get("nx"):
        grid = dataclasses.replace(grid, nx=int(config["nx"]))
    if config is not None:
        train = config["train"]
        for key in ("n_in", "window"):
            if key in train and int(train[key]) != getattr(model, key):
                raise QwaveInputError(
                    f"{keras_path} has {key}={getattr(model, key)} but its config.json says {train[key]}"
                )
    evaluation, files = _find_evaluation(info_dir, meta)
    return ModelSource(model, keras_path, grid, float(v_scale), evaluation, files, config["train"] if config else None)


def _find_evaluation(info_dir: Path, meta: dict | None) -> tuple[dict | None, list[Path]]:
    """The evaluation table (qwave.emulator.evaluate.save_report's table.json) in the run dir or one level below."""
    for table in [info_dir / "table.json", *sorted(info_dir.glob("*/table.json"))]:
        data = _read_json(table)
        if data and isinstance(data.get("rows"), dict):
            files = [table.parent / name for name in EVALUATION_FILES if (table.parent / name).is_file()]
            return {"rows": data["rows"], "source": str(table.relative_to(info_dir))}, files
    if meta is not None and meta.get("evaluation"):
        return meta["evaluation"], []
    return None, []

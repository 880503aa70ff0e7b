"""Emulators shipped inside the package: ``<name>/model.keras`` with its ``config.json`` (training
configuration and v_scale), ``eval.md`` (its evaluation table) and ``COMMAND.txt`` (how it was trained)."""

from __future__ import annotations

import json
from pathlib import Path

from qwave.errors import QwaveInputError

ROOT = Path(__file__).parent
DEFAULT = "default"


def available() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.name for p in ROOT.iterdir() if (p / "model.keras").is_file())


def path(name: str = DEFAULT) -> Path:
    """Directory of a shipped model (model.keras, config.json, eval.md, COMMAND.txt)."""
    d = ROOT / name
    if not (d / "model.keras").is_file():
        raise QwaveInputError(f"no pretrained model {name!r}; available: {', '.join(available()) or 'none'}")
    return d


def load(name: str = DEFAULT):
    """(model, config) of a shipped emulator; config['v_scale'] is the potential scale it expects."""
    from qwave.emulator.models import load_model

    d = path(name)
    return load_model(d / "model.keras"), json.loads((d / "config.json").read_text())

"""Every shipped model: loads in Keras safe mode, carries its metadata, and its ONNX forecasts (rollout.onnx and
the step.onnx loop) reproduce its Keras rollout on a held-out case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qwave.emulator.metrics import correlation

ROOT = Path(__file__).resolve().parents[1] / "qwave" / "pretrained"
SHIPPED = sorted(p.name for p in ROOT.iterdir() if (p / "model.keras").is_file())
FRAMES = 24


def test_the_default_is_named_and_every_directory_is_complete():
    assert (ROOT / "DEFAULT").read_text().strip() in SHIPPED
    for name in SHIPPED:
        files = {p.name for p in (ROOT / name).iterdir()}
        required = {"model.keras", "window.onnx", "step.onnx", "rollout.onnx", "metadata.json", "eval.md"}
        assert required | {"COMMAND.txt", "config.json"} <= files, name


@pytest.fixture(scope="module")
def case():
    from qwave.data.sources import held_out_examples

    ex = held_out_examples("curriculum:demo", n_per_family=1, families=["double"], n_frames=4 + FRAMES)["double"][0]
    return ex


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_safely_and_onnx_reproduces_keras(name, case):
    from qwave.export import Forecaster

    from qwave.emulator.artefacts import load_source
    from qwave.emulator.options import RolloutOptions
    from qwave.emulator.rollout import WholeBoxStep, rollout

    src = load_source(ROOT / name)  # safe_mode=True inside
    meta = json.loads((ROOT / name / "metadata.json").read_text())
    assert src.v_scale == meta["v_scale"] == json.loads((ROOT / name / "config.json").read_text())["v_scale"]
    initial = np.asarray(case["psi"], np.float32)[None, :4]
    v = np.asarray(case["potential"], np.float32)
    blend = meta["blend"]
    options = RolloutOptions(blend["sigma"], blend["stride"], blend["renormalize"], blend["v_clip"])
    keras_pred = rollout(WholeBoxStep(src.model, src.grid.nx, options), initial, (v / src.v_scale)[None], FRAMES)
    keras_c = keras_pred[..., 0] + 1j * keras_pred[..., 1]
    for use_rollout in (True, False):
        onnx_pred = Forecaster(ROOT / name, use_rollout=use_rollout).forecast(initial[0], v, FRAMES)
        corr = correlation(keras_c, np.asarray(onnx_pred).reshape(keras_c.shape))
        assert corr.min() >= 0.99999, (name, use_rollout, corr.min())
    truth = np.asarray(case["psi"])[4 : 4 + FRAMES]
    assert correlation(truth[None, ..., 0] + 1j * truth[None, ..., 1], keras_c).min() > 0.95  # a real forecast


def test_shipped_default_reproduces_its_evaluation_table_row():
    """The barrier row of the default's table (12 held-out cases, the same seeded cases in every config)."""
    from qwave.data.sources import held_out_examples
    from qwave.emulator.artefacts import load_source
    from qwave.emulator.evaluate import evaluate

    src = load_source(ROOT / "default")
    table = json.loads((ROOT / "default" / "evaluation" / "table.json").read_text())["rows"]["barrier"]
    families = held_out_examples("curriculum:full", families=["barrier"])
    row = evaluate(src.model, families, src.v_scale, src.grid, n_steps=400)["rows"]["barrier"]
    assert row["cases"] == table["cases"] == 12
    for key in ("mean_corr", "corr@100", "corr@200", "corr@400"):
        assert abs(row[key] - table[key]) < 1e-4, (key, row[key], table[key])

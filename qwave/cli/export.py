"""``qwave export``: a trained emulator as model.keras, SavedModel, window.onnx, step.onnx, rollout.onnx and
metadata.json."""

from __future__ import annotations

from pathlib import Path

import click

from qwave.cli.common import one_line_errors, rollout_options


@click.command("export")
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option(
    "-o", "--out", type=click.Path(path_type=Path), required=True, help="Export directory (created atomically)."
)
@click.option("--opset", type=int, default=17, show_default=True, help="ONNX opset.")
@click.option("--v-scale", type=float, help="Potential scale (hartree), only for a bare .keras file without config.")
@click.option("--no-saved-model", is_flag=True, help="Skip the TensorFlow SavedModel.")
@click.option("--force", is_flag=True, help="Replace an existing export directory.")
@one_line_errors
@rollout_options(batch=False)
def export(model, out, rollout, opset, v_scale, no_saved_model, force):
    """Export MODEL (a .keras file or a training run directory; default: the shipped pretrained model).

    The stride (--stride) is baked into step.onnx and rollout.onnx: export once per stride you need.

    Example: qwave export runs/gru --out exported/gru
    """
    import json

    from qwave.deploy.export import export_model

    path = export_model(
        model,
        out,
        rollout,
        opset=opset,
        v_scale=v_scale,
        overwrite=force,
        saved_model=not no_saved_model,
    )
    meta = json.loads((path / "metadata.json").read_text())
    parity = ", ".join(f"{k} {v:.1e}" for k, v in meta["parity_max_abs_diff"].items())
    roll = meta["onnx"]["rollout"]
    click.echo(
        f"exported {meta['source']} -> {path}; max |diff| vs Keras: {parity}; rollout.onnx ({roll['engine']}) "
        f"min correlation {roll['parity']['min_correlation']:.7f} over {roll['parity']['frames']} frames"
    )

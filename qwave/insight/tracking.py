"""When each symmetry is learned: equivariance errors recorded at every epoch of a training run."""

from __future__ import annotations

import json
from pathlib import Path

import keras

from qwave.insight.probes import ProbeWindows
from qwave.insight.symmetry import window_errors


class SymmetryTracker(keras.callbacks.Callback):
    """Appends {epoch, mirror, phase, time_reversal, forward} to a JSON list after each epoch."""

    def __init__(self, probes: ProbeWindows, path: str | Path, seed: int = 0):
        super().__init__()
        self.probes = probes
        self.path = Path(path)
        self.seed = seed

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        from qwave.emulator.training import write_json

        history = json.loads(self.path.read_text()) if self.path.is_file() else []
        history = [h for h in history if h["epoch"] < epoch + 1]
        history.append({"epoch": epoch + 1, **window_errors(self.model, self.probes, self.seed)})
        write_json(self.path, history)


def plot_history(path, histories: dict[str, list[dict]]) -> None:
    """Equivariance error against epoch, one panel per symmetry, one line per run label."""
    from qwave.io import atomic_path
    from qwave.plots import _pyplot

    plt = _pyplot()
    keys = ("mirror", "phase", "time_reversal", "forward")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.0), sharex=True)
    for ax, key in zip(axes, keys, strict=True):
        for label, hist in histories.items():
            ax.semilogy([h["epoch"] for h in hist], [h[key] for h in hist], label=label)
        ax.set_title(key.replace("_", " ") + (" (accuracy)" if key == "forward" else " error"), fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("relative error")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

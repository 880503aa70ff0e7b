"""What defines a training run: :class:`TrainConfig` (saved as a run's config.json) and the checks of its
values that need no data and no TensorFlow (numbers that would train nonsense, model options)."""

from __future__ import annotations

import dataclasses
import json
import math

from qwave.curriculum import STAGES
from qwave.data.windows import PipelineConfig, WindowSpec
from qwave.emulator.models import MODELS
from qwave.errors import QwaveInputError

STRATEGIES = ("default", "mirrored", "multiworker")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a run (saved as config.json).  Units: learning rates per step, noise in bohr^-1/2."""

    model: str = "hyperlinear"
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    data: str = "tfds:wide"  # "tfds:<config>" (built, or built on first use) or "curriculum:<config>" (simulated now)
    data_dir: str | None = None
    stages: list[str] | None = None  # the training stages drawn from (None: every stage the data has)
    recipe: str | None = None  # the named preset these values started from (qwave.emulator.recipes), for the record
    n_in: int = 4
    window: int = 23
    schedule: str = "uniform"
    overlap_weight: float = 50.0
    dip_weight: float = 1.0  # simulations whose potential dips below 0 drawn this many times as often (windows.py)
    noise: float = 1e-3
    final_noise: float | None = None  # input-noise std at the last step, linear in steps from noise (None: constant)
    phase: bool = True
    mirror: bool = True
    scale: float = 1.0
    pushforward: int = 1  # frames forecast in a row per training window (1: the one-step loss; see pushforward.py)
    steps: int = 100_000
    batch_size: int = 1024
    lr: float = 3e-3
    final_lr: float = 1e-5
    warmup: float = 0.02
    decay: str = "cosine"
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    steps_per_epoch: int = 1000
    checkpoint_every: int = 1
    snapshot_every: int = 0  # epochs between kept snapshots/step-<N>.keras (0: none); for fidelity-vs-steps
    steps_per_execution: int = 1  # train steps per compiled call (amortises per-step overhead at small batch)
    strategy: str = "default"
    jit: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise QwaveInputError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.strategy not in STRATEGIES:
            raise QwaveInputError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if min(self.steps, self.steps_per_epoch, self.batch_size, self.steps_per_execution) < 1:
            raise QwaveInputError("steps, steps_per_epoch, steps_per_execution and batch_size must be positive")
        if self.stages is not None:
            self.stages = list(self.stages)
            unknown = sorted(set(self.stages) - set(STAGES))
            if unknown or not self.stages:
                raise QwaveInputError(f"unknown training stages {unknown}; choose from {', '.join(STAGES)}")
        if self.steps % self.steps_per_epoch:
            raise QwaveInputError(
                f"steps ({self.steps}) must be a multiple of steps_per_epoch ({self.steps_per_epoch})"
            )

    @property
    def epochs(self) -> int:
        return self.steps // self.steps_per_epoch

    def pipeline(self) -> PipelineConfig:
        return PipelineConfig(
            batch_size=self.batch_size,
            overlap_weight=self.overlap_weight,
            dip_weight=self.dip_weight,
            schedule=self.schedule,
            total_steps=self.steps,
            noise=self.noise,
            final_noise=self.final_noise,
            phase=self.phase,
            mirror=self.mirror,
            scale=self.scale,
            targets=self.pushforward,
            seed=self.seed,
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def check_options(cfg: TrainConfig) -> None:
    """Numbers of a TrainConfig that would train nonsense (or crash late) rather than fail."""
    from qwave.curriculum import SCHEDULES

    WindowSpec(cfg.n_in, cfg.window)  # odd window, >= 1 input frame
    finite = {k: getattr(cfg, k) for k in ("lr", "final_lr", "warmup", "weight_decay", "clipnorm", "noise")}
    finite.update(overlap_weight=cfg.overlap_weight, dip_weight=cfg.dip_weight, scale=cfg.scale)
    bad = [k for k, v in finite.items() if not math.isfinite(v)]
    if bad:
        raise QwaveInputError(f"{', '.join(bad)} must be finite numbers")
    rules = [
        (cfg.lr > 0, f"the learning rate must be > 0, got {cfg.lr}"),
        (cfg.final_lr >= 0, f"the final learning rate must be >= 0, got {cfg.final_lr}"),
        (0 <= cfg.warmup <= 1, f"warmup is a fraction of the steps, in [0, 1], got {cfg.warmup}"),
        (cfg.weight_decay >= 0, f"weight decay must be >= 0, got {cfg.weight_decay}"),
        (cfg.clipnorm > 0, f"clipnorm must be > 0, got {cfg.clipnorm}"),
        (cfg.noise >= 0, f"input noise must be >= 0, got {cfg.noise}"),
        (
            cfg.final_noise is None or (math.isfinite(cfg.final_noise) and cfg.final_noise >= 0),
            f"final input noise must be a finite number >= 0, got {cfg.final_noise}",
        ),
        (cfg.overlap_weight > 0, f"overlap weight must be > 0, got {cfg.overlap_weight}"),
        (cfg.dip_weight > 0, f"dip weight must be > 0, got {cfg.dip_weight}"),
        (cfg.scale >= 1, f"scale augmentation must be >= 1 (1: none), got {cfg.scale}"),
        (cfg.pushforward >= 1, f"pushforward is the number of frames forecast per window, >= 1, got {cfg.pushforward}"),
        (cfg.checkpoint_every >= 1, f"checkpoint_every must be >= 1 epoch, got {cfg.checkpoint_every}"),
        (cfg.snapshot_every >= 0, f"snapshot_every must be >= 0 epochs (0: none), got {cfg.snapshot_every}"),
        (cfg.schedule in SCHEDULES, f"unknown schedule {cfg.schedule!r}; choose one of {', '.join(SCHEDULES)}"),
        (cfg.decay in ("linear", "cosine"), f"learning-rate decay must be 'linear' or 'cosine', got {cfg.decay!r}"),
    ]
    for ok, message in rules:
        if not ok:
            raise QwaveInputError(message)


def check_model_kwargs(cfg: TrainConfig) -> None:
    """``cfg.model_kwargs`` are options of the model's constructor, of the type of their defaults."""
    import inspect

    from qwave.emulator.models import Emulator

    cls = MODELS[cfg.model][0]
    params = {}
    for klass in reversed([k for k in cls.__mro__ if isinstance(k, type) and issubclass(k, Emulator)]):
        for name, p in inspect.signature(klass.__init__).parameters.items():
            if name not in ("self", "n_in", "window") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                params[name] = p.default
    unknown = sorted(set(cfg.model_kwargs) - set(params))
    if unknown:
        raise QwaveInputError(
            f"model {cfg.model!r} takes {', '.join(sorted(params)) or 'no options'} (window and input frames have "
            f"their own options); unknown: {', '.join(unknown)}"
        )
    for key, value in cfg.model_kwargs.items():
        default = params[key]
        if isinstance(default, bool):
            ok, what = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()
            ok, what = ok and value >= 1, "a positive integer"
        elif isinstance(default, float):
            ok, what = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        elif isinstance(default, str):
            ok, what = isinstance(value, str), "a string"
        else:
            continue
        if not ok:
            raise QwaveInputError(f"model option {key} must be {what}, got {json.dumps(value)}")

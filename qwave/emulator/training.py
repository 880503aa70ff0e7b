"""Training: Keras ``fit`` on the window stream, AdamW with warm-up + decay, checkpoints, resume, strategies.
The run's configuration is :class:`~qwave.emulator.train_config.TrainConfig` (re-exported here).

A run directory holds ``config.json`` (the full configuration, written first), ``checkpoint.keras`` +
``checkpoint.json`` (model, optimizer state and the epoch reached, every ``checkpoint_every`` epochs),
``logs/`` (TensorBoard), ``history.json`` and the final ``model.keras`` (no optimizer).  An "epoch" is
``steps_per_epoch`` batches.  Because batch ``b`` of the stream depends only on (seed, b) and the
optimizer state is restored, ``resume`` continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from qwave.data.trajectories import Trajectories
from qwave.data.windows import WindowSpec, window_dataset
from qwave.emulator.models import build_model
from qwave.emulator.pushforward import Pushforward
from qwave.emulator.train_config import STRATEGIES, TrainConfig, check_model_kwargs, check_options
from qwave.errors import QwaveInputError
from qwave.io import atomic_path, check_output_dir


@keras.saving.register_keras_serializable(package="qwave")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to ``peak`` over ``warmup_steps``, then ``linear`` or ``cosine`` decay to ``final``
    at ``total_steps`` (constant after)."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int, final: float = 1e-6, kind: str = "cosine"):
        if kind not in ("linear", "cosine"):
            raise QwaveInputError(f"learning-rate decay must be 'linear' or 'cosine', got {kind!r}")
        self.peak, self.final = float(peak), float(final)
        self.warmup_steps, self.total_steps = int(warmup_steps), int(total_steps)
        self.kind = kind

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * step / max(self.warmup_steps, 1)
        frac = tf.clip_by_value((step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 0.0, 1.0)
        shape = 1.0 - frac if self.kind == "linear" else 0.5 * (1.0 + tf.cos(math.pi * frac))
        decayed = self.final + (self.peak - self.final) * shape
        return tf.where(step < self.warmup_steps, warm, decayed)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "final": self.final,
            "kind": self.kind,
        }


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    """AdamW with the warm-up + decay schedule and global-norm gradient clipping."""
    schedule = WarmupDecay(cfg.lr, int(cfg.warmup * cfg.steps), cfg.steps, cfg.final_lr, cfg.decay)
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)


class _MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy whose ``reduce`` accepts what Keras 3's ``fit`` passes it on more than one
    worker (keras-team/keras#20585): a nest of values (the first (x, y) batch, reduced to build the model)
    and ``axis=0`` for per-replica scalars (the step's loss), which has no axis 0: reduced across replicas."""

    def reduce(self, reduce_op, value, axis):
        base = super().reduce

        def one(v):
            scalar = self.experimental_local_results(v)[0].shape.rank == 0
            return base(reduce_op, v, None if scalar else axis)

        return tf.nest.map_structure(one, value)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """default: one device.  mirrored: all GPUs, else all logical CPUs.  multiworker: from TF_CONFIG."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return _MultiWorkerStrategy()
    raise QwaveInputError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def load_trajectories(cfg: TrainConfig, progress: bool = False) -> Trajectories:
    """The training simulations named by ``cfg.data``; a missing ``tfds:<config>`` is built first."""
    from qwave.data.sources import training_trajectories

    return training_trajectories(cfg.data, cfg.data_dir, progress=progress, build=True, stages=cfg.stages)


def training_ranges(traj: Trajectories) -> dict[str, list[float]]:
    """[min, max] of the packets' E0 and of the barrier tops (max V > 0), in hartree, of the training data."""
    out, idx = {}, traj.index
    if traj.e0 is not None and np.isfinite(traj.e0[idx]).all():
        out["e0"] = [float(traj.e0[idx].min()), float(traj.e0[idx].max())]
    tops = traj.potential[idx].max(axis=1) * traj.v_scale
    if np.any(tops > 0):
        out["height"] = [float(tops[tops > 0].min()), float(tops.max())]
    return out


class Checkpoint(keras.callbacks.Callback):
    """Every ``every`` epochs: checkpoint.keras (with optimizer) then checkpoint.json {epoch}, both atomic;
    every ``snapshot_every`` epochs (0: never) also a kept ``snapshots/step-<train step>.keras``."""

    def __init__(self, out_dir: Path, every: int = 1, snapshot_every: int = 0, steps_per_epoch: int = 1):
        super().__init__()
        self.out_dir, self.every = Path(out_dir), int(every)
        self.snapshot_every, self.steps_per_epoch = int(snapshot_every), int(steps_per_epoch)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.snapshot_every and (epoch + 1) % self.snapshot_every == 0:
            path = self.out_dir / "snapshots" / f"step-{(epoch + 1) * self.steps_per_epoch:08d}.keras"
            path.parent.mkdir(exist_ok=True)
            with atomic_path(path) as tmp:  # the emulator itself, loadable and evaluable like model.keras
                save_keras(self.model.step if isinstance(self.model, Pushforward) else self.model, tmp)
        if (epoch + 1) % self.every:
            return
        with atomic_path(self.out_dir / "checkpoint.keras") as tmp:
            save_keras(self.model, tmp)
        write_json(self.out_dir / "checkpoint.json", {"epoch": epoch + 1, "logs": _floats(logs)})


class Throughput(keras.callbacks.Callback):
    """Adds ``windows_per_s`` (training windows per wall-clock second over the epoch) to the logs."""

    def __init__(self, batch_size: int, steps_per_epoch: int):
        super().__init__()
        self.windows = batch_size * steps_per_epoch
        self.t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if logs is not None:
            logs["windows_per_s"] = self.windows / (time.perf_counter() - self.t0)
            logs["lr"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def save_keras(model: keras.Model, path: Path) -> None:
    """``model.save`` without numpy 2's per-variable ``__array__`` copy-keyword DeprecationWarning that
    Keras's TensorFlow backend triggers while saving (log noise at every checkpoint; the file is the same)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="__array__ implementation doesn't accept", category=DeprecationWarning
        )
        model.save(path)


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _floats(logs) -> dict:
    return {k: float(v) for k, v in (logs or {}).items()}


def check_run(
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    resume: bool = False,
    traj: Trajectories | None = None,
    build: bool = True,
) -> Path:
    """Everything :func:`train` can check before any work, without a TensorFlow op (a multi-worker strategy
    must still come first): the options and model options, that ``out_dir`` is (or can be made) a writable
    directory, the run to resume (or that there is none to overwrite), and the training data (``traj``, or
    ``cfg.data``: it parses and is built, unless ``build`` says a missing ``tfds:<config>`` will be)."""
    check_options(cfg)
    check_model_kwargs(cfg)
    out = check_output_dir(out_dir)
    config_path, ckpt, state_path = out / "config.json", out / "checkpoint.keras", out / "checkpoint.json"
    if resume:
        if not (config_path.is_file() and ckpt.is_file() and state_path.is_file()):
            raise QwaveInputError(
                f"nothing to resume in {out}: it needs config.json, checkpoint.keras and checkpoint.json "
                "(start a new run without --resume)"
            )
        try:
            saved = TrainConfig.from_dict(json.loads(config_path.read_text())["train"])
            json.loads(state_path.read_text())["epoch"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise QwaveInputError(
                f"cannot resume from {out}: unreadable config.json or checkpoint.json ({exc})"
            ) from None
        if saved != cfg:
            raise QwaveInputError(f"--resume with a configuration different from {config_path}; pass the same options")
    elif ckpt.exists():
        raise QwaveInputError(f"{out} already holds a run; use --resume or another output directory")
    need = cfg.n_in + cfg.pushforward  # frames per training window
    if traj is not None:
        if traj.shape[1] < need:
            raise QwaveInputError(f"trajectories have {traj.shape[1]} frames; windows need {need}")
    else:
        from qwave.data.sources import check_training_data

        check_training_data(cfg.data, cfg.data_dir, build=build, n_in=cfg.n_in, targets=cfg.pushforward)
    return out


def train(
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    resume: bool = False,
    verbose: int | str = "auto",
    traj: Trajectories | None = None,
    extra_callbacks: list | None = None,
) -> keras.Model:
    """Train (or resume) a run in ``out_dir``; returns the trained model.  ``traj`` overrides ``cfg.data``.

    With ``strategy="multiworker"`` every worker runs this with the same ``cfg`` and ``out_dir``: the chief
    (task ``chief``, else ``worker`` 0) writes the run directory; the other workers write their copies
    (checkpoints, logs, model) to a local scratch directory, removed when they finish, and read ``out_dir``
    only to ``resume`` (so it must be storage they all see).  ``cfg.batch_size`` is the global batch: each
    step, worker ``i`` of ``n`` trains on the ``i``-th ``1/n`` of the batch one process would draw."""
    check_run(cfg, out_dir, resume, traj)  # bad input fails here, before any work; no TF op
    # First: MultiWorkerMirroredStrategy configures collective ops, which must precede other TF work.
    strategy = make_strategy(cfg.strategy)
    out = Path(out_dir)
    if strategy.extended.should_checkpoint:
        return _train(cfg, strategy, out, out, resume, verbose, traj, extra_callbacks)
    resolver = strategy.cluster_resolver
    scratch = Path(tempfile.mkdtemp(prefix=f"qwave-{resolver.task_type}{resolver.task_id}-"))
    try:
        return _train(cfg, strategy, out, scratch, resume, verbose, traj, extra_callbacks)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _train(
    cfg: TrainConfig,
    strategy: tf.distribute.Strategy,
    out: Path,
    dest: Path,
    resume: bool,
    verbose: int | str,
    traj: Trajectories | None,
    extra_callbacks: list | None,
) -> keras.Model:
    """:func:`train` reading the run in ``out`` (to resume) and writing it to ``dest``; :func:`check_run` has
    already checked the run to resume (or that there is none to overwrite)."""
    ckpt, state_path = out / "checkpoint.keras", out / "checkpoint.json"
    dest.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    traj = traj if traj is not None else load_trajectories(cfg, progress=verbose != 0)
    if not resume:
        write_json(
            dest / "config.json",
            {
                "train": cfg.to_dict(),
                "v_scale": traj.v_scale,
                "stages": list(traj.stages),
                "n_sims": traj.n_sims,
                "ranges": training_ranges(traj),
                "n_frames": int(traj.shape[1]),
                "nx": int(traj.shape[2]),
            },
        )
    initial_epoch = json.loads(state_path.read_text())["epoch"] if resume else 0
    with strategy.scope():
        if resume:
            model = keras.models.load_model(ckpt, safe_mode=True)
            optimizer = model.optimizer
        else:
            model = build_model(cfg.model, cfg.n_in, cfg.window, **cfg.model_kwargs)
            if cfg.pushforward > 1:
                model = Pushforward(model, cfg.pushforward)
                model.build((None, cfg.n_in, cfg.window, 3))
            optimizer = make_optimizer(cfg)
        # XLA cannot reach variables mirrored on several logical CPUs (TF known issue); GPUs are fine.
        jit = cfg.jit and (strategy.num_replicas_in_sync == 1 or bool(tf.config.list_logical_devices("GPU")))
        per_call = min(cfg.steps_per_execution, cfg.steps_per_epoch)
        model.compile(optimizer=optimizer, loss="mse", jit_compile=jit, steps_per_execution=per_call)
    ds = window_dataset(
        traj, WindowSpec(cfg.n_in, cfg.window), cfg.pipeline(), start_step=initial_epoch * cfg.steps_per_epoch
    )
    if cfg.strategy == "multiworker":
        # Every worker builds the same stream; tf.distribute splits each batch into one slice per replica and
        # DATA sharding keeps this worker's slices (with sharding OFF every worker would take every slice in
        # turn: all workers training on the same half batch, the stream consumed at half speed).
        opts = tf.data.Options()
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(opts)
    callbacks = [
        Throughput(cfg.batch_size, cfg.steps_per_epoch),
        keras.callbacks.TensorBoard(str(dest / "logs"), update_freq="epoch"),
        Checkpoint(dest, cfg.checkpoint_every, cfg.snapshot_every, cfg.steps_per_epoch),
        keras.callbacks.CSVLogger(str(dest / "history.csv"), append=resume),
        *(extra_callbacks or []),
    ]
    hist = model.fit(
        ds,
        epochs=cfg.epochs,
        steps_per_epoch=cfg.steps_per_epoch,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=verbose,
    )
    history_path = out / "history.json"
    history = json.loads(history_path.read_text()) if resume and history_path.is_file() else {}
    for k, v in hist.history.items():
        history.setdefault(k, []).extend(float(x) for x in v)
    write_json(dest / "history.json", history)
    final = build_model(cfg.model, cfg.n_in, cfg.window, **cfg.model_kwargs)
    final.set_weights(model.get_weights())
    with atomic_path(dest / "model.keras") as tmp:
        save_keras(final, tmp)
    return final


def weights_equal(a: keras.Model, b: keras.Model, atol: float = 0.0) -> bool:
    """True when every weight of ``a`` equals ``b``'s within ``atol``."""
    return all(np.allclose(x, y, rtol=0, atol=atol) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))

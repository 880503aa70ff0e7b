"""Space-time windows cut on the fly with ``tf.data``, and curriculum schedules.

Trajectories are held once in memory (``Trajectories``: psi (S, T, NX, 2), the scaled potential
(S, NX), a stage id per simulation).  The training stream is ``Dataset.counter(start)`` mapped by a
vectorised sampler: batch ``b`` draws, with stateless RNG seeded by (seed, b), a stage per window
from the schedule's weights at step ``b``, a simulation of that stage, a start frame and a centre
cell (windows overlapping the potential's non-zero region ``overlap_weight`` times as likely), and
gathers ``n_in + targets`` frames x ``window`` cells with periodic indices.  Batch ``b`` depends only on
(seed, b), so the stream is deterministic and resuming at step ``k`` is ``counter(k)``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from qwave.curriculum import SCHEDULES
from qwave.data.trajectories import Trajectories
from qwave.errors import QwaveInputError


@dataclasses.dataclass(frozen=True)
class WindowSpec:
    """Window geometry: ``n_in`` input frames, ``window`` cells (odd), 3 input channels (Re, Im, V/v_scale)."""

    n_in: int = 4
    window: int = 23

    def __post_init__(self) -> None:
        if self.window < 1 or self.window % 2 == 0:
            raise QwaveInputError(f"window must be a positive odd number of cells, got {self.window}")
        if self.n_in < 1:
            raise QwaveInputError(f"n_in must be >= 1 input frame, got {self.n_in}")

    @property
    def half(self) -> int:
        return self.window // 2


def overlap_mask(potential: np.ndarray, half: int) -> np.ndarray:
    """(S, NX) bool: the window centred at each cell touches a cell with non-zero potential (periodic)."""
    nz = potential != 0
    out = np.zeros_like(nz)
    for k in range(-half, half + 1):
        out |= np.roll(nz, k, axis=-1)
    return out


def _index_table(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the True positions first (padded with 0) and their count."""
    order = np.argsort(~mask, axis=-1, kind="stable").astype(np.int32)
    return order, mask.sum(-1).astype(np.int32)


def schedule_weights(name: str, n_stages: int, progress: tf.Tensor) -> tf.Tensor:
    """Stage weights (n_stages,) at training ``progress`` in [0, 1] (easy stages first in the order).

    uniform: equal from the start (``pooled``, where a stage weighs its share of the simulations, is
    applied by :func:`window_dataset`; here it reads as uniform).  staged: stage j enters at progress
    j / n_stages (all stages in the mix thereafter, equal weight).  anneal: weights move smoothly from easy to hard,
    w_j ~ exp(-(j / (n - 1) - p)^2 / 0.1) plus a floor of 0.1 so no stage is ever forgotten.
    """
    progress = tf.cast(progress, tf.float32)
    j = tf.range(n_stages, dtype=tf.float32)
    if name in ("uniform", "pooled") or n_stages == 1:
        w = tf.ones([n_stages])
    elif name == "staged":
        w = tf.cast(j <= tf.floor(progress * n_stages), tf.float32)
    elif name == "anneal":
        w = tf.exp(-tf.square(j / (n_stages - 1) - progress) / 0.1) + 0.1
    else:
        raise QwaveInputError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    return w / tf.reduce_sum(w)


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Sampling options: batch size, overlap weighting, schedule, noise and symmetry augmentation.

    ``noise`` is the std of Gaussian noise added to input psi (bohr^-1/2), moving linearly over ``total_steps`` to
    ``final_noise`` when that is given (a noise schedule; None: constant); ``phase`` rotates each window by a
    random global phase, ``mirror`` reflects half the windows in space, ``scale`` multiplies psi by a random
    factor in [1/scale, scale] (all exact symmetries of the linear, parity-symmetric TDSE).  ``targets`` is the
    number of true frames after the inputs: 1 gives y (B, W, 2), k > 1 gives y (B, k, W, 2) for a k-step
    (pushforward) loss; ``targets=1`` draws exactly the stream of earlier qwave versions (their runs resume).
    ``dip_weight`` makes simulations whose potential dips below zero somewhere (wells, rows with a negative
    rectangle) that many times as likely as the others of their stage; under ``pooled`` a stage then weighs its
    share of the simulations' weight.  1 draws the unweighted stream of earlier versions.
    """

    batch_size: int = 1024
    overlap_weight: float = 50.0
    schedule: str = "uniform"
    total_steps: int = 100_000
    noise: float = 0.0
    final_noise: float | None = None
    phase: bool = False
    mirror: bool = False
    scale: float = 1.0
    targets: int = 1
    dip_weight: float = 1.0
    seed: int = 0


def window_dataset(
    traj: Trajectories,
    spec: WindowSpec = WindowSpec(),
    cfg: PipelineConfig = PipelineConfig(),
    start_step: int = 0,
    steps: int | None = None,
) -> tf.data.Dataset:
    """Batches (x (B, n_in, W, 3), y (B, W, 2), or (B, targets, W, 2)) from step ``start_step`` on (endless
    unless ``steps``)."""
    if cfg.schedule not in SCHEDULES:
        raise QwaveInputError(f"unknown schedule {cfg.schedule!r}; choose one of {', '.join(SCHEDULES)}")
    n_sims, n_t, nx, _ = traj.shape
    n_frames = spec.n_in + cfg.targets
    if cfg.targets < 1:
        raise QwaveInputError(f"windows need >= 1 target frame, got {cfg.targets}")
    if n_t < n_frames:
        raise QwaveInputError(f"trajectories have {n_t} frames; windows need {n_frames}")
    over = overlap_mask(traj.potential, spec.half)
    over_idx, over_n = _index_table(over)
    under_idx, under_n = _index_table(~over)
    active = traj.index
    order = active[np.argsort(traj.stage[active], kind="stable")].astype(np.int32)
    n_stages = len(traj.stages)
    counts = np.bincount(traj.stage[active], minlength=n_stages).astype(np.int32)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
    present = tf.constant(counts > 0)
    weighted = cfg.dip_weight != 1.0
    sim_w = np.where(traj.potential.min(-1) < 0, cfg.dip_weight, 1.0)[order]  # in stage order
    cum_w = np.concatenate([[0.0], np.cumsum(sim_w)])  # float64 here; float32 in the graph (sums << 2^24)
    stage_w = cum_w[starts + counts] - cum_w[starts] if weighted else counts  # each stage's total weight
    t_cum_lo, t_cum_w = tf.constant(cum_w[:-1], tf.float32), tf.constant(cum_w[1:], tf.float32)
    t_stage_w = tf.constant(stage_w, tf.float32)

    tensors = traj.tensors()  # the one copy of psi, read in place through the variable's handle
    psi_store, pot_flat = tensors["psi"], tensors["v"]
    t_over_idx, t_under_idx = tf.constant(over_idx), tf.constant(under_idx)
    t_over_n = tf.constant(over_n)
    t_under_n = tf.constant(under_n)
    t_order, t_counts, t_starts = tf.constant(order), tf.constant(counts), tf.constant(starts)
    offsets = tf.range(-spec.half, spec.half + 1, dtype=tf.int32)
    frames = tf.range(n_frames, dtype=tf.int32)
    bsz = cfg.batch_size
    w = float(cfg.overlap_weight)

    def sample(step: tf.Tensor):
        step = tf.cast(step, tf.int32)
        seeds = [tf.stack([tf.constant(cfg.seed, tf.int32), step * 16 + k]) for k in range(9)]
        if cfg.schedule == "pooled":  # every simulation equally likely: a stage weighs its share of them
            weights = tf.constant(stage_w / stage_w.sum(), tf.float32)
        else:
            weights = schedule_weights(cfg.schedule, n_stages, tf.cast(step, tf.float32) / max(cfg.total_steps, 1))
        logits = tf.where(present, tf.math.log(weights + 1e-30), -1e30)
        stage = tf.random.stateless_categorical(logits[None], bsz, seeds[0], dtype=tf.int32)[0]
        u = tf.random.stateless_uniform([bsz], seeds[1])
        first, n_stage = tf.gather(t_starts, stage), tf.gather(t_counts, stage)
        if weighted:  # inverse CDF of the simulations' weights within the stage
            target = tf.gather(t_cum_lo, first) + u * tf.gather(t_stage_w, stage)
            pos = tf.searchsorted(t_cum_w, target, side="right", out_type=tf.int32)
            sim = tf.gather(t_order, tf.clip_by_value(pos, first, first + n_stage - 1))
        else:
            rank = tf.minimum(tf.cast(u * tf.cast(n_stage, tf.float32), tf.int32), n_stage - 1)
            sim = tf.gather(t_order, first + rank)
        t0 = tf.random.stateless_uniform([bsz], seeds[2], 0, n_t - n_frames + 1, dtype=tf.int32)
        n_o = tf.gather(t_over_n, sim)
        n_u = tf.gather(t_under_n, sim)
        p_over = w * tf.cast(n_o, tf.float32) / (w * tf.cast(n_o, tf.float32) + tf.cast(n_u, tf.float32))
        pick_over = tf.random.stateless_uniform([bsz], seeds[3]) < p_over
        u2 = tf.random.stateless_uniform([bsz], seeds[4])
        n_sel = tf.where(pick_over, n_o, n_u)
        r2 = tf.minimum(tf.cast(u2 * tf.cast(n_sel, tf.float32), tf.int32), n_sel - 1)
        nd = tf.stack([sim, r2], -1)
        centre = tf.where(pick_over, tf.gather_nd(t_over_idx, nd), tf.gather_nd(t_under_idx, nd))
        if cfg.mirror:  # half the windows reflected in space: their cells gathered in reverse order
            flip = tf.random.stateless_uniform([bsz], seeds[5]) < 0.5
            offsets_b = tf.where(flip[:, None], -offsets[None, :], offsets[None, :])
        else:
            offsets_b = offsets[None, :]
        cells = tf.math.floormod(centre[:, None] + offsets_b, nx)  # (B, W)
        row = tf.cast(sim[:, None] * n_t + t0[:, None] + frames[None, :], tf.int64)  # (B, F): (sim, frame)
        at = row[:, :, None] * nx + tf.cast(cells[:, None, :], tf.int64)  # int64: psi may hold >= 2^31 rows
        psi = tf.gather(psi_store, at)  # (B, F, W, 2), from the flat (S*T*NX, 2) variable
        v = tf.gather(pot_flat, sim[:, None] * nx + cells)  # (B, W)
        if cfg.phase or cfg.scale != 1.0:
            phi = tf.random.stateless_uniform([bsz], seeds[6], 0.0, 2 * math.pi) if cfg.phase else tf.zeros([bsz])
            amp = tf.exp(tf.random.stateless_uniform([bsz], seeds[7], -math.log(cfg.scale), math.log(cfg.scale)))
            c, s = amp * tf.cos(phi), amp * tf.sin(phi)
            # (re, im) -> (c re - s im, c im + s re): psi * (c, c) + (im, re) * (-s, s), three whole-tensor ops
            cc, ss = tf.stack([c, c], -1)[:, None, None], tf.stack([-s, s], -1)[:, None, None]
            psi = psi * cc + tf.reverse(psi, [-1]) * ss
        x_psi, y = psi[:, : spec.n_in], (psi[:, spec.n_in] if cfg.targets == 1 else psi[:, spec.n_in :])
        if cfg.noise > 0 or cfg.final_noise:
            std = cfg.noise
            if cfg.final_noise is not None:  # linear in the step from noise to final_noise, then held
                progress = tf.minimum(tf.cast(step, tf.float32) / max(cfg.total_steps, 1), 1.0)
                std = cfg.noise + (cfg.final_noise - cfg.noise) * progress
            x_psi = x_psi + std * tf.random.stateless_normal(tf.shape(x_psi), seeds[8])
        v_in = tf.broadcast_to(v[:, None, :, None], [bsz, spec.n_in, spec.window, 1])
        return tf.concat([x_psi, v_in], -1), y

    ds = tf.data.Dataset.counter(start_step, dtype=tf.int64)
    if steps is not None:
        ds = ds.take(steps)
    opts = tf.data.Options()
    opts.deterministic = True
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(4).with_options(opts)

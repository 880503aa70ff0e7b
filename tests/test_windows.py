"""Window pipeline: shapes, periodic wrap, overlap weighting, determinism, schedules, augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from qwave.data.windows import (
    PipelineConfig,
    Trajectories,
    WindowSpec,
    overlap_mask,
    schedule_weights,
    window_dataset,
)
from qwave.errors import QwaveInputError

NX, T, S = 64, 9, 3


def _labelled(stages=("free", "transmission", "tunnelling", "reflection"), stage=None) -> Trajectories:
    """psi Re = cell index, Im = frame + 100 * sim, so every gathered value names its source."""
    cells = np.arange(NX, dtype=np.float32)
    psi = np.zeros((S, T, NX, 2), np.float32)
    psi[..., 0] = cells
    psi[..., 1] = np.arange(T)[None, :, None] + 100 * np.arange(S)[:, None, None]
    pot = np.zeros((S, NX), np.float32)
    pot[:, 30:34] = 7.0
    st = np.zeros(S, np.int32) if stage is None else np.asarray(stage, np.int32)
    return Trajectories(psi=psi, potential=pot / 14.0, stage=st, stages=tuple(stages), v_scale=14.0)


def _batch(traj, step=0, **kw):
    cfg = PipelineConfig(**{"batch_size": 512, **kw})
    x, y = next(iter(window_dataset(traj, WindowSpec(), cfg, start_step=step)))
    return x.numpy(), y.numpy()


def test_shapes_and_periodic_gather():
    traj = _labelled()
    x, y = _batch(traj)
    assert x.shape == (512, 4, 23, 3) and y.shape == (512, 23, 2)
    cells = x[:, 0, :, 0].astype(int)
    # consecutive cells modulo NX, the same in every frame and in the target
    assert np.all(np.mod(np.diff(cells, axis=1), NX) == 1)
    assert np.all(x[:, :, :, 0] == cells[:, None, :]) and np.all(y[..., 0] == cells)
    assert np.any(np.diff(cells, axis=1) < 0), "some window should wrap around the box edge"
    # consecutive frames of one simulation, target is the next frame
    im = np.concatenate([x[..., 1], y[:, None, :, 1]], 1)
    assert np.all(np.diff(im, axis=1) == 1) and np.all(im == im[:, :, :1])
    # V channel is the scaled potential at the same cells
    assert np.allclose(x[:, 0, :, 2], np.where((cells >= 30) & (cells < 34), 0.5, 0.0))


def test_multi_frame_targets_are_the_frames_that_follow():
    """``targets=k`` (the pushforward loss): y holds the k frames after the inputs, at the same cells."""
    x, y = _batch(_labelled(), targets=3)
    assert y.shape == (512, 3, 23, 2)
    im = np.concatenate([x[..., 1], y[..., 1]], 1)  # frame + 100 * sim: consecutive frames of one simulation
    assert np.all(np.diff(im, axis=1) == 1) and np.all(im == im[:, :, :1])
    assert np.all(y[..., 0] == x[:, :1, :, 0]) and im[:, -1, 0].max() % 100 == T - 1  # the last frame is reachable
    with pytest.raises(QwaveInputError, match="need 10"):
        _batch(_labelled(), targets=6)  # 4 + 6 frames from 9


def test_overlap_weighting_statistics():
    traj = _labelled()
    mask = overlap_mask(traj.potential, 11)[0]
    n_o, n_u = mask.sum(), (~mask).sum()
    for w in (1.0, 50.0):
        x, _ = _batch(traj, overlap_weight=w, batch_size=4096)
        touched = np.any(x[:, 0, :, 2] != 0, axis=1).mean()
        expected = w * n_o / (w * n_o + n_u)
        assert abs(touched - expected) < 0.03, (w, touched, expected)


def test_dip_weight_draws_simulations_with_a_well_that_many_times_as_often():
    """Within a stage, a simulation whose potential dips below zero is ``dip_weight`` times as likely; under
    ``pooled`` its stage weighs its share of the weight; with no well anywhere the weighted draw (inverse CDF
    of the weights) is the unweighted stream itself, window for window."""
    traj = _labelled(stage=[0, 0, 1])  # two simulations in the first stage, one in the second
    traj.potential[1, 30:34] = -0.5  # simulation 1 has a well
    for schedule, w, expected in [
        ("uniform", 4.0, [0.5 / 5, 0.5 * 4 / 5, 0.5]),
        ("pooled", 4.0, [1 / 6, 4 / 6, 1 / 6]),
        ("pooled", 1.0, [1 / 3, 1 / 3, 1 / 3]),
    ]:
        x, _ = _batch(traj, schedule=schedule, dip_weight=w, batch_size=8192)
        share = np.bincount((x[:, 0, 0, 1] // 100).astype(int), minlength=S) / len(x)
        assert np.allclose(share, expected, atol=0.02), (schedule, w, share)
    no_well = _labelled(stage=[0, 0, 1])
    plain, weighted = _batch(no_well, seed=3, mirror=True), _batch(no_well, seed=3, mirror=True, dip_weight=4.0)
    assert np.array_equal(plain[0], weighted[0]) and np.array_equal(plain[1], weighted[1])


def test_noise_schedule_moves_linearly_from_noise_to_final_noise():
    """The input noise's std at step b is noise + (final_noise - noise) b / total_steps; a final_noise equal to
    noise is the constant-noise stream itself."""
    traj = _labelled()
    for step, expected in [(0, 0.04), (50, 0.025), (100, 0.01), (150, 0.01)]:
        x, _ = _batch(traj, batch_size=2048, step=step, noise=0.04, final_noise=0.01, total_steps=100)
        ref, _ = _batch(traj, batch_size=2048, step=step)
        assert np.std(x[..., :2] - ref[..., :2]) == pytest.approx(expected, rel=0.02), step
    clean, _ = _batch(traj, seed=5)
    const, _ = _batch(traj, noise=0.02, seed=5)
    same, _ = _batch(traj, noise=0.02, final_noise=0.02, seed=5)
    assert np.allclose(const, same, atol=1e-7) and not np.allclose(const, clean)


def test_deterministic_and_resumable():
    traj = _labelled()
    a = list(window_dataset(traj, cfg=PipelineConfig(batch_size=64, noise=0.01, phase=True, mirror=True)).take(3))
    b = list(window_dataset(traj, cfg=PipelineConfig(batch_size=64, noise=0.01, phase=True, mirror=True)).take(3))
    c = next(
        iter(window_dataset(traj, cfg=PipelineConfig(batch_size=64, noise=0.01, phase=True, mirror=True), start_step=2))
    )
    d = next(iter(window_dataset(traj, cfg=PipelineConfig(batch_size=64, seed=1))))
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    assert np.array_equal(a[2][0], c[0])
    assert not np.array_equal(a[0][0], d[0])


def test_schedules():
    n = 4
    u = schedule_weights("uniform", n, tf.constant(0.3)).numpy()
    assert np.allclose(u, 0.25)
    s0 = schedule_weights("staged", n, tf.constant(0.0)).numpy()
    s_end = schedule_weights("staged", n, tf.constant(0.99)).numpy()
    assert np.allclose(s0, [1, 0, 0, 0]) and np.allclose(s_end, 0.25)
    a0, a1 = (schedule_weights("anneal", n, tf.constant(p)).numpy() for p in (0.0, 1.0))
    assert a0[0] > a0[-1] and a1[-1] > a1[0] and np.all(a0 > 0)
    with pytest.raises(QwaveInputError):
        schedule_weights("bogus", n, tf.constant(0.0))


def test_staged_schedule_draws_only_present_early_stages():
    traj = _labelled(stage=[0, 1, 3])  # free, transmission, reflection (tunnelling empty)
    x, _ = _batch(traj, schedule="staged", total_steps=100, step=0)
    assert set(np.unique(x[:, 0, 0, 1] // 100).astype(int)) == {0}
    x, _ = _batch(traj, schedule="staged", total_steps=100, step=99)
    assert set(np.unique(x[:, 0, 0, 1] // 100).astype(int)) == {0, 1, 2}


def test_phase_and_mirror_augmentation_preserve_density():
    rng = np.random.default_rng(0)
    traj = _labelled()
    traj.psi[...] = rng.normal(size=traj.psi.shape)
    plain, _ = _batch(traj, batch_size=256)
    aug, _ = _batch(traj, batch_size=256, phase=True, mirror=True)
    rho = lambda a: a[..., 0] ** 2 + a[..., 1] ** 2  # noqa: E731
    same = np.isclose(rho(aug), rho(plain), atol=1e-5).all(axis=(1, 2))
    flipped = np.isclose(rho(aug), rho(plain)[:, :, ::-1], atol=1e-5).all(axis=(1, 2))
    assert np.all(same | flipped) and 0.3 < flipped.mean() < 0.7


def test_mirror_reflects_psi_potential_and_target_together():
    """A mirrored window is the plain window (same draw) reversed in space: inputs, V channel and target."""
    traj = _labelled()
    traj.potential[:, 30:34] = np.array([1.0, 2.0, 3.0, 4.0]) / 14.0  # asymmetric, so a reflection shows
    plain_x, plain_y = _batch(traj, batch_size=256)
    x, y = _batch(traj, batch_size=256, mirror=True)
    flipped = np.all(x == plain_x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(flipped | np.all(x == plain_x, axis=(1, 2, 3))) and 0.3 < flipped.mean() < 0.7
    assert np.array_equal(y[flipped], plain_y[flipped][:, ::-1]) and np.array_equal(y[~flipped], plain_y[~flipped])


def test_phase_rotation_is_the_complex_product():
    """With ``phase``, every window of the stream is the plain window times one unit complex number."""
    rng = np.random.default_rng(1)
    traj = _labelled()
    traj.psi[...] = rng.normal(size=traj.psi.shape)
    plain_x, plain_y = _batch(traj, batch_size=64)
    x, y = _batch(traj, batch_size=64, phase=True)
    z0 = plain_x[..., 0] + 1j * plain_x[..., 1]
    z = x[..., 0] + 1j * x[..., 1]
    rot = (z * np.conj(z0)).sum(axis=(1, 2)) / (np.abs(z0) ** 2).sum(axis=(1, 2))
    np.testing.assert_allclose(np.abs(rot), 1.0, atol=1e-5)
    np.testing.assert_allclose(z, z0 * rot[:, None, None], atol=1e-5)
    np.testing.assert_allclose(
        y[..., 0] + 1j * y[..., 1], (plain_y[..., 0] + 1j * plain_y[..., 1]) * rot[:, None], atol=1e-5
    )
    np.testing.assert_array_equal(x[..., 2], plain_x[..., 2])


def test_bad_window_rejected():
    with pytest.raises(QwaveInputError):
        WindowSpec(window=22)


def test_trajectories_from_a_stream():
    """A generator is copied example by example into arrays sized by ``count``; other stages are dropped."""
    rng = np.random.default_rng(0)
    examples = [
        {"psi": rng.normal(size=(T, NX, 2)), "potential": np.full(NX, 7.0), "stage": stage, "e0": float(i)}
        for i, stage in enumerate(["free", "test_well", b"reflection", "free"])
    ]
    traj = Trajectories.from_examples((e for e in examples), 14.0, count=4)
    assert traj.n_sims == 3 and traj.psi.dtype == np.float32
    np.testing.assert_array_equal(traj.stage, [0, 3, 0])
    np.testing.assert_array_equal(traj.e0, [0.0, 2.0, 3.0])
    assert traj.shape == (3, T, NX, 2)
    np.testing.assert_allclose(traj.psi.numpy().reshape(traj.shape)[1], examples[2]["psi"].astype(np.float32))
    np.testing.assert_allclose(traj.potential, 0.5)
    sub = traj.subset(traj.stage == 0)
    assert sub.n_sims == 2 and np.array_equal(sub.e0[sub.index], [0.0, 3.0]) and sub.psi is traj.psi
    assert traj.subset(traj.stage == 3).subset(traj.stage == 0).n_sims == 0
    with pytest.raises(QwaveInputError, match="more than the announced 2"):
        Trajectories.from_examples(iter(examples), 14.0, count=2)
    with pytest.raises(QwaveInputError, match="no examples"):
        Trajectories.from_examples(examples[1:2], 14.0)


def test_subset_draws_only_active_simulations():
    """Windows of a subset come only from its active simulations (Im psi encodes the simulation)."""
    traj = _labelled(stage=[0, 1, 2])
    sub = traj.subset(np.array([True, False, True]))
    _, y = _batch(sub)
    sims = set(np.unique(np.floor(y[..., 1] / 100)).astype(int).tolist())
    assert sims == {0, 2}
    assert sub._tensors is traj._tensors and "psi" in traj._tensors  # one TF view for both


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


def test_psi_is_held_once_while_training_reads_it():
    """from_examples fills one TF variable and the window stream reads it in place: iterating the stream adds
    no copy of psi (tf.data would copy a captured tensor), and the windows hold the examples' values."""
    n_sims, n_t, nx = 24, 40, 40_000  # psi: 307 MB
    examples = (
        {"psi": np.full((n_t, nx, 2), k, np.float32), "potential": np.zeros(nx), "stage": "free"} for k in range(n_sims)
    )
    before = _rss_bytes()
    traj = Trajectories.from_examples(examples, 1.0, stages=("free",), count=n_sims)
    size = n_sims * n_t * nx * 2 * 4
    assert _rss_bytes() - before < 1.3 * size
    loaded = _rss_bytes()
    x, y = next(iter(window_dataset(traj, WindowSpec(), PipelineConfig(batch_size=64))))
    assert _rss_bytes() - loaded < 0.3 * size  # no second copy
    np.testing.assert_array_equal(x.numpy()[:, :, :, 0].std(axis=(1, 2)), 0.0)  # one simulation per window
    assert set(np.unique(y.numpy())) <= set(range(n_sims))

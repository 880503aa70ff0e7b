"""Training: schedule, loss goes down on tiny data, resume equals uninterrupted, two-replica strategy."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from qwave.emulator.training import TrainConfig, WarmupDecay, train, weights_equal
from qwave.errors import QwaveInputError


def test_warmup_decay_schedule():
    s = WarmupDecay(1e-3, 10, 110, 1e-6, "linear")
    assert float(s(0)) == 0.0 and np.isclose(float(s(10)), 1e-3) and np.isclose(float(s(110)), 1e-6)
    assert np.isclose(float(s(60)), 0.5 * (1e-3 + 1e-6))
    c = WarmupDecay.from_config(WarmupDecay(1e-3, 10, 110, kind="cosine").get_config())
    assert np.isclose(float(c(60)), 0.5 * (1e-3 + 1e-6)) and float(c(200)) == pytest.approx(1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(s))
    assert isinstance(restored, WarmupDecay) and restored.get_config() == s.get_config()


@pytest.fixture(scope="module")
def tiny_tfds(tmp_path_factory) -> str:
    """The ``tiny`` config of the qwave_curriculum TFDS dataset, built into a temporary data dir (seconds)."""
    from qwave.data.tfds import build

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    build("tiny", data_dir=data_dir, progress=False)
    return data_dir


def test_short_training_on_tfds_tiny_lowers_loss(tiny_tfds, tmp_path):
    cfg = TrainConfig(
        model="gru", data="tfds:tiny", data_dir=tiny_tfds, steps=120, steps_per_epoch=40, batch_size=256, lr=3e-3
    )
    train(cfg, tmp_path / "run", verbose=0)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["v_scale"] == 10.0  # from the dataset metadata
    assert saved["ranges"] == {"e0": [1.0, 6.0], "height": [2.0, 5.0]}  # tiny: E0 in {1, 3, 6}, BH in {2, 5}
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    for name in ("config.json", "checkpoint.keras", "checkpoint.json", "model.keras", "history.csv"):
        assert (tmp_path / "run" / name).is_file()
    assert (tmp_path / "run" / "logs").is_dir()


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_resume_equals_uninterrupted(tiny_traj, tmp_path):
    cfg = TrainConfig(model="gru_res", steps=16, steps_per_epoch=4, batch_size=64, noise=1e-3, jit=False)
    cfg.snapshot_every = 2
    whole = train(cfg, tmp_path / "whole", traj=tiny_traj, verbose=0)
    snapshots = sorted((tmp_path / "whole" / "snapshots").iterdir())
    assert [p.name for p in snapshots] == ["step-00000008.keras", "step-00000016.keras"]
    assert weights_equal(whole, keras.models.load_model(snapshots[-1], safe_mode=True))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "parts", traj=tiny_traj, verbose=0, extra_callbacks=[_Interrupt()])
    assert json.loads((tmp_path / "parts" / "checkpoint.json").read_text())["epoch"] == 2
    with pytest.raises(QwaveInputError):
        train(cfg, tmp_path / "parts", traj=tiny_traj, verbose=0)  # a second fresh start is refused
    with pytest.raises(QwaveInputError):
        train(TrainConfig(**{**cfg.to_dict(), "lr": 1e-2}), tmp_path / "parts", resume=True, traj=tiny_traj)
    resumed = train(cfg, tmp_path / "parts", resume=True, traj=tiny_traj, verbose=0)
    assert weights_equal(whole, resumed, atol=1e-7)
    history = json.loads((tmp_path / "parts" / "history.json").read_text())
    assert len(history["loss"]) == 2  # the resumed part's epochs (the first two are in history.csv)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import json
        from qwave import curriculum
        from qwave.emulator.training import TrainConfig, make_strategy, train
        from qwave.data.trajectories import Trajectories
        spec = curriculum.TINY
        cases = curriculum.training_cases(spec)["transmission"][:4]
        ex = [e for g in curriculum.group_by_potential(cases, 32) for _, e in curriculum.simulate_group(spec.grid, g)]
        traj = Trajectories.from_examples(ex, spec.v_scale)
        assert make_strategy("mirrored").num_replicas_in_sync == 2
        cfg = TrainConfig(model="gru", steps=20, steps_per_epoch=10, batch_size=128, strategy="mirrored")
        train(cfg, r"{tmp_path / "run"}", traj=traj, verbose=0)
        h = json.load(open(r"{tmp_path / "run" / "history.json"}"))
        assert h["loss"][-1] < h["loss"][0], h
        print("OK", h["loss"])
        """
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]


def test_training_data_is_built_on_first_use(tmp_path):
    """`tfds:<config>` that is not built yet: an error naming the build command, or built when asked."""
    from qwave.data.sources import training_trajectories
    from qwave.errors import QwaveInputError

    with pytest.raises(QwaveInputError, match="qwave dataset build --config tiny"):
        training_trajectories("tfds:tiny", tmp_path)
    assert not list(tmp_path.iterdir())  # the error built nothing
    traj = training_trajectories("tfds:tiny", tmp_path, build=True)
    assert traj.n_sims == 14 and traj.v_scale == 10.0  # tiny's training stages: 2 + 6 + 1 + 5
    with pytest.raises(QwaveInputError, match="unknown training data"):
        training_trajectories("wide")

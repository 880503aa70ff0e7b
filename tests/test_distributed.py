"""MultiWorkerMirroredStrategy with two local worker processes equals one process with the same global batch.

Each worker is a subprocess with its own TF_CONFIG (CPU only).  Every worker builds the same window stream
(batch ``b`` depends only on (seed, b)); tf.distribute cuts each batch into one slice per replica and
``train`` shards it by DATA, so at step ``k`` worker ``i`` trains on the ``i``-th half of the batch ``k`` that
one process draws, and the all-reduced gradient is that whole batch's mean gradient.  Both workers must
therefore end with the weights of a single process trained at the same ``batch_size`` (to float
round-off: the two half-batch means are summed in another order), and far from a single process trained
on half the batch (another stream of windows: the control that the tolerance tells data apart).  With the
stream not sharded (tf.data's OFF policy, as before), both workers took every slice in turn, the same
slice each step, and the weights landed 0.92 (relative) away from the single process.

Exact only while gradient clipping does not bind: Keras clips each replica's gradient before averaging.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

TIMEOUT = 300  # seconds, for the three subprocesses together (they run at the same time)

CONFIG = dict(
    model="hyperlinear",
    data="curriculum:tiny",
    steps=20,
    steps_per_epoch=10,
    batch_size=64,
    lr=3e-3,
    warmup=0.1,
    jit=False,  # XLA is off under a multi-replica CPU strategy anyway: the same kernels on both sides
    seed=3,
)

# argv: mode ("worker": one of the two, or "reference": one process), out dir, result .npz
SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    import keras
    import numpy as np
    from qwave.emulator.models import build_model
    from qwave.emulator.training import TrainConfig, load_trajectories, train

    mode, out, result = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    cfg = json.loads(os.environ["QWAVE_TEST_CONFIG"])
    scratch = []

    class Scratch(keras.callbacks.Callback):  # what a worker left in its scratch dir before clean-up
        def on_train_end(self, logs=None):
            scratch.extend(sorted(str(p.relative_to(os.environ["TMPDIR"])) for p in
                                  Path(os.environ["TMPDIR"]).glob("qwave-*/*")))

    if mode == "worker":
        model = train(TrainConfig(**cfg, strategy="multiworker"), out, verbose=0, extra_callbacks=[Scratch()])
        np.savez(result, *model.get_weights())
        print("SCRATCH", json.dumps(scratch))
    else:  # one process: the same global batch, then half of it; and the initial weights
        traj = load_trajectories(TrainConfig(**cfg))
        same = train(TrainConfig(**cfg), out / "same", verbose=0, traj=traj)
        half = train(TrainConfig(**{**cfg, "batch_size": cfg["batch_size"] // 2}), out / "half", verbose=0, traj=traj)
        keras.utils.set_random_seed(cfg["seed"])  # as train() does before building the model
        init = build_model(cfg["model"])
        np.savez(result, *[w for m in (same, half, init) for w in m.get_weights()])
    print("OK")
    """
)


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("localhost", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", QWAVE_TEST_CONFIG=json.dumps(CONFIG), **extra)
    return env


def _weights(path) -> list[np.ndarray]:
    with np.load(path) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


def _max_rel_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """max over weight tensors of max |a - b| / max |b| (b: the reference, a trained model's weights)."""
    assert len(a) == len(b) and all(x.shape == y.shape for x, y in zip(a, b, strict=True))
    return max(float(np.max(np.abs(x - y)) / float(np.max(np.abs(y)))) for x, y in zip(a, b, strict=True))


def test_two_workers_equal_one_process_with_the_same_global_batch(tmp_path):
    try:
        ports = _free_ports(2)
    except OSError as exc:
        pytest.skip(f"cannot bind local ports for a two-worker cluster: {exc}")
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT)
    jobs = {}  # name -> (argv, environment)
    for i in range(2):
        (tmp_path / f"tmp{i}").mkdir()
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        env = _env(TF_CONFIG=tf_config, TMPDIR=str(tmp_path / f"tmp{i}"))
        jobs[f"worker{i}"] = (["worker", str(tmp_path / f"w{i}"), str(tmp_path / f"w{i}.npz")], env)
    jobs["reference"] = (["reference", str(tmp_path / "ref"), str(tmp_path / "ref.npz")], _env())
    procs, deadline = {}, time.monotonic() + TIMEOUT
    try:
        for name, (argv, env) in jobs.items():
            with open(tmp_path / f"{name}.out", "w") as out, open(tmp_path / f"{name}.err", "w") as err:
                procs[name] = subprocess.Popen([sys.executable, str(script), *argv], env=env, stdout=out, stderr=err)
        # Until all finish; one failing stops the rest (a worker left alone would wait for its peer forever).
        while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
            if any(p.returncode not in (None, 0) for p in procs.values()):
                break
            time.sleep(0.2)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for name, proc in procs.items():
        stdout, stderr = (tmp_path / f"{name}.out").read_text(), (tmp_path / f"{name}.err").read_text()
        assert proc.returncode == 0 and "OK" in stdout, f"{name} exited {proc.returncode}:\n{stderr[-3000:]}"

    # Only the chief writes the run dir; worker 1 checkpointed to a scratch dir and removed it.
    run = tmp_path / "w0"
    for name in ("config.json", "checkpoint.keras", "checkpoint.json", "model.keras", "history.json", "history.csv"):
        assert (run / name).is_file(), name
    assert json.loads((run / "checkpoint.json").read_text())["epoch"] == 2
    assert not (tmp_path / "w1").exists()
    scratch = json.loads((tmp_path / "worker1.out").read_text().split("SCRATCH", 1)[1].splitlines()[0])
    assert any(p.startswith("qwave-worker1-") and p.endswith("/checkpoint.keras") for p in scratch), scratch
    assert not list((tmp_path / "tmp1").glob("qwave-*"))
    chief_scratch = json.loads((tmp_path / "worker0.out").read_text().split("SCRATCH", 1)[1].splitlines()[0])
    assert chief_scratch == []

    w0, w1 = _weights(tmp_path / "w0.npz"), _weights(tmp_path / "w1.npz")
    ref = _weights(tmp_path / "ref.npz")
    n = len(w0)
    same, half, init = ref[:n], ref[n : 2 * n], ref[2 * n :]
    from qwave.emulator.models import load_model

    saved = load_model(run / "model.keras").get_weights()
    assert _max_rel_diff(saved, w0) == 0.0  # the run dir holds the chief's model
    assert _max_rel_diff(w1, w0) == 0.0  # the workers stay in sync, bit for bit

    moved = _max_rel_diff(init, same)  # training changed the weights: the comparison below is not vacuous
    other_data = _max_rel_diff(half, same)  # what a different stream of windows does to the weights
    exact = _max_rel_diff(w0, same)
    print(
        f"2 workers vs 1 process (batch {CONFIG['batch_size']}): {exact:.2e}; batch halved: {other_data:.2e}; "
        f"trained vs initial: {moved:.2e}"
    )
    assert moved > 1e-2 and other_data > 1e-3
    assert exact < 1e-5, "2 workers differ from 1 process (does clipnorm bind? Keras clips per replica)"
    history = json.loads((run / "history.json").read_text())
    reference = json.loads((tmp_path / "ref" / "same" / "history.json").read_text())
    np.testing.assert_allclose(history["loss"], reference["loss"], rtol=1e-4)

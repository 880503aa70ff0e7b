"""Shared fixtures: a small GRU trained briefly on the ``tiny`` curriculum, its evaluation, and its export."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_test_cases() -> dict[str, list[dict]]:
    """{family: [example]}: the tiny config's held-out cases (one per test family, 21 frames, NX = 512)."""
    from qwave import curriculum

    spec = curriculum.TINY
    out = {}
    for split, cases in curriculum.held_out_cases(spec).items():
        out[split.removeprefix("test_")] = [ex for _, ex in curriculum.simulate_group(spec.grid, cases[:1])]
    return out


@pytest.fixture(scope="session")
def tiny_traj():
    """The dataset's ``tiny`` training stages, simulated in memory (same schema as the TFDS examples)."""
    from qwave import curriculum
    from qwave.data.trajectories import Trajectories

    spec = curriculum.TINY
    cases = [c for stage in curriculum.training_cases(spec).values() for c in stage]
    examples = [
        ex
        for g in curriculum.group_by_potential(cases, spec.chunk)
        for _, ex in curriculum.simulate_group(spec.grid, g)
    ]
    return Trajectories.from_examples(examples, spec.v_scale, curriculum.STAGES)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_test_cases, tiny_traj):
    """A training run directory (config.json, model.keras, ...) of a GRU trained 120 steps on ``tiny``,
    with an evaluation report in ``eval/`` (table.json, table.md)."""
    from qwave import curriculum
    from qwave.emulator.evaluate import evaluate, save_report
    from qwave.emulator.training import TrainConfig, train

    spec = curriculum.TINY
    run = tmp_path_factory.mktemp("tiny") / "run"
    cfg = TrainConfig(model="gru", steps=120, steps_per_epoch=60, batch_size=256, lr=3e-3)
    model = train(cfg, run, traj=tiny_traj, verbose=0)
    result = evaluate(model, tiny_test_cases, spec.v_scale, spec.grid, n_steps=16)
    save_report(result, run / "eval", spec.grid, model.n_in, pictures=False)
    return run


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory):
    """``tiny_run`` exported with the defaults (stride 1, sigma 2.8, opset 17)."""
    from qwave.deploy.export import export_model

    return export_model(tiny_run, tmp_path_factory.mktemp("export") / "gru")

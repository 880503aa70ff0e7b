"""`qwave simulate` end to end: output file, picture, and one-line errors."""

import numpy as np
from click.testing import CliRunner

from qwave.cli import main
from qwave.physics.grid import Grid
from qwave.physics.packets import gaussian_packet
from qwave.physics.potentials import barrier
from qwave.physics.simulation import load_run
from qwave.physics.solver import simulate


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_simulate_writes_a_self_describing_npz_and_png(tmp_path):
    out, png = tmp_path / "run.npz", tmp_path / "run.png"
    res = _run(
        "simulate",
        "--quiet",
        "-p",
        "height=5",
        "-p",
        "width=7",
        "--x0",
        "20",
        "--e0",
        "3,6",
        "--frames",
        "21",
        "-o",
        str(out),
        "--plot",
        str(png),
    )
    assert res.exit_code == 0, res.output
    rec = load_run(out)
    grid = Grid(n_frames=21)
    assert rec["psi"].shape == (2, 21, 1024) and np.iscomplexobj(rec["psi"])
    np.testing.assert_array_equal(rec["e0"], [3, 6])
    assert rec["potential_params"] == {"height": 5, "width": 7}
    expected = simulate(gaussian_packet(grid, 20, 2, 6), barrier(grid, 5, 7), grid)
    np.testing.assert_allclose(rec["psi"][1], expected, atol=1e-12)
    assert rec["norm"].shape == (2, 21) and np.allclose(rec["norm"], 1)
    assert rec["grid"] == grid
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_single_run_drops_batch_axis_and_reads_potential_file(tmp_path):
    v = np.zeros(1024)
    v[500:520] = 3.0
    np.save(tmp_path / "v.npy", v)
    out = tmp_path / "one.npz"
    res = _run("simulate", "--quiet", "--potential-file", str(tmp_path / "v.npy"), "--frames", "5", "-o", str(out))
    assert res.exit_code == 0, res.output
    rec = load_run(out)
    assert rec["psi"].shape == (5, 1024)
    np.testing.assert_array_equal(rec["potential"], v)


def test_errors_are_one_line_and_leave_nothing_behind(tmp_path):
    cases = [
        (["--s0", "-1"], "S0 must be positive"),
        (["--e0", "600"], "cannot resolve"),
        (["--x0", "nan"], "X0 must be finite"),
        (["--potential", "wall"], "unknown potential"),
        (["--x0", "abc"], "comma-separated numbers"),
        (["-o", str(tmp_path / "missing" / "x.npz")], "does not exist"),
    ]
    for args, message in cases:
        res = _run("simulate", "--quiet", "--frames", "3", "-o", str(tmp_path / "x.npz"), *args)
        assert res.exit_code != 0, args
        assert message in res.output, (args, res.output)
        assert "Traceback" not in res.output
        assert len([line for line in res.output.splitlines() if line.startswith("Error")]) == 1
    np.save(tmp_path / "short.npy", np.zeros(10))
    res = _run("simulate", "--quiet", "--potential-file", str(tmp_path / "short.npy"), "-o", str(tmp_path / "x.npz"))
    assert res.exit_code == 1 and "shape (1024,)" in res.output
    assert not list(tmp_path.glob("*.npz")) and not list(tmp_path.glob(".*"))


def test_help_reads_well():
    res = _run("--help")
    assert "simulate" in res.output and "arXiv:2203.10200" in res.output
    res = _run("simulate", "--help")
    for opt in ("--potential", "--x0", "--s0", "--e0", "--plot", "--frames"):
        assert opt in res.output


def test_simulate_runs_where_tensorflow_cannot_be_imported(tmp_path):
    """The physics and `qwave simulate` need only numpy: block TensorFlow and Keras, then run."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "import qwave, qwave.physics.solver, qwave.physics.observables, qwave.physics.analytic, qwave.curriculum\n"
        "from qwave.cli import main\n"
        f"main(['simulate', '--quiet', '--frames', '3', '-o', {str(tmp_path / 'a.npz')!r}])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "a.npz").is_file()


def test_top_level_help_lists_every_command_without_tensorflow():
    """`qwave --help` reads the command list from COMMANDS instead of importing every command."""
    import subprocess
    import sys

    from qwave.cli import COMMANDS

    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from qwave.cli import main\n"
        "main(['--help'])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    for name in COMMANDS:
        assert f"  {name} " in res.stdout
    for name, (target, _) in COMMANDS.items():  # every entry points at a real click command
        module, attr = target.split(":")
        assert attr in vars(__import__(module, fromlist=[attr])), name

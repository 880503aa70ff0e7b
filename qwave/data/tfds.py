"""The curriculum dataset from Python: build, load, describe and picture ``qwave_curriculum``.

``config`` is everywhere one of: a built-in name (``demo``, ``full``, ``tiny``), the path of a JSON or
YAML config file (a custom curriculum, see :func:`qwave.curriculum.spec_from_dict`), or the name of a
custom config already built in ``data_dir`` (its spec is read back from the dataset's metadata).

    >>> from qwave.data.tfds import build, load
    >>> build("tiny", data_dir="/tmp/tfds")                       # doctest: +SKIP
    >>> ds = load("tiny", split="tunnelling", data_dir="/tmp/tfds")  # doctest: +SKIP

TensorFlow and TFDS are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from qwave import curriculum
from qwave.errors import QwaveInputError
from qwave.io import check_output_dir

BUILDER_NAME = "qwave_curriculum"

# Bytes of one stored example beyond its arrays (keys, texts, tf.train.Example framing), measured on tiny.
EXAMPLE_OVERHEAD = 600


def _default_data_dir() -> str:
    return os.environ.get("TFDS_DATA_DIR", os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def _built_versions(data_dir: str | os.PathLike, name: str) -> list[Path]:
    root = Path(data_dir) / BUILDER_NAME / name
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if (p / "dataset_info.json").is_file()),
        key=lambda p: tuple(int(x) for x in p.name.split(".") if x.isdigit()),
    )


def resolve_spec(config: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> curriculum.CurriculumSpec:
    """The spec behind ``config``: a built-in name, a config file, or a custom config built in ``data_dir``."""
    config = str(config)
    if config in curriculum.SPECS:
        return curriculum.SPECS[config]
    if config.lower().endswith((".json", ".yaml", ".yml")) or os.sep in config:
        return curriculum.load_config_file(config)
    built = _built_versions(data_dir or _default_data_dir(), config)
    if built:
        meta = json.loads((built[-1] / "metadata.json").read_text())
        return curriculum.spec_from_metadata(meta["spec"])
    raise QwaveInputError(
        f"unknown config {config!r}: use {', '.join(curriculum.SPECS)}, a .json/.yaml config file, "
        f"or the name of a custom config built in {data_dir or _default_data_dir()}"
    )


def _build_command(config: str | os.PathLike, data_dir: str | os.PathLike | None) -> str:
    return f"qwave dataset build --config {config}" + ("" if data_dir is None else f" --data-dir {data_dir}")


def is_built(config: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> bool:
    """True when ``config`` is completely built in ``data_dir``: TFDS's ``is_prepared`` test (the version's
    dataset_info.json, written last) made on the file system, without a builder, so that it runs no TensorFlow
    (a multi-worker strategy must come first) and TFDS logs nothing about an empty directory."""
    spec = resolve_spec(config, data_dir)
    from qwave.datasets import QwaveCurriculum

    variant = Path(data_dir or _default_data_dir()) / BUILDER_NAME / spec.name / str(QwaveCurriculum.VERSION)
    return (variant / "dataset_info.json").is_file()


def require_built(config: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> None:
    """A one-line error naming the build command unless ``config`` is built in ``data_dir`` (nothing is built)."""
    if not is_built(config, data_dir):
        where = data_dir or _default_data_dir()
        raise QwaveInputError(
            f"qwave_curriculum/{resolve_spec(config, data_dir).name} is not built in {where}; "
            f"run `{_build_command(config, data_dir)}`"
        )


def get_builder(config: str | os.PathLike = "demo", data_dir: str | os.PathLike | None = None):
    """The TFDS builder (``qwave_curriculum`` with that config) reading from / writing to ``data_dir``."""
    spec = resolve_spec(config, data_dir)
    import tensorflow_datasets as tfds

    from qwave.datasets import QwaveCurriculumConfig

    data_dir = None if data_dir is None else os.fspath(data_dir)
    if spec.name in curriculum.SPECS:
        return tfds.builder(f"{BUILDER_NAME}/{spec.name}", data_dir=data_dir)
    return tfds.builder(BUILDER_NAME, config=QwaveCurriculumConfig.from_spec(spec), data_dir=data_dir)


def _beam_options(beam: str | None):
    if beam is None:
        return None
    try:
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise QwaveInputError("the Beam path needs Apache Beam: pip install 'qwave[beam]'") from None
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.runner import create_runner

    flags = [f"--{opt.strip()}" for opt in beam.split(",") if opt.strip()]
    options = PipelineOptions(flags=flags or ["--runner=DirectRunner"])
    runner = options.view_as(StandardOptions).runner
    if runner is not None:  # an unknown runner fails here, in one line, not deep inside the build
        try:
            create_runner(runner)
        except (ValueError, ImportError) as exc:
            raise QwaveInputError(f"--beam runner={runner}: {str(exc).splitlines()[0]}") from None
    return options


def build(
    config: str | os.PathLike = "demo",
    data_dir: str | os.PathLike | None = None,
    beam: str | None = None,
    progress: bool = True,
):
    """Generate the dataset (a no-op when it is already complete in ``data_dir``); returns the builder.

    Every packet and potential is checked first, so bad physics fails before any simulation.  ``beam``,
    when given, is a comma-separated list of Beam pipeline options (e.g. ``"runner=DirectRunner,
    direct_num_workers=2"``; ``""`` means the DirectRunner) and switches generation to Apache Beam.
    An interrupted build leaves only TFDS's ``incomplete.*`` directory, which the next build replaces.
    """
    spec = resolve_spec(config, data_dir)
    curriculum.validate(spec)
    data_dir = Path(data_dir or _default_data_dir())
    beam_options = _beam_options(beam)
    check_output_dir(data_dir)  # writes a probe file: os.access says yes to root on read-only mounts
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QwaveInputError(f"cannot create data directory {data_dir}: {exc.strerror}") from None
    import tensorflow_datasets as tfds

    builder = get_builder(config, data_dir)
    builder.progress = progress
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(beam_options=beam_options))
    return builder


def load(
    config: str | os.PathLike = "demo",
    split: str = "transmission",
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    **as_dataset_kwargs,
):
    """A ``tf.data.Dataset`` of one split (any TFDS split expression, e.g. ``"tunnelling[:10]"``).

    Built-in configs go through ``tfds.load("qwave_curriculum/<config>")``; with ``download=True`` a
    missing dataset is built first (the demo build takes minutes, ``full`` much longer).
    """
    spec = resolve_spec(config, data_dir)
    if spec.name in curriculum.SPECS:
        import tensorflow_datasets as tfds

        import qwave.datasets  # noqa: F401  (registers qwave_curriculum)

        return tfds.load(
            f"{BUILDER_NAME}/{spec.name}",
            split=split,
            data_dir=None if data_dir is None else os.fspath(data_dir),
            download=download,
            **as_dataset_kwargs,
        )
    builder = get_builder(config, data_dir)
    if download:
        builder.download_and_prepare()
    return builder.as_dataset(split=split, **as_dataset_kwargs)


def example_bytes(spec: curriculum.CurriculumSpec) -> int:
    """Stored size of one example (bytes): psi, potential and five observables as float32, plus framing."""
    g = spec.grid
    return 4 * (g.n_frames * g.nx * 2 + g.nx + 5 * g.n_frames + 3) + EXAMPLE_OVERHEAD


def info(config: str | os.PathLike = "demo", data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """What a config holds: per split the count, size (measured if built, else estimated) and parameter ranges."""
    spec = resolve_spec(config, data_dir)
    split_cases = curriculum.splits(spec)
    built: dict[str, tuple[int, int]] = {}
    path = None
    versions = _built_versions(data_dir or _default_data_dir(), spec.name)
    if versions:
        path = versions[-1]
        meta = json.loads((path / "dataset_info.json").read_text())
        for s in meta.get("splits", []):
            built[s["name"]] = (int(s.get("numBytes", 0)), sum(int(n) for n in s.get("shardLengths", [])))
    per_example = example_bytes(spec)
    rows = []
    for name, cases in split_cases.items():
        num_bytes, count = built.get(name, (len(cases) * per_example, len(cases)))
        rows.append(
            {
                "split": name,
                "examples": count,
                "bytes": num_bytes,
                "measured": name in built,
                "ranges": curriculum.parameter_ranges(cases),
            }
        )
    return {
        "config": spec.name,
        "description": spec.description,
        "path": None if path is None else str(path),
        "v_scale": spec.v_scale,
        "grid": spec.grid.to_dict(),
        "reflection_max": spec.reflection_max,
        "splits": rows,
        "total_examples": sum(r["examples"] for r in rows),
        "total_bytes": sum(r["bytes"] for r in rows),
    }


def _size(num_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} TiB"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def format_info(summary: dict[str, Any]) -> str:
    """Human-readable :func:`info`."""
    g = summary["grid"]
    lines = [
        f"qwave_curriculum/{summary['config']}: {summary['description']}",
        f"  grid: LX={g['lx']:g} bohr, NX={g['nx']}, dt={g['dt']:g}, {g['steps_per_frame']} steps/frame, "
        f"{g['n_frames']} frames; V scale (network input) {summary['v_scale']:g} hartree",
        f"  stages: transmission E0 > BH; tunnelling E0 <= BH, T >= {summary['reflection_max']:g}; "
        f"reflection E0 <= BH, T < {summary['reflection_max']:g} (T: packet-averaged transmission)",
        "  built: " + (summary["path"] or "no (sizes below are estimates)"),
        f"  {'split':<16}{'examples':>9}{'size':>12}  parameter ranges (bohr, hartree)",
    ]
    for row in summary["splits"]:
        ranges = ", ".join(
            f"{k} {_num(lo)}" + (f"..{_num(hi)}" if hi != lo else "") for k, (lo, hi) in row["ranges"].items()
        )
        size = _size(row["bytes"]) + ("" if row["measured"] else "*")
        lines.append(f"  {row['split']:<16}{row['examples']:>9}{size:>12}  {ranges}")
    lines.append(f"  {'total':<16}{summary['total_examples']:>9}{_size(summary['total_bytes']):>12}")
    return "\n".join(lines)


def plot_examples(
    config: str | os.PathLike,
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    per_split: int = 1,
    splits: list[str] | None = None,
) -> Path:
    """A PNG with the space-time map of Re psi (and V) for the first ``per_split`` examples of each split."""
    from qwave.io import check_writable
    from qwave.plots import save_spacetime

    out = check_writable(out)
    if per_split < 1:
        raise QwaveInputError(f"per_split must be >= 1, got {per_split}")
    require_built(config, data_dir)
    builder = get_builder(config, data_dir)
    available = list(builder.info.splits.keys())
    splits = splits or available
    unknown = [s for s in splits if s not in available]
    if unknown:
        raise QwaveInputError(f"unknown split(s) {', '.join(unknown)}; choose from {', '.join(available)}")
    spec = builder.builder_config.spec
    panels = []
    for split in splits:
        for ex in builder.as_dataset(split=f"{split}[:{per_split}]").as_numpy_iterator():
            psi = ex["psi"][..., 0].astype(np.float64) + 1j * ex["psi"][..., 1]
            params = json.loads(ex["potential_params"].decode())
            shown = ", ".join(f"{k}={v:g}" for k, v in params.items() if isinstance(v, (int, float)))
            title = f"{split}: {ex['family'].decode()} {shown}\nX0={ex['x0']:.3g} S0={ex['s0']:.3g} E0={ex['e0']:.3g}"
            panels.append((psi, ex["potential"].astype(np.float64), title))
    save_spacetime(out, panels, spec.grid)
    return out

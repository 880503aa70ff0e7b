"""qwave_curriculum: Gaussian wave packets in 1D potentials, simulated by qwave's solver (the teacher).

One example is one whole simulation.  The training splits are curriculum stages (free, transmission,
tunnelling, reflection), the ``test_*`` splits held-out potential families; see README.md beside this
file.  Parameter grids live in :mod:`qwave.curriculum` (shared with ablations), this module only wraps
them for TFDS.  Without a Beam runner the examples are generated in-process (tqdm bar per split); with
``DownloadConfig(beam_runner=...)`` or ``beam_options`` (``tfds build --beam_pipeline_options=...``)
``_generate_examples`` returns a Beam PTransform, one element per group of simulations sharing a potential.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import tensorflow_datasets as tfds

from qwave import curriculum


@dataclasses.dataclass(eq=False)
class QwaveCurriculumConfig(tfds.core.BuilderConfig):
    """A builder config carrying its :class:`qwave.curriculum.CurriculumSpec`."""

    spec: curriculum.CurriculumSpec | None = None

    @classmethod
    def from_spec(cls, spec: curriculum.CurriculumSpec) -> QwaveCurriculumConfig:
        return cls(name=spec.name, description=spec.description, spec=spec)


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for qwave_curriculum."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release: configs demo, full, tiny; stages free/transmission/tunnelling/reflection "
        "and ten test families.  Config wide (random landscapes, qwave's training curriculum) added later "
        "without changing the others.",
    }
    BUILDER_CONFIGS = [QwaveCurriculumConfig.from_spec(spec) for spec in curriculum.SPECS.values()]
    DEFAULT_BUILDER_CONFIG_NAME = "demo"

    # Set by qwave.data.tfds.build(progress=False) to silence the per-split simulation bar.
    progress: bool = True

    # TFDS derives the builder's folder (README, CITATIONS.bib, checksums.tsv, dummy_data) from the module
    # name, which is wrong in an editable install, where the package qwave.datasets is the datasets/
    # folder beside qwave/.  Point it at this file's folder instead.
    pkg_dir_path = tfds.core.Path(__file__).parent

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> tfds.core.Path:
        """This file (see ``pkg_dir_path``)."""
        return tfds.core.Path(__file__)

    @property
    def spec(self) -> curriculum.CurriculumSpec:
        return self.builder_config.spec

    def _info(self) -> tfds.core.DatasetInfo:
        spec = self.spec
        n_frames, nx = spec.grid.n_frames, spec.grid.nx
        frames = tfds.features.Tensor
        features = tfds.features.FeaturesDict(
            {
                "psi": tfds.features.Tensor(
                    shape=(n_frames, nx, 2),
                    dtype=np.float32,
                    encoding=tfds.features.Encoding.BYTES,
                    doc="Wave function [Re psi, Im psi] (bohr^-1/2) per frame and cell; frame 0 is the packet.",
                ),
                "potential": tfds.features.Tensor(
                    shape=(nx,), dtype=np.float32, doc="V(x) on the grid (hartree), unscaled."
                ),
                "x0": tfds.features.Scalar(dtype=np.float32, doc="Packet centre X0 (bohr)."),
                "s0": tfds.features.Scalar(dtype=np.float32, doc="Packet spread S0, std of |psi|^2 (bohr)."),
                "e0": tfds.features.Scalar(dtype=np.float32, doc="Packet mean kinetic energy E0 (hartree)."),
                "family": tfds.features.Text(doc="Potential family name, e.g. barrier, free, double."),
                "stage": tfds.features.Text(doc="The split the example belongs to."),
                "potential_params": tfds.features.Text(doc="JSON of the potential's parameters."),
                "norm": frames(shape=(n_frames,), dtype=np.float32, doc="sum |psi|^2 dx per frame."),
                "energy": frames(shape=(n_frames,), dtype=np.float32, doc="<H> per frame (hartree)."),
                "mean_x": frames(shape=(n_frames,), dtype=np.float32, doc="<x> per frame (bohr)."),
                "transmitted": frames(
                    shape=(n_frames,), dtype=np.float32, doc="Probability right of the potential's span."
                ),
                "reflected": frames(shape=(n_frames,), dtype=np.float32, doc="Probability left of the span."),
            }
        )
        metadata = tfds.core.MetadataDict(
            v_scale=spec.v_scale,
            grid=spec.grid.to_dict(),
            frame_dt=spec.grid.frame_dt,
            spec=spec.to_dict(),
            stages=list(curriculum.STAGES),
            stage_rule=(
                "transmission: E0 > BH; tunnelling: E0 <= BH and packet-averaged plane-wave transmission "
                f"T >= {spec.reflection_max}; reflection: E0 <= BH and T < {spec.reflection_max}; free: no potential. "
                "Random landscapes (wells, several rectangles): E0 > max V is transmission (wells included), "
                "otherwise the cells with V > E0 are judged as one rectangle of height max V"
            ),
            test_families=list(curriculum.TEST_FAMILIES),
            test_ranges={
                family: {k: list(r) for k, r in rules.items()} for family, rules in curriculum.TEST_RANGES.items()
            },
            test_center=curriculum.TEST_CENTER,
            random_region=list(curriculum.RANDOM_REGION),
        )
        return self.dataset_info_from_configs(
            features=features,
            metadata=metadata,
            homepage="https://arxiv.org/abs/2203.10200",
        )

    def _download_and_prepare(self, dl_manager, download_config) -> None:
        # Beam is used when the user configured a runner or pipeline options (as `tfds build
        # --beam_pipeline_options=...` does); remember it for _generate_examples.
        self._use_beam = download_config.beam_runner is not None or download_config.beam_options is not None
        super()._download_and_prepare(dl_manager, download_config)

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # nothing is downloaded
        # Checks every packet and potential before the first simulation runs.
        return {name: self._generate_examples(name, cases) for name, cases in curriculum.validate(self.spec).items()}

    def _generate_examples(self, split: str, cases: list[curriculum.Case]):
        grid, chunk = self.spec.grid, self.spec.chunk
        if getattr(self, "_use_beam", False):
            beam = tfds.core.lazy_imports.apache_beam
            groups = curriculum.group_by_potential(cases, chunk)
            return f"Groups_{split}" >> beam.Create(groups) | f"Simulate_{split}" >> beam.FlatMap(
                functools.partial(curriculum.simulate_group, grid)
            )
        return curriculum.iter_examples(grid, cases, chunk, progress=self.progress, desc=f"simulating {split}")

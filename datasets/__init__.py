"""qwave's TFDS dataset builders, installed as the package ``qwave.datasets`` (setup.cfg maps this folder).

``import qwave.datasets`` registers every builder here with TensorFlow Datasets, after which
``tfds.load("qwave_curriculum/<config>", data_dir=...)`` and ``tfds.builder("qwave_curriculum")`` find
them.  The import is cheap (well under a second): it loads ``tensorflow_datasets``' core and qwave's
numpy modules, not TensorFlow itself, which TFDS imports only when a dataset is built or read.

The folder is also laid out for the ``tfds`` command line, one builder per sub-folder:
``tfds build datasets/qwave_curriculum --config tiny``.
"""

from qwave.datasets.qwave_curriculum.qwave_curriculum_dataset_builder import Builder as QwaveCurriculum
from qwave.datasets.qwave_curriculum.qwave_curriculum_dataset_builder import QwaveCurriculumConfig

__all__ = ["QwaveCurriculum", "QwaveCurriculumConfig"]

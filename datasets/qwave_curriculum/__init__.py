"""The ``qwave_curriculum`` TFDS builder: the paper's curriculum and held-out test families.

The builder lives in ``qwave_curriculum_dataset_builder.py`` (TFDS's naming convention); importing
``qwave.datasets`` registers it.  This package file stays empty so that ``tfds build`` can import the
builder module on its own.
"""

"""The deployment side of qwave: a TensorFlow-free forecaster for exported emulators (numpy + onnxruntime).

Installed with qwave as ``qwave.export``; ``forecaster.py`` also works on its own, copied next to an export.
"""

from .forecaster import ForecastDivergedError, Forecaster, ForecastInputError, load_frames, read_metadata

__all__ = ["ForecastDivergedError", "ForecastInputError", "Forecaster", "load_frames", "read_metadata"]

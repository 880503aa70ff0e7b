"""qwave: emulating quantum dynamics with neural networks via knowledge distillation.

A reference implementation of Yao, Cao, Haas, Agarwal, Khanna and Abram (arXiv:2203.10200,
Frontiers in Materials 2023).  The physics modules imported here need only numpy.
"""

from qwave.errors import QwaveInputError
from qwave.physics.grid import PAPER_GRID, Grid
from qwave.physics.packets import gaussian_packet, gaussian_packets
from qwave.physics.potentials import POTENTIALS, make_potential
from qwave.physics.solver import frame_propagator, simulate

__version__ = "0.1.0"

__all__ = [
    "PAPER_GRID",
    "POTENTIALS",
    "Grid",
    "QwaveInputError",
    "frame_propagator",
    "gaussian_packet",
    "gaussian_packets",
    "make_potential",
    "simulate",
]

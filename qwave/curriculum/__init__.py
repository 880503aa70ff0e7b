"""The curriculum and the held-out test families as parameter grids (numpy only, no TensorFlow).

A :class:`CurriculumSpec` (``specs``) describes one dataset configuration: the grid, the training
packets and landscapes, and how many seeded cases each test family gets.  :func:`splits` turns it into
:class:`Case` lists, one per split: the training stages (``stages``) and the ``test_<family>`` splits
(``cases``).  :func:`simulate_group` / :func:`iter_examples` (``simulate``) run the teacher for them;
:func:`spec_from_dict` (``config``) reads a custom configuration.  The TFDS builder, training sources
and ablations share all of this.  Units: Hartree atomic units (bohr, hartree, a.u. of time).
"""

from qwave.curriculum.cases import (
    RANDOM_REGION,
    TEST_CENTER,
    TEST_RANGES,
    held_out_cases,
    parameter_ranges,
    splits,
    validate,
)
from qwave.curriculum.config import load_config_file, spec_from_dict, spec_from_metadata
from qwave.curriculum.ood import OOD_FAMILIES, ood_cases
from qwave.curriculum.simulate import group_by_potential, iter_examples, simulate_group
from qwave.curriculum.specs import (
    BROAD,
    DEMO,
    FULL,
    SCHEDULES,
    SPECS,
    STAGES,
    TEST_FAMILIES,
    TINY,
    WIDE,
    Case,
    CurriculumSpec,
    params_json,
)
from qwave.curriculum.stages import (
    LANDSCAPE_KINDS,
    LANDSCAPE_PACKETS,
    draw_landscape,
    landscape_cases,
    landscape_stage,
    stage_of,
    training_cases,
    width_on_grid,
)

__all__ = [
    "CurriculumSpec",
    "Case",
    "load_config_file",
    "spec_from_metadata",
    "DEMO",
    "FULL",
    "LANDSCAPE_KINDS",
    "LANDSCAPE_PACKETS",
    "OOD_FAMILIES",
    "RANDOM_REGION",
    "SCHEDULES",
    "SPECS",
    "STAGES",
    "TEST_CENTER",
    "TEST_FAMILIES",
    "TEST_RANGES",
    "TINY",
    "WIDE",
    "BROAD",
    "draw_landscape",
    "group_by_potential",
    "held_out_cases",
    "iter_examples",
    "landscape_cases",
    "landscape_stage",
    "ood_cases",
    "params_json",
    "parameter_ranges",
    "simulate_group",
    "spec_from_dict",
    "splits",
    "stage_of",
    "training_cases",
    "validate",
    "width_on_grid",
]

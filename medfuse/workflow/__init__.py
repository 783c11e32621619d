"""The study workflow: the one path from inputs to a study folder that the CLI, the app, the batch
runner and the demo all call, so that they always compute the same thing.

``load_study`` -> ``register_study`` (each series through ``register_series``) -> ``fuse_study`` ->
``quantify_study`` fill one :class:`~medfuse.study.Study`; ``run_study`` runs all four;
``export_study`` / ``write_study`` write it in the one study layout (:mod:`.output`).

Examples
--------
>>> from medfuse.workflow import StudyInputs
>>> StudyInputs(fixed="ct.nii.gz", moving=["pet.nii.gz"]).moving
['pet.nii.gz']
"""

from __future__ import annotations

from medfuse.study import Study
from medfuse.workflow.flow import (
    MODES,
    StudyInputs,
    fuse_study,
    fusion_quality,
    load_study,
    quantify_study,
    register_series,
    register_study,
    resample_series,
    run_study,
    study_of_registrations,
)
from medfuse.workflow.output import (
    EXPORT_FORMATS,
    check_choices,
    ITEMS,
    REPORT_FORMATS,
    check_study_output,
    export_study,
    write_study,
)

__all__ = [
    "EXPORT_FORMATS", "ITEMS", "MODES", "REPORT_FORMATS", "Study", "StudyInputs",
    "check_choices", "check_study_output", "export_study", "fuse_study", "fusion_quality",
    "load_study", "quantify_study", "register_series", "register_study", "resample_series",
    "run_study", "study_of_registrations", "write_study",
]

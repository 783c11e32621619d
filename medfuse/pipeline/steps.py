"""The pipeline steps: each is one call into ``medfuse.workflow`` or an engine, on one study's state.

A step calls one ``medfuse.workflow`` function on the study's :class:`~medfuse.study.Study` (the
same calls ``medfuse report`` and the app make), writes its files into the study's (temporary)
output folder in the one study layout, and records its key numbers in ``state.summary``: the
numbers that become the study's row of the cohort table.

Examples
--------
>>> sorted(STEPS)
['export', 'fuse', 'load', 'quantify', 'register', 'report']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medfuse.pipeline.config import (
    ExportStep,
    FuseStep,
    LoadStep,
    Pipeline,
    QuantifyStep,
    RegisterStep,
    ReportStep,
)
from medfuse.study import Study

logger = logging.getLogger(__name__)


@dataclass
class StudyState:
    """One study in the batch: its :class:`~medfuse.study.Study` (None until loaded) and what the
    cohort table and ``status.json`` record of it."""

    pipeline: Pipeline
    inputs: dict[str, Path]
    out_dir: Path
    study: Study | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def add_output(self, path: Path) -> None:
        """Record a written file or folder (``name/``), relative to the study folder."""
        name = path.relative_to(self.out_dir).as_posix()
        self.outputs.append(f"{name}/" if path.is_dir() else name)


def load(state: StudyState, step: LoadStep) -> None:
    """Load the fixed, moving and mask inputs (``medfuse.workflow.load_study``; an RTSTRUCT mask
    is rasterised on the fixed grid)."""
    from medfuse.workflow import StudyInputs, load_study

    pipeline, paths = state.pipeline, state.inputs
    specs = {r: spec for r, spec in pipeline.inputs.items() if r in paths}
    state.study = load_study(StudyInputs(
        fixed=paths[pipeline.fixed_role],
        moving=[paths[r] for r in pipeline.moving_roles],
        masks=[paths[r] for r in pipeline.mask_roles if r in paths],
        modalities={str(paths[r]): spec.modality for r, spec in specs.items() if spec.modality},
        units={str(paths[r]): spec.units for r, spec in specs.items() if spec.units},
        roles=pipeline.moving_roles, fixed_role=pipeline.fixed_role,
    ))
    study = state.study
    study.parameters["pipeline"] = pipeline.name
    for role, volume in [(study.fixed_role, study.fixed), *zip(study.roles, study.moving)]:
        state.summary[f"{role}_size"] = "x".join(map(str, volume.size))


def register(state: StudyState, step: RegisterStep) -> None:
    """Bring each moving series onto the fixed grid (``medfuse.workflow.register_study``)."""
    from medfuse.workflow import register_study

    register_study(state.study, mode=step.mode, preset=step.preset, params=step.params)
    for role, result in zip(state.study.roles, state.study.registrations):
        state.summary[f"{role}_registration"] = "geometry" if result is None else "registered"


def fuse(state: StudyState, step: FuseStep) -> None:
    """Fuse the fixed series with its partner (``medfuse.workflow.fuse_study``)."""
    from medfuse.workflow import fuse_study

    fuse_study(state.study, method=step.method, partner=step.partner)
    state.summary["fusion_method"] = step.method
    for key in ("EN", "SF", "MI", "VIF", "Qabf", "SSIM"):
        if key in state.study.fusion_metrics:
            state.summary[f"fusion_{key.lower()}"] = round(float(state.study.fusion_metrics[key]), 4)


def quantify(state: StudyState, step: QuantifyStep) -> None:
    """ROI statistics of every series under each mask, each on its own grid
    (``medfuse.workflow.quantify_study``: the numbers of the study report).

    Cohort columns are named ``<input>_<roi>_<statistic>``, e.g. ``pet_gtv_suv_max``.
    """
    from medfuse.io.paths import safe_name
    from medfuse.workflow import quantify_study

    quantify_study(state.study)
    for entry in state.study.rois:
        prefix = safe_name(f"{entry['role']}_{entry['name']}", identifier=True)
        for key in ("volume_ml", "mean", "hu_mean", "suv_max", "suv_mean", "suv_peak", "mtv_ml",
                    "tlg"):
            if entry.get(key) is not None:
                state.summary[f"{prefix}_{key}"] = round(float(entry[key]), 4)


def report(state: StudyState, step: ReportStep) -> None:
    """Write ``report.json``/``.html``/``.pdf`` in the study layout
    (``medfuse.workflow.export_study``); a study with masks is quantified first."""
    from medfuse.workflow import export_study, quantify_study

    if state.study.masks and not state.study.rois:
        quantify_study(state.study)
    written = export_study(state.study, state.out_dir, items=(), formats=(),
                           reports=tuple(step.formats))
    for path in written.values():
        state.add_output(path)


def export(state: StudyState, step: ExportStep) -> None:
    """Write the chosen items in the chosen formats in the study layout
    (``medfuse.workflow.export_study``, see docs/architecture.md)."""
    from medfuse.workflow import export_study

    written = export_study(state.study, state.out_dir, items=tuple(step.items),
                           formats=tuple(step.formats), reports=())
    for path in written.values():
        state.add_output(path)


#: step name -> function(state, step config)
STEPS: dict[str, Callable[[StudyState, Any], None]] = {
    "load": load, "register": register, "fuse": fuse, "quantify": quantify, "report": report,
    "export": export,
}


class StepFailed(Exception):
    """A step raised; ``step`` names it and ``__cause__`` is the original error."""

    def __init__(self, step: str) -> None:
        self.step = step
        super().__init__(f"step {step!r} failed")


def run_steps(pipeline: Pipeline, inputs: dict[str, Path], out_dir: Path) -> StudyState:
    """Run every step of ``pipeline`` on one study, writing into ``out_dir``.

    Raises
    ------
    StepFailed
        A step raised; the original error is its ``__cause__``.
    """
    state = StudyState(pipeline=pipeline, inputs=inputs, out_dir=out_dir)
    for step in pipeline.steps:
        logger.info("step %s", step.step)
        start = time.perf_counter()
        try:
            STEPS[step.step](state, step)
        except Exception as err:
            raise StepFailed(step.step) from err
        state.timings[f"{step.step}_s"] = round(time.perf_counter() - start, 3)
    return state

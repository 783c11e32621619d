"""The pipeline steps: each is one call into ``medfuse.workflow`` or an engine, on one study's state.

A step reads what earlier steps left in :class:`StudyState`, adds its own results, writes its files
into the study's (temporary) output folder, and records its key numbers in ``state.summary``: the
numbers that become the study's row of the cohort table.

Examples
--------
>>> sorted(STEPS)
['export', 'fuse', 'load', 'quantify', 'register', 'report']
"""

from __future__ import annotations

import logging
import re
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
from medfuse.volume import Volume

logger = logging.getLogger(__name__)


@dataclass
class StudyState:
    """What the steps of one study have produced so far; volumes are keyed by input name."""

    pipeline: Pipeline
    inputs: dict[str, Path]
    out_dir: Path
    fixed: Volume | None = None
    moving: dict[str, Volume] = field(default_factory=dict)
    masks: dict[str, Volume] = field(default_factory=dict)
    registered: dict[str, Volume] = field(default_factory=dict)
    registrations: dict[str, Any] = field(default_factory=dict)
    fused: Volume | None = None
    fusion_metrics: dict[str, float] = field(default_factory=dict)
    roi: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def as_result(self) -> Any:
        """The ``medfuse.workflow.StudyResult`` of what has run so far (what reports read)."""
        from medfuse.workflow import StudyResult

        roles = list(self.moving)
        return StudyResult(
            fixed=self.fixed, moving=[self.moving[r] for r in roles],
            registered=[self.registered.get(r, self.moving[r]) for r in roles],
            registrations=[self.registrations.get(r) for r in roles], fused=self.fused,
            fusion_metrics=dict(self.fusion_metrics), masks=list(self.masks.values()),
            parameters=self._parameters(),
            timings=dict(self.timings),
        )

    def _parameters(self) -> dict[str, Any]:
        """The parameters under the names ``medfuse.workflow.run_study`` records them."""
        reg, fuse = self.pipeline.step("register"), self.pipeline.step("fuse")
        return {
            "registration_mode": getattr(reg, "mode", None),
            "preset": getattr(reg, "preset", None),
            "params": str(reg.params) if getattr(reg, "params", None) else None,
            "fusion_method": getattr(fuse, "method", None),
            "pipeline": self.pipeline.name,
        }

    def add_output(self, path: Path) -> None:
        """Record a written file or folder (``name/``), relative to the study folder."""
        name = path.relative_to(self.out_dir).as_posix()
        self.outputs.append(f"{name}/" if path.is_dir() else name)


def load(state: StudyState, step: LoadStep) -> None:
    """Load the fixed, moving and mask inputs (``medfuse.workflow.load_inputs``)."""
    from medfuse.workflow import StudyInputs, load_inputs

    pipeline, paths = state.pipeline, state.inputs
    masks = [r for r in pipeline.mask_roles if r in paths]
    modalities = {str(paths[r]): spec.modality for r, spec in pipeline.inputs.items()
                  if r in paths and spec.modality}
    units = {str(paths[r]): spec.units for r, spec in pipeline.inputs.items()
             if r in paths and spec.units}
    fixed, moving, mask_volumes = load_inputs(StudyInputs(
        fixed=paths[pipeline.fixed_role],
        moving=[paths[r] for r in pipeline.moving_roles],
        masks=[paths[r] for r in masks],
        modalities=modalities,
        units=units,
    ))
    state.fixed = fixed
    state.moving = dict(zip(pipeline.moving_roles, moving))
    state.masks = dict(zip(masks, mask_volumes))
    for role, volume in [(pipeline.fixed_role, fixed), *state.moving.items()]:
        state.summary[f"{role}_size"] = "x".join(map(str, volume.size))


def register(state: StudyState, step: RegisterStep) -> None:
    """Bring each moving series onto the fixed grid (``medfuse.workflow.register_series``)."""
    from medfuse.workflow import register_series

    for role, volume in state.moving.items():
        on_fixed, result = register_series(state.fixed, volume, mode=step.mode, preset=step.preset,
                                           params=step.params)
        state.registered[role] = on_fixed
        state.registrations[role] = result
        state.summary[f"{role}_registration"] = "geometry" if result is None else "registered"


def fuse(state: StudyState, step: FuseStep) -> None:
    """Fuse the fixed series with the partner series (``medfuse.fusion.fuse``)."""
    from medfuse import fusion

    from medfuse.workflow import fusion_quality

    partner = step.partner or state.pipeline.moving_roles[0]
    state.fused = fusion.fuse([state.fixed, state.registered[partner]], method=step.method)
    state.fusion_metrics = fusion_quality(state.fused, state.fixed, state.registered[partner])
    state.summary["fusion_method"] = step.method
    for key in ("EN", "SF", "MI", "VIF", "Qabf", "SSIM"):
        if key in state.fusion_metrics:
            state.summary[f"fusion_{key.lower()}"] = round(float(state.fusion_metrics[key]), 4)


def quantify(state: StudyState, step: QuantifyStep) -> None:
    """ROI statistics of every series under each mask, each series on its own grid
    (``medfuse.report.document.study_rois``: the same numbers as the study report).

    Cohort columns are named ``<input>_<roi>_<statistic>``, e.g. ``pet_gtv_suv_max``.
    """
    from medfuse.report.document import series_names, study_rois

    result = state.as_result()
    roles = dict(zip(series_names(result), [state.pipeline.fixed_role, *state.moving]))
    state.roi = study_rois(result)
    for entry in state.roi:
        prefix = _column(f"{roles.get(entry['series'], entry['series'])}_{entry['name']}")
        for key in ("volume_ml", "mean", "hu_mean", "suv_max", "suv_mean", "suv_peak", "mtv_ml",
                    "tlg"):
            if entry.get(key) is not None:
                state.summary[f"{prefix}_{key}"] = round(float(entry[key]), 4)


def _column(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def report(state: StudyState, step: ReportStep) -> None:
    """Write ``report.json``/``.html``/``.pdf`` (``medfuse.report.write_report``)."""
    from medfuse.report import write_report

    for path in write_report(state.as_result(), state.out_dir, formats=tuple(step.formats)).values():
        state.add_output(path)


def export(state: StudyState, step: ExportStep) -> None:
    """Write the chosen items in the chosen formats (``medfuse.report.exports``): volumes as
    ``<input>[_registered].nii.gz`` and ``<input>[_registered]_dicom/``, the fused overlay under
    ``overlays/``, masks as ``masks_seg/seg.dcm``, transforms under ``transforms/<input>/``.

    DICOM series are written for volumes on the fixed grid only (fixed, registered, fused), in the
    fixed series' study and frame of reference; masks go to DICOM as SEG (format ``seg``).
    """
    from medfuse.report.document import lesion_centre
    from medfuse.report.exports import (
        export_masks_seg,
        export_overlays,
        export_transforms,
        export_volumes,
    )

    fixed_role, formats = state.pipeline.fixed_role, set(step.formats)
    nifti: dict[str, Volume] = {}
    for item in step.items:
        if item == "fixed":
            nifti[fixed_role] = state.fixed
        elif item == "fused" and state.fused is not None:
            nifti["fused"] = state.fused
        elif item != "fused":
            source = {"moving": state.moving, "registered": state.registered,
                      "masks": state.masks}[item]
            nifti.update({f"{role}{'_registered' if item == 'registered' else ''}": volume
                          for role, volume in source.items()})
    on_fixed_grid = {name: v for name, v in nifti.items()
                     if name in (fixed_role, "fused") or name.endswith("_registered")}
    written = export_volumes(nifti, state.out_dir, formats=formats & {"nifti"})
    written.update(export_volumes(on_fixed_grid, state.out_dir, reference=state.fixed,
                                  formats=formats & {"dicom"}))
    if formats & {"png", "dicom"}:
        written.update(export_overlays(state.fixed, _overlay_partner(state),
                                       state.out_dir / "overlays",
                                       lesion_centre(state.as_result())[0],
                                       formats=formats & {"png", "dicom"}))
    if "seg" in formats and state.masks:
        source = state.fixed.meta.get("source")
        if state.fixed.meta.get("format") == "dicom" and source:
            written["seg"] = export_masks_seg(list(state.masks.values()), source,
                                              state.out_dir / "masks_seg")
        else:
            logger.info("the fixed series is not DICOM: masks are not written as DICOM SEG")
    if "transforms" in formats:
        written.update(export_transforms(state.registrations, state.out_dir / "transforms"))
    for path in written.values():
        state.add_output(path)


def _overlay_partner(state: StudyState) -> Volume | None:
    """The registered series of the overlay: the fuse step's partner, else the first functional."""
    from medfuse.report.exports import overlay_partner

    fuse_step = state.pipeline.step("fuse")
    partner = getattr(fuse_step, "partner", None)
    if partner in state.registered:
        return state.registered[partner]
    return overlay_partner(state.as_result())


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

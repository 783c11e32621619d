"""The one output layout of a study, written by ``medfuse report``, ``medfuse run``, the app's
Export and the demo (documented in docs/architecture.md, "Study folder")::

    DIR/report.json, report.html, report.pdf      the report (reports)
    DIR/volumes/<fixed>.nii.gz                    item fixed (the fixed series' role name)
    DIR/volumes/<role>.nii.gz                     item moving, on its own grid
    DIR/volumes/<role>_registered.nii.gz          item registered, on the fixed grid
    DIR/volumes/fused.nii.gz                      item fused
    DIR/volumes/<name>_dicom/                     format dicom: each of those on the fixed grid
    DIR/masks/mask_<i>.nii.gz, DIR/masks/seg.dcm  item masks (nifti), format seg (DICOM SEG)
    DIR/overlays/overlay_<plane>.png, overlay_montage.png, overlay_sc/   formats png, dicom
    DIR/transforms/<role>/transform.tfm, TransformParameters.<i>.txt     format transforms
    DIR/transforms/<role>/jacobian.nii.gz         format transforms, deformable results

:func:`write_study` writes the whole folder into a hidden temporary beside ``DIR`` and renames it
into place when complete, so an interrupted run leaves no partial folder (the next run removes the
temporary); ``medfuse run`` writes each study the same way (its own temporary, plus
``status.json``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from medfuse.report.exports import FORMATS as EXPORT_FORMATS
from medfuse.report.exports import check_choices
from medfuse.study import Study
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["EXPORT_FORMATS", "ITEMS", "REPORT_FORMATS", "check_choices", "check_study_output",
           "export_study", "study_volumes", "write_study"]

#: what can be exported, and in which formats
ITEMS = ("fixed", "moving", "registered", "fused", "masks")
REPORT_FORMATS = ("json", "html", "pdf")
#: the file whose presence marks a folder as a study folder MedFuse wrote (and may replace)
MARKER = "report.json"


def study_volumes(study: Study, items: Iterable[str]) -> tuple[dict[str, Volume], set[str]]:
    """The volumes of ``items`` by output name, and the names of those on the fixed grid."""
    named: dict[str, Volume] = {}
    items = set(items)
    if "fixed" in items:
        named[study.fixed_role] = study.fixed
    if "moving" in items:
        named.update(zip(study.roles, study.moving))
    if "registered" in items:
        named.update({f"{role}_registered": v for role, v in zip(study.roles, study.registered)})
    if "fused" in items and study.fused is not None:
        named["fused"] = study.fused
    on_fixed = {name for name in named
                if name in (study.fixed_role, "fused") or name.endswith("_registered")}
    return named, on_fixed


def export_study(
    study: Study,
    folder: str | Path,
    *,
    items: Iterable[str] = ("registered", "fused"),
    formats: Iterable[str] = ("nifti",),
    reports: Iterable[str] = REPORT_FORMATS,
    include_patient_identity: bool = False,
    title: str = "MedFuse study report",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``study`` into ``folder`` in the study layout (see the module docstring).

    Parameters
    ----------
    items : which volumes to write (:data:`ITEMS`).
    formats : how (:data:`EXPORT_FORMATS`); DICOM series only for volumes on the fixed grid, in
        the fixed series' study and frame of reference.
    reports : which of ``report.json/.html/.pdf`` to write (none: no report).
    include_patient_identity : put the patient's identity into the report and the DICOM files
        (anonymous placeholders otherwise).
    extra : more top-level sections of ``report.json`` (the demo adds its ``truth``).

    Returns ``{label: path}`` of everything written.
    """
    from medfuse.report import write_report
    from medfuse.report.document import lesion_centre
    from medfuse.io.seg import write_seg
    from medfuse.report.exports import export_overlays, export_transforms, export_volumes

    items = check_choices(items, ITEMS, "item(s)")
    formats = check_choices(formats)
    reports = check_choices(reports, REPORT_FORMATS, "report format(s)")
    folder = Path(folder)
    patient = {k: str(v) for k, v in study.patient.items()
               if k in ("name", "id", "birth_date", "sex") and v} or None
    patient = patient if include_patient_identity else None
    named, on_fixed = study_volumes(study, items)
    volumes = folder / "volumes"
    written = export_volumes(named, volumes, formats={"nifti"} & set(formats))
    written.update(export_volumes({n: v for n, v in named.items() if n in on_fixed}, volumes,
                                  reference=study.fixed, formats={"dicom"} & set(formats),
                                  patient=patient))
    if "masks" in items and "nifti" in formats:
        masks = dict(zip([n.replace(" ", "_") for n in study.mask_names()], study.masks))
        written.update(export_volumes(masks, folder / "masks", formats=("nifti",)))
    if "seg" in formats and study.masks:
        source = study.fixed.meta.get("source")
        if study.fixed.meta.get("format") == "dicom" and source:
            written["masks DICOM SEG"] = write_seg(study.masks, source, folder / "masks",
                                                   patient=patient)
        else:
            logger.info("the fixed series is not DICOM: masks are not written as DICOM SEG")
    if {"png", "dicom"} & set(formats) and study.is_registered:
        written.update(export_overlays(study.fixed, study.partner(), folder / "overlays",
                                       lesion_centre(study)[0],
                                       formats={"png", "dicom"} & set(formats), patient=patient))
    if "transforms" in formats:
        written.update(export_transforms(dict(zip(study.roles, study.registrations)),
                                         folder / "transforms"))
    if reports:
        written.update(write_report(study, folder, include_patient_identity=include_patient_identity,
                                    title=title, formats=reports, exports=written, extra=extra))
    return written


def write_study(study: Study, out: str | Path, *, inputs: Iterable[str | Path] = (),
                **options: Any) -> dict[str, Path]:
    """:func:`export_study` into a temporary folder beside ``out``, renamed to ``out`` when
    complete (an earlier study folder there is replaced; a folder of other files is refused).

    ``inputs`` are the study's input paths, which ``out`` may sit beside but never replace; check
    them with :func:`check_study_output` before loading to fail before any work.
    """
    from medfuse.io.paths import output_folder

    out = Path(out)
    check_study_output(out, inputs)
    with output_folder(out, marker=MARKER) as tmp:
        written = export_study(study, tmp, **options)
    return {label: out / Path(path).relative_to(tmp) for label, path in written.items()}


def check_study_output(out: str | Path, inputs: Iterable[str | Path]) -> None:
    """Refuse a study output folder before any work (see :func:`medfuse.io.paths.check_output`;
    an existing folder must be empty or an earlier study folder).

    Raises
    ------
    InputError
        One line naming ``out`` and what is wrong with it.
    """
    from medfuse.io.paths import check_output, check_replaceable

    check_output(out, list(inputs))
    check_replaceable(out, marker=MARKER)

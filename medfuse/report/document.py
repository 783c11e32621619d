"""The report document: every number of a study with its provenance, as one JSON-ready dict.

The schema is versioned (``SCHEMA_VERSION``) and described in ``docs/report_schema.md``. HTML and PDF
are renderings of this document plus figures; nothing is computed twice.

No patient name, ID, birth date or input path is written unless ``include_patient_identity`` is set
(folder names often carry the patient ID): inputs are identified by content hashes (sha256).

Examples
--------
>>> jsonable({"a": float("nan"), "b": [1, 2.5]})
{'a': None, 'b': [1, 2.5]}
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import math
import platform
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.quantify.roi import roi_statistics
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

SCHEMA = "medfuse-report"
SCHEMA_VERSION = "1.1"
#: distribution names whose versions the document records (import names differ for some)
VERSIONED_PACKAGES = ("medfuse", "itk-elastix", "itk", "monai", "torch", "numpy", "SimpleITK",
                      "pydicom", "highdicom", "nibabel", "matplotlib", "reportlab")
SCANNER_ALIGNMENT = "scanner alignment kept"

#: fusion metric -> what it measures (definitions in docs/metrics.md)
FUSION_METRICS = {
    "EN": "entropy of the fused image (bits): information content",
    "SD": "standard deviation: contrast",
    "SF": "spatial frequency: amount of fine detail",
    "AG": "average gradient: sharpness",
    "MI": "mutual information with both inputs (bits): information carried over",
    "MI_nats": "the same mutual information in nats (the CDDFuse evaluator's unit)",
    "SCD": "sum of the correlations of differences: complementary detail kept (at most 2)",
    "VIF": "visual information fidelity to both inputs",
    "Qabf": "edge information carried over from the inputs (0 to 1)",
    "SSIM": "structural similarity to both inputs, summed (at most 2)",
    "PSNR": "peak signal-to-noise ratio against the inputs (dB)",
    "CC": "mean correlation with the inputs (at most 1)",
}
FUSION_LEGEND = ("Higher is better for every metric. Computed on the central axial slice of the "
                 "fused image and of its two inputs, each on a 0-255 scale as its modality "
                 "prescribes; definitions and conventions in docs/metrics.md.")


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into Python numbers and lists, NaN/inf into None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, (str, type(None))):
        return value
    if isinstance(value, Path):
        return str(value)
    return str(value)


def versions() -> dict[str, str | None]:
    """Installed versions of MedFuse and the packages its numbers depend on (None if absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(volume: Volume) -> dict[str, Any]:
    """sha256 of the files a volume came from (a folder: of its sorted file hashes), else its voxels.

    Examples
    --------
    >>> v = Volume(np.zeros((2, 2, 2), np.uint8))
    >>> content_hash(v)["of"]
    'voxels'
    """
    source = volume.meta.get("source")
    path = Path(source) if source else None
    if path is not None and path.is_file():
        return {"sha256": _file_sha256(path), "of": "file", "n_files": 1}
    if path is not None and path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        digest = hashlib.sha256()
        for f in files:
            digest.update(f"{f.relative_to(path).as_posix()}\0{_file_sha256(f)}\n".encode())
        return {"sha256": digest.hexdigest(), "of": "folder", "n_files": len(files)}
    digest = hashlib.sha256(np.ascontiguousarray(volume.array).tobytes())
    digest.update(repr((volume.array.shape, str(volume.array.dtype), volume.spacing,
                        volume.origin, volume.direction.round(8).tolist())).encode())
    return {"sha256": digest.hexdigest(), "of": "voxels", "n_files": 0}


def redact(text: str, identity: dict[str, Any]) -> str:
    """``text`` with the patient's ID and name parts replaced by ``[withheld]``.

    Examples
    --------
    >>> redact("IBSI_1_STS_001_CT_image", {"id": "STS_001", "name": "Doe^Jane"})
    'IBSI_1_[withheld]_CT_image'
    """
    words = [identity.get("id") or ""] + str(identity.get("name") or "").replace("^", " ").split()
    for word in sorted({w for w in words if len(w) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(word), "[withheld]", text, flags=re.IGNORECASE)
    return text


def describe_series(volume: Volume, role: str, name: str, *, identity: bool = False,
                    withheld: dict[str, Any] | None = None) -> dict[str, Any]:
    """Descriptor of one input series: geometry, modality, units, UIDs and content hash.

    ``withheld`` is the patient identity whose ID and name are redacted from the description.
    """
    description = str(volume.meta.get("description") or "")
    entry = {
        "role": role,
        "name": name,
        "modality": volume.modality,
        "units": volume.units,
        "description": redact(description, withheld) if withheld else description,
        "format": volume.meta.get("format"),
        "size": list(volume.size),
        "spacing": [round(s, 6) for s in volume.spacing],
        "origin": [round(o, 4) for o in volume.origin],
        "direction": [round(float(d), 6) for d in volume.direction.ravel()],
        "extent_mm": [round(n * s, 2) for n, s in zip(volume.size, volume.spacing)],
        "dtype": str(volume.array.dtype),
        "series_uid": volume.meta.get("series_uid"),
        "frame_of_reference_uid": volume.meta.get("frame_of_reference_uid"),
        "suv_factor": volume.meta.get("suv_factor"),
        **content_hash(volume),
    }
    if identity:
        entry["source"] = volume.meta.get("source")
    return entry


def series_names(result: Any) -> list[str]:
    """Display names of the fixed and moving series: ``"CT (fixed)"``, ``"PT (moving 1)"``, ..."""
    names = [f"{result.fixed.modality} (fixed)"]
    names += [f"{m.modality} (moving {i + 1})" for i, m in enumerate(result.moving)]
    return names


def mask_names(result: Any) -> list[str]:
    """Display names of the masks: ``mask 1``, ... (never a file name, which may carry identity)."""
    return [f"mask {i + 1}" for i in range(len(result.masks))]


def registration_transform(registration: Any) -> Any:
    """The fixed -> moving ``SimpleITK.Transform`` of a registration result, or None."""
    transform = getattr(registration, "transform", None)
    if transform is None or not hasattr(transform, "GetInverse"):
        return None
    return transform


def _mask_transform(registration: Any) -> tuple[Any, str]:
    """(transform from moving-grid points to mask (fixed) space, how the mask was mapped)."""
    if registration is None:
        return None, "physical space (scanner alignment)"
    transform = registration_transform(registration)
    if transform is None:
        return None, "unavailable"
    try:
        return transform.GetInverse(), "inverse registration transform"
    except RuntimeError:
        return None, "unavailable"


def study_rois(result: Any) -> list[dict[str, Any]]:
    """ROI statistics of every mask on every series, each series on its own grid.

    Masks are taken to be in the fixed series' physical space. A moving series gets the mask through
    the inverse of its registration (nearest neighbour), or by physical position where scanner
    alignment was kept; where the transform cannot be inverted (deformable), the statistics are
    computed on the registered series on the fixed grid instead, and ``grid`` says so.
    """
    names = series_names(result)
    rois: list[dict[str, Any]] = []
    for mask_name, mask in zip(mask_names(result), result.masks):
        for k, volume in enumerate([result.fixed, *result.moving]):
            if volume.is_rgb:
                continue
            grid, mapping, transform = "own", "physical space", None
            if k > 0:
                transform, mapping = _mask_transform(result.registrations[k - 1])
                if mapping == "unavailable":
                    volume, grid, mapping = result.registered[k - 1], "fixed", "registered series"
            for entry in roi_statistics(volume, mask, transform=transform, series=names[k]):
                rois.append({"mask": mask_name, **entry, "grid": grid, "mask_mapping": mapping})
    return rois


def _registration_section(result: Any) -> list[dict[str, Any]]:
    out = []
    for name, volume, reg in zip(series_names(result)[1:], result.moving, result.registrations):
        entry: dict[str, Any] = {"series": name, "modality": volume.modality}
        if reg is None:
            entry.update(method=SCANNER_ALIGNMENT, metrics={})
        else:
            transform = registration_transform(reg)
            entry.update(
                method="registration",
                preset=getattr(reg, "preset", None) or result.parameters.get("preset"),
                metrics=dict(getattr(reg, "metrics", {}) or {}),
                transform=None if transform is None else transform.GetName(),
            )
        out.append(entry)
    return out


def lesion_centre(result: Any) -> tuple[list[float], str]:
    """LPS point the figures' planes go through: the first mask's centroid, else the fixed centre."""
    for mask in result.masks:
        on_fixed = mask if mask.same_grid(result.fixed) else mask.resample_to(
            result.fixed, interpolation="nearest")
        idx = np.argwhere(np.asarray(on_fixed.array) > 0)
        if len(idx):
            centre = result.fixed.index_to_world([idx.mean(axis=0)[::-1]])[0]
            return [float(c) for c in centre], "lesion (centroid of mask 1)"
    return [float(c) for c in result.fixed.center()], "centre of the fixed series"


def patient_identity(volumes: Sequence[Volume]) -> dict[str, Any]:
    """Patient name, ID, birth date and sex from the first DICOM file of the first DICOM input."""
    import pydicom

    for volume in volumes:
        source = volume.meta.get("source")
        if volume.meta.get("format") not in ("dicom", "rtstruct") or not source:
            continue
        path = Path(source)
        first = path if path.is_file() else next((p for p in sorted(path.rglob("*"))
                                                  if p.is_file()), None)
        if first is None:
            continue
        ds = pydicom.dcmread(first, stop_before_pixels=True, force=True)
        return {"name": str(ds.get("PatientName", "")), "id": str(ds.get("PatientID", "")),
                "birth_date": str(ds.get("PatientBirthDate", "")), "sex": str(ds.get("PatientSex", ""))}
    return {"name": None, "id": None, "birth_date": None, "sex": None,
            "note": "no DICOM input carries patient identity"}


def build_document(
    result: Any,
    *,
    include_patient_identity: bool = False,
    title: str = "MedFuse study report",
) -> dict[str, Any]:
    """The report document of a ``StudyResult`` (see ``docs/report_schema.md``).

    Parameters
    ----------
    result : a :class:`medfuse.workflow.StudyResult` (or any object with its attributes).
    include_patient_identity : add patient name, ID, birth date and input paths.
    title : the report's title.
    """
    names = series_names(result)
    volumes = [result.fixed, *result.moving]
    patient = patient_identity([*volumes, *result.masks])
    withheld = None if include_patient_identity else patient
    inputs = [describe_series(v, "fixed" if i == 0 else "moving", names[i],
                              identity=include_patient_identity, withheld=withheld)
              for i, v in enumerate(volumes)]
    inputs += [describe_series(m, "mask", n, identity=include_patient_identity, withheld=withheld)
               for n, m in zip(mask_names(result), result.masks)]
    centre, centre_kind = lesion_centre(result)
    fused = result.fused
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "title": title,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "software": versions(),
        "patient": patient if include_patient_identity else None,
        "inputs": inputs,
        "parameters": dict(result.parameters),
        "registration": _registration_section(result),
        "fusion": {
            "method": result.parameters.get("fusion_method"),
            "method_resolved": None if fused is None else fused.meta.get("method"),
            "output": None if fused is None else {
                "modality": fused.modality, "units": fused.units, "size": list(fused.size),
                "rgb": fused.is_rgb},
            "metrics": dict(result.fusion_metrics or {}),
        },
        "figures_through": {"point_lps_mm": centre, "kind": centre_kind},
        "rois": study_rois(result),
        "timings_s": dict(result.timings or {}),
    }
    return jsonable(doc)

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
import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.provenance import versions
from medfuse.study import Study
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

SCHEMA = "medfuse-report"
SCHEMA_VERSION = "1.2"
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


def input_hash(volume: Volume) -> dict[str, Any]:
    """The content hash the loader recorded (``meta["content_hash"]``: the files it read), else the
    sha256 of the voxels (an in-memory volume); the report reads no file.

    Examples
    --------
    >>> v = Volume(np.zeros((2, 2, 2), np.uint8))
    >>> input_hash(v)["of"]
    'voxels'
    """
    from medfuse.provenance import content_hash

    return volume.meta.get("content_hash") or content_hash(volume, files=False)


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
        **input_hash(volume),
    }
    if identity:
        entry["source"] = volume.meta.get("source")
    return entry


def registration_transform(registration: Any) -> Any:
    """The fixed -> moving ``SimpleITK.Transform`` of a registration result, or None."""
    transform = getattr(registration, "transform", None)
    if transform is None or not hasattr(transform, "GetInverse"):
        return None
    return transform


def _registration_section(study: Study) -> list[dict[str, Any]]:
    out = []
    for name, volume, reg in zip(study.series_names()[1:], study.moving, study.registrations):
        entry: dict[str, Any] = {"series": name, "modality": volume.modality}
        if reg is None:
            entry.update(method=SCANNER_ALIGNMENT, metrics={})
        else:
            transform = registration_transform(reg)
            entry.update(
                method="registration",
                preset=getattr(reg, "preset", None) or study.parameters.get("preset"),
                metrics=dict(getattr(reg, "metrics", {}) or {}),
                transform=None if transform is None else transform.GetName(),
            )
        out.append(entry)
    return out


def lesion_centre(study: Study) -> tuple[list[float], str]:
    """LPS point the figures' planes go through: the first mask's centroid, else the fixed centre."""
    for mask in study.masks:
        on_fixed = mask if mask.same_grid(study.fixed) else mask.resample_to(
            study.fixed, interpolation="nearest")
        idx = np.argwhere(np.asarray(on_fixed.array) > 0)
        if len(idx):
            centre = study.fixed.index_to_world([idx.mean(axis=0)[::-1]])[0]
            return [float(c) for c in centre], "lesion (centroid of mask 1)"
    return [float(c) for c in study.fixed.center()], "centre of the fixed series"


def build_document(
    study: Study,
    *,
    include_patient_identity: bool = False,
    title: str = "MedFuse study report",
) -> dict[str, Any]:
    """The report document of a quantified :class:`~medfuse.study.Study` (see
    ``docs/report_schema.md``); every number comes from the study, nothing is read from disk.

    Parameters
    ----------
    study : the study (``medfuse.workflow.run_study`` fills it).
    include_patient_identity : add patient name, ID, birth date and input paths.
    title : the report's title.
    """
    names = study.series_names()
    volumes = [study.fixed, *study.moving]
    patient = study.patient
    withheld = None if include_patient_identity else patient
    inputs = [describe_series(v, "fixed" if i == 0 else "moving", names[i],
                              identity=include_patient_identity, withheld=withheld)
              for i, v in enumerate(volumes)]
    inputs += [describe_series(m, "mask", n, identity=include_patient_identity, withheld=withheld)
               for n, m in zip(study.mask_names(), study.masks)]
    centre, centre_kind = lesion_centre(study)
    fused = study.fused
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "title": title,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "software": versions(),
        "patient": patient if include_patient_identity else None,
        "inputs": inputs,
        "parameters": dict(study.parameters),
        "registration": _registration_section(study),
        "fusion": {
            "method": study.parameters.get("fusion_method"),
            "method_resolved": None if fused is None else fused.meta.get("method"),
            "output": None if fused is None else {
                "modality": fused.modality, "units": fused.units, "size": list(fused.size),
                "rgb": fused.is_rgb},
            "metrics": dict(study.fusion_metrics or {}),
        },
        "figures_through": {"point_lps_mm": centre, "kind": centre_kind},
        "rois": list(study.rois),
        "timings_s": dict(study.timings or {}),
    }
    return jsonable(doc)

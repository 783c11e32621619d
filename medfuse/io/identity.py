"""The patient identity a study's DICOM inputs record, read once when the study is loaded.

MedFuse writes it nowhere unless the user asks (``--include-patient-identity``); reports and
exports use it to withhold the patient's ID and name from descriptions they copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medfuse.volume import Volume

__all__ = ["patient_identity"]

#: the fields of an identity record
FIELDS = ("name", "id", "birth_date", "sex")


def patient_identity(volumes: Sequence[Volume]) -> dict[str, Any]:
    """Patient name, ID, birth date and sex from the first DICOM file of the first DICOM input
    (all None, with a ``note``, when no input came from DICOM)."""
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
                "birth_date": str(ds.get("PatientBirthDate", "")),
                "sex": str(ds.get("PatientSex", ""))}
    return {**dict.fromkeys(FIELDS), "note": "no DICOM input carries patient identity"}

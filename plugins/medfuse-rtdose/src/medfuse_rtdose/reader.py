"""Read a DICOM RT Dose object (one multi-frame file) into a MedFuse ``Volume`` in Gy or percent.

The dose grid is one file: frames are planes parallel to the first one, placed along the plane normal
by ``GridFrameOffsetVector`` (relative offsets when its first value is 0, else absolute z positions of
an axial grid), values are ``pixel * DoseGridScaling``, and ``DoseUnits`` says Gy or RELATIVE. A
relative dose is a ratio to an implicit reference (1.0 is the reference), given here as percent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import InvalidSeriesError
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["read_rtdose"]

_RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
#: DoseUnits -> (MedFuse units, factor applied after DoseGridScaling)
_UNITS = {"GY": ("Gy", 1.0), "RELATIVE": ("%", 100.0)}


def read_rtdose(path: str | Path) -> Volume:
    """Read an RT Dose file into a 3D ``Volume`` (modality ``RTDOSE``, units ``Gy`` or ``%``).

    Parameters
    ----------
    path : a DICOM RT Dose file (Modality RTDOSE or SOP Class RT Dose Storage).

    Returns
    -------
    Volume
        float32 dose in (z, y, x), LPS geometry from ImagePositionPatient, ImageOrientationPatient,
        PixelSpacing and GridFrameOffsetVector; frames are reordered so the slice spacing is positive.

    Raises
    ------
    InvalidSeriesError
        Not an RT Dose, unreadable, unknown DoseUnits, or frames that are not evenly spaced.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> dose = read_rtdose(get_testdata_file("rtdose.dcm"))
    >>> dose.modality, dose.units, dose.size, dose.spacing
    ('RTDOSE', '%', (10, 10, 15), (10.0, 10.0, 5.0))
    """
    import pydicom

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except Exception as err:  # noqa: BLE001  pydicom raises several types for bad files
        raise InvalidSeriesError(f"not a readable DICOM file ({err})", path=path) from err
    modality, sop_class = str(ds.get("Modality", "")), str(ds.get("SOPClassUID", ""))
    if modality != "RTDOSE" and sop_class != _RT_DOSE_STORAGE:
        raise InvalidSeriesError(
            f"not an RT Dose object (Modality {modality!r}, SOP Class {sop_class!r}); "
            "open other DICOM with medfuse.io.load",
            path=path,
        )
    units, factor = _units(ds, path)
    try:
        pixels = ds.pixel_array
    except Exception as err:  # noqa: BLE001  missing data or an undecodable transfer syntax
        raise InvalidSeriesError(f"cannot decode the dose pixel data ({err})", path=path) from err
    frames = pixels[np.newaxis] if pixels.ndim == 2 else pixels
    scaling = float(ds.get("DoseGridScaling", 1.0) or 1.0)
    if "DoseGridScaling" not in ds:
        logger.warning("%s: no DoseGridScaling, using 1.0", path)
    dose = (frames.astype(np.float64) * (scaling * factor)).astype(np.float32)
    spacing, origin, direction, order = _geometry(ds, len(frames), path)
    return Volume(
        np.ascontiguousarray(dose[order]),
        spacing=spacing,
        origin=origin,
        direction=direction,
        modality="RTDOSE",
        units=units,
        meta=_meta(ds, path, scaling),
    )


def _units(ds: Any, path: Path) -> tuple[str, float]:
    dose_units = str(ds.get("DoseUnits", "")).upper()
    if dose_units not in _UNITS:
        raise InvalidSeriesError(
            f"DoseUnits must be GY or RELATIVE, not {dose_units or 'missing'!r}", path=path
        )
    return _UNITS[dose_units]


def _geometry(ds: Any, n_frames: int, path: Path) -> tuple[tuple, tuple, np.ndarray, slice]:
    """``(spacing, origin, direction, frame order)`` of the dose grid."""
    try:
        position = np.array(ds.ImagePositionPatient, dtype=float)
        cosines = np.array(ds.ImageOrientationPatient, dtype=float)
        row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    except (AttributeError, TypeError, ValueError) as err:
        raise InvalidSeriesError(f"incomplete dose grid geometry ({err})", path=path) from err
    row, col = cosines[:3], cosines[3:]
    normal = np.cross(row, col)
    offsets = _plane_offsets(ds, n_frames, normal, path)
    if n_frames == 1:
        step = float(ds.get("SliceThickness") or 1.0)
    else:
        steps = np.diff(offsets)
        step = float(steps[0])
        if step == 0 or not np.allclose(steps, step, atol=1e-3):
            raise InvalidSeriesError(
                f"dose planes are not evenly spaced (GridFrameOffsetVector steps {steps.tolist()}); "
                "a Volume needs one slice spacing",
                path=path,
            )
    order = slice(None) if step > 0 else slice(None, None, -1)
    origin = position + normal * (offsets[0] if step > 0 else offsets[-1])
    direction = np.column_stack([row, col, normal])
    return (col_spacing, row_spacing, abs(step)), tuple(origin), direction, order


def _plane_offsets(ds: Any, n_frames: int, normal: np.ndarray, path: Path) -> np.ndarray:
    """Offset of each frame from ImagePositionPatient along the plane normal, in mm."""
    vector = ds.get("GridFrameOffsetVector")
    if n_frames == 1:
        return np.zeros(1)
    if vector is None or len(vector) != n_frames:
        count = "no" if vector is None else len(vector)
        raise InvalidSeriesError(
            f"GridFrameOffsetVector has {count} values for {n_frames} frames", path=path
        )
    values = np.array(vector, dtype=float)
    if values[0] == 0:
        return values
    if abs(normal[2]) < 0.999:  # absolute offsets are z positions, defined for axial grids only
        raise InvalidSeriesError(
            f"absolute GridFrameOffsetVector (first value {values[0]}) on a non-axial grid "
            f"(plane normal {np.round(normal, 3).tolist()})",
            path=path,
        )
    return (values - values[0]) / normal[2]


def _meta(ds: Any, path: Path, scaling: float) -> dict[str, Any]:
    plans = ds.get("ReferencedRTPlanSequence") or []
    description = str(ds.get("SeriesDescription", "")) or " ".join(
        str(ds.get(k, "")) for k in ("DoseSummationType", "DoseType")
    ).strip()
    return {
        "source": str(path),
        "n_files": 1,
        "series_uid": str(ds.get("SeriesInstanceUID", "")),
        "study_uid": str(ds.get("StudyInstanceUID", "")),
        "frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", "")),
        "description": description,
        "dose_units": str(ds.get("DoseUnits", "")),
        "dose_type": str(ds.get("DoseType", "")),
        "dose_summation_type": str(ds.get("DoseSummationType", "")),
        "dose_grid_scaling": scaling,
        "referenced_rt_plan_uid": str(plans[0].get("ReferencedSOPInstanceUID", "")) if plans else "",
    }

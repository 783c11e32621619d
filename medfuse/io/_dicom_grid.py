"""The grid of a DICOM series: image planes (slices or frames) checked and stacked into one regular grid.

Rejects, with a one-line message naming the file: mixed orientations, sizes or pixel spacings, two
planes at one position, missing slices, non-uniform spacing, and gantry tilt (slices shifted across
the slice normal).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medfuse.errors import InvalidSeriesError

if TYPE_CHECKING:  # pragma: no cover
    from pydicom import Dataset

#: orientation cosines of one series may differ by this much (rounding in the headers)
ORIENTATION_TOL = 1e-4
#: a slice step larger than this many times the typical step is a gap (missing slices)
GAP_RATIO = 1.5


@dataclass
class Plane:
    """One 2D image plane of a series: a single-frame file, or one frame of a multi-frame file."""

    path: Path
    file_index: int
    frame: int
    position: Any
    orientation: Any
    pixel_spacing: Any
    shape: tuple[int, int]
    slope: float = 1.0
    intercept: float = 0.0
    slice_spacing: Any = None


def stack_geometry(
    planes: list[Plane], *, where: Path
) -> tuple[tuple[float, float, float], tuple[float, float, float], np.ndarray, np.ndarray]:
    """``(spacing xyz, origin, direction, order)`` of planes stacked along their slice normal.

    ``order`` sorts the planes by position along the normal; the direction's columns are the row
    cosine, the column cosine and the normal, as SimpleITK reads a series.

    Raises
    ------
    InvalidSeriesError
        The planes do not make one regular grid; the message names the file and the problem.
    """
    first = planes[0]
    _check_same(planes, "shape", "image sizes (rows x columns)", lambda a, b: a == b)
    _check_same(planes, "pixel_spacing", "pixel spacings",
                lambda a, b: np.allclose(_floats(a, 2), _floats(b, 2), rtol=1e-4, atol=1e-4))
    if first.orientation is None:
        if len(planes) > 1:
            raise InvalidSeriesError("ImageOrientationPatient is missing: cannot place the slices",
                                     path=first.path)
        iop = np.array([1.0, 0, 0, 0, 1, 0])
    else:
        _check_same(planes, "orientation", "orientations (ImageOrientationPatient)",
                    lambda a, b: np.allclose(_floats(a, 6), _floats(b, 6), atol=ORIENTATION_TOL))
        iop = _floats(first.orientation, 6)
    row, col = iop[:3] / np.linalg.norm(iop[:3]), iop[3:] / np.linalg.norm(iop[3:])
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    pixel = _floats(first.pixel_spacing, 2) if first.pixel_spacing is not None else np.ones(2)
    missing = [p for p in planes if p.position is None]
    if missing and len(planes) > 1:
        raise InvalidSeriesError("ImagePositionPatient is missing: cannot place the slices",
                                 path=missing[0].path)
    positions = np.array([_floats(p.position, 3) if p.position is not None else np.zeros(3)
                          for p in planes])
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    if len(planes) == 1:
        dz = float(first.slice_spacing or 0) or 1.0  # as SimpleITK: SpacingBetweenSlices, else 1
    else:
        dz = _slice_spacing([planes[i] for i in order], along[order], positions[order], normal, where)
    direction = np.column_stack([row, col, normal])
    spacing = (float(pixel[1]), float(pixel[0]), dz)
    return spacing, tuple(float(v) for v in positions[order[0]]), direction, order


def _floats(value: Any, n: int) -> np.ndarray:
    values = np.asarray([float(v) for v in value], dtype=float)
    if values.size != n:
        raise ValueError(f"expected {n} numbers, got {list(value)}")
    return values


def _check_same(planes: list[Plane], attr: str, what: str, same: Any) -> None:
    reference = getattr(planes[0], attr)
    for plane in planes[1:]:
        value = getattr(plane, attr)
        if (value is None) != (reference is None) or (value is not None and not same(reference, value)):
            raise InvalidSeriesError(
                f"mixed {what} in one series: {_fmt(value)} here, {_fmt(reference)} in "
                f"{_name(planes[0])}",
                path=plane.path,
            )


def _fmt(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return "[" + ", ".join(f"{float(v):.6g}" for v in value) + "]"


def _name(plane: Plane) -> str:
    """The file name of a plane, with its frame number in a multi-frame file."""
    return plane.path.name + (f" frame {plane.frame + 1}" if plane.frame else "")


def _slice_spacing(planes: list[Plane], along: np.ndarray, positions: np.ndarray, normal: np.ndarray,
                   where: Path) -> float:
    """The uniform slice spacing of sorted planes, after checking duplicates, gaps, uniformity, tilt."""
    steps = np.diff(along)
    typical = float(np.median(steps))
    duplicate = np.flatnonzero(steps < 1e-3 * max(typical, 1e-3) + 1e-4)
    if duplicate.size:
        i = int(duplicate[0])
        raise InvalidSeriesError(
            f"two images at the same position ({along[i]:.3f} mm along the slice normal: "
            f"{_name(planes[i])} and {_name(planes[i + 1])}); "
            "the series holds several stacks (echoes, phases or time points) - split it first",
            path=where,
        )
    gaps = np.flatnonzero(steps > GAP_RATIO * typical)
    if gaps.size:
        i = int(gaps[0])
        n_missing = int(round(steps[i] / typical)) - 1
        raise InvalidSeriesError(
            f"missing slices: a gap of {steps[i]:.3f} mm (about {max(n_missing, 1)} slice(s)) between "
            f"{_name(planes[i])} at {along[i]:.3f} mm and {_name(planes[i + 1])} at "
            f"{along[i + 1]:.3f} mm, where slices "
            f"are {typical:.3f} mm apart",
            path=where,
        )
    n = len(along)
    dz = float(along[-1] - along[0]) / (n - 1)
    deviation = np.abs(along - (along[0] + dz * np.arange(n)))
    if deviation.max() > 0.01 * dz + 0.005:
        raise InvalidSeriesError(
            f"non-uniform slice spacing: steps from {steps.min():.4f} to {steps.max():.4f} mm "
            f"(slice {planes[int(deviation.argmax())].path.name} is {deviation.max():.4f} mm off a "
            "regular grid); resample the series first",
            path=where,
        )
    offsets = positions - positions[0]
    lateral = offsets - np.outer(offsets @ normal, normal)
    shift = np.linalg.norm(lateral, axis=1)
    extent = float(along[-1] - along[0])
    if shift.max() > 0.02 + 1e-4 * extent:
        angle = np.degrees(np.arctan2(shift[-1], extent))
        raise InvalidSeriesError(
            f"gantry tilt: slices move {shift.max():.3f} mm across the slice normal over {extent:.1f} mm "
            f"(about {angle:.2f} degrees); the stack is sheared, which a Volume cannot represent - "
            "resample it to an orthogonal grid first (for example dcm2niix corrects gantry tilt)",
            path=where,
        )
    return dz


# ----------------------------------------------------------------------------- multi-frame files
def frame_planes(path: Path, ds: Dataset) -> list[Plane]:
    """The planes of a multi-frame file: enhanced functional groups, GridFrameOffsetVector or NM."""
    n = int(ds.NumberOfFrames)
    shape = (int(ds.Rows), int(ds.Columns))
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame:
        return [
            Plane(
                path=path, file_index=0, frame=k, shape=shape,
                position=_group_value(per_frame[k], shared, "PlanePositionSequence", "ImagePositionPatient"),
                orientation=_group_value(per_frame[k], shared, "PlaneOrientationSequence",
                                         "ImageOrientationPatient"),
                pixel_spacing=_group_value(per_frame[k], shared, "PixelMeasuresSequence", "PixelSpacing"),
                slope=float(_group_value(per_frame[k], shared, "PixelValueTransformationSequence",
                                         "RescaleSlope") or 1.0),
                intercept=float(_group_value(per_frame[k], shared, "PixelValueTransformationSequence",
                                             "RescaleIntercept") or 0.0),
                slice_spacing=_group_value(per_frame[k], shared, "PixelMeasuresSequence",
                                            "SpacingBetweenSlices"),
            )
            for k in range(n)
        ]
    detector = (ds.get("DetectorInformationSequence") or [None])[0]
    position = ds.get("ImagePositionPatient") or (detector.get("ImagePositionPatient") if detector else None)
    orientation = ds.get("ImageOrientationPatient") or (
        detector.get("ImageOrientationPatient") if detector else None
    )
    if position is None or orientation is None:
        raise InvalidSeriesError(
            f"multi-frame file with {n} frames but no ImagePositionPatient/ImageOrientationPatient",
            path=path,
        )
    iop = _floats(orientation, 6)
    normal = np.cross(iop[:3], iop[3:])
    offsets = ds.get("GridFrameOffsetVector")
    if offsets is not None and len(offsets) == n:
        steps = np.asarray([float(v) for v in offsets])
    else:
        dz = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness")
        if not dz:
            raise InvalidSeriesError(
                f"multi-frame file with {n} frames but no GridFrameOffsetVector, SpacingBetweenSlices "
                "or SliceThickness to place them",
                path=path,
            )
        steps = float(dz) * np.arange(n)
    origin = _floats(position, 3)
    return [
        Plane(path=path, file_index=0, frame=k, shape=shape, position=origin + steps[k] * normal,
              orientation=orientation, pixel_spacing=ds.get("PixelSpacing"),
              slope=float(ds.get("RescaleSlope", 1.0) or 1.0),
              intercept=float(ds.get("RescaleIntercept", 0.0) or 0.0))
        for k in range(n)
    ]


def _group_value(frame: Dataset, shared: Any, sequence: str, keyword: str) -> Any:
    """A functional-group attribute of one frame, else of the shared groups."""
    for groups in (frame, shared[0] if shared else None):
        if groups is not None and groups.get(sequence):
            value = groups.get(sequence)[0].get(keyword)
            if value is not None:
                return value
    return None

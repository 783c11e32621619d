"""RTSTRUCT contours rasterised onto any volume's grid, in physical space.

Each closed planar contour is mapped from LPS millimetres into the reference volume's continuous
index space; its plane must be a slice plane of that grid (within half a slice, contours lying between
two slices go to the nearest one). The polygon is filled on that slice by the centre rule: a voxel
belongs to the contour when its centre lies inside the polygon. Several contours of one ROI on one
slice combine by the even-odd rule (a contour inside another is a hole, as DICOM PS3.3 C.8.8.6.3
describes for structures with cut-outs).

Examples
--------
>>> import numpy as np
>>> from medfuse.volume import Volume
>>> ref = Volume(np.zeros((3, 10, 10)), spacing=(1.0, 1.0, 2.0))
>>> square = np.array([[1.5, 1.5, 2], [5.5, 1.5, 2], [5.5, 5.5, 2], [1.5, 5.5, 2]])
>>> int(fill_contours(ref, [square]).sum())
16
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from medfuse.errors import GeometryError, InputError, InvalidSeriesError
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"

#: how far (in slices) a contour plane may lie from the nearest slice centre before it is refused
_PLANE_TOLERANCE = 0.5
#: how far off-plane (in slices) points of one contour may scatter before it is called oblique
_OBLIQUE_TOLERANCE = 0.1


def _polygon_mask(polygon_xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Voxels (y, x) of a 2D grid whose centres lie inside ``polygon_xy`` (continuous x, y indices)."""
    from matplotlib.path import Path as MplPath

    mask = np.zeros(shape, dtype=bool)
    lo = np.maximum(np.floor(polygon_xy.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(polygon_xy.max(axis=0)).astype(int), np.array(shape[::-1]) - 1)
    if np.any(hi < lo):
        return mask
    xs, ys = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1))
    centres = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    closed = np.vstack([polygon_xy, polygon_xy[:1]])  # a closed Path ignores its last vertex
    inside = MplPath(closed, closed=True).contains_points(centres, radius=0.0)
    mask[lo[1] : hi[1] + 1, lo[0] : hi[0] + 1] = inside.reshape(xs.shape)
    return mask


def fill_contours(reference: Volume, contours: Iterable[np.ndarray]) -> np.ndarray:
    """Rasterise planar contours (each an (n, 3) array of LPS mm points) onto ``reference``'s grid.

    Returns a boolean (z, y, x) array. Contours on one slice combine by the even-odd rule.

    Raises
    ------
    GeometryError
        A contour is not parallel to the reference's slices, or lies between slices by more than
        half a slice (outside the grid it is skipped with a log message).
    """
    if reference.ndim != 3:
        raise GeometryError(f"RTSTRUCT contours need a 3D reference volume, not {reference.ndim}D")
    nz = reference.array.shape[0]
    plane_shape = reference.array.shape[1:3]
    mask = np.zeros(reference.array.shape[:3], dtype=bool)
    for points in contours:
        points = np.asarray(points, dtype=float).reshape(-1, 3)
        if len(points) < 3:
            continue
        index = reference.world_to_index(points)
        z = index[:, 2]
        if np.ptp(z) > _OBLIQUE_TOLERANCE:
            raise GeometryError(
                f"a contour spans {np.ptp(z):.2f} slices: it is not parallel to the reference "
                "volume's slices; rasterise onto a grid aligned with the contour planes"
            )
        k = int(np.rint(z.mean()))
        if abs(z.mean() - k) > _PLANE_TOLERANCE + 1e-6:
            raise GeometryError(f"a contour lies {abs(z.mean() - k):.2f} slices from slice {k}")
        if not 0 <= k < nz:
            logger.info("contour at slice index %.2f is outside the reference grid; skipped", z.mean())
            continue
        mask[k] ^= _polygon_mask(index[:, :2], plane_shape)
    return mask


def is_rtstruct(path: str | Path) -> bool:
    """True for a DICOM file whose Modality is RTSTRUCT (headers only are read)."""
    import pydicom

    from medfuse.io.paths import is_dicom_file

    if not is_dicom_file(path):  # NIfTI, PNG, folders: no DICOM preamble, nothing parsed
        return False
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality", "SOPClassUID"])
    except Exception:  # not DICOM at all: NIfTI, PNG ...
        return False
    return ds.get("Modality") == "RTSTRUCT" or ds.get("SOPClassUID") == RTSTRUCT_SOP_CLASS


def read_rtstruct(path: str | Path) -> list[dict]:
    """ROIs of an RTSTRUCT file: ``[{"number", "name", "color", "frame_of_reference", "contours"}]``.

    ``contours`` is a list of (n, 3) arrays of LPS mm points (closed planar contours only; points and
    open contours are skipped).

    Raises
    ------
    InputError
        The file does not exist.
    InvalidSeriesError
        The file is not a readable DICOM RT Structure Set.
    """
    import pydicom

    path = Path(path)
    if not path.is_file():
        raise InputError("no such RTSTRUCT file", path=path)
    try:
        ds = pydicom.dcmread(path)
    except Exception as err:
        raise InvalidSeriesError(f"not a readable DICOM file ({err})", path=path) from err
    if ds.get("Modality") != "RTSTRUCT" and ds.get("SOPClassUID") != RTSTRUCT_SOP_CLASS:
        raise InvalidSeriesError(
            f"not an RT Structure Set (Modality {ds.get('Modality')!r})", path=path
        )
    rois = {
        int(r.ROINumber): {
            "number": int(r.ROINumber),
            "name": str(r.get("ROIName", f"ROI {r.ROINumber}")),
            "frame_of_reference": str(r.get("ReferencedFrameOfReferenceUID", "")),
            "color": None,
            "contours": [],
        }
        for r in ds.get("StructureSetROISequence", [])
    }
    for item in ds.get("ROIContourSequence", []):
        roi = rois.get(int(item.ReferencedROINumber))
        if roi is None:
            continue
        if "ROIDisplayColor" in item:
            roi["color"] = [int(c) for c in item.ROIDisplayColor]
        for contour in item.get("ContourSequence", []):
            if contour.get("ContourGeometricType", "CLOSED_PLANAR") != "CLOSED_PLANAR":
                continue
            roi["contours"].append(np.asarray(contour.ContourData, dtype=float).reshape(-1, 3))
    if not rois:
        raise InvalidSeriesError("the RT Structure Set holds no ROI", path=path)
    return list(rois.values())


def rtstruct_to_mask(
    rtstruct_path: str | Path,
    reference: Volume,
    *,
    roi_names: Sequence[str] | None = None,
) -> tuple[Volume, dict[int, str]]:
    """Rasterise the ROIs of an RTSTRUCT onto ``reference``'s grid as one label map.

    Parameters
    ----------
    rtstruct_path : the RTSTRUCT file.
    reference : the volume whose grid (any orientation) the label map takes.
    roi_names : ROIs to keep, by name (case-insensitive); all ROIs with contours by default.

    Returns
    -------
    (labels, names) : a ``uint16`` label map on ``reference``'s grid (label ``i`` for the ``i``-th
        ROI kept; where ROIs overlap, the later one wins) and ``{label: ROI name}``.

    Raises
    ------
    InvalidSeriesError
        Not an RTSTRUCT, or a requested ROI name is absent (the message lists those present).
    GeometryError
        Contours that do not lie on the reference's slice planes.
    """
    rois = read_rtstruct(rtstruct_path)
    if roi_names is not None:
        present = {r["name"].lower() for r in rois}
        missing = [n for n in roi_names if n.lower() not in present]
        if missing:
            raise InvalidSeriesError(
                f"ROI(s) {missing} not found; present: {[r['name'] for r in rois]}",
                path=rtstruct_path,
            )
        wanted = {n.lower() for n in roi_names}
        rois = [r for r in rois if r["name"].lower() in wanted]
    labels = np.zeros(reference.array.shape[:3], dtype=np.uint16)
    names: dict[int, str] = {}
    for roi in rois:
        if not roi["contours"]:
            logger.info("%s: ROI %r has no closed contour; skipped", rtstruct_path, roi["name"])
            continue
        try:
            filled = fill_contours(reference, roi["contours"])
        except GeometryError as err:
            raise GeometryError(f"ROI {roi['name']!r}: {err}", path=rtstruct_path) from err
        label = len(names) + 1
        labels[filled] = label
        names[label] = roi["name"]
    volume = reference.with_array(
        labels,
        modality="SEG",
        units="label",
        meta={"source": str(rtstruct_path), "labels": names, "format": "rtstruct",
              "description": "RTSTRUCT " + ", ".join(names.values()), "series_uid": None,
              "n_files": 1},
    )
    return volume, names

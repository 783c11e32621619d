"""Regions of interest as the app shows them: one outlined label layer per ROI, named after it.

A study folder may hold the same contour many times (an RTSTRUCT in every series folder, a NIfTI
mask beside every image): each ROI is shown once, named after the ROI (``GTV``), or after the
series folder of a NIfTI mask (``CT mask``). RTSTRUCT contours are rasterised onto the reference
series' grid; each DICOM SEG segment is one label map on the SEG's own grid. Every label map
carries ``meta["label_map"]`` and the names of its labels, ``meta["labels"]``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medfuse.errors import MedFuseError
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

#: folder names that say nothing about which series a mask belongs to
_GENERIC_FOLDERS = {"mask", "masks", "label", "labels", "seg", "nifti", "dicom", "image", "images",
                    "roi", "rois"}


def _contour_key(roi: dict) -> str:
    digest = hashlib.sha1(roi["name"].lower().encode())
    for contour in roi["contours"]:
        digest.update(np.round(np.asarray(contour, float), 2).tobytes())
    return digest.hexdigest()


def rtstruct_roi_volumes(paths: Sequence[Path], references: Sequence[Volume]) -> list[Volume]:
    """One label volume per distinct ROI of the RTSTRUCT files ``paths``, on the grid of the first
    of ``references`` whose slice planes hold its contours; an ROI found in several files once.

    Files or ROIs that cannot be placed on any reference are logged and skipped (a message, never
    a crash).
    """
    from medfuse.io.rtstruct import fill_contours, read_rtstruct

    seen: set[str] = set()
    volumes = []
    for path in paths:
        try:
            rois = read_rtstruct(path)
        except MedFuseError as err:
            logger.warning("%s", err)
            continue
        for roi in rois:
            key = _contour_key(roi)
            if not roi["contours"] or key in seen:
                continue
            seen.add(key)
            for reference in references:
                try:
                    filled = fill_contours(reference, roi["contours"])
                except MedFuseError:
                    continue
                volumes.append(reference.with_array(
                    filled.astype(np.uint8), modality="SEG", units="label",
                    meta={"source": str(path), "labels": {1: roi["name"]}, "format": "rtstruct",
                          "description": roi["name"], "label_map": True, "color": roi["color"],
                          "series_uid": None}))
                break
            else:
                logger.warning("%s: ROI %r lies on no slice plane of the series; not shown", path,
                               roi["name"])
    return volumes


def seg_roi_volumes(paths: Sequence[Path]) -> list[Volume]:
    """One label volume per distinct segment of the DICOM SEG files ``paths`` (named after the
    segment); an unreadable file is logged and skipped (a message, never a crash)."""
    from medfuse.io.seg import read_seg

    volumes = []
    for path in paths:
        try:
            volumes.extend(read_seg(path))
        except MedFuseError as err:
            logger.warning("%s", err)
    return distinct_masks(volumes)


def mask_name(path: Path) -> str:
    """A NIfTI mask's layer name: its file name, or ``<series folder> mask`` for a generic one.

    Examples
    --------
    >>> mask_name(Path("STS_001/CT/nifti/mask/mask.nii.gz"))
    'CT mask'
    >>> mask_name(Path("study/liver_seg.nii.gz"))
    'liver_seg'
    """
    stem = path.name
    for suffix in (".nii.gz", ".nii"):
        stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
    if stem.lower() not in _GENERIC_FOLDERS:
        return stem
    folder = next((p for p in reversed(path.parent.parts) if p.lower() not in _GENERIC_FOLDERS), "")
    return f"{folder} {stem}".strip()


def distinct_masks(masks: Sequence[Volume]) -> list[Volume]:
    """``masks`` without repeats: a mask equal, voxel for voxel on one grid, to an earlier one."""
    kept: list[Volume] = []
    for mask in masks:
        if not any(k.same_grid(mask) and np.array_equal(k.array, mask.array) for k in kept):
            kept.append(mask)
    return kept

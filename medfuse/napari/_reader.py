"""napari reader: DICOM folders and files, NIfTI, 2D images and whole study folders, through ``medfuse.io``.

A study folder (as ``medfuse sample-data`` writes it) opens with all its series: its DICOM series when
it has any (and the ROIs of its RTSTRUCT files), else its NIfTI files. The reference anatomy (see
``_reference``) is shown, other anatomical series are loaded hidden, and PET/SPECT go on top as colour
overlays; a functional series without anatomy is shown opaque. Series whose axes are not the display's
are resampled for display onto the reference grid (``_display_grid``). Each ROI (an RTSTRUCT ROI, a
DICOM SEG segment, a NIfTI mask) is one outlined label layer named after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from medfuse.errors import InputError, MedFuseError
from medfuse.modalities import get_modality
from medfuse.napari._display_grid import display_volume
from medfuse.napari._layers import LayerDataTuple, label_names, labels_layer_data, volume_layer_data
from medfuse.napari._reference import reference_index
from medfuse.napari._rois import (
    distinct_masks,
    mask_name,
    rtstruct_roi_volumes,
    seg_roi_volumes,
)
from medfuse.registration.inputs import overlaps
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

_FILE_SUFFIXES = (".nii", ".nii.gz", ".dcm", ".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")

ReaderFunction = Callable[[str | Sequence[str]], list[LayerDataTuple]]


def napari_get_reader(path: str | Sequence[str]) -> ReaderFunction | None:
    """Return :func:`read_layers` when MedFuse can read ``path`` (or every path of a list), else None."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if paths and all(_readable(Path(p)) for p in paths):
        return read_layers
    return None


def _readable(path: Path) -> bool:
    return path.is_dir() or path.name.lower().endswith(_FILE_SUFFIXES) or (
        path.is_file() and _is_dicom(path)
    )


class StudyLayers(list):
    """Layer data tuples (a list, as napari takes it) with the ``problems`` met on the way: one
    line per series or file that cannot be shown (colour DICOM, 4D, a mask outside every series),
    which the Study panel shows while the other series open."""

    def __init__(self, layers: Sequence[LayerDataTuple] = (), problems: Sequence[str] = ()) -> None:
        super().__init__(layers)
        self.problems = list(problems)


def read_layers(path: str | Sequence[str], *,
                overrides: dict[str, tuple[str | None, str | None]] | None = None) -> StudyLayers:
    """Layer data tuples for every series at ``path`` (a path or a list of paths), display-ordered.

    ``overrides`` gives ``{file: (modality, units)}`` for files that record neither (NIfTI, PNG),
    in place of what the reader guesses; either may be None. A series or file that cannot be
    read is left out and named in ``problems``; only when nothing at all can be shown is its
    error raised.
    """
    from medfuse.io.rtstruct import is_rtstruct
    from medfuse.io.seg import is_seg

    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    structures = [p for p in paths if is_rtstruct(p)]
    segs = [p for p in paths if p not in structures and is_seg(p)]
    problems: list[str] = []
    errors: list[MedFuseError] = []
    volumes = []
    for p in paths:
        if p in structures or p in segs:
            continue
        try:
            modality, units = (overrides or {}).get(str(p), (None, None))
            volumes += read_volumes(p, problems=problems, modality=modality, units=units)
        except MedFuseError as err:
            errors.append(err)
            problems.append(str(err))
    if structures:
        volumes += rtstruct_roi_volumes(structures, _by_reference(volumes))
    volumes += seg_roi_volumes(segs)
    if not volumes and errors:
        raise errors[0]
    volumes = _drop_unplaceable_masks(volumes, problems)
    for problem in problems:
        logger.warning("not shown: %s", problem)
    return StudyLayers(study_layer_data(volumes), problems)


def _drop_unplaceable_masks(volumes: list[Volume], problems: list[str]) -> list[Volume]:
    """``volumes`` without label maps that no image series can hold: of another dimension (left
    out), or lying outside every series (kept, with a note: another frame of reference?)."""
    images = [v for v in volumes if not v.meta.get("label_map")]
    kept = []
    for volume in volumes:
        if volume.meta.get("label_map") and images:
            name = volume.meta.get("description") or volume.meta.get("source") or "mask"
            if all(image.ndim != volume.ndim for image in images):
                problems.append(f"{name}: a {volume.ndim}D mask cannot lie on the "
                                f"{images[0].ndim}D series; not shown")
                continue
            if not any(overlaps(volume, image) for image in images if image.ndim == volume.ndim):
                problems.append(f"{name}: the mask lies outside every series (another patient "
                                "or frame of reference?)")
        kept.append(volume)
    return kept


def _by_reference(volumes: Sequence[Volume]) -> list[Volume]:
    """The images of ``volumes``, the reference first (the grid ROIs are rasterised onto)."""
    images = [v for v in volumes if not v.meta.get("label_map")]
    first = reference_index([v.modality for v in images], [_voxel_mm3(v) for v in images])
    return sorted(images, key=lambda v: v is not images[first]) if first is not None else images


def _voxel_mm3(volume: Volume) -> float:
    return float(abs(np.prod(volume.spacing)))


def read_volumes(path: str | Path, *, problems: list[str] | None = None,
                 modality: str | None = None, units: str | None = None) -> list[Volume]:
    """Every series at ``path``: a file, a DICOM folder, or a study folder of NIfTI files.

    In a folder, a series or file that cannot be read is skipped and its one-line reason added
    to ``problems`` (when given; else the first such error is raised). ``modality`` and ``units``
    override the guess for a file that records neither (NIfTI, PNG; see ``medfuse.io.load``).

    Raises
    ------
    InputError
        The folder holds no image MedFuse can read.
    MedFuseError
        A file that cannot be read (a 4D NIfTI, a colour DICOM...), or every series of a folder.
    """
    from medfuse.io import load
    from medfuse.io.seg import is_seg

    path = Path(path)
    if not path.is_dir():
        if is_seg(path):
            return seg_roi_volumes([path])
        return [_mark_label(load(path, modality=modality, units=units), path)]
    skipped: list[MedFuseError] = []

    def each(readers: Sequence[Callable[[], Volume]]) -> list[Volume]:
        volumes = []
        for read in readers:
            try:
                volumes.append(read())
            except MedFuseError as err:
                skipped.append(err)
        return volumes

    files = _files(path)
    niftis = sorted(f for f in files if f.name.lower().endswith((".nii", ".nii.gz")))
    labels = [f for f in niftis if _looks_like_label(f)]
    images: list[Volume] = []
    if any(_is_dicom(f) for f in files):
        from medfuse.io.dicom import discover_series, read_series
        from medfuse.io.rtstruct import is_rtstruct

        try:
            found = discover_series(path)
        except MedFuseError as err:
            found = []
            skipped.append(err)
        images = each([lambda s=s: read_series(s, source=path) for s in found])
        structures = [f for f in files if _is_dicom(f) and is_rtstruct(f)]
        segs = [f for f in files if _is_dicom(f) and f not in structures and is_seg(f)]
        if images and (structures or segs):  # the contours and segments, not their NIfTI copies
            images += rtstruct_roi_volumes(structures, _by_reference(images)) + seg_roi_volumes(segs)
        elif images:
            images += each([lambda f=f: _mark_label(load(f), f) for f in labels])
    if not images and niftis:
        if skipped:
            logger.warning("DICOM series in %s could not be loaded: %s", path, skipped[0])
            skipped.clear()  # the NIfTI copies stand in for them
        images = each([lambda f=f: _mark_label(load(f), f) for f in niftis])
    if skipped and (problems is None or not images):
        raise skipped[0]
    if problems is not None:
        problems.extend(str(err) for err in skipped)
    if not images:
        raise InputError(
            "no images found (expected DICOM files or .nii/.nii.gz files in this folder or below)",
            path=path,
        )
    return images


def _looks_like_label(path: Path) -> bool:
    """Label maps by name: under a ``labels``/``masks`` folder, or named mask, label, seg."""
    parts = {p.lower() for p in path.parent.parts}
    name = path.name.lower()
    return bool(parts & {"labels", "label", "masks", "mask", "seg"}) or any(
        word in name for word in ("mask", "label", "seg")
    )


def _mark_label(volume: Volume, path: Path) -> Volume:
    if volume.units == "label" or (_looks_like_label(path) and volume.array.dtype.kind in "biu"):
        name = str(volume.meta.get("description") or mask_name(path))
        volume.meta.update(label_map=True, description=name,
                           labels=label_names(volume.array, name, volume.meta.get("labels")))
    return volume


def _files(folder: Path) -> list[Path]:
    return [f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".")]


def _is_dicom(path: Path) -> bool:
    from medfuse.io.paths import is_dicom_file

    return path.suffix.lower() == ".dcm" or is_dicom_file(path)


def study_layer_data(volumes: Sequence[Volume]) -> list[LayerDataTuple]:
    """Layer tuples in display order: hidden extra anatomy, the reference anatomy, then overlays.

    The reference follows :func:`~medfuse.napari._reference.reference_index` (the CT, else the finest
    anatomical grid); functional series (PET, SPECT) are drawn on top of it in a colour map whose low
    uptake is transparent, or opaque when there is no anatomy. Every series is drawn on a
    display-aligned grid (:func:`~medfuse.napari._display_grid.display_volume`).
    """
    images = [v for v in volumes if not v.meta.get("label_map")]
    first = reference_index([v.modality for v in images], [_voxel_mm3(v) for v in images])
    reference = display_volume(images[first]) if first is not None else None
    shown = [reference if i == first else display_volume(v, reference=reference)
             for i, v in enumerate(images)]
    functional = [v for v in shown if get_modality(v.modality).functional]
    others = [v for v in shown if v is not reference and v not in functional]
    layers = [volume_layer_data(v, visible=False) for v in others]
    if reference is not None:
        layers.append(volume_layer_data(reference))
    layers.extend(volume_layer_data(v, alone=reference is None and i == 0, visible=i == 0
                                    or reference is not None) for i, v in enumerate(functional))
    order = {id(v): i for i, v in enumerate(shown)}
    for (_data, kwargs, _kind), volume in zip(layers, others + [reference] * (reference is not None)
                                              + functional):
        kwargs["metadata"]["read_order"] = order[id(volume)]  # the study's order, not the display's
    label_maps = distinct_masks([v for v in volumes if v.meta.get("label_map")])
    layers.extend(labels_layer_data(display_volume(v, reference=reference)) for v in label_maps)
    return layers

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


def read_layers(path: str | Sequence[str]) -> list[LayerDataTuple]:
    """Layer data tuples for every series at ``path`` (a path or a list of paths), display-ordered."""
    from medfuse.io.rtstruct import is_rtstruct
    from medfuse.io.seg import is_seg

    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    structures = [p for p in paths if is_rtstruct(p)]
    segs = [p for p in paths if p not in structures and is_seg(p)]
    volumes = [v for p in paths if p not in structures and p not in segs for v in read_volumes(p)]
    if structures:
        volumes += rtstruct_roi_volumes(structures, _by_reference(volumes))
    return study_layer_data(volumes + seg_roi_volumes(segs))


def _by_reference(volumes: Sequence[Volume]) -> list[Volume]:
    """The images of ``volumes``, the reference first (the grid ROIs are rasterised onto)."""
    images = [v for v in volumes if not v.meta.get("label_map")]
    first = reference_index([v.modality for v in images], [_voxel_mm3(v) for v in images])
    return sorted(images, key=lambda v: v is not images[first]) if first is not None else images


def _voxel_mm3(volume: Volume) -> float:
    return float(abs(np.prod(volume.spacing)))


def read_volumes(path: str | Path) -> list[Volume]:
    """Every series at ``path``: a file, a DICOM folder, or a study folder of NIfTI files.

    Raises
    ------
    InputError
        The folder holds no image MedFuse can read.
    """
    from medfuse.io import load, load_all

    from medfuse.io.seg import is_seg

    path = Path(path)
    if not path.is_dir():
        return seg_roi_volumes([path]) if is_seg(path) else [_mark_label(load(path), path)]
    files = _files(path)
    niftis = sorted(f for f in files if f.name.lower().endswith((".nii", ".nii.gz")))
    labels = [f for f in niftis if _looks_like_label(f)]
    dicom_error: MedFuseError | None = None
    if any(_is_dicom(f) for f in files):
        from medfuse.io.rtstruct import is_rtstruct

        structures = [f for f in files if _is_dicom(f) and is_rtstruct(f)]
        segs = [f for f in files if _is_dicom(f) and f not in structures and is_seg(f)]
        try:
            images = load_all(path)
            if structures or segs:  # the contours and segments themselves, not NIfTI copies
                return (images + rtstruct_roi_volumes(structures, _by_reference(images))
                        + seg_roi_volumes(segs))
            return images + [_mark_label(load(f), f) for f in labels]
        except MedFuseError as err:
            dicom_error = err
            logger.warning("DICOM series in %s could not be loaded: %s", path, err)
    if niftis:
        return [_mark_label(load(f), f) for f in niftis]
    if dicom_error is not None:
        raise dicom_error
    raise InputError(
        "no images found (expected DICOM files or .nii/.nii.gz files in this folder or below)",
        path=path,
    )


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

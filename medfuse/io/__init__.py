"""Loading and writing: DICOM series, NIfTI and 2D images into ``Volume``; NIfTI, PNG and DICOM out.

``load`` checks that the path exists, then that it is not empty, then sniffs the format, and every
error quotes the path.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from medfuse.volume import Volume
>>> path = pathlib.Path(tempfile.mkdtemp()) / "ct.nii.gz"
>>> _ = write_nifti(Volume(np.zeros((2, 3, 4), np.int16), modality="CT", units="HU"), path)
>>> load(path).size, load(path).modality
((4, 3, 2), 'CT')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import InputError, InvalidSeriesError
from medfuse.io.image2d import is_image2d, read_image2d, write_png
from medfuse.io.nifti import is_nifti, read_nifti, write_nifti
from medfuse.io.paths import is_dicom_file
from medfuse.io.plugin_dispatch import claiming_spec, load_with_plugin
from medfuse.volume import Volume

__all__ = ["describe", "load", "load_all", "load_mask", "write_nifti", "write_png",
           "write_dicom_series"]


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("file is empty", path=path)


def load(
    path: str | Path,
    *,
    series_uid: str | None = None,
    modality: str | None = None,
    units: str | None = None,
    suv: bool = True,
) -> Volume:
    """Load one image series from a DICOM folder or file, a NIfTI file or a 2D image.

    Parameters
    ----------
    path : a DICOM folder (searched recursively), a DICOM file, ``.nii``/``.nii.gz``, PNG/TIFF.
        A file claimed by an installed modality plugin (its ``file_patterns``, or its DICOM
        Modality/SOP Class when it brings a ``loader``) is read by that plugin's loader.
    series_uid : which series of a DICOM folder holding several (see :func:`load_all`).
    modality, units : for formats that do not record them (NIfTI, PNG); ignored for DICOM.
    suv : convert PET in Bq/ml (or Philips CNTS) to SUVbw when the headers allow it.

    Raises
    ------
    InputError
        The path does not exist or is empty.
    InvalidSeriesError
        The content cannot make a consistent volume (the message says why).
    """
    path = Path(path)
    _check_exists(path)
    plugin = claiming_spec(path, is_dicom=path.is_file() and is_dicom_file(path))
    if plugin is not None and plugin.loader is not None:
        return load_with_plugin(plugin, path)
    modality = modality or (plugin.code if plugin is not None else None)
    if path.is_file() and is_nifti(path):
        return read_nifti(path, modality=modality, units=units)
    if path.is_file() and is_image2d(path):
        return read_image2d(path, modality=modality or "OT", units=units or "a.u.")
    if path.is_dir() or is_dicom_file(path):
        from medfuse.io.dicom import read_dicom

        return read_dicom(path, series_uid=series_uid, suv=suv)
    raise InvalidSeriesError(
        "unknown format: expected a DICOM file or folder, .nii/.nii.gz, or a PNG/TIFF image",
        path=path,
    )


def load_all(path: str | Path, *, suv: bool = True, modality: str | None = None,
             units: str | None = None) -> list[Volume]:
    """Load every series found at ``path`` (a DICOM folder may hold several); ``modality`` and
    ``units`` as in :func:`load`, for a file that records neither."""
    path = Path(path)
    _check_exists(path)
    if path.is_dir():
        from medfuse.io.dicom import discover_series, read_series

        return [read_series(s, suv=suv, source=path) for s in discover_series(path)]
    return [load(path, suv=suv, modality=modality, units=units)]


def load_mask(path: str | Path, reference: Volume) -> Volume:
    """A label map in ``reference``'s physical space: a label file (NIfTI, DICOM SEG...) as it is,
    an RTSTRUCT's contours rasterised on ``reference``'s grid (every ROI one label).

    Raises
    ------
    InputError, InvalidSeriesError
        The path does not exist, or is neither a readable label map nor an RTSTRUCT.
    """
    from medfuse.io.rtstruct import is_rtstruct, rtstruct_to_mask
    from medfuse.io.seg import is_seg, read_seg

    path = Path(path)
    _check_exists(path)
    if path.is_file() and is_rtstruct(path):
        return rtstruct_to_mask(path, reference)[0]
    if path.is_file() and is_seg(path):
        return _segments_as_labels(read_seg(path))
    return load(path)


def _segments_as_labels(segments: list[Volume]) -> Volume:
    """A DICOM SEG's segments (one label map each, on the SEG's grid) as one label map: segment
    ``i`` is label ``i`` (a later segment wins where two overlap), ``meta["labels"]`` their names."""
    labels = np.zeros(segments[0].array.shape, np.uint16)
    names = {}
    for number, segment in enumerate(segments, start=1):
        labels[np.asarray(segment.array) > 0] = number
        names[number] = segment.meta.get("description", f"segment {number}")
    return segments[0].with_array(labels, meta={**segments[0].meta, "labels": names})


def describe(volume: Volume) -> dict[str, Any]:
    """The ``medfuse info`` entry for one volume (ITK x, y, z order; LPS mm)."""
    return {
        "modality": volume.modality,
        "units": volume.units,
        "size": list(volume.size),
        "spacing": [round(s, 6) for s in volume.spacing],
        "origin": [round(o, 6) for o in volume.origin],
        "direction": [round(float(d), 8) for d in volume.direction.ravel()],
        "orientation": volume.orientation,
        "suv_factor": volume.meta.get("suv_factor"),
        "series_uid": volume.meta.get("series_uid"),
        "n_files": volume.meta.get("n_files", 1),
        "description": volume.meta.get("description", ""),
        "dtype": str(volume.array.dtype),
        "source": volume.meta.get("source"),
    }


def write_dicom_series(volume: Volume, folder: str | Path, **kwargs: Any) -> Path:
    """Write ``volume`` as a new DICOM series (see :mod:`medfuse.io.dicom_writer`)."""
    from medfuse.io.dicom_writer import write_dicom_series as _write

    return _write(volume, folder, **kwargs)

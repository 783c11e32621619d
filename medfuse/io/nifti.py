"""NIfTI reading and writing. NIfTI stores RAS; the ``Volume`` is LPS: the conversion happens here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medfuse.errors import InvalidSeriesError
from medfuse.io._atomic import atomic_path
from medfuse.io._nifti_checks import load_verified
from medfuse.volume import Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: Path) -> bool:
    """True when the file name ends in ``.nii`` or ``.nii.gz``."""
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def ras_affine_to_lps(affine: np.ndarray) -> np.ndarray:
    """Convert a 4x4 voxel -> RAS affine (NIfTI) to voxel -> LPS (DICOM/ITK); its own inverse.

    Examples
    --------
    >>> ras_affine_to_lps(np.diag([2.0, 2.0, 2.0, 1.0])).diagonal().tolist()
    [-2.0, -2.0, 2.0, 1.0]
    """
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(affine, dtype=float)


def read_nifti(path: str | Path, *, modality: str | None = None, units: str | None = None) -> Volume:
    """Read a NIfTI file into an LPS ``Volume``, keeping the stored dtype unless scaling applies.

    Geometry follows nibabel's choice of sform/qform; the affine is converted from RAS to LPS.
    NIfTI carries no modality: ``modality`` and ``units`` come from the caller, else from the
    description MedFuse writes (``medfuse CT HU``), else ``OT`` in arbitrary units. An RGB24 file
    (as MedFuse writes fused colour images) becomes an RGB volume.

    Raises
    ------
    InvalidSeriesError
        The file is damaged or truncated, its geometry is degenerate, it needs more memory than
        available, or it holds more than one 3D volume (see :mod:`medfuse.io._nifti_checks`).
    """
    path = Path(path)
    image, data = load_verified(path)
    rgb = data.dtype.names == ("R", "G", "B")
    if rgb:
        data = np.stack([data[c] for c in "RGB"], axis=-1)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    if not data.dtype.isnative:  # big-endian files (SPM templates) become native order
        data = data.astype(data.dtype.newbyteorder("="))
    stored_modality, stored_units = _medfuse_description(image.header)
    modality = modality or stored_modality or "OT"
    units = units or (stored_units if modality == stored_modality else None)
    data = _spatial(data, rgb, path)
    affine = ras_affine_to_lps(image.affine)
    nd = data.ndim - rgb
    linear = affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    direction = linear / spacing
    axes = tuple(reversed(range(nd))) + ((nd,) if rgb else ())
    array = np.ascontiguousarray(np.transpose(data, axes))  # (x, y, z) -> (z, y, x)
    if nd == 2:
        spacing, direction, origin = spacing[:2], direction[:2, :2], affine[:2, 3]
    else:
        origin = affine[:3, 3]
    from medfuse.modalities import get_modality

    meta = {"source": str(path), "format": "nifti"} | ({"rgb": True} if rgb else {})
    return Volume(
        array,
        spacing=tuple(spacing),
        origin=tuple(origin),
        direction=direction,
        modality=modality,
        units=units or get_modality(modality).default_units,
        meta=meta,
    )


def _spatial(data: np.ndarray, rgb: bool, path: Path) -> np.ndarray:
    """``data`` without trailing unit axes; refuses a 4D series (several volumes in one file)."""
    extra = data.shape[3:data.ndim - rgb]
    if any(n > 1 for n in extra):
        raise InvalidSeriesError(
            f"a {data.ndim - rgb}D image of shape {data.shape[:data.ndim - rgb]}: MedFuse reads one "
            "3D volume per file; extract the frame you want first (e.g. nibabel's "
            "image.slicer[..., k] or fslroi)", path=path)
    if rgb:
        return data.reshape(data.shape[:3] + (3,)) if data.ndim > 4 else data
    return data.reshape(data.shape[:3]) if data.ndim > 3 else data


def _medfuse_description(header) -> tuple[str | None, str | None]:
    """``(modality, units)`` from a description written by :func:`write_nifti`, else ``(None, None)``."""
    words = header["descrip"].item().decode("ascii", "replace").strip("\x00 ").split()
    if len(words) == 3 and words[0] == "medfuse":
        return words[1], words[2]
    return None, None


def write_nifti(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` as NIfTI (LPS converted to RAS), atomically; returns the path."""
    import nibabel as nib

    path = Path(path)
    if volume.ndim == 3:
        affine = ras_affine_to_lps(volume.affine)
    else:
        affine = np.eye(4)
        affine[:2, :2] = volume.affine[:2, :2]
        affine[:2, 3] = volume.affine[:2, 2]
        affine = ras_affine_to_lps(affine)
    if volume.is_rgb:  # (z, y, x, 3) or (y, x, 3) uint8 -> RGB24 voxels in (x, y[, z]) order
        spatial = tuple(reversed(range(volume.ndim))) + (volume.ndim,)
        pixels = np.ascontiguousarray(np.transpose(volume.array, spatial), dtype=np.uint8)
        data = pixels.view([("R", "u1"), ("G", "u1"), ("B", "u1")])[..., 0]
    else:
        data = np.transpose(volume.array)
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    if not data.dtype.isnative:  # big-endian files (SPM templates) become native order
        data = data.astype(data.dtype.newbyteorder("="))
    image = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    image.header["descrip"] = f"medfuse {volume.modality} {volume.units}"[:79].encode()
    with atomic_path(path) as tmp:
        nib.save(image, str(tmp))
    return path

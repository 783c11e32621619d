"""Checks of registration inputs, landmark files, and whether a pair needs registration at all.

Landmark files hold corresponding points in LPS millimetres (the DICOM/ITK world), one pair a row:

* CSV: ``x_fixed,y_fixed,z_fixed,x_moving,y_moving,z_moving`` (a header line is allowed);
* JSON: ``{"fixed": [[x, y, z], ...], "moving": [[x, y, z], ...]}``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import RegistrationError
from medfuse.volume import Volume

#: modality pairs that hybrid scanners acquire in one frame of reference (PET/CT, SPECT/CT)
HYBRID_PAIRS = {frozenset({"PT", "CT"}), frozenset({"NM", "CT"})}


def _name(volume: Volume, role: str) -> str:
    source = volume.meta.get("source")
    return f"{role} image {source}" if source else f"{role} image"


def check_image(volume: Volume, role: str) -> None:
    """Raise when ``volume`` cannot be registered: RGB, NaN/inf, empty or constant.

    Raises
    ------
    RegistrationError
        The message names the role (fixed, moving) and the source path when known.
    """
    if volume.is_rgb:
        raise RegistrationError(f"{_name(volume, role)} is RGB; register its grey (luma) version")
    array = np.asarray(volume.array)
    if array.size == 0:
        raise RegistrationError(f"{_name(volume, role)} is empty")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise RegistrationError(
            f"{_name(volume, role)} contains NaN or infinite values; replace them "
            "(for example with numpy.nan_to_num) before registering"
        )
    if min(volume.size) < 4:
        raise RegistrationError(
            f"{_name(volume, role)} has only {min(volume.size)} voxels along one axis "
            f"(size {volume.size}); registration needs at least 4"
        )
    if float(array.max()) == float(array.min()):
        raise RegistrationError(
            f"{_name(volume, role)} is constant (every voxel is {array.flat[0]}): nothing to align"
        )


def check_pair(fixed: Volume, moving: Volume) -> None:
    """Both images registrable and of the same dimension."""
    if fixed.ndim != moving.ndim:
        raise RegistrationError(
            f"cannot register a {moving.ndim}D {_name(moving, 'moving')} to a {fixed.ndim}D "
            f"{_name(fixed, 'fixed')}: both must be 2D or both 3D"
        )
    check_image(fixed, "fixed")
    check_image(moving, "moving")


def check_mask(mask: Volume, image: Volume, role: str) -> Volume:
    """Raise unless ``mask`` lies on ``image``'s grid and selects at least 64 voxels."""
    if not mask.same_grid(image):
        raise RegistrationError(
            f"the {role} mask (size {mask.size}, spacing {tuple(round(s, 3) for s in mask.spacing)}) "
            f"is not on the {role} image grid (size {image.size}, spacing "
            f"{tuple(round(s, 3) for s in image.spacing)}); resample it with nearest neighbour first"
        )
    count = int(np.count_nonzero(mask.array))
    if count < 64:
        raise RegistrationError(
            f"the {role} mask selects {count} voxels; it needs at least 64 to sample the metric"
        )
    return mask


def read_landmarks(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read corresponding points (fixed, moving), each shape (n, d), from a CSV or JSON file.

    Raises
    ------
    RegistrationError
        The file is missing, malformed, or holds fewer than 3 pairs.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RegistrationError(f"cannot read the landmark file ({err})", path=path) from err
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            fixed = np.asarray(data["fixed"], dtype=float)
            moving = np.asarray(data["moving"], dtype=float)
        else:
            rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].startswith("#")]
            if rows and not _is_number(rows[0][0]):
                rows = rows[1:]
            values = np.asarray([[float(v) for v in r] for r in rows], dtype=float)
            half = values.shape[1] // 2 if values.ndim == 2 else 0
            fixed, moving = values[:, :half], values[:, half:]
    except (ValueError, KeyError, TypeError, IndexError, json.JSONDecodeError) as err:
        raise RegistrationError(
            "landmarks must be CSV rows x,y,z (fixed),x,y,z (moving) in LPS mm, or JSON "
            f'{{"fixed": [[x,y,z],...], "moving": [...]}} ({type(err).__name__}: {err})',
            path=path,
        ) from err
    return check_landmarks(fixed, moving, source=str(path))


def check_landmarks(fixed: Any, moving: Any, *, source: str = "landmarks") -> tuple[np.ndarray, np.ndarray]:
    """Validate landmark arrays: same shape (n, 2 or 3), n >= 3, finite, not all on one line."""
    fixed = np.atleast_2d(np.asarray(fixed, dtype=float))
    moving = np.atleast_2d(np.asarray(moving, dtype=float))
    if fixed.shape != moving.shape or fixed.shape[1] not in (2, 3):
        raise RegistrationError(
            f"{source}: fixed and moving points must both be (n, 3) or (n, 2) arrays, "
            f"not {fixed.shape} and {moving.shape}"
        )
    if len(fixed) < 3:
        raise RegistrationError(
            f"{source}: {len(fixed)} landmark pairs given; at least 3 are needed"
        )
    if not (np.all(np.isfinite(fixed)) and np.all(np.isfinite(moving))):
        raise RegistrationError(f"{source}: landmarks contain NaN or infinite values")
    if np.linalg.matrix_rank(fixed - fixed.mean(axis=0), tol=1e-3) < min(2, fixed.shape[1]):
        raise RegistrationError(f"{source}: the fixed landmarks all lie on one line")
    return fixed, moving


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def frame_of_reference(volume: Volume) -> str | None:
    """The DICOM FrameOfReferenceUID recorded in ``volume.meta``, if any."""
    for key in ("frame_of_reference_uid", "FrameOfReferenceUID", "frame_of_reference"):
        if volume.meta.get(key):
            return str(volume.meta[key])
    return None


def needs_registration(fixed: Volume, moving: Volume) -> bool:
    """False for a hybrid-scanner pair (PET/CT, SPECT/CT) sharing one FrameOfReferenceUID.

    Such series are aligned by the scanner; mutual information on PETs that show mostly tumour can
    move them away from that alignment (see benchmarks/results_registration.md), so the scanner
    alignment is the default and registration an explicit choice. Every other pair needs registration:
    a shared frame of reference between separate scanners (the MR of ``volumes/sts``) proves nothing.
    """
    uid = frame_of_reference(fixed)
    same_frame = uid is not None and uid == frame_of_reference(moving)
    pair = frozenset({fixed.modality.upper(), moving.modality.upper()})
    return not (same_frame and pair in HYBRID_PAIRS)


def bounding_box(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """World-space (min, max) corners of the volume's voxel centres."""
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in volume.size])).reshape(volume.ndim, -1).T
    world = volume.index_to_world(corners)
    return world.min(axis=0), world.max(axis=0)


def overlaps(fixed: Volume, moving: Volume) -> bool:
    """True when the two images' world bounding boxes intersect."""
    (a0, a1), (b0, b1) = bounding_box(fixed), bounding_box(moving)
    return bool(np.all(a0 <= b1) and np.all(b0 <= a1))

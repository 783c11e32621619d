"""Display grids: every series drawn on a grid whose axes are the display's (LPS) axes.

napari draws a 2D slice of a layer whose axes are rotated against the view without the out-of-plane
part of the rotation ("Non-orthogonal slicing ... displayed without applying an out-of-slice
rotation"): an MR tilted by 9 degrees would show another anatomical level than the one under the
cursor, centimetres away at the edge of the field. So a series whose direction is not the display
frame's (oblique, or axes permuted) is resampled for display, by physical position
(``Volume.resample_to``), onto the reference series' grid, or onto an axis-aligned grid covering its
own extent at its own resolution when it has no axis-aligned reference. Flipped axes (the SPM SPECT
template's +x) are drawn as they are.
"""

from __future__ import annotations

import logging

import numpy as np

from medfuse.volume import Volume

logger = logging.getLogger(__name__)

#: largest off-diagonal direction cosine still drawn as axis-aligned (1e-4: 0.006 degrees)
_ALIGNED_TOLERANCE = 1e-4


def is_display_aligned(volume: Volume) -> bool:
    """True when each index axis runs along one world axis in order (flips allowed), as napari
    can slice it exactly.

    Examples
    --------
    >>> is_display_aligned(Volume(np.zeros((2, 3, 4)), direction=np.diag([-1.0, -1.0, 1.0])))
    True
    >>> c, s = np.cos(0.15), np.sin(0.15)
    >>> is_display_aligned(Volume(np.zeros((2, 3, 4)), direction=[[1, 0, 0], [0, c, -s], [0, s, c]]))
    False
    """
    direction = np.asarray(volume.direction, dtype=float)
    off = direction - np.diag(np.diag(direction))
    return bool(np.all(np.abs(off) <= _ALIGNED_TOLERANCE))


def aligned_grid(volume: Volume) -> Volume:
    """An empty axis-aligned grid (identity direction) covering ``volume``'s extent, with the
    spacing of the index axis closest to each world axis.

    Examples
    --------
    >>> c, s = np.cos(np.pi / 2), np.sin(np.pi / 2)
    >>> v = Volume(np.zeros((2, 3, 4)), spacing=(1.0, 2.0, 3.0), direction=[[c, -s, 0], [s, c, 0], [0, 0, 1]])
    >>> g = aligned_grid(v)
    >>> g.spacing, g.size
    ((2.0, 1.0, 3.0), (3, 4, 2))
    """
    nd = volume.ndim
    corners = np.array(np.meshgrid(*[[-0.5, n - 0.5] for n in volume.size], indexing="ij"))
    world = volume.index_to_world(corners.reshape(nd, -1).T)
    closest = np.argmax(np.abs(np.asarray(volume.direction)), axis=1)
    spacing = np.asarray(volume.spacing)[closest]
    low, high = world.min(axis=0), world.max(axis=0)
    size = np.maximum(1, np.round((high - low) / spacing).astype(int))
    origin = low + spacing / 2
    return Volume(np.zeros(tuple(size[::-1]), np.uint8), spacing=tuple(spacing), origin=tuple(origin))


def display_volume(volume: Volume, *, reference: Volume | None = None) -> Volume:
    """``volume`` as napari can draw it: itself when axis-aligned, else resampled by physical
    position onto ``reference``'s grid (when that is axis-aligned) or onto :func:`aligned_grid`.

    Label maps (``meta["label_map"]``, integer arrays) are resampled by nearest neighbour, images
    linearly. The result's ``meta["display_resampled"]`` says from which grid.
    """
    if volume.ndim != 3 or is_display_aligned(volume):
        return volume
    target = reference if reference is not None and is_display_aligned(reference) else None
    target = target if target is not None and target.ndim == 3 else aligned_grid(volume)
    label = bool(volume.meta.get("label_map")) or volume.units == "label"
    out = volume.resample_to(target, interpolation="nearest" if label else "linear")
    if label:
        out = out.with_array(np.asarray(out.array).astype(volume.array.dtype, copy=False))
    angle = float(np.degrees(np.arccos(np.clip(np.min(np.abs(np.diag(volume.direction))), -1, 1))))
    out.meta["extent_mm"] = float(np.max(np.asarray(volume.size) * np.asarray(volume.spacing)))
    out.meta["display_resampled"] = (
        f"direction {angle:.1f} deg off the display axes: drawn resampled onto "
        f"{'the reference grid' if target is reference else 'an axis-aligned grid of its extent'}")
    logger.info("%s: %s", volume.meta.get("description") or volume.modality,
                out.meta["display_resampled"])
    return out

"""Dose statistics inside a region of interest: Dmean, Dmax, D95 and V20Gy (dose-volume histogram points)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medfuse.errors import GeometryError, InputError
from medfuse.volume import Volume

__all__ = ["dose_statistics"]


def dose_statistics(
    dose: Volume,
    mask: Volume,
    *,
    coverage: Sequence[float] = (95.0,),
    thresholds_gy: Sequence[float] = (20.0,),
) -> dict[str, Any]:
    """DVH points of ``dose`` inside the non-zero voxels of ``mask``.

    Every voxel counts for its volume, so the values are those of a cumulative dose-volume histogram
    without binning. A mask on another grid (a contour drawn on the planning CT) is used as it is and
    the dose is resampled onto it linearly, the usual choice for organs smaller than the dose grid.

    Parameters
    ----------
    dose : an RT dose in ``Gy`` (or relative ``%``).
    mask : a label map; non-zero voxels form the ROI.
    coverage : ``D<x>`` points: the minimum dose received by the hottest ``x`` percent of the ROI.
    thresholds_gy : ``V<x>Gy`` points: percent of the ROI volume receiving at least ``x`` Gy
        (None for a relative dose, which has no Gy).

    Returns
    -------
    dict
        ``Dmean``, ``Dmax``, ``Dmin``, ``D95`` (one key per coverage), ``V20Gy`` (one key per
        threshold), ``volume_cc``, ``n_voxels`` and the dose ``units``.

    Raises
    ------
    GeometryError
        Dose and mask of different dimensions.
    InputError
        A mask that selects no voxel.

    Examples
    --------
    >>> import numpy as np
    >>> dose = Volume(np.arange(100, dtype=np.float32).reshape(1, 10, 10) / 2, units="Gy")
    >>> stats = dose_statistics(dose, dose.with_array(np.ones((1, 10, 10), np.uint8)))
    >>> stats["Dmax"], stats["Dmean"], stats["V20Gy"]
    (49.5, 24.75, 60.0)
    """
    if dose.ndim != mask.ndim:
        raise GeometryError(f"dose is {dose.ndim}D but the mask is {mask.ndim}D")
    if not dose.same_grid(mask):
        dose = dose.resample_to(mask, interpolation="linear")
    inside = np.asarray(mask.array) != 0
    values = np.asarray(dose.array, dtype=np.float64)[inside]
    if values.size == 0:
        raise InputError(
            f"the ROI mask selects no voxel on the dose grid (mask shape {mask.array.shape})",
            path=mask.meta.get("source"),
        )
    stats: dict[str, Any] = {
        "units": dose.units,
        "n_voxels": int(values.size),
        "volume_cc": float(values.size * np.prod(mask.spacing) / 1000.0),
        "Dmean": float(values.mean()),
        "Dmax": float(values.max()),
        "Dmin": float(values.min()),
    }
    for x in coverage:
        stats[f"D{x:g}"] = float(np.percentile(values, 100.0 - x))
    for gy in thresholds_gy:
        stats[f"V{gy:g}Gy"] = (
            float(100.0 * np.count_nonzero(values >= gy) / values.size) if dose.units == "Gy" else None
        )
    return stats

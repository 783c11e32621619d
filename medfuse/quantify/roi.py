"""ROI statistics of a volume inside a label map, computed on the volume's own grid.

A mask drawn on another grid (another modality registered to this one, or the same scanner frame)
is first mapped onto the volume's grid by nearest neighbour in physical space, through a registration
transform when one is given: PET statistics are computed on the PET's own voxels, as clinical
practice does.

Conventions (docs/report_schema.md repeats them):

* ``volume_ml`` = voxel count x voxel volume; ``sd`` is the population standard deviation (ddof=0).
* PET in ``SUVbw`` (any ``SUV*`` units): ``suv_max``, ``suv_mean`` over the ROI;
  ``suv_peak``: mean of the voxels whose centres lie within 6.2 mm (a 1 cm^3 sphere) of the
  hottest ROI voxel's centre, voxels outside the ROI included, outside the image left out (PERCIST,
  Wahl et al. 2009, as IBSI 1 defines the "local intensity peak"; among equally hot voxels, the one
  with the highest peak); ``suv_peak_search``: the same sphere centred on every ROI voxel, the
  highest mean (IBSI 1 "global intensity peak"); ``mtv41_ml``: ROI voxels with SUV >= 41 % of
  SUVmax; ``mtv25_ml``: ROI voxels with SUV >= 2.5; ``mtv_ml`` = ``mtv41_ml``; ``tlg`` = ``tlg41``
  = SUVmean inside the 41 % MTV x ``mtv41_ml`` (``tlg25`` likewise for the 2.5 threshold).
  PET not in SUV units gets these keys as ``None``.
* CT in ``HU``: ``hu_mean``, ``hu_sd``.

Examples
--------
>>> import numpy as np
>>> from medfuse.volume import Volume
>>> ct = Volume(np.full((4, 4, 4), 40.0), spacing=(2.0, 2.0, 2.0), modality="CT", units="HU")
>>> mask = ct.with_array(np.ones((4, 4, 4), np.uint8), modality="SEG")
>>> s = roi_statistics(ct, mask, labels={1: "liver"})[0]
>>> s["name"], s["volume_ml"], s["hu_mean"]
('liver', 0.512, 40.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medfuse.errors import GeometryError
from medfuse.volume import Volume

#: radius of the 1 cm^3 sphere of SUVpeak, in mm ((3 / (4 pi) * 1000) ** (1/3) = 6.20 mm)
SUV_PEAK_RADIUS_MM = 6.2
#: fraction of SUVmax that defines the metabolic tumour volume
MTV_FRACTION = 0.41
#: absolute SUV threshold of the second metabolic tumour volume
MTV_ABSOLUTE_SUV = 2.5
#: the PET entries of an ROI (``None`` where the PET is not in SUV units)
PET_KEYS = ("suv_max", "suv_mean", "suv_peak", "suv_peak_search", "mtv_ml", "tlg", "mtv41_ml",
            "tlg41", "mtv25_ml", "tlg25")


def map_mask(mask: Volume, reference: Volume, *, transform: Any = None) -> Volume:
    """``mask`` on ``reference``'s grid: nearest neighbour in physical space (no copy when already there).

    ``transform`` is an optional ``SimpleITK.Transform`` mapping ``reference``-space points to the
    mask's space (for a mask drawn on the fixed image and a moving ``reference``, that is the inverse
    of the registration's fixed -> moving transform).
    """
    if transform is None and mask.same_grid(reference):
        return mask
    if mask.ndim != reference.ndim:
        raise GeometryError(
            f"a {mask.ndim}D mask cannot be mapped onto a {reference.ndim}D volume"
        )
    return mask.resample_to(reference, interpolation="nearest", transform=transform)


def sphere_offsets(spacing: tuple[float, ...], radius_mm: float) -> np.ndarray:
    """Integer (z, y, x) offsets of the voxels whose centres lie within ``radius_mm`` of the centre.

    Examples
    --------
    >>> len(sphere_offsets((4.0, 4.0, 3.0), 6.2))
    21
    """
    sx, sy, sz = spacing
    r = [int(np.floor(radius_mm / s)) for s in (sz, sy, sx)]
    grid = np.mgrid[-r[0] : r[0] + 1, -r[1] : r[1] + 1, -r[2] : r[2] + 1].reshape(3, -1).T
    dist2 = (grid[:, 0] * sz) ** 2 + (grid[:, 1] * sy) ** 2 + (grid[:, 2] * sx) ** 2
    return grid[dist2 <= radius_mm**2 + 1e-9]


def _sphere_mean_map(array: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sphere mean at every voxel (a normalised convolution: voxels outside the grid left out)."""
    from scipy import ndimage

    r = np.abs(offsets).max(axis=0)
    kernel = np.zeros(tuple(2 * r + 1), dtype=np.float64)
    kernel[tuple((offsets + r).T)] = 1.0
    total = ndimage.correlate(array.astype(np.float64), kernel, mode="constant", cval=0.0)
    count = ndimage.correlate(np.ones(array.shape, np.float64), kernel, mode="constant", cval=0.0)
    return total / count


def _metabolic_volume(values: np.ndarray, threshold: float, voxel_ml: float) -> tuple[float, float]:
    """(volume in ml, total lesion glycolysis) of the ROI values at or above ``threshold``."""
    inside = values[values >= threshold]
    volume_ml = inside.size * voxel_ml
    return volume_ml, (float(inside.mean()) * volume_ml if inside.size else 0.0)


def _pet_statistics(array: np.ndarray, roi: np.ndarray, voxel_ml: float,
                    spacing: tuple[float, ...]) -> dict[str, Any]:
    """SUVmax/mean/peak, metabolic tumour volumes and TLG of the ROI (see the module docstring)."""
    values = array[roi].astype(np.float64)
    suv_max = float(values.max())
    offsets = sphere_offsets(spacing, SUV_PEAK_RADIUS_MM)
    peak_map = np.where(roi, _sphere_mean_map(array, offsets), -np.inf)
    # the hottest voxel; among equally hot voxels the one with the highest peak (IBSI 1)
    hottest_map = np.where(roi & (array == array[roi].max()), peak_map, -np.inf)
    hottest = np.unravel_index(int(np.argmax(hottest_map)), array.shape)
    best = np.unravel_index(int(np.argmax(peak_map)), array.shape)
    mtv41, tlg41 = _metabolic_volume(values, MTV_FRACTION * suv_max, voxel_ml)
    mtv25, tlg25 = _metabolic_volume(values, MTV_ABSOLUTE_SUV, voxel_ml)
    return {
        "suv_max": suv_max,
        "suv_mean": float(values.mean()),
        "suv_peak": float(peak_map[hottest]),
        "suv_peak_search": float(peak_map[best]),
        "suv_peak_voxels": int(len(offsets)),
        "suv_max_index": [int(i) for i in hottest[::-1]],
        "suv_peak_search_index": [int(i) for i in best[::-1]],
        "mtv_ml": mtv41,
        "tlg": tlg41,
        "mtv41_ml": mtv41,
        "tlg41": tlg41,
        "mtv25_ml": mtv25,
        "tlg25": tlg25,
    }


def roi_statistics(
    volume: Volume,
    mask: Volume,
    *,
    labels: dict[int, str] | None = None,
    transform: Any = None,
    series: str | None = None,
) -> list[dict[str, Any]]:
    """Statistics of ``volume`` inside each label of ``mask``, on ``volume``'s own grid.

    Parameters
    ----------
    volume : the image (CT in HU, PET in SUVbw, MR, ...).
    mask : a label map (0 = background) on any grid in the same physical space; it is mapped onto
        ``volume``'s grid by nearest neighbour (see :func:`map_mask`).
    labels : ``{label: name}``; by default every non-zero label, named from ``mask.meta["labels"]``
        or ``"ROI <label>"``. A label absent from the mapped mask gives an entry with
        ``voxel_count`` 0 and ``None`` statistics.
    transform : optional ``SimpleITK.Transform`` from ``volume``-space points to mask-space points.
    series : a name for the series in each entry (default: ``volume.meta["description"]`` or the
        modality).

    Returns
    -------
    One dict per label: ``name, label, series, modality, units, voxel_count, volume_ml, mean, sd,
    min, max`` plus PET (``suv_*``, ``mtv*``, ``tlg*``) or CT (``hu_mean``, ``hu_sd``) entries.

    Raises
    ------
    GeometryError
        The mask and the volume have different dimensions.
    """
    if volume.is_rgb:
        raise GeometryError("ROI statistics need a scalar volume, not an RGB image")
    mapped = map_mask(mask, volume, transform=transform)
    label_array = np.asarray(mapped.array)
    if labels is None:
        known = {int(k): str(v) for k, v in (mask.meta.get("labels") or {}).items()}
        present = [int(v) for v in np.unique(label_array) if v != 0]
        labels = {v: known.get(v, f"ROI {v}") for v in sorted(set(present) | set(known))}
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    array = np.asarray(volume.array)
    is_pet = volume.modality in ("PT", "NM") and volume.units.upper().startswith("SUV")
    results = []
    for label, name in labels.items():
        roi = label_array == label
        count = int(roi.sum())
        entry: dict[str, Any] = {
            "name": name,
            "label": int(label),
            "series": series or volume.meta.get("description") or volume.modality,
            "modality": volume.modality,
            "units": volume.units,
            "voxel_count": count,
            "volume_ml": count * voxel_ml,
        }
        if count == 0:
            entry.update(dict.fromkeys(("mean", "sd", "min", "max")))
            if volume.modality in ("PT", "NM"):
                entry.update(dict.fromkeys(PET_KEYS))
            results.append(entry)
            continue
        values = array[roi].astype(np.float64)
        entry.update(
            mean=float(values.mean()), sd=float(values.std()),
            min=float(values.min()), max=float(values.max()),
        )
        if is_pet and volume.ndim == 3:
            entry.update(_pet_statistics(array, roi, voxel_ml, volume.spacing))
        elif volume.modality in ("PT", "NM"):
            entry.update(dict.fromkeys(PET_KEYS))
        if volume.modality == "CT" and volume.units == "HU":
            entry.update(hu_mean=entry["mean"], hu_sd=entry["sd"])
        results.append(entry)
    return results

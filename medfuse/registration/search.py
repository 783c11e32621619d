"""A coarse search over start rotations at low resolution, before elastix refines the best start.

Gradient-based optimisers of mutual information find the nearest optimum; from starts rotated by
10-15 degrees that can be a wrong one. Like FLIRT's initial search (Jenkinson and Smith 2001), the
mutual information of a few rotated starts is compared on images resampled to a coarse grid, and
the best start is kept only when it beats the given start clearly.
"""

from __future__ import annotations

import itertools

import numpy as np
import SimpleITK as sitk

from medfuse.registration.quality import mutual_information
from medfuse.registration.transforms import affine_matrix, from_matrix
from medfuse.volume import Volume


def _coarse(volume: Volume, spacing: float) -> sitk.Image:
    """``volume`` smoothed and resampled to an isotropic grid of ``spacing`` mm (same box)."""
    image = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    sigma = [max(0.0, (spacing**2 - s**2)) ** 0.5 / 2.355 for s in volume.spacing]
    if max(sigma) > 0:
        image = sitk.SmoothingRecursiveGaussian(image, [max(s, 1e-3) for s in sigma])
    size = [max(4, int(round(n * s / spacing))) for n, s in zip(volume.size, volume.spacing)]
    out_spacing = [n * s / m for n, s, m in zip(volume.size, volume.spacing, size)]
    return sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, volume.origin,
                         out_spacing, tuple(np.asarray(volume.direction).ravel()), 0.0)


def rotations(max_degrees: float = 15.0) -> list[np.ndarray]:
    """Start rotations: the identity and +-``max_degrees`` about each axis and axis pair."""
    out = [np.eye(3)]
    for axes in ([0], [1], [2], [0, 1], [0, 2], [1, 2]):
        for signs in itertools.product((-1.0, 1.0), repeat=len(axes)):
            angles = np.zeros(3)
            angles[axes] = np.radians(max_degrees) * np.asarray(signs)
            t = sitk.Euler3DTransform((0, 0, 0), *angles)
            out.append(np.asarray(t.GetMatrix()).reshape(3, 3))
    return out


def coarse_rotation_search(fixed: Volume, moving: Volume, start: sitk.Transform, *,
                           fixed_mask: Volume | None = None, spacing: float = 6.0,
                           max_degrees: float = 15.0, margin: float = 0.05) -> sitk.Transform:
    """The best of ``start`` and ``start`` rotated about the fixed centre (mutual information).

    A rotated start replaces ``start`` only when its mutual information is higher by ``margin``
    (relative), so that noise at the coarse level never moves a good start.
    """
    f = _coarse(fixed, spacing)
    m = _coarse(moving, spacing)
    fa = sitk.GetArrayFromImage(f)
    keep = np.ones(fa.shape, bool)
    if fixed_mask is not None:
        keep = sitk.GetArrayFromImage(sitk.Resample(
            sitk.Cast(fixed_mask.to_sitk(), sitk.sitkUInt8), f, sitk.Transform(),
            sitk.sitkNearestNeighbor, 0)) > 0
    ones = sitk.Image(m.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(m)
    base = affine_matrix(start)
    centre = fixed.center()
    best, best_mi, start_mi = start, -np.inf, None
    for r in rotations(max_degrees):
        rot = np.eye(4)
        rot[:3, :3] = r
        rot[:3, 3] = centre - r @ centre
        candidate = from_matrix(base @ rot, center=centre)
        inside = sitk.GetArrayFromImage(sitk.Resample(
            ones, f, candidate, sitk.sitkNearestNeighbor, 0)) > 0
        warped = sitk.GetArrayFromImage(sitk.Resample(m, f, candidate, sitk.sitkLinear, 0.0))
        sel = inside & keep
        value = mutual_information(fa[sel], warped[sel]) if sel.sum() > 100 else -np.inf
        if start_mi is None:
            start_mi = value
        if value > best_mi:
            best, best_mi = candidate, value
    if start_mi is not None and best_mi > start_mi * (1 + margin):
        return best
    return start

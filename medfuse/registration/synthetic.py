"""Exact-truth deformable pairs made from a real image, for measuring a deformable registration.

The fixed image is the real image warped by a known smooth B-spline transform, the moving image is
the real image itself with a non-monotonic (T2/PD-like) contrast and noise, so that only the warp
separates them and a monomodal metric cannot shortcut the problem. The warp maps fixed points to
moving points, as a registration's answer does: it is the exact truth at every voxel.

Examples
--------
>>> grid = Volume(np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), spacing=(4, 4, 4))
>>> case = deformed_pair(grid, grid.array > 0.5, seed=1, mean_mm=3.0)
>>> round(float(np.linalg.norm(displacement(case.truth, grid), axis=-1)[grid.array > 0.5].mean()), 2)
3.0
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import SimpleITK as sitk

from medfuse.volume import Volume

#: control-point spacing (mm) of the true warps: smooth at the scale of organs
WARP_SPACING_MM = 40.0
#: the contrast of the moving copy: the image's values, scaled so that the anatomy's 1st-99th
#: percentiles span 0-1, are mapped through these knots (dark, bright, grey, bright, dark)
CONTRAST_KNOTS = ((0.0, 0.3, 0.55, 0.8, 1.0), (0.05, 0.9, 0.35, 0.7, 0.15))
#: noise of the moving copy, as a share of its value range
NOISE = 0.03


class DeformedPair(NamedTuple):
    """An exact-truth pair: ``truth`` maps ``fixed`` points to ``moving`` points; ``anatomy`` is
    the anatomy mask on the fixed grid."""

    fixed: Volume
    moving: Volume
    truth: sitk.Transform
    anatomy: np.ndarray


def displacement(transform: sitk.Transform, grid: Volume) -> np.ndarray:
    """``transform(x) - x`` (mm) at every voxel of ``grid``, shape (z, y, x, 3)."""
    field = sitk.TransformToDisplacementField(
        transform, sitk.sitkVectorFloat64, grid.size, grid.origin, grid.spacing,
        tuple(np.asarray(grid.direction).ravel()))
    return sitk.GetArrayFromImage(field)


def true_warp(image: Volume, anatomy: np.ndarray, *, seed: int, mean_mm: float,
              spacing_mm: float = WARP_SPACING_MM) -> sitk.BSplineTransform:
    """A cubic B-spline transform over ``image``'s box, control points about ``spacing_mm``
    apart, with normally distributed coefficients scaled so that the mean displacement over
    ``anatomy`` is ``mean_mm`` (0: the identity)."""
    reference = image.to_sitk()
    mesh = [max(1, int(round(n * s / spacing_mm)))
            for n, s in zip(reference.GetSize(), reference.GetSpacing())]
    warp = sitk.BSplineTransformInitializer(reference, mesh, 3)
    coefficients = np.random.default_rng(seed).normal(size=warp.GetNumberOfParameters())
    warp.SetParameters(tuple(coefficients))
    moved = np.linalg.norm(displacement(warp, image), axis=-1)[anatomy]
    warp.SetParameters(tuple(coefficients * (mean_mm / float(moved.mean()) if mean_mm else 0.0)))
    return warp


def recontrasted(image: Volume, anatomy: np.ndarray, *, seed: int) -> Volume:
    """``image`` with the non-monotonic contrast of :data:`CONTRAST_KNOTS` (0-1000) and normal
    noise of :data:`NOISE` of that range, as float32."""
    values = np.asarray(image.array, np.float64)
    low, high = np.percentile(values[anatomy], [1, 99])
    scaled = np.clip((values - low) / max(high - low, 1e-12), 0.0, 1.0)
    contrast = np.interp(scaled, *CONTRAST_KNOTS)
    noisy = contrast + np.random.default_rng(seed).normal(0.0, NOISE, values.shape)
    return image.with_array((1000 * noisy).astype(np.float32), units="a.u.")


def deformed_pair(image: Volume, anatomy: np.ndarray, *, seed: int, mean_mm: float) -> DeformedPair:
    """The fixed image (``image`` warped by :func:`true_warp`, cubic B-spline interpolation), the
    moving image (``image`` :func:`recontrasted`), the truth and the anatomy on the fixed grid."""
    warp = true_warp(image, anatomy, seed=seed, mean_mm=mean_mm)
    source = sitk.Cast(image.to_sitk(), sitk.sitkFloat32)
    fixed = image.with_array(sitk.GetArrayFromImage(
        sitk.Resample(source, warp, sitk.sitkBSpline, float(np.min(image.array)))))
    inside = image.with_array(anatomy.astype(np.uint8)).resample_to(
        fixed, interpolation="nearest", transform=warp).array > 0
    return DeformedPair(fixed, recontrasted(image, anatomy, seed=seed + 1000), warp, inside)

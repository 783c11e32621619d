"""Registration quality: mutual information on the overlap, TRE, Dice, Jacobian determinant.

Conventions: mutual information in bits from a 32 x 32 joint histogram of the fixed image and the
resampled moving image (bins over each image's whole range), over the fixed voxels that the moving
image covers (the overlap); TRE in mm,
the Euclidean distance between where the result and the truth send each fixed-space point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from medfuse.volume import Volume


#: the intensity range of each of two samples that the bins span: (low, high) or None for the
#: sample's own range
Ranges = tuple[tuple[float, float] | None, tuple[float, float] | None]


def joint_histogram(a: np.ndarray, b: np.ndarray, *, bins: int = 32,
                    ranges: Ranges = (None, None)) -> np.ndarray:
    """The ``bins`` x ``bins`` joint histogram of two equally shaped samples, equal-width bins over
    each sample's range or the given ``ranges`` (values outside go to the end bins); as
    ``np.histogram2d(a, b, bins)``, by integer binning: several times faster.

    Examples
    --------
    >>> joint_histogram(np.array([0.0, 0.0, 1.0]), np.array([5.0, 5.0, 7.0]), bins=2).tolist()
    [[2, 0], [0, 1]]
    >>> joint_histogram(np.array([0.0, 0.0, 1.0]), np.array([5.0, 5.0, 7.0]), bins=2,
    ...                 ranges=((0.0, 4.0), None)).tolist()
    [[2, 1], [0, 0]]
    """

    def bin_index(x: np.ndarray, span: tuple[float, float] | None) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).ravel()
        lo, hi = (float(x.min()), float(x.max())) if span is None else span
        scale = bins / (hi - lo) if hi > lo else 0.0
        return np.clip(((x - lo) * scale).astype(np.intp), 0, bins - 1)

    flat = bin_index(a, ranges[0]) * bins + bin_index(b, ranges[1])
    return np.bincount(flat, minlength=bins * bins).reshape(bins, bins)


def value_range(volume: Volume) -> tuple[float, float]:
    """The lowest and highest voxel value of ``volume``: the span of its histogram bins when two
    poses are compared, so that both are binned alike (as elastix bins its metrics)."""
    values = np.asarray(volume.array)
    return float(np.nanmin(values)), float(np.nanmax(values))


def _entropies(a: np.ndarray, b: np.ndarray, bins: int,
               ranges: Ranges) -> tuple[float, float, float]:
    """H(A), H(B) and H(A, B) in nats from the joint histogram of two equally shaped samples."""
    p = joint_histogram(a, b, bins=bins, ranges=ranges) / np.size(a)

    def entropy(q: np.ndarray) -> float:
        q = q[q > 0]
        return float(-np.sum(q * np.log(q)))

    return entropy(p.sum(axis=1)), entropy(p.sum(axis=0)), entropy(p)


def information(a: np.ndarray, b: np.ndarray, *, bins: int = 32,
                ranges: Ranges = (None, None)) -> tuple[float, float]:
    """Mutual information in bits, H(A) + H(B) - H(A, B), and normalised mutual information,
    (H(A) + H(B)) / H(A, B) (1 = independent, 2 = identical), of two equally shaped samples, from
    one joint histogram (both 0 for fewer than 2 values); ``ranges`` as for :func:`joint_histogram`.

    Examples
    --------
    >>> x = np.repeat([0.0, 1.0], 500)
    >>> [round(v, 3) for v in information(x, x)]
    [1.0, 2.0]
    """
    if np.size(a) < 2:
        return 0.0, 0.0
    ha, hb, hab = _entropies(a, b, bins, ranges)
    return max(0.0, float((ha + hb - hab) / np.log(2.0))), (ha + hb) / hab if hab > 0 else 0.0


def warp(fixed: Volume, moving: Volume, transform: sitk.Transform) -> np.ndarray:
    """``moving`` mapped by ``transform`` onto ``fixed``'s grid (linear), NaN where the mapped point
    lies outside the moving image."""
    return moving.resample_to(fixed, transform=transform, default_value=np.nan).array


def mi_on_common_overlap(fixed: Volume, moving: Volume,
                         transforms: list[sitk.Transform]) -> list[tuple[float, float]]:
    """Mutual information (bits) and normalised mutual information (Studholme's
    (H(A) + H(B)) / H(A, B), insensitive to the size of the overlap) between ``fixed`` and
    ``moving`` mapped by each of ``transforms``.

    All are measured over the fixed voxels that the moving image covers under every transform, so
    that a start with a smaller (or a differently placed) overlap is not compared with a result on
    other voxels; each over its own overlap when there is no common one. The bins span each
    image's whole range: bins over the overlap's own range would move with the brightest voxel
    that a pose brings into it (on STS_001 PET/CT a start 10 degrees off scored higher than the
    registered pose only because its overlap held the tumour's peak).
    """
    warped = [warp(fixed, moving, t) for t in transforms]
    inside = [~np.isnan(w) for w in warped]
    common = np.logical_and.reduce(inside)
    values = np.asarray(fixed.array)
    ranges = (value_range(fixed), value_range(moving))
    out = []
    for w, own in zip(warped, inside):
        mask = common if common.any() else own
        out.append(information(values[mask], w[mask], ranges=ranges))
    return out


def target_registration_error(
    transform: sitk.Transform, fixed_points: Any, moving_points: Any
) -> np.ndarray:
    """Distances (mm) between ``transform(fixed_points)`` and the true ``moving_points``."""
    p = np.atleast_2d(np.asarray(fixed_points, dtype=float))
    q = np.atleast_2d(np.asarray(moving_points, dtype=float))
    mapped = np.array([transform.TransformPoint(tuple(x)) for x in p])
    return np.linalg.norm(mapped - q, axis=1)


def tre_against_truth(
    transform: sitk.Transform, truth: sitk.Transform, points: Any
) -> np.ndarray:
    """Distances (mm) between where ``transform`` and ``truth`` send each fixed-space point."""
    p = np.atleast_2d(np.asarray(points, dtype=float))
    return target_registration_error(transform, p, [truth.TransformPoint(tuple(x)) for x in p])


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two boolean masks of one shape (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = int(a.sum() + b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def jacobian_determinant(transform: sitk.Transform, reference: Volume) -> Volume:
    """The Jacobian determinant of ``transform`` at every voxel of ``reference``'s grid: the local
    volume change (1 kept, above 1 grown, below 1 shrunk, ``<= 0`` folded: not invertible).

    Examples
    --------
    >>> grid = Volume(np.zeros((5, 5, 5), np.float32))
    >>> det = jacobian_determinant(sitk.ScaleTransform(3, (2.0, 1.0, 1.0)), grid)
    >>> float(det.array[2, 2, 2]), det.units
    (2.0, 'ratio')
    """
    field = sitk.TransformToDisplacementField(
        transform, sitk.sitkVectorFloat64, reference.size, reference.origin, reference.spacing,
        tuple(np.asarray(reference.direction).ravel()),
    )
    det = sitk.Cast(sitk.DisplacementFieldJacobianDeterminant(field), sitk.sitkFloat32)
    return Volume.from_sitk(det, units="ratio",
                            meta={"description": "Jacobian determinant of the registration"})


def jacobian_range(transform: sitk.Transform, reference: Volume) -> tuple[float, float, float]:
    """Minimum and maximum Jacobian determinant on ``reference``'s grid, and the folded fraction.

    Folding is ``det <= 0``: the transform is not invertible there.
    """
    det = jacobian_determinant(transform, reference).array
    return float(det.min()), float(det.max()), float(np.mean(det <= 0))


def sample_points(volume: Volume, mask: np.ndarray | None = None, *, n: int = 2000,
                  seed: int = 0) -> np.ndarray:
    """``n`` world points (x, y, z) drawn from the voxels of ``volume`` inside ``mask`` (all voxels
    when ``mask`` is None), for TRE over the anatomy."""
    shape = volume.array.shape[: volume.ndim]
    mask = np.ones(shape, bool) if mask is None else np.asarray(mask, bool)
    idx = np.argwhere(mask)
    if len(idx) == 0:
        idx = np.argwhere(np.ones(shape, bool))
    rng = np.random.default_rng(seed)
    chosen = idx[rng.choice(len(idx), size=min(n, len(idx)), replace=False)]
    return volume.index_to_world(chosen[:, ::-1].astype(float))


def failure_warnings(*, nmi_before: float, nmi_after: float, transform: sitk.Transform,
                     fixed: Volume, max_rotation_deg: float = 45.0,
                     max_translation_mm: float = 100.0) -> list[str]:
    """Warnings when a result looks like a failure: MI worse than the start, or a transform at the
    edge of the plausible range (rotation or translation of the linear part too large).

    The start is compared by normalised MI: plain MI on a small overlap can exceed MI on a large
    one, so it would flag good results from starts that overlap little."""
    from medfuse.registration.transforms import affine_matrix, compose, is_linear

    warnings: list[str] = []
    if nmi_after < nmi_before - 1e-3:
        warnings.append(
            f"normalised mutual information went down ({nmi_before:.3f} -> {nmi_after:.3f}): "
            "the registration probably failed; try landmarks or another preset"
        )
    linear = transform if is_linear(transform) else None
    if linear is None and isinstance(transform, sitk.CompositeTransform):
        parts = [transform.GetNthTransform(i) for i in range(transform.GetNumberOfTransforms())]
        linear = compose([t for t in parts if is_linear(t)]) if any(is_linear(t) for t in parts) else None
    if linear is not None:
        m = affine_matrix(linear)
        dim = m.shape[0] - 1
        u, _, vt = np.linalg.svd(m[:dim, :dim])
        r = u @ vt
        angle = float(np.degrees(np.arccos(np.clip((np.trace(r) - (dim - 2)) / 2.0, -1.0, 1.0))))
        centre = fixed.center()
        shift = float(np.linalg.norm(np.asarray(linear.TransformPoint(tuple(centre))) - centre))
        if angle > max_rotation_deg:
            warnings.append(f"the rotation found is {angle:.0f} degrees: check the result")
        if shift > max_translation_mm:
            warnings.append(f"the centre of the fixed image moves {shift:.0f} mm: check the result")
    return warnings

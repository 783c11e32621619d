"""Elastix transform parameter maps to SimpleITK transforms and back, and rigid helpers.

Elastix and SimpleITK both map *fixed-space* points to *moving-space* points. A chain of elastix maps
(each naming the previous one as its initial transform, combined by composition) maps a point through
the first map first: ``T(x) = T_n(...T_1(T_0(x)))``. In a ``SimpleITK.CompositeTransform`` the last
transform added is applied first, so the chain becomes ``CompositeTransform([T_n, ..., T_0])``.
Both facts are checked against elastix's own resampling in ``tests/registration``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from medfuse.errors import RegistrationError

ParameterMap = dict[str, list[str]]


def _floats(pm: ParameterMap, key: str) -> list[float]:
    return [float(v) for v in pm[key]]


def map_to_sitk(pm: ParameterMap) -> sitk.Transform:
    """The SimpleITK transform equal to one elastix transform parameter map (no initial transform).

    Supports ``TranslationTransform``, ``EulerTransform``, ``SimilarityTransform``,
    ``AffineTransform`` and ``BSplineTransform`` in 2D and 3D.

    Raises
    ------
    RegistrationError
        The map names a transform this converter does not know.
    """
    kind = pm["Transform"][0]
    dim = int(pm.get("FixedImageDimension", ["3"])[0])
    p = _floats(pm, "TransformParameters")
    center = _floats(pm, "CenterOfRotationPoint") if "CenterOfRotationPoint" in pm else [0.0] * dim
    if kind == "TranslationTransform":
        return sitk.TranslationTransform(dim, p)
    if kind == "EulerTransform" and dim == 3:
        t = sitk.Euler3DTransform(center, p[0], p[1], p[2], p[3:6])
        t.SetComputeZYX(pm.get("ComputeZYX", ["false"])[0] == "true")
        return t
    if kind == "EulerTransform" and dim == 2:
        return sitk.Euler2DTransform(center, p[0], p[1:3])
    if kind == "SimilarityTransform" and dim == 3:
        return sitk.Similarity3DTransform(p[6], p[0:3], p[3:6], center)
    if kind == "SimilarityTransform" and dim == 2:
        return sitk.Similarity2DTransform(p[0], p[1], p[2:4], center)
    if kind == "AffineTransform":
        return sitk.AffineTransform(p[: dim * dim], p[dim * dim :], center)
    if kind == "BSplineTransform":
        return _bspline_to_sitk(pm, dim, p)
    raise RegistrationError(f"cannot convert an elastix {kind!r} to an ITK transform")


def _bspline_to_sitk(pm: ParameterMap, dim: int, p: list[float]) -> sitk.BSplineTransform:
    size = [int(float(v)) for v in pm["GridSize"]]
    order = int(pm.get("BSplineTransformSplineOrder", ["3"])[0])
    coefficients = np.asarray(p, dtype=float).reshape(dim, *size[::-1])
    images = []
    for c in coefficients:
        image = sitk.GetImageFromArray(c)
        image.SetOrigin(_floats(pm, "GridOrigin"))
        image.SetSpacing(_floats(pm, "GridSpacing"))
        image.SetDirection(_floats(pm, "GridDirection"))
        images.append(image)
    return sitk.BSplineTransform(images, order)


def chain_to_sitk(maps: list[ParameterMap]) -> sitk.Transform:
    """One SimpleITK transform for a chain of elastix maps (first map applied first)."""
    parts = [map_to_sitk(pm) for pm in maps]
    return compose(parts[::-1]) if len(parts) > 1 else parts[0]


def compose(transforms: list[sitk.Transform]) -> sitk.Transform:
    """``T(x) = transforms[0](transforms[1](...(x)))``, flattened to one affine when all are linear."""
    flat: list[sitk.Transform] = []
    for t in transforms:
        t = _downcast(t)
        if isinstance(t, sitk.CompositeTransform):
            flat.extend(_downcast(t.GetNthTransform(i)) for i in range(t.GetNumberOfTransforms()))
        else:
            flat.append(t)
    if all(is_linear(t) for t in flat):
        dim = flat[0].GetDimension()
        m = np.eye(dim + 1)
        for t in flat:
            m = m @ affine_matrix(t)
        return from_matrix(m)
    return sitk.CompositeTransform(flat)


def _downcast(t: sitk.Transform) -> sitk.Transform:
    return t.Downcast() if type(t) is sitk.Transform else t


def is_linear(t: sitk.Transform) -> bool:
    """True for transforms that a matrix and an offset describe (translation, rigid, affine ...)."""
    return _downcast(t).IsLinear()


def affine_matrix(t: sitk.Transform) -> np.ndarray:
    """The homogeneous matrix of a linear transform (fixed point -> moving point)."""
    t = _downcast(t)
    dim = t.GetDimension()
    origin = np.zeros(dim)
    offset = np.asarray(t.TransformPoint(tuple(origin)))
    m = np.eye(dim + 1)
    for j in range(dim):
        e = np.zeros(dim)
        e[j] = 1.0
        m[:dim, j] = np.asarray(t.TransformPoint(tuple(e))) - offset
    m[:dim, dim] = offset
    return m


def from_matrix(m: np.ndarray, *, center: Any = None) -> sitk.Transform:
    """A ``Euler3DTransform``/``Euler2DTransform`` when ``m`` is rigid, else an ``AffineTransform``."""
    dim = m.shape[0] - 1
    a, b = m[:dim, :dim], m[:dim, dim]
    c = np.zeros(dim) if center is None else np.asarray(center, dtype=float)
    translation = a @ c + b - c  # T(x) = A (x - c) + c + t
    rigid = np.allclose(a.T @ a, np.eye(dim), atol=1e-6) and np.linalg.det(a) > 0
    if rigid:
        t = sitk.Euler3DTransform() if dim == 3 else sitk.Euler2DTransform()
        t.SetCenter(tuple(c))
        t.SetMatrix(tuple(a.ravel()), 1e-5)
        t.SetTranslation(tuple(translation))
        return t
    return sitk.AffineTransform(tuple(a.ravel()), tuple(translation), tuple(c))


def rigid_to_map(t: sitk.Transform, template: ParameterMap) -> ParameterMap:
    """An elastix ``EulerTransform``/``AffineTransform`` map for a linear transform.

    ``template`` is a transform parameter map of the same registration (its grid and pixel entries are
    kept), so that transformix reads the written file.
    """
    m = affine_matrix(t)
    dim = m.shape[0] - 1
    center = np.asarray(template.get("CenterOfRotationPoint", ["0"] * dim), dtype=float)
    rigid = from_matrix(m, center=center)
    pm = {k: list(v) for k, v in template.items() if not k.startswith("Grid")}
    pm["InitialTransformParametersFileName"] = ["NoInitialTransform"]
    pm["HowToCombineTransforms"] = ["Compose"]
    pm["CenterOfRotationPoint"] = [repr(float(v)) for v in center]
    if isinstance(rigid, (sitk.Euler3DTransform, sitk.Euler2DTransform)):
        pm["Transform"] = ["EulerTransform"]
        params = list(rigid.GetParameters())
        if dim == 3:
            pm["ComputeZYX"] = ["true" if rigid.GetComputeZYX() else "false"]
    else:
        pm["Transform"] = ["AffineTransform"]
        params = list(rigid.GetParameters())
    pm["NumberOfParameters"] = [str(len(params))]
    pm["TransformParameters"] = [repr(float(v)) for v in params]
    return pm


def kabsch(fixed_points: Any, moving_points: Any) -> sitk.Transform:
    """The rigid transform mapping ``fixed_points`` onto ``moving_points`` in the least-squares sense.

    Arun, Huang and Blostein (1987); the reflection case is excluded (Umeyama 1991).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]], float)
    >>> t = kabsch(p, p + [1, 2, 3])
    >>> np.round(t.TransformPoint((0.0, 0.0, 0.0)), 6).tolist()
    [1.0, 2.0, 3.0]
    """
    p = np.asarray(fixed_points, dtype=float)
    q = np.asarray(moving_points, dtype=float)
    pc, qc = p.mean(axis=0), q.mean(axis=0)
    u, _, vt = np.linalg.svd((p - pc).T @ (q - qc))
    d = np.eye(p.shape[1])
    d[-1, -1] = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ d @ u.T
    m = np.eye(p.shape[1] + 1)
    m[:-1, :-1] = r
    m[:-1, -1] = qc - r @ pc
    return from_matrix(m, center=pc)


def euler_scales(size: Any, spacing: Any, origin: Any, direction: Any, center: Any) -> list[float]:
    """The optimiser scales of an Euler transform about ``center`` on a grid, as elastix's
    ``AutomaticScalesEstimation`` estimates them: the mean squared displacement of the grid's
    voxels per radian of each rotation (one in 2D; about x, y and z in 3D), 1 per mm of translation.

    Elastix samples the grid afresh in every run (3-4 ms); this is the same mean over every voxel,
    in closed form from the per-axis moments of a regular grid.

    Examples
    --------
    >>> euler_scales([3, 1], [1.0, 1.0], [-1.0, 0.0], [[1, 0], [0, 1]], [0.0, 0.0])
    [0.6666666666666666, 1.0, 1.0]
    """
    index = [np.arange(n, dtype=float) for n in size]
    d = np.asarray(direction, dtype=float).reshape(len(index), len(index))
    s = np.asarray(spacing, dtype=float)
    mean = np.asarray(origin, dtype=float) + d @ (np.array([i.mean() for i in index]) * s)
    variance = d @ np.diag(np.array([i.var() for i in index]) * s**2) @ d.T
    second = np.diag(variance) + (mean - np.asarray(center, dtype=float)) ** 2  # E[(p - c)^2]
    if len(index) == 2:
        rotations = [second.sum()]
    else:
        rotations = [second.sum() - second[axis] for axis in range(3)]
    return [float(r) for r in rotations] + [1.0] * len(index)

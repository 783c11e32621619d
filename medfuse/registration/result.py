"""The result of a registration: a transform (fixed -> moving points), its elastix maps, its quality."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from medfuse.registration.presets import ParameterMap, format_parameter_map
from medfuse.registration.quality import jacobian_determinant
from medfuse.registration.search import binned
from medfuse.registration.transforms import affine_matrix, compose, is_linear
from medfuse.volume import Volume

#: the saved Jacobian map lies on the fixed grid binned to about this spacing (mm): the B-spline
#: control points lie 10 mm or more apart, so the map is smooth at that scale, and a 512 x 512 CT
#: would need gigabytes for its displacement field on the full grid
JACOBIAN_SPACING = 2.0


@dataclass(eq=False)
class RegistrationResult:
    """A registration of a moving image onto a fixed image.

    Attributes
    ----------
    transform : SimpleITK transform mapping fixed-space points (LPS mm) to moving-space points, as
        SimpleITK's registration returns it; resampling the moving image with it puts it on the
        fixed grid.
    parameter_maps : the elastix transform parameter maps of the chain, first applied first.
    fixed : the fixed image (its grid is the default output grid).
    metrics : quality numbers and warnings (see :mod:`medfuse.registration.quality`).
    preset : the preset name, or ``"custom"`` for user parameter files.

    Examples
    --------
    >>> import numpy as np, SimpleITK as sitk
    >>> fixed = Volume(np.zeros((4, 4, 4), np.float32))
    >>> shift = RegistrationResult(sitk.TranslationTransform(3, (1.0, 0.0, 0.0)), [], fixed)
    >>> shift.to_moving([[0, 0, 0]]).tolist(), shift.to_fixed([[1, 0, 0]]).tolist()
    ([[1.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]])
    """

    transform: sitk.Transform
    parameter_maps: list[ParameterMap]
    fixed: Volume
    metrics: dict[str, Any] = field(default_factory=dict)
    preset: str = "custom"

    @property
    def warnings(self) -> list[str]:
        """Warnings about the quality of this result (empty when it looks sound)."""
        return list(self.metrics.get("warnings", []))

    def apply(self, volume: Volume, *, label: bool = False, reference: Volume | None = None,
              default_value: float = 0.0) -> Volume:
        """Resample ``volume`` (in moving space) onto the fixed grid (or ``reference``'s grid).

        ``label=True`` uses nearest-neighbour interpolation so label values stay labels.
        """
        return volume.resample_to(
            reference if reference is not None else self.fixed,
            interpolation="nearest" if label else "linear",
            default_value=default_value,
            transform=self.transform,
        )

    def to_moving(self, points: Any) -> np.ndarray:
        """Map fixed-space world points, shape (n, d), to moving space."""
        p = np.atleast_2d(np.asarray(points, dtype=float))
        return np.array([self.transform.TransformPoint(tuple(x)) for x in p])

    def to_fixed(self, points: Any, *, tolerance: float = 1e-4, iterations: int = 50) -> np.ndarray:
        """Map moving-space world points to fixed space (the inverse transform).

        Linear transforms are inverted exactly; deformable ones by a Newton-like fixed-point
        iteration that uses the linear part's matrix, accurate to ``tolerance`` mm.
        """
        q = np.atleast_2d(np.asarray(points, dtype=float))
        t = self.transform
        if is_linear(t):
            m = np.linalg.inv(affine_matrix(t))
            return q @ m[:-1, :-1].T + m[:-1, -1]
        a_inv = np.linalg.inv(affine_matrix(self.linear_part())[:-1, :-1])
        x = self.linear_inverse(q)
        for _ in range(iterations):
            residual = self.to_moving(x) - q
            x = x - residual @ a_inv.T
            if np.max(np.linalg.norm(residual, axis=1)) < tolerance:
                break
        return x

    def linear_part(self) -> sitk.Transform:
        """The composition of the linear transforms of the chain (identity when there is none)."""
        t = self.transform
        parts = [t.GetNthTransform(i) for i in range(t.GetNumberOfTransforms())] \
            if isinstance(t, sitk.CompositeTransform) else [t]
        linear = [p for p in parts if is_linear(p)]
        return compose(linear) if linear else sitk.AffineTransform(self.fixed.ndim)

    def linear_inverse(self, points: Any) -> np.ndarray:
        """Map moving-space points back through the inverse of :meth:`linear_part`."""
        m = np.linalg.inv(affine_matrix(self.linear_part()))
        q = np.atleast_2d(np.asarray(points, dtype=float))
        return q @ m[:-1, :-1].T + m[:-1, -1]

    @property
    def is_deformable(self) -> bool:
        """True when the transform is not one matrix and offset (a B-spline is in the chain)."""
        return not is_linear(self.transform)

    def jacobian(self, reference: Volume | None = None) -> Volume:
        """The Jacobian determinant of the transform (local volume change; ``<= 0`` folds) on
        ``reference``'s grid, by default the fixed grid binned to about
        :data:`JACOBIAN_SPACING` mm. 1 everywhere for a rigid result."""
        grid = reference if reference is not None else binned(self.fixed, JACOBIAN_SPACING)
        return jacobian_determinant(self.transform, grid)

    def then(self, other: RegistrationResult) -> RegistrationResult:
        """Compose stages: ``self`` maps A -> B points and ``other`` maps B -> C; return A -> C."""
        maps = [dict(pm) for pm in self.parameter_maps] + [dict(pm) for pm in other.parameter_maps]
        grid = self.parameter_maps[-1] if self.parameter_maps else {}
        for pm in maps:
            pm.update({k: v for k, v in grid.items() if k in _GRID_KEYS})
        return RegistrationResult(
            compose([other.transform, self.transform]), maps, self.fixed,
            metrics={"composed_of": [self.preset, other.preset]},
            preset=f"{self.preset}+{other.preset}",
        )

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write ``transform.tfm``, ``TransformParameters.<i>.txt`` (a chain transformix reads from
        that folder) and ``metrics.json`` into ``folder``, and for a deformable result its
        Jacobian determinant map, ``jacobian.nii.gz`` (see :meth:`jacobian`), each file atomically.

        ``transform.tfm`` is what ``SimpleITK.ReadTransform`` (and 3D Slicer) reads: one
        ``Euler3DTransform``/``AffineTransform`` for a linear result, a ``CompositeTransform``
        (B-spline applied after the linear part) for a deformable one.

        Returns the written paths by name.
        """
        from medfuse.io import write_nifti
        from medfuse.io._atomic import atomic_path, write_text

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        with atomic_path(folder / "transform.tfm") as tmp:
            sitk.WriteTransform(self.transform, str(tmp))
        written["transform"] = folder / "transform.tfm"
        for i, pm in enumerate(self.parameter_maps):
            pm = dict(pm)
            pm["InitialTransformParametersFileName"] = [
                "NoInitialTransform" if i == 0 else f"TransformParameters.{i - 1}.txt"
            ]
            name = f"TransformParameters.{i}.txt"
            written[name] = write_text(folder / name, format_parameter_map(pm))
        if self.is_deformable:
            written["jacobian"] = write_nifti(self.jacobian(), folder / "jacobian.nii.gz")
        written["metrics"] = write_text(
            folder / "metrics.json", json.dumps(_jsonable(self.metrics), indent=2) + "\n"
        )
        return written


_GRID_KEYS = ("Size", "Index", "Spacing", "Origin", "Direction")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value

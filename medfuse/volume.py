"""The ``Volume``: one image with its place in the patient and the meaning of its values.

Conventions (the same as ITK, SimpleITK and DICOM):

* ``array`` is indexed (z, y, x) for 3D and (y, x) for 2D; an RGB image carries a trailing axis of 3.
* ``spacing`` and ``origin`` are in (x, y, z) order, millimetres, in LPS patient coordinates.
* ``direction`` is a ``d x d`` matrix whose column ``j`` is the LPS direction of index axis ``j``
  (x, y, z order), exactly as ``SimpleITK.Image.GetDirection()`` returns it, reshaped.

World points and continuous indices are given in (x, y, z) order everywhere in this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import numpy as np

from medfuse.errors import GeometryError

if TYPE_CHECKING:  # pragma: no cover
    import SimpleITK as sitk

Interpolation = Literal["linear", "nearest", "bspline"]
#: the ``units`` that mark a label map (0 = background, each other value one ROI): the one mark
#: every reader, writer and panel asks through :attr:`Volume.is_label`
LABEL_UNITS = "label"


class VolumeMeta(TypedDict, total=False):
    """What ``Volume.meta`` may hold: provenance and de-identified descriptors, all optional.

    Readers fill the provenance keys; nothing here is patient identity (the study model holds that
    apart, :class:`medfuse.study.Study`).
    """

    source: str  # the file or folder the volume was read from
    format: str  # "dicom", "nifti", "image2d", "rtstruct", or a plugin's
    description: str  # DICOM SeriesDescription or the file name
    n_files: int
    content_hash: dict[str, Any]  # sha256 of the files read (medfuse.provenance.content_hash)
    series_uid: str
    study_uid: str
    frame_of_reference_uid: str
    series_datetime: str  # ISO 8601
    suv_factor: float  # the factor applied to reach SUVbw (PET)
    suv_unavailable: str  # why a PET stays in its own units
    pet: dict[str, Any]  # acquisition facts the DICOM writer stores (weight, dose, times ...)
    rgb: bool  # a pseudo-colour image: the array's trailing axis of 3 is colour
    labels: dict[int, str]  # label map: value -> ROI name
    color: Any  # display colour of an ROI (RTSTRUCT's ROIDisplayColor)
    method: str  # fused volume: the fusion method resolved
    label_map: bool  # the app's reader: shown as a labels layer (see Volume.is_label)
    extent_mm: float  # the app's display grid
    display_resampled: str  # the app's display grid: from which grid it was resampled
    resampled_to: str | None  # the series UID of the grid a resampled volume was put on


@dataclass(eq=False)
class Volume:
    """A voxel array with LPS geometry, a modality code, value units and provenance.

    Examples
    --------
    >>> import numpy as np
    >>> v = Volume(np.zeros((4, 5, 6), np.int16), spacing=(1.0, 1.0, 2.5), modality="CT", units="HU")
    >>> v.size, v.ndim
    ((6, 5, 4), 3)
    >>> v.index_to_world([[0, 0, 1]]).tolist()
    [[0.0, 0.0, 2.5]]
    """

    array: np.ndarray
    spacing: tuple[float, ...] = ()
    origin: tuple[float, ...] = ()
    direction: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    modality: str = "OT"
    units: str = "a.u."
    meta: VolumeMeta = field(default_factory=dict)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        nd = self.array.ndim - (1 if self.meta.get("rgb") else 0)
        if nd not in (2, 3):
            raise GeometryError(
                f"a Volume must be 2D or 3D, not an array of shape {self.array.shape}"
            )
        spacing, origin = np.ravel(self.spacing), np.ravel(self.origin)
        self.spacing = tuple(float(s) for s in (spacing if spacing.size else np.ones(nd)))
        self.origin = tuple(float(o) for o in (origin if origin.size else np.zeros(nd)))
        direction = np.asarray(self.direction, dtype=float)
        self.direction = np.eye(nd) if direction.size == 0 else direction.reshape(nd, nd)
        if len(self.spacing) != nd or len(self.origin) != nd:
            raise GeometryError(
                f"spacing {self.spacing} and origin {self.origin} must have {nd} values "
                f"for an array of shape {self.array.shape}"
            )
        if min(self.spacing) <= 0:
            raise GeometryError(f"spacing must be positive, not {self.spacing}")

    # ----------------------------------------------------------------------------- description
    @property
    def ndim(self) -> int:
        """Number of spatial dimensions (2 or 3)."""
        return len(self.spacing)

    @property
    def is_rgb(self) -> bool:
        """True for pseudo-colour images stored as RGB (trailing axis of 3)."""
        return bool(self.meta.get("rgb"))

    @property
    def is_label(self) -> bool:
        """True for a label map: ``units`` :data:`LABEL_UNITS` (readers of RTSTRUCT, SEG and label
        files set it; a DICOM SEG modality or the app's ``label_map`` flag count too)."""
        return self.units == LABEL_UNITS or self.modality == "SEG" or bool(
            self.meta.get("label_map"))

    @property
    def orientation(self) -> str:
        """Where each array axis (x, y, z) points in the patient, as LPS letters: ``"LPS"`` for a
        DICOM axial series, ``"RAS"`` for a radiological NIfTI, ``"LAS"`` for a flipped x.

        Examples
        --------
        >>> import numpy as np
        >>> Volume(np.zeros((2, 2, 2)), direction=np.diag([-1.0, -1.0, 1.0])).orientation
        'RAS'
        """
        letters = ("LR", "PA", "SI")
        code = ""
        for column in self.direction.T:
            k = int(np.argmax(np.abs(column)))
            code += letters[k][0 if column[k] > 0 else 1]
        return code

    @property
    def size(self) -> tuple[int, ...]:
        """Grid size in (x, y, z) order, as ITK counts it."""
        return tuple(int(n) for n in self.array.shape[: self.ndim][::-1])

    @property
    def affine(self) -> np.ndarray:
        """Homogeneous matrix mapping (x, y, z) indices to LPS world millimetres."""
        m = np.eye(self.ndim + 1)
        m[: self.ndim, : self.ndim] = self.direction @ np.diag(self.spacing)
        m[: self.ndim, self.ndim] = self.origin
        return m

    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """Return a copy of this volume's geometry around ``array`` (same grid), with ``changes``."""
        array = np.asarray(array)
        if array.shape[: self.ndim] != self.array.shape[: self.ndim]:
            raise GeometryError(
                f"new array shape {array.shape} does not fit the grid {self.array.shape[: self.ndim]}"
            )
        meta = dict(self.meta)
        meta.pop("content_hash", None)  # it describes this volume's files, not the new array
        meta.update(changes.pop("meta", {}))
        return dataclasses.replace(self, array=array, meta=meta, **changes)

    def same_grid(self, other: Volume, *, atol: float = 1e-3) -> bool:
        """True when ``other`` has the same size, spacing, origin and direction (within ``atol``)."""
        return (
            self.size == other.size
            and np.allclose(self.spacing, other.spacing, atol=atol)
            and np.allclose(self.origin, other.origin, atol=atol)
            and np.allclose(self.direction, other.direction, atol=atol)
        )

    # ----------------------------------------------------------------------------- points
    def index_to_world(self, indices: Any) -> np.ndarray:
        """Map continuous (x, y, z) indices, shape (n, d), to LPS world points in mm."""
        idx = np.atleast_2d(np.asarray(indices, dtype=float))
        return idx @ (self.direction @ np.diag(self.spacing)).T + np.asarray(self.origin)

    def world_to_index(self, points: Any) -> np.ndarray:
        """Map LPS world points in mm, shape (n, d), to continuous (x, y, z) indices."""
        pts = np.atleast_2d(np.asarray(points, dtype=float)) - np.asarray(self.origin)
        return np.linalg.solve(self.direction @ np.diag(self.spacing), pts.T).T

    def value_at(self, point: Any) -> Any:
        """The voxel value at an LPS world point (nearest voxel), or ``None`` outside the grid."""
        idx = np.rint(self.world_to_index(point)[0]).astype(int)
        if np.any(idx < 0) or np.any(idx >= np.asarray(self.size)):
            return None
        return self.array[tuple(idx[::-1])]

    def center(self) -> np.ndarray:
        """The LPS world point at the centre of the grid."""
        return self.index_to_world([(np.asarray(self.size) - 1) / 2.0])[0]

    # ----------------------------------------------------------------------------- conversions
    def to_sitk(self) -> sitk.Image:
        """Return a ``SimpleITK.Image`` with the same voxels and geometry (a boolean mask as
        0/1 ``uint8``: SimpleITK has no boolean pixels)."""
        import SimpleITK as sitk

        array = self.array.astype(np.uint8) if self.array.dtype == bool else self.array
        image = sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=self.is_rgb)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(tuple(self.direction.ravel()))
        return image

    @classmethod
    def from_sitk(
        cls,
        image: sitk.Image,
        *,
        modality: str = "OT",
        units: str = "a.u.",
        meta: dict[str, Any] | None = None,
    ) -> Volume:
        """Build a volume from a ``SimpleITK.Image`` (a copy of its voxels)."""
        import SimpleITK as sitk

        rgb = image.GetNumberOfComponentsPerPixel() > 1
        nd = image.GetDimension()
        meta = {**(meta or {}), **({"rgb": True} if rgb else {})}
        return cls(
            sitk.GetArrayFromImage(image),
            spacing=image.GetSpacing(),
            origin=image.GetOrigin(),
            direction=np.asarray(image.GetDirection()).reshape(nd, nd),
            modality=modality,
            units=units,
            meta=meta,
        )

    def to_itk(self) -> Any:
        """Return an ``itk.Image`` (float32) with the same geometry, for elastix."""
        from medfuse._optional import require

        itk = require("itk")
        image = itk.image_from_array(np.ascontiguousarray(self.array, dtype=np.float32))
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(self.direction)))
        return image

    @classmethod
    def from_itk(cls, image: Any, **kwargs: Any) -> Volume:
        """Build a volume from an ``itk.Image`` (a copy of its voxels)."""
        from medfuse._optional import require

        itk = require("itk")
        return cls(
            np.array(itk.array_view_from_image(image)),
            spacing=tuple(image.GetSpacing()),
            origin=tuple(image.GetOrigin()),
            direction=np.asarray(itk.array_from_matrix(image.GetDirection())),
            **kwargs,
        )

    def napari_affine(self) -> np.ndarray:
        """The index -> world affine in napari's axis order (array axes, world reversed to z,y,x)."""
        flip = np.eye(self.ndim + 1)
        flip[: self.ndim, : self.ndim] = np.eye(self.ndim)[::-1]
        return flip @ self.affine @ flip

    def napari_layer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that place this volume in napari's world (millimetres, z,y,x order)."""
        return {
            "affine": self.napari_affine(),
            "rgb": self.is_rgb,
            "metadata": {"modality": self.modality, "units": self.units, **self.meta},
        }

    # ----------------------------------------------------------------------------- resampling
    def resample_to(
        self,
        reference: Volume,
        *,
        interpolation: Interpolation = "linear",
        default_value: float = 0.0,
        transform: Any = None,
    ) -> Volume:
        """Resample onto ``reference``'s grid by physical position (an explicit, named step).

        ``transform`` is an optional ``SimpleITK.Transform`` mapping reference-space points to this
        volume's space, as registration returns it. Use ``interpolation="nearest"`` for label maps.
        """
        import SimpleITK as sitk

        if reference.ndim != self.ndim:
            raise GeometryError(
                f"cannot resample a {self.ndim}D volume onto a {reference.ndim}D grid"
            )
        method = {
            "linear": sitk.sitkLinear,
            "nearest": sitk.sitkNearestNeighbor,
            "bspline": sitk.sitkBSpline,
        }[interpolation]
        image = self.to_sitk()
        if interpolation != "nearest" and not self.is_rgb:
            image = sitk.Cast(image, sitk.sitkFloat32)
        out = sitk.Resample(
            image,
            reference.to_sitk(),
            transform if transform is not None else sitk.Transform(),
            method,
            default_value,
        )
        return Volume.from_sitk(
            out,
            modality=self.modality,
            units=self.units,
            meta={**{k: v for k, v in self.meta.items() if k != "content_hash"},
                  "resampled_to": reference.meta.get("series_uid")},
        )

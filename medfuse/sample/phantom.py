"""A seeded digital phantom of the lower thorax and upper abdomen, defined in continuous LPS space.

Tissues are analytic shapes (ellipses, ellipsoids, cylinders, bands) in millimetres, so that the
phantom can be sampled on any grid, through any rigid motion, as a scanner of each modality sees it:
CT in HU, an MR T1-like image and an FDG-PET-like image in SUV. The phantom's own space is the CT's
(the fixed image): LPS, +x patient left, +y posterior, +z superior, origin near the body's centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medfuse.volume import Volume

__all__ = ["Grid", "LESIONS", "TISSUES", "Lesion", "Phantom", "lookup"]

#: tissue name -> (CT HU, MR T1-like signal, FDG SUV); the order gives the class codes 0, 1, ...
TISSUES: dict[str, tuple[float, float, float]] = {
    "air": (-1000.0, 0.0, 0.0),
    "fat": (-100.0, 850.0, 0.35),
    "muscle": (50.0, 320.0, 0.7),
    "soft tissue": (35.0, 380.0, 0.9),
    "lung": (-850.0, 40.0, 0.35),
    "myocardium": (45.0, 350.0, 5.5),
    "blood": (40.0, 180.0, 1.8),
    "liver": (62.0, 520.0, 2.3),
    "spleen": (50.0, 380.0, 2.0),
    "stomach": (15.0, 150.0, 1.4),
    "gas": (-950.0, 0.0, 0.0),
    "kidney": (32.0, 330.0, 3.8),
    "cortical bone": (1100.0, 30.0, 0.5),
    "marrow": (220.0, 600.0, 1.4),
    "disc": (80.0, 250.0, 0.8),
    "csf": (8.0, 120.0, 0.9),
    "rib": (650.0, 80.0, 0.7),
    "sternum": (420.0, 480.0, 1.1),
}
_CODE = {name: code for code, name in enumerate(TISSUES)}


@dataclass(frozen=True)
class Lesion:
    """A spherical lesion with uniform true values."""

    name: str
    centre: tuple[float, float, float]  # LPS mm, phantom (CT) space
    radius: float  # mm
    hu: float
    t1: float
    suv: float


LESIONS: tuple[Lesion, ...] = (
    Lesion("right lung nodule", (-85.0, -5.0, 45.0), 8.0, hu=30.0, t1=330.0, suv=6.0),
    Lesion("liver metastasis", (-70.0, 10.0, -55.0), 11.0, hu=42.0, t1=280.0, suv=8.5),
    Lesion("para-aortic lymph node", (40.0, 28.0, -52.0), 7.0, hu=38.0, t1=340.0, suv=11.5),
)


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``shape`` in (z, y, x); ``spacing`` and ``origin`` in (x, y, z) LPS mm."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    @classmethod
    def centred(cls, size: tuple[int, int, int], spacing: tuple[float, float, float],
                centre: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Grid:
        """An axial grid of ``size`` (x, y, z) voxels whose centre lies at ``centre``."""
        half = (np.asarray(size) - 1) / 2.0 * np.asarray(spacing)
        origin = tuple(float(o) for o in np.asarray(centre, float) - half)
        return cls(tuple(int(n) for n in size[::-1]), tuple(map(float, spacing)), origin)

    def refined(self, factor: int) -> Grid:
        """The grid covering the same box with ``factor`` times as many voxels along each axis."""
        spacing = tuple(s / factor for s in self.spacing)
        shift = np.asarray(spacing) * (factor - 1) / 2.0
        origin = np.asarray(self.origin) - self.direction @ shift
        return Grid(tuple(n * factor for n in self.shape), spacing, tuple(map(float, origin)),
                    self.direction)

    def points(self, z0: int, z1: int) -> np.ndarray:
        """World (LPS) centres of the voxels of slices ``z0:z1``, shape (n, 3), in array order."""
        z, y, x = np.meshgrid(np.arange(z0, z1), np.arange(self.shape[1]), np.arange(self.shape[2]),
                              indexing="ij")
        index = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1).astype(np.float64)
        return index @ (self.direction @ np.diag(self.spacing)).T + np.asarray(self.origin)

    def volume(self, array: np.ndarray, **kwargs) -> Volume:
        """A ``Volume`` of ``array`` on this grid."""
        return Volume(array, spacing=self.spacing, origin=self.origin, direction=self.direction,
                      **kwargs)


def _ellipsoid(p: np.ndarray, centre, radii) -> np.ndarray:
    return sum(((p[:, i] - c) / r) ** 2 for i, (c, r) in enumerate(zip(centre, radii))) <= 1.0


def _ellipse(p: np.ndarray, centre, radii) -> np.ndarray:
    return ((p[:, 0] - centre[0]) / radii[0]) ** 2 + ((p[:, 1] - centre[1]) / radii[1]) ** 2


class Phantom:
    """The thorax-abdomen phantom; ``seed`` shapes its visceral fat, noise comes from callers.

    Examples
    --------
    >>> phantom = Phantom(seed=0)
    >>> names = list(TISSUES)
    >>> [names[c] for c in phantom.classes(np.array([[0.0, 68.0, 10.0], [-75.0, 0.0, 40.0]]))]
    ['marrow', 'lung']
    """

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        n = 8
        directions = rng.normal(size=(n, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        self._waves = directions * (2 * np.pi / rng.uniform(25.0, 55.0, size=(n, 1)))
        self._phases = rng.uniform(0, 2 * np.pi, size=n)
        vessels = rng.normal(size=(2, n, 3))
        vessels /= np.linalg.norm(vessels, axis=2, keepdims=True)
        self._vessel_waves = vessels * (2 * np.pi / rng.uniform(30.0, 70.0, size=(2, n, 1)))
        self._vessel_phases = rng.uniform(0, 2 * np.pi, size=(2, n))

    def _fat_field(self, p: np.ndarray) -> np.ndarray:
        return np.cos(p @ self._waves.T + self._phases).mean(axis=1)

    def _vessels(self, p: np.ndarray) -> np.ndarray:
        """Thin tubes where two smooth random fields both cross zero (lung vessels)."""
        a, b = (np.cos(p @ w.T + f).mean(axis=1)
                for w, f in zip(self._vessel_waves, self._vessel_phases))
        return (np.abs(a) < 0.045) & (np.abs(b) < 0.06)

    def classes(self, points: np.ndarray) -> np.ndarray:
        """Tissue class codes (see :data:`TISSUES`; lesions are ``len(TISSUES) + k``) at LPS points."""
        p = np.asarray(points, dtype=np.float64)
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        out = np.zeros(len(p), np.uint8)
        s = 1.0 - 0.04 * (z / 100.0) ** 2  # the body narrows slightly away from its middle

        def paint(mask: np.ndarray, name: str) -> None:
            out[mask] = _CODE[name]

        paint(_ellipse(p, (0, 10), (170 * s, 120 * s)) <= 1, "fat")
        paint(_ellipse(p, (0, 10), (155 * s, 105 * s)) <= 1, "muscle")
        inner = _ellipse(p, (0, 10), (143 * s, 93 * s)) <= 1
        paint(inner, "soft tissue")
        paint(inner & (self._fat_field(p) > 0.3), "fat")
        organs = [
            (lambda: _ellipsoid(p, (-75, 0, 38), (55, 72, 75)), "lung"),
            (lambda: _ellipsoid(p, (75, 0, 38), (55, 72, 75)), "lung"),
            (lambda: _ellipsoid(p, (-62, -2, -50), (85, 78, 58)), "liver"),
            (lambda: _ellipsoid(p, (88, 42, -48), (28, 42, 34)), "spleen"),
            (lambda: _ellipsoid(p, (45, -48, -42), (40, 30, 28)), "stomach"),
            (lambda: _ellipsoid(p, (45, -48, -42), (40, 30, 28)) & (z > -30), "gas"),
            (lambda: _ellipsoid(p, (-62, 72, -75), (26, 30, 45)), "kidney"),
            (lambda: _ellipsoid(p, (62, 72, -75), (26, 30, 45)), "kidney"),
            (lambda: _ellipsoid(p, (15, -28, 5), (52, 44, 42)), "myocardium"),
            (lambda: _ellipsoid(p, (18, -30, 8), (38, 30, 28)), "blood"),
            (lambda: _ellipse(p, (22, 48), (12, 12)) <= 1, "blood"),  # descending aorta
        ]
        for shape, name in organs:
            paint(inner & shape(), name)
        lung = out == _CODE["lung"]
        out[np.flatnonzero(lung)[self._vessels(p[lung])]] = _CODE["blood"]
        self._paint_bones(p, s, paint)
        for k, lesion in enumerate(LESIONS):
            out[_ellipsoid(p, lesion.centre, (lesion.radius,) * 3)] = len(TISSUES) + k
        return out

    @staticmethod
    def _paint_bones(p: np.ndarray, s: np.ndarray, paint) -> None:
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        body = _ellipse(p, (0, 68), (19, 17)) <= 1
        paint(body, "cortical bone")
        paint(_ellipse(p, (0, 68), (16, 14)) <= 1, "marrow")
        paint(body & (np.mod(z + 7.0, 32.0) < 6.0), "disc")
        arch = _ellipse(p, (0, 97), (14, 14)) <= 1
        paint(arch & (y > 90), "cortical bone")
        paint(_ellipse(p, (0, 116), (5, 11)) <= 1, "cortical bone")  # spinous process
        paint(_ellipse(p, (0, 97), (8, 8)) <= 1, "csf")
        ring = np.sqrt(_ellipse(p, (0, 10), (150 * s, 100 * s)))
        band = np.cos(2 * np.pi * (z - 45.0 * (y - 10.0) / 100.0) / 30.0) > 0.5
        paint((ring > 0.955) & (ring < 1.01) & band & (np.abs(x) > 28), "rib")
        paint((np.abs(x) < 14) & (np.abs(y + 86) < 6) & (z > -35), "sternum")

    def render(self, grid: Grid, *, grid_to_phantom: np.ndarray | None = None,
               chunk: int = 1 << 21) -> np.ndarray:
        """Class codes on ``grid``, shape (z, y, x); ``grid_to_phantom`` is a 4x4 map of its points."""
        out = np.empty(grid.shape, np.uint8)
        per_slice = grid.shape[1] * grid.shape[2]
        step = max(1, chunk // per_slice)
        for z0 in range(0, grid.shape[0], step):
            z1 = min(z0 + step, grid.shape[0])
            points = grid.points(z0, z1)
            if grid_to_phantom is not None:
                points = points @ grid_to_phantom[:3, :3].T + grid_to_phantom[:3, 3]
            out[z0:z1] = self.classes(points).reshape(z1 - z0, *grid.shape[1:])
        return out


def lookup(classes: np.ndarray, column: int) -> np.ndarray:
    """Map class codes to one column of :data:`TISSUES` (0 HU, 1 T1, 2 SUV), lesions included."""
    table = [values[column] for values in TISSUES.values()]
    table += [(lesion.hu, lesion.t1, lesion.suv)[column] for lesion in LESIONS]
    return np.asarray(table, np.float32)[classes]

"""Side-by-side comparisons of two images on one grid: checkerboard and difference.

These are the views a reader uses to judge an alignment (3D Slicer's Compare Volumes, ITK-SNAP):
edges that run straight across the squares of a checkerboard, and a difference image without
structure. Both inputs must be on the same grid and on a common scale; normalise each by its modality
first (``get_modality(code).normalize(array, units)`` maps CT, MR and PET to [0, 1]).

Examples
--------
>>> import numpy as np
>>> board = checkerboard(np.zeros((4, 4)), np.ones((4, 4)), squares=2)
>>> board.astype(int).tolist()
[[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]]
>>> difference(np.ones((2, 2)), np.zeros((2, 2))).tolist()
[[1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

from medfuse.errors import GeometryError

__all__ = ["checkerboard", "checker_mask", "difference"]


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise GeometryError(
            f"images must share one grid to be compared, not shapes {a.shape} and {b.shape}; "
            "resample one onto the other first (Volume.resample_to)"
        )


def checker_mask(shape: tuple[int, ...], *, squares: int = 8) -> np.ndarray:
    """Boolean checker pattern over ``shape``: ``squares`` tiles along every axis, True on odd tiles.

    In 3D the tiles are cubes, so every axial, coronal and sagittal plane shows a checkerboard.

    Examples
    --------
    >>> checker_mask((2, 4), squares=2).tolist()
    [[False, False, True, True], [True, True, False, False]]
    """
    if squares < 1:
        raise ValueError(f"squares must be at least 1, not {squares}")
    parity = np.zeros(shape, dtype=np.int64)
    for axis, n in enumerate(shape):
        tile = np.arange(n) * squares // max(n, 1)
        view = [1] * len(shape)
        view[axis] = n
        parity = parity + tile.reshape(view)
    return parity % 2 == 1


def checkerboard(a: np.ndarray, b: np.ndarray, *, squares: int = 8) -> np.ndarray:
    """Tiles of ``a`` and ``b`` alternating like a checkerboard, as float32.

    Parameters
    ----------
    a, b : arrays of one shape (2D or 3D), on a common scale.
    squares : number of tiles along each axis.

    Raises
    ------
    GeometryError
        The shapes differ.
    ValueError
        ``squares`` is below 1.
    """
    a, b = np.asarray(a), np.asarray(b)
    _check_pair(a, b)
    return np.where(checker_mask(a.shape, squares=squares), b, a).astype(np.float32)


def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signed difference ``a - b`` as float32 (positive where ``a`` is brighter).

    Raises
    ------
    GeometryError
        The shapes differ.
    """
    a, b = np.asarray(a), np.asarray(b)
    _check_pair(a, b)
    return a.astype(np.float32) - b.astype(np.float32)

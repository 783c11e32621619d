"""Classical fusion baselines over normalised arrays (2D or 3D): average, maximum, Laplacian pyramid,
and guided-filtering fusion (GFF; Li, Kang & Hu, IEEE TIP 2013).

Each function takes a list of float32 arrays in [0, 1] of one shape and returns the fused array.

Examples
--------
>>> import numpy as np
>>> a, b = np.zeros((8, 8), np.float32), np.ones((8, 8), np.float32)
>>> float(average([a, b]).mean()), float(maximum([a, b]).mean())
(0.5, 1.0)
>>> laplacian([a, b]).shape
(8, 8)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfuse.fusion.registry import FusionMethod

__all__ = ["AVERAGE", "GFF", "LAPLACIAN", "MAXIMUM", "average", "gff", "laplacian", "maximum"]


def average(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Pixel-wise mean of the sources."""
    return np.mean(np.stack(arrays), axis=0)


def maximum(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Pixel-wise maximum of the sources."""
    return np.max(np.stack(arrays), axis=0)


def _down(x: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi  # here, not at import: keeps `medfuse fuse` start-up short

    return ndi.gaussian_filter(x, 1.0, mode="reflect")[tuple(slice(None, None, 2) for _ in x.shape)]


def _up(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    from scipy import ndimage as ndi

    return ndi.zoom(x, [n / m for n, m in zip(shape, x.shape)], order=1, mode="nearest",
                    grid_mode=True)


def _pyramid(x: np.ndarray, levels: int) -> tuple[list[np.ndarray], np.ndarray]:
    details = []
    for _ in range(levels):
        if min(x.shape) < 4:
            break
        small = _down(x)
        details.append(x - _up(small, x.shape))
        x = small
    return details, x


def laplacian(arrays: Sequence[np.ndarray], *, levels: int = 4) -> np.ndarray:
    """Laplacian pyramid fusion (Burt & Adelson): average of the base, max-abs of each detail level."""
    pyramids = [_pyramid(np.asarray(a, np.float64), levels) for a in arrays]
    fused = np.mean([base for _, base in pyramids], axis=0)
    for level in reversed(range(len(pyramids[0][0]))):
        stack = np.stack([details[level] for details, _ in pyramids])
        pick = np.argmax(np.abs(stack), axis=0)
        detail = np.take_along_axis(stack, pick[None], axis=0)[0]
        fused = _up(fused, detail.shape) + detail
    return fused


def _guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with box windows of side ``2 * radius + 1``."""
    from scipy import ndimage as ndi

    size = 2 * radius + 1
    mean = lambda x: ndi.uniform_filter(x, size, mode="reflect")  # noqa: E731
    mg, ms = mean(guide), mean(src)
    a = (mean(guide * src) - mg * ms) / (mean(guide * guide) - mg * mg + eps)
    b = ms - a * mg
    return mean(a) * guide + mean(b)


def gff(
    arrays: Sequence[np.ndarray],
    *,
    base_radius: int = 15,
    r1: int = 45,
    eps1: float = 0.3,
    r2: int = 7,
    eps2: float = 1e-6,
) -> np.ndarray:
    """Guided-filtering fusion: two-scale split, Laplacian saliency, guided-filter-refined weights.

    Base layers are a ``2 * base_radius + 1`` mean filter; saliency is the Gaussian-smoothed absolute
    Laplacian; the binary "most salient" maps are refined with guided filters (``r1, eps1`` for base
    weights, ``r2, eps2`` for detail weights) guided by each source, as in the paper.
    """
    from scipy import ndimage as ndi

    images = [np.asarray(a, np.float64) for a in arrays]
    bases = [ndi.uniform_filter(x, 2 * base_radius + 1, mode="reflect") for x in images]
    details = [x - b for x, b in zip(images, bases)]
    saliency = np.stack([ndi.gaussian_filter(np.abs(ndi.laplace(x)), 5.0, truncate=1.0)
                         for x in images])
    winner = np.argmax(saliency, axis=0)
    fused_base = np.zeros_like(images[0])
    fused_detail = np.zeros_like(images[0])
    wb = [np.clip(_guided_filter(x, (winner == i).astype(np.float64), r1, eps1), 0, 1)
          for i, x in enumerate(images)]
    wd = [np.clip(_guided_filter(x, (winner == i).astype(np.float64), r2, eps2), 0, 1)
          for i, x in enumerate(images)]
    sb, sd = np.sum(wb, axis=0) + 1e-12, np.sum(wd, axis=0) + 1e-12
    for i in range(len(images)):
        fused_base += wb[i] / sb * bases[i]
        fused_detail += wd[i] / sd * details[i]
    return fused_base + fused_detail


AVERAGE = FusionMethod("average", average, "pixel-wise mean (anchor AVG)")
MAXIMUM = FusionMethod("maximum", maximum, "pixel-wise maximum (anchor MAX)")
LAPLACIAN = FusionMethod("laplacian", laplacian,
                         "Laplacian pyramid, average base, max-abs detail (anchor LAPLACIAN)")
GFF = FusionMethod("gff", gff, "guided-filtering fusion (Li, Kang & Hu 2013)")

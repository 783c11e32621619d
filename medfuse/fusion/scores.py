"""Scores of what a fused image keeps of its sources: complementarity (MEF-SSIM) and colour.

``complementarity`` is the MEF-SSIM index of Ma, Zeng & Wang (IEEE TIP 2015), written here from the
paper for 2D grey images in 0-255: in every Gaussian window (11 x 11, sigma 1.5, as SSIM) the desired
patch has the largest contrast of the sources and their contrast-weighted structure
(``sum_k c_k^4 s_k``, normalised); the score is SSIM's contrast-structure term between the fused and
the desired patch. It is reported over all windows and over the windows where **the brighter source
is the smoother one** (its local mean is the largest, its local contrast below another source's, and
that source has visible structure, a standard deviation of at least 4 grey levels): the places where
keeping the brighter image (MAX) loses the darker one's structure, such as MRI folds inside hot PET.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a, b = rng.random((32, 32)) * 255, np.full((32, 32), 200.0)
>>> scores = complementarity(a, [a, b])
>>> round(scores["all"], 3)
1.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfuse.fusion.colour import COLOURED, chroma_magnitude

__all__ = ["chroma_ratio", "complementarity", "mef_ssim_map"]

#: least local standard deviation (0-255) of a source whose structure counts as visible
VISIBLE_STD = 4.0
_C2 = (0.03 * 255.0) ** 2


def _local(x: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi

    return ndi.gaussian_filter(x, 1.5, truncate=3.5, mode="reflect")  # an 11 x 11 window


def mef_ssim_map(fused: np.ndarray, sources: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The MEF-SSIM map of ``fused`` against ``sources`` (0-255), with each source's local mean and
    standard deviation: ``(map, means (S, H, W), stds (S, H, W))``."""
    f = np.asarray(fused, np.float64)
    xs = [np.asarray(x, np.float64) for x in sources]
    means = np.stack([_local(x) for x in xs])
    stds = np.sqrt(np.maximum(np.stack([_local(x * x) for x in xs]) - means ** 2, 0) + 1e-6)
    mean_f = _local(f)
    var_f = np.maximum(_local(f * f) - mean_f ** 2, 0)
    alpha = stds ** 4 / (stds ** 4).sum(axis=0)
    cov_sf = np.stack([_local(x * f) for x in xs]) - means * mean_f
    var_sum = np.zeros_like(f)
    for k in range(len(xs)):
        for m in range(len(xs)):
            cov = _local(xs[k] * xs[m]) - means[k] * means[m]
            var_sum += alpha[k] * alpha[m] * cov / (stds[k] * stds[m])
    c_hat = stds.max(axis=0)
    cov_hat = c_hat / np.sqrt(np.maximum(var_sum, 1e-12)) * (alpha * cov_sf / stds).sum(axis=0)
    return (2 * cov_hat + _C2) / (c_hat ** 2 + var_f + _C2), means, stds


def complementarity(fused: np.ndarray, sources: Sequence[np.ndarray]) -> dict[str, float]:
    """MEF-SSIM of ``fused`` over all windows (``"all"``) and where the brighter source is the
    smoother one (``"brighter_smoother"``, NaN when no window qualifies), with that share of windows.
    """
    score, means, stds = mef_ssim_map(fused, sources)
    brighter = np.argmax(means, axis=0)
    bright_std = np.take_along_axis(stds, brighter[None], axis=0)[0]
    others = np.where(np.arange(len(stds))[:, None, None] == brighter[None], 0.0, stds).max(axis=0)
    mask = (bright_std < others) & (others >= VISIBLE_STD)
    return {"all": float(score.mean()),
            "brighter_smoother": float(score[mask].mean()) if mask.any() else float("nan"),
            "share": float(mask.mean())}


def chroma_ratio(fused_rgb: np.ndarray, source_rgb: np.ndarray, *, coloured: float = COLOURED) -> float:
    """Mean chroma magnitude of ``fused_rgb`` over the coloured pixels of ``source_rgb`` (chroma of
    at least ``coloured``), divided by the source's mean there (1.0: the colour kept whole)."""
    source = chroma_magnitude(source_rgb)
    mask = source >= coloured
    return float(chroma_magnitude(fused_rgb)[mask].mean() / source[mask].mean())

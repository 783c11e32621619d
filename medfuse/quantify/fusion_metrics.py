"""Image fusion quality metrics in the conventions of the CDDFuse evaluator (see ``docs/metrics.md``).

Every function takes 2D luma images on the 0-255 scale (``float`` arrays; colour images are converted
to BT.601 luma before): ``f`` the fused image, ``a`` and ``b`` the two sources. Higher is better for
all of them. The two-source metrics are sums over the sources (MI, SCD, VIF, SSIM), or a mean (CC), or
a gradient-weighted pool (Qabf), exactly as the evaluator that most papers copy computes them.

Examples
--------
>>> import numpy as np
>>> a = np.tile(np.arange(8.0) * 30, (8, 1)); b = a.T.copy()
>>> round(spatial_frequency(np.maximum(a, b)), 2)
30.0
>>> round(fusion_metrics(np.maximum(a, b), a, b)["EN"], 3)
2.73
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d, uniform_filter
from scipy.signal import convolve2d

__all__ = [
    "METRICS",
    "average_gradient",
    "correlation_coefficient",
    "entropy",
    "fusion_metrics",
    "mutual_information",
    "psnr",
    "qabf",
    "scd",
    "spatial_frequency",
    "ssim",
    "ssim_sum",
    "standard_deviation",
    "vif",
    "vif_sum",
]

#: metric names in the order the papers' tables use, as :func:`fusion_metrics` returns them
METRICS = ("EN", "SD", "SF", "AG", "MI", "MI_nats", "SCD", "VIF", "Qabf", "SSIM", "PSNR", "CC")


def _f64(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"fusion metrics take 2D luma images, not shape {array.shape}")
    return array


def entropy(f: np.ndarray) -> float:
    """EN: Shannon entropy (bits) of the 256-bin histogram of ``round(f)`` clipped to 0-255."""
    values = np.clip(np.round(_f64(f)), 0, 255).astype(np.int64).ravel()
    p = np.bincount(values, minlength=256) / values.size
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def standard_deviation(f: np.ndarray) -> float:
    """SD: population standard deviation of the grey values."""
    return float(np.std(_f64(f)))


def spatial_frequency(f: np.ndarray) -> float:
    """SF: ``sqrt(mean(dx^2) + mean(dy^2))`` of forward differences along rows and columns."""
    f = _f64(f)
    return float(np.sqrt(np.mean(np.diff(f, axis=1) ** 2) + np.mean(np.diff(f, axis=0) ** 2)))


def average_gradient(f: np.ndarray) -> float:
    """AG: mean of ``sqrt((gx^2 + gy^2) / 2)`` with central differences (one-sided at borders)."""
    f = _f64(f)
    gy, gx = np.gradient(f)
    return float(np.mean(np.sqrt((gx**2 + gy**2) / 2.0)))


def _mi(x: np.ndarray, y: np.ndarray) -> float:
    """Mutual information in nats between the integer grey levels of two images."""
    xi = np.clip(np.round(x), 0, 255).astype(np.int64).ravel()
    yi = np.clip(np.round(y), 0, 255).astype(np.int64).ravel()
    joint = np.bincount(xi * 256 + yi, minlength=256 * 256).reshape(256, 256) / xi.size
    px, py = joint.sum(axis=1), joint.sum(axis=0)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(px, py)[nz])))


def mutual_information(f: np.ndarray, a: np.ndarray, b: np.ndarray, *, bits: bool = True) -> float:
    """MI: ``MI(F, A) + MI(F, B)`` over the 256 integer grey levels; bits, or nats with ``bits=False``."""
    total = _mi(_f64(f), _f64(a)) + _mi(_f64(f), _f64(b))
    return total / np.log(2.0) if bits else total


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    den = np.sqrt(np.sum(x * x) * np.sum(y * y))
    return float(np.sum(x * y) / den) if den > 0 else 0.0


def scd(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """SCD: ``corr(F - B, A) + corr(F - A, B)`` (sum of the correlations of differences)."""
    f, a, b = _f64(f), _f64(a), _f64(b)
    return _corr(a, f - b) + _corr(b, f - a)


def correlation_coefficient(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """CC: mean of the Pearson correlations ``(corr(A, F) + corr(B, F)) / 2``."""
    f, a, b = _f64(f), _f64(a), _f64(b)
    return (_corr(a, f) + _corr(b, f)) / 2.0


def psnr(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """PSNR: ``10 log10(max(F)^2 / MSE)`` with ``MSE = (mse(A, F) + mse(B, F)) / 2``."""
    f, a, b = _f64(f), _f64(a), _f64(b)
    mse = (np.mean((a - f) ** 2) + np.mean((b - f) ** 2)) / 2.0
    return float("inf") if mse == 0 else float(10.0 * np.log10(f.max() ** 2 / mse))


def ssim(x: np.ndarray, y: np.ndarray, *, data_range: float = 255.0) -> float:
    """SSIM of two images: 7x7 uniform window, sample covariance, K1 0.01, K2 0.03 (scikit-image's).

    The mean is taken over the pixels at least 3 away from the border.
    """
    x, y = _f64(x), _f64(y)
    win = 7
    n = win * win
    cov_norm = n / (n - 1.0)
    ux, uy = uniform_filter(x, win), uniform_filter(y, win)
    uxx, uyy, uxy = uniform_filter(x * x, win), uniform_filter(y * y, win), uniform_filter(x * y, win)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())


def ssim_sum(f: np.ndarray, a: np.ndarray, b: np.ndarray, *, data_range: float = 255.0) -> float:
    """SSIM as the papers report it: ``SSIM(F, A) + SSIM(F, B)`` (at most 2)."""
    return ssim(f, a, data_range=data_range) + ssim(f, b, data_range=data_range)


def _gauss_1d(n: int) -> np.ndarray:
    """1D factor of the MATLAB-style ``n x n`` Gaussian window (sd ``n / 5``), normalised to sum 1."""
    m = (n - 1) / 2.0
    h = np.exp(-(np.arange(n) - m) ** 2 / (2.0 * (n / 5.0) ** 2))
    return h / h.sum()


def _filter_valid(image: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``convolve2d(image, outer(g, g), mode="valid")`` computed separably."""
    r = (g.size - 1) // 2
    out = correlate1d(correlate1d(image, g, axis=0, mode="constant"), g, axis=1, mode="constant")
    return out[r : image.shape[0] - r, r : image.shape[1] - r]


def vif(ref: np.ndarray, dist: np.ndarray, *, sigma_n_sq: float = 2.0) -> float:
    """Pixel-domain multiscale VIF (Sheikh & Bovik) of ``dist`` against ``ref``; 4 scales.

    Scale ``s`` (1..4) uses a Gaussian window of size ``2^(5-s) + 1`` and sd ``size / 5``; from the
    second scale on both images are filtered ('valid') and decimated by 2 first.
    """
    ref, dist = _f64(ref), _f64(dist)
    eps = 1e-10
    num = den = 0.0
    for scale in range(1, 5):
        win = _gauss_1d(2 ** (4 - scale + 1) + 1)
        if scale > 1:
            ref = _filter_valid(ref, win)[::2, ::2]
            dist = _filter_valid(dist, win)[::2, ::2]
        mu1, mu2 = _filter_valid(ref, win), _filter_valid(dist, win)
        s1 = np.maximum(_filter_valid(ref * ref, win) - mu1 * mu1, 0)
        s2 = np.maximum(_filter_valid(dist * dist, win) - mu2 * mu2, 0)
        s12 = _filter_valid(ref * dist, win) - mu1 * mu2
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        low1, low2 = s1 < eps, s2 < eps
        g[low1] = 0
        sv[low1] = s2[low1]
        s1[low1] = 0
        g[low2] = 0
        sv[low2] = 0
        neg = g < 0
        sv[neg] = s2[neg]
        g[neg] = 0
        sv[sv <= eps] = eps
        num += np.sum(np.log10(1.0 + g * g * s1 / (sv + sigma_n_sq)))
        den += np.sum(np.log10(1.0 + s1 / sigma_n_sq))
    return 1.0 if den == 0 else float(num / den)


def vif_sum(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """VIF as the papers report it: ``VIF(A -> F) + VIF(B -> F)``."""
    return vif(a, f) + vif(b, f)


_SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)
_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)


def _edges(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sx = convolve2d(image, _SOBEL_X, mode="same")
    sy = convolve2d(image, _SOBEL_Y, mode="same")
    strength = np.sqrt(sx * sx + sy * sy)
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.where(sx == 0, np.pi / 2, np.arctan(sy / np.where(sx == 0, 1.0, sx)))
    return strength, angle


def _edge_preservation(ga: np.ndarray, aa: np.ndarray, gf: np.ndarray, af: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(ga > gf, gf / ga, np.where(ga < gf, ga / gf, gf))
    orient = 1.0 - np.abs(aa - af) / (np.pi / 2)
    qg = 0.9994 / (1.0 + np.exp(-15.0 * (rel - 0.5)))
    qa = 0.9879 / (1.0 + np.exp(-22.0 * (orient - 0.8)))
    return qg * qa


def qabf(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Qabf (Xydeas & Petrovic) with Sobel edges, Tg 0.9994, kg -15, Dg 0.5, Ta 0.9879, ka -22, Da 0.8.

    As in the evaluator, pixels where a source and the fused edge strengths are equal keep the fused
    strength as their relative strength (0 in flat regions).
    """
    ga, aa = _edges(_f64(a))
    gb, ab = _edges(_f64(b))
    gf, af = _edges(_f64(f))
    qa, qb = _edge_preservation(ga, aa, gf, af), _edge_preservation(gb, ab, gf, af)
    den = np.sum(ga + gb)
    return 0.0 if den == 0 else float(np.sum(qa * ga + qb * gb) / den)


def fusion_metrics(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """All metrics of :data:`METRICS` for one fused image ``f`` of sources ``a`` and ``b`` (0-255 luma)."""
    f, a, b = _f64(f), _f64(a), _f64(b)
    if not f.shape == a.shape == b.shape:
        raise ValueError(f"images must share one shape, not {f.shape}, {a.shape}, {b.shape}")
    mi_nats = mutual_information(f, a, b, bits=False)
    return {
        "EN": entropy(f),
        "SD": standard_deviation(f),
        "SF": spatial_frequency(f),
        "AG": average_gradient(f),
        "MI": mi_nats / np.log(2.0),
        "MI_nats": mi_nats,
        "SCD": scd(f, a, b),
        "VIF": vif_sum(f, a, b),
        "Qabf": qabf(f, a, b),
        "SSIM": ssim_sum(f, a, b),
        "PSNR": psnr(f, a, b),
        "CC": correlation_coefficient(f, a, b),
    }

"""Unsupervised fusion losses (2D and 3D): intensity, gradient and structural similarity.

The fused image should keep the brighter source's intensity (``intensity``), the stronger source's
edges (``gradient``) and the structure of both sources (``ssim``). No reference fused image exists.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F  # noqa: N812


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Sum over spatial axes of the absolute central differences (replicate-padded), ``(N, C, ...)``."""
    dims = x.ndim - 2
    total = torch.zeros_like(x)
    for axis in range(2, 2 + dims):
        pad = [0, 0] * dims
        pad[2 * (x.ndim - 1 - axis)] = pad[2 * (x.ndim - 1 - axis) + 1] = 1
        padded = F.pad(x, pad, mode="replicate")
        n = x.shape[axis]
        total = total + (padded.narrow(axis, 2, n) - padded.narrow(axis, 0, n)).abs() / 2
    return total


def ssim_map(x: torch.Tensor, y: torch.Tensor, *, window: int = 7, data_range: float = 1.0) -> torch.Tensor:
    """SSIM map with a uniform ``window`` (the metric's convention), valid region only."""
    pool = F.avg_pool2d if x.ndim == 4 else F.avg_pool3d
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ux, uy = pool(x, window, 1), pool(y, window, 1)
    vx = pool(x * x, window, 1) - ux * ux
    vy = pool(y * y, window, 1) - uy * uy
    vxy = pool(x * y, window, 1) - ux * uy
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def fusion_loss(
    fused: torch.Tensor,
    sources: torch.Tensor,
    *,
    intensity: float = 1.0,
    gradient: float = 1.0,
    ssim: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the three terms for ``fused (N, 1, ...)`` and ``sources (N, 2, ...)``.

    Returns the loss and its terms (floats, for logging).
    """
    a, b = sources[:, :1], sources[:, 1:2]
    l_int = (fused - torch.maximum(a, b)).abs().mean()
    l_grad = (gradient_magnitude(fused)
              - torch.maximum(gradient_magnitude(a), gradient_magnitude(b))).abs().mean()
    l_ssim = 1.0 - (ssim_map(fused, a).mean() + ssim_map(fused, b).mean()) / 2
    total = intensity * l_int + gradient * l_grad + ssim * l_ssim
    return total, {"intensity": l_int.item(), "gradient": l_grad.item(), "ssim": l_ssim.item()}

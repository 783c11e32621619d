"""Unsupervised fusion losses for N sources: MEF-SSIM structure, intensity salience and gradient.

No reference fused image exists. The objective says what a fused patch should be:

* **structure** (``1 - MEF-SSIM``; Ma, Zeng & Wang, IEEE TIP 2015): in every window the fused patch
  should have the largest contrast among the sources and the contrast-weighted structure of all of
  them, so the structure of a darker source survives where the brighter one is smooth;
* **intensity**: the fused local mean (Gaussian, ``sigma`` px) should follow the most salient
  source's local mean (the larger one), so hot uptake stays hot and bone stays bright;
* **gradient**: the fused gradient magnitude should follow the strongest source gradient.

``sources`` are the clean images: the training loop degrades the network's inputs (noise, low
counts) but scores the result against what the sources really show.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F  # noqa: N812

from medfuse.fusion.nets import _gaussian_kernel1d, separable_blur


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Sum over the two spatial axes of the absolute central differences (replicate-padded)."""
    padded = F.pad(x, [1, 1, 1, 1], mode="replicate")
    h, w = x.shape[2], x.shape[3]
    gy = (padded[:, :, 2:, 1:-1] - padded[:, :, :-2, 1:-1]).abs() / 2
    gx = (padded[:, :, 1:-1, 2:] - padded[:, :, 1:-1, :-2]).abs() / 2
    return (gx + gy)[:, :, :h, :w]


def mef_ssim_map(fused: torch.Tensor, sources: torch.Tensor, *, window: int = 7, p: float = 4.0,
                 c2: float = 0.03 ** 2) -> torch.Tensor:
    """MEF-SSIM map of ``fused (B, 1, H, W)`` against ``sources (B, S, H, W)`` (uniform windows).

    In each window the desired patch has contrast ``max_k c_k`` and the structure
    ``sum_k c_k^p s_k``, normalised (``s_k``: the k-th source's mean-removed patch over its contrast).
    The score is SSIM's contrast-structure term between the fused and the desired patch. All
    quantities come from local moments, so the map costs a few pooling passes.
    """
    def pool(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, window, 1)

    mean_s, mean_f = pool(sources), pool(fused)
    var_s = (pool(sources * sources) - mean_s * mean_s).clamp_min(0)
    var_f = (pool(fused * fused) - mean_f * mean_f).clamp_min(0)
    cov_sf = pool(sources * fused) - mean_s * mean_f
    std = (var_s + 1e-8).sqrt()
    alpha = std ** p / (std ** p).sum(dim=1, keepdim=True).clamp_min(1e-12)
    s = sources.shape[1]
    # variance of sum_k alpha_k s_k, with s_k of unit variance: sum_kl alpha_k alpha_l rho_kl
    var_sum = torch.zeros_like(mean_f)
    for k in range(s):
        for m in range(s):
            if m == k:
                rho = var_s[:, k:k + 1] / (std[:, k:k + 1] ** 2)
            else:
                cov = pool(sources[:, k:k + 1] * sources[:, m:m + 1]) \
                    - mean_s[:, k:k + 1] * mean_s[:, m:m + 1]
                rho = cov / (std[:, k:k + 1] * std[:, m:m + 1])
            var_sum = var_sum + alpha[:, k:k + 1] * alpha[:, m:m + 1] * rho
    c_hat = std.amax(dim=1, keepdim=True)
    cov_hat = c_hat / (var_sum.clamp_min(1e-12)).sqrt() * (alpha * cov_sf / std).sum(dim=1, keepdim=True)
    return (2 * cov_hat + c2) / (c_hat * c_hat + var_f + c2)


def fusion_loss(
    fused: torch.Tensor,
    sources: torch.Tensor,
    *,
    structure: float = 1.0,
    intensity: float = 1.0,
    gradient: float = 1.0,
    sigma: float = 4.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the three terms for ``fused (B, 1, H, W)`` and clean ``sources (B, S, H, W)``.

    Returns the loss and its terms (floats, for logging).
    """
    l_struct = 1.0 - mef_ssim_map(fused, sources).mean()
    kernel = _gaussian_kernel1d(sigma).to(fused)
    l_int = (separable_blur(fused, kernel)
             - separable_blur(sources, kernel).amax(dim=1, keepdim=True)).abs().mean()
    l_grad = (gradient_magnitude(fused)
              - gradient_magnitude(sources).amax(dim=1, keepdim=True)).abs().mean()
    total = structure * l_struct + intensity * l_int + gradient * l_grad
    return total, {"structure": round(l_struct.item(), 5), "intensity": round(l_int.item(), 5),
                   "gradient": round(l_grad.item(), 5)}

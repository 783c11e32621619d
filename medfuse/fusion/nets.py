"""The learned fusion network: a tiny MONAI-block net predicting a soft selection map and a detail gain.

``MaxDetailFusionNet`` re-implements two ideas shared by the unsupervised fusion literature (weight-map
fusion as in DenseFuse/U2Fusion, and detail injection as in the two-scale decompositions that CDDFuse
and EN-DRAN learn): the fused image is

``F = w * A + (1 - w) * B + k * (D_sel - D_base)``

where ``w = sigmoid(t * (A - B) + u)`` is a soft selection map with a learned temperature ``t`` and a
learned per-pixel correction ``u``, ``D_x = x - blur(x)`` are detail layers, ``D_sel`` takes at each
pixel the detail of larger magnitude, ``D_base`` is the detail of the weighted base, and ``k >= 0`` is a
learned per-pixel detail gain. ``u`` and ``k`` come from three MONAI ``Convolution`` blocks. The same
class serves 2D (slices) and 3D (sliding windows) through ``spatial_dims``.

This module imports torch and MONAI at import time: import it only where a network runs.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from torch import nn
from torch.nn import functional as F  # noqa: N812


def _gaussian_kernel1d(sigma: float) -> torch.Tensor:
    radius = max(1, int(round(2.5 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x * x) / (2 * sigma * sigma))
    return k / k.sum()


class MaxDetailFusionNet(nn.Module):
    """Two-input fusion network (inputs in [0, 1], channel 0 = A, channel 1 = B).

    Parameters
    ----------
    spatial_dims : 2 or 3.
    channels : feature channels of the hidden blocks.
    layers : number of convolution blocks (at least 2).
    sigma : standard deviation (pixels) of the Gaussian that splits base and detail.
    temperature : initial selection temperature ``t`` (large: close to the maximum).

    Examples
    --------
    >>> net = MaxDetailFusionNet(spatial_dims=2, channels=4)
    >>> net(torch.rand(1, 2, 32, 32)).shape
    torch.Size([1, 1, 32, 32])
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        *,
        channels: int = 8,
        layers: int = 3,
        sigma: float = 2.0,
        temperature: float = 20.0,
    ) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims
        sizes = [2] + [channels] * (layers - 1)
        blocks = [
            Convolution(spatial_dims, cin, cout, kernel_size=3, act=("relu", {"inplace": True}),
                        norm=None, bias=True)
            for cin, cout in zip(sizes[:-1], sizes[1:])
        ]
        blocks.append(Convolution(spatial_dims, channels, 2, kernel_size=3, conv_only=True, bias=True))
        self.features = nn.Sequential(*blocks)
        nn.init.zeros_(self.features[-1].conv.weight)
        nn.init.zeros_(self.features[-1].conv.bias)
        self.log_temperature = nn.Parameter(torch.tensor(float(temperature)).log())
        self.register_buffer("blur1d", _gaussian_kernel1d(sigma), persistent=False)

    def blur(self, x: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur of a ``(N, C, ...)`` tensor, reflect-padded, per channel.

        Written as weighted sums of shifted views: on CPU this is several times faster than a
        convolution with one input channel.
        """
        k = self.blur1d
        r = k.numel() // 2
        for axis in range(2, 2 + self.spatial_dims):
            n = x.shape[axis]
            pad = [0, 0] * self.spatial_dims
            pad[2 * (x.ndim - 1 - axis)] = pad[2 * (x.ndim - 1 - axis) + 1] = r
            padded = F.pad(x, pad, mode="reflect" if n > r else "replicate")
            out = padded.narrow(axis, 0, n) * k[0]
            for i in range(1, k.numel()):
                out = out + padded.narrow(axis, i, n) * k[i]
            x = out
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fuse ``x`` of shape ``(N, 2, *spatial)`` into ``(N, 1, *spatial)``."""
        layout = torch.channels_last if x.ndim == 4 else torch.channels_last_3d
        out = self.features(x.contiguous(memory_format=layout))  # faster convolutions on CPU
        a, b = x[:, :1], x[:, 1:2]
        w = torch.sigmoid(self.log_temperature.exp() * (a - b) + out[:, :1])
        gain = F.softplus(out[:, 1:2] - 0.4328)  # softplus(-0.4328) = 0.5: start at half detail
        base = w * a + (1 - w) * b
        smooth = self.blur(torch.cat([a, b, base], dim=1))
        da, db, base_detail = a - smooth[:, :1], b - smooth[:, 1:2], base - smooth[:, 2:3]
        selected = torch.where(da.abs() >= db.abs(), da, db)
        return (base + gain * (selected - base_detail)).clamp(0.0, 1.0)

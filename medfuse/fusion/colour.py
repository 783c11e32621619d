"""RGB pseudo-colour <-> YCbCr (ITU-R BT.601, full range, as JPEG and the fusion literature use it).

Colour PET/SPECT images fuse as the field does: convert to YCbCr, fuse the luma (Y) with the grey
image, keep the functional image's chroma (Cb, Cr), convert back.

Examples
--------
>>> import numpy as np
>>> rgb = np.array([[[255, 0, 0], [10, 200, 30]]], dtype=np.uint8)
>>> bool(np.abs(ycbcr_to_rgb(rgb_to_ycbcr(rgb)).astype(int) - rgb).max() <= 1)
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["fuse_luma", "luma", "rgb_to_ycbcr", "ycbcr_to_rgb"]

_TO_YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
_OFFSET = np.array([0.0, 128.0, 128.0])
_TO_RGB = np.linalg.inv(_TO_YCBCR)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Convert ``(..., 3)`` RGB in 0-255 to float64 YCbCr in 0-255 (chroma centred on 128)."""
    return np.asarray(rgb, dtype=np.float64) @ _TO_YCBCR.T + _OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Convert ``(..., 3)`` YCbCr back to RGB, rounded and clipped to uint8."""
    rgb = (np.asarray(ycbcr, dtype=np.float64) - _OFFSET) @ _TO_RGB.T
    return np.clip(np.round(rgb, out=rgb), 0, 255, out=rgb).astype(np.uint8)


def luma(image: np.ndarray, *, rgb: bool) -> np.ndarray:
    """The BT.601 luma (0-255 float64) of an RGB image, or the grey image itself as float64."""
    array = np.asarray(image, dtype=np.float64)
    return array @ _TO_YCBCR[0] if rgb else array


def fuse_luma(fused_luma: np.ndarray, chroma_source: np.ndarray) -> np.ndarray:
    """Recombine a fused luma (0-255) with the Cb/Cr of an RGB ``chroma_source``; returns RGB uint8."""
    ycbcr = rgb_to_ycbcr(chroma_source)
    ycbcr[..., 0] = fused_luma
    return ycbcr_to_rgb(ycbcr)

"""RGB pseudo-colour <-> YCbCr (ITU-R BT.601, full range, as JPEG and the fusion literature use it).

Colour PET/SPECT images fuse as the field does: convert to YCbCr, fuse the luma (Y) with the grey
image, keep the functional image's chroma (Cb, Cr), convert back. Putting a new luma under a saturated
colour can leave the RGB cube (pure red exists at one luma only), and clipping there washes the colour
out; :func:`fuse_luma` instead keeps the hue, moves the luma towards where the colour exists, and
lets the saturation give way only where the anatomy needs the luma, 2 % on average (``CHROMA_KEPT``).
Volumes get their colour from the functional modality's colormap (:func:`colour_fused`).

Examples
--------
>>> import numpy as np
>>> rgb = np.array([[[255, 0, 0], [10, 200, 30]]], dtype=np.uint8)
>>> bool(np.abs(ycbcr_to_rgb(rgb_to_ycbcr(rgb)).astype(int) - rgb).max() <= 1)
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHROMA_KEPT", "COLOURED", "chroma_magnitude", "colormap_rgb", "colour_fused", "fuse_luma",
           "luma", "rgb_to_ycbcr", "ycbcr_to_rgb"]

#: the fraction of the functional image's chroma that :func:`fuse_luma` keeps on average
CHROMA_KEPT = 0.975
#: chroma magnitude (0-255 units) from which a pixel counts as coloured
COLOURED = 8.0

_TO_YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
_OFFSET = np.array([0.0, 128.0, 128.0])
_TO_RGB = np.linalg.inv(_TO_YCBCR)
#: the normalised Gaussian of sigma 2 px over +-8 px (scipy's radius for it, truncate 4)
_GAUSS_2PX = np.exp(-0.5 * (np.arange(-8, 9) / 2.0) ** 2)
_GAUSS_2PX /= _GAUSS_2PX.sum()


def _mix(pixels: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``pixels (..., 3) @ matrix.T`` in float64, channel by channel: numpy hands a tall ``(n, 3)``
    product to BLAS, which is 5 times slower at it and spins threads."""
    pixels = np.asarray(pixels, dtype=np.float64)
    out = np.empty(pixels.shape)
    for k in range(3):
        out[..., k] = (pixels[..., 0] * matrix[k, 0] + pixels[..., 1] * matrix[k, 1]
                       + pixels[..., 2] * matrix[k, 2])
    return out


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Convert ``(..., 3)`` RGB in 0-255 to float64 YCbCr in 0-255 (chroma centred on 128)."""
    return _mix(rgb, _TO_YCBCR) + _OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Convert ``(..., 3)`` YCbCr back to RGB, rounded and clipped to uint8."""
    rgb = _mix(np.asarray(ycbcr, dtype=np.float64) - _OFFSET, _TO_RGB)
    return np.clip(np.round(rgb, out=rgb), 0, 255, out=rgb).astype(np.uint8)


def luma(image: np.ndarray, *, rgb: bool) -> np.ndarray:
    """The BT.601 luma (0-255 float64) of an RGB image, or the grey image itself as float64."""
    array = np.asarray(image, dtype=np.float64)
    return array @ _TO_YCBCR[0] if rgb else array


def chroma_magnitude(rgb: np.ndarray) -> np.ndarray:
    """The length of each pixel's (Cb, Cr) vector, 0-255 units, of ``(..., 3)`` RGB."""
    ycbcr = rgb_to_ycbcr(rgb)
    return np.hypot(ycbcr[..., 1] - 128.0, ycbcr[..., 2] - 128.0)


def _floor_for(need: np.ndarray, magnitude: np.ndarray, kept: float) -> float:
    """The smallest per-pixel chroma floor at which the coloured pixels keep ``kept`` of their
    summed chroma, when each keeps ``clip(need, floor, 1)`` of its own (bisection)."""
    coloured = magnitude >= COLOURED
    need, magnitude = need[coloured], magnitude[coloured]
    total = magnitude.sum()
    if total == 0 or (magnitude * need).sum() >= kept * total:
        return 0.0
    low, high = 0.0, 1.0
    for _ in range(16):
        mid = (low + high) / 2
        low, high = ((mid, high) if (magnitude * np.maximum(need, mid)).sum() < kept * total
                     else (low, mid))
    return high


def fuse_luma(fused_luma: np.ndarray, chroma_source: np.ndarray, *,
              kept: float = CHROMA_KEPT) -> np.ndarray:
    """Recombine a fused luma (0-255) with the Cb/Cr of an RGB ``chroma_source``; returns RGB uint8.

    Each pixel's chroma is scaled by the largest ``s <= 1`` at which the fused luma fits in the
    RGB cube, but never below a floor chosen so that the coloured pixels keep ``kept`` of their
    chroma on average; the luma is then moved into the range where that chroma exists: a luma
    already inside is kept, one outside takes its local mean (Gaussian, sigma 2 px) brought into
    the range with its local detail on top, then clipped. The hue never changes; the saturation
    gives way only where the anatomy needs luma the colour cannot have, and by ``1 - kept`` on
    average. Grey pixels of the source (no chroma) take the fused luma as it is; the work runs on
    the others only.
    """
    y = np.asarray(fused_luma, dtype=np.float64)
    source = np.asarray(chroma_source)
    tinted = (source[..., 0] != source[..., 1]) | (source[..., 1] != source[..., 2])
    if tinted.mean() > 0.5:  # mostly colour (a colormap's slice): every pixel, nothing gathered
        return ycbcr_to_rgb(_tinted_ycbcr(y, None, source.reshape(-1, 3), kept)).reshape(source.shape)
    rgb = np.empty((*y.shape, 3), np.uint8)
    for c in range(3):  # what ycbcr_to_rgb gives at zero chroma, for all pixels at once
        rgb[..., c] = np.clip(np.round(y * _TO_RGB[c, 0]), 0, 255)
    where = np.flatnonzero(tinted)
    if where.size:
        colours = source.reshape(-1, 3)[where]
        rgb.reshape(-1, 3)[where] = ycbcr_to_rgb(_tinted_ycbcr(y, where, colours, kept))
    return rgb


def _tinted_ycbcr(y: np.ndarray, where: np.ndarray | None, rgb: np.ndarray,
                  kept: float) -> np.ndarray:
    """YCbCr ``(n, 3)`` for :func:`fuse_luma` at the flat indices ``where`` of the luma ``y`` (None:
    every pixel), whose source colours are ``rgb (n, 3)``. A grey pixel comes out as its luma."""
    chroma = rgb_to_ycbcr(rgb)[:, 1:] - 128.0
    # R, G, B minus Y at full chroma, one array per channel (reductions over a trailing axis of 3
    # are several times slower in numpy than element-wise minima of three arrays)
    offsets = [chroma[:, 0] * _TO_RGB[c, 1] + chroma[:, 1] * _TO_RGB[c, 2] for c in range(3)]
    luma_here = y.ravel() if where is None else y.ravel()[where]
    with np.errstate(divide="ignore", invalid="ignore"):
        rooms = [np.where(o > 0, (255.0 - luma_here) / o, np.where(o < 0, luma_here / -o, np.inf))
                 for o in offsets]
    need = np.clip(np.minimum(np.minimum(rooms[0], rooms[1]), rooms[2]), 0.0, 1.0)
    scale = np.maximum(need, _floor_for(need, np.hypot(chroma[:, 0], chroma[:, 1]), kept))
    scaled = [o * scale for o in offsets]
    low = np.maximum(0.0, -np.minimum(np.minimum(scaled[0], scaled[1]), scaled[2]))
    high = np.minimum(255.0, 255.0 - np.maximum(np.maximum(scaled[0], scaled[1]), scaled[2]))
    out = np.empty((len(luma_here), 3))
    out[:, 0] = luma_here
    outside = np.flatnonzero((luma_here < low) | (luma_here > high))
    if outside.size:
        local = _local_mean(y, outside if where is None else where[outside])
        low, high, here = low[outside], high[outside], luma_here[outside]
        out[outside, 0] = np.clip(np.clip(local, low, high) + (here - local), low, high)
    out[:, 1:] = 128.0 + chroma * scale[:, None]
    return out


def _local_mean(y: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The Gaussian (sigma 2 px, reflected at the image's edges) local mean of the 2D ``y`` at its
    flat indices ``where``, filtered over their bounding box only (plus the filter's reach).

    Written in numpy rather than with scipy's ``gaussian_filter`` (the same values to 1e-13):
    importing ``scipy.ndimage`` takes 140 ms, a tenth of ``medfuse fuse --manifest`` on 100 pairs.
    """
    reach = len(_GAUSS_2PX) // 2
    rows, cols = np.unravel_index(where, y.shape)
    top, left = max(rows.min() - reach, 0), max(cols.min() - reach, 0)
    box = y[top:rows.max() + reach + 1, left:cols.max() + reach + 1]
    # a box that stops short of an image edge has every value it needs inside its margin
    local = _gaussian_pass(_gaussian_pass(np.pad(box, reach, mode="symmetric")).T).T
    return local[rows - top, cols - left]


def _gaussian_pass(padded: np.ndarray) -> np.ndarray:
    """``padded`` filtered along its first axis by ``_GAUSS_2PX``, losing the margin of its reach
    there (numpy's ``symmetric`` padding is scipy's ``reflect``)."""
    reach = len(_GAUSS_2PX) // 2
    height, last = padded.shape[0] - 2 * reach, 2 * reach
    out = padded[reach:reach + height] * _GAUSS_2PX[reach]
    for i in range(reach):  # the kernel is symmetric: one product per pair of taps
        out += (padded[i:i + height] + padded[last - i:last - i + height]) * _GAUSS_2PX[i]
    return out


def colormap_rgb(values: np.ndarray, name: str) -> np.ndarray:
    """RGB uint8 ``(..., 3)`` of ``values`` in [0, 1] through the matplotlib colormap ``name``."""
    from medfuse._optional import require

    table = require("matplotlib").colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    lut = np.round(table * 255.0).astype(np.uint8)
    return lut[np.clip(np.round(np.asarray(values) * 255.0), 0, 255).astype(np.intp)]


def colour_fused(fused: np.ndarray, functional: np.ndarray, colormap: str) -> np.ndarray:
    """RGB uint8 ``(..., 3)`` of a fused intensity in [0, 1]: its luma, and the chroma of the
    functional image (in [0, 1]) through ``colormap``; volumes slice by slice along axis 0, on two
    threads (numpy releases the GIL), with the memory of a few slices at a time."""
    if fused.ndim == 2:
        return fuse_luma(fused.astype(np.float64) * 255.0, colormap_rgb(functional, colormap))
    from concurrent.futures import ThreadPoolExecutor

    out = np.empty((*fused.shape, 3), np.uint8)

    def colour_slice(i: int) -> None:
        out[i] = colour_fused(fused[i], functional[i], colormap)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(colour_slice, range(len(fused))))
    return out

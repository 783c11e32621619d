"""BT.601 YCbCr conversions and luma fusion keeping chroma."""

from __future__ import annotations

import numpy as np

from medfuse.fusion.colour import fuse_luma, luma, rgb_to_ycbcr, ycbcr_to_rgb


def test_round_trip_every_colour_within_one_level() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    assert np.abs(ycbcr_to_rgb(rgb_to_ycbcr(rgb)).astype(int) - rgb).max() <= 1


def test_known_values_of_bt601() -> None:
    ycc = rgb_to_ycbcr(np.array([[255, 0, 0], [255, 255, 255]], np.uint8))
    np.testing.assert_allclose(ycc[0], [76.245, 84.972, 255.5], atol=0.01)
    np.testing.assert_allclose(ycc[1], [255.0, 128.0, 128.0], atol=1e-6)
    assert luma(np.array([[[0, 255, 0]]]), rgb=True)[0, 0] == np.float64(0.587 * 255)


def test_fusing_the_own_luma_gives_the_image_back() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    back = fuse_luma(luma(rgb, rgb=True), rgb)
    assert np.abs(back.astype(int) - rgb).max() <= 1
    muted = np.random.default_rng(2).integers(100, 150, (16, 16, 3)).astype(np.uint8)
    brighter = fuse_luma(np.full((16, 16), 140.0), muted)  # no clipping: chroma must survive
    np.testing.assert_allclose(rgb_to_ycbcr(brighter)[..., 0], 140.0, atol=1)
    np.testing.assert_allclose(rgb_to_ycbcr(brighter)[..., 1:], rgb_to_ycbcr(muted)[..., 1:], atol=1)

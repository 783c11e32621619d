"""``fuse_luma`` works on the source's tinted pixels only: grey pixels take the fused luma as it is,
and the local mean over a bounding box equals the whole image's Gaussian at every point asked."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from medfuse.fusion.colour import _local_mean, fuse_luma, ycbcr_to_rgb
from tests.conftest import real_data


def _harvard_pet() -> tuple[np.ndarray, np.ndarray]:
    from medfuse.fusion.training.dataset import modality_folders
    from medfuse.io import load

    mri_folder, pet_folder = modality_folders(real_data("fusion2d", "harvard", "PET-MRI"))
    return load(mri_folder / "41030.png").array, load(pet_folder / "41030.png").array


def test_grey_pixels_of_a_real_pet_take_the_fused_luma_and_tinted_ones_their_colour() -> None:
    mri, pet = _harvard_pet()
    grey = (pet[..., 0] == pet[..., 1]) & (pet[..., 1] == pet[..., 2])
    assert 0.05 < grey.mean() < 0.95  # black background and coloured uptake both present
    fused = fuse_luma(mri.astype(np.float64), pet)
    at_zero_chroma = ycbcr_to_rgb(np.stack([mri, np.full_like(mri, 128), np.full_like(mri, 128)],
                                           axis=-1).astype(np.float64))
    np.testing.assert_array_equal(fused[grey], at_zero_chroma[grey])
    tinted = fused[~grey].astype(int)
    assert np.mean(tinted.max(axis=1) - tinted.min(axis=1) > 8) > 0.5  # still in colour


def test_local_mean_over_a_box_equals_the_whole_images_gaussian() -> None:
    mri, _ = _harvard_pet()
    y = mri.astype(np.float64)
    whole = ndi.gaussian_filter(y, 2.0, mode="reflect")
    rng = np.random.default_rng(0)
    for rows, cols in (([0, 3, 5], [250, 255, 1]),  # at the image's edges (reflected there)
                       ([100, 120], [90, 140]),      # inside: the box stops short of every edge
                       (rng.integers(0, 256, 40), rng.integers(0, 256, 40))):
        where = np.ravel_multi_index((np.asarray(rows), np.asarray(cols)), y.shape)
        np.testing.assert_allclose(_local_mean(y, where), whole.ravel()[where], rtol=0, atol=1e-9)

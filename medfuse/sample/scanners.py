"""How each scanner sees the phantom: CT in HU, an MR T1-like image, an FDG-PET-like image in SUV.

Each function samples the phantom on the scanner's grid, through the scanner's pose (a 4x4 map from
the grid's points to phantom space), and adds that modality's blur, noise and artefacts.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medfuse.sample.phantom import Grid, Phantom, lookup

__all__ = ["ct_image", "mr_image", "pet_suv_image"]


def ct_image(classes: np.ndarray, rng: np.random.Generator, *, noise_hu: float = 12.0) -> np.ndarray:
    """CT in HU (int16) from the phantom's class codes on the CT grid (the phantom's own space):
    slight blur (partial volume), Gaussian noise, air clipped at -1024.

    Examples
    --------
    >>> classes = Phantom(0).render(Grid.centred((24, 20, 2), (8.0, 8.0, 5.0)))
    >>> ct = ct_image(classes, np.random.default_rng(0))
    >>> ct.dtype.name, int(ct.min()) >= -1024
    ('int16', True)
    """
    hu = lookup(classes, 0)
    hu = ndimage.gaussian_filter(hu, sigma=(0.3, 0.6, 0.6))
    hu += rng.normal(0.0, noise_hu, size=hu.shape).astype(np.float32)
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16)


def mr_image(phantom: Phantom, grid: Grid, rng: np.random.Generator, *,
             grid_to_phantom: np.ndarray | None = None, noise: float = 14.0) -> np.ndarray:
    """MR T1-like magnitude image (uint16): fat bright, bone dark, smooth bias field, Rician noise."""
    signal = lookup(phantom.render(grid, grid_to_phantom=grid_to_phantom), 1)
    signal = ndimage.gaussian_filter(signal, sigma=(0.4, 0.7, 0.7))
    z, y, x = (np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in grid.shape)
    bias = (1.0 + 0.22 * x[None, None, :] - 0.15 * y[None, :, None]
            - 0.12 * z[:, None, None] ** 2)
    signal *= bias
    real = signal + rng.normal(0.0, noise, size=signal.shape).astype(np.float32)
    imaginary = rng.normal(0.0, noise, size=signal.shape).astype(np.float32)
    return np.rint(np.hypot(real, imaginary)).astype(np.uint16)


def pet_suv_image(phantom: Phantom, grid: Grid, rng: np.random.Generator, *,
                  grid_to_phantom: np.ndarray | None = None, fwhm_mm: float = 6.5,
                  noise: float = 0.12) -> np.ndarray:
    """FDG-PET-like SUV image (float32): sampled at twice the resolution, blurred by the scanner's
    point spread function (``fwhm_mm``), averaged into the grid's voxels, with signal-dependent
    noise (standard deviation ``noise * sqrt(SUV)``)."""
    fine = grid.refined(2)
    suv = lookup(phantom.render(fine, grid_to_phantom=grid_to_phantom), 2)
    sigma = [fwhm_mm / 2.3548 / s for s in fine.spacing[::-1]]
    suv = ndimage.gaussian_filter(suv, sigma=sigma)
    nz, ny, nx = grid.shape
    suv = suv.reshape(nz, 2, ny, 2, nx, 2).mean(axis=(1, 3, 5))
    suv += noise * np.sqrt(suv) * rng.normal(size=suv.shape).astype(np.float32)
    return np.clip(suv, 0.0, None).astype(np.float32)

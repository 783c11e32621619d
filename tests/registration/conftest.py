"""Small real volumes for registration tests: SPM12 templates binned to 4 mm."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medfuse.io import load
from medfuse.registration.search import binned
from medfuse.registration.transforms import affine_matrix
from medfuse.volume import Volume
from tests.conftest import real_data


def spm(name: str, modality: str = "MR") -> Volume:
    """An SPM12 OldNorm template binned to 4 mm (about 45 x 54 x 45 voxels)."""
    path = real_data("volumes", "spm12_templates", "OldNorm", f"{name}.nii")
    return binned(load(path, modality=modality), 4.0)


def perturbed(moving: Volume, t: sitk.Transform) -> Volume:
    """``moving`` re-placed so that its value at y is the original's at t(y) (no resampling)."""
    m = np.linalg.inv(affine_matrix(t))
    a, b = m[:3, :3], m[:3, 3]
    return Volume(moving.array, spacing=moving.spacing,
                  origin=tuple(a @ np.asarray(moving.origin) + b),
                  direction=a @ moving.direction, modality=moving.modality, units=moving.units)


@pytest.fixture(scope="session")
def t1() -> Volume:
    return spm("T1")


@pytest.fixture(scope="session")
def t2() -> Volume:
    return spm("T2")

"""GUI test helpers: skip without a display, small synthetic CT (1 mm) and PET (4 mm) of one body."""

from __future__ import annotations

import os

import numpy as np
import pytest

from medfuse.volume import Volume

#: a hot sphere and a dense marker share this LPS world point (mm) in both volumes
HOT_POINT_LPS = (12.0, -8.0, 20.0)

needs_display = pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="GUI test needs a display with OpenGL: run under xvfb-run (see Makefile `test`)",
)


def _ball(shape: tuple[int, int, int], volume: Volume, point, radius_mm: float) -> np.ndarray:
    idx = volume.world_to_index([point])[0]  # x, y, z
    z, y, x = np.indices(shape)
    d = ((x - idx[0]) * volume.spacing[0]) ** 2 + ((y - idx[1]) * volume.spacing[1]) ** 2 + (
        (z - idx[2]) * volume.spacing[2]) ** 2
    return d <= radius_mm**2


@pytest.fixture
def ct_pet() -> tuple[Volume, Volume]:
    """A CT on a 1 mm grid and a PET on a 4 mm grid with other origins, one hot spot in both."""
    return make_ct_pet()


def make_ct_pet() -> tuple[Volume, Volume]:
    """The volumes of the ``ct_pet`` fixture."""
    ct = Volume(np.full((64, 96, 96), -1000, np.int16), spacing=(1.0, 1.0, 1.0),
                origin=(-40.0, -50.0, -10.0), modality="CT", units="HU",
                meta={"description": "ct"})
    body = _ball(ct.array.shape, ct, (8.0, -2.0, 22.0), 40.0)
    ct.array[body] = 40
    ct.array[_ball(ct.array.shape, ct, HOT_POINT_LPS, 4.0)] = 900
    pet = Volume(np.zeros((20, 30, 30), np.float32), spacing=(4.0, 4.0, 4.0),
                 origin=(-48.0, -60.0, -18.0), modality="PT", units="SUVbw",
                 meta={"description": "pet"})
    pet.array[_ball(pet.array.shape, pet, (8.0, -2.0, 22.0), 40.0)] = 1.0
    pet.array[_ball(pet.array.shape, pet, HOT_POINT_LPS, 8.0)] = 12.0
    return ct, pet

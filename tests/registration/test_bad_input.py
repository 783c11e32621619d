"""Bad input: one-line RegistrationError naming the input and why."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.errors import RegistrationError
from medfuse.registration import read_landmarks, register
from medfuse.volume import Volume

RNG = np.random.default_rng(0)


def _vol(shape=(12, 12, 12), **kw):
    return Volume(RNG.random(shape).astype(np.float32), **kw)


@pytest.mark.parametrize(("fixed", "moving", "match"), [
    (_vol(), _vol((12, 12)), "cannot register a 2D moving image to a 3D fixed image"),
    (_vol(), Volume(np.full((12, 12, 12), 3.0)), "moving image is constant"),
    (Volume(np.where(RNG.random((12, 12, 12)) > 0.5, np.nan, 1.0)), _vol(), "fixed image contains NaN"),
    (_vol(), _vol((2, 12, 12)), "only 2 voxels along one axis"),
])
def test_bad_images(fixed, moving, match):
    with pytest.raises(RegistrationError, match=match):
        register(fixed, moving)


def test_mask_on_the_wrong_grid():
    with pytest.raises(RegistrationError, match="fixed mask .* is not on the fixed image grid"):
        register(_vol(), _vol(), fixed_mask=Volume(np.ones((10, 12, 12), np.uint8)))


def test_empty_mask():
    with pytest.raises(RegistrationError, match="moving mask selects 0 voxels"):
        register(_vol(), _vol(), moving_mask=Volume(np.zeros((12, 12, 12), np.uint8)))


def test_fewer_than_three_landmarks(tmp_path):
    path = tmp_path / "lm.csv"
    path.write_text("xf,yf,zf,xm,ym,zm\n0,0,0,1,1,1\n5,0,0,6,1,1\n")
    with pytest.raises(RegistrationError, match=r"lm\.csv: 2 landmark pairs given; at least 3"):
        read_landmarks(path)


def test_landmark_json(tmp_path):
    path = tmp_path / "lm.json"
    path.write_text('{"fixed": [[0,0,0],[9,0,0],[0,9,0]], "moving": [[1,0,0],[10,0,0],[1,9,0]]}')
    fixed, moving = read_landmarks(path)
    assert fixed.shape == moving.shape == (3, 3)


def test_parameter_file_that_elastix_rejects(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text('(Transform "NoSuchTransform")\n(Metric "AdvancedMattesMutualInformation")\n')
    with pytest.raises(RegistrationError, match=r"elastix failed with this parameter file .*bad\.txt"):
        register(_vol(), _vol(), params=path, search=False)


def test_preset_and_params_together(tmp_path):
    with pytest.raises(RegistrationError, match="either a preset or parameter files"):
        register(_vol(), _vol(), preset="rigid", params=tmp_path / "x.txt")


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_elastix_cannot_take(seed):
    with pytest.raises(RegistrationError, match=f"seed {seed} is not between 0 and 4294967295"):
        register(_vol(), _vol(), seed=seed)

"""Checkerboard and difference views of two images on one grid."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.errors import GeometryError
from medfuse.quantify.compare import checker_mask, checkerboard, difference


@pytest.mark.parametrize("shape", [(16, 16), (6, 16, 16), (5, 7, 9)])
def test_checkerboard_takes_each_tile_from_one_image(shape):
    a, b = np.zeros(shape), np.ones(shape)
    board = checkerboard(a, b, squares=4)
    assert board.dtype == np.float32
    assert set(np.unique(board)) == {0.0, 1.0}
    # about half the voxels from each image
    assert 0.3 < board.mean() < 0.7


def test_checker_mask_alternates_in_every_plane():
    mask = checker_mask((8, 8, 8), squares=2)
    for plane in (mask[0], mask[:, 0], mask[:, :, 0]):
        assert plane[0, 0] != plane[0, -1]
        assert plane[0, 0] != plane[-1, 0]
        assert plane[0, 0] == plane[-1, -1]


def test_checkerboard_keeps_values():
    a = np.arange(64, dtype=np.int16).reshape(8, 8)
    board = checkerboard(a, -a, squares=8)
    assert np.array_equal(np.abs(board), a)


def test_difference_is_signed():
    a, b = np.full((3, 3), 5, np.int16), np.full((3, 3), 7, np.int16)
    assert difference(a, b).tolist() == [[-2.0] * 3] * 3


@pytest.mark.parametrize("func", [checkerboard, difference])
def test_mismatched_shapes_are_refused(func):
    with pytest.raises(GeometryError, match=r"share one grid.*\(4, 4\) and \(4, 5\)"):
        func(np.zeros((4, 4)), np.zeros((4, 5)))


def test_squares_must_be_positive():
    with pytest.raises(ValueError, match="squares must be at least 1, not 0"):
        checkerboard(np.zeros((4, 4)), np.zeros((4, 4)), squares=0)

"""Classical baselines on small arrays: exact cases and properties."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.fusion.classical import average, gff, laplacian, maximum


@pytest.fixture
def pair() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((32, 40)).astype(np.float32), rng.random((32, 40)).astype(np.float32)]


def test_average_and_maximum(pair: list[np.ndarray]) -> None:
    np.testing.assert_allclose(average(pair), (pair[0] + pair[1]) / 2)
    np.testing.assert_array_equal(maximum(pair), np.maximum(*pair))


@pytest.mark.parametrize("method", [laplacian, gff])
def test_identical_inputs_come_back_unchanged(method, pair: list[np.ndarray]) -> None:  # noqa: ANN001
    np.testing.assert_allclose(method([pair[0], pair[0]]), pair[0], atol=1e-5)


@pytest.mark.parametrize("shape", [(33, 47), (9, 20, 18)])
def test_laplacian_keeps_shape_in_2d_and_3d(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random(shape), rng.random(shape)
    assert laplacian([a, b]).shape == shape
    assert gff([a, b], base_radius=2, r1=3, r2=1).shape == shape


def test_laplacian_keeps_the_stronger_detail() -> None:
    a = np.zeros((32, 32))
    a[:, 16:] = 1.0  # an edge
    b = np.full((32, 32), 0.5)  # flat
    fused = laplacian([a, b])
    assert fused[:, 17:].mean() - fused[:, :15].mean() > 0.75  # averaging would give 0.5

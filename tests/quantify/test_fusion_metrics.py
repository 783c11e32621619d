"""Each fusion metric against values computed by hand on small arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medfuse.quantify import fusion_metrics as fm

HALF = np.array([[0.0, 255.0], [0.0, 255.0]])
RAMP = np.array([[0.0, 1.0], [2.0, 3.0]])


@pytest.fixture
def texture() -> np.ndarray:
    return np.round(np.random.default_rng(0).random((48, 48)) * 255)


def test_entropy_of_two_and_four_levels() -> None:
    assert fm.entropy(HALF) == pytest.approx(1.0)
    assert fm.entropy(np.array([[0, 10], [20, 30]])) == pytest.approx(2.0)
    assert fm.entropy(np.full((3, 3), 7.0)) == 0.0


def test_sd_sf_ag_by_hand() -> None:
    assert fm.standard_deviation(np.array([[0.0, 2.0]])) == pytest.approx(1.0)
    # row differences are 1, column differences 2: sqrt(1 + 4)
    assert fm.spatial_frequency(RAMP) == pytest.approx(math.sqrt(5.0))
    # central/one-sided gradients gx = 1, gy = 2 everywhere: sqrt((1 + 4) / 2)
    assert fm.average_gradient(RAMP) == pytest.approx(math.sqrt(2.5))


def test_mutual_information_bits_and_nats() -> None:
    # F = A = B, two equiprobable levels: 1 bit each
    assert fm.mutual_information(HALF, HALF, HALF) == pytest.approx(2.0)
    assert fm.mutual_information(HALF, HALF, HALF, bits=False) == pytest.approx(2 * math.log(2))
    assert fm.mutual_information(HALF, HALF, np.full((2, 2), 9.0)) == pytest.approx(1.0)


def test_scd_cc_psnr_by_hand(texture: np.ndarray) -> None:
    other = texture.T.copy()
    # F - B = A and F - A = B: both correlations are 1
    assert fm.scd(texture + other, texture, other) == pytest.approx(2.0)
    assert fm.correlation_coefficient(texture, texture, texture) == pytest.approx(1.0)
    f = np.array([[100.0, 200.0]])
    assert fm.psnr(f, f, f + 10) == pytest.approx(10 * math.log10(200.0**2 / 50.0))


def test_ssim_identical_and_constant_images(texture: np.ndarray) -> None:
    assert fm.ssim_sum(texture, texture, texture) == pytest.approx(2.0)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 50 + c1) / (100**2 + 50**2 + c1)
    assert fm.ssim(np.full((10, 10), 100.0), np.full((10, 10), 50.0)) == pytest.approx(expected)


def test_vif_identity_and_flat(texture: np.ndarray) -> None:
    assert fm.vif(texture, texture) == pytest.approx(1.0)
    assert fm.vif(texture, np.zeros_like(texture)) == pytest.approx(0.0, abs=1e-12)
    assert fm.vif_sum(texture, texture, texture) == pytest.approx(2.0)


def test_qabf_by_hand(texture: np.ndarray) -> None:
    orientation = 0.9879 / (1 + math.exp(-22 * 0.2))  # same edge angle: 1 - 0 = 1
    # the evaluator keeps the fused strength (>> 1) where strengths are equal: Qg saturates at Tg
    assert fm.qabf(texture, texture, texture) == pytest.approx(0.9994 * orientation)
    # half the edge strength: relative strength 0.5, Qg = Tg / (1 + e^0) = Tg / 2
    assert fm.qabf(texture / 2, texture, texture) == pytest.approx(0.9994 / 2 * orientation)
    assert fm.qabf(np.zeros((5, 5)), np.zeros((5, 5)), np.zeros((5, 5))) == 0.0


def test_fusion_metrics_table_and_errors(texture: np.ndarray) -> None:
    values = fm.fusion_metrics(texture, texture, texture)
    assert tuple(values) == fm.METRICS
    assert values["MI"] == pytest.approx(values["MI_nats"] / math.log(2))
    with pytest.raises(ValueError, match="share one shape"):
        fm.fusion_metrics(texture, texture[:10], texture)
    with pytest.raises(ValueError, match="2D luma"):
        fm.entropy(np.zeros((2, 2, 3)))

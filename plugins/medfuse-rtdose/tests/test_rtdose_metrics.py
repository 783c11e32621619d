"""Dose statistics per ROI: DVH points on known distributions and on pydicom's real RT Dose."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.errors import GeometryError, InputError
from medfuse.volume import Volume
from medfuse_rtdose import dose_statistics, read_rtdose

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI")


def _ramp(units: str = "Gy") -> Volume:
    """1000 voxels of 2 mm with doses 0.0, 0.05, ..., 49.95 Gy (one per voxel, shuffled)."""
    values = np.random.default_rng(0).permutation(np.arange(1000) * 0.05).astype(np.float32)
    return Volume(values.reshape(10, 10, 10), spacing=(2.0, 2.0, 2.0), modality="RTDOSE", units=units)


def test_points_of_a_uniform_dose_distribution() -> None:
    dose = _ramp()
    stats = dose_statistics(dose, dose.with_array(np.ones((10, 10, 10), np.uint8)))
    assert stats["Dmax"] == pytest.approx(49.95) and stats["Dmin"] == 0.0
    assert stats["Dmean"] == pytest.approx(24.975, abs=1e-4)
    # the hottest 95 % of the voxels receive at least the 5th percentile: 2.4975 Gy
    assert stats["D95"] == pytest.approx(np.percentile(np.arange(1000) * 0.05, 5), abs=1e-4)
    assert stats["V20Gy"] == pytest.approx(60.0)  # 600 of 1000 voxels at 20 Gy or more
    assert stats["volume_cc"] == pytest.approx(8.0) and stats["n_voxels"] == 1000


def test_only_the_roi_counts_and_extra_points() -> None:
    dose = _ramp()
    mask = np.zeros((10, 10, 10), np.uint8)
    mask[dose.array >= 40.0] = 3  # any non-zero label
    stats = dose_statistics(dose, dose.with_array(mask), coverage=(95, 50), thresholds_gy=(20, 45))
    assert stats["Dmin"] == pytest.approx(40.0) and stats["V20Gy"] == 100.0
    assert stats["V45Gy"] == pytest.approx(50.0)
    assert stats["D50"] == pytest.approx(np.median(np.arange(800, 1000) * 0.05), abs=1e-4)


def test_relative_dose_has_no_volume_at_gray_thresholds() -> None:
    dose = _ramp(units="%")
    stats = dose_statistics(dose, dose.with_array(np.ones((10, 10, 10), np.uint8)))
    assert stats["units"] == "%" and stats["V20Gy"] is None


def test_mask_on_a_finer_grid_resamples_the_dose(rtdose_path) -> None:
    dose = read_rtdose(rtdose_path)
    # a 5 mm mask over dose voxels 3..6 in x and y, planes 4..9 (dose grid: 10 x 10 x 5 mm)
    box = Volume(np.ones((6, 7, 7), np.uint8), spacing=(5.0, 5.0, 5.0),
                 origin=tuple(dose.index_to_world([[3, 3, 4]])[0]))
    stats = dose_statistics(dose, box)
    inside = dose.array[4:10, 3:7, 3:7]
    assert stats["Dmax"] <= inside.max() + 1e-3 and stats["Dmin"] >= inside.min() - 1e-3
    assert stats["Dmean"] == pytest.approx(inside.mean(), rel=0.02)
    assert stats["volume_cc"] == pytest.approx(6 * 7 * 7 * 0.125)


def test_empty_mask_and_dimension_mismatch_are_clear_errors() -> None:
    dose = _ramp()
    with pytest.raises(InputError, match="selects no voxel"):
        dose_statistics(dose, dose.with_array(np.zeros((10, 10, 10), np.uint8)))
    with pytest.raises(GeometryError, match="dose is 3D but the mask is 2D"):
        dose_statistics(dose, Volume(np.ones((10, 10), np.uint8)))

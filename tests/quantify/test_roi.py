"""ROI statistics: hand-computed synthetic cases, masks on other grids, and the real STS PET/CT."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.errors import GeometryError
from medfuse.io import load
from medfuse.quantify.roi import map_mask, roi_statistics, sphere_offsets
from medfuse.volume import Volume
from tests.conftest import real_data


def _pet() -> tuple[Volume, Volume]:
    """A 2 mm PET with a hot cube; the ROI is a 4x4x4 block around it."""
    array = np.ones((12, 12, 12), np.float32)
    array[4:8, 4:8, 4:8] = 4.0
    array[6, 6, 6] = 10.0
    pet = Volume(array, spacing=(2.0, 2.0, 2.0), modality="PT", units="SUVbw")
    mask = np.zeros(array.shape, np.uint8)
    mask[3:9, 3:9, 3:9] = 1
    return pet, pet.with_array(mask, modality="SEG", units="label")


def test_pet_statistics_by_hand() -> None:
    pet, mask = _pet()
    s = roi_statistics(pet, mask, labels={1: "lesion"})[0]
    roi = pet.array[3:9, 3:9, 3:9]
    assert s["name"] == "lesion" and s["units"] == "SUVbw" and s["voxel_count"] == 216
    assert s["volume_ml"] == pytest.approx(216 * 0.008)
    assert s["suv_max"] == 10.0 and s["suv_mean"] == pytest.approx(roi.mean())
    assert s["sd"] == pytest.approx(roi.std())
    # the 6.2 mm sphere on a 2 mm grid: offsets with (2i)^2+(2j)^2+(2k)^2 <= 6.2^2
    offsets = sphere_offsets(pet.spacing, 6.2)
    assert len(offsets) == 123
    values = [pet.array[6 + dz, 6 + dy, 6 + dx] for dz, dy, dx in offsets]
    assert s["suv_peak"] == pytest.approx(np.mean(values))
    assert s["suv_max_index"] == [6, 6, 6]
    assert s["suv_peak_search"] >= s["suv_peak"]
    # 41 % of 10 = 4.1: only the hottest voxel; SUV >= 2.5: the 64 voxels of the cube
    assert s["mtv_ml"] == s["mtv41_ml"] == pytest.approx(0.008)
    assert s["tlg"] == pytest.approx(10.0 * 0.008)
    assert s["mtv25_ml"] == pytest.approx(64 * 0.008)
    assert s["tlg25"] == pytest.approx((63 * 4.0 + 10.0) / 64 * 64 * 0.008)


def test_suv_peak_search_finds_the_hottest_sphere() -> None:
    array = np.zeros((18, 18, 18), np.float32)
    array[3, 3, 3] = 20.0  # a lone hot voxel
    array[8:15, 8:15, 8:15] = 8.0  # a hot blob, a hotter sphere mean
    pet = Volume(array, spacing=(2.0, 2.0, 2.0), modality="PT", units="SUVbw")
    s = roi_statistics(pet, pet.with_array(np.ones(array.shape, np.uint8)))[0]
    assert s["suv_max_index"] == [3, 3, 3] and s["suv_peak"] < 1.0
    assert s["suv_peak_search"] == pytest.approx(8.0) and s["suv_peak_search_index"] == [11, 11, 11]


def test_ct_entries_and_empty_label() -> None:
    ct = Volume(np.arange(64, dtype=np.int16).reshape(4, 4, 4), spacing=(1.0, 1.0, 2.0),
                modality="CT", units="HU")
    mask = ct.with_array((ct.array < 32).astype(np.uint8), meta={"labels": {1: "low", 2: "none"}})
    low, none = roi_statistics(ct, mask)
    assert low["name"] == "low" and low["hu_mean"] == pytest.approx(15.5)
    assert low["hu_sd"] == pytest.approx(np.arange(32).std()) and low["min"] == 0 and low["max"] == 31
    assert "suv_max" not in low
    assert none["voxel_count"] == 0 and none["mean"] is None


def test_pet_not_in_suv_has_empty_pet_entries() -> None:
    pet, mask = _pet()
    bq = pet.with_array(pet.array * 5000, units="BQML")
    s = roi_statistics(bq, mask)[0]
    assert s["suv_max"] is None and s["tlg"] is None and s["max"] == 50000.0


def test_mask_on_finer_grid_is_mapped_by_position() -> None:
    pet, mask = _pet()
    # the same ROI drawn on a 1 mm grid (voxel centres offset by half a PET... placed in world mm)
    fine = Volume(np.zeros((24, 24, 24), np.uint8), spacing=(1.0, 1.0, 1.0), origin=(-0.5,) * 3)
    fine.array[6:18, 6:18, 6:18] = 1
    mapped = map_mask(fine, pet)
    assert mapped.same_grid(pet)
    assert np.array_equal(mapped.array > 0, mask.array > 0)
    assert roi_statistics(pet, fine)[0]["suv_peak"] == roi_statistics(pet, mask)[0]["suv_peak"]


def test_mask_through_a_transform() -> None:
    import SimpleITK as sitk

    pet, mask = _pet()
    shifted = mask.with_array(np.roll(mask.array, 2, axis=2))  # drawn 4 mm further along x
    moved = sitk.TranslationTransform(3, (4.0, 0.0, 0.0))  # PET point -> mask point
    s = roi_statistics(pet, shifted, transform=moved)[0]
    assert s["voxel_count"] == 216 and s["suv_max"] == 10.0


def test_bad_inputs() -> None:
    pet, mask = _pet()
    flat = Volume(np.ones((12, 12), np.uint8))
    with pytest.raises(GeometryError, match="2D mask cannot be mapped onto a 3D"):
        roi_statistics(pet, flat)
    rgb = Volume(np.zeros((12, 12, 3), np.uint8), meta={"rgb": True})
    with pytest.raises(GeometryError, match="scalar volume, not an RGB"):
        roi_statistics(rgb, flat)


@pytest.mark.parametrize("patient", ["STS_001", "STS_002"])
def test_ct_mask_gives_pet_statistics_on_the_pet_grid(patient: str) -> None:
    folder = real_data("volumes", "sts", patient)
    pet = load(folder / "PET" / "nifti" / "image" / "image.nii.gz", modality="PT", units="SUVbw")
    pet_mask = load(folder / "PET" / "nifti" / "mask" / "mask.nii.gz")
    ct_mask = load(folder / "CT" / "nifti" / "mask" / "mask.nii.gz")
    own = roi_statistics(pet, pet_mask)[0]
    mapped = roi_statistics(pet, ct_mask)[0]
    assert mapped["voxel_count"] == pytest.approx(own["voxel_count"], rel=0.02)
    assert mapped["suv_max"] == own["suv_max"]
    for key in ("suv_mean", "suv_peak", "mtv_ml", "tlg", "mtv25_ml"):
        assert mapped[key] == pytest.approx(own[key], rel=0.02), key
    # independent recomputation of the headline numbers on the PET's own voxels
    values = pet.array[pet_mask.array > 0].astype(np.float64)
    assert own["suv_max"] == pytest.approx(values.max())
    assert own["mtv_ml"] == pytest.approx((values >= 0.41 * values.max()).sum()
                                          * np.prod(pet.spacing) / 1000)

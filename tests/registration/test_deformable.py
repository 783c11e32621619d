"""Deformable registration on real images: a known warp recovered, no harm where nothing moved,
and a deformable result that goes wherever a rigid one goes (files, resampling, label maps)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from medfuse.io import load
from medfuse.registration import register
from medfuse.registration.synthetic import deformed_pair, displacement
from medfuse.volume import Volume
from tests.conftest import real_data


def _anatomy(volume: Volume) -> np.ndarray:
    return volume.array > 0.1 * np.percentile(volume.array, 99)


@pytest.fixture(scope="module")
def sarcoma_mr() -> Volume:
    """The STS_002 MR T1: a real 0.98 x 0.98 x 3.3 mm image, 115 x 90 x 35 voxels."""
    return load(real_data("volumes", "sts", "STS_002", "MR_T1", "nifti", "image", "image.nii.gz"),
                modality="MR")


@pytest.fixture(scope="module")
def warped(sarcoma_mr):
    case = deformed_pair(sarcoma_mr, _anatomy(sarcoma_mr), seed=1, mean_mm=4.0)
    return case, register(case.fixed, case.moving, preset="bspline")


def _moved_mm(transform: sitk.Transform, reference: sitk.Transform, grid: Volume,
              mask: np.ndarray) -> np.ndarray:
    return np.linalg.norm(displacement(transform, grid) - displacement(reference, grid),
                          axis=-1)[mask]


def test_a_known_smooth_warp_is_recovered_without_folding(warped):
    case, result = warped
    before = _moved_mm(case.truth, sitk.Transform(3, sitk.sitkIdentity), case.fixed, case.anatomy)
    after = _moved_mm(result.transform, case.truth, case.fixed, case.anatomy)
    assert before.mean() == pytest.approx(4.0, abs=0.1)
    assert after.mean() < 0.5  # 3.9 mm -> 0.27 mm (benchmarks/results_deformable.md)
    assert result.metrics["folding_fraction"] == 0 and result.metrics["jacobian_min"] > 0.3
    assert result.warnings == []


def test_no_harm_where_nothing_moved(sarcoma_mr):
    """The real image against a contrast-changed, noisy copy of itself: the deformable preset
    moves the anatomy less than 0.5 mm on average."""
    case = deformed_pair(sarcoma_mr, _anatomy(sarcoma_mr), seed=2, mean_mm=0.0)
    result = register(case.fixed, case.moving, preset="rigid_affine_bspline")
    moved = _moved_mm(result.transform, sitk.Transform(3, sitk.sitkIdentity), case.fixed,
                      case.anatomy)
    assert moved.mean() < 0.5
    assert result.metrics["folding_fraction"] == 0


def test_the_deformation_is_found_on_the_finest_grid_both_images_have(sarcoma_mr, monkeypatch):
    from medfuse.registration import _elastix

    runs = []
    run = _elastix.run

    def recording(fixed, moving, maps, **kw):
        runs.append((maps[0]["Transform"][0], tuple(fixed.GetLargestPossibleRegion().GetSize())))
        return run(fixed, moving, maps, **kw)

    monkeypatch.setattr(_elastix, "run", recording)
    register(sarcoma_mr, sarcoma_mr, preset="bspline")
    assert runs[-1] == ("BSplineTransform", tuple(sarcoma_mr.size))  # 0.98 mm: not binned
    assert ("EulerTransform", tuple(sarcoma_mr.size)) not in runs[:1]  # the search: 8 mm


def test_saved_deformable_transform_reads_back_and_applies_like_the_result(warped, tmp_path):
    case, result = warped
    written = result.save(tmp_path / "out")
    assert {"transform", "jacobian", "metrics"} <= set(written)
    back = sitk.ReadTransform(str(written["transform"]))
    assert isinstance(back.Downcast(), sitk.CompositeTransform)
    points = case.fixed.index_to_world(np.argwhere(case.anatomy)[::997, ::-1].astype(float))
    np.testing.assert_allclose([back.TransformPoint(tuple(p)) for p in points],
                               result.to_moving(points), atol=1e-6)
    resampled = sitk.Resample(case.moving.to_sitk(), case.fixed.to_sitk(), back, sitk.sitkLinear)
    np.testing.assert_allclose(sitk.GetArrayFromImage(resampled), result.apply(case.moving).array,
                               atol=1e-3)
    np.testing.assert_allclose(result.to_fixed(result.to_moving(points)), points, atol=1e-3)


def test_the_jacobian_map_is_saved_beside_the_transform(warped, tmp_path):
    case, result = warped
    written = result.save(tmp_path / "out")
    jacobian = load(written["jacobian"])
    metrics = json.loads(written["metrics"].read_text())
    assert jacobian.array.min() > 0 and jacobian.array.max() > 1 > jacobian.array.min()
    centre = case.fixed.center()
    assert np.abs(np.asarray(jacobian.center()) - centre).max() < 2.0  # the fixed image's box
    assert metrics["jacobian_min"] == pytest.approx(float(jacobian.array.min()), abs=0.1)


def test_a_label_map_is_carried_by_the_deformation_nearest(warped):
    case, result = warped
    labels = case.moving.with_array(_anatomy(case.moving).astype(np.uint8) * 5)
    out = result.apply(labels, label=True)
    assert set(np.unique(out.array)) <= {0, 5} and out.same_grid(case.fixed)


def test_a_rigid_result_saves_no_jacobian_map(sarcoma_mr, tmp_path):
    result = register(sarcoma_mr, sarcoma_mr, preset="rigid")
    assert not result.is_deformable and "jacobian" not in result.save(tmp_path / "rigid")

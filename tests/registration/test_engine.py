"""register(): recovery of known perturbations, agreement with a direct elastix call, results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from medfuse.registration import RegistrationCancelled, register
from medfuse.registration.quality import sample_points, tre_against_truth
from medfuse.registration.transforms import compose
from medfuse.volume import Volume
from tests.registration.conftest import perturbed

TRUTH = sitk.Euler3DTransform((0.0, 0.0, 0.0), np.radians(12), np.radians(-9), np.radians(10),
                              (14.0, -12.0, 9.0))


def _tre(result, truth, fixed):
    points = sample_points(fixed, fixed.array > 0.2 * fixed.array.max(), n=500)
    return float(np.median(tre_against_truth(compose([truth, result.transform]),
                                             sitk.Euler3DTransform(), points)))


@pytest.fixture(scope="module")
def t2_result(t1, t2):
    steps = []
    a = TRUTH.GetParameters()
    truth = sitk.Euler3DTransform(tuple(t1.center()), *a[:3], a[3:])
    result = register(t1, perturbed(t2, truth), progress=lambda *a: steps.append(a))
    return result, truth, steps


def test_recovers_a_known_rigid_perturbation(t1, t2_result):
    result, truth, steps = t2_result
    assert _tre(result, truth, t1) < 2.0
    assert steps[-1][0] == steps[-1][1] and steps[-1][2] == "done"
    assert result.metrics["mi_after"] > result.metrics["mi_before"]
    assert result.warnings == []


def test_matches_a_direct_itk_elastix_call(t1, t2):
    """Same inputs and parameter map: our register() and itk.elastix_registration_method agree."""
    import itk

    from medfuse.registration import _elastix
    from medfuse.registration.transforms import chain_to_sitk

    moving = perturbed(t2, sitk.Euler3DTransform(tuple(t1.center()), 0.1, 0.05, -0.08, (6, 4, -5)))
    pm = _elastix.default_map("rigid")
    pm.update(WriteResultImage=["false"], MaximumNumberOfIterations=["150"])
    po = itk.ParameterObject.New()
    po.AddParameterMap(itk.ParameterObject.New().GetDefaultParameterMap("rigid"))
    po.SetParameterMap(0, {k: tuple(v) for k, v in pm.items()})
    _, direct = itk.elastix_registration_method(t1.to_itk(), moving.to_itk(), parameter_object=po)
    direct_t = chain_to_sitk([{k: list(v) for k, v in dict(direct.GetParameterMap(0)).items()}])
    ours = register(t1, moving, params=[pm], search=False, init="none")
    points = sample_points(t1, t1.array > 0.2 * t1.array.max(), n=500)
    assert np.median(tre_against_truth(ours.transform, direct_t, points)) < 0.5


def test_a_one_level_rigid_map_with_the_search_runs_on_the_working_grid(t1, t2, monkeypatch):
    """After the start search, a user's single-level Euler map is refined on the 2 mm images."""
    from medfuse.registration import _elastix

    sizes = []
    run = _elastix.run

    def recording(fixed, moving, maps, **kw):
        sizes.append(tuple(fixed.GetLargestPossibleRegion().GetSize()))
        return run(fixed, moving, maps, **kw)

    monkeypatch.setattr(_elastix, "run", recording)
    pm = _elastix.default_map("rigid")
    pm.update(WriteResultImage=["false"], NumberOfResolutions=["1"])
    truth = sitk.Euler3DTransform(tuple(t1.center()), 0.1, 0.05, -0.08, (6.0, 4.0, -5.0))
    result = register(t1, perturbed(t2, truth), params=[pm])
    assert sizes[-1] == tuple(t1.size)  # the SPM T1 is on a 2 mm grid: binning keeps it
    assert _tre(result, truth, t1) < 2.0


@pytest.mark.parametrize("search", [True, False])
def test_rigid_mi_runs_plain_mi_on_the_finest_level_only(t1, t2, monkeypatch, search):
    """With the search, each level runs its one metric; without it, elastix weighs both."""
    from medfuse.registration import _elastix

    metrics = []
    run = _elastix.run

    def recording(fixed, moving, maps, **kw):
        metrics.append(maps[0]["Metric"])
        return run(fixed, moving, maps, **kw)

    monkeypatch.setattr(_elastix, "run", recording)
    truth = sitk.Euler3DTransform(tuple(t1.center()), 0.1, 0.05, -0.08, (6.0, 4.0, -5.0))
    result = register(t1, perturbed(t2, truth), preset="rigid_mi", search=search)
    if search:
        assert metrics[-2:] == [["NormalizedMutualInformation"], ["AdvancedMattesMutualInformation"]]
        assert all(m == ["NormalizedMutualInformation"] for m in metrics[:-1])
    else:
        assert metrics == [["NormalizedMutualInformation", "AdvancedMattesMutualInformation"]]
    assert _tre(result, truth, t1) < 2.0


def test_saved_transform_reads_back_and_maps_points_like_the_result(t2_result, tmp_path):
    result = t2_result[0]
    written = result.save(tmp_path / "out")
    assert {p.name for p in written.values()} >= {"transform.tfm", "metrics.json",
                                                  "TransformParameters.0.txt"}
    back = sitk.ReadTransform(str(tmp_path / "out" / "transform.tfm"))
    points = [[10.0, -20.0, 30.0], [-40.0, 5.0, 0.0]]
    np.testing.assert_allclose([back.TransformPoint(p) for p in points], result.to_moving(points),
                               atol=1e-6)
    np.testing.assert_allclose(result.to_fixed(result.to_moving(points)), points, atol=1e-6)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["preset"] == "rigid_mi" and "mi_after" in metrics  # MR onto MR


def test_labels_are_resampled_nearest(t1, t2_result):
    result = t2_result[0]
    labels = Volume((t1.array > 0.3 * t1.array.max()).astype(np.uint8) * 7,
                    spacing=t1.spacing, origin=t1.origin, direction=t1.direction)
    out = result.apply(labels, label=True)
    assert set(np.unique(out.array)) <= {0, 7} and out.same_grid(t1)


def test_bspline_preset_reports_jacobian_without_folding(t1, t2):
    result = register(t1, t2, preset="bspline", search=False)
    m = result.metrics
    assert 0 < m["jacobian_min"] <= 1 <= m["jacobian_max"] and m["folding_fraction"] == 0
    points = [[0.0, 10.0, 20.0]]
    np.testing.assert_allclose(result.to_fixed(result.to_moving(points)), points, atol=1e-3)


def test_landmarks_initialise_and_report_tre(t1, t2):
    truth = sitk.Euler3DTransform(tuple(t1.center()), 0.3, 0.0, 0.0, (30.0, 0.0, 0.0))
    fixed_points = np.array([[0, 0, 0], [40, 0, 0], [0, 40, 0], [0, 0, 40]], float)
    moving_points = np.array([truth.GetInverse().TransformPoint(tuple(p)) for p in fixed_points])
    result = register(t1, perturbed(t2, truth), landmarks=(fixed_points, moving_points))
    assert result.metrics["tre_mm"] < 2.0 < result.metrics["tre_before_mm"]


def test_masks_give_dice(t1, t2):
    """Masks may be boolean arrays, as a comparison makes them."""
    mask = t1.with_array(t1.array > 0.3 * t1.array.max())
    result = register(t1, t2, fixed_mask=mask, moving_mask=mask, search=False)
    assert result.metrics["dice"] > 0.95


def test_non_overlapping_images_are_brought_together_with_a_warning(t1, t2):
    far = Volume(t2.array, spacing=t2.spacing, origin=np.asarray(t2.origin) + [500, 0, 0],
                 direction=t2.direction)
    result = register(t1, far, search=False)
    assert any("do not overlap" in w for w in result.warnings)
    shift = result.to_moving([t1.center()])[0] - t1.center()
    assert abs(shift[0] - 500) < 3


def test_cancel_between_stages(t1, t2):
    with pytest.raises(RegistrationCancelled, match="cancelled before"):
        register(t1, t2, cancel=lambda: True)


def test_saved_parameter_files_make_transformix_reproduce_apply(t1, t2, t2_result, tmp_path):
    """transformix, fed the written TransformParameters files, resamples exactly like apply()."""
    from itk.itkTransformixFilterPython import itkTransformixFilterIF3

    from medfuse.registration import _elastix
    from medfuse.registration.presets import read_parameter_file

    result = t2_result[0]
    result.save(tmp_path)
    elastix = _elastix.load()
    po = elastix.parameter_object.New()
    for i in range(len(result.parameter_maps)):
        pm = read_parameter_file(tmp_path / f"TransformParameters.{i}.txt")
        po.AddParameterMap({k: tuple(v) for k, v in pm.items()})
    transformix = itkTransformixFilterIF3.New()
    transformix.SetMovingImage(_elastix.to_itk(t2))
    transformix.SetTransformParameterObject(po)
    transformix.SetLogToConsole(False)
    transformix.Update()
    expected = elastix.buffer[3].GetArrayFromImage(transformix.GetOutput())
    np.testing.assert_allclose(result.apply(t2).array, expected, atol=1e-4 * np.abs(expected).max())


def test_a_seed_reaches_every_elastix_run_and_repeats_exactly(t1, t2, monkeypatch):
    """The same seed gives the same answer; another seed draws other samples (a near answer)."""
    from medfuse.registration import _elastix

    seeds: set = set()
    run = _elastix.run

    def recording(fixed, moving, maps, **kw):
        seeds.update(pm.get("RandomSeed", [None])[0] for pm in maps)
        return run(fixed, moving, maps, **kw)

    def registered(seed):
        seeds.clear()
        result = register(t1, moving, seed=seed)
        assert seeds == {str(seed)}
        return result

    monkeypatch.setattr(_elastix, "run", recording)
    truth = sitk.Euler3DTransform(tuple(t1.center()), 0.1, 0.05, -0.08, (6.0, 4.0, -5.0))
    moving = perturbed(t2, truth)
    first, again, other = (registered(s) for s in (7, 7, 8))
    assert first.metrics["seed"] == 7
    assert first.transform.GetParameters() == again.transform.GetParameters()
    assert first.transform.GetParameters() != other.transform.GetParameters()
    assert max(_tre(r, truth, t1) for r in (first, other)) < 2.0


@pytest.fixture(scope="module")
def fine_ct():
    """The STS_002 CT (0.98 x 0.98 x 3.27 mm) and a copy of it on a 1.1 x 1.1 x 1.6 mm grid."""
    from medfuse.io import load
    from tests.conftest import real_data

    ct = load(real_data("volumes", "sts", "STS_002", "CT", "nifti", "image", "image.nii.gz"),
              modality="CT", units="HU")
    image = sitk.Cast(ct.to_sitk(), sitk.sitkFloat32)
    spacing = (1.1, 1.1, 1.6)
    grid = sitk.Image([int(n * s / t) for n, s, t in zip(image.GetSize(), image.GetSpacing(),
                                                         spacing)], sitk.sitkFloat32)
    grid.SetSpacing(spacing)
    grid.SetDirection(image.GetDirection())
    grid.SetOrigin(image.TransformContinuousIndexToPhysicalPoint((0.3, -0.4, 0.2)))
    copy = Volume.from_sitk(sitk.Resample(image, grid, sitk.Transform(), sitk.sitkLinear, -1000.0),
                            modality="CT")
    return ct, copy


@pytest.mark.parametrize("coarse", [False, True])
def test_a_pair_finer_than_the_working_grid_ends_on_the_finer_grid(fine_ct, monkeypatch, coarse):
    """Both images finer than 2 mm: the rigid stage ends with a short run on the finest grid both
    have, and lands within a tenth of a millimetre; a coarse image keeps it on the 2 mm grid."""
    from medfuse.registration import _elastix, engine
    from medfuse.registration.search import binned

    ct, copy = fine_ct
    moving = binned(copy, 4.0) if coarse else copy
    runs = []
    run = _elastix.run

    def recording(fixed, moving, maps, **kw):
        runs.append((tuple(fixed.GetSpacing()), maps[0]["MaximumNumberOfIterations"]))
        return run(fixed, moving, maps, **kw)

    monkeypatch.setattr(_elastix, "run", recording)
    truth = sitk.Euler3DTransform(tuple(ct.center()), 0.12, -0.09, 0.1, (8.0, -6.0, 5.0))
    result = register(ct, perturbed(moving, truth))
    work = binned(ct, engine.WORKING_SPACING).spacing
    if coarse:
        assert runs[-1][0] == pytest.approx(work)
    else:
        assert runs[-1] == (pytest.approx(ct.spacing), [str(engine.FINE_ITERATIONS)])
        assert runs[-2][0] == pytest.approx(work)
    points = sample_points(ct, ct.array > -300, n=1000)
    tre = np.median(tre_against_truth(compose([truth, result.transform]),
                                      sitk.Euler3DTransform(), points))
    assert tre < (1.0 if coarse else 0.1)

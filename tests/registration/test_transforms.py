"""Our SimpleITK transforms against elastix's own resampling of the same result."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medfuse.registration import _elastix
from medfuse.registration.presets import load_preset
from medfuse.registration.transforms import affine_matrix, chain_to_sitk, compose, kabsch
from tests.registration.conftest import perturbed


def _elastix_resampled(fixed, moving, maps):
    """Run elastix (several stages in one call) and return its transform maps and result image."""
    elastix = _elastix.load()
    po = elastix.parameter_object.New()
    for pm in maps:
        pm = {**pm, "WriteResultImage": ["true"], "ResampleInterpolator": ["FinalLinearInterpolator"]}
        po.AddParameterMap({k: tuple(v) for k, v in pm.items()})
    method = elastix.method[3].New()
    method.SetFixedImage(_elastix.to_itk(fixed))
    method.SetMovingImage(_elastix.to_itk(moving))
    method.SetParameterObject(po)
    method.SetLogToConsole(False)
    method.Update()
    tp = method.GetTransformParameterObject()
    out = [{k: list(v) for k, v in dict(tp.GetParameterMap(i)).items()}
           for i in range(tp.GetNumberOfParameterMaps())]
    return out, elastix.buffer[3].GetArrayFromImage(method.GetOutput())


@pytest.mark.parametrize("preset", ["affine", "bspline"])
def test_chain_equals_elastix_resampling(t1, t2, preset):
    """Resampling with our converted chain reproduces elastix's result image (multi-stage chain,
    Euler then affine or B-spline, composed as elastix composes)."""
    moving = perturbed(t2, sitk.Euler3DTransform(tuple(t1.center()), 0.08, -0.05, 0.1, (4, -3, 5)))
    stages = [{**pm, "MaximumNumberOfIterations": ["60"]}
              for pm in load_preset(preset)]
    maps, expected = _elastix_resampled(t1, moving, stages)
    ours = moving.resample_to(t1, transform=chain_to_sitk(maps)).array
    inside = expected != 0
    assert np.abs(ours - expected)[inside].max() < 1e-3 * np.abs(expected).max()


def test_kabsch_recovers_a_rigid_transform():
    rng = np.random.default_rng(1)
    truth = sitk.Euler3DTransform((5.0, 0.0, -3.0), 0.2, -0.1, 0.3, (4.0, -7.0, 2.0))
    p = rng.uniform(-50, 50, (6, 3))
    q = np.array([truth.TransformPoint(tuple(x)) for x in p])
    np.testing.assert_allclose(affine_matrix(kabsch(p, q)), affine_matrix(truth), atol=1e-9)


def test_compose_applies_the_first_listed_last():
    a = sitk.TranslationTransform(3, (1.0, 0.0, 0.0))
    b = sitk.Euler3DTransform((0, 0, 0), 0.0, 0.0, np.pi / 2, (0.0, 0.0, 0.0))
    point = compose([a, b]).TransformPoint((1.0, 0.0, 0.0))  # a(b(x))
    np.testing.assert_allclose(point, (1.0, 1.0, 0.0), atol=1e-12)

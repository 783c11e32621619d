"""The elastix runner: iterate averaging reads elastix's own per-iteration parameters."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from medfuse.registration import _elastix
from medfuse.registration.engine import _grid_template, single_levels
from medfuse.registration.presets import load_preset
from medfuse.registration.quality import sample_points, tre_against_truth
from medfuse.registration.transforms import chain_to_sitk, compose, rigid_to_map
from tests.registration.conftest import perturbed


def _last_level(t1, t2, **options):
    truth = sitk.Euler3DTransform(tuple(t1.center()), 0.03, -0.02, 0.04, (2.0, -1.5, 1.0))
    level = single_levels(load_preset("rigid")[0], 1)[0]
    start = sitk.Euler3DTransform()
    start.SetCenter(tuple(t1.center()))
    maps = _elastix.run(_elastix.to_itk(t1), _elastix.to_itk(perturbed(t2, truth)), [level],
                        initial_maps=[rigid_to_map(start, _grid_template(t1))], threads=1,
                        **options)
    return maps, truth


def test_the_last_iterate_is_elastix_result(t1, t2):
    plain, _ = _last_level(t1, t2)
    last_only, _ = _last_level(t1, t2, average_last=1e-9)
    np.testing.assert_allclose([float(v) for v in last_only[-1]["TransformParameters"]],
                               [float(v) for v in plain[-1]["TransformParameters"]], atol=1e-9)
    assert "WriteTransformParametersEachIteration" not in last_only[-1]


def test_averaged_iterates_recover_the_perturbation(t1, t2):
    plain, truth = _last_level(t1, t2)
    averaged, _ = _last_level(t1, t2, average_last=0.5)
    assert averaged[-1]["TransformParameters"] != plain[-1]["TransformParameters"]
    points = sample_points(t1, t1.array > 0.2 * t1.array.max(), n=500)
    error = np.median(tre_against_truth(compose([truth, chain_to_sitk(averaged)]),
                                        sitk.Euler3DTransform(), points))
    assert error < 1.0

"""The start search: it stops early when the first starts agree, and tries every rotation when not;
the best start is then refined by the coarsest level."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from medfuse.registration import _elastix
from medfuse.registration.engine import _grid_template, initial_transform, single_levels
from medfuse.registration.presets import load_preset
from medfuse.registration.quality import sample_points, tre_against_truth
from medfuse.registration.search import multi_start, rotations
from medfuse.registration.transforms import compose
from tests.registration.conftest import perturbed


def _search(t1, moving, **options):
    """multi_start on SPM T1 and ``moving``; returns the chosen start and how many elastix runs
    there were (the starts and the refinement of the best)."""
    calls = []

    def counting_run(*args, **kwargs):
        calls.append(1)
        return _elastix.run(*args, threads=1, **kwargs)

    start = initial_transform(t1, moving)
    coarsest = single_levels(load_preset("rigid")[0])[0]
    chosen = multi_start(t1, moving, start, coarsest, _grid_template(t1),
                         run=counting_run, **options)
    return chosen, len(calls)


def _median_error(t1, truth, found):
    points = sample_points(t1, t1.array > 0.2 * t1.array.max(), n=500)
    return float(np.median(tre_against_truth(compose([truth, found]), sitk.Euler3DTransform(),
                                             points)))


def test_search_stops_after_three_agreeing_starts(t1, t2):
    truth = sitk.Euler3DTransform(tuple(t1.center()), np.radians(6), np.radians(-4),
                                  np.radians(5), (5.0, -4.0, 3.0))
    chosen, runs = _search(t1, perturbed(t2, truth))
    assert runs == 3 + 1
    assert _median_error(t1, truth, chosen) < 2.5  # an 8 mm level: within a few mm of the end


def test_search_tries_every_rotation_when_starts_disagree(t1, t2):
    truth = sitk.Euler3DTransform(tuple(t1.center()), np.radians(6), np.radians(-4),
                                  np.radians(5), (5.0, -4.0, 3.0))
    chosen, runs = _search(t1, perturbed(t2, truth), agree_mm=0.0)
    assert runs == len(rotations()) + 1
    assert _median_error(t1, truth, chosen) < 2.5

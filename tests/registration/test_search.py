"""The start search: it stops early when the first starts agree, and tries every rotation when not;
the best start is then refined by the coarsest level until it stops moving, and settled
deterministically, so that nearby starts end at one pose."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from medfuse.io import load
from medfuse.registration import _elastix
from medfuse.registration.engine import _grid_template, initial_transform, single_levels
from medfuse.registration.presets import load_preset
from medfuse.registration.quality import sample_points, tre_against_truth
from medfuse.registration.search import AGREED_REFINEMENT_SHARE, multi_start, rotations, settle
from medfuse.registration.transforms import compose
from tests.conftest import real_data
from tests.registration.conftest import perturbed


def _search(fixed, moving, preset="rigid", **options):
    """multi_start of ``moving`` onto ``fixed``; returns its result and the iterations of each
    elastix run (the starts, then the refinements of the best)."""
    iterations = []

    def counting_run(*args, **kwargs):
        iterations.append(int(args[2][0]["MaximumNumberOfIterations"][0]))
        return _elastix.run(*args, threads=1, **kwargs)

    start = initial_transform(fixed, moving)
    coarsest = single_levels(load_preset(preset)[0])[0]
    chosen = multi_start(fixed, moving, start, coarsest, _grid_template(fixed),
                         run=counting_run, **options)
    return chosen, iterations


def _median_error(t1, truth, found):
    points = sample_points(t1, t1.array > 0.2 * t1.array.max(), n=500)
    return float(np.median(tre_against_truth(compose([truth, found]), sitk.Euler3DTransform(),
                                             points)))


def test_search_stops_after_three_agreeing_starts(t1, t2):
    truth = sitk.Euler3DTransform(tuple(t1.center()), np.radians(6), np.radians(-4),
                                  np.radians(5), (5.0, -4.0, 3.0))
    chosen, runs = _search(t1, perturbed(t2, truth))
    assert len(runs) == 3 + 1
    assert chosen.starts_agreed
    # the three starts agreed: the refinement polishes with a share of the level's iterations
    full = int(single_levels(load_preset("rigid")[0])[0]["MaximumNumberOfIterations"][0])
    assert runs[-1] == round(full * AGREED_REFINEMENT_SHARE) < full
    assert _median_error(t1, truth, chosen.transform) < 2.5  # 8 mm: within a few mm of the end


def test_search_tries_every_rotation_when_starts_disagree(t1, t2):
    truth = sitk.Euler3DTransform(tuple(t1.center()), np.radians(6), np.radians(-4),
                                  np.radians(5), (5.0, -4.0, 3.0))
    chosen, runs = _search(t1, perturbed(t2, truth), agree_mm=0.0)
    assert len(runs) == len(rotations()) + 1
    assert not chosen.starts_agreed
    full = int(single_levels(load_preset("rigid")[0])[0]["MaximumNumberOfIterations"][0])
    assert runs[-1] == full  # the whole level, to travel a flat optimum
    assert _median_error(t1, truth, chosen.transform) < 2.5


def test_a_far_start_is_refined_until_it_reaches_the_answer_of_the_near_one():
    """STS_001 PET/CT from 10 degrees and 25 mm off: the short runs of the starts end about 20 mm
    short, and one refinement left the answer 7.9 mm from the one found from the scanner
    alignment; refining again until it moves less than a search voxel closes the gap."""
    patient = real_data("volumes", "sts", "STS_001")
    ct = load(patient / "CT/nifti/image/image.nii.gz", modality="CT")
    pet = load(patient / "PET/nifti/image/image.nii.gz", modality="PT")
    near, near_runs = _search(ct, pet, "rigid_mi")
    offset = sitk.Euler3DTransform(tuple(ct.center()), *np.radians([-4.7, 3.1, 8.5]),
                                   (-10.0, 19.1, 13.0))
    far, far_runs = _search(ct, perturbed(pet, offset), "rigid_mi")
    points = sample_points(ct, ct.array > -300, n=500)
    assert np.median(tre_against_truth(compose([offset, far.transform]), near.transform,
                                       points)) < 2.0
    assert len(far_runs) > len(near_runs)


def test_a_refinement_that_elastix_rejects_keeps_the_best_start(t1, t2):
    """A refinement that walks out of the moving image leaves the best short run to the finer
    levels instead of failing the registration."""
    from medfuse.errors import RegistrationError

    truth = sitk.Euler3DTransform(tuple(t1.center()), np.radians(6), np.radians(-4),
                                  np.radians(5), (5.0, -4.0, 3.0))
    moving = perturbed(t2, truth)
    coarsest = single_levels(load_preset("rigid")[0])[0]

    def refusing_refinement(*args, **kwargs):
        if args[2][0]["MaximumNumberOfIterations"] == coarsest["MaximumNumberOfIterations"]:
            raise RegistrationError("elastix failed: too many samples map outside moving image")
        return _elastix.run(*args, threads=1, **kwargs)

    chosen = multi_start(t1, moving, initial_transform(t1, moving), coarsest, _grid_template(t1),
                         run=refusing_refinement)
    assert _median_error(t1, truth, chosen.transform) < 4.0  # the short runs' answer, coarser


def test_settle_brings_nearby_starts_to_one_pose(t1, t2):
    """Starts 1-2 mm and half a degree apart (where the sampled search leaves its answers on a
    flat optimum) settle within a tenth of a millimetre of each other, and stay at the truth."""
    truth = sitk.Euler3DTransform(tuple(t1.center()), np.radians(6), np.radians(-4),
                                  np.radians(5), (5.0, -4.0, 3.0))
    moving = perturbed(t2, truth)
    found = _search(t1, moving)[0].transform
    centre = tuple(t1.center())
    offsets = [sitk.Euler3DTransform(centre, *np.radians(angles), shift)
               for angles, shift in [((0.5, 0, 0), (1.5, 0, 0)), ((0, -0.5, 0.3), (0, -1.0, 1.0))]]
    settled = [settle(t1, moving, compose([offset, found])) for offset in [*offsets]]
    points = sample_points(t1, t1.array > 0.2 * t1.array.max(), n=500)
    moved = np.mean(tre_against_truth(compose([offsets[0], found]), compose([offsets[1], found]),
                                      points))
    apart = np.mean(tre_against_truth(settled[0], settled[1], points))
    assert moved > 1.0 and apart < 0.1
    assert _median_error(t1, truth, settled[0]) < 2.5

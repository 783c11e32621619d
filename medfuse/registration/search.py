"""Multi-start search at low resolution, before elastix refines the best start at full resolution.

A gradient-based optimiser of mutual information finds the optimum nearest to its start; from starts
rotated by 10-15 degrees that can be a wrong one, so the answer would depend on the start. Like
FLIRT's initial search (Jenkinson and Smith 2001), a few rotated starts are each refined by a short
elastix run (100 iterations of 512 samples) on images binned to about 8 mm, and the best by
normalised mutual information (Studholme et al. 1999, insensitive to the size of the overlap) is
refined by the preset's whole coarsest level. A start costs about 20 ms; the refinement, with
four times the samples of a start and twice the iterations, brought the answers from different
starts within about 1.5 mm of each other where a flat optimum had left them up to 15 mm apart.
Where the first three starts agree the basin is clear, and the refinement runs half the level.

Those short runs draw new random samples every iteration, so where the optimum is flat (real MR/CT
of a limb, soft tissue moved between the scans) their answer wanders with the start and with the
seed by 1.5-2 mm. :func:`settle` ends the search deterministically: every voxel at 4 mm, one
gradient ascent of Mattes MI to a small step, so nearby starts end at one point (real MR/CT spread
1.71 -> 0.88 mm and 2.13 -> 0.33 mm over +-10 degree, +-15 mm starts; 8 mm settles or a fixed
random subset of the 4 mm voxels fell back into the wandering, see docs/registration.md).
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import numpy as np
import SimpleITK as sitk

from medfuse.errors import RegistrationError
from medfuse.registration.presets import ParameterMap, scaled
from medfuse.registration.quality import information, tre_against_truth, value_range, warp
from medfuse.registration.transforms import affine_matrix, chain_to_sitk, from_matrix, rigid_to_map
from medfuse.volume import Volume


#: each start is refined by this many iterations of this many random samples at 8 mm
SEARCH_ITERATIONS, SEARCH_SAMPLES = 100, 512
#: voxels for the step-size estimate of each start (elastix's default is 100000; at 8 mm the
#: images hold 10-20 thousand, and 1024 halves the cost of a start's set-up)
SEARCH_EXACT_GRADIENT_SAMPLES = 1024
#: the best start is refined by the coarsest level again while a refinement moves a corner of the
#: fixed image by a search voxel or more (from +-15 degree, +-20 mm starts the short runs can end
#: 20 mm short of the optimum), at most this many times
MAX_REFINEMENTS = 3
#: the deterministic settle after the search: bin size (mm), histogram bins, first and last step
#: (mm, along the physical shift of the fixed image's voxels), the step's shrink at each turn of
#: the gradient and the iteration cap
SETTLE_SPACING, SETTLE_BINS, SETTLE_STEPS, SETTLE_RELAXATION, SETTLE_ITERATIONS = \
    4.0, 32, (2.0, 1e-3), 0.7, 300
#: when the first three starts agree the basin is clear and the refinement only polishes their
#: answer: it runs this share of the level's iterations (the full level travels flat optima)
AGREED_REFINEMENT_SHARE = 0.5


class SearchResult(NamedTuple):
    """The refined best start, and whether the first three starts ended at one pose (when not,
    the optimum is flat or there are several, and the finer levels need more samples)."""

    transform: sitk.Transform
    starts_agreed: bool


def bin_factors(volume: Volume, spacing: float) -> list[int]:
    """The voxels per axis that :func:`binned` averages for bins of about ``spacing`` mm."""
    return [max(1, int(round(spacing / s))) for s in volume.spacing]


def binned(volume: Volume, spacing: float) -> Volume:
    """``volume`` averaged over bins of about ``spacing`` mm (``BinShrink``; geometry kept exact)."""
    factors = bin_factors(volume, spacing)
    if max(factors) == 1:
        return volume
    image = sitk.BinShrink(sitk.Cast(volume.to_sitk(), sitk.sitkFloat32), factors)
    return Volume.from_sitk(image, modality=volume.modality, units=volume.units, meta=volume.meta)


def binned_mask(mask: Volume, grid: Volume) -> Volume:
    """``mask`` carried onto a binned grid (a bin is inside when any of its voxels is)."""
    image = sitk.Cast(mask.to_sitk() > 0, sitk.sitkFloat32)
    factors = [int(round(g / s)) for g, s in zip(grid.spacing, mask.spacing)]
    shrunk = sitk.BinShrink(image, [max(1, f) for f in factors]) if max(factors) > 1 else image
    return Volume.from_sitk(shrunk > 0)


def rotations(degrees: float = 15.0) -> list[np.ndarray]:
    """The identity and rotations by +-``degrees`` about each axis (3 x 3 matrices)."""
    out = [np.eye(3)]
    for axis, sign in itertools.product(range(3), (-1.0, 1.0)):
        angles = [0.0, 0.0, 0.0]
        angles[axis] = np.radians(degrees) * sign
        out.append(np.asarray(sitk.Euler3DTransform((0, 0, 0), *angles).GetMatrix()).reshape(3, 3))
    return out


def score(fixed: Volume, moving: Volume, keep: np.ndarray, transform: sitk.Transform) -> float:
    """Normalised mutual information of ``fixed`` and ``moving`` mapped by ``transform``, over the
    ``keep`` voxels of ``fixed`` that the moving image covers (0 when they cover under 10 %); the
    bins span each image's whole range, the same for every start."""
    warped = warp(fixed, moving, transform)
    sel = ~np.isnan(warped) & keep
    if sel.sum() < 0.1 * keep.sum():  # too little overlap to judge
        return 0.0
    return information(np.asarray(fixed.array)[sel], warped[sel],
                       ranges=(value_range(fixed), value_range(moving)))[1]


def multi_start(
    fixed: Volume,
    moving: Volume,
    start: sitk.Transform,
    stage: ParameterMap,
    template: ParameterMap,
    *,
    run: Any,
    fixed_mask: Volume | None = None,
    spacing: float = 8.0,
    degrees: float = 15.0,
    agree_mm: float = 12.0,
) -> SearchResult:
    """The best (by :func:`score`) of ``start`` and ``start`` rotated about the fixed centre, each
    refined briefly at ``spacing`` mm (steps of up to one voxel), then refined by the one-level map
    ``stage`` there until it moves the image by less than a voxel (:data:`MAX_REFINEMENTS`; with
    :data:`AGREED_REFINEMENT_SHARE` of its iterations where the first three starts agreed).

    The search stops after the first three starts (the start and +-``degrees`` about x) when they
    reach one pose (no fixed-image corner more than ``agree_mm`` apart): starts that far apart
    ending together show a basin wide enough that the other rotations would end there too.
    ``run(fixed_itk, moving_itk, maps, initial_maps=..., fixed_mask=...)`` is the elastix runner.
    Returns the refined best start, then settled (:func:`settle`), and whether the first three
    starts agreed.
    """
    from medfuse.registration import _elastix

    f, m = binned(fixed, spacing), binned(moving, spacing)
    f_itk, m_itk = _elastix.to_itk(f), _elastix.to_itk(m)
    mask_itk = None
    keep = np.ones(f.array.shape, bool)
    if fixed_mask is not None:
        coarse_mask = binned_mask(fixed_mask, f)
        keep = coarse_mask.array > 0
        mask_itk = _elastix.to_itk(coarse_mask)
    coarse = dict(stage)
    coarse.update(NumberOfResolutions=["1"], MaximumNumberOfIterations=[str(SEARCH_ITERATIONS)],
                  NumberOfSpatialSamples=[str(SEARCH_SAMPLES)],
                  NumberOfSamplesForExactGradient=[str(SEARCH_EXACT_GRADIENT_SAMPLES)],
                  MaximumStepLength=[str(spacing)])
    base, centre = affine_matrix(start), fixed.center()
    corners = _corners(fixed)

    def refine(level: ParameterMap, transform: sitk.Transform) -> sitk.Transform:
        maps = run(f_itk, m_itk, [level], initial_maps=[rigid_to_map(transform, template)],
                   fixed_mask=mask_itk)
        return from_matrix(affine_matrix(chain_to_sitk(maps)), center=centre)

    found: list[tuple[float, sitk.Transform]] = []
    agreed = False
    for r in rotations(degrees):
        rot = np.eye(4)
        rot[:3, :3] = r
        rot[:3, 3] = centre - r @ centre
        candidate = from_matrix(base @ rot, center=centre)
        try:
            refined = refine(coarse, candidate)
        except RegistrationError:  # a start that elastix cannot handle (no overlap) is skipped
            continue
        found.append((score(f, m, keep, refined), refined))
        agreed = len(found) == 3 and all(tre_against_truth(found[0][1], t, corners).max() < agree_mm
                                         for _, t in found[1:])
        if agreed:
            break
    if not found:
        return SearchResult(start, False)
    best = max(found, key=lambda item: item[0])[1]
    level = scaled(stage, "MaximumNumberOfIterations", AGREED_REFINEMENT_SHARE,
                   default=500) if agreed else stage  # 500: elastix's default
    for _ in range(MAX_REFINEMENTS):
        try:
            refined = refine(level, best)
        except RegistrationError:  # walked out of the moving image: the finer levels go on
            break
        moved = tre_against_truth(best, refined, corners).max()
        best = refined
        if moved < spacing:
            break
    return SearchResult(settle(fixed, moving, best, fixed_mask=fixed_mask), agreed)


def settle(fixed: Volume, moving: Volume, transform: sitk.Transform, *,
           fixed_mask: Volume | None = None) -> sitk.Transform:
    """``transform`` (rigid) carried to the nearest optimum of Mattes mutual information over
    every voxel of ``fixed`` binned to :data:`SETTLE_SPACING` mm (inside ``fixed_mask``): a
    deterministic objective and optimiser, so the answer depends on the start only through the
    basin it lies in. On one thread (SimpleITK's default for the while): ITK's thread pool sums
    the metric in a varying order, and a registration must repeat exactly."""
    centre = fixed.center()
    f, m = binned(fixed, SETTLE_SPACING), binned(moving, SETTLE_SPACING)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(SETTLE_BINS)
    method.SetMetricSamplingStrategy(method.NONE)
    if fixed_mask is not None:
        method.SetMetricFixedMask(sitk.Cast(binned_mask(fixed_mask, f).to_sitk(), sitk.sitkUInt8))
    method.SetInterpolator(sitk.sitkLinear)
    first, last = SETTLE_STEPS
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=first, minStep=last, numberOfIterations=SETTLE_ITERATIONS,
        relaxationFactor=SETTLE_RELAXATION, gradientMagnitudeTolerance=1e-10)
    method.SetOptimizerScalesFromPhysicalShift()
    euler = sitk.Euler3DTransform()
    euler.SetCenter(centre)
    rigid = from_matrix(affine_matrix(transform), center=centre)
    euler.SetMatrix(rigid.GetMatrix())
    euler.SetTranslation(rigid.GetTranslation())
    method.SetInitialTransform(euler, inPlace=False)
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # the metric's threads follow the default
    try:
        found = method.Execute(sitk.Cast(f.to_sitk(), sitk.sitkFloat32),
                               sitk.Cast(m.to_sitk(), sitk.sitkFloat32))
    except RuntimeError:  # too little overlap at 4 mm: the search's answer stands
        return transform
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    return from_matrix(affine_matrix(found), center=centre)


def _corners(volume: Volume) -> np.ndarray:
    """World (LPS) positions of the corner voxels of ``volume``'s grid."""
    last = np.asarray(volume.size) - 1
    index = np.array(list(itertools.product(*[(0, n) for n in last])), dtype=float)
    return volume.index_to_world(index)


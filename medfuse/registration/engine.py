"""``register``: elastix registration of a moving ``Volume`` onto a fixed ``Volume``.

Examples
--------
>>> from medfuse.registration import register        # doctest: +SKIP
>>> result = register(ct, pet)                        # doctest: +SKIP
>>> pet_on_ct = result.apply(pet)                     # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import SimpleITK as sitk

from medfuse.errors import RegistrationError
from medfuse.progress import Progress
from medfuse.registration import inputs, quality
from medfuse.registration.presets import (
    ParameterMap,
    choose_preset,
    load_preset,
    read_parameter_file,
)
from medfuse.registration.result import RegistrationResult
from medfuse.registration.search import bin_factors, binned, binned_mask, multi_start
from medfuse.registration.transforms import (
    chain_to_sitk,
    compose,
    euler_scales,
    is_linear,
    kabsch,
    rigid_to_map,
)
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

Init = Literal["geometry", "center", "moments", "landmarks", "none"]


#: elastix works on images binned to about this spacing (mm): accuracy is sub-voxel of it, and
#: time falls with the voxel count (see docs/registration.md)
WORKING_SPACING = 2.0
#: the grid of the mutual information before and after: a quality number, not an optimum, so
#: 4-8 times fewer voxels than the working grid are enough
COARSE_SPACING = 4.0
#: when both images are finer than the working grid, the rigid stage ends with a short run on a
#: grid of the coarser image's finest spacing, clamped to [FINEST_SPACING, WORKING_SPACING] mm:
#: FINE_ITERATIONS iterations with steps of at most FINE_STEP_MM, from the working grid's answer
#: (see docs/registration.md, fine grid)
FINEST_SPACING = 1.0
FINE_ITERATIONS, FINE_STEP_MM = 50, 0.1
_GRID_KEYS = ("Size", "Index", "Spacing", "Origin", "Direction")


class RegistrationCancelled(RegistrationError):
    """The caller's ``cancel`` callback asked to stop; raised between stages."""


def register(
    fixed: Volume,
    moving: Volume,
    *,
    preset: str | None = None,
    params: str | Path | Sequence[str | Path | ParameterMap] | None = None,
    fixed_mask: Volume | None = None,
    moving_mask: Volume | None = None,
    landmarks: str | Path | tuple[Any, Any] | None = None,
    init: Init | None = None,
    search: bool = True,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    threads: int | None = None,
    seed: int | None = None,
) -> RegistrationResult:
    """Register ``moving`` onto ``fixed`` with elastix.

    Parameters
    ----------
    fixed, moving : volumes on any grids and orientations (both 2D or both 3D).
    preset : a preset name (see :data:`medfuse.registration.presets.PRESETS`); by default chosen
        from the modality pair, robust multimodal rigid when the pair names none.
    params : the user's own elastix parameter file(s) (or maps), one per stage; replaces ``preset``.
    fixed_mask, moving_mask : masks on the fixed/moving grids; the metric is sampled inside them.
    landmarks : a landmark file (see :mod:`medfuse.registration.inputs`) or ``(fixed, moving)``
        arrays of at least 3 corresponding LPS points; used to initialise and to report TRE.
    init : ``"geometry"`` keeps the scanner (world) alignment when the images overlap and aligns the
        centres otherwise, with a warning; ``"center"`` aligns the grid centres, ``"moments"`` the
        centres of mass, ``"landmarks"`` fits a rigid transform to the landmarks, ``"none"`` starts
        from the world alignment. Default: ``"landmarks"`` when landmarks are given, else
        ``"geometry"``.
    search : before a rigid first stage, refine the start and the start rotated by +-15 degrees
        about each axis briefly at 8 mm and continue from the best by normalised mutual information
        (see :mod:`medfuse.registration.search`); makes the answer independent of the start.
    progress : ``progress(step, total, message)`` before each stage and at the end.
    cancel : called between stages; returning True raises :class:`RegistrationCancelled`.
    threads : elastix threads (default: all cores).
    seed : elastix's ``RandomSeed`` for every run (its samplers draw from it). By default elastix's
        fixed seed, so that a registration repeats exactly; another seed draws other samples.

    Raises
    ------
    RegistrationError
        Bad input (2D with 3D, empty/constant/NaN image, mask off-grid or empty, fewer than 3
        landmarks) or a parameter file elastix rejects; the message names the input and why.
    """
    from medfuse.registration import _elastix

    started = time.perf_counter()
    inputs.check_pair(fixed, moving)
    if fixed_mask is not None:
        inputs.check_mask(fixed_mask, fixed, "fixed")
    if moving_mask is not None:
        inputs.check_mask(moving_mask, moving, "moving")
    points = _landmarks(landmarks)
    stages, preset_name, source = _stages(fixed, moving, preset=preset, params=params)
    if seed is not None:
        if not 0 <= seed < 2**32:
            raise RegistrationError(f"seed {seed} is not between 0 and {2**32 - 1} "
                                    "(elastix's RandomSeed is an unsigned 32-bit number)")
        stages = [{**stage, "RandomSeed": [str(seed)]} for stage in stages]
    warnings: list[str] = []
    start = initial_transform(fixed, moving, method=init or ("landmarks" if points else "geometry"),
                              landmarks=points, warnings=warnings)
    total = len(stages) + 1
    template = _grid_template(fixed)
    runner = functools.partial(_elastix.run, threads=threads, source=source)
    work_fixed, work_moving, run = _working_images(fixed, moving, fixed_mask, moving_mask,
                                                   WORKING_SPACING, runner)
    stages[0] = _with_scales(stages[0], work_fixed, fixed.center())
    first = stages[0]  # all its levels, on elastix's own pyramid of the working images
    if search and stages[0].get("Transform") == ["EulerTransform"] and fixed.ndim == 3:
        _step(progress, cancel, 0, total, "trying start rotations")
        found = multi_start(work_fixed, work_moving, start, single_levels(stages[0])[0], template,
                            run=runner,
                            fixed_mask=binned_mask(fixed_mask, work_fixed)
                            if fixed_mask is not None else None)
        start = found.transform
        # the search ran the coarsest level at 8 mm; its answer is within a few mm of the last
        # level's, so the levels between are skipped (see docs/registration.md, pyramid)
        first = single_levels(stages[0], 1)[0]
    _step(progress, cancel, 1, total, f"stage 1/{len(stages)}: {stages[0]['Transform'][0]}")
    maps = run([first], initial_maps=[rigid_to_map(start, template)])
    if stages[0].get("Transform") == ["EulerTransform"]:
        maps = _on_fine_grid(fixed, moving, fixed_mask, moving_mask,
                             single_levels(stages[0], 1)[0], maps, runner)
    fine_run = None
    for i, stage in enumerate(stages[1:], start=2):
        _step(progress, cancel, i, total, f"stage {i}/{len(stages)}: {stage['Transform'][0]}")
        if stage.get("Transform") == ["BSplineTransform"]:
            # a deformation is local: it follows the finest detail both images have
            fine_run = fine_run or _working_images(fixed, moving, fixed_mask, moving_mask,
                                                   fine_spacing(fixed, moving), runner)[2]
            maps = fine_run([stage], initial_maps=maps)
        else:
            maps = run([stage], initial_maps=maps)
    maps = [{**pm, **{k: template[k] for k in _GRID_KEYS}} for pm in maps]
    transform = chain_to_sitk(maps)
    if isinstance(transform, sitk.CompositeTransform):
        transform = compose([transform])
    metrics = _metrics(binned(work_fixed, COARSE_SPACING), binned(work_moving, COARSE_SPACING),
                       transform, fixed_mask=fixed_mask, moving_mask=moving_mask, points=points,
                       warnings=warnings, grid=fixed, work_grid=work_fixed)
    metrics.update(preset=preset_name, elastix_version=_elastix.load().version, seed=seed,
                   duration_s=round(time.perf_counter() - started, 3))
    for w in metrics["warnings"]:
        logger.warning("registration: %s", w)
    if progress is not None:
        progress(total, total, "done")
    return RegistrationResult(transform, maps, fixed, metrics=metrics, preset=preset_name)


#: parameters that elastix reads per resolution level (one value for all, or one per level)
_PER_LEVEL = ("MaximumNumberOfIterations", "NumberOfSpatialSamples", "NumberOfHistogramBins",
              "MaximumStepLength", "NewSamplesEveryIteration", "ImageSampler")
#: the per-level weight of each metric of a multi-metric map
_METRIC_WEIGHT = re.compile(r"Metric\d+Weight")


def single_levels(stage: ParameterMap, n: int | None = None) -> list[ParameterMap]:
    """The ``n`` finest resolution levels of ``stage`` (all by default), each as a one-level map.

    Examples
    --------
    >>> levels = single_levels({"NumberOfResolutions": ["3"], "NumberOfSpatialSamples": ["1", "2", "3"],
    ...                         "MaximumNumberOfIterations": ["200"]}, 2)
    >>> [(lv["NumberOfResolutions"], lv["NumberOfSpatialSamples"]) for lv in levels]
    [(['1'], ['2']), (['1'], ['3'])]
    >>> levels[0]["MaximumNumberOfIterations"]
    ['200']
    """
    count = int(stage.get("NumberOfResolutions", ["1"])[0])
    return [_one_metric({**{k: ([v[level]] if _per_level(k) and len(v) == count else v)
                            for k, v in stage.items()}, "NumberOfResolutions": ["1"]})
            for level in range(max(0, count - (count if n is None else n)), count)]


def _per_level(key: str) -> bool:
    return key in _PER_LEVEL or _METRIC_WEIGHT.fullmatch(key) is not None


def _one_metric(level: ParameterMap) -> ParameterMap:
    """A one-level multi-metric map whose weights leave one metric as a plain one-metric map
    (elastix would compute the metrics weighted 0 as well).

    Examples
    --------
    >>> _one_metric({"Registration": ["MultiMetricMultiResolutionRegistration"],
    ...              "Metric": ["A", "B"], "Metric0Weight": ["0"], "Metric1Weight": ["1"]})
    {'Registration': ['MultiResolutionRegistration'], 'Metric': ['B']}
    """
    if level.get("Registration") != ["MultiMetricMultiResolutionRegistration"]:
        return level
    weights = [float(level.get(f"Metric{i}Weight", ["1"])[0]) for i in range(len(level["Metric"]))]
    used = [i for i, w in enumerate(weights) if w != 0]
    if len(used) != 1:
        return level
    plain = {k: v for k, v in level.items() if not _METRIC_WEIGHT.fullmatch(k)}
    return {**plain, "Registration": ["MultiResolutionRegistration"],
            "Metric": [level["Metric"][used[0]]]}


def _with_scales(stage: ParameterMap, grid: Volume, center: Any) -> ParameterMap:
    """``stage`` with the automatic scales of an Euler transform computed once on ``grid``
    instead of by elastix in every run (several runs per registration with the start search)."""
    if stage.get("Transform") != ["EulerTransform"] or \
            stage.get("AutomaticScalesEstimation") != ["true"]:
        return stage
    scales = euler_scales(grid.size, grid.spacing, grid.origin, grid.direction, center)
    return {**stage, "AutomaticScalesEstimation": ["false"], "Scales": [repr(v) for v in scales]}


def _working_images(fixed: Volume, moving: Volume, fixed_mask: Volume | None,
                    moving_mask: Volume | None, spacing: float, runner: Callable[..., Any]
                    ) -> tuple[Volume, Volume, Callable[..., list[ParameterMap]]]:
    """``fixed`` and ``moving`` binned to about ``spacing`` mm, and ``runner`` bound to them and
    to their binned masks."""
    from medfuse.registration import _elastix

    f, m = binned(fixed, spacing), binned(moving, spacing)
    masks = {"fixed_mask": (fixed_mask, f), "moving_mask": (moving_mask, m)}
    bound = {k: _elastix.to_itk(binned_mask(mask, grid)) for k, (mask, grid) in masks.items()
             if mask is not None}
    return f, m, functools.partial(runner, _elastix.to_itk(f), _elastix.to_itk(m), **bound)


def fine_spacing(fixed: Volume, moving: Volume) -> float:
    """The finest grid both images have (the coarser image's finest spacing), clamped to
    [:data:`FINEST_SPACING`, :data:`WORKING_SPACING`] mm.

    Examples
    --------
    >>> fine, coarse = Volume(np.zeros((4, 4, 4)), spacing=(0.9, 0.9, 3.3)), Volume(np.zeros((4, 4, 4)))
    >>> fine_spacing(fine, fine), fine_spacing(fine, coarse)
    (1.0, 1.0)
    >>> fine_spacing(Volume(np.zeros((4, 4, 4)), spacing=(4.0, 4.0, 4.0)), fine)
    2.0
    """
    return min(WORKING_SPACING, max(FINEST_SPACING, min(fixed.spacing), min(moving.spacing)))


def _on_fine_grid(fixed: Volume, moving: Volume, fixed_mask: Volume | None,
                  moving_mask: Volume | None, level: ParameterMap, maps: list[ParameterMap],
                  runner: Callable[..., Any]) -> list[ParameterMap]:
    """``maps`` followed by a short run of ``level`` on the finest grid both images have (see
    :data:`FINEST_SPACING`); ``maps`` alone when that grid is the working grid."""
    spacing = fine_spacing(fixed, moving)
    if all(bin_factors(v, spacing) == bin_factors(v, WORKING_SPACING) for v in (fixed, moving)):
        return maps
    _, _, run = _working_images(fixed, moving, fixed_mask, moving_mask, spacing, runner)
    short = {**level, "MaximumNumberOfIterations": [str(FINE_ITERATIONS)],
             "MaximumStepLength": [repr(FINE_STEP_MM)]}
    return run([short], initial_maps=maps)


def _step(progress: Progress | None, cancel: Callable[[], bool] | None, step: int, total: int,
          message: str) -> None:
    if cancel is not None and cancel():
        raise RegistrationCancelled(f"registration cancelled before {message}")
    if progress is not None:
        progress(step, total, message)


def _landmarks(landmarks: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if landmarks is None:
        return None
    if isinstance(landmarks, (str, Path)):
        return inputs.read_landmarks(landmarks)
    fixed_points, moving_points = landmarks
    return inputs.check_landmarks(fixed_points, moving_points)


def _stages(fixed: Volume, moving: Volume, *, preset: str | None,
            params: Any) -> tuple[list[ParameterMap], str, str]:
    """The stage maps to run, the preset name for the record, and a description for errors."""
    if params is not None and preset is not None:
        raise RegistrationError("give either a preset or parameter files, not both")
    if params is not None:
        items = [params] if isinstance(params, (str, Path, dict)) else list(params)
        if not items:
            raise RegistrationError("the list of parameter files is empty")
        stages = [dict(p) if isinstance(p, dict) else read_parameter_file(p) for p in items]
        names = [str(p) for p in items if not isinstance(p, dict)]
        return stages, "custom", "parameter file " + ", ".join(names) if names else "parameter map"
    name = preset or choose_preset(fixed.modality, moving.modality)
    return load_preset(name), name, f"preset {name!r}"


def initial_transform(
    fixed: Volume,
    moving: Volume,
    *,
    method: Init = "geometry",
    landmarks: tuple[np.ndarray, np.ndarray] | None = None,
    warnings: list[str] | None = None,
) -> sitk.Transform:
    """The rigid start transform (fixed -> moving points) that ``register`` refines."""
    warnings = warnings if warnings is not None else []
    centre = fixed.center()
    identity = sitk.Euler3DTransform() if fixed.ndim == 3 else sitk.Euler2DTransform()
    identity.SetCenter(tuple(centre))
    if method == "landmarks":
        if landmarks is None:
            raise RegistrationError("init='landmarks' needs landmarks (at least 3 point pairs)")
        return kabsch(*landmarks)
    if method not in ("geometry", "center", "moments", "none"):
        raise RegistrationError(
            f"unknown init {method!r}; use geometry, center, moments, landmarks or none"
        )
    if method == "geometry" and not inputs.overlaps(fixed, moving):
        warnings.append(
            "the images do not overlap in physical space; their centres were aligned to start"
        )
        method = "center"
    if method == "center":
        identity.SetTranslation(tuple(moving.center() - centre))
    elif method == "moments":
        identity.SetTranslation(tuple(_centre_of_mass(moving) - _centre_of_mass(fixed)))
    return identity


def _centre_of_mass(volume: Volume) -> np.ndarray:
    weights = np.asarray(volume.array, dtype=float)
    weights = weights - weights.min()
    grid = np.indices(weights.shape, dtype=float).reshape(volume.ndim, -1)
    w = weights.ravel()
    index = (grid @ w) / max(w.sum(), 1e-12)
    return volume.index_to_world([index[::-1]])[0]


def _grid_template(fixed: Volume) -> ParameterMap:
    """The image-grid entries of an elastix transform parameter map on ``fixed``'s grid."""
    d = str(fixed.ndim)
    return {
        "FixedImageDimension": [d], "MovingImageDimension": [d],
        "FixedInternalImagePixelType": ["float"], "MovingInternalImagePixelType": ["float"],
        "Size": [str(n) for n in fixed.size], "Index": ["0"] * fixed.ndim,
        "Spacing": [repr(s) for s in fixed.spacing], "Origin": [repr(o) for o in fixed.origin],
        "Direction": [repr(float(v)) for v in np.asarray(fixed.direction).T.ravel()],
        "UseDirectionCosines": ["true"],
        "CenterOfRotationPoint": [repr(float(c)) for c in fixed.center()],
        "ResampleInterpolator": ["FinalLinearInterpolator"], "Resampler": ["DefaultResampler"],
        "DefaultPixelValue": ["0"], "ResultImageFormat": ["nii"], "ResultImagePixelType": ["float"],
    }


def _metrics(fixed: Volume, moving: Volume, transform: sitk.Transform, *,
             fixed_mask: Volume | None, moving_mask: Volume | None,
             points: tuple[np.ndarray, np.ndarray] | None, warnings: list[str],
             grid: Volume, work_grid: Volume) -> dict[str, Any]:
    """Quality numbers: MI on the binned ``fixed`` and ``moving``, the Jacobian on the working
    grid, Dice on the full ``grid``."""
    identity = sitk.Transform(fixed.ndim, sitk.sitkIdentity)
    before, after = quality.mi_on_common_overlap(fixed, moving, [identity, transform])
    metrics: dict[str, Any] = {
        "mi_before": round(before[0], 4), "mi_after": round(after[0], 4),
        "nmi_before": round(before[1], 4), "nmi_after": round(after[1], 4),
    }
    if points is not None:
        metrics["tre_before_mm"] = round(float(np.mean(
            quality.target_registration_error(identity, *points))), 3)
        metrics["tre_mm"] = round(float(np.mean(
            quality.target_registration_error(transform, *points))), 3)
    if fixed_mask is not None and moving_mask is not None:
        warped = moving_mask.resample_to(grid, interpolation="nearest", transform=transform)
        metrics["dice"] = round(quality.dice(fixed_mask.array > 0, warped.array > 0), 4)
    if not is_linear(transform):
        jmin, jmax, folded = quality.jacobian_range(transform, work_grid)
        metrics.update(jacobian_min=round(jmin, 4), jacobian_max=round(jmax, 4),
                       folding_fraction=folded)
        if folded > 0:
            warnings.append(f"the deformation folds (Jacobian determinant <= 0) in "
                            f"{100 * folded:.2f} % of the fixed grid: the result is not usable")
    warnings.extend(quality.failure_warnings(
        nmi_before=before[1], nmi_after=after[1], transform=transform,
        fixed=fixed))
    metrics["warnings"] = warnings
    return metrics

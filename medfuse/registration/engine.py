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
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import SimpleITK as sitk

from medfuse.errors import RegistrationError
from medfuse.registration import inputs, quality
from medfuse.registration.presets import (
    ParameterMap,
    choose_preset,
    load_preset,
    read_parameter_file,
)
from medfuse.registration.result import RegistrationResult
from medfuse.registration.search import binned, binned_mask, multi_start
from medfuse.registration.transforms import chain_to_sitk, compose, is_linear, kabsch, rigid_to_map
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

Init = Literal["geometry", "center", "moments", "landmarks", "none"]
#: progress(step, total, message): called before each stage and once at the end (step == total)
Progress = Callable[[int, int, str], None]


#: elastix works on images binned to about this spacing (mm): accuracy is sub-voxel of it, and
#: time falls with the voxel count (see docs/registration.md)
WORKING_SPACING = 2.0
#: mutual information before and after is measured on images binned to about this spacing (mm):
#: a quality number, not an optimum, so 4-8 times fewer voxels than the working grid are enough
QUALITY_SPACING = 4.0
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
    warnings: list[str] = []
    start = initial_transform(fixed, moving, method=init or ("landmarks" if points else "geometry"),
                              landmarks=points, warnings=warnings)
    total = len(stages) + 1
    template = _grid_template(fixed)
    work_fixed, work_moving = binned(fixed, WORKING_SPACING), binned(moving, WORKING_SPACING)
    work_masks = {
        "fixed_mask": binned_mask(fixed_mask, work_fixed) if fixed_mask is not None else None,
        "moving_mask": binned_mask(moving_mask, work_moving) if moving_mask is not None else None,
    }
    fixed_itk, moving_itk = _elastix.to_itk(work_fixed), _elastix.to_itk(work_moving)
    masks = {k: _elastix.to_itk(v) if v is not None else None for k, v in work_masks.items()}
    run = functools.partial(_elastix.run, fixed_itk, moving_itk, threads=threads, source=source,
                            **masks)
    if search and stages[0].get("Transform") == ["EulerTransform"] and fixed.ndim == 3:
        _step(progress, cancel, 0, total, "trying start rotations")
        start = multi_start(work_fixed, work_moving, start, stages[0], template,
                            run=functools.partial(_elastix.run, threads=threads, source=source),
                            fixed_mask=work_masks["fixed_mask"])
        stages = [finest_levels(stages[0], 2), *stages[1:]]  # the search did the coarse level
    _step(progress, cancel, 1, total, f"stage 1/{len(stages)}: {stages[0]['Transform'][0]}")
    maps = run([stages[0]], initial_maps=[rigid_to_map(start, template)])
    for i, stage in enumerate(stages[1:], start=2):
        _step(progress, cancel, i, total, f"stage {i}/{len(stages)}: {stage['Transform'][0]}")
        maps = run([stage], initial_maps=maps)
    maps = [{**pm, **{k: template[k] for k in _GRID_KEYS}} for pm in maps]
    transform = chain_to_sitk(maps)
    if isinstance(transform, sitk.CompositeTransform):
        transform = compose([transform])
    metrics = _metrics(binned(work_fixed, QUALITY_SPACING), binned(work_moving, QUALITY_SPACING),
                       transform, fixed_mask=fixed_mask, moving_mask=moving_mask, points=points,
                       warnings=warnings, grid=fixed, work_grid=work_fixed)
    metrics.update(preset=preset_name, elastix_version=_elastix.load().version,
                   duration_s=round(time.perf_counter() - started, 3))
    for w in metrics["warnings"]:
        logger.warning("registration: %s", w)
    if progress is not None:
        progress(total, total, "done")
    return RegistrationResult(transform, maps, fixed, metrics=metrics, preset=preset_name)


#: parameters that elastix reads per resolution level (one value for all, or one per level)
_PER_LEVEL = ("MaximumNumberOfIterations", "NumberOfSpatialSamples", "NumberOfHistogramBins",
              "MaximumStepLength", "NewSamplesEveryIteration", "ImageSampler")


def finest_levels(stage: ParameterMap, n: int) -> ParameterMap:
    """``stage`` cut to its ``n`` finest resolution levels, per-level values included.

    Examples
    --------
    >>> cut = finest_levels({"NumberOfResolutions": ["3"], "NumberOfSpatialSamples": ["1", "2", "3"],
    ...                      "MaximumNumberOfIterations": ["200"]}, 2)
    >>> cut["NumberOfResolutions"], cut["NumberOfSpatialSamples"], cut["MaximumNumberOfIterations"]
    (['2'], ['2', '3'], ['200'])
    """
    levels = int(stage.get("NumberOfResolutions", ["1"])[0])
    if levels <= n:
        return dict(stage)
    cut = {k: (v[levels - n:] if k in _PER_LEVEL and len(v) == levels else v)
           for k, v in stage.items()}
    cut["NumberOfResolutions"] = [str(n)]
    return cut


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
    # before and after on the voxels that the moving image covers at both, so that a start with a
    # smaller (or a differently placed) overlap is not compared with the result on other voxels
    common = (quality.overlap_mask(fixed, moving, identity)
              & quality.overlap_mask(fixed, moving, transform))
    mask = common if common.any() else None
    before = quality.mi_on_overlap(fixed, moving, identity, mask=mask)
    after = quality.mi_on_overlap(fixed, moving, transform, mask=mask)
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

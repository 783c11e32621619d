"""The study flow: load -> register -> fuse -> quantify, each step one function on a :class:`Study`.

``medfuse report``, the batch steps, the app and the demo call these functions and nothing else, so
they compute the same numbers. Each function fills its part of the study and returns it.

Examples
--------
>>> StudyInputs(fixed="ct.nii.gz", moving=["pet.nii.gz"]).moving
['pet.nii.gz']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import MedFuseError
from medfuse.progress import Cancel, Progress
from medfuse.study import Study
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

#: how a moving series is brought onto the fixed grid
MODES = ("auto", "register", "geometry")


@dataclass
class StudyInputs:
    """What a study is made of: a fixed (reference) series, moving series, optional masks.

    Each entry is a path (DICOM folder/file, NIfTI; a mask may be an RTSTRUCT file) or an already
    loaded ``Volume``. ``modalities`` and ``units`` give the modality and value units of NIfTI
    inputs by path string (NIfTI records neither: a PET NIfTI in SUV needs
    ``units={path: "SUVbw"}``). ``roles`` names the moving series (default: by modality) and
    ``fixed_role`` the fixed one; the names become the study's output file names.
    """

    fixed: str | Path | Volume
    moving: Sequence[str | Path | Volume]
    masks: Sequence[str | Path | Volume] = ()
    modalities: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    roles: Sequence[str] = ()
    fixed_role: str = ""

    def paths(self) -> list[Path]:
        """The inputs given as paths (what outputs must never overwrite)."""
        items = [self.fixed, *self.moving, *self.masks]
        return [Path(p) for p in items if not isinstance(p, Volume)]


def _as_volume(item: str | Path | Volume, inputs: StudyInputs) -> Volume:
    from medfuse.io import load

    if isinstance(item, Volume):
        return item
    return load(item, modality=inputs.modalities.get(str(item)), units=inputs.units.get(str(item)))


def load_study(inputs: StudyInputs) -> Study:
    """Load a study's series and masks, the patient identity its DICOM inputs record and the
    content hash of each input (``meta["content_hash"]``).

    Raises
    ------
    MedFuseError
        No moving series, or an input that cannot be read (the message names it).
    """
    from medfuse.io import load_mask
    from medfuse.io.identity import patient_identity
    from medfuse.io.paths import check_inputs_exist
    from medfuse.provenance import content_hash

    if not inputs.moving:
        raise MedFuseError("a study needs at least one moving series besides the fixed one")
    check_inputs_exist(inputs.paths())
    start = time.perf_counter()
    fixed = _as_volume(inputs.fixed, inputs)
    moving = [_as_volume(m, inputs) for m in inputs.moving]
    masks = [m if isinstance(m, Volume) else load_mask(m, fixed) for m in inputs.masks]
    for volume in [fixed, *moving, *masks]:  # what the report names the inputs by
        volume.meta["content_hash"] = content_hash(volume)
    study = Study(fixed=fixed, moving=moving, roles=list(inputs.roles), fixed_role=inputs.fixed_role,
                  masks=masks, patient=patient_identity([fixed, *moving, *masks]))
    study.timings["load_s"] = round(time.perf_counter() - start, 3)
    return study


def register_series(
    fixed: Volume,
    moving: Volume,
    *,
    mode: str = "auto",
    preset: str | None = None,
    params: str | Path | Sequence[str | Path] | None = None,
    fixed_mask: Volume | None = None,
    moving_mask: Volume | None = None,
    landmarks: Any = None,
    seed: int | None = None,
    keep_grid: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> tuple[Volume, Any]:
    """Bring ``moving`` into ``fixed``'s space: registered (``mode="register"``), by scanner
    geometry alone (``"geometry"``), or ``"auto"``: geometry where the two come from one hybrid
    scanner's frame of reference (PET/CT, SPECT/CT), registration otherwise (the one rule,
    :func:`medfuse.registration.needs_registration`).

    The result is on the fixed grid, or with ``keep_grid`` on the moving series' own grid (a PET
    stays on its 4 mm grid: what the app shows in place of the original). Returns the volume and
    the ``RegistrationResult`` (None where the scanner geometry was kept).

    Raises
    ------
    MedFuseError
        An unknown mode, or a registration that fails (the message says why).
    """
    from medfuse import registration

    if mode not in MODES:
        raise MedFuseError(f"registration mode must be auto, register or geometry, not {mode!r}")
    if mode == "auto":
        mode = "register" if registration.needs_registration(fixed, moving) else "geometry"
    if mode == "geometry":
        return (moving if keep_grid else moving.resample_to(fixed)), None
    result = registration.register(fixed, moving, preset=preset, params=params,
                                   fixed_mask=fixed_mask, moving_mask=moving_mask,
                                   landmarks=landmarks, seed=seed, progress=progress, cancel=cancel)
    return result.apply(moving, reference=moving if keep_grid else None), result


def register_study(study: Study, *, mode: str = "auto", preset: str | None = None,
                   params: str | Path | Sequence[str | Path] | None = None,
                   seed: int | None = None, progress: Progress | None = None,
                   cancel: Cancel | None = None) -> Study:
    """Bring every moving series of ``study`` onto its fixed grid (:func:`register_series`)."""
    study.registered, study.registrations = [], []
    for i, (role, volume) in enumerate(zip(study.roles, study.moving)):
        if progress is not None:
            progress(i, len(study.moving), f"registering {role} ({volume.modality})")
        start = time.perf_counter()
        on_fixed, result = register_series(study.fixed, volume, mode=mode, preset=preset,
                                           params=params, seed=seed, cancel=cancel)
        study.timings[f"register_{role}_s"] = round(time.perf_counter() - start, 3)
        study.registered.append(on_fixed)
        study.registrations.append(result)
    study.parameters.update(registration_mode=mode, preset=preset,
                            params=None if not params else str(params), seed=seed)
    return study


def study_of_registrations(fixed: Volume, moving: Sequence[Volume], registrations: Sequence[Any],
                           *, masks: Sequence[Volume] = (), roles: Sequence[str] = ()) -> Study:
    """A study of series registered already (the app's Register panel): each result applied to
    its series on the fixed grid, the scanner geometry kept where the result is None."""
    from medfuse.io.identity import patient_identity

    registered = [m.resample_to(fixed) if r is None else r.apply(m)
                  for m, r in zip(moving, registrations)]
    return Study(fixed=fixed, moving=list(moving), roles=list(roles), masks=list(masks),
                 registered=registered, registrations=list(registrations),
                 patient=patient_identity([fixed, *moving, *masks]),
                 parameters={"registration_mode": "as registered in the app"})


def fuse_study(study: Study, *, method: str = "default", partner: str | None = None,
               **params: Any) -> Study:
    """Fuse the fixed series with its partner (:meth:`Study.partner_index`: the moving series
    named ``partner``, else the first functional one) and score the fusion (docs/metrics.md)."""
    from medfuse import fusion

    if not study.is_registered:
        raise MedFuseError("register the study before fusing it")
    start = time.perf_counter()
    index = study.partner_index(partner)
    fused = fusion.fuse([study.fixed, study.registered[index]], method=method, **params)
    study.fused, study.fused_with = fused, index
    study.fusion_metrics = fusion_quality(fused, study.fixed, study.registered[index])
    study.parameters.update(fusion_method=method, fusion_partner=study.roles[index])
    study.timings["fuse_s"] = round(time.perf_counter() - start, 3)
    return study


def _mask_transform(registration: Any) -> tuple[Any, str]:
    """(transform from moving-grid points to mask (fixed) space, how the mask was mapped)."""
    if registration is None:
        return None, "physical space (scanner alignment)"
    if getattr(registration, "is_deformable", False):
        return None, "unavailable"
    try:
        return registration.transform.GetInverse(), "inverse registration transform"
    except RuntimeError:
        return None, "unavailable"


def quantify_study(study: Study) -> Study:
    """ROI statistics of every mask on every series, each series on its own grid.

    Masks are in the fixed series' space. A moving series gets the mask through the inverse of its
    registration (nearest neighbour), or by physical position where scanner alignment was kept;
    where the transform has no inverse (deformable), the statistics are computed on the registered
    series on the fixed grid instead, and ``grid`` says so.
    """
    from medfuse.quantify.roi import roi_statistics

    if not study.is_registered:
        raise MedFuseError("register the study before quantifying it")
    start = time.perf_counter()
    names = study.series_names()
    rois: list[dict[str, Any]] = []
    for mask_name, mask in zip(study.mask_names(), study.masks):
        for k, volume in enumerate([study.fixed, *study.moving]):
            if volume.is_rgb:
                continue
            role = study.fixed_role if k == 0 else study.roles[k - 1]
            grid, mapping, transform = "own", "physical space", None
            if k > 0:
                transform, mapping = _mask_transform(study.registrations[k - 1])
                if mapping == "unavailable":
                    volume, grid, mapping = study.registered[k - 1], "fixed", "registered series"
            for entry in roi_statistics(volume, mask, transform=transform, series=names[k]):
                rois.append({"mask": mask_name, "role": role, **entry, "grid": grid,
                             "mask_mapping": mapping})
    study.rois = rois
    study.timings["quantify_s"] = round(time.perf_counter() - start, 3)
    return study


def run_study(
    inputs: StudyInputs,
    *,
    registration_mode: str = "auto",
    preset: str | None = None,
    params: str | Path | None = None,
    fusion_method: str = "default",
    partner: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Study:
    """Load, register, fuse and quantify one study: what ``medfuse report`` and the app run."""
    report = progress or (lambda done, total, message: None)
    total = len(inputs.moving) + 3
    start = time.perf_counter()
    report(0, total, "loading")
    study = load_study(inputs)
    register_study(study, mode=registration_mode, preset=preset, params=params, cancel=cancel,
                   progress=lambda done, _n, message: report(1 + done, total, message))
    report(total - 2, total, "fusing")
    fuse_study(study, method=fusion_method, partner=partner)
    report(total - 1, total, "quantifying")
    quantify_study(study)
    study.timings["total_s"] = round(time.perf_counter() - start, 3)
    report(total, total, "done")
    return study


def resample_series(moving: str | Path, like: str | Path, out: str | Path, *,
                    transform: str | Path | None = None, modality: str | None = None,
                    units: str | None = None, interpolation: str = "linear") -> Path:
    """Write the series at ``moving`` resampled onto the grid of the one at ``like`` as the NIfTI
    ``out``: by scanner geometry, or through an ITK transform file (fixed -> moving points, the
    ``transform.tfm`` of ``medfuse register``). ``modality``/``units`` describe a NIfTI ``moving``.

    Raises
    ------
    MedFuseError
        An unreadable series or transform file (the message names it).
    """
    import SimpleITK as sitk

    from medfuse.errors import InputError
    from medfuse.io import load, write_nifti

    volume = load(moving, modality=modality, units=units)
    reference = load(like)
    mapping = None
    if transform is not None:
        try:
            mapping = sitk.ReadTransform(str(transform))
        except RuntimeError as err:
            raise InputError("not a readable ITK transform file", path=transform) from err
    return write_nifti(volume.resample_to(reference, transform=mapping,
                                          interpolation=interpolation), out)


def fusion_quality(fused: Volume, a: Volume, b: Volume) -> dict[str, float]:
    """Fusion metrics (docs/metrics.md) of ``fused`` against its inputs ``a`` and ``b``, on the
    central slice of volumes, each image normalised to 0-255 as its modality prescribes (an RGB
    fused image through its BT.601 luma)."""
    from medfuse.quantify.fusion_metrics import fusion_metrics

    return fusion_metrics(_to_luma(fused), _to_luma(a), _to_luma(b))


def _to_luma(volume: Volume) -> np.ndarray:
    """0-255 image for fusion metrics: the central slice, normalised as its modality prescribes
    (fused and unknown images by their own range)."""
    from medfuse.modalities import get_modality

    spatial = volume.ndim
    array = volume.array[volume.array.shape[0] // 2] if spatial == 3 else volume.array
    if volume.is_rgb:
        array = np.asarray(array, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    spec = get_modality(volume.modality)
    if spec.code == "OT" or volume.is_rgb:
        values = np.asarray(array, dtype=np.float32)
        lo, hi = float(values.min()), float(values.max())
        return (values - lo) / max(hi - lo, 1e-6) * 255.0
    return spec.normalize(array, volume.units) * 255.0

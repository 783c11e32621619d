"""The study workflow: load -> register -> fuse -> quantify, the one path that the CLI, the app and
the batch runner all call, so that they always compute the same thing.

Examples
--------
>>> from medfuse.workflow import StudyInputs
>>> StudyInputs(fixed="ct.nii.gz", moving=["pet.nii.gz"]).moving
['pet.nii.gz']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import MedFuseError
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

#: progress callback: (step name, fraction of the whole study done in [0, 1])
Progress = Callable[[str, float], None]


@dataclass
class StudyInputs:
    """What a study is made of: a fixed (reference) series, moving series, optional label masks.

    Each entry is a path (DICOM folder/file, NIfTI) or an already loaded ``Volume``.
    ``modalities`` and ``units`` give the modality and value units of NIfTI inputs by path string
    (NIfTI records neither: a PET NIfTI in SUV needs ``units={path: "SUVbw"}``).
    """

    fixed: str | Path | Volume
    moving: Sequence[str | Path | Volume]
    masks: Sequence[str | Path | Volume] = ()
    modalities: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


@dataclass
class StudyResult:
    """Everything a study run produced; reports and exports are renderings of it."""

    fixed: Volume
    moving: list[Volume]
    registered: list[Volume]
    registrations: list[Any]  # RegistrationResult, or None where scanner alignment was kept
    fused: Volume | None
    fusion_metrics: dict[str, float]
    masks: list[Volume]
    parameters: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def _as_volume(item: str | Path | Volume, inputs: StudyInputs) -> Volume:
    from medfuse.io import load

    if isinstance(item, Volume):
        return item
    return load(item, modality=inputs.modalities.get(str(item)), units=inputs.units.get(str(item)))


def load_inputs(inputs: StudyInputs) -> tuple[Volume, list[Volume], list[Volume]]:
    """Load the fixed, moving and mask volumes of a study (paths or volumes)."""
    fixed = _as_volume(inputs.fixed, inputs)
    moving = [_as_volume(m, inputs) for m in inputs.moving]
    masks = [_as_volume(m, inputs) for m in inputs.masks]
    if not moving:
        raise MedFuseError("a study needs at least one moving series besides the fixed one")
    return fixed, moving, masks


def register_series(
    fixed: Volume,
    moving: Volume,
    *,
    mode: str = "auto",
    preset: str | None = None,
    params: str | Path | None = None,
) -> tuple[Volume, Any]:
    """Bring ``moving`` onto ``fixed``'s grid: registered (``mode="register"``), by scanner geometry
    alone (``"geometry"``), or ``"auto"``: geometry where the two share a frame of reference from one
    scanner (PET/CT), registration otherwise. Returns the resampled volume and the result (or None).
    """
    from medfuse import registration

    if mode == "auto":
        mode = "geometry" if not registration.needs_registration(fixed, moving) else "register"
    if mode == "geometry":
        return moving.resample_to(fixed), None
    if mode != "register":
        raise MedFuseError(f"registration mode must be auto, register or geometry, not {mode!r}")
    result = registration.register(fixed, moving, preset=preset, params=params)
    return result.apply(moving), result


def run_study(
    inputs: StudyInputs,
    *,
    registration_mode: str = "auto",
    preset: str | None = None,
    params: str | Path | None = None,
    fusion_method: str = "default",
    progress: Progress | None = None,
) -> StudyResult:
    """Run one study: register every moving series to the fixed one, fuse the fixed with the first
    functional (or first moving) series, and compute fusion quality metrics.
    """
    from medfuse import fusion

    report = progress or (lambda step, fraction: None)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    report("load", 0.0)
    fixed, moving, masks = load_inputs(inputs)
    timings["load_s"] = time.perf_counter() - start

    registered, results = [], []
    for i, volume in enumerate(moving):
        report(f"register {volume.modality}", 0.1 + 0.6 * i / len(moving))
        t0 = time.perf_counter()
        on_fixed, result = register_series(
            fixed, volume, mode=registration_mode, preset=preset, params=params
        )
        timings[f"register_{i}_s"] = time.perf_counter() - t0
        registered.append(on_fixed)
        results.append(result)

    report("fuse", 0.75)
    t0 = time.perf_counter()
    partner = _fusion_partner(registered)
    fused = fusion.fuse([fixed, partner], method=fusion_method)
    timings["fuse_s"] = time.perf_counter() - t0
    report("quantify", 0.9)
    metrics = fusion_quality(fused, fixed, partner)
    report("done", 1.0)
    timings["total_s"] = time.perf_counter() - start
    return StudyResult(
        fixed=fixed,
        moving=moving,
        registered=registered,
        registrations=results,
        fused=fused,
        fusion_metrics=metrics,
        masks=masks,
        parameters={
            "registration_mode": registration_mode,
            "preset": preset,
            "params": str(params) if params else None,
            "fusion_method": fusion_method,
        },
        timings=timings,
    )


def _fusion_partner(registered: list[Volume]) -> Volume:
    """The series fused with the fixed one: the first functional modality, else the first."""
    from medfuse.modalities import get_modality

    functional = [v for v in registered if get_modality(v.modality).functional]
    return (functional or registered)[0]


def fusion_quality(fused: Volume, a: Volume, b: Volume) -> dict[str, float]:
    """Fusion metrics (docs/metrics.md) of ``fused`` against its inputs ``a`` and ``b``, on the
    central slice of volumes, each image normalised to 0-255 as its modality prescribes."""
    from medfuse.quantify.fusion_metrics import fusion_metrics

    return fusion_metrics(_to_luma(fused), _to_luma(a), _to_luma(b))


def _to_luma(volume: Volume) -> np.ndarray:
    """0-255 image for fusion metrics: the central slice, normalised as its modality prescribes
    (fused and unknown images by their own range)."""
    from medfuse.modalities import get_modality

    array = volume.array[volume.array.shape[0] // 2] if volume.ndim == 3 else volume.array
    spec = get_modality(volume.modality)
    if spec.code == "OT":
        values = np.asarray(array, dtype=np.float32)
        lo, hi = float(values.min()), float(values.max())
        return (values - lo) / max(hi - lo, 1e-6) * 255.0
    return spec.normalize(array, volume.units) * 255.0

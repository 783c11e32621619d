"""File-level registration, the one call behind ``medfuse register``: load, register, write."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medfuse.registration.engine import Progress, register
from medfuse.registration.result import RegistrationResult


def register_files(
    fixed: str | Path,
    moving: str | Path,
    out: str | Path,
    *,
    preset: str | None = None,
    params: Sequence[str | Path] | None = None,
    fixed_mask: str | Path | None = None,
    moving_mask: str | Path | None = None,
    landmarks: str | Path | None = None,
    fixed_modality: str | None = None,
    moving_modality: str | None = None,
    init: Any = None,
    progress: Progress | None = None,
    seed: int | None = None,
) -> RegistrationResult:
    """Register the image at ``moving`` onto the one at ``fixed`` and write the results into ``out``.

    Writes ``registered.nii.gz`` (moving on the fixed grid), ``transform.tfm``,
    ``TransformParameters.<i>.txt`` and ``metrics.json`` into a temporary folder renamed to ``out`` when complete; ``out`` may sit
    beside the inputs, never over one nor inside a DICOM series folder (checked before loading).
    ``fixed``/``moving`` are DICOM folders or NIfTI files; the modality options give NIfTI files
    the modality that chooses the preset.

    Raises
    ------
    MedFuseError
        Unreadable inputs, bad masks or landmarks, or a failed registration (one-line message).
    """
    from medfuse.io import load, load_mask, write_nifti
    from medfuse.io.paths import check_inputs_exist, check_output, check_replaceable, output_folder

    fixed, moving, out = Path(fixed), Path(moving), Path(out)
    inputs = [p for p in (fixed, moving, fixed_mask, moving_mask) if p is not None]
    check_inputs_exist(inputs)
    check_output(out, inputs)
    check_replaceable(out, marker="metrics.json")
    fixed_volume = load(fixed, modality=fixed_modality)
    moving_volume = load(moving, modality=moving_modality)
    if fixed_modality:
        fixed_volume.modality = fixed_modality.upper()
    if moving_modality:
        moving_volume.modality = moving_modality.upper()
    masks = {
        "fixed_mask": load_mask(fixed_mask, fixed_volume) if fixed_mask is not None else None,
        "moving_mask": load_mask(moving_mask, moving_volume) if moving_mask is not None else None,
    }
    result = register(
        fixed_volume, moving_volume, preset=preset, params=list(params) if params else None,
        landmarks=landmarks, init=init, progress=progress, seed=seed, **masks,
    )
    result.metrics["inputs"] = {"fixed": str(fixed), "moving": str(moving)}
    with output_folder(out, marker="metrics.json") as tmp:
        write_nifti(result.apply(moving_volume), tmp / "registered.nii.gz")
        result.save(tmp)
    return result

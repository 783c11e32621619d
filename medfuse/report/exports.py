"""Exports of a study: volumes (NIfTI, DICOM series), fused RGB overlays (PNG planes, a montage, a
DICOM Secondary Capture series) and transforms (ITK ``.tfm``, elastix files); masks go out as DICOM
SEG through :func:`medfuse.io.seg.write_seg`, which reads its source series.

Every file is written atomically through the io writers. DICOM series join the fixed series' study
and frame of reference when it was loaded from DICOM. They carry anonymous patient placeholders
unless ``patient`` (the fixed series' identity) is given: a series that goes back into a PACS next to
its originals needs the patient's identity, a shared one must not carry it.

Formats (:data:`FORMATS`): ``nifti`` (volumes), ``dicom`` (volumes as DICOM series and the overlay
as Secondary Capture), ``png`` (overlay planes and montage), ``seg`` (masks as DICOM SEG, only where
the fixed series came from DICOM) and ``transforms``.

Examples
--------
>>> import numpy as np
>>> from medfuse.volume import Volume
>>> ct = Volume(np.linspace(-200, 300, 4 * 8 * 8).reshape(4, 8, 8), modality="CT", units="HU")
>>> overlay_rgb(ct, None).shape
(4, 8, 8, 3)
>>> check_choices(["png", "nifti"])
('png', 'nifti')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import InputError
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

#: every export format, in the order they are written
FORMATS = ("nifti", "dicom", "png", "seg", "transforms")
#: DICOM modalities that ``write_dicom_series`` stores as images
_DICOM_IMAGE_MODALITIES = ("CT", "MR", "PT", "NM")
#: Secondary Capture and volume series numbers (volumes count up from 9000; SEG: medfuse.io.seg)
_SC_SERIES, _VOLUME_SERIES = 9100, 9000


def check_choices(values: Iterable[str], allowed: tuple[str, ...] = FORMATS,
                  what: str = "export format(s)") -> tuple[str, ...]:
    """``values`` as a tuple, each one of ``allowed`` (by default the export :data:`FORMATS`).

    Raises
    ------
    InputError
        An unknown value (the message lists the valid ones).
    """
    values = tuple(values)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InputError(f"unknown {what} {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(allowed)}")
    return values


def overlay_rgb(base: Volume, overlay: Volume | None, *, opacity: float = 0.6) -> np.ndarray:
    """Fused RGB overlay (uint8, trailing axis 3): ``base`` in grey, ``overlay`` (on the same grid)
    in its modality's colour map, blended by its normalised value times ``opacity``."""
    from matplotlib import colormaps

    from medfuse.modalities import get_modality
    from medfuse.report.figures import normalized

    grey = normalized(base)
    rgb = grey[..., None].repeat(3, axis=-1) if not base.is_rgb else grey
    if overlay is not None:
        value = normalized(overlay)
        colour = colormaps[get_modality(overlay.modality).colormap](value)[..., :3]
        alpha = np.clip(value * 4, 0, 1)[..., None] * opacity
        rgb = rgb * (1 - alpha) + colour * alpha
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def dicom_storage(volume: Volume) -> str | None:
    """The DICOM image storage a volume is written as: its own modality for CT, MR, PET and SPECT;
    MR Image Storage (values without physical units, DERIVED) for other grey volumes such as a fused
    image in a.u.; None for RGB (exported as Secondary Capture instead) and for label maps (units
    ``label``: exported as DICOM SEG instead)."""
    if volume.is_rgb or volume.is_label:
        return None
    return volume.modality if volume.modality in _DICOM_IMAGE_MODALITIES else "MR"


def export_volumes(
    volumes: Mapping[str, Volume],
    folder: str | Path,
    *,
    reference: Volume | None = None,
    formats: Iterable[str] = ("nifti", "dicom"),
    patient: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Each volume as ``folder/<name>.nii.gz`` (``nifti``) and as a DICOM series in
    ``folder/<name>_dicom/`` (``dicom``) in ``reference``'s study and frame of reference: grey
    volumes as :func:`dicom_storage` says, RGB volumes (a fused CT/PET) as a colour Secondary
    Capture series with the slices' geometry.

    Returns ``{label: path}`` with labels ``<name>.nii.gz`` and ``<name> DICOM``.
    """
    from medfuse.io import write_dicom_series, write_nifti

    formats = check_choices(formats)
    folder = Path(folder)
    out: dict[str, Path] = {}
    for number, (name, volume) in enumerate(volumes.items(), start=_VOLUME_SERIES + 1):
        if "nifti" in formats:
            out[f"{name}.nii.gz"] = write_nifti(volume, folder / f"{name}.nii.gz")
        storage = dicom_storage(volume)
        if "dicom" in formats and volume.is_rgb and volume.ndim == 3:
            grid = reference if reference is not None and reference.same_grid(volume) else volume
            out[f"{name} DICOM"] = write_secondary_capture(
                volume.array, grid, folder / f"{name}_dicom", patient=patient,
                series_description=f"MedFuse {name.replace('_', ' ')}", series_number=number)
        elif "dicom" in formats and storage is not None:
            out[f"{name} DICOM"] = write_dicom_series(
                volume, folder / f"{name}_dicom", reference=reference, modality=storage,
                series_description=f"MedFuse {name.replace('_', ' ')}", series_number=number,
                patient=patient, overwrite=True)
        elif "dicom" in formats:
            logger.info("%s is a 2D RGB image or a label map: not written as a DICOM series", name)
    return out


def _planes(rgb: np.ndarray, index: Sequence[int]) -> dict[str, np.ndarray]:
    x, y, z = index
    return {"axial": rgb[z], "coronal": rgb[::-1, y], "sagittal": rgb[::-1, :, x]}


def montage(rgb: np.ndarray, *, columns: int = 6, count: int = 24) -> np.ndarray:
    """Up to ``count`` evenly spaced axial slices of an RGB volume tiled ``columns`` wide."""
    picks = np.unique(np.linspace(0, rgb.shape[0] - 1, min(count, rgb.shape[0])).round().astype(int))
    rows = -(-len(picks) // columns)
    h, w = rgb.shape[1:3]
    tiles = np.zeros((rows * h, columns * w, 3), np.uint8)
    for n, k in enumerate(picks):
        r, c = divmod(n, columns)
        tiles[r * h:(r + 1) * h, c * w:(c + 1) * w] = rgb[k]
    return tiles


def export_overlays(
    fixed: Volume,
    partner: Volume | None,
    folder: str | Path,
    point: Sequence[float],
    *,
    formats: Iterable[str] = ("png", "dicom"),
    patient: dict[str, str] | None = None,
) -> dict[str, Path]:
    """The fused RGB overlay (``fixed`` in grey, ``partner`` on its grid in colour): PNG planes
    through ``point`` with square pixels and a PNG montage of axial slices (``png``), and a DICOM
    Secondary Capture series of its axial slices (``dicom``, 3D only)."""
    from medfuse.io import write_png

    formats = check_choices(formats)
    folder = Path(folder)
    rgb = overlay_rgb(fixed, partner)
    out: dict[str, Path] = {}
    if fixed.ndim != 3:
        if "png" in formats:
            out["overlay.png"] = write_png(rgb, folder / "overlay.png")
        return out
    if "png" in formats:
        index = [int(np.clip(i, 0, n - 1)) for i, n in
                 zip(np.rint(fixed.world_to_index([point])[0]).astype(int), fixed.size)]
        sx, sy, sz = fixed.spacing
        aspect = {"axial": sy / sx, "coronal": sz / sx, "sagittal": sz / sy}
        for name, plane in _planes(rgb, index).items():
            out[f"overlay_{name}.png"] = write_png(_square_pixels(plane, aspect[name]),
                                                   folder / f"overlay_{name}.png")
        out["overlay_montage.png"] = write_png(montage(rgb), folder / "overlay_montage.png")
    if "dicom" in formats:
        out["overlay DICOM SC"] = write_secondary_capture(rgb, fixed, folder / "overlay_sc",
                                                          patient=patient)
    return out


def _square_pixels(plane: np.ndarray, aspect: float) -> np.ndarray:
    """Stretch rows by ``aspect`` (row spacing / column spacing) so that pixels are square."""
    if abs(aspect - 1) < 1e-3:
        return plane
    rows = np.clip(np.round(np.arange(round(plane.shape[0] * aspect)) / aspect).astype(int), 0,
                   plane.shape[0] - 1)
    return plane[rows]


def _orientation_letter(axis: np.ndarray) -> str:
    """DICOM patient-orientation letter of an LPS direction (its dominant component)."""
    k = int(np.argmax(np.abs(axis[:3])))
    return ("LR", "PA", "HF")[k][0 if axis[k] > 0 else 1]


def write_secondary_capture(rgb: np.ndarray, reference: Volume, folder: str | Path, *,
                            patient: dict[str, str] | None = None,
                            series_description: str = "MedFuse fused overlay",
                            series_number: int = _SC_SERIES) -> Path:
    """Axial RGB slices (on ``reference``'s grid) as a DICOM Secondary Capture series (highdicom),
    one file per slice, in the reference's study and frame of reference when it came from DICOM;
    written atomically as a folder.

    Each slice carries its place (ImagePositionPatient, ImageOrientationPatient, PixelSpacing,
    SliceThickness, FrameOfReferenceUID), so dcm2niix and viewers stack it on the reference's
    geometry: a colour object a PACS shows as what it is, not as an MR series.
    """
    from medfuse._optional import require

    require("highdicom")
    import highdicom as hd
    from pydicom.uid import generate_uid

    from medfuse.io._atomic import atomic_dir
    from medfuse.io.dicom_writer import DEIDENTIFICATION, right_handed

    folder = Path(folder)
    patient = patient or {}
    study_uid = reference.meta.get("study_uid") or generate_uid()
    frame_uid = reference.meta.get("frame_of_reference_uid") or generate_uid()
    series_uid = generate_uid()
    planes, origin, direction = right_handed(reference.with_array(rgb, meta={"rgb": True}))
    sx, sy, sz = reference.spacing
    orientation = tuple(_orientation_letter(direction[:, j]) for j in (0, 1))
    with atomic_dir(folder) as tmp:
        for k, plane in enumerate(planes):
            sc = hd.sc.SCImage(
                pixel_array=np.ascontiguousarray(plane), photometric_interpretation="RGB",
                bits_allocated=8, coordinate_system="PATIENT", study_instance_uid=study_uid,
                series_instance_uid=series_uid, series_number=series_number,
                sop_instance_uid=generate_uid(), instance_number=k + 1, manufacturer="MedFuse",
                patient_id=patient.get("id") or "MEDFUSE",
                patient_name=patient.get("name") or "Anonymous^",
                patient_birth_date=patient.get("birth_date") or None,
                patient_sex=patient.get("sex") or None, study_id="1", laterality=None,
                pixel_spacing=(float(sy), float(sx)), series_description=series_description,
                patient_orientation=orientation,
            )
            sc.Laterality = ""
            if not patient:
                sc.PatientIdentityRemoved, sc.DeidentificationMethod = "YES", DEIDENTIFICATION
            sc.FrameOfReferenceUID = frame_uid
            sc.ImageOrientationPatient = [round(float(v), 8) for v in
                                          (*direction[:, 0], *direction[:, 1])]
            sc.ImagePositionPatient = [round(float(v), 4) for v in
                                       origin + direction[:, 2] * sz * k]
            sc.SliceThickness = round(float(sz), 6)
            sc.save_as(tmp / f"{k + 1:04d}.dcm", enforce_file_format=True)
    return folder


def export_transforms(registrations: Mapping[str, Any], folder: str | Path) -> dict[str, Path]:
    """Each registration (by name; None where scanner alignment was kept) into ``folder/<name>/``:
    its own ``save`` (``transform.tfm`` + elastix ``TransformParameters.*.txt``), or the ITK
    transform file alone for results that only carry a ``transform``."""
    import SimpleITK as sitk

    from medfuse.io._atomic import atomic_path

    folder = Path(folder)
    out: dict[str, Path] = {}
    for name, reg in registrations.items():
        if reg is None:
            continue
        target = folder / name
        if hasattr(reg, "save"):
            reg.save(target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            with atomic_path(target / "transform.tfm") as tmp:
                sitk.WriteTransform(reg.transform, str(tmp))
        out[name] = target
    return out

"""Exports of a study: volumes (NIfTI, DICOM series), fused RGB overlays (PNG planes, a montage, a
DICOM Secondary Capture series), masks (DICOM SEG) and transforms (ITK ``.tfm``, elastix files).

Every file is written atomically through the io writers; DICOM series join the fixed series' study
and frame of reference when it was loaded from DICOM.

Examples
--------
>>> import numpy as np
>>> from medfuse.volume import Volume
>>> ct = Volume(np.linspace(-200, 300, 4 * 8 * 8).reshape(4, 8, 8), modality="CT", units="HU")
>>> overlay_rgb(ct, None).shape
(4, 8, 8, 3)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.volume import Volume

logger = logging.getLogger(__name__)

#: DICOM modalities that ``write_dicom_series`` stores as images
_DICOM_IMAGE_MODALITIES = ("CT", "MR", "PT", "NM")


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


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


def export_volumes(result: Any, folder: str | Path, *, dicom: bool = True) -> dict[str, Path]:
    """Registered (and fused) volumes as NIfTI and, for CT/MR/PET/SPECT, as DICOM series in the
    fixed series' study and frame of reference."""
    from medfuse.io import write_dicom_series, write_nifti

    folder = Path(folder)
    out: dict[str, Path] = {}
    named = [(f"registered_{i + 1}_{_slug(v.modality)}", v) for i, v in enumerate(result.registered)]
    if result.fused is not None:
        named.append(("fused", result.fused))
    for number, (name, volume) in enumerate(named, start=1):
        out[f"{name}.nii.gz"] = write_nifti(volume, folder / f"{name}.nii.gz")
        if dicom and not volume.is_rgb and volume.modality in _DICOM_IMAGE_MODALITIES:
            out[f"{name} DICOM"] = write_dicom_series(
                volume, folder / f"{name}_dicom", reference=result.fixed,
                series_description=f"MedFuse {name.replace('_', ' ')}",
                series_number=9000 + number, overwrite=True)
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


def export_overlays(result: Any, folder: str | Path, point: Sequence[float], *,
                    secondary_capture: bool = True) -> dict[str, Path]:
    """The fused RGB overlay (fixed + first functional series) as PNG planes through ``point``
    (pixels resampled to square), a PNG montage of axial slices, and a DICOM Secondary Capture series."""
    from medfuse.io import write_png
    from medfuse.modalities import get_modality

    folder = Path(folder)
    functional = [r for r in result.registered if get_modality(r.modality).functional]
    partner = (functional or result.registered or [None])[0]
    rgb = overlay_rgb(result.fixed, partner)
    index = [int(np.clip(i, 0, n - 1)) for i, n in
             zip(np.rint(result.fixed.world_to_index([point])[0]).astype(int), result.fixed.size)]
    sx, sy, sz = result.fixed.spacing
    aspect = {"axial": sy / sx, "coronal": sz / sx, "sagittal": sz / sy}
    out: dict[str, Path] = {}
    for name, plane in _planes(rgb, index).items():
        out[f"overlay_{name}.png"] = write_png(_square_pixels(plane, aspect[name]),
                                               folder / f"overlay_{name}.png")
    out["overlay_montage.png"] = write_png(montage(rgb), folder / "overlay_montage.png")
    if secondary_capture and result.fixed.ndim == 3:
        out["overlay DICOM SC"] = write_secondary_capture(rgb, result.fixed, folder / "overlay_sc")
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


def write_secondary_capture(rgb: np.ndarray, reference: Volume, folder: str | Path) -> Path:
    """Axial RGB slices as a DICOM Secondary Capture series (highdicom), one file per slice, in the
    reference's study when it came from DICOM; written atomically as a folder."""
    from medfuse._optional import require

    require("highdicom")
    import highdicom as hd
    from pydicom.uid import generate_uid

    from medfuse.io._atomic import atomic_dir

    folder = Path(folder)
    study_uid = reference.meta.get("study_uid") or generate_uid()
    series_uid = generate_uid()
    sx, sy, _ = reference.spacing
    orientation = tuple(_orientation_letter(reference.direction[:, j]) for j in (0, 1))
    with atomic_dir(folder) as tmp:
        for k, plane in enumerate(rgb):
            sc = hd.sc.SCImage(
                pixel_array=np.ascontiguousarray(plane), photometric_interpretation="RGB",
                bits_allocated=8, coordinate_system="PATIENT", study_instance_uid=study_uid,
                series_instance_uid=series_uid, series_number=9100,
                sop_instance_uid=generate_uid(), instance_number=k + 1, manufacturer="MedFuse",
                patient_id="ANONYMOUS", patient_name="Anonymous",
                pixel_spacing=(float(sy), float(sx)), series_description="MedFuse fused overlay",
                patient_orientation=orientation,
            )
            sc.save_as(tmp / f"{k + 1:04d}.dcm", enforce_file_format=True)
    return folder


def export_masks_seg(masks: Sequence[Volume], reference_folder: str | Path, folder: str | Path) -> Path:
    """Label maps on the fixed grid as one DICOM SEG (highdicom) referencing the fixed DICOM series.

    Sound only where the fixed series came from DICOM (the SEG references its instances) and the
    masks lie on its grid (mapped by nearest neighbour otherwise).
    """
    import highdicom as hd
    import pydicom
    from pydicom.uid import generate_uid

    from medfuse.errors import InvalidSeriesError
    from medfuse.io._atomic import atomic_path

    reference_folder = Path(reference_folder)
    files = sorted(p for p in reference_folder.rglob("*") if p.is_file())
    sources = [pydicom.dcmread(p) for p in files]
    sources = [ds for ds in sources if "ImagePositionPatient" in ds]
    if not sources:
        raise InvalidSeriesError("no DICOM image to reference in a SEG", path=reference_folder)
    from medfuse.io import load

    grid = load(reference_folder)
    normal = grid.direction[:, 2]
    sources.sort(key=lambda ds: float(np.dot(np.asarray(ds.ImagePositionPatient, float), normal)))
    labels, descriptions = np.zeros(grid.array.shape, np.uint8), []
    for mask in masks:
        mapped = mask if mask.same_grid(grid) else mask.resample_to(grid, interpolation="nearest")
        for value, name in (mapped.meta.get("labels") or {1: "ROI"}).items():
            number = len(descriptions) + 1
            labels[np.asarray(mapped.array) == int(value)] = number
            descriptions.append(hd.seg.SegmentDescription(
                segment_number=number, segment_label=str(name)[:64],
                segmented_property_category=hd.sr.CodedConcept("49755003", "SCT",
                                                               "Morphologically Altered Structure"),
                segmented_property_type=hd.sr.CodedConcept("108369006", "SCT", "Neoplasm"),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL))
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=labels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=9200,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="MedFuse",
        manufacturer_model_name="MedFuse", software_versions="medfuse", device_serial_number="0")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "seg.dcm") as tmp:
        seg.save_as(tmp)
    return folder / "seg.dcm"


def export_transforms(result: Any, folder: str | Path) -> dict[str, Path]:
    """Each registration's transform: its own ``save`` (ITK ``.tfm`` + elastix parameter files), or
    the ITK transform file alone."""
    import SimpleITK as sitk

    from medfuse.io._atomic import atomic_path

    folder = Path(folder)
    out: dict[str, Path] = {}
    for i, reg in enumerate(result.registrations):
        if reg is None:
            continue
        target = folder / f"transform_{i + 1}"
        if hasattr(reg, "save"):
            reg.save(target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            with atomic_path(target / "transform.tfm") as tmp:
                sitk.WriteTransform(reg.transform, str(tmp))
        out[f"transform_{i + 1}"] = target
    return out


def export_study(result: Any, folder: str | Path, point: Sequence[float] | None = None, *,
                 dicom: bool = True) -> dict[str, Path]:
    """All exports of a study into ``folder`` (volumes, overlays, masks as SEG, transforms)."""
    folder = Path(folder)
    point = result.fixed.center() if point is None else point
    out = export_volumes(result, folder / "volumes", dicom=dicom)
    out.update(export_overlays(result, folder / "overlays", point, secondary_capture=dicom))
    source = result.fixed.meta.get("source")
    if dicom and result.masks and result.fixed.meta.get("format") == "dicom" and source:
        out["masks DICOM SEG"] = export_masks_seg(result.masks, source, folder / "masks_seg")
    out.update(export_transforms(result, folder / "transforms"))
    return out

"""DICOM SEG: read one label map per segment, named after it; write label maps as one SEG.

The reader places each frame by its own plane position and orientation (PS3.3 C.8.20.2.1), so a
SEG opens on its own grid whatever series it references. The writer (highdicom) references the
instances of its source series, so it reads that series' headers (and its grid) from disk: it
belongs with the readers, and the report layer reads nothing.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.volume import Volume

__all__ = ["SEG_SERIES", "SEG_SOP_CLASS", "is_seg", "read_seg", "write_seg"]

#: the series number of a MedFuse SEG
SEG_SERIES = 9200
#: Segmentation Storage
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def is_seg(path: str | Path) -> bool:
    """True for a DICOM file whose Modality is SEG or whose SOP class is Segmentation Storage
    (headers only are read)."""
    import pydicom

    from medfuse.io.paths import is_dicom_file

    if not is_dicom_file(path):  # NIfTI, PNG, folders: no DICOM preamble, nothing parsed
        return False
    header = pydicom.dcmread(path, stop_before_pixels=True, force=True,
                             specific_tags=["Modality", "SOPClassUID"])
    return header.get("SOPClassUID") == SEG_SOP_CLASS or header.get("Modality") == "SEG"


def _item(ds: Any, sequence: str) -> Any:
    """The first item of ``sequence`` in ``ds``, or None."""
    items = ds.get(sequence)
    return items[0] if items else None


def _frame_geometry(ds: Any, path: Path) -> tuple[np.ndarray, np.ndarray, tuple[float, float],
                                                   list[int], float | None]:
    """Per-frame LPS positions, the 3x3 direction, pixel spacing (row, column), the segment number
    of each frame and the spacing between slices when stated."""
    from medfuse.errors import InvalidSeriesError

    shared = _item(ds, "SharedFunctionalGroupsSequence")
    frames = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
    if not frames:
        raise InvalidSeriesError("DICOM SEG without per-frame functional groups", path=path)

    def find(frame: Any, sequence: str) -> Any:
        return _item(frame, sequence) or (_item(shared, sequence) if shared is not None else None)

    orientation, measures = find(frames[0], "PlaneOrientationSequence"), find(frames[0],
                                                                               "PixelMeasuresSequence")
    if orientation is None or measures is None:
        raise InvalidSeriesError("DICOM SEG without plane orientation or pixel spacing", path=path)
    row, column = (np.asarray(v, float) for v in np.reshape(orientation.ImageOrientationPatient,
                                                            (2, 3)))
    direction = np.column_stack([row, column, np.cross(row, column)])
    positions, segments = [], []
    for number, frame in enumerate(frames, start=1):
        plane, ident = find(frame, "PlanePositionSequence"), find(frame, "SegmentIdentificationSequence")
        if plane is None or ident is None:
            raise InvalidSeriesError(f"DICOM SEG frame {number} has no plane position or segment",
                                     path=path)
        positions.append(np.asarray(plane.ImagePositionPatient, float))
        segments.append(int(ident.ReferencedSegmentNumber))
    spacing = tuple(float(v) for v in measures.PixelSpacing)
    between = measures.get("SpacingBetweenSlices") or measures.get("SliceThickness")
    return np.asarray(positions), direction, (spacing[0], spacing[1]), segments, (
        float(between) if between else None)


def read_seg(path: str | Path) -> list[Volume]:
    """One label map per segment of a DICOM SEG (BINARY or FRACTIONAL), on the SEG's own grid.

    Each volume is 1 inside its segment (uint8, units ``label``), ``meta["labels"] = {1: name}``
    and ``meta["description"]`` the segment label, ``meta["color"]`` its recommended colour (RGB
    0-255) when the SEG gives one. Frames sit at their own plane positions; the grid spans every
    frame of the file, slice spacing from the frames (or SpacingBetweenSlices with one plane).

    Raises
    ------
    InvalidSeriesError
        Not a DICOM SEG, or frames without the geometry to place them.
    """
    import pydicom

    from medfuse.errors import InvalidSeriesError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except Exception as err:  # noqa: BLE001 - pydicom raises many kinds
        raise InvalidSeriesError(f"cannot read as DICOM ({err})", path=path) from err
    if ds.get("Modality") != "SEG" and ds.get("SOPClassUID") != SEG_SOP_CLASS:
        raise InvalidSeriesError(f"not a DICOM SEG (Modality {ds.get('Modality')!r})", path=path)
    positions, direction, (row_mm, column_mm), segments, between = _frame_geometry(ds, path)
    pixels = np.asarray(ds.pixel_array).reshape(len(segments), int(ds.Rows), int(ds.Columns))
    if ds.get("SegmentationType") == "FRACTIONAL":
        pixels = pixels * 2 > int(ds.get("MaximumFractionalValue", 255))
    normal = direction[:, 2]
    heights = positions @ normal
    distinct = np.unique(np.round(heights, 3))
    step = float(np.min(np.diff(distinct))) if len(distinct) > 1 else (between or 1.0)
    slices = np.round((heights - distinct[0]) / step).astype(int)
    origin = positions[int(np.argmin(heights))]
    shape = (int(slices.max()) + 1, int(ds.Rows), int(ds.Columns))
    volumes = []
    for item in ds.get("SegmentSequence") or []:
        number = int(item.SegmentNumber)
        name = str(item.get("SegmentLabel") or f"segment {number}")
        array = np.zeros(shape, np.uint8)
        for index in np.flatnonzero(np.asarray(segments) == number):
            array[slices[index]] |= np.asarray(pixels[index] > 0, np.uint8)
        meta: dict[str, Any] = {"source": str(path), "labels": {1: name}, "description": name,
                                "format": "seg", "label_map": True,
                                "series_uid": str(ds.get("SeriesInstanceUID", "")) or None,
                                "frame_of_reference": str(ds.get("FrameOfReferenceUID", "")) or None}
        lab = item.get("RecommendedDisplayCIELabValue")
        if lab is not None:
            meta["color"] = _cielab_to_rgb(lab)
        volumes.append(Volume(array, spacing=(column_mm, row_mm, step), origin=tuple(origin),
                              direction=direction, modality="SEG", units="label", meta=meta))
    if not volumes:
        raise InvalidSeriesError("DICOM SEG without segments", path=path)
    return volumes


def _cielab_to_rgb(value: Sequence[int]) -> tuple[int, int, int]:
    """A DICOM CIELab triplet (0-65535 each) as sRGB 0-255 (D65), as the SEG's display colour.

    Examples
    --------
    >>> _cielab_to_rgb((65535, 32896, 32896))  # L* 100, a* b* 0: white
    (255, 255, 255)
    """
    lightness = value[0] / 65535 * 100
    a, b = value[1] / 65535 * 255 - 128, value[2] / 65535 * 255 - 128
    fy = (lightness + 16) / 116
    f = np.array([fy + a / 500, fy, fy - b / 200])
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * np.array([0.95047, 1.0,
                                                                                    1.08883])
    linear = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415],
                       [0.0557, -0.2040, 1.0570]]) @ xyz
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.abs(linear) ** (1 / 2.4) - 0.055)
    return tuple(int(round(v)) for v in np.clip(srgb, 0, 1) * 255)  # type: ignore[return-value]


def _segments(mask: Volume) -> dict[int, str]:
    """Label value -> name: the mask's own ``labels``, else one segment per value present."""
    labels = mask.meta.get("labels")
    if labels:
        return {int(v): str(name) for v, name in labels.items()}
    values = np.unique(np.asarray(mask.array))
    return {int(v): f"label {int(v)}" for v in values if v != 0}


def write_seg(masks: Sequence[Volume], reference_folder: str | Path, folder: str | Path, *,
                     patient: dict[str, str] | None = None) -> Path:
    """Label maps as one DICOM SEG (highdicom) referencing the fixed DICOM series, ``folder/seg.dcm``.

    Sound only where the fixed series came from DICOM (the SEG references its instances); masks not
    on its grid are mapped onto it by nearest neighbour. Each label value is one segment. Without
    ``patient`` the patient module is replaced by anonymous placeholders.

    Raises
    ------
    InvalidSeriesError
        ``reference_folder`` holds no DICOM image.
    """
    import highdicom as hd
    import pydicom

    from medfuse.errors import InvalidSeriesError
    from medfuse.io import load
    from medfuse.io._atomic import atomic_path
    from medfuse.io.dicom_writer import DEIDENTIFICATION

    reference_folder = Path(reference_folder)
    files = sorted(p for p in reference_folder.rglob("*") if p.is_file())
    sources = [pydicom.dcmread(p, force=True) for p in files]
    sources = [ds for ds in sources if "ImagePositionPatient" in ds and "PixelData" in ds]
    if not sources:
        raise InvalidSeriesError("no DICOM image to reference in a SEG", path=reference_folder)
    grid = load(reference_folder)
    sources = [ds for ds in sources if ds.get("SeriesInstanceUID") == grid.meta.get("series_uid")] \
        or sources
    normal = grid.direction[:, 2]
    sources.sort(key=lambda ds: float(np.dot(np.asarray(ds.ImagePositionPatient, float), normal)))
    labels, descriptions = np.zeros(grid.array.shape, np.uint8), []
    for mask in masks:
        mapped = mask if mask.same_grid(grid) else mask.resample_to(grid, interpolation="nearest")
        for value, name in _segments(mapped).items():
            number = len(descriptions) + 1
            labels[np.asarray(mapped.array) == value] = number
            descriptions.append(hd.seg.SegmentDescription(
                segment_number=number, segment_label=name[:64],
                segmented_property_category=hd.sr.CodedConcept("49755003", "SCT",
                                                               "Morphologically Altered Structure"),
                segmented_property_type=hd.sr.CodedConcept("108369006", "SCT", "Neoplasm"),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL))
    pydicom_log = logging.getLogger("pydicom")
    level = pydicom_log.level
    with warnings.catch_warnings():  # highdicom doubts one-word names it copies from the sources,
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
        warnings.filterwarnings("ignore", message=".*exceeds the maximum length.*")  # cut below
        pydicom_log.setLevel(logging.ERROR)  # pydicom logs the over-long StudyID it copies too
        try:
            seg = _segmentation(hd, sources, labels, descriptions)
        finally:
            pydicom_log.setLevel(level)
    if not patient:  # highdicom copies the sources' patient module
        seg.PatientName, seg.PatientID, seg.PatientBirthDate, seg.PatientSex = \
            "Anonymous^", "MEDFUSE", "", ""
        seg.PatientIdentityRemoved, seg.DeidentificationMethod = "YES", DEIDENTIFICATION
    seg.StudyID = str(seg.get("StudyID") or "")[:16]  # SH: sources may carry longer ones
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "seg.dcm") as tmp:
        seg.save_as(tmp)
    return folder / "seg.dcm"


def _segmentation(hd: Any, sources: list[Any], labels: np.ndarray, descriptions: list[Any]) -> Any:
    """One BINARY DICOM SEG of ``labels`` (segment numbers) over the ``sources`` instances."""
    from pydicom.uid import generate_uid

    return hd.seg.Segmentation(
        source_images=sources, pixel_array=labels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=generate_uid(),
        series_number=SEG_SERIES, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="MedFuse", manufacturer_model_name="MedFuse", software_versions="medfuse",
        device_serial_number="0", series_description="MedFuse masks")

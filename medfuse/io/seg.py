"""Label maps as one DICOM SEG (highdicom) over the DICOM series they were drawn on.

A SEG references the instances of its source series, so the writer reads that series' headers (and
its grid) from disk: it belongs with the readers, and the report layer reads nothing.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.volume import Volume

__all__ = ["SEG_SERIES", "write_seg"]

#: the series number of a MedFuse SEG
SEG_SERIES = 9200


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

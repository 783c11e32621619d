"""Write a ``Volume`` as a new classic single-frame DICOM series (one file per slice).

The series gets a new SeriesInstanceUID; its StudyInstanceUID and FrameOfReferenceUID come from the
volume it was registered to (``reference``), so that viewers overlay it on that study. Geometry is
written as DICOM states it (ImagePositionPatient per slice, ImageOrientationPatient, PixelSpacing in
(row, column) = (y, x) order, SpacingBetweenSlices), values as integers with one RescaleSlope and
RescaleIntercept for the whole series, chosen so that integers are stored exactly and floats lose less
than half a slope.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import GeometryError, InputError, InvalidSeriesError
from medfuse.io._atomic import atomic_dir
from medfuse.volume import Volume

log = logging.getLogger(__name__)

__all__ = ["DEIDENTIFICATION", "right_handed", "storage_for", "write_dicom_series"]

#: Volume.modality -> (SOP Class UID, DICOM Modality). SPECT reconstructions are stored the way
#: vendors often export them: PET Image Storage (its geometry is read by every toolkit) with Modality NM.
_SOP_CLASS = {
    "CT": ("1.2.840.10008.5.1.4.1.1.2", "CT"),
    "MR": ("1.2.840.10008.5.1.4.1.1.4", "MR"),
    "PT": ("1.2.840.10008.5.1.4.1.1.128", "PT"),
    "NM": ("1.2.840.10008.5.1.4.1.1.128", "NM"),
}
#: Volume.units -> DICOM PET Units (0054,1001)
_PET_UNITS = {"BQML": "BQML", "SUVbw": "GML", "GML": "GML", "CNTS": "CNTS"}
_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.1"  # pydicom's root, as generate_uid uses it
#: DeidentificationMethod (0012,0063) of every object written without the patient's identity
DEIDENTIFICATION = "MedFuse: patient module replaced by placeholders"


def storage_for(array: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Integer pixels and ``(slope, intercept)`` that represent ``array`` in 16 bits.

    Integer data that fits int16 (or uint16) is stored as is with slope 1 and intercept 0; anything
    else is scaled linearly over its range, which keeps every value within ``slope / 2``.

    Examples
    --------
    >>> pixels, slope, intercept = storage_for(np.array([-1000, 0, 3000], np.int16))
    >>> pixels.dtype.name, slope, intercept
    ('int16', 1.0, 0.0)
    >>> pixels, slope, intercept = storage_for(np.array([0.0, 0.5, 1234.5]))
    >>> pixels.dtype.name, bool(abs(pixels[-1] * slope + intercept - 1234.5) <= slope / 2)
    ('uint16', True)
    """
    values = np.asarray(array)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise InvalidSeriesError("cannot store an empty array or one with NaN/inf values as DICOM")
    lo, hi = values.min(), values.max()
    exact = values.dtype.kind in "iub" or bool(np.all(values == np.round(values)))
    if exact and lo >= -32768 and hi <= 32767:
        return values.astype(np.int16), 1.0, 0.0
    if exact and lo >= 0 and hi <= 65535:
        return values.astype(np.uint16), 1.0, 0.0
    lo, hi = float(lo), float(hi)
    if lo >= 0:
        slope = _ds(max(hi, 1e-12) / 65535.0 * (1 + 1e-9))
        intercept, dtype, top = 0.0, np.uint16, 65535
    else:
        slope = _ds(max(hi - lo, 1e-12) / 65535.0 * (1 + 1e-9))
        intercept, dtype, top = _ds(lo + 32768.0 * slope), np.int16, 32767
    stored = np.round((values.astype(np.float64) - intercept) / slope)
    bottom = 0 if dtype is np.uint16 else -32768
    return np.clip(stored, bottom, top).astype(dtype), slope, intercept


def _ds(value: float) -> float:
    """``value`` as it survives a DICOM decimal string (at most 16 characters)."""
    from pydicom.valuerep import format_number_as_ds

    return float(format_number_as_ds(float(value)))


def _datetime(value: Any) -> _dt.datetime | None:
    if value is None or isinstance(value, _dt.datetime):
        return value
    return _dt.datetime.fromisoformat(str(value))


def _date_time(when: _dt.datetime) -> tuple[str, str]:
    return when.strftime("%Y%m%d"), when.strftime("%H%M%S.%f")[:13]


def _sources(*volumes: Volume | None) -> list[Path]:
    out = []
    for volume in volumes:
        if volume is not None and volume.meta.get("source"):
            out.append(Path(volume.meta["source"]).resolve())
    return out


def _check_target(folder: Path, sources: list[Path], overwrite: bool) -> None:
    from medfuse.io.paths import check_output

    check_output(folder, sources)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise InputError("output folder exists and is not empty; pass overwrite=True to replace it",
                         path=folder)


def right_handed(volume: Volume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Array, origin and direction with the slice axis along row x column (as DICOM implies)."""
    array = volume.array if volume.ndim == 3 else volume.array[np.newaxis]
    direction = np.eye(3)
    direction[: volume.ndim, : volume.ndim] = volume.direction
    origin = np.zeros(3)
    origin[: volume.ndim] = volume.origin
    normal = np.cross(direction[:, 0], direction[:, 1])
    if float(normal @ direction[:, 2]) < 0:  # left-handed grid: store the slices the other way
        spacing_z = volume.spacing[2]
        origin = origin + direction[:, 2] * spacing_z * (array.shape[0] - 1)
        direction = direction.copy()
        direction[:, 2] = -direction[:, 2]
        array = array[::-1]
    return array, origin, direction


def write_dicom_series(
    volume: Volume,
    folder: str | Path,
    *,
    reference: Volume | None = None,
    series_description: str = "MedFuse",
    modality: str | None = None,
    series_number: int | None = None,
    patient: dict[str, str] | None = None,
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_uid: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``volume`` as a new DICOM series, one file per slice, atomically; return the folder.

    Parameters
    ----------
    volume : a 3D (or 2D, written as one slice) grey volume; RGB images are refused.
    folder : the output folder; it must not exist, be empty, or ``overwrite`` must be set.
    reference : the volume this one was registered to (loaded from DICOM): its StudyInstanceUID and
        FrameOfReferenceUID are reused. Without it they come from ``volume.meta``, else are new.
    series_description, series_number : written as such (series number 1000 by default).
    modality : ``CT``, ``MR``, ``PT`` or ``NM``; by default ``volume.modality``.
    patient : ``{"name", "id", "birth_date", "sex"}``; by default anonymous placeholders.
    study_uid, frame_of_reference_uid, series_uid : explicit UIDs, overriding the above (a
        deterministic ``series_uid`` makes every SOPInstanceUID deterministic too).
    overwrite : replace a non-empty ``folder``.

    PET values are described by ``volume.units`` (``BQML``; ``SUVbw`` is written as Units ``GML``) and
    ``volume.meta["pet"]``: ``patient_weight_kg``, ``injected_dose_bq``, ``injection_datetime``,
    ``half_life_s``, ``series_datetime``, ``decay_correction`` (default ``START``), ``radionuclide``,
    ``radiopharmaceutical``; with them, SUV can be computed from what is written.
    ``volume.meta["series_datetime"]`` dates other series (now, if absent).

    Raises
    ------
    InputError
        ``folder`` is (inside) an input folder, holds an input, or is not empty.
    GeometryError
        An RGB volume.
    InvalidSeriesError
        A modality with no DICOM image storage here, or values that are not finite.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "ct"
    >>> ct = Volume(np.full((3, 4, 5), 40, np.int16), spacing=(0.8, 0.8, 2.0), modality="CT", units="HU")
    >>> folder = write_dicom_series(ct, out)
    >>> len(list(folder.glob("*.dcm")))
    3
    """
    from pydicom.uid import generate_uid

    folder = Path(folder)
    if volume.is_rgb:
        raise GeometryError("cannot write an RGB image as a DICOM series; write a PNG instead",
                            path=folder)
    code = (modality or volume.modality).upper()
    if code not in _SOP_CLASS:
        raise InvalidSeriesError(
            f"cannot write modality {code!r} as DICOM: pass modality='CT', 'MR', 'PT' or 'NM'",
            path=folder,
        )
    _check_target(folder, _sources(volume, reference), overwrite)
    array, origin, direction = right_handed(volume)
    pixels, slope, intercept = storage_for(array)
    ref_meta = reference.meta if reference is not None else volume.meta
    uids = {
        "study": study_uid or ref_meta.get("study_uid") or generate_uid(),
        "frame": frame_of_reference_uid or ref_meta.get("frame_of_reference_uid") or generate_uid(),
        "series": series_uid or generate_uid(),
    }
    pet = dict(volume.meta.get("pet") or {})
    when = _datetime(pet.get("series_datetime") or volume.meta.get("series_datetime"))
    when = when or _dt.datetime.now().replace(microsecond=0)
    spacing = list(volume.spacing) + [1.0] * (3 - volume.ndim)
    base = _base_dataset(
        volume, code, pixels, slope, intercept, uids, when,
        series_description=series_description,
        series_number=1000 if series_number is None else series_number,
        patient=patient or {},
        orientation=[*direction[:, 0], *direction[:, 1]],
        spacing=spacing,
    )
    if code in ("PT", "NM"):
        _add_pet(base, volume, pet, when, n_slices=pixels.shape[0])
    with atomic_dir(folder) as tmp:
        for k, plane in enumerate(pixels):
            position = origin + direction[:, 2] * spacing[2] * k
            _write_slice(base, tmp / f"{k + 1:04d}.dcm", plane, k, position, uids["series"])
    log.info("wrote %d DICOM slices of %s (%s) into %s", pixels.shape[0], code, volume.units, folder)
    return folder


def _base_dataset(
    volume: Volume, code: str, pixels: np.ndarray, slope: float, intercept: float,
    uids: dict[str, str], when: _dt.datetime, *, series_description: str, series_number: int,
    patient: dict[str, str], orientation: list[float], spacing: list[float],
) -> Any:
    """The attributes shared by every slice of the series."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    import medfuse

    sop_class, dicom_modality = _SOP_CLASS[code]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = _IMPLEMENTATION_UID
    date, time = _date_time(when)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = {"CT": ["DERIVED", "SECONDARY", "AXIAL"], "PT": ["DERIVED", "PRIMARY"],
                    "NM": ["DERIVED", "PRIMARY"]}.get(code, ["DERIVED", "SECONDARY"])
    ds.SOPClassUID = sop_class
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = time
    ds.AccessionNumber = ""
    ds.Modality = dicom_modality
    ds.Manufacturer = "MedFuse"
    ds.SoftwareVersions = getattr(medfuse, "__version__", "0")
    ds.ReferringPhysicianName = ""
    ds.SeriesDescription = series_description[:64]
    ds.PatientName = patient.get("name", "Anonymous")
    ds.PatientID = patient.get("id", "MEDFUSE")
    ds.PatientBirthDate = patient.get("birth_date", "")
    ds.PatientSex = patient.get("sex", "")
    ds.PatientIdentityRemoved = "NO" if patient else "YES"
    if not patient:
        ds.DeidentificationMethod = DEIDENTIFICATION
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = uids["series"]
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.Laterality = ""
    ds.FrameOfReferenceUID = uids["frame"]
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.ImageOrientationPatient = [_ds(v) for v in orientation]
    ds.PixelSpacing = [_ds(spacing[1]), _ds(spacing[0])]
    ds.SliceThickness = _ds(spacing[2])
    ds.SpacingBetweenSlices = _ds(spacing[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[1]), int(pixels.shape[2])
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    ds.BurnedInAnnotation = "NO"
    if code != "MR" or slope != 1.0 or intercept != 0.0:  # MR is usually stored without rescale
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        if code != "PT":  # not part of the PET Image module
            ds.RescaleType = "HU" if code == "CT" else "US"
    if code == "CT":
        ds.KVP = ""
        ds.AcquisitionNumber = 1
    elif code == "MR":
        ds.ScanningSequence = "RM"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "3D"
        ds.EchoTrainLength = ""
        ds.RepetitionTime = ""
        ds.EchoTime = ""
    return ds


def _add_pet(ds: Any, volume: Volume, pet: dict[str, Any], when: _dt.datetime,
             *, n_slices: int) -> None:
    """PET series, PET image and radiopharmaceutical attributes SUV conversion reads."""
    from pydicom.dataset import Dataset

    units = _PET_UNITS.get(volume.units)
    if units is None:
        log.warning("PET units %r have no DICOM equivalent; written as CNTS", volume.units)
        units = "CNTS"
    ds.Units = units
    if units == "GML":
        ds.SUVType = "BW"
    ds.SeriesType = ["STATIC", "IMAGE"]
    ds.CollimatorType = ""
    ds.PatientOrientationCodeSequence = []  # Type 2; PatientPosition may not be present with it
    ds.PatientGantryRelationshipCodeSequence = []
    del ds.PatientPosition
    ds.CountsSource = "EMISSION"
    ds.CorrectedImage = ["DECY", "ATTN", "SCAT"]
    ds.DecayCorrection = pet.get("decay_correction", "START")
    ds.RandomsCorrectionMethod = "NONE"
    ds.AttenuationCorrectionMethod = ""
    ds.ReconstructionMethod = ""
    ds.NumberOfSlices = n_slices
    ds.FrameReferenceTime = 0
    ds.ActualFrameDuration = int(pet.get("frame_duration_ms", 180000))
    ds.DecayFactor = 1
    if "patient_weight_kg" in pet:
        ds.PatientWeight = _ds(pet["patient_weight_kg"])
    item = Dataset()
    item.Radiopharmaceutical = pet.get("radiopharmaceutical", "Fluorodeoxyglucose")
    injection = _datetime(pet.get("injection_datetime"))
    if injection is not None:
        item.RadiopharmaceuticalStartTime = _date_time(injection)[1]
        item.RadiopharmaceuticalStartDateTime = injection.strftime("%Y%m%d%H%M%S.%f")[:21]
    if "injected_dose_bq" in pet:
        item.RadionuclideTotalDose = _ds(pet["injected_dose_bq"])
    if "half_life_s" in pet:
        item.RadionuclideHalfLife = _ds(pet["half_life_s"])
    nuclide = Dataset()
    nuclide.CodeValue = "C111A1"
    nuclide.CodingSchemeDesignator = "SRT"
    nuclide.CodeMeaning = pet.get("radionuclide", "^18^Fluorine")
    item.RadionuclideCodeSequence = [nuclide]
    ds.RadiopharmaceuticalInformationSequence = [item]
    date, time = _date_time(_datetime(pet.get("acquisition_datetime")) or when)
    ds.AcquisitionDate, ds.AcquisitionTime = date, time


def _write_slice(base: Any, path: Path, plane: np.ndarray, k: int, position: np.ndarray,
                 series_uid: str) -> None:
    import copy

    from pydicom.uid import generate_uid

    ds = copy.copy(base)  # shallow: the shared sequences are only read
    ds.file_meta = copy.copy(base.file_meta)
    uid = generate_uid(entropy_srcs=[series_uid, str(k)])
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.SliceLocation = _ds(float(position @ np.cross(
        np.asarray(base.ImageOrientationPatient[:3], float),
        np.asarray(base.ImageOrientationPatient[3:], float))))
    if "NumberOfSlices" in base:
        ds.ImageIndex = k + 1
    ds.PixelData = np.ascontiguousarray(plane).tobytes()
    ds.save_as(path, enforce_file_format=True)

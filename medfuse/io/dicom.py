"""DICOM series: find the image series in a folder, and read one into a ``Volume``.

Discovery reads headers only, once, and groups image files by SeriesInstanceUID (RTSTRUCT, SEG,
DICOMDIR and files that are not DICOM are skipped). Reading places the slices along the slice normal
(``ImageOrientationPatient`` row x column cosines), checks that they make one regular grid (one
orientation and size, no gantry tilt, no missing slice, uniform spacing), applies the rescale of each
slice, and converts PET to SUVbw (:mod:`medfuse.io.suv`). The geometry matches SimpleITK's
``ImageSeriesReader``: origin = first slice position, direction columns = row cosine, column cosine,
slice normal; ``PixelSpacing`` is (row spacing, column spacing) = (y, x).

Examples
--------
>>> from medfuse.io.dicom import discover_series, read_dicom
>>> series = discover_series("../shared/data/volumes/sts/STS_001/CT")  # doctest: +SKIP
>>> read_dicom(series[0].files[0].parent).units  # doctest: +SKIP
'HU'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medfuse.errors import InputError, InvalidSeriesError
from medfuse.io._dicom_grid import Plane, frame_planes, stack_geometry
from medfuse.io.paths import has_dicm_preamble
from medfuse.volume import Volume

if TYPE_CHECKING:  # pragma: no cover
    from pydicom import Dataset

logger = logging.getLogger(__name__)

__all__ = ["DicomSeries", "discover_series", "read_dicom", "read_series"]

#: DICOM Modality values of objects that carry no image volume.
NON_IMAGE_MODALITIES = frozenset(
    {"RTSTRUCT", "RTPLAN", "RTRECORD", "SEG", "SR", "KO", "PR", "REG", "DOC", "FID", "RWV", "PLAN"}
)
#: SOP classes of non-image objects (RT structure set, plan and treatment records, segmentation,
#: registration, presentation states, structured reports, encapsulated documents)
NON_IMAGE_SOP_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.481.3", "1.2.840.10008.5.1.4.1.1.481.5", "1.2.840.10008.5.1.4.1.1.481.4",
    "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.1", "1.2.840.10008.5.1.4.1.1.66.3",
    "1.2.840.10008.5.1.4.1.1.11.1", "1.2.840.10008.5.1.4.1.1.88.11", "1.2.840.10008.5.1.4.1.1.88.22",
    "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.88.59", "1.2.840.10008.5.1.4.1.1.104.1",
})
_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
#: suffixes of files without the DICM preamble that are still tried as raw DICOM datasets
_FORCE_SUFFIXES = frozenset({"", ".dcm", ".dicom", ".ima"})
_PIXEL_DATA = 0x7FE00010
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass
class DicomFile:
    """One DICOM image file: its header (no pixels) and where its native pixel bytes start.

    ``pixel_offset`` is ``None`` when the pixels must be decoded by pydicom (compressed, big endian,
    float pixel data).
    """

    path: Path
    header: Dataset = field(repr=False)
    pixel_offset: int | None = None


@dataclass
class DicomSeries:
    """An image series found by :func:`discover_series`; ``files`` are sorted along the slice normal."""

    series_uid: str
    modality: str
    description: str
    files: list[Path]
    study_uid: str = ""
    frame_of_reference_uid: str = ""
    n_files: int = field(init=False)
    entries: list[DicomFile] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.n_files = len(self.files)


# ----------------------------------------------------------------------------- discovery
def discover_series(path: str | Path) -> list[DicomSeries]:
    """Find the DICOM image series in a folder (searched recursively) or a single file.

    Parameters
    ----------
    path : a folder or one DICOM file.

    Returns
    -------
    The series, ordered by study, series number and UID; each series' files sorted by position along
    its slice normal.

    Raises
    ------
    InputError
        The path does not exist or the folder is empty.
    InvalidSeriesError
        A DICOM file is unreadable or truncated, or no image series was found.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if not candidates:
        raise InputError("folder is empty: no files to read", path=path)
    groups: dict[str, list[DicomFile]] = {}
    skipped = 0
    for candidate in candidates:
        entry = _read_header(candidate)
        if entry is None:
            skipped += 1
            continue
        groups.setdefault(str(entry.header.get("SeriesInstanceUID", "") or ""), []).append(entry)
    if not groups:
        raise InvalidSeriesError(
            f"no DICOM image series found among {len(candidates)} file(s) (non-DICOM files and "
            "non-image objects such as RTSTRUCT, SEG or DICOMDIR are skipped)",
            path=path,
        )
    logger.debug("%s: %d series, %d file(s) skipped", path, len(groups), skipped)
    found = [_make_series(uid, entries) for uid, entries in groups.items()]
    return sorted(found, key=lambda s: (s.study_uid, _series_number(s), s.series_uid))


def _series_number(series: DicomSeries) -> int:
    try:
        return int(series.entries[0].header.get("SeriesNumber") or 0)
    except (TypeError, ValueError):
        return 0


def _make_series(uid: str, entries: list[DicomFile]) -> DicomSeries:
    entries = sorted(entries, key=_sort_key(entries))
    first = entries[0].header
    return DicomSeries(
        series_uid=uid,
        modality=str(first.get("Modality", "") or ""),
        description=str(first.get("SeriesDescription", "") or ""),
        files=[e.path for e in entries],
        study_uid=str(first.get("StudyInstanceUID", "") or ""),
        frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "") or ""),
        entries=entries,
    )


def _sort_key(entries: list[DicomFile]) -> Any:
    """Position along the first file's slice normal; InstanceNumber when positions are missing."""
    orientation = entries[0].header.get("ImageOrientationPatient")
    have_positions = orientation and all(e.header.get("ImagePositionPatient") for e in entries)
    if have_positions:
        iop = np.asarray(orientation, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        return lambda e: (float(np.dot(normal, np.asarray(e.header.ImagePositionPatient, float))),
                          str(e.path))
    return lambda e: (_int(e.header.get("InstanceNumber")), str(e.path))


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _read_header(path: Path) -> DicomFile | None:
    """The header of an image file; ``None`` for non-DICOM files and non-image objects."""
    import pydicom

    with path.open("rb") as fh:
        preamble = fh.read(132)
        is_dicm = has_dicm_preamble(preamble)
        if not is_dicm and path.suffix.lower() not in _FORCE_SUFFIXES:
            return None
        fh.seek(0)
        try:
            header = pydicom.dcmread(fh, stop_before_pixels=True, force=not is_dicm)
            pixel_tag_at = fh.tell()
            element = fh.read(12)
        except Exception as err:  # pydicom raises many types on corrupt input
            if not is_dicm:
                return None
            raise InvalidSeriesError(f"unreadable or truncated DICOM file ({err})", path=path) from err
    if not is_dicm and not ("SOPClassUID" in header or "Rows" in header):
        return None  # forced read of something that is not DICOM
    file_meta = getattr(header, "file_meta", None)
    sop_class = str(header.get("SOPClassUID", "") or (file_meta or {}).get("MediaStorageSOPClassUID", ""))
    modality = str(header.get("Modality", "") or "").upper()
    if sop_class == _DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in header:
        return None
    if modality in NON_IMAGE_MODALITIES or sop_class in NON_IMAGE_SOP_CLASSES:
        return None
    if len(element) < 8:  # the file ends before any pixel data
        if not is_dicm and "Rows" not in header:
            return None
        raise InvalidSeriesError(
            "truncated or corrupt DICOM file: no pixel data found "
            f"({len(header)} readable header elements in {path.stat().st_size} bytes)",
            path=path,
        )
    if "Rows" not in header or "Columns" not in header:
        return None
    return DicomFile(path, header, _native_pixel_offset(path, header, pixel_tag_at, element))


def _native_pixel_offset(path: Path, header: Dataset, tag_at: int, element: bytes) -> int | None:
    """Byte offset of little-endian native PixelData, after checking the file holds all of it."""
    implicit_vr, little_endian = header.original_encoding
    if not little_endian:
        return None
    group, elem = int.from_bytes(element[0:2], "little"), int.from_bytes(element[2:4], "little")
    if (group << 16 | elem) != _PIXEL_DATA:
        return None  # float/double pixel data: pydicom decodes it
    if implicit_vr:
        length, value_at = int.from_bytes(element[4:8], "little"), tag_at + 8
    else:
        length, value_at = int.from_bytes(element[8:12], "little"), tag_at + 12
    if length == _UNDEFINED_LENGTH:
        return None  # encapsulated (compressed) pixel data
    expected = _expected_pixel_bytes(header)
    available = path.stat().st_size - value_at
    if expected > min(length, available):
        raise InvalidSeriesError(
            f"truncated or corrupt DICOM file: pixel data holds {min(length, available)} bytes, "
            f"{expected} expected for {header.Rows}x{header.Columns}x{_n_frames(header)} "
            f"at {header.get('BitsAllocated')} bits",
            path=path,
        )
    return value_at


def _n_frames(header: Dataset) -> int:
    return max(_int(header.get("NumberOfFrames"), 1), 1)


def _expected_pixel_bytes(header: Dataset) -> int:
    bits = _int(header.get("BitsAllocated"), 16)
    samples = _int(header.get("SamplesPerPixel"), 1)
    return int(header.Rows) * int(header.Columns) * _n_frames(header) * samples * bits // 8


# ----------------------------------------------------------------------------- reading
def read_dicom(path: str | Path, *, series_uid: str | None = None, suv: bool = True) -> Volume:
    """Read one DICOM image series (a folder or a single, possibly multi-frame, file) into a ``Volume``.

    Parameters
    ----------
    path : a folder (searched recursively) or one DICOM file.
    series_uid : the SeriesInstanceUID to read when the folder holds several series.
    suv : convert PET to SUVbw when the headers allow it (else it loads in its stored units, with a
        logged warning saying what was missing).

    Raises
    ------
    InputError
        The path does not exist or is empty.
    InvalidSeriesError
        No image series, several series and no ``series_uid``, or slices that do not make one
        regular grid (the message names the file and the problem).
    """
    path = Path(path)
    found = discover_series(path)
    if series_uid is not None:
        chosen = [s for s in found if s.series_uid == series_uid]
        if not chosen:
            raise InvalidSeriesError(
                f"no series with SeriesInstanceUID {series_uid}; found: {_listing(found)}", path=path
            )
        return read_series(chosen[0], suv=suv, source=path)
    if len(found) > 1:
        raise InvalidSeriesError(
            f"holds {len(found)} image series: {_listing(found)}; choose one with "
            f"series_uid=... (run `medfuse info {path}` to list them)",
            path=path,
        )
    return read_series(found[0], suv=suv, source=path)


def _listing(found: list[DicomSeries]) -> str:
    return "; ".join(
        f"{s.series_uid} ({s.modality or '?'}, '{s.description}', {s.n_files} files)" for s in found
    )


def read_series(series: DicomSeries, *, suv: bool = True, source: str | Path | None = None) -> Volume:
    """Read a series found by :func:`discover_series` (headers are not read again).

    ``source`` is recorded in ``meta["source"]`` (default: the folder of the first file).
    """
    from medfuse.modalities import modality_for_dicom

    entries = series.entries
    first = entries[0].header
    where = Path(source) if source is not None else entries[0].path.parent
    spec = modality_for_dicom(series.modality, str(first.get("SOPClassUID", "") or ""))
    if spec.code == "PT" and is_spect(first):  # a SPECT stored as PET Image Storage
        from medfuse.modalities import get_modality

        spec = get_modality("NM")
    if spec.loader is not None and len(entries) == 1:  # a plugin modality reads its own objects
        from medfuse.io.plugin_dispatch import load_with_plugin

        return load_with_plugin(spec, entries[0].path)
    _check_supported(entries)
    planes = _planes(entries)
    spacing, origin, direction, order = stack_geometry(planes, where=where)
    planes = [planes[i] for i in order]
    stored_units = str(first.get("Units", "") or "").strip().upper() or None
    factor, units, note = _value_units(spec.code, stored_units, [e.header for e in entries], suv,
                                       spec.default_units, where)
    array = _read_pixels(planes, entries, factor=factor if factor != 1.0 else None)
    meta: dict[str, Any] = {
        "format": "dicom",
        "source": str(where),
        "series_uid": series.series_uid,
        "study_uid": series.study_uid,
        "frame_of_reference_uid": series.frame_of_reference_uid,
        "description": series.description,
        "dicom_modality": series.modality,
        "acquisition_datetime": _acquisition_datetime(first),
        "n_files": series.n_files,
        "suv_factor": factor if spec.code in ("PT", "NM") else None,
        "stored_units": stored_units,
    }
    if note:
        meta["suv_unavailable"] = note
    return Volume(array, spacing=spacing, origin=origin, direction=direction, modality=spec.code,
                  units=units, meta=meta)


#: single-photon emitters (DICOM radionuclide code meanings, lower case, digits and letters only)
_SPECT_NUCLIDES = ("lutetium", "technetium", "iodine123", "123iodine", "indium", "thallium",
                   "gallium67", "67gallium", "iodine131", "131iodine", "xenon133", "133xenon")


def is_spect(header: Dataset) -> bool:
    """True for a SPECT reconstruction whatever its Modality tag (PT objects from SPECT systems):
    "SPECT" in the series description (Siemens' "xSPECT"), a manufacturer naming its NM line
    ("SIEMENS NM"), or a single-photon radionuclide (Lu-177, Tc-99m, I-123 ...).

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset(); ds.SeriesDescription = "C2S1D0 [xSPECT48iNOFILT - AC ]"
    >>> is_spect(ds), is_spect(Dataset())
    (True, False)
    """
    text = " ".join(str(header.get(k, "") or "") for k in ("SeriesDescription", "ProtocolName"))
    manufacturer = str(header.get("Manufacturer", "") or "").upper().split()
    if "SPECT" in text.upper() or "NM" in manufacturer:
        return True
    for item in header.get("RadiopharmaceuticalInformationSequence", None) or []:
        for code in item.get("RadionuclideCodeSequence", None) or []:
            meaning = "".join(c for c in str(code.get("CodeMeaning", "")).lower() if c.isalnum())
            if any(n in meaning for n in _SPECT_NUCLIDES):
                return True
    return False


def _check_supported(entries: list[DicomFile]) -> None:
    for entry in entries:
        samples = _int(entry.header.get("SamplesPerPixel"), 1)
        if samples != 1:
            raise InvalidSeriesError(
                f"colour DICOM ({samples} samples per pixel, "
                f"{entry.header.get('PhotometricInterpretation')}) is not supported; export it as PNG",
                path=entry.path,
            )
    if len(entries) > 1 and any(_n_frames(e.header) > 1 for e in entries):
        multi = next(e for e in entries if _n_frames(e.header) > 1)
        raise InvalidSeriesError(
            f"series mixes a multi-frame file with {len(entries) - 1} other file(s); read the file alone",
            path=multi.path,
        )


def _value_units(code: str, stored: str | None, headers: list[Dataset], suv: bool,
                 default: str, where: Path) -> tuple[float | None, str, str | None]:
    """``(suv factor, units, why SUV is unavailable)`` for a series."""
    from medfuse.io.suv import SUVUnavailableError, suv_bw_factor

    if code not in ("PT", "NM"):
        return None, default, None
    if stored == "GML":  # already SUVbw
        return 1.0, "SUVbw", None
    if (code == "NM" and stored != "BQML") or not suv:  # SPECT counts have no SUV
        return None, stored or default, None
    try:
        return suv_bw_factor(headers), "SUVbw", None
    except SUVUnavailableError as err:
        logger.warning("%s: PET loaded in its stored units %s, not SUVbw: %s", where, stored, err)
        return None, stored or default, str(err)


def _acquisition_datetime(header: Dataset) -> str | None:
    from medfuse.io.suv import dicom_datetime

    text = str(header.get("AcquisitionDateTime", "") or "")
    when = (
        dicom_datetime(text[:8], text[8:]) if text else None
    ) or dicom_datetime(header.get("AcquisitionDate"), header.get("AcquisitionTime")) or dicom_datetime(
        header.get("SeriesDate"), header.get("SeriesTime")
    )
    return when.isoformat() if when else None


def _planes(entries: list[DicomFile]) -> list[Plane]:
    """One :class:`Plane` per image plane: per file, or per frame of a multi-frame file."""
    if len(entries) == 1 and _n_frames(entries[0].header) > 1:
        return frame_planes(entries[0].path, entries[0].header)
    planes = []
    for i, entry in enumerate(entries):
        ds = entry.header
        planes.append(Plane(
            path=entry.path,
            file_index=i,
            frame=0,
            position=ds.get("ImagePositionPatient"),
            orientation=ds.get("ImageOrientationPatient"),
            pixel_spacing=ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing"),
            shape=(int(ds.Rows), int(ds.Columns)),
            slope=float(ds.get("RescaleSlope", 1.0) or 1.0),
            intercept=float(ds.get("RescaleIntercept", 0.0) or 0.0),
            slice_spacing=ds.get("SpacingBetweenSlices"),
        ))
    return planes


def _stored_dtype(header: Dataset) -> np.dtype:
    bits = _int(header.get("BitsAllocated"), 16)
    signed = _int(header.get("PixelRepresentation"), 0) == 1
    if bits not in (8, 16, 32):
        raise InvalidSeriesError(f"BitsAllocated {bits} is not supported (8, 16 or 32)")
    return np.dtype(f"{'i' if signed else 'u'}{bits // 8}").newbyteorder("<")


def _output_dtype(planes: list[Plane], stored: np.dtype, bits_stored: int, scaled: bool) -> np.dtype:
    """Keep the stored type without rescale; the smallest exact integer type for integer rescale."""
    if scaled:
        return np.dtype(np.float32)
    slopes = np.array([p.slope for p in planes])
    intercepts = np.array([p.intercept for p in planes])
    if np.all(slopes == 1) and np.all(intercepts == 0):
        return stored.newbyteorder("=")
    if not (np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts))):
        return np.dtype(np.float32)
    lo = -(2 ** (bits_stored - 1)) if stored.kind == "i" else 0
    hi = 2 ** (bits_stored - 1) - 1 if stored.kind == "i" else 2**bits_stored - 1
    values = np.concatenate([slopes * lo + intercepts, slopes * hi + intercepts])
    for candidate in (np.int16, np.int32):
        info = np.iinfo(candidate)
        if values.min() >= info.min and values.max() <= info.max:
            return np.dtype(candidate)
    return np.dtype(np.float32)


def _read_pixels(planes: list[Plane], entries: list[DicomFile], *, factor: float | None) -> np.ndarray:
    """Fill a preallocated (z, y, x) array plane by plane, applying each plane's rescale."""
    header = entries[0].header
    stored = _stored_dtype(header)
    bits_stored = min(_int(header.get("BitsStored"), stored.itemsize * 8), stored.itemsize * 8)
    rows, cols = planes[0].shape
    dtype = _output_dtype(planes, stored, bits_stored, factor is not None)
    out = np.empty((len(planes), rows, cols), dtype)
    native = out.dtype == stored.newbyteorder("=")
    raw = np.empty((rows, cols), stored)
    work = None if native else np.empty((rows, cols), _work_dtype(planes, out.dtype, bits_stored))
    frames: np.ndarray | None = None
    for k, plane in enumerate(planes):
        entry = entries[plane.file_index]
        target = out[k] if native else raw
        if entry.pixel_offset is not None:
            _read_native(entry, plane.frame, target)
        else:
            if frames is None or len(entries) > 1:
                frames = _decode(entry)
            target[...] = frames[plane.frame]
        _fix_sign(target, bits_stored)
        if work is not None:
            _rescale(target, plane, factor, work, out[k])
    return out


def _rescale(stored: np.ndarray, plane: Plane, factor: float | None, work: np.ndarray,
             out: np.ndarray) -> None:
    """``out = (stored * slope + intercept) * factor``, computed in ``work``'s type, then cast."""
    exact = work.dtype.kind == "i"  # integer rescale into an integer type chosen to hold it
    slope = int(plane.slope) if exact else plane.slope
    intercept = int(plane.intercept) if exact else plane.intercept
    if slope == 1 and factor is None:  # the common CT case: one pass
        np.add(stored, intercept, out=out, dtype=work.dtype, casting="unsafe")
        return
    np.multiply(stored, slope, out=work, dtype=work.dtype, casting="unsafe")
    if intercept != 0:
        work += intercept
    if factor is not None:
        work *= factor
    np.copyto(out, work, casting="unsafe")


def _work_dtype(planes: list[Plane], out: np.dtype, bits_stored: int) -> np.dtype:
    """Per-plane rescale arithmetic: float64 as GDCM does, else the smallest exact integer type."""
    if out.kind == "f":
        return np.dtype(np.float64)
    largest = max(abs(p.slope) for p in planes) * 2.0**bits_stored
    return np.dtype(np.int32 if out.itemsize <= 4 and largest < 2**31 else np.int64)


def _read_native(entry: DicomFile, frame: int, target: np.ndarray) -> None:
    with entry.path.open("rb") as fh:
        fh.seek(entry.pixel_offset + frame * target.nbytes)
        if fh.readinto(memoryview(target).cast("B")) != target.nbytes:
            raise InvalidSeriesError("truncated DICOM file: pixel data ends early", path=entry.path)


def _decode(entry: DicomFile) -> np.ndarray:
    """Pixels decoded by pydicom (compressed or unusual encodings), as (frames, rows, columns)."""
    import pydicom

    try:
        pixels = pydicom.dcmread(entry.path).pixel_array
    except Exception as err:  # decoder errors come in many types
        raise InvalidSeriesError(f"cannot decode the pixel data ({err})", path=entry.path) from err
    return pixels.reshape((-1, *pixels.shape[-2:]))


def _fix_sign(values: np.ndarray, bits_stored: int) -> None:
    """Sign-extend signed values stored in fewer bits than allocated (in place)."""
    shift = values.dtype.itemsize * 8 - bits_stored
    if values.dtype.kind == "i" and shift > 0:
        np.left_shift(values, shift, out=values)
        np.right_shift(values, shift, out=values)

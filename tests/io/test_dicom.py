"""DICOM discovery and reading: real series against SimpleITK and NIfTI copies, synthetic bad input."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from medfuse.errors import InputError, InvalidSeriesError
from medfuse.io.dicom import discover_series, read_dicom
from medfuse.io.nifti import read_nifti
from medfuse.volume import Volume
from tests.conftest import real_data

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
STS_SERIES = [(p, m) for p in ("STS_001", "STS_002") for m in ("CT", "MR_T1", "PET")]
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


# ----------------------------------------------------------------------------- helpers
def write_series(
    folder: Path,
    n: int = 4,
    *,
    shape: tuple[int, int] = (6, 5),
    modality: str = "CT",
    sop_class: str = CT_STORAGE,
    orientation: Sequence[float] = AXIAL,
    positions: Sequence[Sequence[float]] | None = None,
    spacing: float = 2.0,
    pixel_spacing: tuple[float, float] = (0.5, 0.8),
    slopes: Sequence[float] | None = None,
    intercept: float | None = 0.0,
    dtype: Any = np.int16,
    bits_stored: int | None = None,
    implicit: bool = False,
    series_uid: str | None = None,
    shapes: Sequence[tuple[int, int]] | None = None,
    orientations: Sequence[Sequence[float]] | None = None,
    extra: dict[str, Any] | None = None,
) -> list[Path]:
    """Write a small synthetic series (slice k holds values 100*k + pixel index) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    iop = np.asarray(orientation, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    if positions is None:
        positions = [list(np.array([-10.0, 20.0, 30.0]) + k * spacing * normal) for k in range(n)]
    series_uid = series_uid or generate_uid()
    study, frame = "1.2.3.4", "1.2.3.5"
    dtype = np.dtype(dtype)
    paths = []
    for k, position in enumerate(positions):
        rows, cols = shapes[k] if shapes else shape
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, ds.file_meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesDescription = modality, f"synthetic {modality}"
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "SECRET-ID", "19700101"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series_uid, frame
        ds.SeriesDate, ds.SeriesTime = "20200101", "120000"
        ds.InstanceNumber = len(positions) - k  # deliberately not in position order
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.ImageOrientationPatient = [float(v) for v in (orientations[k] if orientations else orientation)]
        ds.PixelSpacing = list(pixel_spacing)
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = dtype.itemsize * 8
        ds.BitsStored = bits_stored or dtype.itemsize * 8
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if dtype.kind == "i" else 0
        if slopes is not None:
            ds.RescaleSlope = slopes[k]
        if intercept is not None:
            ds.RescaleIntercept = intercept
        for key, value in (extra or {}).items():
            setattr(ds, key, value)
        pixels = (np.arange(rows * cols).reshape(rows, cols) + 100 * k).astype(dtype)
        ds.PixelData = pixels.astype(dtype.newbyteorder("<")).tobytes()
        path = folder / f"slice{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def sitk_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def assert_same_as_sitk(volume: Volume, image: sitk.Image, *, factor: float = 1.0) -> None:
    """Voxel values identical (as the volume's dtype) and voxel-centre world points within 0.01 mm."""
    reference = sitk.GetArrayFromImage(image)
    assert volume.array.shape == reference.shape
    if factor == 1.0:
        np.testing.assert_array_equal(volume.array, reference.astype(volume.array.dtype))
    else:
        np.testing.assert_allclose(volume.array, reference * factor, rtol=1e-6, atol=1e-6)
    size = np.asarray(volume.size)
    corners = np.array(np.meshgrid(*[[0, s - 1] for s in size], indexing="ij")).reshape(3, -1).T
    ours = volume.index_to_world(corners)
    theirs = np.array([image.TransformContinuousIndexToPhysicalPoint(c.tolist()) for c in corners.astype(float)])
    np.testing.assert_allclose(ours, theirs, atol=0.01)


# ----------------------------------------------------------------------------- real series
@pytest.mark.parametrize(("patient", "modality"), STS_SERIES)
def test_sts_series_match_simpleitk(patient: str, modality: str) -> None:
    folder = real_data("volumes", "sts", patient, modality, "dicom", "image")
    volume = read_dicom(folder, suv=False)
    assert_same_as_sitk(volume, sitk_series(folder))
    assert volume.modality == {"CT": "CT", "MR_T1": "MR", "PET": "PT"}[modality]
    assert volume.meta["n_files"] == len(list(folder.glob("*.dcm")))


@pytest.mark.parametrize(("patient", "modality"), STS_SERIES)
def test_sts_dicom_matches_nifti_copy(patient: str, modality: str) -> None:
    base = real_data("volumes", "sts", patient, modality)
    dicom = read_dicom(base / "dicom" / "image")
    nifti = read_nifti(base / "nifti" / "image" / "image.nii.gz")
    assert dicom.size == nifti.size
    np.testing.assert_allclose(dicom.spacing, nifti.spacing, atol=0.01)
    np.testing.assert_allclose(dicom.origin, nifti.origin, atol=0.01)
    np.testing.assert_allclose(dicom.direction, nifti.direction, atol=1e-6)
    np.testing.assert_allclose(dicom.array, nifti.array, rtol=1e-5, atol=1e-5)


def test_sts_units_and_native_types() -> None:
    ct = read_dicom(real_data("volumes", "sts", "STS_001", "CT", "dicom", "image"))
    mr = read_dicom(real_data("volumes", "sts", "STS_001", "MR_T1", "dicom", "image"))
    pet = read_dicom(real_data("volumes", "sts", "STS_001", "PET", "dicom", "image"))
    assert (ct.units, ct.array.dtype) == ("HU", np.int16)
    assert (mr.units, mr.array.dtype) == ("a.u.", np.int16)  # MR files without rescale tags
    assert (pet.units, pet.array.dtype, pet.meta["stored_units"]) == ("SUVbw", np.float32, "GML")
    assert pet.meta["suv_factor"] == 1.0


def test_lu177_volume_matches_simpleitk_and_converts_to_suv() -> None:
    folder = real_data("dicom", "spect_lu177_pt", "SCAN_001")
    expected = json.loads((folder.parent / "suv_factors_computed_here.json").read_text())
    image = sitk_series(folder / "image")
    stored = read_dicom(folder, suv=False)  # the folder also holds an RTSTRUCT, skipped
    assert (stored.units, stored.size) == ("BQML", (256, 256, 199))
    assert_same_as_sitk(stored, image)
    suv = read_dicom(folder)
    factor = expected["factor_ADMIN_convention_weight_over_dose"]
    assert suv.units == "SUVbw" and suv.meta["suv_factor"] == pytest.approx(factor, rel=1e-9)
    assert_same_as_sitk(suv, image, factor=factor)


@pytest.mark.parametrize("name", ["acrin_flt_breast_pt_1.dcm", "acrin_flt_breast_pt_2.dcm"])
def test_single_pet_slices_in_suv(name: str) -> None:
    folder = real_data("dicom", "pet_slices_acrin_flt")
    expected = json.loads((folder / "expected_suvbw_computed_here.json").read_text())[name]
    volume = read_dicom(folder / name)
    assert volume.units == "SUVbw" and volume.size[2] == 1
    assert float(volume.array.max()) == pytest.approx(expected["max_SUVbw"], rel=1e-5)
    assert_same_as_sitk(volume, sitk.ReadImage(str(folder / name)), factor=expected["suvbw_factor"])


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_pydicom_small_single_files(name: str) -> None:
    path = real_data("dicom", "pydicom_small", name)
    volume = read_dicom(path)
    image = sitk.ReadImage(str(path))
    assert_same_as_sitk(volume, image)
    np.testing.assert_allclose(volume.spacing, image.GetSpacing())


def test_discover_patient_folder_and_choose_a_series() -> None:
    folder = real_data("volumes", "sts", "STS_001")
    found = discover_series(folder)  # CT, MR, PET images; the RTSTRUCTs and NIfTI files are skipped
    assert sorted(s.modality for s in found) == ["CT", "MR", "PT"]
    for series in found:
        along = [float(np.dot([0, 0, 1], pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient))
                 for f in series.files]
        assert along == sorted(along) and series.n_files == len(series.files)
    with pytest.raises(InvalidSeriesError, match=r"holds 3 image series: .*\(CT, .*series_uid=.*medfuse info"):
        read_dicom(folder)
    pet = next(s for s in found if s.modality == "PT")
    volume = read_dicom(folder, series_uid=pet.series_uid)
    assert volume.modality == "PT" and volume.meta["series_uid"] == pet.series_uid
    with pytest.raises(InvalidSeriesError, match="no series with SeriesInstanceUID 9.9"):
        read_dicom(folder, series_uid="9.9")


# ----------------------------------------------------------------------------- synthetic series
def test_synthetic_geometry_and_deidentified_meta(tmp_path: Path) -> None:
    write_series(tmp_path / "s", 5, pixel_spacing=(0.5, 0.8), spacing=2.0)
    volume = read_dicom(tmp_path / "s")
    assert volume.spacing == pytest.approx((0.8, 0.5, 2.0))
    assert volume.origin == pytest.approx((-10.0, 20.0, 30.0))
    assert volume.array[:, 0, 0].tolist() == [0, 100, 200, 300, 400]  # sorted by position
    assert_same_as_sitk(volume, sitk_series(tmp_path / "s"))
    # UIDs are random digits (they may contain "1970" by chance); every other field is checked
    text = json.dumps({k: v for k, v in volume.meta.items() if not k.endswith("_uid")}, default=str)
    assert "Doe" not in text and "SECRET-ID" not in text and "1970" not in text
    assert not any("patient" in key.lower() for key in volume.meta)
    assert volume.meta["acquisition_datetime"] == "2020-01-01T12:00:00"


def test_oblique_and_reversed_stack_matches_simpleitk(tmp_path: Path) -> None:
    c, s = np.cos(0.3), np.sin(0.3)
    iop = (c, s, 0.0, 0.0, 0.0, -1.0)  # oblique coronal-like
    write_series(tmp_path / "s", 4, orientation=iop, spacing=-3.0, implicit=True)
    volume = read_dicom(tmp_path / "s")
    np.testing.assert_allclose(volume.direction[:, 2], np.cross(iop[:3], iop[3:]), atol=1e-9)
    assert_same_as_sitk(volume, sitk_series(tmp_path / "s"))


@pytest.mark.parametrize(
    ("options", "dtype", "units"),
    [
        ({"modality": "MR", "sop_class": MR_STORAGE, "intercept": None, "dtype": np.uint16}, np.uint16, "a.u."),
        ({"slopes": [1, 1, 1], "intercept": -1024.0, "dtype": np.uint16, "bits_stored": 12}, np.int16, "HU"),
        ({"slopes": [1, 1, 1], "intercept": -1024.0, "dtype": np.uint16}, np.int32, "HU"),
        ({"slopes": [0.5, 0.25, 2.0], "intercept": 1.5}, np.float32, "HU"),
    ],
    ids=["mr-no-rescale", "ct-12-bit", "ct-16-bit", "per-slice-slope"],
)
def test_rescale_and_output_type(tmp_path: Path, options: dict[str, Any], dtype: Any, units: str) -> None:
    write_series(tmp_path / "s", 3, **options)
    volume = read_dicom(tmp_path / "s")
    assert (volume.array.dtype, volume.units) == (np.dtype(dtype), units)
    assert_same_as_sitk(volume, sitk_series(tmp_path / "s"))


def test_signed_values_in_fewer_bits_are_sign_extended(tmp_path: Path) -> None:
    paths = write_series(tmp_path / "s", 2, dtype=np.int16, bits_stored=12)
    ds = pydicom.dcmread(paths[0])
    ds.PixelData = np.full((6, 5), 0x0FFF, "<u2").tobytes()  # -1 in 12 bits, garbage-free high bits
    ds.save_as(paths[0])
    assert read_dicom(tmp_path / "s").array[0].max() == -1


def test_pet_without_suv_data_loads_in_stored_units(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_series(tmp_path / "pet", 3, modality="PT", sop_class=PET_STORAGE, slopes=[0.5, 0.5, 0.5],
                 extra={"Units": "BQML", "CorrectedImage": ["ATTN", "DECY"], "DecayCorrection": "START"})
    with caplog.at_level(logging.WARNING, logger="medfuse.io.dicom"):
        volume = read_dicom(tmp_path / "pet")
    assert (volume.modality, volume.units, volume.meta["suv_factor"]) == ("PT", "BQML", None)
    assert "PatientWeight" in volume.meta["suv_unavailable"]
    assert "loaded in its stored units BQML" in caplog.text and "PatientWeight" in caplog.text


def test_multiframe_enhanced_file(tmp_path: Path) -> None:
    ds = pydicom.dcmread(write_series(tmp_path / "one", 1, dtype=np.uint16, intercept=None)[0])
    n, normal = 3, np.array([0.0, 0.0, 1.0])
    del ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.PixelSpacing
    ds.NumberOfFrames = n
    shared = Dataset()
    shared.PlaneOrientationSequence = [Dataset()]
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = list(AXIAL)
    shared.PixelMeasuresSequence = [Dataset()]
    shared.PixelMeasuresSequence[0].PixelSpacing = [0.5, 0.8]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for k in (2, 0, 1):  # frames stored out of position order
        item = Dataset()
        item.PlanePositionSequence = [Dataset()]
        item.PlanePositionSequence[0].ImagePositionPatient = list(np.array([1.0, 2.0, 3.0]) + 4.0 * k * normal)
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = frames
    ds.PixelData = np.stack([np.full((6, 5), k, "<u2") for k in (2, 0, 1)]).tobytes()
    path = tmp_path / "multi.dcm"
    ds.save_as(path)
    volume = read_dicom(path)
    assert volume.size == (5, 6, 3) and volume.spacing == pytest.approx((0.8, 0.5, 4.0))
    assert volume.origin == pytest.approx((1.0, 2.0, 3.0))
    assert volume.array[:, 0, 0].tolist() == [0, 1, 2]


# ----------------------------------------------------------------------------- bad input
def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder is empty"):
        read_dicom(tmp_path)


def test_folder_without_image_series(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not DICOM")
    write_series(tmp_path / "rt", 1, modality="RTSTRUCT", sop_class=RTSTRUCT_STORAGE)
    with pytest.raises(InvalidSeriesError, match=r"no DICOM image series found among 2 file\(s\)"):
        read_dicom(tmp_path)


def _corrupt(data: bytes, how: str) -> bytes:
    if how == "cut-pixels":
        return data[: len(data) // 2]
    if how == "cut-header":
        return data[: int(len(data) * 0.02)]
    return data[:340] + np.random.default_rng(0).bytes(3000) + data[3340:]  # garbage header


@pytest.mark.parametrize(
    ("how", "match"),
    [("cut-pixels", "truncated or corrupt DICOM file: pixel data holds"),
     ("cut-header", "truncated or corrupt DICOM file: no pixel data found"),
     ("garbage-header", "truncated or corrupt DICOM file: no pixel data found")],
)
def test_truncated_or_corrupt_real_file(tmp_path: Path, how: str, match: str) -> None:
    source = sorted(real_data("volumes", "sts", "STS_001", "CT", "dicom", "image").glob("*.dcm"))[:3]
    for path in source:
        shutil.copy(path, tmp_path / path.name)
    broken = tmp_path / source[1].name
    broken.write_bytes(_corrupt(broken.read_bytes(), how))
    with pytest.raises(InvalidSeriesError, match=match) as info:
        read_dicom(tmp_path)
    assert broken.name in str(info.value)


def test_missing_slice(tmp_path: Path) -> None:
    positions = [[0, 0, z] for z in (0.0, 2.0, 4.0, 8.0, 10.0)]
    write_series(tmp_path / "s", positions=positions)
    with pytest.raises(InvalidSeriesError, match=r"missing slices: a gap of 4.000 mm .*slice002.dcm at 4.000 mm"):
        read_dicom(tmp_path / "s")


def test_non_uniform_spacing(tmp_path: Path) -> None:
    write_series(tmp_path / "s", positions=[[0, 0, z] for z in (0.0, 2.0, 4.5, 6.0, 8.0)])
    with pytest.raises(InvalidSeriesError, match="non-uniform slice spacing: steps from 1.5000 to 2.5000 mm"):
        read_dicom(tmp_path / "s")


def test_gantry_tilt(tmp_path: Path) -> None:
    tilt = np.tan(np.radians(15.0)) * 2.0  # each slice shifts in y by this much
    write_series(tmp_path / "s", positions=[[0, k * tilt, 2.0 * k] for k in range(5)])
    with pytest.raises(InvalidSeriesError, match=r"gantry tilt: .*about 15.00 degrees"):
        read_dicom(tmp_path / "s")


def test_mixed_orientations(tmp_path: Path) -> None:
    sagittal = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    write_series(tmp_path / "s", 3, orientations=[AXIAL, AXIAL, sagittal])
    with pytest.raises(InvalidSeriesError, match=r"slice002.dcm: mixed orientations .* in one series"):
        read_dicom(tmp_path / "s")


def test_mixed_sizes(tmp_path: Path) -> None:
    write_series(tmp_path / "s", 3, shapes=[(6, 5), (6, 5), (8, 8)])
    with pytest.raises(InvalidSeriesError, match=r"mixed image sizes \(rows x columns\) in one series: 8x8 here"):
        read_dicom(tmp_path / "s")


def test_two_stacks_in_one_series(tmp_path: Path) -> None:
    uid = generate_uid()
    write_series(tmp_path / "echo1", 3, series_uid=uid)
    write_series(tmp_path / "echo2", 3, series_uid=uid)
    with pytest.raises(InvalidSeriesError, match="two images at the same position .* split it first"):
        read_dicom(tmp_path)


def test_missing_path() -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        discover_series(Path("/nonexistent/medfuse"))


# ----------------------------------------------------------------------------- medfuse info
@pytest.mark.parametrize(
    "parts",
    [("volumes", "sts", "STS_002"), ("dicom", "spect_lu177_pt"), ("dicom", "pydicom_small", "CT_small.dcm"),
     ("dicom", "pydicom_small", "MR_small.dcm"), ("dicom", "pet_slices_acrin_flt")],
)
def test_medfuse_info_json(parts: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    from medfuse.cli import main

    path = real_data(*parts)
    if path.name == "pet_slices_acrin_flt":  # two single-slice series from different patients
        expected = 2
    else:
        expected = {"STS_002": 3}.get(path.name, 1)
    assert main(["info", str(path), "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert len(entries) == expected
    for entry in entries:
        assert len(entry["size"]) == 3 and len(entry["direction"]) == 9 and entry["series_uid"]
        # PET, and SPECT stored as PT (the Lu-177 series, shown as NM), have SUV factors
        assert (entry["suv_factor"] is None) == (entry["modality"] not in ("PT", "NM"))
    if path.name == "spect_lu177_pt":
        assert entries[0]["modality"] == "NM" and entries[0]["units"] == "SUVbw"


def test_compressed_and_preamble_less_files(tmp_path: Path) -> None:
    from pydicom.uid import RLELossless

    paths = write_series(tmp_path / "s", 3, slopes=[1.0, 2.0, 0.5], intercept=-3.0)
    expected = read_dicom(tmp_path / "s").array
    ds = pydicom.dcmread(paths[0])
    ds.compress(RLELossless)  # decoded by pydicom, not by the native fast path
    ds.save_as(paths[0])
    raw = pydicom.dcmread(paths[1])
    paths[1].unlink()
    raw.save_as(tmp_path / "s" / "raw_no_preamble", enforce_file_format=False)  # no DICM preamble
    np.testing.assert_array_equal(read_dicom(tmp_path / "s").array, expected)


def test_multiframe_nm_file(tmp_path: Path) -> None:
    ds = pydicom.dcmread(write_series(tmp_path / "one", 1, dtype=np.uint16, intercept=None,
                                      modality="NM", sop_class="1.2.840.10008.5.1.4.1.1.20")[0])
    detector = Dataset()
    detector.ImagePositionPatient, detector.ImageOrientationPatient = [5.0, 6.0, 7.0], list(AXIAL)
    del ds.ImagePositionPatient, ds.ImageOrientationPatient
    ds.DetectorInformationSequence = [detector]
    ds.NumberOfFrames, ds.SpacingBetweenSlices = 4, 3.5
    ds.PixelData = np.stack([np.full((6, 5), k, "<u2") for k in range(4)]).tobytes()
    ds.save_as(tmp_path / "nm.dcm")
    volume = read_dicom(tmp_path / "nm.dcm")
    assert (volume.modality, volume.units, volume.size) == ("NM", "CNTS", (5, 6, 4))
    assert volume.spacing[2] == pytest.approx(3.5) and volume.origin == pytest.approx((5.0, 6.0, 7.0))
    assert volume.array[:, 0, 0].tolist() == [0, 1, 2, 3]

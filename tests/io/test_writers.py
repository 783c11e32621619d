"""Writers round trip: NIfTI (RAS <-> LPS both ways), PNG (grey, RGB), DICOM series (SimpleITK, ours)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from medfuse.errors import GeometryError, InputError, InvalidSeriesError
from medfuse.io import load, write_dicom_series, write_nifti, write_png
from medfuse.io.dicom_writer import storage_for
from medfuse.volume import Volume

RNG = np.random.default_rng(7)
OBLIQUE = Rotation.from_euler("xyz", [12, -7, 25], degrees=True).as_matrix()
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _volume(direction: np.ndarray, dtype=np.int16, modality: str = "CT", units: str = "HU") -> Volume:
    array = RNG.integers(-1000, 2000, size=(5, 7, 9)).astype(dtype)
    return Volume(array, spacing=(0.7, 0.9, 2.5), origin=(-12.5, 30.25, 7.0), direction=direction,
                  modality=modality, units=units)


def _sitk_read_series(folder) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def _voxel_centres(volume: Volume) -> np.ndarray:
    """World (LPS) centre of every voxel, in the array's (z, y, x) order, shape (n, 3)."""
    z, y, x = np.indices(volume.array.shape[:3]).reshape(3, -1)
    return volume.index_to_world(np.stack([x, y, z], axis=1))


def _values_by_position(volume: Volume) -> dict[tuple, float]:
    keys = map(tuple, np.round(_voxel_centres(volume), 3))
    return dict(zip(keys, volume.array.ravel().tolist()))


# ------------------------------------------------------------------------------------------- NIfTI
@pytest.mark.parametrize("direction", [np.eye(3), OBLIQUE, np.diag([-1.0, 1.0, 1.0])],
                         ids=["axial", "oblique", "x-flipped"])
def test_nifti_writer_stores_ras_affine_that_nibabel_and_sitk_read(tmp_path, direction):
    import nibabel as nib

    volume = _volume(direction)
    path = write_nifti(volume, tmp_path / "v.nii.gz")

    image = nib.load(path)
    expected = LPS_TO_RAS @ volume.affine  # by hand: x and y change sign from LPS to RAS
    np.testing.assert_allclose(image.affine, expected, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(image.dataobj), volume.array.transpose())

    read = sitk.ReadImage(str(path))
    np.testing.assert_allclose(read.GetOrigin(), volume.origin, atol=1e-4)
    np.testing.assert_allclose(read.GetSpacing(), volume.spacing, atol=1e-5)
    np.testing.assert_allclose(np.reshape(read.GetDirection(), (3, 3)), volume.direction, atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(read), volume.array)

    back = load(path)
    assert back.same_grid(volume, atol=1e-4) and (back.modality, back.units) == ("CT", "HU")
    np.testing.assert_array_equal(back.array, volume.array)


def test_nifti_written_by_nibabel_in_ras_loads_as_lps(tmp_path):
    import nibabel as nib

    data = RNG.random((4, 5, 6)).astype(np.float32)  # (i, j, k) as nibabel stores it
    ras = np.array([[-2.0, 0, 0, 90], [0, 2.0, 0, -126], [0, 0, 3.0, -72], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(data, ras), tmp_path / "ras.nii")

    volume = load(tmp_path / "ras.nii")
    np.testing.assert_allclose(volume.affine, LPS_TO_RAS @ ras)  # the same matrix, both ways
    np.testing.assert_allclose(volume.origin, (-90.0, 126.0, -72.0))
    np.testing.assert_array_equal(volume.array, data.transpose())
    ras_point = ras @ [1, 2, 3, 1]
    np.testing.assert_allclose(volume.index_to_world([[1, 2, 3]])[0], LPS_TO_RAS[:3, :3] @ ras_point[:3])


# ------------------------------------------------------------------------------------------- PNG
def test_png_grey_round_trip_is_exact(tmp_path):
    grey = RNG.integers(0, 256, size=(31, 47)).astype(np.uint8)
    back = load(write_png(Volume(grey), tmp_path / "g.png"))
    assert not back.is_rgb
    np.testing.assert_array_equal(back.array, grey)


def test_png_rgb_round_trip_is_exact(tmp_path):
    rgb = RNG.integers(0, 256, size=(20, 30, 3)).astype(np.uint8)
    back = load(write_png(Volume(rgb, meta={"rgb": True}), tmp_path / "c.png"))
    assert back.is_rgb and back.array.shape == (20, 30, 3)
    np.testing.assert_array_equal(back.array, rgb)


def test_png_scales_other_types_to_full_8_bit_range(tmp_path):
    ramp = np.linspace(-5.0, 5.0, 256).reshape(16, 16)
    back = load(write_png(ramp, tmp_path / "r.png"))
    assert (back.array.min(), back.array.max()) == (0, 255)
    assert np.all(np.diff(back.array.ravel().astype(int)) >= 0)


# ------------------------------------------------------------------------------------------- DICOM
def test_storage_keeps_integers_and_bounds_float_error():
    pixels, slope, intercept = storage_for(np.array([[-1024, 3071]], np.int16))
    assert (pixels.dtype, slope, intercept) == (np.int16, 1.0, 0.0)
    values = RNG.normal(0, 300, size=1000)
    pixels, slope, intercept = storage_for(values)
    assert pixels.dtype == np.int16 and slope > 0
    assert np.max(np.abs(pixels * slope + intercept - values)) <= slope / 2
    with pytest.raises(InvalidSeriesError, match="NaN"):
        storage_for(np.array([1.0, np.nan]))


@pytest.mark.parametrize("direction", [np.eye(3), OBLIQUE], ids=["axial", "oblique"])
def test_dicom_ct_round_trip_through_simpleitk(tmp_path, direction):
    volume = _volume(direction)
    folder = write_dicom_series(volume, tmp_path / "ct", series_description="round trip")

    image = _sitk_read_series(folder)
    np.testing.assert_allclose(image.GetOrigin(), volume.origin, atol=1e-4)
    np.testing.assert_allclose(image.GetSpacing(), volume.spacing, atol=1e-5)
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), volume.direction, atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), volume.array)

    first = pydicom.dcmread(sorted(folder.glob("*.dcm"))[0])
    assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2" and first.Modality == "CT"
    assert (first.RescaleSlope, first.RescaleIntercept) == (1, 0)
    assert (str(first.PatientName), first.PatientID, first.PatientBirthDate) == ("Anonymous", "MEDFUSE", "")
    assert first.SeriesDescription == "round trip"
    np.testing.assert_allclose([float(v) for v in first.PixelSpacing], [0.9, 0.7])  # (row, col) = (y, x)


def test_dicom_left_handed_grid_keeps_every_voxel_in_place(tmp_path):
    volume = _volume(np.diag([1.0, 1.0, -1.0]))
    image = _sitk_read_series(write_dicom_series(volume, tmp_path / "ct"))
    back = Volume.from_sitk(image)
    assert np.linalg.det(back.direction) > 0
    assert _values_by_position(back) == _values_by_position(volume)


def test_dicom_float_pet_round_trip_with_suv_tags(tmp_path):
    injection = dt.datetime(2024, 5, 6, 9, 0, 0)
    pet = {"patient_weight_kg": 72.5, "injected_dose_bq": 3.5e8, "half_life_s": 6586.2,
           "injection_datetime": injection, "series_datetime": injection + dt.timedelta(minutes=62)}
    array = RNG.gamma(2.0, 2000.0, size=(6, 8, 10)).astype(np.float32)
    volume = Volume(array, spacing=(4.0, 4.0, 4.0), origin=(-20.0, -16.0, -12.0), direction=OBLIQUE,
                    modality="PT", units="BQML", meta={"pet": pet})
    folder = write_dicom_series(volume, tmp_path / "pet")

    first = pydicom.dcmread(sorted(folder.glob("*.dcm"))[0])
    slope = float(first.RescaleSlope)
    assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.128" and first.Units == "BQML"
    assert first.DecayCorrection == "START" and first.SeriesTime.startswith("100200")
    drug = first.RadiopharmaceuticalInformationSequence[0]
    assert float(drug.RadionuclideHalfLife) == 6586.2 and float(drug.RadionuclideTotalDose) == 3.5e8
    assert drug.RadiopharmaceuticalStartDateTime.startswith("20240506090000")
    assert float(first.PatientWeight) == 72.5

    image = _sitk_read_series(folder)
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), OBLIQUE, atol=1e-5)
    np.testing.assert_allclose(image.GetOrigin(), volume.origin, atol=1e-4)
    values = sitk.GetArrayFromImage(image)
    assert np.max(np.abs(values - array)) <= slope / 2 * 1.001


def test_dicom_reuses_reference_study_and_frame_with_new_series(tmp_path):
    reference = _volume(np.eye(3))
    reference.meta.update(study_uid="1.2.3.4", frame_of_reference_uid="1.2.3.5", series_uid="1.2.3.6",
                          source=str(tmp_path / "input"))
    moving = _volume(np.eye(3), modality="MR", units="a.u.", dtype=np.uint16)
    folder = write_dicom_series(moving, tmp_path / "out", reference=reference, series_number=7)
    files = sorted(folder.glob("*.dcm"))
    headers = [pydicom.dcmread(f) for f in files]
    assert {h.StudyInstanceUID for h in headers} == {"1.2.3.4"}
    assert {h.FrameOfReferenceUID for h in headers} == {"1.2.3.5"}
    assert len({h.SeriesInstanceUID for h in headers}) == 1 and headers[0].SeriesInstanceUID != "1.2.3.6"
    assert len({h.SOPInstanceUID for h in headers}) == len(files) and headers[0].SeriesNumber == 7
    assert headers[0].SOPClassUID == "1.2.840.10008.5.1.4.1.1.4" and "RescaleSlope" not in headers[0]


def test_dicom_writer_refuses_input_folder_non_empty_target_rgb_and_unknown_modality(tmp_path):
    source = tmp_path / "input"
    source.mkdir()
    (source / "a.dcm").write_bytes(b"x")
    volume = _volume(np.eye(3))
    volume.meta["source"] = str(source)
    with pytest.raises(InputError, match="inside the input"):
        write_dicom_series(volume, source / "derived")
    with pytest.raises(InputError, match="holds the input"):
        write_dicom_series(volume, tmp_path, overwrite=True)
    with pytest.raises(InputError, match="not empty"):
        write_dicom_series(_volume(np.eye(3)), source)
    assert (source / "a.dcm").read_bytes() == b"x"
    with pytest.raises(GeometryError, match="RGB"):
        write_dicom_series(Volume(np.zeros((4, 4, 3), np.uint8), meta={"rgb": True}), tmp_path / "rgb")
    with pytest.raises(InvalidSeriesError, match="modality 'OT'"):
        write_dicom_series(Volume(np.zeros((2, 4, 4))), tmp_path / "ot")
    assert not (tmp_path / "rgb").exists() and not (tmp_path / "ot").exists()


def test_dicom_overwrite_replaces_whole_folder(tmp_path):
    folder = write_dicom_series(_volume(np.eye(3)), tmp_path / "ct")
    (folder / "stale.dcm").write_bytes(b"old")
    write_dicom_series(_volume(np.eye(3)), folder, overwrite=True)
    assert not (folder / "stale.dcm").exists() and len(list(folder.glob("*.dcm"))) == 5


@pytest.mark.parametrize("direction", [np.eye(3), OBLIQUE], ids=["axial", "oblique"])
def test_dicom_round_trip_through_our_loader(tmp_path, direction):
    pytest.importorskip("medfuse.io.dicom", reason="the DICOM reader is not there yet")
    volume = _volume(direction)
    back = load(write_dicom_series(volume, tmp_path / "ct"))
    assert back.same_grid(volume, atol=1e-4) and back.modality == "CT"
    np.testing.assert_array_equal(back.array, volume.array)

    pet = Volume(RNG.random((4, 6, 8)).astype(np.float32) * 5e3, spacing=(3.0, 3.0, 3.0),
                 direction=direction, modality="PT", units="BQML")
    back = load(write_dicom_series(pet, tmp_path / "pet"), suv=False)
    assert back.same_grid(pet, atol=1e-4) and back.units == "BQML"
    np.testing.assert_allclose(back.array, pet.array, atol=5e3 / 65535)


def test_suv_volume_written_as_gml_loads_back_as_suv(tmp_path):
    pytest.importorskip("medfuse.io.dicom", reason="the DICOM reader is not there yet")
    suv = Volume(RNG.random((3, 6, 8)).astype(np.float32) * 9.0, spacing=(4.0, 4.0, 4.0),
                 modality="PT", units="SUVbw")
    folder = write_dicom_series(suv, tmp_path / "suv")
    assert pydicom.dcmread(sorted(folder.glob("*.dcm"))[0]).Units == "GML"
    back = load(folder)
    assert back.units == "SUVbw" and back.modality == "PT"
    np.testing.assert_allclose(back.array, suv.array, atol=9.0 / 65535)

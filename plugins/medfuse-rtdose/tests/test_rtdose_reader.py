"""Reading RT Dose: values, units and geometry of pydicom's RT Dose files, and malformed variants."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from medfuse.errors import InvalidSeriesError
from medfuse_rtdose import read_rtdose
from rtdose_testdata import MULTI_FRAME, SINGLE_FRAME, pydicom_file

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI")


@pytest.mark.parametrize("name", MULTI_FRAME)
def test_multi_frame_values_and_geometry_match_gdcm(name: str) -> None:
    path = pydicom_file(name)
    dose = read_rtdose(path)
    reference = sitk.ReadImage(str(path))  # GDCM: geometry from GridFrameOffsetVector
    raw = pydicom.dcmread(path).pixel_array.astype(np.float64)  # (GDCM misreads big-endian 32 bit)
    assert (dose.modality, dose.units) == ("RTDOSE", "%")
    assert dose.size == reference.GetSize() == (10, 10, 15)
    np.testing.assert_allclose(dose.spacing, reference.GetSpacing())
    np.testing.assert_allclose(dose.origin, reference.GetOrigin())
    np.testing.assert_allclose(dose.direction.ravel(), reference.GetDirection())
    # RELATIVE dose: raw * DoseGridScaling (1e-6) is a ratio to the reference, shown as percent
    np.testing.assert_allclose(dose.array, raw * 1e-6 * 100, rtol=1e-6)
    assert dose.meta["dose_units"] == "RELATIVE" and dose.meta["dose_grid_scaling"] == 1e-6


@pytest.mark.parametrize("name", SINGLE_FRAME)
def test_single_frame_is_one_plane_at_the_image_position(name: str) -> None:
    dose = read_rtdose(pydicom_file(name))
    reference = read_rtdose(pydicom_file("rtdose.dcm"))
    assert dose.array.shape == (1, 10, 10)
    assert dose.origin == pytest.approx((189.43125, 199.43125, -761.87))
    np.testing.assert_allclose(dose.array[0], reference.array[0])


def test_gray_units(edited_rtdose) -> None:
    dose = read_rtdose(edited_rtdose(DoseUnits="GY", DoseGridScaling="2.5e-5"))
    raw = pydicom.dcmread(pydicom_file("rtdose.dcm")).pixel_array
    assert dose.units == "Gy"
    np.testing.assert_allclose(dose.array, raw * 2.5e-5, rtol=1e-6)
    assert float(dose.array.max()) == pytest.approx(1254000 * 2.5e-5)


def test_decreasing_offsets_are_reordered_to_positive_spacing(edited_rtdose) -> None:
    offsets = [-5.0 * k for k in range(15)]
    offsets[0] = 0.0
    dose = read_rtdose(edited_rtdose(GridFrameOffsetVector=offsets))
    raw = pydicom.dcmread(pydicom_file("rtdose.dcm")).pixel_array * 1e-4
    assert dose.spacing[2] == 5.0
    assert dose.origin[2] == pytest.approx(-761.87 - 70.0)
    for k in (0, 3, 14):  # frame k lies 5k mm below the image position
        point = (189.43125 + 20.0, 199.43125 + 30.0, -761.87 - 5.0 * k)
        assert dose.value_at(point) == pytest.approx(raw[k, 3, 2], rel=1e-6)


def test_absolute_offsets_give_the_same_grid(edited_rtdose, rtdose_path) -> None:
    absolute = [-761.87 + 5.0 * k for k in range(15)]
    dose = read_rtdose(edited_rtdose(GridFrameOffsetVector=absolute))
    relative = read_rtdose(rtdose_path)
    assert dose.same_grid(relative)
    np.testing.assert_array_equal(dose.array, relative.array)


def test_coronal_grid_is_placed_along_the_plane_normal(edited_rtdose) -> None:
    # rows along L (+x), columns towards the feet (-z): frames advance along row x column = +y (P)
    dose = read_rtdose(edited_rtdose(ImageOrientationPatient=[1, 0, 0, 0, 0, -1]))
    assert dose.index_to_world([[0, 0, 2]])[0] == pytest.approx([189.43125, 199.43125 + 10.0, -761.87])
    assert dose.index_to_world([[0, 1, 0]])[0] == pytest.approx([189.43125, 199.43125, -771.87])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"GridFrameOffsetVector": [0.0, 5.0, 10.0]}, "GridFrameOffsetVector has 3 values for 15 frames"),
        ({"GridFrameOffsetVector": [0.0, 5.0] + [5.0 + 4.0 * k for k in range(1, 14)]},
         "not evenly spaced"),
        ({"DoseUnits": "CGY"}, "DoseUnits must be GY or RELATIVE, not 'CGY'"),
        ({"Modality": "CT", "SOPClassUID": "1.2.840.10008.5.1.4.1.1.2"}, "not an RT Dose object"),
    ],
)
def test_malformed_dose_is_a_clear_error(edited_rtdose, changes: dict, message: str) -> None:
    path = edited_rtdose(**changes)
    with pytest.raises(InvalidSeriesError, match=message) as caught:
        read_rtdose(path)
    assert str(path) in str(caught.value)


def test_absolute_offsets_on_a_sagittal_grid_are_rejected(edited_rtdose) -> None:
    path = edited_rtdose(ImageOrientationPatient=[0, 1, 0, 0, 0, -1],
                         GridFrameOffsetVector=[10.0 + 5 * k for k in range(15)])
    with pytest.raises(InvalidSeriesError, match="absolute GridFrameOffsetVector .* non-axial"):
        read_rtdose(path)


def test_not_dicom_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "dose.dcm"
    path.write_text("not dicom")
    with pytest.raises(InvalidSeriesError, match="not a readable DICOM file"):
        read_rtdose(path)


def test_medfuse_load_and_info_hand_rt_dose_to_the_plugin(edited_rtdose, capsys) -> None:
    from medfuse.cli import main
    from medfuse.io import load

    path = edited_rtdose(DoseUnits="GY")
    assert load(path).modality == "RTDOSE"
    assert main(["info", str(path), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["modality"], entry["units"], entry["size"]) == ("RTDOSE", "Gy", [10, 10, 15])
    assert entry["spacing"] == [10.0, 10.0, 5.0]
    assert entry["origin"] == pytest.approx([189.43125, 199.43125, -761.87])


def test_dicom_folder_with_ct_and_dose_hands_the_dose_to_the_plugin(tmp_path, rtdose_path) -> None:
    from medfuse.io import load_all

    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "RD.dose.dcm").write_bytes(rtdose_path.read_bytes())
    (folder / "CT.1.dcm").write_bytes(pydicom_file("CT_small.dcm").read_bytes())
    volumes = {v.modality: v for v in load_all(folder)}
    assert set(volumes) == {"CT", "RTDOSE"}
    dose = volumes["RTDOSE"]
    np.testing.assert_array_equal(dose.array, read_rtdose(rtdose_path).array)
    assert dose.units == "%" and dose.spacing == (10.0, 10.0, 5.0)

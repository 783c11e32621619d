"""SUVbw factors against the published reference (cornerstonejs/calculate-suv) and real PET files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence

from medfuse.io.suv import SUVUnavailableError, suv_bw_factor
from tests.conftest import real_data

REFERENCE_KEYS = [
    "PHILIPS_BQML",
    "PHILIPS_CNTS_AND_BQML_SUV",
    "PHILIPS_CNTS_AND_SUV",
    "SIEMENS",
    "GE_MEDICAL_AND_BQML",
    "BQML_AC_DT_lessThan_S_DT_SIEMENS",
    "CPS_AND_BQML_AC_DT_-_S_DT",
    "RADIOPHARM_DATETIME_UNDEFINED",
]
_DRUG_KEYS = (
    "RadionuclideTotalDose",
    "RadionuclideHalfLife",
    "RadiopharmaceuticalStartTime",
    "RadiopharmaceuticalStartDateTime",
)


def make_pet_header(instance: dict[str, Any]) -> Dataset:
    """A PET header from one flat instance of the calculate-suv reference (keyword -> value)."""
    ds, drug = Dataset(), Dataset()
    for key, value in instance.items():
        if key == "PhilipsPETPrivateGroup":
            if value:
                block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
                for offset, name in ((0x00, "SUVScaleFactor"), (0x09, "ActivityConcentrationScaleFactor")):
                    if name in value:
                        block.add_new(offset, "DS", str(value[name]).strip())
        elif key in _DRUG_KEYS:
            setattr(drug, key, str(value).strip() if isinstance(value, str) else value)
        else:
            setattr(ds, key, value)
    ds.RadiopharmaceuticalInformationSequence = Sequence([drug])
    return ds


def _synthetic(units: str, *, suv_scale: str | None = None, activity_scale: str | None = None) -> Dataset:
    """calculate-suv's synthetic unit cases: half-life 10 s, 100 Bq, 100 kg, injection == series time."""
    instance: dict[str, Any] = {
        "Units": units,
        "CorrectedImage": ["ATTN", "DECY"],
        "DecayCorrection": "ADMIN",
        "PatientWeight": 100,
        "SeriesDate": "20201217",
        "SeriesTime": "120000",
        "AcquisitionDate": "20201217",
        "AcquisitionTime": "120000",
        "RadionuclideTotalDose": 100,
        "RadionuclideHalfLife": 10,
        "RadiopharmaceuticalStartDateTime": "20201217120000",
        "PhilipsPETPrivateGroup": {
            k: v
            for k, v in (("SUVScaleFactor", suv_scale), ("ActivityConcentrationScaleFactor", activity_scale))
            if v is not None
        },
    }
    return make_pet_header(instance)


@pytest.fixture(scope="module")
def reference() -> tuple[Path, dict[str, Any]]:
    folder = real_data("dicom", "suv_reference")
    return folder, json.loads((folder / "expected_suvbw_factors.json").read_text())


@pytest.mark.parametrize("key", REFERENCE_KEYS)
def test_published_factors(key: str, reference: tuple[Path, dict[str, Any]]) -> None:
    folder, expected = reference
    instances = json.loads((folder / "metadata" / f"{key}-instances.json").read_text())
    factor = suv_bw_factor([make_pet_header(i) for i in instances])
    assert factor == pytest.approx(expected[key], rel=1e-4)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (_synthetic("GML"), 1.0),
        (_synthetic("CNTS", suv_scale="0.000551"), 0.000551),
        (_synthetic("CNTS", suv_scale="0", activity_scale="1.602563"), 1602.563),
        (_synthetic("BQML"), 1000.0),
    ],
    ids=["GML", "CNTS-suv-scale", "CNTS-activity-scale", "BQML-ADMIN"],
)
def test_synthetic_unit_cases(header: Dataset, expected: float) -> None:
    assert suv_bw_factor(header) == pytest.approx(expected, rel=1e-9)


def test_start_decay_uses_half_life() -> None:
    header = _synthetic("BQML")
    header.DecayCorrection = "START"
    header.SeriesTime = header.AcquisitionTime = "120010"  # one half-life after injection
    assert suv_bw_factor(header) == pytest.approx(2000.0, rel=1e-9)


def test_injection_the_day_before_a_scan_after_midnight() -> None:
    header = _synthetic("BQML")
    header.DecayCorrection = "START"
    header.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime = None
    header.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartTime = "235955"
    header.SeriesTime = header.AcquisitionTime = "000005"  # one half-life later, next day
    assert suv_bw_factor(header) == pytest.approx(2000.0, rel=1e-9)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"PatientWeight": None}, "PatientWeight"),
        ({"Units": "PROPCNTS"}, "Units PROPCNTS cannot be converted"),
        ({"CorrectedImage": ["ATTN"]}, "must list ATTN and DECY"),
        ({"DecayCorrection": "NONE"}, "DecayCorrection .* NONE is not START or ADMIN"),
        ({"Units": "CNTS"}, "Units CNTS without a Philips"),
        ({"RadiopharmaceuticalInformationSequence": None}, "RadiopharmaceuticalInformationSequence"),
    ],
)
def test_missing_data_is_explained(change: dict[str, Any], match: str) -> None:
    header = _synthetic("BQML")
    for key, value in change.items():
        setattr(header, key, value)
    with pytest.raises(SUVUnavailableError, match=match):
        suv_bw_factor(header)


def test_injection_after_scan_is_rejected() -> None:
    header = _synthetic("BQML")
    header.DecayCorrection = "START"
    header.SeriesTime = header.AcquisitionTime = "110000"
    with pytest.raises(SUVUnavailableError, match="is after the scan time"):
        suv_bw_factor(header)


@pytest.mark.parametrize("name", ["acrin_flt_breast_pt_1.dcm", "acrin_flt_breast_pt_2.dcm"])
def test_real_fdg_slices(name: str) -> None:
    folder = real_data("dicom", "pet_slices_acrin_flt")
    expected = json.loads((folder / "expected_suvbw_computed_here.json").read_text())[name]
    header = pydicom.dcmread(folder / name, stop_before_pixels=True)
    assert suv_bw_factor(header) == pytest.approx(expected["suvbw_factor"], rel=1e-6)


def test_lu177_admin_uses_dose_as_is() -> None:
    folder = real_data("dicom", "spect_lu177_pt")
    expected = json.loads((folder / "suv_factors_computed_here.json").read_text())
    first = sorted((folder / "SCAN_001" / "image").glob("*.dcm"))[0]
    factor = suv_bw_factor(pydicom.dcmread(first, stop_before_pixels=True))
    assert factor == pytest.approx(expected["factor_ADMIN_convention_weight_over_dose"], rel=1e-9)

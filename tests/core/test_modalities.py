"""The modality registry: built-ins come through the same entry points as plugins."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.modalities import available_modalities, get_modality, modality_for_dicom


def test_builtins_are_registered_through_entry_points():
    found = available_modalities()
    assert {"CT", "MR", "PT", "NM"} <= set(found)
    assert found["CT"][1] == "medfuse"


@pytest.mark.parametrize(
    "code, values, units, expected",
    [
        ("CT", [-1000.0, -160.0, 40.0, 240.0, 3000.0], "HU", [0.0, 0.0, 0.5, 1.0, 1.0]),
        ("PT", [0.0, 2.5, 5.0, 10.0, 30.0], "SUVbw", [0.0, 0.25, 0.5, 1.0, 1.0]),
    ],
)
def test_window_normalisation(code, values, units, expected):
    out = get_modality(code).normalize(np.array(values), units)
    np.testing.assert_allclose(out, expected)
    assert out.dtype == np.float32


def test_percentile_normalisation_ignores_zero_background():
    mr = np.zeros(1000)
    mr[500:] = np.linspace(100, 200, 500)
    out = get_modality("MR").normalize(mr, "a.u.")
    assert out.min() == 0.0 and out.max() == 1.0 and out[:500].max() == 0.0


def test_pet_not_in_suv_falls_back_to_percentiles():
    bqml = np.linspace(0, 50000, 100)
    out = get_modality("PT").normalize(bqml, "BQML")
    assert out.max() == 1.0 and 0.4 < out[50] < 0.6


@pytest.mark.parametrize(
    "modality, sop, code",
    [("CT", "", "CT"), ("PT", "", "PT"), ("", "1.2.840.10008.5.1.4.1.1.4", "MR"), ("XX", "", "OT")],
)
def test_dicom_recognition(modality, sop, code):
    assert modality_for_dicom(modality, sop).code == code


def test_unknown_code_is_generic_and_readout_formats():
    assert get_modality("XYZ").code == "OT"
    assert get_modality("CT").format_value(41.6, "HU") == "42 HU"

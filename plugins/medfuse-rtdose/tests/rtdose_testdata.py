"""The RT Dose files pydicom ships, read in place (shared by the medfuse-rtdose tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

#: RT Dose files in pydicom's test data: multi-frame and single-frame; implicit VR, explicit VR big
#: endian and RLE transfer syntaxes; DoseUnits RELATIVE, DoseGridScaling 1e-6, 10 x 10 pixels of 10 mm
MULTI_FRAME = ("rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm")
SINGLE_FRAME = ("rtdose_1frame.dcm", "rtdose_expb_1frame.dcm", "rtdose_rle_1frame.dcm")


def pydicom_file(name: str) -> Path:
    """Path of one of pydicom's test files (skips when this pydicom does not ship it)."""
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom does not ship {name}")
    return Path(path)

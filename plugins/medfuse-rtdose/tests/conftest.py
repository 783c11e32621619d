"""Fixtures of the medfuse-rtdose tests: the RT Dose files pydicom ships, read in place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
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


@pytest.fixture
def rtdose_path() -> Path:
    """pydicom's 15-frame RT Dose (implicit VR little endian)."""
    return pydicom_file("rtdose.dcm")


@pytest.fixture
def edited_rtdose(tmp_path: Path, rtdose_path: Path) -> Callable[..., Path]:
    """Write a copy of ``rtdose.dcm`` with some attributes changed under ``tmp_path``."""

    def edit(name: str = "edited.dcm", **changes: object) -> Path:
        ds = pydicom.dcmread(rtdose_path)
        for keyword, value in changes.items():
            setattr(ds, keyword, value)
        out = tmp_path / name
        ds.save_as(out)
        return out

    return edit

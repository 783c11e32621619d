"""Fixtures of the medfuse-rtdose tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from rtdose_testdata import pydicom_file


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

"""Shared test fixtures: the real-data folder (``MEDFUSE_TEST_DATA``, default ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDFUSE_TEST_DATA", REPO.parent / "shared" / "data"))


def real_data(*parts: str) -> Path:
    """Path of a file or folder of the real test data; skips the test when it is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not found at {path} (set MEDFUSE_TEST_DATA)")
    return path


@pytest.fixture
def data_dir() -> Path:
    """The real test data folder; skips when absent."""
    return real_data()

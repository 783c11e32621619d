"""Fixtures of the batch tests: one local Dask cluster per test module, tiny studies on disk."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from medfuse.io import write_nifti
from medfuse.volume import Volume

LOAD_EXPORT = """\
name: load_export
inputs:
  ct: {role: fixed, modality: CT}
  pet: {role: moving, modality: PT}
steps:
  - step: load
  - step: register
    mode: geometry
  - step: export
    items: [fixed, registered]
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """A LocalCluster of 2 single-threaded worker processes, shared by a test module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR) as local:
        yield local


def tiny_study(folder: Path, name: str, seed: int) -> tuple[Path, Path]:
    """A 16x16x8 CT and an 8x8x4 PET covering the same box, as NIfTI files."""
    rng = np.random.default_rng(seed)
    ct = Volume(rng.integers(-100, 100, (8, 16, 16)).astype(np.int16), modality="CT", units="HU")
    pet = Volume(rng.random((4, 8, 8)).astype(np.float32), spacing=(2.0, 2.0, 2.0),
                 origin=(0.5, 0.5, 0.5), modality="PT", units="SUVbw")
    return (write_nifti(ct, folder / f"{name}_ct.nii.gz"),
            write_nifti(pet, folder / f"{name}_pet.nii.gz"))


@pytest.fixture
def cohort(tmp_path: Path) -> dict[str, Path]:
    """Inputs of 4 studies (s0, s1 good; broken: a corrupt CT; hang: a CT that never reads),
    the load/export pipeline and the manifest."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rows = []
    for i, name in enumerate(["s0", "s1", "broken", "hang"]):
        ct, pet = tiny_study(inputs, name, i)
        rows.append(f"{name},{ct},{pet}")
    (inputs / "broken_ct.nii.gz").write_bytes(b"not a NIfTI file")
    (inputs / "hang_ct.nii.gz").unlink()
    os.mkfifo(inputs / "hang_ct.nii.gz")  # opening it for reading blocks: a study that hangs
    (tmp_path / "pipeline.yaml").write_text(LOAD_EXPORT)
    (tmp_path / "studies.csv").write_text("study_id,ct,pet\n" + "\n".join(rows) + "\n")
    return {"pipeline": tmp_path / "pipeline.yaml", "manifest": tmp_path / "studies.csv",
            "inputs": inputs, "out": tmp_path / "out"}

"""``medfuse register`` end to end on small NIfTI files, and the scanner-alignment rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from medfuse.cli import main
from medfuse.io import write_nifti
from medfuse.registration import needs_registration
from medfuse.volume import Volume
from tests.registration.conftest import perturbed


@pytest.fixture
def pair(tmp_path, t1, t2):
    inputs = tmp_path / "in"
    moving = perturbed(t2, sitk.Euler3DTransform(tuple(t1.center()), 0.1, 0.0, 0.05, (5, 3, -4)))
    return write_nifti(t1, inputs / "t1.nii.gz"), write_nifti(moving, inputs / "t2.nii.gz")


def test_register_writes_every_output(pair, tmp_path):
    fixed, moving = pair
    out = tmp_path / "out"
    code = main(["register", str(fixed), str(moving), "-o", str(out), "--fixed-modality", "MR",
                 "--moving-modality", "MR", "--seed", "5", "--quiet"])
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {"registered.nii.gz", "transform.tfm", "metrics.json", "TransformParameters.0.txt",
            "TransformParameters.1.txt"} <= names
    assert not any(n.startswith(".") for n in names)  # no temporary files left
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mi_after"] > metrics["mi_before"] and metrics["preset"] == "rigid_mi"
    assert metrics["seed"] == 5


def test_register_writes_beside_its_inputs_and_never_over_them(pair, capsys):
    fixed, moving = pair
    before = fixed.read_bytes(), moving.read_bytes()
    code = main(["register", str(fixed), str(moving), "-o", str(fixed.parent / "out"), "--quiet"])
    assert code == 0 and (fixed.parent / "out" / "transform.tfm").exists()
    assert (fixed.read_bytes(), moving.read_bytes()) == before
    assert sorted(p.name for p in fixed.parent.iterdir()) == ["out", "t1.nii.gz", "t2.nii.gz"]
    assert main(["register", str(fixed), str(moving), "-o", str(moving), "--quiet"]) == 2
    assert "the output would replace the input" in capsys.readouterr().err
    assert main(["register", str(fixed.parent / "nope.nii"), str(moving), "-o", "x"]) == 2
    assert capsys.readouterr().err.strip().endswith("nope.nii: no such file or folder")


def test_register_bad_parameter_file_is_one_line(pair, tmp_path, capsys):
    fixed, moving = pair
    bad = tmp_path / "p.txt"
    bad.write_text("Transform Euler\n")
    code = main(["register", str(fixed), str(moving), "-o", str(tmp_path / "o"), "--params",
                 str(bad), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "line 1 is not an elastix entry" in err and len(err.strip().splitlines()) == 1


def _series(modality: str, frame: str) -> Volume:
    return Volume(np.zeros((4, 4, 4)), modality=modality, meta={"frame_of_reference_uid": frame})


@pytest.mark.parametrize(("a", "b", "expected"), [
    (_series("CT", "1.2"), _series("PT", "1.2"), False),   # PET/CT scanner alignment
    (_series("CT", "1.2"), _series("NM", "1.2"), False),   # SPECT/CT
    (_series("CT", "1.2"), _series("PT", "9.9"), True),    # different frames
    (_series("CT", "1.2"), _series("MR", "1.2"), True),    # shared frame across scanners proves nothing
    (Volume(np.zeros((4, 4, 4)), modality="CT"), Volume(np.zeros((4, 4, 4)), modality="PT"), True),
])
def test_needs_registration(a, b, expected):
    assert needs_registration(a, b) is expected

"""A deformable result goes wherever a rigid one goes: ``medfuse register --preset bspline`` and
``medfuse run`` with the MR/CT pipeline's deformable option write ``registered.nii.gz``, a
``transform.tfm`` that SimpleITK reads and ``medfuse resample`` applies, the Jacobian map, and a
report whose QA section shows the deformation's Jacobian (real STS_002 MR onto its CT)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from medfuse.cli import main
from medfuse.io import load
from tests.conftest import REPO, real_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sts() -> dict[str, Path]:
    patient = real_data("volumes", "sts", "STS_002")
    return {"ct": patient / "CT/nifti/image/image.nii.gz",
            "mr": patient / "MR_T1/nifti/image/image.nii.gz",
            "mask": patient / "CT/nifti/mask/mask.nii.gz"}


def _is_deformable_tfm(path: Path) -> bool:
    transform = sitk.ReadTransform(str(path)).Downcast()
    if not isinstance(transform, sitk.CompositeTransform):
        return False
    parts = [transform.GetNthTransform(i).GetName() for i in range(transform.GetNumberOfTransforms())]
    return "BSplineTransform" in parts


def _resampled_like(tmp: Path, sts: dict[str, Path], tfm: Path) -> np.ndarray:
    out = tmp / f"resampled_{tfm.parent.name}.nii.gz"
    assert main(["resample", str(sts["mr"]), "--like", str(sts["ct"]), "--transform", str(tfm),
                 "-o", str(out)]) == 0
    return load(out).array


@pytest.fixture(scope="module")
def registered(tmp_path_factory, sts) -> Path:
    out = tmp_path_factory.mktemp("register") / "out"
    assert main(["register", str(sts["ct"]), str(sts["mr"]), "-o", str(out), "--preset", "bspline",
                 "--fixed-modality", "CT", "--moving-modality", "MR", "--quiet"]) == 0
    return out


def test_register_writes_the_deformable_result_and_resample_applies_it(registered, sts, tmp_path):
    assert {"registered.nii.gz", "transform.tfm", "jacobian.nii.gz", "metrics.json"} <= {
        p.name for p in registered.iterdir()}
    assert _is_deformable_tfm(registered / "transform.tfm")
    written = load(registered / "registered.nii.gz")
    ct = load(sts["ct"])
    assert written.same_grid(ct)
    np.testing.assert_allclose(_resampled_like(tmp_path, sts, registered / "transform.tfm"),
                               written.array, atol=1e-2 * float(np.abs(written.array).max()))
    metrics = json.loads((registered / "metrics.json").read_text())
    jacobian = load(registered / "jacobian.nii.gz")
    assert metrics["preset"] == "bspline" and metrics["folding_fraction"] == 0
    assert 0 < jacobian.array.min() < 1 < jacobian.array.max()
    assert np.abs(np.asarray(jacobian.center()) - ct.center()).max() < 2.0  # the CT's box


def _deformable_mr_ct(tmp: Path) -> Path:
    """``pipelines/mr_ct.yaml`` with the deformable option its header names switched on (and a
    classical fusion, the learned one's weights not being needed here)."""
    text = (REPO / "pipelines" / "mr_ct.yaml").read_text()
    text, found = re.subn(r"(?m)^(\s*)# preset: bspline\b.*$", r"\1preset: bspline", text)
    assert found == 1, "pipelines/mr_ct.yaml no longer names the deformable preset option"
    text = text.replace("method: default", "method: average")
    text = re.sub(r"(?m)^(\s*)formats: \[nifti, dicom, png, seg, transforms\]",
                  r"\1formats: [nifti, transforms]", text)
    path = tmp / "mr_ct_bspline.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory, sts) -> Path:
    tmp = tmp_path_factory.mktemp("run")
    (tmp / "studies.csv").write_text(f"study_id,ct,mr,mask\nSTS_002,{sts['ct']},{sts['mr']},"
                                     f"{sts['mask']}\n")
    out = tmp / "cohort"
    assert main(["run", str(_deformable_mr_ct(tmp)), "--manifest", str(tmp / "studies.csv"),
                 "-o", str(out), "--workers", "1", "--quiet"]) == 0
    return out / "STS_002"


def test_run_with_the_deformable_option_exports_transform_and_jacobian(batch, sts, tmp_path):
    status = json.loads((batch / "status.json").read_text())
    assert status["status"] == "done", status
    assert {"volumes/mr_registered.nii.gz", "transforms/mr/"} <= set(status["outputs"]), status
    tfm = batch / "transforms" / "mr" / "transform.tfm"
    assert _is_deformable_tfm(tfm)
    assert load(batch / "transforms" / "mr" / "jacobian.nii.gz").array.min() > 0
    registered = load(batch / "volumes" / "mr_registered.nii.gz").array
    np.testing.assert_allclose(_resampled_like(tmp_path, sts, tfm), registered,
                               atol=1e-2 * float(np.abs(registered).max()))


def test_the_report_qa_shows_the_deformation(batch):
    doc = json.loads((batch / "report.json").read_text())
    (entry,) = doc["registration"]
    assert entry["preset"] == "bspline" and entry["transform"] == "CompositeTransform"
    metrics = entry["metrics"]
    assert metrics["folding_fraction"] == 0 and 0 < metrics["jacobian_min"] < 1 < metrics["jacobian_max"]
    assert metrics["warnings"] == []
    page = (batch / "report.html").read_text()
    assert "Jacobian determinant, min" in page and "Folded fraction of the grid" in page
    # no inverse of a B-spline: the MR's ROI statistics are taken on its registered copy
    mr_rois = [r for r in doc["rois"] if r["role"] == "mr"]
    assert mr_rois and all(r["grid"] == "fixed" and r["mask_mapping"] == "registered series"
                           for r in mr_rois)
    with (batch.parent / "cohort.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["mr_registration"] == "registered"

"""The report document, its HTML and PDF renderings, identity handling and the ``medfuse report`` CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from medfuse.errors import InputError
from medfuse.io.identity import patient_identity
from medfuse.quantify.roi import roi_statistics
from medfuse.report import write_report
from medfuse.provenance import content_hash
from medfuse.report.document import SCHEMA_VERSION, build_document
from medfuse.study import Study
from medfuse.workflow import quantify_study


def test_document_numbers_and_provenance(study: Study) -> None:
    doc = build_document(study)
    json.dumps(doc, allow_nan=False)
    assert doc["schema"] == "medfuse-report" and doc["schema_version"] == SCHEMA_VERSION
    assert {"medfuse", "itk-elastix", "monai", "torch", "numpy", "SimpleITK"} <= set(doc["software"])
    assert [i["role"] for i in doc["inputs"]] == ["fixed", "moving", "moving", "mask"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", i["sha256"]) for i in doc["inputs"])
    assert doc["inputs"][0]["of"] == "file" and doc["inputs"][1]["of"] == "voxels"
    assert doc["patient"] is None and "source" not in doc["inputs"][0]
    rois = doc["rois"]
    assert [(r["series"], r["name"]) for r in rois] == [
        ("CT (fixed)", "GTV"), ("PT (moving 1)", "GTV"), ("MR (moving 2)", "GTV")]
    for r in rois:
        assert {"name", "modality", "units", "volume_ml", "mean", "max"} <= set(r)
    ct, pet, mr = rois
    assert ct["hu_mean"] == pytest.approx(roi_statistics(study.fixed, study.masks[0])[0]["mean"])
    # PET statistics on the PET's own 4 mm grid, the mask mapped by position
    own = roi_statistics(study.moving[0], study.masks[0])[0]
    assert pet["grid"] == "own" and pet["voxel_count"] == own["voxel_count"]
    for key in ("suv_max", "suv_mean", "suv_peak", "mtv_ml", "tlg"):
        assert pet[key] == pytest.approx(own[key]), key
    assert pet["suv_max"] == pytest.approx(9.0)
    # the registered MR gets the mask through the inverse of its transform
    inverse = study.registrations[1].transform.GetInverse()
    assert mr["mask_mapping"] == "inverse registration transform"
    assert mr["mean"] == pytest.approx(
        roi_statistics(study.moving[1], study.masks[0], transform=inverse)[0]["mean"])


def test_registration_and_fusion_sections(study: Study) -> None:
    doc = build_document(study)
    kept, registered = doc["registration"]
    assert kept["method"] == "scanner alignment kept" and kept["metrics"] == {}
    assert registered["method"] == "registration" and registered["preset"] == "rigid"
    assert registered["metrics"]["mi_before"] == 0.31 and registered["metrics"]["mi_after"] == 0.52
    assert registered["transform"] == "TranslationTransform"
    assert doc["fusion"]["method"] == "average" and doc["fusion"]["metrics"]["Qabf"] == 0.41
    assert doc["figures_through"]["kind"].startswith("lesion")
    assert doc["figures_through"]["point_lps_mm"] == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)


def test_deformable_registration_uses_the_registered_series(study: Study) -> None:
    import SimpleITK as sitk

    study.registrations[1].transform = sitk.BSplineTransform(3)  # no inverse
    mr = build_document(quantify_study(study))["rois"][2]
    assert mr["grid"] == "fixed" and mr["mask_mapping"] == "registered series"


def test_write_report_is_self_contained(study: Study, tmp_path: Path) -> None:
    out = write_report(study, tmp_path / "report")
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "report.html", "report.json", "report.pdf"]
    doc = json.loads(out["json"].read_text())
    assert len(doc["rois"]) == 3
    page = out["html"].read_text()
    assert not re.search(r"(src|href)=\"(?!data:)", page), "HTML must not reference anything"
    assert "http://" not in page and "https://" not in page and "@import" not in page
    assert page.count("data:image/png;base64,") == 6  # 2 + 2 registration, fused planes, PET MIP
    assert "scanner alignment kept" in page and "SUVpeak" in page
    assert f"{doc['rois'][1]['suv_max']:.3g}" in page
    assert out["pdf"].read_bytes()[:5] == b"%PDF-"


def test_report_without_masks_or_fusion(study: Study, tmp_path: Path) -> None:
    study.masks, study.rois, study.fused, study.fusion_metrics = [], [], None, {}
    out = write_report(study, tmp_path / "r", formats=("json", "html"))
    doc = json.loads(out["json"].read_text())
    assert doc["rois"] == [] and doc["figures_through"]["kind"] == "centre of the fixed series"
    assert "No mask was given" in out["html"].read_text()


def _dicom_with_identity(path: Path) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "PID-4711", "19600101"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_patient_identity_only_when_asked(study: Study, tmp_path: Path) -> None:
    source = _dicom_with_identity(tmp_path / "PID-4711" / "ct" / "1.dcm")
    study.fixed.meta.update(format="dicom", source=str(source.parent), description="PID-4711 CT")
    study.patient = patient_identity([study.fixed])  # what load_study reads
    hidden = write_report(study, tmp_path / "hidden", formats=("json", "html"))
    for path in hidden.values():
        text = path.read_text()
        assert "Doe^Jane" not in text and "PID-4711" not in text and "19600101" not in text
    assert json.loads(hidden["json"].read_text())["inputs"][0]["description"] == "[withheld] CT"
    shown = write_report(study, tmp_path / "shown", formats=("json", "html"),
                         include_patient_identity=True)
    doc = json.loads(shown["json"].read_text())
    assert doc["patient"]["name"] == "Doe^Jane" and doc["patient"]["birth_date"] == "19600101"
    assert "PID-4711" in shown["html"].read_text()


def test_content_hash_of_a_folder_changes_with_content(tmp_path: Path) -> None:
    from medfuse.volume import Volume

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.dcm").write_bytes(b"one")
    volume = Volume(np.zeros((2, 2, 2)), meta={"source": str(tmp_path / "s")})
    first = content_hash(volume)
    (tmp_path / "s" / "a.dcm").write_bytes(b"two")
    assert first["of"] == "folder" and first["n_files"] == 1
    assert content_hash(volume)["sha256"] != first["sha256"]


def test_cli_report_writes_three_files(study: Study, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import medfuse.workflow
    from medfuse.cli import main

    seen = {}

    def fake_run_study(inputs, **kwargs):
        seen["inputs"], seen["kwargs"] = inputs, kwargs
        return study

    monkeypatch.setattr(medfuse.workflow, "run_study", fake_run_study)
    fixed, moving = tmp_path / "inputs" / "ct.nii.gz", tmp_path / "inputs" / "ct.nii.gz"
    code = main(["report", str(fixed), str(moving), "--modality", f"{fixed}=CT",
                 "--fusion-method", "average", "-o", str(tmp_path / "out")])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report.html", "report.json", "report.pdf"]
    assert seen["inputs"].modalities == {str(fixed): "CT"}
    assert seen["kwargs"]["fusion_method"] == "average"


def test_cli_report_bad_modality_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from medfuse.cli import main

    code = main(["report", "a.nii.gz", "b.nii.gz", "--modality", "PT", "-o", str(tmp_path / "o")])
    assert code == 2
    assert "PATH=CODE[:UNITS]" in capsys.readouterr().err


def _pdf_text(path: Path) -> str:
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    return " ".join(text.split())


def test_fusion_legend_and_truth_error_in_html_and_pdf(study: Study, tmp_path: Path) -> None:
    study.registrations[1].metrics.update(tre_truth_mean_mm=0.309, tre_truth_before_mean_mm=15.1)
    study.fused.meta["method"] = "learned2d"
    study.parameters["fusion_method"] = "default"
    out = write_report(study, tmp_path / "r", formats=("json", "html", "pdf"))
    doc = json.loads(out["json"].read_text())
    assert doc["fusion"]["method_resolved"] == "learned2d"
    page = re.sub(r"<[^>]+>", " ", out["html"].read_text())
    pdf = _pdf_text(out["pdf"])
    for text in (" ".join(page.split()), pdf):
        assert "Method: default (learned2d)" in text
        assert ("Target registration error against the known truth: 0.309 mm (mean, 15.1 mm "
                "before registration)") in text
        assert "Higher is better for every metric" in text
        assert "Qabf 0.41 edge information carried over from the inputs (0 to 1)" in text
        assert "Mutual information (bits) 0.31 0.52 higher after: better aligned" in text
        assert "preset: rigid; duration_s: 1.5" in text
    # the PET/CT pair kept its scanner alignment: no truth sentence for it
    assert page.count("Target registration error against the known truth") == 1


def test_registration_quality_rows_follow_the_metrics() -> None:
    from medfuse.report import _tables

    assert _tables.registration_quality_table({"warnings": []}) is None
    header, rows = _tables.registration_quality_table(
        {"mi_before": 0.3, "mi_after": 0.5, "jacobian_min": 0.4, "jacobian_max": 1.9,
         "folding_fraction": 0.0, "preset": "bspline"})
    assert header == ["Quality", "Before", "After", "How to read it"]
    assert [r[0] for r in rows] == ["Mutual information (bits)", "Jacobian determinant, min",
                                    "Jacobian determinant, max", "Folded fraction of the grid"]
    assert _tables.registration_details({"preset": "bspline", "mi_after": 0.5,
                                         "warnings": ["x"]}) == "preset: bspline"

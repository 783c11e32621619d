"""The study commands as a user types them: outputs checked before any work, beside the inputs
allowed, never a partial folder; resample by scanner geometry or a transform; info at 80 columns."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medfuse.cli import main
from medfuse.io import load, write_nifti
from medfuse.volume import Volume
from tests.conftest import real_data

STS = ("volumes", "sts", "STS_001")
MEDFUSE = str(Path(sys.executable).parent / "medfuse")  # the console script


def test_report_refuses_a_dicom_series_folder_before_any_work(tmp_path: Path, capsys) -> None:
    patient = real_data(*STS)
    series = patient / "CT" / "dicom" / "image"
    started = time.perf_counter()
    code = main(["report", str(series), str(patient / "PET" / "dicom" / "image"),
                 "-o", str(series / "report")])
    assert code == 2 and time.perf_counter() - started < 5  # refused before loading anything
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "inside the input folder" in err and "report" in err


@pytest.mark.parametrize(("make", "message"), [
    (lambda out: out.write_text("x"), "a file is in the way: the output must be a folder"),
    (lambda out: (out.mkdir(), (out / "notes.txt").write_text("mine")),
     "holds files MedFuse did not write"),
])
def test_report_output_problems_are_one_line(tmp_path: Path, capsys, make, message) -> None:
    ct = write_nifti(Volume(np.zeros((4, 6, 6), np.int16), modality="CT", units="HU"),
                     tmp_path / "ct.nii.gz")
    out = tmp_path / "out"
    make(out)
    assert main(["report", str(ct), str(ct), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {out}: {message}" or (err.startswith(f"error: {out}: ") and message in err)


def test_report_missing_input_says_no_such_file(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nope"), str(tmp_path / "nope2"), "-o",
                 str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope'}: no such file or folder"


@pytest.mark.slow
def test_report_beside_its_inputs_prints_a_summary(tmp_path: Path) -> None:
    patient = real_data(*STS)
    for name in ("CT", "PET"):
        shutil.copytree(patient / name / "dicom", tmp_path / name)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = subprocess.run(
        [MEDFUSE, "report", "CT/image", "PET/image", "--mask",
         "CT/mask/RS.dcm", "--fusion-method", "average", "-o", "study"],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "pt (PT): scanner alignment kept"
    assert lines[1].startswith("fused ct + pt (average): EN ")
    assert any(line.startswith("ROI GTV_Mass_CT on pt: ") and "SUVmax" in line for line in lines)
    assert lines[-1].startswith("wrote study: report.html, report.json, report.pdf")
    assert {p: p.read_bytes() for p in before} == before  # inputs untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CT", "PET", "study"]


@pytest.mark.slow
def test_an_interrupted_report_leaves_no_folder_and_the_rerun_cleans_up(tmp_path: Path) -> None:
    patient = real_data(*STS)
    command = [MEDFUSE, "report", str(patient / "CT" / "dicom" / "image"),
               str(patient / "PET" / "dicom" / "image"), "--fusion-method", "average",
               "--export", "-q", "-o", str(tmp_path / "study")]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".study.*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # until it writes its temporary study folder
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not (tmp_path / "study").exists()
    assert list(tmp_path.glob(".study.*")), "the killed run's temporary folder is what remains"
    assert subprocess.run(command, capture_output=True).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]  # the stale temporary is gone
    assert (tmp_path / "study" / "report.pdf").exists()


def test_resample_by_geometry_and_through_a_transform(tmp_path: Path, capsys) -> None:
    import SimpleITK as sitk

    ramp = np.arange(8 * 10 * 12, dtype=np.float32).reshape(8, 10, 12)
    fixed = Volume(np.zeros((8, 10, 12), np.float32), spacing=(2.0, 2.0, 2.0), modality="MR")
    moving = Volume(ramp, spacing=(2.0, 2.0, 2.0), origin=(2.0, 0.0, 0.0), modality="MR")
    write_nifti(fixed, tmp_path / "fixed.nii.gz")
    write_nifti(moving, tmp_path / "moving.nii.gz")
    assert main(["resample", str(tmp_path / "moving.nii.gz"), "--like",
                 str(tmp_path / "fixed.nii.gz"), "-o", str(tmp_path / "on_fixed.nii.gz")]) == 0
    out = load(tmp_path / "on_fixed.nii.gz")
    assert out.same_grid(fixed)
    assert np.allclose(out.array[:, :, 1:], ramp[:, :, :-1])  # 2 mm along x: one voxel
    shift = sitk.TranslationTransform(3, (2.0, 0.0, 0.0))
    sitk.WriteTransform(shift, str(tmp_path / "t.tfm"))
    assert main(["resample", str(tmp_path / "moving.nii.gz"), "--like",
                 str(tmp_path / "fixed.nii.gz"), "--transform", str(tmp_path / "t.tfm"),
                 "-o", str(tmp_path / "shifted.nii.gz")]) == 0
    assert np.allclose(load(tmp_path / "shifted.nii.gz").array, ramp)
    capsys.readouterr()
    assert main(["resample", str(tmp_path / "moving.nii.gz"), "--like",
                 str(tmp_path / "fixed.nii.gz"), "-o", str(tmp_path / "moving.nii.gz")]) == 2
    assert "the output would replace the input" in capsys.readouterr().err


def test_info_fits_80_columns_with_orientation(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["info", str(real_data("volumes", "sts", "STS_002"))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), lines
    assert "orient" in lines[1] and all(" LPS " in line for line in lines[2:])
    assert " 0.977x0.977x3.27 " in lines[2]
    spect = real_data("volumes", "spm12_templates", "OldNorm", "SPECT.nii")
    assert main(["info", str(spect), "--json", "--modality", "NM"]) == 0
    entry = json.loads(capsys.readouterr().out)[0]
    assert entry["modality"] == "NM" and entry["orientation"] == "RAS"  # x stored flipped


def test_a_batch_study_takes_an_rtstruct_mask(tmp_path: Path) -> None:
    from medfuse.pipeline.config import parse_pipeline
    from medfuse.pipeline.steps import run_steps

    patient = real_data(*STS)
    pipeline = parse_pipeline("name: rt\ninputs: {ct: {role: fixed}, pet: {role: moving}, "
                              "mask: {role: mask}}\nsteps: [{step: load}, {step: register, "
                              "mode: geometry}, {step: quantify}]\n")
    state = run_steps(pipeline, {"ct": patient / "CT" / "dicom" / "image",
                                 "pet": patient / "PET" / "dicom" / "image",
                                 "mask": patient / "CT" / "dicom" / "mask" / "RS.dcm"}, tmp_path)
    pet = load(patient / "PET" / "dicom" / "image")
    mask = load(patient / "PET" / "nifti" / "mask" / "mask.nii.gz")  # the same GTV, as NIfTI
    on_pet = mask.resample_to(pet, interpolation="nearest").array > 0
    assert state.summary["pet_gtv_mass_ct_suv_max"] == pytest.approx(
        float(pet.array[on_pet].max()), rel=1e-3)
    assert state.summary["ct_gtv_mass_ct_hu_mean"] > -200


def test_register_rerun_removes_the_temporaries_of_a_killed_run(tmp_path: Path) -> None:
    from medfuse.io._atomic import _host

    t1 = real_data("volumes", "spm12_templates", "canonical", "avg152T1.nii")
    t2 = real_data("volumes", "spm12_templates", "canonical", "avg152T2.nii")
    stale = tmp_path / f".out.mf999999999_{_host()}_abcdefgh"  # a folder of a process now gone
    (stale / "half").mkdir(parents=True)
    (stale / "half" / "registered.nii.gz").write_bytes(b"half")
    assert main(["register", str(t1), str(t2), "-o", str(tmp_path / "out"), "--fixed-modality",
                 "MR", "--moving-modality", "MR", "-q"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert {"registered.nii.gz", "transform.tfm", "metrics.json"} <= {
        p.name for p in (tmp_path / "out").iterdir()}


def test_an_unwritable_output_is_refused_before_any_work(tmp_path: Path, capsys,
                                                         monkeypatch) -> None:
    import medfuse.io.paths

    ct = write_nifti(Volume(np.zeros((4, 6, 6), np.int16), modality="CT", units="HU"),
                     tmp_path / "ct.nii.gz")
    (tmp_path / "locked").mkdir()
    # root may write anywhere: stand for a folder this user cannot write into
    monkeypatch.setattr(medfuse.io.paths.os, "access", lambda path, mode: Path(path).name != "locked")
    assert main(["report", str(ct), str(ct), "-o", str(tmp_path / "locked" / "study")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {tmp_path / 'locked' / 'study'}: cannot write into "
                   f"{tmp_path / 'locked'} (permission denied)")
    assert main(["register", str(ct), str(ct), "-o", str(tmp_path / "locked" / "r"), "-q"]) == 2
    assert "(permission denied)" in capsys.readouterr().err


@pytest.mark.slow
def test_register_takes_an_rtstruct_mask_as_its_nifti_twin(tmp_path: Path) -> None:
    patient = real_data(*STS)
    metrics = {}
    for name, mask in (("rtstruct", patient / "CT" / "dicom" / "mask" / "RS.dcm"),
                       ("nifti", patient / "CT" / "nifti" / "mask" / "mask.nii.gz")):
        assert main(["register", str(patient / "CT" / "dicom" / "image"),
                     str(patient / "MR_T1" / "dicom" / "image"), "--fixed-mask", str(mask),
                     "-o", str(tmp_path / name), "-q"]) == 0
        metrics[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    # the metric is sampled in the same GTV either way (the NIfTI copy's header rounds its grid:
    # within 1 %); a tumour-only mask is a poor guide for the optimiser, so only the start counts
    for key in ("mi_before", "nmi_before"):
        assert metrics["rtstruct"][key] == pytest.approx(metrics["nifti"][key], rel=0.01), key

"""The issue's check: the sample study and the real STS studies with one broken study among them,
run by ``medfuse run`` on a LocalCluster of 2 workers, interrupted part-way and run again."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import real_data
from tests.pipeline.test_runner import assert_complete

PIPELINE = (Path(__file__).resolve().parents[2] / "pipelines" / "pet_ct_quick.yaml").read_text()
CLI = [sys.executable, "-c", "from medfuse.cli import main; raise SystemExit(main())"]


@pytest.mark.slow
def test_cohort_interrupted_then_completed(tmp_path: Path) -> None:
    sts = real_data("volumes", "sts")
    from medfuse.sample import write_study

    sample = write_study(tmp_path / "sample")
    rows = [f"sample,{sample / 'ct' / 'ct.nii.gz'},{sample / 'pet' / 'pet.nii.gz'},"
            f"{sample / 'labels' / 'lesions.nii.gz'}"]
    for patient, kind in (("STS_001", "nifti"), ("STS_002", "dicom")):
        ct, pet = (sts / patient / m / kind / "image" for m in ("CT", "PET"))
        if kind == "nifti":
            ct, pet = ct / "image.nii.gz", pet / "image.nii.gz"
        rows.append(f"{patient},{ct},{pet},{sts / patient / 'CT' / 'nifti' / 'mask' / 'mask.nii.gz'}")
    rows.append(f"broken,{sts / 'STS_001' / 'MR_T1' / 'nifti' / 'mask'},{sts / 'STS_001' / 'PET' / 'dicom' / 'image'},")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    (tmp_path / "studies.csv").write_text("study_id,ct,pet,mask\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    command = [*CLI, "run", str(tmp_path / "pipeline.yaml"), "--manifest",
               str(tmp_path / "studies.csv"), "-o", str(out), "--workers", "2", "--quiet"]

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not any(json.loads(p.read_text())["status"] == "done" for p in out.glob("*/status.json")) \
            and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    output, _ = first.communicate(timeout=120)
    assert first.returncode in (130, 1), output  # 1: everything had finished before the signal
    partial = assert_complete(out)
    assert any(s["status"] == "done" for s in partial.values())

    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1, again.stderr
    statuses = assert_complete(out)
    assert {k: v["status"] for k, v in statuses.items()} == {
        "sample": "done", "STS_001": "done", "STS_002": "done", "broken": "failed"}
    assert statuses["broken"]["reason"].startswith("load: InvalidSeriesError")
    for sid in ("sample", "STS_001", "STS_002"):
        assert {"report.json", "volumes/pet_registered.nii.gz"} <= set(statuses[sid]["outputs"])
    done_before = [sid for sid, s in partial.items() if s["status"] == "done"]
    assert all(statuses[sid]["run_id"] == partial[sid]["run_id"] for sid in done_before)
    with (out / "cohort.csv").open() as fh:
        table = {row["study_id"]: row for row in csv.DictReader(fh)}
    # the DICOM PET of STS_002 is in SUV (Units GML); NIfTI records no units
    assert float(table["STS_002"]["pet_roi_1_suv_max"]) > 1.0
    assert float(table["STS_001"]["pet_roi_1_mean"]) > 0.0
    assert len(json.loads((out / "run.json").read_text())["runs"]) == 2
    # fusion quality columns, with their meaning on the cohort page
    assert 0 < float(table["STS_002"]["fusion_qabf"]) <= 1 and table["broken"]["fusion_qabf"] == ""
    page = (out / "cohort.html").read_text()
    assert '<th class="fusion" title="edge information carried over' in page
    assert "Fusion quality columns" in page and "Higher is better" in page

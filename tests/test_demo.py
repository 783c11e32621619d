"""The demo end to end: what `make demo` runs, with the registration checked against the truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medfuse.demo import run_demo
from medfuse.io import load

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out)


def test_demo_writes_every_promised_output(demo_out):
    out, written = demo_out
    results = out / "results"
    for name in ("volumes/mr_registered.nii.gz", "volumes/pt_registered.nii.gz",
                 "volumes/fused.nii.gz", "masks/mask_1.nii.gz", "overlays/overlay_axial.png",
                 "report.json", "report.html", "report.pdf", "transforms/pt/transform.tfm"):
        assert (results / name).stat().st_size > 0, name
    assert (out / "overlays.png").stat().st_size > 0
    assert set(written.values()) <= {p for p in out.rglob("*")}
    assert not list(out.glob(".*")) and not list(results.rglob(".*")), "no temporaries left"


def test_demo_registration_recovers_the_known_misalignment(demo_out):
    out, _ = demo_out
    errors = json.loads((out / "results" / "report.json").read_text())["truth"]["registration_error"]
    for name in ("mr", "pet"):
        assert errors[name]["misalignment_before_mean_mm"] > 8.0
        assert errors[name]["tre_mean_mm"] < 2.0, errors[name]


def test_demo_outputs_lie_on_the_ct_grid_and_pet_is_in_suv(demo_out):
    out, _ = demo_out
    ct = load(out / "study" / "ct" / "dicom")
    pet = load(out / "results" / "volumes" / "pt_registered.nii.gz")
    fused = load(out / "results" / "volumes" / "fused.nii.gz")
    assert pet.same_grid(ct) and fused.same_grid(ct)
    assert (pet.modality, pet.units) == ("PT", "SUVbw")
    assert 3.0 < float(np.max(pet.array)) < 20.0  # lesion SUVs of the phantom, not Bq/ml


def test_demo_report_carries_no_patient_identity(demo_out):
    out, _ = demo_out
    text = (out / "results" / "report.json").read_text() + (out / "results" / "report.html").read_text()
    assert "Anonymous" not in text and "MEDFUSE^" not in text
    assert json.loads((out / "results" / "report.json").read_text())["patient"] is None

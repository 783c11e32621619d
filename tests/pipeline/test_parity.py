"""One study, five front ends: ``medfuse report``, ``medfuse run``, the app's Export, the API and the
demo give the same registration, the same ROI numbers and the same files (the one study layout).

The study is the bundled sample (phantom CT, PET misaligned by a known rigid motion, lesion labels):
its PET is registered with elastix (deterministic: elastix's fixed seed), fused with the CT and
quantified under the lesions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

PIPELINE = """\
name: parity
inputs:
  ct: {role: fixed}
  pt: {role: moving}
  mask: {role: mask}
steps:
  - step: load
  - step: register
    mode: register
  - step: fuse
  - step: quantify
  - step: report
    formats: [json, html, pdf]
  - step: export
    items: [registered, fused, masks]
    formats: [nifti, png, transforms]
"""
#: what every front end writes, at least (the demo adds its MR)
FILES = {"report.json", "report.html", "report.pdf", "volumes/pt_registered.nii.gz",
         "volumes/fused.nii.gz", "masks/mask_1.nii.gz", "overlays/overlay_axial.png",
         "overlays/overlay_coronal.png", "overlays/overlay_sagittal.png",
         "overlays/overlay_montage.png", "transforms/pt/transform.tfm",
         "transforms/pt/TransformParameters.0.txt"}


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _numbers(folder: Path) -> dict:
    """The PET's registration and the ROI statistics of the CT and the PET, from report.json."""
    doc = json.loads((folder / "report.json").read_text())
    registration = next(r for r in doc["registration"] if r["modality"] == "PT")
    rois = {(r["modality"], r["name"]): {k: v for k, v in r.items() if isinstance(v, float)}
            for r in doc["rois"] if r["modality"] in ("CT", "PT")}  # the demo also has its MR
    return {"preset": registration["preset"], "rois": rois, "fusion": doc["fusion"]["method"]}


def _parameters(folder: Path) -> np.ndarray:
    import SimpleITK as sitk

    return np.asarray(sitk.ReadTransform(str(folder / "transforms" / "pt" / "transform.tfm"))
                      .GetParameters())


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from medfuse.sample import write_study

    folder = write_study(tmp_path_factory.mktemp("sample") / "study")
    return {"ct": folder / "ct" / "dicom", "pt": folder / "pet" / "dicom",
            "mask": folder / "labels" / "lesions.nii.gz", "root": folder.parent}


@pytest.fixture(scope="module")
def outputs(sample: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from medfuse.cli import main
    from medfuse.demo import run_demo
    from medfuse.io import load
    from medfuse.napari._tasks import register_volumes, study_report
    from medfuse.workflow import StudyInputs, run_study, write_study

    base = tmp_path_factory.mktemp("parity")
    out = {}
    # the API
    inputs = StudyInputs(fixed=sample["ct"], moving=[sample["pt"]], masks=[sample["mask"]])
    write_study(run_study(inputs, registration_mode="register"), base / "api",
                inputs=inputs.paths(), items=("registered", "fused", "masks"),
                formats=("nifti", "png", "transforms"))
    out["api"] = base / "api"
    # medfuse report
    assert main(["report", str(sample["ct"]), str(sample["pt"]), "--mask", str(sample["mask"]),
                 "--registration", "register", "--export-format", "nifti", "--export-format",
                 "png", "--export-format", "transforms", "-q", "-o", str(base / "report")]) == 0
    out["report"] = base / "report"
    # medfuse run, one study in the manifest
    (base / "parity.yaml").write_text(PIPELINE)
    (base / "studies.csv").write_text(
        f"study_id,ct,pt,mask\nsample,{sample['ct']},{sample['pt']},{sample['mask']}\n")
    code = main(["run", str(base / "parity.yaml"), "--manifest", str(base / "studies.csv"),
                 "-o", str(base / "run"), "--workers", "1", "-q"])
    assert code == 0
    out["run"] = base / "run" / "sample"
    # the app: the Register panel's call, then the Export panel's call with what it recorded
    ct, pet, mask = load(sample["ct"]), load(sample["pt"]), load(sample["mask"])
    _, result = register_volumes(ct, pet, mode="register", preset=None, masks={}, landmarks=None)
    study_report(ct, pet, {"moving": pet, "result": result}, [mask], base / "app")
    out["app"] = base / "app"
    # the demo (its study folder also holds the MR)
    run_demo(base / "demo")
    out["demo"] = base / "demo" / "results"
    return out


def test_every_front_end_writes_the_same_files(outputs: dict[str, Path]) -> None:
    for name, folder in outputs.items():
        assert FILES <= _files(folder), (name, sorted(FILES - _files(folder)))
    layouts = {name: _files(folder) - {"status.json", "log.txt"}
               for name, folder in outputs.items() if name != "demo"}
    assert len({frozenset(files) for files in layouts.values()}) == 1, layouts


def test_every_front_end_gives_the_same_registration_and_roi_numbers(
        outputs: dict[str, Path]) -> None:
    reference = _numbers(outputs["api"])
    assert max(v["suv_max"] for (modality, _), v in reference["rois"].items()
               if modality == "PT") > 1.0
    parameters = _parameters(outputs["api"])
    for name, folder in outputs.items():
        assert np.abs(_parameters(folder) - parameters).max() < 1e-6, name
        numbers = _numbers(folder)
        assert numbers["preset"] == reference["preset"], name
        assert numbers["rois"].keys() == reference["rois"].keys(), name
        for key, entry in reference["rois"].items():
            for stat, value in entry.items():
                assert numbers["rois"][key][stat] == pytest.approx(value, rel=1e-9, abs=1e-9), \
                    (name, key, stat)

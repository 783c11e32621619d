"""The pipelines users copy (``pipelines/*.yaml``) validate and run as shipped, and the ``units:``
of a NIfTI input reach the numbers. PET/CT and SPECT/CT run on STS_002's DICOM PET/CT (one scanner:
scanner geometry is kept; its PET stands in for a SPECT), MR/CT and MR/PET on STS_001's NIfTI series
read at about 3 mm (elastix registration). Studies run in this process: the runner's mechanics are
tested in test_runner.py."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from medfuse.io import load, write_nifti
from medfuse.pipeline import load_pipeline
from medfuse.pipeline.config import FuseStep, Pipeline, parse_pipeline
from medfuse.pipeline.steps import run_steps
from medfuse.volume import Volume
from tests.conftest import real_data

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
SHIPPED = ("pet_ct", "mr_ct", "spect_ct", "mr_pet")
#: shipped pipeline -> input -> series (keys of the ``series`` fixture)
INPUTS = {
    "pet_ct": {"ct": "CT dicom", "pet": "PET dicom", "mask": "mask dicom"},
    "spect_ct": {"ct": "CT dicom", "spect": "PET dicom", "mask": "mask dicom"},
    "mr_ct": {"ct": "CT", "mr": "MR_T1", "mask": "mask"},
    "mr_pet": {"mr": "MR_T1", "pet": "PET"},
}


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """STS_001's CT, MR, PET and CT mask as NIfTI, every in-plane axis subsampled to about 3 mm
    and every second slice (same world box, geometry kept); STS_002's DICOM CT and PET."""
    sts = real_data("volumes", "sts", "STS_001")
    sts2 = sts.parent / "STS_002"
    folder = tmp_path_factory.mktemp("sts_small")
    out = {}
    for name, path in {"CT": sts / "CT" / "nifti" / "image" / "image.nii.gz",
                       "MR_T1": sts / "MR_T1" / "nifti" / "image" / "image.nii.gz",
                       "PET": sts / "PET" / "nifti" / "image" / "image.nii.gz",
                       "mask": sts / "CT" / "nifti" / "mask" / "mask.nii.gz"}.items():
        v = load(path)
        step = max(1, round(3.0 / v.spacing[0]))
        small = Volume(np.ascontiguousarray(v.array[::2, ::step, ::step]),
                       spacing=(v.spacing[0] * step, v.spacing[1] * step, v.spacing[2] * 2),
                       origin=v.origin, direction=v.direction)
        out[name] = write_nifti(small, folder / f"{name}.nii.gz")
    out.update({"CT dicom": sts2 / "CT" / "dicom" / "image",
                "PET dicom": sts2 / "PET" / "dicom" / "image",
                "mask dicom": sts2 / "CT" / "nifti" / "mask" / "mask.nii.gz"})
    return out


def runnable(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` as shipped, or with an installed fusion method where its learned default
    cannot run here (its bundle weights missing): the rest stays as shipped."""
    from medfuse import fusion
    from medfuse.errors import MedFuseError

    step = pipeline.step("fuse")
    if step is None:
        return pipeline
    probe = Volume(np.random.default_rng(0).random((2, 8, 8)).astype(np.float32))
    try:
        fusion.fuse([probe, probe], method=step.method)
        return pipeline
    except MedFuseError as err:
        available = [m for m in fusion.available_methods() if m != step.method]
        fallback = "average" if "average" in available else available[0]
        warnings.warn(f"fusion method {step.method!r} cannot run here ({err}); using {fallback!r}",
                      stacklevel=2)
    steps = [s.model_copy(update={"method": fallback}) if isinstance(s, FuseStep) else s
             for s in pipeline.steps]
    return pipeline.model_copy(update={"steps": steps})


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_pipeline_validates(name: str) -> None:
    pipeline = load_pipeline(PIPELINES / f"{name}.yaml")
    assert pipeline.name == name and len(pipeline.sha256) == 64
    assert [s.step for s in pipeline.steps] == ["load", "register", "fuse", "quantify", "report",
                                                "export"]
    assert set(pipeline.step("export").formats) == {"nifti", "dicom", "png", "seg", "transforms"}
    assert set(pipeline.inputs) == set(INPUTS[name]) | {"mask"}
    header = (PIPELINES / f"{name}.yaml").read_text().split("Manifest columns:")[1].split("\n")[0]
    assert all(role in header for role in pipeline.inputs), header  # the comment users read


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_pipeline_runs_as_shipped(name: str, series: dict[str, Path],
                                          tmp_path: Path) -> None:
    pipeline = runnable(load_pipeline(PIPELINES / f"{name}.yaml"))
    inputs = {role: series[key] for role, key in INPUTS[name].items()}
    state = run_steps(pipeline, inputs, tmp_path)
    moving, dicom = pipeline.moving_roles[0], name in ("pet_ct", "spect_ct")
    outputs = set(state.outputs)
    assert {"report.json", "report.html", f"volumes/{moving}_registered.nii.gz",
            "volumes/fused.nii.gz", f"volumes/{moving}_registered_dicom/", "volumes/fused_dicom/",
            "overlays/overlay_sc/",
            "overlays/overlay_montage.png"} <= outputs
    if dicom:  # one PET/CT scanner: its geometry is kept; the mask goes out as a DICOM SEG too
        assert state.summary[f"{moving}_registration"] == "geometry"
        assert "masks/seg.dcm" in outputs and not (tmp_path / "transforms").exists()
        assert state.summary[f"{moving}_roi_1_suv_max"] > 2.5  # DICOM PET in SUV (Units GML)
    else:  # registered with elastix, the transform exported as .tfm and elastix files
        assert state.summary[f"{moving}_registration"] == "registered"
        assert {f"transforms/{moving}/transform.tfm",
                f"transforms/{moving}/TransformParameters.0.txt"} <= {
            p.relative_to(tmp_path).as_posix() for p in (tmp_path / "transforms").rglob("*")}
        assert not any(o == "masks/seg.dcm" for o in outputs)  # NIfTI fixed: no SEG
    assert 0 < state.summary["fusion_qabf"] <= 1 and state.summary["fusion_en"] > 0
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["fusion"]["method"] == pipeline.step("fuse").method
    if "mask" in inputs:
        assert [r["name"] for r in doc["rois"]] == ["ROI 1", "ROI 1"]
        assert state.summary[f"{moving}_roi_1_volume_ml"] > 0
    registered = load(tmp_path / "volumes" / f"{moving}_registered.nii.gz")
    assert registered.same_grid(load(inputs[pipeline.fixed_role]))


@pytest.mark.slow
def test_units_of_a_nifti_pet_give_suv_statistics(series: dict[str, Path], tmp_path: Path) -> None:
    text = (PIPELINES / "pet_ct.yaml").read_text().replace(
        "pet: {role: moving, modality: PT}", "pet: {role: moving, modality: PT, units: SUVbw}")
    text = text.replace("mode: auto", "mode: geometry").replace("method: default",
                                                               "method: average")
    pipeline = parse_pipeline(text, source="pet_ct_suv.yaml")
    assert pipeline.inputs["pet"].units == "SUVbw"
    steps = [s for s in pipeline.steps if s.step in ("load", "register", "quantify")]
    state = run_steps(pipeline.model_copy(update={"steps": steps}),
                      {"ct": series["CT"], "pet": series["PET"], "mask": series["mask"]},
                      tmp_path)
    assert state.study.moving[0].units == "SUVbw"
    # independent: the hottest PET voxel whose centre falls inside the CT mask
    pet, mask = load(series["PET"]), load(series["mask"])
    on_pet = mask.resample_to(pet, interpolation="nearest").array > 0
    assert state.summary["pet_roi_1_suv_max"] == pytest.approx(float(pet.array[on_pet].max()),
                                                               rel=1e-4)
    assert state.summary["pet_roi_1_tlg"] > 0

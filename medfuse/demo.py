"""The demo: the whole product on the bundled sample study, with its registration checked against
the known truth. ``make demo`` runs it through ``medfuse demo -o out/demo``, which writes the sample
study into ``out/demo/study/``, the study folder (the layout of ``medfuse report`` and ``run``) into
``out/demo/results/`` and a three-plane picture into ``out/demo/overlays.png``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.study import Study
from medfuse.volume import Volume
from medfuse.workflow import StudyInputs, run_study, write_study

logger = logging.getLogger(__name__)

MOVING = ("mr", "pet")


def truth_transforms(truth: dict[str, Any]) -> dict[str, Any]:
    """The sample study's true transforms (fixed CT points -> moving points) as SimpleITK transforms."""
    import SimpleITK as sitk

    out = {}
    for name, entry in truth["transforms"].items():
        transform = sitk.Euler3DTransform()
        transform.SetCenter(entry["center_lps_mm"])
        transform.SetParameters(entry["parameters"])
        out[name] = transform
    return out


def registration_error(study: Study, truth: dict[str, Any]) -> dict:
    """TRE (mm) of each registration against the truth, over 2,000 points inside the body."""
    from medfuse.registration.quality import sample_points, tre_against_truth

    body = np.asarray(study.fixed.array) > -500  # the phantom's body on the CT
    points = sample_points(study.fixed, body, n=2000)
    true = truth_transforms(truth)
    errors = {}
    for name, registration in zip(MOVING, study.registrations):
        if registration is None:
            continue
        tre = tre_against_truth(registration.transform, true[name], points)
        start = tre_against_truth(_identity(), true[name], points)
        errors[name] = {
            "tre_mean_mm": round(float(tre.mean()), 3),
            "tre_max_mm": round(float(tre.max()), 3),
            "misalignment_before_mean_mm": round(float(start.mean()), 3),
        }
        registration.metrics["tre_truth_mean_mm"] = errors[name]["tre_mean_mm"]
    return errors


def hottest_lesion_point(pet: Volume, lesions: Volume) -> np.ndarray:
    """LPS point of the hottest PET voxel inside the lesion labels (both on one grid)."""
    uptake = np.where(np.asarray(lesions.array) > 0, np.asarray(pet.array, dtype=np.float32), -np.inf)
    hottest = np.unravel_index(int(np.argmax(uptake)), uptake.shape)
    return pet.index_to_world([hottest[::-1]])[0]


def _identity() -> Any:
    import SimpleITK as sitk

    return sitk.Euler3DTransform()


def run_demo(out_dir: str | Path, *, say: Callable[[str], None] = logger.info) -> dict[str, Path]:
    """Write the sample study, register MR and PET to the CT, fuse CT with PET, and write the study
    folder (registered and fused volumes, overlays, transforms, the report with the registration
    error against the truth) and a three-plane picture under ``out_dir``.
    Returns ``{label: path}`` of what was written."""
    from medfuse.io._atomic import atomic_path
    from medfuse.report.figures import planes_figure
    from medfuse.sample import write_study as write_sample_study

    out = Path(out_dir)
    study_dir = write_sample_study(out / "study", overwrite=True)
    truth = json.loads((study_dir / "truth.json").read_text())
    say(f"sample study written to {study_dir}")

    inputs = StudyInputs(fixed=study_dir / "ct" / "dicom",
                         moving=[study_dir / name / "dicom" for name in MOVING],
                         masks=[study_dir / "labels" / "lesions.nii.gz"])
    say("registering MR and PET to CT (elastix rigid)...")
    study = run_study(inputs, registration_mode="register")  # fused with the PET: functional
    errors = registration_error(study, truth)
    for name, e in errors.items():
        say(f"  {name}: TRE {e['tre_mean_mm']:.2f} mm mean (was {e['misalignment_before_mean_mm']:.1f} mm)")

    written = write_study(
        study, out / "results", inputs=inputs.paths(), items=("registered", "fused", "masks"),
        formats=("nifti", "png", "transforms"),
        extra={"truth": {"registration_error": errors, "source": "study/truth.json"}})
    pet, mr = (study.registered[MOVING.index(name)] for name in ("pet", "mr"))  # roles pt, mr
    rows = [("CT + PET", study.fixed, pet), ("MR registered", mr, None),
            ("fused CT/PET", study.fused, None)]
    with atomic_path(out / "overlays.png") as tmp:
        tmp.write_bytes(planes_figure(rows, hottest_lesion_point(pet, study.masks[0]), width=9.0))
    written["overlays (three planes)"] = out / "overlays.png"
    return written

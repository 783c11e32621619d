"""A small synthetic study, built by hand, so report tests need neither registration nor fusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medfuse.provenance import content_hash
from medfuse.study import Study
from medfuse.volume import Volume
from medfuse.workflow import quantify_study


class FakeRegistration:
    """What the report reads of a registration result: metrics, preset, a fixed -> moving transform."""

    def __init__(self) -> None:
        import SimpleITK as sitk

        self.transform = sitk.TranslationTransform(3, (4.0, 0.0, 2.0))
        self.metrics = {"mi_before": 0.31, "mi_after": 0.52, "warnings": [],
                        "preset": "rigid", "duration_s": 1.5}
        self.preset = "rigid"


def _ball(shape: tuple[int, int, int], centre: tuple[float, float, float], radius: float) -> np.ndarray:
    z, y, x = np.indices(shape)
    return (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius**2


def make_study(tmp_path: Path) -> Study:
    """A quantified study: CT fixed, PET kept by scanner alignment, MR registered by a translation."""
    from medfuse.io import write_nifti

    rng = np.random.default_rng(0)
    ct_array = rng.normal(0, 20, (24, 40, 40)).astype(np.int16)
    ct_array[_ball(ct_array.shape, (12, 20, 20), 15)] += 40
    ct = Volume(ct_array, spacing=(2.0, 2.0, 2.0), origin=(-40.0, -40.0, -24.0),
                modality="CT", units="HU")
    write_nifti(ct, tmp_path / "inputs" / "ct.nii.gz")
    ct.meta.update(source=str(tmp_path / "inputs" / "ct.nii.gz"), format="nifti")
    ct.meta["content_hash"] = content_hash(ct)  # as load_study records it
    pet_array = np.full((12, 20, 20), 0.8, np.float32)
    pet_array[_ball(pet_array.shape, (6, 10, 10), 3)] = 6.0
    pet_array[6, 10, 10] = 9.0
    pet = Volume(pet_array, spacing=(4.0, 4.0, 4.0), origin=(-39.0, -39.0, -23.0),
                 modality="PT", units="SUVbw")
    mr = Volume(rng.normal(300, 30, (24, 40, 40)).astype(np.float32), spacing=(2.0, 2.0, 2.0),
                origin=(-36.0, -40.0, -22.0), modality="MR", units="a.u.")
    mask = ct.with_array(_ball(ct_array.shape, (12, 20, 20), 6).astype(np.uint8),
                         modality="SEG", units="label", meta={"source": None, "labels": {1: "GTV"}})
    registration = FakeRegistration()
    registered = [pet.resample_to(ct), mr.resample_to(ct, transform=registration.transform)]
    fused = ct.with_array(np.clip(ct_array / 100.0, 0, 1) * 0.5 + registered[0].array / 20.0,
                          modality="OT", units="a.u.")
    return quantify_study(Study(
        fixed=ct, moving=[pet, mr], registered=registered, registrations=[None, registration],
        fused=fused, fused_with=0, fusion_metrics={"EN": 5.5, "MI": 1.9, "Qabf": 0.41},
        masks=[mask], parameters={"registration_mode": "auto", "preset": None, "params": None,
                                  "fusion_method": "average"},
        timings={"total_s": 0.5},
    ))


@pytest.fixture
def study(tmp_path: Path) -> Study:
    return make_study(tmp_path)

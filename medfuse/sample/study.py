"""The sample study: CT, MR and PET of the phantom on scanner-like grids, with a known misalignment.

Layout written by :func:`write_study`::

    DIR/ct/dicom/*.dcm   DIR/ct/ct.nii.gz      CT in HU (the fixed image; the phantom's own space)
    DIR/mr/dicom/*.dcm   DIR/mr/mr.nii.gz      MR T1-like, moved by a known rigid transform
    DIR/pet/dicom/*.dcm  DIR/pet/pet.nii.gz    FDG PET in Bq/ml (SUV tags in DICOM), moved too
    DIR/labels/lesions.nii.gz                  lesions 1..3 on the CT grid
    DIR/truth.json  DIR/README.txt

Transforms follow SimpleITK's convention (what its registration returns): they map points of the
fixed CT to the moving image's points, ``y = R (x - c) + c + t``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import InputError
from medfuse.sample.phantom import LESIONS, TISSUES, Grid, Phantom
from medfuse.sample.scanners import ct_image, mr_image, pet_suv_image
from medfuse.volume import Volume

log = logging.getLogger(__name__)

__all__ = ["SampleStudy", "make_ct_series", "make_study", "write_study"]

CT_GRID = Grid.centred((176, 136, 48), (2.0, 2.0, 3.0), centre=(0.0, 10.0, 0.0))
MR_GRID = Grid.centred((160, 128, 36), (2.2, 2.2, 4.0), centre=(0.0, 12.0, 4.0))
PET_GRID = Grid.centred((88, 72, 38), (4.0, 4.0, 4.0), centre=(0.0, 10.0, 0.0))
#: rigid motion of each moving series: Euler angles (degrees, about x, y, z) and translation (mm)
MOTION = {"mr": ((4.0, -3.0, 5.0), (-7.0, 6.0, 8.0)), "pet": ((2.0, -1.5, 2.5), (5.0, -4.0, 6.0))}
PET_ACQUISITION = {
    "patient_weight_kg": 75.0,
    "injected_dose_bq": 370e6,
    "half_life_s": 6586.2,
    "injection_datetime": dt.datetime(2024, 3, 14, 9, 5, 0),
    "series_datetime": dt.datetime(2024, 3, 14, 10, 8, 0),
    "decay_correction": "START",
    "radionuclide": "^18^Fluorine",
    "radiopharmaceutical": "Fluorodeoxyglucose",
}
CT_TIME = dt.datetime(2024, 3, 14, 10, 2, 0)
MR_TIME = dt.datetime(2024, 3, 14, 10, 40, 0)


@dataclass
class SampleStudy:
    """The phantom's series as volumes, and the truth that goes with them."""

    ct: Volume
    mr: Volume
    pet: Volume
    lesions: Volume
    truth: dict[str, Any]


def suv_factor(pet: dict[str, Any]) -> float:
    """SUVbw per Bq/ml for the acquisition ``pet`` (decay corrected to the series start).

    Examples
    --------
    >>> round(suv_factor(PET_ACQUISITION) * 1e4, 4)  # 75 kg, 370 MBq, 63 min before the series
    3.0174
    """
    elapsed = (pet["series_datetime"] - pet["injection_datetime"]).total_seconds()
    dose = pet["injected_dose_bq"] * 2.0 ** (-elapsed / pet["half_life_s"])
    return pet["patient_weight_kg"] * 1000.0 / dose


def _rigid(name: str, centre: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """The SimpleITK transform (fixed -> moving points) of ``name`` and its truth entry."""
    import SimpleITK as sitk

    angles, translation = MOTION[name]
    transform = sitk.Euler3DTransform(tuple(centre), *np.radians(angles), translation)
    matrix = np.eye(4)
    matrix[:3, :3] = np.reshape(transform.GetMatrix(), (3, 3))
    matrix[:3, 3] = np.asarray(transform.GetTranslation()) + centre - matrix[:3, :3] @ centre
    entry = {
        "type": "Euler3DTransform",
        "angles_deg": list(angles),
        "translation_mm": list(translation),
        "center_lps_mm": centre.tolist(),
        "parameters": list(transform.GetParameters()),
        "matrix": matrix.tolist(),
    }
    return transform, entry


def _uid(seed: int, name: str) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[f"medfuse-sample-{seed}", name])


def make_study(*, seed: int = 0) -> SampleStudy:
    """Build the sample study in memory (deterministic for a given ``seed``, UIDs included).

    The CT, on :data:`CT_GRID`, is the phantom's own space; the MR and PET are sampled through the
    inverse of their :data:`MOTION`, so that the truth transforms map CT points onto theirs.
    """
    phantom = Phantom(seed)
    rng = np.random.default_rng(seed)
    uids = {k: _uid(seed, k) for k in ("study", "ct_frame", "mr_frame")}
    centre = _grid_centre(CT_GRID)
    classes = phantom.render(CT_GRID)
    base = {"study_uid": uids["study"]}
    ct = CT_GRID.volume(ct_image(classes, rng), modality="CT", units="HU", meta={
        **base, "frame_of_reference_uid": uids["ct_frame"], "series_datetime": CT_TIME,
        "description": "CT phantom"})
    labels = np.where(classes >= len(TISSUES), classes - len(TISSUES) + 1, 0).astype(np.uint8)
    lesions = CT_GRID.volume(labels, modality="OT", units="label", meta={"description": "lesions"})

    mr_transform, mr_truth = _rigid("mr", centre)
    mr = MR_GRID.volume(
        mr_image(phantom, MR_GRID, rng, grid_to_phantom=np.linalg.inv(mr_truth["matrix"])),
        modality="MR", units="a.u.",
        meta={**base, "frame_of_reference_uid": uids["mr_frame"], "series_datetime": MR_TIME,
              "description": "MR T1 phantom"})

    pet_transform, pet_truth = _rigid("pet", centre)
    suv = pet_suv_image(phantom, PET_GRID, rng, grid_to_phantom=np.linalg.inv(pet_truth["matrix"]))
    factor = suv_factor(PET_ACQUISITION)
    pet = PET_GRID.volume(
        (suv / factor).astype(np.float32), modality="PT", units="BQML",
        meta={**base, "frame_of_reference_uid": uids["ct_frame"], "pet": dict(PET_ACQUISITION),
              "description": "FDG PET phantom"})

    suv_on_ct = PET_GRID.volume(suv).resample_to(ct, transform=pet_transform).array
    truth = {
        "seed": seed,
        "fixed": "ct",
        "convention": ("LPS millimetres. Each transform maps points of the fixed CT to points of the "
                       "moving image (SimpleITK convention, as its registration returns): "
                       "y = R (x - c) + c + t; 'matrix' is that map as a 4x4 homogeneous matrix; "
                       "'parameters' are SimpleITK Euler3DTransform parameters (angle x, y, z in "
                       "radians, then translation), about 'center_lps_mm'."),
        "transforms": {"mr": mr_truth, "pet": pet_truth},
        "frame_of_reference": "CT and PET share one FrameOfReferenceUID (PET/CT scanner) although "
                              "the patient moved between them; the MR has its own.",
        "pet": {"units": "BQML", "suv_factor_g_per_bq": factor,
                **{k: (v.isoformat() if isinstance(v, dt.datetime) else v)
                   for k, v in PET_ACQUISITION.items()}},
        "grids": {name: _grid_entry(grid) for name, grid in
                  (("ct", CT_GRID), ("mr", MR_GRID), ("pet", PET_GRID))},
        "lesions": [_lesion_entry(k, lesion, labels, suv_on_ct, mr_truth, pet_truth)
                    for k, lesion in enumerate(LESIONS)],
        "tissues": {name: {"hu": hu, "mr_t1": t1, "suv": s} for name, (hu, t1, s) in TISSUES.items()},
        "uids": uids,
    }
    return SampleStudy(ct=ct, mr=mr, pet=pet, lesions=lesions, truth=truth)


def _grid_centre(grid: Grid) -> np.ndarray:
    half = (np.asarray(grid.shape[::-1]) - 1) / 2.0 * np.asarray(grid.spacing)
    return np.asarray(grid.origin) + grid.direction @ half


def _grid_entry(grid: Grid) -> dict[str, Any]:
    return {"size": list(grid.shape[::-1]), "spacing": list(grid.spacing),
            "origin": list(grid.origin), "direction": np.ravel(grid.direction).tolist()}


def _lesion_entry(k: int, lesion, labels: np.ndarray, suv_on_ct: np.ndarray,
                  mr_truth: dict, pet_truth: dict) -> dict[str, Any]:
    inside = labels == k + 1
    centre = np.append(lesion.centre, 1.0)
    return {
        "label": k + 1,
        "name": lesion.name,
        "centre_lps_mm": list(lesion.centre),
        "centre_in_mr_lps_mm": (np.asarray(mr_truth["matrix"]) @ centre)[:3].round(4).tolist(),
        "centre_in_pet_lps_mm": (np.asarray(pet_truth["matrix"]) @ centre)[:3].round(4).tolist(),
        "radius_mm": lesion.radius,
        "true_suv": lesion.suv,
        "true_hu": lesion.hu,
        "pet_suvmax": round(float(suv_on_ct[inside].max()), 4),
        "pet_suvmean": round(float(suv_on_ct[inside].mean()), 4),
        "n_voxels_ct": int(inside.sum()),
    }


_README = """MedFuse sample study (digital phantom, seed {seed}); made by `medfuse sample-data`.

Not patient data. A lower thorax / upper abdomen phantom seen by three scanners:
  ct/   CT in HU, {ct}, the fixed image (its space is the phantom's)
  mr/   MR T1-like (fat bright, bone dark, bias field, Rician noise), {mr}
  pet/  FDG PET in Bq/ml, {pet}; DICOM carries PatientWeight and the radiopharmaceutical data,
        so loaders convert it to SUVbw (factor {factor:.6g} g/Bq)
  labels/lesions.nii.gz  lesions 1..3 on the CT grid (lung nodule, liver metastasis, lymph node)
  truth.json  the rigid transforms of MR and PET (fixed CT points -> moving points, SimpleITK
              convention), lesion centres in LPS mm and their SUVs.
Each series is stored twice: DICOM (dicom/) and NIfTI (*.nii.gz). One StudyInstanceUID; CT and PET
share a FrameOfReferenceUID (PET/CT), yet the patient moved: registration has something to recover.
"""


def write_study(folder: str | Path, *, seed: int = 0, overwrite: bool = False) -> Path:
    """Write the sample study into ``folder`` as a whole, atomically; return the folder.

    Raises
    ------
    InputError
        ``folder`` exists and is not empty, and ``overwrite`` is not set.
    """
    from medfuse.io import write_dicom_series, write_nifti
    from medfuse.io._atomic import atomic_dir, write_text

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not overwrite:
        raise InputError("output folder exists and is not empty; use --force to replace it",
                         path=folder)
    study = make_study(seed=seed)
    describe = {name: "x".join(map(str, v.size)) + " voxels of "
                + "x".join(f"{s:g}" for s in v.spacing) + " mm"
                for name, v in (("ct", study.ct), ("mr", study.mr), ("pet", study.pet))}
    with atomic_dir(folder) as tmp:
        for name, number in (("ct", 1), ("mr", 2), ("pet", 3)):
            volume = getattr(study, name)
            write_dicom_series(
                volume, tmp / name / "dicom", series_description=volume.meta["description"],
                series_number=number, series_uid=_uid(seed, f"{name}_series"),
                study_uid=volume.meta["study_uid"],
                frame_of_reference_uid=volume.meta["frame_of_reference_uid"],
            )
            write_nifti(volume, tmp / name / f"{name}.nii.gz")
        write_nifti(study.lesions, tmp / "labels" / "lesions.nii.gz")
        write_text(tmp / "truth.json", json.dumps(study.truth, indent=2) + "\n")
        write_text(tmp / "README.txt", _README.format(
            seed=seed, factor=study.truth["pet"]["suv_factor_g_per_bq"], **describe))
    log.info("wrote the sample study (seed %d) into %s", seed, folder)
    return folder


def make_ct_series(shape: tuple[int, int, int] = (300, 512, 512), *,
                   spacing: tuple[float, float, float] = (0.8, 0.8, 1.0), seed: int = 0) -> Volume:
    """A large CT of the phantom (int16 HU), ``shape`` in (z, y, x), for benchmarks.

    The tissue map is sampled at half the in-plane resolution and repeated (the content only has to
    look like a CT; noise is drawn at full resolution), which keeps a 512x512x300 volume fast to make.
    """
    nz, ny, nx = shape
    coarse = Grid.centred((-(-nx // 2), -(-ny // 2), nz), (spacing[0] * 2, spacing[1] * 2, spacing[2]),
                          centre=(0.0, 10.0, 0.0))
    classes = Phantom(seed).render(coarse).repeat(2, axis=1).repeat(2, axis=2)[:, :ny, :nx]
    grid = Grid.centred((nx, ny, nz), spacing, centre=(0.0, 10.0, 0.0))
    hu = ct_image(classes, np.random.default_rng(seed))
    return grid.volume(hu, modality="CT", units="HU", meta={"description": "CT phantom (benchmark)"})

"""The sample study: reproducible, committed copy up to date, truth consistent, CLI behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from medfuse.cli import main
from medfuse.errors import InputError
from medfuse.io import load
from medfuse.sample import LESIONS, make_ct_series, make_study, write_study
from medfuse.sample.phantom import Grid, Phantom
from medfuse.volume import Volume

COMMITTED = Path(__file__).resolve().parents[2] / "sample_data" / "study"


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    return write_study(tmp_path_factory.mktemp("sample") / "study", seed=0)


@pytest.fixture(scope="module")
def truth(study_dir) -> dict:
    return json.loads((study_dir / "truth.json").read_text())


def _transform(entry: dict) -> sitk.Euler3DTransform:
    transform = sitk.Euler3DTransform()
    transform.SetCenter(entry["center_lps_mm"])
    transform.SetParameters(entry["parameters"])
    return transform


def _lesion_centres(volume: Volume, threshold: float) -> np.ndarray:
    """World centres of the connected bright blobs above ``threshold``, intensity-weighted."""
    blobs, n = ndimage.label(volume.array > threshold)
    index = np.array(ndimage.center_of_mass(volume.array, blobs, range(1, n + 1)))
    return volume.index_to_world(index[:, ::-1])


def test_layout_size_and_readme(study_dir):
    names = {p.relative_to(study_dir).as_posix() for p in study_dir.rglob("*") if p.is_file()}
    assert {"ct/ct.nii.gz", "mr/mr.nii.gz", "pet/pet.nii.gz", "labels/lesions.nii.gz", "truth.json",
            "README.txt", "ct/dicom/0001.dcm", "pet/dicom/0038.dcm"} <= names
    total = sum(p.stat().st_size for p in study_dir.rglob("*") if p.is_file())
    assert total < 10 * 2**20
    assert "Not patient data" in (study_dir / "README.txt").read_text()


def test_generation_is_deterministic(study_dir, truth):
    again = make_study(seed=0)
    for name, path in (("ct", "ct/ct.nii.gz"), ("mr", "mr/mr.nii.gz"), ("pet", "pet/pet.nii.gz"),
                       ("lesions", "labels/lesions.nii.gz")):
        np.testing.assert_array_equal(getattr(again, name).array, load(study_dir / path).array)
        assert getattr(again, name).same_grid(load(study_dir / path))
    assert json.loads(json.dumps(again.truth)) == truth
    grid = Grid.centred((40, 30, 6), (8.0, 8.0, 8.0))
    assert not np.array_equal(Phantom(1).render(grid), Phantom(0).render(grid))


def test_committed_copy_equals_a_fresh_generation(study_dir):
    if not COMMITTED.exists():
        pytest.skip(f"no committed sample study at {COMMITTED}")
    for name in ("ct/ct.nii.gz", "mr/mr.nii.gz", "pet/pet.nii.gz", "labels/lesions.nii.gz"):
        fresh, committed = load(study_dir / name), load(COMMITTED / name)
        assert committed.same_grid(fresh), name
        # equal up to a rounding flip where another numpy/scipy build sums in another order
        differ = fresh.array.astype(float) != committed.array.astype(float)
        assert differ.mean() < 1e-4, f"{name}: regenerate with `python sample_data/make_sample.py`"
    committed_truth = json.loads((COMMITTED / "truth.json").read_text())
    fresh_truth = json.loads((study_dir / "truth.json").read_text())
    assert committed_truth["uids"] == fresh_truth["uids"]
    for c, f in zip(committed_truth["lesions"], fresh_truth["lesions"]):
        assert c["centre_lps_mm"] == f["centre_lps_mm"]
        assert c["pet_suvmax"] == pytest.approx(f["pet_suvmax"], rel=1e-3)


def test_series_share_study_and_ct_pet_share_frame(study_dir):
    import pydicom

    first = {m: pydicom.dcmread(study_dir / m / "dicom" / "0001.dcm") for m in ("ct", "mr", "pet")}
    assert len({ds.StudyInstanceUID for ds in first.values()}) == 1
    assert len({ds.SeriesInstanceUID for ds in first.values()}) == 3
    assert first["ct"].FrameOfReferenceUID == first["pet"].FrameOfReferenceUID
    assert first["mr"].FrameOfReferenceUID != first["ct"].FrameOfReferenceUID
    assert first["pet"].Units == "BQML" and float(first["pet"].PatientWeight) == 75.0


def test_dicom_and_nifti_copies_agree(study_dir, truth):
    for name, tolerance in (("ct", 0.0), ("mr", 0.0), ("pet", None)):
        dicom = sitk.ReadImage(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(
            str(study_dir / name / "dicom")))
        nifti = load(study_dir / name / f"{name}.nii.gz")
        np.testing.assert_allclose(dicom.GetOrigin(), nifti.origin, atol=1e-3)
        np.testing.assert_allclose(dicom.GetSpacing(), nifti.spacing, atol=1e-5)
        assert list(dicom.GetSize()) == truth["grids"][name]["size"] == list(nifti.size)
        values = sitk.GetArrayFromImage(dicom)
        atol = tolerance if tolerance is not None else nifti.array.max() / 65535
        np.testing.assert_allclose(values, nifti.array, atol=atol)


def test_pet_loads_as_suv_with_the_truth_factor(study_dir, truth):
    pytest.importorskip("medfuse.io.dicom", reason="the DICOM reader is not there yet")
    pet = load(study_dir / "pet" / "dicom")
    assert pet.units == "SUVbw"
    assert pet.meta["suv_factor"] == pytest.approx(truth["pet"]["suv_factor_g_per_bq"], rel=1e-6)
    assert 4.0 < float(pet.array.max()) < 12.0


@pytest.mark.parametrize("moving", ["pet", "mr"])
def test_truth_transform_lines_the_lesions_up(study_dir, truth, moving):
    ct = load(study_dir / "ct" / "ct.nii.gz")
    image = load(study_dir / moving / f"{moving}.nii.gz")
    labels = load(study_dir / "labels" / "lesions.nii.gz")
    entry = truth["transforms"][moving]
    for lesion in truth["lesions"]:  # the truth's moving-space centres are the transform of CT's
        mapped = _transform(entry).TransformPoint(lesion["centre_lps_mm"])
        np.testing.assert_allclose(mapped, lesion[f"centre_in_{moving}_lps_mm"], atol=1e-3)
    label_centres = labels.index_to_world(np.array(ndimage.center_of_mass(
        labels.array > 0, labels.array, [1, 2, 3]))[:, ::-1])
    np.testing.assert_allclose(label_centres, [le["centre_lps_mm"] for le in truth["lesions"]],
                               atol=1.0)
    if moving == "pet":  # the hot lesions are the PET's brightest blobs: find them after resampling
        registered = image.resample_to(ct, transform=_transform(entry))
        suv = registered.array * truth["pet"]["suv_factor_g_per_bq"]
        found = _lesion_centres(registered.with_array(suv * (labels.array > 0)), 2.0)
        assert len(found) == 3
        nearest = np.linalg.norm(found[:, None] - label_centres[None], axis=2).min(axis=0)
        assert np.all(nearest < max(ct.spacing)), nearest  # within a voxel
        unregistered = image.resample_to(ct)
        before = np.mean(unregistered.array[labels.array > 0]) * truth["pet"]["suv_factor_g_per_bq"]
        assert np.mean(suv[labels.array > 0]) > before + 1.0
    else:  # the MR lines up with the CT where the transform says: compare the body outlines
        registered = image.resample_to(ct, transform=_transform(entry))
        body_ct, body_mr = ct.array > -500, registered.array > 150
        overlap = np.logical_and(body_ct, body_mr).sum() / np.logical_or(body_ct, body_mr).sum()
        unregistered = image.resample_to(ct).array > 150
        before = np.logical_and(body_ct, unregistered).sum() / np.logical_or(body_ct, unregistered).sum()
        assert overlap > 0.9 and overlap > before + 0.02


def test_phantom_tissues_have_their_ct_values(study_dir):
    ct = load(study_dir / "ct" / "ct.nii.gz")
    for lesion in LESIONS:
        assert abs(float(ct.value_at([lesion.centre])) - lesion.hu) < 60
    assert abs(float(ct.value_at([[0.0, 68.0, 10.0]])) - 220) < 60  # vertebral marrow
    assert ct.value_at([[-75.0, 0.0, 40.0]]) < -700  # lung
    assert ct.array.min() == -1024 or ct.array.min() > -1100


def test_make_ct_series_for_benchmarks():
    ct = make_ct_series((8, 64, 48), spacing=(4.0, 4.0, 5.0))
    assert ct.array.shape == (8, 64, 48) and ct.array.dtype == np.int16 and ct.modality == "CT"
    assert ct.array.min() < -900 and ct.array.max() > 300


def test_grid_refined_covers_the_same_box():
    grid = Grid.centred((4, 3, 2), (4.0, 4.0, 4.0), centre=(1.0, 2.0, 3.0))
    fine = grid.refined(2)
    assert fine.shape == (4, 6, 8)
    np.testing.assert_allclose(fine.points(0, 1)[0], np.asarray(grid.points(0, 1)[0]) - 1.0)
    assert Phantom(0).render(fine).shape == fine.shape


def test_cli_writes_and_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("mine")
    assert main(["sample-data", "-o", str(tmp_path / "s")]) == 2
    assert "not empty; use --force" in capsys.readouterr().err
    assert (tmp_path / "s" / "keep.txt").read_text() == "mine"
    with pytest.raises(InputError, match="not empty"):
        write_study(tmp_path / "s")
    assert main(["sample-data", "-o", str(tmp_path / "s"), "--force", "--seed", "3"]) == 0
    assert json.loads((tmp_path / "s" / "truth.json").read_text())["seed"] == 3
    assert not (tmp_path / "s" / "keep.txt").exists()
    assert "wrote the sample study" in capsys.readouterr().out

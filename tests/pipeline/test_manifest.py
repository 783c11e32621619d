"""Study manifests: checked against the pipeline before anything runs, all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfuse.errors import PipelineError
from medfuse.pipeline.config import load_pipeline
from medfuse.pipeline.manifest import read_manifest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pet_ct():
    return load_pipeline(REPO / "pipelines" / "pet_ct.yaml")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("ct1.nii.gz", "pet1.nii.gz", "mask1.nii.gz", "ct2.nii.gz", "pet2.nii.gz"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "dicom_ct").mkdir()
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "studies.csv"
    path.write_text(text)
    return path


def test_reads_rows_with_optional_mask(pet_ct, folder: Path) -> None:
    path = write(folder, "study_id,ct,pet,mask\n"
                         "a,ct1.nii.gz,pet1.nii.gz,mask1.nii.gz\n"
                         "b,dicom_ct,pet2.nii.gz,\n\n")
    studies = read_manifest(path, pet_ct)
    assert [s.study_id for s in studies] == ["a", "b"]
    assert studies[0].inputs["mask"] == folder / "mask1.nii.gz"
    assert studies[1].inputs == {"ct": folder / "dicom_ct", "pet": folder / "pet2.nii.gz"}
    assert studies[1].row == {"study_id": "b", "ct": "dicom_ct", "pet": "pet2.nii.gz", "mask": ""}


def test_mask_column_may_be_absent(pet_ct, folder: Path) -> None:
    path = write(folder, "study_id,ct,pet\na,ct1.nii.gz,pet1.nii.gz\n")
    assert read_manifest(path, pet_ct)[0].inputs.keys() == {"ct", "pet"}


def test_all_missing_paths_listed_at_once(pet_ct, folder: Path) -> None:
    path = write(folder, "study_id,ct,pet,mask\n"
                         "a,ct1.nii.gz,nope_pet.nii.gz,\n"
                         "b,ct2.nii.gz,pet2.nii.gz,\n"
                         "c,nope_ct,pet2.nii.gz,nope_mask.nii.gz\n")
    with pytest.raises(PipelineError, match=(
            r"studies\.csv: 3 problem\(s\): line 2 \(a\): pet 'nope_pet\.nii\.gz' does not exist; "
            r"line 4 \(c\): ct 'nope_ct' does not exist; "
            r"line 4 \(c\): mask 'nope_mask\.nii\.gz' does not exist$")):
        read_manifest(path, pet_ct)


@pytest.mark.parametrize(("text", "expected"), [
    ("study_id,ct\na,ct1.nii.gz\n",
     r"missing column\(s\) pet \(pipeline 'pet_ct' expects columns study_id, ct, pet, mask\)"),
    ("study_id,ct,pet,petscan\na,ct1.nii.gz,pet1.nii.gz,x\n", r"unknown column\(s\) petscan"),
    ("study_id,ct,pet\na,ct1.nii.gz,pet1.nii.gz\na,ct2.nii.gz,pet2.nii.gz\n",
     r"line 3 \(a\): study_id 'a' appears twice"),
    ("study_id,ct,pet\n../up,ct1.nii.gz,pet1.nii.gz\n",
     r"line 2 \(\.\./up\): study_id '\.\./up' must be letters"),
    ("study_id,ct,pet\na,,pet1.nii.gz\n", r"line 2 \(a\): ct is empty"),
    ("study_id,ct,pet\n", r"the study manifest lists no studies"),
])
def test_bad_manifests(pet_ct, folder: Path, text: str, expected: str) -> None:
    with pytest.raises(PipelineError, match=expected):
        read_manifest(write(folder, text), pet_ct)


def test_every_kind_of_problem_in_one_message(pet_ct, folder: Path) -> None:
    text = ("study_id,ct,pet,petscan\na,ct1.nii.gz,pet1.nii.gz,x\na,ct2.nii.gz,nope.nii.gz,y\n")
    with pytest.raises(PipelineError, match=(
            r"studies\.csv: 3 problem\(s\): unknown column\(s\) petscan \(pipeline 'pet_ct' "
            r"expects columns study_id, ct, pet, mask\); line 3 \(a\): study_id 'a' appears twice; "
            r"line 3 \(a\): pet 'nope\.nii\.gz' does not exist$")):
        read_manifest(write(folder, text), pet_ct)


def test_unreadable_manifest(pet_ct, tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=r"nope\.csv: cannot read the study manifest"):
        read_manifest(tmp_path / "nope.csv", pet_ct)

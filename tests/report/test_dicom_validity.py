"""Every DICOM object a study writes (series, SEG, overlay and fused Secondary Capture), checked by
other tools on the real STS_001 PET/CT: dciodvfy (dicom3tools) finds no error, dcm2niix reads each
series back onto the fixed grid with the same values, VR lengths hold."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import real_data

pytestmark = pytest.mark.slow

SERIES = ("volumes/ct_dicom", "volumes/pt_registered_dicom", "volumes/fused_dicom",
          "overlays/overlay_sc")


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medfuse.workflow import StudyInputs, run_study, write_study

    patient = real_data("volumes", "sts", "STS_001")
    inputs = StudyInputs(fixed=patient / "CT" / "dicom" / "image",
                         moving=[patient / "PET" / "dicom" / "image"],
                         masks=[patient / "CT" / "dicom" / "mask" / "RS.dcm"])
    study = run_study(inputs, registration_mode="geometry", fusion_method="average")
    out = tmp_path_factory.mktemp("dicom") / "study"
    write_study(study, out, inputs=inputs.paths(), items=("fixed", "registered", "fused", "masks"),
                formats=("nifti", "dicom", "png", "seg"))
    return out


def _objects(folder: Path) -> list[Path]:
    """The first, middle and last file of each series, and the SEG."""
    files = []
    for series in SERIES:
        slices = sorted((folder / series).glob("*.dcm"))
        files += [slices[0], slices[len(slices) // 2], slices[-1]]
    return [*files, folder / "masks" / "seg.dcm"]


def test_every_object_passes_dciodvfy(study_folder: Path) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    for path in _objects(study_folder):
        report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        errors = [line for line in (report.stdout + report.stderr).splitlines()
                  if line.startswith("Error")]
        assert errors == [], f"{path.relative_to(study_folder)}: {errors}"


def test_vr_lengths_and_the_fused_volume_is_a_colour_object(study_folder: Path) -> None:
    import pydicom

    for path in _objects(study_folder):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert len(str(ds.get("StudyID", ""))) <= 16, path
        assert "STS_001" not in str(ds.PatientName) + str(ds.PatientID), path
    fused = pydicom.dcmread(next((study_folder / "volumes" / "fused_dicom").glob("*.dcm")))
    assert fused.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture, not MR
    assert fused.Modality != "MR" and fused.PhotometricInterpretation == "RGB"
    assert fused.pixel_array.shape[-1] == 3


def _canonical(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(affine, voxels) of a NIfTI in its closest RAS+ orientation; RGB as a trailing axis."""
    import nibabel as nib

    image = nib.load(path)
    data = np.asarray(image.dataobj)
    if data.dtype.names:  # RGB24
        data = np.stack([data[c] for c in data.dtype.names], axis=-1)
    transform = nib.orientations.io_orientation(image.affine)
    data = nib.orientations.apply_orientation(data, transform)
    affine = image.affine @ nib.orientations.inv_ornt_aff(transform, image.shape[:3])
    return affine, np.squeeze(data)


def test_dcm2niix_reads_every_series_onto_the_fixed_grid(study_folder: Path,
                                                         tmp_path: Path) -> None:
    if shutil.which("dcm2niix") is None:
        pytest.skip("dcm2niix (Debian package dcm2niix) is not installed")
    reference, _ = _canonical(study_folder / "volumes" / "ct.nii.gz")
    own = {"volumes/ct_dicom": "ct", "volumes/pt_registered_dicom": "pt_registered",
           "volumes/fused_dicom": "fused"}
    for series in SERIES:
        name = series.replace("/", "_")
        subprocess.run(["dcm2niix", "-z", "y", "-f", name, "-o", str(tmp_path),
                        str(study_folder / series)], capture_output=True, check=True)
        affine, voxels = _canonical(tmp_path / f"{name}.nii.gz")
        assert np.abs(affine - reference).max() < 1e-3, series
        if series in own:
            _, ours = _canonical(study_folder / "volumes" / f"{own[series]}.nii.gz")
            assert voxels.shape == ours.shape, series
            tolerance = 0 if ours.dtype.kind in "iu" else 1e-3 * float(np.ptp(ours))
            assert np.abs(voxels.astype(float) - ours).max() <= tolerance, series

"""End to end through ``medfuse report`` on the real STS PET/CT (DICOM series and RTSTRUCT)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medfuse.io import load
from tests.conftest import real_data


@pytest.mark.slow
def test_medfuse_report_on_real_pet_ct(tmp_path: Path) -> None:
    from medfuse.cli import main

    patient = real_data("volumes", "sts", "STS_002")
    code = main(["report", str(patient / "CT" / "dicom" / "image"),
                 str(patient / "PET" / "dicom" / "image"),
                 "--mask", str(patient / "CT" / "dicom" / "mask" / "RS.dcm"),
                 "--fusion-method", "average", "-o", str(tmp_path / "out")])
    assert code == 0
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["registration"][0]["method"] == "scanner alignment kept"
    text = (tmp_path / "out" / "report.json").read_text() + (tmp_path / "out" / "report.html").read_text()
    assert "STS_002" not in text  # the patient ID (also in folder names and series descriptions)
    ct_roi, pet_roi = doc["rois"]
    assert ct_roi["units"] == "HU" and pet_roi["units"] == "SUVbw"
    # independent numbers: the NIfTI mask of the PET on the PET's own voxels
    pet = load(patient / "PET" / "nifti" / "image" / "image.nii.gz").array
    mask = load(patient / "PET" / "nifti" / "mask" / "mask.nii.gz").array > 0
    values = pet[mask].astype(np.float64)
    voxel_ml = 5.46875 * 5.46875 * 3.27 / 1000
    assert pet_roi["suv_max"] == pytest.approx(values.max(), rel=1e-3)
    assert pet_roi["suv_mean"] == pytest.approx(values.mean(), rel=0.01)
    assert pet_roi["volume_ml"] == pytest.approx(mask.sum() * voxel_ml, rel=0.01)
    mtv = (values >= 0.41 * values.max()).sum() * voxel_ml
    assert pet_roi["mtv_ml"] == pytest.approx(mtv, rel=0.02)
    assert pet_roi["tlg"] == pytest.approx(values[values >= 0.41 * values.max()].mean() * mtv, rel=0.02)
    assert (tmp_path / "out" / "report.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.slow
def test_medfuse_report_exports_on_real_dicom(tmp_path: Path) -> None:
    import highdicom as hd
    import pydicom
    import SimpleITK as sitk

    from medfuse.cli import main

    patient = real_data("volumes", "sts", "STS_002")
    ct_folder = patient / "CT" / "dicom" / "image"
    code = main(["report", str(ct_folder), str(patient / "PET" / "dicom" / "image"),
                 "--mask", str(patient / "CT" / "dicom" / "mask" / "RS.dcm"),
                 "--fusion-method", "average", "--export", "-o", str(tmp_path / "out")])
    assert code == 0
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    export = tmp_path / "out"  # the one study layout: exports beside the report
    assert doc["exports"]["masks DICOM SEG"] == "masks/seg.dcm"
    ct = load(ct_folder)
    # the registered PET as a DICOM series of the CT's study, frame of reference and grid
    series = export / "volumes" / "pt_registered_dicom"
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(series)))
    image = reader.Execute()
    corner = [n - 1 for n in ct.size]
    assert image.GetSize() == ct.size
    assert np.allclose(image.TransformIndexToPhysicalPoint(corner),
                       ct.index_to_world([corner])[0], atol=0.01)
    first = pydicom.dcmread(next(series.glob("*.dcm")), stop_before_pixels=True)
    assert first.StudyInstanceUID == ct.meta["study_uid"]
    assert first.FrameOfReferenceUID == ct.meta["frame_of_reference_uid"]
    assert "STS_002" not in str(first.PatientName) + str(first.PatientID)
    # the RTSTRUCT's GTV as a DICOM SEG over the CT series
    seg = hd.seg.Segmentation.from_dataset(pydicom.dcmread(export / "masks" / "seg.dcm"))
    assert seg.SegmentSequence[0].SegmentLabel == "GTV_Mass_CT"
    assert seg.get_source_image_uids()[0][1] == ct.meta["series_uid"]
    assert len(list((export / "overlays" / "overlay_sc").glob("*.dcm"))) == ct.size[2]
    assert (export / "overlays" / "overlay_montage.png").stat().st_size > 0

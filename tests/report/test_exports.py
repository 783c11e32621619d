"""Exports: NIfTI and DICOM volumes read back with SimpleITK and pydicom, overlays, SEG, transforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medfuse.io import load
from medfuse.report.exports import export_masks_seg, export_study, montage, overlay_rgb
from medfuse.workflow import StudyResult
from tests.conftest import real_data


def test_export_study_reads_back(study: StudyResult, tmp_path: Path) -> None:
    import pydicom
    import SimpleITK as sitk

    out = export_study(study, tmp_path / "export")
    pet_nifti = load(out["registered_1_pt.nii.gz"])
    assert pet_nifti.same_grid(study.fixed)
    assert np.allclose(pet_nifti.array, study.registered[0].array, atol=1e-5)
    # the registered PET as DICOM: same geometry through SimpleITK
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(out["registered_1_pt DICOM"])))
    image = reader.Execute()
    assert image.GetSize() == study.fixed.size
    assert np.allclose(image.GetOrigin(), study.fixed.origin, atol=1e-3)
    assert np.allclose(image.GetSpacing(), study.fixed.spacing, atol=1e-4)
    # overlays: PNG planes with square pixels, a montage, a Secondary Capture series of RGB slices
    for name in ("axial", "coronal", "sagittal"):
        assert out[f"overlay_{name}.png"].stat().st_size > 0
    sc_files = sorted(out["overlay DICOM SC"].glob("*.dcm"))
    assert len(sc_files) == study.fixed.array.shape[0]
    sc = pydicom.dcmread(sc_files[0])
    assert sc.PhotometricInterpretation == "RGB" and sc.pixel_array.shape == (40, 40, 3)
    assert "PatientBirthDate" not in sc or not sc.PatientBirthDate
    # the transform of the registered MR, readable by SimpleITK
    tfm = out["transform_2"] / "transform.tfm"
    assert sitk.ReadTransform(str(tfm)).TransformPoint((0, 0, 0)) == pytest.approx((4.0, 0.0, 2.0))
    assert "transform_1" not in out  # scanner alignment kept: no transform


def test_overlay_and_montage_shapes(study: StudyResult) -> None:
    rgb = overlay_rgb(study.fixed, study.registered[0])
    assert rgb.dtype == np.uint8 and rgb.shape == study.fixed.array.shape + (3,)
    hot = rgb[12, 20, 20].astype(int)
    assert hot[0] > hot[2]  # the PET hot spot is coloured (inferno: red over blue)
    assert montage(rgb, columns=6, count=24).shape == (4 * 40, 6 * 40, 3)


def test_mask_as_dicom_seg_on_real_ct(tmp_path: Path) -> None:
    import pydicom

    folder = real_data("volumes", "sts", "STS_002", "CT")
    from medfuse.quantify.rtstruct import rtstruct_to_mask

    ct = load(folder / "dicom" / "image")
    labels, _ = rtstruct_to_mask(folder / "dicom" / "mask" / "RS.dcm", ct)
    seg_path = export_masks_seg([labels], folder / "dicom" / "image", tmp_path / "seg")
    seg = pydicom.dcmread(seg_path)
    assert seg.Modality == "SEG" and seg.SegmentSequence[0].SegmentLabel == "GTV_Mass_CT"
    assert int(np.asarray(seg.pixel_array).astype(bool).sum()) == int((labels.array > 0).sum())

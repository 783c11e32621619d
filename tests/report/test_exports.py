"""Exports: NIfTI and DICOM volumes read back with SimpleITK and pydicom, overlays, SEG, transforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medfuse.errors import InputError
from medfuse.io import load
from medfuse.io.seg import write_seg
from medfuse.report.exports import FORMATS, montage, overlay_rgb
from medfuse.study import Study
from medfuse.workflow import export_study, write_study
from tests.conftest import real_data
from tests.report.conftest import make_study


def test_export_study_reads_back(study: Study, tmp_path: Path) -> None:
    import pydicom
    import SimpleITK as sitk

    out = export_study(study, tmp_path / "export", formats=FORMATS, reports=())
    pet_nifti = load(out["pt_registered.nii.gz"])
    assert pet_nifti.same_grid(study.fixed)
    assert np.allclose(pet_nifti.array, study.registered[0].array, atol=1e-5)
    # the registered PET as DICOM: same geometry through SimpleITK
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(out["pt_registered DICOM"])))
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
    tfm = out["mr"] / "transform.tfm"
    assert sitk.ReadTransform(str(tfm)).TransformPoint((0, 0, 0)) == pytest.approx((4.0, 0.0, 2.0))
    assert "pt" not in out  # scanner alignment kept: no transform


def test_overlay_and_montage_shapes(study: Study) -> None:
    rgb = overlay_rgb(study.fixed, study.registered[0])
    assert rgb.dtype == np.uint8 and rgb.shape == study.fixed.array.shape + (3,)
    hot = rgb[12, 20, 20].astype(int)
    assert hot[0] > hot[2]  # the PET hot spot is coloured (inferno: red over blue)
    assert montage(rgb, columns=6, count=24).shape == (4 * 40, 6 * 40, 3)


def test_mask_as_dicom_seg_on_real_ct(tmp_path: Path) -> None:
    import pydicom

    folder = real_data("volumes", "sts", "STS_002", "CT")
    from medfuse.io.rtstruct import rtstruct_to_mask

    ct = load(folder / "dicom" / "image")
    labels, _ = rtstruct_to_mask(folder / "dicom" / "mask" / "RS.dcm", ct)
    seg_path = write_seg([labels], folder / "dicom" / "image", tmp_path / "seg")
    seg = pydicom.dcmread(seg_path)
    assert seg.Modality == "SEG" and seg.SegmentSequence[0].SegmentLabel == "GTV_Mass_CT"
    assert int(np.asarray(seg.pixel_array).astype(bool).sum()) == int((labels.array > 0).sum())


def _oblique_dicom_study(tmp_path: Path) -> Study:
    """The conftest study with its CT written as an oblique DICOM series and read back: a fixed
    series with a study, a frame of reference and a rotated grid."""
    import SimpleITK as sitk

    from medfuse.io import write_dicom_series
    from medfuse.registration.result import RegistrationResult
    from medfuse.volume import Volume

    study = make_study(tmp_path)
    angle = np.deg2rad(12.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0],
                         [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    ct = Volume(study.fixed.array, spacing=(1.5, 2.0, 2.5), origin=(-31.0, -40.5, -29.0),
                direction=rotation, modality="CT", units="HU")
    fixed = load(write_dicom_series(ct, tmp_path / "inputs" / "ct_dicom"))
    mask = fixed.with_array(study.masks[0].array * 1, modality="SEG", units="label", meta={})
    mask.array[12, 20, 24:27] = 2  # a second label: two segments
    shift = sitk.TranslationTransform(3, (4.0, 0.0, 2.0))
    template = {"Transform": ["TranslationTransform"], "NumberOfParameters": ["3"],
                "TransformParameters": ["4.0", "0.0", "2.0"], "FixedImageDimension": ["3"],
                "MovingImageDimension": ["3"]}
    registration = RegistrationResult(shift, [template], fixed, metrics={"mi_before": 0.3},
                                      preset="rigid")
    registered = [study.moving[0].resample_to(fixed),
                  study.moving[1].resample_to(fixed, transform=shift)]
    fused = fixed.with_array(np.clip(fixed.array / 100.0, 0, 1) + registered[0].array / 20.0,
                             modality="OT", units="a.u.", meta={})
    return Study(fixed=fixed, moving=study.moving, registered=registered,
                 registrations=[None, registration], fused=fused, fused_with=0,
                 fusion_metrics=study.fusion_metrics, masks=[mask], parameters=study.parameters)


def _voxel_centres(volume_size: tuple[int, ...]) -> np.ndarray:
    """(x, y, z) indices of the 8 corners and the centre of a grid."""
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in volume_size])).reshape(3, -1).T
    return np.vstack([corners, [[n // 2 for n in volume_size]]])


def test_dicom_exports_join_the_fixed_study_with_its_geometry(tmp_path: Path) -> None:
    import highdicom as hd
    import pydicom
    import SimpleITK as sitk

    study = _oblique_dicom_study(tmp_path)
    fixed = study.fixed
    out = export_study(study, tmp_path / "export", formats=FORMATS, reports=())
    indices = _voxel_centres(fixed.size)
    expected = fixed.index_to_world(indices)
    for label in ("pt_registered DICOM", "mr_registered DICOM", "fused DICOM"):
        files = sorted(out[label].glob("*.dcm"))
        assert len(files) == fixed.size[2], label
        # SimpleITK (GDCM): the same voxel centres within 0.01 mm
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(out[label])))
        image = reader.Execute()
        assert image.GetSize() == fixed.size
        got = [image.TransformContinuousIndexToPhysicalPoint([float(i) for i in idx])
               for idx in indices]
        assert np.abs(np.asarray(got) - expected).max() < 0.01, label
        # pydicom: every slice in the fixed study and frame of reference, at the fixed slice position
        datasets = [pydicom.dcmread(f) for f in files]
        assert {ds.StudyInstanceUID for ds in datasets} == {fixed.meta["study_uid"]}
        assert {ds.FrameOfReferenceUID for ds in datasets} == {fixed.meta["frame_of_reference_uid"]}
        assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
        assert datasets[0].SeriesInstanceUID != fixed.meta["series_uid"]
        positions = sorted((np.asarray(ds.ImagePositionPatient, float) for ds in datasets),
                           key=lambda p: float(p @ fixed.direction[:, 2]))
        slice_origins = fixed.index_to_world([[0, 0, k] for k in range(fixed.size[2])])
        assert np.abs(np.asarray(positions) - slice_origins).max() < 0.01, label
        assert np.allclose(np.asarray(datasets[0].ImageOrientationPatient, float),
                           [*fixed.direction[:, 0], *fixed.direction[:, 1]], atol=1e-5)
        assert datasets[0].PatientName == "Anonymous" and not datasets[0].PatientBirthDate
    # our own reader: the registered PET comes back on the fixed grid, in SUV
    pet = load(out["pt_registered DICOM"])
    assert pet.same_grid(fixed) and pet.units == "SUVbw"
    assert np.allclose(pet.array, study.registered[0].array, atol=1e-3)
    fused = load(out["fused DICOM"])
    assert np.allclose(fused.array, study.fused.array, atol=1e-3)

    # the overlay as Secondary Capture: RGB slices in the fixed study
    sc_files = sorted(out["overlay DICOM SC"].glob("*.dcm"))
    assert len(sc_files) == fixed.size[2]
    sc = pydicom.dcmread(sc_files[0])
    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert sc.StudyInstanceUID == fixed.meta["study_uid"]
    assert sc.PhotometricInterpretation == "RGB" and sc.pixel_array.shape == (40, 40, 3)

    # the masks as one DICOM SEG: valid for highdicom, referencing the fixed series, two segments
    seg = hd.seg.Segmentation.from_dataset(pydicom.dcmread(out["masks DICOM SEG"]))
    assert seg.FrameOfReferenceUID == fixed.meta["frame_of_reference_uid"]
    assert seg.StudyInstanceUID == fixed.meta["study_uid"]
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["label 1", "label 2"]
    assert seg.get_source_image_uids()[0][1] == fixed.meta["series_uid"]
    volume = seg.get_volume(combine_segments=True)
    assert int((volume.array == 2).sum()) == int((study.masks[0].array == 2).sum()) == 3
    assert int((volume.array > 0).sum()) == int((study.masks[0].array > 0).sum())

    # the transform as ITK .tfm and as an elastix parameter file, both giving the same mapping
    from medfuse.registration.presets import read_parameter_file
    from medfuse.registration.transforms import map_to_sitk

    folder = out["mr"]
    tfm = sitk.ReadTransform(str(folder / "transform.tfm"))
    elastix = map_to_sitk(read_parameter_file(folder / "TransformParameters.0.txt"))
    for transform in (tfm, elastix):
        assert transform.TransformPoint((1.0, 2.0, 3.0)) == pytest.approx((5.0, 2.0, 5.0))


def test_export_formats_are_chosen_and_checked(study: Study, tmp_path: Path) -> None:
    out = export_study(study, tmp_path / "png", formats=["png"], reports=())
    assert sorted(out) == ["overlay_axial.png", "overlay_coronal.png", "overlay_montage.png",
                           "overlay_sagittal.png"]
    assert "seg" in FORMATS
    # a NIfTI fixed series: masks cannot be a DICOM SEG, the rest is written
    assert "masks DICOM SEG" not in export_study(study, tmp_path / "all", formats=["seg"], reports=())
    with pytest.raises(InputError, match="unknown export format.*'jpeg'.*nifti, dicom, png"):
        export_study(study, tmp_path / "bad", formats=["jpeg"])


def test_write_study_beside_its_inputs_in_the_one_layout(study: Study, tmp_path: Path) -> None:
    inputs = [tmp_path / "inputs" / "ct.nii.gz"]
    before = inputs[0].read_bytes()
    out = write_study(study, tmp_path / "inputs" / "study", inputs=inputs,
                      items=("fixed", "registered", "fused", "masks"),
                      formats=("nifti", "png", "transforms"))
    folder = tmp_path / "inputs" / "study"
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert names[:4] == ["masks/mask_1.nii.gz", "overlays/overlay_axial.png",
                         "overlays/overlay_coronal.png", "overlays/overlay_montage.png"]
    assert {"report.json", "report.html", "report.pdf", "transforms/mr/transform.tfm",
            "volumes/ct.nii.gz", "volumes/pt_registered.nii.gz",
            "volumes/mr_registered.nii.gz", "volumes/fused.nii.gz"} <= set(names)
    assert set(out.values()) <= {*folder.rglob("*")}
    assert inputs[0].read_bytes() == before
    assert not [p for p in (tmp_path / "inputs").iterdir() if p.name.startswith(".")]
    # a rerun replaces the study folder whole; a folder of the user's files is never replaced
    write_study(study, folder, inputs=inputs, formats=(), reports=("json",))
    assert sorted(p.name for p in folder.iterdir()) == ["report.json"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match=r"mine: the output folder exists and holds files"):
        write_study(study, tmp_path / "mine", inputs=inputs)
    with pytest.raises(InputError, match=r"ct.nii.gz: the output would replace the input"):
        write_study(study, inputs[0], inputs=inputs)


def test_write_study_refuses_a_dicom_series_folder(tmp_path: Path) -> None:
    study = _oblique_dicom_study(tmp_path)
    series = Path(study.fixed.meta["source"])
    with pytest.raises(InputError, match=r"inside the input folder .*ct_dicom \(a DICOM series"):
        write_study(study, series / "out", inputs=[series])
    with pytest.raises(InputError, match=r"inside the DICOM series folder .*ct_dicom; choose"):
        write_study(study, series / "out" / "deeper", inputs=[])  # any DICOM series folder
    assert sorted(p.suffix for p in series.iterdir()) == [".dcm"] * study.fixed.size[2]

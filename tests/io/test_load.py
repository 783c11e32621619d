"""Loading NIfTI and 2D images, format sniffing and input errors, checked against SimpleITK."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from medfuse.errors import InputError, InvalidSeriesError
from medfuse.io import describe, load
from medfuse.volume import Volume
from tests.conftest import real_data

SPM = ("volumes", "spm12_templates")


def assert_same_world_as_sitk(volume: Volume, path) -> None:
    """Voxel values identical and voxel-centre world coordinates within 0.01 mm of SimpleITK's."""
    reference = sitk.ReadImage(str(path))
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(reference))
    corners = np.array([[0, 0, 0], [n - 1 for n in volume.size], [1, 2, 3]])
    for index in corners:
        expected = reference.TransformIndexToPhysicalPoint([int(i) for i in index])
        np.testing.assert_allclose(volume.index_to_world([index])[0], expected, atol=0.01)


@pytest.mark.parametrize(
    "parts",
    [
        SPM + ("OldNorm", "T1.nii"),
        SPM + ("OldNorm", "SPECT.nii"),
        SPM + ("canonical", "single_subj_T1.nii"),
        ("volumes", "sts", "STS_001", "CT", "nifti", "image", "image.nii.gz"),
        ("volumes", "sts", "STS_002", "PET", "nifti", "image", "image.nii.gz"),
    ],
)
def test_nifti_matches_simpleitk(parts):
    path = real_data(*parts)
    assert_same_world_as_sitk(load(path), path)


def test_spm_spect_stored_x_flipped_lands_in_the_same_world_as_t1():
    t1 = load(real_data(*SPM, "OldNorm", "T1.nii"))
    spect = load(real_data(*SPM, "OldNorm", "SPECT.nii"))
    # same world box, different storage: x runs the other way in SPECT.nii
    assert np.sign(t1.direction[0, 0]) != np.sign(spect.direction[0, 0])
    np.testing.assert_allclose(t1.center(), spect.center(), atol=0.01)
    on_t1 = spect.resample_to(t1, interpolation="nearest")
    flipped = np.asarray(spect.array)[:, :, ::-1]
    np.testing.assert_allclose(on_t1.array, flipped, atol=1e-4)


def test_nifti_ras_is_converted_to_lps(tmp_path):
    import nibabel as nib

    ras_affine = np.array([[2.0, 0, 0, -90], [0, 2.0, 0, -126], [0, 0, 2.0, -72], [0, 0, 0, 1]])
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)  # (i, j, k) = (x, y, z)
    path = tmp_path / "ras.nii.gz"
    nib.save(nib.Nifti1Image(data, ras_affine), str(path))
    volume = load(path, modality="MR")
    # RAS (-90, -126, -72) is LPS (90, 126, -72); +i runs towards R, i.e. -L
    np.testing.assert_allclose(volume.origin, (90.0, 126.0, -72.0))
    np.testing.assert_allclose(np.diag(volume.direction), (-1.0, -1.0, 1.0))
    assert volume.array.shape == (4, 3, 2) and volume.array[3, 2, 1] == data[1, 2, 3]
    assert volume.array.dtype == np.int16 and volume.modality == "MR"


def test_nifti_written_reads_back_with_modality_and_units(tmp_path):
    from medfuse.io import write_nifti

    original = Volume(np.arange(60, dtype=np.float32).reshape(3, 4, 5), spacing=(1, 2, 3),
                      origin=(5, -5, 10), modality="PT", units="SUVbw")
    back = load(write_nifti(original, tmp_path / "pet.nii.gz"))
    assert (back.modality, back.units) == ("PT", "SUVbw")
    assert back.same_grid(original, atol=1e-5)
    np.testing.assert_array_equal(back.array, original.array)


def test_harvard_pseudo_colour_png_loads_rgb_and_grey_mri_loads_grey():
    pet_dir = real_data("fusion2d", "harvard", "PET-MRI", "PET")
    name = sorted(p.name for p in pet_dir.iterdir())[0]
    pet = load(pet_dir / name)
    mri = load(pet_dir.parent / "MRI" / name)
    assert pet.is_rgb and pet.array.shape == (256, 256, 3) and pet.array.dtype == np.uint8
    assert not mri.is_rgb and mri.array.shape == (256, 256)


def test_describe_gives_the_info_fields():
    entry = describe(load(real_data(*SPM, "OldNorm", "T1.nii")))
    assert entry["size"] == [91, 109, 91]
    assert entry["spacing"] == [2.0, 2.0, 2.0]
    assert len(entry["direction"]) == 9 and entry["suv_factor"] is None


@pytest.mark.parametrize(
    "name, content, error, message",
    [
        ("missing.nii.gz", None, InputError, "no such file or folder"),
        ("empty.nii.gz", b"", InputError, "file is empty"),
        ("broken.nii.gz", b"not a nifti at all", InvalidSeriesError, "not a readable NIfTI"),
        ("broken.png", b"\x89PNG garbage", InvalidSeriesError, "not a readable 2D image"),
        ("notes.txt", b"hello", InvalidSeriesError, "unknown format"),
    ],
)
def test_bad_input_names_the_file(tmp_path, name, content, error, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=message) as info:
        load(path)
    assert name in str(info.value)

"""RTSTRUCT rasterisation: synthetic contours, bad input, and agreement with the real NIfTI masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medfuse.errors import GeometryError, InputError, InvalidSeriesError
from medfuse.io import load
from medfuse.quantify.roi import roi_statistics
from medfuse.io.rtstruct import fill_contours, read_rtstruct, rtstruct_to_mask
from medfuse.volume import Volume
from tests.conftest import real_data


def _square(x0: float, y0: float, x1: float, y1: float, z: float) -> np.ndarray:
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], dtype=float)


def write_rtstruct(path: Path, rois: dict[str, list[np.ndarray]], *, modality: str = "RTSTRUCT") -> Path:
    """A minimal RT Structure Set holding ``rois`` (name -> contours in LPS mm)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3" if modality == "RTSTRUCT" else "1.2.3"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.StructureSetROISequence = Sequence()
    ds.ROIContourSequence = Sequence()
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, name
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ContourSequence = Sequence()
        for points in contours:
            c = Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = len(points)
            c.ContourData = [f"{v:.4f}" for v in np.asarray(points).ravel()]
            item.ContourSequence.append(c)
        ds.ROIContourSequence.append(item)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def grid() -> Volume:
    return Volume(np.zeros((5, 20, 20), np.float32), spacing=(1.0, 1.0, 2.0), origin=(0, 0, 0),
                  modality="CT", units="HU")


def test_square_fills_voxel_centres_inside(grid: Volume) -> None:
    mask = fill_contours(grid, [_square(1.5, 2.5, 5.5, 4.5, 4.0)])
    assert mask.sum() == 4 * 2
    assert mask[2, 3:5, 2:6].all()


def test_contour_between_slices_goes_to_nearest(grid: Volume) -> None:
    mask = fill_contours(grid, [_square(1.5, 1.5, 3.5, 3.5, 4.8)])  # slice 2.4 -> 2
    assert mask[2].sum() == 4 and mask.sum() == 4


def test_nested_contours_make_a_hole(grid: Volume) -> None:
    outer, inner = _square(0.5, 0.5, 9.5, 9.5, 2.0), _square(3.5, 3.5, 6.5, 6.5, 2.0)
    mask = fill_contours(grid, [outer, inner])
    assert mask[1].sum() == 81 - 9 and not mask[1, 5, 5]


def test_oblique_reference_is_handled_in_physical_space() -> None:
    # the reference's x axis points to -x (stored flipped): the same world square fills the mirror
    flipped = Volume(np.zeros((3, 10, 10)), spacing=(1.0, 1.0, 1.0), origin=(9.0, 0.0, 0.0),
                     direction=np.diag([-1.0, 1.0, 1.0]))
    mask = fill_contours(flipped, [_square(0.5, 0.5, 2.5, 2.5, 1.0)])
    assert mask[1].sum() == 4 and mask[1, 1:3, 7:9].all()


def test_contour_not_parallel_to_slices_is_refused(grid: Volume) -> None:
    tilted = np.array([[1, 1, 2], [5, 1, 2], [5, 5, 6], [1, 5, 6]], dtype=float)
    with pytest.raises(GeometryError, match="not parallel"):
        fill_contours(grid, [tilted])


def test_rtstruct_to_mask_labels_and_names(tmp_path: Path, grid: Volume) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", {
        "GTV": [_square(1.5, 1.5, 4.5, 4.5, 2.0)],
        "Cord": [_square(10.5, 10.5, 12.5, 12.5, z) for z in (0.0, 2.0, 4.0)],
    })
    labels, names = rtstruct_to_mask(path, grid)
    assert names == {1: "GTV", 2: "Cord"}
    assert labels.same_grid(grid) and labels.array.dtype == np.uint16
    assert (labels.array == 1).sum() == 9 and (labels.array == 2).sum() == 12
    only, names = rtstruct_to_mask(path, grid, roi_names=["cord"])
    assert names == {1: "Cord"} and (only.array == 1).sum() == 12


def test_missing_roi_name_lists_those_present(tmp_path: Path, grid: Volume) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", {"GTV": [_square(1, 1, 4, 4, 2.0)]})
    with pytest.raises(InvalidSeriesError, match=r"\['PTV'\] not found; present: \['GTV'\]"):
        rtstruct_to_mask(path, grid, roi_names=["PTV"])


def test_bad_files(tmp_path: Path, grid: Volume) -> None:
    with pytest.raises(InputError, match="no such RTSTRUCT"):
        read_rtstruct(tmp_path / "absent.dcm")
    (tmp_path / "junk.dcm").write_bytes(b"not dicom at all")
    with pytest.raises(InvalidSeriesError, match="not a readable DICOM"):
        read_rtstruct(tmp_path / "junk.dcm")
    other = write_rtstruct(tmp_path / "ct.dcm", {"x": []}, modality="CT")
    with pytest.raises(InvalidSeriesError, match="not an RT Structure Set"):
        read_rtstruct(other)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


@pytest.mark.parametrize("patient", ["STS_001", "STS_002"])
@pytest.mark.parametrize("series, modality, units", [
    ("CT", "CT", "HU"), ("MR_T1", "MR", "a.u."), ("PET", "PT", "SUVbw"),
])
def test_real_rtstruct_matches_nifti_mask(patient: str, series: str, modality: str, units: str) -> None:
    folder = real_data("volumes", "sts", patient, series)
    image = load(folder / "nifti" / "image" / "image.nii.gz", modality=modality, units=units)
    nifti_mask = load(folder / "nifti" / "mask" / "mask.nii.gz")
    labels, names = rtstruct_to_mask(folder / "dicom" / "mask" / "RS.dcm", image)
    assert names == {1: f"GTV_Mass_{series}"}
    assert _dice(labels.array > 0, nifti_mask.array > 0) > 0.95
    ours = roi_statistics(image, labels)[0]
    theirs = roi_statistics(image, nifti_mask)[0]
    assert ours["volume_ml"] == pytest.approx(theirs["volume_ml"], rel=0.03)
    for key in ("mean", "sd", "max") + (("suv_peak", "mtv_ml", "tlg") if modality == "PT" else ()):
        assert ours[key] == pytest.approx(theirs[key], rel=0.03), key


@pytest.mark.parametrize("patient", ["STS_001", "STS_002"])
def test_ct_contour_on_pet_grid_agrees_with_pet_mask(patient: str) -> None:
    folder = real_data("volumes", "sts", patient)
    pet = load(folder / "PET" / "nifti" / "image" / "image.nii.gz", modality="PT", units="SUVbw")
    pet_mask = load(folder / "PET" / "nifti" / "mask" / "mask.nii.gz")
    on_pet, _ = rtstruct_to_mask(folder / "CT" / "dicom" / "mask" / "RS.dcm", pet)
    assert _dice(on_pet.array > 0, pet_mask.array > 0) > 0.95

"""Bad input in the app: a series that cannot be drawn (colour DICOM, 4D) or a mask that no series
can hold is one message in the Study panel, the other series open, and the window stays usable."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.conftest import real_data
from tests.napari.conftest import needs_display

napari = pytest.importorskip("napari")


def _colour_dicom(path):
    """A one-frame RGB Secondary Capture (as a screen capture or a colour photo arrives)."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "OT", generate_uid(), generate_uid()
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 16, 20, 3, "RGB"
    ds.PlanarConfiguration, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 0, 8, 8, 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.arange(16 * 20 * 3, dtype=np.uint8).tobytes()
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def _four_d(path):
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.zeros((8, 9, 10, 4), np.float32), np.eye(4)), path)
    return path


@pytest.fixture
def bad_study(tmp_path):
    """A study folder: a good CT slice and a colour DICOM in one folder, a 4D NIfTI beside it."""
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(real_data("dicom", "pydicom_small", "CT_small.dcm"), folder / "ct.dcm")
    _colour_dicom(folder / "colour.dcm")
    return folder, _four_d(tmp_path / "dynamic.nii.gz")


def test_unreadable_series_are_named_and_the_others_open(bad_study):
    from medfuse.napari._reader import read_layers

    folder, four_d = bad_study
    layers = read_layers([str(folder), str(four_d)])
    assert [k["metadata"]["modality"] for _d, k, _kind in layers] == ["CT"]
    assert len(layers.problems) == 2
    colour, dynamic = layers.problems
    assert colour.startswith(str(folder / "colour.dcm")) and "colour DICOM" in colour
    assert dynamic.startswith(str(four_d)) and "4D image of shape" in dynamic
    assert all(len(p.splitlines()) == 1 for p in layers.problems)


def test_nothing_readable_is_its_own_error(bad_study):
    from medfuse.errors import InvalidSeriesError
    from medfuse.napari._reader import read_layers

    _folder, four_d = bad_study
    with pytest.raises(InvalidSeriesError, match=r"dynamic\.nii\.gz: a 4D image of shape"):
        read_layers(str(four_d))


def test_a_mask_outside_every_series_or_of_another_dimension_is_a_problem(ct_pet):
    from medfuse.napari._reader import StudyLayers, _drop_unplaceable_masks
    from medfuse.volume import Volume

    ct, pet = ct_pet
    far = Volume(np.ones((4, 4, 4), np.uint8), origin=(900.0, 900.0, 900.0), modality="SEG",
                 units="label", meta={"label_map": True, "description": "far GTV"})
    flat = Volume(np.ones((4, 4), np.uint8), modality="SEG", units="label",
                  meta={"label_map": True, "description": "2D mask"})
    near = ct.with_array((ct.array > 500).astype(np.uint8), modality="SEG", units="label",
                         meta={"label_map": True, "description": "lesion"})
    problems: list[str] = []
    kept = _drop_unplaceable_masks([ct, pet, far, flat, near], problems)
    assert kept == [ct, pet, far, near]  # the far one is drawn where it is, with a note
    assert problems == ["far GTV: the mask lies outside every series (another patient or frame "
                        "of reference?)", "2D mask: a 2D mask cannot lie on the 3D series; not shown"]
    assert StudyLayers([], problems).problems == problems


@pytest.mark.gui
@needs_display
def test_the_study_panel_shows_the_problem_and_the_window_stays_usable(make_napari_viewer, qtbot,
                                                                      bad_study, ct_pet):
    from medfuse.napari._app import build_window
    from medfuse.napari._layers import create_layer, volume_layer_data

    folder, four_d = bad_study
    viewer = make_napari_viewer(show=True)
    panels = build_window(viewer, layout="1x3")
    study, ortho = panels["Study"], panels["Orthogonal views"]
    try:
        study.open([str(folder), str(four_d)])
        qtbot.waitUntil(lambda: not study.runner.running, timeout=60_000)
        status = study.runner.status.text()
        assert status.startswith("1 series loaded; not shown: ") and "colour DICOM" in status
        assert "(and 1 more)" in status and "ff6b6b" in study.runner.status.styleSheet()
        assert [x.metadata["modality"] for x in viewer.layers] == ["CT"]
        study.open(str(four_d))  # nothing readable: the error alone, nothing added
        qtbot.waitUntil(lambda: not study.runner.running, timeout=60_000)
        assert "4D image of shape" in study.runner.status.text() and len(viewer.layers) == 1
        ct, _pet = ct_pet
        viewer.add_layer(create_layer(volume_layer_data(ct, name="still usable")))
        qtbot.waitUntil(lambda: ortho.settled, timeout=30_000)
        assert "still usable" in ortho.models["coronal"].layers
    finally:
        ortho.detach()

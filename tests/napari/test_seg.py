"""DICOM SEG in the app: read back voxel for voxel, one outlined label layer per segment named
after it, drawn in every view, with the names of its labels in the layer's metadata."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import real_data
from tests.napari.conftest import needs_display

STS_CT = ("volumes", "sts", "STS_001", "CT", "dicom")


@pytest.fixture(scope="module")
def ct_and_masks():
    """The STS_001 CT and two label maps on its grid: the RTSTRUCT GTV and a box beside it."""
    from medfuse.io import load
    from medfuse.io.rtstruct import rtstruct_to_mask

    ct = load(real_data(*STS_CT, "image"))
    gtv, names = rtstruct_to_mask(real_data(*STS_CT, "mask", "RS.dcm"), ct)
    gtv.meta["labels"] = names
    box = np.zeros(ct.array.shape, np.uint8)
    box[20:30, 40:80, 30:60] = 1
    return ct, gtv, ct.with_array(box, modality="SEG", units="label", meta={"labels": {1: "box"}})


@pytest.fixture
def seg_study(tmp_path, ct_and_masks):
    """A study folder: the CT series (linked, not copied) and a SEG of the GTV and the box."""
    from medfuse.io.seg import write_seg

    _ct, gtv, box = ct_and_masks
    study = tmp_path / "study"
    study.mkdir()
    (study / "image").mkdir()
    for source in real_data(*STS_CT, "image").iterdir():
        (study / "image" / source.name).symlink_to(source)
    write_seg([gtv, box], real_data(*STS_CT, "image"), tmp_path / "seg")
    (study / "seg").mkdir()
    (study / "seg" / "seg.dcm").symlink_to(tmp_path / "seg" / "seg.dcm")
    return study


def test_a_seg_reads_back_voxel_for_voxel_one_volume_per_segment(seg_study, ct_and_masks):
    from medfuse.io.seg import is_seg, read_seg

    ct, gtv, box = ct_and_masks
    path = seg_study / "seg" / "seg.dcm"
    assert is_seg(path) and not is_seg(next((seg_study / "image").iterdir()))
    segments = read_seg(path)
    assert [v.meta["description"] for v in segments] == ["GTV_Mass_CT", "box"]
    for volume, truth in zip(segments, (gtv, box)):
        assert volume.is_label and volume.meta["labels"] == {1: volume.meta["description"]}
        on_ct = volume.resample_to(ct, interpolation="nearest")
        assert np.array_equal(on_ct.array > 0, truth.array > 0)
        assert np.count_nonzero(on_ct.array) == np.count_nonzero(truth.array) > 1000


def test_load_mask_reads_a_seg_as_one_label_map_with_a_label_per_segment(seg_study, ct_and_masks):
    """``--mask seg.dcm`` (the workflow's and register's masks): segment i is label i."""
    from medfuse.io import load_mask

    ct, gtv, box = ct_and_masks
    mask = load_mask(seg_study / "seg" / "seg.dcm", ct)
    assert mask.meta["labels"] == {1: "GTV_Mass_CT", 2: "box"}
    on_ct = mask.resample_to(ct, interpolation="nearest").array
    assert np.array_equal(on_ct == 2, box.array > 0)
    assert np.array_equal(on_ct == 1, (gtv.array > 0) & (box.array == 0))


def test_not_a_seg_is_one_line_naming_the_file():
    from medfuse.errors import InvalidSeriesError
    from medfuse.io.seg import read_seg

    path = real_data(*STS_CT, "mask", "RS.dcm")
    with pytest.raises(InvalidSeriesError, match=r"RS\.dcm: not a DICOM SEG \(Modality 'RTSTRUCT'\)"):
        read_seg(path)


def test_a_study_folder_with_a_seg_opens_one_named_label_layer_per_segment(seg_study):
    from medfuse.napari._reader import read_layers

    layers = read_layers(str(seg_study))
    images = [k for _d, k, kind in layers if kind == "image"]
    labels = {k["name"]: (d, k) for d, k, kind in layers if kind == "labels"}
    assert [k["metadata"]["modality"] for k in images] == ["CT"]
    assert set(labels) == {"GTV_Mass_CT", "box"}
    for name, (data, kwargs) in labels.items():
        meta = kwargs["metadata"]
        assert meta["label_map"] is True and meta["labels"] == {1: name}
        assert meta["format"] == "seg" and meta["source"].endswith("seg.dcm")
        assert kwargs["metadata"]["contour"] > 0 and np.count_nonzero(data) > 1000
    alone = read_layers(str(seg_study / "seg" / "seg.dcm"))  # the file itself opens too
    assert [k["name"] for _d, k, _kind in alone] == ["GTV_Mass_CT", "box"]


def test_a_nifti_mask_carries_the_names_of_its_labels():
    from medfuse.napari._reader import read_layers

    layers = read_layers(str(real_data("volumes", "sts", "STS_001", "CT", "nifti")))
    (labels,) = [k for _d, k, kind in layers if kind == "labels"]
    assert labels["name"] == "CT mask" and labels["metadata"]["labels"] == {1: "CT mask"}
    assert labels["metadata"]["label_map"] is True


@pytest.mark.gui
@needs_display
def test_seg_segments_are_outlined_in_every_view(make_napari_viewer, qtbot, seg_study):
    from medfuse.napari._app import build_window
    from medfuse.napari._reader import read_layers
    from medfuse.napari._widgets._study import add_layer_data

    pytest.importorskip("napari")
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    panels = build_window(viewer, layout="1x3")
    ortho = panels["Orthogonal views"]
    try:
        add_layer_data(viewer, read_layers(str(seg_study)))
        qtbot.waitUntil(lambda: ortho.settled, timeout=60_000)
        for name in ("GTV_Mass_CT", "box"):
            layer = viewer.layers[name]
            assert layer.contour > 0 and layer.opacity == 1.0
            for plane in ("coronal", "sagittal"):
                assert ortho.models[plane].layers[name].contour == layer.contour
        roi = panels["ROI"]
        roi.mask.value = "GTV_Mass_CT"
        qtbot.waitUntil(lambda: roi.table.rowCount() > 0 and not roi.runner.running,
                        timeout=60_000)
        assert roi.table.item(0, 1).text() == "GTV_Mass_CT"
    finally:
        ortho.detach()

"""Reading real studies in the app: oblique series drawn where SimpleITK puts them, the moving MR
seen over the CT, ROIs named and outlined, SPECT recognised, views and readout as a reader needs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.conftest import real_data
from tests.napari.conftest import needs_display

napari = pytest.importorskip("napari")

TILT_DEG = 9.0


def _tilted(volume, degrees: float):
    """``volume`` with its direction turned by ``degrees`` about the LPS x axis through its centre
    (the same voxels, now an oblique series)."""
    from medfuse.volume import Volume

    a = np.radians(degrees)
    rotation = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    centre = volume.center()
    origin = centre + rotation @ (np.asarray(volume.origin) - centre)
    return Volume(volume.array, spacing=volume.spacing, origin=tuple(origin),
                  direction=rotation @ volume.direction, modality="MR", units="a.u.",
                  meta={"description": f"T1 tilted {degrees:g} deg"})


@pytest.fixture
def t1_and_tilted():
    from medfuse.io import load

    t1 = load(real_data("volumes", "spm12_templates", "OldNorm", "T1.nii"))
    t1.modality = "MR"
    return t1, _tilted(t1, TILT_DEG)


def _sitk_resampled(volume, reference):
    import SimpleITK as sitk

    from medfuse.volume import Volume

    image = sitk.Resample(sitk.Cast(volume.to_sitk(), sitk.sitkFloat32), reference.to_sitk(),
                          sitk.Transform(), sitk.sitkLinear, 0.0)
    return Volume.from_sitk(image, modality="MR", units="a.u.", meta={"description": "sitk copy"})


def test_an_oblique_series_is_resampled_for_display_as_simpleitk_does(t1_and_tilted):
    from medfuse.napari._display_grid import aligned_grid, display_volume, is_display_aligned

    t1, tilted = t1_and_tilted
    assert is_display_aligned(t1) and not is_display_aligned(tilted)
    on_t1 = display_volume(tilted, reference=t1)
    assert on_t1.same_grid(t1)
    expected = _sitk_resampled(tilted, t1).array
    assert np.allclose(on_t1.array, expected, atol=1e-3)
    alone = display_volume(tilted)
    assert is_display_aligned(alone) and alone.spacing == t1.spacing
    box = aligned_grid(tilted)
    corners = tilted.index_to_world([[0, 0, 0], [s - 1 for s in tilted.size]])
    low = np.asarray(box.origin) - np.asarray(box.spacing)
    high = box.index_to_world([box.size])[0]
    assert np.all(corners >= low) and np.all(corners <= high)  # the whole series is kept
    assert display_volume(t1) is t1  # axis-aligned (flipped y): drawn as it is


def _axial_shot(viewer, ortho, qtbot, world_point, fov):
    ortho.centre_on(world_point, fov_mm=fov)
    qtbot.waitUntil(lambda: ortho.settled, timeout=30_000)
    return viewer.screenshot(canvas_only=True, flash=False)[..., :3].mean(axis=-1)


@pytest.mark.gui
@needs_display
def test_oblique_mr_alone_is_drawn_where_simpleitk_resampling_puts_it(make_napari_viewer, qtbot,
                                                                       t1_and_tilted, tmp_path):
    from medfuse.io import write_nifti
    from medfuse.napari._app import build_window
    from medfuse.napari._layers import create_layer, volume_layer_data
    from medfuse.napari._reader import read_layers
    from medfuse.napari._widgets._study import add_layer_data

    t1, tilted = t1_and_tilted
    path = write_nifti(tilted, tmp_path / "tilted.nii.gz")
    copy = _sitk_resampled(tilted, t1)
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    panels = build_window(viewer, layout="single")
    ortho = panels["Orthogonal views"]
    ortho.show_crosshair.setChecked(False)
    ortho.show_letters.setChecked(False)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (shown,) = add_layer_data(viewer, read_layers(str(path)))  # the series alone
            # 40 mm anterior of the tilt axis: a 9 deg tilt drawn flat is 6 mm off in z there
            point = tuple(t1.center() + np.array([0.0, -40.0, 10.0]))[::-1]
            ours = _axial_shot(viewer, ortho, qtbot, point, 200.0)
        assert not [w for w in caught if "Non-orthogonal" in str(w.message)]
        shown.visible = False
        reference = viewer.add_layer(create_layer(volume_layer_data(copy)))
        truth = _axial_shot(viewer, ortho, qtbot, point, 200.0)
        reference.visible = False
        flat = viewer.add_layer(create_layer(volume_layer_data(tilted)))  # as napari alone draws it
        naive = _axial_shot(viewer, ortho, qtbot, point, 200.0)
    finally:
        ortho.detach()
    head = truth > 5  # correlate where the anatomy is, not over the black around it
    assert np.count_nonzero(head) > 10_000 and truth[head].std() > 10
    correct = np.corrcoef(ours[head], truth[head])[0, 1]
    wrong = np.corrcoef(naive[head], truth[head])[0, 1]
    print(f"oblique display vs SimpleITK: r = {correct:.3f} (napari drawing it alone: {wrong:.3f})")
    assert correct > 0.95 and correct > wrong + 0.02, (correct, wrong)
    assert flat.visible


def _sts_window(make_napari_viewer, qtbot, *parts, layout="2x2"):
    from medfuse.napari._app import build_window
    from medfuse.napari._reader import read_layers
    from medfuse.napari._widgets._study import add_layer_data

    paths = [str(real_data("volumes", "sts", "STS_001", *p)) for p in parts]
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    panels = build_window(viewer, layout=layout)
    add_layer_data(viewer, read_layers(paths))
    panels["Study"]._add([])  # the panel's choice of fixed and moving, as after opening a study
    qtbot.waitUntil(lambda: panels["Orthogonal views"].settled, timeout=60_000)
    return viewer, panels


@pytest.mark.gui
@needs_display
def test_mr_over_ct_changes_pixels_with_its_opacity_and_flicker(make_napari_viewer, qtbot):
    viewer, panels = _sts_window(make_napari_viewer, qtbot, ("CT", "dicom", "image"),
                                 ("MR_T1", "dicom", "image"))
    ortho, inspect = panels["Orthogonal views"], panels["Inspect"]
    try:
        ct = next(x for x in viewer.layers if x.metadata.get("modality") == "CT")
        mr = next(x for x in viewer.layers if x.metadata.get("modality") == "MR")
        assert (inspect.fixed.value, inspect.moving.value) == (ct.name, mr.name)
        inspect.show_view()  # overlay
        assert viewer.layers.index(mr) > viewer.layers.index(ct) and mr.visible
        shots = {}
        for opacity in (0.2, 0.8):
            inspect.opacity.value = opacity
            assert mr.opacity == pytest.approx(opacity)
            qtbot.wait(100)
            shots[opacity] = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
        changed = np.count_nonzero(np.abs(shots[0.2] - shots[0.8]).max(axis=-1) > 10)
        assert changed > 5000, changed  # the MR is seen over the CT
        inspect.view.value = "flicker"
        qtbot.waitUntil(lambda: not mr.visible, timeout=3000)
        hidden = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
        assert np.count_nonzero(np.abs(hidden - shots[0.8]).max(axis=-1) > 10) > 5000
        inspect.view.value = "difference"
        qtbot.waitUntil(lambda: not inspect.runner.running, timeout=60_000)
        assert "comparison" in viewer.layers
    finally:
        ortho.detach()


@pytest.mark.gui
@needs_display
def test_mr_pair_fixed_is_the_finer_grid_and_the_panel_says_why(make_napari_viewer, qtbot,
                                                                 tmp_path):
    from medfuse.io import load, write_nifti
    from medfuse.napari._app import build_window
    from medfuse.napari._reader import read_layers
    from medfuse.napari._widgets._study import add_layer_data

    pd = load(real_data("volumes", "spm12_templates", "OldNorm", "PD.nii"))  # 2 mm
    t1 = load(real_data("volumes", "sts", "STS_001", "MR_T1", "nifti", "image", "image.nii.gz"))
    for volume in (pd, t1):
        volume.modality = "MR"
    paths = [write_nifti(pd, tmp_path / "pd.nii.gz"), write_nifti(t1, tmp_path / "t1.nii.gz")]
    viewer = make_napari_viewer(show=True)
    panels = build_window(viewer)
    try:
        add_layer_data(viewer, read_layers([str(p) for p in paths]))
        panels["Study"]._add([])
        names = {x.metadata.get("source", "").rsplit("/", 1)[-1]: x.name for x in viewer.layers}
        assert panels["Study"].fixed.value == names["t1.nii.gz"]  # 1 x 1 x 3.3 mm, finer
        assert panels["Study"].moving.value == names["pd.nii.gz"]
        assert viewer.layers[names["t1.nii.gz"]].visible  # the fixed one is the one shown
        assert "finest grid" in panels["Study"].rule.value
    finally:
        panels["Orthogonal views"].detach()


@pytest.mark.gui
@needs_display
def test_study_rois_are_one_outlined_layer_named_after_the_roi_in_every_view(make_napari_viewer,
                                                                             qtbot):
    viewer, panels = _sts_window(make_napari_viewer, qtbot, ())
    ortho = panels["Orthogonal views"]
    try:
        labels = [x for x in viewer.layers if x.__class__.__name__ == "Labels"]
        assert [x.name for x in labels] == ["GTV_Mass_PET"]  # 3 RTSTRUCTs, one ROI
        gtv = labels[0]
        assert gtv.contour > 0 and gtv.opacity == 1.0
        for plane in ("coronal", "sagittal"):
            assert ortho.models[plane].layers[gtv.name].contour == gtv.contour
        ct = next(x for x in viewer.layers if x.metadata.get("modality") == "CT")
        assert gtv.data.shape == ct.data.shape  # on the reference grid
        inside = np.argwhere(gtv.data > 0).mean(axis=0)
        world = gtv.data_to_world(inside)
        ortho.show_crosshair.setChecked(False)
        ortho.show_letters.setChecked(False)
        ortho.set_cursor(world)
        qtbot.waitUntil(lambda: ortho.settled, timeout=10_000)
        qtbot.wait(200)
        for plane, canvas in ortho._canvases.items():
            if plane == "mip":
                continue
            shot = canvas.native.grabFramebuffer()
            pixels = np.asarray(shot.constBits().asarray(shot.sizeInBytes()), np.uint8)
            rgb = pixels.reshape(shot.height(), shot.width(), 4)[..., [2, 1, 0]].astype(int)
            red = (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)  # the GTV colour
            assert np.count_nonzero(red) > 50, plane
    finally:
        ortho.detach()


def test_lu177_spect_stored_as_pt_is_nm_with_its_colormap_and_opaque_alone():
    from medfuse.napari._reader import read_layers

    layers = read_layers(str(real_data("dicom", "spect_lu177_pt", "SCAN_001")))
    images = [(data, kwargs) for data, kwargs, kind in layers if kind == "image"]
    assert len(images) == 1
    data, kwargs = images[0]
    assert kwargs["metadata"]["modality"] == "NM" and kwargs["metadata"]["units"] == "SUVbw"
    assert kwargs["name"].startswith("NM ")
    assert kwargs["colormap"] == "hot" and kwargs["opacity"] == 1.0  # alone: opaque, no ramp
    assert kwargs["interpolation2d"] == "linear"
    assert [k["name"] for _d, k, kind in layers if kind == "labels"]  # its RTSTRUCT, by ROI name


@pytest.mark.gui
@needs_display
def test_readout_covers_hidden_layers_follows_the_slice_and_keeps_units(make_napari_viewer, qtbot):
    from medfuse.napari._widgets._inspect import cursor_point, status_text

    viewer, panels = _sts_window(make_napari_viewer, qtbot, ("CT", "dicom", "image"),
                                 ("PET", "dicom", "image"))
    ortho, inspect = panels["Orthogonal views"], panels["Inspect"]
    try:
        ct = next(x for x in viewer.layers if x.metadata.get("modality") == "CT")
        pet = next(x for x in viewer.layers if x.metadata.get("modality") == "PT")
        centre = ct.data_to_world(np.asarray(ct.data.shape) / 2)
        viewer.cursor.position = tuple(centre)
        ortho.set_cursor(centre)
        ct.visible = False
        text = status_text(viewer, cursor_point(viewer))
        assert " HU (hidden)" in text and " SUVbw" in text and text.startswith("LPS (")
        inspect.fixed.value, inspect.moving.value = ct.name, pet.name
        inspect.view.value = "checkerboard"
        qtbot.waitUntil(lambda: not inspect.runner.running, timeout=60_000)
        before = inspect.readout.value
        ortho.set_cursor(tuple(np.asarray(centre) + [3 * 3.27, 0, 0]))  # three slices up
        after = inspect.readout.value
        assert after != before and "comparison:" in after and " HU" in after  # not stale
        assert after.splitlines()[0].startswith("LPS (")  # mm, never napari's bare z, y, x
    finally:
        ortho.detach()


@pytest.mark.gui
@needs_display
def test_roi_panel_gives_the_report_statistics_of_the_gtv_and_follows_painting(make_napari_viewer,
                                                                              qtbot):
    from medfuse.napari._layers import layer_to_volume
    from medfuse.quantify.roi import roi_statistics

    viewer, panels = _sts_window(make_napari_viewer, qtbot, ())
    ortho, roi = panels["Orthogonal views"], panels["ROI"]
    try:
        roi.mask.value = "GTV_Mass_PET"
        qtbot.waitUntil(lambda: roi.table.rowCount() > 0 and not roi.runner.running,
                        timeout=60_000)
        rows = {roi.table.item(r, 0).text(): [roi.table.item(r, c).text()
                                              for c in range(roi.table.columnCount())]
                for r in range(roi.table.rowCount())}
        pet_layer = next(x for x in viewer.layers if x.metadata.get("modality") == "PT")
        pet = layer_to_volume(pet_layer)
        expected = roi_statistics(pet, layer_to_volume(viewer.layers["GTV_Mass_PET"]),
                                  labels={1: "GTV_Mass_PET"})[0]
        row = rows[pet_layer.name]  # the series named as its layer
        assert row[1] == "GTV_Mass_PET"
        assert float(row[5]) == pytest.approx(expected["suv_max"], rel=2e-3)  # SUVmax
        assert float(row[7]) == pytest.approx(expected["suv_peak"], rel=2e-3)  # SUVpeak
        assert expected["suv_max"] > 5  # the sarcoma is hot
        ct_row = next(r for r in rows.values() if r[3].endswith(" HU"))
        assert ct_row[5] == "-"  # no SUV for the CT
        gtv = viewer.layers["GTV_Mass_PET"]
        before = roi.table.item(0, 2).text()
        gtv.brush_size = 40
        gtv.paint(tuple(np.argwhere(gtv.data > 0).mean(axis=0)), 0, refresh=True)  # erase a disc
        qtbot.waitUntil(lambda: roi.table.item(0, 2) is not None
                        and roi.table.item(0, 2).text() != before, timeout=20_000)
        viewer.dims.point = tuple(pet_layer.data_to_world(
            np.unravel_index(int(np.argmax(pet_layer.data)), pet_layer.data.shape)))
        sphere = roi.add_sphere()
        assert sphere.name in viewer.layers and roi.mask.value == sphere.name
        qtbot.waitUntil(lambda: roi.table.rowCount() > 0 and not roi.runner.running
                        and roi.table.item(0, 1).text().startswith("sphere"), timeout=60_000)
    finally:
        ortho.detach()

"""The app under a real display: layers, geometry, rendered pixels, linked views and the panels."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.napari._layers import layer_data_to_world
from medfuse.napari._reader import study_layer_data
from medfuse.napari._widgets._study import add_layer_data
from tests.napari.conftest import HOT_POINT_LPS, needs_display

pytestmark = [pytest.mark.gui, needs_display]
napari = pytest.importorskip("napari")

WORLD_HOT = tuple(HOT_POINT_LPS[::-1])


def _window(make_napari_viewer, qtbot, layers):
    """The MedFuse window (panels + orthogonal views) showing ``layers``, every view drawn."""
    from medfuse.napari._app import build_window

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    panels = build_window(viewer)
    add_layer_data(viewer, layers)
    viewer.dims.point = WORLD_HOT
    qtbot.waitUntil(lambda: panels["Orthogonal views"].synced, timeout=30_000)
    return viewer, panels


@pytest.fixture
def app(make_napari_viewer, qtbot, ct_pet):
    """The MedFuse window on the synthetic CT and PET."""
    viewer, panels = _window(make_napari_viewer, qtbot, study_layer_data(list(ct_pet)))
    yield viewer, panels
    panels["Orthogonal views"].detach()


@pytest.fixture
def sample_app(make_napari_viewer, qtbot):
    """The MedFuse window on the sample study (CT, MR, PET in SUV, lesions) and its truth."""
    from medfuse.napari._sample_data import sample_study
    from medfuse.sample import make_study

    viewer, panels = _window(make_napari_viewer, qtbot, sample_study())
    yield viewer, panels, make_study().truth
    panels["Orthogonal views"].detach()


def _idle(qtbot, runner, timeout=60_000):
    qtbot.waitUntil(lambda: not runner.running, timeout=timeout)


def test_pet_overlay_is_drawn_in_colour_over_the_grey_ct(app):
    viewer, panels = app
    panels["Orthogonal views"].show_crosshair.setChecked(False)
    panels["Orthogonal views"].show_letters.setChecked(False)  # letters and bars are not the CT
    ct_layer, pet_layer = viewer.layers["CT ct"], viewer.layers["PT pet"]
    assert viewer.layers.index(pet_layer) > viewer.layers.index(ct_layer)
    assert pet_layer.colormap.name == "inferno overlay"
    shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    assert shot.mean() > 10  # not black
    chroma = shot.max(axis=-1) - shot.min(axis=-1)
    tinted = np.count_nonzero(chroma > 30)
    assert tinted > 500  # the PET hot spot shows in colour over the grey CT
    pet_layer.visible = False
    grey = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 2  # CT alone is grey
    body = np.count_nonzero(grey[..., 0] > 20)
    assert tinted < 0.2 * body  # the body at SUV 1 is not tinted, only the hot spot


def test_hot_spot_of_4mm_pet_lands_on_the_1mm_ct_marker_on_screen(app):
    viewer, panels = app
    panels["Orthogonal views"].show_letters.setChecked(False)  # only the images are bright
    ct_layer, pet_layer = viewer.layers["CT ct"], viewer.layers["PT pet"]
    pet_layer.visible = False
    ct_shot = viewer.screenshot(canvas_only=True, flash=False)[..., 0].astype(float)
    pet_layer.visible, ct_layer.visible = True, False
    pet_shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3].sum(-1).astype(float)
    ct_centre = np.argwhere(ct_shot > 0.9 * ct_shot.max()).mean(axis=0)
    pet_centre = np.argwhere(pet_shot > 0.9 * pet_shot.max()).mean(axis=0)
    pixel_mm = 1.0 / viewer.camera.zoom
    assert np.linalg.norm(ct_centre - pet_centre) * pixel_mm < 4.0


def _pixels(image):
    """A QImage's pixels as an (h, w, 3) array."""
    image = image.convertToFormat(image.Format.Format_RGB888)
    data = np.asarray(image.constBits().asarray(image.sizeInBytes()), np.uint8)
    return data.reshape(image.height(), image.bytesPerLine())[:, :image.width() * 3].reshape(
        image.height(), image.width(), 3).astype(int)


def test_layer_list_paints_each_layer_its_own_thumbnail(app):
    """The layer list paints the same thumbnails at every repaint, the opaque CT's as its
    thumbnail scaled to the row (napari's model hands its delegate an image over freed memory:
    stray pixels in a thumbnail's last row, different from one paint to the next)."""
    from qtpy.QtCore import QRect
    from qtpy.QtGui import QImage, QPainter, QPixmap

    from medfuse.napari._layer_list import thumbnail_rect

    viewer, _ = app
    view = viewer.window._qt_viewer.layers
    model = view.model()
    first = None
    for _repaint in range(20):
        view.viewport().repaint()
        image = view.viewport().grab().toImage()
        first = first or image
        assert image == first
    index = next(model.index(row, 0) for row in range(model.rowCount())
                 if model.index(row, 0).data() == "CT ct")
    thumbnail = viewer.layers["CT ct"].thumbnail
    assert (thumbnail[..., 3] == 255).all()
    rect = thumbnail_rect(type("Option", (), {"rect": view.visualRect(index)}), index)
    expected = QImage(rect.width(), rect.height(), QImage.Format.Format_RGB32)
    painter = QPainter(expected)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawPixmap(QRect(0, 0, rect.width(), rect.height()), QPixmap.fromImage(QImage(
        thumbnail.tobytes(), thumbnail.shape[1], thumbnail.shape[0], QImage.Format.Format_RGBA8888)))
    painter.end()
    painted = _pixels(image.copy(rect))
    assert painted.std() > 5  # the slice's picture, not one flat colour
    assert np.abs(painted - _pixels(expected)).max() <= 2


def test_orthogonal_views_share_layers_and_cursor(app, qtbot):
    viewer, panels = app
    ortho = panels["Orthogonal views"]
    for plane, model in ortho.models.items():
        shown = ["PT pet"] if plane == "mip" else [x.name for x in viewer.layers]  # MIP: PET only
        assert [x.name for x in model.layers] == shown, plane
        assert model.layers["PT pet"].data is viewer.layers["PT pet"].data  # shared, not copied
    assert ortho.models["mip"].layers["PT pet"].projection_mode == "max"
    target = (30.0, -20.0, 0.0)
    ortho.set_cursor(target)
    qtbot.waitUntil(lambda: ortho.synced, timeout=2000)  # the other views follow, one per turn
    for model in ortho.models.values():
        assert np.allclose(model.dims.point, viewer.dims.point)
    assert ortho.models["coronal"].dims.displayed == (0, 2)
    assert ortho.models["sagittal"].dims.displayed == (0, 1)
    cross = ortho.crosshairs["coronal"].pos  # scene (x, z) of two segments
    assert np.allclose(cross[:2, 0], 0.0)  # vertical line at x
    assert np.allclose(cross[2:, 1], 30.0)  # horizontal line at z
    viewer.layers["PT pet"].opacity = 0.3
    assert ortho.models["sagittal"].layers["PT pet"].opacity == pytest.approx(0.3)
    viewer.layers["PT pet"].visible = False  # hidden in the views (as under a fused image) ...
    assert not ortho.models["sagittal"].layers["PT pet"].visible
    assert ortho.models["mip"].layers["PT pet"].visible  # ... the PET's own MIP view still shows it
    viewer.layers["PT pet"].visible = True


def test_the_mip_view_follows_the_eye_toggles_of_two_pets(make_napari_viewer, qtbot, ct_pet):
    ct, pet = ct_pet
    follow_up = pet.with_array(pet.array * 0.5, meta={"description": "follow-up"})
    viewer, panels = _window(make_napari_viewer, qtbot, study_layer_data([ct, pet, follow_up]))
    ortho = panels["Orthogonal views"]
    mip = ortho.models["mip"]
    try:
        def drawn() -> list[str]:
            return sorted(layer.name for layer in mip.layers if layer.visible)

        assert drawn() == ["PT follow-up", "PT pet"]
        viewer.layers["PT follow-up"].visible = False
        assert drawn() == ["PT pet"]
        viewer.layers["PT pet"].visible = False  # none shown: the top one, never a blank MIP
        assert drawn() == ["PT follow-up"]
        rgb = np.zeros((*viewer.layers["CT ct"].data.shape, 3), np.uint8)
        viewer.add_image(rgb, rgb=True, name="fused", affine=viewer.layers["CT ct"].affine,
                         metadata={"source_layers": ["CT ct", "PT pet"]})
        qtbot.waitUntil(lambda: ortho.synced, timeout=10_000)
        assert drawn() == ["PT pet"]  # the PET under the visible fusion, not the hidden follow-up
        viewer.layers["fused"].visible = False
        assert drawn() == ["PT follow-up"]
        viewer.layers["PT follow-up"].visible = True
        viewer.layers.remove("fused")
        qtbot.waitUntil(lambda: ortho.synced, timeout=10_000)
        assert drawn() == ["PT follow-up"]
    finally:
        ortho.detach()


def test_readout_shows_hu_and_suv_at_the_cursor(app):
    viewer, panels = app
    inspect = panels["Inspect"]
    viewer.cursor.position = WORLD_HOT
    inspect._update_readout()
    text = inspect.readout.value
    assert "CT ct: 900 HU" in text
    assert "PT pet: 12.00 SUVbw" in text
    assert "LPS (12.0, -8.0, 20.0)" in text


def test_checkerboard_and_difference_views(app, qtbot):
    viewer, panels = app
    inspect = panels["Inspect"]
    inspect.fixed.value, inspect.moving.value = "CT ct", "PT pet"
    inspect.squares.value = 4
    inspect.view.value = "checkerboard"
    _idle(qtbot, inspect.runner)
    board = viewer.layers["comparison"]
    assert board.data.shape == viewer.layers["CT ct"].data.shape  # on the fixed grid
    assert 0.0 <= board.data.min() and board.data.max() <= 1.0
    inspect.view.value = "difference"
    _idle(qtbot, inspect.runner)
    assert viewer.layers["comparison"].colormap.name == "PiYG"
    inspect.view.value = "flicker"
    assert "comparison" not in viewer.layers and inspect._timer.isActive()
    inspect.view.value = "overlay"
    assert not inspect._timer.isActive()


def test_window_presets_set_contrast(app):
    viewer, panels = app
    inspect = panels["Inspect"]
    inspect.fixed.value = "CT ct"
    inspect.window.reset_choices()
    lung = next(v for v in inspect.window.choices if v and v[1] == (-1350.0, 150.0))
    inspect.window.value = lung
    assert tuple(viewer.layers["CT ct"].contrast_limits) == (-1350.0, 150.0)


def test_scanner_geometry_mode_keeps_the_pet_as_it_is(app, qtbot):
    viewer, panels = app
    register = panels["Register"]
    pet_layer = viewer.layers["PT pet"]
    data, placement = pet_layer.data, layer_data_to_world(pet_layer)
    register.fixed.value, register.moving.value = "CT ct", "PT pet"
    register.mode.value = "geometry"
    register.start()
    _idle(qtbot, register.runner)
    assert "scanner alignment" in register.result.value
    assert pet_layer.data is data and np.allclose(layer_data_to_world(pet_layer), placement)
    assert not register.registered.enabled  # nothing to compare


@pytest.mark.slow
def test_elastix_registration_shows_the_sample_pet_where_its_truth_says(sample_app, qtbot):
    from medfuse.napari._layers import layer_to_volume
    from medfuse.registration.transforms import from_matrix

    viewer, panels, truth = sample_app
    ortho, register = panels["Orthogonal views"], panels["Register"]
    ct_layer = viewer.layers["CT phantom"]
    pet_layer = viewer.layers["PT FDG PET phantom"]
    count, before = len(viewer.layers), (pet_layer.data, layer_data_to_world(pet_layer))
    ct, pet = layer_to_volume(ct_layer), layer_to_volume(pet_layer)
    on_truth = pet.resample_to(ct, transform=from_matrix(np.asarray(
        truth["transforms"]["pet"]["matrix"]))).array.ravel()
    on_scanner = pet.resample_to(ct).array.ravel()  # the patient moved: scanner geometry is off
    register.fixed.value, register.moving.value = ct_layer.name, pet_layer.name
    register.mode.value = "register"
    register.start()
    _idle(qtbot, register.runner, timeout=300_000)
    assert "failed" not in register.runner.status.text(), register.runner.status.text()
    assert len(viewer.layers) == count  # the PET layer shows the registered series, no new layer
    assert pet_layer.data is not before[0] and pet_layer.data.shape == before[0].shape
    assert np.allclose(layer_data_to_world(pet_layer), before[1])  # on its own grid, in place
    shown = layer_to_volume(pet_layer).resample_to(ct).array.ravel()  # as seen on the CT grid
    after, scanner = (np.corrcoef(shown, x)[0, 1] for x in (on_truth, on_scanner))
    assert after > 0.95 and after > scanner + 0.05, (after, scanner)
    qtbot.waitUntil(lambda: ortho.synced, timeout=5000)
    for model in ortho.models.values():
        assert model.layers[pet_layer.name].data is pet_layer.data
    assert register.registered.enabled and register.registered.value
    register.registered.value = False  # before registration
    assert pet_layer.data is before[0]
    register.registered.value = True
    assert np.allclose(layer_to_volume(pet_layer).resample_to(ct).array.ravel(), shown)


def test_launch_opens_files_and_puts_the_cursor_on_the_pet_hot_spot(qtbot, tmp_path, ct_pet):
    from medfuse.io import write_nifti
    from medfuse.napari._app import launch

    paths = [write_nifti(v, tmp_path / f"{v.modality}.nii.gz") for v in ct_pet]
    viewer, panels = launch(paths, size=(1200, 800))
    try:
        qtbot.waitUntil(lambda: len(viewer.layers) == 2 and not panels["Study"].runner.running,
                        timeout=60_000)
        pet = next(x for x in viewer.layers if x.metadata.get("modality") == "PT")
        index = np.unravel_index(int(np.argmax(pet.data)), pet.data.shape)
        assert np.allclose(viewer.dims.point, pet.data_to_world(index), atol=1.0)
        assert viewer.layers.selection.active is pet
    finally:
        panels["Orthogonal views"].detach()
        viewer.close()


def test_a_failing_task_is_a_message_not_a_crash(app, qtbot, tmp_path):
    viewer, panels = app
    study = panels["Study"]
    before = len(viewer.layers)
    study.open(tmp_path)  # an empty folder
    _idle(qtbot, study.runner)
    assert "no images found" in study.runner.status.text()
    assert len(viewer.layers) == before


def test_cancel_discards_the_result(app, qtbot):
    import time

    viewer, panels = app
    runner = panels["Fuse"].runner
    got = []
    runner.start(lambda: time.sleep(0.5) or 1, description="slow task", on_done=got.append)
    assert runner.running
    runner.cancel()
    assert not runner.running and "cancelled" in runner.status.text()
    qtbot.wait(800)
    assert got == []


def test_export_writes_nifti_and_png(app, qtbot, tmp_path):
    from medfuse.io import load

    viewer, panels = app
    export = panels["Export"]
    export.folder.value = tmp_path
    export.layers.value = ["PT pet"]
    export.save()
    _idle(qtbot, export.runner)
    pet = load(tmp_path / "nifti" / "PT_pet.nii.gz")
    assert pet.modality == "PT" and pet.spacing == (4.0, 4.0, 4.0)
    png = export.screenshot(canvas_only=True)
    assert png is not None and png.stat().st_size > 1000
    assert png.parent == tmp_path / "screenshots"
    # the study folder has its own sub-folder: the files saved above do not stop it
    export.fixed.value, export.moving.value = "CT ct", "PT pet"
    export.report()
    _idle(qtbot, export.runner)
    assert (tmp_path / "study" / "report.json").exists(), export.runner.status.text()
    assert png.exists() and (tmp_path / "nifti" / "PT_pet.nii.gz").exists()


def test_study_panel_lists_series_and_picks_ct_and_pet(app):
    viewer, panels = app
    study = panels["Study"]
    rows = {study.table.item(r, 0).text(): study.table.item(r, 1).text()
            for r in range(study.table.rowCount())}
    assert rows == {"CT ct": "CT", "PT pet": "PT"}


def test_fuse_panel_average_adds_a_fused_layer_on_the_fixed_grid(app, qtbot):
    viewer, panels = app
    fuse = panels["Fuse"]
    fuse.first.value, fuse.second.value = "CT ct", "PT pet"
    fuse.method.value = "average"
    fuse.start()
    _idle(qtbot, fuse.runner)
    assert "failed" not in fuse.runner.status.text()
    layer = viewer.layers["fused (average)"]
    ct_layer = viewer.layers["CT ct"]
    assert layer.data.shape[:3] == ct_layer.data.shape
    assert np.allclose(layer_data_to_world(layer), layer_data_to_world(ct_layer))
    assert layer.metadata["fusion_method"] == "average"
    assert layer.metadata["source_layers"] == ["CT ct", "PT pet"]  # what the readout reads
    qtbot.waitUntil(lambda: not ct_layer.visible and not viewer.layers["PT pet"].visible,
                    timeout=2000)  # the sources are hidden a turn after the fused layer is added


def test_status_bar_shows_hu_and_suv_with_units(app, qtbot):
    viewer, _ = app
    viewer.cursor.position = WORLD_HOT
    viewer.window._qt_window.status_thread.status_and_tooltip_changed.emit(("napari's", ""))
    qtbot.waitUntil(lambda: "HU" in str(viewer.status), timeout=2000)
    assert "CT ct: 900 HU" in viewer.status and "PT pet: 12.00 SUVbw" in viewer.status
    assert viewer.status.startswith("LPS (12.0, -8.0, 20.0) mm")

"""Linked zoom and pan: zooming or panning one view moves the others to the same scale and point."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.napari._reader import study_layer_data
from medfuse.napari._orthoviews import camera_of
from tests.napari.conftest import needs_display
from tests.napari.test_app import WORLD_HOT, _window

pytestmark = [pytest.mark.gui, needs_display]
napari = pytest.importorskip("napari")


@pytest.fixture
def linked(make_napari_viewer, qtbot, ct_pet):
    """The MedFuse window on the synthetic CT and PET, every view fitted and drawn."""
    viewer, panels = _window(make_napari_viewer, qtbot, study_layer_data(list(ct_pet)))
    ortho = panels["Orthogonal views"]
    qtbot.waitUntil(lambda: ortho.settled, timeout=30_000)
    yield viewer, ortho
    ortho.detach()


def _centre(model) -> dict[int, float]:
    """The world point (axis -> mm) at the centre of ``model``'s view, for its displayed axes."""
    return dict(zip(model.dims.displayed, camera_of(model).center[-2:]))


def test_zooming_the_axial_view_gives_every_view_its_scale(linked):
    viewer, ortho = linked
    camera_of(viewer).zoom = 2.5 * camera_of(viewer).zoom
    for plane, model in ortho.models.items():
        assert camera_of(model).zoom == pytest.approx(camera_of(viewer).zoom), plane


def test_panning_one_view_moves_the_others_along_the_axes_they_share(linked):
    viewer, ortho = linked
    coronal, sagittal = ortho.models["coronal"], ortho.models["sagittal"]
    z_before = _centre(coronal)[0]
    camera_of(viewer).center = (WORLD_HOT[1], WORLD_HOT[2])  # axial: y, x
    assert _centre(coronal)[2] == pytest.approx(WORLD_HOT[2])  # left-right follows
    assert _centre(sagittal)[1] == pytest.approx(WORLD_HOT[1])  # front-back follows
    assert _centre(coronal)[0] == pytest.approx(z_before)  # head-foot is not the axial view's
    camera_of(coronal).center = (WORLD_HOT[0], 5.0)  # coronal: z, x
    assert _centre(viewer)[2] == pytest.approx(5.0)
    assert _centre(viewer)[1] == pytest.approx(WORLD_HOT[1])
    assert _centre(sagittal)[0] == pytest.approx(WORLD_HOT[0])
    assert _centre(ortho.models["mip"])[0] == pytest.approx(WORLD_HOT[0])


def test_the_linked_coronal_view_draws_the_hot_spot_at_the_axial_scale_and_point(linked, qtbot):
    viewer, ortho = linked
    ortho.show_crosshair.setChecked(False)
    ortho.show_letters.setChecked(False)
    viewer.layers["PT pet"].visible = False  # the CT's 900 HU marker alone is bright
    ortho.set_cursor(WORLD_HOT)
    qtbot.waitUntil(lambda: ortho.settled, timeout=10_000)
    camera_of(viewer).center = (WORLD_HOT[1], WORLD_HOT[2])
    camera_of(viewer).zoom = 6.0  # pixels per mm
    ortho.redraw_all(timeout=20)
    shot = ortho._canvases["coronal"].native.grabFramebuffer()
    width, height = shot.width(), shot.height()
    pixels = np.frombuffer(shot.constBits().asarray(shot.sizeInBytes()), np.uint8)
    grey = pixels.reshape(height, shot.bytesPerLine() // 4, 4)[:, :width, :3].mean(-1)
    columns = np.flatnonzero((grey > 0.9 * grey.max()).any(axis=0))
    # the 8 mm marker: centred left-right where the axial view is centred, 8 mm wide at 6 px/mm
    assert abs(columns.mean() - width / 2) < 6
    ratio = shot.devicePixelRatio()
    assert (columns.max() - columns.min() + 1) / ratio == pytest.approx(8 * 6.0, rel=0.25)


def test_unticked_link_and_fitting_leave_the_other_views_alone(linked):
    viewer, ortho = linked
    coronal = ortho.models["coronal"]
    zoom = camera_of(coronal).zoom
    ortho.link_cameras.setChecked(False)
    camera_of(viewer).zoom = 3 * camera_of(viewer).zoom
    assert camera_of(coronal).zoom == pytest.approx(zoom)
    ortho.link_cameras.setChecked(True)
    main_zoom = camera_of(viewer).zoom
    ortho.fit_views()  # fitting the extra views to their panes does not move the main view
    assert camera_of(viewer).zoom == pytest.approx(main_zoom)

"""Window/level: a right or middle drag over a view sets the active layer's window (the camera
stays put), typed width/level and modality presets set it too, and the panel follows every change."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.napari._reader import study_layer_data
from medfuse.napari._widgets._study import add_layer_data
from medfuse.napari._window_level import dragged_limits, limits_of, value_range, window_level
from tests.napari.conftest import HOT_POINT_LPS, needs_display

napari = pytest.importorskip("napari")


@pytest.mark.parametrize("limits, value_range, shift, width, level", [
    ((-160.0, 240.0), (-1024.0, 3071.0), (80, 0), 400.0 + 80 * 4095 / 800, 40.0),
    ((-160.0, 240.0), (-1024.0, 3071.0), (0, 40), 400.0, 40.0 + 40 * 4095 / 800),
    ((0.0, 10.0), (0.0, 40.0), (-10_000, 0), 40.0 / 1000, 5.0),  # never narrower than 1/1000
])
def test_a_drag_moves_width_along_x_and_level_along_y(limits, value_range, shift, width, level):
    got = window_level(dragged_limits(limits, value_range, shift))
    assert np.allclose(got, (width, level))


def test_width_and_level_round_trip():
    assert window_level(limits_of(350.0, 40.0)) == (350.0, 40.0)


def open_window(make_napari_viewer, qtbot, volumes, *, layout):
    """The MedFuse window in ``layout`` on ``volumes``, fixed/moving chosen, every view drawn."""
    from medfuse.napari._app import build_window

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    panels = build_window(viewer, layout=layout)
    add_layer_data(viewer, study_layer_data(list(volumes)))
    panels["Study"]._add([])
    viewer.dims.point = tuple(HOT_POINT_LPS[::-1])
    qtbot.waitUntil(lambda: panels["Orthogonal views"].settled, timeout=30_000)
    return viewer, panels


@pytest.fixture
def window(make_napari_viewer, qtbot, ct_pet):
    viewer, panels = open_window(make_napari_viewer, qtbot, ct_pet, layout="single")
    yield viewer, panels
    panels["Orthogonal views"].detach()


def _drag(qtbot, canvas, button, shift):
    from qtpy.QtCore import QPoint

    widget = canvas.native
    start = QPoint(widget.width() // 2, widget.height() // 2)
    qtbot.mousePress(widget, button, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(widget, QPoint(start.x() + shift[0] * step // 5,
                                       start.y() + shift[1] * step // 5))
        qtbot.wait(30)
    qtbot.mouseRelease(widget, button, pos=QPoint(start.x() + shift[0], start.y() + shift[1]))


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize("button_name", ["RightButton", "MiddleButton"])
def test_a_drag_sets_the_active_layers_window_and_the_panel_follows(window, qtbot, button_name):
    from qtpy.QtCore import Qt

    viewer, panels = window
    inspect = panels["Inspect"]
    ct = viewer.layers["CT ct"]
    viewer.layers.selection.active = ct
    assert inspect.window_target.value == "window of: CT ct (HU)"
    assert (inspect.wl_width.value, inspect.wl_level.value) == (400.0, 40.0)
    values = value_range(ct)
    assert values == (-1000.0, 900.0)  # the CT's own values, not its slider's range
    zoom, before = viewer.camera.zoom, viewer.screenshot(canvas_only=True, flash=False)
    canvas = viewer.window._qt_viewer.canvas
    _drag(qtbot, canvas, getattr(Qt.MouseButton, button_name), (120, -60))
    width, level = window_level(ct.contrast_limits)
    step = (values[1] - values[0]) / 800
    assert np.isclose(width, 400.0 + 120 * step, rtol=0.02), width
    assert np.isclose(level, 40.0 - 60 * step, rtol=0.02), level
    assert np.isclose(inspect.wl_width.value, width, atol=0.01)
    assert np.isclose(inspect.wl_level.value, level, atol=0.01)
    assert viewer.camera.zoom == zoom  # a right drag no longer zooms
    assert viewer.camera.mouse_pan  # and panning is back after it
    after = viewer.screenshot(canvas_only=True, flash=False)
    assert np.count_nonzero(np.abs(after.astype(int) - before.astype(int)).max(axis=-1) > 8) > 1000
    assert " HU" in viewer.status or inspect.readout.value  # the readout still reads HU values


@pytest.mark.gui
@needs_display
def test_typed_window_and_presets_set_the_layer_and_each_other(window):
    viewer, panels = window
    inspect = panels["Inspect"]
    pet, ct = viewer.layers["PT pet"], viewer.layers["CT ct"]
    viewer.layers.selection.active = ct
    inspect.wl_width.value, inspect.wl_level.value = 1500.0, -600.0
    assert tuple(ct.contrast_limits) == (-1350.0, 150.0)
    viewer.layers.selection.active = pet
    assert inspect.window_target.value == "window of: PT pet (SUVbw)"
    inspect.window.reset_choices()
    choices = [c for c in inspect.window.choices if c]  # (layer, limits) of each preset
    assert {("PT pet", (0.0, 5.0)), ("PT pet", (0.0, 10.0))} <= set(choices)
    assert len([c for c in choices if c[0] == "CT ct"]) == 4  # the CT's too (the fixed series)
    inspect.window.value = ("PT pet", (0.0, 5.0))
    assert tuple(pet.contrast_limits) == (0.0, 5.0)
    assert (inspect.wl_width.value, inspect.wl_level.value) == (5.0, 2.5)
    inspect.wl_width.value = 20.0  # wider than the layer's slider range: the range grows
    assert tuple(pet.contrast_limits) == (-7.5, 12.5) and pet.contrast_limits_range[1] >= 12.5


@pytest.mark.gui
@needs_display
def test_a_drag_in_the_coronal_view_sets_the_window_too(make_napari_viewer, qtbot, ct_pet):
    """Every view takes the drag, not only the main (axial) one: the coronal view's canvas."""
    from qtpy.QtCore import Qt

    viewer, panels = open_window(make_napari_viewer, qtbot, ct_pet, layout="1x3")
    ortho = panels["Orthogonal views"]
    try:
        ct = viewer.layers["CT ct"]
        viewer.layers.selection.active = ct
        before = window_level(ct.contrast_limits)
        zoom = ortho.models["coronal"].camera.zoom
        _drag(qtbot, ortho._canvases["coronal"], Qt.MouseButton.RightButton, (100, 0))
        width, level = window_level(ct.contrast_limits)
        step = (value_range(ct)[1] - value_range(ct)[0]) / 800
        assert np.isclose(width, before[0] + 100 * step, rtol=0.02), width
        assert np.isclose(level, before[1], atol=2 * step)
        assert ortho.models["coronal"].camera.zoom == zoom
        mirror = next(x for x in ortho.models["coronal"].layers if x.name == "CT ct")
        assert tuple(mirror.contrast_limits) == pytest.approx(tuple(ct.contrast_limits))
    finally:
        ortho.detach()

"""What is printed on the views: titles clear of the top orientation letter, colour bars with
their units (SUV, HU, and the comparison's normalised scale)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.napari.conftest import needs_display
from tests.napari.test_window_level import open_window

napari = pytest.importorskip("napari")
pytestmark = [pytest.mark.gui, needs_display]


@pytest.fixture
def window(make_napari_viewer, qtbot, ct_pet):
    viewer, panels = open_window(make_napari_viewer, qtbot, ct_pet, layout="2x2")
    yield viewer, panels
    panels["Orthogonal views"].detach()


def _top_strip(canvas):
    image = canvas.native.grabFramebuffer()
    data = np.asarray(image.constBits().asarray(image.sizeInBytes()), np.uint8)
    bgr = data.reshape(image.height(), image.width(), 4)[:40, :, :3].astype(int)
    return bgr[..., ::-1]


def test_view_titles_stay_clear_of_the_top_letter(window, qtbot):
    viewer, panels = window
    ortho = panels["Orthogonal views"]
    ortho.show_crosshair.setChecked(False)
    for layer in viewer.layers:
        layer.visible = False  # only the printed text is left on the canvases
    qtbot.wait(300)
    ortho.redraw_all()
    for plane, canvas in ortho._canvases.items():
        rgb = _top_strip(canvas)
        letter = (rgb[..., 0] > 180) & (rgb[..., 2] < 140)  # the yellow letter
        title = (rgb.min(axis=-1) > 150)  # the light grey title
        letter_columns, title_columns = np.flatnonzero(letter.any(0)), np.flatnonzero(title.any(0))
        assert letter_columns.size and title_columns.size, plane
        assert title_columns.max() + 4 < letter_columns.min(), plane  # a gap between them
    assert ortho.models["coronal"].canvas.overlays["text"].text.startswith("coronal\n")


def test_colour_bars_carry_units_and_the_difference_its_scale(window, qtbot):
    viewer, panels = window
    inspect = panels["Inspect"]
    overlays = viewer.canvas.overlays
    assert overlays["medfuse_units_functional"].text == "SUVbw"
    assert overlays["medfuse_units_anatomy"].text == "HU"
    assert overlays["medfuse_units_anatomy"].visible
    inspect.fixed.value, inspect.moving.value = "CT ct", "PT pet"
    inspect.view.value = "difference"
    qtbot.waitUntil(lambda: not inspect.runner.running, timeout=60_000)
    comparison = viewer.layers["comparison"]
    assert comparison.colorbar.visible and not viewer.layers["CT ct"].colorbar.visible
    assert overlays["medfuse_units_anatomy"].text == "fixed - moving\n(normalised)"
    viewer.layers.remove(comparison)
    assert overlays["medfuse_units_anatomy"].text == "HU"
    panels["Orthogonal views"].show_letters.setChecked(False)  # bars and units off together
    assert not overlays["medfuse_units_functional"].visible
    assert not viewer.layers["PT pet"].colorbar.visible

"""A fused volume in the app: drawn as RGB in every view, with the colour bar of the PET scale its
colours were made over, and the readout under the cursor gives the HU and SUV of its source series
there, never the fused image's colours or "a.u."."""

from __future__ import annotations

import numpy as np
import pytest

from medfuse.napari._reader import study_layer_data
from medfuse.napari._widgets._study import add_layer_data
from tests.napari.conftest import HOT_POINT_LPS, needs_display

napari = pytest.importorskip("napari")
pytestmark = [pytest.mark.gui, needs_display]


@pytest.mark.parametrize("method", ["average", "default"])
def test_a_fused_volume_is_rgb_and_reads_its_sources_values(make_napari_viewer, qtbot, ct_pet,
                                                           method):
    from medfuse.napari._app import build_window
    from medfuse.napari._layers import layer_value
    from medfuse.napari._widgets._inspect import readout_lines, source_layers

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    panels = build_window(viewer, layout="1x3")
    ortho, fuse = panels["Orthogonal views"], panels["Fuse"]
    try:
        add_layer_data(viewer, study_layer_data(list(ct_pet)))
        panels["Study"]._add([])
        fuse.method.value = method
        fuse.start()
        qtbot.waitUntil(lambda: not fuse.runner.running, timeout=120_000)
        qtbot.waitUntil(lambda: ortho.settled, timeout=30_000)
        fused = viewer.layers[f"fused ({method})"]
        assert fused.rgb and fused.data.shape[-1] == 3 and fused.data.dtype == np.uint8
        assert fused.metadata["units"] == "RGB"
        for plane in ("coronal", "sagittal"):
            assert ortho.models[plane].layers[fused.name].rgb
        ct, pet = viewer.layers["CT ct"], viewer.layers["PT pet"]
        assert source_layers(viewer, fused) == [ct, pet]  # anatomical input first
        world = tuple(HOT_POINT_LPS[::-1])
        line = next(x for x in readout_lines(viewer, world) if x.startswith(fused.name))
        hu, suv = layer_value(ct, world), layer_value(pet, world)
        assert int(hu) == 900 and float(suv) == pytest.approx(12.0)
        assert f"CT {int(hu)} HU" in line and "PT 12.00 SUVbw" in line, line
        assert "a.u." not in line and "(" not in line.split(":", 1)[1], line
        _check_colour_bar(viewer, panels, fused, pet)
        viewer.layers.remove(ct)  # a source closed: the readout says so for it, no crash
        line = next(x for x in readout_lines(viewer, world) if x.startswith(fused.name))
        assert "HU" not in line and "SUVbw" in line
    finally:
        ortho.detach()


def _check_colour_bar(viewer, panels, fused, pet) -> None:
    """The fused image's colour bar is on screen: the PET's colormap over SUV 0-10 (the window of
    the fusion), captioned in SUV; the hidden PET's own bar is not."""
    assert fused.colorbar.visible and not pet.colorbar.visible
    assert tuple(fused.colour_scale.contrast_limits) == (0.0, 10.0)
    assert fused.colour_scale.continuous_colormap.name == "inferno"
    assert viewer.canvas.overlays["medfuse_units_functional"].text == "SUVbw (fused)"
    letters = panels["Orthogonal views"].show_letters
    shots = []
    for shown in (True, False):
        letters.setChecked(shown)
        shots.append(np.asarray(viewer.screenshot(canvas_only=True, flash=False))[..., :3])
    letters.setChecked(True)
    height, width = shots[0].shape[:2]
    corner = [shot[: height // 3, 3 * width // 4:].astype(int) for shot in shots]
    bar = np.abs(corner[0] - corner[1]).max(axis=-1) > 40  # drawn only with the bar on
    yellow = (corner[0][..., 0] > 220) & (corner[0][..., 1] > 200) & (corner[0][..., 2] < 170)
    assert bar.sum() > 200 and (bar & yellow).sum() > 20  # inferno's top, in the top right

"""Removing a layer in every visibility state of the others never crashes the window.

Regression: with every other layer hidden, the crosshair lines were drawn alone after the removed
layer's GL objects were deleted, and Mesa's llvmpipe segfaulted in glDrawArrays (the everyday route:
Fuse hides the CT and the PET, then the user deletes the fused layer).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medfuse.napari._reader import study_layer_data
from medfuse.volume import Volume
from tests.napari.conftest import needs_display

pytestmark = [pytest.mark.gui, needs_display]
napari = pytest.importorskip("napari")


def test_removing_a_layer_in_every_visibility_state_keeps_the_window_alive(make_napari_viewer,
                                                                            qtbot, ct_pet):
    from napari.layers import Layer

    from medfuse.napari._app import build_window

    ct, pet = ct_pet
    lesion = ct.with_array((ct.array > 500).astype(np.uint8), modality="SEG", units="label",
                           meta={"description": "lesion", "label_map": True})
    tuples = study_layer_data([ct, pet, lesion])
    viewer = make_napari_viewer(show=True)
    panels = build_window(viewer)
    ortho = panels["Orthogonal views"]
    for item in tuples:
        viewer.add_layer(Layer.create(*item))
    qtbot.waitUntil(lambda: ortho.synced, timeout=20_000)
    names = [layer.name for layer in viewer.layers]
    pet_name = next(layer.name for layer in viewer.layers if layer.name.startswith("PT"))
    try:
        for removed, others in itertools.product(range(len(tuples)),
                                                 itertools.product((False, True), repeat=2)):
            rest = [n for i, n in enumerate(names) if i != removed]
            for name, visible in zip(rest, others):
                viewer.layers[name].visible = visible
            viewer.layers[names[removed]].visible = True
            qtbot.wait(50)  # drawn in this state
            viewer.layers.remove(names[removed])
            qtbot.waitUntil(lambda: ortho.synced, timeout=10_000)
            qtbot.wait(100)  # the views redraw without the layer
            # a crosshair only over a view that shows a layer: the MIP view shows the PET whether
            # or not the other views do
            showing = {plane for plane in ("axial", *ortho.models)
                       if (plane == "mip" and names[removed] != pet_name)
                       or (plane != "mip" and any(others))}
            assert {p for p, line in ortho.crosshairs.items() if line.visible} == showing
            shot = viewer.screenshot(canvas_only=True, flash=False)
            assert shot.shape[-1] in (3, 4)
            viewer.layers.insert(removed, Layer.create(*tuples[removed]))
            qtbot.waitUntil(lambda: ortho.synced, timeout=10_000)
        assert [layer.name for layer in viewer.layers] == names
    finally:
        ortho.detach()

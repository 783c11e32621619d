"""The app with a deformable preset: the Register panel runs ``bspline`` on the sample study's MR,
reports the deformation's Jacobian, shows the MR where its truth says, and the Inspect panel's
checkerboard compares the CT with the registered MR (and with the MR before, when toggled back)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.napari.conftest import needs_display
from tests.napari.test_app import _idle, sample_app  # noqa: F401 (the window fixture)

pytestmark = [pytest.mark.gui, pytest.mark.slow, needs_display]
napari = pytest.importorskip("napari")


def _board(viewer, qtbot, inspect) -> np.ndarray:
    inspect.view.value = "overlay"
    inspect.view.value = "checkerboard"
    _idle(qtbot, inspect.runner)
    return np.array(viewer.layers["comparison"].data, copy=True)


def test_a_deformable_registration_in_the_app_and_its_checkerboard(sample_app, qtbot):
    from medfuse.napari._layers import layer_to_volume
    from medfuse.registration.transforms import from_matrix

    viewer, panels, truth = sample_app
    register, inspect = panels["Register"], panels["Inspect"]
    ct_layer = viewer.layers["CT phantom"]
    mr_layer = next(layer for layer in viewer.layers if layer.name.startswith("MR"))
    ct, mr = layer_to_volume(ct_layer), layer_to_volume(mr_layer)
    on_truth = mr.resample_to(ct, transform=from_matrix(np.asarray(
        truth["transforms"]["mr"]["matrix"]))).array.ravel()
    on_scanner = mr.resample_to(ct).array.ravel()
    inspect.fixed.value, inspect.moving.value = ct_layer.name, mr_layer.name
    inspect.squares.value = 4
    before = _board(viewer, qtbot, inspect)

    register.fixed.value, register.moving.value = ct_layer.name, mr_layer.name
    register.mode.value = "register"
    register.preset.value = "bspline"
    register.start()
    _idle(qtbot, register.runner, timeout=600_000)
    status = register.runner.status.text()
    assert "failed" not in status and "registered" in status, status
    shown_metrics = dict(line.split(": ", 1) for line in register.result.value.splitlines())
    assert float(shown_metrics["jacobian_min"]) > 0 and shown_metrics["folding_fraction"] == "0"
    shown = layer_to_volume(mr_layer).resample_to(ct).array.ravel()
    after, scanner = (np.corrcoef(shown, x)[0, 1] for x in (on_truth, on_scanner))
    assert after > 0.95 and after > scanner + 0.05, (after, scanner)

    inspect.fixed.value, inspect.moving.value = ct_layer.name, mr_layer.name
    registered = _board(viewer, qtbot, inspect)
    assert registered.shape == ct_layer.data.shape and 0 <= registered.min() <= registered.max() <= 1
    assert not np.allclose(registered, before)  # the checkerboard shows the registered MR
    register.moving.value = mr_layer.name
    register.registered.value = False  # back to the MR before registration
    np.testing.assert_allclose(_board(viewer, qtbot, inspect), before, atol=1e-6)
    qtbot.wait(500)  # panels that follow layer changes (the ROI panel, after 300 ms) finish first
    for panel in panels.values():
        if getattr(panel, "runner", None) is not None:
            _idle(qtbot, panel.runner)

"""The window stays responsive: long panel work runs in its own process while the event loop turns,
and a cursor move reslices only the views that slice across the axis it moved along.

Stall lengths are measured in ``benchmarks/bench_app.py``; these tests check the mechanisms.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from medfuse.napari._reader import study_layer_data
from medfuse.napari._widgets._study import add_layer_data
from tests.napari.conftest import needs_display
from tests.napari.test_app import _window

pytestmark = [pytest.mark.gui, needs_display]
napari = pytest.importorskip("napari")


@pytest.fixture
def app(make_napari_viewer, qtbot, ct_pet):
    """The MedFuse window on the synthetic CT and PET, every view drawn; and the two volumes."""
    viewer, panels = _window(make_napari_viewer, qtbot, study_layer_data(list(ct_pet)))
    qtbot.waitUntil(lambda: panels["Orthogonal views"].settled, timeout=30_000)
    yield viewer, panels, ct_pet
    panels["Orthogonal views"].detach()


class Ticks:
    """Counts the ticks of a 10 ms timer: the event-loop turns taken while a task runs."""

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.count = 0
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.count += 1

    def __enter__(self) -> Ticks:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.stop()


def _run(qtbot, runner, start, timeout=300_000) -> tuple[int, float]:
    """Start a panel task, wait until its result is shown; the ticks counted and seconds taken."""
    with Ticks() as ticks:
        t0 = time.perf_counter()
        start()
        assert runner.running
        qtbot.waitUntil(lambda: not runner.running, timeout=timeout)
    assert "failed" not in runner.status.text(), runner.status.text()
    return ticks.count, time.perf_counter() - t0


def test_learned_fusion_runs_in_its_own_process_while_the_window_turns(app, qtbot, monkeypatch):
    from medfuse import fusion
    from medfuse.napari import _widgets
    from medfuse.napari._tasks import fuse_volumes

    viewer, panels, (ct, pet) = app
    fuse = panels["Fuse"]
    calls = []
    real = _widgets._common.in_subprocess
    monkeypatch.setattr(_widgets._common, "in_subprocess",
                        lambda func, *a, **k: calls.append(func) or real(func, *a, **k))
    fuse.first.value, fuse.second.value = "CT ct", "PT pet"
    fuse.method.value = "default"
    ticks, seconds = _run(qtbot, fuse.runner, fuse.start)
    assert calls == [fuse_volumes]  # the engine call ran in a spawned process
    assert ticks >= 0.2 * seconds / 0.010  # the event loop kept turning meanwhile
    layer = viewer.layers["fused (default)"]
    expected = fusion.fuse([ct, pet.resample_to(ct)], method="default")
    assert layer.data.shape == expected.array.shape
    assert np.allclose(layer.data, expected.array, atol=1e-5)
    assert layer.contrast_limits is not None and layer.metadata["fusion_method"] == "default"


def test_the_report_runs_in_its_own_process_with_the_app_registration(app, qtbot, tmp_path):
    import json

    from medfuse.napari._layers import layer_to_volume

    viewer, panels, _ = app
    export = panels["Export"]
    pet_layer = viewer.layers["PT pet"]
    pet_layer.metadata["registration"] = {"moving": layer_to_volume(pet_layer), "result": None}
    export.fixed.value, export.moving.value = "CT ct", "PT pet"
    export.folder.value = tmp_path
    ticks, seconds = _run(qtbot, export.runner, export.report)
    report = json.loads((tmp_path / "study" / "report.json").read_text())
    assert "as registered in the app" in json.dumps(report)
    assert ticks >= 0.2 * seconds / 0.010


def test_cancelling_the_report_ends_its_process_at_once(app, qtbot, tmp_path):
    viewer, panels, _ = app
    export = panels["Export"]
    export.fixed.value, export.moving.value = "CT ct", "PT pet"
    export.folder.value = tmp_path
    export.report()
    qtbot.wait(300)
    export.runner.cancel()
    assert not export.runner.running and "cancelled" in export.runner.status.text()
    qtbot.wait(1500)
    assert not (tmp_path / "study").exists()


def _resliced(viewer, ortho) -> dict[str, int]:
    """Per view, a counter of its layers' new slices (napari's ``set_data`` event)."""
    counts = {}
    for plane, model in [("axial", viewer), *ortho.models.items()]:
        counts[plane] = 0

        def count(_event, plane=plane):
            counts[plane] += 1

        for layer in model.layers:
            layer.events.set_data.connect(count)
    return counts


def test_a_slice_step_reslices_only_the_view_that_slices_across_that_axis(app, qtbot):
    viewer, panels, _ = app
    ortho = panels["Orthogonal views"]
    counts = _resliced(viewer, ortho)
    coronal = ortho.models["coronal"]
    axis = coronal.dims.not_displayed[-1]  # world y, across the coronal slices
    coronal.dims.set_current_step(axis, coronal.dims.current_step[axis] + 3)
    qtbot.waitUntil(lambda: ortho.settled, timeout=10_000)
    assert counts["coronal"] > 0
    assert counts == {"axial": 0, "coronal": counts["coronal"], "sagittal": 0, "mip": 0}
    for plane in ("coronal", "sagittal"):  # still sharing the cursor (the MIP's own y snaps to
        assert np.allclose(ortho.models[plane].dims.point, viewer.dims.point)  # the 4 mm PET)
    y = viewer.dims.point[1]
    assert np.allclose(ortho.crosshairs["axial"].pos[2:, 1], y)  # the axial crosshair moved


def test_an_axial_step_reslices_the_axial_view_and_a_new_layer_is_sliced_everywhere(app, qtbot):
    from napari.layers import Layer

    viewer, panels, (ct, _) = app
    ortho = panels["Orthogonal views"]
    counts = _resliced(viewer, ortho)
    viewer.dims.set_current_step(0, viewer.dims.current_step[0] + 2)
    qtbot.waitUntil(lambda: ortho.settled, timeout=10_000)
    assert counts["axial"] > 0 and counts["coronal"] == counts["sagittal"] == counts["mip"] == 0
    marker = ct.with_array((ct.array > 500).astype(np.uint8), modality="SEG", units="label",
                           meta={"description": "marker", "label_map": True})
    viewer.add_layer(Layer.create(*study_layer_data([marker])[0]))
    qtbot.waitUntil(lambda: ortho.settled, timeout=20_000)
    for plane, model in ortho.models.items():
        if plane != "mip":  # the new layer's mirror is sliced at the shared cursor
            across = model.dims.not_displayed[-1]
            mirror = model.layers["marker"]
            assert mirror._slice_input.world_slice.point[across] == pytest.approx(
                viewer.dims.point[across]), plane


def test_a_study_is_shown_one_layer_per_event_loop_turn(make_napari_viewer, qtbot, ct_pet):
    """The Study panel makes the layers in its worker and adds them one per turn, each after
    every view has caught up; the task runs until the last, which alone becomes active."""
    from qtpy.QtCore import QTimer

    from medfuse.napari._app import build_window
    from medfuse.napari._widgets._study import made_layers

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    panels = build_window(viewer)
    study, ortho = panels["Study"], panels["Orthogonal views"]
    qtbot.waitUntil(lambda: ortho.synced, timeout=30_000)
    ticks, inserted = [0], []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    timer.start(0)
    viewer.layers.events.inserting.connect(  # just before each layer goes in
        lambda event: inserted.append((ticks[0], ortho.settled, viewer.layers.selection.active)))
    layer_data = study_layer_data(list(ct_pet))
    try:
        study.run(made_layers, lambda: layer_data, description="opening", on_done=study.showing)
        qtbot.waitUntil(lambda: not study.runner.running, timeout=60_000)
    finally:
        timer.stop()
    assert [x.name for x in viewer.layers] == ["CT ct", "PT pet"]
    assert len(inserted) == 2 and inserted[1][0] > inserted[0][0]  # the loop turned in between
    assert all(active is None for _, _, active in inserted)  # none activated on the way
    assert inserted[1][1]  # the second came once every view had caught up with the first
    assert viewer.layers.selection.active is viewer.layers["PT pet"]
    assert study.runner.status.text() == "2 series loaded"
    assert [x.metadata["opened"] for x in viewer.layers] == [1, 2]
    qtbot.waitUntil(lambda: ortho.settled, timeout=30_000)
    assert all("CT ct" in model.layers for model in (ortho.models["coronal"],
                                                      ortho.models["sagittal"]))
    ortho.detach()


def test_the_canvases_keep_their_size_as_the_first_layers_arrive(make_napari_viewer, qtbot,
                                                                  ct_pet):
    """A resized canvas repaints at once: the slider rows and the layer controls keep the size
    they will have, so adding and activating the first layers resizes no canvas."""
    from medfuse.napari._app import build_window

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    panels = build_window(viewer)
    ortho = panels["Orthogonal views"]
    qtbot.waitUntil(lambda: ortho.synced, timeout=30_000)
    qtbot.wait(300)
    before = {plane: tuple(canvas.size) for plane, canvas in ortho._canvases.items()}
    add_layer_data(viewer, study_layer_data(list(ct_pet)))  # the last one becomes active
    qtbot.waitUntil(lambda: ortho.settled, timeout=30_000)
    qtbot.wait(300)
    assert viewer.layers.selection.active is not None
    assert {plane: tuple(canvas.size) for plane, canvas in ortho._canvases.items()} == before
    ortho.detach()


def test_a_result_shown_in_steps_keeps_its_task_running_and_cancel_stops_it(app, qtbot):
    viewer, panels, _ = app
    runner = panels["Fuse"].runner
    steps, ready = [], [False]

    def showing(result):
        for step in range(3):
            steps.append(result + step)
            yield (lambda: ready[0]) if step == 0 else None

    runner.start(lambda: 10, description="stepped", on_done=showing)
    qtbot.waitUntil(lambda: steps == [10], timeout=10_000)
    qtbot.wait(200)
    assert steps == [10] and runner.running  # waiting on the first step's condition
    ready[0] = True
    qtbot.waitUntil(lambda: not runner.running, timeout=10_000)
    assert steps == [10, 11, 12] and runner.status.text() == "stepped: done"
    steps.clear()
    runner.start(lambda: 20, description="stepped", on_done=showing)
    ready[0] = False
    qtbot.waitUntil(lambda: steps == [20], timeout=10_000)
    runner.cancel()
    ready[0] = True
    qtbot.wait(300)
    assert steps == [20] and not runner.running and "cancelled" in runner.status.text()

"""The MedFuse window: napari with the MedFuse panels, linked views in a layout and a study loaded.

``launch`` is what ``medfuse view`` runs; ``screenshot_window`` renders it to a PNG (docs, tests)
once every view has drawn its final state, so one command always gives the same picture.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.modalities import get_modality
from medfuse.napari._layers import is_medfuse_data_layer, layer_data_to_world

logger = logging.getLogger(__name__)

PANELS = ("Study", "Register", "Fuse", "Inspect", "ROI", "Export")


def build_window(viewer: Any, *, layout: str = "2x2") -> dict[str, Any]:
    """Dock the MedFuse panels (tabbed, right) on ``viewer`` and arrange its views in ``layout``
    (a key of :data:`~medfuse.napari._orthoviews.LAYOUTS`: ``2x2`` axial, coronal, sagittal and
    the coronal PET MIP; ``1x3`` axial, coronal, sagittal in a row; ``single`` axial only)."""
    from medfuse.napari._annotations import annotate_view, prime_title_glyphs
    from medfuse.napari._layer_list import paint_owned_thumbnails
    from medfuse.napari._layouts import LAYOUTS
    from medfuse.napari._orthoviews import OrthoViews
    from medfuse.napari._steady_layout import hold_slider_row, reserve_controls_width
    from medfuse.napari._widgets import (
        ExportPanel,
        FusePanel,
        InspectPanel,
        RegisterPanel,
        ROIPanel,
        StudyPanel,
    )
    from medfuse.napari._widgets._inspect import install_status_readout

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    panels: dict[str, Any] = {}
    docks = []
    for name, cls in zip(PANELS, (StudyPanel, RegisterPanel, FusePanel, InspectPanel, ROIPanel,
                                        ExportPanel)):
        panels[name] = cls(viewer)
        docks.append(viewer.window.add_dock_widget(panels[name], name=name, area="right",
                                                   tabify=True))
    from qtpy.QtCore import QTimer

    QTimer.singleShot(0, docks[0].raise_)
    install_status_readout(viewer)
    hold_slider_row(viewer.window._qt_viewer)
    reserve_controls_width(viewer.window._qt_viewer)
    paint_owned_thumbnails(viewer.window._qt_viewer)
    ortho = panels["Orthogonal views"] = OrthoViews(viewer, layout=layout)
    ortho.embed(viewer.window)
    panels["Study"].views_ready = lambda: ortho.idle  # a study's layers come one per view update
    annotate_view(viewer, "axial")
    prime_title_glyphs(viewer, viewer.window._qt_viewer.canvas)
    follow_colorbars(viewer, panels["Orthogonal views"].show_letters)
    return panels


def follow_colorbars(viewer: Any, switch: Any) -> None:
    """Keep the colour bars (SUV, HU) on the layers shown as layers come, go and hide, while the
    check box ``switch`` is ticked."""
    from medfuse.napari._annotations import update_colorbars

    def update(_event: Any = None) -> None:
        update_colorbars(viewer, enabled=switch.isChecked())

    def on_inserted(event: Any) -> None:
        event.value.events.visible.connect(update)
        update()

    viewer.layers.events.inserted.connect(on_inserted)
    viewer.layers.events.removed.connect(update)
    viewer.layers.events.moved.connect(update)
    switch.toggled.connect(update)


def default_fov_mm(viewer: Any) -> float:
    """The field of view that fits the largest series along its own axes (the same for an oblique
    series and an axis-aligned copy of it, whose box is larger)."""
    sizes = [0.0]
    for layer in viewer.layers:
        if layer.__class__.__name__ != "Image":
            continue
        extent = layer.metadata.get("extent_mm")
        if extent is None:
            spacing = np.linalg.norm(layer_data_to_world(layer)[:-1, :-1], axis=0)
            extent = float(np.max(np.asarray(layer.data.shape[: len(spacing)]) * spacing))
        sizes.append(float(extent))
    return max(sizes) or 100.0


def jump_to_hottest(viewer: Any) -> tuple[float, ...] | None:
    """Move the cursor to the hottest voxel of the top functional layer (PET SUVmax); returns it."""
    for layer in reversed(list(viewer.layers)):
        modality = str(layer.metadata.get("modality", "OT"))
        if is_medfuse_data_layer(layer) and get_modality(modality).functional:
            data = np.asarray(layer.data)
            index = np.unravel_index(int(np.argmax(data)), data.shape)
            world = tuple(float(v) for v in layer.data_to_world(index))
            viewer.dims.point = world[-viewer.dims.ndim:]
            viewer.layers.selection.active = layer
            return world
    return None


def wait_for(condition: Any, *, timeout: float = 120.0) -> bool:
    """Process Qt events until ``condition()`` is true or ``timeout`` seconds pass."""
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QApplication.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def launch(paths: Sequence[str | Path] = (), *, show: bool = True,
           size: tuple[int, int] = (1600, 1000), layout: str = "2x2",
           at: Sequence[float] | None = None, fov_mm: float | None = None,
           overrides: dict[str, tuple[str | None, str | None]] | None = None,
           ) -> tuple[Any, dict[str, Any]]:
    """Open the MedFuse window on ``paths`` (study folders or files), loading them in a worker;
    ``overrides`` gives ``{file: (modality, units)}`` for NIfTI files (see ``read_layers``).

    The cursor then goes to the LPS point ``at`` (x, y, z mm), every view centred on it and
    showing ``fov_mm`` (default: the largest series), or else to the hottest PET voxel.
    Returns the viewer and its panels ``{name: panel}``.
    """
    import napari

    viewer = napari.Viewer(title="MedFuse", show=show)
    viewer.window._qt_window.resize(*size)
    panels = build_window(viewer, layout=layout)
    if paths:
        from qtpy.QtCore import Qt

        study, ortho = panels["Study"], panels["Orthogonal views"]

        def place_cursor() -> None:
            if at is None:
                jump_to_hottest(viewer)
            else:
                ortho.centre_on(tuple(at)[::-1], fov_mm=fov_mm or default_fov_mm(viewer))

        if study.open(list(paths), overrides=overrides) is not None:
            study.runner.result_shown.connect(place_cursor, Qt.ConnectionType.SingleShotConnection)
    return viewer, panels


def screenshot_window(viewer: Any, panels: dict[str, Any], path: str | Path, *,
                      timeout: float = 300.0) -> Path:
    """Wait for loading to finish and every view to draw its final state (mirrors made, cursor
    and placement caught up, fitted), then save the whole window as a PNG at ``path``."""
    from PIL import Image

    from medfuse.errors import MedFuseError
    from medfuse.io._atomic import atomic_path

    study, ortho = panels["Study"], panels["Orthogonal views"]
    if not wait_for(lambda: not study.runner.running, timeout=timeout):
        raise MedFuseError(f"loading did not finish within {timeout:.0f} s", path=path)
    if not wait_for(lambda: ortho.settled, timeout=timeout):
        raise MedFuseError(f"the views did not settle within {timeout:.0f} s", path=path)
    ortho.redraw_all(timeout=timeout)
    path = Path(path)
    image = viewer.screenshot(canvas_only=False, flash=False)
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image)[..., :3]).save(tmp, format="PNG", optimize=True)
    return path

"""The MedFuse window: napari with the MedFuse panels, linked orthogonal views and a study loaded.

``launch`` is what ``medfuse view`` runs; ``screenshot_window`` renders it to a PNG (docs, tests).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.modalities import get_modality
from medfuse.napari._layers import is_medfuse_data_layer

logger = logging.getLogger(__name__)

PANELS = ("Study", "Register", "Fuse", "Inspect", "Export")


def build_window(viewer: Any) -> dict[str, Any]:
    """Dock the MedFuse panels (tabbed, right) and the orthogonal views (bottom) on ``viewer``."""
    from medfuse.napari._orthoviews import OrthoViews
    from medfuse.napari._widgets import ExportPanel, FusePanel, InspectPanel, RegisterPanel, StudyPanel
    from medfuse.napari._widgets._inspect import install_status_readout

    panels: dict[str, Any] = {}
    docks = []
    for name, cls in zip(PANELS, (StudyPanel, RegisterPanel, FusePanel, InspectPanel, ExportPanel)):
        panels[name] = cls(viewer)
        docks.append(viewer.window.add_dock_widget(panels[name], name=name, area="right",
                                                   tabify=True))
    from qtpy.QtCore import Qt, QTimer

    window = viewer.window._qt_window
    window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    QTimer.singleShot(0, docks[0].raise_)
    height = window.height() * 2 // 5
    QTimer.singleShot(0, lambda: window.resizeDocks([ortho], [height], Qt.Orientation.Vertical))
    install_status_readout(viewer)
    panels["Orthogonal views"] = OrthoViews(viewer, horizontal=True)
    ortho = viewer.window.add_dock_widget(panels["Orthogonal views"], name="Orthogonal views",
                                          area="bottom")
    return panels


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
           size: tuple[int, int] = (1600, 1000)) -> tuple[Any, dict[str, Any]]:
    """Open the MedFuse window on ``paths`` (study folders or files), loading them in a worker.

    Returns the viewer and its panels ``{name: panel}``.
    """
    import napari

    viewer = napari.Viewer(title="MedFuse", show=show)
    viewer.window._qt_window.resize(*size)
    panels = build_window(viewer)
    if paths:
        from qtpy.QtCore import Qt

        study = panels["Study"]
        if study.open(list(paths)) is not None:
            study.runner.result_shown.connect(lambda: jump_to_hottest(viewer),
                                              Qt.ConnectionType.SingleShotConnection)
    return viewer, panels


def screenshot_window(viewer: Any, panels: dict[str, Any], path: str | Path, *,
                      timeout: float = 300.0) -> Path:
    """Wait for loading to finish, then save the whole window as a PNG at ``path``."""
    from PIL import Image

    from medfuse.errors import MedFuseError
    from medfuse.io._atomic import atomic_path

    study = panels["Study"]
    if not wait_for(lambda: not study.runner.running, timeout=timeout):
        raise MedFuseError(f"loading did not finish within {timeout:.0f} s", path=path)
    wait_for(lambda: False, timeout=1.0)  # let every canvas draw
    path = Path(path)
    image = viewer.screenshot(canvas_only=False, flash=False)
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image)[..., :3]).save(tmp, format="PNG", optimize=True)
    return path

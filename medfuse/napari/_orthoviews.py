"""Linked axial, coronal and sagittal views with a shared cursor (napari issues #662, #1478).

The main canvas shows the axial plane; a dock holds two more canvases, each a ``ViewerModel`` with its
own ``QtViewer`` and camera, looking at the same world with another dims order (coronal: z up, x right;
sagittal: z up, y right, anterior on the left). Their layers mirror the main viewer's layers and share
their arrays (no copies of the data); display properties follow the main layers. All views share one
cursor: ``dims.point``. A click (without dragging) in any view moves it there; every view redraws its
slice and its crosshair through that point.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QCheckBox, QSplitter, QVBoxLayout, QWidget

from medfuse.napari._layers import ROLE_KEY

if TYPE_CHECKING:  # pragma: no cover
    from napari.components import ViewerModel
    from napari.layers import Layer

logger = logging.getLogger(__name__)

#: dims order of each extra plane (world axes are z, y, x); the last two are displayed
PLANES: dict[str, tuple[int, int, int]] = {"coronal": (1, 0, 2), "sagittal": (2, 0, 1)}

#: layer properties that mirrors follow
_SYNCED = ("visible", "opacity", "blending", "contrast_limits", "colormap", "gamma", "name",
           "affine", "data", "interpolation2d", "rendering")

CROSSHAIR = "crosshair"
_CROSSHAIR_COLOR = "#ffd84d"


def _is_crosshair(layer: Layer) -> bool:
    return layer.metadata.get(ROLE_KEY) == CROSSHAIR


class OrthoViews(QWidget):
    """Coronal and sagittal canvases linked to ``viewer`` (axial) through one shared cursor.

    Parameters
    ----------
    viewer : the napari viewer whose layers and cursor the extra views follow.
    horizontal : put the two views side by side (a bottom dock) rather than one above the other.
    """

    def __init__(self, viewer: Any, *, horizontal: bool = False,
                 parent: QWidget | None = None) -> None:
        from napari.components import ViewerModel
        from napari.qt import QtViewer

        super().__init__(parent)
        self.viewer = viewer
        self.models: dict[str, ViewerModel] = {}
        self._qt_viewers: list[QtViewer] = []
        self._mirrors: dict[str, dict[int, Layer]] = {}
        self._syncing = False
        self._drawing = False
        splitter = QSplitter(Qt.Orientation.Horizontal if horizontal else Qt.Orientation.Vertical)
        for plane in PLANES:
            model = ViewerModel(title=plane)
            camera = model.scene.camera if hasattr(model, "scene") else model.camera
            camera.orientation2d = ("up", "right")
            model.theme = getattr(viewer, "theme", "dark")
            qt_viewer = QtViewer(model, show_welcome_screen=False)
            qt_viewer.setMinimumSize(200, 180)
            splitter.addWidget(qt_viewer)
            self.models[plane] = model
            self._qt_viewers.append(qt_viewer)
            self._mirrors[plane] = {}
            model.dims.events.point.connect(self._on_mirror_point)
            model.mouse_drag_callbacks.append(self._click_moves_cursor)
        self.show_crosshair = QCheckBox("crosshair")
        self.show_crosshair.setChecked(True)
        self.show_crosshair.toggled.connect(lambda _on: self._update_crosshairs(create=True))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.show_crosshair)

        self._pending = False
        for name in ("inserted", "removed", "moved"):
            getattr(viewer.layers.events, name).connect(self._schedule_resync)
        viewer.dims.events.point.connect(self._on_main_point)
        viewer.mouse_drag_callbacks.append(self._click_moves_cursor)
        self._resync()

    # ------------------------------------------------------------------------------ views
    def all_models(self) -> list[Any]:
        """The main viewer followed by the coronal and sagittal models."""
        return [self.viewer, *self.models.values()]

    def _data_layers(self, model: Any) -> list[Layer]:
        return [layer for layer in model.layers if not _is_crosshair(layer)]

    def _schedule_resync(self, event: Any = None) -> None:
        """Resync once after the current layer-list change is complete (changes never nest)."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._resync)

    def _resync(self) -> None:
        """Make every extra view hold mirrors of the main data layers, in the same order."""
        self._pending = False
        from napari.layers import Layer

        sources = self._data_layers(self.viewer)
        wanted = {id(layer): layer for layer in sources}
        for plane, model in self.models.items():
            mirrors = self._mirrors[plane]
            added = False
            for key in [k for k in mirrors if k not in wanted]:
                model.layers.remove(mirrors.pop(key))
            for source in sources:
                if id(source) not in mirrors:
                    data, state, kind = source.as_layer_data_tuple()
                    state.pop("metadata", None)
                    mirror = Layer.create(data, state, kind)
                    mirrors[id(source)] = mirror
                    model.layers.append(mirror)
                    added = True
                    for name in _SYNCED:
                        emitter = getattr(source.events, name, None)
                        if emitter is not None:
                            emitter.connect(self._on_source_event)
            order = [mirrors[id(s)] for s in sources]
            for index, mirror in enumerate(order):
                current = model.layers.index(mirror)
                if current != index:
                    model.layers.move(current, index)
            if model.dims.ndim >= 3:
                model.dims.order = tuple(range(model.dims.ndim - 3)) + tuple(
                    model.dims.ndim - 3 + a for a in PLANES[plane]
                )
            if added:
                model.reset_view()
        self._on_main_point()
        self._update_crosshairs(create=True)
        self._crosshair_on_top()

    def _on_source_event(self, event: Any) -> None:
        source, name = event.source, event.type
        for mirrors in self._mirrors.values():
            mirror = mirrors.get(id(source))
            if mirror is None:
                continue
            try:
                if name == "affine":
                    mirror.affine = source.affine.affine_matrix
                elif name == "colormap":
                    mirror.colormap = source.colormap
                else:
                    setattr(mirror, name, getattr(source, name))
            except (AttributeError, ValueError, TypeError):
                logger.debug("could not mirror %s of %s", name, source.name, exc_info=True)

    # ------------------------------------------------------------------------------ cursor
    def _on_main_point(self, event: Any = None) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            point = tuple(self.viewer.dims.point)
            for model in self.models.values():
                if model.dims.ndim == len(point) and tuple(model.dims.point) != point:
                    model.dims.point = point
        finally:
            self._syncing = False
        self._update_crosshairs()

    def _on_mirror_point(self, event: Any) -> None:
        if self._syncing:
            return
        point = tuple(event.source.point)
        if len(point) == self.viewer.dims.ndim:
            self.viewer.dims.point = point

    def set_cursor(self, world_point: Any) -> None:
        """Move the shared cursor to a world point (z, y, x in mm, napari order)."""
        point = tuple(float(v) for v in world_point)
        self.viewer.dims.point = point[-self.viewer.dims.ndim:]

    def _click_moves_cursor(self, model: Any, event: Any) -> Any:
        """Mouse callback: a click that does not drag moves the shared cursor to the clicked point."""
        start = np.asarray(event.position)
        dragged = False
        yield
        while event.type == "mouse_move":
            dragged = dragged or bool(np.any(np.abs(np.asarray(event.position) - start) > 1e-6))
            yield
        if not dragged and model.dims.ndisplay == 2 and len(start) == self.viewer.dims.ndim:
            point = np.asarray(self.viewer.dims.point, dtype=float)
            shown = list(model.dims.displayed)
            point[shown] = start[shown]
            self.set_cursor(point)

    # ------------------------------------------------------------------------------ crosshair
    def _world_box(self) -> np.ndarray | None:
        boxes = [layer.extent.world for layer in self._data_layers(self.viewer)]
        if not boxes:
            return None
        ndim = max(b.shape[1] for b in boxes)
        lows = [np.pad(b[0], (ndim - b.shape[1], 0)) for b in boxes]
        highs = [np.pad(b[1], (ndim - b.shape[1], 0)) for b in boxes]
        return np.stack([np.min(lows, axis=0), np.max(highs, axis=0)])

    def detach(self) -> None:
        """Stop following the main viewer and close the extra canvases (call before closing it)."""
        for name in ("inserted", "removed", "moved"):
            getattr(self.viewer.layers.events, name).disconnect(self._schedule_resync)
        self.viewer.dims.events.point.disconnect(self._on_main_point)
        if self._click_moves_cursor in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._click_moves_cursor)
        for mirrors in self._mirrors.values():
            mirrors.clear()
        for model in self.models.values():
            model.layers.clear()
        for qt_viewer in self._qt_viewers:
            qt_viewer.close()
        self._qt_viewers.clear()

    def _crosshair_on_top(self) -> None:
        layers = self.viewer.layers
        index = next((i for i, x in enumerate(layers) if _is_crosshair(x)), None)
        if index is not None and index != len(layers) - 1:
            selected = set(layers.selection)
            layers.move(index, len(layers))
            layers.selection = selected

    def _update_crosshairs(self, *_: Any, create: bool = False) -> None:
        if self._drawing:
            return
        self._drawing = True
        try:
            self._draw_crosshairs(create=create)
        finally:
            self._drawing = False

    def _draw_crosshairs(self, *, create: bool) -> None:
        """Move the crosshairs to the cursor; ``create`` them only outside layer-list events."""
        box = self._world_box()
        for model in self.all_models():
            layer = next((x for x in model.layers if _is_crosshair(x)), None)
            if box is None or box.shape[1] != 3 or model.dims.ndim != 3:
                if layer is not None:
                    layer.visible = False
                continue
            lines = _crosshair_lines(np.asarray(model.dims.point, float), box,
                                     tuple(model.dims.displayed))
            if layer is None and not create:
                continue
            if layer is None:
                selected = set(model.layers.selection)
                layer = model.add_shapes(
                    lines, shape_type="line", name=CROSSHAIR, edge_color=_CROSSHAIR_COLOR,
                    edge_width=float(np.ptp(box, axis=0).max()) * 0.003, opacity=0.7,
                    metadata={ROLE_KEY: CROSSHAIR},
                )
                model.layers.selection = selected
            else:
                layer.data = lines
            layer.visible = self.show_crosshair.isChecked()


def _crosshair_lines(point: np.ndarray, box: np.ndarray, shown: tuple[int, ...]) -> list[np.ndarray]:
    """Two lines through ``point`` across ``box`` along the two displayed world axes."""
    lines = []
    for axis in shown[-2:]:
        line = np.stack([point, point])
        margin = 0.01 * (box[1, axis] - box[0, axis])
        line[0, axis], line[1, axis] = box[0, axis] + margin, box[1, axis] - margin
        lines.append(line)
    return lines


def ortho_views_widget(viewer: Any) -> OrthoViews:
    """npe2 widget factory: the linked coronal and sagittal views for ``viewer``."""
    return OrthoViews(viewer)

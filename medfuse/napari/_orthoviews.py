"""Linked axial, coronal and sagittal views with a shared cursor (napari issues #662, #1478).

The main canvas shows the axial plane; a dock holds two more canvases, each a ``ViewerModel`` with its
own ``QtViewer`` and camera, looking at the same world with another dims order (coronal: z up, x right;
sagittal: z up, y right, anterior on the left). Their layers mirror the main viewer's layers and share
their arrays (no copies of the data); display properties follow the main layers. All views share one
cursor: ``dims.point``. A click (without dragging) in any view moves it there; every view redraws its
slice and its crosshair through that point. Zoom and pan are linked too (as OHIF and Slicer link
views): zooming one view gives every view the same scale (screen pixels per mm), and panning one moves
the others to the same physical point along the axes they share.

The views never hold up the main one: mirrors are made after the main canvas has drawn, one layer per
event-loop turn; a new cursor position or new data or placement of a main layer reaches the other views
one view per frame; and the crosshairs are plain vispy lines drawn over each canvas (not napari
layers, which cost tens of milliseconds per cursor move). napari reslices every layer of a view on any
cursor move; a view here is resliced only when the cursor moves along an axis it slices across (the
MIP view never: its projection runs through the whole body), so stepping the slice in one view
reslices that view alone and only moves the crosshairs in the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QCheckBox, QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from medfuse.napari._annotations import (
    annotating_view,
    priming_title_glyphs,
    show_annotations,
    showing_annotations,
    update_slice_text,
)
from medfuse.napari._layers import layer_data_to_world, set_layer_data
from medfuse.napari._layouts import LAYOUTS
from medfuse.napari._steady_layout import hold_slider_row
from medfuse.napari._window_level import install_window_drag

if TYPE_CHECKING:  # pragma: no cover
    from napari.components import ViewerModel
    from napari.layers import Layer

logger = logging.getLogger(__name__)

#: dims order of each extra plane (world axes are z, y, x); the last two are displayed. ``mip`` is a
#: coronal maximum-intensity projection of the functional layers (PET, SPECT) through the whole body
PLANES: dict[str, tuple[int, int, int]] = {"coronal": (1, 0, 2), "sagittal": (2, 0, 1),
                                           "mip": (1, 0, 2)}
#: slab thickness of the MIP view (mm): more than any body
_MIP_THICKNESS_MM = 1e5

#: layer properties that mirrors follow at once
_SYNCED = ("visible", "opacity", "blending", "contrast_limits", "colormap", "gamma", "name",
           "interpolation2d", "rendering", "contour")
#: layer properties that mirrors follow on later event-loop turns, one view per frame (each reslices)
_GEOMETRY = ("data", "affine")

_CROSSHAIR_COLOR = (1.0, 0.85, 0.3, 0.8)
#: the latest the mirrors wait for the main canvas to draw first (ms)
_FIRST_DRAW_WAIT_MS = 300
#: pause between two mirror steps, so that canvases repaint and input is handled in between (ms)
_STEP_MS = 15
#: quiet time after a canvas resize before its view is fitted again (ms)
_FIT_DELAY_MS = 80
#: a timer that fires this soon after a frame may share the repaint's event-loop turn (s)
_JUST_DRAWN_S = 0.003
#: the smallest size of an extra view (pixels)
_MIN_VIEW_SIZE = (200, 180)


class OrthoViews(QWidget):
    """Coronal and sagittal canvases linked to ``viewer`` (axial) through one shared cursor.

    Parameters
    ----------
    viewer : the napari viewer whose layers and cursor the extra views follow.
    horizontal : put the two views side by side (a bottom dock) rather than one above the other.
    layout : a key of :data:`LAYOUTS`: the views then share one grid with the main canvas, which
        :meth:`embed` takes into it (without a layout, a coronal and a sagittal view for a dock).
    """

    def __init__(self, viewer: Any, *, horizontal: bool = False, layout: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.layout_name = layout
        self._cells = LAYOUTS[layout] if layout is not None else {"coronal": (0, 0),
                                                                   "sagittal": (0, 1)}
        self.planes = tuple(self._cells)
        #: the (world point, field of view in mm) that every view is centred on, once chosen
        self.focus: tuple[tuple[float, ...], float] | None = None
        self.models: dict[str, ViewerModel] = {}
        self.crosshairs: dict[str, Any] = {}
        self._canvases: dict[str, Any] = {"axial": viewer.window._qt_viewer.canvas}
        self._qt_viewers: list[Any] = []
        self._mirrors: dict[str, dict[int, Layer]] = {}
        self._followed: dict[int, Layer] = {}
        self._fresh: set[str] = set()
        #: views owed the cursor, with the ids of main layers whose new geometry their mirrors await
        self._behind: dict[str, set[int]] = {}
        self._syncing = False
        self._pending = False
        self._last_frame = 0.0
        #: True while one camera's change is passed on, or while a view is fitted or centred
        self._linking = False
        self._cameras: dict[int, Any] = {}
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(_FIT_DELAY_MS)
        self._fit_timer.timeout.connect(self.fit_views)
        self._catch_up_timer = QTimer(self)
        self._catch_up_timer.setSingleShot(True)
        self._catch_up_timer.timeout.connect(self._catch_up_one)
        #: one timer for the next resync step: a new request restarts it, so that requests made
        #: meanwhile (first draw, its fallback, the next step) never run two steps in one turn
        self._resync_timer = QTimer(self)
        self._resync_timer.setSingleShot(True)
        self._resync_timer.timeout.connect(self._resync_if_pending)
        self._watch_frames(self._canvases["axial"])
        self._canvases["axial"].events.resize.connect(self._on_main_resize)
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        if layout is None and not horizontal:
            self._cells = {"coronal": (0, 0), "sagittal": (1, 0)}
        #: an empty widget in each view's cell until the view is made (the grid's layout, and so
        #: every canvas's size, stays as it is when a view arrives), and the view being made
        self._placeholders: dict[str, QWidget] = {}
        for plane, cell in self._cells.items():
            self._placeholders[plane] = QWidget()
            self._placeholders[plane].setMinimumSize(*_MIN_VIEW_SIZE)
            self._grid.addWidget(self._placeholders[plane], *cell)
        self._building: Iterator[None] | None = None
        self.show_crosshair = QCheckBox("crosshair")
        self.show_crosshair.setChecked(True)
        self.show_crosshair.toggled.connect(lambda _on: self._update_crosshairs())
        self.show_letters = QCheckBox("orientation and position")
        self.show_letters.setChecked(True)
        self.show_letters.toggled.connect(
            lambda on: [show_annotations(m, on) for m in self.all_models()])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self._grid, 1)
        self.link_cameras = QCheckBox("linked zoom and pan")
        self.link_cameras.setChecked(True)
        self.link_cameras.setToolTip("zooming or panning one view moves the others to the same "
                                     "scale and physical point")
        options = QHBoxLayout()
        options.addWidget(self.show_crosshair)
        options.addWidget(self.show_letters)
        options.addWidget(self.link_cameras)
        options.addStretch(1)
        box.addLayout(options)
        for name in ("inserted", "removed", "moved"):
            getattr(viewer.layers.events, name).connect(self._schedule_resync)
        viewer.layers.events.removed.connect(self._on_main_removed)
        viewer.dims.events.point.connect(self._on_main_point)
        viewer.dims.events.ndisplay.connect(self._update_crosshairs)
        viewer.mouse_drag_callbacks.append(self._click_moves_cursor)
        self._watch_camera(viewer)
        self._reslicers: dict[int, Any] = {}
        self._reslice_when_sliced_axes_move(viewer)
        self._schedule_resync()

    def _building_view(self, plane: str) -> Iterator[None]:
        """Make the canvas of one plane, in steps (each step one event-loop turn, from after the
        main canvas has drawn; napari's ``QtViewer`` alone costs 0.1-0.2 s): the viewer, each
        orientation letter, the title's glyphs a few at a time; then it takes its placeholder's
        cell in the grid (it draws nothing before: the glyphs must be primed first) and shows its
        letters and title one per frame."""
        from napari.components import ViewerModel
        from napari.qt import QtViewer

        from napari.utils.action_manager import action_manager

        model = ViewerModel(title=plane)
        camera_of(model).orientation2d = ("up", "right")
        model.theme = getattr(self.viewer, "theme", "dark")
        # a new QtViewer binds napari's shortcuts again (the same keys), and each binding made
        # every view's hidden welcome screen re-read every shortcut: 0.1 s more per view made
        shortcuts = action_manager.events.shortcut_changed
        with shortcuts.blocker():
            qt_viewer = QtViewer(model, show_welcome_screen=False)
        shortcuts.disconnect(qt_viewer._welcome_widget.refresh)  # it is never shown
        qt_viewer.setMinimumSize(*_MIN_VIEW_SIZE)
        hold_slider_row(qt_viewer)
        yield
        yield from annotating_view(model, plane, visible=False)
        yield from priming_title_glyphs(model, qt_viewer.canvas)
        placeholder = self._placeholders.pop(plane)
        self._grid.replaceWidget(placeholder, qt_viewer)
        placeholder.deleteLater()
        yield
        yield from showing_annotations(model, self.show_letters.isChecked())
        qt_viewer.canvas.events.resize.connect(lambda _e: self._fit_timer.start())
        self._watch_frames(qt_viewer.canvas)
        self.models[plane] = model
        self._canvases[plane] = qt_viewer.canvas
        self._qt_viewers.append(qt_viewer)
        self._mirrors[plane] = {}
        model.dims.events.point.connect(self._on_mirror_point)
        model.mouse_drag_callbacks.append(self._click_moves_cursor)
        install_window_drag(model, viewer=self.viewer)  # W/L by right/middle drag, as the main view
        self._watch_camera(model)
        self._reslice_when_sliced_axes_move(model)

    # ------------------------------------------------------------------------------ views
    def all_models(self) -> list[Any]:
        """The main viewer followed by the coronal and sagittal models."""
        return [self.viewer, *self.models.values()]

    def embed(self, window: Any) -> None:
        """Take napari's main canvas (``window``'s viewer widget) into this grid, at (0, 0), and
        take its place in the window."""
        qt_viewer = window._qt_viewer
        center = qt_viewer.parentWidget()
        center.layout().removeWidget(qt_viewer)
        self._grid.addWidget(qt_viewer, 0, 0)
        cells = [(0, 0), *self._cells.values()]
        for row in {r for r, _ in cells}:
            self._grid.setRowStretch(row, 1)
        for column in {c for _, c in cells}:
            self._grid.setColumnStretch(column, 1)
        center.layout().addWidget(self)
        # a QOpenGLWidget that changes parent gets a new GL context, made when it is next shown:
        # make it now, so that layers added in this event-loop turn find one
        if window._qt_window.isVisible():
            qt_viewer.show()
            qt_viewer.canvas.native.grabFramebuffer()

    @property
    def synced(self) -> bool:
        """True when every view holds an up-to-date mirror of every main layer (nothing pending)."""
        return (len(self.models) == len(self.planes) and not self._pending and not self._behind
                and not self._missing())

    @property
    def settled(self) -> bool:
        """True when :attr:`synced` and no view waits to be fitted or to catch up."""
        return self.synced and not self._fit_timer.isActive() and not self._catch_up_timer.isActive()

    def fit_views(self) -> None:
        """Fit the extra views to their panes (after a resize or new layers), or centre them on
        the point given to :meth:`centre_on`."""
        for model in self.models.values():
            if len(model.layers):
                self._reset_view(model)
                self._focus_view(model)
        self._focus_view(self.viewer)  # the main view keeps its own fit unless centred

    def _reset_view(self, model: Any) -> None:
        """Fit ``model``'s view to its pane, the other views staying as they are."""
        linking, self._linking = self._linking, True
        try:
            model.reset_view()
        finally:
            self._linking = linking

    def _on_main_resize(self, _event: Any = None) -> None:
        if self.focus is not None:
            self._fit_timer.start()

    def centre_on(self, world_point: Any, *, fov_mm: float) -> None:
        """Move the cursor to ``world_point`` (napari z, y, x mm) and centre every view on it,
        ``fov_mm`` across each view's shorter side (kept through resizes)."""
        self.focus = (tuple(float(v) for v in world_point), float(fov_mm))
        self.set_cursor(self.focus[0])
        for model in self.all_models():
            self._focus_view(model)

    def _focus_view(self, model: Any) -> None:
        if self.focus is None or model.dims.ndim != len(self.focus[0]):
            return
        point, fov = self.focus
        plane = next((p for p, m in self.models.items() if m is model), "axial")
        width, height = self._canvases[plane]._scene_canvas.size
        linking, self._linking = self._linking, True
        try:
            camera_of(model).center = tuple(point[a] for a in model.dims.displayed)
            camera_of(model).zoom = min(width, height) / fov
        finally:
            self._linking = linking

    def redraw_all(self, *, timeout: float = 30.0) -> None:
        """Repaint every view now and return once each has put a new frame on screen."""

        from qtpy.QtWidgets import QApplication

        swapped: set[str] = set()
        slots = {}
        for plane, canvas in self._canvases.items():
            slots[plane] = lambda plane=plane: swapped.add(plane)
            canvas.native.frameSwapped.connect(slots[plane])
            canvas.native.update()
        end = time.monotonic() + timeout
        try:
            while len(swapped) < len(self._canvases) and time.monotonic() < end:
                QApplication.processEvents()
                time.sleep(0.01)
        finally:
            for plane, canvas in self._canvases.items():
                canvas.native.frameSwapped.disconnect(slots[plane])

    def _on_main_removed(self, event: Any = None) -> None:
        """Hide the axial crosshair at once when no visible layer is left (see _update_crosshairs)."""
        self._update_crosshairs(only="axial")

    def _schedule_resync(self, event: Any = None) -> None:
        """Resync after the current layer-list change, once the main canvas has drawn it."""
        if self._pending:
            return
        self._pending = True
        draw = self._canvases["axial"].events.draw
        draw.connect(self._on_main_draw)
        self._resync_timer.start(_FIRST_DRAW_WAIT_MS)

    def _on_main_draw(self, event: Any = None) -> None:
        self._resync_timer.start(_STEP_MS)  # after this frame, in a turn of its own

    def _resync_if_pending(self) -> None:
        if self._pending and self._after_frame(self._resync_timer):
            self._resync()

    def _missing(self) -> list[tuple[str, Layer]]:
        return [(plane, source) for source in self.viewer.layers for plane in self.models
                if id(source) not in self._mirrors[plane] and _shows(plane, source)]

    def _resync(self) -> None:
        """Drop stale mirrors and add one missing mirror; repeat on the next event-loop turn."""
        self._pending = False
        self._canvases["axial"].events.draw.disconnect(self._on_main_draw)
        if len(self.models) < len(self.planes):
            if self._building is None:
                self._building = self._building_view(next(p for p in self.planes
                                                          if p not in self.models))
            if next(self._building, "built") == "built":
                self._building = None
            self._pending = True
            self._resync_timer.start(_STEP_MS)
            return
        wanted = {id(layer): layer for layer in self.viewer.layers}
        for plane, model in self.models.items():
            mirrors = self._mirrors[plane]
            for key in [k for k in mirrors if k not in wanted or not _shows(plane, wanted[k])]:
                model.layers.remove(mirrors.pop(key))
        for key in [k for k in self._followed if k not in wanted]:
            self._follow(self._followed.pop(key), connect=False)
        self._update_mip()
        missing = self._missing()
        self._syncing = True  # a mirror's own dims change must not move the shared cursor
        try:
            if missing:
                self._add_mirror(*missing[0])
            for plane, model in self.models.items():
                self._order_mirrors(plane, model)
        finally:
            self._syncing = False
        if not missing and self._fresh:  # fit the views that got their first mirrors, one per turn
            plane = self._fresh.pop()
            self._reset_view(self.models[plane])
            self._focus_view(self.models[plane])
        if len(missing) > 1 or self._fresh:
            self._pending = True
            self._resync_timer.start(_STEP_MS)
            return
        self._on_main_point()  # each view catches up with the cursor and crosshair, one per frame

    def _add_mirror(self, plane: str, source: Layer) -> None:
        from napari.layers import Layer

        data, state, kind = source.as_layer_data_tuple()
        state.pop("metadata", None)
        mirror = Layer.create(data, state, kind)
        if hasattr(source, "contour"):  # ROI outlines (not part of a labels layer's state)
            mirror.contour = source.contour
        if plane == "mip":
            mirror.projection_mode = "max"
            mirror.visible = id(source) in _mip_shown(self.viewer.layers)
        self._mirrors[plane][id(source)] = mirror
        self.models[plane].layers.append(mirror)
        self._fresh.add(plane)
        if id(source) not in self._followed:
            self._followed[id(source)] = source
            self._follow(source, connect=True)

    def _update_mip(self) -> None:
        """Show in the MIP view the functional layers :func:`_mip_shown` picks, hide the others."""
        shown = _mip_shown(self.viewer.layers)
        for key, mirror in self._mirrors.get("mip", {}).items():
            if mirror.visible != (key in shown):
                mirror.visible = key in shown

    def _follow(self, source: Layer, *, connect: bool) -> None:
        for name in _SYNCED + _GEOMETRY:
            emitter = getattr(source.events, name, None)
            if emitter is not None:
                (emitter.connect if connect else emitter.disconnect)(self._on_source_event)

    def _order_mirrors(self, plane: str, model: Any) -> None:
        mirrors = self._mirrors[plane]
        order = [mirrors[id(s)] for s in self.viewer.layers if id(s) in mirrors]
        for index, mirror in enumerate(order):
            current = model.layers.index(mirror)
            if current != index:
                model.layers.move(current, index)
        if model.dims.ndim >= 3:
            model.dims.order = tuple(range(model.dims.ndim - 3)) + tuple(
                model.dims.ndim - 3 + a for a in PLANES[plane]
            )
            if plane == "mip":  # the projection runs through the whole body, front to back
                thickness = list(model.dims.thickness)
                thickness[model.dims.ndim - 2] = _MIP_THICKNESS_MM
                model.dims.thickness = tuple(thickness)

    def _on_source_event(self, event: Any) -> None:
        source, name = event.source, event.type
        if name in _GEOMETRY:
            self._catch_up_later([p for p, mirrors in self._mirrors.items() if id(source) in mirrors],
                                 source=source)
            return
        if name == "visible":
            self._update_crosshairs(only="axial")
        if name in ("visible", "name"):
            self._update_mip()
        for plane, mirrors in self._mirrors.items():
            mirror = mirrors.get(id(source))
            if mirror is None or (plane == "mip" and name == "visible"):
                continue
            try:
                if name == "colormap":
                    mirror.colormap = source.colormap
                else:
                    setattr(mirror, name, getattr(source, name))
            except (AttributeError, ValueError, TypeError):
                logger.debug("could not mirror %s of %s", name, source.name, exc_info=True)
        if name == "visible":
            for plane in self.models:
                self._update_crosshairs(only=plane)

    def _watch_frames(self, canvas: Any, *, watch: bool = True) -> None:
        """Count ``canvas``'s frames as on screen for :meth:`_catch_up_after_frame` (or stop)."""
        frame_swapped = getattr(canvas.native, "frameSwapped", None)  # a QOpenGLWidget's
        if frame_swapped is not None:
            (frame_swapped.connect if watch else frame_swapped.disconnect)(self._on_frame)

    def _catch_up_after_frame(self) -> None:
        """Catch up one view _STEP_MS after the window's next frame is on screen (or after
        _FIRST_DRAW_WAIT_MS without one): the repaint of the last change and the next view's update
        never share an event-loop turn."""
        if not self._catch_up_timer.isActive():
            self._catch_up_timer.start(_FIRST_DRAW_WAIT_MS)

    def _on_frame(self) -> None:
        self._last_frame = time.perf_counter()
        if self._catch_up_timer.remainingTime() > _STEP_MS:
            self._catch_up_timer.start(_STEP_MS)

    def just_drawn(self) -> bool:
        """True right after a canvas put a frame on screen: a timer that fires now may share the
        event-loop turn of that repaint (a timer that fell due during a long repaint fires as
        soon as it ends)."""
        return time.perf_counter() - self._last_frame < _JUST_DRAWN_S

    def _after_frame(self, timer: QTimer) -> bool:
        """False (``timer`` restarted for _STEP_MS) when a step now would share a repaint's turn."""
        if self.just_drawn():
            timer.start(_STEP_MS)
            return False
        return True

    @property
    def idle(self) -> bool:
        """True when :attr:`settled` and no repaint has just ended: the time for the next step of
        anyone who adds layers one per turn (the Study panel)."""
        return self.settled and not self.just_drawn()

    def _catch_up_later(self, planes: list[str], *, source: Layer | None = None) -> None:
        """Owe ``planes`` the cursor (and ``source``'s new geometry); paid one view per frame."""
        if planes:
            self._catch_up_after_frame()
        for plane in planes:
            stale = self._behind.setdefault(plane, set())
            if source is not None:
                stale.add(id(source))

    def _catch_up_one(self) -> None:
        """Bring one view up to date: its stale mirrors' data and placement, then the cursor."""
        if not self._behind or not self._after_frame(self._catch_up_timer):
            return
        plane = next(iter(self._behind))
        stale = self._behind.pop(plane)
        model = self.models.get(plane)
        self._syncing = True  # a mirror's own dims change must not move the shared cursor
        try:
            for key in stale:
                mirror, source = self._mirrors[plane].get(key), self._followed.get(key)
                if mirror is not None and source is not None:
                    set_layer_data(mirror, source.data, layer_data_to_world(source))
            point = tuple(self.viewer.dims.point)
            if model is not None and model.dims.ndim == len(point) and tuple(model.dims.point) != point:
                model.dims.point = point
        finally:
            self._syncing = False
        self._update_crosshairs(only=plane)
        if self._behind:
            self._catch_up_after_frame()

    # ------------------------------------------------------------------------------ zoom and pan
    def _watch_camera(self, model: Any, *, watch: bool = True) -> None:
        """Pass ``model``'s zoom and pan on to the other views (or stop)."""
        self._cameras[id(camera_of(model))] = model
        for name in ("zoom", "center"):
            emitter = getattr(camera_of(model).events, name)
            (emitter.connect if watch else emitter.disconnect)(self._on_camera)

    def _on_camera(self, event: Any) -> None:
        source = self._cameras.get(id(event.source))
        if self._linking or source is None or not self.link_cameras.isChecked():
            return
        self._linking = True
        try:
            for model in self.all_models():
                if model is not source:
                    link_camera(source, model)
        finally:
            self._linking = False

    # ------------------------------------------------------------------------------ slicing
    def _reslice_when_sliced_axes_move(self, model: Any, *, watch: bool = True) -> None:
        """Reslice ``model``'s layers on a cursor move only when :func:`slice_key` changes (or
        give napari its own reslicing back)."""
        emitters = (model.dims.events.point, model.dims.events.current_step)
        if not watch:
            reslice = self._reslicers.pop(id(model), None)
            for emitter in emitters if reslice is not None else ():
                emitter.disconnect(reslice)
                emitter.connect(model._update_layers)
            return
        sliced: list[Any] = [slice_key(model)]

        def reslice(_event: Any = None) -> None:
            key = slice_key(model)
            if key is None or key != sliced[0]:
                sliced[0] = key
                model._update_layers()

        for emitter in emitters:
            emitter.disconnect(model._update_layers)
            emitter.connect(reslice)
        self._reslicers[id(model)] = reslice

    # ------------------------------------------------------------------------------ cursor
    def _on_main_point(self, event: Any = None) -> None:
        if self._syncing:
            return
        self._update_crosshairs(only="axial")
        self._catch_up_later(list(self.models))

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
        boxes = [layer.extent.world for layer in self.viewer.layers]
        if not boxes:
            return None
        ndim = max(b.shape[1] for b in boxes)
        lows = [np.pad(b[0], (ndim - b.shape[1], 0)) for b in boxes]
        highs = [np.pad(b[1], (ndim - b.shape[1], 0)) for b in boxes]
        return np.stack([np.min(lows, axis=0), np.max(highs, axis=0)])

    def detach(self) -> None:
        """Stop following the main viewer and close the extra canvases (call before closing it)."""
        self._pending = False
        self._building = None
        self._behind.clear()
        self._catch_up_timer.stop()
        self._fit_timer.stop()
        self._resync_timer.stop()
        for name in ("inserted", "removed", "moved"):
            getattr(self.viewer.layers.events, name).disconnect(self._schedule_resync)
        self.viewer.layers.events.removed.disconnect(self._on_main_removed)
        self.viewer.dims.events.point.disconnect(self._on_main_point)
        self.viewer.dims.events.ndisplay.disconnect(self._update_crosshairs)
        self._canvases["axial"].events.draw.disconnect(self._on_main_draw)
        self._watch_frames(self._canvases["axial"], watch=False)
        self._canvases["axial"].events.resize.disconnect(self._on_main_resize)
        if self._click_moves_cursor in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._click_moves_cursor)
        for model in self.all_models():
            self._watch_camera(model, watch=False)
            self._reslice_when_sliced_axes_move(model, watch=False)
        self._cameras.clear()
        for source in self._followed.values():
            self._follow(source, connect=False)
        self._followed.clear()
        for line in self.crosshairs.values():
            line.parent = None
        self.crosshairs.clear()
        for mirrors in self._mirrors.values():
            mirrors.clear()
        for model in self.models.values():
            model.layers.clear()
        for qt_viewer in self._qt_viewers:
            qt_viewer.close()
        self._qt_viewers.clear()

    def _update_crosshairs(self, *_: Any, only: str | None = None) -> None:
        """Draw each view's crosshair (or ``only`` that plane's) through the cursor, across the
        extent of all layers; a canvas whose crosshair stays put is not redrawn."""
        box = self._world_box()
        shown = self.show_crosshair.isChecked()
        for plane, model in zip(("axial", *self.models), self.all_models()):
            if only not in (None, plane):
                continue
            # a line drawn alone, after a layer's GL objects were deleted, crashes Mesa's llvmpipe
            # in glDrawArrays: no crosshair over a view with no visible layer
            visible = (shown and box is not None and box.shape[1] == 3 and model.dims.ndim == 3
                       and model.dims.ndisplay == 2 and any(x.visible for x in model.layers))
            update_slice_text(model, plane)
            line = self.crosshairs.get(plane)
            if not visible:
                if line is not None:
                    line.visible = False
                continue
            displayed = tuple(model.dims.displayed)
            lines = _crosshair_lines(np.asarray(model.dims.point, float), box, displayed)
            # vispy scene coordinates are the displayed world axes, last first
            pos = np.concatenate(lines)[:, [displayed[1], displayed[0]]]
            if line is None:
                line = self.crosshairs[plane] = self._new_line(plane)
            if line.pos is None or not np.array_equal(line.pos, pos):
                line.set_data(pos=pos)
            line.visible = True

    def _new_line(self, plane: str) -> Any:
        from vispy.scene.visuals import Line

        line = Line(np.zeros((4, 2)), color=_CROSSHAIR_COLOR, width=1, connect="segments",
                    parent=self._canvases[plane].view.scene)
        line.order = 1_000_000  # over every layer
        line.set_gl_state("translucent", depth_test=False)
        return line


def link_camera(source: Any, target: Any) -> None:
    """Give ``target``'s 2D view ``source``'s scale (screen pixels per mm) and centre it on the
    same physical point along the world axes both views display (a coronal view follows an axial
    pan left-right, not up-down: that is the axial view's anterior-posterior axis)."""
    if source.dims.ndisplay != 2 or target.dims.ndisplay != 2 or source.dims.ndim != target.dims.ndim:
        return
    source_camera, target_camera = camera_of(source), camera_of(target)
    shown = dict(zip(source.dims.displayed, source_camera.center[-2:]))
    current = tuple(target_camera.center[-2:])
    center = tuple(shown.get(axis, value) for axis, value in zip(target.dims.displayed, current))
    if not np.allclose(center, current):
        target_camera.center = center
    if not np.isclose(target_camera.zoom, source_camera.zoom):
        target_camera.zoom = source_camera.zoom


def slice_key(model: Any) -> tuple[Any, ...] | None:
    """What ``model``'s 2D slices depend on: the cursor along the world axes it slices across
    (not those it displays, nor one projected through a slab thicker than any body), with the
    dims order; None in 3D (every move reslices)."""
    dims = model.dims
    if dims.ndisplay != 2:
        return None
    thickness = dims.thickness
    sliced = tuple(float(dims.point[a]) for a in dims.not_displayed
                   if thickness[a] < _MIP_THICKNESS_MM)
    return tuple(dims.order), sliced


def camera_of(model: Any) -> Any:
    """``model``'s camera (``scene.camera`` since napari 0.9, ``camera`` before)."""
    return model.scene.camera if hasattr(model, "scene") else model.camera


def _shows(plane: str, layer: Layer) -> bool:
    """True when ``plane``'s view mirrors ``layer``: every view all layers, the MIP view only the
    functional images (PET, SPECT; which of them it draws: :func:`_mip_shown`)."""
    if plane != "mip":
        return True
    from medfuse.modalities import get_modality

    return (layer.__class__.__name__ == "Image" and not getattr(layer, "rgb", False)
            and get_modality(str(layer.metadata.get("modality", "OT"))).functional)


def _mip_shown(layers: Any) -> set[int]:
    """The ids of the functional layers the MIP view draws: those the other views show and those
    under a visible fused image (the Fuse panel hides its sources); when that leaves none, the top
    one. The MIP is the PET's own view, as in PET/CT readers: it is never blank while a PET is open,
    and of two PETs it follows the eye toggles."""
    functional = [layer for layer in layers if _shows("mip", layer)]
    fused_from = {name for layer in layers if layer.visible
                  for name in layer.metadata.get("source_layers", ())}
    shown = {id(layer) for layer in functional if layer.visible or layer.name in fused_from}
    if not shown and functional:
        shown = {id(functional[-1])}
    return shown


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

"""Inspect panel: judge an alignment (checkerboard, difference, flicker), set windows, read values.

The window (width and level) of the active image layer is typed here, picked from its modality's
presets (CT brain, soft tissue, lung, bone; PET SUV 0-5, 0-10), or dragged with the right or middle
mouse button over a view (``_window_level``); the fields follow the drag. The cursor readout shows
the LPS point under the mouse and every data layer's value there, in its units (HU for CT, SUV for
PET), whether or not the layer is visible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, FloatSlider, FloatSpinBox, SpinBox
from qtpy.QtCore import QObject, QTimer

from medfuse.modalities import get_modality
from medfuse.napari._layers import (
    format_value,
    is_medfuse_data_layer,
    layer_to_volume,
    layer_value,
    window_presets,
)
from medfuse.napari._widgets._common import LayerPicker, Panel, info_label
from medfuse.napari._window_level import (
    install_window_drag,
    limits_of,
    set_window,
    window_layer,
    window_level,
)
from medfuse.volume import Volume

VIEWS = ("overlay", "checkerboard", "difference", "flicker")
COMPARISON = "comparison"
FLICKER_MS = 600


def compare_volumes(fixed: Volume, moving: Volume, *, view: str, squares: int = 8) -> Volume:
    """Checkerboard or difference of ``fixed`` and ``moving`` on the fixed grid, each normalised by
    its modality to [0, 1] (CT window, MR percentiles, PET SUV range)."""
    from medfuse.quantify.compare import checkerboard, difference

    if not moving.same_grid(fixed):
        moving = moving.resample_to(fixed)
    a = get_modality(fixed.modality).normalize(fixed.array, fixed.units)
    b = get_modality(moving.modality).normalize(moving.array, moving.units)
    if view == "checkerboard":
        array = checkerboard(a, b, squares=squares)
    elif view == "difference":
        array = difference(a, b)
    else:
        raise ValueError(f"view must be checkerboard or difference, not {view!r}")
    return fixed.with_array(array, modality="OT", units="a.u.", meta={"comparison": view})


def cursor_point(viewer: Any) -> tuple[float, ...] | None:
    """The world point under the mouse (napari z, y, x) on the slice shown now: the cursor's
    displayed axes and the current slice position on the others (napari keeps the cursor's old
    slice until the mouse moves); with the mouse off the main view, the shared cursor (the
    crosshair's centre)."""
    point = list(viewer.dims.point)
    if not getattr(viewer, "mouse_over_canvas", True):
        return tuple(float(p) for p in point) if point else None
    position = tuple(float(p) for p in (viewer.cursor.position or ()))
    if not position or len(position) != viewer.dims.ndim:
        return None
    for axis in viewer.dims.displayed:
        point[axis] = position[axis]
    return tuple(float(p) for p in point)


def source_layers(viewer: Any, fused: Any) -> list[Any]:
    """The layers a fused image was made from, in the order of its ``metadata["inputs"]``: the
    layers named in ``metadata["source_layers"]`` when the Fuse panel recorded them, else for each
    input the top image layer of its modality, units and source file; inputs no longer open are
    left out."""
    images = [x for x in reversed(list(viewer.layers)) if x.__class__.__name__ == "Image"
              and x is not fused and "inputs" not in x.metadata and "comparison" not in x.metadata]
    named = [n for n in fused.metadata.get("source_layers") or () if n in viewer.layers]
    if named:
        return [viewer.layers[n] for n in named]
    found: list[Any] = []
    for item in fused.metadata.get("inputs") or ():
        def fits(layer: Any, item: dict = item) -> bool:
            meta = layer.metadata
            return (meta.get("modality") == item.get("modality") and meta.get("units") ==
                    item.get("units") and (item.get("source") is None
                                           or meta.get("source") == item.get("source")))

        match = next((x for x in images if fits(x) and x not in found), None)
        if match is not None:
            found.append(match)
    return found


def _value_text(layer: Any, position: tuple[float, ...]) -> str:
    try:
        value = layer_value(layer, position)
    except Exception:  # noqa: BLE001 - a layer changing under the cursor reads as no value
        value = None
    return format_value(layer, value)


def readout_lines(viewer: Any, position: Any) -> list[str]:
    """The readout at a world position (napari z, y, x): the LPS point, then one line per data
    layer (top first, hidden layers too, marked so) with its value in its units: ``CT: 40 HU``,
    ``PET: 2.31 SUVbw``. A fused image reads the values of its source series there (``fused:
    CT 40 HU · PT 2.31 SUVbw``), never its own colours."""
    position = tuple(float(p) for p in position)
    lps = ", ".join(f"{v:.1f}" for v in position[::-1])
    lines = [f"LPS ({lps}) mm"]
    for layer in reversed(list(viewer.layers)):
        if not is_medfuse_data_layer(layer):
            continue
        hidden = "" if layer.visible else " (hidden)"
        if "inputs" in layer.metadata:
            sources = source_layers(viewer, layer)
            text = " · ".join(f"{x.metadata.get('modality', 'OT')} {_value_text(x, position)}"
                              for x in sources) or "sources not open"
        else:
            text = _value_text(layer, position)
        lines.append(f"{layer.name}: {text}{hidden}")
    return lines


def status_text(viewer: Any, position: Any) -> str:
    """One status-bar line: the LPS point and each data layer's value with its units."""
    point, *values = readout_lines(viewer, position)
    return f"{point} » " + "    ".join(values)


class _StatusReadout(QObject):
    """Puts MedFuse's readout line in place of napari's status line (a child of the window, so
    that the connection ends with the window); it follows the slice and the layers too, not only
    the mouse, and never shows napari's unit-less world coordinates."""

    def __init__(self, viewer: Any, window: Any) -> None:
        super().__init__(window)
        self._viewer = viewer
        self._window = window
        self._tooltip = ""
        viewer.dims.events.point.connect(self.refresh)
        for name in ("inserted", "removed"):
            getattr(viewer.layers.events, name).connect(self.refresh)

    def show(self, status_and_tooltip: Any) -> None:
        """Slot for napari's status thread: its (status, tooltip) with the status replaced."""
        if status_and_tooltip is None:
            self._window.set_status_and_tooltip(None)
            return
        self._tooltip = status_and_tooltip[1]
        self.refresh()

    def refresh(self, _event: Any = None) -> None:
        """Rewrite the status line for the point under the mouse on the current slice."""
        point = cursor_point(self._viewer)
        if point is not None:
            self._window.set_status_and_tooltip((status_text(self._viewer, point), self._tooltip))


def install_status_readout(viewer: Any) -> None:
    """Make napari's status bar show HU, SUV (every visible layer's value and units) at the cursor.

    napari computes its status line in a thread and hands it to the window; MedFuse puts its own
    line in its place whenever the cursor is over the canvas.
    """
    window = getattr(viewer.window, "_qt_window", None)
    checker = getattr(window, "status_thread", None)
    if checker is None:
        return
    readout = _StatusReadout(viewer, window)
    checker.status_and_tooltip_changed.disconnect(window.set_status_and_tooltip)
    checker.status_and_tooltip_changed.connect(readout.show)


class InspectPanel(Panel):
    """Compare fixed and registered series, set windows and opacity, read values under the cursor."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(viewer, labels=True)
        self.fixed = LayerPicker(viewer, label="fixed")
        self.moving = LayerPicker(viewer, label="moving")
        self.view = ComboBox(label="view", choices=VIEWS, value="overlay")
        self.squares = SpinBox(label="squares", value=8, min=2, max=32)
        self.opacity = FloatSlider(label="moving opacity", value=0.5, min=0.0, max=1.0, step=0.05)
        self.window = ComboBox(label="window", choices=self._window_choices)
        self.window_target = info_label("window of: (no image)")
        self.wl_width = FloatSpinBox(label="width", min=1e-3, max=1e7, step=1.0,
                                  tooltip="window width in the layer's units (or right/middle drag)")
        self.wl_level = FloatSpinBox(label="level", min=-1e7, max=1e7, step=1.0,
                                  tooltip="window centre in the layer's units (or right/middle drag)")
        self.readout = info_label("move the mouse over the images")
        self.readout.native.setMinimumHeight(80)
        self.extend([self.fixed, self.moving, self.view, self.squares, self.opacity, self.window,
                     self.window_target, self.wl_width, self.wl_level, self.readout])
        self.follow_selection(self.fixed, self.moving)
        self._timer = QTimer()
        self._timer.setInterval(FLICKER_MS)
        self._timer.timeout.connect(self._flick)
        self.view.changed.connect(self.show_view)
        self.squares.changed.connect(lambda _: self.view.value == "checkerboard" and self.show_view())
        self.opacity.changed.connect(self._set_opacity)
        self.window.changed.connect(self._apply_window)
        self.fixed.changed.connect(lambda _: self.window.reset_choices())
        self.moving.changed.connect(lambda _: self.window.reset_choices())
        viewer.cursor.events.position.connect(self._update_readout)
        viewer.dims.events.point.connect(self._update_readout)
        for name in ("inserted", "removed"):
            getattr(viewer.layers.events, name).connect(self._update_readout)
        self.moving.changed.connect(self._follow_moving_opacity)
        self._windowed: Any = None
        self.wl_width.changed.connect(self._type_window)
        self.wl_level.changed.connect(self._type_window)
        viewer.layers.selection.events.active.connect(self._follow_window_layer)
        for name in ("inserted", "removed", "moved"):
            getattr(viewer.layers.events, name).connect(self._follow_window_layer)
        install_window_drag(viewer, viewer=viewer)
        self.finish_layout()
        self._follow_window_layer()

    # ------------------------------------------------------------------------------ windows
    def _window_choices(self, _widget: Any = None) -> list[Any]:
        """The presets of the active image layer and of the fixed and moving series."""
        choices: list[Any] = [("(keep)", None)]
        if not hasattr(self, "moving"):
            return choices
        layers = [window_layer(self.viewer), self.fixed.layer(), self.moving.layer()]
        for layer in dict.fromkeys(x for x in layers if x is not None):
            if getattr(layer, "rgb", False):
                continue
            presets = window_presets(str(layer.metadata.get("modality", "OT")),
                                     units=layer.metadata.get("units"))
            for name, limits in presets.items():
                choices.append((f"{layer.name}: {name}", (layer.name, limits)))
        return choices

    def _apply_window(self, choice: Any) -> None:
        if not choice:
            return
        name, limits = choice
        if name in self.viewer.layers:
            set_window(self.viewer.layers[name], limits)

    def _follow_window_layer(self, _event: Any = None) -> None:
        """Show (and follow) the window of the layer that drags and typed values set."""
        layer = window_layer(self.viewer)
        if layer is not self._windowed:
            if self._windowed is not None:
                self._windowed.events.contrast_limits.disconnect(self._show_window)
            self._windowed = layer
            if layer is not None:
                layer.events.contrast_limits.connect(self._show_window)
            self.window.reset_choices()
        self._show_window()

    def _show_window(self, _event: Any = None) -> None:
        layer = self._windowed
        units = "" if layer is None else str(layer.metadata.get("units", ""))
        self.window_target.value = (f"window of: {layer.name} ({units})" if layer is not None
                                    else "window of: (no image)")
        if layer is None:
            return
        width, level = window_level(layer.contrast_limits)
        step = 1.0 if width > 50 else 0.1
        with self.wl_width.changed.blocked(), self.wl_level.changed.blocked():
            self.wl_width.step = self.wl_level.step = step
            self.wl_width.value, self.wl_level.value = width, level

    def _type_window(self, _value: Any = None) -> None:
        if self._windowed is not None:
            set_window(self._windowed, limits_of(self.wl_width.value, self.wl_level.value))

    def _follow_moving_opacity(self, *_: Any) -> None:
        """The slider starts from a functional moving layer's opacity, else half (both seen)."""
        layer = self.moving.layer()
        if layer is not None:
            functional = get_modality(str(layer.metadata.get("modality", "OT"))).functional
            with self.opacity.changed.blocked():
                self.opacity.value = float(layer.opacity) if functional else 0.5

    def _set_opacity(self, value: float) -> None:
        if self.moving_over_fixed() is not None:
            self.moving.layer().opacity = float(value)

    def moving_over_fixed(self) -> tuple[Any, Any] | None:
        """Put the moving layer just above the fixed one, both visible (any modalities: an MR over
        a CT is seen through its opacity); returns (fixed, moving), or None without a pair."""
        fixed, moving = self.fixed.layer(), self.moving.layer()
        if fixed is None or moving is None or fixed is moving:
            return None
        layers = self.viewer.layers
        if layers.index(moving) < layers.index(fixed):
            layers.move(layers.index(moving), layers.index(fixed) + 1)  # napari: before removal
        fixed.visible = moving.visible = True
        return fixed, moving

    # ------------------------------------------------------------------------------ views
    def show_view(self, *_: Any) -> Any:
        """Switch to the chosen view: overlay, checkerboard, difference or flicker."""
        self._timer.stop()
        view = self.view.value
        fixed, moving = self.fixed.layer(), self.moving.layer()
        if COMPARISON in self.viewer.layers and view in ("overlay", "flicker"):
            self.viewer.layers.remove(COMPARISON)
        if self.moving_over_fixed() is None:
            if view != "overlay":
                self.runner.show_message("choose two different series to compare", error=True)
            return None
        if view == "flicker":
            moving.opacity = 1.0
            self._timer.start()
            self.runner.show_message(f"flicker: {moving.name} blinks on and off over {fixed.name}")
            return None
        if view == "overlay":
            moving.opacity = float(self.opacity.value)
            self.runner.show_message(f"{moving.name} over {fixed.name} at opacity "
                                     f"{moving.opacity:.2f}")
            return None

        def done(volume: Volume) -> None:
            limits = (0.0, 1.0) if view == "checkerboard" else (-0.5, 0.5)
            colormap = "gray" if view == "checkerboard" else "PiYG"
            self.show_volume(volume, name=COMPARISON, colormap=colormap, contrast_limits=limits,
                             blending="translucent_no_depth", opacity=1.0)
            self.runner.show_message(f"{view} of {fixed.name} and {moving.name}")

        return self.run(compare_volumes, layer_to_volume(fixed), layer_to_volume(moving),
                        view=view, squares=int(self.squares.value), description=view, on_done=done)

    def _flick(self) -> None:
        layer = self.moving.layer()
        if layer is None:
            self._timer.stop()
            return
        layer.visible = not layer.visible

    # ------------------------------------------------------------------------------ readout
    def _update_readout(self, event: Any = None) -> None:
        point = cursor_point(self.viewer)
        if point is not None:
            self.readout.value = "\n".join(readout_lines(self.viewer, point))

    def value_at(self, world_point: Any) -> dict[str, Any]:
        """Every data layer's value at a world point (napari z, y, x), by layer name."""
        return {
            layer.name: layer_value(layer, np.asarray(world_point, float))
            for layer in self.viewer.layers
            if is_medfuse_data_layer(layer)
        }

"""Register panel: bring the moving series onto the fixed one with elastix (or by scanner geometry).

The registered series, resampled on its own grid, replaces the data of the moving layer, which keeps
its name, grid, place and display settings; a check box switches that layer back to the series before
registration and forth again, so the two can be compared. Updating the layer in place keeps the window
responsive: a new layer costs napari 100-300 ms in one event-loop turn (its canvas visual, layer
controls, the mirrors in the coronal and sagittal views and, with that many new objects, a full
garbage collection); new data on an unchanged grid about 10 ms per view, one view per turn, where data
on another grid would re-fit every view's dims and reslice all their layers.
"""

from __future__ import annotations

import weakref
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, PushButton

from medfuse.napari._display_grid import display_volume
from medfuse.napari._layers import layer_data_to_world, layer_to_volume, set_layer_data
from medfuse.napari._tasks import in_subprocess, register_volumes
from medfuse.napari._widgets._common import LayerPicker, Panel, info_label
from medfuse.volume import Volume

MODES = {
    "auto (scanner alignment for PET/CT, else register)": "auto",
    "register (elastix)": "register",
    "scanner geometry only (no registration)": "geometry",
}


def _preset_names() -> list[Any]:
    try:
        from medfuse.registration.presets import PRESETS
    except ImportError:  # registration engine not installed: the modality pair decides
        return [("by modality pair", None)]
    return [("by modality pair", None), *[(name, name) for name in PRESETS]]


def format_metrics(result: Any) -> str:
    """Short text of a registration result's quality numbers."""
    if result is None:
        return "kept the scanner alignment (same frame of reference): not registered"
    metrics = getattr(result, "metrics", {}) or {}
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            parts.append(f"{key}: {value:.4g}")
        elif isinstance(value, (int, str)):
            parts.append(f"{key}: {value}")
    warnings = getattr(result, "warnings", None)
    warnings = warnings() if callable(warnings) else warnings
    if warnings:
        parts.append("warning: " + "; ".join(map(str, warnings)))
    return "\n".join(parts) or "registered"


class RegisterPanel(Panel):
    """Choose fixed and moving series, a preset, optional masks and landmarks; run elastix."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(viewer, labels=True)
        self.fixed = LayerPicker(viewer, label="fixed")
        self.moving = LayerPicker(viewer, label="moving")
        self.mode = ComboBox(label="mode", choices=list(MODES.items()), value="auto")
        self.preset = ComboBox(label="preset", choices=_preset_names(), value=None)
        self.fixed_mask = LayerPicker(viewer, label="fixed mask", kinds=("Labels",), optional=True)
        self.moving_mask = LayerPicker(viewer, label="moving mask", kinds=("Labels",), optional=True)
        self.fixed_points = LayerPicker(viewer, label="fixed landmarks", kinds=("Points",),
                                        optional=True)
        self.moving_points = LayerPicker(viewer, label="moving landmarks", kinds=("Points",),
                                         optional=True)
        self.run_button = PushButton(text="Register")
        self.registered = CheckBox(text="show the moving series registered", value=False,
                                   enabled=False)
        self.registered.tooltip = "untick to see the moving series as it was before registration"
        self.result = info_label()
        self.extend([self.fixed, self.moving, self.mode, self.preset, self.fixed_mask,
                     self.moving_mask, self.fixed_points, self.moving_points, self.run_button,
                     self.registered, self.result])
        #: per registered layer: its (data, data -> world matrix) before and after registration
        self._versions: weakref.WeakKeyDictionary[Any, dict[bool, tuple[Any, Any]]] = (
            weakref.WeakKeyDictionary())
        self.follow_selection(self.fixed, self.moving)
        self.run_button.changed.connect(self.start)
        self.moving.changed.connect(self._update_toggle)
        self.registered.changed.connect(self._show_version)
        self.finish_layout()

    def _update_toggle(self, *_: Any) -> None:
        """Enable the before/after check box for a registered moving layer; tick it when shown so."""
        layer = self.moving.layer()
        versions = self._versions.get(layer) if layer is not None else None
        with self.registered.changed.blocked():
            self.registered.enabled = versions is not None
            self.registered.value = versions is not None and layer.data is versions[True][0]

    def _show_version(self, registered: bool) -> None:
        layer = self.moving.layer()
        versions = self._versions.get(layer) if layer is not None else None
        if versions is not None and (layer.data is versions[True][0]) != registered:
            set_layer_data(layer, *versions[registered])

    def _inputs(self) -> dict[str, Any]:
        fixed, moving = self.fixed.layer(), self.moving.layer()
        if fixed is None or moving is None:
            raise ValueError("choose a fixed and a moving series first (open a study)")
        if fixed is moving:
            raise ValueError("fixed and moving are the same layer; choose two different series")
        masks = {}
        for key, picker in (("fixed_mask", self.fixed_mask), ("moving_mask", self.moving_mask)):
            if picker.layer() is not None:
                masks[key] = layer_to_volume(picker.layer())
        landmarks = None
        if (self.fixed_points.layer() is None) != (self.moving_points.layer() is None):
            raise ValueError("landmarks need both a fixed and a moving Points layer, in matching order")
        if self.fixed_points.layer() is not None:
            landmarks = (_lps_points(self.fixed_points.layer()), _lps_points(self.moving_points.layer()))
        return {
            "fixed": layer_to_volume(fixed),
            "moving": layer_to_volume(moving),
            "mode": self.mode.value,
            "preset": self.preset.value,
            "masks": masks,
            "landmarks": landmarks,
            "moving_layer": moving,
        }

    def start(self, *_: Any) -> Any:
        """Run the registration in a worker; the registered series replaces the moving layer's
        data."""
        try:
            inputs = self._inputs()
        except ValueError as err:
            self.runner.show_message(str(err), error=True)
            return None
        moving_layer = inputs.pop("moving_layer")
        fixed, moving = inputs.pop("fixed"), inputs.pop("moving")

        def done(output: tuple[Volume, Any]) -> None:
            volume, result = output
            volume = display_volume(volume, reference=fixed)  # a result on a tilted grid
            moving_layer.metadata["registration"] = {"moving": moving, "result": result}  # Export
            if result is None:  # the scanner alignment is what the layer shows already
                self.runner.show_message(f"{moving_layer.name}: kept the scanner alignment")
            else:
                before = self._versions.get(moving_layer, {}).get(False)
                before = before or (moving_layer.data, layer_data_to_world(moving_layer))
                after = (volume.array, volume.napari_affine())
                self._versions[moving_layer] = {False: before, True: after}
                set_layer_data(moving_layer, *after)
                self.runner.show_message(f"registered {moving_layer.name} onto {self.fixed.value}")
            self._update_toggle()
            self.result.value = format_metrics(result)

        if inputs["mode"] == "geometry":
            return self.run(register_volumes, fixed, moving, description="scanner alignment",
                            on_done=done, control=True, **inputs)
        return self.run(in_subprocess, register_volumes, fixed, moving, description="registration",
                        on_done=done, control=True, **inputs)


def _lps_points(layer: Any) -> Any:
    """A Points layer's world points (napari z, y, x) as LPS (x, y, z) millimetres."""
    import numpy as np

    world = np.asarray([layer.data_to_world(p) for p in layer.data], dtype=float)
    return world[:, ::-1] if world.size else world.reshape(0, 3)

"""Register panel: bring the moving series onto the fixed one with elastix (or by scanner geometry).

The result is a new layer on the fixed grid (``<moving> registered``) drawn with the moving series'
display settings; the original moving layer is hidden, not deleted, so the two can be compared.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, PushButton
from qtpy.QtCore import QTimer

from medfuse.napari._layers import layer_to_volume
from medfuse.napari._tasks import in_subprocess, register_volumes
from medfuse.napari._widgets._common import LayerPicker, Panel, info_label
from medfuse.volume import Volume

MODES = {
    "auto (scanner alignment for PET/CT, else register)": "auto",
    "register (elastix)": "register",
    "scanner geometry only (resample)": "geometry",
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
        return "kept the scanner alignment (same frame of reference): resampled, not registered"
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
        self.result = info_label()
        self.extend([self.fixed, self.moving, self.mode, self.preset, self.fixed_mask,
                     self.moving_mask, self.fixed_points, self.moving_points, self.run_button,
                     self.result])
        self.follow_selection(self.fixed, self.moving)
        self.run_button.changed.connect(self.start)
        self.finish_layout()

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
        """Run the registration in a worker; the result becomes a layer on the fixed grid."""
        try:
            inputs = self._inputs()
        except ValueError as err:
            self.runner.show_message(str(err), error=True)
            return None
        moving_layer = inputs.pop("moving_layer")
        fixed, moving = inputs.pop("fixed"), inputs.pop("moving")

        def done(output: tuple[Volume, Any]) -> None:
            volume, result = output
            overrides = {
                "colormap": moving_layer.colormap,
                "contrast_limits": tuple(moving_layer.contrast_limits),
                "blending": moving_layer.blending,
                "opacity": moving_layer.opacity,
            }
            name = f"{moving_layer.name} registered"
            self.show_volume(volume, name=name, **overrides)
            message = f"registered {moving_layer.name} onto {self.fixed.value}"
            self.runner.show_message(message)

            def then() -> None:  # on the next event-loop turn: each turn stays short
                moving_layer.visible = False
                self.selection.set(moving=name)
                self.result.value = format_metrics(result)

            QTimer.singleShot(0, then)

        if inputs["mode"] == "geometry":
            return self.run(register_volumes, fixed, moving, description="resampling",
                            on_done=done, control=True, **inputs)
        return self.run(in_subprocess, register_volumes, fixed, moving, description="registration",
                        on_done=done, control=True, **inputs)


def _lps_points(layer: Any) -> Any:
    """A Points layer's world points (napari z, y, x) as LPS (x, y, z) millimetres."""
    import numpy as np

    world = np.asarray([layer.data_to_world(p) for p in layer.data], dtype=float)
    return world[:, ::-1] if world.size else world.reshape(0, 3)

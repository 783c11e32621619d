"""Fuse panel: one fused image from two series (the second resampled onto the first when needed).

The fusion runs in its own process (a learned network imports torch and runs for seconds); its layer
is made ready in the worker thread, so the UI thread only adds it and, in the next turns, hides the
two sources.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, PushButton

from medfuse.napari._layers import layer_to_volume
from medfuse.napari._tasks import fuse_volumes
from medfuse.napari._widgets._common import LayerPicker, Panel, info_label, layer_in_subprocess
from medfuse.volume import Volume

#: pause between adding the fused layer and hiding each source, so that each has its own turn (ms)
_HIDE_AFTER_MS = 30


def method_names() -> list[str]:
    """The fusion methods installed (core and plugins), ``default`` first."""
    try:
        from medfuse import fusion

        names = list(fusion.available_methods())
    except (ImportError, AttributeError):  # fusion engine not installed yet
        names = []
    return ["default", *[n for n in names if n != "default"]]


class FusePanel(Panel):
    """Choose two series and a fusion method; the fused image becomes a new layer."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(viewer, labels=True)
        self.first = LayerPicker(viewer, label="anatomy")
        self.second = LayerPicker(viewer, label="function")
        self.method = ComboBox(label="method", choices=method_names(), value="default")
        self.run_button = PushButton(text="Fuse")
        self.result = info_label()
        self.extend([self.first, self.second, self.method, self.run_button, self.result])
        self.follow_selection(self.first, self.second)
        self.run_button.changed.connect(self.start)
        self.finish_layout()

    def start(self, *_: Any) -> Any:
        """Fuse in a worker; the result is shown as ``fused (<method>)`` on the first series' grid."""
        from qtpy.QtCore import QTimer

        first, second = self.first.layer(), self.second.layer()
        if first is None or second is None or first is second:
            self.runner.show_message("choose two different series to fuse", error=True)
            return None
        method = self.method.value

        def done(output: tuple[Volume, Any]) -> None:
            volume, layer = output
            layer.metadata["fusion_method"] = method
            layer.metadata["source_layers"] = [first.name, second.name]  # the readout's sources
            self.show_layer(layer)
            self.result.value = f"{volume.modality} {volume.units}, size {'x'.join(map(str, volume.size))}"
            QTimer.singleShot(_HIDE_AFTER_MS, lambda: _hide([first, second]))

        return self.run(layer_in_subprocess, fuse_volumes, layer_to_volume(first),
                        layer_to_volume(second), method=method, name=f"fused ({method})",
                        reference=self.fixed_volume(), description=f"fusion ({method})",
                        on_done=done, control=True)


def _hide(layers: list[Any]) -> None:
    """Hide ``layers``, one per event-loop turn (napari redraws every view showing a layer at once
    when it is hidden)."""
    from qtpy.QtCore import QTimer

    if layers:
        layers[0].visible = False
        QTimer.singleShot(_HIDE_AFTER_MS, lambda: _hide(layers[1:]))

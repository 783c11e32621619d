"""Fuse panel: one fused image from two series (the second resampled onto the first when needed)."""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, PushButton

from medfuse.napari._layers import layer_to_volume
from medfuse.napari._widgets._common import LayerPicker, Panel, info_label
from medfuse.volume import Volume


def method_names() -> list[str]:
    """The fusion methods installed (core and plugins), ``default`` first."""
    try:
        from medfuse import fusion

        names = list(fusion.available_methods())
    except (ImportError, AttributeError):  # fusion engine not installed yet
        names = []
    return ["default", *[n for n in names if n != "default"]]


def fuse_pair(a: Volume, b: Volume, *, method: str) -> Volume:
    """One call into the fusion engine; ``b`` is first resampled onto ``a``'s grid by geometry."""
    from medfuse import fusion

    if not b.same_grid(a):
        b = b.resample_to(a)
    return fusion.fuse([a, b], method=method)


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
        first, second = self.first.layer(), self.second.layer()
        if first is None or second is None or first is second:
            self.runner.show_message("choose two different series to fuse", error=True)
            return None
        method = self.method.value

        def done(volume: Volume) -> None:
            layer = self.show_volume(volume, name=f"fused ({method})")
            for other in (first, second):
                other.visible = False
            self.result.value = f"{volume.modality} {volume.units}, size {'x'.join(map(str, volume.size))}"
            layer.metadata["fusion_method"] = method

        return self.run(fuse_pair, layer_to_volume(first), layer_to_volume(second), method=method,
                        description=f"fusion ({method})", on_done=done)

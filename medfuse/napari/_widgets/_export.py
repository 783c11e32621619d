"""Export panel: screenshots (canvas or whole window), volumes as NIfTI, and the study report.

Each goes into its own sub-folder of the output folder (:data:`SUBFOLDERS`): the study folder is
replaced whole when it is written again, and a folder of other files is refused, so the
screenshots and saved volumes never share it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from magicgui.widgets import FileEdit, PushButton, Select

from medfuse.napari._layers import is_medfuse_data_layer, layer_to_volume
from medfuse.napari._widgets._common import LayerPicker, Panel, image_names, info_label
from medfuse.io.paths import safe_name
from medfuse.napari._tasks import in_subprocess, study_report
from medfuse.volume import Volume


#: where each export goes inside the output folder
SUBFOLDERS = {"screenshot": "screenshots", "volumes": "nifti", "study": "study"}


def save_volumes(volumes: dict[str, Volume], folder: Path) -> list[Path]:
    """Write each volume as ``folder/<name>.nii.gz`` (names made file-safe); returns the paths."""
    from medfuse.io import write_nifti

    folder.mkdir(parents=True, exist_ok=True)
    return [write_nifti(v, folder / f"{safe_name(name, default='layer')}.nii.gz")
            for name, v in volumes.items()]


class ExportPanel(Panel):
    """Save what the reader sees and what MedFuse computed into one output folder."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(viewer, labels=True)
        self.folder = FileEdit(label="output folder", mode="d", value=str(Path.home() / "medfuse-out"))
        self.canvas_button = PushButton(text="Screenshot of the image (PNG)")
        self.window_button = PushButton(text="Screenshot of the window (PNG)")
        self.layers = Select(label="volumes", choices=self._volume_choices)
        self.save_button = PushButton(text="Save chosen volumes (NIfTI)")
        self.fixed = LayerPicker(viewer, label="report fixed")
        self.moving = LayerPicker(viewer, label="report moving")
        self.report_button = PushButton(text="Write the study folder (report, volumes, overlays)")
        self.result = info_label()
        self.extend([self.folder, self.canvas_button, self.window_button, self.layers,
                     self.save_button, self.fixed, self.moving, self.report_button, self.result])
        self.follow_selection(self.fixed, self.moving)
        for name in ("inserted", "removed"):
            getattr(viewer.layers.events, name).connect(lambda _e: self.layers.reset_choices())
        self.canvas_button.changed.connect(lambda: self.screenshot(canvas_only=True))
        self.window_button.changed.connect(lambda: self.screenshot(canvas_only=False))
        self.save_button.changed.connect(self.save)
        self.report_button.changed.connect(self.report)
        self.finish_layout()

    def _volume_choices(self, _widget: Any = None) -> list[str]:
        return image_names(self.viewer, kinds=("Image", "Labels"))

    def _out(self, kind: str) -> Path:
        """The sub-folder of the output folder for ``kind`` (see :data:`SUBFOLDERS`)."""
        return Path(self.folder.value).expanduser() / SUBFOLDERS[kind]

    def screenshot(self, *, canvas_only: bool = True) -> Path | None:
        """Save a PNG of the canvas (or the whole window) into the output folder's screenshots."""
        from medfuse.io._atomic import atomic_path

        out = self._out("screenshot")
        out.mkdir(parents=True, exist_ok=True)
        stem = "view" if canvas_only else "window"
        path = next(out / f"{stem}-{i:03d}.png" for i in range(1000)
                    if not (out / f"{stem}-{i:03d}.png").exists())
        try:
            image = self.viewer.screenshot(canvas_only=canvas_only, flash=False)
            from PIL import Image

            with atomic_path(path) as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
        except Exception as err:  # noqa: BLE001 - shown in the panel, the app goes on
            self.runner.show_message(f"screenshot failed: {err}", error=True)
            return None
        self.result.value = f"saved {path}"
        return path

    def save(self, *_: Any) -> Any:
        """Write the chosen layers as NIfTI files in a worker."""
        names = [n for n in self.layers.value if n in self.viewer.layers]
        if not names:
            self.runner.show_message("choose the volumes to save", error=True)
            return None
        volumes = {n: layer_to_volume(self.viewer.layers[n]) for n in names
                   if is_medfuse_data_layer(self.viewer.layers[n])}

        def done(paths: list[Path]) -> None:
            self.result.value = "saved " + ", ".join(p.name for p in paths) + \
                f" in {self._out('volumes')}"

        return self.run(save_volumes, volumes, self._out("volumes"), description="saving volumes",
                        on_done=done)

    def report(self, *_: Any) -> Any:
        """Write the chosen pair's study folder (report, volumes, overlays, transforms) with the
        registration the user ran on it, in its own process (registration, fusion and the report's
        figures hold Python's global lock for long stretches)."""
        fixed, moving = self.fixed.layer(), self.moving.layer()
        if fixed is None or moving is None or fixed is moving:
            self.runner.show_message("choose two different series for the report", error=True)
            return None
        masks = [layer_to_volume(x) for x in self.viewer.layers
                 if x.__class__.__name__ == "Labels" and is_medfuse_data_layer(x)]

        folder = self._out("study")

        def done(paths: dict[str, Path]) -> None:
            # short, so that the panel keeps its width (a wider dock resizes and redraws every view)
            self.result.value = f"study folder written: {folder.parent.name}/{folder.name}/ " \
                f"({len(paths)} outputs)"
            self.result.tooltip = "\n".join(str(p) for p in paths.values())

        return self.run(in_subprocess, study_report, layer_to_volume(fixed),
                        layer_to_volume(moving), moving.metadata.get("registration"), masks,
                        folder, description="study report", on_done=done, control=True)

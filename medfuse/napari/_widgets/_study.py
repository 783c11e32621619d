"""Study panel: open a study (folder or files) or the sample study, list its series, pick fixed/moving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from magicgui.widgets import FileEdit, PushButton
from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from medfuse.napari._layers import LayerDataTuple, is_medfuse_data_layer
from medfuse.napari._reference import REFERENCE_RULE
from medfuse.napari._widgets._common import LayerPicker, Panel, info_label

COLUMNS = ("series", "modality", "units", "size", "spacing (mm)", "origin (LPS mm)")


def add_layer_data(viewer: Any, layers: list[LayerDataTuple]) -> list[Any]:
    """Add layer data tuples to ``viewer`` (UI thread); returns the new layers."""
    from medfuse.napari._layers import create_layer

    opened = max([x.metadata.get("opened", 0) for x in viewer.layers] or [0])
    added = [viewer.add_layer(create_layer(item)) for item in layers]
    for order, layer in enumerate(_in_file_order(added), start=opened + 1):
        layer.metadata["opened"] = order
    if added:
        viewer.reset_view()
    return added


def _in_file_order(layers: list[Any]) -> list[Any]:
    """``layers`` in the order their series were read (the reader stacks them for display)."""
    return sorted(layers, key=lambda x: x.metadata.get("read_order", 0))


def series_rows(viewer: Any) -> list[tuple[str, ...]]:
    """One row per data layer, top first: name, modality, units, size, spacing, origin."""
    from medfuse.napari._layers import layer_to_volume

    rows = []
    for layer in reversed(list(viewer.layers)):
        if not is_medfuse_data_layer(layer):
            continue
        volume = layer_to_volume(layer)
        rows.append((
            layer.name, volume.modality, volume.units,
            "x".join(map(str, volume.size)),
            "x".join(f"{s:.3g}" for s in volume.spacing),
            ", ".join(f"{o:.1f}" for o in volume.origin),
        ))
    return rows


def default_pair(viewer: Any) -> tuple[str | None, str | None]:
    """The natural fixed and moving series, by :data:`~medfuse.napari._reference.REFERENCE_RULE`
    over the image layers in the order they were opened."""
    import numpy as np

    from medfuse.napari._layers import layer_data_to_world
    from medfuse.napari._reference import moving_index, reference_index

    layers = [x for x in viewer.layers if is_medfuse_data_layer(x) and x.__class__.__name__ == "Image"
              and "comparison" not in x.metadata]
    layers.sort(key=lambda x: x.metadata.get("opened", 0))
    codes = [str(x.metadata.get("modality", "OT")) for x in layers]
    voxels = [abs(float(np.linalg.det(layer_data_to_world(x)[-4:-1, -4:-1]))) for x in layers]
    fixed = reference_index(codes, voxels)
    moving = moving_index(codes, fixed)
    return (layers[fixed].name if fixed is not None else None,
            layers[moving].name if moving is not None else None)


class StudyPanel(Panel):
    """Open a study, see its series (modality, units, geometry), choose the fixed and moving series."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(viewer, labels=True)
        self.path = FileEdit(label="study", mode="d", tooltip="a DICOM or NIfTI study folder")
        self.open_button = PushButton(text="Open study")
        self.sample_button = PushButton(text="Open the sample study")
        self.fixed = LayerPicker(viewer, label="fixed")
        self.moving = LayerPicker(viewer, label="moving")
        self.rule = info_label(REFERENCE_RULE)
        self.extend([self.path, self.open_button, self.sample_button, self.fixed, self.moving,
                     self.rule])
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(120)
        self.native.layout().addWidget(self.table)
        self.follow_selection(self.fixed, self.moving)
        self.open_button.changed.connect(lambda: self.open(self.path.value))
        self.sample_button.changed.connect(self.open_sample)
        for name in ("inserted", "removed", "moved"):
            getattr(viewer.layers.events, name).connect(self.refresh)
        self.finish_layout()
        self.refresh()

    def open(self, path: str | Path | list[str | Path], *,
             overrides: dict[str, tuple[str | None, str | None]] | None = None) -> Any:
        """Load a study folder or files in a worker and add its series as layers (``overrides``:
        ``{file: (modality, units)}`` for NIfTI files, see ``read_layers``)."""
        from medfuse.napari._reader import read_layers

        paths = [str(p) for p in path] if isinstance(path, (list, tuple)) else [str(path)]
        if not paths or paths == ["."] or any(not p for p in paths):
            self.runner.show_message("choose a study folder first", error=True)
            return None
        return self.run(read_layers, paths, overrides=overrides,
                        description=f"loading {', '.join(paths)}", on_done=self._add)

    def open_sample(self, *_: Any) -> Any:
        """Make the sample study in a worker and add it."""
        from medfuse.napari._sample_data import sample_study

        return self.run(sample_study, description="making the sample study", on_done=self._add)

    def _add(self, layers: list[LayerDataTuple]) -> None:
        """Add what was read; name in the status line what could not be shown (red)."""
        problems = list(getattr(layers, "problems", ()))
        added = add_layer_data(self.viewer, layers)
        fixed, moving = default_pair(self.viewer)
        self.selection.set(fixed=fixed, moving=moving)
        text = f"{len(added)} series loaded"
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            text += f"; not shown: {problems[0]}{more}"
        self.runner.show_message(text, error=bool(problems))

    def refresh(self, _event: Any = None) -> None:
        """Rebuild the series table from the viewer's layers."""
        rows = series_rows(self.viewer)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

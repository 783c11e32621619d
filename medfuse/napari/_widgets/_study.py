"""Study panel: open a study (folder or files) or the sample study, list its series, pick fixed/moving."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from magicgui.widgets import FileEdit, PushButton
from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from medfuse.napari._layers import LayerDataTuple, is_medfuse_data_layer
from medfuse.napari._reference import REFERENCE_RULE
from medfuse.napari._widgets._common import LayerPicker, Panel, info_label

COLUMNS = ("series", "modality", "units", "size", "spacing (mm)", "origin (LPS mm)")


def add_layer_data(viewer: Any, layers: Sequence[LayerDataTuple | Any]) -> list[Any]:
    """Add layer data tuples (or layers made from them) to ``viewer`` at once (UI thread);
    returns the new layers. :func:`adding_layers` adds them one per step."""
    added: list[Any] = []
    for _ in adding_layers(viewer, layers, added=added):
        pass
    return added


def adding_layers(viewer: Any, layers: Sequence[LayerDataTuple | Any], *,
                  added: list[Any]) -> Iterator[None]:
    """Add ``layers`` (layer data tuples, or layers made from them in a worker) to ``viewer``, one
    per step, into ``added``; then fit the view and make the last one the active layer.

    napari makes a layer's canvas visual and controls, and redraws, in the one call that adds
    it (and activates it, which shows its controls): one layer per step keeps each event-loop
    turn short. ``opened`` (metadata) numbers the layers in the order their series were read.
    """
    from medfuse.napari._layers import create_layer

    opened = max([x.metadata.get("opened", 0) for x in viewer.layers] or [0])
    items = list(layers)
    read_order = [_metadata(item).get("read_order", 0) for item in items]
    ranks = {i: rank for rank, i in enumerate(sorted(range(len(items)), key=read_order.__getitem__),
                                              start=opened + 1)}
    for i, item in enumerate(items):
        layer = create_layer(item) if isinstance(item, tuple) else item
        layer.metadata["opened"] = ranks[i]
        with _not_activated(viewer):
            viewer.add_layer(layer)
        added.append(layer)
        yield
    if added:
        viewer.reset_view()
        yield
        viewer.layers.selection.active = added[-1]


def _metadata(item: Any) -> dict[str, Any]:
    return item[1].get("metadata", {}) if isinstance(item, tuple) else item.metadata


@contextmanager
def _not_activated(viewer: Any) -> Iterator[None]:
    """A new layer does not become the active one (napari shows its controls at once)."""
    layers = viewer.layers
    before = layers._activate_on_insert
    layers._activate_on_insert = False
    try:
        yield
    finally:
        layers._activate_on_insert = before


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


def made_layers(read: Callable[..., list[LayerDataTuple]], *args: Any, **kwargs: Any) -> list[Any]:
    """A worker task: ``read(*args, **kwargs)`` (layer data tuples), made into napari layers here,
    off the UI thread (keeping the ``problems`` of a ``StudyLayers``)."""
    from medfuse.napari._layers import create_layer

    layer_data = read(*args, **kwargs)
    made = [create_layer(item) for item in layer_data]
    problems = getattr(layer_data, "problems", None)
    return made if problems is None else type(layer_data)(made, problems)


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
        #: true when every view has caught up with the layers shown (the window sets it)
        self.views_ready: Callable[[], bool] = lambda: True
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
        return self.run(made_layers, read_layers, paths, overrides=overrides,
                        description=f"loading {', '.join(paths)}", on_done=self.showing)

    def open_sample(self, *_: Any) -> Any:
        """Make the sample study in a worker and add it."""
        from medfuse.napari._sample_data import sample_study

        return self.run(made_layers, sample_study, description="making the sample study",
                        on_done=self.showing)

    def showing(self, layers: Sequence[LayerDataTuple | Any]) -> Iterator[Any]:
        """Add what was read, one layer per step, each after every view has caught up with the
        last (``views_ready``); then choose the fixed and moving series and say in the status line
        what could not be shown (red). The Study panel's task: see ``TaskRunner.start``."""
        problems = list(getattr(layers, "problems", ()))
        added: list[Any] = []
        for count, _ in enumerate(adding_layers(self.viewer, layers, added=added), start=1):
            if count < len(layers):
                self.runner.show_message(f"showing {count} of {len(layers)} series…")
            yield self.views_ready
        fixed, moving = default_pair(self.viewer)
        self.selection.set(fixed=fixed, moving=moving)
        text = f"{len(added)} series loaded"
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            text += f"; not shown: {problems[0]}{more}"
        self.runner.show_message(text, error=bool(problems))

    def _add(self, layers: Sequence[LayerDataTuple | Any]) -> None:
        """:meth:`showing` at once (tests, scripts)."""
        for _ in self.showing(layers):
            pass

    def refresh(self, _event: Any = None) -> None:
        """Rebuild the series table from the viewer's layers."""
        rows = series_rows(self.viewer)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

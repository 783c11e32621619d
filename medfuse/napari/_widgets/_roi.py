"""ROI panel: the report's statistics of every image inside a label layer, kept live.

For the chosen label layer (an RTSTRUCT ROI, a NIfTI mask, a sphere drawn here, a painted region)
each image layer gets one row per label: volume, mean and SD in its units; for PET/SPECT in SUV
SUVmax, SUVmean, SUVpeak, MTV (41 % of SUVmax) and TLG; for CT HU mean and SD. The numbers are
``medfuse.quantify.roi.roi_statistics``, the function the report uses, on each image's own grid
(the mask is mapped onto it by position). They are recomputed in a worker whenever the mask is
painted or the layers change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import FloatSpinBox, PushButton
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from medfuse.napari._layers import create_layer, labels_layer_data, layer_name, layer_to_volume
from medfuse.napari._widgets._common import LayerPicker, Panel, info_label
from medfuse.volume import Volume

COLUMNS = ("series", "ROI", "volume (ml)", "mean", "SD", "SUVmax", "SUVmean", "SUVpeak",
           "MTV41 (ml)", "TLG41")
#: quiet time after the last paint stroke or layer change before the statistics are recomputed
_DEBOUNCE_MS = 300
#: widest the series and ROI name columns get (pixels), so that the statistics stay in view
_NAME_PX = 96


def roi_rows(images: list[Volume], mask: Volume, *, name: str) -> list[tuple[str, ...]]:
    """One table row per (image, label): the statistics of :data:`COLUMNS` as text, the series
    named as its layer is (modality first, so that a cut name still says which series it is).

    Examples
    --------
    >>> ct = Volume(np.full((4, 4, 4), 40, np.int16), spacing=(2.0, 2.0, 2.0), modality="CT",
    ...             units="HU", meta={"description": "ct"})
    >>> mask = ct.with_array(np.ones((4, 4, 4), np.uint8), modality="SEG", units="label")
    >>> roi_rows([ct], mask, name="box")[0][:5]
    ('CT ct', 'box', '0.512', '40.0 HU', '0')
    """
    from medfuse.quantify.roi import roi_statistics

    known = {int(k): str(v) for k, v in (mask.meta.get("labels") or {}).items()}
    present = [int(v) for v in np.unique(np.asarray(mask.array)) if v != 0]
    labels = {v: known.get(v, name if len(present) == 1 else f"{name} {v}") for v in present}
    rows = []
    for image in images:
        for entry in roi_statistics(image, mask, labels=labels):
            rows.append((
                layer_name(image), str(entry["name"]), _number(entry["volume_ml"]),
                f"{_number(entry['mean'])} {entry['units']}", _number(entry["sd"]),
                *(_number(entry.get(k)) for k in ("suv_max", "suv_mean", "suv_peak", "mtv41_ml",
                                                   "tlg41")),
            ))
    return rows


def _number(value: Any) -> str:
    if value is None:
        return "-"
    value = float(value)
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def sphere_mask(reference: Volume, centre_lps: Any, radius_mm: float) -> Volume:
    """A label map on ``reference``'s grid: 1 inside the sphere of ``radius_mm`` around
    ``centre_lps`` (x, y, z mm).

    Examples
    --------
    >>> ref = Volume(np.zeros((9, 9, 9)), spacing=(1.0, 1.0, 1.0))
    >>> int(sphere_mask(ref, (4.0, 4.0, 4.0), 1.0).array.sum())
    7
    """
    z, y, x = np.indices(reference.array.shape[:3])
    index = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    distance = np.linalg.norm(reference.index_to_world(index) - np.asarray(centre_lps), axis=1)
    inside = (distance <= radius_mm).reshape(z.shape).astype(np.uint8)
    return reference.with_array(inside, modality="SEG", units="label",
                                meta={"description": f"sphere {radius_mm:g} mm",
                                      "label_map": True, "labels": {1: f"sphere {radius_mm:g} mm"}})


class ROIPanel(Panel):
    """Statistics of every image inside a label layer (live), and a sphere ROI at the cursor."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(viewer, labels=True)
        self.mask = LayerPicker(viewer, label="ROI layer", kinds=("Labels",))
        self.radius = FloatSpinBox(label="sphere radius (mm)", value=10.0, min=1.0, max=100.0)
        self.sphere_button = PushButton(text="Sphere ROI at the cursor")
        self.note = info_label("statistics as in the report (medfuse.quantify.roi), on each "
                               "series' own grid")
        self.extend([self.mask, self.radius, self.sphere_button, self.note])
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(160)
        self.native.layout().addWidget(self.table)
        self._timer = QTimer(self.native)  # ends with the panel
        self._timer.setSingleShot(True)
        self._timer.setInterval(_DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self._watched: Any = None
        self.mask.changed.connect(self._watch)
        self.sphere_button.changed.connect(self.add_sphere)
        for name in ("inserted", "removed"):
            getattr(viewer.layers.events, name).connect(self._schedule)
        self.finish_layout()
        self._watch()

    def _watch(self, *_: Any) -> None:
        """Follow the chosen label layer's painting (and nothing else's)."""
        if self._watched is not None:
            for name in ("paint", "data", "labels_update"):
                emitter = getattr(self._watched.events, name, None)
                if emitter is not None:
                    emitter.disconnect(self._schedule)
        self._watched = self.mask.layer()
        if self._watched is not None:
            for name in ("paint", "data", "labels_update"):
                emitter = getattr(self._watched.events, name, None)
                if emitter is not None:
                    emitter.connect(self._schedule)
        self._schedule()

    def _schedule(self, *_: Any) -> None:
        try:
            self._timer.start()
        except RuntimeError:  # the panel was closed before the viewer's layers
            return

    def refresh(self) -> Any:
        """Recompute the table in a worker (the last request wins)."""
        layer = self.mask.layer()
        if layer is not self._watched:  # the picker chose it by itself as layers came
            self._watch()
        images = [x for x in self.viewer.layers if x.__class__.__name__ == "Image"
                  and not getattr(x, "rgb", False) and "comparison" not in x.metadata]
        if layer is None or not images:
            self.table.setRowCount(0)
            return None
        if self.runner.running:
            self.runner.cancel()
        mask = layer_to_volume(layer)
        return self.run(roi_rows, [layer_to_volume(x) for x in images], mask, name=layer.name,
                        description=f"statistics in {layer.name}", on_done=self._show)

    def _show(self, rows: list[tuple[str, ...]]) -> None:
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        for c in (0, 1):  # long series and ROI names are cut (whole in the tooltip): numbers first
            self.table.setColumnWidth(c, min(self.table.columnWidth(c), _NAME_PX))
        if rows:
            self.runner.show_message(f"{len(rows)} row(s)")
        else:
            self.runner.show_message(f"{self.mask.value}: no voxel of the ROI lies on any series "
                                     "(empty, or outside every image)", error=True)

    def add_sphere(self, *_: Any) -> Any:
        """Add a sphere ROI of the chosen radius at the cursor, on the fixed series' grid."""
        reference = self.fixed_volume()
        if reference is None:
            self.runner.show_message("open a study first: the sphere is drawn on the fixed "
                                     "series' grid", error=True)
            return None
        centre = tuple(float(v) for v in self.viewer.dims.point[-3:])[::-1]
        mask = sphere_mask(reference, centre, float(self.radius.value))
        layer = self.viewer.add_layer(create_layer(labels_layer_data(mask)))
        self.mask.value = layer.name
        return layer

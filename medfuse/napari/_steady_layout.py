"""Keep the canvases' sizes steady while layers arrive.

A ``QOpenGLWidget`` that is resized repaints at once, inside the resize (Qt renders into the new
framebuffer before it returns), and under software OpenGL each repaint of a canvas costs tens of
milliseconds. Two things resized every canvas of the window as the first layer arrived: the
slice slider row of each view appearing (napari's ``QtDims`` grows from no slider to one), and the
layer controls dock widening to the first layer's controls (napari's stack of controls is as wide
as the widest it holds). Here each view's slider row keeps one slider's height from the start
(MedFuse shows 2D and 3D series: at most one slider), and the controls keep the width of an image
or labels layer's controls from the start.
"""

from __future__ import annotations

from typing import Any


def hold_slider_row(qt_viewer: Any) -> None:
    """Give ``qt_viewer``'s slider row (napari ``QtDims``) one slider's height, fixed, whether or
    not a slider shows, so that the canvas above it keeps its size."""
    from qtpy.QtWidgets import QVBoxLayout, QWidget

    dims = qt_viewer.dims
    parent = dims.parentWidget()
    if parent is None or parent.objectName() == "medfuse_slider_row":
        return
    row = QWidget()
    row.setObjectName("medfuse_slider_row")
    box = QVBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    parent.layout().replaceWidget(dims, row)
    box.addWidget(dims)
    row.setFixedHeight(int(dims.SLIDERHEIGHT))


def reserve_controls_width(qt_viewer: Any) -> None:
    """Make ``qt_viewer``'s layer controls as wide from the start as an image or labels layer's
    controls will make them (measured on two tiny layers' controls inside the controls' stack, so
    with the window's style sheet: unstyled they measure 30-60 px narrower and the real controls'
    texts are cut; then dropped)."""
    import numpy as np
    from napari._qt.layer_controls.qt_layer_controls_container import create_qt_layer_controls
    from napari.layers import Image, Labels

    widths = []
    for layer in (Image(np.zeros((2, 2), np.float32)), Labels(np.zeros((2, 2), np.int32))):
        controls = create_qt_layer_controls(layer)
        qt_viewer.controls.addWidget(controls)
        controls.ensurePolished()
        widths.append(controls.sizeHint().width())
        qt_viewer.controls.removeWidget(controls)
        controls.deleteLater()
    qt_viewer.controls.setMinimumWidth(max(widths))

"""Window/level of an image layer: by mouse drag (as in OHIF and Slicer), typed values or presets.

A right- or middle-button drag over a view changes the display window of the active image layer:
left/right narrows/widens the window, up/down lowers/raises the level (the window's centre), both
by a step that follows the layer's value range (HU for a CT, SUV for a PET). The colour bar and the
orthogonal views follow the layer's contrast limits, so they stay consistent with what is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np

#: buttons that set the window (vispy numbering: 1 left, 2 right, 3 middle)
DRAG_BUTTONS = (2, 3)
#: screen pixels of drag that move the window across the layer's whole value range
_PIXELS_PER_RANGE = 800.0


def window_level(limits: Any) -> tuple[float, float]:
    """``(width, level)`` of contrast limits ``(lower, upper)``.

    Examples
    --------
    >>> window_level((-160.0, 240.0))
    (400.0, 40.0)
    """
    lower, upper = (float(v) for v in limits)
    return upper - lower, (upper + lower) / 2


def limits_of(width: float, level: float) -> tuple[float, float]:
    """Contrast limits ``(lower, upper)`` of a window ``width`` centred on ``level``.

    Examples
    --------
    >>> limits_of(1500.0, -600.0)
    (-1350.0, 150.0)
    """
    half = max(float(width), 1e-6) / 2
    return float(level) - half, float(level) + half


def dragged_limits(limits: Any, values: Any, shift: Any) -> tuple[float, float]:
    """The contrast limits after a drag of ``shift`` screen pixels (x right, y down) from
    ``limits``: width grows to the right, level rises downwards (the image darkens), each pixel
    worth 1/800 of the value range ``values``; the width never falls below 1/1000 of the range.

    Examples
    --------
    >>> dragged_limits((-160.0, 240.0), (-1024.0, 3072.0), (100, 0))  # wider by 512 HU
    (-416.0, 496.0)
    >>> dragged_limits((0.0, 10.0), (0.0, 40.0), (0, -100))  # up: level 5 -> 0 SUV
    (-5.0, 5.0)
    """
    low, high = (float(v) for v in values)
    step = max(high - low, 1e-6) / _PIXELS_PER_RANGE
    width, level = window_level(limits)
    dx, dy = (float(v) for v in shift)
    return limits_of(max(width + dx * step, (high - low) / 1000), level + dy * step)


def set_window(layer: Any, limits: Any) -> None:
    """Set ``layer``'s contrast limits, widening its slider range when they leave it."""
    lower, upper = (float(v) for v in limits)
    low, high = layer.contrast_limits_range
    if lower < low or upper > high:
        layer.contrast_limits_range = (min(low, lower), max(high, upper))
    layer.contrast_limits = (lower, upper)


def window_layer(viewer: Any) -> Any:
    """The layer a drag or typed window applies to: the active layer when it is a grey or colour-
    mapped image, else the top visible one; None without such a layer."""
    def fits(layer: Any) -> bool:
        return layer.__class__.__name__ == "Image" and not getattr(layer, "rgb", False)

    active = viewer.layers.selection.active
    if active is not None and fits(active):
        return active
    return next((x for x in reversed(list(viewer.layers)) if fits(x) and x.visible), None)


def value_range(layer: Any) -> tuple[float, float]:
    """The range a drag moves across: the layer's values (a subsample of about a million
    voxels, never the whole array) and its current window.

    Examples
    --------
    >>> from napari.layers import Image
    >>> value_range(Image(np.arange(24.0).reshape(2, 3, 4), contrast_limits=(5.0, 30.0)))
    (0.0, 30.0)
    """
    data = layer.data
    step = max(1, int(round((data.size / 1_000_000) ** (1 / max(data.ndim, 1)))))
    sample = np.asarray(data[(slice(None, None, step),) * data.ndim])
    lower, upper = layer.contrast_limits
    return min(float(sample.min()), lower), max(float(sample.max()), upper)


def window_drag(viewer: Any) -> Callable[[Any, Any], Generator[None, None, None]]:
    """A napari mouse-drag callback for any view (the main viewer's or an orthogonal view's model)
    that sets the window of ``viewer``'s :func:`window_layer` while the right or middle button
    drags. The view's camera does not pan or zoom meanwhile."""
    def drag(model: Any, event: Any) -> Generator[None, None, None]:
        layer = window_layer(viewer)
        if event.button not in DRAG_BUTTONS or layer is None:
            return
        start = np.asarray(event.pos, float)
        limits, values = tuple(layer.contrast_limits), value_range(layer)
        camera = getattr(model, "scene", model).camera  # scene.camera since napari 0.9
        pan = camera.mouse_pan
        camera.mouse_pan = False  # vispy's camera zooms on a right drag
        try:
            yield
            while event.type == "mouse_move":
                set_window(layer, dragged_limits(limits, values,
                                                 np.asarray(event.pos, float) - start))
                yield
            set_window(layer, dragged_limits(limits, values,  # where the button came up
                                             np.asarray(event.pos, float) - start))
        finally:
            camera.mouse_pan = pan

    return drag


def install_window_drag(*models: Any, viewer: Any) -> None:
    """Let a right or middle drag over each of ``models``' views set ``viewer``'s window."""
    for model in models:
        model.mouse_drag_callbacks.append(window_drag(viewer))

"""What a reader expects printed on each view: orientation letters, the slice position in mm, the
view's name, and colour bars with the HU / SUV scale of the layers shown.

They are napari canvas overlays, so they are drawn in every frame and in every screenshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from medfuse.modalities import get_modality

#: letters at the (top, bottom, left, right) edges of each view, in the radiological convention
#: (the patient's right on the screen's left; sagittal with anterior on the left)
ORIENTATION: dict[str, tuple[str, str, str, str]] = {
    "axial": ("A", "P", "R", "L"),
    "coronal": ("S", "I", "R", "L"),
    "sagittal": ("S", "I", "A", "P"),
    "mip": ("S", "I", "R", "L"),
}
#: world axis (napari z, y, x) across which each view slices, and the letters of its two ends
_SLICE_AXIS = {"axial": (0, "I", "S"), "coronal": (1, "A", "P"), "sagittal": (2, "R", "L")}
_TITLES = {"axial": "axial", "coronal": "coronal", "sagittal": "sagittal", "mip": "PET MIP\n(coronal)"}
_LETTER_COLOR = (1.0, 0.85, 0.3, 1.0)
_POSITIONS = ("top_center", "bottom_center", "middle_left", "middle_right")


def annotate_view(model: Any, plane: str) -> None:
    """Put orientation letters on the four edges of ``model``'s canvas and its title top left."""
    for _ in annotating_view(model, plane):
        pass


def annotating_view(model: Any, plane: str, *, visible: bool = True) -> Iterator[None]:
    """:func:`annotate_view` in steps, one canvas overlay each (napari makes an overlay's vispy
    visuals when it is added: tens of milliseconds each); hidden unless ``visible`` (see
    :func:`showing_annotations`)."""
    from napari.components.overlays import TextOverlay

    overlays = model.canvas.overlays
    for position, letter in zip(_POSITIONS, ORIENTATION[plane]):
        overlays[f"medfuse_{position}"] = TextOverlay(
            visible=visible, text=letter, position=position, font_size=13, color=_LETTER_COLOR,
            box=False)
        yield
    overlays["text"].visible = visible
    overlays["text"].position = "top_left"
    overlays["text"].font_size = 10
    overlays["text"].color = (0.9, 0.9, 0.9, 1.0)
    update_slice_text(model, plane)


#: every character a view's title can hold (:func:`slice_text`), in the order they are primed
_TITLE_GLYPHS = "".join(sorted(set("axial coronal sagittal PET MIP () RLAPSI 0123456789.-m")))
#: glyphs primed per step by :func:`priming_title_glyphs` (each is rendered on the CPU: ~6 ms)
_GLYPHS_PER_STEP = 8


def prime_title_glyphs(model: Any, canvas: Any) -> None:
    """Load every character a title can show into the glyph atlas of ``model``'s title on
    ``canvas`` (its napari ``VispyCanvas``), in one fixed order, when the view is made. vispy packs
    glyphs into a text's atlas in the order they are first drawn, so the slice positions a view
    happened to draw on the way (which depends on the machine's load) would move each glyph's
    texels and change the title's pixels: primed, the same view gives the same picture."""
    for _ in priming_title_glyphs(model, canvas):
        pass


def priming_title_glyphs(model: Any, canvas: Any) -> Iterator[None]:
    """:func:`prime_title_glyphs` in steps of a few glyphs (in the same order); the canvas must
    draw nothing before the last step."""
    title = model.canvas.overlays["text"]
    for visual in canvas._viewer_overlay_to_visual.get(title, []):
        font = getattr(visual.node, "_font", None)
        for start in range(0, len(_TITLE_GLYPHS) if font is not None else 0, _GLYPHS_PER_STEP):
            for char in _TITLE_GLYPHS[start:start + _GLYPHS_PER_STEP]:
                font[char]  # loads the glyph into the atlas when missing
            yield


def show_annotations(model: Any, visible: bool) -> None:
    """Show or hide ``model``'s orientation letters and title (colour bars stay with their layers)."""
    for _ in showing_annotations(model, visible):
        pass


def showing_annotations(model: Any, visible: bool) -> Iterator[None]:
    """:func:`show_annotations` in steps, one overlay each: the first frame that draws a text
    builds its shader program (tens of milliseconds each under software OpenGL)."""
    for key, overlay in list(model.canvas.overlays.items()):
        if (key.startswith("medfuse_") or key == "text") and overlay.visible != visible:
            overlay.visible = visible
            yield


def slice_text(point: Any, plane: str) -> str:
    r"""The view's title and, on a second line (clear of the top orientation letter in a narrow
    view), the slice position in LPS mm: ``axial`` / ``S 12.5 mm``.

    Examples
    --------
    >>> slice_text((-12.5, 30.0, 4.0), "axial"), slice_text((0.0, -30.0, 4.0), "coronal")
    ('axial\nI 12.5 mm', 'coronal\nA 30.0 mm')
    >>> slice_text((0.0, 0.0, 4.0), "sagittal"), slice_text((0.0, 0.0, 0.0), "mip")
    ('sagittal\nL 4.0 mm', 'PET MIP\n(coronal)')
    """
    if plane not in _SLICE_AXIS or len(point) < 3:
        return _TITLES[plane]
    axis, negative, positive = _SLICE_AXIS[plane]
    value = float(point[len(point) - 3 + axis])
    return f"{_TITLES[plane]}\n{positive if value >= 0 else negative} {abs(value):.1f} mm"


def update_slice_text(model: Any, plane: str) -> None:
    """Refresh the slice position printed on ``model``'s view (when it changed)."""
    text = slice_text(tuple(model.dims.point), plane)
    overlay = model.canvas.overlays.get("text")
    if overlay is not None and overlay.text != text:
        overlay.text = text


#: the colour bar of each kind of layer: its corner and the key of its units caption
_COLORBARS = {"functional": ("top_right", "medfuse_units_functional"),
              "anatomy": ("bottom_right", "medfuse_units_anatomy")}


def colorbar_caption(layer: Any) -> str:
    r"""The units printed by a layer's colour bar: its units (``SUVbw``, ``HU``; a fused colour
    image's those of its colours' scale), or for a comparison layer what its scale is (short:
    views can be narrow).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> colorbar_caption(SimpleNamespace(metadata={"units": "SUVbw"}))
    'SUVbw'
    >>> colorbar_caption(SimpleNamespace(metadata={"units": "a.u.", "comparison": "difference"}))
    'fixed - moving\n(normalised)'
    >>> colorbar_caption(SimpleNamespace(metadata={"units": "RGB", "colour_scale": {"units": "BQML"}}))
    'BQML (fused)'
    """
    view = layer.metadata.get("comparison")
    if view == "difference":
        return "fixed - moving\n(normalised)"
    if view:
        return "normalised"
    scale = layer.metadata.get("colour_scale")
    if scale:
        return f"{scale.get('units') or 'a.u.'} (fused)"
    return str(layer.metadata.get("units") or "a.u.")


def give_colour_scale_bar(layer: Any) -> None:
    """Give a fused colour layer (RGB, ``metadata["colour_scale"]`` from the fusion engine) a
    colour bar of its colours' scale: the functional input's colormap over the window, in its
    units (SUV, Bq/ml), that its colours were made over. Before the layer is added to a viewer.

    napari draws a colour bar from a layer's colormap and contrast limits, which for an RGB layer
    say nothing of its colours; its colour bar can instead read them from a model the layer holds
    (as its Points layers do for their colours), which is what the fused layer gets here.
    """
    scale = layer.metadata.get("colour_scale")
    if not scale or not getattr(layer, "rgb", False):
        return
    from napari.components.overlays import ColorBarOverlay
    from napari.utils.colormaps import ensure_colormap

    model = _colour_scale_model()
    layer.colour_scale = model(contrast_limits=tuple(scale["window"]),
                               continuous_colormap=ensure_colormap(scale["colormap"]))
    layer._overlays["colorbar"] = ColorBarOverlay(colormanager_attribute="colour_scale")


@cache
def _colour_scale_model() -> type:
    """The model class (made on first use: napari loads with the window, not with this module)."""
    from napari.utils.colormaps import Colormap
    from napari.utils.events import EventedModel

    class ColourScale(EventedModel):
        """What napari's colour bar reads of a colour manager: the limits and the colormap."""

        contrast_limits: tuple[float, float]
        continuous_colormap: Colormap

    ColourScale.model_rebuild(_types_namespace={"Colormap": Colormap})  # names as strings here
    return ColourScale


def update_colorbars(viewer: Any, *, enabled: bool = True) -> None:
    """Show the colour bar (with its scale and units) of the top visible functional layer (SUV; a
    fused colour image's scale) at the top right and of the top visible other layer (HU, or a
    comparison's normalised scale) at the bottom right; hide the others' (all of them when not
    ``enabled``)."""
    from napari.components.overlays import TextOverlay

    shown: dict[str, Any] = {} if enabled else {"functional": None, "anatomy": None}
    for layer in reversed(list(viewer.layers)):
        colorbar = getattr(layer, "colorbar", None)
        scaled = hasattr(layer, "colour_scale")  # a fused colour image (give_colour_scale_bar)
        if colorbar is None or layer.__class__.__name__ != "Image" or (
                getattr(layer, "rgb", False) and not scaled):
            continue
        functional = scaled or get_modality(str(layer.metadata.get("modality", "OT"))).functional
        kind = "functional" if functional else "anatomy"
        wanted = layer.visible and kind not in shown
        if wanted:
            shown[kind] = layer
            colorbar.position = _COLORBARS[kind][0]
            colorbar.font_size = 9
            colorbar.size = (12, 110)
        if colorbar.visible != wanted:
            colorbar.visible = wanted
    overlays = viewer.canvas.overlays
    viewer.canvas.overlay_tiling.top_right = "vertical"  # the units above the bar, not beside it
    for kind, (position, key) in _COLORBARS.items():
        layer = shown.get(kind)
        if key not in overlays:
            overlays[key] = TextOverlay(visible=False, position=position, font_size=9,
                                        color=(0.9, 0.9, 0.9, 1.0), box=False)
        text = colorbar_caption(layer) if layer is not None else ""
        if overlays[key].text != text or overlays[key].visible != bool(text):
            overlays[key].text, overlays[key].visible = text, bool(text)

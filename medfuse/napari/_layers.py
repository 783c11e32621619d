"""``Volume`` <-> napari layer: placement in world millimetres and modality display defaults.

napari's world axes are the LPS axes reversed (z, y, x), so the main 2D view is axial with the patient's
left on the right of the screen and anterior at the top (the radiological convention). Every layer is
placed by ``Volume.napari_affine()``: a PET on a 4 mm grid overlays a CT on a 1 mm grid without any
resampling.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from medfuse.modalities import get_modality
from medfuse.volume import Volume

if TYPE_CHECKING:  # pragma: no cover
    from napari.layers import Layer

LayerDataTuple = tuple[np.ndarray, dict[str, Any], str]


def _robust_range(array: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """Percentiles of the non-zero voxels of a subsample (fast on 100-million-voxel CTs)."""
    step = max(1, int(round((array.size / 2_000_000) ** (1 / max(array.ndim, 1)))))
    sample = np.asarray(array[(slice(None, None, step),) * array.ndim], dtype=np.float32)
    nonzero = sample[sample != 0]
    if nonzero.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(nonzero, [low, high]))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def window_presets(volume_or_code: Volume | str, *, units: str | None = None) -> dict[str, tuple[float, float]]:
    """Named display windows for a modality (CT: soft tissue, brain, lung, bone; PET: SUV ranges).

    Windows of a modality spec apply only when the values are in that modality's display units
    (a PET in Bq/ml gets no SUV windows).

    Examples
    --------
    >>> list(window_presets("CT"))
    ['soft tissue', 'brain', 'lung', 'bone']
    >>> window_presets("PT", units="BQML")
    {}
    """
    if isinstance(volume_or_code, Volume):
        code, units = volume_or_code.modality, volume_or_code.units
    else:
        code = volume_or_code
    spec = get_modality(code)
    if spec.code == "PT" and units not in (None, "SUVbw", "SUV"):
        return {}
    return dict(spec.windows)


#: overlay transparency ramp as fractions of the display window: fully transparent at or below
#: ``_CLEAR``, fully opaque from ``_OPAQUE`` (PET SUV 0-10: clear up to SUV 1, opaque from 3.5)
_CLEAR, _OPAQUE = 0.1, 0.35


def overlay_colormap(name: str) -> Any:
    """napari colormap ``name`` with an alpha ramp: low values transparent, hot values opaque.

    A functional overlay drawn with it leaves the anatomy untinted where uptake is low (soft tissue
    at SUV ~1) and shows the colour only where uptake rises.

    Examples
    --------
    >>> cmap = overlay_colormap("inferno")
    >>> cmap.name, float(cmap.map([0.0])[0, 3]), float(cmap.map([1.0])[0, 3])
    ('inferno overlay', 0.0, 1.0)
    """
    return _overlay_colormap(name)


@lru_cache(maxsize=None)
def _overlay_colormap(name: str) -> Any:
    from napari.utils.colormaps import Colormap, ensure_colormap

    controls = np.union1d(np.linspace(0.0, 1.0, 65), [_CLEAR, _OPAQUE])
    colors = np.array(ensure_colormap(name).map(controls), dtype=np.float32)
    colors[:, 3] = np.clip((controls - _CLEAR) / (_OPAQUE - _CLEAR), 0.0, 1.0)
    return Colormap(colors=colors, controls=controls, name=f"{name} overlay")


def display_defaults(volume: Volume, *, alone: bool = False) -> dict[str, Any]:
    """Colormap, contrast limits, blending, opacity and interpolation for ``volume``'s modality.

    Anatomical images (CT, MR) are grey and opaque; functional ones (PET, SPECT) are a colour map
    whose low end is transparent (:func:`overlay_colormap`), drawn over the anatomy, or opaque in
    the plain colour map when shown ``alone`` (no anatomy: the body outline stays visible). Images
    are drawn with linear interpolation, as reading stations do (a 4 mm PET voxel is no square
    block). CT opens on
    its first window (soft tissue), PET on SUV 0-10 when in SUV, other images on robust percentiles
    of a subsample (the data are never scanned whole).

    Examples
    --------
    >>> ct = Volume(np.zeros((2, 3, 4), np.int16), modality="CT", units="HU")
    >>> display_defaults(ct)["contrast_limits"]
    (-160.0, 240.0)
    """
    if volume.is_rgb:
        return {"blending": "translucent", "opacity": 1.0, "interpolation2d": "linear"}
    spec = get_modality(volume.modality)
    windows = window_presets(volume)
    if windows:
        limits = next(iter(windows.values()))
    elif spec.functional:
        limits = _robust_range(volume.array, 0.0, 99.9)
    else:
        limits = _robust_range(volume.array, 0.5, 99.5)
    if spec.functional:
        return {
            "colormap": spec.colormap if alone else overlay_colormap(spec.colormap),
            "contrast_limits": (float(limits[0]), float(limits[1])),
            "blending": "translucent_no_depth",
            "opacity": 1.0 if alone else 0.85,
            "interpolation2d": "linear",
        }
    return {
        "colormap": spec.colormap,
        "contrast_limits": (float(limits[0]), float(limits[1])),
        "blending": "translucent_no_depth",
        "opacity": 1.0,
        "interpolation2d": "linear",
    }


def layer_name(volume: Volume) -> str:
    """A short layer name: modality and series description (or file name)."""
    label = volume.meta.get("description") or volume.meta.get("name") or ""
    if not label and volume.meta.get("source"):
        label = str(volume.meta["source"]).rstrip("/").split("/")[-1]
        for suffix in (".nii.gz", ".nii", ".png", ".tif", ".tiff", ".dcm"):
            label = label[: -len(suffix)] if label.lower().endswith(suffix) else label
    words = label.split()
    if label and (volume.modality in ("OT", "SEG") or (len(words) > 1 and words[0] == volume.modality)):
        return label
    return f"{volume.modality} {label}".strip()


def volume_layer_data(volume: Volume, *, name: str | None = None, alone: bool = False,
                      **overrides: Any) -> LayerDataTuple:
    """The napari layer data tuple ``(array, kwargs, "image")`` for ``volume``.

    The array is passed by reference (an int16 CT stays int16); ``overrides`` replace defaults;
    ``alone`` shows a functional series opaque (see :func:`display_defaults`).

    Examples
    --------
    >>> pet = Volume(np.zeros((2, 3, 4), np.float32), spacing=(4, 4, 4), modality="PT", units="SUVbw")
    >>> data, kwargs, kind = volume_layer_data(pet)
    >>> kind, kwargs["colormap"].name, kwargs["blending"], np.diag(kwargs["affine"]).tolist()
    ('image', 'inferno overlay', 'translucent_no_depth', [4.0, 4.0, 4.0, 1.0])
    """
    kwargs = volume.napari_layer_kwargs()
    kwargs["metadata"] = {**kwargs["metadata"], "source_volume": _describe(volume)}
    kwargs.update(display_defaults(volume, alone=alone))
    kwargs["name"] = name or layer_name(volume)
    kwargs.update(overrides)
    return volume.array, kwargs, "image"


#: outline width of an ROI in screen pixels, and its colour when the ROI has none
ROI_OUTLINE_PX = 2
_ROI_COLOR = (0.2, 1.0, 0.4)


def label_names(array: np.ndarray, name: str, known: dict | None = None) -> dict[int, str]:
    """Names of the labels of ``array``: ``known`` when given (the array is not scanned), else
    one per value present, ``name`` (a single label) or ``name <value>`` (several).

    Examples
    --------
    >>> label_names(np.array([0, 1, 1]), "GTV"), label_names(np.array([0, 1, 3]), "lesion")
    ({1: 'GTV'}, {1: 'lesion 1', 3: 'lesion 3'})
    """
    if known:
        return {int(k): str(v) for k, v in known.items()}
    array = np.asarray(array)
    if array.dtype.kind in "bu" and array.size:
        counts = np.bincount(array.ravel().astype(np.intp, copy=False))
        values = [int(v) for v in np.flatnonzero(counts) if v != 0]
    else:
        values = [int(v) for v in np.unique(array) if v != 0]
    return {v: name if len(values) == 1 else f"{name} {v}" for v in values}


def labels_layer_data(volume: Volume, *, name: str | None = None) -> LayerDataTuple:
    """The napari layer tuple ``(array, kwargs, "labels")`` of a label map (lesions, masks, ROIs),
    drawn as an opaque outline (the uptake inside stays visible) in the ROI's colour. Its metadata
    say where it comes from (``label_map``, ``source``, ``format``) and name its labels
    (``labels``: the volume's own names, else the layer's name).

    Examples
    --------
    >>> mask = Volume(np.ones((2, 3, 4), np.uint8), modality="OT", units="label")
    >>> data, kwargs, kind = labels_layer_data(mask, name="lesions")
    >>> kind, kwargs["metadata"]["contour"], kwargs["opacity"], kwargs["metadata"]["labels"]
    ('labels', 2, 1.0, {1: 'lesions'})
    """
    kwargs = volume.napari_layer_kwargs()
    kwargs.pop("rgb", None)
    kwargs["metadata"] = {**kwargs["metadata"], "units": "label", "label_map": True}
    kwargs["name"] = name or str(volume.meta.get("description") or layer_name(volume))
    kwargs["metadata"]["labels"] = label_names(volume.array, kwargs["name"],
                                               volume.meta.get("labels"))
    kwargs["opacity"] = 1.0
    kwargs["metadata"]["contour"] = ROI_OUTLINE_PX  # set by create_layer (no such keyword)
    kwargs["blending"] = "translucent_no_depth"
    color = volume.meta.get("color")
    labels = np.unique(np.asarray(volume.array)[:: max(1, volume.array.shape[0] // 16)])
    if color is not None or len(labels) <= 2:
        rgb = np.asarray(color, float) / 255.0 if color is not None else np.asarray(_ROI_COLOR)
        kwargs["colormap"] = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0),
                              1: (*rgb[:3], 1.0)}
    return np.asarray(volume.array).astype(np.int32, copy=False), kwargs, "labels"


def create_layer(layer_data: LayerDataTuple) -> Layer:
    """A napari layer from a layer data tuple, ROIs outlined (``metadata["contour"]``), a fused
    colour image with the colour bar of its colours' scale.

    Examples
    --------
    >>> mask = Volume(np.ones((2, 3, 4), np.uint8), modality="SEG", units="label")
    >>> create_layer(labels_layer_data(mask, name="GTV")).contour
    2
    """
    from napari.layers import Layer

    from medfuse.napari._annotations import give_colour_scale_bar

    layer = Layer.create(*layer_data)
    if "contour" in layer.metadata and hasattr(layer, "contour"):
        layer.contour = int(layer.metadata["contour"])
    give_colour_scale_bar(layer)
    return layer


def _describe(volume: Volume) -> dict[str, Any]:
    return {"size": volume.size, "spacing": volume.spacing, "origin": volume.origin}


def _data_to_physical(layer: Layer) -> np.ndarray:
    """A layer's scale, translate, rotate and shear as one matrix (applied before its ``affine``)."""
    from napari.utils.transforms import Affine

    return Affine(
        scale=layer.scale, translate=layer.translate, rotate=layer.rotate, shear=layer.shear
    ).affine_matrix


def layer_data_to_world(layer: Layer) -> np.ndarray:
    """The full data -> world matrix of a layer (its ``affine`` composed with scale and translate)."""
    return np.asarray(layer.affine.affine_matrix) @ _data_to_physical(layer)


def set_layer_data(layer: Layer, data: np.ndarray, data_to_world: np.ndarray) -> None:
    """Show ``data``, placed by the matrix ``data_to_world``, in an existing layer.

    The layer keeps its name and display settings; replacing the data of a layer costs napari far
    less than a new layer (no new canvas visual, layer controls or mirrors in the other views).

    Examples
    --------
    >>> from napari.layers import Image
    >>> layer = Image(np.zeros((2, 3, 4)), scale=(2, 2, 2))
    >>> set_layer_data(layer, np.ones((4, 4, 4)), np.diag([3.0, 3.0, 3.0, 1.0]))
    >>> layer.data.shape, np.diag(layer_data_to_world(layer)).tolist()
    ((4, 4, 4), [3.0, 3.0, 3.0, 1.0])
    """
    # the new data are sliced and the viewer's dims re-fitted once, when the placement is set too
    with layer.events.data.blocker(), layer._block_refresh():
        layer.data = data
    layer.affine = np.asarray(data_to_world) @ np.linalg.inv(_data_to_physical(layer))
    layer.events.data(value=layer.data)


def layer_to_volume(layer: Layer) -> Volume:
    """Rebuild a ``Volume`` from an image or labels layer: its data, world placement and metadata.

    Layers that MedFuse did not create get modality ``OT`` (labels: ``SEG``) in arbitrary units.
    """
    matrix = layer_data_to_world(layer)
    nd = matrix.shape[0] - 1
    flip = np.eye(nd + 1)
    flip[:nd, :nd] = np.eye(nd)[::-1]
    itk_affine = flip @ matrix @ flip
    linear = itk_affine[:nd, :nd]
    spacing = np.linalg.norm(linear, axis=0)
    meta = {k: v for k, v in layer.metadata.items()
            if k not in ("modality", "units", "source_volume", "registration")}
    rgb = bool(getattr(layer, "rgb", False))
    if rgb:
        meta["rgb"] = True
    default_modality = "SEG" if layer.__class__.__name__ == "Labels" else "OT"
    return Volume(
        np.asarray(layer.data),
        spacing=tuple(spacing),
        origin=tuple(itk_affine[:nd, nd]),
        direction=linear / spacing,
        modality=str(layer.metadata.get("modality", default_modality)),
        units=str(layer.metadata.get("units", "a.u.")),
        meta=meta,
    )


def is_medfuse_data_layer(layer: Layer) -> bool:
    """True for image and labels layers (volumes), not points, shapes or other annotations."""
    return layer.__class__.__name__ in ("Image", "Labels")


def layer_value(layer: Layer, world_point: Any) -> Any:
    """The value of ``layer``'s nearest voxel at a world point (napari z, y, x), read from its data
    whether or not the layer is visible or sliced there; None outside its grid.

    Examples
    --------
    >>> from napari.layers import Image
    >>> layer = Image(np.arange(24).reshape(2, 3, 4), scale=(2, 2, 2), visible=False)
    >>> int(layer_value(layer, (2.0, 4.0, 6.0))), layer_value(layer, (9.0, 0.0, 0.0))
    (23, None)
    """
    index = np.round(np.asarray(layer.world_to_data(tuple(world_point)), float)).astype(int)
    shape = np.asarray(layer.data.shape[: len(index)])
    if np.any(index < 0) or np.any(index >= shape):
        return None
    return layer.data[tuple(index)]


def format_value(layer: Layer, value: Any) -> str:
    """The readout text of one layer's value: HU, SUV or the layer's units, as its modality formats it."""
    if value is None:
        return "-"
    if isinstance(value, (tuple, list, np.ndarray)) and np.ndim(value) > 0:
        return "(" + ", ".join(f"{float(v):.0f}" for v in np.ravel(value)) + ")"
    spec = get_modality(str(layer.metadata.get("modality", "OT")))
    return spec.format_value(float(value), str(layer.metadata.get("units", spec.default_units)))

"""The fusion registry: methods found by name through the ``medfuse.fusion`` entry points, and ``fuse``.

A method is a :class:`FusionMethod`: a function over normalised float32 arrays (each in [0, 1], all of
one shape, 2D or 3D) returning the fused array in [0, 1]. A plugin may instead register a plain
function ``fuse(volumes, **params) -> Volume``; it is wrapped as a volume-level method and called as
is. For array-level methods :func:`fuse` does everything around the function alike: it checks that
the volumes share a grid, takes the luma of RGB pseudo-colour inputs, normalises each input by its
modality, puts the inputs in one canonical order (by role and content, so the result never depends on
the order of the arguments), and builds the output ``Volume`` (same geometry; RGB again when an input
was pseudo-colour; an RGB volume with the functional input's colormap over the grey anatomy when
functional and anatomical volumes fuse).

Examples
--------
>>> import numpy as np
>>> from medfuse.volume import Volume
>>> a = Volume(np.array([[0, 200], [50, 10]], np.uint8))
>>> b = Volume(np.array([[100, 0], [60, 255]], np.uint8))
>>> fuse([a, b], method="maximum").array.tolist()
[[100, 200], [60, 255]]
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medfuse._plugins import discover
from medfuse.errors import FusionError, GeometryError
from medfuse.fusion.colour import colour_fused, fuse_luma, luma
from medfuse.volume import Volume

if TYPE_CHECKING:
    from medfuse.modalities.spec import Window

logger = logging.getLogger(__name__)

GROUP = "medfuse.fusion"
#: the name that resolves to the best learned method
DEFAULT = "default"
DEFAULT_METHOD = "learned2d"

ArrayFusion = Callable[..., np.ndarray]


@dataclass(frozen=True)
class FusionMethod:
    """A named fusion method.

    Parameters
    ----------
    name : registry name (``average``, ``learned2d`` ...).
    function : ``function(arrays, **params) -> array``: arrays are float32 in [0, 1], one shape.
    description : one line for ``medfuse fuse --list``.
    learned : True for networks: they also receive ``roles`` (1 functional, 0 anatomical per input).
    on_volumes : True when ``function`` takes and returns volumes itself (plugins' plain functions).
    """

    name: str
    function: ArrayFusion
    description: str = ""
    learned: bool = False
    on_volumes: bool = False

    def __call__(self, volumes: Sequence[Volume], **params: Any) -> Volume:
        """Fuse ``volumes`` with this method (see :func:`fuse`)."""
        if self.on_volumes:
            return self.function(volumes, **params)
        return _fuse_with(self, volumes, params)


@functools.cache
def _load() -> dict[str, tuple[FusionMethod, str]]:
    methods: dict[str, tuple[FusionMethod, str]] = {}
    for name, (obj, origin) in discover(GROUP).items.items():  # failures are logged and skipped
        if isinstance(obj, FusionMethod):
            method = obj
        elif callable(obj):
            doc = (obj.__doc__ or "").strip().splitlines()
            method = FusionMethod(name, obj, doc[0] if doc else "", on_volumes=True)
        else:
            logger.warning("skipping fusion plugin %s from %s: must be a FusionMethod or a "
                           "function, not %s", name, origin, type(obj).__name__)
            continue
        methods[method.name] = (method, origin)
    return methods


def available_methods() -> dict[str, tuple[FusionMethod, str]]:
    """All installed methods: ``{name: (method, package it came from)}``."""
    return dict(sorted(_load().items()))


def get_method(name: str = DEFAULT) -> FusionMethod:
    """The method registered as ``name`` (``"default"``: the best learned method).

    Raises
    ------
    FusionError
        No method has that name (the message lists the installed ones).
    """
    methods = _load()
    key = DEFAULT_METHOD if name == DEFAULT else name
    if key not in methods:
        raise FusionError(
            f"unknown fusion method {name!r}; installed methods: {', '.join(sorted(methods))}"
        )
    return methods[key][0]


def fuse(volumes: Sequence[Volume], *, method: str = DEFAULT, **params: Any) -> Volume:
    """Fuse co-registered volumes (or 2D images) sharing one grid into one ``Volume``.

    Parameters
    ----------
    volumes : two or more volumes on the same grid, all 2D or all 3D, in any order: each one's role
        (functional: a functional modality such as PT/NM, or a pseudo-colour image; else
        anatomical) comes from the volume, not from its position. RGB pseudo-colour images fuse
        through their BT.601 luma and give back their chroma.
    method : a registered method name; ``"default"`` is the best learned network.
    **params : options of the method: ``weight`` (learned: 0..1, how much the functional inputs
        lead the base layer; default the trained 0.5), ``axis`` (2D networks on volumes),
        ``bundle`` / ``trust_code`` (learned: another bundle folder), ``levels`` ...; and
        ``colour=False`` to get the grey fused intensity of functional + anatomical volumes.

    Returns
    -------
    Volume
        The fused image on the inputs' grid, modality ``OT``. 8-bit images in: uint8 0-255, RGB
        when an input was pseudo-colour. Volumes in: an RGB uint8 volume ``(z, y, x, 3)`` when
        functional and anatomical inputs fuse (the fused intensity as luma, the functional input's
        colormap as chroma: PET keeps its colours, CT/MR stay grey; units ``RGB``), else float32
        in [0, 1] (units ``a.u.``). ``meta`` records the method, parameters, the inputs with their
        units (HU, SUV: read values from the sources, not from the fused image), the colormap, and
        for an RGB volume ``colour_scale``: the colormap and the window of the functional input
        in its units (what a colour bar of the fused image shows), when its normaliser gives it.

    Raises
    ------
    GeometryError
        Inputs of different dimension or grid.
    FusionError
        Unknown method, wrong number of inputs, NaN values, or a method that cannot run.
    """
    return get_method(method)(volumes, **params)


def _describe(volume: Volume, index: int) -> str:
    source = volume.meta.get("source")
    return f"input {index + 1}" + (f" ({source})" if source else "")


def check_inputs(volumes: Sequence[Volume]) -> None:
    """Raise a clear error unless ``volumes`` can be fused together (same dimension and grid)."""
    if len(volumes) < 2:
        raise FusionError(f"fusion needs at least two inputs, got {len(volumes)}")
    ref = volumes[0]
    for i, vol in enumerate(volumes[1:], start=1):
        if vol.ndim != ref.ndim:
            raise GeometryError(
                f"cannot fuse a {ref.ndim}D {_describe(ref, 0)} with a {vol.ndim}D {_describe(vol, i)}"
            )
        if not ref.same_grid(vol):
            raise GeometryError(
                f"{_describe(vol, i)} is not on the grid of {_describe(ref, 0)}: size {vol.size} vs "
                f"{ref.size}, spacing {vol.spacing} vs {ref.spacing}, origin {vol.origin} vs "
                f"{ref.origin}; register and resample it first (Volume.resample_to)"
            )
    for i, vol in enumerate(volumes):
        array = vol.array
        # min and max propagate NaN and show infinities: two passes, no boolean copy of a volume
        if np.issubdtype(array.dtype, np.floating) and array.size and not (
            np.isfinite(array.min()) and np.isfinite(array.max())
        ):
            raise FusionError(f"{_describe(vol, i)} contains NaN or infinite values")


def _normalise(volumes: Sequence[Volume],
               display: bool) -> tuple[list[np.ndarray], list[Window | None]]:
    """Float32 arrays in [0, 1]: 8-bit images divided by 255, others by their modality; and the
    window of each (``(lower, upper)`` in its units, as its modality's normaliser says; None for
    8-bit images and normalisers that do not say).

    No float64 copy of a grey volume is made: integers become float32 (exact below 2**24) and the
    built-in normalisers work in float32; RGB images go through their float64 BT.601 luma.
    """
    from medfuse.modalities import get_modality
    from medfuse.modalities.spec import scale_to_window, window_of

    arrays, windows = [], []
    for vol in volumes:
        if vol.is_rgb:
            grey = luma(vol.array, rgb=True)
        elif np.issubdtype(vol.array.dtype, np.floating):
            grey = vol.array
        else:
            grey = vol.array.astype(np.float32)
        window = None
        if display:
            # one correctly rounded division: the float32 quotient equals the float64 one rounded
            normalised = (grey / 255.0).astype(np.float32, copy=False)
        else:
            normalize = get_modality(vol.modality).normalize
            window = window_of(normalize, grey, vol.units)
            normalised = (normalize(grey, vol.units) if window is None
                          else scale_to_window(grey, window))
        arrays.append(np.asarray(normalised, dtype=np.float32))
        windows.append(None if window is None else (float(window[0]), float(window[1])))
    return arrays, windows


def is_functional(volume: Volume) -> bool:
    """True for a functional input: a functional modality (PT, NM, ...) or a pseudo-colour image."""
    from medfuse.modalities import get_modality

    return volume.is_rgb or get_modality(volume.modality).functional


def _canonical_order(volumes: Sequence[Volume], arrays: Sequence[np.ndarray]) -> list[int]:
    """Indices of the inputs sorted by role, modality and content: the same for any argument order."""
    def key(i: int) -> tuple:
        return (is_functional(volumes[i]), volumes[i].modality, float(arrays[i].mean()),
                float(arrays[i].std()))

    return sorted(range(len(volumes)), key=key)


def _fuse_with(method: FusionMethod, volumes: Sequence[Volume], params: dict[str, Any]) -> Volume:
    from medfuse.modalities import get_modality

    check_inputs(volumes)
    colour_out = bool(params.pop("colour", True))
    display = all(v.array.dtype == np.uint8 for v in volumes)
    arrays, windows = _normalise(volumes, display)
    order = _canonical_order(volumes, arrays)
    volumes, arrays, windows = ([seq[i] for i in order] for seq in (volumes, arrays, windows))
    roles = [float(is_functional(v)) for v in volumes]
    call = {"roles": roles, **params} if method.learned else params
    try:
        inspect.signature(method.function).bind(arrays, **call)
    except TypeError as err:
        accepted = [p for p in inspect.signature(method.function).parameters][1:]
        raise FusionError(
            f"method {method.name!r} does not take the options {sorted(params)} ({err}); "
            f"it takes {[p for p in accepted if p != 'roles']}"
        ) from err
    fused = np.asarray(method.function(arrays, **call), dtype=np.float32)
    fused = np.clip(fused, 0.0, 1.0, out=fused if fused.flags.writeable else None)
    functional = next((i for i, role in enumerate(roles) if role), None)
    colormap = get_modality(volumes[functional].modality).colormap if functional is not None else None
    units = "a.u."
    if display:
        fused = np.round(fused * 255.0).astype(np.uint8)
    colour = next((v for v in volumes if v.is_rgb), None)
    scale = None
    if colour is not None:
        fused = fuse_luma(fused.astype(np.float64) * (1.0 if display else 255.0), colour.array)
    elif colour_out and functional is not None and not all(roles) and not display:
        fused = colour_fused(fused, arrays[functional], colormap)
        units = "RGB"
        if windows[functional] is not None:
            scale = {"colormap": colormap, "window": list(windows[functional]),
                     "units": volumes[functional].units}
    ref = volumes[0]
    meta = {
        "fused": True,
        "method": method.name,
        "params": {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))},
        "inputs": [{"modality": v.modality, "units": v.units, "source": v.meta.get("source"),
                    "role": "functional" if role else "anatomical"}
                   for v, role in zip(volumes, roles)],
        **({"rgb": True} if fused.ndim == ref.ndim + 1 else {}),
        **({"colormap": colormap} if colormap else {}),
        **({"colour_scale": scale} if scale else {}),
    }
    return Volume(fused, spacing=ref.spacing, origin=ref.origin, direction=ref.direction,
                  modality="OT", units=units, meta=meta)

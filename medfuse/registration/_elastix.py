"""The thin layer over itk-elastix: load only what elastix needs, run one stage, read its maps.

``import itk`` followed by ``itk.ElastixRegistrationMethod`` loads about 60 wrapped ITK modules
(and torch, when installed) and costs 10-20 s in a fresh process. Elastix itself needs three SWIG
modules: the registration method, the parameter object and the NumPy bridge. Importing those directly
costs about 1 s, which is what makes a whole ``medfuse register`` run take a few seconds.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from medfuse.errors import RegistrationError
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

#: an elastix parameter map as plain Python: {name: [values as strings]}
ParameterMap = dict[str, list[str]]


@dataclass(frozen=True)
class _Elastix:
    """The three elastix classes for float images of dimension 2 and 3."""

    method: dict[int, Any]
    buffer: dict[int, Any]
    parameter_object: Any
    version: str


@functools.cache
def load() -> _Elastix:
    """Import the elastix wrappers without loading the rest of ITK (about 1 s instead of 10-20 s).

    Raises
    ------
    MissingDependencyError
        itk-elastix is not installed.
    """
    from medfuse._optional import require

    with _without(_OPTIONAL_EXTRAS):
        require("itk")
        helpers = require("itk.support.helpers")
        if "torch" not in sys.modules:  # ITK would import torch (1-2 s) only to accept tensors
            helpers._HAVE_TORCH = False
        if "xarray" not in sys.modules:
            helpers._HAVE_XARRAY = False
        method = require("itk.itkElastixRegistrationMethodPython")
        params = require("itk.elxParameterObjectPython")
        buffer = require("itk.itkPyBufferPython")
        # the NumPy bridge loads its remaining wrappers lazily on first use (as ``to_itk`` does)
        warm = buffer.itkPyBufferIF3.GetImageFromArray(np.zeros((2, 2, 2), np.float32))
        warm.SetDirection(np.eye(3))
    try:
        from importlib.metadata import version

        elastix_version = version("itk-elastix")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        elastix_version = "unknown"
    return _Elastix(
        method={2: method.itkElastixRegistrationMethodIF2IF2,
                3: method.itkElastixRegistrationMethodIF3IF3},
        buffer={2: buffer.itkPyBufferIF2, 3: buffer.itkPyBufferIF3},
        parameter_object=params.elastixParameterObject,
        version=elastix_version,
    )


#: optional packages that ITK's wrappers import only to register hooks (dask serialisation,
#: IPython completion); blocked while elastix loads, unless already imported (about 0.5 s)
_OPTIONAL_EXTRAS = ("distributed", "IPython")


@contextlib.contextmanager
def _without(names: tuple[str, ...]) -> Iterator[None]:
    """Make ``import name`` raise ImportError inside the block for modules not yet imported."""
    blocked = [n for n in names if n not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def to_itk(volume: Volume, *, origin: Any = None, direction: Any = None) -> Any:
    """A float32 ``itk.Image`` of ``volume``, optionally with a replaced origin and direction."""
    elastix = load()
    array = np.ascontiguousarray(volume.array, dtype=np.float32)
    image = elastix.buffer[volume.ndim].GetImageFromArray(array)
    image.SetSpacing([float(s) for s in volume.spacing])
    image.SetOrigin([float(o) for o in (volume.origin if origin is None else origin)])
    d = np.asarray(volume.direction if direction is None else direction, dtype=float)
    image.SetDirection(np.ascontiguousarray(d))
    return image


def run(
    fixed: Any,
    moving: Any,
    parameter_maps: list[ParameterMap],
    *,
    fixed_mask: Any = None,
    moving_mask: Any = None,
    initial_maps: list[ParameterMap] | None = None,
    threads: int | None = None,
    source: str = "parameter map",
) -> list[ParameterMap]:
    """Run elastix on ``itk`` images and return the transform parameter maps of the whole chain.

    ``initial_maps`` is a chain of transform parameter maps to start from (applied first); the
    returned chain holds them followed by one map per stage of ``parameter_maps``.

    Raises
    ------
    RegistrationError
        Elastix rejected a parameter map or failed while optimising; the message names ``source``.
    """
    elastix = load()
    dim = fixed.GetImageDimension()
    parameter_object = elastix.parameter_object.New()
    for pm in parameter_maps:
        parameter_object.AddParameterMap({k: tuple(v) for k, v in pm.items()})
    method = elastix.method[dim].New()
    method.SetFixedImage(fixed)
    method.SetMovingImage(moving)
    if fixed_mask is not None:
        method.SetFixedMask(_as_mask(fixed_mask))
    if moving_mask is not None:
        method.SetMovingMask(_as_mask(moving_mask))
    method.SetParameterObject(parameter_object)
    if initial_maps:
        initial = elastix.parameter_object.New()
        for pm in initial_maps:
            initial.AddParameterMap({k: tuple(v) for k, v in pm.items()})
        method.SetInitialTransformParameterObject(initial)
    method.SetLogToConsole(False)
    if threads is not None:
        method.SetNumberOfWorkUnits(int(threads))
    try:
        method.Update()
    except RuntimeError as err:
        reason = _elastix_reason(str(err))
        raise RegistrationError(f"elastix failed with this {source}: {reason}") from err
    result = method.GetTransformParameterObject()
    return [
        {k: list(v) for k, v in dict(result.GetParameterMap(i)).items()}
        for i in range(result.GetNumberOfParameterMaps())
    ]


def _as_mask(image: Any) -> Any:
    """Elastix masks are ``unsigned char`` images; convert a float image through the NumPy bridge."""
    from itk.itkPyBufferPython import itkPyBufferIF2, itkPyBufferIF3, itkPyBufferIUC2, itkPyBufferIUC3

    dim = image.GetImageDimension()
    array = ({2: itkPyBufferIF2, 3: itkPyBufferIF3}[dim]).GetArrayFromImage(image)
    mask = ({2: itkPyBufferIUC2, 3: itkPyBufferIUC3}[dim]).GetImageFromArray(
        np.ascontiguousarray(array > 0, dtype=np.uint8)
    )
    mask.SetSpacing(image.GetSpacing())
    mask.SetOrigin(image.GetOrigin())
    mask.SetDirection(image.GetDirection())
    return mask


def _elastix_reason(message: str) -> str:
    """The informative line of an elastix exception (its messages span many lines)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for marker in ("ERROR", "Description:", "error"):
        for ln in lines:
            if marker in ln:
                return ln.replace("Description:", "").strip()[:300]
    return (lines[-1] if lines else "unknown error")[:300]


def default_map(name: str) -> ParameterMap:
    """Elastix's own default parameter map (``rigid``, ``affine``, ``bspline``), for comparisons."""
    elastix = load()
    pm = elastix.parameter_object.New().GetDefaultParameterMap(name)
    return {k: list(v) for k, v in dict(pm).items()}

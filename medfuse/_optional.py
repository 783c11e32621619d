"""Import heavy optional packages where they are used, with a message naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from medfuse.errors import MissingDependencyError

#: module name -> the pip extra of medfuse that provides it
_EXTRA_OF = {
    "itk": "register",
    "torch": "fusion",
    "monai": "fusion",
    "onnxruntime": "fusion",
    "matplotlib": "report",
    "reportlab": "report",
    "highdicom": "report",
    "dask": "batch",
    "distributed": "batch",
    "napari": "app",
    "magicgui": "app",
}


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    Examples
    --------
    >>> require("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        extra = _EXTRA_OF.get(module.split(".")[0], "all")
        raise MissingDependencyError(
            f"optional package {module!r} is not installed; install it with "
            f"pip install 'medfuse[{extra}]'"
        ) from err

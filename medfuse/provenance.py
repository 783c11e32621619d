"""Provenance: package versions and the machine, without importing heavy packages (the one copy
that reports, study folders and batch runs record).

Examples
--------
>>> "medfuse" in versions() and "python" in versions()
True
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

#: distributions whose versions a study's results depend on
PACKAGES = ("medfuse", "numpy", "scipy", "SimpleITK", "itk", "itk-elastix", "nibabel", "pydicom",
            "highdicom", "torch", "monai", "matplotlib", "reportlab", "dask", "distributed",
            "pydantic")


def versions() -> dict[str, str]:
    """Installed versions of Python and of :data:`PACKAGES` (absent ones are left out)."""
    found = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def machine() -> dict[str, str]:
    """Host name, operating system and processor of this machine."""
    return {"host": platform.node(), "platform": platform.platform(), "machine": platform.machine()}

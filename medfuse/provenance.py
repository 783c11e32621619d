"""Provenance: package versions, the machine and content hashes of inputs, without importing heavy
packages (the one copy that reports, study folders and batch runs record).

Examples
--------
>>> "medfuse" in versions() and "python" in versions()
True
"""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from medfuse.volume import Volume

#: distributions whose versions a study's results depend on
PACKAGES = ("medfuse", "numpy", "scipy", "SimpleITK", "itk", "itk-elastix", "nibabel", "pydicom",
            "highdicom", "torch", "monai", "onnxruntime", "matplotlib", "reportlab", "dask",
            "distributed", "pydantic")


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


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(volume: Volume, *, files: bool = True) -> dict[str, Any]:
    """sha256 of the files a volume came from (a folder: of its sorted file hashes), else (or with
    ``files=False``) of its voxels, shape, dtype and geometry.

    Examples
    --------
    >>> import numpy as np
    >>> from medfuse.volume import Volume
    >>> content_hash(Volume(np.zeros((2, 2, 2), np.uint8)))["of"]
    'voxels'
    """
    import numpy as np

    source = volume.meta.get("source") if files else None
    path = Path(source) if source else None
    if path is not None and path.is_file():
        return {"sha256": _file_sha256(path), "of": "file", "n_files": 1}
    if path is not None and path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        digest = hashlib.sha256()
        for f in files:
            digest.update(f"{f.relative_to(path).as_posix()}\0{_file_sha256(f)}\n".encode())
        return {"sha256": digest.hexdigest(), "of": "folder", "n_files": len(files)}
    digest = hashlib.sha256(np.ascontiguousarray(volume.array).tobytes())
    digest.update(repr((volume.array.shape, str(volume.array.dtype), volume.spacing,
                        volume.origin, volume.direction.round(8).tolist())).encode())
    return {"sha256": digest.hexdigest(), "of": "voxels", "n_files": 0}

"""MedFuse: multimodal medical image registration and fusion.

Engines load lazily so that ``import medfuse`` stays fast:

>>> import medfuse
>>> medfuse.Volume.__name__
'Volume'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Volume": "medfuse.volume",
    "load": "medfuse.io",
    "load_all": "medfuse.io",
    "MedFuseError": "medfuse.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'medfuse' has no attribute {name!r}")

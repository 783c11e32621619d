"""MedFuse: multimodal medical image registration and fusion.

Engines load lazily so that ``import medfuse`` stays fast:

>>> import medfuse
>>> medfuse.Volume.__name__
'Volume'
"""

from __future__ import annotations

from medfuse._lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "Volume": "medfuse.volume",
    "load": "medfuse.io",
    "load_all": "medfuse.io",
    "MedFuseError": "medfuse.errors",
}


__getattr__, _ = lazy_attributes(__name__, _LAZY)

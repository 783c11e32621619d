"""Fusion engine: one registry of methods (classical and learned MONAI bundles), each ``fuse``-able.

Importing this package imports neither torch nor MONAI; learned methods load their bundle on first use.

Examples
--------
>>> from medfuse.fusion import available_methods, get_method
>>> "maximum" in available_methods()
True
>>> get_method("average").name
'average'
"""

from medfuse.fusion.registry import FusionMethod, available_methods, check_inputs, fuse, get_method

__all__ = ["FusionMethod", "available_methods", "check_inputs", "fuse", "get_method"]

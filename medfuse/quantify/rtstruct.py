"""RTSTRUCT contours as label maps: the reader lives in :mod:`medfuse.io.rtstruct` (with the other
readers, so that every engine that takes a mask can take an RTSTRUCT); its names stay importable
here for the app's modules that still import them from this place."""

from __future__ import annotations

from medfuse.io.rtstruct import fill_contours, is_rtstruct, read_rtstruct, rtstruct_to_mask

__all__ = ["fill_contours", "is_rtstruct", "read_rtstruct", "rtstruct_to_mask"]

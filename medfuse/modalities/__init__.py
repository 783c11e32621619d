"""Modality registry: built-in CT, MR, PT, NM and plugin modalities from ``medfuse.modalities`` entry points.

Examples
--------
>>> from medfuse.modalities import get_modality
>>> get_modality("CT").default_units
'HU'
"""

from medfuse.modalities.registry import (
    available_modalities,
    get_modality,
    modality_for_dicom,
    plugin_errors,
)
from medfuse.modalities.spec import ModalitySpec

__all__ = [
    "ModalitySpec",
    "available_modalities",
    "get_modality",
    "modality_for_dicom",
    "plugin_errors",
]

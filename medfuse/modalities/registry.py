"""Discover modality specs from entry points (group ``medfuse.modalities``), core and plugins alike."""

from __future__ import annotations

import functools
import logging

from medfuse._plugins import discover
from medfuse.modalities.builtin import OT
from medfuse.modalities.spec import ModalitySpec

logger = logging.getLogger(__name__)

GROUP = "medfuse.modalities"


@functools.cache
def _load() -> tuple[dict[str, tuple[ModalitySpec, str]], dict[str, str]]:
    """Load every entry point once: ``({code: (spec, origin)}, {entry point: error})``."""
    found = discover(GROUP)
    specs: dict[str, tuple[ModalitySpec, str]] = {}
    errors = dict(found.errors)
    for name, (obj, origin) in found.items.items():
        spec = obj() if callable(obj) and not isinstance(obj, ModalitySpec) else obj
        if isinstance(spec, ModalitySpec):
            specs[spec.code] = (spec, origin)
        else:
            errors[name] = f"TypeError: must give a ModalitySpec, not {type(spec).__name__}"
            logger.warning("skipping modality plugin %s: not a ModalitySpec", name)
    return specs, errors


def available_modalities() -> dict[str, tuple[ModalitySpec, str]]:
    """All installed modalities: ``{code: (spec, package it came from)}``."""
    return dict(_load()[0])


def plugin_errors() -> dict[str, str]:
    """Modality entry points that failed to load, with the reason."""
    return dict(_load()[1])


def get_modality(code: str) -> ModalitySpec:
    """The spec for ``code``; unknown codes get the generic ``OT`` spec."""
    entry = _load()[0].get(code.upper())
    return entry[0] if entry is not None else OT


def modality_for_dicom(modality: str, sop_class_uid: str = "") -> ModalitySpec:
    """The spec recognising a DICOM ``Modality`` value, else its SOP Class UID, else ``OT``."""
    specs = [spec for spec, _ in _load()[0].values()]
    for spec in specs:
        if modality and modality in spec.dicom_modalities:
            return spec
    for spec in specs:
        if sop_class_uid and sop_class_uid in spec.sop_class_uids:
            return spec
    return OT

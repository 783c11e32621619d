"""Discover modality specs from entry points (group ``medfuse.modalities``), core and plugins alike."""

from __future__ import annotations

import functools
import logging
from importlib.metadata import entry_points

from medfuse.modalities.builtin import OT
from medfuse.modalities.spec import ModalitySpec

logger = logging.getLogger(__name__)

GROUP = "medfuse.modalities"


@functools.cache
def _load() -> tuple[dict[str, tuple[ModalitySpec, str]], dict[str, str]]:
    """Load every entry point once: ``({code: (spec, origin)}, {entry point: error})``."""
    specs: dict[str, tuple[ModalitySpec, str]] = {}
    errors: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        origin = ep.dist.name if ep.dist is not None else ep.value
        try:
            obj = ep.load()
            spec = obj() if callable(obj) and not isinstance(obj, ModalitySpec) else obj
            if not isinstance(spec, ModalitySpec):
                raise TypeError(f"must return a ModalitySpec, not {type(spec).__name__}")
        except Exception as err:  # a broken plugin is reported and skipped, never fatal
            errors[f"{ep.name} ({ep.value})"] = f"{type(err).__name__}: {err}"
            logger.warning("skipping modality plugin %s: %s", ep.value, err)
            continue
        specs[spec.code] = (spec, origin)
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

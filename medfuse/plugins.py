"""What is installed: modalities, fusion methods and registration presets, core and plugins alike.

Every pluggable registry reads one entry-point group through :func:`medfuse._plugins.discover`:

=============  ======================  ==================================================
kind           entry-point group       each entry point gives
=============  ======================  ==================================================
modality       ``medfuse.modalities``  a :class:`~medfuse.modalities.ModalitySpec`
fusion         ``medfuse.fusion``      a function ``fuse(volumes, **params) -> Volume``
preset         ``medfuse.presets``     an elastix parameter file (or a folder of them)
=============  ======================  ==================================================

The core registers its own CT, MR, PT, NM (and its fusion methods and presets) through the same
groups, so they are listed with origin ``medfuse``. An entry point that fails to import is listed with
status ``failed`` and the reason, and is skipped by the registries.

Examples
--------
>>> from medfuse.plugins import list_plugins
>>> ct = [e for e in list_plugins() if e.kind == "modality" and e.name == "CT"][0]
>>> ct.origin, ct.status
('medfuse', 'ok')
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from medfuse._plugins import discover

__all__ = ["GROUPS", "PluginEntry", "list_plugins", "refresh"]

Kind = Literal["modality", "fusion", "preset"]

#: entry-point group of each kind of plugin
GROUPS: dict[str, str] = {
    "modality": "medfuse.modalities",
    "fusion": "medfuse.fusion",
    "preset": "medfuse.presets",
}

#: modules holding ``functools.cache``'d registries, cleared by :func:`refresh`
_REGISTRY_MODULES = (
    "medfuse.modalities.registry",
    "medfuse.fusion.registry",
    "medfuse.registration.presets",
)


@dataclass(frozen=True)
class PluginEntry:
    """One installed contribution, or one that failed to load.

    Parameters
    ----------
    kind : ``"modality"``, ``"fusion"`` or ``"preset"``.
    name : the modality code, fusion method name or preset name.
    origin : the distribution (package) it came from; ``medfuse`` for the built-ins.
    detail : a one-line description, or the error when ``status`` is ``"failed"``.
    status : ``"ok"``, or ``"failed"`` for an entry point that could not be loaded (it is skipped).
    """

    kind: str
    name: str
    origin: str
    detail: str
    status: str = "ok"

    def to_dict(self) -> dict[str, str]:
        """The entry as a JSON-ready dict."""
        return asdict(self)


def refresh() -> None:
    """Forget every cached registry, so newly installed (or removed) plugins are seen.

    Clears the import system's metadata caches and every ``functools.cache`` of the registry modules
    that are already imported (a registry not imported yet has nothing cached).
    """
    importlib.invalidate_caches()
    for module_name in _REGISTRY_MODULES:
        module = sys.modules.get(module_name)
        for value in vars(module).values() if module is not None else ():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def list_plugins() -> list[PluginEntry]:
    """Everything installed in the three plugin groups, sorted by kind then name, failures included.

    Modalities come from the modality registry (so a spec it rejects is listed as failed), presets
    from the preset registry (built-in presets are package data, not entry points); fusion methods
    are read from their entry-point group.
    """
    entries = _modality_entries() + _group_entries("fusion") + _preset_entries()
    order = list(GROUPS)
    return sorted(entries, key=lambda e: (order.index(e.kind), e.status != "ok", e.name))


def _modality_entries() -> list[PluginEntry]:
    from medfuse.modalities import available_modalities, plugin_errors

    entries = [
        PluginEntry("modality", code, origin, _describe_modality(spec))
        for code, (spec, origin) in available_modalities().items()
    ]
    return entries + _failures("modality", plugin_errors())


def _group_entries(kind: Kind) -> list[PluginEntry]:
    found = discover(GROUPS[kind])
    entries = [
        PluginEntry(kind, name, origin, _describe_object(obj))
        for name, (obj, origin) in found.items.items()
    ]
    return entries + _failures(kind, found.errors)


def _preset_entries() -> list[PluginEntry]:
    from medfuse.registration.presets import PRESETS, plugin_presets

    entries = [PluginEntry("preset", name, "medfuse", "elastix stages: " + ", ".join(stages))
               for name, stages in PRESETS.items()]
    for name, (stage_files, origin) in plugin_presets().items():
        missing = [f for f in stage_files if not Path(f).is_file()]
        if missing:
            entries.append(PluginEntry("preset", name, origin,
                                       f"missing parameter file(s): {', '.join(missing)}", "failed"))
            continue
        stages = ", ".join(Path(f).name for f in stage_files)
        entries.append(PluginEntry("preset", name, origin, f"elastix stages: {stages}"))
    found = discover(GROUPS["preset"])
    shadowing = {f"{name} ({origin})": "name taken by a built-in preset; skipped"
                 for name, (_, origin) in found.items.items() if name in PRESETS}
    return entries + _failures("preset", {**found.errors, **shadowing})


def _failures(kind: Kind, errors: dict[str, str]) -> list[PluginEntry]:
    """Failed entry points; keys are ``"name (module:attr)"`` or a bare name (as registries give)."""
    origins = _entry_point_origins(GROUPS[kind])
    entries = []
    for key, reason in errors.items():
        name = key.split(" (", 1)[0]
        entries.append(PluginEntry(kind, name, origins.get(name, "?"), reason, status="failed"))
    return entries


def _entry_point_origins(group: str) -> dict[str, str]:
    """``{entry point name: distribution name}`` without loading anything."""
    return {ep.name: ep.dist.name if ep.dist is not None else ep.value
            for ep in entry_points(group=group)}


def _describe_modality(spec: Any) -> str:
    dicom = ",".join(spec.dicom_modalities) or "-"
    parts = [spec.name, f"units {spec.default_units}", f"DICOM {dicom}", f"colormap {spec.colormap}"]
    if spec.file_patterns:
        parts.append("files " + ",".join(spec.file_patterns))
    if spec.loader is not None:
        parts.append("own loader")
    return "; ".join(parts)


def _describe_object(obj: Any) -> str:
    """A fusion method's own description, else the first line of a function's docstring, else the
    object itself (a preset path)."""
    if getattr(obj, "description", ""):
        return str(obj.description)
    if isinstance(obj, functools.partial):
        obj = obj.func
    doc = getattr(obj, "__doc__", None) if callable(obj) else None
    if doc:
        return doc.strip().splitlines()[0]
    return str(obj)

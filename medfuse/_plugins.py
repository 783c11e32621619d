"""Entry-point discovery shared by every pluggable registry (modalities, fusion methods, presets).

A plugin that fails to import is reported and skipped, never breaking the app: that includes one
that calls ``sys.exit`` or raises any other ``BaseException`` while loading (only Ctrl-C goes through).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class Discovered:
    """What one entry-point group holds: loaded objects by entry-point name, and failures."""

    items: dict[str, tuple[Any, str]] = field(default_factory=dict)  # name -> (object, origin)
    errors: dict[str, str] = field(default_factory=dict)  # "name (module:attr)" -> reason


def discover(group: str) -> Discovered:
    """Load every entry point of ``group``; each value is kept with the distribution it came from."""
    found = Discovered()
    for ep in entry_points(group=group):
        origin = ep.dist.name if ep.dist is not None else ep.value
        try:
            found.items[ep.name] = (ep.load(), origin)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # noqa: BLE001  a broken plugin must not break MedFuse
            reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            found.errors[f"{ep.name} ({ep.value})"] = reason
            logger.warning("skipping plugin %s (%s) from %s in %s: %s",
                           ep.name, ep.value, origin, group, reason)
    return found

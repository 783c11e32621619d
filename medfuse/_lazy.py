"""Lazy package attributes: names that load from their submodule on first use (fast imports)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(
    package: str, where: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``; ``where`` maps name -> module.

    Examples
    --------
    >>> getattr_, dir_ = lazy_attributes("pkg", {"sqrt": "math"})
    >>> getattr_("sqrt")(4.0), dir_()
    (2.0, ['sqrt'])
    """

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__

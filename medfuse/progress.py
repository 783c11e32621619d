"""The one progress and cancel protocol of long work (registration, a study, a batch step).

``progress(done, total, message)`` is called before each step and at the end; ``cancel()`` is
polled between steps and returning True stops the work.

Examples
--------
>>> seen = []
>>> report: Progress = lambda done, total, message: seen.append((done, total, message))
>>> report(1, 4, "register PT")
>>> seen
[(1, 4, 'register PT')]
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Cancel", "Progress"]

#: ``progress(done, total, message)``
Progress = Callable[[int, int, str], None]
#: ``cancel() -> True`` to stop between steps
Cancel = Callable[[], bool]

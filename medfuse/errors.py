"""Errors raised by MedFuse.

Every message says what was wrong, quotes the offending value or path, and where it helps gives the
remedy. Front ends print ``str(err)`` on one line and exit with status 2.
"""

from __future__ import annotations

from pathlib import Path


class MedFuseError(Exception):
    """Base class of all MedFuse errors; ``path`` names the input involved, when there is one."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        prefix = f"{self.path}: " if self.path is not None else ""
        super().__init__(prefix + message)


class InputError(MedFuseError):
    """An input path that does not exist, is empty or cannot be read."""


class InvalidSeriesError(MedFuseError):
    """A DICOM series (or image file) whose content cannot make a consistent volume."""


class GeometryError(MedFuseError):
    """Volumes whose grids or dimensions do not fit the requested operation."""


class RegistrationError(MedFuseError):
    """A registration that could not run or whose result is unusable."""


class FusionError(MedFuseError):
    """A fusion method that cannot run on the given inputs."""


class PipelineError(MedFuseError):
    """A batch pipeline or manifest that is invalid."""


class MissingDependencyError(MedFuseError, ImportError):
    """An optional package is not installed; the message names the extra to install."""

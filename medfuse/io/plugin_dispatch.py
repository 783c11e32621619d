"""Hand files to the modality plugin that claims them, before the core readers look at them.

A :class:`~medfuse.modalities.ModalitySpec` claims a file by a glob in ``file_patterns`` (matched on
the file name) or, for a DICOM file, by its ``Modality`` or ``SOPClassUID`` in ``dicom_modalities`` /
``sop_class_uids``. A claiming spec with a ``loader`` reads the file itself (RT dose, ultrasound...);
one without a loader only names the modality of formats that do not record it (NIfTI, PNG).
DICOM files are only claimed for specs that bring a loader: the core DICOM reader knows the others.
"""

from __future__ import annotations

import fnmatch
import logging
from pathlib import Path

from medfuse.errors import InvalidSeriesError, MedFuseError
from medfuse.modalities import ModalitySpec, available_modalities
from medfuse.volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["claiming_spec", "load_with_plugin"]


def claiming_spec(path: Path, *, is_dicom: bool) -> ModalitySpec | None:
    """The installed modality spec that claims the file ``path``, or None.

    File-name patterns are tried first, then (for a DICOM file, and only for specs with a loader)
    the DICOM Modality and SOP Class UID read from the header.
    """
    if not path.is_file():
        return None
    specs = [spec for spec, _ in available_modalities().values()]
    for spec in specs:
        if any(fnmatch.fnmatch(path.name.lower(), p.lower()) for p in spec.file_patterns):
            return spec
    with_loader = [s for s in specs if s.loader is not None and (s.dicom_modalities or s.sop_class_uids)]
    if not is_dicom or not with_loader:
        return None
    modality, sop_class = _dicom_identity(path)
    for spec in with_loader:
        if modality in spec.dicom_modalities or sop_class in spec.sop_class_uids:
            return spec
    return None


def load_with_plugin(spec: ModalitySpec, path: Path) -> Volume:
    """Read ``path`` with ``spec.loader``; an unexpected failure becomes an ``InvalidSeriesError``."""
    if spec.loader is None:
        raise InvalidSeriesError(f"the {spec.code} modality brings no loader", path=path)
    logger.debug("loading %s with the %s modality plugin", path, spec.code)
    try:
        volume = spec.loader(path)
    except MedFuseError:
        raise
    except Exception as err:  # noqa: BLE001  a plugin's own error still names the file
        raise InvalidSeriesError(
            f"the {spec.code} modality plugin could not read it ({type(err).__name__}: {err})",
            path=path,
        ) from err
    if not isinstance(volume, Volume):
        raise InvalidSeriesError(
            f"the {spec.code} modality plugin's loader must return a Volume, "
            f"not {type(volume).__name__}",
            path=path,
        )
    return volume


def _dicom_identity(path: Path) -> tuple[str, str]:
    """``(Modality, SOPClassUID)`` from a DICOM header (pixel data not read)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality", "SOPClassUID"])
    except Exception as err:  # noqa: BLE001  the core reader reports unreadable files
        logger.debug("cannot read the DICOM header of %s: %s", path, err)
        return "", ""
    return str(ds.get("Modality", "")), str(ds.get("SOPClassUID", ""))

"""Where outputs may go, and what a file is: the one copy of the checks every writer and command uses.

MedFuse never changes its inputs. An output may sit beside an input (``medfuse register T1.nii
T2.nii -o out`` run in their folder), but never inside a DICOM series folder (another reader would
take the new files for slices of the series) nor over an input file or a folder holding an input.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "ct.nii.gz").write_bytes(b"x")
>>> check_output(folder / "out", [folder / "ct.nii.gz"])  # beside the input: fine
>>> check_output(folder / "ct.nii.gz", [folder / "ct.nii.gz"])
Traceback (most recent call last):
medfuse.errors.InputError: ...ct.nii.gz: the output would replace the input ...; choose another -o
>>> safe_name("PT pet (moving 1)"), safe_name("PT GTV-1", identifier=True)
('PT_pet_moving_1', 'pt_gtv_1')
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from medfuse.errors import InputError

__all__ = ["check_inputs_exist", "check_output", "check_replaceable", "has_dicm_preamble",
           "is_dicom_file",
           "output_folder", "safe_name"]


def has_dicm_preamble(head: bytes) -> bool:
    """Whether the first bytes of a file are the DICOM preamble (128 bytes, then ``DICM``)."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file that starts with the DICOM preamble (:func:`has_dicm_preamble`)."""
    try:
        with open(path, "rb") as fh:
            return has_dicm_preamble(fh.read(132))
    except OSError:
        return False


def safe_name(text: str, *, default: str = "item", identifier: bool = False) -> str:
    """``text`` as a file name: letters, digits, ``-``, ``.`` and ``_`` (other runs become one
    ``_``; never a leading dot), or with ``identifier`` a lower-case ``[a-z0-9_]`` name (a
    column of the cohort table)."""
    if identifier:
        return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or default
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_.") or default


def _dicom_series_folder(path: Path) -> bool:
    """A folder that directly holds DICOM files (a series folder another reader would scan)."""
    try:
        return path.is_dir() and any(is_dicom_file(p) for p in path.iterdir() if p.is_file())
    except OSError:
        return False


def check_inputs_exist(inputs: Iterable[str | os.PathLike | None]) -> None:
    """Raise a one-line :class:`InputError` for the first input that does not exist."""
    for item in inputs:
        if item is not None and not Path(item).exists():
            raise InputError("no such file or folder", path=item)


def check_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike | None], *,
                 folder: bool = True) -> None:
    """Refuse an output location before any work: one line naming ``out`` and what is wrong.

    Parameters
    ----------
    out : the output folder (``folder=True``) or file.
    inputs : the input files and folders of the command (None entries are skipped).
    folder : whether ``out`` is a folder (an existing file there is refused) or a file.

    Raises
    ------
    InputError
        ``out`` is an input, holds an input, lies inside an input folder (a DICOM series) or any
        DICOM series folder,
        is a file where a folder is needed (or the reverse), or its nearest existing parent is not
        writable.
    """
    out = Path(out)
    target = out.resolve()
    for item in inputs:
        if item is None:
            continue
        source = Path(item).resolve()
        if target == source:
            raise InputError(f"the output would replace the input {item}; choose another -o",
                             path=out)
        if source.is_relative_to(target):
            raise InputError(f"the output folder holds the input {item}; choose another -o",
                             path=out)
        if source.is_dir() and target.is_relative_to(source):
            raise InputError(f"the output lies inside the input folder {item} (a DICOM series "
                             "folder); choose another -o", path=out)
    for parent in target.parents:  # ``out`` itself is replaced whole, never written into
        if _dicom_series_folder(parent):
            raise InputError(f"the output lies inside the DICOM series folder {parent}; choose "
                             "another -o (new files there would read as slices of that series)",
                             path=out)
    if folder and out.exists() and not out.is_dir():
        raise InputError("a file is in the way: the output must be a folder", path=out)
    if not folder and out.is_dir():
        raise InputError("a folder is in the way: the output must be a file", path=out)
    existing = next(p for p in [target, *target.parents] if p.exists())
    if not existing.is_dir():
        raise InputError(f"{existing} is a file, so the output folder cannot be made", path=out)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot write into {existing} (permission denied)", path=out)


def check_replaceable(out: str | os.PathLike, *, marker: str) -> None:
    """Refuse an existing, non-empty folder ``out`` unless an earlier run wrote it (it holds
    ``marker``): a whole-folder output replaces it, and must never delete a user's files.

    Raises
    ------
    InputError
        ``out`` holds files but no ``marker``.
    """
    out = Path(out)
    if out.is_dir() and any(out.iterdir()) and not (out / marker).exists():
        raise InputError(f"the output folder exists and holds files MedFuse did not write (no "
                         f"{marker}); choose a new or empty folder", path=out)


@contextlib.contextmanager
def output_folder(out: str | os.PathLike, *, marker: str) -> Iterator[Path]:
    """Yield a temporary folder beside ``out`` that replaces it whole once the block succeeds.

    An interrupted run leaves no partial ``out`` (only a hidden temporary that the next write of
    ``out`` recognises and removes); ``out`` is checked with :func:`check_replaceable` first.
    """
    from medfuse.io._atomic import atomic_dir

    check_replaceable(out, marker=marker)
    with atomic_dir(out) as tmp:
        yield tmp

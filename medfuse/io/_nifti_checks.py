"""Checks that a NIfTI file is whole and its geometry real before its voxels are trusted.

nibabel reads only the bytes it needs, so a damaged gzip stream loads as wrong voxels (its CRC sits at
the end and is never read), and it replaces a zero voxel size by 1 mm with a warning that names no
file. Here every ``.nii.gz`` is decompressed whole, which verifies the CRC and length; the header's
geometry fields are checked; and the memory an image needs is compared with what the machine has,
before any voxel is read.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from medfuse.errors import InvalidSeriesError

logger = logging.getLogger(__name__)


def load_verified(path: Path) -> tuple[Any, np.ndarray]:
    """``(nibabel image, voxel array)`` of ``path``, refusing a damaged or impossible file.

    Raises
    ------
    InvalidSeriesError
        Not a NIfTI file; a corrupt or truncated compressed stream; fewer voxel bytes than the
        header needs; a zero or non-finite voxel size, qform or sform; more memory than available.
    """
    import nibabel as nib

    with warnings.catch_warnings(record=True) as caught, _nibabel_reports() as reports:
        warnings.simplefilter("always")
        try:
            image = nib.load(str(path))
        except Exception as err:
            raise InvalidSeriesError(f"not a readable NIfTI file: {_reason(err)}", path=path) from err
        stored = _stored_header(image, path)
        check_geometry(stored, path)
        _check_memory(stored, path)
        data = _read_voxels(image, path)
    for message in [str(w.message) for w in caught] + reports:
        logger.warning("%s: %s", path, message)
    return image, data


@contextlib.contextmanager
def _nibabel_reports() -> Iterator[list[str]]:
    """Collect the header problems nibabel logs (at levels like 35, printed as "Level 35: ...")."""
    from nibabel.imageglobals import logger as nibabel_logger

    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    saved = nibabel_logger.handlers, nibabel_logger.propagate
    nibabel_logger.handlers, nibabel_logger.propagate = [handler], False
    try:
        yield messages
    finally:
        nibabel_logger.handlers, nibabel_logger.propagate = saved


def _stored_header(image: Any, path: Path) -> Any:
    """The header as stored: nibabel's loaded header has a zero voxel size already set to 1 mm."""
    from nibabel.openers import ImageOpener

    with ImageOpener(str(path)) as stream:
        return type(image.header).from_fileobj(stream, check=False)


def check_geometry(header: Any, path: Path) -> None:
    """Refuse a header whose chosen geometry has a zero or non-finite voxel size or matrix."""
    ndim = min(int(header["dim"][0]), 3)
    shape = header.get_data_shape()
    if any(n == 0 for n in shape):
        raise InvalidSeriesError(f"empty image: dim {list(shape)} has a zero extent", path=path)
    if int(header["sform_code"]) > 0:
        sform = np.array([header["srow_x"], header["srow_y"], header["srow_z"]], dtype=float)
        if not np.all(np.isfinite(sform)):
            raise InvalidSeriesError(f"sform (srow_x/y/z) is not finite: {sform.tolist()}", path=path)
        sizes = np.linalg.norm(sform[:, :ndim], axis=0)
        if np.any(sizes == 0):
            raise InvalidSeriesError(
                f"sform gives a zero voxel size along axis {int(np.argmin(sizes))}: "
                f"{sform.tolist()}", path=path)
        return
    pixdim = np.asarray(header["pixdim"][1:ndim + 1], dtype=float)
    if not np.all(np.isfinite(pixdim)) or np.any(pixdim == 0):
        raise InvalidSeriesError(
            f"pixdim[1:{ndim + 1}] = {pixdim.tolist()}: the voxel size must be finite and non-zero "
            "(the header has no sform to take it from)", path=path)
    if int(header["qform_code"]) > 0:
        fields = ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z")
        bad = [name for name in fields if not np.isfinite(float(header[name]))]
        if bad:
            raise InvalidSeriesError(f"qform field(s) {', '.join(bad)} not finite", path=path)


def _check_memory(header: Any, path: Path) -> None:
    """Refuse an image whose voxels need more memory than the machine has available."""
    shape = header.get_data_shape()
    dtype = header.get_data_dtype()
    slope, inter = header.get_slope_inter()
    scaled = slope not in (None, 1.0) or inter not in (None, 0.0)
    itemsize = max(dtype.itemsize, 8 if scaled else 0)  # nibabel scales into float64
    needed = int(np.prod(shape, dtype=np.float64)) * itemsize
    available = available_memory()
    if needed > available:
        raise InvalidSeriesError(
            f"image of shape {tuple(int(n) for n in shape)} ({dtype}) needs {_size(needed)} of "
            f"memory, {needed / available:.0f}x the {_size(available)} available", path=path)


def _read_voxels(image: Any, path: Path) -> np.ndarray:
    """The voxel array; a ``.gz`` file is decompressed whole first, so its CRC is verified."""
    header = image.header
    needed = int(np.prod(header.get_data_shape())) * header.get_data_dtype().itemsize
    offset = int(header.get_data_offset())
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error) as err:
            raise InvalidSeriesError(f"corrupt compressed stream: {_reason(err)}", path=path) from err
        _check_length(len(raw) - offset, needed, path)
        image = type(image).from_bytes(raw)
    else:
        _check_length(path.stat().st_size - offset, needed, path)
    try:
        return np.asanyarray(image.dataobj)
    except Exception as err:
        raise InvalidSeriesError(f"voxel data unreadable: {_reason(err)}", path=path) from err


def _check_length(have: int, needed: int, path: Path) -> None:
    if have < needed:
        raise InvalidSeriesError(
            f"truncated: the header needs {needed} bytes of voxel data, the file holds {max(have, 0)}",
            path=path)


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``; all physical memory where unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _size(n: float) -> str:
    """``n`` bytes in a readable unit.

    Examples
    --------
    >>> _size(512), _size(4.4e12)
    ('512 bytes', '4.40 TB')
    """
    units = ("bytes", "kB", "MB", "GB", "TB", "PB")
    step = 0
    while n >= 1000 and step < len(units) - 1:
        n, step = n / 1000, step + 1
    return f"{n:.0f} bytes" if step == 0 else f"{n:.2f} {units[step]}"


def _reason(err: BaseException) -> str:
    """An exception's message, or its type's name where the message is empty."""
    text = " ".join(str(err).split())
    return text or type(err).__name__

"""A fault corpus built at test time from real images: each damaged or unusual file through the
command it belongs to, with its exact outcome (one line naming the file and the fault, exit 2, the
input byte-identical), or a correct load."""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medfuse.cli import main
from tests.conftest import real_data

CT = ("volumes", "sts", "STS_001", "CT", "nifti", "image", "image.nii.gz")
T1 = ("volumes", "spm12_templates", "canonical", "single_subj_T1.nii")

PIXDIM, SFORM_CODE, QFORM_CODE, QOFFSET_X, DIM = 76, 254, 252, 268, 40


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plain_header_copy(source: Path, target: Path, offset: int, fmt: str, *values: float) -> None:
    """``target``: an uncompressed copy of ``source`` with header bytes at ``offset`` replaced."""
    raw = bytearray(gzip.decompress(source.read_bytes()) if source.name.endswith(".gz")
                    else source.read_bytes())
    struct.pack_into(fmt, raw, offset, *values)
    target.write_bytes(bytes(raw))


def _flip_one_bit(source: Path, target: Path) -> None:
    raw = bytearray(source.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    target.write_bytes(bytes(raw))


def _truncate(source: Path, target: Path) -> None:
    raw = source.read_bytes()
    target.write_bytes(raw[: len(raw) * 2 // 3])


def _truncate_plain(source: Path, target: Path) -> None:
    raw = gzip.decompress(source.read_bytes())
    target.write_bytes(raw[: len(raw) * 2 // 3])


def _no_geometry_zero_pixdim(source: Path, target: Path) -> None:
    """No sform, no qform, zero voxel size: nibabel would invent 1 mm and origin 0."""
    _plain_header_copy(source, target, PIXDIM + 4, "<3f", 0.0, 0.0, 0.0)
    _plain_header_copy(target, target, QFORM_CODE, "<2h", 0, 0)


def _nan_sform(source: Path, target: Path) -> None:
    _plain_header_copy(source, target, 280, "<f", float("nan"))  # srow_x[0]
    _plain_header_copy(target, target, SFORM_CODE, "<h", 1)


def _nan_qoffset(source: Path, target: Path) -> None:
    _plain_header_copy(source, target, SFORM_CODE, "<h", 0)
    _plain_header_copy(target, target, QFORM_CODE, "<h", 1)
    _plain_header_copy(target, target, QOFFSET_X, "<f", float("inf"))


def _terabytes(source: Path, target: Path) -> None:
    _plain_header_copy(source, target, DIM, "<4h", 3, 30000, 30000, 30000)


def _four_frames(source: Path, target: Path) -> None:
    image = nib.load(str(source))
    data = np.asanyarray(image.dataobj)
    nib.save(nib.Nifti1Image(np.stack([data] * 4, axis=-1), image.affine), str(target))


FAULTS: list[tuple[str, Callable[[Path, Path], None], str, str]] = [
    ("flipped.nii.gz", _flip_one_bit, "corrupt compressed stream", "CRC"),
    ("cut.nii.gz", _truncate, "corrupt compressed stream", "ended before"),
    ("cut.nii", _truncate_plain, "truncated", "bytes of voxel data"),
    ("zero_pixdim.nii", _no_geometry_zero_pixdim, r"pixdim\[1:4\] = \[0.0, 0.0, 0.0\]", "non-zero"),
    ("nan_sform.nii", _nan_sform, "sform", "not finite"),
    ("inf_qoffset.nii", _nan_qoffset, "qform field", "qoffset_x not finite"),
    ("huge.nii", _terabytes, r"shape \(30000, 30000, 30000\)", "TB of memory"),
    ("frames.nii.gz", _four_frames, r"4D image of shape \(198, 202, 59, 4\)", "extract the frame"),
]


@pytest.mark.parametrize("name, make, fault, detail", FAULTS, ids=[f[0] for f in FAULTS])
def test_damaged_nifti_is_one_line_naming_file_and_fault(tmp_path: Path, capsys, name, make,
                                                         fault, detail) -> None:
    path = tmp_path / name
    make(real_data(*CT), path)
    before = _digest(path)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {path}: ")
    assert re.search(fault, err), err
    assert detail in err
    assert "Traceback" not in err and "Level 35" not in err
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_intact_files_load_as_before(tmp_path: Path) -> None:
    """The checks refuse nothing sound: the real CT (gzip) and SPM T1 (big-endian, plain) load with
    their geometry, and the gzip copy decompressed to .nii gives the same voxels."""
    from medfuse.io import load

    ct = load(real_data(*CT))
    plain = tmp_path / "ct.nii"
    plain.write_bytes(gzip.decompress(real_data(*CT).read_bytes()))
    again = load(plain)
    np.testing.assert_array_equal(ct.array, again.array)
    assert again.spacing == pytest.approx(ct.spacing)
    t1 = load(real_data(*T1))
    assert t1.array.shape == (91, 109, 91)
    assert t1.spacing == pytest.approx((2.0, 2.0, 2.0))


def test_negative_pixdim_loads_with_a_warning_naming_the_file(tmp_path: Path, caplog) -> None:
    """nibabel takes the absolute voxel size: a correct load, and the warning names the file."""
    from medfuse.io import load

    path = tmp_path / "neg.nii"
    _plain_header_copy(real_data(*CT), path, SFORM_CODE, "<h", 0)
    _plain_header_copy(path, path, QFORM_CODE, "<h", 1)
    _plain_header_copy(path, path, PIXDIM + 4, "<f", -0.9765620231628418)
    volume = load(path)
    assert volume.spacing[0] == pytest.approx(0.9765620, abs=1e-5)
    assert any(str(path) in r.getMessage() and "positive" in r.getMessage() for r in caplog.records)


def test_rgb_nifti_reads_back_as_colour(tmp_path: Path) -> None:
    from medfuse.io import load

    rgb = np.zeros((4, 5, 6), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["R"][1, 2, 3], rgb["B"][0, 0, 0] = 200, 90
    path = tmp_path / "fused.nii.gz"
    nib.save(nib.Nifti1Image(rgb, np.diag([2.0, 2.0, 3.0, 1.0])), str(path))
    volume = load(path)
    assert volume.array.shape == (6, 5, 4, 3) and volume.is_rgb
    assert volume.array[3, 2, 1].tolist() == [200, 0, 0]
    assert volume.spacing == pytest.approx((2.0, 2.0, 3.0))

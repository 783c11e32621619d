"""``medfuse fuse`` (one pair, manifest, --list) and ``medfuse train`` from the command line."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medfuse.cli import main
from medfuse.io import write_nifti
from medfuse.volume import Volume
from tests.conftest import real_data


@pytest.fixture(autouse=True)
def _unfreeze_gc() -> Iterator[None]:
    """`medfuse fuse` ends with gc.freeze() (a process about to exit); not so the test session."""
    yield
    gc.unfreeze()


def test_the_command_freezes_the_collector_once_the_model_is_loaded(tmp_path: Path) -> None:
    a, b = _png(tmp_path / "a.png", (16, 16)), _png(tmp_path / "b.png", (16, 16))
    gc.unfreeze()
    assert main(["fuse", str(a), str(b), "-o", str(tmp_path / "f.png")]) == 0
    assert gc.get_freeze_count() > 0


def _png(path: Path, shape: tuple[int, ...]) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)).save(path)
    return path


def test_list_shows_methods(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuse", "--list"]) == 0
    out = capsys.readouterr().out
    assert "learned2d" in out and "laplacian" in out


def test_one_pair_grey_and_colour(tmp_path: Path) -> None:
    root = real_data("fusion2d", "harvard")
    ct = root / "CT-MRI" / "CT" / "2010.png"
    assert main(["fuse", str(ct), str(root / "CT-MRI" / "MRI" / "2010.png"),
                 "-o", str(tmp_path / "ct.png"), "--method", "maximum"]) == 0
    assert np.asarray(Image.open(tmp_path / "ct.png")).shape == (256, 256)
    assert main(["fuse", str(root / "SPECT-MRI" / "MRI" / "3010.png"),
                 str(root / "SPECT-MRI" / "SPECT" / "3010.png"), "-o", str(tmp_path / "s.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "s.png")).shape == (256, 256, 3)


def test_manifest_streams_pairs_of_images_and_volumes(tmp_path: Path) -> None:
    a, b = _png(tmp_path / "a.png", (32, 32)), _png(tmp_path / "b.png", (32, 32))
    vol = Volume(np.random.default_rng(1).random((4, 8, 8)).astype(np.float32) * 100, modality="MR")
    write_nifti(vol, tmp_path / "v.nii.gz")
    (tmp_path / "pairs.csv").write_text(
        "id,a,b\np1,a.png,b.png\np2,v.nii.gz,v.nii.gz\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["fuse", "--manifest", str(tmp_path / "pairs.csv"), "-o", str(out),
                 "--method", "average"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["p1.png", "p2.nii.gz"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("id,a,b\np1,a.png,small.png\n", r"pair 'p1': input 2 \(.*small.png\) is not on the grid"),
        ("id,a,b\np1,a.png,missing.png\n", r"missing.png: line 2 \(id 'p1'\): no such file"),
        ("id,a\np1,a.png\n", "manifest needs the columns id,a,b"),
        ("id,a,b\np1,a.png,a.png\np1,a.png,a.png\n", "line 3: duplicate id 'p1'"),
    ],
)
def test_bad_manifest_fails_in_one_line_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str, message: str
) -> None:
    _png(tmp_path / "a.png", (32, 32))
    _png(tmp_path / "small.png", (16, 32))
    (tmp_path / "pairs.csv").write_text(rows, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["fuse", "--manifest", str(tmp_path / "pairs.csv"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert __import__("re").search(message, err), err
    assert not out.exists() or not any(out.iterdir())


def test_unknown_method_and_2d_with_volume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _png(tmp_path / "a.png", (8, 8))
    write_nifti(Volume(np.zeros((3, 8, 8), np.float32)), tmp_path / "v.nii.gz")
    assert main(["fuse", str(a), str(a), "-o", str(tmp_path / "x.png"), "--method", "nope"]) == 2
    assert "unknown fusion method 'nope'" in capsys.readouterr().err
    assert main(["fuse", str(a), str(tmp_path / "v.nii.gz"), "-o", str(tmp_path / "y.png")]) == 2
    assert "cannot fuse a 2D input 1" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_three_inputs_and_the_weight_knob(tmp_path: Path) -> None:
    root = real_data("fusion2d", "harvard", "PET-MRI")
    mri, pet = root / "MRI" / "41030.png", root / "PET" / "41030.png"
    outputs = {}
    for name, args in {"half": [], "pet": ["--weight", "1"], "mri": ["--weight", "0"]}.items():
        outputs[name] = tmp_path / f"{name}.png"
        assert main(["fuse", str(pet), str(mri), "-o", str(outputs[name]), *args]) == 0
    pixels = {k: np.asarray(Image.open(v)).astype(int) for k, v in outputs.items()}
    assert pixels["pet"].shape == (256, 256, 3)
    assert np.abs(pixels["pet"] - pixels["mri"]).mean() > 5
    three = tmp_path / "three.png"
    assert main(["fuse", str(mri), str(pet), str(mri), "-o", str(three), "--method", "maximum"]) == 0
    assert np.asarray(Image.open(three)).shape == (256, 256, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weight", "2"], r"Invalid value for '--weight'"),
        (["--method", "laplacian", "--weight", "0.3"], r"'laplacian' does not take the options \['weight'\]"),
    ],
)
def test_bad_weight_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                message: str) -> None:
    a = _png(tmp_path / "a.png", (16, 16))
    assert main(["fuse", str(a), str(a), "-o", str(tmp_path / "f.png"), *args]) == 2
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not (tmp_path / "f.png").exists()


def test_output_over_an_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _png(tmp_path / "a.png", (16, 16)), _png(tmp_path / "b.png", (16, 16))
    before = a.read_bytes()
    assert main(["fuse", str(a), str(b), "-o", str(a)]) == 2
    assert "a.png: the output would overwrite this input" in capsys.readouterr().err
    assert a.read_bytes() == before


def test_a_bad_manifest_is_reported_before_the_network_loads(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "pairs.csv").write_text("id,a,b\np1,missing.png,missing.png\n", encoding="utf-8")
    code = ("import sys; from medfuse.cli import main; rc = main(sys.argv[1:]); "
            "print(rc, bool({'torch', 'onnxruntime'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code, "fuse", "--manifest",
                           str(tmp_path / "pairs.csv"), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "False"]
    assert "missing.png: line 2 (id 'p1'): no such file" in done.stderr

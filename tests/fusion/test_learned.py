"""The shipped MONAI bundles: files, safe weights, TorchScript = MONAI reference, 2D, slice-wise and
sliding-window inference."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medfuse.errors import FusionError
from medfuse.fusion import fuse
from medfuse.volume import Volume
from tests.conftest import real_data

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from medfuse.fusion import learned  # noqa: E402
from medfuse.fusion.learned import BUNDLES, load_bundle, run_bundle, sha256  # noqa: E402


@pytest.mark.parametrize("name", ["fusion2d", "fusion3d"])
def test_bundle_layout_and_safe_weights(name: str) -> None:
    folder = BUNDLES / name
    meta = json.loads((folder / "configs" / "metadata.json").read_text())
    assert {"version", "monai_version", "network_data_format", "training"} <= set(meta)
    assert meta["training"]["pipeline"] == f"train_{name}.yaml"
    state = torch.load(folder / "models" / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    for name in ("models/model.pt", "models/model.ts"):
        assert meta["model_files"][name] == sha256((folder / name).read_bytes())
    bundle = load_bundle(folder, reference=True)
    from monai.networks.blocks import Convolution

    assert bundle.loader == "monai"
    assert any(isinstance(m, Convolution) for m in bundle.network.modules())
    assert load_bundle(folder).loader == "torchscript"


def _harvard_arrays(kind: str, stem: str) -> tuple[np.ndarray, np.ndarray]:
    from medfuse.fusion.registry import _normalise
    from medfuse.io import load

    root = real_data("fusion2d", "harvard", kind)
    mods = sorted((p for p in root.iterdir() if p.is_dir()),
                  key=lambda p: (p.name not in ("CT", "MRI"), p.name))
    a, b = _normalise([load(mods[0] / f"{stem}.png"), load(mods[1] / f"{stem}.png")], True)
    return a, b


@pytest.mark.parametrize(("kind", "stem"), [("CT-MRI", "2010"), ("CT-MRI", "33010"),
                                            ("PET-MRI", "25030"), ("SPECT-MRI", "3010")])
def test_torchscript_gives_the_monai_networks_output_on_real_pairs(kind: str, stem: str) -> None:
    a, b = _harvard_arrays(kind, stem)
    fast, ref = load_bundle(BUNDLES / "fusion2d"), load_bundle(BUNDLES / "fusion2d", reference=True)
    np.testing.assert_array_equal(run_bundle(fast, a, b), run_bundle(ref, a, b))


def test_torchscript_3d_gives_the_monai_networks_output() -> None:
    a, b = _harvard_arrays("PET-MRI", "25030")
    vol_a, vol_b = np.stack([a[100:120]] * 20), np.stack([b[100:120]] * 20)  # (20, 20, 256)
    fast, ref = load_bundle(BUNDLES / "fusion3d"), load_bundle(BUNDLES / "fusion3d", reference=True)
    np.testing.assert_array_equal(run_bundle(fast, vol_a, vol_b), run_bundle(ref, vol_a, vol_b))


def test_2d_inference_does_not_import_monai() -> None:
    code = ("import sys, numpy as np; from medfuse.fusion import fuse; from medfuse.volume import Volume;"
            "a = Volume(np.zeros((16, 16), np.uint8)); fuse([a, a]);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'monai'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_torchscript_must_match_its_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BUNDLES / "fusion2d", tmp_path / "fusion2d")
    ts = tmp_path / "fusion2d" / "models" / "model.ts"
    ts.write_bytes(ts.read_bytes() + b"\0")
    monkeypatch.setattr(learned, "BUNDLES", tmp_path)  # as if shipped
    with pytest.raises(FusionError, match=r"model.ts: does not match the sha256 recorded"):
        load_bundle(tmp_path / "fusion2d")


def test_bundles_outside_the_package_load_the_reference_way(tmp_path: Path) -> None:
    shutil.copytree(BUNDLES / "fusion2d", tmp_path / "fusion2d")
    (tmp_path / "fusion2d" / "models" / "model.ts").unlink()  # never read for such a bundle
    assert load_bundle(tmp_path / "fusion2d").loader == "monai"


def test_all_weights_under_ten_megabytes() -> None:
    assert sum(p.stat().st_size for p in BUNDLES.rglob("*")) < 10 * 2**20


def test_default_fuses_a_real_pet_mri_pair_in_colour() -> None:
    from medfuse.io import load

    root = real_data("fusion2d", "harvard", "PET-MRI")
    mri, pet = load(root / "MRI" / "25030.png"), load(root / "PET" / "25030.png")
    out = fuse([mri, pet])
    assert out.meta["method"] == "learned2d"
    assert out.is_rgb and out.array.shape == (256, 256, 3) and out.array.dtype == np.uint8


def test_2d_network_runs_slice_by_slice_along_any_axis() -> None:
    rng = np.random.default_rng(0)
    a = Volume(rng.integers(0, 256, (5, 24, 20)).astype(np.uint8))
    b = Volume(rng.integers(0, 256, (5, 24, 20)).astype(np.uint8))
    whole = fuse([a, b], method="learned2d", axis=2)
    one = fuse([Volume(a.array[:, :, 7]), Volume(b.array[:, :, 7])], method="learned2d")
    np.testing.assert_array_equal(whole.array[:, :, 7], one.array)
    with pytest.raises(FusionError, match="axis must be 0, 1 or 2"):
        fuse([a, b], method="learned2d", axis=3)


def test_3d_network_uses_sliding_windows_on_volumes_only() -> None:
    rng = np.random.default_rng(1)
    a = Volume(rng.random((20, 30, 26)).astype(np.float32) * 100, modality="MR")
    b = Volume(rng.random((20, 30, 26)).astype(np.float32) * 8, modality="PT", units="SUVbw")
    out = fuse([a, b], method="learned3d")
    assert out.array.shape == (20, 30, 26) and 0 <= out.array.min() <= out.array.max() <= 1
    with pytest.raises(FusionError, match="is 3D and cannot fuse 2D images"):
        fuse([Volume(a.array[0]), Volume(b.array[0])], method="learned3d")


def test_missing_weight_file_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copytree(BUNDLES / "fusion2d" / "configs", tmp_path / "configs")
    a = Volume(np.zeros((8, 8), np.uint8))
    with pytest.raises(FusionError, match=r"model.pt: bundle file missing"):
        fuse([a, a], method="learned2d", bundle=str(tmp_path))

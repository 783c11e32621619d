"""The shipped MONAI bundle: files, safe weights, the trust boundary for bundle configs, ONNX =
MONAI reference, roles instead of positions, N sources, the weight knob, and slice-wise volumes."""

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


def test_bundle_layout_and_safe_weights() -> None:
    folder = BUNDLES / "fusion2d"
    meta = json.loads((folder / "configs" / "metadata.json").read_text())
    assert {"version", "monai_version", "network_data_format", "training", "lead"} <= set(meta)
    assert meta["training"]["pipeline"] == "train_fusion2d.yaml"
    state = torch.load(folder / "models" / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    for name in ("models/model.pt", "models/model.onnx"):
        assert meta["model_files"][name] == sha256((folder / name).read_bytes())
    bundle = load_bundle(folder, reference=True)
    from monai.networks.blocks import Convolution

    assert bundle.loader == "monai"
    assert any(isinstance(m, Convolution) for m in bundle.network.modules())
    assert load_bundle(folder).loader == "onnx"
    assert not (BUNDLES / "fusion3d").exists()  # removed: see docs/fusion.md, "Why no 3D network"


def _harvard(kind: str, stem: str) -> tuple[Path, Path]:
    from medfuse.fusion.training.dataset import modality_folders

    anatomical, functional = modality_folders(real_data("fusion2d", "harvard", kind))
    return anatomical / f"{stem}.png", functional / f"{stem}.png"


def _harvard_arrays(kind: str, stem: str) -> list[np.ndarray]:
    from medfuse.fusion.registry import _normalise
    from medfuse.io import load

    return _normalise([load(p) for p in _harvard(kind, stem)], True)[0]


@pytest.mark.parametrize(("kind", "stem"), [("CT-MRI", "2010"), ("CT-MRI", "33010"),
                                            ("PET-MRI", "25030"), ("SPECT-MRI", "3010")])
def test_onnx_gives_the_monai_networks_output_on_real_pairs(kind: str, stem: str) -> None:
    arrays = _harvard_arrays(kind, stem)
    roles = [0.0, float(kind != "CT-MRI")]
    fast, ref = load_bundle(BUNDLES / "fusion2d"), load_bundle(BUNDLES / "fusion2d", reference=True)
    onnx_out, torch_out = run_bundle(fast, arrays, roles), run_bundle(ref, arrays, roles)
    np.testing.assert_allclose(onnx_out, torch_out, rtol=0, atol=2e-5)  # float32 rounding only
    grey_levels = np.abs(np.round(onnx_out * 255) - np.round(torch_out * 255))
    assert grey_levels.max() <= 1 and np.count_nonzero(grey_levels) <= onnx_out.size // 5000


@pytest.mark.parametrize("shape", [(5, 24), (16, 16), (31, 40)])
def test_images_smaller_than_the_networks_blur_fuse_the_same_both_ways(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    arrays = [rng.random(shape).astype(np.float32) for _ in range(2)]
    fast, ref = load_bundle(BUNDLES / "fusion2d"), load_bundle(BUNDLES / "fusion2d", reference=True)
    out = run_bundle(fast, arrays, [0.0, 1.0])
    assert out.shape == shape
    np.testing.assert_allclose(out, run_bundle(ref, arrays, [0.0, 1.0]), rtol=0, atol=2e-5)


def test_2d_inference_imports_neither_torch_nor_monai() -> None:
    code = ("import sys, numpy as np; from medfuse.fusion import fuse; from medfuse.volume import Volume;"
            "a = Volume(np.zeros((16, 16), np.uint8)); fuse([a, a]);"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'monai'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_onnx_must_match_its_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BUNDLES / "fusion2d", tmp_path / "fusion2d")
    model = tmp_path / "fusion2d" / "models" / "model.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    monkeypatch.setattr(learned, "BUNDLES", tmp_path)  # as if shipped
    with pytest.raises(FusionError, match=r"model.onnx: does not match the sha256 recorded"):
        load_bundle(tmp_path / "fusion2d")


def test_bundles_outside_the_package_load_the_reference_way(tmp_path: Path) -> None:
    shutil.copytree(BUNDLES / "fusion2d", tmp_path / "fusion2d")
    (tmp_path / "fusion2d" / "models" / "model.onnx").unlink()  # never read for such a bundle
    assert load_bundle(tmp_path / "fusion2d").loader == "monai"


def _user_bundle(tmp_path: Path, edit) -> Path:  # noqa: ANN001
    folder = tmp_path / "bundle"
    shutil.copytree(BUNDLES / "fusion2d", folder)
    config_file = folder / "configs" / "inference.json"
    config = json.loads(config_file.read_text())
    edit(config)
    config_file.write_text(json.dumps(config))
    return folder


_MARKER = "pwned.txt"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["network_def"].update(channels=f"$open('{_MARKER}', 'w').write('x') and 8"),
         r"inference.json: key 'network_def.channels': expression .\$open"),
        (lambda c: c.update(_requires_=f"$__import__('pathlib').Path('{_MARKER}').touch()"),
         r"inference.json: key '_requires_': special key '_requires_' refused"),
        (lambda c: c["network_def"].update(_target_="os.system"),
         r"inference.json: key 'network_def._target_': _target_ 'os.system' is not one of"),
        (lambda c: c.update(imports="%/etc/passwd"),
         r"inference.json: key 'imports': expression '%/etc/passwd' refused"),
        (lambda c: c["inferer"].update(extra={"_target_": "subprocess.run", "args": ["touch", _MARKER]}),
         r"key 'inferer.extra._target_': _target_ 'subprocess.run'"),
    ],
)
def test_a_bundle_config_that_would_run_code_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit, message: str) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    folder = _user_bundle(tmp_path, edit)
    a = Volume(np.zeros((16, 16), np.uint8))
    with pytest.raises(FusionError, match=message) as caught:
        fuse([a, a], method="learned2d", bundle=str(folder))
    assert "\n" not in str(caught.value) and "trust_code=True" in str(caught.value)
    assert not (tmp_path / _MARKER).exists()


def test_trust_code_lets_a_trusted_bundle_run_its_expressions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = _user_bundle(tmp_path, lambda c: c["network_def"].update(
        channels=f"$__import__('pathlib').Path('{_MARKER}').touch() or 8"))
    a = Volume(np.zeros((16, 16), np.uint8))
    assert fuse([a, a], method="learned2d", bundle=str(folder), trust_code=True).array.shape == (16, 16)
    assert (tmp_path / _MARKER).exists()


def test_tampered_or_pickled_weights_are_one_line(tmp_path: Path) -> None:
    folder = _user_bundle(tmp_path, lambda c: None)
    weights = folder / "models" / "model.pt"
    a = Volume(np.zeros((16, 16), np.uint8))
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(FusionError, match=r"model.pt: does not match the sha256 recorded"):
        fuse([a, a], method="learned2d", bundle=str(folder))

    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (print, ("unpickled",))

    torch.save({"x": Evil()}, weights)
    meta_file = folder / "configs" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta["model_files"]["models/model.pt"] = sha256(weights.read_bytes())  # a consistent attacker
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(FusionError, match=r"model.pt: refused: the file holds Python objects, not only tensors") as caught:
        fuse([a, a], method="learned2d", bundle=str(folder))
    assert "\n" not in str(caught.value)


def test_all_weights_under_ten_megabytes() -> None:
    assert sum(p.stat().st_size for p in BUNDLES.rglob("*")) < 10 * 2**20


def test_default_fuses_a_real_pet_mri_pair_in_colour() -> None:
    from medfuse.io import load

    mri, pet = (load(p) for p in _harvard("PET-MRI", "25030"))
    out = fuse([mri, pet])
    assert out.meta["method"] == "learned2d"
    assert out.is_rgb and out.array.shape == (256, 256, 3) and out.array.dtype == np.uint8
    assert [i["role"] for i in out.meta["inputs"]] == ["anatomical", "functional"]


@pytest.mark.parametrize("kind", ["CT-MRI", "PET-MRI"])
def test_the_result_does_not_depend_on_the_order_of_the_inputs(kind: str) -> None:
    from medfuse.io import load

    a, b = (load(p) for p in _harvard(kind, "33010" if kind == "CT-MRI" else "41030"))
    np.testing.assert_array_equal(fuse([a, b]).array, fuse([b, a]).array)


def test_the_network_keeps_mri_structure_inside_hot_pet_where_max_loses_it() -> None:
    from medfuse.fusion.colour import luma
    from medfuse.fusion.scores import complementarity
    from medfuse.io import load

    mri, pet = (load(p) for p in _harvard("PET-MRI", "41030"))  # a held-out case
    sources = [luma(v.array, rgb=v.is_rgb) for v in (mri, pet)]
    learned_score = complementarity(luma(fuse([mri, pet]).array, rgb=True), sources)
    max_score = complementarity(luma(fuse([mri, pet], method="maximum").array, rgb=True), sources)
    assert learned_score["share"] > 0.02  # such places exist on this slice
    assert learned_score["brighter_smoother"] > max_score["brighter_smoother"] + 0.1
    fused_grey = fuse([mri, pet]).array
    assert not np.array_equal(fused_grey, fuse([mri, pet], method="maximum").array)


def test_weight_moves_the_result_towards_the_functional_or_the_anatomical_image() -> None:
    from medfuse.fusion.colour import luma
    from medfuse.io import load

    mri, pet = (load(p) for p in _harvard("PET-MRI", "41030"))
    pet_luma = luma(pet.array, rgb=True)
    mri_luma = luma(mri.array, rgb=False)

    def distance(weight: float, to: np.ndarray) -> float:
        return float(np.abs(luma(fuse([mri, pet], weight=weight).array, rgb=True) - to).mean())

    assert distance(1.0, pet_luma) < distance(0.5, pet_luma) < distance(0.0, pet_luma)
    assert distance(0.0, mri_luma) < distance(0.5, mri_luma) < distance(1.0, mri_luma)
    np.testing.assert_array_equal(fuse([mri, pet]).array, fuse([mri, pet], weight=0.5).array)
    with pytest.raises(FusionError, match="weight must be between 0 and 1, not 1.5"):
        fuse([mri, pet], weight=1.5)


def test_three_real_volumes_fuse_in_one_call_into_an_rgb_volume(tmp_path: Path) -> None:
    from medfuse.io import load, write_nifti
    from medfuse.io.nifti import read_nifti

    folder = real_data("volumes", "spm12_templates", "OldNorm")
    t1, t2, pet = (v.with_array(v.array, modality=code) for v, code in (
        (load(folder / name), code) for name, code in (("T1.nii", "MR"), ("T2.nii", "MR"),
                                                       ("PET.nii", "PT"))))
    out = fuse([pet, t1, t2], axis=0)
    assert out.is_rgb and out.array.shape == (*t1.array.shape, 3) and out.units == "RGB"
    np.testing.assert_array_equal(out.array, fuse([t2, pet, t1], axis=0).array)
    assert out.meta["colormap"] == "inferno" and out.same_grid(t1)
    back = read_nifti(write_nifti(out, tmp_path / "fused.nii.gz"))
    assert back.is_rgb and np.array_equal(back.array, out.array) and back.same_grid(t1)
    grey = fuse([pet, t1, t2], colour=False)
    assert grey.array.dtype == np.float32 and grey.units == "a.u."


def test_2d_network_runs_slice_by_slice_along_any_axis() -> None:
    rng = np.random.default_rng(0)
    a = Volume(rng.integers(0, 256, (5, 24, 20)).astype(np.uint8))
    b = Volume(rng.integers(0, 256, (5, 24, 20)).astype(np.uint8))
    whole = fuse([a, b], method="learned2d", axis=2)
    one = fuse([Volume(a.array[:, :, 7]), Volume(b.array[:, :, 7])], method="learned2d")
    np.testing.assert_array_equal(whole.array[:, :, 7], one.array)
    with pytest.raises(FusionError, match="axis must be 0, 1 or 2"):
        fuse([a, b], method="learned2d", axis=3)


def test_missing_weight_file_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copytree(BUNDLES / "fusion2d" / "configs", tmp_path / "configs")
    a = Volume(np.zeros((8, 8), np.uint8))
    with pytest.raises(FusionError, match=r"model.pt: bundle file missing"):
        fuse([a, a], method="learned2d", bundle=str(tmp_path))

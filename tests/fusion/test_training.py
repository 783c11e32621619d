"""Training data split by case, and a seeded loop that reproduces its weights."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from medfuse.errors import FusionError
from tests.conftest import real_data

torch = pytest.importorskip("torch")

from medfuse.fusion.training import load_pipeline  # noqa: E402
from medfuse.fusion.training.dataset import case_of, degrade, harvard_pairs  # noqa: E402


@pytest.fixture
def mini_harvard(tmp_path: Path) -> Path:
    """Two cases of each of two pair types, two slices each, copied under tmp_path."""
    src = real_data("fusion2d", "harvard")
    root = tmp_path / "harvard"
    picks = {"CT-MRI": ("CT", "MRI", ("2", "33")), "PET-MRI": ("MRI", "PET", ("25", "41"))}
    for kind, (ma, mb, cases) in picks.items():
        names = [p.name for case in cases
                 for p in sorted((src / kind / ma).glob(f"{case}???.png"))[:2]]
        for mod in (ma, mb):
            (root / kind / mod).mkdir(parents=True)
            for name in names:
                shutil.copy(src / kind / mod / name, root / kind / mod / name)
    return root


def test_split_is_by_case(mini_harvard: Path) -> None:
    val_cases = {"CT-MRI": ["33"], "PET-MRI": ["41"]}
    train = harvard_pairs(mini_harvard, val_cases=val_cases, split="train")
    val = harvard_pairs(mini_harvard, val_cases=val_cases, split="val")
    assert {(p.kind, p.case) for p in val} == {("CT-MRI", "33"), ("PET-MRI", "41")}
    assert not {p.case for p in train} & {p.case for p in val}
    assert case_of("41010") == "41" and train[0].sources.dtype == np.float32
    assert {p.kind: p.roles for p in train} == {"CT-MRI": (0.0, 0.0), "PET-MRI": (0.0, 1.0)}


def _pipeline(tmp_path: Path, root: Path, out: str) -> Path:
    config = {"kind": "fusion2d", "seed": 3, "threads": 1,
              "data": {"root": str(root), "val_cases": {"CT-MRI": ["33"]}},
              "network": {"spatial_dims": 2, "channels": 4},
              "loss": {"structure": 1.0, "intensity": 1.0, "gradient": 1.0},
              "degradations": {"probability": 0.5, "noise": 0.05, "shift": 2},
              "train": {"steps": 3, "batch": 2, "patch": 32, "lr": 0.01}, "output": out}
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _train_in_a_fresh_process(pipeline: Path, hash_seed: str) -> Path:
    """``medfuse train`` as a user runs it: a new process (its own Python hash seed)."""
    code = "import sys; from medfuse.cli import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", code, "train", str(pipeline),
                           "-o", str(pipeline.with_suffix(""))], check=True,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": hash_seed})
    return Path(done.stdout.strip().splitlines()[-1])


def test_training_is_seeded_and_writes_a_loadable_bundle(tmp_path: Path, mini_harvard: Path) -> None:
    from medfuse.fusion.learned import load_bundle

    first = _train_in_a_fresh_process(_pipeline(tmp_path, mini_harvard, "one"), "1")
    second = _train_in_a_fresh_process(_pipeline(tmp_path, mini_harvard, "two"), "2")
    for name in ("model.pt", "model.onnx"):  # the same bytes, weights and ONNX export
        assert (first / "models" / name).read_bytes() == (second / "models" / name).read_bytes()
    reference = load_bundle(first)
    assert reference.loader == "monai" and reference.metadata["training"]["seed"] == 3
    import onnxruntime

    x, roles, lead = torch.rand(1, 2, 40, 36), torch.tensor([[0.0, 1.0]]), torch.tensor([0.5])
    session = onnxruntime.InferenceSession(str(first / "models" / "model.onnx"))
    onnx_out = session.run(None, {"x": x.numpy(), "roles": roles.numpy(), "lead": lead.numpy()})[0]
    with torch.inference_mode():
        np.testing.assert_allclose(onnx_out, reference.network(x, roles, lead).numpy(), atol=2e-5)


def test_bad_pipeline_files(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("kind: fusion2d\n")
    with pytest.raises(FusionError, match=r"lacks the keys \['data', 'network'"):
        load_pipeline(path)
    with pytest.raises(FusionError, match="no such training pipeline file"):
        load_pipeline(tmp_path / "none.yaml")


def test_degradations_add_noise_to_the_anatomy_and_low_counts_to_the_function() -> None:
    rng = np.random.default_rng(0)
    clean = np.stack([np.full((64, 64), 0.5, np.float32), np.full((64, 64), 0.5, np.float32)])
    out = degrade(clean, (0.0, 1.0), rng, noise=0.05, counts=(20.0, 20.0), probability=1.0)
    assert 0.0 < out[0].std() <= 0.05 and out.dtype == np.float32
    assert abs(out[1].std() - np.sqrt(0.5 * 20) / 20) < 0.02  # Poisson at 10 counts
    untouched = degrade(clean, (0.0, 1.0), rng, noise=0.05, counts=(20.0, 20.0), probability=0.0)
    np.testing.assert_array_equal(untouched, clean)


def test_pipeline_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("kind: fusion3d\ndata: {}\nnetwork: {}\nloss: {}\ntrain: {}\noutput: x\n")
    with pytest.raises(FusionError, match="kind must be 'fusion2d', not 'fusion3d'"):
        load_pipeline(path)


def test_softmax_written_out_gives_the_same_values() -> None:
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    from medfuse.fusion.training.loop import _explicit_softmax

    graph = helper.make_graph(
        [helper.make_node("Softmax", ["z"], ["p"], axis=1)], "g",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, None, None, None])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, None, None, None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    written_out = _explicit_softmax(model.SerializeToString())
    assert "Softmax" not in {n.op_type for n in onnx.load_from_string(written_out).graph.node}
    z = np.random.default_rng(0).normal(0, 30, (1, 3, 8, 5)).astype(np.float32)  # large logits too
    before, after = (onnxruntime.InferenceSession(m).run(None, {"z": z})[0]
                     for m in (model.SerializeToString(), written_out))
    np.testing.assert_allclose(after, before, atol=1e-6)
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-6)
